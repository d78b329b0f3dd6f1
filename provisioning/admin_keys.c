/* click2sign-admin: opening the configured token, finding keys, comparing public keys. */
#include "admin.h"

#include <mbedtls/pk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void admin_hsm_config(struct admin *a, struct hsm_config *hc)
{
	memset(hc, 0, sizeof(*hc));
	hc->module_path = a->cfg.module;
	hc->allow = a->allow;
	hc->n_allow = a->cfg.n_module_allow;
	hc->token_uri = a->cfg.token_uri;
	hc->pool_size = 1;
}

c2s_err admin_hsm_login_check(struct hsm *h, const char *pin_what)
{
	struct hsm_token_info ti;
	c2s_err ret = hsm_token_info(h, &ti);
	if (ret != C2S_OK) {
		admin_fail("cannot read the token state: %s", c2s_err_message(ret));
	} else if (!ti.present) {
		char why[HSM_WHY];
		hsm_absent_reason(h, why, sizeof(why));
		admin_fail("the token is not present: %s; insert it or check [token] uri",
		           why[0] ? why : "no slot shows it");
		ret = C2S_ERR_HSM_NO_TOKEN;
	} else if (ti.logged_in) {
		ret = C2S_OK;
	} else if (ti.pin_state == C2S_ERR_HSM_PIN_LOCKED) {
		admin_fail("the token's user PIN is locked; unlock it with the SO PIN "
		           "(pkcs11-tool --init-pin --login --login-type so)");
		ret = C2S_ERR_HSM_PIN_LOCKED;
	} else {
		admin_fail("the token refused the PIN from %s; put the right PIN there (a refused "
		           "PIN is not retried, so the token's retry counter is not burned)",
		           pin_what);
		ret = C2S_ERR_HSM_PIN_INCORRECT;
	}
	return ret;
}

c2s_err admin_hsm_open(struct admin *a, int login, struct hsm **out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct hsm_config hc;
	char why[HSM_WHY] = "";
	char *pin = NULL;
	size_t pin_len = 0;
	*out = NULL;
	admin_hsm_config(a, &hc);
	if (login) {
		GUARD(admin_secret_read(a->cfg.pin_file, "[token] pin_file", &pin, &pin_len));
		hc.pin = pin;
		hc.pin_len = pin_len;
	}
	ret = hsm_open(&hc, out, why, sizeof(why));
	if (ret != C2S_OK) {
		admin_fail("cannot open token %s with module %s: %s", a->cfg.token_uri,
		           a->cfg.module, why[0] ? why : c2s_err_message(ret));
		goto out;
	}
	if (login)
		GUARD(admin_hsm_login_check(*out, "[token] pin_file"));
out:
	if (ret != C2S_OK && *out) {
		hsm_close(*out);
		*out = NULL;
	}
	admin_secret_free(pin);
	return ret;
}

c2s_err admin_key_find(struct hsm *h, const char *label, struct hsm_key **out)
{
	char why[HSM_WHY] = "";
	c2s_err ret = hsm_key_find(h, label, out, why, sizeof(why));
	if (ret == C2S_ERR_HSM_NO_KEY || ret == C2S_ERR_NOT_FOUND)
		admin_fail("no private key '%s' in the token; `click2sign-admin key list` shows "
		           "the keys",
		           label);
	else if (ret != C2S_OK)
		admin_fail("cannot look up key '%s': %s", label,
		           why[0] ? why : c2s_err_message(ret));
	return ret;
}

static size_t admin_pct(const uint8_t *p, size_t n, int all, char *out, size_t cap)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		int plain = !all && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		                     c == '~');
		if (o + (plain ? 1 : 3) >= cap)
			break;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hx[c >> 4];
			out[o++] = hx[c & 15];
		}
	}
	out[o] = 0;
	return o;
}

void admin_key_uri(const struct hsm_key_info *ki, char *out, size_t cap)
{
	char obj[3 * HSM_MAX_LABEL + 1], id[3 * HSM_MAX_ID + 1];
	admin_pct((const uint8_t *)ki->label, strlen(ki->label), 0, obj, sizeof(obj));
	admin_pct(ki->id, ki->id_len, 1, id, sizeof(id));
	snprintf(out, cap, "pkcs11:%s%s%s%s%s", obj[0] ? "object=" : "", obj,
	         obj[0] && id[0] ? ";" : "", id[0] ? "id=" : "", id);
}

