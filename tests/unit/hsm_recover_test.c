/* Recovery through the fault module: each "session/token lost" code is recovered from once,
 * a persistent one fails with the right c2s_err after exactly one retry, and a token removed
 * for 3 s during a burst of 1,000 signatures gives only verifying signatures or clear errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm_test_common.h"

struct fix {
	struct t_env e;
	char rules[PATH_MAX + 16], stats[PATH_MAX + 16];
	struct hsm *h;
	struct hsm_key *k;
	struct buf spki;
};

static void set_rules(struct fix *f, const char *text)
{
	t_fault_rules(f->rules, text);
}

/* Calls/faults of one function from the module's stats file. */
static unsigned long stat_of(struct fix *f, const char *fn, int faults)
{
	return t_fault_stat(f->stats, fn, faults);
}

static int setup_common(void **state, int removable)
{
	static struct fix f;
	char why[HSM_WHY];
	memset(&f, 0, sizeof(f));
	t_env_init(&f.e, t_faultp11_path());
	if (removable) {
		FILE *fp = fopen(f.e.conf, "a");
		fputs("slots.removable = true\n", fp);
		fclose(fp);
	}
	snprintf(f.rules, sizeof(f.rules), "%s/rules", f.e.dir);
	snprintf(f.stats, sizeof(f.stats), "%s/stats", f.e.dir);
	setenv("C2S_FAULTP11_CONF", f.rules, 1);
	setenv("C2S_FAULTP11_STATS", f.stats, 1);
	set_rules(&f, "# none\n");
	if (hsm_token_init(&f.e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)) != C2S_OK ||
	    hsm_open(&f.e.cfg, &f.h, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "setup: %s\n", why);
		return -1;
	}
	struct hsm_keygen g = {.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "seal"};
	if (hsm_key_generate(f.h, &g, &f.k, why, sizeof(why)) != C2S_OK)
		return -1;
	buf_init(&f.spki, 4096);
	if (hsm_key_spki(f.h, f.k, &f.spki) != C2S_OK)
		return -1;
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, 0);
}

static int setup_removable(void **state)
{
	return setup_common(state, 1);
}

static int teardown(void **state)
{
	struct fix *f = *state;
	buf_free(&f->spki);
	hsm_key_free(f->k);
	hsm_close(f->h);
	t_env_fini(&f->e);
	unsetenv("C2S_FAULTP11_CONF");
	unsetenv("C2S_FAULTP11_STATS");
	return 0;
}

static c2s_err sign_once(struct fix *f, int verify)
{
	uint8_t d[32], sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	t_digest(HSM_HASH_SHA256, "recover", 7, d);
	c2s_err r = hsm_sign(f->h, f->k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl);
	if (r == C2S_OK && verify)
		assert_int_equal(t_verify(&f->spki, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, sig, sl),
		                 0);
	return r;
}

struct code_case {
	const char *ckr;
	c2s_err persistent; /* what a fault that does not go away gives */
};

static const struct code_case codes[] = {
    {"CKR_SESSION_HANDLE_INVALID", C2S_ERR_HSM_REMOVED},
    {"CKR_SESSION_CLOSED", C2S_ERR_HSM_REMOVED},
    {"CKR_USER_NOT_LOGGED_IN", C2S_ERR_HSM_NOT_LOGGED_IN},
    {"CKR_DEVICE_REMOVED", C2S_ERR_HSM_REMOVED},
    {"CKR_TOKEN_NOT_PRESENT", C2S_ERR_HSM_NO_TOKEN},
    {"CKR_TOKEN_NOT_RECOGNIZED", C2S_ERR_HSM_NO_TOKEN},
    {"CKR_DEVICE_ERROR", C2S_ERR_HSM},
};

