/* Secrets: locked memory, wiping, constant-time comparison. */
#ifndef C2S_SECMEM_H
#define C2S_SECMEM_H

#include <stddef.h>

#include "err.h"

/* n bytes of zeroed memory on pages of their own, locked (mlock) and excluded from core dumps
 * (MADV_DONTDUMP); when locking is not permitted, a warning is logged once and the memory is
 * still returned. Free with secmem_free, which wipes and unmaps the whole mapping. */
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
