/* Short-lived signer certificates: the TBSCertificate written backwards with the CMS module's
 * DER writer (cms_w_*), signed through a callback (the token's issuing-CA key), and checked
 * with mbedTLS before it leaves. What goes into the certificate: issue_int.h. */
#include "issue_int.h"

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <utf8proc.h>

#define SKI_LEN  20 /* SHA-1 */
#define SPKI_MAX 4096
#define NAME_CAP (ISSUE_NAME_MAX * 4 + 1)
#define NAME_IN  1024 /* bytes of input read at all: decomposed (NFD) text may be long */
#define OID(o)   (const uint8_t *)(o), MBEDTLS_OID_SIZE(o)

/* Bytes inside a buffer someone else owns. */
struct span {
	const uint8_t *p;
	size_t n;
};

/* The subject's names as they go into the certificate: validated, NFC. */
struct names {
	char given[NAME_CAP], surname[NAME_CAP], cn[NAME_CAP];
	char serial[ISSUE_NAME_MAX + 1], country[3];
};

/* One certificate in the making (issue_cert's state). */
struct build {
	const struct issue_req *rq;
	struct names nm;
	mbedtls_x509_crt ca;    /* the issuing CA certificate, parsed */
	struct span aki;        /* its subjectKeyIdentifier, into ca */
	uint8_t ski[SKI_LEN];   /* the subject's */
	unsigned char *tbs_buf; /* scratch holding tbs */
	struct span tbs;
	uint8_t sig[ISSUE_SIG_MAX];
	size_t sig_len;
};

c2s_err issue_serial_draw(uint8_t serial[ISSUE_SERIAL_LEN])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	ENSURE(getrandom(serial, ISSUE_SERIAL_LEN, 0) == ISSUE_SERIAL_LEN, C2S_ERR_INTERNAL);
	serial[0] = (uint8_t)((serial[0] & 0x3f) | 0x40);
	ret = C2S_OK;
out:
	return ret;
}

/* Characters no name may hold: controls (C0, DEL, C1), format characters (bidi overrides,
 * zero-width joiners), surrogates, private use, unassigned, line and paragraph separators. */
static int cp_refused(utf8proc_int32_t cp)
{
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_CC:
	case UTF8PROC_CATEGORY_CF:
	case UTF8PROC_CATEGORY_CS:
	case UTF8PROC_CATEGORY_CO:
	case UTF8PROC_CATEGORY_CN:
	case UTF8PROC_CATEGORY_ZL:
	case UTF8PROC_CATEGORY_ZP:
		return 1;
	default:
		return 0;
	}
}

/* Checks every character of s[0..n) and counts them; -1 (and *bad) when one is refused,
 * -2 when the bytes are not UTF-8. */
static long utf8_scan(const uint8_t *s, size_t n, utf8proc_int32_t *first, utf8proc_int32_t *last,
                      utf8proc_int32_t *bad)
{
	long chars = 0;
	for (size_t i = 0; i < n; chars++) {
		utf8proc_int32_t cp = -1;
		utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0 || !utf8proc_codepoint_valid(cp))
			return -2;
		if (cp_refused(cp)) {
			*bad = cp;
			return -1;
		}
		if (i == 0)
			*first = cp;
		*last = cp;
		i += (size_t)k;
	}
	return chars;
}

/* Validates the name field `field` and writes its NFC form into out[NAME_CAP]. */
static c2s_err name_take(const char *field, const char *in, char *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	utf8proc_uint8_t *nfc = NULL;
	utf8proc_int32_t first = 0, last = 0, bad = 0;
	size_t n = in ? strlen(in) : 0;
	if (n == 0)
		WHY(C2S_ERR_ARG, "the %s is empty", field);
	if (n > NAME_IN)
		WHY(C2S_ERR_ARG, "the %s is longer than %d characters", field, ISSUE_NAME_MAX);
	long chars = utf8_scan((const uint8_t *)in, n, &first, &last, &bad);
	if (chars == -2)
		WHY(C2S_ERR_ARG, "the %s is not valid UTF-8 text", field);
	if (chars == -1)
		WHY(C2S_ERR_ARG, "the %s holds a control or invisible character (U+%04X)", field,
		    (unsigned)bad);
	nfc = utf8proc_NFC((const utf8proc_uint8_t *)in);
	ENSURE(nfc != NULL, C2S_ERR_NOMEM);
	n = strlen((const char *)nfc);
	chars = utf8_scan(nfc, n, &first, &last, &bad);
	ENSURE(chars > 0, C2S_ERR_ARG);
	if (chars > ISSUE_NAME_MAX || n >= NAME_CAP)
		WHY(C2S_ERR_ARG, "the %s is longer than %d characters", field, ISSUE_NAME_MAX);
	if (utf8proc_category(first) == UTF8PROC_CATEGORY_ZS ||
	    utf8proc_category(last) == UTF8PROC_CATEGORY_ZS)
		WHY(C2S_ERR_ARG, "the %s starts or ends with a space", field);
	memcpy(out, nfc, n + 1);
	ret = C2S_OK;
out:
	free(nfc);
	return ret;
}

