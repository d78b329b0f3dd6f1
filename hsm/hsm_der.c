/* The little DER the token layer needs: ECDSA r||s to SEQUENCE, DigestInfo, named curves,
 * EC points and SubjectPublicKeyInfo (through mbedTLS pk). */
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <string.h>

#include "hsm_int.h"

size_t hsm_hash_len(enum hsm_hash h)
{
	switch (h) {
	case HSM_HASH_SHA256:
		return 32;
	case HSM_HASH_SHA384:
		return 48;
	case HSM_HASH_SHA512:
		return 64;
	default:
		return 0;
	}
}

/* INTEGER from an unsigned big-endian magnitude: strip leading zeros, keep one byte,
 * prepend 0x00 when the top bit is set. Returns bytes written or 0 if it does not fit. */
static size_t der_uint(const uint8_t *v, size_t n, uint8_t *out, size_t cap)
{
	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	size_t pad = (v[0] & 0x80) ? 1 : 0;
	size_t body = n + pad;
	if (body > 127 || cap < body + 2)
		return 0;
	out[0] = 0x02;
	out[1] = (uint8_t)body;
	if (pad)
		out[2] = 0;
	memcpy(out + 2 + pad, v, n);
	return body + 2;
}

c2s_err hsm_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len)
{
	c2s_err ret = C2S_ERR_ARG;
	uint8_t tmp[2 * (2 + 67)];
	ENSURE(raw && der && der_len, C2S_ERR_ARG);
	ENSURE(raw_len >= 2 && raw_len % 2 == 0 && raw_len <= 2 * 66, C2S_ERR_ARG);
	size_t half = raw_len / 2;
	size_t a = der_uint(raw, half, tmp, sizeof(tmp));
	ENSURE(a != 0, C2S_ERR_INTERNAL);
	size_t b = der_uint(raw + half, half, tmp + a, sizeof(tmp) - a);
	ENSURE(b != 0, C2S_ERR_INTERNAL);
	size_t body = a + b, hdr = body > 127 ? 3 : 2;
	ENSURE(*der_len >= hdr + body, C2S_ERR_TOO_BIG);
	der[0] = 0x30;
	if (body > 127) {
		der[1] = 0x81;
		der[2] = (uint8_t)body;
	} else {
		der[1] = (uint8_t)body;
	}
	memcpy(der + hdr, tmp, body);
	*der_len = hdr + body;
	ret = C2S_OK;
out:
	return ret;
}

/* DER prefixes of DigestInfo{AlgorithmIdentifier{hash, NULL}, OCTET STRING digest}. */
static const uint8_t di_sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t di_sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t di_sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

c2s_err hsm_digest_info(enum hsm_hash hash, const uint8_t *digest, size_t len, uint8_t *out,
                        size_t cap, size_t *out_len)
{
	c2s_err ret = C2S_ERR_ARG;
	const uint8_t *pre = hash == HSM_HASH_SHA256   ? di_sha256
	                     : hash == HSM_HASH_SHA384 ? di_sha384
	                     : hash == HSM_HASH_SHA512 ? di_sha512
	                                               : NULL;
	ENSURE(pre != NULL && len == hsm_hash_len(hash), C2S_ERR_ARG);
	ENSURE(cap >= sizeof(di_sha256) + len, C2S_ERR_TOO_BIG);
	memcpy(out, pre, sizeof(di_sha256));
	memcpy(out + sizeof(di_sha256), digest, len);
	*out_len = sizeof(di_sha256) + len;
	ret = C2S_OK;
out:
	return ret;
}

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const uint8_t oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};

c2s_err hsm_curve_params(enum hsm_curve c, const uint8_t **der, size_t *len)
{
	switch (c) {
	case HSM_CURVE_P256:
		*der = oid_p256, *len = sizeof(oid_p256);
		return C2S_OK;
	case HSM_CURVE_P384:
		*der = oid_p384, *len = sizeof(oid_p384);
		return C2S_OK;
	case HSM_CURVE_P521:
		*der = oid_p521, *len = sizeof(oid_p521);
		return C2S_OK;
	default:
		return C2S_ERR_ARG;
	}
}

