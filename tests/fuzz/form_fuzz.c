/* Fuzz target: the customer pages' HTML form bodies (application/x-www-form-urlencoded), read
 * with web_form_field as web/pages.c and web/certlogin.c do: every field they ask for, with the
 * buffer each gives it, and the value escaped back into a page with web_esc. A value must come
 * back terminated within its buffer; a missing field as "". The whole input is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/certs/jws.h"
#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *name;
	size_t cap;
} fields[] = {
    {"csrf", 64},   /* pages.c: the session's form token */
    {"code", 64},   /* pages.c: the SMS code as typed or pasted */
    {"ticket", 80}, /* certlogin.c: registration confirmation */
    {"return", 600}, {"csrf", 80}, {"lang", 8}, {"assertion", JWS_MAX_LEN + 1},
    {"", 16}, /* a field with an empty name */
    {"c", 1}, /* the smallest buffer */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf body = {.data = (uint8_t *)data, .len = size, .off = 0};
	static char out[JWS_MAX_LEN + 2];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		memset(out, 'X', fields[i].cap + 1);
		int found = web_form_field(&body, fields[i].name, out, fields[i].cap);
		size_t n = strnlen(out, fields[i].cap);
		if (n == fields[i].cap || out[fields[i].cap] != 'X') /* unterminated or overrun */
			abort();
		if (!found && out[0])
			abort();
		if (found && fields[i].cap > 1) {
			struct buf page;
			buf_init(&page, 8192);
			web_esc(&page, out);
			for (size_t j = 0; j < page.len; j++)
				if (page.data[j] == '<' || page.data[j] == '>' ||
				    page.data[j] == '"' || page.data[j] == '\'')
					abort();
			buf_free(&page);
		}
	}
	return 0;
}
