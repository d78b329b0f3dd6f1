/* Certificate bindings and used assertions (see certbind.h). Every change is one transaction. */
#include "certbind.h"

#include <stdio.h>
#include <string.h>

#include "firmware/base/log.h"
#include "orders_int.h"

int certbind_account_ok(const char *a)
{
	size_t n = a ? strlen(a) : 0;
	if (n == 0 || n >= CERTBIND_ACCOUNT_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:@-", c)))
			return 0;
	}
	return 1;
}

static c2s_err certbind_jti_tx(struct store *s, const char *jti, int64_t exp, int64_t now)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	GUARD(od_prep(s, "DELETE FROM assertions_used WHERE exp < ?1", &st));
	GUARD(od_bound(s, sqlite3_bind_int64(st, 1, now - 3600), "assertions"));
	GUARD(od_exec(s, st, "forget expired assertions"));
	sqlite3_finalize(st);
	st = NULL;
	GUARD(od_prep(s, "INSERT OR IGNORE INTO assertions_used(jti, exp) VALUES (?1, ?2)", &st));
	GUARD(od_bound(
	    s, sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC) | sqlite3_bind_int64(st, 2, exp),
	    "assertions"));
	GUARD(od_exec(s, st, "use assertion"));
	ret = sqlite3_changes(store_db(s)) == 1 ? C2S_OK : C2S_ERR_MANIFEST_REPLAY;
out:
	sqlite3_finalize(st);
	return ret;
}

c2s_err certbind_use_jti(struct store *s, const char *jti, int64_t exp, int64_t now)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(jti && jti[0] && strlen(jti) <= 128, C2S_ERR_ARG);
	GUARD(store_tx_begin(s));
	ret = certbind_jti_tx(s, jti, exp, now);
	if (ret == C2S_OK)
		return store_tx_commit(s);
	store_tx_rollback(s);
out:
	return ret;
}

c2s_err certbind_add(struct store *s, const struct certbind *b, int64_t now, const char *jti,
                     int64_t jti_exp, int *already, char *other)
{
	c2s_err ret = C2S_ERR_ARG;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	*already = 0;
	other[0] = 0;
	ENSURE(certbind_account_ok(b->account) && b->serial[0], C2S_ERR_ARG);
	GUARD(store_tx_begin(s));
	tx = 1;
	/* the certificate (issuer + serial) or its key, bound already? */
	GUARD(od_prep(s,
	              "SELECT account, issuer_sha256 = ?1 AND serial = ?2 FROM cert_bindings"
	              " WHERE (issuer_sha256 = ?1 AND serial = ?2) OR spki_sha256 = ?3",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_blob(st, 1, b->issuer_sha256, 32, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, b->serial, -1, SQLITE_STATIC) |
	                   sqlite3_bind_blob(st, 3, b->spki_sha256, 32, SQLITE_STATIC),
	               "cert bindings"));
	int rc, renewed = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char acc[CERTBIND_ACCOUNT_MAX];
		od_col_text(st, 0, acc, sizeof(acc));
		if (strcmp(acc, b->account) != 0) {
			snprintf(other, CERTBIND_ACCOUNT_MAX, "%s", acc);
			ENSURE(0, C2S_ERR_CONFLICT);
		}
		if (sqlite3_column_int(st, 1))
			*already = 1;
		else
			renewed = 1; /* the same key in a new certificate of this account */
	}
	GUARD(store_rc(s, rc, "cert bindings"));
	sqlite3_finalize(st);
	st = NULL;
	if (renewed && !*already) {
		/* a renewal that kept the key: the binding follows the new certificate */
		GUARD(od_prep(s, "DELETE FROM cert_bindings WHERE spki_sha256 = ?1", &st));
		GUARD(od_bound(s, sqlite3_bind_blob(st, 1, b->spki_sha256, 32, SQLITE_STATIC),
		               "cert bindings"));
		GUARD(od_exec(s, st, "replace renewed certificate"));
		sqlite3_finalize(st);
		st = NULL;
	}
	if (jti)
		GUARD(certbind_jti_tx(s, jti, jti_exp, now));
	if (!*already) {
		GUARD(
		    od_prep(s,
		            "INSERT INTO cert_bindings(spki_sha256, issuer_sha256, serial, account,"
		            " subject, issuer, not_after, created_at) VALUES (?1, ?2, ?3, ?4, ?5,"
		            " ?6, ?7, ?8)",
		            &st));
		GUARD(od_bound(s,
		               sqlite3_bind_blob(st, 1, b->spki_sha256, 32, SQLITE_STATIC) |
		                   sqlite3_bind_blob(st, 2, b->issuer_sha256, 32, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 3, b->serial, -1, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 4, b->account, -1, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 5, b->subject, -1, SQLITE_STATIC) |
		                   sqlite3_bind_text(st, 6, b->issuer, -1, SQLITE_STATIC) |
		                   sqlite3_bind_int64(st, 7, b->not_after) |
		                   sqlite3_bind_int64(st, 8, now),
		               "cert bindings"));
		GUARD(od_exec(s, st, "bind certificate"));
	}
	sqlite3_finalize(st);
	st = NULL;
	tx = 0;
	return store_tx_commit(s);
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}

