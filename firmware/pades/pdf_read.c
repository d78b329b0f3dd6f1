/* Reading the input PDF: header and tail checks by hand, the rest through qpdf's C API.
 * Only what the update needs is resolved (trailer, catalog, first page, AcroForm, /Perms);
 * qpdf reads objects lazily, so the cost does not grow with the number of pages. One work
 * budget per document bounds what a hostile shape (shared or cyclic kids, huge arrays) can
 * cost: every fetch is counted, walks keep a visited set, and before qpdf parses anything
 * a linear pass refuses an object too large for qpdf to hold (pdf_prescan.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf_int.h"

static c2s_err over_budget(struct pdf_doc *d)
{
	if (d->why && d->why_cap)
		snprintf(d->why, d->why_cap,
		         "the PDF's structure is too large to inspect: more than %d objects "
		         "visited (shared, cyclic or huge trees of pages or fields)",
		         PDF_MAX_WORK);
	return C2S_ERR_PDF_UNSUPPORTED;
}

c2s_err pdf_doc_fail(struct pdf_doc *d, c2s_err e, const char *fmt, ...)
{
	if (d->over) /* whatever failed next was a consequence of the budget */
		return over_budget(d);
	if (d->why && d->why_cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->why, d->why_cap, fmt, ap);
		va_end(ap);
	}
	return e;
}

void pdf_doc_note(struct pdf_doc *d, const char *fmt, ...)
{
	size_t l = strlen(d->notes);
	if (l + 8 >= sizeof(d->notes))
		return;
	if (l)
		l += (size_t)snprintf(d->notes + l, sizeof(d->notes) - l, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->notes + l, sizeof(d->notes) - l, fmt, ap);
	va_end(ap);
	for (char *c = d->notes + l; *c; c++) /* names and field titles come from the file */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0;
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Reads an unsigned decimal at *p (< end); fails on overflow or no digits. */
static int read_uint(const uint8_t **p, const uint8_t *end, unsigned long long *v)
{
	unsigned long long x = 0;
	const uint8_t *s = *p;
	while (s < end && is_digit(*s)) {
		if (x > (PDF_MAX_OFFSET * 10ULL))
			return -1;
		x = x * 10 + (unsigned)(*s - '0');
		s++;
	}
	if (s == *p)
		return -1;
	*p = s;
	*v = x;
	return 0;
}

static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

static int find_header(const uint8_t *pdf, size_t len, size_t *off)
{
	size_t lim = len < PDF_HDR_WINDOW + 5 ? len : PDF_HDR_WINDOW + 5;
	const uint8_t *h = memmem(pdf, lim, "%PDF-", 5);
	if (!h)
		return -1;
	*off = (size_t)(h - pdf);
	return 0;
}

/* "N G obj" at x. */
static int is_obj_header(const uint8_t *x, const uint8_t *end)
{
	unsigned long long n, g;
	if (read_uint(&x, end, &n) != 0 || x >= end || !is_ws(*x))
		return 0;
	x = skip_ws(x, end);
	if (read_uint(&x, end, &g) != 0 || x >= end || !is_ws(*x))
		return 0;
	x = skip_ws(x, end);
	return (size_t)(end - x) >= 3 && memcmp(x, "obj", 3) == 0;
}

/* The last "startxref N" in the tail, and the kind of section at N. */
static c2s_err read_tail(struct pdf_doc *d)
{
	size_t start = d->len > PDF_TAIL_WINDOW ? d->len - PDF_TAIL_WINDOW : 0;
	const uint8_t *tail = d->pdf + start, *end = d->pdf + d->len, *hit = NULL;
	for (const uint8_t *s = tail; s && s < end;) {
		const uint8_t *f = memmem(s, (size_t)(end - s), "startxref", 9);
		if (f)
			hit = f;
		s = f ? f + 1 : NULL;
	}
	if (!hit)
		return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED,
		                    "no startxref at the end of the file (truncated?)");
	const uint8_t *p = skip_ws(hit + 9, end);
	unsigned long long v;
	if (read_uint(&p, end, &v) != 0 || v >= d->len - d->hdr_off)
		return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED, "startxref offset is invalid");
	/* Our /Prev names the section itself, also when startxref points at whitespace
	 * before it (a harmless defect some producers write) */
	const uint8_t *x = skip_ws(d->pdf + d->hdr_off + v, end);
	d->prev = (size_t)(x - (d->pdf + d->hdr_off));
	if ((size_t)(end - x) >= 4 && memcmp(x, "xref", 4) == 0) {
		d->xref_stream = 0;
		return C2S_OK;
	}
	if (is_obj_header(x, end)) {
		d->xref_stream = 1;
		return C2S_OK;
	}
	return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED,
	                    "startxref does not point to a cross-reference section");
}

