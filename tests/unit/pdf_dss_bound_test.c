/* pdf_append_dss against an existing /DSS an attacker wrote: one unfiltered stream listed 4096
 * times whose /Length says 0 while it holds 4 MiB. qpdf reads such a stream to its
 * "endstream" (and warns only the first time), so a budget checked against the declared
 * /Length let every one of the 4096 reads copy 4 MiB: 32 s of c2s-web's CPU per B-LT seal,
 * after the keyholder had signed. Every byte read is now charged. A genuine duplicate is
 * still referenced, not written again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "firmware/pades/pdf.h"

static const uint8_t g_cert[] = {0x30, 0x03, 0x02, 0x01, 0x05};

/* A one-page PDF whose catalog has /DSS << /Certs [5 0 R x refs] >>; object 5 is an
 * unfiltered stream of `n` bytes declaring /Length `declared`. */
static uint8_t *make_pdf(size_t refs, size_t n, size_t declared, const uint8_t *fill,
                         size_t *out_len)
{
	size_t cap = 4096 + refs * 8 + n;
	char *p = malloc(cap);
	size_t off[6], l = 0;
	assert_non_null(p);
	l += (size_t)snprintf(p + l, cap - l, "%%PDF-1.7\n");
	off[1] = l;
	l += (size_t)snprintf(p + l, cap - l,
	                      "1 0 obj\n<< /Type /Catalog /Pages 2 0 R /DSS 4 0 R >>\nendobj\n");
	off[2] = l;
	l += (size_t)snprintf(p + l, cap - l,
	                      "2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
	off[3] = l;
	l += (size_t)snprintf(p + l, cap - l,
	                      "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
	                      ">>\nendobj\n");
	off[4] = l;
	l += (size_t)snprintf(p + l, cap - l, "4 0 obj\n<< /Certs [");
	for (size_t i = 0; i < refs; i++)
		l += (size_t)snprintf(p + l, cap - l, "5 0 R ");
	l += (size_t)snprintf(p + l, cap - l, "] >>\nendobj\n");
	off[5] = l;
	l += (size_t)snprintf(p + l, cap - l, "5 0 obj\n<< /Length %zu >>\nstream\n", declared);
	if (fill)
		memcpy(p + l, fill, n);
	else
		memset(p + l, 'A', n);
	l += n;
	l += (size_t)snprintf(p + l, cap - l, "\nendstream\nendobj\n");
	size_t x = l;
	l += (size_t)snprintf(p + l, cap - l, "xref\n0 6\n0000000000 65535 f \n");
	for (int i = 1; i < 6; i++)
		l += (size_t)snprintf(p + l, cap - l, "%010zu 00000 n \n", off[i]);
	l += (size_t)snprintf(p + l, cap - l,
	                      "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n", x);
	assert_true(l <= cap);
	*out_len = l;
	return (uint8_t *)p;
}

static double cpu_s(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void test_lying_length_is_charged(void **state)
{
	(void)state;
	size_t len;
	uint8_t *pdf = make_pdf(4096, 4u << 20, 0, NULL, &len);
	const uint8_t *const certs[] = {g_cert};
	const size_t lens[] = {sizeof(g_cert)};
	struct pdf_dss d = {.certs = certs, .cert_lens = lens, .n_certs = 1};
	struct buf up;
	char why[256] = "";
	double t0 = cpu_s();
	c2s_err e = pdf_append_dss(pdf, len, &d, &up, why, sizeof(why));
	double spent = cpu_s() - t0;
	if (e != C2S_OK)
		fail_msg("pdf_append_dss: %s: %s", c2s_err_name(e), why);
	/* before: 4096 reads of 4 MiB (16 GiB copied, 20-30 s); now at most 64 MiB + 4 MiB */
	if (spent > 3.0)
		fail_msg("the /DSS reading took %.1f s of CPU", spent);
	assert_true(up.len > 0);
	buf_free(&up);
	free(pdf);
}

static void test_genuine_duplicate_still_referenced(void **state)
{
	(void)state;
	size_t len;
	uint8_t *pdf = make_pdf(3, sizeof(g_cert), sizeof(g_cert), g_cert, &len);
	const uint8_t *const certs[] = {g_cert};
	const size_t lens[] = {sizeof(g_cert)};
	struct pdf_dss d = {.certs = certs, .cert_lens = lens, .n_certs = 1};
	struct buf up;
	char why[256] = "";
	c2s_err e = pdf_append_dss(pdf, len, &d, &up, why, sizeof(why));
	if (e != C2S_OK)
		fail_msg("pdf_append_dss: %s: %s", c2s_err_name(e), why);
	/* the certificate is object 5 already: the update writes no stream */
	assert_null(memmem(up.data, up.len, "stream", 6));
	buf_free(&up);
	free(pdf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lying_length_is_charged),
	    cmocka_unit_test(test_genuine_duplicate_still_referenced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
