/* IPC codec and the keyholder's dispatch table: every truncated, oversized, unknown-type,
 * wrong-peer, wrong-state and descriptor-carrying message is routed as its row says; well-formed
 * ones pass, including over a real socketpair with fds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/keyholder/keyholder_int.h"

static void frame(uint32_t type, const void *body, size_t len, struct buf *out)
{
	buf_init(out, IPC_HDR_LEN + IPC_MAX_BODY + 16);
	assert_int_equal(ipc_encode(type, body, len, out), C2S_OK);
}

static void decode_roundtrip(void **state)
{
	(void)state;
	struct buf f;
	struct ipc_msg m;
	uint8_t body[40] = {0};
	frame(IPC_SEAL_ATTRS_REQ, body, sizeof(body), &f);
	assert_int_equal(ipc_decode(f.data, f.len, &m), C2S_OK);
	assert_int_equal(m.type, IPC_SEAL_ATTRS_REQ);
	assert_int_equal(m.body.len, sizeof(body));
	buf_free(&f);
}

static void decode_rejects_truncated(void **state)
{
	(void)state;
	struct buf f;
	struct ipc_msg m;
	uint8_t body[40] = {0};
	frame(IPC_SEAL_ATTRS_REQ, body, sizeof(body), &f);
	for (size_t n = 0; n < f.len; n++)
		assert_int_equal(ipc_decode(f.data, n, &m), C2S_ERR_IPC_MALFORMED);
	buf_free(&f);
}

static void decode_rejects_length_mismatch(void **state)
{
	(void)state;
	struct buf f;
	struct ipc_msg m;
	uint8_t body[8] = {0};
	frame(IPC_STATUS_REQ, body, sizeof(body), &f);
	f.data[7] ^= 1; /* declared length differs from the datagram */
	assert_int_equal(ipc_decode(f.data, f.len, &m), C2S_ERR_IPC_MALFORMED);
	buf_free(&f);
}

static void decode_rejects_unknown_type(void **state)
{
	(void)state;
	struct buf f;
	struct ipc_msg m;
	frame(0x7777, NULL, 0, &f);
	assert_int_equal(ipc_decode(f.data, f.len, &m), C2S_ERR_IPC_MALFORMED);
	buf_free(&f);
}

static void encode_rejects_oversized(void **state)
{
	(void)state;
	struct buf f;
	uint8_t *big = calloc(1, IPC_MAX_BODY + 1);
	buf_init(&f, 2 * IPC_MAX_BODY);
	assert_int_equal(ipc_encode(IPC_SEAL_ATTRS_REQ, big, IPC_MAX_BODY + 1, &f),
	                 C2S_ERR_TOO_BIG);
	buf_free(&f);
	free(big);
}

/* Route a message of `len` zero bytes with `nfds` fresh descriptors through the keyholder's
 * table; checks that a refused message's descriptors are closed. */
static c2s_err route(enum ipc_peer peer, unsigned st, uint32_t type, size_t len, size_t nfds)
{
	static uint8_t zeros[IPC_MAX_BODY];
	struct ipc_msg m = {.type = type};
	const struct ipc_row *row;
	buf_view(&m.body, zeros, len);
	for (size_t i = 0; i < nfds; i++)
		m.fds[m.nfds++] = dup(0);
	int first = nfds ? m.fds[0] : -1;
	c2s_err r = ipc_route(kh_rows, kh_n_rows, peer, st, &m, &row);
	if (r == C2S_OK)
		assert_non_null(row->fn);
	if (r == C2S_ERR_IPC_MALFORMED)
		assert_null(row);
	if (r != C2S_OK) {
		assert_int_equal(m.nfds, 0);
		if (first >= 0)
			assert_int_equal(close(first), -1); /* already closed by ipc_route */
	}
	ipc_msg_close_fds(&m);
	return r;
}

static void table_sizes(void **state)
{
	(void)state;
	/* status request carries no body */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_STATUS_REQ, 0, 0), C2S_OK);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_STATUS_REQ, 1, 0),
	                 C2S_ERR_IPC_MALFORMED);
	/* seal attributes: too small for any signed attributes, and over 8 KiB */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_SEAL_ATTRS_REQ, 10, 0),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_SEAL_ATTRS_REQ, 100, 0), C2S_OK);
	/* the generic "sign this digest" (type 3) is gone: no row */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, 3, 50, 0), C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_SEAL_ATTRS_REQ, 9000, 0),
	                 C2S_ERR_IPC_MALFORMED);
	/* a type nobody has a row for */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, 0x7777, 0, 0), C2S_ERR_IPC_MALFORMED);
}

