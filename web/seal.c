/* POST /v1/seal?level=B-B|B-T|B-LT: the operator's seal on a PDF, through the keyholder's
 * seal permit. The response streams original || update (|| DSS update) without a copy. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/log.h"
#include "firmware/pades.h"
#include "firmware/revocation.h"
#include "khclient.h"
#include "web.h"

struct seal_out {
	struct buf orig; /* the request body, moved here */
	struct pades_result res;
};

static struct {
	pthread_mutex_t mu;
	uint32_t gen;
	struct khmsg_keyinfo ki;
} seal_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static c2s_err seal_keyinfo_copy(const struct khmsg_keyinfo *in, struct khmsg_keyinfo *out)
{
	*out = *in;
	out->cert = NULL;
	out->n_chain = 0;
	if (!(out->cert = malloc(in->cert_len)))
		return C2S_ERR_NOMEM;
	memcpy(out->cert, in->cert, in->cert_len);
	for (size_t i = 0; i < in->n_chain; i++, out->n_chain++) {
		if (!(out->chain[i] = malloc(in->chain_len[i]))) {
			khmsg_keyinfo_free(out);
			return C2S_ERR_NOMEM;
		}
		memcpy(out->chain[i], in->chain[i], in->chain_len[i]);
	}
	return C2S_OK;
}

/* Key info (certificate chain, algorithms) cached per keyholder channel generation. */
static c2s_err seal_keyinfo(const char *key, struct khmsg_keyinfo *out, char *detail, size_t cap)
{
	c2s_err ret = C2S_OK;
	uint32_t gen = khc_generation();
	pthread_mutex_lock(&seal_cache.mu);
	if (seal_cache.gen != gen || !seal_cache.ki.cert) {
		khmsg_keyinfo_free(&seal_cache.ki);
		seal_cache.gen = 0;
		ret = khc_keyinfo(key, &seal_cache.ki, detail, cap);
		if (ret == C2S_OK)
			seal_cache.gen = gen;
	}
	if (ret == C2S_OK)
		ret = seal_keyinfo_copy(&seal_cache.ki, out);
	pthread_mutex_unlock(&seal_cache.mu);
	return ret;
}

static void seal_keyinfo_drop(void)
{
	pthread_mutex_lock(&seal_cache.mu);
	seal_cache.gen = 0;
	pthread_mutex_unlock(&seal_cache.mu);
}

struct seal_sign_ctx {
	const char *key;
	char *detail;
	size_t cap;
};

static c2s_err seal_sign_cb(void *ctx, const uint8_t *attrs, size_t len, uint8_t *sig,
                            size_t *sig_len)
{
	struct seal_sign_ctx *c = ctx;
	return khc_seal_attrs(c->key, attrs, len, sig, sig_len, c->detail, c->cap);
}

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

enum MHD_Result web_seal(struct web_req *r)
{
	const struct config *cfg = r->ctx->cfg;
	const char *lv = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "level");
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	int level = pades_level_parse(lv ? lv : "B-B");
	char detail[512] = "";
	struct khmsg_keyinfo ki;
	if (level < 0)
		return web_problem(r, C2S_ERR_HTTP_LEVEL, NULL);
	if (!ct || strncmp(ct, "application/pdf", 15) != 0)
		return web_problem(r, C2S_ERR_HTTP_MEDIA_TYPE,
		                   "send the document as Content-Type: application/pdf");
	if (level != PADES_B_B && !cfg->tsa_url[0])
		return web_problem_ex(r, 400, "invalid-request", "No time-stamping authority",
		                      "levels B-T and B-LT need a time-stamping authority; this "
		                      "appliance has no [tsa] url configured",
		                      NULL);
	c2s_err e = seal_keyinfo(cfg->seal_key, &ki, detail, sizeof(detail));
	if (e != C2S_OK)
		return web_problem(r, e, detail);
	struct seal_out *o = calloc(1, sizeof(*o));
	if (!o) {
		khmsg_keyinfo_free(&ki);
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	}
	o->orig = r->body;
	buf_init(&r->body, 0);
	struct cms_signer signer = {.cert = ki.cert,
	                            .cert_len = ki.cert_len,
	                            .n_chain = ki.n_chain,
	                            .hash = (enum cms_hash)ki.hash,
	                            .sig = (enum cms_sig)ki.sig};
	for (size_t i = 0; i < ki.n_chain; i++) {
		signer.chain[i] = ki.chain[i];
		signer.chain_len[i] = ki.chain_len[i];
	}
	struct tsa_config tsa = {.url = cfg->tsa_url,
	                         .timeout_ms = cfg->tsa_timeout_ms,
	                         .trust_file = cfg->tsa_trust[0] ? cfg->tsa_trust : NULL};
	struct seal_sign_ctx sc = {.key = cfg->seal_key, .detail = detail, .cap = sizeof(detail)};
	struct pades_request req = {.level = (enum pades_level)level,
	                            .signer = &signer,
	                            .sig_max = ki.sig_max,
	                            .sign = seal_sign_cb,
	                            .sign_ctx = &sc,
	                            .tsa = cfg->tsa_url[0] ? &tsa : NULL,
	                            .max_len = cfg->pdf_max};
	req.params.name = cfg->seal_name;
	req.params.reason = cfg->seal_reason[0] ? cfg->seal_reason : NULL;
	req.params.location = cfg->seal_location[0] ? cfg->seal_location : NULL;
	req.params.when = time(NULL);
	struct rev_set crls = {0};
	if (level == PADES_B_LT) {
		const uint8_t *certs[1 + CMS_MAX_CHAIN] = {ki.cert};
		size_t lens[1 + CMS_MAX_CHAIN] = {ki.cert_len};
		for (size_t i = 0; i < ki.n_chain; i++) {
			certs[1 + i] = ki.chain[i];
			lens[1 + i] = ki.chain_len[i];
		}
		e = rev_crls_for(certs, lens, 1 + ki.n_chain, cfg->tsa_timeout_ms, &crls, detail,
		                 sizeof(detail));
		req.crls = (const uint8_t *const *)crls.crl;
		req.crl_lens = crls.len;
		req.n_crls = crls.n;
	}
	if (e == C2S_OK)
		e = pades_sign(o->orig.data, o->orig.len, &req, &o->res, detail, sizeof(detail));
	rev_set_free(&crls);
	khmsg_keyinfo_free(&ki);
	if (e == C2S_ERR_CERT_MISMATCH || e == C2S_ERR_IPC)
		seal_keyinfo_drop();
	if (e != C2S_OK) {
		log_info("seal refused: %s: %s", c2s_err_name(e), detail);
		return seal_fail(r, o, e, detail);
	}
	return seal_respond(r, o);
}
