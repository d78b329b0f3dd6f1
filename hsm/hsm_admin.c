/* Provisioning: token initialisation, PIN change, certificates next to keys. */
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"
#include "firmware/base/secmem.h"

#define SLOTS_MAX 64

struct slot_seen {
	CK_SLOT_ID id;
	CK_TOKEN_INFO ti;
};

static CK_ULONG slots_list(CK_FUNCTION_LIST_PTR f, struct slot_seen *out)
{
	CK_SLOT_ID ids[SLOTS_MAX];
	CK_ULONG n = SLOTS_MAX, k = 0;
	if (f->C_GetSlotList(CK_TRUE, ids, &n) != CKR_OK)
		return 0;
	for (CK_ULONG i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(ids[i], &out[k].ti) == CKR_OK)
			out[k++].id = ids[i];
	}
	return k;
}

/* Slot to initialise: the token the URI names, else the first uninitialised one. */
static c2s_err init_pick(const struct slot_seen *s, CK_ULONG n, const struct hsm_uri *u,
                         CK_SLOT_ID *slot, char *why, size_t why_cap)
{
	char lab[33];
	for (CK_ULONG i = 0; u->has_token && i < n; i++) {
		hsm_pad_to_str(s[i].ti.label, sizeof(s[i].ti.label), lab, sizeof(lab));
		if ((s[i].ti.flags & CKF_TOKEN_INITIALIZED) && strcmp(lab, u->token) == 0) {
			*slot = s[i].id;
			return C2S_OK;
		}
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (!(s[i].ti.flags & CKF_TOKEN_INITIALIZED)) {
			*slot = s[i].id;
			return C2S_OK;
		}
	}
	snprintf(why, why_cap, "no uninitialised token found (%lu tokens present)",
	         (unsigned long)n);
	return C2S_ERR_HSM_NO_TOKEN;
}

/* After C_InitToken the token may sit in another slot (SoftHSM2): find it by label,
 * preferring a serial that was not initialised before. */
static c2s_err init_refind(CK_FUNCTION_LIST_PTR f, const struct slot_seen *before, CK_ULONG nb,
                           const char *label, CK_SLOT_ID *slot)
{
	struct slot_seen now[SLOTS_MAX];
	CK_ULONG n = slots_list(f, now);
	c2s_err ret = C2S_ERR_HSM_NO_TOKEN;
	char lab[33];
	for (CK_ULONG i = 0; i < n; i++) {
		hsm_pad_to_str(now[i].ti.label, sizeof(now[i].ti.label), lab, sizeof(lab));
		if (!(now[i].ti.flags & CKF_TOKEN_INITIALIZED) || strcmp(lab, label) != 0)
			continue;
		int old = 0;
		for (CK_ULONG j = 0; j < nb; j++)
			old |= (before[j].ti.flags & CKF_TOKEN_INITIALIZED) &&
			       memcmp(before[j].ti.serialNumber, now[i].ti.serialNumber, 16) == 0;
		if (ret != C2S_OK || !old)
			*slot = now[i].id;
		ret = C2S_OK;
	}
	return ret;
}

static c2s_err init_pins(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, const char *so_pin,
                         const char *user_pin, char *why, size_t why_cap)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	const char *step = "C_OpenSession";
	CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK) {
		step = "C_Login(CKU_SO)";
		rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	}
	if (rv == CKR_OK) {
		step = "C_InitPIN";
		rv = f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
		(void)f->C_Logout(s);
	}
	if (s != CK_INVALID_HANDLE)
		(void)f->C_CloseSession(s);
	if (rv == CKR_OK)
		return C2S_OK;
	HSM_LOG_RV(step, rv);
	snprintf(why, why_cap, "%s failed: %s", step, c2s_err_message(hsm_rv_err(rv)));
	return hsm_rv_err(rv);
}