c2s_err certbind_login(struct store *s, const uint8_t spki_sha256[32],
                       const uint8_t issuer_sha256[32], const char *serial, int64_t now,
                       char *account, size_t cap)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	account[0] = 0;
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(s,
	              "UPDATE cert_bindings SET last_login_at = ?4 WHERE issuer_sha256 = ?1 AND"
	              " serial = ?2 AND spki_sha256 = ?3 RETURNING account",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_blob(st, 1, issuer_sha256, 32, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC) |
	                   sqlite3_bind_blob(st, 3, spki_sha256, 32, SQLITE_STATIC) |
	                   sqlite3_bind_int64(st, 4, now),
	               "cert bindings"));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		od_col_text(st, 0, account, cap);
	else
		GUARD(store_rc(s, rc, "cert login"));
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		GUARD(store_rc(s, rc, "cert login"));
	sqlite3_finalize(st);
	st = NULL;
	tx = 0;
	GUARD(store_tx_commit(s));
	ret = account[0] ? C2S_OK : C2S_ERR_NOT_FOUND;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}

c2s_err certbind_list(struct store *s, const char *account, certbind_cb cb, void *ctx)
{
	c2s_err ret = C2S_ERR_STORE;
	sqlite3_stmt *st = NULL;
	int rc;
	ret = store_read_begin(s);
	if (ret != C2S_OK)
		return ret;
	GUARD(od_prep(s,
	              "SELECT spki_sha256, issuer_sha256, serial, account, subject, issuer,"
	              " not_after, created_at, coalesce(last_login_at, 0) FROM cert_bindings"
	              " WHERE account = ?1 ORDER BY created_at DESC, serial",
	              &st));
	GUARD(od_bound(s, sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC), "cert bindings"));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct certbind b;
		memset(&b, 0, sizeof(b));
		if (!od_col_sha(st, 0, b.spki_sha256) || !od_col_sha(st, 1, b.issuer_sha256))
			continue;
		od_col_text(st, 2, b.serial, sizeof(b.serial));
		od_col_text(st, 3, b.account, sizeof(b.account));
		od_col_text(st, 4, b.subject, sizeof(b.subject));
		od_col_text(st, 5, b.issuer, sizeof(b.issuer));
		b.not_after = sqlite3_column_int64(st, 6);
		b.created_at = sqlite3_column_int64(st, 7);
		b.last_login_at = sqlite3_column_int64(st, 8);
		cb(ctx, &b);
	}
	ret = store_rc(s, rc, "list cert bindings");
out:
	sqlite3_finalize(st);
	store_tx_rollback(s);
	return ret;
}

c2s_err certbind_remove(struct store *s, const char *account, const char *fingerprint)
{
	c2s_err ret = C2S_ERR_ARG;
	sqlite3_stmt *st = NULL;
	int tx = 0;
	ENSURE(fingerprint && strlen(fingerprint) == 64, C2S_ERR_NOT_FOUND);
	GUARD(store_tx_begin(s));
	tx = 1;
	GUARD(od_prep(s,
	              "DELETE FROM cert_bindings WHERE account = ?1 AND lower(hex(spki_sha256)) = "
	              "lower(?2)",
	              &st));
	GUARD(od_bound(s,
	               sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC) |
	                   sqlite3_bind_text(st, 2, fingerprint, -1, SQLITE_STATIC),
	               "cert bindings"));
	GUARD(od_exec(s, st, "unbind certificate"));
	ret = sqlite3_changes(store_db(s)) == 1 ? C2S_OK : C2S_ERR_NOT_FOUND;
	sqlite3_finalize(st);
	st = NULL;
	tx = 0;
	if (ret == C2S_OK)
		return store_tx_commit(s);
	store_tx_rollback(s);
	return ret;
out:
	sqlite3_finalize(st);
	if (tx)
		store_tx_rollback(s);
	return ret;
}
