/* Bodies of the customer-signing messages (manifest, OTP, sign document): encode and decode
 * side by side. Decoders accept exactly one encoding: every field bounded, nothing trailing. */
#include <string.h>

#include "khmsg.h"

int khmsg_order_ok(const char *order)
{
	size_t n = strlen(order);
	if (n == 0 || n > KHMSG_ORDER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = order[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

static c2s_err khmsg_put_i64(struct buf *b, int64_t v)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(buf_put_u32(b, (uint32_t)((uint64_t)v >> 32)));
	GUARD(buf_put_u32(b, (uint32_t)v));
out:
	return ret;
}

static c2s_err khmsg_get_i64(struct buf *b, int64_t *v)
{
	uint32_t hi, lo;
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	GUARD(buf_get_u32(b, &hi));
	GUARD(buf_get_u32(b, &lo));
	*v = (int64_t)(((uint64_t)hi << 32) | lo);
out:
	return ret;
}

static c2s_err khmsg_get_order(struct buf *b, char *order)
{
	c2s_err ret = buf_get_str(b, order, KHMSG_ORDER_MAX + 1);
	if (ret == C2S_OK && !khmsg_order_ok(order))
		ret = C2S_ERR_IPC_MALFORMED;
	return ret;
}

c2s_err khmsg_manifest_encode(const struct khmsg_manifest *m, struct buf *b)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(khmsg_order_ok(m->order) && m->jws_len > 0 && m->jws_len <= KHMSG_JWS_MAX,
	       C2S_ERR_ARG);
	GUARD(buf_put_str(b, m->order));
	GUARD(buf_put_blob(b, m->jws, m->jws_len));
	GUARD(buf_put_u32(b, m->expires_in));
out:
	return ret;
}

c2s_err khmsg_manifest_decode(struct buf *b, struct khmsg_manifest *m)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	const uint8_t *p;
	memset(m, 0, sizeof(*m));
	GUARD(khmsg_get_order(b, m->order));
	GUARD(buf_get_blob(b, &p, &m->jws_len, KHMSG_JWS_MAX));
	GUARD(buf_get_u32(b, &m->expires_in));
	ENSURE(buf_left(b) == 0 && m->jws_len > 0, C2S_ERR_IPC_MALFORMED);
	m->jws = (const char *)p;
out:
	return ret == C2S_OK ? C2S_OK : C2S_ERR_IPC_MALFORMED;
}

c2s_err khmsg_otp_encode(const struct khmsg_otp *o, struct buf *b)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(buf_put_u32(b, o->result));
	GUARD(buf_put_u32(b, o->tries_left));
	GUARD(khmsg_put_i64(b, o->expires_at));
	GUARD(khmsg_put_i64(b, o->retry_after));
	GUARD(buf_put_str(b, o->phone_masked));
	GUARD(buf_put(b, o->sad, sizeof(o->sad)));
	GUARD(buf_put_u32(b, o->ndocs));
out:
	return ret;
}

c2s_err khmsg_otp_decode(struct buf *b, struct khmsg_otp *o)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	memset(o, 0, sizeof(*o));
	GUARD(buf_get_u32(b, &o->result));
	GUARD(buf_get_u32(b, &o->tries_left));
	GUARD(khmsg_get_i64(b, &o->expires_at));
	GUARD(khmsg_get_i64(b, &o->retry_after));
	GUARD(buf_get_str(b, o->phone_masked, sizeof(o->phone_masked)));
	GUARD(buf_get(b, o->sad, sizeof(o->sad)));
	GUARD(buf_get_u32(b, &o->ndocs));
	ENSURE(buf_left(b) == 0 && c2s_err_known((int)o->result) && o->ndocs <= 64,
	       C2S_ERR_IPC_MALFORMED);
out:
	return ret == C2S_OK ? C2S_OK : C2S_ERR_IPC_MALFORMED;
}

c2s_err khmsg_sign_doc_encode(const struct khmsg_sign_doc *d, struct buf *b)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(khmsg_order_ok(d->order) && d->update_len <= KHMSG_UPDATE_MAX, C2S_ERR_ARG);
	GUARD(buf_put(b, d->sad, sizeof(d->sad)));
	GUARD(buf_put_str(b, d->order));
	GUARD(buf_put_u32(b, d->doc));
	GUARD(buf_put_blob(b, d->midstate, d->midstate_len));
	GUARD(buf_put_blob(b, d->update, d->update_len));
out:
	return ret;
}

c2s_err khmsg_sign_doc_decode(struct buf *b, struct khmsg_sign_doc *d)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	memset(d, 0, sizeof(*d));
	GUARD(buf_get(b, d->sad, sizeof(d->sad)));
	GUARD(khmsg_get_order(b, d->order));
	GUARD(buf_get_u32(b, &d->doc));
	GUARD(buf_get_blob(b, &d->midstate, &d->midstate_len, 256));
	GUARD(buf_get_blob(b, &d->update, &d->update_len, KHMSG_UPDATE_MAX));
	ENSURE(buf_left(b) == 0 && d->update_len > 0, C2S_ERR_IPC_MALFORMED);
out:
	return ret == C2S_OK ? C2S_OK : C2S_ERR_IPC_MALFORMED;
}

c2s_err khmsg_signed_encode(const struct khmsg_signed *s, struct buf *b)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(s->n_chain <= KHMSG_MAX_CHAIN, C2S_ERR_ARG);
	GUARD(buf_put_u8(b, s->hash));
	GUARD(buf_put_u8(b, s->sig));
	GUARD(buf_put_blob(b, s->attrs, s->attrs_len));
	GUARD(buf_put_blob(b, s->signature, s->signature_len));
	GUARD(buf_put_blob(b, s->cert, s->cert_len));
	GUARD(buf_put_u8(b, (uint8_t)s->n_chain));
	for (size_t i = 0; i < s->n_chain; i++)
		GUARD(buf_put_blob(b, s->chain[i], s->chain_len[i]));
out:
	return ret;
}

c2s_err khmsg_signed_decode(struct buf *b, struct khmsg_signed *s)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	uint8_t n;
	memset(s, 0, sizeof(*s));
	GUARD(buf_get_u8(b, &s->hash));
	GUARD(buf_get_u8(b, &s->sig));
	GUARD(buf_get_blob(b, &s->attrs, &s->attrs_len, 8192));
	GUARD(buf_get_blob(b, &s->signature, &s->signature_len, 1024));
	GUARD(buf_get_blob(b, &s->cert, &s->cert_len, 16384));
	GUARD(buf_get_u8(b, &n));
	ENSURE(n <= KHMSG_MAX_CHAIN, C2S_ERR_IPC_MALFORMED);
	for (; s->n_chain < n; s->n_chain++)
		GUARD(buf_get_blob(b, &s->chain[s->n_chain], &s->chain_len[s->n_chain], 16384));
	ENSURE(buf_left(b) == 0 && s->attrs_len > 0 && s->signature_len > 0 && s->cert_len > 0 &&
	           s->hash >= KHMSG_SHA256 && s->hash <= KHMSG_SHA512 &&
	           s->sig >= KHMSG_SIG_RSA_PKCS1 && s->sig <= KHMSG_SIG_ECDSA,
	       C2S_ERR_IPC_MALFORMED);
out:
	return ret == C2S_OK ? C2S_OK : C2S_ERR_IPC_MALFORMED;
}
