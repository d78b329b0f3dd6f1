/* sd_notify without libsystemd (firmware/daemon/sdnotify): the exact datagrams a real AF_UNIX
 * datagram socket receives, on a path and in the abstract namespace; nothing is sent and
 * nothing fails without $NOTIFY_SOCKET; a malformed $NOTIFY_SOCKET is an error, not a crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/daemon/sdnotify.h"

/* A bound datagram socket: a path under a fresh directory, or an abstract name. */
struct listener {
	int fd;
	char dir[64];
	char env[108];
};

static void listen_path(struct listener *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(l->dir, sizeof(l->dir), "/tmp/c2s-sdnotify.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	snprintf(l->env, sizeof(l->env), "%s/notify", l->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->env);
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void listen_abstract(struct listener *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	l->dir[0] = 0;
	snprintf(l->env, sizeof(l->env), "@c2s-sdnotify-test-%ld", (long)getpid());
	size_t n = strlen(l->env);
	memcpy(sa.sun_path, l->env, n);
	sa.sun_path[0] = 0;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa,
	                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
	                 0);
}

static void listener_close(struct listener *l)
{
	close(l->fd);
	if (l->dir[0]) {
		char p[128];
		snprintf(p, sizeof(p), "%s/notify", l->dir);
		unlink(p);
		rmdir(l->dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

/* The next datagram, whole, as a string ("" when none is waiting). */
static const char *next_datagram(struct listener *l, char *buf, size_t cap)
{
	ssize_t n = recv(l->fd, buf, cap - 1, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		n = 0;
	assert_true((size_t)n < cap); /* not truncated */
	buf[n] = 0;
	return buf;
}

static void sends_the_exact_datagrams(struct listener *l)
{
	char b[4096];
	assert_int_equal(setenv("NOTIFY_SOCKET", l->env, 1), 0);
	assert_int_equal(sdnotify_ready("listening on %s:%d", "127.0.0.1", 8443), 1);
	assert_string_equal(next_datagram(l, b, sizeof(b)),
	                    "READY=1\nSTATUS=listening on 127.0.0.1:8443");
	/* one datagram per call: the next recv sees the next call, not a merged stream */
	assert_int_equal(sdnotify_status("%d children", 3), 1);
	assert_int_equal(sdnotify_stopping(), 1);
	assert_string_equal(next_datagram(l, b, sizeof(b)), "STATUS=3 children");
	assert_string_equal(next_datagram(l, b, sizeof(b)), "STOPPING=1");
	/* a newline in a status would start a second key: it is flattened */
	assert_int_equal(sdnotify_status("a\nREADY=1"), 1);
	assert_string_equal(next_datagram(l, b, sizeof(b)), "STATUS=a READY=1");
	assert_string_equal(next_datagram(l, b, sizeof(b)), "");
}

static void path_socket(void **state)
{
	(void)state;
	struct listener l;
	listen_path(&l);
	sends_the_exact_datagrams(&l);
	listener_close(&l);
}

static void abstract_socket(void **state)
{
	(void)state;
	struct listener l;
	listen_abstract(&l);
	sends_the_exact_datagrams(&l);
	listener_close(&l);
}

static void unset_or_empty_does_nothing(void **state)
{
	(void)state;
	struct listener l;
	char b[256];
	listen_path(&l);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_ready("x"), 0);
	assert_int_equal(sdnotify_stopping(), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "", 1), 0);
	assert_int_equal(sdnotify("READY=1"), 0);
	assert_string_equal(next_datagram(&l, b, sizeof(b)), "");
	listener_close(&l);
}

static void malformed_or_absent_socket_is_an_error(void **state)
{
	(void)state;
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = 0;
	const char *bad[] = {"relative/path", "@", longname};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
		errno = 0;
		assert_int_equal(sdnotify("READY=1"), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* well-formed, but nobody listens there */
	assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/c2s-notify", 1), 0);
	assert_int_equal(sdnotify("READY=1"), -1);
	assert_int_equal(errno, ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_socket),
	    cmocka_unit_test(abstract_socket),
	    cmocka_unit_test(unset_or_empty_does_nothing),
	    cmocka_unit_test(malformed_or_absent_socket_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
