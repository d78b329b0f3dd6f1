/* Signing a precomputed digest: RSA PKCS#1 v1.5 (our DigestInfo), RSA-PSS, ECDSA (DER). */
#include <string.h>

#include "hsm_int.h"

struct sign_ctx {
	struct hsm_key *k;
	CK_MECHANISM mech;
	const uint8_t *in;
	size_t in_len;
	uint8_t raw[HSM_MAX_SIG];
	size_t raw_len;
};

static c2s_err sign_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct sign_ctx *c = vctx;
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	int ctx_login = c->k->info.always_authenticate;
	/* a refused signature PIN: fail before C_SignInit, so the session stays usable */
	c2s_err r = ctx_login ? hsm_login_state(h, CKU_CONTEXT_SPECIFIC) : C2S_OK;
	if (r != C2S_OK)
		return r;
	r = hsm_key_handle(h, s, c->k, &o, rv);
	if (r != C2S_OK)
		return r;
	*rv = h->f->C_SignInit(s->s, &c->mech, o);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("C_SignInit", *rv);
		return hsm_rv_err(*rv);
	}
	if (ctx_login) {
		r = hsm_login(h, s->s, CKU_CONTEXT_SPECIFIC);
		if (r != C2S_OK) {
			*rv = CKR_FUNCTION_FAILED; /* operation left active: drop the session */
			return r;
		}
	}
	CK_ULONG len = sizeof(c->raw);
	*rv = h->f->C_Sign(s->s, (CK_BYTE_PTR)c->in, c->in_len, c->raw, &len);
	if (*rv != CKR_OK) {
		HSM_LOG_RV("C_Sign", *rv);
		return hsm_rv_err(*rv);
	}
	c->raw_len = len;
	return C2S_OK;
}

static c2s_err sign_mech(struct sign_ctx *c, enum hsm_mech m, enum hsm_hash hash,
                         CK_RSA_PKCS_PSS_PARAMS *pss)
{
	static const CK_MECHANISM_TYPE hashes[] = {0, CKM_SHA256, CKM_SHA384, CKM_SHA512};
	static const CK_RSA_PKCS_MGF_TYPE mgfs[] = {0, CKG_MGF1_SHA256, CKG_MGF1_SHA384,
	                                            CKG_MGF1_SHA512};
	enum hsm_key_type kt = c->k->info.type;
	switch (m) {
	case HSM_MECH_RSA_PKCS1:
		c->mech.mechanism = CKM_RSA_PKCS;
		return kt == HSM_KEY_RSA ? C2S_OK : C2S_ERR_HSM_MECHANISM;
	case HSM_MECH_RSA_PSS:
		pss->hashAlg = hashes[hash];
		pss->mgf = mgfs[hash];
		pss->sLen = hsm_hash_len(hash);
		c->mech.mechanism = CKM_RSA_PKCS_PSS;
		c->mech.pParameter = pss;
		c->mech.ulParameterLen = sizeof(*pss);
		return kt == HSM_KEY_RSA ? C2S_OK : C2S_ERR_HSM_MECHANISM;
	case HSM_MECH_ECDSA:
		c->mech.mechanism = CKM_ECDSA;
		return kt == HSM_KEY_EC ? C2S_OK : C2S_ERR_HSM_MECHANISM;
	default:
		return C2S_ERR_ARG;
	}
}

/* The token's answer has the size the key implies; ECDSA becomes DER. */
static c2s_err sign_output(const struct sign_ctx *c, enum hsm_mech m, uint8_t *sig, size_t *sig_len)
{
	c2s_err ret = C2S_ERR_HSM;
	if (m == HSM_MECH_ECDSA) {
		size_t coord = (c->k->info.bits + 7) / 8;
		ENSURE(c->raw_len == 2 * coord, C2S_ERR_HSM);
		return hsm_ecdsa_raw_to_der(c->raw, c->raw_len, sig, sig_len);
	}
	ENSURE(c->raw_len == (c->k->info.bits + 7) / 8, C2S_ERR_HSM);
	ENSURE(*sig_len >= c->raw_len, C2S_ERR_TOO_BIG);
	memcpy(sig, c->raw, c->raw_len);
	*sig_len = c->raw_len;
	ret = C2S_OK;
out:
	return ret;
}

c2s_err hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_mech m, enum hsm_hash hash,
                 const uint8_t *digest, size_t digest_len, uint8_t *sig, size_t *sig_len)
{
	c2s_err ret = C2S_ERR_ARG;
	struct sign_ctx c;
	CK_RSA_PKCS_PSS_PARAMS pss;
	uint8_t di[19 + 64];
	size_t di_len = 0;
	memset(&c, 0, sizeof(c));
	ENSURE(h && k && digest && sig && sig_len, C2S_ERR_ARG);
	ENSURE(hsm_hash_len(hash) != 0 && digest_len == hsm_hash_len(hash), C2S_ERR_ARG);
	c.k = k;
	GUARD(sign_mech(&c, m, hash, &pss));
	c.in = digest;
	c.in_len = digest_len;
	if (m == HSM_MECH_RSA_PKCS1) {
		GUARD(hsm_digest_info(hash, digest, digest_len, di, sizeof(di), &di_len));
		c.in = di;
		c.in_len = di_len;
	}
	GUARD(hsm_run(h, sign_op, &c));
	GUARD(sign_output(&c, m, sig, sig_len));
	ret = C2S_OK;
out:
	explicit_bzero(&c, sizeof(c));
	return ret;
}
