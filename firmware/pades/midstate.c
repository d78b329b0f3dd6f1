/* midstate.h: the fields of struct c2s_sha256_state written and read one by one, so the form
 * depends on neither the library's struct layout nor the host's byte order. */
#include "midstate.h"

#include <string.h>

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

c2s_err midstate_export(const struct c2s_sha256 *ctx, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct c2s_sha256_state s;
	uint8_t t[MIDSTATE_MAX];
	ENSURE(ctx && out, C2S_ERR_ARG);
	c2s_sha256_export(ctx, &s);
	ENSURE(s.len < C2S_SHA256_LEN_LIMIT, C2S_ERR_ARG);
	size_t pending = (size_t)(s.len % 64);
	t[0] = MIDSTATE_VERSION;
	put_u32(t + 1, (uint32_t)(s.len >> 32));
	put_u32(t + 5, (uint32_t)s.len);
	for (int i = 0; i < 8; i++)
		put_u32(t + 9 + 4 * i, s.h[i]);
	memcpy(t + MIDSTATE_FIXED, s.pending, pending);
	GUARD(buf_put(out, t, MIDSTATE_FIXED + pending));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err midstate_import(const uint8_t *p, size_t n, struct c2s_sha256 *ctx, uint64_t *len)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct c2s_sha256_state s;
	if (!ctx)
		return C2S_ERR_ARG;
	c2s_sha256_init(ctx);
	ENSURE(p && len, C2S_ERR_ARG);
	ENSURE(n >= MIDSTATE_FIXED && n <= MIDSTATE_MAX, C2S_ERR_ARG);
	ENSURE(p[0] == MIDSTATE_VERSION, C2S_ERR_ARG);
	memset(&s, 0, sizeof(s));
	s.len = (uint64_t)get_u32(p + 1) << 32 | get_u32(p + 5);
	ENSURE(s.len < C2S_SHA256_LEN_LIMIT, C2S_ERR_ARG);
	/* exactly the pending bytes follow: none missing, none trailing */
	ENSURE(n - MIDSTATE_FIXED == s.len % 64, C2S_ERR_ARG);
	for (int i = 0; i < 8; i++)
		s.h[i] = get_u32(p + 9 + 4 * i);
	memcpy(s.pending, p + MIDSTATE_FIXED, n - MIDSTATE_FIXED);
	GUARD(c2s_sha256_import(ctx, &s));
	*len = s.len;
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		c2s_sha256_init(ctx);
	return ret;
}

c2s_err midstate_of(const uint8_t *p, size_t n, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct c2s_sha256 c;
	c2s_sha256_init(&c);
	ENSURE(p || !n, C2S_ERR_ARG);
	c2s_sha256_update(&c, p, n);
	GUARD(midstate_export(&c, out));
	ret = C2S_OK;
out:
	return ret;
}
