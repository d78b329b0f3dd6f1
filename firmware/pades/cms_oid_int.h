/* Private to the cms/tsa/pades module: OID contents bytes (DER, without tag and length). */
#ifndef C2S_CMS_OID_H
#define C2S_CMS_OID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "firmware/base/err.h"

#define CMS_PKCS(...) 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, __VA_ARGS__

/* 1.2.840.113549.1.7.1 / .2 */
static const uint8_t cms_oid_data[] = {CMS_PKCS(0x01, 0x07, 0x01)};
static const uint8_t cms_oid_signed_data[] = {CMS_PKCS(0x01, 0x07, 0x02)};
/* 1.2.840.113549.1.9.3 / .4 / .5 */
static const uint8_t cms_oid_content_type[] = {CMS_PKCS(0x01, 0x09, 0x03)};
static const uint8_t cms_oid_message_digest[] = {CMS_PKCS(0x01, 0x09, 0x04)};
static const uint8_t cms_oid_signing_time[] = {CMS_PKCS(0x01, 0x09, 0x05)};
/* 1.2.840.113549.1.9.16.2.{47,12,16,14} */
static const uint8_t cms_oid_signing_cert_v2[] = {CMS_PKCS(0x01, 0x09, 0x10, 0x02, 0x2f)};
static const uint8_t cms_oid_signing_cert[] = {CMS_PKCS(0x01, 0x09, 0x10, 0x02, 0x0c)};
static const uint8_t cms_oid_commitment_type[] = {CMS_PKCS(0x01, 0x09, 0x10, 0x02, 0x10)};
static const uint8_t cms_oid_sig_tst[] = {CMS_PKCS(0x01, 0x09, 0x10, 0x02, 0x0e)};
/* 1.2.840.113549.1.9.16.1.4 id-ct-TSTInfo */
static const uint8_t cms_oid_tst_info[] = {CMS_PKCS(0x01, 0x09, 0x10, 0x01, 0x04)};
/* 1.2.840.113549.1.1.{1,8,10,11,12,13} */
static const uint8_t cms_oid_rsa[] = {CMS_PKCS(0x01, 0x01, 0x01)};
static const uint8_t cms_oid_mgf1[] = {CMS_PKCS(0x01, 0x01, 0x08)};
static const uint8_t cms_oid_rsa_pss[] = {CMS_PKCS(0x01, 0x01, 0x0a)};
static const uint8_t cms_oid_sha256_rsa[] = {CMS_PKCS(0x01, 0x01, 0x0b)};
static const uint8_t cms_oid_sha384_rsa[] = {CMS_PKCS(0x01, 0x01, 0x0c)};
static const uint8_t cms_oid_sha512_rsa[] = {CMS_PKCS(0x01, 0x01, 0x0d)};
/* 1.2.840.10045.4.3.{2,3,4} */
static const uint8_t cms_oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t cms_oid_ecdsa_sha384[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t cms_oid_ecdsa_sha512[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};

/* DER SET OF order (X.690 11.6): octet-string comparison, shorter padded with zero octets. */
static inline int cms_der_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	for (size_t i = n; i < an; i++)
		if (a[i])
			return 1;
	for (size_t i = n; i < bn; i++)
		if (b[i])
			return -1;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

struct cms_blob {
	const uint8_t *p;
	size_t n;
};

/* Certificate (DER) -> issuer Name (whole TLV) and serialNumber (INTEGER contents). */
C2S_MUST_CHECK c2s_err cms_cert_issuer_serial(const uint8_t *c, size_t n, struct cms_blob *issuer,
                                              struct cms_blob *serial);

/* A parsed ContentInfo{SignedData} with encapsulated content (e.g. a time-stamp token);
 * every field points into the input. */
struct cms_sd {
	struct cms_blob econtent_type; /* OID contents */
	struct cms_blob econtent;      /* OCTET STRING contents; p NULL when detached */
	struct cms_blob certs;         /* contents of certificates [0]; p NULL when absent */
	struct cms_blob signers;       /* contents of the signerInfos SET */
};
C2S_MUST_CHECK c2s_err cms_sd_parse(const uint8_t *ci, size_t n, struct cms_sd *sd);
/* Verifies the first SignerInfo of `sd` over its encapsulated content: signer certificate
 * found by issuerAndSerialNumber among sd->certs, with extendedKeyUsage `eku` (OID contents,
 * NULL = no check), signed attributes content-type = eContentType and message-digest =
 * digest of the eContent, signature by that certificate's key; with trust_file (PEM) also
 * the certificate's chain. C2S_ERR_TSA_BAD_REPLY/why when anything fails. */
C2S_MUST_CHECK c2s_err cms_sd_verify(const struct cms_sd *sd, const uint8_t *eku, size_t eku_len,
                                     const char *trust_file, char *why, size_t why_cap);

#define CMS_OID_EQ(p, n, oid) ((n) == sizeof(oid) && memcmp((p), (oid), sizeof(oid)) == 0)

#endif
