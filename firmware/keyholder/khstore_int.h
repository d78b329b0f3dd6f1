/* The keyholder's own store, <dir>/keyholder.db: order manifests, OTP verifiers and counters,
 * document-used marks and the signature log. Private to firmware/keyholder/.
 *
 * SQLite in WAL mode with synchronous=FULL: every function that changes something has committed
 * (and fsynced the WAL) before it returns, so killing or restarting the keyholder never loses a
 * decremented counter. One connection, one mutex: channel threads may call in concurrently.
 *
 * A NULL store (the keyholder could not open it) answers every call with C2S_ERR_KHSTORE, as does
 * a store whose file was removed or replaced while open: customer signing stops, sealing goes on.
 * Times are unix seconds passed in by the caller (`now`), never read from the clock here. */
#ifndef C2S_KHSTORE_INT_H
#define C2S_KHSTORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"

#define KH_MAX_DOCS 32
#define KH_MAC_LEN  32
/* Manifests are kept this long after their order expired, then swept with their rows. */
#define KH_SWEEP_AFTER_S (7 * 86400)

struct khstore;

/* The portal-signed order manifest, already verified by the caller. Strings are NUL-terminated
 * within their arrays. */
struct kh_manifest {
	char order[65];
	char jti[129];
	char given[129], family[129], email[257], phone[33];
	uint8_t docs[KH_MAX_DOCS][32]; /* SHA-256 of each document, in signing order */
	size_t ndocs;                  /* 1..KH_MAX_DOCS */
	int64_t order_expires;
	int ended; /* read only: set by khstore_manifest_end */
};

/* Opens (creating if needed) <dir>/keyholder.db. `dir` is created with mode 0700 when missing and
 * refused when it is a symlink, not a directory, owned by another uid than geteuid(), or has any
 * group/other permission bit; `why` then says what is wrong and what to do. */
C2S_MUST_CHECK c2s_err khstore_open(const char *dir, struct khstore **out, char *why,
                                    size_t why_cap);
void khstore_close(struct khstore *ks);

/* Stores the manifest of an order. The same order with the same jti and content again is OK
 * (idempotent); a jti already used by another order is C2S_ERR_MANIFEST_REPLAY; a different
 * manifest for an order that has one is C2S_ERR_MANIFEST; an order already expired at `now` is
 * C2S_ERR_MANIFEST_EXPIRED (so a swept manifest cannot be stored again); bad fields C2S_ERR_ARG. */
C2S_MUST_CHECK c2s_err khstore_manifest_put(struct khstore *ks, const struct kh_manifest *m,
                                            int64_t now, char *why, size_t why_cap);
/* C2S_ERR_NOT_FOUND when the order has no manifest. */
C2S_MUST_CHECK c2s_err khstore_manifest_get(struct khstore *ks, const char *order,
                                            struct kh_manifest *out);
/* Marks the order ended and deletes its code; later OTP calls for it refuse. NOT_FOUND if none. */
C2S_MUST_CHECK c2s_err khstore_manifest_end(struct khstore *ks, const char *order);
/* Deletes manifests whose order expired more than KH_SWEEP_AFTER_S before `now`, with their
 * codes, issuance records and document marks (not the signature log). *n = manifests deleted. */
C2S_MUST_CHECK c2s_err khstore_sweep(struct khstore *ks, int64_t now, unsigned *n);

/* Signature log: one row per signature the keyholder made. order NULL and doc -1 for seals. */
C2S_MUST_CHECK c2s_err khstore_sig_log(struct khstore *ks, int64_t at, const char *key,
                                       const uint8_t *digest, size_t dlen, const char *caller,
                                       const char *order, int doc);
C2S_MUST_CHECK c2s_err khstore_sig_log_count(struct khstore *ks, uint64_t *n);
/* Transactions the signature log took so far (concurrent rows share one). */
uint64_t khstore_sig_commits(struct khstore *ks);
struct kh_sig_row {
	int64_t id, at;
	const char *key, *caller, *order; /* order NULL for seals */
	const uint8_t *digest;
	size_t dlen;
	int doc;
};
/* Calls cb for the last n rows, newest first. Row pointers are valid during the call only;
 * cb runs under the store's lock and must not call the store. */
