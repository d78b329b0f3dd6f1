/* Identity matching: the canonical form of a name field and the two match rules
 * (identity.h says what and why). No allocation: every buffer is bounded by
 * IDENTITY_FIELD_MAX and the worst expansion of canonicalisation. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "identity.h"

/* 6 code points per input byte at most (measured over every code point with these options:
 * U+FDFA, 3 bytes, decomposes to 18); composition and stripping only shorten. */
#define CANON_CPS (IDENTITY_FIELD_MAX * 6)

#define CANON_OPTS (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

struct canon {
	utf8proc_int32_t cp[CANON_CPS];
	size_t n;
};

/* Unicode White_Space (PropList.txt): category Zs, Zl, Zp and the Cc ones TAB..CR, NEL. */
static int is_white(utf8proc_int32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Embeddings, overrides and isolates: they can display letters in another order. */
static int is_bidi_control(utf8proc_int32_t c)
{
	return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/* Refuses what may not be in a name, naming the field and the byte where it is. */
static c2s_err check_raw(const char *s, size_t len, const char *field, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	size_t off = 0;

	if (s == NULL)
		WHY(C2S_ERR_ARG, "%s: missing", field);
	if (len > IDENTITY_FIELD_MAX)
		WHY(C2S_ERR_ARG, "%s: %zu bytes, at most %d are allowed", field, len,
		    IDENTITY_FIELD_MAX);
	while (off < len) {
		utf8proc_int32_t c = -1;
		utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + off,
		                                      (utf8proc_ssize_t)(len - off), &c);
		if (n <= 0 || c < 0)
			WHY(C2S_ERR_ARG, "%s: not valid UTF-8 at byte %zu", field, off);
		if (c == 0)
			WHY(C2S_ERR_ARG, "%s: NUL byte at byte %zu", field, off);
		if (utf8proc_category(c) == UTF8PROC_CATEGORY_CC && !is_white(c))
			WHY(C2S_ERR_ARG, "%s: control character U+%04X at byte %zu", field,
			    (unsigned)c, off);
		if (is_bidi_control(c))
			WHY(C2S_ERR_ARG, "%s: bidirectional control character U+%04X at byte %zu",
			    field, (unsigned)c, off);
		off += (size_t)n;
	}
	ret = C2S_OK;
out:
	return ret;
}

/* NFKC + case fold + ignorables removed (+ marks removed with UTF8PROC_STRIPMARK in
 * `extra`), then White_Space runs collapsed to one space and trimmed. */
static c2s_err canon_cps(const char *s, size_t len, const char *field, utf8proc_option_t extra,
                         struct canon *c, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	utf8proc_option_t opts = (utf8proc_option_t)(CANON_OPTS | extra);
	utf8proc_ssize_t m;
	size_t w = 0;
	int space = 0;

	c->n = 0;
	GUARD(check_raw(s, len, field, why, why_cap));
	ret = C2S_ERR_INTERNAL;
	m = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, c->cp, CANON_CPS,
	                       opts);
	if (m < 0 || m > CANON_CPS)
		WHY(C2S_ERR_INTERNAL, "%s: canonicalisation failed (%s)", field,
		    m < 0 ? utf8proc_errmsg(m) : "expansion past its bound");
	m = utf8proc_normalize_utf32(c->cp, m, opts);
	if (m < 0)
		WHY(C2S_ERR_INTERNAL, "%s: composition failed (%s)", field, utf8proc_errmsg(m));
	/* in place: a pending space is only written after a skipped White_Space, so w <= i */
	for (size_t i = 0; i < (size_t)m; i++) {
		if (is_white(c->cp[i])) {
			space = w > 0;
			continue;
		}
		if (space)
			c->cp[w++] = 0x20;
		space = 0;
		c->cp[w++] = c->cp[i];
	}
	c->n = w;
	ret = C2S_OK;
out:
	return ret;
}

static int canon_eq(const struct canon *a, const struct canon *b)
{
	return a->n == b->n && memcmp(a->cp, b->cp, a->n * sizeof(a->cp[0])) == 0;
}

