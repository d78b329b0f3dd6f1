/* pdf module: sign every file of a corpus made at test time by real producers
 * (tests/tools/make_corpus.sh), check the result with independent tools (qpdf --check,
 * pdfsig) and by reading it back with qpdf, and check each refusal's exact error code. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <qpdf/qpdf-c.h>

#include "firmware/pades/pdf.h"

#define MAX_FILES 64
#define CMAX      4096

static char g_dir[256];
static char g_files[MAX_FILES][256];
static int g_nfiles;

static const uint8_t g_der[] = {0x30, 0x03, 0x02, 0x01, 0x05};

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob slurp(const char *path)
{
	struct blob b = {0};
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long l = ftell(f);
	assert_true(l >= 0);
	rewind(f);
	b.p = malloc((size_t)l + 1);
	assert_non_null(b.p);
	b.n = fread(b.p, 1, (size_t)l, f);
	assert_int_equal(b.n, (size_t)l);
	fclose(f);
	return b;
}

static void spit(const char *path, const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(a, 1, na, f), na);
	if (nb)
		assert_int_equal(fwrite(b, 1, nb, f), nb);
	assert_int_equal(fclose(f), 0);
}

/* Runs argv with stdout+stderr into a file; returns the exit code, output in *out. */
static int run(char *const argv[], struct blob *out)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/cmd.log", g_dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	struct blob o = slurp(log);
	o.p[o.n] = 0;
	if (out)
		*out = o;
	else
		free(o.p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *s = hay; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

static int group_setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	char script[512];
	snprintf(script, sizeof(script), "%s/tests/tools/make_corpus.sh", src ? src : ".");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s_pdf_test.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	char corpus[300];
	snprintf(corpus, sizeof(corpus), "%s/corpus", g_dir);
	char *const argv[] = {"bash", script, corpus, NULL};
	struct blob o;
	int rc = run(argv, &o);
	fprintf(stderr, "%s", (char *)o.p);
	free(o.p);
	if (rc != 0)
		return -1;
	DIR *d = opendir(corpus);
	struct dirent *e;
	while (d && (e = readdir(d)) && g_nfiles < MAX_FILES)
		if (strstr(e->d_name, ".pdf"))
			snprintf(g_files[g_nfiles++], sizeof(g_files[0]), "%s", e->d_name);
	if (d)
		closedir(d);
	return g_nfiles >= 15 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	char *const argv[] = {"rm", "-rf", g_dir, NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return 0;
}

static struct blob corpus_file(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/corpus/%s", g_dir, name);
	return slurp(path);
}

static struct pdf_sig_params params(void)
{
	struct pdf_sig_params p = {.name = "Test Signer",
	                           .reason = "unit test",
	                           .location = "Ljubljana",
	                           .contact = "ops@example.org",
	                           .when = 1700000000,
	                           .contents_max = CMAX,
	                           .field_name = "Signature1"};
	return p;
}

/* Whether the section that the last startxref of (a || b) points to is an xref stream. */
static int last_xref_is_stream(const uint8_t *p, size_t n)
{
	const char *key = "startxref";
	size_t at = 0;
	for (size_t i = n > 1024 ? n - 1024 : 0; i + 9 <= n; i++)
		if (memcmp(p + i, key, 9) == 0)
			at = i;
	assert_true(at > 0);
	size_t off = strtoul((const char *)p + at + 9, NULL, 10);
	const uint8_t *h = memmem(p, n < 1024 ? n : 1024, "%PDF-", 5);
	assert_non_null(h);
	off += (size_t)(h - p);
	assert_true(off < n);
	while (off < n && strchr(" \r\n\t", p[off]))
		off++;
	return memcmp(p + off, "xref", 4) != 0;
}

struct ranges_ctx {
	uint8_t *p;
	size_t n;
};

static void collect(void *ctx, const uint8_t *p, size_t n)
{
	struct ranges_ctx *c = ctx;
	memcpy(c->p + c->n, p, n);
	c->n += n;
}

/* /ByteRange in the file equals pp->range and excludes exactly "<hex>". */
static void check_ranges(const struct pdf_prepared *pp, const uint8_t *orig, const uint8_t *all,
                         size_t n)
{
	assert_int_equal(pp->range[0], 0);
	assert_int_equal(pp->range[2] + pp->range[3], n);
	assert_int_equal(all[pp->range[1]], '<');
	assert_int_equal(all[pp->range[2] - 1], '>');
	assert_int_equal(pp->range[2] - pp->range[1], 2 * pp->contents_max + 2);
	assert_int_equal(pp->contents_off, pp->range[1] + 1);
	const uint8_t *br = memmem(pp->update.data, pp->update.len, "/ByteRange [", 12);
	assert_non_null(br);
	size_t v[4];
	char *s = (char *)br + 12;
	for (int i = 0; i < 4; i++)
		v[i] = strtoul(s, &s, 10);
	assert_memory_equal(v, pp->range, sizeof(v));
	struct ranges_ctx c = {malloc(n), 0};
	assert_non_null(c.p);
	pdf_signed_ranges(pp, orig, collect, &c);
	assert_int_equal(c.n, pp->range[1] + pp->range[3]);
	assert_memory_equal(c.p, all, pp->range[1]);
	assert_memory_equal(c.p + pp->range[1], all + pp->range[2], pp->range[3]);
	free(c.p);
}

static void qpdf_check(const char *path)
{
	char *const argv[] = {"qpdf", "--check", (char *)path, NULL};
	struct blob o;
	int rc = run(argv, &o);
	if (rc != 0 || strstr((char *)o.p, "WARNING") || strstr((char *)o.p, "rror:"))
		fail_msg("qpdf --check %s: rc=%d\n%s", path, rc, (char *)o.p);
	free(o.p);
}

/* Signature fields pdfsig lists; the last one covers the whole file unless `tail` (DSS). */
static int pdfsig_fields(const char *path, int tail)
{
	char *const argv[] = {"pdfsig", (char *)path, NULL};
	struct blob o;
	run(argv, &o);
	int n = count((char *)o.p, "Signature Field Name:");
	int partial = count((char *)o.p, "Not total document signed");
	if (n && (count((char *)o.p, "Total document signed") != !tail || partial != n - !tail))
		fail_msg("pdfsig %s: only the last signature must cover the whole file\n%s", path,
		         (char *)o.p);
	free(o.p);
	return n;
}

/* Signs `in`, writes in||update to `path`, checks it; returns the whole output. */
static struct blob sign_checked(const struct blob *in, const char *path,
                                const struct pdf_sig_params *p, struct pdf_prepared *pp)
{
	char why[256];
	c2s_err e = pdf_prepare(in->p, in->n, 0, p, pp, why, sizeof(why));
	if (e != C2S_OK)
		fail_msg("%s: %s: %s", path, c2s_err_name(e), why);
	assert_int_equal(pdf_set_contents(pp, g_der, sizeof(g_der)), C2S_OK);
	assert_int_equal(pp->orig_len, in->n);
	spit(path, in->p, in->n, pp->update.data, pp->update.len);
	struct blob out = slurp(path);
	assert_int_equal(out.n, in->n + pp->update.len);
	assert_memory_equal(out.p, in->p, in->n); /* the original is a prefix */
	check_ranges(pp, in->p, out.p, out.n);
	assert_memory_equal(out.p + pp->contents_off, "3003020105000000", 16);
	assert_int_equal(last_xref_is_stream(out.p, out.n), last_xref_is_stream(in->p, in->n));
	qpdf_check(path);
	return out;
}

/* A third reader: pypdf must see two filled signature fields in every twice-signed file. */
static void pypdf_check(void)
{
	static const char script[] =
	    "import sys, glob, pypdf\n"
	    "bad = 0\n"
	    "for f in sorted(glob.glob(sys.argv[1] + '/signed2-*.pdf')):\n"
	    "    r = pypdf.PdfReader(f)\n"
	    "    sigs = [v for v in (r.get_fields() or {}).values() if v.get('/FT') == '/Sig'\n"
	    "            and v.get('/V') is not None and '/ByteRange' in v['/V']]\n"
	    "    if len(sigs) != 2:\n"
	    "        bad += 1\n"
	    "        print('FAIL', f, len(sigs))\n"
	    "print('checked', len(glob.glob(sys.argv[1] + '/signed2-*.pdf')), 'bad', bad)\n"
	    "sys.exit(1 if bad else 0)\n";
	char *const argv[] = {"/usr/bin/python3", "-c", (char *)script, g_dir, NULL};
	struct blob o;
	int rc = run(argv, &o);
	if (rc != 0 || !strstr((char *)o.p, "checked 1"))
		fail_msg("pypdf: rc=%d\n%s", rc, (char *)o.p);
	free(o.p);
}

static void test_corpus_sign_twice(void **state)
{
	(void)state;
	int done = 0;
	for (int i = 0; i < g_nfiles; i++) {
		if (strncmp(g_files[i], "refuse-", 7) == 0)
			continue;
		struct blob in = corpus_file(g_files[i]);
		char p1[512], p2[512];
		snprintf(p1, sizeof(p1), "%s/signed1-%s", g_dir, g_files[i]);
		snprintf(p2, sizeof(p2), "%s/signed2-%s", g_dir, g_files[i]);
		struct pdf_sig_params p = params();
		struct pdf_prepared pp1, pp2;
		struct blob o1 = sign_checked(&in, p1, &p, &pp1);
		assert_int_equal(pdfsig_fields(p1, 0), 1);
		struct blob o2 = sign_checked(&o1, p2, &p, &pp2);
		assert_int_equal(pdfsig_fields(p2, 0), 2);
		/* the second update never touches the first signature's bytes */
		assert_memory_equal(o2.p, o1.p, o1.n);
		pdf_prepared_free(&pp1);
		pdf_prepared_free(&pp2);
		free(o1.p);
		free(o2.p);
		free(in.p);
		done++;
	}
	assert_true(done >= 13);
	pypdf_check();
}

static void expect_refusal(const uint8_t *p, size_t n, size_t max_len, c2s_err want)
{
	struct pdf_sig_params sp = params();
	struct pdf_prepared pp;
	char why[256] = "";
	c2s_err e = pdf_prepare(p, n, max_len, &sp, &pp, why, sizeof(why));
	if (e != want)
		fail_msg("want %s, got %s (%s)", c2s_err_name(want), c2s_err_name(e), why);
	assert_true(strlen(why) > 5); /* a human reason */
	assert_null(pp.update.data);
	assert_int_equal(pp.update.len, 0);
}

static void test_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		c2s_err want;
	} cases[] = {
	    {"refuse-encrypted-user.pdf", C2S_ERR_PDF_ENCRYPTED},
	    {"refuse-encrypted-owner.pdf", C2S_ERR_PDF_ENCRYPTED},
	    {"refuse-certified-docmdp.pdf", C2S_ERR_PDF_CERTIFIED},
	    {"refuse-damaged-truncated.pdf", C2S_ERR_PDF_DAMAGED},
	    {"refuse-damaged-xref.pdf", C2S_ERR_PDF_DAMAGED},
	    {"refuse-notpdf-text.pdf", C2S_ERR_PDF_NOT_PDF},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct blob b = corpus_file(cases[i].file);
		expect_refusal(b.p, b.n, 0, cases[i].want);
		free(b.p);
	}
	struct blob gs = corpus_file("gs.pdf");
	expect_refusal(gs.p, gs.n, gs.n - 1, C2S_ERR_PDF_TOO_BIG);
	expect_refusal(gs.p, 0, 0, C2S_ERR_PDF_NOT_PDF);
	expect_refusal((const uint8_t *)"%PDF-1.4\n", 9, 0, C2S_ERR_PDF_DAMAGED);
	/* header after the first KiB */
	uint8_t *late = calloc(1, gs.n + 2048);
	assert_non_null(late);
	memset(late, ' ', 2048);
	memcpy(late + 2048, gs.p, gs.n);
	expect_refusal(late, gs.n + 2048, 0, C2S_ERR_PDF_NOT_PDF);
	free(late);
	free(gs.p);
}

