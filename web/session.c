/* Customer browser sessions: a random cookie bound to one order, its CSRF token, and, after
 * the SMS code, the SAD the keyholder issued. In c2s-web's locked memory only: a restart of
 * c2s-web means confirming with a new code, never a credential on disk. */
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/secmem.h"

#define SESSION_MAX  4096
#define SESSION_LIFE (2 * 3600)

static struct web_session *sessions; /* secmem, SESSION_MAX */
static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;

c2s_err web_session_init(void)
{
	sessions = secmem_alloc(sizeof(*sessions) * SESSION_MAX);
	return sessions ? C2S_OK : C2S_ERR_NOMEM;
}

static void b64url(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = 0;
}

/* The session cookie's value from the request, or NULL. */
static const char *session_cookie(struct web_req *r)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, WEB_SESSION_COOKIE);
}

int web_session_get(struct web_req *r, const char *order, struct web_session *out)
{
	const char *c = session_cookie(r);
	uint8_t h[32];
	int found = 0;
	int64_t now = clock_now();
	if (!c || strlen(c) != 43 || !sessions)
		return 0;
	if (mbedtls_sha256_ret((const unsigned char *)c, 43, h, 0) != 0)
		return 0;
	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; i < SESSION_MAX; i++) {
		struct web_session *s = &sessions[i];
		int eq = secmem_cmp(s->id_hash, h, 32) == 0;
		if (eq && s->used && s->expires > now && strcmp(s->order, order) == 0) {
			*out = *s;
			found = 1;
		}
	}
	pthread_mutex_unlock(&session_mu);
	return found;
}

c2s_err web_session_new(const char *order, const char *path, struct web_session *out, char *cookie,
                        size_t cap, int *first)
{
	uint8_t id[32], h[32];
	char val[44];
	int64_t now = clock_now();
	struct web_session *slot = NULL;
	if (!sessions || getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
		return C2S_ERR_INTERNAL;
	b64url(id, sizeof(id), val);
	if (mbedtls_sha256_ret((const unsigned char *)val, 43, h, 0) != 0)
		return C2S_ERR_INTERNAL;
	pthread_mutex_lock(&session_mu);
	/* this order's live sessions: at most WEB_SESSIONS_PER_ORDER */
	size_t mine = 0;
	struct web_session *newest = NULL;
	for (size_t i = 0; i < SESSION_MAX; i++) {
		struct web_session *s = &sessions[i];
		if (!s->used || s->expires <= now || strcmp(s->order, order) != 0)
			continue;
		mine++;
		/* the newest session not yet past the code makes room: whoever reloads the link
		 * in a loop only churns that slot, and earlier visitors keep theirs */
		if (!s->otp_ok && (!newest || s->created >= newest->created))
			newest = s;
	}
	*first = mine == 0;
	if (mine >= WEB_SESSIONS_PER_ORDER) {
		if (!newest) {
			pthread_mutex_unlock(&session_mu);
			return C2S_ERR_BUSY;
		}
		slot = newest;
	}
	for (size_t i = 0; i < SESSION_MAX && !slot; i++)
		if (!sessions[i].used || sessions[i].expires <= now)
			slot = &sessions[i];
	if (slot) {
		explicit_bzero(slot, sizeof(*slot));
		slot->used = 1;
		memcpy(slot->id_hash, h, 32);
		snprintf(slot->order, sizeof(slot->order), "%s", order);
		slot->created = now;
		slot->expires = now + SESSION_LIFE;
		if (getrandom(slot->csrf_raw, sizeof(slot->csrf_raw), 0) !=
		    (ssize_t)sizeof(slot->csrf_raw))
			slot->used = 0;
		b64url(slot->csrf_raw, sizeof(slot->csrf_raw), slot->csrf);
		if (slot->used)
			*out = *slot;
	}
	pthread_mutex_unlock(&session_mu);
	if (!slot || !slot->used)
		return C2S_ERR_BUSY;
	snprintf(cookie, cap, WEB_SESSION_COOKIE "=%s; Path=%s; Secure; HttpOnly; SameSite=Strict",
	         val, path);
	explicit_bzero(id, sizeof(id));
	explicit_bzero(val, sizeof(val));
	return C2S_OK;
}

void web_session_update(const struct web_session *s)
{
	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; i < SESSION_MAX; i++)
		if (sessions[i].used && secmem_cmp(sessions[i].id_hash, s->id_hash, 32) == 0) {
			sessions[i].otp_ok = s->otp_ok;
			memcpy(sessions[i].sad, s->sad, sizeof(s->sad));
			sessions[i].sad_expires = s->sad_expires;
		}
	pthread_mutex_unlock(&session_mu);
}

void web_session_end_order(const char *order)
{
	pthread_mutex_lock(&session_mu);
	for (size_t i = 0; sessions && i < SESSION_MAX; i++)
		if (sessions[i].used && strcmp(sessions[i].order, order) == 0)
			explicit_bzero(&sessions[i], sizeof(sessions[i]));
	pthread_mutex_unlock(&session_mu);
}

int web_csrf_ok(const struct web_session *s, const char *presented)
{
	return presented && strlen(presented) == strlen(s->csrf) &&
	       secmem_cmp(presented, s->csrf, strlen(s->csrf)) == 0;
}
