/* Compact JWS (RFC 7515): strict base64url, trusted keys, signature first and JSON after,
 * registered claims, and signing through a callback (the token holds the private key). */
#include "jws.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "firmware/base/json.h"
#include "firmware/base/log.h"

#define RSA_MIN_BITS  2048
#define RSA_MAX_BITS  4096
#define ES256_SIG_LEN 64
#define PEM_MAX       65536
#define SPKI_MAX      2048
#define TIME_MAX      253402300799LL /* 9999-12-31T23:59:59Z */
#define SHOW_SIZE     44             /* token text quoted in a reason: 40 bytes and "..." */
#define JTI_MIN       16
#define JTI_MAX       128

#define show(s, n, buf) show_n((s), (n), (buf), sizeof(buf))

struct jws_key {
	mbedtls_pk_context pk;
	enum jws_alg alg;
	char kid[JWS_KID_SIZE];
};

/* One segment of the token: where it is in the input and its decoded bytes. */
struct seg {
	const char *s;
	size_t n;
	uint8_t *d;
	size_t dn;
};

/* Token text for a reason: printable ASCII kept, anything else '?', cut with "...". */
static const char *show_n(const char *s, size_t n, char *buf, size_t cap)
{
	size_t max = cap - 4, i;
	for (i = 0; i < n && i < max; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n > max) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* ---- base64url (RFC 4648 section 5, no padding) ---- */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Characters that encode n bytes, without padding. */
static size_t b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Writes b64url_len(n) characters to out (no NUL). */
static void b64url_encode(const uint8_t *p, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*out++ = b64url_chars[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		*out++ = b64url_chars[(acc << (6 - bits)) & 0x3f];
}

/* Strict decode of s[0..n) into out (room for n / 4 * 3 + 2 bytes): the alphabet only, a length
 * that is not 1 mod 4, unused trailing bits zero (so each byte string has one encoding). On
 * failure *bad is the index of the offending character and *what says what is wrong. */
static bool b64url_decode(const char *s, size_t n, uint8_t *out, size_t *out_len, size_t *bad,
                          const char **what)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(s[i]);
		if (v < 0) {
			*bad = i;
			*what = s[i] == '='                  ? "padding '=' is not allowed"
			        : s[i] == '+' || s[i] == '/' ? "base64 (not base64url) character"
			        : s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r') ? "whitespace"
			                                                        : "not base64url";
			return false;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (n % 4 == 1) {
		*bad = n - 1;
		*what = "truncated base64url (length is 1 mod 4)";
		return false;
	}
	if ((acc & ((1u << bits) - 1)) != 0) {
		*bad = n - 1;
		*what = "non-canonical base64url (unused bits set)";
		return false;
	}
	*out_len = o;
	return true;
}

/* ---- keys ---- */

const char *jws_alg_name(enum jws_alg alg)
{
	return alg == JWS_ES256 ? "ES256" : alg == JWS_RS256 ? "RS256" : "?";
}

const char *jws_key_kid(const struct jws_key *k)
{
	return k->kid;
}

enum jws_alg jws_key_alg(const struct jws_key *k)
{
	return k->alg;
}

void jws_key_free(struct jws_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	free(k);
}

static c2s_err sha256(const void *p, size_t n, uint8_t out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (md == NULL || mbedtls_md(md, p, n, out) != 0)
		return C2S_ERR_INTERNAL;
	return C2S_OK;
}

/* Parses the key of a PEM public key or of exactly one PEM certificate into pk. */
static c2s_err key_parse(const char *z, size_t len, mbedtls_pk_context *pk, char *why,
                         size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	mbedtls_x509_crt crt;
	uint8_t der[SPKI_MAX];
	int rc;

	mbedtls_x509_crt_init(&crt);
	if (memmem(z, len, "-----BEGIN CERTIFICATE-----", 27) != NULL) {
		rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)z, len + 1);
		if (rc != 0)
			WHY(C2S_ERR_ARG,
			    "key: the certificate could not be parsed or its key type is not "
			    "supported (mbedTLS -0x%04x); use EC P-256 or RSA 2048..4096",
			    (unsigned)-rc);
		if (crt.next != NULL)
			WHY(C2S_ERR_ARG, "key: the PEM holds more than one certificate; give one");
		rc = mbedtls_pk_write_pubkey_der(&crt.pk, der, sizeof(der));
		if (rc <= 0)
			WHY(C2S_ERR_ARG, "key: the certificate's key could not be re-encoded");
		rc = mbedtls_pk_parse_public_key(pk, der + sizeof(der) - rc, (size_t)rc);
	} else {
		rc = mbedtls_pk_parse_public_key(pk, (const unsigned char *)z, len + 1);
	}
	if (rc == MBEDTLS_ERR_PK_UNKNOWN_PK_ALG)
		WHY(C2S_ERR_ARG, "key: type is not supported; use EC P-256 or RSA 2048..4096");
	if (rc == MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE)
		WHY(C2S_ERR_ARG, "key: EC curve is not supported; use P-256");
	if (rc != 0)
		WHY(C2S_ERR_ARG,
		    "key: not a PEM public key or certificate (mbedTLS -0x%04x); give the "
		    "-----BEGIN PUBLIC KEY----- or -----BEGIN CERTIFICATE----- text",
		    (unsigned)-rc);
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&crt);
	return ret;
}

