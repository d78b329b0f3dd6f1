/* RFC 3161 time-stamp client: request, HTTP POST over libcurl, and a strict check of the
 * reply (status, token structure, TSTInfo imprint and nonce, the token's own signature). */
#include "tsa.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>

#include "cms_oid_int.h"
#include "firmware/base/log.h"

#define NEXT(tag, v) (cms_der_get(&p, end, (tag), &(v).p, &(v).n) == C2S_OK)
#define W(x)                                                                                       \
	do {                                                                                       \
		int r_ = (x);                                                                      \
		if (r_ < 0) {                                                                      \
			ret = C2S_ERR_INTERNAL;                                                    \
			goto out;                                                                  \
		}                                                                                  \
		n += (size_t)r_;                                                                   \
	} while (0)

c2s_err tsa_build_request(enum cms_hash h, const uint8_t *imprint, size_t len, uint64_t nonce,
                          struct buf *req)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	unsigned char tmp[256], *p = tmp + sizeof(tmp);
	uint8_t nb[9] = {0};
	size_t n = 0, m = 0, off = 0, oid_len = 0;
	const uint8_t *oid = cms_hash_oid(h, &oid_len);

	ENSURE(oid != NULL && imprint != NULL && len == cms_hash_len(h) && req != NULL,
	       C2S_ERR_ARG);
	W(mbedtls_asn1_write_bool(&p, tmp, 1)); /* certReq TRUE */
	for (int i = 0; i < 8; i++)
		nb[1 + i] = (uint8_t)(nonce >> (56 - 8 * i));
	while (off < 8 && nb[off] == 0 && !(nb[off + 1] & 0x80))
		off++; /* minimal positive INTEGER */
	W(mbedtls_asn1_write_raw_buffer(&p, tmp, nb + off, 9 - off));
	W(mbedtls_asn1_write_len(&p, tmp, 9 - off));
	W(mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_INTEGER));
	m = n;
	W(mbedtls_asn1_write_octet_string(&p, tmp, imprint, len));
	W(mbedtls_asn1_write_algorithm_identifier(&p, tmp, (const char *)oid, oid_len, 0));
	W(mbedtls_asn1_write_len(&p, tmp, n - m));
	W(mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	W(mbedtls_asn1_write_int(&p, tmp, 1)); /* version v1 */
	W(mbedtls_asn1_write_len(&p, tmp, n));
	W(mbedtls_asn1_write_tag(&p, tmp, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	buf_reset(req);
	GUARD(buf_put(req, p, n));
	ret = C2S_OK;
out:
	return ret;
}

/* PKIStatusInfo: status, optional statusString (first text kept for `why`), failInfo. */
static c2s_err check_status(struct cms_blob si, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = si.p, *end = si.p + si.n;
	struct cms_blob st = {0}, txt = {0}, fi = {0};
	char text[128] = "";

	if (!NEXT(0x02, st) || st.n != 1)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply: malformed PKIStatus");
	if (p < end && *p == 0x30 && NEXT(0x30, txt)) {
		const uint8_t *q = txt.p;
		struct cms_blob s = {0};
		if (cms_der_get(&q, txt.p + txt.n, 0x0c, &s.p, &s.n) == C2S_OK) {
			size_t k = s.n < sizeof(text) - 1 ? s.n : sizeof(text) - 1;
			for (size_t i = 0; i < k; i++) /* printable ASCII only into logs */
				text[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
			text[k] = 0;
		}
	}
	if (p < end && *p == 0x03 && !NEXT(0x03, fi))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply: malformed failInfo");
	if (p != end)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply: malformed PKIStatusInfo");
	if (st.p[0] != 0 && st.p[0] != 1) {
		unsigned bits = 0;
		for (size_t i = 1; i < fi.n && i < 5; i++)
			bits = (bits << 8) | fi.p[i];
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA refused the request: status %u%s%s%s failInfo 0x%x",
		    st.p[0], text[0] ? " \"" : "", text, text[0] ? "\"" : "", bits);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* INTEGER contents as a non-negative value of at most 64 bits. */
static int int_u64(struct cms_blob v, uint64_t *out)
{
	const uint8_t *q = v.p;
	size_t n = v.n;
	if (n == 0 || (q[0] & 0x80))
		return -1;
	if (n > 1 && q[0] == 0)
		q++, n--;
	if (n > 8)
		return -1;
	*out = 0;
	for (size_t i = 0; i < n; i++)
		*out = (*out << 8) | q[i];
	return 0;
}

/* TSTInfo: version 1, policy, messageImprint == ours, serial, genTime, ..., nonce == ours. */
static c2s_err check_tstinfo(struct cms_blob tst, enum cms_hash h, const uint8_t *imprint,
                             size_t len, uint64_t nonce, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = tst.p, *end = tst.p + tst.n;
	struct cms_blob v = {0}, x = {0}, mi = {0}, alg = {0}, oid = {0}, hm = {0};
	size_t oid_len = 0;
	const uint8_t *want = cms_hash_oid(h, &oid_len);
	uint64_t got = 0;

	if (!NEXT(0x30, v) || p != end)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo is not one DER SEQUENCE");
	p = v.p, end = v.p + v.n;
	if (!NEXT(0x02, x) || x.n != 1 || x.p[0] != 1 || !NEXT(0x06, x) || !NEXT(0x30, mi))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: bad version, policy or messageImprint");
	{
		const uint8_t *q = mi.p, *qend = mi.p + mi.n;
		if (cms_der_get(&q, qend, 0x30, &alg.p, &alg.n) != C2S_OK ||
		    cms_der_get(&q, qend, 0x04, &hm.p, &hm.n) != C2S_OK || q != qend)
			WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: malformed messageImprint");
		q = alg.p, qend = alg.p + alg.n;
		if (cms_der_get(&q, qend, 0x06, &oid.p, &oid.n) != C2S_OK ||
		    !(q == qend || (qend - q == 2 && q[0] == 0x05 && q[1] == 0)))
			WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: malformed imprint algorithm");
	}
	if (want == NULL || oid.n != oid_len || memcmp(oid.p, want, oid_len) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo imprint algorithm differs from the request");
	if (hm.n != len || memcmp(hm.p, imprint, len) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo imprint differs from the request's hash");
	if (!NEXT(0x02, x) || !NEXT(0x18, x))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: bad serialNumber or genTime");
	if (p < end && *p == 0x30 && !NEXT(0x30, x))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: bad accuracy");
	if (p < end && *p == 0x01 && !NEXT(0x01, x))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo: bad ordering");
	if (p >= end || *p != 0x02)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo has no nonce (replay protection missing)");
	if (!NEXT(0x02, x) || int_u64(x, &got) != 0 || got != nonce)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSTInfo nonce differs from the request's");
	ret = C2S_OK;
out:
	return ret;
}

c2s_err tsa_check_response(const uint8_t *resp, size_t resp_len, enum cms_hash h,
                           const uint8_t *imprint, size_t len, uint64_t nonce,
                           const uint8_t **token, size_t *token_len, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	const uint8_t *p = resp, *end = resp + resp_len, *tok = NULL;
	struct cms_blob v = {0}, si = {0}, t = {0};
	struct cms_sd sd;

	if (why != NULL && why_cap > 0)
		why[0] = 0;
	ENSURE(resp != NULL && imprint != NULL && token != NULL && token_len != NULL, C2S_ERR_ARG);
	if (!NEXT(0x30, v) || p != end)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply is not one DER TimeStampResp");
	p = v.p, end = v.p + v.n;
	if (!NEXT(0x30, si))
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply has no PKIStatusInfo");
	GUARD(check_status(si, why, why_cap));
	tok = p;
	if (!NEXT(0x30, t) || p != end)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply: status granted but no single token");
	if (cms_sd_parse(tok, (size_t)(p - tok), &sd) != C2S_OK)
		WHY(C2S_ERR_TSA_BAD_REPLY, "time-stamp token is not a CMS SignedData");
	if (!CMS_OID_EQ(sd.econtent_type.p, sd.econtent_type.n, cms_oid_tst_info) ||
	    sd.econtent.p == NULL)
		WHY(C2S_ERR_TSA_BAD_REPLY, "time-stamp token does not hold a TSTInfo");
	GUARD(check_tstinfo(sd.econtent, h, imprint, len, nonce, why, why_cap));
	*token = tok;
	*token_len = (size_t)(p - tok);
	ret = C2S_OK;
out:
	return ret;
}

c2s_err tsa_token_verify(const uint8_t *token, size_t token_len, const char *trust_file, char *why,
                         size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	struct cms_sd sd;

	if (cms_sd_parse(token, token_len, &sd) != C2S_OK || sd.econtent.p == NULL)
		WHY(C2S_ERR_TSA_BAD_REPLY, "time-stamp token is not a CMS SignedData");
	GUARD(cms_sd_verify(&sd, (const uint8_t *)MBEDTLS_OID_TIME_STAMPING,
	                    MBEDTLS_OID_SIZE(MBEDTLS_OID_TIME_STAMPING), trust_file, why, why_cap));
	ret = C2S_OK;
out:
	return ret;
}

c2s_err tsa_token_certs(const uint8_t *token, size_t token_len, const uint8_t **certs, size_t *lens,
                        size_t max, size_t *n)
{
	c2s_err ret = C2S_ERR_TSA_BAD_REPLY;
	struct cms_sd sd;

	ENSURE(certs != NULL && lens != NULL && n != NULL, C2S_ERR_ARG);
	*n = 0;
	GUARD(cms_sd_parse(token, token_len, &sd) == C2S_OK ? C2S_OK : C2S_ERR_TSA_BAD_REPLY);
	const uint8_t *p = sd.certs.p, *end = p ? p + sd.certs.n : NULL;
	while (p != NULL && p < end) {
		const uint8_t *c = p;
		struct cms_blob v = {0};
		ENSURE(NEXT(0x30, v), C2S_ERR_TSA_BAD_REPLY);
		ENSURE(*n < max, C2S_ERR_TOO_BIG);
		certs[*n] = c;
		lens[(*n)++] = (size_t)(p - c);
	}
	ret = C2S_OK;
out:
	return ret;
}

struct sink {
	struct buf *b;
	int too_big;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *ud)
{
	struct sink *s = ud;
	if (buf_put(s->b, d, sz * nm) != C2S_OK) {
		s->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return sz * nm;
}

/* POST the request; `resp` gets the body (at most TSA_REPLY_MAX bytes). */
static c2s_err http_post(const struct tsa_config *c, const struct buf *req, struct buf *resp,
                         char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_TSA;
	CURL *k = curl_easy_init();
	struct curl_slist *hdr = NULL, *h2 = NULL;
	struct sink s = {resp, 0};
	long code = 0, tmo = c->timeout_ms > 0 ? c->timeout_ms : TSA_TIMEOUT_DEFAULT_MS;
	char *ctype = NULL;

	if (k == NULL)
		WHY(C2S_ERR_NOMEM, "curl_easy_init failed");
	hdr = curl_slist_append(NULL, "Content-Type: application/timestamp-query");
	h2 = hdr ? curl_slist_append(hdr, "Accept: application/timestamp-reply") : NULL;
	if (h2 == NULL)
		WHY(C2S_ERR_NOMEM, "out of memory");
	hdr = h2;
	if (curl_easy_setopt(k, CURLOPT_URL, c->url) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_POSTFIELDS, req->data) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)req->len) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, tmo) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_MAXFILESIZE, (long)TSA_REPLY_MAX) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(k, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
	    (c->ca_file && curl_easy_setopt(k, CURLOPT_CAINFO, c->ca_file) != CURLE_OK))
		WHY(C2S_ERR_INTERNAL, "libcurl refused an option");
	CURLcode rc = curl_easy_perform(k);
	if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply larger than %u bytes", TSA_REPLY_MAX);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		WHY(C2S_ERR_TSA, "TSA %s timed out after %ld ms", c->url, tmo);
	if (rc != CURLE_OK)
		WHY(C2S_ERR_TSA, "TSA %s: %s", c->url, curl_easy_strerror(rc));
	(void)curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		WHY(C2S_ERR_TSA, "TSA %s answered HTTP %ld", c->url, code);
	(void)curl_easy_getinfo(k, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype == NULL || strncasecmp(ctype, "application/timestamp-reply", 27) != 0)
		WHY(C2S_ERR_TSA_BAD_REPLY, "TSA reply has content type %.64s",
		    ctype ? ctype : "(none)");
	ret = C2S_OK;
out:
	curl_slist_free_all(hdr);
	if (k != NULL)
		curl_easy_cleanup(k);
	return ret;
}

static struct {
	pthread_mutex_t mu;
	struct {
		char url[512];
		struct tsa_seen s;
	} e[TSA_SEEN_URLS];
	unsigned next;
} tsa_seen_tab = {.mu = PTHREAD_MUTEX_INITIALIZER};

void tsa_seen_free(struct tsa_seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->cert[i]);
	memset(s, 0, sizeof(*s));
}

void tsa_seen_clear(void)
{
	pthread_mutex_lock(&tsa_seen_tab.mu);
	for (int i = 0; i < TSA_SEEN_URLS; i++) {
		tsa_seen_free(&tsa_seen_tab.e[i].s);
		tsa_seen_tab.e[i].url[0] = 0;
	}
	pthread_mutex_unlock(&tsa_seen_tab.mu);
}

static c2s_err seen_copy(const struct tsa_seen *in, struct tsa_seen *out)
{
	memset(out, 0, sizeof(*out));
	out->token_len = in->token_len;
	out->too_many = in->too_many;
	for (size_t i = 0; i < in->n; i++, out->n++) {
		out->cert[i] = malloc(in->len[i]);
		if (out->cert[i] == NULL) {
			tsa_seen_free(out);
			return C2S_ERR_NOMEM;
		}
		memcpy(out->cert[i], in->cert[i], in->len[i]);
		out->len[i] = in->len[i];
	}
	return C2S_OK;
}

/* Remember a good token's size and certificates for `url`. */
static void seen_record(const char *url, const uint8_t *tok, size_t tok_len)
{
	const uint8_t *certs[TSA_SEEN_CERTS];
	size_t lens[TSA_SEEN_CERTS], n = 0;
	struct tsa_seen s = {0};
	if (strlen(url) >= sizeof(tsa_seen_tab.e[0].url))
		return;
	c2s_err e = tsa_token_certs(tok, tok_len, certs, lens, TSA_SEEN_CERTS, &n);
	if (e != C2S_OK && e != C2S_ERR_TOO_BIG)
		return;
	struct tsa_seen view = {.token_len = tok_len, .too_many = e == C2S_ERR_TOO_BIG};
	view.n = view.too_many ? 0 : n;
	for (size_t i = 0; i < n; i++)
		view.cert[i] = (uint8_t *)certs[i], view.len[i] = lens[i];
	if (seen_copy(&view, &s) != C2S_OK)
		return;
	pthread_mutex_lock(&tsa_seen_tab.mu);
	int slot = -1;
	for (int i = 0; i < TSA_SEEN_URLS && slot < 0; i++)
		if (strcmp(tsa_seen_tab.e[i].url, url) == 0)
			slot = i;
	if (slot < 0) {
		slot = (int)(tsa_seen_tab.next++ % TSA_SEEN_URLS);
		tsa_seen_tab.e[slot].s.token_len = 0;
	}
	if (s.token_len < tsa_seen_tab.e[slot].s.token_len)
		s.token_len = tsa_seen_tab.e[slot].s.token_len;
	tsa_seen_free(&tsa_seen_tab.e[slot].s);
	snprintf(tsa_seen_tab.e[slot].url, sizeof(tsa_seen_tab.e[slot].url), "%s", url);
	tsa_seen_tab.e[slot].s = s;
	pthread_mutex_unlock(&tsa_seen_tab.mu);
}

static c2s_err seen_get(const char *url, struct tsa_seen *out)
{
	c2s_err ret = C2S_ERR_NOT_FOUND;
	pthread_mutex_lock(&tsa_seen_tab.mu);
	for (int i = 0; i < TSA_SEEN_URLS && ret == C2S_ERR_NOT_FOUND; i++)
		if (tsa_seen_tab.e[i].url[0] && strcmp(tsa_seen_tab.e[i].url, url) == 0)
			ret = seen_copy(&tsa_seen_tab.e[i].s, out);
	pthread_mutex_unlock(&tsa_seen_tab.mu);
	return ret;
}

c2s_err tsa_seen(const struct tsa_config *c, struct tsa_seen *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	uint8_t imprint[32];
	struct buf tok;
	buf_init(&tok, TSA_REPLY_MAX);
	memset(out, 0, sizeof(*out));
	ENSURE(c != NULL && c->url != NULL, C2S_ERR_ARG);
	ret = seen_get(c->url, out);
	if (ret != C2S_ERR_NOT_FOUND)
		goto out;
	if (getrandom(imprint, sizeof(imprint), 0) != (ssize_t)sizeof(imprint))
		WHY(C2S_ERR_INTERNAL, "getrandom failed");
	log_info("time-stamp: first request to %s, to learn its token size and certificates",
	         c->url);
	GUARD(tsa_timestamp(c, CMS_SHA256, imprint, sizeof(imprint), &tok, why, why_cap));
	ret = seen_get(c->url, out);
	if (ret == C2S_ERR_NOT_FOUND)
		WHY(C2S_ERR_TSA_BAD_REPLY, "the TSA's token could not be read back");
out:
	buf_free(&tok);
	return ret;
}

c2s_err tsa_timestamp(const struct tsa_config *c, enum cms_hash h, const uint8_t *imprint,
                      size_t len, struct buf *token, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf req, resp;
	uint64_t nonce = 0;
	const uint8_t *tok = NULL;
	size_t tok_len = 0;

	buf_init(&req, 1024);
	buf_init(&resp, TSA_REPLY_MAX);
	if (why != NULL && why_cap > 0)
		why[0] = 0;
	ENSURE(c != NULL && c->url != NULL && token != NULL, C2S_ERR_ARG);
	if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		WHY(C2S_ERR_INTERNAL, "getrandom failed");
	GUARD(tsa_build_request(h, imprint, len, nonce, &req));
	GUARD(http_post(c, &req, &resp, why, why_cap));
	GUARD(tsa_check_response(resp.data, resp.len, h, imprint, len, nonce, &tok, &tok_len, why,
	                         why_cap));
	GUARD(tsa_token_verify(tok, tok_len, c->trust_file, why, why_cap));
	buf_reset(token);
	GUARD(buf_put(token, tok, tok_len));
	seen_record(c->url, tok, tok_len);
	ret = C2S_OK;
out:
	if (ret != C2S_OK)
		log_warn("time-stamp refused: %s (%s)", c2s_err_name(ret), why ? why : "");
	buf_free(&req);
	buf_free(&resp);
	return ret;
}