/* Signs a corpus file and returns the update as a NUL-terminated string copy. */
static char *update_text(const char *file, const struct pdf_sig_params *p)
{
	struct blob in = corpus_file(file);
	struct pdf_prepared pp;
	char why[256];
	c2s_err e = pdf_prepare(in.p, in.n, 0, p, &pp, why, sizeof(why));
	if (e != C2S_OK)
		fail_msg("%s: %s", c2s_err_name(e), why);
	char *s = malloc(pp.update.len + 1);
	assert_non_null(s);
	memcpy(s, pp.update.data, pp.update.len);
	s[pp.update.len] = 0;
	pdf_prepared_free(&pp);
	free(in.p);
	return s;
}

static void test_text_strings(void **state)
{
	(void)state;
	struct pdf_sig_params p = params();
	p.name = "Čeněk Šťastný Žák";
	p.reason = "José Müller (a\\b)";
	char *u = update_text("gs.pdf", &p);
	/* Č U+010C, e, n, ě U+011B, k, space, Š U+0160, ť U+0165 ... as UTF-16BE with a BOM */
	assert_non_null(strstr(u, "/Name <FEFF010C0065006E011B006B00200160016500610073"));
	assert_non_null(strstr(u, "/Reason (Jos\\351 M\\374ller \\(a\\\\b\\))"));
	assert_non_null(strstr(u, "/M (D:20231114221320+00'00')"));
	assert_non_null(strstr(u, "/SubFilter /ETSI.CAdES.detached"));
	free(u);
	p.name = "\xff\xfe bad";
	struct blob in = corpus_file("gs.pdf");
	struct pdf_prepared pp;
	char why[256];
	assert_int_equal(pdf_prepare(in.p, in.n, 0, &p, &pp, why, sizeof(why)), C2S_ERR_ARG);
	p = params();
	p.contents_max = 0;
	assert_int_equal(pdf_prepare(in.p, in.n, 0, &p, &pp, why, sizeof(why)), C2S_ERR_ARG);
	free(in.p);
}

