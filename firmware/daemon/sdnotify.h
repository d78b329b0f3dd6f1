/* Service-manager notifications (the sd_notify protocol) without libsystemd: one datagram of
 * NEWLINE-separated KEY=VALUE lines to the AF_UNIX socket named by $NOTIFY_SOCKET, a path or,
 * with a leading '@', an abstract name. Without $NOTIFY_SOCKET (not started by systemd with
 * Type=notify) every call does nothing. */
#ifndef C2S_SDNOTIFY_H
#define C2S_SDNOTIFY_H

/* Sends `state` as it is (e.g. "READY=1\nSTATUS=listening"). Returns 1 when it was sent, 0 when
 * $NOTIFY_SOCKET is unset or empty, -1 when it is malformed or the send failed (errno set). */
int sdnotify(const char *state);
/* READY=1 with a STATUS= line (printf format), in one datagram. */
int sdnotify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1. */
int sdnotify_stopping(void);
/* STATUS=... alone (printf format). */
int sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
