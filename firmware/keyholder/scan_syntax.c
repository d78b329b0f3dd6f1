/* The update scan's tokens and values: PDF syntax (ISO 32000-1 section 7.2, 7.3) read with
 * a cursor that checks before every byte, one token budget per scan and a depth bound. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scan_int.h"

#define NAME_MAX_LEN 127 /* decoded bytes, the implementation limit of ISO 32000-1 */
#define INT_MAX_DIGS 18  /* fits int64_t */
#define KW_MAX_LEN   16

enum tk { TK_EOF, TK_INT, TK_REAL, TK_NAME, TK_STR, TK_HEX, TK_LB, TK_RB, TK_LD, TK_RD, TK_KW };

struct tok {
	enum tk t;
	size_t off, len;
	int64_t v;     /* TK_INT value, TK_NAME hash */
	int unsigned_; /* TK_INT without a sign: may start a reference */
};

static int is_ws(uint8_t ch)
{
	return ch == 0 || ch == 9 || ch == 10 || ch == 12 || ch == 13 || ch == 32;
}

static int is_delim(uint8_t ch)
{
	return ch && strchr("()<>[]{}/%", ch) != NULL;
}

static int is_regular(uint8_t ch)
{
	return !is_ws(ch) && !is_delim(ch);
}

static int hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

c2s_err scan_refuse(struct scan_ctx *c, const char *fmt, ...)
{
	if (c->why && c->why_cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->why, c->why_cap, fmt, ap);
		va_end(ap);
	}
	return C2S_ERR_UPDATE_REFUSED;
}

c2s_err scan_skip_ws(struct scan_ctx *c)
{
	while (c->pos < c->n) {
		uint8_t ch = c->u[c->pos];
		if (is_ws(ch)) {
			c->pos++;
		} else if (ch == '%') {
			if (c->n - c->pos >= 5 && memcmp(c->u + c->pos, "%%EOF", 5) == 0)
				return scan_refuse(
				    c, "a %%%%EOF marker at offset %zu before the end", c->pos);
			while (c->pos < c->n && c->u[c->pos] != '\r' && c->u[c->pos] != '\n')
				c->pos++;
		} else {
			break;
		}
	}
	return C2S_OK;
}

int scan_at_keyword(const struct scan_ctx *c, const char *kw)
{
	size_t l = strlen(kw);
	return c->n - c->pos >= l && memcmp(c->u + c->pos, kw, l) == 0 &&
	       (c->pos + l == c->n || !is_regular(c->u[c->pos + l]));
}

/* Decoded name bytes of a name token at u[off..off+len) (leading '/' included). The lexer
 * has checked every #xx escape. */
static size_t name_decode(const struct scan_ctx *c, size_t off, size_t len, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = off + 1; i < off + len && o < NAME_MAX_LEN;) {
		if (c->u[i] == '#' && i + 2 < off + len) {
			out[o++] = (uint8_t)(hexval(c->u[i + 1]) << 4 | hexval(c->u[i + 2]));
			i += 3;
		} else {
			out[o++] = c->u[i++];
		}
	}
	return o;
}

static int64_t name_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static c2s_err lex_name(struct scan_ctx *c, struct tok *t)
{
	size_t dec = 0;
	c->pos++;
	while (c->pos < c->n && is_regular(c->u[c->pos])) {
		if (c->u[c->pos] == '#') {
			if (c->n - c->pos < 3 || hexval(c->u[c->pos + 1]) < 0 ||
			    hexval(c->u[c->pos + 2]) < 0 ||
			    (c->u[c->pos + 1] == '0' && c->u[c->pos + 2] == '0'))
				return scan_refuse(c, "a bad #-escape in the name at offset %zu",
				                   t->off);
			c->pos += 3;
		} else {
			c->pos++;
		}
		if (++dec > NAME_MAX_LEN)
			return scan_refuse(c, "a name longer than %d bytes at offset %zu",
			                   NAME_MAX_LEN, t->off);
	}
	t->t = TK_NAME;
	t->len = c->pos - t->off;
	uint8_t d[NAME_MAX_LEN];
	size_t l = name_decode(c, t->off, t->len, d);
	t->v = name_hash(d, l);
	return C2S_OK;
}

