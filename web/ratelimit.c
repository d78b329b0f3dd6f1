/* Rate limits of c2s-web (see ratelimit.h for the design): the bucket table, and the glue that
 * keys a request and logs a refusal. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "ratelimit.h"
#include "server.h"
#include "web.h"
#include "firmware/base/clock.h"
#include "firmware/base/log.h"

#define RL_NS_PER_MIN (60LL * 1000000000LL)
#define RL_LOG_EVERY  RL_NS_PER_MIN
#define RL_LOCKS      256 /* stripes, shared by the sets of all kinds */

struct rl_entry {
	uint64_t tag;      /* keyed hash of the key; 0 = free */
	int64_t tat;       /* ns (monotonic): when the bucket is full again */
	int64_t logged_ns; /* the last "limited" log line of this key; 0 = never */
};
_Static_assert(sizeof(struct rl_entry) == 24, "an entry is 24 bytes (the documented figure)");

struct rl_table {
	struct rl_limit lim;
	int64_t interval_ns;  /* one token */
	int64_t tolerance_ns; /* (burst - 1) tokens */
	struct rl_entry *e;   /* sets * RL_WAYS */
	size_t sets;
	atomic_ulong limited, evicted;
};

struct ratelimit {
	uint8_t seed[16];
	size_t slots; /* per kind */
	struct rl_table t[RL_KINDS];
	pthread_mutex_t locks[RL_LOCKS];
};

static const char *const rl_names[RL_KINDS] = {"page-ip", "code-order", "cert-ip", "api-client"};

const char *rl_kind_name(enum rl_kind kind)
{
	return (unsigned)kind < RL_KINDS ? rl_names[kind] : "?";
}

/* ---- SipHash-2-4 (Aumasson and Bernstein), written from the paper's description ---- */

#define RL_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t rl_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void rl_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = RL_ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = RL_ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = RL_ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = RL_ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = RL_ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = RL_ROTL(v[2], 32);
}

uint64_t rl_siphash(const uint8_t k[16], const void *m, size_t n)
{
	const uint8_t *p = m;
	uint64_t k0 = rl_le64(k), k1 = rl_le64(k + 8);
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
	                 k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
	size_t full = n & ~(size_t)7;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t w = rl_le64(p + i);
		v[3] ^= w;
		rl_sipround(v);
		rl_sipround(v);
		v[0] ^= w;
	}
	uint64_t last = (uint64_t)(n & 0xff) << 56;
	for (size_t i = 0; i < (n & 7); i++)
		last |= (uint64_t)p[full + i] << (8 * i);
	v[3] ^= last;
	rl_sipround(v);
	rl_sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		rl_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the table ---- */

c2s_err rl_new(const struct rl_limit lim[RL_KINDS], size_t slots, struct ratelimit **out)
{
	*out = NULL;
	if (slots > ((size_t)1 << 24))
		return C2S_ERR_ARG;
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return C2S_ERR_NOMEM;
	size_t sets = (slots + RL_WAYS - 1) / RL_WAYS;
	if (sets == 0)
		sets = 1;
	rl->slots = sets * RL_WAYS;
	if (getrandom(rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed)) {
		free(rl);
		return C2S_ERR_INTERNAL;
	}
	for (int i = 0; i < RL_LOCKS; i++)
		pthread_mutex_init(&rl->locks[i], NULL);
	for (int k = 0; k < RL_KINDS; k++) {
		struct rl_table *t = &rl->t[k];
		t->lim = lim[k];
		if (t->lim.burst == 0)
			t->lim.burst = 1;
		if (!t->lim.per_minute)
			continue; /* off: no table */
		t->interval_ns = RL_NS_PER_MIN / t->lim.per_minute;
		if (t->interval_ns < 1)
			t->interval_ns = 1;
		t->tolerance_ns = t->interval_ns * (int64_t)(t->lim.burst - 1);
		t->sets = sets;
		t->e = calloc(rl->slots, sizeof(struct rl_entry));
		if (!t->e) {
			rl_free(rl);
			return C2S_ERR_NOMEM;
		}
	}
	*out = rl;
	return C2S_OK;
}

void rl_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (int k = 0; k < RL_KINDS; k++)
		free(rl->t[k].e);
	for (int i = 0; i < RL_LOCKS; i++)
		pthread_mutex_destroy(&rl->locks[i]);
	explicit_bzero(rl->seed, sizeof(rl->seed));
	free(rl);
}

size_t rl_memory(const struct ratelimit *rl)
{
	size_t n = sizeof(*rl);
	for (int k = 0; k < RL_KINDS; k++)
		if (rl->t[k].e)
			n += rl->slots * sizeof(struct rl_entry);
	return n;
}

void rl_limits_from_config(const struct config *cfg, struct rl_limit lim[RL_KINDS])
{
	lim[RL_PAGE_IP] = (struct rl_limit){cfg->rate_pages, cfg->rate_pages_burst};
	lim[RL_CODE_ORDER] = (struct rl_limit){cfg->rate_codes, cfg->rate_codes_burst};
	lim[RL_CERT_IP] = (struct rl_limit){cfg->rate_cert, cfg->rate_cert_burst};
	lim[RL_API_CLIENT] = (struct rl_limit){cfg->rate_api, cfg->rate_api_burst};
}

const struct rl_limit *rl_limit_of(const struct ratelimit *rl, enum rl_kind kind)
{
	return &rl->t[kind].lim;
}

