/* Delivery of one outbox message to the outside (libcurl): e-mail through an SMTP relay, SMS
 * through an HTTP gateway, webhooks with an HMAC signature. Each call is one attempt and says
 * whether another attempt can help; the outbox keeps the message and its attempt count and
 * waits notify_backoff() seconds. Message bodies (links, one-time codes) are never logged nor
 * put into `why`; buffers that held them are wiped.
 *
 * Outcome of every send: C2S_OK = accepted by the next hop. Otherwise `*retry` is 1 when a
 * later attempt may succeed (connection refused or reset, DNS, TLS handshake, timeout, HTTP
 * 408/429/5xx, SMTP 4xx) and 0 when it cannot (SMTP 5xx, other HTTP 4xx and 3xx, invalid
 * input or configuration), and the code is C2S_ERR_TIMEOUT (timed out), C2S_ERR_ARG (input or
 * configuration refused before sending) or C2S_ERR_IO (any other delivery failure). */
#ifndef C2S_DELIVER_H
#define C2S_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/buf.h"
#include "firmware/base/err.h"

#define NOTIFY_TIMEOUT_DEFAULT_MS 30000L
#define NOTIFY_CONNECT_DEFAULT_MS 10000L
#define NOTIFY_SMS_TEXT_MAX       1024u /* bytes of UTF-8; gateways split into segments */
#define NOTIFY_WEBHOOK_MAX        (1024u * 1024u)
#define NOTIFY_TOKEN_MAX          512u
#define NOTIFY_DELIVERY_ID_MAX    64u
#define NOTIFY_BACKOFF_BASE_S     5u
#define NOTIFY_BACKOFF_CAP_S      3600u

struct notify_smtp_cfg {
	const char *url;      /* smtp://host[:port] or smtps://host[:port] */
	const char *username; /* NULL = no SMTP AUTH */
	const char *password;
	int require_starttls;    /* smtp:// only: refuse to send unless STARTTLS succeeds */
	const char *ca_file;     /* PEM anchors for the relay's certificate; NULL = system store */
	long connect_timeout_ms; /* 0 = NOTIFY_CONNECT_DEFAULT_MS */
	long timeout_ms;         /* whole attempt; 0 = NOTIFY_TIMEOUT_DEFAULT_MS */
};

struct notify_http_cfg {
	const char *url;    /* http:// or https:// */
	const char *bearer; /* NULL = no Authorization header; visible ASCII only */
	const char *ca_file;
	long connect_timeout_ms;
	long timeout_ms;
};

/* Send `msg` (a whole RFC 5322 message, see mime.h) from `from` to every recipient; all
 * recipients are accepted or the message is not sent. TLS is verified for smtps:// and
 * STARTTLS. */
C2S_MUST_CHECK c2s_err notify_smtp_send(const struct notify_smtp_cfg *c, const char *from,
                                        const char *const *rcpt, size_t nrcpt,
                                        const struct buf *msg, int *retry, char *why,
                                        size_t why_cap);

/* POST {"to": to, "text": text} as JSON. `to` is E.164 ("+" and 8 to 15 digits); `text` is
 * UTF-8 without NUL, at most NOTIFY_SMS_TEXT_MAX bytes. Any 2xx = delivered. */
C2S_MUST_CHECK c2s_err notify_sms_send(const struct notify_http_cfg *c, const char *to,
                                       const char *text, int *retry, char *why, size_t why_cap);

/* POST `body` (a JSON document, at most NOTIFY_WEBHOOK_MAX bytes) with Content-Type
 * application/json, X-Click2Sign-Delivery: <delivery_id> ([A-Za-z0-9._-], the same on every
 * retry) and X-Click2Sign-Signature: sha256=<lower-case hex HMAC-SHA256(key, body)>. */
C2S_MUST_CHECK c2s_err notify_webhook_send(const struct notify_http_cfg *c, const char *delivery_id,
                                           const char *body, size_t len, const uint8_t *hmac_key,
                                           size_t key_len, int *retry, char *why, size_t why_cap);

/* Seconds to wait before retry number `attempt` (0 = the first retry): uniform in
 * [1, min(CAP, BASE * 2^attempt)] ("full jitter"), chosen by `random` (any 32-bit value, e.g.
 * from getrandom), so equal inputs give equal outputs. */
uint32_t notify_backoff(unsigned attempt, uint32_t random);

#endif
