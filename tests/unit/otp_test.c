/* One-time codes: issue and verify, the counters (tries, resend gap, hourly limit), expiry,
 * single use, malformed codes, the draw's uniformity, counters that survive SIGKILL, a bounded
 * guessing attack, and an unusable store. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "firmware/base/secmem.h"
#include "firmware/keyholder/otp_int.h"
#include "kh_test_common.h"

#define DAY      86400
#define CODE_CAP 16

struct fx {
	char base[256];
	char dir[300];
	struct khstore *ks;
	uint8_t *key;
	char *code; /* secmem */
	struct otp_policy pol;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char why[512] = "";
	struct kh_manifest m;
	if (!f || !kh_tmpdir(f->base, sizeof(f->base)))
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/kh", f->base);
	f->pol = (struct otp_policy)OTP_POLICY_DEFAULTS;
	if (khstore_open(f->dir, &f->ks, why, sizeof(why)) != C2S_OK ||
	    otp_key_new(&f->key) != C2S_OK || !(f->code = secmem_alloc(CODE_CAP)))
		return -1;
	kh_manifest_fill(&m, "order-1", "jti-1", 2, T0 + 40 * DAY);
	if (khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)) != C2S_OK)
		return -1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	khstore_close(f->ks);
	otp_key_free(f->key);
	secmem_free(f->code, CODE_CAP);
	kh_rmtree(f->base);
	free(f);
	return 0;
}

static c2s_err issue(struct fx *f, int64_t now, int64_t *retry_after)
{
	int64_t ra = -1;
	char why[256] = "";
	c2s_err e = otp_issue(f->ks, &f->pol, f->key, "order-1", now, f->code,
	                      retry_after ? retry_after : &ra, why, sizeof(why));
	return e;
}

static c2s_err verify(struct fx *f, const char *code, int64_t now, unsigned *left)
{
	unsigned l = 99;
	return otp_verify(f->ks, &f->pol, f->key, "order-1", code, now, left ? left : &l);
}

/* The issued code with its last digit changed: certainly wrong. */
static void wrong_of(const char *code, char *out, size_t cap)
{
	snprintf(out, cap, "%s", code);
	size_t n = strlen(out);
	out[n - 1] = (char)('0' + (out[n - 1] - '0' + 1) % 10);
}

static unsigned tries_now(struct fx *f)
{
	struct kh_otp_state s;
	assert_int_equal(khstore_otp_state(f->ks, "order-1", &s), C2S_OK);
	return s.tries_left;
}

/* ---- the basic life of a code ---- */

static void issue_then_verify_once(void **state)
{
	struct fx *f = *state;
	unsigned left = 99;
	assert_int_equal(verify(f, "123456", T0, &left), C2S_ERR_OTP_NONE);
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	assert_int_equal(strlen(f->code), 6);
	for (int i = 0; i < 6; i++)
		assert_true(f->code[i] >= '0' && f->code[i] <= '9');
	struct kh_otp_state s;
	assert_int_equal(khstore_otp_state(f->ks, "order-1", &s), C2S_OK);
	assert_int_equal(s.issued_at, T0);
	assert_int_equal(s.expires_at, T0 + 300);
	assert_int_equal(s.tries_left, 3);
	assert_int_equal(verify(f, f->code, T0 + 10, &left), C2S_OK);
	assert_int_equal(left, 2);
	/* single use */
	assert_int_equal(verify(f, f->code, T0 + 11, &left), C2S_ERR_OTP_NONE);
	assert_int_equal(khstore_otp_state(f->ks, "order-1", &s), C2S_ERR_OTP_NONE);
}

