/* hsm_open / hsm_close / hsm_token_info / hsm_recover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm_int.h"
#include "firmware/base/secmem.h"

static c2s_err open_check(const struct hsm_config *cfg, char *why, size_t why_cap)
{
	if (!cfg || !cfg->module_path) {
		snprintf(why, why_cap, "no PKCS#11 module configured");
		return C2S_ERR_CONFIG;
	}
	if (cfg->pool_size < 1 || cfg->pool_size > HSM_POOL_MAX) {
		snprintf(why, why_cap, "pool_size %u out of range 1..%d", cfg->pool_size,
		         HSM_POOL_MAX);
		return C2S_ERR_CONFIG;
	}
	if (cfg->pin && (cfg->pin_len == 0 || cfg->pin_len >= HSM_MAX_PIN)) {
		snprintf(why, why_cap, "PIN length %zu out of range 1..%d", cfg->pin_len,
		         HSM_MAX_PIN - 1);
		return C2S_ERR_CONFIG;
	}
	if (cfg->sig_pin && (cfg->sig_pin_len == 0 || cfg->sig_pin_len >= HSM_MAX_PIN)) {
		snprintf(why, why_cap, "signature PIN length %zu out of range 1..%d",
		         cfg->sig_pin_len, HSM_MAX_PIN - 1);
		return C2S_ERR_CONFIG;
	}
	return C2S_OK;
}

c2s_err hsm_pin_keep(char **dst, size_t *dst_len, const char *pin, size_t len)
{
	c2s_err ret = C2S_ERR_ARG;
	ENSURE(pin && len > 0 && len < HSM_MAX_PIN, C2S_ERR_ARG);
	if (!*dst)
		*dst = secmem_alloc(HSM_MAX_PIN);
	ENSURE(*dst != NULL, C2S_ERR_NOMEM);
	explicit_bzero(*dst, HSM_MAX_PIN);
	memcpy(*dst, pin, len);
	*dst_len = len;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err hsm_alloc(const struct hsm_config *cfg, struct hsm **out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_NOMEM;
	struct hsm *h = calloc(1, sizeof(*h));
	ENSURE(h != NULL, C2S_ERR_NOMEM);
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->login_mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->pool_size = cfg->pool_size;
	h->state = C2S_OK;
	h->pin_state = C2S_OK;
	h->sig_pin_state = C2S_OK;
	*out = h;
	GUARD(hsm_uri_parse(cfg->token_uri ? cfg->token_uri : "pkcs11:", &h->turi, why, why_cap));
	if (cfg->pin)
		GUARD(hsm_pin_keep(&h->pin, &h->pin_len, cfg->pin, cfg->pin_len));
	if (cfg->sig_pin)
		GUARD(hsm_pin_keep(&h->sig_pin, &h->sig_pin_len, cfg->sig_pin, cfg->sig_pin_len));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err hsm_open(const struct hsm_config *cfg, struct hsm **out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct hsm *h = NULL;
	char tmp[HSM_WHY] = "";
	*out = NULL;
	if (why && why_cap)
		why[0] = '\0';
	GUARD(open_check(cfg, why, why_cap));
	GUARD(hsm_alloc(cfg, &h, why, why_cap));
	GUARD(hsm_module_get(cfg, &h->mod, why, why_cap));
	h->f = h->mod->f;
	ret = hsm_recover_from(h, 0, tmp, sizeof(tmp));
	if (ret == C2S_ERR_HSM_PIN_INCORRECT || ret == C2S_ERR_HSM_PIN_LOCKED ||
	    ret == C2S_ERR_HSM_PIN_EXPIRED) {
		/* Stay open so the state can be reported; no further automatic logins. */
		log_error("token opened without login: %s", tmp);
		ret = C2S_OK;
	} else if ((ret == C2S_ERR_HSM_NO_TOKEN || ret == C2S_ERR_HSM_REMOVED) &&
	           cfg->allow_absent) {
		log_warn("token not present yet: %s", tmp);
		ret = C2S_OK;
	} else if (ret != C2S_OK) {
		snprintf(why, why_cap, "%s", tmp);
		goto out;
	}
	*out = h;
	h = NULL;
