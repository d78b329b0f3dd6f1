/* One-time codes: drawing, keyed verifiers, the verify order (count, commit, then compare). */
#include "otp_int.h"

#include <errno.h>
#include <mbedtls/md.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "firmware/base/log.h"
#include "firmware/base/secmem.h"

#ifdef C2S_TEST_HOOKS
void (*otp_test_after_try)(void);
#endif

#define OTP_ORDER_MAX  64
#define OTP_MSG_MAX    (OTP_ORDER_MAX + 1 + 4 + OTP_MAX_DIGITS)
#define OTP_DRAW_BATCH 8
#define OTP_DRAW_MAX   64 /* batches; a rejection is at most 1 in 4.3 per draw for 9 digits */

static uint32_t otp_pow10(unsigned digits)
{
	uint32_t p = 1;
	for (unsigned i = 0; i < digits; i++)
		p *= 10;
	return p;
}

c2s_err otp_policy_check(const struct otp_policy *p, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	if (!p)
		WHY(C2S_ERR_ARG, "no OTP policy");
	if (p->digits < 4 || p->digits > OTP_MAX_DIGITS)
		WHY(C2S_ERR_ARG, "OTP digits %u: use 4 to %d", p->digits, OTP_MAX_DIGITS);
	if (p->lifetime_s < 30 || p->lifetime_s > 3600)
		WHY(C2S_ERR_ARG, "OTP lifetime %u s: use 30 to 3600", p->lifetime_s);
	if (p->max_tries < 1 || p->max_tries > 10)
		WHY(C2S_ERR_ARG, "OTP tries %u: use 1 to 10", p->max_tries);
	if (p->max_per_hour < 1 || p->max_per_hour > 20)
		WHY(C2S_ERR_ARG, "OTP codes per hour %u: use 1 to 20", p->max_per_hour);
	if (p->resend_s > 3600)
		WHY(C2S_ERR_ARG, "OTP resend interval %u s: use 0 to 3600", p->resend_s);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err otp_key_new(uint8_t **key)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t *k = secmem_alloc(OTP_KEY_LEN);
	*key = NULL;
	ENSURE(k, C2S_ERR_NOMEM);
	ssize_t n;
	do
		n = getrandom(k, OTP_KEY_LEN, 0);
	while (n < 0 && errno == EINTR);
	ENSURE(n == OTP_KEY_LEN, C2S_ERR_INTERNAL);
	*key = k;
	k = NULL;
	ret = C2S_OK;
out:
	secmem_free(k, OTP_KEY_LEN);
	return ret;
}

void otp_key_free(uint8_t *key)
{
	secmem_free(key, OTP_KEY_LEN);
}

int otp_from_u32(uint32_t r, unsigned digits, char *code)
{
	uint32_t p = otp_pow10(digits);
	uint64_t limit = ((uint64_t)1 << 32) / p * p;
	if (r >= limit)
		return -1;
	uint32_t v = r % p;
	for (unsigned i = digits; i-- > 0;) {
		code[i] = (char)('0' + v % 10);
		v /= 10;
	}
	code[digits] = 0;
	return 0;
}

c2s_err otp_draw(unsigned digits, char *code)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t r[OTP_DRAW_BATCH];
	ENSURE(digits >= 1 && digits <= OTP_MAX_DIGITS && code, C2S_ERR_ARG);
	for (int batch = 0; batch < OTP_DRAW_MAX; batch++) {
		ssize_t n;
		do
			n = getrandom(r, sizeof(r), 0);
		while (n < 0 && errno == EINTR);
		ENSURE(n == (ssize_t)sizeof(r), C2S_ERR_INTERNAL);
		for (size_t i = 0; i < OTP_DRAW_BATCH; i++) {
			if (otp_from_u32(r[i], digits, code) == 0) {
				ret = C2S_OK;
				goto out;
			}
		}
	}
	log_error("getrandom gave %d rejected batches in a row", OTP_DRAW_MAX);
out:
	explicit_bzero(r, sizeof(r));
	if (ret != C2S_OK && code)
		explicit_bzero(code, digits + 1);
	return ret;
}

struct otp_mac_ctx {
	const uint8_t *key;
	const char *order;
	const char *code;
	unsigned digits;
};

