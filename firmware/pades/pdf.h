/* PDF signature preparation: read with qpdf, write our own incremental update.
 * The original bytes are never modified: output = original || update. */
#ifndef C2S_PDF_H
#define C2S_PDF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

struct pdf_sig_params {
	const char
	    *name; /* /Name: signer (UTF-8; written as UTF-16BE when outside PDFDocEncoding) */
	const char *reason;     /* /Reason (UTF-8), may be NULL */
	const char *location;   /* /Location (UTF-8), may be NULL */
	const char *contact;    /* /ContactInfo, may be NULL */
	time_t when;            /* /M */
	size_t contents_max;    /* bytes reserved for the DER CMS (hex placeholder is 2x) */
	const char *field_name; /* preferred field name, e.g. "Signature1"; made unique */
	/* Customer signatures (the keyholder's scan refuses anything else): write no new
	 * revision of any page nor of any array. A new field is not added to a page's /Annots
	 * (it stays invisible, /P names the first page, /Fields lists it), and the AcroForm gets
	 * a direct /Fields array (copied, plus the new field) instead of a new revision of an
	 * indirect one. 0 (seals): the widget goes into the first page's /Annots. */
	int no_page_annot;
	/* B-LT: keep this parse (and what the update wrote) for pdf_append_dss_after, so that
	 * the /DSS revision is written without reading the signed file again. */
	int keep_for_dss;
};

struct pdf_session; /* pdf.c: the original's parse kept for the /DSS revision */

#define PDF_NOTES_MAX 320

struct pdf_prepared {
	struct buf update; /* the appended bytes only (placeholder zero-filled) */
	size_t orig_len;   /* length of the original file (prefix of the output) */
	/* /ByteRange over the whole output (original || update) */
	size_t range[4];     /* offset1=0, len1, offset2, len2 */
	size_t contents_off; /* offset in the whole output of the first hex digit after '<' */
	size_t contents_max; /* bytes available for DER (hex digits = 2x) */
	/* Harmless producer defects accepted (a duplicated key, a /Size off, startxref on the
	 * whitespace before its section) and fields not used, "; "-separated, for the log;
	 * empty when none. */
	char notes[PDF_NOTES_MAX];
	struct pdf_session *session; /* with keep_for_dss; freed by pdf_prepared_free */
};

/* Checks the file (refusals: C2S_ERR_PDF_NOT_PDF, _DAMAGED, _ENCRYPTED, _CERTIFIED, _TOO_BIG,
 * _UNSUPPORTED, each with a human `why`) and prepares an incremental update that adds a
 * signature field (or fills an empty one), its widget (invisible; in the first page's /Annots
 * unless p->no_page_annot), the /Sig dictionary with
 * /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached, /M, /Name, /Reason, /Location,
 * /ByteRange and a zero /Contents placeholder. Uses a classic xref section after a table
 * and an xref stream after a stream. `max_len`: size limit (0 = none).
 * `pdf` is not copied. `out` is always initialised (free it with pdf_prepared_free, also after
 * a failure). A file that qpdf can only read by repairing it is refused as _DAMAGED (an
 * update's /Prev would point to a broken section). Text values that are not valid UTF-8 and
 * a contents_max of 0 or over 1 MiB give C2S_ERR_ARG. Field names: an empty signature field
 * is filled if there is one (preferring one named `field_name`), else a new field is named
 * `field_name` (default "Signature1"), or with its trailing number increased until unique. */
C2S_MUST_CHECK c2s_err pdf_prepare(const uint8_t *pdf, size_t len, size_t max_len,
                                   const struct pdf_sig_params *p, struct pdf_prepared *out,
                                   char *why, size_t why_cap);
void pdf_prepared_free(struct pdf_prepared *pp);

/* Writes DER bytes as hex into the placeholder (in pp->update). C2S_ERR_TOO_BIG if larger. */
C2S_MUST_CHECK c2s_err pdf_set_contents(struct pdf_prepared *pp, const uint8_t *der, size_t len);

/* Calls cb for each signed piece of the output in order (for streamed hashing). */
typedef void (*pdf_chunk_cb)(void *ctx, const uint8_t *p, size_t n);
/* The same pieces without the original document (pp->orig_len bytes), for a caller that hashed
 * it already. */
void pdf_signed_update_ranges(const struct pdf_prepared *pp, pdf_chunk_cb cb, void *ctx);
void pdf_signed_ranges(const struct pdf_prepared *pp, const uint8_t *orig, pdf_chunk_cb cb,
                       void *ctx);

