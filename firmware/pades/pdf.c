/* pdf.h: prepare a signature as an incremental update (original bytes untouched), fill its
 * /Contents, and feed the signed byte ranges to a hash without concatenating them. */
#include "pdf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf_int.h"

#define PDF_CONTENTS_LIMIT (1u << 20) /* 1 MiB of DER at most */
#define PDF_BR_SLOT        32         /* "a b c" of the /ByteRange, space padded */
#define PDF_UPDATE_EXTRA   (16u << 20)

struct sig_pos {
	size_t br;       /* offset in the update of the ByteRange slot */
	size_t contents; /* offset in the update of '<' */
};

static c2s_err write_date(struct pdf_writer *w, time_t when)
{
	struct tm tm;
	if (!gmtime_r(&when, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return pdf_doc_fail(w->d, C2S_ERR_ARG, "the signing time is out of range");
	return pdf_w_printf(w, "/M (D:%04d%02d%02d%02d%02d%02d+00'00')\n", tm.tm_year + 1900,
	                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static c2s_err write_opt_text(struct pdf_writer *w, const char *key, const char *v)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (!v) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(pdf_w_str(w, key));
	GUARD(pdf_w_text(w, v));
	GUARD(pdf_w_str(w, "\n"));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err write_sig_dict(struct pdf_writer *w, int num, const struct pdf_sig_params *p,
                              struct sig_pos *pos)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(pdf_w_begin_obj(w, num, 0));
	GUARD(pdf_w_str(w, "<<\n/Type /Sig\n/Filter /Adobe.PPKLite\n"
	                   "/SubFilter /ETSI.CAdES.detached\n"));
	GUARD(write_date(w, p->when));
	GUARD(write_opt_text(w, "/Name ", p->name));
	GUARD(write_opt_text(w, "/Reason ", p->reason));
	GUARD(write_opt_text(w, "/Location ", p->location));
	GUARD(write_opt_text(w, "/ContactInfo ", p->contact));
	GUARD(pdf_w_str(w, "/ByteRange [0 "));
	pos->br = w->out.len;
	GUARD(pdf_w_printf(w, "%*s]\n/Contents ", PDF_BR_SLOT, ""));
	pos->contents = w->out.len;
	GUARD(pdf_w_str(w, "<"));
	GUARD(buf_reserve(&w->out, 2 * p->contents_max + 1));
	memset(w->out.data + w->out.len, '0', 2 * p->contents_max);
	w->out.len += 2 * p->contents_max;
	GUARD(pdf_w_str(w, ">\n>>"));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

/* /ByteRange [0 a b c]: everything but the hex string, '<' and '>' included. */
static c2s_err fill_ranges(struct pdf_writer *w, const struct sig_pos *pos, size_t cmax,
                           struct pdf_prepared *out)
{
	size_t total = w->base + w->out.len;
	out->range[0] = 0;
	out->range[1] = w->base + pos->contents;
	out->range[2] = w->base + pos->contents + 2 * cmax + 2;
	out->range[3] = total - out->range[2];
	out->contents_off = out->range[1] + 1;
	out->contents_max = cmax;
	out->orig_len = w->base;
	if (total > PDF_MAX_OFFSET)
		return C2S_ERR_PDF_TOO_BIG;
	char slot[PDF_BR_SLOT + 1];
	int n = snprintf(slot, sizeof(slot), "%zu %zu %zu", out->range[1], out->range[2],
	                 out->range[3]);
	if (n < 0 || n > PDF_BR_SLOT)
		return C2S_ERR_INTERNAL;
	memset(slot + n, ' ', (size_t)(PDF_BR_SLOT - n));
	memcpy(w->out.data + pos->br, slot, PDF_BR_SLOT);
	return C2S_OK;
}

static c2s_err check_params(struct pdf_doc *d, const struct pdf_sig_params *p)
{
	if (!p || !p->contents_max || p->contents_max > PDF_CONTENTS_LIMIT)
		return pdf_doc_fail(d, C2S_ERR_ARG, "the signature size reservation is invalid");
	return C2S_OK;
}

/* The parse and what the update changed, for pdf_append_dss_after. */
static c2s_err keep_session(struct pdf_session *s, const struct pdf_writer *w,
                            const struct pdf_form *f)
{
	s->sig_xref = w->xref_off;
	s->next_num = w->next_num;
	if (f->af_len) {
		s->acroform = strndup((const char *)w->out.data + f->af_off, f->af_len);
		if (!s->acroform)
			return C2S_ERR_NOMEM;
	}
	return C2S_OK;
}

static void session_free(struct pdf_session *s)
{
	if (!s)
		return;
	pdf_doc_close(&s->d);
	free(s->acroform);
	free(s);
}

c2s_err pdf_prepare(const uint8_t *pdf, size_t len, size_t max_len, const struct pdf_sig_params *p,
                    struct pdf_prepared *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_session *s = NULL;
	struct pdf_doc local, *d = &local;
	struct pdf_writer w = {0};
	struct pdf_form f = {0};
	struct sig_pos pos;
	int sig;
	if (!out)
		return C2S_ERR_ARG;
	memset(out, 0, sizeof(*out));
	memset(&local, 0, sizeof(local));
	buf_init(&out->update, 0);
	if (p && p->keep_for_dss) {
		ENSURE((s = calloc(1, sizeof(*s))), C2S_ERR_NOMEM);
		d = &s->d;
	}
	GUARD(pdf_doc_open(d, pdf, len, max_len, why, why_cap));
	GUARD(check_params(d, p));
	GUARD(pdf_doc_check_docmdp(d));
	GUARD(pdf_form_inspect(&f, d, p->field_name));
	GUARD(pdf_w_init(&w, d, 2 * p->contents_max + PDF_UPDATE_EXTRA));
	GUARD(pdf_w_new_num(&w, &sig));
	GUARD(write_sig_dict(&w, sig, p, &pos));
	GUARD(pdf_form_write(&w, &f, sig, p->no_page_annot));
	GUARD(pdf_w_finish(&w));
	GUARD(pdf_doc_check(d));
	GUARD(fill_ranges(&w, &pos, p->contents_max, out));
	if (s)
		GUARD(keep_session(s, &w, &f));
	out->update = w.out;
	buf_init(&w.out, 0);
	snprintf(out->notes, sizeof(out->notes), "%s", d->notes);
	if (s) {
		s->d.why = NULL; /* the caller's buffer ends with this call */
		s->d.why_cap = 0;
	}
	out->session = s;
	s = NULL;
	ret = C2S_OK;
out:
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
	pdf_form_free(&f);
	pdf_w_free(&w);
	if (s)
		session_free(s);
	else if (d == &local)
		pdf_doc_close(&local);
	return ret;
}

void pdf_prepared_free(struct pdf_prepared *pp)
{
	if (!pp)
		return;
	buf_free(&pp->update);
	session_free(pp->session);
	memset(pp, 0, sizeof(*pp));
}

c2s_err pdf_append_dss_after(const struct pdf_prepared *pp, const struct buf *sig_update,
                             const struct pdf_dss *dss, struct buf *update, char *why,
                             size_t why_cap)
{
	buf_init(update, 0);
	if (!pp || !pp->session || !sig_update || !dss)
		return C2S_ERR_ARG;
	struct pdf_session *s = pp->session;
	s->d.why = why; /* refusals from here on are this call's */
	s->d.why_cap = why_cap;
	if (why && why_cap)
		why[0] = 0;
	struct pdf_after after = {.base = pp->orig_len + sig_update->len, .s = s};
	return pdf_dss_update(&s->d, dss, &after, update, why, why_cap);
}

c2s_err pdf_set_contents(struct pdf_prepared *pp, const uint8_t *der, size_t len)
{
	static const char hx[] = "0123456789ABCDEF";
	if (!pp || (!der && len) || pp->contents_off < pp->orig_len + 1)
		return C2S_ERR_ARG;
	if (len > pp->contents_max)
		return C2S_ERR_TOO_BIG;
	size_t at = pp->contents_off - pp->orig_len;
	if (at + 2 * pp->contents_max + 1 > pp->update.len)
		return C2S_ERR_INTERNAL;
	uint8_t *h = pp->update.data + at;
	for (size_t i = 0; i < len; i++) {
		h[2 * i] = (uint8_t)hx[der[i] >> 4];
		h[2 * i + 1] = (uint8_t)hx[der[i] & 15];
	}
	memset(h + 2 * len, '0', 2 * (pp->contents_max - len));
	return C2S_OK;
}

void pdf_signed_ranges(const struct pdf_prepared *pp, const uint8_t *orig, pdf_chunk_cb cb,
                       void *ctx)
{
	/* Piece 1: the original, then the update up to '<'. Piece 2: from after '>'. */
	if (pp->orig_len)
		cb(ctx, orig, pp->orig_len);
	pdf_signed_update_ranges(pp, cb, ctx);
}

void pdf_signed_update_ranges(const struct pdf_prepared *pp, pdf_chunk_cb cb, void *ctx)
{
	size_t head = pp->range[1] - pp->orig_len;
	size_t tail = pp->range[2] - pp->orig_len;
	if (head)
		cb(ctx, pp->update.data, head);
	if (pp->range[3])
		cb(ctx, pp->update.data + tail, pp->range[3]);
}