static void wrong_codes_then_exhausted(void **state)
{
	struct fx *f = *state;
	char wrong[CODE_CAP];
	unsigned left = 99;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	wrong_of(f->code, wrong, sizeof(wrong));
	assert_int_equal(verify(f, wrong, T0 + 1, &left), C2S_ERR_OTP_WRONG);
	assert_int_equal(left, 2);
	assert_int_equal(verify(f, wrong, T0 + 2, &left), C2S_ERR_OTP_WRONG);
	assert_int_equal(left, 1);
	assert_int_equal(verify(f, wrong, T0 + 3, &left), C2S_ERR_OTP_WRONG);
	assert_int_equal(left, 0);
	/* no more comparisons, not even for the right code */
	assert_int_equal(verify(f, f->code, T0 + 4, &left), C2S_ERR_OTP_EXHAUSTED);
	assert_int_equal(left, 0);
	assert_int_equal(tries_now(f), 0);
}

static void expiry_at_the_lifetime_boundary(void **state)
{
	struct fx *f = *state;
	unsigned left = 99;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	assert_int_equal(verify(f, f->code, T0 + 300, &left), C2S_ERR_OTP_EXPIRED);
	assert_int_equal(verify(f, f->code, T0 + 301, &left), C2S_ERR_OTP_EXPIRED);
	assert_int_equal(tries_now(f), 3); /* an expired code costs no try */
	assert_int_equal(issue(f, T0 + 300, NULL), C2S_OK);
	assert_int_equal(verify(f, f->code, T0 + 300 + 299, &left), C2S_OK);
}

static void resend_too_soon(void **state)
{
	struct fx *f = *state;
	int64_t ra = 0;
	char first[CODE_CAP];
	unsigned left = 99;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	snprintf(first, sizeof(first), "%s", f->code);
	assert_int_equal(issue(f, T0 + 29, &ra), C2S_ERR_OTP_TOO_SOON);
	assert_int_equal(ra, T0 + 30);
	assert_int_equal(f->code[0], 0); /* no code handed out on a refusal */
	/* the refused request did not replace or reset the code */
	assert_int_equal(verify(f, first, T0 + 29, &left), C2S_OK);
	assert_int_equal(issue(f, T0 + 30, &ra), C2S_OK);
}

static void hourly_limit(void **state)
{
	struct fx *f = *state;
	int64_t ra = 0;
	for (int i = 0; i < 5; i++)
		assert_int_equal(issue(f, T0 + 30 * i, NULL), C2S_OK);
	assert_int_equal(issue(f, T0 + 150, &ra), C2S_ERR_OTP_LIMIT);
	assert_int_equal(ra, T0 + 3600); /* when the first leaves the trailing hour */
	assert_int_equal(issue(f, T0 + 3599, &ra), C2S_ERR_OTP_LIMIT);
	assert_int_equal(ra, T0 + 3600);
	assert_int_equal(issue(f, T0 + 3600, &ra), C2S_OK);
	/* the resend gap is checked first */
	assert_int_equal(issue(f, T0 + 3629, &ra), C2S_ERR_OTP_TOO_SOON);
	assert_int_equal(ra, T0 + 3630);
	/* the window slides: T0 + 30 ... T0 + 120 leave it one by one */
	for (int i = 1; i <= 4; i++)
		assert_int_equal(issue(f, T0 + 3600 + 30 * i, NULL), C2S_OK);
	assert_int_equal(issue(f, T0 + 3750, &ra), C2S_ERR_OTP_LIMIT);
	assert_int_equal(ra, T0 + 7200); /* the five codes of T0 + 3600 ... T0 + 3720 */
}

static void a_new_code_invalidates_the_old(void **state)
{
	struct fx *f = *state;
	char old[CODE_CAP];
	unsigned left = 99;
	int64_t now = T0;
	assert_int_equal(issue(f, now, NULL), C2S_OK);
	snprintf(old, sizeof(old), "%s", f->code);
	do { /* a new draw equal to the old one (1 in 10^6) would prove nothing */
		now += 30;
		assert_int_equal(issue(f, now, NULL), C2S_OK);
	} while (strcmp(old, f->code) == 0);
	assert_int_equal(verify(f, old, now + 1, &left), C2S_ERR_OTP_WRONG);
	assert_int_equal(left, 2);
	assert_int_equal(verify(f, f->code, now + 2, &left), C2S_OK);
}

