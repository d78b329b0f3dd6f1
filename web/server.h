/* The HTTPS listeners of c2s-web. */
#ifndef C2S_WEB_SERVER_H
#define C2S_WEB_SERVER_H

#include <microhttpd.h>

#include "firmware/base/config.h"
#include "firmware/base/err.h"

struct web_ctx;

struct web_listener {
	struct web_ctx *ctx;
	int cert_listener;
};

/* Connections admitted beyond [web] max_connections, for /v1/health only. */
#define WEB_HEALTH_RESERVE 8

/* The TLS priorities of both listeners, in one place: TLS 1.2 and 1.3, ECDHE with X25519,
 * P-256 or P-384 only (no finite-field DH: a ClientHello asking for ffdhe8192 would cost the
 * server half a second of CPU), AEAD ciphers only. */
const char *web_tls_priorities(void);

/* guard.c: deadlines, the health reserve, strict syntax, the body budget (see there). */
C2S_MUST_CHECK c2s_err guard_start(const struct config *cfg);
void guard_stop(void);
void guard_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe);
/* The handler has the request (header section complete); 1 when the connection was admitted
 * into the health reserve. */
int guard_request_begin(struct MHD_Connection *conn);
/* n body bytes arrived (done = 1: the body is complete). */
void guard_body(struct MHD_Connection *conn, size_t n, int done);
void guard_request_end(struct MHD_Connection *conn);
/* Takes n bytes of the body budget: 1, or 0 when it is spent. */
int guard_mem_take(size_t n);
void guard_mem_give(size_t n);
/* The address as text ("?" when it is none of IPv4, IPv6). */
void guard_ip_text(const struct sockaddr *sa, char *out, size_t cap);
/* [web] trusted_proxies: 1 when sa is one of them. */
int guard_trusted_proxy(const struct sockaddr *sa);
/* The client's address: the TCP peer, or, when the peer is a trusted proxy, the rightmost
 * address of the last Forwarded (for=) or X-Forwarded-For header that is not one of ours
 * (the proxy's own address when that header is missing or unreadable). 0 without a peer. */
int guard_client_addr(struct MHD_Connection *conn, struct sockaddr_storage *out);
/* Accept policy with trusted proxies: [web] max_per_ip for every address but theirs. */
enum MHD_Result guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* 1 when the raw request target is acceptable, else 0 and why. */
int guard_uri_ok(const char *uri, char *why, size_t cap);
/* One header field as libmicrohttpd parsed it (sizes as it reports them). */
struct guard_field {
	const char *key;
	size_t key_size;
	const char *value;
	size_t value_size;
};
/* 0, or the status (400, 501) with why, for a header section (pure: the fuzz target's). */
unsigned guard_check_fields(const struct guard_field *f, size_t n, int http11, char *why,
                            size_t cap);
/* 0, or the status (400, 501) with why, for the request's header section. */
unsigned guard_headers(struct MHD_Connection *conn, const char *version, char *why, size_t cap);
/* closed for slow headers, closed for a slow body, refused for syntax, refused for memory */
void guard_stats(unsigned long out[4]);

/* Start libmicrohttpd on an already bound and listening socket. NULL on failure. */
struct MHD_Daemon *web_server_start(struct web_listener *l, int fd, const char *cert_pem,
                                    const char *key_pem, const char *trust_pem);

#endif
