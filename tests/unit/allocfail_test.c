/* Allocation failure, every allocation in turn (issue #20): the IPC path (framing, the
 * keyholder's dispatch and handlers, the web's decoders), the JSON path (the portal's JWS at
 * both ends, identity matching, order creation and the order as JSON) and the PDF path
 * (preparing a signature revision of corpus files, the keyholder's update scan and digest,
 * a B-LT /DSS update). Each path runs twice cleanly, counting its allocations (N), then 2N
 * more times: with allocation k refused (k = 1..N), and with allocation k and every one after
 * it refused (the process stays out of memory). Every run must end in a clean error or in the
 * reference run's result: no crash (ASan, UBSan), no leak, no half-made or altered result.
 *
 * The failing allocator is a test-only interposer: this program is linked with
 * -Wl,--wrap=malloc,calloc,realloc,strdup,strndup,free,secmem_alloc,secmem_free
 * (tests/CMakeLists.txt), so every call from our own code (libc2s.a is linked into the test)
 * goes through __wrap_*; jansson's allocations come here too, through the allocation functions
 * firmware/base/json.c installs (they call malloc from libc2s.a). The interposer counts and
 * refuses only while armed (around the code under test), and remembers every block handed out
 * while armed until it is freed: whatever is still live after a run is a leak, reported with the
 * allocation number and its caller (exe+offset, for addr2line), in the Release build as well;
 * LeakSanitizer checks the Sanitize build again at exit. AF_TRACE=k prints the stack of the
 * refused allocation k.
 *
 * Not reached: allocations inside other shared libraries (qpdf's C++ operator new, whose
 * std::bad_alloc qpdf's C API would have to catch; mbedTLS, SQLite, utf8proc, libc), c2s-web's HTTP
 * layer (web/orders_api.c needs a libmicrohttpd connection) and its keyholder client
 * (web/khclient.c waits for a keyholder in another process), and the keyholder's handlers that
 * need a token or the notify process (sign-doc, OTP verify, checkpoint, assertion). */
#include <dlfcn.h>
#include <execinfo.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "kh_test_common.h"
#include "firmware/base/buf.h"
#include "firmware/base/config.h"
#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "firmware/base/secmem.h"
#include "firmware/certs/jws.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/keyholder/keyholder_int.h"
#include "firmware/keyholder/scan_int.h"
#include "firmware/orders/blob.h"
#include "firmware/orders/identity.h"
#include "firmware/orders/orders.h"
#include "firmware/pades/midstate.h"
#include "firmware/pades/pdf.h"
#include "firmware/store/store.h"

/* ------------------------------------------------------------------------------------------ */
/* The interposer                                                                              */

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__real_secmem_alloc(size_t n);
void __real_secmem_free(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t m, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);
void *__wrap_secmem_alloc(size_t n);
void __wrap_secmem_free(void *p, size_t n);

static void *g_base; /* load address, for addr2line */

#define AF_SLOTS (1u << 16)
#define AF_TOMB  ((void *)1)

struct af_slot {
	void *p;
	void *caller;
	unsigned long nr; /* which allocation of the run */
	size_t size;
};

static struct {
	int armed;
	unsigned long count;   /* allocations seen while armed, this run */
	unsigned long fail_at; /* 0: none */
	int from_on;           /* refuse fail_at and every allocation after it (the process is
	                          out of memory), not only fail_at */
	int failed;            /* allocation fail_at was refused */
	int overflow;          /* the live table was full: leak checking is incomplete */
	unsigned long trace;   /* AF_TRACE=k: print the stack of each refused allocation k */
	size_t live;
	struct af_slot slot[AF_SLOTS];
} af;

static size_t af_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p >> 4;
	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(x >> 20) & (AF_SLOTS - 1);
}

static void af_track(void *p, size_t size, void *caller)
{
	size_t h = af_hash(p);
	for (size_t i = 0; i < AF_SLOTS; i++, h = (h + 1) & (AF_SLOTS - 1)) {
		if (af.slot[h].p == NULL || af.slot[h].p == AF_TOMB) {
			af.slot[h] = (struct af_slot){p, caller, af.count, size};
			af.live++;
			return;
		}
	}
	af.overflow = 1;
}

static void af_untrack(void *p)
{
	if (!p || !af.live)
		return;
	size_t h = af_hash(p);
	for (size_t i = 0; i < AF_SLOTS && af.slot[h].p; i++, h = (h + 1) & (AF_SLOTS - 1)) {
		if (af.slot[h].p == p) {
			af.slot[h].p = AF_TOMB;
			af.live--;
			return;
		}
	}
}

