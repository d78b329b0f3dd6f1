/* The portal's order API: POST /v1/orders, GET /v1/orders/{id}, POST /v1/orders/{id}/cancel,
 * GET /v1/orders/{id}/documents/{n}. Every refusal names the JSON path and what to do; nothing
 * is written (no row, no file that matters, no notice) unless the whole order is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khclient.h"
#include "web.h"
#include "firmware/base/b64.h"
#include "firmware/base/clock.h"
#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "firmware/base/sha256.h"
#include "firmware/certs/jws.h"
#include "firmware/orders/blob.h"
#include "firmware/orders/identity.h"
#include "firmware/orders/orders.h"
#include "firmware/pades/pades.h"
#include "firmware/pades/pdf.h"

#define API_MAX_DOCS WEB_ORDER_MAX_DOCS
#define API_MAX_ATTS WEB_ORDER_MAX_ATTS

/* 400 invalid-request naming the JSON path; always 0 (refused). */
static int api_bad(struct web_refusal *why, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int api_bad(struct web_refusal *why, const char *path, const char *fmt, ...)
{
	char what[480];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	*why = (struct web_refusal){.status = 400, .title = "Invalid request"};
	snprintf(why->path, sizeof(why->path), "%s", path);
	snprintf(why->detail, sizeof(why->detail), "%s: %s", path, what);
	return 0;
}

/* 413 too-large for a document over [web] pdf_max; always 0. */
static int api_too_large(struct web_refusal *why, const char *path, const char *detail,
                         size_t limit)
{
	*why = (struct web_refusal){.status = 413, .title = "Document too large", .limit = limit};
	snprintf(why->path, sizeof(why->path), "%s", path);
	snprintf(why->detail, sizeof(why->detail), "%s", detail);
	return 0;
}

static enum MHD_Result api_refuse(struct web_req *r, const struct web_refusal *why)
{
	if (why->status == 0)
		return web_problem(r, why->e, NULL);
	if (why->status == 413)
		return web_problem_ex(r, 413, "too-large", why->title, why->detail,
		                      json_pack("{s:s, s:I}", "path", why->path, "limit_bytes",
		                                (json_int_t)why->limit));
	return web_problem_ex(r, why->status, "invalid-request", why->title, why->detail,
	                      json_pack("{s:s}", "path", why->path));
}

/* A string member: present (unless optional), a string, 1..max bytes, no control characters. */
static int api_str(json_t *o, const char *key, size_t max, int optional, const char **out,
                   char *path, size_t pcap, const char *base, char *why, size_t wcap)
{
	json_t *v = json_object_get(o, key);
	snprintf(path, pcap, "%s.%s", base, key);
	*out = NULL;
	if (!v) {
		if (optional)
			return 1;
		snprintf(why, wcap, "is required");
		return 0;
	}
	if (!json_is_string(v)) {
		snprintf(why, wcap, "must be a string");
		return 0;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > max) {
		snprintf(why, wcap, "must be 1 to %zu bytes (is %zu)", max, n);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(why, wcap, "contains a control character at byte %zu", i);
			return 0;
		}
	*out = s;
	return 1;
}

static int api_only_keys(json_t *o, const char *const *allowed, const char **bad)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(k, allowed[i]) == 0;
		if (!ok) {
			*bad = k;
			return 0;
		}
	}
	return 1;
}

static int api_email_ok(const char *e)
{
	const char *at = strchr(e, '@');
	if (!at || at == e || strchr(at + 1, '@') || !at[1] || !strchr(at + 1, '.'))
		return 0;
	for (const char *p = e; *p; p++)
		if (*p <= ' ' || *p == '<' || *p == '>' || *p == ',' || *p == ';' || *p == '"')
			return 0;
	return strlen(e) <= 254;
}

