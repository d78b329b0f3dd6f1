/* The signature PIN of CKA_ALWAYS_AUTHENTICATE keys (C_Login CKU_CONTEXT_SPECIFIC after each
 * C_SignInit) and PIN expiry, through the fault module over SoftHSM2.
 *
 * SoftHSM2 2.6 enforces the context-specific login (C_Sign answers CKR_USER_NOT_LOGGED_IN
 * without it, test_softhsm_enforces_context_login) but checks it against the user PIN: it
 * has no separate signature PIN. The fault module emulates one with the rule
 * "C_Login pin=SIG:USER user=context": the signature PIN SIG reaches SoftHSM2 as the user
 * PIN, any other PIN (the user PIN too) is refused with CKR_PIN_INCORRECT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm_test_common.h"

#define SIG_PIN       "24680246"
#define SIG_PIN_RULES "C_Login pin=" SIG_PIN ":" T_PIN " user=context\n"

struct fix {
	struct t_env e;
	char rules[PATH_MAX + 16], stats[PATH_MAX + 16];
	struct hsm *h;
};

static unsigned long st(struct fix *f, const char *fn)
{
	return t_fault_stat(f->stats, fn, 0);
}

/* Per test: a fresh token through the fault module (no faults) with an ordinary P-256 key
 * "seal" and a P-256 key "aa" with CKA_ALWAYS_AUTHENTICATE (made with pkcs11-tool:
 * hsm_key_generate makes none). The test sets rules and config, then calls fix_open. */
static int setup(void **state)
{
	static struct fix fs;
	struct fix *f = &fs;
	char why[HSM_WHY], cmd[PATH_MAX + 256];
	struct hsm *h;
	struct hsm_key *k;
	memset(f, 0, sizeof(*f));
	t_env_init(&f->e, t_faultp11_path());
	snprintf(f->rules, sizeof(f->rules), "%s/rules", f->e.dir);
	snprintf(f->stats, sizeof(f->stats), "%s/stats", f->e.dir);
	setenv("C2S_FAULTP11_CONF", f->rules, 1);
	setenv("C2S_FAULTP11_STATS", f->stats, 1);
	t_fault_rules(f->rules, "\n");
	assert_int_equal(hsm_token_init(&f->e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(hsm_open(&f->e.cfg, &h, why, sizeof(why)), C2S_OK);
	struct hsm_keygen g = {.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "seal"};
	assert_int_equal(hsm_key_generate(h, &g, &k, why, sizeof(why)), C2S_OK);
	hsm_key_free(k);
	hsm_close(h);
	snprintf(cmd, sizeof(cmd),
	         "pkcs11-tool --module %s --token-label c2s-test --login --pin %s --keypairgen "
	         "--key-type EC:prime256v1 --label aa --id a1 --always-auth >/dev/null 2>&1",
	         T_SOFTHSM, T_PIN);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(pclose(p), 0);
	*state = f;
	return 0;
}

static void fix_open(struct fix *f)
{
	char why[HSM_WHY];
	assert_int_equal(hsm_open(&f->e.cfg, &f->h, why, sizeof(why)), C2S_OK);
}

static int teardown(void **state)
{
	struct fix *f = *state;
	hsm_close(f->h);
	t_env_fini(&f->e);
	unsetenv("C2S_FAULTP11_CONF");
	unsetenv("C2S_FAULTP11_STATS");
	return 0;
}

/* Sign with the key `label`; a signature is verified against the key's public half. */
static c2s_err sign_with(struct fix *f, const char *label)
{
	struct hsm_key *k = NULL;
	struct buf spki;
	char why[HSM_WHY];
	uint8_t d[32], sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	buf_init(&spki, 4096);
	t_digest(HSM_HASH_SHA256, label, strlen(label), d);
	c2s_err r = hsm_key_find(f->h, label, &k, why, sizeof(why));
	if (r == C2S_OK)
		r = hsm_key_spki(f->h, k, &spki);
	if (r == C2S_OK)
		r = hsm_sign(f->h, k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl);
	if (r == C2S_OK)
		assert_int_equal(t_verify(&spki, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, sig, sl), 0);
	buf_free(&spki);
	hsm_key_free(k);
	return r;
}

static void info(struct fix *f, struct hsm_token_info *ti)
{
	assert_int_equal(hsm_token_info(f->h, ti), C2S_OK);
}

/* Without the context-specific login reaching it, SoftHSM2 refuses C_Sign itself. */
static void test_softhsm_enforces_context_login(void **state)
{
	struct fix *f = *state;
	fix_open(f);
	assert_int_equal(sign_with(f, "aa"), C2S_OK);
	t_fault_rules(f->rules, "C_Login CKR_OK user=context\n"); /* answered, not forwarded */
	unsigned long signs = st(f, "C_Sign");
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_NOT_LOGGED_IN);
	/* SoftHSM2 answered CKR_USER_NOT_LOGGED_IN (no injected C_Sign fault); one retry */
	assert_int_equal(st(f, "C_Sign"), signs + 2);
	assert_int_equal(t_fault_stat(f->stats, "C_Sign", 1), 0);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
}

static void test_sig_pin_signs(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	t_fault_rules(f->rules, SIG_PIN_RULES);
	f->e.cfg.sig_pin = SIG_PIN;
	f->e.cfg.sig_pin_len = strlen(SIG_PIN);
	fix_open(f);
	unsigned long ctx = st(f, "C_Login/context");
	for (int i = 0; i < 3; i++)
		assert_int_equal(sign_with(f, "aa"), C2S_OK);
	assert_int_equal(st(f, "C_Login/context"), ctx + 3);
	assert_int_equal(t_fault_stat(f->stats, "C_Login/context", 1), 0);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	assert_int_equal(st(f, "C_Login/context"), ctx + 3); /* not for an ordinary key */
	info(f, &ti);
	assert_int_equal(ti.has_sig_pin, 1);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.sig_pin_state, C2S_OK);
	assert_int_equal(ti.logged_in, 1);
}

