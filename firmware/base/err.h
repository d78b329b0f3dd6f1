/* One error enum for the whole project: ranges per layer, one table of messages.
 * Library codes (CKR_*, MBEDTLS_ERR_*, SQLite, errno) are translated at the module
 * boundary into these and never reach a user. */
#ifndef C2S_ERR_H
#define C2S_ERR_H

#define C2S_MUST_CHECK __attribute__((warn_unused_result))

/* X(name, value, http_status, problem_type, message) */
#define C2S_ERRORS(X)                                                                              \
	X(C2S_OK, 0, 200, "ok", "success")                                                         \
	/* 1xx generic */                                                                          \
	X(C2S_ERR_INTERNAL, 100, 500, "internal", "internal error; see the appliance log")         \
	X(C2S_ERR_NOMEM, 101, 503, "out-of-memory", "out of memory; retry later")                  \
	X(C2S_ERR_ARG, 102, 400, "invalid-request", "invalid argument")                            \
	X(C2S_ERR_IO, 103, 500, "io", "input/output error; see the appliance log")                 \
	X(C2S_ERR_TOO_BIG, 104, 413, "too-large", "input larger than the configured limit")        \
	X(C2S_ERR_TRUNCATED, 105, 400, "invalid-request", "input is truncated")                    \
	X(C2S_ERR_TIMEOUT, 106, 504, "timeout", "operation timed out")                             \
	X(C2S_ERR_BUSY, 107, 503, "busy", "too many requests in progress; retry shortly")          \
	X(C2S_ERR_NOT_FOUND, 108, 404, "not-found", "not found")                                   \
	X(C2S_ERR_RATE_LIMIT, 109, 429, "rate-limited", "rate limit reached; retry later")         \
	/* 2xx config */                                                                           \
	X(C2S_ERR_CONFIG, 200, 500, "config", "configuration is invalid")                          \
	X(C2S_ERR_PIN_FILE, 201, 503, "pin-file", "PIN file refused (owner, mode or content)")     \
	X(C2S_ERR_MODULE_NOT_ALLOWED, 202, 503, "module-not-allowed",                              \
	  "PKCS#11 module is not on the allow-list")                                               \
	/* 3xx ipc */                                                                              \
	X(C2S_ERR_IPC, 300, 503, "keyholder-unavailable",                                          \
	  "the key-holding process is not available; retry shortly")                               \
	X(C2S_ERR_IPC_MALFORMED, 301, 500, "internal", "malformed message between processes")      \
	X(C2S_ERR_IPC_PERMIT, 302, 403, "not-permitted", "request not permitted in this state")    \
	/* 4xx hsm (token) */                                                                      \
	X(C2S_ERR_HSM, 400, 503, "token-error", "the token reported an error")                     \
	X(C2S_ERR_HSM_MODULE, 401, 503, "token-module", "PKCS#11 module could not be loaded")      \
	X(C2S_ERR_HSM_NO_TOKEN, 402, 503, "token-missing", "the configured token is not present")  \
	X(C2S_ERR_HSM_AMBIGUOUS, 403, 503, "token-ambiguous",                                      \
	  "the token or key URI matches more than one object")                                     \
	X(C2S_ERR_HSM_PIN_INCORRECT, 404, 503, "pin-incorrect",                                    \
	  "the token refused the PIN; login stopped so the retry counter is not burned")           \
	X(C2S_ERR_HSM_PIN_LOCKED, 405, 503, "pin-locked", "the token PIN is locked")               \
	X(C2S_ERR_HSM_NO_KEY, 406, 503, "key-missing", "the configured key is not in the token")   \
	X(C2S_ERR_HSM_MECHANISM, 407, 400, "mechanism",                                            \
	  "the key does not support this signature mechanism")                                     \
	X(C2S_ERR_HSM_REMOVED, 408, 503, "token-removed", "the token or card was removed")         \
	X(C2S_ERR_HSM_URI, 409, 500, "pkcs11-uri", "invalid pkcs11: URI")                          \
	X(C2S_ERR_HSM_NOT_LOGGED_IN, 410, 503, "token-not-logged-in",                              \
	  "not logged in to the token")                                                            \
	X(C2S_ERR_HSM_PIN_EXPIRED, 411, 503, "pin-expired",                                        \
	  "the token's PIN has expired; set a new one with click2sign-admin token pin-change")     \
	/* 5xx card */                                                                             \
	X(C2S_ERR_CARD, 500, 503, "card-error", "smartcard reader error")                          \
	X(C2S_ERR_CARD_ABSENT, 501, 503, "card-removed", "the card is not in its reader")          \
	/* 6xx pdf */                                                                              \
	X(C2S_ERR_PDF_NOT_PDF, 600, 422, "invalid-document", "not a PDF file")                     \
	X(C2S_ERR_PDF_DAMAGED, 601, 422, "invalid-document", "PDF is damaged beyond repair")       \
	X(C2S_ERR_PDF_ENCRYPTED, 602, 422, "invalid-document",                                     \
	  "PDF is encrypted; send it unencrypted")                                                 \
	X(C2S_ERR_PDF_CERTIFIED, 603, 422, "invalid-document",                                     \
	  "PDF is certified with no changes allowed (DocMDP P=1)")                                 \
	X(C2S_ERR_PDF_TOO_BIG, 604, 422, "invalid-document", "PDF is over the size limit")         \
	X(C2S_ERR_PDF_UNSUPPORTED, 605, 422, "invalid-document", "PDF structure not supported")    \
	/* 7xx cms / tsa / x509 */                                                                 \
	X(C2S_ERR_CMS, 700, 500, "cms", "could not build the CMS signature")                       \
	X(C2S_ERR_TSA, 701, 502, "tsa-unavailable", "the time-stamping authority did not answer")  \
	X(C2S_ERR_TSA_BAD_REPLY, 702, 502, "tsa-bad-reply",                                        \
	  "the time-stamping authority's reply was refused")                                       \
	X(C2S_ERR_X509, 703, 500, "certificate", "certificate could not be parsed")                \
	X(C2S_ERR_CERT_MISMATCH, 704, 500, "certificate-mismatch",                                 \
	  "certificate does not match the key")                                                    \
	X(C2S_ERR_CHAIN, 705, 500, "chain-broken", "certificate chain is broken")                  \
	X(C2S_ERR_REVOCATION, 706, 502, "revocation-unavailable",                                  \
	  "revocation data could not be fetched")                                                  \
	X(C2S_ERR_CMS_REFUSED, 707, 500, "cms-refused", "signed attributes refused as malformed")  \
	X(C2S_ERR_TSA_NONE, 708, 400, "invalid-request",                                           \
	  "levels B-T and B-LT need a time-stamping authority; this appliance has no [tsa] url "   \
	  "configured")                                                                            \
	X(C2S_ERR_CERT_REVOKED, 709, 503, "certificate-revoked",                                   \
	  "a certificate of the signing chain is revoked; install a new certificate")              \
	/* 8xx store */                                                                            \
	X(C2S_ERR_STORE, 800, 500, "store", "database error; see the appliance log")               \
	X(C2S_ERR_STORE_FULL, 801, 507, "storage-full", "storage is full")                         \
	/* 9xx http */                                                                             \
	X(C2S_ERR_HTTP_UNAUTHORIZED, 900, 401, "unauthorized",                                     \
	  "missing or invalid bearer token; ask security staff for an API client token")           \
	X(C2S_ERR_HTTP_METHOD, 901, 405, "method-not-allowed", "method not allowed")               \
	X(C2S_ERR_HTTP_MEDIA_TYPE, 902, 415, "unsupported-media-type", "unsupported content type") \
	X(C2S_ERR_HTTP_LEVEL, 903, 400, "invalid-request", "level must be one of B-B, B-T, B-LT")  \
	/* 10xx signature activation (keyholder: manifest, OTP, SAD, customer signing) */          \
	X(C2S_ERR_OTP_WRONG, 1000, 403, "otp-wrong",                                               \
	  "the code is wrong; check the SMS and try again")                                        \
	X(C2S_ERR_OTP_EXPIRED, 1001, 410, "otp-expired",                                           \
	  "the code has expired; request a new one")                                               \
	X(C2S_ERR_OTP_EXHAUSTED, 1002, 403, "otp-exhausted",                                       \
	  "too many wrong attempts for this code; request a new one")                              \
	X(C2S_ERR_OTP_NONE, 1003, 409, "otp-none",                                                 \
	  "no code has been sent for this order yet; request one")                                 \
	X(C2S_ERR_OTP_TOO_SOON, 1004, 429, "otp-too-soon",                                         \
	  "a code was sent moments ago; wait a little before asking for another")                  \
	X(C2S_ERR_OTP_LIMIT, 1005, 429, "otp-limit",                                               \
	  "too many codes were sent for this order in the last hour; try again later")             \
	X(C2S_ERR_SAD, 1006, 403, "not-authorised",                                                \
	  "signing is not authorised: confirm with the code sent by SMS first")                    \
	X(C2S_ERR_MANIFEST, 1007, 422, "portal-signature",                                         \
	  "the portal's signature of the order is missing or invalid")                             \
	X(C2S_ERR_MANIFEST_EXPIRED, 1008, 422, "portal-signature",                                 \
	  "the portal's signature of the order has expired; sign the order again")                 \
	X(C2S_ERR_MANIFEST_REPLAY, 1009, 422, "portal-signature",                                  \
	  "the portal's signature of the order was already used for another order")                \
	X(C2S_ERR_UPDATE_REFUSED, 1010, 422, "update-refused",                                     \
	  "the prepared revision changes more than a signature may; nothing was signed")           \
	X(C2S_ERR_DOC_USED, 1011, 409, "already-signed", "this document is already signed")        \
	X(C2S_ERR_KHSTORE, 1012, 503, "keyholder-store",                                           \
	  "the keyholder's store is unusable: customer signing is stopped, sealing continues")     \
	/* 11xx orders */                                                                          \
	X(C2S_ERR_CONFLICT, 1100, 409, "conflict",                                                 \
	  "an order with this reference exists with different content; use a new reference")       \
	X(C2S_ERR_IDENTITY, 1101, 422, "identity-mismatch",                                        \
	  "the subscriber's name on the contract does not match the portal account")               \
	X(C2S_ERR_ORDER_CLOSED, 1102, 409, "order-closed",                                         \
	  "the order is no longer open for signing")                                               \
	X(C2S_ERR_GONE, 1103, 410, "link-expired", "the signing link has expired or was cancelled")

