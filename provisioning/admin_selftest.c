/* click2sign-admin selftest: every private key signs a fresh random digest with every
 * mechanism it supports through the token; mbedTLS verifies each signature against the
 * key's public key (and must reject it for a different digest). Then the [seal] key must
 * be present with a certificate for it. */
#include "admin.h"

#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct selftest {
	struct admin *a;
	struct hsm *h;
	size_t ok, failed, skipped;
};

static void selftest_row(struct selftest *t, const char *key, const char *what, const char *result,
                         double ms, const char *detail)
{
	printf("%-24s %-16s %-6s %8.1f  %s\n", key, what, result, ms, detail ? detail : "");
	if (strcmp(result, "OK") == 0)
		t->ok++;
	else if (strcmp(result, "SKIP") == 0)
		t->skipped++;
	else
		t->failed++;
}

static int selftest_verify(mbedtls_pk_context *pk, enum hsm_mech m, const uint8_t *digest,
                           const uint8_t *sig, size_t sig_len)
{
	if (m == HSM_MECH_RSA_PSS) {
		mbedtls_pk_rsassa_pss_options o = {MBEDTLS_MD_SHA256, 32};
		return mbedtls_pk_verify_ext(MBEDTLS_PK_RSASSA_PSS, &o, pk, MBEDTLS_MD_SHA256,
		                             digest, 32, sig, sig_len) == 0;
	}
	return mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, digest, 32, sig, sig_len) == 0;
}

/* One signature with mechanism m: sign, verify, and verify-must-fail on another digest. */
static void selftest_mech(struct selftest *t, struct hsm_key *k, const char *label,
                          mbedtls_pk_context *pk, enum hsm_mech m, const char *mname)
{
	uint8_t rnd[32], digest[32], other[32], sig[HSM_MAX_SIG];
	size_t sig_len = sizeof(sig);
	const char *detail = NULL, *result = "FAIL";
	double t0 = admin_now_ms();
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) ||
	    mbedtls_sha256_ret(rnd, sizeof(rnd), digest, 0) != 0) {
		detail = "no randomness";
		goto out;
	}
	c2s_err ret = hsm_sign(t->h, k, m, HSM_HASH_SHA256, digest, sizeof(digest), sig, &sig_len);
	double ms = admin_now_ms() - t0;
	if (ret == C2S_ERR_HSM_MECHANISM) {
		selftest_row(t, label, mname, "SKIP", ms, "not supported by the token");
		return;
	}
	if (ret != C2S_OK) {
		detail = c2s_err_message(ret);
		goto out;
	}
	memcpy(other, digest, sizeof(other));
	other[0] ^= 1;
	if (!selftest_verify(pk, m, digest, sig, sig_len))
		detail = "signature does not verify with the public key";
	else if (selftest_verify(pk, m, other, sig, sig_len))
		detail = "signature also verifies for a different digest";
	else
		result = "OK";
out:
	selftest_row(t, label, mname, result, admin_now_ms() - t0, detail);
}

static void selftest_key(struct selftest *t, const struct hsm_key_info *ki)
{
	char uri[1024], why[HSM_WHY] = "";
	struct hsm_key *k = NULL;
	struct buf spki;
	mbedtls_pk_context pk;
	const char *label = ki->label[0] ? ki->label : "(no label)";
	buf_init(&spki, ADMIN_SPKI_MAX);
	mbedtls_pk_init(&pk);
	admin_key_uri(ki, uri, sizeof(uri));
	if (hsm_key_find(t->h, uri, &k, why, sizeof(why)) != C2S_OK) {
		selftest_row(t, label, "find", "FAIL", 0, why[0] ? why : "key not found again");
		goto out;
	}
	if (hsm_key_spki(t->h, k, &spki) != C2S_OK ||
	    mbedtls_pk_parse_public_key(&pk, spki.data, spki.len) != 0) {
		selftest_row(t, label, "public key", "FAIL", 0, "cannot read or parse the SPKI");
		goto out;
	}
	if (ki->type == HSM_KEY_RSA) {
		selftest_mech(t, k, label, &pk, HSM_MECH_RSA_PKCS1, "RSA-PKCS1-SHA256");
		selftest_mech(t, k, label, &pk, HSM_MECH_RSA_PSS, "RSA-PSS-SHA256");
	} else {
		selftest_mech(t, k, label, &pk, HSM_MECH_ECDSA, "ECDSA-SHA256");
	}
out:
	mbedtls_pk_free(&pk);
	buf_free(&spki);
	if (k)
		hsm_key_free(k);
}