c2s_err hsm_token_init(const struct hsm_config *cfg, const char *so_pin, const char *label,
                       const char *user_pin, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct hsm_module *m = NULL;
	struct hsm_uri u;
	struct slot_seen *before = NULL;
	CK_SLOT_ID slot = 0;
	unsigned char lab[32];
	ENSURE(cfg && so_pin && label && user_pin && label[0] && strlen(label) <= 32, C2S_ERR_ARG);
	GUARD(hsm_uri_parse(cfg->token_uri ? cfg->token_uri : "pkcs11:", &u, why, why_cap));
	GUARD(hsm_module_get(cfg, &m, why, why_cap));
	before = calloc(SLOTS_MAX, sizeof(*before));
	ENSURE(before != NULL, C2S_ERR_NOMEM);
	CK_ULONG nb = slots_list(m->f, before);
	GUARD(init_pick(before, nb, &u, &slot, why, why_cap));
	hsm_str_to_pad(label, lab, sizeof(lab));
	CK_RV rv = m->f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), lab);
	if (rv != CKR_OK) {
		HSM_LOG_RV("C_InitToken", rv);
		snprintf(why, why_cap, "C_InitToken failed: %s", c2s_err_message(hsm_rv_err(rv)));
		ret = hsm_rv_err(rv);
		goto out;
	}
	ret = init_refind(m->f, before, nb, label, &slot);
	if (ret != C2S_OK) {
		snprintf(why, why_cap, "token \"%s\" not found after initialisation", label);
		goto out;
	}
	GUARD(init_pins(m->f, slot, so_pin, user_pin, why, why_cap));
	log_info("initialised token \"%s\"", label);
out:
	free(before);
	hsm_module_put(m);
	return ret;
}

struct pin_ctx {
	const char *old_pin, *new_pin;
};

static c2s_err pin_op(struct hsm *h, struct hsm_sess *s, void *vctx, CK_RV *rv)
{
	struct pin_ctx *c = vctx;
	*rv = h->f->C_SetPIN(s->s, (CK_UTF8CHAR_PTR)c->old_pin, strlen(c->old_pin),
	                     (CK_UTF8CHAR_PTR)c->new_pin, strlen(c->new_pin));
	if (*rv != CKR_OK)
		HSM_LOG_RV("C_SetPIN", *rv);
	return hsm_rv_err(*rv);
}

c2s_err hsm_set_pin(struct hsm *h, const char *pin, size_t pin_len)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(h != NULL, C2S_ERR_ARG);
	pthread_mutex_lock(&h->login_mu);
	ret = hsm_pin_keep(&h->pin, &h->pin_len, pin, pin_len);
	if (ret == C2S_OK) {
		h->pin_state = C2S_OK;
		h->pin_worked = 0; /* a new PIN has not proved itself yet */
		if (!h->sig_pin) { /* context-specific logins use this PIN too */
			h->sig_pin_state = C2S_OK;
			h->sig_pin_worked = 0;
		}
	}
	pthread_mutex_unlock(&h->login_mu);
out:
	return ret;
}

c2s_err hsm_set_sig_pin(struct hsm *h, const char *pin, size_t pin_len)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(h != NULL, C2S_ERR_ARG);
	pthread_mutex_lock(&h->login_mu);
	ret = hsm_pin_keep(&h->sig_pin, &h->sig_pin_len, pin, pin_len);
	if (ret == C2S_OK) {
		h->sig_pin_state = C2S_OK;
		h->sig_pin_worked = 0;
	}
	pthread_mutex_unlock(&h->login_mu);
out:
	return ret;
}

c2s_err hsm_pin_change(struct hsm *h, const char *old_pin, const char *new_pin)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(h && old_pin && new_pin && new_pin[0], C2S_ERR_ARG);
	ENSURE(strlen(new_pin) < HSM_MAX_PIN, C2S_ERR_ARG);
	struct pin_ctx c = {old_pin, new_pin};
	GUARD(hsm_run(h, pin_op, &c));
	GUARD(hsm_set_pin(h, new_pin, strlen(new_pin)));
out:
	return ret;
}
