/* The keyholder's store: one SQLite connection under one mutex, statements prepared once.
 * Schema changes are migrations numbered by PRAGMA user_version (kh_migrations[]). */
#include "khstore_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/base/log.h"

#define KH_DB_NAME  "keyholder.db"
#define KH_BUSY_MS  5000
#define KH_HOUR     3600
#define KH_KEEP_LOG 86400 /* issuance and try records older than this are pruned */

/* Migration i takes the schema from user_version i to i + 1. Never edit one that shipped. */
static const char *const kh_migrations[] = {
    "CREATE TABLE manifests ("
    " order_id TEXT PRIMARY KEY NOT NULL,"
    " jti TEXT NOT NULL UNIQUE,"
    " given TEXT NOT NULL, family TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL,"
    " docs BLOB NOT NULL CHECK (length(docs) BETWEEN 32 AND 1024 AND length(docs) % 32 = 0),"
    " order_expires INTEGER NOT NULL,"
    " ended INTEGER NOT NULL DEFAULT 0,"
    " otp_seq INTEGER NOT NULL DEFAULT 0,"
    " stored_at INTEGER NOT NULL) STRICT;"
    "CREATE TABLE otp_codes ("
    " order_id TEXT PRIMARY KEY NOT NULL REFERENCES manifests(order_id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " mac BLOB NOT NULL CHECK (length(mac) = 32),"
    " issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " tries_left INTEGER NOT NULL CHECK (tries_left >= 0)) STRICT;"
    "CREATE TABLE otp_issued ("
    " order_id TEXT NOT NULL REFERENCES manifests(order_id) ON DELETE CASCADE,"
    " at INTEGER NOT NULL) STRICT;"
    "CREATE INDEX otp_issued_by_order ON otp_issued(order_id, at);"
    "CREATE TABLE otp_tries ("
    " order_id TEXT NOT NULL REFERENCES manifests(order_id) ON DELETE CASCADE,"
    " at INTEGER NOT NULL) STRICT;"
    "CREATE INDEX otp_tries_by_order ON otp_tries(order_id, at);"
    "CREATE TABLE doc_used ("
    " order_id TEXT NOT NULL REFERENCES manifests(order_id) ON DELETE CASCADE,"
    " doc INTEGER NOT NULL, at INTEGER NOT NULL,"
    " PRIMARY KEY (order_id, doc)) STRICT;"
    "CREATE TABLE sig_log ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at INTEGER NOT NULL, key TEXT NOT NULL, digest BLOB NOT NULL, caller TEXT NOT NULL,"
    " order_id TEXT, doc INTEGER NOT NULL) STRICT;",
    /* 1 -> 2: the last audit checkpoint signed, so a head is never signed twice or backwards */
    "CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " last_seq INTEGER NOT NULL) STRICT;",
};
#define KH_SCHEMA_VERSION (int)(sizeof(kh_migrations) / sizeof(kh_migrations[0]))

enum kh_stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_M_BY_ORDER,
	S_M_BY_JTI,
	S_M_INSERT,
	S_M_END,
	S_M_LIVE,
	S_M_SEQ,
	S_SWEEP,
	S_SIG_INSERT,
	S_SIG_COUNT,
	S_SIG_LAST,
	S_DOC_MARK,
	S_DOC_GET,
	S_ISS_LAST,
	S_ISS_COUNT,
	S_ISS_NTH,
	S_ISS_PRUNE,
	S_ISS_INSERT,
	S_TRY_COUNT,
	S_TRY_PRUNE,
	S_TRY_INSERT,
	S_CODE_PUT,
	S_CODE_GET,
	S_CODE_DEC,
	S_CODE_CONSUME,
	S_CODE_DROP,
	S_N
};

static const char *const kh_sql[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_M_BY_ORDER] = "SELECT order_id, jti, given, family, email, phone, docs, order_expires, "
                     "ended FROM manifests WHERE order_id = ?1",
    [S_M_BY_JTI] = "SELECT order_id FROM manifests WHERE jti = ?1",
    [S_M_INSERT] = "INSERT INTO manifests(order_id, jti, given, family, email, phone, docs, "
                   "order_expires, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_M_END] = "UPDATE manifests SET ended = 1 WHERE order_id = ?1",
    [S_M_LIVE] = "SELECT ended, order_expires, otp_seq FROM manifests WHERE order_id = ?1",
    [S_M_SEQ] = "UPDATE manifests SET otp_seq = ?2 WHERE order_id = ?1",
    [S_SWEEP] = "DELETE FROM manifests WHERE order_expires < ?1",
    [S_SIG_INSERT] = "INSERT INTO sig_log(at, key, digest, caller, order_id, doc) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_SIG_COUNT] = "SELECT count(*) FROM sig_log",
    [S_SIG_LAST] = "SELECT id, at, key, digest, caller, order_id, doc FROM sig_log "
                   "ORDER BY id DESC LIMIT ?1",
    [S_DOC_MARK] = "INSERT INTO doc_used(order_id, doc, at) SELECT order_id, ?2, ?3 FROM manifests "
                   "WHERE order_id = ?1 AND ended = 0 AND order_expires > ?3 "
                   "AND ?2 >= 0 AND ?2 < length(docs) / 32",
    [S_DOC_GET] = "SELECT 1 FROM doc_used WHERE order_id = ?1 AND doc = ?2",
    [S_ISS_LAST] = "SELECT max(at) FROM otp_issued WHERE order_id = ?1",
    [S_ISS_COUNT] = "SELECT count(*) FROM otp_issued WHERE order_id = ?1 AND at > ?2",
    [S_ISS_NTH] = "SELECT at FROM otp_issued WHERE order_id = ?1 AND at > ?2 ORDER BY at "
                  "LIMIT 1 OFFSET ?3",
    [S_ISS_PRUNE] = "DELETE FROM otp_issued WHERE order_id = ?1 AND at < ?2",
    [S_ISS_INSERT] = "INSERT INTO otp_issued(order_id, at) VALUES (?1, ?2)",
    [S_TRY_COUNT] = "SELECT count(*) FROM otp_tries WHERE order_id = ?1 AND at > ?2",
    [S_TRY_PRUNE] = "DELETE FROM otp_tries WHERE order_id = ?1 AND at < ?2",
    [S_TRY_INSERT] = "INSERT INTO otp_tries(order_id, at) VALUES (?1, ?2)",
    [S_CODE_PUT] = "INSERT OR REPLACE INTO otp_codes(order_id, seq, mac, issued_at, expires_at, "
                   "tries_left) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_CODE_GET] = "SELECT seq, mac, issued_at, expires_at, tries_left FROM otp_codes "
                   "WHERE order_id = ?1",
    [S_CODE_DEC] = "UPDATE otp_codes SET tries_left = tries_left - 1 "
                   "WHERE order_id = ?1 AND seq = ?2 AND tries_left > 0",
    [S_CODE_CONSUME] = "DELETE FROM otp_codes WHERE order_id = ?1 AND seq = ?2",
    [S_CODE_DROP] = "DELETE FROM otp_codes WHERE order_id = ?1",
};

