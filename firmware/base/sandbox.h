/* The processes' sandboxes (ARCHITECTURE.md "Processes", docs/THREATMODEL.md).
 *
 * Started as root, the parent resolves one user per child role and gives each role its files
 * (sandbox_prepare); each child is switched to its user before it is exec'd (sandbox_drop),
 * so no child ever runs a line as root. After its own initialisation a child locks itself in
 * (sandbox_lock): no new privileges, not dumpable, no core files, and a seccomp allow-list
 * written for its role. Started unprivileged, the roles share that uid and the rest applies. */
#ifndef C2S_SANDBOX_H
#define C2S_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "err.h"

enum sandbox_role { SANDBOX_PARENT = 0, SANDBOX_KEYHOLDER, SANDBOX_WEB, SANDBOX_NOTIFY };

#define SANDBOX_OFF     0
#define SANDBOX_LOG     1
#define SANDBOX_ENFORCE 2

struct sandbox_ids {
	int switch_users; /* started as root: each child gets its own uid */
	uid_t uid[4];     /* by enum sandbox_role; [SANDBOX_PARENT] is the parent's own */
	gid_t gid[4];
	gid_t group;         /* supplementary group of web and notify (the main database) */
	const char *bad_key; /* when sandbox_ids failed: the [daemon] key `why` is about */
};

/* The configured users (only looked up when running as root). C2S_ERR_CONFIG with `why` set
 * and ids->bad_key naming the [daemon] key when a user or the group does not exist, is root,
 * or is another role's. */
C2S_MUST_CHECK c2s_err sandbox_ids(const struct config *cfg, struct sandbox_ids *ids, char *why,
                                   size_t why_cap);

/* As root: every file of a role owned by that role's user with the role's modes: the
 * keyholder's store, the token's files and the PIN files to the keyholder alone; the main
 * database and its blobs to web (group: web and notify); notify's secrets to notify; the TLS
 * key to web. Walks without following links and skips hard-linked files (each named in the
 * log). Returns the number of problems logged. A no-op when !ids->switch_users. */
size_t sandbox_prepare(const struct config *cfg, const struct sandbox_ids *ids);

/* In a forked child before exec: become the role's user for good (groups, gid, uid). */
C2S_MUST_CHECK c2s_err sandbox_drop(const struct sandbox_ids *ids, enum sandbox_role role);

/* After the role's initialisation: no new privileges, not dumpable, no core files and, for
 * children, the role's seccomp allow-list on every thread (cfg->sandbox: enforce kills the
 * process on a call outside it, log lets it through and the kernel logs it). The parent gets
 * no filter: it execs the children, which would inherit it. */
C2S_MUST_CHECK c2s_err sandbox_lock(const struct config *cfg, enum sandbox_role role);

/* The token's file directory: [token] directory, else SoftHSM2's directories.tokendir (from
 * $SOFTHSM2_CONF or /etc/softhsm/softhsm2.conf) when the module is SoftHSM2; 0 when none. */
int sandbox_token_dir(const struct config *cfg, char *out, size_t cap);

#endif