/* The [seal] key exists and the token's certificate for it holds its public key. */
static void selftest_seal(struct selftest *t)
{
	const char *label = t->a->cfg.seal_key;
	struct hsm_key *k = NULL;
	struct buf der, spki;
	mbedtls_x509_crt crt;
	char why[HSM_WHY] = "";
	buf_init(&der, 65536);
	buf_init(&spki, ADMIN_SPKI_MAX);
	mbedtls_x509_crt_init(&crt);
	double t0 = admin_now_ms();
	if (hsm_key_find(t->h, label, &k, why, sizeof(why)) != C2S_OK) {
		/* a mistyped label is more likely than a missing key: name what is there */
		struct hsm_key_info *keys = NULL;
		size_t n = 0;
		char have[200] = "", msg[400];
		size_t o = 0;
		if (admin_key_list_all(t->h, &keys, &n) == C2S_OK)
			for (size_t i = 0; i < n && o + 4 < sizeof(have); i++) {
				int w = snprintf(have + o, sizeof(have) - o, "%s'%s'",
				                 o ? ", " : "", keys[i].label);
				if (w > 0)
					o += (size_t)w < sizeof(have) - o ? (size_t)w
					                                  : sizeof(have) - o - 1;
			}
		free(keys);
		if (n)
			snprintf(
			    msg, sizeof(msg),
			    "no key labelled '%s' in the token; it has %s: correct [seal] key, or "
			    "run `key generate` for a new one",
			    label, have);
		else
			snprintf(msg, sizeof(msg),
			         "the token has no private key; run `key generate --label %s`",
			         label);
		selftest_row(t, label, "seal key", "FAIL", admin_now_ms() - t0, msg);
		goto out;
	}
	selftest_row(t, label, "seal key", "OK", admin_now_ms() - t0, "present");
	t0 = admin_now_ms();
	if (hsm_cert_for_key(t->h, k, &der) != C2S_OK) {
		selftest_row(t, label, "seal cert", "FAIL", admin_now_ms() - t0,
		             "no certificate for the seal key; run `cert import`");
		goto out;
	}
	int good = mbedtls_x509_crt_parse_der(&crt, der.data, der.len) == 0 &&
	           hsm_key_spki(t->h, k, &spki) == C2S_OK &&
	           admin_spki_equal(crt.pk_raw.p, crt.pk_raw.len, spki.data, spki.len);
	int expired = good && mbedtls_x509_time_is_past(&crt.valid_to);
	selftest_row(t, label, "seal cert", good && !expired ? "OK" : "FAIL", admin_now_ms() - t0,
	             !good     ? "certificate does not match the seal key"
	             : expired ? "certificate has expired"
	                       : "matches the key");
out:
	mbedtls_x509_crt_free(&crt);
	buf_free(&der);
	buf_free(&spki);
	if (k)
		hsm_key_free(k);
}

int admin_cmd_selftest(struct admin *a, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos, n = 0;
	struct hsm_key_info *keys = NULL;
	struct selftest t = {.a = a};
	int rc = admin_opts_parse(a, "selftest", argc, argv, NULL, 0, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	if (admin_config_load(a, 0) != C2S_OK || admin_hsm_open(a, 1, &t.h) != C2S_OK ||
	    admin_key_list_all(t.h, &keys, &n) != C2S_OK)
		goto out;
	printf("%-24s %-16s %-6s %8s  %s\n", "KEY", "MECHANISM", "RESULT", "MS", "DETAIL");
	for (size_t i = 0; i < n; i++)
		selftest_key(&t, &keys[i]);
	selftest_seal(&t);
	printf("%zu OK, %zu failed, %zu skipped\n", t.ok, t.failed, t.skipped);
	if (t.failed) {
		admin_fail("selftest: %zu check(s) failed (rows marked FAIL above)", t.failed);
		goto out;
	}
	rc = ADMIN_EXIT_OK;
out:
	free(keys);
	if (t.h)
		hsm_close(t.h);
	return rc;
}
