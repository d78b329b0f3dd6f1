/* pades: every signable file of the corpus (tests/tools/make_corpus.sh) signed at B-B, B-T
 * and B-LT with the RSA-3072 and P-256 seal keys and checked by tests/tools/validate_pdf.sh
 * (qpdf, pdfsig, openssl cms/ts); a file signed twice; refusals return the pdf error code
 * and produce no output; TSA failure and a too small token budget are refused. */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_shell.h"
#include <curl/curl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "firmware/pades/pades.h"

static char g_dir[256], g_pki[300], g_src[512], g_url[128], g_bad_url[128];
static pid_t g_srv = -1;
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;

struct key {
	const char *name;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	struct cms_signer s;
	size_t sig_max;
	int calls;
};
static struct key g_rsa = {.name = "seal-rsa", .sig_max = 384};
static struct key g_p256 = {.name = "seal-p256", .sig_max = 72};
static uint8_t *g_crl[2];
static size_t g_crl_len[2];

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
	*n = p ? fread(p, 1, (size_t)sz, f) : 0;
	fclose(f);
	return p;
}

static int key_load(struct key *k)
{
	char path[512];
	mbedtls_x509_crt_init(&k->crt);
	mbedtls_pk_init(&k->pk);
	snprintf(path, sizeof(path), "%s/%s/cert.pem", g_pki, k->name);
	if (mbedtls_x509_crt_parse_file(&k->crt, path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/chain.pem", g_pki, k->name);
	if (mbedtls_x509_crt_parse_file(&k->crt, path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s/key.pem", g_pki, k->name);
	if (mbedtls_pk_parse_keyfile(&k->pk, path, NULL) != 0)
		return -1;
	k->s.cert = k->crt.raw.p;
	k->s.cert_len = k->crt.raw.len;
	for (mbedtls_x509_crt *c = k->crt.next; c && c->raw.p; c = c->next) {
		k->s.chain[k->s.n_chain] = c->raw.p;
		k->s.chain_len[k->s.n_chain++] = c->raw.len;
	}
	k->s.hash = CMS_SHA256;
	k->s.sig =
	    mbedtls_pk_get_type(&k->pk) == MBEDTLS_PK_RSA ? CMS_SIG_RSA_PKCS1 : CMS_SIG_ECDSA;
	return 0;
}

/* What the keyholder does: re-check the attributes, hash them itself, sign. */
static c2s_err sign_cb(void *ctx, const uint8_t *attrs, size_t n, uint8_t *sig, size_t *sl)
{
	struct key *k = ctx;
	const uint8_t *d = NULL;
	size_t dl = 0, ol = 0;
	uint8_t h[32], tmp[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	k->calls++;
	if (cms_attrs_check(attrs, n, &d, &dl) != C2S_OK || dl != 32)
		return C2S_ERR_CMS_REFUSED;
	if (cms_hash_buf(CMS_SHA256, attrs, n, h) != C2S_OK ||
	    mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, h, 32, tmp, &ol, mbedtls_ctr_drbg_random,
	                    &g_drbg) != 0 ||
	    ol > *sl)
		return C2S_ERR_HSM;
	memcpy(sig, tmp, ol);
	*sl = ol;
	return C2S_OK;
}

static int start_tsa(void)
{
	char script[600], portfile[400], pki[400];
	int port = 0;
	snprintf(script, sizeof(script), "%s/tests/tools/tsa_server.py", g_src);
	snprintf(portfile, sizeof(portfile), "%s/tsa.port", g_dir);
	snprintf(pki, sizeof(pki), "%s", g_pki);
	char *argv[] = {"/usr/bin/python3", script, "--pki", pki, "--port-file", portfile, NULL};
	if (posix_spawn(&g_srv, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	for (int i = 0; i < 200 && port == 0; i++) {
		FILE *f = fopen(portfile, "r");
		if (f != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	snprintf(g_url, sizeof(g_url), "http://127.0.0.1:%d/", port);
	snprintf(g_bad_url, sizeof(g_bad_url), "http://127.0.0.1:%d/500", port);
	return port ? 0 : -1;
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	char path[600];
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-pades-XXXXXX");
	if (!src || !mkdtemp(g_dir))
		return -1;
	snprintf(g_src, sizeof(g_src), "%s", src);
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_dir);
	if (run("bash %s/tests/tools/mkpki.sh %s >/dev/null", src, g_pki) != 0 ||
	    run("bash %s/tests/tools/make_corpus.sh %s/corpus >/dev/null", src, g_dir) != 0 ||
	    run("mkdir -p %s/out", g_dir) != 0)
		return -1;
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
	                          (const unsigned char *)"pades", 5) != 0 ||
	    key_load(&g_rsa) != 0 || key_load(&g_p256) != 0)
		return -1;
	const char *crls[2] = {"root", "issuing"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/crl/%s.crl", g_pki, crls[i]);
		if ((g_crl[i] = slurp(path, &g_crl_len[i])) == NULL)
			return -1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return start_tsa();
}

static int group_teardown(void **state)
{
	(void)state;
	if (g_srv > 0) {
		kill(g_srv, SIGTERM);
		waitpid(g_srv, NULL, 0);
	}
	struct key *ks[2] = {&g_rsa, &g_p256};
	for (int i = 0; i < 2; i++) {
		mbedtls_x509_crt_free(&ks[i]->crt);
		mbedtls_pk_free(&ks[i]->pk);
		free(g_crl[i]);
	}
	mbedtls_ctr_drbg_free(&g_drbg);
	mbedtls_entropy_free(&g_entropy);
	curl_global_cleanup();
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

static void req_init(struct pades_request *r, struct key *k, enum pades_level lvl,
                     const struct tsa_config *tsa)
{
	static const uint8_t *const crls[2] = {NULL, NULL};
	(void)crls;
	memset(r, 0, sizeof(*r));
	r->level = lvl;
	r->signer = &k->s;
	r->sig_max = k->sig_max;
	r->sign = sign_cb;
	r->sign_ctx = k;
	r->tsa = tsa;
	r->params.name = "Click2Sign Test Seal";
	r->params.reason = "Test č ž";
	r->params.location = "Ljubljana";
	r->params.when = 1700000000;
	r->params.field_name = "Signature1";
	r->crls = (const uint8_t *const *)g_crl;
	r->crl_lens = g_crl_len;
	r->n_crls = 2;
}

static c2s_err write_out(const char *path, const uint8_t *pdf, size_t n,
                         const struct pades_result *res)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return C2S_ERR_IO;
	size_t w = fwrite(pdf, 1, n, f) + fwrite(res->update.data, 1, res->update.len, f);
	if (res->dss_update.len)
		w += fwrite(res->dss_update.data, 1, res->dss_update.len, f);
	int rc = fclose(f);
	return rc == 0 && w == n + res->update.len + res->dss_update.len ? C2S_OK : C2S_ERR_IO;
}

static const char *lvl_name(enum pades_level l)
{
	return l == PADES_B_B ? "B-B" : l == PADES_B_T ? "B-T" : "B-LT";
}

/* Sign in_path at `lvl` with `k`, write out_path, validate it. */
static void sign_validate(const char *in_path, const char *out_path, struct key *k,
                          enum pades_level lvl, int sigs)
{
	struct tsa_config tsa = {.url = g_url, .timeout_ms = 10000};
	struct pades_request r;
	struct pades_result res;
	char why[256] = "";
	size_t n = 0;
	uint8_t *pdf = slurp(in_path, &n);
	assert_non_null(pdf);
	req_init(&r, k, lvl, &tsa);
	c2s_err rc = pades_sign(pdf, n, &r, &res, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("%s %s %s: %s: %s", in_path, k->name, lvl_name(lvl), c2s_err_name(rc),
		         why);
	assert_int_equal(res.orig_len, n);
	assert_int_equal(res.dss_update.len > 0, lvl == PADES_B_LT);
	assert_int_equal(write_out(out_path, pdf, n, &res), C2S_OK);
	char sigs_opt[32] = "";
	if (sigs > 0)
		snprintf(sigs_opt, sizeof(sigs_opt), "--sigs %d", sigs);
	if (run("bash %s/tests/tools/validate_pdf.sh --level %s %s %s %s %s/root.pem >%s.log 2>&1",
	        g_src, lvl_name(lvl), sigs_opt, out_path, in_path, g_pki, out_path) != 0) {
		run("cat %s.log >&2", out_path);
		fail_msg("validation failed for %s", out_path);
	}
	pades_result_free(&res);
	free(pdf);
}

static c2s_err refusal_code(const char *name)
{
	static const struct {
		const char *tag;
		c2s_err e;
	} m[] = {{"refuse-encrypted-", C2S_ERR_PDF_ENCRYPTED},
	         {"refuse-certified-", C2S_ERR_PDF_CERTIFIED},
	         {"refuse-damaged-", C2S_ERR_PDF_DAMAGED},
	         {"refuse-notpdf-", C2S_ERR_PDF_NOT_PDF},
	         {"refuse-toobig-", C2S_ERR_PDF_TOO_BIG},
	         {"refuse-unsupported-", C2S_ERR_PDF_UNSUPPORTED}};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strncmp(name, m[i].tag, strlen(m[i].tag)) == 0)
			return m[i].e;
	return C2S_OK;
}

static void test_corpus(void **state)
{
	(void)state;
	char dir[300], in[600], out[800];
	struct key *keys[2] = {&g_rsa, &g_p256};
	int signed_n = 0, refused_n = 0;
	snprintf(dir, sizeof(dir), "%s/corpus", g_dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".pdf") != 0)
			continue;
		snprintf(in, sizeof(in), "%s/%s", dir, e->d_name);
		c2s_err want = refusal_code(e->d_name);
		if (want != C2S_OK) {
			struct tsa_config tsa = {.url = g_url};
			struct pades_request r;
			struct pades_result res;
			char why[256] = "";
			size_t n = 0;
			uint8_t *pdf = slurp(in, &n);
			assert_non_null(pdf);
			req_init(&r, &g_rsa, PADES_B_LT, &tsa);
			int calls = g_rsa.calls;
			c2s_err got = pades_sign(pdf, n, &r, &res, why, sizeof(why));
			if (got != want)
				fail_msg("%s: got %s want %s (%s)", e->d_name, c2s_err_name(got),
				         c2s_err_name(want), why);
			assert_true(why[0] != 0);
			assert_int_equal(res.update.len + res.dss_update.len, 0);
			assert_int_equal(g_rsa.calls, calls); /* nothing was signed */
			free(pdf);
			refused_n++;
			continue;
		}
		for (int ki = 0; ki < 2; ki++)
			for (int lvl = PADES_B_B; lvl <= PADES_B_LT; lvl++) {
				snprintf(out, sizeof(out), "%s/out/%s-%s-%s.pdf", g_dir, e->d_name,
				         keys[ki]->name, lvl_name(lvl));
				sign_validate(in, out, keys[ki], lvl, 0);
			}
		signed_n++;
	}
	closedir(d);
	print_message("corpus: %d files signed x 6 and validated, %d refused\n", signed_n,
	              refused_n);
	assert_true(signed_n >= 8);
	assert_true(refused_n >= 4);
}

static void test_sign_twice(void **state)
{
	(void)state;
	char in[400], once[400], twice[400], thrice[400];
	snprintf(in, sizeof(in), "%s/corpus/gs.pdf", g_dir);
	snprintf(once, sizeof(once), "%s/out/twice-1.pdf", g_dir);
	snprintf(twice, sizeof(twice), "%s/out/twice-2.pdf", g_dir);
	snprintf(thrice, sizeof(thrice), "%s/out/twice-3.pdf", g_dir);
	sign_validate(in, once, &g_rsa, PADES_B_T, 1);
	/* the validator must notice a changed signed byte (/Location in the signature dict) */
	assert_int_equal(
	    run("cd %s/out && sed 's/Ljubljana/Ljubljano/' twice-1.pdf > tampered.pdf && "
	        "! cmp -s twice-1.pdf tampered.pdf && "
	        "! bash %s/tests/tools/validate_pdf.sh --level B-T tampered.pdf %s "
	        "%s/root.pem 2> tampered.log && grep -q 'signatures are valid' tampered.log",
	        g_dir, g_src, in, g_pki),
	    0);
	sign_validate(once, twice, &g_p256, PADES_B_LT, 2);
	sign_validate(twice, thrice, &g_rsa, PADES_B_B, 3);
}

/* A document hashed as it arrived (c2s-web's seal path): the SHA-256 state over the whole
 * input is taken over, only the update is hashed. The right state gives a valid signature; a
 * state over other bytes of the same length a signature the validator refuses (so it was
 * used); a state over fewer bytes is ignored. */
static void prefix_case(const char *in, const char *out, const uint8_t *hashed, size_t hlen,
                        int valid)
{
	struct tsa_config tsa = {.url = g_url, .timeout_ms = 10000};
	struct pades_request r;
	struct pades_result res;
	struct c2s_sha256 pre;
	char why[256] = "";
	size_t n = 0;
	uint8_t *pdf = slurp(in, &n);
	assert_non_null(pdf);
	c2s_sha256_init(&pre);
	c2s_sha256_update(&pre, hashed ? hashed : pdf, hashed ? hlen : n);
	req_init(&r, &g_p256, PADES_B_B, &tsa);
	r.prefix = &pre;
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_OK);
	assert_int_equal(write_out(out, pdf, n, &res), C2S_OK);
	int rc =
	    run("bash %s/tests/tools/validate_pdf.sh --level B-B %s %s %s/root.pem >%s.log 2>&1",
	        g_src, out, in, g_pki, out);
	if ((rc == 0) != valid) {
		run("cat %s.log >&2", out);
		fail_msg("%s: expected %s", out, valid ? "valid" : "refused");
	}
	pades_result_free(&res);
	free(pdf);
}

static void test_prefix_hash(void **state)
{
	(void)state;
	char in[400], out[400];
	size_t n = 0;
	snprintf(in, sizeof(in), "%s/corpus/gs.pdf", g_dir);
	uint8_t *other = slurp(in, &n);
	assert_non_null(other);
	snprintf(out, sizeof(out), "%s/out/prefix-right.pdf", g_dir);
	prefix_case(in, out, NULL, 0, 1);
	other[n / 2] ^= 1; /* one bit of the document differs from what was hashed */
	snprintf(out, sizeof(out), "%s/out/prefix-wrong.pdf", g_dir);
	prefix_case(in, out, other, n, 0);
	other[n / 2] ^= 1;
	snprintf(out, sizeof(out), "%s/out/prefix-short.pdf", g_dir);
	prefix_case(in, out, other, n - 1, 1);
	free(other);
}

/* Real chain sizes: what the placeholder reserves and what the CMS needs. */
static void test_sizes(void **state)
{
	(void)state;
	size_t bb = cms_max_size(&g_rsa.s, 384, 0),
	       bt = cms_max_size(&g_rsa.s, 384, PADES_TST_BUDGET);
	print_message("RSA-3072 chain: B-B reservation %zu bytes, B-T/B-LT %zu bytes "
	              "(token budget %d)\n",
	              bb, bt, PADES_TST_BUDGET);
	assert_true(bb > 2000 && bb < 4000);
	assert_true(bt > bb + PADES_TST_BUDGET - 16 && bt < bb + PADES_TST_BUDGET + 64);
}

static void test_refusals(void **state)
{
	(void)state;
	struct tsa_config bad = {.url = g_bad_url, .timeout_ms = 5000};
	struct tsa_config good = {.url = g_url, .timeout_ms = 5000};
	struct pades_request r;
	struct pades_result res;
	char in[400], why[256];
	size_t n = 0;
	snprintf(in, sizeof(in), "%s/corpus/mupdf.pdf", g_dir);
	uint8_t *pdf = slurp(in, &n);
	assert_non_null(pdf);

	req_init(&r, &g_p256, PADES_B_T, &bad); /* TSA answers 500 */
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_TSA);
	assert_non_null(strstr(why, "HTTP 500"));
	assert_int_equal(res.update.len + res.dss_update.len, 0);

	req_init(&r, &g_p256, PADES_B_T, &good); /* token budget smaller than the token */
	r.tst_max = 200;
	int calls = g_p256.calls;
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_TOO_BIG);
	assert_non_null(strstr(why, "reserved"));
	assert_int_equal(res.update.len, 0);
	assert_int_equal(g_p256.calls, calls); /* refused before signing (tsa_seen) */

	req_init(&r, &g_p256, PADES_B_T, NULL); /* B-T without a TSA */
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_CONFIG);
	req_init(&r, &g_p256, 7, NULL);
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_HTTP_LEVEL);

	req_init(&r, &g_p256, PADES_B_B, NULL); /* over the size limit */
	r.max_len = n - 1;
	c2s_err got = pades_sign(pdf, n, &r, &res, why, sizeof(why));
	assert_true(got == C2S_ERR_PDF_TOO_BIG || got == C2S_ERR_TOO_BIG);
	assert_int_equal(res.update.len, 0);

	assert_int_equal(pades_level_parse("B-B"), PADES_B_B);
	assert_int_equal(pades_level_parse("B-T"), PADES_B_T);
	assert_int_equal(pades_level_parse("B-LT"), PADES_B_LT);
	assert_int_equal(pades_level_parse("B-LTA"), -1);
	assert_int_equal(pades_level_parse("b-b"), -1);
	assert_int_equal(pades_level_parse(NULL), -1);
	free(pdf);
}

