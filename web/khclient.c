#include "khclient.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "firmware/base/log.h"
#include "firmware/certs/jws.h"

#define KHC_MAX 64

struct khc_chan {
	int fd;
	int busy;
	int status; /* reserved for status requests, so health answers while all sign */
	uint32_t gen;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct khc_chan ch[KHC_MAX];
	size_t n;
	uint32_t gen;
} khc = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

c2s_err khc_init(void)
{
	return C2S_OK;
}

void khc_fini(void)
{
	pthread_mutex_lock(&khc.mu);
	for (size_t i = 0; i < khc.n; i++)
		if (khc.ch[i].fd >= 0)
			close(khc.ch[i].fd);
	khc.n = 0;
	pthread_mutex_unlock(&khc.mu);
}

uint32_t khc_generation(void)
{
	pthread_mutex_lock(&khc.mu);
	uint32_t g = khc.gen;
	pthread_mutex_unlock(&khc.mu);
	return g;
}

void khc_set_channels(uint32_t generation, const int *fds, size_t n)
{
	pthread_mutex_lock(&khc.mu);
	/* idle old channels close now; busy ones close when their call returns */
	size_t keep = 0;
	for (size_t i = 0; i < khc.n; i++) {
		if (khc.ch[i].busy)
			khc.ch[keep++] = khc.ch[i];
		else if (khc.ch[i].fd >= 0)
			close(khc.ch[i].fd);
	}
	khc.n = keep;
	for (size_t i = 0; i < n; i++) {
		if (khc.n < KHC_MAX)
			khc.ch[khc.n++] = (struct khc_chan){
			    .fd = fds[i], .busy = 0, .status = i == 0 && n > 1, .gen = generation};
		else
			close(fds[i]);
	}
	khc.gen = generation;
	pthread_cond_broadcast(&khc.cv);
	pthread_mutex_unlock(&khc.mu);
	log_info("got %zu keyholder channels (generation %u)", n, generation);
}

static void khc_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* A free channel of the current generation, waiting up to wait_ms. *none tells whether there
 * were no channels at all (keyholder down) rather than all of them busy. */
static struct khc_chan *khc_acquire(int status, int wait_ms, int *none)
{
	struct timespec dl;
	struct khc_chan *got = NULL;
	khc_deadline(&dl, wait_ms);
	pthread_mutex_lock(&khc.mu);
	for (;;) {
		*none = 1;
		for (size_t i = 0; i < khc.n && !got; i++) {
			if (khc.ch[i].fd < 0 || khc.ch[i].gen != khc.gen ||
			    khc.ch[i].status != status)
				continue;
			*none = 0;
			if (!khc.ch[i].busy)
				got = &khc.ch[i];
		}
		if (got || pthread_cond_timedwait(&khc.cv, &khc.mu, &dl) != 0)
			break;
	}
	if (got)
		got->busy = 1;
	pthread_mutex_unlock(&khc.mu);
	return got;
}

static void khc_release(struct khc_chan *c, int dead)
{
	pthread_mutex_lock(&khc.mu);
	c->busy = 0;
	if (dead || c->gen != khc.gen) {
		close(c->fd);
		c->fd = -1;
		/* compact: drop closed entries */
		size_t keep = 0;
		for (size_t i = 0; i < khc.n; i++)
			if (khc.ch[i].fd >= 0 || khc.ch[i].busy)
				khc.ch[keep++] = khc.ch[i];
		khc.n = keep;
	}
	pthread_cond_broadcast(&khc.cv);
	pthread_mutex_unlock(&khc.mu);
}

/* What the keyholder may answer; each answer goes back to the caller that waits for it. */
static const struct ipc_row khc_replies[] = {
    {IPC_STATUS_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 1, 8192, 0, NULL},
    {IPC_KEYINFO_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 8, IPC_MAX_BODY, 0, NULL},
    {IPC_SIGN_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4 + 8, 4 + 1024, 0, NULL},
    {IPC_ERROR_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 8, 8 + 1024, 0, NULL},
    {IPC_DONE_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4, 4, 0, NULL},
    {IPC_OTP_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4 + 4 + 8 + 8 + 4 + 32 + 4, 512, 0, NULL},
    {IPC_SIGN_DOC_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 2 + 3 * 5 + 1, IPC_MAX_BODY, 0, NULL},
    {IPC_CHECKPOINT_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 8 + 5 + 5, IPC_MAX_BODY, 0, NULL},
    {IPC_ASSERTION_RESP, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4 + 20, 4 + JWS_MAX_LEN, 0, NULL},
};

