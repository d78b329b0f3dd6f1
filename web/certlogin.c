/* Customers' own certificates (API.md section 3): registration and login on the certificate
 * listener, and the portal's API to list and unbind them.
 *
 * The TLS handshake of the certificate listener asks for a certificate and accepts any or none
 * (GnuTLS has checked only that the client holds the certificate's private key); everything
 * else is decided here with firmware/certs/custcert, so that every refusal is a page in the
 * customer's language (or problem+json) that says what is wrong and what to do, never a TLS
 * alert that a browser turns into "an error occurred".
 *
 * Login: the keyholder assembles and signs the login assertion itself from the account id
 * (IPC_ASSERTION_REQ: the web names only the account); the web sends the customer back to an
 * allow-listed portal URL with it. Registration binds the certificate to the account named in a
 * portal assertion (verified here with the portal's keys, single use by jti). */
#include <ctype.h>
#include <gnutls/gnutls.h>
#include <mbedtls/md.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "khclient.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"
#include "firmware/base/secmem.h"
#include "firmware/certs/custcert.h"
#include "firmware/certs/jws.h"
#include "firmware/orders/certbind.h"
#include "firmware/pades/revocation.h"

#define CL_MAX_PEERS     8
#define CL_MAX_PORTAL    16
#define CL_RECHECK_MS    2000 /* how often the trust directories are looked at */
#define CL_ASSERT_LIFE   300  /* a portal assertion lives at most 5 minutes */
#define CL_ASSERT_LEEWAY 60

/* ---- trust anchors, CRLs and the portal's keys, reloaded when the operator changes them ----
 * A snapshot is shared by reference: validation (with its CRL fetches) runs without any lock,
 * and a reload replaces the snapshot for the requests that come after it. */

struct cl_snap {
	int refs;
	struct cc_trust *trust;
	struct jws_key *portal[CL_MAX_PORTAL];
	size_t n_portal;
};

static struct {
	pthread_mutex_t mu;
	struct cl_snap *cur;
	struct timespec m_trust, m_crl, m_portal;
	int64_t checked_ms;
} cl = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct timespec cl_mtime(const char *dir)
{
	struct stat st;
	struct timespec z = {0, 0};
	return stat(dir, &st) == 0 ? st.st_mtim : z;
}

static int cl_ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void cl_snap_free(struct cl_snap *sn)
{
	if (!sn)
		return;
	cc_trust_free(sn->trust);
	for (size_t i = 0; i < sn->n_portal; i++)
		jws_key_free(sn->portal[i]);
	free(sn);
}

static void cl_portal_load(const struct config *cfg, struct cl_snap *sn)
{
	sn->n_portal = jws_keys_from_dir(cfg->portal_keys, sn->portal, CL_MAX_PORTAL);
}

/* The current snapshot (reloaded first when a directory changed); give it back with cl_snap_put. */
static struct cl_snap *cl_get(const struct config *cfg)
{
	int64_t now = clock_mono_ms();
	pthread_mutex_lock(&cl.mu);
	if (!cl.cur || now - cl.checked_ms >= CL_RECHECK_MS) {
		struct timespec mt = cl_mtime(cfg->trust_dir), mc = cl_mtime(cfg->crl_dir),
		                mp = cl_mtime(cfg->portal_keys);
		cl.checked_ms = now;
		if (!cl.cur || !cl_ts_eq(mt, cl.m_trust) || !cl_ts_eq(mc, cl.m_crl) ||
		    !cl_ts_eq(mp, cl.m_portal)) {
			struct cl_snap *sn = calloc(1, sizeof(*sn));
			char why[200];
			if (sn && cc_trust_load(cfg->trust_dir, cfg->crl_dir, &sn->trust, why,
			                        sizeof(why)) == C2S_OK) {
				cl_portal_load(cfg, sn);
				sn->refs = 1; /* held by cl.cur */
				if (cl.cur && --cl.cur->refs == 0)
					cl_snap_free(cl.cur);
				cl.cur = sn;
				cl.m_trust = mt;
				cl.m_crl = mc;
				cl.m_portal = mp;
				log_info("customer certificates: %s, %zu portal keys (%s, %s)", why,
				         sn->n_portal, cfg->trust_dir, cfg->crl_dir);
			} else {
				cl_snap_free(sn);
			}
		}
	}
	struct cl_snap *sn = cl.cur;
	if (sn)
		sn->refs++;
	pthread_mutex_unlock(&cl.mu);
	return sn;
}

static void cl_snap_put(struct cl_snap *sn)
{
	if (!sn)
		return;
	pthread_mutex_lock(&cl.mu);
	int last = --sn->refs == 0;
	pthread_mutex_unlock(&cl.mu);
	if (last)
		cl_snap_free(sn);
}

char *web_cert_trust_pem(const struct config *cfg)
{
	struct cl_snap *sn = cl_get(cfg);
	char *pem = sn && cc_trust_anchors(sn->trust) ? cc_trust_anchors_pem(sn->trust) : NULL;
	cl_snap_put(sn);
	return pem;
}

/* ---- registration tickets: "after link + SMS code" ----
 * The confirmation page (after the customer verified the SMS code and signed) offers to register
 * a certificate for the order's account: a random single-use ticket, kept hashed, 15 minutes. */

#define CL_TICKETS     256
#define CL_TICKET_LIFE 900

static struct {
	pthread_mutex_t mu;
	struct {
		uint8_t hash[32];
		char account[CERTBIND_ACCOUNT_MAX];
		int64_t expires;
	} t[CL_TICKETS];
} cl_tk = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void cl_sha256(const void *p, size_t n, uint8_t out[32])
{
	mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), p, n, out);
}

