/* SHA-256 for document-sized input, on nettle (which picks the CPU's SHA extensions at load
 * time; mbedTLS 2.28's portable C is about 6x slower on a SHA-NI CPU, docs/BENCHMARKS.md
 * "Document hashing"). Small hashes inside mbedTLS calls (HMAC, certificates) stay there.
 *
 * The running state can be taken out and put back as plain fields (struct c2s_sha256_state),
 * the same for any library: firmware/pades/midstate.h serializes it between processes. None of
 * these calls can fail except c2s_sha256_import, which checks its input. */
#ifndef C2S_SHA256_H
#define C2S_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "firmware/base/err.h"

#define C2S_SHA256_LEN   32
#define C2S_SHA256_BLOCK 64
/* the longest message whose state can be exported (SHA-256 counts bits in 64 bits) */
#define C2S_SHA256_LEN_LIMIT (1ULL << 61)

/* A running hash. Plain data: copy it with `=` to fork the hash (finish one copy, go on with
 * the other); nothing to free. */
struct c2s_sha256 {
	struct sha256_ctx n;
};

/* The state after `len` bytes: the eight chaining words and the len % 64 bytes of the last,
 * incomplete block (pending[len % 64 ..] is zero on export and ignored on import). */
struct c2s_sha256_state {
	uint64_t len;
	uint32_t h[8];
	uint8_t pending[C2S_SHA256_BLOCK];
};

void c2s_sha256_init(struct c2s_sha256 *c);
void c2s_sha256_update(struct c2s_sha256 *c, const void *p, size_t n);
/* Writes the digest; `c` is then reset to empty (init again is not needed to reuse it). */
void c2s_sha256_final(struct c2s_sha256 *c, uint8_t out[C2S_SHA256_LEN]);
/* The digest of a copy of `c`, which goes on unchanged. */
void c2s_sha256_peek(const struct c2s_sha256 *c, uint8_t out[C2S_SHA256_LEN]);
void c2s_sha256_oneshot(const void *p, size_t n, uint8_t out[C2S_SHA256_LEN]);

/* Bytes hashed so far. */
uint64_t c2s_sha256_length(const struct c2s_sha256 *c);

void c2s_sha256_export(const struct c2s_sha256 *c, struct c2s_sha256_state *s);
/* `c` continues from `s`. C2S_ERR_ARG when s->len >= C2S_SHA256_LEN_LIMIT; `c` is then empty. */
C2S_MUST_CHECK c2s_err c2s_sha256_import(struct c2s_sha256 *c, const struct c2s_sha256_state *s);

#endif