/* Maps a qpdf error to our refusal. */
static c2s_err qpdf_failure(struct pdf_doc *d)
{
	qpdf_error e = qpdf_get_error(d->q);
	const char *detail = e ? qpdf_get_error_message_detail(d->q, e) : "unknown error";
	if (e && qpdf_get_error_code(d->q, e) == qpdf_e_password)
		return pdf_doc_fail(d, C2S_ERR_PDF_ENCRYPTED,
		                    "the PDF is encrypted with an open password");
	return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED, "qpdf cannot read the PDF: %s", detail);
}

/* A warning that says nothing against an update appended to the file as it is: the update
 * writes new revisions of whole objects and its own xref section. Returns 1 (and notes it)
 * when harmless. */
static int harmless(struct pdf_doc *d, qpdf_error e, const char *w)
{
	static const char dup[] = "dictionary has duplicated key ";
	static const char size[] = "reported number of objects (";
	static const char ws[] = "extraneous whitespace seen before xref";
	static const char len[] = "recovered stream length: ";
	int stream = strcmp(w, "expected endstream") == 0 ||
	             strcmp(w, "attempting to recover stream length") == 0 ||
	             strncmp(w, len, sizeof(len) - 1) == 0;
	/* not the section our /Prev names (the last xref stream): validators would complain
	 * about the signed file's own chain */
	/* not an xref stream's (qpdf says "xref stream: object N"): the signed file's own chain
	 * of sections would carry it, and validators complain about it */
	if (stream && strstr(qpdf_get_error_full_text(d->q, e), "xref stream:"))
		return 0;
	if (stream && strncmp(w, len, sizeof(len) - 1) != 0)
		return 1; /* "recovered stream length" follows, or a refusal does */
	if (stream) {
		pdf_doc_note(d, "a stream's /Length is wrong (%s)", w);
		return 1;
	}
	if (strncmp(w, dup, sizeof(dup) - 1) == 0) {
		pdf_doc_note(d, "%s", w);
		return 1;
	}
	if (strcmp(w, ws) == 0) {
		pdf_doc_note(d, "startxref points at whitespace before the xref section");
		return 1;
	}
	if (strncmp(w, size, sizeof(size) - 1) == 0) {
		/* "... (S) is not one plus the highest object number (M)": new objects are
		 * numbered past both */
		const char *m = strrchr(w, '(');
		char *end = NULL;
		long long hi = m ? strtoll(m + 1, &end, 10) : -1;
		if (!end || *end != ')' || hi < 0 || hi > 8000000)
			return 0;
		if (hi > d->max_obj)
			d->max_obj = hi;
		pdf_doc_note(d, "trailer /Size is not one above the highest object (%lld)", hi);
		return 1;
	}
	return 0;
}

c2s_err pdf_doc_check(struct pdf_doc *d)
{
	if (d->over)
		return over_budget(d);
	if (qpdf_has_error(d->q))
		return qpdf_failure(d);
	while (qpdf_more_warnings(d->q)) {
		qpdf_error e = qpdf_next_warning(d->q);
		const char *detail = e ? qpdf_get_error_message_detail(d->q, e) : "?";
		if (e && harmless(d, e, detail))
			continue;
		/* "file is damaged" is followed by what was wrong */
		if (e && strcmp(detail, "file is damaged") == 0 && qpdf_more_warnings(d->q)) {
			qpdf_error n = qpdf_next_warning(d->q);
			if (n)
				detail = qpdf_get_error_message_detail(d->q, n);
		}
		if (d->lenient) {
			if (!d->damage[0])
				snprintf(d->damage, sizeof(d->damage), "%s", detail);
			continue;
		}
		return pdf_doc_fail(
		    d, C2S_ERR_PDF_DAMAGED,
		    "the PDF is damaged (qpdf had to repair it: %s); an incremental "
		    "update would not be valid, repair and resave it first",
		    detail);
	}
	return C2S_OK;
}