typedef void (*kh_sig_cb)(void *ctx, const struct kh_sig_row *row);
C2S_MUST_CHECK c2s_err khstore_sig_log_last(struct khstore *ks, unsigned n, kh_sig_cb cb,
                                            void *ctx);

/* Marks document `doc` (0-based, < ndocs) of a live order used, committed before returning.
 * C2S_ERR_DOC_USED if it already was; C2S_ERR_NOT_FOUND for no such order, an ended order or a
 * document index out of range. */
C2S_MUST_CHECK c2s_err khstore_doc_mark_used(struct khstore *ks, const char *order, int doc,
                                             int64_t now);
C2S_MUST_CHECK c2s_err khstore_doc_used(struct khstore *ks, const char *order, int doc, int *used);

/* --- OTP rows, for otp.c (which owns the policy, the key and the MAC) --- */

struct khstore_otp_rules {
	int64_t resend_s;      /* minimum gap between two issuances */
	unsigned max_per_hour; /* issuances in any trailing hour */
	int64_t lifetime_s;    /* code validity */
	unsigned max_tries;    /* comparisons per code; also max_tries * max_per_hour comparisons
	                        * in any trailing hour */
};
/* Computes the verifier of the drawn code for issuance number `seq` of the order. */
typedef c2s_err (*khstore_mac_fn)(void *ctx, uint32_t seq, uint8_t mac[KH_MAC_LEN]);

/* In one transaction: checks that the order has a live manifest (C2S_ERR_NOT_FOUND: none, ended
 * or past order_expires), the resend gap (C2S_ERR_OTP_TOO_SOON) and the hourly count
 * (C2S_ERR_OTP_LIMIT); on those two *retry_after is the unix time from which that rule allows
 * a new code. Then stores mac_fn's verifier in place of any previous code, with
 * expires_at = now + lifetime_s and tries_left = max_tries, records the issuance, commits. */
C2S_MUST_CHECK c2s_err khstore_otp_issue(struct khstore *ks, const char *order, int64_t now,
                                         const struct khstore_otp_rules *r, khstore_mac_fn mac_fn,
                                         void *ctx, int64_t *retry_after, char *why,
                                         size_t why_cap);
/* In one transaction: C2S_ERR_NOT_FOUND (no live manifest), C2S_ERR_OTP_NONE (no code),
 * C2S_ERR_OTP_EXPIRED (now >= expires_at), C2S_ERR_OTP_EXHAUSTED (tries_left == 0),
 * C2S_ERR_OTP_LIMIT (max_tries * max_per_hour tries in the trailing hour); otherwise decrements
 * tries_left, records the try and COMMITS, then returns C2S_OK with the code's seq, its verifier
 * and the tries left, for the caller to compare. */
C2S_MUST_CHECK c2s_err khstore_otp_take_try(struct khstore *ks, const char *order, int64_t now,
                                            const struct khstore_otp_rules *r, uint32_t *seq,
                                            uint8_t mac[KH_MAC_LEN], unsigned *tries_left);
/* Deletes code `seq` of the order after it matched (single use). C2S_ERR_OTP_NONE when that code
 * is gone already (used concurrently or replaced). */
C2S_MUST_CHECK c2s_err khstore_otp_consume(struct khstore *ks, const char *order, uint32_t seq);

/* The order's current code, for tests and the admin: C2S_ERR_OTP_NONE when it has none. */
struct kh_otp_state {
	uint32_t seq;
	int64_t issued_at, expires_at;
	unsigned tries_left;
};
C2S_MUST_CHECK c2s_err khstore_otp_state(struct khstore *ks, const char *order,
                                         struct kh_otp_state *out);

/* A customer signature: the document's mark and the signature log row in ONE commit (one
 * fsync). C2S_ERR_DOC_USED when the document was marked already; nothing is written then. */
C2S_MUST_CHECK c2s_err khstore_doc_signed(struct khstore *ks, const char *order, int doc,
                                          int64_t now, const char *key, const uint8_t *digest,
                                          size_t dlen, const char *caller);

/* Audit checkpoints: records `seq` as the last head signed, committed before it returns.
 * C2S_ERR_CONFLICT when seq is not beyond the last one (*last says which). */
C2S_MUST_CHECK c2s_err khstore_checkpoint_advance(struct khstore *ks, int64_t seq, int64_t *last);

#endif
