#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/sched.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1 /* LeakSanitizer stops the world with clone + ptrace at exit */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif

static const char *const sandbox_names[4] = {"click2signd", "c2s-keyholder", "c2s-web",
                                             "c2s-notify"};

/* ---- users ---- */

static c2s_err sandbox_user(const char *name, uid_t *uid, gid_t *gid, char *why, size_t cap)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(why, cap,
		         "there is no user '%s'; create it (useradd --system "
		         "--no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
		         "--user-group %s) or install the click2sign package",
		         name, name);
		return C2S_ERR_CONFIG;
	}
	if (res->pw_uid == 0 || res->pw_gid == 0) {
		snprintf(why, cap, "user '%s' is root (uid or gid 0); give it its own", name);
		return C2S_ERR_CONFIG;
	}
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	return C2S_OK;
}

c2s_err sandbox_ids(const struct config *cfg, struct sandbox_ids *ids, char *why, size_t why_cap)
{
	memset(ids, 0, sizeof(*ids));
	ids->uid[SANDBOX_PARENT] = geteuid();
	ids->gid[SANDBOX_PARENT] = getegid();
	if (geteuid() != 0) {
		for (int r = 1; r < 4; r++) {
			ids->uid[r] = geteuid();
			ids->gid[r] = getegid();
		}
		ids->group = getegid();
		return C2S_OK;
	}
	ids->switch_users = 1;
	ids->bad_key = "group"; /* the failures below the users' */
	const char *users[4] = {NULL, cfg->keyholder_user, cfg->web_user, cfg->notify_user};
	const char *keys[4] = {NULL, "keyholder_user", "web_user", "notify_user"};
	for (int r = 1; r < 4; r++)
		if (sandbox_user(users[r], &ids->uid[r], &ids->gid[r], why, why_cap) != C2S_OK) {
			ids->bad_key = keys[r];
			return C2S_ERR_CONFIG;
		}
	for (int a = 1; a < 4; a++)
		for (int b = a + 1; b < 4; b++)
			if (ids->uid[a] == ids->uid[b]) {
				snprintf(
				    why, why_cap,
				    "it names the same uid %u as [daemon] %s; each role needs its "
				    "own user",
				    (unsigned)ids->uid[a], keys[a]);
				ids->bad_key = keys[b];
				return C2S_ERR_CONFIG;
			}
	struct group gr, *res = NULL;
	char buf[8192];
	if (getgrnam_r(cfg->group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(why, why_cap,
		         "there is no group '%s'; create it (groupadd --system %s) "
		         "or install the click2sign package",
		         cfg->group, cfg->group);
		return C2S_ERR_CONFIG;
	}
	if (res->gr_gid == 0 || res->gr_gid == ids->gid[SANDBOX_KEYHOLDER]) {
		snprintf(why, why_cap,
		         "'%s' must be a group of its own (not root's, not the "
		         "keyholder's)",
		         cfg->group);
		return C2S_ERR_CONFIG;
	}
	ids->group = res->gr_gid;
	ids->bad_key = NULL;
	return C2S_OK;
}

c2s_err sandbox_drop(const struct sandbox_ids *ids, enum sandbox_role role)
{
	if (!ids->switch_users || role == SANDBOX_PARENT)
		return C2S_OK;
	/* web and notify share the database: a journal file one of them creates must be the
	 * other's at once (SQLite widens a new file's mode only after creating it, and the
	 * other process may open it in between, read-only) */
	umask(role == SANDBOX_KEYHOLDER ? 077 : 007);
	uid_t u = ids->uid[role], ru, eu, su;
	gid_t g = ids->gid[role], rg, eg, sg;
	gid_t groups[1] = {ids->group};
	/* the keyholder is in no group but its own: it cannot open the main database */
	size_t ng = role == SANDBOX_KEYHOLDER ? 0 : 1;
	if (setgroups(ng, groups) != 0 || setresgid(g, g, g) != 0 || setresuid(u, u, u) != 0)
		return C2S_ERR_INTERNAL;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != u || eu != u ||
	    su != u || rg != g || eg != g || sg != g || setuid(0) == 0)
		return C2S_ERR_INTERNAL;
	return C2S_OK;
}

/* ---- files ---- */

