/* libmicrohttpd access handler: limits, routing, body collection, authentication. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <gnutls/gnutls.h>

#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"

#define WEB_FORM_MAX 4096

static const struct web_route web_routes[] = {
    {"GET", "/v1/health", web_health, 0, 0, 0, WEB_ON_BOTH, 0},
    {"POST", "/v1/seal", web_seal, 1, 1, 0, WEB_ON_MAIN, 1},
    {"POST", "/v1/documents/repair", web_document_repair, 1, 1, 0, WEB_ON_MAIN, 0},
    {"GET", "/metrics", web_metrics, 0, 0, 0, WEB_ON_MAIN, 0},
    {"POST", "/v1/orders", web_order_create, 1, 1, 0, WEB_ON_MAIN, 0},
    {"GET", "/v1/orders/*", web_order_get, 1, 0, 0, WEB_ON_MAIN, 0},
    {"POST", "/v1/orders/*/cancel", web_order_cancel, 1, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/v1/orders/*/documents/*", web_order_document, 1, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/s/*", web_page_start, 0, 0, 0, WEB_ON_MAIN, 0},
    {"POST", "/s/*/otp", web_page_otp_send, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN, 0},
    {"POST", "/s/*/otp/verify", web_page_otp_verify, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN, 0},
    {"GET", "/s/*/documents", web_page_documents, 0, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/s/*/documents/*", web_page_documents, 0, 0, 0, WEB_ON_MAIN, 0},
    {"POST", "/s/*/documents/*/sign", web_page_sign, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN, 0},
    {"POST", "/s/*/finish", web_page_finish, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN, 0},
    {"GET", "/assets/c2s.css", web_asset_css, 0, 0, 0, WEB_ON_BOTH, 0},
    {"GET", "/v1/accounts/*/certificates", web_account_certs, 1, 0, 0, WEB_ON_MAIN, 0},
    {"DELETE", "/v1/accounts/*/certificates/*", web_account_cert_delete, 1, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/c/register", web_cert_register, 0, 0, 0, WEB_ON_CERT, 0},
    {"POST", "/c/register", web_cert_register_post, 0, 1, 24 * 1024, WEB_ON_CERT, 0},
    {"GET", "/c/login", web_cert_login, 0, 0, 0, WEB_ON_CERT, 0},
    {"GET", "/c/check", web_cert_check, 0, 0, 0, WEB_ON_CERT, 0},
    {"GET", "/s/*/otp", web_page_to_start, 0, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/s/*/otp/verify", web_page_to_start, 0, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/s/*/documents/*/sign", web_page_to_start, 0, 0, 0, WEB_ON_MAIN, 0},
    {"GET", "/s/*/finish", web_page_to_start, 0, 0, 0, WEB_ON_MAIN, 0},
};

/* Matches `url` against a route path; '*' takes one non-empty segment into r->param. */
static int web_path_match(const char *pat, const char *url, struct web_req *r)
{
	size_t n = 0;
	while (*pat && *url) {
		if (*pat == '*') {
			size_t len = strcspn(url, "/");
			if (len == 0 || len >= sizeof(r->param[0]) || n >= 3)
				return 0;
			memcpy(r->param[n], url, len);
			r->param[n++][len] = 0;
			url += len;
			pat++;
			continue;
		}
		if (*pat++ != *url++)
			return 0;
	}
	if (*pat || *url)
		return 0;
	r->n_params = n;
	return 1;
}

static const struct web_route *web_route_find(struct web_req *r, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < sizeof(web_routes) / sizeof(web_routes[0]); i++) {
		int where = web_routes[i].where;
		if (where != WEB_ON_BOTH && where != (r->cert_listener ? WEB_ON_CERT : WEB_ON_MAIN))
			continue;
		if (!web_path_match(web_routes[i].path, r->url, r))
			continue;
		*path_known = 1;
		const char *m = web_routes[i].method;
		if (strcmp(r->method, m) == 0 ||
		    (strcmp(r->method, "HEAD") == 0 && strcmp(m, "GET") == 0))
			return &web_routes[i];
		size_t n = strlen(r->allow);
		if (!strstr(r->allow, m) && n + strlen(m) + 8 < sizeof(r->allow))
			snprintf(r->allow + n, sizeof(r->allow) - n, "%s%s%s", n ? ", " : "", m,
			         strcmp(m, "GET") == 0 ? ", HEAD" : "");
	}
	return NULL;
}

/* Bearer token → API client (store lookup by SHA-256 of the token, constant-time compare). */
static c2s_err web_auth(struct web_req *r)
{
	const char *h =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return C2S_ERR_HTTP_UNAUTHORIZED;
	pthread_mutex_lock(&r->ctx->store_mu);
	c2s_err e = r->ctx->store
	                ? store_client_check(r->ctx->store, h + 7, r->client, sizeof(r->client))
	                : C2S_ERR_STORE;
	pthread_mutex_unlock(&r->ctx->store_mu);
	return e;
}

/* A refusal decided before the body is read. Answering at once while the client is still
 * sending makes the kernel reset the connection and the client sees a TLS EOF instead of the
 * problem; so a request that carries a body is drained (discarded) up to WEB_DRAIN_MAX and
 * answered when it is complete. A client that waits for "100 Continue" is answered at once. */
#define WEB_DRAIN_MAX ((uint64_t)64 << 20)

static enum MHD_Result web_refuse(struct web_req *r, unsigned status, const char *type,
                                  const char *title, const char *detail)
{
	const char *cl =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_TRANSFER_ENCODING);
	const char *ex = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Expect");
	unsigned long long n = cl ? strtoull(cl, NULL, 10) : 0;
	int body = (cl && n > 0) || te;
	if (!body || ex || n > WEB_DRAIN_MAX)
		return r->refuse.rate_page
		           ? web_page_rate_limited(r, (enum rl_kind)(r->refuse.rate_page - 1))
		           : web_problem_ex(r, status, type, title, detail, NULL);
	r->refuse.status = status;
	snprintf(r->refuse.type, sizeof(r->refuse.type), "%s", type);
	snprintf(r->refuse.title, sizeof(r->refuse.title), "%s", title);
	snprintf(r->refuse.detail, sizeof(r->refuse.detail), "%s", detail);
	buf_free(&r->body);
	return MHD_YES;
}

