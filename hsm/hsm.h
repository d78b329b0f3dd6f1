/* PKCS#11 layer. The only module that knows PKCS#11 types; everything else sees these.
 * Used by the keyholder (signing) and by click2sign-admin (provisioning).
 * All functions are thread-safe on one `struct hsm` unless noted. */
#ifndef C2S_HSM_H
#define C2S_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

enum hsm_key_type { HSM_KEY_RSA = 1, HSM_KEY_EC = 2 };
enum hsm_curve { HSM_CURVE_NONE = 0, HSM_CURVE_P256, HSM_CURVE_P384, HSM_CURVE_P521 };
enum hsm_mech { HSM_MECH_RSA_PKCS1 = 1, HSM_MECH_RSA_PSS = 2, HSM_MECH_ECDSA = 3 };
enum hsm_hash { HSM_HASH_SHA256 = 1, HSM_HASH_SHA384 = 2, HSM_HASH_SHA512 = 3 };

#define HSM_MAX_SIG   1024 /* bytes: RSA-8192 or DER ECDSA P-521 */
#define HSM_MAX_ID    64
#define HSM_MAX_LABEL 128
#define HSM_MAX_PIN   256
#define HSM_WHY       256

struct hsm;

struct hsm_config {
	const char *module_path;  /* must be in `allow` */
	const char *const *allow; /* allow-list of module paths (exact, after realpath) */
	size_t n_allow;
	const char *token_uri; /* RFC 7512 pkcs11: URI selecting exactly one token */
	const char *pin;       /* user PIN or NULL (no login); copied into locked memory */
	size_t pin_len;
	const char *sig_pin; /* signature PIN for CKA_ALWAYS_AUTHENTICATE keys (the
	                        context-specific login), or NULL: the user PIN is used;
	                        copied into locked memory */
	size_t sig_pin_len;
	unsigned pool_size; /* sessions kept open; >= 1 */
	int allow_absent;   /* hsm_open succeeds while the token is absent (cards);
	                       operations fail with C2S_ERR_HSM_NO_TOKEN until it is back */
};

struct hsm_token_info {
	int present; /* token in its slot */
	int logged_in;
	/* C2S_OK, C2S_ERR_HSM_PIN_INCORRECT, C2S_ERR_HSM_PIN_LOCKED or C2S_ERR_HSM_PIN_EXPIRED */
	int pin_state;     /* the user PIN (C_Login CKU_USER) */
	int sig_pin_state; /* the PIN of context-specific logins (CKA_ALWAYS_AUTHENTICATE keys):
	                      the signature PIN, or the user PIN when there is none */
	int has_sig_pin;   /* a separate signature PIN is configured */
	unsigned long slot_id;
	char slot_description[65]; /* for cards: the reader name */
	char label[33];
	char manufacturer[33];
	char model[17];
	char serial[17];
	int removable; /* CKF_REMOVABLE_DEVICE */
};

struct hsm_key_info {
	char label[HSM_MAX_LABEL];
	uint8_t id[HSM_MAX_ID];
	size_t id_len;
	enum hsm_key_type type;
	enum hsm_curve curve; /* for EC */
	unsigned bits;        /* modulus bits or curve bits */
	int always_authenticate;
	int has_certificate; /* a CKO_CERTIFICATE with the same CKA_ID exists */
};

/* A resolved private key. Survives session and token recovery: after a token comes back
 * the layer finds it again by label/id and, if those changed, by its public key. */
struct hsm_key;

/* Parsed RFC 7512 URI (only the attributes we use; percent-decoded). */
struct hsm_uri {
	char token[33], manufacturer[33], serial[17], model[17];
	char object[HSM_MAX_LABEL];
	uint8_t id[HSM_MAX_ID];
	size_t id_len;
	int has_token, has_manufacturer, has_serial, has_model, has_object, has_id;
	enum {
		HSM_URI_TYPE_ANY = 0,
		HSM_URI_TYPE_PRIVATE,
		HSM_URI_TYPE_PUBLIC,
		HSM_URI_TYPE_CERT
	} type;
	char pin_source[256]; /* "pin-source" query attribute, if any */
};
/* Strict parser: unknown path attributes are refused, `why` names the part at fault. */
C2S_MUST_CHECK c2s_err hsm_uri_parse(const char *s, struct hsm_uri *u, char *why, size_t why_cap);

/* Load the module (allow-list checked), C_Initialize with OS locking, select the token,
 * log in (if pin), open the pool. On failure *out is NULL and `why` says what to fix.
 * A PIN the token refuses does NOT fail hsm_open (so the state can be reported without
 * retrying): hsm_token_info() then shows pin_state, and operations needing the login
 * return C2S_ERR_HSM_PIN_INCORRECT / _LOCKED / _EXPIRED.
 * The signature PIN has a state of its own (sig_pin_state): once the token refuses a
 * context-specific login, signatures with CKA_ALWAYS_AUTHENTICATE keys fail with that code
 * without another C_Login, while the user login and every other key keep working. */
C2S_MUST_CHECK c2s_err hsm_open(const struct hsm_config *cfg, struct hsm **out, char *why,
                                size_t why_cap);
void hsm_close(struct hsm *h);

/* Current token state; probes the slot (cheap). Never fails because the token is gone:
 * then present=0 and the return value is C2S_OK. */
C2S_MUST_CHECK c2s_err hsm_token_info(struct hsm *h, struct hsm_token_info *ti);
/* Tear down sessions and try to reopen + log in once now (used after a card insert). */
C2S_MUST_CHECK c2s_err hsm_recover(struct hsm *h, char *why, size_t why_cap);

