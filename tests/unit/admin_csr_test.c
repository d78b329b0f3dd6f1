/* click2sign-admin CSR building blocks and helpers, without a token: a software mbedTLS key
 * stands in for the token's signature so the DER can be checked by mbedTLS's own parser.
 * The provisioning sources are compiled into this one translation unit (they are not in
 * libc2s). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/sha256.h>

#include "../../provisioning/admin_csr.c"
#include "../../provisioning/admin_keys.c"
#include "../../provisioning/admin_util.c"

static mbedtls_entropy_context t_entropy;
static mbedtls_ctr_drbg_context t_drbg;

static int t_setup(void **state)
{
	(void)state;
	mbedtls_entropy_init(&t_entropy);
	mbedtls_ctr_drbg_init(&t_drbg);
	return mbedtls_ctr_drbg_seed(&t_drbg, mbedtls_entropy_func, &t_entropy,
	                             (const unsigned char *)"admin_csr_test", 14);
}

static int t_teardown(void **state)
{
	(void)state;
	mbedtls_ctr_drbg_free(&t_drbg);
	mbedtls_entropy_free(&t_entropy);
	return 0;
}

static void t_subject_check(void **state)
{
	(void)state;
	char why[512];
	assert_int_equal(
	    admin_csr_subject_check("CN=Žiga Čas,O=Test d.o.o.,C=SI", why, sizeof(why)), C2S_OK);
	assert_int_equal(admin_csr_subject_check("CN=A\\, B,C=SI", why, sizeof(why)), C2S_OK);
	static const char *const bad[] = {
	    "",                /* empty */
	    "XX=nope",         /* unknown attribute */
	    "CN=\xc3\x28",     /* broken UTF-8 */
	    "CN=\xc0\xaf",     /* overlong */
	    "CN=\xed\xa0\x80", /* surrogate */
	    "CN=a\x01z",       /* control character */
	    "CN=\xc3",         /* truncated sequence */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		assert_int_equal(admin_csr_subject_check(bad[i], why, sizeof(why)), C2S_ERR_ARG);
		assert_true(why[0] != 0);
	}
}

static void t_make_key(mbedtls_pk_context *pk, mbedtls_ecp_group_id gid)
{
	mbedtls_pk_init(pk);
	assert_int_equal(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
	assert_int_equal(
	    mbedtls_ecp_gen_key(gid, mbedtls_pk_ec(*pk), mbedtls_ctr_drbg_random, &t_drbg), 0);
}

/* Builds a CSR the way `csr` does, signing with a software key. */
static void t_build(mbedtls_pk_context *pk, const char *subject, mbedtls_md_type_t md,
                    const char *oid, size_t oid_len, struct buf *der)
{
	uint8_t spki[ADMIN_SPKI_MAX], digest[MBEDTLS_MD_MAX_SIZE],
	    sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t sig_len = 0;
	int n = mbedtls_pk_write_pubkey_der(pk, spki, sizeof(spki));
	assert_true(n > 0);
	struct buf info;
	buf_init(&info, CSR_MAX);
	assert_int_equal(admin_csr_info(subject, spki + sizeof(spki) - n, (size_t)n, &info),
	                 C2S_OK);
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(md);
	assert_int_equal(mbedtls_md(mi, info.data, info.len, digest), 0);
	assert_int_equal(mbedtls_pk_sign(pk, md, digest, mbedtls_md_get_size(mi), sig, &sig_len,
	                                 mbedtls_ctr_drbg_random, &t_drbg),
	                 0);
	assert_int_equal(admin_csr_wrap(&info, oid, oid_len, 0, sig, sig_len, der), C2S_OK);
	buf_free(&info);
}

static void t_csr_ec(void **state)
{
	(void)state;
	static const struct {
		mbedtls_ecp_group_id gid;
		mbedtls_md_type_t md;
		const char *oid;
		size_t oid_len;
	} v[] = {
	    {MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_MD_SHA256, MBEDTLS_OID_ECDSA_SHA256,
	     MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)},
	    {MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_MD_SHA384, MBEDTLS_OID_ECDSA_SHA384,
	     MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA384)},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mbedtls_pk_context pk;
		mbedtls_x509_csr csr;
		struct buf der;
		char dn[256];
		t_make_key(&pk, v[i].gid);
		buf_init(&der, CSR_MAX);
		t_build(&pk, "CN=Žiga Čas,O=Test d.o.o.,C=SI", v[i].md, v[i].oid, v[i].oid_len,
		        &der);
		assert_int_equal(csr_self_verify(&der), C2S_OK);
		mbedtls_x509_csr_init(&csr);
		assert_int_equal(mbedtls_x509_csr_parse_der(&csr, der.data, der.len), 0);
		assert_int_equal(csr.version, 1);
		assert_int_equal(csr.sig_md, v[i].md);
		admin_dn_string(&csr.subject, dn, sizeof(dn));
		assert_string_equal(dn, "CN=Žiga Čas, O=Test d.o.o., C=SI");
		mbedtls_x509_csr_free(&csr);
		/* a flipped bit in the signature must not verify */
		der.data[der.len - 5] ^= 0x01;
		assert_int_not_equal(csr_self_verify(&der), C2S_OK);
		buf_free(&der);
		mbedtls_pk_free(&pk);
	}
}