struct sb_own {
	uid_t uid;
	gid_t gid;
	mode_t dmode, fmode;
	int recurse;
	int nofollow; /* the named path too: it lies in a directory a role can write */
	int keep;     /* root's trust (portal keys, anchors, CRLs): never re-owned; a file root
	                 does not own is named, left alone, and ignored by its readers */
};

struct sb_walk {
	size_t problems;
	dev_t skip_dev[8];
	ino_t skip_ino[8];
	size_t n_skip;
};

/* Owner and mode of one file (and, for a directory with recurse, of what is below it), on a
 * descriptor reopened from an O_PATH|O_NOFOLLOW one: a link planted by a role is never
 * followed below the named path, a hard-linked file (which could be anyone's) is skipped, and
 * nothing is renamed between the check and the change. */
static void sb_fix(struct sb_walk *w, int at, const char *name, const char *shown,
                   const struct sb_own *o, int depth)
{
	struct stat st, st2;
	char proc[64];
	int pfd = openat(at, name, O_PATH | O_CLOEXEC | (depth || o->nofollow ? O_NOFOLLOW : 0));
	if (pfd < 0) {
		if (errno != ENOENT) {
			log_warn("cannot examine %s: %s", shown, strerror(errno));
			w->problems++;
		}
		return;
	}
	if (fstat(pfd, &st) != 0)
		goto out;
	for (size_t i = 0; i < w->n_skip; i++)
		if (depth && st.st_dev == w->skip_dev[i] && st.st_ino == w->skip_ino[i])
			goto out; /* another role's directory, given its owner on its own */
	if (S_ISLNK(st.st_mode) || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		log_warn("%s is not a regular file or directory: left as it is", shown);
		w->problems++;
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		log_warn("%s has %lu hard links: left as it is (remove the other names)", shown,
		         (unsigned long)st.st_nlink);
		w->problems++;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	                        (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd < 0 || fstat(fd, &st2) != 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
		log_warn("cannot open %s: %s", shown, strerror(errno));
		w->problems++;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	mode_t want = S_ISDIR(st.st_mode) ? o->dmode : o->fmode;
	if (o->keep && st.st_uid != o->uid) {
		log_error("%s is owned by uid %u, not root: left as it is, and not trusted (remove "
		          "it; add keys, anchors and CRLs with click2sign-admin)",
		          shown, (unsigned)st.st_uid);
		w->problems++;
		close(fd);
		goto out;
	}
	if (!o->keep && (st.st_uid != o->uid || st.st_gid != o->gid) &&
	    fchown(fd, o->uid, o->gid) != 0) {
		log_warn("cannot give %s to uid %u: %s", shown, (unsigned)o->uid, strerror(errno));
		w->problems++;
	}
	/* after fchown, which clears the set-group-ID bit; only when it differs, since a
	 * service manager may forbid setting that bit (RestrictSUIDSGID=) or the file system
	 * may be read-only where the files are already right (ProtectSystem=) */
	if (fstat(fd, &st2) != 0 || (st2.st_mode & 07777) != want) {
		if (fchmod(fd, want) != 0) {
			log_warn("cannot set the mode of %s: %s", shown, strerror(errno));
			w->problems++;
		}
	}
	if (S_ISDIR(st.st_mode) && o->recurse && depth < 16) {
		int dfd = dup(fd);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *e;
		while (d && (e = readdir(d)) != NULL) {
			char sub[1024];
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%.500s/%.500s", shown, e->d_name);
			sb_fix(w, fd, e->d_name, sub, o, depth + 1);
		}
		if (d)
			closedir(d);
		else if (dfd >= 0)
			close(dfd);
	}
	close(fd);
out:
	close(pfd);
}

static void sb_skip(struct sb_walk *w, const char *path)
{
	struct stat st;
	if (path[0] && w->n_skip < 8 && stat(path, &st) == 0) {
		w->skip_dev[w->n_skip] = st.st_dev;
		w->skip_ino[w->n_skip++] = st.st_ino;
	}
}

static int sb_canon(const char *path, char *out, size_t cap);

static void sb_path(struct sb_walk *w, const char *path, const struct sb_own *o)
{
	char canon[CONFIG_PATH + 8];
	if (!path[0])
		return;
	/* "dir/name/" would make the kernel follow a link at name despite O_NOFOLLOW */
	if (o->nofollow && sb_canon(path, canon, sizeof(canon)))
		path = canon;
	sb_fix(w, AT_FDCWD, path, path, o, 0);
}

int sandbox_token_dir(const struct config *cfg, char *out, size_t cap)
{
	if (cfg->token_dir[0])
		return snprintf(out, cap, "%s", cfg->token_dir) < (int)cap;
	const char *base = strrchr(cfg->module, '/');
	if (!strstr(base ? base : cfg->module, "softhsm"))
		return 0;
	const char *conf = getenv("SOFTHSM2_CONF");
	FILE *f = fopen(conf && conf[0] ? conf : "/etc/softhsm/softhsm2.conf", "re");
	char line[4200];
	int found = 0;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		if (strncmp(p, "directories.tokendir", 20) != 0)
			continue;
		p += 20;
		p += strspn(p, " \t");
		if (*p++ != '=')
			continue;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\r\n")] = 0;
		found = p[0] == '/' && snprintf(out, cap, "%s", p) < (int)cap;
	}
	if (f)
		fclose(f);
	return found;
}

/* `path` with its directory part resolved (realpath) and no trailing slash, its last name kept
 * as it is (a link there stays a link); 0 when the directory does not resolve. */
static int sb_canon(const char *path, char *out, size_t cap)
{
	char tmp[CONFIG_PATH], dir[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return 0;
	memcpy(tmp, path, n + 1);
	while (n > 1 && tmp[n - 1] == '/')
		tmp[--n] = 0;
	char *slash = strrchr(tmp, '/');
	if (!slash || slash == tmp || strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0)
		return realpath(tmp, dir) && snprintf(out, cap, "%s", dir) < (int)cap;
	*slash = 0;
	return realpath(tmp, dir) && snprintf(out, cap, "%s/%s", dir, slash + 1) < (int)cap;
}

/* Creates a missing directory (root's, as the mode says apart from its special bits, which
 * sb_fix sets; a service manager may forbid setting them: RestrictSUIDSGID=). */
static void sb_mkdir(struct sb_walk *w, const char *path, mode_t mode)
{
	struct stat st;
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return;
	if (mkdir(path, mode & 0777) != 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", path, strerror(errno));
		w->problems++;
	}
}

size_t sandbox_prepare(const struct config *cfg, const struct sandbox_ids *ids)
{
	struct sb_walk w = {0};
	char tokdir[CONFIG_PATH], path[CONFIG_PATH + 64];
	if (!ids->switch_users)
		return 0;
	const uid_t kh = ids->uid[SANDBOX_KEYHOLDER], web = ids->uid[SANDBOX_WEB],
	            nt = ids->uid[SANDBOX_NOTIFY];
	const gid_t khg = ids->gid[SANDBOX_KEYHOLDER], ntg = ids->gid[SANDBOX_NOTIFY],
	            grp = ids->group;
	int have_tok = sandbox_token_dir(cfg, tokdir, sizeof(tokdir));
	/* the state directory: root's, sticky, so that web and notify create the database's
	 * journal files there but cannot rename the keyholder's store or the portal's keys, and
	 * set-group-ID, so that what either creates is the other's too; others may only pass
	 * through to the keyholder's directory. Every name in it is opened without following a
	 * link (web and notify could plant one). */
	sb_mkdir(&w, cfg->state_dir, 03771);
	sb_path(&w, cfg->state_dir, &(struct sb_own){0, grp, 03771, 0, 0, 0, 0});
	/* root's trust, created before any child runs so that none can plant it first */
	const struct sb_own pub = {0, 0, 0755, 0644, 1, 1, 1};
	sb_mkdir(&w, cfg->portal_keys, 0755);
	sb_mkdir(&w, cfg->trust_dir, 0755);
	sb_mkdir(&w, cfg->crl_dir, 0755);
	sb_path(&w, cfg->portal_keys, &pub);
	sb_path(&w, cfg->trust_dir, &pub);
	sb_path(&w, cfg->crl_dir, &pub);
	sb_skip(&w, cfg->kh_state_dir);
	if (have_tok)
		sb_skip(&w, tokdir);
	sb_skip(&w, cfg->portal_keys);
	sb_skip(&w, cfg->trust_dir);
	sb_skip(&w, cfg->crl_dir);
	static const char *const db[] = {"click2sign.db", "click2sign.db-wal", "click2sign.db-shm",
	                                 "click2sign.db-journal"};
	for (size_t i = 0; i < sizeof(db) / sizeof(db[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->state_dir, db[i]);
		sb_path(&w, path, &(struct sb_own){web, grp, 02770, 0660, 0, 1, 0});
	}
	/* documents: web's; notify reads them (the group) and cannot replace them */
	snprintf(path, sizeof(path), "%s/blobs", cfg->state_dir);
	sb_mkdir(&w, path, 02750);
	sb_path(&w, path, &(struct sb_own){web, grp, 02750, 0640, 1, 1, 0});
	/* the keyholder's alone */
	sb_mkdir(&w, cfg->kh_state_dir, 0700);
	sb_path(&w, cfg->kh_state_dir, &(struct sb_own){kh, khg, 0700, 0600, 1, 1, 0});
	/* named in the configuration: where root keeps them (links are followed) */
	if (have_tok) {
		/* inside the state directory (the package's default) a role could have planted a
		 * link or a directory of its own under its name: there it is created by root
		 * before any child runs and never followed. Compared canonically: a trailing
		 * slash or a "/./" must not make it look outside (nor make O_NOFOLLOW follow). */
		char canon[CONFIG_PATH + 8], sd[PATH_MAX];
		int inside = sb_canon(tokdir, canon, sizeof(canon)) &&
		             realpath(cfg->state_dir, sd) && strncmp(canon, sd, strlen(sd)) == 0 &&
		             canon[strlen(sd)] == '/';
		if (inside)
			sb_mkdir(&w, canon, 0700);
		sb_path(&w, inside ? canon : tokdir,
		        &(struct sb_own){kh, khg, 0700, 0600, 1, inside, 0});
	}
	sb_path(&w, cfg->pin_file, &(struct sb_own){kh, khg, 0700, 0400, 0, 0, 0});
	sb_path(&w, cfg->sig_pin_file, &(struct sb_own){kh, khg, 0700, 0400, 0, 0, 0});
	/* notify's secrets, and the TLS key of the listeners web serves */
	const struct sb_own ntf = {nt, ntg, 0700, 0400, 0, 0, 0};
	sb_path(&w, cfg->smtp_password_file, &ntf);
	sb_path(&w, cfg->sms_token_file, &ntf);
	sb_path(&w, cfg->webhook_secret_file, &ntf);
	sb_path(&w, cfg->tls_key,
	        &(struct sb_own){web, ids->gid[SANDBOX_WEB], 0700, 0400, 0, 0, 0});
	return w.problems;
}

/* ---- seccomp ---- */

#define SB_ALL (1u << SANDBOX_KEYHOLDER | 1u << SANDBOX_WEB | 1u << SANDBOX_NOTIFY)
#define SB_NET (1u << SANDBOX_WEB | 1u << SANDBOX_NOTIFY)
#define SB_WEB (1u << SANDBOX_WEB)

struct sb_call {
	const char *name;
	unsigned roles;
};

/* What each role calls after its initialisation, read from strace of the full test flows
 * (orders, seals, customer pages in Chromium and Firefox, certificate login, notify's
 * deliveries). Absent on purpose: execve, fork (clone without CLONE_THREAD), ptrace,
 * process_vm_*, pidfd_*, kill, set*id, mount, bpf, keyctl, io_uring, memfd_create, listen;
 * for the keyholder any socket but AF_UNIX (pcscd), and accept/bind. */
static const struct sb_call sb_calls[] = {
    /* memory, threads, time, signals */
    {"brk", SB_ALL},
    {"mmap", SB_ALL},
    {"munmap", SB_ALL},
    {"mremap", SB_ALL},
    {"mprotect", SB_ALL},
    {"madvise", SB_ALL},
    {"mlock", SB_ALL},
    {"munlock", SB_ALL},
    {"futex", SB_ALL},
    {"set_robust_list", SB_ALL},
    {"get_robust_list", SB_ALL},
    {"rseq", SB_ALL},
    {"sched_yield", SB_ALL},
    {"sched_getaffinity", SB_ALL},
    {"exit", SB_ALL},
    {"exit_group", SB_ALL},
    {"clock_gettime", SB_ALL},
    {"clock_getres", SB_ALL},
    {"gettimeofday", SB_ALL},
    {"time", SB_ALL},
    {"nanosleep", SB_ALL},
    {"clock_nanosleep", SB_ALL},
    {"rt_sigaction", SB_ALL},
    {"rt_sigprocmask", SB_ALL},
    {"rt_sigreturn", SB_ALL},
    {"restart_syscall", SB_ALL},
    {"sigaltstack", SB_ALL},
    {"getpid", SB_ALL},
    {"gettid", SB_ALL},
    {"getppid", SB_ALL},
    {"getuid", SB_ALL},
    {"geteuid", SB_ALL},
    {"getgid", SB_ALL},
    {"getegid", SB_ALL},
    {"getrandom", SB_ALL},
    {"sysinfo", SB_ALL},
    {"uname", SB_ALL},
    {"prlimit64", SB_ALL},
    /* files: the uid decides which */
    {"read", SB_ALL},
    {"write", SB_ALL},
    {"readv", SB_ALL},
    {"writev", SB_ALL},
    {"pread64", SB_ALL},
    {"pwrite64", SB_ALL},
    {"lseek", SB_ALL},
    {"openat", SB_ALL},
    {"open", SB_ALL},
    {"close", SB_ALL},
    {"fstat", SB_ALL},
    {"newfstatat", SB_ALL},
    {"stat", SB_ALL},
    {"lstat", SB_ALL},
    {"statx", SB_ALL},
    {"access", SB_ALL},
    {"faccessat", SB_ALL},
    {"faccessat2", SB_ALL},
    {"readlink", SB_ALL},
    {"getdents64", SB_ALL},
    {"fcntl", SB_ALL},
    {"dup", SB_ALL},
    {"dup3", SB_ALL},
    {"fsync", SB_ALL},
    {"fdatasync", SB_ALL},
    {"ftruncate", SB_ALL},
    {"fallocate", SB_ALL},
    {"unlink", SB_ALL},
    {"unlinkat", SB_ALL},
    {"rename", SB_ALL},
    {"renameat", SB_ALL},
    {"mkdir", SB_ALL},
    {"chmod", SB_ALL},
    {"fchmod", SB_ALL},
    {"fchown", SB_ALL},
    {"umask", SB_ALL},
    {"getcwd", SB_ALL},
    {"flock", SB_ALL},
    {"poll", SB_ALL},
    {"ppoll", SB_ALL},
    {"pipe2", SB_ALL},
    /* descriptors passed over the parent's channel, and sockets */
    {"sendmsg", SB_ALL},
    {"recvmsg", SB_ALL},
    {"sendto", SB_ALL},
    {"recvfrom", SB_ALL},
    {"connect", SB_ALL},
    {"shutdown", SB_ALL},
    {"getsockopt", SB_ALL},
    {"setsockopt", SB_ALL},
    {"getsockname", SB_ALL},
    {"getpeername", SB_ALL},
    {"socketpair", SB_NET},
    {"sendmmsg", SB_NET},
    {"recvmmsg", SB_NET},
    {"bind", SB_NET}, /* getaddrinfo's netlink socket; there is no listen() */
    {"ioctl", SB_NET},
    {"epoll_create1", SB_NET},
    {"epoll_ctl", SB_NET},
    {"epoll_wait", SB_NET},
    {"epoll_pwait", SB_NET},
    {"select", SB_NET},
    {"pselect6", SB_NET},
    {"eventfd2", SB_NET},
    {"accept4", SB_WEB},
    {"accept", SB_WEB},
    {"signalfd4", SB_WEB},
    {"getrusage", SB_WEB}, /* the PDF probe's workers: their CPU so far */
};

/* Under AddressSanitizer (the test build): LeakSanitizer's check at exit. */
static const char *const sb_sanitizer_calls[] = {"clone",       "ptrace",  "wait4",  "prctl",
                                                 "tgkill",      "kill",    "getpid", "sched_yield",
                                                 "sigaltstack", "getdents"};

static int sb_rule(scmp_filter_ctx f, const char *name, unsigned n, const struct scmp_arg_cmp *a)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, n, a);
}

static c2s_err sb_filter(const struct config *cfg, enum sandbox_role role)
{
	uint32_t deny = cfg->sandbox == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx f = seccomp_init(deny);
	int rc = f ? 0 : -1;
	if (rc == 0)
		rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc == 0)
		rc = seccomp_attr_set(f, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; rc == 0 && i < sizeof(sb_calls) / sizeof(sb_calls[0]); i++)
		if (sb_calls[i].roles & (1u << role))
			rc = sb_rule(f, sb_calls[i].name, 0, NULL);
	/* threads only: glibc falls back from clone3 (whose flags a filter cannot read) */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		                      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* web reads each untrusted PDF first in a forked child under the kernel's limits
	 * (pdf_probe): fork exactly as glibc does it, and wait for it; never exec */
	if (rc == 0 && role == SANDBOX_WEB)
		rc = seccomp_rule_add(
		    f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_EQ, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0));
	if (rc == 0 && role == SANDBOX_WEB)
		rc = sb_rule(f, "wait4", 0, NULL);
	if (rc == 0 && role == SANDBOX_WEB) /* the child's own deadline (SIGALRM) */
		rc = sb_rule(f, "setitimer", 0, NULL);
	/* threads name themselves */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		                      SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0));
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
		                      SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME, 0));
	/* abort() and raise() signal the process itself */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	/* sockets: the keyholder only reaches pcscd; web and notify also the network */
	if (rc == 0)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                      SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0));
	if (role != SANDBOX_KEYHOLDER) {
		static const int fam[] = {AF_INET, AF_INET6, AF_NETLINK};
		for (size_t i = 0; rc == 0 && i < 3; i++)
			rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			                      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam[i], 0));
	}
	if (SANDBOX_SANITIZER)
		for (size_t i = 0; rc == 0 && i < sizeof(sb_sanitizer_calls) / sizeof(char *); i++)
			rc = sb_rule(f, sb_sanitizer_calls[i], 0, NULL);
	if (rc == 0)
		rc = seccomp_load(f);
	if (f)
		seccomp_release(f);
	if (rc != 0) {
		log_error("cannot load the seccomp filter of %s: %s", sandbox_names[role],
		          strerror(rc < 0 ? -rc : EINVAL));
		return C2S_ERR_INTERNAL;
	}
	return C2S_OK;
}