unsigned long rl_limited(const struct ratelimit *rl, enum rl_kind kind)
{
	return atomic_load(&rl->t[kind].limited);
}

unsigned long rl_evicted(const struct ratelimit *rl, enum rl_kind kind)
{
	return atomic_load(&rl->t[kind].evicted);
}

int rl_take(struct ratelimit *rl, enum rl_kind kind, const void *key, size_t len, int64_t now_ns,
            unsigned *retry_after, int *log_it)
{
	*retry_after = 0;
	*log_it = 0;
	if ((unsigned)kind >= RL_KINDS)
		return 1;
	struct rl_table *t = &rl->t[kind];
	if (!t->e)
		return 1;
	if (len > RL_KEY_MAX)
		len = RL_KEY_MAX;
	/* the kind is hashed too, so that the same key falls in unrelated sets of two kinds */
	uint8_t buf[RL_KEY_MAX + 1];
	buf[0] = (uint8_t)kind;
	memcpy(buf + 1, key, len);
	uint64_t h = rl_siphash(rl->seed, buf, len + 1);
	uint64_t tag = h ? h : 1;
	size_t set = (size_t)((h >> 32) % t->sets);
	struct rl_entry *s = t->e + set * RL_WAYS;
	pthread_mutex_t *mu = &rl->locks[((size_t)kind * 977 + set) % RL_LOCKS];

	pthread_mutex_lock(mu);
	struct rl_entry *e = NULL, *fullest = NULL;
	for (int i = 0; i < RL_WAYS; i++) {
		if (s[i].tag == tag) {
			e = &s[i];
			break;
		}
		/* a free entry is the fullest there is */
		if (!fullest || (fullest->tag && (!s[i].tag || s[i].tat < fullest->tat)))
			fullest = &s[i];
	}
	if (!e) {
		e = fullest;
		if (e->tag && e->tat > now_ns)
			atomic_fetch_add(&t->evicted, 1); /* forgiven: the table is too small */
		*e = (struct rl_entry){.tag = tag, .tat = 0, .logged_ns = 0};
	}
	int64_t tat = e->tat > now_ns ? e->tat : now_ns;
	int ok = tat - now_ns <= t->tolerance_ns;
	if (ok) {
		e->tat = tat + t->interval_ns;
	} else {
		int64_t wait = tat - t->tolerance_ns - now_ns; /* > 0 */
		int64_t secs = (wait + 999999999) / 1000000000;
		*retry_after = secs < 1 ? 1 : secs > 86400 ? 86400 : (unsigned)secs;
		if (!e->logged_ns || now_ns - e->logged_ns >= RL_LOG_EVERY) {
			e->logged_ns = now_ns;
			*log_it = 1;
		}
	}
	pthread_mutex_unlock(mu);
	if (!ok)
		atomic_fetch_add(&t->limited, 1);
	return ok;
}

size_t rl_addr_key(const void *sockaddr, uint8_t key[17], char *text, size_t cap)
{
	const struct sockaddr *sa = sockaddr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = sockaddr;
		memcpy(key, &in->sin_addr, 4);
		inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap);
		return 4;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const struct sockaddr_in6 *in6 = sockaddr;
	const uint8_t *a = in6->sin6_addr.s6_addr;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		memcpy(key, a + 12, 4);
		inet_ntop(AF_INET, a + 12, text, (socklen_t)cap);
		return 4;
	}
	/* one subscriber gets a /64 at least: its addresses share one bucket */
	struct in6_addr prefix = {0};
	memcpy(prefix.s6_addr, a, 8);
	memcpy(key, a, 8);
	char t[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &prefix, t, sizeof(t));
	snprintf(text, cap, "%s/64", t);
	return 8;
}

/* ---- the glue ---- */

int web_rate_admit(struct web_req *r, enum rl_kind kind, const char *name)
{
	struct ratelimit *rl = r->ctx->rl;
	if (!rl || !rl_limit_of(rl, kind)->per_minute)
		return 1;
	uint8_t key[RL_KEY_MAX];
	char text[RL_KEY_MAX + 8];
	size_t n;
	if (name) {
		n = strnlen(name, RL_KEY_MAX);
		memcpy(key, name, n);
		snprintf(text, sizeof(text), "%.*s", (int)n, name);
	} else {
		struct sockaddr_storage ss; /* behind a trusted proxy: the client it names */
		n = guard_client_addr(r->conn, &ss) ? rl_addr_key(&ss, key, text, sizeof(text)) : 0;
		if (!n)
			return 1; /* not an IP client: nothing to key on */
	}
	unsigned retry;
	int log_it;
	if (rl_take(rl, kind, key, n, clock_mono_ns(), &retry, &log_it))
		return 1;
	r->retry_after = retry;
	if (log_it) {
		const struct rl_limit *l = rl_limit_of(rl, kind);
		const char *who = kind == RL_API_CLIENT   ? "API client"
		                  : kind == RL_CODE_ORDER ? "order"
		                                          : "client";
		const char *over = kind == RL_PAGE_IP ? "rate_pages on the customer pages"
		                   : kind == RL_CODE_ORDER
		                       ? "rate_codes (code submissions and re-sends)"
		                   : kind == RL_CERT_IP ? "rate_cert on the certificate listener"
		                                        : "rate_api";
		log_info(
		    "rate limit: %s %s is over [web] %s (%u a minute, burst %u): answered 429, "
		    "retry after %u s (logged at most once a minute per %s)",
		    who, text, over, l->per_minute, l->burst, retry, who);
	}
	return 0;
}
