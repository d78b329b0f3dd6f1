/* c2s-notify: delivers what the appliance tells people. Two sources:
 * - the durable outbox in the main database (link e-mails, SMS notices, completion e-mails with
 *   the signed documents, webhooks): written with the state change that causes it, retried with
 *   backoff until delivered or given up;
 * - one-time codes from the keyholder, over its own channel: kept in this process's memory only
 *   (never in the database the web process reads), retried while the code can still be used.
 * The main thread answers the parent and the keyholder; a delivery thread talks to the outside,
 * so a slow relay never delays a code. */
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "deliver.h"
#include "mime.h"
#include "notifyd.h"
#include "firmware/base/clock.h"
#include "firmware/base/json.h"
#include "firmware/base/log.h"
#include "firmware/base/sandbox.h"
#include "firmware/base/secmem.h"
#include "firmware/ipc/ipc.h"
#include "firmware/orders/blob.h"
#include "firmware/orders/outbox.h"
#include "firmware/store/store.h"

#define NOTIFY_CODE_QUEUE 128
#define NOTIFY_CODE_LIFE  600 /* seconds a code SMS is retried */
#define NOTIFY_MAIL_MAX   (64u << 20)
#define NOTIFY_SECRET_MAX 512

struct code_sms {
	int used;
	char to[40];
	char text[NOTIFY_SMS_TEXT_MAX + 1];
	int64_t until, next_at;
	unsigned attempts;
};

struct notifyd {
	const struct config *cfg;
	struct store *store;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	struct code_sms *codes; /* secmem: NOTIFY_CODE_QUEUE entries */
	int kh_fd;
	char *smtp_password, *sms_token; /* secmem or NULL */
	uint8_t *webhook_key;
	size_t webhook_key_len;
	int wal_dirty; /* a settled row lost its secret: older page versions are still in the WAL */
};

static uint32_t notifyd_random(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)clock_mono_ms();
	return r;
}

static char *notifyd_secret(const char *path, size_t *len)
{
	char why[256];
	char *s;
	if (!path[0])
		return NULL;
	s = secmem_alloc(NOTIFY_SECRET_MAX);
	if (s &&
	    secmem_read_secret_file(path, s, NOTIFY_SECRET_MAX, len, why, sizeof(why)) != C2S_OK) {
		log_error("cannot read %s: %s", path, why);
		secmem_free(s, NOTIFY_SECRET_MAX);
		s = NULL;
	}
	return s;
}

/* ---- one delivery attempt per outbox channel ---- */

static c2s_err notifyd_email(struct notifyd *n, json_t *p, int *retry, char *why, size_t why_cap)
{
	c2s_err ret = C2S_ERR_ARG;
	const struct config *cfg = n->cfg;
	const char *to = json_string_value(json_object_get(p, "to"));
	json_t *atts = json_object_get(p, "attachments");
	struct mime_attachment att[16];
	struct buf data[16], msg;
	size_t natt = 0;
	char msgid[MIME_MSGID_MAX];
	buf_init(&msg, NOTIFY_MAIL_MAX);
	*retry = 0;
	if (!cfg->smtp_url[0])
		WHY(C2S_ERR_CONFIG, "no [notify] smtp_url configured");
	if (!to)
		WHY(C2S_ERR_ARG, "e-mail without a recipient");
	for (size_t i = 0; json_is_array(atts) && i < json_array_size(atts) && i < 16; i++) {
		json_t *a = json_array_get(atts, i);
		const char *hex = json_string_value(json_object_get(a, "sha256"));
		uint8_t sha[32];
		if (!hex || strlen(hex) != 64)
			WHY(C2S_ERR_ARG, "attachment %zu without its hash", i);
		for (int j = 0; j < 32; j++) {
			unsigned v;
			if (sscanf(hex + 2 * j, "%2x", &v) != 1)
				WHY(C2S_ERR_ARG, "attachment %zu: bad hash", i);
			sha[j] = (uint8_t)v;
		}
		buf_init(&data[natt], NOTIFY_MAIL_MAX);
		natt++;
		if (blob_read(cfg->state_dir, sha, NOTIFY_MAIL_MAX, &data[natt - 1]) != C2S_OK)
			WHY(C2S_ERR_IO, "attachment %zu is missing from the blob store", i);
		att[natt - 1] = (struct mime_attachment){
		    .filename = json_string_value(json_object_get(a, "filename")),
		    .content_type = json_string_value(json_object_get(a, "type")),
		    .data = data[natt - 1].data,
		    .len = data[natt - 1].len};
	}
	struct mime_msg m = {.from = cfg->smtp_from,
	                     .from_name = "Click2Sign",
	                     .to = &to,
	                     .nto = 1,
	                     .subject = json_string_value(json_object_get(p, "subject")),
	                     .text = json_string_value(json_object_get(p, "text")),
	                     .att = att,
	                     .natt = natt,
	                     .msgid_domain = cfg->mail_domain};
	GUARD(mime_build(&m, &msg, msgid, why, why_cap));
	struct notify_smtp_cfg sc = {.url = cfg->smtp_url,
	                             .username = cfg->smtp_user[0] ? cfg->smtp_user : NULL,
	                             .password = n->smtp_password,
	                             .require_starttls = cfg->smtp_starttls,
	                             .ca_file = cfg->smtp_ca[0] ? cfg->smtp_ca : NULL};
	ret = notify_smtp_send(&sc, cfg->smtp_from, &to, 1, &msg, retry, why, why_cap);
	if (ret == C2S_OK)
		log_info("e-mail %s delivered to the relay", msgid);
out:
	for (size_t i = 0; i < natt; i++)
		buf_free(&data[i]);
	buf_free_secret(&msg);
	return ret;
}

