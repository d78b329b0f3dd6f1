/* The keyholder's dispatch table and its handlers for c2s-web: every request is routed by its
 * row (peer, states, size, descriptors), parsed strictly, and re-checked against the
 * keyholder's own config and state. A message without a row drops the channel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "keyholder_int.h"
#include "drivers/pcsc.h"
#include "firmware/base/log.h"
#include "firmware/ipc/ipc.h"
#include "firmware/ipc/khmsg.h"

_Static_assert(KHMSG_SHA256 == (int)CMS_SHA256 && KHMSG_SHA384 == (int)CMS_SHA384 &&
                   KHMSG_SHA512 == (int)CMS_SHA512,
               "khmsg hash values are the PAdES engine's");
_Static_assert(KHMSG_SHA256 == (int)HSM_HASH_SHA256 && KHMSG_SHA384 == (int)HSM_HASH_SHA384 &&
                   KHMSG_SHA512 == (int)HSM_HASH_SHA512,
               "khmsg hash values are the token layer's");
_Static_assert(KHMSG_SIG_RSA_PKCS1 == (int)CMS_SIG_RSA_PKCS1 &&
                   KHMSG_SIG_RSA_PSS == (int)CMS_SIG_RSA_PSS &&
                   KHMSG_SIG_ECDSA == (int)CMS_SIG_ECDSA,
               "khmsg signature values are the PAdES engine's");
_Static_assert(KHMSG_MAX_CHAIN == CMS_MAX_CHAIN, "one chain limit");

void kh_rate_init(struct kh *k, unsigned per_second)
{
	k->rate = per_second;
	k->tokens = per_second;
	k->rate_last_ms = 0;
}

static long long kh_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seal permit: token bucket, burst = one second's worth. */
static int kh_rate_take(struct kh *k)
{
	int ok = 1;
	pthread_mutex_lock(&k->mu);
	if (k->rate > 0) {
		long long now = kh_now_ms();
		k->tokens += (double)(now - k->rate_last_ms) * k->rate / 1000.0;
		if (k->tokens > k->rate)
			k->tokens = k->rate;
		k->rate_last_ms = now;
		if (k->tokens >= 1.0)
			k->tokens -= 1.0;
		else
			ok = 0;
	}
	pthread_mutex_unlock(&k->mu);
	return ok;
}

static void kh_count(struct kh *k, c2s_err r)
{
	pthread_mutex_lock(&k->mu);
	if (r == C2S_OK)
		k->signatures++;
	else
		k->sign_errors++;
	pthread_mutex_unlock(&k->mu);
}

static c2s_err kh_on_status(void *ctx, int fd, struct ipc_msg *m)
{
	struct kh *k = ctx;
	(void)m;
	struct khmsg_status s;
	struct hsm_token_info ti;
	struct buf b;
	c2s_err ret = C2S_ERR_INTERNAL;
	memset(&s, 0, sizeof(s));
	memset(&ti, 0, sizeof(ti));
	buf_init(&b, 8192);
	pthread_rwlock_rdlock(&k->hsm_lock);
	s.seal_key_present = k->seal != NULL;
	s.seal_cert_present = k->cert != NULL;
	pthread_rwlock_unlock(&k->hsm_lock);
	pthread_mutex_lock(&k->mu);
	ti = k->ti; /* probed by the main loop: a status reply never waits on the token */
	s.state = (uint32_t)k->state;
	snprintf(s.reason, sizeof(s.reason), "%s", k->state == C2S_OK ? "" : k->reason);
	s.signatures = k->signatures;
	s.sign_errors = k->sign_errors;
	pthread_mutex_unlock(&k->mu);
	s.token_present = (uint8_t)ti.present;
	s.logged_in = (uint8_t)ti.logged_in;
	if (!ti.present) { /* with the token gone, what it holds is not known */
		s.seal_key_present = 0;
		s.seal_cert_present = 0;
	}
	s.removable = (uint8_t)ti.removable;
	memcpy(s.label, ti.label, sizeof(s.label));
	memcpy(s.manufacturer, ti.manufacturer, sizeof(s.manufacturer));
	memcpy(s.model, ti.model, sizeof(s.model));
	memcpy(s.serial, ti.serial, sizeof(s.serial));
	memcpy(s.slot, ti.slot_description, sizeof(s.slot));
	snprintf(s.seal_key, sizeof(s.seal_key), "%s", k->cfg->seal_key);
	struct pcsc_state ps;
	if (k->card && pcsc_snapshot(&ps) == C2S_OK) {
		s.card_monitored = 1;
		s.card_present = (uint8_t)ps.card_present;
		s.pcscd_up = (uint8_t)ps.reachable;
		snprintf(s.reader, sizeof(s.reader), "%s", ps.reader);
		snprintf(s.atr, sizeof(s.atr), "%s", ps.atr_hex);
		s.card_since = (int64_t)ps.since;
	}
	GUARD(khmsg_status_encode(&s, &b));
	GUARD(ipc_send(fd, IPC_STATUS_RESP, b.data, b.len));
out:
	buf_free(&b);
	return ret;
}