int web_cert_register_url(const struct config *cfg, const char *account, const char *lang,
                          char *out, size_t cap)
{
	uint8_t rnd[32];
	char tok[65];
	size_t olen = 64;
	const char *base = cfg->cert_public_url;
	if (!base[0] || !certbind_account_ok(account) || getrandom(rnd, sizeof(rnd), 0) != 32)
		return 0;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(tok + 2 * i, 3, "%02x", rnd[i]);
	int64_t now = clock_now();
	pthread_mutex_lock(&cl_tk.mu);
	size_t slot = 0;
	for (size_t i = 0; i < CL_TICKETS; i++) /* a free or expired slot, else the oldest */
		if (cl_tk.t[i].expires < cl_tk.t[slot].expires)
			slot = i;
	cl_sha256(tok, olen, cl_tk.t[slot].hash);
	snprintf(cl_tk.t[slot].account, sizeof(cl_tk.t[slot].account), "%s", account);
	cl_tk.t[slot].expires = now + CL_TICKET_LIFE;
	pthread_mutex_unlock(&cl_tk.mu);
	explicit_bzero(rnd, sizeof(rnd));
	int n = snprintf(out, cap, "%s/c/register?ticket=%s&lang=%s", base, tok, lang);
	explicit_bzero(tok, sizeof(tok));
	return n > 0 && (size_t)n < cap;
}

/* The account of a live ticket; consume = 1 takes it out (single use). */
static int cl_ticket(const char *tok, int consume, char *account, size_t cap)
{
	uint8_t h[32];
	int found = 0;
	if (!tok || strlen(tok) != 64)
		return 0;
	cl_sha256(tok, 64, h);
	int64_t now = clock_now();
	pthread_mutex_lock(&cl_tk.mu);
	for (size_t i = 0; i < CL_TICKETS; i++) {
		int same = secmem_cmp(cl_tk.t[i].hash, h, 32) == 0;
		if (same && cl_tk.t[i].expires > now && !found) {
			found = 1;
			snprintf(account, cap, "%s", cl_tk.t[i].account);
			if (consume)
				memset(&cl_tk.t[i], 0, sizeof(cl_tk.t[i]));
		}
	}
	pthread_mutex_unlock(&cl_tk.mu);
	return found;
}

/* ---- the request: language, format, the presented certificates ---- */

struct cl_req {
	struct web_req *r;
	const char *lang; /* "sl" | "en" */
	int json;
};

static void cl_begin(struct cl_req *c, struct web_req *r)
{
	c->r = r;
	const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "lang");
	const char *al = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Language");
	const char *acc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept");
	c->lang = "sl";
	if (q && (strcmp(q, "en") == 0 || strcmp(q, "sl") == 0))
		c->lang = strcmp(q, "en") == 0 ? "en" : "sl";
	else if (al) {
		while (*al == ' ')
			al++;
		if (strncasecmp(al, "en", 2) == 0)
			c->lang = "en";
	}
	c->json =
	    acc && (strstr(acc, "application/json") || strstr(acc, "application/problem+json"));
}

#define L(c, sl, en) (strcmp((c)->lang, "en") == 0 ? (en) : (sl))

static size_t cl_peers(struct web_req *r, const uint8_t **der, size_t *len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return 0;
	gnutls_session_t s = (gnutls_session_t)ci->tls_session;
	if (gnutls_certificate_type_get(s) != GNUTLS_CRT_X509)
		return 0;
	unsigned n = 0;
	const gnutls_datum_t *l = gnutls_certificate_get_peers(s, &n);
	size_t k = 0;
	for (unsigned i = 0; l && i < n && k < CL_MAX_PEERS; i++) {
		der[k] = l[i].data;
		len[k++] = l[i].size;
	}
	return k;
}

static c2s_err cl_fetch(void *ctx, const char *url, const uint8_t *cert, size_t cert_len,
                        uint8_t **der, size_t *len, char *why, size_t why_cap)
{
	const struct config *cfg = ctx;
	struct rev_set set;
	const uint8_t *c[1] = {cert};
	size_t l[1] = {cert_len};
	(void)url; /* the certificate's own CDP, read again by the fetcher */
	c2s_err e = rev_crls_for(c, l, 1, (long)cfg->crl_timeout_ms, &set, why, why_cap);
	if (e != C2S_OK)
		return e;
	if (set.n == 0) {
		rev_set_free(&set);
		return C2S_ERR_NOT_FOUND;
	}
	*der = set.crl[0];
	*len = set.len[0];
	set.crl[0] = NULL;
	rev_set_free(&set);
	return C2S_OK;
}

/* Validates what the client presented; C2S_OK with res->reason set. */
static c2s_err cl_validate(struct web_req *r, struct cc_result *res)
{
	const struct config *cfg = r->ctx->cfg;
	const uint8_t *der[CL_MAX_PEERS];
	size_t len[CL_MAX_PEERS];
	size_t n = cl_peers(r, der, len);
	struct cc_options o = {.now = clock_now(),
	                       .require_revocation = cfg->require_revocation,
	                       .fetch = cfg->crl_fetch ? cl_fetch : NULL,
	                       .fetch_ctx = (void *)cfg};
	struct cl_snap *sn = cl_get(cfg);
	c2s_err e = sn ? cc_verify(sn->trust, der, len, n, &o, res) : C2S_ERR_CONFIG;
	cl_snap_put(sn);
	if (e == C2S_OK && (unsigned)res->reason < 11)
		atomic_fetch_add(&web_stats.cert_checks[res->reason], 1);
	if (e == C2S_OK && res->reason != CC_OK)
		log_info("customer certificate refused (%s): %s", cc_reason_type(res->reason),
		         res->detail);
	return e;
}

/* ---- answers ---- */

struct cl_text {
	int code; /* enum cc_reason, or one of CL_* below */
	unsigned status;
	const char *type;
	const char *title_sl, *title_en;
	const char *msg_sl, *msg_en; /* may hold one %s: the culprit or a date */
	const char *todo_sl, *todo_en;
};