static c2s_err notifyd_sms(struct notifyd *n, const char *to, const char *text, int *retry,
                           char *why, size_t cap)
{
	struct notify_http_cfg hc = {.url = n->cfg->sms_url, .bearer = n->sms_token};
	*retry = 0;
	if (!n->cfg->sms_url[0]) {
		snprintf(why, cap, "no [notify] sms_url configured");
		return C2S_ERR_CONFIG;
	}
	return notify_sms_send(&hc, to, text, retry, why, cap);
}

static c2s_err notifyd_webhook(struct notifyd *n, const struct outbox_item *it, int *retry,
                               char *why, size_t cap)
{
	struct notify_http_cfg hc = {.url = n->cfg->webhook_url};
	*retry = 0;
	if (!n->cfg->webhook_url[0] || !n->webhook_key) {
		snprintf(why, cap, "no [notify] webhook_url and webhook_secret_file configured");
		return C2S_ERR_CONFIG;
	}
	return notify_webhook_send(&hc, it->delivery_id, it->payload, strlen(it->payload),
	                           n->webhook_key, n->webhook_key_len, retry, why, cap);
}

static void notifyd_outbox_item(void *ctx, const struct outbox_item *it)
{
	struct notifyd *n = ctx;
	char why[512] = "";
	int retry = 0;
	int64_t now = clock_now();
	c2s_err r = C2S_ERR_ARG;
	json_error_t je;
	json_t *p = NULL;
	if (c2s_json_parse(it->payload, strlen(it->payload), JSON_REJECT_DUPLICATES, &p, &je) ==
	    C2S_ERR_NOMEM) {
		r = C2S_ERR_NOMEM; /* the payload is fine: try again later */
		retry = 1;
		snprintf(why, sizeof(why), "out of memory while reading the payload");
	} else if (!json_is_object(p))
		snprintf(why, sizeof(why), "payload is not a JSON object");
	else if (strcmp(it->channel, "email") == 0)
		r = notifyd_email(n, p, &retry, why, sizeof(why));
	else if (strcmp(it->channel, "sms") == 0)
		r = notifyd_sms(n, json_string_value(json_object_get(p, "to")),
		                json_string_value(json_object_get(p, "text")), &retry, why,
		                sizeof(why));
	else if (strcmp(it->channel, "webhook") == 0)
		r = notifyd_webhook(n, it, &retry, why, sizeof(why));
	json_decref(p);
	c2s_err w;
	if (r == C2S_OK) {
		w = outbox_done(n->store, it->id, now);
		n->wal_dirty |= w == C2S_OK;
		log_info("%s %s (order %s) delivered after %lld attempt(s)", it->channel,
		         it->delivery_id, it->order_id, (long long)it->attempts + 1);
	} else if (r == C2S_ERR_CONFIG) {
		/* nothing to deliver to: kept pending, looked at again in a minute */
		w = outbox_retry(n->store, it->id, now, now + 60, why);
	} else if (retry && (unsigned)it->attempts + 1 < n->cfg->notify_max_attempts) {
		int64_t next = now + notify_backoff((unsigned)it->attempts, notifyd_random());
		w = outbox_retry(n->store, it->id, now, next, why);
		log_warn("%s %s (order %s) not delivered: %s; retry in %llds", it->channel,
		         it->delivery_id, it->order_id, why, (long long)(next - now));
	} else {
		w = outbox_fail(n->store, it->id, now, why);
		n->wal_dirty |= w == C2S_OK;
		log_error("%s %s (order %s) given up after %lld attempt(s): %s", it->channel,
		          it->delivery_id, it->order_id, (long long)it->attempts + 1, why);
	}
	if (w != C2S_OK)
		log_error("outbox row %lld not updated: %s", (long long)it->id, c2s_err_name(w));
}