/* One unit of work; 0 once the budget is spent. */
static int spend(struct pdf_doc *d)
{
	if (d->over)
		return 0;
	if (++d->work > PDF_MAX_WORK) {
		d->over = 1;
		return 0;
	}
	return 1;
}

qpdf_oh pdf_doc_get(struct pdf_doc *d, qpdf_oh dict, const char *key)
{
	if (!dict || !spend(d) || !qpdf_oh_is_dictionary(d->q, dict) ||
	    !qpdf_oh_has_key(d->q, dict, key))
		return 0;
	qpdf_oh v = qpdf_oh_get_key(d->q, dict, key);
	if (qpdf_oh_is_null(d->q, v)) {
		qpdf_oh_release(d->q, v);
		return 0;
	}
	return v;
}

qpdf_oh pdf_doc_item(struct pdf_doc *d, qpdf_oh arr, int i)
{
	if (!arr || !spend(d))
		return 0;
	return qpdf_oh_get_array_item(d->q, arr, i);
}

void pdf_doc_drop(struct pdf_doc *d, qpdf_oh oh)
{
	if (oh)
		qpdf_oh_release(d->q, oh);
}

static uint64_t seen_key(struct pdf_doc *d, qpdf_oh oh)
{
	uint64_t num = (uint64_t)(unsigned)qpdf_oh_get_object_id(d->q, oh);
	uint64_t gen = (uint64_t)(unsigned)qpdf_oh_get_generation(d->q, oh);
	return (num << 20 | (gen & 0xfffff)) + 1; /* 0 marks an empty slot */
}

static size_t seen_slot(const struct pdf_seen *s, uint64_t k)
{
	uint64_t h = k * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(h >> 20) & (s->cap - 1);
	while (s->slots[i] && s->slots[i] != k)
		i = (i + 1) & (s->cap - 1);
	return i;
}

int pdf_seen_add(struct pdf_doc *d, struct pdf_seen *s, qpdf_oh oh)
{
	if (!qpdf_oh_is_indirect(d->q, oh))
		return 1;
	uint64_t k = seen_key(d, oh);
	if (2 * (s->n + 1) > s->cap) { /* grow: at most 2x the work budget */
		size_t nc = s->cap ? 2 * s->cap : 256;
		uint64_t *ns = calloc(nc, sizeof(*ns));
		if (!ns)
			return -1;
		struct pdf_seen g = {ns, nc, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				g.slots[seen_slot(&g, s->slots[i])] = s->slots[i], g.n++;
		free(s->slots);
		*s = g;
	}
	size_t i = seen_slot(s, k);
	if (s->slots[i])
		return 0;
	s->slots[i] = k;
	s->n++;
	return 1;
}

void pdf_seen_free(struct pdf_seen *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

int pdf_doc_is_name(struct pdf_doc *d, qpdf_oh oh, const char *name)
{
	return oh && qpdf_oh_is_name(d->q, oh) && strcmp(qpdf_oh_get_name(d->q, oh), name) == 0;
}

static c2s_err open_qpdf(struct pdf_doc *d)
{
	d->q = qpdf_init();
	if (!d->q)
		return C2S_ERR_NOMEM;
	qpdf_silence_errors(d->q);
	qpdf_set_suppress_warnings(d->q, QPDF_TRUE);
	/* Recovery on, and every warning judged (pdf_doc_check): qpdf reports a rebuilt xref
	 * table as "file is damaged" (refused), and a stream whose /Length is wrong is read
	 * to its "endstream" instead of becoming null (harmless: we only ever copy a
	 * reference to it, and reading a dictionary's keys through the C API resolves every
	 * value) */
	qpdf_set_attempt_recovery(d->q, QPDF_TRUE);
	qpdflogger_handle l = qpdflogger_create();
	qpdflogger_set_info(l, qpdf_log_dest_discard, NULL, NULL);
	qpdflogger_set_warn(l, qpdf_log_dest_discard, NULL, NULL);
	qpdflogger_set_error(l, qpdf_log_dest_discard, NULL, NULL);
	qpdf_set_logger(d->q, l);
	qpdflogger_cleanup(&l);
	if (qpdf_read_memory(d->q, "input.pdf", (const char *)d->pdf, d->len, NULL) & QPDF_ERRORS)
		return qpdf_failure(d);
	if (qpdf_is_encrypted(d->q))
		return pdf_doc_fail(d, C2S_ERR_PDF_ENCRYPTED,
		                    "the PDF is encrypted; send it without encryption");
	return pdf_doc_check(d);
}

static c2s_err read_trailer(struct pdf_doc *d)
{
	d->trailer = qpdf_get_trailer(d->q);
	d->root = pdf_doc_get(d, d->trailer, "/Root");
	if (qpdf_has_error(d->q))
		return qpdf_failure(d);
	if (!d->root || !qpdf_oh_is_indirect(d->q, d->root) ||
	    !qpdf_oh_is_dictionary(d->q, d->root))
		return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED,
		                    "the PDF has no usable catalog (/Root)");
	d->root_num = qpdf_oh_get_object_id(d->q, d->root);
	d->root_gen = qpdf_oh_get_generation(d->q, d->root);
	qpdf_oh sz = pdf_doc_get(d, d->trailer, "/Size");
	if (!sz || !qpdf_oh_is_integer(d->q, sz) || qpdf_oh_get_int_value(d->q, sz) < 1 ||
	    qpdf_oh_get_int_value(d->q, sz) > 8000000)
		return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED, "the trailer has no valid /Size");
	d->size = qpdf_oh_get_int_value(d->q, sz);
	pdf_doc_drop(d, sz);
	/* a /Size below the highest object (qpdf said so in a warning) is raised: our new
	 * objects must not take the number of an existing one */
	if (d->max_obj >= d->size)
		d->size = d->max_obj + 1;
	if (d->root_num >= d->size)
		return pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED,
		                    "the catalog is beyond the trailer /Size");
	return pdf_doc_check(d);
}

