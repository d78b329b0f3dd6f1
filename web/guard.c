/* The front end's guard against hostile HTTP clients (what nginx does in front of an
 * application, done here because libmicrohttpd 0.9.75 does not):
 *   - deadlines: a request's header section must be complete within [web] header_timeout of its
 *     start (however slowly bytes trickle in), and a body must keep up [web] body_min_rate after
 *     a 10 s grace; a watchdog thread shuts down the socket of a connection that does not, and
 *     libmicrohttpd's own thread then closes it;
 *   - capacity for /v1/health: the listener admits WEB_HEALTH_RESERVE connections beyond
 *     [web] max_connections, and a connection admitted into that reserve may ask for nothing
 *     but the health check;
 *   - strict request syntax, decided before routing: the raw request target (no control
 *     characters, before or after percent-decoding), exactly one Host, at most one
 *     Content-Length of digits only, never with Transfer-Encoding, only "chunked", no NUL or
 *     control character in a header name or value;
 *   - one budget for buffered request bodies across all requests ([web] body_memory). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"

#define GUARD_BODY_GRACE_MS 10000
#define GUARD_TICK_MS       250

struct guard_conn {
	struct guard_conn *next, *prev;
	int fd;
	int reserve; /* admitted beyond max_connections: health only */
	int listener;
	int64_t req_start;  /* ms: the connection's start, or the end of its previous request */
	int in_request;     /* the header section is complete; the handler has the request */
	int64_t body_start; /* ms of the first body byte while a body is being received */
	uint64_t body_bytes;
	int shut;
	char ip[48];
};

static struct {
	pthread_mutex_t mu;
	struct guard_conn *head;
	unsigned active[2]; /* per listener: main, certificate */
	pthread_t th;
	int running;
	atomic_int stop;
	unsigned max_connections, header_ms, min_rate, max_per_ip;
	struct sockaddr_storage proxies[CONFIG_MAX_ALLOW]; /* [web] trusted_proxies */
	size_t n_proxies;
	size_t body_memory;
	atomic_size_t body_used;
	atomic_ulong closed_slow_headers, closed_slow_body, refused_syntax, refused_memory;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

void guard_stats(unsigned long out[4])
{
	out[0] = atomic_load(&g.closed_slow_headers);
	out[1] = atomic_load(&g.closed_slow_body);
	out[2] = atomic_load(&g.refused_syntax);
	out[3] = atomic_load(&g.refused_memory);
}

static void *guard_watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&g.stop)) {
		struct timespec ts = {0, GUARD_TICK_MS * 1000000L};
		nanosleep(&ts, NULL);
		int64_t now = clock_mono_ms();
		pthread_mutex_lock(&g.mu);
		for (struct guard_conn *c = g.head; c; c = c->next) {
			if (c->shut)
				continue;
			const char *why = NULL;
			if (!c->in_request && now - c->req_start > (int64_t)g.header_ms) {
				why = "the request's header section was not complete in time";
				atomic_fetch_add(&g.closed_slow_headers, 1);
			} else if (c->in_request && c->body_start && g.min_rate &&
			           now - c->body_start > GUARD_BODY_GRACE_MS &&
			           c->body_bytes * 1000 <
			               (uint64_t)g.min_rate * (uint64_t)(now - c->body_start)) {
				why = "the request body arrived slower than [web] body_min_rate";
				atomic_fetch_add(&g.closed_slow_body, 1);
			}
			if (!why)
				continue;
			/* libmicrohttpd's thread for this connection wakes up and closes it. The
			 * descriptor cannot have been reused: libmicrohttpd reports a connection
			 * CLOSED (which takes it out of this list, under g.mu) before it closes the
			 * socket, and we hold g.mu here (checked against the 0.9.7x sources) */
			c->shut = 1;
			shutdown(c->fd, SHUT_RDWR);
			log_info("closed a connection from %s: %s", c->ip, why);
		}
		pthread_mutex_unlock(&g.mu);
	}
	return NULL;
}

