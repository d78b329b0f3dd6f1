/* faultp11: a fault-injecting PKCS#11 module for tests. It loads the real module named by
 * env C2S_FAULTP11_MODULE (default /usr/lib/softhsm/libsofthsm2.so), forwards every call
 * to it, and fails or delays chosen calls as the rule file in env C2S_FAULTP11_CONF says.
 * The rule file is re-read whenever its mtime changes (write a new file and rename it over
 * the old one), so a test can change faults while a process runs.
 *
 * Rule file: one rule per line, '#' starts a comment.
 *     FUNC ACTION [every=N] [after=N] [times=N] [from=T] [until=T] [ms=N]
 *   FUNC    C_Sign, C_SignInit, C_Login, C_OpenSession, C_GetTokenInfo, C_GetSlotList,
 *           C_GetSlotInfo, C_FindObjectsInit, ... (the list in `fn_names` below), or '*'.
 *   ACTION  a CKR_* name or a 0x hex code: return it instead of calling the module;
 *           pin=SIG:REAL (C_Login only): emulate a token whose PIN for this login is SIG:
 *                  the PIN SIG is forwarded as REAL, any other PIN answers CKR_PIN_INCORRECT
 *                  (with user=context: a card with a separate signature PIN);
 *           hide:  C_GetSlotList(tokenPresent=TRUE) reports no slot and C_GetSlotInfo clears
 *                  CKF_TOKEN_PRESENT (the token looks removed);
 *           delay: sleep ms= milliseconds, then forward.
 *   every=N   only the Nth, 2Nth, ... call of FUNC since the rules were loaded
 *   after=N   only after the first N calls since the rules were loaded
 *   times=N   at most N faults from this rule
 *   user=so|user|context   C_Login only: only logins of that CK_USER_TYPE (the rule does
 *                    not see, and does not count, the other logins)
 *   from=T until=T   only while from <= now < until (seconds since the epoch, may have
 *                    fractions); either may be left out
 * Example, "token removed until T":
 *     C_SignInit CKR_DEVICE_REMOVED until=1767225600.5
 *     C_Sign CKR_DEVICE_REMOVED until=1767225600.5
 *     C_OpenSession CKR_TOKEN_NOT_PRESENT until=1767225600.5
 *     C_GetTokenInfo CKR_TOKEN_NOT_PRESENT until=1767225600.5
 *     C_GetSlotList hide until=1767225600.5
 *     C_GetSlotInfo hide until=1767225600.5
 *
 * Statistics: when env C2S_FAULTP11_STATS names a file, it is rewritten (atomically) after
 * every call as lines "FUNC CALLS FAULTS" for each wrapped function that was called, and
 * "C_Login/so", "C_Login/user", "C_Login/context" lines for the logins of each user type. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hsm/hsm_int.h"

#define EXPORT    __attribute__((visibility("default")))
#define MAX_RULES 64

#define FN_LIST(X)                                                                                 \
	X(C_GetSlotList)                                                                           \
	X(C_GetSlotInfo)                                                                           \
	X(C_GetTokenInfo)                                                                          \
	X(C_InitToken)                                                                             \
	X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions)          \
	    X(C_GetSessionInfo) X(C_Login) X(C_Logout) X(C_CreateObject) X(C_DestroyObject)        \
	        X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit)                 \
	            X(C_FindObjects) X(C_FindObjectsFinal) X(C_SignInit) X(C_Sign)                 \
	                X(C_GenerateKeyPair)

enum fn_id {
#define FN_ENUM(n) F_##n,
	FN_LIST(FN_ENUM)
#undef FN_ENUM
	    F_COUNT
};

static const char *const fn_names[] = {
#define FN_NAME(n) #n,
    FN_LIST(FN_NAME)
#undef FN_NAME
};

enum action { A_RV, A_HIDE, A_DELAY, A_PIN };

#define PIN_MAX    64
#define USER_TYPES 3 /* CKU_SO, CKU_USER, CKU_CONTEXT_SPECIFIC */

static const char *const user_names[USER_TYPES] = {"so", "user", "context"};