/* 429 from a rate limit, decided before the body: problem+json for an API client, the page in
 * the customer's language for a browser (r->retry_after is set). */
static enum MHD_Result web_refuse_rate(struct web_req *r, enum rl_kind kind)
{
	char d[200];
	const struct rl_limit *l = rl_limit_of(r->ctx->rl, kind);
	snprintf(d, sizeof(d),
	         "%s over the limit of %u requests a minute (burst %u); retry after %u s",
	         kind == RL_API_CLIENT ? "this API client is" : "requests from this address are",
	         l->per_minute, l->burst, r->retry_after);
	if (kind != RL_API_CLIENT)
		r->refuse.rate_page = 1 + (int)kind;
	return web_refuse(r, 429, c2s_err_problem_type(C2S_ERR_RATE_LIMIT), "Too many requests", d);
}

static int64_t web_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result web_first_call(struct web_req *r, const char *version)
{
	r->t0_us = web_now_us();
	int known;
	char why[200];
	int reserve = guard_request_begin(r->conn);
	/* a request we cannot frame is answered at once and the connection closed: whatever
	 * follows on it (a smuggled request) is never read as a request */
	if (r->uri_bad) {
		r->close = 1;
		return web_problem_ex(r, 400, "invalid-request", "Bad request", r->uri_why, NULL);
	}
	unsigned st = guard_headers(r->conn, version, why, sizeof(why));
	if (st) {
		r->close = 1;
		return web_problem_ex(r, st, st == 501 ? "not-implemented" : "invalid-request",
		                      st == 501 ? "Not implemented" : "Bad request", why, NULL);
	}
	r->route = web_route_find(r, &known);
	if (reserve && (!r->route || r->route->fn != web_health)) {
		r->location = NULL;
		return web_refuse(r, 503, "busy", "Service unavailable",
		                  "the appliance is at its connection limit; retry shortly");
	}
	if (!r->route && known)
		return web_refuse(r, c2s_err_http_status(C2S_ERR_HTTP_METHOD),
		                  c2s_err_problem_type(C2S_ERR_HTTP_METHOD), "Method not allowed",
		                  c2s_err_message(C2S_ERR_HTTP_METHOD));
	if (!r->route)
		return web_refuse(r, 404, "not-found", "Not found",
		                  "no such resource; see the API documentation");
	/* by client address: the customer pages and the certificate listener's pages (health and
	 * the style sheet are never limited) */
	enum rl_kind by_ip = strncmp(r->route->path, "/s/", 3) == 0   ? RL_PAGE_IP
	                     : strncmp(r->route->path, "/c/", 3) == 0 ? RL_CERT_IP
	                                                              : RL_KINDS;
	if (by_ip != RL_KINDS && !web_rate_admit(r, by_ip, NULL))
		return web_refuse_rate(r, by_ip);
	/* the bearer token before any body byte is taken; then the client's own limit */
	if (r->route->auth) {
		c2s_err e = web_auth(r);
		if (e != C2S_OK)
			return web_refuse(r, c2s_err_http_status(e), c2s_err_problem_type(e),
			                  "Unauthorized", c2s_err_message(e));
		if (!web_rate_admit(r, RL_API_CLIENT, r->client))
			return web_refuse_rate(r, RL_API_CLIENT);
	}
	const char *cl =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	size_t max = r->route->body_max ? r->route->body_max : r->ctx->cfg->max_body;
	r->body.max = max;
	if (cl) {
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);
		if (*end || n > max) {
			char d[160];
			snprintf(d, sizeof(d), "the request body is larger than %zu bytes", max);
			return web_refuse(r, 413, "too-large", "Request body too large", d);
		}
		/* one allocation of the announced size: no doubling, no copies while reading */
		if (r->route->body && n > 0) {
			if (!guard_mem_take((size_t)n)) {
				r->close = 1; /* at once: draining would hold the connection */
				return web_problem_ex(
				    r, 503, "busy", "Service unavailable",
				    "too many request bodies are being received at "
				    "once; retry shortly",
				    NULL);
			}
			r->mem = (size_t)n;
			if (buf_reserve(&r->body, (size_t)n) != C2S_OK)
				return web_problem(r, C2S_ERR_NOMEM, NULL);
		}
	}
	return MHD_YES;
}

