/* The Signature Activation Module: sole control over customers' signatures.
 *
 * Even a fully compromised c2s-web cannot obtain a customer signature that the customer did not
 * confirm with the code sent to the phone the portal named:
 * - the signer, the phone and the document hashes come from the portal's signed manifest, which
 *   the keyholder verifies itself (firmware/certs/jws.c) and keeps in its own store;
 * - the keyholder draws the code, keeps only a keyed hash of it, and hands the SMS text to
 *   c2s-notify directly (otp.c); counters are flushed before every comparison (khstore.c);
 * - a correct code yields a SAD: random, in locked memory, bound to the order and its
 *   documents, short-lived;
 * - to sign document n the web sends the SHA-256 midstate of the original and the update; the
 *   keyholder checks the original's hash against the manifest, scans the update (scan.c),
 *   computes the message digest, builds the signed attributes itself, signs, and marks the
 *   document used (one signature per document and SAD).
 * In signer mode each customer gets a key generated in the token at code verification and a
 * short-lived certificate issued with the appliance's issuing-CA key (issue.c); the key is
 * destroyed when the order ends, and leftovers are swept when the token first opens. */
#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "issue_int.h"
#include "keyholder_int.h"
#include "khstore_int.h"
#include "otp_int.h"
#include "scan_int.h"
#include "firmware/base/clock.h"
#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "firmware/base/secmem.h"
#include "firmware/certs/jws.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/orders/audit.h"
#include "firmware/pades/cms.h"
#include "firmware/pades/midstate.h"

#define SAM_MAX_SADS        256
#define SAM_MAX_PORTAL_KEYS 16
#define SAM_MANIFEST_LIFE   600 /* seconds: a portal manifest's exp - iat at most */
#define SAM_LEEWAY          60
#define SAM_SIGNER_PREFIX   "c2s-signer-"

struct sam_sad {
	int live;
	uint8_t sad[KHMSG_SAD_LEN];
	char order[KHMSG_ORDER_MAX + 1];
	int64_t expires;
	int signer;    /* the order's own key (signer mode), else the seal key */
	uint8_t *cert; /* signer mode: the certificate issued for this SAD */
	size_t cert_len;
};

struct kh_sam {
	pthread_mutex_t mu; /* sads, portal keys, store state */
	struct khstore *store;
	char store_why[256];
	uint8_t *otp_key;
	struct otp_policy pol;
	struct jws_key *portal[SAM_MAX_PORTAL_KEYS];
	size_t nportal;
	struct timespec portal_mtime;
	struct sam_sad sads[SAM_MAX_SADS];
	pthread_mutex_t notify_mu;
	int notify_fd;
	/* signer mode, while the token is open (under the keyholder's hsm_lock) */
	struct hsm_key *ca;
	uint8_t *ca_chain[KHMSG_MAX_CHAIN]; /* [0] the issuing CA, then its issuers */
	size_t ca_chain_len[KHMSG_MAX_CHAIN];
	size_t n_ca_chain;
	int swept;
};

/* ---- set-up ---- */

static void sam_portal_keys_load(struct kh *k)
{
	struct kh_sam *s = k->sam;
	struct stat st;
	const char *dir = k->cfg->portal_keys;
	if (stat(dir, &st) != 0) {
		if (s->nportal)
			log_warn("portal key directory %s is gone; no portal key is trusted", dir);
		for (size_t i = 0; i < s->nportal; i++)
			jws_key_free(s->portal[i]);
		s->nportal = 0;
		memset(&s->portal_mtime, 0, sizeof(s->portal_mtime));
		return;
	}
	if (st.st_mtim.tv_sec == s->portal_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->portal_mtime.tv_nsec)
		return;
	s->portal_mtime = st.st_mtim;
	for (size_t i = 0; i < s->nportal; i++)
		jws_key_free(s->portal[i]);
	s->nportal = 0;
	s->nportal = jws_keys_from_dir(dir, s->portal, SAM_MAX_PORTAL_KEYS);
}

c2s_err kh_sam_init(struct kh *k)
{
	c2s_err ret = C2S_ERR_NOMEM;
	struct kh_sam *s = secmem_alloc(sizeof(*s));
	ENSURE(s != NULL, C2S_ERR_NOMEM);
	k->sam = s;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->notify_mu, NULL);
	s->notify_fd = -1;
	s->pol = (struct otp_policy){.digits = 6,
	                             .lifetime_s = k->cfg->otp_lifetime,
	                             .max_tries = k->cfg->otp_tries,
	                             .max_per_hour = k->cfg->otp_per_hour,
	                             .resend_s = k->cfg->otp_resend};
	GUARD(otp_key_new(&s->otp_key));
	if (khstore_open(k->cfg->kh_state_dir, &s->store, s->store_why, sizeof(s->store_why)) !=
	    C2S_OK) {
		s->store = NULL;
		log_error(
		    "keyholder store unusable, customer signing is refused (sealing goes on): "
		    "%s",
		    s->store_why);
	}
	sam_portal_keys_load(k);
	if (k->cfg->portal_signature && s->nportal == 0)
		log_warn("no portal key in %s: orders will be refused until one is added with "
		         "click2sign-admin portal-key add",
		         k->cfg->portal_keys);
	ret = C2S_OK;
out:
	return ret;
}

static void sam_sad_clear(struct sam_sad *d)
{
	free(d->cert);
	explicit_bzero(d, sizeof(*d));
}

void kh_sam_fini(struct kh *k)
{
	struct kh_sam *s = k->sam;
	if (!s)
		return;
	for (size_t i = 0; i < SAM_MAX_SADS; i++)
		sam_sad_clear(&s->sads[i]);
	for (size_t i = 0; i < s->nportal; i++)
		jws_key_free(s->portal[i]);
	if (s->notify_fd >= 0)
		close(s->notify_fd);
	khstore_close(s->store);
	otp_key_free(s->otp_key);
	secmem_free(s, sizeof(*s));
	k->sam = NULL;
}

/* ---- the token: issuing CA, leftover signer keys ---- */

struct sam_sweep {
	char labels[64][96];
	size_t n;
};