/* A wrong signature PIN: one context-specific login, then that key stops without another
 * C_Login (not even after a recovery); the user login and the other key keep working. */
static void test_wrong_sig_pin(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	t_fault_rules(f->rules, SIG_PIN_RULES);
	f->e.cfg.sig_pin = "13571357";
	f->e.cfg.sig_pin_len = 8;
	fix_open(f);
	unsigned long ctx = st(f, "C_Login/context"), user = st(f, "C_Login/user");
	assert_int_equal(user, 1);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(st(f, "C_Login/context"), ctx + 1);
	info(f, &ti);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.sig_pin_state, C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(ti.logged_in, 1);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	unsigned long inits = st(f, "C_SignInit");
	for (int i = 0; i < 3; i++)
		assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(st(f, "C_SignInit"), inits); /* refused before touching the token */
	/* the refused attempt dropped its session (the operation stayed active on it), the
	 * last one: its successor logged in again with the user PIN, once */
	assert_int_equal(st(f, "C_Login/user"), user + 1);
	/* the user login still works: an explicit recovery logs in once */
	user = st(f, "C_Login/user");
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_OK);
	assert_int_equal(st(f, "C_Login/user"), user + 1);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	/* a new user PIN does not clear the separate signature PIN's state */
	assert_int_equal(hsm_set_pin(f->h, T_PIN, strlen(T_PIN)), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(st(f, "C_Login/context"), ctx + 1);
	/* the signature PIN is corrected: it is tried once more and works */
	assert_int_equal(hsm_set_sig_pin(f->h, SIG_PIN, strlen(SIG_PIN)), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_OK);
	assert_int_equal(st(f, "C_Login/context"), ctx + 2);
	info(f, &ti);
	assert_int_equal(ti.sig_pin_state, C2S_OK);
	assert_int_equal(st(f, "C_Login/user"), user + 1);
}

/* No signature PIN configured: the user PIN is sent for the context-specific login; the
 * token refuses it there, and only that key stops. */
static void test_user_pin_as_sig_pin_refused(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	t_fault_rules(f->rules, SIG_PIN_RULES);
	fix_open(f);
	unsigned long ctx = st(f, "C_Login/context");
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(st(f, "C_Login/context"), ctx + 1);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	info(f, &ti);
	assert_int_equal(ti.has_sig_pin, 0);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.sig_pin_state, C2S_ERR_HSM_PIN_INCORRECT);
	/* hsm_set_pin is the PIN of those logins too: one more try (refused again) */
	assert_int_equal(hsm_set_pin(f->h, T_PIN, strlen(T_PIN)), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(st(f, "C_Login/context"), ctx + 2);
	assert_int_equal(hsm_set_sig_pin(f->h, SIG_PIN, strlen(SIG_PIN)), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_OK);
}

