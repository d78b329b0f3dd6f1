#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Every message type the processes exchange, by name. Who may send which, when and how
 * large is each receiver's own table of struct ipc_row (firmware/keyholder, web/). */
static const struct {
	uint32_t type;
	const char *name;
} ipc_names[] = {
    {IPC_STATUS_REQ, "status-req"},
    {IPC_KEYINFO_REQ, "keyinfo-req"},
    {IPC_SEAL_ATTRS_REQ, "seal-attrs-req"},
    {IPC_MANIFEST_REQ, "manifest-req"},
    {IPC_OTP_SEND_REQ, "otp-send-req"},
    {IPC_OTP_VERIFY_REQ, "otp-verify-req"},
    {IPC_SIGN_DOC_REQ, "sign-doc-req"},
    {IPC_ORDER_END_REQ, "order-end-req"},
    {IPC_CHECKPOINT_REQ, "checkpoint-req"},
    {IPC_CHECKPOINT_RESP, "checkpoint-resp"},
    {IPC_ASSERTION_REQ, "assertion-req"},
    {IPC_ASSERTION_RESP, "assertion-resp"},
    {IPC_DONE_RESP, "done-resp"},
    {IPC_OTP_RESP, "otp-resp"},
    {IPC_SIGN_DOC_RESP, "sign-doc-resp"},
    {IPC_SMS_REQ, "sms-req"},
    {IPC_SMS_RESP, "sms-resp"},
    {IPC_NOTIFY_CHANNEL, "notify-channel"},
    {IPC_STATUS_RESP, "status-resp"},
    {IPC_KEYINFO_RESP, "keyinfo-resp"},
    {IPC_SIGN_RESP, "sign-resp"},
    {IPC_ERROR_RESP, "error-resp"},
    {IPC_CHANNELS, "channels"},
    {IPC_SHUTDOWN, "shutdown"},
    {IPC_READY, "ready"},
};

const char *ipc_type_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(ipc_names) / sizeof(ipc_names[0]); i++)
		if (ipc_names[i].type == type)
			return ipc_names[i].name;
	return "unknown";
}

void ipc_msg_close_fds(struct ipc_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

c2s_err ipc_route(const struct ipc_row *tab, size_t n, enum ipc_peer peer, unsigned state,
                  struct ipc_msg *m, const struct ipc_row **row)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	const struct ipc_row *r = NULL;
	*row = NULL;
	for (size_t i = 0; i < n && !r; i++)
		if (tab[i].type == m->type && (tab[i].peers & (unsigned)peer))
			r = &tab[i];
	ENSURE(r != NULL, C2S_ERR_IPC_MALFORMED);
	ENSURE(m->body.len >= r->min && m->body.len <= r->max, C2S_ERR_IPC_MALFORMED);
	ENSURE(m->nfds <= r->max_fds, C2S_ERR_IPC_MALFORMED);
	*row = r;
	ENSURE(r->states & state, C2S_ERR_IPC_PERMIT);
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		ipc_msg_close_fds(m);
	return ret;
}

c2s_err ipc_encode(uint32_t type, const void *body, size_t len, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	ENSURE(len <= IPC_MAX_BODY, C2S_ERR_TOO_BIG);
	GUARD(buf_put_u32(out, type));
	GUARD(buf_put_u32(out, (uint32_t)len));
	GUARD(buf_put(out, body, len));
out:
	return ret;
}