/* Allowed types and sizes, the algorithm each implies, and the kid. */
static c2s_err key_admit(struct jws_key *k, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	uint8_t der[SPKI_MAX], h[32];
	size_t bits = mbedtls_pk_get_bitlen(&k->pk);
	int n;

	switch (mbedtls_pk_get_type(&k->pk)) {
	case MBEDTLS_PK_RSA:
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			WHY(C2S_ERR_ARG, "key: RSA with %zu bits is refused; use %d to %d bits",
			    bits, RSA_MIN_BITS, RSA_MAX_BITS);
		mbedtls_rsa_set_padding(mbedtls_pk_rsa(k->pk), MBEDTLS_RSA_PKCS_V15,
		                        MBEDTLS_MD_NONE);
		k->alg = JWS_RS256;
		break;
	case MBEDTLS_PK_ECKEY: {
		mbedtls_ecp_group_id id = mbedtls_pk_ec(k->pk)->grp.id;
		const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_grp_id(id);
		if (id != MBEDTLS_ECP_DP_SECP256R1)
			WHY(C2S_ERR_ARG, "key: EC curve %s is refused; use P-256 (secp256r1)",
			    ci ? ci->name : "unknown");
		k->alg = JWS_ES256;
		break;
	}
	default:
		WHY(C2S_ERR_ARG, "key: type %s is not supported; use EC P-256 or RSA 2048..4096",
		    mbedtls_pk_get_name(&k->pk));
	}
	n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof(der));
	if (n <= 0)
		WHY(C2S_ERR_ARG, "key: could not be encoded as SubjectPublicKeyInfo");
	GUARD(sha256(der + sizeof(der) - n, (size_t)n, h));
	for (size_t i = 0; i < sizeof(h); i++)
		snprintf(k->kid + 2 * i, 3, "%02x", h[i]);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err jws_key_from_pem(const uint8_t *pem, size_t len, struct jws_key **out, char *why,
                         size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct jws_key *k = NULL;
	char *z = NULL;

	if (out != NULL)
		*out = NULL;
	if (pem == NULL || out == NULL || len == 0)
		WHY(C2S_ERR_ARG, "key: no PEM given");
	if (len > PEM_MAX)
		WHY(C2S_ERR_TOO_BIG, "key: PEM of %zu bytes, more than %d", len, PEM_MAX);
	z = malloc(len + 1);
	k = calloc(1, sizeof(*k));
	if (z == NULL || k == NULL)
		WHY(C2S_ERR_NOMEM, "key: out of memory");
	mbedtls_pk_init(&k->pk);
	memcpy(z, pem, len);
	z[len] = '\0'; /* mbedTLS reads PEM as a C string whose NUL is counted */
	GUARD(key_parse(z, len, &k->pk, why, why_cap));
	GUARD(key_admit(k, why, why_cap));
	*out = k;
	k = NULL;
	ret = C2S_OK;
out:
	jws_key_free(k);
	free(z);
	return ret;
}

/* ---- verification ---- */

/* DER INTEGER of a 32-byte big-endian unsigned value: minimal, with a 0 byte before a high bit. */
static size_t der_uint32(const uint8_t *v, uint8_t *o)
{
	size_t i = 0;
	while (i < 31 && v[i] == 0)
		i++;
	size_t n = 32 - i, pad = (v[i] & 0x80) ? 1 : 0;
	o[0] = 0x02;
	o[1] = (uint8_t)(n + pad);
	o[2] = 0;
	memcpy(o + 2 + pad, v + i, n);
	return 2 + pad + n;
}

