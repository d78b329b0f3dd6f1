/* Short-lived signer certificates (signing mode "signer"): at SMS-code verification the
 * keyholder generates the customer's key pair in the token and issues, with the appliance's
 * issuing-CA key (also in the token), an X.509 v3 certificate in the subscriber's name. It
 * is the signer certificate of the customer's PAdES signature (EN 319 142-1).
 *
 * The certificate (RFC 5280):
 *   version v3, serialNumber = the 16 random bytes of the request (positive),
 *   signature = the CA key's algorithm: ecdsa-with-SHA256/-SHA384 or sha256WithRSAEncryption,
 *   issuer = the issuing CA certificate's subject (byte for byte),
 *   validity = [not_before, not_after] (UTCTime before 2050, GeneralizedTime after),
 *   subject = C (PrintableString), givenName, surname, CN (UTF8String), serialNumber
 *             (PrintableString), one attribute per RDN in that order, each NFC-normalised,
 *   extensions: basicConstraints CA:FALSE (critical), keyUsage digitalSignature +
 *   nonRepudiation (critical), subjectKeyIdentifier = SHA-1 of the subjectPublicKey BIT
 *   STRING value (RFC 5280 4.2.1.2 method 1, the same value openssl's "hash" gives),
 *   authorityKeyIdentifier = keyIdentifier copied from the issuing CA's
 *   subjectKeyIdentifier. No extendedKeyUsage (none is needed for document signing).
 * Not included yet: certificatePolicies, qcStatements, CRL distribution points / OCSP
 * (a short-term certificate in the sense of ETSI EN 319 411-1 is not revoked). */
#ifndef C2S_ISSUE_INT_H
#define C2S_ISSUE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"
#include "firmware/pades/cms.h"
#include "hsm/hsm.h"

#define ISSUE_NAME_MAX     64    /* characters (code points, after NFC) per name attribute */
#define ISSUE_SERIAL_LEN   16    /* bytes of the certificate serial number */
#define ISSUE_BACKDATE_S   300   /* callers set not_before = now - this (clock skew) */
#define ISSUE_LIFETIME_MAX 86400 /* seconds: longer validity is refused (short-lived only) */
#define ISSUE_CERT_MAX     16384 /* bytes of DER; also bounds the issuing CA certificate */
#define ISSUE_SIG_MAX      HSM_MAX_SIG

/* The subscriber, UTF-8. Every name is refused when empty, over ISSUE_NAME_MAX characters,
 * not valid UTF-8, starting or ending with a space, or holding a control, format (e.g. bidi
 * override), private-use or unassigned character; `why` names the field. */
struct issue_subject {
	const char *given_name;    /* required */
	const char *surname;       /* required */
	const char *common_name;   /* NULL: "given_name surname" */
	const char *serial_number; /* optional (e.g. order-derived); PrintableString characters */
	const char *country;       /* optional; two capital letters ("SI") */
};

struct issue_req {
	struct issue_subject subject;
	const uint8_t *spki;        /* the subject's public key: SubjectPublicKeyInfo DER as */
	size_t spki_len;            /* hsm_key_spki returns it */
	const uint8_t *issuer_cert; /* the issuing CA certificate, DER; must be a CA (basic */
	size_t issuer_cert_len;     /* constraints) with a subjectKeyIdentifier */
	/* Unix seconds. Validity = the SAD's lifetime (e.g. 15 min): not_before = now -
	 * ISSUE_BACKDATE_S so validators whose clocks lag a little still accept the signature,
	 * not_after = the SAD's expiry. 0 < not_before < not_after <= not_before +
	 * ISSUE_LIFETIME_MAX, not_after within the issuing CA certificate's validity. */
	int64_t not_before, not_after;
	/* The CA key's algorithm (issue_hsm_setup picks it from the key): CMS_SIG_ECDSA with
	 * CMS_SHA256 or CMS_SHA384, or CMS_SIG_RSA_PKCS1 with CMS_SHA256. Must match the type
	 * of the issuing CA certificate's key. */
	enum cms_sig sig;
	enum cms_hash hash;
	/* issue_serial_draw() fills it: positive and minimal, serial[0] in 0x01..0x7f. */
	uint8_t serial[ISSUE_SERIAL_LEN];
};

/* Signs the TBSCertificate's digest (dlen bytes, of rq->hash) with the issuing CA's key.
 * *sig_len: in, the capacity of `sig` (ISSUE_SIG_MAX); out, the signature's length.
 * The signature is returned as it goes into the certificate's BIT STRING:
 *   RSA: the PKCS#1 v1.5 signature over DigestInfo(hash, digest), modulus-sized;
 *   ECDSA: DER Ecdsa-Sig-Value SEQUENCE { INTEGER r, INTEGER s }, never raw r||s (a
 *   mechanism returning r||s is converted with hsm_ecdsa_raw_to_der; hsm_sign already
 *   returns DER, so its output passes through unchanged).
 * Returns C2S_OK or the failure, which issue_cert passes on. */
typedef c2s_err (*issue_sign_cb)(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig,
                                 size_t *sig_len);

/* 16 bytes from getrandom: 0x40..0x7f first, so positive, minimal and 126 random bits. */
C2S_MUST_CHECK c2s_err issue_serial_draw(uint8_t serial[ISSUE_SERIAL_LEN]);

/* Builds the certificate, has `sign` sign it, and checks the result before handing it out:
 * it must parse (mbedtls_x509_crt_parse_der) and its signature must verify with the issuing
 * CA certificate's public key. On success *der holds the certificate (replacing what was
 * there). On failure *der is left empty and `why` says what to fix:
 *   C2S_ERR_ARG       a subject field, the validity, the serial, the algorithm or the SPKI
 *                     was refused (the field is named);
 *   C2S_ERR_X509      the issuing CA certificate does not parse, is not a CA or has no
 *                     subjectKeyIdentifier; or the result does not parse;
 *   C2S_ERR_CERT_MISMATCH  the signature does not verify with the issuing CA's key (the
 *                     CA key is not the certificate's, or the callback broke its contract);
 *   the callback's code when it fails; C2S_ERR_NOMEM, C2S_ERR_TOO_BIG. */
C2S_MUST_CHECK c2s_err issue_cert(const struct issue_req *rq, issue_sign_cb sign, void *ctx,
                                  struct buf *der, char *why, size_t why_cap);

/* The token side: the issuing CA's key in the token, signing through hsm_sign. */
struct issue_hsm {
	struct hsm *h;
	struct hsm_key *ca;
	enum hsm_mech mech;
	enum hsm_hash hash;
};
/* Picks the algorithm from the CA key as admin_csr.c does (P-256: ecdsa-with-SHA256,
 * P-384: ecdsa-with-SHA384, RSA: sha256WithRSAEncryption; other keys are refused with
 * C2S_ERR_HSM_MECHANISM), sets rq->sig and rq->hash and fills `ctx` for issue_hsm_sign. */
C2S_MUST_CHECK c2s_err issue_hsm_setup(struct issue_hsm *ctx, struct hsm *h, struct hsm_key *ca,
                                       struct issue_req *rq);
/* An issue_sign_cb over a struct issue_hsm: refuses a digest of the wrong length. */
C2S_MUST_CHECK c2s_err issue_hsm_sign(void *ctx, const uint8_t *digest, size_t dlen, uint8_t *sig,
                                      size_t *sig_len);

#endif
