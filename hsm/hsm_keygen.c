/* Key generation: sign-only, sensitive, non-extractable private keys with a public key object;
 * CKA_ID defaults to SHA-1 of the public key value (modulus or EC point). */
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"

struct gen_ctx {
	const struct hsm_keygen *spec;
	struct hsm_key *k;
	char *why;
	size_t why_cap;
};

static c2s_err gen_check(const struct hsm_keygen *g, char *why, size_t why_cap)
{
	if (!g->label || !g->label[0] || strlen(g->label) >= HSM_MAX_LABEL) {
		snprintf(why, why_cap, "key label must be 1..%d bytes", HSM_MAX_LABEL - 1);
		return C2S_ERR_ARG;
	}
	if (g->id && (g->id_len == 0 || g->id_len > HSM_MAX_ID)) {
		snprintf(why, why_cap, "key id must be 1..%d bytes", HSM_MAX_ID);
		return C2S_ERR_ARG;
	}
	if (g->type == HSM_KEY_RSA &&
	    (g->rsa_bits == 2048 || g->rsa_bits == 3072 || g->rsa_bits == 4096))
		return C2S_OK;
	if (g->type == HSM_KEY_EC && hsm_curve_bits(g->curve) != 0)
		return C2S_OK;
	snprintf(why, why_cap,
	         "unsupported key: type %d, RSA bits %u, curve %d (RSA 2048/3072/4096 "
	         "or EC P-256/P-384/P-521)",
	         (int)g->type, g->rsa_bits, (int)g->curve);
	return C2S_ERR_ARG;
}

/* CKA_ID = SHA-1 of the modulus or the raw EC point, set on both halves. */
static CK_RV gen_set_id(struct hsm *h, CK_SESSION_HANDLE s, const struct hsm_keygen *g,
                        CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	uint8_t v[1100], raw[200], id[20];
	size_t len = 0, rlen = 0;
	CK_RV rv = hsm_attr_get(h->f, s, pub, g->type == HSM_KEY_RSA ? CKA_MODULUS : CKA_EC_POINT,
	                        v, sizeof(v), &len);
	if (rv != CKR_OK)
		return rv;
	const uint8_t *val = v;
	if (g->type == HSM_KEY_EC) {
		if (hsm_ec_point_unwrap(g->curve, v, len, raw, sizeof(raw), &rlen) != C2S_OK)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		val = raw;
		len = rlen;
	}
	if (mbedtls_sha1_ret(val, len, id) != 0)
		return CKR_FUNCTION_FAILED;
	CK_ATTRIBUTE a = {CKA_ID, id, sizeof(id)};
	rv = h->f->C_SetAttributeValue(s, pub, &a, 1);
	if (rv == CKR_OK)
		rv = h->f->C_SetAttributeValue(s, priv, &a, 1);
	return rv;
}

static CK_RV gen_pair(struct hsm *h, CK_SESSION_HANDLE s, const struct hsm_keygen *g,
                      CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	static CK_BYTE e65537[] = {0x01, 0x00, 0x01};
	CK_BBOOL *tok = g->session_only ? &no : &yes;
	CK_ULONG bits = g->rsa_bits;
	const uint8_t *params = NULL;
	size_t plen = 0;
	int rsa = g->type == HSM_KEY_RSA;
	if (!rsa && hsm_curve_params(g->curve, &params, &plen) != C2S_OK)
		return CKR_CURVE_NOT_SUPPORTED;
	CK_ATTRIBUTE pt[10] = {
	    {CKA_TOKEN, tok, sizeof(CK_BBOOL)}, {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_VERIFY, &yes, sizeof(yes)},    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},        {CKA_LABEL, (void *)g->label, strlen(g->label)},
	};
	CK_ULONG np = 6;
	if (rsa) {
		pt[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)};
		pt[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537)};
	} else {
		pt[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)params, plen};
	}
	CK_ATTRIBUTE kt[10] = {
	    {CKA_TOKEN, tok, sizeof(CK_BBOOL)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)g->label, strlen(g->label)},
	};
	CK_ULONG nk = 9;
	if (g->id) {
		pt[np++] = (CK_ATTRIBUTE){CKA_ID, (void *)g->id, g->id_len};
		kt[nk++] = (CK_ATTRIBUTE){CKA_ID, (void *)g->id, g->id_len};
	}
	CK_MECHANISM m = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
	return h->f->C_GenerateKeyPair(s, &m, pt, np, kt, nk, pub, priv);
}

static c2s_err gen_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct gen_ctx *c = vctx;
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	*rv = gen_pair(h, s->s, c->spec, &pub, &priv);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("C_GenerateKeyPair", *rv);
		snprintf(c->why, c->why_cap, "the token could not generate the key: %s",
		         c2s_err_message(hsm_rv_err(*rv)));
		return hsm_rv_err(*rv);
	}
	CK_RV r = c->spec->id ? CKR_OK : gen_set_id(h, s->s, c->spec, pub, priv);
	if (r == CKR_OK)
		r = hsm_key_load(h, s->s, priv, c->k);
	if (r != CKR_OK) {
		HSM_LOG_RV("setting up the generated key", r);
		(void)h->f->C_DestroyObject(s->s, priv);
		(void)h->f->C_DestroyObject(s->s, pub);
		snprintf(c->why, c->why_cap, "the generated key could not be labelled; removed it");
		*rv = CKR_FUNCTION_FAILED; /* not retried: a retry would make a second key */
		return hsm_rv_err(r) == C2S_ERR_HSM_REMOVED ? C2S_ERR_HSM_REMOVED : C2S_ERR_HSM;
	}
	c->k->epoch = s->epoch;
	log_info("generated %s key \"%s\" (%u bits)", c->spec->type == HSM_KEY_RSA ? "RSA" : "EC",
	         c->spec->label, c->k->info.bits);
	return C2S_OK;
}

c2s_err hsm_key_generate(struct hsm *h, const struct hsm_keygen *spec, struct hsm_key **out,
                         char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct hsm_key *k = NULL;
	char tmp[HSM_WHY] = "";
	ENSURE(h && spec && out, C2S_ERR_ARG);
	*out = NULL;
	GUARD(gen_check(spec, why, why_cap));
	k = calloc(1, sizeof(*k));
	ENSURE(k != NULL, C2S_ERR_NOMEM);
	struct gen_ctx c = {spec, k, tmp, sizeof(tmp)};
	ret = hsm_run(h, gen_op, &c);
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
