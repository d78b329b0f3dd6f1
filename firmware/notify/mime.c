/* RFC 5322 + MIME writer: every input is checked first (check_msg), then the message is written
 * through one folding writer with a sticky error, so no line passes 76 characters and a failed
 * append stops everything after it. */
#include "mime.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "firmware/base/clock.h"

#define LINE      76u /* every line we write, CRLF excluded */
#define PLAIN_MAX 60u /* longest ASCII word or plain filename we write unencoded */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hexd[] = "0123456789ABCDEF";

/* ---- input checks ---- */

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when malformed (overlong, surrogate,
 * beyond U+10FFFF, truncated); *cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t k = s[0] < 0x80             ? 1
	           : (s[0] & 0xe0) == 0xc0 ? 2
	           : (s[0] & 0xf0) == 0xe0 ? 3
	           : (s[0] & 0xf8) == 0xf0 ? 4
	                                   : 0;
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	uint32_t c = k == 1 ? s[0] : k == 2 ? s[0] & 0x1fu : k == 3 ? s[0] & 0x0fu : s[0] & 0x07u;

	if (k == 0 || k > n)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if (c < min[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return k;
}

/* Valid UTF-8 without control characters (C0, DEL, C1); bodies may hold TAB, LF and CR. */
static int text_ok(const char *s, size_t max, int body)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	uint32_t c = 0;

	if (n > max)
		return 0;
	for (size_t i = 0, k = 0; i < n; i += k) {
		if ((k = utf8_seq(p + i, n - i, &c)) == 0)
			return 0;
		if (body && (c == '\t' || c == '\n' || c == '\r'))
			continue;
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			return 0;
	}
	return 1;
}

int mime_domain_valid(const char *dom)
{
	size_t n = dom ? strlen(dom) : 0, label = 0, dots = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = dom[i];
		if (c == '.') {
			if (label == 0 || dom[i - 1] == '-')
				return 0;
			label = 0, dots++;
			continue;
		}
		int ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-';
		if (!ldh || (c == '-' && label == 0) || ++label > 63)
			return 0;
	}
	return dots > 0 && label > 0 && dom[n - 1] != '-';
}

int mime_addr_valid(const char *addr)
{
	const char *at = addr ? strchr(addr, '@') : NULL;
	size_t local = at ? (size_t)(at - addr) : 0;

	if (at == NULL || strchr(at + 1, '@') != NULL || strlen(addr) > MIME_ADDR_MAX ||
	    local == 0 || local > 64 || addr[0] == '.' || at[-1] == '.')
		return 0;
	for (size_t i = 0; i < local; i++) {
		char c = addr[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') ||
		         (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) ||
		         (c == '.' && addr[i + 1] != '.');
		if (!ok)
			return 0;
	}
	return mime_domain_valid(at + 1);
}

/* "type/subtype" of lower-case letters, digits and ".+-". */
static int ctype_ok(const char *t)
{
	size_t n = strlen(t), slash = 0, where = 0;

	if (n == 0 || n > 100)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c == '/')
			slash++, where = i;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(".+-", c)))
			return 0;
	}
	return slash == 1 && where > 0 && where < n - 1;
}

static int filename_ok(const char *f)
{
	return f != NULL && f[0] != 0 && text_ok(f, MIME_FILENAME_MAX, 0) &&
	       strpbrk(f, "/\\") == NULL;
}

