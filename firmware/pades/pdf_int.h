/* Private to the pdf module (pdf.c, pdf_*.c): the document as qpdf reads it, and the
 * writer of our own incremental update. Not a contract for other modules. */
#ifndef C2S_PDF_INTERNAL_H
#define C2S_PDF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <qpdf/qpdf-c.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"
#include "pdf.h"

#define PDF_HDR_WINDOW   1024          /* %PDF- must start within the first 1 KiB */
#define PDF_TAIL_WINDOW  1024          /* startxref must be within the last 1 KiB (as qpdf) */
#define PDF_MAX_DEPTH    32            /* pages tree / field tree depth bound */
#define PDF_MAX_ITEMS    100000        /* bound on array items we walk */
#define PDF_MAX_NEW_OBJS 65536         /* objects one update may write */
#define PDF_MAX_OFFSET   9999999999ULL /* 10 decimal digits (classic xref, /ByteRange) */
/* One budget per document, whatever its shape: qpdf objects looked at (dictionary values
 * and array items, each counted when fetched), and items in one object outside streams
 * (qpdf holds a parsed object whole: about 70 bytes of memory per item). */
#define PDF_MAX_WORK      200000
#define PDF_MAX_OBJ_ITEMS 250000
#define PDF_MAX_OBJSTM    (16u << 20) /* inflated bytes of one object stream */

/* The indirect objects (number, generation) one walk has visited: a cycle or a shared kid is
 * walked once. Open addressing; bounded by the work budget. */
struct pdf_seen {
	uint64_t *slots;
	size_t cap, n;
};

/* The input document: qpdf's view plus what we read from the file's tail ourselves. */
struct pdf_doc {
	const uint8_t *pdf;
	size_t len;
	size_t hdr_off; /* offset of "%PDF-"; xref offsets are relative to it (as qpdf) */
	qpdf_data q;
	qpdf_oh trailer;
	qpdf_oh root;
	int root_num, root_gen;
	long long size;            /* first free object number */
	size_t prev;               /* value of the last startxref: /Prev of our section */
	int xref_stream;           /* the last section is an xref stream (else a table) */
	long long max_obj;         /* highest object number qpdf found (0: as /Size says) */
	size_t work;               /* qpdf objects looked at (PDF_MAX_WORK) */
	int over;                  /* the work budget ran out: every later fetch is "absent" */
	int byterange;             /* the prescan saw the name /ByteRange (#xx decoded), in an
	                            * object or in an inflated object stream */
	char notes[PDF_NOTES_MAX]; /* harmless producer defects accepted, for the log */
	int lenient;               /* pdf_repair: damage is recorded in `damage`, not refused */
	char damage[160];          /* the first damage found (lenient) */
	char *why;
	size_t why_cap;
};

/* Before qpdf: refuses what qpdf would hold whole at great cost (pdf_prescan.c). */
C2S_MUST_CHECK c2s_err pdf_doc_prescan(struct pdf_doc *d);
/* Opens `pdf` (not copied; must outlive the doc). Refusals set `why`. */
C2S_MUST_CHECK c2s_err pdf_doc_open(struct pdf_doc *d, const uint8_t *pdf, size_t len,
                                    size_t max_len, char *why, size_t why_cap);
/* The same for a file that may need repair: what would refuse it as damaged (no startxref,
 * an xref qpdf rebuilt, an unrecoverable stream) is recorded in d->damage instead; the
 * budget, the prescan, encryption and qpdf errors still refuse. */
C2S_MUST_CHECK c2s_err pdf_doc_open_damaged(struct pdf_doc *d, const uint8_t *pdf, size_t len,
                                            size_t max_len, char *why, size_t why_cap);
void pdf_doc_close(struct pdf_doc *d);
/* C2S_ERR_PDF_UNSUPPORTED when the work budget ran out; C2S_ERR_PDF_DAMAGED (with why) if
 * qpdf recorded an error or a warning that makes an incremental update unsafe. Harmless
 * warnings (a duplicated dictionary key, a /Size that is not one above the highest object,
 * whitespace before the xref keyword) are recorded in d->notes and accepted. */