/* `[pades] repair`: a damaged PDF that carries no signature, rewritten whole by qpdf (the
 * xref rebuilt, wrong stream lengths fixed, deterministic /ID), so that signatures can be
 * appended to it. `out` is initialised here; free it with buf_free. C2S_OK with out->len == 0
 * when the file needs no repair (pdf_prepare accepts it as it is); C2S_OK with the repaired
 * bytes and `what` (the damage, e.g. "expected n n obj") otherwise. Refusals, with `why`:
 * C2S_ERR_PDF_UNSUPPORTED for a file that carries a signature or a certification (a
 * rewrite would invalidate them) or that the hostile-shape bounds refuse, _ENCRYPTED,
 * _NOT_PDF, _TOO_BIG, and C2S_ERR_PDF_DAMAGED when qpdf cannot read it at all or its output
 * would still need repair. */
C2S_MUST_CHECK c2s_err pdf_repair(const uint8_t *pdf, size_t len, size_t max_len, struct buf *out,
                                  char *what, size_t what_cap, char *why, size_t why_cap);

/* pdf_probe (pdf_probe.c): pdf_prepare (or, with `repair`, pdf_repair) run once in a forked
 * child whose address space may grow by `mem` bytes (not under AddressSanitizer) and which may
 * use `cpu_s` seconds of CPU, before the caller reads the same bytes in-process: a document
 * that qpdf cannot read within those limits is refused (C2S_ERR_PDF_UNSUPPORTED, `why` names
 * the limit), and the child's own refusal is returned as it is. `lim` NULL or cpu_s 0: no
 * probe (C2S_OK). */
struct pdf_probe_limits {
	size_t mem;
	unsigned cpu_s;
	unsigned worker_docs; /* documents a server's worker reads before a fresh one takes over
	                         (0: 1,000) */
	size_t doc_max; /* the largest document a server's worker may be given: its bytes come on
	                   top of `mem` (pdf_probe_start; the direct path holds it before the
	                   limit) */
};
C2S_MUST_CHECK c2s_err pdf_probe(const uint8_t *pdf, size_t len, size_t max_len, int repair,
                                 const struct pdf_probe_limits *lim, char *why, size_t why_cap);
/* Starts the probe server: a process forked now, while the caller is still one thread, that
 * keeps `parallel` worker processes under `lim` reading documents for pdf_probe from then on
 * (forking a multi-threaded process leaves other threads' locks held in the child). c2s-web calls
 * it first thing after its sandbox is locked, before it reads its TLS key. Without it pdf_probe
 * forks the caller. At most `parallel` documents are read at once; a caller that waits longer than
 * the child's deadline gets C2S_ERR_BUSY (503). */
C2S_MUST_CHECK c2s_err pdf_probe_start(unsigned parallel, const struct pdf_probe_limits *lim);

/* PAdES B-LT: an incremental update over `pdf` (a complete signed file) that adds or extends
 * the catalog's /DSS with /Certs, /CRLs and /OCSPs (DER blobs). `update` is initialised here
 * (any previous content is not freed) and holds only the appended bytes: output = pdf ||
 * update; free it with buf_free. Existing /DSS entries are kept, new streams appended; a blob
 * whose bytes equal an unfiltered stream the /DSS already lists (at most 4096 streams and
 * 64 MiB read), or an earlier blob of the same call, is referenced, not written again. With
 * `vri_key`, /VRI receives (or has replaced) the entry of that key naming the streams of every blob
 * given here. */
struct pdf_dss {
	const uint8_t *const *certs;
	const size_t *cert_lens;
	size_t n_certs;
	const uint8_t *const *crls;
	const size_t *crl_lens;
	size_t n_crls;
	const uint8_t *const *ocsps;
	const size_t *ocsp_lens;
	size_t n_ocsps;
	/* The signature these validate: 40 uppercase hex digits of the SHA-1 of its /Contents
	 * string (all of it, padding included, as EU DSS and pyHanko hash it); NULL: no /VRI. */
	const char *vri_key;
};
C2S_MUST_CHECK c2s_err pdf_append_dss(const uint8_t *pdf, size_t len, const struct pdf_dss *dss,
                                      struct buf *update, char *why, size_t why_cap);
/* The same /DSS revision, written from the parse pdf_prepare kept (keep_for_dss): no second
 * parse and no copy of the signed file. `sig_update` is the signature's update as filled
 * (its length places the new revision; pdf_prepare's pp->update may have been moved out). */
C2S_MUST_CHECK c2s_err pdf_append_dss_after(const struct pdf_prepared *pp,
                                            const struct buf *sig_update, const struct pdf_dss *dss,
                                            struct buf *update, char *why, size_t why_cap);

#endif
