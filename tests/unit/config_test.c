/* The config checker names each bad key with its line and why; a good file loads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/base/config.h"

static char dir[] = "/tmp/c2s-config-test-XXXXXX";
static char path[512], cert[512], pin[512];

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/c2s.conf", dir);
	snprintf(cert, sizeof(cert), "%s/tls.pem", dir);
	snprintf(pin, sizeof(pin), "%s/pin", dir);
	write_file(cert, "x");
	write_file(pin, "1234");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(cert);
	unlink(pin);
	rmdir(dir);
	return 0;
}

static void write_config(const char *extra)
{
	char text[4096];
	snprintf(text, sizeof(text),
	         "[daemon]\nstate_dir = %s/state\n"
	         "[web]\nlisten = 127.0.0.1:18443\ncert_listen = 127.0.0.1:18444\n"
	         "tls_cert = %s\ntls_key = %s\n"
	         "[token]\nmodule = /usr/lib/softhsm/libsofthsm2.so\nuri = pkcs11:token=c2s\n"
	         "pin_file = %s\n%s",
	         dir, cert, cert, pin, extra);
	write_file(path, text);
}

static const struct config_problem *find(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->n_problems; i++)
		if (strcmp(c->problems[i].key, key) == 0)
			return &c->problems[i];
	return NULL;
}

static void good_config_loads(void **state)
{
	(void)state;
	static struct config c;
	write_config("[seal]\nkey = c2s-seal\nrate = 100\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.n_problems, 0);
	assert_int_equal(c.listen_port, 18443);
	assert_int_equal(c.seal_rate, 100);
	assert_string_equal(c.token_uri, "pkcs11:token=c2s");
	/* without the key, seals are rate-limited (50/s); unlimited only when said explicitly */
	write_config("[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.seal_rate, 50);
	write_config("[seal]\nkey = c2s-seal\nrate = 0\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.seal_rate, 0);
}

static void rate_limits_have_defaults_and_bounds(void **state)
{
	(void)state;
	static struct config c;
	write_config("[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.rate_pages, 600);
	assert_int_equal(c.rate_pages_burst, 120);
	assert_int_equal(c.rate_codes, 6);
	assert_int_equal(c.rate_api, 30000);
	assert_int_equal(c.rate_table, 8192);
	assert_int_equal(c.tls_resume, 3600);
	write_config(
	    "[web]\ntls_resume = 0\n[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.tls_resume, 0);
	write_config("[web]\ntls_resume = 90000\n[seal]\nkey = c2s-seal\n[tsa]\nurl = "
	             "http://127.0.0.1:9/\n");
	assert_int_not_equal(config_load(path, &c), C2S_OK);
	assert_non_null(find(&c, "tls_resume"));
	write_config("[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	write_config("[web]\nrate_api = 0\nrate_codes = 12\nrate_codes_burst = 3\n"
	             "[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_OK);
	assert_int_equal(c.rate_api, 0); /* off, explicitly */
	assert_int_equal(c.rate_codes, 12);
	assert_int_equal(c.rate_codes_burst, 3);
	/* a burst of 0 would refuse everything; a table under 64 buckets is refused */
	write_config("[web]\nrate_pages_burst = 0\nrate_table = 8\n"
	             "[seal]\nkey = c2s-seal\n[tsa]\nurl = http://127.0.0.1:9/\n");
	assert_int_equal(config_load(path, &c), C2S_ERR_CONFIG);
	assert_non_null(find(&c, "rate_pages_burst"));
	assert_non_null(find(&c, "rate_table"));
}

static void each_bad_key_is_named(void **state)
{
	(void)state;
	static struct config c;
	write_config("[web]\nworkers = lots\nmax_body = 1G0\n"
	             "[seal]\nkey = c2s-seal\ncolour = blue\n"
	             "[tsa]\nurl = ftp://tsa\n"
	             "[daemon]\nlog_level = loud\n");
	assert_int_equal(config_load(path, &c), C2S_ERR_CONFIG);
	const struct config_problem *p = find(&c, "workers");
	assert_non_null(p);
	assert_string_equal(p->section, "web");
	assert_int_equal(p->line, 13); /* the line of "workers = lots" */
	assert_non_null(strstr(p->why, "lots"));
	assert_non_null(find(&c, "max_body"));
	p = find(&c, "colour");
	assert_non_null(p);
	assert_non_null(strstr(p->why, "unknown key"));
	p = find(&c, "url");
	assert_non_null(p);
	assert_non_null(strstr(p->why, "http"));
	p = find(&c, "log_level");
	assert_non_null(p);
	assert_non_null(strstr(p->why, "loud"));
	assert_int_equal(c.n_problems, 5);
}

static void missing_files_and_module_allow_list(void **state)
{
	(void)state;
	static struct config c;
	char extra[1024];
	snprintf(extra, sizeof(extra), "[token]\nmodule = %s\n[seal]\nchain = %s/nope.pem\n", cert,
	         dir);
	write_config(extra);
	assert_int_equal(config_load(path, &c), C2S_ERR_CONFIG);
	const struct config_problem *p = find(&c, "module");
	assert_non_null(p);
	assert_non_null(strstr(p->why, "allow-list"));
	p = find(&c, "chain");
	assert_non_null(p);
	assert_non_null(strstr(p->why, "cannot read"));
}

static void syntax_error_has_a_line(void **state)
{
	(void)state;
	static struct config c;
	write_config("this line is not ini\n");
	assert_int_equal(config_load(path, &c), C2S_ERR_CONFIG);
	assert_true(c.n_problems >= 1);
	assert_int_equal(c.problems[0].line, 12);
	assert_non_null(strstr(c.problems[0].why, "syntax"));
}

static void missing_file(void **state)
{
	(void)state;
	static struct config c;
	assert_int_equal(config_load("/nonexistent/c2s.conf", &c), C2S_ERR_CONFIG);
	assert_non_null(strstr(c.problems[0].why, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_config_loads),
	    cmocka_unit_test(rate_limits_have_defaults_and_bounds),
	    cmocka_unit_test(each_bad_key_is_named),
	    cmocka_unit_test(missing_files_and_module_allow_list),
	    cmocka_unit_test(syntax_error_has_a_line),
	    cmocka_unit_test(missing_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
