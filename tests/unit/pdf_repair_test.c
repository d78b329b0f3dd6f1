/* pdf_repair on generated files: a damaged file is rewritten only when it carries no
 * signature, whatever way the signature dictionary's /ByteRange name is spelled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/base/buf.h"
#include "firmware/pades/pdf.h"

/* A one-page file whose form holds a signed field; `br` is the key written for the
 * signature's byte range (NULL: the field is unsigned). The xref offset of object 1 is one
 * byte off, so that qpdf must rebuild the table (damage pdf_repair would rewrite). */
static size_t damaged_pdf(char *out, size_t cap, const char *br)
{
	char sig[256];
	snprintf(sig, sizeof(sig),
	         "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached %s "
	         "[0 100 200 300] /Contents <3003020105> >>",
	         br ? br : "/Unsigned");
	const char *objs[] = {
	    "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /SigFlags 3 >> >>",
	    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
	    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [5 0 R] >>",
	    "<< /Producer (test) >>",
	    br ? "<< /FT /Sig /T (Sig1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R "
	         "/V 6 0 R >>"
	       : "<< /FT /Sig /T (Sig1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>",
	    sig,
	};
	size_t off[7], n = 0;
	n += (size_t)snprintf(out + n, cap - n, "%%PDF-1.7\n");
	for (int i = 0; i < 6; i++) {
		off[i + 1] = n;
		n += (size_t)snprintf(out + n, cap - n, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
	}
	size_t x = n;
	n += (size_t)snprintf(out + n, cap - n, "xref\n0 7\n0000000000 65535 f \n");
	for (int i = 1; i <= 6; i++)
		n += (size_t)snprintf(out + n, cap - n, "%010zu 00000 n \n",
		                      off[i] + (i == 1 ? 1 : 0));
	n += (size_t)snprintf(out + n, cap - n,
	                      "trailer\n<< /Size 7 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", x);
	assert_true(n < cap);
	return n;
}

static c2s_err repair(const char *pdf, size_t n, struct buf *out, char *why, size_t why_cap)
{
	char what[160];
	return pdf_repair((const uint8_t *)pdf, n, 0, out, what, sizeof(what), why, why_cap);
}

static void test_unsigned_is_repaired(void **state)
{
	(void)state;
	char pdf[4096], why[256];
	struct buf out;
	size_t n = damaged_pdf(pdf, sizeof(pdf), NULL);
	assert_int_equal(repair(pdf, n, &out, why, sizeof(why)), C2S_OK);
	assert_true(out.len > 0); /* it was damaged: rewritten */
	buf_free(&out);
}

static void test_signed_is_never_rewritten(void **state)
{
	(void)state;
	/* the same name for every PDF reader: #52 is 'R', #42 is 'B' */
	static const char *const spellings[] = {"/ByteRange", "/Byte#52ange", "/#42yteRange"};
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		char pdf[4096], why[256];
		struct buf out;
		size_t n = damaged_pdf(pdf, sizeof(pdf), spellings[i]);
		c2s_err e = repair(pdf, n, &out, why, sizeof(why));
		if (e != C2S_ERR_PDF_UNSUPPORTED)
			fail_msg("%s: %s (%s), %zu bytes written", spellings[i], c2s_err_name(e),
			         why, out.len);
		assert_int_equal(out.len, 0);
		assert_non_null(strstr(why, "carries a signature"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unsigned_is_repaired),
	    cmocka_unit_test(test_signed_is_never_rewritten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