static void malformed_codes_count_as_tries(void **state)
{
	struct fx *f = *state;
	const char *bad[] = {"",       "12345",    "1234567", "12a456",
	                     " 12345", "123456\n", "-12345",  "１２３４５６"};
	size_t n = sizeof(bad) / sizeof(bad[0]);
	unsigned left = 99;
	f->pol.max_tries = 10;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(verify(f, bad[i], T0 + 1, &left), C2S_ERR_OTP_WRONG);
		assert_int_equal(left, 10 - 1 - i);
	}
	/* a code with the right digits plus trailing garbage is not the code */
	char longer[CODE_CAP];
	snprintf(longer, sizeof(longer), "%s0", f->code);
	assert_int_equal(verify(f, longer, T0 + 1, &left), C2S_ERR_OTP_WRONG);
	assert_int_equal(tries_now(f), 10 - n - 1);
	assert_int_equal(verify(f, f->code, T0 + 2, &left), C2S_OK);
	assert_int_equal(verify(f, NULL, T0 + 2, &left), C2S_ERR_ARG);
}

static void order_must_be_live(void **state)
{
	struct fx *f = *state;
	struct kh_manifest m;
	char why[256] = "";
	int64_t ra = 0;
	unsigned left = 0;
	assert_int_equal(
	    otp_issue(f->ks, &f->pol, f->key, "order-9", T0, f->code, &ra, why, sizeof(why)),
	    C2S_ERR_NOT_FOUND);
	assert_string_equal(why, "the order has no manifest");
	/* an order that expires */
	kh_manifest_fill(&m, "order-2", "jti-2", 1, T0 + 100);
	assert_int_equal(khstore_manifest_put(f->ks, &m, T0, why, sizeof(why)), C2S_OK);
	assert_int_equal(
	    otp_issue(f->ks, &f->pol, f->key, "order-2", T0 + 99, f->code, &ra, why, sizeof(why)),
	    C2S_OK);
	assert_int_equal(otp_verify(f->ks, &f->pol, f->key, "order-2", f->code, T0 + 100, &left),
	                 C2S_ERR_NOT_FOUND);
	assert_int_equal(
	    otp_issue(f->ks, &f->pol, f->key, "order-2", T0 + 200, f->code, &ra, why, sizeof(why)),
	    C2S_ERR_NOT_FOUND);
	assert_string_equal(why, "the order has expired");
	/* an order that ended: its code is gone, no new one */
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	assert_int_equal(khstore_manifest_end(f->ks, "order-1"), C2S_OK);
	assert_int_equal(verify(f, f->code, T0 + 1, &left), C2S_ERR_NOT_FOUND);
	assert_int_equal(issue(f, T0 + 60, NULL), C2S_ERR_NOT_FOUND);
	struct kh_otp_state s;
	assert_int_equal(khstore_otp_state(f->ks, "order-1", &s), C2S_ERR_OTP_NONE);
}

static void a_new_key_voids_old_codes(void **state)
{
	struct fx *f = *state;
	uint8_t *key2 = NULL;
	unsigned left = 99;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	assert_int_equal(otp_key_new(&key2), C2S_OK);
	assert_memory_not_equal(key2, f->key, OTP_KEY_LEN);
	/* the keyholder restarted: same store, new key */
	assert_int_equal(otp_verify(f->ks, &f->pol, key2, "order-1", f->code, T0 + 1, &left),
	                 C2S_ERR_OTP_WRONG);
	assert_int_equal(left, 2);
	otp_key_free(key2);
}

