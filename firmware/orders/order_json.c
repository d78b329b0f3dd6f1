/* The order as JSON for the API and the webhooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orders_int.h"
#include "firmware/base/json.h"
#include "outbox.h"

void order_time_rfc3339(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%s", "1970-01-01T00:00:00Z");
}

static int order_set_time(json_t *o, const char *key, int64_t t)
{
	char b[32];
	order_time_rfc3339(t, b, sizeof(b));
	return json_object_set_new(o, key, json_string(b));
}

static json_t *order_doc_json(const struct order_doc *d)
{
	json_t *j = json_pack("{sI ss ss so sI}", "index", (json_int_t)d->idx, "title", d->title,
	                      "filename", d->filename, "sha256", od_json_hex(d->sha256, 32), "size",
	                      (json_int_t)d->size);
	if (!j || d->kind != ORDER_DOC_DOCUMENT)
		return j;
	if (json_object_set_new(j, "status", json_string(d->is_signed ? "signed" : "pending")) ||
	    (d->is_signed &&
	     (json_object_set_new(j, "signed_sha256", od_json_hex(d->signed_sha256, 32)) ||
	      json_object_set_new(j, "signed_size", json_integer(d->signed_size)) ||
	      order_set_time(j, "signed_at", d->signed_at)))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *order_to_json(const struct order_info *info, json_t *events)
{
	json_t *o = NULL, *docs = NULL, *atts = NULL;
	int bad = 0;
	o = json_pack("{ss ss ss ss}", "id", info->id, "reference", info->reference, "status",
	              order_status_name(info->status), "locale", info->locale);
	docs = json_array();
	atts = json_array();
	if (!o || !docs || !atts)
		goto fail;
	bad |= order_set_time(o, "created_at", info->created_at);
	bad |= order_set_time(o, "expires_at", info->expires_at);
	if (info->ended_at)
		bad |= order_set_time(o, "ended_at", info->ended_at);
	for (size_t i = 0; i < info->n_documents + info->n_attachments; i++) {
		const struct order_doc *d = &info->docs[i];
		json_t *j = order_doc_json(d);
		bad |= !j || json_array_append_new(d->kind == ORDER_DOC_DOCUMENT ? docs : atts, j);
	}
	bad |= json_object_set_new(o, "documents", docs);
	docs = NULL;
	bad |= json_object_set_new(o, "attachments", atts);
	atts = NULL;
	bad |= json_object_set_new(o, "events", events ? events : json_array());
	events = NULL;
	if (bad)
		goto fail;
	return o;
fail:
	json_decref(o);
	json_decref(docs);
	json_decref(atts);
	json_decref(events);
	return NULL;
}

c2s_err order_events_tx(struct store *s, const char *id, json_t **out)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	char at[32];
	int rc;
	*out = NULL;
	ENSURE(arr, C2S_ERR_NOMEM);
	GUARD(od_prep(s, "SELECT seq, at, type, data FROM events WHERE order_id = ?1 ORDER BY seq",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), "events"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *dt = (const char *)sqlite3_column_text(st, 3);
		json_t *data = NULL;
		ENSURE(!dt || c2s_json_parse(dt, strlen(dt), 0, &data, NULL) != C2S_ERR_NOMEM,
		       C2S_ERR_NOMEM);
		order_time_rfc3339(sqlite3_column_int64(st, 1), at, sizeof(at));
		json_t *e =
		    json_pack("{sI ss ss so}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "at",
		              at, "type", (const char *)sqlite3_column_text(st, 2), "data",
		              data ? data : json_object());
		ENSURE(e && json_array_append_new(arr, e) == 0, C2S_ERR_NOMEM);
	}
	GUARD(store_rc(s, rc, "events"));
	*out = arr;
	arr = NULL;
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	json_decref(arr);
	return ret;
}

c2s_err order_json(struct store *s, const char *id, json_t **out)
{
	c2s_err ret = C2S_ERR_STORE;
	struct order_info *info = calloc(1, sizeof(*info));
	json_t *events = NULL;
	int tx = 0;
	*out = NULL;
	ENSURE(info, C2S_ERR_NOMEM);
	GUARD(store_read_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, id, info));
	GUARD(order_events_tx(s, id, &events));
	*out = order_to_json(info, events);
	events = NULL;
	ENSURE(*out, C2S_ERR_NOMEM);
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	json_decref(events);
	free(info);
	return ret;
}

c2s_err order_webhook_tx(struct store *s, const struct order_info *info, const char *event,
                         int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	json_t *events = NULL, *payload = NULL;
	GUARD(order_events_tx(s, info->id, &events));
	payload = json_pack("{ss so}", "event", event, "order", order_to_json(info, events));
	events = NULL; /* stolen by order_to_json */
	ENSURE(payload, C2S_ERR_NOMEM);
	GUARD(outbox_add(s, "webhook", info->id, payload, NULL, now));
	ret = C2S_OK;
out:
	json_decref(events);
	json_decref(payload);
	return ret;
}
