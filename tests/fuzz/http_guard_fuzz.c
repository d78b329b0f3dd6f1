/* Fuzz target: the front end's request checks (web/guard.c) before routing: the raw request
 * target (guard_uri_ok) and the header fields as libmicrohttpd hands them over
 * (guard_check_fields). Input: the request target up to the first '\n', then one field per line
 * as "name:value" (bytes as they are, NULs included; the first ':' splits), up to 128 fields.
 * A refusal must say why; an accepted section must have exactly what the checks demand. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	char *nl = memchr(copy, '\n', size);
	size_t tl = nl ? (size_t)(nl - copy) : size;
	char *target = malloc(tl + 1);
	if (target) {
		memcpy(target, copy, tl);
		target[tl] = 0;
		why[0] = 0;
		if (!guard_uri_ok(target, why, sizeof(why)) && !why[0])
			abort();
		free(target);
	}
	struct guard_field f[128];
	size_t n = 0;
	char *p = nl ? nl + 1 : copy + size, *end = copy + size;
	while (p < end && n < 128) {
		char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		*e = 0; /* the line, NUL-terminated as the library's are */
		char *colon = memchr(p, ':', (size_t)(e - p));
		if (colon) {
			*colon = 0;
			f[n++] = (struct guard_field){p, (size_t)(colon - p), colon + 1,
			                              (size_t)(e - colon - 1)};
		}
		p = e + 1;
	}
	why[0] = 0;
	unsigned st = guard_check_fields(f, n, size & 1, why, sizeof(why));
	if (st && (!why[0] || (st != 400 && st != 501)))
		abort();
	if (!st) { /* accepted: at most one Host and Content-Length, no CL with TE */
		int host = 0, cl = 0, te = 0;
		for (size_t i = 0; i < n; i++) {
			host += strcasecmp(f[i].key, "Host") == 0;
			cl += strcasecmp(f[i].key, "Content-Length") == 0;
			te += strcasecmp(f[i].key, "Transfer-Encoding") == 0;
		}
		if (host > 1 || cl > 1 || (cl && te))
			abort();
	}
	free(copy);
	return 0;
}
