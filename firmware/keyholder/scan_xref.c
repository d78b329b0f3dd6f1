/* The update scan's closing section: an xref table and trailer or an uncompressed xref
 * stream, "startxref N", "%%EOF", and the trailer's keys. Every in-use entry must be one
 * object of the update at exactly its offset; nothing may be marked free or compressed. */
#include <string.h>

#include "scan_int.h"

#define XREF_ENTRY 20 /* "oooooooooo ggggg n" + 2-byte end of line */

static int digit(uint8_t ch)
{
	return ch >= '0' && ch <= '9';
}

/* Up to `max` decimal digits (at least one) at the cursor. */
static int read_uint(struct scan_ctx *c, int max, uint64_t *v)
{
	int k = 0;
	*v = 0;
	while (c->pos < c->n && digit(c->u[c->pos]) && k < max) {
		*v = *v * 10 + (uint64_t)(c->u[c->pos++] - '0');
		k++;
	}
	return k > 0 && (c->pos == c->n || !digit(c->u[c->pos]));
}

/* Spaces, then one end of line (CR, LF or CR LF). */
static int read_eol(struct scan_ctx *c)
{
	while (c->pos < c->n && c->u[c->pos] == ' ')
		c->pos++;
	if (c->pos < c->n && c->u[c->pos] == '\r') {
		c->pos++;
		if (c->pos < c->n && c->u[c->pos] == '\n')
			c->pos++;
		return 1;
	}
	if (c->pos < c->n && c->u[c->pos] == '\n') {
		c->pos++;
		return 1;
	}
	return 0;
}

static c2s_err add_entry(struct scan_ctx *c, uint64_t num, uint64_t gen, uint64_t off)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (c->n_xents >= sizeof(c->xents) / sizeof(c->xents[0]))
		SCAN_REFUSE("xref: more entries than a signature update has objects (%d)",
		            SCAN_MAX_OBJS);
	if (num > SCAN_MAX_NUM || gen > 65535)
		SCAN_REFUSE("xref: entry for object %llu out of range", (unsigned long long)num);
	for (size_t i = 0; i < c->n_xents; i++)
		if (c->xents[i].num == num)
			SCAN_REFUSE("xref: object %llu is listed twice", (unsigned long long)num);
	c->xents[c->n_xents].num = (uint32_t)num;
	c->xents[c->n_xents].gen = (uint16_t)gen;
	c->xents[c->n_xents].off = off;
	c->n_xents++;
	ret = C2S_OK;
out:
	return ret;
}

/* A free entry may only be the list head, object 0 (as our writer writes it). */
static c2s_err free_entry(struct scan_ctx *c, uint64_t num, uint64_t gen, uint64_t off)
{
	if (num == 0 && gen == 65535 && off == 0)
		return C2S_OK;
	return scan_refuse(c, "xref: object %llu is marked free (an update may not delete objects)",
	                   (unsigned long long)num);
}

static c2s_err table_entry(struct scan_ctx *c, uint64_t num)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const uint8_t *e = c->u + c->pos;
	uint64_t off = 0, gen = 0;
	if (++c->tokens > SCAN_MAX_TOKENS)
		SCAN_REFUSE("the update exceeds the work budget of %d tokens at offset %zu",
		            SCAN_MAX_TOKENS, c->pos);
	if (c->n - c->pos < XREF_ENTRY)
		SCAN_REFUSE("xref: the entry for object %llu is cut short",
		            (unsigned long long)num);
	for (int i = 0; i < 10; i++)
		off = digit(e[i]) ? off * 10 + (uint64_t)(e[i] - '0') : UINT64_MAX;
	for (int i = 11; i < 16; i++)
		gen = digit(e[i]) ? gen * 10 + (uint64_t)(e[i] - '0') : UINT64_MAX;
	int eol =
	    (e[18] == ' ' && (e[19] == '\r' || e[19] == '\n')) || (e[18] == '\r' && e[19] == '\n');
	if (off == UINT64_MAX || gen == UINT64_MAX || e[10] != ' ' || e[16] != ' ' || !eol ||
	    (e[17] != 'n' && e[17] != 'f'))
		SCAN_REFUSE("xref: the entry for object %llu at offset %zu is malformed",
		            (unsigned long long)num, c->pos);
	c->pos += XREF_ENTRY;
	if (e[17] == 'f')
		GUARD(free_entry(c, num, gen, off));
	else
		GUARD(add_entry(c, num, gen, off));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err scan_xref_table(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint64_t start, count;
	size_t total = 0;
	c->xref_at = c->pos;
	c->pos += 4; /* "xref", checked by the caller */
	if (!read_eol(c))
		SCAN_REFUSE("xref: no end of line after 'xref'");
	while (!scan_at_keyword(c, "trailer")) {
		size_t at = c->pos;
		if (!read_uint(c, 10, &start) || c->pos >= c->n || c->u[c->pos++] != ' ' ||
		    !read_uint(c, 10, &count) || !read_eol(c))
			SCAN_REFUSE("xref: a malformed subsection header at offset %zu", at);
		if (count > SCAN_MAX_OBJS + 1 || (total += count) > SCAN_MAX_OBJS + 1)
			SCAN_REFUSE("xref: more entries than a signature update has objects (%d)",
			            SCAN_MAX_OBJS);
		for (uint64_t i = 0; i < count; i++)
			GUARD(table_entry(c, start + i));
	}
	c->pos += 7; /* "trailer" */
	c->owner = SCAN_MAX_OBJS;
	GUARD(scan_value(c, &c->trailer));
	if (c->nodes[c->trailer].t != SN_DICT)
		SCAN_REFUSE("trailer: not a dictionary");
	GUARD(scan_skip_ws(c));
	if (!scan_at_keyword(c, "startxref"))
		SCAN_REFUSE("trailer: expected 'startxref' at offset %zu", c->pos);
	c->pos += 9;
	ret = C2S_OK;
out:
	return ret;
}

