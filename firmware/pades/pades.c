/* PAdES baseline signing (EN 319 142-1 B-B, B-T, B-LT): placeholder sized from the real
 * certificate chain, streamed hash of the signed byte ranges, signed attributes, signature
 * by callback, signature time-stamp, CMS into /Contents, and /DSS for B-LT. */
#include "pades.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>

#include "revocation.h"
#include "firmware/base/sha256.h"

int pades_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "B-B") == 0)
		return PADES_B_B;
	if (strcmp(s, "B-T") == 0)
		return PADES_B_T;
	if (strcmp(s, "B-LT") == 0)
		return PADES_B_LT;
	return -1;
}

static mbedtls_md_type_t md_type(enum cms_hash h)
{
	return h == CMS_SHA256   ? MBEDTLS_MD_SHA256
	       : h == CMS_SHA384 ? MBEDTLS_MD_SHA384
	       : h == CMS_SHA512 ? MBEDTLS_MD_SHA512
	                         : MBEDTLS_MD_NONE;
}

struct hasher {
	mbedtls_md_context_t md;
	struct c2s_sha256 sha256; /* SHA-256 on nettle (SHA-NI): the seal's common case */
	int use_sha256;
	int err;
};

static void on_chunk(void *ctx, const uint8_t *p, size_t n)
{
	struct hasher *h = ctx;
	if (h->use_sha256)
		c2s_sha256_update(&h->sha256, p, n);
	else if (mbedtls_md_update(&h->md, p, n) != 0)
		h->err = 1;
}

/* Digest of the signed byte ranges of original || update, streamed. */
static c2s_err hash_ranges(const struct pdf_prepared *pp, const uint8_t *pdf, enum cms_hash hh,
                           const struct c2s_sha256 *prefix, uint8_t *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct hasher h = {.use_sha256 = hh == CMS_SHA256, .err = 0};
	const mbedtls_md_info_t *info = mbedtls_md_info_from_type(md_type(hh));

	mbedtls_md_init(&h.md);
	ENSURE(info != NULL, C2S_ERR_ARG);
	if (h.use_sha256) {
		if (prefix && c2s_sha256_length(prefix) == pp->orig_len) {
			h.sha256 = *prefix; /* the original, hashed as it arrived */
			pdf_signed_update_ranges(pp, on_chunk, &h);
		} else {
			c2s_sha256_init(&h.sha256);
			pdf_signed_ranges(pp, pdf, on_chunk, &h);
		}
		c2s_sha256_final(&h.sha256, out);
	} else {
		ENSURE(mbedtls_md_setup(&h.md, info, 0) == 0 && mbedtls_md_starts(&h.md) == 0,
		       C2S_ERR_NOMEM);
		pdf_signed_ranges(pp, pdf, on_chunk, &h);
		ENSURE(!h.err && mbedtls_md_finish(&h.md, out) == 0, C2S_ERR_INTERNAL);
	}
	ret = C2S_OK;
out:
	mbedtls_md_free(&h.md);
	return ret;
}

static c2s_err check_request(const struct pades_request *r, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	if (r == NULL || r->signer == NULL || r->sign == NULL || r->sig_max == 0)
		WHY(C2S_ERR_ARG, "signing request incomplete");
	if (r->level != PADES_B_B && r->level != PADES_B_T && r->level != PADES_B_LT)
		WHY(C2S_ERR_HTTP_LEVEL, "level must be one of B-B, B-T, B-LT");
	if (r->level != PADES_B_B && (r->tsa == NULL || r->tsa->url == NULL))
		WHY(C2S_ERR_CONFIG, "B-T and B-LT need a time-stamping authority");
	if (cms_hash_len(r->signer->hash) == 0 || r->n_crls > 64 ||
	    (r->n_crls && (r->crls == NULL || r->crl_lens == NULL)))
		WHY(C2S_ERR_ARG, "invalid hash or revocation data");
	ret = C2S_OK;
out:
	return ret;
}

/* /VRI key of the signature in `pp`: uppercase hex SHA-1 of the whole /Contents string. */
static c2s_err vri_key(const struct pdf_prepared *pp, const struct buf *update, char key[41])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	static const char hex[] = "0123456789ABCDEF";
	const mbedtls_md_info_t *sha1 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	size_t off = pp->contents_off - pp->orig_len, n = pp->contents_max;
	uint8_t *der = malloc(n ? n : 1), h[20];
	ENSURE(der && sha1, C2S_ERR_NOMEM);
	ENSURE(pp->contents_off >= pp->orig_len && off + 2 * n <= update->len, C2S_ERR_INTERNAL);
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = (char)update->data[off + 2 * i + (size_t)k];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			ENSURE(d >= 0, C2S_ERR_INTERNAL);
			v = v * 16 + d;
		}
		der[i] = (uint8_t)v;
	}
	ENSURE(mbedtls_md(sha1, der, n, h) == 0, C2S_ERR_INTERNAL);
	for (int i = 0; i < 20; i++) {
		key[2 * i] = hex[h[i] >> 4];
		key[2 * i + 1] = hex[h[i] & 15];
	}
	key[40] = 0;
	ret = C2S_OK;