static c2s_err lex_literal(struct scan_ctx *c, struct tok *t)
{
	size_t depth = 1;
	c->pos++;
	while (c->pos < c->n) {
		uint8_t ch = c->u[c->pos++];
		if (ch == '\\') {
			if (c->pos == c->n)
				break;
			c->pos++; /* the escaped byte, whatever it is */
		} else if (ch == '(') {
			depth++;
		} else if (ch == ')' && --depth == 0) {
			t->t = TK_STR;
			t->len = c->pos - t->off;
			return C2S_OK;
		}
	}
	return scan_refuse(c, "a string from offset %zu is not closed", t->off);
}

static c2s_err lex_hex(struct scan_ctx *c, struct tok *t)
{
	c->pos++;
	while (c->pos < c->n) {
		uint8_t ch = c->u[c->pos++];
		if (ch == '>') {
			t->t = TK_HEX;
			t->len = c->pos - t->off;
			return C2S_OK;
		}
		if (hexval(ch) < 0 && !is_ws(ch))
			return scan_refuse(c, "the hex string at offset %zu has the byte 0x%02x",
			                   t->off, ch);
	}
	return scan_refuse(c, "a hex string from offset %zu is not closed", t->off);
}

static c2s_err lex_number(struct scan_ctx *c, struct tok *t)
{
	size_t digs = 0, dots = 0;
	int neg = 0;
	int64_t v = 0;
	if (c->u[c->pos] == '+' || c->u[c->pos] == '-')
		neg = c->u[c->pos++] == '-';
	t->unsigned_ = c->pos == t->off;
	for (; c->pos < c->n; c->pos++) {
		uint8_t ch = c->u[c->pos];
		if (ch == '.') {
			dots++;
		} else if (ch >= '0' && ch <= '9') {
			if (++digs > INT_MAX_DIGS)
				return scan_refuse(c,
				                   "a number longer than %d digits at offset %zu",
				                   INT_MAX_DIGS, t->off);
			v = v * 10 + (ch - '0');
		} else {
			break;
		}
	}
	if (!digs || dots > 1 || (c->pos < c->n && is_regular(c->u[c->pos])))
		return scan_refuse(c, "a malformed number at offset %zu", t->off);
	t->t = dots ? TK_REAL : TK_INT;
	t->v = neg ? -v : v;
	t->len = c->pos - t->off;
	return C2S_OK;
}

/* One token; every call spends one unit of the scan's budget. */
static c2s_err lex(struct scan_ctx *c, struct tok *t)
{
	c2s_err ret = scan_skip_ws(c);
	if (ret != C2S_OK)
		return ret;
	if (++c->tokens > SCAN_MAX_TOKENS)
		return scan_refuse(c,
		                   "the update exceeds the work budget of %d tokens at offset %zu",
		                   SCAN_MAX_TOKENS, c->pos);
	memset(t, 0, sizeof(*t));
	t->off = c->pos;
	if (c->pos == c->n) {
		t->t = TK_EOF;
		return C2S_OK;
	}
	uint8_t ch = c->u[c->pos], nx = c->pos + 1 < c->n ? c->u[c->pos + 1] : 0;
	switch (ch) {
	case '[':
	case ']':
		t->t = ch == '[' ? TK_LB : TK_RB;
		t->len = 1;
		c->pos++;
		return C2S_OK;
	case '<':
		if (nx != '<')
			return lex_hex(c, t);
		t->t = TK_LD;
		t->len = 2;
		c->pos += 2;
		return C2S_OK;
	case '>':
		if (nx != '>')
			return scan_refuse(c, "a stray '>' at offset %zu", c->pos);
		t->t = TK_RD;
		t->len = 2;
		c->pos += 2;
		return C2S_OK;
	case '(':
		return lex_literal(c, t);
	case '/':
		return lex_name(c, t);
	case ')':
	case '{':
	case '}':
		return scan_refuse(c, "the byte '%c' at offset %zu is not allowed here", ch,
		                   c->pos);
	default:
		break;
	}
	if ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.')
		return lex_number(c, t);
	while (c->pos < c->n && is_regular(c->u[c->pos]))
		if (++c->pos - t->off > KW_MAX_LEN)
			return scan_refuse(c, "an unknown keyword at offset %zu", t->off);
	t->t = TK_KW;
	t->len = c->pos - t->off;
	return C2S_OK;
}

static int tok_is_kw(const struct scan_ctx *c, const struct tok *t, const char *kw)
{
	return t->t == TK_KW && t->len == strlen(kw) && memcmp(c->u + t->off, kw, t->len) == 0;
}

c2s_err scan_expect_keyword(struct scan_ctx *c, const char *kw, const char *what)
{
	struct tok t;
	c2s_err ret = lex(c, &t);
	if (ret != C2S_OK)
		return ret;
	if (!tok_is_kw(c, &t, kw))
		return scan_refuse(c, "%s: expected '%s' at offset %zu", what, kw, t.off);
	return C2S_OK;
}