static c2s_err khc_once(uint32_t type, const void *body, size_t len, int timeout_ms, int wait_ms,
                        uint32_t *resp_type, struct buf *resp, char *detail, size_t cap)
{
	c2s_err ret = C2S_ERR_IPC;
	uint8_t *rx = NULL;
	int dead = 0, none = 0;
	struct khc_chan *c = khc_acquire(type == IPC_STATUS_REQ, wait_ms, &none);
	if (!c && !none) {
		snprintf(detail, cap,
		         "all channels to the key-holding process are busy; retry shortly");
		return C2S_ERR_BUSY;
	}
	if (!c) {
		snprintf(detail, cap, "the key-holding process is not running (restarting)");
		return C2S_ERR_IPC;
	}
	rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	ENSURE(rx, C2S_ERR_NOMEM);
	struct ipc_msg m;
	ret = ipc_send(c->fd, type, body, len);
	if (ret == C2S_OK)
		ret = ipc_recv(c->fd, rx, &m, timeout_ms);
	if (ret != C2S_OK) {
		dead = 1; /* a late answer would confuse the next caller */
		snprintf(detail, cap, "%s",
		         ret == C2S_ERR_TIMEOUT ? "the key-holding process did not answer in time"
		                                : "the key-holding process went away");
		if (ret != C2S_ERR_TIMEOUT)
			ret = C2S_ERR_IPC;
		goto out;
	}
	const struct ipc_row *row;
	if (ipc_route(IPC_ROWS(khc_replies), IPC_PEER_KEYHOLDER, IPC_ST_ANY, &m, &row) != C2S_OK) {
		dead = 1;
		log_error("malformed %s from the keyholder", ipc_type_name(m.type));
		ret = C2S_ERR_IPC_MALFORMED;
		goto out;
	}
	if (m.type == IPC_ERROR_RESP) {
		c2s_err code;
		ret = ipc_parse_error(&m, &code, detail, cap);
		if (ret == C2S_OK)
			ret = code;
		else
			dead = 1;
		goto out;
	}
	*resp_type = m.type;
	GUARD(buf_put(resp, m.body.data, m.body.len));
	ret = C2S_OK;
out:
	free(rx);
	khc_release(c, dead);
	return ret;
}

c2s_err khc_call(uint32_t type, const void *body, size_t len, int timeout_ms, uint32_t *resp_type,
                 struct buf *resp, char *detail, size_t cap)
{
	detail[0] = 0;
	c2s_err r = khc_once(type, body, len, timeout_ms, 10000, resp_type, resp, detail, cap);
	if (r == C2S_ERR_IPC) /* keyholder restarting: wait for its new channels, once */
		r = khc_once(type, body, len, timeout_ms, 5000, resp_type, resp, detail, cap);
	return r;
}

c2s_err khc_status(struct khmsg_status *st, char *detail, size_t cap)
{
	struct buf resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&resp, IPC_MAX_BODY);
	GUARD(khc_once(IPC_STATUS_REQ, NULL, 0, 3000, 200, &t, &resp, detail, cap));
	ENSURE(t == IPC_STATUS_RESP, C2S_ERR_IPC_MALFORMED);
	GUARD(khmsg_status_decode(&resp, st));
out:
	buf_free(&resp);
	return ret;
}

c2s_err khc_keyinfo(const char *key, struct khmsg_keyinfo *ki, char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, 1024);
	buf_init(&resp, IPC_MAX_BODY);
	GUARD(buf_put_str(&req, key));
	GUARD(khc_call(IPC_KEYINFO_REQ, req.data, req.len, 10000, &t, &resp, detail, cap));
	ENSURE(t == IPC_KEYINFO_RESP, C2S_ERR_IPC_MALFORMED);
	GUARD(khmsg_keyinfo_decode(&resp, ki));
out:
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

static c2s_err khc_sig_reply(struct buf *resp, uint32_t t, uint8_t *sig, size_t *sig_len)
{
	const uint8_t *p;
	size_t n;
	if (t != IPC_SIGN_RESP || buf_get_blob(resp, &p, &n, 1024) != C2S_OK ||
	    buf_left(resp) != 0 || n == 0 || n > *sig_len)
		return C2S_ERR_IPC_MALFORMED;
	memcpy(sig, p, n);
	*sig_len = n;
	return C2S_OK;
}

c2s_err khc_seal_attrs(const char *key, const uint8_t *attrs, size_t len, uint8_t *sig,
                       size_t *sig_len, char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, IPC_MAX_BODY);
	buf_init(&resp, 4096);
	GUARD(buf_put_str(&req, key));
	GUARD(buf_put_blob(&req, attrs, len));
	GUARD(khc_call(IPC_SEAL_ATTRS_REQ, req.data, req.len, 30000, &t, &resp, detail, cap));
	GUARD(khc_sig_reply(&resp, t, sig, sig_len));
out:
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

/* ---- customer signing (the keyholder's SAM) ---- */

