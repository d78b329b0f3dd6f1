/* The outbox: queued in the order transactions, settled by c2s-notify. */
#include "outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "firmware/base/log.h"
#include "orders_int.h"

#define OUTBOX_ERROR_MAX 500

static int outbox_channel_ok(const char *c)
{
	return c && (strcmp(c, "email") == 0 || strcmp(c, "sms") == 0 || strcmp(c, "webhook") == 0);
}

c2s_err outbox_add(struct store *s, const char *channel, const char *order_id,
                   const json_t *payload, const char *redact, int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	uint8_t rnd[16];
	char did[OUTBOX_DELIVERY_ID_LEN + 1];
	ENSURE(outbox_channel_ok(channel) && json_is_object(payload), C2S_ERR_ARG);
	ENSURE(!redact || redact[0], C2S_ERR_ARG);
	ENSURE(!sqlite3_get_autocommit(store_db(s)), C2S_ERR_INTERNAL); /* inside a transaction */
	ENSURE(getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd), C2S_ERR_INTERNAL);
	od_hex(rnd, sizeof(rnd), did);
	text = od_json_text(payload);
	ENSURE(text, C2S_ERR_NOMEM);
	ENSURE(!redact || strstr(text, redact), C2S_ERR_ARG);
	GUARD(od_prep(s,
	              "INSERT INTO outbox(delivery_id, channel, order_id, payload, redact, "
	              "created_at, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_text(st, 1, did, -1, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC) |
	                   (order_id ? sqlite3_bind_text(st, 3, order_id, -1, SQLITE_STATIC)
	                             : sqlite3_bind_null(st, 3)) |
	                   sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC) |
	                   (redact ? sqlite3_bind_text(st, 5, redact, -1, SQLITE_STATIC)
	                           : sqlite3_bind_null(st, 5)) |
	                   sqlite3_bind_int64(st, 6, now),
	               "outbox"));
	GUARD(od_exec(s, st, "insert outbox row"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (text) {
		explicit_bzero(text, strlen(text)); /* may hold the signing link */
		free(text);
	}
	return ret;
}

struct outbox_row {
	struct outbox_item it;
	char *payload;
};

static c2s_err outbox_collect(struct store *s, int64_t now, size_t limit, struct outbox_row *rows,
                              size_t *n)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int rc;
	*n = 0;
	GUARD(od_prep(s,
	              "SELECT id, delivery_id, channel, order_id, payload, attempts, created_at, "
	              "next_at FROM outbox WHERE status = 'pending' AND next_at <= ?1 "
	              "ORDER BY next_at, id LIMIT ?2",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_int64(st, 1, now) | sqlite3_bind_int64(st, 2, (int64_t)limit),
	               "outbox due"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < limit) {
		struct outbox_row *r = &rows[*n];
		r->it.id = sqlite3_column_int64(st, 0);
		od_col_text(st, 1, r->it.delivery_id, sizeof(r->it.delivery_id));
		od_col_text(st, 2, r->it.channel, sizeof(r->it.channel));
		od_col_text(st, 3, r->it.order_id, sizeof(r->it.order_id));
		r->payload = strdup((const char *)sqlite3_column_text(st, 4));
		ENSURE(r->payload, C2S_ERR_NOMEM);
		r->it.payload = r->payload;
		r->it.attempts = sqlite3_column_int64(st, 5);
		r->it.created_at = sqlite3_column_int64(st, 6);
		r->it.next_at = sqlite3_column_int64(st, 7);
		(*n)++;
	}
	if (rc != SQLITE_ROW)
		GUARD(store_rc(s, rc, "outbox due"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err outbox_due(struct store *s, int64_t now, size_t limit, outbox_cb cb, void *ctx,
                   size_t *count)
{
	c2s_err ret = C2S_ERR_STORE;
	struct outbox_row *rows = NULL;
	size_t n = 0;
	int tx = 0;
	if (count)
		*count = 0;
	ENSURE(cb && limit >= 1 && limit <= OUTBOX_BATCH_MAX, C2S_ERR_ARG);
	rows = calloc(limit, sizeof(*rows));
	ENSURE(rows, C2S_ERR_NOMEM);
	GUARD(store_read_begin(s));
	tx = 1;
	ret = outbox_collect(s, now, limit, rows, &n);
	store_tx_rollback(s);
	tx = 0;
	if (ret != C2S_OK)
		goto out;
	/* after the read: the callback may settle rows */
	for (size_t i = 0; i < n; i++)
		cb(ctx, &rows[i].it);
	if (count)
		*count = n;
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	for (size_t i = 0; rows && i < limit; i++) {
		if (rows[i].payload) {
			explicit_bzero(rows[i].payload, strlen(rows[i].payload));
			free(rows[i].payload);
		}
	}
	free(rows);
	return ret;
}

/* One pending row changes; the statement's ?1 is the id. */
static c2s_err outbox_settle(struct store *s, const char *sql, int64_t id, int64_t now,
                             int64_t next_at, const char *error)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	char err[OUTBOX_ERROR_MAX + 1];
	snprintf(err, sizeof(err), "%s", error ? error : "");
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(s, sql, &st));
	/* ?1 id, ?2 now, ?3 next_at, ?4 error: each statement uses a prefix of them */
	int np = sqlite3_bind_parameter_count(st);
	GUARD(od_bound(s,
	               sqlite3_bind_int64(st, 1, id) |
	                   (np >= 2 ? sqlite3_bind_int64(st, 2, now) : 0) |
	                   (np >= 3 ? sqlite3_bind_int64(st, 3, next_at) : 0) |
	                   (np >= 4 ? sqlite3_bind_text(st, 4, err, -1, SQLITE_STATIC) : 0),
	               "outbox settle"));
	GUARD(od_exec(s, st, "outbox settle"));
	ENSURE(sqlite3_changes(store_db(s)) == 1, C2S_ERR_NOT_FOUND);
	sqlite3_finalize(st);
	st = NULL;
	tx = 0;
	GUARD(store_tx_commit(s));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}

/* Settled rows lose their secret: the link is only needed until the e-mail left. */
#define OUTBOX_SCRUB                                                                               \
	"payload = CASE WHEN redact IS NULL THEN payload "                                         \
	"ELSE replace(payload, redact, 'REDACTED') END, redact = NULL"

c2s_err outbox_done(struct store *s, int64_t id, int64_t now)
{
	return outbox_settle(s,
	                     "UPDATE outbox SET status = 'delivered', delivered_at = ?2, "
	                     "attempts = attempts + 1, " OUTBOX_SCRUB
	                     " WHERE id = ?1 AND status = 'pending'",
	                     id, now, 0, NULL);
}

c2s_err outbox_retry(struct store *s, int64_t id, int64_t now, int64_t next_at, const char *error)
{
	if (next_at <= now)
		return C2S_ERR_ARG;
	return outbox_settle(s,
	                     "UPDATE outbox SET attempts = attempts + 1, "
	                     "last_error = ?4, next_at = max(?3, ?2 + 1) "
	                     "WHERE id = ?1 AND status = 'pending'",
	                     id, now, next_at, error);
}

c2s_err outbox_fail(struct store *s, int64_t id, int64_t now, const char *error)
{
	return outbox_settle(s,
	                     "UPDATE outbox SET status = 'failed', attempts = attempts + 1, "
	                     "last_error = ?4, next_at = ?3, " OUTBOX_SCRUB
	                     " WHERE id = ?1 AND status = 'pending'",
	                     id, now, now, error);
}

c2s_err outbox_backlog(struct store *s, int64_t now, struct outbox_backlog *out)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	memset(out, 0, sizeof(*out));
	GUARD(store_read_begin(s));
	tx = 1;
	GUARD(od_prep(s,
	              "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending'),"
	              " (SELECT min(created_at) FROM outbox WHERE status = 'pending'),"
	              " (SELECT count(*) FROM outbox WHERE status = 'failed')",
	              &st));
	ENSURE(sqlite3_step(st) == SQLITE_ROW, C2S_ERR_STORE);
	out->pending = sqlite3_column_int64(st, 0);
	if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
		int64_t age = now - sqlite3_column_int64(st, 1);
		out->oldest_age = age > 0 ? age : 0;
	}
	out->failed = sqlite3_column_int64(st, 2);
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}