#ifdef C2S_TEST_HOOKS
/* Test builds: SIGUSR2 makes the process try the call that $C2S_TEST_SANDBOX_PROBE names for
 * its role ("c2s-web=execve,c2s-keyholder=socket-inet", calls: execve, socket-inet, ptrace),
 * which its filter must answer by killing it. */
static char sb_probe_what[16];

static void sb_probe(int sig)
{
	(void)sig;
	static char *const argv[] = {(char *)"/bin/true", NULL};
	if (strcmp(sb_probe_what, "execve") == 0)
		execve(argv[0], argv, argv + 1);
	else if (strcmp(sb_probe_what, "socket-inet") == 0)
		(void)socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(sb_probe_what, "ptrace") == 0)
		(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

static void sb_probe_arm(enum sandbox_role role)
{
	const char *w = getenv("C2S_TEST_SANDBOX_PROBE"), *me = sandbox_names[role];
	size_t n = strlen(me);
	for (const char *p = w; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0)) {
		size_t len = strcspn(p, ",");
		if (len > n + 1 && len - n - 1 < sizeof(sb_probe_what) && strncmp(p, me, n) == 0 &&
		    p[n] == '=') {
			memcpy(sb_probe_what, p + n + 1, len - n - 1);
			sb_probe_what[len - n - 1] = 0;
			struct sigaction sa = {.sa_handler = sb_probe};
			sigaction(SIGUSR2, &sa, NULL);
			return;
		}
	}
}
#else
static void sb_probe_arm(enum sandbox_role role)
{
	(void)role;
}
#endif

c2s_err sandbox_lock(const struct config *cfg, enum sandbox_role role)
{
	if (role != SANDBOX_PARENT)
		sb_probe_arm(role);
	struct rlimit no_core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &no_core) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("cannot lock %s in: %s", sandbox_names[role], strerror(errno));
		return C2S_ERR_INTERNAL;
	}
	/* not dumpable: no ptrace, no /proc/<pid>/mem, no core, even from the same uid. Under
	 * AddressSanitizer the leak check at exit must ptrace the process's own threads. */
	if (!SANDBOX_SANITIZER && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		log_error("cannot make %s undumpable: %s", sandbox_names[role], strerror(errno));
		return C2S_ERR_INTERNAL;
	}
	if (role == SANDBOX_PARENT || cfg->sandbox == SANDBOX_OFF) {
		if (role != SANDBOX_PARENT)
			log_warn("[daemon] sandbox = off: %s runs without its system-call filter",
			         sandbox_names[role]);
		return C2S_OK;
	}
	return sb_filter(cfg, role);
}
