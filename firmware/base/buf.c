#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_view(struct buf *b, const void *data, size_t len)
{
	b->data = (uint8_t *)(uintptr_t)data;
	b->len = len;
	b->off = 0;
	b->cap = len;
	b->max = len;
	b->owned = 0;
}

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->off = b->cap = 0;
	b->max = max;
	b->owned = 1;
}

void buf_free(struct buf *b)
{
	if (b->owned)
		free(b->data);
	b->data = NULL;
	b->len = b->off = b->cap = 0;
}

void buf_free_secret(struct buf *b)
{
	if (b->owned && b->data)
		explicit_bzero(b->data, b->cap);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = b->off = 0;
}

c2s_err buf_reserve(struct buf *b, size_t more)
{
	if (!b->owned)
		return C2S_ERR_INTERNAL;
	if (more > b->max || b->len > b->max - more)
		return C2S_ERR_TOO_BIG;
	size_t need = b->len + more;
	if (need <= b->cap)
		return C2S_OK;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	uint8_t *n = realloc(b->data, ncap);
	if (!n)
		return C2S_ERR_NOMEM;
	b->data = n;
	b->cap = ncap;
	return C2S_OK;
}

c2s_err buf_put(struct buf *b, const void *p, size_t n)
{
	c2s_err ret = buf_reserve(b, n);
	if (ret != C2S_OK)
		return ret;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return C2S_OK;
}

c2s_err buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

c2s_err buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	return buf_put(b, t, 2);
}

c2s_err buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	return buf_put(b, t, 4);
}

c2s_err buf_put_blob(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return C2S_ERR_TOO_BIG;
	c2s_err ret = buf_put_u32(b, (uint32_t)n);
	if (ret != C2S_OK)
		return ret;
	return buf_put(b, p, n);
}

c2s_err buf_put_str(struct buf *b, const char *s)
{
	return buf_put_blob(b, s, strlen(s));
}

c2s_err buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return C2S_ERR_INTERNAL;
	c2s_err ret = buf_reserve(b, (size_t)n + 1);
	if (ret != C2S_OK)
		return ret;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return C2S_OK;
}

c2s_err buf_get(struct buf *b, void *p, size_t n)
{
	if (n > buf_left(b))
		return C2S_ERR_TRUNCATED;
	if (n)
		memcpy(p, b->data + b->off, n);
	b->off += n;
	return C2S_OK;
}

c2s_err buf_get_u8(struct buf *b, uint8_t *v)
{
	return buf_get(b, v, 1);
}

c2s_err buf_get_u16(struct buf *b, uint16_t *v)
{
	uint8_t t[2];
	c2s_err ret = buf_get(b, t, 2);
	if (ret == C2S_OK)
		*v = (uint16_t)((t[0] << 8) | t[1]);
	return ret;
}

c2s_err buf_get_u32(struct buf *b, uint32_t *v)
{
	uint8_t t[4];
	c2s_err ret = buf_get(b, t, 4);
	if (ret == C2S_OK)
		*v = ((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) | t[3];
	return ret;
}

c2s_err buf_get_blob(struct buf *b, const uint8_t **p, size_t *n, size_t max)
{
	uint32_t l;
	size_t save = b->off;
	c2s_err ret = buf_get_u32(b, &l);
	if (ret != C2S_OK)
		return ret;
	if (l > max) {
		b->off = save;
		return C2S_ERR_TOO_BIG;
	}
	if (l > buf_left(b)) {
		b->off = save;
		return C2S_ERR_TRUNCATED;
	}
	*p = b->data + b->off;
	*n = l;
	b->off += l;
	return C2S_OK;
}

c2s_err buf_get_str(struct buf *b, char *out, size_t cap)
{
	const uint8_t *p;
	size_t n;
	if (cap == 0)
		return C2S_ERR_INTERNAL;
	c2s_err ret = buf_get_blob(b, &p, &n, cap - 1);
	if (ret != C2S_OK)
		return ret;
	if (memchr(p, 0, n))
		return C2S_ERR_ARG;
	memcpy(out, p, n);
	out[n] = 0;
	return C2S_OK;
}