c2s_err ipc_decode(const uint8_t *p, size_t n, struct ipc_msg *m)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	struct buf b;
	uint32_t len;
	buf_view(&b, p, n);
	ENSURE(n >= IPC_HDR_LEN, C2S_ERR_IPC_MALFORMED);
	ENSURE(buf_get_u32(&b, &m->type) == C2S_OK, C2S_ERR_IPC_MALFORMED);
	ENSURE(buf_get_u32(&b, &len) == C2S_OK, C2S_ERR_IPC_MALFORMED);
	ENSURE(len <= IPC_MAX_BODY && len == n - IPC_HDR_LEN, C2S_ERR_IPC_MALFORMED);
	ENSURE(strcmp(ipc_type_name(m->type), "unknown") != 0, C2S_ERR_IPC_MALFORMED);
	buf_view(&m->body, p + IPC_HDR_LEN, len);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err ipc_send_fds(int fd, uint32_t type, const void *body, size_t len, const int *fds,
                     size_t nfds)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf b;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cm;
	buf_init(&b, IPC_HDR_LEN + IPC_MAX_BODY);
	ENSURE(nfds <= IPC_MAX_FDS, C2S_ERR_TOO_BIG);
	GUARD(ipc_encode(type, body, len, &b));
	struct iovec iov = {.iov_base = b.data, .iov_len = b.len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.space;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t w;
	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	ENSURE(w == (ssize_t)b.len, C2S_ERR_IPC);
	ret = C2S_OK;
out:
	buf_free(&b);
	return ret;
}

c2s_err ipc_send(int fd, uint32_t type, const void *body, size_t len)
{
	return ipc_send_fds(fd, type, body, len, NULL, 0);
}

/* Descriptors from SCM_RIGHTS headers whose length the kernel set; any other control data is
 * refused. All are recorded (to be closed) even beyond what a message may carry. */
static c2s_err ipc_take_fds(struct msghdr *mh, struct ipc_msg *m)
{
	c2s_err ret = C2S_OK;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			ret = C2S_ERR_IPC_MALFORMED;
			continue;
		}
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < IPC_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else {
				close(fd);
				ret = C2S_ERR_IPC_MALFORMED;
			}
		}
	}
	return ret;
}

c2s_err ipc_recv(int fd, uint8_t *rxbuf, struct ipc_msg *m, int timeout_ms)
{
	c2s_err ret = C2S_ERR_IPC;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cm;
	memset(&cm, 0, sizeof(cm));
	m->nfds = 0;
	if (timeout_ms >= 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r;
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		ENSURE(r != 0, C2S_ERR_TIMEOUT);
		ENSURE(r > 0, C2S_ERR_IPC);
	}
	struct iovec iov = {.iov_base = rxbuf, .iov_len = IPC_HDR_LEN + IPC_MAX_BODY};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	mh.msg_control = cm.space;
	mh.msg_controllen = sizeof(cm.space);
	ssize_t r;
	do
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	ENSURE(r >= 0, C2S_ERR_IPC); /* the control buffer is only read after a success */
	c2s_err fds = ipc_take_fds(&mh, m);
	/* too many descriptors: the kernel closed the rest and says so; this is not an EOF */
	ENSURE(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), C2S_ERR_IPC_MALFORMED);
	ENSURE(fds == C2S_OK, C2S_ERR_IPC_MALFORMED);
	ENSURE(r > 0, C2S_ERR_IPC); /* 0 = peer closed */
	GUARD(ipc_decode(rxbuf, (size_t)r, m));
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		ipc_msg_close_fds(m);
	return ret;
}

c2s_err ipc_send_error(int fd, c2s_err code, const char *detail)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf b;
	buf_init(&b, 8 + 1024);
	GUARD(buf_put_u32(&b, (uint32_t)code));
	size_t n = strlen(detail);
	GUARD(buf_put_blob(&b, detail, n > 1000 ? 1000 : n));
	GUARD(ipc_send(fd, IPC_ERROR_RESP, b.data, b.len));
out:
	buf_free(&b);
	return ret;
}

c2s_err ipc_parse_error(struct ipc_msg *m, c2s_err *code, char *detail, size_t cap)
{
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	uint32_t c;
	ENSURE(buf_get_u32(&m->body, &c) == C2S_OK && c2s_err_known((int)c) && c != C2S_OK,
	       C2S_ERR_IPC_MALFORMED);
	ENSURE(buf_get_str(&m->body, detail, cap) == C2S_OK && buf_left(&m->body) == 0,
	       C2S_ERR_IPC_MALFORMED);
	*code = (c2s_err)c;
	ret = C2S_OK;
out:
	return ret;
}
