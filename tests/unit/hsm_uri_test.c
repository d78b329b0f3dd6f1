/* Table tests: pkcs11: URI parser (good and bad, with the part named), ECDSA raw->DER for
 * every leading-zero case checked against mbedTLS's own DER writer and parser, DigestInfo
 * sizes, and the module allow-list refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>

#include "hsm_test_common.h"

struct good_uri {
	const char *uri;
	const char *token, *serial, *object, *pin_source;
	const char *id_hex;
	int type;
};

static const struct good_uri good[] = {
    {"pkcs11:", NULL, NULL, NULL, NULL, NULL, 0},
    {"pkcs11:token=c2s;object=seal", "c2s", NULL, "seal", NULL, NULL, 0},
    {"PKCS11:object=a", NULL, NULL, "a", NULL, NULL, 0},
    {"pkcs11:token=My%20Token;serial=DEADBEEF", "My Token", "DEADBEEF", NULL, NULL, NULL, 0},
    {"pkcs11:id=%01%02%ff;type=private", NULL, NULL, NULL, NULL, "0102ff", HSM_URI_TYPE_PRIVATE},
    {"pkcs11:object=seal;type=cert", NULL, NULL, "seal", NULL, NULL, HSM_URI_TYPE_CERT},
    {"pkcs11:object=s%C3%A9al?pin-source=file:/etc/c2s/pin", NULL, NULL,
     "s\xc3\xa9"
     "al",
     "file:/etc/c2s/pin", NULL, 0},
    {"pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2;token=t", "t", NULL, NULL, NULL,
     NULL, 0},
    {"pkcs11:token=a(b)!*'+,=:@[]$", "a(b)!*'+,=:@[]$", NULL, NULL, NULL, NULL, 0},
};

struct bad_uri {
	const char *uri;
	const char *why_has; /* part at fault named in `why` */
};

static const struct bad_uri bad[] = {
    {"pkcs12:token=a", "scheme"},
    {"token=a", "scheme"},
    {"pkcs11:token=a;token=b", "token"},
    {"pkcs11:foo=bar", "foo"},
    {"pkcs11:slot-id=1", "slot-id"},
    {"pkcs11:token=a%2", "token"},
    {"pkcs11:token=a%zz", "token"},
    {"pkcs11:object=a b", "object"},
    {"pkcs11:object=a/b", "object"},
    {"pkcs11:type=secret-key", "type"},
    {"pkcs11:token=;object=x", "token"},
    {"pkcs11:token=123456789012345678901234567890123", "token"},
    {"pkcs11:serial=12345678901234567", "serial"},
    {"pkcs11:model=12345678901234567", "model"},
    {"pkcs11:id=%00%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14%15%16%17%18%19"
     "%1a%1b%1c%1d%1e%1f%20%21%22%23%24%25%26%27%28%29%2a%2b%2c%2d%2e%2f%30%31%32%33%34%35%36"
     "%37%38%39%3a%3b%3c%3d%3e%3f%40",
     "id"},
    {"pkcs11:object=a?pin-value=1234", "pin-value"},
    {"pkcs11:object=a;;token=b", "path"},
    {"pkcs11:object", "object"},
    {"pkcs11:=x", "path"},
    {"pkcs11:object=a?", "query"},
    {"pkcs11:object=a%00b", "object"},
    {"pkcs11:token=a?pin-source=x&pin-source=y", "pin-source"},
    {"pkcs11:id=%01;", "path"},
    {"pkcs11:pin-source=x", "pin-source"},
    {"pkcs11:object=a?token=b", "token"},
};

static void hex(const char *h, uint8_t *out, size_t *n)
{
	*n = 0;
	for (; h && h[0] && h[1]; h += 2) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[(*n)++] = (uint8_t)v;
	}
}