/* Whether this allocation (counted when armed) is the one to refuse. */
static int af_refuse(void)
{
	if (!af.armed)
		return 0;
	af.count++;
	if (af.fail_at && (af.count == af.fail_at || (af.from_on && af.count > af.fail_at))) {
		if (af.count > af.fail_at)
			return 1;
		af.failed = 1;
		if (af.trace == af.fail_at) {
			void *bt[24];
			int n = backtrace(bt, 24);
			fprintf(stderr, "[ allocfail ] allocation %lu refused at:\n", af.fail_at);
			for (int i = 1; i < n; i++)
				fprintf(stderr, "    exe+0x%lx\n",
				        (unsigned long)((uintptr_t)bt[i] - (uintptr_t)g_base));
			backtrace_symbols_fd(bt + 1, n - 1, 2);
		}
		return 1;
	}
	return 0;
}

static void *af_note(void *p, size_t size, void *caller)
{
	if (p && af.armed)
		af_track(p, size, caller);
	return p;
}

void *__wrap_malloc(size_t n)
{
	return af_refuse() ? NULL : af_note(__real_malloc(n), n, __builtin_return_address(0));
}

void *__wrap_calloc(size_t m, size_t n)
{
	return af_refuse() ? NULL
	                   : af_note(__real_calloc(m, n), m * n, __builtin_return_address(0));
}

void *__wrap_realloc(void *p, size_t n)
{
	if (af_refuse())
		return NULL; /* p stays valid and tracked */
	void *q = __real_realloc(p, n);
	if (q != p && (q || n == 0)) { /* moved, or freed by a size of 0 */
		af_untrack(p);
		af_note(q, n, __builtin_return_address(0));
	}
	return q;
}

char *__wrap_strdup(const char *s)
{
	return af_refuse() ? NULL
	                   : af_note(__real_strdup(s), strlen(s) + 1, __builtin_return_address(0));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return af_refuse() ? NULL
	                   : af_note(__real_strndup(s, n), n + 1, __builtin_return_address(0));
}

void __wrap_free(void *p)
{
	af_untrack(p);
	__real_free(p);
}

void *__wrap_secmem_alloc(size_t n)
{
	return af_refuse() ? NULL : af_note(__real_secmem_alloc(n), n, __builtin_return_address(0));
}

void __wrap_secmem_free(void *p, size_t n)
{
	af_untrack(p);
	__real_secmem_free(p, n);
}

static void af_arm(void)
{
	af.armed = 1;
}

static void af_disarm(void)
{
	af.armed = 0;
}

/* Forget blocks of earlier runs that a failed run already reported. */
static void af_reset(unsigned long fail_at, int from_on)
{
	af.from_on = from_on;
	memset(af.slot, 0, sizeof(af.slot));
	af.live = 0;
	af.count = 0;
	af.failed = 0;
	af.fail_at = fail_at;
	af.armed = 0;
}

/* Unclean outcome: disarm first, so that cmocka's own reporting allocates normally. */
#define AF_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			af_disarm();                                                               \
			fail_msg(__VA_ARGS__);                                                     \
		}                                                                                  \
	} while (0)

/* ------------------------------------------------------------------------------------------ */
/* The driver                                                                                  */

enum af_outcome { AF_SAME = 0, AF_ERROR = 1 };

struct af_tally {
	unsigned long n;    /* allocations of a clean run */
	unsigned long same; /* runs that tolerated the failure with the reference result */
	unsigned long runs; /* 2N: allocation k refused alone, then k and all after it */
	unsigned long errors;
	unsigned long leaks;
	char codes[1024]; /* the distinct errors seen */
};

/* Notes an error kind once, with the first allocation number that led to it. */
static void af_code(struct af_tally *t, const char *what)
{
	char item[128];
	if (strstr(t->codes, what))
		return;
	snprintf(item, sizeof(item), "%s%s(k=%lu%s)", t->codes[0] ? " " : "", what, af.fail_at,
	         af.from_on ? "+" : "");
	size_t used = strlen(t->codes), n = strlen(item);
	if (used + n < sizeof(t->codes))
		memcpy(t->codes + used, item, n + 1);
}

static struct af_tally *g_tally; /* of the path running, for af_code in the paths */

static void af_error(const char *stage, c2s_err e)
{
	char w[96];
	snprintf(w, sizeof(w), "%s:%s", stage, c2s_err_name(e));
	if (g_tally)
		af_code(g_tally, w);
}

static unsigned long af_report_live(const char *path, unsigned long k)
{
	unsigned long n = 0;
	for (size_t i = 0; i < AF_SLOTS; i++) {
		if (!af.slot[i].p || af.slot[i].p == AF_TOMB)
			continue;
		if (n++ < 4)
			print_error(
			    "%s: allocation %lu%s failing: block of %zu bytes from allocation %lu "
			    "(caller %p, exe+0x%lx) never freed\n",
			    path, k, af.from_on ? " and after" : "", af.slot[i].size, af.slot[i].nr,
			    af.slot[i].caller,
			    (unsigned long)((uintptr_t)af.slot[i].caller - (uintptr_t)g_base));
	}
	return n;
}

