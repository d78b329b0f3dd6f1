/* Customer certificate validation with mbedTLS (see custcert.h for the rules and their order).
 * mbedTLS builds the path and checks signatures, CA flags and path lengths; times (against the
 * appliance clock), the leaf's usage and revocation are checked here, so that each refusal has
 * one reason that names the certificate it is about. */
#include "custcert.h"

#include <dirent.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "firmware/base/clock.h"
#include "firmware/base/log.h"
#include "firmware/pades/revocation.h"

#define CC_MAX_PRESENTED 6           /* certificates a client may send (more are ignored) */
#define CC_MAX_RSA_BITS  4096        /* in what a client sends: larger keys only cost us CPU */
#define CC_CRL_NO_NEXT   (7 * 86400) /* a CRL without nextUpdate counts as current this long */
#define CC_MAX_CERT      16384       /* bytes per certificate */
#define CC_MAX_DEPTH     10          /* path length mbedTLS may build (its own cap is 8) */
#define CC_LEEWAY        300         /* seconds of clock skew allowed for a CRL's thisUpdate */

struct cc_trust {
	mbedtls_x509_crt anchors, inters;
	mbedtls_x509_crl crls;
	size_t n_anchors, n_inters, n_crls;
};

static const char *const cc_types[] = {
    [CC_OK] = "ok",
    [CC_MISSING] = "certificate-missing",
    [CC_INVALID] = "certificate-invalid",
    [CC_EXPIRED] = "certificate-expired",
    [CC_NOT_YET_VALID] = "certificate-not-yet-valid",
    [CC_REVOKED] = "certificate-revoked",
    [CC_UNTRUSTED] = "certificate-untrusted",
    [CC_CHAIN_INCOMPLETE] = "certificate-chain-incomplete",
    [CC_USAGE] = "certificate-usage",
    [CC_WEAK] = "certificate-weak",
    [CC_REVOCATION_UNKNOWN] = "certificate-revocation-unknown",
};

const char *cc_reason_type(enum cc_reason r)
{
	return (unsigned)r < sizeof(cc_types) / sizeof(cc_types[0]) && cc_types[r] ? cc_types[r]
	                                                                           : "certificate";
}

/* ---- trust ---- */

c2s_err cc_trust_new(struct cc_trust **out)
{
	struct cc_trust *t = calloc(1, sizeof(*t));
	if (!t)
		return C2S_ERR_NOMEM;
	mbedtls_x509_crt_init(&t->anchors);
	mbedtls_x509_crt_init(&t->inters);
	mbedtls_x509_crl_init(&t->crls);
	*out = t;
	return C2S_OK;
}

void cc_trust_free(struct cc_trust *t)
{
	if (!t)
		return;
	mbedtls_x509_crt_free(&t->anchors);
	mbedtls_x509_crt_free(&t->inters);
	mbedtls_x509_crl_free(&t->crls);
	free(t);
}

size_t cc_trust_anchors(const struct cc_trust *t)
{
	return t ? t->n_anchors : 0;
}

static int cc_self_issued(const mbedtls_x509_crt *c)
{
	return c->issuer_raw.len == c->subject_raw.len &&
	       memcmp(c->issuer_raw.p, c->subject_raw.p, c->issuer_raw.len) == 0;
}

/* One certificate (PEM or DER) into anchors or intermediates. */
c2s_err cc_trust_add_cert(struct cc_trust *t, const uint8_t *data, size_t len)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	/* PEM wants its terminating NUL counted */
	int rc = (len && data[len - 1] == 0) ? mbedtls_x509_crt_parse(&c, data, len)
	                                     : mbedtls_x509_crt_parse_der(&c, data, len);
	c2s_err e = C2S_ERR_X509;
	for (mbedtls_x509_crt *p = &c; rc == 0 && p && p->raw.len; p = p->next) {
		int anchor = cc_self_issued(p) && p->ca_istrue;
		mbedtls_x509_crt *dst = anchor ? &t->anchors : &t->inters;
		if (mbedtls_x509_crt_parse_der(dst, p->raw.p, p->raw.len) == 0) {
			anchor ? t->n_anchors++ : t->n_inters++;
			e = C2S_OK;
		}
	}
	mbedtls_x509_crt_free(&c);
	return e;
}

