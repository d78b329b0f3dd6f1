#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "firmware/base/log.h"
#include "firmware/base/secmem.h"

/* how long a statement waits for another process's write lock */
#define STORE_BUSY_MS 5000

struct store {
	pthread_mutex_t mu;
	int mu_ok;
	sqlite3 *db;
	sqlite3_stmt *client_st; /* the bearer-token lookup of every API request, prepared once */
	char dir[4096];
};

/* Migration i takes the schema from user_version i to i + 1, in one transaction.
 * Never edit one that shipped; add a new one. */
static const char *const store_migrations[] = {
    /* 1: API clients. IF NOT EXISTS: databases made before migrations existed are at version 0
     * and already have this table. */
    "CREATE TABLE IF NOT EXISTS api_clients ("
    " name TEXT PRIMARY KEY,"
    " token_sha256 BLOB NOT NULL UNIQUE,"
    " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    " revoked INTEGER NOT NULL DEFAULT 0);",
    /* 2: signing orders, their documents, the audit chain and its checkpoints, the outbox and
     * the customers' browser sessions. */
    "CREATE TABLE orders ("
    " id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 64),"
    " client TEXT NOT NULL CHECK (length(client) BETWEEN 1 AND 64),"
    " reference TEXT NOT NULL CHECK (length(reference) BETWEEN 1 AND 128),"
    " body_sha256 BLOB NOT NULL CHECK (length(body_sha256) = 32),"
    " status TEXT NOT NULL CHECK (status IN"
    "  ('awaiting_signature', 'signed', 'expired', 'cancelled')),"
    " locale TEXT NOT NULL CHECK (locale IN ('sl', 'en')),"
    " subscriber TEXT NOT NULL CHECK (json_valid(subscriber)),"
    " account TEXT NOT NULL CHECK (json_valid(account)),"
    " manifest TEXT NOT NULL DEFAULT '',"
    " link_sha256 BLOB NOT NULL UNIQUE CHECK (length(link_sha256) = 32),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL CHECK (expires_at > created_at),"
    " ended_at INTEGER,"
    " CHECK ((status = 'awaiting_signature') = (ended_at IS NULL)),"
    " UNIQUE (client, reference)) STRICT;"
    "CREATE INDEX orders_open_by_expiry ON orders(expires_at)"
    " WHERE status = 'awaiting_signature';"
    "CREATE TABLE documents ("
    " order_id TEXT NOT NULL REFERENCES orders(id),"
    " kind TEXT NOT NULL CHECK (kind IN ('document', 'attachment')),"
    " idx INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 63),"
    " title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),"
    " filename TEXT NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),"
    " sha256 BLOB NOT NULL CHECK (length(sha256) = 32),"
    " size INTEGER NOT NULL CHECK (size >= 0),"
    " status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'signed')),"
    " signed_sha256 BLOB CHECK (signed_sha256 IS NULL OR length(signed_sha256) = 32),"
    " signed_size INTEGER CHECK (signed_size IS NULL OR signed_size > 0),"
    " signed_at INTEGER,"
    " CHECK ((status = 'signed') = (signed_sha256 IS NOT NULL AND signed_size IS NOT NULL"
    "  AND signed_at IS NOT NULL)),"
    " CHECK (kind = 'document' OR status = 'pending'),"
    " PRIMARY KEY (order_id, kind, idx)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE events ("
    " seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    " order_id TEXT NOT NULL,"
    " at INTEGER NOT NULL,"
    " type TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 64),"
    " data TEXT NOT NULL CHECK (json_valid(data)),"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32)) STRICT;"
    "CREATE INDEX events_by_order ON events(order_id, seq);"
    /* append-only: the chain is extended at its head and never rewritten. An attacker with the
     * file can drop these; audit_verify and the signed checkpoints catch what follows. */
    "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events"
    " BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TRIGGER events_extend_head BEFORE INSERT ON events"
    " WHEN NEW.seq IS NOT coalesce((SELECT max(seq) FROM events), 0) + 1"
    "  OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1),"
    "   zeroblob(32))"
    " BEGIN SELECT RAISE(ABORT, 'an event must extend the head of the chain'); END;"
    "CREATE TABLE checkpoints ("
    " seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    " head_hash BLOB NOT NULL CHECK (length(head_hash) = 32),"
    " at INTEGER NOT NULL,"
    " signature BLOB NOT NULL CHECK (length(signature) BETWEEN 1 AND 1024),"
    " cert BLOB NOT NULL CHECK (length(cert) BETWEEN 1 AND 16384)) STRICT;"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY,"
    " delivery_id TEXT NOT NULL UNIQUE CHECK (length(delivery_id) = 32),"
    " channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'webhook')),"
    " order_id TEXT REFERENCES orders(id),"
    " payload TEXT NOT NULL CHECK (json_valid(payload)),"
    " redact TEXT," /* a secret inside payload (the link), scrubbed once the row is settled */
    " created_at INTEGER NOT NULL,"
    " next_at INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    " status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered',"
    "  'failed')),"
    " last_error TEXT,"
    " delivered_at INTEGER,"
    " CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))) STRICT;"
    "CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 'pending';"
    "CREATE INDEX outbox_by_order ON outbox(order_id);"
    "CREATE TABLE sessions ("
    " id_sha256 BLOB PRIMARY KEY CHECK (length(id_sha256) = 32),"
    " order_id TEXT NOT NULL REFERENCES orders(id),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " csrf BLOB NOT NULL CHECK (length(csrf) >= 16),"
    " otp_ok INTEGER NOT NULL DEFAULT 0 CHECK (otp_ok IN (0, 1)),"
    " sad BLOB,"
    " sad_expires INTEGER) STRICT, WITHOUT ROWID;"
    "CREATE INDEX sessions_by_order ON sessions(order_id);",
    /* 3: customers' certificates bound to portal accounts (certificate login), and the
     * portal assertions already used (single use of jti). */
    "CREATE TABLE cert_bindings ("
    " spki_sha256 BLOB NOT NULL CHECK (length(spki_sha256) = 32),"
    " issuer_sha256 BLOB NOT NULL CHECK (length(issuer_sha256) = 32),"
    " serial TEXT NOT NULL CHECK (length(serial) BETWEEN 1 AND 80),"
    " account TEXT NOT NULL CHECK (length(account) BETWEEN 1 AND 128),"
    " subject TEXT NOT NULL CHECK (length(subject) <= 512),"
    " issuer TEXT NOT NULL CHECK (length(issuer) <= 512),"
    " not_after INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_login_at INTEGER,"
    " PRIMARY KEY (issuer_sha256, serial),"
    " UNIQUE (spki_sha256)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX cert_bindings_by_account ON cert_bindings(account);"
    "CREATE TABLE assertions_used ("
    " jti TEXT PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 128),"
    " exp INTEGER NOT NULL) STRICT, WITHOUT ROWID;",
};
#define STORE_MIGRATIONS (int)(sizeof(store_migrations) / sizeof(store_migrations[0]))
_Static_assert(STORE_MIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

c2s_err store_rc(struct store *s, int rc, const char *what)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return C2S_OK;
	log_error("sqlite: %s: %s (%d)", what ? what : "?",
	          s && s->db ? sqlite3_errmsg(s->db) : "?", rc);
	if ((rc & 0xff) == SQLITE_FULL)
		return C2S_ERR_STORE_FULL;
	return C2S_ERR_STORE;
}

