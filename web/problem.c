/* JSON and RFC 9457 problem responses. */
#include <string.h>

#include "web.h"

struct web_metrics web_stats;

static void web_count(unsigned status)
{
	unsigned cls = status / 100;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add(&web_stats.requests[cls], 1);
}

static enum MHD_Result web_send(struct web_req *r, unsigned status, const char *ctype, char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	web_count(status);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result web_json(struct web_req *r, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return web_send(r, status, "application/json", text);
}

enum MHD_Result web_problem_ex(struct web_req *r, unsigned status, const char *type,
                               const char *title, const char *detail, json_t *extra)
{
	char uri[256];
	snprintf(uri, sizeof(uri), WEB_PROBLEM_BASE "%s", type);
	json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", uri, "title", title, "status",
	                      (int)status, "detail", detail ? detail : title);
	if (!p) {
		json_decref(extra);
		return MHD_NO;
	}
	if (extra) {
		json_object_update(p, extra);
		json_decref(extra);
	}
	char *text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	return web_send(r, status, "application/problem+json", text);
}

enum MHD_Result web_problem(struct web_req *r, c2s_err e, const char *detail)
{
	return web_problem_ex(r, (unsigned)c2s_err_http_status(e), c2s_err_problem_type(e),
	                      c2s_err_message(e), detail && detail[0] ? detail : c2s_err_message(e),
	                      json_pack("{s:s}", "code", c2s_err_name(e)));
}
