/* Signing rate through the real c2s-keyholder process and its IPC, the way c2s-web uses it.
 * Acts as the parent: execs click2signd as c2s-keyholder with the fixed parent fd, hands it
 * THREADS channels, and has it sign seal attributes (CMS signed attributes over a random
 * message digest, re-checked and hashed by the keyholder: the seal path, the only signing
 * message it accepts from c2s-web) from THREADS threads for SECONDS.
 *
 *   kh_bench CLICK2SIGND CONFIG THREADS SECONDS [status]
 * With "status", the threads send IPC_STATUS_REQ instead: the same hop without the signature.
 * prints: "ipc <threads> threads: <n> signatures in <s> s = <rate>/s, <errors> errors" */
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

#include "firmware/base/config.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/pades/cms.h"

static struct config cfg;
static volatile int bench_stop;
static unsigned hash_len;
static struct khmsg_keyinfo key;

struct worker {
	int fd;
	unsigned long ok, err;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int call(int fd, uint8_t *rx, uint32_t type, struct buf *req, struct ipc_msg *m)
{
	if (ipc_send(fd, type, req->data, req->len) != C2S_OK)
		return -1;
	return ipc_recv(fd, rx, m, 30000) == C2S_OK ? 0 : -1;
}

static int status_only; /* round trips without signing: the hop's own cost */

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	uint8_t digest[64];
	struct buf req, attrs;
	struct cms_signer s = {.cert = key.cert,
	                       .cert_len = key.cert_len,
	                       .hash = (enum cms_hash)key.hash,
	                       .sig = (enum cms_sig)key.sig};
	buf_init(&req, 16384);
	buf_init(&attrs, 8192);
	while (!bench_stop) {
		struct ipc_msg m;
		if (status_only) {
			buf_reset(&req);
			if (call(w->fd, rx, IPC_STATUS_REQ, &req, &m) == 0 &&
			    m.type == IPC_STATUS_RESP)
				w->ok++;
			else
				w->err++;
			continue;
		}
		for (unsigned i = 0; i < hash_len; i++)
			digest[i] = (uint8_t)rand();
		buf_reset(&req);
		buf_reset(&attrs);
		if (cms_signed_attrs(&s, digest, hash_len, &attrs) != C2S_OK ||
		    buf_put_str(&req, cfg.seal_key) != C2S_OK ||
		    buf_put_blob(&req, attrs.data, attrs.len) != C2S_OK)
			break;
		if (call(w->fd, rx, IPC_SEAL_ATTRS_REQ, &req, &m) == 0 && m.type == IPC_SIGN_RESP)
			w->ok++;
		else
			w->err++;
	}
	buf_free(&req);
	buf_free(&attrs);
	free(rx);
	return NULL;
}

/* Waits until the keyholder is ready and learns the key's hash from keyinfo. */
static int wait_ready(int fd)
{
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	struct buf req;
	int rc = -1;
	buf_init(&req, 1024);
	for (int i = 0; i < 300 && rc != 0; i++) {
		struct ipc_msg m;
		buf_reset(&req);
		if (buf_put_str(&req, cfg.seal_key) != C2S_OK)
			break;
		if (call(fd, rx, IPC_KEYINFO_REQ, &req, &m) == 0 && m.type == IPC_KEYINFO_RESP &&
		    khmsg_keyinfo_decode(&m.body, &key) == C2S_OK) {
			hash_len = key.hash == KHMSG_SHA512   ? 64
			           : key.hash == KHMSG_SHA384 ? 48
			                                      : 32;
			rc = 0;
		} else {
			usleep(100000);
		}
	}
	buf_free(&req);
	free(rx);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "status") == 0)) {
		fprintf(stderr, "usage: kh_bench CLICK2SIGND CONFIG THREADS SECONDS [status]\n");
		return 2;
	}
	status_only = argc == 6;
	int threads = (int)strtol(argv[3], NULL, 10);
	double secs = strtod(argv[4], NULL);
	if (threads < 1 || threads > 32 || config_load(argv[2], &cfg) != C2S_OK) {
		config_print_problems(&cfg);
		return 2;
	}
	int parent[2], ch[32][2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, parent) != 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(parent[1], 3);
		close_range(4, ~0U, 0);
		execl(argv[1], "c2s-keyholder", "-c", argv[2], (char *)NULL);
		_exit(127);
	}
	close(parent[1]);
	int khfds[32];
	for (int i = 0; i < threads; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ch[i]) != 0)
			return 1;
		khfds[i] = ch[i][1];
	}
	uint8_t gen[4] = {0, 0, 0, 1};
	if (ipc_send_fds(parent[0], IPC_CHANNELS, gen, 4, khfds, (size_t)threads) != C2S_OK)
		return 1;
	if (wait_ready(ch[0][0]) != 0) {
		fprintf(stderr, "keyholder not ready\n");
		kill(pid, SIGKILL);
		return 1;
	}
	struct worker w[32];
	pthread_t t[32];
	double t0 = now_s();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){.fd = ch[i][0]};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	usleep((useconds_t)(secs * 1e6));
	bench_stop = 1;
	unsigned long ok = 0, err = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		err += w[i].err;
	}
	double el = now_s() - t0;
	printf("ipc %d threads: %lu %s in %.2f s = %.0f/s, %lu errors\n", threads, ok,
	       status_only ? "status round trips" : "signatures", el, (double)ok / el, err);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return err ? 1 : 0;
}
