/* The process table of click2signd and the parent's supervision loop.
 * Roles are separate exec'd images of the same binary, told apart by argv[0]. */
#ifndef C2S_PROC_H
#define C2S_PROC_H

#include "firmware/base/config.h"
#include "firmware/base/err.h"

enum proc_id { PROC_KEYHOLDER = 0, PROC_WEB = 1, PROC_NOTIFY = 2, PROC_COUNT = 3 };

struct proc_role {
	enum proc_id id;
	const char *name; /* argv[0] and PR_SET_NAME */
	int (*main)(const struct config *cfg);
};

/* Role for an argv[0] (basename), or NULL for the parent. */
const struct proc_role *proc_role_for(const char *argv0);
/* In a child after exec: name the process, set PR_SET_PDEATHSIG. */
void proc_child_setup(const struct proc_role *r);
/* The parent: bind listeners, start children, supervise until SIGTERM/SIGINT. */
int proc_parent_run(const struct config *cfg, const char *config_path);

#endif