static void af_drive(const char *name, enum af_outcome (*run)(unsigned long run_id),
                     struct af_tally *t)
{
	static unsigned long run_id = 1;
	memset(t, 0, sizeof(*t));
	g_tally = t;
	/* two clean runs: the first warms lazy state up, the second gives N */
	for (int i = 0; i < 2; i++) {
		af_reset(0, 0);
		AF_CHECK(run(run_id++) == AF_SAME, "%s: the reference run failed", name);
		AF_CHECK(af.live == 0 || af_report_live(name, 0) == 0,
		         "%s: the reference run leaks", name);
	}
	t->n = af.count;
	AF_CHECK(t->n > 0, "%s: no allocation seen (is the interposer linked?)", name);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < 2 * t->n; i++) {
		unsigned long k = i % t->n + 1;
		af_reset(k, i >= t->n);
		enum af_outcome o = run(run_id++);
		af_disarm();
		AF_CHECK(af.failed,
		         "%s: allocation %lu was never reached (only %lu this run): the "
		         "path does not allocate the same way each run",
		         name, k, af.count);
		AF_CHECK(!af.overflow, "%s: interposer table full", name);
		if (af.live) {
			t->leaks += af_report_live(name, k);
		}
		t->runs++;
		if (o == AF_SAME)
			t->same++;
		else
			t->errors++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	af_reset(0, 0);
	g_tally = NULL;
	print_message("[ allocfail ] %s: N=%lu allocations, %lu runs (k alone, k and after); %lu "
	              "tolerated the failure, %lu ended in an error, %lu leaked blocks; %.1f s; "
	              "errors seen: %s\n",
	              name, t->n, t->runs, t->same, t->errors, t->leaks,
	              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	              t->codes[0] ? t->codes : "-");
	AF_CHECK(t->leaks == 0, "%s: %lu blocks leaked", name, t->leaks);
	AF_CHECK(t->errors > 0,
	         "%s: no failure was ever reported: is the fault injection reaching "
	         "the code?",
	         name);
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures                                                                                    */

static char g_dir[256];
static struct config g_cfg;
static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;
static mbedtls_pk_context g_portal;
static struct jws_key *g_portal_key;
static int64_t g_now; /* the manifests' iat: one per test run, so that claims compare equal */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *p = malloc(1 << 20);
	size_t n = p ? fread(p, 1, 1 << 20, f) : 0;
	fclose(f);
	*len = n;
	return p;
}

static uint8_t *corpus(const char *dir, const char *name, size_t *len)
{
	char path[600];
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", src ? src : ".", dir, name);
	uint8_t *p = slurp(path, len);
	if (!p || !*len)
		fail_msg("cannot read %s (set C2S_SOURCE_DIR)", path);
	return p;
}

static c2s_err portal_sign_cb(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	(void)ctx;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(g_portal);
	mbedtls_mpi r, s;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int e = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, digest, 32, mbedtls_ctr_drbg_random,
	                           &g_drbg);
	if (e == 0 && *sig_len >= 64)
		e = mbedtls_mpi_write_binary(&r, sig, 32) ||
		    mbedtls_mpi_write_binary(&s, sig + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	*sig_len = 64;
	return e == 0 ? C2S_OK : C2S_ERR_HSM;
}

static const char *const DOC_HEX = "00112233445566778899aabbccddeeff"
                                   "00112233445566778899aabbccddeeff";

/* The claims of a portal manifest for `order`. */
static json_t *manifest_claims(const char *order)
{
	char jti[80];
	int64_t now = g_now;
	snprintf(jti, sizeof(jti), "allocfail-%s-0123456789", order);
	return json_pack("{ss ss ss sI sI ss s{ss ss ss ss} s[s]}", "iss", "portal", "aud",
	                 g_cfg.public_url, "jti", jti, "iat", (json_int_t)now, "exp",
	                 (json_int_t)(now + 300), "reference", order, "signer", "given_name", "Ana",
	                 "family_name", "Novak", "email", "ana.novak@example.si", "phone",
	                 "+38640111222", "documents", DOC_HEX);
}

static char *manifest_jws(const char *order)
{
	json_t *c = manifest_claims(order);
	char *tok = NULL, why[256];
	assert_non_null(c);
	assert_int_equal(
	    jws_sign(JWS_ES256, "c2s-order+jwt", c, portal_sign_cb, NULL, &tok, why, sizeof(why)),
	    C2S_OK);
	json_decref(c);
	return tok;
}