static c2s_err check_msg(const struct mime_msg *m, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;

	if (!mime_addr_valid(m->from))
		WHY(C2S_ERR_ARG, "From address refused");
	if (m->from_name && (!text_ok(m->from_name, MIME_NAME_MAX, 0) || m->from_name[0] == 0))
		WHY(C2S_ERR_ARG,
		    "From display name refused (control character, bad UTF-8 or long)");
	if (m->to == NULL || m->nto == 0 || m->nto > MIME_RCPT_MAX)
		WHY(C2S_ERR_ARG, "between 1 and %u recipients", MIME_RCPT_MAX);
	for (size_t i = 0; i < m->nto; i++)
		if (!mime_addr_valid(m->to[i]))
			WHY(C2S_ERR_ARG, "To address %zu refused", i + 1);
	if (m->subject == NULL || !text_ok(m->subject, MIME_SUBJECT_MAX, 0))
		WHY(C2S_ERR_ARG, "Subject refused (control character, bad UTF-8 or too long)");
	if (m->text == NULL || !text_ok(m->text, SIZE_MAX, 1))
		WHY(C2S_ERR_ARG, "text body refused (bad UTF-8 or control character)");
	if (m->html && !text_ok(m->html, SIZE_MAX, 1))
		WHY(C2S_ERR_ARG, "HTML body refused (bad UTF-8 or control character)");
	if (!mime_domain_valid(m->msgid_domain))
		WHY(C2S_ERR_ARG, "Message-ID domain refused");
	if (m->natt > MIME_ATT_MAX || (m->natt > 0 && m->att == NULL))
		WHY(C2S_ERR_ARG, "at most %u attachments", MIME_ATT_MAX);
	for (size_t i = 0; i < m->natt; i++) {
		const struct mime_attachment *a = &m->att[i];
		if (!filename_ok(a->filename))
			WHY(C2S_ERR_ARG, "attachment %zu: file name refused", i + 1);
		if (a->content_type && !ctype_ok(a->content_type))
			WHY(C2S_ERR_ARG, "attachment %zu: content type refused", i + 1);
		if (a->data == NULL && a->len > 0)
			WHY(C2S_ERR_ARG, "attachment %zu: no data", i + 1);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* ---- the writer: raw bytes, header words with folding, sticky error ---- */

struct mw {
	struct buf *b;
	size_t col;
	int fresh; /* only the header name is on this line so far */
	c2s_err err;
};

static void put(struct mw *w, const void *p, size_t n)
{
	if (w->err == C2S_OK)
		w->err = buf_put(w->b, p, n);
	w->col += n;
}

static void puts_(struct mw *w, const char *s)
{
	put(w, s, strlen(s));
}

static void crlf(struct mw *w)
{
	put(w, "\r\n", 2);
	w->col = 0;
}

static void hdr(struct mw *w, const char *name)
{
	puts_(w, name);
	put(w, ":", 1);
	w->fresh = 1;
}

/* " word", folded onto a new line when it would pass LINE (never right after the name). */
static void word(struct mw *w, const char *s, size_t n)
{
	if (!w->fresh && w->col + 1 + n > LINE)
		crlf(w);
	put(w, " ", 1);
	put(w, s, n);
	w->fresh = 0;
}

static void words(struct mw *w, const char *s)
{
	word(w, s, strlen(s));
}

static void b64_chunk(char out[4], const unsigned char *p, size_t n)
{
	uint32_t v = (uint32_t)p[0] << 16 | (n > 1 ? (uint32_t)p[1] << 8 : 0) | (n > 2 ? p[2] : 0);
	out[0] = b64[v >> 18];
	out[1] = b64[(v >> 12) & 63];
	out[2] = n > 1 ? b64[(v >> 6) & 63] : '=';
	out[3] = n > 2 ? b64[v & 63] : '=';
}

/* RFC 2047 B encoded-words, each at most 75 characters, whole UTF-8 characters only, sized to
 * what is left of the line. */
static void encoded_words(struct mw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char tok[80];

	while (n > 0) {
		size_t avail = LINE - (w->col < LINE ? w->col : LINE);
		size_t room = avail > 13 ? (avail - 13) / 4 * 3 : 0; /* " =?UTF-8?B?" "?=" */
		if (room > 45)
			room = 45;
		if (room < 4) {
			crlf(w);
			continue;
		}
		size_t cut = n < room ? n : room;
		while (cut < n && (p[cut] & 0xc0) == 0x80)
			cut--;
		size_t k = 0;
		memcpy(tok, "=?UTF-8?B?", 10), k = 10;
		for (size_t i = 0; i < cut; i += 3, k += 4)
			b64_chunk(tok + k, p + i, cut - i);
		memcpy(tok + k, "?=", 2), k += 2;
		w->fresh = 0;
		word(w, tok, k);
		p += cut, n -= cut;
	}
}

/* Printable ASCII that reads back unchanged without encoding: no "=?", no leading, trailing
 * or double spaces, no word longer than PLAIN_MAX, no quote or backslash when `quoted`. */
static int plain_ascii(const char *s, int quoted)
{
	size_t run = 0;

	if (s[0] == ' ' || strstr(s, "=?") || strstr(s, "  ") || (s[0] && s[strlen(s) - 1] == ' '))
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || (quoted && (*p == '"' || *p == '\\')))
			return 0;
		run = *p == ' ' ? 0 : run + 1;
		if (run > PLAIN_MAX)
			return 0;
	}
	return 1;
}

