/* The hash-chained audit log: append, verify, checkpoints, export. */
#include "audit.h"

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "orders_int.h"

#define AUDIT_DOMAIN "c2s-event-1"

static void audit_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void audit_feed_str(mbedtls_md_context_t *c, const char *p, size_t n)
{
	uint8_t l[4];
	audit_be(l, n, 4);
	mbedtls_md_update(c, l, 4);
	mbedtls_md_update(c, (const unsigned char *)p, n);
}

void audit_event_hash(const uint8_t prev[32], int64_t seq, const char *order_id, int64_t at,
                      const char *type, const char *data, size_t data_len, uint8_t out[32])
{
	mbedtls_md_context_t c;
	uint8_t n[8];
	int ok;
	mbedtls_md_init(&c);
	ok = mbedtls_md_setup(&c, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) == 0 &&
	     mbedtls_md_starts(&c) == 0;
	if (ok) {
		mbedtls_md_update(&c, prev, 32);
		mbedtls_md_update(&c, (const unsigned char *)AUDIT_DOMAIN, strlen(AUDIT_DOMAIN));
		audit_be(n, (uint64_t)seq, 8);
		mbedtls_md_update(&c, n, 8);
		audit_feed_str(&c, order_id, strlen(order_id));
		audit_be(n, (uint64_t)at, 8);
		mbedtls_md_update(&c, n, 8);
		audit_feed_str(&c, type, strlen(type));
		audit_feed_str(&c, data, data_len);
		ok = mbedtls_md_finish(&c, out) == 0;
	}
	if (!ok)
		memset(out, 0xff, 32); /* never equals a real hash: verification fails closed */
	mbedtls_md_free(&c);
}

/* Inside a transaction: the head (seq 0 and zeros when empty). */
static c2s_err audit_head_tx(struct store *s, int64_t *seq, uint8_t hash[32])
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	*seq = 0;
	memset(hash, 0, 32);
	GUARD(od_prep(s, "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", &st));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		ENSURE(od_col_sha(st, 1, hash), C2S_ERR_STORE);
	} else {
		GUARD(store_rc(s, rc, "events head"));
	}
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err audit_append(struct store *s, const char *order_id, int64_t at, const char *type,
                     const json_t *data, int64_t *seq)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	json_t *empty = NULL;
	char *text = NULL;
	uint8_t prev[32], hash[32];
	int64_t head = 0;
	ENSURE(order_id && type && type[0] && strlen(type) <= 64, C2S_ERR_ARG);
	ENSURE(!data || json_is_object(data), C2S_ERR_ARG);
	ENSURE(!sqlite3_get_autocommit(store_db(s)), C2S_ERR_INTERNAL); /* inside a transaction */
	if (!data)
		data = empty = json_object();
	text = data ? od_json_text(data) : NULL;
	ENSURE(text, C2S_ERR_NOMEM);
	GUARD(audit_head_tx(s, &head, prev));
	audit_event_hash(prev, head + 1, order_id, at, type, text, strlen(text), hash);
	GUARD(od_prep(s,
	              "INSERT INTO events(seq, order_id, at, type, data, prev_hash, hash) "
	              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_int64(st, 1, head + 1) |
	                   sqlite3_bind_text(st, 2, order_id, -1, SQLITE_STATIC) |
	                   sqlite3_bind_int64(st, 3, at) |
	                   sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC) |
	                   sqlite3_bind_blob(st, 6, prev, 32, SQLITE_STATIC) |
	                   sqlite3_bind_blob(st, 7, hash, 32, SQLITE_STATIC),
	               "event"));
	GUARD(od_exec(s, st, "insert event"));
	if (seq)
		*seq = head + 1;
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	free(text);
	json_decref(empty);
	return ret;
}

c2s_err audit_head(struct store *s, int64_t *seq, uint8_t hash[32])
{
	c2s_err ret = C2S_ERR_STORE;
	int tx = 0;
	GUARD(store_read_begin(s));
	tx = 1;
	GUARD(audit_head_tx(s, seq, hash));
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	return ret;
}

