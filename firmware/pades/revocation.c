#include "revocation.h"

#include <curl/curl.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
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
#include "firmware/base/sha256.h"

#define REV_CACHE     16
#define REV_MAX_AGE_S 300

struct rev_entry {
	char url[512];
	uint8_t *der;
	size_t len;
	time_t fetched, expires;
	/* SHA-256 of the issuer certificate whose key verified the CRL's signature; all zero:
	 * not verified (fetched for certlogin, whose custcert check verifies it itself) */
	uint8_t signer[32];
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

/* The CRL's signature verifies with `issuer`'s key (mbedTLS, not GnuTLS: the CRL is already
 * parsed by mbedTLS here, which gives the signed part (tbs), the algorithm and the signature,
 * and custcert's CRL check uses the same primitives: one X.509 library for CRLs). The issuer
 * must be the CRL's issuer by name and, when it has a keyUsage, allowed to sign CRLs. */
static c2s_err rev_signed_by(const mbedtls_x509_crl *crl, const uint8_t *issuer, size_t issuer_len,
                             const char *url, char *why, size_t cap)
{
	c2s_err ret = C2S_ERR_REVOCATION;
	mbedtls_x509_crt ic;
	uint8_t h[MBEDTLS_MD_MAX_SIZE];
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);
	mbedtls_x509_crt_init(&ic);
	if (mbedtls_x509_crt_parse_der(&ic, issuer, issuer_len) != 0) {
		snprintf(why, cap, "CRL %s: its issuer's certificate does not parse", url);
		goto out;
	}
	if (crl->issuer_raw.len != ic.subject_raw.len ||
	    memcmp(crl->issuer_raw.p, ic.subject_raw.p, ic.subject_raw.len) != 0) {
		snprintf(why, cap, "CRL %s is not from the certificate's issuer", url);
		goto out;
	}
	if ((ic.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
	    !(ic.key_usage & MBEDTLS_X509_KU_CRL_SIGN)) {
		snprintf(why, cap, "CRL %s: its issuer's certificate may not sign CRLs", url);
		goto out;
	}
	if (md == NULL || crl->sig_md == MBEDTLS_MD_MD5 ||
	    mbedtls_md(md, crl->tbs.p, crl->tbs.len, h) != 0) {
		snprintf(why, cap, "CRL %s: signature algorithm not accepted", url);
		goto out;
	}
	if (mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts, &ic.pk, crl->sig_md, h,
	                          mbedtls_md_get_size(md), crl->sig.p, crl->sig.len) != 0) {
		snprintf(why, cap,
		         "CRL %s is not signed by its issuer (the signature does not verify with "
		         "the issuer certificate's key): refused",
		         url);
		goto out;
	}
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&ic);
	return ret;
}

/* Parsed, from the certificate's issuer, signed by it (when `issuer` is given) and not past
 * its nextUpdate. */
static c2s_err rev_check(const uint8_t *cert, size_t cert_len, const uint8_t *issuer,
                         size_t issuer_len, const uint8_t *der, size_t len, const char *url,
                         time_t *next, char *why, size_t cap)
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
	if (issuer != NULL && rev_signed_by(&crl, issuer, issuer_len, url, why, cap) != C2S_OK)
		goto out;
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

c2s_err rev_crl_accept(const uint8_t *cert, size_t cert_len, const uint8_t *issuer,
                       size_t issuer_len, struct buf *crl, const char *url, time_t *next_update,
                       char *why, size_t cap)
{
	c2s_err ret = rev_pem_to_der(crl, url, why, cap);
	if (ret != C2S_OK)
		return ret;
	return rev_check(cert, cert_len, issuer, issuer_len, crl->data, crl->len, url, next_update,
	                 why, cap);
}

