/* RFC 5322 / MIME e-mail writer for the notify role: headers (encoded-words for UTF-8, folded
 * under 78 columns), a text/plain body with an optional HTML alternative, and PDF attachments.
 * Every header value is checked first: CR, LF and other control characters are refused, so a
 * caller cannot inject a header; addresses pass a deliberately strict check. */
#ifndef C2S_MIME_H
#define C2S_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

#define MIME_ADDR_MAX     254u /* RFC 5321: local part 64, whole path 254 */
#define MIME_NAME_MAX     128u /* display name, bytes of UTF-8 */
#define MIME_SUBJECT_MAX  512u
#define MIME_FILENAME_MAX 200u
#define MIME_RCPT_MAX     16u
#define MIME_ATT_MAX      16u
#define MIME_MSGID_MAX    (2u + 32u + 1u + 253u + 1u) /* "<" hex "@" domain ">" NUL */

struct mime_attachment {
	const char *filename;     /* UTF-8, no path, no control characters */
	const char *content_type; /* NULL = application/pdf; "type/subtype" only */
	const uint8_t *data;
	size_t len;
};

struct mime_msg {
	const char *from;      /* addr-spec */
	const char *from_name; /* optional display name (UTF-8) */
	const char *const *to; /* addr-specs */
	size_t nto;
	const char *subject; /* UTF-8 */
	const char *text;    /* UTF-8 plain text, LF or CRLF line ends */
	const char *html;    /* optional UTF-8 HTML alternative */
	const struct mime_attachment *att;
	size_t natt;
	const char *msgid_domain; /* right-hand side of the Message-ID */
	int64_t date;             /* Unix seconds for Date:; 0 = now */
};

/* 1 when `addr` is an addr-spec we send to: one '@', a dot-atom local part of at most 64 bytes
 * (ASCII letters, digits and !#$%&'*+-/=?^_`{|}~ and single inner dots), a domain of LDH labels
 * of at most 63 bytes with at least one dot, at most MIME_ADDR_MAX bytes in all. */
int mime_addr_valid(const char *addr);
/* 1 when `dom` is a host name as above (used for the Message-ID domain). */
int mime_domain_valid(const char *dom);

/* Write the whole message into `out` (created by the caller with its maximum; C2S_ERR_TOO_BIG
 * when it does not fit). Lines end in CRLF and are at most 76 characters. `msgid` receives the
 * Message-ID (with angle brackets) for the log. C2S_ERR_ARG with `why` naming the field when an
 * input is refused; nothing useful is left in `out` then. */
C2S_MUST_CHECK c2s_err mime_build(const struct mime_msg *m, struct buf *out,
                                  char msgid[MIME_MSGID_MAX], char *why, size_t why_cap);

#endif
