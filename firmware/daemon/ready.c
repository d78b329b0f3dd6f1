/* Readiness checks (see ready.h). */
#include "ready.h"

#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "firmware/base/buf.h"
#include "firmware/base/clock.h"
#include "firmware/base/sandbox.h"
#include "firmware/base/secmem.h"
#include "hsm/hsm.h"

static void ready_add(struct ready *r, int fatal, const char *section, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void ready_add(struct ready *r, int fatal, const char *section, const char *key,
                      const char *fmt, ...)
{
	r->fatal += fatal != 0; /* counted even past READY_MAX, where it is not kept */
	if (r->n >= READY_MAX)
		return;
	struct ready_problem *p = &r->p[r->n++];
	snprintf(p->section, sizeof(p->section), "%s", section);
	snprintf(p->key, sizeof(p->key), "%s", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->fatal = fatal;
}

static void ready_pin(struct ready *r, const char *section, const char *key, const char *path)
{
	char pin[256], why[400];
	size_t len = 0;
	if (!path[0])
		return;
	/* owner, mode, a symbolic link, stray whitespace: the keyholder's own reader decides */
	if (secmem_read_secret_file(path, pin, sizeof(pin), &len, why, sizeof(why)) != C2S_OK)
		ready_add(r, 1, section, key, "%s", why);
	explicit_bzero(pin, sizeof(pin));
}

static int64_t ready_time(const mbedtls_x509_time *t)
{
	return clock_timegm(t->year, t->mon, t->day, t->hour, t->min, t->sec);
}

static void ready_tls(const struct config *cfg, int64_t now, struct ready *r)
{
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	if (!cfg->tls_cert[0] || !cfg->tls_key[0])
		goto out; /* the configuration check names what is missing */
	if (mbedtls_x509_crt_parse_file(&crt, cfg->tls_cert) < 0 || !crt.raw.len) {
		ready_add(r, 1, "web", "tls_cert",
		          "%s is not a PEM certificate (the server certificate first, then its "
		          "issuers)",
		          cfg->tls_cert);
		r->no_start = 1;
		goto out;
	}
	struct stat ks;
	if (stat(cfg->tls_key, &ks) == 0 && (ks.st_mode & 077))
		ready_add(r, 0, "web", "tls_key",
		          "%s has mode %04o: the TLS private key should be readable by the service "
		          "user only (chmod 600 %s)",
		          cfg->tls_key, (unsigned)(ks.st_mode & 07777), cfg->tls_key);
	if (mbedtls_pk_parse_keyfile(&key, cfg->tls_key, NULL) != 0) {
		ready_add(r, 1, "web", "tls_key",
		          "%s is not an unencrypted PEM private key (PKCS#8 or traditional)",
		          cfg->tls_key);
		r->no_start = 1;
		goto out;
	}
	if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
		ready_add(r, 1, "web", "tls_key",
		          "%s does not belong to the certificate in %s: the listeners could not "
		          "start; install the key the certificate was issued for",
		          cfg->tls_key, cfg->tls_cert);
		r->no_start = 1;
		goto out;
	}
	int64_t nb = ready_time(&crt.valid_from), na = ready_time(&crt.valid_to);
	char date[32];
	time_t t = (time_t)(now > na ? na : nb);
	struct tm tm;
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&t, &tm));
	if (now > na)
		ready_add(r, 1, "web", "tls_cert",
		          "the server certificate in %s expired on %s; browsers will refuse it",
		          cfg->tls_cert, date);
	else if (now < nb)
		ready_add(r, 1, "web", "tls_cert",
		          "the server certificate in %s is valid only from %s", cfg->tls_cert,
		          date);
	else if (na - now < (int64_t)cfg->expiry_warning_days * 86400) {
		t = (time_t)na;
		strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&t, &tm));
		ready_add(r, 0, "web", "tls_cert",
		          "the server certificate in %s expires on %s (in %lld days): renew it",
		          cfg->tls_cert, date, (long long)((na - now) / 86400));
	}
out:
	mbedtls_x509_crt_free(&crt);
	mbedtls_pk_free(&key);
}

/* The TSA's trust anchors: each must be current (an expired anchor fails every B-T seal). */
static void ready_tsa_trust(const struct config *cfg, int64_t now, struct ready *r)
{
	mbedtls_x509_crt crt;
	if (!cfg->tsa_trust[0])
		return;
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_file(&crt, cfg->tsa_trust) < 0 || !crt.raw.len) {
		ready_add(r, 1, "tsa", "trust", "%s holds no PEM certificate", cfg->tsa_trust);
		goto out;
	}
	for (const mbedtls_x509_crt *c = &crt; c && c->raw.len; c = c->next) {
		int64_t na = ready_time(&c->valid_to);
		char date[32];
		time_t t = (time_t)na;
		struct tm tm;
		strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&t, &tm));
		if (now > na)
			ready_add(
			    r, 1, "tsa", "trust",
			    "a TSA trust anchor in %s expired on %s: every B-T seal would fail; "
			    "install the TSA's current root",
			    cfg->tsa_trust, date);
		else if (na - now < (int64_t)cfg->expiry_warning_days * 86400)
			ready_add(r, 0, "tsa", "trust", "a TSA trust anchor in %s expires on %s",
			          cfg->tsa_trust, date);
	}
