#include "khmsg.h"

#include <stdlib.h>
#include <string.h>

c2s_err khmsg_status_encode(const struct khmsg_status *s, struct buf *b)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(buf_put_u32(b, s->state));
	GUARD(buf_put_str(b, s->reason));
	GUARD(buf_put_u8(b, s->token_present));
	GUARD(buf_put_u8(b, s->logged_in));
	GUARD(buf_put_u8(b, s->removable));
	GUARD(buf_put_str(b, s->label));
	GUARD(buf_put_str(b, s->manufacturer));
	GUARD(buf_put_str(b, s->model));
	GUARD(buf_put_str(b, s->serial));
	GUARD(buf_put_str(b, s->slot));
	GUARD(buf_put_str(b, s->seal_key));
	GUARD(buf_put_u8(b, s->seal_key_present));
	GUARD(buf_put_u8(b, s->seal_cert_present));
	GUARD(buf_put_u8(b, s->card_monitored));
	GUARD(buf_put_u8(b, s->card_present));
	GUARD(buf_put_u8(b, s->pcscd_up));
	GUARD(buf_put_str(b, s->reader));
	GUARD(buf_put_str(b, s->atr));
	GUARD(buf_put_u32(b, (uint32_t)((uint64_t)s->card_since >> 32)));
	GUARD(buf_put_u32(b, (uint32_t)s->card_since));
	GUARD(buf_put_u32(b, (uint32_t)(s->signatures >> 32)));
	GUARD(buf_put_u32(b, (uint32_t)s->signatures));
	GUARD(buf_put_u32(b, (uint32_t)(s->sign_errors >> 32)));
	GUARD(buf_put_u32(b, (uint32_t)s->sign_errors));
out:
	return ret;
}

static c2s_err khmsg_get_u64(struct buf *b, uint64_t *v)
{
	uint32_t hi, lo;
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(buf_get_u32(b, &hi));
	GUARD(buf_get_u32(b, &lo));
	*v = ((uint64_t)hi << 32) | lo;
out:
	return ret;
}

c2s_err khmsg_status_decode(struct buf *b, struct khmsg_status *s)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	uint64_t since;
	memset(s, 0, sizeof(*s));
	GUARD(buf_get_u32(b, &s->state));
	GUARD(buf_get_str(b, s->reason, sizeof(s->reason)));
	GUARD(buf_get_u8(b, &s->token_present));
	GUARD(buf_get_u8(b, &s->logged_in));
	GUARD(buf_get_u8(b, &s->removable));
	GUARD(buf_get_str(b, s->label, sizeof(s->label)));
	GUARD(buf_get_str(b, s->manufacturer, sizeof(s->manufacturer)));
	GUARD(buf_get_str(b, s->model, sizeof(s->model)));
	GUARD(buf_get_str(b, s->serial, sizeof(s->serial)));
	GUARD(buf_get_str(b, s->slot, sizeof(s->slot)));
	GUARD(buf_get_str(b, s->seal_key, sizeof(s->seal_key)));
	GUARD(buf_get_u8(b, &s->seal_key_present));
	GUARD(buf_get_u8(b, &s->seal_cert_present));
	GUARD(buf_get_u8(b, &s->card_monitored));
	GUARD(buf_get_u8(b, &s->card_present));
	GUARD(buf_get_u8(b, &s->pcscd_up));
	GUARD(buf_get_str(b, s->reader, sizeof(s->reader)));
	GUARD(buf_get_str(b, s->atr, sizeof(s->atr)));
	GUARD(khmsg_get_u64(b, &since));
	s->card_since = (int64_t)since;
	GUARD(khmsg_get_u64(b, &s->signatures));
	GUARD(khmsg_get_u64(b, &s->sign_errors));
	ENSURE(buf_left(b) == 0 && c2s_err_known((int)s->state), C2S_ERR_IPC_MALFORMED);
out:
	return ret == C2S_OK ? C2S_OK : C2S_ERR_IPC_MALFORMED;
}

c2s_err khmsg_keyinfo_encode(const struct khmsg_keyinfo *k, struct buf *b)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(buf_put_u8(b, k->key_type));
	GUARD(buf_put_u32(b, k->bits));
	GUARD(buf_put_u8(b, k->hash));
	GUARD(buf_put_u8(b, k->sig));
	GUARD(buf_put_u32(b, k->sig_max));
	GUARD(buf_put_blob(b, k->cert, k->cert_len));
	GUARD(buf_put_u8(b, (uint8_t)k->n_chain));
	for (size_t i = 0; i < k->n_chain; i++)
		GUARD(buf_put_blob(b, k->chain[i], k->chain_len[i]));
out:
	return ret;
}

static c2s_err khmsg_dup(struct buf *b, uint8_t **p, size_t *n)
{
	const uint8_t *q;
	c2s_err ret = buf_get_blob(b, &q, n, 16384);
	if (ret != C2S_OK)
		return ret;
	if (*n == 0)
		return C2S_ERR_IPC_MALFORMED;
	*p = malloc(*n);
	if (!*p)
		return C2S_ERR_NOMEM;
	memcpy(*p, q, *n);
	return C2S_OK;
}

c2s_err khmsg_keyinfo_decode(struct buf *b, struct khmsg_keyinfo *k)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	uint8_t n;
	memset(k, 0, sizeof(*k));
	GUARD(buf_get_u8(b, &k->key_type));
	GUARD(buf_get_u32(b, &k->bits));
	GUARD(buf_get_u8(b, &k->hash));
	GUARD(buf_get_u8(b, &k->sig));
	GUARD(buf_get_u32(b, &k->sig_max));
	GUARD(khmsg_dup(b, &k->cert, &k->cert_len));
	GUARD(buf_get_u8(b, &n));
	ENSURE(n <= KHMSG_MAX_CHAIN, C2S_ERR_IPC_MALFORMED);
	for (; k->n_chain < n; k->n_chain++)
		GUARD(khmsg_dup(b, &k->chain[k->n_chain], &k->chain_len[k->n_chain]));
	ENSURE(buf_left(b) == 0 && k->sig_max > 0 && k->sig_max <= 1024 &&
	           k->hash >= KHMSG_SHA256 && k->hash <= KHMSG_SHA512 &&
	           k->sig >= KHMSG_SIG_RSA_PKCS1 && k->sig <= KHMSG_SIG_ECDSA,
	       C2S_ERR_IPC_MALFORMED);
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		khmsg_keyinfo_free(k);
	return ret;
}

void khmsg_keyinfo_free(struct khmsg_keyinfo *k)
{
	free(k->cert);
	for (size_t i = 0; i < k->n_chain; i++)
		free(k->chain[i]);
	memset(k, 0, sizeof(*k));
}
