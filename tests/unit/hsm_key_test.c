/* Keys and certificates: attributes after generation (read back with pkcs11-tool), default
 * CKA_ID, find by label/URI (missing, ambiguous), list, certificates, destroy, session keys,
 * token info and token selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <mbedtls/sha1.h>

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
	if (hsm_token_init(&f.e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)) != C2S_OK ||
	    hsm_open(&f.e.cfg, &f.h, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "setup: %s\n", why);
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

static struct hsm_key *gen(struct fix *f, struct hsm_keygen g)
{
	struct hsm_key *k = NULL;
	char why[HSM_WHY];
	assert_int_equal(hsm_key_generate(f->h, &g, &k, why, sizeof(why)), C2S_OK);
	return k;
}

/* pkcs11-tool's object listing (logged in) into out. */
static void p11tool_objects(char *out, size_t cap)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "pkcs11-tool --module %s --token-label c2s-test --login --pin %s -O 2>/dev/null",
	         T_SOFTHSM, T_PIN);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
}

/* The block pkcs11-tool prints for the object starting with `head` and label `label`. */
static const char *p11_block(const char *all, const char *head, const char *label, char *blk,
                             size_t cap)
{
	const char *p = all;
	char want[160];
	snprintf(want, sizeof(want), "label:      %s\n", label);
	while ((p = strstr(p, head)) != NULL) {
		const char *next = strstr(p + strlen(head) + 1, " Object;");
		size_t n = next ? (size_t)(next - p) : strlen(p);
		if (n >= cap)
			n = cap - 1;
		memcpy(blk, p, n);
		blk[n] = '\0';
		if (strstr(blk, want))
			return blk;
		p++;
	}
	return NULL;
}

static void test_generated_attributes(void **state)
{
	struct fix *f = *state;
	struct hsm_key *r =
	    gen(f, (struct hsm_keygen){.type = HSM_KEY_RSA, .rsa_bits = 2048, .label = "attr-rsa"});
	struct hsm_key *e = gen(
	    f,
	    (struct hsm_keygen){.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "attr-ec"});
	static char all[65536];
	char blk[2048];
	p11tool_objects(all, sizeof(all));
	const char *labels[] = {"attr-rsa", "attr-ec"};
	for (int i = 0; i < 2; i++) {
		assert_non_null(p11_block(all, "Private Key Object", labels[i], blk, sizeof(blk)));
		assert_non_null(strstr(blk, "Usage:      sign\n")); /* sign only */
		assert_non_null(
		    strstr(blk, "Access:     sensitive, always sensitive, never extractable"));
		assert_non_null(strstr(blk, "ID:         ")); /* id set */
		assert_non_null(p11_block(all, "Public Key Object", labels[i], blk, sizeof(blk)));
		assert_non_null(strstr(blk, "verify"));
		assert_null(strstr(blk, "encrypt"));
	}
	/* CKA_PRIVATE: without login the private keys are invisible */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "pkcs11-tool --module %s --token-label c2s-test -O 2>/dev/null",
	         T_SOFTHSM);
	FILE *p = popen(cmd, "r");
	size_t n = fread(all, 1, sizeof(all) - 1, p);
	all[n] = '\0';
	pclose(p);
	assert_null(strstr(all, "Private Key Object"));
	assert_non_null(strstr(all, "Public Key Object"));
	/* default CKA_ID = SHA-1 of the EC point (the last 65 bytes of the P-256 SPKI) */
	struct hsm_key_info ki;
	struct buf spki;
	uint8_t sha[20];
	buf_init(&spki, 4096);
	assert_int_equal(hsm_key_spki(f->h, e, &spki), C2S_OK);
	assert_int_equal(spki.len, 91);
	assert_int_equal(mbedtls_sha1_ret(spki.data + spki.len - 65, 65, sha), 0);
	assert_int_equal(hsm_key_get_info(f->h, e, &ki), C2S_OK);
	assert_int_equal(ki.id_len, 20);
	assert_memory_equal(ki.id, sha, 20);
	assert_string_equal(ki.label, "attr-ec");
	assert_int_equal(ki.has_certificate, 0);
	buf_free(&spki);
	hsm_key_free(r);
	hsm_key_free(e);
}

static void test_keygen_refused(void **state)
{
	struct fix *f = *state;
	struct hsm_key *k = NULL;
	char why[HSM_WHY] = "";
	struct hsm_keygen g = {.type = HSM_KEY_RSA, .rsa_bits = 1024, .label = "weak"};
	assert_int_equal(hsm_key_generate(f->h, &g, &k, why, sizeof(why)), C2S_ERR_ARG);
	assert_non_null(strstr(why, "1024"));
	g = (struct hsm_keygen){.type = HSM_KEY_EC, .curve = HSM_CURVE_NONE, .label = "x"};
	assert_int_equal(hsm_key_generate(f->h, &g, &k, why, sizeof(why)), C2S_ERR_ARG);
	g = (struct hsm_keygen){.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = ""};
	assert_int_equal(hsm_key_generate(f->h, &g, &k, why, sizeof(why)), C2S_ERR_ARG);
	assert_null(k);
}

