/* The keyholder never trusts c2s-web: the real c2s-keyholder process (exec'd from the built
 * click2signd with a provisioned SoftHSM2 token) is driven over its IPC channels the way
 * c2s-web uses them, and every request outside its rules is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "firmware/base/config.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/pades/cms.h"

static char dir[] = "/tmp/c2s-kh-test-XXXXXX";
static char conf[512];
static pid_t kh_pid;
static int parent_fd, ch[5];
static uint8_t *rx;
static struct config cfg;
static struct khmsg_keyinfo ki;

static int run_bash(const char *script)
{
	pid_t p = fork();
	if (p == 0) {
		execl("/bin/bash", "bash", "-c", script, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int call(int fd, uint32_t type, struct buf *req, struct ipc_msg *m)
{
	if (ipc_send(fd, type, req ? req->data : NULL, req ? req->len : 0) != C2S_OK)
		return -1;
	return ipc_recv(fd, rx, m, 20000) == C2S_OK ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	char script[2048];
	const char *src = getenv("C2S_SOURCE_DIR"), *bld = getenv("C2S_BUILD_DIR");
	if (!src || !bld || !mkdtemp(dir))
		return -1;
	snprintf(script, sizeof(script),
	         ". '%s/tests/tools/appliance.sh' && c2s_provision '%s' ec:p256 >/dev/null 2>&1",
	         src, dir);
	if (run_bash(script) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/c2s.conf", dir);
	if (config_load(conf, &cfg) != C2S_OK)
		return -1;
	char env[600], exe[600];
	snprintf(env, sizeof(env), "%s/softhsm2.conf", dir);
	setenv("SOFTHSM2_CONF", env, 1);
	snprintf(exe, sizeof(exe), "%s/click2signd", bld);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
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
	parent_fd = sv[0];
	int khfds[5];
	for (int i = 0; i < 5; i++) {
		int p[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p) != 0)
			return -1;
		ch[i] = p[0];
		khfds[i] = p[1];
	}
	uint8_t gen[4] = {0, 0, 0, 1};
	if (ipc_send_fds(parent_fd, IPC_CHANNELS, gen, 4, khfds, 5) != C2S_OK)
		return -1;
	for (int i = 0; i < 5; i++)
		close(khfds[i]);
	rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	/* wait until ready: keyinfo answers */
	for (int i = 0; i < 200; i++) {
		struct buf req;
		struct ipc_msg m;
		buf_init(&req, 1024);
		int ok = buf_put_str(&req, cfg.seal_key) == C2S_OK &&
		         call(ch[0], IPC_KEYINFO_REQ, &req, &m) == 0 &&
		         m.type == IPC_KEYINFO_RESP && khmsg_keyinfo_decode(&m.body, &ki) == C2S_OK;
		buf_free(&req);
		if (ok)
			return 0;
		usleep(100000);
	}
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	char script[1024];
	kill(kh_pid, SIGTERM);
	waitpid(kh_pid, NULL, 0);
	khmsg_keyinfo_free(&ki);
	free(rx);
	snprintf(script, sizeof(script), "rm -rf '%s'", dir);
	return run_bash(script);
}

static int verify(const uint8_t *digest, size_t dlen, const uint8_t *sig, size_t slen)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	int r = mbedtls_x509_crt_parse_der(&c, ki.cert, ki.cert_len);
	if (r == 0)
		r = mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, digest, dlen, sig, slen);
	mbedtls_x509_crt_free(&c);
	return r;
}

/* A seal-attrs request: the key, then signed attributes over `digest` for `hash`. */
static void seal_req(struct buf *req, const char *key, enum cms_hash hash, const uint8_t *digest,
                     size_t n)
{
	struct cms_signer s = {
	    .cert = ki.cert, .cert_len = ki.cert_len, .hash = hash, .sig = CMS_SIG_ECDSA};
	struct buf attrs;
	buf_init(&attrs, 8192);
	assert_int_equal(cms_signed_attrs(&s, digest, n, &attrs), C2S_OK);
	buf_init(req, 16384);
	assert_int_equal(buf_put_str(req, key), C2S_OK);
	assert_int_equal(buf_put_blob(req, attrs.data, attrs.len), C2S_OK);
	buf_free(&attrs);
}

