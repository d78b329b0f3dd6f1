/* Shared helpers for the hsm_*_test.c programs: a private SoftHSM2 token per test in a
 * mkdtemp directory, the fault module's path, and signature verification with mbedTLS. */
#ifndef C2S_HSM_TEST_COMMON_H
#define C2S_HSM_TEST_COMMON_H

#include <ftw.h>
#include <limits.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hsm/hsm.h"

#define T_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define T_SO_PIN  "87654321"
#define T_PIN     "123456"

struct t_env {
	char dir[PATH_MAX];
	char conf[PATH_MAX + 32];
	char module[PATH_MAX]; /* module hsm_open loads (SoftHSM2 or the fault module) */
	const char *allow[2];
	struct hsm_config cfg;
};

static int t_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static inline void t_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Fresh SoftHSM2 token directory; SOFTHSM2_CONF set. */
static inline void t_env_init(struct t_env *e, const char *module)
{
	char text[PATH_MAX + 128], tok[PATH_MAX + 16];
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/c2s-hsmtest-XXXXXX");
	if (!mkdtemp(e->dir))
		abort();
	snprintf(tok, sizeof(tok), "%s/tokens", e->dir);
	mkdir(tok, 0700);
	snprintf(e->conf, sizeof(e->conf), "%s/softhsm2.conf", e->dir);
	snprintf(text, sizeof(text),
	         "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tok);
	t_write_file(e->conf, text);
	setenv("SOFTHSM2_CONF", e->conf, 1);
	snprintf(e->module, sizeof(e->module), "%s", module ? module : T_SOFTHSM);
	e->allow[0] = e->module;
	e->allow[1] = T_SOFTHSM;
	e->cfg.module_path = e->module;
	e->cfg.allow = e->allow;
	e->cfg.n_allow = 2;
	e->cfg.token_uri = "pkcs11:token=c2s-test";
	e->cfg.pin = T_PIN;
	e->cfg.pin_len = strlen(T_PIN);
	e->cfg.pool_size = 2;
}

static inline void t_env_fini(struct t_env *e)
{
	if (e->dir[0])
		nftw(e->dir, t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	e->dir[0] = '\0';
}

/* Path of the fault module built next to the tests. */
static inline const char *t_faultp11_path(void)
{
	static char p[PATH_MAX];
	const char *b = getenv("C2S_BUILD_DIR");
	snprintf(p, sizeof(p), "%s/tests/tools/faultp11/libc2s_faultp11.so", b ? b : ".");
	return p;
}

/* Replace the fault module's rule file atomically (it re-reads it when the mtime changes). */
static inline void t_fault_rules(const char *rules_path, const char *text)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.new", rules_path);
	t_write_file(tmp, text);
	if (rename(tmp, rules_path) != 0) {
		perror(rules_path);
		abort();
	}
}

/* Calls (faults=0) or injected faults (faults=1) of `fn` from the module's stats file;
 * `fn` is a function name or "C_Login/so", "C_Login/user", "C_Login/context". */
static inline unsigned long t_fault_stat(const char *stats_path, const char *fn, int faults)
{
	char name[64];
	unsigned long c = 0, x = 0, rc = 0, rx = 0;
	FILE *fp = fopen(stats_path, "r");
	while (fp && fscanf(fp, "%63s %lu %lu", name, &c, &x) == 3)
		if (strcmp(name, fn) == 0)
			rc = c, rx = x;
	if (fp)
		fclose(fp);
	return faults ? rx : rc;
}

static inline mbedtls_md_type_t t_md(enum hsm_hash h)
{
	return h == HSM_HASH_SHA256   ? MBEDTLS_MD_SHA256
	       : h == HSM_HASH_SHA384 ? MBEDTLS_MD_SHA384
	                              : MBEDTLS_MD_SHA512;
}

static inline void t_digest(enum hsm_hash h, const void *msg, size_t len, uint8_t *out)
{
	mbedtls_md(mbedtls_md_info_from_type(t_md(h)), msg, len, out);
}

/* 0 when `sig` verifies over `digest` with the SPKI. */
static inline int t_verify(const struct buf *spki, enum hsm_mech m, enum hsm_hash h,
                           const uint8_t *digest, const uint8_t *sig, size_t sig_len)
{
	mbedtls_pk_context pk;
	int r;
	mbedtls_pk_init(&pk);
	r = mbedtls_pk_parse_public_key(&pk, spki->data, spki->len);
	if (r == 0 && m == HSM_MECH_RSA_PSS) {
		mbedtls_pk_rsassa_pss_options o = {t_md(h), (int)hsm_hash_len(h)};
		r = mbedtls_pk_verify_ext(MBEDTLS_PK_RSASSA_PSS, &o, &pk, t_md(h), digest,
		                          hsm_hash_len(h), sig, sig_len);
	} else if (r == 0) {
		r = mbedtls_pk_verify(&pk, t_md(h), digest, hsm_hash_len(h), sig, sig_len);
	}
	mbedtls_pk_free(&pk);
	return r;
}

static inline double t_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