c2s_err scan_obj_header(struct scan_ctx *c, uint32_t *num, uint16_t *gen)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct tok a, b;
	size_t at = c->pos;
	GUARD(lex(c, &a));
	GUARD(lex(c, &b));
	if (a.t != TK_INT || !a.unsigned_ || a.v < 1 || a.v > SCAN_MAX_NUM || b.t != TK_INT ||
	    !b.unsigned_ || b.v > 65535)
		SCAN_REFUSE("expected an object 'N G obj' at offset %zu", at);
	GUARD(scan_expect_keyword(c, "obj", "object header"));
	*num = (uint32_t)a.v;
	*gen = (uint16_t)b.v;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err new_node(struct scan_ctx *c, enum sn_type type, const struct tok *t, uint32_t *idx)
{
	if (c->n_nodes + 1 >= c->cap_nodes) /* a node starts at its own byte, within budget */
		return C2S_ERR_INTERNAL;
	uint32_t i = ++c->n_nodes;
	struct sn *s = &c->nodes[i];
	memset(s, 0, sizeof(*s));
	s->t = (uint8_t)type;
	s->owner = c->owner;
	s->off = t->off;
	s->len = t->len;
	s->v = t->v;
	*idx = i;
	return C2S_OK;
}

static void append_kid(struct scan_ctx *c, uint32_t parent, uint32_t *last, uint32_t kid)
{
	if (*last)
		c->nodes[*last].next = kid;
	else
		c->nodes[parent].kid = kid;
	*last = kid;
	c->nodes[parent].n++;
}

static int name_eq_nodes(const struct scan_ctx *c, uint32_t a, uint32_t b)
{
	uint8_t x[NAME_MAX_LEN], y[NAME_MAX_LEN];
	const struct sn *p = &c->nodes[a], *q = &c->nodes[b];
	if (p->v != q->v)
		return 0;
	size_t lx = name_decode(c, p->off, p->len, x), ly = name_decode(c, q->off, q->len, y);
	return lx == ly && memcmp(x, y, lx) == 0;
}

static c2s_err parse_from(struct scan_ctx *c, struct tok *t, uint32_t *idx, int depth);

static c2s_err parse_array(struct scan_ctx *c, struct tok *t, uint32_t *idx, int depth)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t last = 0, kid;
	struct tok e;
	GUARD(new_node(c, SN_ARRAY, t, idx));
	for (;;) {
		GUARD(lex(c, &e));
		if (e.t == TK_RB)
			break;
		GUARD(parse_from(c, &e, &kid, depth + 1));
		append_kid(c, *idx, &last, kid);
	}
	c->nodes[*idx].len = c->pos - t->off;
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err parse_dict(struct scan_ctx *c, struct tok *t, uint32_t *idx, int depth)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint32_t last = 0, key, val;
	struct tok k, v;
	GUARD(new_node(c, SN_DICT, t, idx));
	for (;;) {
		GUARD(lex(c, &k));
		if (k.t == TK_RD)
			break;
		if (k.t != TK_NAME)
			SCAN_REFUSE("a dictionary key at offset %zu is not a name", k.off);
		GUARD(new_node(c, SN_NAME, &k, &key));
		/* a repeated key is read as its first or its last value by different readers */
		for (uint32_t o = c->nodes[*idx].kid; o; o = c->nodes[c->nodes[o].next].next)
			if (name_eq_nodes(c, o, key))
				SCAN_REFUSE("the key at offset %zu appears twice in its dictionary",
				            k.off);
		GUARD(lex(c, &v));
		if (v.t == TK_RD)
			SCAN_REFUSE("the key at offset %zu has no value", k.off);
		GUARD(parse_from(c, &v, &val, depth + 1));
		append_kid(c, *idx, &last, key);
		append_kid(c, *idx, &last, val);
	}
	c->nodes[*idx].len = c->pos - t->off;
	ret = C2S_OK;
out:
	return ret;
}

