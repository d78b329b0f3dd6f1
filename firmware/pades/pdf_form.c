/* The interactive-form side of a signature: find the AcroForm, an empty signature field to
 * fill or a unique name for a new one, and write the new revisions of the field, the first
 * page (or its /Annots array), the AcroForm and the catalog as needed. With no_page_annot
 * (customer signatures) no page and no array is written: the widget is in no page's /Annots
 * and the AcroForm's /Fields is a direct array. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf_int.h"

#define FORM_MAX_FIELDS 10000
#define FORM_MAX_DEPTH  16
#define FORM_MAX_SUFFIX 100000

static c2s_err walk(struct pdf_form *f, struct pdf_doc *d, qpdf_oh arr, int depth, int sig,
                    const char *want, struct pdf_seen *seen);

static c2s_err add_name(struct pdf_form *f, const char *utf8)
{
	if (f->n_names == f->cap_names) {
		size_t nc = f->cap_names ? f->cap_names * 2 : 8;
		char **n = realloc(f->names, nc * sizeof(*n));
		if (!n)
			return C2S_ERR_NOMEM;
		f->names = n;
		f->cap_names = nc;
	}
	f->names[f->n_names] = strdup(utf8);
	if (!f->names[f->n_names])
		return C2S_ERR_NOMEM;
	f->n_names++;
	return C2S_OK;
}

static int name_taken(const struct pdf_form *f, const char *n)
{
	for (size_t i = 0; i < f->n_names; i++)
		if (strcmp(f->names[i], n) == 0)
			return 1;
	return 0;
}

/* An empty signature field: /FT /Sig (own or inherited), no /V, indirect, a terminal field.
 * Looking at its kids costs from the document's budget. */
static int is_empty_sig(struct pdf_doc *d, qpdf_oh fld, int sig)
{
	if (!sig || !qpdf_oh_is_indirect(d->q, fld))
		return 0;
	qpdf_oh v = pdf_doc_get(d, fld, "/V"), kids = pdf_doc_get(d, fld, "/Kids");
	int empty = !v && !d->over;
	int n = empty && kids && qpdf_oh_is_array(d->q, kids)
	            ? qpdf_oh_get_array_n_items(d->q, kids)
	            : 0;
	for (int i = 0; i < n && empty && !d->over; i++) {
		qpdf_oh k = pdf_doc_item(d, kids, i), t = pdf_doc_get(d, k, "/T");
		if (t)
			empty = 0; /* has child fields: not terminal */
		pdf_doc_drop(d, t);
		pdf_doc_drop(d, k);
	}
	pdf_doc_drop(d, v);
	pdf_doc_drop(d, kids);
	return empty && !d->over;
}

/* An empty field we do not fill: /Lock (filling it would lock fields we do not know about)
 * or /SV (seed values may demand a filter, a digest or a reason we do not write). A new
 * field is used instead, and the note says why. */
static int constrained(struct pdf_doc *d, qpdf_oh fld, const char *name)
{
	const char *why = NULL;
	qpdf_oh lock = pdf_doc_get(d, fld, "/Lock"), sv = pdf_doc_get(d, fld, "/SV");
	if (lock)
		why = "/Lock";
	else if (sv)
		why = "/SV";
	if (why)
		pdf_doc_note(d, "empty signature field \"%.60s\" has %s: a new field was added",
		             name, why);
	pdf_doc_drop(d, lock);
	pdf_doc_drop(d, sv);
	return why != NULL;
}

/* One field: its name (top level), whether it is the empty field to fill, its kids. Shared
 * and cyclic kids are walked once (seen); the depth is bounded. */
