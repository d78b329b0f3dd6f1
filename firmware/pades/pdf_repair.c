/* pdf.h pdf_repair: the one place the appliance rewrites a document instead of appending to
 * it. Only for a file that carries no signature: qpdf reads it with recovery (rebuilding the
 * xref table, finding streams' ends), writes it whole, and the result must then open as a
 * sound file. */
#include <stdio.h>
#include <string.h>

#include "pdf.h"
#include "pdf_int.h"

/* Signed or certified: a /ByteRange anywhere in the bytes (a signature dictionary, also one
 * an xref rebuild would find), as the prescan decodes names (/Byte#52ange is the same name)
 * and in object streams, or /Perms or /DSS in the catalog. */
static int carries_signature(struct pdf_doc *d)
{
	if (d->byterange || memmem(d->pdf, d->len, "/ByteRange", 10))
		return 1;
	qpdf_oh perms = pdf_doc_get(d, d->root, "/Perms"), dss = pdf_doc_get(d, d->root, "/DSS");
	int yes = perms || dss;
	pdf_doc_drop(d, perms);
	pdf_doc_drop(d, dss);
	return yes;
}

static c2s_err rewrite(struct pdf_doc *d, size_t max_len, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	qpdf_data q = d->q;
	ENSURE(!(qpdf_init_write_memory(q) & QPDF_ERRORS), C2S_ERR_NOMEM);
	qpdf_set_deterministic_ID(q, QPDF_TRUE);
	qpdf_set_object_stream_mode(q, qpdf_o_preserve);
	qpdf_set_stream_data_mode(q, qpdf_s_preserve);
	if (qpdf_write(q) & QPDF_ERRORS) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_DAMAGED, "qpdf could not rewrite the PDF");
		goto out;
	}
	size_t n = qpdf_get_buffer_length(q);
	const unsigned char *p = qpdf_get_buffer(q);
	ENSURE(p && n, C2S_ERR_INTERNAL);
	if (max_len && n > max_len) {
		ret = pdf_doc_fail(d, C2S_ERR_PDF_TOO_BIG,
		                   "the repaired PDF has %zu bytes, the limit is %zu", n, max_len);
		goto out;
	}
	buf_init(out, n);
	GUARD(buf_put(out, p, n));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err pdf_repair(const uint8_t *pdf, size_t len, size_t max_len, struct buf *out, char *what,
                   size_t what_cap, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct pdf_doc d = {0}, check = {0};
	buf_init(out, 0);
	if (what && what_cap)
		what[0] = 0;
	GUARD(pdf_doc_open_damaged(&d, pdf, len, max_len, why, why_cap));
	GUARD(pdf_doc_check(&d));
	if (!d.damage[0]) { /* sound: nothing to rewrite */
		ret = C2S_OK;
		goto out;
	}
	if (carries_signature(&d)) {
		ret = pdf_doc_fail(&d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the PDF is damaged (%s) and carries a signature or a "
		                   "certification, which a repair would invalidate",
		                   d.damage);
		goto out;
	}
	GUARD(pdf_doc_check(&d));
	GUARD(rewrite(&d, max_len, out));
	/* the result must be a file an update can be appended to, as it is */
	ret = pdf_doc_open(&check, out->data, out->len, max_len, why, why_cap);
	if (ret == C2S_OK)
		ret = pdf_doc_check(&check);
	if (ret != C2S_OK) {
		if (why && why_cap)
			snprintf(why, why_cap,
			         "the PDF is damaged (%s) and qpdf's repair is not sound",
			         d.damage);
		ret = C2S_ERR_PDF_DAMAGED;
		goto out;
	}
	if (what && what_cap)
		snprintf(what, what_cap, "%s", d.damage);
	ret = C2S_OK;
out:
	if (ret != C2S_OK) {
		buf_free(out);
		buf_init(out, 0);
		if (why && why_cap && !why[0])
			snprintf(why, why_cap, "%s", c2s_err_message(ret));
	}
	pdf_doc_close(&check);
	pdf_doc_close(&d);
	return ret;
}
