#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct config_ctx {
	struct config *cfg;
	FILE *f;
	int line;
};

static void config_problem(struct config *cfg, int line, const char *section, const char *key,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void config_problem(struct config *cfg, int line, const char *section, const char *key,
                           const char *fmt, ...)
{
	if (cfg->n_problems >= CONFIG_MAX_ERRORS)
		return;
	struct config_problem *p = &cfg->problems[cfg->n_problems++];
	p->line = line;
	snprintf(p->section, sizeof(p->section), "%s", section);
	snprintf(p->key, sizeof(p->key), "%s", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/click2sign");
	cfg->log_level = LOG_LVL_INFO;
	cfg->expiry_warning_days = 30;
	snprintf(cfg->keyholder_user, sizeof(cfg->keyholder_user), "c2s-keyholder");
	snprintf(cfg->web_user, sizeof(cfg->web_user), "c2s-web");
	snprintf(cfg->notify_user, sizeof(cfg->notify_user), "c2s-notify");
	snprintf(cfg->group, sizeof(cfg->group), "click2sign");
	cfg->sandbox = 2;
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->listen_port = 8443;
	snprintf(cfg->cert_listen_host, sizeof(cfg->cert_listen_host), "127.0.0.1");
	cfg->cert_listen_port = 8444;
	cfg->max_body = 32u << 20;
	cfg->max_connections = 4096;
	cfg->max_per_ip = 64;
	cfg->request_timeout = 30;
	cfg->header_timeout = 30;
	cfg->tls_resume = 3600;
	cfg->body_min_rate = 1024;
	cfg->body_memory = (size_t)256 << 20;
	cfg->rate_pages = 600;
	cfg->rate_pages_burst = 120;
	cfg->rate_codes = 6;
	cfg->rate_codes_burst = 10;
	cfg->rate_cert = 600;
	cfg->rate_cert_burst = 120;
	cfg->rate_api = 30000;
	cfg->rate_api_burst = 1000;
	cfg->rate_table = 8192;
	cfg->seal_rate = 50;
	cfg->portal_signature = 1;
	cfg->order_max_lifetime = 604800;
	cfg->otp_lifetime = 300;
	cfg->otp_tries = 3;
	cfg->otp_per_hour = 5;
	cfg->otp_resend = 30;
	snprintf(cfg->otp_text, sizeof(cfg->otp_text),
	         "Click2Sign: potrditvena koda / signing code %%s. Ne posredujte je nikomur. / "
	         "Do not share it.");
	cfg->sad_lifetime = 900;
	cfg->notify_max_attempts = 25;
	snprintf(cfg->mail_domain, sizeof(cfg->mail_domain), "click2sign.invalid");
	snprintf(cfg->signer_key_type, sizeof(cfg->signer_key_type),
	         "ec:p256"); /* a burst of 50, then 50 seals a second; 0 = unlimited, explicitly */
	cfg->workers = 4;
	snprintf(cfg->module, sizeof(cfg->module), "/usr/lib/softhsm/libsofthsm2.so");
	snprintf(cfg->module_allow[0], CONFIG_PATH, "/usr/lib/softhsm/libsofthsm2.so");
	snprintf(cfg->module_allow[1], CONFIG_PATH, "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so");
	cfg->n_module_allow = 2;
	snprintf(cfg->seal_key, sizeof(cfg->seal_key), "c2s-seal");
	snprintf(cfg->seal_name, sizeof(cfg->seal_name), "Click2Sign seal");
	snprintf(cfg->seal_reason, sizeof(cfg->seal_reason), "Sealed by the operator");
	cfg->tsa_timeout_ms = 10000;
	cfg->card = -1;
	cfg->crl_fetch = 1;
	cfg->require_revocation = 1;
	cfg->crl_timeout_ms = 5000;
	cfg->pdf_max = 100u << 20;
	cfg->pdf_parse_mem = 64u << 20;
	cfg->pdf_parse_cpu = 1;
	cfg->pdf_parse_parallel = 4;
}

/* ---- value parsers: return 0 and set *why on failure ---- */

static int parse_uint(const char *v, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
	char *end;
	errno = 0;
	if (*v == '-' || *v == 0)
		return 0;
	unsigned long long n = strtoull(v, &end, 10);
	unsigned long long mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1024ull * 1024 * 1024, end++;
	if (errno || *end || n > hi / mul || n * mul < lo || n * mul > hi)
		return 0;
	*out = n * mul;
	return 1;
}

static int parse_hostport(const char *v, char *host, size_t host_cap, int *port)
{
	const char *colon = strrchr(v, ':');
	unsigned long long p;
	if (!colon || colon == v || (size_t)(colon - v) >= host_cap)
		return 0;
	if (!parse_uint(colon + 1, 0, 65535, &p))
		return 0;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = 0;
	*port = (int)p;
	return 1;
}

static int set_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n >= cap)
		return 0;
	memcpy(dst, v, n + 1);
	return 1;
}