static c2s_err kh_on_keyinfo(void *ctx, int fd, struct ipc_msg *m)
{
	struct kh *k = ctx;
	char key[513];
	struct khmsg_keyinfo ki;
	struct buf b;
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	buf_init(&b, IPC_MAX_BODY);
	GUARD(buf_get_str(&m->body, key, sizeof(key)));
	ENSURE(buf_left(&m->body) == 0, C2S_ERR_IPC_MALFORMED);
	if (strcmp(key, k->cfg->seal_key) != 0) {
		ret = ipc_send_error(fd, C2S_ERR_IPC_PERMIT, "unknown key");
		goto out;
	}
	pthread_rwlock_rdlock(&k->hsm_lock);
	memset(&ki, 0, sizeof(ki));
	ki.key_type = (uint8_t)k->key_type;
	ki.bits = k->bits;
	ki.hash = (uint8_t)k->hash; /* enum hsm_hash and enum cms_hash share values */
	ki.sig = k->mech == HSM_MECH_ECDSA     ? CMS_SIG_ECDSA
	         : k->mech == HSM_MECH_RSA_PSS ? CMS_SIG_RSA_PSS
	                                       : CMS_SIG_RSA_PKCS1;
	ki.sig_max = (uint32_t)k->sig_max;
	ki.cert = k->cert;
	ki.cert_len = k->cert_len;
	for (size_t i = 0; i < k->n_chain; i++) {
		ki.chain[i] = k->chain[i];
		ki.chain_len[i] = k->chain_len[i];
	}
	ki.n_chain = k->n_chain;
	ret = k->cert ? khmsg_keyinfo_encode(&ki, &b) : C2S_ERR_NOT_FOUND;
	pthread_rwlock_unlock(&k->hsm_lock);
	if (ret == C2S_OK)
		ret = ipc_send(fd, IPC_KEYINFO_RESP, b.data, b.len);
	else
		ret = ipc_send_error(fd, ret, "no certificate for the seal key");
out:
	buf_free(&b);
	return ret;
}

/* After a failed signature with a card: was the card pulled? pcscd notices a removal up to
 * ~0.5 s later, so wait that long for the monitor before blaming the token. */
int kh_card_moved(struct kh *k)
{
	struct pcsc_state ps;
	long long t0 = kh_now_ms();
	if (!k->card)
		return 0;
	for (;;) {
		if (pcsc_snapshot(&ps) != C2S_OK)
			return 0;
		if (!ps.card_present || ps.since_mono_ms > t0 - 3000)
			return 1;
		if (kh_now_ms() - t0 > 800)
			return 0;
		usleep(50000);
	}
}

static c2s_err kh_sign_and_reply(struct kh *k, int fd, const uint8_t *digest, size_t dlen)
{
	uint8_t sig[HSM_MAX_SIG];
	size_t sig_len = sizeof(sig);
	c2s_err r;
	if (!kh_rate_take(k))
		return ipc_send_error(fd, C2S_ERR_RATE_LIMIT, "seal rate limit reached");
	pthread_rwlock_rdlock(&k->hsm_lock);
	r = k->hsm && k->seal
	        ? hsm_sign(k->hsm, k->seal, k->mech, k->hash, digest, dlen, sig, &sig_len)
	        : C2S_ERR_HSM_NO_TOKEN;
	pthread_rwlock_unlock(&k->hsm_lock);
	kh_count(k, r);
	if (r != C2S_OK && k->card && kh_card_moved(k)) {
		/* a card pulled mid-signature answers with anything, even a PIN error */
		log_warn("seal signature failed while the card moved: %s", c2s_err_message(r));
		return ipc_send_error(
		    fd, C2S_ERR_CARD_ABSENT,
		    "the card was removed or re-inserted during signing; retry when it is in");
	}
	if (r != C2S_OK) {
		log_warn("seal signature failed: %s", c2s_err_message(r));
		return ipc_send_error(fd, r, c2s_err_message(r));
	}
	kh_sam_log_seal(k, digest, dlen);
	struct buf b;
	buf_init(&b, 8 + HSM_MAX_SIG);
	r = buf_put_blob(&b, sig, sig_len);
	if (r == C2S_OK)
		r = ipc_send(fd, IPC_SIGN_RESP, b.data, b.len);
	buf_free(&b);
	return r;
}

