/* scan_int.h: the scan of a prepared signature update, in the order the bytes come: the
 * objects, the closing xref section and %%EOF; then the xref against the objects, the
 * allow-list of each object (scan_rules.c), the trailer, and every reference between
 * objects of the update. And the message digest over the /ByteRange from a midstate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan_int.h"

const char *scan_role_name(enum scan_role role)
{
	switch (role) {
	case SCAN_SIG:
		return "signature dictionary";
	case SCAN_FIELD:
		return "signature field";
	case SCAN_ACROFORM:
		return "AcroForm";
	case SCAN_CATALOG:
		return "catalog";
	case SCAN_XREF:
		return "xref stream";
	case SCAN_NONE:
		break;
	}
	return "unclassified object";
}

int scan_obj_index(const struct scan_ctx *c, uint32_t num)
{
	for (size_t i = 0; i < c->n_objs; i++)
		if (c->objs[i].num == num)
			return (int)i;
	return -1;
}

int scan_ref_to(struct scan_ctx *c, uint32_t i, enum scan_role role)
{
	if (!i || c->nodes[i].t != SN_REF || c->by_role[role] < 0)
		return 0;
	const struct sobj *o = &c->objs[c->by_role[role]];
	if (c->nodes[i].v != o->num || c->nodes[i].gen != o->gen)
		return 0;
	c->nodes[i].ok_ref = 1;
	return 1;
}

static int skip_eol(struct scan_ctx *c, int cr_alone)
{
	if (c->n - c->pos >= 2 && c->u[c->pos] == '\r' && c->u[c->pos + 1] == '\n')
		c->pos += 2;
	else if (c->pos < c->n && (c->u[c->pos] == '\n' || (cr_alone && c->u[c->pos] == '\r')))
		c->pos++;
	else
		return 0;
	return 1;
}

/* After "stream": only the xref stream may have data, exactly /Length bytes of it. */
static c2s_err scan_stream(struct scan_ctx *c, struct sobj *o)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t d = o->root;
	if (c->nodes[d].t != SN_DICT || !scan_is_name(c, scan_get(c, d, "Type"), "XRef"))
		SCAN_REFUSE("object %u: a stream (only the xref stream may be one)", o->num);
	if (!skip_eol(c, 0))
		SCAN_REFUSE("object %u: 'stream' is not followed by an end of line", o->num);
	uint32_t l = scan_get(c, d, "Length");
	if (!l || c->nodes[l].t != SN_INT || c->nodes[l].v < 0 ||
	    (uint64_t)c->nodes[l].v > c->n - c->pos)
		SCAN_REFUSE("object %u: /Length is not a direct length inside the update", o->num);
	o->data_off = c->pos;
	o->data_len = (size_t)c->nodes[l].v;
	c->pos += o->data_len;
	(void)skip_eol(c, 1);
	if (!scan_at_keyword(c, "endstream"))
		SCAN_REFUSE("object %u: /Length %zu does not end at 'endstream'", o->num,
		            o->data_len);
	c->pos += 9;
	o->stream = 1;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err scan_object(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t at = c->pos;
	uint32_t num = 0;
	uint16_t gen;
	if (c->n_objs == SCAN_MAX_OBJS)
		SCAN_REFUSE("more than %d objects (at offset %zu)", SCAN_MAX_OBJS, at);
	GUARD(scan_obj_header(c, &num, &gen));
	if (scan_obj_index(c, num) >= 0)
		SCAN_REFUSE("object %u is defined twice", num);
	struct sobj *o = &c->objs[c->n_objs];
	memset(o, 0, sizeof(*o));
	o->num = num;
	o->gen = gen;
	o->off = at;
	c->owner = (uint8_t)c->n_objs;
	GUARD(scan_value(c, &o->root));
	if (c->nodes[o->root].t != SN_DICT && c->nodes[o->root].t != SN_ARRAY)
		SCAN_REFUSE("object %u: neither a dictionary nor an array", num);
	GUARD(scan_skip_ws(c));
	if (scan_at_keyword(c, "stream")) {
		c->pos += 6;
		GUARD(scan_stream(c, o));
	}
	GUARD(scan_expect_keyword(c, "endobj", "end of object"));
	c->n_objs++;
	ret = C2S_OK;
out:
	if (ret == C2S_ERR_UPDATE_REFUSED && num && c->why && c->why_cap &&
	    strncmp(c->why, "object ", 7) != 0) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", c->why);
		snprintf(c->why, c->why_cap, "object %u: %s", num, tmp);
	}
	return ret;
}

static c2s_err scan_body(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (;;) {
		GUARD(scan_skip_ws(c));
		int after_stream = c->n_objs && c->objs[c->n_objs - 1].stream;
		if (scan_at_keyword(c, "xref")) {
			if (after_stream)
				SCAN_REFUSE("an xref table after the xref stream");
			GUARD(scan_xref_table(c));
			break;
		}
		if (scan_at_keyword(c, "startxref")) {
			if (!after_stream)
				SCAN_REFUSE("'startxref' at offset %zu without an xref section",
				            c->pos);
			c->pos += 9;
			GUARD(scan_xref_stream(c));
			break;
		}
		if (c->pos == c->n)
			SCAN_REFUSE("the update ends before its xref section");
		if (after_stream)
			SCAN_REFUSE("something other than 'startxref' after the xref stream, at "
			            "offset %zu",
			            c->pos);
		GUARD(scan_object(c));
	}
	GUARD(scan_tail(c));
	ret = C2S_OK;
out:
	return ret;
}

/* Every in-use xref entry is one object of the update, at its offset; every object is
 * listed (the entries are distinct, so equal counts make a one-to-one match). */
