/* cms: signed attributes (encoding, DER SET order), the keyholder's strict parser with a
 * table of refusals, and SignedData checked by `openssl cms -verify` for RSA PKCS#1 v1.5,
 * RSA-PSS and ECDSA P-256/P-384 keys from a test PKI made by tests/tools/mkpki.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_shell.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "firmware/pades/cms.h"

static char g_dir[256];
static char g_pki[300];
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

struct signer {
	mbedtls_x509_crt crt; /* cert then chain */
	mbedtls_pk_context pk;
	struct cms_signer s;
};

static void signer_load(struct signer *g, const char *name, enum cms_hash h, enum cms_sig sig)
{
	char path[512];
	mbedtls_x509_crt_init(&g->crt);
	mbedtls_pk_init(&g->pk);
	snprintf(path, sizeof(path), "%s/%s/cert.pem", g_pki, name);
	assert_int_equal(mbedtls_x509_crt_parse_file(&g->crt, path), 0);
	snprintf(path, sizeof(path), "%s/%s/chain.pem", g_pki, name);
	assert_int_equal(mbedtls_x509_crt_parse_file(&g->crt, path), 0);
	snprintf(path, sizeof(path), "%s/%s/key.pem", g_pki, name);
	assert_int_equal(mbedtls_pk_parse_keyfile(&g->pk, path, NULL), 0);
	memset(&g->s, 0, sizeof(g->s));
	g->s.cert = g->crt.raw.p;
	g->s.cert_len = g->crt.raw.len;
	for (mbedtls_x509_crt *c = g->crt.next; c && c->raw.p; c = c->next) {
		g->s.chain[g->s.n_chain] = c->raw.p;
		g->s.chain_len[g->s.n_chain++] = c->raw.len;
	}
	g->s.hash = h;
	g->s.sig = sig;
}

static void signer_free(struct signer *g)
{
	mbedtls_x509_crt_free(&g->crt);
	mbedtls_pk_free(&g->pk);
}

static mbedtls_md_type_t md_of(enum cms_hash h)
{
	return h == CMS_SHA256   ? MBEDTLS_MD_SHA256
	       : h == CMS_SHA384 ? MBEDTLS_MD_SHA384
	                         : MBEDTLS_MD_SHA512;
}

/* What the keyholder does: hash the DER SET and sign. */
static size_t sign_attrs(struct signer *g, const uint8_t *attrs, size_t n, uint8_t *sig)
{
	uint8_t h[64];
	size_t hl = cms_hash_len(g->s.hash), sl = 0;
	assert_int_equal(cms_hash_buf(g->s.hash, attrs, n, h), C2S_OK);
	if (g->s.sig == CMS_SIG_RSA_PSS) {
		mbedtls_rsa_context *rsa = mbedtls_pk_rsa(g->pk);
		mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, md_of(g->s.hash));
		assert_int_equal(mbedtls_rsa_rsassa_pss_sign_ext(rsa, mbedtls_ctr_drbg_random,
		                                                 &g_drbg, md_of(g->s.hash),
		                                                 (unsigned)hl, h, (int)hl, sig),
		                 0);
		sl = mbedtls_rsa_get_len(rsa);
		mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
	} else {
		assert_int_equal(mbedtls_pk_sign(&g->pk, md_of(g->s.hash), h, hl, sig, &sl,
		                                 mbedtls_ctr_drbg_random, &g_drbg),
		                 0);
	}
	return sl;
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-cms-XXXXXX");
	if (!src || !mkdtemp(g_dir))
		return -1;
	snprintf(g_pki, sizeof(g_pki), "%s/pki", g_dir);
	if (run("bash %s/tests/tools/mkpki.sh %s >/dev/null", src, g_pki) != 0)
		return -1;
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	return mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
	                             (const unsigned char *)"cms_test", 8);
}