static void table_states_and_peers(void **state)
{
	(void)state;
	/* signing is not allowed before the token is ready; status always is */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_STARTING, IPC_SEAL_ATTRS_REQ, 100, 0),
	                 C2S_ERR_IPC_PERMIT);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_STARTING, IPC_KEYINFO_REQ, 10, 0),
	                 C2S_ERR_IPC_PERMIT);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_STARTING, IPC_STATUS_REQ, 0, 0), C2S_OK);
	/* web may not send what only the parent or the keyholder sends: no row, channel dropped */
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_CHANNELS, 4, 0),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_SHUTDOWN, 0, 0),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, IPC_SIGN_RESP, 20, 0),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_PARENT, IPC_ST_ANY, IPC_SEAL_ATTRS_REQ, 100, 0),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_PARENT, IPC_ST_ANY, IPC_CHANNELS, 4, 0), C2S_OK);
	assert_int_equal(route(IPC_PEER_PARENT, IPC_ST_ANY, IPC_SHUTDOWN, 0, 0), C2S_OK);
}

/* Descriptors only where a row expects them: on every web message they drop the channel and
 * are closed; the parent's channels message takes up to IPC_MAX_FDS. */
static void table_descriptors(void **state)
{
	(void)state;
	const struct {
		uint32_t type;
		size_t len;
	} web[] = {{IPC_STATUS_REQ, 0}, {IPC_KEYINFO_REQ, 10}, {IPC_SEAL_ATTRS_REQ, 100}};
	for (size_t i = 0; i < sizeof(web) / sizeof(web[0]); i++) {
		assert_int_equal(route(IPC_PEER_WEB, IPC_ST_READY, web[i].type, web[i].len, 1),
		                 C2S_ERR_IPC_MALFORMED);
		assert_int_equal(route(IPC_PEER_WEB, IPC_ST_STARTING, web[i].type, web[i].len, 3),
		                 C2S_ERR_IPC_MALFORMED);
	}
	assert_int_equal(route(IPC_PEER_PARENT, IPC_ST_ANY, IPC_SHUTDOWN, 0, 2),
	                 C2S_ERR_IPC_MALFORMED);
	assert_int_equal(route(IPC_PEER_PARENT, IPC_ST_ANY, IPC_CHANNELS, 4, IPC_MAX_FDS), C2S_OK);
}

static size_t open_fds(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A datagram with more descriptors than IPC_MAX_FDS: the kernel truncates the control data
 * (MSG_CTRUNC); that is a malformed message, not an EOF, and nothing received stays open. */
static void recv_too_many_fds(void **state)
{
	(void)state;
	int sv[2], many[IPC_MAX_FDS + 8];
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	struct ipc_msg m;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (size_t i = 0; i < IPC_MAX_FDS + 8; i++)
		many[i] = sv[0];
	/* raw sendmsg: ipc_send_fds itself refuses more than IPC_MAX_FDS */
	uint8_t hdr[IPC_HDR_LEN] = {0, 0, 0, IPC_STATUS_REQ, 0, 0, 0, 0};
	char cbuf[CMSG_SPACE(sizeof(many))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(many));
	memcpy(CMSG_DATA(c), many, sizeof(many));
	size_t before = open_fds();
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(hdr));
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_ERR_IPC_MALFORMED);
	assert_int_equal(m.nfds, 0);
	assert_int_equal(open_fds(), before);
	/* the channel still works for the next, well-formed message */
	assert_int_equal(ipc_send(sv[0], IPC_STATUS_REQ, NULL, 0), C2S_OK);
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_OK);
	close(sv[0]);
	close(sv[1]);
	free(rx);
}

static void socketpair_with_fds(void **state)
{
	(void)state;
	int sv[2], extra[2];
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	struct ipc_msg m;
	uint8_t gen[4] = {0, 0, 0, 7};
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, extra), 0);
	assert_int_equal(ipc_send_fds(sv[0], IPC_CHANNELS, gen, 4, extra, 2), C2S_OK);
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_OK);
	assert_int_equal(m.type, IPC_CHANNELS);
	assert_int_equal(m.nfds, 2);
	/* the received descriptors work */
	assert_int_equal(ipc_send(m.fds[0], IPC_STATUS_REQ, NULL, 0), C2S_OK);
	assert_int_equal(ipc_recv(extra[1], rx, &m, 1000), C2S_OK);
	assert_int_equal(m.type, IPC_STATUS_REQ);
	/* timeout, then EOF */
	assert_int_equal(ipc_recv(sv[1], rx, &m, 10), C2S_ERR_TIMEOUT);
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_ERR_IPC);
	/* a raw datagram with garbage is malformed */
	int g[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, g), 0);
	const uint8_t junk[11] = {0, 0, 0, 1, 0, 0, 0, 9, 'x', 'y', 'z'};
	assert_int_equal(write(g[0], junk, sizeof(junk)), 11);
	assert_int_equal(ipc_recv(g[1], rx, &m, 1000), C2S_ERR_IPC_MALFORMED);
	close(g[0]);
	close(g[1]);
	close(sv[1]);
	close(extra[0]);
	close(extra[1]);
	free(rx);
}

