/* Keyholder internals shared by its source files (not a public API). */
#ifndef C2S_KEYHOLDER_INT_H
#define C2S_KEYHOLDER_INT_H

#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdint.h>

#include "firmware/base/config.h"
#include "firmware/ipc/ipc.h"
#include "firmware/pades/cms.h"
#include "hsm/hsm.h"

struct kh {
	const struct config *cfg;
	pthread_mutex_t mu; /* state, reason, counters, rate limiter */
	c2s_err state;
	char reason[512];
	uint64_t signatures, sign_errors;
	/* token; replaced only under the write lock */
	pthread_rwlock_t hsm_lock;
	struct hsm *hsm;
	struct hsm_key *seal;
	enum hsm_key_type key_type;
	unsigned bits;
	enum hsm_mech mech;
	enum hsm_hash hash;
	size_t sig_max;
	uint8_t *cert; /* seal leaf, DER */
	size_t cert_len;
	uint8_t *chain[CMS_MAX_CHAIN];
	size_t chain_len[CMS_MAX_CHAIN];
	size_t n_chain;
	/* card reader (drivers/pcsc), when monitored */
	int card;
	volatile int card_event; /* set by the monitor thread, consumed by kh_tick */
	int token_absent_ticks;  /* card in its reader but the module does not see a token */
	int absent_reopens;      /* module restarts since the token went away (the backoff) */
	/* after the token refused the PIN: no login until the PIN file or the card changes */
	int pin_refused;
	struct stat pin_st;
	unsigned long pin_removals;
	/* card events, counted by the monitor callback */
	int card_prev; /* -1 until the first event */
	unsigned long card_removals;
	long long card_insert_ms;
	/* token state as last probed by the main loop; status replies never touch the token */
	struct hsm_token_info ti;
	long long last_open_ms;
	/* seal permit: token bucket */
	double rate, tokens;
	long long rate_last_ms;
	int stop; /* the parent asked for a shutdown */
	/* the Signature Activation Module (sam.c), in locked memory */
	struct kh_sam *sam;
};

struct kh_channel {
	struct kh *kh;
	int fd;
};

/* keyholder_dispatch.c: the dispatch table (rows for c2s-web and the parent) and the web's
 * handlers; serve one channel from c2s-web until EOF or a message without a row. */
extern const struct ipc_row kh_rows[];
extern const size_t kh_n_rows;
void kh_serve_channel(struct kh *k, int fd);
void kh_rate_init(struct kh *k, unsigned per_second);
/* keyholder.c: the parent's messages. */
c2s_err kh_on_channels(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_shutdown(void *ctx, int fd, struct ipc_msg *m);
/* After a token failure with a card watched: whether the card was pulled or pushed (waits up
 * to 0.8 s for pcscd to notice). */
int kh_card_moved(struct kh *k);

/* sam.c: sole control over customer signatures (manifests, codes, SADs, signer keys). */
C2S_MUST_CHECK c2s_err kh_sam_init(struct kh *k);
void kh_sam_fini(struct kh *k);
/* With the token just opened (write lock held): sweep orphan signer keys, find the issuing CA. */
C2S_MUST_CHECK c2s_err kh_sam_token_open(struct kh *k, char *why, size_t why_cap);
void kh_sam_token_close(struct kh *k);
void kh_sam_log_seal(struct kh *k, const uint8_t *digest, size_t len);
c2s_err kh_on_manifest(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_otp_send(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_otp_verify(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_sign_doc(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_order_end(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_checkpoint(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_assertion(void *ctx, int fd, struct ipc_msg *m);
c2s_err kh_on_notify_channel(void *ctx, int fd, struct ipc_msg *m);

/* keyholder_certs.c */
C2S_MUST_CHECK c2s_err kh_cert_add(struct kh *k, const uint8_t *der, size_t len, int leaf);
void kh_certs_free(struct kh *k);
int kh_cert_matches(const mbedtls_x509_crt *c, const uint8_t *spki, size_t spki_len);
int kh_cert_matches_der(const uint8_t *der, size_t len, const uint8_t *spki, size_t spki_len);

#endif
