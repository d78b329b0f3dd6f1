/* Customer signing under sole control, through the real c2s-keyholder over IPC, the way c2s-web
 * and c2s-notify use it (tests/unit/sam_test.c drives the same messages for correctness).
 * Acts as the parent, the web and the notify peer: execs click2signd as c2s-keyholder, sends
 * manifests signed with the test portal's key, asks for codes (reads them from the SMS the
 * keyholder hands to "notify"), verifies them, and signs documents with a midstate of the
 * original and an update from our PDF writer (both prepared before any timing).
 *
 *   sam_bench latency CLICK2SIGND CONFIG PORTAL_KEY ORDERS PDF...
 *     one order at a time: manifest, code, verify (signer mode: key generation and certificate),
 *     document 0, document 1, order end; prints per part "lat PART N p50 p90 min max" (ms)
 *     (SAM_BENCH_VERBOSE=1: each order's times on stderr)
 *   sam_bench rate CLICK2SIGND CONFIG PORTAL_KEY THREADS SECONDS [ORDERS_PER_ROUND] PDF...
 *     rounds: each of THREADS client threads (one channel each) activates ORDERS_PER_ROUND
 *     orders (untimed), then all sign every document of their orders once (timed together),
 *     then end them (untimed), until SECONDS of signing; prints
 *     "sam <t> threads: <n> signatures in <s> s = <rate>/s, <errors> errors (...)"
 *   sam_bench keygen CONFIG N
 *     the token's own key generation (hsm_key_generate, P-256, CKA_TOKEN) and destruction, no
 *     keyholder: "lat keygen N p50 p90 min max" and "lat destroy ..." (ms)
 * Every manifest lists all PDFs given (at most 32) as its documents. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "firmware/base/config.h"
#include "firmware/certs/jws.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/pades/midstate.h"
#include "firmware/pades/pdf.h"
#include "hsm/hsm.h"

#define MAX_DOCS 32
#define MAX_THR  8
#define MAX_K    64

struct doc {
	uint8_t *pdf;
	size_t len;
	char hex[65];
	struct buf mid;
	struct pdf_prepared pp;
};

static struct config cfg;
static struct doc docs[MAX_DOCS];
static size_t ndocs;
static mbedtls_pk_context portal;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
static pthread_mutex_t act_mu = PTHREAD_MUTEX_INITIALIZER; /* portal key, notify channel */
static pid_t kh_pid = -1;
static int notify_fd = -1, chan[MAX_THR];
static unsigned order_seq;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void report(const char *part, double *v, size_t n)
{
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_d);
	size_t p90 = (n * 9 + 9) / 10;
	printf("lat %s %zu %.2f %.2f %.2f %.2f\n", part, n, v[(n - 1) / 2], v[p90 ? p90 - 1 : 0],
	       v[0], v[n - 1]);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = sz > 0 ? malloc((size_t)sz) : NULL;
	*n = p ? fread(p, 1, (size_t)sz, f) : 0;
	fclose(f);
	return p;
}

/* The web's half, done once per document before any timing: hash, midstate, update. */
static int docs_load(char **paths, size_t n)
{
	struct pdf_sig_params p = {.name = "Živa Čeh",
	                           .reason = "Podpis pogodbe",
	                           .when = time(NULL),
	                           .contents_max = 12000,
	                           .field_name = "Signature1",
	                           .no_page_annot =
	                               1}; /* as the web prepares a customer's update */
	char why[512];
	if (n == 0 || n > MAX_DOCS) {
		fprintf(stderr, "sam_bench: 1 to %d PDFs\n", MAX_DOCS);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct doc *d = &docs[i];
		uint8_t h[32];
		d->pdf = slurp(paths[i], &d->len);
		buf_init(&d->mid, 256);
		if (!d->pdf || mbedtls_sha256_ret(d->pdf, d->len, h, 0) != 0 ||
		    midstate_of(d->pdf, d->len, &d->mid) != C2S_OK ||
		    pdf_prepare(d->pdf, d->len, 0, &p, &d->pp, why, sizeof(why)) != C2S_OK) {
			fprintf(stderr, "sam_bench: %s: cannot prepare (%s)\n", paths[i], why);
			return -1;
		}
		for (int j = 0; j < 32; j++)
			snprintf(d->hex + 2 * j, 3, "%02x", h[j]);
	}
	ndocs = n;
	return 0;
}

