/* notify: delivery against tests/tools/sinks.py (SMTP plain, SMTPS with AUTH, STARTTLS, an SMS
 * gateway and a webhook receiver, each on 127.0.0.1 on a port it picks). E-mail arrives byte
 * for byte and Python's email package reads back the subject, file names and attachment
 * hashes; an SMS lands as one exact line; a webhook lands with the exact body, a signature
 * `openssl dgst -hmac` reproduces and the delivery id. Outages told to the sinks (500, 4xx,
 * SMTP 451/550, hang, close) and a closed port give the documented code and retry flag, a hang
 * ends within the configured timeout, and backoff stays bounded and grows. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <mbedtls/sha256.h>

#include "test_shell.h"

#include "firmware/notify/deliver.h"
#include "firmware/notify/mime.h"

enum { S_SMTP, S_SMTPS, S_STARTTLS, S_SMS, S_HOOK, S_N };
static const char *const NAMES[S_N] = {"smtp", "smtps", "starttls", "sms", "hook"};

static char g_dir[64], g_src[512];
static pid_t g_pid[S_N];
static int g_port[S_N];
static const char *const RCPT[] = {"kupec@example.si", "arhiv@podjetje.example.com"};
static const char HOOK_KEY[] = "whsec_0123456789abcdef0123456789ab";

static char *path(const char *name)
{
	static char p[8][160];
	static int i;
	char *r = p[i++ % 8];
	snprintf(r, sizeof(p[0]), "%s/%s", g_dir, name);
	return r;
}

/* Start sinks.py with the arguments in fmt (split at spaces; our paths have none) plus its
 * port file, and wait for the port. */
