/* One delivery attempt per call over libcurl, and the classification of its outcome into
 * "delivered", "retry later" or "give up". Logs nothing: the caller logs the outbox id, the
 * channel and the outcome; `why` never holds a body, a recipient or a credential. */
#include "deliver.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <mbedtls/md.h>

#include "mime.h"
#include "firmware/base/json.h"

#define USER_AGENT "click2sign/" C2S_VERSION

/* scheme://host:port of a URL, for `why` (never the path, query or user info). */
static void url_where(const char *url, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;

	snprintf(out, cap, "(unparsable URL)");
	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
		snprintf(out, cap, "%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* Curl results that no later attempt can change: the configuration must be fixed first. */
static int curl_permanent(CURLcode rc)
{
	return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
	       rc == CURLE_NOT_BUILT_IN || rc == CURLE_BAD_FUNCTION_ARGUMENT ||
	       rc == CURLE_SSL_ENGINE_NOTFOUND || rc == CURLE_SSL_CERTPROBLEM ||
	       rc == CURLE_SSL_CACERT_BADFILE;
}

/* The outcome of a finished curl_easy_perform. `smtp` selects reply-code rules. */
static c2s_err outcome(CURL *k, CURLcode rc, int smtp, const char *what, const char *url, long tmo,
                       int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_IO;
	long code = 0;
	char at[300];

	url_where(url, at, sizeof(at));
	(void)curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &code);
	*retry = 1;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		WHY(C2S_ERR_TIMEOUT, "%s %s: no complete answer within %ld ms", what, at, tmo);
	if (smtp && code >= 400) {
		*retry = code < 500;
		WHY(C2S_ERR_IO, "%s %s refused the message: SMTP %ld (%s)", what, at, code,
		    *retry ? "temporary, will retry" : "permanent");
	}
	if (curl_permanent(rc)) {
		*retry = 0;
		WHY(C2S_ERR_ARG, "%s %s: %s; fix the configuration", what, at,
		    curl_easy_strerror(rc));
	}
	if (rc != CURLE_OK)
		WHY(C2S_ERR_IO, "%s %s: %s", what, at, curl_easy_strerror(rc));
	if (!smtp && (code < 200 || code > 299)) {
		*retry = code == 408 || code == 429 || code >= 500;
		WHY(C2S_ERR_IO, "%s %s answered HTTP %ld (%s)", what, at, code,
		    *retry ? "will retry" : "permanent");
	}
	*retry = 0;
	ret = C2S_OK;
out:
	return ret;
}

/* Options every attempt shares: protocols, no signals, no redirects, timeouts, TLS anchors. */
static CURLcode common_opts(CURL *k, const char *url, const char *protocols, const char *ca_file,
                            long connect_ms, long tmo)
{
	CURLcode r = curl_easy_setopt(k, CURLOPT_URL, url);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, protocols);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_FOLLOWLOCATION, 0L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS,
		                     connect_ms > 0 ? connect_ms : NOTIFY_CONNECT_DEFAULT_MS);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, tmo);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 1L);
	if (r == CURLE_OK)
		r = curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 2L);
	if (r == CURLE_OK && ca_file != NULL)
		r = curl_easy_setopt(k, CURLOPT_CAINFO, ca_file);
	return r;
}

/* Header lines may carry a bearer token: wipe curl's copies before freeing them. */
static void headers_free(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static int add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);
	if (n == NULL)
		return -1;
	*h = n;
	return 0;
}

/* ---- SMTP ---- */

struct src {
	const uint8_t *p;
	size_t left;
};

static size_t on_read(char *d, size_t sz, size_t nm, void *ud)
{
	struct src *s = ud;
	size_t n = sz * nm < s->left ? sz * nm : s->left;
	memcpy(d, s->p, n);
	s->p += n, s->left -= n;
	return n;
}

/* After a failed SMTP attempt libcurl 7.88 may keep the connection and, in
 * curl_easy_cleanup, say QUIT and wait for the answer outside CURLOPT_TIMEOUT_MS (up to the
 * server-response timeout). A connection in an unknown state gets no QUIT: shut it down so
 * the attempt ends within its timeout. */
static void drop_connection(CURL *k)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	if (curl_easy_getinfo(k, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD)
		(void)shutdown(fd, SHUT_RDWR);
}

