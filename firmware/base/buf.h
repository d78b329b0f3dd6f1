/* One bounded buffer type for untrusted bytes (HTTP bodies, IPC, DER, PDF tokens).
 * Readers fail instead of overrunning; writers fail instead of growing past `max`. */
#ifndef C2S_BUF_H
#define C2S_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf {
	uint8_t *data;
	size_t len; /* bytes written */
	size_t off; /* read cursor */
	size_t cap; /* allocated */
	size_t max; /* hard limit for len */
	int owned;  /* data is ours to free */
};

/* Read-only view over existing bytes (not freed by buf_free). */
void buf_view(struct buf *b, const void *data, size_t len);
/* Growable buffer that refuses to exceed `max` bytes. */
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Like buf_free, but wipes the bytes first (secrets). */
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);

static inline size_t buf_left(const struct buf *b)
{
	return b->len - b->off;
}
static inline const uint8_t *buf_cur(const struct buf *b)
{
	return b->data + b->off;
}

C2S_MUST_CHECK c2s_err buf_reserve(struct buf *b, size_t more);
C2S_MUST_CHECK c2s_err buf_put(struct buf *b, const void *p, size_t n);
C2S_MUST_CHECK c2s_err buf_put_u8(struct buf *b, uint8_t v);
C2S_MUST_CHECK c2s_err buf_put_u16(struct buf *b, uint16_t v);
C2S_MUST_CHECK c2s_err buf_put_u32(struct buf *b, uint32_t v);
/* u32 length + bytes */
C2S_MUST_CHECK c2s_err buf_put_blob(struct buf *b, const void *p, size_t n);
C2S_MUST_CHECK c2s_err buf_put_str(struct buf *b, const char *s);
C2S_MUST_CHECK c2s_err buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

C2S_MUST_CHECK c2s_err buf_get(struct buf *b, void *p, size_t n);
C2S_MUST_CHECK c2s_err buf_get_u8(struct buf *b, uint8_t *v);
C2S_MUST_CHECK c2s_err buf_get_u16(struct buf *b, uint16_t *v);
C2S_MUST_CHECK c2s_err buf_get_u32(struct buf *b, uint32_t *v);
/* u32 length + bytes, pointing into the buffer; refuses lengths over `max`. */
C2S_MUST_CHECK c2s_err buf_get_blob(struct buf *b, const uint8_t **p, size_t *n, size_t max);
/* Like buf_get_blob, then copies into a NUL-terminated string of at most cap-1 bytes;
 * refuses embedded NULs. */
C2S_MUST_CHECK c2s_err buf_get_str(struct buf *b, char *out, size_t cap);

#endif