/* Raw r||s (JWS) to the DER Ecdsa-Sig-Value mbedTLS verifies: at most 72 bytes. */
static size_t ecdsa_raw_to_der(const uint8_t raw[ES256_SIG_LEN], uint8_t der[72])
{
	size_t n = der_uint32(raw, der + 2);
	n += der_uint32(raw + 32, der + 2 + n);
	der[0] = 0x30;
	der[1] = (uint8_t)n;
	return n + 2;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* The signature under one key, with the algorithm the key's type implies. */
static bool sig_ok(const struct jws_key *k, const uint8_t hash[32], const uint8_t *sig, size_t n,
                   char *r, size_t rcap)
{
	/* mbedtls_pk_verify takes a non-const context; verification does not change the key */
	mbedtls_pk_context *pk = (mbedtls_pk_context *)&k->pk;
	uint8_t der[72];
	size_t dl;

	if (k->alg == JWS_ES256) {
		if (n != ES256_SIG_LEN) {
			snprintf(r, rcap, "%zu bytes, ES256 needs %d (raw r||s)", n, ES256_SIG_LEN);
			return false;
		}
		if (all_zero(sig, 32) || all_zero(sig + 32, 32)) {
			snprintf(r, rcap, "%s is zero", all_zero(sig, 32) ? "r" : "s");
			return false;
		}
		dl = ecdsa_raw_to_der(sig, der);
		if (mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, 32, der, dl) != 0) {
			snprintf(r, rcap, "does not verify");
			return false;
		}
		return true;
	}
	if (n != mbedtls_pk_get_len(pk)) {
		snprintf(r, rcap, "%zu bytes, RS256 with this key needs %zu", n,
		         mbedtls_pk_get_len(pk));
		return false;
	}
	if (mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, 32, sig, n) != 0) {
		snprintf(r, rcap, "does not verify");
		return false;
	}
	return true;
}

/* The first key under which the signature verifies, or a reason naming each key's failure. */
static c2s_err find_key(const struct jws_key *const *keys, size_t nkeys, const uint8_t hash[32],
                        const struct seg *sig, const struct jws_key **by, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	char all[512] = "", one[96];
	size_t used = 0;

	for (size_t i = 0; i < nkeys; i++) {
		if (sig_ok(keys[i], hash, sig->d, sig->dn, one, sizeof(one))) {
			*by = keys[i];
			ret = C2S_OK;
			goto out;
		}
		if (used < sizeof(all)) {
			int w =
			    snprintf(all + used, sizeof(all) - used, "%s%s kid %.8s: %s",
			             i ? "; " : "", jws_alg_name(keys[i]->alg), keys[i]->kid, one);
			used += w > 0 ? (size_t)w : sizeof(all);
		}
	}
	if (nkeys == 1)
		WHY(C2S_ERR_MANIFEST, "signature: does not verify with the one key (%s)", all);
	WHY(C2S_ERR_MANIFEST, "signature: does not verify with any of the %zu keys (%s)", nkeys,
	    all);
out:
	return ret;
}

/* Whether v is a string of exactly the bytes of want. */
static bool str_is(const json_t *v, const char *want)
{
	size_t n = strlen(want);
	return json_is_string(v) && json_string_length(v) == n &&
	       memcmp(json_string_value(v), want, n) == 0;
}

static const char *show_str(const json_t *v, char buf[SHOW_SIZE])
{
	return show_n(json_string_value(v), json_string_length(v), buf, SHOW_SIZE);
}

