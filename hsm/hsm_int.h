/* Internal to hsm/: the only place besides the hsm_*.c files that sees PKCS#11 types.
 * Not for use outside hsm/. */
#ifndef C2S_HSM_INT_H
#define C2S_HSM_INT_H

#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdint.h>

#include "hsm.h"
#include "firmware/base/log.h"

#define HSM_POOL_MAX       64
#define HSM_RECOVER_WAIT_S 30 /* how long recovery waits for in-flight operations */

/* One loaded module, shared by every `struct hsm` in the process that uses the same file
 * (C_Initialize may be called once per process). */
struct hsm_module {
	char path[4096];
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	unsigned refs;
	struct hsm_module *next;
};

struct hsm {
	struct hsm_module *mod;
	CK_FUNCTION_LIST_PTR f;
	struct hsm_uri turi;
	char *pin; /* secmem, NUL-terminated, or NULL */
	size_t pin_len;
	char *sig_pin; /* secmem: PIN of CKU_CONTEXT_SPECIFIC logins, or NULL (use pin) */
	size_t sig_pin_len;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	CK_SLOT_ID slot;
	int have_slot;
	int removable;
	unsigned pool_size;
	CK_SESSION_HANDLE sess[HSM_POOL_MAX]; /* CK_INVALID_HANDLE: open lazily */
	unsigned char busy[HSM_POOL_MAX];
	unsigned n_busy;
	uint64_t gen;   /* bumped by every recovery; sessions carry it */
	uint64_t epoch; /* bumped whenever we close a session: object handles may change */
	int recovering;
	int logged_in;
	pthread_mutex_t login_mu; /* one C_Login at a time */
	int pin_worked;           /* this PIN has logged in before (see pin_refused) */
	c2s_err pin_state;        /* C2S_OK until the token refused the PIN once */
	/* The same for context-specific logins, kept apart: a refused signature PIN stops
	 * signatures with CKA_ALWAYS_AUTHENTICATE keys, not the user login. Under login_mu. */
	int sig_pin_worked;
	c2s_err sig_pin_state;
	c2s_err state; /* outcome of the last recovery */
};

struct hsm_key {
	CK_OBJECT_HANDLE handle; /* valid while epoch == hsm->epoch */
	uint64_t epoch;
	CK_OBJECT_CLASS cls;
	struct hsm_key_info info;
	uint8_t pub[1100]; /* modulus or EC point (uncompressed, unwrapped) */
	size_t pub_len;
	uint8_t exp[16]; /* RSA public exponent */
	size_t exp_len;
};

struct hsm_sess {
	CK_SESSION_HANDLE s;
	unsigned idx;
	uint64_t gen;
	uint64_t epoch; /* h->epoch when the session was borrowed */
};

/* hsm_ckr.c */
const char *hsm_ckr_name(CK_RV rv);
int hsm_ckr_parse(const char *name, CK_RV *rv);
c2s_err hsm_rv_err(CK_RV rv);
/* Whether the error means "sessions/token lost": recover and retry once. */
int hsm_rv_recoverable(const struct hsm *h, CK_RV rv);
#define HSM_LOG_RV(fn, rv) log_warn("%s: %s (0x%lx)", fn, hsm_ckr_name(rv), (unsigned long)(rv))

/* hsm_open.c */
/* Copy a PIN into the locked buffer *dst (allocated on first use, HSM_MAX_PIN bytes). */
C2S_MUST_CHECK c2s_err hsm_pin_keep(char **dst, size_t *dst_len, const char *pin, size_t len);

/* hsm_module.c */
C2S_MUST_CHECK c2s_err hsm_module_get(const struct hsm_config *cfg, struct hsm_module **out,
                                      char *why, size_t why_cap);
