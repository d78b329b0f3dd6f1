/* pcsc: the PC/SC monitor against a real pcscd with an emulated card (tests/tools/testcard.sh:
 * private pcscd + vpcd + cardbridge/libcacard over a SoftHSM2 token). Checks presence, reader
 * name and ATR; removal seen within 1 s and reinsertion; pcscd stopped (unreachable) and
 * restarted (recovered); the reader filter. Also signs through OpenSC's PKCS#11 module on the
 * card (pkcs11-tool + openssl verify, and a timed C_Sign loop) and records what a wrong PIN
 * does. Skips only when the card bridge was not built (no libcacard). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "drivers/pcsc.h"
#include "firmware/base/log.h"

#define OPENSC_MODULE  "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
/* libcacard's CAC ATR */
#define CAC_ATR "3b7a18000073667465206364313434"

static char g_dir[256];
static char g_script[PATH_MAX];
static int g_skip;
static pthread_mutex_t g_cb_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_cb_calls;
static int g_cb_last_present = -1;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv (no shell); stdout+stderr into out (may be NULL). Returns the exit status. */
static int run_argv(char *const argv[], char *out, size_t outsz)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t used = 0;
	char sink[512];
	for (;;) {
		char *dst = (out && used + 1 < outsz) ? out + used : sink;
		size_t cap = (out && used + 1 < outsz) ? outsz - used - 1 : sizeof(sink);
		ssize_t n = read(pfd[0], dst, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	if (out && outsz)
		out[used] = '\0';
	close(pfd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int testcard(const char *verb)
{
	char out[4096];
	char *argv[] = {"bash", g_script, (char *)verb, g_dir, NULL};
	int rc = run_argv(argv, out, sizeof(out));
	if (rc != 0)
		print_message("testcard.sh %s failed (%d): %s\n", verb, rc, out);
	return rc;
}

/* `testcard.sh env` prints lines `export K='V'`: put them in our environment. */
static int load_env(void)
{
	char out[8192];
	char *argv[] = {"bash", g_script, "env", g_dir, NULL};
	if (run_argv(argv, out, sizeof(out)) != 0)
		return -1;
	for (char *line = out, *next; *line != '\0'; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		char *eq = strchr(line, '=');
		size_t len = strlen(line);
		if (strncmp(line, "export ", 7) != 0 || eq == NULL || len < 3 || eq[1] != '\'' ||
		    line[len - 1] != '\'')
			return -1;
		*eq = '\0';
		line[len - 1] = '\0';
		if (setenv(line + 7, eq + 2, 1) != 0)
			return -1;
	}
	return 0;
}

static const char *env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

/* The callback runs just after the state is published: give it a moment. Returns the last
 * card_present it saw once it equals `want` (or whatever it is after 1 s). */
static int cb_wait_present(int want, unsigned *calls)
{
	int last = -1;
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&g_cb_lock);
		last = g_cb_last_present;
		*calls = g_cb_calls;
		pthread_mutex_unlock(&g_cb_lock);
		if (last == want)
			break;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return last;
}

static void on_change(const struct pcsc_state *st, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&g_cb_lock);
	g_cb_calls++;
	g_cb_last_present = st->card_present;
	pthread_mutex_unlock(&g_cb_lock);
}

enum want { W_PRESENT, W_ABSENT, W_UNREACHABLE, W_REACHABLE_WITH_READERS };

static int state_is(const struct pcsc_state *st, enum want w)
{
	switch (w) {
	case W_PRESENT:
		return st->reachable && st->card_present;
	case W_ABSENT:
		return st->reachable && st->n_readers > 0 && !st->card_present;
	case W_UNREACHABLE:
		return !st->reachable;
	case W_REACHABLE_WITH_READERS:
		return st->reachable && st->n_readers > 0;
	}
	return 0;
}

/* Polls the snapshot every 2 ms; returns ms waited, or -1 on timeout. */
static long long wait_for(enum want w, long long timeout_ms, struct pcsc_state *st)
{
	long long t0 = mono_ms();
	for (;;) {
		assert_int_equal(pcsc_snapshot(st), C2S_OK);
		if (state_is(st, w))
			return mono_ms() - t0;
		if (mono_ms() - t0 > timeout_ms)
			return -1;
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	const char *bld = getenv("C2S_BUILD_DIR");
	char bridge[PATH_MAX];
	log_init("pcsc_test", LOG_LVL_INFO);
	if (!src || !bld)
		return -1;
	snprintf(g_script, sizeof(g_script), "%s/tests/tools/testcard.sh", src);
	snprintf(bridge, sizeof(bridge), "%s/tests/tools/cardbridge/cardbridge", bld);
	if (access(bridge, X_OK) != 0) {
		print_message("cardbridge not built (libcacard missing?): skipping\n");
		g_skip = 1;
		return 0;
	}
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-pcsc-XXXXXX");
	if (mkdtemp(g_dir) == NULL)
		return -1;
	if (testcard("setup") != 0 || testcard("start") != 0 || load_env() != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	pcsc_stop();
	if (g_dir[0] == '\0')
		return 0;
	int rc = testcard("stop");
	char *argv[] = {"rm", "-rf", g_dir, NULL};
	if (rc == 0 && getenv("C2S_KEEP_TESTCARD") == NULL)
		rc = run_argv(argv, NULL, 0);
	return rc;
}

#define SKIP_IF_NO_CARD()                                                                          \
	do {                                                                                       \
		if (g_skip)                                                                        \
			skip();                                                                    \
	} while (0)

static void test_not_started(void **state)
{
	(void)state;
	struct pcsc_state st;
	assert_int_equal(pcsc_snapshot(NULL), C2S_ERR_ARG);
	assert_int_equal(pcsc_snapshot(&st), C2S_OK);
	assert_int_equal(st.running, 0);
	assert_int_equal(st.reachable, 0);
	assert_int_equal(st.n_readers, 0);
	char big[PCSC_NAME_MAX + 8];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pcsc_start(big, NULL, NULL), C2S_ERR_ARG);
	pcsc_stop(); /* not started: no-op */
}

static void test_card_present(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	struct pcsc_state st;
	assert_int_equal(pcsc_start(NULL, on_change, NULL), C2S_OK);
	assert_int_equal(pcsc_start(NULL, NULL, NULL), C2S_ERR_BUSY);
	long long ms = wait_for(W_PRESENT, 5000, &st);
	assert_true(ms >= 0);
	print_message("card seen %lld ms after pcsc_start\n", ms);
	assert_int_equal(st.running, 1);
	assert_string_equal(st.error, "");
	assert_string_equal(st.reader, "Virtual PCD 00 00");
	assert_string_equal(st.atr_hex, CAC_ATR);
	assert_int_equal(st.n_readers, 2);
	assert_string_equal(st.readers[0].name, "Virtual PCD 00 00");
	assert_int_equal(st.readers[0].card_present, 1);
	assert_string_equal(st.readers[1].name, "Virtual PCD 00 01");
	assert_int_equal(st.readers[1].card_present, 0);
	assert_string_equal(st.readers[1].atr_hex, "");
	assert_true(st.changes >= 2);
	assert_true(st.since > 0 && st.since <= time(NULL));
	unsigned calls = 0;
	assert_int_equal(cb_wait_present(1, &calls), 1);
	assert_true(calls >= 1);
}

static void test_remove_insert(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	assert_int_equal(testcard("insert"), 0); /* in case an earlier test left it out */
	struct pcsc_state st;
	long long worst_rm = 0, worst_in = 0, sum_rm = 0, sum_in = 0;
	const int rounds = 3;
	assert_true(wait_for(W_PRESENT, 5000, &st) >= 0);
	for (int i = 0; i < rounds; i++) {
		unsigned long before = st.changes;
		long long t0 = mono_ms();
		assert_int_equal(testcard("remove"), 0);
		long long rm = wait_for(W_ABSENT, 3000, &st);
		assert_true(rm >= 0);
		rm = st.since_mono_ms - t0; /* when the monitor recorded it */
		assert_true(rm < 1000);
		assert_string_equal(st.reader, "Virtual PCD 00 00");
		assert_string_equal(st.atr_hex, "");
		assert_true(st.changes > before);
		t0 = mono_ms();
		assert_int_equal(testcard("insert"), 0);
		long long in = wait_for(W_PRESENT, 5000, &st);
		assert_true(in >= 0);
		in = st.since_mono_ms - t0;
		assert_string_equal(st.atr_hex, CAC_ATR);
		sum_rm += rm;
		sum_in += in;
		worst_rm = rm > worst_rm ? rm : worst_rm;
		worst_in = in > worst_in ? in : worst_in;
	}
	print_message("removal seen after avg %lld ms (worst %lld), reinsertion after avg %lld ms "
	              "(worst %lld), %d rounds\n",
	              sum_rm / rounds, worst_rm, sum_in / rounds, worst_in, rounds);
	unsigned calls = 0;
	assert_int_equal(cb_wait_present(1, &calls), 1);
	assert_true(calls >= 1 + 2 * (unsigned)rounds);
}

static void test_pcscd_restart(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	assert_int_equal(testcard("insert"), 0); /* in case an earlier test left it out */
	struct pcsc_state st;
	assert_true(wait_for(W_PRESENT, 5000, &st) >= 0);
	long long t0 = mono_ms();
	assert_int_equal(testcard("pcscd-stop"), 0);
	long long down = wait_for(W_UNREACHABLE, 3000, &st);
	assert_true(down >= 0);
	assert_int_equal(st.running, 1);
	assert_int_equal(st.n_readers, 0);
	assert_int_equal(st.card_present, 0);
	assert_string_equal(st.reader, "");
	assert_true(st.error[0] != '\0');
	print_message("pcscd stop seen after %lld ms: %s\n", st.since_mono_ms - t0, st.error);
	t0 = mono_ms();
	assert_int_equal(testcard("pcscd-start"), 0);
	long long up = wait_for(W_PRESENT, 6000, &st);
	assert_true(up >= 0);
	assert_string_equal(st.error, "");
	assert_int_equal(st.n_readers, 2);
	assert_string_equal(st.reader, "Virtual PCD 00 00");
	assert_string_equal(st.atr_hex, CAC_ATR);
	print_message("pcscd restart + card back seen %lld ms after pcscd-start was run\n",
	              mono_ms() - t0);
}

static void test_reader_filter(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	assert_int_equal(testcard("insert"), 0); /* in case an earlier test left it out */
	struct pcsc_state st;
	pcsc_stop();
	assert_int_equal(pcsc_snapshot(&st), C2S_OK);
	assert_int_equal(st.running, 0);
	assert_int_equal(pcsc_start("PCD 00 01", NULL, NULL), C2S_OK);
	assert_true(wait_for(W_REACHABLE_WITH_READERS, 5000, &st) >= 0);
	/* wait for both readers' first states, then the summary follows the filter */
	assert_true(wait_for(W_ABSENT, 5000, &st) >= 0);
	assert_string_equal(st.reader, "Virtual PCD 00 01");
	assert_int_equal(st.card_present, 0);
	assert_int_equal(st.readers[0].card_present, 1);
	long long t0 = mono_ms();
	pcsc_stop();
	long long stop_ms = mono_ms() - t0;
	print_message("pcsc_stop took %lld ms\n", stop_ms);
	assert_true(stop_ms < 1500);
	assert_int_equal(pcsc_start("no such reader", NULL, NULL), C2S_OK);
	assert_true(wait_for(W_REACHABLE_WITH_READERS, 5000, &st) >= 0);
	assert_string_equal(st.reader, "");
	assert_int_equal(st.card_present, 0);
	pcsc_stop();
	assert_int_equal(pcsc_start(NULL, on_change, NULL), C2S_OK);
}

/* ---- signing through OpenSC's PKCS#11 module on the card ---- */

struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
};

static void p11_load(const char *path, struct p11 *p)
{
	p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(p->dl);
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	assert_non_null(gfl);
	assert_int_equal(gfl(&p->f), CKR_OK);
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	assert_int_equal(p->f->C_Initialize(&args), CKR_OK);
}

static void p11_unload(struct p11 *p)
{
	assert_int_equal(p->f->C_Finalize(NULL), CKR_OK);
	/* no dlclose: keeps the modules' symbols for sanitizer reports */
	p->f = NULL;
}

/* The one slot whose token is initialised (SoftHSM also shows an empty "free" token). */
static CK_SLOT_ID p11_slot(struct p11 *p)
{
	CK_SLOT_ID slots[8], found = 0;
	CK_ULONG n = 8;
	int count = 0;
	assert_int_equal(p->f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		assert_int_equal(p->f->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (ti.flags & CKF_TOKEN_INITIALIZED) {
			found = slots[i];
			count++;
		}
	}
	assert_int_equal(count, 1);
	return found;
}

static CK_FLAGS softhsm_token_flags(void)
{
	struct p11 p;
	CK_TOKEN_INFO ti;
	setenv("SOFTHSM2_CONF", env("C2S_CARD_SOFTHSM2_CONF"), 1);
	p11_load(SOFTHSM_MODULE, &p);
	assert_int_equal(p.f->C_GetTokenInfo(p11_slot(&p), &ti), CKR_OK);
	p11_unload(&p);
	return ti.flags;
}

static size_t hex_to_bytes(const char *hex, CK_BYTE *out, size_t cap)
{
	size_t n = strlen(hex) / 2;
	assert_true(n > 0 && n <= cap && strlen(hex) % 2 == 0);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (CK_BYTE)v;
	}
	return n;
}

static CK_OBJECT_HANDLE find_key(struct p11 *p, CK_SESSION_HANDLE s, const char *id_hex)
{
	CK_BYTE id[16];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                       {CKA_ID, id, hex_to_bytes(id_hex, id, sizeof(id))}};
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	assert_int_equal(p->f->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(p->f->C_FindObjects(s, h, 2, &n), CKR_OK);
	assert_int_equal(p->f->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(n, 1);
	return h[0];
}

static int sh_ok(char *const argv[])
{
	char out[2048];
	int rc = run_argv(argv, out, sizeof(out));
	if (rc != 0)
		print_message("%s: %s", argv[0], out);
	return rc == 0;
}

/* pkcs11-tool signs on the card, openssl verifies against the certificate. */
static void sign_and_verify(const char *bits, const char *mech, int pss)
{
	char idk[64], certk[64], data[PATH_MAX], sig[PATH_MAX], pub[PATH_MAX];
	snprintf(idk, sizeof(idk), "C2S_CARD_KEY_%s_ID", bits);
	snprintf(certk, sizeof(certk), "C2S_CARD_CERT_%s", bits);
	snprintf(data, sizeof(data), "%s/data.txt", g_dir);
	snprintf(sig, sizeof(sig), "%s/sig-%s-%d.bin", g_dir, bits, pss);
	snprintf(pub, sizeof(pub), "%s/pub-%s.pem", g_dir, bits);
	char *signv[] = {"pkcs11-tool", "--module",   OPENSC_MODULE,
	                 "--login",     "--pin",      (char *)env("C2S_CARD_PIN"),
	                 "--sign",      "--id",       (char *)env(idk),
	                 "-m",          (char *)mech, "-i",
	                 data,          "-o",         sig,
	                 NULL};
	assert_true(sh_ok(signv));
	char *pubv[] = {"openssl", "x509", "-in", (char *)env(certk), "-noout", "-pubkey",
	                "-out",    pub,    NULL};
	assert_true(sh_ok(pubv));
	char *verv[] = {"openssl",
	                "dgst",
	                "-sha256",
	                "-verify",
	                pub,
	                "-signature",
	                sig,
	                pss ? "-sigopt" : data,
	                "rsa_padding_mode:pss",
	                "-sigopt",
	                "rsa_pss_saltlen:-1",
	                data,
	                NULL};
	if (!pss)
		verv[8] = NULL; /* "-verify pub -signature sig data" */
	assert_true(sh_ok(verv));
}

static void test_sign_pkcs11_tool(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	char data[PATH_MAX];
	snprintf(data, sizeof(data), "%s/data.txt", g_dir);
	FILE *f = fopen(data, "w");
	assert_non_null(f);
	fputs("Click2Sign smartcard test\n", f);
	assert_int_equal(fclose(f), 0);
	sign_and_verify("2048", "SHA256-RSA-PKCS", 0);
	sign_and_verify("3072", "SHA256-RSA-PKCS", 0);
	sign_and_verify("2048", "SHA256-RSA-PKCS-PSS", 1);
	sign_and_verify("3072", "SHA256-RSA-PKCS-PSS", 1);
	/* negative: the RSA-2048 signature does not verify with the RSA-3072 key, nor over
	 * other data */
	char sig[PATH_MAX], pub3[PATH_MAX], pub2[PATH_MAX], out[2048];
	snprintf(sig, sizeof(sig), "%s/sig-2048-0.bin", g_dir);
	snprintf(pub3, sizeof(pub3), "%s/pub-3072.pem", g_dir);
	snprintf(pub2, sizeof(pub2), "%s/pub-2048.pem", g_dir);
	char *wrong_key[] = {"openssl",    "dgst", "-sha256", "-verify", pub3,
	                     "-signature", sig,    data,      NULL};
	assert_int_not_equal(run_argv(wrong_key, out, sizeof(out)), 0);
	char *wrong_data[] = {"openssl",    "dgst", "-sha256", "-verify", pub2,
	                      "-signature", sig,    g_script,  NULL};
	assert_int_not_equal(run_argv(wrong_data, out, sizeof(out)), 0);
}

static void test_wrong_pin(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	struct p11 p;
	CK_SESSION_HANDLE s;
	CK_UTF8CHAR bad[] = "11111111", shortpin[] = "123";
	const char *pin = env("C2S_CARD_PIN");
	assert_int_equal(softhsm_token_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	p11_load(OPENSC_MODULE, &p);
	CK_SLOT_ID slot = p11_slot(&p);
	assert_int_equal(p.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	CK_RV rv = p.f->C_Login(s, CKU_USER, bad, 8);
	print_message("wrong PIN through OpenSC/CAC: C_Login = 0x%lx%s\n", (unsigned long)rv,
	              rv == CKR_GENERAL_ERROR ? " (CKR_GENERAL_ERROR, not CKR_PIN_INCORRECT)" : "");
	assert_true(rv == CKR_GENERAL_ERROR || rv == CKR_PIN_INCORRECT);
	CK_TOKEN_INFO ti;
	assert_int_equal(p.f->C_GetTokenInfo(slot, &ti), CKR_OK);
	print_message("OpenSC token flags after it: 0x%lx (count-low %d)\n",
	              (unsigned long)ti.flags, (ti.flags & CKF_USER_PIN_COUNT_LOW) != 0);
	/* the retry counter behind the card (SoftHSM's) did go down */
	assert_int_not_equal(softhsm_token_flags() & CKF_USER_PIN_COUNT_LOW, 0);
	rv = p.f->C_Login(s, CKU_USER, shortpin, 3);
	assert_int_equal(rv, CKR_PIN_LEN_RANGE); /* refused by OpenSC, never reaches the card */
	assert_int_equal(p.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	assert_int_equal(p.f->C_Logout(s), CKR_OK);
	assert_int_equal(p.f->C_CloseSession(s), CKR_OK);
	p11_unload(&p);
	/* a good login resets it */
	assert_int_equal(softhsm_token_flags() & CKF_USER_PIN_COUNT_LOW, 0);
}

/* SHA-256 DigestInfo prefix; the digest itself is zeros: only the rate matters here. */
static const CK_BYTE digest_info[51] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

static double sign_rate(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_ULONG want_len)
{
	CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE sig[512];
	long long t0 = mono_ms(), t;
	unsigned n = 0;
	do {
		CK_ULONG len = sizeof(sig);
		assert_int_equal(p->f->C_SignInit(s, &m, key), CKR_OK);
		CK_RV rv =
		    p->f->C_Sign(s, (CK_BYTE_PTR)digest_info, sizeof(digest_info), sig, &len);
		if (rv != CKR_OK)
			print_message("C_Sign #%u failed: 0x%lx\n", n + 1, (unsigned long)rv);
		assert_int_equal(rv, CKR_OK);
		assert_int_equal(len, want_len);
		n++;
		t = mono_ms();
	} while (t - t0 < 1500);
	return n * 1000.0 / (double)(t - t0);
}

static void test_sign_rate(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	struct p11 p;
	CK_SESSION_HANDLE s;
	const char *pin = env("C2S_CARD_PIN");
	p11_load(OPENSC_MODULE, &p);
	CK_SLOT_ID slot = p11_slot(&p);
	assert_int_equal(p.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(p.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	double r2 = sign_rate(&p, s, find_key(&p, s, env("C2S_CARD_KEY_2048_ID")), 256);
	double r3 = sign_rate(&p, s, find_key(&p, s, env("C2S_CARD_KEY_3072_ID")), 384);
	print_message("raw RSA sign rate through OpenSC on the emulated card: RSA-2048 %.0f/s, "
	              "RSA-3072 %.0f/s\n",
	              r2, r3);
	assert_true(r2 > 20.0 && r3 > 10.0);
	assert_int_equal(p.f->C_CloseSession(s), CKR_OK);
	p11_unload(&p);
}

/* What a PKCS#11 user of the card sees around a removal (recorded for the hsm layer). */
static void test_removal_pkcs11(void **state)
{
	(void)state;
	SKIP_IF_NO_CARD();
	struct p11 p;
	struct pcsc_state st;
	CK_SESSION_HANDLE s, s2;
	CK_SLOT_ID slots[4];
	CK_ULONG n = 4;
	const char *pin = env("C2S_CARD_PIN");
	p11_load(OPENSC_MODULE, &p);
	CK_SLOT_ID slot = p11_slot(&p);
	assert_int_equal(p.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(p.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	CK_OBJECT_HANDLE key = find_key(&p, s, env("C2S_CARD_KEY_2048_ID"));
	assert_int_equal(testcard("remove"), 0);
	assert_true(wait_for(W_ABSENT, 3000, &st) >= 0);
	CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE sig[512];
	CK_ULONG len = sizeof(sig);
	CK_RV rv = p.f->C_SignInit(s, &m, key);
	if (rv == CKR_OK)
		rv = p.f->C_Sign(s, (CK_BYTE_PTR)digest_info, sizeof(digest_info), sig, &len);
	print_message("sign on a session opened before removal: 0x%lx\n", (unsigned long)rv);
	assert_int_not_equal(rv, CKR_OK);
	/* OpenSC notices the removal when it polls its readers (C_GetSlotList and friends) */
	assert_int_equal(p.f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	assert_int_equal(n, 0);
	CK_RV rv2 = p.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s2);
	print_message("C_OpenSession while removed: 0x%lx\n", (unsigned long)rv2);
	assert_int_equal(rv2, CKR_TOKEN_NOT_PRESENT);
	assert_int_equal(testcard("insert"), 0);
	assert_true(wait_for(W_PRESENT, 5000, &st) >= 0);
	/* back: a new session works after a new login (the card was reset): before it the
	 * private keys are not even visible */
	assert_int_equal(p.f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_OK);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
	CK_OBJECT_HANDLE found[4];
	assert_int_equal(p.f->C_FindObjectsInit(s2, tmpl, 1), CKR_OK);
	assert_int_equal(p.f->C_FindObjects(s2, found, 4, &n), CKR_OK);
	assert_int_equal(p.f->C_FindObjectsFinal(s2), CKR_OK);
	assert_int_equal(n, 0);
	assert_int_equal(p.f->C_Login(s2, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	key = find_key(&p, s2, env("C2S_CARD_KEY_2048_ID"));
	assert_int_equal(p.f->C_SignInit(s2, &m, key), CKR_OK);
	len = sizeof(sig);
	assert_int_equal(p.f->C_Sign(s2, (CK_BYTE_PTR)digest_info, sizeof(digest_info), sig, &len),
	                 CKR_OK);
	assert_int_equal(len, 256);
	(void)p.f->C_CloseAllSessions(slot);
	p11_unload(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_not_started),      cmocka_unit_test(test_card_present),
	    cmocka_unit_test(test_sign_pkcs11_tool), cmocka_unit_test(test_wrong_pin),
	    cmocka_unit_test(test_sign_rate),        cmocka_unit_test(test_remove_insert),
	    cmocka_unit_test(test_removal_pkcs11),   cmocka_unit_test(test_pcscd_restart),
	    cmocka_unit_test(test_reader_filter),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
