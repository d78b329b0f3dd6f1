/* PAdES B-LT: an incremental update that adds or extends the catalog's Document Security
 * Store (ETSI EN 319 142-1 5.4.2): /DSS << /Certs [..] /CRLs [..] /OCSPs [..] /VRI << >> >>.
 * A blob whose DER bytes equal a stream the /DSS already lists, or one given earlier in the
 * same update, is not written again: it is referenced where it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf.h"
#include "pdf_int.h"
#include "firmware/base/sha256.h"

#define DSS_MAX_BLOBS 4096
#define DSS_MAX_BYTES (64u << 20)

/* A stream the /DSS already lists (unfiltered ones only: see read_old). */
struct dss_old {
	uint8_t h[C2S_SHA256_LEN];
	size_t len;
	int num, gen;
};

struct dss_ref {
	int num, gen;
};

struct dss_list {
	const char *key;
	const uint8_t *const *p;
	const size_t *n;
	size_t count;
	struct dss_ref *ref; /* per given blob: the stream that holds it (old or new) */
	int *fresh;          /* object numbers of the streams written by this update */
	size_t n_fresh;
	struct dss_old *old;
	size_t n_old;
};

/* What reading the existing streams may cost, for the whole /DSS. */
struct dss_budget {
	size_t blobs, bytes;
};

/* Hash of each stream of the existing /DSS array `key`. Bounded: at most DSS_MAX_BLOBS streams
 * and DSS_MAX_BYTES bytes read for the whole /DSS, each /Length checked before its data is
 * read. Streams with a /Filter are not decoded (a compressed stream can expand without bound)
 * and so never count as equal: a duplicate of one is written again, which is only waste. */