static enum MHD_Result web_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct web_listener *l = cls;
	struct web_req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
	}
	if (!r->seen) {
		r->seen = 1;
		r->ctx = l->ctx;
		r->conn = conn;
		r->method = method;
		r->url = url;
		r->cert_listener = l->cert_listener;
		buf_init(&r->body, l->ctx->cfg->max_body);
		return web_first_call(r, version);
	}
	if (*upload_size)
		guard_body(conn, *upload_size, 0);
	else
		guard_body(conn, 0, 1);
	if (r->refuse.status) { /* drain, then answer */
		r->refuse.drained += *upload_size;
		if (*upload_size && r->refuse.drained <= WEB_DRAIN_MAX &&
		    (!r->refuse.until_ms || clock_mono_ms() < r->refuse.until_ms)) {
			*upload_size = 0;
			return MHD_YES;
		}
		*upload_size = 0;
		if (r->refuse.rate_page)
			return web_page_rate_limited(r, (enum rl_kind)(r->refuse.rate_page - 1));
		return web_problem_ex(r, r->refuse.status, r->refuse.type, r->refuse.title,
		                      r->refuse.detail, NULL);
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		/* a body without Content-Length (chunked) takes its budget as it grows */
		if (r->body.len + n > r->mem) {
			size_t more = r->body.len + n - r->mem;
			if (!guard_mem_take(more)) {
				buf_free(&r->body);
				return web_problem_ex(
				    r, 503, "busy", "Service unavailable",
				    "too many request bodies are being received at once; "
				    "retry shortly",
				    NULL);
			}
			r->mem += more;
		}
		c2s_err put = buf_put(&r->body, upload_data, n);
		if (put == C2S_OK && r->route->hash_body) {
			/* hashed while the next bytes are on their way: a 100 MB seal then hashes
			 * only its update after the upload, not the whole document again */
			if (r->body.len == n)
				c2s_sha256_init(&r->body_sha);
			c2s_sha256_update(&r->body_sha, upload_data, n);
		}
		if (put != C2S_OK) {
			/* over the limit: answered within 2 s, not when the client stops sending
			 * (an endless chunked body); until then what arrives is discarded, so that
			 * the client is reading when the answer comes, not reset mid-send */
			buf_free(&r->body);
			r->refuse.status = 413;
			r->refuse.until_ms = clock_mono_ms() + 2000;
			snprintf(r->refuse.type, sizeof(r->refuse.type), "too-large");
			snprintf(r->refuse.title, sizeof(r->refuse.title),
			         "Request body too large");
			snprintf(r->refuse.detail, sizeof(r->refuse.detail),
			         "the request body is larger than %zu bytes",
			         r->route->body_max ? r->route->body_max : r->ctx->cfg->max_body);
			r->close = 1;
			return MHD_YES;
		}
		return MHD_YES;
	}
	return r->route->fn(r);
}

