#include "revocation.h"

#include <curl/curl.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cms.h"
#include "firmware/base/buf.h"
#include "firmware/base/log.h"

#define REV_CACHE     16
#define REV_MAX_AGE_S 300

struct rev_entry {
	char url[512];
	uint8_t *der;
	size_t len;
	time_t fetched, expires;
};

#define REV_FAIL_S 30 /* a failed fetch is not tried again for this long */

static struct {
	pthread_mutex_t mu;
	struct rev_entry e[REV_CACHE];
	struct {
		char url[512];
		char why[200];
		time_t until;
	} fail[REV_CACHE];
} rev_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

void rev_cache_drop(const char *url)
{
	pthread_mutex_lock(&rev_cache.mu);
	for (int i = 0; i < REV_CACHE; i++)
		if (rev_cache.e[i].der && strcmp(rev_cache.e[i].url, url) == 0) {
			free(rev_cache.e[i].der);
			memset(&rev_cache.e[i], 0, sizeof(rev_cache.e[i]));
		}
	pthread_mutex_unlock(&rev_cache.mu);
}

static const uint8_t rev_oid_cdp[] = {0x55, 0x1d, 0x1f}; /* 2.5.29.31 */

/* DistributionPoint{ distributionPoint [0] { fullName [0] GeneralNames } }: first [6] URI. */
static c2s_err rev_first_uri(const uint8_t *p, const uint8_t *end, char *url, size_t cap)
{
	const uint8_t *seq, *dp, *dpn, *names, *v;
	size_t n, l;
	uint8_t tag;
	if (cms_der_get(&p, end, 0x30, &seq, &n) != C2S_OK) /* CRLDistributionPoints */
		return C2S_ERR_X509;
	const uint8_t *se = seq + n;
	while (seq < se) {
		if (cms_der_get(&seq, se, 0x30, &dp, &n) != C2S_OK)
			return C2S_ERR_X509;
		const uint8_t *de = dp + n;
		if (cms_der_get(&dp, de, 0xa0, &dpn, &l) != C2S_OK)
			continue; /* no distributionPoint name */
		const uint8_t *ne = dpn + l;
		if (cms_der_get(&dpn, ne, 0xa0, &names, &l) != C2S_OK)
			continue; /* nameRelativeToCRLIssuer: not supported */
		const uint8_t *ge = names + l;
		while (names < ge && cms_der_any(&names, ge, &tag, &v, &l) == C2S_OK) {
			if (tag == 0x86 && l < cap &&
			    (l > 7 && (strncasecmp((const char *)v, "http://", 7) == 0 ||
			               strncasecmp((const char *)v, "https://", 8) == 0))) {
				memcpy(url, v, l);
				url[l] = 0;
				return C2S_OK;
			}
		}
	}
	return C2S_ERR_REVOCATION; /* distribution points, none of them http(s) */
}

c2s_err rev_cdp_url(const uint8_t *cert, size_t len, char *url, size_t cap)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	ENSURE(mbedtls_x509_crt_parse_der(&c, cert, len) == 0, C2S_ERR_X509);
	ret = C2S_ERR_NOT_FOUND;
	/* a certificate without extensions (v1, v2) has no v3_ext.p: no arithmetic on NULL */
	const uint8_t *p = c.v3_ext.p, *end = p ? p + c.v3_ext.len : NULL, *exts, *ext, *oid, *v;
	size_t n, l;
	uint8_t tag;
	if (!p || cms_der_get(&p, end, 0x30, &exts, &n) != C2S_OK)
		goto out;
	const uint8_t *xe = exts + n;
	while (exts < xe) {
		ENSURE(cms_der_get(&exts, xe, 0x30, &ext, &n) == C2S_OK, C2S_ERR_X509);
		const uint8_t *ee = ext + n;
		ENSURE(cms_der_get(&ext, ee, 0x06, &oid, &l) == C2S_OK, C2S_ERR_X509);
		if (l != sizeof(rev_oid_cdp) || memcmp(oid, rev_oid_cdp, l) != 0)
			continue;
		ENSURE(cms_der_any(&ext, ee, &tag, &v, &l) == C2S_OK, C2S_ERR_X509);
		if (tag == 0x01) /* critical */
			ENSURE(cms_der_any(&ext, ee, &tag, &v, &l) == C2S_OK, C2S_ERR_X509);
		ENSURE(tag == 0x04, C2S_ERR_X509);
		ret = rev_first_uri(v, v + l, url, cap);
		goto out;
	}
out:
	mbedtls_x509_crt_free(&c);
	return ret;
}