c2s_err cc_trust_add_crl(struct cc_trust *t, const uint8_t *data, size_t len)
{
	/* mbedtls_x509_crl_parse takes PEM (NUL counted) or DER */
	if (mbedtls_x509_crl_parse(&t->crls, data, len) != 0)
		return C2S_ERR_X509;
	t->n_crls++;
	return C2S_OK;
}

static uint8_t *cc_read(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(max + 1);
	size_t n = b ? fread(b, 1, max + 1, f) : 0;
	fclose(f);
	if (!b || n > max || n == 0) {
		free(b);
		return NULL;
	}
	b[n] = 0;
	/* PEM: count the NUL, as mbedTLS wants */
	*len = (n > 10 && memcmp(b, "-----BEGIN", 10) == 0) ? n + 1 : n;
	return b;
}

static int cc_ends(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

static void cc_load_dir(struct cc_trust *t, const char *dir, int crls)
{
	DIR *d = dir && dir[0] ? opendir(dir) : NULL;
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (n[0] == '.')
			continue;
		if (crls ? !(cc_ends(n, ".crl") || cc_ends(n, ".pem"))
		         : !(cc_ends(n, ".pem") || cc_ends(n, ".crt") || cc_ends(n, ".der")))
			continue;
		char path[4400];
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, n);
		uint8_t *b = cc_read(path, crls ? REV_CRL_MAX : 256 * 1024, &len);
		c2s_err e = b ? (crls ? cc_trust_add_crl(t, b, len) : cc_trust_add_cert(t, b, len))
		              : C2S_ERR_IO;
		if (e != C2S_OK)
			log_warn("%s: not a %s; skipped", path, crls ? "CRL" : "certificate");
		free(b);
	}
	closedir(d);
}

c2s_err cc_trust_load(const char *trust_dir, const char *crl_dir, struct cc_trust **out, char *why,
                      size_t why_cap)
{
	c2s_err e = cc_trust_new(out);
	if (e != C2S_OK)
		return e;
	cc_load_dir(*out, trust_dir, 0);
	cc_load_dir(*out, crl_dir, 1);
	snprintf(why, why_cap, "%zu trust anchors, %zu intermediates, %zu CRLs", (*out)->n_anchors,
	         (*out)->n_inters, (*out)->n_crls);
	return C2S_OK;
}

char *cc_trust_anchors_pem(const struct cc_trust *t)
{
	size_t cap = 0, len = 0;
	char *out = NULL;
	for (const mbedtls_x509_crt *c = &t->anchors; t->n_anchors && c && c->raw.len;
	     c = c->next) {
		size_t need = c->raw.len * 2 + 128, olen = 0;
		char *grown = realloc(out, cap + need);
		if (!grown) {
			free(out);
			return NULL;
		}
		out = grown;
		cap += need;
		if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
		                             "-----END CERTIFICATE-----\n", c->raw.p, c->raw.len,
		                             (unsigned char *)out + len, cap - len, &olen) != 0) {
			free(out);
			return NULL;
		}
		len += olen - 1; /* olen counts the NUL */
	}
	return out;
}

/* ---- helpers ---- */

static int64_t cc_time(const mbedtls_x509_time *t)
{
	return clock_timegm(t->year, t->mon, t->day, t->hour, t->min, t->sec);
}

static void cc_date(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, cap, "%lld", (long long)t);
}

static void cc_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), p, n, out);
}

static void cc_hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t i = 0;
	for (; i < n && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * i] = 0;
}

static void cc_subject(const mbedtls_x509_crt *c, char *out, size_t cap)
{
	cc_name_utf8(c->subject_raw.p, c->subject_raw.len, out, cap);
}

/* The value of attribute `oid` (3-byte 2.5.4.x) in a parsed name, raw. */
static const mbedtls_x509_buf *cc_attr(const mbedtls_x509_name *n, uint8_t last)
{
	for (; n; n = n->next)
		if (n->oid.len == 3 && memcmp(n->oid.p, "\x55\x04", 2) == 0 && n->oid.p[2] == last)
			return &n->val;
	return NULL;
}

