/* CMS: verification of an encapsulating SignedData's first SignerInfo (used for the TSA's
 * time-stamp tokens): certificate lookup, signed attributes, signature, optional chain. */
#include "cms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "cms_oid_int.h"

#define NEXT(tag, v) (cms_der_get(&p, end, (tag), &(v).p, &(v).n) == C2S_OK)

struct signer_info {
	struct cms_blob issuer, serial, digest_alg, attrs, sig_alg, sig;
	const uint8_t *attrs_tlv;
	size_t attrs_tlv_len;
};

static mbedtls_md_type_t md_from_oid(struct cms_blob oid)
{
	static const enum cms_hash hs[] = {CMS_SHA256, CMS_SHA384, CMS_SHA512};
	static const mbedtls_md_type_t mds[] = {MBEDTLS_MD_SHA256, MBEDTLS_MD_SHA384,
	                                        MBEDTLS_MD_SHA512};
	for (size_t i = 0; i < 3; i++) {
		size_t n = 0;
		const uint8_t *o = cms_hash_oid(hs[i], &n);
		if (oid.n == n && memcmp(oid.p, o, n) == 0)
			return mds[i];
	}
	return MBEDTLS_MD_NONE;
}

/* First SignerInfo: version, sid (issuerAndSerialNumber only), digestAlgorithm, signedAttrs,
 * signatureAlgorithm, signature. */
static c2s_err parse_signer(const struct cms_sd *sd, struct signer_info *si, char *why,
                            size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = sd->signers.p, *end = p + sd->signers.n;
	struct cms_blob v = {0}, x = {0};

	if (!NEXT(0x30, v))
		WHY(C2S_ERR_TSA_BAD_REPLY, "token has no SignerInfo");
	p = v.p, end = v.p + v.n;
	if (!NEXT(0x02, x) || !NEXT(0x30, v))
		WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: sid is not issuerAndSerialNumber");
	{
		const uint8_t *q = v.p, *qend = v.p + v.n;
		si->issuer.p = q;
		if (cms_der_get(&q, qend, 0x30, &x.p, &x.n) != C2S_OK)
			WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: bad issuer");
		si->issuer.n = (size_t)(q - si->issuer.p);
		if (cms_der_get(&q, qend, 0x02, &si->serial.p, &si->serial.n) != C2S_OK ||
		    q != qend)
			WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: bad serial number");
	}
	if (!NEXT(0x30, v) ||
	    cms_der_get(&v.p, v.p + v.n, 0x06, &si->digest_alg.p, &si->digest_alg.n) != C2S_OK)
		WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: bad digestAlgorithm");
	si->attrs_tlv = p;
	if (!NEXT(0xa0, si->attrs))
		WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: no signed attributes");
	si->attrs_tlv_len = (size_t)(p - si->attrs_tlv);
	if (!NEXT(0x30, v) ||
	    cms_der_get(&v.p, v.p + v.n, 0x06, &si->sig_alg.p, &si->sig_alg.n) != C2S_OK)
		WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: bad signatureAlgorithm");
	if (!NEXT(0x04, si->sig))
		WHY(C2S_ERR_TSA_BAD_REPLY, "token SignerInfo: bad signature");
	ret = C2S_OK;
out:
	return ret;
}

/* content-type must equal eContentType; message-digest must equal `digest`. */
static c2s_err check_attrs(const struct cms_sd *sd, const struct signer_info *si,
                           const uint8_t *digest, size_t dlen, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = si->attrs.p, *end = p + si->attrs.n;
	int ct = 0, md = 0;

	while (p < end) {
		struct cms_blob a = {0}, oid = {0}, set = {0}, val = {0};
		if (!NEXT(0x30, a))
			WHY(C2S_ERR_TSA_BAD_REPLY, "token signed attributes malformed");
		const uint8_t *q = a.p, *qend = a.p + a.n;
		if (cms_der_get(&q, qend, 0x06, &oid.p, &oid.n) != C2S_OK ||
		    cms_der_get(&q, qend, 0x31, &set.p, &set.n) != C2S_OK)
			WHY(C2S_ERR_TSA_BAD_REPLY, "token signed attribute malformed");
		uint8_t t = 0;
		const uint8_t *s = set.p;
		if (cms_der_any(&s, set.p + set.n, &t, &val.p, &val.n) != C2S_OK)
			WHY(C2S_ERR_TSA_BAD_REPLY, "token signed attribute without value");
		if (CMS_OID_EQ(oid.p, oid.n, cms_oid_content_type)) {
			ct++;
			if (t != 0x06 || val.n != sd->econtent_type.n ||
			    memcmp(val.p, sd->econtent_type.p, val.n) != 0)
				WHY(C2S_ERR_TSA_BAD_REPLY,
				    "token content-type attribute differs from eContentType");
		} else if (CMS_OID_EQ(oid.p, oid.n, cms_oid_message_digest)) {
			md++;
			if (t != 0x04 || val.n != dlen || memcmp(val.p, digest, dlen) != 0)
				WHY(C2S_ERR_TSA_BAD_REPLY,
				    "token message-digest does not match its TSTInfo");
		}
	}
	if (ct != 1 || md != 1)
		WHY(C2S_ERR_TSA_BAD_REPLY,
		    "token signed attributes lack content-type or message-digest");
	ret = C2S_OK;
out:
	return ret;
}

