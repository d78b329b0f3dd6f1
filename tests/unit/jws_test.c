/* jws: keys (allowed types, kid), jws_verify against tokens made independently with openssl
 * and python3 (interop), every refusal with its code and reason, jws_sign checked by both
 * jws_verify and `openssl dgst -verify`, and jws_claims_check at its boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_shell.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "firmware/certs/jws.h"

#define TYP_ORDER "c2s-order+jwt"
#define AUD       "https://appliance.example"
#define NOW       1767225600LL /* 2026-01-01T00:00:00Z */

/* Makes a token from exact header and payload bytes with openssl; `mode` shapes the signature:
 * raw (JWS r||s for EC, PKCS#1 for RSA), der (EC signature left in DER), short, long, zero-r. */
static const char mktok_py[] =
    "import base64, subprocess, sys\n"
    "def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()\n"
    "kind, key, hf, pf, mode, out = sys.argv[1:7]\n"
    "inp = (b64(open(hf, 'rb').read()) + '.' + b64(open(pf, 'rb').read())).encode()\n"
    "sig = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', key], input=inp,\n"
    "                     stdout=subprocess.PIPE, check=True).stdout\n"
    "if kind == 'ec' and mode != 'der':\n"
    "    assert sig[0] == 0x30 and sig[1] < 0x80\n"
    "    i, raw = 2, b''\n"
    "    for _ in range(2):\n"
    "        assert sig[i] == 0x02\n"
    "        n = sig[i + 1]\n"
    "        raw += sig[i + 2:i + 2 + n].lstrip(b'\\0').rjust(32, b'\\0')\n"
    "        i += 2 + n\n"
    "    sig = raw\n"
    "if mode == 'short': sig = sig[:-1]\n"
    "if mode == 'long': sig = sig + b'\\1'\n"
    "if mode == 'zero-r': sig = bytes(32) + sig[32:]\n"
    "open(out, 'w').write(inp.decode() + '.' + b64(sig))\n";

/* Verifies a token with openssl alone (raw r||s turned back into DER for EC). */
static const char vertok_py[] =
    "import base64, subprocess, sys\n"
    "kind, pub, tf = sys.argv[1:4]\n"
    "h, p, s = open(tf).read().split('.')\n"
    "sig = base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))\n"
    "if kind == 'ec':\n"
    "    assert len(sig) == 64\n"
    "    def i(v):\n"
    "        v = v.lstrip(b'\\0') or b'\\0'\n"
    "        if v[0] & 0x80: v = b'\\0' + v\n"
    "        return b'\\2' + bytes([len(v)]) + v\n"
    "    body = i(sig[:32]) + i(sig[32:])\n"
    "    sig = b'\\x30' + bytes([len(body)]) + body\n"
    "open(tf + '.sig', 'wb').write(sig)\n"
    "r = subprocess.run(['openssl', 'dgst', '-sha256', '-verify', pub, '-signature',\n"
    "                    tf + '.sig'], input=(h + '.' + p).encode(), stdout=subprocess.DEVNULL)\n"
    "sys.exit(r.returncode)\n";

static char g_dir[64];
static struct jws_key *g_ec, *g_ec2, *g_rsa;
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Whole file, NUL-terminated; *len without the NUL. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *p = malloc(65536);
	assert_non_null(p);
	size_t n = fread(p, 1, 65535, f);
	fclose(f);
	p[n] = '\0';
	if (len)
		*len = n;
	return p;
}

static c2s_err load_key(const char *name, struct jws_key **k, char *why, size_t cap)
{
	char path[128];
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	char *pem = read_file(path, &n);
	c2s_err e = jws_key_from_pem((const uint8_t *)pem, n, k, why, cap);
	free(pem);
	return e;
}

static int group_setup(void **state)
{
	(void)state;
	char why[256];
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-jws-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	if (run("cd %s && set -e; exec 2>/dev/null\n"
	        "for k in ec ec2 p384; do\n"
	        "  c=P-256; [ $k = p384 ] && c=P-384\n"
	        "  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$c -out $k.pem; done\n"
	        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem\n"
	        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem\n"
	        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa4096.pem\n"
	        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4104 -out rsa4104.pem\n"
	        "openssl genpkey -algorithm ED25519 -out ed25519.pem\n"
	        "for k in ec ec2 p384 rsa rsa1024 rsa4096 rsa4104 ed25519; do\n"
	        "  openssl pkey -in $k.pem -pubout -out $k.pub\n"
	        "  openssl pkey -pubin -in $k.pub -outform DER | sha256sum | cut -c1-64 | "
	        "tr -d '\\n' > $k.kid; done\n"
	        "openssl req -x509 -new -key ec.pem -subj /CN=portal -days 30 -out ec.crt\n"
	        "openssl req -x509 -new -key rsa.pem -subj /CN=portal -days 30 -out rsa.crt\n"
	        "cat ec.crt rsa.crt > two.crt\n",
	        g_dir) != 0)
		return -1;
	char path[128];
	snprintf(path, sizeof(path), "%s/mktok.py", g_dir);
	write_file(path, mktok_py, strlen(mktok_py));
	snprintf(path, sizeof(path), "%s/vertok.py", g_dir);
	write_file(path, vertok_py, strlen(vertok_py));
	if (load_key("ec.pub", &g_ec, why, sizeof(why)) != C2S_OK ||
	    load_key("ec2.pub", &g_ec2, why, sizeof(why)) != C2S_OK ||
	    load_key("rsa.pub", &g_rsa, why, sizeof(why)) != C2S_OK)
		return -1;
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	return mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy,
	                             (const unsigned char *)"jws_test", 8);
}

static int group_teardown(void **state)
{
	(void)state;
	jws_key_free(g_ec);
	jws_key_free(g_ec2);
	jws_key_free(g_rsa);
	mbedtls_ctr_drbg_free(&g_drbg);
	mbedtls_entropy_free(&g_entropy);
	return run("rm -rf %s", g_dir);
}

