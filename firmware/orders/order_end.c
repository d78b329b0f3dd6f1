/* An order's life after creation: documents signed one by one, then finished ("Izhod"),
 * cancelled by the portal, or expired and handed to the courier. Each change is one
 * transaction with its event and its notices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "firmware/base/log.h"
#include "orders.h"
#include "orders_int.h"
#include "outbox.h"

/* Moves an open order to `to` (ended_at = now). */
static c2s_err order_close_tx(struct store *s, struct order_info *o, enum order_status to,
                              int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(od_prep(s,
	              "UPDATE orders SET status = ?2, ended_at = ?3 "
	              "WHERE id = ?1 AND status = 'awaiting_signature'",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, order_status_name(to), -1, SQLITE_STATIC) |
	                   sqlite3_bind_int64(st, 3, now),
	               "close order"));
	GUARD(od_exec(s, st, "close order"));
	ENSURE(sqlite3_changes(store_db(s)) == 1, C2S_ERR_ORDER_CLOSED);
	o->status = to;
	o->ended_at = now;
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

static c2s_err order_doc_mark_tx(struct store *s, const char *id, int idx, const uint8_t sha[32],
                                 int64_t size, int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(od_prep(s,
	              "UPDATE documents SET status = 'signed', signed_sha256 = ?3, "
	              "signed_size = ?4, signed_at = ?5 WHERE order_id = ?1 AND kind = 'document' "
	              "AND idx = ?2 AND status = 'pending'",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
	                   sqlite3_bind_int(st, 2, idx) |
	                   sqlite3_bind_blob(st, 3, sha, 32, SQLITE_STATIC) |
	                   sqlite3_bind_int64(st, 4, size) | sqlite3_bind_int64(st, 5, now),
	               "sign document"));
	GUARD(od_exec(s, st, "sign document"));
	ENSURE(sqlite3_changes(store_db(s)) == 1, C2S_ERR_STORE);
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err order_doc_signed(struct store *s, const char *id, int idx, const uint8_t signed_sha256[32],
                         int64_t size, int64_t now)
{
	c2s_err ret = C2S_ERR_ARG;
	struct order_info *o = calloc(1, sizeof(*o));
	struct order_doc *d;
	json_t *data = NULL;
	int tx = 0;
	ENSURE(o, C2S_ERR_NOMEM);
	ENSURE(signed_sha256 && size > 0, C2S_ERR_ARG);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, id, o));
	ENSURE(idx >= 0 && (size_t)idx < o->n_documents, C2S_ERR_NOT_FOUND);
	d = &o->docs[idx]; /* documents come first, in idx order */
	if (d->is_signed) {
		/* a double click signs once; another revision for a signed document is refused */
		ENSURE(memcmp(d->signed_sha256, signed_sha256, 32) == 0 && d->signed_size == size,
		       C2S_ERR_CONFLICT);
		ret = C2S_OK;
		goto out;
	}
	ENSURE(o->status == ORDER_AWAITING_SIGNATURE, C2S_ERR_ORDER_CLOSED);
	ENSURE(now < o->expires_at, C2S_ERR_GONE);
	GUARD(order_doc_mark_tx(s, o->id, idx, signed_sha256, size, now));
	data = json_pack("{sI so so sI}", "index", (json_int_t)idx, "sha256",
	                 od_json_hex(d->sha256, 32), "signed_sha256",
	                 od_json_hex(signed_sha256, 32), "signed_size", (json_int_t)size);
	ENSURE(data, C2S_ERR_NOMEM);
	GUARD(audit_append(s, o->id, now, "document_signed", data, NULL));
	tx = 0;
	GUARD(store_tx_commit(s));
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	json_decref(data);
	free(o);
	return ret;
}

/* Inside a transaction, on a loaded open order whose documents are all signed. */
static c2s_err order_finish_tx(struct store *s, struct order_info *o, int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	json_t *mail = NULL;
	GUARD(order_close_tx(s, o, ORDER_SIGNED, now));
	GUARD(audit_append(s, o->id, now, "signed", NULL, NULL));
	mail = notice_signed_email(o);
	ENSURE(mail, C2S_ERR_NOMEM);
	GUARD(outbox_add(s, "email", o->id, mail, NULL, now));
	GUARD(order_webhook_tx(s, o, "order.signed", now));
	ret = C2S_OK;
out:
	json_decref(mail);
	return ret;
}

static int order_all_signed(const struct order_info *o)
{
	for (size_t i = 0; i < o->n_documents; i++)
		if (!o->docs[i].is_signed)
			return 0;
	return o->n_documents > 0;
}