enum {
	CL_BOUND_ELSEWHERE = 100,
	CL_NOT_REGISTERED,
	CL_ASSERTION,
	CL_RETURN_URL,
	CL_UNAVAILABLE,
	CL_CROSS_SITE
};

static const struct cl_text cl_texts[] = {
    {CC_MISSING, 403, "certificate-missing", "Brskalnik ni poslal potrdila",
     "No certificate was presented",
     "Brskalnik ni poslal digitalnega potrdila, zato vas ne moremo prepoznati.",
     "Your browser did not send a digital certificate, so we cannot recognise you.",
     "Namestite svoje kvalificirano digitalno potrdilo v brskalnik (ali vstavite pametno "
     "kartico v čitalnik), zaprite vsa okna brskalnika in znova odprite to stran. Ko brskalnik "
     "vpraša za potrdilo, izberite svoje.",
     "Install your qualified certificate in the browser (or insert your smart card into the "
     "reader), close every browser window and open this page again. When the browser asks for "
     "a certificate, choose yours."},
    {CC_INVALID, 403, "certificate-invalid", "Potrdila ni mogoče prebrati",
     "The certificate cannot be read", "Brskalnik je poslal potrdilo, ki ni veljavno.",
     "The browser sent a certificate that is not well-formed.",
     "Izberite drugo potrdilo ali se obrnite na izdajatelja potrdila.",
     "Choose another certificate or contact the certificate's issuer."},
    {CC_EXPIRED, 403, "certificate-expired", "Potrdilo je poteklo", "The certificate has expired",
     "Potrdilo je poteklo %s.", "The certificate expired on %s.",
     "Obnovite potrdilo pri izdajatelju in nato registrirajte novo potrdilo.",
     "Renew the certificate with its issuer, then register the new certificate."},
    {CC_NOT_YET_VALID, 403, "certificate-not-yet-valid", "Potrdilo še ne velja",
     "The certificate is not valid yet", "Potrdilo velja šele od %s.",
     "The certificate is valid only from %s.", "Poskusite znova po tem času.",
     "Try again after that time."},
    {CC_REVOKED, 403, "certificate-revoked", "Potrdilo je preklicano",
     "The certificate has been revoked", "Izdajatelj je potrdilo preklical %s.",
     "The issuer revoked the certificate on %s.",
     "Pridobite novo potrdilo pri izdajatelju in ga registrirajte.",
     "Obtain a new certificate from the issuer and register it."},
    {CC_UNTRUSTED, 403, "certificate-untrusted", "Izdajatelj potrdila ni med zaupanja vrednimi",
     "The certificate's issuer is not trusted", "Potrdil izdajatelja »%s« ta storitev ne sprejema.",
     "This service does not accept certificates issued by '%s'.",
     "Uporabite kvalificirano digitalno potrdilo slovenskega izdajatelja (na primer SIGEN-CA, "
     "POSTArCA ali Halcom).",
     "Use a qualified certificate from a Slovenian issuer (for example SIGEN-CA, POSTArCA or "
     "Halcom)."},
    {CC_CHAIN_INCOMPLETE, 403, "certificate-chain-incomplete", "Manjka vmesno potrdilo",
     "The certificate chain is incomplete",
     "Brskalnik ni poslal vmesnega potrdila izdajatelja »%s«.",
     "The browser did not send the intermediate certificate of '%s'.",
     "Namestite vmesno potrdilo izdajatelja (na voljo je na njegovi spletni strani) in "
     "poskusite znova.",
     "Install the issuer's intermediate certificate (available on the issuer's website) and "
     "try again."},
    {CC_USAGE, 403, "certificate-usage", "Potrdilo ni namenjeno prijavi",
     "The certificate is not meant for logging in",
     "Namen uporabe tega potrdila ne dovoljuje prijave ali podpisovanja.",
     "This certificate's permitted uses do not include logging in or signing.",
     "Izberite svoje osebno kvalificirano potrdilo za prijavo in podpisovanje.",
     "Choose your personal qualified certificate for authentication and signing."},
    {CC_WEAK, 403, "certificate-weak", "Potrdilo uporablja prešibko kriptografijo",
     "The certificate's cryptography is too weak",
     "Ključ ali podpis potrdila ne dosega varnostnih zahtev (RSA vsaj 2048 bitov, SHA-256 ali "
     "močnejši).",
     "The certificate's key or signature is below the security requirements (RSA of at least "
     "2048 bits, SHA-256 or stronger).",
     "Pridobite novo potrdilo pri izdajatelju.", "Obtain a new certificate from the issuer."},
    {CC_REVOCATION_UNKNOWN, 503, "certificate-revocation-unknown", "Preklica ni mogoče preveriti",
     "Revocation cannot be checked right now",
     "Trenutno ne moremo preveriti, ali je potrdilo preklicano.",
     "We cannot check right now whether the certificate has been revoked.",
     "Poskusite znova čez nekaj minut.", "Try again in a few minutes."},
    {CL_BOUND_ELSEWHERE, 409, "certificate-bound-elsewhere",
     "Potrdilo je registrirano za drug račun", "The certificate belongs to another account",
     "To potrdilo je že registrirano za drug uporabniški račun.",
     "This certificate is already registered to another account.",
     "Če je potrdilo vaše, se obrnite na podporo.",
     "If the certificate is yours, contact customer support."},
    {CL_NOT_REGISTERED, 403, "certificate-not-registered", "Potrdilo ni registrirano",
     "The certificate is not registered",
     "To potrdilo še ni povezano z nobenim uporabniškim računom.",
     "This certificate is not linked to any account yet.",
     "Prijavite se na portal na drug način in potrdilo registrirajte v nastavitvah računa.",
     "Log in to the portal another way and register the certificate in your account "
     "settings."},
    {CL_ASSERTION, 403, "assertion-invalid", "Povezava ni veljavna", "The link is not valid",
     "Povezava za registracijo potrdila je neveljavna, potekla ali že uporabljena.",
     "The certificate registration link is invalid, has expired or was used already.",
     "Vrnite se na portal in začnite registracijo znova.",
     "Go back to the portal and start the registration again."},
    {CL_RETURN_URL, 400, "return-url-not-allowed", "Naslov za vrnitev ni dovoljen",
     "The return address is not allowed",
     "Naslov, na katerega naj vas preusmerimo po prijavi, ni na seznamu dovoljenih.",
     "The address to return to after logging in is not on the allowed list.",
     "Odprite prijavo s portala.", "Start the login from the portal."},
    {CL_CROSS_SITE, 403, "cross-site-request", "Zahteva druge spletne strani",
     "A request from another website",
     "Registracijo je sprožila druga spletna stran, zato je ne izvedemo.",
     "The registration was started by another website, so it is not carried out.",
     "Registracijo začnite na portalu.", "Start the registration on the portal."},
    {CL_UNAVAILABLE, 503, "certificate-login-unavailable", "Prijava trenutno ni mogoča",
     "Login is not possible right now", "Storitev za prijavo s potrdilom trenutno ni na voljo.",
     "Certificate login is not available right now.", "Poskusite znova čez nekaj minut.",
     "Try again in a few minutes."},
};

