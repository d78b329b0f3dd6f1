/* The customer's pages (API.md section 2): start, SMS code, documents ("Seznam dokumentov",
 * "Podpiši"), finish ("Izhod"), and pages for links that ended. Server-rendered, usable without
 * JavaScript, Slovenian by default, English with ?lang=en or Accept-Language. Every form
 * carries the session's CSRF token; every refusal says what happened and what to do next. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "khclient.h"
#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"

struct page {
	struct web_req *r;
	const char *lang; /* "sl" | "en" */
	struct buf b;
	char base[160]; /* /s/<token> */
};

/* With ?lang= in the request: the cookie that keeps the choice, else "". */
static const char *page_lang_cookie(struct web_req *r, char *out, size_t cap)
{
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "lang");
	out[0] = 0;
	if (q && (strcmp(q, "en") == 0 || strcmp(q, "sl") == 0))
		/* per link: the choice made on one order's pages stays there */
		snprintf(
		    out, cap,
		    "c2s_lang=%s; Path=/s/%s; Max-Age=2592000; Secure; HttpOnly; SameSite=Strict",
		    q, r->param[0]);
	return out;
}

#define T(p, sl, en) (strcmp((p)->lang, "en") == 0 ? (en) : (sl))

static const char *page_lang(struct web_req *r, const struct order_info *info)
{
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "lang");
	if (q && (strcmp(q, "en") == 0 || strcmp(q, "sl") == 0))
		return strcmp(q, "en") == 0 ? "en" : "sl";
	/* the customer's choice, kept across pages, forms and redirects */
	const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "c2s_lang");
	if (c && (strcmp(c, "en") == 0 || strcmp(c, "sl") == 0))
		return strcmp(c, "en") == 0 ? "en" : "sl";
	const char *al = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Language");
	if (al) {
		while (*al == ' ')
			al++;
		if (strncasecmp(al, "en", 2) == 0)
			return "en";
		if (strncasecmp(al, "sl", 2) == 0)
			return "sl";
	}
	return info && strcmp(info->locale, "en") == 0 ? "en" : "sl";
}

static void page_esc(struct page *p, const char *s)
{
	web_esc(&p->b, s);
}

static void page_put(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void page_put(struct page *p, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0 && buf_put(&p->b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1))
		return;
}

static void page_begin(struct page *p, struct web_req *r, const struct order_info *info,
                       const char *title_sl, const char *title_en)
{
	p->r = r;
	p->lang = page_lang(r, info);
	const char *title = T(p, title_sl, title_en);
	buf_init(&p->b, 256 * 1024);
	snprintf(p->base, sizeof(p->base), "/s/%s", r->param[0]);
	page_put(p,
	         "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	         "<title>",
	         p->lang);
	page_esc(p, title);
	page_put(p, " – Click2Sign</title><link rel=\"stylesheet\" href=\"/assets/c2s.css\">"
	            "</head><body><header><p class=\"brand\">Click2Sign</p>");
	/* to the link's start page (a GET that leads on to where the customer is); the
	 * certificate listener's pages (the rate-limit page) have no link */
	if (r->cert_listener)
		p->base[0] = 0;
	else {
		/* escaped: before the order is found (the "not valid" and rate-limit pages) the
		 * token is whatever the request's path held, percent-decoded */
		page_put(p, "<nav class=\"lang\" aria-label=\"Jezik / Language\"><a href=\"");
		page_esc(p, p->base);
		page_put(p, "?lang=sl\" lang=\"sl\">Slovenščina</a> <a href=\"");
		page_esc(p, p->base);
		page_put(p, "?lang=en\" lang=\"en\">English</a></nav>");
	}
	page_put(p, "</header><main>");
	page_put(p, "<h1>");
	page_esc(p, title);
	page_put(p, "</h1>");
}

static enum MHD_Result page_end(struct page *p, unsigned status, const char *cookie)
{
	char lc[160] = "", both[600];
	if (p->base[0])
		page_lang_cookie(p->r, lc, sizeof(lc));
	if (lc[0]) {
		snprintf(both, sizeof(both), "%s%s%s", cookie ? cookie : "", cookie ? "\n" : "",
		         lc);
		cookie = both;
	}
	page_put(p, "</main></body></html>\n");
	if (buf_put_u8(&p->b, 0) != C2S_OK) {
		buf_free(&p->b);
		return web_problem(p->r, C2S_ERR_NOMEM, NULL);
	}
	char *html = (char *)p->b.data;
	p->b.data = NULL; /* web_html frees it */
	buf_free(&p->b);
	return web_html(p->r, status, html, cookie);
}

