/* The audit log: append-only, hash-chained events, and checkpoints of the chain head that the
 * keyholder signs.
 *
 * Event hash (version 1), all integers big-endian:
 *   hash = SHA-256(prev_hash[32] || "c2s-event-1" || u64 seq || u32 len || order_id ||
 *                  i64 at || u32 len || type || u32 len || data)
 * where data is the JSON text exactly as stored; the first event's prev_hash is 32 zero
 * bytes. Length prefixes make the encoding unambiguous; anyone with the rows can recompute it. */
#ifndef C2S_AUDIT_H
#define C2S_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/store/store.h"

void audit_event_hash(const uint8_t prev[32], int64_t seq, const char *order_id, int64_t at,
                      const char *type, const char *data, size_t data_len, uint8_t out[32]);

/* Appends an event at the head of the chain. Only between store_tx_begin and store_tx_commit,
 * so the event commits or rolls back with the change it records. `data`: a JSON object or NULL
 * ({}); stored compact with sorted keys. *seq (may be NULL) gets its number. */
C2S_MUST_CHECK c2s_err audit_append(struct store *s, const char *order_id, int64_t at,
                                    const char *type, const json_t *data, int64_t *seq);

/* The head of the chain: seq 0 and 32 zero bytes when there is no event yet. */
C2S_MUST_CHECK c2s_err audit_head(struct store *s, int64_t *seq, uint8_t hash[32]);

/* The bytes the keyholder signs for a checkpoint (it assembles them itself):
 * "c2s-checkpoint-1" 0x00 || u64 seq || head_hash[32] || i64 at, big-endian; 65 bytes. */
#define AUDIT_CHECKPOINT_TBS 65
void audit_checkpoint_tbs(int64_t seq, const uint8_t head_hash[32], int64_t at,
                          uint8_t out[AUDIT_CHECKPOINT_TBS]);

/* Stores a checkpoint the keyholder signed over (seq, head_hash). Refused with
 * C2S_ERR_CONFLICT when event `seq` does not exist or has another hash, or when `seq` is not
 * beyond the last checkpoint. The signature is the keyholder's and checked by the caller. */
C2S_MUST_CHECK c2s_err audit_checkpoint_add(struct store *s, int64_t seq,
                                            const uint8_t head_hash[32], int64_t at,
                                            const void *sig, size_t sig_len, const void *cert,
                                            size_t cert_len);

struct audit_report {
	int ok;           /* 1: the chain and every checkpoint hold */
	int64_t events;   /* events read */
	int64_t head_seq; /* last event */
	uint8_t head_hash[32];
	int64_t first_bad_seq; /* 0, or the first event that breaks the chain */
	int64_t checkpoints;
	int64_t last_checkpoint; /* seq of the last checkpoint, 0 when none */
	int64_t bad_checkpoint;  /* 0, or the first checkpoint that does not match the chain */
	char why[256];           /* what broke, for people */
};
/* Recomputes the whole chain from the first event and checks every checkpoint against it.
 * C2S_OK when intact; C2S_ERR_STORE with the report naming the first broken event (a changed
 * row, a missing seq, a broken link) or checkpoint (covering an event that is gone or has
 * another hash) otherwise, or when the store could not be read (report.why says which). */
C2S_MUST_CHECK c2s_err audit_verify(struct store *s, struct audit_report *r);

/* An order's evidence for a dispute (new reference in *out):
 * {"order": order_to_json without events,
 *  "documents": [{"kind", "index", "title", "filename", "sha256", "size",
 *                 ["signed_sha256", "signed_size", "signed_at"]}],
 *  "events": [{"seq", "at", "at_unix", "type", "data", "prev_hash", "hash"}],
 *  "chain": {"head_seq", "head_hash", "checkpoint": {"seq", "head_hash", "at", "signature",
 *            "cert"} or null (the first checkpoint covering the order's last event;
 *            signature and cert base64)}}. */
C2S_MUST_CHECK c2s_err audit_export(struct store *s, const char *order_id, json_t **out);

#endif