c2s_err audit_checkpoint_add(struct store *s, int64_t seq, const uint8_t head_hash[32], int64_t at,
                             const void *sig, size_t sig_len, const void *cert, size_t cert_len)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	uint8_t h[32];
	int tx = 0;
	ENSURE(seq >= 1 && sig && sig_len >= 1 && sig_len <= 1024 && cert && cert_len >= 1 &&
	           cert_len <= 16384,
	       C2S_ERR_ARG);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(s,
	              "SELECT (SELECT hash FROM events WHERE seq = ?1),"
	              " (SELECT coalesce(max(seq), 0) FROM checkpoints)",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_int64(st, 1, seq), "checkpoint"));
	ENSURE(sqlite3_step(st) == SQLITE_ROW, C2S_ERR_STORE);
	if (!od_col_sha(st, 0, h) || memcmp(h, head_hash, 32) != 0) {
		log_warn("checkpoint for event %lld refused: no such event or another hash",
		         (long long)seq);
		ret = C2S_ERR_CONFLICT;
		goto out;
	}
	if (sqlite3_column_int64(st, 1) >= seq) {
		log_warn("checkpoint for event %lld refused: not beyond the last (%lld)",
		         (long long)seq, (long long)sqlite3_column_int64(st, 1));
		ret = C2S_ERR_CONFLICT;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	GUARD(od_prep(s,
	              "INSERT INTO checkpoints(seq, head_hash, at, signature, cert) "
	              "VALUES (?1, ?2, ?3, ?4, ?5)",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_int64(st, 1, seq) |
	                   sqlite3_bind_blob(st, 2, head_hash, 32, SQLITE_STATIC) |
	                   sqlite3_bind_int64(st, 3, at) |
	                   sqlite3_bind_blob(st, 4, sig, (int)sig_len, SQLITE_STATIC) |
	                   sqlite3_bind_blob(st, 5, cert, (int)cert_len, SQLITE_STATIC),
	               "checkpoint"));
	GUARD(od_exec(s, st, "insert checkpoint"));
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

#define BAD(r, seq, ...)                                                                           \
	do {                                                                                       \
		(r)->first_bad_seq = (seq);                                                        \
		snprintf((r)->why, sizeof((r)->why), __VA_ARGS__);                                 \
	} while (0)

/* Walks the chain in seq order; stops at the first break. */
static c2s_err audit_walk(struct store *s, struct audit_report *r)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	uint8_t prev[32] = {0}, stored_prev[32], stored[32], want[32];
	int64_t expect = 1;
	int rc;
	GUARD(od_prep(s,
	              "SELECT seq, order_id, at, type, data, prev_hash, hash FROM events "
	              "ORDER BY seq",
	              &st));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *oid = (const char *)sqlite3_column_text(st, 1);
		const char *type = (const char *)sqlite3_column_text(st, 3);
		const char *data = (const char *)sqlite3_column_text(st, 4);
		size_t dlen = (size_t)sqlite3_column_bytes(st, 4);
		r->events++;
		if (seq != expect) {
			BAD(r, expect, "event %lld is missing (the next stored event is %lld)",
			    (long long)expect, (long long)seq);
			break;
		}
		if (!oid || !type || !data || !od_col_sha(st, 5, stored_prev) ||
		    !od_col_sha(st, 6, stored)) {
			BAD(r, seq, "event %lld has a missing or malformed column", (long long)seq);
			break;
		}
		if (memcmp(stored_prev, prev, 32) != 0) {
			BAD(r, seq, "event %lld does not link to event %lld (prev_hash differs)",
			    (long long)seq, (long long)seq - 1);
			break;
		}
		audit_event_hash(prev, seq, oid, sqlite3_column_int64(st, 2), type, data, dlen,
		                 want);
		if (memcmp(want, stored, 32) != 0) {
			BAD(r, seq, "event %lld was changed: its content does not match its hash",
			    (long long)seq);
			break;
		}
		memcpy(prev, stored, 32);
		r->head_seq = seq;
		memcpy(r->head_hash, stored, 32);
		expect++;
	}
	if (rc != SQLITE_ROW)
		GUARD(store_rc(s, rc, "events"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

static c2s_err audit_check_checkpoints(struct store *s, struct audit_report *r)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	uint8_t want[32], have[32];
	int rc;
	GUARD(od_prep(s,
	              "SELECT c.seq, c.head_hash, e.hash, length(c.signature), length(c.cert) "
	              "FROM checkpoints c LEFT JOIN events e ON e.seq = c.seq ORDER BY c.seq",
	              &st));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		r->checkpoints++;
		r->last_checkpoint = seq;
		if (r->bad_checkpoint)
			continue;
		if (!od_col_sha(st, 1, want) || sqlite3_column_int(st, 3) < 1 ||
		    sqlite3_column_int(st, 4) < 1) {
			r->bad_checkpoint = seq;
			if (!r->first_bad_seq)
				snprintf(r->why, sizeof(r->why), "checkpoint %lld is malformed",
				         (long long)seq);
		} else if (!od_col_sha(st, 2, have)) {
			r->bad_checkpoint = seq;
			if (!r->first_bad_seq)
				snprintf(r->why, sizeof(r->why),
				         "checkpoint %lld covers event %lld, which is gone",
				         (long long)seq, (long long)seq);
		} else if (memcmp(want, have, 32) != 0) {
			r->bad_checkpoint = seq;
			if (!r->first_bad_seq)
				snprintf(r->why, sizeof(r->why),
				         "checkpoint %lld does not match event %lld's hash",
				         (long long)seq, (long long)seq);
		}
	}
	GUARD(store_rc(s, rc, "checkpoints"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err audit_verify(struct store *s, struct audit_report *r)
{
	c2s_err ret = C2S_ERR_STORE;
	int tx = 0;
	memset(r, 0, sizeof(*r));
	GUARD(store_read_begin(s));
	tx = 1;
	if (audit_walk(s, r) != C2S_OK || audit_check_checkpoints(s, r) != C2S_OK) {
		snprintf(r->why, sizeof(r->why), "the audit log could not be read; see the log");
		goto out;
	}
	/* A checkpoint beyond the walked head also catches a chain cut short at its end. */
	r->ok = !r->first_bad_seq && !r->bad_checkpoint;
	ret = r->ok ? C2S_OK : C2S_ERR_STORE;
out:
	if (tx)
		store_tx_rollback(s);
	return ret;
}

static json_t *audit_b64(const void *p, size_t n)
{
	size_t olen = 0;
	json_t *j = NULL;
	unsigned char *b = malloc(4 * (n / 3 + 1) + 1);
	if (b && mbedtls_base64_encode(b, 4 * (n / 3 + 1) + 1, &olen, p, n) == 0)
		j = json_stringn((const char *)b, olen);
	free(b);
	return j;
}

static c2s_err audit_export_events(struct store *s, const char *id, json_t *events, int64_t *last)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	char at[32];
	int rc;
	GUARD(od_prep(s,
	              "SELECT seq, at, type, data, prev_hash, hash FROM events WHERE order_id = ?1 "
	              "ORDER BY seq",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), "export"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t ph[32] = {0}, h[32] = {0};
		(void)od_col_sha(st, 4, ph);
		(void)od_col_sha(st, 5, h);
		order_time_rfc3339(sqlite3_column_int64(st, 1), at, sizeof(at));
		const char *dt = (const char *)sqlite3_column_text(st, 3);
		json_t *data = NULL;
		/* evidence: an event is exported as stored or not at all */
		ENSURE(!dt || c2s_json_parse(dt, strlen(dt), 0, &data, NULL) != C2S_ERR_NOMEM,
		       C2S_ERR_NOMEM);
		json_t *e = json_pack(
		    "{sI sI ss ss so so so}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
		    "at_unix", (json_int_t)sqlite3_column_int64(st, 1), "at", at, "type",
		    (const char *)sqlite3_column_text(st, 2), "data", data ? data : json_null(),
		    "prev_hash", od_json_hex(ph, 32), "hash", od_json_hex(h, 32));
		ENSURE(e && json_array_append_new(events, e) == 0, C2S_ERR_NOMEM);
		*last = sqlite3_column_int64(st, 0);
	}
	GUARD(store_rc(s, rc, "export events"));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

static c2s_err audit_export_chain(struct store *s, int64_t last, json_t **out)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	uint8_t hh[32], ch[32];
	int64_t hs = 0;
	json_t *cp = NULL;
	char at[32];
	GUARD(audit_head_tx(s, &hs, hh));
	GUARD(od_prep(s,
	              "SELECT seq, head_hash, at, signature, cert FROM checkpoints WHERE seq >= ?1 "
	              "ORDER BY seq LIMIT 1",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_int64(st, 1, last), "export"));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && od_col_sha(st, 1, ch)) {
		order_time_rfc3339(sqlite3_column_int64(st, 2), at, sizeof(at));
		cp = json_pack(
		    "{sI so ss so so}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "head_hash",
		    od_json_hex(ch, 32), "at", at, "signature",
		    audit_b64(sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3)),
		    "cert",
		    audit_b64(sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4)));
		ENSURE(cp, C2S_ERR_NOMEM);
	} else if (rc != SQLITE_ROW) {
		GUARD(store_rc(s, rc, "export checkpoint"));
	}
	*out = json_pack("{sI so so}", "head_seq", (json_int_t)hs, "head_hash", od_json_hex(hh, 32),
	                 "checkpoint", cp ? cp : json_null());
	cp = NULL;
	ENSURE(*out, C2S_ERR_NOMEM);
	ret = C2S_OK;