static int cc_buf_eq(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
	return a && b && a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* ---- parsing what the client sent ---- */

struct cc_ext {
	char oid[96]; /* the first unknown critical extension */
};

static int cc_ext_cb(void *ctx, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid,
                     int critical, const unsigned char *p, const unsigned char *end)
{
	struct cc_ext *x = ctx;
	(void)crt, (void)p, (void)end;
	if (!critical)
		return 0;
	if (!x->oid[0] && mbedtls_oid_get_numeric_string(x->oid, sizeof(x->oid), oid) < 0)
		snprintf(x->oid, sizeof(x->oid), "?");
	return -1;
}

/* ---- path validation ---- */

struct cc_path {
	mbedtls_x509_crt *crt[CC_MAX_DEPTH];
	uint32_t flags[CC_MAX_DEPTH];
	int len;
};

static int cc_vrfy(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct cc_path *p = ctx;
	if (depth >= 0 && depth < CC_MAX_DEPTH) {
		p->crt[depth] = crt;
		p->flags[depth] = *flags;
		if (depth + 1 > p->len)
			p->len = depth + 1;
	}
	/* times are checked against the appliance clock, and revocation here: not by mbedTLS */
	*flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE |
	                      MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE |
	                      MBEDTLS_X509_BADCRL_NOT_TRUSTED);
	return 0;
}

static const mbedtls_x509_crt_profile cc_profile = {
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSASSA_PSS),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
    2048,
};

static int cc_is_in(const mbedtls_x509_crt *list, const mbedtls_x509_crt *c)
{
	for (; list; list = list->next)
		if (list == c)
			return 1;
	return 0;
}

/* A certificate we know (sent, provisioned or anchor) whose subject is `name`. */
static const mbedtls_x509_crt *cc_find_subject(const mbedtls_x509_crt *const *lists, size_t n,
                                               const mbedtls_x509_buf *name)
{
	for (size_t i = 0; i < n; i++)
		for (const mbedtls_x509_crt *c = lists[i]; c && c->raw.len; c = c->next)
			if (cc_buf_eq(&c->subject_raw, name))
				return c;
	return NULL;
}

/* The path broke at `c` (its issuer is unknown): untrusted, or an intermediate not sent? */
static enum cc_reason cc_untrusted_or_incomplete(const struct cc_trust *t,
                                                 const mbedtls_x509_crt *c)
{
	const mbedtls_x509_buf *o = cc_attr(&c->issuer, 0x0a), *cn = cc_attr(&c->issuer, 0x06);
	if (!o || !o->len)
		return CC_UNTRUSTED;
	for (const mbedtls_x509_crt *a = &t->anchors; t->n_anchors && a && a->raw.len; a = a->next)
		if (cc_buf_eq(cc_attr(&a->subject, 0x0a), o) &&
		    (cc_buf_eq(cc_attr(&a->subject, 0x06), cn) ||
		     (!cn && !cc_attr(&a->subject, 0x06))))
			return CC_CHAIN_INCOMPLETE;
	return CC_UNTRUSTED;
}

static void cc_weak_detail(const mbedtls_x509_crt *c, uint32_t f, char *out, size_t cap)
{
	char subj[256];
	cc_subject(c, subj, sizeof(subj));
	if (f & MBEDTLS_X509_BADCERT_BAD_KEY)
		snprintf(out, cap,
		         "the %s key of '%s' has %zu bits: RSA needs at least 2048, ECDSA "
		         "P-256, P-384 or P-521",
		         mbedtls_pk_get_name(&c->pk), subj, mbedtls_pk_get_bitlen(&c->pk));
	else if (f & MBEDTLS_X509_BADCERT_BAD_MD)
		snprintf(out, cap, "'%s' is signed with a hash below SHA-256 (e.g. SHA-1)", subj);
	else
		snprintf(out, cap,
		         "'%s' is signed with an algorithm this appliance does not accept", subj);
}

/* ---- the leaf's use ---- */

