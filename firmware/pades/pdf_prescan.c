/* A linear pass over the file before qpdf reads it. qpdf parses an object whole the first
 * time it is used, and an object stream whole (every object in it) the first time one of
 * its objects is: about 70 bytes of memory per number, so a catalog holding a direct array
 * of a million numbers costs 270 MB, from 4 MB of file or from 25 KB when the array sits in
 * a Flate object stream (a million of them: 1 GB from 93 KB). Counted here, the way a PDF
 * lexer sees the bytes:
 * - items (numbers, names, strings, keywords) per object outside streams, at most
 *   PDF_MAX_OBJ_ITEMS; stream data is skipped to its "endstream", xref tables to
 *   "trailer";
 * - object streams (/Type /ObjStm) are inflated here in 64 KiB steps, never kept: at most
 *   PDF_MAX_OBJSTM bytes and PDF_MAX_OBJ_ITEMS words in all their objects together; only
 *   FlateDecode (or no filter) is accepted for them, other filters are refused by name.
 * Names are compared after #xx escapes are decoded, as qpdf decodes them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "pdf_int.h"

#define NAME_MAX_CMP  40
#define PRESCAN_CHUNK (1u << 16)

struct lex_obj {
	size_t items;
	int objstm;               /* /ObjStm seen in this object's dictionary */
	int flate;                /* /FlateDecode (or /Fl) */
	char other[NAME_MAX_CMP]; /* another filter's name, if any */
	int want_length;          /* the last name was /Length */
	long long length;         /* a direct /Length (-1: none) */
};

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0;
}

static int is_delim(uint8_t c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' ||
	       c == '}' || c == '/' || c == '%';
}

static int hexv(uint8_t c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* The name at t (n bytes, leading '/' included) with #xx decoded, cut to fit. */
static void name_of(const uint8_t *t, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (t[i] == '#' && i + 2 < n && hexv(t[i + 1]) >= 0 && hexv(t[i + 2]) >= 0) {
			out[o++] = (char)(hexv(t[i + 1]) * 16 + hexv(t[i + 2]));
			i += 2;
		} else {
			out[o++] = (char)t[i];
		}
	}
	out[o] = 0;
}