/* A cached CRL, copied; `*verified` when the key of the issuer hashed as `signer` verified it. */
static c2s_err rev_cache_get(const char *url, const uint8_t *signer, uint8_t **der, size_t *len,
                             int *verified, char *why, size_t cap)
{
	static const uint8_t zero[32];
	c2s_err ret = C2S_ERR_NOT_FOUND;
	time_t now = time(NULL);
	pthread_mutex_lock(&rev_cache.mu);
	for (int i = 0; i < REV_CACHE && ret == C2S_ERR_NOT_FOUND; i++) {
		struct rev_entry *e = &rev_cache.e[i];
		if (!e->der || strcmp(e->url, url) != 0 || now >= e->expires)
			continue;
		*der = malloc(e->len);
		if (*der) {
			memcpy(*der, e->der, e->len);
			*len = e->len;
		}
		*verified = signer && memcmp(e->signer, zero, 32) != 0 &&
		            memcmp(e->signer, signer, 32) == 0;
		ret = *der ? C2S_OK : C2S_ERR_NOMEM;
	}
	for (int i = 0; i < REV_CACHE && ret == C2S_ERR_NOT_FOUND; i++)
		if (rev_cache.fail[i].until > now && strcmp(rev_cache.fail[i].url, url) == 0) {
			snprintf(why, cap, "%s (failed less than %d s ago)", rev_cache.fail[i].why,
			         REV_FAIL_S);
			ret = C2S_ERR_REVOCATION;
		}
	pthread_mutex_unlock(&rev_cache.mu);
	return ret;
}

static void rev_cache_fail(const char *url, const char *why)
{
	pthread_mutex_lock(&rev_cache.mu);
	int slot = 0;
	for (int i = 0; i < REV_CACHE; i++)
		if (rev_cache.fail[i].until < rev_cache.fail[slot].until)
			slot = i;
	snprintf(rev_cache.fail[slot].url, sizeof(rev_cache.fail[slot].url), "%s", url);
	snprintf(rev_cache.fail[slot].why, sizeof(rev_cache.fail[slot].why), "%s", why);
	rev_cache.fail[slot].until = time(NULL) + REV_FAIL_S;
	pthread_mutex_unlock(&rev_cache.mu);
}

static void rev_cache_put(const char *url, const uint8_t *der, size_t len, time_t next,
                          const uint8_t *signer)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&rev_cache.mu);
	struct rev_entry *slot = &rev_cache.e[0];
	for (int i = 0; i < REV_CACHE; i++) {
		struct rev_entry *e = &rev_cache.e[i];
		if (e->der && strcmp(e->url, url) == 0) { /* the same URL: replace it */
			slot = e;
			break;
		}
		if (!e->der || (slot->der && e->fetched < slot->fetched))
			slot = e;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (copy) {
		free(slot->der);
		memcpy(copy, der, len);
		snprintf(slot->url, sizeof(slot->url), "%s", url);
		slot->der = copy;
		slot->len = len;
		slot->fetched = now;
		slot->expires = next < now + REV_MAX_AGE_S ? next : now + REV_MAX_AGE_S;
		memset(slot->signer, 0, sizeof(slot->signer));
		if (signer)
			memcpy(slot->signer, signer, sizeof(slot->signer));
	}
	pthread_mutex_unlock(&rev_cache.mu);
}

/* From the cache, or fetched and cached; a copy into der/len. With `issuer`, the CRL's
 * signature is verified with its key: a cached CRL that does not verify is dropped. */