__attribute__((format(printf, 2, 3))) static int start_sink(int which, const char *fmt, ...)
{
	char line[1024], script[600], portfile[160], *argv[32];
	int n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(script, sizeof(script), "%s/tests/tools/sinks.py", g_src);
	snprintf(portfile, sizeof(portfile), "%s/%s.port", g_dir, NAMES[which]);
	argv[n++] = "/usr/bin/python3", argv[n++] = script;
	for (char *t = line; *t != 0 && n < 24;) { /* split at spaces */
		argv[n++] = t;
		t += strcspn(t, " ");
		if (*t == ' ')
			*t++ = 0;
	}
	argv[n++] = "--port-file", argv[n++] = portfile, argv[n++] = "--hang-seconds";
	argv[n++] = "6", argv[n] = NULL;
	if (posix_spawn(&g_pid[which], argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		FILE *f = fopen(portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d", &g_port[which]) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* Tell a sink how to answer its next `count` requests (0 = until told otherwise). */
static void control(int which, const char *mode, int count)
{
	char ctl[32];
	snprintf(ctl, sizeof(ctl), "%s.ctl", NAMES[which]);
	FILE *f = fopen(path("ctl.tmp"), "w");
	assert_non_null(f);
	if (count > 0)
		fprintf(f, "%s %d\n", mode, count);
	else
		fprintf(f, "%s\n", mode);
	fclose(f);
	assert_int_equal(rename(path("ctl.tmp"), path(ctl)), 0);
}

static char *url(int which, const char *scheme, const char *suffix)
{
	static char u[4][128];
	static int i;
	char *r = u[i++ % 4];
	snprintf(r, sizeof(u[0]), "%s://127.0.0.1:%d%s", scheme, g_port[which], suffix);
	return r;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A port on 127.0.0.1 that nothing listens on (bound, read, closed). */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

/* Number of .eml files in dir; the newest (names sort by time, pid, counter) into last. */
static int count_eml(const char *dir, char *last, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[256] = "";
	int n = 0;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t k = strlen(e->d_name);
		if (k > 4 && strcmp(e->d_name + k - 4, ".eml") == 0) {
			n++;
			if (strcmp(e->d_name, best) > 0)
				snprintf(best, sizeof(best), "%s", e->d_name);
		}
	}
	closedir(d);
	if (last != NULL)
		snprintf(last, cap, "%s/%s", dir, best);
	return n;
}

static int count_lines(const char *file)
{
	FILE *f = fopen(file, "r");
	int n = 0, c;
	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Last line of a file without its newline. */
static void last_line(const char *file, char *out, size_t cap)
{
	FILE *f = fopen(file, "r");
	char line[8192];
	out[0] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		snprintf(out, cap, "%s", line);
	fclose(f);
	size_t n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = 0;
}

static void hex(const void *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
	out[2 * n] = 0;
}

static uint8_t *pdf_like(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	assert_non_null(p);
	memcpy(p, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 15);
	for (size_t i = 15; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
	return p;
}

/* ---- e-mail ---- */

static const char SUBJECT[] = "Podpisani dokumenti: naro\xc4\x8dilo \xc5\xa1t. 2026-017 "
                              "\xe2\x80\x94 pogodba, cenik in splo\xc5\xa1ni pogoji";

static void build_mail(struct buf *msg, struct mime_attachment *att, size_t natt)
{
	struct mime_msg m = {.from = "noreply@click2sign.example.si",
	                     .from_name = "Click2Sign",
	                     .to = RCPT,
	                     .nto = 2,
	                     .subject = SUBJECT,
	                     .text = "Spo\xc5\xa1tovani,\nv prilogi so podpisani dokumenti.\n",
	                     .att = att,
	                     .natt = natt,
	                     .msgid_domain = "click2sign.example.si",
	                     .date = 1767268800};
	char id[MIME_MSGID_MAX], why[256] = "";
	buf_init(msg, 4u << 20);
	assert_int_equal(mime_build(&m, msg, id, why, sizeof(why)), C2S_OK);
}

static void test_email_two_pdfs(void **state)
{
	(void)state;
	uint8_t *a = pdf_like(300001, 1), *b = pdf_like(20000, 2);
	struct mime_attachment att[] = {
	    {"Pogodba \xc5\xa1t. 2026-017 (podpisana).pdf", NULL, a, 300001},
	    {"Cenik in splo\xc5\xa1ni pogoji.pdf", NULL, b, 20000},
	};
	struct notify_smtp_cfg c = {.url = url(S_SMTP, "smtp", ""), .timeout_ms = 10000};
	struct buf msg;
	char why[256] = "", eml[300], cmd[4096], h[512], sum[2][65];
	int retry = -1;
	uint8_t md[32];

	build_mail(&msg, att, 2);
	int before = count_eml(path("mail"), NULL, 0);
	assert_int_equal(notify_smtp_send(&c, "noreply@click2sign.example.si", RCPT, 2, &msg,
	                                  &retry, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(retry, 0);
	assert_int_equal(count_eml(path("mail"), eml, sizeof(eml)), before + 1);
	/* the relay stored exactly our bytes (dot-stuffing undone by the relay) */
	FILE *f = fopen(path("sent.eml"), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(msg.data, 1, msg.len, f), msg.len);
	fclose(f);
	assert_int_equal(run("cmp -s %s %s", eml, path("sent.eml")), 0);
	/* an independent parser reads subject, file names and attachment bytes back */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mbedtls_sha256_ret(att[i].data, att[i].len, md, 0), 0);
		hex(md, 32, sum[i]);
	}
	hex(SUBJECT, strlen(SUBJECT), h);
	char n0[200], n1[200];
	hex(att[0].filename, strlen(att[0].filename), n0);
	hex(att[1].filename, strlen(att[1].filename), n1);
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 %s/tests/tools/eml_check.py %s --subject-hex=%s "
	         "--to %s --to %s --attachment=%s:%s --attachment=%s:%s",
	         g_src, eml, h, RCPT[0], RCPT[1], n0, sum[0], n1, sum[1]);
	assert_int_equal(run("%s", cmd), 0);
	/* the envelope: MAIL FROM and both RCPT TO */
	size_t k = strlen(eml);
	memcpy(eml + k - 4, ".json", 6);
	assert_int_equal(
	    run("/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); "
	        "sys.exit(e != {\"mail_from\": \"noreply@click2sign.example.si\", "
	        "\"rcpt_tos\": [\"%s\", \"%s\"]})' %s",
	        RCPT[0], RCPT[1], eml),
	    0);
	buf_free(&msg);
	free(a), free(b);
}

struct smtp_case {
	const char *mode;
	c2s_err code;
	int retry;
	const char *reason;
};

static void test_smtp_outages(void **state)
{
	(void)state;
	static const struct smtp_case cases[] = {
	    {"451", C2S_ERR_IO, 1, "SMTP 451"},
	    {"421", C2S_ERR_IO, 1, "SMTP 421"},
	    {"550", C2S_ERR_IO, 0, "SMTP 550"},
	    {"554", C2S_ERR_IO, 0, "SMTP 554"},
	    {"close", C2S_ERR_IO, 1, "SMTP relay smtp://127.0.0.1:"},
	};
	struct notify_smtp_cfg c = {.url = url(S_SMTP, "smtp", ""), .timeout_ms = 10000};
	struct buf msg;
	int before, retry;
	char why[256];

	build_mail(&msg, NULL, 0);
	before = count_eml(path("mail"), NULL, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		control(S_SMTP, cases[i].mode, 1);
		retry = -1, why[0] = 0;
		c2s_err got = notify_smtp_send(&c, "noreply@click2sign.example.si", RCPT, 1, &msg,
		                               &retry, why, sizeof(why));
		print_message("%-6s -> %s retry=%d: %s\n", cases[i].mode, c2s_err_name(got), retry,
		              why);
		assert_int_equal(got, cases[i].code);
		assert_int_equal(retry, cases[i].retry);
		if (strstr(why, cases[i].reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].mode, why, cases[i].reason);
	}
	/* a relay that never answers: timeout within the bound, retry */
	control(S_SMTP, "hang", 1);
	c.timeout_ms = 1500;
	double t0 = now_s();
	assert_int_equal(notify_smtp_send(&c, "noreply@click2sign.example.si", RCPT, 1, &msg,
	                                  &retry, why, sizeof(why)),
	                 C2S_ERR_TIMEOUT);
	double dt = now_s() - t0;
	print_message("hang -> %.2f s: %s\n", dt, why);
	assert_true(dt >= 1.4 && dt < 2.2); /* curl would otherwise wait for QUIT */
	assert_int_equal(retry, 1);
	/* nothing listening: retry */
	char u[64];
	snprintf(u, sizeof(u), "smtp://127.0.0.1:%d", closed_port());
	c.url = u;
	assert_int_equal(notify_smtp_send(&c, "noreply@click2sign.example.si", RCPT, 1, &msg,
	                                  &retry, why, sizeof(why)),
	                 C2S_ERR_IO);
	assert_int_equal(retry, 1);
	assert_non_null(strstr(why, "onnect"));
	/* none of these delivered anything; the sink still works afterwards */
	assert_int_equal(count_eml(path("mail"), NULL, 0), before);
	c.url = url(S_SMTP, "smtp", "");
	assert_int_equal(notify_smtp_send(&c, "noreply@click2sign.example.si", RCPT, 1, &msg,
	                                  &retry, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(count_eml(path("mail"), NULL, 0), before + 1);
	buf_free(&msg);
}

static void test_smtp_tls_and_auth(void **state)
{
	(void)state;
	struct notify_smtp_cfg c = {.url = url(S_SMTPS, "smtps", ""),
	                            .username = "relayuser",
	                            .password = "relay-secret",
	                            .ca_file = path("cert.pem"),
	                            .timeout_ms = 10000};
	struct buf msg;
	int retry = -1;
	char why[256] = "";
	const char *from = "noreply@click2sign.example.si";

	build_mail(&msg, NULL, 0);
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(count_eml(path("mails"), NULL, 0), 1);
	/* wrong password: 535, permanent */
	c.password = "wrong";
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_IO);
	print_message("bad password: retry=%d %s\n", retry, why);
	assert_int_equal(retry, 0);
	assert_non_null(strstr(why, "SMTP 535"));
	/* a relay certificate our anchors do not cover: refused, retried (fix the anchors) */
	c.password = "relay-secret", c.ca_file = path("other.pem");
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_IO);
	print_message("other CA: retry=%d %s\n", retry, why);
	assert_int_equal(retry, 1);
	assert_non_null(strstr(why, "ertificate"));
	/* the password never goes over plain smtp:// */
	c.url = url(S_SMTP, "smtp", ""), c.ca_file = path("cert.pem");
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(retry, 0);
	assert_non_null(strstr(why, "clear"));
	/* STARTTLS required and offered: delivered over TLS with AUTH */
	c.url = url(S_STARTTLS, "smtp", ""), c.require_starttls = 1;
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(count_eml(path("mailt"), NULL, 0), 1);
	/* refused inputs never reach a relay */
	const char *bad_rcpt[] = {"x@y.si\r\nRCPT TO:<victim@example.si>"};
	assert_int_equal(notify_smtp_send(&c, from, bad_rcpt, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(retry, 0);
	assert_int_equal(notify_smtp_send(&c, "a@b", RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	c.url = "http://127.0.0.1:1/";
	assert_int_equal(notify_smtp_send(&c, from, RCPT, 1, &msg, &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(retry, 0);
	assert_int_equal(count_eml(path("mailt"), NULL, 0), 1);
	buf_free(&msg);
}

/* ---- SMS ---- */

static void test_sms(void **state)
{
	(void)state;
	struct notify_http_cfg c = {
	    .url = url(S_SMS, "http", "/send"), .bearer = "gw-token-123", .timeout_ms = 5000};
	const char *text = "Koda za podpis naro\xc4\x8dila 2026-017: 482913\nVelja 5 minut. "
	                   "Kode ne posredujte nikomur \xe2\x80\x94 Click2Sign";
	char why[256] = "", line[1024];
	int retry = -1;

	assert_int_equal(notify_sms_send(&c, "+38640123456", text, &retry, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(retry, 0);
	last_line(path("sms.log"), line, sizeof(line));
	assert_string_equal(line, "+38640123456\tKoda za podpis naro\xc4\x8dila 2026-017: 482913"
	                          "\\nVelja 5 minut. Kode ne posredujte nikomur \xe2\x80\x94 "
	                          "Click2Sign");
	assert_int_equal(run("/usr/bin/python3 -c 'import json,sys; "
	                     "h=json.loads(open(sys.argv[1]).read().splitlines()[-1]); "
	                     "g=h[\"headers\"]; sys.exit(not (h[\"path\"] == \"/send\" and "
	                     "g[\"authorization\"] == \"Bearer gw-token-123\" and "
	                     "g[\"content-type\"] == \"application/json\"))' %s",
	                     path("sms.hdr")),
	                 0);
	/* refused before sending: number, text, token */
	int lines = count_lines(path("sms.log")), hdrs = count_lines(path("sms.hdr"));
	static const char *const bad_to[] = {"040123456",    "+0386401234",       "+3864012",
	                                     "+38640 12345", "+3864012345678901", "+38640123456\n"};
	for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
		assert_int_equal(notify_sms_send(&c, bad_to[i], "x", &retry, why, sizeof(why)),
		                 C2S_ERR_ARG);
		assert_int_equal(retry, 0);
	}
	assert_int_equal(notify_sms_send(&c, "+38640123456", "\xc3\x28", &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(notify_sms_send(&c, "+38640123456", "", &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	char big[NOTIFY_SMS_TEXT_MAX + 2];
	memset(big, 'a', sizeof(big) - 1), big[sizeof(big) - 1] = 0;
	assert_int_equal(notify_sms_send(&c, "+38640123456", big, &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	c.bearer = "tok\r\nX-Injected: 1";
	assert_int_equal(notify_sms_send(&c, "+38640123456", "x", &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_non_null(strstr(why, "bearer"));
	assert_int_equal(count_lines(path("sms.hdr")), hdrs);
	assert_int_equal(count_lines(path("sms.log")), lines);
	/* why never carries the text or the number */
	assert_null(strstr(why, "482913"));
}

struct http_case {
	const char *mode;
	c2s_err code;
	int retry;
	const char *reason;
};

static void test_sms_outages(void **state)
{
	(void)state;
	static const struct http_case cases[] = {
	    {"500", C2S_ERR_IO, 1, "HTTP 500"},
	    {"503", C2S_ERR_IO, 1, "HTTP 503"},
	    {"429", C2S_ERR_IO, 1, "HTTP 429"},
	    {"408", C2S_ERR_IO, 1, "HTTP 408"},
	    {"400", C2S_ERR_IO, 0, "HTTP 400"},
	    {"401", C2S_ERR_IO, 0, "HTTP 401"},
	    {"404", C2S_ERR_IO, 0, "HTTP 404"},
	    {"302", C2S_ERR_IO, 0, "HTTP 302"},
	    {"close", C2S_ERR_IO, 1, "SMS gateway http://127.0.0.1:"},
	};
	struct notify_http_cfg c = {.url = url(S_SMS, "http", "/send"), .timeout_ms = 5000};
	int lines = count_lines(path("sms.log")), retry;
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		control(S_SMS, cases[i].mode, 1);
		retry = -1, why[0] = 0;
		c2s_err got =
		    notify_sms_send(&c, "+38640123456", "Koda: 111111", &retry, why, sizeof(why));
		print_message("%-6s -> %s retry=%d: %s\n", cases[i].mode, c2s_err_name(got), retry,
		              why);
		assert_int_equal(got, cases[i].code);
		assert_int_equal(retry, cases[i].retry);
		if (strstr(why, cases[i].reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", cases[i].mode, why, cases[i].reason);
		assert_null(strstr(why, "111111"));
	}
	/* why names the gateway by scheme, host and port only: no path, query or user info */
	char secret_url[128];
	snprintf(secret_url, sizeof(secret_url), "http://user:pw-s3cr3t@127.0.0.1:%d/send?key=k3y",
	         g_port[S_SMS]);
	c.url = secret_url;
	control(S_SMS, "500", 1);
	assert_int_equal(
	    notify_sms_send(&c, "+38640123456", "Koda: 555555", &retry, why, sizeof(why)),
	    C2S_ERR_IO);
	assert_non_null(strstr(why, "http://127.0.0.1:"));
	assert_null(strstr(why, "s3cr3t"));
	assert_null(strstr(why, "k3y"));
	assert_null(strstr(why, "+386"));
	c.url = url(S_SMS, "http", "/send");
	control(S_SMS, "hang", 0); /* until told otherwise */
	c.timeout_ms = 1200;
	double t0 = now_s();
	assert_int_equal(
	    notify_sms_send(&c, "+38640123456", "Koda: 222222", &retry, why, sizeof(why)),
	    C2S_ERR_TIMEOUT);
	double dt = now_s() - t0;
	print_message("hang -> %.2f s: %s\n", dt, why);
	assert_true(dt >= 1.1 && dt < 1.9);
	assert_int_equal(retry, 1);
	control(S_SMS, "ok", 0);
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/send", closed_port());
	c.url = u;
	assert_int_equal(
	    notify_sms_send(&c, "+38640123456", "Koda: 333333", &retry, why, sizeof(why)),
	    C2S_ERR_IO);
	assert_int_equal(retry, 1);
	c.url = "ftp://127.0.0.1/x";
	assert_int_equal(
	    notify_sms_send(&c, "+38640123456", "Koda: 333333", &retry, why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_int_equal(retry, 0);
	assert_int_equal(count_lines(path("sms.log")), lines);
	/* the outage is over: the same message goes through */
	c.url = url(S_SMS, "http", "/send");
	assert_int_equal(
	    notify_sms_send(&c, "+38640123456", "Koda: 444444", &retry, why, sizeof(why)), C2S_OK);
	assert_int_equal(count_lines(path("sms.log")), lines + 1);
}

/* ---- webhooks ---- */

/* The last header line of the webhook sink has this signature, id and content type. */
static int hook_headers_are(const char *sig, const char *id, int nth_last)
{
	return run("/usr/bin/python3 -c 'import json,sys; "
	           "h=json.loads(open(sys.argv[1]).read().splitlines()[-%d])[\"headers\"]; "
	           "sys.exit(not (h[\"x-click2sign-signature\"] == \"sha256=\" + sys.argv[2] and "
	           "h[\"x-click2sign-delivery\"] == sys.argv[3] and "
	           "h[\"content-type\"] == \"application/json\"))' %s '%s' '%s'",
	           nth_last, path("hook.hdr"), sig, id);
}

/* openssl's HMAC-SHA256 of `body` (written to a file) with the key as -hmac or -macopt. */
static void openssl_hmac(const char *body, const char *keyopt, char out[65])
{
	FILE *f = fopen(path("body.json"), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(body, 1, strlen(body), f), strlen(body));
	fclose(f);
	assert_int_equal(run("openssl dgst -sha256 %s -r %s | cut -d' ' -f1 > %s", keyopt,
	                     path("body.json"), path("sig.txt")),
	                 0);
	f = fopen(path("sig.txt"), "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 65, f));
	fclose(f);
	assert_int_equal(strlen(out), 64);
}

static void test_webhook(void **state)
{
	(void)state;
	const char *body = "{\"event\":\"order.signed\",\"order\":{\"id\":\"ord_2026_017\","
	                   "\"customer\":\"Ana \xc5\xa0i\xc5\xa1ka\",\"documents\":2}}";
	struct notify_http_cfg c = {.url = url(S_HOOK, "http", "/hooks/c2s"), .timeout_ms = 5000};
	char why[256] = "", line[1024], sig[65], opt[128];
	int retry = -1;

	assert_int_equal(notify_webhook_send(&c, "dlv_01HX7Q", body, strlen(body),
	                                     (const uint8_t *)HOOK_KEY, strlen(HOOK_KEY), &retry,
	                                     why, sizeof(why)),
	                 C2S_OK);
	last_line(path("hook.log"), line, sizeof(line));
	assert_string_equal(line, body);
	snprintf(opt, sizeof(opt), "-hmac '%s'", HOOK_KEY);
	openssl_hmac(body, opt, sig);
	assert_int_equal(hook_headers_are(sig, "dlv_01HX7Q", 1), 0);
	assert_int_not_equal(hook_headers_are(sig, "dlv_other", 1), 0); /* the check can fail */

	/* a binary key (NUL bytes included), checked with -macopt hexkey */
	static const uint8_t bin[32] = {0x00, 0x01, 0xff, 0x80, 0x00, 0x7f, 0x10, 0x20,
	                                0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0,
	                                0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x00, 0x11, 0x22,
	                                0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa};
	char hk[65];
	hex(bin, sizeof(bin), hk);
	/* first attempt meets an outage, the retry carries the same id and signature */
	control(S_HOOK, "503", 1);
	assert_int_equal(notify_webhook_send(&c, "dlv_retry.1", body, strlen(body), bin, 32, &retry,
	                                     why, sizeof(why)),
	                 C2S_ERR_IO);
	assert_int_equal(retry, 1);
	assert_int_equal(notify_webhook_send(&c, "dlv_retry.1", body, strlen(body), bin, 32, &retry,
	                                     why, sizeof(why)),
	                 C2S_OK);
	snprintf(opt, sizeof(opt), "-mac HMAC -macopt hexkey:%s", hk);
	openssl_hmac(body, opt, sig);
	assert_int_equal(hook_headers_are(sig, "dlv_retry.1", 1), 0);
	assert_int_equal(hook_headers_are(sig, "dlv_retry.1", 2), 0);
	last_line(path("hook.log"), line, sizeof(line));
	assert_string_equal(line, body);

	/* a receiver that rejects: permanent; one that hangs: timeout, retry */
	control(S_HOOK, "422", 1);
	assert_int_equal(
	    notify_webhook_send(&c, "dlv_2", body, strlen(body), bin, 32, &retry, why, sizeof(why)),
	    C2S_ERR_IO);
	assert_int_equal(retry, 0);
	control(S_HOOK, "hang", 1);
	c.timeout_ms = 1000;
	double t0 = now_s();
	assert_int_equal(
	    notify_webhook_send(&c, "dlv_3", body, strlen(body), bin, 32, &retry, why, sizeof(why)),
	    C2S_ERR_TIMEOUT);
	assert_true(now_s() - t0 < 2.5);
	assert_int_equal(retry, 1);

	/* refused before sending */
	int hdrs = count_lines(path("hook.hdr"));
	assert_int_equal(notify_webhook_send(&c, "dlv\r\nX-Evil: 1", body, strlen(body), bin, 32,
	                                     &retry, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(
	    notify_webhook_send(&c, "", body, strlen(body), bin, 32, &retry, why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_int_equal(
	    notify_webhook_send(&c, "dlv_4", body, strlen(body), bin, 15, &retry, why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_int_equal(
	    notify_webhook_send(&c, "dlv_4", "{\"a\":", 5, bin, 32, &retry, why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_int_equal(notify_webhook_send(&c, "dlv_4", body, strlen(body) + 1, bin, 32, &retry,
	                                     why, sizeof(why)),
	                 C2S_ERR_ARG); /* trailing NUL is not JSON */
	assert_int_equal(retry, 0);
	assert_int_equal(count_lines(path("hook.hdr")), hdrs);
}

/* ---- backoff ---- */

static void test_backoff(void **state)
{
	(void)state;
	uint32_t prev = 0, r = 12345;
	for (unsigned a = 0; a < 40; a++) {
		uint32_t ceiling = a < 10 && (5u << a) < 3600 ? 5u << a : 3600;
		uint32_t hi = notify_backoff(a, UINT32_MAX), lo = notify_backoff(a, 0);
		assert_int_equal(hi, ceiling);
		assert_int_equal(lo, 1);
		assert_true(hi >= prev); /* the ceiling grows, then stays at the cap */
		prev = hi;
		for (int i = 0; i < 1000; i++) {
			r = r * 1664525u + 1013904223u;
			uint32_t s = notify_backoff(a, r);
			assert_true(s >= 1 && s <= ceiling);
			assert_int_equal(s, notify_backoff(a, r)); /* deterministic */
		}
	}
	assert_int_equal(notify_backoff(0, UINT32_MAX), 5);
	assert_int_equal(notify_backoff(1, UINT32_MAX), 10);
	assert_int_equal(notify_backoff(9, UINT32_MAX), 2560);
	assert_int_equal(notify_backoff(10, UINT32_MAX), 3600);
	assert_int_equal(notify_backoff(~0u, UINT32_MAX), 3600);
	assert_int_equal(notify_backoff(3, 0x80000000u), 1 + 20); /* the middle of [1, 40] */
	/* full jitter: the whole range is used (mean near the middle at the cap) */
	double sum = 0;
	for (int i = 0; i < 20000; i++) {
		r = r * 1664525u + 1013904223u;
		sum += notify_backoff(20, r);
	}
	print_message("mean at the cap: %.0f s\n", sum / 20000);
	assert_true(sum / 20000 > 1700 && sum / 20000 < 1900);
}

/* ---- set-up ---- */

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-notify-XXXXXX");
	if (src == NULL || mkdtemp(g_dir) == NULL)
		return -1;
	snprintf(g_src, sizeof(g_src), "%s", src);
	/* the relay's certificate (for 127.0.0.1) and an unrelated one as a wrong anchor */
	if (run("cd %s && for n in cert other; do openssl req -x509 -newkey ec -pkeyopt "
	        "ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.pem -days 2 "
	        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null || exit 1; "
	        "done",
	        g_dir) != 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *d = g_dir;
	char t[400];
	snprintf(t, sizeof(t),
	         "--tls-cert %s/cert.pem --tls-key %s/cert.key --auth relayuser:relay-secret", d,
	         d);
	if (start_sink(S_SMTP, "smtp --dir %s/mail --control %s/smtp.ctl", d, d) ||
	    start_sink(S_SMTPS, "smtp --dir %s/mails --tls implicit %s", d, t) ||
	    start_sink(S_STARTTLS, "smtp --dir %s/mailt --tls starttls %s", d, t) ||
	    start_sink(S_SMS,
	               "http --format sms --log %s/sms.log --headers-log %s/sms.hdr "
	               "--control %s/sms.ctl",
	               d, d, d) ||
	    start_sink(S_HOOK,
	               "http --log %s/hook.log --headers-log %s/hook.hdr "
	               "--control %s/hook.ctl",
	               d, d, d))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < S_N; i++)
		if (g_pid[i] > 0) {
			kill(g_pid[i], SIGTERM);
			waitpid(g_pid[i], NULL, 0);
		}
	curl_global_cleanup();
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_email_two_pdfs),    cmocka_unit_test(test_smtp_outages),
	    cmocka_unit_test(test_smtp_tls_and_auth), cmocka_unit_test(test_sms),
	    cmocka_unit_test(test_sms_outages),       cmocka_unit_test(test_webhook),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