#define CFG_STR(sec, name, field)                                                                  \
	if (strcmp(section, sec) == 0 && strcmp(key, name) == 0) {                                 \
		if (!set_str(cfg->field, sizeof(cfg->field), v))                                   \
			config_problem(cfg, line, section, key, "value is too long (max %zu)",     \
			               sizeof(cfg->field) - 1);                                    \
		return 1;                                                                          \
	}
#define CFG_UINT(sec, name, field, lo, hi, unit)                                                   \
	if (strcmp(section, sec) == 0 && strcmp(key, name) == 0) {                                 \
		unsigned long long n_;                                                             \
		if (!parse_uint(v, lo, hi, &n_))                                                   \
			config_problem(cfg, line, section, key,                                    \
			               "'%s' is not a number from %llu to %llu%s", v,              \
			               (unsigned long long)(lo), (unsigned long long)(hi), unit);  \
		else                                                                               \
			cfg->field = n_;                                                           \
		return 1;                                                                          \
	}

#define CFG_BOOL(sec, name, field)                                                                 \
	if (strcmp(section, sec) == 0 && strcmp(key, name) == 0) {                                 \
		if (strcmp(v, "yes") == 0)                                                         \
			cfg->field = 1;                                                            \
		else if (strcmp(v, "no") == 0)                                                     \
			cfg->field = 0;                                                            \
		else                                                                               \
			config_problem(cfg, line, section, key, "'%s' is not yes or no", v);       \
		return 1;                                                                          \
	}

static int config_allow_list(struct config *cfg, int line, const char *section, const char *key,
                             const char *v)
{
	cfg->n_module_allow = 0;
	const char *p = v;
	while (*p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0) {
			if (cfg->n_module_allow >= CONFIG_MAX_ALLOW || n >= CONFIG_PATH) {
				config_problem(cfg, line, section, key,
				               "too many or too long entries (max %d)",
				               CONFIG_MAX_ALLOW);
				return 1;
			}
			memcpy(cfg->module_allow[cfg->n_module_allow], p, n);
			cfg->module_allow[cfg->n_module_allow++][n] = 0;
		}
		p += n + (e ? 1 : 0);
	}
	return 1;
}

/* "ADDR, ADDR ...": IPv4 or IPv6 literals */
static int config_proxies(struct config *cfg, int line, const char *section, const char *key,
                          const char *v)
{
	cfg->n_trusted_proxies = 0;
	for (const char *p = v; *p;) {
		p += strspn(p, " ,\t");
		size_t n = strcspn(p, " ,\t");
		if (!n)
			break;
		unsigned char bin[16];
		char a[48];
		if (n >= sizeof(a) || cfg->n_trusted_proxies >= CONFIG_MAX_ALLOW) {
			config_problem(cfg, line, section, key, "at most %d addresses",
			               CONFIG_MAX_ALLOW);
			return 1;
		}
		memcpy(a, p, n);
		a[n] = 0;
		if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1) {
			config_problem(cfg, line, section, key,
			               "'%s' is not an IPv4 or IPv6 address (no names, no ranges)",
			               a);
			return 1;
		}
		memcpy(cfg->trusted_proxies[cfg->n_trusted_proxies++], a, n + 1);
		p += n;
	}
	return 1;
}