static c2s_err smtp_check(const struct notify_smtp_cfg *c, const char *from,
                          const char *const *rcpt, size_t nrcpt, const struct buf *msg, char *why,
                          size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	int tls = c != NULL && c->url != NULL && strncmp(c->url, "smtps://", 8) == 0;

	if (c == NULL || c->url == NULL || msg == NULL || msg->len == 0)
		WHY(C2S_ERR_ARG, "SMTP: no relay URL or no message");
	if (!mime_addr_valid(from))
		WHY(C2S_ERR_ARG, "SMTP: sender address refused");
	if (rcpt == NULL || nrcpt == 0 || nrcpt > MIME_RCPT_MAX)
		WHY(C2S_ERR_ARG, "SMTP: between 1 and %u recipients", MIME_RCPT_MAX);
	for (size_t i = 0; i < nrcpt; i++)
		if (!mime_addr_valid(rcpt[i]))
			WHY(C2S_ERR_ARG, "SMTP: recipient %zu refused", i + 1);
	if ((c->username != NULL) != (c->password != NULL))
		WHY(C2S_ERR_ARG, "SMTP: username and password go together");
	if (c->username != NULL && !tls && !c->require_starttls)
		WHY(C2S_ERR_ARG, "SMTP: refusing to send the password in clear; use smtps:// or "
		                 "require STARTTLS");
	ret = C2S_OK;
out:
	return ret;
}

c2s_err notify_smtp_send(const struct notify_smtp_cfg *c, const char *from, const char *const *rcpt,
                         size_t nrcpt, const struct buf *msg, int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	CURL *k = NULL;
	struct curl_slist *to = NULL;
	struct src s = {msg ? msg->data : NULL, msg ? msg->len : 0};
	char path[MIME_ADDR_MAX + 3];
	int dummy = 0;
	long tmo = c && c->timeout_ms > 0 ? c->timeout_ms : NOTIFY_TIMEOUT_DEFAULT_MS;

	retry = retry ? retry : &dummy;
	*retry = 0;
	if (why != NULL && why_cap > 0)
		why[0] = 0;
	GUARD(smtp_check(c, from, rcpt, nrcpt, msg, why, why_cap));
	*retry = 1; /* from here on, failures are local resources */
	if ((k = curl_easy_init()) == NULL)
		WHY(C2S_ERR_NOMEM, "SMTP: curl_easy_init failed");
	for (size_t i = 0; i < nrcpt; i++) {
		snprintf(path, sizeof(path), "<%s>", rcpt[i]);
		if (add_header(&to, path) != 0)
			WHY(C2S_ERR_NOMEM, "SMTP: out of memory");
	}
	snprintf(path, sizeof(path), "<%s>", from);
	if (common_opts(k, c->url, "smtp,smtps", c->ca_file, c->connect_timeout_ms, tmo) ||
	    curl_easy_setopt(k, CURLOPT_MAIL_FROM, path) ||
	    curl_easy_setopt(k, CURLOPT_MAIL_RCPT, to) || curl_easy_setopt(k, CURLOPT_UPLOAD, 1L) ||
	    curl_easy_setopt(k, CURLOPT_READFUNCTION, on_read) ||
	    curl_easy_setopt(k, CURLOPT_READDATA, &s) ||
	    curl_easy_setopt(k, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len) ||
	    curl_easy_setopt(k, CURLOPT_SERVER_RESPONSE_TIMEOUT, (tmo + 999) / 1000) ||
	    curl_easy_setopt(k, CURLOPT_USE_SSL,
	                     c->require_starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE) ||
	    (c->username && curl_easy_setopt(k, CURLOPT_USERNAME, c->username)) ||
	    (c->password && curl_easy_setopt(k, CURLOPT_PASSWORD, c->password))) {
		*retry = 0;
		WHY(C2S_ERR_ARG, "SMTP: libcurl refused an option");
	}
	GUARD(outcome(k, curl_easy_perform(k), 1, "SMTP relay", c->url, tmo, retry, why, why_cap));
	ret = C2S_OK;
out:
	if (ret != C2S_OK && k != NULL)
		drop_connection(k);
	curl_slist_free_all(to);
	if (k != NULL)
		curl_easy_cleanup(k);
	return ret;
}

/* ---- HTTP (SMS gateway, webhooks) ---- */

