/* mime: messages are read back by an independent parser (Python's email package, through
 * tests/tools/eml_check.py): headers, RFC 2047 subjects and display names, quoted-printable
 * bodies, RFC 2231 file names and base64 attachments (SHA-256 compared), CRLF and the 76-column
 * limit on every line. Every refusal (header injection, bad addresses, bad UTF-8, limits) has
 * its own failing input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "test_shell.h"

#include "firmware/notify/mime.h"

static char g_dir[64], g_src[512];
static const int64_t DATE = 1767268800; /* Thu, 01 Jan 2026 12:00:00 +0000 */

static const char *const RCPT[] = {"kupec@example.si", "arhiv+pogodbe@podjetje.example.com"};

static void hex(const void *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
	out[2 * n] = 0;
}

static int has(const struct buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint8_t md[32];
	assert_int_equal(mbedtls_sha256_ret(p, n, md, 0), 0);
	hex(md, sizeof(md), out);
}

/* Appends " --opt=HEX(s)" to cmd. */
static void arg_hex(char *cmd, size_t cap, const char *opt, const char *s)
{
	size_t n = strlen(cmd), k = strlen(s);
	assert_true(n + strlen(opt) + 2 * k + 3 < cap);
	n += (size_t)snprintf(cmd + n, cap - n, " %s=", opt);
	hex(s, k, cmd + n);
}

static void arg_att(char *cmd, size_t cap, const struct mime_attachment *a)
{
	char sum[65];
	sha256_hex(a->data, a->len, sum);
	arg_hex(cmd, cap, "--attachment", a->filename);
	size_t n = strlen(cmd);
	snprintf(cmd + n, cap - n, ":%s", sum);
}

static void save(const struct buf *b, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", g_dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	fclose(f);
}

/* Build m, save it, and have eml_check compare everything m says. */
static void build_and_check(const struct mime_msg *m, const char *name, struct buf *out)
{
	char why[256] = "", id[MIME_MSGID_MAX], path[128], cmd[8192];

	assert_int_equal(mime_build(m, out, id, why, sizeof(why)), C2S_OK);
	assert_true(id[0] == '<' && strstr(id, m->msgid_domain) != NULL);
	assert_non_null(memmem(out->data, out->len, id, strlen(id))); /* the one in the header */
	save(out, name, path, sizeof(path));
	snprintf(cmd, sizeof(cmd),
	         "/usr/bin/python3 %s/tests/tools/eml_check.py %s --from %s --date %lld "
	         "--msgid-domain %s",
	         g_src, path, m->from, (long long)m->date, m->msgid_domain);
	for (size_t i = 0; i < m->nto; i++) {
		size_t n = strlen(cmd);
		snprintf(cmd + n, sizeof(cmd) - n, " --to %s", m->to[i]);
	}
	arg_hex(cmd, sizeof(cmd), "--subject-hex", m->subject);
	arg_hex(cmd, sizeof(cmd), "--text-hex", m->text);
	if (m->from_name)
		arg_hex(cmd, sizeof(cmd), "--from-name-hex", m->from_name);
	if (m->html)
		arg_hex(cmd, sizeof(cmd), "--html-hex", m->html);
	for (size_t i = 0; i < m->natt; i++)
		arg_att(cmd, sizeof(cmd), &m->att[i]);
	assert_int_equal(run("%s", cmd), 0);
}

static struct mime_msg base_msg(void)
{
	struct mime_msg m = {.from = "noreply@click2sign.example.si",
	                     .to = RCPT,
	                     .nto = 1,
	                     .subject = "Your signing link",
	                     .text = "Hello,\nopen the link to sign.\n",
	                     .msgid_domain = "click2sign.example.si",
	                     .date = DATE};
	return m;
}

