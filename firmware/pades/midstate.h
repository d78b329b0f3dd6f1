/* A SHA-256 state after the first n bytes of a message ("midstate"), in a fixed, versioned
 * form that can cross a process boundary: the web hashes the original document, the
 * keyholder finishes the hash itself. Layout (big-endian), MIDSTATE_VERSION 1:
 *   u8  version
 *   u64 n (bytes hashed so far, < 2^61)
 *   u32 state[8]
 *   u8  pending[n % 64] (the bytes of the last, incomplete block)
 * Nothing else: a serialization of any other length is refused. The form does not depend on
 * the hashing library (mbedTLS wrote it before firmware/base/sha256, byte for byte the same). */
#ifndef C2S_MIDSTATE_H
#define C2S_MIDSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"
#include "firmware/base/sha256.h"

#define MIDSTATE_VERSION 1
#define MIDSTATE_FIXED   (1 + 8 + 32) /* version, length, state words */
#define MIDSTATE_MAX     (MIDSTATE_FIXED + 63)

/* Appends the state of `ctx` to `out`. C2S_ERR_ARG for an impossible length; buf errors
 * (C2S_ERR_TOO_BIG, _NOMEM) from `out`. */
C2S_MUST_CHECK c2s_err midstate_export(const struct c2s_sha256 *ctx, struct buf *out);

/* Parses exactly `n` bytes into `ctx` and the hashed length into `*len`. C2S_ERR_ARG for a
 * wrong version, a length of 2^61 bytes or more, a pending part whose size is not len % 64,
 * or any bytes after it; `ctx` is then empty. Nothing to free either way. */
C2S_MUST_CHECK c2s_err midstate_import(const uint8_t *p, size_t n, struct c2s_sha256 *ctx,
                                       uint64_t *len);

/* Hashes p[0..n) and appends its midstate to `out`. */
C2S_MUST_CHECK c2s_err midstate_of(const uint8_t *p, size_t n, struct buf *out);

#endif
