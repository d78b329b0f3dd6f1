/* Fuzz target: b64_decode (firmware/base/b64.h), the fast decoder for order documents, against
 * mbedtls_base64_decode on the same input and output room. The first byte picks the room
 * (exact, one short, generous); the rest is the text. Checked: both accept or both refuse,
 * and when they accept, the same length and the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "firmware/base/b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const char *s = (const char *)data + 1;
	size_t n = size - 1, room = n / 4 * 3 + 3;
	size_t probe = 0;
	/* the exact length mbedTLS reports it needs, to exercise the boundary */
	(void)mbedtls_base64_decode(NULL, 0, &probe, (const unsigned char *)s, n);
	if (mode % 3 == 1)
		room = probe;
	else if (mode % 3 == 2)
		room = probe ? probe - 1 : 0;
	uint8_t *a = malloc(room + 1), *b = malloc(room + 1);
	if (!a || !b)
		abort();
	size_t la = 0, lb = 0;
	int ra = b64_decode(a, room, &la, s, n);
	int rb = mbedtls_base64_decode(b, room, &lb, (const unsigned char *)s, n) == 0 ? 0 : -1;
	if (ra != rb)
		abort();
	if (ra == 0 && (la != lb || memcmp(a, b, la) != 0))
		abort();
	free(a);
	free(b);
	return 0;
}
