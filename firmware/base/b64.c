#include "b64.h"

#include <mbedtls/base64.h>

/* 0..63 for the alphabet, 0x80 for everything else (including '='). */
static const uint8_t b64_val[256] = {
#define X 0x80
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  X,  0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
#undef X
};

/* The clean case, or -1 to let mbedTLS decide. */
static int b64_fast(uint8_t *out, size_t cap, size_t *out_len, const uint8_t *s, size_t n)
{
	if (n == 0 || n % 4 != 0)
		return -1;
	size_t pad = (s[n - 1] == '=') + (s[n - 1] == '=' && s[n - 2] == '=');
	size_t len = n / 4 * 3 - pad;
	if (len > cap)
		return -1;
	size_t full = pad ? n - 4 : n, o = 0;
	for (size_t i = 0; i < full; i += 4) {
		uint32_t a = b64_val[s[i]], b = b64_val[s[i + 1]], c = b64_val[s[i + 2]],
		         d = b64_val[s[i + 3]];
		if ((a | b | c | d) & 0x80)
			return -1;
		uint32_t v = a << 18 | b << 12 | c << 6 | d;
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	if (pad) {
		const uint8_t *q = s + n - 4;
		uint32_t a = b64_val[q[0]], b = b64_val[q[1]], c = pad == 1 ? b64_val[q[2]] : 0;
		if ((a | b | c) & 0x80)
			return -1;
		uint32_t v = a << 18 | b << 12 | c << 6;
		out[o++] = (uint8_t)(v >> 16);
		if (pad == 1)
			out[o++] = (uint8_t)(v >> 8);
	}
	*out_len = o;
	return 0;
}

int b64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t n)
{
	if (b64_fast(out, cap, out_len, (const uint8_t *)s, n) == 0)
		return 0;
	return mbedtls_base64_decode(out, cap, out_len, (const unsigned char *)s, n) == 0 ? 0 : -1;
}