static int cc_usage_ok(const mbedtls_x509_crt *c, char *why, size_t cap)
{
	if (c->ca_istrue) {
		snprintf(why, cap,
		         "it is a CA certificate (basicConstraints CA:TRUE), not a "
		         "person's certificate");
		return 0;
	}
	/* the customer proves possession by signing the TLS handshake: that is digitalSignature;
	 * a signing-only key (nonRepudiation alone) is kept for the customer's own signatures */
	if ((c->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
	    !(c->key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) {
		snprintf(why, cap,
		         (c->key_usage & MBEDTLS_X509_KU_NON_REPUDIATION)
		             ? "it is a signing-only certificate (key usage nonRepudiation without "
		               "digitalSignature); choose the certificate for authentication"
		             : "its key usage does not include digitalSignature");
		return 0;
	}
	if (!(c->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE))
		return 1;
	static const struct {
		const char *oid;
		size_t len;
	} ok[] = {
	    {MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)},
	    {MBEDTLS_OID_EMAIL_PROTECTION, MBEDTLS_OID_SIZE(MBEDTLS_OID_EMAIL_PROTECTION)},
	    {"\x2b\x06\x01\x05\x05\x07\x03\x24", 8},          /* documentSigning, RFC 9336 */
	    {"\x2b\x06\x01\x04\x01\x82\x37\x0a\x03\x0c", 10}, /* Microsoft document signing */
	    {"\x2a\x86\x48\x86\xf7\x2f\x01\x01\x05", 9},      /* Adobe Authentic Documents */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (mbedtls_x509_crt_check_extended_key_usage(c, ok[i].oid, ok[i].len) == 0)
			return 1; /* also true with anyExtendedKeyUsage */
	snprintf(why, cap,
	         "its extended key usage allows neither client authentication nor "
	         "signing (e.g. server authentication only)");
	return 0;
}

/* ---- revocation ---- */

static int cc_crl_signed_by(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *issuer)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);
	unsigned char h[MBEDTLS_MD_MAX_SIZE];
	if (!md || !cc_buf_eq(&crl->issuer_raw, &issuer->subject_raw))
		return 0;
	if ((issuer->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) &&
	    !(issuer->key_usage & MBEDTLS_X509_KU_CRL_SIGN))
		return 0;
	if (!(cc_profile.allowed_mds & MBEDTLS_X509_ID_FLAG(crl->sig_md)))
		return 0;
	if (mbedtls_md(md, crl->tbs.p, crl->tbs.len, h) != 0)
		return 0;
	return mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts, (mbedtls_pk_context *)&issuer->pk,
	                             crl->sig_md, h, mbedtls_md_get_size(md), crl->sig.p,
	                             crl->sig.len) == 0;
}

/* The newest current CRL in `list` from `issuer` whose signature verifies. */
static const mbedtls_x509_crl *cc_crl_find(const mbedtls_x509_crl *list,
                                           const mbedtls_x509_crt *issuer, int64_t now)
{
	const mbedtls_x509_crl *best = NULL;
	for (const mbedtls_x509_crl *c = list; c && c->raw.len; c = c->next) {
		if (!cc_crl_signed_by(c, issuer))
			continue;
		int64_t this_up = cc_time(&c->this_update);
		int64_t next_up =
		    c->next_update.year ? cc_time(&c->next_update) : this_up + CC_CRL_NO_NEXT;
		if (this_up > now + CC_LEEWAY || now >= next_up)
			continue;
		if (!best || this_up > cc_time(&best->this_update))
			best = c;
	}
	return best;
}

static int cc_serial_eq(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
	const uint8_t *p = a->p, *q = b->p;
	size_t n = a->len, m = b->len;
	while (n > 1 && *p == 0)
		p++, n--;
	while (m > 1 && *q == 0)
		q++, m--;
	return n == m && memcmp(p, q, n) == 0;
}

/* 1 and the date when `c` is on `crl` with a revocation date not after now. */
static int cc_on_crl(const mbedtls_x509_crl *crl, const mbedtls_x509_crt *c, int64_t now,
                     int64_t *when)
{
	for (const mbedtls_x509_crl_entry *e = &crl->entry; e && e->raw.len; e = e->next)
		if (cc_serial_eq(&e->serial, &c->serial)) {
			*when = cc_time(&e->revocation_date);
			return *when <= now;
		}
	return 0;
}

