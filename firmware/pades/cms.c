/* CMS SignedData writer for PAdES baseline signatures (RFC 5652, EN 319 122-1 CAdES):
 * signed attributes and the detached ContentInfo, written backwards with mbedTLS asn1write
 * into a scratch buffer sized from the inputs. */
#include "cms.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>

#include "cms_oid_int.h"

#define CMS_OUT_MAX (1u << 20)

size_t cms_w_raw(struct cms_w *w, const void *d, size_t n)
{
	if (w->err || (size_t)(w->p - w->start) < n) {
		w->err = 1;
		return 0;
	}
	w->p -= n;
	if (n)
		memcpy(w->p, d, n);
	return n;
}

size_t cms_w_hdr(struct cms_w *w, size_t len, uint8_t tag)
{
	if (w->err)
		return 0;
	int a = mbedtls_asn1_write_len(&w->p, w->start, len);
	int b = a < 0 ? a : mbedtls_asn1_write_tag(&w->p, w->start, tag);
	if (a < 0 || b < 0) {
		w->err = 1;
		return 0;
	}
	return (size_t)a + (size_t)b;
}

size_t cms_w_tlv(struct cms_w *w, uint8_t tag, const void *d, size_t n)
{
	size_t k = cms_w_raw(w, d, n);
	return k + cms_w_hdr(w, k, tag);
}

size_t cms_w_int(struct cms_w *w, int v)
{
	int r = w->err ? -1 : mbedtls_asn1_write_int(&w->p, w->start, v);
	if (r < 0) {
		w->err = 1;
		return 0;
	}
	return (size_t)r;
}

/* AlgorithmIdentifier with absent parameters, or NULL parameters. */
static size_t w_algid(struct cms_w *w, const uint8_t *oid, size_t oid_len, int null_params)
{
	size_t n = 0;
	if (null_params)
		n += cms_w_hdr(w, 0, 0x05);
	n += cms_w_tlv(w, 0x06, oid, oid_len);
	return n + cms_w_hdr(w, n, 0x30);
}

/* SHA-2 AlgorithmIdentifiers with absent parameters (RFC 5754). */
static size_t w_hash_algid(struct cms_w *w, enum cms_hash h)
{
	size_t n = 0;
	const uint8_t *oid = cms_hash_oid(h, &n);
	if (oid == NULL) {
		w->err = 1;
		return 0;
	}
	return w_algid(w, oid, n, 0);
}

/* RSASSA-PSS-params with every field explicit except trailerField (1 = default). */
static size_t w_pss_algid(struct cms_w *w, enum cms_hash h)
{
	size_t n = 0, k = 0;

	k = cms_w_int(w, (int)cms_hash_len(h)); /* saltLength = hLen */
	n += k + cms_w_hdr(w, k, 0xa2);
	k = w_hash_algid(w, h);
	k += cms_w_tlv(w, 0x06, cms_oid_mgf1, sizeof(cms_oid_mgf1));
	k += cms_w_hdr(w, k, 0x30);
	n += k + cms_w_hdr(w, k, 0xa1);
	k = w_hash_algid(w, h);
	n += k + cms_w_hdr(w, k, 0xa0);
	n += cms_w_hdr(w, n, 0x30);
	n += cms_w_tlv(w, 0x06, cms_oid_rsa_pss, sizeof(cms_oid_rsa_pss));
	return n + cms_w_hdr(w, n, 0x30);
}

size_t cms_w_sig_algid(struct cms_w *w, enum cms_sig sig, enum cms_hash hash)
{
	int i = hash == CMS_SHA256 ? 0 : hash == CMS_SHA384 ? 1 : 2;
	static const struct cms_blob rsa[3] = {
	    {cms_oid_sha256_rsa, sizeof(cms_oid_sha256_rsa)},
	    {cms_oid_sha384_rsa, sizeof(cms_oid_sha384_rsa)},
	    {cms_oid_sha512_rsa, sizeof(cms_oid_sha512_rsa)},
	};
	static const struct cms_blob ec[3] = {
	    {cms_oid_ecdsa_sha256, sizeof(cms_oid_ecdsa_sha256)},
	    {cms_oid_ecdsa_sha384, sizeof(cms_oid_ecdsa_sha384)},
	    {cms_oid_ecdsa_sha512, sizeof(cms_oid_ecdsa_sha512)},
	};
	switch (sig) {
	case CMS_SIG_RSA_PKCS1: /* sha*WithRSAEncryption, NULL parameters (RFC 4055) */
		return w_algid(w, rsa[i].p, rsa[i].n, 1);
	case CMS_SIG_RSA_PSS:
		return w_pss_algid(w, hash);
	case CMS_SIG_ECDSA: /* parameters absent (RFC 5758) */
		return w_algid(w, ec[i].p, ec[i].n, 0);
	}
	w->err = 1;
	return 0;
}

