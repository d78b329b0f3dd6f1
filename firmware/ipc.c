#include "ipc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ipc_permit_row {
	uint32_t type;
	const char *name;
	unsigned peers;  /* enum ipc_peer mask of allowed senders */
	unsigned states; /* enum ipc_state mask the receiver must be in */
	size_t min, max; /* body size */
};

/* The permit table: the only place that says who may send what, when, and how big. */
static const struct ipc_permit_row ipc_table[] = {
    {IPC_STATUS_REQ, "status-req", IPC_PEER_WEB, IPC_ST_ANY, 0, 0},
    {IPC_KEYINFO_REQ, "keyinfo-req", IPC_PEER_WEB, IPC_ST_READY, 5, 4 + 512},
    {IPC_SIGN_DIGEST_REQ, "sign-digest-req", IPC_PEER_WEB, IPC_ST_READY, 4 + 1 + 1 + 4 + 32,
     4 + 512 + 1 + 4 + 64},
    {IPC_SEAL_ATTRS_REQ, "seal-attrs-req", IPC_PEER_WEB, IPC_ST_READY, 4 + 1 + 4 + 16,
     4 + 512 + 4 + 8192},
    {IPC_STATUS_RESP, "status-resp", IPC_PEER_KEYHOLDER, IPC_ST_ANY, 1, 8192},
    {IPC_KEYINFO_RESP, "keyinfo-resp", IPC_PEER_KEYHOLDER, IPC_ST_ANY, 8, IPC_MAX_BODY},
    {IPC_SIGN_RESP, "sign-resp", IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4 + 8, 4 + 1024},
    {IPC_ERROR_RESP, "error-resp", IPC_PEER_KEYHOLDER, IPC_ST_ANY, 8, 8 + 1024},
    {IPC_CHANNELS, "channels", IPC_PEER_PARENT, IPC_ST_ANY, 4, 4},
    {IPC_SHUTDOWN, "shutdown", IPC_PEER_PARENT, IPC_ST_ANY, 0, 0},
    {IPC_READY, "ready", IPC_PEER_CHILD, IPC_ST_ANY, 0, 0},
};

static const struct ipc_permit_row *ipc_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(ipc_table) / sizeof(ipc_table[0]); i++)
		if (ipc_table[i].type == type)
			return &ipc_table[i];
	return NULL;
}

const char *ipc_type_name(uint32_t type)
{
	const struct ipc_permit_row *r = ipc_find(type);
	return r ? r->name : "unknown";
}

c2s_err ipc_permit(enum ipc_peer peer, enum ipc_state state, uint32_t type, size_t len)
{
	const struct ipc_permit_row *r = ipc_find(type);
	if (!r || len < r->min || len > r->max)
		return C2S_ERR_IPC_MALFORMED;
	if (!(r->peers & (unsigned)peer) || !(r->states & (unsigned)state))
		return C2S_ERR_IPC_PERMIT;
	return C2S_OK;
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
	ENSURE(ipc_find(m->type) != NULL, C2S_ERR_IPC_MALFORMED);
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

static void ipc_take_fds(struct msghdr *mh, struct ipc_msg *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n && m->nfds < IPC_MAX_FDS; i++)
			memcpy(&m->fds[m->nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
}

c2s_err ipc_recv(int fd, uint8_t *rxbuf, struct ipc_msg *m, int timeout_ms)
{
	c2s_err ret = C2S_ERR_IPC;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cm;
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
	ipc_take_fds(&mh, m);
	ENSURE(r > 0, C2S_ERR_IPC); /* 0 = peer closed */
	ENSURE(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), C2S_ERR_IPC_MALFORMED);
	GUARD(ipc_decode(rxbuf, (size_t)r, m));
	ret = C2S_OK;
out:
	if (ret != C2S_OK) {
		for (size_t i = 0; i < m->nfds; i++)
			close(m->fds[i]);
		m->nfds = 0;
	}
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