static void sam_sweep_cb(void *ctx, const struct hsm_key_info *ki)
{
	struct sam_sweep *w = ctx;
	if (strncmp(ki->label, SAM_SIGNER_PREFIX, strlen(SAM_SIGNER_PREFIX)) == 0 && w->n < 64)
		snprintf(w->labels[w->n++], sizeof(w->labels[0]), "%s", ki->label);
}

/* Token objects are made and destroyed under the token's write lock, with no other session
 * working: SoftHSM2 2.6 fails a C_GenerateKeyPair that runs beside other sessions' searches
 * and signatures now and then (CKR_GENERAL_ERROR or CKR_TEMPLATE_INCONSISTENT, ~1 in 130
 * orders at 2 threads, tests/bench/sam_bench.sh) and leaves a half-made key behind. */
static void sam_destroy_key(struct kh *k, const char *label)
{
	struct hsm_key *key = NULL;
	char why[256];
	if (hsm_key_find(k->hsm, label, &key, why, sizeof(why)) != C2S_OK)
		return;
	if (hsm_key_destroy(k->hsm, key) != C2S_OK)
		log_error("could not destroy the signer key %s", label);
	else
		log_info("signer key %s destroyed", label);
	hsm_key_free(key);
}

/* Called with the token just opened, under the write lock. */
c2s_err kh_sam_token_open(struct kh *k, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct kh_sam *s = k->sam;
	mbedtls_x509_crt chain;
	struct buf spki;
	mbedtls_x509_crt_init(&chain);
	buf_init(&spki, 4096);
	if (!s->swept) { /* SADs live in memory only: every signer key left is an orphan */
		struct sam_sweep w = {.n = 0};
		if (hsm_key_list(k->hsm, sam_sweep_cb, &w) == C2S_OK) {
			for (size_t i = 0; i < w.n; i++)
				sam_destroy_key(k, w.labels[i]);
			s->swept = 1;
		}
	}
	if (!k->cfg->signer_ca_key[0]) {
		ret = C2S_OK;
		goto out;
	}
	GUARD(hsm_key_find(k->hsm, k->cfg->signer_ca_key, &s->ca, why, why_cap));
	if (mbedtls_x509_crt_parse_file(&chain, k->cfg->signer_ca_chain) != 0 || !chain.raw.len)
		WHY(C2S_ERR_CHAIN, "cannot parse [signer] ca_chain %s", k->cfg->signer_ca_chain);
	for (mbedtls_x509_crt *c = &chain; c && c->raw.len && s->n_ca_chain < KHMSG_MAX_CHAIN;
	     c = c->next) {
		uint8_t *d = malloc(c->raw.len);
		ENSURE(d != NULL, C2S_ERR_NOMEM);
		memcpy(d, c->raw.p, c->raw.len);
		s->ca_chain[s->n_ca_chain] = d;
		s->ca_chain_len[s->n_ca_chain++] = c->raw.len;
	}
	GUARD(hsm_key_spki(k->hsm, s->ca, &spki));
	if (!kh_cert_matches_der(s->ca_chain[0], s->ca_chain_len[0], spki.data, spki.len))
		WHY(C2S_ERR_CERT_MISMATCH,
		    "the first certificate of [signer] ca_chain %s is not the certificate of the "
		    "issuing-CA key '%s'",
		    k->cfg->signer_ca_chain, k->cfg->signer_ca_key);
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&chain);
	buf_free(&spki);
	return ret;
}

void kh_sam_token_close(struct kh *k)
{
	struct kh_sam *s = k->sam;
	if (!s)
		return;
	if (s->ca)
		hsm_key_free(s->ca);
	s->ca = NULL;
	for (size_t i = 0; i < s->n_ca_chain; i++)
		free(s->ca_chain[i]);
	s->n_ca_chain = 0;
}

/* ---- helpers ---- */

static c2s_err sam_store(struct kh *k, char *why, size_t cap)
{
	if (k->sam->store)
		return C2S_OK;
	snprintf(why, cap, "%s: %s", c2s_err_message(C2S_ERR_KHSTORE), k->sam->store_why);
	return C2S_ERR_KHSTORE;
}

static c2s_err sam_reply_error(int fd, c2s_err e, const char *why)
{
	return ipc_send_error(fd, e, why && why[0] ? why : c2s_err_message(e));
}

static void sam_mask_phone(const char *phone, char *out, size_t cap)
{
	size_t n = strlen(phone);
	if (n < 7) {
		snprintf(out, cap, "***");
		return;
	}
	snprintf(out, cap, "%.4s%.*s%s", phone, (int)(n - 6), "*************", phone + n - 2);
}

static int sam_hex32(const char *hex, uint8_t out[32])
{
	if (strlen(hex) != 64)
		return 0;
	for (size_t i = 0; i < 32; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + j];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			                               : -1;
			if (d < 0)
				return 0;
			v = v * 16 + d;
		}
		out[i] = (uint8_t)v;
	}
	return 1;
}