static const char good_payload[] =
    "{\"iss\":\"https://portal.example\",\"aud\":\"" AUD "\",\"iat\":1767225590,\"exp\":1767225890,"
    "\"jti\":\"order-0001-abcdefgh\",\"reference\":\"A1-1\"}";

/* A token over exact header and payload bytes, signed by openssl with <key>.pem. */
static char *tok_make(const char *kind, const char *key, const char *hdr, const char *payload,
                      const char *mode)
{
	char hp[128], pp[128], tp[128];
	snprintf(hp, sizeof(hp), "%s/h.json", g_dir);
	snprintf(pp, sizeof(pp), "%s/p.json", g_dir);
	snprintf(tp, sizeof(tp), "%s/tok", g_dir);
	write_file(hp, hdr, strlen(hdr));
	write_file(pp, payload, strlen(payload));
	assert_int_equal(run("python3 %s/mktok.py %s %s/%s.pem %s %s %s %s", g_dir, kind, g_dir,
	                     key, hp, pp, mode, tp),
	                 0);
	return read_file(tp, NULL);
}

static c2s_err verify2(const char *tok, size_t len, const struct jws_key *k1,
                       const struct jws_key *k2, json_t **claims, char *why, size_t cap)
{
	const struct jws_key *keys[2] = {k1, k2};
	return jws_verify(tok, len, keys, k2 ? 2 : 1, TYP_ORDER, claims, why, cap);
}

/* Expects a refusal with `code` whose reason contains `part`; claims stay NULL. */
static void refused(const char *tok, size_t len, const struct jws_key *k1, const struct jws_key *k2,
                    c2s_err code, const char *part)
{
	char why[512] = "";
	json_t *claims = (json_t *)1;
	c2s_err e = verify2(tok, len, k1, k2, &claims, why, sizeof(why));
	if (e != code || strstr(why, part) == NULL)
		print_error("token %.60s...: got %s \"%s\", expected %s \"%s\"\n", tok,
		            c2s_err_name(e), why, c2s_err_name(code), part);
	assert_int_equal(e, code);
	assert_non_null(strstr(why, part));
	assert_null(claims);
}

static void accepted(const char *tok, const struct jws_key *k1, const struct jws_key *k2)
{
	char why[512] = "";
	json_t *claims = NULL;
	c2s_err e = verify2(tok, strlen(tok), k1, k2, &claims, why, sizeof(why));
	if (e != C2S_OK)
		print_error("token refused: %s\n", why);
	assert_int_equal(e, C2S_OK);
	json_t *want = json_loads(good_payload, 0, NULL);
	assert_true(json_equal(claims, want));
	json_decref(want);
	json_decref(claims);
}

static char *kid_of(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s.kid", g_dir, name);
	return read_file(path, NULL);
}

/* ---- keys ---- */

static void test_key_accepted(void **state)
{
	(void)state;
	char why[256] = "";
	struct jws_key *k = NULL;
	char *kid;

	kid = kid_of("ec");
	assert_int_equal(jws_key_alg(g_ec), JWS_ES256);
	assert_string_equal(jws_key_kid(g_ec), kid); /* SHA-256 of the SPKI DER, as openssl says */
	assert_string_not_equal(jws_key_kid(g_ec2), kid);
	/* the certificate carries the same key and so the same kid */
	assert_int_equal(load_key("ec.crt", &k, why, sizeof(why)), C2S_OK);
	assert_int_equal(jws_key_alg(k), JWS_ES256);
	assert_string_equal(jws_key_kid(k), kid);
	jws_key_free(k);
	free(kid);

	kid = kid_of("rsa");
	assert_int_equal(jws_key_alg(g_rsa), JWS_RS256);
	assert_string_equal(jws_key_kid(g_rsa), kid);
	assert_int_equal(load_key("rsa.crt", &k, why, sizeof(why)), C2S_OK);
	assert_string_equal(jws_key_kid(k), kid);
	jws_key_free(k);
	free(kid);

	kid = kid_of("rsa4096");
	assert_int_equal(load_key("rsa4096.pub", &k, why, sizeof(why)), C2S_OK);
	assert_int_equal(jws_key_alg(k), JWS_RS256);
	assert_string_equal(jws_key_kid(k), kid);
	jws_key_free(k);
	free(kid);
}

/* The portal's keys are the trust root of manifests: a directory or file that someone other
 * than root (or this process's user) owns, or that group or others may write, is ignored. */
static void test_keys_from_dir_owner(void **state)
{
	(void)state;
	struct jws_key *keys[4] = {0};
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/pk", g_dir);
	assert_int_equal(
	    run("set -e; mkdir -m 755 %s; cp %s/ec.pub %s/a.pem; cp %s/rsa.pub %s/b.pem;"
	        "chmod 644 %s/a.pem %s/b.pem",
	        dir, g_dir, dir, g_dir, dir, dir, dir),
	    0);
	size_t n = jws_keys_from_dir(dir, keys, 4);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		jws_key_free(keys[i]);
	/* a file others may write: ignored, the other still read */
	assert_int_equal(run("chmod 666 %s/b.pem", dir), 0);
	n = jws_keys_from_dir(dir, keys, 4);
	assert_int_equal(n, 1);
	assert_string_equal(jws_key_kid(keys[0]), jws_key_kid(g_ec));
	jws_key_free(keys[0]);
	assert_int_equal(run("chmod 644 %s/b.pem", dir), 0);
	/* a group-writable directory: nothing from it */
	assert_int_equal(run("chmod 775 %s", dir), 0);
	assert_int_equal(jws_keys_from_dir(dir, keys, 4), 0);
	assert_int_equal(run("chmod 755 %s", dir), 0);
	if (geteuid() == 0) {
		/* a file another user owns (c2s-web planting a key): ignored */
		assert_int_equal(run("chown 65534 %s/a.pem", dir), 0);
		n = jws_keys_from_dir(dir, keys, 4);
		assert_int_equal(n, 1);
		assert_string_equal(jws_key_kid(keys[0]), jws_key_kid(g_rsa));
		jws_key_free(keys[0]);
		assert_int_equal(run("chown 65534 %s; chown 0 %s/a.pem", dir, dir), 0);
		assert_int_equal(jws_keys_from_dir(dir, keys, 4), 0);
	}
	/* a link in place of the directory is not followed */
	assert_int_equal(run("ln -s %s %s-link", dir, dir), 0);
	char link[200];
	snprintf(link, sizeof(link), "%s-link", dir);
	assert_int_equal(jws_keys_from_dir(link, keys, 4), 0);
}

