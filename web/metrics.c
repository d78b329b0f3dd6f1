/* GET /metrics: Prometheus text format. */
#include <stdio.h>
#include <stdlib.h>

#include "khclient.h"
#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/certs/custcert.h"
#include "firmware/orders/outbox.h"

/* Histogram buckets (seconds), the same for every latency family. */
static const double web_buckets[WEB_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,    2.5,   5,    10};

void web_histogram_observe(struct web_histogram *h, int64_t us)
{
	for (int i = 0; i < WEB_BUCKETS; i++)
		if ((double)us / 1e6 <= web_buckets[i])
			atomic_fetch_add(&h->le[i], 1);
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_us, (unsigned long)us);
}

c2s_err web_histogram_print(struct buf *b, const char *name, const char *help,
                            struct web_histogram *h)
{
	c2s_err e = buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i < WEB_BUCKETS && e == C2S_OK; i++)
		e = buf_printf(b, "%s_bucket{le=\"%g\"} %lu\n", name, web_buckets[i],
		               atomic_load(&h->le[i]));
	unsigned long n = atomic_load(&h->count);
	if (e == C2S_OK)
		e = buf_printf(b, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.6f\n%s_count %lu\n", name,
		               n, name, (double)atomic_load(&h->sum_us) / 1e6, name, n);
	return e;
}

enum MHD_Result web_metrics(struct web_req *r)
{
	struct khmsg_status s;
	char detail[256];
	struct buf b;
	int up = khc_status(&s, detail, sizeof(detail)) == C2S_OK;
	buf_init(&b, 16384);
	c2s_err e = buf_printf(&b, "# HELP c2s_http_requests_total HTTP answers by status class.\n"
	                           "# TYPE c2s_http_requests_total counter\n");
	for (int i = 1; i <= 5 && e == C2S_OK; i++)
		e = buf_printf(&b, "c2s_http_requests_total{class=\"%dxx\"} %lu\n", i,
		               atomic_load(&web_stats.requests[i]));
	if (e == C2S_OK)
		e = web_histogram_print(&b, "c2s_http_request_duration_seconds",
		                        "Time from a request's complete header section until its "
		                        "answer was sent (bodies included).",
		                        &web_stats.http_latency);
	if (e == C2S_OK)
		e = web_histogram_print(&b, "c2s_seal_duration_seconds",
		                        "Time to seal one document (parse, sign through the "
		                        "keyholder, time-stamp).",
		                        &web_stats.seal_latency);
	if (e == C2S_OK)
		e = buf_printf(
		    &b,
		    "# HELP c2s_seals_total Seals by result.\n"
		    "# TYPE c2s_seals_total counter\n"
		    "c2s_seals_total{result=\"ok\"} %lu\n"
		    "c2s_seals_total{result=\"failed\"} %lu\n"
		    "# HELP c2s_seal_bytes_total Bytes of sealed documents sent.\n"
		    "# TYPE c2s_seal_bytes_total counter\n"
		    "c2s_seal_bytes_total %lu\n"
		    "# HELP c2s_keyholder_up 1 when the key-holding process answers.\n"
		    "# TYPE c2s_keyholder_up gauge\nc2s_keyholder_up %d\n"
		    "# HELP c2s_token_present 1 when the token (or card) is present.\n"
		    "# TYPE c2s_token_present gauge\nc2s_token_present %d\n"
		    "# HELP c2s_signer_ready 1 when the keyholder is ready to sign (seals and, in "
		    "signer mode, customers' documents).\n"
		    "# TYPE c2s_signer_ready gauge\nc2s_signer_ready %d\n"
		    "# HELP c2s_keyholder_signatures_total Signatures the token made since the "
		    "keyholder started.\n"
		    "# TYPE c2s_keyholder_signatures_total counter\n"
		    "c2s_keyholder_signatures_total %llu\n"
		    "# HELP c2s_keyholder_sign_errors_total Signatures the token refused or failed "
		    "since the keyholder started.\n"
		    "# TYPE c2s_keyholder_sign_errors_total counter\n"
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
	if (e == C2S_OK)
		e = buf_printf(&b, "# HELP c2s_rate_limited_total Requests answered 429 by the "
		                   "front end's rate limits ([web] rate_*), by kind.\n"
		                   "# TYPE c2s_rate_limited_total counter\n");
	for (int k = 0; k < RL_KINDS && e == C2S_OK; k++)
		e = buf_printf(&b, "c2s_rate_limited_total{kind=\"%s\"} %lu\n",
		               rl_kind_name((enum rl_kind)k),
		               r->ctx->rl ? rl_limited(r->ctx->rl, (enum rl_kind)k) : 0UL);
	if (e == C2S_OK)
		e = buf_printf(&b,
		               "# HELP c2s_rate_limit_evictions_total Rate-limit buckets dropped "
		               "before they were full because their part of the table was full "
		               "(raise [web] rate_table when this grows).\n"
		               "# TYPE c2s_rate_limit_evictions_total counter\n");
	for (int k = 0; k < RL_KINDS && e == C2S_OK; k++)
		e = buf_printf(&b, "c2s_rate_limit_evictions_total{kind=\"%s\"} %lu\n",
		               rl_kind_name((enum rl_kind)k),
		               r->ctx->rl ? rl_evicted(r->ctx->rl, (enum rl_kind)k) : 0UL);
	if (e == C2S_OK && up && s.card_monitored)
		e = buf_printf(&b,
		               "# HELP c2s_card_present 1 when the card is in its reader.\n"
		               "# TYPE c2s_card_present gauge\nc2s_card_present %d\n",
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