static c2s_err walk_field(struct pdf_form *f, struct pdf_doc *d, qpdf_oh fld, int depth, int sig,
                          const char *want, struct pdf_seen *seen)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	qpdf_oh ft = 0, t = 0, kids = 0;
	int fresh = fld ? pdf_seen_add(d, seen, fld) : 0;
	ENSURE(fresh >= 0, C2S_ERR_NOMEM);
	if (fld && !fresh && depth > 0) { /* a field has one parent: validators would loop */
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the form's field tree reaches object %d twice through /Kids (a "
		                   "cycle or a shared kid; each field has one parent)",
		                   qpdf_oh_get_object_id(d->q, fld));
		goto out;
	}
	if (!fresh || !qpdf_oh_is_dictionary(d->q, fld)) { /* listed twice in /Fields: once */
		ret = C2S_OK;
		goto out;
	}
	if (++f->visited > FORM_MAX_FIELDS) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED, "the form has more than %d fields",
		                   FORM_MAX_FIELDS);
		goto out;
	}
	ft = pdf_doc_get(d, fld, "/FT");
	t = pdf_doc_get(d, fld, "/T");
	int fsig = ft ? pdf_doc_is_name(d, ft, "/Sig") : sig;
	/* qpdf's returned strings live only until its next call: keep a copy */
	const char *tn = NULL;
	if (depth == 0 && t && qpdf_oh_is_string(d->q, t)) {
		GUARD(add_name(f, qpdf_oh_get_utf8_value(d->q, t)));
		tn = f->names[f->n_names - 1];
	}
	int named = tn && want && strcmp(tn, want) == 0;
	if ((!f->empty || (named && !f->wanted)) && is_empty_sig(d, fld, fsig) &&
	    !constrained(d, fld, tn ? tn : "")) {
		pdf_doc_drop(d, f->empty);
		f->empty = fld;
		f->wanted = named;
		fld = 0; /* kept */
	}
	kids = pdf_doc_get(d, fld ? fld : f->empty, "/Kids");
	if (kids && qpdf_oh_is_array(d->q, kids) && qpdf_oh_get_array_n_items(d->q, kids) > 0) {
		if (depth + 1 >= FORM_MAX_DEPTH) {
			ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
			                   "the form's field tree is deeper than %d levels",
			                   FORM_MAX_DEPTH);
			goto out;
		}
		GUARD(walk(f, d, kids, depth + 1, fsig, want, seen));
	}
	ret = C2S_OK;
out:
	pdf_doc_drop(d, ft);
	pdf_doc_drop(d, t);
	pdf_doc_drop(d, kids);
	pdf_doc_drop(d, fld);
	return ret;
}

static c2s_err walk(struct pdf_form *f, struct pdf_doc *d, qpdf_oh arr, int depth, int sig,
                    const char *want, struct pdf_seen *seen)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	int n = qpdf_oh_get_array_n_items(d->q, arr);
	if (n > FORM_MAX_FIELDS) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "a list of form fields has %d items, at most %d are supported",
		                   n, FORM_MAX_FIELDS);
		goto out;
	}
	for (int i = 0; i < n && !d->over; i++)
		GUARD(walk_field(f, d, pdf_doc_item(d, arr, i), depth, sig, want, seen));
	GUARD(pdf_doc_check(d));
	ret = C2S_OK;
out:
	return ret;
}

/* A partial field name may not contain '.'; an empty wish means "Signature1". A name cut
 * to fit loses its last (possibly partial) UTF-8 character. */
static void base_name(const char *want, char *out, size_t cap)
{
	const char *src = want && *want ? want : "Signature1";
	snprintf(out, cap, "%s", src);
	size_t l = strlen(out);
	if (strlen(src) > l) {
		while (l && ((unsigned char)out[l - 1] & 0xc0) == 0x80)
			l--;
		if (l && (unsigned char)out[l - 1] >= 0xc0)
			l--;
		out[l] = 0;
	}
	for (char *c = out; *c; c++)
		if (*c == '.')
			*c = '_';
}

static c2s_err unique_name(struct pdf_form *f, const char *want)
{
	char base[sizeof(f->name) - 11];
	base_name(want, f->name, sizeof(f->name));
	if (!name_taken(f, f->name))
		return C2S_OK;
	base_name(want, base, sizeof(base));
	size_t l = strlen(base);
	while (l > 0 && base[l - 1] >= '0' && base[l - 1] <= '9')
		base[--l] = 0;
	for (unsigned i = 1; i < FORM_MAX_SUFFIX; i++) {
		snprintf(f->name, sizeof(f->name), "%s%u", base, i);
		if (!name_taken(f, f->name))
			return C2S_OK;
	}
	return C2S_ERR_PDF_UNSUPPORTED;
}