static void web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct web_req *r = *con_cls;
	(void)cls;
	(void)conn;
	if (!r)
		return;
	guard_request_end(conn);
	if (r->t0_us && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		web_histogram_observe(&web_stats.http_latency, web_now_us() - r->t0_us);
	if (r->mem)
		guard_mem_give(r->mem);
	buf_free(&r->body);
	free(r);
	*con_cls = NULL;
}

/* Before the header section is parsed: the raw request target, checked once (a "%00" would
 * otherwise cut the decoded path). Its request object is the one the handler gets. */
static void *web_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	struct web_req *r = calloc(1, sizeof(*r));
	if (r && !guard_uri_ok(uri, r->uri_why, sizeof(r->uri_why)))
		r->uri_bad = 1;
	return r;
}

const char *web_tls_priorities(void)
{
	return "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"
	       "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:-CIPHER-ALL:"
	       "+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:-SHA1:%SERVER_PRECEDENCE";
}

/* TLS session resumption (tickets, TLS 1.2 and 1.3): a browser coming back within
 * [web] tls_resume seconds skips the key exchange and the certificate signature. The master key
 * is made once per c2s-web start, stays in memory only (the process is not dumpable), and GnuTLS
 * derives the key that seals each ticket from it and the time, so those keys rotate every
 * period. libmicrohttpd 0.9.75 has no option for tickets; its connection notice comes after
 * gnutls_init and before the connection's thread starts the handshake, which is where they are
 * switched on. Not on the certificate listener: a resumed session would skip the client
 * certificate's signature, and every login there must prove the key afresh. */
static gnutls_datum_t web_ticket_key;

static void web_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                  enum MHD_ConnectionNotificationCode toe)
{
	const struct web_listener *l = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED && !l->cert_listener && web_ticket_key.data) {
		const union MHD_ConnectionInfo *ti =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		gnutls_session_t s = ti ? (gnutls_session_t)ti->tls_session : NULL;
		if (s &&
		    gnutls_session_ticket_enable_server(s, &web_ticket_key) == GNUTLS_E_SUCCESS)
			gnutls_db_set_cache_expiration(s, (int)l->ctx->cfg->tls_resume);
	}
	guard_notify_connection((void *)(intptr_t)l->cert_listener, conn, socket_context, toe);
}

static void web_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void web_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	log_warn("libmicrohttpd: %s", line);
}

struct MHD_Daemon *web_server_start(struct web_listener *l, int fd, const char *cert_pem,
                                    const char *key_pem, const char *trust_pem)
{
	const struct config *cfg = l->ctx->cfg;
	/* A thread per connection: a request waiting on the token never holds up another
	 * connection (health stays responsive while every keyholder channel is signing). */
	/* The certificate listener asks for a client certificate (naming these CAs) and accepts
	 * any or none: certlogin.c decides afterwards, and explains. */
	struct MHD_OptionItem trust[] = {
	    {trust_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)trust_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	                 MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	/* GnuTLS itself ends the handshake when a client signs with a certificate whose key
	 * usage lacks digitalSignature (a signing-only certificate): browsers never offer one,
	 * and custcert refuses it too, for other clients that get past this. */
	const char *prio = web_tls_priorities();
	if (cfg->tls_resume && !web_ticket_key.data &&
	    gnutls_session_ticket_key_generate(&web_ticket_key) != GNUTLS_E_SUCCESS) {
		log_warn("no TLS session ticket key: every connection makes a full handshake");
		web_ticket_key.data = NULL;
	}
	return MHD_start_daemon(
	    flags, 0, cfg->n_trusted_proxies ? guard_accept : NULL, NULL, web_handle, l,
	    MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
	    MHD_OPTION_ARRAY, trust, MHD_OPTION_HTTPS_PRIORITIES, prio, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cfg->max_connections + WEB_HEALTH_RESERVE, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    cfg->n_trusted_proxies ? 0u : (unsigned)cfg->max_per_ip, /* else guard_accept */
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->request_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
	    web_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION, web_notify_connection, l,
	    MHD_OPTION_URI_LOG_CALLBACK, web_uri_log, NULL, MHD_OPTION_END);
}