out:
	mbedtls_x509_crt_free(&crt);
}

/* The token reachable and the seal key's certificate in it, current. Without a login: a wrong
 * PIN must not cost a try of the token's counter for a check. */
static void ready_token(const struct config *cfg, int64_t now, struct ready *r)
{
	const char *allow[CONFIG_MAX_ALLOW];
	for (size_t i = 0; i < cfg->n_module_allow; i++)
		allow[i] = cfg->module_allow[i];
	struct hsm_config hc = {.module_path = cfg->module,
	                        .allow = allow,
	                        .n_allow = cfg->n_module_allow,
	                        .token_uri = cfg->token_uri,
	                        .pool_size = 1};
	struct hsm *h = NULL;
	char why[HSM_WHY] = "";
	struct buf der;
	mbedtls_x509_crt crt;
	buf_init(&der, 65536);
	mbedtls_x509_crt_init(&crt);
	c2s_err e = hsm_open(&hc, &h, why, sizeof(why));
	if (e != C2S_OK) {
		ready_add(r, 1, "token", "uri", "%s", why[0] ? why : c2s_err_message(e));
		goto out;
	}
	struct hsm_token_info ti;
	if (hsm_token_info(h, &ti) == C2S_OK && !ti.present) {
		hsm_absent_reason(h, why, sizeof(why));
		ready_add(r, 1, "token", "uri", "the token is not present: %s", why);
		goto out;
	}
	if (strncmp(cfg->seal_key, "pkcs11:", 7) == 0)
		goto out; /* a URI names the key by more than a label: `selftest` checks it */
	e = hsm_cert_by_label(h, cfg->seal_key, &der);
	if (e == C2S_ERR_NOT_FOUND) {
		ready_add(
		    r, 1, "seal", "key",
		    "the token has no certificate labelled '%s': the seal key is missing or "
		    "its certificate was never imported (`click2sign-admin selftest` names the "
		    "keys there; `cert import` stores the certificate)",
		    cfg->seal_key);
		goto out;
	}
	if (e != C2S_OK || mbedtls_x509_crt_parse_der(&crt, der.data, der.len) != 0) {
		ready_add(r, 1, "seal", "key",
		          "the seal certificate in the token cannot be read (%s)",
		          c2s_err_message(e));
		goto out;
	}
	int64_t nb = ready_time(&crt.valid_from), na = ready_time(&crt.valid_to);
	char date[32];
	time_t t = (time_t)(now > na || now >= nb ? na : nb);
	struct tm tm;
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&t, &tm));
	if (now > na)
		ready_add(r, 1, "seal", "key",
		          "the seal certificate expired on %s: seals would be refused; renew it",
		          date);
	else if (now < nb)
		ready_add(r, 1, "seal", "key", "the seal certificate is valid only from %s", date);
	else if (na - now < (int64_t)cfg->expiry_warning_days * 86400)
		ready_add(r, 0, "seal", "key", "the seal certificate expires on %s (in %lld days)",
		          date, (long long)((na - now) / 86400));
out:
	mbedtls_x509_crt_free(&crt);
	buf_free(&der);
	if (h)
		hsm_close(h);
}

/* As root, each child runs as its own user: they must exist (sandbox.h). */
static void ready_users(const struct config *cfg, struct ready *r)
{
	struct sandbox_ids ids;
	char why[512];
	if (sandbox_ids(cfg, &ids, why, sizeof(why)) == C2S_OK)
		return;
	ready_add(r, 1, "daemon", ids.bad_key, "%s", why);
	r->no_start = 1;
}

void ready_check(const struct config *cfg, int64_t now, int with_token, struct ready *r)
{
	memset(r, 0, sizeof(*r));
	ready_users(cfg, r);
	ready_pin(r, "token", "pin_file", cfg->pin_file);
	ready_pin(r, "token", "signature_pin_file", cfg->sig_pin_file);
	ready_tls(cfg, now, r);
	ready_tsa_trust(cfg, now, r);
	if (with_token)
		ready_token(cfg, now, r);
}

void ready_print(const struct ready *r, const char *config_path)
{
	for (size_t i = 0; i < r->n; i++) {
		int line = config_key_line(config_path, r->p[i].section, r->p[i].key);
		char where[32] = "";
		if (line)
			snprintf(where, sizeof(where), ":%d", line);
		fprintf(stderr, "%s%s: [%s] %s: %s%s\n", config_path, where, r->p[i].section,
		        r->p[i].key, r->p[i].fatal ? "" : "warning: ", r->p[i].why);
	}
}