static int api_phone_ok(const char *p)
{
	size_t n = strlen(p);
	if (n < 9 || n > 16 || p[0] != '+' || p[1] < '1' || p[1] > '9')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

void web_order_body_free(struct web_order_body *o)
{
	for (size_t i = 0; i < o->ndocs; i++)
		free(o->docs[i].data);
	for (size_t i = 0; i < o->natts; i++)
		free(o->atts[i].data);
	json_decref(o->root);
	memset(o, 0, sizeof(*o));
}

/* documents / attachments: [{title, filename, content_base64}] decoded and hashed. */
static int api_files(json_t *arr, const char *name, size_t min, size_t max, size_t limit,
                     struct web_order_file *out, size_t *n, size_t *total, struct web_refusal *r)
{
	static const char *const keys[] = {"title", "filename", "content_base64", NULL};
	char path[96], why[200];
	const char *k;
	if (!arr && min == 0)
		return 1;
	if (!json_is_array(arr))
		return api_bad(r, name, "must be an array of {title, filename, content_base64}");
	if (json_array_size(arr) < min || json_array_size(arr) > max)
		return api_bad(r, name, "must hold %zu to %zu entries (holds %zu)", min, max,
		               json_array_size(arr));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *f = json_array_get(arr, i);
		char base[48];
		const char *b64;
		snprintf(base, sizeof(base), "%s[%zu]", name, i);
		if (!json_is_object(f))
			return api_bad(r, base, "must be an object");
		if (!api_only_keys(f, keys, &k)) {
			snprintf(path, sizeof(path), "%s.%s", base, k);
			return api_bad(r, path, "unknown field");
		}
		struct web_order_file *af = &out[*n];
		if (!api_str(f, "title", 200, 0, &af->title, path, sizeof(path), base, why,
		             sizeof(why)) ||
		    !api_str(f, "filename", 200, 0, &af->filename, path, sizeof(path), base, why,
		             sizeof(why)) ||
		    !api_str(f, "content_base64", (size_t)1 << 30, 0, &b64, path, sizeof(path),
		             base, why, sizeof(why)))
			return api_bad(r, path, "%s", why);
		if (strchr(af->filename, '/') || strchr(af->filename, '\\'))
			return api_bad(r, path, "a file name without a directory");
		size_t blen = strlen(b64), dlen = 0;
		if (blen / 4 * 3 > limit + 3) {
			snprintf(path, sizeof(path), "%s.content_base64", base);
			return api_too_large(r, path, path, limit);
		}
		af->data = malloc(blen / 4 * 3 + 3);
		if (!af->data) {
			*r = (struct web_refusal){.e = C2S_ERR_NOMEM};
			return 0;
		}
		(*n)++;
		if (b64_decode(af->data, blen / 4 * 3 + 3, &dlen, b64, blen) != 0 || dlen == 0) {
			snprintf(path, sizeof(path), "%s.content_base64", base);
			return api_bad(r, path, "not valid base64 (RFC 4648, with padding)");
		}
		if (dlen > limit) {
			char d[200];
			snprintf(d, sizeof(d),
			         "%s.content_base64: %zu bytes, over the limit of %zu", base, dlen,
			         limit);
			return api_too_large(r, base, d, limit);
		}
		af->len = dlen;
		*total += dlen;
		c2s_sha256_oneshot(af->data, dlen, af->sha);
		for (int j = 0; j < 32; j++)
			snprintf(af->hex + 2 * j, 3, "%02x", af->sha[j]);
	}
	return 1;
}

