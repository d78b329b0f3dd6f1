#include "proc.h"
#include "sdnotify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "firmware/base/log.h"
#include "firmware/base/sandbox.h"
#include "firmware/ipc/ipc.h"
#include "firmware/keyholder/keyholder.h"
#include "firmware/notify/notifyd.h"
#include "web/server.h"
#include "web/webd.h"

static const struct proc_role proc_table[PROC_COUNT] = {
    {PROC_KEYHOLDER, "c2s-keyholder", keyholder_main},
    {PROC_WEB, "c2s-web", webd_main},
    {PROC_NOTIFY, "c2s-notify", notifyd_main},
};

struct proc_child {
	const struct proc_role *role;
	pid_t pid;
	int fd; /* parent's end of the parent channel */
	long long started_ms;
	long long restart_at_ms; /* 0 = not scheduled */
	unsigned backoff_ms;
	unsigned quick_fails; /* consecutive exits within PROC_QUICK_MS of the start */
};

/* A child that fails this many times in a row, each time within PROC_QUICK_MS of its start,
 * is not started again: the daemon stops, with the reason, rather than keep a port open that
 * never answers or a keyholder that never comes up. A service manager may start it again. */
#define PROC_MAX_QUICK_FAILS 10
#define PROC_QUICK_MS        30000

struct proc_parent {
	const struct config *cfg;
	const char *config_path;
	int listen_fd, cert_listen_fd;
	uint32_t generation;
	struct sandbox_ids ids;
	struct proc_child kids[PROC_COUNT];
	int giving_up;
};

static long long proc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const struct proc_role *proc_role_for(const char *argv0)
{
	const char *base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	for (int i = 0; i < PROC_COUNT; i++)
		if (strcmp(base, proc_table[i].name) == 0)
			return &proc_table[i];
	return NULL;
}

void proc_child_setup(const struct proc_role *r)
{
	prctl(PR_SET_NAME, r->name, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() == 1)
		_exit(0); /* parent already gone */
}

static int proc_bind(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		log_error("listen address %s is not an IPv4 address", host);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0) {
		log_error("cannot listen on %s:%d: %s", host, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* In the forked child: move fds into their fixed numbers, close the rest, exec. */
static void proc_exec_child(struct proc_parent *pp, const struct proc_role *r, int chfd)
{
	int want[3] = {chfd, r->id == PROC_WEB ? pp->listen_fd : -1,
	               r->id == PROC_WEB ? pp->cert_listen_fd : -1};
	int tmp[3];
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* no controlling terminal (TIOCSTI into an operator's shell) and nothing to read on it */
	setsid();
	int null = open("/dev/null", O_RDONLY); /* lands on 0 itself when 0 was closed */
	if (null > 0) {
		dup2(null, 0);
		close(null);
	}
	for (int i = 0; i < 3; i++)
		tmp[i] = want[i] >= 0 ? fcntl(want[i], F_DUPFD, 64) : -1;
	for (int i = 0; i < 3; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], IPC_FD_PARENT + i) < 0)
			_exit(127);
	/* the program by descriptor, opened while still root: the child's user need not be able
	 * to pass through the directories it was installed or built in */
	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0 || (exe != IPC_FD_PARENT + 3 && dup3(exe, IPC_FD_PARENT + 3, O_CLOEXEC) < 0))
		_exit(127);
	close_range(IPC_FD_PARENT + 4, ~0U, 0);
	if (chdir("/") != 0)
		_exit(127);
	static const enum sandbox_role sb[PROC_COUNT] = {SANDBOX_KEYHOLDER, SANDBOX_WEB,
	                                                 SANDBOX_NOTIFY};
	if (sandbox_drop(&pp->ids, sb[r->id]) != C2S_OK) {
		static const char msg[] = "click2signd: cannot switch a child to its user\n";
		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(127);
		_exit(127);
	}
	char *argv[] = {(char *)r->name, (char *)"-c", (char *)pp->config_path, NULL};
	fexecve(IPC_FD_PARENT + 3, argv, environ);
	_exit(127);
}

static int proc_spawn(struct proc_parent *pp, struct proc_child *k)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_error("socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		proc_exec_child(pp, k->role, sv[1]);
	close(sv[1]);
	k->pid = pid;
	k->fd = sv[0];
	k->started_ms = proc_now_ms();
	k->restart_at_ms = 0;
	log_info("started %s (pid %d)", k->role->name, (int)pid);
	return 0;
}