static void page_error(struct page *p, const char *msg)
{
	page_put(p, "<p id=\"error\" class=\"error\" role=\"alert\">");
	page_esc(p, msg);
	page_put(p, "</p>");
}

static void page_mask_name(struct page *p, const struct order_person *s)
{
	/* "Janez N." */
	page_esc(p, s->given_name);
	char initial[8] = "";
	size_t n = 1;
	while (s->family_name[n] && ((unsigned char)s->family_name[n] & 0xc0) == 0x80)
		n++;
	snprintf(initial, sizeof(initial), " %.*s.", (int)n, s->family_name);
	page_esc(p, initial);
}

static void page_mask_phone(struct page *p, const char *phone)
{
	char m[40];
	size_t n = strlen(phone);
	snprintf(m, sizeof(m), "%.4s%.*s%s", phone, n > 6 ? (int)(n - 6) : 0, "************",
	         n > 2 ? phone + n - 2 : "");
	page_esc(p, m);
}

static void page_mask_email(struct page *p, const char *email)
{
	const char *at = strchr(email, '@');
	char m[300];
	if (!at) {
		page_esc(p, "***");
		return;
	}
	snprintf(m, sizeof(m), "%.1s***%s", email, at);
	page_esc(p, m);
}

static void page_time(struct page *p, int64_t t)
{
	char s[32];
	order_time_rfc3339(t, s, sizeof(s));
	s[10] = ' ';
	s[16] = 0; /* "2026-11-30 20:15" */
	page_esc(p, s);
	page_put(p, " UTC");
}

/* The form fields of an x-www-form-urlencoded body: `name`'s value, percent-decoded. */

static void page_hidden_csrf(struct page *p, const struct web_session *s)
{
	page_put(p, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", s->csrf);
}

/* Pages for links that no longer lead to an open order. */
static enum MHD_Result page_link_ended(struct web_req *r, c2s_err e, const struct order_info *info)
{
	struct page p;
	int signed_ = e == C2S_ERR_ORDER_CLOSED;
	unsigned status = e == C2S_ERR_NOT_FOUND ? 404 : signed_ ? 200 : 410;
	page_begin(&p, r, e == C2S_ERR_NOT_FOUND ? NULL : info,
	           e == C2S_ERR_NOT_FOUND ? "Povezava ni veljavna"
	           : signed_              ? "Dokumenti so podpisani"
	                                  : "Povezava ni več veljavna",
	           e == C2S_ERR_NOT_FOUND ? "This link is not valid"
	           : signed_              ? "The documents are signed"
	                                  : "This link is no longer valid");
	if (e == C2S_ERR_NOT_FOUND) {
		page_error(&p, T(&p,
		                 "Te povezave ne poznamo. Preverite, da ste jo iz e-pošte "
		                 "kopirali v celoti, ali pokličite operaterja.",
		                 "We do not know this link. Check that you copied it from the "
		                 "e-mail in full, or call your operator."));
	} else if (signed_) {
		page_put(&p, "<p id=\"confirmation\" role=\"status\">%s</p>",
		         T(&p,
		           "Dokumenti so podpisani. Podpisane dokumente s cenikom in "
		           "splošnimi pogoji smo poslali na vaš e-naslov; naročilo je predano v "
		           "aktivacijo.",
		           "The documents are signed. We sent the signed documents with "
		           "the price list and general terms to your e-mail address; the order has "
		           "been handed over for activation."));
	} else if (info && info->status == ORDER_CANCELLED) {
		page_error(&p, T(&p,
		                 "Naročilo je bilo preklicano, zato ga ni mogoče podpisati. Za "
		                 "več informacij pokličite operaterja.",
		                 "The order was cancelled, so it cannot be signed. Call your "
		                 "operator for details."));
	} else {
		page_put(
		    &p, "<p id=\"error\" class=\"error\" role=\"alert\">%s ",
		    T(&p, "Povezava za podpis je veljala do", "The signing link was valid until"));
		page_time(&p, info ? info->expires_at : 0);
		page_put(
		    &p, " %s</p>",
		    T(&p, "in je potekla. Za podpis na papirju vas bo poklical in obiskal kurir.",
		      "and has expired. A courier will call you and visit you to sign on paper."));
	}
	return page_end(&p, status, NULL);
}

/* An audit event of the customer's step with the evidence a dispute needs: the client's
 * address and browser (bounded), never a secret. */
static c2s_err page_event(struct web_req *r, const char *order, const char *type)
{
	char ip[64] = "";
	struct sockaddr_storage ss; /* behind a trusted proxy: the client it names */
	if (guard_client_addr(r->conn, &ss))
		guard_ip_text((const struct sockaddr *)&ss, ip, sizeof(ip));
	const char *ua = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "User-Agent");
	/* printable ASCII only: a hostile header must not break the JSON or the log's encoding */
	char uab[256];
	size_t n = 0;
	for (const char *u = ua ? ua : ""; *u && n + 1 < sizeof(uab); u++)
		uab[n++] = (*u >= 0x20 && *u < 0x7f) ? *u : '?';
	uab[n] = '\0';
	json_t *d = json_pack("{s:s, s:s}", "client_ip", ip, "user_agent", uab);
	c2s_err e = order_event(r->ctx->store, order, clock_now(), type, d);
	json_decref(d);
	return e;
}