/* ---- the keyholder process ---- */

static int call(int fd, uint8_t *rx, uint32_t type, const struct buf *req, struct ipc_msg *m)
{
	if (ipc_send(fd, type, req ? req->data : NULL, req ? req->len : 0) != C2S_OK)
		return -1;
	return ipc_recv(fd, rx, m, 60000) == C2S_OK ? 0 : -1;
}

static int start_keyholder(const char *exe, const char *conf, int nch)
{
	int sv[2], nv[2], khfds[MAX_THR];
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	if (!rx || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, nv) != 0)
		return -1;
	kh_pid = fork();
	if (kh_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(sv[1], 3);
		close_range(4, ~0U, 0);
		execl(exe, "c2s-keyholder", "-c", conf, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	for (int i = 0; i < nch; i++) {
		int p[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p) != 0)
			return -1;
		chan[i] = p[0];
		khfds[i] = p[1];
	}
	uint8_t gen[4] = {0, 0, 0, 1};
	if (ipc_send_fds(sv[0], IPC_CHANNELS, gen, 4, khfds, (size_t)nch) != C2S_OK ||
	    ipc_send_fds(sv[0], IPC_NOTIFY_CHANNEL, NULL, 0, &nv[1], 1) != C2S_OK)
		return -1;
	for (int i = 0; i < nch; i++)
		close(khfds[i]);
	close(nv[1]);
	notify_fd = nv[0];
	/* the parent end stays open for the keyholder's life (it exits when it closes) */
	for (int i = 0; i < 300; i++) {
		struct ipc_msg m;
		struct khmsg_status st;
		if (call(chan[0], rx, IPC_STATUS_REQ, NULL, &m) == 0 && m.type == IPC_STATUS_RESP &&
		    khmsg_status_decode(&m.body, &st) == C2S_OK && st.state == C2S_OK) {
			free(rx);
			return 0;
		}
		usleep(100000);
	}
	free(rx);
	return -1;
}

static void stop_keyholder(void)
{
	if (kh_pid > 0) {
		kill(kh_pid, SIGTERM);
		waitpid(kh_pid, NULL, 0);
	}
	kh_pid = -1;
}

/* ---- the portal: signed manifests ---- */

static c2s_err es256(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*(mbedtls_pk_context *)ctx);
	mbedtls_mpi r, s;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	int rc = mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, digest, 32, mbedtls_ctr_drbg_random,
	                            &drbg);
	if (rc == 0)
		rc = mbedtls_mpi_write_binary(&r, sig, 32) ||
		     mbedtls_mpi_write_binary(&s, sig + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	*sig_len = 64;
	return rc == 0 ? C2S_OK : C2S_ERR_CMS;
}

/* A compact JWS over a fresh manifest for all documents (caller holds act_mu). */
static char *manifest(void)
{
	int64_t now = time(NULL);
	char jti[64];
	char *out = NULL;
	snprintf(jti, sizeof(jti), "bench-%d-%u-%08x", (int)getpid(), ++order_seq,
	         (unsigned)rand());
	json_t *ds = json_array();
	for (size_t i = 0; i < ndocs; i++)
		json_array_append_new(ds, json_string(docs[i].hex));
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:o}", "iss",
	                      "moj-a1", "aud", cfg.public_url, "iat", (json_int_t)now, "exp",
	                      (json_int_t)(now + 300), "jti", jti, "reference", "A1-2026-000123",
	                      "signer", "given_name", "Živa", "family_name", "Čeh", "email",
	                      "ziva.ceh@example.si", "phone", "+38641123456", "documents", ds);
	if (!c || jws_sign(JWS_ES256, "c2s-order+jwt", c, es256, &portal, &out, NULL, 0) != C2S_OK)
		out = NULL;
	json_decref(c);
	return out;
}

