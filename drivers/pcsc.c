/* PC/SC monitor thread: see pcsc.h. */
#include "pcsc.h"

#include "firmware/base/log.h"

#include <winscard.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define PCSC_WAIT_MS        1000 /* SCardGetStatusChange timeout: bounds pcsc_stop's latency */
#define PCSC_BACKOFF_MIN_MS 100
#define PCSC_BACKOFF_MAX_MS 2000
#define PCSC_PNP_NAME       "\\\\?PnP?\\Notification"
#define PCSC_LIST_MAX       (PCSC_MAX_READERS * PCSC_NAME_MAX + 1)

/* Shared between the monitor thread and callers; `lock` guards everything but the fields
 * marked "thread only". */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* interrupts the backoff sleep on stop */
	pthread_t thread;
	int started;
	int exited; /* the thread has left its loop */
	atomic_int stop;
	SCARDCONTEXT hctx;
	int have_ctx;
	struct pcsc_state st;
	char filter[PCSC_NAME_MAX];
	pcsc_change_fn cb;
	void *cb_ctx;
	/* thread only: what SCardGetStatusChange watches (readers, then the PnP entry) */
	SCARD_READERSTATE rs[PCSC_MAX_READERS + 1];
	size_t n_rs;
	char rs_names[PCSC_MAX_READERS][PCSC_NAME_MAX];
} mon = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static long long now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Errors that mean "pcscd is gone or our context is dead": drop the context, retry. */
static int pcsc_lost(LONG rv)
{
	return rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ||
	       rv == SCARD_E_INVALID_HANDLE || rv == SCARD_F_COMM_ERROR ||
	       rv == SCARD_F_INTERNAL_ERROR || rv == SCARD_E_NO_MEMORY;
}

static void atr_to_hex(const unsigned char *atr, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < len && o + 2 < outsz; i++) {
		out[o++] = hex[atr[i] >> 4];
		out[o++] = hex[atr[i] & 0x0f];
	}
	out[o] = '\0';
}