c2s_err pdf_form_inspect(struct pdf_form *f, struct pdf_doc *d, const char *want)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	memset(f, 0, sizeof(*f));
	qpdf_oh af = pdf_doc_get(d, d->root, "/AcroForm");
	if (af && qpdf_oh_is_dictionary(d->q, af)) {
		f->acroform = af;
		f->fields = pdf_doc_get(d, af, "/Fields");
		if (f->fields && !qpdf_oh_is_array(d->q, f->fields))
			f->fields = 0;
		if (f->fields) {
			struct pdf_seen seen = {0};
			ret = walk(f, d, f->fields, 0, 0, want, &seen);
			pdf_seen_free(&seen);
			GUARD(ret);
		}
	}
	if (f->empty) {
		qpdf_oh t = pdf_doc_get(d, f->empty, "/T");
		snprintf(f->name, sizeof(f->name), "%s",
		         t && qpdf_oh_is_string(d->q, t) ? qpdf_oh_get_utf8_value(d->q, t) : "");
	} else {
		GUARD(unique_name(f, want));
		GUARD(pdf_doc_first_page(d, &f->page));
	}
	GUARD(pdf_doc_check(d));
	ret = C2S_OK;
out:
	return ret;
}

void pdf_form_free(struct pdf_form *f)
{
	for (size_t i = 0; i < f->n_names; i++)
		free(f->names[i]);
	free(f->names);
	f->names = NULL;
	f->n_names = f->cap_names = 0;
}

static int oh_num(struct pdf_doc *d, qpdf_oh o)
{
	return qpdf_oh_get_object_id(d->q, o);
}

static int oh_gen(struct pdf_doc *d, qpdf_oh o)
{
	return qpdf_oh_get_generation(d->q, o);
}

static int is_ind_array(struct pdf_doc *d, qpdf_oh o)
{
	return o && qpdf_oh_is_indirect(d->q, o) && qpdf_oh_is_array(d->q, o);
}

/* The new field and widget in one dictionary (invisible: zero /Rect, Print + Locked). */
static c2s_err write_new_field(struct pdf_writer *w, struct pdf_form *f, int fnum, int sig)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_begin_obj(w, fnum, 0));
	GUARD(pdf_w_str(w, "<<\n/Type /Annot\n/Subtype /Widget\n/FT /Sig\n/T "));
	GUARD(pdf_w_text(w, f->name));
	GUARD(pdf_w_printf(w, "\n/V %d 0 R\n/F 132\n/Rect [0 0 0 0]\n/P %d %d R\n>>", sig,
	                   oh_num(d, f->page), oh_gen(d, f->page)));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

/* Adds the widget to the first page's /Annots: a new revision of an indirect /Annots
 * array, else of the page itself. */
