/* Secrets: locked memory, wiping, constant-time comparison. */
#ifndef C2S_SECMEM_H
#define C2S_SECMEM_H

#include <stddef.h>

#include "err.h"

/* Allocate n bytes of mlock'ed, zeroed memory (falls back to plain memory with a warning
 * if mlock is not permitted). Free with secmem_free. */
void *secmem_alloc(size_t n);
void secmem_free(void *p, size_t n);
/* 0 when equal, constant time in n. */
int secmem_cmp(const void *a, const void *b, size_t n);
/* Read a secret file (PIN): must be a regular file owned by the current uid, mode 0600
 * (no group/other bits), at most cap-1 bytes; trailing newline removed. `why` gets a
 * human reason on failure. */
C2S_MUST_CHECK c2s_err secmem_read_secret_file(const char *path, char *out, size_t cap, size_t *len,
                                               char *why, size_t why_cap);

#endif
