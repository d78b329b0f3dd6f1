/* Identity matching for POST /v1/orders (step 1 of the signing order): the subscriber as
 * written on the contract and the account as registered on the portal must be the same
 * person's name, or the order is refused with 422 /identity-mismatch naming every field
 * that differs with both values as given.
 *
 * Canonical form of one field (identity_canonical):
 *   - at most IDENTITY_FIELD_MAX bytes as given; valid UTF-8 (no overlong forms, surrogates,
 *     values past U+10FFFF, truncated sequences); no NUL and no control character (Cc) other
 *     than the White_Space ones (TAB, LF, VT, FF, CR, NEL); no bidi embedding, override or
 *     isolate control (U+202A..U+202E, U+2066..U+2069), which can show the letters in another
 *     order than they are stored ("\u202Ekavon" displays as "novak");
 *   - NFKC with full Unicode case folding, default-ignorable code points removed (utf8proc
 *     COMPOSE | COMPAT | CASEFOLD | IGNORE). Compatibility mapping is deliberate: full-width
 *     letters from East Asian input methods ("Ｎｏｖａｋ"), ligatures from PDF copy and paste
 *     ("ﬁ"), and NBSP-like spaces are presentation variants of the same letters, never a
 *     different name. The remaining ignorables (soft hyphen, zero-width space and joiners,
 *     LRM/RLM) are invisible and do not reorder letters, so they carry no identity.
 *     Folding is the locale-independent one:
 *     "ß", "ẞ" and "SS" all fold to "ss" (German uppercase writes WEISS for Weiß, as
 *     passports do); Turkish "İ" folds to "i" + U+0307, so "İSMAİL" and "İsmail" differ,
 *     reported as differing only in diacritics, and "I" folds to "i", never to dotless "ı";
 *   - any Unicode White_Space (space, NBSP, tabs, line breaks, U+2000..U+200A, U+3000, ...)
 *     collapsed to one U+0020, leading and trailing removed.
 * Unassigned code points are kept (a newer Unicode version may assign a letter in a name);
 * both sides go through the same tables, so they compare consistently.
 *
 * Match: given == given and family == family, or given/family exchanged on one side
 * (res->swapped). Nothing looser: a split that moves a word between the fields
 * ("Ana Marija" / "Novak" against "Ana" / "Marija Novak") is refused, because the signer's
 * certificate carries givenName and surname separately, so the split is part of the name.
 *
 * The family name may not be empty after canonicalisation; the given name may (a person with
 * a single name has it as the primary identifier, ICAO 9303). */
#ifndef C2S_IDENTITY_H
#define C2S_IDENTITY_H

#include <stddef.h>

#include "firmware/base/err.h"

#define IDENTITY_FIELD_MAX 128
/* Worst expansion of canonicalisation is 6 code points per input byte (U+FDFA, 3 bytes, to
 * 18 code points), each at most 4 bytes of UTF-8, plus the NUL. */
#define IDENTITY_CANON_MAX    (IDENTITY_FIELD_MAX * 6 * 4 + 1)
#define IDENTITY_DESCRIBE_MAX 1024

/* One person's name as received (e.g. json_string_value + json_string_length): UTF-8, not
 * necessarily NUL-terminated, so that an embedded NUL is seen and refused. */
struct identity_name {
	const char *given_name;
	size_t given_len;
	const char *family_name;
	size_t family_len;
};

struct identity_mismatch {
	const char *field; /* "given_name" | "family_name" */
	/* the values as given (not canonicalised), NUL-terminated */
	char contract[IDENTITY_FIELD_MAX + 1], account[IDENTITY_FIELD_MAX + 1];
	/* the two differ only by diacritics: equal once marks are stripped (Č/C, é/e, İ/I) */
	int diacritics_only;
};

struct identity_result {
	int match;   /* 1: signing may start */
	int swapped; /* matched with given and family name exchanged */
	size_t n;    /* mismatches used, field-wise, given before family; 0 when match */
	struct identity_mismatch mismatches[2];
	/* on C2S_ERR_ARG: the refused field's JSON path, e.g. "account.family_name"; else NULL */
	const char *invalid;
};

/* Canonical form of one field as described above, into out (NUL-terminated, at most
 * IDENTITY_CANON_MAX bytes with the NUL). `field` names the value in `why`. Refuses with
 * C2S_ERR_ARG (and a `why` naming the field and what is wrong) input that is too long,
 * invalid UTF-8, or has a NUL or control character; an empty result is not refused here. */
C2S_MUST_CHECK c2s_err identity_canonical(const char *s, size_t len, const char *field, char *out,
                                          size_t out_cap, char *why, size_t why_cap);

/* Compares the contract's subscriber with the portal account. C2S_OK with res->match set
 * (and res->mismatches when not), or C2S_ERR_ARG with res->invalid and `why` naming the
 * first refused field ("subscriber.given_name", ..., "account.family_name"); an empty
 * family name is refused the same way. res is always fully written, match = 0 on error. */
C2S_MUST_CHECK c2s_err identity_match(const struct identity_name *contract,
                                      const struct identity_name *account,
                                      struct identity_result *res, char *why, size_t why_cap);

/* One human sentence for the 422 detail, in "sl" or "en": each differing field with both
 * values ("family_name differs: contract 'Novak', account 'Novakov'"), or, when every
 * difference is one of diacritics only, "the names differ only in diacritics: contract
 * 'Živa Čeh', account 'Ziva Ceh'". The caller adds what to do next. C2S_ERR_ARG for an
 * unknown language or when the sentence does not fit in cap (IDENTITY_DESCRIBE_MAX always
 * does); out is then an empty string, never a cut one. */
C2S_MUST_CHECK c2s_err identity_describe(const struct identity_result *res, const char *lang,
                                         char *out, size_t cap);

#endif
