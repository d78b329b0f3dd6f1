/* pades_run: one signing job, shared by the seal route and customer signing. The key's
 * certificates are cached per holder generation; B-LT fetches and verifies the revocation data
 * of the signer's and the TSA's chains, and refuses a revoked certificate, before anything is
 * signed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pades.h"
#include "revocation.h"

void pades_key_clear(struct pades_key *k)
{
	free((void *)k->signer.cert);
	for (size_t i = 0; i < k->signer.n_chain; i++)
		free((void *)k->signer.chain[i]);
	memset(k, 0, sizeof(*k));
}

static uint8_t *pades_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d)
		memcpy(d, p, n);
	return d;
}

static c2s_err pades_key_copy(const struct pades_key *in, struct pades_key *out)
{
	*out = *in;
	out->signer.cert = NULL;
	out->signer.n_chain = 0;
	if (!(out->signer.cert = pades_dup(in->signer.cert, in->signer.cert_len)))
		return C2S_ERR_NOMEM;
	for (size_t i = 0; i < in->signer.n_chain; i++, out->signer.n_chain++) {
		out->signer.chain[i] = pades_dup(in->signer.chain[i], in->signer.chain_len[i]);
		if (!out->signer.chain[i]) {
			pades_key_clear(out);
			return C2S_ERR_NOMEM;
		}
	}
	return C2S_OK;
}

/* The key's certificates, from the cache while the holder's generation is the same. */
static c2s_err pades_key_get(struct pades_keysrc *ks, struct pades_key *out, char *why,
                             size_t why_cap)
{
	c2s_err ret = C2S_OK;
	if (!ks->generation)
		return ks->info(ks->ctx, out, why, why_cap);
	uint32_t gen = ks->generation(ks->ctx);
	pthread_mutex_lock(&ks->mu);
	if (ks->gen != gen || !ks->cached.signer.cert) {
		pades_key_clear(&ks->cached);
		ks->gen = 0;
		ret = ks->info(ks->ctx, &ks->cached, why, why_cap);
		if (ret == C2S_OK)
			ks->gen = gen;
	}
	if (ret == C2S_OK)
		ret = pades_key_copy(&ks->cached, out);
	pthread_mutex_unlock(&ks->mu);
	return ret;
}

static void pades_key_forget(struct pades_keysrc *ks)
{
	pthread_mutex_lock(&ks->mu);
	ks->gen = 0;
	pthread_mutex_unlock(&ks->mu);
}

struct pades_sign_ctx {
	struct pades_keysrc *ks;
	char *why;
	size_t why_cap;
};

static c2s_err pades_sign_through(void *ctx, const uint8_t *attrs, size_t len, uint8_t *sig,
                                  size_t *sig_len)
{
	struct pades_sign_ctx *c = ctx;
	return c->ks->sign(c->ks->ctx, attrs, len, sig, sig_len, c->why, c->why_cap);
}

static long pades_fetch_ms(const struct pades_job *job)
{
	return job->fetch_timeout_ms > 0 ? job->fetch_timeout_ms : TSA_TIMEOUT_DEFAULT_MS;
}

/* B-LT, before the keyholder is asked: the CRLs of the signer's chain and of the TSA's (the
 * certificates of its last token; the first B-LT job asks the TSA once), each verified with
 * its issuer's key, and no certificate of either chain revoked. */
static c2s_err pades_prefetch(const struct pades_key *key, const struct pades_job *job,
                              struct rev_set *crls, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const uint8_t *certs[1 + CMS_MAX_CHAIN] = {key->signer.cert};
	size_t lens[1 + CMS_MAX_CHAIN] = {key->signer.cert_len};
	struct tsa_seen seen = {0};
	for (size_t i = 0; i < key->signer.n_chain && i < CMS_MAX_CHAIN; i++) {
		certs[1 + i] = key->signer.chain[i];
		lens[1 + i] = key->signer.chain_len[i];
	}
	ret = rev_chain_crls(certs, lens, 1 + key->signer.n_chain, pades_fetch_ms(job), crls, why,
	                     why_cap);
	if (ret == C2S_ERR_CERT_REVOKED) {
		char reason[300];
		snprintf(reason, sizeof(reason), "%s", why ? why : "");
		WHY(ret, "the signer's chain is revoked, nothing was signed: %s", reason);
	}
	GUARD(ret);
	GUARD(tsa_seen(job->tsa, &seen, why, why_cap));
	ret = rev_chain_crls((const uint8_t *const *)seen.cert, seen.len, seen.n,
	                     pades_fetch_ms(job), crls, why, why_cap);
	if (ret == C2S_ERR_CERT_REVOKED) {
		char reason[300];
		snprintf(reason, sizeof(reason), "%s", why ? why : "");
		WHY(ret, "the TSA's chain is revoked, nothing was signed: %s", reason);
	}
	GUARD(ret);
out:
	tsa_seen_free(&seen);
	return ret;
}

c2s_err pades_run(struct pades_keysrc *ks, const struct pades_job *job, const uint8_t *pdf,
                  size_t len, struct pades_result *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pades_key key = {0};
	struct rev_set crls = {0};
	ENSURE(out != NULL, C2S_ERR_ARG);
	memset(out, 0, sizeof(*out)); /* empty also when refused before pades_sign */
	buf_init(&out->update, 0);
	buf_init(&out->dss_update, 0);
	if (job->level != PADES_B_B && !job->tsa)
		WHY(C2S_ERR_TSA_NONE, "%s", c2s_err_message(C2S_ERR_TSA_NONE));
	GUARD(pades_key_get(ks, &key, why, why_cap));
	struct pades_sign_ctx sc = {.ks = ks, .why = why, .why_cap = why_cap};
	struct pades_request req = {.level = job->level,
	                            .signer = &key.signer,
	                            .sig_max = key.sig_max,
	                            .sign = pades_sign_through,
	                            .sign_ctx = &sc,
	                            .tsa = job->tsa,
	                            .params = job->params,
	                            .max_len = job->max_len,
	                            .prefix = job->prefix};
	if (job->level == PADES_B_LT)
		GUARD(pades_prefetch(&key, job, &crls, why, why_cap));
	req.crls = (const uint8_t *const *)crls.crl;
	req.crl_lens = crls.len;
	req.n_crls = crls.n;
	req.tsa_rev_timeout_ms = job->level == PADES_B_LT ? pades_fetch_ms(job) : 0;
	ret = pades_sign(pdf, len, &req, out, why, why_cap);
	/* the holder's key or certificate changed under us: fetch them again next time */
	if (ret == C2S_ERR_CERT_MISMATCH || ret == C2S_ERR_IPC)
		pades_key_forget(ks);
out:
	rev_set_free(&crls);
	pades_key_clear(&key);
	return ret;
}
