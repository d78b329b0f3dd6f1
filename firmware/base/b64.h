/* Standard base64 (RFC 4648 section 4) decoding of large public data: the documents a portal
 * sends inside an order. Table-driven and not constant-time, so never for secrets (keys and
 * PINs go through mbedTLS's constant-time decoder). Accepts exactly what
 * mbedtls_base64_decode accepts and writes the same bytes: clean input (no whitespace, length
 * a multiple of four, padding only at the end) is decoded here, anything else is handed to
 * mbedTLS for its verdict. tests/fuzz/b64_fuzz.c checks the equivalence. */
#ifndef C2S_B64_H
#define C2S_B64_H

#include <stddef.h>
#include <stdint.h>

/* Decodes n characters of s into out (room for cap bytes; n / 4 * 3 + 3 always suffices).
 * Returns 0 with *out_len set, or -1 when s is not base64 or out is too small. */
int b64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *s, size_t n);

#endif