C2S_MUST_CHECK c2s_err pdf_doc_check(struct pdf_doc *d);
/* Sets d->why (printf-style) and returns `e`. */
c2s_err pdf_doc_fail(struct pdf_doc *d, c2s_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The first page (indirect dictionary), found by walking /Kids[0] only. */
C2S_MUST_CHECK c2s_err pdf_doc_first_page(struct pdf_doc *d, qpdf_oh *page);
/* Refuses documents certified with DocMDP P=1. */
C2S_MUST_CHECK c2s_err pdf_doc_check_docmdp(struct pdf_doc *d);
/* Dictionary value or 0 when absent/null (0 is never a valid handle). Counts one unit of
 * work; once the budget is spent, returns 0 for everything. The handle is the caller's:
 * release it with pdf_doc_drop when it is not kept. */
qpdf_oh pdf_doc_get(struct pdf_doc *d, qpdf_oh dict, const char *key);
/* Item i of an array (counted like pdf_doc_get), 0 when over budget. */
qpdf_oh pdf_doc_item(struct pdf_doc *d, qpdf_oh arr, int i);
/* Releases a handle (0 is ignored). */
void pdf_doc_drop(struct pdf_doc *d, qpdf_oh oh);
/* 1 when `oh` is new to `s` (direct objects always are), 0 when already visited, -1 when
 * out of memory. */
int pdf_seen_add(struct pdf_doc *d, struct pdf_seen *s, qpdf_oh oh);
void pdf_seen_free(struct pdf_seen *s);
/* Appends a note (a harmless defect accepted, a field not used and why) to d->notes. */
void pdf_doc_note(struct pdf_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pdf_doc_is_name(struct pdf_doc *d, qpdf_oh oh, const char *name);

struct pdf_xref_ent {
	int num;
	int gen;
	size_t off; /* relative to the header */
};

/* Writer of one incremental update section. */
struct pdf_writer {
	struct pdf_doc *d;
	struct buf out; /* the update bytes */
	size_t base;    /* absolute file offset of out.data[0] */
	struct pdf_xref_ent *ents;
	size_t n_ents, cap_ents;
	long long next_num; /* next new object number */
	size_t prev;        /* /Prev: the section before this one (from the header) */
	size_t xref_off;    /* set by pdf_w_finish: this section's offset (from the header) */
};

C2S_MUST_CHECK c2s_err pdf_w_init(struct pdf_writer *w, struct pdf_doc *d, size_t max);
/* A writer for a revision after one of ours: at absolute offset `base`, /Prev `prev`, new
 * objects from `next_num` (the earlier revision ended with a newline). */
void pdf_w_init_after(struct pdf_writer *w, struct pdf_doc *d, size_t max, size_t base, size_t prev,
                      long long next_num);
void pdf_w_free(struct pdf_writer *w);
C2S_MUST_CHECK c2s_err pdf_w_new_num(struct pdf_writer *w, int *num);
C2S_MUST_CHECK c2s_err pdf_w_begin_obj(struct pdf_writer *w, int num, int gen);
C2S_MUST_CHECK c2s_err pdf_w_end_obj(struct pdf_writer *w);
C2S_MUST_CHECK c2s_err pdf_w_str(struct pdf_writer *w, const char *s);
C2S_MUST_CHECK c2s_err pdf_w_printf(struct pdf_writer *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A name (given without or with its leading '/'), #-escaped as needed. */
C2S_MUST_CHECK c2s_err pdf_w_name(struct pdf_writer *w, const char *name);
/* A text string from UTF-8: PDFDocEncoding literal when representable, else UTF-16BE hex. */
C2S_MUST_CHECK c2s_err pdf_w_text(struct pdf_writer *w, const char *utf8);
/* A value as qpdf unparses it (indirect objects as "N G R"). */
C2S_MUST_CHECK c2s_err pdf_w_value(struct pdf_writer *w, qpdf_oh v);
/* The key/value pairs of `dict` (no << >>), except keys listed in `skip` (NULL-terminated). */
C2S_MUST_CHECK c2s_err pdf_w_dict_body(struct pdf_writer *w, qpdf_oh dict, const char *const *skip);
/* "[items... extra_num extra_gen R]"; arr may be 0 (absent), direct or indirect. */
C2S_MUST_CHECK c2s_err pdf_w_array_plus(struct pdf_writer *w, qpdf_oh arr, const int *nums,
                                        size_t n);
/* 1 when the catalog does not declare PAdES for a PDF below 2.0: no /Extensions /ESIC of
 * level 1 or more (EN 319 142-1, ISO 32000-1 7.12), or a version below 1.7. */
int pdf_doc_needs_esic(struct pdf_doc *d);
/* The catalog's keys (no << >>) except `skip` (NULL-terminated), with /Extensions /ESIC
 * (the old extensions kept) and /Version /1.7 (when below) when pdf_doc_needs_esic. */
C2S_MUST_CHECK c2s_err pdf_w_catalog_body(struct pdf_writer *w, const char *const *skip);
/* Writes the xref section (table or stream, like the file's last one), trailer, %%EOF. */
C2S_MUST_CHECK c2s_err pdf_w_finish(struct pdf_writer *w);

/* The form side of a signature (pdf_form.c). */
struct pdf_form {
	qpdf_oh acroform; /* catalog /AcroForm (direct or indirect) or 0 */
	qpdf_oh fields;   /* its /Fields array or 0 */
	qpdf_oh empty;    /* an empty signature field to fill, or 0 */
	int wanted;       /* `empty` has the requested name */
	qpdf_oh page;     /* first page, for a new field's widget */
	char name[128];   /* the field's name (UTF-8) */
	size_t visited;   /* field tree nodes seen (bounded: shared /Kids could explode) */
	char **names;     /* top-level field names seen */
	size_t n_names, cap_names;
	int no_page_annot; /* set by pdf_form_write: no page, no array revisions */
	/* where pdf_form_write put the catalog's /AcroForm value in w->out (len 0: the catalog
	 * was not rewritten) */
	size_t af_off, af_len;
};

C2S_MUST_CHECK c2s_err pdf_form_inspect(struct pdf_form *f, struct pdf_doc *d, const char *want);
/* Writes the field (new, or the filled empty one), the page/annots (not with no_page_annot:
 * see struct pdf_sig_params) and AcroForm/catalog. */
C2S_MUST_CHECK c2s_err pdf_form_write(struct pdf_writer *w, struct pdf_form *f, int sig,
                                      int no_page_annot);
void pdf_form_free(struct pdf_form *f);

/* What the /DSS revision after a signature needs from pdf_prepare (pdf.c). */
struct pdf_session {
	struct pdf_doc d;   /* the original's parse, still open */
	size_t sig_xref;    /* the signature update's xref section (from the header) */
	long long next_num; /* first object number after the signature update */
	char *acroform;     /* the catalog's /AcroForm as the signature update wrote it, or
	                     * NULL when that update did not rewrite the catalog */
};
/* The /DSS revision (pdf_dss.c) for pdf_append_dss (after == NULL: `d` is the signed file)
 * and pdf_append_dss_after (`d` is the original, `after` what our update changed). */
struct pdf_after {
	size_t base; /* absolute offset of the new revision */
	const struct pdf_session *s;
};
C2S_MUST_CHECK c2s_err pdf_dss_update(struct pdf_doc *d, const struct pdf_dss *dss,
                                      const struct pdf_after *after, struct buf *update, char *why,
                                      size_t why_cap);

/* UTF-8 -> text string bytes into `b` (used by the writer; exposed for tests via pdf.c). */
C2S_MUST_CHECK c2s_err pdf_text_string(struct buf *b, const char *utf8);

#endif