out:
	json_decref(cp);
	sqlite3_finalize(st);
	return ret;
}

static json_t *audit_export_doc(const struct order_doc *d)
{
	char at[32];
	json_t *j = json_pack("{ss sI ss ss so sI}", "kind",
	                      d->kind == ORDER_DOC_DOCUMENT ? "document" : "attachment", "index",
	                      (json_int_t)d->idx, "title", d->title, "filename", d->filename,
	                      "sha256", od_json_hex(d->sha256, 32), "size", (json_int_t)d->size);
	if (j && d->is_signed) {
		order_time_rfc3339(d->signed_at, at, sizeof(at));
		if (json_object_set_new(j, "signed_sha256", od_json_hex(d->signed_sha256, 32)) ||
		    json_object_set_new(j, "signed_size", json_integer(d->signed_size)) ||
		    json_object_set_new(j, "signed_at", json_string(at))) {
			json_decref(j);
			j = NULL;
		}
	}
	return j;
}

c2s_err audit_export(struct store *s, const char *order_id, json_t **out)
{
	c2s_err ret = C2S_ERR_STORE;
	struct order_info *info = NULL;
	json_t *res = NULL, *docs = NULL, *events = NULL, *chain = NULL, *order = NULL;
	int64_t last = 0;
	int tx = 0;
	*out = NULL;
	info = calloc(1, sizeof(*info));
	docs = json_array();
	events = json_array();
	ENSURE(info && docs && events, C2S_ERR_NOMEM);
	GUARD(store_read_begin(s));
	tx = 1;
	GUARD(order_load_tx(s, order_id, info));
	for (size_t i = 0; i < info->n_documents + info->n_attachments; i++) {
		json_t *d = audit_export_doc(&info->docs[i]);
		ENSURE(d && json_array_append_new(docs, d) == 0, C2S_ERR_NOMEM);
	}
	GUARD(audit_export_events(s, order_id, events, &last));
	GUARD(audit_export_chain(s, last, &chain));
	order = order_to_json(info, NULL);
	ENSURE(order && json_object_del(order, "events") == 0, C2S_ERR_NOMEM);
	res = json_pack("{so so so so}", "order", order, "documents", docs, "events", events,
	                "chain", chain);
	order = docs = events = chain = NULL;
	ENSURE(res, C2S_ERR_NOMEM);
	*out = res;
	res = NULL;
	ret = C2S_OK;
out:
	if (tx)
		store_tx_rollback(s);
	json_decref(res);
	json_decref(order);
	json_decref(docs);
	json_decref(events);
	json_decref(chain);
	free(info);
	return ret;
}

void audit_checkpoint_tbs(int64_t seq, const uint8_t head_hash[32], int64_t at,
                          uint8_t out[AUDIT_CHECKPOINT_TBS])
{
	static const char tag[] = "c2s-checkpoint-1"; /* 16 bytes, then a 0x00 */
	memcpy(out, tag, 16);
	out[16] = 0;
	for (int i = 0; i < 8; i++)
		out[17 + i] = (uint8_t)((uint64_t)seq >> (56 - 8 * i));
	memcpy(out + 25, head_hash, 32);
	for (int i = 0; i < 8; i++)
		out[57 + i] = (uint8_t)((uint64_t)at >> (56 - 8 * i));
}
