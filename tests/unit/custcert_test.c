/* Customer certificate validation (firmware/certs/custcert) against the Slovenian-shaped test
 * PKI of tests/tools/mkcustpki.sh: one reason per bad certificate, the appliance clock, CRLs
 * provisioned, fetched (only for proven paths) or forged, and names decoded to UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <mbedtls/pem.h>

#include "test_shell.h"
#include "firmware/certs/custcert.h"

static char g_dir[256], g_pki[300];

static uint8_t *slurp(const char *rel, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", g_pki, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(1 << 20);
	size_t n = fread(b, 1, (1 << 20) - 1, f);
	fclose(f);
	b[n] = 0;
	*len = n;
	return b;
}

/* PEM text with the NUL counted, as mbedTLS wants it */
static uint8_t *slurp_pem(const char *rel, size_t *len)
{
	uint8_t *b = slurp(rel, len);
	if (b)
		(*len)++;
	return b;
}

struct chain {
	mbedtls_pem_context pem[8];
	const uint8_t *der[8];
	size_t len[8];
	size_t n;
};

/* The PEM blocks of a file as DER, whether or not mbedTLS can parse the certificates. */
static void chain_load(struct chain *c, const char *name, const char *file)
{
	char rel[200];
	size_t len = 0, used = 0;
	snprintf(rel, sizeof(rel), "%s/%s", name, file);
	uint8_t *pem = slurp_pem(rel, &len);
	assert_non_null(pem);
	c->n = 0;
	for (size_t off = 0; off < len && c->n < 8; off += used) {
		mbedtls_pem_init(&c->pem[c->n]);
		if (mbedtls_pem_read_buffer(&c->pem[c->n], "-----BEGIN CERTIFICATE-----",
		                            "-----END CERTIFICATE-----", pem + off, NULL, 0,
		                            &used) != 0) {
			mbedtls_pem_free(&c->pem[c->n]);
			break;
		}
		c->der[c->n] = c->pem[c->n].buf;
		c->len[c->n] = c->pem[c->n].buflen;
		c->n++;
	}
	free(pem);
	assert_true(c->n >= 1);
}

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		mbedtls_pem_free(&c->pem[i]);
}

static struct cc_trust *trust_with(int crls, int inter)
{
	struct cc_trust *t = NULL;
	size_t len;
	assert_int_equal(cc_trust_new(&t), C2S_OK);
	uint8_t *b = slurp_pem("trust.pem", &len);
	assert_int_equal(cc_trust_add_cert(t, b, len), C2S_OK);
	free(b);
	if (inter) {
		b = slurp_pem("inter.pem", &len);
		assert_int_equal(cc_trust_add_cert(t, b, len), C2S_OK);
		free(b);
	}
	if (crls) {
		b = slurp("crl/root.crl", &len);
		assert_int_equal(cc_trust_add_crl(t, b, len), C2S_OK);
		free(b);
		b = slurp("crl/inter.crl", &len);
		assert_int_equal(cc_trust_add_crl(t, b, len), C2S_OK);
		free(b);
	}
	assert_int_equal(cc_trust_anchors(t), 1);
	return t;
}

static enum cc_reason verdict(struct cc_trust *t, const char *name, const char *file,
                              const struct cc_options *o, struct cc_result *res)
{
	struct chain c;
	chain_load(&c, name, file);
	assert_int_equal(cc_verify(t, c.der, c.len, c.n, o, res), C2S_OK);
	chain_free(&c);
	return res->reason;
}

static void expect_cn(const char *name, const struct cc_result *res)
{
	char rel[200];
	size_t len;
	snprintf(rel, sizeof(rel), "%s/subject.txt", name);
	char *s = (char *)slurp(rel, &len);
	assert_non_null(s);
	s[strcspn(s, "\n")] = 0;
	assert_string_equal(res->common_name, s);
	free(s);
}

static void good_certificates_pass_with_current_crls(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(1, 0);
	struct cc_options o = {.now = time(NULL), .require_revocation = 1};
	const char *good[] = {"good-rsa", "good-ec", "good-p384", "good-pss"};
	for (size_t i = 0; i < 4; i++) {
		struct cc_result res;
		enum cc_reason r = verdict(t, good[i], "chain.pem", &o, &res);
		if (r != CC_OK)
			fail_msg("%s: %s: %s", good[i], cc_reason_type(r), res.detail);
		expect_cn(good[i], &res); /* UTF8String, BMPString, T61String, PrintableString */
		assert_int_equal(strlen(res.fingerprint), 64);
		assert_true(res.not_after > o.now);
	}
	cc_trust_free(t);
}

