/* GET /metrics: Prometheus text format. */
#include <stdio.h>
#include <stdlib.h>

#include "khclient.h"
#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/certs/custcert.h"
#include "firmware/orders/outbox.h"

enum MHD_Result web_metrics(struct web_req *r)
{
	struct khmsg_status s;
	char detail[256];
	struct buf b;
	int up = khc_status(&s, detail, sizeof(detail)) == C2S_OK;
	buf_init(&b, 16384);
	c2s_err e = buf_printf(&b, "# TYPE c2s_http_requests_total counter\n");
	for (int i = 1; i <= 5 && e == C2S_OK; i++)
		e = buf_printf(&b, "c2s_http_requests_total{class=\"%dxx\"} %lu\n", i,
		               atomic_load(&web_stats.requests[i]));
	if (e == C2S_OK)
		e = buf_printf(
		    &b,
		    "# TYPE c2s_seals_total counter\n"
		    "c2s_seals_total{result=\"ok\"} %lu\n"
		    "c2s_seals_total{result=\"failed\"} %lu\n"
		    "# TYPE c2s_seal_bytes_total counter\n"
		    "c2s_seal_bytes_total %lu\n"
		    "# TYPE c2s_keyholder_up gauge\nc2s_keyholder_up %d\n"
		    "# TYPE c2s_token_present gauge\nc2s_token_present %d\n"
		    "# TYPE c2s_signer_ready gauge\nc2s_signer_ready %d\n"
		    "# TYPE c2s_keyholder_signatures_total counter\n"
		    "c2s_keyholder_signatures_total %llu\n"
		    "c2s_keyholder_sign_errors_total %llu\n",
		    atomic_load(&web_stats.seals_ok), atomic_load(&web_stats.seals_failed),
		    atomic_load(&web_stats.seal_bytes), up, up && s.token_present,
		    up && s.state == C2S_OK, up ? (unsigned long long)s.signatures : 0ULL,
		    up ? (unsigned long long)s.sign_errors : 0ULL);
	struct outbox_backlog ob;
	if (e == C2S_OK && r->ctx->store &&
	    outbox_backlog(r->ctx->store, clock_now(), &ob) == C2S_OK)
		e = buf_printf(
		    &b,
		    "# HELP c2s_outbox_pending Notices (e-mail, SMS, webhooks) not yet "
		    "delivered.\n# TYPE c2s_outbox_pending gauge\nc2s_outbox_pending %lld\n"
		    "# HELP c2s_outbox_failed Notices given up after their retries.\n"
		    "# TYPE c2s_outbox_failed gauge\nc2s_outbox_failed %lld\n"
		    "# HELP c2s_outbox_oldest_age_seconds Age of the oldest pending "
		    "notice.\n# TYPE c2s_outbox_oldest_age_seconds gauge\n"
		    "c2s_outbox_oldest_age_seconds %lld\n",
		    (long long)ob.pending, (long long)ob.failed, (long long)ob.oldest_age);
	if (e == C2S_OK)
		e = buf_printf(
		    &b, "# HELP c2s_cert_checks_total Customer certificates validated on the "
		        "certificate listener, by outcome.\n"
		        "# TYPE c2s_cert_checks_total counter\n");
	for (int i = 0; i < 11 && e == C2S_OK; i++)
		e = buf_printf(&b, "c2s_cert_checks_total{result=\"%s\"} %lu\n",
		               cc_reason_type((enum cc_reason)i),
		               atomic_load(&web_stats.cert_checks[i]));
	if (e == C2S_OK)
		e = buf_printf(
		    &b,
		    "# HELP c2s_cert_registrations_total Certificates bound to an account.\n"
		    "# TYPE c2s_cert_registrations_total counter\n"
		    "c2s_cert_registrations_total %lu\n"
		    "# HELP c2s_cert_logins_total Logins with a registered certificate.\n"
		    "# TYPE c2s_cert_logins_total counter\n"
		    "c2s_cert_logins_total %lu\n"
		    "# HELP c2s_cert_refusals_other_total Refusals on the certificate listener "
		    "not about the certificate (assertion, binding, return URL).\n"
		    "# TYPE c2s_cert_refusals_other_total counter\n"
		    "c2s_cert_refusals_other_total %lu\n",
		    atomic_load(&web_stats.cert_registered), atomic_load(&web_stats.cert_logins),
		    atomic_load(&web_stats.cert_refused_other));
	int64_t na;
	char subj[256];
	if (e == C2S_OK)
		e = buf_printf(
		    &b, "# HELP c2s_certificate_expiry_seconds Seconds until the certificate "
		        "ends (negative: ended).\n# TYPE c2s_certificate_expiry_seconds gauge\n");
	if (e == C2S_OK && web_seal_cert(r->ctx->cfg, &na, subj, sizeof(subj)))
		e = buf_printf(&b, "c2s_certificate_expiry_seconds{key=\"seal\"} %lld\n",
		               (long long)(na - clock_now()));
	if (e == C2S_OK && web_tls_not_after)
		e = buf_printf(&b, "c2s_certificate_expiry_seconds{key=\"tls\"} %lld\n",
		               (long long)(web_tls_not_after - clock_now()));
	unsigned long gs[4];
	guard_stats(gs);
	if (e == C2S_OK)
		e = buf_printf(&b,
		               "# HELP c2s_http_closed_total Connections closed by the front end's "
		               "deadlines.\n# TYPE c2s_http_closed_total counter\n"
		               "c2s_http_closed_total{reason=\"slow-headers\"} %lu\n"
		               "c2s_http_closed_total{reason=\"slow-body\"} %lu\n"
		               "# HELP c2s_http_refused_total Requests refused before routing.\n"
		               "# TYPE c2s_http_refused_total counter\n"
		               "c2s_http_refused_total{reason=\"syntax\"} %lu\n"
		               "c2s_http_refused_total{reason=\"body-memory\"} %lu\n",
		               gs[0], gs[1], gs[2], gs[3]);
	if (e == C2S_OK && up && s.card_monitored)
		e = buf_printf(&b, "# TYPE c2s_card_present gauge\nc2s_card_present %d\n",
		               s.card_present);
	if (e != C2S_OK || buf_put_u8(&b, 0) != C2S_OK) {
		buf_free(&b);
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(b.len - 1, b.data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		buf_free(&b);
		return MHD_NO;
	}
	b.data = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
	atomic_fetch_add(&web_stats.requests[2], 1);
	enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}
