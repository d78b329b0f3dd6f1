/* Writer of our incremental update: objects, PDF syntax for names and text strings, and the
 * closing cross-reference section in the same form as the file's last one. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/base/sha256.h"
#include "pdf_int.h"

c2s_err pdf_w_init(struct pdf_writer *w, struct pdf_doc *d, size_t max)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->base = d->len;
	w->next_num = d->size;
	w->prev = d->prev;
	buf_init(&w->out, max);
	/* The update must start on a new line, whatever the original ends with. */
	if (d->len && d->pdf[d->len - 1] != '\n' && d->pdf[d->len - 1] != '\r')
		GUARD(buf_put(&w->out, "\n", 1));
	ret = C2S_OK;
out:
	return ret;
}

void pdf_w_init_after(struct pdf_writer *w, struct pdf_doc *d, size_t max, size_t base, size_t prev,
                      long long next_num)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
	w->base = base;
	w->next_num = next_num;
	w->prev = prev;
	buf_init(&w->out, max);
}

void pdf_w_free(struct pdf_writer *w)
{
	buf_free(&w->out);
	free(w->ents);
	w->ents = NULL;
	w->n_ents = w->cap_ents = 0;
}

c2s_err pdf_w_new_num(struct pdf_writer *w, int *num)
{
	if (w->next_num >= 8388607)
		return C2S_ERR_PDF_UNSUPPORTED;
	*num = (int)w->next_num++;
	return C2S_OK;
}

c2s_err pdf_w_str(struct pdf_writer *w, const char *s)
{
	return buf_put(&w->out, s, strlen(s));
}

c2s_err pdf_w_printf(struct pdf_writer *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return C2S_ERR_INTERNAL;
	return buf_put(&w->out, tmp, (size_t)n);
}

c2s_err pdf_w_begin_obj(struct pdf_writer *w, int num, int gen)
{
	for (size_t i = 0; i < w->n_ents; i++)
		if (w->ents[i].num == num) /* two revisions of one object in one section */
			return pdf_doc_fail(w->d, C2S_ERR_PDF_UNSUPPORTED,
			                    "object %d would be written twice", num);
	if (w->n_ents == w->cap_ents) {
		size_t nc = w->cap_ents ? w->cap_ents * 2 : 16;
		if (nc > PDF_MAX_NEW_OBJS)
			return C2S_ERR_TOO_BIG;
		struct pdf_xref_ent *e = realloc(w->ents, nc * sizeof(*e));
		if (!e)
			return C2S_ERR_NOMEM;
		w->ents = e;
		w->cap_ents = nc;
	}
	size_t abs = w->base + w->out.len;
	w->ents[w->n_ents++] =
	    (struct pdf_xref_ent){.num = num, .gen = gen, .off = abs - w->d->hdr_off};
	return pdf_w_printf(w, "%d %d obj\n", num, gen);
}

c2s_err pdf_w_end_obj(struct pdf_writer *w)
{
	return pdf_w_str(w, "\nendobj\n");
}

c2s_err pdf_w_name(struct pdf_writer *w, const char *name)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (name[0] == '/')
		name++;
	GUARD(buf_put(&w->out, "/", 1));
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s < 0x21 || *s > 0x7e || strchr("#()<>[]{}/%", *s))
			GUARD(pdf_w_printf(w, "#%02X", *s));
		else
			GUARD(buf_put(&w->out, s, 1));
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err pdf_w_text(struct pdf_writer *w, const char *utf8)
{
	c2s_err ret = pdf_text_string(&w->out, utf8);
	if (ret == C2S_ERR_ARG)
		return pdf_doc_fail(w->d, C2S_ERR_ARG, "a signature text is not valid UTF-8");
	return ret;
}

c2s_err pdf_w_value(struct pdf_writer *w, qpdf_oh v)
{
	const char *s = qpdf_oh_unparse(w->d->q, v);
	if (qpdf_has_error(w->d->q))
		return pdf_doc_check(w->d);
	return pdf_w_str(w, s);
}

static int in_list(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(key, *list) == 0)
			return 1;
	return 0;
}

c2s_err pdf_w_dict_body(struct pdf_writer *w, qpdf_oh dict, const char *const *skip)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	qpdf_data q = w->d->q;
	/* Keys first: the iterator is shared state inside qpdf, values are fetched after. */
	int n = 0, cap = 0;
	char **keys = NULL;
	qpdf_oh_begin_dict_key_iter(q, dict);
	while (qpdf_oh_dict_more_keys(q)) {
		const char *k = qpdf_oh_dict_next_key(q);
		ENSURE(n < PDF_MAX_ITEMS, C2S_ERR_PDF_UNSUPPORTED);
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nk = realloc(keys, (size_t)cap * sizeof(*nk));
			ENSURE(nk, C2S_ERR_NOMEM);
			keys = nk;
		}
		ENSURE((keys[n] = strdup(k)), C2S_ERR_NOMEM);
		n++;
	}
	for (int i = 0; i < n; i++) {
		if (in_list(keys[i], skip))
			continue;
		qpdf_oh v = qpdf_oh_get_key(q, dict, keys[i]);
		/* a reference is copied as it is, never resolved: the object it names may be
		 * one qpdf would warn about (a stream with a wrong /Length), which is no
		 * concern of an update that does not rewrite it */
		int skip_null = !qpdf_oh_is_indirect(q, v) && qpdf_oh_is_null(q, v);
		if (skip_null) {
			qpdf_oh_release(q, v);
			continue;
		}
		GUARD(pdf_w_name(w, keys[i]));
		GUARD(pdf_w_str(w, " "));
		ret = pdf_w_value(w, v);
		qpdf_oh_release(q, v);
		GUARD(ret);
		GUARD(pdf_w_str(w, "\n"));
	}
	GUARD(pdf_doc_check(w->d));
	ret = C2S_OK;