/* Only after the signature verified: a JSON object of alg, typ and optionally kid. */
static c2s_err check_header(const struct seg *h, const struct jws_key *k, const char *typ,
                            char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	json_error_t jerr;
	json_t *hdr = NULL, *v;
	const char *key;
	char b[SHOW_SIZE], e[SHOW_SIZE * 2];

	if (c2s_json_parse(h->d, h->dn, JSON_REJECT_DUPLICATES, &hdr, &jerr) == C2S_ERR_NOMEM)
		WHY(C2S_ERR_NOMEM, "header: out of memory while reading it");
	if (hdr == NULL)
		WHY(C2S_ERR_MANIFEST, "header: not valid JSON (%s)",
		    show(jerr.text, strlen(jerr.text), e));
	if (!json_is_object(hdr))
		WHY(C2S_ERR_MANIFEST, "header: not a JSON object");
	json_object_foreach(hdr, key, v)
	{
		if (strcmp(key, "crit") == 0)
			WHY(C2S_ERR_MANIFEST, "header: crit is not supported");
		if (strcmp(key, "alg") != 0 && strcmp(key, "typ") != 0 && strcmp(key, "kid") != 0)
			WHY(C2S_ERR_MANIFEST, "header: \"%s\" is not allowed (only alg, typ, kid)",
			    show(key, strlen(key), b));
	}
	v = json_object_get(hdr, "alg");
	if (!json_is_string(v))
		WHY(C2S_ERR_MANIFEST, "header: alg is %s", v ? "not a string" : "missing");
	if (str_is(v, "none"))
		WHY(C2S_ERR_MANIFEST, "header: alg is none");
	if (!str_is(v, jws_alg_name(k->alg)))
		WHY(C2S_ERR_MANIFEST, "header: alg is %s, but the verifying key is %s",
		    show_str(v, b), jws_alg_name(k->alg));
	v = json_object_get(hdr, "typ");
	if (!json_is_string(v))
		WHY(C2S_ERR_MANIFEST, "header: typ is %s, expected \"%s\"",
		    v ? "not a string" : "missing", typ);
	if (!str_is(v, typ))
		WHY(C2S_ERR_MANIFEST, "header: typ is \"%s\", expected \"%s\"", show_str(v, b),
		    typ);
	v = json_object_get(hdr, "kid");
	if (v != NULL && !str_is(v, k->kid))
		WHY(C2S_ERR_MANIFEST, "header: kid \"%s\" is not the verifying key's (%s)",
		    json_is_string(v) ? show_str(v, b) : "(not a string)", k->kid);
	ret = C2S_OK;
out:
	json_decref(hdr);
	return ret;
}

static c2s_err parse_payload(const struct seg *p, json_t **claims, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	json_error_t jerr;
	json_t *j = NULL;
	char e[SHOW_SIZE * 2];

	if (c2s_json_parse(p->d, p->dn, JSON_REJECT_DUPLICATES, &j, &jerr) == C2S_ERR_NOMEM)
		WHY(C2S_ERR_NOMEM, "payload: out of memory while reading it");
	if (j == NULL)
		WHY(C2S_ERR_MANIFEST, "payload: not valid JSON (%s)",
		    show(jerr.text, strlen(jerr.text), e));
	if (!json_is_object(j))
		WHY(C2S_ERR_MANIFEST, "payload: not a JSON object");
	*claims = j;
	j = NULL;
	ret = C2S_OK;
out:
	json_decref(j);
	return ret;
}

/* Three non-empty segments separated by exactly two dots. */
static c2s_err split(const char *c, size_t len, struct seg sg[3], char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	size_t nseg = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && c[i] != '.')
			continue;
		if (nseg < 3) {
			sg[nseg].s = c + start;
			sg[nseg].n = i - start;
		}
		nseg++;
		start = i + 1;
	}
	if (nseg != 3)
		WHY(C2S_ERR_MANIFEST, "token: %zu segments, a compact JWS has 3", nseg);
	for (int i = 0; i < 3; i++)
		if (sg[i].n == 0)
			WHY(C2S_ERR_MANIFEST, "segment %d: empty", i + 1);
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err decode(struct seg *sg, int idx, const char *base, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	size_t bad = 0;
	const char *what = "";

	sg->d = malloc(sg->n / 4 * 3 + 3);
	if (sg->d == NULL)
		WHY(C2S_ERR_NOMEM, "segment %d: out of memory", idx);
	if (!b64url_decode(sg->s, sg->n, sg->d, &sg->dn, &bad, &what))
		WHY(C2S_ERR_MANIFEST, "segment %d: %s at offset %zu", idx, what,
		    (size_t)(sg->s - base) + bad);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err jws_verify(const char *compact, size_t len, const struct jws_key *const *keys, size_t nkeys,
                   const char *typ, json_t **claims, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	struct seg sg[3] = {{0}};
	const struct jws_key *by = NULL;
	uint8_t hash[32];

	if (claims != NULL)
		*claims = NULL;
	if (compact == NULL || keys == NULL || nkeys == 0 || typ == NULL || claims == NULL)
		WHY(C2S_ERR_ARG, "verify: token, keys, typ and claims are all needed");
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i] == NULL)
			WHY(C2S_ERR_ARG, "verify: key %zu is missing", i);
	if (len > JWS_MAX_LEN)
		WHY(C2S_ERR_TOO_BIG, "token: %zu bytes, more than %d", len, JWS_MAX_LEN);
	if (len == 0)
		WHY(C2S_ERR_MANIFEST, "token: empty");
	GUARD(split(compact, len, sg, why, why_cap));
	for (int i = 0; i < 3; i++)
		GUARD(decode(&sg[i], i + 1, compact, why, why_cap));
	/* the signing input is the ASCII text up to the second dot */
	GUARD(sha256(compact, (size_t)(sg[1].s + sg[1].n - compact), hash));
	GUARD(find_key(keys, nkeys, hash, &sg[2], &by, why, why_cap));
	GUARD(check_header(&sg[0], by, typ, why, why_cap));
	GUARD(parse_payload(&sg[1], claims, why, why_cap));
	ret = C2S_OK;