static int group_setup(void **state)
{
	(void)state;
	Dl_info di;
	if (dladdr((void *)group_setup, &di))
		g_base = di.dli_fbase;
	const char *tr = getenv("AF_TRACE");
	af.trace = tr ? strtoul(tr, NULL, 10) : 0;
	log_set_level(LOG_LVL_ERROR);
	g_now = time(NULL);
	if (!kh_tmpdir(g_dir, sizeof(g_dir)))
		return -1;
	config_defaults(&g_cfg);
	snprintf(g_cfg.state_dir, sizeof(g_cfg.state_dir), "%s/state", g_dir);
	snprintf(g_cfg.kh_state_dir, sizeof(g_cfg.kh_state_dir), "%s/kh", g_dir);
	snprintf(g_cfg.portal_keys, sizeof(g_cfg.portal_keys), "%s/portal-keys", g_dir);
	snprintf(g_cfg.public_url, sizeof(g_cfg.public_url), "https://podpis.example.si");
	g_cfg.portal_signature = 1;
	if (mkdir(g_cfg.state_dir, 0700) || mkdir(g_cfg.portal_keys, 0700))
		return -1;
	/* a portal key: P-256, its public half where the keyholder looks */
	mbedtls_entropy_init(&g_entropy);
	mbedtls_ctr_drbg_init(&g_drbg);
	mbedtls_pk_init(&g_portal);
	unsigned char pem[1024];
	char path[600];
	if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, NULL, 0) ||
	    mbedtls_pk_setup(&g_portal, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(g_portal),
	                        mbedtls_ctr_drbg_random, &g_drbg) ||
	    mbedtls_pk_write_pubkey_pem(&g_portal, pem, sizeof(pem)))
		return -1;
	snprintf(path, sizeof(path), "%s/portal.pem", g_cfg.portal_keys);
	FILE *f = fopen(path, "w");
	if (!f || fputs((char *)pem, f) < 0 || fclose(f))
		return -1;
	char why[256];
	if (jws_key_from_pem(pem, strlen((char *)pem), &g_portal_key, why, sizeof(why)) != C2S_OK)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	jws_key_free(g_portal_key);
	mbedtls_pk_free(&g_portal);
	mbedtls_ctr_drbg_free(&g_drbg);
	mbedtls_entropy_free(&g_entropy);
	kh_rmtree(g_dir);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* (1) IPC: c2s-web's requests through the keyholder's dispatch, and the web's decoders        */

static struct kh g_kh;
static uint8_t *g_attrs;
static size_t g_attrs_len;
static uint8_t g_cert[300], g_ca[200];

#define IPC_NREQ 6
static uint32_t g_ipc_ref[IPC_NREQ]; /* reply types of the reference run */
static size_t g_ipc_nref;

static void put_req(int fd, uint32_t type, struct buf *b)
{
	assert_int_equal(ipc_send(fd, type, b->data, b->len), C2S_OK);
	buf_reset(b);
}