/* HMAC-SHA256(key, order || 0x00 || seq (u32 BE) || code), the message built in secmem. */
static c2s_err otp_mac(const struct otp_mac_ctx *c, uint32_t seq, uint8_t mac[KH_MAC_LEN])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t olen = strnlen(c->order, OTP_ORDER_MAX + 1), n = 0;
	uint8_t *msg = secmem_alloc(OTP_MSG_MAX);
	ENSURE(msg, C2S_ERR_NOMEM);
	ENSURE(olen >= 1 && olen <= OTP_ORDER_MAX && c->digits <= OTP_MAX_DIGITS, C2S_ERR_ARG);
	memcpy(msg, c->order, olen);
	n = olen;
	msg[n++] = 0;
	msg[n++] = (uint8_t)(seq >> 24);
	msg[n++] = (uint8_t)(seq >> 16);
	msg[n++] = (uint8_t)(seq >> 8);
	msg[n++] = (uint8_t)seq;
	memcpy(msg + n, c->code, c->digits);
	n += c->digits;
	ENSURE(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), c->key, OTP_KEY_LEN,
	                       msg, n, mac) == 0,
	       C2S_ERR_INTERNAL);
	ret = C2S_OK;
out:
	secmem_free(msg, OTP_MSG_MAX);
	return ret;
}

static c2s_err otp_mac_cb(void *ctx, uint32_t seq, uint8_t mac[KH_MAC_LEN])
{
	return otp_mac(ctx, seq, mac);
}

static struct khstore_otp_rules otp_rules(const struct otp_policy *p)
{
	return (struct khstore_otp_rules){.resend_s = p->resend_s,
	                                  .max_per_hour = p->max_per_hour,
	                                  .lifetime_s = p->lifetime_s,
	                                  .max_tries = p->max_tries};
}

c2s_err otp_issue(struct khstore *ks, const struct otp_policy *p, const uint8_t *key,
                  const char *order, int64_t now, char *code, int64_t *retry_after, char *why,
                  size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	*retry_after = 0;
	ENSURE(code, C2S_ERR_ARG);
	GUARD(otp_policy_check(p, why, why_cap));
	ENSURE(key && order, C2S_ERR_ARG);
	GUARD(otp_draw(p->digits, code));
	struct otp_mac_ctx c = {.key = key, .order = order, .code = code, .digits = p->digits};
	struct khstore_otp_rules r = otp_rules(p);
	GUARD(khstore_otp_issue(ks, order, now, &r, otp_mac_cb, &c, retry_after, why, why_cap));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && code && p && p->digits <= OTP_MAX_DIGITS)
		explicit_bzero(code, p->digits + 1);
	return ret;
}

/* Exactly `digits` ASCII digits. */
static int otp_well_formed(const char *code, unsigned digits)
{
	if (strnlen(code, digits + 1) != digits)
		return 0;
	for (unsigned i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return 1;
}

c2s_err otp_verify(struct khstore *ks, const struct otp_policy *p, const uint8_t *key,
                   const char *order, const char *code, int64_t now, unsigned *tries_left)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t stored[KH_MAC_LEN], got[KH_MAC_LEN];
	uint32_t seq = 0;
	*tries_left = 0;
	ENSURE(otp_policy_check(p, NULL, 0) == C2S_OK && key && order && code, C2S_ERR_ARG);
	struct khstore_otp_rules r = otp_rules(p);
	/* 1. take the try and commit it: a kill from here on has cost the attacker the try */
	GUARD(khstore_otp_take_try(ks, order, now, &r, &seq, stored, tries_left));
#ifdef C2S_TEST_HOOKS
	if (otp_test_after_try)
		otp_test_after_try();
#endif
	/* 2. only then compare */
	ENSURE(otp_well_formed(code, p->digits), C2S_ERR_OTP_WRONG);
	struct otp_mac_ctx c = {.key = key, .order = order, .code = code, .digits = p->digits};
	GUARD(otp_mac(&c, seq, got));
	ENSURE(secmem_cmp(got, stored, KH_MAC_LEN) == 0, C2S_ERR_OTP_WRONG);
	/* 3. single use: the code is gone before success is reported */
	GUARD(khstore_otp_consume(ks, order, seq));
	ret = C2S_OK;
out:
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(got, sizeof(got));
	return ret;
}