/* A new channel to the keyholder, handed over the way the parent does. */
static int fresh_channel(void)
{
	int p[2];
	uint8_t gen[4] = {0, 0, 0, 2};
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p), 0);
	assert_int_equal(ipc_send_fds(parent_fd, IPC_CHANNELS, gen, 4, &p[1], 1), C2S_OK);
	close(p[1]);
	return p[0];
}

static c2s_err error_code(struct ipc_msg *m)
{
	c2s_err code = C2S_OK;
	char detail[256];
	assert_int_equal(m->type, IPC_ERROR_RESP);
	assert_int_equal(ipc_parse_error(m, &code, detail, sizeof(detail)), C2S_OK);
	return code;
}

static void status_and_keyinfo(void **state)
{
	(void)state;
	struct ipc_msg m;
	struct khmsg_status s;
	assert_int_equal(call(ch[0], IPC_STATUS_REQ, NULL, &m), 0);
	assert_int_equal(m.type, IPC_STATUS_RESP);
	assert_int_equal(khmsg_status_decode(&m.body, &s), C2S_OK);
	assert_int_equal(s.state, C2S_OK);
	assert_true(s.token_present && s.logged_in && s.seal_key_present && s.seal_cert_present);
	assert_string_equal(s.label, "c2s");
	assert_int_equal(ki.hash, CMS_SHA256);
	assert_int_equal(ki.sig, CMS_SIG_ECDSA);
	assert_int_equal(ki.n_chain, 1);
}

/* There is no generic "sign this digest" message: what used to be one (type 3) has no row, so
 * the channel is dropped and nothing is signed. */