/* The order behind /s/<token>, or the page that says why there is none. */
static int page_order(struct web_req *r, struct order_info *info, enum MHD_Result *m)
{
	uint8_t sha[32];
	order_link_hash(r->param[0], sha);
	c2s_err e = order_by_link(r->ctx->store, sha, clock_now(), info);
	if (e == C2S_OK)
		return 1;
	*m = e == C2S_ERR_NOT_FOUND || e == C2S_ERR_GONE || e == C2S_ERR_ORDER_CLOSED
	         ? page_link_ended(r, e, info)
	         : web_problem(r, e, NULL);
	return 0;
}

static void page_code_form(struct page *p, const struct web_session *s, int show_code_field,
                           int error)
{
	if (show_code_field) {
		page_put(p, "<form method=\"post\" action=\"%s/otp/verify\" class=\"code\">",
		         p->base);
		page_hidden_csrf(p, s);
		page_put(
		    p,
		    "<label for=\"otp-code\">%s</label> <input id=\"otp-code\" name=\"code\" "
		    "type=\"text\" autocomplete=\"one-time-code\" inputmode=\"numeric\" "
		    "maxlength=\"20\" required autofocus%s> "
		    "<p id=\"code-help\" class=\"help\">%s</p>"
		    "<button id=\"otp-submit\" type=\"submit\">%s</button></form>",
		    T(p, "Koda iz SMS-sporočila", "Code from the SMS"),
		    error ? " aria-invalid=\"true\" aria-describedby=\"error code-help\""
		          : " aria-describedby=\"code-help\"",
		    T(p, "Šestmestna koda iz SMS-sporočila.", "The six-digit code from the SMS."),
		    T(p, "Potrdi", "Confirm"));
	}
	page_put(p, "<form method=\"post\" action=\"%s/otp\" class=\"resend\">", p->base);
	page_hidden_csrf(p, s);
	page_put(p, "<button id=\"otp-send\" type=\"submit\"%s>%s</button></form>",
	         show_code_field ? " class=\"secondary\"" : "",
	         show_code_field ? T(p, "Pošlji novo kodo", "Send a new code")
	                         : T(p, "Pošlji potrditveno kodo", "Send the confirmation code"));
}

/* ---- GET /s/{token} ---- */

enum MHD_Result web_page_start(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	struct page p;
	enum MHD_Result m;
	char cookie[200] = "", base[160];
	if (!page_order(r, &info, &m))
		return m;
	snprintf(base, sizeof(base), "/s/%s", r->param[0]);
	if (!web_session_get(r, info.id, &s)) {
		int first = 0;
		if (web_session_new(info.id, base, &s, cookie, sizeof(cookie), &first) != C2S_OK)
			return web_problem(r, C2S_ERR_BUSY, NULL);
		/* once per visit, not per request: a link reloaded in a loop does not grow the log
		 */
		if (first && page_event(r, info.id, "link_opened") != C2S_OK)
			log_warn("order %s: link_opened not recorded", info.id);
	} else if (s.otp_ok) {
		char to[200], lc[160];
		snprintf(to, sizeof(to), "%s/documents", base);
		return web_redirect(r, to, page_lang_cookie(r, lc, sizeof(lc))[0] ? lc : NULL);
	}
	page_begin(&p, r, &info, "Elektronski podpis dokumentov",
	           "Electronic signing of documents");
	page_put(&p, "<p>%s <strong>", T(&p, "Naročilo za", "Order for"));
	page_mask_name(&p, &info.subscriber);
	page_put(&p, "</strong> &mdash; %s ",
	         T(&p, "povezava velja do", "the link is valid until"));
	page_time(&p, info.expires_at);
	page_put(&p, ".</p><p>%s <strong>",
	         T(&p,
	           "Potrditveno kodo vam pošljemo v SMS-sporočilu na "
	           "številko",
	           "We send a confirmation code by SMS to"));
	page_mask_phone(&p, info.subscriber.phone);
	page_put(&p, "</strong>.</p>");
	page_code_form(&p, &s, 0, 0);
	return page_end(&p, 200, cookie[0] ? cookie : NULL);
}