static void policy_bounds(void **state)
{
	(void)state;
	struct otp_policy p = OTP_POLICY_DEFAULTS;
	char why[128] = "";
	assert_int_equal(otp_policy_check(&p, why, sizeof(why)), C2S_OK);
	p.digits = 3;
	assert_int_equal(otp_policy_check(&p, why, sizeof(why)), C2S_ERR_ARG);
	assert_non_null(strstr(why, "digits 3"));
	p = (struct otp_policy)OTP_POLICY_DEFAULTS;
	p.digits = 10;
	assert_int_equal(otp_policy_check(&p, why, sizeof(why)), C2S_ERR_ARG);
	p = (struct otp_policy)OTP_POLICY_DEFAULTS;
	p.max_tries = 0;
	assert_int_equal(otp_policy_check(&p, why, sizeof(why)), C2S_ERR_ARG);
	p = (struct otp_policy)OTP_POLICY_DEFAULTS;
	p.max_per_hour = 0;
	assert_int_equal(otp_policy_check(&p, why, sizeof(why)), C2S_ERR_ARG);
}

/* ---- the draw ---- */

static void rejection_sampling_boundaries(void **state)
{
	(void)state;
	char c[CODE_CAP];
	/* 2^32 = 4294967296: the largest multiple of 10^6 below it is 4294000000 */
	assert_int_equal(otp_from_u32(0, 6, c), 0);
	assert_string_equal(c, "000000");
	assert_int_equal(otp_from_u32(1234567, 6, c), 0);
	assert_string_equal(c, "234567");
	assert_int_equal(otp_from_u32(4293999999u, 6, c), 0);
	assert_string_equal(c, "999999");
	assert_int_equal(otp_from_u32(4294000000u, 6, c), -1);
	assert_int_equal(otp_from_u32(UINT32_MAX, 6, c), -1);
	/* 9 digits: 4 * 10^9 */
	assert_int_equal(otp_from_u32(3999999999u, 9, c), 0);
	assert_string_equal(c, "999999999");
	assert_int_equal(otp_from_u32(4000000000u, 9, c), -1);
}

typedef c2s_err (*gen_fn)(unsigned digits, char *code);

static c2s_err gen_otp(unsigned digits, char *code)
{
	return otp_draw(digits, code);
}

/* Broken on purpose: 16 random bits reduced modulo 10^6. */
static c2s_err gen_mod16(unsigned digits, char *code)
{
	uint16_t r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		return C2S_ERR_INTERNAL;
	return otp_from_u32(r, digits, code) == 0 ? C2S_OK : C2S_ERR_INTERNAL;
}

/* Broken on purpose: always the same code. */
static c2s_err gen_const(unsigned digits, char *code)
{
	return otp_from_u32(424242, digits, code) == 0 ? C2S_OK : C2S_ERR_INTERNAL;
}

/* The largest chi-square statistic (9 degrees of freedom) over the digit positions of n codes. */
static double chi_square_max(gen_fn gen, unsigned digits, int n)
{
	unsigned count[OTP_MAX_DIGITS][10] = {{0}};
	char c[CODE_CAP];
	for (int i = 0; i < n; i++) {
		assert_int_equal(gen(digits, c), C2S_OK);
		assert_int_equal(strlen(c), digits);
		for (unsigned p = 0; p < digits; p++)
			count[p][c[p] - '0']++;
	}
	double e = n / 10.0, worst = 0;
	for (unsigned p = 0; p < digits; p++) {
		double chi = 0;
		for (int d = 0; d < 10; d++)
			chi += (count[p][d] - e) * (count[p][d] - e) / e;
		worst = chi > worst ? chi : worst;
	}
	return worst;
}

/* P(chi2 with 9 df > 40) ~ 7e-6 per position: a good generator fails about once in 20,000 runs;
 * the broken generators land in the tens of thousands. */
#define CHI_BOUND 40.0

static void draws_are_uniform(void **state)
{
	(void)state;
	double good = chi_square_max(gen_otp, 6, 20000);
	print_message("chi-square max over 6 positions, 20000 codes: %.1f (bound %.0f)\n", good,
	              CHI_BOUND);
	assert_true(good < CHI_BOUND);
	assert_true(chi_square_max(gen_mod16, 6, 20000) > CHI_BOUND);
	assert_true(chi_square_max(gen_const, 6, 20000) > CHI_BOUND);
	/* 9 digits too (the bound on the rejection region differs) */
	assert_true(chi_square_max(gen_otp, 9, 20000) < CHI_BOUND);
}