static int group_teardown(void **state)
{
	(void)state;
	mbedtls_ctr_drbg_free(&g_drbg);
	mbedtls_entropy_free(&g_entropy);
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

static const uint8_t ATTR_CT[] = {0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                  0x0d, 0x01, 0x09, 0x03, 0x31, 0x0b, 0x06, 0x09, 0x2a,
                                  0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
static const uint8_t OID_MD[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};
static const uint8_t OID_SCV2[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                   0x0d, 0x01, 0x09, 0x10, 0x02, 0x2f};

/* message-digest attribute with an n-byte digest of value v */
static size_t attr_md(uint8_t *out, size_t n, uint8_t v)
{
	size_t k = 0;
	out[k++] = 0x30;
	out[k++] = (uint8_t)(sizeof(OID_MD) + 4 + n);
	memcpy(out + k, OID_MD, sizeof(OID_MD));
	k += sizeof(OID_MD);
	out[k++] = 0x31;
	out[k++] = (uint8_t)(n + 2);
	out[k++] = 0x04;
	out[k++] = (uint8_t)n;
	memset(out + k, v, n);
	return k + n;
}

/* out = tag || DER length || content (content may overlap nothing in out) */
static size_t tlv(uint8_t *out, uint8_t tag, const uint8_t *c, size_t n)
{
	size_t k = 0;
	uint8_t tmp[1024];
	assert_true(n <= sizeof(tmp) && n < 65536);
	memcpy(tmp, c, n);
	out[k++] = tag;
	if (n >= 256)
		out[k++] = 0x82, out[k++] = (uint8_t)(n >> 8);
	else if (n >= 128)
		out[k++] = 0x81;
	out[k++] = (uint8_t)n;
	memcpy(out + k, tmp, n);
	return k + n;
}

/* Independent construction of the signing-certificate-v2 attribute (SHA-256 signer) from
 * mbedTLS's parse of the certificate. */
static size_t expect_scv2(const mbedtls_x509_crt *c, uint8_t *out)
{
	uint8_t h[32], a[1024], b[1024];
	size_t an = 0, bn = 0;
	assert_int_equal(cms_hash_buf(CMS_SHA256, c->raw.p, c->raw.len, h), C2S_OK);
	an = tlv(a, 0xa4, c->issuer_raw.p, c->issuer_raw.len); /* directoryName */
	an = tlv(a, 0x30, a, an);                              /* GeneralNames */
	an += tlv(a + an, 0x02, c->serial.p, c->serial.len);
	an = tlv(a, 0x30, a, an); /* IssuerSerial */
	bn = tlv(b, 0x04, h, 32);
	memcpy(b + bn, a, an), bn += an;
	bn = tlv(b, 0x30, b, bn); /* ESSCertIDv2 */
	bn = tlv(b, 0x30, b, bn); /* certs */
	bn = tlv(b, 0x30, b, bn); /* SigningCertificateV2 */
	bn = tlv(b, 0x31, b, bn); /* attrValues */
	memcpy(a, OID_SCV2, sizeof(OID_SCV2));
	memcpy(a + sizeof(OID_SCV2), b, bn);
	return tlv(out, 0x30, a, sizeof(OID_SCV2) + bn);
}

static void test_attrs_encoding(void **state)
{
	(void)state;
	struct signer g;
	struct buf b;
	uint8_t dg[32], md[64], sc[512];
	const uint8_t *d = NULL;
	size_t dl = 0;

	signer_load(&g, "seal-rsa", CMS_SHA256, CMS_SIG_RSA_PKCS1);
	memset(dg, 0x5a, sizeof(dg));
	buf_init(&b, 1 << 16);
	assert_int_equal(cms_signed_attrs(&g.s, dg, sizeof(dg), &b), C2S_OK);
	/* expected: SET { content-type, message-digest, signing-certificate-v2 } in DER order */
	size_t mdl = attr_md(md, 32, 0x5a), scl = expect_scv2(&g.crt, sc);
	uint8_t all[1024];
	size_t body = 0;
	memcpy(all, ATTR_CT, sizeof(ATTR_CT)), body += sizeof(ATTR_CT);
	memcpy(all + body, md, mdl), body += mdl;
	memcpy(all + body, sc, scl), body += scl;
	body = tlv(all, 0x31, all, body);
	assert_int_equal(b.len, body);
	assert_memory_equal(b.data, all, body);
	/* and the keyholder's parser accepts it and points at the digest */
	assert_int_equal(cms_attrs_check(b.data, b.len, &d, &dl), C2S_OK);
	assert_int_equal(dl, 32);
	assert_memory_equal(d, dg, 32);
	/* wrong digest length for the hash is refused by the writer */
	assert_int_equal(cms_signed_attrs(&g.s, dg, 31, &b), C2S_ERR_ARG);
	buf_free(&b);
	signer_free(&g);
}

/* SHA-384: hashAlgorithm present in ESSCertIDv2, 48-byte digests, still sorted. */
static void test_attrs_sha384(void **state)
{
	(void)state;
	struct signer g;
	struct buf b;
	uint8_t dg[48];
	const uint8_t *d = NULL;
	size_t dl = 0;
	static const uint8_t sha384_alg[] = {0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
	                                     0x01, 0x65, 0x03, 0x04, 0x02, 0x02};

	signer_load(&g, "seal-p384", CMS_SHA384, CMS_SIG_ECDSA);
	memset(dg, 0x33, sizeof(dg));
	buf_init(&b, 1 << 16);
	assert_int_equal(cms_signed_attrs(&g.s, dg, sizeof(dg), &b), C2S_OK);
	assert_int_equal(cms_attrs_check(b.data, b.len, &d, &dl), C2S_OK);
	assert_int_equal(dl, 48);
	assert_memory_equal(d, dg, 48);
	size_t hl = b.data[1] < 0x80 ? 2 : 2 + (b.data[1] & 0x7fu);
	assert_memory_equal(b.data + hl, ATTR_CT, sizeof(ATTR_CT));
	assert_non_null(memmem(b.data, b.len, sha384_alg, sizeof(sha384_alg)));
	/* SHA-256 signer: no algorithm inside the ESSCertIDv2 */
	g.s.hash = CMS_SHA256;
	assert_int_equal(cms_signed_attrs(&g.s, dg, 32, &b), C2S_OK);
	assert_null(memmem(b.data, b.len, sha384_alg + 2, 11));
	buf_free(&b);
	signer_free(&g);
}

/* builds SET { parts... } exactly in the given order (no sorting) */
static size_t mkset(uint8_t *out, const uint8_t *const *parts, const size_t *lens, size_t n)
{
	size_t body = 0, k = 0;
	for (size_t i = 0; i < n; i++)
		body += lens[i];
	out[k++] = 0x31;
	if (body >= 128)
		out[k++] = 0x81;
	out[k++] = (uint8_t)body;
	for (size_t i = 0; i < n; i++)
		memcpy(out + k, parts[i], lens[i]), k += lens[i];
	return k;
}

static void test_attrs_check_table(void **state)
{
	(void)state;
	uint8_t md32[64], md31[64], md48[80], st[64], ct_bad[sizeof(ATTR_CT)], two[128], s[512];
	size_t l32 = attr_md(md32, 32, 1), l31 = attr_md(md31, 31, 1), l48 = attr_md(md48, 48, 2);
	/* signing-time: not allowed */
	static const uint8_t ST[] = {0x30, 0x1c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	                             0x01, 0x09, 0x05, 0x31, 0x0f, 0x17, 0x0d, '2',  '6',  '0',
	                             '1',  '0',  '1',  '0',  '0',  '0',  '0',  '0',  '0',  'Z'};
	memcpy(st, ST, sizeof(ST));
	memcpy(ct_bad, ATTR_CT, sizeof(ATTR_CT));
	ct_bad[sizeof(ATTR_CT) - 1] = 0x02; /* id-signedData instead of id-data */
	/* message-digest with two values */
	size_t tl = attr_md(two, 32, 1);
	memcpy(two + tl, two + tl - 34, 34);
	two[1] += 34, two[14] += 34, tl += 34;
	const uint8_t *d = NULL;
	size_t dl = 0, n = 0;

	struct {
		const char *name;
		const uint8_t *parts[4];
		size_t lens[4];
		size_t n;
		int cut;   /* bytes removed from the end */
		int extra; /* trailing bytes appended */
		c2s_err want;
	} t[] = {
	    {"good", {ATTR_CT, md32}, {sizeof(ATTR_CT), l32}, 2, 0, 0, C2S_OK},
	    {"good sha384", {ATTR_CT, md48}, {sizeof(ATTR_CT), l48}, 2, 0, 0, C2S_OK},
	    {"truncated", {ATTR_CT, md32}, {sizeof(ATTR_CT), l32}, 2, 1, 0, C2S_ERR_CMS_REFUSED},
	    {"trailing", {ATTR_CT, md32}, {sizeof(ATTR_CT), l32}, 2, 0, 2, C2S_ERR_CMS_REFUSED},
	    {"duplicate",
	     {ATTR_CT, ATTR_CT, md32},
	     {sizeof(ATTR_CT), sizeof(ATTR_CT), l32},
	     3,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"duplicate md",
	     {ATTR_CT, md32, md48},
	     {sizeof(ATTR_CT), l32, l48},
	     3,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"extra signing-time",
	     {ATTR_CT, md32, st},
	     {sizeof(ATTR_CT), l32, sizeof(ST)},
	     3,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"digest 31 bytes",
	     {ATTR_CT, md31},
	     {sizeof(ATTR_CT), l31},
	     2,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"unsorted", {md32, ATTR_CT}, {l32, sizeof(ATTR_CT)}, 2, 0, 0, C2S_ERR_CMS_REFUSED},
	    {"no digest", {ATTR_CT}, {sizeof(ATTR_CT)}, 1, 0, 0, C2S_ERR_CMS_REFUSED},
	    {"no content-type", {md32}, {l32}, 1, 0, 0, C2S_ERR_CMS_REFUSED},
	    {"content-type not id-data",
	     {ct_bad, md32},
	     {sizeof(ATTR_CT), l32},
	     2,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"two digest values",
	     {ATTR_CT, two},
	     {sizeof(ATTR_CT), tl},
	     2,
	     0,
	     0,
	     C2S_ERR_CMS_REFUSED},
	    {"empty", {NULL}, {0}, 0, 0, 0, C2S_ERR_CMS_REFUSED},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = mkset(s, t[i].parts, t[i].lens, t[i].n);
		for (int e = 0; e < t[i].extra; e++)
			s[n++] = 0;
		n -= (size_t)t[i].cut;
		c2s_err got = cms_attrs_check(s, n, &d, &dl);
		if (got != t[i].want)
			fail_msg("case '%s': got %d want %d", t[i].name, got, t[i].want);
	}
	/* framing: non-minimal length, indefinite length, wrong outer tag, bad inner length */
	const uint8_t *parts[2] = {ATTR_CT, md32};
	size_t lens[2] = {sizeof(ATTR_CT), l32};
	n = mkset(s, parts, lens, 2);
	uint8_t v[600];
	memcpy(v + 1, s, n); /* 31 81 LL -> 31 82 00 LL: non-minimal */
	v[0] = 0x31, v[1] = 0x82, v[2] = 0x00;
	memcpy(v + 3, s + 1, n - 1);
	assert_int_equal(cms_attrs_check(v, n + 1, &d, &dl), C2S_ERR_CMS_REFUSED);
	memcpy(v, s, n);
	v[1] = 0x80; /* indefinite */
	assert_int_equal(cms_attrs_check(v, n, &d, &dl), C2S_ERR_CMS_REFUSED);
	memcpy(v, s, n);
	v[0] = 0xa0; /* [0] IMPLICIT form is not what is signed */
	assert_int_equal(cms_attrs_check(v, n, &d, &dl), C2S_ERR_CMS_REFUSED);
	memcpy(v, s, n);
	v[3 + 1] += 1; /* content-type attribute claims one byte more */
	assert_int_equal(cms_attrs_check(v, n, &d, &dl), C2S_ERR_CMS_REFUSED);
	assert_int_equal(cms_attrs_check(s, n, &d, &dl), C2S_OK);
	assert_ptr_equal(d, s + n - 32);
}

struct sd_case {
	const char *key;
	enum cms_hash h;
	enum cms_sig sig;
	size_t sig_max;
};

static void sign_and_verify(const struct sd_case *c)
{
	struct signer g;
	struct buf attrs, out;
	uint8_t data[3000], dg[64], sig[1024];
	char path[600];

	signer_load(&g, c->key, c->h, c->sig);
	for (size_t i = 0; i < sizeof(data); i += 1000)
		assert_int_equal(mbedtls_ctr_drbg_random(&g_drbg, data + i, 1000), 0);
	assert_int_equal(cms_hash_buf(c->h, data, sizeof(data), dg), C2S_OK);
	buf_init(&attrs, 1 << 16);
	buf_init(&out, 1 << 20);
	assert_int_equal(cms_signed_attrs(&g.s, dg, cms_hash_len(c->h), &attrs), C2S_OK);
	size_t sl = sign_attrs(&g, attrs.data, attrs.len, sig);
	assert_true(sl <= c->sig_max);
	assert_int_equal(cms_signed_data(&g.s, attrs.data, attrs.len, sig, sl, NULL, 0, &out),
	                 C2S_OK);
	size_t max = cms_max_size(&g.s, c->sig_max, 0);
	print_message("%s: CMS %zu bytes, cms_max_size %zu (+8 KiB token budget: %zu)\n", c->key,
	              out.len, max, cms_max_size(&g.s, c->sig_max, 8192));
	assert_true(max >= out.len && max <= out.len + 16);
	snprintf(path, sizeof(path), "%s/sig.der", g_dir);
	write_file(path, out.data, out.len);
	snprintf(path, sizeof(path), "%s/data.bin", g_dir);
	write_file(path, data, sizeof(data));
	assert_int_equal(run("openssl cms -verify -binary -inform DER -in %s/sig.der -content "
	                     "%s/data.bin -CAfile %s/root.pem -purpose any -out /dev/null 2>%s/err",
	                     g_dir, g_dir, g_pki, g_dir),
	                 0);
	/* structure as EN 319 122-1 wants it: no signing-time, one signing-certificate-v2 */
	assert_int_equal(run("openssl cms -cmsout -print -inform DER -in %s/sig.der > %s/p.txt && "
	                     "test $(grep -c 'id-smime-aa-signingCertificateV2' %s/p.txt) = 1 && "
	                     "! grep -q signingTime %s/p.txt && grep -q 'pkcs7-data' %s/p.txt",
	                     g_dir, g_dir, g_dir, g_dir, g_dir),
	                 0);
	/* one changed content byte: openssl must refuse */
	data[100] ^= 1;
	write_file(path, data, sizeof(data));
	assert_int_not_equal(run("openssl cms -verify -binary -inform DER -in %s/sig.der -content "
	                         "%s/data.bin -CAfile %s/root.pem -purpose any -out /dev/null "
	                         "2>/dev/null",
	                         g_dir, g_dir, g_pki),
	                     0);
	buf_free(&attrs);
	buf_free(&out);
	signer_free(&g);
}

static void test_sd_rsa_pkcs1(void **state)
{
	(void)state;
	static const struct sd_case c = {"seal-rsa", CMS_SHA256, CMS_SIG_RSA_PKCS1, 384};
	sign_and_verify(&c);
}

static void test_sd_rsa_pkcs1_sha512(void **state)
{
	(void)state;
	static const struct sd_case c = {"seal-rsa", CMS_SHA512, CMS_SIG_RSA_PKCS1, 384};
	sign_and_verify(&c);
}

static void test_sd_rsa_pss(void **state)
{
	(void)state;
	static const struct sd_case c = {"seal-rsa", CMS_SHA256, CMS_SIG_RSA_PSS, 384};
	sign_and_verify(&c);
}

static void test_sd_ecdsa_p256(void **state)
{
	(void)state;
	static const struct sd_case c = {"seal-p256", CMS_SHA256, CMS_SIG_ECDSA, 72};
	sign_and_verify(&c);
}

static void test_sd_ecdsa_p384(void **state)
{
	(void)state;
	static const struct sd_case c = {"seal-p384", CMS_SHA384, CMS_SIG_ECDSA, 104};
	sign_and_verify(&c);
}

/* a token is carried as unsigned attribute; bad inputs are refused */
static void test_sd_token_and_args(void **state)
{
	(void)state;
	struct signer g;
	struct buf attrs, out;
	uint8_t dg[32] = {1}, sig[16] = {2};
	static const uint8_t tok[] = {0x30, 0x03, 0x02, 0x01, 0x07};
	static const uint8_t tsa_oid[] = {0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	                                  0x0d, 0x01, 0x09, 0x10, 0x02, 0x0e};

	signer_load(&g, "seal-p256", CMS_SHA256, CMS_SIG_ECDSA);
	buf_init(&attrs, 1 << 16);
	buf_init(&out, 1 << 20);
	assert_int_equal(cms_signed_attrs(&g.s, dg, 32, &attrs), C2S_OK);
	assert_int_equal(
	    cms_signed_data(&g.s, attrs.data, attrs.len, sig, sizeof(sig), tok, sizeof(tok), &out),
	    C2S_OK);
	uint8_t *at = memmem(out.data, out.len, tsa_oid, sizeof(tsa_oid));
	assert_non_null(at);
	assert_memory_equal(at + sizeof(tsa_oid), "\x31\x05", 2);
	assert_memory_equal(at + sizeof(tsa_oid) + 2, tok, sizeof(tok));
	assert_int_equal(at[-2], 0x30);
	assert_int_equal(at[-4], 0xa1);
	assert_true(out.len <= cms_max_size(&g.s, sizeof(sig), sizeof(tok)));
	/* token not a single SEQUENCE, attrs not a SET, trailing byte: refused */
	assert_int_equal(cms_signed_data(&g.s, attrs.data, attrs.len, sig, sizeof(sig), tok,
	                                 sizeof(tok) - 1, &out),
	                 C2S_ERR_ARG);
	assert_int_equal(
	    cms_signed_data(&g.s, attrs.data, attrs.len - 1, sig, sizeof(sig), NULL, 0, &out),
	    C2S_ERR_ARG);
	/* a signer "certificate" that is not one */
	g.s.cert_len = 10;
	assert_int_equal(cms_signed_attrs(&g.s, dg, 32, &attrs), C2S_ERR_X509);
	assert_int_equal(cms_max_size(&g.s, 72, 0), 0);
	buf_free(&attrs);
	buf_free(&out);
	signer_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_attrs_encoding),      cmocka_unit_test(test_attrs_sha384),
	    cmocka_unit_test(test_attrs_check_table),   cmocka_unit_test(test_sd_rsa_pkcs1),
	    cmocka_unit_test(test_sd_rsa_pkcs1_sha512), cmocka_unit_test(test_sd_rsa_pss),
	    cmocka_unit_test(test_sd_ecdsa_p256),       cmocka_unit_test(test_sd_ecdsa_p384),
	    cmocka_unit_test(test_sd_token_and_args),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
