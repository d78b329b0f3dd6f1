/* Public key API: find, describe, list, export the public half, destroy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

#define KEY_LIST_MAX 256

struct find_ctx {
	const struct hsm_uri *u;
	struct hsm_key *k;
	char *why;
	size_t why_cap;
};

static c2s_err find_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct find_ctx *c = vctx;
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[3] = {{CKA_CLASS, &pc, sizeof(pc)}};
	CK_ULONG nt = 1, n = 0;
	CK_OBJECT_HANDLE o[2];
	if (c->u->has_object)
		t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)c->u->object, strlen(c->u->object)};
	if (c->u->has_id)
		t[nt++] = (CK_ATTRIBUTE){CKA_ID, (void *)c->u->id, c->u->id_len};
	*rv = hsm_find(h->f, s->s, t, nt, o, 2, &n);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("C_FindObjects", *rv);
		return hsm_rv_err(*rv);
	}
	if (n == 0 && h->pin && !h->logged_in) { /* private keys are invisible without login */
		snprintf(c->why, c->why_cap, "not logged in to the token: %s",
		         c2s_err_message(h->pin_state ? h->pin_state : C2S_ERR_HSM_NOT_LOGGED_IN));
		return h->pin_state ? h->pin_state : C2S_ERR_HSM_NOT_LOGGED_IN;
	}
	if (n != 1) {
		snprintf(c->why, c->why_cap, "%s private key with %s%s%s in the token",
		         n == 0 ? "no" : "more than one", c->u->has_object ? "label " : "id",
		         c->u->has_object ? c->u->object : "",
		         c->u->has_object && c->u->has_id ? " and that id" : "");
		return n == 0 ? C2S_ERR_HSM_NO_KEY : C2S_ERR_HSM_AMBIGUOUS;
	}
	*rv = hsm_key_load(h, s->s, o[0], c->k);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("reading key attributes", *rv);
		snprintf(c->why, c->why_cap, "key attributes could not be read");
		return *rv == CKR_CURVE_NOT_SUPPORTED || *rv == CKR_KEY_TYPE_INCONSISTENT
		           ? C2S_ERR_HSM_MECHANISM
		           : hsm_rv_err(*rv);
	}
	c->k->epoch = s->epoch;
	return C2S_OK;
}

static c2s_err key_uri(const char *uri_or_label, struct hsm_uri *u, char *why, size_t why_cap)
{
	if (strncmp(uri_or_label, "pkcs11:", 7) != 0) {
		memset(u, 0, sizeof(*u));
		size_t l = strnlen(uri_or_label, sizeof(u->object));
		if (l == 0 || l >= sizeof(u->object)) {
			snprintf(why, why_cap, "key label must be 1..%zu bytes",
			         sizeof(u->object) - 1);
			return C2S_ERR_ARG;
		}
		memcpy(u->object, uri_or_label, l);
		u->has_object = 1;
		return C2S_OK;
	}
	c2s_err r = hsm_uri_parse(uri_or_label, u, why, why_cap);
	if (r != C2S_OK)
		return r;
	if (!u->has_object && !u->has_id) {
		snprintf(why, why_cap, "key URI needs object= or id=");
		return C2S_ERR_HSM_URI;
	}
	if (u->type != HSM_URI_TYPE_ANY && u->type != HSM_URI_TYPE_PRIVATE) {
		snprintf(why, why_cap, "type: a signing key URI must have type=private");
		return C2S_ERR_HSM_URI;
	}
	return C2S_OK;
}

c2s_err hsm_key_find(struct hsm *h, const char *uri_or_label, struct hsm_key **out, char *why,
                     size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct hsm_uri u;
	struct hsm_key *k = NULL;
	char tmp[HSM_WHY] = "";
	ENSURE(h && uri_or_label && out, C2S_ERR_ARG);
	*out = NULL;
	GUARD(key_uri(uri_or_label, &u, why, why_cap));
	k = calloc(1, sizeof(*k));
	ENSURE(k != NULL, C2S_ERR_NOMEM);
	struct find_ctx c = {&u, k, tmp, sizeof(tmp)};
	ret = hsm_run(h, find_op, &c);
	if (ret != C2S_OK) {
		snprintf(why, why_cap, "%s", tmp[0] ? tmp : c2s_err_message(ret));
		goto out;
	}
	*out = k;
	k = NULL;
out:
	free(k);
	return ret;
}

void hsm_key_free(struct hsm_key *k)
{
	free(k);
}