static c2s_err store_map(struct store *s, int rc)
{
	return store_rc(s, rc, "api clients");
}

static int store_version(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* One transaction per step, so a failure leaves the database at the last complete version. */
static c2s_err store_migrate(struct store *s, const char *path, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_STORE;
	char *err = NULL;
	char sql[64];
	int v;
	for (;;) {
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK)
			WHY(C2S_ERR_STORE, "%s: cannot start the schema migration: %s", path,
			    err ? err : "?");
		v = store_version(s);
		if (v < 0)
			WHY(C2S_ERR_STORE, "%s: cannot read the schema version: %s", path,
			    sqlite3_errmsg(s->db));
		if (v > STORE_SCHEMA_VERSION)
			WHY(C2S_ERR_STORE,
			    "%s has schema version %d, newer than this build's %d: run the newer "
			    "click2sign, or restore the database backup taken before the upgrade",
			    path, v, STORE_SCHEMA_VERSION);
		if (v == STORE_SCHEMA_VERSION)
			break;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(s->db, store_migrations[v], NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK)
			WHY(C2S_ERR_STORE, "%s: schema migration %d failed: %s", path, v + 1,
			    err ? err : "?");
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, &err) != SQLITE_OK)
			WHY(C2S_ERR_STORE, "%s: cannot commit schema migration %d: %s", path, v + 1,
			    err ? err : "?");
		log_info("%s: schema migrated to version %d", path, v + 1);
	}
	ENSURE(sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, C2S_ERR_STORE);
	ret = C2S_OK;