static const uint8_t *skip_string(const uint8_t *p, const uint8_t *end)
{
	int depth = 0;
	for (; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return end;
}

static int kw(const uint8_t *t, size_t n, const char *k)
{
	return n == strlen(k) && memcmp(t, k, n) == 0;
}

/* The names the prescan acts on, by length first: most names of a document (/Type, /Font,
 * /Resources ...) are passed over with integer compares (21 strcmp a name cost 4% of a seal's
 * CPU). Lengths as strlen gives them: a decoded #00 ends the name, as it did for strcmp. */
enum { NM_NONE, NM_LENGTH, NM_BYTERANGE, NM_OBJSTM, NM_FLATE, NM_OTHER_FILTER };
static const struct {
	const char *s;
	size_t len;
	int kind;
} prescan_names[] = {
    {"/Length", 7, NM_LENGTH},
    {"/ByteRange", 10, NM_BYTERANGE},
    {"/ObjStm", 7, NM_OBJSTM},
    {"/FlateDecode", 12, NM_FLATE},
    {"/Fl", 3, NM_FLATE},
    {"/LZWDecode", 10, NM_OTHER_FILTER},
    {"/LZW", 4, NM_OTHER_FILTER},
    {"/ASCII85Decode", 14, NM_OTHER_FILTER},
    {"/A85", 4, NM_OTHER_FILTER},
    {"/ASCIIHexDecode", 15, NM_OTHER_FILTER},
    {"/AHx", 4, NM_OTHER_FILTER},
    {"/RunLengthDecode", 16, NM_OTHER_FILTER},
    {"/RL", 3, NM_OTHER_FILTER},
    {"/CCITTFaxDecode", 15, NM_OTHER_FILTER},
    {"/CCF", 4, NM_OTHER_FILTER},
    {"/DCTDecode", 10, NM_OTHER_FILTER},
    {"/DCT", 4, NM_OTHER_FILTER},
    {"/JBIG2Decode", 12, NM_OTHER_FILTER},
    {"/JPXDecode", 10, NM_OTHER_FILTER},
    {"/Crypt", 6, NM_OTHER_FILTER},
};

static int name_kind(const char *nm)
{
	size_t n = strlen(nm);
	for (size_t i = 0; i < sizeof(prescan_names) / sizeof(prescan_names[0]); i++)
		if (prescan_names[i].len == n && memcmp(nm, prescan_names[i].s, n) == 0)
			return prescan_names[i].kind;
	return NM_NONE;
}

static void on_name(struct pdf_doc *d, struct lex_obj *o, const uint8_t *t, size_t n)
{
	char nm[NAME_MAX_CMP];
	name_of(t, n, nm, sizeof(nm));
	int k = name_kind(nm);
	o->want_length = k == NM_LENGTH;
	if (k == NM_BYTERANGE)
		d->byterange = 1; /* a signature dictionary, however its name is escaped */
	else if (k == NM_OBJSTM)
		o->objstm = 1;
	else if (k == NM_FLATE)
		o->flate = 1;
	else if (k == NM_OTHER_FILTER)
		snprintf(o->other, sizeof(o->other), "%s", nm);
}

/* The lexer state over an object stream's inflated bytes, kept across chunks. */
struct words {
	int in_word;
	size_t nlen; /* bytes of the name being read (in_word == 2), '/' included */
	uint8_t name[NAME_MAX_CMP];
};

/* A name in inflated data has ended: the same check as on_name for /ByteRange. */
static void name_end(struct pdf_doc *d, struct words *s)
{
	char nm[NAME_MAX_CMP];
	if (s->in_word == 2 && s->nlen < sizeof(s->name)) {
		name_of(s->name, s->nlen, nm, sizeof(nm));
		if (name_kind(nm) == NM_BYTERANGE)
			d->byterange = 1;
	}
	s->nlen = 0;
}

/* Words in inflated object-stream bytes: runs of regular characters, each delimiter that
 * opens a token, each array ("[[[[" is as many objects). An over-count (words inside strings)
 * only errs on the safe side. */
static size_t count_words(struct pdf_doc *d, const uint8_t *p, size_t n, struct words *s)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (is_ws(c) || c == ']' || c == '>' || c == ')' || c == '}') {
			name_end(d, s);
			s->in_word = 0;
		} else if (c == '[' || c == '{') { /* a container: an object of its own for qpdf */
			name_end(d, s);
			w++;
			s->in_word = 0;
		} else if (is_delim(c)) {
			name_end(d, s);
			w++;
			s->in_word = c == '/' ? 2 : 0;
			if (c == '/')
				s->name[s->nlen++] = c;
		} else if (!s->in_word) {
			w++;
			s->in_word = 1;
		} else if (s->in_word == 2 && s->nlen < sizeof(s->name)) {
			s->name[s->nlen++] = c;
		}
	}
	return w;
}

/* One object stream's data (between "stream" and "endstream"), inflated and counted. */
static c2s_err objstm(struct pdf_doc *d, const struct lex_obj *o, const uint8_t *data, size_t len,
                      size_t at)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t *chunk = NULL;
	z_stream z;
	size_t total = 0, words = 0;
	struct words st = {0};
	int zr = Z_OK;
	if (o->other[0])
		return pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                    "the object stream at offset %zu is compressed with %s; only "
		                    "FlateDecode is supported for object streams",
		                    at, o->other);
	if (!o->flate) {
		words = count_words(d, data, len, &st);
		total = len;
		goto check;
	}
	memset(&z, 0, sizeof(z));
	if (!(chunk = malloc(PRESCAN_CHUNK)) || inflateInit(&z) != Z_OK) {
		free(chunk);
		return C2S_ERR_NOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	while (len > 0 || zr == Z_OK) {
		uInt in = len > (1u << 30) ? (1u << 30) : (uInt)len;
		z.avail_in = in;
		z.next_out = chunk;
		z.avail_out = PRESCAN_CHUNK;
		zr = inflate(&z, Z_NO_FLUSH);
		len -= in - z.avail_in;
		size_t got = PRESCAN_CHUNK - z.avail_out;
		total += got;
		words += count_words(d, chunk, got, &st);
		if (total > PDF_MAX_OBJSTM || words > PDF_MAX_OBJ_ITEMS)
			break;
		if (zr == Z_STREAM_END || (zr == Z_BUF_ERROR && got == 0) ||
		    (zr != Z_OK && zr != Z_BUF_ERROR))
			break;
	}
	inflateEnd(&z);
	free(chunk);
check:
	name_end(d, &st);
	if (total > PDF_MAX_OBJSTM)
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the object stream at offset %zu inflates to more than %u MiB",
		                   at, PDF_MAX_OBJSTM >> 20);
	else if (words > PDF_MAX_OBJ_ITEMS)
		ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
		                   "the object stream at offset %zu holds more than %d items, too "
		                   "large to inspect safely",
		                   at, PDF_MAX_OBJ_ITEMS);
	else
		ret = C2S_OK; /* a broken stream is qpdf's to report */
	return ret;
}