static const struct cl_text *cl_text(int code)
{
	for (size_t i = 0; i < sizeof(cl_texts) / sizeof(cl_texts[0]); i++)
		if (cl_texts[i].code == code)
			return &cl_texts[i];
	return &cl_texts[sizeof(cl_texts) / sizeof(cl_texts[0]) - 1];
}

static void cl_date(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(out, cap, "?");
}

struct cl_page {
	struct cl_req *c;
	struct buf b;
};

static void cl_put(struct cl_page *p, const char *s)
{
	if (buf_put(&p->b, s, strlen(s)) != C2S_OK)
		return; /* a cut page, never an overrun */
}

static void cl_page_begin(struct cl_page *p, struct cl_req *c, const char *title)
{
	p->c = c;
	buf_init(&p->b, 64 * 1024);
	cl_put(p, "<!DOCTYPE html>\n<html lang=\"");
	cl_put(p, c->lang);
	cl_put(p, "\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
	          "content=\"width=device-width, initial-scale=1\"><title>");
	web_esc(&p->b, title);
	cl_put(p, " – Click2Sign</title><link rel=\"stylesheet\" href=\"/assets/c2s.css\"></head>"
	          "<body><header><p class=\"brand\">Click2Sign</p></header><main><h1>");
	web_esc(&p->b, title);
	cl_put(p, "</h1>");
}

static void cl_page_cert(struct cl_page *p, const struct cc_result *res)
{
	if (!res || !res->subject[0])
		return;
	char date[40];
	cl_date(res->not_after, date, sizeof(date));
	cl_put(p, "<dl id=\"certificate\"><dt>");
	cl_put(p, L(p->c, "Imetnik", "Holder"));
	cl_put(p, "</dt><dd id=\"cert-subject\">");
	web_esc(&p->b, res->common_name[0] ? res->common_name : res->subject);
	cl_put(p, "</dd><dt>");
	cl_put(p, L(p->c, "Izdajatelj", "Issuer"));
	cl_put(p, "</dt><dd id=\"cert-issuer\">");
	web_esc(&p->b, res->issuer);
	cl_put(p, "</dd><dt>");
	cl_put(p, L(p->c, "Serijska številka", "Serial number"));
	cl_put(p, "</dt><dd>");
	web_esc(&p->b, res->serial);
	cl_put(p, "</dd><dt>");
	cl_put(p, L(p->c, "Velja do", "Valid until"));
	cl_put(p, "</dt><dd>");
	web_esc(&p->b, date);
	cl_put(p, "</dd></dl>");
}

static enum MHD_Result cl_page_end(struct cl_page *p, unsigned status)
{
	cl_put(p, "</main></body></html>\n");
	if (buf_put_u8(&p->b, 0) != C2S_OK) {
		buf_free(&p->b);
		return web_problem(p->c->r, C2S_ERR_NOMEM, NULL);
	}
	char *html = (char *)p->b.data;
	p->b.data = NULL;
	buf_free(&p->b);
	return web_html(p->c->r, status, html, NULL);
}

/* A refusal: a page that explains, or problem+json naming the certificate. `arg` fills the
 * message's %s; `detail` is the English technical reason (problem+json, log). */