/* "N G R" after the integer N in `t`, or a plain integer (cursor and budget restored). */
static c2s_err parse_int_or_ref(struct scan_ctx *c, struct tok *t, uint32_t *idx)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	size_t pos = c->pos, tokens = c->tokens;
	struct tok g, r;
	if (t->unsigned_) {
		GUARD(lex(c, &g));
		if (g.t == TK_INT && g.unsigned_) {
			GUARD(lex(c, &r));
			if (tok_is_kw(c, &r, "R")) {
				if (g.v > 65535 || t->v > SCAN_MAX_NUM)
					SCAN_REFUSE("a reference out of range at offset %zu",
					            t->off);
				GUARD(new_node(c, SN_REF, t, idx));
				c->nodes[*idx].gen = (uint16_t)g.v;
				c->nodes[*idx].len = c->pos - t->off;
				ret = C2S_OK;
				goto out;
			}
		}
	}
	c->pos = pos;
	c->tokens = tokens;
	GUARD(new_node(c, SN_INT, t, idx));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err parse_from(struct scan_ctx *c, struct tok *t, uint32_t *idx, int depth)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	if (depth > SCAN_MAX_DEPTH)
		SCAN_REFUSE("nesting deeper than %d at offset %zu", SCAN_MAX_DEPTH, t->off);
	switch (t->t) {
	case TK_INT:
		GUARD(parse_int_or_ref(c, t, idx));
		break;
	case TK_REAL:
		GUARD(new_node(c, SN_REAL, t, idx));
		break;
	case TK_NAME:
		GUARD(new_node(c, SN_NAME, t, idx));
		break;
	case TK_STR:
		GUARD(new_node(c, SN_STR, t, idx));
		break;
	case TK_HEX:
		GUARD(new_node(c, SN_HEX, t, idx));
		break;
	case TK_LB:
		GUARD(parse_array(c, t, idx, depth));
		break;
	case TK_LD:
		GUARD(parse_dict(c, t, idx, depth));
		break;
	case TK_KW:
		if (tok_is_kw(c, t, "true") || tok_is_kw(c, t, "false")) {
			GUARD(new_node(c, SN_BOOL, t, idx));
			c->nodes[*idx].v = tok_is_kw(c, t, "true");
		} else if (tok_is_kw(c, t, "null")) {
			GUARD(new_node(c, SN_NULL, t, idx));
		} else {
			SCAN_REFUSE("the keyword '%.*s' at offset %zu is not a value", (int)t->len,
			            (const char *)c->u + t->off, t->off);
		}
		break;
	case TK_EOF:
		SCAN_REFUSE("the update ends inside an object");
	default:
		SCAN_REFUSE("an unexpected '%.*s' at offset %zu", (int)t->len,
		            (const char *)c->u + t->off, t->off);
	}
	ret = C2S_OK;
out:
	return ret;
}

c2s_err scan_value(struct scan_ctx *c, uint32_t *idx)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct tok t;
	GUARD(lex(c, &t));
	GUARD(parse_from(c, &t, idx, 0));
	ret = C2S_OK;
out:
	return ret;
}

uint32_t scan_get(const struct scan_ctx *c, uint32_t d, const char *key)
{
	if (!d || c->nodes[d].t != SN_DICT)
		return 0;
	for (uint32_t k = c->nodes[d].kid; k; k = c->nodes[c->nodes[k].next].next)
		if (scan_is_name(c, k, key))
			return c->nodes[k].next;
	return 0;
}

int scan_is_name(const struct scan_ctx *c, uint32_t i, const char *name)
{
	uint8_t d[NAME_MAX_LEN];
	if (!i || c->nodes[i].t != SN_NAME)
		return 0;
	size_t l = name_decode(c, c->nodes[i].off, c->nodes[i].len, d);
	return l == strlen(name) && memcmp(d, name, l) == 0;
}

void scan_name_text(const struct scan_ctx *c, uint32_t i, char *out, size_t cap)
{
	uint8_t d[NAME_MAX_LEN];
	size_t l = 0, o = 0;
	if (i && c->nodes[i].t == SN_NAME)
		l = name_decode(c, c->nodes[i].off, c->nodes[i].len, d);
	for (size_t k = 0; k < l && o + 1 < cap; k++)
		out[o++] = d[k] > 0x20 && d[k] < 0x7f ? (char)d[k] : '?';
	if (cap)
		out[o] = 0;
}

c2s_err scan_keys_allowed(struct scan_ctx *c, uint32_t d, const char *const *allowed,
                          const char *what)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	for (uint32_t k = c->nodes[d].kid; k; k = c->nodes[c->nodes[k].next].next) {
		const char *const *a = allowed;
		while (*a && !scan_is_name(c, k, *a))
			a++;
		if (!*a) {
			char name[64];
			scan_name_text(c, k, name, sizeof(name));
			SCAN_REFUSE("%s: the key /%s is not allowed", what, name);
		}
	}
	ret = C2S_OK;
out:
	return ret;
}