static size_t on_discard(char *d, size_t sz, size_t nm, void *ud)
{
	(void)d, (void)ud;
	return sz * nm; /* answers are not read: only the status counts */
}

/* POST body with the given headers (plus Authorization when configured). */
static c2s_err http_post(const struct notify_http_cfg *c, struct curl_slist *hdr, const void *body,
                         size_t len, const char *what, int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_NOMEM;
	CURL *k = curl_easy_init();
	long tmo = c->timeout_ms > 0 ? c->timeout_ms : NOTIFY_TIMEOUT_DEFAULT_MS;
	char auth[NOTIFY_TOKEN_MAX + 32];

	*retry = 1;
	if (k == NULL || add_header(&hdr, "Expect:") != 0)
		WHY(C2S_ERR_NOMEM, "%s: out of memory", what);
	if (c->bearer != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->bearer);
		int bad = add_header(&hdr, auth);
		explicit_bzero(auth, sizeof(auth));
		if (bad)
			WHY(C2S_ERR_NOMEM, "%s: out of memory", what);
	}
	if (common_opts(k, c->url, "http,https", c->ca_file, c->connect_timeout_ms, tmo) ||
	    curl_easy_setopt(k, CURLOPT_USERAGENT, USER_AGENT) ||
	    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdr) ||
	    curl_easy_setopt(k, CURLOPT_POSTFIELDS, body) ||
	    curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) ||
	    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_discard)) {
		*retry = 0;
		WHY(C2S_ERR_ARG, "%s: libcurl refused an option", what);
	}
	GUARD(outcome(k, curl_easy_perform(k), 0, what, c->url, tmo, retry, why, why_cap));
	ret = C2S_OK;
out:
	headers_free(hdr);
	if (k != NULL)
		curl_easy_cleanup(k);
	return ret;
}

/* Visible ASCII only: a CR or LF here would add header lines of the caller's choosing. */
static int token_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n == 0 || n > NOTIFY_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return 0;
	return 1;
}

static int e164_ok(const char *to)
{
	size_t n = to ? strlen(to) : 0;
	if (n < 9 || n > 16 || to[0] != '+' || to[1] == '0')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (to[i] < '0' || to[i] > '9')
			return 0;
	return 1;
}

static c2s_err http_cfg_check(const struct notify_http_cfg *c, const char *what, char *why,
                              size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	if (c == NULL || c->url == NULL)
		WHY(C2S_ERR_ARG, "%s: no URL configured", what);
	if (c->bearer != NULL && !token_ok(c->bearer))
		WHY(C2S_ERR_ARG, "%s: bearer token refused (visible ASCII, at most %u bytes)", what,
		    NOTIFY_TOKEN_MAX);
	ret = C2S_OK;
out:
	return ret;
}

static int dump_to_buf(const char *p, size_t n, void *ud)
{
	return buf_put(ud, p, n) == C2S_OK ? 0 : -1;
}

c2s_err notify_sms_send(const struct notify_http_cfg *c, const char *to, const char *text,
                        int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	json_t *j = NULL;
	struct curl_slist *hdr = NULL;
	struct buf body;
	int dummy = 0;

	buf_init(&body, 2 * 6 * NOTIFY_SMS_TEXT_MAX + 64); /* worst case: every byte \uXXXX */
	retry = retry ? retry : &dummy;
	*retry = 0;
	if (why != NULL && why_cap > 0)
		why[0] = 0;
	GUARD(http_cfg_check(c, "SMS gateway", why, why_cap));
	if (!e164_ok(to))
		WHY(C2S_ERR_ARG, "SMS: number refused (E.164: '+' and 8 to 15 digits)");
	if (text == NULL || text[0] == 0 || strlen(text) > NOTIFY_SMS_TEXT_MAX)
		WHY(C2S_ERR_ARG, "SMS: text empty or over %u bytes", NOTIFY_SMS_TEXT_MAX);
	c2s_json_watch();
	if ((j = json_pack("{s:s, s:s}", "to", to, "text", text)) == NULL && c2s_json_oom()) {
		*retry = 1;
		WHY(C2S_ERR_NOMEM, "SMS: out of memory");
	}
	if (j == NULL)
		WHY(C2S_ERR_ARG, "SMS: text is not valid UTF-8");
	if (c2s_json_dump_callback(j, dump_to_buf, &body, JSON_COMPACT) != 0) {
		*retry = 1;
		WHY(C2S_ERR_NOMEM, "SMS: out of memory");
	}
	if (add_header(&hdr, "Content-Type: application/json") != 0) {
		*retry = 1;
		WHY(C2S_ERR_NOMEM, "SMS: out of memory");
	}
	ret = http_post(c, hdr, body.data, body.len, "SMS gateway", retry, why, why_cap);
	hdr = NULL; /* http_post freed it */
out:
	headers_free(hdr);
	json_decref(j);
	buf_free_secret(&body); /* the text may hold a one-time code */
	return ret;
}

