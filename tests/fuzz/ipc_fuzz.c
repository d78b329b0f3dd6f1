/* Fuzz target: everything the keyholder and c2s-web parse from each other. The input is taken
 * as one datagram: ipc_decode, the keyholder's dispatch table (kh_rows, as kh_serve_channel
 * routes a message from c2s-web), then the row's handler itself on an in-process keyholder, as
 * c2s-web would reach it, and the web side's body decoders for the answers.
 *
 * The keyholder here has no token (so sealing, signer keys and assertions answer "no token"
 * after their bodies are parsed), a real keyholder store in a private temporary directory
 * (manifests, codes, marks: the state persists from one input to the next within a run), no
 * notify channel, and [orders] portal_signature off, so that manifests are parsed as the
 * unsigned JSON the web sends in that mode (signed ones are jws_fuzz's). Its answers go to a
 * socketpair that is drained after each input. */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "firmware/base/log.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/keyholder/keyholder_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;
static struct config cfg;
static struct kh kh;
static int sv[2] = {-1, -1};
static char dir[256];
static uint8_t *rx;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void teardown(void)
{
	kh_sam_fini(&kh);
	if (dir[0])
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* 1 when the keyholder is ready to take messages. */
static int setup(void)
{
	static int state; /* 0 not yet, 1 ready, -1 failed */
	if (state)
		return state > 0;
	state = -1;
	const char *t = getenv("TMPDIR");
	/* tmpfs when there is one: the store fsyncs every change */
	snprintf(dir, sizeof(dir), "%s/c2s-ipc-fuzz-XXXXXX",
	         t && *t                         ? t
	         : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
	                                         : "/tmp");
	if (!mkdtemp(dir)) {
		dir[0] = 0;
		return 0;
	}
	log_set_level(LOG_LVL_ERROR);
	config_defaults(&cfg);
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", dir);
	snprintf(cfg.kh_state_dir, sizeof(cfg.kh_state_dir), "%s/keyholder", dir);
	snprintf(cfg.portal_keys, sizeof(cfg.portal_keys), "%s/portal-keys", dir);
	snprintf(cfg.seal_key, sizeof(cfg.seal_key), "c2s-seal");
	snprintf(cfg.public_url, sizeof(cfg.public_url), "https://podpis.example.si");
	cfg.portal_signature = 0;
	kh.cfg = &cfg;
	kh.state = C2S_OK;
	kh.card_prev = -1;
	pthread_mutex_init(&kh.mu, NULL);
	pthread_rwlock_init(&kh.hsm_lock, NULL);
	kh_rate_init(&kh, 1000000);
	rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	int big = 4 << 20;
	if (!rx || kh_sam_init(&kh) != C2S_OK || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) != 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0)
		return 0;
	atexit(teardown);
	state = 1;
	return 1;
}

/* The keyholder's answers, read as c2s-web reads them. */
static void drain(void)
{
	ssize_t n;
	while ((n = recv(sv[1], rx, IPC_HDR_LEN + IPC_MAX_BODY, MSG_DONTWAIT)) > 0) {
		struct ipc_msg a;
		if (ipc_decode(rx, (size_t)n, &a) != C2S_OK)
			abort(); /* the keyholder framed something it cannot read back */
	}
}

static void web_side(struct ipc_msg *m)
{
	char detail[128], key[513];
	struct buf b = m->body;
	switch (m->type) {
	case IPC_STATUS_RESP: {
		struct khmsg_status s;
		sink += khmsg_status_decode(&b, &s);
		break;
	}
	case IPC_KEYINFO_RESP: {
		struct khmsg_keyinfo k;
		if (khmsg_keyinfo_decode(&b, &k) == C2S_OK)
			khmsg_keyinfo_free(&k);
		break;
	}
	case IPC_ERROR_RESP: {
		c2s_err code;
		sink += ipc_parse_error(m, &code, detail, sizeof(detail));
		break;
	}
	default: {
		const uint8_t *p;
		size_t n;
		uint8_t h;
		if (buf_get_str(&b, key, sizeof(key)) == C2S_OK && buf_get_u8(&b, &h) == C2S_OK)
			sink += buf_get_blob(&b, &p, &n, 8192);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	const struct ipc_row *row;
	if (ipc_decode(data, size, &m) != C2S_OK)
		return 0;
	m.nfds = 0;
	struct ipc_msg copy = m;
	web_side(&copy);
	sink += ipc_route(kh_rows, kh_n_rows, IPC_PEER_WEB, IPC_ST_STARTING, &m, &row);
	sink += ipc_route(kh_rows, kh_n_rows, IPC_PEER_PARENT, IPC_ST_ANY, &m, &row);
	if (!setup())
		return 0;
	/* kh_serve_channel: route, then the row's handler (or the refusal the state gives) */
	if (ipc_route(kh_rows, kh_n_rows, IPC_PEER_WEB, IPC_ST_READY, &m, &row) == C2S_OK &&
	    row->fn)
		sink += row->fn(&kh, sv[0], &m);
	drain();
	return 0;
}
