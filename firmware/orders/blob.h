/* Document bytes as files `<state_dir>/blobs/<sha256 hex>`, content-addressed: identical bytes
 * are stored once, and a file at its final name is always complete (temp file in the same
 * directory, fsync, rename, fsync of the directory). An unreferenced blob (an order that failed
 * after its blobs were put) is harmless: a retry of the same order finds it in place. */
#ifndef C2S_BLOB_H
#define C2S_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

#define BLOB_PATH_MAX 4200

/* Stores `len` bytes and gives their SHA-256. Already stored: nothing is written. */
C2S_MUST_CHECK c2s_err blob_put(const char *state_dir, const void *data, size_t len,
                                uint8_t sha[32]);
/* Stores `len` bytes whose SHA-256 the caller has just computed over this same buffer (the
 * order API hashes each document to check it against the portal's claims; hashing 1 MB again
 * would be the largest single cost of storing it). A wrong `sha` only misfiles the bytes:
 * blob_read checks every blob's hash. */
C2S_MUST_CHECK c2s_err blob_put_hashed(const char *state_dir, const void *data, size_t len,
                                       const uint8_t sha[32]);
/* The file name of a blob (whether or not it exists). */
C2S_MUST_CHECK c2s_err blob_path(const char *state_dir, const uint8_t sha[32], char *out,
                                 size_t cap);
/* Reads a blob into `out` (buf_init'ed by the call; buf_free it) and checks its hash.
 * C2S_ERR_NOT_FOUND when absent, C2S_ERR_TOO_BIG over `max` bytes, C2S_ERR_IO when the bytes
 * no longer match their name (damaged storage). */
C2S_MUST_CHECK c2s_err blob_read(const char *state_dir, const uint8_t sha[32], size_t max,
                                 struct buf *out);
/* Removes temp files a killed writer left behind (call at start-up, before any blob_put).
 * *removed (may be NULL) gets their number. */
C2S_MUST_CHECK c2s_err blob_clean_tmp(const char *state_dir, size_t *removed);

#endif
