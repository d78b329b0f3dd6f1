#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_role = "c2s";
static enum log_level log_max = LOG_LVL_INFO;
static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *role, enum log_level level)
{
	log_role = role;
	log_max = level;
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level lvl, const char *file, const char *func, const char *fmt, ...)
{
	if (lvl > log_max)
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000, log_role, (int)getpid(), log_names[lvl]);
	if (n < 0)
		return;
	size_t used = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (m > 0)
		used += (size_t)m < sizeof(line) - used ? (size_t)m : sizeof(line) - used - 1;
	if (lvl <= LOG_LVL_WARN || log_max >= LOG_LVL_DEBUG) {
		const char *base = strrchr(file, '/');
		int k = snprintf(line + used, sizeof(line) - used, " (%s:%s)",
		                 base ? base + 1 : file, func);
		if (k > 0)
			used +=
			    (size_t)k < sizeof(line) - used ? (size_t)k : sizeof(line) - used - 1;
	}
	/* one write per line so lines from several processes do not interleave */
	if (used < sizeof(line) - 1)
		line[used++] = '\n';
	else
		line[sizeof(line) - 1] = '\n', used = sizeof(line);
	ssize_t w = write(STDERR_FILENO, line, used);
	(void)w;
}
