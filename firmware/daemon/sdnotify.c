#include "sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One datagram is all the protocol has; systemd reads at most a page-sized message. */
#define SDNOTIFY_MAX 2048

int sdnotify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n;
	socklen_t salen;
	int fd, rc = -1;
	if (!name || !name[0])
		return 0;
	n = strlen(name);
	/* a path, or '@' for the abstract namespace (sun_path starts with a NUL byte) */
	if ((name[0] != '/' && name[0] != '@') || n >= sizeof(sa.sun_path) || n < 2) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = 0;
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	size_t len = strlen(state);
	ssize_t w = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	if (w >= 0 && (size_t)w == len)
		rc = 1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int sdnotify_fmt(const char *head, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static int sdnotify_fmt(const char *head, const char *fmt, va_list ap)
{
	char msg[SDNOTIFY_MAX];
	int h = snprintf(msg, sizeof(msg), "%s", head);
	int m = vsnprintf(msg + h, sizeof(msg) - (size_t)h, fmt, ap);
	if (m < 0)
		return -1;
	/* a STATUS= value is one line: a newline inside would start a key of its own */
	for (char *p = msg + h; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return sdnotify(msg);
}

int sdnotify_ready(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sdnotify_fmt("READY=1\nSTATUS=", fmt, ap);
	va_end(ap);
	return rc;
}

int sdnotify_stopping(void)
{
	return sdnotify("STOPPING=1");
}

int sdnotify_status(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = sdnotify_fmt("STATUS=", fmt, ap);
	va_end(ap);
	return rc;
}