static void run_code(struct fix *f, const char *fn, const struct code_case *c)
{
	char rule[128];
	/* one fault: recovered transparently, signature verifies, one new login */
	unsigned long logins = stat_of(f, "C_Login", 0), faults = stat_of(f, fn, 1);
	snprintf(rule, sizeof(rule), "%s %s times=1\n", fn, c->ckr);
	set_rules(f, rule);
	assert_int_equal(sign_once(f, 1), C2S_OK);
	assert_int_equal(stat_of(f, fn, 1), faults + 1);
	assert_int_equal(stat_of(f, "C_Login", 0), logins + 1);
	/* persistent: exactly one retry, then the mapped error */
	snprintf(rule, sizeof(rule), "%s %s\n", fn, c->ckr);
	set_rules(f, rule);
	c2s_err r = sign_once(f, 0);
	if (r != c->persistent)
		fprintf(stderr, "%s %s: got %s\n", fn, c->ckr, c2s_err_name(r));
	assert_int_equal(r, c->persistent);
	assert_int_equal(stat_of(f, fn, 1), faults + 3);
	set_rules(f, "\n");
	assert_int_equal(sign_once(f, 1), C2S_OK);
}

static void test_each_code_sign(void **state)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		run_code(*state, "C_Sign", &codes[i]);
}

static void test_each_code_signinit(void **state)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		run_code(*state, "C_SignInit", &codes[i]);
}

/* GENERAL_ERROR is a removal only on removable tokens. */
static void test_general_error_fixed(void **state)
{
	struct fix *f = *state;
	unsigned long faults = stat_of(f, "C_Sign", 1);
	set_rules(f, "C_Sign CKR_GENERAL_ERROR times=1\n");
	assert_int_equal(sign_once(f, 0), C2S_ERR_HSM);
	assert_int_equal(stat_of(f, "C_Sign", 1), faults + 1);
	assert_int_equal(sign_once(f, 1), C2S_OK);
}

static void test_general_error_removable(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	assert_int_equal(ti.removable, 1);
	set_rules(f, "C_Sign CKR_GENERAL_ERROR times=1\n");
	assert_int_equal(sign_once(f, 1), C2S_OK);
	assert_int_equal(stat_of(f, "C_Sign", 1), 1);
}

/* A lost session while finding the key, and keys found again after a recovery. */
static void test_find_recovers(void **state)
{
	struct fix *f = *state;
	struct hsm_key *k = NULL;
	char why[HSM_WHY];
	set_rules(f, "C_FindObjectsInit CKR_SESSION_HANDLE_INVALID times=1\n");
	assert_int_equal(hsm_key_find(f->h, "seal", &k, why, sizeof(why)), C2S_OK);
	hsm_key_free(k);
	set_rules(f, "\n");
}

static void removal_rules(struct fix *f, double from, double until)
{
	char text[1024];
	snprintf(text, sizeof(text),
	         "C_SignInit CKR_DEVICE_REMOVED from=%.3f until=%.3f\n"
	         "C_Sign CKR_DEVICE_REMOVED from=%.3f until=%.3f\n"
	         "C_OpenSession CKR_TOKEN_NOT_PRESENT from=%.3f until=%.3f\n"
	         "C_GetTokenInfo CKR_TOKEN_NOT_PRESENT from=%.3f until=%.3f\n"
	         "C_GetSlotList hide from=%.3f until=%.3f\n"
	         "C_GetSlotInfo hide from=%.3f until=%.3f\n",
	         from, until, from, until, from, until, from, until, from, until, from, until);
	set_rules(f, text);
}