static int sam_phone_ok(const char *p)
{
	size_t n = strlen(p);
	if (n < 9 || n > 16 || p[0] != '+' || p[1] < '1' || p[1] > '9')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static c2s_err sam_str(json_t *o, const char *key, char *out, size_t cap, const char *path,
                       char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		WHY(C2S_ERR_MANIFEST, "claim %s.%s: a non-empty string of at most %zu bytes", path,
		    key, cap - 1);
	snprintf(out, cap, "%s", json_string_value(v));
	ret = C2S_OK;
out:
	return ret;
}

/* The manifest's own content: signer and documents (the registered claims are checked by
 * jws_claims_check before). */
static c2s_err sam_manifest_fill(json_t *c, struct kh_manifest *m, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_MANIFEST;
	json_t *signer = json_object_get(c, "signer"), *docs = json_object_get(c, "documents");
	json_t *ref = json_object_get(c, "reference");
	if (!json_is_string(ref) || json_string_length(ref) == 0 || json_string_length(ref) > 128)
		WHY(C2S_ERR_MANIFEST, "claim reference: a string of 1 to 128 bytes");
	if (!json_is_object(signer))
		WHY(C2S_ERR_MANIFEST, "claim signer: an object with given_name, family_name, "
		                      "email and phone");
	GUARD(sam_str(signer, "given_name", m->given, sizeof(m->given), "signer", why, why_cap));
	GUARD(sam_str(signer, "family_name", m->family, sizeof(m->family), "signer", why, why_cap));
	GUARD(sam_str(signer, "email", m->email, sizeof(m->email), "signer", why, why_cap));
	GUARD(sam_str(signer, "phone", m->phone, sizeof(m->phone), "signer", why, why_cap));
	if (!sam_phone_ok(m->phone))
		WHY(C2S_ERR_MANIFEST, "claim signer.phone: an E.164 number such as +38641123456");
	if (!json_is_array(docs) || json_array_size(docs) == 0 ||
	    json_array_size(docs) > KH_MAX_DOCS)
		WHY(C2S_ERR_MANIFEST, "claim documents: an array of 1 to %d SHA-256 hashes",
		    KH_MAX_DOCS);
	m->ndocs = json_array_size(docs);
	for (size_t i = 0; i < m->ndocs; i++) {
		json_t *h = json_array_get(docs, i);
		if (!json_is_string(h) || !sam_hex32(json_string_value(h), m->docs[i]))
			WHY(C2S_ERR_MANIFEST,
			    "claim documents[%zu]: the lowercase hex SHA-256 of the document", i);
	}
	ret = C2S_OK;
out:
	return ret;
}

/* ---- IPC_MANIFEST_REQ ---- */

c2s_err kh_on_manifest(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	struct kh_sam *s = k->sam;
	struct khmsg_manifest mr;
	struct kh_manifest m;
	json_t *claims = NULL;
	char why[512] = "";
	int64_t now = clock_now();
	c2s_err e, ret = khmsg_manifest_decode(&msg->body, &mr);
	if (ret != C2S_OK)
		return ret; /* malformed: the channel is dropped */
	memset(&m, 0, sizeof(m));
	e = sam_store(k, why, sizeof(why));
	if (e == C2S_OK && k->cfg->portal_signature) {
		pthread_mutex_lock(&s->mu);
		sam_portal_keys_load(k);
		if (s->nportal == 0) {
			e = C2S_ERR_MANIFEST;
			snprintf(why, sizeof(why),
			         "no portal key is provisioned on this appliance; add the portal's "
			         "public key with click2sign-admin portal-key add");
		} else {
			e = jws_verify(mr.jws, mr.jws_len, (const struct jws_key *const *)s->portal,
			               s->nportal, "c2s-order+jwt", &claims, why, sizeof(why));
		}
		pthread_mutex_unlock(&s->mu);
		struct jws_expect ex = {.aud = k->cfg->public_url,
		                        .now = now,
		                        .max_lifetime = SAM_MANIFEST_LIFE,
		                        .leeway = SAM_LEEWAY};
		if (e == C2S_OK)
			e = jws_claims_check(claims, &ex, why, sizeof(why));
		if (e == C2S_OK)
			snprintf(m.jti, sizeof(m.jti), "%s",
			         json_string_value(json_object_get(claims, "jti")));
	} else if (e == C2S_OK) {
		/* [orders] portal_signature = off: the web's word is taken (documented risk) */
		json_error_t je;
		if (c2s_json_parse(mr.jws, mr.jws_len, JSON_REJECT_DUPLICATES, &claims, &je) ==
		    C2S_ERR_NOMEM) {
			e = C2S_ERR_NOMEM;
			snprintf(why, sizeof(why),
			         "unsigned manifest: out of memory while reading it");
		} else if (!json_is_object(claims)) {
			e = C2S_ERR_MANIFEST;
			snprintf(why, sizeof(why), "unsigned manifest: not a JSON object");
		}
		snprintf(m.jti, sizeof(m.jti), "unsigned-%s", mr.order);
	}
	if (e == C2S_OK)
		e = sam_manifest_fill(claims, &m, why, sizeof(why));
	if (e == C2S_OK) {
		uint32_t life = mr.expires_in ? mr.expires_in : 86400;
		if (life > k->cfg->order_max_lifetime)
			life = k->cfg->order_max_lifetime;
		snprintf(m.order, sizeof(m.order), "%s", mr.order);
		m.order_expires = now + life;
		e = khstore_manifest_put(s->store, &m, now, why, sizeof(why));
	}
	json_decref(claims);
	if (e != C2S_OK) {
		log_info("manifest for order %s refused: %s", mr.order, why);
		return sam_reply_error(fd, e, why);
	}
	log_info("manifest for order %s accepted: %zu documents, jti %s", mr.order, m.ndocs, m.jti);
	uint8_t body[4] = {0, 0, 0, (uint8_t)m.ndocs};
	return ipc_send(fd, IPC_DONE_RESP, body, sizeof(body));
}

/* ---- IPC_OTP_SEND_REQ ---- */

/* What notify may answer the keyholder. */
static const struct ipc_row sam_notify_replies[] = {
    {IPC_SMS_RESP, IPC_PEER_NOTIFY, IPC_ST_ANY, 4, 4, 0, NULL},
};

/* Hands the SMS to c2s-notify and waits until it is queued durably. */
static c2s_err sam_sms(struct kh_sam *s, const char *to, const char *text, char *why,
                       size_t why_cap)
{
	c2s_err ret = C2S_ERR_IPC;
	struct buf b;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	struct ipc_msg m;
	const struct ipc_row *row;
	uint32_t code = 0;
	buf_init(&b, 1024);
	pthread_mutex_lock(&s->notify_mu);
	ENSURE(rx != NULL, C2S_ERR_NOMEM);
	if (s->notify_fd < 0)
		WHY(C2S_ERR_IPC, "the notification process is not available; ask for a code again "
		                 "in a moment");
	GUARD(buf_put_str(&b, to));
	GUARD(buf_put_str(&b, text));
	if (ipc_send(s->notify_fd, IPC_SMS_REQ, b.data, b.len) != C2S_OK ||
	    ipc_recv(s->notify_fd, rx, &m, 10000) != C2S_OK ||
	    ipc_route(IPC_ROWS(sam_notify_replies), IPC_PEER_NOTIFY, IPC_ST_ANY, &m, &row) !=
	        C2S_OK ||
	    buf_get_u32(&m.body, &code) != C2S_OK) {
		close(s->notify_fd); /* a late answer would confuse the next request */
		s->notify_fd = -1;
		WHY(C2S_ERR_IPC, "the notification process did not take the SMS; ask for a code "
		                 "again in a moment");
	}
	if (code != C2S_OK)
		WHY(c2s_err_known((int)code) ? (c2s_err)code : C2S_ERR_IO,
		    "the SMS could not be queued; ask for a code again in a moment");
	ret = C2S_OK;
out:
	pthread_mutex_unlock(&s->notify_mu);
	buf_free_secret(&b);
	free(rx);
	return ret;
}

/* The configured text with the code in place of its one %s. */
static void sam_sms_text(const char *tmpl, const char *code, char *out, size_t cap)
{
	const char *p = strstr(tmpl, "%s");
	if (!p) {
		snprintf(out, cap, "%s", code);
		return;
	}
	snprintf(out, cap, "%.*s%s%s", (int)(p - tmpl), tmpl, code, p + 2);
}

static c2s_err sam_reply_otp(int fd, const struct khmsg_otp *o)
{
	struct buf b;
	buf_init(&b, 256);
	c2s_err r = khmsg_otp_encode(o, &b);
	if (r == C2S_OK)
		r = ipc_send(fd, IPC_OTP_RESP, b.data, b.len);
	buf_free_secret(&b);
	return r;
}

c2s_err kh_on_otp_send(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	struct kh_sam *s = k->sam;
	char order[KHMSG_ORDER_MAX + 1], why[512] = "";
	struct khmsg_otp o;
	struct kh_manifest m = {.order_expires = 0};
	int64_t now = clock_now(), retry = 0;
	char *code = secmem_alloc(16), *text = secmem_alloc(512);
	c2s_err e, ret = C2S_ERR_NOMEM;
	memset(&o, 0, sizeof(o));
	ENSURE(code && text, C2S_ERR_NOMEM);
	ret = buf_get_str(&msg->body, order, sizeof(order));
	ENSURE(ret == C2S_OK && buf_left(&msg->body) == 0 && khmsg_order_ok(order),
	       C2S_ERR_IPC_MALFORMED);
	e = sam_store(k, why, sizeof(why));
	if (e == C2S_OK && (e = khstore_manifest_get(s->store, order, &m)) != C2S_OK)
		snprintf(why, sizeof(why), "order %s has no manifest the portal signed", order);
	if (e == C2S_OK && s->notify_fd < 0) {
		e = C2S_ERR_IPC;
		snprintf(why, sizeof(why),
		         "the notification process is not available; ask for a "
		         "code again in a moment");
	}
	if (e == C2S_OK)
		e = otp_issue(s->store, &s->pol, s->otp_key, order, now, code, &retry, why,
		              sizeof(why));
	if (e == C2S_ERR_OTP_TOO_SOON || e == C2S_ERR_OTP_LIMIT) {
		o.result = e;
		o.retry_after = retry;
		sam_mask_phone(m.phone, o.phone_masked, sizeof(o.phone_masked));
		ret = sam_reply_otp(fd, &o);
		goto out;
	}
	if (e == C2S_OK) {
		sam_sms_text(k->cfg->otp_text, code, text, 512);
		e = sam_sms(s, m.phone, text, why, sizeof(why));
	}
	if (e != C2S_OK) {
		log_info("code for order %s not sent: %s", order, why);
		ret = sam_reply_error(fd, e == C2S_ERR_NOT_FOUND ? C2S_ERR_SAD : e, why);
		goto out;
	}
	log_info("code sent for order %s", order); /* never the code */
	o.result = C2S_OK;
	o.tries_left = s->pol.max_tries;
	o.expires_at = now + s->pol.lifetime_s;
	o.retry_after = now + s->pol.resend_s;
	sam_mask_phone(m.phone, o.phone_masked, sizeof(o.phone_masked));
	ret = sam_reply_otp(fd, &o);
out:
	if (code)
		secmem_free(code, 16);
	if (text)
		secmem_free(text, 512);
	return ret;
}

/* ---- IPC_OTP_VERIFY_REQ ---- */

/* Signer mode: a fresh key in the token for this order and a certificate valid as long as the
 * SAD. Called without sam->mu; takes the token's write lock (see sam_destroy_key). */
static c2s_err sam_signer_key(struct kh *k, const struct kh_manifest *m, int64_t now, int64_t until,
                              uint8_t **cert, size_t *cert_len, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct kh_sam *s = k->sam;
	struct hsm_key *key = NULL;
	struct buf spki, der;
	char label[96];
	buf_init(&spki, 4096);
	buf_init(&der, ISSUE_CERT_MAX);
	snprintf(label, sizeof(label), SAM_SIGNER_PREFIX "%s", m->order);
	pthread_rwlock_wrlock(&k->hsm_lock);
	ENSURE(k->hsm && s->ca && s->n_ca_chain, C2S_ERR_HSM_NO_TOKEN);
	sam_destroy_key(k, label); /* a key from an earlier code of this order */
	const char *t = k->cfg->signer_key_type;
	struct hsm_keygen g = {.type = t[0] == 'r' ? HSM_KEY_RSA : HSM_KEY_EC,
	                       .rsa_bits = strcmp(t, "rsa:3072") == 0 ? 3072 : 2048,
	                       .curve = strcmp(t, "ec:p384") == 0 ? HSM_CURVE_P384 : HSM_CURVE_P256,
	                       .label = label};
	ret = hsm_key_generate(k->hsm, &g, &key, why, why_cap);
	GUARD(ret);
	GUARD(hsm_key_spki(k->hsm, key, &spki));
	struct issue_req rq = {.subject = {.given_name = m->given, .surname = m->family},
	                       .spki = spki.data,
	                       .spki_len = spki.len,
	                       .issuer_cert = s->ca_chain[0],
	                       .issuer_cert_len = s->ca_chain_len[0],
	                       .not_before = now - ISSUE_BACKDATE_S,
	                       .not_after = until};
	struct issue_hsm ih;
	GUARD(issue_serial_draw(rq.serial));
	GUARD(issue_hsm_setup(&ih, k->hsm, s->ca, &rq));
	GUARD(issue_cert(&rq, issue_hsm_sign, &ih, &der, why, why_cap));
	*cert = malloc(der.len);
	ENSURE(*cert != NULL, C2S_ERR_NOMEM);
	memcpy(*cert, der.data, der.len);
	*cert_len = der.len;
	ret = C2S_OK;
out:
	if (ret != C2S_OK && key && hsm_key_destroy(k->hsm, key) != C2S_OK)
		log_error("could not destroy the unused signer key %s", label);
	if (key)
		hsm_key_free(key);
	pthread_rwlock_unlock(&k->hsm_lock);
	buf_free(&spki);
	buf_free(&der);
	return ret;
}

c2s_err kh_on_otp_verify(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	struct kh_sam *s = k->sam;
	char order[KHMSG_ORDER_MAX + 1], why[512] = "";
	char *code = secmem_alloc(32);
	struct khmsg_otp o;
	struct kh_manifest m = {.order_expires = 0};
	unsigned tries = 0;
	int64_t now = clock_now();
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	c2s_err e, ret = C2S_ERR_NOMEM;
	memset(&o, 0, sizeof(o));
	ENSURE(code != NULL, C2S_ERR_NOMEM);
	ret = buf_get_str(&msg->body, order, sizeof(order));
	if (ret == C2S_OK)
		ret = buf_get_str(&msg->body, code, 32);
	ENSURE(ret == C2S_OK && buf_left(&msg->body) == 0 && khmsg_order_ok(order),
	       C2S_ERR_IPC_MALFORMED);
	e = sam_store(k, why, sizeof(why));
	if (e == C2S_OK && (e = khstore_manifest_get(s->store, order, &m)) != C2S_OK)
		snprintf(why, sizeof(why), "order %s has no manifest the portal signed", order);
	if (e == C2S_OK)
		e = otp_verify(s->store, &s->pol, s->otp_key, order, code, now, &tries);
	if (e == C2S_ERR_OTP_WRONG || e == C2S_ERR_OTP_EXPIRED || e == C2S_ERR_OTP_EXHAUSTED ||
	    e == C2S_ERR_OTP_NONE || e == C2S_ERR_OTP_LIMIT) {
		log_info("code for order %s refused: %s (%u tries left)", order, c2s_err_name(e),
		         tries);
		o.result = e;
		o.tries_left = tries;
		ret = sam_reply_otp(fd, &o);
		goto out;
	}
	int64_t until = now + k->cfg->sad_lifetime;
	if (until > m.order_expires)
		until = m.order_expires;
	if (e == C2S_OK && k->cfg->signer_ca_key[0])
		e = sam_signer_key(k, &m, now, until, &cert, &cert_len, why, sizeof(why));
	/* the order may have ended while its key was made: then neither key nor SAD survive */
	struct kh_manifest again;
	if (e == C2S_OK &&
	    (khstore_manifest_get(s->store, order, &again) != C2S_OK || again.ended)) {
		char label[96];
		snprintf(label, sizeof(label), SAM_SIGNER_PREFIX "%s", order);
		pthread_rwlock_wrlock(&k->hsm_lock);
		if (k->hsm && cert)
			sam_destroy_key(k, label);
		pthread_rwlock_unlock(&k->hsm_lock);
		e = C2S_ERR_SAD;
		snprintf(why, sizeof(why), "order %s ended while the code was being verified",
		         order);
	}
	if (e != C2S_OK) {
		log_info("no signature activation for order %s: %s", order, why);
		ret = sam_reply_error(fd, e == C2S_ERR_NOT_FOUND ? C2S_ERR_SAD : e, why);
		goto out;
	}
	/* the SAD: replaces an earlier one of the same order */
	pthread_mutex_lock(&s->mu);
	struct sam_sad *slot = NULL;
	for (size_t i = 0; i < SAM_MAX_SADS; i++) {
		struct sam_sad *d = &s->sads[i];
		if (d->live && (strcmp(d->order, order) == 0 || d->expires <= now))
			sam_sad_clear(d);
		if (!d->live && !slot)
			slot = d;
	}
	if (slot && getrandom(slot->sad, sizeof(slot->sad), 0) == (ssize_t)sizeof(slot->sad)) {
		slot->live = 1;
		snprintf(slot->order, sizeof(slot->order), "%s", order);
		slot->expires = until;
		slot->signer = cert != NULL;
		slot->cert = cert;
		slot->cert_len = cert_len;
		cert = NULL;
		memcpy(o.sad, slot->sad, sizeof(o.sad));
		e = C2S_OK;
	} else {
		e = C2S_ERR_BUSY;
	}
	pthread_mutex_unlock(&s->mu);
	if (e != C2S_OK) {
		ret = sam_reply_error(fd, e, "too many signing sessions at once; retry shortly");
		goto out;
	}
	log_info("signature activation for order %s until %lld (%s mode)", order, (long long)until,
	         k->cfg->signer_ca_key[0] ? "signer" : "seal");
	o.result = C2S_OK;
	o.expires_at = until;
	o.ndocs = (uint32_t)m.ndocs;
	ret = sam_reply_otp(fd, &o);
out:
	explicit_bzero(&o, sizeof(o));
	free(cert);
	if (code)
		secmem_free(code, 32);
	return ret;
}

/* ---- IPC_SIGN_DOC_REQ ---- */

/* Finds the live SAD equal to `sad` (compared in constant time with every slot) and copies what
 * signing needs. */
static c2s_err sam_sad_find(struct kh_sam *s, const uint8_t *sad, const char *order, int64_t now,
                            int *signer, uint8_t **cert, size_t *cert_len)
{
	c2s_err ret = C2S_ERR_SAD;
	struct sam_sad *hit = NULL;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < SAM_MAX_SADS; i++) {
		int eq = secmem_cmp(s->sads[i].sad, sad, KHMSG_SAD_LEN) == 0;
		if (eq && s->sads[i].live)
			hit = &s->sads[i];
	}
	if (hit && hit->expires > now && strcmp(hit->order, order) == 0) {
		*signer = hit->signer;
		*cert = NULL;
		*cert_len = 0;
		ret = C2S_OK;
		if (hit->signer) {
			*cert = malloc(hit->cert_len);
			ret = *cert ? C2S_OK : C2S_ERR_NOMEM;
			if (*cert) {
				memcpy(*cert, hit->cert, hit->cert_len);
				*cert_len = hit->cert_len;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* Encodes the reply under the token lock (the seal certificate and chains belong to the open
 * token); the caller sends it after unlocking. */
static c2s_err sam_encode_signed(struct kh *k, struct buf *out, const struct buf *attrs,
                                 const uint8_t *sig, size_t sig_len, int signer,
                                 const uint8_t *cert, size_t cert_len, enum hsm_key_type kt)
{
	struct khmsg_signed r = {.hash = KHMSG_SHA256,
	                         .sig = kt == HSM_KEY_EC ? KHMSG_SIG_ECDSA : KHMSG_SIG_RSA_PKCS1,
	                         .attrs = attrs->data,
	                         .attrs_len = attrs->len,
	                         .signature = sig,
	                         .signature_len = sig_len};
	if (signer) {
		r.cert = cert;
		r.cert_len = cert_len;
		for (size_t i = 0; i < k->sam->n_ca_chain; i++) {
			r.chain[r.n_chain] = k->sam->ca_chain[i];
			r.chain_len[r.n_chain++] = k->sam->ca_chain_len[i];
		}
	} else {
		r.cert = k->cert;
		r.cert_len = k->cert_len;
		for (size_t i = 0; i < k->n_chain; i++) {
			r.chain[r.n_chain] = k->chain[i];
			r.chain_len[r.n_chain++] = k->chain_len[i];
		}
	}
	return khmsg_signed_encode(&r, out);
}

c2s_err kh_on_sign_doc(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	struct kh_sam *s = k->sam;
	struct khmsg_sign_doc d;
	struct kh_manifest m;
	struct scan_result sr;
	struct c2s_sha256 orig;
	struct buf attrs;
	struct hsm_key *key = NULL;
	uint8_t *cert = NULL, h[32], md[32], sig[HSM_MAX_SIG];
	size_t cert_len = 0, sig_len = sizeof(sig);
	uint64_t orig_len = 0;
	int signer = 0, used = 0, locked = 0;
	char why[512] = "", label[96];
	int64_t now = clock_now();
	c2s_err e, ret = khmsg_sign_doc_decode(&msg->body, &d);
	if (ret != C2S_OK)
		return ret;
	buf_init(&attrs, 8192);
	c2s_sha256_init(&orig);
	e = sam_store(k, why, sizeof(why));
	if (e == C2S_OK) {
		e = sam_sad_find(s, d.sad, d.order, now, &signer, &cert, &cert_len);
		if (e == C2S_ERR_SAD)
			snprintf(why, sizeof(why),
			         "no valid signature activation for order %s: "
			         "confirm with the SMS code again",
			         d.order);
	}
	if (e == C2S_OK && (e = khstore_manifest_get(s->store, d.order, &m)) != C2S_OK)
		snprintf(why, sizeof(why), "order %s has no manifest", d.order);
	if (e == C2S_OK && (m.ended || d.doc >= m.ndocs)) {
		e = C2S_ERR_SAD;
		snprintf(why, sizeof(why), "document %u is not one the customer authorised", d.doc);
	}
	if (e == C2S_OK && khstore_doc_used(s->store, d.order, (int)d.doc, &used) == C2S_OK &&
	    used) {
		e = C2S_ERR_DOC_USED;
		snprintf(why, sizeof(why), "document %u of order %s is already signed", d.doc,
		         d.order);
	}
	/* the original: its hash must be the one the portal signed */
	if (e == C2S_OK) {
		e = midstate_import(d.midstate, d.midstate_len, &orig, &orig_len);
		if (e != C2S_OK) {
			e = C2S_ERR_UPDATE_REFUSED;
			snprintf(why, sizeof(why), "the hash state of the original is malformed");
		}
	}
	if (e == C2S_OK) {
		c2s_sha256_peek(&orig, h);
		if (secmem_cmp(h, m.docs[d.doc], 32) != 0) {
			e = C2S_ERR_UPDATE_REFUSED;
			snprintf(why, sizeof(why),
			         "the original is not document %u as the portal authorised it",
			         d.doc);
		}
	}
	if (e == C2S_OK)
		e = scan_update(d.update, d.update_len, orig_len, &sr, why, sizeof(why));
	if (e == C2S_OK && scan_digest(&orig, d.update, d.update_len, &sr, md) != C2S_OK) {
		e = C2S_ERR_UPDATE_REFUSED;
		snprintf(why, sizeof(why), "the byte ranges cannot be hashed");
	}
	/* the signed attributes, built here */
	pthread_rwlock_rdlock(&k->hsm_lock);
	locked = 1;
	enum hsm_key_type kt = HSM_KEY_EC;
	if (e == C2S_OK && !k->hsm) {
		e = C2S_ERR_HSM_NO_TOKEN;
		snprintf(why, sizeof(why), "%s", k->reason);
	}
	if (e == C2S_OK) {
		snprintf(label, sizeof(label), "%s", k->cfg->seal_key);
		if (signer) {
			snprintf(label, sizeof(label), SAM_SIGNER_PREFIX "%s", d.order);
			e = hsm_key_find(k->hsm, label, &key, why, sizeof(why));
		}
		struct hsm_key *use = signer ? key : k->seal;
		/* the type is known without asking the token (a search costs more than the
		 * signature) */
		kt = signer ? (k->cfg->signer_key_type[0] == 'r' ? HSM_KEY_RSA : HSM_KEY_EC)
		            : k->key_type;
		if (e == C2S_OK && !use)
			e = C2S_ERR_HSM_NO_KEY;
		if (e == C2S_OK && !signer && k->hash != HSM_HASH_SHA256) {
			e = C2S_ERR_HSM_MECHANISM;
			snprintf(why, sizeof(why),
			         "customer signing in seal mode needs a seal key "
			         "that signs with SHA-256 (RSA or P-256)");
		}
		struct cms_signer cs = {.cert = signer ? cert : k->cert,
		                        .cert_len = signer ? cert_len : k->cert_len,
		                        .hash = CMS_SHA256,
		                        .sig =
		                            kt == HSM_KEY_EC ? CMS_SIG_ECDSA : CMS_SIG_RSA_PKCS1};
		if (e == C2S_OK)
			e = cms_signed_attrs(&cs, md, 32, &attrs);
		if (e == C2S_OK)
			e = cms_hash_buf(CMS_SHA256, attrs.data, attrs.len, h);
		if (e == C2S_OK)
			e = hsm_sign(k->hsm, use,
			             kt == HSM_KEY_EC ? HSM_MECH_ECDSA : HSM_MECH_RSA_PKCS1,
			             HSM_HASH_SHA256, h, 32, sig, &sig_len);
	}
	/* one signature per document: the mark (and the log row, in the same commit) is durable
	 * before the signature leaves */
	if (e == C2S_OK && (e = khstore_doc_signed(s->store, d.order, (int)d.doc, now, label, h, 32,
	                                           "c2s-web")) == C2S_ERR_DOC_USED)
		snprintf(why, sizeof(why), "document %u of order %s is already signed", d.doc,
		         d.order);
	struct buf rep;
	buf_init(&rep, IPC_MAX_BODY);
	if (e == C2S_OK && (e = sam_encode_signed(k, &rep, &attrs, sig, sig_len, signer, cert,
	                                          cert_len, kt)) == C2S_OK)
		log_info("document %u of order %s signed (%s key)", d.doc, d.order,
		         signer ? "signer" : "seal");
	if (e != C2S_OK)
		log_info("document %u of order %s not signed: %s", d.doc, d.order,
		         why[0] ? why : c2s_err_message(e));
	if (key)
		hsm_key_free(key);
	if (locked)
		pthread_rwlock_unlock(&k->hsm_lock);
	/* the reply leaves after the unlock: a web peer that stops reading its socket stalls this
	 * channel's thread, never a key generation or another customer's signature */
	ret = e == C2S_OK ? ipc_send(fd, IPC_SIGN_DOC_RESP, rep.data, rep.len)
	                  : sam_reply_error(fd, e, why);
	buf_free(&rep);
	buf_free(&attrs);
	free(cert);
	return ret;
}

/* ---- IPC_ORDER_END_REQ ---- */

c2s_err kh_on_order_end(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	struct kh_sam *s = k->sam;
	char order[KHMSG_ORDER_MAX + 1], label[96], why[256] = "";
	uint8_t reason = 0;
	c2s_err e, ret = buf_get_str(&msg->body, order, sizeof(order));
	if (ret == C2S_OK)
		ret = buf_get_u8(&msg->body, &reason);
	if (ret != C2S_OK || buf_left(&msg->body) || !khmsg_order_ok(order))
		return C2S_ERR_IPC_MALFORMED;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < SAM_MAX_SADS; i++)
		if (s->sads[i].live && strcmp(s->sads[i].order, order) == 0)
			sam_sad_clear(&s->sads[i]);
	pthread_mutex_unlock(&s->mu);
	e = sam_store(k, why, sizeof(why));
	if (e == C2S_OK)
		e = khstore_manifest_end(s->store, order);
	snprintf(label, sizeof(label), SAM_SIGNER_PREFIX "%s", order);
	pthread_rwlock_wrlock(&k->hsm_lock);
	if (k->hsm)
		sam_destroy_key(k, label);
	pthread_rwlock_unlock(&k->hsm_lock);
	if (e != C2S_OK && e != C2S_ERR_NOT_FOUND)
		return sam_reply_error(fd, e, why);
	log_info("order %s ended (%u): signature activation withdrawn", order, reason);
	uint8_t body[4] = {0};
	return ipc_send(fd, IPC_DONE_RESP, body, sizeof(body));
}

/* ---- IPC_CHECKPOINT_REQ: the audit chain's head, signed with the seal key ---- */

c2s_err kh_on_checkpoint(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	uint32_t hi, lo;
	uint8_t head[32], tbs[AUDIT_CHECKPOINT_TBS], h[32], sig[HSM_MAX_SIG];
	size_t sig_len = sizeof(sig);
	int64_t last = 0, at = clock_now();
	char why[256] = "";
	if (buf_get_u32(&msg->body, &hi) != C2S_OK || buf_get_u32(&msg->body, &lo) != C2S_OK ||
	    buf_get(&msg->body, head, 32) != C2S_OK || buf_left(&msg->body))
		return C2S_ERR_IPC_MALFORMED;
	int64_t seq = (int64_t)(((uint64_t)hi << 32) | lo);
	c2s_err e = sam_store(k, why, sizeof(why));
	/* never a head at or behind the last one signed: the keyholder's own record decides */
	if (e == C2S_OK && seq > 0 &&
	    (e = khstore_checkpoint_advance(k->sam->store, seq, &last)) == C2S_ERR_CONFLICT)
		snprintf(why, sizeof(why),
		         "checkpoint %lld is not beyond the last one signed (%lld)", (long long)seq,
		         (long long)last);
	if (e == C2S_OK && seq <= 0) {
		e = C2S_ERR_ARG;
		snprintf(why, sizeof(why), "no event to sign");
	}
	audit_checkpoint_tbs(seq, head, at, tbs);
	pthread_rwlock_rdlock(&k->hsm_lock);
	if (e == C2S_OK && (!k->hsm || !k->seal || !k->cert))
		e = C2S_ERR_HSM_NO_TOKEN;
	if (e == C2S_OK)
		e = cms_hash_buf(CMS_SHA256, tbs, sizeof(tbs), h);
	if (e == C2S_OK)
		e = hsm_sign(k->hsm, k->seal,
		             k->key_type == HSM_KEY_EC ? HSM_MECH_ECDSA : HSM_MECH_RSA_PKCS1,
		             HSM_HASH_SHA256, h, 32, sig, &sig_len);
	struct buf b;
	buf_init(&b, IPC_MAX_BODY);
	if (e == C2S_OK &&
	    (buf_put_u32(&b, (uint32_t)((uint64_t)at >> 32)) != C2S_OK ||
	     buf_put_u32(&b, (uint32_t)at) != C2S_OK || buf_put_blob(&b, sig, sig_len) != C2S_OK ||
	     buf_put_blob(&b, k->cert, k->cert_len) != C2S_OK))
		e = C2S_ERR_NOMEM;
	pthread_rwlock_unlock(&k->hsm_lock);
	if (e == C2S_OK) {
		if (khstore_sig_log(k->sam->store, at, k->cfg->seal_key, h, 32,
		                    "c2s-web:checkpoint", NULL, -1) != C2S_OK)
			log_error("checkpoint signature not written to the signature log");
		log_info("audit checkpoint %lld signed", (long long)seq);
		e = ipc_send(fd, IPC_CHECKPOINT_RESP, b.data, b.len);
	} else {
		e = sam_reply_error(fd, e, why);
	}
	buf_free(&b);
	return e;
}

/* ---- IPC_ASSERTION_REQ: a login assertion for the portal (API.md section 4) ----
 * The web names only the account (and the order, if any); the keyholder sets every other
 * claim itself: iss = this appliance, aud = the portal, iat = now, exp = now + 300 (at most
 * 5 minutes), a random single-use jti, and signs with the assertion key in the token. There is
 * no way to have it sign claims the web wrote. */

#define SAM_ASSERTION_LIFE 300

static int sam_account_ok(const char *a)
{
	size_t n = strlen(a);
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._:@-", c)))
			return 0;
	}
	return 1;
}

struct sam_jws_signer {
	struct kh *k;
	struct hsm_key *key;
};

static c2s_err sam_jws_sign(void *ctx, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	struct sam_jws_signer *s = ctx;
	uint8_t der[HSM_MAX_SIG];
	size_t dl = sizeof(der);
	c2s_err e =
	    hsm_sign(s->k->hsm, s->key, HSM_MECH_ECDSA, HSM_HASH_SHA256, digest, 32, der, &dl);
	if (e != C2S_OK)
		return e;
	/* JWS wants raw r||s: DER SEQUENCE { INTEGER r, INTEGER s } back to 32 + 32 bytes */
	mbedtls_mpi r, t;
	unsigned char *p = der, *end = der + dl;
	size_t len;
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&t);
	int bad =
	    mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
	    mbedtls_asn1_get_mpi(&p, end, &r) || mbedtls_asn1_get_mpi(&p, end, &t) ||
	    *sig_len < 64 || mbedtls_mpi_write_binary(&r, sig, 32) ||
	    mbedtls_mpi_write_binary(&t, sig + 32, 32);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&t);
	*sig_len = 64;
	return bad ? C2S_ERR_CMS : C2S_OK;
}

