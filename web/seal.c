/* POST /v1/seal?level=B-B|B-T|B-LT: the operator's seal on a PDF, through the keyholder's
 * seal permit. The response streams original || update (|| DSS update) without a copy. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>
#include <pthread.h>

#include "khclient.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"
#include "firmware/certs/custcert.h"
#include "firmware/pades/pades.h"

struct seal_out {
	struct buf orig; /* the request body, moved here */
	struct pades_result res;
};

/* The seal key as the PAdES engine sees it: held by the keyholder, reached over IPC. */
static c2s_err seal_key_info(void *ctx, struct pades_key *k, char *why, size_t cap)
{
	struct khmsg_keyinfo ki;
	c2s_err ret = khc_keyinfo(ctx, &ki, why, cap);
	if (ret != C2S_OK)
		return ret;
	memset(k, 0, sizeof(*k));
	k->signer.cert = ki.cert; /* ownership moves to k */
	k->signer.cert_len = ki.cert_len;
	for (size_t i = 0; i < ki.n_chain; i++) {
		k->signer.chain[i] = ki.chain[i];
		k->signer.chain_len[i] = ki.chain_len[i];
	}
	k->signer.n_chain = ki.n_chain;
	k->signer.hash = (enum cms_hash)ki.hash;
	k->signer.sig = (enum cms_sig)ki.sig;
	k->sig_max = ki.sig_max;
	return C2S_OK;
}

static c2s_err seal_key_sign(void *ctx, const uint8_t *attrs, size_t len, uint8_t *sig,
                             size_t *sig_len, char *why, size_t cap)
{
	return khc_seal_attrs(ctx, attrs, len, sig, sig_len, why, cap);
}

static uint32_t seal_key_generation(void *ctx)
{
	(void)ctx;
	return khc_generation();
}

static struct pades_keysrc seal_key = {.info = seal_key_info,
                                       .sign = seal_key_sign,
                                       .generation = seal_key_generation,
                                       PADES_KEYSRC_CACHE};