int web_order_parse(const uint8_t *body, size_t len, size_t pdf_max, struct web_order_body *o,
                    struct web_refusal *r)
{
	static const char *const top[] = {"reference",  "locale",           "subscriber",
	                                  "account",    "documents",        "attachments",
	                                  "expires_in", "portal_signature", NULL};
	static const char *const sub[] = {"given_name", "family_name", "email", "phone", NULL};
	static const char *const acc[] = {"id", "given_name", "family_name", NULL};
	char path[96], why[200];
	const char *k;
	json_error_t je;
	memset(o, 0, sizeof(*o));
	json_t *root = NULL;
	if (c2s_json_parse(body, len, JSON_REJECT_DUPLICATES, &root, &je) == C2S_ERR_NOMEM) {
		*r = (struct web_refusal){.e = C2S_ERR_NOMEM};
		return 0;
	}
	o->root = root;
	if (!root) {
		*r = (struct web_refusal){.status = 400, .title = "Invalid JSON"};
		snprintf(r->path, sizeof(r->path), "$");
		snprintf(r->detail, sizeof(r->detail),
		         "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
		         je.column);
		return 0;
	}
	if (!json_is_object(root))
		return api_bad(r, "$", "the body must be a JSON object");
	if (!api_only_keys(root, top, &k)) {
		snprintf(path, sizeof(path), "$.%s", k);
		return api_bad(r, path, "unknown field");
	}
	if (!api_str(root, "reference", 128, 0, &o->reference, path, sizeof(path), "$", why,
	             sizeof(why)) ||
	    !api_str(root, "locale", 2, 1, &o->locale, path, sizeof(path), "$", why, sizeof(why)) ||
	    !api_str(root, "portal_signature", JWS_MAX_LEN, 1, &o->jws, path, sizeof(path), "$",
	             why, sizeof(why)))
		return api_bad(r, path, "%s", why);
	if (o->locale && strcmp(o->locale, "sl") != 0 && strcmp(o->locale, "en") != 0)
		return api_bad(r, "$.locale", "must be \"sl\" or \"en\"");
	json_t *ex = json_object_get(root, "expires_in");
	if (ex && (!json_is_integer(ex) || json_integer_value(ex) < ORDER_EXPIRES_MIN ||
	           json_integer_value(ex) > ORDER_EXPIRES_MAX))
		return api_bad(r, "$.expires_in", "must be an integer from %d to %d seconds",
		               ORDER_EXPIRES_MIN, ORDER_EXPIRES_MAX);
	o->expires_in = ex ? json_integer_value(ex) : ORDER_EXPIRES_DEFAULT;
	json_t *so = json_object_get(root, "subscriber"), *ao = json_object_get(root, "account");
	if (!json_is_object(so))
		return api_bad(r, "$.subscriber",
		               "is required: an object with given_name, "
		               "family_name, email and phone");
	if (!api_only_keys(so, sub, &k)) {
		snprintf(path, sizeof(path), "$.subscriber.%s", k);
		return api_bad(r, path, "unknown field");
	}
	const char *given, *family, *email, *phone;
	if (!api_str(so, "given_name", 128, 0, &given, path, sizeof(path), "$.subscriber", why,
	             sizeof(why)) ||
	    !api_str(so, "family_name", 128, 0, &family, path, sizeof(path), "$.subscriber", why,
	             sizeof(why)) ||
	    !api_str(so, "email", 254, 0, &email, path, sizeof(path), "$.subscriber", why,
	             sizeof(why)) ||
	    !api_str(so, "phone", 16, 0, &phone, path, sizeof(path), "$.subscriber", why,
	             sizeof(why)))
		return api_bad(r, path, "%s", why);
	if (!api_email_ok(email))
		return api_bad(r, "$.subscriber.email", "not an e-mail address");
	if (!api_phone_ok(phone))
		return api_bad(r, "$.subscriber.phone", "an E.164 number such as +38641123456");
	snprintf(o->sub.given_name, sizeof(o->sub.given_name), "%s", given);
	snprintf(o->sub.family_name, sizeof(o->sub.family_name), "%s", family);
	snprintf(o->sub.email, sizeof(o->sub.email), "%s", email);
	snprintf(o->sub.phone, sizeof(o->sub.phone), "%s", phone);
	if (!json_is_object(ao))
		return api_bad(r, "$.account",
		               "is required: an object with id, given_name and "
		               "family_name as registered on the portal");
	if (!api_only_keys(ao, acc, &k)) {
		snprintf(path, sizeof(path), "$.account.%s", k);
		return api_bad(r, path, "unknown field");
	}
	if (!api_str(ao, "id", 128, 0, &o->acc_id, path, sizeof(path), "$.account", why,
	             sizeof(why)) ||
	    !api_str(ao, "given_name", 128, 0, &o->acc_given, path, sizeof(path), "$.account", why,
	             sizeof(why)) ||
	    !api_str(ao, "family_name", 128, 0, &o->acc_family, path, sizeof(path), "$.account",
	             why, sizeof(why)))
		return api_bad(r, path, "%s", why);
	o->account = ao;
	size_t total = 0;
	return api_files(json_object_get(root, "documents"), "$.documents", 1, API_MAX_DOCS,
	                 pdf_max, o->docs, &o->ndocs, &total, r) &&
	       api_files(json_object_get(root, "attachments"), "$.attachments", 0, API_MAX_ATTS,
	                 pdf_max, o->atts, &o->natts, &total, r);
}