/* Revocation of path[0 .. len-2] (the anchor itself has no issuer to ask). */
static void cc_revocation(const struct cc_trust *t, const struct cc_path *path,
                          const struct cc_options *o, struct cc_result *res)
{
	mbedtls_x509_crl fetched;
	mbedtls_x509_crl_init(&fetched);
	for (int d = 0; d + 1 < path->len && res->reason == CC_OK; d++) {
		const mbedtls_x509_crt *c = path->crt[d], *issuer = path->crt[d + 1];
		char subj[256], why[300] = "", url[512] = "";
		const mbedtls_x509_crl *crl = cc_crl_find(&t->crls, issuer, o->now);
		if (!crl)
			crl = cc_crl_find(&fetched, issuer, o->now);
		c2s_err cdp = rev_cdp_url(c->raw.p, c->raw.len, url, sizeof(url));
		int has_cdp = cdp != C2S_ERR_NOT_FOUND; /* also an LDAP-only or unreadable one */
		if (!crl && cdp != C2S_OK && has_cdp)
			snprintf(
			    why, sizeof(why),
			    "its CRL distribution point is not an http(s) address the appliance "
			    "can "
			    "fetch (e.g. LDAP): install the CRL with `click2sign-admin crl add`");
		if (!crl && cdp == C2S_OK && o->fetch) {
			uint8_t *der = NULL;
			size_t len = 0;
			if (o->fetch(o->fetch_ctx, url, c->raw.p, c->raw.len, &der, &len, why,
			             sizeof(why)) == C2S_OK) {
				if (mbedtls_x509_crl_parse_der(&fetched, der, len) != 0) {
					snprintf(why, sizeof(why), "%s is not a CRL", url);
					rev_cache_drop(url);
				} else if (!(crl = cc_crl_find(&fetched, issuer, o->now))) {
					snprintf(why, sizeof(why),
					         "the CRL at %s is not signed by the issuer or not "
					         "current",
					         url);
					rev_cache_drop(url); /* not kept for the next customer */
				}
			}
			free(der);
		}
		cc_subject(c, subj, sizeof(subj));
		if (!crl) {
			if (!has_cdp && !why[0])
				snprintf(
				    why, sizeof(why),
				    "it names no CRL distribution point and no current CRL of its "
				    "issuer is installed (click2sign-admin crl add)");
			if (!o->require_revocation) {
				if (has_cdp)
					log_warn(
					    "no current CRL for '%s' (%s); accepted: revocation is "
					    "not required",
					    subj, why[0] ? why : url);
				continue;
			}
			res->reason = CC_REVOCATION_UNKNOWN;
			snprintf(res->culprit, sizeof(res->culprit), "%s", subj);
			snprintf(res->detail, sizeof(res->detail),
			         "no current revocation list for '%s' could be obtained: %s", subj,
			         why[0] ? why : "the CRL is not provisioned and fetching is off");
			break;
		}
		int64_t when = 0;
		if (cc_on_crl(crl, c, o->now, &when)) {
			char date[40];
			cc_date(when, date, sizeof(date));
			res->reason = CC_REVOKED;
			res->revoked_at = when;
			res->at = when;
			snprintf(res->culprit, sizeof(res->culprit), "%s", subj);
			snprintf(res->detail, sizeof(res->detail), "'%s' was revoked on %s", subj,
			         date);
		}
	}
	mbedtls_x509_crl_free(&fetched);
}

c2s_err cc_crl_check(const struct cc_trust *t, const uint8_t *data, size_t len,
                     struct cc_crl_info *info, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_X509;
	mbedtls_x509_crl crl;
	mbedtls_x509_crl_init(&crl);
	memset(info, 0, sizeof(*info));
	if (mbedtls_x509_crl_parse(&crl, data, len) != 0 || crl.next)
		WHY(C2S_ERR_X509, "not a CRL in PEM or DER (or more than one)");
	cc_name_utf8(crl.issuer_raw.p, crl.issuer_raw.len, info->issuer, sizeof(info->issuer));
	const mbedtls_x509_crt *lists[2] = {&t->anchors, &t->inters};
	const size_t counts[2] = {t->n_anchors, t->n_inters};
	int ok = 0;
	for (int l = 0; l < 2 && !ok; l++)
		for (const mbedtls_x509_crt *c = lists[l]; counts[l] && c && c->raw.len && !ok;
		     c = c->next)
			ok = cc_crl_signed_by(&crl, c);
	if (!ok)
		WHY(C2S_ERR_X509,
		    "the CRL of '%s' is not signed by any trusted anchor or intermediate (add the "
		    "issuer with `trust add` first)",
		    info->issuer);
	cc_sha256(crl.issuer_raw.p, crl.issuer_raw.len, info->issuer_sha256);
	info->this_update = cc_time(&crl.this_update);
	info->next_update = crl.next_update.year ? cc_time(&crl.next_update) : 0;
	for (const mbedtls_x509_crl_entry *e = &crl.entry; e && e->raw.len; e = e->next)
		info->entries++;
	info->der = malloc(crl.raw.len);
	ENSURE(info->der, C2S_ERR_NOMEM);
	memcpy(info->der, crl.raw.p, crl.raw.len);
	info->der_len = crl.raw.len;
	ret = C2S_OK;
out:
	mbedtls_x509_crl_free(&crl);
	return ret;
}

/* What a client sends must not make us work hard before anything is proven: RSA moduli up to
 * CC_MAX_RSA_BITS with an exponent of at most 32 bits; serial numbers positive and at most 20
 * octets (RFC 5280 4.1.2.2), so that each has one spelling. NULL when sane, else why. */
