/* The audit chain: the documented hash encoding, 1,000 events that verify, every kind of edit
 * an attacker with the file could make (after dropping the triggers) found at the right seq,
 * deletions, checkpoints, and an order's exported evidence. */
#include <mbedtls/md.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "orders_test_common.h"

/* The encoding in audit.h, assembled by hand. */
static void event_hash_matches_the_documented_encoding(void **state)
{
	(void)state;
	uint8_t prev[32], got[32], want[32], buf[256];
	size_t n = 0;
	memset(prev, 0xab, 32);
	const char *oid = "o123", *type = "created", *data = "{\"a\":1}";
	memcpy(buf + n, prev, 32);
	n += 32;
	memcpy(buf + n, "c2s-event-1", 11);
	n += 11;
	const uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0x01, 0x02};      /* 258 */
	const uint8_t at[8] = {0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00}; /* 1700000000 */
	memcpy(buf + n, seq, 8);
	n += 8;
	memcpy(buf + n, (const uint8_t[]){0, 0, 0, 4}, 4);
	n += 4;
	memcpy(buf + n, oid, 4);
	n += 4;
	memcpy(buf + n, at, 8);
	n += 8;
	memcpy(buf + n, (const uint8_t[]){0, 0, 0, 7}, 4);
	n += 4;
	memcpy(buf + n, type, 7);
	n += 7;
	memcpy(buf + n, (const uint8_t[]){0, 0, 0, 7}, 4);
	n += 4;
	memcpy(buf + n, data, 7);
	n += 7;
	assert_int_equal(mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), buf, n, want), 0);
	audit_event_hash(prev, 258, oid, T0, type, data, strlen(data), got);
	assert_memory_equal(got, want, 32);
	/* each field counts */
	audit_event_hash(prev, 259, oid, T0, type, data, strlen(data), got);
	assert_memory_not_equal(got, want, 32);
	audit_event_hash(prev, 258, oid, T0 + 1, type, data, strlen(data), got);
	assert_memory_not_equal(got, want, 32);
	/* the length prefixes keep ("o1", "23created") apart from ("o123", "created") */
	audit_event_hash(prev, 258, "o1", T0, "23created", data, strlen(data), got);
	assert_memory_not_equal(got, want, 32);
}

/* n events appended in one transaction, each for order "o-<i % 7>". */
static void append_events(struct fx *f, int n, int64_t at)
{
	char oid[32];
	assert_int_equal(store_tx_begin(f->s), C2S_OK);
	for (int i = 0; i < n; i++) {
		json_t *d = json_pack("{si ss}", "i", i, "note", "šumnik ž");
		snprintf(oid, sizeof(oid), "o-%d", i % 7);
		assert_int_equal(audit_append(f->s, oid, at + i, "test", d, NULL), C2S_OK);
		json_decref(d);
	}
	assert_int_equal(store_tx_commit(f->s), C2S_OK);
}

static void thousand_events_verify(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	int64_t seq;
	uint8_t head[32], zero[32] = {0};
	assert_int_equal(audit_head(f->s, &seq, head), C2S_OK);
	assert_int_equal(seq, 0);
	assert_memory_equal(head, zero, 32);
	assert_int_equal(audit_verify(f->s, &r), C2S_OK); /* an empty chain is intact */
	assert_int_equal(r.events, 0);
	ot_create(f, "chain-1", T0);
	append_events(f, 999, T0 + 1);
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
	assert_true(r.ok);
	assert_int_equal(r.events, 1000);
	assert_int_equal(r.head_seq, 1000);
	assert_int_equal(r.first_bad_seq, 0);
	assert_int_equal(audit_head(f->s, &seq, head), C2S_OK);
	assert_int_equal(seq, 1000);
	assert_memory_equal(head, r.head_hash, 32);
	/* outside a transaction an append is refused: an event never commits without its change */
	assert_int_equal(audit_append(f->s, "o", T0, "test", NULL, NULL), C2S_ERR_INTERNAL);
	assert_int_equal(ot_int(f, "SELECT count(*) FROM events"), 1000);
}

struct tamper {
	const char *name;
	const char *sql; /* followed by the seq */
	int64_t bad;     /* offset of the seq reported from the tampered one */
	const char *why;
};