/* ---- the web's calls; each returns 0 on the expected answer ---- */

static int send_manifest(int fd, uint8_t *rx, const char *order)
{
	struct buf b;
	struct ipc_msg m;
	pthread_mutex_lock(&act_mu);
	char *jws = manifest();
	pthread_mutex_unlock(&act_mu);
	if (!jws)
		return -1;
	struct khmsg_manifest mr = {.jws = jws, .jws_len = strlen(jws), .expires_in = 86400};
	snprintf(mr.order, sizeof(mr.order), "%s", order);
	buf_init(&b, IPC_MAX_BODY);
	int rc = khmsg_manifest_encode(&mr, &b) == C2S_OK &&
	                 call(fd, rx, IPC_MANIFEST_REQ, &b, &m) == 0 && m.type == IPC_DONE_RESP
	             ? 0
	             : -1;
	buf_free(&b);
	free(jws);
	return rc;
}

/* Asks for a code and takes it out of the SMS handed to "notify" (one at a time: act_mu). */
static int otp_send(int fd, uint8_t *rx, const char *order, char code[8])
{
	struct buf b;
	struct ipc_msg m;
	struct khmsg_otp o;
	int rc = -1;
	code[0] = 0;
	buf_init(&b, 256);
	if (buf_put_str(&b, order) != C2S_OK)
		return -1;
	pthread_mutex_lock(&act_mu);
	if (ipc_send(fd, IPC_OTP_SEND_REQ, b.data, b.len) != C2S_OK ||
	    ipc_recv(notify_fd, rx, &m, 30000) != C2S_OK || m.type != IPC_SMS_REQ)
		goto out;
	char to[40], text[512];
	if (buf_get_str(&m.body, to, sizeof(to)) != C2S_OK ||
	    buf_get_str(&m.body, text, sizeof(text)) != C2S_OK)
		goto out;
	const char *d = text;
	while (*d && !(d[0] >= '0' && d[0] <= '9' && strspn(d, "0123456789") == 6))
		d++;
	if (!*d)
		goto out;
	memcpy(code, d, 6);
	code[6] = 0;
	uint8_t ok[4] = {0};
	if (ipc_send(notify_fd, IPC_SMS_RESP, ok, 4) != C2S_OK ||
	    ipc_recv(fd, rx, &m, 30000) != C2S_OK || m.type != IPC_OTP_RESP ||
	    khmsg_otp_decode(&m.body, &o) != C2S_OK || o.result != C2S_OK)
		goto out;
	rc = 0;
out:
	pthread_mutex_unlock(&act_mu);
	buf_free(&b);
	return rc;
}

static int otp_verify(int fd, uint8_t *rx, const char *order, const char *code, uint8_t *sad)
{
	struct buf b;
	struct ipc_msg m;
	struct khmsg_otp o;
	buf_init(&b, 256);
	int rc = buf_put_str(&b, order) == C2S_OK && buf_put_str(&b, code) == C2S_OK &&
	                 call(fd, rx, IPC_OTP_VERIFY_REQ, &b, &m) == 0 && m.type == IPC_OTP_RESP &&
	                 khmsg_otp_decode(&m.body, &o) == C2S_OK && o.result == C2S_OK
	             ? 0
	             : -1;
	if (rc == 0)
		memcpy(sad, o.sad, KHMSG_SAD_LEN);
	else if (m.type == IPC_ERROR_RESP) {
		c2s_err e;
		char why[512] = "";
		if (ipc_parse_error(&m, &e, why, sizeof(why)) == C2S_OK)
			fprintf(stderr, "sam_bench: verify %s: %s\n", order, why);
	}
	buf_free(&b);
	return rc;
}