/* Fresh keyholder<->web channels, one per web worker, handed to both children. */
static void proc_send_channels(struct proc_parent *pp)
{
	struct proc_child *kh = &pp->kids[PROC_KEYHOLDER], *web = &pp->kids[PROC_WEB];
	unsigned n = pp->cfg->workers + 1; /* the first one is c2s-web's status channel */
	int khfds[IPC_MAX_FDS], webfds[IPC_MAX_FDS];
	unsigned made = 0;
	if (kh->pid <= 0 || web->pid <= 0)
		return;
	if (n > IPC_MAX_FDS)
		n = IPC_MAX_FDS;
	for (; made < n; made++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			break;
		khfds[made] = sv[0];
		webfds[made] = sv[1];
	}
	pp->generation++;
	uint8_t g[4] = {(uint8_t)(pp->generation >> 24), (uint8_t)(pp->generation >> 16),
	                (uint8_t)(pp->generation >> 8), (uint8_t)pp->generation};
	if (made != n || ipc_send_fds(kh->fd, IPC_CHANNELS, g, 4, khfds, made) != C2S_OK ||
	    ipc_send_fds(web->fd, IPC_CHANNELS, g, 4, webfds, made) != C2S_OK)
		log_error("could not hand %u channels to the children", n);
	else
		log_info("handed %u keyholder channels to c2s-web (generation %u)", made,
		         pp->generation);
	for (unsigned i = 0; i < made; i++) {
		close(khfds[i]);
		close(webfds[i]);
	}
	/* the keyholder's channel to c2s-notify (one-time codes) */
	struct proc_child *nt = &pp->kids[PROC_NOTIFY];
	int sv[2];
	if (nt->pid <= 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	if (ipc_send_fds(kh->fd, IPC_NOTIFY_CHANNEL, NULL, 0, &sv[0], 1) != C2S_OK ||
	    ipc_send_fds(nt->fd, IPC_CHANNELS, g, 4, &sv[1], 1) != C2S_OK)
		log_error("could not connect the keyholder to c2s-notify");
	close(sv[0]);
	close(sv[1]);
}

static void proc_reaped(struct proc_parent *pp, pid_t pid, int status)
{
	for (int i = 0; i < PROC_COUNT; i++) {
		struct proc_child *k = &pp->kids[i];
		if (k->pid != pid)
			continue;
		long long lived = proc_now_ms() - k->started_ms;
		if (lived > PROC_QUICK_MS)
			k->backoff_ms = 0;
		k->quick_fails = lived > PROC_QUICK_MS ? 0 : k->quick_fails + 1;
		k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : 100;
		if (k->backoff_ms > 10000)
			k->backoff_ms = 10000;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
			log_error(
			    "%s (pid %d) was killed for a system call outside its sandbox "
			    "(SIGSYS; the kernel's audit log names the call); restarting in %u ms",
			    k->role->name, (int)pid, k->backoff_ms);
		else if (WIFSIGNALED(status))
			log_error("%s (pid %d) was killed by signal %d; restarting in %u ms",
			          k->role->name, (int)pid, WTERMSIG(status), k->backoff_ms);
		else
			log_error("%s (pid %d) exited with status %d; restarting in %u ms",
			          k->role->name, (int)pid, WEXITSTATUS(status), k->backoff_ms);
		close(k->fd);
		k->fd = -1;
		k->pid = 0;
		k->restart_at_ms = proc_now_ms() + k->backoff_ms;
		if (k->quick_fails >= PROC_MAX_QUICK_FAILS) {
			log_error(
			    "%s failed %u times in a row, each within %d s of its start: "
			    "stopping the daemon instead of starting it again (the errors above "
			    "say why)",
			    k->role->name, k->quick_fails, PROC_QUICK_MS / 1000);
			k->restart_at_ms = 0;
			pp->giving_up = 1;
		}
	}
}

/* Waits until every child is gone or the deadline passes; 1 when all are gone. */
static int proc_wait_children(struct proc_parent *pp, long long deadline)
{
	for (;;) {
		int left = 0;
		for (int i = 0; i < PROC_COUNT; i++) {
			int st;
			if (pp->kids[i].pid <= 0)
				continue;
			pid_t r = waitpid(pp->kids[i].pid, &st, WNOHANG);
			if (r == pp->kids[i].pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
				log_error("%s (pid %d) was killed for a system call outside its "
				          "sandbox while stopping",
				          pp->kids[i].role->name, (int)r);
			if (r == pp->kids[i].pid || r < 0)
				pp->kids[i].pid = 0;
			else
				left = 1;
		}
		if (!left)
			return 1;
		if (proc_now_ms() > deadline)
			return 0;
		usleep(20000);
	}
}

/* Ask each child to stop over its channel (the keyholder finalises the PKCS#11 module),
 * then SIGTERM, then SIGKILL. */
static void proc_shutdown(struct proc_parent *pp)
{
	sdnotify_stopping();
	for (int i = 0; i < PROC_COUNT; i++)
		if (pp->kids[i].pid > 0 && pp->kids[i].fd >= 0 &&
		    ipc_send(pp->kids[i].fd, IPC_SHUTDOWN, NULL, 0) != C2S_OK)
			kill(pp->kids[i].pid, SIGTERM);
	if (proc_wait_children(pp, proc_now_ms() + 3000))
		return;
	for (int i = 0; i < PROC_COUNT; i++)
		if (pp->kids[i].pid > 0)
			kill(pp->kids[i].pid, SIGTERM);
	if (proc_wait_children(pp, proc_now_ms() + 5000))
		return;
	for (int i = 0; i < PROC_COUNT; i++)
		if (pp->kids[i].pid > 0) {
			log_warn("%s did not stop; killing it", pp->kids[i].role->name);
			kill(pp->kids[i].pid, SIGKILL);
			waitpid(pp->kids[i].pid, NULL, 0);
			pp->kids[i].pid = 0;
		}
}

static int proc_next_timeout(struct proc_parent *pp)
{
	long long now = proc_now_ms(), t = -1;
	for (int i = 0; i < PROC_COUNT; i++)
		if (pp->kids[i].restart_at_ms) {
			long long d = pp->kids[i].restart_at_ms - now;
			d = d < 0 ? 0 : d;
			t = t < 0 || d < t ? d : t;
		}
	return (int)t;
}

static int proc_loop(struct proc_parent *pp, int sfd)
{
	for (;;) {
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		int r = poll(&pfd, 1, proc_next_timeout(pp));
		if (r < 0 && errno != EINTR)
			return 1;
		if (r > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				log_info("signal %d: shutting down", (int)si.ssi_signo);
				proc_shutdown(pp);
				return 0;
			}
			int st;
			pid_t pid;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
				proc_reaped(pp, pid, st);
			if (pp->giving_up) {
				proc_shutdown(pp);
				return 1;
			}
		}
		int spawned = 0;
		for (int i = 0; i < PROC_COUNT; i++) {
			struct proc_child *k = &pp->kids[i];
			if (k->restart_at_ms && k->restart_at_ms <= proc_now_ms()) {
				if (proc_spawn(pp, k) == 0)
					spawned = 1;
				else
					k->restart_at_ms = proc_now_ms() + 1000;
			}
		}
		if (spawned)
			proc_send_channels(pp);
	}
}

/* One descriptor per connection on both listeners, and the files: raise the soft limit (which
 * the children inherit) up to the hard one, and say so when even that is short. */
static void proc_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)2 * (cfg->max_connections + WEB_HEALTH_RESERVE) + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		log_warn(
		    "open files limited to %llu: fewer than [web] max_connections (%u) on both "
		    "listeners can be served; raise the hard limit (LimitNOFILE=)",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections);
}

