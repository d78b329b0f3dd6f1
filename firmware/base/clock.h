/* The one clock the daemon reads: wall time for expiry (links, codes, SADs, certificates) and a
 * monotonic clock for intervals. Test builds (C2S_TEST_HOOKS) can move wall time forward: the
 * file named by C2S_TEST_CLOCK_FILE holds an offset in seconds, re-read when it changes. */
#ifndef C2S_CLOCK_H
#define C2S_CLOCK_H

#include <stdint.h>

/* Unix time in seconds (plus the test offset in test builds). */
int64_t clock_now(void);
/* Monotonic milliseconds, for intervals and rate limits; never moved by tests. */
int64_t clock_mono_ms(void);
/* The same monotonic clock in nanoseconds (rate limits with fine intervals). */
int64_t clock_mono_ns(void);

/* Unix seconds of a UTC calendar time (month 1..12), e.g. an X.509 time's fields. */
int64_t clock_timegm(int year, int mon, int day, int hour, int min, int sec);

#endif
