/* The main store: migrations by PRAGMA user_version (fresh, from a pre-migration database,
 * a failed step, a newer database refused), WAL + synchronous=FULL, transactions, and the
 * audit table's append-only triggers. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/store/store.h"

struct fx {
	char dir[256];
	char db[320];
	struct store *s;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *t = getenv("TMPDIR");
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/c2s-store-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/click2sign.db", f->dir);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* One integer from a query on a raw connection or the store's. */
static long long q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void q_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	out[0] = 0;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static sqlite3 *raw_open(struct fx *f)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static long long table_exists(sqlite3 *db, const char *name)
{
	char sql[200];
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", name);
	return q_int(db, sql);
}

static void fresh_database_is_at_the_current_version(void **state)
{
	struct fx *f = *state;
	char mode[32];
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	sqlite3 *db = store_db(f->s);
	assert_int_equal(q_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	q_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(q_int(db, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(q_int(db, "PRAGMA foreign_keys"), 1);
	const char *tables[] = {"api_clients", "orders", "documents", "events",
	                        "checkpoints", "outbox", "sessions"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		assert_int_equal(table_exists(db, tables[i]), 1);
	assert_int_equal(table_exists(db, "no_such_table"), 0);
	/* opening again does not re-run the migrations */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	assert_int_equal(q_int(store_db(f->s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

/* A database from before migrations: the old api_clients table at user_version 0. */
static void pre_migration_database_keeps_its_clients(void **state)
{
	struct fx *f = *state;
	char name[64] = "", tok[64];
	sqlite3 *db = raw_open(f);
	raw_exec(db,
	         "CREATE TABLE api_clients (name TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL "
	         "UNIQUE, created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')), "
	         "revoked INTEGER NOT NULL DEFAULT 0);"
	         "INSERT INTO api_clients(name, token_sha256) VALUES ('portal', x'00');");
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	assert_int_equal(q_int(store_db(f->s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(q_int(store_db(f->s), "SELECT count(*) FROM api_clients WHERE name = "
	                                       "'portal'"),
	                 1);
	/* the client calls still work on the migrated database */
	assert_int_equal(store_client_add(f->s, "second", tok, sizeof(tok)), C2S_OK);
	assert_int_equal(store_client_check(f->s, tok, name, sizeof(name)), C2S_OK);
	assert_string_equal(name, "second");
	assert_int_equal(store_client_add(f->s, "second", tok, sizeof(tok)), C2S_ERR_ARG);
}

static void newer_database_is_refused_untouched(void **state)
{
	struct fx *f = *state;
	char why[600] = "";
	sqlite3 *db = raw_open(f);
	raw_exec(db, "PRAGMA user_version = 99; CREATE TABLE future (x);");
	sqlite3_close(db);
	struct store *s = (struct store *)1;
	assert_int_equal(store_open_why(f->dir, &s, why, sizeof(why)), C2S_ERR_STORE);
	assert_null(s);
	assert_non_null(strstr(why, "schema version 99"));
	assert_non_null(strstr(why, "newer than this build"));
	db = raw_open(f);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 99);
	assert_int_equal(table_exists(db, "orders"), 0);
	assert_int_equal(table_exists(db, "api_clients"), 0);
	sqlite3_close(db);
}

/* A step that fails rolls back alone: the earlier step stays, the version says so. */
static void failed_migration_stops_at_the_last_good_version(void **state)
{
	struct fx *f = *state;
	char why[600] = "";
	sqlite3 *db = raw_open(f);
	raw_exec(db, "CREATE TABLE orders (in_the_way INTEGER);");
	sqlite3_close(db);
	struct store *s = NULL;
	assert_int_equal(store_open_why(f->dir, &s, why, sizeof(why)), C2S_ERR_STORE);
	assert_null(s);
	assert_non_null(strstr(why, "schema migration 2 failed"));
	db = raw_open(f);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 1);
	assert_int_equal(table_exists(db, "api_clients"), 1);
	assert_int_equal(table_exists(db, "events"), 0); /* nothing of step 2 stayed */
	/* with the obstacle gone the next open finishes the job */
	raw_exec(db, "DROP TABLE orders;");
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	assert_int_equal(q_int(store_db(f->s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

static void transactions_commit_or_leave_nothing(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	sqlite3 *db = store_db(f->s);
	assert_int_equal(store_tx_begin(f->s), C2S_OK);
	raw_exec(db, "INSERT INTO api_clients(name, token_sha256) VALUES ('a', x'01')");
	store_tx_rollback(f->s);
	assert_int_equal(q_int(db, "SELECT count(*) FROM api_clients"), 0);
	assert_int_equal(store_tx_begin(f->s), C2S_OK);
	raw_exec(db, "INSERT INTO api_clients(name, token_sha256) VALUES ('a', x'01')");
	assert_int_equal(store_tx_commit(f->s), C2S_OK);
	assert_int_equal(q_int(db, "SELECT count(*) FROM api_clients"), 1);
	/* a second connection sees the committed row, and cannot write while we hold the lock */
	sqlite3 *other = raw_open(f);
	sqlite3_busy_timeout(other, 10);
	assert_int_equal(q_int(other, "SELECT count(*) FROM api_clients"), 1);
	assert_int_equal(store_tx_begin(f->s), C2S_OK);
	assert_int_not_equal(
	    sqlite3_exec(other, "INSERT INTO api_clients(name, token_sha256) VALUES ('b', x'02')",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	store_tx_rollback(f->s);
	assert_int_equal(
	    sqlite3_exec(other, "INSERT INTO api_clients(name, token_sha256) VALUES ('b', x'02')",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	/* the lock is free again: the client calls do not hang */
	assert_int_equal(store_client_revoke(f->s, "a"), C2S_OK);
	assert_int_equal(store_client_revoke(f->s, "nobody"), C2S_ERR_NOT_FOUND);
}

static void events_are_append_only(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_open(f->dir, &f->s), C2S_OK);
	sqlite3 *db = store_db(f->s);
	/* the first event must start the chain: seq 1 after 32 zero bytes */
	assert_int_not_equal(sqlite3_exec(db,
	                                  "INSERT INTO events VALUES (2, 'o', 1, 't', '{}', "
	                                  "zeroblob(32), zeroblob(32))",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db,
	                                  "INSERT INTO events VALUES (1, 'o', 1, 't', '{}', "
	                                  "randomblob(32), zeroblob(32))",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	raw_exec(db, "INSERT INTO events VALUES (1, 'o', 1, 't', '{}', zeroblob(32), "
	             "x'1111111111111111111111111111111111111111111111111111111111111111')");
	/* the next one links to it, or is refused */
	assert_int_not_equal(sqlite3_exec(db,
	                                  "INSERT INTO events VALUES (2, 'o', 1, 't', '{}', "
	                                  "zeroblob(32), zeroblob(32))",
	                                  NULL, NULL, NULL),
	                     SQLITE_OK);
	raw_exec(db, "INSERT INTO events SELECT 2, 'o', 1, 't', '{}', hash, zeroblob(32) FROM "
	             "events WHERE seq = 1");
	assert_int_not_equal(
	    sqlite3_exec(db, "UPDATE events SET at = 2 WHERE seq = 1", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM events WHERE seq = 2", NULL, NULL, NULL),
	                     SQLITE_OK);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 2);
	assert_int_equal(q_int(db, "SELECT at FROM events WHERE seq = 1"), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(fresh_database_is_at_the_current_version),
	    T(pre_migration_database_keeps_its_clients),
	    T(newer_database_is_refused_untouched),
	    T(failed_migration_stops_at_the_last_good_version),
	    T(transactions_commit_or_leave_nothing),
	    T(events_are_append_only),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