/* pades_run, the job both the seal route and customer signing use: a key source backed by
 * g_p256 that counts what the engine asks of it. */
static struct {
	int infos, signs;
	uint32_t gen;
	c2s_err fail_sign;
} g_src_state;

static c2s_err src_info(void *ctx, struct pades_key *k, char *why, size_t cap)
{
	struct key *key = ctx;
	(void)why;
	(void)cap;
	g_src_state.infos++;
	memset(k, 0, sizeof(*k));
	k->signer = key->s;
	k->signer.cert = malloc(key->s.cert_len);
	memcpy((void *)k->signer.cert, key->s.cert, key->s.cert_len);
	for (size_t i = 0; i < key->s.n_chain; i++) {
		k->signer.chain[i] = malloc(key->s.chain_len[i]);
		memcpy((void *)k->signer.chain[i], key->s.chain[i], key->s.chain_len[i]);
	}
	k->sig_max = key->sig_max;
	return C2S_OK;
}

static c2s_err src_sign(void *ctx, const uint8_t *attrs, size_t len, uint8_t *sig, size_t *sig_len,
                        char *why, size_t cap)
{
	g_src_state.signs++;
	if (g_src_state.fail_sign != C2S_OK) {
		snprintf(why, cap, "planted failure");
		return g_src_state.fail_sign;
	}
	return sign_cb(ctx, attrs, len, sig, sig_len);
}

