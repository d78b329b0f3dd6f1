/* Session pool, login with the one-wrong-PIN rule, and recovery after lost sessions or a
 * removed token. Every operation borrows a session through hsm_run(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hsm_int.h"

static CK_RV open_session(struct hsm *h, CK_SLOT_ID slot, CK_SESSION_HANDLE *s)
{
	CK_RV rv = h->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = h->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, s);
	return rv;
}

/* Some cards (OpenSC's CAC driver) answer a wrong PIN with CKR_GENERAL_ERROR, which is also
 * what a card pulled during the login answers. Once this PIN has logged in, a later
 * CKR_GENERAL_ERROR is the card going away, not the PIN being wrong; real wrong-PIN answers
 * (CKR_PIN_INCORRECT) still stop every further attempt. */
static int pin_refused(const struct hsm *h, CK_RV rv, int worked)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
	       rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
	       (rv == CKR_GENERAL_ERROR && h->removable && !worked);
}

/* Called with login_mu held. The context-specific login falls back to the user PIN, and
 * then also to the user PIN's refusal. */
static c2s_err login_refusal(const struct hsm *h, CK_USER_TYPE who)
{
	if (who != CKU_CONTEXT_SPECIFIC)
		return h->pin_state;
	if (h->sig_pin_state != C2S_OK)
		return h->sig_pin_state;
	return h->sig_pin ? C2S_OK : h->pin_state;
}

c2s_err hsm_login_state(struct hsm *h, CK_USER_TYPE who)
{
	pthread_mutex_lock(&h->login_mu);
	c2s_err ret = login_refusal(h, who);
	pthread_mutex_unlock(&h->login_mu);
	return ret;
}

static void log_refused(const struct hsm *h, CK_USER_TYPE who, c2s_err st)
{
	const char *what = st == C2S_ERR_HSM_PIN_LOCKED    ? "is locked"
	                   : st == C2S_ERR_HSM_PIN_EXPIRED ? "has expired"
	                                                   : "was refused";
	if (who != CKU_CONTEXT_SPECIFIC)
		log_error("the user PIN %s; no further automatic login attempts until the PIN is "
		          "corrected",
		          what);
	else
		log_error("the %s %s at the context-specific login of a CKA_ALWAYS_AUTHENTICATE "
		          "key; signatures with such keys stop until the signature PIN is "
		          "corrected, the user login and other keys are not affected",
		          h->sig_pin ? "signature PIN" : "user PIN (no signature PIN configured)",
		          what);
}

c2s_err hsm_login(struct hsm *h, CK_SESSION_HANDLE s, CK_USER_TYPE who)
{
	c2s_err ret = C2S_ERR_HSM;
	int ctx = who == CKU_CONTEXT_SPECIFIC;
	pthread_mutex_lock(&h->login_mu);
	const char *pin = ctx && h->sig_pin ? h->sig_pin : h->pin;
	size_t pin_len = ctx && h->sig_pin ? h->sig_pin_len : h->pin_len;
	int *worked = ctx ? &h->sig_pin_worked : &h->pin_worked;
	c2s_err *state = ctx ? &h->sig_pin_state : &h->pin_state;
	if (!pin) { /* no PIN configured: no login */
		ret = ctx ? C2S_ERR_HSM_NOT_LOGGED_IN : C2S_OK;
		goto out;
	}
	GUARD(login_refusal(h, who));
	CK_RV rv = h->f->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, pin_len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		if (!ctx)
			h->logged_in = 1;
		*worked = 1;
		ret = C2S_OK;
		goto out;
	}
	HSM_LOG_RV(ctx ? "C_Login(CKU_CONTEXT_SPECIFIC)" : "C_Login(CKU_USER)", rv);
	if (pin_refused(h, rv, *worked)) {
		*state = rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ? hsm_rv_err(rv)
		                                                       : C2S_ERR_HSM_PIN_INCORRECT;
		log_refused(h, who, *state);
		ret = *state;
		goto out;
	}
	ret = hsm_rv_err(rv);
out:
	pthread_mutex_unlock(&h->login_mu);
	return ret;
}

/* Close what we hold, find the token again (its slot id may have changed), open one session
 * and log in. Called with recovering=1 and no session borrowed. */
static c2s_err reopen(struct hsm *h, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_HSM_NO_TOKEN;
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_SLOT_ID slot = 0;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	for (unsigned i = 0; i < h->pool_size; i++) {
		if (h->sess[i] != CK_INVALID_HANDLE)
			(void)h->f->C_CloseSession(h->sess[i]);
		h->sess[i] = CK_INVALID_HANDLE;
	}
	h->have_slot = 0;
	h->logged_in = 0;
	GUARD(hsm_slot_find(h->f, &h->turi, &slot, &ti, why, why_cap));
	CK_RV rv = h->f->C_GetSlotInfo(slot, &si);
	h->removable = rv == CKR_OK && (si.flags & CKF_REMOVABLE_DEVICE);
	rv = open_session(h, slot, &s);
	if (rv != CKR_OK) {
		HSM_LOG_RV("C_OpenSession", rv);
		snprintf(why, why_cap, "cannot open a session on the token: %s",
		         c2s_err_message(hsm_rv_err(rv)));
		ret = hsm_rv_err(rv);
		goto out;
	}
	h->slot = slot;
	h->have_slot = 1;
	h->sess[0] = s;
	ret = hsm_login(h, s, CKU_USER);
	if (ret != C2S_OK)
		snprintf(why, why_cap, "login failed: %s", c2s_err_message(ret));
out:
	return ret;
}