c2s_err guard_start(const struct config *cfg)
{
	g.max_connections = cfg->max_connections;
	g.header_ms = cfg->header_timeout * 1000u;
	g.min_rate = cfg->body_min_rate;
	g.body_memory = cfg->body_memory;
	g.max_per_ip = cfg->max_per_ip;
	g.n_proxies = 0;
	for (size_t i = 0; i < cfg->n_trusted_proxies; i++) {
		struct sockaddr_storage *ss = &g.proxies[g.n_proxies];
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, cfg->trusted_proxies[i],
		              &((struct sockaddr_in *)ss)->sin_addr) == 1)
			ss->ss_family = AF_INET;
		else if (inet_pton(AF_INET6, cfg->trusted_proxies[i],
		                   &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
			ss->ss_family = AF_INET6;
		else
			continue;
		g.n_proxies++;
	}
	atomic_store(&g.stop, 0);
	if (pthread_create(&g.th, NULL, guard_watchdog, NULL) != 0)
		return C2S_ERR_INTERNAL;
	g.running = 1;
	return C2S_OK;
}

void guard_stop(void)
{
	if (!g.running)
		return;
	atomic_store(&g.stop, 1);
	pthread_join(g.th, NULL);
	g.running = 0;
}

/* ---- clients behind a trusted reverse proxy ---- */

/* The address as IPv4 when it is one (also when IPv4-mapped), for comparisons. */
static int guard_addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0) {
		memcpy(out, a + 12, 4);
		return 4;
	}
	memcpy(out, a, 16);
	return 16;
}

void guard_ip_text(const struct sockaddr *sa, char *out, size_t cap)
{
	snprintf(out, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          (socklen_t)cap);
}

int guard_trusted_proxy(const struct sockaddr *sa)
{
	uint8_t a[16], b[16];
	int n = sa ? guard_addr_bytes(sa, a) : 0;
	for (size_t i = 0; n && i < g.n_proxies; i++)
		if (guard_addr_bytes((const struct sockaddr *)&g.proxies[i], b) == n &&
		    memcmp(a, b, (size_t)n) == 0)
			return 1;
	return 0;
}

/* One address out of a Forwarded "for=" value or an X-Forwarded-For entry: quotes, brackets
 * and a port taken off; 1 when it is an IP literal. */
static int guard_parse_for(const char *p, size_t n, struct sockaddr_storage *out)
{
	char a[64];
	while (n && (*p == ' ' || *p == '\t' || *p == '"'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '"'))
		n--;
	if (n && *p == '[') { /* [v6] or [v6]:port */
		const char *e = memchr(p, ']', n);
		if (!e)
			return 0;
		n = (size_t)(e - p - 1);
		p++;
	} else if (n && memchr(p, ':', n) && memchr(p, '.', n)) { /* v4:port */
		n = (size_t)((const char *)memchr(p, ':', n) - p);
	}
	if (!n || n >= sizeof(a))
		return 0;
	memcpy(a, p, n);
	a[n] = 0;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)out)->sin_addr) == 1) {
		out->ss_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, a, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
		out->ss_family = AF_INET6;
		return 1;
	}
	return 0;
}

struct guard_last {
	const char *forwarded, *xff;
};

/* the last occurrence of each: a proxy appends its own line after what the client sent */
static enum MHD_Result guard_last_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
	struct guard_last *l = cls;
	(void)kind;
	if (strcasecmp(key, "Forwarded") == 0)
		l->forwarded = value;
	else if (strcasecmp(key, "X-Forwarded-For") == 0)
		l->xff = value;
	return MHD_YES;
}

int guard_client_addr(struct MHD_Connection *conn, struct sockaddr_storage *out)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return 0;
	const struct sockaddr *peer = ci->client_addr;
	memset(out, 0, sizeof(*out));
	memcpy(out, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                   : sizeof(struct sockaddr_in));
	if (!guard_trusted_proxy(peer))
		return 1;
	/* from the right: the first hop that is not one of our proxies is the client; anything
	 * unreadable on the way leaves the proxy's own address */
	struct guard_last l = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, guard_last_header, &l);
	const char *list = l.forwarded ? l.forwarded : l.xff;
	if (!list)
		return 1;
	size_t end = strlen(list);
	while (end > 0) {
		size_t start = end;
		while (start > 0 && list[start - 1] != ',')
			start--;
		const char *e = list + start;
		size_t n = end - start;
		if (l.forwarded) { /* for=... among ;-separated pairs */
			const char *f = NULL;
			for (size_t i = 0; i + 4 <= n; i++)
				if (strncasecmp(e + i, "for=", 4) == 0 &&
				    (i == 0 || e[i - 1] == ';' || e[i - 1] == ' '))
					f = e + i + 4;
			if (!f)
				return 1;
			n = strcspn(f, ";,");
			if (f + n > list + end)
				n = (size_t)(list + end - f);
			e = f;
		}
		struct sockaddr_storage hop;
		if (!guard_parse_for(e, n, &hop))
			return 1;
		if (!guard_trusted_proxy((const struct sockaddr *)&hop)) {
			*out = hop;
			return 1;
		}
		end = start ? start - 1 : 0;
	}
	return 1;
}