static void test_key_refused(void **state)
{
	(void)state;
	static const struct {
		const char *file, *part;
	} cases[] = {
	    {"rsa1024.pub", "RSA with 1024 bits is refused"},
	    {"rsa4104.pub", "RSA with 4104 bits is refused"},
	    {"p384.pub", "EC curve secp384r1 is refused"},
	    {"ed25519.pub", "type is not supported"},
	    {"ec.pem", "not a PEM public key or certificate"}, /* a private key */
	    {"two.crt", "more than one certificate"},
	    {"mktok.py", "not a PEM public key or certificate"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256] = "";
		struct jws_key *k = (struct jws_key *)1;
		c2s_err e = load_key(cases[i].file, &k, why, sizeof(why));
		if (e != C2S_ERR_ARG || !strstr(why, cases[i].part))
			print_error("%s: %s \"%s\"\n", cases[i].file, c2s_err_name(e), why);
		assert_int_equal(e, C2S_ERR_ARG);
		assert_non_null(strstr(why, cases[i].part));
		assert_null(k);
	}
	char why[64];
	struct jws_key *k = NULL;
	assert_int_equal(jws_key_from_pem((const uint8_t *)"", 0, &k, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_null(k);
}

/* ---- verify: interop with tokens made by openssl ---- */

static void test_verify_interop(void **state)
{
	(void)state;
	char *t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"" TYP_ORDER "\"}",
	                   good_payload, "raw");
	accepted(t, g_ec, NULL);
	accepted(t, g_rsa, g_ec); /* the right key second */
	accepted(t, g_ec2, g_ec); /* another key of the same type first */
	free(t);

	t = tok_make("rsa", "rsa", "{\"typ\":\"" TYP_ORDER "\",\"alg\":\"RS256\"}", good_payload,
	             "raw");
	accepted(t, g_rsa, NULL);
	accepted(t, g_ec, g_rsa);
	free(t);

	/* the header may name the key by its kid; whitespace inside the JSON is fine */
	char hdr[256], *kid = kid_of("ec");
	snprintf(hdr, sizeof(hdr), "{ \"alg\": \"ES256\", \"kid\": \"%s\", \"typ\": \"%s\" }", kid,
	         TYP_ORDER);
	t = tok_make("ec", "ec", hdr, good_payload, "raw");
	accepted(t, g_ec2, g_ec);
	free(t);
	free(kid);

	/* the same token verified for another typ is refused: typ is part of the contract */
	t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", good_payload, "raw");
	refused(t, strlen(t), g_ec, NULL, C2S_ERR_MANIFEST,
	        "header: typ is \"JWT\", expected \"c2s-order+jwt\"");
	const struct jws_key *keys[1] = {g_ec};
	json_t *claims = NULL;
	char why[256];
	assert_int_equal(jws_verify(t, strlen(t), keys, 1, "JWT", &claims, why, sizeof(why)),
	                 C2S_OK);
	assert_true(json_is_object(claims));
	json_decref(claims);
	free(t);
}

static void test_verify_signature_refused(void **state)
{
	(void)state;
	char *t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"" TYP_ORDER "\"}",
	                   good_payload, "raw");
	size_t n = strlen(t), dot1 = strcspn(t, "."), dot2 = dot1 + 1 + strcspn(t + dot1 + 1, ".");

	refused(t, n, g_ec2, NULL, C2S_ERR_MANIFEST,
	        "signature: does not verify with the one key (ES256 kid");
	refused(t, n, g_ec2, g_rsa, C2S_ERR_MANIFEST,
	        "signature: does not verify with any of the 2 keys");
	refused(t, n, g_ec2, g_rsa, C2S_ERR_MANIFEST, "RS256 with this key needs 256");

	/* one character changed in each segment (staying in the alphabet) */
	size_t at[3] = {5, dot1 + 7, dot2 + 9};
	for (int i = 0; i < 3; i++) {
		char *m = strdup(t);
		m[at[i]] = m[at[i]] == 'A' ? 'B' : 'A';
		refused(m, n, g_ec, NULL, C2S_ERR_MANIFEST, "signature: does not verify");
		free(m);
	}
	free(t);

	t = tok_make("rsa", "rsa", "{\"alg\":\"RS256\",\"typ\":\"" TYP_ORDER "\"}", good_payload,
	             "raw");
	char *m = strdup(t);
	m[strlen(m) - 10] = m[strlen(m) - 10] == 'A' ? 'B' : 'A';
	refused(m, strlen(m), g_rsa, NULL, C2S_ERR_MANIFEST, "signature: does not verify");
	refused(t, strlen(t), g_ec, NULL, C2S_ERR_MANIFEST, "256 bytes, ES256 needs 64");
	free(m);
	free(t);
}

