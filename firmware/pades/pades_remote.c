/* pades_run_remote: a PAdES signature whose signed attributes the key holder builds itself.
 * The update is prepared here, the holder gets the original's SHA-256 midstate and the update
 * (it checks both before it signs), and the CMS with the holder's certificates and, for B-T,
 * a time-stamp goes into the placeholder. */
#include <stdio.h>
#include <string.h>

#include "midstate.h"
#include "pades.h"
#include "firmware/base/log.h"

c2s_err pades_run_remote(const struct pades_remote_job *job, const uint8_t *pdf, size_t len,
                         struct pades_result *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_prepared pp;
	struct pades_remote_out ro;
	struct buf mid, attrs, tok;
	memset(&pp, 0, sizeof(pp));
	memset(&ro, 0, sizeof(ro));
	buf_init(&ro.owned, 1 << 16);
	buf_init(&mid, 256);
	buf_init(&attrs, 0);
	buf_init(&tok, TSA_REPLY_MAX);
	memset(out, 0, sizeof(*out));
	buf_init(&out->update, 0);
	buf_init(&out->dss_update, 0);
	if (job->level != PADES_B_B && job->level != PADES_B_T)
		WHY(C2S_ERR_HTTP_LEVEL, "customer signatures are B-B or B-T");
	if (job->level == PADES_B_T && !job->tsa)
		WHY(C2S_ERR_TSA_NONE, "%s", c2s_err_message(C2S_ERR_TSA_NONE));
	struct pdf_sig_params params = job->params;
	params.no_page_annot = 1; /* the keyholder's scan refuses page and array revisions */
	if (!params.contents_max)
		params.contents_max =
		    PADES_REMOTE_BUDGET + (job->level == PADES_B_T ? PADES_TST_BUDGET : 0);
	GUARD(pdf_prepare(pdf, len, job->max_len, &params, &pp, why, why_cap));
	GUARD(midstate_of(pdf, len, &mid));
	ret = job->sign(job->sign_ctx, &mid, pp.update.data, pp.update.len, &ro, why, why_cap);
	if (ret != C2S_OK)
		goto out;
	ENSURE(ro.attrs && ro.sig && ro.signer.cert && cms_hash_len(ro.signer.hash),
	       C2S_ERR_INTERNAL);
	buf_view(&attrs, ro.attrs, ro.attrs_len);
	out->level = job->level;
	ret = pades_fill(&ro.signer, job->level, job->tsa, &attrs, ro.sig, ro.sig_len, &pp, &tok,
	                 why, why_cap);
	if (ret == C2S_ERR_TSA || ret == C2S_ERR_TSA_BAD_REPLY) {
		/* The holder has signed (and will not sign this document again): never lose the
		 * signature to a time-stamping outage. Without the token it is a valid B-B. */
		log_warn("time-stamp failed after the signature (%s); keeping it at B-B", why);
		buf_reset(&tok);
		out->level = PADES_B_B;
		ret = pades_fill(&ro.signer, PADES_B_B, NULL, &attrs, ro.sig, ro.sig_len, &pp, &tok,
		                 why, why_cap);
	}
	GUARD(ret);
	out->update = pp.update;
	out->orig_len = pp.orig_len;
	buf_init(&pp.update, 0);
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		pades_result_free(out);
	pdf_prepared_free(&pp);
	buf_free(&ro.owned);
	buf_free(&mid);
	buf_free(&tok);
	return ret;
}