/* A signature waiting for its row (khstore_sig_log): on its caller's stack until `done`. */
struct kh_sig_pending {
	int64_t at;
	const char *key, *caller, *order;
	const uint8_t *digest;
	size_t dlen;
	int doc;
	int done;
	c2s_err result;
	struct kh_sig_pending *next;
};

struct khstore {
	pthread_mutex_t mu;
	int mu_ok;
	/* group commit of the signature log: rows that arrive while one transaction is being
	 * written (and synced) go together in the next one */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	int q_ok, q_writing;
	struct kh_sig_pending *q_head, *q_tail;
	uint64_t commits; /* signature-log transactions, for tests and benchmarks */
	sqlite3 *db;
	sqlite3_stmt *st[S_N];
	char path[4096];
	dev_t dev; /* identity of the file opened: a removed or replaced file is refused */
	ino_t ino;
};

/* ---- plumbing ---- */

static c2s_err kh_rc(struct khstore *ks, int rc, const char *what)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return C2S_OK;
	log_error("keyholder store: %s: %s (%d)", what, ks->db ? sqlite3_errmsg(ks->db) : "?", rc);
	return C2S_ERR_KHSTORE;
}

/* Takes the lock and checks the file is still the one opened. *held tells kh_leave to undo. */
static c2s_err kh_enter(struct khstore *ks, int *held)
{
	struct stat st;
	*held = 0;
	if (!ks)
		return C2S_ERR_KHSTORE;
	pthread_mutex_lock(&ks->mu);
	*held = 1;
	if (stat(ks->path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != ks->dev ||
	    st.st_ino != ks->ino) {
		log_error(
		    "keyholder store: %s was removed or replaced while open; customer signing "
		    "stops until the keyholder restarts with its store",
		    ks->path);
		return C2S_ERR_KHSTORE;
	}
	return C2S_OK;
}

/* Resets every statement (ending implicit read transactions), rolls back an unfinished
 * transaction and unlocks. */
static void kh_leave(struct khstore *ks, int held)
{
	if (!held)
		return;
	for (int i = 0; i < S_N; i++) {
		if (ks->st[i]) {
			sqlite3_reset(ks->st[i]);
			sqlite3_clear_bindings(ks->st[i]);
		}
	}
	if (!sqlite3_get_autocommit(ks->db)) {
		int rc = sqlite3_step(ks->st[S_ROLLBACK]);
		if (rc != SQLITE_DONE)
			log_error("keyholder store: rollback: %s", sqlite3_errmsg(ks->db));
		sqlite3_reset(ks->st[S_ROLLBACK]);
	}
	pthread_mutex_unlock(&ks->mu);
}

/* Steps a statement: *row = 1 with a row, 0 when done. */
static c2s_err kh_step(struct khstore *ks, enum kh_stmt i, int *row)
{
	int rc = sqlite3_step(ks->st[i]);
	*row = rc == SQLITE_ROW;
	return kh_rc(ks, rc, kh_sql[i]);
}

/* Runs a statement that returns no row, and resets it. */
static c2s_err kh_run(struct khstore *ks, enum kh_stmt i)
{
	int rc = sqlite3_step(ks->st[i]);
	sqlite3_reset(ks->st[i]);
	if (rc == SQLITE_ROW)
		rc = SQLITE_MISUSE;
	return kh_rc(ks, rc, kh_sql[i]);
}

/* Runs a one-value query; *v is set when it returned a non-NULL value (*has = 1). */
static c2s_err kh_int(struct khstore *ks, enum kh_stmt i, int64_t *v, int *has)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int row = 0;
	*has = 0;
	GUARD(kh_step(ks, i, &row));
	if (row && sqlite3_column_type(ks->st[i], 0) != SQLITE_NULL) {
		*v = sqlite3_column_int64(ks->st[i], 0);
		*has = 1;
	}
	ret = C2S_OK;
out:
	sqlite3_reset(ks->st[i]);
	return ret;
}

static c2s_err kh_bind_text(struct khstore *ks, enum kh_stmt i, int col, const char *s)
{
	int rc = s ? sqlite3_bind_text(ks->st[i], col, s, -1, SQLITE_STATIC)
	           : sqlite3_bind_null(ks->st[i], col);
	return kh_rc(ks, rc, "bind");
}

static c2s_err kh_bind_i64(struct khstore *ks, enum kh_stmt i, int col, int64_t v)
{
	return kh_rc(ks, sqlite3_bind_int64(ks->st[i], col, v), "bind");
}

static c2s_err kh_bind_blob(struct khstore *ks, enum kh_stmt i, int col, const void *p, size_t n)
{
	return kh_rc(ks, sqlite3_bind_blob(ks->st[i], col, p, (int)n, SQLITE_STATIC), "bind");
}

