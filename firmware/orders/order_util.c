/* Statement and hash helpers shared by the files of firmware/orders/. */
#include "orders_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "firmware/base/sha256.h"

c2s_err od_sha256(const void *p, size_t n, uint8_t out[32])
{
	if (!p && n)
		return C2S_ERR_ARG;
	c2s_sha256_oneshot(p, n, out);
	return C2S_OK;
}

void od_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

json_t *od_json_hex(const uint8_t *p, size_t n)
{
	char hex[129];
	if (n > 64)
		return NULL;
	od_hex(p, n, hex);
	return json_string(hex);
}

char *od_json_text(const json_t *j)
{
	return c2s_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

c2s_err od_prep(struct store *s, const char *sql, sqlite3_stmt **st)
{
	return store_rc(s, sqlite3_prepare_v2(store_db(s), sql, -1, st, NULL), sql);
}

c2s_err od_bound(struct store *s, int rc_or, const char *what)
{
	return rc_or == SQLITE_OK ? C2S_OK : store_rc(s, SQLITE_ERROR, what);
}

c2s_err od_exec(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = SQLITE_MISUSE;
	return store_rc(s, rc, what);
}

void od_col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

int od_col_sha(sqlite3_stmt *st, int col, uint8_t out[32])
{
	const void *p = sqlite3_column_blob(st, col);
	if (!p || sqlite3_column_bytes(st, col) != 32)
		return 0;
	memcpy(out, p, 32);
	return 1;
}