/* CKR_PIN_EXPIRED is its own code (not "locked") for the user PIN and the signature PIN, and
 * stops automatic logins like a refused PIN. */
static void test_user_pin_expired(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	t_fault_rules(f->rules, "C_Login CKR_PIN_EXPIRED user=user\n");
	fix_open(f); /* stays open so the state can be reported */
	info(f, &ti);
	assert_int_equal(ti.pin_state, C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(ti.sig_pin_state, C2S_OK);
	assert_int_equal(ti.logged_in, 0);
	assert_int_equal(sign_with(f, "seal"), C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(st(f, "C_Login/user"), 1);
	/* a new PIN was set on the token: logins resume */
	t_fault_rules(f->rules, "\n");
	assert_int_equal(hsm_set_pin(f->h, T_PIN, strlen(T_PIN)), C2S_OK);
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_OK);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_OK);
	/* answered by another call than C_Login: the same code */
	t_fault_rules(f->rules, "C_Sign CKR_PIN_EXPIRED times=1\n");
	assert_int_equal(sign_with(f, "seal"), C2S_ERR_HSM_PIN_EXPIRED);
}

/* What the error message advises: a PIN change with the expired PIN, then logins resume. */
static void test_expired_pin_changed(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	t_fault_rules(f->rules, "C_Login CKR_PIN_EXPIRED user=user times=1\n");
	fix_open(f);
	assert_int_equal(sign_with(f, "seal"), C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(hsm_pin_change(f->h, T_PIN, "97531975"), C2S_OK);
	assert_int_equal(hsm_recover(f->h, why, sizeof(why)), C2S_OK);
	info(f, &ti);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.logged_in, 1);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_OK); /* the new PIN, as signature PIN too */
	assert_int_equal(st(f, "C_Login/user"), 2);
}

static void test_sig_pin_expired_and_locked(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	t_fault_rules(f->rules, "C_Login CKR_PIN_EXPIRED user=context\n");
	f->e.cfg.sig_pin = SIG_PIN;
	f->e.cfg.sig_pin_len = strlen(SIG_PIN);
	fix_open(f);
	unsigned long ctx = st(f, "C_Login/context");
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(st(f, "C_Login/context"), ctx + 1);
	info(f, &ti);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.sig_pin_state, C2S_ERR_HSM_PIN_EXPIRED);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	/* locked: the same separation */
	t_fault_rules(f->rules, "C_Login CKR_PIN_LOCKED user=context\n");
	assert_int_equal(hsm_set_sig_pin(f->h, SIG_PIN, strlen(SIG_PIN)), C2S_OK);
	assert_int_equal(sign_with(f, "aa"), C2S_ERR_HSM_PIN_LOCKED);
	info(f, &ti);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.sig_pin_state, C2S_ERR_HSM_PIN_LOCKED);
	assert_int_equal(ti.logged_in, 1);
	assert_int_equal(sign_with(f, "seal"), C2S_OK);
	assert_int_equal(st(f, "C_Login/context"), ctx + 2);
}

static void test_sig_pin_config_checked(void **state)
{
	struct fix *f = *state;
	char why[HSM_WHY] = "";
	struct hsm *h = NULL;
	f->e.cfg.sig_pin = SIG_PIN;
	f->e.cfg.sig_pin_len = 0;
	assert_int_equal(hsm_open(&f->e.cfg, &h, why, sizeof(why)), C2S_ERR_CONFIG);
	assert_null(h);
	assert_non_null(strstr(why, "signature PIN"));
	f->e.cfg.sig_pin_len = strlen(SIG_PIN);
	fix_open(f);
	assert_int_equal(hsm_set_sig_pin(f->h, NULL, 0), C2S_ERR_ARG);
	assert_int_equal(hsm_set_sig_pin(f->h, SIG_PIN, HSM_MAX_PIN), C2S_ERR_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_softhsm_enforces_context_login, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sig_pin_signs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_sig_pin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_pin_as_sig_pin_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_pin_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_pin_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sig_pin_expired_and_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sig_pin_config_checked, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
