/* RFC 7512 pkcs11: URIs, strictly: every attribute we do not use is refused, each at most
 * once, values percent-decoded and length-checked; `why` names the part at fault. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hsm.h"

#define URI_MAX 2048

enum uri_attr_kind { UA_STR, UA_BYTES, UA_TYPE };

struct uri_attr {
	const char *name;
	int query; /* 1: after '?' */
	enum uri_attr_kind kind;
	size_t off_val, cap; /* for UA_STR: char array; for UA_BYTES: id */
	size_t off_has;
};

#define U_STR(n, q, field, has)                                                                    \
	{                                                                                          \
		n, q, UA_STR, offsetof(struct hsm_uri, field),                                     \
		    sizeof(((struct hsm_uri *)0)->field), offsetof(struct hsm_uri, has)            \
	}

static const struct uri_attr uri_attrs[] = {
    U_STR("token", 0, token, has_token),
    U_STR("manufacturer", 0, manufacturer, has_manufacturer),
    U_STR("serial", 0, serial, has_serial),
    U_STR("model", 0, model, has_model),
    U_STR("object", 0, object, has_object),
    {"id", 0, UA_BYTES, offsetof(struct hsm_uri, id), HSM_MAX_ID, offsetof(struct hsm_uri, has_id)},
    {"type", 0, UA_TYPE, 0, 0, 0},
    {"pin-source", 1, UA_STR, offsetof(struct hsm_uri, pin_source),
     sizeof(((struct hsm_uri *)0)->pin_source), 0},
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 7512 p11-pchar (path) / p11-qchar (query), without the pct-encoded form. */
static int char_ok(char c, int query)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (strchr("-._~:[]@!$'()*+,=", c) != NULL)
		return 1;
	return query && (c == '/' || c == '?' || c == '|');
}

/* Percent-decode [p, end) into out (cap bytes); *n gets the decoded length. */
static c2s_err uri_decode(const char *name, const char *p, const char *end, int query, uint8_t *out,
                          size_t cap, size_t *n, char *why, size_t why_cap)
{
	size_t o = 0;
	while (p < end) {
		int c = (unsigned char)*p;
		if (*p == '%') {
			int hi = end - p >= 3 ? hexval(p[1]) : -1;
			int lo = end - p >= 3 ? hexval(p[2]) : -1;
			if (hi < 0 || lo < 0) {
				snprintf(why, why_cap, "%s: bad percent-escape near \"%.6s\"", name,
				         p);
				return C2S_ERR_HSM_URI;
			}
			c = hi * 16 + lo;
			p += 3;
		} else if (char_ok(*p, query)) {
			p++;
		} else {
			snprintf(why, why_cap, "%s: character '%c' must be percent-encoded", name,
			         *p);
			return C2S_ERR_HSM_URI;
		}
		if (o >= cap) {
			snprintf(why, why_cap, "%s: value longer than %zu bytes", name, cap);
			return C2S_ERR_HSM_URI;
		}
		out[o++] = (uint8_t)c;
	}
	*n = o;
	return C2S_OK;
}

static c2s_err uri_set_type(struct hsm_uri *u, const uint8_t *v, size_t n, char *why,
                            size_t why_cap)
{
	static const struct {
		const char *s;
		int t;
	} types[] = {{"private", HSM_URI_TYPE_PRIVATE},
	             {"public", HSM_URI_TYPE_PUBLIC},
	             {"cert", HSM_URI_TYPE_CERT}};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strlen(types[i].s) == n && memcmp(types[i].s, v, n) == 0) {
			u->type = types[i].t;
			return C2S_OK;
		}
	}
	snprintf(why, why_cap, "type: \"%.*s\" is not one of private, public, cert", (int)n,
	         (const char *)v);
	return C2S_ERR_HSM_URI;
}

static c2s_err uri_store(struct hsm_uri *u, const struct uri_attr *a, const uint8_t *v, size_t n,
                         char *why, size_t why_cap)
{
	char *base = (char *)u;
	if (a->kind == UA_TYPE)
		return uri_set_type(u, v, n, why, why_cap);
	if (a->kind == UA_BYTES) {
		memcpy(base + a->off_val, v, n);
		u->id_len = n;
	} else {
		if (n >= a->cap || memchr(v, 0, n) != NULL) {
			snprintf(why, why_cap, "%s: value too long (max %zu) or contains NUL",
			         a->name, a->cap - 1);
			return C2S_ERR_HSM_URI;
		}
		memcpy(base + a->off_val, v, n);
		base[a->off_val + n] = '\0';
	}
	if (a->off_has)
		*(int *)(base + a->off_has) = 1;
	return C2S_OK;
}

