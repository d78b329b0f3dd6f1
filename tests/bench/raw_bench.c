/* raw_bench: the physical limit for kh_bench. Signs straight on the PKCS#11 module with
 * C_SignInit + C_Sign, on the SAME token and seal key as an appliance config names
 * ([token] module/uri/pin_file, [seal] key), with the same mechanism and digest the keyholder
 * uses: RSA PKCS#1 v1.5 over a SHA-256 DigestInfo, or ECDSA over the raw SHA-256 digest.
 *
 *   raw_bench CONFIG THREADS SECONDS
 * prints: "raw <threads> threads: <n> signatures in <s> s = <rate>/s, <errors> errors"
 * (the same shape as kh_bench, so tests/bench/run.sh can alternate and compare them). */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/base/config.h"
#include "hsm/hsm.h"

#define RAW_MAX_THR 32

struct raw_tok {
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s[RAW_MAX_THR];
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
	double until;
};

struct raw_worker {
	struct raw_tok *t;
	int id;
	unsigned long ok, err;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *raw_work(void *arg)
{
	static const uint8_t di256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	struct raw_worker *w = arg;
	struct raw_tok *t = w->t;
	CK_MECHANISM m = {t->mech, NULL, 0};
	uint8_t in[sizeof(di256) + 32], sig[HSM_MAX_SIG];
	size_t off = t->mech == CKM_RSA_PKCS ? sizeof(di256) : 0;
	memcpy(in, di256, sizeof(di256));
	while (now_s() < t->until) {
		CK_ULONG sl = sizeof(sig);
		for (size_t i = 0; i < 32; i++)
			in[off + i] = (uint8_t)rand();
		if (t->f->C_SignInit(t->s[w->id], &m, t->key) == CKR_OK &&
		    t->f->C_Sign(t->s[w->id], in, (CK_ULONG)(off + 32), sig, &sl) == CKR_OK)
			w->ok++;
		else
			w->err++;
	}
	return NULL;
}

/* Reads the first line of the PIN file into pin (NUL-terminated, newline stripped). */
static int read_pin(const char *path, char *pin, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f || !fgets(pin, (int)cap, f)) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	pin[strcspn(pin, "\r\n")] = 0;
	return 0;
}

/* The slot whose token label equals the URI's token= (or the first token when none). */
static int find_slot(CK_FUNCTION_LIST_PTR f, const struct hsm_uri *u, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char label[33];
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		memcpy(label, ti.label, 32);
		label[32] = 0;
		for (int j = 31; j >= 0 && label[j] == ' '; j--)
			label[j] = 0;
		if (!u->has_token || strcmp(label, u->token) == 0) {
			*slot = slots[i];
			return 0;
		}
	}
	return -1;
}

/* The private key by label; its type picks the mechanism. */
/* By label, or by CKA_ID when id != NULL (a pkcs11: URI with id= only, e.g. a card key). */
static int find_key(struct raw_tok *t, const char *label, const uint8_t *id, size_t id_len)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                       id ? (CK_ATTRIBUTE){CKA_ID, (void *)id, id_len}
	                          : (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)}};
	CK_ATTRIBUTE ta = {CKA_KEY_TYPE, &kt, sizeof(kt)};
	CK_ULONG n = 0;
	if (t->f->C_FindObjectsInit(t->s[0], tmpl, 2) != CKR_OK)
		return -1;
	CK_RV rv = t->f->C_FindObjects(t->s[0], &t->key, 1, &n);
	t->f->C_FindObjectsFinal(t->s[0]);
	if (rv != CKR_OK || n != 1 || t->f->C_GetAttributeValue(t->s[0], t->key, &ta, 1) != CKR_OK)
		return -1;
	t->mech = kt == CKK_RSA ? CKM_RSA_PKCS : CKM_ECDSA;
	return 0;
}

static int raw_open(const struct config *cfg, struct raw_tok *t, int threads)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_SLOT_ID slot;
	struct hsm_uri u;
	char why[HSM_WHY], pin[HSM_MAX_PIN];
	const char *label = cfg->seal_key;
	void *dl = dlopen(cfg->module, RTLD_NOW | RTLD_LOCAL);
	if (!dl || hsm_uri_parse(cfg->token_uri, &u, why, sizeof(why)) != C2S_OK)
		return -1;
	*(void **)&gfl = dlsym(dl, "C_GetFunctionList");
	if (!gfl || gfl(&t->f) != CKR_OK || t->f->C_Initialize(&args) != CKR_OK ||
	    find_slot(t->f, &u, &slot) != 0)
		return -1;
	for (int i = 0; i < threads; i++)
		if (t->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &t->s[i]) != CKR_OK)
			return -1;
	CK_RV rv = CKR_PIN_INCORRECT;
	if (read_pin(cfg->pin_file, pin, sizeof(pin)) == 0)
		rv = t->f->C_Login(t->s[0], CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	explicit_bzero(pin, sizeof(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return -1;
	/* a pkcs11: URI as the seal key names its object= label */
	struct hsm_uri ku;
	if (strncmp(label, "pkcs11:", 7) == 0 &&
	    hsm_uri_parse(label, &ku, why, sizeof(why)) == C2S_OK) {
		if (ku.has_object)
			return find_key(t, ku.object, NULL, 0);
		if (ku.has_id)
			return find_key(t, NULL, ku.id, ku.id_len);
	}
	return find_key(t, label, NULL, 0);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct raw_tok tok;
	struct raw_worker w[RAW_MAX_THR];
	pthread_t th[RAW_MAX_THR];
	if (argc != 4) {
		fprintf(stderr, "usage: raw_bench CONFIG THREADS SECONDS\n");
		return 2;
	}
	int threads = (int)strtol(argv[2], NULL, 10);
	double secs = strtod(argv[3], NULL);
	if (threads < 1 || threads > RAW_MAX_THR || secs <= 0 || secs > 600 ||
	    config_load(argv[1], &cfg) != C2S_OK) {
		config_print_problems(&cfg);
		return 2;
	}
	if (raw_open(&cfg, &tok, threads) != 0) {
		fprintf(stderr, "raw_bench: cannot open the token or find key %s\n", cfg.seal_key);
		return 1;
	}
	double t0 = now_s();
	tok.until = t0 + secs;
	for (int i = 0; i < threads; i++) {
		w[i] = (struct raw_worker){.t = &tok, .id = i};
		pthread_create(&th[i], NULL, raw_work, &w[i]);
	}
	unsigned long ok = 0, err = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		ok += w[i].ok;
		err += w[i].err;
	}
	double el = now_s() - t0;
	printf("raw %d threads: %lu signatures in %.2f s = %.0f/s, %lu errors (%s)\n", threads, ok,
	       el, (double)ok / el, err, tok.mech == CKM_RSA_PKCS ? "CKM_RSA_PKCS" : "CKM_ECDSA");
	for (int i = 0; i < threads; i++)
		tok.f->C_CloseSession(tok.s[i]);
	tok.f->C_Finalize(NULL);
	return err ? 1 : 0;
}