static const char *cc_sane(const mbedtls_x509_crt *c)
{
	if (mbedtls_pk_get_type(&c->pk) == MBEDTLS_PK_RSA) {
		const mbedtls_rsa_context *rsa = mbedtls_pk_rsa(c->pk);
		if (mbedtls_pk_get_bitlen(&c->pk) > CC_MAX_RSA_BITS)
			return "an RSA key larger than 4096 bits is not accepted";
		if (mbedtls_mpi_bitlen(&rsa->E) > 32)
			return "an RSA public exponent above 2^32 is not accepted";
	}
	size_t sl = c->serial.len;
	const uint8_t *sp = c->serial.p;
	if (sl && (sp[0] & 0x80))
		return "the serial number is negative (RFC 5280 requires a positive one)";
	while (sl > 1 && *sp == 0)
		sp++, sl--;
	if (sl == 0 || (sl == 1 && sp[0] == 0))
		return "the serial number is zero (RFC 5280 requires a positive one)";
	if (sl > 20)
		return "the serial number is longer than 20 octets (RFC 5280)";
	return NULL;
}

/* Follows issuer names from the leaf through what was sent, the intermediates and the anchors,
 * before a single signature is checked: NULL when the names lead to an anchor, else the
 * certificate whose issuer is nowhere (or a root that is not an anchor, or a path too long). */
static const mbedtls_x509_crt *cc_name_walk(const struct cc_trust *t, const mbedtls_x509_crt *chain)
{
	const mbedtls_x509_crt *lists[2] = {chain, t->n_inters ? &t->inters : NULL};
	const mbedtls_x509_crt *c = chain;
	for (int depth = 0; depth < CC_MAX_DEPTH; depth++) {
		for (const mbedtls_x509_crt *a = &t->anchors; t->n_anchors && a && a->raw.len;
		     a = a->next)
			if (cc_buf_eq(&a->subject_raw, &c->issuer_raw))
				return NULL;
		if (cc_self_issued(c))
			return c;
		const mbedtls_x509_crt *next = NULL;
		for (int l = 0; l < 2 && !next; l++)
			for (const mbedtls_x509_crt *p = lists[l]; p && p->raw.len && !next;
			     p = p->next)
				if (p != c && cc_buf_eq(&p->subject_raw, &c->issuer_raw))
					next = p;
		if (!next)
			return c;
		c = next;
	}
	return c;
}

void cc_utf8_trim(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	unsigned char lead = (unsigned char)s[i - 1];
	size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < want)
		s[i - 1] = 0;
}

/* ---- the verdict ---- */