static void test_unique_name_and_reuse(void **state)
{
	(void)state;
	struct pdf_sig_params p = params();
	/* a text field called Signature1 exists: the new field is Signature2 */
	char *u = update_text("acroform-direct.pdf", &p);
	assert_non_null(strstr(u, "/T (Signature2)"));
	assert_non_null(strstr(u, "\n6 0 obj\n[7 0 R ")); /* indirect /Fields: new revision */
	free(u);
	/* an empty signature field is filled, not duplicated */
	u = update_text("acroform-empty-sig.pdf", &p);
	assert_non_null(strstr(u, "\n7 0 obj\n"));
	assert_non_null(strstr(u, "/T (Approval)"));
	assert_null(strstr(u, "/Subtype /Widget\n/FT /Sig"));
	assert_non_null(strstr(u, "/SigFlags 3"));
	free(u);
	/* a wish with dots is made a valid partial name */
	p.field_name = "a.b";
	u = update_text("gs.pdf", &p);
	assert_non_null(strstr(u, "/T (a_b)"));
	free(u);
}

static void test_set_contents_limits(void **state)
{
	(void)state;
	struct blob in = corpus_file("mupdf.pdf");
	struct pdf_sig_params p = params();
	p.contents_max = 4;
	struct pdf_prepared pp;
	char why[256];
	assert_int_equal(pdf_prepare(in.p, in.n, 0, &p, &pp, why, sizeof(why)), C2S_OK);
	assert_int_equal(pdf_set_contents(&pp, g_der, sizeof(g_der)), C2S_ERR_TOO_BIG);
	assert_int_equal(pdf_set_contents(&pp, g_der, 4), C2S_OK);
	assert_memory_equal(pp.update.data + (pp.contents_off - pp.orig_len), "30030201>", 9);
	pdf_prepared_free(&pp);
	free(in.p);
}