static ssize_t seal_reader(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct seal_out *o = cls;
	const struct buf *parts[3] = {&o->orig, &o->res.update, &o->res.dss_update};
	uint64_t base = 0;
	for (int i = 0; i < 3; i++) {
		const struct buf *p = parts[i];
		if (pos < base + p->len) {
			size_t off = (size_t)(pos - base), n = p->len - off;
			n = n < max ? n : max;
			memcpy(dst, p->data + off, n);
			return (ssize_t)n;
		}
		base += p->len;
	}
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void seal_free(void *cls)
{
	struct seal_out *o = cls;
	buf_free(&o->orig);
	pades_result_free(&o->res);
	free(o);
}

static enum MHD_Result seal_respond(struct web_req *r, struct seal_out *o)
{
	uint64_t total = o->orig.len + o->res.update.len + o->res.dss_update.len;
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(total, 64 * 1024, seal_reader, o, seal_free);
	if (!resp) {
		seal_free(o);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/pdf");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	atomic_fetch_add(&web_stats.requests[2], 1);
	atomic_fetch_add(&web_stats.seals_ok, 1);
	atomic_fetch_add(&web_stats.seal_bytes, total);
	enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result seal_fail(struct web_req *r, struct seal_out *o, c2s_err e,
                                 const char *detail)
{
	atomic_fetch_add(&web_stats.seals_failed, 1);
	seal_free(o);
	return web_problem(r, e, detail);
}

void web_seal_init(const struct config *cfg)
{
	seal_key.ctx = (void *)cfg->seal_key;
}

/* The seal certificate's notAfter and subject, from the keyholder, again after a token or
 * keyholder change (the channel generation). */
static struct {
	pthread_mutex_t mu;
	uint32_t gen;
	int known;
	int64_t not_after;
	char subject[256];
	int64_t retry_ms; /* after a failed lookup: not before this (monotonic) */
} seal_cert = {.mu = PTHREAD_MUTEX_INITIALIZER};

int web_seal_cert(const struct config *cfg, int64_t *not_after, char *subject, size_t cap)
{
	uint32_t gen = khc_generation();
	pthread_mutex_lock(&seal_cert.mu);
	/* a lookup that failed is not retried on every seal and health check, only every 5 s or
	 * when the keyholder's channels change */
	if ((!seal_cert.known || seal_cert.gen != gen) &&
	    (seal_cert.gen != gen || clock_mono_ms() >= seal_cert.retry_ms)) {
		struct khmsg_keyinfo ki;
		char why[256];
		seal_cert.known = 0;
		seal_cert.gen = gen;
		seal_cert.retry_ms = clock_mono_ms() + 5000;
		if (khc_keyinfo(cfg->seal_key, &ki, why, sizeof(why)) == C2S_OK) {
			mbedtls_x509_crt c;
			mbedtls_x509_crt_init(&c);
			if (ki.cert && mbedtls_x509_crt_parse_der(&c, ki.cert, ki.cert_len) == 0) {
				seal_cert.not_after =
				    clock_timegm(c.valid_to.year, c.valid_to.mon, c.valid_to.day,
				                 c.valid_to.hour, c.valid_to.min, c.valid_to.sec);
				cc_name_utf8(c.subject_raw.p, c.subject_raw.len, seal_cert.subject,
				             sizeof(seal_cert.subject));
				seal_cert.known = 1;
			}
			mbedtls_x509_crt_free(&c);
			khmsg_keyinfo_free(&ki);
		}
	}
	int known = seal_cert.known;
	*not_after = seal_cert.not_after;
	snprintf(subject, cap, "%s", seal_cert.subject);
	pthread_mutex_unlock(&seal_cert.mu);
	return known;
}

enum MHD_Result web_seal(struct web_req *r)
{
	const struct config *cfg = r->ctx->cfg;
	const char *lv = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "level");
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	int level = pades_level_parse(lv ? lv : "B-B");
	char detail[512] = "";
	if (level < 0)
		return web_problem(r, C2S_ERR_HTTP_LEVEL, NULL);
	if (!ct || strncmp(ct, "application/pdf", 15) != 0)
		return web_problem(r, C2S_ERR_HTTP_MEDIA_TYPE,
		                   "send the document as Content-Type: application/pdf");
	int64_t na;
	char subj[256];
	if (web_seal_cert(cfg, &na, subj, sizeof(subj)) && clock_now() > na) {
		char d[512], date[40];
		time_t t = (time_t)na;
		struct tm tm;
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
		snprintf(
		    d, sizeof(d),
		    "the seal certificate '%s' expired on %s; validators would reject the seal. "
		    "Renew it (docs/OPERATIONS.md, Renewing the seal certificate)",
		    subj, date);
		atomic_fetch_add(&web_stats.seals_failed, 1);
		return web_problem_ex(r, 503, "seal-certificate-expired",
		                      "Seal certificate expired", d, NULL);
	}
	struct seal_out *o = calloc(1, sizeof(*o));
	if (!o)
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	o->orig = r->body;
	buf_init(&r->body, 0);
	struct tsa_config tsa = {.url = cfg->tsa_url,
	                         .timeout_ms = cfg->tsa_timeout_ms,
	                         .trust_file = cfg->tsa_trust[0] ? cfg->tsa_trust : NULL};
	struct pades_job job = {.level = (enum pades_level)level,
	                        .tsa = cfg->tsa_url[0] ? &tsa : NULL,
	                        .max_len = cfg->pdf_max,
	                        .fetch_timeout_ms = cfg->tsa_timeout_ms};
	job.params.name = cfg->seal_name;
	job.params.reason = cfg->seal_reason[0] ? cfg->seal_reason : NULL;
	job.params.location = cfg->seal_location[0] ? cfg->seal_location : NULL;
	job.params.when = time(NULL);
	/* the body as it arrived, hashed then (server.c); pades checks that it covers it all */
	if (o->orig.len && c2s_sha256_length(&r->body_sha) == o->orig.len)
		job.prefix = &r->body_sha;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* read once in a child under the kernel's limits, then here (bounded by what it took) */
	struct pdf_probe_limits lim = {.mem = cfg->pdf_parse_mem, .cpu_s = cfg->pdf_parse_cpu};
	c2s_err e =
	    pdf_probe(o->orig.data, o->orig.len, cfg->pdf_max, 0, &lim, detail, sizeof(detail));
	if (e == C2S_OK)
		e = pades_run(&seal_key, &job, o->orig.data, o->orig.len, &o->res, detail,
		              sizeof(detail));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (e == C2S_OK)
		web_histogram_observe(&web_stats.seal_latency,
		                      (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
		                          (t1.tv_nsec - t0.tv_nsec) / 1000);
	if (e != C2S_OK) {
		log_info("seal refused: %s: %s", c2s_err_name(e), detail);
		return seal_fail(r, o, e, detail);
	}
	if (o->res.notes[0])
		log_info("client %s: sealed as it is: %s", r->client, o->res.notes);
	return seal_respond(r, o);
}
