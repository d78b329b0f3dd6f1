/* click2sign-admin csr: a PKCS#10 request whose signature is made by the token key.
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
 * signature BIT STRING }, built here with mbedTLS asn1write (which writes backwards). */
#include "admin.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSR_MAX 16384

/* Adds the length an asn1write call wrote to `len`, failing on its negative error code. */
#define CSR_ADD(len, call)                                                                         \
	do {                                                                                       \
		int n_ = (call);                                                                   \
		ENSURE(n_ >= 0, C2S_ERR_TOO_BIG);                                                  \
		(len) += (size_t)n_;                                                               \
	} while (0)

/* RFC 4514 strictly: ATTR=value pairs separated by commas; inside a value the characters
 * = ; + " < > must be escaped with a backslash (mbedTLS would otherwise take "CN=x;O=y" as the
 * common name "x;O=y"); C is two capital letters. 1 when fine, else 0 and why. */
static int csr_subject_strict(const char *s, char *why, size_t cap)
{
	const char *p = s;
	while (*p) {
		const char *eq = p;
		while (*eq && *eq != '=' && *eq != ',')
			eq++;
		if (*eq != '=' || eq == p) {
			snprintf(why, cap, "\"%.*s\" is not ATTR=value", (int)(eq - p), p);
			return 0;
		}
		char attr[32];
		snprintf(attr, sizeof(attr), "%.*s", (int)(eq - p < 31 ? eq - p : 31), p);
		const char *v = eq + 1, *q = v;
		size_t vlen = 0;
		for (; *q && *q != ','; q++, vlen++) {
			if (*q == '\\' && q[1]) {
				q++;
				continue;
			}
			if (strchr("=;+\"<>", *q)) {
				snprintf(
				    why, cap,
				    "the value of %s has an unescaped '%c' (\"%.*s\"); separate "
				    "attributes with commas, or escape it as \\%c",
				    attr, *q, (int)(q - v + 1), v, *q);
				return 0;
			}
		}
		if (vlen == 0) {
			snprintf(why, cap, "%s has an empty value", attr);
			return 0;
		}
		if (strcasecmp(attr, "C") == 0 &&
		    !(vlen == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z')) {
			snprintf(why, cap,
			         "C must be a two-letter country code such as SI, not \"%.*s\"",
			         (int)vlen, v);
			return 0;
		}
		p = *q ? q + 1 : q;
		while (*p == ' ')
			p++;
	}
	return 1;
}

c2s_err admin_csr_subject_check(const char *subject, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	mbedtls_asn1_named_data *names = NULL;
	if (!subject[0]) {
		snprintf(why, why_cap,
		         "the subject is empty; give e.g. \"CN=Name,O=Company,C=SI\"");
		goto out;
	}
	if (!admin_utf8_ok((const unsigned char *)subject, strlen(subject))) {
		snprintf(why, why_cap,
		         "the subject is not valid UTF-8 text or has control "
		         "characters");
		goto out;
	}
	if (!csr_subject_strict(subject, why, why_cap))
		goto out;
	if (mbedtls_x509_string_to_names(&names, subject) != 0 || !names) {
		snprintf(why, why_cap,
		         "cannot parse subject \"%s\"; use ATTR=value pairs separated by commas "
		         "(CN, O, OU, C, L, ST, serialNumber, ...), escape a comma as \\,",
		         subject);
		goto out;
	}
	ret = C2S_OK;
out:
	mbedtls_asn1_free_named_data_list(&names);
	return ret;
}

c2s_err admin_csr_info(const char *subject, const uint8_t *spki, size_t spki_len, struct buf *info)
{
	c2s_err ret = C2S_ERR_ARG;
	mbedtls_asn1_named_data *names = NULL;
	size_t cap = CSR_MAX, len = 0;
	unsigned char *tmp = malloc(cap), *p;
	ENSURE(tmp, C2S_ERR_NOMEM);
	ENSURE(spki_len > 0 && spki_len < cap / 2, C2S_ERR_TOO_BIG);
	ENSURE(mbedtls_x509_string_to_names(&names, subject) == 0 && names, C2S_ERR_ARG);
	p = tmp + cap;
	/* attributes [0] IMPLICIT SET OF Attribute: none */
	CSR_ADD(len, mbedtls_asn1_write_len(&p, tmp, 0));
	CSR_ADD(len, mbedtls_asn1_write_tag(
	                 &p, tmp, MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0));
	CSR_ADD(len, mbedtls_asn1_write_raw_buffer(&p, tmp, spki, spki_len));
	CSR_ADD(len, mbedtls_x509_write_names(&p, tmp, names));
	CSR_ADD(len, mbedtls_asn1_write_int(&p, tmp, 0)); /* version v1(0) */
	CSR_ADD(len, mbedtls_asn1_write_len(&p, tmp, len));
	CSR_ADD(len,
	        mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	GUARD(buf_put(info, p, len));
	ret = C2S_OK;
out:
	mbedtls_asn1_free_named_data_list(&names);
	free(tmp);
	return ret;
}

c2s_err admin_csr_wrap(const struct buf *info, const char *sig_oid, size_t sig_oid_len, int rsa,
                       const uint8_t *sig, size_t sig_len, struct buf *der)
{
	c2s_err ret = C2S_ERR_TOO_BIG;
	size_t cap = info->len + sig_len + 64, len = 0, alg = 0;
	unsigned char *tmp = malloc(cap), *p;
	ENSURE(tmp, C2S_ERR_NOMEM);
	p = tmp + cap;
	CSR_ADD(len, mbedtls_asn1_write_bitstring(&p, tmp, sig, sig_len * 8));
	/* AlgorithmIdentifier: RSA needs NULL parameters, ECDSA must omit them (RFC 5758) */
	if (rsa)
		CSR_ADD(alg, mbedtls_asn1_write_null(&p, tmp));
	CSR_ADD(alg, mbedtls_asn1_write_oid(&p, tmp, sig_oid, sig_oid_len));
	CSR_ADD(alg, mbedtls_asn1_write_len(&p, tmp, alg));
	CSR_ADD(alg,
	        mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	len += alg;
	CSR_ADD(len, mbedtls_asn1_write_raw_buffer(&p, tmp, info->data, info->len));
	CSR_ADD(len, mbedtls_asn1_write_len(&p, tmp, len));
	CSR_ADD(len,
	        mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	GUARD(buf_put(der, p, len));
	ret = C2S_OK;
out:
	free(tmp);
	return ret;
}

struct csr_alg {
	enum hsm_mech mech;
	enum hsm_hash hash;
	mbedtls_md_type_t md;
	const char *oid;
	size_t oid_len;
	int rsa;
};

static c2s_err csr_pick_alg(const struct hsm_key_info *ki, struct csr_alg *alg)
{
#define CSR_OID(o) (o), MBEDTLS_OID_SIZE(o)
	static const struct csr_alg rsa = {HSM_MECH_RSA_PKCS1, HSM_HASH_SHA256, MBEDTLS_MD_SHA256,
	                                   CSR_OID(MBEDTLS_OID_PKCS1_SHA256), 1};
	static const struct csr_alg p256 = {HSM_MECH_ECDSA, HSM_HASH_SHA256, MBEDTLS_MD_SHA256,
	                                    CSR_OID(MBEDTLS_OID_ECDSA_SHA256), 0};
	static const struct csr_alg p384 = {HSM_MECH_ECDSA, HSM_HASH_SHA384, MBEDTLS_MD_SHA384,
	                                    CSR_OID(MBEDTLS_OID_ECDSA_SHA384), 0};
	static const struct csr_alg p521 = {HSM_MECH_ECDSA, HSM_HASH_SHA512, MBEDTLS_MD_SHA512,
	                                    CSR_OID(MBEDTLS_OID_ECDSA_SHA512), 0};
#undef CSR_OID
	if (ki->type == HSM_KEY_RSA)
		*alg = rsa;
	else if (ki->curve == HSM_CURVE_P256)
		*alg = p256;
	else if (ki->curve == HSM_CURVE_P384)
		*alg = p384;
	else if (ki->curve == HSM_CURVE_P521)
		*alg = p521;
	else
		return C2S_ERR_HSM_MECHANISM;
	return C2S_OK;
}

/* Parses the finished request and checks its signature against its own key: catches a
 * token that signed with another key or a broken encoding before anyone sends it off. */
static c2s_err csr_self_verify(const struct buf *der)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_x509_csr csr;
	uint8_t hash[MBEDTLS_MD_MAX_SIZE];
	mbedtls_x509_csr_init(&csr);
	ENSURE(mbedtls_x509_csr_parse_der(&csr, der->data, der->len) == 0, C2S_ERR_X509);
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(csr.sig_md);
	ENSURE(mi && mbedtls_md(mi, csr.cri.p, csr.cri.len, hash) == 0, C2S_ERR_X509);
	ENSURE(mbedtls_pk_verify_ext(csr.sig_pk, csr.sig_opts, &csr.pk, csr.sig_md, hash,
	                             mbedtls_md_get_size(mi), csr.sig.p, csr.sig.len) == 0,
	       C2S_ERR_X509);
	ret = C2S_OK;
out:
	mbedtls_x509_csr_free(&csr);
	return ret;
}

/* Builds, signs through the token and self-checks the DER request; prints why it failed. */
static c2s_err csr_make(struct hsm *h, struct hsm_key *k, const char *subject, struct buf *der)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct hsm_key_info ki;
	struct csr_alg alg;
	struct buf info;
	uint8_t spki[ADMIN_SPKI_MAX], digest[MBEDTLS_MD_MAX_SIZE], sig[HSM_MAX_SIG];
	size_t spki_len = 0, sig_len = sizeof(sig);
	int said = 0;
	buf_init(&info, CSR_MAX);
	GUARD(hsm_key_get_info(h, k, &ki));
	GUARD(csr_pick_alg(&ki, &alg));
	said = 1;
	GUARD(admin_key_spki(h, k, spki, &spki_len));
	said = 0;
	GUARD(admin_csr_info(subject, spki, spki_len, &info));
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(alg.md);
	ENSURE(mi && mbedtls_md(mi, info.data, info.len, digest) == 0, C2S_ERR_INTERNAL);
	said = 1;
	ret = hsm_sign(h, k, alg.mech, alg.hash, digest, mbedtls_md_get_size(mi), sig, &sig_len);
	if (ret != C2S_OK) {
		admin_fail("the token did not sign the request: %s", c2s_err_message(ret));
		goto out;
	}
	said = 0;
	GUARD(admin_csr_wrap(&info, alg.oid, alg.oid_len, alg.rsa, sig, sig_len, der));
	said = 1;
	if ((ret = csr_self_verify(der)) != C2S_OK)
		admin_fail("the token's signature on the request does not verify against the "
		           "key's public key; check the token");
out:
	if (ret != C2S_OK && !said)
		admin_fail("cannot build the request: %s", c2s_err_message(ret));
	buf_free(&info);
	return ret;
}

static c2s_err csr_output(const struct buf *der, const char *out_path)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t cap = der->len * 2 + 128, olen = 0;
	unsigned char *pem = malloc(cap);
	int said = 0;
	ENSURE(pem, C2S_ERR_NOMEM);
	ENSURE(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
	                                "-----END CERTIFICATE REQUEST-----\n", der->data, der->len,
	                                pem, cap, &olen) == 0 &&
	           olen > 0,
	       C2S_ERR_INTERNAL);
	olen--; /* olen counts the terminating NUL */
	if (out_path) {
		said = 1;
		GUARD(admin_write_file(out_path, pem, olen, 0644));
		printf("wrote certificate request to %s; send it to the CA, then run `cert "
		       "import`\n",
		       out_path);
	} else {
		ENSURE(fwrite(pem, 1, olen, stdout) == olen, C2S_ERR_IO);
	}
	ret = C2S_OK;
out:
	if (ret != C2S_OK && !said)
		admin_fail("cannot write the request: %s", c2s_err_message(ret));
	free(pem);
	return ret;
}

int admin_cmd_csr(struct admin *a, int argc, char **argv)
{
	struct admin_opt opts[] = {
	    {.name = "key", .has_arg = 1, .required = 1},
	    {.name = "subject", .has_arg = 1, .required = 1},
	    {.name = "out", .has_arg = 1},
	};
	const char *pos[1];
	size_t n_pos;
	char why[512];
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct buf der;
	buf_init(&der, CSR_MAX);
	int rc = admin_opts_parse(a, "csr", argc, argv, opts, 3, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		goto out;
	if (admin_csr_subject_check(opts[1].val, why, sizeof(why)) != C2S_OK) {
		rc = admin_usage_fail("csr", "%s", why);
		goto out;
	}
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &h) != C2S_OK ||
	    admin_key_find(h, opts[0].val, &k) != C2S_OK)
		goto out;
	if (csr_make(h, k, opts[1].val, &der) != C2S_OK || csr_output(&der, opts[2].val) != C2S_OK)
		goto out;
	rc = ADMIN_EXIT_OK;
out:
	buf_free(&der);
	if (k)
		hsm_key_free(k);
	if (h)
		hsm_close(h);
	return rc;
}
