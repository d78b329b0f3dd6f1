#include "clock.h"

#include <time.h>

#ifdef C2S_TEST_HOOKS
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The offset file is re-read only when its modification time or size changes. */
static int64_t clock_test_offset(void)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct timespec seen;
	static off_t seen_size = -1;
	static int64_t offset;
	const char *path = getenv("C2S_TEST_CLOCK_FILE");
	struct stat st;
	if (!path || stat(path, &st) != 0)
		return 0;
	pthread_mutex_lock(&mu);
	if (st.st_mtim.tv_sec != seen.tv_sec || st.st_mtim.tv_nsec != seen.tv_nsec ||
	    st.st_size != seen_size) {
		FILE *f = fopen(path, "r");
		long long v = 0;
		if (f) {
			if (fscanf(f, "%lld", &v) != 1)
				v = 0;
			fclose(f);
		}
		offset = v;
		seen = st.st_mtim;
		seen_size = st.st_size;
	}
	int64_t o = offset;
	pthread_mutex_unlock(&mu);
	return o;
}
#endif

int64_t clock_now(void)
{
	int64_t t = (int64_t)time(NULL);
#ifdef C2S_TEST_HOOKS
	t += clock_test_offset();
#endif
	return t;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_timegm(int year, int mon, int day, int hour, int min, int sec)
{
	struct tm tm = {.tm_year = year - 1900,
	                .tm_mon = mon - 1,
	                .tm_mday = day,
	                .tm_hour = hour,
	                .tm_min = min,
	                .tm_sec = sec};
	return (int64_t)timegm(&tm);
}
