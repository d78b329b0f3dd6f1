/* Signing on a real SoftHSM2 token with every mechanism, hash and curve; signatures verified
 * with mbedTLS from hsm_key_spki, and once each (RSA, EC) with the openssl CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm_test_common.h"

struct fix {
	struct t_env e;
	struct hsm *h;
};

static int setup(void **state)
{
	static struct fix f;
	char why[HSM_WHY];
	t_env_init(&f.e, NULL);
	if (hsm_token_init(&f.e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "token init: %s\n", why);
		return -1;
	}
	if (hsm_open(&f.e.cfg, &f.h, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "open: %s\n", why);
		return -1;
	}
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	hsm_close(f->h);
	t_env_fini(&f->e);
	return 0;
}

static struct hsm_key *gen(struct hsm *h, enum hsm_key_type t, unsigned bits, enum hsm_curve c,
                           const char *label)
{
	struct hsm_keygen g = {.type = t, .rsa_bits = bits, .curve = c, .label = label};
	struct hsm_key *k = NULL;
	char why[HSM_WHY] = "";
	c2s_err r = hsm_key_generate(h, &g, &k, why, sizeof(why));
	if (r != C2S_OK)
		fprintf(stderr, "generate %s: %s (%s)\n", label, c2s_err_name(r), why);
	assert_int_equal(r, C2S_OK);
	return k;
}

/* Sign "message <i>" with m/hash and verify with mbedTLS; returns the signature length. */
static size_t sign_verify(struct hsm *h, struct hsm_key *k, enum hsm_mech m, enum hsm_hash hash)
{
	uint8_t d[64], sig[HSM_MAX_SIG];
	size_t sig_len = sizeof(sig);
	struct buf spki;
	buf_init(&spki, 4096);
	t_digest(hash, "click2sign", 10, d);
	assert_int_equal(hsm_key_spki(h, k, &spki), C2S_OK);
	assert_int_equal(hsm_sign(h, k, m, hash, d, hsm_hash_len(hash), sig, &sig_len), C2S_OK);
	assert_int_equal(t_verify(&spki, m, hash, d, sig, sig_len), 0);
	/* negative: a flipped bit must not verify */
	sig[sig_len / 2] ^= 0x01;
	assert_int_not_equal(t_verify(&spki, m, hash, d, sig, sig_len), 0);
	buf_free(&spki);
	return sig_len;
}

static void test_rsa2048_all(void **state)
{
	struct fix *f = *state;
	struct hsm_key *k = gen(f->h, HSM_KEY_RSA, 2048, 0, "rsa2048");
	for (int hh = HSM_HASH_SHA256; hh <= HSM_HASH_SHA512; hh++) {
		assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PKCS1, hh), 256);
		assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PSS, hh), 256);
	}
	/* negatives: wrong digest length, ECDSA on an RSA key, unknown hash */
	uint8_t d[64] = {0}, sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	assert_int_equal(hsm_sign(f->h, k, HSM_MECH_RSA_PKCS1, HSM_HASH_SHA256, d, 48, sig, &sl),
	                 C2S_ERR_ARG);
	sl = sizeof(sig);
	assert_int_equal(hsm_sign(f->h, k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl),
	                 C2S_ERR_HSM_MECHANISM);
	sl = 10; /* too small an output buffer */
	assert_int_equal(hsm_sign(f->h, k, HSM_MECH_RSA_PKCS1, HSM_HASH_SHA256, d, 32, sig, &sl),
	                 C2S_ERR_TOO_BIG);
	hsm_key_free(k);
}

static void test_rsa3072_4096(void **state)
{
	struct fix *f = *state;
	struct hsm_key *k = gen(f->h, HSM_KEY_RSA, 3072, 0, "rsa3072");
	struct hsm_key_info ki;
	assert_int_equal(hsm_key_get_info(f->h, k, &ki), C2S_OK);
	assert_int_equal(ki.bits, 3072);
	assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PKCS1, HSM_HASH_SHA256), 384);
	assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PSS, HSM_HASH_SHA512), 384);
	hsm_key_free(k);
	k = gen(f->h, HSM_KEY_RSA, 4096, 0, "rsa4096");
	assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PKCS1, HSM_HASH_SHA384), 512);
	assert_int_equal(sign_verify(f->h, k, HSM_MECH_RSA_PSS, HSM_HASH_SHA256), 512);
	hsm_key_free(k);
}