out:
	for (int i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return ret;
}

c2s_err pdf_w_array_plus(struct pdf_writer *w, qpdf_oh arr, const int *nums, size_t n)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	GUARD(pdf_w_str(w, "["));
	if (arr && qpdf_oh_is_array(w->d->q, arr)) {
		int cnt = qpdf_oh_get_array_n_items(w->d->q, arr);
		ENSURE(cnt <= PDF_MAX_ITEMS, C2S_ERR_PDF_UNSUPPORTED);
		for (int i = 0; i < cnt; i++) {
			qpdf_oh it = qpdf_oh_get_array_item(w->d->q, arr, i);
			ret = pdf_w_value(w, it);
			qpdf_oh_release(w->d->q, it);
			GUARD(ret);
			GUARD(pdf_w_str(w, " "));
		}
	}
	for (size_t i = 0; i < n; i++)
		GUARD(pdf_w_printf(w, "%s%d 0 R", i ? " " : "", nums[i]));
	GUARD(pdf_w_str(w, "]"));
	ret = C2S_OK;
out:
	return ret;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct pdf_xref_ent *x = a, *y = b;
	return (x->num > y->num) - (x->num < y->num);
}

/* /Root, /Info, /ID as the previous trailer has them (shared by both forms). */
static c2s_err trailer_keys(struct pdf_writer *w)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_printf(w, "/Root %d %d R\n", d->root_num, d->root_gen));
	qpdf_oh info = pdf_doc_get(d, d->trailer, "/Info");
	if (info && qpdf_oh_is_indirect(d->q, info)) {
		GUARD(pdf_w_printf(w, "/Info %d %d R\n", qpdf_oh_get_object_id(d->q, info),
		                   qpdf_oh_get_generation(d->q, info)));
	}
	qpdf_oh id = pdf_doc_get(d, d->trailer, "/ID");
	if (id && qpdf_oh_is_array(d->q, id) && qpdf_oh_get_array_n_items(d->q, id) == 2) {
		qpdf_oh a = qpdf_oh_get_array_item(d->q, id, 0),
		        b = qpdf_oh_get_array_item(d->q, id, 1);
		if (qpdf_oh_is_string(d->q, a) && qpdf_oh_is_string(d->q, b)) {
			/* the first element stays, the second changes with every revision (ISO
			 * 32000-1 14.4): 16 bytes of SHA-256 of this update's bytes so far */
			uint8_t h[C2S_SHA256_LEN];
			c2s_sha256_oneshot(w->out.data, w->out.len, h);
			GUARD(pdf_w_str(w, "/ID ["));
			GUARD(pdf_w_value(w, a));
			GUARD(pdf_w_str(w, " <"));
			for (int i = 0; i < 16; i++)
				GUARD(pdf_w_printf(w, "%02X", h[i]));
			GUARD(pdf_w_str(w, ">]\n"));
		}
	}
	GUARD(pdf_w_printf(w, "/Prev %zu\n", w->prev));
	GUARD(pdf_doc_check(d));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err finish_table(struct pdf_writer *w, size_t xref_off)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	/* Object 0 first, as Acrobat writes it: some readers (pypdf) take a section that does
	 * not start at 0 for a wrongly numbered table. */
	GUARD(pdf_w_str(w, "xref\n0 1\n0000000000 65535 f\r\n"));
	for (size_t i = 0; i < w->n_ents;) {
		size_t j = i + 1;
		while (j < w->n_ents && w->ents[j].num == w->ents[j - 1].num + 1)
			j++;
		GUARD(pdf_w_printf(w, "%d %zu\n", w->ents[i].num, j - i));
		for (; i < j; i++)
			GUARD(pdf_w_printf(w, "%010zu %05d n\r\n", w->ents[i].off, w->ents[i].gen));
	}
	GUARD(pdf_w_printf(w, "trailer\n<<\n/Size %lld\n", w->next_num));
	GUARD(trailer_keys(w));
	GUARD(pdf_w_printf(w, ">>\nstartxref\n%zu\n%%%%EOF\n", xref_off));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err put_be(struct buf *b, unsigned long long v, int width)
{
	uint8_t t[8];
	for (int i = width - 1; i >= 0; i--, v >>= 8)
		t[i] = (uint8_t)v;
	return buf_put(b, t, (size_t)width);
}

