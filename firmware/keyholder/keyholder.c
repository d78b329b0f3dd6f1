#include "keyholder.h"

#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keyholder_int.h"
#include "drivers/pcsc.h"
#include "firmware/base/log.h"
#include "firmware/base/sandbox.h"
#include "firmware/base/secmem.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"
#include "firmware/pades/cms.h"
#include "hsm/hsm.h"

static struct kh kh_global;

static void kh_set_state(struct kh *k, c2s_err st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void kh_set_state(struct kh *k, c2s_err st, const char *fmt, ...)
{
	char why[sizeof(k->reason)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&k->mu);
	if (k->state != st || strcmp(k->reason, why) != 0) {
		if (st == C2S_OK)
			log_info("ready: %s", why);
		else
			log_warn("not ready: %s", why);
	}
	k->state = st;
	snprintf(k->reason, sizeof(k->reason), "%s", why);
	pthread_mutex_unlock(&k->mu);
}

/* Leaf from the token (or, for tokens that cannot store certificates, the first certificate
 * of the chain file that matches the key), issuers from the chain file. */
static c2s_err kh_load_certs(struct kh *k, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct buf spki, tokcert;
	mbedtls_x509_crt chain;
	mbedtls_x509_crt_init(&chain);
	buf_init(&spki, 4096);
	buf_init(&tokcert, 16384);
	GUARD(hsm_key_spki(k->hsm, k->seal, &spki));
	struct stat cst;
	int have_chain =
	    k->cfg->seal_chain[0] && stat(k->cfg->seal_chain, &cst) == 0 && cst.st_size > 0;
	if (have_chain && mbedtls_x509_crt_parse_file(&chain, k->cfg->seal_chain) != 0) {
		snprintf(why, why_cap, "cannot parse the seal chain file %s", k->cfg->seal_chain);
		ret = C2S_ERR_CHAIN;
		goto out;
	}
	/* A leaf first in the chain file wins over the token's (a card's own certificate). */
	int file_leaf = chain.raw.len && kh_cert_matches(&chain, spki.data, spki.len);
	c2s_err r = file_leaf ? C2S_ERR_NOT_FOUND : hsm_cert_for_key(k->hsm, k->seal, &tokcert);
	kh_certs_free(k);
	if (r == C2S_OK)
		GUARD(kh_cert_add(k, tokcert.data, tokcert.len, 1));
	for (mbedtls_x509_crt *c = &chain; c && c->raw.len; c = c->next) {
		int matches = kh_cert_matches(c, spki.data, spki.len);
		if (matches && k->cert)
			continue; /* the leaf again */
		GUARD(kh_cert_add(k, c->raw.p, c->raw.len, matches));
	}
	if (!k->cert) {
		snprintf(why, why_cap,
		         "no certificate for the seal key '%s' (neither in the token nor in %s); "
		         "import one with click2sign-admin cert import",
		         k->cfg->seal_key,
		         k->cfg->seal_chain[0] ? k->cfg->seal_chain : "[seal] chain");
		ret = C2S_ERR_NOT_FOUND;
		goto out;
	}
	if (!kh_cert_matches_der(k->cert, k->cert_len, spki.data, spki.len)) {
		snprintf(why, why_cap, "the seal certificate does not match the seal key '%s'",
		         k->cfg->seal_key);
		ret = C2S_ERR_CERT_MISMATCH;
		goto out;
	}
	ret = C2S_OK;
out:
	mbedtls_x509_crt_free(&chain);
	buf_free(&spki);
	buf_free(&tokcert);
	return ret;
}

static c2s_err kh_find_seal(struct kh *k, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	struct hsm_key_info ki;
	GUARD(hsm_key_find(k->hsm, k->cfg->seal_key, &k->seal, why, why_cap));
	GUARD(hsm_key_get_info(k->hsm, k->seal, &ki));
	k->key_type = ki.type;
	k->bits = ki.bits;
	if (ki.type == HSM_KEY_RSA) {
		k->mech = HSM_MECH_RSA_PKCS1;
		k->hash = HSM_HASH_SHA256;
		k->sig_max = (ki.bits + 7) / 8;
	} else {
		k->mech = HSM_MECH_ECDSA;
		k->hash = ki.curve == HSM_CURVE_P521   ? HSM_HASH_SHA512
		          : ki.curve == HSM_CURVE_P384 ? HSM_HASH_SHA384
		                                       : HSM_HASH_SHA256;
		k->sig_max = 2 * ((ki.bits + 7) / 8) + 9;
	}
	GUARD(kh_load_certs(k, why, why_cap));
out:
	return ret;
}

static long long kh_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The token refused the PIN. No further login until the PIN file changes, so a card's retry
 * counter is never burned. A login that failed while the card was being pulled or pushed
 * (OpenSC reports both as CKR_GENERAL_ERROR) gets one more try once the card is in. */
static void kh_pin_failed(struct kh *k, c2s_err st)
{
	struct pcsc_state ps;
	k->pin_refused = 1;
	if (stat(k->cfg->pin_file, &k->pin_st) != 0)
		memset(&k->pin_st, 0, sizeof(k->pin_st));
	pthread_mutex_lock(&k->mu);
	k->pin_removals = k->card_removals;
	int moving = k->card_insert_ms && kh_mono_ms() - k->card_insert_ms < 1500;
	pthread_mutex_unlock(&k->mu);
	if (k->card && pcsc_snapshot(&ps) == C2S_OK && (!ps.card_present || moving)) {
		k->pin_removals--; /* the next insertion allows one more try */
		log_warn("login failed while the card was moving; one more try once it is in");
	}
	/* one sentence: what happened, then what to do (the code's own message is not repeated) */
	if (st == C2S_ERR_HSM_PIN_LOCKED)
		kh_set_state(
		    k, st,
		    "the token's user PIN is locked: unlock it with the SO PIN, then put the "
		    "new PIN in %s (the keyholder tries again when the file changes)",
		    k->cfg->pin_file);
	else if (st == C2S_ERR_HSM_PIN_INCORRECT)
		kh_set_state(k, st,
		             "the token refused the PIN from %s; automatic login stopped so the "
		             "retry counter is not burned: put the right PIN there (the keyholder "
		             "tries once more when the file changes)",
		             k->cfg->pin_file);
	else
		kh_set_state(k, st,
		             "%s: correct %s (the keyholder tries once more when the file changes)",
		             c2s_err_message(st), k->cfg->pin_file);
}

static int kh_pin_may_retry(struct kh *k)
{
	struct stat st;
	struct pcsc_state ps;
	unsigned long removals;
	pthread_mutex_lock(&k->mu);
	removals = k->card_removals;
	pthread_mutex_unlock(&k->mu);
	if (stat(k->cfg->pin_file, &st) == 0 &&
	    (st.st_ino != k->pin_st.st_ino || st.st_size != k->pin_st.st_size ||
	     st.st_mtim.tv_sec != k->pin_st.st_mtim.tv_sec ||
	     st.st_mtim.tv_nsec != k->pin_st.st_mtim.tv_nsec))
		return 1;
	return k->card && pcsc_snapshot(&ps) == C2S_OK && ps.card_present &&
	       removals != k->pin_removals;
}

/* Open the module, log in, find the seal key and its certificate. Keeps the reason when it
 * cannot, so that /v1/health can say it; retried by the main loop. */
static void kh_try_open(struct kh *k)
{
	k->last_open_ms = kh_mono_ms();
	char why[HSM_WHY * 2] = "";
	char *pin = secmem_alloc(HSM_MAX_PIN), *sig_pin = NULL;
	size_t pin_len = 0, sig_pin_len = 0;
	struct hsm *h = NULL;
	c2s_err r;
	if (!pin) {
		kh_set_state(k, C2S_ERR_NOMEM, "out of memory");
		return;
	}
	r = secmem_read_secret_file(k->cfg->pin_file, pin, HSM_MAX_PIN, &pin_len, why, sizeof(why));
	if (r != C2S_OK) {
		kh_set_state(k, r, "PIN file refused: %s", why);
		goto out;
	}
	if (k->cfg->sig_pin_file[0]) {
		sig_pin = secmem_alloc(HSM_MAX_PIN);
		r = sig_pin ? secmem_read_secret_file(k->cfg->sig_pin_file, sig_pin, HSM_MAX_PIN,
		                                      &sig_pin_len, why, sizeof(why))
		            : C2S_ERR_NOMEM;
		if (r != C2S_OK) {
			kh_set_state(k, r, "signature PIN file refused: %s", why);
			goto out;
		}
	}
	const char *allow[CONFIG_MAX_ALLOW];
	for (size_t i = 0; i < k->cfg->n_module_allow; i++)
		allow[i] = k->cfg->module_allow[i];
	struct hsm_config hc = {.module_path = k->cfg->module,
	                        .allow = allow,
	                        .n_allow = k->cfg->n_module_allow,
	                        .token_uri = k->cfg->token_uri,
	                        .pin = pin,
	                        .pin_len = pin_len,
	                        .sig_pin = sig_pin,
	                        .sig_pin_len = sig_pin_len,
	                        .pool_size = k->cfg->workers,
	                        .allow_absent = k->card};
	r = hsm_open(&hc, &h, why, sizeof(why));
	if (r != C2S_OK) {
		kh_set_state(k, r, "%s", why[0] ? why : c2s_err_message(r));
		goto out;
	}
	pthread_rwlock_wrlock(&k->hsm_lock);
	k->hsm = h;
	struct hsm_token_info ti;
	memset(&ti, 0, sizeof(ti));
	c2s_err tr = hsm_token_info(h, &ti);
	pthread_mutex_lock(&k->mu);
	k->ti = ti;
	pthread_mutex_unlock(&k->mu);
	if (tr == C2S_OK && ti.pin_state != C2S_OK) {
		pthread_rwlock_unlock(&k->hsm_lock);
		kh_pin_failed(k, (c2s_err)ti.pin_state);
		goto out;
	}
	r = kh_find_seal(k, why, sizeof(why));
	if (r == C2S_OK)
		r = kh_sam_token_open(k, why, sizeof(why));
	pthread_rwlock_unlock(&k->hsm_lock);
	if (r != C2S_OK)
		kh_set_state(k, r, "%s", why[0] ? why : c2s_err_message(r));
	else
		kh_set_state(k, C2S_OK, "token '%s' open, seal key '%s' found", k->cfg->token_uri,
		             k->cfg->seal_key);
out:
	secmem_free(pin, HSM_MAX_PIN);
	if (sig_pin)
		secmem_free(sig_pin, HSM_MAX_PIN);
}

static void kh_close_hsm(struct kh *k)
{
	pthread_rwlock_wrlock(&k->hsm_lock);
	if (k->seal)
		hsm_key_free(k->seal);
	k->seal = NULL;
	kh_sam_token_close(k);
	if (k->hsm)
		hsm_close(k->hsm);
	k->hsm = NULL;
	kh_certs_free(k);
	pthread_rwlock_unlock(&k->hsm_lock);
}

static void kh_reopen(struct kh *k)
{
	kh_close_hsm(k);
	kh_try_open(k);
}

/* Card monitored: fail closed while it is out or pcscd is gone. Returns 1 when the card is
 * not usable (state set), 0 when it is in its reader. */
static int kh_card_absent(struct kh *k)
{
	struct pcsc_state ps;
	char when[32] = "";
	struct tm tm;
	if (pcsc_snapshot(&ps) != C2S_OK)
		return 0;
	if (!ps.reachable) {
		kh_set_state(k, C2S_ERR_CARD, "pcscd (the smartcard service) is not reachable%s%s",
		             ps.error[0] ? ": " : "", ps.error);
		return 1;
	}
	if (!ps.reader[0]) {
		kh_set_state(k, C2S_ERR_CARD, "no smartcard reader%s%s is connected",
		             k->cfg->card_reader[0] ? " matching " : "", k->cfg->card_reader);
		return 1;
	}
	if (!ps.card_present) {
		if (gmtime_r(&ps.since, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		kh_set_state(k, C2S_ERR_CARD_ABSENT, "card removed from reader %s at %s; insert it",
		             ps.reader, when);
		return 1;
	}
	return 0;
}

static void kh_card_changed(const struct pcsc_state *st, void *ctx)
{
	struct kh *k = ctx;
	pthread_mutex_lock(&k->mu);
	if (k->card_prev == 1 && !st->card_present)
		k->card_removals++;
	if (k->card_prev == 0 && st->card_present && k->card_removals > 0) /* a reinsertion */
		k->card_insert_ms = kh_mono_ms();
	k->card_prev = st->card_present;
	pthread_mutex_unlock(&k->mu);
	k->card_event = 1;
	/* fail closed at once, without waiting for the next tick */
	kh_card_absent(k);
}

/* Token presence, recovery after re-insertion, retries after failures. */
static void kh_tick(struct kh *k)
{
	if (k->card) {
		k->card_event = 0;
		if (kh_card_absent(k)) {
			pthread_mutex_lock(&k->mu);
			k->ti.present = 0; /* no card, no token: health must not say otherwise */
			k->ti.logged_in = 0;
			pthread_mutex_unlock(&k->mu);
			return;
		}
	}
	if (k->pin_refused) {
		if (!kh_pin_may_retry(k))
			return;
		log_info("the PIN file or the card changed: one new login attempt");
		k->pin_refused = 0;
		kh_reopen(k);
		return;
	}
	if (!k->hsm || !k->seal) {
		/* token missing: retry every 2 s; configuration problems every 10 s */
		if (kh_mono_ms() - k->last_open_ms >= (k->hsm ? 10000 : 2000))
			kh_reopen(k);
		return;
	}
	struct hsm_token_info ti;
	char why[HSM_WHY] = "";
	pthread_rwlock_rdlock(&k->hsm_lock);
	c2s_err r = hsm_token_info(k->hsm, &ti);
	pthread_rwlock_unlock(&k->hsm_lock);
	if (r != C2S_OK)
		ti.present = 0;
	pthread_mutex_lock(&k->mu);
	k->ti = ti;
	pthread_mutex_unlock(&k->mu);
	if (r != C2S_OK || !ti.present) {
		char seen[HSM_WHY] = "";
		pthread_rwlock_rdlock(&k->hsm_lock);
		if (!k->card)
			hsm_absent_reason(k->hsm, seen, sizeof(seen));
		pthread_rwlock_unlock(&k->hsm_lock);
		kh_set_state(k, C2S_ERR_HSM_NO_TOKEN, "token '%s' is not present%s%s%s%s",
		             k->cfg->token_uri, ti.slot_description[0] ? " in " : "",
		             ti.slot_description, seen[0] ? ": " : "", seen);
		/* the module lost the token (pcscd restarted; a SoftHSM2 token directory taken
		 * away and back keeps the token invalid until the module starts over): start the
		 * module over, after 2 s, then 4, 8, 16 and every 30 s while it stays away */
		int wait = k->card ? 2 : (k->absent_reopens >= 4 ? 30 : 2 << k->absent_reopens);
		if (++k->token_absent_ticks >= wait) {
			k->token_absent_ticks = 0;
			k->absent_reopens++;
			log_info(
			    "token '%s' not present: starting the PKCS#11 module over (attempt %d)",
			    k->cfg->token_uri, k->absent_reopens);
			kh_reopen(k);
		}
		return;
	}
	k->token_absent_ticks = 0;
	k->absent_reopens = 0;
	if (ti.pin_state != C2S_OK) {
		kh_pin_failed(k, (c2s_err)ti.pin_state);
		return;
	}
	if (k->state != C2S_OK || !ti.logged_in) {
		if (k->state == C2S_ERR_PIN_FILE || k->state == C2S_ERR_NOT_FOUND ||
		    k->state == C2S_ERR_CERT_MISMATCH || k->state == C2S_ERR_CHAIN) {
			if (kh_mono_ms() - k->last_open_ms >= 2000)
				kh_reopen(k); /* configuration problem: start over */
			return;
		}
		pthread_rwlock_wrlock(&k->hsm_lock);
		r = hsm_recover(k->hsm, why, sizeof(why));
		if (r == C2S_OK)
			r = kh_load_certs(k, why, sizeof(why));
		pthread_rwlock_unlock(&k->hsm_lock);
		if (r != C2S_OK && kh_card_moved(k)) {
			/* the PC/SC monitor's message names the reader and the time: keep it */
			pthread_mutex_lock(&k->mu);
			int absent = k->state == C2S_ERR_CARD_ABSENT;
			pthread_mutex_unlock(&k->mu);
			if (!absent)
				kh_set_state(k, C2S_ERR_CARD_ABSENT,
				             "the card was removed or re-inserted; waiting for it");
		} else if (r != C2S_OK)
			kh_set_state(k, r, "%s", why[0] ? why : c2s_err_message(r));
		else
			kh_set_state(k, C2S_OK, "token '%s' back, seal key '%s' found",
			             k->cfg->token_uri, k->cfg->seal_key);
	}
}

static void *kh_channel_thread(void *arg)
{
	struct kh_channel *ch = arg;
	kh_serve_channel(ch->kh, ch->fd);
	close(ch->fd);
	free(ch);
	return NULL;
}

/* IPC_CHANNELS: one serving thread per descriptor; the generation is the parent's. */
c2s_err kh_on_channels(void *ctx, int fd, struct ipc_msg *m)
{
	struct kh *k = ctx;
	(void)fd;
	for (size_t i = 0; i < m->nfds; i++) {
		struct kh_channel *ch = calloc(1, sizeof(*ch));
		pthread_t t;
		if (!ch) {
			close(m->fds[i]);
			continue;
		}
		ch->kh = k;
		ch->fd = m->fds[i];
		if (pthread_create(&t, NULL, kh_channel_thread, ch) != 0) {
			close(ch->fd);
			free(ch);
			continue;
		}
		pthread_detach(t);
	}
	log_info("serving %zu channels from c2s-web", m->nfds);
	m->nfds = 0; /* the threads own them now */
	return C2S_OK;
}

c2s_err kh_on_shutdown(void *ctx, int fd, struct ipc_msg *m)
{
	struct kh *k = ctx;
	(void)fd;
	(void)m;
	k->stop = 1;
	return C2S_OK;
}

int keyholder_main(const struct config *cfg)
{
	struct kh *k = &kh_global;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	memset(k, 0, sizeof(*k));
	k->cfg = cfg;
	k->state = C2S_ERR_HSM_NO_TOKEN;
	k->card_prev = -1;
	pthread_mutex_init(&k->mu, NULL);
	/* writers first: a key generation or a token reopen must not wait for a moment without
	 * signatures in flight, which a busy keyholder may never have. No thread takes the read
	 * lock twice, so a waiting writer cannot deadlock a reader. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&k->hsm_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	kh_rate_init(k, cfg->seal_rate);
	signal(SIGPIPE, SIG_IGN);
	if (!rx || kh_sam_init(k) != C2S_OK)
		return 1;
	k->card = config_card_monitored(cfg);
	if (k->card &&
	    pcsc_start(cfg->card_reader[0] ? cfg->card_reader : NULL, kh_card_changed, k) != C2S_OK)
		log_error("cannot start the card reader monitor");
	if (k->card)
		usleep(300000); /* let the monitor see the reader before the first open */
	kh_try_open(k);
	if (sandbox_lock(cfg, SANDBOX_KEYHOLDER) != C2S_OK)
		return 1;
	long long last_tick = kh_mono_ms();
	for (;;) {
		struct ipc_msg m;
		c2s_err r = ipc_recv(IPC_FD_PARENT, rx, &m, k->card ? 100 : 1000);
		if (r == C2S_ERR_TIMEOUT) {
			if (k->card_event || kh_mono_ms() - last_tick >= 1000) {
				kh_tick(k);
				last_tick = kh_mono_ms();
			}
			continue;
		}
		if (r != C2S_OK) {
			log_info("parent channel closed; exiting");
			break;
		}
		const struct ipc_row *row;
		if (ipc_route(kh_rows, kh_n_rows, IPC_PEER_PARENT, IPC_ST_ANY, &m, &row) !=
		        C2S_OK ||
		    row->fn(k, IPC_FD_PARENT, &m) != C2S_OK) {
			log_error("refused %s from the parent; exiting", ipc_type_name(m.type));
			ipc_msg_close_fds(&m);
			break;
		}
		if (k->stop)
			break;
	}
	if (k->card)
		pcsc_stop();
	kh_close_hsm(k);
	kh_sam_fini(k);
	free(rx);
	return 0;
}