static int config_kv(struct config *cfg, int line, const char *section, const char *key,
                     const char *v)
{
	CFG_STR("daemon", "state_dir", state_dir);
	CFG_UINT("daemon", "expiry_warning_days", expiry_warning_days, 0, 3650, " days");
	CFG_STR("daemon", "keyholder_user", keyholder_user);
	CFG_STR("daemon", "web_user", web_user);
	CFG_STR("daemon", "notify_user", notify_user);
	CFG_STR("daemon", "group", group);
	if (strcmp(section, "daemon") == 0 && strcmp(key, "sandbox") == 0) {
		if (strcmp(v, "off") == 0)
			cfg->sandbox = 0;
		else if (strcmp(v, "log") == 0)
			cfg->sandbox = 1;
		else if (strcmp(v, "enforce") == 0)
			cfg->sandbox = 2;
		else
			config_problem(cfg, line, section, key,
			               "'%s' is not one of enforce, log, off", v);
		return 1;
	}
	if (strcmp(section, "daemon") == 0 && strcmp(key, "log_level") == 0) {
		int l = log_level_parse(v);
		if (l < 0)
			config_problem(cfg, line, section, key,
			               "'%s' is not one of error, warn, info, debug", v);
		else
			cfg->log_level = l;
		return 1;
	}
	if (strcmp(section, "web") == 0 &&
	    (strcmp(key, "listen") == 0 || strcmp(key, "cert_listen") == 0)) {
		int cert = strcmp(key, "cert_listen") == 0;
		char *host = cert ? cfg->cert_listen_host : cfg->listen_host;
		int *port = cert ? &cfg->cert_listen_port : &cfg->listen_port;
		if (!parse_hostport(v, host, sizeof(cfg->listen_host), port))
			config_problem(cfg, line, section, key,
			               "'%s' is not HOST:PORT (e.g. 127.0.0.1:8443)", v);
		return 1;
	}
	CFG_STR("web", "tls_cert", tls_cert);
	CFG_STR("web", "tls_key", tls_key);
	CFG_STR("web", "public_url", public_url);
	CFG_UINT("web", "max_body", max_body, 1024, 1ull << 30, " bytes");
	CFG_UINT("web", "max_connections", max_connections, 1, 100000, "");
	CFG_UINT("web", "max_per_ip", max_per_ip, 1, 100000, "");
	CFG_UINT("web", "request_timeout", request_timeout, 1, 3600, " seconds");
	CFG_UINT("web", "header_timeout", header_timeout, 1, 3600, " seconds");
	CFG_UINT("web", "tls_resume", tls_resume, 0, 86400, " seconds");
	CFG_UINT("web", "body_min_rate", body_min_rate, 0, 1u << 30, " bytes per second");
	CFG_UINT("web", "body_memory", body_memory, 1u << 20, 1ull << 40, " bytes");
	CFG_UINT("web", "workers", workers, 1, 64, "");
	if (strcmp(section, "web") == 0 && strcmp(key, "trusted_proxies") == 0)
		return config_proxies(cfg, line, section, key, v);
	CFG_UINT("web", "rate_pages", rate_pages, 0, 6000000, " requests a minute");
	CFG_UINT("web", "rate_pages_burst", rate_pages_burst, 1, 1000000, " requests");
	CFG_UINT("web", "rate_codes", rate_codes, 0, 6000000, " requests a minute");
	CFG_UINT("web", "rate_codes_burst", rate_codes_burst, 1, 1000000, " requests");
	CFG_UINT("web", "rate_cert", rate_cert, 0, 6000000, " requests a minute");
	CFG_UINT("web", "rate_cert_burst", rate_cert_burst, 1, 1000000, " requests");
	CFG_UINT("web", "rate_api", rate_api, 0, 6000000, " requests a minute");
	CFG_UINT("web", "rate_api_burst", rate_api_burst, 1, 1000000, " requests");
	CFG_UINT("web", "rate_table", rate_table, 64, 1u << 20, " buckets per kind");
	CFG_STR("token", "module", module);
	if (strcmp(section, "token") == 0 && strcmp(key, "module_allow") == 0)
		return config_allow_list(cfg, line, section, key, v);
	CFG_STR("token", "uri", token_uri);
	CFG_STR("token", "pin_file", pin_file);
	CFG_STR("token", "signature_pin_file", sig_pin_file);
	CFG_STR("token", "card_reader", card_reader);
	CFG_STR("token", "directory", token_dir);
	if (strcmp(section, "token") == 0 && strcmp(key, "card") == 0) {
		if (strcmp(v, "auto") == 0)
			cfg->card = -1;
		else if (strcmp(v, "yes") == 0)
			cfg->card = 1;
		else if (strcmp(v, "no") == 0)
			cfg->card = 0;
		else
			config_problem(cfg, line, section, key, "'%s' is not one of auto, yes, no",
			               v);
		return 1;
	}
	CFG_STR("seal", "key", seal_key);
	CFG_STR("seal", "chain", seal_chain);
	CFG_STR("seal", "name", seal_name);
	CFG_STR("seal", "reason", seal_reason);
	CFG_STR("seal", "location", seal_location);
	CFG_UINT("seal", "rate", seal_rate, 0, 1000000, " per second");
	CFG_STR("tsa", "url", tsa_url);
	CFG_UINT("tsa", "timeout_ms", tsa_timeout_ms, 100, 120000, " ms");
	CFG_STR("tsa", "trust", tsa_trust);
	CFG_UINT("pades", "pdf_max", pdf_max, 1024, 1ull << 31, " bytes");
	CFG_BOOL("pades", "repair", pdf_repair);
	CFG_UINT("pades", "parse_memory", pdf_parse_mem, 16u << 20, 1ull << 34, " bytes");
	CFG_UINT("pades", "parse_cpu", pdf_parse_cpu, 0, 60, " seconds");
	CFG_UINT("pades", "parse_parallel", pdf_parse_parallel, 1, 256, "");
	CFG_STR("keyholder", "state_dir", kh_state_dir);
	CFG_STR("keyholder", "portal_keys", portal_keys);
	if (strcmp(section, "orders") == 0 && strcmp(key, "portal_signature") == 0) {
		if (strcmp(v, "required") == 0)
			cfg->portal_signature = 1;
		else if (strcmp(v, "off") == 0)
			cfg->portal_signature = 0;
		else
			config_problem(cfg, line, section, key, "'%s' is not one of required, off",
			               v);
		return 1;
	}
	CFG_UINT("orders", "max_lifetime", order_max_lifetime, 60, 604800, " seconds");
	CFG_UINT("otp", "lifetime", otp_lifetime, 30, 3600, " seconds");
	CFG_UINT("otp", "tries", otp_tries, 1, 10, "");
	CFG_UINT("otp", "per_hour", otp_per_hour, 1, 60, "");
	CFG_UINT("otp", "resend", otp_resend, 0, 3600, " seconds");
	CFG_STR("otp", "text", otp_text);
	CFG_UINT("sad", "lifetime", sad_lifetime, 60, 86400, " seconds");
	CFG_STR("notify", "smtp_url", smtp_url);
	CFG_STR("notify", "smtp_from", smtp_from);
	CFG_STR("notify", "smtp_user", smtp_user);
	CFG_STR("notify", "smtp_password_file", smtp_password_file);
	CFG_STR("notify", "smtp_ca", smtp_ca);
	CFG_BOOL("notify", "smtp_starttls", smtp_starttls);
	CFG_STR("notify", "sms_url", sms_url);
	CFG_STR("notify", "sms_token_file", sms_token_file);
	CFG_STR("notify", "webhook_url", webhook_url);
	CFG_STR("notify", "webhook_secret_file", webhook_secret_file);
	CFG_STR("notify", "mail_domain", mail_domain);
	CFG_UINT("notify", "max_attempts", notify_max_attempts, 1, 1000, "");
	CFG_STR("assertions", "key", assertion_key);
	CFG_STR("assertions", "audience", assertion_aud);
	CFG_STR("certlogin", "url", cert_public_url);
	CFG_STR("certlogin", "trust_dir", trust_dir);
	CFG_STR("certlogin", "crl_dir", crl_dir);
	CFG_BOOL("certlogin", "crl_fetch", crl_fetch);
	CFG_UINT("certlogin", "crl_timeout_ms", crl_timeout_ms, 100, 60000, " ms");
	if (strcmp(section, "certlogin") == 0 && strcmp(key, "revocation") == 0) {
		if (strcmp(v, "required") == 0)
			cfg->require_revocation = 1;
		else if (strcmp(v, "best-effort") == 0)
			cfg->require_revocation = 0;
		else
			config_problem(cfg, line, section, key,
			               "'%s' is not one of required, best-effort", v);
		return 1;
	}
	if (strcmp(section, "certlogin") == 0 && strcmp(key, "return_url") == 0) {
		/* one per line; each an https:// (or http://127.0.0.1 for tests) prefix */
		if (cfg->n_return_urls >= CONFIG_MAX_ALLOW)
			config_problem(cfg, line, section, key, "at most %d return URLs",
			               CONFIG_MAX_ALLOW);
		else if (strlen(v) >= sizeof(cfg->return_urls[0]) ||
		         !(strncmp(v, "https://", 8) == 0 ||
		           strncmp(v, "http://127.0.0.1", 16) == 0 ||
		           strncmp(v, "http://localhost", 16) == 0) ||
		         strpbrk(v, " \t\"<>\\#?"))
			config_problem(
			    cfg, line, section, key,
			    "'%s' is not an https:// URL without query or fragment (http:// "
			    "only on loopback, for tests)",
			    v);
		else
			snprintf(cfg->return_urls[cfg->n_return_urls++],
			         sizeof(cfg->return_urls[0]), "%s", v);
		return 1;
	}
	CFG_STR("signer", "ca_key", signer_ca_key);
	CFG_STR("signer", "ca_chain", signer_ca_chain);
	CFG_STR("signer", "key_type", signer_key_type);
	config_problem(cfg, line, section, key, "unknown key (or section [%s])", section);
	return 1;
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_ctx *c = user;
	return config_kv(c->cfg, c->line, section, name, value);
}