typedef enum {
#define C2S_ERR_ENUM(name, value, http, type, msg) name = value,
	C2S_ERRORS(C2S_ERR_ENUM)
#undef C2S_ERR_ENUM
} c2s_err;

/* Human message for a code ("unknown error code N" never NULL). */
const char *c2s_err_message(c2s_err e);
/* Symbolic name, e.g. "C2S_ERR_HSM_REMOVED". */
const char *c2s_err_name(c2s_err e);
/* HTTP status a code maps to when it reaches a client. */
int c2s_err_http_status(c2s_err e);
/* Last part of the problem+json "type" URI. */
const char *c2s_err_problem_type(c2s_err e);
/* Whether the value is a known code. */
int c2s_err_known(int e);

/* Fail-closed helpers: `ret` starts as a failure value; GUARD jumps to `out`. */
#define GUARD(expr)                                                                                \
	do {                                                                                       \
		ret = (expr);                                                                      \
		if (ret != C2S_OK)                                                                 \
			goto out;                                                                  \
	} while (0)
/* Like ENSURE's failure branch, with a human reason in `why` (a char[why_cap] in scope). */
#define WHY(code, ...)                                                                             \
	do {                                                                                       \
		if (why != NULL && why_cap > 0)                                                    \
			snprintf(why, why_cap, __VA_ARGS__);                                       \
		ret = (code);                                                                      \
		goto out;                                                                          \
	} while (0)
#define ENSURE(cond, err)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			ret = (err);                                                               \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#endif