/* PrintableString (X.680 41.4): letters, digits, space and '()+,-./:=? */
static int printable(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr(" '()+,-./:=?", *s)))
			return 0;
	return 1;
}

static c2s_err names_take(const struct issue_subject *s, struct names *nm, char *why,
                          size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	char cn[2 * NAME_CAP];
	memset(nm, 0, sizeof(*nm));
	GUARD(name_take("given name", s->given_name, nm->given, why, why_cap));
	GUARD(name_take("surname", s->surname, nm->surname, why, why_cap));
	snprintf(cn, sizeof(cn), "%s %s", nm->given, nm->surname);
	GUARD(name_take(s->common_name ? "common name" : "common name (given name and surname)",
	                s->common_name ? s->common_name : cn, nm->cn, why, why_cap));
	if (s->serial_number) {
		size_t n = strlen(s->serial_number);
		if (n == 0 || n > ISSUE_NAME_MAX || !printable(s->serial_number) ||
		    s->serial_number[0] == ' ' || s->serial_number[n - 1] == ' ')
			WHY(C2S_ERR_ARG,
			    "the serial number must be 1 to %d letters, digits or '()+,-./:=? "
			    "(spaces inside only)",
			    ISSUE_NAME_MAX);
		memcpy(nm->serial, s->serial_number, n + 1);
	}
	if (s->country) {
		const char *c = s->country;
		if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')
			WHY(C2S_ERR_ARG,
			    "the country must be two capital letters (ISO 3166), e.g. SI");
		memcpy(nm->country, c, 3);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* Validity, serial and algorithm; the issuer-dependent checks are in issuer_load. */
static c2s_err req_check(const struct issue_req *rq, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	if (rq->not_before <= 0 || rq->not_after <= rq->not_before)
		WHY(C2S_ERR_ARG,
		    "the validity is empty: not_after (%lld) must be after not_before "
		    "(%lld), both after 1970",
		    (long long)rq->not_after, (long long)rq->not_before);
	if (rq->not_after - rq->not_before > ISSUE_LIFETIME_MAX)
		WHY(C2S_ERR_ARG,
		    "the validity is longer than %d s; signer certificates are short-lived",
		    ISSUE_LIFETIME_MAX);
	if (rq->serial[0] == 0 || rq->serial[0] >= 0x80)
		WHY(C2S_ERR_ARG, "the serial number must be positive with a non-zero first byte; "
		                 "draw it with issue_serial_draw");
	if (!((rq->sig == CMS_SIG_ECDSA && (rq->hash == CMS_SHA256 || rq->hash == CMS_SHA384)) ||
	      (rq->sig == CMS_SIG_RSA_PKCS1 && rq->hash == CMS_SHA256)))
		WHY(C2S_ERR_ARG,
		    "the signature algorithm must be ECDSA with SHA-256 or SHA-384, or "
		    "RSA PKCS#1 v1.5 with SHA-256");
	ret = C2S_OK;
out:
	return ret;
}

/* Checks the subject's SubjectPublicKeyInfo and computes its key identifier: SHA-1 of the
 * subjectPublicKey BIT STRING value without the unused-bits byte (RFC 5280 method 1). */
static c2s_err spki_ski(const struct issue_req *rq, uint8_t ski[SKI_LEN], char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	mbedtls_pk_context pk;
	const uint8_t *p = rq->spki, *end = p + rq->spki_len, *v = NULL, *alg = NULL, *key = NULL;
	size_t vn = 0, an = 0, kn = 0;
	mbedtls_pk_init(&pk);
	if (p == NULL || rq->spki_len == 0 || rq->spki_len > SPKI_MAX)
		WHY(C2S_ERR_ARG, "the subject public key is missing or longer than %d bytes",
		    SPKI_MAX);
	if (cms_der_get(&p, end, 0x30, &v, &vn) != C2S_OK || p != end)
		WHY(C2S_ERR_ARG, "the subject public key is not one SubjectPublicKeyInfo (DER)");
	p = v, end = v + vn;
	if (cms_der_get(&p, end, 0x30, &alg, &an) != C2S_OK ||
	    cms_der_get(&p, end, 0x03, &key, &kn) != C2S_OK || p != end || kn < 2 || key[0] != 0)
		WHY(C2S_ERR_ARG, "the subject public key is not one SubjectPublicKeyInfo (DER)");
	if (mbedtls_pk_parse_public_key(&pk, rq->spki, rq->spki_len) != 0)
		WHY(C2S_ERR_ARG, "the subject public key is not an RSA or EC key mbedTLS can read");
	const mbedtls_md_info_t *sha1 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	ENSURE(sha1 != NULL && mbedtls_md(sha1, key + 1, kn - 1, ski) == 0, C2S_ERR_INTERNAL);
	ret = C2S_OK;
out:
	mbedtls_pk_free(&pk);
	return ret;
}

/* The keyIdentifier of the CA certificate's subjectKeyIdentifier extension. mbedTLS 2.28
 * keeps no parsed copy, so the extensions (already well-formed: the certificate parsed) are
 * walked with the strict DER reader. */
static c2s_err ca_ski(const mbedtls_x509_crt *ca, struct span *ski)
{
	c2s_err ret = C2S_ERR_X509;
	const uint8_t *p = ca->v3_ext.p, *exts = NULL;
	size_t n = 0;
	ENSURE(p != NULL, C2S_ERR_X509);
	GUARD(cms_der_get(&p, ca->v3_ext.p + ca->v3_ext.len, 0x30, &exts, &n));
	for (p = exts; p < exts + n;) {
		const uint8_t *e = NULL, *oid = NULL, *val = NULL, *kid = NULL, *q;
		size_t en = 0, on = 0, vn = 0, kn = 0;
		GUARD(cms_der_get(&p, exts + n, 0x30, &e, &en));
		q = e;
		GUARD(cms_der_get(&q, e + en, 0x06, &oid, &on));
		if (on != MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER) ||
		    memcmp(oid, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER, on) != 0)
			continue;
		if (q < e + en && *q == 0x01) /* critical (RFC 5280: never for this one) */
			GUARD(cms_der_get(&q, e + en, 0x01, &val, &vn));
		GUARD(cms_der_get(&q, e + en, 0x04, &val, &vn));
		q = val;
		GUARD(cms_der_get(&q, val + vn, 0x04, &kid, &kn));
		ENSURE(q == val + vn && kn > 0 && kn <= 64, C2S_ERR_X509);
		*ski = (struct span){kid, kn};
		ret = C2S_OK;
		goto out;
	}
	ret = C2S_ERR_NOT_FOUND;
out:
	return ret;
}

static int64_t x509_unix(const mbedtls_x509_time *t)
{
	struct tm tm = {.tm_year = t->year - 1900,
	                .tm_mon = t->mon - 1,
	                .tm_mday = t->day,
	                .tm_hour = t->hour,
	                .tm_min = t->min,
	                .tm_sec = t->sec};
	return (int64_t)timegm(&tm);
}

/* Parses the issuing CA certificate and checks it can issue this request. */
static c2s_err issuer_load(const struct issue_req *rq, mbedtls_x509_crt *ca, struct span *ski,
                           char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_X509;
	int r = MBEDTLS_ERR_X509_INVALID_FORMAT;
	if (rq->issuer_cert && rq->issuer_cert_len <= ISSUE_CERT_MAX)
		r = mbedtls_x509_crt_parse_der(ca, rq->issuer_cert, rq->issuer_cert_len);
	if (r != 0)
		WHY(C2S_ERR_X509, "the issuing CA certificate does not parse (mbedTLS -0x%04x)",
		    (unsigned)-r);
	if (!(ca->ext_types & MBEDTLS_X509_EXT_BASIC_CONSTRAINTS) || !ca->ca_istrue)
		WHY(C2S_ERR_X509,
		    "the issuing CA certificate is not a CA (basicConstraints CA:TRUE)");
	if ((ca->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
	    !(ca->key_usage & MBEDTLS_X509_KU_KEY_CERT_SIGN))
		WHY(C2S_ERR_X509, "the issuing CA certificate's keyUsage lacks keyCertSign");
	if (ca_ski(ca, ski) != C2S_OK)
		WHY(C2S_ERR_X509, "the issuing CA certificate has no subjectKeyIdentifier; reissue "
		                  "it with one (the authorityKeyIdentifier is copied from it)");
	int ec = mbedtls_pk_can_do(&ca->pk, MBEDTLS_PK_ECKEY);
	if (ec != (rq->sig == CMS_SIG_ECDSA))
		WHY(C2S_ERR_ARG,
		    "the signature algorithm (%s) does not fit the issuing CA's key (%s)",
		    rq->sig == CMS_SIG_ECDSA ? "ECDSA" : "RSA", ec ? "EC" : "RSA");
	if (ca->pk_raw.len == rq->spki_len && memcmp(ca->pk_raw.p, rq->spki, rq->spki_len) == 0)
		WHY(C2S_ERR_ARG, "the subject public key is the issuing CA's own key");
	/* not_before may precede the CA's own (backdating right after provisioning); path
	 * validation checks each certificate's validity on its own (RFC 5280 6.1.3) */
	if (rq->not_after > x509_unix(&ca->valid_to))
		WHY(C2S_ERR_ARG, "the validity ends after the issuing CA certificate's; renew the "
		                 "issuing CA certificate");
	ret = C2S_OK;
out:
	return ret;
}

/* One attribute per RDN: SET { SEQUENCE { type, value } }. */
static size_t w_rdn(struct cms_w *w, const uint8_t *oid, size_t oid_len, uint8_t tag, const char *v)
{
	size_t n = cms_w_tlv(w, tag, v, strlen(v));
	n += cms_w_tlv(w, 0x06, oid, oid_len);
	n += cms_w_hdr(w, n, 0x30);
	return n + cms_w_hdr(w, n, 0x31);
}

/* Name: C, givenName, surname, CN, serialNumber (written last first). */
static size_t w_subject(struct cms_w *w, const struct names *nm)
{
	size_t n = 0;
	if (nm->serial[0])
		n += w_rdn(w, OID(MBEDTLS_OID_AT_SERIAL_NUMBER), 0x13, nm->serial);
	n += w_rdn(w, OID(MBEDTLS_OID_AT_CN), 0x0c, nm->cn);
	n += w_rdn(w, OID(MBEDTLS_OID_AT_SUR_NAME), 0x0c, nm->surname);
	n += w_rdn(w, OID(MBEDTLS_OID_AT_GIVEN_NAME), 0x0c, nm->given);
	if (nm->country[0])
		n += w_rdn(w, OID(MBEDTLS_OID_AT_COUNTRY), 0x13, nm->country);
	return n + cms_w_hdr(w, n, 0x30);
}

/* Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050. */
static size_t w_time(struct cms_w *w, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char s[32];
	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999) {
		w->err = 1;
		return 0;
	}
	int year = tm.tm_year + 1900, utc = year >= 1950 && year < 2050;
	snprintf(s, sizeof(s), "%0*d%02d%02d%02d%02d%02dZ", utc ? 2 : 4, utc ? year % 100 : year,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return cms_w_tlv(w, utc ? 0x17 : 0x18, s, strlen(s));
}

/* Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } around
 * the `vn` value bytes already written. */
static size_t w_ext(struct cms_w *w, const uint8_t *oid, size_t oid_len, int critical, size_t vn)
{
	size_t n = vn + cms_w_hdr(w, vn, 0x04);
	if (critical)
		n += cms_w_tlv(w, 0x01, "\xff", 1);
	n += cms_w_tlv(w, 0x06, oid, oid_len);
	return n + cms_w_hdr(w, n, 0x30);
}

/* [3] { basicConstraints, keyUsage, subjectKeyIdentifier, authorityKeyIdentifier }. */
static size_t w_extensions(struct cms_w *w, const uint8_t *ski, struct span aki)
{
	/* digitalSignature (bit 0) and nonRepudiation (bit 1): 6 unused bits */
	static const uint8_t ku[] = {0x06, 0xc0};
	size_t n = 0, k = 0;
	k = cms_w_tlv(w, 0x80, aki.p, aki.n); /* keyIdentifier [0] IMPLICIT */
	n += w_ext(w, OID(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER), 0, k + cms_w_hdr(w, k, 0x30));
	k = cms_w_tlv(w, 0x04, ski, SKI_LEN);
	n += w_ext(w, OID(MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER), 0, k);
	k = cms_w_tlv(w, 0x03, ku, sizeof(ku));
	n += w_ext(w, OID(MBEDTLS_OID_KEY_USAGE), 1, k);
	k = cms_w_hdr(w, 0, 0x30); /* cA FALSE is the DEFAULT: an empty SEQUENCE in DER */
	n += w_ext(w, OID(MBEDTLS_OID_BASIC_CONSTRAINTS), 1, k);
	n += cms_w_hdr(w, n, 0x30);
	return n + cms_w_hdr(w, n, 0xa3);
}

static size_t w_tbs(struct cms_w *w, const struct build *b)
{
	const struct issue_req *rq = b->rq;
	const mbedtls_x509_crt *ca = &b->ca;
	size_t n = w_extensions(w, b->ski, b->aki), k = 0;
	n += cms_w_raw(w, rq->spki, rq->spki_len);
	n += w_subject(w, &b->nm);
	k = w_time(w, rq->not_after);
	k += w_time(w, rq->not_before);
	n += k + cms_w_hdr(w, k, 0x30);
	n += cms_w_raw(w, ca->subject_raw.p, ca->subject_raw.len);
	n += cms_w_sig_algid(w, rq->sig, rq->hash);
	n += cms_w_tlv(w, 0x02, rq->serial, ISSUE_SERIAL_LEN);
	k = cms_w_int(w, 2); /* v3 */
	n += k + cms_w_hdr(w, k, 0xa0);
	return n + cms_w_hdr(w, n, 0x30);
}

/* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
static c2s_err cert_wrap(const struct build *b, struct buf *der)
{
	c2s_err ret = C2S_ERR_NOMEM;
	size_t cap = b->tbs.n + b->sig_len + 64;
	unsigned char *scratch = malloc(cap);
	struct cms_w w = {scratch, scratch + cap, 0};
	ENSURE(scratch != NULL, C2S_ERR_NOMEM);
	size_t k = cms_w_raw(&w, b->sig, b->sig_len);
	k += cms_w_raw(&w, "", 1); /* no unused bits */
	size_t n = k + cms_w_hdr(&w, k, 0x03);
	n += cms_w_sig_algid(&w, b->rq->sig, b->rq->hash);
	n += cms_w_raw(&w, b->tbs.p, b->tbs.n);
	n += cms_w_hdr(&w, n, 0x30);
	ENSURE(!w.err, C2S_ERR_INTERNAL);
	ENSURE(n <= ISSUE_CERT_MAX, C2S_ERR_TOO_BIG);
	GUARD(buf_put(der, w.p, n));
	ret = C2S_OK;
out:
	free(scratch);
	return ret;
}

/* Never hand out a certificate that does not parse or verify with the issuer's key. */
static c2s_err self_check(const struct buf *der, mbedtls_x509_crt *ca, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_x509_crt c;
	uint8_t hash[MBEDTLS_MD_MAX_SIZE];
	mbedtls_x509_crt_init(&c);
	int r = mbedtls_x509_crt_parse_der(&c, der->data, der->len);
	if (r != 0)
		WHY(C2S_ERR_X509, "the certificate built does not parse (mbedTLS -0x%04x)",
		    (unsigned)-r);
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(c.sig_md);
	ENSURE(mi != NULL && mbedtls_md(mi, c.tbs.p, c.tbs.len, hash) == 0, C2S_ERR_X509);
	r = mbedtls_pk_verify_ext(c.sig_pk, c.sig_opts, &ca->pk, c.sig_md, hash,
	                          mbedtls_md_get_size(mi), c.sig.p, c.sig.len);
	if (r != 0)
		WHY(C2S_ERR_CERT_MISMATCH,
		    "the signature on the certificate does not verify with the issuing CA "
		    "certificate's key (mbedTLS -0x%04x): the CA key is not that certificate's, or "
		    "the signer returned another format (ECDSA must be DER); nothing was issued",
		    (unsigned)-r);
	ENSURE(c.issuer_raw.len == ca->subject_raw.len &&
	           memcmp(c.issuer_raw.p, ca->subject_raw.p, c.issuer_raw.len) == 0,
	       C2S_ERR_X509);
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&c);
	return ret;
}