static void subject(struct mw *w, const char *s)
{
	hdr(w, "Subject");
	if (plain_ascii(s, 0) && s[0] != 0) {
		for (const char *p = s, *sp; *p; p = sp ? sp + 1 : p + strlen(p)) {
			sp = strchr(p, ' ');
			word(w, p, sp ? (size_t)(sp - p) : strlen(p));
		}
	} else if (s[0] != 0) {
		encoded_words(w, s);
	}
	crlf(w);
}

static void from(struct mw *w, const char *name, const char *addr)
{
	char tok[MIME_ADDR_MAX + 3];

	hdr(w, "From");
	if (name != NULL && plain_ascii(name, 1) && strlen(name) <= PLAIN_MAX) {
		char q[PLAIN_MAX + 3];
		int n = snprintf(q, sizeof(q), "\"%s\"", name);
		word(w, q, (size_t)n);
	} else if (name != NULL) {
		encoded_words(w, name);
	}
	int n = snprintf(tok, sizeof(tok), "<%s>", addr);
	word(w, tok, (size_t)n);
	crlf(w);
}

static void to(struct mw *w, const char *const *rcpt, size_t n)
{
	char tok[MIME_ADDR_MAX + 2];

	hdr(w, "To");
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(tok, sizeof(tok), "%s%s", rcpt[i], i + 1 < n ? "," : "");
		word(w, tok, (size_t)k);
	}
	crlf(w);
}