out:
	free(der);
	return ret;
}

/* B-LT: /DSS with the signer's chain, the TSA's certificates, the caller's CRLs and (with
 * tsa_rev_timeout_ms) those of the TSA's chain; /VRI for this signature. */
static c2s_err add_dss(const struct pades_request *r, const struct buf *tok,
                       const struct pdf_prepared *pp, struct pades_result *res, char *why,
                       size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const uint8_t *certs[PADES_MAX_DSS_CERTS];
	const uint8_t *crls[64 + REV_MAX_CRLS];
	size_t lens[PADES_MAX_DSS_CERTS], crl_lens[64 + REV_MAX_CRLS], n = 0, nt = 0, nc = 0;
	const struct cms_signer *s = r->signer;
	struct rev_set tsa_crls = {0};
	char key[41];

	certs[n] = s->cert, lens[n++] = s->cert_len;
	for (size_t i = 0; i < s->n_chain && i < CMS_MAX_CHAIN; i++)
		certs[n] = s->chain[i], lens[n++] = s->chain_len[i];
	ret =
	    tsa_token_certs(tok->data, tok->len, certs + n, lens + n, PADES_MAX_DSS_CERTS - n, &nt);
	if (ret == C2S_ERR_TOO_BIG)
		WHY(ret, "the time-stamp token carries more certificates than /DSS takes (%d)",
		    PADES_MAX_DSS_CERTS);
	GUARD(ret);
	for (size_t i = 0; i < r->n_crls; i++)
		crls[nc] = r->crls[i], crl_lens[nc++] = r->crl_lens[i];
	if (r->tsa_rev_timeout_ms > 0) {
		GUARD(rev_chain_crls(certs + n, lens + n, nt, r->tsa_rev_timeout_ms, &tsa_crls, why,
		                     why_cap));
		for (size_t i = 0; i < tsa_crls.n; i++)
			crls[nc] = tsa_crls.crl[i], crl_lens[nc++] = tsa_crls.len[i];
	}
	n += nt;
	GUARD(vri_key(pp, &res->update, key));
	struct pdf_dss dss = {.certs = certs,
	                      .cert_lens = lens,
	                      .n_certs = n,
	                      .crls = crls,
	                      .crl_lens = crl_lens,
	                      .n_crls = nc,
	                      .vri_key = key};
	/* from the parse pdf_prepare kept: no second parse, no copy of the signed file */
	GUARD(pdf_append_dss_after(pp, &res->update, &dss, &res->dss_update, why, why_cap));
	ret = C2S_OK;
out:
	rev_set_free(&tsa_crls);
	return ret;
}

/* Time-stamp over the signature for B-T+, CMS into the placeholder. */
c2s_err pades_fill(const struct cms_signer *s, enum pades_level level, const struct tsa_config *tsa,
                   const struct buf *attrs, const uint8_t *sig, size_t sl, struct pdf_prepared *pp,
                   struct buf *tok, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t imprint[64];
	struct buf cms;

	buf_init(&cms, pp->contents_max);
	if (level != PADES_B_B) { /* imprint: hash of the signature value's contents */
		GUARD(cms_hash_buf(s->hash, sig, sl, imprint));
		GUARD(
		    tsa_timestamp(tsa, s->hash, imprint, cms_hash_len(s->hash), tok, why, why_cap));
	}
	ret = cms_signed_data(s, attrs->data, attrs->len, sig, sl, tok->len ? tok->data : NULL,
	                      tok->len, &cms);
	if (ret == C2S_ERR_TOO_BIG)
		WHY(C2S_ERR_TOO_BIG,
		    "signature (%zu-byte time-stamp token) exceeds the %zu bytes "
		    "reserved; raise the token budget",
		    tok->len, pp->contents_max);
	GUARD(ret);
	ret = pdf_set_contents(pp, cms.data, cms.len);
	if (ret == C2S_ERR_TOO_BIG)
		WHY(C2S_ERR_TOO_BIG, "CMS of %zu bytes (token %zu) exceeds the %zu bytes reserved",
		    cms.len, tok->len, pp->contents_max);
	GUARD(ret);
	ret = C2S_OK;
out:
	buf_free(&cms);
	return ret;
}

/* The time-stamp token's room in /Contents, and the limits the token puts on the signature,
 * from what the TSA gave before (tsa_seen): decided before anything is signed. */