/* The portal's signed claims must say what the body says. */
static enum MHD_Result api_claims_match(struct web_req *r, const struct web_order_body *o, int *bad)
{
	char why[300] = "";
	json_t *c = NULL;
	const char *claim = NULL;
	enum MHD_Result m = MHD_YES;
	*bad = 1;
	if (jws_peek_claims(o->jws, strlen(o->jws), &c, why, sizeof(why)) != C2S_OK) {
		m = web_problem_ex(r, 422, "portal-signature", "Portal signature refused", why,
		                   json_pack("{s:s}", "claim", "(token)"));
		goto out;
	}
	json_t *sg = json_object_get(c, "signer"), *docs = json_object_get(c, "documents");
	const char *ref = json_string_value(json_object_get(c, "reference"));
	if (!ref || strcmp(ref, o->reference) != 0)
		claim = "reference";
	else if (!json_is_object(sg))
		claim = "signer";
	else if (!json_string_value(json_object_get(sg, "given_name")) ||
	         strcmp(json_string_value(json_object_get(sg, "given_name")), o->sub.given_name))
		claim = "signer.given_name";
	else if (!json_string_value(json_object_get(sg, "family_name")) ||
	         strcmp(json_string_value(json_object_get(sg, "family_name")), o->sub.family_name))
		claim = "signer.family_name";
	else if (!json_string_value(json_object_get(sg, "email")) ||
	         strcmp(json_string_value(json_object_get(sg, "email")), o->sub.email))
		claim = "signer.email";
	else if (!json_string_value(json_object_get(sg, "phone")) ||
	         strcmp(json_string_value(json_object_get(sg, "phone")), o->sub.phone))
		claim = "signer.phone";
	else if (!json_is_array(docs) || json_array_size(docs) != o->ndocs)
		claim = "documents";
	for (size_t i = 0; !claim && i < o->ndocs; i++) {
		const char *h = json_string_value(json_array_get(docs, i));
		if (!h || strcmp(h, o->docs[i].hex) != 0)
			claim = "documents";
	}
	if (claim) {
		char d[300];
		snprintf(d, sizeof(d),
		         "the portal's signed claim %s differs from the request; sign exactly what "
		         "you send",
		         claim);
		m = web_problem_ex(r, 422, "portal-signature", "Portal signature does not match", d,
		                   json_pack("{s:s}", "claim", claim));
		goto out;
	}
	*bad = 0;
out:
	json_decref(c);
	return m;
}

/* Identity: the contract's subscriber and the portal account must be the same person. */
static enum MHD_Result api_identity(struct web_req *r, const struct web_order_body *o, int *bad)
{
	struct identity_name con = {o->sub.given_name, strlen(o->sub.given_name),
	                            o->sub.family_name, strlen(o->sub.family_name)};
	struct identity_name acc = {o->acc_given, strlen(o->acc_given), o->acc_family,
	                            strlen(o->acc_family)};
	struct identity_result res;
	char why[300] = "", detail[IDENTITY_DESCRIBE_MAX];
	*bad = 1;
	if (identity_match(&con, &acc, &res, why, sizeof(why)) != C2S_OK) {
		struct web_refusal rf;
		api_bad(&rf, res.invalid ? res.invalid : "$", "%s", why);
		return api_refuse(r, &rf);
	}
	if (res.match) {
		*bad = 0;
		return MHD_YES;
	}
	json_t *mm = json_array();
	for (size_t i = 0; i < res.n; i++)
		json_array_append_new(mm, json_pack("{s:s, s:s, s:s, s:b}", "field",
		                                    res.mismatches[i].field, "contract",
		                                    res.mismatches[i].contract, "account",
		                                    res.mismatches[i].account, "diacritics_only",
		                                    res.mismatches[i].diacritics_only));
	if (identity_describe(&res, o->locale ? o->locale : "en", detail, sizeof(detail)) != C2S_OK)
		snprintf(detail, sizeof(detail), "%s", c2s_err_message(C2S_ERR_IDENTITY));
	size_t n = strlen(detail);
	snprintf(detail + n, sizeof(detail) - n,
	         "; correct the contract or the portal account and "
	         "create the order again");
	return web_problem_ex(r, 422, "identity-mismatch", "Names do not match", detail,
	                      json_pack("{s:o}", "mismatches", mm));
}