c2s_err kh_on_assertion(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	char account[129], order[KHMSG_ORDER_MAX + 1], why[256] = "", jti[40];
	uint8_t rnd[18];
	char *out = NULL;
	struct hsm_key *key = NULL;
	if (buf_get_str(&msg->body, account, sizeof(account)) != C2S_OK ||
	    buf_get_str(&msg->body, order, sizeof(order)) != C2S_OK || buf_left(&msg->body) ||
	    !sam_account_ok(account) || (order[0] && !khmsg_order_ok(order)))
		return C2S_ERR_IPC_MALFORMED;
	c2s_err e = C2S_OK;
	if (!k->cfg->assertion_key[0]) {
		e = C2S_ERR_CONFIG;
		snprintf(why, sizeof(why),
		         "no [assertions] key configured: this appliance issues no "
		         "login assertions");
	}
	if (e == C2S_OK && getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		e = C2S_ERR_INTERNAL;
	for (size_t i = 0; e == C2S_OK && i < sizeof(rnd); i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	int64_t now = clock_now();
	json_t *claims = NULL;
	if (e == C2S_OK) {
		claims =
		    json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", k->cfg->public_url, "aud",
		              k->cfg->assertion_aud[0] ? k->cfg->assertion_aud : k->cfg->public_url,
		              "sub", account, "iat", (json_int_t)now, "exp",
		              (json_int_t)(now + SAM_ASSERTION_LIFE), "jti", jti);
		if (claims && order[0])
			json_object_set_new(claims, "order", json_string(order));
		e = claims ? C2S_OK : C2S_ERR_NOMEM;
	}
	pthread_rwlock_rdlock(&k->hsm_lock);
	if (e == C2S_OK && !k->hsm)
		e = C2S_ERR_HSM_NO_TOKEN;
	if (e == C2S_OK)
		e = hsm_key_find(k->hsm, k->cfg->assertion_key, &key, why, sizeof(why));
	struct sam_jws_signer js = {.k = k, .key = key};
	if (e == C2S_OK)
		e = jws_sign(JWS_ES256, "JWT", claims, sam_jws_sign, &js, &out, why, sizeof(why));
	if (key)
		hsm_key_free(key);
	pthread_rwlock_unlock(&k->hsm_lock);
	json_decref(claims);
	if (e != C2S_OK) {
		free(out);
		return sam_reply_error(fd, e, why);
	}
	log_info("login assertion issued for account %s%s%s", account, order[0] ? ", order " : "",
	         order);
	struct buf b;
	buf_init(&b, JWS_MAX_LEN + 16);
	e = buf_put_str(&b, out);
	if (e == C2S_OK)
		e = ipc_send(fd, IPC_ASSERTION_RESP, b.data, b.len);
	buf_free(&b);
	free(out);
	return e;
}

/* ---- IPC_NOTIFY_CHANNEL (parent) ---- */

c2s_err kh_on_notify_channel(void *ctx, int fd, struct ipc_msg *msg)
{
	struct kh *k = ctx;
	(void)fd;
	if (msg->nfds != 1)
		return C2S_ERR_IPC_MALFORMED;
	pthread_mutex_lock(&k->sam->notify_mu);
	if (k->sam->notify_fd >= 0)
		close(k->sam->notify_fd);
	k->sam->notify_fd = msg->fds[0];
	msg->nfds = 0;
	pthread_mutex_unlock(&k->sam->notify_mu);
	log_info("channel to c2s-notify ready");
	return C2S_OK;
}

/* Seal signatures go to the same signature log (best effort: sealing goes on without it). */
void kh_sam_log_seal(struct kh *k, const uint8_t *digest, size_t len)
{
	if (!k->sam || !k->sam->store)
		return;
	if (khstore_sig_log(k->sam->store, clock_now(), k->cfg->seal_key, digest, len, "c2s-web",
	                    NULL, -1) != C2S_OK)
		log_error("seal signature not written to the signature log");
}
