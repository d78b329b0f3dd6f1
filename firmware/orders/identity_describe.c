/* The 422 /identity-mismatch detail sentence, in Slovenian or English (identity.h). */
#include <string.h>

#include "identity.h"

/* One language's pieces; a sentence is assembled from them, never from a format string, so
 * a value can never be read as a directive. */
struct identity_text {
	const char *lang;
	const char *given, *family; /* the field as people call it */
	const char *differs;        /* after the field */
	const char *differs_marks;  /* after the field, diacritics only */
	const char *names_marks;    /* both fields, diacritics only */
	const char *contract, *account, *close, *sep;
	const char *match, *swapped;
};

static const struct identity_text texts[] = {
    {"en", "given_name", "family_name", " differs", " differs only in diacritics",
     "the names differ only in diacritics", ": contract '", "', account '", "'", "; ",
     "the names match", "the names match with given and family name exchanged"},
    {"sl", "ime", "priimek", " se razlikuje", " se razlikuje le v strešicah",
     "imeni se razlikujeta le v strešicah", ": pogodba '", "', račun '", "'", "; ",
     "ime in priimek se ujemata", "ime in priimek se ujemata, a sta med seboj zamenjana"},
};

struct out_buf {
	char *p;
	size_t cap, len;
	int full;
};

static void put(struct out_buf *o, const char *s, size_t n)
{
	if (o->full || n >= o->cap - o->len) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_str(struct out_buf *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A value from the result, bounded by its array even if the caller's struct is not
 * terminated. */
static void put_value(struct out_buf *o, const char v[IDENTITY_FIELD_MAX + 1])
{
	put(o, v, strnlen(v, IDENTITY_FIELD_MAX));
}

c2s_err identity_describe(const struct identity_result *res, const char *lang, char *out,
                          size_t cap)
{
	c2s_err ret = C2S_ERR_ARG;
	const struct identity_text *t = NULL;
	struct out_buf o = {out, cap, 0, 0};
	int all_marks = 1;

	ENSURE(out != NULL && cap > 0, C2S_ERR_ARG);
	out[0] = '\0';
	ENSURE(res != NULL && lang != NULL && res->n <= 2, C2S_ERR_ARG);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (strcmp(lang, texts[i].lang) == 0)
			t = &texts[i];
	ENSURE(t != NULL, C2S_ERR_ARG);
	ENSURE(res->match ? res->n == 0 : res->n > 0, C2S_ERR_ARG);
	for (size_t i = 0; i < res->n; i++) {
		const char *f = res->mismatches[i].field;
		ENSURE(f != NULL && (strcmp(f, "given_name") == 0 || strcmp(f, "family_name") == 0),
		       C2S_ERR_ARG);
		all_marks &= res->mismatches[i].diacritics_only != 0;
	}
	/* identity_match lists given before family; two entries are one of each */
	ENSURE(res->n < 2 || (strcmp(res->mismatches[0].field, "given_name") == 0 &&
	                      strcmp(res->mismatches[1].field, "family_name") == 0),
	       C2S_ERR_ARG);
	if (res->match) {
		put_str(&o, res->swapped ? t->swapped : t->match);
	} else if (res->n == 2 && all_marks) {
		/* "Živa Čeh" against "Ziva Ceh": the whole name reads better than two halves */
		put_str(&o, t->names_marks);
		put_str(&o, t->contract);
		put_value(&o, res->mismatches[0].contract);
		put_str(&o, " ");
		put_value(&o, res->mismatches[1].contract);
		put_str(&o, t->account);
		put_value(&o, res->mismatches[0].account);
		put_str(&o, " ");
		put_value(&o, res->mismatches[1].account);
		put_str(&o, t->close);
	} else {
		for (size_t i = 0; i < res->n; i++) {
			const struct identity_mismatch *m = &res->mismatches[i];
			if (i > 0)
				put_str(&o, t->sep);
			put_str(&o, strcmp(m->field, "given_name") == 0 ? t->given : t->family);
			put_str(&o, m->diacritics_only ? t->differs_marks : t->differs);
			put_str(&o, t->contract);
			put_value(&o, m->contract);
			put_str(&o, t->account);
			put_value(&o, m->account);
			put_str(&o, t->close);
		}
	}
	ENSURE(!o.full, C2S_ERR_ARG);
	ret = C2S_OK;
out:
	if (ret != C2S_OK && out != NULL && cap > 0)
		out[0] = '\0';
	return ret;
}