static c2s_err match_xref(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (size_t i = 0; i < c->n_xents; i++) {
		int k = scan_obj_index(c, c->xents[i].num);
		if (k < 0)
			SCAN_REFUSE("xref: object %u is listed but not in the update",
			            c->xents[i].num);
		const struct sobj *o = &c->objs[k];
		if (c->xents[i].gen != o->gen)
			SCAN_REFUSE("xref: object %u has generation %u, the object %u", o->num,
			            c->xents[i].gen, o->gen);
		if (c->xents[i].off != c->orig_len + o->off)
			SCAN_REFUSE("xref: object %u at offset %llu, but it starts at %llu", o->num,
			            (unsigned long long)c->xents[i].off,
			            (unsigned long long)(c->orig_len + o->off));
	}
	for (size_t i = 0; i < c->n_objs && c->n_xents != c->n_objs; i++) {
		size_t k = 0;
		while (k < c->n_xents && c->xents[k].num != c->objs[i].num)
			k++;
		if (k == c->n_xents)
			SCAN_REFUSE("xref: object %u is not listed", c->objs[i].num);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* A reference to an object of this update only where a rule allowed it; none to object 0
 * or beyond /Size (a number a later update could define). */
static c2s_err check_refs(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (uint32_t i = 1; i <= c->n_nodes; i++) {
		const struct sn *s = &c->nodes[i];
		if (s->t != SN_REF)
			continue;
		char from[32];
		if (s->owner < c->n_objs)
			snprintf(from, sizeof(from), "object %u", c->objs[s->owner].num);
		else
			snprintf(from, sizeof(from), "trailer");
		if (s->v == 0 || s->v >= c->size)
			SCAN_REFUSE("%s: a reference to object %lld, outside /Size %lld", from,
			            (long long)s->v, (long long)c->size);
		if (scan_obj_index(c, (uint32_t)s->v) >= 0 && !s->ok_ref)
			SCAN_REFUSE("%s: a reference to object %lld of this update where none is "
			            "allowed",
			            from, (long long)s->v);
	}
	ret = C2S_OK;
out:
	return ret;
}

static void fill_result(const struct scan_ctx *c, struct scan_result *r)
{
	r->orig_len = c->orig_len;
	r->xref_stream = c->n_objs && c->objs[c->n_objs - 1].stream;
	r->n_objs = c->n_objs;
	for (size_t i = 0; i < c->n_objs; i++) {
		r->objs[i].num = c->objs[i].num;
		r->objs[i].gen = c->objs[i].gen;
		r->objs[i].role = c->objs[i].role;
		r->objs[i].off = c->objs[i].off;
	}
}

c2s_err scan_update(const uint8_t *upd, size_t n, uint64_t orig_len, struct scan_result *r,
                    char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct scan_ctx ctx, *c = &ctx;
	memset(c, 0, sizeof(*c));
	if (why && why_cap)
		why[0] = 0;
	if (r)
		memset(r, 0, sizeof(*r));
	ENSURE(r && (upd || !n), C2S_ERR_ARG);
	if (n > SCAN_MAX_UPDATE || orig_len > SCAN_MAX_OFFSET || n > SCAN_MAX_OFFSET - orig_len)
		WHY(C2S_ERR_TOO_BIG, "the update (%zu bytes) is over the limit", n);
	c->u = upd;
	c->n = n;
	c->orig_len = orig_len;
	c->why = why;
	c->why_cap = why_cap;
	for (size_t i = 0; i < sizeof(c->by_role) / sizeof(c->by_role[0]); i++)
		c->by_role[i] = -1;
	/* every node starts at a byte of its own and spends a token: n and the budget bound it */
	c->cap_nodes = (uint32_t)(n < SCAN_MAX_TOKENS ? n : SCAN_MAX_TOKENS) + 2;
	c->nodes = calloc(c->cap_nodes, sizeof(*c->nodes));
	ENSURE(c->nodes, C2S_ERR_NOMEM);
	GUARD(scan_body(c));
	GUARD(match_xref(c));
	GUARD(scan_rules(c, r));
	GUARD(scan_trailer(c));
	GUARD(check_refs(c));
	fill_result(c, r);
	ret = C2S_OK;
out:
	free(c->nodes);
	if (ret != C2S_OK && r)
		memset(r, 0, sizeof(*r));
	if (ret != C2S_OK && why && why_cap && !why[0])
		snprintf(why, why_cap, "%s", c2s_err_message(ret));
	return ret;
}

c2s_err scan_digest(const struct c2s_sha256 *after_orig, const uint8_t *upd, size_t n,
                    const struct scan_result *r, uint8_t out[32])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	ENSURE(after_orig && r && out && (upd || !n), C2S_ERR_ARG);
	ENSURE(c2s_sha256_length(after_orig) == r->orig_len, C2S_ERR_ARG);
	ENSURE(r->hole_len >= 2 && r->hole_off <= n && r->hole_len <= n - r->hole_off, C2S_ERR_ARG);
	ENSURE(r->range[0] == 0 && r->range[1] == r->orig_len + r->hole_off &&
	           r->range[2] == r->range[1] + r->hole_len &&
	           r->range[2] + r->range[3] == r->orig_len + n,
	       C2S_ERR_ARG);
	size_t tail = r->hole_off + r->hole_len;
	struct c2s_sha256 h = *after_orig;
	c2s_sha256_update(&h, upd, r->hole_off);
	c2s_sha256_update(&h, upd + tail, n - tail);
	c2s_sha256_final(&h, out);
	ret = C2S_OK;
out:
	return ret;
}
