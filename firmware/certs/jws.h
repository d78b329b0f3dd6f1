/* Compact JWS (RFC 7515) for the keyholder: the portal's signed order manifest (typ
 * "c2s-order+jwt") and login assertions (typ "JWT"). Two algorithms only (RFC 7518):
 * ES256 (P-256, raw r||s) and RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048..4096).
 *
 * The algorithm is decided by the key, never by the token: jws_verify checks the signature with
 * each trusted key's own algorithm before it reads a byte of the header as JSON, and only then
 * requires the header to declare exactly that algorithm.
 *
 * Every refusal writes a reason into `why` naming the part that is wrong, e.g.
 * "segment 2: not base64url at offset 17" (offsets count bytes from the start of the token;
 * segments are numbered 1 header, 2 payload, 3 signature), "header: alg is none",
 * "signature: does not verify with any of the 2 keys (...)". Text taken from the token is
 * shortened and non-printable bytes are shown as '?'. */
#ifndef C2S_JWS_H
#define C2S_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "firmware/base/err.h"

/* Longest compact token accepted or produced, in bytes. */
#define JWS_MAX_LEN 16384
/* Length of a kid: lowercase hex SHA-256 of the key's SubjectPublicKeyInfo DER, plus NUL. */
#define JWS_KID_SIZE 65
/* Largest signature a callback may return (RSA-4096). */
#define JWS_SIG_MAX 512

enum jws_alg {
	JWS_ES256 = 1,
	JWS_RS256 = 2,
};

/* A trusted public key and the algorithm its type implies (EC P-256: ES256, RSA: RS256). */
struct jws_key;

/* From a PEM public key (SubjectPublicKeyInfo, or PKCS#1 RSAPublicKey) or a PEM certificate
 * (exactly one; its validity is not checked here, it only carries the key). Refused with a
 * reason (C2S_ERR_ARG): unparsable PEM, RSA below 2048 or above 4096 bits, EC curves other
 * than P-256, any other key type. */
C2S_MUST_CHECK c2s_err jws_key_from_pem(const uint8_t *pem, size_t len, struct jws_key **out,
                                        char *why, size_t why_cap);
void jws_key_free(struct jws_key *k);
/* The keys of the *.pem files in `dir` (in name order, at most max), each refused file logged
 * with its reason: the portal keys that `click2sign-admin portal-key add` writes. */
size_t jws_keys_from_dir(const char *dir, struct jws_key **keys, size_t max);
/* Lowercase hex SHA-256 of the key's SPKI DER (what `openssl pkey -pubin -outform DER |
 * sha256sum` prints). */
const char *jws_key_kid(const struct jws_key *k);
enum jws_alg jws_key_alg(const struct jws_key *k);
/* "ES256" or "RS256"; "?" for anything else. */
const char *jws_alg_name(enum jws_alg alg);

/* Verifies `compact` (len bytes, need not be NUL-terminated) against the trusted keys and
 * returns its payload object in *claims (the caller json_decref()s it; NULL on any failure).
 * Refused: over JWS_MAX_LEN (C2S_ERR_TOO_BIG); not three non-empty segments of strict base64url
 * (no padding, no whitespace, unused trailing bits zero); a signature that verifies with none
 * of the keys; a header that is not a JSON object of only "alg", "typ" and optionally "kid"
 * without duplicate keys, whose alg is exactly the verifying key's, whose typ is exactly `typ`
 * and whose kid, if present, is the verifying key's; a payload that is not a JSON object
 * without duplicate keys. All of those are C2S_ERR_MANIFEST; C2S_ERR_ARG for bad arguments. */
C2S_MUST_CHECK c2s_err jws_verify(const char *compact, size_t len,
                                  const struct jws_key *const *keys, size_t nkeys, const char *typ,
                                  json_t **claims, char *why, size_t why_cap);

/* The payload of `compact` WITHOUT verifying anything: for the web process, which compares
 * the claims with the request it came with before the keyholder verifies the signature. Never
 * a basis for trust. Same form checks and codes as jws_verify's for the payload. */
C2S_MUST_CHECK c2s_err jws_peek_claims(const char *compact, size_t len, json_t **claims, char *why,
                                       size_t why_cap);

/* What jws_claims_check expects. Times are Unix seconds; `now` is passed in, never read. */
struct jws_expect {
	const char *aud;      /* this appliance's public base URL */
	int64_t now;          /* 0 .. 253402300799 (year 9999) */
	int64_t max_lifetime; /* exp - iat must not exceed it; 1 .. 366 days */
	int64_t leeway;       /* allowed clock skew, 0 .. 1 day */
};

/* The registered claims of a verified payload:
 *   iss  a non-empty string;
 *   aud  a string equal to e->aud, or an array of strings containing it;
 *   jti  16..128 characters of [A-Za-z0-9._~-];
 *   iat  an integer time, not after now + leeway;
 *   nbf  if present, an integer time not after now + leeway;
 *   exp  an integer time after iat, exp - iat <= max_lifetime;
 *        the token is expired once now >= exp + leeway (C2S_ERR_MANIFEST_EXPIRED, the reason
 *        names exp in RFC 3339).
 * Integer times must lie in 0 .. 253402300799. Other claims are left to the caller. Any other
 * failure is C2S_ERR_MANIFEST naming the claim; C2S_ERR_ARG for a bad `e`. */
C2S_MUST_CHECK c2s_err jws_claims_check(const json_t *claims, const struct jws_expect *e, char *why,
                                        size_t why_cap);

/* Signs SHA-256(signing input). On entry *sig_len is the capacity of `sig` (JWS_SIG_MAX); the
 * callback sets it to the signature's length: 64 bytes raw r||s for ES256 (what PKCS#11
 * CKM_ECDSA returns), the modulus length for RS256 (PKCS#1 v1.5). */
typedef c2s_err (*jws_sign_cb)(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len);

/* Builds header {"alg":…,"typ":…} and the payload from `claims` (an object, serialised compact
 * with sorted keys), signs through `cb`, and returns a malloc'd NUL-terminated compact token in
 * *out (NULL on failure). C2S_ERR_TOO_BIG if the token would exceed JWS_MAX_LEN; the callback's
 * own code if it fails; C2S_ERR_ARG for bad arguments or a signature of the wrong shape. */
C2S_MUST_CHECK c2s_err jws_sign(enum jws_alg alg, const char *typ, const json_t *claims,
                                jws_sign_cb cb, void *ctx, char **out, char *why, size_t why_cap);

#endif
