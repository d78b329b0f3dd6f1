/* tsa: RFC 3161 client against tests/tools/tsa_server.py (started here on a free port):
 * a good reply is accepted and verifies with `openssl ts -verify`; wrong imprint, wrong or
 * missing nonce, rejection status, HTTP 500, timeout, oversized reply, wrong content type,
 * tampered token and untrusted TSA are each refused with a specific reason. */
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
#include <spawn.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_shell.h"
#include <curl/curl.h>

#include "firmware/pades/tsa.h"

static char g_dir[256], g_pki[300], g_root[400];
static pid_t g_srv = -1;
static int g_port;

static int start_server(const char *src)
{
	char script[512], portfile[400], pki[400];
	snprintf(script, sizeof(script), "%s/tests/tools/tsa_server.py", src);
	snprintf(portfile, sizeof(portfile), "%s/tsa.port", g_dir);
	snprintf(pki, sizeof(pki), "%s", g_pki);
	char *argv[] = {"/usr/bin/python3", script,           "--pki", pki, "--port-file",
	                portfile,           "--hang-seconds", "3",     NULL};
	if (posix_spawn(&g_srv, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		FILE *f = fopen(portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d", &g_port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-tsa-XXXXXX");
	if (!src || !mkdtemp(g_dir))
		return -1;
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_dir);
	snprintf(g_root, sizeof(g_root), "%s/root.pem", g_pki);
	if (run("bash %s/tests/tools/mkpki.sh %s >/dev/null", src, g_pki) != 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return start_server(src);
}

static int group_teardown(void **state)
{
	(void)state;
	if (g_srv > 0) {
		kill(g_srv, SIGTERM);
		waitpid(g_srv, NULL, 0);
	}
	curl_global_cleanup();
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

/* One time-stamp from path `mode`; returns the code, token in tok, reason in why. */
static c2s_err stamp(const char *mode, long tmo, const char *trust, struct buf *tok, char *why,
                     size_t cap)
{
	char url[256];
	uint8_t imprint[32];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", g_port, mode);
	struct tsa_config c = {.url = url, .timeout_ms = tmo, .ca_file = NULL, .trust_file = trust};
	for (size_t i = 0; i < sizeof(imprint); i++)
		imprint[i] = (uint8_t)(i * 7 + 1);
	return tsa_timestamp(&c, CMS_SHA256, imprint, sizeof(imprint), tok, why, cap);
}

static void expect_refusal(const char *mode, long tmo, const char *trust, c2s_err want,
                           const char *reason)
{
	struct buf tok;
	char why[256] = "";
	buf_init(&tok, 1 << 16);
	c2s_err got = stamp(mode, tmo, trust, &tok, why, sizeof(why));
	print_message("%-16s -> %s: %s\n", mode, c2s_err_name(got), why);
	assert_int_equal(got, want);
	if (strstr(why, reason) == NULL)
		fail_msg("mode %s: reason '%s' lacks '%s'", mode, why, reason);
	assert_int_equal(tok.len, 0);
	buf_free(&tok);
}

static void test_request_der(void **state)
{
	(void)state;
	struct buf req;
	uint8_t im[48];
	char path[512];
	memset(im, 0xab, sizeof(im));
	buf_init(&req, 1024);
	assert_int_equal(tsa_build_request(CMS_SHA384, im, sizeof(im), 0x8000000000000001ull, &req),
	                 C2S_OK);
	snprintf(path, sizeof(path), "%s/q.tsq", g_dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(req.data, 1, req.len, f), req.len);
	fclose(f);
	assert_int_equal(run("openssl ts -query -in %s -text > %s.txt 2>&1 && "
	                     "grep -q 'Hash Algorithm: sha384' %s.txt && "
	                     "grep -q 'Nonce: 0x8000000000000001' %s.txt && "
	                     "grep -q 'Certificate required: yes' %s.txt",
	                     path, path, path, path, path),
	                 0);
	/* imprint length must match the hash */
	assert_int_equal(tsa_build_request(CMS_SHA256, im, sizeof(im), 1, &req), C2S_ERR_ARG);
	buf_free(&req);
}

static void test_good(void **state)
{
	(void)state;
	struct buf tok;
	char why[256] = "", path[512];
	buf_init(&tok, 1 << 16);
	assert_int_equal(stamp("ok", 5000, g_root, &tok, why, sizeof(why)), C2S_OK);
	print_message("token: %zu bytes\n", tok.len);
	assert_true(tok.len > 1000 && tok.len < 8192);
	snprintf(path, sizeof(path), "%s/tok.der", g_dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(tok.data, 1, tok.len, f), tok.len);
	fclose(f);
	/* independent check: openssl verifies the token for our imprint */
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", (unsigned)(i * 7 + 1) & 0xff);
	assert_int_equal(run("openssl ts -verify -token_in -in %s -digest %s -CAfile %s "
	                     "-untrusted %s/tsa/cert.pem >/dev/null 2>&1",
	                     path, hex, g_root, g_pki),
	                 0);
	/* the token's certificates are available for B-LT */
	const uint8_t *certs[8];
	size_t lens[8], n = 0;
	assert_int_equal(tsa_token_certs(tok.data, tok.len, certs, lens, 8, &n), C2S_OK);
	assert_true(n >= 1);
	/* a tampered signature no longer verifies */
	tok.data[tok.len - 5] ^= 0x01;
	assert_int_equal(tsa_token_verify(tok.data, tok.len, NULL, why, sizeof(why)),
	                 C2S_ERR_TSA_BAD_REPLY);
	assert_non_null(strstr(why, "does not verify"));
	buf_free(&tok);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refusal("wrong-imprint", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "imprint differs");
	expect_refusal("wrong-nonce", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "nonce differs");
	expect_refusal("no-nonce", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "no nonce");
	expect_refusal("reject", 5000, NULL, C2S_ERR_TSA_BAD_REPLY,
	               "status 2 \"request refused by test policy\"");
	expect_refusal("500", 5000, NULL, C2S_ERR_TSA, "HTTP 500");
	expect_refusal("hang?secs=3", 400, NULL, C2S_ERR_TSA, "timed out after 400 ms");
	expect_refusal("big", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "larger than 65536");
	expect_refusal("garbage", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "not one DER");
	expect_refusal("html", 5000, NULL, C2S_ERR_TSA_BAD_REPLY, "content type text/html");
	/* the token verifies but the TSA does not chain to these anchors */
	char other[512];
	snprintf(other, sizeof(other), "%s/customer/ca.pem", g_pki);
	expect_refusal("ok", 5000, other, C2S_ERR_TSA_BAD_REPLY, "not trusted");
}

static void test_unreachable(void **state)
{
	(void)state;
	struct buf tok;
	char why[256] = "";
	buf_init(&tok, 1 << 16);
	struct tsa_config c = {.url = "http://127.0.0.1:1/", .timeout_ms = 2000};
	uint8_t im[32] = {0};
	assert_int_equal(tsa_timestamp(&c, CMS_SHA256, im, 32, &tok, why, sizeof(why)),
	                 C2S_ERR_TSA);
	assert_non_null(strstr(why, "127.0.0.1:1"));
	c.url = "file:///etc/passwd"; /* only http(s) */
	assert_int_equal(tsa_timestamp(&c, CMS_SHA256, im, 32, &tok, why, sizeof(why)),
	                 C2S_ERR_TSA);
	buf_free(&tok);
}

/* Replies checked offline: the same good reply against another imprint / nonce. */
static void test_check_response_offline(void **state)
{
	(void)state;
	char path[512];
	uint8_t im[32], resp[8192];
	const uint8_t *tok = NULL;
	size_t tl = 0;
	char why[256];
	memset(im, 0x11, sizeof(im));
	snprintf(path, sizeof(path), "%s/off", g_dir);
	assert_int_equal(
	    run("cd %s && mkdir -p off && openssl ts -query -digest %s -sha256 -cert "
	        "-no_nonce -out off/q.tsq && openssl ts -reply -config "
	        "%s/tsa/ts.cnf -queryfile off/q.tsq -out off/r.tsr 2>/dev/null",
	        g_dir, "1111111111111111111111111111111111111111111111111111111111111111", g_pki),
	    0);
	snprintf(path, sizeof(path), "%s/off/r.tsr", g_dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(resp, 1, sizeof(resp), f);
	fclose(f);
	assert_true(n > 100);
	/* without a nonce in the reply: refused whatever our nonce */
	assert_int_equal(
	    tsa_check_response(resp, n, CMS_SHA256, im, 32, 5, &tok, &tl, why, sizeof(why)),
	    C2S_ERR_TSA_BAD_REPLY);
	assert_non_null(strstr(why, "no nonce"));
	/* wrong hash algorithm for the same bytes */
	assert_int_equal(
	    tsa_check_response(resp, n, CMS_SHA384, im, 32, 5, &tok, &tl, why, sizeof(why)),
	    C2S_ERR_TSA_BAD_REPLY);
	assert_non_null(strstr(why, "algorithm"));
	/* trailing bytes and truncation */
	assert_int_equal(
	    tsa_check_response(resp, n - 1, CMS_SHA256, im, 32, 5, &tok, &tl, why, sizeof(why)),
	    C2S_ERR_TSA_BAD_REPLY);
	resp[n] = 0;
	assert_int_equal(
	    tsa_check_response(resp, n + 1, CMS_SHA256, im, 32, 5, &tok, &tl, why, sizeof(why)),
	    C2S_ERR_TSA_BAD_REPLY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_der),
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_check_response_offline),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