/* Codes from the keyholder: in memory, retried while they can be used. */
static void notifyd_codes(struct notifyd *n)
{
	for (size_t i = 0; i < NOTIFY_CODE_QUEUE; i++) {
		struct code_sms c;
		int64_t now = clock_now();
		pthread_mutex_lock(&n->mu);
		struct code_sms *q = &n->codes[i];
		int due = q->used && q->next_at <= now;
		if (due)
			c = *q;
		pthread_mutex_unlock(&n->mu);
		if (!due)
			continue;
		char why[512] = "";
		int retry = 0;
		c2s_err r = notifyd_sms(n, c.to, c.text, &retry, why, sizeof(why));
		explicit_bzero(&c, sizeof(c));
		pthread_mutex_lock(&n->mu);
		if (r == C2S_OK || !retry || now + 1 >= q->until) {
			if (r == C2S_OK)
				log_info("code SMS delivered to the gateway");
			else
				log_error("code SMS not delivered: %s", why);
			explicit_bzero(q, sizeof(*q));
		} else {
			q->next_at = now + notify_backoff(q->attempts++, notifyd_random()) % 20 + 1;
			log_warn("code SMS not delivered yet: %s", why);
		}
		pthread_mutex_unlock(&n->mu);
	}
}

static void *notifyd_deliver(void *arg)
{
	struct notifyd *n = arg;
	for (;;) {
		pthread_mutex_lock(&n->mu);
		if (!n->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&n->cv, &n->mu, &ts);
		}
		int stop = n->stop;
		pthread_mutex_unlock(&n->mu);
		if (stop)
			break;
		notifyd_codes(n);
		size_t count = 0;
		if (outbox_due(n->store, clock_now(), 32, notifyd_outbox_item, n, &count) != C2S_OK)
			log_error("cannot read the outbox");
		/* the link in a delivered e-mail is scrubbed from its row (secure_delete zeroes the
		 * database's page); its earlier versions leave the WAL here, retried each second
		 * while readers hold old snapshots */
		if (n->wal_dirty && store_wal_scrub(n->store) == C2S_OK)
			n->wal_dirty = 0;
	}
	return NULL;
}

/* ---- IPC: the parent and the keyholder ---- */

static c2s_err notifyd_on_channels(void *ctx, int fd, struct ipc_msg *m)
{
	struct notifyd *n = ctx;
	(void)fd;
	if (m->nfds != 1)
		return C2S_ERR_IPC_MALFORMED;
	if (n->kh_fd >= 0)
		close(n->kh_fd);
	n->kh_fd = m->fds[0];
	m->nfds = 0;
	log_info("channel from the keyholder ready");
	return C2S_OK;
}

static c2s_err notifyd_on_shutdown(void *ctx, int fd, struct ipc_msg *m)
{
	struct notifyd *n = ctx;
	(void)fd;
	(void)m;
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	return C2S_OK;
}

/* IPC_SMS_REQ: str to, str text (holds a one-time code: memory only, never logged). */
static c2s_err notifyd_on_sms(void *ctx, int fd, struct ipc_msg *m)
{
	struct notifyd *n = ctx;
	struct code_sms c;
	uint32_t result = C2S_ERR_BUSY;
	memset(&c, 0, sizeof(c));
	if (buf_get_str(&m->body, c.to, sizeof(c.to)) != C2S_OK ||
	    buf_get_str(&m->body, c.text, sizeof(c.text)) != C2S_OK || buf_left(&m->body))
		return C2S_ERR_IPC_MALFORMED;
	int64_t now = clock_now();
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < NOTIFY_CODE_QUEUE; i++) {
		struct code_sms *q = &n->codes[i];
		if (q->used && q->until <= now)
			explicit_bzero(q, sizeof(*q));
		if (!q->used && result != C2S_OK) {
			*q = c;
			q->used = 1;
			q->until = now + NOTIFY_CODE_LIFE;
			q->next_at = now;
			result = C2S_OK;
		}
	}
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	explicit_bzero(&c, sizeof(c));
	uint8_t body[4] = {(uint8_t)(result >> 24), (uint8_t)(result >> 16), (uint8_t)(result >> 8),
	                   (uint8_t)result};
	return ipc_send(fd, IPC_SMS_RESP, body, sizeof(body));
}

