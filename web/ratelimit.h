/* Rate limits of c2s-web: token buckets keyed by (kind, key), answered with 429 and Retry-After.
 *
 * Kinds: the client address on the customer pages (/s/...), the order on code submissions and
 * re-sends (before the keyholder is asked), the client address on the certificate listener
 * (/c/...), the API client after authentication (/v1/... but /v1/health; /metrics is exempt).
 *
 * Each bucket is kept as one time, the GCRA form of a token bucket: `tat` is when the bucket will
 * be full again. A request at `now` is admitted when tat - now <= (burst - 1) * interval, and then
 * tat = max(tat, now) + interval; a refused request takes nothing. So a bucket is full exactly when
 * tat <= now, and the smaller tat, the fuller (and the older) the bucket.
 *
 * Memory is bounded: each kind has its own table of `slots` entries of 24 bytes, in sets of
 * RL_WAYS entries; a key's set is chosen by SipHash-2-4 under a random key drawn at start, so a
 * client cannot aim at the set of someone else's bucket. A new key takes a free entry of its set,
 * or the fullest one (smallest tat). Dropping a full bucket loses nothing (a new bucket starts
 * full); dropping a bucket that is not full forgives it (counted: rl_evicted). To have a drained
 * bucket forgiven, an attacker must keep every other entry of its (unknown) set drained deeper,
 * which in practice means draining about as many keys of the same kind as the table has entries,
 * continuously; per kind, so that floods of one kind never touch another.
 *
 * Thread-safe (striped mutexes: one lock per set's stripe); constant time per check (one hash of a
 * key of at most RL_KEY_MAX bytes, one set of RL_WAYS entries). */
#ifndef C2S_WEB_RATELIMIT_H
#define C2S_WEB_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/config.h"
#include "firmware/base/err.h"

#define RL_WAYS    8
#define RL_KEY_MAX 128

enum rl_kind {
	RL_PAGE_IP,    /* [web] rate_pages: client address (IPv6: its /64) on /s/... */
	RL_CODE_ORDER, /* [web] rate_codes: the order, on POST /s/.../otp and .../otp/verify */
	RL_CERT_IP,    /* [web] rate_cert: client address on the certificate listener */
	RL_API_CLIENT, /* [web] rate_api: the authenticated API client */
	RL_KINDS
};

struct rl_limit {
	unsigned per_minute; /* sustained rate; 0 = this kind is not limited */
	unsigned burst;      /* requests admitted at once from a full bucket (>= 1) */
};

struct ratelimit;

/* A table of `slots` entries per kind (rounded up to a multiple of RL_WAYS, at least RL_WAYS). */
C2S_MUST_CHECK c2s_err rl_new(const struct rl_limit lim[RL_KINDS], size_t slots,
                              struct ratelimit **out);
void rl_free(struct ratelimit *rl);
/* The limits of [web] rate_* in cfg. */
void rl_limits_from_config(const struct config *cfg, struct rl_limit lim[RL_KINDS]);
/* Bytes the tables and their locks take (fixed at rl_new). */
size_t rl_memory(const struct ratelimit *rl);

/* One request of `key` (len <= RL_KEY_MAX, longer keys are cut) at monotonic time now_ns: 1 when
 * it is admitted (a token taken), 0 when it is refused, with *retry_after the whole seconds
 * (>= 1) until it would be admitted, and *log_it = 1 at most once a minute per key. */
int rl_take(struct ratelimit *rl, enum rl_kind kind, const void *key, size_t len, int64_t now_ns,
            unsigned *retry_after, int *log_it);

/* "page-ip", "code-order", "cert-ip", "api-client": the metric label. */
const char *rl_kind_name(enum rl_kind kind);
/* Requests refused, and buckets dropped before they were full (the table was too small). */
unsigned long rl_limited(const struct ratelimit *rl, enum rl_kind kind);
unsigned long rl_evicted(const struct ratelimit *rl, enum rl_kind kind);
const struct rl_limit *rl_limit_of(const struct ratelimit *rl, enum rl_kind kind);

/* SipHash-2-4 (64-bit output) of m under the 16-byte key k. */
uint64_t rl_siphash(const uint8_t k[16], const void *m, size_t n);

/* The key of a client address: IPv4 (also IPv4-mapped IPv6) as its 4 bytes, IPv6 as its /64;
 * text is the address (or prefix) for the log. Returns the key's length, 0 for another family. */
size_t rl_addr_key(const void *sockaddr, uint8_t key[17], char *text, size_t cap);

#endif
