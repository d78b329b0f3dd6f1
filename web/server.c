/* libmicrohttpd access handler: limits, routing, body collection, authentication. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "web.h"
#include "firmware/base/log.h"

#define WEB_FORM_MAX 4096

static const struct web_route web_routes[] = {
    {"GET", "/v1/health", web_health, 0, 0, 0, WEB_ON_BOTH},
    {"POST", "/v1/seal", web_seal, 1, 1, 0, WEB_ON_MAIN},
    {"GET", "/metrics", web_metrics, 0, 0, 0, WEB_ON_MAIN},
    {"POST", "/v1/orders", web_order_create, 1, 1, 0, WEB_ON_MAIN},
    {"GET", "/v1/orders/*", web_order_get, 1, 0, 0, WEB_ON_MAIN},
    {"POST", "/v1/orders/*/cancel", web_order_cancel, 1, 0, 0, WEB_ON_MAIN},
    {"GET", "/v1/orders/*/documents/*", web_order_document, 1, 0, 0, WEB_ON_MAIN},
    {"GET", "/s/*", web_page_start, 0, 0, 0, WEB_ON_MAIN},
    {"POST", "/s/*/otp", web_page_otp_send, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN},
    {"POST", "/s/*/otp/verify", web_page_otp_verify, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN},
    {"GET", "/s/*/documents", web_page_documents, 0, 0, 0, WEB_ON_MAIN},
    {"GET", "/s/*/documents/*", web_page_documents, 0, 0, 0, WEB_ON_MAIN},
    {"POST", "/s/*/documents/*/sign", web_page_sign, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN},
    {"POST", "/s/*/finish", web_page_finish, 0, 1, WEB_FORM_MAX, WEB_ON_MAIN},
    {"GET", "/assets/c2s.css", web_asset_css, 0, 0, 0, WEB_ON_BOTH},
    {"GET", "/v1/accounts/*/certificates", web_account_certs, 1, 0, 0, WEB_ON_MAIN},
    {"DELETE", "/v1/accounts/*/certificates/*", web_account_cert_delete, 1, 0, 0, WEB_ON_MAIN},
    {"GET", "/c/register", web_cert_register, 0, 0, 0, WEB_ON_CERT},
    {"GET", "/c/login", web_cert_login, 0, 0, 0, WEB_ON_CERT},
    {"GET", "/c/check", web_cert_check, 0, 0, 0, WEB_ON_CERT},
    {"GET", "/s/*/otp", web_page_to_start, 0, 0, 0, WEB_ON_MAIN},
    {"GET", "/s/*/otp/verify", web_page_to_start, 0, 0, 0, WEB_ON_MAIN},
    {"GET", "/s/*/documents/*/sign", web_page_to_start, 0, 0, 0, WEB_ON_MAIN},
    {"GET", "/s/*/finish", web_page_to_start, 0, 0, 0, WEB_ON_MAIN},
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
		if (strcmp(r->method, web_routes[i].method) == 0)
			return &web_routes[i];
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
		return web_problem_ex(r, status, type, title, detail, NULL);
	r->refuse.status = status;
	snprintf(r->refuse.type, sizeof(r->refuse.type), "%s", type);
	snprintf(r->refuse.title, sizeof(r->refuse.title), "%s", title);
	snprintf(r->refuse.detail, sizeof(r->refuse.detail), "%s", detail);
	buf_free(&r->body);
	return MHD_YES;
}

static enum MHD_Result web_first_call(struct web_req *r)
{
	int known;
	r->route = web_route_find(r, &known);
	if (!r->route && known)
		return web_refuse(r, c2s_err_http_status(C2S_ERR_HTTP_METHOD),
		                  c2s_err_problem_type(C2S_ERR_HTTP_METHOD), "Method not allowed",
		                  c2s_err_message(C2S_ERR_HTTP_METHOD));
	if (!r->route)
		return web_refuse(r, 404, "not-found", "Not found",
		                  "no such resource; see the API documentation");
	/* the bearer token before any body byte is taken */
	if (r->route->auth) {
		c2s_err e = web_auth(r);
		if (e != C2S_OK)
			return web_refuse(r, c2s_err_http_status(e), c2s_err_problem_type(e),
			                  "Unauthorized", c2s_err_message(e));
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
		if (r->route->body && n > 0 && buf_reserve(&r->body, (size_t)n) != C2S_OK)
			return web_problem(r, C2S_ERR_NOMEM, NULL);
	}
	return MHD_YES;
}

static enum MHD_Result web_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct web_listener *l = cls;
	struct web_req *r = *con_cls;
	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->ctx = l->ctx;
		r->conn = conn;
		r->method = method;
		r->url = url;
		r->cert_listener = l->cert_listener;
		buf_init(&r->body, l->ctx->cfg->max_body);
		*con_cls = r;
		return web_first_call(r);
	}
	if (r->refuse.status) { /* drain, then answer */
		r->refuse.drained += *upload_size;
		if (*upload_size && r->refuse.drained <= WEB_DRAIN_MAX) {
			*upload_size = 0;
			return MHD_YES;
		}
		*upload_size = 0;
		return web_problem_ex(r, r->refuse.status, r->refuse.type, r->refuse.title,
		                      r->refuse.detail, NULL);
	}
	if (*upload_size) {
		if (!r->too_big && buf_put(&r->body, upload_data, *upload_size) != C2S_OK) {
			r->too_big = 1;
			buf_free(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big) {
		char d[160];
		snprintf(d, sizeof(d), "the request body is larger than %zu bytes",
		         r->route->body_max ? r->route->body_max : r->ctx->cfg->max_body);
		return web_problem(r, C2S_ERR_TOO_BIG, d);
	}
	return r->route->fn(r);
}

static void web_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct web_req *r = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	buf_free(&r->body);
	free(r);
	*con_cls = NULL;
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
	const char *prio = "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
	                   "+AES-256-GCM:+CHACHA20-POLY1305:-SHA1:%SERVER_PRECEDENCE";
	return MHD_start_daemon(flags, 0, NULL, NULL, web_handle, l, MHD_OPTION_EXTERNAL_LOGGER,
	                        web_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	                        MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
	                        key_pem, MHD_OPTION_ARRAY, trust, MHD_OPTION_HTTPS_PRIORITIES, prio,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	                        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_ip,
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->request_timeout,
	                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
	                        MHD_OPTION_NOTIFY_COMPLETED, web_completed, NULL, MHD_OPTION_END);
}
