/* 8 threads sign 10,000 digests (RSA-2048) through one struct hsm (pool 4); every signature
 * verified.
 * A second run (P-256, pool 2) goes through the fault module, which invalidates a session every
 * few hundred C_Sign calls, so recovery runs while other threads are signing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hsm_test_common.h"

#define THREADS 8

struct run {
	struct hsm *h;
	struct hsm_key *k;
	const struct buf *spki;
	enum hsm_mech mech;
	int per_thread;
	int id;
	int ok, bad_sig, failed;
};

static void *worker(void *arg)
{
	struct run *r = arg;
	for (int i = 0; i < r->per_thread; i++) {
		uint8_t d[32], sig[HSM_MAX_SIG];
		size_t sl = sizeof(sig);
		int msg[2] = {r->id, i};
		t_digest(HSM_HASH_SHA256, msg, sizeof(msg), d);
		c2s_err e = hsm_sign(r->h, r->k, r->mech, HSM_HASH_SHA256, d, 32, sig, &sl);
		if (e != C2S_OK) {
			fprintf(stderr, "thread %d: %s\n", r->id, c2s_err_name(e));
			r->failed++;
		} else if (t_verify(r->spki, r->mech, HSM_HASH_SHA256, d, sig, sl) != 0) {
			r->bad_sig++;
		} else {
			r->ok++;
		}
	}
	return NULL;
}

static void run_threads(const char *module, unsigned pool, int total, const char *rules,
                        const struct hsm_keygen *g, enum hsm_mech mech)
{
	struct t_env e;
	struct hsm *h = NULL;
	struct hsm_key *k = NULL;
	struct buf spki;
	struct run runs[THREADS];
	pthread_t th[THREADS];
	char why[HSM_WHY], rp[PATH_MAX + 16];
	t_env_init(&e, module);
	e.cfg.pool_size = pool;
	snprintf(rp, sizeof(rp), "%s/rules", e.dir);
	t_write_file(rp, rules ? rules : "\n");
	setenv("C2S_FAULTP11_CONF", rp, 1);
	assert_int_equal(hsm_token_init(&e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(hsm_open(&e.cfg, &h, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_key_generate(h, g, &k, why, sizeof(why)), C2S_OK);
	buf_init(&spki, 4096);
	assert_int_equal(hsm_key_spki(h, k, &spki), C2S_OK);
	double t0 = t_now();
	for (int i = 0; i < THREADS; i++) {
		runs[i] = (struct run){h, k, &spki, mech, total / THREADS, i, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &runs[i]), 0);
	}
	int ok = 0, bad = 0, failed = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += runs[i].ok, bad += runs[i].bad_sig, failed += runs[i].failed;
	}
	fprintf(stderr, "pool %u: %d signatures verified in %.2f s (with verification)\n", pool, ok,
	        t_now() - t0);
	assert_int_equal(bad, 0);
	assert_int_equal(failed, 0);
	assert_int_equal(ok, total);
	buf_free(&spki);
	hsm_key_free(k);
	hsm_close(h);
	t_env_fini(&e);
	unsetenv("C2S_FAULTP11_CONF");
}

static void test_8_threads_pool4(void **state)
{
	(void)state;
	/* RSA-2048: mbedTLS verifies it fast enough to check all 10,000 */
	struct hsm_keygen g = {.type = HSM_KEY_RSA, .rsa_bits = 2048, .label = "seal"};
	run_threads(NULL, 4, 10000, NULL, &g, HSM_MECH_RSA_PKCS1);
}

static void test_8_threads_pool2_with_faults(void **state)
{
	(void)state;
	struct hsm_keygen g = {.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "seal"};
	run_threads(t_faultp11_path(), 2, 800, "C_Sign CKR_SESSION_HANDLE_INVALID every=301\n", &g,
	            HSM_MECH_ECDSA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_8_threads_pool4),
	    cmocka_unit_test(test_8_threads_pool2_with_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