/* Number of items in catalog /DSS /<key> of a file, read back with qpdf. */
static int dss_count(const struct blob *b, const char *key)
{
	qpdf_data q = qpdf_init();
	qpdf_silence_errors(q);
	assert_int_equal(qpdf_read_memory(q, "t", (const char *)b->p, b->n, NULL) & QPDF_ERRORS, 0);
	qpdf_oh root = qpdf_get_root(q);
	qpdf_oh dss = qpdf_oh_get_key(q, root, "/DSS");
	assert_true(qpdf_oh_is_dictionary(q, dss));
	qpdf_oh arr = qpdf_oh_get_key(q, dss, key);
	int n = qpdf_oh_is_array(q, arr) ? qpdf_oh_get_array_n_items(q, arr) : -1;
	for (int i = 0; i < n; i++)
		assert_true(qpdf_oh_is_stream(q, qpdf_oh_get_array_item(q, arr, i)));
	assert_false(qpdf_has_error(q));
	qpdf_cleanup(&q);
	return n;
}

static struct blob append_dss(const struct blob *in, const char *path, const struct pdf_dss *d)
{
	struct buf up;
	char why[256];
	c2s_err e = pdf_append_dss(in->p, in->n, d, &up, why, sizeof(why));
	if (e != C2S_OK)
		fail_msg("pdf_append_dss: %s: %s", c2s_err_name(e), why);
	spit(path, in->p, in->n, up.data, up.len);
	buf_free(&up);
	struct blob out = slurp(path);
	assert_memory_equal(out.p, in->p, in->n);
	assert_int_equal(last_xref_is_stream(out.p, out.n), last_xref_is_stream(in->p, in->n));
	qpdf_check(path);
	return out;
}

