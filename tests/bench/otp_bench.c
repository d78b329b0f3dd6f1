/* Latency of otp_issue and otp_verify on the keyholder's store (WAL, synchronous=FULL): each call
 * commits, so this is mostly the cost of an fsync on the file system under DIR.
 * Usage: otp_bench DIR [ORDERS]   (a fresh directory is made under DIR and removed after) */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "firmware/base/secmem.h"
#include "firmware/keyholder/otp_int.h"

#define NOW 1700000000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%-22s n=%d  median %.3f ms  p90 %.3f ms  max %.3f ms  mean %.3f ms\n", what, n,
	       v[n / 2], v[n * 9 / 10], v[n - 1], sum / n);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(int argc, char **argv)
{
	int rc = 1;
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [ORDERS]\n", argv[0]);
		return 2;
	}
	int n = argc == 3 ? (int)strtol(argv[2], NULL, 10) : 200;
	if (n < 1 || n > 100000)
		n = 200;
	char base[4096], dir[4200], why[512] = "", order[65], wrong[16];
	snprintf(base, sizeof(base), "%s/otp-bench-XXXXXX", argv[1]);
	if (!mkdtemp(base)) {
		perror(base);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/kh", base);
	struct khstore *ks = NULL;
	uint8_t *key = NULL;
	char *code = secmem_alloc(16);
	double *iss = calloc((size_t)n, sizeof(double)), *bad = calloc((size_t)n, sizeof(double)),
	       *good = calloc((size_t)n, sizeof(double));
	struct otp_policy pol = OTP_POLICY_DEFAULTS;
	if (!code || !iss || !bad || !good || khstore_open(dir, &ks, why, sizeof(why)) != C2S_OK ||
	    otp_key_new(&key) != C2S_OK) {
		fprintf(stderr, "setup failed: %s\n", why);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct kh_manifest m = {.ndocs = 1, .order_expires = NOW + 86400};
		snprintf(m.order, sizeof(m.order), "order-%d", i);
		snprintf(m.jti, sizeof(m.jti), "jti-%d", i);
		snprintf(m.phone, sizeof(m.phone), "+38640000000");
		if (khstore_manifest_put(ks, &m, NOW, why, sizeof(why)) != C2S_OK) {
			fprintf(stderr, "manifest: %s\n", why);
			goto out;
		}
	}
	for (int i = 0; i < n; i++) {
		int64_t ra = 0;
		unsigned left = 0;
		snprintf(order, sizeof(order), "order-%d", i);
		double t = now_ms();
		c2s_err e = otp_issue(ks, &pol, key, order, NOW, code, &ra, why, sizeof(why));
		iss[i] = now_ms() - t;
		snprintf(wrong, sizeof(wrong), "%s", code);
		wrong[0] = (char)('0' + (wrong[0] - '0' + 1) % 10);
		t = now_ms();
		c2s_err w = otp_verify(ks, &pol, key, order, wrong, NOW + 1, &left);
		bad[i] = now_ms() - t;
		t = now_ms();
		c2s_err g = otp_verify(ks, &pol, key, order, code, NOW + 2, &left);
		good[i] = now_ms() - t;
		if (e != C2S_OK || w != C2S_ERR_OTP_WRONG || g != C2S_OK) {
			fprintf(stderr, "unexpected: issue %s, wrong %s, right %s\n",
			        c2s_err_name(e), c2s_err_name(w), c2s_err_name(g));
			goto out;
		}
	}
	printf("store under %s\n", argv[1]);
	report("otp_issue", iss, n);
	report("otp_verify (wrong)", bad, n);
	report("otp_verify (right)", good, n);
	rc = 0;
out:
	khstore_close(ks);
	otp_key_free(key);
	secmem_free(code, 16);
	free(iss);
	free(bad);
	free(good);
	nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