static uint64_t get_be(const uint8_t *p, int64_t w)
{
	uint64_t v = 0;
	for (int64_t i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* /W [1 w1 w2]: a type byte, 1..8 offset bytes, 0..2 generation bytes. */
static c2s_err stream_widths(struct scan_ctx *c, uint32_t d, int64_t w[3])
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t a = scan_get(c, d, "W");
	if (!a || c->nodes[a].t != SN_ARRAY || c->nodes[a].n != 3)
		SCAN_REFUSE("xref stream: /W is not an array of three numbers");
	uint32_t k = c->nodes[a].kid;
	for (int i = 0; i < 3; i++, k = c->nodes[k].next) {
		if (c->nodes[k].t != SN_INT)
			SCAN_REFUSE("xref stream: /W is not an array of three numbers");
		w[i] = c->nodes[k].v;
	}
	if (w[0] != 1 || w[1] < 1 || w[1] > 8 || w[2] < 0 || w[2] > 2)
		SCAN_REFUSE("xref stream: /W [%lld %lld %lld] is not [1 1..8 0..2]",
		            (long long)w[0], (long long)w[1], (long long)w[2]);
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err stream_row(struct scan_ctx *c, const uint8_t *row, const int64_t w[3], uint64_t num)
{
	uint64_t off = get_be(row + 1, w[1]);
	uint64_t gen = w[2] ? get_be(row + 1 + w[1], w[2]) : 0;
	if (row[0] == 1)
		return add_entry(c, num, gen, off);
	if (row[0] == 0)
		return free_entry(c, num, gen, off);
	if (row[0] == 2)
		return scan_refuse(c,
		                   "xref stream: object %llu is in an object stream (not allowed "
		                   "in a signature update)",
		                   (unsigned long long)num);
	return scan_refuse(c, "xref stream: object %llu has entry type %u", (unsigned long long)num,
	                   row[0]);
}

c2s_err scan_xref_stream(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const struct sobj *x = &c->objs[c->n_objs - 1];
	uint32_t d = x->root;
	int64_t w[3];
	uint64_t total = 0;
	c->xref_at = x->off;
	c->trailer = d;
	if (scan_get(c, d, "Filter") || scan_get(c, d, "DecodeParms"))
		SCAN_REFUSE("xref stream: /Filter (only an uncompressed xref stream is accepted)");
	GUARD(stream_widths(c, d, w));
	uint32_t idx = scan_get(c, d, "Index"), sz = scan_get(c, d, "Size");
	if (!sz || c->nodes[sz].t != SN_INT || c->nodes[sz].v < 0 || c->nodes[sz].v > SCAN_MAX_NUM)
		SCAN_REFUSE("xref stream: /Size is not a number of objects");
	if (idx && (c->nodes[idx].t != SN_ARRAY || c->nodes[idx].n % 2 ||
	            c->nodes[idx].n > 2 * (SCAN_MAX_OBJS + 1)))
		SCAN_REFUSE("xref stream: /Index is not a short array of pairs");
	size_t rowlen = (size_t)(1 + w[1] + w[2]);
	size_t at = x->data_off;
	/* pairs (first, count) of /Index, or the default [0 /Size] */
	uint32_t k = idx ? c->nodes[idx].kid : 0;
	for (int more = 1; more;) {
		int64_t first = 0, count = c->nodes[sz].v;
		if (idx) {
			if (!k)
				break;
			uint32_t k2 = c->nodes[k].next;
			if (c->nodes[k].t != SN_INT || c->nodes[k2].t != SN_INT)
				SCAN_REFUSE("xref stream: /Index holds a non-number");
			first = c->nodes[k].v;
			count = c->nodes[k2].v;
			k = c->nodes[k2].next;
		} else {
			more = 0;
		}
		if (first < 0 || first > SCAN_MAX_NUM || count < 0 ||
		    (total += (uint64_t)count) > SCAN_MAX_OBJS + 1)
			SCAN_REFUSE("xref stream: more entries than a signature update has objects "
			            "(%d)",
			            SCAN_MAX_OBJS);
		if (total * rowlen > x->data_len)
			SCAN_REFUSE("xref stream: /W and /Index describe more than its %zu bytes",
			            x->data_len);
		for (int64_t i = 0; i < count; i++, at += rowlen)
			GUARD(stream_row(c, c->u + at, w, (uint64_t)(first + i)));
	}
	if (total * rowlen != x->data_len)
		SCAN_REFUSE("xref stream: %zu bytes, but /W and /Index describe %llu", x->data_len,
		            (unsigned long long)(total * rowlen));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err scan_tail(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t ws = c->pos;
	while (c->pos < c->n && strchr(" \t\r\n", c->u[c->pos]) && c->u[c->pos])
		c->pos++;
	if (c->pos == ws || !read_uint(c, 10, &c->startxref))
		SCAN_REFUSE("startxref: no offset at %zu", c->pos);
	ws = c->pos;
	while (c->pos < c->n && strchr(" \t\r\n", c->u[c->pos]) && c->u[c->pos])
		c->pos++;
	if (c->pos == ws || c->n - c->pos < 5 || memcmp(c->u + c->pos, "%%EOF", 5) != 0)
		SCAN_REFUSE("no %%%%EOF after startxref");
	c->pos += 5;
	if (c->pos < c->n)
		(void)read_eol(c);
	if (c->pos != c->n)
		SCAN_REFUSE("%zu bytes after %%%%EOF", c->n - c->pos);
	if (c->startxref != c->orig_len + c->xref_at)
		SCAN_REFUSE("startxref %llu does not point at the xref section (at %llu)",
		            (unsigned long long)c->startxref,
		            (unsigned long long)(c->orig_len + c->xref_at));
	ret = C2S_OK;
out:
	return ret;
}

static const char *const table_trailer_keys[] = {"Size", "Prev", "Root", "Info", "ID", NULL};
static const char *const stream_trailer_keys[] = {"Type", "Size", "W",  "Index",  "Prev",
                                                  "Root", "Info", "ID", "Length", NULL};

/* /Size above every object number of the update and every xref entry. */
static c2s_err check_size(struct scan_ctx *c, uint32_t d)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t s = scan_get(c, d, "Size");
	if (!s || c->nodes[s].t != SN_INT || c->nodes[s].v < 1 ||
	    c->nodes[s].v > (int64_t)SCAN_MAX_NUM + 1)
		SCAN_REFUSE("trailer: /Size is missing or out of range");
	c->size = c->nodes[s].v;
	for (size_t i = 0; i < c->n_objs; i++)
		if (c->objs[i].num >= c->size)
			SCAN_REFUSE("trailer: /Size %lld is not above object %u",
			            (long long)c->size, c->objs[i].num);
	for (size_t i = 0; i < c->n_xents; i++)
		if (c->xents[i].num >= c->size)
			SCAN_REFUSE("trailer: /Size %lld is not above xref entry %u",
			            (long long)c->size, c->xents[i].num);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err scan_trailer(struct scan_ctx *c)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t d = c->trailer;
	int stream = c->n_objs && c->objs[c->n_objs - 1].stream;
	if (scan_get(c, d, "Encrypt"))
		SCAN_REFUSE("trailer: /Encrypt (an update may not encrypt the document)");
	GUARD(
	    scan_keys_allowed(c, d, stream ? stream_trailer_keys : table_trailer_keys, "trailer"));
	GUARD(check_size(c, d));
	uint32_t prev = scan_get(c, d, "Prev");
	if (!prev)
		SCAN_REFUSE("trailer: no /Prev (the update must continue the original's xref)");
	if (c->nodes[prev].t != SN_INT || c->nodes[prev].v < 0 ||
	    (uint64_t)c->nodes[prev].v >= c->orig_len)
		SCAN_REFUSE("trailer: /Prev is not an offset inside the original (%llu bytes)",
		            (unsigned long long)c->orig_len);
	uint32_t root = scan_get(c, d, "Root");
	if (!root || c->nodes[root].t != SN_REF)
		SCAN_REFUSE("trailer: /Root is missing or not a reference");
	if (c->by_role[SCAN_CATALOG] >= 0 && !scan_ref_to(c, root, SCAN_CATALOG))
		SCAN_REFUSE("trailer: /Root is not the catalog %u of this update",
		            c->objs[c->by_role[SCAN_CATALOG]].num);
	uint32_t info = scan_get(c, d, "Info"), id = scan_get(c, d, "ID");
	if (info && c->nodes[info].t != SN_REF)
		SCAN_REFUSE("trailer: /Info is not a reference");
	if (id) {
		uint32_t a =
		    c->nodes[id].t == SN_ARRAY && c->nodes[id].n == 2 ? c->nodes[id].kid : 0;
		uint32_t b = a ? c->nodes[a].next : 0;
		if (!a || (c->nodes[a].t != SN_STR && c->nodes[a].t != SN_HEX) ||
		    (c->nodes[b].t != SN_STR && c->nodes[b].t != SN_HEX))
			SCAN_REFUSE("trailer: /ID is not an array of two strings");
	}
	ret = C2S_OK;
out:
	return ret;
}