/* A POST from the customer's page: the session of this order and its CSRF token. */
static int page_post_session(struct web_req *r, const struct order_info *info,
                             struct web_session *s, enum MHD_Result *m)
{
	char csrf[64];
	web_form_field(&r->body, "csrf", csrf, sizeof(csrf));
	if (web_session_get(r, info->id, s) && web_csrf_ok(s, csrf))
		return 1;
	/* an old tab, a lost cookie or a forged form: back to the start, which explains */
	char to[200];
	snprintf(to, sizeof(to), "/s/%s", r->param[0]);
	*m = web_redirect(r, to, NULL);
	return 0;
}

/* ---- 429: the rate limits ([web] rate_*) ---- */

static void page_rate_message(struct page *p, enum rl_kind kind, unsigned retry_after)
{
	char msg[400];
	snprintf(msg, sizeof(msg),
	         kind == RL_CODE_ORDER
	             ? T(p,
	                 "Za to naročilo je bilo v kratkem času preveč poskusov s kodo ali zahtev "
	                 "za novo kodo. Počakajte %u s in poskusite znova.",
	                 "There were too many code attempts or requests for a new code for this "
	                 "order in a short time. Wait %u s and try again.")
	             : T(p,
	                 "Z vašega naslova je v kratkem času prišlo preveč zahtev. Počakajte %u s "
	                 "in poskusite znova.",
	                 "Too many requests came from your address in a short time. Wait %u s "
	                 "and try again."),
	         retry_after);
	page_put(p, "<p id=\"error\" class=\"error\" role=\"alert\" data-reason=\"rate-limited\">");
	page_esc(p, msg);
	page_put(p, "</p>");
}

/* The code page again (the field and the re-send form), refused before the keyholder is asked. */
static enum MHD_Result page_code_limited(struct web_req *r, const struct order_info *info,
                                         const struct web_session *s)
{
	struct page p;
	page_begin(&p, r, info, "Potrditvena koda", "Confirmation code");
	page_rate_message(&p, RL_CODE_ORDER, r->retry_after);
	page_code_form(&p, s, 1, 1);
	return page_end(&p, 429, NULL);
}

enum MHD_Result web_page_rate_limited(struct web_req *r, enum rl_kind kind)
{
	const char *acc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
	if (r->cert_listener && acc &&
	    (strstr(acc, "application/json") || strstr(acc, "application/problem+json"))) {
		char d[200];
		snprintf(d, sizeof(d),
		         "requests from this address are over the limit; retry after %u s",
		         r->retry_after);
		return web_problem_ex(r, 429, c2s_err_problem_type(C2S_ERR_RATE_LIMIT),
		                      "Too many requests", d, NULL);
	}
	struct page p;
	page_begin(&p, r, NULL, "Preveč zahtev", "Too many requests");
	page_rate_message(&p, kind, r->retry_after);
	if (p.base[0]) {
		page_put(&p, "<p><a href=\"");
		page_esc(&p, p.base);
		page_put(&p, "\">%s</a></p>", T(&p, "Nazaj na začetek", "Back to the start"));
	}
	return page_end(&p, 429, NULL);
}

/* ---- POST /s/{token}/otp ---- */

enum MHD_Result web_page_otp_send(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	struct khmsg_otp o;
	struct page p;
	enum MHD_Result m;
	char why[512] = "";
	if (!page_order(r, &info, &m) || !page_post_session(r, &info, &s, &m))
		return m;
	if (!web_rate_admit(r, RL_CODE_ORDER, info.id))
		return page_code_limited(r, &info, &s);
	c2s_err e = khc_otp_send(info.id, &o, why, sizeof(why));
	page_begin(&p, r, &info, "Potrditvena koda", "Confirmation code");
	if (e == C2S_OK && o.result == C2S_OK) {
		page_put(&p, "<p role=\"status\">%s <strong>",
		         T(&p, "Kodo smo poslali na številko", "We sent the code to"));
		page_esc(&p, o.phone_masked);
		page_put(&p, "</strong>. %s %lld %s</p>", T(&p, "Velja", "It is valid for"),
		         (long long)((o.expires_at - clock_now() + 59) / 60),
		         T(&p, "min.", "minutes."));
	} else if (e == C2S_OK && o.result == C2S_ERR_OTP_TOO_SOON) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         T(&p, "Kodo smo pravkar poslali. Novo lahko zahtevate čez %lld s.",
		           "We just sent a code. You can ask for a new one in %lld s."),
		         (long long)(o.retry_after - clock_now()));
		page_error(&p, msg);
	} else if (e == C2S_OK && o.result == C2S_ERR_OTP_LIMIT) {
		page_error(&p,
		           T(&p, "V zadnji uri smo poslali že 5 kod. Poskusite znova kasneje.",
		             "We already sent 5 codes in the last hour. Please try again later."));
	} else {
		log_info("order %s: code not sent: %s", info.id, why);
		page_error(&p,
		           T(&p, "Kode trenutno ne moremo poslati. Poskusite znova čez minuto.",
		             "We cannot send the code right now. Please try again in a minute."));
	}
	page_code_form(&p, &s, 1, !(e == C2S_OK && o.result == C2S_OK));
	return page_end(&p, 200, NULL);
}

