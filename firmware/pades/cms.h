/* CMS SignedData (RFC 5652) for PAdES baseline (ETSI EN 319 142-1 / EN 319 122-1 CAdES),
 * written with mbedTLS asn1write, plus the minimal parsing the keyholder needs to re-check
 * what it is asked to sign. */
#ifndef C2S_CMS_H
#define C2S_CMS_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

enum cms_hash { CMS_SHA256 = 1, CMS_SHA384 = 2, CMS_SHA512 = 3 };
enum cms_sig { CMS_SIG_RSA_PKCS1 = 1, CMS_SIG_RSA_PSS = 2, CMS_SIG_ECDSA = 3 };

#define CMS_MAX_CHAIN 8

struct cms_signer {
	const uint8_t *cert; /* signer certificate, DER */
	size_t cert_len;
	const uint8_t *chain[CMS_MAX_CHAIN]; /* issuers, DER, nearest first (root optional) */
	size_t chain_len[CMS_MAX_CHAIN];
	size_t n_chain;
	enum cms_hash hash;
	enum cms_sig sig;
};

/* DER of the signed attributes as a SET (tag 0x31) = exactly the bytes to be signed:
 * content-type (id-data), message-digest (digest of the signed byte ranges) and
 * signing-certificate-v2 (ESSCertIDv2 with issuerSerial). No signing-time. */
C2S_MUST_CHECK c2s_err cms_signed_attrs(const struct cms_signer *s, const uint8_t *digest,
                                        size_t digest_len, struct buf *out);

/* ContentInfo{SignedData} detached, with the certificates, the signed attributes ([0]
 * IMPLICIT), the signature, and (if tst != NULL) the unsigned attribute
 * id-aa-signatureTimeStampToken holding the TimeStampToken (a ContentInfo, DER). */
C2S_MUST_CHECK c2s_err cms_signed_data(const struct cms_signer *s, const uint8_t *attrs,
                                       size_t attrs_len, const uint8_t *sig, size_t sig_len,
                                       const uint8_t *tst, size_t tst_len, struct buf *out);

/* Upper bound of cms_signed_data's output for a signature of at most sig_max bytes and a
 * time-stamp token of at most tst_max bytes (0 = none). */
size_t cms_max_size(const struct cms_signer *s, size_t sig_max, size_t tst_max);

/* Keyholder side: parse signed attributes (SET, DER), require exactly one content-type
 * (id-data), exactly one message-digest, at most one signing-certificate-v2, and nothing
 * else outside an allow-list; return a pointer to the message-digest value. */
C2S_MUST_CHECK c2s_err cms_attrs_check(const uint8_t *attrs, size_t len, const uint8_t **digest,
                                       size_t *digest_len);

/* The backward DER writer behind cms_signed_attrs/cms_signed_data, shared with other DER
 * writers (the keyholder's certificates) so there is one. Every call writes before w->p
 * (mbedTLS asn1write style: innermost part first) and returns the bytes it wrote; the first
 * failure (no room, a bad argument) sets err, which sticks, and later calls write nothing.
 * Check err once after the last call. Set up as {buf, buf + cap, 0}. */
struct cms_w {
	unsigned char *start;
	unsigned char *p;
	int err;
};
size_t cms_w_raw(struct cms_w *w, const void *d, size_t n);
/* Tag and length of `len` contents bytes already written. */
size_t cms_w_hdr(struct cms_w *w, size_t len, uint8_t tag);
size_t cms_w_tlv(struct cms_w *w, uint8_t tag, const void *d, size_t n);
size_t cms_w_int(struct cms_w *w, int v);
/* signatureAlgorithm AlgorithmIdentifier: sha*WithRSAEncryption (NULL parameters),
 * RSASSA-PSS with explicit parameters, or ecdsa-with-SHA* (parameters absent). */
size_t cms_w_sig_algid(struct cms_w *w, enum cms_sig sig, enum cms_hash hash);

size_t cms_hash_len(enum cms_hash h);
/* mbedtls_md on one buffer. */
C2S_MUST_CHECK c2s_err cms_hash_buf(enum cms_hash h, const uint8_t *p, size_t n, uint8_t *out);

/* Strict DER reader shared by the CMS and TSA parsers, over (p, end) cursors: one TLV at *p
 * with a single-byte tag and a definite, minimally encoded length that fits before `end`.
 * On success *p moves past it and val/len give the contents. C2S_ERR_TRUNCATED otherwise. */
C2S_MUST_CHECK c2s_err cms_der_any(const uint8_t **p, const uint8_t *end, uint8_t *tag,
                                   const uint8_t **val, size_t *len);
/* Same, and the tag must be `tag` (C2S_ERR_TRUNCATED when not). */
C2S_MUST_CHECK c2s_err cms_der_get(const uint8_t **p, const uint8_t *end, uint8_t tag,
                                   const uint8_t **val, size_t *len);
/* Contents bytes of the digest algorithm OID (NULL for an unknown value). */
const uint8_t *cms_hash_oid(enum cms_hash h, size_t *len);

#endif