static void t_csr_wrong_key(void **state)
{
	(void)state;
	mbedtls_pk_context a, b;
	uint8_t spki[ADMIN_SPKI_MAX], digest[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t sig_len = 0;
	struct buf info, der;
	t_make_key(&a, MBEDTLS_ECP_DP_SECP256R1);
	t_make_key(&b, MBEDTLS_ECP_DP_SECP256R1);
	buf_init(&info, CSR_MAX);
	buf_init(&der, CSR_MAX);
	int n = mbedtls_pk_write_pubkey_der(&a, spki, sizeof(spki));
	assert_true(n > 0);
	assert_int_equal(admin_csr_info("CN=x", spki + sizeof(spki) - n, (size_t)n, &info), C2S_OK);
	assert_int_equal(mbedtls_sha256_ret(info.data, info.len, digest, 0), 0);
	/* signed by b, claims a's key: the self-check must catch it */
	assert_int_equal(mbedtls_pk_sign(&b, MBEDTLS_MD_SHA256, digest, 32, sig, &sig_len,
	                                 mbedtls_ctr_drbg_random, &t_drbg),
	                 0);
	assert_int_equal(admin_csr_wrap(&info, MBEDTLS_OID_ECDSA_SHA256,
	                                MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256), 0, sig, sig_len,
	                                &der),
	                 C2S_OK);
	assert_int_not_equal(csr_self_verify(&der), C2S_OK);
	/* SPKI comparison: a equals itself, not b */
	uint8_t sb[ADMIN_SPKI_MAX];
	int nb = mbedtls_pk_write_pubkey_der(&b, sb, sizeof(sb));
	assert_true(admin_spki_equal(spki + sizeof(spki) - n, (size_t)n, spki + sizeof(spki) - n,
	                             (size_t)n));
	assert_false(
	    admin_spki_equal(spki + sizeof(spki) - n, (size_t)n, sb + sizeof(sb) - nb, (size_t)nb));
	assert_false(
	    admin_spki_equal((const uint8_t *)"junk", 4, sb + sizeof(sb) - nb, (size_t)nb));
	buf_free(&info);
	buf_free(&der);
	mbedtls_pk_free(&a);
	mbedtls_pk_free(&b);
}

static void t_key_uri(void **state)
{
	(void)state;
	struct hsm_key_info ki = {.label = "seal key;1", .id = {0x01, 0xab}, .id_len = 2};
	char uri[256];
	admin_key_uri(&ki, uri, sizeof(uri));
	assert_string_equal(uri, "pkcs11:object=seal%20key%3B1;id=%01%AB");
	struct hsm_uri u;
	char why[256];
	assert_int_equal(hsm_uri_parse(uri, &u, why, sizeof(why)), C2S_OK);
	assert_string_equal(u.object, "seal key;1");
	assert_int_equal(u.id_len, 2);
	assert_int_equal(u.id[1], 0xab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_subject_check),
	    cmocka_unit_test(t_csr_ec),
	    cmocka_unit_test(t_csr_wrong_key),
	    cmocka_unit_test(t_key_uri),
	};
	return cmocka_run_group_tests(tests, t_setup, t_teardown);
}