struct rule {
	int fn; /* -1: all */
	enum action act;
	CK_RV rv;
	long user;                                /* C_Login user type, -1: any */
	char pin_sig[PIN_MAX], pin_real[PIN_MAX]; /* A_PIN */
	unsigned long every, after, times, ms;
	double from, until;
	unsigned long seen, fired;
};

/* One C_Login as the rules see it; `real` is what to forward after an A_PIN match. */
struct login {
	CK_USER_TYPE user;
	const CK_UTF8CHAR *pin;
	CK_ULONG len;
	char real[PIN_MAX];
	int mapped;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[MAX_RULES];
static size_t n_rules;
static struct timespec conf_mtime;
static unsigned long calls[F_COUNT], faults[F_COUNT];
static unsigned long login_calls[USER_TYPES], login_faults[USER_TYPES];
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST ours;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_pin_map(struct rule *r, const char *a)
{
	const char *colon = strchr(a, ':');
	if (!colon || (size_t)(colon - a) >= PIN_MAX || strlen(colon + 1) >= PIN_MAX)
		return -1;
	memcpy(r->pin_sig, a, (size_t)(colon - a));
	snprintf(r->pin_real, sizeof(r->pin_real), "%s", colon + 1);
	r->act = A_PIN;
	return 0;
}

static int parse_action(struct rule *r, const char *a)
{
	if (strncmp(a, "pin=", 4) == 0)
		return parse_pin_map(r, a + 4);
	if (strcmp(a, "hide") == 0)
		r->act = A_HIDE;
	else if (strcmp(a, "delay") == 0)
		r->act = A_DELAY;
	else if (strncmp(a, "0x", 2) == 0)
		r->rv = strtoul(a, NULL, 16);
	else if (!hsm_ckr_parse(a, &r->rv))
		return -1;
	return 0;
}

static int parse_opt(struct rule *r, const char *o)
{
	const char *eq = strchr(o, '=');
	if (!eq)
		return -1;
	char *end = NULL;
	size_t kl = (size_t)(eq - o);
	if (kl == 4 && strncmp(o, "user", 4) == 0) {
		for (long u = 0; u < USER_TYPES; u++)
			if (strcmp(eq + 1, user_names[u]) == 0)
				r->user = u;
		return r->user >= 0 ? 0 : -1;
	}
	if (kl == 4 && strncmp(o, "from", 4) == 0)
		r->from = strtod(eq + 1, &end);
	else if (kl == 5 && strncmp(o, "until", 5) == 0)
		r->until = strtod(eq + 1, &end);
	else if (kl == 5 && strncmp(o, "every", 5) == 0)
		r->every = strtoul(eq + 1, &end, 10);
	else if (kl == 5 && strncmp(o, "after", 5) == 0)
		r->after = strtoul(eq + 1, &end, 10);
	else if (kl == 5 && strncmp(o, "times", 5) == 0)
		r->times = strtoul(eq + 1, &end, 10);
	else if (kl == 2 && strncmp(o, "ms", 2) == 0)
		r->ms = strtoul(eq + 1, &end, 10);
	else
		return -1;
	return end && *end == '\0' ? 0 : -1;
}

static int parse_line(char *line, struct rule *r)
{
	char *save = NULL, *tok;
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	memset(r, 0, sizeof(*r));
	r->until = 1e300;
	r->user = -1;
	if (!(tok = strtok_r(line, " \t\r\n", &save)))
		return 1; /* blank */
	r->fn = -2;
	if (strcmp(tok, "*") == 0)
		r->fn = -1;
	for (int i = 0; i < F_COUNT; i++)
		if (strcmp(tok, fn_names[i]) == 0)
			r->fn = i;
	if (r->fn == -2 || !(tok = strtok_r(NULL, " \t\r\n", &save)) || parse_action(r, tok))
		return -1;
	while ((tok = strtok_r(NULL, " \t\r\n", &save)))
		if (parse_opt(r, tok))
			return -1;
	return 0;
}

/* Called with mu held. */
static void conf_reload(void)
{
	const char *path = getenv("C2S_FAULTP11_CONF");
	struct stat st;
	char line[512];
	if (!path || stat(path, &st) != 0) {
		n_rules = 0;
		return;
	}
	if (st.st_mtim.tv_sec == conf_mtime.tv_sec && st.st_mtim.tv_nsec == conf_mtime.tv_nsec)
		return;
	conf_mtime = st.st_mtim;
	FILE *f = fopen(path, "r");
	n_rules = 0;
	for (int ln = 1; f && fgets(line, sizeof(line), f); ln++) {
		struct rule r;
		int k = parse_line(line, &r);
		if (k < 0)
			fprintf(stderr, "faultp11: %s:%d: bad rule ignored\n", path, ln);
		else if (k == 0 && n_rules < MAX_RULES)
			rules[n_rules++] = r;
	}
	if (f)
		fclose(f);
}

/* Called with mu held. */
static void stats_write(void)
{
	const char *path = getenv("C2S_FAULTP11_STATS");
	char tmp[4200];
	if (!path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	for (int i = 0; i < F_COUNT; i++)
		if (calls[i])
			fprintf(f, "%s %lu %lu\n", fn_names[i], calls[i], faults[i]);
	for (int u = 0; u < USER_TYPES; u++)
		if (login_calls[u])
			fprintf(f, "C_Login/%s %lu %lu\n", user_names[u], login_calls[u],
			        login_faults[u]);
	if (fclose(f) == 0)
		rename(tmp, path);
}

/* An A_PIN rule: the emulated PIN is forwarded as the real one, any other is refused. */
static int pin_map(const struct rule *r, struct login *lg, CK_RV *rv)
{
	size_t n = strlen(r->pin_sig);
	if (lg->len == n && memcmp(lg->pin, r->pin_sig, n) == 0) {
		snprintf(lg->real, sizeof(lg->real), "%s", r->pin_real);
		lg->mapped = 1;
		return 0;
	}
	*rv = CKR_PIN_INCORRECT;
	return 1;
}

/* Decides the fate of one call: returns 1 with *rv set when the call must fail. `lg` is
 * the login for C_Login, else NULL. */
static int fault_check(int fn, struct login *lg, CK_RV *rv, int *hide)
{
	unsigned long sleep_ms = 0;
	int fail = 0;
	double t = now_s();
	pthread_mutex_lock(&mu);
	conf_reload();
	calls[fn]++;
	if (lg && lg->user < USER_TYPES)
		login_calls[lg->user]++;
	for (size_t i = 0; i < n_rules && !fail && !(lg && lg->mapped); i++) {
		struct rule *r = &rules[i];
		if (r->fn != -1 && r->fn != fn)
			continue;
		if (r->user >= 0 && (!lg || lg->user != (CK_USER_TYPE)r->user))
			continue;
		if (r->act == A_PIN && !lg)
			continue;
		r->seen++;
		if (t < r->from || t >= r->until || r->seen <= r->after)
			continue;
		if ((r->every && r->seen % r->every != 0) || (r->times && r->fired >= r->times))
			continue;
		r->fired++;
		if (r->act == A_DELAY) {
			sleep_ms += r->ms;
			continue;
		}
		if (r->act == A_PIN && !pin_map(r, lg, rv))
			continue;
		faults[fn]++;
		if (lg && lg->user < USER_TYPES)
			login_faults[lg->user]++;
		if (r->act == A_PIN) {
			fail = 1;
		} else if (r->act == A_HIDE) {
			*hide = 1;
		} else {
			*rv = r->rv;
			fail = 1;
		}
	}
	stats_write();
	pthread_mutex_unlock(&mu);
	if (sleep_ms) {
		struct timespec ts = {(time_t)(sleep_ms / 1000),
		                      (long)(sleep_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return fail;
}

#define WRAP(name, params, args)                                                                   \
	static CK_RV w_##name params                                                               \
	{                                                                                          \
		CK_RV rv = CKR_OK;                                                                 \
		int hide = 0;                                                                      \
		if (fault_check(F_##name, NULL, &rv, &hide))                                       \
			return rv;                                                                 \
		return real->name args;                                                            \
	}

WRAP(C_GetTokenInfo, (CK_SLOT_ID s, CK_TOKEN_INFO_PTR i), (s, i))
WRAP(C_InitToken, (CK_SLOT_ID s, CK_UTF8CHAR_PTR p, CK_ULONG n, CK_UTF8CHAR_PTR l), (s, p, n, l))
WRAP(C_InitPIN, (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR p, CK_ULONG n), (s, p, n))
WRAP(C_SetPIN,
     (CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR o, CK_ULONG on, CK_UTF8CHAR_PTR n, CK_ULONG nn),
     (s, o, on, n, nn))
WRAP(C_OpenSession, (CK_SLOT_ID s, CK_FLAGS f, CK_VOID_PTR a, CK_NOTIFY n, CK_SESSION_HANDLE_PTR h),
     (s, f, a, n, h))
WRAP(C_CloseSession, (CK_SESSION_HANDLE s), (s))
WRAP(C_CloseAllSessions, (CK_SLOT_ID s), (s))
WRAP(C_GetSessionInfo, (CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR i), (s, i))
WRAP(C_Logout, (CK_SESSION_HANDLE s), (s))
WRAP(C_CreateObject, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR o),
     (s, t, n, o))
WRAP(C_DestroyObject, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o), (s, o))
WRAP(C_GetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
     (s, o, t, n))
WRAP(C_SetAttributeValue, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n),
     (s, o, t, n))
WRAP(C_FindObjectsInit, (CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n), (s, t, n))
WRAP(C_FindObjects, (CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR o, CK_ULONG m, CK_ULONG_PTR n),
     (s, o, m, n))
WRAP(C_FindObjectsFinal, (CK_SESSION_HANDLE s), (s))
WRAP(C_SignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k), (s, m, k))
WRAP(C_Sign, (CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dn, CK_BYTE_PTR sig, CK_ULONG_PTR sn),
     (s, d, dn, sig, sn))
WRAP(C_GenerateKeyPair,
     (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pt, CK_ULONG pn,
      CK_ATTRIBUTE_PTR kt, CK_ULONG kn, CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv),
     (s, m, pt, pn, kt, kn, pub, priv))

static CK_RV w_C_Login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR p, CK_ULONG n)
{
	CK_RV rv = CKR_OK;
	int hide = 0;
	struct login lg = {.user = u, .pin = p, .len = n};
	if (fault_check(F_C_Login, &lg, &rv, &hide))
		return rv;
	if (lg.mapped)
		rv = real->C_Login(s, u, (CK_UTF8CHAR_PTR)lg.real, strlen(lg.real));
	else
		rv = real->C_Login(s, u, p, n);
	explicit_bzero(&lg, sizeof(lg));
	return rv;
}

static CK_RV w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	CK_RV rv = CKR_OK;
	int hide = 0;
	if (fault_check(F_C_GetSlotList, NULL, &rv, &hide))
		return rv;
	if (hide && present) {
		*n = 0;
		return CKR_OK;
	}
	return real->C_GetSlotList(present, list, n);
}

static CK_RV w_C_GetSlotInfo(CK_SLOT_ID s, CK_SLOT_INFO_PTR i)
{
	CK_RV rv = CKR_OK;
	int hide = 0;
	if (fault_check(F_C_GetSlotInfo, NULL, &rv, &hide))
		return rv;
	rv = real->C_GetSlotInfo(s, i);
	if (rv == CKR_OK && hide)
		i->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	return rv;
}

static CK_RV load_real(void)
{
	const char *path = getenv("C2S_FAULTP11_MODULE");
	CK_C_GetFunctionList gfl;
	if (!path || !*path)
		path = "/usr/lib/softhsm/libsofthsm2.so";
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "faultp11: cannot load %s: %s\n", path, dlerror());
		return CKR_GENERAL_ERROR;
	}
	*(void **)&gfl = dlsym(dl, "C_GetFunctionList");
	if (!gfl || gfl(&real) != CKR_OK || !real)
		return CKR_GENERAL_ERROR;
	ours = *real;
#define FN_SET(n) ours.n = w_##n;
	FN_LIST(FN_SET)
#undef FN_SET
	ours.C_GetFunctionList = C_GetFunctionList;
	return CKR_OK;
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	static CK_RV load_rv = CKR_GENERAL_ERROR;
	if (!list)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&mu);
	if (!real)
		load_rv = load_real();
	pthread_mutex_unlock(&mu);
	if (load_rv != CKR_OK)
		return load_rv;
	*list = &ours;
	return CKR_OK;
}