c2s_err hsm_recover_from(struct hsm *h, uint64_t seen_gen, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_HSM;
	struct timespec dl;
	char tmp[HSM_WHY];
	pthread_mutex_lock(&h->mu);
	while (h->recovering && h->gen == seen_gen)
		pthread_cond_wait(&h->cv, &h->mu);
	if (h->gen != seen_gen) { /* someone else recovered meanwhile */
		ret = h->state;
		pthread_mutex_unlock(&h->mu);
		if (ret != C2S_OK)
			snprintf(why, why_cap, "token recovery failed: %s", c2s_err_message(ret));
		return ret;
	}
	h->recovering = 1;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += HSM_RECOVER_WAIT_S;
	while (h->n_busy > 0 && ret != C2S_ERR_TIMEOUT)
		if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
			ret = C2S_ERR_TIMEOUT;
	if (h->n_busy > 0) {
		h->recovering = 0;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		snprintf(why, why_cap, "token operations did not finish within %d s",
		         HSM_RECOVER_WAIT_S);
		return C2S_ERR_TIMEOUT;
	}
	pthread_mutex_unlock(&h->mu);
	tmp[0] = '\0';
	ret = reopen(h, tmp, sizeof(tmp));
	if (ret != C2S_OK)
		log_warn("token recovery: %s", tmp);
	else
		log_info("token session ready (slot %lu)", (unsigned long)h->slot);
	snprintf(why, why_cap, "%s", tmp);
	pthread_mutex_lock(&h->mu);
	h->gen++;
	h->epoch++;
	h->recovering = 0;
	h->state = ret;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return ret;
}

/* A session opened after all others were closed is logged out (the login belongs to the
 * application and ends with its last session): log in again, under the PIN rule. */
static void relogin_if_needed(struct hsm *h, CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO si;
	if (!h->pin || h->f->C_GetSessionInfo(s, &si) != CKR_OK)
		return;
	if (si.state != CKS_RO_PUBLIC_SESSION && si.state != CKS_RW_PUBLIC_SESSION)
		return;
	c2s_err r = hsm_login(h, s, CKU_USER);
	if (r != C2S_OK)
		log_warn("login on a reopened session failed: %s", c2s_err_name(r));
}

c2s_err hsm_sess_get(struct hsm *h, struct hsm_sess *s, CK_RV *rv)
{
	c2s_err ret = C2S_ERR_HSM;
	unsigned i = 0;
	*rv = CKR_OK;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		for (i = 0; !h->recovering && i < h->pool_size; i++)
			if (!h->busy[i])
				break;
		if (!h->recovering && i < h->pool_size)
			break;
		pthread_cond_wait(&h->cv, &h->mu);
	}
	h->busy[i] = 1;
	h->n_busy++;
	s->idx = i;
	s->gen = h->gen;
	s->epoch = h->epoch;
	s->s = h->sess[i];
	CK_SLOT_ID slot = h->slot;
	int have_slot = h->have_slot;
	pthread_mutex_unlock(&h->mu);
	if (s->s == CK_INVALID_HANDLE) {
		*rv = have_slot ? open_session(h, slot, &s->s) : CKR_TOKEN_NOT_PRESENT;
		if (*rv != CKR_OK) {
			if (have_slot)
				HSM_LOG_RV("C_OpenSession", *rv);
			s->s = CK_INVALID_HANDLE;
			hsm_sess_put(h, s, 0);
			ret = hsm_rv_err(*rv);
			goto out;
		}
		pthread_mutex_lock(&h->mu);
		h->sess[i] = s->s;
		pthread_mutex_unlock(&h->mu);
		relogin_if_needed(h, s->s);
	}
	ret = C2S_OK;
out:
	return ret;
}

void hsm_sess_put(struct hsm *h, struct hsm_sess *s, int bad)
{
	pthread_mutex_lock(&h->mu);
	if (bad && s->gen == h->gen && s->s != CK_INVALID_HANDLE && h->sess[s->idx] == s->s) {
		(void)h->f->C_CloseSession(s->s);
		h->sess[s->idx] = CK_INVALID_HANDLE;
		h->epoch++; /* SoftHSM2 renumbers objects once all sessions are closed */
	}
	h->busy[s->idx] = 0;
	h->n_busy--;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	s->s = CK_INVALID_HANDLE;
}

c2s_err hsm_run(struct hsm *h, hsm_op_fn op, void *ctx)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct hsm_sess s;
		CK_RV rv = CKR_OK;
		ret = hsm_sess_get(h, &s, &rv);
		if (ret == C2S_OK) {
			ret = op(h, &s, ctx, &rv);
			hsm_sess_put(h, &s, ret != C2S_OK && rv != CKR_OK);
		}
		if (ret == C2S_OK || attempt == 1 || !hsm_rv_recoverable(h, rv))
			break;
		log_warn("token operation failed with %s; recovering once", hsm_ckr_name(rv));
		c2s_err r = hsm_recover_from(h, s.gen, NULL, 0);
		if (r != C2S_OK) {
			ret = r;
			break;
		}
	}
	return ret;
}