static void test_uri_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct hsm_uri u;
		char why[HSM_WHY] = "";
		uint8_t id[64];
		size_t idn;
		c2s_err r = hsm_uri_parse(good[i].uri, &u, why, sizeof(why));
		if (r != C2S_OK)
			fprintf(stderr, "%s: %s\n", good[i].uri, why);
		assert_int_equal(r, C2S_OK);
		assert_int_equal(u.has_token, good[i].token != NULL);
		if (good[i].token)
			assert_string_equal(u.token, good[i].token);
		assert_int_equal(u.has_serial, good[i].serial != NULL);
		if (good[i].serial)
			assert_string_equal(u.serial, good[i].serial);
		assert_int_equal(u.has_object, good[i].object != NULL);
		if (good[i].object)
			assert_string_equal(u.object, good[i].object);
		assert_string_equal(u.pin_source, good[i].pin_source ? good[i].pin_source : "");
		hex(good[i].id_hex, id, &idn);
		assert_int_equal(u.has_id, good[i].id_hex != NULL);
		assert_int_equal(u.id_len, idn);
		assert_memory_equal(u.id, id, idn);
		assert_int_equal(u.type, good[i].type);
	}
	struct hsm_uri u;
	char why[HSM_WHY];
	assert_int_equal(
	    hsm_uri_parse("pkcs11:manufacturer=SoftHSM%20project", &u, why, sizeof(why)), C2S_OK);
	assert_string_equal(u.manufacturer, "SoftHSM project");
}

static void test_uri_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hsm_uri u;
		char why[HSM_WHY] = "";
		c2s_err r = hsm_uri_parse(bad[i].uri, &u, why, sizeof(why));
		if (r != C2S_ERR_HSM_URI || !strstr(why, bad[i].why_has))
			fprintf(stderr, "%s -> %s \"%s\" (want \"%s\")\n", bad[i].uri,
			        c2s_err_name(r), why, bad[i].why_has);
		assert_int_equal(r, C2S_ERR_HSM_URI);
		assert_non_null(strstr(why, bad[i].why_has));
		assert_int_equal(u.has_token + u.has_object + u.has_id, 0); /* wiped */
	}
}

/* mbedTLS reference: SEQUENCE{INTEGER r, INTEGER s} via asn1write. */
static size_t ref_der(const uint8_t *raw, size_t n, uint8_t *out, size_t cap)
{
	mbedtls_mpi r, s;
	uint8_t buf[300], *p = buf + sizeof(buf);
	size_t len = 0;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	assert_int_equal(mbedtls_mpi_read_binary(&r, raw, n / 2), 0);
	assert_int_equal(mbedtls_mpi_read_binary(&s, raw + n / 2, n / 2), 0);
	len += (size_t)mbedtls_asn1_write_mpi(&p, buf, &s);
	len += (size_t)mbedtls_asn1_write_mpi(&p, buf, &r);
	len += (size_t)mbedtls_asn1_write_len(&p, buf, len);
	len += (size_t)mbedtls_asn1_write_tag(&p, buf,
	                                      MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
	assert_true(len <= cap);
	memcpy(out, p, len);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	return len;
}

/* Parse our DER back with mbedTLS and compare the integers with the raw halves. */
static void parse_back(const uint8_t *der, size_t len, const uint8_t *raw, size_t n)
{
	unsigned char *p = (unsigned char *)der, *end = p + len;
	size_t sl;
	mbedtls_mpi r, s, er, es;
	mbedtls_mpi_init(&r), mbedtls_mpi_init(&s), mbedtls_mpi_init(&er), mbedtls_mpi_init(&es);
	assert_int_equal(mbedtls_asn1_get_tag(&p, end, &sl, 0x30), 0);
	assert_ptr_equal(p + sl, end);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, end, &r), 0);
	assert_int_equal(mbedtls_asn1_get_mpi(&p, end, &s), 0);
	assert_ptr_equal(p, end);
	assert_int_equal(mbedtls_mpi_read_binary(&er, raw, n / 2), 0);
	assert_int_equal(mbedtls_mpi_read_binary(&es, raw + n / 2, n / 2), 0);
	assert_int_equal(mbedtls_mpi_cmp_mpi(&r, &er), 0);
	assert_int_equal(mbedtls_mpi_cmp_mpi(&s, &es), 0);
	mbedtls_mpi_free(&r), mbedtls_mpi_free(&s), mbedtls_mpi_free(&er), mbedtls_mpi_free(&es);
}

/* Patterns for one half: leading bytes then filler. */
static const uint8_t heads[][3] = {
    {0x80, 0x11, 0x22}, /* top bit set: needs 0x00 */
    {0x7f, 0x11, 0x22}, /* no padding */
    {0x00, 0x7f, 0x22}, /* one leading zero stripped */
    {0x00, 0x80, 0x22}, /* zero stripped, then padded again */
    {0x00, 0x00, 0x01}, /* two zeros */
    {0x00, 0x00, 0x80}, /* two zeros then top bit */
    {0x01, 0xff, 0xff}, /* P-521 typical top byte */
    {0x00, 0x00, 0x00}, /* all zero (the whole half, see below) */
};

