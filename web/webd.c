/* c2s-web process: listeners, store, keyholder channels; exits when the parent goes. */
#include <curl/curl.h>
#include <errno.h>
#include <mbedtls/x509_crt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "khclient.h"
#include "server.h"
#include "web.h"
#include "webd.h"
#include "firmware/base/log.h"
#include "firmware/pades/pdf.h"
#include "firmware/base/sandbox.h"
#include "firmware/base/clock.h"
#include "firmware/ipc/ipc.h"
#include "firmware/orders/audit.h"

static char *webd_read_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	if (!f)
		return NULL;
	p = calloc(1, max + 1);
	if (p) {
		size_t n = fread(p, 1, max, f);
		if (n == 0 || n == max) {
			free(p);
			p = NULL;
		}
	}
	fclose(f);
	return p;
}

/* IPC_CHANNELS: a fresh set of keyholder channels (u32 generation + descriptors). */
static c2s_err webd_on_channels(void *ctx, int fd, struct ipc_msg *m)
{
	uint32_t gen = 0;
	(void)ctx;
	(void)fd;
	if (buf_get_u32(&m->body, &gen) != C2S_OK)
		return C2S_ERR_IPC_MALFORMED;
	khc_set_channels(gen, m->fds, m->nfds);
	m->nfds = 0; /* the pool owns them now */
	return C2S_OK;
}

static c2s_err webd_on_shutdown(void *ctx, int fd, struct ipc_msg *m)
{
	(void)fd;
	(void)m;
	*(int *)ctx = 0;
	return C2S_OK;
}

/* c2s-web's table: what the parent may send it. */
static const struct ipc_row webd_rows[] = {
    {IPC_CHANNELS, IPC_PEER_PARENT, IPC_ST_ANY, 4, 4, IPC_MAX_FDS, webd_on_channels},
    {IPC_SHUTDOWN, IPC_PEER_PARENT, IPC_ST_ANY, 0, 0, 0, webd_on_shutdown},
};

static void webd_parent_msg(uint8_t *rx, int *running)
{
	struct ipc_msg m;
	const struct ipc_row *row;
	c2s_err r = ipc_recv(IPC_FD_PARENT, rx, &m, 0);
	if (r == C2S_ERR_TIMEOUT)
		return;
	if (r == C2S_OK)
		r = ipc_route(IPC_ROWS(webd_rows), IPC_PEER_PARENT, IPC_ST_ANY, &m, &row);
	if (r == C2S_OK)
		r = row->fn(running, IPC_FD_PARENT, &m);
	if (r != C2S_OK) {
		log_info("parent channel closed or refused %s; exiting", ipc_type_name(m.type));
		ipc_msg_close_fds(&m);
		*running = 0;
	}
}

/* An order that ended by time: the keyholder drops its SADs and key, sessions die. */
static void webd_order_ended(void *ctx, const char *id, enum order_status st)
{
	char why[256];
	(void)ctx;
	web_session_end_order(id);
	if (khc_order_end(id, (uint8_t)st, why, sizeof(why)) != C2S_OK)
		log_warn("order %s %s; the keyholder was not told yet: %s", id,
		         order_status_name(st), why);
	log_info("order %s %s by the expiry sweep", id, order_status_name(st));
}

/* The audit chain's head, signed by the keyholder when it moved (at most once a minute). */
static void webd_checkpoint(struct web_ctx *ctx)
{
	static int64_t signed_seq;
	int64_t seq = 0, at = 0;
	uint8_t head[32];
	uint32_t hi, lo;
	const uint8_t *sig, *cert;
	size_t sig_len, cert_len;
	char why[256];
	struct buf resp;
	if (!ctx->store || audit_head(ctx->store, &seq, head) != C2S_OK || seq <= signed_seq)
		return;
	buf_init(&resp, IPC_MAX_BODY);
	c2s_err e = khc_checkpoint(seq, head, &resp, why, sizeof(why));
	if (e == C2S_OK && buf_get_u32(&resp, &hi) == C2S_OK && buf_get_u32(&resp, &lo) == C2S_OK &&
	    buf_get_blob(&resp, &sig, &sig_len, 1024) == C2S_OK &&
	    buf_get_blob(&resp, &cert, &cert_len, 16384) == C2S_OK) {
		at = (int64_t)(((uint64_t)hi << 32) | lo);
		e = audit_checkpoint_add(ctx->store, seq, head, at, sig, sig_len, cert, cert_len);
		if (e == C2S_OK)
			signed_seq = seq;
	} else if (e == C2S_ERR_CONFLICT || (e != C2S_OK && strstr(why, "not beyond"))) {
		signed_seq = seq; /* signed before (a web restart): wait for the next event */
	} else {
		log_warn("audit checkpoint %lld not signed yet: %s", (long long)seq, why);
	}
	buf_free(&resp);
}

static void webd_sweep(struct web_ctx *ctx)
{
	size_t n = 0;
	if (ctx->store &&
	    order_expire_due(ctx->store, clock_now(), webd_order_ended, ctx, &n) != C2S_OK)
		log_error("the expiry sweep failed; it runs again in a few seconds");
}

/* The earliest notAfter among the certificates of a PEM (0 when none parses). For the TLS
 * file that is the server certificate's or an issuer's, whichever ends first. */