/* ---- POST /s/{token}/otp/verify ---- */

enum MHD_Result web_page_otp_verify(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	struct khmsg_otp o;
	struct page p;
	enum MHD_Result m;
	char raw[64], code[16], why[512] = "";
	size_t n = 0;
	if (!page_order(r, &info, &m) || !page_post_session(r, &info, &s, &m))
		return m;
	if (!web_rate_admit(r, RL_CODE_ORDER, info.id))
		return page_code_limited(r, &info, &s);
	web_form_field(&r->body, "code", raw, sizeof(raw));
	/* pasted codes: spaces, dashes, dots and line breaks are not part of the code */
	for (size_t i = 0; raw[i] && n + 1 < sizeof(code); i++)
		if (raw[i] >= '0' && raw[i] <= '9')
			code[n++] = raw[i];
		else if (!strchr(" -.\t\r\n", raw[i])) {
			n = 0;
			break;
		}
	code[n] = 0;
	explicit_bzero(raw, sizeof(raw));
	c2s_err e = n ? khc_otp_verify(info.id, code, &o, why, sizeof(why)) : C2S_OK;
	explicit_bzero(code, sizeof(code));
	if (n && e == C2S_OK && o.result == C2S_OK) {
		s.otp_ok = 1;
		memcpy(s.sad, o.sad, sizeof(s.sad));
		s.sad_expires = o.expires_at;
		web_session_update(&s);
		explicit_bzero(&o, sizeof(o));
		if (page_event(r, info.id, "otp_verified") != C2S_OK)
			log_warn("order %s: otp_verified not recorded", info.id);
		char to[200];
		snprintf(to, sizeof(to), "/s/%s/documents", r->param[0]);
		return web_redirect(r, to, NULL);
	}
	page_begin(&p, r, &info, "Potrditvena koda", "Confirmation code");
	int field = 1;
	if (!n) {
		page_error(&p, T(&p, "Vpišite šestmestno kodo iz SMS-sporočila (samo številke).",
		                 "Enter the six-digit code from the SMS (digits only)."));
	} else if (e == C2S_OK && o.result == C2S_ERR_OTP_WRONG) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         T(&p, "Koda ni pravilna. Preostali poskusi: %u.",
		           "The code is not correct. Attempts left: %u."),
		         o.tries_left);
		page_error(&p, msg);
		field = o.tries_left > 0;
	} else if (e == C2S_OK &&
	           (o.result == C2S_ERR_OTP_EXPIRED || o.result == C2S_ERR_OTP_NONE)) {
		page_error(&p,
		           T(&p, "Koda je potekla ali še ni bila poslana. Zahtevajte novo kodo.",
		             "The code has expired or was not sent yet. Ask for a new code."));
		field = 0;
	} else if (e == C2S_OK &&
	           (o.result == C2S_ERR_OTP_EXHAUSTED || o.result == C2S_ERR_OTP_LIMIT)) {
		page_error(&p, T(&p, "Preveč napačnih poskusov za to kodo. Zahtevajte novo kodo.",
		                 "Too many wrong attempts for this code. Ask for a new code."));
		field = 0;
	} else {
		log_info("order %s: code not checked: %s", info.id, why);
		page_error(&p,
		           T(&p, "Kode trenutno ne moremo preveriti. Poskusite znova čez minuto.",
		             "We cannot check the code right now. Please try again in a minute."));
	}
	page_code_form(&p, &s, field, 1);
	return page_end(&p, 200, NULL);
}

/* A document number the order does not have: a page, not a problem (this is a browser). */
static enum MHD_Result page_no_document(struct web_req *r, const struct order_info *info)
{
	struct page p;
	page_begin(&p, r, info, "Dokumenta ni", "No such document");
	page_error(&p, T(&p, "Naročilo nima dokumenta s to številko.",
	                 "The order has no document with this number."));
	page_put(&p, "<p><a href=\"%s/documents\">%s</a></p>", p.base,
	         T(&p, "Na seznam dokumentov", "To the document list"));
	return page_end(&p, 404, NULL);
}

/* GET on a form's address (a bookmarked or reloaded POST target): back to the start page,
 * which leads on to where the customer is. */