static c2s_err finish_stream(struct pdf_writer *w, size_t xref_off)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf rows;
	buf_init(&rows, (size_t)PDF_MAX_NEW_OBJS * 11);
	int ow = xref_off > 0xffffffffULL ? 8 : 4;
	for (size_t i = 0; i < w->n_ents; i++) {
		GUARD(buf_put_u8(&rows, 1));
		GUARD(put_be(&rows, w->ents[i].off, ow));
		GUARD(put_be(&rows, (unsigned)w->ents[i].gen, 2));
	}
	GUARD(
	    pdf_w_printf(w, "<<\n/Type /XRef\n/Size %lld\n/W [1 %d 2]\n/Index [", w->next_num, ow));
	for (size_t i = 0; i < w->n_ents;) {
		size_t j = i + 1;
		while (j < w->n_ents && w->ents[j].num == w->ents[j - 1].num + 1)
			j++;
		GUARD(pdf_w_printf(w, "%s%d %zu", i ? " " : "", w->ents[i].num, j - i));
		i = j;
	}
	GUARD(pdf_w_str(w, "]\n"));
	GUARD(trailer_keys(w));
	GUARD(pdf_w_printf(w, "/Length %zu\n>>\nstream\n", rows.len));
	GUARD(buf_put(&w->out, rows.data, rows.len));
	GUARD(pdf_w_printf(w, "\nendstream\nendobj\nstartxref\n%zu\n%%%%EOF\n", xref_off));
	ret = C2S_OK;
out:
	buf_free(&rows);
	return ret;
}

c2s_err pdf_w_finish(struct pdf_writer *w)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t xref_off = w->base + w->out.len - w->d->hdr_off;
	ENSURE(xref_off <= PDF_MAX_OFFSET, C2S_ERR_PDF_TOO_BIG);
	w->xref_off = xref_off;
	if (w->d->xref_stream) {
		int num;
		GUARD(pdf_w_new_num(w, &num));
		GUARD(pdf_w_begin_obj(w, num, 0)); /* the xref stream lists itself */
	}
	qsort(w->ents, w->n_ents, sizeof(*w->ents), ent_cmp);
	if (w->d->xref_stream)
		GUARD(finish_stream(w, xref_off));
	else
		GUARD(finish_table(w, xref_off));
	ret = C2S_OK;
out:
	return ret;
}

/* "1.7" / "/1.7" -> 17; -1 when not a version. */
static int version_of(const char *v)
{
	if (v && *v == '/')
		v++;
	if (!v || v[0] < '1' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9')
		return -1;
	return (v[0] - '0') * 10 + (v[2] - '0');
}

static int doc_version(struct pdf_doc *d)
{
	char hdr[4] = {0};
	if (d->hdr_off + 8 <= d->len)
		memcpy(hdr, d->pdf + d->hdr_off + 5, 3);
	int v = version_of(hdr);
	qpdf_oh cv = pdf_doc_get(d, d->root, "/Version");
	if (cv && qpdf_oh_is_name(d->q, cv)) {
		int c = version_of(qpdf_oh_get_name(d->q, cv));
		if (c > v)
			v = c;
	}
	pdf_doc_drop(d, cv);
	return v;
}

int pdf_doc_needs_esic(struct pdf_doc *d)
{
	int v = doc_version(d);
	if (v >= 20)
		return 0;
	if (v < 17)
		return 1;
	qpdf_oh ext = pdf_doc_get(d, d->root, "/Extensions");
	qpdf_oh esic = pdf_doc_get(d, ext, "/ESIC");
	qpdf_oh lvl = pdf_doc_get(d, esic, "/ExtensionLevel");
	int has = lvl && qpdf_oh_is_integer(d->q, lvl) && qpdf_oh_get_int_value(d->q, lvl) >= 1;
	pdf_doc_drop(d, lvl);
	pdf_doc_drop(d, esic);
	pdf_doc_drop(d, ext);
	return !has;
}

c2s_err pdf_w_catalog_body(struct pdf_writer *w, const char *const *skip)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	const char *all[16];
	size_t n = 0;
	qpdf_oh ext = 0;
	int esic = pdf_doc_needs_esic(d), version = esic && doc_version(d) < 17;
	for (; skip && skip[n] && n < 12; n++)
		all[n] = skip[n];
	if (esic)
		all[n++] = "/Extensions";
	if (version)
		all[n++] = "/Version";
	all[n] = NULL;
	GUARD(pdf_w_dict_body(w, d->root, all));
	if (esic) { /* the old extensions (an indirect dictionary is copied in), ours added */
		static const char *const skip_esic[] = {"/ESIC", NULL};
		ext = pdf_doc_get(d, d->root, "/Extensions");
		GUARD(pdf_w_str(w, "/Extensions <<\n"));
		if (ext && qpdf_oh_is_dictionary(d->q, ext))
			GUARD(pdf_w_dict_body(w, ext, skip_esic));
		GUARD(pdf_w_str(w, "/ESIC << /BaseVersion /1.7 /ExtensionLevel 1 >>\n>>\n"));
	}
	if (version)
		GUARD(pdf_w_str(w, "/Version /1.7\n"));
	ret = C2S_OK;
out:
	pdf_doc_drop(d, ext);
	return ret;
}