/* Every column of one event edited in turn (the row restored after each), found at its seq. */
static void any_edit_is_found_at_its_seq(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	char sql[400];
	static const struct tamper cases[] = {
	    {"at", "UPDATE events SET at = at + 1 WHERE seq = ", 0, "was changed"},
	    {"type", "UPDATE events SET type = 'texx' WHERE seq = ", 0, "was changed"},
	    {"order", "UPDATE events SET order_id = 'o-x' WHERE seq = ", 0, "was changed"},
	    {"data", "UPDATE events SET data = '{\"i\":1}' WHERE seq = ", 0, "was changed"},
	    {"hash", "UPDATE events SET hash = zeroblob(32) WHERE seq = ", 0, "was changed"},
	    {"prev", "UPDATE events SET prev_hash = zeroblob(32) WHERE seq = ", 0, "does not link"},
	    {"seq", "UPDATE events SET seq = 100000 WHERE seq = ", 0, "is missing"},
	};
	append_events(f, 1000, T0);
	ot_exec(f, "DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete;"
	           "CREATE TEMP TABLE saved AS SELECT * FROM events WHERE 0;");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int seq = 2 + (int)(i * 137) % 997; /* a different event each time */
		snprintf(
		    sql, sizeof(sql),
		    "DELETE FROM saved; INSERT INTO saved SELECT * FROM events WHERE seq = %d;",
		    seq);
		ot_exec(f, sql);
		snprintf(sql, sizeof(sql), "%s%d", cases[i].sql, seq);
		ot_exec(f, sql);
		assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
		assert_false(r.ok);
		if (r.first_bad_seq != seq + cases[i].bad || !strstr(r.why, cases[i].why))
			fail_msg("%s at %d: reported %lld (%s)", cases[i].name, seq,
			         (long long)r.first_bad_seq, r.why);
		assert_int_equal(r.head_seq, seq - 1); /* verified up to the break */
		/* restore */
		snprintf(sql, sizeof(sql),
		         "UPDATE events SET seq = %d WHERE seq = 100000;"
		         "UPDATE events SET (order_id, at, type, data, prev_hash, hash) = (SELECT "
		         "order_id, at, type, data, prev_hash, hash FROM saved) WHERE seq = %d;",
		         seq, seq);
		ot_exec(f, sql);
		assert_int_equal(audit_verify(f->s, &r), C2S_OK);
	}
}

/* An attacker who edits an event and recomputes its hash moves the break to the next event;
 * one who rewrites the whole tail is caught by the signed checkpoint. */
static void rehashing_is_caught_by_the_next_event_or_a_checkpoint(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	uint8_t prev[32], h[32];
	int64_t seq;
	append_events(f, 20, T0);
	assert_int_equal(audit_head(f->s, &seq, h), C2S_OK);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0 + 100, "sig", 3, "cert", 4), C2S_OK);
	ot_exec(f, "DROP TRIGGER events_append_only_update;");
	/* rewrite event 10 with a correct hash of its new content */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(store_db(f->s),
	                                    "SELECT prev_hash FROM events WHERE seq = 10", -1, &st,
	                                    NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	memcpy(prev, sqlite3_column_blob(st, 0), 32);
	sqlite3_finalize(st);
	const char *forged = "{\"i\":9,\"note\":\"forged\"}";
	audit_event_hash(prev, 10, "o-2", T0 + 9, "test", forged, strlen(forged), h);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->s),
	                                    "UPDATE events SET data = ?1, hash = ?2 WHERE seq = 10",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, forged, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
	assert_int_equal(r.first_bad_seq, 11);
	assert_non_null(strstr(r.why, "does not link"));
	/* now rehash the whole tail from 11: the chain itself holds again ... */
	for (int s = 11; s <= 20; s++) {
		char *data = NULL, *oid = NULL, *type = NULL;
		int64_t at;
		assert_int_equal(sqlite3_prepare_v2(store_db(f->s),
		                                    "SELECT order_id, at, type, data FROM events "
		                                    "WHERE seq = ?1",
		                                    -1, &st, NULL),
		                 SQLITE_OK);
		sqlite3_bind_int(st, 1, s);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		oid = strdup((const char *)sqlite3_column_text(st, 0));
		at = sqlite3_column_int64(st, 1);
		type = strdup((const char *)sqlite3_column_text(st, 2));
		data = strdup((const char *)sqlite3_column_text(st, 3));
		sqlite3_finalize(st);
		memcpy(prev, h, 32);
		audit_event_hash(prev, s, oid, at, type, data, strlen(data), h);
		assert_int_equal(sqlite3_prepare_v2(store_db(f->s),
		                                    "UPDATE events SET prev_hash = ?1, hash = ?2 "
		                                    "WHERE seq = ?3",
		                                    -1, &st, NULL),
		                 SQLITE_OK);
		sqlite3_bind_blob(st, 1, prev, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, h, 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, s);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
		free(oid);
		free(type);
		free(data);
	}
	/* ... but not against the checkpoint the keyholder signed */
	assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
	assert_int_equal(r.first_bad_seq, 0);
	assert_int_equal(r.bad_checkpoint, 20);
	assert_non_null(strstr(r.why, "does not match"));
}