static c2s_err kh_begin(struct khstore *ks)
{
	return kh_run(ks, S_BEGIN);
}

static c2s_err kh_commit(struct khstore *ks)
{
	return kh_run(ks, S_COMMIT);
}

static int kh_str_ok(const char *s, size_t cap)
{
	return s && s[0] && strnlen(s, cap) < cap;
}

static int kh_order_ok(const char *order)
{
	return kh_str_ok(order, sizeof(((struct kh_manifest *)0)->order));
}

static void kh_col_text(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(buf, cap, "%s", t ? (const char *)t : "");
}

/* ---- open, directory checks, migrations ---- */

static c2s_err kh_check_dir(const char *dir, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	struct stat st;
	if (lstat(dir, &st) != 0 && errno == ENOENT && mkdir(dir, 0700) != 0 && errno != EEXIST)
		WHY(C2S_ERR_KHSTORE, "cannot create the keyholder's store directory %s: %s", dir,
		    strerror(errno));
	if (lstat(dir, &st) != 0)
		WHY(C2S_ERR_KHSTORE, "cannot examine the keyholder's store directory %s: %s", dir,
		    strerror(errno));
	if (S_ISLNK(st.st_mode))
		WHY(C2S_ERR_KHSTORE,
		    "%s is a symbolic link; the keyholder's store must be a real directory: "
		    "replace "
		    "the link with a directory (mkdir -m 700 %s) owned by uid %u",
		    dir, dir, (unsigned)geteuid());
	if (!S_ISDIR(st.st_mode))
		WHY(C2S_ERR_KHSTORE,
		    "%s is not a directory; move it away so the keyholder can create its store "
		    "directory there, or configure another path",
		    dir);
	if (st.st_uid != geteuid())
		WHY(C2S_ERR_KHSTORE,
		    "%s is owned by uid %u, not by the keyholder's uid %u: chown %u %s", dir,
		    (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), dir);
	if (st.st_mode & 077)
		WHY(C2S_ERR_KHSTORE,
		    "%s has mode %04o; only the keyholder may use its store: chmod 700 %s", dir,
		    (unsigned)(st.st_mode & 07777), dir);
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err kh_check_file(const char *path, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	struct stat st;
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return C2S_OK; /* created by sqlite3_open_v2 */
		WHY(C2S_ERR_KHSTORE, "cannot examine %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		WHY(C2S_ERR_KHSTORE,
		    "%s is not a regular file (a directory, link or device); move it away and "
		    "restore the keyholder's store from a backup, or let the keyholder create a "
		    "new one",
		    path);
	if (st.st_uid != geteuid())
		WHY(C2S_ERR_KHSTORE,
		    "%s is owned by uid %u, not by the keyholder's uid %u: chown %u %s", path,
		    (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
	ret = C2S_OK;
out:
	return ret;
}

/* Runs a pragma that returns one value and compares it with `want`. */
static c2s_err kh_pragma(struct khstore *ks, const char *sql, const char *want, char *why,
                         size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	sqlite3_stmt *st = NULL;
	char got[32] = "";
	if (sqlite3_prepare_v2(ks->db, sql, -1, &st, NULL) != SQLITE_OK)
		WHY(C2S_ERR_KHSTORE, "%s: %s: %s", ks->path, sql, sqlite3_errmsg(ks->db));
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		WHY(C2S_ERR_KHSTORE, "%s: %s: %s", ks->path, sql, sqlite3_errmsg(ks->db));
	kh_col_text(st, 0, got, sizeof(got));
	if (strcmp(got, want) != 0)
		WHY(C2S_ERR_KHSTORE,
		    "%s: %s gave %s instead of %s; the store needs a local "
		    "file system with shared-memory support",
		    ks->path, sql, got, want);
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

static c2s_err kh_migrate(struct khstore *ks, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	sqlite3_stmt *st = NULL;
	char *err = NULL;
	char sql[64];
	int v = -1;
	if (sqlite3_exec(ks->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		WHY(C2S_ERR_KHSTORE, "%s: cannot start the schema check: %s", ks->path,
		    sqlite3_errmsg(ks->db));
	if (sqlite3_prepare_v2(ks->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v < 0)
		WHY(C2S_ERR_KHSTORE, "%s: cannot read the schema version: %s", ks->path,
		    sqlite3_errmsg(ks->db));
	if (v > KH_SCHEMA_VERSION)
		WHY(C2S_ERR_KHSTORE,
		    "%s has schema version %d, newer than this build's %d: run the newer keyholder "
		    "or restore the store's backup from before the upgrade",
		    ks->path, v, KH_SCHEMA_VERSION);
	for (; v < KH_SCHEMA_VERSION; v++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(ks->db, kh_migrations[v], NULL, NULL, &err) != SQLITE_OK ||
		    sqlite3_exec(ks->db, sql, NULL, NULL, &err) != SQLITE_OK)
			WHY(C2S_ERR_KHSTORE, "%s: schema migration %d failed: %s", ks->path, v + 1,
			    err ? err : "?");
	}
	if (sqlite3_exec(ks->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		WHY(C2S_ERR_KHSTORE, "%s: cannot commit the schema: %s", ks->path,
		    sqlite3_errmsg(ks->db));
	ret = C2S_OK;
out:
	sqlite3_free(err);
	if (ret != C2S_OK && ks->db && !sqlite3_get_autocommit(ks->db))
		(void)sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

c2s_err khstore_open(const char *dir, struct khstore **out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	struct khstore *ks = NULL;
	struct stat st;
	*out = NULL;
	if (why && why_cap)
		why[0] = 0;
	if (!kh_str_ok(dir, 4000))
		WHY(C2S_ERR_ARG, "the keyholder's store directory is not set");
	ks = calloc(1, sizeof(*ks));
	ENSURE(ks, C2S_ERR_NOMEM);
	ENSURE(pthread_mutex_init(&ks->mu, NULL) == 0, C2S_ERR_NOMEM);
	ks->mu_ok = 1;
	ENSURE(pthread_mutex_init(&ks->q_mu, NULL) == 0, C2S_ERR_NOMEM);
	if (pthread_cond_init(&ks->q_cv, NULL) != 0) {
		pthread_mutex_destroy(&ks->q_mu);
		ENSURE(0, C2S_ERR_NOMEM);
	}
	ks->q_ok = 1;
	snprintf(ks->path, sizeof(ks->path), "%s/%s", dir, KH_DB_NAME);
	GUARD(kh_check_dir(dir, why, why_cap));
	GUARD(kh_check_file(ks->path, why, why_cap));
	if (sqlite3_open_v2(ks->path, &ks->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
	                        SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
	                    NULL) != SQLITE_OK)
		WHY(C2S_ERR_KHSTORE, "cannot open %s: %s", ks->path,
		    ks->db ? sqlite3_errmsg(ks->db) : "out of memory");
	sqlite3_busy_timeout(ks->db, KH_BUSY_MS);
	if (sqlite3_exec(ks->db,
	                 "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
	                 "PRAGMA secure_delete = ON; PRAGMA trusted_schema = OFF;",
	                 NULL, NULL, NULL) != SQLITE_OK)
		WHY(C2S_ERR_KHSTORE, "cannot use %s: %s; move it away and restore it from a backup",
		    ks->path, sqlite3_errmsg(ks->db));
	GUARD(kh_pragma(ks, "PRAGMA journal_mode = WAL", "wal", why, why_cap));
	GUARD(kh_pragma(ks, "PRAGMA synchronous", "2", why, why_cap));
	GUARD(kh_pragma(ks, "PRAGMA foreign_keys", "1", why, why_cap));
	GUARD(kh_migrate(ks, why, why_cap));
	for (int i = 0; i < S_N; i++)
		if (sqlite3_prepare_v3(ks->db, kh_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ks->st[i],
		                       NULL) != SQLITE_OK)
			WHY(C2S_ERR_KHSTORE, "%s: cannot prepare \"%s\": %s", ks->path, kh_sql[i],
			    sqlite3_errmsg(ks->db));
	(void)chmod(ks->path, 0600);
	if (stat(ks->path, &st) != 0)
		WHY(C2S_ERR_KHSTORE, "cannot examine %s: %s", ks->path, strerror(errno));
	ks->dev = st.st_dev;
	ks->ino = st.st_ino;
	*out = ks;
	ks = NULL;
	ret = C2S_OK;
out:
	if (ret != C2S_OK && ret != C2S_ERR_ARG)
		log_error("keyholder store: %s", why && why_cap ? why : "cannot open");
	khstore_close(ks);
	return ret;
}

void khstore_close(struct khstore *ks)
{
	if (!ks)
		return;
	for (int i = 0; i < S_N; i++)
		sqlite3_finalize(ks->st[i]);
	if (ks->db && sqlite3_close(ks->db) != SQLITE_OK)
		log_error("keyholder store: close: %s", sqlite3_errmsg(ks->db));
	if (ks->mu_ok)
		pthread_mutex_destroy(&ks->mu);
	if (ks->q_ok) {
		pthread_mutex_destroy(&ks->q_mu);
		pthread_cond_destroy(&ks->q_cv);
	}
	free(ks);
}

/* ---- manifests ---- */

static c2s_err kh_manifest_valid(const struct kh_manifest *m, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	if (!m)
		WHY(C2S_ERR_ARG, "no manifest");
	if (!kh_order_ok(m->order) || !kh_str_ok(m->jti, sizeof(m->jti)))
		WHY(C2S_ERR_ARG, "the manifest's order id or jti is empty or too long");
	if (strnlen(m->given, sizeof(m->given)) == sizeof(m->given) ||
	    strnlen(m->family, sizeof(m->family)) == sizeof(m->family) ||
	    strnlen(m->email, sizeof(m->email)) == sizeof(m->email) ||
	    !kh_str_ok(m->phone, sizeof(m->phone)))
		WHY(C2S_ERR_ARG,
		    "a signer field of the manifest is too long, or the phone is empty");
	if (m->ndocs < 1 || m->ndocs > KH_MAX_DOCS)
		WHY(C2S_ERR_ARG, "the manifest names %zu documents; 1 to %d are allowed", m->ndocs,
		    KH_MAX_DOCS);
	ret = C2S_OK;
out:
	return ret;
}

/* Reads a S_M_BY_ORDER row. */
static c2s_err kh_manifest_row(sqlite3_stmt *st, struct kh_manifest *m)
{
	int n = sqlite3_column_bytes(st, 6);
	const void *docs = sqlite3_column_blob(st, 6);
	memset(m, 0, sizeof(*m));
	if (!docs || n < 32 || n > KH_MAX_DOCS * 32 || n % 32)
		return C2S_ERR_KHSTORE;
	kh_col_text(st, 0, m->order, sizeof(m->order));
	kh_col_text(st, 1, m->jti, sizeof(m->jti));
	kh_col_text(st, 2, m->given, sizeof(m->given));
	kh_col_text(st, 3, m->family, sizeof(m->family));
	kh_col_text(st, 4, m->email, sizeof(m->email));
	kh_col_text(st, 5, m->phone, sizeof(m->phone));
	memcpy(m->docs, docs, (size_t)n);
	m->ndocs = (size_t)n / 32;
	m->order_expires = sqlite3_column_int64(st, 7);
	m->ended = sqlite3_column_int(st, 8);
	return C2S_OK;
}

/* The same portal-signed content. The order's expiry is not compared: a retried request
 * computes it again from a later clock, and the first one stored stays (a retry never extends
 * an order's life). */
static int kh_manifest_same(const struct kh_manifest *a, const struct kh_manifest *b)
{
	return strcmp(a->jti, b->jti) == 0 && strcmp(a->given, b->given) == 0 &&
	       strcmp(a->family, b->family) == 0 && strcmp(a->email, b->email) == 0 &&
	       strcmp(a->phone, b->phone) == 0 && a->ndocs == b->ndocs &&
	       memcmp(a->docs, b->docs, a->ndocs * 32) == 0;
}

c2s_err khstore_manifest_put(struct khstore *ks, const struct kh_manifest *m, int64_t now,
                             char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	struct kh_manifest old;
	int held = 0, row = 0;
	GUARD(kh_manifest_valid(m, why, why_cap));
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	GUARD(kh_bind_text(ks, S_M_BY_ORDER, 1, m->order));
	GUARD(kh_step(ks, S_M_BY_ORDER, &row));
	if (row) {
		GUARD(kh_manifest_row(ks->st[S_M_BY_ORDER], &old));
		if (strcmp(old.jti, m->jti) != 0) {
			log_warn("order %s already has a manifest (jti %s); refused jti %s",
			         m->order, old.jti, m->jti);
			WHY(C2S_ERR_MANIFEST, "the order already has a manifest");
		}
		if (!kh_manifest_same(&old, m)) {
			log_warn("order %s: manifest jti %s presented again with other content",
			         m->order, m->jti);
			WHY(C2S_ERR_MANIFEST,
			    "the order's manifest was presented again with different content");
		}
		ret = C2S_OK; /* the same manifest again: nothing to do */
		goto out;
	}
	GUARD(kh_bind_text(ks, S_M_BY_JTI, 1, m->jti));
	GUARD(kh_step(ks, S_M_BY_JTI, &row));
	if (row) {
		char other[65];
		kh_col_text(ks->st[S_M_BY_JTI], 0, other, sizeof(other));
		log_warn("manifest jti %s of order %s replayed for order %s", m->jti, other,
		         m->order);
		WHY(C2S_ERR_MANIFEST_REPLAY,
		    "the manifest's jti was already used for another order");
	}
	if (now >= m->order_expires)
		WHY(C2S_ERR_MANIFEST_EXPIRED, "the order expired before its manifest was stored");
	GUARD(kh_bind_text(ks, S_M_INSERT, 1, m->order));
	GUARD(kh_bind_text(ks, S_M_INSERT, 2, m->jti));
	GUARD(kh_bind_text(ks, S_M_INSERT, 3, m->given));
	GUARD(kh_bind_text(ks, S_M_INSERT, 4, m->family));
	GUARD(kh_bind_text(ks, S_M_INSERT, 5, m->email));
	GUARD(kh_bind_text(ks, S_M_INSERT, 6, m->phone));
	GUARD(kh_bind_blob(ks, S_M_INSERT, 7, m->docs, m->ndocs * 32));
	GUARD(kh_bind_i64(ks, S_M_INSERT, 8, m->order_expires));
	GUARD(kh_bind_i64(ks, S_M_INSERT, 9, now));
	GUARD(kh_run(ks, S_M_INSERT));
	GUARD(kh_commit(ks));
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_manifest_get(struct khstore *ks, const char *order, struct kh_manifest *out)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0, row = 0;
	ENSURE(kh_order_ok(order) && out, C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_bind_text(ks, S_M_BY_ORDER, 1, order));
	GUARD(kh_step(ks, S_M_BY_ORDER, &row));
	ENSURE(row, C2S_ERR_NOT_FOUND);
	GUARD(kh_manifest_row(ks->st[S_M_BY_ORDER], out));
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_manifest_end(struct khstore *ks, const char *order)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	ENSURE(kh_order_ok(order), C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	GUARD(kh_bind_text(ks, S_M_END, 1, order));
	GUARD(kh_run(ks, S_M_END));
	ENSURE(sqlite3_changes(ks->db) == 1, C2S_ERR_NOT_FOUND);
	GUARD(kh_bind_text(ks, S_CODE_DROP, 1, order));
	GUARD(kh_run(ks, S_CODE_DROP));
	GUARD(kh_commit(ks));
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_sweep(struct khstore *ks, int64_t now, unsigned *n)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	*n = 0;
	GUARD(kh_enter(ks, &held));
	GUARD(kh_bind_i64(ks, S_SWEEP, 1, now - KH_SWEEP_AFTER_S));
	GUARD(kh_run(ks, S_SWEEP)); /* one statement: its own transaction; rows go by cascade */
	*n = (unsigned)sqlite3_changes(ks->db);
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

/* ---- signature log ---- */

/* One transaction (one sync) for a batch of rows; all or none. */
static c2s_err kh_sig_write(struct khstore *ks, const struct kh_sig_pending *p)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	for (; p; p = p->next) {
		GUARD(kh_bind_i64(ks, S_SIG_INSERT, 1, p->at));
		GUARD(kh_bind_text(ks, S_SIG_INSERT, 2, p->key));
		GUARD(kh_bind_blob(ks, S_SIG_INSERT, 3, p->digest, p->dlen));
		GUARD(kh_bind_text(ks, S_SIG_INSERT, 4, p->caller));
		GUARD(kh_bind_text(ks, S_SIG_INSERT, 5, p->order));
		GUARD(kh_bind_i64(ks, S_SIG_INSERT, 6, p->doc));
		GUARD(kh_run(ks, S_SIG_INSERT));
	}
	GUARD(kh_commit(ks));
	ret = C2S_OK;
out:
	kh_leave(ks, held); /* rolls back what was not committed */
	return ret;
}

/* The row is durable when this returns C2S_OK (synchronous = FULL). A caller that finds a
 * transaction being written queues its row and waits; the writer of the next one takes every
 * queued row, so concurrent signatures share one sync instead of waiting for one each. */
c2s_err khstore_sig_log(struct khstore *ks, int64_t at, const char *key, const uint8_t *digest,
                        size_t dlen, const char *caller, const char *order, int doc)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	ENSURE(ks != NULL, C2S_ERR_KHSTORE); /* the keyholder could not open its store */
	ENSURE(kh_str_ok(key, 1024) && kh_str_ok(caller, 256) && digest && dlen >= 20 &&
	           dlen <= 64 && doc >= -1 && (!order || kh_order_ok(order)),
	       C2S_ERR_ARG);
	struct kh_sig_pending me = {.at = at,
	                            .key = key,
	                            .caller = caller,
	                            .order = order,
	                            .digest = digest,
	                            .dlen = dlen,
	                            .doc = doc};
	pthread_mutex_lock(&ks->q_mu);
	if (ks->q_tail)
		ks->q_tail->next = &me;
	else
		ks->q_head = &me;
	ks->q_tail = &me;
	while (!me.done) {
		if (ks->q_writing) {
			pthread_cond_wait(&ks->q_cv, &ks->q_mu);
			continue;
		}
		struct kh_sig_pending *batch = ks->q_head;
		ks->q_head = ks->q_tail = NULL;
		ks->q_writing = 1;
		pthread_mutex_unlock(&ks->q_mu);
		c2s_err e = kh_sig_write(ks, batch);
		pthread_mutex_lock(&ks->q_mu);
		/* counted under q_mu, which khstore_sig_commits takes (not ks->mu) */
		if (e == C2S_OK)
			ks->commits++;
		while (batch) { /* each waiter's node is valid until it sees done */
			struct kh_sig_pending *next = batch->next;
			batch->result = e;
			batch->done = 1;
			batch = next;
		}
		ks->q_writing = 0;
		pthread_cond_broadcast(&ks->q_cv);
	}
	ret = me.result;
	pthread_mutex_unlock(&ks->q_mu);
out:
	return ret;
}

uint64_t khstore_sig_commits(struct khstore *ks)
{
	pthread_mutex_lock(&ks->q_mu);
	uint64_t n = ks->commits;
	pthread_mutex_unlock(&ks->q_mu);
	return n;
}

c2s_err khstore_sig_log_count(struct khstore *ks, uint64_t *n)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0, has = 0;
	int64_t v = 0;
	*n = 0;
	GUARD(kh_enter(ks, &held));
	GUARD(kh_int(ks, S_SIG_COUNT, &v, &has));
	*n = has && v > 0 ? (uint64_t)v : 0;
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_sig_log_last(struct khstore *ks, unsigned n, kh_sig_cb cb, void *ctx)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0, row = 0;
	sqlite3_stmt *st;
	GUARD(kh_enter(ks, &held));
	st = ks->st[S_SIG_LAST];
	GUARD(kh_bind_i64(ks, S_SIG_LAST, 1, n));
	for (;;) {
		GUARD(kh_step(ks, S_SIG_LAST, &row));
		if (!row)
			break;
		struct kh_sig_row r = {
		    .id = sqlite3_column_int64(st, 0),
		    .at = sqlite3_column_int64(st, 1),
		    .key = (const char *)sqlite3_column_text(st, 2),
		    .digest = sqlite3_column_blob(st, 3),
		    .dlen = (size_t)sqlite3_column_bytes(st, 3),
		    .caller = (const char *)sqlite3_column_text(st, 4),
		    .order = (const char *)sqlite3_column_text(st, 5),
		    .doc = sqlite3_column_int(st, 6),
		};
		ENSURE(r.key && r.caller && r.digest, C2S_ERR_KHSTORE);
		cb(ctx, &r);
	}
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

/* ---- document-used marks ---- */

c2s_err khstore_doc_mark_used(struct khstore *ks, const char *order, int doc, int64_t now)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	ENSURE(kh_order_ok(order), C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_bind_text(ks, S_DOC_MARK, 1, order));
	GUARD(kh_bind_i64(ks, S_DOC_MARK, 2, doc));
	GUARD(kh_bind_i64(ks, S_DOC_MARK, 3, now));
	/* One INSERT ... SELECT: the mark and its conditions are one atomic, committed statement.
	 */
	int rc = sqlite3_step(ks->st[S_DOC_MARK]);
	ENSURE(rc != SQLITE_CONSTRAINT_PRIMARYKEY, C2S_ERR_DOC_USED);
	GUARD(kh_rc(ks, rc, kh_sql[S_DOC_MARK]));
	ENSURE(sqlite3_changes(ks->db) == 1, C2S_ERR_NOT_FOUND);
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_doc_used(struct khstore *ks, const char *order, int doc, int *used)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0, has = 0;
	int64_t v = 0;
	*used = 0;
	ENSURE(kh_order_ok(order), C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_bind_text(ks, S_DOC_GET, 1, order));
	GUARD(kh_bind_i64(ks, S_DOC_GET, 2, doc));
	GUARD(kh_int(ks, S_DOC_GET, &v, &has));
	*used = has;
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

/* ---- OTP rows ---- */

/* The order's manifest must exist, not be ended and not be past order_expires. */
static c2s_err kh_live(struct khstore *ks, const char *order, int64_t now, int64_t *seq, char *why,
                       size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int row = 0;
	sqlite3_stmt *st = ks->st[S_M_LIVE];
	GUARD(kh_bind_text(ks, S_M_LIVE, 1, order));
	GUARD(kh_step(ks, S_M_LIVE, &row));
	if (!row)
		WHY(C2S_ERR_NOT_FOUND, "the order has no manifest");
	if (sqlite3_column_int(st, 0))
		WHY(C2S_ERR_NOT_FOUND, "the order has ended");
	if (now >= sqlite3_column_int64(st, 1))
		WHY(C2S_ERR_NOT_FOUND, "the order has expired");
	*seq = sqlite3_column_int64(st, 2);
	ret = C2S_OK;
out:
	sqlite3_reset(st);
	return ret;
}

static int kh_rules_ok(const struct khstore_otp_rules *r)
{
	return r && r->resend_s >= 0 && r->max_per_hour >= 1 && r->lifetime_s >= 1 &&
	       r->max_tries >= 1;
}

/* Resend gap and hourly count; *retry_after set on refusal. */
static c2s_err kh_issue_allowed(struct khstore *ks, const char *order, int64_t now,
                                const struct khstore_otp_rules *r, int64_t *retry_after)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int64_t last = 0, count = 0, nth = 0;
	int has = 0;
	GUARD(kh_bind_text(ks, S_ISS_LAST, 1, order));
	GUARD(kh_int(ks, S_ISS_LAST, &last, &has));
	if (has && now - last < r->resend_s) {
		*retry_after = last + r->resend_s;
		ret = C2S_ERR_OTP_TOO_SOON;
		goto out;
	}
	GUARD(kh_bind_text(ks, S_ISS_COUNT, 1, order));
	GUARD(kh_bind_i64(ks, S_ISS_COUNT, 2, now - KH_HOUR));
	GUARD(kh_int(ks, S_ISS_COUNT, &count, &has));
	if (count >= r->max_per_hour) {
		/* the window frees a place when the (count - max + 1)-th oldest leaves it */
		GUARD(kh_bind_text(ks, S_ISS_NTH, 1, order));
		GUARD(kh_bind_i64(ks, S_ISS_NTH, 2, now - KH_HOUR));
		GUARD(kh_bind_i64(ks, S_ISS_NTH, 3, count - r->max_per_hour));
		GUARD(kh_int(ks, S_ISS_NTH, &nth, &has));
		ENSURE(has, C2S_ERR_KHSTORE);
		*retry_after = nth + KH_HOUR;
		ret = C2S_ERR_OTP_LIMIT;
		goto out;
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err khstore_otp_issue(struct khstore *ks, const char *order, int64_t now,
                          const struct khstore_otp_rules *r, khstore_mac_fn mac_fn, void *ctx,
                          int64_t *retry_after, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	uint8_t mac[KH_MAC_LEN];
	int64_t seq = 0;
	int held = 0;
	*retry_after = 0;
	if (!kh_order_ok(order) || !kh_rules_ok(r) || !mac_fn)
		WHY(C2S_ERR_ARG, "invalid order id or OTP policy");
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	GUARD(kh_live(ks, order, now, &seq, why, why_cap));
	GUARD(kh_issue_allowed(ks, order, now, r, retry_after));
	ENSURE(seq >= 0 && seq < UINT32_MAX, C2S_ERR_OTP_LIMIT);
	seq++;
	GUARD(mac_fn(ctx, (uint32_t)seq, mac));
	GUARD(kh_bind_text(ks, S_M_SEQ, 1, order));
	GUARD(kh_bind_i64(ks, S_M_SEQ, 2, seq));
	GUARD(kh_run(ks, S_M_SEQ));
	GUARD(kh_bind_text(ks, S_CODE_PUT, 1, order));
	GUARD(kh_bind_i64(ks, S_CODE_PUT, 2, seq));
	GUARD(kh_bind_blob(ks, S_CODE_PUT, 3, mac, sizeof(mac)));
	GUARD(kh_bind_i64(ks, S_CODE_PUT, 4, now));
	GUARD(kh_bind_i64(ks, S_CODE_PUT, 5, now + r->lifetime_s));
	GUARD(kh_bind_i64(ks, S_CODE_PUT, 6, r->max_tries));
	GUARD(kh_run(ks, S_CODE_PUT));
	GUARD(kh_bind_text(ks, S_ISS_PRUNE, 1, order));
	GUARD(kh_bind_i64(ks, S_ISS_PRUNE, 2, now - KH_KEEP_LOG));
	GUARD(kh_run(ks, S_ISS_PRUNE));
	GUARD(kh_bind_text(ks, S_ISS_INSERT, 1, order));
	GUARD(kh_bind_i64(ks, S_ISS_INSERT, 2, now));
	GUARD(kh_run(ks, S_ISS_INSERT));
	GUARD(kh_commit(ks));
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	explicit_bzero(mac, sizeof(mac));
	return ret;
}

/* Reads the order's code row into the outputs; C2S_ERR_OTP_NONE without one. */
static c2s_err kh_code_get(struct khstore *ks, const char *order, struct kh_otp_state *s,
                           uint8_t mac[KH_MAC_LEN])
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int row = 0;
	sqlite3_stmt *st = ks->st[S_CODE_GET];
	GUARD(kh_bind_text(ks, S_CODE_GET, 1, order));
	GUARD(kh_step(ks, S_CODE_GET, &row));
	ENSURE(row, C2S_ERR_OTP_NONE);
	int64_t seq = sqlite3_column_int64(st, 0), tries = sqlite3_column_int64(st, 4);
	ENSURE(seq > 0 && seq <= UINT32_MAX && tries >= 0 && tries <= 1000, C2S_ERR_KHSTORE);
	s->seq = (uint32_t)seq;
	s->issued_at = sqlite3_column_int64(st, 2);
	s->expires_at = sqlite3_column_int64(st, 3);
	s->tries_left = (unsigned)tries;
	if (mac) {
		ENSURE(sqlite3_column_bytes(st, 1) == KH_MAC_LEN, C2S_ERR_KHSTORE);
		memcpy(mac, sqlite3_column_blob(st, 1), KH_MAC_LEN);
	}
	ret = C2S_OK;
out:
	sqlite3_reset(st);
	return ret;
}

c2s_err khstore_otp_take_try(struct khstore *ks, const char *order, int64_t now,
                             const struct khstore_otp_rules *r, uint32_t *seq,
                             uint8_t mac[KH_MAC_LEN], unsigned *tries_left)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	struct kh_otp_state s = {0};
	int64_t unused = 0, tries_hour = 0;
	int held = 0, has = 0;
	ENSURE(kh_order_ok(order) && kh_rules_ok(r), C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	GUARD(kh_live(ks, order, now, &unused, NULL, 0));
	GUARD(kh_code_get(ks, order, &s, mac));
	*tries_left = s.tries_left;
	ENSURE(now < s.expires_at, C2S_ERR_OTP_EXPIRED);
	ENSURE(s.tries_left > 0, C2S_ERR_OTP_EXHAUSTED);
	/* Every comparison counts, whichever code it was for: at most max_tries * max_per_hour in
	 * any trailing hour, also across a code issued just before the hour began. */
	GUARD(kh_bind_text(ks, S_TRY_COUNT, 1, order));
	GUARD(kh_bind_i64(ks, S_TRY_COUNT, 2, now - KH_HOUR));
	GUARD(kh_int(ks, S_TRY_COUNT, &tries_hour, &has));
	ENSURE(tries_hour < (int64_t)r->max_tries * r->max_per_hour, C2S_ERR_OTP_LIMIT);
	GUARD(kh_bind_text(ks, S_CODE_DEC, 1, order));
	GUARD(kh_bind_i64(ks, S_CODE_DEC, 2, s.seq));
	GUARD(kh_run(ks, S_CODE_DEC));
	ENSURE(sqlite3_changes(ks->db) == 1, C2S_ERR_KHSTORE);
	GUARD(kh_bind_text(ks, S_TRY_PRUNE, 1, order));
	GUARD(kh_bind_i64(ks, S_TRY_PRUNE, 2, now - KH_KEEP_LOG));
	GUARD(kh_run(ks, S_TRY_PRUNE));
	GUARD(kh_bind_text(ks, S_TRY_INSERT, 1, order));
	GUARD(kh_bind_i64(ks, S_TRY_INSERT, 2, now));
	GUARD(kh_run(ks, S_TRY_INSERT));
	GUARD(kh_commit(ks)); /* durable before the caller compares anything */
	*seq = s.seq;
	*tries_left = s.tries_left - 1;
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	if (ret != C2S_OK)
		explicit_bzero(mac, KH_MAC_LEN);
	return ret;
}

c2s_err khstore_otp_consume(struct khstore *ks, const char *order, uint32_t seq)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	ENSURE(kh_order_ok(order), C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_bind_text(ks, S_CODE_CONSUME, 1, order));
	GUARD(kh_bind_i64(ks, S_CODE_CONSUME, 2, seq));
	GUARD(kh_run(ks, S_CODE_CONSUME));
	ENSURE(sqlite3_changes(ks->db) == 1, C2S_ERR_OTP_NONE);
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_otp_state(struct khstore *ks, const char *order, struct kh_otp_state *out)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	ENSURE(kh_order_ok(order) && out, C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_code_get(ks, order, out, NULL));
	ret = C2S_OK;
out:
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_checkpoint_advance(struct khstore *ks, int64_t seq, int64_t *last)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0, began = 0;
	sqlite3_stmt *st = NULL;
	*last = 0;
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	began = 1;
	if (sqlite3_prepare_v2(ks->db, "SELECT last_seq FROM checkpoint WHERE id = 1", -1, &st,
	                       NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW)
		*last = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	ENSURE(seq > *last, C2S_ERR_CONFLICT);
	if (sqlite3_prepare_v2(ks->db,
	                       "INSERT INTO checkpoint (id, last_seq) VALUES (1, ?1) "
	                       "ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, seq) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		goto out;
	GUARD(kh_commit(ks));
	began = 0;
	ret = C2S_OK;
out:
	if (st)
		sqlite3_finalize(st);
	if (began)
		(void)sqlite3_exec(ks->db, "ROLLBACK", NULL, NULL, NULL);
	kh_leave(ks, held);
	return ret;
}

c2s_err khstore_doc_signed(struct khstore *ks, const char *order, int doc, int64_t now,
                           const char *key, const uint8_t *digest, size_t dlen, const char *caller)
{
	c2s_err ret = C2S_ERR_KHSTORE;
	int held = 0;
	ENSURE(kh_order_ok(order) && kh_str_ok(key, 1024) && kh_str_ok(caller, 256) && digest &&
	           dlen >= 20 && dlen <= 64,
	       C2S_ERR_ARG);
	GUARD(kh_enter(ks, &held));
	GUARD(kh_begin(ks));
	GUARD(kh_bind_text(ks, S_DOC_MARK, 1, order));
	GUARD(kh_bind_i64(ks, S_DOC_MARK, 2, doc));
	GUARD(kh_bind_i64(ks, S_DOC_MARK, 3, now));
	int rc = sqlite3_step(ks->st[S_DOC_MARK]);
	sqlite3_reset(ks->st[S_DOC_MARK]);
	ENSURE(rc != SQLITE_CONSTRAINT_PRIMARYKEY, C2S_ERR_DOC_USED);
	GUARD(kh_rc(ks, rc, kh_sql[S_DOC_MARK]));
	ENSURE(sqlite3_changes(ks->db) == 1, C2S_ERR_NOT_FOUND);
	GUARD(kh_bind_i64(ks, S_SIG_INSERT, 1, now));
	GUARD(kh_bind_text(ks, S_SIG_INSERT, 2, key));
	GUARD(kh_bind_blob(ks, S_SIG_INSERT, 3, digest, dlen));
	GUARD(kh_bind_text(ks, S_SIG_INSERT, 4, caller));
	GUARD(kh_bind_text(ks, S_SIG_INSERT, 5, order));
	GUARD(kh_bind_i64(ks, S_SIG_INSERT, 6, doc));
	GUARD(kh_run(ks, S_SIG_INSERT));
	GUARD(kh_commit(ks));
	ret = C2S_OK;
out:
	kh_leave(ks, held); /* rolls back an unfinished transaction */
	return ret;
}