static void no_generic_signing_message(void **state)
{
	(void)state;
	struct buf req;
	struct ipc_msg m;
	uint8_t d[32] = {1, 2, 3};
	int fd = fresh_channel();
	buf_init(&req, 2048);
	assert_int_equal(buf_put_str(&req, cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_u8(&req, CMS_SHA256), C2S_OK);
	assert_int_equal(buf_put_blob(&req, d, 32), C2S_OK);
	uint8_t frame[IPC_HDR_LEN + 2048];
	uint32_t type = htonl(3), len = htonl((uint32_t)req.len);
	memcpy(frame, &type, 4);
	memcpy(frame + 4, &len, 4);
	memcpy(frame + 8, req.data, req.len);
	assert_int_equal(write(fd, frame, 8 + req.len), (ssize_t)(8 + req.len));
	assert_int_equal(ipc_recv(fd, rx, &m, 5000), C2S_ERR_IPC); /* dropped */
	close(fd);
	buf_free(&req);
}

static void refuses_other_keys(void **state)
{
	(void)state;
	uint8_t d[32] = {1};
	struct buf req;
	struct ipc_msg m;
	seal_req(&req, "some-other-key", CMS_SHA256, d, 32);
	assert_int_equal(call(ch[0], IPC_SEAL_ATTRS_REQ, &req, &m), 0);
	assert_int_equal(error_code(&m), C2S_ERR_IPC_PERMIT);
	buf_free(&req);
}

static void seal_attrs_are_rechecked_and_hashed_by_the_keyholder(void **state)
{
	(void)state;
	uint8_t digest[32] = {9, 9, 9}, h[32];
	struct cms_signer s = {
	    .cert = ki.cert, .cert_len = ki.cert_len, .hash = CMS_SHA256, .sig = CMS_SIG_ECDSA};
	struct buf attrs, req;
	struct ipc_msg m;
	buf_init(&attrs, 8192);
	assert_int_equal(cms_signed_attrs(&s, digest, 32, &attrs), C2S_OK);
	buf_init(&req, 16384);
	assert_int_equal(buf_put_str(&req, cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_blob(&req, attrs.data, attrs.len), C2S_OK);
	assert_int_equal(call(ch[1], IPC_SEAL_ATTRS_REQ, &req, &m), 0);
	assert_int_equal(m.type, IPC_SIGN_RESP);
	const uint8_t *sig;
	size_t n;
	assert_int_equal(buf_get_blob(&m.body, &sig, &n, 1024), C2S_OK);
	assert_int_equal(cms_hash_buf(CMS_SHA256, attrs.data, attrs.len, h), C2S_OK);
	assert_int_equal(verify(h, 32, sig, n), 0); /* signed hash(attrs), computed inside */
	/* bytes that are not signed attributes: refused, nothing signed */
	buf_reset(&req);
	uint8_t junk[64];
	memset(junk, 0x31, sizeof(junk));
	assert_int_equal(buf_put_str(&req, cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_blob(&req, junk, sizeof(junk)), C2S_OK);
	assert_int_equal(call(ch[1], IPC_SEAL_ATTRS_REQ, &req, &m), 0);
	assert_int_equal(error_code(&m), C2S_ERR_IPC_PERMIT);
	/* well-formed attributes for another hash: message-digest of the wrong length */
	uint8_t d48[48] = {7};
	s.hash = CMS_SHA384;
	buf_reset(&attrs);
	assert_int_equal(cms_signed_attrs(&s, d48, 48, &attrs), C2S_OK);
	buf_reset(&req);
	assert_int_equal(buf_put_str(&req, cfg.seal_key), C2S_OK);
	assert_int_equal(buf_put_blob(&req, attrs.data, attrs.len), C2S_OK);
	assert_int_equal(call(ch[1], IPC_SEAL_ATTRS_REQ, &req, &m), 0);
	assert_int_equal(error_code(&m), C2S_ERR_IPC_PERMIT);
	buf_free(&attrs);
	buf_free(&req);
}

static void malformed_messages_drop_the_channel_only(void **state)
{
	(void)state;
	struct ipc_msg m;
	/* a message only the keyholder may send */
	uint8_t body[12] = {0, 0, 0, 4, 1, 2, 3, 4};
	assert_int_equal(ipc_send(ch[2], IPC_SIGN_RESP, body, 8), C2S_OK);
	assert_int_equal(ipc_recv(ch[2], rx, &m, 5000), C2S_ERR_IPC); /* closed */
	/* trailing bytes after a well-formed sign-digest on another channel */
	uint8_t d[32] = {0};
	struct buf req;
	seal_req(&req, cfg.seal_key, CMS_SHA256, d, 32);
	assert_int_equal(buf_put_u8(&req, 0), C2S_OK);
	assert_int_equal(ipc_send(ch[1], IPC_SEAL_ATTRS_REQ, req.data, req.len), C2S_OK);
	assert_int_equal(ipc_recv(ch[1], rx, &m, 5000), C2S_ERR_IPC);
	buf_free(&req);
	/* the keyholder itself lives on and serves the remaining channel */
	assert_int_equal(call(ch[0], IPC_STATUS_REQ, NULL, &m), 0);
	assert_int_equal(m.type, IPC_STATUS_RESP);
	assert_int_equal(kill(kh_pid, 0), 0);
}

static size_t kh_open_fds(void)
{
	char path[64];
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)kh_pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Send a status request carrying `nfds` descriptors (more than IPC_MAX_FDS truncates). */
static void send_with_fds(int fd, size_t nfds)
{
	int fds[IPC_MAX_FDS + 16];
	char cbuf[CMSG_SPACE(sizeof(fds))];
	uint8_t hdr[IPC_HDR_LEN] = {0, 0, 0, IPC_STATUS_REQ, 0, 0, 0, 0};
	for (size_t i = 0; i < nfds; i++)
		fds[i] = 0;
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(hdr)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf,
	                    .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)sizeof(hdr));
}

/* Descriptors are accepted only where a table row expects them (the parent's channels):
 * a web message carrying them drops that channel, and the keyholder closes every one, also
 * when there are more than fit (MSG_CTRUNC). Its fd table ends with only the channels gone. */
static void descriptors_from_the_web_are_closed(void **state)
{
	(void)state;
	struct ipc_msg m;
	size_t before = kh_open_fds();
	send_with_fds(ch[3], IPC_MAX_FDS);
	assert_int_equal(ipc_recv(ch[3], rx, &m, 5000), C2S_ERR_IPC); /* dropped */
	send_with_fds(ch[4], IPC_MAX_FDS + 16);
	assert_int_equal(ipc_recv(ch[4], rx, &m, 5000), C2S_ERR_IPC);
	usleep(100000);
	assert_int_equal(kh_open_fds(), before - 2);
	assert_int_equal(call(ch[0], IPC_STATUS_REQ, NULL, &m), 0);
	assert_int_equal(m.type, IPC_STATUS_RESP);
}

/* The seal key signs nothing but checked CMS signed attributes: every message type (known and
 * unknown) with crafted bodies, each on a fresh channel; every signature that comes back must
 * be the key's signature over SHA-256 of well-formed signed attributes that we sent. */
static void every_message_type_signs_only_checked_attributes(void **state)
{
	(void)state;
	uint8_t digest[32], junk[300];
	struct buf good, req;
	size_t sent_good = 0, signatures = 0, refusals = 0;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 13 + 5);
	for (size_t i = 0; i < 32; i++)
		digest[i] = (uint8_t)(255 - i);
	seal_req(&good, cfg.seal_key, CMS_SHA256, digest, 32);
	for (uint32_t type = 0; type < 48; type++) {
		for (int variant = 0; variant < 4; variant++) {
			buf_init(&req, 16384);
			if (variant == 1) { /* key + 32 bytes: the old sign-digest shape */
				assert_int_equal(buf_put_str(&req, cfg.seal_key), C2S_OK);
				assert_int_equal(buf_put_u8(&req, CMS_SHA256), C2S_OK);
				assert_int_equal(buf_put_blob(&req, digest, 32), C2S_OK);
			} else if (variant == 2) { /* well-formed seal attributes */
				assert_int_equal(buf_put(&req, good.data, good.len), C2S_OK);
			} else if (variant == 3) {
				assert_int_equal(buf_put(&req, junk, sizeof(junk)), C2S_OK);
			}
			int fd = fresh_channel();
			struct ipc_msg m;
			assert_int_equal(ipc_send(fd, type, req.data, req.len), C2S_OK);
			c2s_err r = ipc_recv(fd, rx, &m, 20000);
			if (r == C2S_OK && m.type == IPC_SIGN_RESP) {
				const uint8_t *sig;
				size_t n;
				uint8_t h[32];
				/* only the seal-attrs type with the well-formed body may get here
				 */
				assert_int_equal(type, IPC_SEAL_ATTRS_REQ);
				assert_int_equal(variant, 2);
				assert_int_equal(buf_get_blob(&m.body, &sig, &n, 1024), C2S_OK);
				struct buf v = good;
				char key[513];
				const uint8_t *attrs;
				size_t alen;
				assert_int_equal(buf_get_str(&v, key, sizeof(key)), C2S_OK);
				assert_int_equal(buf_get_blob(&v, &attrs, &alen, 8192), C2S_OK);
				assert_int_equal(cms_hash_buf(CMS_SHA256, attrs, alen, h), C2S_OK);
				assert_int_equal(verify(h, 32, sig, n), 0);
				signatures++;
			} else {
				assert_true(r == C2S_ERR_IPC ||
				            (r == C2S_OK && (m.type == IPC_ERROR_RESP ||
				                             m.type == IPC_STATUS_RESP ||
				                             m.type == IPC_KEYINFO_RESP)));
				refusals++;
			}
			if (type == IPC_SEAL_ATTRS_REQ && variant == 2)
				sent_good++;
			close(fd);
			buf_free(&req);
		}
	}
	assert_int_equal(signatures, sent_good);
	assert_int_equal(signatures + refusals, 48 * 4);
	print_message("%zu messages: %zu signatures (all over checked attributes), %zu refused\n",
	              signatures + refusals, signatures, refusals);
	buf_free(&good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_and_keyinfo),
	    cmocka_unit_test(no_generic_signing_message),
	    cmocka_unit_test(refuses_other_keys),
	    cmocka_unit_test(seal_attrs_are_rechecked_and_hashed_by_the_keyholder),
	    cmocka_unit_test(malformed_messages_drop_the_channel_only),
	    cmocka_unit_test(descriptors_from_the_web_are_closed),
	    cmocka_unit_test(every_message_type_signs_only_checked_attributes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