static void deleted_events_are_found(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	uint8_t h[32];
	int64_t seq;
	append_events(f, 50, T0);
	ot_exec(f, "DROP TRIGGER events_append_only_delete;");
	ot_exec(f, "DELETE FROM events WHERE seq = 17");
	assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
	assert_int_equal(r.first_bad_seq, 17);
	assert_non_null(strstr(r.why, "missing"));

	/* the head cut off: only a checkpoint can tell */
	ot_teardown(state);
	assert_int_equal(ot_setup(state), 0);
	f = *state;
	append_events(f, 50, T0);
	assert_int_equal(audit_head(f->s, &seq, h), C2S_OK);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0 + 100, "sig", 3, "cert", 4), C2S_OK);
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
	assert_int_equal(r.checkpoints, 1);
	assert_int_equal(r.last_checkpoint, 50);
	ot_exec(f, "DROP TRIGGER events_append_only_delete;");
	ot_exec(f, "DELETE FROM events WHERE seq >= 49");
	assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
	assert_int_equal(r.first_bad_seq, 0); /* the chain that is left is whole */
	assert_int_equal(r.bad_checkpoint, 50);
	assert_non_null(strstr(r.why, "gone"));
}

static void checkpoints_must_match_and_advance(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	uint8_t h[32], bad[32];
	int64_t seq;
	append_events(f, 10, T0);
	assert_int_equal(audit_head(f->s, &seq, h), C2S_OK);
	memcpy(bad, h, 32);
	bad[0] ^= 1;
	assert_int_equal(audit_checkpoint_add(f->s, seq, bad, T0, "s", 1, "c", 1),
	                 C2S_ERR_CONFLICT);
	assert_int_equal(audit_checkpoint_add(f->s, seq + 1, h, T0, "s", 1, "c", 1),
	                 C2S_ERR_CONFLICT); /* no such event */
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0, "s", 0, "c", 1), C2S_ERR_ARG);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0, "s", 1, "c", 1), C2S_OK);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0, "s", 1, "c", 1), C2S_ERR_CONFLICT);
	append_events(f, 5, T0 + 20);
	assert_int_equal(audit_head(f->s, &seq, h), C2S_OK);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0 + 30, "s", 1, "c", 1), C2S_OK);
	assert_int_equal(ot_int(f, "SELECT count(*) FROM checkpoints"), 2);
	assert_int_equal(audit_verify(f->s, &r), C2S_OK);
	assert_int_equal(r.checkpoints, 2);
	/* a stored checkpoint edited afterwards no longer matches */
	ot_exec(f, "UPDATE checkpoints SET head_hash = zeroblob(32) WHERE seq = 10");
	assert_int_equal(audit_verify(f->s, &r), C2S_ERR_STORE);
	assert_int_equal(r.bad_checkpoint, 10);
	assert_int_equal(r.first_bad_seq, 0);
}