/* Attribute ::= SEQUENCE { attrType, attrValues SET } around `vn` value bytes already
 * written. */
static size_t w_attr_wrap(struct cms_w *w, const uint8_t *oid, size_t oid_len, size_t vn)
{
	size_t n = vn + cms_w_hdr(w, vn, 0x31);
	n += cms_w_tlv(w, 0x06, oid, oid_len);
	return n + cms_w_hdr(w, n, 0x30);
}

/* SigningCertificateV2 { certs { ESSCertIDv2 { [hashAlgorithm], certHash,
 * issuerSerial { GeneralNames { [4] issuer }, serial } } } } */
static size_t w_signing_cert_v2(struct cms_w *w, const struct cms_signer *s, struct cms_blob issuer,
                                struct cms_blob serial, const uint8_t *cert_hash)
{
	size_t n = 0, k = 0;

	k = cms_w_tlv(w, 0x02, serial.p, serial.n);
	size_t g = cms_w_raw(w, issuer.p, issuer.n);
	g += cms_w_hdr(w, g, 0xa4);     /* directoryName [4] EXPLICIT Name */
	k += g + cms_w_hdr(w, g, 0x30); /* GeneralNames */
	n += k + cms_w_hdr(w, k, 0x30); /* IssuerSerial */
	n += cms_w_tlv(w, 0x04, cert_hash, cms_hash_len(s->hash));
	if (s->hash != CMS_SHA256) /* DEFAULT id-sha256: omitted in DER */
		n += w_hash_algid(w, s->hash);
	n += cms_w_hdr(w, n, 0x30); /* ESSCertIDv2 */
	n += cms_w_hdr(w, n, 0x30); /* certs */
	n += cms_w_hdr(w, n, 0x30); /* SigningCertificateV2 */
	return w_attr_wrap(w, cms_oid_signing_cert_v2, sizeof(cms_oid_signing_cert_v2), n);
}

static int blob_cmp(const void *a, const void *b)
{
	const struct cms_blob *x = a, *y = b;
	return cms_der_cmp(x->p, x->n, y->p, y->n);
}