static size_t rev_write(char *p, size_t sz, size_t nm, void *ctx)
{
	struct buf *b = ctx;
	return buf_put(b, p, sz * nm) == C2S_OK ? sz * nm : 0;
}

static c2s_err rev_fetch(const char *url, long timeout_ms, struct buf *out, char *why, size_t cap)
{
	CURL *c = curl_easy_init();
	long code = 0;
	if (!c)
		return C2S_ERR_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)REV_CRL_MAX);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rev_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(why, cap, "CRL %s could not be fetched: %s", url, curl_easy_strerror(rc));
		return C2S_ERR_REVOCATION;
	}
	if (code != 200) {
		snprintf(why, cap, "CRL %s answered HTTP %ld", url, code);
		return C2S_ERR_REVOCATION;
	}
	return C2S_OK;
}

/* Parsed, from the certificate's issuer, and not past its nextUpdate. */
static c2s_err rev_check(const uint8_t *cert, size_t cert_len, const uint8_t *der, size_t len,
                         const char *url, time_t *next, char *why, size_t cap)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crl crl;
	c2s_err ret = C2S_ERR_REVOCATION;
	mbedtls_x509_crt_init(&c);
	mbedtls_x509_crl_init(&crl);
	if (mbedtls_x509_crt_parse_der(&c, cert, cert_len) != 0 ||
	    mbedtls_x509_crl_parse_der(&crl, der, len) != 0) {
		snprintf(why, cap, "CRL %s is not a DER CRL", url);
		goto out;
	}
	if (crl.issuer_raw.len != c.issuer_raw.len ||
	    memcmp(crl.issuer_raw.p, c.issuer_raw.p, crl.issuer_raw.len) != 0) {
		snprintf(why, cap, "CRL %s is not from the certificate's issuer", url);
		goto out;
	}
	if (mbedtls_x509_time_is_past(&crl.next_update)) {
		snprintf(why, cap, "CRL %s is out of date (past its nextUpdate)", url);
		goto out;
	}
	struct tm tm = {.tm_year = crl.next_update.year - 1900,
	                .tm_mon = crl.next_update.mon - 1,
	                .tm_mday = crl.next_update.day,
	                .tm_hour = crl.next_update.hour,
	                .tm_min = crl.next_update.min,
	                .tm_sec = crl.next_update.sec};
	*next = timegm(&tm);
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&c);
	mbedtls_x509_crl_free(&crl);
	return ret;
}

/* Some CAs (Halcom) serve their CRLs in PEM: keep DER, which the DSS and the checks want. */
static c2s_err rev_pem_to_der(struct buf *b, const char *url, char *why, size_t cap)
{
	static const char begin[] = "-----BEGIN X509 CRL-----";
	size_t off = 0, used = 0, dl = 0;
	while (off < b->len && off < 64 &&
	       (b->data[off] == ' ' || b->data[off] == '\r' || b->data[off] == '\n' ||
	        b->data[off] == '\t'))
		off++;
	if (b->len - off < sizeof(begin) - 1 ||
	    memcmp(b->data + off, begin, sizeof(begin) - 1) != 0)
		return C2S_OK;
	if (buf_put_u8(b, 0) != C2S_OK)
		return C2S_ERR_NOMEM;
	mbedtls_pem_context pem;
	mbedtls_pem_init(&pem);
	int rc = mbedtls_pem_read_buffer(&pem, begin, "-----END X509 CRL-----", b->data + off, NULL,
	                                 0, &used);
	const uint8_t *der = rc == 0 ? pem.buf : NULL;
	dl = rc == 0 ? pem.buflen : 0;
	c2s_err ret = C2S_ERR_REVOCATION;
	if (der && dl <= b->len) {
		memmove(b->data, der, dl);
		b->len = dl;
		ret = C2S_OK;
	} else {
		snprintf(why, cap, "CRL %s is PEM that does not decode", url);
	}
	mbedtls_pem_free(&pem);
	return ret;
}

c2s_err rev_crl_accept(const uint8_t *cert, size_t cert_len, struct buf *crl, const char *url,
                       time_t *next_update, char *why, size_t cap)
{
	c2s_err ret = rev_pem_to_der(crl, url, why, cap);
	if (ret != C2S_OK)
		return ret;
	return rev_check(cert, cert_len, crl->data, crl->len, url, next_update, why, cap);
}