static void test_verify_es256_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *mode, *part;
	} cases[] = {
	    {"short", "63 bytes, ES256 needs 64 (raw r||s)"},
	    {"long", "65 bytes, ES256 needs 64"},
	    {"der", "ES256 needs 64"},
	    {"zero-r", "r is zero"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"" TYP_ORDER "\"}",
		                   good_payload, cases[i].mode);
		refused(t, strlen(t), g_ec, NULL, C2S_ERR_MANIFEST, cases[i].part);
		free(t);
	}
}

/* ---- verify: the header and payload, only read once the signature verified ---- */

static void test_verify_header_refused(void **state)
{
	(void)state;
	char hdr_kid[256], *kid = kid_of("ec");
	snprintf(hdr_kid, sizeof(hdr_kid), "{\"alg\":\"ES256\",\"typ\":\"%s\",\"kid\":\"%s\"}",
	         TYP_ORDER, kid);
	hdr_kid[strlen(hdr_kid) - 3] ^= 1; /* one hex digit of the kid changed */
	static const char *T = "\"typ\":\"" TYP_ORDER "\"";
	char h[32][160];
	int n = 0;
	struct {
		const char *kind, *part;
	} c[32];
#define CASE(k, p, ...)                                                                            \
	do {                                                                                       \
		snprintf(h[n], sizeof(h[n]), __VA_ARGS__);                                         \
		c[n].kind = k;                                                                     \
		c[n].part = p;                                                                     \
		n++;                                                                               \
	} while (0)
	CASE("ec", "header: alg is none", "{\"alg\":\"none\",%s}", T);
	CASE("rsa", "header: alg is none", "{\"alg\":\"none\",%s}", T);
	CASE("rsa", "header: alg is HS256, but the verifying key is RS256",
	     "{\"alg\":\"HS256\",%s}", T);
	CASE("rsa", "header: alg is ES256, but the verifying key is RS256",
	     "{\"alg\":\"ES256\",%s}", T);
	CASE("ec", "header: alg is RS256, but the verifying key is ES256", "{\"alg\":\"RS256\",%s}",
	     T);
	CASE("ec", "header: alg is es256", "{\"alg\":\"es256\",%s}", T);
	CASE("ec", "header: alg is missing", "{%s}", T);
	CASE("ec", "header: alg is not a string", "{\"alg\":1,%s}", T);
	CASE("ec", "header: typ is missing", "{\"alg\":\"ES256\"}");
	CASE("ec", "header: typ is \"JWT\"", "{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
	CASE("ec", "header: typ is \"C2S-ORDER+JWT\"",
	     "{\"alg\":\"ES256\",\"typ\":\"C2S-ORDER+JWT\"}");
	CASE("ec", "header: typ is not a string", "{\"alg\":\"ES256\",\"typ\":[]}");
	CASE("ec", "header: \"jku\" is not allowed", "{\"alg\":\"ES256\",%s,\"jku\":\"https://x\"}",
	     T);
	CASE("ec", "header: \"x5c\" is not allowed", "{\"alg\":\"ES256\",%s,\"x5c\":[]}", T);
	CASE("ec", "header: crit is not supported", "{\"alg\":\"ES256\",%s,\"crit\":[\"exp\"]}", T);
	CASE("ec", "header: not valid JSON (duplicate object key",
	     "{\"alg\":\"ES256\",%s,\"alg\":\"ES256\"}", T);
	CASE("rsa", "header: not valid JSON (duplicate object key",
	     "{\"alg\":\"RS256\",%s,\"al\\u0067\":\"none\"}", T);
	CASE("ec", "header: not a JSON object", "[\"ES256\"]");
	CASE("ec", "header: not valid JSON", "{\"alg\":\"ES256\",%s", T);
	CASE("ec", "header: not valid JSON", "{\"alg\":\"ES256\",%s} x", T);
	CASE("ec", "header: kid \"abc\" is not the verifying key's",
	     "{\"alg\":\"ES256\",%s,\"kid\":\"abc\"}", T);
	CASE("ec", "header: kid \"(not a string)\"", "{\"alg\":\"ES256\",%s,\"kid\":7}", T);
	CASE("ec", "is not the verifying key's", "%s", hdr_kid);
#undef CASE
	for (int i = 0; i < n; i++) {
		char *t = tok_make(c[i].kind, c[i].kind, h[i], good_payload, "raw");
		refused(t, strlen(t), strcmp(c[i].kind, "ec") ? g_rsa : g_ec, NULL,
		        C2S_ERR_MANIFEST, c[i].part);
		free(t);
	}
	free(kid);
}

static void test_verify_payload_refused(void **state)
{
	(void)state;
	static const struct {
		const char *payload, *part;
	} cases[] = {
	    {"{\"iss\":\"a\",\"aud\":\"b\",\"iss\":\"c\"}", "payload: not valid JSON (duplicate"},
	    {"[{\"iss\":\"a\"}]", "payload: not a JSON object"},
	    {"\"iss\"", "payload: not valid JSON"},
	    {"{\"iss\":\"a\"", "payload: not valid JSON"},
	    {"{\"iss\":\"a\\u0000b\"}", "payload: not valid JSON"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"" TYP_ORDER "\"}",
		                   cases[i].payload, "raw");
		refused(t, strlen(t), g_ec, NULL, C2S_ERR_MANIFEST, cases[i].part);
		free(t);
	}
}

/* ---- verify: the compact form and strict base64url, before any key is used ---- */

static void test_verify_form_refused(void **state)
{
	(void)state;
	char *t = tok_make("ec", "ec", "{\"alg\":\"ES256\",\"typ\":\"" TYP_ORDER "\"}",
	                   good_payload, "raw");
	size_t n = strlen(t), dot1 = strcspn(t, "."), dot2 = dot1 + 1 + strcspn(t + dot1 + 1, ".");
	char m[JWS_MAX_LEN + 2], want[96];

	/* the ES256 signature is 86 characters: its last one carries 4 unused bits */
	assert_int_equal(n - dot2 - 1, 86);

	/* a character inserted at `at`, and the expected reason */
#define INSERT(at, s, reason)                                                                      \
	do {                                                                                       \
		snprintf(m, sizeof(m), "%.*s%s%s", (int)(at), t, s, t + (at));                     \
		refused(m, strlen(m), g_ec, NULL, C2S_ERR_MANIFEST, reason);                       \
	} while (0)
	snprintf(want, sizeof(want), "segment 3: padding '=' is not allowed at offset %zu", n);
	INSERT(n, "==", want);
	snprintf(want, sizeof(want), "segment 1: padding '=' is not allowed at offset %zu", dot1);
	INSERT(dot1, "=", want);
	snprintf(want, sizeof(want), "segment 2: whitespace at offset %zu", dot1 + 4);
	INSERT(dot1 + 4, " ", want);
	INSERT(dot1 + 4, "\n", want);
	INSERT(n, "\n", "segment 3: whitespace at offset");
	snprintf(want, sizeof(want), "segment 2: base64 (not base64url) character at offset %zu",
	         dot1 + 6);
	INSERT(dot1 + 6, "+", want);
	INSERT(dot1 + 6, "/", "segment 2: base64 (not base64url) character");
	INSERT(dot1 + 6, "*", "segment 2: not base64url at offset");
	INSERT(3, "\x80", "segment 1: not base64url at offset 3");
	INSERT(3, "%", "segment 1: not base64url at offset 3");
	/* a NUL inside the counted length */
	memcpy(m, t, n);
	m[7] = '\0';
	refused(m, n, g_ec, NULL, C2S_ERR_MANIFEST, "segment 1: not base64url at offset 7");
	/* characters added until the payload's length is 1 mod 4 */
	{
		size_t plen = dot2 - dot1 - 1, k = (5 - plen % 4) % 4;
		assert_int_not_equal(plen % 4, 1);
		snprintf(want, sizeof(want),
		         "segment 2: truncated base64url (length is 1 mod 4) at offset %zu",
		         dot2 + k - 1);
		INSERT(dot2, &"AAA"[3 - k], want);
	}

	/* unused trailing bits set: same bytes, another spelling */
	snprintf(m, sizeof(m), "%s", t);
	assert_int_equal(strchr("AQgw", m[n - 1]) != NULL, 1); /* value a multiple of 16 */
	m[n - 1] = m[n - 1] == 'A' ? 'B' : m[n - 1] == 'Q' ? 'R' : m[n - 1] == 'g' ? 'h' : 'x';
	snprintf(want, sizeof(want),
	         "segment 3: non-canonical base64url (unused bits set) at offset %zu", n - 1);
	refused(m, n, g_ec, NULL, C2S_ERR_MANIFEST, want);

	/* segments */
	refused(t, dot2, g_ec, NULL, C2S_ERR_MANIFEST, "token: 2 segments, a compact JWS has 3");
	snprintf(m, sizeof(m), "%s.%s", t, t + dot2 + 1);
	refused(m, strlen(m), g_ec, NULL, C2S_ERR_MANIFEST, "token: 4 segments");
	refused(t, dot1, g_ec, NULL, C2S_ERR_MANIFEST, "token: 1 segments");
	refused(t, dot2 + 1, g_ec, NULL, C2S_ERR_MANIFEST, "segment 3: empty");
	snprintf(m, sizeof(m), "%.*s%s", (int)dot1 + 1, t, t + dot2);
	refused(m, strlen(m), g_ec, NULL, C2S_ERR_MANIFEST, "segment 2: empty");
	refused(t + dot1, n - dot1, g_ec, NULL, C2S_ERR_MANIFEST, "segment 1: empty");
	refused("..", 2, g_ec, NULL, C2S_ERR_MANIFEST, "segment 1: empty");
	refused("", 0, g_ec, NULL, C2S_ERR_MANIFEST, "token: empty");
	/* "alg":"none" with an empty signature: refused before any JSON is read */
	refused("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", 36, g_ec, NULL, C2S_ERR_MANIFEST,
	        "segment 3: empty");

	/* size: over the limit refused as too big; at the limit, refused for what it is */
	memset(m, 'A', sizeof(m));
	memcpy(m, t, n);
	refused(m, JWS_MAX_LEN + 1, g_ec, NULL, C2S_ERR_TOO_BIG,
	        "token: 16385 bytes, more than 16384");
	{
		const struct jws_key *keys[1] = {g_ec};
		json_t *claims = NULL;
		char why[256] = "";
		assert_int_equal(
		    jws_verify(m, JWS_MAX_LEN, keys, 1, TYP_ORDER, &claims, why, sizeof(why)),
		    C2S_ERR_MANIFEST);
		assert_null(strstr(why, "more than"));
		assert_null(claims);
	}
	free(t);
#undef INSERT
}

/* HS256 with the public key's PEM as the HMAC secret (the classic key-confusion attack). */
static void test_verify_hs256_confusion(void **state)
{
	(void)state;
	char *t = NULL;
	assert_int_equal(run("cd %s && python3 -c \"\n"
	                     "import base64, hmac, hashlib\n"
	                     "b = lambda x: base64.urlsafe_b64encode(x).rstrip(b'=').decode()\n"
	                     "i = b(b'{\\\"alg\\\":\\\"HS256\\\",\\\"typ\\\":\\\"" TYP_ORDER
	                     "\\\"}') + '.' + b(b'{\\\"iss\\\":\\\"x\\\"}')\n"
	                     "s = hmac.new(open('rsa.pub', 'rb').read(), i.encode(), "
	                     "hashlib.sha256).digest()\n"
	                     "open('hs.tok', 'w').write(i + '.' + b(s))\" ",
	                     g_dir),
	                 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/hs.tok", g_dir);
	t = read_file(path, NULL);
	refused(t, strlen(t), g_rsa, g_ec, C2S_ERR_MANIFEST, "RS256 kid");
	refused(t, strlen(t), g_rsa, g_ec, C2S_ERR_MANIFEST,
	        "32 bytes, RS256 with this key needs 256");
	refused(t, strlen(t), g_rsa, g_ec, C2S_ERR_MANIFEST, "32 bytes, ES256 needs 64");
	free(t);
}

static void test_verify_args(void **state)
{
	(void)state;
	char why[128];
	json_t *claims = NULL;
	const struct jws_key *keys[2] = {g_ec, NULL};
	assert_int_equal(jws_verify("a.b.c", 5, keys, 0, TYP_ORDER, &claims, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(jws_verify("a.b.c", 5, keys, 2, TYP_ORDER, &claims, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(jws_verify("a.b.c", 5, keys, 1, NULL, &claims, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(jws_verify(NULL, 5, keys, 1, TYP_ORDER, &claims, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_null(claims);
	/* why may be absent */
	assert_int_equal(jws_verify("a.b", 3, keys, 1, TYP_ORDER, &claims, NULL, 0),
	                 C2S_ERR_MANIFEST);
}

/* ---- sign ---- */

struct signer {
	mbedtls_pk_context pk;
	int mode; /* 0 good, 1 short signature, 2 fail */
};

static c2s_err sign_cb(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	struct signer *s = ctx;
	if (s->mode == 2)
		return C2S_ERR_HSM_REMOVED;
	if (mbedtls_pk_get_type(&s->pk) == MBEDTLS_PK_ECKEY) {
		mbedtls_ecp_keypair *ec = mbedtls_pk_ec(s->pk);
		mbedtls_mpi r, sv;
		mbedtls_mpi_init(&r);
		mbedtls_mpi_init(&sv);
		assert_int_equal(mbedtls_ecdsa_sign(&ec->grp, &r, &sv, &ec->d, digest, 32,
		                                    mbedtls_ctr_drbg_random, &g_drbg),
		                 0);
		assert_true(*sig_len >= 64);
		assert_int_equal(mbedtls_mpi_write_binary(&r, sig, 32), 0);
		assert_int_equal(mbedtls_mpi_write_binary(&sv, sig + 32, 32), 0);
		mbedtls_mpi_free(&r);
		mbedtls_mpi_free(&sv);
		*sig_len = 64;
	} else {
		assert_int_equal(mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, digest, 32, sig,
		                                 sig_len, mbedtls_ctr_drbg_random, &g_drbg),
		                 0);
	}
	if (s->mode == 1)
		(*sig_len)--;
	return C2S_OK;
}

static void signer_load(struct signer *s, const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s.pem", g_dir, name);
	mbedtls_pk_init(&s->pk);
	assert_int_equal(mbedtls_pk_parse_keyfile(&s->pk, path, NULL), 0);
	s->mode = 0;
}

static void test_sign_roundtrip(void **state)
{
	(void)state;
	static const struct {
		enum jws_alg alg;
		const char *name, *hdr_b64;
	} cases[] = {
	    /* base64url of {"alg":"ES256","typ":"JWT"}, {"alg":"RS256","typ":"JWT"} */
	    {JWS_ES256, "ec", "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9."},
	    {JWS_RS256, "rsa", "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."},
	};
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "sub", "moj-a1-778899",
	                           "iss", AUD, "aud", "https://portal.example", "iat",
	                           (json_int_t)NOW, "exp", (json_int_t)NOW + 300, "jti",
	                           "assertion-0001-xyz", "name", "Janez Novak \xc5\xa1");
	assert_non_null(claims);
	for (size_t i = 0; i < 2; i++) {
		struct signer s;
		char why[256] = "", *tok = NULL, path[128];
		json_t *got = NULL;
		signer_load(&s, cases[i].name);
		assert_int_equal(
		    jws_sign(cases[i].alg, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
		    C2S_OK);
		assert_non_null(tok);
		assert_memory_equal(tok, cases[i].hdr_b64, strlen(cases[i].hdr_b64));
		/* payload: compact with sorted keys, so "aud" comes first */
		assert_memory_equal(tok + strlen(cases[i].hdr_b64), "eyJhdWQiOi", 10);

		const struct jws_key *keys[2] = {g_ec2, i == 0 ? g_ec : g_rsa};
		assert_int_equal(
		    jws_verify(tok, strlen(tok), keys, 2, "JWT", &got, why, sizeof(why)), C2S_OK);
		assert_true(json_equal(got, claims));
		json_decref(got);

		/* openssl alone agrees, and disagrees under another key */
		snprintf(path, sizeof(path), "%s/signed.tok", g_dir);
		write_file(path, tok, strlen(tok));
		assert_int_equal(run("python3 %s/vertok.py %s %s/%s.pub %s", g_dir, cases[i].name,
		                     g_dir, cases[i].name, path),
		                 0);
		assert_int_not_equal(run("python3 %s/vertok.py %s %s/%s.pub %s 2>/dev/null", g_dir,
		                         cases[i].name, g_dir, i == 0 ? "ec2" : "rsa4096", path),
		                     0);
		free(tok);
		mbedtls_pk_free(&s.pk);
	}
	json_decref(claims);
}

static void test_sign_refused(void **state)
{
	(void)state;
	struct signer s;
	char why[256] = "", *tok = (char *)1;
	json_t *claims = json_pack("{s:s}", "iss", "x"), *arr = json_array();
	signer_load(&s, "ec");

	s.mode = 1;
	assert_int_equal(jws_sign(JWS_ES256, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_INTERNAL);
	assert_non_null(strstr(why, "63 bytes, ES256 needs 64"));
	assert_null(tok);
	s.mode = 2;
	assert_int_equal(jws_sign(JWS_ES256, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_HSM_REMOVED);
	assert_non_null(strstr(why, "the signer failed (C2S_ERR_HSM_REMOVED)"));
	s.mode = 0;
	/* an EC signer behind an RS256 header: 64 bytes is no RSA signature */
	assert_int_equal(jws_sign(JWS_RS256, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_INTERNAL);
	assert_non_null(strstr(why, "64 bytes, RS256 needs 256 to 512"));
	assert_int_equal(jws_sign(JWS_ES256, "JWT", arr, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_int_equal(
	    jws_sign((enum jws_alg)3, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_int_equal(jws_sign(JWS_ES256, "", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_null(tok);

	/* too big: refused before the signer is asked */
	char *big = malloc(12500);
	memset(big, 'x', 12499);
	big[12499] = '\0';
	json_object_set_new(claims, "big", json_string(big));
	s.mode = 2;
	assert_int_equal(jws_sign(JWS_ES256, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_ERR_TOO_BIG);
	/* smaller fits */
	big[11000] = '\0';
	json_object_set_new(claims, "big", json_string(big));
	s.mode = 0;
	assert_int_equal(jws_sign(JWS_ES256, "JWT", claims, sign_cb, &s, &tok, why, sizeof(why)),
	                 C2S_OK);
	assert_true(strlen(tok) <= JWS_MAX_LEN);
	free(tok);
	free(big);
	json_decref(claims);
	json_decref(arr);
	mbedtls_pk_free(&s.pk);
}

/* ---- claims ---- */

/* The good claims with `patch` applied: its members replace, a null member removes. */
static json_t *claims_with(const char *patch)
{
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s}", "iss", "https://portal.example", "aud",
	                      AUD, "iat", (json_int_t)NOW - 10, "exp", (json_int_t)NOW + 290, "jti",
	                      "order-0001-abcdefgh");
	json_error_t err;
	json_t *p = json_loads(patch, JSON_DECODE_ANY, &err), *v;
	const char *k;
	assert_non_null(p);
	json_object_foreach(p, k, v)
	{
		if (json_is_null(v))
			json_object_del(c, k);
		else
			json_object_set(c, k, v);
	}
	json_decref(p);
	return c;
}

static void test_claims(void **state)
{
	(void)state;
	static const struct {
		const char *patch;
		int64_t now;
		c2s_err code;
		const char *part;
	} cases[] = {
	    {"{}", NOW, C2S_OK, ""},
	    {"{\"iss\":null}", NOW, C2S_ERR_MANIFEST, "claim iss: missing"},
	    {"{\"iss\":\"\"}", NOW, C2S_ERR_MANIFEST, "claim iss: not a non-empty string"},
	    {"{\"iss\":7}", NOW, C2S_ERR_MANIFEST, "claim iss: not a non-empty string"},
	    {"{\"aud\":null}", NOW, C2S_ERR_MANIFEST, "claim aud: missing"},
	    {"{\"aud\":\"https://other.example\"}", NOW, C2S_ERR_MANIFEST,
	     "claim aud: \"https://other.example\" is not this appliance (" AUD ")"},
	    {"{\"aud\":\"" AUD "/\"}", NOW, C2S_ERR_MANIFEST, "claim aud:"},
	    {"{\"aud\":[\"https://x\",\"" AUD "\"]}", NOW, C2S_OK, ""},
	    {"{\"aud\":[\"https://x\"]}", NOW, C2S_ERR_MANIFEST,
	     "claim aud: this appliance (" AUD ") is not among the 1"},
	    {"{\"aud\":[]}", NOW, C2S_ERR_MANIFEST, "is not among the 0"},
	    {"{\"aud\":[\"" AUD "\",1]}", NOW, C2S_ERR_MANIFEST,
	     "claim aud: element 1 is not a string"},
	    {"{\"aud\":{}}", NOW, C2S_ERR_MANIFEST, "claim aud: neither a string nor an array"},
	    {"{\"jti\":null}", NOW, C2S_ERR_MANIFEST, "claim jti: missing"},
	    {"{\"jti\":1234567890123456}", NOW, C2S_ERR_MANIFEST, "claim jti: not a string"},
	    {"{\"jti\":\"abcdefghijklmno\"}", NOW, C2S_ERR_MANIFEST,
	     "claim jti: 15 characters, need 16 to 128"},
	    {"{\"jti\":\"abcdefghijklmnop\"}", NOW, C2S_OK, ""},
	    {"{\"jti\":\"AZaz09._~-AZaz09._~-\"}", NOW, C2S_OK, ""},
	    {"{\"jti\":\"abcdefgh/ijklmnop\"}", NOW, C2S_ERR_MANIFEST,
	     "claim jti: character 8 is not one of"},
	    {"{\"jti\":\"abcdefgh ijklmnop\"}", NOW, C2S_ERR_MANIFEST, "claim jti: character 8"},
	    {"{\"jti\":\"abcdefgh\\u00e9ijklmnop\"}", NOW, C2S_ERR_MANIFEST,
	     "claim jti: character 8"},
	    {"{\"iat\":null}", NOW, C2S_ERR_MANIFEST, "claim iat: missing"},
	    {"{\"iat\":1767225590.0}", NOW, C2S_ERR_MANIFEST,
	     "claim iat: not an integer number of seconds"},
	    {"{\"iat\":\"1767225590\"}", NOW, C2S_ERR_MANIFEST, "claim iat: not an integer"},
	    {"{\"iat\":-1}", NOW, C2S_ERR_MANIFEST, "claim iat: -1 is not a time between 1970"},
	    {"{\"exp\":253402300800}", NOW, C2S_ERR_MANIFEST,
	     "claim exp: 253402300800 is not a time"},
	    /* iat in the future: up to the leeway (60 s) allowed */
	    {"{\"iat\":1767225660,\"exp\":1767225700}", NOW, C2S_OK, ""},
	    {"{\"iat\":1767225661,\"exp\":1767225700}", NOW, C2S_ERR_MANIFEST,
	     "claim iat: 2026-01-01T00:01:01Z is in the future (now 2026-01-01T00:00:00Z)"},
	    {"{\"nbf\":1767225660}", NOW, C2S_OK, ""},
	    {"{\"nbf\":1767225661}", NOW, C2S_ERR_MANIFEST, "claim nbf: not valid before"},
	    {"{\"nbf\":1.5}", NOW, C2S_ERR_MANIFEST, "claim nbf: not an integer"},
	    {"{\"exp\":null}", NOW, C2S_ERR_MANIFEST, "claim exp: missing"},
	    {"{\"exp\":1767225590}", NOW, C2S_ERR_MANIFEST,
	     "claim exp: 2025-12-31T23:59:50Z is not after iat"},
	    /* lifetime: max 600 s */
	    {"{\"exp\":1767226190}", NOW, C2S_OK, ""},
	    {"{\"exp\":1767226191}", NOW, C2S_ERR_MANIFEST,
	     "claim exp: lifetime 601 s is more than 600 s"},
	    /* expiry: exp 1767225890; refused from exp + leeway on */
	    {"{}", 1767225890 - 1, C2S_OK, ""},
	    {"{}", 1767225890, C2S_OK, ""},
	    {"{}", 1767225890 + 59, C2S_OK, ""},
	    {"{}", 1767225890 + 60, C2S_ERR_MANIFEST_EXPIRED,
	     "claim exp: expired at 2026-01-01T00:04:50Z (now 2026-01-01T00:05:50Z)"},
	    {"{}", 1767225890 + 86400, C2S_ERR_MANIFEST_EXPIRED, "claim exp: expired at"},
	    /* other claims are the caller's */
	    {"{\"reference\":\"A1-1\",\"documents\":[\"ab\"]}", NOW, C2S_OK, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char why[256] = "";
		json_t *c = claims_with(cases[i].patch);
		struct jws_expect e = {
		    .aud = AUD, .now = cases[i].now, .max_lifetime = 600, .leeway = 60};
		c2s_err got = jws_claims_check(c, &e, why, sizeof(why));
		if (got != cases[i].code || !strstr(why, cases[i].part))
			print_error("case %zu %s: got %s \"%s\"\n", i, cases[i].patch,
			            c2s_err_name(got), why);
		assert_int_equal(got, cases[i].code);
		assert_non_null(strstr(why, cases[i].part));
		json_decref(c);
	}
}

static void test_claims_args(void **state)
{
	(void)state;
	char why[128];
	json_t *c = claims_with("{}"), *arr = json_array();
	struct jws_expect e = {.aud = AUD, .now = NOW, .max_lifetime = 600, .leeway = 60};
	assert_int_equal(jws_claims_check(c, &e, why, sizeof(why)), C2S_OK);
	assert_int_equal(jws_claims_check(arr, &e, why, sizeof(why)), C2S_ERR_MANIFEST);
	assert_int_equal(jws_claims_check(NULL, &e, why, sizeof(why)), C2S_ERR_ARG);
	e.leeway = -1;
	assert_int_equal(jws_claims_check(c, &e, why, sizeof(why)), C2S_ERR_ARG);
	e.leeway = 60;
	e.max_lifetime = 0;
	assert_int_equal(jws_claims_check(c, &e, why, sizeof(why)), C2S_ERR_ARG);
	e.max_lifetime = 600;
	e.aud = NULL;
	assert_int_equal(jws_claims_check(c, &e, why, sizeof(why)), C2S_ERR_ARG);
	e.aud = "";
	assert_int_equal(jws_claims_check(c, &e, why, sizeof(why)), C2S_ERR_ARG);
	json_decref(c);
	json_decref(arr);
}

/* The whole path: a manifest made by openssl, verified, its claims checked. */
static void test_verify_then_claims(void **state)
{
	(void)state;
	char why[256];
	json_t *claims = NULL;
	char *t = tok_make("rsa", "rsa", "{\"alg\":\"RS256\",\"typ\":\"" TYP_ORDER "\"}",
	                   good_payload, "raw");
	assert_int_equal(verify2(t, strlen(t), g_ec, g_rsa, &claims, why, sizeof(why)), C2S_OK);
	struct jws_expect e = {.aud = AUD, .now = NOW, .max_lifetime = 600, .leeway = 60};
	assert_int_equal(jws_claims_check(claims, &e, why, sizeof(why)), C2S_OK);
	e.now = NOW + 3600;
	assert_int_equal(jws_claims_check(claims, &e, why, sizeof(why)), C2S_ERR_MANIFEST_EXPIRED);
	e.now = NOW;
	e.aud = "https://elsewhere.example";
	assert_int_equal(jws_claims_check(claims, &e, why, sizeof(why)), C2S_ERR_MANIFEST);
	json_decref(claims);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_accepted),
	    cmocka_unit_test(test_key_refused),
	    cmocka_unit_test(test_keys_from_dir_owner),
	    cmocka_unit_test(test_verify_interop),
	    cmocka_unit_test(test_verify_signature_refused),
	    cmocka_unit_test(test_verify_es256_shapes),
	    cmocka_unit_test(test_verify_header_refused),
	    cmocka_unit_test(test_verify_payload_refused),
	    cmocka_unit_test(test_verify_form_refused),
	    cmocka_unit_test(test_verify_hs256_confusion),
	    cmocka_unit_test(test_verify_args),
	    cmocka_unit_test(test_sign_roundtrip),
	    cmocka_unit_test(test_sign_refused),
	    cmocka_unit_test(test_claims),
	    cmocka_unit_test(test_claims_args),
	    cmocka_unit_test(test_verify_then_claims),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