enum hsm_curve hsm_curve_from_params(const uint8_t *der, size_t len)
{
	for (int c = HSM_CURVE_P256; c <= HSM_CURVE_P521; c++) {
		const uint8_t *p;
		size_t n;
		if (hsm_curve_params((enum hsm_curve)c, &p, &n) == C2S_OK && n == len &&
		    memcmp(p, der, n) == 0)
			return (enum hsm_curve)c;
	}
	return HSM_CURVE_NONE;
}

unsigned hsm_curve_bits(enum hsm_curve c)
{
	return c == HSM_CURVE_P256   ? 256
	       : c == HSM_CURVE_P384 ? 384
	       : c == HSM_CURVE_P521 ? 521
	                             : 0;
}

c2s_err hsm_ec_point_unwrap(enum hsm_curve c, const uint8_t *p, size_t n, uint8_t *out, size_t cap,
                            size_t *len)
{
	c2s_err ret = C2S_ERR_HSM;
	size_t raw = 2 * ((hsm_curve_bits(c) + 7) / 8) + 1;
	ENSURE(raw > 1 && cap >= raw, C2S_ERR_ARG);
	if (n == raw && p[0] == 0x04) { /* already raw (some modules) */
		memcpy(out, p, raw);
	} else {
		/* DER OCTET STRING { 04 || X || Y } (PKCS#11 2.40, SoftHSM2) */
		size_t hdr = raw > 127 ? 3 : 2;
		ENSURE(n == hdr + raw && p[0] == 0x04, C2S_ERR_HSM);
		ENSURE(hdr == 2 ? p[1] == raw : (p[1] == 0x81 && p[2] == raw), C2S_ERR_HSM);
		ENSURE(p[hdr] == 0x04, C2S_ERR_HSM);
		memcpy(out, p + hdr, raw);
	}
	*len = raw;
	ret = C2S_OK;
out:
	return ret;
}

static mbedtls_ecp_group_id curve_grp(enum hsm_curve c)
{
	return c == HSM_CURVE_P256   ? MBEDTLS_ECP_DP_SECP256R1
	       : c == HSM_CURVE_P384 ? MBEDTLS_ECP_DP_SECP384R1
	       : c == HSM_CURVE_P521 ? MBEDTLS_ECP_DP_SECP521R1
	                             : MBEDTLS_ECP_DP_NONE;
}

static int pk_fill(mbedtls_pk_context *pk, const struct hsm_key *k)
{
	if (k->info.type == HSM_KEY_RSA) {
		int r = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
		if (r != 0)
			return r;
		mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
		r = mbedtls_rsa_import_raw(rsa, k->pub, k->pub_len, NULL, 0, NULL, 0, NULL, 0,
		                           k->exp, k->exp_len);
		return r ? r : mbedtls_rsa_complete(rsa);
	}
	int r = mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (r != 0)
		return r;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
	r = mbedtls_ecp_group_load(&ec->grp, curve_grp(k->info.curve));
	if (r != 0)
		return r;
	r = mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, k->pub, k->pub_len);
	return r ? r : mbedtls_ecp_check_pubkey(&ec->grp, &ec->Q);
}

c2s_err hsm_spki_build(const struct hsm_key *k, struct buf *spki)
{
	c2s_err ret = C2S_ERR_HSM;
	mbedtls_pk_context pk;
	uint8_t tmp[2200];
	mbedtls_pk_init(&pk);
	ENSURE(k->pub_len > 0, C2S_ERR_HSM_NO_KEY);
	int r = pk_fill(&pk, k);
	if (r != 0) {
		log_warn("public key of \"%s\" refused by mbedTLS (-0x%04x)", k->info.label,
		         (unsigned)-r);
		goto out;
	}
	int n = mbedtls_pk_write_pubkey_der(&pk, tmp, sizeof(tmp));
	ENSURE(n > 0, C2S_ERR_INTERNAL);
	GUARD(buf_put(spki, tmp + sizeof(tmp) - (size_t)n, (size_t)n));
	ret = C2S_OK;
out:
	mbedtls_pk_free(&pk);
	return ret;
}
