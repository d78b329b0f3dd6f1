/* PDF text strings (ISO 32000-1 7.9.2.2) from UTF-8: a PDFDocEncoding literal when every
 * character is printable ASCII or Latin-1 (where PDFDocEncoding equals ISO 8859-1), else
 * UTF-16BE with a byte order mark as a hex string. */
#include <string.h>

#include "pdf_int.h"

/* Next code point of NUL-terminated UTF-8; -1 when malformed (overlong, surrogate, > 10FFFF). */
static long next_cp(const unsigned char **ps)
{
	const unsigned char *s = *ps;
	unsigned c = s[0];
	long cp;
	int n;
	if (c < 0x80) {
		*ps = s + 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		cp = c & 0x1f;
		n = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		cp = c & 0x0f;
		n = 2;
	} else if (c >= 0xf0 && c <= 0xf4) {
		cp = c & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1; /* also stops at the NUL */
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*ps = s + n + 1;
	return cp;
}

static int latin_ok(long cp)
{
	return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xff && cp != 0xad);
}

/* Validates; *latin = every code point is representable as a PDFDocEncoding literal. */
static int scan(const char *utf8, int *latin)
{
	const unsigned char *s = (const unsigned char *)utf8;
	*latin = 1;
	while (*s) {
		long cp = next_cp(&s);
		if (cp < 0)
			return -1;
		if (!latin_ok(cp))
			*latin = 0;
	}
	return 0;
}

static c2s_err put_literal(struct buf *b, const char *utf8)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const unsigned char *s = (const unsigned char *)utf8;
	GUARD(buf_put(b, "(", 1));
	while (*s) {
		long cp = next_cp(&s);
		char esc[5];
		if (cp == '(' || cp == ')' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			GUARD(buf_put(b, esc, 2));
		} else if (cp >= 0x80) { /* keep the update ASCII: octal escape */
			esc[0] = '\\';
			esc[1] = (char)('0' + ((cp >> 6) & 7));
			esc[2] = (char)('0' + ((cp >> 3) & 7));
			esc[3] = (char)('0' + (cp & 7));
			GUARD(buf_put(b, esc, 4));
		} else {
			esc[0] = (char)cp;
			GUARD(buf_put(b, esc, 1));
		}
	}
	GUARD(buf_put(b, ")", 1));
	ret = C2S_OK;
out:
	return ret;
}

static c2s_err put_unit(struct buf *b, unsigned u)
{
	static const char hx[] = "0123456789ABCDEF";
	char t[4] = {hx[(u >> 12) & 15], hx[(u >> 8) & 15], hx[(u >> 4) & 15], hx[u & 15]};
	return buf_put(b, t, 4);
}

static c2s_err put_utf16(struct buf *b, const char *utf8)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const unsigned char *s = (const unsigned char *)utf8;
	GUARD(buf_put(b, "<FEFF", 5));
	while (*s) {
		long cp = next_cp(&s);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			GUARD(put_unit(b, 0xd800 | (unsigned)(cp >> 10)));
			GUARD(put_unit(b, 0xdc00 | (unsigned)(cp & 0x3ff)));
		} else {
			GUARD(put_unit(b, (unsigned)cp));
		}
	}
	GUARD(buf_put(b, ">", 1));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err pdf_text_string(struct buf *b, const char *utf8)
{
	int latin;
	if (!utf8 || scan(utf8, &latin) != 0)
		return C2S_ERR_ARG;
	return latin ? put_literal(b, utf8) : put_utf16(b, utf8);
}