/* TBSCertificate into b->tbs, its digest, the signature from the callback into b->sig. */
static c2s_err tbs_sign(struct build *b, issue_sign_cb sign, void *ctx, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_NOMEM;
	uint8_t digest[64];
	size_t cap = 1024 + sizeof(b->nm) + b->rq->spki_len + b->ca.subject_raw.len + b->aki.n;
	b->tbs_buf = malloc(cap);
	ENSURE(b->tbs_buf != NULL, C2S_ERR_NOMEM);
	struct cms_w w = {b->tbs_buf, b->tbs_buf + cap, 0};
	size_t n = w_tbs(&w, b);
	if (w.err)
		WHY(C2S_ERR_INTERNAL, "the certificate did not fit its buffer");
	b->tbs = (struct span){w.p, n};
	GUARD(cms_hash_buf(b->rq->hash, b->tbs.p, b->tbs.n, digest));
	b->sig_len = sizeof(b->sig);
	ret = sign(ctx, digest, cms_hash_len(b->rq->hash), b->sig, &b->sig_len);
	if (ret != C2S_OK)
		WHY(ret, "the CA key did not sign the certificate: %s", c2s_err_message(ret));
	if (b->sig_len == 0 || b->sig_len > sizeof(b->sig))
		WHY(C2S_ERR_INTERNAL, "the signer returned %zu bytes for a %zu-byte buffer",
		    b->sig_len, sizeof(b->sig));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err issue_cert(const struct issue_req *rq, issue_sign_cb sign, void *ctx, struct buf *der,
                   char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct build *b = calloc(1, sizeof(*b));
	if (b != NULL)
		mbedtls_x509_crt_init(&b->ca);
	if (der != NULL)
		buf_reset(der);
	ENSURE(b != NULL, C2S_ERR_NOMEM);
	if (rq == NULL || sign == NULL || der == NULL)
		WHY(C2S_ERR_ARG, "issue_cert needs a request, a signer and an output buffer");
	b->rq = rq;
	GUARD(names_take(&rq->subject, &b->nm, why, why_cap));
	GUARD(req_check(rq, why, why_cap));
	GUARD(spki_ski(rq, b->ski, why, why_cap));
	GUARD(issuer_load(rq, &b->ca, &b->aki, why, why_cap));
	GUARD(tbs_sign(b, sign, ctx, why, why_cap));
	ret = cert_wrap(b, der);
	if (ret != C2S_OK)
		WHY(ret, "cannot write the certificate: %s", c2s_err_message(ret));
	GUARD(self_check(der, &b->ca, why, why_cap));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && der != NULL)
		buf_reset(der);
	if (b != NULL) {
		mbedtls_x509_crt_free(&b->ca);
		free(b->tbs_buf);
		free(b);
	}
	return ret;
}

