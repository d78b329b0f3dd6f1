/* Signing one customer document: the update is prepared here, the keyholder checks it and
 * signs under the customer's SAD (firmware/keyholder/sam.c), the signed revision is stored as
 * a blob and the order records it. */
#include <stdlib.h>
#include <string.h>

#include "khclient.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"
#include "firmware/orders/blob.h"
#include "firmware/pades/pades.h"

struct sign_ctx {
	const uint8_t *sad;
	const char *order;
	uint32_t doc;
};

/* The remote signer of pades_run_remote: one IPC_SIGN_DOC_REQ. */
static c2s_err sign_remote(void *vctx, const struct buf *midstate, const uint8_t *update,
                           size_t update_len, struct pades_remote_out *out, char *why,
                           size_t why_cap)
{
	struct sign_ctx *c = vctx;
	struct khmsg_sign_doc d = {.doc = c->doc,
	                           .midstate = midstate->data,
	                           .midstate_len = midstate->len,
	                           .update = update,
	                           .update_len = update_len};
	struct khmsg_signed s;
	struct buf v;
	memcpy(d.sad, c->sad, KHMSG_SAD_LEN);
	snprintf(d.order, sizeof(d.order), "%s", c->order);
	if (update_len > KHMSG_UPDATE_MAX) {
		snprintf(why, why_cap, "the prepared revision is too large for the keyholder");
		return C2S_ERR_TOO_BIG;
	}
	c2s_err e = khc_sign_doc(&d, &out->owned, why, why_cap);
	if (e != C2S_OK)
		return e;
	buf_view(&v, out->owned.data, out->owned.len);
	if (khmsg_signed_decode(&v, &s) != C2S_OK)
		return C2S_ERR_IPC_MALFORMED;
	out->attrs = s.attrs;
	out->attrs_len = s.attrs_len;
	out->sig = s.signature;
	out->sig_len = s.signature_len;
	out->signer = (struct cms_signer){.cert = s.cert,
	                                  .cert_len = s.cert_len,
	                                  .n_chain = s.n_chain,
	                                  .hash = (enum cms_hash)s.hash,
	                                  .sig = (enum cms_sig)s.sig};
	for (size_t i = 0; i < s.n_chain; i++) {
		out->signer.chain[i] = s.chain[i];
		out->signer.chain_len[i] = s.chain_len[i];
	}
	return C2S_OK;
}

c2s_err web_sign_document(struct web_ctx *ctx, const struct order_info *info, int n,
                          const uint8_t *sad, char *why, size_t why_cap)
{
	const struct config *cfg = ctx->cfg;
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf orig, full;
	struct pades_result res;
	char name[2 * ORDER_NAME_MAX + 2];
	uint8_t sha[32];
	memset(&res, 0, sizeof(res));
	buf_init(&orig, cfg->pdf_max);
	buf_init(&full, (size_t)1 << 31);
	GUARD(blob_read(cfg->state_dir, info->docs[n].sha256, cfg->pdf_max, &orig));
	snprintf(name, sizeof(name), "%s %s", info->subscriber.given_name,
	         info->subscriber.family_name);
	struct tsa_config tsa = {.url = cfg->tsa_url,
	                         .timeout_ms = cfg->tsa_timeout_ms,
	                         .trust_file = cfg->tsa_trust[0] ? cfg->tsa_trust : NULL};
	struct sign_ctx sc = {.sad = sad, .order = info->id, .doc = (uint32_t)n};
	struct pades_remote_job job = {.level = cfg->tsa_url[0] ? PADES_B_T : PADES_B_B,
	                               .tsa = cfg->tsa_url[0] ? &tsa : NULL,
	                               .max_len = cfg->pdf_max,
	                               .sign = sign_remote,
	                               .sign_ctx = &sc};
	job.params.name = name;
	job.params.reason =
	    strcmp(info->locale, "en") == 0 ? "Signed with Click2Sign" : "Podpisano s Click2Sign";
	job.params.when = (time_t)clock_now();
	job.params.field_name = "Podpis1";
	GUARD(pades_run_remote(&job, orig.data, orig.len, &res, why, why_cap));
	if (res.level != job.level)
		log_warn("order %s: document %d signed without a time-stamp (B-B): the TSA failed",
		         info->id, n);
	GUARD(buf_put(&full, orig.data, orig.len));
	GUARD(buf_put(&full, res.update.data, res.update.len));
	GUARD(blob_put(cfg->state_dir, full.data, full.len, sha));
	GUARD(order_doc_signed(ctx->store, info->id, n, sha, (int64_t)full.len, clock_now()));
	log_info("order %s: document %d signed (%zu bytes)", info->id, n, full.len);
	ret = C2S_OK;
out:
	pades_result_free(&res);
	buf_free(&orig);
	buf_free(&full);
	return ret;
}
