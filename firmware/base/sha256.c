/* sha256.h on nettle's sha256_ctx, whose fields are public API: state[8], count (whole blocks
 * compressed), index (bytes waiting in block[], always < 64 between calls). */
#include "sha256.h"

#include <string.h>

_Static_assert(sizeof(((struct sha256_ctx *)0)->state) == 8 * sizeof(uint32_t),
               "nettle's SHA-256 state is eight 32-bit words");

void c2s_sha256_init(struct c2s_sha256 *c)
{
	sha256_init(&c->n);
}

void c2s_sha256_update(struct c2s_sha256 *c, const void *p, size_t n)
{
	if (n)
		sha256_update(&c->n, n, p);
}

void c2s_sha256_final(struct c2s_sha256 *c, uint8_t out[C2S_SHA256_LEN])
{
	sha256_digest(&c->n, C2S_SHA256_LEN, out);
}

void c2s_sha256_peek(const struct c2s_sha256 *c, uint8_t out[C2S_SHA256_LEN])
{
	struct c2s_sha256 t = *c;
	c2s_sha256_final(&t, out);
}

void c2s_sha256_oneshot(const void *p, size_t n, uint8_t out[C2S_SHA256_LEN])
{
	struct c2s_sha256 c;
	c2s_sha256_init(&c);
	c2s_sha256_update(&c, p, n);
	c2s_sha256_final(&c, out);
}

uint64_t c2s_sha256_length(const struct c2s_sha256 *c)
{
	return c->n.count * C2S_SHA256_BLOCK + c->n.index;
}

void c2s_sha256_export(const struct c2s_sha256 *c, struct c2s_sha256_state *s)
{
	memset(s, 0, sizeof(*s));
	s->len = c2s_sha256_length(c);
	memcpy(s->h, c->n.state, sizeof(s->h));
	memcpy(s->pending, c->n.block, c->n.index);
}

c2s_err c2s_sha256_import(struct c2s_sha256 *c, const struct c2s_sha256_state *s)
{
	c2s_sha256_init(c);
	if (s->len >= C2S_SHA256_LEN_LIMIT)
		return C2S_ERR_ARG;
	memcpy(c->n.state, s->h, sizeof(c->n.state));
	c->n.count = s->len / C2S_SHA256_BLOCK;
	c->n.index = (unsigned)(s->len % C2S_SHA256_BLOCK);
	memcpy(c->n.block, s->pending, c->n.index);
	return C2S_OK;
}