/* With trusted proxies, libmicrohttpd's own per-address limit is off (every customer would
 * be the proxy) and this one counts the connections of each other address. */
enum MHD_Result guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned n = 0;
	(void)cls;
	(void)addrlen;
	if (guard_trusted_proxy(addr) || !g.max_per_ip)
		return MHD_YES;
	guard_ip_text(addr, ip, sizeof(ip));
	pthread_mutex_lock(&g.mu);
	for (struct guard_conn *c = g.head; c; c = c->next)
		n += strcmp(c->ip, ip) == 0;
	pthread_mutex_unlock(&g.mu);
	return n < g.max_per_ip ? MHD_YES : MHD_NO;
}

static struct guard_conn *guard_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

void guard_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
	int listener = cls ? 1 : 0;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct guard_conn *c = calloc(1, sizeof(*c));
		*socket_context = c;
		if (!c)
			return;
		const union MHD_ConnectionInfo *fi =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		c->fd = fi ? fi->connect_fd : -1;
		guard_ip_text(ai ? ai->client_addr : NULL, c->ip, sizeof(c->ip));
		c->req_start = clock_mono_ms();
		pthread_mutex_lock(&g.mu);
		c->listener = listener;
		c->reserve = g.active[listener] >= g.max_connections;
		g.active[listener]++;
		c->next = g.head;
		if (g.head)
			g.head->prev = c;
		g.head = c;
		pthread_mutex_unlock(&g.mu);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct guard_conn *c = *socket_context;
		*socket_context = NULL;
		if (!c)
			return;
		pthread_mutex_lock(&g.mu);
		if (c->prev)
			c->prev->next = c->next;
		else
			g.head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		g.active[c->listener]--;
		pthread_mutex_unlock(&g.mu);
		free(c);
	}
}

int guard_request_begin(struct MHD_Connection *conn)
{
	struct guard_conn *c = guard_of(conn);
	if (!c)
		return 0;
	pthread_mutex_lock(&g.mu);
	c->in_request = 1;
	c->body_start = 0;
	c->body_bytes = 0;
	int reserve = c->reserve;
	pthread_mutex_unlock(&g.mu);
	return reserve;
}

void guard_body(struct MHD_Connection *conn, size_t n, int done)
{
	struct guard_conn *c = guard_of(conn);
	if (!c)
		return;
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&g.mu);
	if (done) {
		c->body_start = 0;
	} else {
		if (!c->body_start)
			c->body_start = now;
		c->body_bytes += n;
	}
	pthread_mutex_unlock(&g.mu);
}

void guard_request_end(struct MHD_Connection *conn)
{
	struct guard_conn *c = guard_of(conn);
	if (!c)
		return;
	pthread_mutex_lock(&g.mu);
	c->in_request = 0;
	c->body_start = 0;
	c->req_start = clock_mono_ms(); /* a kept-alive connection's next request starts now */
	pthread_mutex_unlock(&g.mu);
}

/* ---- the body budget ---- */

int guard_mem_take(size_t n)
{
	size_t used = atomic_fetch_add(&g.body_used, n) + n;
	if (used > g.body_memory) {
		atomic_fetch_sub(&g.body_used, n);
		atomic_fetch_add(&g.refused_memory, 1);
		return 0;
	}
	return 1;
}

void guard_mem_give(size_t n)
{
	atomic_fetch_sub(&g.body_used, n);
}

/* ---- syntax ---- */

static int guard_hex(char c)
{
	return (c >= '0' && c <= '9')   ? c - '0'
	       : (c >= 'a' && c <= 'f') ? c - 'a' + 10
	       : (c >= 'A' && c <= 'F') ? c - 'A' + 10
	                                : -1;
}

