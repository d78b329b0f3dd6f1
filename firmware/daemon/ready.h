/* Readiness: what would stop the appliance from serving or signing, found before it starts, by
 * `click2signd -n`, `click2sign-admin init` and at start-up, each problem with what to do: the
 * PIN files (owner, mode, a symbolic link, stray whitespace: which one), the TLS certificate
 * and key (parse, belong together, valid now and for how long), the TSA's trust anchors, and
 * (-n, init) the token reachable with the seal key's certificate, current. */
#ifndef C2S_READY_H
#define C2S_READY_H

#include <stddef.h>
#include <stdint.h>

#include "firmware/base/config.h"

#define READY_MAX 16

struct ready_problem {
	char section[32], key[48];
	char why[512];
	int fatal; /* 1: would stop serving or signing; 0: a warning */
};

struct ready {
	struct ready_problem p[READY_MAX];
	size_t n, fatal;
	int no_start; /* the daemon cannot start (a listener could never answer) */
};

/* Fills r (cleared first). `now` is Unix seconds. with_token: also open the token (no login)
 * and check the seal key's certificate in it: for `-n` and `init` only, never in the parent
 * before it forks the keyholder (a PKCS#11 module must not be shared across fork). */
void ready_check(const struct config *cfg, int64_t now, int with_token, struct ready *r);
/* Prints each problem as "FILE: [section] key: why" (warnings marked) to stderr. */
void ready_print(const struct ready *r, const char *config_path);

#endif