static void test_find(void **state)
{
	struct fix *f = *state;
	static const uint8_t id[] = {0xc2, 0x51};
	struct hsm_key *k = gen(f, (struct hsm_keygen){.type = HSM_KEY_EC,
	                                               .curve = HSM_CURVE_P384,
	                                               .label = "find me",
	                                               .id = id,
	                                               .id_len = 2});
	struct hsm_key *x = NULL;
	struct hsm_key_info ki;
	char why[HSM_WHY] = "";
	hsm_key_free(k);
	assert_int_equal(hsm_key_find(f->h, "find me", &x, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_key_get_info(f->h, x, &ki), C2S_OK);
	assert_int_equal(ki.curve, HSM_CURVE_P384);
	assert_int_equal(ki.bits, 384);
	hsm_key_free(x);
	assert_int_equal(hsm_key_find(f->h, "pkcs11:object=find%20me", &x, why, sizeof(why)),
	                 C2S_OK);
	hsm_key_free(x);
	assert_int_equal(hsm_key_find(f->h, "pkcs11:id=%c2%51;type=private", &x, why, sizeof(why)),
	                 C2S_OK);
	hsm_key_free(x);
	x = NULL;
	/* negatives */
	assert_int_equal(hsm_key_find(f->h, "no such key", &x, why, sizeof(why)),
	                 C2S_ERR_HSM_NO_KEY);
	assert_non_null(strstr(why, "no such key"));
	assert_int_equal(hsm_key_find(f->h, "pkcs11:id=%c2%52", &x, why, sizeof(why)),
	                 C2S_ERR_HSM_NO_KEY);
	assert_int_equal(
	    hsm_key_find(f->h, "pkcs11:object=find%20me;type=cert", &x, why, sizeof(why)),
	    C2S_ERR_HSM_URI);
	assert_int_equal(hsm_key_find(f->h, "pkcs11:token=c2s-test", &x, why, sizeof(why)),
	                 C2S_ERR_HSM_URI);
	assert_int_equal(hsm_key_find(f->h, "pkcs11:object=a b", &x, why, sizeof(why)),
	                 C2S_ERR_HSM_URI);
	assert_null(x);
	/* two keys with one label: ambiguous */
	k = gen(f,
	        (struct hsm_keygen){.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "twice"});
	hsm_key_free(k);
	k = gen(f,
	        (struct hsm_keygen){.type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = "twice"});
	hsm_key_free(k);
	assert_int_equal(hsm_key_find(f->h, "twice", &x, why, sizeof(why)), C2S_ERR_HSM_AMBIGUOUS);
	assert_null(x);
}

struct list_acc {
	int n, found_label;
};

static void list_cb(void *ctx, const struct hsm_key_info *ki)
{
	struct list_acc *a = ctx;
	a->n++;
	if (strcmp(ki->label, "listed") == 0 && ki->type == HSM_KEY_RSA && ki->bits == 2048)
		a->found_label++;
}

static void test_list_cert_destroy(void **state)
{
	struct fix *f = *state;
	struct list_acc before = {0, 0}, after = {0, 0};
	char why[HSM_WHY], cmd[PATH_MAX * 3];
	assert_int_equal(hsm_key_list(f->h, list_cb, &before), C2S_OK);
	struct hsm_key *k =
	    gen(f, (struct hsm_keygen){.type = HSM_KEY_RSA, .rsa_bits = 2048, .label = "listed"});
	assert_int_equal(hsm_key_list(f->h, list_cb, &after), C2S_OK);
	assert_int_equal(after.n, before.n + 1);
	assert_int_equal(after.found_label, 1);
	/* certificate: none yet, then stored and read back byte for byte */
	struct hsm_key_info ki;
	struct buf der;
	buf_init(&der, 65536);
	assert_int_equal(hsm_cert_for_key(f->h, k, &der), C2S_ERR_NOT_FOUND);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
	         "%s/c.key -out %s/c.der -outform DER -subj /CN=c2s-test -days 2 >/dev/null 2>&1",
	         f->e.dir, f->e.dir);
	FILE *p = popen(cmd, "r");
	assert_int_equal(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "%s/c.der", f->e.dir);
	uint8_t cert[4096];
	FILE *fp = fopen(cmd, "rb");
	size_t cl = fread(cert, 1, sizeof(cert), fp);
	fclose(fp);
	assert_int_equal(hsm_key_get_info(f->h, k, &ki), C2S_OK);
	assert_int_equal(hsm_cert_store(f->h, cert, cl - 1, ki.id, ki.id_len, "listed"),
	                 C2S_ERR_X509); /* truncated DER refused */
	assert_int_equal(hsm_cert_store(f->h, cert, cl, ki.id, ki.id_len, "listed"), C2S_OK);
	assert_int_equal(hsm_cert_store(f->h, cert, cl, ki.id, ki.id_len, "listed"), C2S_OK);
	assert_int_equal(hsm_cert_for_key(f->h, k, &der), C2S_OK);
	assert_int_equal(der.len, cl);
	assert_memory_equal(der.data, cert, cl);
	assert_int_equal(hsm_key_get_info(f->h, k, &ki), C2S_OK);
	assert_int_equal(ki.has_certificate, 1);
	/* destroy: private, public and certificate go */
	static char all[65536];
	assert_int_equal(hsm_key_destroy(f->h, k), C2S_OK);
	hsm_key_free(k);
	p11tool_objects(all, sizeof(all));
	assert_null(strstr(all, "label:      listed\n"));
	assert_int_equal(hsm_key_find(f->h, "listed", &k, why, sizeof(why)), C2S_ERR_HSM_NO_KEY);
	buf_free(&der);
}