static c2s_err webhook_check(const struct notify_http_cfg *c, const char *id, const char *body,
                             size_t len, const uint8_t *key, size_t key_len, char *why,
                             size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	size_t n = id ? strlen(id) : 0;
	json_t *j = NULL;

	GUARD(http_cfg_check(c, "webhook", why, why_cap));
	if (n == 0 || n > NOTIFY_DELIVERY_ID_MAX ||
	    strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
	               "klmnopqrstuvwxyz0123456789._-") != n)
		WHY(C2S_ERR_ARG, "webhook: delivery id refused ([A-Za-z0-9._-], 1 to %u)",
		    NOTIFY_DELIVERY_ID_MAX);
	if (key == NULL || key_len < 16)
		WHY(C2S_ERR_ARG, "webhook: HMAC key shorter than 16 bytes");
	if (body == NULL || len == 0 || len > NOTIFY_WEBHOOK_MAX)
		WHY(C2S_ERR_ARG, "webhook: body empty or over %u bytes", NOTIFY_WEBHOOK_MAX);
	ret = c2s_json_parse(body, len, 0, &j, NULL);
	if (ret == C2S_ERR_NOMEM)
		WHY(C2S_ERR_NOMEM, "webhook: out of memory while checking the body");
	if (ret != C2S_OK)
		WHY(C2S_ERR_ARG, "webhook: body is not one JSON document");
	ret = C2S_OK;
out:
	json_decref(j);
	return ret;
}

c2s_err notify_webhook_send(const struct notify_http_cfg *c, const char *delivery_id,
                            const char *body, size_t len, const uint8_t *hmac_key, size_t key_len,
                            int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	struct curl_slist *hdr = NULL;
	uint8_t mac[32];
	char line[NOTIFY_DELIVERY_ID_MAX + 80];
	int dummy = 0, n = 0;

	retry = retry ? retry : &dummy;
	*retry = 0;
	if (why != NULL && why_cap > 0)
		why[0] = 0;
	ret = webhook_check(c, delivery_id, body, len, hmac_key, key_len, why, why_cap);
	*retry = ret == C2S_ERR_NOMEM; /* only a refused body or set-up is for good */
	if (ret != C2S_OK)
		goto out;
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), hmac_key, key_len,
	                    (const unsigned char *)body, len, mac) != 0)
		WHY(C2S_ERR_INTERNAL, "webhook: HMAC-SHA256 failed");
	n = snprintf(line, sizeof(line), "X-Click2Sign-Signature: sha256=");
	for (size_t i = 0; i < sizeof(mac); i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", mac[i]);
	*retry = 1;
	if (add_header(&hdr, "Content-Type: application/json") != 0 || add_header(&hdr, line) != 0)
		WHY(C2S_ERR_NOMEM, "webhook: out of memory");
	snprintf(line, sizeof(line), "X-Click2Sign-Delivery: %s", delivery_id);
	if (add_header(&hdr, line) != 0)
		WHY(C2S_ERR_NOMEM, "webhook: out of memory");
	ret = http_post(c, hdr, body, len, "webhook", retry, why, why_cap);
	hdr = NULL; /* http_post freed it */
out:
	headers_free(hdr);
	explicit_bzero(mac, sizeof(mac));
	return ret;
}

uint32_t notify_backoff(unsigned attempt, uint32_t random)
{
	uint64_t ceiling = NOTIFY_BACKOFF_CAP_S;

	if (attempt < 32 && ((uint64_t)NOTIFY_BACKOFF_BASE_S << attempt) < ceiling)
		ceiling = (uint64_t)NOTIFY_BACKOFF_BASE_S << attempt;
	return (uint32_t)(1 + ((ceiling * random) >> 32)); /* uniform in [1, ceiling] */
}
