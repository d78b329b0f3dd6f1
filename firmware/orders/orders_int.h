/* Private to firmware/orders/: statement helpers, hashes, and the pieces the order
 * transactions share (loading an order inside a transaction, the notices' texts). */
#ifndef C2S_ORDERS_INT_H
#define C2S_ORDERS_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/store/store.h"
#include "orders.h"

C2S_MUST_CHECK c2s_err od_sha256(const void *p, size_t n, uint8_t out[32]);
/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void od_hex(const uint8_t *p, size_t n, char *out);
/* A JSON string of the hex of n bytes (NULL when out of memory). */
json_t *od_json_hex(const uint8_t *p, size_t n);
/* Compact JSON text with sorted keys (malloc'ed; NULL when out of memory). */
char *od_json_text(const json_t *j);

C2S_MUST_CHECK c2s_err od_prep(struct store *s, const char *sql, sqlite3_stmt **st);
/* Checks the OR of sqlite3_bind_* results. */
C2S_MUST_CHECK c2s_err od_bound(struct store *s, int rc_or, const char *what);
/* Steps a statement that returns no row; a constraint failure is C2S_ERR_STORE (logged). */
C2S_MUST_CHECK c2s_err od_exec(struct store *s, sqlite3_stmt *st, const char *what);
/* Copies a text column (or "") into a bounded buffer. */
void od_col_text(sqlite3_stmt *st, int col, char *out, size_t cap);
/* Copies a 32-byte blob column; 0 when it is not exactly 32 bytes. */
int od_col_sha(sqlite3_stmt *st, int col, uint8_t out[32]);

/* Inside a transaction: the order and its documents. */
C2S_MUST_CHECK c2s_err order_load_tx(struct store *s, const char *id, struct order_info *out);
/* Inside a transaction: the order's events as [{"seq", "at", "type", "data"}]. */
C2S_MUST_CHECK c2s_err order_events_tx(struct store *s, const char *id, json_t **out);
/* Inside a transaction: the webhook {"event", "order"} queued for the order as it is now. */
C2S_MUST_CHECK c2s_err order_webhook_tx(struct store *s, const struct order_info *info,
                                        const char *event, int64_t now);

/* The notices' payloads, in the order's locale (new references; NULL when out of memory). */
json_t *notice_link_email(const struct order_info *o, const char *link);
json_t *notice_link_sms(const struct order_info *o);
json_t *notice_signed_email(const struct order_info *o);
json_t *notice_courier_email(const struct order_info *o);

#endif