c2s_err identity_canonical(const char *s, size_t len, const char *field, char *out, size_t out_cap,
                           char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct canon c;
	size_t w = 0;

	ENSURE(out != NULL && out_cap > 0, C2S_ERR_ARG);
	out[0] = '\0';
	GUARD(canon_cps(s, len, field != NULL ? field : "name", 0, &c, why, why_cap));
	ret = C2S_ERR_ARG;
	for (size_t i = 0; i < c.n; i++) {
		utf8proc_uint8_t u[4];
		utf8proc_ssize_t k = utf8proc_encode_char(c.cp[i], u);
		if (k <= 0 || w + (size_t)k >= out_cap) {
			out[0] = '\0';
			WHY(C2S_ERR_ARG, "canonical form does not fit in %zu bytes", out_cap);
		}
		memcpy(out + w, u, (size_t)k);
		w += (size_t)k;
	}
	out[w] = '\0';
	ret = C2S_OK;
out:
	return ret;
}

/* Records field f (0 given, 1 family) as differing, with both values as given. */
static c2s_err add_mismatch(struct identity_result *res, int f, const char *contract, size_t clen,
                            const char *account, size_t alen, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct canon a, b;
	struct identity_mismatch *m;

	ENSURE(res->n < 2 && clen <= IDENTITY_FIELD_MAX && alen <= IDENTITY_FIELD_MAX,
	       C2S_ERR_INTERNAL);
	m = &res->mismatches[res->n];
	m->field = f == 0 ? "given_name" : "family_name";
	memcpy(m->contract, contract, clen);
	m->contract[clen] = '\0';
	memcpy(m->account, account, alen);
	m->account[alen] = '\0';
	GUARD(canon_cps(contract, clen, m->field, UTF8PROC_STRIPMARK, &a, why, why_cap));
	GUARD(canon_cps(account, alen, m->field, UTF8PROC_STRIPMARK, &b, why, why_cap));
	m->diacritics_only = canon_eq(&a, &b);
	res->n++;
	ret = C2S_OK;
out:
	return ret;
}

c2s_err identity_match(const struct identity_name *contract, const struct identity_name *account,
                       struct identity_result *res, char *why, size_t why_cap)
{
	static const char *const paths[4] = {"subscriber.given_name", "subscriber.family_name",
	                                     "account.given_name", "account.family_name"};
	c2s_err ret = C2S_ERR_ARG;
	struct canon c[4];
	const char *raw[4];
	size_t len[4];
	int direct, swapped;

	ENSURE(res != NULL, C2S_ERR_ARG);
	memset(res, 0, sizeof(*res));
	ENSURE(contract != NULL && account != NULL, C2S_ERR_ARG);
	raw[0] = contract->given_name;
	len[0] = contract->given_len;
	raw[1] = contract->family_name;
	len[1] = contract->family_len;
	raw[2] = account->given_name;
	len[2] = account->given_len;
	raw[3] = account->family_name;
	len[3] = account->family_len;
	for (int i = 0; i < 4; i++) {
		res->invalid = paths[i];
		GUARD(canon_cps(raw[i], len[i], paths[i], 0, &c[i], why, why_cap));
		if ((i == 1 || i == 3) && c[i].n == 0)
			WHY(C2S_ERR_ARG, "%s: empty; a family name is required", paths[i]);
	}
	res->invalid = NULL;
	direct = canon_eq(&c[0], &c[2]) && canon_eq(&c[1], &c[3]);
	swapped = canon_eq(&c[0], &c[3]) && canon_eq(&c[1], &c[2]);
	if (!direct && !swapped) {
		for (int f = 0; f < 2; f++)
			if (!canon_eq(&c[f], &c[f + 2]))
				GUARD(add_mismatch(res, f, raw[f], len[f], raw[f + 2], len[f + 2],
				                   why, why_cap));
		/* both readings refused, so at least one field differs field-wise */
		ENSURE(res->n > 0, C2S_ERR_INTERNAL);
	}
	res->match = direct || swapped;
	res->swapped = !direct && swapped;
	ret = C2S_OK;
out:
	if (ret != C2S_OK && res != NULL) {
		const char *invalid = ret == C2S_ERR_ARG ? res->invalid : NULL;
		memset(res, 0, sizeof(*res));
		res->invalid = invalid;
	}
	return ret;
}