/* SET OF in DER order: header + sorted elements into out (replacing its contents). */
static c2s_err put_sorted_set(struct cms_blob *el, size_t n, uint8_t tag, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	unsigned char hdr[8];
	struct cms_w w = {hdr, hdr + sizeof(hdr), 0};
	size_t total = 0;

	qsort(el, n, sizeof(*el), blob_cmp);
	for (size_t i = 0; i < n; i++)
		total += el[i].n;
	size_t h = cms_w_hdr(&w, total, tag);
	ENSURE(!w.err, C2S_ERR_CMS);
	buf_reset(out);
	GUARD(buf_put(out, w.p, h));
	for (size_t i = 0; i < n; i++)
		GUARD(buf_put(out, el[i].p, el[i].n));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err cms_signed_attrs(const struct cms_signer *s, const uint8_t *digest, size_t digest_len,
                         struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct cms_blob issuer = {0}, serial = {0}, el[3];
	uint8_t cert_hash[64];
	unsigned char *scratch = NULL;
	struct cms_w w = {0};
	size_t n = 0;

	ENSURE(s != NULL && digest != NULL && out != NULL, C2S_ERR_ARG);
	ENSURE(cms_hash_len(s->hash) != 0 && digest_len == cms_hash_len(s->hash), C2S_ERR_ARG);
	GUARD(cms_cert_issuer_serial(s->cert, s->cert_len, &issuer, &serial));
	GUARD(cms_hash_buf(s->hash, s->cert, s->cert_len, cert_hash));
	size_t cap = 512 + issuer.n + serial.n + digest_len;
	scratch = malloc(cap);
	ENSURE(scratch != NULL, C2S_ERR_NOMEM);
	w = (struct cms_w){scratch, scratch + cap, 0};

	n = w_signing_cert_v2(&w, s, issuer, serial, cert_hash);
	el[0] = (struct cms_blob){w.p, n};
	n = cms_w_tlv(&w, 0x04, digest, digest_len);
	n = w_attr_wrap(&w, cms_oid_message_digest, sizeof(cms_oid_message_digest), n);
	el[1] = (struct cms_blob){w.p, n};
	n = cms_w_tlv(&w, 0x06, cms_oid_data, sizeof(cms_oid_data));
	n = w_attr_wrap(&w, cms_oid_content_type, sizeof(cms_oid_content_type), n);
	el[2] = (struct cms_blob){w.p, n};
	ENSURE(!w.err, C2S_ERR_CMS);
	GUARD(put_sorted_set(el, 3, 0x31, out));
	ret = C2S_OK;
out:
	free(scratch);
	return ret;
}

/* Signer certificate + chain, duplicates dropped, in DER SET OF order. */
static size_t cert_set(const struct cms_signer *s, struct cms_blob *el)
{
	size_t n = 0;
	el[n++] = (struct cms_blob){s->cert, s->cert_len};
	for (size_t i = 0; i < s->n_chain && i < CMS_MAX_CHAIN; i++) {
		int dup = 0;
		for (size_t j = 0; j < n; j++)
			dup |= el[j].n == s->chain_len[i] &&
			       memcmp(el[j].p, s->chain[i], el[j].n) == 0;
		if (!dup && s->chain[i] != NULL && s->chain_len[i] > 0)
			el[n++] = (struct cms_blob){s->chain[i], s->chain_len[i]};
	}
	qsort(el, n, sizeof(*el), blob_cmp);
	return n;
}

/* SignerInfo (version 1, sid = issuerAndSerialNumber). */
static size_t w_signer_info(struct cms_w *w, const struct cms_signer *s, struct cms_blob issuer,
                            struct cms_blob serial, struct cms_blob attrs, struct cms_blob sig,
                            struct cms_blob tst)
{
	size_t n = 0, k = 0;

	if (tst.p != NULL) { /* unsignedAttrs [1] IMPLICIT { signatureTimeStampToken } */
		k = cms_w_raw(w, tst.p, tst.n);
		k = w_attr_wrap(w, cms_oid_sig_tst, sizeof(cms_oid_sig_tst), k);
		n += k + cms_w_hdr(w, k, 0xa1);
	}
	n += cms_w_tlv(w, 0x04, sig.p, sig.n);
	n += cms_w_sig_algid(w, s->sig, s->hash);
	k = cms_w_raw(w, attrs.p, attrs.n); /* same bytes as the signed SET, tag [0] IMPLICIT */
	if (!w->err)
		w->p[0] = 0xa0;
	n += k;
	n += w_hash_algid(w, s->hash);
	k = cms_w_tlv(w, 0x02, serial.p, serial.n);
	k += cms_w_raw(w, issuer.p, issuer.n);
	n += k + cms_w_hdr(w, k, 0x30);
	n += cms_w_int(w, 1);
	return n + cms_w_hdr(w, n, 0x30);
}

/* One complete TLV with tag `tag` and nothing after it. */
static int whole_tlv(const uint8_t *p, size_t n, uint8_t tag)
{
	const uint8_t *q = p, *v = NULL;
	size_t vn = 0;
	return p != NULL && cms_der_get(&q, p + n, tag, &v, &vn) == C2S_OK && q == p + n;
}

c2s_err cms_signed_data(const struct cms_signer *s, const uint8_t *attrs, size_t attrs_len,
                        const uint8_t *sig, size_t sig_len, const uint8_t *tst, size_t tst_len,
                        struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct cms_blob issuer = {0}, serial = {0}, certs[CMS_MAX_CHAIN + 1];
	unsigned char *scratch = NULL;
	struct cms_w w = {0};
	size_t n = 0, k = 0, cap = 1024;

	ENSURE(s != NULL && out != NULL && sig != NULL && sig_len > 0, C2S_ERR_ARG);
	ENSURE(whole_tlv(attrs, attrs_len, 0x31), C2S_ERR_ARG);
	ENSURE(tst == NULL || whole_tlv(tst, tst_len, 0x30), C2S_ERR_ARG);
	ENSURE(s->n_chain <= CMS_MAX_CHAIN, C2S_ERR_ARG);
	GUARD(cms_cert_issuer_serial(s->cert, s->cert_len, &issuer, &serial));
	size_t nc = cert_set(s, certs);
	for (size_t i = 0; i < nc; i++)
		cap += certs[i].n;
	cap += attrs_len + sig_len + (tst ? tst_len : 0) + issuer.n + serial.n;
	ENSURE(cap <= CMS_OUT_MAX, C2S_ERR_TOO_BIG);
	scratch = malloc(cap);
	ENSURE(scratch != NULL, C2S_ERR_NOMEM);
	w = (struct cms_w){scratch, scratch + cap, 0};

	k = w_signer_info(&w, s, issuer, serial, (struct cms_blob){attrs, attrs_len},
	                  (struct cms_blob){sig, sig_len},
	                  (struct cms_blob){tst, tst ? tst_len : 0});
	n += k + cms_w_hdr(&w, k, 0x31); /* signerInfos */
	k = 0;
	for (size_t i = nc; i-- > 0;)
		k += cms_w_raw(&w, certs[i].p, certs[i].n);
	n += k + cms_w_hdr(&w, k, 0xa0); /* certificates [0] IMPLICIT */
	k = cms_w_tlv(&w, 0x06, cms_oid_data, sizeof(cms_oid_data));
	n += k + cms_w_hdr(&w, k, 0x30); /* encapContentInfo, no eContent (detached) */
	k = w_hash_algid(&w, s->hash);
	n += k + cms_w_hdr(&w, k, 0x31); /* digestAlgorithms */
	n += cms_w_int(&w, 1);
	n += cms_w_hdr(&w, n, 0x30);
	n += cms_w_hdr(&w, n, 0xa0);
	n += cms_w_tlv(&w, 0x06, cms_oid_signed_data, sizeof(cms_oid_signed_data));
	n += cms_w_hdr(&w, n, 0x30);
	ENSURE(!w.err, C2S_ERR_CMS);
	buf_reset(out);
	GUARD(buf_put(out, w.p, n));
	ret = C2S_OK;
out:
	free(scratch);
	return ret;
}

/* A well-formed SEQUENCE TLV of at least `total` bytes (stands in for a token). */
static uint8_t *dummy_tlv(size_t total, size_t *len)
{
	size_t c = total > 2 ? total - 2 : 0;
	while (c > 0 && c + 2 + (c >= 0x80) + (c >= 0x100) + (c >= 0x10000) > total)
		c--;
	while (c + 2 + (c >= 0x80) + (c >= 0x100) + (c >= 0x10000) < total)
		c++;
	*len = c + 2 + (c >= 0x80) + (c >= 0x100) + (c >= 0x10000);
	uint8_t *p = calloc(1, *len);
	if (p == NULL)
		return NULL;
	unsigned char *q = p + *len - c;
	if (mbedtls_asn1_write_len(&q, p, c) < 0 || mbedtls_asn1_write_tag(&q, p, 0x30) < 0 ||
	    q != p) {
		free(p);
		return NULL;
	}
	return p;
}

/* Exact size of the output for the largest inputs: every length is fixed except the
 * signature (<= sig_max) and the token (<= tst_max), and DER grows with them. */
size_t cms_max_size(const struct cms_signer *s, size_t sig_max, size_t tst_max)
{
	uint8_t zero[64] = {0}, *sig = NULL, *tst = NULL;
	struct buf attrs, out;
	size_t tst_len = 0, size = 0;

	buf_init(&attrs, CMS_OUT_MAX);
	buf_init(&out, CMS_OUT_MAX);
	if (s == NULL || sig_max == 0 || sig_max > CMS_OUT_MAX || tst_max > CMS_OUT_MAX)
		goto out;
	if (cms_signed_attrs(s, zero, cms_hash_len(s->hash), &attrs) != C2S_OK)
		goto out;
	sig = calloc(1, sig_max);
	tst = tst_max ? dummy_tlv(tst_max, &tst_len) : NULL;
	if (sig == NULL || (tst_max && tst == NULL))
		goto out;
	if (cms_signed_data(s, attrs.data, attrs.len, sig, sig_max, tst, tst_len, &out) == C2S_OK)
		size = out.len;
out:
	free(sig);
	free(tst);
	buf_free(&attrs);
	buf_free(&out);
	return size;
}