/* From the cache, or fetched and cached. Copies into out. */
static c2s_err rev_get(const char *url, const uint8_t *cert, size_t cert_len, long timeout_ms,
                       uint8_t **der, size_t *len, char *why, size_t cap)
{
	time_t now = time(NULL), next = 0;
	struct buf b;
	c2s_err ret = C2S_ERR_REVOCATION;
	pthread_mutex_lock(&rev_cache.mu);
	for (int i = 0; i < REV_CACHE; i++) {
		struct rev_entry *e = &rev_cache.e[i];
		if (e->der && strcmp(e->url, url) == 0 && now < e->expires) {
			*der = malloc(e->len);
			if (*der) {
				memcpy(*der, e->der, e->len);
				*len = e->len;
			}
			pthread_mutex_unlock(&rev_cache.mu);
			return *der ? C2S_OK : C2S_ERR_NOMEM;
		}
	}
	for (int i = 0; i < REV_CACHE; i++) /* a recent failure: not again for a while */
		if (rev_cache.fail[i].until > now && strcmp(rev_cache.fail[i].url, url) == 0) {
			snprintf(why, cap, "%s (failed less than %d s ago)", rev_cache.fail[i].why,
			         REV_FAIL_S);
			pthread_mutex_unlock(&rev_cache.mu);
			return C2S_ERR_REVOCATION;
		}
	pthread_mutex_unlock(&rev_cache.mu);
	buf_init(&b, REV_CRL_MAX);
	ret = rev_fetch(url, timeout_ms, &b, why, cap);
	if (ret == C2S_OK)
		ret = rev_crl_accept(cert, cert_len, &b, url, &next, why, cap);
	if (ret != C2S_OK) {
		pthread_mutex_lock(&rev_cache.mu);
		int slot = 0;
		for (int i = 0; i < REV_CACHE; i++)
			if (rev_cache.fail[i].until < rev_cache.fail[slot].until)
				slot = i;
		snprintf(rev_cache.fail[slot].url, sizeof(rev_cache.fail[slot].url), "%s", url);
		snprintf(rev_cache.fail[slot].why, sizeof(rev_cache.fail[slot].why), "%s", why);
		rev_cache.fail[slot].until = now + REV_FAIL_S;
		pthread_mutex_unlock(&rev_cache.mu);
		goto out;
	}
	pthread_mutex_lock(&rev_cache.mu);
	struct rev_entry *slot = &rev_cache.e[0];
	for (int i = 0; i < REV_CACHE; i++)
		if (!rev_cache.e[i].der || rev_cache.e[i].fetched < slot->fetched)
			slot = &rev_cache.e[i];
	uint8_t *copy = malloc(b.len);
	if (copy) {
		free(slot->der);
		memcpy(copy, b.data, b.len);
		snprintf(slot->url, sizeof(slot->url), "%s", url);
		slot->der = copy;
		slot->len = b.len;
		slot->fetched = now;
		slot->expires = next < now + REV_MAX_AGE_S ? next : now + REV_MAX_AGE_S;
	}
	pthread_mutex_unlock(&rev_cache.mu);
	*der = b.data;
	*len = b.len;
	b.data = NULL;
	ret = C2S_OK;
out:
	buf_free(&b);
	return ret;
}

c2s_err rev_crls_for(const uint8_t *const *certs, const size_t *lens, size_t n, long timeout_ms,
                     struct rev_set *out, char *why, size_t why_cap)
{
	c2s_err ret = C2S_OK;
	char url[512];
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n && ret == C2S_OK; i++) {
		c2s_err r = rev_cdp_url(certs[i], lens[i], url, sizeof(url));
		if (r == C2S_ERR_NOT_FOUND || r == C2S_ERR_REVOCATION)
			continue;
		ENSURE(r == C2S_OK, r);
		int dup = 0;
		ENSURE(out->n < REV_MAX_CRLS, C2S_ERR_TOO_BIG);
		GUARD(rev_get(url, certs[i], lens[i], timeout_ms, &out->crl[out->n],
		              &out->len[out->n], why, why_cap));
		for (size_t j = 0; j < out->n; j++)
			dup |= out->len[j] == out->len[out->n] &&
			       memcmp(out->crl[j], out->crl[out->n], out->len[j]) == 0;
		if (dup)
			free(out->crl[out->n]);
		else
			out->n++;
	}
out:
	if (ret != C2S_OK)
		rev_set_free(out);
	return ret;
}

void rev_set_free(struct rev_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->crl[i]);
	s->n = 0;
}

void rev_cache_clear(void)
{
	pthread_mutex_lock(&rev_cache.mu);
	for (int i = 0; i < REV_CACHE; i++) {
		free(rev_cache.e[i].der);
		rev_cache.e[i].der = NULL;
		rev_cache.fail[i].until = 0;
	}
	pthread_mutex_unlock(&rev_cache.mu);
}