static void fill_half(uint8_t *h, size_t n, size_t pat)
{
	memset(h, pat == 7 ? 0x00 : 0xa5, n);
	memcpy(h, heads[pat], 3);
}

static void test_ecdsa_der_vectors(void **state)
{
	(void)state;
	static const size_t sizes[] = {32, 48, 66};
	size_t nh = sizeof(heads) / sizeof(heads[0]);
	for (size_t z = 0; z < 3; z++) {
		size_t n = sizes[z];
		for (size_t a = 0; a < nh; a++) {
			for (size_t b = 0; b < nh; b++) {
				uint8_t raw[132], der[200], ref[200];
				size_t dl = sizeof(der);
				fill_half(raw, n, a);
				fill_half(raw + n, n, b);
				assert_int_equal(hsm_ecdsa_raw_to_der(raw, 2 * n, der, &dl),
				                 C2S_OK);
				size_t rl = ref_der(raw, 2 * n, ref, sizeof(ref));
				assert_int_equal(dl, rl);
				assert_memory_equal(der, ref, rl);
				parse_back(der, dl, raw, 2 * n);
			}
		}
	}
	/* P-521 maximum: both halves with the top bit set in the first byte: 3-byte header */
	uint8_t raw[132], der[200];
	size_t dl = sizeof(der);
	memset(raw, 0xff, sizeof(raw));
	assert_int_equal(hsm_ecdsa_raw_to_der(raw, 132, der, &dl), C2S_OK);
	assert_int_equal(dl, 3 + 2 * (2 + 67));
	assert_int_equal(der[1], 0x81);
	/* negatives */
	dl = sizeof(der);
	assert_int_equal(hsm_ecdsa_raw_to_der(raw, 63, der, &dl), C2S_ERR_ARG);
	assert_int_equal(hsm_ecdsa_raw_to_der(raw, 0, der, &dl), C2S_ERR_ARG);
	assert_int_equal(hsm_ecdsa_raw_to_der(raw, 134, der, &dl), C2S_ERR_ARG);
	dl = 20;
	assert_int_equal(hsm_ecdsa_raw_to_der(raw, 64, der, &dl), C2S_ERR_TOO_BIG);
}

static void test_hash_len(void **state)
{
	(void)state;
	assert_int_equal(hsm_hash_len(HSM_HASH_SHA256), 32);
	assert_int_equal(hsm_hash_len(HSM_HASH_SHA384), 48);
	assert_int_equal(hsm_hash_len(HSM_HASH_SHA512), 64);
	assert_int_equal(hsm_hash_len((enum hsm_hash)9), 0);
}

static void test_allow_list(void **state)
{
	(void)state;
	struct t_env e;
	struct hsm *h = NULL;
	char why[HSM_WHY] = "", link[PATH_MAX + 16];
	t_env_init(&e, NULL);
	const char *only_opensc[] = {"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"};
	e.cfg.allow = only_opensc;
	e.cfg.n_allow = 1;
	assert_int_equal(hsm_open(&e.cfg, &h, why, sizeof(why)), C2S_ERR_MODULE_NOT_ALLOWED);
	assert_null(h);
	assert_non_null(strstr(why, T_SOFTHSM));
	assert_non_null(strstr(why, "opensc-pkcs11.so"));
	assert_int_equal(hsm_token_init(&e.cfg, T_SO_PIN, "x", T_PIN, why, sizeof(why)),
	                 C2S_ERR_MODULE_NOT_ALLOWED);
	/* a symlink to an allowed module is compared after realpath: accepted */
	snprintf(link, sizeof(link), "%s/softhsm-link.so", e.dir);
	assert_int_equal(symlink(T_SOFTHSM, link), 0);
	const char *allow_link[] = {link};
	e.cfg.allow = allow_link;
	assert_int_equal(hsm_token_init(&e.cfg, T_SO_PIN, "c2s-test", T_PIN, why, sizeof(why)),
	                 C2S_OK);
	assert_int_equal(hsm_open(&e.cfg, &h, why, sizeof(why)), C2S_OK);
	hsm_close(h);
	/* missing module */
	e.cfg.module_path = "/nonexistent/libp11.so";
	assert_int_equal(hsm_open(&e.cfg, &h, why, sizeof(why)), C2S_ERR_HSM_MODULE);
	assert_non_null(strstr(why, "/nonexistent/libp11.so"));
	t_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uri_good),          cmocka_unit_test(test_uri_bad),
	    cmocka_unit_test(test_ecdsa_der_vectors), cmocka_unit_test(test_hash_len),
	    cmocka_unit_test(test_allow_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
