/* midstate.h: the SHA-256 state of mbedTLS 2.28 (total[2], state[8], buffer[64]) written and
 * read field by field, so the form does not depend on the library's struct layout. */
#include "midstate.h"

#include <string.h>

#define MIDSTATE_LEN_LIMIT (1ULL << 61) /* SHA-256 counts bits in 64 bits */

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

c2s_err midstate_export(const mbedtls_sha256_context *ctx, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t t[MIDSTATE_MAX];
	ENSURE(ctx && out && !ctx->is224, C2S_ERR_ARG);
	uint64_t len = (uint64_t)ctx->total[1] << 32 | ctx->total[0];
	ENSURE(len < MIDSTATE_LEN_LIMIT, C2S_ERR_ARG);
	size_t pending = (size_t)(len % 64);
	t[0] = MIDSTATE_VERSION;
	put_u32(t + 1, (uint32_t)(len >> 32));
	put_u32(t + 5, (uint32_t)len);
	for (int i = 0; i < 8; i++)
		put_u32(t + 9 + 4 * i, ctx->state[i]);
	memcpy(t + MIDSTATE_FIXED, ctx->buffer, pending);
	GUARD(buf_put(out, t, MIDSTATE_FIXED + pending));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err midstate_import(const uint8_t *p, size_t n, mbedtls_sha256_context *ctx, uint64_t *len)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (!ctx)
		return C2S_ERR_ARG;
	mbedtls_sha256_init(ctx);
	ENSURE(p && len && mbedtls_sha256_starts_ret(ctx, 0) == 0, C2S_ERR_ARG);
	ENSURE(n >= MIDSTATE_FIXED && n <= MIDSTATE_MAX, C2S_ERR_ARG);
	ENSURE(p[0] == MIDSTATE_VERSION, C2S_ERR_ARG);
	uint64_t l = (uint64_t)get_u32(p + 1) << 32 | get_u32(p + 5);
	ENSURE(l < MIDSTATE_LEN_LIMIT, C2S_ERR_ARG);
	/* exactly the pending bytes follow: none missing, none trailing */
	ENSURE(n - MIDSTATE_FIXED == l % 64, C2S_ERR_ARG);
	ctx->total[0] = (uint32_t)l;
	ctx->total[1] = (uint32_t)(l >> 32);
	for (int i = 0; i < 8; i++)
		ctx->state[i] = get_u32(p + 9 + 4 * i);
	memcpy(ctx->buffer, p + MIDSTATE_FIXED, n - MIDSTATE_FIXED);
	*len = l;
	ret = C2S_OK;
out:
	if (ret != C2S_OK) {
		mbedtls_sha256_free(ctx);
		mbedtls_sha256_init(ctx);
	}
	return ret;
}

c2s_err midstate_of(const uint8_t *p, size_t n, struct buf *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	mbedtls_sha256_context c;
	mbedtls_sha256_init(&c);
	ENSURE(p || !n, C2S_ERR_ARG);
	ENSURE(mbedtls_sha256_starts_ret(&c, 0) == 0, C2S_ERR_INTERNAL);
	ENSURE(mbedtls_sha256_update_ret(&c, p, n) == 0, C2S_ERR_INTERNAL);
	GUARD(midstate_export(&c, out));
	ret = C2S_OK;
out:
	mbedtls_sha256_free(&c);
	return ret;
}