c2s_err order_finish(struct store *s, const char *id, int64_t now)
{
	c2s_err ret = C2S_ERR_NOMEM;
	struct order_info *o = calloc(1, sizeof(*o));
	int tx = 0;
	ENSURE(o, C2S_ERR_NOMEM);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, id, o));
	if (o->status == ORDER_SIGNED) {
		ret = C2S_OK; /* "Izhod" twice: finished once */
		goto out;
	}
	ENSURE(o->status == ORDER_AWAITING_SIGNATURE && order_all_signed(o), C2S_ERR_ORDER_CLOSED);
	GUARD(order_finish_tx(s, o, now));
	tx = 0;
	GUARD(store_tx_commit(s));
	log_info("order %s signed", o->id);
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	free(o);
	return ret;
}

c2s_err order_cancel(struct store *s, const char *id, int64_t now)
{
	c2s_err ret = C2S_ERR_NOMEM;
	struct order_info *o = calloc(1, sizeof(*o));
	int tx = 0;
	ENSURE(o, C2S_ERR_NOMEM);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, id, o));
	if (o->status == ORDER_CANCELLED) {
		ret = C2S_OK;
		goto out;
	}
	ENSURE(o->status == ORDER_AWAITING_SIGNATURE, C2S_ERR_ORDER_CLOSED);
	GUARD(order_close_tx(s, o, ORDER_CANCELLED, now));
	GUARD(audit_append(s, o->id, now, "cancelled", NULL, NULL));
	GUARD(order_webhook_tx(s, o, "order.cancelled", now));
	tx = 0;
	GUARD(store_tx_commit(s));
	log_info("order %s cancelled", o->id);
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	free(o);
	return ret;
}

/* One due order, in its own transaction. *id is empty when none is due. */
static c2s_err order_expire_one(struct store *s, int64_t now, struct order_info *o)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	json_t *mail = NULL;
	char id[ORDER_ID_MAX];
	int tx = 0;
	memset(o, 0, sizeof(*o));
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(
	    s,
	    "SELECT id FROM orders WHERE status = 'awaiting_signature' AND expires_at <= ?1 "
	    "ORDER BY expires_at, id LIMIT 1",
	    &st));
	GUARD(od_bound(s, sqlite3_bind_int64(st, 1, now), "due orders"));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(store_rc(s, rc, "due orders"));
	od_col_text(st, 0, id, sizeof(id));
	GUARD(order_load_tx(s, id, o));
	if (order_all_signed(o)) {
		GUARD(order_finish_tx(s, o, now));
	} else {
		GUARD(order_close_tx(s, o, ORDER_EXPIRED, now));
		GUARD(audit_append(s, o->id, now, "expired", NULL, NULL));
		GUARD(order_webhook_tx(s, o, "order.expired", now));
		mail = notice_courier_email(o);
		ENSURE(mail, C2S_ERR_NOMEM);
		GUARD(outbox_add(s, "email", o->id, mail, NULL, now));
	}
	tx = 0;
	GUARD(store_tx_commit(s));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	json_decref(mail);
	if (ret != C2S_OK)
		o->id[0] = 0;
	return ret;
}

c2s_err order_expire_due(struct store *s, int64_t now, order_ended_cb cb, void *ctx, size_t *count)
{
	c2s_err ret = C2S_ERR_NOMEM;
	struct order_info *o = calloc(1, sizeof(*o));
	size_t n = 0;
	ENSURE(o, C2S_ERR_NOMEM);
	for (;;) {
		GUARD(order_expire_one(s, now, o));
		if (!o->id[0])
			break;
		n++;
		log_info("order %s %s at its expiry", o->id, order_status_name(o->status));
		if (cb)
			cb(ctx, o->id, o->status);
	}
	ret = C2S_OK;
out:
	if (count)
		*count = n;
	free(o);
	return ret;
}

c2s_err order_event(struct store *s, const char *id, int64_t now, const char *type,
                    const json_t *data)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(s, "SELECT 1 FROM orders WHERE id = ?1", &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), "order"));
	int rc = sqlite3_step(st);
	ENSURE(rc == SQLITE_ROW, rc == SQLITE_DONE ? C2S_ERR_NOT_FOUND : store_rc(s, rc, "order"));
	sqlite3_finalize(st);
	st = NULL;
	GUARD(audit_append(s, id, now, type, data, NULL));
	tx = 0;
	GUARD(store_tx_commit(s));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}