/* seal-attrs: re-check the CMS signed attributes, hash them here, sign. */
static c2s_err kh_on_seal_attrs(void *ctx, int fd, struct ipc_msg *m)
{
	struct kh *k = ctx;
	char key[513];
	const uint8_t *attrs, *md;
	size_t alen, mdlen;
	uint8_t digest[64];
	c2s_err ret = C2S_ERR_IPC_MALFORMED;
	GUARD(buf_get_str(&m->body, key, sizeof(key)));
	GUARD(buf_get_blob(&m->body, &attrs, &alen, 8192));
	ENSURE(buf_left(&m->body) == 0, C2S_ERR_IPC_MALFORMED);
	if (strcmp(key, k->cfg->seal_key) != 0)
		return ipc_send_error(fd, C2S_ERR_IPC_PERMIT, "key is not the configured seal key");
	if (cms_attrs_check(attrs, alen, &md, &mdlen) != C2S_OK || mdlen != hsm_hash_len(k->hash))
		return ipc_send_error(fd, C2S_ERR_IPC_PERMIT,
		                      "signed attributes refused by the keyholder");
	GUARD(cms_hash_buf((enum cms_hash)k->hash, attrs, alen, digest));
	ret = kh_sign_and_reply(k, fd, digest, hsm_hash_len(k->hash));
out:
	return ret;
}

/* The keyholder's table: one row per message it accepts, from c2s-web or from the parent. */
const struct ipc_row kh_rows[] = {
    {IPC_STATUS_REQ, IPC_PEER_WEB, IPC_ST_ANY, 0, 0, 0, kh_on_status},
    {IPC_KEYINFO_REQ, IPC_PEER_WEB, IPC_ST_READY, 5, 4 + 512, 0, kh_on_keyinfo},
    {IPC_SEAL_ATTRS_REQ, IPC_PEER_WEB, IPC_ST_READY, 4 + 1 + 4 + 16, 4 + 512 + 4 + 8192, 0,
     kh_on_seal_attrs},
    {IPC_MANIFEST_REQ, IPC_PEER_WEB, IPC_ST_ANY, 4 + 1 + 4 + 1 + 4, 4 + 64 + 4 + 16384 + 4, 0,
     kh_on_manifest},
    {IPC_OTP_SEND_REQ, IPC_PEER_WEB, IPC_ST_READY, 4 + 1, 4 + 64, 0, kh_on_otp_send},
    {IPC_OTP_VERIFY_REQ, IPC_PEER_WEB, IPC_ST_READY, 4 + 1 + 4, 4 + 64 + 4 + 31, 0,
     kh_on_otp_verify},
    {IPC_SIGN_DOC_REQ, IPC_PEER_WEB, IPC_ST_READY, 32 + 4 + 1 + 4 + 4 + 41 + 4 + 1, IPC_MAX_BODY, 0,
     kh_on_sign_doc},
    {IPC_ORDER_END_REQ, IPC_PEER_WEB, IPC_ST_ANY, 4 + 1 + 1, 4 + 64 + 1, 0, kh_on_order_end},
    {IPC_CHECKPOINT_REQ, IPC_PEER_WEB, IPC_ST_READY, 8 + 32, 8 + 32, 0, kh_on_checkpoint},
    {IPC_ASSERTION_REQ, IPC_PEER_WEB, IPC_ST_READY, 4 + 1 + 4, 4 + 128 + 4 + 64, 0,
     kh_on_assertion},
    {IPC_CHANNELS, IPC_PEER_PARENT, IPC_ST_ANY, 4, 4, IPC_MAX_FDS, kh_on_channels},
    {IPC_NOTIFY_CHANNEL, IPC_PEER_PARENT, IPC_ST_ANY, 0, 0, 1, kh_on_notify_channel},
    {IPC_SHUTDOWN, IPC_PEER_PARENT, IPC_ST_ANY, 0, 0, 0, kh_on_shutdown},
};
const size_t kh_n_rows = sizeof(kh_rows) / sizeof(kh_rows[0]);

void kh_serve_channel(struct kh *k, int fd)
{
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	while (rx) {
		struct ipc_msg m;
		const struct ipc_row *row;
		c2s_err r = ipc_recv(fd, rx, &m, -1);
		if (r == C2S_ERR_IPC)
			break; /* c2s-web went away or replaced the channel */
		if (r != C2S_OK) {
			log_error("malformed message from c2s-web (%s); dropping the channel",
			          c2s_err_name(r));
			break;
		}
		pthread_mutex_lock(&k->mu);
		c2s_err st = k->state;
		char reason[sizeof(k->reason)];
		memcpy(reason, k->reason, sizeof(reason));
		pthread_mutex_unlock(&k->mu);
		size_t nfds = m.nfds;
		r = ipc_route(kh_rows, kh_n_rows, IPC_PEER_WEB,
		              st == C2S_OK ? IPC_ST_READY : IPC_ST_STARTING, &m, &row);
		if (r == C2S_ERR_IPC_MALFORMED) {
			log_error(
			    "refused %s (%zu bytes, %zu descriptors) from c2s-web; dropping the "
			    "channel",
			    ipc_type_name(m.type), m.body.len, nfds);
			break;
		}
		r = r == C2S_ERR_IPC_PERMIT ? ipc_send_error(fd, st, reason) : row->fn(k, fd, &m);
		if (r != C2S_OK) {
			log_error("%s from c2s-web failed (%s); dropping the channel",
			          ipc_type_name(m.type), c2s_err_name(r));
			break;
		}
	}
	free(rx);
}