static int sign_doc(int fd, uint8_t *rx, struct buf *req, const uint8_t *sad, const char *order,
                    uint32_t n)
{
	struct ipc_msg m;
	struct khmsg_sign_doc d = {.doc = n,
	                           .midstate = docs[n].mid.data,
	                           .midstate_len = docs[n].mid.len,
	                           .update = docs[n].pp.update.data,
	                           .update_len = docs[n].pp.update.len};
	memcpy(d.sad, sad, KHMSG_SAD_LEN);
	snprintf(d.order, sizeof(d.order), "%s", order);
	buf_reset(req);
	if (khmsg_sign_doc_encode(&d, req) != C2S_OK ||
	    call(fd, rx, IPC_SIGN_DOC_REQ, req, &m) != 0)
		return -1;
	if (m.type == IPC_SIGN_DOC_RESP)
		return 0;
	c2s_err e;
	char why[512] = "";
	if (m.type == IPC_ERROR_RESP && ipc_parse_error(&m, &e, why, sizeof(why)) == C2S_OK)
		fprintf(stderr, "sam_bench: sign %s/%u: %s\n", order, n, why);
	return -1;
}

static int order_end(int fd, uint8_t *rx, const char *order)
{
	struct buf b;
	struct ipc_msg m;
	buf_init(&b, 256);
	int rc = buf_put_str(&b, order) == C2S_OK && buf_put_u8(&b, 1) == C2S_OK &&
	                 call(fd, rx, IPC_ORDER_END_REQ, &b, &m) == 0 && m.type == IPC_DONE_RESP
	             ? 0
	             : -1;
	buf_free(&b);
	return rc;
}

/* ---- latency: one order at a time ---- */

enum { L_MANIFEST, L_SEND, L_VERIFY, L_SIGN0, L_FIRST, L_SIGN1, L_END, L_N };
static const char *lat_name[L_N] = {"manifest",          "otp_send",  "otp_verify", "sign_first",
                                    "verify+sign_first", "sign_next", "order_end"};

static int run_latency(int orders)
{
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY), sad[KHMSG_SAD_LEN];
	double *v[L_N];
	struct buf req;
	int errs = 0, fd = chan[0];
	buf_init(&req, IPC_MAX_BODY);
	for (int p = 0; p < L_N; p++)
		v[p] = calloc((size_t)orders, sizeof(double));
	for (int i = 0; i < orders; i++) {
		char order[64], code[8];
		double t[8];
		snprintf(order, sizeof(order), "lat-%d-%d", (int)getpid(), i);
		t[0] = now_ms();
		int ok = send_manifest(fd, rx, order) == 0;
		t[1] = now_ms();
		ok = ok && otp_send(fd, rx, order, code) == 0;
		t[2] = now_ms();
		ok = ok && otp_verify(fd, rx, order, code, sad) == 0;
		t[3] = now_ms();
		ok = ok && sign_doc(fd, rx, &req, sad, order, 0) == 0;
		t[4] = now_ms();
		ok = ok && (ndocs < 2 || sign_doc(fd, rx, &req, sad, order, 1) == 0);
		t[5] = now_ms();
		ok = ok && order_end(fd, rx, order) == 0;
		t[6] = now_ms();
		if (!ok) {
			errs++;
			continue;
		}
		if (getenv("SAM_BENCH_VERBOSE"))
			fprintf(stderr, "order %d: %.2f %.2f %.2f %.2f %.2f %.2f ms\n", i,
			        t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], t[5] - t[4],
			        t[6] - t[5]);
		v[L_MANIFEST][i - errs] = t[1] - t[0];
		v[L_SEND][i - errs] = t[2] - t[1];
		v[L_VERIFY][i - errs] = t[3] - t[2];
		v[L_SIGN0][i - errs] = t[4] - t[3];
		v[L_FIRST][i - errs] = t[4] - t[2];
		v[L_SIGN1][i - errs] = t[5] - t[4];
		v[L_END][i - errs] = t[6] - t[5];
	}
	for (int p = 0; p < L_N; p++) {
		if (p != L_SIGN1 || ndocs >= 2)
			report(lat_name[p], v[p], (size_t)(orders - errs));
		free(v[p]);
	}
	printf("errors %d\n", errs);
	buf_free(&req);
	free(rx);
	return errs ? 1 : 0;
}