static enum af_outcome ipc_run(unsigned long id)
{
	char order[32];
	int sv[2];
	struct buf b;
	struct ipc_msg m;
	uint32_t got[IPC_NREQ];
	size_t n = 0;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	snprintf(order, sizeof(order), "af%06lu", id);
	char *jws = manifest_jws(order);
	assert_non_null(rx);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* what c2s-web sends, queued before the keyholder serves the channel */
	buf_init(&b, IPC_MAX_BODY);
	put_req(sv[0], IPC_STATUS_REQ, &b);
	assert_int_equal(buf_put_str(&b, g_cfg.seal_key), C2S_OK);
	put_req(sv[0], IPC_KEYINFO_REQ, &b);
	assert_int_equal(buf_put_str(&b, g_cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_blob(&b, g_attrs, g_attrs_len), C2S_OK);
	put_req(sv[0], IPC_SEAL_ATTRS_REQ, &b);
	struct khmsg_manifest mr = {.jws = jws, .jws_len = strlen(jws), .expires_in = 3600};
	snprintf(mr.order, sizeof(mr.order), "%s", order);
	assert_int_equal(khmsg_manifest_encode(&mr, &b), C2S_OK);
	put_req(sv[0], IPC_MANIFEST_REQ, &b);
	assert_int_equal(buf_put_str(&b, order), C2S_OK);
	put_req(sv[0], IPC_OTP_SEND_REQ, &b);
	assert_int_equal(buf_put_str(&b, order), C2S_OK);
	assert_int_equal(buf_put_u8(&b, 1), C2S_OK);
	put_req(sv[0], IPC_ORDER_END_REQ, &b);
	buf_free(&b);
	assert_int_equal(shutdown(sv[0], SHUT_WR), 0);

	af_arm();
	kh_serve_channel(&g_kh, sv[1]); /* returns at the end of the requests or on a failure */
	af_disarm();
	close(sv[1]);

	int same = 1;
	for (;;) {
		af_arm();
		c2s_err e = ipc_recv(sv[0], rx, &m, 0);
		if (e != C2S_OK) {
			af_disarm();
			AF_CHECK(e == C2S_ERR_IPC, "reply %zu: %s", n, c2s_err_name(e));
			break;
		}
		AF_CHECK(n < IPC_NREQ, "more replies than requests");
		got[n] = m.type;
		switch (m.type) {
		case IPC_STATUS_RESP: {
			struct khmsg_status st;
			AF_CHECK(khmsg_status_decode(&m.body, &st) == C2S_OK && st.state == C2S_OK,
			         "status reply");
			break;
		}
		case IPC_KEYINFO_RESP: {
			struct khmsg_keyinfo ki;
			e = khmsg_keyinfo_decode(&m.body, &ki);
			if (e == C2S_OK) {
				AF_CHECK(ki.cert_len == sizeof(g_cert) &&
				             memcmp(ki.cert, g_cert, sizeof(g_cert)) == 0 &&
				             ki.n_chain == 1 && ki.chain_len[0] == sizeof(g_ca),
				         "keyinfo reply differs");
				khmsg_keyinfo_free(&ki);
			} else {
				AF_CHECK(e == C2S_ERR_NOMEM, "keyinfo decode: %s", c2s_err_name(e));
				af_error("keyinfo-decode", e);
				same = 0;
			}
			break;
		}
		case IPC_ERROR_RESP: {
			c2s_err code;
			char detail[1024];
			AF_CHECK(ipc_parse_error(&m, &code, detail, sizeof(detail)) == C2S_OK,
			         "error reply %zu unreadable", n);
			if (n < g_ipc_nref && g_ipc_ref[n] != IPC_ERROR_RESP)
				af_error(ipc_type_name(g_ipc_ref[n]), code);
			break;
		}
		case IPC_DONE_RESP: {
			uint32_t v;
			AF_CHECK(buf_get_u32(&m.body, &v) == C2S_OK, "done reply");
			AF_CHECK(v == (n == 3 ? 1u : 0u), "done reply %zu says %u", n, v);
			break;
		}
		default:
			AF_CHECK(0, "unexpected reply %s", ipc_type_name(m.type));
		}
		af_disarm();
		n++;
	}
	close(sv[0]);
	free(rx);
	free(jws);
	if (g_ipc_nref == 0) { /* the reference */
		memcpy(g_ipc_ref, got, sizeof(got));
		AF_CHECK(n == IPC_NREQ, "reference: %zu replies", n);
		g_ipc_nref = n;
		return AF_SAME;
	}
	if (n < g_ipc_nref) {
		af_error("ipc", C2S_ERR_NOMEM); /* the keyholder dropped the channel */
		same = 0;
	}
	for (size_t i = 0; i < n; i++) {
		AF_CHECK(got[i] == g_ipc_ref[i] || got[i] == IPC_ERROR_RESP,
		         "reply %zu is %s, not %s", i, ipc_type_name(got[i]),
		         ipc_type_name(g_ipc_ref[i]));
		same &= got[i] == g_ipc_ref[i];
	}
	return same ? AF_SAME : AF_ERROR;
}

static void test_ipc(void **state)
{
	(void)state;
	struct af_tally t;
	memset(&g_kh, 0, sizeof(g_kh));
	g_kh.cfg = &g_cfg;
	pthread_mutex_init(&g_kh.mu, NULL);
	pthread_rwlock_init(&g_kh.hsm_lock, NULL);
	g_kh.state = C2S_OK;
	g_kh.key_type = HSM_KEY_EC;
	g_kh.bits = 384;
	g_kh.mech = HSM_MECH_ECDSA;
	g_kh.hash = HSM_HASH_SHA384; /* the seed attributes carry a SHA-384 digest */
	g_kh.sig_max = 104;
	memset(g_cert, 0x30, sizeof(g_cert));
	memset(g_ca, 0x31, sizeof(g_ca));
	g_kh.cert = g_cert; /* no token (k->hsm NULL): the seal is refused, after the checks */
	g_kh.cert_len = sizeof(g_cert);
	g_kh.chain[0] = g_ca;
	g_kh.chain_len[0] = sizeof(g_ca);
	g_kh.n_chain = 1;
	kh_rate_init(&g_kh, 0);
	assert_int_equal(kh_sam_init(&g_kh), C2S_OK);
	g_attrs = corpus("cms_attrs_fuzz", "good-seal-p384", &g_attrs_len);
	g_ipc_nref = 0;
	af_drive("ipc", ipc_run, &t);
	kh_sam_fini(&g_kh);
	free(g_attrs);
	pthread_mutex_destroy(&g_kh.mu);
	pthread_rwlock_destroy(&g_kh.hsm_lock);
}

/* ------------------------------------------------------------------------------------------ */
/* (2) JSON: the portal's JWS (signed, peeked by the web, verified by the keyholder), identity, */
/*     an order created from it and the order as the API returns it                             */

static struct store *g_store;
static char *g_tok;
static struct order_file_new g_docs[2], g_atts[1];
static char g_order_id[ORDER_ID_MAX]; /* an order the reference run made */

static enum af_outcome json_run(unsigned long id)
{
	int same = 1;
	char why[512], ref[64], token[ORDER_LINK_TOKEN_LEN + 1];
	uint8_t link_sha[32];
	json_t *want = manifest_claims("json"), *c = NULL;
	char *tok = NULL;
	c2s_err e;
	assert_non_null(want);
	snprintf(ref, sizeof(ref), "ref-%lu", id);
	assert_int_equal(order_link_new(token, sizeof(token), link_sha), C2S_OK);
	struct order_new on = {.client = "portal",
	                       .reference = ref,
	                       .locale = "sl",
	                       .manifest = g_tok,
	                       .documents = g_docs,
	                       .n_documents = 2,
	                       .attachments = g_atts,
	                       .n_attachments = 1,
	                       .link_token = token,
	                       .public_url = g_cfg.public_url,
	                       .expires_in = 3600};
	snprintf(on.subscriber.given_name, ORDER_NAME_MAX, "Živa");
	snprintf(on.subscriber.family_name, ORDER_NAME_MAX, "Čeh");
	snprintf(on.subscriber.email, ORDER_EMAIL_MAX, "ziva.ceh@example.si");
	snprintf(on.subscriber.phone, ORDER_PHONE_MAX, "+38641123456");
	memset(on.body_sha256, (int)(id & 0xff), 32);

