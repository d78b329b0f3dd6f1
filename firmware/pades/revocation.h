/* Revocation data for PAdES B-LT: the CRLs named by the certificates' CRL distribution
 * points, fetched over HTTP(S) with libcurl, checked to be from the right issuer, signed by its
 * key and current, and cached until their nextUpdate (at most `max_age` seconds). */
#ifndef C2S_REVOCATION_H
#define C2S_REVOCATION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

#define REV_MAX_CRLS 16
#define REV_CRL_MAX  (4u << 20) /* bytes per CRL */

struct rev_set {
	uint8_t *crl[REV_MAX_CRLS];
	size_t len[REV_MAX_CRLS];
	size_t n;
};

/* First http(s) URI of the certificate's cRLDistributionPoints (scheme in any case);
 * C2S_ERR_NOT_FOUND without the extension, C2S_ERR_REVOCATION when it names no usable http(s)
 * URI (LDAP only, or too long), C2S_ERR_X509 when it does not parse. */
C2S_MUST_CHECK c2s_err rev_cdp_url(const uint8_t *cert, size_t len, char *url, size_t cap);
/* CRLs for every certificate in certs[] that names one (roots usually do not), checked by
 * issuer name and nextUpdate only (certlogin: custcert verifies the signature itself). */
C2S_MUST_CHECK c2s_err rev_crls_for(const uint8_t *const *certs, const size_t *lens, size_t n,
                                    long timeout_ms, struct rev_set *out, char *why,
                                    size_t why_cap);
/* PAdES B-LT: the CRLs of a chain (leaf first; or a time-stamp token's unordered
 * certificates), APPENDED to `out` (initialise it to {0}; a CRL already there is not added
 * twice; on failure what was added stays, free it with rev_set_free). Strict: each CRL's
 * signature must verify with its issuer's certificate when that is in certs[] (else
 * C2S_ERR_REVOCATION, and a cached CRL that does not verify is dropped from the cache; when
 * the issuer is not in certs[], typically the root a chain leaves out, the CRL is checked by
 * name and nextUpdate only and a warning logged);
 * a certificate listed on its issuer's CRL is C2S_ERR_CERT_REVOKED with its name, serial and
 * revocation date in `why`. */
C2S_MUST_CHECK c2s_err rev_chain_crls(const uint8_t *const *certs, const size_t *lens, size_t n,
                                      long timeout_ms, struct rev_set *out, char *why,
                                      size_t why_cap);
/* Whether `cert` is on `crl` (DER): C2S_ERR_CERT_REVOKED with a `why` naming it, its serial
 * and the revocation date; C2S_OK when not listed or the CRL is another issuer's; C2S_ERR_X509
 * when either does not parse. The CRL's signature is not checked here. */
C2S_MUST_CHECK c2s_err rev_listed(const uint8_t *cert, size_t cert_len, const uint8_t *crl,
                                  size_t crl_len, char *why, size_t cap);
void rev_set_free(struct rev_set *s);
/* What a distribution point answered for `cert`, as rev_crls_for takes it: PEM becomes DER (in
 * place), which must parse as a CRL from the certificate's issuer, be signed by the key of
 * `issuer` (the issuer's certificate, DER; NULL: not checked) and not be past its nextUpdate
 * (*next_update). C2S_ERR_REVOCATION with `why` otherwise. No network: the fetched bytes'
 * parser, and a fuzz target. */
C2S_MUST_CHECK c2s_err rev_crl_accept(const uint8_t *cert, size_t cert_len, const uint8_t *issuer,
                                      size_t issuer_len, struct buf *crl, const char *url,
                                      time_t *next_update, char *why, size_t cap);
/* Forget a cached CRL (one that turned out not to be signed by its issuer). */
void rev_cache_drop(const char *url);
/* Drop the cache (tests). */
void rev_cache_clear(void);

#endif
