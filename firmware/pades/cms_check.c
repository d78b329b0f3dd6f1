/* CMS: the strict DER reader, digest helpers and the keyholder's check of the signed
 * attributes (cms_attrs_check). Everything here reads untrusted bytes through (p, end). */
#include "cms.h"

#include <string.h>

#include <mbedtls/md.h>

#include "firmware/base/sha256.h"

#include "cms_oid_int.h"

#define DER_MAX_DEPTH 12

static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t oid_sha384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
static const uint8_t oid_sha512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};

c2s_err cms_der_any(const uint8_t **p, const uint8_t *end, uint8_t *tag, const uint8_t **val,
                    size_t *len)
{
	const uint8_t *q = *p;
	size_t n = 0;

	if (q == NULL || end == NULL || q >= end || end - q < 2)
		return C2S_ERR_TRUNCATED;
	uint8_t t = *q++;
	if ((t & 0x1f) == 0x1f)
		return C2S_ERR_TRUNCATED; /* multi-byte tags: never in what we read */
	uint8_t l = *q++;
	if (l < 0x80) {
		n = l;
	} else {
		size_t k = l & 0x7f;
		if (k == 0 || k > 4 || (size_t)(end - q) < k || q[0] == 0)
			return C2S_ERR_TRUNCATED; /* indefinite, huge or non-minimal */
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | q[i];
		q += k;
		if (n < 0x80)
			return C2S_ERR_TRUNCATED; /* long form for a short length */
	}
	if ((size_t)(end - q) < n)
		return C2S_ERR_TRUNCATED;
	*tag = t;
	*val = q;
	*len = n;
	*p = q + n;
	return C2S_OK;
}

c2s_err cms_der_get(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **val,
                    size_t *len)
{
	const uint8_t *q = *p;
	uint8_t t = 0;
	c2s_err ret = cms_der_any(&q, end, &t, val, len);
	if (ret != C2S_OK)
		return ret;
	if (t != tag)
		return C2S_ERR_TRUNCATED;
	*p = q;
	return C2S_OK;
}

const uint8_t *cms_hash_oid(enum cms_hash h, size_t *len)
{
	switch (h) {
	case CMS_SHA256:
		*len = sizeof(oid_sha256);
		return oid_sha256;
	case CMS_SHA384:
		*len = sizeof(oid_sha384);
		return oid_sha384;
	case CMS_SHA512:
		*len = sizeof(oid_sha512);
		return oid_sha512;
	}
	*len = 0;
	return NULL;
}

size_t cms_hash_len(enum cms_hash h)
{
	switch (h) {
	case CMS_SHA256:
		return 32;
	case CMS_SHA384:
		return 48;
	case CMS_SHA512:
		return 64;
	}
	return 0;
}

c2s_err cms_hash_buf(enum cms_hash h, const uint8_t *p, size_t n, uint8_t *out)
{
	mbedtls_md_type_t t = h == CMS_SHA256   ? MBEDTLS_MD_SHA256
	                      : h == CMS_SHA384 ? MBEDTLS_MD_SHA384
	                      : h == CMS_SHA512 ? MBEDTLS_MD_SHA512
	                                        : MBEDTLS_MD_NONE;
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(t);
	if (info == NULL || (p == NULL && n != 0) || out == NULL)
		return C2S_ERR_ARG;
	if (h == CMS_SHA256) {
		c2s_sha256_oneshot(p, n, out);
		return C2S_OK;
	}
	return mbedtls_md(info, p, n, out) == 0 ? C2S_OK : C2S_ERR_INTERNAL;
}

/* Every TLV inside [p, end) is well-formed DER framing, recursively for constructed ones. */
static c2s_err der_wellformed(const uint8_t *p, const uint8_t *end, int depth)
{
	if (depth > DER_MAX_DEPTH)
		return C2S_ERR_CMS_REFUSED;
	while (p < end) {
		uint8_t t = 0;
		const uint8_t *v = NULL;
		size_t n = 0;
		if (cms_der_any(&p, end, &t, &v, &n) != C2S_OK)
			return C2S_ERR_CMS_REFUSED;
		if ((t & 0x20) && der_wellformed(v, v + n, depth + 1) != C2S_OK)
			return C2S_ERR_CMS_REFUSED;
	}
	return C2S_OK;
}