static enum MHD_Result cl_refuse(struct cl_req *c, int code, const char *arg, const char *detail,
                                 const struct cc_result *res)
{
	if (code >= CL_BOUND_ELSEWHERE)
		atomic_fetch_add(&web_stats.cert_refused_other, 1);
	const struct cl_text *t = cl_text(code);
	char msg[700];
	const char *fmt = L(c, t->msg_sl, t->msg_en), *hole = strstr(fmt, "%s");
	if (hole)
		snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(hole - fmt), fmt,
		         arg && arg[0] ? arg : "?", hole + 2);
	else
		snprintf(msg, sizeof(msg), "%s", fmt);
	if (c->json) {
		char d[1400];
		if (res && res->subject[0])
			snprintf(d, sizeof(d), "%s (certificate '%s', issued by '%s')",
			         detail && detail[0] ? detail : t->msg_en, res->subject,
			         res->issuer);
		else
			snprintf(d, sizeof(d), "%s", detail && detail[0] ? detail : t->msg_en);
		cc_utf8_trim(d);
		cc_utf8_trim(msg);
		json_t *extra = json_pack("{s:s, s:s}", "message", msg, "what_to_do",
		                          L(c, t->todo_sl, t->todo_en));
		if (extra && res && res->subject[0]) {
			json_object_set_new(extra, "subject", json_string(res->subject));
			json_object_set_new(extra, "issuer", json_string(res->issuer));
			json_object_set_new(extra, "serial", json_string(res->serial));
			if (res->culprit[0])
				json_object_set_new(extra, "about", json_string(res->culprit));
			if (res->reason == CC_REVOKED) {
				char date[40];
				cl_date(res->revoked_at, date, sizeof(date));
				json_object_set_new(extra, "revoked_at", json_string(date));
			}
		}
		return web_problem_ex(c->r, t->status, t->type, t->title_en, d, extra);
	}
	struct cl_page p;
	cl_page_begin(&p, c, L(c, t->title_sl, t->title_en));
	cl_put(&p, "<p id=\"error\" class=\"error\" role=\"alert\" data-reason=\"");
	cl_put(&p, t->type);
	cl_put(&p, "\">");
	web_esc(&p.b, msg);
	cl_put(&p, "</p><p id=\"what-to-do\">");
	web_esc(&p.b, L(c, t->todo_sl, t->todo_en));
	cl_put(&p, "</p>");
	cl_page_cert(&p, res);
	return cl_page_end(&p, t->status);
}

static enum MHD_Result cl_refuse_cert(struct cl_req *c, const struct cc_result *res)
{
	char arg[512] = "";
	switch (res->reason) {
	case CC_EXPIRED:
	case CC_NOT_YET_VALID:
	case CC_REVOKED:
		cl_date(res->at, arg, sizeof(arg));
		break;
	default:
		snprintf(arg, sizeof(arg), "%s", res->culprit);
	}
	return cl_refuse(c, res->reason, arg, res->detail, res);
}

/* ---- the portal's assertion (registration) ---- */

static c2s_err cl_assertion(struct web_req *r, const char *tok, char *account, size_t cap,
                            char *jti, size_t jti_cap, int64_t *exp, char *why, size_t why_cap)
{
	const struct config *cfg = r->ctx->cfg;
	json_t *claims = NULL;
	c2s_err ret = C2S_ERR_MANIFEST;
	ENSURE(tok && tok[0], C2S_ERR_MANIFEST);
	struct cl_snap *sn = cl_get(cfg);
	ret = sn && sn->n_portal
	          ? jws_verify(tok, strlen(tok), (const struct jws_key *const *)sn->portal,
	                       sn->n_portal, "JWT", &claims, why, why_cap)
	          : C2S_ERR_CONFIG;
	cl_snap_put(sn);
	if (ret == C2S_ERR_CONFIG)
		snprintf(why, why_cap,
		         "no portal key is configured (click2sign-admin portal-key add)");
	GUARD(ret);
	struct jws_expect ex = {.aud = cfg->public_url,
	                        .now = clock_now(),
	                        .max_lifetime = CL_ASSERT_LIFE,
	                        .leeway = CL_ASSERT_LEEWAY};
	GUARD(jws_claims_check(claims, &ex, why, why_cap));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	const char *j = json_string_value(json_object_get(claims, "jti"));
	if (!sub || !certbind_account_ok(sub))
		WHY(C2S_ERR_MANIFEST, "sub: not an account id (1 to 128 of A-Z a-z 0-9 . _ : @ -)");
	snprintf(account, cap, "%s", sub);
	snprintf(jti, jti_cap, "%s", j ? j : "");
	*exp = (int64_t)json_integer_value(json_object_get(claims, "exp"));
	ret = C2S_OK;
out:
	json_decref(claims);
	return ret;
}

/* The allow-listed return URL (the first one when none is asked for), or NULL. */
static const char *cl_return_url(const struct config *cfg, const char *asked)
{
	if (!asked || !asked[0])
		return cfg->n_return_urls ? cfg->return_urls[0] : NULL;
	for (const char *p = asked; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' || *p == '"' ||
		    *p == '<' || *p == '>' || *p == '\\')
			return NULL;
	/* no dot segment in the path (a browser would resolve "/prijava/.." out of the allowed
	 * path), in any spelling, and no assertion of its own in any spelling */
	if (strcasestr(asked, "%2e") || strcasestr(asked, "%2f"))
		return NULL;
	size_t plen = strcspn(asked, "?");
	for (const char *seg = asked; seg < asked + plen;) {
		size_t sl = strcspn(seg, "/?");
		if (seg + sl > asked + plen)
			sl = (size_t)(asked + plen - seg);
		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return NULL;
		seg += sl + 1;
	}
	char dec[512];
	size_t o = 0;
	for (const char *q = asked; *q && o + 1 < sizeof(dec); q++) {
		if (*q == '%' && isxdigit((unsigned char)q[1]) && isxdigit((unsigned char)q[2])) {
			char h[3] = {q[1], q[2], 0};
			dec[o++] = (char)strtol(h, NULL, 16);
			q += 2;
		} else {
			dec[o++] = *q;
		}
	}
	dec[o] = 0;
	if (strcasestr(dec, "assertion"))
		return NULL;
	for (size_t i = 0; i < cfg->n_return_urls; i++) {
		const char *u = cfg->return_urls[i];
		size_t n = strlen(u);
		if (strncmp(asked, u, n) == 0 &&
		    (asked[n] == 0 || asked[n] == '?' || asked[n] == '/' || u[n - 1] == '/'))
			return asked;
	}
	return NULL;
}

/* ---- routes ---- */

/* The confirmation's token: an HMAC (a key of this process) of the assertion or ticket it
 * confirms, so that a token or cookie from one registration never confirms another. */