out:
	hsm_close(h);
	return ret;
}

void hsm_absent_reason(struct hsm *h, char *why, size_t cap)
{
	CK_SLOT_ID slot;
	CK_TOKEN_INFO t;
	if (!why || !cap)
		return;
	why[0] = 0;
	if (h && h->f && hsm_slot_find(h->f, &h->turi, &slot, &t, why, cap) == C2S_OK)
		snprintf(why, cap, "a matching token is present now");
}

void hsm_close(struct hsm *h)
{
	if (!h)
		return;
	if (h->mod) {
		for (unsigned i = 0; i < h->pool_size; i++)
			if (h->sess[i] != CK_INVALID_HANDLE)
				(void)h->f->C_CloseSession(h->sess[i]);
		hsm_module_put(h->mod);
	}
	if (h->pin)
		secmem_free(h->pin, HSM_MAX_PIN);
	if (h->sig_pin)
		secmem_free(h->sig_pin, HSM_MAX_PIN);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->login_mu);
	pthread_cond_destroy(&h->cv);
	explicit_bzero(h, sizeof(*h));
	free(h);
}

static void token_fill(struct hsm *h, CK_SLOT_ID slot, struct hsm_token_info *ti)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO t;
	CK_RV rv = h->f->C_GetSlotInfo(slot, &si);
	if (rv != CKR_OK) {
		log_debug("C_GetSlotInfo: %s", hsm_ckr_name(rv));
		return;
	}
	hsm_pad_to_str(si.slotDescription, sizeof(si.slotDescription), ti->slot_description,
	               sizeof(ti->slot_description));
	ti->removable = (si.flags & CKF_REMOVABLE_DEVICE) != 0;
	if (!(si.flags & CKF_TOKEN_PRESENT))
		return;
	rv = h->f->C_GetTokenInfo(slot, &t);
	if (rv != CKR_OK) {
		log_debug("C_GetTokenInfo: %s", hsm_ckr_name(rv));
		return;
	}
	ti->present = 1;
	hsm_pad_to_str(t.label, sizeof(t.label), ti->label, sizeof(ti->label));
	hsm_pad_to_str(t.manufacturerID, sizeof(t.manufacturerID), ti->manufacturer,
	               sizeof(ti->manufacturer));
	hsm_pad_to_str(t.model, sizeof(t.model), ti->model, sizeof(ti->model));
	hsm_pad_to_str(t.serialNumber, sizeof(t.serialNumber), ti->serial, sizeof(ti->serial));
}

c2s_err hsm_token_info(struct hsm *h, struct hsm_token_info *ti)
{
	c2s_err ret = C2S_ERR_ARG;
	CK_TOKEN_INFO t;
	char why[HSM_WHY];
	ENSURE(h && ti, C2S_ERR_ARG);
	memset(ti, 0, sizeof(*ti));
	pthread_mutex_lock(&h->mu);
	while (h->recovering)
		pthread_cond_wait(&h->cv, &h->mu);
	CK_SLOT_ID slot = h->slot;
	int have = h->have_slot;
	ti->logged_in = h->logged_in;
	pthread_mutex_unlock(&h->mu);
	pthread_mutex_lock(&h->login_mu); /* the PIN states change under it */
	ti->pin_state = h->pin_state;
	ti->sig_pin_state = h->sig_pin_state;
	ti->has_sig_pin = h->sig_pin != NULL;
	pthread_mutex_unlock(&h->login_mu);
	/* Not open: is it back (possibly in another slot)? */
	if (!have && hsm_slot_find(h->f, &h->turi, &slot, &t, why, sizeof(why)) != C2S_OK) {
		ti->logged_in = 0;
		ret = C2S_OK;
		goto out;
	}
	ti->slot_id = slot;
	token_fill(h, slot, ti);
	if (!ti->present || !have)
		ti->logged_in = 0;
	ret = C2S_OK;
out:
	return ret;
}

c2s_err hsm_recover(struct hsm *h, char *why, size_t why_cap)
{
	pthread_mutex_lock(&h->mu);
	uint64_t gen = h->gen;
	pthread_mutex_unlock(&h->mu);
	return hsm_recover_from(h, gen, why, why_cap);
}