enum MHD_Result web_page_to_start(struct web_req *r)
{
	char to[200];
	snprintf(to, sizeof(to), "/s/%s", r->param[0]);
	return web_redirect(r, to, NULL);
}

/* ---- GET /s/{token}/documents[/{n}[.pdf]] ---- */

static int page_signed_all(const struct order_info *info)
{
	for (size_t i = 0; i < info->n_documents; i++)
		if (!info->docs[i].is_signed)
			return 0;
	return 1;
}

/* The customer's session after the code, or a redirect to the start. */
static int page_activated(struct web_req *r, const struct order_info *info, struct web_session *s,
                          enum MHD_Result *m)
{
	if (web_session_get(r, info->id, s) && s->otp_ok)
		return 1;
	char to[200];
	snprintf(to, sizeof(to), "/s/%s", r->param[0]);
	*m = web_redirect(r, to, NULL);
	return 0;
}

enum MHD_Result web_page_documents(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	struct page p;
	enum MHD_Result m;
	size_t sel = 0;
	int pdf = 0;
	if (!page_order(r, &info, &m) || !page_activated(r, &info, &s, &m))
		return m;
	if (r->n_params > 1) {
		char *end;
		unsigned long v = strtoul(r->param[1], &end, 10);
		pdf = strcmp(end, ".pdf") == 0;
		if ((*end && !pdf) || r->param[1][0] < '0' || r->param[1][0] > '9' ||
		    v >= info.n_documents)
			return page_no_document(r, &info);
		sel = v;
	} else {
		while (sel + 1 < info.n_documents && info.docs[sel].is_signed)
			sel++;
	}
	const struct order_doc *d = &info.docs[sel];
	if (pdf)
		return web_blob(r, d->is_signed ? d->signed_sha256 : d->sha256, d->filename, 1);
	page_begin(&p, r, &info, "Podpis dokumentov", "Signing the documents");
	page_put(&p,
	         "<div class=\"docs\"><nav aria-labelledby=\"list-title\"><h2 id=\"list-title\">%s"
	         "</h2><ul id=\"doc-list\">",
	         T(&p, "Seznam dokumentov", "Document list"));
	for (size_t i = 0; i < info.n_documents; i++) {
		page_put(&p, "<li%s><a href=\"%s/documents/%zu\"%s>",
		         i == sel ? " class=\"current\"" : "", p.base, i,
		         i == sel ? " aria-current=\"page\"" : "");
		page_esc(&p, info.docs[i].title);
		page_put(&p, "</a> <span class=\"state %s\">%s</span></li>",
		         info.docs[i].is_signed ? "signed" : "pending",
		         info.docs[i].is_signed ? T(&p, "podpisan", "signed")
		                                : T(&p, "za podpis", "to sign"));
	}
	page_put(&p, "</ul></nav><section class=\"doc\" aria-labelledby=\"doc-title\">"
	             "<h2 id=\"doc-title\">");
	page_esc(&p, d->title);
	page_put(&p, "</h2>");
	/* phones rarely show a PDF inside a page: a tab of its own reads better */
	page_put(&p,
	         "<p class=\"open\"><a href=\"%s/documents/%zu.pdf\" target=\"_blank\" "
	         "rel=\"noopener\">%s</a></p>",
	         p.base, sel,
	         T(&p, "Odpri dokument v novem zavihku", "Open the document in a new tab"));
	if (page_signed_all(&info)) {
		page_put(&p, "<p class=\"done\" role=\"status\">%s</p>",
		         T(&p, "Vsi dokumenti so podpisani. Za zaključek kliknite Izhod.",
		           "All documents are signed. Click Exit to finish."));
		page_put(&p, "<form method=\"post\" action=\"%s/finish\">", p.base);
		page_hidden_csrf(&p, &s);
		page_put(&p, "<button id=\"finish-button\" type=\"submit\">%s</button></form>",
		         T(&p, "Izhod", "Exit"));
	} else if (!d->is_signed) {
		page_put(&p, "<form method=\"post\" action=\"%s/documents/%zu/sign\">", p.base,
		         sel);
		page_hidden_csrf(&p, &s);
		page_put(&p, "<button id=\"sign-button\" type=\"submit\">%s</button></form>",
		         T(&p, "Podpiši", "Sign"));
	} else {
		page_put(&p, "<p class=\"done\">%s</p>",
		         T(&p, "Ta dokument je podpisan. Izberite naslednjega v seznamu.",
		           "This document is signed. Choose the next one in the list."));
	}
	page_put(&p, "<iframe class=\"pdf\" title=\"");
	page_esc(&p, d->title);
	page_put(&p,
	         "\" src=\"%s/documents/%zu.pdf\"></iframe><p><a href=\"%s/documents/%zu.pdf\" "
	         "download>%s</a></p></section></div>",
	         p.base, sel, p.base, sel,
	         T(&p, "Prenesi dokument (PDF)", "Download the document (PDF)"));
	return page_end(&p, 200, NULL);
}

