/* SQLite store (WAL, synchronous=FULL). This module owns the schema and its migrations; the
 * modules above it (firmware/orders/) run their statements on store_db() inside store_tx_*.
 *
 * Locking: one connection per struct store, guarded by one mutex. store_tx_begin takes it and
 * store_tx_commit / store_tx_rollback release it, so a transaction of one thread never sees
 * (or is seen by) another thread's statements. Other processes (notify) open their own
 * connection; SQLite's file locks and the busy timeout order them. */
#ifndef C2S_STORE_H
#define C2S_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"

struct store;

/* The schema version this build creates and understands (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 3

/* Opens `<state_dir>/click2sign.db` (creating the directory 0700 and the file if needed) and
 * migrates it to STORE_SCHEMA_VERSION, each step in its own transaction. A database newer than
 * this build is refused (C2S_ERR_STORE) and left untouched. `why` gets a sentence for people. */
C2S_MUST_CHECK c2s_err store_open_why(const char *state_dir, struct store **out, char *why,
                                      size_t why_cap);
/* store_open_why that logs the reason. */
C2S_MUST_CHECK c2s_err store_open(const char *state_dir, struct store **out);
void store_close(struct store *s);

/* The state directory the store was opened in (blobs live under it). */
const char *store_state_dir(const struct store *s);
/* The connection, for modules above the store. Use it only between store_tx_begin (or
 * store_read_begin) and the matching end. */
sqlite3 *store_db(struct store *s);
/* Translates an SQLite result code at the module boundary: OK/ROW/DONE -> C2S_OK,
 * FULL -> C2S_ERR_STORE_FULL, anything else C2S_ERR_STORE (logged with `what`). */
C2S_MUST_CHECK c2s_err store_rc(struct store *s, int rc, const char *what);

/* A write transaction: takes the store's lock, then BEGIN IMMEDIATE (the write lock up front, so
 * a transaction never fails half-way on a lock upgrade). On failure the lock is released. */
C2S_MUST_CHECK c2s_err store_tx_begin(struct store *s);
/* COMMIT and release the lock. A failed commit is rolled back; either way the lock is released. */
C2S_MUST_CHECK c2s_err store_tx_commit(struct store *s);
/* ROLLBACK (when a transaction is open) and release the lock. */
void store_tx_rollback(struct store *s);
/* A read transaction (one consistent snapshot for several statements); end it with
 * store_tx_rollback. */
C2S_MUST_CHECK c2s_err store_read_begin(struct store *s);

/* Old versions of pages (a scrubbed secret among them) leave the write-ahead log: checkpoint
 * everything and truncate it. C2S_ERR_BUSY while readers hold older snapshots (try again). */
C2S_MUST_CHECK c2s_err store_wal_scrub(struct store *s);

/* API clients: tokens are random; only SHA-256 of the token is stored. */
#define STORE_CLIENT_TOKEN_LEN 43 /* base64url of 32 random bytes */
C2S_MUST_CHECK c2s_err store_client_add(struct store *s, const char *name, char *token_out,
                                        size_t token_cap);
C2S_MUST_CHECK c2s_err store_client_revoke(struct store *s, const char *name);
/* C2S_OK and the client's name when the bearer token belongs to an active client. */
C2S_MUST_CHECK c2s_err store_client_check(struct store *s, const char *token, char *name,
                                          size_t name_cap);
typedef void (*store_client_cb)(void *ctx, const char *name, const char *created, int revoked);
C2S_MUST_CHECK c2s_err store_client_list(struct store *s, store_client_cb cb, void *ctx);

#endif