static char *config_reader(char *str, int num, void *stream)
{
	struct config_ctx *c = stream;
	char *r = fgets(str, num, c->f);
	if (r)
		c->line++;
	return r;
}

static int config_files_not_mine;

void config_files_checked_by_parent(void)
{
	config_files_not_mine = 1;
}

static void config_need_file(struct config *cfg, const char *section, const char *key,
                             const char *path, int required)
{
	if (!path[0]) {
		if (required)
			config_problem(cfg, 0, section, key, "is required");
		return;
	}
	if (!config_files_not_mine && access(path, R_OK) != 0)
		config_problem(cfg, 0, section, key, "cannot read '%s': %s", path, strerror(errno));
}

static void config_check(struct config *cfg)
{
	config_need_file(cfg, "web", "tls_cert", cfg->tls_cert, 1);
	config_need_file(cfg, "web", "tls_key", cfg->tls_key, 1);
	config_need_file(cfg, "token", "module", cfg->module, 1);
	config_need_file(cfg, "token", "pin_file", cfg->pin_file, 1);
	config_need_file(cfg, "token", "signature_pin_file", cfg->sig_pin_file, 0);
	config_need_file(cfg, "seal", "chain", cfg->seal_chain, 0);
	config_need_file(cfg, "tsa", "trust", cfg->tsa_trust, 0);
	if (cfg->module[0] && !config_module_allowed(cfg, cfg->module))
		config_problem(cfg, 0, "token", "module",
		               "'%s' is not on the allow-list [token] module_allow", cfg->module);
	if (!cfg->token_uri[0])
		config_problem(cfg, 0, "token", "uri", "is required (e.g. pkcs11:token=c2s)");
	else if (strncmp(cfg->token_uri, "pkcs11:", 7) != 0)
		config_problem(cfg, 0, "token", "uri",
		               "'%s' must start with pkcs11:", cfg->token_uri);
	if (cfg->listen_port == cfg->cert_listen_port && cfg->listen_port != 0 &&
	    strcmp(cfg->listen_host, cfg->cert_listen_host) == 0)
		config_problem(cfg, 0, "web", "cert_listen", "must differ from [web] listen");
	if (cfg->tsa_url[0] && strncmp(cfg->tsa_url, "http://", 7) != 0 &&
	    strncmp(cfg->tsa_url, "https://", 8) != 0)
		config_problem(cfg, 0, "tsa", "url", "'%s' must be an http:// or https:// URL",
		               cfg->tsa_url);
	if (!cfg->state_dir[0] || cfg->state_dir[0] != '/')
		config_problem(cfg, 0, "daemon", "state_dir", "must be an absolute path");
	if (!cfg->kh_state_dir[0])
		snprintf(cfg->kh_state_dir, sizeof(cfg->kh_state_dir), "%.4000s/keyholder",
		         cfg->state_dir);
	if (!cfg->cert_public_url[0] && cfg->n_return_urls) {
		/* https://host:port[/...] -> https://host:<cert_listen port> */
		const char *h =
		    strncmp(cfg->public_url, "https://", 8) == 0 ? cfg->public_url + 8 : NULL;
		const char *end = h ? h + strcspn(h, "/") : NULL;
		const char *colon = h ? memchr(h, ':', (size_t)(end - h)) : NULL;
		if (colon && h[0] != '[')
			snprintf(cfg->cert_public_url, sizeof(cfg->cert_public_url),
			         "https://%.*s:%d", (int)(colon - h), h, cfg->cert_listen_port);
	}
	if (cfg->cert_public_url[0] && strncmp(cfg->cert_public_url, "https://", 8) != 0)
		config_problem(cfg, 0, "certlogin", "url", "'%s' is not an https:// URL",
		               cfg->cert_public_url);
	if (!cfg->trust_dir[0])
		snprintf(cfg->trust_dir, sizeof(cfg->trust_dir), "%.4000s/trust", cfg->state_dir);
	if (!cfg->crl_dir[0])
		snprintf(cfg->crl_dir, sizeof(cfg->crl_dir), "%.4000s/crls", cfg->state_dir);
	if (!cfg->portal_keys[0])
		snprintf(cfg->portal_keys, sizeof(cfg->portal_keys), "%.4000s/portal-keys",
		         cfg->state_dir);
	{
		const char *p = strstr(cfg->otp_text, "%s");
		if (!p || strstr(p + 2, "%s") || strchr(cfg->otp_text, '%') != p)
			config_problem(cfg, 0, "otp", "text",
			               "must contain %%s (the code) exactly once and no other %%");
	}
	config_need_file(cfg, "notify", "smtp_password_file", cfg->smtp_password_file, 0);
	config_need_file(cfg, "notify", "sms_token_file", cfg->sms_token_file, 0);
	config_need_file(cfg, "notify", "webhook_secret_file", cfg->webhook_secret_file,
	                 cfg->webhook_url[0] != 0);
	if (cfg->smtp_url[0] && strncmp(cfg->smtp_url, "smtp://", 7) != 0 &&
	    strncmp(cfg->smtp_url, "smtps://", 8) != 0)
		config_problem(cfg, 0, "notify", "smtp_url", "'%s' must be smtp:// or smtps://",
		               cfg->smtp_url);
	if (cfg->smtp_url[0] && !cfg->smtp_from[0])
		config_problem(cfg, 0, "notify", "smtp_from", "is required with [notify] smtp_url");
	if (cfg->signer_ca_key[0])
		config_need_file(cfg, "signer", "ca_chain", cfg->signer_ca_chain, 1);
	if (strcmp(cfg->signer_key_type, "ec:p256") != 0 &&
	    strcmp(cfg->signer_key_type, "ec:p384") != 0 &&
	    strcmp(cfg->signer_key_type, "rsa:2048") != 0 &&
	    strcmp(cfg->signer_key_type, "rsa:3072") != 0)
		config_problem(cfg, 0, "signer", "key_type",
		               "'%s' is not one of ec:p256, ec:p384, rsa:2048, rsa:3072",
		               cfg->signer_key_type);
}

