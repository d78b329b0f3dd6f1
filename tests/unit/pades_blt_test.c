/* PAdES B-LT with real parts: tests/tools/tsa_server.py is the TSA (one issued by its own CA,
 * "Click2Sign Test TSA CA", under the test root) and serves the CRLs over HTTP on loopback;
 * tests/tools/blt_pki.sh makes the PKI whose distribution points name that server. Checked:
 * the TSA's chain gets its CRLs in /DSS; a second B-LT seal over a B-LT file adds no stream
 * twice and both signatures validate (tests/tools/validate_pdf.sh: qpdf, pdfsig, openssl);
 * a CRL signed by the wrong key is refused with the reason and dropped from the cache; a
 * revoked seal certificate is refused before the key is asked to sign; the token budget is
 * refused before signing. */
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
#include "firmware/pades/revocation.h"

static char g_dir[256], g_pki[300], g_src[512], g_url[128], g_in[400];
static pid_t g_srv = -1;
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static mbedtls_x509_crt g_crt;
static mbedtls_pk_context g_pk;
static struct cms_signer g_signer;
static int g_signs; /* signatures the "keyholder" made */

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

static int key_load(void)
{
	char path[512];
	mbedtls_x509_crt_init(&g_crt);
	mbedtls_pk_init(&g_pk);
	snprintf(path, sizeof(path), "%s/seal-p256/cert.pem", g_pki);
	if (mbedtls_x509_crt_parse_file(&g_crt, path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/seal-p256/chain.pem", g_pki);
	if (mbedtls_x509_crt_parse_file(&g_crt, path) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/seal-p256/key.pem", g_pki);
	if (mbedtls_pk_parse_keyfile(&g_pk, path, NULL) != 0)
		return -1;
	g_signer.cert = g_crt.raw.p;
	g_signer.cert_len = g_crt.raw.len;
	for (mbedtls_x509_crt *c = g_crt.next; c && c->raw.p; c = c->next) {
		g_signer.chain[g_signer.n_chain] = c->raw.p;
		g_signer.chain_len[g_signer.n_chain++] = c->raw.len;
	}
	g_signer.hash = CMS_SHA256;
	g_signer.sig = CMS_SIG_ECDSA;
	return 0;
}

/* The keyholder: re-check the attributes, hash them, sign, count. */
static c2s_err kh_sign(void *ctx, const uint8_t *attrs, size_t n, uint8_t *sig, size_t *sl,
                       char *why, size_t cap)
{
	const uint8_t *d = NULL;
	size_t dl = 0, ol = 0;
	uint8_t h[32], tmp[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	(void)ctx;
	(void)why;
	(void)cap;
	if (cms_attrs_check(attrs, n, &d, &dl) != C2S_OK || dl != 32)
		return C2S_ERR_CMS_REFUSED;
	if (cms_hash_buf(CMS_SHA256, attrs, n, h) != C2S_OK ||
	    mbedtls_pk_sign(&g_pk, MBEDTLS_MD_SHA256, h, 32, tmp, &ol, mbedtls_ctr_drbg_random,
	                    &g_drbg) != 0 ||
	    ol > *sl)
		return C2S_ERR_HSM;
	memcpy(sig, tmp, ol);
	*sl = ol;
	g_signs++;
	return C2S_OK;
}

static c2s_err sign_cb(void *ctx, const uint8_t *attrs, size_t n, uint8_t *sig, size_t *sl)
{
	return kh_sign(ctx, attrs, n, sig, sl, NULL, 0);
}

static c2s_err kh_info(void *ctx, struct pades_key *k, char *why, size_t cap)
{
	(void)ctx;
	(void)why;
	(void)cap;
	memset(k, 0, sizeof(*k));
	k->signer = g_signer;
	k->signer.cert = malloc(g_signer.cert_len);
	memcpy((void *)k->signer.cert, g_signer.cert, g_signer.cert_len);
	for (size_t i = 0; i < g_signer.n_chain; i++) {
		k->signer.chain[i] = malloc(g_signer.chain_len[i]);
		memcpy((void *)k->signer.chain[i], g_signer.chain[i], g_signer.chain_len[i]);
	}
	k->sig_max = 72;
	return C2S_OK;
}

static int start_server(void)
{
	char script[600], portfile[400], pki[400], stat[400];
	int port = 0;
	snprintf(script, sizeof(script), "%s/tests/tools/tsa_server.py", g_src);
	snprintf(portfile, sizeof(portfile), "%s/tsa.port", g_dir);
	snprintf(pki, sizeof(pki), "%s/tsa-other", g_pki);
	snprintf(stat, sizeof(stat), "%s/crl", g_pki);
	char *argv[] = {"/usr/bin/python3", script,   "--pki", pki, "--static", stat,
	                "--port-file",      portfile, NULL};
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
	return port ? 0 : -1;
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-blt-XXXXXX");
	if (!src || !mkdtemp(g_dir))
		return -1;
	snprintf(g_src, sizeof(g_src), "%s", src);
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_dir);
	snprintf(g_in, sizeof(g_in), "%s/in.pdf", g_dir);
	/* the server first: the PKI's distribution points name its port */
	if (start_server() != 0 ||
	    run("bash %s/tests/tools/blt_pki.sh %s %scrl >/dev/null", src, g_pki, g_url) != 0 ||
	    run("/usr/bin/python3 %s/tests/tools/big_pdf.py %s 20000", src, g_in) != 0)
		return -1;
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
	                          (const unsigned char *)"blt", 3) != 0 ||
	    key_load() != 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (g_srv > 0) {
		kill(g_srv, SIGTERM);
		waitpid(g_srv, NULL, 0);
	}
	mbedtls_x509_crt_free(&g_crt);
	mbedtls_pk_free(&g_pk);
	mbedtls_ctr_drbg_free(&g_drbg);
	mbedtls_entropy_free(&g_entropy);
	rev_cache_clear();
	tsa_seen_clear();
	curl_global_cleanup();
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

/* The distribution point of the issuing CA publishes crl/NAME.crl from now on. */
static void publish_issuing(const char *name)
{
	assert_int_equal(run("cp %s/crl/%s.crl %s/crl/issuing.crl", g_pki, name, g_pki), 0);
	rev_cache_clear(); /* neither the cached CRL nor a remembered failure */
}

static struct tsa_config g_tsa;

static c2s_err run_job(const char *in, const char *out, struct pades_result *res, char *why,
                       size_t cap)
{
	struct pades_keysrc ks = {.info = kh_info, .sign = kh_sign, PADES_KEYSRC_CACHE};
	static char root[400];
	snprintf(root, sizeof(root), "%s/root.pem", g_pki);
	g_tsa = (struct tsa_config){.url = g_url, .timeout_ms = 10000, .trust_file = root};
	struct pades_job job = {.level = PADES_B_LT,
	                        .tsa = &g_tsa,
	                        .params = {.name = "B-LT test", .when = 1700000000},
	                        .fetch_timeout_ms = 5000};
	size_t n = 0;
	uint8_t *pdf = slurp(in, &n);
	assert_non_null(pdf);
	why[0] = 0;
	c2s_err rc = pades_run(&ks, &job, pdf, n, res, why, cap);
	if (rc == C2S_OK && out) {
		FILE *f = fopen(out, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(pdf, 1, n, f), n);
		assert_int_equal(fwrite(res->update.data, 1, res->update.len, f), res->update.len);
		assert_int_equal(fwrite(res->dss_update.data, 1, res->dss_update.len, f),
		                 res->dss_update.len);
		assert_int_equal(fclose(f), 0);
	}
	free(pdf);
	return rc;
}

static int contains(const struct buf *b, const char *path)
{
	size_t n = 0;
	uint8_t *p = slurp(path, &n);
	assert_non_null(p);
	int found = n && b->len >= n && memmem(b->data, b->len, p, n) != NULL;
	free(p);
	return found;
}

static void validate(const char *out, const char *in, int sigs)
{
	if (run("bash %s/tests/tools/validate_pdf.sh --level B-LT --sigs %d %s %s %s/root.pem "
	        ">%s.log 2>&1",
	        g_src, sigs, out, in, g_pki, out) != 0) {
		run("cat %s.log >&2", out);
		fail_msg("validation failed for %s", out);
	}
}

/* A TSA under its own CA: its CRL (and its CA's) in /DSS, next to the seal chain's. */
static void test_other_tsa_ca(void **state)
{
	(void)state;
	struct pades_result res;
	char out[400], why[300], path[400];
	snprintf(out, sizeof(out), "%s/blt1.pdf", g_dir);
	publish_issuing("issuing-good");
	int before = g_signs;
	c2s_err rc = run_job(g_in, out, &res, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("B-LT: %s: %s", c2s_err_name(rc), why);
	assert_int_equal(g_signs, before + 1);
	const char *crls[] = {"tsa-ca", "root", "issuing-good"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/crl/%s.crl", g_pki, crls[i]);
		if (!contains(&res.dss_update, path))
			fail_msg("/DSS lacks %s.crl", crls[i]);
	}
	snprintf(path, sizeof(path), "%s/tsa-other/tsa/cert.pem", g_pki);
	assert_int_equal(run("openssl x509 -in %s -outform DER -out %s/tsa.der", path, g_dir), 0);
	snprintf(path, sizeof(path), "%s/tsa.der", g_dir);
	assert_true(contains(&res.dss_update, path)); /* the TSA's own certificate */
	assert_non_null(memmem(res.dss_update.data, res.dss_update.len, "/VRI", 4));
	pades_result_free(&res);
	validate(out, g_in, 1);

	/* the validator notices a /DSS without the TSA chain's CRLs (the review's finding) */
	char bad[400];
	size_t n = 0, l[2] = {0, 0};
	uint8_t *pdf = slurp(g_in, &n), *crl[2];
	const char *mine[2] = {"root", "issuing-good"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/crl/%s.crl", g_pki, mine[i]);
		assert_non_null(crl[i] = slurp(path, &l[i]));
	}
	struct pades_request r = {.level = PADES_B_LT,
	                          .signer = &g_signer,
	                          .sig_max = 72,
	                          .sign = sign_cb,
	                          .tsa = &g_tsa,
	                          .params = {.name = "no TSA CRLs"},
	                          .crls = (const uint8_t *const *)crl,
	                          .crl_lens = l,
	                          .n_crls = 2};
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_OK);
	snprintf(bad, sizeof(bad), "%s/blt-no-tsa-crl.pdf", g_dir);
	FILE *f = fopen(bad, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(pdf, 1, n, f) + fwrite(res.update.data, 1, res.update.len, f) +
	                     fwrite(res.dss_update.data, 1, res.dss_update.len, f),
	                 n + res.update.len + res.dss_update.len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(run("! bash %s/tests/tools/validate_pdf.sh --level B-LT %s %s %s/root.pem "
	                     "2>%s.log && grep -q \"no CRL for the TSA\" %s.log",
	                     g_src, bad, g_in, g_pki, bad, bad),
	                 0);
	pades_result_free(&res);
	free(crl[0]);
	free(crl[1]);
	free(pdf);
}

/* B-LT over B-LT: the second /DSS update references what the first wrote. */
static void test_blt_twice(void **state)
{
	(void)state;
	struct pades_result res;
	char once[400], twice[400], why[300], path[400];
	snprintf(once, sizeof(once), "%s/blt1.pdf", g_dir);
	snprintf(twice, sizeof(twice), "%s/blt2.pdf", g_dir);
	publish_issuing("issuing-good");
	c2s_err rc = run_job(once, twice, &res, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("B-LT over B-LT: %s: %s", c2s_err_name(rc), why);
	snprintf(path, sizeof(path), "%s/seal-p256/cert.der", g_pki);
	assert_false(contains(&res.dss_update, path)); /* already in the first /DSS */
	snprintf(path, sizeof(path), "%s/crl/tsa-ca.crl", g_pki);
	assert_false(contains(&res.dss_update, path));
	assert_non_null(memmem(res.dss_update.data, res.dss_update.len, "/VRI", 4));
	pades_result_free(&res);
	validate(twice, once, 2);
	/* two /VRI entries: the first signature's is kept */
	assert_int_equal(run("/usr/bin/python3 -c \"import sys; from pypdf import PdfReader; "
	                     "v = PdfReader('%s').trailer['/Root']['/DSS']['/VRI']; "
	                     "sys.exit(0 if len(v) == 2 else 1)\"",
	                     twice),
	                 0);
}

/* A file another signer made (@signpdf/signpdf 3.3: its startxref points at the newline before
 * "xref", a harmless defect), sealed at B-LT twice: three signatures, all valid, the /DSS of the
 * first seal extended by the second. */
static void test_signpdf_blt_twice(void **state)
{
	(void)state;
	struct pades_result res;
	char in[400], once[400], twice[400], why[300];
	snprintf(in, sizeof(in), "%s/tests/tools/fixtures/signpdf-signed.pdf", g_src);
	snprintf(once, sizeof(once), "%s/signpdf-blt1.pdf", g_dir);
	snprintf(twice, sizeof(twice), "%s/signpdf-blt2.pdf", g_dir);
	publish_issuing("issuing-good");
	c2s_err rc = run_job(in, once, &res, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("B-LT over @signpdf: %s: %s", c2s_err_name(rc), why);
	assert_non_null(strstr(res.notes, "startxref points at whitespace"));
	pades_result_free(&res);
	validate(once, in, 2);
	rc = run_job(once, twice, &res, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("second B-LT over @signpdf: %s: %s", c2s_err_name(rc), why);
	pades_result_free(&res);
	validate(twice, once, 3);
}

/* The TSA's tokens are known from the jobs before: a budget under their size is refused
 * before anything is signed. */
static void test_budget_before_signing(void **state)
{
	(void)state;
	struct pades_request r;
	struct pades_result res;
	char why[300] = "";
	size_t n = 0;
	uint8_t *pdf = slurp(g_in, &n);
	assert_non_null(pdf);
	memset(&r, 0, sizeof(r));
	r.level = PADES_B_T;
	r.signer = &g_signer;
	r.sig_max = 72;
	r.sign = sign_cb;
	r.tsa = &g_tsa;
	r.params.name = "budget";
	r.tst_max = 300;
	int before = g_signs;
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_TOO_BIG);
	assert_non_null(strstr(why, "reserved"));
	assert_int_equal(g_signs, before);
	assert_int_equal(res.update.len, 0);
	free(pdf);
}

/* A CRL with the issuing CA's name but another key's signature: refused, with the reason. */
static void test_crl_wrong_key(void **state)
{
	(void)state;
	struct pades_result res;
	char why[300];
	publish_issuing("issuing-wrongkey");
	int before = g_signs;
	assert_int_equal(run_job(g_in, NULL, &res, why, sizeof(why)), C2S_ERR_REVOCATION);
	if (strstr(why, "not signed by its issuer") == NULL || strstr(why, "issuing.crl") == NULL)
		fail_msg("reason: %s", why);
	assert_int_equal(g_signs, before);
	assert_int_equal(res.update.len + res.dss_update.len, 0);

	/* fetched without the signature check (certlogin's way) it is cached; the strict check
	 * then refuses it from the cache and drops it: once the good CRL is published, the next
	 * check fetches that one instead of failing on the cached one again */
	assert_int_equal(g_signer.n_chain, 2); /* issuing CA, root */
	const uint8_t *c[3] = {g_signer.cert, g_signer.chain[0], g_signer.chain[1]};
	size_t l[3] = {g_signer.cert_len, g_signer.chain_len[0], g_signer.chain_len[1]};
	struct rev_set set = {0};
	rev_cache_clear(); /* the refusal above is remembered for 30 s */
	assert_int_equal(rev_crls_for(c, l, 1, 5000, &set, why, sizeof(why)), C2S_OK);
	assert_int_equal(set.n, 1);
	rev_set_free(&set);
	assert_int_equal(rev_chain_crls(c, l, 3, 5000, &set, why, sizeof(why)), C2S_ERR_REVOCATION);
	assert_non_null(strstr(why, "not signed by its issuer"));
	rev_set_free(&set);
	assert_int_equal(run("cp %s/crl/issuing-good.crl %s/crl/issuing.crl", g_pki, g_pki), 0);
	memset(&set, 0, sizeof(set));
	c2s_err rc = rev_chain_crls(c, l, 3, 5000, &set, why, sizeof(why));
	if (rc != C2S_OK)
		fail_msg("after the good CRL is published: %s: %s", c2s_err_name(rc), why);
	char good[400];
	snprintf(good, sizeof(good), "%s/crl/issuing-good.crl", g_pki);
	size_t gl = 0;
	uint8_t *g = slurp(good, &gl);
	assert_non_null(g);
	int has = 0;
	for (size_t i = 0; i < set.n; i++)
		has |= set.len[i] == gl && memcmp(set.crl[i], g, gl) == 0;
	assert_true(has);
	free(g);
	rev_set_free(&set);
}

/* The seal certificate on its issuer's CRL: refused before the key is asked, naming it. */
static void test_revoked_seal(void **state)
{
	(void)state;
	struct pades_result res;
	char why[300], serial[80] = "";
	for (size_t i = 0, o = 0; i < g_crt.serial.len && o + 3 < sizeof(serial); i++)
		o += (size_t)snprintf(serial + o, sizeof(serial) - o, "%02X", g_crt.serial.p[i]);
	publish_issuing("issuing-revoked");
	int before = g_signs;
	assert_int_equal(run_job(g_in, NULL, &res, why, sizeof(why)), C2S_ERR_CERT_REVOKED);
	if (strstr(why, serial) == NULL || strstr(why, "revoked on 20") == NULL ||
	    strstr(why, "nothing was signed") == NULL)
		fail_msg("reason: %s (serial %s)", why, serial);
	assert_int_equal(g_signs, before); /* the keyholder signed nothing */
	assert_int_equal(res.update.len + res.dss_update.len, 0);

	/* pades_sign with the CRLs given by its caller refuses it the same way */
	char path[400];
	size_t cl = 0, n = 0;
	snprintf(path, sizeof(path), "%s/crl/issuing-revoked.crl", g_pki);
	uint8_t *crl = slurp(path, &cl), *pdf = slurp(g_in, &n);
	const uint8_t *crls[1] = {crl};
	struct pades_request r = {.level = PADES_B_LT,
	                          .signer = &g_signer,
	                          .sig_max = 72,
	                          .sign = sign_cb,
	                          .tsa = &g_tsa,
	                          .params = {.name = "revoked"},
	                          .crls = crls,
	                          .crl_lens = &cl,
	                          .n_crls = 1};
	assert_int_equal(pades_sign(pdf, n, &r, &res, why, sizeof(why)), C2S_ERR_CERT_REVOKED);
	assert_non_null(strstr(why, serial));
	assert_int_equal(g_signs, before);
	free(crl);
	free(pdf);
	publish_issuing("issuing-good");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_other_tsa_ca),      cmocka_unit_test(test_blt_twice),
	    cmocka_unit_test(test_signpdf_blt_twice), cmocka_unit_test(test_budget_before_signing),
	    cmocka_unit_test(test_crl_wrong_key),     cmocka_unit_test(test_revoked_seal),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