/* After "stream": the data up to "endstream" (a missing one: to the end of the file). */
static c2s_err stream(struct pdf_doc *d, struct lex_obj *o, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	if (p < end && *p == '\r')
		p++;
	if (p < end && *p == '\n')
		p++;
	const uint8_t *e = memmem(p, (size_t)(end - p), "endstream", 9);
	if (!e)
		e = end;
	*pp = e;
	if (!o->objstm)
		return C2S_OK;
	/* qpdf reads /Length bytes when /Length is right: "endstream" may also occur inside
	 * compressed data. Inflate up to the further of the two ends (inflate stops where the
	 * deflate stream does) */
	const uint8_t *data_end = e;
	if (o->length > 0 && (size_t)o->length <= (size_t)(end - p) && p + o->length > e)
		data_end = p + o->length;
	return objstm(d, o, p, (size_t)(data_end - p), (size_t)(p - d->pdf));
}

c2s_err pdf_doc_prescan(struct pdf_doc *d)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	const uint8_t *p = d->pdf + d->hdr_off, *end = d->pdf + d->len;
	struct lex_obj o = {.length = -1};
	while (p < end) {
		uint8_t c = *p;
		if (is_ws(c) || c == ']' || c == '}' || (c == '>' && p + 1 < end && p[1] == '>')) {
			p += c == '>' ? 2 : 1;
			continue;
		}
		if (c == '%') {
			while (p < end && *p != '\n' && *p != '\r')
				p++;
			continue;
		}
		if (c == '[' || c == '{' || (c == '<' && p + 1 < end && p[1] == '<')) {
			p += c == '<' ? 2 : 1; /* a container: an object of its own for qpdf */
			o.want_length = 0;
		} else if (c == '(') {
			p = skip_string(p, end);
		} else if (c == '<') {
			const uint8_t *g = memchr(p, '>', (size_t)(end - p));
			p = g ? g + 1 : end;
		} else {
			const uint8_t *t = p++;
			while (p < end && !is_ws(*p) && !is_delim(*p))
				p++;
			size_t n = (size_t)(p - t);
			int was_length = o.want_length;
			o.want_length = 0;
			if (was_length && c >= '0' && c <= '9' && n < 12) { /* not NUL-terminated */
				o.length = 0;
				for (size_t k = 0; k < n && t[k] >= '0' && t[k] <= '9'; k++)
					o.length = o.length * 10 + (t[k] - '0');
			}
			if (c == '/') {
				on_name(d, &o, t, n);
			} else if (kw(t, n, "obj") || kw(t, n, "endobj") || kw(t, n, "trailer")) {
				memset(&o, 0, sizeof(o));
				o.length = -1;
				continue;
			} else if (kw(t, n, "stream")) {
				GUARD(stream(d, &o, &p, end));
				continue;
			} else if (kw(t, n, "xref")) {
				const uint8_t *e = memmem(p, (size_t)(end - p), "trailer", 7);
				p = e ? e : end;
				continue;
			}
		}
		if (++o.items > PDF_MAX_OBJ_ITEMS) {
			ret = pdf_doc_fail(d, C2S_ERR_PDF_UNSUPPORTED,
			                   "an object before offset %zu has more than %d items, "
			                   "too large to inspect safely",
			                   (size_t)(p - d->pdf), PDF_MAX_OBJ_ITEMS);
			goto out;
		}
	}
	ret = C2S_OK;
out:
	return ret;
}
