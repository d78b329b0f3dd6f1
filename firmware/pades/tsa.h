/* RFC 3161 time-stamp client over libcurl. The reply is checked (status granted, imprint
 * equal to ours, nonce equal to ours, token is SignedData with TSTInfo) before it is
 * returned. */
#ifndef C2S_TSA_H
#define C2S_TSA_H

#include <stddef.h>
#include <stdint.h>

#include "cms.h"
#include "firmware/base/buf.h"
#include "firmware/base/err.h"

struct tsa_config {
	const char *url;
	long timeout_ms;
	const char *ca_file; /* for https TSAs; NULL = system default */
	/* PEM trust anchors for the TSA's certificate; NULL = the token's signature is still
	 * verified against the certificate it carries, but that certificate's chain is not. */
	const char *trust_file;
};

#define TSA_REPLY_MAX          (64u * 1024u)
#define TSA_TIMEOUT_DEFAULT_MS 10000L

/* Build the DER TimeStampReq (certReq true, random 64-bit nonce) for an imprint. */
C2S_MUST_CHECK c2s_err tsa_build_request(enum cms_hash h, const uint8_t *imprint, size_t len,
                                         uint64_t nonce, struct buf *req);
/* Check a DER TimeStampResp against imprint and nonce; on success *token points into resp
 * (the TimeStampToken ContentInfo) with its length. */
C2S_MUST_CHECK c2s_err tsa_check_response(const uint8_t *resp, size_t resp_len, enum cms_hash h,
                                          const uint8_t *imprint, size_t len, uint64_t nonce,
                                          const uint8_t **token, size_t *token_len, char *why,
                                          size_t why_cap);
/* Request + check. `token` receives the TimeStampToken DER. */
C2S_MUST_CHECK c2s_err tsa_timestamp(const struct tsa_config *c, enum cms_hash h,
                                     const uint8_t *imprint, size_t len, struct buf *token,
                                     char *why, size_t why_cap);

/* Checks the token's own CMS signature: finds the SignerInfo, its certificate (by
 * issuerAndSerialNumber, with extendedKeyUsage timeStamping), the signed attributes
 * (content-type id-ct-TSTInfo, message-digest = digest of the TSTInfo) and verifies the
 * signature with that certificate's key; with trust_file also the certificate's chain.
 * C2S_ERR_TSA_BAD_REPLY with a `why` otherwise. */
C2S_MUST_CHECK c2s_err tsa_token_verify(const uint8_t *token, size_t token_len,
                                        const char *trust_file, char *why, size_t why_cap);
/* What the last good token from a TSA was like, so that a signature's limits (the token's room
 * in /Contents, the /DSS certificate count) and the TSA chain's revocation are known before
 * the next signature is made. Kept per URL for the life of the process (TSA_SEEN_URLS URLs). */
#define TSA_SEEN_CERTS 8
#define TSA_SEEN_URLS  4
struct tsa_seen {
	size_t token_len; /* the largest token seen from this URL */
	int too_many;     /* the last token carried more than TSA_SEEN_CERTS (n = 0 then) */
	size_t n;         /* certificates of the last token, malloc'd copies */
	uint8_t *cert[TSA_SEEN_CERTS];
	size_t len[TSA_SEEN_CERTS];
};
/* A copy of what `c->url` gave last; when nothing yet, a time-stamp over a random imprint is
 * asked for first (one TSA request, made before anything is signed). Free with
 * tsa_seen_free (also after a failure). */
C2S_MUST_CHECK c2s_err tsa_seen(const struct tsa_config *c, struct tsa_seen *out, char *why,
                                size_t why_cap);
void tsa_seen_free(struct tsa_seen *s);
/* Forget everything seen (tests). */
void tsa_seen_clear(void);

/* The certificates a token carries (pointers into token), for PAdES B-LT's /DSS. */
C2S_MUST_CHECK c2s_err tsa_token_certs(const uint8_t *token, size_t token_len,
                                       const uint8_t **certs, size_t *lens, size_t max, size_t *n);

#endif
