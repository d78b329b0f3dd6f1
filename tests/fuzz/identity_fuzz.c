/* Fuzz target: identity matching of untrusted names (POST /v1/orders). The input is split
 * at 0xff bytes (never part of valid UTF-8) into contract given, contract family, account
 * given, account family; missing fields are empty. Checked beyond "no crash":
 *   - only C2S_OK or C2S_ERR_ARG (no allocation, so no other failure is possible);
 *   - a consistent result: match <=> no mismatches, swapped => match, at most two, values
 *     copied as given;
 *   - symmetry (exchanging the sides gives the same answer) and reflexivity (a valid name
 *     matches itself directly);
 *   - the canonical form is stable (canonicalising it again changes nothing) when it is
 *     short enough to be an input itself;
 *   - identity_describe succeeds in both languages within IDENTITY_DESCRIBE_MAX. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/orders/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(const struct identity_result *r, const struct identity_name *c,
                         const struct identity_name *a)
{
	if (r->n > 2 || (r->match != 0 && r->match != 1) || (r->match && r->n != 0) ||
	    (!r->match && r->n == 0) || (r->swapped && !r->match) || r->invalid != NULL)
		abort();
	for (size_t i = 0; i < r->n; i++) {
		const struct identity_mismatch *m = &r->mismatches[i];
		int fam = strcmp(m->field, "family_name") == 0;
		size_t cl = fam ? c->family_len : c->given_len,
		       al = fam ? a->family_len : a->given_len;
		const char *cv = fam ? c->family_name : c->given_name;
		const char *av = fam ? a->family_name : a->given_name;
		if (cl > IDENTITY_FIELD_MAX || al > IDENTITY_FIELD_MAX ||
		    memcmp(m->contract, cv, cl) != 0 || m->contract[cl] != '\0' ||
		    memcmp(m->account, av, al) != 0 || m->account[al] != '\0')
			abort();
	}
}

static void check_stable(const char *s, size_t len)
{
	static char once[IDENTITY_CANON_MAX], twice[IDENTITY_CANON_MAX];
	if (identity_canonical(s, len, "f", once, sizeof(once), NULL, 0) != C2S_OK)
		return;
	size_t n = strlen(once);
	if (n > IDENTITY_FIELD_MAX)
		return;
	if (identity_canonical(once, n, "f", twice, sizeof(twice), NULL, 0) != C2S_OK ||
	    strcmp(once, twice) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[4] = {"", "", "", ""};
	size_t len[4] = {0, 0, 0, 0}, k = 0, start = 0;
	struct identity_result r, back, self;
	char out[IDENTITY_DESCRIBE_MAX];

	for (size_t i = 0; i <= size && k < 4; i++) {
		if (i == size || data[i] == 0xff) {
			f[k] = (const char *)data + start;
			len[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	struct identity_name c = {f[0], len[0], f[1], len[1]};
	struct identity_name a = {f[2], len[2], f[3], len[3]};

	for (int i = 0; i < 4; i++)
		check_stable(f[i], len[i]);

	c2s_err e = identity_match(&c, &a, &r, NULL, 0);
	if (e != C2S_OK && e != C2S_ERR_ARG)
		abort();
	if (e != C2S_OK) {
		if (r.match || r.n != 0 || r.invalid == NULL)
			abort();
		return 0;
	}
	check_result(&r, &c, &a);

	if (identity_match(&a, &c, &back, NULL, 0) != C2S_OK || back.match != r.match ||
	    back.swapped != r.swapped || back.n != r.n)
		abort();
	for (size_t i = 0; i < r.n; i++)
		if (back.mismatches[i].diacritics_only != r.mismatches[i].diacritics_only)
			abort();

	if (identity_match(&c, &c, &self, NULL, 0) != C2S_OK || !self.match || self.swapped)
		abort();

	if (identity_describe(&r, "en", out, sizeof(out)) != C2S_OK || out[0] == '\0' ||
	    identity_describe(&r, "sl", out, sizeof(out)) != C2S_OK || out[0] == '\0')
		abort();
	return 0;
}
