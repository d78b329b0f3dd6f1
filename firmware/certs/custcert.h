/* Customers' own certificates (API.md section 3): the validation behind registration and login
 * on the certificate listener. The TLS handshake accepts any certificate; this module decides
 * afterwards, with mbedTLS, and says exactly why a certificate is refused, so that the customer
 * reads a reason instead of a TLS alert.
 *
 * What is checked, in this order (the first failure is the reason):
 *   1. the certificates parse; an unknown critical extension anywhere in the chain refuses
 *      (RFC 5280 4.2), naming the extension's OID             -> CC_USAGE
 *   2. a path from the presented leaf through the certificates the client sent and the
 *      provisioned intermediates to a trust anchor, every signature verified, CA certificates
 *      with basicConstraints CA and keyCertSign, path lengths honoured
 *                      -> CC_UNTRUSTED (names the issuer) or CC_CHAIN_INCOMPLETE (see below)
 *   3. algorithms: RSA of 2048 bits or more (PKCS#1 v1.5 or PSS), ECDSA on P-256, P-384 or
 *      P-521, signatures with SHA-256/384/512                  -> CC_WEAK
 *   4. every certificate of the path valid at `now` (the appliance clock, not the system's)
 *                                                -> CC_EXPIRED / CC_NOT_YET_VALID
 *   5. the leaf is a person's certificate for authentication or signing: not a CA; keyUsage,
 *      when present, has digitalSignature (what the TLS handshake's signature is; a
 *      signing-only certificate, nonRepudiation alone, is refused with that reason, since
 *      GnuTLS lets it through the handshake only so that we can say so); extendedKeyUsage, when
 * present, has clientAuth, emailProtection, documentSigning (RFC 9336), Microsoft or Adobe document
 * signing, or anyExtendedKeyUsage                      -> CC_USAGE
 *   6. revocation of every certificate below the anchor: a current CRL from its issuer whose
 *      signature verifies with the issuer's key (provisioned with `crl add`, or fetched from the
 *      certificate's CRL distribution point through the `fetch` callback, only once the path is
 *      proven, so a hostile certificate cannot point the appliance at an address of its
 *      choosing)                      -> CC_REVOKED (with the date) / CC_REVOCATION_UNKNOWN
 *
 * Untrusted or incomplete: when the path stops at a certificate that is not self-signed and
 * whose issuer is neither sent nor provisioned, the issuer may be a trusted CA's intermediate
 * that the browser did not send, or a stranger. It is called incomplete when the missing
 * issuer's organisation and country are those of a trust anchor (the intermediate of a CA the
 * operator trusts, e.g. "SIGEN-CA G2" under "SI-TRUST Root", both O=Republika Slovenija, C=SI),
 * untrusted otherwise.
 *
 * Names are decoded to UTF-8 from UTF8String, PrintableString, IA5String, T61String (read as
 * ISO 8859-1, as every CA using it for Slovenian names does), BMPString and UniversalString;
 * anything undecodable shows as U+FFFD, control characters as '?'. */
#ifndef C2S_CUSTCERT_H
#define C2S_CUSTCERT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"

enum cc_reason {
	CC_OK = 0,
	CC_MISSING,            /* no certificate presented */
	CC_INVALID,            /* not a certificate mbedTLS can read */
	CC_EXPIRED,            /* a certificate of the path is past notAfter */
	CC_NOT_YET_VALID,      /* ... before notBefore */
	CC_REVOKED,            /* on its issuer's CRL */
	CC_UNTRUSTED,          /* the path ends at an issuer that is not a trust anchor */
	CC_CHAIN_INCOMPLETE,   /* an intermediate of a trusted CA was not sent */
	CC_USAGE,              /* not a certificate for authentication or signing */
	CC_WEAK,               /* key or signature algorithm below the policy */
	CC_REVOCATION_UNKNOWN, /* no current CRL could be had */
};

/* The last part of the problem type (API.md section 3), e.g. "certificate-expired". */
const char *cc_reason_type(enum cc_reason r);

/* Trust anchors, provisioned intermediates and CRLs, loaded from the operator's directories. */
struct cc_trust;

/* Loads every *.pem / *.crt / *.der certificate in `trust_dir` (self-signed ones are anchors,
 * the others intermediates) and every *.crl / *.pem CRL in `crl_dir` (either may be "" or
 * missing). Files that do not parse are skipped with a warning; `why` says what was loaded. */