out:
	for (int i = 0; i < 3; i++)
		free(sg[i].d);
	return ret;
}

c2s_err jws_peek_claims(const char *compact, size_t len, json_t **claims, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	struct seg sg[3] = {{0}};
	if (claims != NULL)
		*claims = NULL;
	if (compact == NULL || claims == NULL)
		WHY(C2S_ERR_ARG, "peek: token and claims are needed");
	if (len > JWS_MAX_LEN)
		WHY(C2S_ERR_TOO_BIG, "token: %zu bytes, more than %d", len, JWS_MAX_LEN);
	GUARD(split(compact, len, sg, why, why_cap));
	GUARD(decode(&sg[1], 2, compact, why, why_cap));
	GUARD(parse_payload(&sg[1], claims, why, why_cap));
	ret = C2S_OK;
out:
	free(sg[1].d);
	return ret;
}

/* ---- claims ---- */

static const char *rfc3339(int64_t t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%lld", (long long)t);
	return buf;
}

/* An integer time in 0..TIME_MAX; *present false when absent and not required. */
static c2s_err claim_time(const json_t *c, const char *name, bool required, int64_t *t,
                          bool *present, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	const json_t *v = json_object_get(c, name);

	*present = v != NULL;
	if (v == NULL && !required) {
		ret = C2S_OK;
		goto out;
	}
	if (v == NULL)
		WHY(C2S_ERR_MANIFEST, "claim %s: missing", name);
	if (!json_is_integer(v))
		WHY(C2S_ERR_MANIFEST, "claim %s: not an integer number of seconds", name);
	if (json_integer_value(v) < 0 || json_integer_value(v) > TIME_MAX)
		WHY(C2S_ERR_MANIFEST, "claim %s: %lld is not a time between 1970 and 9999", name,
		    (long long)json_integer_value(v));
	*t = json_integer_value(v);
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_aud(const json_t *v, const char *aud, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	char b[SHOW_SIZE];
	size_t i;
	const json_t *x;

	if (v == NULL)
		WHY(C2S_ERR_MANIFEST, "claim aud: missing");
	if (json_is_string(v) && !str_is(v, aud))
		WHY(C2S_ERR_MANIFEST, "claim aud: \"%s\" is not this appliance (%s)",
		    show_str(v, b), aud);
	if (!json_is_string(v) && !json_is_array(v))
		WHY(C2S_ERR_MANIFEST, "claim aud: neither a string nor an array of strings");
	if (json_is_array(v)) {
		bool found = false;
		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x))
				WHY(C2S_ERR_MANIFEST, "claim aud: element %zu is not a string", i);
			found = found || str_is(x, aud);
		}
		if (!found)
			WHY(C2S_ERR_MANIFEST, "claim aud: this appliance (%s) is not among the %zu",
			    aud, json_array_size(v));
	}
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_jti(const json_t *v, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	const char *s;
	size_t n;

	if (v == NULL)
		WHY(C2S_ERR_MANIFEST, "claim jti: missing");
	if (!json_is_string(v))
		WHY(C2S_ERR_MANIFEST, "claim jti: not a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < JTI_MIN || n > JTI_MAX)
		WHY(C2S_ERR_MANIFEST, "claim jti: %zu characters, need %d to %d", n, JTI_MIN,
		    JTI_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '~' || c == '-'))
			WHY(C2S_ERR_MANIFEST,
			    "claim jti: character %zu is not one of A-Z a-z 0-9 . _ ~ -", i);
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err jws_claims_check(const json_t *claims, const struct jws_expect *e, char *why,
                         size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	const json_t *iss;
	int64_t iat = 0, exp = 0, nbf = 0;
	bool present = false, has_nbf = false;
	char t1[32], t2[32];

	if (claims == NULL || e == NULL || e->aud == NULL || e->aud[0] == '\0' || e->now < 0 ||
	    e->now > TIME_MAX || e->max_lifetime <= 0 || e->max_lifetime > 366 * 86400 ||
	    e->leeway < 0 || e->leeway > 86400)
		WHY(C2S_ERR_ARG, "claims: bad expectation (aud, now, max_lifetime or leeway)");
	if (!json_is_object(claims))
		WHY(C2S_ERR_MANIFEST, "claims: not a JSON object");
	iss = json_object_get(claims, "iss");
	if (!json_is_string(iss) || json_string_length(iss) == 0)
		WHY(C2S_ERR_MANIFEST, "claim iss: %s", iss ? "not a non-empty string" : "missing");
	GUARD(check_aud(json_object_get(claims, "aud"), e->aud, why, why_cap));
	GUARD(check_jti(json_object_get(claims, "jti"), why, why_cap));
	GUARD(claim_time(claims, "iat", true, &iat, &present, why, why_cap));
	GUARD(claim_time(claims, "exp", true, &exp, &present, why, why_cap));
	GUARD(claim_time(claims, "nbf", false, &nbf, &has_nbf, why, why_cap));
	ret = C2S_ERR_MANIFEST;
	if (iat > e->now + e->leeway)
		WHY(C2S_ERR_MANIFEST, "claim iat: %s is in the future (now %s)", rfc3339(iat, t1),
		    rfc3339(e->now, t2));
	if (has_nbf && nbf > e->now + e->leeway)
		WHY(C2S_ERR_MANIFEST, "claim nbf: not valid before %s (now %s)", rfc3339(nbf, t1),
		    rfc3339(e->now, t2));
	if (exp <= iat)
		WHY(C2S_ERR_MANIFEST, "claim exp: %s is not after iat %s", rfc3339(exp, t1),
		    rfc3339(iat, t2));
	if (exp - iat > e->max_lifetime)
		WHY(C2S_ERR_MANIFEST, "claim exp: lifetime %lld s is more than %lld s",
		    (long long)(exp - iat), (long long)e->max_lifetime);
	if (e->now - e->leeway >= exp)
		WHY(C2S_ERR_MANIFEST_EXPIRED, "claim exp: expired at %s (now %s)", rfc3339(exp, t1),
		    rfc3339(e->now, t2));
	ret = C2S_OK;
out:
	return ret;
}

/* ---- signing ---- */

static c2s_err sig_shape(enum jws_alg alg, const uint8_t *sig, size_t n, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;

	if (alg == JWS_ES256 && n != ES256_SIG_LEN)
		WHY(C2S_ERR_INTERNAL, "sign: the signer returned %zu bytes, ES256 needs %d (r||s)",
		    n, ES256_SIG_LEN);
	if (alg == JWS_ES256 && (all_zero(sig, 32) || all_zero(sig + 32, 32)))
		WHY(C2S_ERR_INTERNAL, "sign: the signer returned r or s zero");
	if (alg == JWS_RS256 && (n < RSA_MIN_BITS / 8 || n > RSA_MAX_BITS / 8))
		WHY(C2S_ERR_INTERNAL, "sign: the signer returned %zu bytes, RS256 needs %d to %d",
		    n, RSA_MIN_BITS / 8, RSA_MAX_BITS / 8);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err jws_sign(enum jws_alg alg, const char *typ, const json_t *claims, jws_sign_cb cb, void *ctx,
                 char **out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	json_t *hdr = NULL;
	char *hj = NULL, *pj = NULL, *tok = NULL;
	uint8_t hash[32], sig[JWS_SIG_MAX];
	size_t hl, pl, sl = sizeof(sig), in_len, total;

	if (out != NULL)
		*out = NULL;
	if ((alg != JWS_ES256 && alg != JWS_RS256) || typ == NULL || typ[0] == '\0' ||
	    !json_is_object(claims) || cb == NULL || out == NULL)
		WHY(C2S_ERR_ARG, "sign: need ES256 or RS256, a typ, an object of claims, a signer");
	c2s_json_watch();
	hdr = json_pack("{s:s, s:s}", "alg", jws_alg_name(alg), "typ", typ);
	if (hdr == NULL && c2s_json_oom())
		WHY(C2S_ERR_NOMEM, "sign: out of memory");
	if (hdr == NULL)
		WHY(C2S_ERR_ARG, "sign: typ is not valid UTF-8");
	hj = c2s_json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	pj = c2s_json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (hj == NULL || pj == NULL)
		WHY(C2S_ERR_NOMEM, "sign: out of memory");
	hl = b64url_len(strlen(hj));
	pl = b64url_len(strlen(pj));
	in_len = hl + 1 + pl;
	/* refuse before the key is used: the longest signature the algorithm may give */
	total = in_len + 1 + b64url_len(alg == JWS_ES256 ? ES256_SIG_LEN : RSA_MAX_BITS / 8);
	if (strlen(pj) > JWS_MAX_LEN || total > JWS_MAX_LEN)
		WHY(C2S_ERR_TOO_BIG, "sign: the token would be over %d bytes", JWS_MAX_LEN);
	tok = malloc(total + 1);
	if (tok == NULL)
		WHY(C2S_ERR_NOMEM, "sign: out of memory");
	b64url_encode((const uint8_t *)hj, strlen(hj), tok);
	tok[hl] = '.';
	b64url_encode((const uint8_t *)pj, strlen(pj), tok + hl + 1);
	GUARD(sha256(tok, in_len, hash));
	ret = cb(ctx, hash, sig, &sl);
	if (ret != C2S_OK)
		WHY(ret, "sign: the signer failed (%s)", c2s_err_name(ret));
	if (sl > sizeof(sig))
		WHY(C2S_ERR_INTERNAL, "sign: the signer returned more than it was given room for");
	GUARD(sig_shape(alg, sig, sl, why, why_cap));
	tok[in_len] = '.';
	b64url_encode(sig, sl, tok + in_len + 1);
	tok[in_len + 1 + b64url_len(sl)] = '\0';
	*out = tok;
	tok = NULL;
	ret = C2S_OK;
out:
	free(tok);
	free(pj);
	free(hj);
	json_decref(hdr);
	return ret;
}

/* The portal's keys are the trust root of signed manifests: only root (click2sign-admin) or the
 * reading process's own user may have written them, and nobody else may write them now. */
static int jws_key_file_trusted(const struct stat *st, const char *path)
{
	if ((st->st_uid != 0 && st->st_uid != geteuid()) || (st->st_mode & 022)) {
		log_error(
		    "portal key %s ignored: owned by uid %u with mode %04o; it must be root's "
		    "(click2sign-admin portal-key add) and writable by no one else",
		    path, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
		return 0;
	}
	return 1;
}

size_t jws_keys_from_dir(const char *dir, struct jws_key **keys, size_t max)
{
	struct dirent **names = NULL;
	struct stat st;
	int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (dfd < 0 || fstat(dfd, &st) != 0 || !jws_key_file_trusted(&st, dir)) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	int n = scandir(dir, &names, NULL, alphasort);
	size_t got = 0;
	for (int i = 0; i < n; i++) {
		const char *f = names[i]->d_name;
		size_t fl = strlen(f);
		if (f[0] != '.' && fl > 4 && strcmp(f + fl - 4, ".pem") == 0 && got < max) {
			char path[4400], why[256] = "";
			uint8_t pem[16384];
			snprintf(path, sizeof(path), "%s/%s", dir, f);
			int fd = openat(dfd, f, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			FILE *fp = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			                   jws_key_file_trusted(&st, path)
			               ? fdopen(fd, "rb")
			               : NULL;
			if (!fp && fd >= 0)
				close(fd);
			size_t len = fp ? fread(pem, 1, sizeof(pem) - 1, fp) : 0;
			if (fp)
				fclose(fp);
			pem[len] = 0;
			if (!fp) {
				free(names[i]);
				continue;
			}
			if (jws_key_from_pem(pem, len + 1, &keys[got], why, sizeof(why)) ==
			    C2S_OK) {
				log_info("portal key %s (%s) from %s", jws_key_kid(keys[got]),
				         jws_alg_name(jws_key_alg(keys[got])), f);
				got++;
			} else {
				log_error("portal key %s refused: %s", path, why);
			}
		}
		free(names[i]);
	}
	free(names);
	close(dfd);
	return got;
}
