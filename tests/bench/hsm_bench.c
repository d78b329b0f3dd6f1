/* hsm_bench: signatures per second on SoftHSM2, RSA-3072 and P-256, 1 and 2 threads:
 *   raw  C_SignInit + C_Sign straight on the module (the physical limit),
 *   hsm  through hsm_sign (pool, DigestInfo/DER, recovery bookkeeping),
 * and the ratio hsm/raw. Other paths (e.g. through the keyholder IPC) plug in as another
 * `bench_sign_fn` and a line in main().
 * Usage: hsm_bench [seconds-per-measurement (default 3)]
 * Uses its own SoftHSM2 token in a temp dir (SOFTHSM2_CONF is set for this process). */
#include <dlfcn.h>
#include <ftw.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hsm/hsm.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define MAX_THR 8

/* One signature of a 32-byte digest; `thread` is 0..threads-1. Returns 0 on success. */
typedef int (*bench_sign_fn)(void *ctx, int thread, const uint8_t *digest, uint8_t *sig,
                             size_t *sig_len);

struct bench_thr {
	bench_sign_fn fn;
	void *ctx;
	int id;
	double until;
	long n, errors;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *bench_thread(void *arg)
{
	struct bench_thr *t = arg;
	uint8_t d[32], sig[HSM_MAX_SIG];
	memset(d, 0x5a, sizeof(d));
	while (now_s() < t->until) {
		size_t sl = sizeof(sig);
		d[0] = (uint8_t)t->n;
		if (t->fn(t->ctx, t->id, d, sig, &sl) != 0)
			t->errors++;
		else
			t->n++;
	}
	return NULL;
}

/* Signatures per second over `seconds` with `threads` threads. */
static double bench_run(bench_sign_fn fn, void *ctx, int threads, double seconds)
{
	struct bench_thr t[MAX_THR];
	pthread_t th[MAX_THR];
	double t0 = now_s();
	long total = 0, errors = 0;
	for (int i = 0; i < threads; i++) {
		t[i] = (struct bench_thr){fn, ctx, i, t0 + seconds, 0, 0};
		pthread_create(&th[i], NULL, bench_thread, &t[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		total += t[i].n;
		errors += t[i].errors;
	}
	if (errors)
		fprintf(stderr, "  (%ld errors)\n", errors);
	return (double)total / (now_s() - t0);
}

/* ---- raw PKCS#11 path ---- */
struct raw_ctx {
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s[MAX_THR];
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
};

static int raw_sign(void *vctx, int thread, const uint8_t *digest, uint8_t *sig, size_t *sig_len)
{
	static const uint8_t di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	struct raw_ctx *c = vctx;
	CK_MECHANISM m = {c->mech, NULL, 0};
	uint8_t in[sizeof(di256) + 32];
	CK_ULONG in_len = 32, out = *sig_len;
	if (c->mech == CKM_RSA_PKCS) {
		memcpy(in, di256, sizeof(di256));
		memcpy(in + sizeof(di256), digest, 32);
		in_len = sizeof(in);
	} else {
		memcpy(in, digest, 32);
	}
	if (c->f->C_SignInit(c->s[thread], &m, c->key) != CKR_OK)
		return -1;
	if (c->f->C_Sign(c->s[thread], in, in_len, sig, &out) != CKR_OK)
		return -1;
	*sig_len = out;
	return 0;
}

static int raw_open(struct raw_ctx *c, const char *label, CK_MECHANISM_TYPE mech)
{
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                    {CKA_LABEL, (void *)label, strlen(label)}};
	void *dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL); /* already loaded and initialised */
	if (!dl)
		return -1;
	*(void **)&gfl = dlsym(dl, "C_GetFunctionList");
	if (!gfl || gfl(&c->f) != CKR_OK)
		return -1;
	c->mech = mech;
	if (c->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
		return -1;
	/* the initialised token: SoftHSM lists it first, its spare slot last */
	for (int i = 0; i < MAX_THR; i++)
		if (c->f->C_OpenSession(slots[0], CKF_SERIAL_SESSION, NULL, NULL, &c->s[i]) !=
		    CKR_OK)
			return -1;
	if (c->f->C_FindObjectsInit(c->s[0], t, 2) != CKR_OK ||
	    c->f->C_FindObjects(c->s[0], &c->key, 1, &n) != CKR_OK || n != 1)
		return -1;
	return c->f->C_FindObjectsFinal(c->s[0]) == CKR_OK ? 0 : -1;
}

static void raw_close(struct raw_ctx *c)
{
	for (int i = 0; i < MAX_THR; i++)
		c->f->C_CloseSession(c->s[i]);
}

/* ---- hsm_sign path ---- */
struct hsm_ctx {
	struct hsm *h;
	struct hsm_key *k;
	enum hsm_mech m;
};

static int hsm_path_sign(void *vctx, int thread, const uint8_t *digest, uint8_t *sig,
                         size_t *sig_len)
{
	struct hsm_ctx *c = vctx;
	(void)thread;
	return hsm_sign(c->h, c->k, c->m, HSM_HASH_SHA256, digest, 32, sig, sig_len) == C2S_OK ? 0
	                                                                                       : -1;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int token_setup(char *dir, struct hsm **h)
{
	char conf[512], tok[300], text[400], why[HSM_WHY];
	const char *allow[] = {SOFTHSM};
	struct hsm_config cfg = {.module_path = SOFTHSM,
	                         .allow = allow,
	                         .n_allow = 1,
	                         .token_uri = "pkcs11:token=bench",
	                         .pin = "123456",
	                         .pin_len = 6,
	                         .pool_size = 2};
	if (!mkdtemp(dir))
		return -1;
	snprintf(tok, sizeof(tok), "%s/tokens", dir);
	mkdir(tok, 0700);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(text, sizeof(text), "directories.tokendir = %s\nobjectstore.backend = file\n",
	         tok);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);
	if (hsm_token_init(&cfg, "87654321", "bench", "123456", why, sizeof(why)) != C2S_OK ||
	    hsm_open(&cfg, h, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "token: %s\n", why);
		return -1;
	}
	return 0;
}

/* Runs raw and hsm paths for one key; prints one line per thread count. */
static int bench_key(struct hsm *h, const struct hsm_keygen *g, const char *name, enum hsm_mech m,
                     CK_MECHANISM_TYPE raw_mech, double secs)
{
	char why[HSM_WHY];
	struct hsm_ctx hc = {h, NULL, m};
	struct raw_ctx rc;
	memset(&rc, 0, sizeof(rc));
	if (hsm_key_generate(h, g, &hc.k, why, sizeof(why)) != C2S_OK ||
	    raw_open(&rc, g->label, raw_mech)) {
		fprintf(stderr, "%s: setup failed %s\n", name, why);
		return -1;
	}
	for (int thr = 1; thr <= 2; thr++) {
		double raw = bench_run(raw_sign, &rc, thr, secs);
		double via = bench_run(hsm_path_sign, &hc, thr, secs);
		printf("%-9s %d thread%s  raw C_Sign %8.0f/s   hsm_sign %8.0f/s   ratio %.2f\n",
		       name, thr, thr > 1 ? "s" : " ", raw, via, via / raw);
		fflush(stdout);
	}
	raw_close(&rc);
	hsm_key_free(hc.k);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/c2s-hsmbench-XXXXXX";
	struct hsm *h = NULL;
	double secs = argc > 1 ? strtod(argv[1], NULL) : 3.0;
	int rc = 1;
	if (secs <= 0 || secs > 600)
		secs = 3.0;
	if (token_setup(dir, &h) != 0)
		goto out;
	struct hsm_keygen rsa = {.type = HSM_KEY_RSA, .rsa_bits = 3072, .label = "bench-rsa3072"};
	struct hsm_keygen ec = {.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "bench-p256"};
	printf("SoftHSM2, %.1f s per measurement\n", secs);
	if (bench_key(h, &rsa, "RSA-3072", HSM_MECH_RSA_PKCS1, CKM_RSA_PKCS, secs) ||
	    bench_key(h, &ec, "P-256", HSM_MECH_ECDSA, CKM_ECDSA, secs))
		goto out;
	rc = 0;
out:
	hsm_close(h);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