C2S_MUST_CHECK c2s_err cc_trust_load(const char *trust_dir, const char *crl_dir,
                                     struct cc_trust **out, char *why, size_t why_cap);
/* From memory (tests, fuzzing): PEM or DER certificates and CRLs. */
C2S_MUST_CHECK c2s_err cc_trust_new(struct cc_trust **out);
C2S_MUST_CHECK c2s_err cc_trust_add_cert(struct cc_trust *t, const uint8_t *data, size_t len);
C2S_MUST_CHECK c2s_err cc_trust_add_crl(struct cc_trust *t, const uint8_t *data, size_t len);
void cc_trust_free(struct cc_trust *t);
size_t cc_trust_anchors(const struct cc_trust *t);
/* PEM of the anchors (for the TLS CertificateRequest's CA names); malloc'd, NULL if none. */
char *cc_trust_anchors_pem(const struct cc_trust *t);

/* Checks a CRL (PEM or DER) for `crl add`: it parses, and its signature verifies with the key of
 * one of the trust's anchors or intermediates. Gives the issuer's name (UTF-8), SHA-256 of the
 * issuer name's DER, thisUpdate, nextUpdate (0 when absent), the number of entries and the DER.
 * C2S_ERR_X509 with a reason otherwise. */
struct cc_crl_info {
	char issuer[512];
	uint8_t issuer_sha256[32];
	int64_t this_update, next_update;
	size_t entries;
	uint8_t *der; /* malloc'd */
	size_t der_len;
};
C2S_MUST_CHECK c2s_err cc_crl_check(const struct cc_trust *t, const uint8_t *data, size_t len,
                                    struct cc_crl_info *info, char *why, size_t why_cap);

/* Fetches the CRL at `url` (DER, malloc'd into *der). Called only for proven paths. */
typedef c2s_err (*cc_crl_fetch)(void *ctx, const char *url, const uint8_t *cert, size_t cert_len,
                                uint8_t **der, size_t *len, char *why, size_t why_cap);

struct cc_options {
	int64_t now;            /* Unix seconds */
	int require_revocation; /* 1: no current CRL for a certificate with a CDP refuses */
	cc_crl_fetch fetch;     /* NULL: only the provisioned CRLs */
	void *fetch_ctx;
};

struct cc_result {
	enum cc_reason reason;
	char subject[512]; /* the leaf's subject, RFC 4514 order, UTF-8 */
	char common_name[256];
	char issuer[512];     /* the leaf's issuer */
	char serial[80];      /* lowercase hex, no leading zeros */
	char fingerprint[65]; /* lowercase hex SHA-256 of the leaf's SubjectPublicKeyInfo */
	uint8_t spki_sha256[32];
	uint8_t issuer_sha256[32]; /* SHA-256 of the issuer name's DER */
	int64_t not_before, not_after;
	int64_t revoked_at; /* CC_REVOKED */
	int64_t at;         /* the date a time reason is about: notAfter, notBefore, revocation */
	char culprit[512];  /* the name the reason is about (an issuer, the expired CA, ...) */
	char detail[512];   /* English, for logs and problem+json */
};

/* Validates the chain the client presented (DER, leaf first; n may be 0). Always fills
 * `res` as far as it got; returns C2S_OK whenever a reason was decided (CC_OK included), an
 * error only for bad arguments or memory. */
C2S_MUST_CHECK c2s_err cc_verify(const struct cc_trust *t, const uint8_t *const *der,
                                 const size_t *len, size_t n, const struct cc_options *o,
                                 struct cc_result *res);

/* A certificate's subject or issuer (DER Name) as UTF-8 text, RFC 4514 order ("CN=Žiga
 * Čebašek, SERIALNUMBER=PNOSI-1, O=…, C=SI"). Always NUL-terminated; cut at cap. */
void cc_name_utf8(const uint8_t *name_der, size_t len, char *out, size_t cap);
/* snprintf may cut a UTF-8 sequence in two: drops an incomplete one at the end of s. */
void cc_utf8_trim(char *s);
/* Only the common name's value ("Žiga Čebašek"), unescaped; "" when there is none. */
void cc_name_cn_utf8(const uint8_t *name_der, size_t len, char *out, size_t cap);

#endif
