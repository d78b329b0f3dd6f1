/* PAdES B-LT: an incremental update that adds or extends the catalog's Document Security
 * Store (ETSI EN 319 142-1 5.4.2): /DSS << /Certs [..] /CRLs [..] /OCSPs [..] >>. */
#include <stdio.h>
#include <string.h>

#include "pdf.h"
#include "pdf_int.h"

#define DSS_MAX_BLOBS 4096
#define DSS_MAX_BYTES (64u << 20)

struct dss_list {
	const char *key;
	const uint8_t *const *p;
	const size_t *n;
	size_t count;
	int first; /* object number of the first new stream */
};

static c2s_err write_streams(struct pdf_writer *w, struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (size_t i = 0; i < l->count; i++) {
		int num;
		ENSURE(l->p[i] && l->n[i], C2S_ERR_ARG);
		GUARD(pdf_w_new_num(w, &num));
		if (i == 0)
			l->first = num;
		GUARD(pdf_w_begin_obj(w, num, 0));
		GUARD(pdf_w_printf(w, "<<\n/Length %zu\n>>\nstream\n", l->n[i]));
		GUARD(buf_put(&w->out, l->p[i], l->n[i]));
		GUARD(pdf_w_str(w, "\nendstream"));
		GUARD(pdf_w_end_obj(w));
	}
	ret = C2S_OK;
out:
	return ret;
}

/* "/Key [old... new...]" for one of the three lists. */
static c2s_err write_list(struct pdf_writer *w, qpdf_oh dss, const struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	int nums[DSS_MAX_BLOBS];
	qpdf_oh old = pdf_doc_get(w->d, dss, l->key);
	if (old && !qpdf_oh_is_array(w->d->q, old))
		old = 0;
	if (!old && !l->count) {
		ret = C2S_OK;
		goto out;
	}
	for (size_t i = 0; i < l->count; i++)
		nums[i] = l->first + (int)i;
	GUARD(pdf_w_name(w, l->key));
	GUARD(pdf_w_str(w, " "));
	GUARD(pdf_w_array_plus(w, old, nums, l->count));
	GUARD(pdf_w_str(w, "\n"));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err write_dss(struct pdf_writer *w, qpdf_oh dss, int num, int gen, struct dss_list *l)
{
	static const char *const skip[] = {"/Certs", "/CRLs", "/OCSPs", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(pdf_w_begin_obj(w, num, gen));
	GUARD(pdf_w_str(w, "<<\n"));
	if (dss)
		GUARD(pdf_w_dict_body(w, dss, skip));
	for (int i = 0; i < 3; i++)
		GUARD(write_list(w, dss, &l[i]));
	GUARD(pdf_w_str(w, ">>"));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err write_catalog(struct pdf_writer *w, int dss_num)
{
	static const char *const skip[] = {"/DSS", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_begin_obj(w, d->root_num, d->root_gen));
	GUARD(pdf_w_str(w, "<<\n"));
	GUARD(pdf_w_dict_body(w, d->root, skip));
	GUARD(pdf_w_printf(w, "/DSS %d 0 R\n>>", dss_num));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err check_dss(const struct pdf_dss *dss, size_t *bytes)
{
	const size_t counts[3] = {dss->n_certs, dss->n_crls, dss->n_ocsps};
	const size_t *lens[3] = {dss->cert_lens, dss->crl_lens, dss->ocsp_lens};
	const uint8_t *const *ps[3] = {dss->certs, dss->crls, dss->ocsps};
	*bytes = 0;
	for (int k = 0; k < 3; k++) {
		if (counts[k] > DSS_MAX_BLOBS || (counts[k] && (!lens[k] || !ps[k])))
			return C2S_ERR_ARG;
		for (size_t i = 0; i < counts[k]; i++) {
			if (lens[k][i] > DSS_MAX_BYTES || *bytes > DSS_MAX_BYTES)
				return C2S_ERR_TOO_BIG;
			*bytes += lens[k][i] + 64;
		}
	}
	return C2S_OK;
}

static c2s_err dss_update(struct pdf_doc *d, const struct pdf_dss *dss, size_t bytes,
                          struct buf *update)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_writer w;
	struct dss_list l[3] = {
	    {"/Certs", dss->certs, dss->cert_lens, dss->n_certs, 0},
	    {"/CRLs", dss->crls, dss->crl_lens, dss->n_crls, 0},
	    {"/OCSPs", dss->ocsps, dss->ocsp_lens, dss->n_ocsps, 0},
	};
	GUARD(pdf_w_init(&w, d, bytes + (16u << 20)));
	qpdf_oh old = pdf_doc_get(d, d->root, "/DSS");
	if (old && !qpdf_oh_is_dictionary(d->q, old))
		old = 0;
	for (int i = 0; i < 3; i++)
		GUARD(write_streams(&w, &l[i]));
	if (old && qpdf_oh_is_indirect(d->q, old)) {
		GUARD(write_dss(&w, old, qpdf_oh_get_object_id(d->q, old),
		                qpdf_oh_get_generation(d->q, old), l));
	} else {
		int num;
		GUARD(pdf_w_new_num(&w, &num));
		GUARD(write_dss(&w, old, num, 0, l));
		GUARD(write_catalog(&w, num));
	}
	GUARD(pdf_w_finish(&w));
	GUARD(pdf_doc_check(d));
	*update = w.out;
	buf_init(&w.out, 0);
	ret = C2S_OK;
out:
	pdf_w_free(&w);
	return ret;
}

c2s_err pdf_append_dss(const uint8_t *pdf, size_t len, const struct pdf_dss *dss,
                       struct buf *update, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc d = {0};
	size_t bytes;
	buf_init(update, 0);
	if (why && why_cap)
		why[0] = 0;
	ENSURE(dss, C2S_ERR_ARG);
	GUARD(check_dss(dss, &bytes));
	GUARD(pdf_doc_open(&d, pdf, len, 0, why, why_cap));
	GUARD(dss_update(&d, dss, bytes, update));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
	pdf_doc_close(&d);
	return ret;
}