static int cl_csrf_for(const char *what, char out[33])
{
	static uint8_t key[32];
	static int have;
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	uint8_t mac[32];
	pthread_mutex_lock(&mu);
	if (!have && getrandom(key, sizeof(key), 0) == (ssize_t)sizeof(key))
		have = 1;
	pthread_mutex_unlock(&mu);
	if (!have || !what ||
	    mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, sizeof(key),
	                    (const unsigned char *)what, strlen(what), mac) != 0)
		return 0;
	for (size_t i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 1;
}

/* A request another website made the browser send (a cross-site fetch may set Accept: JSON):
 * Sec-Fetch-Site says so in current browsers, Origin in the others. */
static int cl_cross_site(struct web_req *r)
{
	const char *sfs = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
	const char *own = r->ctx->cfg->cert_public_url;
	if (sfs && strcmp(sfs, "same-origin") != 0 && strcmp(sfs, "none") != 0)
		return 1;
	return origin && (!own[0] || strcmp(origin, own) != 0);
}

static void cl_hidden(struct cl_page *p, const char *name, const char *value)
{
	if (!value || !value[0])
		return;
	cl_put(p, "<input type=\"hidden\" name=\"");
	cl_put(p, name);
	cl_put(p, "\" value=\"");
	web_esc(&p->b, value);
	cl_put(p, "\">");
}

static enum MHD_Result cl_register_confirm(struct web_req *r, struct cl_req *c,
                                           const struct cc_result *res, const char *account,
                                           const char *tok, const char *ticket,
                                           const char *ret_param)
{
	char csrf[33], cookie[160];
	if (!cl_csrf_for(tok ? tok : ticket, csrf))
		return cl_refuse(c, CL_UNAVAILABLE, NULL, "no randomness", NULL);
	snprintf(cookie, sizeof(cookie),
	         "c2s_reg=%s; Path=/c/; Max-Age=900; Secure; HttpOnly; SameSite=Strict", csrf);
	struct cl_page p;
	cl_page_begin(&p, c,
	              L(c, "Registracija digitalnega potrdila", "Register your certificate"));
	cl_put(&p, "<p id=\"register-question\">");
	cl_put(&p, L(c, "Ali želite to potrdilo povezati z uporabniškim računom ",
	             "Do you want to link this certificate to the account "));
	cl_put(&p, "<strong id=\"register-account\">");
	web_esc(&p.b, account);
	cl_put(&p, "</strong>? ");
	cl_put(&p, L(c,
	             "Nato se boste lahko prijavili z njim. Če računa ne prepoznate, ne "
	             "nadaljujte.",
	             "You will then be able to log in with it. If you do not recognise the "
	             "account, do not go on."));
	cl_put(&p, "</p>");
	cl_page_cert(&p, res);
	cl_put(&p, "<form method=\"post\" action=\"/c/register\">");
	cl_hidden(&p, "assertion", tok);
	cl_hidden(&p, "ticket", tok ? NULL : ticket);
	cl_hidden(&p, "return", ret_param);
	cl_hidden(&p, "lang", c->lang);
	cl_hidden(&p, "csrf", csrf);
	cl_put(&p, "<button type=\"submit\" id=\"register-confirm\">");
	cl_put(&p, L(c, "Poveži potrdilo z računom", "Link the certificate to the account"));
	cl_put(&p, "</button></form>");
	cl_put(&p, "</main></body></html>\n");
	if (buf_put_u8(&p.b, 0) != C2S_OK) {
		buf_free(&p.b);
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	}
	char *html = (char *)p.b.data;
	p.b.data = NULL;
	buf_free(&p.b);
	return web_html(r, 200, html, cookie);
}

/* Registration: the account from the portal's assertion or the confirmation page's ticket, the
 * certificate validated; then, in a browser, a page that names the account and asks to confirm
 * (a POST with a token bound to a cookie), so that following someone else's registration link
 * never binds one's certificate to their account unnoticed. A JSON client binds at once. */