c2s_err config_load(const char *path, struct config *cfg)
{
	config_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	struct config_ctx c = {.cfg = cfg, .f = fopen(path, "r"), .line = 0};
	if (!c.f) {
		config_problem(cfg, 0, "", "", "cannot open config file: %s", strerror(errno));
		return C2S_ERR_CONFIG;
	}
	int rc = ini_parse_stream(config_reader, &c, config_handler, &c);
	fclose(c.f);
	if (rc > 0)
		config_problem(cfg, rc, "", "", "syntax error (expected [section] or key = value)");
	else if (rc < 0)
		config_problem(cfg, 0, "", "", "cannot read config file");
	config_check(cfg);
	return cfg->n_problems ? C2S_ERR_CONFIG : C2S_OK;
}

int config_key_line(const char *path, const char *section, const char *key)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[1024], cur[64] = "";
	int n = 0, found = 0;
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		n++;
		const char *p = line + strspn(line, " \t");
		if (*p == '[') {
			size_t l = strcspn(p + 1, "]");
			snprintf(cur, sizeof(cur), "%.*s", (int)(l < 63 ? l : 63), p + 1);
			continue;
		}
		size_t kl = strlen(key);
		if (strcmp(cur, section) == 0 && strncmp(p, key, kl) == 0 &&
		    (p[kl] == ' ' || p[kl] == '\t' || p[kl] == '='))
			found = n;
	}
	fclose(f);
	return found;
}

void config_print_problems(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_problems; i++) {
		const struct config_problem *p = &cfg->problems[i];
		int line = p->line ? p->line : config_key_line(cfg->path, p->section, p->key);
		if (p->key[0] && line)
			fprintf(stderr, "%s:%d: [%s] %s: %s\n", cfg->path, line, p->section, p->key,
			        p->why);
		else if (p->key[0])
			fprintf(stderr, "%s: [%s] %s: %s\n", cfg->path, p->section, p->key, p->why);
		else
			fprintf(stderr, "%s:%d: %s\n", cfg->path, p->line, p->why);
	}
}

int config_card_monitored(const struct config *cfg)
{
	return cfg->card == 1 || (cfg->card == -1 && strstr(cfg->module, "opensc") != NULL);
}

int config_module_allowed(const struct config *cfg, const char *module)
{
	char real[PATH_MAX], allowed[PATH_MAX];
	if (!realpath(module, real))
		return 0;
	for (size_t i = 0; i < cfg->n_module_allow; i++)
		if (realpath(cfg->module_allow[i], allowed) && strcmp(real, allowed) == 0)
			return 1;
	return 0;
}
