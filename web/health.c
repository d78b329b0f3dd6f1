/* GET /v1/health: the keyholder's and token's state, fetched over IPC. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "khclient.h"
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
	if (s.card_monitored)
		json_object_set_new(doc, "card", health_card(&s));
	return web_json(r, ok ? 200 : 503, doc);
}