static void dss_for(const char *file)
{
	static const uint8_t c1[] = {0x30, 0x03, 0x01, 0x01, 0xff}, c2[] = {0x30, 0x00},
	                     crl[] = {0x30, 0x01, 0x00};
	const uint8_t *const certs[] = {c1, c2}, *const crls[] = {crl};
	const size_t cert_lens[] = {sizeof(c1), sizeof(c2)}, crl_lens[] = {sizeof(crl)};
	struct pdf_dss d = {.certs = certs,
	                    .cert_lens = cert_lens,
	                    .n_certs = 2,
	                    .crls = crls,
	                    .crl_lens = crl_lens,
	                    .n_crls = 1};
	char p0[512], p1[512], p2[512];
	snprintf(p0, sizeof(p0), "%s/dss0-%s", g_dir, file);
	snprintf(p1, sizeof(p1), "%s/dss1-%s", g_dir, file);
	snprintf(p2, sizeof(p2), "%s/dss2-%s", g_dir, file);
	struct blob in = corpus_file(file);
	struct pdf_sig_params p = params();
	struct pdf_prepared pp;
	struct blob signed_ = sign_checked(&in, p0, &p, &pp);
	struct blob o1 = append_dss(&signed_, p1, &d);
	assert_int_equal(dss_count(&o1, "/Certs"), 2);
	assert_int_equal(dss_count(&o1, "/CRLs"), 1);
	/* extends the existing DSS: c1 again (referenced, not written twice) and a new c3 */
	static const uint8_t c3[] = {0x30, 0x03, 0x02, 0x01, 0x07};
	const uint8_t *const certs2[] = {c1, c3};
	const size_t cert_lens2[] = {sizeof(c1), sizeof(c3)};
	struct pdf_dss d2 = d;
	d2.certs = certs2;
	d2.cert_lens = cert_lens2;
	struct blob o2 = append_dss(&o1, p2, &d2);
	assert_int_equal(dss_count(&o2, "/Certs"), 3);
	assert_int_equal(dss_count(&o2, "/CRLs"), 1);
	assert_int_equal(pdfsig_fields(p2, 1), 1);
	pdf_prepared_free(&pp);
	free(in.p);
	free(signed_.p);
	free(o1.p);
	free(o2.p);
}

static void test_dss(void **state)
{
	(void)state;
	dss_for("gs.pdf");
	dss_for("qpdf-objstm.pdf");
	struct pdf_dss none = {0};
	struct buf up;
	char why[256];
	assert_int_equal(pdf_append_dss((const uint8_t *)"nope", 4, &none, &up, why, sizeof(why)),
	                 C2S_ERR_PDF_NOT_PDF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_text_strings),
	    cmocka_unit_test(test_unique_name_and_reuse),
	    cmocka_unit_test(test_set_contents_limits),
	    cmocka_unit_test(test_dss),
	    cmocka_unit_test(test_corpus_sign_twice),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