static enum MHD_Result cl_register(struct web_req *r, struct cl_req *cr, const char *tok,
                                   const char *ticket, const char *ret_param, int confirmed)
{
	struct cl_req c = *cr;
	struct cc_result res;
	char account[CERTBIND_ACCOUNT_MAX], jti[129], why[300] = "", other[CERTBIND_ACCOUNT_MAX];
	int64_t exp = 0;
	if (tok && !tok[0])
		tok = NULL;
	if (ticket && !ticket[0])
		ticket = NULL;
	c2s_err e = C2S_OK;
	if (ticket && !tok) { /* after link + SMS code: the confirmation page's ticket */
		if (!cl_ticket(ticket, 0, account, sizeof(account))) {
			log_info(
			    "certificate registration refused: unknown, used or expired ticket");
			return cl_refuse(&c, CL_ASSERTION, NULL,
			                 "ticket: unknown, used already or expired (15 minutes)",
			                 NULL);
		}
		jti[0] = 0;
	} else {
		e = cl_assertion(r, tok, account, sizeof(account), jti, sizeof(jti), &exp, why,
		                 sizeof(why));
		if (e != C2S_OK) {
			log_info("certificate registration refused: portal assertion: %s", why);
			return cl_refuse(&c, CL_ASSERTION, NULL, why, NULL);
		}
	}
	if (cl_validate(r, &res) != C2S_OK)
		return cl_refuse(&c, CL_UNAVAILABLE, NULL, "the trust store could not be read",
		                 NULL);
	if (res.reason != CC_OK)
		return cl_refuse_cert(&c, &res);
	if (!confirmed)
		return cl_register_confirm(r, &c, &res, account, tok, ticket, ret_param);
	struct certbind b;
	memset(&b, 0, sizeof(b));
	memcpy(b.spki_sha256, res.spki_sha256, 32);
	memcpy(b.issuer_sha256, res.issuer_sha256, 32);
	snprintf(b.serial, sizeof(b.serial), "%s", res.serial);
	snprintf(b.account, sizeof(b.account), "%s", account);
	snprintf(b.subject, sizeof(b.subject), "%s", res.subject);
	snprintf(b.issuer, sizeof(b.issuer), "%s", res.issuer);
	b.not_after = res.not_after;
	int already = 0;
	/* a ticket is used up by the attempt that gets this far (bound, or bound elsewhere) */
	if (ticket && !tok && !cl_ticket(ticket, 1, account, sizeof(account)))
		return cl_refuse(&c, CL_ASSERTION, NULL, "ticket: used already", NULL);
	e = r->ctx->store ? certbind_add(r->ctx->store, &b, clock_now(), jti[0] ? jti : NULL, exp,
	                                 &already, other)
	                  : C2S_ERR_STORE;
	if (e == C2S_ERR_CONFLICT) {
		log_info("certificate %s refused for account %s: bound to another account",
		         res.fingerprint, account);
		return cl_refuse(&c, CL_BOUND_ELSEWHERE, NULL,
		                 "the certificate or its key is registered to another account",
		                 &res);
	}
	if (e == C2S_ERR_MANIFEST_REPLAY)
		return cl_refuse(&c, CL_ASSERTION, NULL, "jti: this assertion was used already",
		                 NULL);
	if (e != C2S_OK)
		return cl_refuse(&c, CL_UNAVAILABLE, NULL, c2s_err_message(e), NULL);
	if (!already)
		atomic_fetch_add(&web_stats.cert_registered, 1);
	log_info("certificate %s %s account %s", res.fingerprint,
	         already ? "was already registered to" : "registered to", account);
	if (c.json) {
		json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:I}", "registered", 1,
		                      "account", account, "fingerprint", res.fingerprint, "subject",
		                      res.subject, "issuer", res.issuer, "serial", res.serial,
		                      "not_after", (json_int_t)res.not_after);
		if (j)
			json_object_set_new(j, "already", json_boolean(already));
		return web_json(r, already ? 200 : 201, j);
	}
	struct cl_page p;
	cl_page_begin(&p, &c, L(&c, "Potrdilo je registrirano", "Certificate registered"));
	cl_put(&p, "<p id=\"registered\" role=\"status\">");
	cl_put(&p, already ? L(&c, "To potrdilo je že povezano z vašim računom. ",
	                       "This certificate was already linked to your account. ")
	                   : L(&c, "Potrdilo je povezano z vašim računom. ",
	                       "The certificate is now linked to your account. "));
	cl_put(&p,
	       L(&c, "Odslej se lahko z njim prijavite.", "From now on you can log in with it."));
	cl_put(&p, "</p>");
	cl_page_cert(&p, &res);
	const char *back = cl_return_url(r->ctx->cfg, ret_param);
	if (back) {
		cl_put(&p, "<p><a id=\"back\" href=\"");
		web_esc(&p.b, back);
		cl_put(&p, "\">");
		cl_put(&p, L(&c, "Nazaj na portal", "Back to the portal"));
		cl_put(&p, "</a></p>");
	}
	return cl_page_end(&p, already ? 200 : 201);
}

enum MHD_Result web_cert_register(struct web_req *r)
{
	struct cl_req c;
	cl_begin(&c, r);
	/* JSON binds at once, but never for another website's request */
	if (c.json && cl_cross_site(r)) {
		log_info("certificate registration refused: a cross-site request");
		return cl_refuse(&c, CL_CROSS_SITE, NULL,
		                 "Sec-Fetch-Site or Origin says another website made this request",
		                 NULL);
	}
	return cl_register(
	    r, &c, MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "assertion"),
	    MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "ticket"),
	    MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "return"), c.json);
}

/* The confirmation: the form's token must be the cookie's (set with the question). */
enum MHD_Result web_cert_register_post(struct web_req *r)
{
	struct cl_req c;
	char *assertion = malloc(JWS_MAX_LEN + 1);
	char ticket[80], ret[600], csrf[80], lang[8];
	if (!assertion)
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	web_form_field(&r->body, "assertion", assertion, JWS_MAX_LEN + 1);
	web_form_field(&r->body, "ticket", ticket, sizeof(ticket));
	web_form_field(&r->body, "return", ret, sizeof(ret));
	web_form_field(&r->body, "csrf", csrf, sizeof(csrf));
	web_form_field(&r->body, "lang", lang, sizeof(lang));
	cl_begin(&c, r);
	if (strcmp(lang, "en") == 0)
		c.lang = "en";
	const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "c2s_reg");
	char want[33];
	enum MHD_Result m;
	if (!cl_csrf_for(assertion[0] ? assertion : ticket, want) || !cookie ||
	    strlen(cookie) != 32 || strlen(csrf) != 32 || secmem_cmp(cookie, want, 32) != 0 ||
	    secmem_cmp(csrf, want, 32) != 0) {
		log_info(
		    "certificate registration refused: the confirmation's token does not match "
		    "its cookie");
		m = cl_refuse(&c, CL_ASSERTION, NULL,
		              "the confirmation form is not from this browser's registration page",
		              NULL);
	} else {
		m = cl_register(r, &c, assertion, ticket, ret, 1);
	}
	explicit_bzero(assertion, JWS_MAX_LEN + 1);
	free(assertion);
	return m;
}