static void date(struct mw *w, int64_t t)
{
	static const char *const day[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	if (gmtime_r(&tt, &tm) == NULL) {
		w->err = w->err ? w->err : C2S_ERR_ARG;
		return;
	}
	int n = snprintf(s, sizeof(s), "%s, %02d %s %04d %02d:%02d:%02d +0000", day[tm.tm_wday],
	                 tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec);
	hdr(w, "Date");
	word(w, s, (size_t)n);
	crlf(w);
}

/* ---- bodies ---- */

/* Quoted-printable (RFC 2045 6.7): lines of at most 76 with soft breaks, trailing white space
 * encoded, input LF or CRLF becomes CRLF. */
static void qp(struct mw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	w->col = 0;
	for (size_t i = 0; p[i] != 0; i++) {
		unsigned char c = p[i];
		if (c == '\n' || (c == '\r' && p[i + 1] == '\n')) {
			i += c == '\r';
			crlf(w);
			continue;
		}
		int last =
		    p[i + 1] == 0 || p[i + 1] == '\n' || (p[i + 1] == '\r' && p[i + 2] == '\n');
		int lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
		char enc[3] = {'=', hexd[c >> 4], hexd[c & 15]};
		size_t k = lit ? 1 : 3;
		if (w->col + k > LINE - 1) /* keep room for the soft break's '=' */
			put(w, "=", 1), crlf(w);
		put(w, lit ? (const char *)&p[i] : enc, k);
	}
	crlf(w);
}

/* Base64 in lines of 76 characters (57 input bytes each). */
static void base64_lines(struct mw *w, const uint8_t *p, size_t n)
{
	char line[LINE];

	for (size_t off = 0; off < n; off += 57) {
		size_t take = n - off < 57 ? n - off : 57, k = 0;
		for (size_t i = 0; i < take; i += 3, k += 4)
			b64_chunk(line + k, p + off + i, take - i);
		put(w, line, k);
		crlf(w);
	}
}

static void text_part(struct mw *w, const char *subtype, const char *body)
{
	hdr(w, "Content-Type");
	words(w, subtype);
	words(w, "charset=UTF-8");
	crlf(w);
	puts_(w, "Content-Transfer-Encoding: quoted-printable");
	crlf(w);
	crlf(w);
	qp(w, body);
}

static void boundary_line(struct mw *w, const char *bnd, int last)
{
	puts_(w, "--");
	puts_(w, bnd);
	if (last)
		puts_(w, "--");
	crlf(w);
}

static void multipart_header(struct mw *w, const char *kind, const char *bnd)
{
	char tok[64];

	hdr(w, "Content-Type");
	words(w, kind);
	int n = snprintf(tok, sizeof(tok), "boundary=\"%s\"", bnd);
	word(w, tok, (size_t)n);
	crlf(w);
	crlf(w);
}

/* The text, or text and HTML as multipart/alternative. */
static void body_entity(struct mw *w, const struct mime_msg *m, const char *alt)
{
	if (m->html == NULL) {
		text_part(w, "text/plain;", m->text);
		return;
	}
	multipart_header(w, "multipart/alternative;", alt);
	boundary_line(w, alt, 0);
	text_part(w, "text/plain;", m->text);
	boundary_line(w, alt, 0);
	text_part(w, "text/html;", m->html);
	boundary_line(w, alt, 1);
}

/* ---- attachments ---- */

/* ASCII stand-in for a UTF-8 file name: Slovene letters lose their caron, other characters
 * outside [A-Za-z0-9 ._()+,-] become '_'; long names keep their extension. */
static void fallback_name(const char *f, char *out, size_t cap)
{
	static const struct {
		uint32_t cp;
		char c;
	} tr[] = {{0x10c, 'C'}, {0x10d, 'c'}, {0x160, 'S'}, {0x161, 's'}, {0x17d, 'Z'},
	          {0x17e, 'z'}, {0x106, 'C'}, {0x107, 'c'}, {0x110, 'D'}, {0x111, 'd'}};
	const unsigned char *p = (const unsigned char *)f;
	size_t n = strlen(f), k = 0;
	uint32_t cp = 0;

	for (size_t i = 0, len = 1; i < n && k + 1 < cap; i += len) {
		len = utf8_seq(p + i, n - i, &cp);
		len = len ? len : 1;
		char c = '_';
		for (size_t j = 0; j < sizeof(tr) / sizeof(tr[0]); j++)
			if (tr[j].cp == cp)
				c = tr[j].c;
		if (cp < 0x80 && ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		                  (cp >= '0' && cp <= '9') || strchr(" ._()+,-", (int)cp)))
			c = (char)cp;
		out[k++] = c;
	}
	out[k] = 0;
	if (k > PLAIN_MAX) { /* keep the extension */
		const char *dot = strrchr(out, '.');
		size_t ext = dot && strlen(dot) <= 10 ? strlen(dot) : 0;
		memmove(out + PLAIN_MAX - ext, out + k - ext, ext + 1);
	}
}

/* filename*0*=UTF-8''%..;  filename*1*=...  (RFC 2231 continuations). Pieces end on character
 * boundaries: RFC 2231 would allow a split inside one, but some readers flag it. */
static void filename_2231(struct mw *w, const char *f)
{
	char tok[LINE];
	const unsigned char *p = (const unsigned char *)f;
	size_t piece = 0, left = strlen(f);
	uint32_t cp = 0;

	while (left > 0) {
		size_t k = (size_t)snprintf(tok, sizeof(tok), "filename*%zu*=%s", piece,
		                            piece ? "" : "UTF-8''");
		size_t start = k;
		while (left > 0) {
			size_t len = utf8_seq(p, left, &cp); /* checked in check_msg: never 0 */
			if (len == 0 || (k > start && k + 3 * len > 60))
				break;
			for (size_t i = 0; i < len; i++, p++, left--) {
				unsigned char c = *p;
				if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
					tok[k++] = (char)c;
				else
					tok[k++] = '%', tok[k++] = hexd[c >> 4],
					tok[k++] = hexd[c & 15];
			}
		}
		if (k == start)
			break; /* malformed input: cannot happen after check_msg */
		if (left > 0)
			tok[k++] = ';';
		word(w, tok, k);
		piece++;
	}
}