static c2s_err rev_get(const char *url, const uint8_t *cert, size_t cert_len, const uint8_t *issuer,
                       size_t issuer_len, long timeout_ms, uint8_t **der, size_t *len, char *why,
                       size_t cap)
{
	time_t next = 0;
	uint8_t signer[32];
	int verified = 0;
	struct buf b;
	buf_init(&b, REV_CRL_MAX);
	if (issuer)
		c2s_sha256_oneshot(issuer, issuer_len, signer);
	c2s_err ret = rev_cache_get(url, issuer ? signer : NULL, der, len, &verified, why, cap);
	if (ret == C2S_OK && (verified || !issuer))
		goto out;
	if (ret == C2S_OK) { /* cached, but not checked against this issuer's key yet */
		ret =
		    rev_check(cert, cert_len, issuer, issuer_len, *der, *len, url, &next, why, cap);
		if (ret != C2S_OK) {
			free(*der);
			*der = NULL;
			rev_cache_drop(url);
			log_warn("revocation: %s", why);
			goto out;
		}
		rev_cache_put(url, *der, *len, next, signer);
		goto out;
	}
	if (ret != C2S_ERR_NOT_FOUND)
		goto out;
	ret = rev_fetch(url, timeout_ms, &b, why, cap);
	if (ret == C2S_OK)
		ret = rev_crl_accept(cert, cert_len, issuer, issuer_len, &b, url, &next, why, cap);
	if (ret != C2S_OK) {
		rev_cache_fail(url, why);
		log_warn("revocation: %s", why);
		goto out;
	}
	rev_cache_put(url, b.data, b.len, next, issuer ? signer : NULL);
	*der = b.data;
	*len = b.len;
	b.data = NULL;
out:
	buf_free(&b);
	return ret;
}

/* "2026-11-30 12:00:00 UTC" */
static void rev_time_str(const mbedtls_x509_time *t, char *s, size_t cap)
{
	snprintf(s, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day, t->hour,
	         t->min, t->sec);
}

static int rev_serial_eq(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
	const uint8_t *p = a->p, *q = b->p;
	size_t n = a->len, m = b->len;
	while (n > 1 && *p == 0)
		p++, n--;
	while (m > 1 && *q == 0)
		q++, m--;
	return n == m && memcmp(p, q, n) == 0;
}

c2s_err rev_listed(const uint8_t *cert, size_t cert_len, const uint8_t *crl_der, size_t crl_len,
                   char *why, size_t cap)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_x509_crt c;
	mbedtls_x509_crl crl;
	mbedtls_x509_crt_init(&c);
	mbedtls_x509_crl_init(&crl);
	if (mbedtls_x509_crt_parse_der(&c, cert, cert_len) != 0 ||
	    mbedtls_x509_crl_parse_der(&crl, crl_der, crl_len) != 0)
		goto out;
	ret = C2S_OK;
	if (crl.issuer_raw.len != c.issuer_raw.len ||
	    memcmp(crl.issuer_raw.p, c.issuer_raw.p, c.issuer_raw.len) != 0)
		goto out; /* another issuer's list */
	for (const mbedtls_x509_crl_entry *e = &crl.entry; e && e->raw.len; e = e->next) {
		if (!rev_serial_eq(&e->serial, &c.serial))
			continue;
		char serial[100] = "", when[40], subj[200] = "";
		for (size_t i = 0, o = 0; i < c.serial.len && o + 3 < sizeof(serial); i++)
			o +=
			    (size_t)snprintf(serial + o, sizeof(serial) - o, "%02X", c.serial.p[i]);
		rev_time_str(&e->revocation_date, when, sizeof(when));
		if (mbedtls_x509_dn_gets(subj, sizeof(subj), &c.subject) < 0)
			snprintf(subj, sizeof(subj), "(unreadable name)");
		snprintf(why, cap, "certificate %s (serial %s) was revoked on %s", subj, serial,
		         when);
		ret = C2S_ERR_CERT_REVOKED;
		break;
	}
out:
	mbedtls_x509_crt_free(&c);
	mbedtls_x509_crl_free(&crl);
	return ret;
}

/* The issuer of certs[i] among certs[]: the next one when it names it (a chain, leaf first),
 * else any whose subject is certs[i]'s issuer (a token's unordered set). -1: none. */