out:
	sqlite3_free(err);
	if (ret != C2S_OK && s->db && !sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

c2s_err store_open_why(const char *state_dir, struct store **out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_STORE;
	char path[4200];
	struct store *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (why && why_cap)
		why[0] = 0;
	ENSURE(s, C2S_ERR_NOMEM);
	ENSURE(pthread_mutex_init(&s->mu, NULL) == 0, C2S_ERR_NOMEM);
	s->mu_ok = 1;
	if (!state_dir || !state_dir[0] || strlen(state_dir) >= sizeof(s->dir))
		WHY(C2S_ERR_CONFIG, "the state directory is not set or too long");
	snprintf(s->dir, sizeof(s->dir), "%s", state_dir);
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
		WHY(C2S_ERR_IO, "cannot create state directory %s: %s", state_dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/click2sign.db", state_dir);
	if (sqlite3_open_v2(path, &s->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                    NULL) != SQLITE_OK)
		WHY(C2S_ERR_STORE, "cannot open %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	/* web and notify both write this file: neither may rewrite the schema behind SQLite's
	 * back (writable_schema) or corrupt it on purpose. (trusted_schema=OFF would refuse the
	 * schema's own json_valid() checks, which this SQLite does not mark innocuous.) */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (sqlite3_exec(s->db,
	                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
	                 "PRAGMA secure_delete=ON;",
	                 NULL, NULL, NULL) != SQLITE_OK)
		WHY(C2S_ERR_STORE, "%s: cannot set WAL and synchronous=FULL: %s", path,
		    sqlite3_errmsg(s->db));
	GUARD(store_migrate(s, path, why, why_cap));
	*out = s;
	s = NULL;
	ret = C2S_OK;
out:
	store_close(s);
	return ret;
}

c2s_err store_open(const char *state_dir, struct store **out)
{
	char why[600] = "";
	c2s_err ret = store_open_why(state_dir, out, why, sizeof(why));
	if (ret != C2S_OK)
		log_error("store: %s", why[0] ? why : c2s_err_message(ret));
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->client_st);
	sqlite3_close(s->db);
	if (s->mu_ok)
		pthread_mutex_destroy(&s->mu);
	free(s);
}

const char *store_state_dir(const struct store *s)
{
	return s->dir;
}

sqlite3 *store_db(struct store *s)
{
	return s->db;
}

static c2s_err store_begin(struct store *s, const char *sql)
{
	c2s_err ret = C2S_ERR_STORE;
	pthread_mutex_lock(&s->mu);
	GUARD(store_rc(s, sqlite3_exec(s->db, sql, NULL, NULL, NULL), sql));
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		pthread_mutex_unlock(&s->mu);
	return ret;
}

c2s_err store_tx_begin(struct store *s)
{
	return store_begin(s, "BEGIN IMMEDIATE");
}

c2s_err store_read_begin(struct store *s)
{
	return store_begin(s, "BEGIN DEFERRED");
}

c2s_err store_wal_scrub(struct store *s)
{
	int log = -1, done = -1;
	pthread_mutex_lock(&s->mu);
	/* no waiting: while a reader holds an old snapshot the checkpoint would hold the write
	 * lock for the whole busy timeout; the caller tries again a second later */
	sqlite3_busy_timeout(s->db, 0);
	int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	pthread_mutex_unlock(&s->mu);
	if (rc == SQLITE_BUSY || (rc == SQLITE_OK && log != 0))
		return C2S_ERR_BUSY;
	return rc == SQLITE_OK ? C2S_OK : store_rc(s, rc, "wal checkpoint");
}

c2s_err store_tx_commit(struct store *s)
{
	c2s_err ret = store_rc(s, sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL), "COMMIT");
	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void store_tx_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_error("sqlite: ROLLBACK: %s", sqlite3_errmsg(s->db));
	pthread_mutex_unlock(&s->mu);
}

static void store_hash_token(const char *token, uint8_t out[32])
{
	/* mbedtls_md is the same in mbedTLS 2.28 and 3.x */
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)token,
	               strlen(token), out) != 0)
		memset(out, 0xff, 32); /* never matches a stored hash of a real token */
}