c2s_err issue_hsm_setup(struct issue_hsm *ctx, struct hsm *h, struct hsm_key *ca,
                        struct issue_req *rq)
{
	c2s_err ret = C2S_ERR_ARG;
	struct hsm_key_info ki;
	ENSURE(ctx != NULL && h != NULL && ca != NULL && rq != NULL, C2S_ERR_ARG);
	GUARD(hsm_key_get_info(h, ca, &ki));
	*ctx = (struct issue_hsm){h, ca, HSM_MECH_ECDSA, HSM_HASH_SHA256};
	rq->sig = CMS_SIG_ECDSA;
	rq->hash = CMS_SHA256;
	if (ki.type == HSM_KEY_RSA) {
		ctx->mech = HSM_MECH_RSA_PKCS1;
		rq->sig = CMS_SIG_RSA_PKCS1;
	} else if (ki.type == HSM_KEY_EC && ki.curve == HSM_CURVE_P384) {
		ctx->hash = HSM_HASH_SHA384;
		rq->hash = CMS_SHA384;
	} else if (!(ki.type == HSM_KEY_EC && ki.curve == HSM_CURVE_P256)) {
		ret = C2S_ERR_HSM_MECHANISM;
		goto out;
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err issue_hsm_sign(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *sig_len)
{
	c2s_err ret = C2S_ERR_ARG;
	struct issue_hsm *c = ctx;
	ENSURE(c != NULL && digest != NULL && dlen == hsm_hash_len(c->hash), C2S_ERR_ARG);
	GUARD(hsm_sign(c->h, c->ca, c->mech, c->hash, digest, dlen, sig, sig_len));
	ret = C2S_OK;
out:
	return ret;
}