/* ---- rate: rounds of activate (untimed), sign (timed), end (untimed) ---- */

static pthread_barrier_t bar;
static int nthr, per_round, stop_now;
static double secs_goal, sign_ms, act_ms;
static unsigned long rounds;

struct worker {
	int id;
	unsigned long ok, err, orders;
};

static void *rate_work(void *arg)
{
	struct worker *w = arg;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	uint8_t sad[MAX_K][KHMSG_SAD_LEN];
	char order[MAX_K][64];
	int live[MAX_K];
	struct buf req;
	int fd = chan[w->id];
	double t0 = 0;
	buf_init(&req, IPC_MAX_BODY);
	for (unsigned long r = 0;; r++) {
		if (w->id == 0)
			t0 = now_ms();
		for (int k = 0; k < per_round; k++) {
			char code[8];
			snprintf(order[k], sizeof(order[k]), "rate-%d-%d-%lu-%d", (int)getpid(),
			         w->id, r, k);
			live[k] = send_manifest(fd, rx, order[k]) == 0 &&
			          otp_send(fd, rx, order[k], code) == 0 &&
			          otp_verify(fd, rx, order[k], code, sad[k]) == 0;
			w->err += !live[k];
		}
		pthread_barrier_wait(&bar);
		double t1 = now_ms();
		if (w->id == 0)
			act_ms += t1 - t0;
		for (int k = 0; k < per_round; k++)
			for (uint32_t n = 0; live[k] && n < ndocs; n++) {
				if (sign_doc(fd, rx, &req, sad[k], order[k], n) == 0)
					w->ok++;
				else
					w->err++;
			}
		pthread_barrier_wait(&bar);
		if (w->id == 0) {
			sign_ms += now_ms() - t1;
			rounds++;
			stop_now = sign_ms >= secs_goal * 1e3;
		}
		for (int k = 0; k < per_round; k++)
			if (live[k]) {
				w->err += order_end(fd, rx, order[k]) != 0;
				w->orders++;
			}
		pthread_barrier_wait(&bar);
		if (stop_now)
			break;
	}
	buf_free(&req);
	free(rx);
	return NULL;
}

static int run_rate(void)
{
	struct worker w[MAX_THR];
	pthread_t t[MAX_THR];
	pthread_barrier_init(&bar, NULL, (unsigned)nthr);
	for (int i = 0; i < nthr; i++) {
		w[i] = (struct worker){.id = i};
		pthread_create(&t[i], NULL, rate_work, &w[i]);
	}
	unsigned long ok = 0, err = 0, orders = 0;
	for (int i = 0; i < nthr; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		err += w[i].err;
		orders += w[i].orders;
	}
	printf("sam %d threads: %lu signatures in %.2f s = %.0f/s, %lu errors (%lu orders of %zu "
	       "documents in %lu rounds of %d orders per thread; activation %.2f s = %.1f ms per "
	       "order)\n",
	       nthr, ok, sign_ms / 1e3, ok / (sign_ms / 1e3), err, orders, ndocs, rounds, per_round,
	       act_ms / 1e3, orders ? act_ms / (double)orders * nthr : 0);
	return err ? 1 : 0;
}

/* ---- keygen: the token's own cost of what verification adds in signer mode ---- */

