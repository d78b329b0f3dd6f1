/* Bodies of the keyholder's IPC messages: encode and decode side by side. */
#ifndef C2S_KHMSG_H
#define C2S_KHMSG_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"
#include "ipc.h"

/* Wire values for a key's algorithms. They equal enum cms_hash / enum cms_sig (the PAdES
 * engine's) and enum hsm_hash; the keyholder asserts that at compile time, where it sees all. */
#define KHMSG_MAX_CHAIN 8
enum khmsg_hash { KHMSG_SHA256 = 1, KHMSG_SHA384 = 2, KHMSG_SHA512 = 3 };
enum khmsg_sig { KHMSG_SIG_RSA_PKCS1 = 1, KHMSG_SIG_RSA_PSS = 2, KHMSG_SIG_ECDSA = 3 };

struct khmsg_status {
	uint32_t state;   /* C2S_OK when ready to sign, else why not */
	char reason[512]; /* human reason when state != C2S_OK */
	uint8_t token_present, logged_in, removable;
	char label[33], manufacturer[33], model[17], serial[17], slot[65];
	char seal_key[512];
	uint8_t seal_key_present, seal_cert_present;
	uint8_t card_monitored, card_present, pcscd_up;
	char reader[128];
	char atr[80];
	int64_t card_since;               /* unix time of the last card/reader change */
	uint64_t signatures, sign_errors; /* counters since the keyholder started */
};

struct khmsg_keyinfo {
	uint8_t key_type; /* enum hsm_key_type */
	uint32_t bits;
	uint8_t hash;     /* enum khmsg_hash the keyholder uses with this key */
	uint8_t sig;      /* enum khmsg_sig */
	uint32_t sig_max; /* max signature bytes */
	uint8_t *cert;    /* leaf DER (malloc'd by decode) */
	size_t cert_len;
	uint8_t *chain[KHMSG_MAX_CHAIN];
	size_t chain_len[KHMSG_MAX_CHAIN];
	size_t n_chain;
};

/* --- customer signing (khmsg_sam.c) --- */
#define KHMSG_ORDER_MAX  64    /* order ids: [A-Za-z0-9_-], 1..64 */
#define KHMSG_JWS_MAX    16384 /* compact JWS */
#define KHMSG_SAD_LEN    32
#define KHMSG_UPDATE_MAX (IPC_MAX_BODY - 1024) /* the appended revision, placeholder included */

/* IPC_MANIFEST_REQ: the order, the portal's compact JWS over it, and the link lifetime the web
 * was asked for (the keyholder caps it). */
struct khmsg_manifest {
	char order[KHMSG_ORDER_MAX + 1];
	const char *jws; /* view into the message */
	size_t jws_len;
	uint32_t expires_in; /* seconds */
};

/* IPC_OTP_RESP: the outcome of a send or a verify. `result` is C2S_OK or the refusal
 * (C2S_ERR_OTP_*); the other fields say what the customer may do next. */
struct khmsg_otp {
	uint32_t result;
	uint32_t tries_left; /* verify: tries left for this code */
	int64_t expires_at;  /* send: the code's expiry; verify (OK): the SAD's expiry */
	int64_t retry_after; /* TOO_SOON, LIMIT: when a new code may be asked for */
	char phone_masked[40];
	uint8_t sad[KHMSG_SAD_LEN]; /* verify (OK): the signature activation data */
	uint32_t ndocs;             /* verify (OK): documents the SAD authorises */
};

/* IPC_SIGN_DOC_REQ: sign document `doc` under `sad`. */
struct khmsg_sign_doc {
	uint8_t sad[KHMSG_SAD_LEN];
	char order[KHMSG_ORDER_MAX + 1];
	uint32_t doc;
	const uint8_t *midstate; /* views into the message */
	size_t midstate_len;
	const uint8_t *update;
	size_t update_len;
};

/* IPC_SIGN_DOC_RESP: what the web needs to write the CMS into the placeholder. Views. */
struct khmsg_signed {
	uint8_t hash, sig; /* enum khmsg_hash, enum khmsg_sig */
	const uint8_t *attrs, *signature, *cert;
	size_t attrs_len, signature_len, cert_len;
	const uint8_t *chain[KHMSG_MAX_CHAIN];
	size_t chain_len[KHMSG_MAX_CHAIN];
	size_t n_chain;
};

/* Order ids as both ends accept them. */
int khmsg_order_ok(const char *order);
C2S_MUST_CHECK c2s_err khmsg_manifest_encode(const struct khmsg_manifest *m, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_manifest_decode(struct buf *b, struct khmsg_manifest *m);
C2S_MUST_CHECK c2s_err khmsg_otp_encode(const struct khmsg_otp *o, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_otp_decode(struct buf *b, struct khmsg_otp *o);
C2S_MUST_CHECK c2s_err khmsg_sign_doc_encode(const struct khmsg_sign_doc *d, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_sign_doc_decode(struct buf *b, struct khmsg_sign_doc *d);
C2S_MUST_CHECK c2s_err khmsg_signed_encode(const struct khmsg_signed *s, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_signed_decode(struct buf *b, struct khmsg_signed *s);

C2S_MUST_CHECK c2s_err khmsg_status_encode(const struct khmsg_status *s, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_status_decode(struct buf *b, struct khmsg_status *s);
C2S_MUST_CHECK c2s_err khmsg_keyinfo_encode(const struct khmsg_keyinfo *k, struct buf *b);
C2S_MUST_CHECK c2s_err khmsg_keyinfo_decode(struct buf *b, struct khmsg_keyinfo *k);
void khmsg_keyinfo_free(struct khmsg_keyinfo *k);

#endif