static void test_ecdsa_curves(void **state)
{
	struct fix *f = *state;
	static const char *labels[] = {"", "p256", "p384", "p521"};
	for (int c = HSM_CURVE_P256; c <= HSM_CURVE_P521; c++) {
		struct hsm_key *k = gen(f->h, HSM_KEY_EC, 0, c, labels[c]);
		struct hsm_key_info ki;
		assert_int_equal(hsm_key_get_info(f->h, k, &ki), C2S_OK);
		assert_int_equal(ki.type, HSM_KEY_EC);
		assert_int_equal(ki.curve, c);
		/* many signatures so that r/s with leading zero bytes occur (P-521: ~half) */
		for (int i = 0; i < 25; i++)
			for (int hh = HSM_HASH_SHA256; hh <= HSM_HASH_SHA512; hh++)
				sign_verify(f->h, k, HSM_MECH_ECDSA, hh);
		uint8_t d[32] = {0}, sig[HSM_MAX_SIG];
		size_t sl = sizeof(sig);
		assert_int_equal(
		    hsm_sign(f->h, k, HSM_MECH_RSA_PSS, HSM_HASH_SHA256, d, 32, sig, &sl),
		    C2S_ERR_HSM_MECHANISM);
		hsm_key_free(k);
	}
}

static void write_bin(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

/* openssl pkeyutl -verify: exit status 0 for the good signature, non-zero for a bad one. */
static int openssl_verify(struct fix *f, struct hsm_key *k, enum hsm_mech m, int corrupt)
{
	char dp[PATH_MAX + 16], sp[PATH_MAX + 16], kp[PATH_MAX + 16], cmd[4 * PATH_MAX];
	uint8_t d[32], sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	struct buf spki;
	buf_init(&spki, 4096);
	t_digest(HSM_HASH_SHA256, "openssl cross-check", 19, d);
	assert_int_equal(hsm_key_spki(f->h, k, &spki), C2S_OK);
	assert_int_equal(hsm_sign(f->h, k, m, HSM_HASH_SHA256, d, 32, sig, &sl), C2S_OK);
	if (corrupt)
		d[0] ^= 0x80;
	snprintf(dp, sizeof(dp), "%s/digest.bin", f->e.dir);
	snprintf(sp, sizeof(sp), "%s/sig.bin", f->e.dir);
	snprintf(kp, sizeof(kp), "%s/spki.der", f->e.dir);
	write_bin(dp, d, 32);
	write_bin(sp, sig, sl);
	write_bin(kp, spki.data, spki.len);
	buf_free(&spki);
	snprintf(cmd, sizeof(cmd),
	         "openssl pkeyutl -verify -pubin -keyform DER -inkey %s -in %s -sigfile %s %s "
	         ">/dev/null 2>&1",
	         kp, dp, sp,
	         m == HSM_MECH_RSA_PKCS1 ? "-pkeyopt digest:sha256"
	         : m == HSM_MECH_RSA_PSS ? "-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss "
	                                   "-pkeyopt rsa_pss_saltlen:32"
	                                 : "");
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	return pclose(p);
}

static void test_openssl_cross_check(void **state)
{
	struct fix *f = *state;
	struct hsm_key *r = gen(f->h, HSM_KEY_RSA, 2048, 0, "x-rsa");
	struct hsm_key *e = gen(f->h, HSM_KEY_EC, 0, HSM_CURVE_P384, "x-ec");
	assert_int_equal(openssl_verify(f, r, HSM_MECH_RSA_PKCS1, 0), 0);
	assert_int_not_equal(openssl_verify(f, r, HSM_MECH_RSA_PKCS1, 1), 0);
	assert_int_equal(openssl_verify(f, r, HSM_MECH_RSA_PSS, 0), 0);
	assert_int_equal(openssl_verify(f, e, HSM_MECH_ECDSA, 0), 0);
	assert_int_not_equal(openssl_verify(f, e, HSM_MECH_ECDSA, 1), 0);
	hsm_key_free(r);
	hsm_key_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsa2048_all),
	    cmocka_unit_test(test_rsa3072_4096),
	    cmocka_unit_test(test_ecdsa_curves),
	    cmocka_unit_test(test_openssl_cross_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