static c2s_err cert_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct hsm_key_info *ki = vctx;
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cc, sizeof(cc)}, {CKA_ID, ki->id, ki->id_len}};
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	*rv = hsm_find(h->f, s->s, t, 2, &o, 1, &n);
	ki->has_certificate = *rv == CKR_OK && n == 1 && ki->id_len > 0;
	return *rv == CKR_OK ? C2S_OK : hsm_rv_err(*rv);
}

c2s_err hsm_key_get_info(struct hsm *h, struct hsm_key *k, struct hsm_key_info *ki)
{
	if (!h || !k || !ki)
		return C2S_ERR_ARG;
	pthread_mutex_lock(&h->mu);
	*ki = k->info;
	pthread_mutex_unlock(&h->mu);
	return hsm_run(h, cert_op, ki);
}

c2s_err hsm_key_spki(struct hsm *h, struct hsm_key *k, struct buf *spki)
{
	if (!h || !k || !spki)
		return C2S_ERR_ARG;
	/* The public half is cached from the token when the key was found or made. */
	return hsm_spki_build(k, spki);
}

struct list_ctx {
	struct hsm_key_info *infos;
	size_t n;
};

static c2s_err list_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct list_ctx *c = vctx;
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &pc, sizeof(pc)}};
	CK_OBJECT_HANDLE o[KEY_LIST_MAX];
	CK_ULONG n = 0;
	struct hsm_key k;
	c->n = 0;
	*rv = hsm_find(h->f, s->s, t, 1, o, KEY_LIST_MAX, &n);
	for (CK_ULONG i = 0; *rv == CKR_OK && i < n; i++) {
		CK_RV r = hsm_key_load(h, s->s, o[i], &k);
		if (r == CKR_OK)
			c->infos[c->n++] = k.info;
		else if (r == CKR_SESSION_HANDLE_INVALID || r == CKR_DEVICE_REMOVED)
			*rv = r;
		else
			log_info("skipping a private key whose attributes cannot be read (%s)",
			         hsm_ckr_name(r));
	}
	return *rv == CKR_OK ? C2S_OK : hsm_rv_err(*rv);
}

c2s_err hsm_key_list(struct hsm *h, hsm_key_cb cb, void *ctx)
{
	c2s_err ret = C2S_ERR_ARG;
	struct list_ctx c = {NULL, 0};
	ENSURE(h && cb, C2S_ERR_ARG);
	c.infos = calloc(KEY_LIST_MAX, sizeof(*c.infos));
	ENSURE(c.infos != NULL, C2S_ERR_NOMEM);
	GUARD(hsm_run(h, list_op, &c));
	for (size_t i = 0; i < c.n; i++)
		cb(ctx, &c.infos[i]);
	ret = C2S_OK;
out:
	free(c.infos);
	return ret;
}

static c2s_err destroy_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct hsm_key *k = vctx;
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE, objs[16];
	CK_ULONG n = 0;
	c2s_err r = hsm_key_handle(h, s, k, &o, rv);
	if (r != C2S_OK)
		return r;
	*rv = h->f->C_DestroyObject(s->s, o);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("C_DestroyObject(private key)", *rv);
		return hsm_rv_err(*rv);
	}
	pthread_mutex_lock(&h->mu);
	k->handle = CK_INVALID_HANDLE;
	pthread_mutex_unlock(&h->mu);
	if (k->info.id_len == 0)
		return C2S_OK;
	/* Public key and certificate with the same id. */
	CK_ATTRIBUTE t[] = {{CKA_ID, k->info.id, k->info.id_len}};
	*rv = hsm_find(h->f, s->s, t, 1, objs, 16, &n);
	for (CK_ULONG i = 0; *rv == CKR_OK && i < n; i++) {
		CK_OBJECT_CLASS cls = 0;
		size_t len;
		if (hsm_attr_get(h->f, s->s, objs[i], CKA_CLASS, (uint8_t *)&cls, sizeof(cls),
		                 &len) != CKR_OK ||
		    (cls != CKO_PUBLIC_KEY && cls != CKO_CERTIFICATE))
			continue;
		*rv = h->f->C_DestroyObject(s->s, objs[i]);
	}
	if (*rv != CKR_OK)
		HSM_LOG_RV("C_DestroyObject(public key/certificate)", *rv);
	return *rv == CKR_OK ? C2S_OK : hsm_rv_err(*rv);
}

c2s_err hsm_key_destroy(struct hsm *h, struct hsm_key *k)
{
	if (!h || !k)
		return C2S_ERR_ARG;
	return hsm_run(h, destroy_op, k);
}
