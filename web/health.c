/* GET /v1/health: the keyholder's and token's state, fetched over IPC. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "khclient.h"
#include "firmware/base/clock.h"
#include "web.h"

static json_t *health_token(const struct khmsg_status *s)
{
	return json_pack("{s:b, s:s, s:s, s:s, s:s, s:b}", "present", s->token_present, "label",
	                 s->label, "manufacturer", s->manufacturer, "model", s->model, "serial",
	                 s->serial, "logged_in", s->logged_in);
}

static json_t *health_card(const struct khmsg_status *s)
{
	char since[32] = "";
	struct tm tm;
	time_t t = (time_t)s->card_since;
	if (t && gmtime_r(&t, &tm))
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:b, s:s, s:s, s:s, s:b}", "present", s->card_present, "reader",
	                 s->reader, "since", since, "atr", s->atr, "pcscd", s->pcscd_up);
}

int64_t web_tls_not_after;
int64_t web_tsa_trust_not_after;

static void health_date(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, cap, "?");
}

/* 2 expired, 1 within the warning, 0 fine; why says which certificate and when. */
int web_expiry(const struct config *cfg, char *why, size_t cap)
{
	int64_t now = clock_now(), warn = (int64_t)cfg->expiry_warning_days * 86400, na;
	char subj[256], date[40];
	int worst = 0;
	size_t o = 0;
	why[0] = 0;
	struct {
		int known;
		int64_t na;
		const char *what;
	} c[2] = {{0, 0, "the seal certificate"},
	          {web_tls_not_after != 0, web_tls_not_after, "the TLS server certificate"}};
	c[0].known = web_seal_cert(cfg, &na, subj, sizeof(subj));
	c[0].na = na;
	for (int i = 0; i < 2; i++) {
		if (!c[i].known)
			continue;
		int level = now > c[i].na ? 2 : c[i].na - now < warn ? 1 : 0;
		if (!level)
			continue;
		worst = level > worst ? level : worst;
		health_date(c[i].na, date, sizeof(date));
		int n =
		    snprintf(why + o, cap - o, "%s%s%s%s%s %s %s%s", o ? "; " : "", c[i].what,
		             i == 0 ? " '" : "", i == 0 ? subj : "", i == 0 ? "'" : "",
		             level == 2 ? "expired on" : "expires on", date,
		             level == 2 ? (i == 0   ? ": seals are refused; renew it"
		                           : i == 1 ? ": clients refuse the connection; renew it"
		                                    : ": B-T seals fail; install the current one")
		                        : ": renew it before then");
		if (n > 0 && (size_t)n < cap - o)
			o += (size_t)n;
	}
	return worst;
}

enum MHD_Result web_health(struct web_req *r)
{
	struct khmsg_status s;
	char detail[512] = "";
	json_t *doc;
	c2s_err e = khc_status(&s, detail, sizeof(detail));
	if (e != C2S_OK) {
		doc = json_pack("{s:s, s:s, s:s, s:{s:b, s:s}, s:{s:b}}", "status", "unavailable",
		                "version", C2S_VERSION, "reason",
		                detail[0] ? detail : c2s_err_message(e), "keyholder", "running", 0,
		                "error", c2s_err_name(e), "token", "present", 0);
		return web_json(r, 503, doc);
	}
	int ok = s.state == C2S_OK;
	doc = json_pack("{s:s, s:s, s:{s:b, s:I, s:I}, s:o, s:{s:{s:s, s:b, s:b}}}", "status",
	                ok ? "ok" : "unavailable", "version", C2S_VERSION, "keyholder", "running",
	                1, "signatures", (json_int_t)s.signatures, "sign_errors",
	                (json_int_t)s.sign_errors, "token", health_token(&s), "keys", "seal",
	                "label", s.seal_key, "present", s.seal_key_present, "certificate",
	                s.seal_cert_present);
	if (!doc)
		return MHD_NO;
	if (!ok) {
		json_object_set_new(doc, "reason", json_string(s.reason));
		json_object_set_new(doc, "error", json_string(c2s_err_name((c2s_err)s.state)));
	}
	int64_t na;
	char subj[256], date[40], why[1200];
	if (web_seal_cert(r->ctx->cfg, &na, subj, sizeof(subj))) {
		json_t *seal = json_object_get(json_object_get(doc, "keys"), "seal");
		health_date(na, date, sizeof(date));
		json_object_set_new(seal, "not_after", json_string(date));
	}
	int exp = ok ? web_expiry(r->ctx->cfg, why, sizeof(why)) : 0;
	if (exp) {
		json_object_set_new(doc, "status",
		                    json_string(exp == 2 ? "unavailable" : "degraded"));
		json_object_set_new(doc, "reason", json_string(why));
		json_object_set_new(
		    doc, "error",
		    json_string(exp == 2 ? "certificate-expired" : "certificate-expiring"));
		if (exp == 2)
			ok = 0;
	}
	if (s.card_monitored)
		json_object_set_new(doc, "card", health_card(&s));
	return web_json(r, ok ? 200 : 503, doc);
}