static void error_body_roundtrip_and_rejects(void **state)
{
	(void)state;
	int sv[2];
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	struct ipc_msg m;
	c2s_err code;
	char detail[64];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(ipc_send_error(sv[0], C2S_ERR_HSM_REMOVED, "card out"), C2S_OK);
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_OK);
	assert_int_equal(ipc_parse_error(&m, &code, detail, sizeof(detail)), C2S_OK);
	assert_int_equal(code, C2S_ERR_HSM_REMOVED);
	assert_string_equal(detail, "card out");
	/* an "error" whose code is OK or unknown is malformed */
	uint8_t bad[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(ipc_send(sv[0], IPC_ERROR_RESP, bad, 8), C2S_OK);
	assert_int_equal(ipc_recv(sv[1], rx, &m, 1000), C2S_OK);
	assert_int_equal(ipc_parse_error(&m, &code, detail, sizeof(detail)), C2S_ERR_IPC_MALFORMED);
	close(sv[0]);
	close(sv[1]);
	free(rx);
}

static void status_codec(void **state)
{
	(void)state;
	struct khmsg_status s = {0}, d;
	struct buf b;
	s.state = C2S_ERR_HSM_NO_TOKEN;
	snprintf(s.reason, sizeof(s.reason), "token gone");
	snprintf(s.label, sizeof(s.label), "c2s");
	s.card_since = 1700000000;
	s.signatures = 1ull << 40;
	buf_init(&b, 8192);
	assert_int_equal(khmsg_status_encode(&s, &b), C2S_OK);
	struct buf v;
	buf_view(&v, b.data, b.len);
	assert_int_equal(khmsg_status_decode(&v, &d), C2S_OK);
	assert_string_equal(d.reason, "token gone");
	assert_int_equal(d.card_since, 1700000000);
	assert_true(d.signatures == (1ull << 40));
	/* every truncation is refused */
	for (size_t n = 0; n < b.len; n++) {
		buf_view(&v, b.data, n);
		assert_int_equal(khmsg_status_decode(&v, &d), C2S_ERR_IPC_MALFORMED);
	}
	buf_free(&b);
}

static void keyinfo_codec_rejects_bad_fields(void **state)
{
	(void)state;
	uint8_t cert[3] = {1, 2, 3};
	struct khmsg_keyinfo k = {.key_type = 1,
	                          .bits = 3072,
	                          .hash = KHMSG_SHA256,
	                          .sig = KHMSG_SIG_RSA_PKCS1,
	                          .sig_max = 384,
	                          .cert = cert,
	                          .cert_len = 3};
	struct khmsg_keyinfo d;
	struct buf b, v;
	buf_init(&b, 4096);
	assert_int_equal(khmsg_keyinfo_encode(&k, &b), C2S_OK);
	buf_view(&v, b.data, b.len);
	assert_int_equal(khmsg_keyinfo_decode(&v, &d), C2S_OK);
	assert_int_equal(d.cert_len, 3);
	khmsg_keyinfo_free(&d);
	k.sig_max = 5000; /* impossible signature size */
	buf_reset(&b);
	assert_int_equal(khmsg_keyinfo_encode(&k, &b), C2S_OK);
	buf_view(&v, b.data, b.len);
	assert_int_equal(khmsg_keyinfo_decode(&v, &d), C2S_ERR_IPC_MALFORMED);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(decode_roundtrip),
	    cmocka_unit_test(decode_rejects_truncated),
	    cmocka_unit_test(decode_rejects_length_mismatch),
	    cmocka_unit_test(decode_rejects_unknown_type),
	    cmocka_unit_test(encode_rejects_oversized),
	    cmocka_unit_test(table_sizes),
	    cmocka_unit_test(table_states_and_peers),
	    cmocka_unit_test(table_descriptors),
	    cmocka_unit_test(recv_too_many_fds),
	    cmocka_unit_test(socketpair_with_fds),
	    cmocka_unit_test(error_body_roundtrip_and_rejects),
	    cmocka_unit_test(status_codec),
	    cmocka_unit_test(keyinfo_codec_rejects_bad_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
