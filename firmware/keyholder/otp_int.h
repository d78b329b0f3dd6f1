/* One-time codes for signature activation. Private to firmware/keyholder/.
 *
 * The keyholder draws each code (getrandom, rejection sampling) and keeps only
 * HMAC-SHA256(key, order || 0x00 || seq (u32 big-endian) || code), where key is a per-process
 * secret (otp_key_new): a code issued before a keyholder restart no longer verifies (the customer
 * asks for a new one), while every counter survives in the store. The order id binds the code to
 * the order's manifest, hence to its signer and document hashes (one manifest per order).
 *
 * Refusals with no live manifest (none, ended, or past order_expires) are C2S_ERR_NOT_FOUND.
 * A code is never logged; the clear code only lives in secmem. */
#ifndef C2S_OTP_INT_H
#define C2S_OTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/err.h"
#include "khstore_int.h"

#define OTP_KEY_LEN    32
#define OTP_MAX_DIGITS 9 /* 10^9 < 2^32: one u32 per draw */

struct otp_policy {
	unsigned digits;       /* code length, 4..OTP_MAX_DIGITS */
	unsigned lifetime_s;   /* a code is valid for [issued, issued + lifetime_s) */
	unsigned max_tries;    /* comparisons per code */
	unsigned max_per_hour; /* codes per order in any trailing hour; comparisons are capped at
	                        * max_tries * max_per_hour in any trailing hour too */
	unsigned resend_s;     /* minimum gap between two codes for an order */
};
#define OTP_POLICY_DEFAULTS                                                                        \
	{                                                                                          \
		.digits = 6, .lifetime_s = 300, .max_tries = 3, .max_per_hour = 5, .resend_s = 30  \
	}

/* C2S_ERR_ARG with a reason when a policy is outside its sane bounds. */
C2S_MUST_CHECK c2s_err otp_policy_check(const struct otp_policy *p, char *why, size_t why_cap);

/* 32 random bytes in secmem; free with otp_key_free. */
C2S_MUST_CHECK c2s_err otp_key_new(uint8_t **key);
void otp_key_free(uint8_t *key);

/* Draws a new code for an order with a live manifest and stores its verifier, replacing the
 * previous code. `code` (secmem, at least digits + 1 bytes) gets the digits for the SMS; on any
 * failure it is wiped. C2S_ERR_OTP_TOO_SOON / C2S_ERR_OTP_LIMIT set *retry_after to the unix time
 * from which that rule allows a new code. Committed before it returns. */
C2S_MUST_CHECK c2s_err otp_issue(struct khstore *ks, const struct otp_policy *p, const uint8_t *key,
                                 const char *order, int64_t now, char *code, int64_t *retry_after,
                                 char *why, size_t why_cap);

/* Checks a presented code. C2S_ERR_OTP_NONE (no code), C2S_ERR_OTP_EXPIRED (now >= expiry),
 * C2S_ERR_OTP_EXHAUSTED (no tries left), C2S_ERR_OTP_LIMIT (hourly comparisons used up) and
 * C2S_ERR_NOT_FOUND compare nothing. Otherwise one try is taken and committed FIRST, then the
 * code is compared in constant time: C2S_OK (the code is deleted: single use) or
 * C2S_ERR_OTP_WRONG. A code that is not exactly `digits` ASCII digits is a wrong try.
 * *tries_left is what remains for this code after the call. */
C2S_MUST_CHECK c2s_err otp_verify(struct khstore *ks, const struct otp_policy *p,
                                  const uint8_t *key, const char *order, const char *code,
                                  int64_t now, unsigned *tries_left);

/* --- exposed for tests --- */

/* Draws one code of `digits` digits into code[digits + 1]. */
C2S_MUST_CHECK c2s_err otp_draw(unsigned digits, char *code);
/* Maps one random u32 to a code: 0 and the digits when r is below the largest multiple of
 * 10^digits that fits in 2^32, -1 (reject, draw again) otherwise. */
int otp_from_u32(uint32_t r, unsigned digits, char *code);

#ifdef C2S_TEST_HOOKS
/* Called by otp_verify after the try was committed and before the comparison. */
extern void (*otp_test_after_try)(void);
#endif

#endif