static void each_bad_certificate_has_its_own_reason(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(1, 0);
	struct cc_options o = {.now = time(NULL), .require_revocation = 1};
	const struct {
		const char *name, *file;
		enum cc_reason want;
		const char *needle;
	} cases[] = {
	    {"expired", "chain.pem", CC_EXPIRED, "expired on"},
	    {"notyet", "chain.pem", CC_NOT_YET_VALID, "valid only from"},
	    {"revoked", "chain.pem", CC_REVOKED, "revoked on"},
	    {"unknown", "chain.pem", CC_UNTRUSTED, "Evil Test CA"},
	    {"unknown", "cert.pem", CC_UNTRUSTED, "Evil Test CA"},
	    {"nointer", "chain.pem", CC_CHAIN_INCOMPLETE, "Test SIGEN-CA G2"},
	    {"serveronly", "chain.pem", CC_USAGE, "server authentication only"},
	    {"critext", "chain.pem", CC_USAGE, "1.3.6.1.4.1.99999.1"},
	    {"rsa1024", "chain.pem", CC_WEAK, "1024 bits"},
	    {"sha1", "chain.pem", CC_WEAK, "SHA-1"},
	    {"caleaf", "chain.pem", CC_USAGE, "CA certificate"},
	    {"good-sign", "chain.pem", CC_USAGE, "signing-only"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cc_result res;
		enum cc_reason r = verdict(t, cases[i].name, cases[i].file, &o, &res);
		if (r != cases[i].want || !strstr(res.detail, cases[i].needle))
			fail_msg("%s/%s: got %s (%s), want %s with '%s'", cases[i].name,
			         cases[i].file, cc_reason_type(r), res.detail,
			         cc_reason_type(cases[i].want), cases[i].needle);
	}
	struct cc_result res;
	assert_int_equal(verdict(t, "revoked", "chain.pem", &o, &res), CC_REVOKED);
	assert_true(res.revoked_at > 0 && res.revoked_at <= o.now);
	assert_int_equal(res.at, res.revoked_at);
	/* nothing presented; bytes that are no certificate */
	assert_int_equal(cc_verify(t, NULL, NULL, 0, &o, &res), C2S_OK);
	assert_int_equal(res.reason, CC_MISSING);
	const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	const uint8_t *der[1] = {junk};
	size_t len[1] = {sizeof(junk)};
	assert_int_equal(cc_verify(t, der, len, 1, &o, &res), C2S_OK);
	assert_int_equal(res.reason, CC_INVALID);
	cc_trust_free(t);
}

/* The appliance clock decides, not the system's: the same certificate later is expired. */
static void validity_follows_the_given_clock(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(0, 0);
	struct cc_options o = {.now = time(NULL), .require_revocation = 0};
	struct cc_result res;
	assert_int_equal(verdict(t, "good-ec", "chain.pem", &o, &res), CC_OK);
	o.now = res.not_after + 1;
	assert_int_equal(verdict(t, "good-ec", "chain.pem", &o, &res), CC_EXPIRED);
	o.now = res.not_before - 1;
	assert_int_equal(verdict(t, "good-ec", "chain.pem", &o, &res), CC_NOT_YET_VALID);
	cc_trust_free(t);
}

static void a_provisioned_intermediate_completes_the_chain(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(1, 1);
	struct cc_options o = {.now = time(NULL), .require_revocation = 1};
	struct cc_result res;
	assert_int_equal(verdict(t, "nointer", "chain.pem", &o, &res), CC_OK);
	cc_trust_free(t);
}

struct fetch_log {
	int calls;
	char last[256];
};

static c2s_err fetch_local(void *ctx, const char *url, const uint8_t *cert, size_t cert_len,
                           uint8_t **der, size_t *len, char *why, size_t why_cap)
{
	struct fetch_log *f = ctx;
	(void)cert, (void)cert_len, (void)why, (void)why_cap;
	f->calls++;
	snprintf(f->last, sizeof(f->last), "%s", url);
	const char *name = strstr(url, "/inter.crl") ? "crl/inter.crl" : "crl/root.crl";
	*der = slurp(name, len);
	return *der ? C2S_OK : C2S_ERR_IO;
}

/* No CRL provisioned: fetched from the distribution point, but only once the path is proven. */
static void crls_are_fetched_only_for_proven_paths(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(0, 0);
	struct fetch_log f = {0};
	struct cc_options o = {
	    .now = time(NULL), .require_revocation = 1, .fetch = fetch_local, .fetch_ctx = &f};
	struct cc_result res;
	assert_int_equal(verdict(t, "revoked", "chain.pem", &o, &res), CC_REVOKED);
	assert_true(f.calls >= 1);
	assert_non_null(strstr(f.last, "127.0.0.1:9/crl/"));
	f.calls = 0;
	assert_int_equal(verdict(t, "unknown", "chain.pem", &o, &res), CC_UNTRUSTED);
	assert_int_equal(f.calls, 0); /* a stranger's CDP is never contacted */
	assert_int_equal(verdict(t, "expired", "chain.pem", &o, &res), CC_EXPIRED);
	assert_int_equal(f.calls, 0);
	/* without a fetcher and without CRLs: unknown when required, accepted when not */
	o.fetch = NULL;
	assert_int_equal(verdict(t, "good-ec", "chain.pem", &o, &res), CC_REVOCATION_UNKNOWN);
	o.require_revocation = 0;
	assert_int_equal(verdict(t, "good-ec", "chain.pem", &o, &res), CC_OK);
	cc_trust_free(t);
}

/* A CRL with the right issuer name but a signature that does not verify proves nothing. */
static void a_forged_crl_is_not_evidence(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(0, 1);
	size_t len;
	uint8_t *crl = slurp("crl/inter.crl", &len);
	struct cc_crl_info info;
	char why[300];
	assert_int_equal(cc_crl_check(t, crl, len, &info, why, sizeof(why)), C2S_OK);
	assert_non_null(strstr(info.issuer, "Test SIGEN-CA G2"));
	assert_true(info.entries >= 1 && info.next_update > info.this_update);
	free(info.der);
	crl[len - 5] ^= 0x55; /* inside the signature */
	assert_int_equal(cc_crl_check(t, crl, len, &info, why, sizeof(why)), C2S_ERR_X509);
	assert_non_null(strstr(why, "not signed by any trusted"));
	assert_int_equal(cc_trust_add_crl(t, crl, len), C2S_OK); /* it parses ... */
	struct cc_options o = {.now = time(NULL), .require_revocation = 1};
	struct cc_result res;
	/* ... but the revoked certificate is not declared good on its word, nor revoked */
	assert_int_equal(verdict(t, "revoked", "chain.pem", &o, &res), CC_REVOCATION_UNKNOWN);
	free(crl);
	cc_trust_free(t);
}

/* What a client sends cannot make the appliance work hard (tests/attack F1): an RSA key with a
 * huge public exponent is refused before any signature is checked, and a chain whose names
 * lead nowhere near an anchor is refused by name. */
static void hostile_chains_are_refused_cheaply(void **state)
{
	(void)state;
	struct cc_trust *t = trust_with(1, 0);
	struct cc_options o = {.now = time(NULL), .require_revocation = 1};
	struct cc_result res;
	/* e = 2^33 + 1 in the customer's certificate */
	assert_int_equal(
	    run("cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	        "-pkeyopt rsa_keygen_pubexp:8589934593 -out bige.key 2>/dev/null && "
	        "mkdir -p bige && openssl req -new -key bige.key -subj /CN=bige "
	        "-out bige.csr && openssl x509 -req -in bige.csr -CA inter/ca.pem "
	        "-CAkey inter/ca.key -set_serial 77 -days 30 -out bige/chain.pem "
	        "2>/dev/null",
	        g_pki),
	    0);
	assert_int_equal(verdict(t, "bige", "chain.pem", &o, &res), CC_INVALID);
	assert_non_null(strstr(res.detail, "exponent"));
	/* serial number zero: RFC 5280 wants it positive (one spelling per certificate) */
	assert_int_equal(
	    run("cd %s && mkdir -p zero && openssl req -new -key good-ec/key.pem -subj /CN=zero "
	        "-out zero.csr && openssl x509 -req -in zero.csr -CA inter/ca.pem "
	        "-CAkey inter/ca.key -set_serial 0 -days 30 -out zero/chain.pem "
	        "2>/dev/null",
	        g_pki),
	    0);
	assert_int_equal(verdict(t, "zero", "chain.pem", &o, &res), CC_INVALID);
	assert_non_null(strstr(res.detail, "zero"));
	/* the intermediate's name six times over, each self-signed with another key (what the
	 * attack used, with 8192-bit keys): one candidate per name, a root that is no anchor */
	assert_int_equal(
	    run("cd %s && mkdir -p fakes && cp good-ec/cert.pem fakes/chain.pem && "
	        "for i in 1 2 3 4 5 6; do openssl genpkey -algorithm EC -pkeyopt "
	        "ec_paramgen_curve:P-256 -out fakes/$i.key 2>/dev/null && openssl x509 "
	        "-in inter/ca.pem -signkey fakes/$i.key >> fakes/chain.pem 2>/dev/null "
	        "|| exit 1; done",
	        g_pki),
	    0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(verdict(t, "fakes", "chain.pem", &o, &res), CC_UNTRUSTED);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(res.detail, "Test SIGEN-CA G2"));
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	cc_trust_free(t);
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { OID, value } with one attribute per RDN. */
static size_t mkname(uint8_t *out, const uint8_t *oid, size_t oid_len, int tag, const uint8_t *v,
                     size_t vl)
{
	size_t atv = 2 + oid_len + 2 + vl, set = 2 + atv, n = 0;
	out[n++] = 0x30, out[n++] = (uint8_t)(2 + set);
	out[n++] = 0x31, out[n++] = (uint8_t)(2 + atv);
	out[n++] = 0x30, out[n++] = (uint8_t)(2 + oid_len + 2 + vl);
	out[n++] = 0x06, out[n++] = (uint8_t)oid_len;
	memcpy(out + n, oid, oid_len), n += oid_len;
	out[n++] = (uint8_t)tag, out[n++] = (uint8_t)vl;
	memcpy(out + n, v, vl), n += vl;
	return n;
}

static void names_decode_to_utf8(void **state)
{
	(void)state;
	const uint8_t cn[] = {0x55, 0x04, 0x03};
	uint8_t der[128];
	char out[128];
	/* BMPString "Čž" */
	const uint8_t bmp[] = {0x01, 0x0c, 0x01, 0x7e};
	size_t n = mkname(der, cn, 3, 0x1e, bmp, sizeof(bmp));
	cc_name_utf8(der, n, out, sizeof(out));
	assert_string_equal(out, "CN=Čž");
	cc_name_cn_utf8(der, n, out, sizeof(out));
	assert_string_equal(out, "Čž");
	/* T61String read as ISO 8859-1: "M\xfcller" */
	const uint8_t t61[] = {'M', 0xfc, 'l', 'l', 'e', 'r'};
	n = mkname(der, cn, 3, 0x14, t61, sizeof(t61));
	cc_name_utf8(der, n, out, sizeof(out));
	assert_string_equal(out, "CN=Müller");
	/* UTF8String with an invalid byte, a control character and a comma */
	const uint8_t u8[] = {'a', 0xc3, 'b', 0x07, ',', 0xc5, 0xa0};
	n = mkname(der, cn, 3, 0x0c, u8, sizeof(u8));
	cc_name_utf8(der, n, out, sizeof(out));
	assert_string_equal(out, "CN=a\xef\xbf\xbd"
	                         "b?\\,Š");
	/* an overlong encoding of '/' is not a '/' */
	const uint8_t ov[] = {0xc0, 0xaf};
	n = mkname(der, cn, 3, 0x0c, ov, sizeof(ov));
	cc_name_utf8(der, n, out, sizeof(out));
	assert_string_equal(out, "CN=\xef\xbf\xbd\xef\xbf\xbd");
	/* cut where it does not fit, never mid-character; malformed DER gives "" */
	n = mkname(der, cn, 3, 0x1e, bmp, sizeof(bmp));
	cc_name_utf8(der, n, out, 6);
	assert_string_equal(out, "CN=Č");
	cc_name_utf8(der, n - 1, out, sizeof(out));
	assert_string_equal(out, "");
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-custcert-XXXXXX");
	if (!src || !mkdtemp(g_dir))
		return -1;
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_dir);
	/* port 9 (discard): nothing is fetched over the network in this test */
	return run("bash %s/tests/tools/mkcustpki.sh %s http://127.0.0.1:9/crl >/dev/null", src,
	           g_pki) == 0
	           ? 0
	           : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return getenv("C2S_KEEP_TMP") ? 0 : run("rm -rf %s", g_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_certificates_pass_with_current_crls),
	    cmocka_unit_test(each_bad_certificate_has_its_own_reason),
	    cmocka_unit_test(validity_follows_the_given_clock),
	    cmocka_unit_test(a_provisioned_intermediate_completes_the_chain),
	    cmocka_unit_test(crls_are_fetched_only_for_proven_paths),
	    cmocka_unit_test(a_forged_crl_is_not_evidence),
	    cmocka_unit_test(names_decode_to_utf8),
	    cmocka_unit_test(hostile_chains_are_refused_cheaply),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
