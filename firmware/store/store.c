#include "store.h"

#include <errno.h>
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

struct store {
	sqlite3 *db;
};

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS api_clients ("
    " name TEXT PRIMARY KEY,"
    " token_sha256 BLOB NOT NULL UNIQUE,"
    " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    " revoked INTEGER NOT NULL DEFAULT 0);";

static c2s_err store_map(struct store *s, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return C2S_OK;
	log_error("sqlite: %s (%d)", s && s->db ? sqlite3_errmsg(s->db) : "?", rc);
	if (rc == SQLITE_FULL)
		return C2S_ERR_STORE_FULL;
	return C2S_ERR_STORE;
}

c2s_err store_open(const char *state_dir, struct store **out)
{
	c2s_err ret = C2S_ERR_STORE;
	char path[4096];
	struct store *s = calloc(1, sizeof(*s));
	*out = NULL;
	ENSURE(s, C2S_ERR_NOMEM);
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		ret = C2S_ERR_IO;
		goto out;
	}
	ENSURE((size_t)snprintf(path, sizeof(path), "%s/click2sign.db", state_dir) < sizeof(path),
	       C2S_ERR_CONFIG);
	GUARD(store_map(
	    s, sqlite3_open_v2(path, &s->db,
	                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                       NULL)));
	sqlite3_busy_timeout(s->db, 5000);
	GUARD(store_map(s, sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
	                                NULL, NULL, NULL)));
	GUARD(store_map(s, sqlite3_exec(s->db, store_schema, NULL, NULL, NULL)));
	*out = s;
	s = NULL;
	ret = C2S_OK;
out:
	store_close(s);
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

static void store_hash_token(const char *token, uint8_t out[32])
{
	/* mbedtls_md is the same in mbedTLS 2.28 and 3.x */
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)token,
	               strlen(token), out) != 0)
		memset(out, 0xff, 32); /* never matches a stored hash of a real token */
}

c2s_err store_client_add(struct store *s, const char *name, char *token_out, size_t token_cap)
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

c2s_err store_client_revoke(struct store *s, const char *name)
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

c2s_err store_client_check(struct store *s, const char *token, char *name, size_t name_cap)
{
	c2s_err ret = C2S_ERR_HTTP_UNAUTHORIZED;
	uint8_t h[32];
	sqlite3_stmt *st = NULL;
	if (strlen(token) != STORE_CLIENT_TOKEN_LEN)
		return C2S_ERR_HTTP_UNAUTHORIZED;
	store_hash_token(token, h);
	/* Look up by the hash (a one-way function of the secret), so timing reveals nothing
	 * usable; the final comparison is constant-time anyway. */
	GUARD(store_map(s, sqlite3_prepare_v2(s->db,
	                                      "SELECT name, token_sha256 FROM api_clients "
	                                      "WHERE token_sha256 = ? AND revoked = 0",
	                                      -1, &st, NULL)));
	sqlite3_bind_blob(st, 1, h, sizeof(h), SQLITE_STATIC);
	int rc = sqlite3_step(st);
	ENSURE(rc == SQLITE_ROW, rc == SQLITE_DONE ? C2S_ERR_HTTP_UNAUTHORIZED : store_map(s, rc));
	ENSURE(sqlite3_column_bytes(st, 1) == 32 &&
	           secmem_cmp(sqlite3_column_blob(st, 1), h, 32) == 0,
	       C2S_ERR_HTTP_UNAUTHORIZED);
	snprintf(name, name_cap, "%s", (const char *)sqlite3_column_text(st, 0));
	ret = C2S_OK;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err store_client_list(struct store *s, store_client_cb cb, void *ctx)
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