static void test_session_key(void **state)
{
	struct fix *f = *state;
	struct hsm_key *k = gen(f, (struct hsm_keygen){.type = HSM_KEY_EC,
	                                               .curve = HSM_CURVE_P256,
	                                               .label = "per-order",
	                                               .session_only = 1});
	uint8_t d[32] = {7}, sig[HSM_MAX_SIG];
	size_t sl = sizeof(sig);
	assert_int_equal(hsm_sign(f->h, k, HSM_MECH_ECDSA, HSM_HASH_SHA256, d, 32, sig, &sl),
	                 C2S_OK);
	static char all[65536];
	p11tool_objects(all, sizeof(all)); /* another process: a session key is not on the token */
	assert_null(strstr(all, "label:      per-order\n"));
	assert_int_equal(hsm_key_destroy(f->h, k), C2S_OK);
	hsm_key_free(k);
}

static void test_token_info_and_selection(void **state)
{
	struct fix *f = *state;
	struct hsm_token_info ti;
	struct hsm *h2 = NULL;
	char why[HSM_WHY] = "";
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	assert_int_equal(ti.present, 1);
	assert_int_equal(ti.logged_in, 1);
	assert_int_equal(ti.pin_state, C2S_OK);
	assert_string_equal(ti.label, "c2s-test");
	assert_string_equal(ti.manufacturer, "SoftHSM project");
	assert_true(ti.serial[0] != '\0');
	/* a second token: "pkcs11:" alone is ambiguous, token= selects, unknown label fails */
	struct hsm_config c = f->e.cfg;
	c.token_uri = "pkcs11:token=second";
	assert_int_equal(hsm_token_init(&c, T_SO_PIN, "second", T_PIN, why, sizeof(why)), C2S_OK);
	c.token_uri = "pkcs11:";
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_ERR_HSM_AMBIGUOUS);
	assert_null(h2);
	c.token_uri = "pkcs11:token=nope";
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_ERR_HSM_NO_TOKEN);
	assert_non_null(strstr(why, "nope"));
	c.allow_absent = 1; /* cards: open now, token later */
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_OK);
	assert_int_equal(hsm_token_info(h2, &ti), C2S_OK);
	assert_int_equal(ti.present, 0);
	uint8_t d[32] = {0}, sig[HSM_MAX_SIG];
	struct hsm_key *k = NULL;
	assert_int_equal(hsm_key_find(h2, "x", &k, why, sizeof(why)), C2S_ERR_HSM_NO_TOKEN);
	(void)d, (void)sig;
	hsm_close(h2);
	char serial_uri[64];
	snprintf(serial_uri, sizeof(serial_uri), "pkcs11:serial=%s",
	         ti.serial[0] ? ti.serial : "x");
	assert_int_equal(hsm_token_info(f->h, &ti), C2S_OK);
	snprintf(serial_uri, sizeof(serial_uri), "pkcs11:serial=%s", ti.serial);
	c.token_uri = serial_uri;
	c.allow_absent = 0;
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_OK);
	hsm_close(h2);
	/* bad token URI in the config */
	c.token_uri = "pkcs11:tokn=x";
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_ERR_HSM_URI);
	assert_non_null(strstr(why, "tokn"));
	c.token_uri = "pkcs11:token=c2s-test";
	c.pool_size = 0;
	assert_int_equal(hsm_open(&c, &h2, why, sizeof(why)), C2S_ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generated_attributes),
	    cmocka_unit_test(test_keygen_refused),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_list_cert_destroy),
	    cmocka_unit_test(test_session_key),
	    cmocka_unit_test(test_token_info_and_selection),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