	af_arm();
	/* the portal's side (our jws_sign, as the admin tool and the assertions use it) */
	e = jws_sign(JWS_ES256, "c2s-order+jwt", want, portal_sign_cb, NULL, &tok, why,
	             sizeof(why));
	if (e == C2S_OK) {
		AF_CHECK(tok != NULL && strncmp(tok, "eyJ", 3) == 0, "jws_sign: no token");
	} else {
		AF_CHECK(tok == NULL, "jws_sign failed and left a token");
		af_error("jws_sign", e);
		same = 0;
	}
	free(tok);
	/* the web: claims peeked before the keyholder verifies */
	e = jws_peek_claims(g_tok, strlen(g_tok), &c, why, sizeof(why));
	if (e == C2S_OK)
		AF_CHECK(json_equal(c, want), "peeked claims differ (allocation %lu failing): %s",
		         af.fail_at, json_dumps(c, JSON_COMPACT));
	else {
		af_error("jws_peek_claims", e);
		same = 0;
	}
	json_decref(c);
	c = NULL;
	/* the keyholder */
	const struct jws_key *keys[1] = {g_portal_key};
	e = jws_verify(g_tok, strlen(g_tok), keys, 1, "c2s-order+jwt", &c, why, sizeof(why));
	if (e == C2S_OK) {
		struct jws_expect ex = {
		    .aud = g_cfg.public_url, .now = time(NULL), .max_lifetime = 600, .leeway = 60};
		AF_CHECK(json_equal(c, want), "verified claims differ");
		e = jws_claims_check(c, &ex, why, sizeof(why));
		AF_CHECK(e == C2S_OK, "claims check: %s", why);
	} else {
		af_error("jws_verify", e);
		same = 0;
	}
	json_decref(c);
	c = NULL;
	/* identity: the contract's subscriber against the portal account */
	struct identity_name con = {"Živa", strlen("Živa"), "Čeh", strlen("Čeh")};
	struct identity_name acc = {"ZIVA", 4, "Ceh", 3};
	struct identity_result res;
	char desc[IDENTITY_DESCRIBE_MAX];
	e = identity_match(&con, &acc, &res, why, sizeof(why));
	if (e == C2S_OK) {
		AF_CHECK(!res.match && res.n == 2 && res.mismatches[0].diacritics_only,
		         "identity result");
		e = identity_describe(&res, "en", desc, sizeof(desc));
		AF_CHECK(e == C2S_OK && strstr(desc, "diacritics"), "identity description");
	} else {
		af_error("identity_match", e);
		same = 0;
	}
	/* the order, and the order as JSON */
	struct order_info info;
	int existed = 0;
	e = order_create(g_store, &on, T0, &info, &existed, why, sizeof(why));
	if (e == C2S_OK) {
		AF_CHECK(!existed, "order existed");
		if (!g_order_id[0])
			snprintf(g_order_id, sizeof(g_order_id), "%s", info.id);
	} else {
		af_error("order_create", e);
		same = 0;
	}
	json_t *doc = NULL;
	e = order_json(g_store, g_order_id, &doc);
	if (e == C2S_OK) {
		char *txt = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		if (txt) {
			AF_CHECK(strstr(txt, "\"status\":\"awaiting_signature\"") &&
			             strstr(txt, "\"events\":[{") &&
			             strstr(txt, "\"attachments\":[{"),
			         "order JSON: %s", txt);
			free(txt);
		} else {
			af_error("json_dumps", C2S_ERR_NOMEM);
			same = 0;
		}
	} else {
		AF_CHECK(doc == NULL, "order_json failed and left a document");
		af_error("order_json", e);
		same = 0;
	}
	json_decref(doc);
	af_disarm();
	json_decref(want);
	return same ? AF_SAME : AF_ERROR;
}

static void test_json(void **state)
{
	(void)state;
	struct af_tally t;
	static const char *const titles[] = {"Naročniška pogodba", "Pooblastilo", "Cenik"};
	assert_int_equal(store_open(g_cfg.state_dir, &g_store), C2S_OK);
	for (int i = 0; i < 3; i++) {
		char body[128];
		struct order_file_new *f = i < 2 ? &g_docs[i] : &g_atts[0];
		int n = snprintf(body, sizeof(body), "%%PDF-1.7\n%% allocfail %d\n%%%%EOF\n", i);
		f->title = titles[i];
		f->filename = i < 2 ? "pogodba.pdf" : "cenik.pdf";
		f->size = (uint64_t)n;
		assert_int_equal(blob_put(g_cfg.state_dir, body, (size_t)n, f->sha256), C2S_OK);
	}
	g_tok = manifest_jws("json");
	g_order_id[0] = 0;
	af_drive("json", json_run, &t);
	free(g_tok);
	store_close(g_store);
}

/* ------------------------------------------------------------------------------------------ */
/* (3) PDF: a signature revision of corpus files, the keyholder's scan of it, a /DSS update    */

struct pdf_case {
	const char *file;
	uint8_t *pdf;
	size_t len;
	struct buf ref_update; /* the reference run's revision */
	uint8_t ref_md[32];
};

/* a new field (classic xref), an xref stream, an empty field filled, an incremental file, a
 * file signed once signed again */
#define N_PDF 5
static struct pdf_case g_pdf[N_PDF] = {{.file = "gs.pdf"},
                                       {.file = "qpdf-objstm.pdf"},
                                       {.file = "acroform-empty-sig.pdf"},
                                       {.file = "incremental.pdf"},
                                       {.file = "signed-once.pdf"}};
static uint8_t *g_signed;
static size_t g_signed_len;
static struct buf g_ref_dss;
static int g_pdf_ref;

static enum af_outcome pdf_one(struct pdf_case *pc)
{
	int same = 1;
	char why[300];
	struct pdf_sig_params p = {.name = "Živa Čeh",
	                           .reason = "Naročniška pogodba",
	                           .when = 1700000000,
	                           .contents_max = 4096,
	                           .no_page_annot = 1};
	struct pdf_prepared pp;
	c2s_err e = pdf_prepare(pc->pdf, pc->len, 0, &p, &pp, why, sizeof(why));
	const uint8_t *upd = pc->ref_update.data;
	size_t upd_len = pc->ref_update.len;
	if (e == C2S_OK) {
		if (g_pdf_ref) {
			af_disarm();
			buf_init(&pc->ref_update, SCAN_MAX_UPDATE);
			assert_int_equal(buf_put(&pc->ref_update, pp.update.data, pp.update.len),
			                 C2S_OK);
			af_arm();
		}
		AF_CHECK(pp.update.len == pc->ref_update.len &&
		             memcmp(pp.update.data, pc->ref_update.data, pp.update.len) == 0,
		         "%s: the revision differs from the reference", pc->file);
		upd = pp.update.data;
		upd_len = pp.update.len;
	} else {
		af_error("pdf_prepare", e);
		same = 0;
	}
	/* the keyholder: the update's own bytes, then the digest from the web's midstate */
	struct scan_result r;
	e = scan_update(upd, upd_len, pc->len, &r, why, sizeof(why));
	if (e == C2S_OK) {
		struct buf ms;
		struct c2s_sha256 ctx;
		uint64_t ml;
		uint8_t md[32];
		buf_init(&ms, MIDSTATE_MAX);
		e = midstate_of(pc->pdf, pc->len, &ms);
		if (e == C2S_OK)
			e = midstate_import(ms.data, ms.len, &ctx, &ml);
		if (e == C2S_OK)
			e = scan_digest(&ctx, upd, upd_len, &r, md);
		buf_free(&ms);
		if (e == C2S_OK) {
			if (g_pdf_ref)
				memcpy(pc->ref_md, md, 32);
			AF_CHECK(memcmp(md, pc->ref_md, 32) == 0, "%s: digest differs", pc->file);
		} else {
			af_error("midstate", e);
			same = 0;
		}
	} else {
		AF_CHECK(e == C2S_ERR_NOMEM, "%s: scan_update: %s: %s", pc->file, c2s_err_name(e),
		         why);
		af_error("scan_update", e);
		same = 0;
	}
	/* the CMS into the placeholder */
	if (upd == pp.update.data) {
		uint8_t der[600];
		memset(der, 0x5a, sizeof(der));
		e = pdf_set_contents(&pp, der, sizeof(der));
		AF_CHECK(e == C2S_OK, "pdf_set_contents: %s", c2s_err_name(e));
	}
	pdf_prepared_free(&pp);
	return same ? AF_SAME : AF_ERROR;
}

static enum af_outcome pdf_run(unsigned long id)
{
	(void)id;
	int same = 1;
	char why[300];
	af_arm();
	for (size_t i = 0; i < N_PDF; i++)
		same &= pdf_one(&g_pdf[i]) == AF_SAME;
	/* B-LT: the validation data appended to a signed file */
	static const uint8_t cert[] = {0x30, 0x82, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t crl[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	const uint8_t *certs[2] = {cert, crl}, *crls[1] = {crl};
	size_t cert_lens[2] = {sizeof(cert), sizeof(crl)}, crl_lens[1] = {sizeof(crl)};
	struct pdf_dss dss = {.certs = certs,
	                      .cert_lens = cert_lens,
	                      .n_certs = 2,
	                      .crls = crls,
	                      .crl_lens = crl_lens,
	                      .n_crls = 1};
	struct buf upd;
	c2s_err e = pdf_append_dss(g_signed, g_signed_len, &dss, &upd, why, sizeof(why));
	if (e == C2S_OK) {
		if (g_pdf_ref) {
			af_disarm();
			buf_init(&g_ref_dss, 1 << 20);
			assert_int_equal(buf_put(&g_ref_dss, upd.data, upd.len), C2S_OK);
			af_arm();
		}
		AF_CHECK(upd.len == g_ref_dss.len && memcmp(upd.data, g_ref_dss.data, upd.len) == 0,
		         "the /DSS update differs from the reference");
	} else {
		af_error("pdf_append_dss", e);
		same = 0;
	}
	buf_free(&upd);
	af_disarm();
	g_pdf_ref = 0;
	return same ? AF_SAME : AF_ERROR;
}

static void test_pdf(void **state)
{
	(void)state;
	struct af_tally t;
	for (size_t i = 0; i < N_PDF; i++) {
		g_pdf[i].pdf = corpus("pdf_fuzz", g_pdf[i].file, &g_pdf[i].len);
		buf_init(&g_pdf[i].ref_update, 0);
	}
	g_signed = corpus("pdf_fuzz", "signed-once.pdf", &g_signed_len);
	buf_init(&g_ref_dss, 0);
	g_pdf_ref = 1;
	af_drive("pdf", pdf_run, &t);
	for (size_t i = 0; i < N_PDF; i++) {
		free(g_pdf[i].pdf);
		buf_free(&g_pdf[i].ref_update);
	}
	free(g_signed);
	buf_free(&g_ref_dss);
}

/* The interposer itself: it sees, refuses and tracks what library code allocates while armed,
 * and nothing while disarmed. */
static void test_interposer(void **state)
{
	(void)state;
	struct buf b;
	json_t *j;
	af_reset(0, 0);
	buf_init(&b, 1024);
	af_arm();
	assert_int_equal(buf_put_u32(&b, 7), C2S_OK); /* realloc in libc2s.a */
	af_disarm();
	assert_int_equal(af.count, 1);
	assert_int_equal(af.live, 1);
	buf_free(&b);
	assert_int_equal(af.live, 0);
	af_reset(1, 0);
	buf_init(&b, 1024);
	af_arm();
	assert_int_equal(buf_put_u32(&b, 7), C2S_ERR_NOMEM);
	assert_int_equal(c2s_json_parse("[1]", 3, 0, &j, NULL), C2S_OK); /* allocation 2 */
	af_disarm();
	assert_true(af.failed);
	assert_true(af.count > 2);
	assert_true(af.live > 0); /* jansson's array, allocated through firmware/base/json */
	json_decref(j);
	assert_int_equal(af.live, 0);
	af_reset(1, 1);
	af_arm();
	assert_int_equal(c2s_json_parse("[1]", 3, 0, &j, NULL), C2S_ERR_NOMEM);
	assert_null(j);
	af_disarm();
	assert_int_equal(af.live, 0);
	unsigned long n = af.count;
	void *p = malloc(16); /* disarmed: neither counted nor tracked */
	assert_int_equal(af.count, n);
	assert_int_equal(af.live, 0);
	free(p);
	af_reset(0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_interposer),
	    cmocka_unit_test(test_ipc),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_pdf),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
