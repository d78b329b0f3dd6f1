/* identity: the contract's subscriber against the portal account (API.md 422
 * /identity-mismatch). A table of name pairs with the expected outcome, each also run with
 * the sides exchanged (matching is symmetric); invalid input refused naming the field;
 * the length bound at 128/129 bytes and the worst Unicode expansion; the canonical form
 * itself; the 422 sentence in English and Slovenian, exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "firmware/orders/identity.h"

/* A literal with its length, so that embedded NULs survive. */
struct lit {
	const char *s;
	size_t len;
};
#define S(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}

struct row {
	const char *what;
	struct lit cg, cf, ag, af; /* contract given/family, account given/family */
	c2s_err want;
	int match, swapped;
	size_t n;
	int dia0, dia1;      /* diacritics_only of mismatches[0], [1] */
	const char *field0;  /* mismatches[0].field */
	const char *invalid; /* res.invalid and a word of `why` on C2S_ERR_ARG */
	const char *why_has; /* what `why` must also say */
};

static const struct row rows[] = {
    /* the help page: "Janez Novak" on the contract, "Novakov Janez" on the portal */
    {"help page, portal given Janez family Novakov", S("Janez"), S("Novak"), S("Janez"),
     S("Novakov"), C2S_OK, 0, 0, 1, 0, 0, "family_name", NULL, NULL},
    {"help page, portal given Novakov family Janez", S("Janez"), S("Novak"), S("Novakov"),
     S("Janez"), C2S_OK, 0, 0, 2, 0, 0, "given_name", NULL, NULL},
    {"case and doubled space", S("ANA  MARIJA"), S("NOVAK "), S("Ana Marija"), S("Novak"), C2S_OK,
     1, 0, 0, 0, 0, NULL, NULL, NULL},
    {"fields exchanged", S("Novak"), S("Janez"), S("Janez"), S("Novak"), C2S_OK, 1, 1, 0, 0, 0,
     NULL, NULL, NULL},
    {"exchanged and case", S("NOVAK"), S("janez"), S("Janez"), S("Novak"), C2S_OK, 1, 1, 0, 0, 0,
     NULL, NULL, NULL},
    {"same in both readings is direct", S("Novak"), S("Novak"), S("novak"), S("NOVAK"), C2S_OK, 1,
     0, 0, 0, 0, NULL, NULL, NULL},
    {"diacritics only, both fields", S("Živa"), S("Čeh"), S("Ziva"), S("Ceh"), C2S_OK, 0, 0, 2, 1,
     1, "given_name", NULL, NULL},
    {"diacritics and case", S("ŽIVA"), S("ČEH"), S("ziva"), S("Čeh"), C2S_OK, 0, 0, 1, 1, 0,
     "given_name", NULL, NULL},
    {"NFC against NFD", S("Janez"), S("\xc4\x8c\x65h"), S("Janez"), S("C\xcc\x8c\x65h"), C2S_OK, 1,
     0, 0, 0, 0, NULL, NULL, NULL},
    {"NFD lowercase against NFC uppercase", S("z\xcc\x8civa"), S("Novak"), S("\xc5\xbdIVA"),
     S("Novak"), C2S_OK, 1, 0, 0, 0, 0, NULL, NULL, NULL},
    /* full case folding: ß and capital ẞ fold to "ss" */
    {"sharp s against SS", S("Hans"), S("Weiß"), S("HANS"), S("WEISS"), C2S_OK, 1, 0, 0, 0, 0, NULL,
     NULL, NULL},
    {"capital sharp s", S("Hans"), S("WEIẞ"), S("Hans"), S("weiss"), C2S_OK, 1, 0, 0, 0, 0, NULL,
     NULL, NULL},
    /* locale-independent folding: I -> i, İ -> i + U+0307, ı stays ı */
    {"Turkish, no dots", S("ISMAIL"), S("KAYA"), S("ismail"), S("Kaya"), C2S_OK, 1, 0, 0, 0, 0,
     NULL, NULL, NULL},
    {"Turkish dotted capital I", S("İSMAİL"), S("Kaya"), S("İsmail"), S("Kaya"), C2S_OK, 0, 0, 1, 1,
     0, "given_name", NULL, NULL},
    {"Turkish dotless i is a letter", S("Ismail"), S("Yıldız"), S("Ismail"), S("YILDIZ"), C2S_OK, 0,
     0, 1, 0, 0, "family_name", NULL, NULL},
    /* White_Space collapsed and trimmed: NBSP, tabs, em space, ideographic space, LF */
    {"NBSP and tab", S("Ana\xc2\xa0Marija"), S("Novak"), S("Ana\t\tMarija"), S("Novak"), C2S_OK, 1,
     0, 0, 0, 0, NULL, NULL, NULL},
    {"wide spaces trimmed", S("\xe3\x80\x80Janez\xe2\x80\x83"), S("\tNovak\n"), S("Janez"),
     S("Novak"), C2S_OK, 1, 0, 0, 0, 0, NULL, NULL, NULL},
    {"space inside a word counts", S("Jan ez"), S("Novak"), S("Janez"), S("Novak"), C2S_OK, 0, 0, 1,
     0, 0, "given_name", NULL, NULL},
    /* compatibility forms and ignorables */
    {"full-width letters", S("ＪＡＮＥＺ"), S("Novak"), S("Janez"), S("Novak"), C2S_OK, 1, 0, 0, 0,
     0, NULL, NULL, NULL},
    {"ligature ffi", S("Sam"), S("Gri\xef\xac\x83n"), S("Sam"), S("Griffin"), C2S_OK, 1, 0, 0, 0, 0,
     NULL, NULL, NULL},
    {"soft hyphen and zero-width space", S("Ja\xe2\x80\x8bnez"), S("No\xc2\xadvak"), S("Janez"),
     S("Novak"), C2S_OK, 1, 0, 0, 0, 0, NULL, NULL, NULL},
    /* what stays different */
    {"hyphen is not a space", S("Ana"), S("Novak-Kovač"), S("Ana"), S("Novak Kovač"), C2S_OK, 0, 0,
     1, 0, 0, "family_name", NULL, NULL},
    {"a word moved between fields", S("Ana Marija"), S("Novak"), S("Ana"), S("Marija Novak"),
     C2S_OK, 0, 0, 2, 0, 0, "given_name", NULL, NULL},
    {"D with stroke is no diacritic", S("Đuro"), S("Novak"), S("Duro"), S("Novak"), C2S_OK, 0, 0, 1,
     0, 0, "given_name", NULL, NULL},
    {"another person", S("Janez"), S("Novak"), S("Jernej"), S("Novak"), C2S_OK, 0, 0, 1, 0, 0,
     "given_name", NULL, NULL},
    {"single name, empty given", S(""), S("Sukarno"), S(" "), S("SUKARNO"), C2S_OK, 1, 0, 0, 0, 0,
     NULL, NULL, NULL},
    /* refused input, naming the field */
    {"overlong 2-byte", S("\xc0\xaf"), S("Novak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0,
     0, NULL, "subscriber.given_name", "UTF-8"},
    {"overlong 3-byte", S("Janez"), S("N\xe0\x80\xafvak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0,
     0, 0, 0, 0, NULL, "subscriber.family_name", "at byte 1"},
    {"surrogate", S("Janez"), S("Novak"), S("Janez"), S("Nov\xed\xa0\x80"), C2S_ERR_ARG, 0, 0, 0, 0,
     0, NULL, "account.family_name", "UTF-8"},
    {"truncated sequence", S("Janez"), S("Novak"), S("Jane\xc5"), S("Novak"), C2S_ERR_ARG, 0, 0, 0,
     0, 0, NULL, "account.given_name", "at byte 4"},
    {"past U+10FFFF", S("\xf4\x90\x80\x80"), S("Novak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0,
     0, 0, 0, NULL, "subscriber.given_name", "UTF-8"},
    {"lone continuation byte", S("Janez"), S("\x80"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0,
     0, 0, NULL, "subscriber.family_name", "UTF-8"},
    {"0xff byte", S("Janez"), S("Novak"), S("Janez"), S("Nova\xff"), C2S_ERR_ARG, 0, 0, 0, 0, 0,
     NULL, "account.family_name", "UTF-8"},
    {"NUL byte", S("Ja\0nez"), S("Novak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0, 0, NULL,
     "subscriber.given_name", "NUL"},
    {"C0 control", S("Janez"), S("Novak"), S("Janez\x01"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0, 0,
     NULL, "account.given_name", "U+0001"},
    {"escape", S("Janez"), S("\x1b[31mNovak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0, 0,
     NULL, "subscriber.family_name", "U+001B"},
    {"DEL", S("Janez"), S("Novak"), S("Janez"), S("Novak\x7f"), C2S_ERR_ARG, 0, 0, 0, 0, 0, NULL,
     "account.family_name", "U+007F"},
    {"C1 control", S("Janez\xc2\x80"), S("Novak"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0,
     0, NULL, "subscriber.given_name", "U+0080"},
    {"bidi override", S("Janez"), S("\xe2\x80\xaekavon"), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0,
     0, 0, 0, NULL, "subscriber.family_name", "U+202E"},
    {"empty family name", S("Janez"), S(""), S("Janez"), S("Novak"), C2S_ERR_ARG, 0, 0, 0, 0, 0,
     NULL, "subscriber.family_name", "empty"},
    {"blank family name", S("Janez"), S("Novak"), S("Janez"), S(" \xc2\xa0\t"), C2S_ERR_ARG, 0, 0,
     0, 0, 0, NULL, "account.family_name", "empty"},
    {"invisible family name", S("Janez"), S("\xe2\x80\x8b\xc2\xad"), S("Janez"), S("Novak"),
     C2S_ERR_ARG, 0, 0, 0, 0, 0, NULL, "subscriber.family_name", "empty"},
};

static struct identity_name name_of(struct lit g, struct lit f)
{
	struct identity_name n = {g.s, g.len, f.s, f.len};
	return n;
}

static void check_row(const struct row *r, int reversed)
{
	struct identity_name c = name_of(r->cg, r->cf), a = name_of(r->ag, r->af);
	struct identity_result res;
	char why[256] = "";

	print_message("%s%s\n", r->what, reversed ? " (sides exchanged)" : "");
	memset(&res, 0x5a, sizeof(res)); /* every field must be written */
	c2s_err e = reversed ? identity_match(&a, &c, &res, why, sizeof(why))
	                     : identity_match(&c, &a, &res, why, sizeof(why));
	assert_int_equal(e, r->want);
	if (e != C2S_OK) {
		assert_int_equal(res.match, 0);
		assert_int_equal(res.n, 0);
		/* the same field, on the other side when the sides were exchanged */
		const char *field = strchr(r->invalid, '.') + 1;
		const char *side =
		    strncmp(r->invalid, "account", 7) == 0 ? "account" : "subscriber";
		if (reversed)
			side = strcmp(side, "account") == 0 ? "subscriber" : "account";
		char path[64];
		snprintf(path, sizeof(path), "%s.%s", side, field);
		assert_non_null(res.invalid);
		assert_string_equal(res.invalid, path);
		assert_non_null(strstr(why, path));
		assert_non_null(strstr(why, r->why_has));
		return;
	}
	assert_int_equal(res.match, r->match);
	assert_int_equal(res.swapped, r->swapped);
	assert_int_equal(res.n, r->n);
	assert_null(res.invalid);
	for (size_t i = 0; i < res.n; i++) {
		const struct identity_mismatch *m = &res.mismatches[i];
		int fam = strcmp(m->field, "family_name") == 0;
		assert_true(fam || strcmp(m->field, "given_name") == 0);
		/* values as given, not canonicalised */
		const struct lit *cv = fam ? &r->cf : &r->cg, *av = fam ? &r->af : &r->ag;
		if (reversed) {
			const struct lit *t = cv;
			cv = av;
			av = t;
		}
		assert_memory_equal(m->contract, cv->s, cv->len + 1);
		assert_memory_equal(m->account, av->s, av->len + 1);
		assert_int_equal(m->diacritics_only, i == 0 ? r->dia0 : r->dia1);
	}
	if (res.n > 0)
		assert_string_equal(res.mismatches[0].field, r->field0);
	if (res.n == 2)
		assert_string_equal(res.mismatches[1].field, "family_name");
}

static void table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		check_row(&rows[i], 0);
		check_row(&rows[i], 1);
	}
}

static void canonical_form(void **state)
{
	(void)state;
	static const struct {
		struct lit in;
		const char *want;
	} v[] = {
	    {S("  JANEZ\t\tNOVAK\xc2\xa0"), "janez novak"},
	    {S("Weiß"), "weiss"},
	    {S("C\xcc\x8c\x45H"), "\xc4\x8d\x65h"}, /* NFD in, NFC out */
	    {S("İ"), "i\xcc\x87"},
	    {S("ＡＢ\xef\xac\x81"), "abfi"},
	    {S("a\xe2\x80\xa8\xe2\x80\xa9 b"), "a b"}, /* line and paragraph separators */
	    /* White_Space that NFKC leaves alone: NEL, VT, FF, CR, Ogham space mark */
	    {S("a\xc2\x85\x0b\x0c\r\xe1\x9a\x80\x62"), "a b"},
	    {S(""), ""},
	};
	char out[IDENTITY_CANON_MAX], why[128];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(identity_canonical(v[i].in.s, v[i].in.len, "name", out,
		                                    sizeof(out), why, sizeof(why)),
		                 C2S_OK);
		assert_string_equal(out, v[i].want);
	}
	/* a buffer too small is refused, not filled with a cut string */
	assert_int_equal(identity_canonical("Novak", 5, "name", out, 5, why, sizeof(why)),
	                 C2S_ERR_ARG);
	assert_string_equal(out, "");
	assert_int_equal(identity_canonical("Novak", 5, "name", out, 6, why, sizeof(why)), C2S_OK);
	assert_string_equal(out, "novak");
	assert_int_equal(
	    identity_canonical("Nov\x01", 4, "x.y", out, sizeof(out), why, sizeof(why)),
	    C2S_ERR_ARG);
	assert_non_null(strstr(why, "x.y"));
}

/* 128 bytes pass, 129 are refused naming the field, counted in bytes, not characters. */
static void length_bound(void **state)
{
	(void)state;
	char big[IDENTITY_FIELD_MAX + 2], why[128];
	struct identity_result res;
	struct identity_name c = {"Janez", 5, "Novak", 5};
	struct identity_name a = {big, IDENTITY_FIELD_MAX, "Novak", 5};

	memset(big, 'a', sizeof(big));
	assert_int_equal(identity_match(&c, &a, &res, why, sizeof(why)), C2S_OK);
	assert_int_equal(res.match, 0);
	assert_int_equal(strlen(res.mismatches[0].account), IDENTITY_FIELD_MAX);

	a.given_len = IDENTITY_FIELD_MAX + 1;
	assert_int_equal(identity_match(&c, &a, &res, why, sizeof(why)), C2S_ERR_ARG);
	assert_string_equal(res.invalid, "account.given_name");
	assert_non_null(strstr(why, "129 bytes"));

	/* 64 x "Č" is 128 bytes; 43 x U+FDFA (3 bytes each) is 129 */
	for (int i = 0; i < 64; i++)
		memcpy(big + 2 * i, "\xc4\x8c", 2);
	a.given_len = 128;
	assert_int_equal(identity_match(&c, &a, &res, why, sizeof(why)), C2S_OK);
	for (int i = 0; i < 43; i++)
		memcpy(big + 3 * i, "\xef\xb7\xba", 3);
	a.given_len = 129;
	assert_int_equal(identity_match(&c, &a, &res, why, sizeof(why)), C2S_ERR_ARG);
}

/* The worst expansion: 42 x U+FDFA (126 bytes) becomes 42 x 18 code points; it must fit the
 * fixed buffers and equal itself written decomposed by the portal. */
static void worst_expansion(void **state)
{
	(void)state;
	char big[126], out[IDENTITY_CANON_MAX], why[128];
	struct identity_result res;
	for (int i = 0; i < 42; i++)
		memcpy(big + 3 * i, "\xef\xb7\xba", 3);
	assert_int_equal(
	    identity_canonical(big, sizeof(big), "name", out, sizeof(out), why, sizeof(why)),
	    C2S_OK);
	assert_true(strlen(out) > 1000);
	struct identity_name c = {"X", 1, big, sizeof(big)};
	assert_int_equal(identity_match(&c, &c, &res, why, sizeof(why)), C2S_OK);
	assert_int_equal(res.match, 1);
	assert_int_equal(res.swapped, 0);
}

static void null_arguments(void **state)
{
	(void)state;
	struct identity_name ok = {"Janez", 5, "Novak", 5}, missing = {NULL, 0, "Novak", 5};
	struct identity_result res;
	char why[128];
	assert_int_equal(identity_match(NULL, &ok, &res, why, sizeof(why)), C2S_ERR_ARG);
	assert_int_equal(res.match, 0);
	assert_int_equal(identity_match(&ok, &ok, NULL, why, sizeof(why)), C2S_ERR_ARG);
	assert_int_equal(identity_match(&ok, &missing, &res, NULL, 0), C2S_ERR_ARG);
	assert_string_equal(res.invalid, "account.given_name");
	assert_int_equal(identity_match(&ok, &ok, &res, NULL, 0), C2S_OK);
	assert_int_equal(res.match, 1);
}

static void describe_pair(const char *cg, const char *cf, const char *ag, const char *af,
                          const char *lang, const char *want)
{
	struct identity_name c = {cg, strlen(cg), cf, strlen(cf)};
	struct identity_name a = {ag, strlen(ag), af, strlen(af)};
	struct identity_result res;
	char out[IDENTITY_DESCRIBE_MAX];
	assert_int_equal(identity_match(&c, &a, &res, NULL, 0), C2S_OK);
	assert_int_equal(identity_describe(&res, lang, out, sizeof(out)), C2S_OK);
	assert_string_equal(out, want);
}

static void describe(void **state)
{
	(void)state;
	describe_pair("Janez", "Novak", "Janez", "Novakov", "en",
	              "family_name differs: contract 'Novak', account 'Novakov'");
	describe_pair("Janez", "Novak", "Janez", "Novakov", "sl",
	              "priimek se razlikuje: pogodba 'Novak', račun 'Novakov'");
	describe_pair(
	    "Živa", "Čeh", "Ziva", "Ceh", "en",
	    "the names differ only in diacritics: contract 'Živa Čeh', account 'Ziva Ceh'");
	describe_pair("Živa", "Čeh", "Ziva", "Ceh", "sl",
	              "imeni se razlikujeta le v strešicah: pogodba 'Živa Čeh', račun 'Ziva Ceh'");
	describe_pair("Ana", "Čeh", "Anja", "Ceh", "en",
	              "given_name differs: contract 'Ana', account 'Anja'; family_name differs "
	              "only in diacritics: contract 'Čeh', account 'Ceh'");
	describe_pair("Ana", "Čeh", "Ana", "Ceh", "sl",
	              "priimek se razlikuje le v strešicah: pogodba 'Čeh', račun 'Ceh'");
	describe_pair("Janez", "Novak", "Novakov", "Janez", "sl",
	              "ime se razlikuje: pogodba 'Janez', račun 'Novakov'; priimek se razlikuje: "
	              "pogodba 'Novak', račun 'Janez'");
	/* values as given: the spacing of the request is shown, not the canonical form */
	describe_pair("Janez", "Novak ", "Janez", "NOVAKOV", "en",
	              "family_name differs: contract 'Novak ', account 'NOVAKOV'");
	describe_pair("Novak", "Janez", "Janez", "Novak", "en",
	              "the names match with given and family name exchanged");
	describe_pair("Janez", "Novak", "JANEZ", "NOVAK", "sl", "ime in priimek se ujemata");
}

static void describe_refuses(void **state)
{
	(void)state;
	struct identity_name c = {"Janez", 5, "Novak", 5}, a = {"Janez", 5, "Novakov", 7};
	struct identity_result res;
	char out[IDENTITY_DESCRIBE_MAX];
	assert_int_equal(identity_match(&c, &a, &res, NULL, 0), C2S_OK);
	assert_int_equal(identity_describe(&res, "de", out, sizeof(out)), C2S_ERR_ARG);
	assert_int_equal(identity_describe(&res, NULL, out, sizeof(out)), C2S_ERR_ARG);
	/* too small: refused and empty, never a sentence cut inside a UTF-8 sequence */
	assert_int_equal(identity_describe(&res, "sl", out, 20), C2S_ERR_ARG);
	assert_string_equal(out, "");
	/* a result that contradicts itself is refused */
	res.match = 1;
	assert_int_equal(identity_describe(&res, "en", out, sizeof(out)), C2S_ERR_ARG);
	res.match = 0;
	res.n = 3;
	assert_int_equal(identity_describe(&res, "en", out, sizeof(out)), C2S_ERR_ARG);
	res.n = 1;
	res.mismatches[0].field = "email";
	assert_int_equal(identity_describe(&res, "en", out, sizeof(out)), C2S_ERR_ARG);
}

/* The longest sentence fits IDENTITY_DESCRIBE_MAX: four 128-byte values, both fields. */
static void describe_longest(void **state)
{
	(void)state;
	char v[4][IDENTITY_FIELD_MAX + 1], out[IDENTITY_DESCRIBE_MAX];
	struct identity_result res;
	for (int i = 0; i < 4; i++) {
		memset(v[i], 'a' + i, IDENTITY_FIELD_MAX);
		v[i][IDENTITY_FIELD_MAX] = '\0';
	}
	struct identity_name c = {v[0], IDENTITY_FIELD_MAX, v[1], IDENTITY_FIELD_MAX};
	struct identity_name a = {v[2], IDENTITY_FIELD_MAX, v[3], IDENTITY_FIELD_MAX};
	assert_int_equal(identity_match(&c, &a, &res, NULL, 0), C2S_OK);
	assert_int_equal(res.n, 2);
	assert_int_equal(identity_describe(&res, "sl", out, sizeof(out)), C2S_OK);
	assert_true(strlen(out) > 4 * IDENTITY_FIELD_MAX);
	assert_int_equal(identity_describe(&res, "en", out, sizeof(out)), C2S_OK);
	assert_non_null(strstr(out, v[3]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(canonical_form),
	    cmocka_unit_test(length_bound),
	    cmocka_unit_test(worst_expansion),
	    cmocka_unit_test(null_arguments),
	    cmocka_unit_test(describe),
	    cmocka_unit_test(describe_refuses),
	    cmocka_unit_test(describe_longest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