static c2s_err client_add(struct store *s, const char *name, char *token_out, size_t token_cap)
{
	c2s_err ret = C2S_ERR_STORE;
	uint8_t rnd[32], h[32];
	unsigned char b64[64];
	size_t olen = 0;
	sqlite3_stmt *st = NULL;
	ENSURE(name[0] && strlen(name) <= 64, C2S_ERR_ARG);
	ENSURE(token_cap > STORE_CLIENT_TOKEN_LEN, C2S_ERR_ARG);
	ENSURE(getrandom(rnd, sizeof(rnd), 0) == sizeof(rnd), C2S_ERR_INTERNAL);
	ENSURE(mbedtls_base64_encode(b64, sizeof(b64), &olen, rnd, sizeof(rnd)) == 0,
	       C2S_ERR_INTERNAL);
	/* base64url without padding */
	for (size_t i = 0; i < olen; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	while (olen && b64[olen - 1] == '=')
		olen--;
	ENSURE(olen == STORE_CLIENT_TOKEN_LEN, C2S_ERR_INTERNAL);
	memcpy(token_out, b64, olen);
	token_out[olen] = 0;
	store_hash_token(token_out, h);
	GUARD(store_map(s, sqlite3_prepare_v2(s->db,
	                                      "INSERT INTO api_clients(name, token_sha256) "
	                                      "VALUES(?, ?)",
	                                      -1, &st, NULL)));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, h, sizeof(h), SQLITE_STATIC);
	int rc = sqlite3_step(st);
	ENSURE(rc != SQLITE_CONSTRAINT, C2S_ERR_ARG);
	GUARD(store_map(s, rc));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(b64, sizeof(b64));
	if (ret != C2S_OK && token_cap)
		explicit_bzero(token_out, token_cap);
	return ret;
}

static c2s_err client_revoke(struct store *s, const char *name)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(store_map(s, sqlite3_prepare_v2(s->db,
	                                      "UPDATE api_clients SET revoked = 1 WHERE name = ?",
	                                      -1, &st, NULL)));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	GUARD(store_map(s, sqlite3_step(st)));
	ENSURE(sqlite3_changes(s->db) == 1, C2S_ERR_NOT_FOUND);
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

static c2s_err client_check(struct store *s, const char *token, char *name, size_t name_cap)
{
	c2s_err ret = C2S_ERR_HTTP_UNAUTHORIZED;
	uint8_t h[32];
	sqlite3_stmt *st = NULL;
	if (strlen(token) != STORE_CLIENT_TOKEN_LEN)
		return C2S_ERR_HTTP_UNAUTHORIZED;
	store_hash_token(token, h);
	/* Look up by the hash (a one-way function of the secret), so timing reveals nothing
	 * usable; the final comparison is constant-time anyway. Prepared once per connection
	 * (under s->mu): parsing it cost about as much as running it. */
	if (!s->client_st)
		GUARD(store_map(s, sqlite3_prepare_v3(s->db,
		                                      "SELECT name, token_sha256 FROM api_clients "
		                                      "WHERE token_sha256 = ? AND revoked = 0",
		                                      -1, SQLITE_PREPARE_PERSISTENT, &s->client_st,
		                                      NULL)));
	st = s->client_st;
	sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC);
	int rc = sqlite3_step(st);
	ENSURE(rc == SQLITE_ROW, rc == SQLITE_DONE ? C2S_ERR_HTTP_UNAUTHORIZED : store_map(s, rc));
	ENSURE(sqlite3_column_bytes(st, 1) == 32 &&
	           secmem_cmp(sqlite3_column_blob(st, 1), h, 32) == 0,
	       C2S_ERR_HTTP_UNAUTHORIZED);
	snprintf(name, name_cap, "%s", (const char *)sqlite3_column_text(st, 0));
	ret = C2S_OK;
out:
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return ret;
}

static c2s_err client_list(struct store *s, store_client_cb cb, void *ctx)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(store_map(s, sqlite3_prepare_v2(s->db,
	                                      "SELECT name, created, revoked FROM api_clients "
	                                      "ORDER BY name",
	                                      -1, &st, NULL)));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(ctx, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2));
	GUARD(store_map(s, rc));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

/* The API-client calls under the store's lock, so they never run inside another thread's
 * transaction on the shared connection. */
c2s_err store_client_add(struct store *s, const char *name, char *token_out, size_t token_cap)
{
	pthread_mutex_lock(&s->mu);
	c2s_err ret = client_add(s, name, token_out, token_cap);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

c2s_err store_client_revoke(struct store *s, const char *name)
{
	pthread_mutex_lock(&s->mu);
	c2s_err ret = client_revoke(s, name);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

c2s_err store_client_check(struct store *s, const char *token, char *name, size_t name_cap)
{
	pthread_mutex_lock(&s->mu);
	c2s_err ret = client_check(s, token, name, name_cap);
	pthread_mutex_unlock(&s->mu);
	return ret;
}

c2s_err store_client_list(struct store *s, store_client_cb cb, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	c2s_err ret = client_list(s, cb, ctx);
	pthread_mutex_unlock(&s->mu);
	return ret;
}