/* Find a private key by pkcs11: URI (object=/id=) or plain label. Exactly one must match. */
/* Why the configured token is not found: which tokens the module does show (labels, serials),
 * for a reason people can act on. */
void hsm_absent_reason(struct hsm *h, char *why, size_t cap);
C2S_MUST_CHECK c2s_err hsm_key_find(struct hsm *h, const char *uri_or_label, struct hsm_key **out,
                                    char *why, size_t why_cap);
void hsm_key_free(struct hsm_key *k);
C2S_MUST_CHECK c2s_err hsm_key_get_info(struct hsm *h, struct hsm_key *k, struct hsm_key_info *ki);
/* SubjectPublicKeyInfo DER of the key's public half (from CKO_PUBLIC_KEY or the private
 * key's attributes). */
C2S_MUST_CHECK c2s_err hsm_key_spki(struct hsm *h, struct hsm_key *k, struct buf *spki);

/* Sign a precomputed digest. RSA PKCS#1 v1.5 wraps it in DigestInfo; PSS uses MGF1 with the
 * same hash and salt length = hash length; ECDSA output is DER SEQUENCE{r,s}.
 * Recovers once from lost sessions/login/token removal, then fails with a clear code.
 * A CKA_ALWAYS_AUTHENTICATE key logs in with CKU_CONTEXT_SPECIFIC after each C_SignInit
 * (signature PIN, else user PIN); a PIN code returned for such a key with
 * hsm_token_info().pin_state == C2S_OK is the signature PIN's (see sig_pin_state).
 * *sig_len: in, the capacity of `sig` (HSM_MAX_SIG always suffices); out, the length. */
C2S_MUST_CHECK c2s_err hsm_sign(struct hsm *h, struct hsm_key *k, enum hsm_mech m,
                                enum hsm_hash hash, const uint8_t *digest, size_t digest_len,
                                uint8_t *sig, size_t *sig_len);

struct hsm_keygen {
	enum hsm_key_type type;
	unsigned rsa_bits;    /* 2048, 3072, 4096 */
	enum hsm_curve curve; /* P-256, P-384, P-521 */
	const char *label;
	const uint8_t *id; /* NULL: derived from the public key (SHA-1 of the point/modulus) */
	size_t id_len;
	int session_only; /* CKA_TOKEN=false (per-order signer keys) */
};
/* Private key: CKA_SENSITIVE, !CKA_EXTRACTABLE, CKA_PRIVATE, CKA_SIGN only. */
C2S_MUST_CHECK c2s_err hsm_key_generate(struct hsm *h, const struct hsm_keygen *spec,
                                        struct hsm_key **out, char *why, size_t why_cap);
C2S_MUST_CHECK c2s_err hsm_key_destroy(struct hsm *h, struct hsm_key *k);

typedef void (*hsm_key_cb)(void *ctx, const struct hsm_key_info *ki);
C2S_MUST_CHECK c2s_err hsm_key_list(struct hsm *h, hsm_key_cb cb, void *ctx);

/* Store an X.509 certificate (DER) with the given id/label (CKO_CERTIFICATE, CKA_TOKEN). */
C2S_MUST_CHECK c2s_err hsm_cert_store(struct hsm *h, const uint8_t *der, size_t len,
                                      const uint8_t *id, size_t id_len, const char *label);
/* Read the certificate whose CKA_ID equals the key's; C2S_ERR_NOT_FOUND when none. */
/* The certificate object labelled `label` (a public object: no login needed), appended to
 * der; C2S_ERR_NOT_FOUND when there is none. */
C2S_MUST_CHECK c2s_err hsm_cert_by_label(struct hsm *h, const char *label, struct buf *der);
C2S_MUST_CHECK c2s_err hsm_cert_for_key(struct hsm *h, struct hsm_key *k, struct buf *der);

/* Administrative, without an open `struct hsm`: initialise the token in the slot chosen by
 * `token_uri` (or the first slot with an uninitialised token when `token_uri` has no token
 * label match), set its label and the user PIN. */
C2S_MUST_CHECK c2s_err hsm_token_init(const struct hsm_config *cfg, const char *so_pin,
                                      const char *label, const char *user_pin, char *why,
                                      size_t why_cap);
/* C_SetPIN on a logged-in `struct hsm`; on success the new PIN is kept for later logins. */
C2S_MUST_CHECK c2s_err hsm_pin_change(struct hsm *h, const char *old_pin, const char *new_pin);
/* Replace the PIN kept for logins (e.g. the PIN file was corrected) and clear a remembered
 * PIN failure, so the next hsm_recover() may log in again. Without a signature PIN this is
 * also the PIN of context-specific logins, and their remembered failure is cleared too. */
C2S_MUST_CHECK c2s_err hsm_set_pin(struct hsm *h, const char *pin, size_t pin_len);
/* The same for the signature PIN of context-specific logins: keep it (from now on it is
 * used instead of the user PIN) and clear a remembered signature-PIN failure, so the next
 * signature with a CKA_ALWAYS_AUTHENTICATE key tries once more. */
C2S_MUST_CHECK c2s_err hsm_set_sig_pin(struct hsm *h, const char *pin, size_t pin_len);

/* Helpers exposed for tests. */
/* Raw r||s (2*n bytes) to DER SEQUENCE{INTEGER r, INTEGER s}; handles leading zeros.
 * *der_len: in, capacity of `der`; out, length written. */
C2S_MUST_CHECK c2s_err hsm_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der,
                                            size_t *der_len);
size_t hsm_hash_len(enum hsm_hash h);

#endif