static uint32_t src_gen(void *ctx)
{
	(void)ctx;
	return g_src_state.gen;
}

static void test_run_job(void **state)
{
	(void)state;
	struct pades_keysrc ks = {.info = src_info,
	                          .sign = src_sign,
	                          .generation = src_gen,
	                          .ctx = &g_p256,
	                          PADES_KEYSRC_CACHE};
	struct pades_job job = {.level = PADES_B_T, .tsa = NULL};
	struct pades_result res;
	char in[400], out[400], why[256] = "";
	size_t n = 0;
	snprintf(in, sizeof(in), "%s/corpus/mupdf.pdf", g_dir);
	snprintf(out, sizeof(out), "%s/job-bb.pdf", g_dir);
	uint8_t *pdf = slurp(in, &n);
	assert_non_null(pdf);
	memset(&g_src_state, 0, sizeof(g_src_state));
	g_src_state.gen = 1;
	/* B-T without a TSA is refused before the key is asked anything */
	assert_int_equal(pades_run(&ks, &job, pdf, n, &res, why, sizeof(why)), C2S_ERR_TSA_NONE);
	assert_non_null(strstr(why, "[tsa] url"));
	assert_int_equal(g_src_state.infos + g_src_state.signs, 0);
	/* two B-B jobs in one generation: the certificates are fetched once */
	job.level = PADES_B_B;
	job.params.name = "Job";
	job.params.when = 1700000000;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pades_run(&ks, &job, pdf, n, &res, why, sizeof(why)), C2S_OK);
		if (i == 0) {
			assert_int_equal(write_out(out, pdf, n, &res), C2S_OK);
			assert_int_equal(
			    run("bash %s/tests/tools/validate_pdf.sh --level B-B %s %s "
			        "%s/root.pem >%s.log 2>&1",
			        g_src, out, in, g_pki, out),
			    0);
		}
		pades_result_free(&res);
	}
	assert_int_equal(g_src_state.infos, 1);
	assert_int_equal(g_src_state.signs, 2);
	/* the holder restarted: fetched again */
	g_src_state.gen = 2;
	assert_int_equal(pades_run(&ks, &job, pdf, n, &res, why, sizeof(why)), C2S_OK);
	pades_result_free(&res);
	assert_int_equal(g_src_state.infos, 2);
	/* the holder says the certificate does not match: forgotten, fetched on the next job */
	g_src_state.fail_sign = C2S_ERR_CERT_MISMATCH;
	assert_int_equal(pades_run(&ks, &job, pdf, n, &res, why, sizeof(why)),
	                 C2S_ERR_CERT_MISMATCH);
	assert_non_null(strstr(why, "does not match the key"));
	assert_int_equal(res.update.len, 0);
	g_src_state.fail_sign = C2S_OK;
	assert_int_equal(pades_run(&ks, &job, pdf, n, &res, why, sizeof(why)), C2S_OK);
	pades_result_free(&res);
	assert_int_equal(g_src_state.infos, 3);
	pades_key_clear(&ks.cached);
	free(pdf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),   cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_run_job), cmocka_unit_test(test_sign_twice),
	    cmocka_unit_test(test_corpus),  cmocka_unit_test(test_prefix_hash),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