/* ---- POST /s/{token}/documents/{n}/sign ---- */

enum MHD_Result web_page_sign(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	enum MHD_Result m;
	char why[512] = "", to[240], *end;
	if (!page_order(r, &info, &m) || !page_post_session(r, &info, &s, &m))
		return m;
	if (!s.otp_ok) {
		snprintf(to, sizeof(to), "/s/%s", r->param[0]);
		return web_redirect(r, to, NULL);
	}
	unsigned long n = strtoul(r->param[1], &end, 10);
	if (*end || r->param[1][0] < '0' || r->param[1][0] > '9' || n >= info.n_documents)
		return page_no_document(r, &info);
	/* a double click, or the back button after signing: signed once, shown again */
	if (!info.docs[n].is_signed) {
		c2s_err e = web_sign_document(r->ctx, &info, (int)n, s.sad, why, sizeof(why));
		struct order_info now_info;
		/* "already signed" is fine when a concurrent click stored it; if our record still
		 * says pending, the signed copy was lost after the keyholder signed: say so */
		if (e == C2S_ERR_DOC_USED &&
		    order_get(r->ctx->store, info.id, &now_info) == C2S_OK &&
		    now_info.docs[n].is_signed)
			e = C2S_OK;
		if (e != C2S_OK) {
			struct page p;
			log_info("order %s: document %lu not signed: %s: %s", info.id, n,
			         c2s_err_name(e), why);
			page_begin(&p, r, &info, "Podpis ni uspel", "The document was not signed");
			page_error(
			    &p,
			    e == C2S_ERR_SAD
			        ? T(&p,
			            "Potrditev s kodo je potekla. Zahtevajte novo kodo in "
			            "podpišite znova.",
			            "Your confirmation with the code has expired. Ask for a "
			            "new code and sign again.")
			    : e == C2S_ERR_DOC_USED
			        ? T(&p,
			            "Dokument je bil podpisan, a podpisane kopije nismo shranili. "
			            "Pokličite operaterja; podpis bo pri vas pobral kurir.",
			            "The document was signed but the signed copy was not stored. "
			            "Please call your operator; a courier will collect your "
			            "signature.")
			        : T(&p,
			            "Dokumenta trenutno ne moremo podpisati. Poskusite "
			            "znova čez minuto; podpisani dokumenti ostanejo "
			            "podpisani.",
			            "We cannot sign the document right now. Please try again "
			            "in a minute; documents already signed stay signed."));
			if (e == C2S_ERR_SAD) {
				s.otp_ok = 0;
				web_session_update(&s);
				page_code_form(&p, &s, 0, 0);
			} else {
				page_put(&p, "<p><a href=\"/s/%s/documents/%lu\">%s</a></p>",
				         r->param[0], n,
				         T(&p, "Nazaj na dokument", "Back to the document"));
			}
			return page_end(&p, 200, NULL);
		}
	}
	/* the next document still to sign, or this one when all are */
	size_t next = n;
	char id[ORDER_ID_MAX];
	snprintf(id, sizeof(id), "%s", info.id); /* order_get clears what it fills */
	if (order_get(r->ctx->store, id, &info) == C2S_OK)
		for (size_t i = 0; i < info.n_documents; i++)
			if (!info.docs[i].is_signed) {
				next = i;
				break;
			}
	snprintf(to, sizeof(to), "/s/%s/documents/%zu", r->param[0], next);
	return web_redirect(r, to, NULL);
}

/* ---- POST /s/{token}/finish ("Izhod") ---- */