static c2s_err write_page(struct pdf_writer *w, struct pdf_form *f, int fnum)
{
	static const char *const skip[] = {"/Annots", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	qpdf_oh annots = pdf_doc_get(d, f->page, "/Annots");
	if (is_ind_array(d, annots)) {
		GUARD(pdf_w_begin_obj(w, oh_num(d, annots), oh_gen(d, annots)));
		GUARD(pdf_w_array_plus(w, annots, &fnum, 1));
	} else {
		GUARD(pdf_w_begin_obj(w, oh_num(d, f->page), oh_gen(d, f->page)));
		GUARD(pdf_w_str(w, "<<\n"));
		GUARD(pdf_w_dict_body(w, f->page, skip));
		GUARD(pdf_w_str(w, "/Annots "));
		GUARD(pdf_w_array_plus(w, annots && qpdf_oh_is_array(d->q, annots) ? annots : 0,
		                       &fnum, 1));
		GUARD(pdf_w_str(w, "\n>>"));
	}
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

/* The body of the new AcroForm: old keys, /SigFlags 3, /Fields with the new field. An
 * indirect /Fields array gets its own revision (written by write_acroform), except with
 * no_page_annot: then /Fields is always a direct copy of the old items (plus the new field),
 * so that the update holds no array a reader could take for another one (an /Annots, a
 * /Contents or a /Kids array numbered like it). */
static c2s_err write_af_body(struct pdf_writer *w, struct pdf_form *f, int fnum)
{
	static const char *const skip[] = {"/Fields", "/SigFlags", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_str(w, "<<\n"));
	if (f->acroform)
		GUARD(pdf_w_dict_body(w, f->acroform, skip));
	GUARD(pdf_w_str(w, "/SigFlags 3\n/Fields "));
	if (f->no_page_annot)
		GUARD(pdf_w_array_plus(w, f->fields, &fnum, f->empty ? 0 : 1));
	else if (is_ind_array(d, f->fields) || (f->empty && f->fields))
		GUARD(pdf_w_value(w, f->fields));
	else
		GUARD(pdf_w_array_plus(w, f->fields, &fnum, f->empty ? 0 : 1));
	GUARD(pdf_w_str(w, "\n>>"));
	ret = C2S_OK;
out:
	return ret;
}

/* The catalog with the new /AcroForm: `af_num` (a new object), `keep` (the indirect one,
 * rewritten in its own object) or a direct body; and the ESIC extension when missing. */
static c2s_err write_catalog(struct pdf_writer *w, struct pdf_form *f, int fnum, int af_num,
                             int keep)
{
	static const char *const skip[] = {"/AcroForm", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_begin_obj(w, d->root_num, d->root_gen));
	GUARD(pdf_w_str(w, "<<\n"));
	GUARD(pdf_w_catalog_body(w, skip));
	GUARD(pdf_w_str(w, "/AcroForm "));
	f->af_off = w->out.len;
	if (af_num)
		GUARD(pdf_w_printf(w, "%d 0 R", af_num));
	else if (keep)
		GUARD(pdf_w_printf(w, "%d %d R", oh_num(d, f->acroform), oh_gen(d, f->acroform)));
	else
		GUARD(write_af_body(w, f, fnum));
	f->af_len = w->out.len - f->af_off;
	GUARD(pdf_w_str(w, "\n>>"));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err write_acroform(struct pdf_writer *w, struct pdf_form *f, int fnum)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	int af_num = 0;
	if (f->acroform && qpdf_oh_is_indirect(d->q, f->acroform)) {
		GUARD(pdf_w_begin_obj(w, oh_num(d, f->acroform), oh_gen(d, f->acroform)));
		GUARD(write_af_body(w, f, fnum));
		GUARD(pdf_w_end_obj(w));
		if (pdf_doc_needs_esic(d)) /* a catalog revision only to declare PAdES */
			GUARD(write_catalog(w, f, fnum, 0, 1));
	} else if (!f->acroform) {
		GUARD(pdf_w_new_num(w, &af_num));
		GUARD(pdf_w_begin_obj(w, af_num, 0));
		GUARD(write_af_body(w, f, fnum));
		GUARD(pdf_w_end_obj(w));
		GUARD(write_catalog(w, f, fnum, af_num, 0));
	} else {
		GUARD(write_catalog(w, f, fnum, 0, 0));
	}
	/* /Fields may be the very array that is the page's /Annots (write_page wrote its new
	 * revision, with the field, already) */
	qpdf_oh annots = f->page ? pdf_doc_get(d, f->page, "/Annots") : 0;
	int same = is_ind_array(d, annots) && is_ind_array(d, f->fields) &&
	           oh_num(d, annots) == oh_num(d, f->fields) &&
	           oh_gen(d, annots) == oh_gen(d, f->fields);
	pdf_doc_drop(d, annots);
	if (!f->empty && !f->no_page_annot && is_ind_array(d, f->fields) && !same) {
		GUARD(pdf_w_begin_obj(w, oh_num(d, f->fields), oh_gen(d, f->fields)));
		GUARD(pdf_w_array_plus(w, f->fields, &fnum, 1));
		GUARD(pdf_w_end_obj(w));
	}
	ret = C2S_OK;
out:
	return ret;
}

/* The empty field, filled: its keys plus /V. */
static c2s_err write_filled_field(struct pdf_writer *w, struct pdf_form *f, int sig)
{
	static const char *const skip[] = {"/V", NULL};
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc *d = w->d;
	GUARD(pdf_w_begin_obj(w, oh_num(d, f->empty), oh_gen(d, f->empty)));
	GUARD(pdf_w_str(w, "<<\n"));
	GUARD(pdf_w_dict_body(w, f->empty, skip));
	GUARD(pdf_w_printf(w, "/V %d 0 R\n>>", sig));
	GUARD(pdf_w_end_obj(w));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err pdf_form_write(struct pdf_writer *w, struct pdf_form *f, int sig, int no_page_annot)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	int fnum = 0;
	f->no_page_annot = no_page_annot;
	if (f->empty) {
		GUARD(write_filled_field(w, f, sig));
	} else {
		GUARD(pdf_w_new_num(w, &fnum));
		GUARD(write_new_field(w, f, fnum, sig));
		/* the widget is invisible: in /Fields it is a signature; in a page's /Annots
		 * only for seals (a new page revision could change what the page shows) */
		if (!no_page_annot)
			GUARD(write_page(w, f, fnum));
	}
	GUARD(write_acroform(w, f, fnum));
	ret = C2S_OK;
out:
	return ret;
}
