/* click2sign-admin: shared pieces of the provisioning tool (one .c file per subcommand).
 * Every failing path prints ONE line to stderr saying what failed and what to do, and the
 * command returns ADMIN_EXIT_FAIL (or ADMIN_EXIT_USAGE for a malformed command line). */
#ifndef C2S_ADMIN_H
#define C2S_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/x509.h>

#include "firmware/base/buf.h"
#include "firmware/base/config.h"
#include "firmware/base/err.h"
#include "hsm/hsm.h"

#define ADMIN_EXIT_OK    0
#define ADMIN_EXIT_FAIL  1
#define ADMIN_EXIT_USAGE 2

#define ADMIN_SPKI_MAX 2048 /* DER SubjectPublicKeyInfo, RSA-8192 fits */
#define ADMIN_MAX_KEYS 256  /* keys looked at by cert import / selftest */

struct admin {
	const char *prog;
	const char *config_path;
	struct config cfg;
	const char *allow[CONFIG_MAX_ALLOW]; /* points into cfg.module_allow */
};

/* One command-line option of a subcommand: "--name VALUE", "--name=VALUE" or a flag. */
struct admin_opt {
	const char *name; /* without the leading "--" */
	int has_arg;
	int required;
	const char *val; /* set by admin_opts_parse ("" for a flag that was given) */
};

/* Parses argv[0..argc) into opts and up to max_pos positional arguments. Prints the reason
 * and returns ADMIN_EXIT_USAGE on an unknown/missing option, else ADMIN_EXIT_OK. */
int admin_opts_parse(const struct admin *a, const char *cmd, int argc, char **argv,
                     struct admin_opt *opts, size_t n_opts, const char **pos, size_t max_pos,
                     size_t *n_pos);

/* Messages. admin_fail prints "click2sign-admin: <msg>" to stderr and returns
 * ADMIN_EXIT_FAIL; admin_usage_fail does the same with a usage hint and ADMIN_EXIT_USAGE. */
int admin_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int admin_usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Full usage text on stderr. */
void admin_usage(void);

/* Loads the config. `strict`: every problem is fatal and all are printed (like
 * click2signd -n). Otherwise problems in the sections the admin tool does not use ([web],
 * [tsa], [pades]) and a not-yet-written [seal] chain are ignored, and the first fatal one
 * is printed as the one-line reason. */
C2S_MUST_CHECK c2s_err admin_config_load(struct admin *a, int strict);
/* Whether a config problem is fatal for the admin tool outside `init`. */
int admin_problem_fatal(const struct config_problem *p);

/* Reads a secret (PIN) file into secmem (free with admin_secret_free). `what` names it in
 * the message printed on failure (e.g. "[token] pin_file"). */
C2S_MUST_CHECK c2s_err admin_secret_read(const char *path, const char *what, char **out,
                                         size_t *len);
void admin_secret_free(char *s);

/* Fills an hsm_config from the config (module, allow-list, token uri, pool of 1). */
void admin_hsm_config(struct admin *a, struct hsm_config *hc);
/* Opens the configured token; with `login` the PIN comes from [token] pin_file.
 * Prints the reason on failure. */
C2S_MUST_CHECK c2s_err admin_hsm_open(struct admin *a, int login, struct hsm **out);
/* After hsm_open with a PIN: fails (printing why) unless the token is present and the
 * login worked. `pin_what` names where the PIN came from. */
C2S_MUST_CHECK c2s_err admin_hsm_login_check(struct hsm *h, const char *pin_what);
/* Finds a private key by label or pkcs11: URI; prints the reason on failure. */
C2S_MUST_CHECK c2s_err admin_key_find(struct hsm *h, const char *label, struct hsm_key **out);
/* pkcs11: URI naming exactly this key (object label + id), percent-encoded. */
void admin_key_uri(const struct hsm_key_info *ki, char *out, size_t cap);
/* All private keys in the token (at most ADMIN_MAX_KEYS); caller frees *out. */
C2S_MUST_CHECK c2s_err admin_key_list_all(struct hsm *h, struct hsm_key_info **out, size_t *n);

/* Well-formed UTF-8 without control characters. */
int admin_utf8_ok(const unsigned char *s, size_t n);
/* "CN=Žiga Čas, O=Test, C=SI": UTF-8 values as they are, others as #hex. */
void admin_dn_string(const mbedtls_x509_name *dn, char *out, size_t cap);
/* Lower-case hex of bytes; truncated (with NUL) to cap. */
void admin_hex(const uint8_t *p, size_t n, char *out, size_t cap);
/* "rsa:3072", "ec:p256" */
void admin_key_type_str(const struct hsm_key_info *ki, char *out, size_t cap);
/* Canonical DER of a SubjectPublicKeyInfo (parsed and re-written with mbedTLS) so that two
 * encodings of the same key compare equal. `out` must hold ADMIN_SPKI_MAX bytes. */
C2S_MUST_CHECK c2s_err admin_spki_canonical(const uint8_t *spki, size_t len, uint8_t *out,
                                            size_t *out_len);
/* Whether two SPKIs (any valid DER) hold the same public key. */
int admin_spki_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
/* The key's canonical SPKI; prints the reason on failure. */
C2S_MUST_CHECK c2s_err admin_key_spki(struct hsm *h, struct hsm_key *k, uint8_t *out,
                                      size_t *out_len);
/* Writes a file atomically (temp file in the same directory, fsync, rename) with `mode`. */
C2S_MUST_CHECK c2s_err admin_write_file(const char *path, const void *data, size_t len,
                                        unsigned mode);
/* Monotonic milliseconds. */
double admin_now_ms(void);

/* Subcommands: argc/argv start after the command word(s). */
int admin_cmd_init(struct admin *a, int argc, char **argv);
int admin_cmd_token(struct admin *a, int argc, char **argv);
int admin_cmd_key(struct admin *a, int argc, char **argv);
int admin_cmd_csr(struct admin *a, int argc, char **argv);
int admin_cmd_cert(struct admin *a, int argc, char **argv);
int admin_cmd_client(struct admin *a, int argc, char **argv);
int admin_cmd_selftest(struct admin *a, int argc, char **argv);
int admin_cmd_portal_key(struct admin *a, int argc, char **argv);
int admin_cmd_trust(struct admin *a, int argc, char **argv);
int admin_cmd_crl(struct admin *a, int argc, char **argv);
int admin_cmd_audit(struct admin *a, int argc, char **argv);

/* CSR building blocks (admin_csr.c), exposed for tests.
 * Checks a subject string: valid UTF-8, no control characters, parses as a DN. `why` gets
 * the reason on failure. */
C2S_MUST_CHECK c2s_err admin_csr_subject_check(const char *subject, char *why, size_t why_cap);
/* DER CertificationRequestInfo for subject + SPKI (attributes empty). */
C2S_MUST_CHECK c2s_err admin_csr_info(const char *subject, const uint8_t *spki, size_t spki_len,
                                      struct buf *info);
/* Wraps info + signature into a PKCS#10 request (DER). `sig_oid` is the signature
 * algorithm OID (DER contents); `rsa` adds the NULL parameters RSA requires. */
C2S_MUST_CHECK c2s_err admin_csr_wrap(const struct buf *info, const char *sig_oid,
                                      size_t sig_oid_len, int rsa, const uint8_t *sig,
                                      size_t sig_len, struct buf *der);

#endif