static int64_t webd_cert_not_after(const char *pem)
{
	mbedtls_x509_crt c;
	int64_t na = 0;
	mbedtls_x509_crt_init(&c);
	if (pem && mbedtls_x509_crt_parse(&c, (const unsigned char *)pem, strlen(pem) + 1) >= 0)
		for (const mbedtls_x509_crt *p = &c; p && p->raw.len; p = p->next) {
			int64_t t =
			    clock_timegm(p->valid_to.year, p->valid_to.mon, p->valid_to.day,
			                 p->valid_to.hour, p->valid_to.min, p->valid_to.sec);
			if (!na || t < na)
				na = t;
		}
	mbedtls_x509_crt_free(&c);
	return na;
}

/* Once a day (and at start): the certificates that end soon, in the log. */
static void webd_expiry_log(const struct config *cfg)
{
	char why[1200];
	int e = web_expiry(cfg, why, sizeof(why));
	if (e == 2)
		log_error("%s", why);
	else if (e == 1)
		log_warn("%s", why);
}

int webd_main(const struct config *cfg)
{
	static struct web_ctx ctx;
	struct web_listener main_l = {.ctx = &ctx, .cert_listener = 0};
	struct web_listener cert_l = {.ctx = &ctx, .cert_listener = 1};
	struct MHD_Daemon *d = NULL, *dc = NULL;
	char *cert = NULL, *key = NULL, *trust = NULL;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	int rc = 1, sfd = -1, running = 1;
	sigset_t mask;
	ctx.cfg = cfg;
	/* locked in before the first byte of the database or the network is read */
	if (sandbox_lock(cfg, SANDBOX_WEB) != C2S_OK) {
		free(rx);
		return 1;
	}
	web_seal_init(cfg);
	pthread_mutex_init(&ctx.store_mu, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* the PDF probe's server: forked while this process is one thread and holds no secret */
	struct pdf_probe_limits plim = {
	    .mem = cfg->pdf_parse_mem, .cpu_s = cfg->pdf_parse_cpu, .doc_max = cfg->pdf_max};
	if (cfg->pdf_parse_cpu && pdf_probe_start(cfg->pdf_parse_parallel, &plim) != C2S_OK) {
		log_error("cannot start the PDF reader process");
		goto out;
	}
	if (!rx || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || web_session_init() != C2S_OK)
		goto out;
	if (store_open(cfg->state_dir, &ctx.store) != C2S_OK)
		log_error("cannot open the store in %s; API clients cannot authenticate",
		          cfg->state_dir);
	cert = webd_read_file(cfg->tls_cert, 256 * 1024);
	key = webd_read_file(cfg->tls_key, 64 * 1024);
	if (!cert || !key) {
		log_error("cannot read the TLS certificate %s or key %s", cfg->tls_cert,
		          cfg->tls_key);
		goto out;
	}
	web_tls_not_after = webd_cert_not_after(cert);
	if (cfg->tsa_trust[0]) {
		char *anchors = webd_read_file(cfg->tsa_trust, 1024 * 1024);
		web_tsa_trust_not_after = webd_cert_not_after(anchors); /* the earliest of them */
		free(anchors);
	}
	struct rl_limit lim[RL_KINDS];
	rl_limits_from_config(cfg, lim);
	if (rl_new(lim, cfg->rate_table, &ctx.rl) != C2S_OK) {
		log_error("cannot set up the rate limits ([web] rate_table = %u)", cfg->rate_table);
		goto out;
	}
	log_debug("rate limits: %zu bytes of buckets", rl_memory(ctx.rl));
	if (guard_start(cfg) != C2S_OK) {
		log_error("cannot start the connection watchdog");
		goto out;
	}
	d = web_server_start(&main_l, IPC_FD_LISTEN, cert, key, NULL);
	trust = web_cert_trust_pem(cfg);
	/* with no anchor yet, the listener still asks for a certificate (naming only our own
	 * server certificate's issuer) so that refusals explain instead of the handshake */
	dc = web_server_start(&cert_l, IPC_FD_CERT_LISTEN, cert, key, trust ? trust : cert);
	if (!d || !dc) {
		log_error("cannot start the HTTPS listeners (bad TLS certificate or key?)");
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	int64_t next_sweep = 0, next_checkpoint = clock_mono_ms() + 10000,
	        next_expiry = clock_mono_ms() + 5000;
	while (running) {
		struct pollfd p[2] = {{.fd = IPC_FD_PARENT, .events = POLLIN},
		                      {.fd = sfd, .events = POLLIN}};
		if (clock_mono_ms() >= next_sweep) {
			webd_sweep(&ctx);
			next_sweep = clock_mono_ms() + 5000;
		}
		if (clock_mono_ms() >= next_expiry) {
			webd_expiry_log(cfg);
			next_expiry = clock_mono_ms() + 86400 * 1000LL;
		}
		if (clock_mono_ms() >= next_checkpoint) {
			webd_checkpoint(&ctx);
			next_checkpoint = clock_mono_ms() + 60000;
		}
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents)
			webd_parent_msg(rx, &running);
	}
	rc = 0;
out:
	if (d)
		MHD_stop_daemon(d);
	if (dc)
		MHD_stop_daemon(dc);
	guard_stop();
	rl_free(ctx.rl);
	ctx.rl = NULL;
	khc_fini();
	store_close(ctx.store);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	free(trust);
	free(rx);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