/* [pades] repair with orders the portal does not sign: a damaged document is rewritten
 * once, now, and the order keeps the repaired bytes (their hash goes into the manifest the
 * web hands the keyholder), so the customer sees and signs the repaired file. */
static c2s_err api_repair_in_place(struct web_req *r, struct web_order_file *f, size_t i, char *why,
                                   size_t why_cap)
{
	const struct config *cfg = r->ctx->cfg;
	struct buf out;
	char what[160];
	struct pdf_probe_limits lim = {.mem = cfg->pdf_parse_mem, .cpu_s = cfg->pdf_parse_cpu};
	c2s_err e = pdf_probe(f->data, f->len, cfg->pdf_max, 1, &lim, why, why_cap);
	if (e != C2S_OK)
		return e;
	e = pdf_repair(f->data, f->len, cfg->pdf_max, &out, what, sizeof(what), why, why_cap);
	if (e != C2S_OK)
		return e;
	if (!out.len)
		return C2S_ERR_PDF_DAMAGED; /* sound for qpdf after all: the first refusal stands */
	log_info("client %s: document %zu repaired (%zu -> %zu bytes): %s", r->client, i, f->len,
	         out.len, what);
	free(f->data);
	f->data = out.data;
	f->len = out.len;
	c2s_sha256_oneshot(f->data, f->len, f->sha);
	for (int k = 0; k < 32; k++)
		snprintf(f->hex + 2 * k, 3, "%02x", f->sha[k]);
	return C2S_OK;
}

/* Every document must be signable now, not when the customer clicks. */
static enum MHD_Result api_documents_signable(struct web_req *r, struct web_order_body *o, int *bad)
{
	const struct config *cfg = r->ctx->cfg;
	size_t repaired = (size_t)-1; /* once per document */
	*bad = 1;
	for (size_t i = 0; i < o->ndocs; i++) {
		struct pdf_sig_params p = {.name = "check",
		                           .when = 1,
		                           .contents_max = PADES_REMOTE_BUDGET + PADES_TST_BUDGET,
		                           .no_page_annot = 1};
		struct pdf_prepared pp;
		char why[512] = "", path[40];
		struct pdf_probe_limits lim = {.mem = cfg->pdf_parse_mem,
		                               .cpu_s = cfg->pdf_parse_cpu};
		c2s_err e = pdf_probe(o->docs[i].data, o->docs[i].len, cfg->pdf_max, 0, &lim, why,
		                      sizeof(why));
		memset(&pp, 0, sizeof(pp));
		if (e == C2S_OK)
			e = pdf_prepare(o->docs[i].data, o->docs[i].len, cfg->pdf_max, &p, &pp, why,
			                sizeof(why));
		if (e == C2S_OK && pp.notes[0])
			log_info("client %s: document %zu accepted as it is: %s", r->client, i,
			         pp.notes);
		pdf_prepared_free(&pp);
		if (e == C2S_ERR_PDF_DAMAGED && cfg->pdf_repair && !cfg->portal_signature &&
		    repaired != i) {
			char rwhy[300] = "";
			if (api_repair_in_place(r, &o->docs[i], i, rwhy, sizeof(rwhy)) == C2S_OK) {
				repaired = i--; /* the repaired file is checked like any other */
				continue;
			}
		}
		if (e != C2S_OK) {
			char d[900];
			snprintf(path, sizeof(path), "$.documents[%zu]", i);
			snprintf(
			    d, sizeof(d), "%s: %s%s", path, why[0] ? why : c2s_err_message(e),
			    e == C2S_ERR_PDF_DAMAGED && cfg->pdf_repair
			        ? "; this appliance repairs documents: POST the file to "
			          "/v1/documents/repair and send the repaired one (its hash in "
			          "the signed manifest)"
			        : "");
			return web_problem_ex(
			    r, 422, "invalid-document", "Document cannot be signed", d,
			    json_pack("{s:s, s:i}", "path", path, "index", (int)i));
		}
	}
	*bad = 0;
	return MHD_YES;
}