/* c2s-notify's table: the parent's messages and the keyholder's codes. */
static const struct ipc_row notifyd_rows[] = {
    {IPC_CHANNELS, IPC_PEER_PARENT, IPC_ST_ANY, 4, 4, 1, notifyd_on_channels},
    {IPC_SHUTDOWN, IPC_PEER_PARENT, IPC_ST_ANY, 0, 0, 0, notifyd_on_shutdown},
    {IPC_SMS_REQ, IPC_PEER_KEYHOLDER, IPC_ST_ANY, 4 + 9 + 4 + 1, 4 + 39 + 4 + 1024, 0,
     notifyd_on_sms},
};

static int notifyd_serve(struct notifyd *n, int fd, enum ipc_peer peer, uint8_t *rx)
{
	struct ipc_msg m;
	const struct ipc_row *row;
	c2s_err r = ipc_recv(fd, rx, &m, 0);
	if (r == C2S_ERR_TIMEOUT)
		return 0;
	if (r == C2S_OK)
		r = ipc_route(IPC_ROWS(notifyd_rows), peer, IPC_ST_ANY, &m, &row);
	if (r == C2S_OK)
		r = row->fn(n, fd, &m);
	if (r != C2S_OK)
		ipc_msg_close_fds(&m);
	return r == C2S_OK ? 0 : -1;
}

int notifyd_main(const struct config *cfg)
{
	static struct notifyd n;
	pthread_t t;
	size_t len = 0;
	uint8_t *rx = malloc(IPC_HDR_LEN + IPC_MAX_BODY);
	int rc = 1;
	memset(&n, 0, sizeof(n));
	n.cfg = cfg;
	n.kh_fd = -1;
	/* locked in before the database (which web also writes) is read */
	if (sandbox_lock(cfg, SANDBOX_NOTIFY) != C2S_OK) {
		free(rx);
		return 1;
	}
	pthread_mutex_init(&n.mu, NULL);
	pthread_cond_init(&n.cv, NULL);
	n.codes = secmem_alloc(sizeof(struct code_sms) * NOTIFY_CODE_QUEUE);
	if (!rx || !n.codes)
		goto out;
	if (store_open(cfg->state_dir, &n.store) != C2S_OK) {
		log_error("cannot open the database in %s", cfg->state_dir);
		goto out;
	}
	n.smtp_password = notifyd_secret(cfg->smtp_password_file, &len);
	n.sms_token = notifyd_secret(cfg->sms_token_file, &len);
	n.webhook_key = (uint8_t *)notifyd_secret(cfg->webhook_secret_file, &n.webhook_key_len);
	if (pthread_create(&t, NULL, notifyd_deliver, &n) != 0)
		goto out;
	for (;;) {
		struct pollfd p[2] = {{.fd = IPC_FD_PARENT, .events = POLLIN},
		                      {.fd = n.kh_fd, .events = POLLIN}};
		int pr = poll(p, n.kh_fd >= 0 ? 2 : 1, 1000);
		if (pr > 0 && p[0].revents &&
		    notifyd_serve(&n, IPC_FD_PARENT, IPC_PEER_PARENT, rx)) {
			log_info("parent channel closed; exiting");
			break;
		}
		if (pr > 0 && n.kh_fd >= 0 && p[1].revents &&
		    notifyd_serve(&n, n.kh_fd, IPC_PEER_KEYHOLDER, rx)) {
			log_warn(
			    "keyholder channel closed or refused a message; waiting for a new one");
			close(n.kh_fd);
			n.kh_fd = -1;
		}
		pthread_mutex_lock(&n.mu);
		int stop = n.stop;
		pthread_mutex_unlock(&n.mu);
		if (stop)
			break;
	}
	pthread_mutex_lock(&n.mu);
	n.stop = 1;
	pthread_cond_signal(&n.cv);
	pthread_mutex_unlock(&n.mu);
	pthread_join(t, NULL);
	rc = 0;
out:
	if (n.kh_fd >= 0)
		close(n.kh_fd);
	store_close(n.store);
	if (n.codes)
		secmem_free(n.codes, sizeof(struct code_sms) * NOTIFY_CODE_QUEUE);
	if (n.smtp_password)
		secmem_free(n.smtp_password, NOTIFY_SECRET_MAX);
	if (n.sms_token)
		secmem_free(n.sms_token, NOTIFY_SECRET_MAX);
	if (n.webhook_key)
		secmem_free(n.webhook_key, NOTIFY_SECRET_MAX);
	free(rx);
	return rc;
}