void hsm_module_put(struct hsm_module *m);
/* Find exactly one initialised token matching the URI's token attributes. */
C2S_MUST_CHECK c2s_err hsm_slot_find(CK_FUNCTION_LIST_PTR f, const struct hsm_uri *u,
                                     CK_SLOT_ID *slot, CK_TOKEN_INFO *ti, char *why,
                                     size_t why_cap);
/* Space-padded PKCS#11 string to C string (trailing blanks removed). */
void hsm_pad_to_str(const unsigned char *p, size_t n, char *out, size_t cap);
void hsm_str_to_pad(const char *s, unsigned char *p, size_t n);

/* hsm_pool.c */
/* Borrow a session (blocks while all are busy or a recovery runs); opens it lazily. */
C2S_MUST_CHECK c2s_err hsm_sess_get(struct hsm *h, struct hsm_sess *s, CK_RV *rv);
void hsm_sess_put(struct hsm *h, struct hsm_sess *s, int bad);
/* Tear down and reopen unless another thread already recovered since `seen_gen`. */
C2S_MUST_CHECK c2s_err hsm_recover_from(struct hsm *h, uint64_t seen_gen, char *why,
                                        size_t why_cap);
/* C_Login(CKU_USER or CKU_CONTEXT_SPECIFIC) honouring the one-wrong-PIN rule: the user PIN
 * for CKU_USER, the signature PIN (else the user PIN) for CKU_CONTEXT_SPECIFIC, each with
 * its own remembered refusal. */
C2S_MUST_CHECK c2s_err hsm_login(struct hsm *h, CK_SESSION_HANDLE s, CK_USER_TYPE who);
/* C2S_OK, or the remembered refusal that stops a login of `who` without trying it. */
C2S_MUST_CHECK c2s_err hsm_login_state(struct hsm *h, CK_USER_TYPE who);
/* Run `op` on a pooled session; on a lost session/token recover once and retry. `op`
 * stores the PKCS#11 code of its failing call in *rv (CKR_OK if none). */
typedef c2s_err (*hsm_op_fn)(struct hsm *h, struct hsm_sess *s, void *ctx, CK_RV *rv);
C2S_MUST_CHECK c2s_err hsm_run(struct hsm *h, hsm_op_fn op, void *ctx);

/* hsm_object.c */
C2S_MUST_CHECK CK_RV hsm_attr_get(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                  CK_ATTRIBUTE_TYPE t, uint8_t *out, size_t cap, size_t *len);
/* Find up to `max` objects matching the template. */
C2S_MUST_CHECK CK_RV hsm_find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                              CK_ULONG n, CK_OBJECT_HANDLE *found, CK_ULONG max, CK_ULONG *nfound);
/* Fill k (info, public key) from a private or public key object. */
C2S_MUST_CHECK CK_RV hsm_key_load(struct hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                  struct hsm_key *k);
/* A valid handle for k in session s (re-finding it after recovery). */
C2S_MUST_CHECK c2s_err hsm_key_handle(struct hsm *h, struct hsm_sess *s, struct hsm_key *k,
                                      CK_OBJECT_HANDLE *o, CK_RV *rv);

/* hsm_der.c */
C2S_MUST_CHECK c2s_err hsm_curve_params(enum hsm_curve c, const uint8_t **der, size_t *len);
enum hsm_curve hsm_curve_from_params(const uint8_t *der, size_t len);
unsigned hsm_curve_bits(enum hsm_curve c);
/* EC_POINT attribute (DER OCTET STRING or raw) to the raw uncompressed point. */
C2S_MUST_CHECK c2s_err hsm_ec_point_unwrap(enum hsm_curve c, const uint8_t *p, size_t n,
                                           uint8_t *out, size_t cap, size_t *len);
C2S_MUST_CHECK c2s_err hsm_digest_info(enum hsm_hash hash, const uint8_t *digest, size_t len,
                                       uint8_t *out, size_t cap, size_t *out_len);
C2S_MUST_CHECK c2s_err hsm_spki_build(const struct hsm_key *k, struct buf *spki);

#endif
