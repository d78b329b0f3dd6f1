/* PC/SC monitor: one background thread watching pcscd (pcsc-lite) for readers appearing and
 * disappearing, cards inserted and removed, and pcscd itself going away and coming back.
 *
 * The thread blocks in SCardGetStatusChange on every reader plus the "\\?PnP?\Notification"
 * pseudo-reader, so changes are seen as soon as pcscd reports them (pcscd polls serial and
 * virtual readers every ~400 ms). When pcscd stops, the context is re-established with
 * backoff (100 ms doubling to 2 s) and the state reports pcscd unreachable meanwhile.
 *
 * The monitor never talks to the card (no SCardConnect), so it does not get in the way of the
 * PKCS#11 module that signs with it. Every change is logged at info level.
 * Clients find pcscd through PCSCLITE_CSOCK_NAME when it is set (tests use a private one). */
#ifndef C2S_PCSC_H
#define C2S_PCSC_H

#include "firmware/base/err.h"

#include <stddef.h>
#include <time.h>

#define PCSC_MAX_READERS 16           /* pcsc-lite's own limit (PCSCLITE_MAX_READERS_CONTEXTS) */
#define PCSC_NAME_MAX    128          /* reader name incl. NUL (pcsc-lite MAX_READERNAME) */
#define PCSC_ATR_HEX_MAX (2 * 33 + 1) /* ATR is at most 33 bytes */

struct pcsc_reader {
	char name[PCSC_NAME_MAX];
	int card_present; /* 1: a card is in the reader */
	int card_in_use;  /* 1: someone holds it exclusively (SCARD_STATE_EXCLUSIVE) */
	char atr_hex[PCSC_ATR_HEX_MAX]; /* lower-case hex, "" when no card */
	time_t since;                   /* wall-clock time of this reader's last change */
};

struct pcsc_state {
	int running;             /* the monitor thread is running */
	int reachable;           /* pcscd answered the monitor's last call */
	time_t since;            /* wall-clock time of the last change of anything below */
	long long since_mono_ms; /* the same on CLOCK_MONOTONIC, in ms (for latencies) */
	unsigned long changes;   /* number of changes seen so far */
	char error[64];          /* last PC/SC failure while unreachable, "" otherwise */
	/* The selected reader: the first one matching the filter given to pcsc_start that holds a
	 * card, else the first matching one. All empty/0 when there is none. */
	char reader[PCSC_NAME_MAX];
	int card_present;
	char atr_hex[PCSC_ATR_HEX_MAX];
	/* Every reader pcscd lists, in its order. */
	size_t n_readers;
	struct pcsc_reader readers[PCSC_MAX_READERS];
};

/* Called from the monitor thread after each change, with no lock held and a private copy of
 * the state. Keep it short; do not call pcsc_stop from it. */
typedef void (*pcsc_change_fn)(const struct pcsc_state *st, void *ctx);

/* Starts the monitor thread. `reader_filter` (may be NULL: any reader) selects which readers
 * the summary fields of pcsc_state describe: those whose name contains it. `cb` may be NULL.
 * Returns C2S_ERR_BUSY when already started; does not fail when pcscd is down (the state then
 * says unreachable until it comes up). */
C2S_MUST_CHECK c2s_err pcsc_start(const char *reader_filter, pcsc_change_fn cb, void *ctx);

/* Stops and joins the thread (returns within about 1 s). Safe to call when not started. */
void pcsc_stop(void);

/* Thread-safe copy of the current state. When the monitor is not running the copy says
 * running = 0, reachable = 0 and no readers; it still returns C2S_OK. */
C2S_MUST_CHECK c2s_err pcsc_snapshot(struct pcsc_state *out);

#endif