static int run_keygen(int n)
{
	struct hsm *h = NULL;
	char why[HSM_WHY], pin[HSM_MAX_PIN] = "";
	FILE *f = fopen(cfg.pin_file, "r");
	if (!f || !fgets(pin, sizeof(pin), f)) {
		fprintf(stderr, "sam_bench: cannot read %s\n", cfg.pin_file);
		return 1;
	}
	fclose(f);
	pin[strcspn(pin, "\r\n")] = 0;
	const char *allow[] = {cfg.module};
	struct hsm_config hc = {.module_path = cfg.module,
	                        .allow = allow,
	                        .n_allow = 1,
	                        .token_uri = cfg.token_uri,
	                        .pin = pin,
	                        .pin_len = strlen(pin),
	                        .pool_size = 2};
	if (hsm_open(&hc, &h, why, sizeof(why)) != C2S_OK) {
		fprintf(stderr, "sam_bench: %s\n", why);
		return 1;
	}
	double *g = calloc((size_t)n, sizeof(double)), *d = calloc((size_t)n, sizeof(double));
	int errs = 0;
	for (int i = 0; i < n; i++) {
		char label[64];
		struct hsm_key *k = NULL;
		snprintf(label, sizeof(label), "c2s-bench-keygen-%d-%d", (int)getpid(), i);
		struct hsm_keygen kg = {
		    .type = HSM_KEY_EC, .curve = HSM_CURVE_P256, .label = label};
		double t0 = now_ms();
		if (hsm_key_generate(h, &kg, &k, why, sizeof(why)) != C2S_OK) {
			errs++;
			continue;
		}
		double t1 = now_ms();
		errs += hsm_key_destroy(h, k) != C2S_OK;
		double t2 = now_ms();
		hsm_key_free(k);
		g[i] = t1 - t0;
		d[i] = t2 - t1;
	}
	report("keygen", g, (size_t)(n - errs));
	report("destroy", d, (size_t)(n - errs));
	printf("errors %d\n", errs);
	free(g);
	free(d);
	hsm_close(h);
	return errs ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: sam_bench latency CLICK2SIGND CONFIG PORTAL_KEY ORDERS PDF...\n"
	                "       sam_bench rate CLICK2SIGND CONFIG PORTAL_KEY THREADS SECONDS "
	                "ORDERS_PER_ROUND PDF...\n"
	                "       sam_bench keygen CONFIG N\n");
}

int main(int argc, char **argv)
{
	int lat = argc >= 7 && strcmp(argv[1], "latency") == 0;
	int rate = argc >= 9 && strcmp(argv[1], "rate") == 0;
	if (argc == 4 && strcmp(argv[1], "keygen") == 0) {
		int n = (int)strtol(argv[3], NULL, 10);
		if (n < 1 || config_load(argv[2], &cfg) != C2S_OK) {
			config_print_problems(&cfg);
			return 2;
		}
		return run_keygen(n);
	}
	if (!lat && !rate) {
		usage();
		return 2;
	}
	if (config_load(argv[3], &cfg) != C2S_OK) {
		config_print_problems(&cfg);
		return 2;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_pk_init(&portal);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
	    mbedtls_pk_parse_keyfile(&portal, argv[4], NULL) != 0) {
		fprintf(stderr, "sam_bench: cannot read the portal key %s\n", argv[4]);
		return 2;
	}
	int orders = 0, first_pdf;
	if (lat) {
		orders = (int)strtol(argv[5], NULL, 10);
		nthr = 1;
		first_pdf = 6;
	} else {
		nthr = (int)strtol(argv[5], NULL, 10);
		secs_goal = strtod(argv[6], NULL);
		per_round = (int)strtol(argv[7], NULL, 10);
		first_pdf = 8;
	}
	if (orders < 0 || nthr < 1 || nthr > MAX_THR ||
	    (rate && (secs_goal <= 0 || per_round < 1 || per_round > MAX_K))) {
		usage();
		return 2;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	if (docs_load(argv + first_pdf, (size_t)(argc - first_pdf)) != 0)
		return 2;
	if (start_keyholder(argv[2], argv[3], nthr) != 0) {
		fprintf(stderr, "sam_bench: keyholder not ready\n");
		stop_keyholder();
		return 1;
	}
	int rc = lat ? run_latency(orders) : run_rate();
	stop_keyholder();
	for (size_t i = 0; i < ndocs; i++) {
		free(docs[i].pdf);
		buf_free(&docs[i].mid);
		pdf_prepared_free(&docs[i].pp);
	}
	mbedtls_pk_free(&portal);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return rc;
}