/* Certificate of the SignerInfo among sd->certs, parsed into crt (first in the list), the
 * others appended after it (intermediates for chain building). */
static c2s_err find_cert(const struct cms_sd *sd, const struct signer_info *si,
                         mbedtls_x509_crt *crt, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = sd->certs.p, *end = p ? p + sd->certs.n : NULL, *mine = NULL;
	size_t mine_len = 0;

	while (p != NULL && p < end) {
		const uint8_t *c = p;
		struct cms_blob v = {0}, iss = {0}, ser = {0};
		if (!NEXT(0x30, v))
			WHY(C2S_ERR_TSA_BAD_REPLY, "token certificates malformed");
		if (cms_cert_issuer_serial(c, (size_t)(p - c), &iss, &ser) == C2S_OK &&
		    iss.n == si->issuer.n && memcmp(iss.p, si->issuer.p, iss.n) == 0 &&
		    ser.n == si->serial.n && memcmp(ser.p, si->serial.p, ser.n) == 0)
			mine = c, mine_len = (size_t)(p - c);
	}
	if (mine == NULL)
		WHY(C2S_ERR_TSA_BAD_REPLY,
		    "token does not carry the TSA certificate (certReq ignored?)");
	if (mbedtls_x509_crt_parse_der(crt, mine, mine_len) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA certificate could not be parsed");
	for (p = sd->certs.p; p < end;) {
		const uint8_t *c = p;
		struct cms_blob v = {0};
		if (NEXT(0x30, v) && c != mine)
			(void)mbedtls_x509_crt_parse_der(crt, c, (size_t)(p - c));
	}
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_sig(mbedtls_x509_crt *crt, const struct signer_info *si, mbedtls_md_type_t md,
                         char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md);
	uint8_t h[64], *tbs = NULL;
	int r = -1;

	tbs = malloc(si->attrs_tlv_len);
	if (tbs == NULL || info == NULL) {
		ret = C2S_ERR_NOMEM;
		goto out;
	}
	memcpy(tbs, si->attrs_tlv, si->attrs_tlv_len);
	tbs[0] = 0x31; /* what was signed: the SET, not the [0] IMPLICIT form */
	if (mbedtls_md(info, tbs, si->attrs_tlv_len, h) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "hashing the token's signed attributes failed");
	size_t hl = mbedtls_md_get_size(info);
	if (CMS_OID_EQ(si->sig_alg.p, si->sig_alg.n, cms_oid_rsa_pss)) {
		mbedtls_pk_rsassa_pss_options o = {md, MBEDTLS_RSA_SALT_LEN_ANY};
		r = mbedtls_pk_verify_ext(MBEDTLS_PK_RSASSA_PSS, &o, &crt->pk, md, h, hl, si->sig.p,
		                          si->sig.n);
	} else {
		r = mbedtls_pk_verify(&crt->pk, md, h, hl, si->sig.p, si->sig.n);
	}
	if (r != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY,
		    "the TSA's signature on the token does not verify (mbedtls -0x%04x)",
		    (unsigned)-r);
	ret = C2S_OK;
out:
	free(tbs);
	return ret;
}

static c2s_err check_chain(mbedtls_x509_crt *crt, const char *trust_file, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	mbedtls_x509_crt ca;
	uint32_t flags = 0;

	mbedtls_x509_crt_init(&ca);
	if (mbedtls_x509_crt_parse_file(&ca, trust_file) != 0) {
		if (why != NULL && why_cap > 0)
			snprintf(why, why_cap, "TSA trust anchors %s could not be read",
			         trust_file);
		ret = C2S_ERR_CONFIG;
		goto out;
	}
	if (mbedtls_x509_crt_verify(crt, &ca, NULL, NULL, &flags, NULL, NULL) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA certificate is not trusted (flags 0x%x)",
		    (unsigned)flags);
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&ca);
	return ret;
}

c2s_err cms_sd_verify(const struct cms_sd *sd, const uint8_t *eku, size_t eku_len,
                      const char *trust_file, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	struct signer_info si;
	mbedtls_x509_crt crt;
	uint8_t dg[64];

	mbedtls_x509_crt_init(&crt);
	memset(&si, 0, sizeof(si));
	ENSURE(sd != NULL && sd->econtent.p != NULL, C2S_ERR_ARG);
	GUARD(parse_signer(sd, &si, why, why_cap));
	mbedtls_md_type_t md = md_from_oid(si.digest_alg);
	if (md == MBEDTLS_MD_NONE)
		WHY(C2S_ERR_TSA_BAD_REPLY, "token digest algorithm is not SHA-256/384/512");
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md);
	if (info == NULL || mbedtls_md(info, sd->econtent.p, sd->econtent.n, dg) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "hashing the TSTInfo failed");
	GUARD(check_attrs(sd, &si, dg, mbedtls_md_get_size(info), why, why_cap));
	GUARD(find_cert(sd, &si, &crt, why, why_cap));
	/* mbedTLS allows any usage when the extension is absent: RFC 3161 requires it */
	if (eku != NULL &&
	    (!(crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
	     mbedtls_x509_crt_check_extended_key_usage(&crt, (const char *)eku, eku_len) != 0))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA certificate lacks extendedKeyUsage timeStamping");
	GUARD(check_sig(&crt, &si, md, why, why_cap));
	if (trust_file != NULL)
		GUARD(check_chain(&crt, trust_file, why, why_cap));
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&crt);
	return ret;
}