static c2s_err doc_open(struct pdf_doc *d, const uint8_t *pdf, size_t len, size_t max_len,
                        int lenient, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	memset(d, 0, sizeof(*d));
	d->lenient = lenient;
	d->pdf = pdf;
	d->len = len;
	d->why = why;
	d->why_cap = why_cap;
	if (why && why_cap)
		why[0] = 0;
	ENSURE(pdf || len == 0, C2S_ERR_ARG);
	if (max_len && len > max_len) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_TOO_BIG,
		                   "the PDF has %zu bytes, the limit is %zu", len, max_len);
		goto out;
	}
	if (len > PDF_MAX_OFFSET) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_TOO_BIG, "the PDF is larger than 9.9 GB");
		goto out;
	}
	if (!pdf || find_header(pdf, len, &d->hdr_off) != 0) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_NOT_PDF,
		                   "not a PDF file: no %%PDF- header in the first 1024 bytes");
		goto out;
	}
	ret = read_tail(d);
	if (ret == C2S_ERR_PDF_DAMAGED && d->lenient) {
		snprintf(d->damage, sizeof(d->damage), "%s", why && why_cap ? why : "no startxref");
		if (why && why_cap)
			why[0] = 0;
		ret = C2S_OK;
	}
	GUARD(ret);
	GUARD(pdf_doc_prescan(d));
	GUARD(open_qpdf(d));
	GUARD(read_trailer(d));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err pdf_doc_open(struct pdf_doc *d, const uint8_t *pdf, size_t len, size_t max_len, char *why,
                     size_t why_cap)
{
	return doc_open(d, pdf, len, max_len, 0, why, why_cap);
}

c2s_err pdf_doc_open_damaged(struct pdf_doc *d, const uint8_t *pdf, size_t len, size_t max_len,
                             char *why, size_t why_cap)
{
	return doc_open(d, pdf, len, max_len, 1, why, why_cap);
}

void pdf_doc_close(struct pdf_doc *d)
{
	if (d->q)
		qpdf_cleanup(&d->q);
	d->q = NULL;
}

/* One step down the pages tree: the first kid, not visited before, that is a page or a
 * non-empty node. Every kid looked at costs from the budget. */