c2s_err khc_manifest(const char *order, const char *jws, size_t jws_len, uint32_t expires_in,
                     char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	struct khmsg_manifest m = {.jws = jws, .jws_len = jws_len, .expires_in = expires_in};
	snprintf(m.order, sizeof(m.order), "%s", order);
	buf_init(&req, IPC_MAX_BODY);
	buf_init(&resp, 64);
	GUARD(khmsg_manifest_encode(&m, &req));
	/* idempotent: the same order and jti again is accepted */
	GUARD(khc_call(IPC_MANIFEST_REQ, req.data, req.len, 10000, &t, &resp, detail, cap));
	ENSURE(t == IPC_DONE_RESP, C2S_ERR_IPC_MALFORMED);
out:
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

/* Send and verify are not retried after a lost keyholder: a try may have been counted. */
static c2s_err khc_otp(uint32_t type, const char *order, const char *code, struct khmsg_otp *o,
                       char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, 256);
	buf_init(&resp, 512);
	detail[0] = 0;
	GUARD(buf_put_str(&req, order));
	if (code)
		GUARD(buf_put_str(&req, code));
	GUARD(khc_once(type, req.data, req.len, 30000, 10000, &t, &resp, detail, cap));
	ENSURE(t == IPC_OTP_RESP, C2S_ERR_IPC_MALFORMED);
	GUARD(khmsg_otp_decode(&resp, o));
out:
	buf_free(&req);
	buf_free_secret(&resp);
	return ret;
}

c2s_err khc_otp_send(const char *order, struct khmsg_otp *o, char *detail, size_t cap)
{
	return khc_otp(IPC_OTP_SEND_REQ, order, NULL, o, detail, cap);
}

c2s_err khc_otp_verify(const char *order, const char *code, struct khmsg_otp *o, char *detail,
                       size_t cap)
{
	return khc_otp(IPC_OTP_VERIFY_REQ, order, code, o, detail, cap);
}

c2s_err khc_sign_doc(const struct khmsg_sign_doc *d, struct buf *resp, char *detail, size_t cap)
{
	struct buf req;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, IPC_MAX_BODY);
	detail[0] = 0;
	GUARD(khmsg_sign_doc_encode(d, &req));
	GUARD(khc_once(IPC_SIGN_DOC_REQ, req.data, req.len, 30000, 10000, &t, resp, detail, cap));
	ENSURE(t == IPC_SIGN_DOC_RESP, C2S_ERR_IPC_MALFORMED);
out:
	buf_free(&req);
	return ret;
}

c2s_err khc_order_end(const char *order, uint8_t why, char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, 256);
	buf_init(&resp, 64);
	GUARD(buf_put_str(&req, order));
	GUARD(buf_put_u8(&req, why));
	GUARD(khc_call(IPC_ORDER_END_REQ, req.data, req.len, 10000, &t, &resp, detail, cap));
	ENSURE(t == IPC_DONE_RESP, C2S_ERR_IPC_MALFORMED);
out:
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

c2s_err khc_assertion(const char *account, const char *order, char **jws, char *detail, size_t cap)
{
	struct buf req, resp;
	uint32_t t = 0;
	char *out = NULL;
	c2s_err ret = C2S_ERR_INTERNAL;
	*jws = NULL;
	buf_init(&req, 512);
	buf_init(&resp, JWS_MAX_LEN + 16);
	GUARD(buf_put_str(&req, account));
	GUARD(buf_put_str(&req, order));
	GUARD(khc_call(IPC_ASSERTION_REQ, req.data, req.len, 10000, &t, &resp, detail, cap));
	ENSURE(t == IPC_ASSERTION_RESP, C2S_ERR_IPC_MALFORMED);
	out = malloc(JWS_MAX_LEN + 1);
	ENSURE(out, C2S_ERR_NOMEM);
	GUARD(buf_get_str(&resp, out, JWS_MAX_LEN + 1));
	ENSURE(!buf_left(&resp) && out[0], C2S_ERR_IPC_MALFORMED);
	*jws = out;
	out = NULL;
out:
	free(out);
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

c2s_err khc_checkpoint(int64_t seq, const uint8_t head[32], struct buf *resp, char *detail,
                       size_t cap)
{
	struct buf req;
	uint32_t t = 0;
	c2s_err ret = C2S_ERR_INTERNAL;
	buf_init(&req, 64);
	GUARD(buf_put_u32(&req, (uint32_t)((uint64_t)seq >> 32)));
	GUARD(buf_put_u32(&req, (uint32_t)seq));
	GUARD(buf_put(&req, head, 32));
	GUARD(khc_call(IPC_CHECKPOINT_REQ, req.data, req.len, 10000, &t, resp, detail, cap));
	ENSURE(t == IPC_CHECKPOINT_RESP, C2S_ERR_IPC_MALFORMED);
out:
	buf_free(&req);
	return ret;
}