static void copy_name(char *dst, const char *src)
{
	size_t n = strnlen(src, PCSC_NAME_MAX - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int filter_match(const char *name)
{
	return mon.filter[0] == '\0' || strstr(name, mon.filter) != NULL;
}

/* Under lock: recompute the summary fields from the reader table. */
static void select_reader_locked(struct pcsc_state *st)
{
	const struct pcsc_reader *pick = NULL;
	for (size_t i = 0; i < st->n_readers; i++) {
		const struct pcsc_reader *r = &st->readers[i];
		if (!filter_match(r->name))
			continue;
		if (pick == NULL || (r->card_present && !pick->card_present))
			pick = r;
	}
	copy_name(st->reader, pick ? pick->name : "");
	st->card_present = pick ? pick->card_present : 0;
	snprintf(st->atr_hex, sizeof(st->atr_hex), "%s", pick ? pick->atr_hex : "");
}

/* Under lock: stamp a change. */
static void touch_locked(void)
{
	mon.st.since = time(NULL);
	mon.st.since_mono_ms = now_mono_ms();
	mon.st.changes++;
	select_reader_locked(&mon.st);
}

/* Outside the lock: hand a copy of the state to the callback. */
static void notify(void)
{
	struct pcsc_state copy;
	pthread_mutex_lock(&mon.lock);
	copy = mon.st;
	pcsc_change_fn cb = mon.cb;
	void *ctx = mon.cb_ctx;
	pthread_mutex_unlock(&mon.lock);
	if (cb != NULL)
		cb(&copy, ctx);
}

static void set_unreachable(LONG rv)
{
	pthread_mutex_lock(&mon.lock);
	int was = mon.st.reachable;
	size_t had = mon.st.n_readers;
	int first = mon.st.error[0] == '\0'; /* first failure since start or recovery */
	snprintf(mon.st.error, sizeof(mon.st.error), "%s (0x%08lx)", pcsc_stringify_error(rv),
	         (unsigned long)rv);
	mon.st.reachable = 0;
	mon.st.n_readers = 0;
	if (was || had || first)
		touch_locked();
	pthread_mutex_unlock(&mon.lock);
	if (was || had || first) {
		log_warn("pcscd unreachable: %s; readers dropped, retrying with backoff",
		         pcsc_stringify_error(rv));
		notify();
	}
}

static void set_reachable(void)
{
	pthread_mutex_lock(&mon.lock);
	int was = mon.st.reachable;
	mon.st.reachable = 1;
	mon.st.error[0] = '\0';
	if (!was)
		touch_locked();
	pthread_mutex_unlock(&mon.lock);
	if (!was) {
		log_info("pcscd reachable");
		notify();
	}
}

static void drop_ctx(void)
{
	pthread_mutex_lock(&mon.lock);
	if (mon.have_ctx) {
		(void)SCardReleaseContext(mon.hctx);
		mon.have_ctx = 0;
	}
	pthread_mutex_unlock(&mon.lock);
	mon.n_rs = 0;
}

static LONG establish(void)
{
	SCARDCONTEXT h;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &h);
	if (rv != SCARD_S_SUCCESS)
		return rv;
	pthread_mutex_lock(&mon.lock);
	mon.hctx = h;
	mon.have_ctx = 1;
	pthread_mutex_unlock(&mon.lock);
	return SCARD_S_SUCCESS;
}

/* CLOCK_REALTIME deadline `ms` from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(unsigned ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return until;
}

/* Sleep up to `ms` unless pcsc_stop wakes us. */
static void backoff_sleep(unsigned ms)
{
	struct timespec until = deadline_in(ms);
	pthread_mutex_lock(&mon.lock);
	while (!atomic_load(&mon.stop) &&
	       pthread_cond_timedwait(&mon.wake, &mon.lock, &until) != ETIMEDOUT) {
	}
	pthread_mutex_unlock(&mon.lock);
}

/* Find reader `name` in the old table; -1 when it is new. */
static int old_index(const struct pcsc_reader *old, size_t n_old, const char *name)
{
	for (size_t i = 0; i < n_old; i++)
		if (strcmp(old[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Under lock: rebuild the reader table from pcscd's list (`names`, `n` entries). Readers that
 * stay keep their state; new ones start empty (list_readers fills them at once). Returns
 * whether anything appeared or disappeared (logged). */
static int update_table_locked(char (*names)[PCSC_NAME_MAX], size_t n)
{
	static struct pcsc_reader old[PCSC_MAX_READERS];
	int changed = 0;
	size_t n_old = mon.st.n_readers;
	memcpy(old, mon.st.readers, sizeof(old));
	for (size_t i = 0; i < n; i++) {
		int k = old_index(old, n_old, names[i]);
		if (k >= 0) {
			mon.st.readers[i] = old[k];
			old[k].name[0] = '\0'; /* mark kept */
			continue;
		}
		memset(&mon.st.readers[i], 0, sizeof(mon.st.readers[i]));
		copy_name(mon.st.readers[i].name, names[i]);
		mon.st.readers[i].since = time(NULL);
		log_info("reader \"%s\" appeared", names[i]);
		changed = 1;
	}
	for (size_t i = 0; i < n_old; i++) {
		if (old[i].name[0] == '\0')
			continue;
		log_info("reader \"%s\" disappeared%s", old[i].name,
		         old[i].card_present ? " with its card" : "");
		changed = 1;
	}
	mon.st.n_readers = n;
	return changed;
}

/* Thread only: rebuild what SCardGetStatusChange watches, keeping the last known state of
 * readers that stay so the next wait only returns on real changes. */
static void rebuild_watch(char (*names)[PCSC_NAME_MAX], size_t n)
{
	static SCARD_READERSTATE old[PCSC_MAX_READERS + 1];
	static char old_names[PCSC_MAX_READERS][PCSC_NAME_MAX];
	size_t n_old = mon.n_rs > 0 ? mon.n_rs - 1 : 0;
	DWORD pnp_cur = mon.n_rs > 0 ? mon.rs[n_old].dwCurrentState : SCARD_STATE_UNAWARE;
	memcpy(old, mon.rs, sizeof(old));
	memcpy(old_names, mon.rs_names, sizeof(old_names));
	for (size_t i = 0; i < n; i++) {
		DWORD cur = SCARD_STATE_UNAWARE;
		for (size_t j = 0; j < n_old; j++)
			if (strcmp(old_names[j], names[i]) == 0)
				cur = old[j].dwCurrentState;
		copy_name(mon.rs_names[i], names[i]);
		memset(&mon.rs[i], 0, sizeof(mon.rs[i]));
		mon.rs[i].szReader = mon.rs_names[i];
		mon.rs[i].dwCurrentState = cur;
	}
	memset(&mon.rs[n], 0, sizeof(mon.rs[n]));
	mon.rs[n].szReader = PCSC_PNP_NAME;
	mon.rs[n].dwCurrentState = pnp_cur;
	mon.n_rs = n + 1;
}

/* Split pcscd's multi-string reader list into names; bounded by `len`. */
static size_t split_list(const char *list, size_t len, char (*names)[PCSC_NAME_MAX])
{
	size_t n = 0;
	for (size_t off = 0; off < len && list[off] != '\0' && n < PCSC_MAX_READERS;) {
		size_t nl = strnlen(list + off, len - off);
		if (nl >= PCSC_NAME_MAX)
			nl = PCSC_NAME_MAX - 1;
		memcpy(names[n], list + off, nl);
		names[n][nl] = '\0';
		off += strnlen(list + off, len - off) + 1;
		n++;
	}
	return n;
}

/* Under lock: apply one reader's new event state; returns whether it changed. */
static int apply_reader_locked(struct pcsc_reader *r, const SCARD_READERSTATE *s)
{
	DWORD ev = s->dwEventState;
	int present = (ev & SCARD_STATE_PRESENT) != 0;
	char atr[PCSC_ATR_HEX_MAX] = "";
	if (present && !(ev & SCARD_STATE_MUTE))
		atr_to_hex(s->rgbAtr, s->cbAtr < sizeof(s->rgbAtr) ? s->cbAtr : sizeof(s->rgbAtr),
		           atr, sizeof(atr));
	int in_use = (ev & SCARD_STATE_EXCLUSIVE) != 0;
	if (present == r->card_present && in_use == r->card_in_use && strcmp(atr, r->atr_hex) == 0)
		return 0;
	if (present != r->card_present || strcmp(atr, r->atr_hex) != 0) {
		if (present)
			log_info("card inserted in reader \"%s\" (ATR %s%s)", r->name,
			         atr[0] ? atr : "none", (ev & SCARD_STATE_MUTE) ? ", mute" : "");
		else
			log_info("card removed from reader \"%s\"", r->name);
	}
	r->card_present = present;
	r->card_in_use = in_use;
	snprintf(r->atr_hex, sizeof(r->atr_hex), "%s", atr);
	r->since = time(NULL);
	return 1;
}

/* Under lock, after a successful wait: record changes; sets *relist when the reader list
 * must be re-read. Returns whether anything changed. */
static int apply_events_locked(int *relist)
{
	int changed = 0;
	size_t n = mon.n_rs - 1;
	for (size_t i = 0; i <= n; i++) {
		SCARD_READERSTATE *s = &mon.rs[i];
		if (!(s->dwEventState & SCARD_STATE_CHANGED))
			continue;
		s->dwCurrentState = s->dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		if (i == n || (s->dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))) {
			*relist = 1; /* PnP entry, or a reader went away */
			continue;
		}
		if (i < mon.st.n_readers && strcmp(mon.st.readers[i].name, mon.rs_names[i]) == 0)
			changed |= apply_reader_locked(&mon.st.readers[i], s);
	}
	return changed;
}

/* Ask pcscd for its readers, rebuild the table and the watch list, and read the new readers'
 * states at once (timeout 0) so a snapshot never shows a reader in an unknown state. */
static LONG list_readers(int *relist)
{
	static char list[PCSC_LIST_MAX];
	static char names[PCSC_MAX_READERS][PCSC_NAME_MAX];
	DWORD len = sizeof(list);
	LONG rv = SCardListReaders(mon.hctx, NULL, list, &len);
	size_t n = 0;
	if (rv == SCARD_S_SUCCESS && len <= sizeof(list))
		n = split_list(list, len, names);
	else if (rv != SCARD_E_NO_READERS_AVAILABLE)
		return rv;
	rebuild_watch(names, n);
	rv = SCardGetStatusChange(mon.hctx, 0, mon.rs, (DWORD)mon.n_rs);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT && rv != SCARD_E_UNKNOWN_READER)
		return rv;
	*relist = rv == SCARD_E_UNKNOWN_READER;
	pthread_mutex_lock(&mon.lock);
	int changed = update_table_locked(names, n);
	if (rv == SCARD_S_SUCCESS)
		changed |= apply_events_locked(relist);
	if (changed)
		touch_locked();
	pthread_mutex_unlock(&mon.lock);
	if (changed)
		notify();
	return SCARD_S_SUCCESS;
}

/* One round with a live context. Returns the PC/SC status that ended it. */
static LONG watch_once(int *relist)
{
	if (*relist)
		return list_readers(relist);
	LONG rv = SCardGetStatusChange(mon.hctx, PCSC_WAIT_MS, mon.rs, (DWORD)mon.n_rs);
	if (rv == SCARD_S_SUCCESS) {
		pthread_mutex_lock(&mon.lock);
		int changed = apply_events_locked(relist);
		if (changed)
			touch_locked();
		pthread_mutex_unlock(&mon.lock);
		if (changed)
			notify();
	} else if (rv == SCARD_E_UNKNOWN_READER)
		*relist = 1;
	if (rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED || rv == SCARD_E_UNKNOWN_READER)
		return SCARD_S_SUCCESS;
	return rv;
}

static void *monitor_main(void *arg)
{
	(void)arg;
	unsigned backoff = PCSC_BACKOFF_MIN_MS;
	int relist = 1;
	while (!atomic_load(&mon.stop)) {
		LONG rv = establish();
		if (rv != SCARD_S_SUCCESS) {
			set_unreachable(rv);
			backoff_sleep(backoff);
			backoff =
			    backoff * 2 > PCSC_BACKOFF_MAX_MS ? PCSC_BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		set_reachable();
		backoff = PCSC_BACKOFF_MIN_MS;
		relist = 1;
		while (!atomic_load(&mon.stop) && (rv = watch_once(&relist)) == SCARD_S_SUCCESS) {
		}
		drop_ctx();
		if (rv != SCARD_S_SUCCESS && !atomic_load(&mon.stop)) {
			if (!pcsc_lost(rv))
				log_warn("PC/SC call failed: %s; reconnecting",
				         pcsc_stringify_error(rv));
			set_unreachable(rv);
			backoff_sleep(PCSC_BACKOFF_MIN_MS);
		}
	}
	pthread_mutex_lock(&mon.lock);
	mon.exited = 1;
	pthread_cond_broadcast(&mon.wake);
	pthread_mutex_unlock(&mon.lock);
	return NULL;
}

c2s_err pcsc_start(const char *reader_filter, pcsc_change_fn cb, void *ctx)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	pthread_mutex_lock(&mon.lock);
	ENSURE(!mon.started, C2S_ERR_BUSY);
	ENSURE(reader_filter == NULL || strlen(reader_filter) < sizeof(mon.filter), C2S_ERR_ARG);
	snprintf(mon.filter, sizeof(mon.filter), "%s", reader_filter ? reader_filter : "");
	memset(&mon.st, 0, sizeof(mon.st));
	mon.st.running = 1;
	mon.st.since = time(NULL);
	mon.st.since_mono_ms = now_mono_ms();
	mon.cb = cb;
	mon.cb_ctx = ctx;
	mon.n_rs = 0;
	mon.exited = 0;
	atomic_store(&mon.stop, 0);
	ENSURE(pthread_create(&mon.thread, NULL, monitor_main, NULL) == 0, C2S_ERR_CARD);
	mon.started = 1;
	ret = C2S_OK;
out:
	pthread_mutex_unlock(&mon.lock);
	if (ret == C2S_OK)
		log_info("PC/SC monitor started%s%s", mon.filter[0] ? " for readers matching " : "",
		         mon.filter);
	return ret;
}

void pcsc_stop(void)
{
	pthread_mutex_lock(&mon.lock);
	if (!mon.started) {
		pthread_mutex_unlock(&mon.lock);
		return;
	}
	atomic_store(&mon.stop, 1);
	pthread_cond_broadcast(&mon.wake);
	/* SCardCancel wakes SCardGetStatusChange at once, but is lost when the thread is between
	 * two calls: repeat it until the thread is out (else the 1 s timeout bounds the wait). */
	while (!mon.exited) {
		if (mon.have_ctx)
			(void)SCardCancel(mon.hctx);
		struct timespec until = deadline_in(20);
		(void)pthread_cond_timedwait(&mon.wake, &mon.lock, &until);
	}
	pthread_t t = mon.thread;
	pthread_mutex_unlock(&mon.lock);
	pthread_join(t, NULL);
	pthread_mutex_lock(&mon.lock);
	mon.started = 0;
	mon.st.running = 0;
	mon.st.reachable = 0;
	mon.st.n_readers = 0;
	select_reader_locked(&mon.st);
	mon.cb = NULL;
	pthread_mutex_unlock(&mon.lock);
	log_info("PC/SC monitor stopped");
}

c2s_err pcsc_snapshot(struct pcsc_state *out)
{
	c2s_err ret = C2S_ERR_INTERNAL;
	ENSURE(out != NULL, C2S_ERR_ARG);
	pthread_mutex_lock(&mon.lock);
	*out = mon.st;
	pthread_mutex_unlock(&mon.lock);
	ret = C2S_OK;
out:
	return ret;
}