static qpdf_oh first_kid(struct pdf_doc *d, qpdf_oh node, struct pdf_seen *seen, int *nomem,
                         int *twice)
{
	qpdf_oh kids = pdf_doc_get(d, node, "/Kids"), found = 0;
	int n = kids && qpdf_oh_is_array(d->q, kids) ? qpdf_oh_get_array_n_items(d->q, kids) : 0;
	for (int i = 0; i < n && !found && !d->over && !*twice; i++) {
		qpdf_oh k = pdf_doc_item(d, kids, i);
		int fresh = k && qpdf_oh_is_dictionary(d->q, k) ? pdf_seen_add(d, seen, k) : -2;
		if (fresh == -1)
			*nomem = 1;
		if (fresh == 0) /* each node has one /Parent: a cycle, or a shared node */
			*twice = qpdf_oh_get_object_id(d->q, k);
		if (fresh > 0) {
			qpdf_oh cnt = pdf_doc_get(d, k, "/Count"),
			        type = pdf_doc_get(d, k, "/Type");
			if (pdf_doc_is_name(d, type, "/Page") || !cnt ||
			    !qpdf_oh_is_integer(d->q, cnt) || qpdf_oh_get_int_value(d->q, cnt) > 0)
				found = k;
			pdf_doc_drop(d, cnt);
			pdf_doc_drop(d, type);
		}
		if (k != found)
			pdf_doc_drop(d, k);
	}
	pdf_doc_drop(d, kids);
	return found;
}

c2s_err pdf_doc_first_page(struct pdf_doc *d, qpdf_oh *page)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_seen seen = {0};
	int nomem = 0, twice = 0, depth = 0;
	qpdf_oh node = pdf_doc_get(d, d->root, "/Pages");
	for (; node && depth < PDF_MAX_DEPTH && !nomem && !twice; depth++) {
		if (!qpdf_oh_is_dictionary(d->q, node) || pdf_seen_add(d, &seen, node) < 0)
			break;
		qpdf_oh type = pdf_doc_get(d, node, "/Type"), kids = pdf_doc_get(d, node, "/Kids");
		int is_page = pdf_doc_is_name(d, type, "/Page") || !kids;
		pdf_doc_drop(d, type);
		pdf_doc_drop(d, kids);
		if (is_page && depth > 0) {
			if (!qpdf_oh_is_indirect(d->q, node))
				break;
			*page = node;
			ret = pdf_doc_check(d);
			goto out;
		}
		qpdf_oh next = first_kid(d, node, &seen, &nomem, &twice);
		pdf_doc_drop(d, node);
		node = next;
	}
	ENSURE(!nomem, C2S_ERR_NOMEM);
	if (twice) {
		ret =
		    pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                 "the page tree reaches object %d twice (a cycle or a shared node; "
		                 "each node has one parent)",
		                 twice);
		goto out;
	}
	if (node && depth >= PDF_MAX_DEPTH) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the page tree is deeper than %d levels", PDF_MAX_DEPTH);
		goto out;
	}
	if (qpdf_has_error(d->q)) {
		ret = qpdf_failure(d);
		goto out;
	}
	ret = pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED, "the PDF has no usable page tree");
out:
	pdf_seen_free(&seen);
	return ret;
}

/* P of a DocMDP signature dictionary's transform (2 when absent, per ISO 32000-1 12.8.2.2). */
static long long docmdp_p(struct pdf_doc *d, qpdf_oh sig)
{
	qpdf_oh refs = pdf_doc_get(d, sig, "/Reference");
	if (!refs || !qpdf_oh_is_array(d->q, refs))
		return 2;
	int n = qpdf_oh_get_array_n_items(d->q, refs);
	for (int i = 0; i < n && i < 64; i++) {
		qpdf_oh r = qpdf_oh_get_array_item(d->q, refs, i);
		if (!pdf_doc_is_name(d, pdf_doc_get(d, r, "/TransformMethod"), "/DocMDP"))
			continue;
		qpdf_oh p = pdf_doc_get(d, pdf_doc_get(d, r, "/TransformParams"), "/P");
		if (p && qpdf_oh_is_integer(d->q, p))
			return qpdf_oh_get_int_value(d->q, p);
		return 2;
	}
	return 2;
}

c2s_err pdf_doc_check_docmdp(struct pdf_doc *d)
{
	qpdf_oh sig = pdf_doc_get(d, pdf_doc_get(d, d->root, "/Perms"), "/DocMDP");
	if (sig && qpdf_oh_is_dictionary(d->q, sig) && docmdp_p(d, sig) == 1)
		return pdf_doc_fail(
		    d, C2S_ERR_PDF_CERTIFIED,
		    "the PDF is certified with \"no changes allowed\" (DocMDP P=1); "
		    "another signature would invalidate the certification");
	return pdf_doc_check(d);
}
