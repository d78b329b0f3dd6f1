/* click2sign-admin: messages, option parsing, config loading, PIN files, files on disk. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>

#include "firmware/base/secmem.h"

static void admin_vmsg(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void admin_vmsg(const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	/* one line: a reason must never spill onto a second line */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	fprintf(stderr, "click2sign-admin: %s\n", line);
}

int admin_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	admin_vmsg(fmt, ap);
	va_end(ap);
	return ADMIN_EXIT_FAIL;
}

int admin_usage_fail(const char *cmd, const char *fmt, ...)
{
	char line[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "click2sign-admin: %s%s%s; run `click2sign-admin --help` for usage\n",
	        cmd ? cmd : "", cmd ? ": " : "", line);
	return ADMIN_EXIT_USAGE;
}

static struct admin_opt *admin_opt_find(struct admin_opt *opts, size_t n, const char *name,
                                        size_t name_len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == name_len && memcmp(opts[i].name, name, name_len) == 0)
			return &opts[i];
	return NULL;
}

int admin_opts_parse(const struct admin *a, const char *cmd, int argc, char **argv,
                     struct admin_opt *opts, size_t n_opts, const char **pos, size_t max_pos,
                     size_t *n_pos)
{
	(void)a;
	*n_pos = 0;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
			if (*n_pos >= max_pos)
				return admin_usage_fail(cmd, "unexpected argument '%s'", arg);
			pos[(*n_pos)++] = arg;
			continue;
		}
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
		struct admin_opt *o = admin_opt_find(opts, n_opts, name, name_len);
		if (!o)
			return admin_usage_fail(cmd, "unknown option '%s'", arg);
		if (!o->has_arg) {
			if (eq)
				return admin_usage_fail(cmd, "option --%s takes no value", o->name);
			o->val = "";
		} else if (eq) {
			o->val = eq + 1;
		} else if (i + 1 < argc) {
			o->val = argv[++i];
		} else {
			return admin_usage_fail(cmd, "option --%s needs a value", o->name);
		}
	}
	for (size_t i = 0; i < n_opts; i++)
		if (opts[i].required && (!opts[i].val || !opts[i].val[0]))
			return admin_usage_fail(cmd, "option --%s is required", opts[i].name);
	return ADMIN_EXIT_OK;
}

int admin_problem_fatal(const struct config_problem *p)
{
	/* sections the daemon uses but the admin tool does not */
	if (strcmp(p->section, "web") == 0 || strcmp(p->section, "tsa") == 0 ||
	    strcmp(p->section, "pades") == 0)
		return 0;
	/* `cert import` writes the seal chain; before that it cannot exist */
	if (strcmp(p->section, "seal") == 0 && strcmp(p->key, "chain") == 0 &&
	    strncmp(p->why, "cannot read", 11) == 0)
		return 0;
	return 1;
}

/* Non-init commands: one line naming the first problem that matters. */
static void admin_config_first_problem(const struct admin *a, size_t fatal)
{
	for (size_t i = 0; i < a->cfg.n_problems; i++) {
		const struct config_problem *p = &a->cfg.problems[i];
		if (!admin_problem_fatal(p))
			continue;
		char more[96] = "";
		if (fatal > 1)
			snprintf(more, sizeof(more), " (%zu more; `init` lists them all)",
			         fatal - 1);
		if (p->key[0])
			admin_fail("config %s:%d: [%s] %s: %s; fix it and retry%s", a->config_path,
			           p->line, p->section, p->key, p->why, more);
		else
			admin_fail("config %s:%d: %s; fix it and retry%s", a->config_path, p->line,
			           p->why, more);
		return;
	}
}