struct admin_key_acc {
	struct hsm_key_info *v;
	size_t n;
	int overflow;
};

static void admin_key_acc_cb(void *ctx, const struct hsm_key_info *ki)
{
	struct admin_key_acc *acc = ctx;
	if (acc->n >= ADMIN_MAX_KEYS) {
		acc->overflow = 1;
		return;
	}
	acc->v[acc->n++] = *ki;
}

c2s_err admin_key_list_all(struct hsm *h, struct hsm_key_info **out, size_t *n)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct admin_key_acc acc = {.v = calloc(ADMIN_MAX_KEYS, sizeof(struct hsm_key_info))};
	*out = NULL;
	*n = 0;
	ENSURE(acc.v, C2S_ERR_NOMEM);
	ret = hsm_key_list(h, admin_key_acc_cb, &acc);
	if (ret != C2S_OK) {
		admin_fail("cannot list the keys in the token: %s", c2s_err_message(ret));
		goto out;
	}
	if (acc.overflow)
		fprintf(stderr,
		        "click2sign-admin: warning: more than %d keys; only the first %d "
		        "are considered\n",
		        ADMIN_MAX_KEYS, ADMIN_MAX_KEYS);
	*out = acc.v;
	*n = acc.n;
	acc.v = NULL;
out:
	free(acc.v);
	return ret;
}

void admin_key_type_str(const struct hsm_key_info *ki, char *out, size_t cap)
{
	if (ki->type == HSM_KEY_RSA) {
		snprintf(out, cap, "rsa:%u", ki->bits);
		return;
	}
	const char *c = ki->curve == HSM_CURVE_P256   ? "p256"
	                : ki->curve == HSM_CURVE_P384 ? "p384"
	                : ki->curve == HSM_CURVE_P521 ? "p521"
	                                              : "unknown";
	snprintf(out, cap, "ec:%s", c);
}

c2s_err admin_spki_canonical(const uint8_t *spki, size_t len, uint8_t *out, size_t *out_len)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_pk_context pk;
	uint8_t tmp[ADMIN_SPKI_MAX];
	mbedtls_pk_init(&pk);
	*out_len = 0;
	ENSURE(mbedtls_pk_parse_public_key(&pk, spki, len) == 0, C2S_ERR_X509);
	/* mbedtls writes at the end of the buffer */
	int n = mbedtls_pk_write_pubkey_der(&pk, tmp, sizeof(tmp));
	ENSURE(n > 0 && (size_t)n <= sizeof(tmp), C2S_ERR_X509);
	memcpy(out, tmp + sizeof(tmp) - (size_t)n, (size_t)n);
	*out_len = (size_t)n;
	ret = C2S_OK;
out:
	mbedtls_pk_free(&pk);
	return ret;
}

int admin_spki_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	uint8_t ca[ADMIN_SPKI_MAX], cb[ADMIN_SPKI_MAX];
	size_t na = 0, nb = 0;
	if (admin_spki_canonical(a, a_len, ca, &na) != C2S_OK ||
	    admin_spki_canonical(b, b_len, cb, &nb) != C2S_OK)
		return 0;
	return na == nb && memcmp(ca, cb, na) == 0;
}

c2s_err admin_key_spki(struct hsm *h, struct hsm_key *k, uint8_t *out, size_t *out_len)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf spki;
	buf_init(&spki, ADMIN_SPKI_MAX);
	ret = hsm_key_spki(h, k, &spki);
	if (ret != C2S_OK) {
		admin_fail("cannot read the public key from the token: %s", c2s_err_message(ret));
		goto out;
	}
	ret = admin_spki_canonical(spki.data, spki.len, out, out_len);
	if (ret != C2S_OK)
		admin_fail("the token returned a public key mbedTLS cannot parse; check the "
		           "key with pkcs11-tool -O");
out:
	buf_free(&spki);
	return ret;
}