static json_t *api_unsigned_manifest(const struct web_order_body *o)
{
	json_t *docs = json_array();
	for (size_t i = 0; i < o->ndocs; i++)
		json_array_append_new(docs, json_string(o->docs[i].hex));
	return json_pack("{s:s, s:{s:s, s:s, s:s, s:s}, s:o}", "reference", o->reference, "signer",
	                 "given_name", o->sub.given_name, "family_name", o->sub.family_name,
	                 "email", o->sub.email, "phone", o->sub.phone, "documents", docs);
}

static enum MHD_Result api_order_reply(struct web_req *r, unsigned status, const char *id,
                                       const char *token)
{
	json_t *doc = NULL;
	char loc[160], url[700];
	if (order_json(r->ctx->store, id, &doc) != C2S_OK || !doc)
		return web_problem(r, C2S_ERR_STORE, NULL);
	if (token) {
		snprintf(url, sizeof(url), "%s/s/%s", r->ctx->cfg->public_url, token);
		json_object_set_new(doc, "signing_url", json_string(url));
	}
	snprintf(loc, sizeof(loc), "/v1/orders/%s", id);
	r->location = loc;
	return web_json(r, status, doc);
}

enum MHD_Result web_order_create(struct web_req *r)
{
	const struct config *cfg = r->ctx->cfg;
	struct web_order_body o;
	struct web_refusal refusal;
	char why[512] = "", id[ORDER_ID_MAX], token[ORDER_LINK_TOKEN_LEN + 1];
	uint8_t body_sha[32], link_sha[32];
	enum MHD_Result m;
	int bad = 0, existed = 0;
	int64_t now = clock_now();
	struct order_info info;
	memset(&o, 0, sizeof(o));
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct || strncmp(ct, "application/json", 16) != 0)
		return web_problem(r, C2S_ERR_HTTP_MEDIA_TYPE,
		                   "send the order as Content-Type: application/json");
	if (!web_order_parse(r->body.data, r->body.len, cfg->pdf_max, &o, &refusal)) {
		m = api_refuse(r, &refusal);
		goto out;
	}
	if (!o.jws && cfg->portal_signature) {
		m = web_problem_ex(r, 422, "portal-signature", "Portal signature missing",
		                   "$.portal_signature is required: the portal's compact JWS over "
		                   "the order (see the API documentation)",
		                   json_pack("{s:s}", "claim", "(missing)"));
		goto out;
	}
	if (o.jws && cfg->portal_signature && (m = api_claims_match(r, &o, &bad), bad))
		goto out;
	if ((m = api_identity(r, &o, &bad), bad))
		goto out;
	c2s_sha256_oneshot(r->body.data, r->body.len, body_sha);
	if (order_id_derive(r->client, o.reference, id, sizeof(id)) != C2S_OK) {
		m = web_problem(r, C2S_ERR_INTERNAL, NULL);
		goto out;
	}
	/* the same reference again: the existing order, or a conflict; nothing else happens */
	if (order_get(r->ctx->store, id, &info) == C2S_OK) {
		if (memcmp(info.body_sha256, body_sha, 32) == 0)
			m = api_order_reply(r, 200, id, NULL);
		else
			m = web_problem(r, C2S_ERR_CONFLICT, NULL);
		goto out;
	}
	if ((m = api_documents_signable(r, &o, &bad), bad))
		goto out;
	/* the keyholder verifies the portal's signature itself and keeps the manifest */
	c2s_err e;
	if (cfg->portal_signature) {
		e = khc_manifest(id, o.jws, strlen(o.jws), (uint32_t)o.expires_in, why,
		                 sizeof(why));
	} else {
		json_t *um = api_unsigned_manifest(&o);
		char *txt = c2s_json_dumps(um, JSON_COMPACT);
		json_decref(um);
		e = txt ? khc_manifest(id, txt, strlen(txt), (uint32_t)o.expires_in, why,
		                       sizeof(why))
		        : C2S_ERR_NOMEM;
		free(txt);
	}
	if (e == C2S_ERR_MANIFEST || e == C2S_ERR_MANIFEST_EXPIRED ||
	    e == C2S_ERR_MANIFEST_REPLAY) {
		m = web_problem_ex(r, 422, "portal-signature", "Portal signature refused", why,
		                   json_pack("{s:s}", "code", c2s_err_name(e)));
		goto out;
	}
	if (e != C2S_OK) {
		m = web_problem(r, e, why);
		goto out;
	}
	struct order_file_new docs[API_MAX_DOCS], atts[API_MAX_ATTS];
	for (size_t i = 0; i < o.ndocs + o.natts; i++) {
		struct web_order_file *f = i < o.ndocs ? &o.docs[i] : &o.atts[i - o.ndocs];
		struct order_file_new *nf = i < o.ndocs ? &docs[i] : &atts[i - o.ndocs];
		if ((e = blob_put_hashed(cfg->state_dir, f->data, f->len, f->sha)) != C2S_OK) {
			m = web_problem(r, e, "the document could not be stored; retry");
			goto out;
		}
		*nf = (struct order_file_new){
		    .title = f->title, .filename = f->filename, .size = f->len};
		memcpy(nf->sha256, f->sha, 32);
	}
	if ((e = order_link_new(token, sizeof(token), link_sha)) != C2S_OK) {
		m = web_problem(r, e, NULL);
		goto out;
	}
	struct order_new on = {.id = id,
	                       .client = r->client,
	                       .reference = o.reference,
	                       .locale = o.locale,
	                       .subscriber = o.sub,
	                       .account = o.account,
	                       .manifest = o.jws,
	                       .documents = docs,
	                       .n_documents = o.ndocs,
	                       .attachments = atts,
	                       .n_attachments = o.natts,
	                       .link_token = token,
	                       .public_url = cfg->public_url,
	                       .expires_in = o.expires_in};
	memcpy(on.body_sha256, body_sha, 32);
	e = order_create(r->ctx->store, &on, now, &info, &existed, why, sizeof(why));
	if (e != C2S_OK) {
		m = web_problem(r, e, why);
		goto out;
	}
	log_info("order %s created for client %s (%zu documents, %zu attachments)", id, r->client,
	         o.ndocs, o.natts);
	m = api_order_reply(r, existed ? 200 : 201, id, existed ? NULL : token);