/* ---- counters survive SIGKILL ---- */

static int g_pipe = -1;

__attribute__((unused)) static void stop_before_compare(void)
{
	char c = 'h';
	if (write(g_pipe, &c, 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* A separate process opens the store, verifies `code` (stopping after the committed try when
 * `hook`), reports, and is SIGKILLed. Returns what it reported. */
static char killed_verifier(struct fx *f, const char *code, int64_t now, int hook)
{
	int p[2];
	char c = 0;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct khstore *ks = NULL;
		char why[256];
		unsigned left = 0;
		close(p[0]);
		if (khstore_open(f->dir, &ks, why, sizeof(why)) != C2S_OK)
			_exit(2);
		(void)hook;
#ifdef C2S_TEST_HOOKS
		if (hook) {
			g_pipe = p[1];
			otp_test_after_try = stop_before_compare;
		}
#endif
		c2s_err e = otp_verify(ks, &f->pol, f->key, "order-1", code, now, &left);
		c = e == C2S_ERR_OTP_WRONG ? 'w' : e == C2S_OK ? 'o' : 'x';
		if (write(p[1], &c, 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	return c;
}

static void tries_survive_sigkill(void **state)
{
	struct fx *f = *state;
	char why[256], wrong[CODE_CAP];
	unsigned left = 0;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	wrong_of(f->code, wrong, sizeof(wrong));
	/* the keyholder's own handle is closed: the child is the only user, as after a restart */
	khstore_close(f->ks);
	f->ks = NULL;
	assert_int_equal(killed_verifier(f, wrong, T0 + 1, 0), 'w');
	assert_int_equal(khstore_open(f->dir, &f->ks, why, sizeof(why)), C2S_OK);
	assert_int_equal(tries_now(f), 2);
#ifdef C2S_TEST_HOOKS
	/* killed after the try was committed and before the comparison, with the RIGHT code:
	 * the try is spent all the same */
	khstore_close(f->ks);
	f->ks = NULL;
	assert_int_equal(killed_verifier(f, f->code, T0 + 2, 1), 'h');
	assert_int_equal(khstore_open(f->dir, &f->ks, why, sizeof(why)), C2S_OK);
	assert_int_equal(tries_now(f), 1);
	assert_int_equal(verify(f, f->code, T0 + 3, &left), C2S_OK);
	assert_int_equal(left, 0);
#else
	(void)left;
	print_message("C2S_TEST_HOOKS off: the kill-before-compare half is not run\n");
#endif
}

/* ---- a guessing attack ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* 100,000 wrong guesses; a new code whenever the attacker asks and the policy allows, tries
 * sometimes held back so that a code's tries fall into the next hour. At most
 * max_tries * max_per_hour comparisons in ANY 3600 s window, and never a success. */
static void guessing_is_bounded(void **state)
{
	struct fx *f = *state;
	enum { N = 100000 };
	int64_t *cmp_at = calloc(N, sizeof(*cmp_at));
	size_t ncmp = 0;
	unsigned n_ok = 0, n_wrong = 0, n_exh = 0, n_exp = 0, n_none = 0, n_limit = 0;
	unsigned issued = 0, refused = 0, left = 0;
	char guess[CODE_CAP] = "000000";
	uint64_t rnd = 0x9e3779b97f4a7c15ull;
	int64_t now = T0;
	assert_non_null(cmp_at);
	for (int i = 0; i < N; i++) {
		now += (int64_t)(xorshift(&rnd) % 41);
		if (xorshift(&rnd) % 3 == 0) {
			c2s_err e = issue(f, now, NULL);
			if (e == C2S_OK) {
				issued++;
				wrong_of(f->code, guess, sizeof(guess));
			} else {
				assert_true(e == C2S_ERR_OTP_TOO_SOON || e == C2S_ERR_OTP_LIMIT);
				refused++;
			}
		}
		switch (verify(f, guess, now, &left)) {
		case C2S_OK:
			n_ok++;
			cmp_at[ncmp++] = now;
			break;
		case C2S_ERR_OTP_WRONG:
			n_wrong++;
			cmp_at[ncmp++] = now;
			break;
		case C2S_ERR_OTP_EXHAUSTED:
			n_exh++;
			break;
		case C2S_ERR_OTP_EXPIRED:
			n_exp++;
			break;
		case C2S_ERR_OTP_NONE:
			n_none++;
			break;
		case C2S_ERR_OTP_LIMIT:
			n_limit++;
			break;
		default:
			fail_msg("unexpected result at call %d", i);
		}
	}
	qsort(cmp_at, ncmp, sizeof(*cmp_at), cmp_i64);
	size_t worst = 0;
	for (size_t i = 0, j = 0; i < ncmp; i++) {
		while (j < ncmp && cmp_at[j] < cmp_at[i] + 3600)
			j++;
		worst = j - i > worst ? j - i : worst;
	}
	free(cmp_at);
	double hours = (double)(now - T0) / 3600;
	print_message("%.0f simulated hours: %u codes issued, %u refused; verify: %u ok, %u wrong, "
	              "%u exhausted, %u expired, %u none, %u limit; most comparisons in any hour: "
	              "%zu\n",
	              hours, issued, refused, n_ok, n_wrong, n_exh, n_exp, n_none, n_limit, worst);
	assert_int_equal(n_ok, 0);
	assert_true(worst <= f->pol.max_tries * f->pol.max_per_hour);
	/* the attack did reach the bound, and the totals are consistent with it */
	assert_int_equal(worst, f->pol.max_tries * f->pol.max_per_hour);
	assert_true(n_wrong <= (hours + 1) * f->pol.max_tries * f->pol.max_per_hour);
	assert_int_equal(n_ok + n_wrong + n_exh + n_exp + n_none + n_limit, N);
}

/* ---- an unusable store ---- */

static void unusable_store(void **state)
{
	struct fx *f = *state;
	int64_t ra = 0;
	char why[256] = "";
	unsigned left = 0;
	assert_int_equal(issue(f, T0, NULL), C2S_OK);
	assert_int_equal(
	    otp_issue(NULL, &f->pol, f->key, "order-1", T0 + 60, f->code, &ra, why, sizeof(why)),
	    C2S_ERR_KHSTORE);
	assert_int_equal(f->code[0], 0);
	assert_int_equal(otp_verify(NULL, &f->pol, f->key, "order-1", "123456", T0, &left),
	                 C2S_ERR_KHSTORE);
	kh_rmtree(f->dir);
	assert_int_equal(issue(f, T0 + 60, NULL), C2S_ERR_KHSTORE);
	assert_int_equal(verify(f, "123456", T0 + 61, &left), C2S_ERR_KHSTORE);
	/* a database file replaced by a directory: refused at open */
	khstore_close(f->ks);
	f->ks = NULL;
	char db[400];
	assert_int_equal(mkdir(f->dir, 0700), 0);
	snprintf(db, sizeof(db), "%s/keyholder.db", f->dir);
	assert_int_equal(mkdir(db, 0700), 0);
	assert_int_equal(khstore_open(f->dir, &f->ks, why, sizeof(why)), C2S_ERR_KHSTORE);
	assert_null(f->ks);
	assert_int_equal(verify(f, "123456", T0 + 62, &left), C2S_ERR_KHSTORE);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
	    T(issue_then_verify_once),
	    T(wrong_codes_then_exhausted),
	    T(expiry_at_the_lifetime_boundary),
	    T(resend_too_soon),
	    T(hourly_limit),
	    T(a_new_code_invalidates_the_old),
	    T(malformed_codes_count_as_tries),
	    T(order_must_be_live),
	    T(a_new_key_voids_old_codes),
	    cmocka_unit_test(policy_bounds),
	    cmocka_unit_test(rejection_sampling_boundaries),
	    cmocka_unit_test(draws_are_uniform),
	    T(tries_survive_sigkill),
	    T(guessing_is_bounded),
	    T(unusable_store),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
