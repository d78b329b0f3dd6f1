/* Readiness: what would stop the appliance from serving or signing, found before it starts, by
 * `click2signd -n` and at start-up, each problem with what to do. Checked without the token:
 * the PIN files (owner, mode, a symbolic link, stray whitespace: which one), the TLS certificate
 * and key (parse, belong together, valid now and for how long). */
#ifndef C2S_READY_H
#define C2S_READY_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/config.h"

#define READY_MAX 16

struct ready_problem {
	char section[32], key[48];
	char why[512];
	int fatal;    /* 1: would stop serving or signing; 0: a warning */
	int no_start; /* 1: the daemon cannot start with it (a listener could never answer) */
};

struct ready {
	struct ready_problem p[READY_MAX];
	size_t n, fatal;
};

/* Fills r (cleared first). `now` is Unix seconds. */
void ready_check(const struct config *cfg, int64_t now, struct ready *r);
/* Prints each problem as "FILE: [section] key: why" (warnings marked) to stderr. */
void ready_print(const struct ready *r, const char *config_path);

#endif
