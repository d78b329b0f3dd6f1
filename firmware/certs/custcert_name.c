/* Distinguished names as UTF-8 text for people: the customer's page, the log, the problem. */
#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <stdio.h>
#include <string.h>

#include "custcert.h"

struct cc_out {
	char *p;
	size_t cap, len;
	int full;
};

static void cc_put(struct cc_out *o, const char *s, size_t n)
{
	/* cut at the first piece that does not fit: never half a character, never a gap */
	if (o->full || o->len + n >= o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

static void cc_put_cp(struct cc_out *o, uint32_t cp, int escape)
{
	char s[4];
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		cp =
		    '?'; /* control and bidi-override characters never reach a log line or a page */
	if ((cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
		cp = 0xfffd;
	if (escape && (cp == ',' || cp == '+' || cp == '\\')) {
		cc_put(o, "\\", 1);
	}
	if (cp < 0x80) {
		s[0] = (char)cp;
		cc_put(o, s, 1);
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | (cp >> 6));
		s[1] = (char)(0x80 | (cp & 0x3f));
		cc_put(o, s, 2);
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | (cp >> 12));
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		cc_put(o, s, 3);
	} else {
		s[0] = (char)(0xf0 | (cp >> 18));
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		cc_put(o, s, 4);
	}
}

/* One well-formed UTF-8 sequence at p (no overlong forms, no surrogates, at most U+10FFFF):
 * its length and code point, or 0. */
static size_t cc_utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		len = 2, c = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return 0;
	*cp = c;
	return len;
}

static void cc_value(struct cc_out *o, int tag, const uint8_t *v, size_t n, int esc)
{
	switch (tag) {
	case MBEDTLS_ASN1_UTF8_STRING:
		for (size_t i = 0; i < n;) {
			uint32_t cp;
			size_t l = cc_utf8_next(v + i, n - i, &cp);
			if (l == 0) {
				cc_put_cp(o, 0xfffd, esc);
				i++;
			} else {
				cc_put_cp(o, cp, esc);
				i += l;
			}
		}
		return;
	case MBEDTLS_ASN1_BMP_STRING: /* UCS-2, big-endian */
		for (size_t i = 0; i + 1 < n; i += 2)
			cc_put_cp(o, (uint32_t)v[i] << 8 | v[i + 1], esc);
		if (n % 2)
			cc_put_cp(o, 0xfffd, esc);
		return;
	case MBEDTLS_ASN1_UNIVERSAL_STRING: /* UCS-4, big-endian */
		for (size_t i = 0; i + 3 < n; i += 4)
			cc_put_cp(o,
			          (uint32_t)v[i] << 24 | (uint32_t)v[i + 1] << 16 |
			              (uint32_t)v[i + 2] << 8 | v[i + 3],
			          esc);
		if (n % 4)
			cc_put_cp(o, 0xfffd, esc);
		return;
	case MBEDTLS_ASN1_PRINTABLE_STRING:
	case MBEDTLS_ASN1_IA5_STRING:
	case MBEDTLS_ASN1_T61_STRING: /* as ISO 8859-1: what CAs that used it meant */
		for (size_t i = 0; i < n; i++)
			cc_put_cp(o,
			          (tag == MBEDTLS_ASN1_T61_STRING || v[i] < 0x80) ? v[i] : 0xfffd,
			          esc);
		return;
	default: /* some other type: its bytes in hex, as RFC 4514 does */
		cc_put(o, "#", 1);
		for (size_t i = 0; i < n; i++) {
			char h[3];
			snprintf(h, sizeof(h), "%02x", v[i]);
			cc_put(o, h, 2);
		}
	}
}

static const struct {
	const char *oid; /* DER contents */
	size_t len;
	const char *name;
} cc_attr_names[] = {
    {"\x55\x04\x03", 3, "CN"},
    {"\x55\x04\x04", 3, "SN"},
    {"\x55\x04\x05", 3, "SERIALNUMBER"},
    {"\x55\x04\x06", 3, "C"},
    {"\x55\x04\x07", 3, "L"},
    {"\x55\x04\x08", 3, "ST"},
    {"\x55\x04\x0a", 3, "O"},
    {"\x55\x04\x0b", 3, "OU"},
    {"\x55\x04\x0c", 3, "T"},
    {"\x55\x04\x2a", 3, "GN"},
    {"\x55\x04\x41", 3, "PSEUDONYM"},
    {"\x55\x04\x61", 3, "organizationIdentifier"},
    {"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", 9, "emailAddress"},
};

static void cc_attr(struct cc_out *o, const uint8_t *oid, size_t len)
{
	for (size_t i = 0; i < sizeof(cc_attr_names) / sizeof(cc_attr_names[0]); i++)
		if (cc_attr_names[i].len == len && memcmp(cc_attr_names[i].oid, oid, len) == 0) {
			cc_put(o, cc_attr_names[i].name, strlen(cc_attr_names[i].name));
			return;
		}
	char dotted[96];
	mbedtls_asn1_buf b = {.tag = MBEDTLS_ASN1_OID, .len = len, .p = (unsigned char *)oid};
	int n = mbedtls_oid_get_numeric_string(dotted, sizeof(dotted), &b);
	if (n > 0)
		cc_put(o, dotted, (size_t)n);
	else
		cc_put(o, "?", 1);
}

#define CC_MAX_RDNS 32

static const uint8_t cc_oid_cn[] = {0x55, 0x04, 0x03};

/* only_cn: just the (last) common name's value, unescaped */
static void cc_name(const uint8_t *name_der, size_t len, char *out, size_t cap, int only_cn)
{
	struct cc_out o = {.p = out, .cap = cap, .len = 0};
	if (!out || cap == 0)
		return;
	out[0] = 0;
	unsigned char *p = (unsigned char *)name_der, *end = p + len;
	size_t n;
	if (!name_der ||
	    mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
	    p + n != end)
		return;
	/* RFC 4514 writes the RDNs last first: remember where each starts */
	unsigned char *rdn[CC_MAX_RDNS];
	size_t rdn_len[CC_MAX_RDNS], nr = 0;
	while (p < end && nr < CC_MAX_RDNS) {
		if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET))
			return;
		rdn[nr] = p;
		rdn_len[nr++] = n;
		p += n;
	}
	for (size_t i = nr; i-- > 0;) {
		unsigned char *q = rdn[i], *qe = rdn[i] + rdn_len[i];
		int first_in_rdn = 1;
		while (q < qe) {
			unsigned char *a, *ae, *oid;
			size_t al, ol, vl;
			if (mbedtls_asn1_get_tag(&q, qe, &al,
			                         MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
				return;
			a = q;
			ae = q + al;
			q = ae;
			if (mbedtls_asn1_get_tag(&a, ae, &ol, MBEDTLS_ASN1_OID))
				return;
			oid = a;
			a += ol;
			if (a + 2 > ae)
				return;
			int tag = *a++;
			if (mbedtls_asn1_get_len(&a, ae, &vl) || a + vl != ae)
				return;
			if (only_cn) {
				if (ol == sizeof(cc_oid_cn) && memcmp(oid, cc_oid_cn, ol) == 0 &&
				    !o.len)
					cc_value(&o, tag, a, vl, 0);
				continue;
			}
			if (o.len)
				cc_put(&o, first_in_rdn ? ", " : " + ", first_in_rdn ? 2 : 3);
			first_in_rdn = 0;
			cc_attr(&o, oid, ol);
			cc_put(&o, "=", 1);
			cc_value(&o, tag, a, vl, 1);
		}
	}
}

void cc_name_utf8(const uint8_t *name_der, size_t len, char *out, size_t cap)
{
	cc_name(name_der, len, out, cap, 0);
}

void cc_name_cn_utf8(const uint8_t *name_der, size_t len, char *out, size_t cap)
{
	cc_name(name_der, len, out, cap, 1);
}