static void attachment(struct mw *w, const struct mime_attachment *a)
{
	char fb[MIME_FILENAME_MAX + 1], tok[PLAIN_MAX + 16];
	int plain = plain_ascii(a->filename, 1) && strlen(a->filename) <= PLAIN_MAX;

	fallback_name(a->filename, fb, sizeof(fb));
	hdr(w, "Content-Type");
	snprintf(tok, sizeof(tok), "%s;", a->content_type ? a->content_type : "application/pdf");
	words(w, tok);
	snprintf(tok, sizeof(tok), "name=\"%s\"", plain ? a->filename : fb);
	words(w, tok);
	crlf(w);
	hdr(w, "Content-Disposition");
	words(w, "attachment;");
	if (plain) {
		snprintf(tok, sizeof(tok), "filename=\"%s\"", a->filename);
		words(w, tok);
	} else {
		filename_2231(w, a->filename);
	}
	crlf(w);
	puts_(w, "Content-Transfer-Encoding: base64");
	crlf(w);
	crlf(w);
	base64_lines(w, a->data, a->len);
}

/* ---- the message ---- */

static c2s_err random_hex(char *out, size_t nbytes)
{
	uint8_t r[32];

	if (nbytes > sizeof(r) || getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		return C2S_ERR_INTERNAL;
	for (size_t i = 0; i < nbytes; i++)
		out[2 * i] = hexd[r[i] >> 4] | 0x20, out[2 * i + 1] = hexd[r[i] & 15] | 0x20;
	out[2 * nbytes] = 0;
	explicit_bzero(r, sizeof(r));
	return C2S_OK;
}

static void headers(struct mw *w, const struct mime_msg *m, const char *msgid)
{
	from(w, m->from_name, m->from);
	to(w, m->to, m->nto);
	subject(w, m->subject);
	date(w, m->date != 0 ? m->date : clock_now());
	hdr(w, "Message-ID");
	words(w, msgid);
	crlf(w);
	puts_(w, "MIME-Version: 1.0");
	crlf(w);
	puts_(w, "Auto-Submitted: auto-generated"); /* RFC 3834: no auto-replies to us */
	crlf(w);
}

c2s_err mime_build(const struct mime_msg *m, struct buf *out, char msgid[MIME_MSGID_MAX], char *why,
                   size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	char id[33], rnd[25], mixed[32], alt[32];
	struct mw w = {out, 0, 0, C2S_OK};

	if (why != NULL && why_cap > 0)
		why[0] = 0;
	ENSURE(m != NULL && out != NULL && msgid != NULL, C2S_ERR_ARG);
	msgid[0] = 0;
	GUARD(check_msg(m, why, why_cap));
	if (random_hex(id, 16) != C2S_OK || random_hex(rnd, 12) != C2S_OK)
		WHY(C2S_ERR_INTERNAL, "getrandom failed");
	snprintf(msgid, MIME_MSGID_MAX, "<%s@%s>", id, m->msgid_domain);
	/* "=_" cannot occur in quoted-printable or base64 text, so no part can contain these */
	snprintf(mixed, sizeof(mixed), "=_c2s_m_%s", rnd);
	snprintf(alt, sizeof(alt), "=_c2s_a_%s", rnd);
	buf_reset(out);
	headers(&w, m, msgid);
	if (m->natt == 0) {
		body_entity(&w, m, alt);
	} else {
		multipart_header(&w, "multipart/mixed;", mixed);
		boundary_line(&w, mixed, 0);
		body_entity(&w, m, alt);
		for (size_t i = 0; i < m->natt; i++) {
			boundary_line(&w, mixed, 0);
			attachment(&w, &m->att[i]);
		}
		boundary_line(&w, mixed, 1);
	}
	if (w.err == C2S_ERR_TOO_BIG)
		WHY(C2S_ERR_TOO_BIG, "message larger than the configured %zu bytes", out->max);
	GUARD(w.err);
	ret = C2S_OK;
out:
	if (ret != C2S_OK && out != NULL)
		buf_reset(out);
	return ret;
}
