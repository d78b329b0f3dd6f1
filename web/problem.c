/* Responses: JSON, RFC 9457 problems, HTML pages, redirects, stored documents. */
#include <fcntl.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web.h"
#include "firmware/base/json.h"
#include "firmware/orders/blob.h"

struct web_metrics web_stats;

static void web_count(unsigned status)
{
	unsigned cls = status / 100;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add(&web_stats.requests[cls], 1);
}

/* detail with every http:// or https:// URL replaced; 1 when something was replaced. */
static int web_redact_urls(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	int changed = 0;
	for (const char *p = in; *p && o + 1 < cap;) {
		if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0) {
			const char *rep = "(an address in the appliance log)";
			size_t n = strlen(rep);
			if (o + n + 1 >= cap)
				break;
			memcpy(out + o, rep, n);
			o += n;
			while (*p && *p != ' ' && *p != ',' && *p != ';' && *p != ')' && *p != '\'')
				p++;
			changed = 1;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = 0;
	return changed;
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
	if (r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"click2sign\"");
	if (status == 405 && r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (status == 503 || status == 429) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", r->retry_after ? r->retry_after : 5);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (r->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
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
	char *text = c2s_json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return web_send(r, status, "application/json", text);
}

enum MHD_Result web_problem_ex(struct web_req *r, unsigned status, const char *type,
                               const char *title, const char *detail, json_t *extra)
{
	char uri[256], clean[1024];
	snprintf(uri, sizeof(uri), WEB_PROBLEM_BASE "%s", type);
	/* the appliance's own addresses (TSA, CRL distribution points) stay in the log */
	if (status >= 500 && detail && web_redact_urls(detail, clean, sizeof(clean)))
		detail = clean;
	json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", uri, "title", title, "status",
	                      (int)status, "detail", detail ? detail : title);
	if (!p) /* a detail that is not UTF-8 must not cost the client its answer */
		p = json_pack("{s:s, s:s, s:i, s:s}", "type", uri, "title", title, "status",
		              (int)status, "detail", title);
	if (!p) {
		json_decref(extra);
		return MHD_NO;
	}
	if (extra) {
		json_object_update(p, extra);
		json_decref(extra);
	}
	char *text = c2s_json_dumps(p, JSON_COMPACT);
	json_decref(p);
	return web_send(r, status, "application/problem+json", text);
}

enum MHD_Result web_problem(struct web_req *r, c2s_err e, const char *detail)
{
	return web_problem_ex(r, (unsigned)c2s_err_http_status(e), c2s_err_problem_type(e),
	                      c2s_err_message(e), detail && detail[0] ? detail : c2s_err_message(e),
	                      json_pack("{s:s}", "code", c2s_err_name(e)));
}

/* Every HTML page: no script but our own file, no framing, no referrer, HTTPS only. */
static void web_page_headers(struct MHD_Response *resp, const char *cookie, int frameable)
{
	/* only a document may be shown inside our own page (the PDF beside the list) */
	MHD_add_response_header(resp, "Content-Security-Policy",
	                        frameable ? "default-src 'none'; frame-ancestors 'self'"
	                                  : "default-src 'none'; style-src 'self'; img-src 'self'; "
	                                    "script-src 'self'; frame-src 'self'; object-src "
	                                    "'self'; form-action 'self'; base-uri 'none'; "
	                                    "frame-ancestors 'none'");
	MHD_add_response_header(resp, "X-Frame-Options", frameable ? "SAMEORIGIN" : "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* one Set-Cookie header per line of `cookie` */
	for (const char *c = cookie; c && *c;) {
		const char *nl = strchr(c, '\n');
		size_t n = nl ? (size_t)(nl - c) : strlen(c);
		char one[400];
		if (n && n < sizeof(one)) {
			memcpy(one, c, n);
			one[n] = 0;
			MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, one);
		}
		c += n + (nl ? 1 : 0);
	}
}

enum MHD_Result web_html(struct web_req *r, unsigned status, char *html, const char *cookie)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	if (!html)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(html), html, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(html);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	web_page_headers(resp, cookie, 0);
	if (status == 429) {
		char ra[16];
		snprintf(ra, sizeof(ra), "%u", r->retry_after ? r->retry_after : 5);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	web_count(status);
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int web_form_field(const struct buf *body, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), i = 0;
	const char *s = (const char *)body->data;
	while (i < body->len) {
		size_t end = i;
		while (end < body->len && s[end] != '&')
			end++;
		if (end - i > nl && memcmp(s + i, name, nl) == 0 && s[i + nl] == '=') {
			size_t o = 0;
			for (size_t j = i + nl + 1; j < end && o + 1 < cap; j++) {
				char c = s[j];
				if (c == '+')
					c = ' ';
				else if (c == '%' && j + 2 < end &&
				         isxdigit((unsigned char)s[j + 1]) &&
				         isxdigit((unsigned char)s[j + 2])) {
					char h[3] = {s[j + 1], s[j + 2], 0};
					c = (char)strtol(h, NULL, 16);
					j += 2;
				}
				out[o++] = c;
			}
			out[o] = 0;
			return 1;
		}
		i = end + 1;
	}
	out[0] = 0;
	return 0;
}

void web_esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		c2s_err e;
		switch (*s) {
		case '<':
			e = buf_printf(b, "&lt;");
			break;
		case '>':
			e = buf_printf(b, "&gt;");
			break;
		case '&':
			e = buf_printf(b, "&amp;");
			break;
		case '"':
			e = buf_printf(b, "&quot;");
			break;
		case '\'':
			e = buf_printf(b, "&#39;");
			break;
		default:
			e = buf_put(b, s, 1);
		}
		(void)e; /* a full buffer shows as a cut page, never as an overrun */
	}
}

enum MHD_Result web_redirect(struct web_req *r, const char *location, const char *cookie)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	web_page_headers(resp, cookie, 0);
	web_count(303);
	ret = MHD_queue_response(r->conn, 303, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct web_file {
	int fd;
};

static ssize_t web_file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct web_file *f = cls;
	ssize_t n = pread(f->fd, buf, max, (off_t)pos);
	return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void web_file_free(void *cls)
{
	struct web_file *f = cls;
	close(f->fd);
	free(f);
}

enum MHD_Result web_blob(struct web_req *r, const uint8_t sha[32], const char *filename,
                         int inline_)
{
	char path[BLOB_PATH_MAX], disp[400];
	struct stat st;
	struct web_file *f = calloc(1, sizeof(*f));
	if (!f || blob_path(r->ctx->cfg->state_dir, sha, path, sizeof(path)) != C2S_OK ||
	    (f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &st) != 0) {
		if (f && f->fd > 0)
			close(f->fd);
		free(f);
		return web_problem(r, C2S_ERR_NOT_FOUND,
		                   "the document's bytes are not in the store");
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(
	    (uint64_t)st.st_size, 64 * 1024, web_file_read, f, web_file_free);
	if (!resp) {
		web_file_free(f);
		return MHD_NO;
	}
	/* ASCII-only fallback name; the title is on the page */
	char safe[200];
	size_t j = 0;
	for (size_t i = 0; filename[i] && j + 1 < sizeof(safe); i++) {
		unsigned char c = (unsigned char)filename[i];
		safe[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '_';
	}
	safe[j] = 0;
	snprintf(disp, sizeof(disp), "%s; filename=\"%s\"", inline_ ? "inline" : "attachment",
	         safe);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/pdf");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	web_page_headers(resp, NULL, inline_);
	web_count(200);
	enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