enum MHD_Result web_page_finish(struct web_req *r)
{
	struct order_info info;
	struct web_session s;
	struct page p;
	enum MHD_Result m;
	char why[256];
	if (!page_order(r, &info, &m) || !page_post_session(r, &info, &s, &m))
		return m;
	c2s_err e = order_finish(r->ctx->store, info.id, clock_now());
	if (e == C2S_ERR_ORDER_CLOSED) {
		char to[200];
		snprintf(to, sizeof(to), "/s/%s/documents", r->param[0]);
		return web_redirect(r, to, NULL);
	}
	if (e != C2S_OK)
		return web_problem(r, e, NULL);
	if (khc_order_end(info.id, 1, why, sizeof(why)) != C2S_OK)
		log_warn("order %s signed; the keyholder was not told yet: %s", info.id, why);
	web_session_end_order(info.id);
	page_begin(&p, r, &info, "Podpis je uspel", "Signing complete");
	page_put(&p, "<div id=\"confirmation\" role=\"status\"><p>%s</p><ul>",
	         T(&p, "Podpisali ste:", "You signed:"));
	for (size_t i = 0; i < info.n_documents; i++) {
		page_put(&p, "<li>");
		page_esc(&p, info.docs[i].title);
		page_put(&p, "</li>");
	}
	page_put(&p, "</ul><p>%s <strong>",
	         T(&p,
	           "Podpisane dokumente skupaj s cenikom in splošnimi pogoji vam pošiljamo na "
	           "e-naslov",
	           "We are sending the signed documents with the price list and the general "
	           "terms to"));
	page_mask_email(&p, info.subscriber.email);
	page_put(&p, "</strong>.</p><p>%s</p></div>",
	         T(&p, "Naročilo je predano v aktivacijo. Hvala!",
	           "Your order has been handed over for activation. Thank you!"));
	/* after link + SMS code: the customer may register a certificate for the portal login */
	char reg[700];
	if (info.account_id[0] &&
	    web_cert_register_url(r->ctx->cfg, info.account_id, p.lang, reg, sizeof(reg))) {
		page_put(
		    &p,
		    "<section id=\"cert-offer\"><h2>%s</h2><p>%s</p><p><a id=\"cert-register\" "
		    "href=\"",
		    T(&p, "Prijava z digitalnim potrdilom", "Log in with your certificate"),
		    T(&p,
		      "Če imate kvalificirano digitalno potrdilo, ga lahko zdaj povežete s svojim "
		      "uporabniškim računom in se odslej prijavljate z njim (povezava velja 15 "
		      "minut).",
		      "If you have a qualified certificate, you can link it to your account now "
		      "and "
		      "log in with it from then on (the link is valid for 15 minutes)."));
		page_esc(&p, reg);
		page_put(&p, "\">%s</a></p></section>",
		         T(&p, "Registriraj digitalno potrdilo", "Register my certificate"));
		explicit_bzero(reg, sizeof(reg));
	}
	return page_end(&p, 200, NULL);
}

/* ---- GET /assets/c2s.css: the pages' only style sheet (no third-party resources) ---- */

static const char page_css[] =
    "*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',R"
    "oboto,sans-serif;color:#1a1a1a;background:#f6f7f9}header{display:flex;justify-content:sp"
    "ace-between;align-items:center;padding:.75rem 1rem;background:#fff;border-bottom:1px sol"
    "id #d8dbe0}.brand{margin:0;font-weight:700;color:#b3001b}.lang a{margin-left:.75rem}a,a:"
    "visited{color:#1d4ed8}main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.5re"
    "m;margin:.5rem 0 1rem}h2{font-size:1.125rem}form{margin:1rem 0}label{display:block;font-"
    "weight:600;margin-bottom:.25rem}input[type=text]{font-size:1.5rem;letter-spacing:.2em;pa"
    "dding:.5rem;width:12ch;border:2px solid #6b7280;border-radius:.25rem}input[aria-invalid="
    "true]{border-color:#b3001b}input:focus,button:focus,a:focus{outline:3px solid #1d4ed8;ou"
    "tline-offset:2px}button{font-size:1.125rem;min-height:44px;padding:.6rem 1.4rem;border:0"
    ";border-radius:.25rem;background:#b3001b;color:#fff;cursor:pointer}button.secondary{back"
    "ground:#fff;color:#1a1a1a;border:2px solid #6b7280}.help{color:#4b5563;margin:.25rem 0 ."
    "75rem}.error{color:#8b0000;background:#fdecea;border-left:4px solid #b3001b;padding:.5re"
    "m .75rem}.done{color:#166534}.open{margin:.25rem 0}.docs{display:flex;gap:1.5rem;flex-wr"
    "ap:wrap}.docs nav{flex:0 0 16rem}.docs section{flex:1 1 24rem}#doc-list{list-style:none;"
    "padding:0;margin:0}#doc-list li{padding:.5rem;border-bottom:1px solid #d8dbe0}#doc-list "
    "li.current{background:#fff;font-weight:600}.state{display:block;font-size:.875rem}.state"
    ".signed{color:#166534}.state.pending{color:#92400e}.pdf{width:100%;height:70vh;border:1p"
    "x solid #d8dbe0;background:#fff}#confirmation{background:#fff;padding:1rem;border-left:4"
    "px solid #166534}@media(max-width:40rem){.docs nav{flex:1 1 100%}.pdf{display:none}}\n";

enum MHD_Result web_asset_css(struct web_req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    sizeof(page_css) - 1, (void *)page_css, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/css; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "public, max-age=3600");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