out:
	explicit_bzero(token, sizeof(token));
	web_order_body_free(&o);
	return m;
}

/* The order of this API client, or a 404 that does not say whether it exists elsewhere. */
static int api_own_order(struct web_req *r, struct order_info *info)
{
	return order_get(r->ctx->store, r->param[0], info) == C2S_OK &&
	       strcmp(info->client, r->client) == 0;
}

enum MHD_Result web_order_get(struct web_req *r)
{
	struct order_info info;
	if (!api_own_order(r, &info))
		return web_problem_ex(r, 404, "not-found", "No such order",
		                      "no order with this id for this API client", NULL);
	return api_order_reply(r, 200, info.id, NULL);
}

enum MHD_Result web_order_cancel(struct web_req *r)
{
	struct order_info info;
	char why[256];
	if (!api_own_order(r, &info))
		return web_problem_ex(r, 404, "not-found", "No such order",
		                      "no order with this id for this API client", NULL);
	c2s_err e = order_cancel(r->ctx->store, info.id, clock_now());
	if (e != C2S_OK)
		return web_problem(
		    r, e,
		    e == C2S_ERR_ORDER_CLOSED ? "the order is already signed or expired" : NULL);
	if (khc_order_end(info.id, 3, why, sizeof(why)) != C2S_OK)
		log_warn("order %s cancelled; the keyholder was not told yet: %s", info.id, why);
	log_info("order %s cancelled by client %s", info.id, r->client);
	return api_order_reply(r, 200, info.id, NULL);
}

enum MHD_Result web_order_document(struct web_req *r)
{
	struct order_info info;
	char *end;
	if (!api_own_order(r, &info))
		return web_problem_ex(r, 404, "not-found", "No such order",
		                      "no order with this id for this API client", NULL);
	unsigned long n = strtoul(r->param[1], &end, 10);
	if (*end || r->param[1][0] < '0' || r->param[1][0] > '9' || n >= info.n_documents)
		return web_problem_ex(r, 404, "not-found", "No such document",
		                      "documents are numbered from 0", NULL);
	const struct order_doc *d = &info.docs[n];
	return web_blob(r, d->is_signed ? d->signed_sha256 : d->sha256, d->filename, 0);
}
