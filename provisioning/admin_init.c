/* click2sign-admin init: check the whole config, create the state directory and database. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "firmware/base/sandbox.h"
#include "firmware/daemon/ready.h"
#include "firmware/store/store.h"

/* Creates dir with mode 0700, or tightens an existing one we own. */
static c2s_err init_state_dir(const struct admin *a, const char *dir)
{
	c2s_err ret = C2S_ERR_IO;
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		admin_fail("cannot create state directory %s: %s; create its parent or fix "
		           "[daemon] state_dir",
		           dir, strerror(errno));
		goto out;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		admin_fail("[daemon] state_dir %s exists but is not a directory; move it away",
		           dir);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		admin_fail("state directory %s is owned by uid %u, not by this user (uid %u); run "
		           "init as the service user",
		           dir, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	/* as root with the roles' users, the daemon owns the modes (root:click2sign 3771; set
	 * after this command, firmware/base/sandbox.c); otherwise the one user's, 0700 */
	struct sandbox_ids ids;
	char why[512];
	if (geteuid() == 0 && sandbox_ids(&a->cfg, &ids, why, sizeof(why)) == C2S_OK) {
		ret = C2S_OK;
		goto out;
	}
	if ((st.st_mode & 07777) != 0700) {
		if (chmod(dir, 0700) != 0) {
			admin_fail("cannot set mode 0700 on %s: %s", dir, strerror(errno));
			goto out;
		}
		printf("state directory %s: mode tightened from %04o to 0700\n", dir,
		       (unsigned)(st.st_mode & 07777));
	}
	ret = C2S_OK;
out:
	return ret;
}

static void init_next_steps(const struct admin *a)
{
	const char *c = a->config_path;
	const char *seal = a->cfg.seal_key[0] ? a->cfg.seal_key : "c2s-seal";
	printf("next steps:\n");
	printf("  1. new token only: click2sign-admin --config %s token init --label LABEL "
	       "--so-pin-file SO.pin --pin-file %s\n",
	       c, a->cfg.pin_file[0] ? a->cfg.pin_file : "USER.pin");
	printf("  2. click2sign-admin --config %s key generate --label %s --type rsa:3072\n", c,
	       seal);
	printf("  3. click2sign-admin --config %s csr --key %s --subject \"CN=...,O=...,C=SI\" "
	       "--out seal.csr   (send it to the CA)\n",
	       c, seal);
	printf("  4. click2sign-admin --config %s cert import --key %s --cert seal.pem --chain "
	       "issuers.pem\n",
	       c, seal);
	printf("  5. click2sign-admin --config %s client add portal   (give the token to the "
	       "portal)\n",
	       c);
	printf("  6. click2sign-admin --config %s selftest\n", c);
}

int admin_cmd_init(struct admin *a, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st = NULL;
	int rc = admin_opts_parse(a, "init", argc, argv, NULL, 0, pos, 0, &n_pos);
	if (rc != ADMIN_EXIT_OK)
		return rc;
	rc = ADMIN_EXIT_FAIL;
	c2s_err cr = config_load(a->config_path, &a->cfg);
	size_t fatal = 0, daemon_bad = 0;
	for (size_t i = 0; i < a->cfg.n_problems; i++) {
		const struct config_problem *p = &a->cfg.problems[i];
		/* init is strict, except for the seal chain `cert import` writes later */
		int chain_later = strcmp(p->section, "seal") == 0 && !admin_problem_fatal(p);
		fatal += !chain_later;
		daemon_bad += strcmp(p->section, "daemon") == 0 || p->section[0] == 0;
	}
	if (cr != C2S_OK)
		config_print_problems(&a->cfg);
	if (cr != C2S_OK && fatal == 0)
		printf("note: [seal] chain is written by `click2sign-admin cert import`\n");
	if (daemon_bad) {
		admin_fail("config %s has %zu problem(s), listed above; fix them and run init "
		           "again",
		           a->config_path, a->cfg.n_problems);
		goto out;
	}
	if (init_state_dir(a, a->cfg.state_dir) != C2S_OK)
		goto out;
	c2s_err sr = store_open(a->cfg.state_dir, &st);
	if (sr != C2S_OK) {
		admin_fail("cannot create the database in %s: %s", a->cfg.state_dir,
		           c2s_err_message(sr));
		goto out;
	}
	printf("state directory %s (0700) and database %s/click2sign.db are ready\n",
	       a->cfg.state_dir, a->cfg.state_dir);
	if (fatal) {
		admin_fail("config %s has %zu problem(s), listed above; fix them and run init "
		           "again",
		           a->config_path, fatal);
		goto out;
	}
	printf("config %s is valid\n", a->config_path);
	/* the daemon's own readiness check: what would stop it, said now */
	static struct ready rd;
	ready_check(&a->cfg, (int64_t)time(NULL), 1, &rd);
	if (rd.n) {
		ready_print(&rd, a->config_path);
		printf(
		    "note: %zu thing(s) above to fix before click2signd starts (`click2signd -n` "
		    "checks again)\n",
		    rd.n);
	}
	init_next_steps(a);
	rc = ADMIN_EXIT_OK;
out:
	store_close(st);
	return rc;
}
