/* PIN safety: after one refused login no further automatic C_Login (counted by the fault
 * module), pin_state reported; PIN change; CKA_ALWAYS_AUTHENTICATE keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm_test_common.h"

struct fix {
	struct t_env e;
	char rules[PATH_MAX + 16], stats[PATH_MAX + 16];
};

static void set_rules(struct fix *f, const char *text)
{
	t_fault_rules(f->rules, text);
}

static unsigned long logins(struct fix *f)
{
	return t_fault_stat(f->stats, "C_Login", 0);
}

/* Token with a P-256 key "seal", made through the fault module (no faults). */
static void fix_init(struct fix *f, int removable)
{
	char why[HSM_WHY];
	struct hsm *h;
	struct hsm_key *k;
	t_env_init(&f->e, t_faultp11_path());
	if (removable) {
		FILE *fp = fopen(f->e.conf, "a");
		fputs("slots.removable = true\n", fp);
		fclose(fp);
	}
	snprintf(f->rules, sizeof(f->rules), "%s/rules", f->e.dir);
	snprintf(f->stats, sizeof(f->stats), "%s/stats", f->e.dir);
	setenv("C2S_FAULTP11_CONF", f->rules, 1);
	setenv("C2S_FAULTP11_STATS", f->stats, 1);
	set_rules(f, "\n");
	assert_int_equal(hsm_token_init(&f->e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(hsm_open(&f->e.cfg, &h, why, sizeof(why)), C2S_OK);
	struct hsm_keygen g = {.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "seal"};
	assert_int_equal(hsm_key_generate(h, &g, &k, why, sizeof(why)), C2S_OK);
	hsm_key_free(k);
	hsm_close(h);
}

static void fix_fini(struct fix *f)
{
	t_env_fini(&f->e);
	unsetenv("C2S_FAULTP11_CONF");
	unsetenv("C2S_FAULTP11_STATS");
}

static c2s_err sign_with(struct hsm *h, const char *label)
{
	struct hsm_key *k = NULL;
	char why[HSM_WHY];
	uint8_t d[32] = {1}, sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	c2s_err r = hsm_key_find(h, label, &k, why, sizeof(why));
	if (r == C2S_OK)
		r = hsm_sign(h, k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl);
	hsm_key_free(k);
	return r;
}

static void test_wrong_pin_one_attempt(void **state)
{
	(void)state;
	struct fix f;
	struct hsm *h = NULL;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	fix_init(&f, 0);
	f.e.cfg.pin = "999999";
	f.e.cfg.pin_len = 6;
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	unsigned long n = logins(&f);
	assert_int_equal(n, 1);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.present, 1);
	assert_int_equal(ti.logged_in, 0);
	assert_int_equal(ti.pin_state, C2S_ERR_HSM_PIN_INCORRECT);
	/* operations, recovery attempts: refused without touching the token's counter */
	for (int i = 0; i < 5; i++)
		assert_int_equal(sign_with(h, "seal"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(hsm_recover(h, why, sizeof(why)), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(logins(&f), 1);
	/* the PIN is corrected: an explicit recovery logs in again */
	assert_int_equal(hsm_set_pin(h, T_PIN, strlen(T_PIN)), C2S_OK);
	assert_int_equal(hsm_recover(h, why, sizeof(why)), C2S_OK);
	assert_int_equal(logins(&f), 2);
	assert_int_equal(sign_with(h, "seal"), C2S_OK);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.logged_in, 1);
	hsm_close(h);
	fix_fini(&f);
}

static void test_pin_locked_and_card_general_error(void **state)
{
	(void)state;
	struct fix f;
	struct hsm *h = NULL;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	fix_init(&f, 1);
	set_rules(&f, "C_Login CKR_PIN_LOCKED\n");
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.pin_state, C2S_ERR_HSM_PIN_LOCKED);
	assert_int_equal(sign_with(h, "seal"), C2S_ERR_HSM_PIN_LOCKED);
	assert_int_equal(logins(&f), 1);
	hsm_close(h);
	/* the emulated card answers a wrong PIN with CKR_GENERAL_ERROR (removable token) */
	set_rules(&f, "C_Login CKR_GENERAL_ERROR\n");
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	unsigned long n = logins(&f);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.removable, 1);
	assert_int_equal(ti.pin_state, C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(sign_with(h, "seal"), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(hsm_recover(h, why, sizeof(why)), C2S_ERR_HSM_PIN_INCORRECT);
	assert_int_equal(logins(&f), n);
	hsm_close(h);
	fix_fini(&f);
}

static void test_pin_change(void **state)
{
	(void)state;
	struct fix f;
	struct hsm *h = NULL;
	struct hsm_token_info ti;
	char why[HSM_WHY];
	fix_init(&f, 0);
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_pin_change(h, T_PIN, "24681357"), C2S_OK);
	assert_int_equal(sign_with(h, "seal"), C2S_OK);
	hsm_close(h);
	/* old PIN refused now, new PIN works */
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.pin_state, C2S_ERR_HSM_PIN_INCORRECT);
	hsm_close(h);
	f.e.cfg.pin = "24681357";
	f.e.cfg.pin_len = 8;
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_token_info(h, &ti), C2S_OK);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_int_equal(ti.logged_in, 1);
	assert_int_equal(sign_with(h, "seal"), C2S_OK);
	/* wrong old PIN */
	assert_int_equal(hsm_pin_change(h, "00000000", "11111111"), C2S_ERR_HSM_PIN_INCORRECT);
	hsm_close(h);
	fix_fini(&f);
}

/* A CKA_ALWAYS_AUTHENTICATE key (made with pkcs11-tool): C_Login(CKU_CONTEXT_SPECIFIC)
 * after each C_SignInit. */
static void test_always_authenticate(void **state)
{
	(void)state;
	struct fix f;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct hsm_key_info ki;
	char why[HSM_WHY], cmd[PATH_MAX + 256];
	fix_init(&f, 0);
	snprintf(cmd, sizeof(cmd),
	         "pkcs11-tool --module %s --token-label c2s-test --login --pin %s --keypairgen "
	         "--key-type EC:prime256v1 --label aa --id a1 --always-auth >/dev/null 2>&1",
	         T_SOFTHSM, T_PIN);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(pclose(p), 0);
	assert_int_equal(hsm_open(&f.e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(
	    hsm_key_find(h, "pkcs11:object=aa;id=%a1;type=private", &k, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_key_get_info(h, k, &ki), C2S_OK);
	assert_int_equal(ki.always_authenticate, 1);
	struct buf spki;
	buf_init(&spki, 4096);
	assert_int_equal(hsm_key_spki(h, k, &spki), C2S_OK);
	unsigned long n = logins(&f);
	for (int i = 0; i < 3; i++) {
		uint8_t d[32], sig[HSM_MAX_SIG];
		size_t sl = sizeof(sig);
		t_digest(HSM_HASH_SHA256, &i, sizeof(i), d);
		assert_int_equal(hsm_sign(h, k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl),
		                 C2S_OK);
		assert_int_equal(t_verify(&spki, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, sig, sl), 0);
	}
	assert_int_equal(logins(&f), n + 3);
	buf_free(&spki);
	hsm_key_free(k);
	hsm_close(h);
	fix_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrong_pin_one_attempt),
	    cmocka_unit_test(test_pin_locked_and_card_general_error),
	    cmocka_unit_test(test_pin_change),
	    cmocka_unit_test(test_always_authenticate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