static void test_removed_during_burst(void **state)
{
	struct fix *f = *state;
	double t0 = t_now(), from = t0 + 0.8, until = from + 3.0;
	int ok = 0, bad = 0, ok_in_window = 0;
	struct timespec pace = {0, 4 * 1000 * 1000};
	removal_rules(f, from, until);
	for (int i = 0; i < 1000; i++) {
		uint8_t d[32], sig[HSM_MAX_SIG];
		size_t sl = sizeof(sig);
		char msg[32];
		snprintf(msg, sizeof(msg), "burst %d", i);
		t_digest(HSM_HASH_SHA256, msg, strlen(msg), d);
		double ts = t_now();
		c2s_err r = hsm_sign(f->h, f->k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl);
		double te = t_now();
		if (r == C2S_OK) {
			/* never a wrong signature */
			assert_int_equal(
			    t_verify(&f->spki, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, sig, sl), 0);
			ok++;
			ok_in_window += ts > from + 0.05 && te < until - 0.05;
		} else {
			if (r != C2S_ERR_HSM_REMOVED && r != C2S_ERR_HSM_NO_TOKEN)
				fprintf(stderr, "unexpected %s\n", c2s_err_name(r));
			assert_true(r == C2S_ERR_HSM_REMOVED || r == C2S_ERR_HSM_NO_TOKEN);
			assert_true(te > from - 0.05 && ts < until + 0.05);
			bad++;
		}
		nanosleep(&pace, NULL);
	}
	fprintf(stderr, "burst: %d ok, %d refused while removed\n", ok, bad);
	assert_true(bad > 100);
	assert_true(ok > 100);
	assert_int_equal(ok_in_window, 0);
	/* the token info says so while removed, and signing works after the window */
	while (t_now() < until + 0.1) {
		struct timespec ms = {0, 50 * 1000 * 1000};
		nanosleep(&ms, NULL);
	}
	assert_int_equal(sign_once(f, 1), C2S_OK);
	struct hsm_token_info ti;
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	assert_int_equal(ti.present, 1);
	assert_int_equal(ti.logged_in, 1);
}

static void test_token_info_absent(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	double now = t_now();
	removal_rules(f, now - 1, now + 60);
	assert_int_equal(sign_once(f, 0), C2S_ERR_HSM_NO_TOKEN);
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	assert_int_equal(ti.present, 0);
	assert_int_equal(ti.logged_in, 0);
	char why[HSM_WHY] = "";
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_ERR_HSM_NO_TOKEN);
	assert_true(why[0] != '\0');
	set_rules(f, "\n");
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	assert_int_equal(ti.present, 1);
	assert_string_equal(ti.label, "c2s-test");
	assert_int_equal(sign_once(f, 1), C2S_OK);
}

/* A card read while it is being pushed in answers CKR_TOKEN_NOT_RECOGNIZED for a while:
 * refused with "no token" after one recovery during that time, signing again after it. */
static void test_not_recognized_window(void **state)
{
	struct fix *f = *state;
	char text[512];
	double now = t_now(), until = now + 1.0;
	snprintf(text, sizeof(text),
	         "C_SignInit CKR_TOKEN_NOT_RECOGNIZED until=%.3f\n"
	         "C_OpenSession CKR_TOKEN_NOT_RECOGNIZED until=%.3f\n",
	         until, until);
	unsigned long inits = stat_of(f, "C_SignInit", 0);
	unsigned long opens = stat_of(f, "C_OpenSession", 1);
	set_rules(f, text);
	assert_int_equal(sign_once(f, 0), C2S_ERR_HSM_NO_TOKEN);
	assert_true(t_now() < until); /* still inside the window: the check means something */
	/* one recovery (its C_OpenSession refused), no retry of the signature after it */
	assert_int_equal(stat_of(f, "C_OpenSession", 1), opens + 1);
	assert_int_equal(stat_of(f, "C_SignInit", 0), inits + 1);
	while (t_now() < until + 0.05) {
		struct timespec ms = {0, 50 * 1000 * 1000};
		nanosleep(&ms, NULL);
	}
	assert_int_equal(sign_once(f, 1), C2S_OK);
	set_rules(f, "\n");
}

/* Latency from the module: still correct, just slower. */
static void test_delay(void **state)
{
	struct fix *f = *state;
	set_rules(f, "C_Sign delay ms=200 times=1\n");
	double t = t_now();
	assert_int_equal(sign_once(f, 1), C2S_OK);
	assert_true(t_now() - t >= 0.19);
	set_rules(f, "\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_code_sign),
	    cmocka_unit_test(test_each_code_signinit),
	    cmocka_unit_test(test_general_error_fixed),
	    cmocka_unit_test(test_find_recovers),
	    cmocka_unit_test(test_delay),
	    cmocka_unit_test(test_token_info_absent),
	    cmocka_unit_test(test_not_recognized_window),
	    cmocka_unit_test(test_removed_during_burst),
	};
	const struct CMUnitTest removable[] = {
	    cmocka_unit_test(test_general_error_removable),
	};
	int r = cmocka_run_group_tests(tests, setup, teardown);
	return r | cmocka_run_group_tests(removable, setup_removable, teardown);
}