/* One "name=value" in [p, end). `seen` marks attributes already given. */
static c2s_err uri_attr(struct hsm_uri *u, const char *p, const char *end, int query,
                        unsigned *seen, char *why, size_t why_cap)
{
	uint8_t v[512];
	size_t n = 0;
	const char *eq = memchr(p, '=', (size_t)(end - p));
	const char *where = query ? "query" : "path";
	if (!eq || eq == p) {
		snprintf(why, why_cap, "%s attribute \"%.*s\" is not name=value", where,
		         (int)(end - p > 40 ? 40 : end - p), p);
		return C2S_ERR_HSM_URI;
	}
	size_t nl = (size_t)(eq - p);
	for (size_t i = 0; i < sizeof(uri_attrs) / sizeof(uri_attrs[0]); i++) {
		const struct uri_attr *a = &uri_attrs[i];
		if (strlen(a->name) != nl || memcmp(a->name, p, nl) != 0 || a->query != query)
			continue;
		if (*seen & (1u << i)) {
			snprintf(why, why_cap, "%s: given more than once (ambiguous)", a->name);
			return C2S_ERR_HSM_URI;
		}
		*seen |= 1u << i;
		size_t cap = a->kind == UA_BYTES ? a->cap : sizeof(v);
		c2s_err r = uri_decode(a->name, eq + 1, end, query, v, cap, &n, why, why_cap);
		if (r != C2S_OK)
			return r;
		if (n == 0) {
			snprintf(why, why_cap, "%s: empty value", a->name);
			return C2S_ERR_HSM_URI;
		}
		r = uri_store(u, a, v, n, why, why_cap);
		explicit_bzero(v, sizeof(v));
		return r;
	}
	snprintf(why, why_cap, "%s attribute \"%.*s\" is not supported", where,
	         (int)(nl > 40 ? 40 : nl), p);
	return C2S_ERR_HSM_URI;
}

/* Split [p, end) at `sep` and parse each attribute. */
static c2s_err uri_part(struct hsm_uri *u, const char *p, const char *end, char sep, int query,
                        unsigned *seen, char *why, size_t why_cap)
{
	while (p < end) {
		const char *e = memchr(p, sep, (size_t)(end - p));
		if (!e)
			e = end;
		if (e == p) {
			snprintf(why, why_cap, "%s: empty attribute (doubled '%c')",
			         query ? "query" : "path", sep);
			return C2S_ERR_HSM_URI;
		}
		c2s_err r = uri_attr(u, p, e, query, seen, why, why_cap);
		if (r != C2S_OK)
			return r;
		p = e < end ? e + 1 : e;
		if (e < end && p == end) {
			snprintf(why, why_cap, "%s: trailing '%c'", query ? "query" : "path", sep);
			return C2S_ERR_HSM_URI;
		}
	}
	return C2S_OK;
}

c2s_err hsm_uri_parse(const char *s, struct hsm_uri *u, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_HSM_URI;
	unsigned seen = 0;
	memset(u, 0, sizeof(*u));
	if (why && why_cap)
		why[0] = '\0';
	ENSURE(s != NULL, C2S_ERR_ARG);
	size_t len = strnlen(s, URI_MAX + 1);
	if (len > URI_MAX) {
		snprintf(why, why_cap, "URI longer than %d characters", URI_MAX);
		goto out;
	}
	if (len < 7 || strncasecmp(s, "pkcs11:", 7) != 0) {
		snprintf(why, why_cap, "scheme: URI must start with \"pkcs11:\"");
		goto out;
	}
	const char *p = s + 7, *end = s + len;
	const char *q = memchr(p, '?', (size_t)(end - p));
	const char *pend = q ? q : end;
	GUARD(uri_part(u, p, pend, ';', 0, &seen, why, why_cap));
	if (q) {
		if (q + 1 == end) {
			snprintf(why, why_cap, "query: empty after '?'");
			ret = C2S_ERR_HSM_URI;
			goto out;
		}
		GUARD(uri_part(u, q + 1, end, '&', 1, &seen, why, why_cap));
	}
	ret = C2S_OK;
out:
	if (ret != C2S_OK) {
		explicit_bzero(u, sizeof(*u));
		if (why && why_cap && why[0] == '\0')
			snprintf(why, why_cap, "invalid argument");
	}
	return ret;
}