/* Certificate -> issuer Name (whole TLV) and serialNumber (INTEGER contents). */
c2s_err cms_cert_issuer_serial(const uint8_t *c, size_t n, struct cms_blob *issuer,
                               struct cms_blob *serial)
{
	c2s_err ret = C2S_ERR_X509;
	const uint8_t *p = c, *v = NULL, *tbs = NULL, *q = NULL, *end = NULL;
	size_t vn = 0, tn = 0;
	uint8_t t = 0;

	ENSURE(c != NULL && n > 0, C2S_ERR_X509);
	GUARD(cms_der_get(&p, c + n, 0x30, &v, &vn) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	ENSURE(p == c + n, C2S_ERR_X509);
	GUARD(cms_der_get(&v, v + vn, 0x30, &tbs, &tn) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	q = tbs;
	end = tbs + tn;
	if (q < end && *q == 0xa0) /* [0] EXPLICIT version */
		GUARD(cms_der_any(&q, end, &t, &v, &vn) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	GUARD(cms_der_get(&q, end, 0x02, &serial->p, &serial->n) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	GUARD(cms_der_get(&q, end, 0x30, &v, &vn) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	issuer->p = q;
	GUARD(cms_der_get(&q, end, 0x30, &v, &vn) == C2S_OK ? C2S_OK : C2S_ERR_X509);
	issuer->n = (size_t)(q - issuer->p);
	ret = C2S_OK;
out:
	return ret;
}

enum { SEEN_CT = 1, SEEN_MD = 2, SEEN_SCV2 = 4, SEEN_SC = 8, SEEN_CTI = 16 };

/* Which allow-listed attribute this OID is (0 = not allowed). */
static unsigned attr_kind(const uint8_t *oid, size_t n)
{
	if (CMS_OID_EQ(oid, n, cms_oid_content_type))
		return SEEN_CT;
	if (CMS_OID_EQ(oid, n, cms_oid_message_digest))
		return SEEN_MD;
	if (CMS_OID_EQ(oid, n, cms_oid_signing_cert_v2))
		return SEEN_SCV2;
	if (CMS_OID_EQ(oid, n, cms_oid_signing_cert))
		return SEEN_SC;
	if (CMS_OID_EQ(oid, n, cms_oid_commitment_type))
		return SEEN_CTI;
	return 0;
}

/* One Attribute's contents: type OID, then a SET holding exactly one value. */
static c2s_err attr_one(const uint8_t *p, const uint8_t *end, unsigned *seen,
                        const uint8_t **digest, size_t *digest_len)
{
	c2s_err ret = C2S_ERR_CMS_REFUSED;
	const uint8_t *oid = NULL, *set = NULL, *v = NULL, *q = NULL;
	size_t oid_len = 0, set_len = 0, v_len = 0;
	uint8_t t = 0;

	ENSURE(cms_der_get(&p, end, 0x06, &oid, &oid_len) == C2S_OK, C2S_ERR_CMS_REFUSED);
	ENSURE(cms_der_get(&p, end, 0x31, &set, &set_len) == C2S_OK, C2S_ERR_CMS_REFUSED);
	ENSURE(p == end, C2S_ERR_CMS_REFUSED);
	unsigned kind = attr_kind(oid, oid_len);
	ENSURE(kind != 0 && !(*seen & kind), C2S_ERR_CMS_REFUSED);
	*seen |= kind;
	q = set;
	ENSURE(cms_der_any(&q, set + set_len, &t, &v, &v_len) == C2S_OK, C2S_ERR_CMS_REFUSED);
	ENSURE(q == set + set_len, C2S_ERR_CMS_REFUSED); /* exactly one value */
	switch (kind) {
	case SEEN_CT:
		ENSURE(t == 0x06 && CMS_OID_EQ(v, v_len, cms_oid_data), C2S_ERR_CMS_REFUSED);
		break;
	case SEEN_MD:
		ENSURE(t == 0x04 && (v_len == 32 || v_len == 48 || v_len == 64),
		       C2S_ERR_CMS_REFUSED);
		*digest = v;
		*digest_len = v_len;
		break;
	default: /* SigningCertificate(V2), CommitmentTypeIndication: SEQUENCEs */
		ENSURE(t == 0x30 && v_len > 0, C2S_ERR_CMS_REFUSED);
		GUARD(der_wellformed(v, v + v_len, 1));
		break;
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err cms_attrs_check(const uint8_t *attrs, size_t len, const uint8_t **digest,
                        size_t *digest_len)
{
	c2s_err ret = C2S_ERR_CMS_REFUSED;
	const uint8_t *p = attrs, *set = NULL, *prev = NULL, *md = NULL;
	size_t set_len = 0, prev_len = 0, md_len = 0;
	unsigned seen = 0;

	ENSURE(attrs != NULL && digest != NULL && digest_len != NULL, C2S_ERR_ARG);
	ENSURE(cms_der_get(&p, attrs + len, 0x31, &set, &set_len) == C2S_OK, C2S_ERR_CMS_REFUSED);
	ENSURE(p == attrs + len, C2S_ERR_CMS_REFUSED); /* trailing bytes */
	for (const uint8_t *q = set, *qend = set + set_len; q < qend;) {
		const uint8_t *el = q, *a = NULL;
		size_t a_len = 0;
		ENSURE(cms_der_get(&q, qend, 0x30, &a, &a_len) == C2S_OK, C2S_ERR_CMS_REFUSED);
		size_t el_len = (size_t)(q - el);
		/* DER: strictly ascending (an identical repeat is a duplicate) */
		ENSURE(prev == NULL || cms_der_cmp(prev, prev_len, el, el_len) < 0,
		       C2S_ERR_CMS_REFUSED);
		GUARD(attr_one(a, a + a_len, &seen, &md, &md_len));
		prev = el;
		prev_len = el_len;
	}
	ENSURE((seen & (SEEN_CT | SEEN_MD)) == (SEEN_CT | SEEN_MD), C2S_ERR_CMS_REFUSED);
	*digest = md;
	*digest_len = md_len;
	ret = C2S_OK;
out:
	return ret;
}

#define SD_GET(tag, v)                                                                             \
	ENSURE(cms_der_get(&p, end, (tag), &(v).p, &(v).n) == C2S_OK, C2S_ERR_CMS_REFUSED)

c2s_err cms_sd_parse(const uint8_t *ci, size_t n, struct cms_sd *sd)
{
	c2s_err ret = C2S_ERR_CMS_REFUSED;
	const uint8_t *p = ci, *end = ci + n;
	struct cms_blob v = {0}, oid = {0}, x = {0};

	ENSURE(ci != NULL && sd != NULL, C2S_ERR_ARG);
	memset(sd, 0, sizeof(*sd));
	SD_GET(0x30, v); /* ContentInfo */
	ENSURE(p == end, C2S_ERR_CMS_REFUSED);
	p = v.p, end = v.p + v.n;
	SD_GET(0x06, oid);
	ENSURE(CMS_OID_EQ(oid.p, oid.n, cms_oid_signed_data), C2S_ERR_CMS_REFUSED);
	SD_GET(0xa0, v);
	ENSURE(p == end, C2S_ERR_CMS_REFUSED);
	p = v.p, end = v.p + v.n;
	SD_GET(0x30, v); /* SignedData */
	ENSURE(p == end, C2S_ERR_CMS_REFUSED);
	p = v.p, end = v.p + v.n;
	SD_GET(0x02, x); /* version */
	SD_GET(0x31, x); /* digestAlgorithms */
	SD_GET(0x30, v); /* encapContentInfo */
	{
		const uint8_t *q = v.p, *qend = v.p + v.n, *w = NULL;
		size_t wn = 0;
		ENSURE(cms_der_get(&q, qend, 0x06, &sd->econtent_type.p, &sd->econtent_type.n) ==
		           C2S_OK,
		       C2S_ERR_CMS_REFUSED);
		if (q < qend) {
			ENSURE(cms_der_get(&q, qend, 0xa0, &w, &wn) == C2S_OK && q == qend,
			       C2S_ERR_CMS_REFUSED);
			const uint8_t *wend = w + wn;
			ENSURE(cms_der_get(&w, wend, 0x04, &sd->econtent.p, &sd->econtent.n) ==
			               C2S_OK &&
			           w == wend,
			       C2S_ERR_CMS_REFUSED);
		}
	}
	if (p < end && *p == 0xa0)
		SD_GET(0xa0, sd->certs);
	if (p < end && *p == 0xa1)
		SD_GET(0xa1, x); /* crls */
	SD_GET(0x31, sd->signers);
	ENSURE(p == end && sd->signers.n > 0, C2S_ERR_CMS_REFUSED);
	ret = C2S_OK;
out:
	return ret;
}