static void export_holds_the_evidence(void **state)
{
	struct fx *f = *state;
	json_t *x = NULL;
	uint8_t s0[32], s1[32], h[32];
	uint64_t z0, z1;
	int64_t seq;
	char hex[65];
	ot_create(f, "export-1", T0);
	const char *id = f->info.id;
	ot_create(f, "export-other", T0 + 1); /* events of another order are not exported */
	ot_blob(f, "signed 0", s0, &z0);
	ot_blob(f, "signed 1", s1, &z1);
	assert_int_equal(order_doc_signed(f->s, id, 0, s0, (int64_t)z0, T0 + 10), C2S_OK);
	assert_int_equal(order_doc_signed(f->s, id, 1, s1, (int64_t)z1, T0 + 11), C2S_OK);
	assert_int_equal(order_finish(f->s, id, T0 + 12), C2S_OK);
	assert_int_equal(audit_head(f->s, &seq, h), C2S_OK);
	assert_int_equal(audit_checkpoint_add(f->s, seq, h, T0 + 20, "sig", 3, "cert", 4), C2S_OK);

	assert_int_equal(audit_export(f->s, id, &x), C2S_OK);
	json_t *order = json_object_get(x, "order");
	assert_string_equal(ot_str(order, "status"), "signed");
	assert_null(json_object_get(order, "events"));
	json_t *docs = json_object_get(x, "documents");
	assert_int_equal(json_array_size(docs), 4);
	ot_hex(f->docs[1].sha256, hex);
	assert_string_equal(ot_str(json_array_get(docs, 1), "sha256"), hex);
	ot_hex(s1, hex);
	assert_string_equal(ot_str(json_array_get(docs, 1), "signed_sha256"), hex);
	assert_string_equal(ot_str(json_array_get(docs, 1), "signed_at"), "2023-11-14T22:13:31Z");
	assert_string_equal(ot_str(json_array_get(docs, 2), "kind"), "attachment");
	assert_null(json_object_get(json_array_get(docs, 2), "signed_sha256"));
	json_t *ev = json_object_get(x, "events");
	assert_int_equal(json_array_size(ev), 4);
	const char *types[] = {"created", "document_signed", "document_signed", "signed"};
	for (size_t i = 0; i < 4; i++) {
		json_t *e = json_array_get(ev, i);
		assert_string_equal(ot_str(e, "type"), types[i]);
		assert_int_equal(strlen(ot_str(e, "hash")), 64);
		assert_int_equal(strlen(ot_str(e, "prev_hash")), 64);
	}
	/* events 3 and 4 of the chain follow each other: the link is visible in the export */
	assert_string_equal(ot_str(json_array_get(ev, 2), "hash"),
	                    ot_str(json_array_get(ev, 3), "prev_hash"));
	ot_hex(s0, hex);
	assert_string_equal(ot_str(json_object_get(json_array_get(ev, 1), "data"), "signed_sha256"),
	                    hex);
	json_t *chain = json_object_get(x, "chain");
	ot_hex(h, hex);
	assert_string_equal(ot_str(chain, "head_hash"), hex);
	json_t *cp = json_object_get(chain, "checkpoint");
	assert_string_equal(ot_str(cp, "head_hash"), hex);
	assert_string_equal(ot_str(cp, "signature"), "c2ln"); /* base64 of "sig" */
	/* each exported event recomputes to its hash */
	char *data = json_dumps(json_object_get(json_array_get(ev, 3), "data"),
	                        JSON_COMPACT | JSON_SORT_KEYS);
	uint8_t prev[32], got[32];
	const char *ph = ot_str(json_array_get(ev, 3), "prev_hash");
	for (int i = 0; i < 32; i++)
		sscanf(ph + 2 * i, "%2hhx", &prev[i]);
	audit_event_hash(prev, json_integer_value(json_object_get(json_array_get(ev, 3), "seq")),
	                 id, json_integer_value(json_object_get(json_array_get(ev, 3), "at_unix")),
	                 "signed", data, strlen(data), got);
	ot_hex(got, hex);
	assert_string_equal(ot_str(json_array_get(ev, 3), "hash"), hex);
	free(data);
	json_decref(x);
	x = NULL;
	assert_int_equal(audit_export(f->s, "o-none", &x), C2S_ERR_NOT_FOUND);
	assert_null(x);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, ot_setup, ot_teardown)
	const struct CMUnitTest tests[] = {
	    T(event_hash_matches_the_documented_encoding),
	    T(thousand_events_verify),
	    T(any_edit_is_found_at_its_seq),
	    T(rehashing_is_caught_by_the_next_event_or_a_checkpoint),
	    T(deleted_events_are_found),
	    T(checkpoints_must_match_and_advance),
	    T(export_holds_the_evidence),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
