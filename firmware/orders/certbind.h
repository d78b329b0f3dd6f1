/* Customers' certificates bound to portal accounts (certificate login, API.md section 3), and
 * the single use of the portal's assertions. A certificate is identified by its issuer's name
 * and serial number, and its public key (SHA-256 of the SubjectPublicKeyInfo): one key and one
 * certificate belong to at most one account; an account may have several certificates (a
 * renewed one is registered again). */
#ifndef C2S_CERTBIND_H
#define C2S_CERTBIND_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "firmware/store/store.h"

#define CERTBIND_ACCOUNT_MAX 129

struct certbind {
	uint8_t spki_sha256[32];
	uint8_t issuer_sha256[32];
	char serial[81];
	char account[CERTBIND_ACCOUNT_MAX];
	char subject[513];
	char issuer[513];
	int64_t not_after;
	int64_t created_at;
	int64_t last_login_at; /* 0: never */
};

/* Whether `a` is an account id we store: 1..128 of [A-Za-z0-9._:@-]. */
int certbind_account_ok(const char *a);

/* Binds b (created_at = now). C2S_OK, with *already = 1 when this account had it already;
 * C2S_ERR_CONFLICT when the certificate or its key is bound to another account (that account
 * in other, cap CERTBIND_ACCOUNT_MAX). When `jti` is not NULL it is marked used in the same
 * transaction (C2S_ERR_MANIFEST_REPLAY if it was, and nothing is bound). */
C2S_MUST_CHECK c2s_err certbind_add(struct store *s, const struct certbind *b, int64_t now,
                                    const char *jti, int64_t jti_exp, int *already, char *other);
/* The account of the certificate (issuer, serial, and the same key), and records the login
 * time. C2S_ERR_NOT_FOUND when it is not registered. */
C2S_MUST_CHECK c2s_err certbind_login(struct store *s, const uint8_t spki_sha256[32],
                                      const uint8_t issuer_sha256[32], const char *serial,
                                      int64_t now, char *account, size_t cap);
typedef void (*certbind_cb)(void *ctx, const struct certbind *b);
/* The account's certificates, newest first. */
C2S_MUST_CHECK c2s_err certbind_list(struct store *s, const char *account, certbind_cb cb,
                                     void *ctx);
/* Removes the account's certificate whose key fingerprint (hex SHA-256 of the SPKI) is
 * `fingerprint`; C2S_ERR_NOT_FOUND when the account has no such certificate. */
C2S_MUST_CHECK c2s_err certbind_remove(struct store *s, const char *account,
                                       const char *fingerprint);
/* Marks a portal assertion's jti used (expired ones are forgotten first);
 * C2S_ERR_MANIFEST_REPLAY when it was used before. */
C2S_MUST_CHECK c2s_err certbind_use_jti(struct store *s, const char *jti, int64_t exp, int64_t now);

#endif