enum MHD_Result web_cert_login(struct web_req *r)
{
	struct cl_req c;
	struct cc_result res;
	char account[CERTBIND_ACCOUNT_MAX], why[300] = "";
	cl_begin(&c, r);
	const char *ret_url = cl_return_url(
	    r->ctx->cfg, MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "return"));
	if (!ret_url)
		return cl_refuse(&c, CL_RETURN_URL, NULL,
		                 r->ctx->cfg->n_return_urls
		                     ? "return is not one of [certlogin] return_url"
		                     : "no [certlogin] return_url is configured on this appliance",
		                 NULL);
	if (cl_validate(r, &res) != C2S_OK)
		return cl_refuse(&c, CL_UNAVAILABLE, NULL, "the trust store could not be read",
		                 NULL);
	if (res.reason != CC_OK)
		return cl_refuse_cert(&c, &res);
	c2s_err e = r->ctx->store
	                ? certbind_login(r->ctx->store, res.spki_sha256, res.issuer_sha256,
	                                 res.serial, clock_now(), account, sizeof(account))
	                : C2S_ERR_STORE;
	if (e == C2S_ERR_NOT_FOUND)
		return cl_refuse(&c, CL_NOT_REGISTERED, NULL,
		                 "no account has registered this certificate", &res);
	if (e != C2S_OK)
		return cl_refuse(&c, CL_UNAVAILABLE, NULL, c2s_err_message(e), NULL);
	char *jws = NULL;
	e = khc_assertion(account, "", &jws, why, sizeof(why));
	if (e != C2S_OK) {
		log_error("login assertion for account %s not issued: %s", account,
		          why[0] ? why : c2s_err_message(e));
		return cl_refuse(&c, CL_UNAVAILABLE, NULL,
		                 "the login assertion could not be issued", NULL);
	}
	atomic_fetch_add(&web_stats.cert_logins, 1);
	log_info("certificate %s logged in account %s", res.fingerprint, account);
	size_t n = strlen(ret_url) + strlen(jws) + 16;
	char *loc = malloc(n);
	if (!loc) {
		free(jws);
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	}
	snprintf(loc, n, "%s%cassertion=%s", ret_url, strchr(ret_url, '?') ? '&' : '?', jws);
	enum MHD_Result m;
	if (c.json)
		m = web_json(r, 200,
		             json_pack("{s:s, s:s, s:s}", "account", account, "assertion", jws,
		                       "location", loc));
	else
		m = web_redirect(r, loc, NULL);
	free(loc);
	free(jws);
	return m;
}

/* What the appliance thinks of the presented certificate, without binding anything: the
 * support line's first question. */
enum MHD_Result web_cert_check(struct web_req *r)
{
	struct cl_req c;
	struct cc_result res;
	cl_begin(&c, r);
	if (cl_validate(r, &res) != C2S_OK)
		return cl_refuse(&c, CL_UNAVAILABLE, NULL, "the trust store could not be read",
		                 NULL);
	if (res.reason != CC_OK)
		return cl_refuse_cert(&c, &res);
	if (c.json)
		return web_json(r, 200,
		                json_pack("{s:b, s:s, s:s, s:s, s:s, s:I}", "valid", 1, "subject",
		                          res.subject, "issuer", res.issuer, "serial", res.serial,
		                          "fingerprint", res.fingerprint, "not_after",
		                          (json_int_t)res.not_after));
	struct cl_page p;
	cl_page_begin(&p, &c, L(&c, "Potrdilo je veljavno", "The certificate is valid"));
	cl_put(&p, "<p id=\"check-ok\" role=\"status\">");
	cl_put(&p, L(&c, "Potrdilo je veljavno in ga ta storitev sprejema.",
	             "The certificate is valid and this service accepts it."));
	cl_put(&p, "</p>");
	cl_page_cert(&p, &res);
	return cl_page_end(&p, 200);
}

/* ---- the portal's API ---- */

static void cl_list_one(void *ctx, const struct certbind *b)
{
	json_t *arr = ctx;
	char fp[65];
	for (int i = 0; i < 32; i++)
		snprintf(fp + 2 * i, 3, "%02x", b->spki_sha256[i]);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "fingerprint", fp, "subject",
	                      b->subject, "issuer", b->issuer, "serial", b->serial, "not_after",
	                      (json_int_t)b->not_after, "registered_at", (json_int_t)b->created_at);
	if (o && b->last_login_at)
		json_object_set_new(o, "last_login_at", json_integer(b->last_login_at));
	if (o)
		json_array_append_new(arr, o);
}

enum MHD_Result web_account_certs(struct web_req *r)
{
	if (!certbind_account_ok(r->param[0]))
		return web_problem(r, C2S_ERR_ARG,
		                   "the account id must be 1 to 128 of A-Z a-z 0-9 . _ : @ -");
	json_t *arr = json_array();
	if (!arr)
		return web_problem(r, C2S_ERR_NOMEM, NULL);
	c2s_err e = r->ctx->store ? certbind_list(r->ctx->store, r->param[0], cl_list_one, arr)
	                          : C2S_ERR_STORE;
	if (e != C2S_OK) {
		json_decref(arr);
		return web_problem(r, e, NULL);
	}
	return web_json(r, 200,
	                json_pack("{s:s, s:o}", "account", r->param[0], "certificates", arr));
}

enum MHD_Result web_account_cert_delete(struct web_req *r)
{
	if (!certbind_account_ok(r->param[0]))
		return web_problem(r, C2S_ERR_ARG,
		                   "the account id must be 1 to 128 of A-Z a-z 0-9 . _ : @ -");
	c2s_err e = r->ctx->store ? certbind_remove(r->ctx->store, r->param[0], r->param[1])
	                          : C2S_ERR_STORE;
	if (e == C2S_ERR_NOT_FOUND)
		return web_problem(r, e,
		                   "this account has no certificate with that fingerprint (the hex "
		                   "SHA-256 of its public key, as the list shows)");
	if (e != C2S_OK)
		return web_problem(r, e, NULL);
	log_info("client %s unbound certificate %.64s from account %s", r->client, r->param[1],
	         r->param[0]);
	return web_json(r, 200,
	                json_pack("{s:s, s:s, s:b}", "account", r->param[0], "fingerprint",
	                          r->param[1], "removed", 1));
}