static int rev_issuer_of(const uint8_t *const *certs, const size_t *lens, size_t n, size_t i)
{
	mbedtls_x509_crt c, o;
	int found = -1;
	mbedtls_x509_crt_init(&c);
	if (mbedtls_x509_crt_parse_der(&c, certs[i], lens[i]) != 0)
		return -1;
	for (size_t k = 0; k < n && found < 0; k++) {
		size_t j = (i + 1 + k) % n; /* the next one first */
		mbedtls_x509_crt_init(&o);
		if (j != i && mbedtls_x509_crt_parse_der(&o, certs[j], lens[j]) == 0 &&
		    o.subject_raw.len == c.issuer_raw.len &&
		    memcmp(o.subject_raw.p, c.issuer_raw.p, c.issuer_raw.len) == 0)
			found = (int)j;
		mbedtls_x509_crt_free(&o);
	}
	mbedtls_x509_crt_free(&c);
	return found;
}

/* 1 the first time `url` is passed (of the last REV_CACHE URLs): a warning per URL, not per
 * signature. */
static int rev_warn_once(const char *url)
{
	static char seen[REV_CACHE][512];
	static unsigned next;
	int first = 1;
	pthread_mutex_lock(&rev_cache.mu);
	for (int i = 0; i < REV_CACHE && first; i++)
		first = strcmp(seen[i], url) != 0;
	if (first)
		snprintf(seen[next++ % REV_CACHE], sizeof(seen[0]), "%s", url);
	pthread_mutex_unlock(&rev_cache.mu);
	return first;
}

/* strict: the issuer, when among certs[], must verify the CRL; listed certificates refused;
 * CRLs are appended to `out` (no duplicates). */
static c2s_err rev_collect(const uint8_t *const *certs, const size_t *lens, size_t n,
                           long timeout_ms, int strict, struct rev_set *out, char *why,
                           size_t why_cap)
{
	c2s_err ret = C2S_OK;
	char url[512];
	uint8_t *der = NULL;
	size_t len = 0;
	for (size_t i = 0; i < n && ret == C2S_OK; i++) {
		c2s_err r = rev_cdp_url(certs[i], lens[i], url, sizeof(url));
		if (r == C2S_ERR_NOT_FOUND || r == C2S_ERR_REVOCATION)
			continue;
		ENSURE(r == C2S_OK, r);
		int is = strict ? rev_issuer_of(certs, lens, n, i) : -1;
		/* The chain's last certificate usually names a CRL of the root, which the chain
		 * may leave out ([seal] chain: the root is optional). Such a CRL is taken on its
		 * issuer name and nextUpdate only, as before, and said so: refusing it would stop
		 * B-LT for every appliance configured without the root. */
		if (strict && is < 0 && rev_warn_once(url))
			log_warn(
			    "revocation: CRL %s is not verified: the issuer of the certificate "
			    "naming it is not in the chain (add the root to the chain to have it "
			    "verified)",
			    url);
		GUARD(rev_get(url, certs[i], lens[i], is >= 0 ? certs[is] : NULL,
		              is >= 0 ? lens[is] : 0, timeout_ms, &der, &len, why, why_cap));
		if (strict)
			GUARD(rev_listed(certs[i], lens[i], der, len, why, why_cap));
		int dup = 0;
		for (size_t j = 0; j < out->n; j++)
			dup |= out->len[j] == len && memcmp(out->crl[j], der, len) == 0;
		if (!dup) {
			ENSURE(out->n < REV_MAX_CRLS, C2S_ERR_TOO_BIG);
			out->crl[out->n] = der;
			out->len[out->n++] = len;
			der = NULL;
		}
		free(der);
		der = NULL;
	}
out:
	free(der);
	return ret;
}

c2s_err rev_crls_for(const uint8_t *const *certs, const size_t *lens, size_t n, long timeout_ms,
                     struct rev_set *out, char *why, size_t why_cap)
{
	memset(out, 0, sizeof(*out));
	c2s_err ret = rev_collect(certs, lens, n, timeout_ms, 0, out, why, why_cap);
	if (ret != C2S_OK)
		rev_set_free(out);
	return ret;
}

c2s_err rev_chain_crls(const uint8_t *const *certs, const size_t *lens, size_t n, long timeout_ms,
                       struct rev_set *out, char *why, size_t why_cap)
{
	return rev_collect(certs, lens, n, timeout_ms, 1, out, why, why_cap);
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