static c2s_err tst_budget(const struct pades_request *r, size_t *budget, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct tsa_seen seen;
	GUARD(tsa_seen(r->tsa, &seen, why, why_cap));
	*budget = r->tst_max ? r->tst_max
	          : seen.token_len + PADES_TST_SLACK > PADES_TST_BUDGET
	              ? seen.token_len + PADES_TST_SLACK
	              : PADES_TST_BUDGET;
	if (seen.token_len > *budget)
		WHY(C2S_ERR_TOO_BIG,
		    "the TSA's time-stamp tokens are %zu bytes, more than the %zu bytes reserved "
		    "for one; raise the token budget",
		    seen.token_len, *budget);
	if (r->level == PADES_B_LT &&
	    (seen.too_many || 1 + r->signer->n_chain + seen.n > PADES_MAX_DSS_CERTS))
		WHY(C2S_ERR_TOO_BIG,
		    "the signer's chain (%zu) and the TSA's certificates (%s%zu) are more than "
		    "/DSS takes (%d)",
		    1 + r->signer->n_chain, seen.too_many ? "over " : "",
		    seen.too_many ? (size_t)TSA_SEEN_CERTS : seen.n, PADES_MAX_DSS_CERTS);
	ret = C2S_OK;
out:
	tsa_seen_free(&seen);
	return ret;
}

/* B-LT: no certificate of the signer's chain on the CRLs given (they go into /DSS: a
 * validator would find the signature's certificate revoked at its own time-stamp). */
static c2s_err check_revoked(const struct pades_request *r, char *why, size_t why_cap)
{
	c2s_err ret = C2S_OK;
	const struct cms_signer *s = r->signer;
	for (size_t c = 0; c <= s->n_chain && c <= CMS_MAX_CHAIN; c++)
		for (size_t i = 0; i < r->n_crls; i++) {
			ret = rev_listed(c ? s->chain[c - 1] : s->cert,
			                 c ? s->chain_len[c - 1] : s->cert_len, r->crls[i],
			                 r->crl_lens[i], why, why_cap);
			if (ret == C2S_ERR_X509)
				WHY(C2S_ERR_REVOCATION, "revocation data %zu is not a CRL", i + 1);
			GUARD(ret);
		}
out:
	return ret;
}

/* Signature (by callback), then pades_fill. */
static c2s_err sign_and_fill(const struct pades_request *r, const struct buf *attrs,
                             struct pdf_prepared *pp, struct buf *tok, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t *sig = malloc(r->sig_max);
	size_t sl = r->sig_max;
	ENSURE(sig != NULL, C2S_ERR_NOMEM);
	ret = r->sign(r->sign_ctx, attrs->data, attrs->len, sig, &sl);
	if (ret != C2S_OK)
		WHY(ret, "signing failed: %s", c2s_err_message(ret));
	if (sl == 0 || sl > r->sig_max)
		WHY(C2S_ERR_INTERNAL, "signature of %zu bytes, at most %zu expected", sl,
		    r->sig_max);
	GUARD(pades_fill(r->signer, r->level, r->tsa, attrs, sig, sl, pp, tok, why, why_cap));
out:
	free(sig);
	return ret;
}

c2s_err pades_sign(const uint8_t *pdf, size_t len, const struct pades_request *r,
                   struct pades_result *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_prepared pp;
	struct buf attrs, tok;
	uint8_t digest[64];

	memset(&pp, 0, sizeof(pp));
	buf_init(&attrs, 1 << 16);
	buf_init(&tok, TSA_REPLY_MAX);
	if (why != NULL && why_cap > 0)
		why[0] = 0;
	ENSURE(out != NULL, C2S_ERR_ARG);
	memset(out, 0, sizeof(*out));
	buf_init(&out->update, 0);
	buf_init(&out->dss_update, 0);
	GUARD(check_request(r, why, why_cap));
	struct pdf_sig_params params = r->params;
	params.keep_for_dss = r->level == PADES_B_LT;
	size_t budget = 0;
	if (r->level == PADES_B_LT)
		GUARD(check_revoked(r, why, why_cap));
	if (r->level != PADES_B_B)
		GUARD(tst_budget(r, &budget, why, why_cap));
	if (params.contents_max == 0) {
		params.contents_max = cms_max_size(r->signer, r->sig_max, budget);
		if (params.contents_max == 0)
			WHY(C2S_ERR_X509, "signer certificate could not be parsed");
	}
	GUARD(pdf_prepare(pdf, len, r->max_len, &params, &pp, why, why_cap));
	GUARD(hash_ranges(&pp, pdf, r->signer->hash, r->prefix, digest));
	GUARD(cms_signed_attrs(r->signer, digest, cms_hash_len(r->signer->hash), &attrs));
	GUARD(sign_and_fill(r, &attrs, &pp, &tok, why, why_cap));
	out->update = pp.update;
	out->orig_len = pp.orig_len;
	memcpy(out->notes, pp.notes, sizeof(out->notes));
	buf_init(&pp.update, 0);
	if (r->level == PADES_B_LT)
		GUARD(add_dss(r, &tok, &pp, out, why, why_cap));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && out != NULL)
		pades_result_free(out);
	pdf_prepared_free(&pp);
	buf_free(&attrs);
	buf_free(&tok);
	return ret;
}

void pades_result_free(struct pades_result *res)
{
	if (res == NULL)
		return;
	buf_free(&res->update);
	buf_free(&res->dss_update);
	res->orig_len = 0;
}