c2s_err admin_config_load(struct admin *a, int strict)
{
	c2s_err ret = config_load(a->config_path, &a->cfg);
	size_t fatal = 0;
	for (size_t i = 0; i < a->cfg.n_problems; i++)
		if (strict || admin_problem_fatal(&a->cfg.problems[i]))
			fatal++;
	for (size_t i = 0; i < CONFIG_MAX_ALLOW; i++)
		a->allow[i] = a->cfg.module_allow[i];
	if (ret == C2S_OK || fatal == 0)
		return C2S_OK;
	if (!strict) {
		admin_config_first_problem(a, fatal);
		return C2S_ERR_CONFIG;
	}
	config_print_problems(&a->cfg);
	admin_fail("config %s has %zu problem(s), listed above; fix them and retry", a->config_path,
	           fatal);
	return C2S_ERR_CONFIG;
}

c2s_err admin_secret_read(const char *path, const char *what, char **out, size_t *len)
{
	c2s_err ret = C2S_ERR_PIN_FILE;
	char why[512];
	char *s = secmem_alloc(HSM_MAX_PIN);
	*out = NULL;
	*len = 0;
	ENSURE(s, C2S_ERR_NOMEM);
	if (!path || !path[0]) {
		admin_fail("%s is not set; point it to a file holding the PIN (mode 0600)", what);
		goto out;
	}
	ret = secmem_read_secret_file(path, s, HSM_MAX_PIN, len, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("%s refused: %s", what, why);
		goto out;
	}
	*out = s;
	s = NULL;
out:
	secmem_free(s, HSM_MAX_PIN);
	return ret;
}

void admin_secret_free(char *s)
{
	secmem_free(s, HSM_MAX_PIN);
}

void admin_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;
	if (!cap)
		return;
	for (size_t i = 0; i < n && o + 2 < cap; i++) {
		out[o++] = hx[p[i] >> 4];
		out[o++] = hx[p[i] & 15];
	}
	out[o] = 0;
}

c2s_err admin_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	c2s_err ret = C2S_ERR_IO;
	char tmp[CONFIG_PATH + 16];
	int fd = -1, made = 0;
	ENSURE((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) < sizeof(tmp), C2S_ERR_ARG);
	fd = mkstemp(tmp);
	ENSURE(fd >= 0, C2S_ERR_IO);
	made = 1;
	ENSURE(fchmod(fd, mode) == 0, C2S_ERR_IO);
	const uint8_t *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		ENSURE(n > 0, C2S_ERR_IO);
		p += n;
		left -= (size_t)n;
	}
	ENSURE(fsync(fd) == 0, C2S_ERR_IO);
	ENSURE(close(fd) == 0, C2S_ERR_IO);
	fd = -1;
	ENSURE(rename(tmp, path) == 0, C2S_ERR_IO);
	made = 0;
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		admin_fail("cannot write %s: %s; check the directory exists and is writable", path,
		           strerror(errno));
	if (fd >= 0)
		close(fd);
	if (made)
		unlink(tmp);
	return ret;
}

double admin_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int admin_utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i], need, cp;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		if (need >= n - i)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += need + 1;
	}
	return 1;
}

void admin_dn_string(const mbedtls_x509_name *dn, char *out, size_t cap)
{
	size_t o = 0;
	char hex[2 * 64 + 1];
	if (!cap)
		return;
	out[0] = 0;
	for (const mbedtls_x509_name *n = dn; n && n->oid.p; n = n->next) {
		const char *name = NULL;
		char oidbuf[64];
		if (mbedtls_oid_get_attr_short_name(&n->oid, &name) != 0 || !name) {
			if (mbedtls_oid_get_numeric_string(oidbuf, sizeof(oidbuf), &n->oid) < 0)
				snprintf(oidbuf, sizeof(oidbuf), "?");
			name = oidbuf;
		}
		int text = admin_utf8_ok(n->val.p, n->val.len);
		if (!text)
			admin_hex(n->val.p, n->val.len < 64 ? n->val.len : 64, hex, sizeof(hex));
		int w = snprintf(out + o, cap - o, "%s%s=%s%.*s", o ? ", " : "", name,
		                 text ? "" : "#", text ? (int)n->val.len : (int)strlen(hex),
		                 text ? (const char *)n->val.p : hex);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
}