static void test_addresses(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "a@b.co", "kupec@example.si", "first.last+tag@sub.example.com",
	    "x_y-z!#$%&'*+/=?^`{|}~@a.b", "A1@xn--bcher-kva.example",
	    /* 63-char label */
	    ("a@"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.si")};
	static const char *const bad[] = {
	    "", "plain", "@example.si", "a@", "a@@example.si", "a@b@example.si", "a b@example.si",
	    "a@example.si ", "a@exam ple.si", "a\r\nBcc: x@evil.example@example.si",
	    "a@example.si\r\nBcc: x@evil.example", "a@example.si\n", "a\t@example.si",
	    ".a@example.si", "a.@example.si", "a..b@example.si", "a@localhost", "a@-x.si",
	    "a@x-.si", "a@x..si", "a@.x.si", "a@x.si.", "a@x_y.si", "\"a\"@example.si",
	    "a(b)@example.si", "<a@example.si>", "a,b@example.si", "\xc5\xa1@example.si",
	    "a@\xc5\xa1.si",
	    /* 64-char label */
	    ("a@"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.si"),
	    /* 65-char local part */
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.si"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!mime_addr_valid(good[i]))
			fail_msg("refused good address %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mime_addr_valid(bad[i]))
			fail_msg("accepted bad address #%zu %s", i, bad[i]);
	assert_false(mime_addr_valid(NULL));
	/* 254 bytes in all is the limit: 64 + '@' + three 60-byte labels with dots + tail */
	char longest[300];
	memset(longest, 'a', 64);
	longest[64] = '@';
	for (int i = 0; i < 3; i++)
		memset(longest + 65 + 61 * i, 'b' + i, 60), longest[65 + 61 * i + 60] = '.';
	memcpy(longest + 248, "eeeeee", 7);
	assert_int_equal(strlen(longest), 254);
	assert_true(mime_addr_valid(longest));
	memcpy(longest + 248, "eeeeeee", 8);
	assert_false(mime_addr_valid(longest));
}

static void test_plain_ascii(void **state)
{
	(void)state;
	struct mime_msg m = base_msg();
	struct buf out;
	buf_init(&out, 1 << 16);
	build_and_check(&m, "plain.eml", &out);
	assert_true(has(&out, "\r\nSubject: Your signing link\r\n"));
	assert_true(has(&out, "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"));
	assert_true(has(&out, "Content-Type: text/plain; charset=UTF-8"));
	assert_false(has(&out, "multipart"));
	/* a long ASCII subject folds at its spaces and reads back unchanged */
	m.subject = "Podpisani dokumenti za narocilo 2026-000123 in vse priloge, ki jih je "
	            "prodajalec dodal k pogodbi: cenik, splosni pogoji in navodila za uporabo";
	m.nto = 2;
	build_and_check(&m, "fold.eml", &out);
	assert_false(has(&out, "=?UTF-8?"));
	/* ASCII that would not read back unchanged is encoded instead */
	static const char *const odd[] = {"looks =?UTF-8?B?QQ==?= encoded",
	                                  "two  spaces",
	                                  " leading",
	                                  "trailing ",
	                                  "",
	                                  ("averyveryveryveryveryveryveryveryveryveryveryveryvery"
	                                   "longwordwithoutanyspaceatall")};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		m.subject = odd[i];
		build_and_check(&m, "odd.eml", &out);
	}
	buf_free(&out);
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

static void test_utf8_alternative_attachments(void **state)
{
	(void)state;
	struct mime_msg m = base_msg();
	struct buf out;
	uint8_t *a = pattern(150001, 1), *b = pattern(58, 2), *c = pattern(4000, 3);
	struct mime_attachment att[] = {
	    {"Pogodba \xc5\xa1t. 2026-017 \xe2\x80\x94 podpisana.pdf", NULL, a, 150001},
	    {"Cenik 2026.pdf", NULL, b, 58},
	    {"Splo\xc5\xa1ni pogoji poslovanja dru\xc5\xbe"
	     "be Click2Sign d.o.o., veljavni od 1. januarja 2026 dalje (\xc4\x8d\xc4\x87\xc4\x91"
	     "\xc5\xbe\xc5\xa1 \xf0\x9f\x93\x84).pdf",
	     "application/pdf", c, 4000},
	};
	buf_init(&out, 1 << 20);
	m.from_name = "Click2Sign \xe2\x80\x93 Prodaja \xc5\xa0i\xc5\xa1ka";
	m.to = RCPT, m.nto = 2;
	m.subject = "Podpisani dokumenti: pogodba \xc5\xa1t. 2026-017 \xe2\x80\x94 "
	            "\xc4\x8d\xc4\x87\xc5\xbe\xc5\xa1\xc4\x91 \xc4\x8c\xc4\x86\xc5\xbd\xc5\xa0"
	            "\xc4\x90 in vse priloge k naro\xc4\x8dilu \xf0\x9f\x93\x84 (kon\xc4\x8dno)";
	m.text = "Spo\xc5\xa1tovani,\r\n\r\nv prilogi so podpisani dokumenti. Ta vrstica je "
	         "namenoma dolga, da jo mora kodiranje quoted-printable prelomiti z mehkim "
	         "prelomom =, \xc5\xa1umniki \xc4\x8d\xc4\x87\xc5\xbe pa so kodirani.\n"
	         ".vrstica s piko na za\xc4\x8d"
	         "etku\n"
	         "presledek na koncu \n"
	         "tabulator na koncu\t\n"
	         "From the start of a line\n"
	         "Lep pozdrav";
	m.html = "<!doctype html><p>Spo\xc5\xa1tovani,</p><p>v prilogi so podpisani "
	         "dokumenti.</p>\n";
	m.att = att, m.natt = 3;
	build_and_check(&m, "full.eml", &out);
	/* the non-ASCII name goes as RFC 2231 with a plain fallback in name= */
	assert_true(has(&out, "filename*0*=UTF-8''Pogodba%20%C5%A1t."));
	assert_non_null(has(&out, "name=\"Pogodba st. 2026-017 _ podpisana.pdf\""));
	assert_true(has(&out, "filename=\"Cenik 2026.pdf\""));
	assert_true(has(&out, "Subject: =?UTF-8?B?"));
	assert_true(has(&out, "multipart/alternative"));
	/* base64 edge lengths: 0, 1, 2, 3, 56, 57 (one full line), 58 */
	static const size_t lens[] = {0, 1, 2, 3, 56, 57, 58};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *p = pattern(lens[i], (uint32_t)i + 10);
		struct mime_attachment one = {"x.pdf", NULL, p, lens[i]};
		m.att = &one, m.natt = 1, m.html = NULL;
		build_and_check(&m, "edge.eml", &out);
		free(p);
	}
	free(a), free(b), free(c);
	buf_free(&out);
}

static void test_ids_differ(void **state)
{
	(void)state;
	struct mime_msg m = base_msg();
	struct buf o1, o2;
	char id1[MIME_MSGID_MAX], id2[MIME_MSGID_MAX];
	buf_init(&o1, 1 << 16), buf_init(&o2, 1 << 16);
	assert_int_equal(mime_build(&m, &o1, id1, NULL, 0), C2S_OK);
	assert_int_equal(mime_build(&m, &o2, id2, NULL, 0), C2S_OK);
	assert_string_not_equal(id1, id2);
	assert_int_equal(strlen(id1), 1 + 32 + 1 + strlen(m.msgid_domain) + 1);
	buf_free(&o1), buf_free(&o2);
}

struct refusal {
	const char *what;
	void (*mutate)(struct mime_msg *m);
	const char *reason;
};

static struct mime_attachment g_att;
static const char *const g_bad_to[] = {"kupec@example.si", "x@evil.example\r\nBcc: y@z.si"};
static const char *const g_many[MIME_RCPT_MAX + 1] = {
    "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si",
    "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si", "a@b.si"};

#define MUT(name, body)                                                                            \
	static void name(struct mime_msg *m)                                                       \
	{                                                                                          \
		body;                                                                              \
	}
MUT(subj_crlf, m->subject = "Hello\r\nBcc: victim@example.si")
MUT(subj_lf, m->subject = "Hello\nBcc: victim@example.si")
MUT(subj_cr, m->subject = "Hello\rBcc: victim@example.si")
MUT(subj_del, m->subject = "Hello\x7f")
MUT(subj_nel, m->subject = "Hello \xc2\x85 there")
MUT(subj_badutf8, m->subject = "Hello \xc3\x28")
MUT(subj_overlong, m->subject = "Hello \xc0\xaf")
MUT(subj_surrogate, m->subject = "Hello \xed\xa0\x80")
MUT(subj_truncated, m->subject = "Hello \xe2\x82")
MUT(subj_null, m->subject = NULL)
MUT(from_bad, m->from = "noreply@click2sign.example.si\r\nBcc: x@y.si")
MUT(name_lf, m->from_name = "Click2Sign\nBcc: x@y.si")
MUT(name_empty, m->from_name = "")
MUT(to_bad, (m->to = g_bad_to, m->nto = 2))
MUT(to_none, m->nto = 0)
MUT(to_many, (m->to = g_many, m->nto = MIME_RCPT_MAX + 1))
MUT(text_esc, m->text = "colour \x1b[31m red")
MUT(text_badutf8, m->text = "\xff")
MUT(html_badutf8, m->html = "<p>\xc3</p>")
MUT(domain_bad, m->msgid_domain = "click2sign.example.si>\r\nBcc: x@y.si")
MUT(file_crlf, (g_att.filename = "a.pdf\r\nContent-Type: text/html", m->att = &g_att, m->natt = 1))
MUT(file_slash, (g_att.filename = "../etc/passwd", m->att = &g_att, m->natt = 1))
MUT(file_empty, (g_att.filename = "", m->att = &g_att, m->natt = 1))
MUT(ctype_crlf, (g_att.content_type = "application/pdf\r\nX-Evil: 1", m->att = &g_att, m->natt = 1))
MUT(ctype_param, (g_att.content_type = "application/pdf; name=x", m->att = &g_att, m->natt = 1))

static void test_refusals(void **state)
{
	(void)state;
	static const struct refusal r[] = {
	    {"subject CRLF", subj_crlf, "Subject"},
	    {"subject LF", subj_lf, "Subject"},
	    {"subject CR", subj_cr, "Subject"},
	    {"subject DEL", subj_del, "Subject"},
	    {"subject NEL", subj_nel, "Subject"},
	    {"subject UTF-8", subj_badutf8, "Subject"},
	    {"overlong", subj_overlong, "Subject"},
	    {"surrogate", subj_surrogate, "Subject"},
	    {"truncated", subj_truncated, "Subject"},
	    {"no subject", subj_null, "Subject"},
	    {"from", from_bad, "From address"},
	    {"display name", name_lf, "display name"},
	    {"empty name", name_empty, "display name"},
	    {"to", to_bad, "To address 2"},
	    {"no rcpt", to_none, "recipients"},
	    {"17 rcpt", to_many, "recipients"},
	    {"text ESC", text_esc, "text body"},
	    {"text UTF-8", text_badutf8, "text body"},
	    {"html UTF-8", html_badutf8, "HTML body"},
	    {"msgid domain", domain_bad, "Message-ID"},
	    {"file CRLF", file_crlf, "file name"},
	    {"file path", file_slash, "file name"},
	    {"file empty", file_empty, "file name"},
	    {"ctype CRLF", ctype_crlf, "content type"},
	    {"ctype param", ctype_param, "content type"},
	};
	struct buf out;
	buf_init(&out, 1 << 16);
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct mime_msg m = base_msg();
		char why[256] = "", id[MIME_MSGID_MAX] = "x";
		g_att = (struct mime_attachment){"a.pdf", NULL, (const uint8_t *)"%PDF", 4};
		r[i].mutate(&m);
		assert_int_equal(mime_build(&m, &out, id, why, sizeof(why)), C2S_ERR_ARG);
		if (strstr(why, r[i].reason) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", r[i].what, why, r[i].reason);
		assert_int_equal(out.len, 0);
		assert_string_equal(id, "");
	}
	/* the same message without the mutation is fine (the table tests the mutation only) */
	struct mime_msg ok = base_msg();
	char id[MIME_MSGID_MAX];
	assert_int_equal(mime_build(&ok, &out, id, NULL, 0), C2S_OK);
	buf_free(&out);
}

static void test_too_big(void **state)
{
	(void)state;
	struct mime_msg m = base_msg();
	uint8_t *p = pattern(10000, 7);
	struct mime_attachment a = {"big.pdf", NULL, p, 10000};
	char why[256] = "", id[MIME_MSGID_MAX];
	struct buf out;
	m.att = &a, m.natt = 1;
	buf_init(&out, 8000);
	assert_int_equal(mime_build(&m, &out, id, why, sizeof(why)), C2S_ERR_TOO_BIG);
	assert_non_null(strstr(why, "8000 bytes"));
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_init(&out, 20000); /* 10000 bytes of base64 plus headers fit */
	assert_int_equal(mime_build(&m, &out, id, why, sizeof(why)), C2S_OK);
	assert_true(out.len > 13600 && out.len < 20000);
	buf_free(&out);
	free(p);
}

static int setup(void **state)
{
	(void)state;
	const char *src = getenv("C2S_SOURCE_DIR");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s-mime-XXXXXX");
	if (src == NULL || mkdtemp(g_dir) == NULL)
		return -1;
	snprintf(g_src, sizeof(g_src), "%s", src);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (getenv("C2S_KEEP_TMP") == NULL)
		return run("rm -rf %s", g_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_plain_ascii),
	    cmocka_unit_test(test_utf8_alternative_attachments),
	    cmocka_unit_test(test_ids_differ),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
