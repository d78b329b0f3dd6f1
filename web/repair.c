/* POST /v1/documents/repair ([pades] repair = yes): a damaged, unsigned PDF rewritten whole
 * (pdf_repair), for the portal to put in its signed manifest and its order instead of the
 * file as it was. The appliance never swaps a document the portal signed for: the customer
 * signs exactly the bytes whose hash the portal named. */
#include <stdlib.h>
#include <string.h>

#include "web.h"
#include "firmware/base/log.h"
#include "firmware/pades/pdf.h"

static enum MHD_Result repaired(struct web_req *r, uint8_t *data, size_t len, const char *what)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, data, free);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/pdf");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	/* the damage is from the file; header-safe (printable ASCII) as qpdf words it, and
	 * masked here all the same */
	char h[200];
	size_t i = 0;
	for (; what[i] && i + 1 < sizeof(h); i++)
		h[i] = (what[i] >= 0x20 && what[i] < 0x7f) ? what[i] : '?';
	h[i] = 0;
	MHD_add_response_header(resp, "X-Click2Sign-Repaired", h[0] ? h : "none");
	atomic_fetch_add(&web_stats.requests[2], 1);
	enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result web_document_repair(struct web_req *r)
{
	const struct config *cfg = r->ctx->cfg;
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!cfg->pdf_repair)
		return web_problem_ex(
		    r, 403, "repair-disabled", "Repair is not enabled",
		    "this appliance does not repair documents ([pades] repair = no)", NULL);
	if (!ct || strncmp(ct, "application/pdf", 15) != 0)
		return web_problem(r, C2S_ERR_HTTP_MEDIA_TYPE,
		                   "send the document as Content-Type: application/pdf");
	struct buf out;
	char what[160], why[400];
	struct pdf_probe_limits lim = {.mem = cfg->pdf_parse_mem, .cpu_s = cfg->pdf_parse_cpu};
	buf_init(&out, 0);
	c2s_err e = pdf_probe(r->body.data, r->body.len, cfg->pdf_max, 1, &lim, why, sizeof(why));
	if (e == C2S_OK)
		e = pdf_repair(r->body.data, r->body.len, cfg->pdf_max, &out, what, sizeof(what),
		               why, sizeof(why));
	if (e != C2S_OK) {
		log_info("client %s: repair refused: %s: %s", r->client, c2s_err_name(e), why);
		return web_problem(r, e, why);
	}
	if (!out.len) { /* sound as it is: the same bytes back, "none" */
		uint8_t *same = r->body.data;
		size_t n = r->body.len;
		buf_init(&r->body, 0);
		return repaired(r, same, n, "");
	}
	log_info("client %s: document repaired (%zu -> %zu bytes): %s", r->client, r->body.len,
	         out.len, what);
	uint8_t *data = out.data;
	size_t len = out.len;
	buf_init(&out, 0); /* ownership moves to the response */
	return repaired(r, data, len, what);
}
