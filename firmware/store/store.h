/* SQLite store (WAL, synchronous=FULL). This module owns the schema. */
#ifndef C2S_STORE_H
#define C2S_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"

struct store;

/* Opens (creating the schema if needed) `<state_dir>/click2sign.db`. */
C2S_MUST_CHECK c2s_err store_open(const char *state_dir, struct store **out);
void store_close(struct store *s);

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