int guard_uri_ok(const char *uri, char *why, size_t cap)
{
	for (const unsigned char *p = (const unsigned char *)uri; *p; p++) {
		if (*p <= 0x20 || *p == 0x7f) {
			snprintf(why, cap, "the request target has a control character or space");
			return 0;
		}
		if (*p != '%')
			continue;
		int hi = guard_hex((char)p[1]), lo = hi < 0 ? -1 : guard_hex((char)p[2]);
		if (hi < 0 || lo < 0) {
			snprintf(why, cap,
			         "the request target has a '%%' not followed by two hex digits");
			return 0;
		}
		int v = hi * 16 + lo;
		if (v < 0x20 || v == 0x7f) {
			snprintf(why, cap,
			         "the request target encodes a control character (%%%02X)", v);
			return 0;
		}
		p += 2;
	}
	return 1;
}

static int guard_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

unsigned guard_check_fields(const struct guard_field *f, size_t n, int http11, char *why,
                            size_t cap)
{
	unsigned host = 0, cl = 0, te = 0;
	const char *cl_value = NULL, *te_value = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key = f[i].key, *value = f[i].value;
		if (!key || f[i].key_size == 0 ||
		    strnlen(key, f[i].key_size + 1) != f[i].key_size) {
			snprintf(why, cap, "a header name is empty or has a NUL byte");
			return 400;
		}
		for (size_t j = 0; j < f[i].key_size; j++)
			if (!guard_tchar(key[j])) {
				snprintf(
				    why, cap,
				    "the header name '%.40s' has a character not allowed in a name",
				    key);
				return 400;
			}
		if (value && strnlen(value, f[i].value_size + 1) != f[i].value_size) {
			snprintf(why, cap, "the header '%.40s' has a NUL byte in its value", key);
			return 400;
		}
		for (size_t j = 0; value && j < f[i].value_size; j++) {
			unsigned char c = (unsigned char)value[j];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				snprintf(why, cap,
				         "the header '%.40s' has a control character in its value",
				         key);
				return 400;
			}
		}
		if (strcasecmp(key, "Host") == 0)
			host++;
		if (strcasecmp(key, "Content-Length") == 0) {
			cl++;
			cl_value = value ? value : "";
		}
		if (strcasecmp(key, "Transfer-Encoding") == 0) {
			te++;
			te_value = value ? value : "";
		}
	}
	if (host > 1 || (http11 && host == 0)) {
		snprintf(why, cap, "an HTTP/1.1 request needs exactly one Host header");
		return 400;
	}
	if (cl > 1) {
		snprintf(why, cap, "more than one Content-Length header");
		return 400;
	}
	if (cl && (!cl_value[0] || strspn(cl_value, "0123456789") != strlen(cl_value) ||
	           strlen(cl_value) > 18)) {
		snprintf(why, cap, "Content-Length must be digits only");
		return 400;
	}
	if (cl && te) {
		snprintf(
		    why, cap,
		    "Content-Length and Transfer-Encoding together (a request that proxies would "
		    "read differently)");
		return 400;
	}
	if (te > 1 || (te && strcasecmp(te_value, "chunked") != 0)) {
		snprintf(why, cap, "the only transfer coding accepted is a single 'chunked'");
		return 501;
	}
	return 0;
}

#define GUARD_MAX_FIELDS 128

struct guard_collect {
	struct guard_field f[GUARD_MAX_FIELDS];
	size_t n;
	int overflow;
};

static enum MHD_Result guard_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
	struct guard_collect *c = cls;
	(void)kind;
	if (c->n >= GUARD_MAX_FIELDS) {
		c->overflow = 1;
		return MHD_NO;
	}
	c->f[c->n++] = (struct guard_field){key, key_size, value, value_size};
	return MHD_YES;
}

unsigned guard_headers(struct MHD_Connection *conn, const char *version, char *why, size_t cap)
{
	struct guard_collect *c = calloc(1, sizeof(*c));
	unsigned st;
	if (!c) {
		snprintf(why, cap, "out of memory");
		return 503;
	}
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, guard_collect, c);
	if (c->overflow) {
		snprintf(why, cap, "more than %d header fields", GUARD_MAX_FIELDS);
		st = 400;
	} else {
		st = guard_check_fields(
		    c->f, c->n, version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0, why, cap);
	}
	free(c);
	if (st)
		atomic_fetch_add(&g.refused_syntax, 1);
	return st;
}