c2s_err cc_verify(const struct cc_trust *t, const uint8_t *const *der, const size_t *len, size_t n,
                  const struct cc_options *o, struct cc_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!t || !o || (n && (!der || !len)))
		return C2S_ERR_ARG;
	if (n == 0) {
		res->reason = CC_MISSING;
		snprintf(res->detail, sizeof(res->detail), "the browser presented no certificate");
		return C2S_OK;
	}
	mbedtls_x509_crt chain;
	mbedtls_x509_crt_init(&chain);
	struct cc_ext ext = {{0}};
	size_t parsed = 0;
	const char *bad = NULL;
	for (size_t i = 0; i < n && i < CC_MAX_PRESENTED && !bad; i++) {
		mbedtls_x509_crt one;
		mbedtls_x509_crt_init(&one);
		if (!der[i] || len[i] == 0 || len[i] > CC_MAX_CERT ||
		    mbedtls_x509_crt_parse_der_with_ext_cb(&one, der[i], len[i], 1, cc_ext_cb,
		                                           &ext) != 0) {
			mbedtls_x509_crt_free(&one);
			if (i == 0 || ext.oid[0])
				break; /* the leaf must parse; a sent CA with an unknown critical
				          extension refuses too */
			continue;      /* an unreadable extra certificate is ignored */
		}
		const char *why = cc_sane(&one);
		int dup = 0;
		for (const mbedtls_x509_crt *c = &chain; parsed && c && c->raw.len; c = c->next)
			dup |= cc_buf_eq(&c->subject_raw, &one.subject_raw);
		if (why && i == 0)
			bad = why; /* the customer's own certificate */
		else if (!why && !dup &&
		         mbedtls_x509_crt_parse_der(&chain, one.raw.p, one.raw.len) == 0)
			parsed++;
		/* a sent CA certificate that is insane, or names a CA already sent, is ignored: one
		 * candidate per name keeps the signature checks few whatever the client sends */
		mbedtls_x509_crt_free(&one);
	}
	if (parsed == 0 || ext.oid[0] || bad) {
		res->reason = ext.oid[0] ? CC_USAGE : CC_INVALID;
		if (ext.oid[0])
			snprintf(
			    res->detail, sizeof(res->detail),
			    "a certificate carries the critical extension %s, which this appliance "
			    "does not know; a critical extension that is not understood forbids "
			    "using the certificate (RFC 5280)",
			    ext.oid);
		else
			snprintf(res->detail, sizeof(res->detail), "%s",
			         bad ? bad
			             : "the presented certificate is not a well-formed X.509 "
			               "certificate");
		mbedtls_x509_crt_free(&chain);
		return C2S_OK;
	}
	const mbedtls_x509_crt *leaf = &chain;
	uint8_t sha[32];
	cc_subject(leaf, res->subject, sizeof(res->subject));
	cc_name_cn_utf8(leaf->subject_raw.p, leaf->subject_raw.len, res->common_name,
	                sizeof(res->common_name));
	cc_name_utf8(leaf->issuer_raw.p, leaf->issuer_raw.len, res->issuer, sizeof(res->issuer));
	{
		const uint8_t *s = leaf->serial.p;
		size_t sl = leaf->serial.len;
		while (sl > 1 && *s == 0)
			s++, sl--;
		cc_hex(s, sl, res->serial, sizeof(res->serial));
		if (res->serial[0] == '0' && res->serial[1])
			memmove(res->serial, res->serial + 1, strlen(res->serial));
	}
	cc_sha256(leaf->pk_raw.p, leaf->pk_raw.len, res->spki_sha256);
	cc_hex(res->spki_sha256, 32, res->fingerprint, sizeof(res->fingerprint));
	cc_sha256(leaf->issuer_raw.p, leaf->issuer_raw.len, res->issuer_sha256);
	(void)sha;
	res->not_before = cc_time(&leaf->valid_from);
	res->not_after = cc_time(&leaf->valid_to);

	/* provisioned intermediates go after what the client sent */
	for (const mbedtls_x509_crt *c = &t->inters; t->n_inters && c && c->raw.len; c = c->next)
		(void)mbedtls_x509_crt_parse_der(&chain, c->raw.p, c->raw.len);

	struct cc_path path = {.len = 0};
	uint32_t flags = 0;
	mbedtls_x509_crt empty;
	mbedtls_x509_crt_init(&empty);
	mbedtls_x509_crt *anchors = t->n_anchors ? (mbedtls_x509_crt *)&t->anchors : &empty;
	int64_t now = o->now;
	char subj[256];
	const mbedtls_x509_crt *stop = cc_name_walk(t, &chain);
	if (stop) { /* no name path to an anchor: decided without checking any signature */
		path.crt[0] = (mbedtls_x509_crt *)stop;
		path.flags[0] = MBEDTLS_X509_BADCERT_NOT_TRUSTED;
		path.len = 1;
	} else {
		(void)mbedtls_x509_crt_verify_with_profile(&chain, anchors, NULL, &cc_profile, NULL,
		                                           &flags, cc_vrfy, &path);
	}

	/* 2. the path to an anchor */
	for (int d = 0; d < path.len; d++) {
		if (!(path.flags[d] & MBEDTLS_X509_BADCERT_NOT_TRUSTED))
			continue;
		const mbedtls_x509_crt *c = path.crt[d];
		const mbedtls_x509_crt *known[] = {&chain, t->n_inters ? &t->inters : NULL,
		                                   t->n_anchors ? &t->anchors : NULL};
		char iss[256];
		cc_subject(c, subj, sizeof(subj));
		cc_name_utf8(c->issuer_raw.p, c->issuer_raw.len, iss, sizeof(iss));
		if (!t->n_anchors) {
			res->reason = CC_UNTRUSTED;
			snprintf(res->culprit, sizeof(res->culprit), "%s", iss);
			snprintf(
			    res->detail, sizeof(res->detail),
			    "no trust anchors are configured on this appliance (click2sign-admin "
			    "trust add)");
		} else if (cc_self_issued(c)) {
			res->reason = CC_UNTRUSTED;
			snprintf(res->culprit, sizeof(res->culprit), "%s", subj);
			snprintf(res->detail, sizeof(res->detail),
			         "the certificate authority '%s' is not trusted by this appliance",
			         subj);
		} else if (cc_find_subject(known, 3, &c->issuer_raw)) {
			res->reason = CC_UNTRUSTED;
			snprintf(res->culprit, sizeof(res->culprit), "%s", iss);
			snprintf(
			    res->detail, sizeof(res->detail),
			    "the signature of '%s' does not verify with the key of '%s', or that "
			    "issuer may not issue certificates (not a CA, or its path length is "
			    "exceeded)",
			    subj, iss);
		} else {
			res->reason = cc_untrusted_or_incomplete(t, c);
			snprintf(res->culprit, sizeof(res->culprit), "%s", iss);
			if (res->reason == CC_CHAIN_INCOMPLETE)
				snprintf(res->detail, sizeof(res->detail),
				         "the issuer '%s' of '%s' was not sent by the browser and "
				         "is not "
				         "installed on this appliance",
				         iss, subj);
			else
				snprintf(res->detail, sizeof(res->detail),
				         "the issuer '%s' is not trusted by this appliance", iss);
		}
		goto done;
	}
	if (path.len == 0 || !cc_is_in(anchors, path.crt[path.len - 1])) {
		res->reason = CC_UNTRUSTED;
		snprintf(res->culprit, sizeof(res->culprit), "%s", res->issuer);
		snprintf(res->detail, sizeof(res->detail),
		         "no path from the certificate to a trust anchor (flags %#x)", flags);
		goto done;
	}
	/* 3. algorithms */
	for (int d = 0; d < path.len; d++) {
		uint32_t f =
		    path.flags[d] & (MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_MD |
		                     MBEDTLS_X509_BADCERT_BAD_PK);
		if (!f)
			continue;
		res->reason = CC_WEAK;
		cc_subject(path.crt[d], res->culprit, sizeof(res->culprit));
		cc_weak_detail(path.crt[d], f, res->detail, sizeof(res->detail));
		goto done;
	}
	/* 4. validity periods, on the appliance clock */
	for (int d = 0; d < path.len; d++) {
		const mbedtls_x509_crt *c = path.crt[d];
		int64_t nb = cc_time(&c->valid_from), na = cc_time(&c->valid_to);
		char date[40];
		if (now >= nb && now <= na)
			continue;
		cc_subject(c, res->culprit, sizeof(res->culprit));
		res->reason = now > na ? CC_EXPIRED : CC_NOT_YET_VALID;
		res->at = now > na ? na : nb;
		cc_date(now > na ? na : nb, date, sizeof(date));
		snprintf(res->detail, sizeof(res->detail), "'%s' %s %s", res->culprit,
		         now > na ? "expired on" : "is valid only from", date);
		goto done;
	}
	/* any other flag mbedTLS raised (e.g. a CA without keyCertSign) */
	uint32_t rest = 0;
	for (int d = 0; d < path.len; d++)
		rest |= path.flags[d] &
		        ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE |
		                    MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE |
		                    MBEDTLS_X509_BADCRL_NOT_TRUSTED);
	if (rest) {
		char info[200];
		res->reason = CC_UNTRUSTED;
		snprintf(res->culprit, sizeof(res->culprit), "%s", res->issuer);
		if (mbedtls_x509_crt_verify_info(info, sizeof(info), "", rest) < 0)
			info[0] = 0;
		for (char *q = info; *q; q++)
			if (*q == '\n')
				*q = ' ';
		snprintf(res->detail, sizeof(res->detail), "the certificate path is not valid: %s",
		         info);
		goto done;
	}
	/* 5. what the leaf is for */
	{
		char why[200];
		if (!cc_usage_ok(leaf, why, sizeof(why))) {
			res->reason = CC_USAGE;
			snprintf(res->culprit, sizeof(res->culprit), "%s", res->subject);
			snprintf(res->detail, sizeof(res->detail),
			         "'%s' cannot be used to log in or sign: %s", res->subject, why);
			goto done;
		}
	}
	/* 6. revocation */
	cc_revocation(t, &path, o, res);
done:
	mbedtls_x509_crt_free(&chain);
	cc_utf8_trim(res->subject);
	cc_utf8_trim(res->issuer);
	cc_utf8_trim(res->common_name);
	cc_utf8_trim(res->culprit);
	cc_utf8_trim(res->detail);
	return C2S_OK;
}