int proc_parent_run(const struct config *cfg, const char *config_path)
{
	/* the children start in / (their users may not pass through the working directory) */
	static char abs_config[PATH_MAX];
	if (config_path[0] != '/' && realpath(config_path, abs_config))
		config_path = abs_config;
	struct proc_parent pp = {.cfg = cfg, .config_path = config_path};
	sigset_t mask;
	int rc = 1, sfd = -1;
	pp.listen_fd = proc_bind(cfg->listen_host, cfg->listen_port);
	pp.cert_listen_fd = proc_bind(cfg->cert_listen_host, cfg->cert_listen_port);
	if (pp.listen_fd < 0 || pp.cert_listen_fd < 0)
		goto out;
	char why[512];
	if (sandbox_ids(cfg, &pp.ids, why, sizeof(why)) != C2S_OK) {
		log_error("not started: [daemon] %s: %s", pp.ids.bad_key, why);
		goto out;
	}
	if (!pp.ids.switch_users)
		log_warn(
		    "started as uid %u, not root: the keyholder, web and notify share that uid "
		    "(started as root, each runs as its own user)",
		    (unsigned)geteuid());
	size_t np = sandbox_prepare(cfg, &pp.ids);
	if (np)
		log_warn("%zu file(s) could not be given to their role's user (named above)", np);
	if (sandbox_lock(cfg, SANDBOX_PARENT) != C2S_OK)
		goto out;
	proc_fd_limit(cfg);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		goto out;
	for (int i = 0; i < PROC_COUNT; i++) {
		pp.kids[i].role = &proc_table[i];
		pp.kids[i].fd = -1;
		if (proc_spawn(&pp, &pp.kids[i]) != 0)
			goto out;
	}
	proc_send_channels(&pp);
	log_info("click2signd %s: listening on https://%s:%d (certificates on %s:%d)", C2S_VERSION,
	         cfg->listen_host, cfg->listen_port, cfg->cert_listen_host, cfg->cert_listen_port);
	sdnotify_ready("listening on %s:%d and %s:%d", cfg->listen_host, cfg->listen_port,
	               cfg->cert_listen_host, cfg->cert_listen_port);
	rc = proc_loop(&pp, sfd);
out:
	if (rc != 0)
		proc_shutdown(&pp);
	if (sfd >= 0)
		close(sfd);
	if (pp.listen_fd >= 0)
		close(pp.listen_fd);
	if (pp.cert_listen_fd >= 0)
		close(pp.cert_listen_fd);
	return rc;
}
