/* The durable outbox: notices an order change causes (e-mail, SMS, webhook), written in the
 * same transaction as the change and delivered by c2s-notify, retried until delivered or given
 * up. Each row has a random delivery id, stable across retries (X-Click2Sign-Delivery).
 *
 * Payloads (JSON):
 *   email   {"to", "subject", "text", "attachments": [{"filename", "sha256", "type"}]}
 *           (sha256: the blob holding the file, see blob.h)
 *   sms     {"to": "+386...", "text"}
 *   webhook {"event": "order.signed" | "order.expired" | "order.cancelled", "order": {...}}
 * A secret inside a payload (the signing link in the link e-mail) is named in the row's redact
 * column and replaced by "REDACTED" once the row is delivered or failed. */
#ifndef C2S_OUTBOX_H
#define C2S_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/store/store.h"

#define OUTBOX_DELIVERY_ID_LEN 32 /* hex of 16 random bytes */
#define OUTBOX_BATCH_MAX       256

/* Queues a notice. Only between store_tx_begin and store_tx_commit (it commits with the change
 * that causes it). channel: "email", "sms" or "webhook"; order_id may be NULL; redact: a secret
 * that occurs in the payload text, or NULL. Due at `now`. */
C2S_MUST_CHECK c2s_err outbox_add(struct store *s, const char *channel, const char *order_id,
                                  const json_t *payload, const char *redact, int64_t now);

struct outbox_item {
	int64_t id;
	char delivery_id[OUTBOX_DELIVERY_ID_LEN + 1];
	char channel[8];
	char order_id[65];   /* "" when none */
	const char *payload; /* JSON text, valid during the callback */
	int64_t attempts;
	int64_t created_at;
	int64_t next_at;
};
typedef void (*outbox_cb)(void *ctx, const struct outbox_item *it);
/* Calls cb for at most `limit` (<= OUTBOX_BATCH_MAX) pending rows with next_at <= now, oldest
 * first, after the read ended (cb may call outbox_done and friends). *count may be NULL. */
C2S_MUST_CHECK c2s_err outbox_due(struct store *s, int64_t now, size_t limit, outbox_cb cb,
                                  void *ctx, size_t *count);
/* pending -> delivered (attempts + 1). C2S_ERR_NOT_FOUND when no pending row has this id. */
C2S_MUST_CHECK c2s_err outbox_done(struct store *s, int64_t id, int64_t now);
/* A failed attempt to try again at next_at (> now); error is kept (first 500 bytes). */
C2S_MUST_CHECK c2s_err outbox_retry(struct store *s, int64_t id, int64_t now, int64_t next_at,
                                    const char *error);
/* pending -> failed: given up (attempts + 1, the error kept). */
C2S_MUST_CHECK c2s_err outbox_fail(struct store *s, int64_t id, int64_t now, const char *error);

struct outbox_backlog {
	int64_t pending;    /* rows not yet delivered nor given up */
	int64_t oldest_age; /* seconds since the oldest pending row was queued; 0 when none */
	int64_t failed;     /* rows given up */
};
C2S_MUST_CHECK c2s_err outbox_backlog(struct store *s, int64_t now, struct outbox_backlog *out);

#endif