static c2s_err read_old(struct pdf_doc *d, qpdf_oh dss, struct dss_list *l, struct dss_budget *b)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	qpdf_data q = d->q;
	qpdf_oh arr = pdf_doc_get(d, dss, l->key);
	if (!arr || !qpdf_oh_is_array(q, arr)) {
		ret = C2S_OK;
		goto out;
	}
	int cnt = qpdf_oh_get_array_n_items(q, arr);
	if (cnt < 0 || (size_t)cnt > DSS_MAX_BLOBS - b->blobs) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the document's /DSS lists more than %d streams", DSS_MAX_BLOBS);
		goto out;
	}
	l->old = calloc((size_t)cnt + 1, sizeof(*l->old));
	ENSURE(l->old, C2S_ERR_NOMEM);
	for (int i = 0; i < cnt; i++) {
		qpdf_oh it = qpdf_oh_get_array_item(q, arr, i);
		unsigned char *data = NULL;
		size_t len = 0;
		b->blobs++;
		if (qpdf_oh_is_indirect(q, it) && qpdf_oh_is_stream(q, it)) {
			qpdf_oh dict = qpdf_oh_get_dict(q, it);
			qpdf_oh lo = pdf_doc_get(d, dict, "/Length");
			long long want =
			    lo && qpdf_oh_is_integer(q, lo) ? qpdf_oh_get_int_value(q, lo) : -1;
			int plain = !qpdf_oh_has_key(q, dict, "/Filter"), got = 0;
			if (plain && want >= 0 && b->bytes < DSS_MAX_BYTES &&
			    (unsigned long long)want <= DSS_MAX_BYTES - b->bytes)
				got = qpdf_oh_get_stream_data(q, it, qpdf_dl_none, NULL, &data,
				                              &len) == QPDF_SUCCESS;
			/* Every byte read costs, compared or not: qpdf reads a stream whose
			 * /Length is wrong to its "endstream" (it warns only the first time), so
			 * the declared /Length does not bound what one read copies. Charged this
			 * way, all reads together copy at most the budget plus one stream. */
			size_t room = DSS_MAX_BYTES - b->bytes;
			if (data)
				b->bytes += len < room ? len : room;
			/* a stream qpdf could not read as it stands is not compared (nor judged:
			 * this reading is only for duplicates) */
			if (!got || qpdf_more_warnings(q)) {
				got = 0;
				(void)qpdf_get_error(q);
				while (qpdf_more_warnings(q))
					(void)qpdf_next_warning(q);
			}
			if (got && len <= room) {
				struct dss_old *o = &l->old[l->n_old++];
				c2s_sha256_oneshot(data, len, o->h);
				o->len = len;
				o->num = qpdf_oh_get_object_id(q, it);
				o->gen = qpdf_oh_get_generation(q, it);
			}
			free(data);
			if (lo)
				qpdf_oh_release(q, lo);
			qpdf_oh_release(q, dict);
		}
		qpdf_oh_release(q, it);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* Where each given blob goes: an old stream with the same bytes, an earlier blob of this
 * update, or a new stream (written here). */
static c2s_err place_blobs(struct pdf_writer *w, struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t(*h)[C2S_SHA256_LEN] = calloc(l->count + 1, sizeof(*h));
	l->ref = calloc(l->count + 1, sizeof(*l->ref));
	l->fresh = calloc(l->count + 1, sizeof(*l->fresh));
	ENSURE(h && l->ref && l->fresh, C2S_ERR_NOMEM);
	for (size_t i = 0; i < l->count; i++) {
		int found = 0;
		ENSURE(l->p[i] && l->n[i], C2S_ERR_ARG);
		c2s_sha256_oneshot(l->p[i], l->n[i], h[i]);
		for (size_t k = 0; k < l->n_old && !found; k++)
			if (l->old[k].len == l->n[i] &&
			    memcmp(l->old[k].h, h[i], sizeof(h[i])) == 0) {
				l->ref[i] = (struct dss_ref){l->old[k].num, l->old[k].gen};
				found = 1;
			}
		for (size_t k = 0; k < i && !found; k++)
			if (l->n[k] == l->n[i] && memcmp(h[k], h[i], sizeof(h[i])) == 0 &&
			    memcmp(l->p[k], l->p[i], l->n[i]) == 0) {
				l->ref[i] = l->ref[k];
				found = 1;
			}
		if (found)
			continue;
		int num;
		GUARD(pdf_w_new_num(w, &num));
		GUARD(pdf_w_begin_obj(w, num, 0));
		GUARD(pdf_w_printf(w, "<<\n/Length %zu\n>>\nstream\n", l->n[i]));
		GUARD(buf_put(&w->out, l->p[i], l->n[i]));
		GUARD(pdf_w_str(w, "\nendstream"));
		GUARD(pdf_w_end_obj(w));
		l->ref[i] = (struct dss_ref){num, 0};
		l->fresh[l->n_fresh++] = num;
	}
	ret = C2S_OK;
out:
	free(h);
	return ret;
}

/* "/Key [old... new...]" for one of the three lists. */
static c2s_err write_list(struct pdf_writer *w, qpdf_oh dss, const struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	qpdf_oh old = pdf_doc_get(w->d, dss, l->key);
	if (old && !qpdf_oh_is_array(w->d->q, old))
		old = 0;
	if (!old && !l->n_fresh) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(pdf_w_name(w, l->key));
	GUARD(pdf_w_str(w, " "));
	GUARD(pdf_w_array_plus(w, old, l->fresh, l->n_fresh));
	GUARD(pdf_w_str(w, "\n"));
	ret = C2S_OK;
out:
	return ret;
}

/* "/Name [refs]" of one list's blobs, each stream once; nothing when empty. */
static c2s_err write_refs(struct pdf_writer *w, const char *name, const struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (!l->count) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(pdf_w_printf(w, "/%s [", name));
	for (size_t i = 0; i < l->count; i++) {
		int seen = 0;
		for (size_t k = 0; k < i; k++)
			seen |= l->ref[k].num == l->ref[i].num;
		if (!seen)
			GUARD(pdf_w_printf(w, "%s%d %d R", i ? " " : "", l->ref[i].num,
			                   l->ref[i].gen));
	}
	GUARD(pdf_w_str(w, "]\n"));
	ret = C2S_OK;
out:
	return ret;
}

/* /VRI: the old entries (but one of the same key), and ours naming the streams that validate
 * the signature `key` identifies. */
static c2s_err write_vri(struct pdf_writer *w, qpdf_oh dss, const char *key,
                         const struct dss_list *l)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	char name[48];
	snprintf(name, sizeof(name), "/%s", key);
	const char *const skip[] = {name, NULL};
	qpdf_oh old = pdf_doc_get(w->d, dss, "/VRI");
	GUARD(pdf_w_str(w, "/VRI <<\n"));
	if (old && qpdf_oh_is_dictionary(w->d->q, old))
		GUARD(pdf_w_dict_body(w, old, skip));
	GUARD(pdf_w_name(w, key));
	GUARD(pdf_w_str(w, " <<\n"));
	GUARD(write_refs(w, "Cert", &l[0]));
	GUARD(write_refs(w, "CRL", &l[1]));
	GUARD(write_refs(w, "OCSP", &l[2]));
	GUARD(pdf_w_str(w, ">>\n>>\n"));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err write_dss(struct pdf_writer *w, qpdf_oh dss, int num, int gen, struct dss_list *l,
                         const char *vri_key)
{
	static const char *const skip[] = {"/Certs", "/CRLs", "/OCSPs", NULL};
	static const char *const skip_vri[] = {"/Certs", "/CRLs", "/OCSPs", "/VRI", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(pdf_w_begin_obj(w, num, gen));
	GUARD(pdf_w_str(w, "<<\n"));
	if (dss)
		GUARD(pdf_w_dict_body(w, dss, vri_key ? skip_vri : skip));
	for (int i = 0; i < 3; i++)
		GUARD(write_list(w, dss, &l[i]));
	if (vri_key)
		GUARD(write_vri(w, dss, vri_key, l));
	GUARD(pdf_w_str(w, ">>"));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

/* The catalog with /DSS; after our signature's update, with the /AcroForm that update wrote
 * (the original's parse does not know it). */
static c2s_err write_catalog(struct pdf_writer *w, int dss_num, const char *acroform)
{
	static const char *const skip[] = {"/DSS", NULL}, *const skip_af[] = {"/DSS", "/AcroForm",
	                                                                      NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_begin_obj(w, d->root_num, d->root_gen));
	GUARD(pdf_w_str(w, "<<\n"));
	GUARD(pdf_w_catalog_body(w, acroform ? skip_af : skip));
	if (acroform) {
		GUARD(pdf_w_str(w, "/AcroForm "));
		GUARD(pdf_w_str(w, acroform));
		GUARD(pdf_w_str(w, "\n"));
	}
	GUARD(pdf_w_printf(w, "/DSS %d 0 R\n>>", dss_num));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

static int vri_key_ok(const char *k)
{
	size_t n = 0;
	for (; k[n]; n++)
		if (!((k[n] >= '0' && k[n] <= '9') || (k[n] >= 'A' && k[n] <= 'F')))
			return 0;
	return n == 40;
}

static c2s_err check_dss(const struct pdf_dss *dss, size_t *bytes)
{
	const size_t counts[3] = {dss->n_certs, dss->n_crls, dss->n_ocsps};
	const size_t *lens[3] = {dss->cert_lens, dss->crl_lens, dss->ocsp_lens};
	const uint8_t *const *ps[3] = {dss->certs, dss->crls, dss->ocsps};
	*bytes = 0;
	if (dss->vri_key && !vri_key_ok(dss->vri_key))
		return C2S_ERR_ARG;
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

c2s_err pdf_dss_update(struct pdf_doc *d, const struct pdf_dss *dss, const struct pdf_after *after,
                       struct buf *update, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_writer w = {0};
	size_t bytes = 0;
	struct dss_budget b = {0, 0};
	struct dss_list l[3] = {
	    {.key = "/Certs", .p = dss->certs, .n = dss->cert_lens, .count = dss->n_certs},
	    {.key = "/CRLs", .p = dss->crls, .n = dss->crl_lens, .count = dss->n_crls},
	    {.key = "/OCSPs", .p = dss->ocsps, .n = dss->ocsp_lens, .count = dss->n_ocsps},
	};
	buf_init(update, 0);
	ENSURE(dss, C2S_ERR_ARG);
	GUARD(check_dss(dss, &bytes));
	if (after)
		pdf_w_init_after(&w, d, bytes + (16u << 20), after->base, after->s->sig_xref,
		                 after->s->next_num);
	else
		GUARD(pdf_w_init(&w, d, bytes + (16u << 20)));
	qpdf_oh old = pdf_doc_get(d, d->root, "/DSS");
	if (old && !qpdf_oh_is_dictionary(d->q, old))
		old = 0;
	GUARD(pdf_doc_check(d)); /* warnings from before are judged as they were */
	for (int i = 0; i < 3 && old; i++)
		GUARD(read_old(d, old, &l[i], &b));
	for (int i = 0; i < 3; i++)
		GUARD(place_blobs(&w, &l[i]));
	if (old && qpdf_oh_is_indirect(d->q, old)) {
		GUARD(write_dss(&w, old, qpdf_oh_get_object_id(d->q, old),
		                qpdf_oh_get_generation(d->q, old), l, dss->vri_key));
	} else {
		int num;
		GUARD(pdf_w_new_num(&w, &num));
		GUARD(write_dss(&w, old, num, 0, l, dss->vri_key));
		GUARD(write_catalog(&w, num, after ? after->s->acroform : NULL));
	}
	GUARD(pdf_w_finish(&w));
	GUARD(pdf_doc_check(d));
	*update = w.out;
	buf_init(&w.out, 0);
	ret = C2S_OK;
out:
	for (int i = 0; i < 3; i++) {
		free(l[i].old);
		free(l[i].ref);
		free(l[i].fresh);
	}
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
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
	GUARD(check_dss(dss, &bytes)); /* before the parse */
	GUARD(pdf_doc_open(&d, pdf, len, 0, why, why_cap));
	GUARD(pdf_dss_update(&d, dss, NULL, update, why, why_cap));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
	pdf_doc_close(&d);
	return ret;
}
