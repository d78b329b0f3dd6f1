/* pdf.h pdf_probe: the document read once in a forked child under the kernel's limits before
 * the caller reads it in-process. qpdf's parse has no budget of its own; the prescan and the
 * work budget bound the shapes they know, and an attacker who desynchronises the prescan from
 * qpdf (an unclosed string, a second Flate layer, an indirect /Filter) or spreads the cost over
 * many small objects still made qpdf spend gigabytes. The child's address space may grow by
 * `mem` bytes and it may use `cpu` seconds; then the kernel ends it. Not under AddressSanitizer
 * (its shadow reserves terabytes of address space): there only the CPU limit applies.
 *
 * Forking a multi-threaded process is safe only for what the child does not share with the
 * other threads: a lock another thread held at the fork stays held in the child (AddressSanitizer's
 * allocator of GCC 12 has no fork handler: 4 of 300 concurrent seals waited for ever). So
 * c2s-web starts a probe server (pdf_probe_start) while it is still one thread, before it reads
 * its TLS key or opens anything; the server stays single-threaded and forks one child per
 * document, which receives the document over its own socket. Without a server (tools, tests)
 * pdf_probe forks the caller directly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pdf.h"

#define PDF_MAX_PROBE_LEN (1ull << 34)

#if defined(__SANITIZE_ADDRESS__)
#define PROBE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_ASAN 1
#endif
#endif
#ifndef PROBE_ASAN
#define PROBE_ASAN 0
#endif

struct probe_reply {
	int32_t code;
	char why[400];
};

static size_t vsz_now(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* VmPeak of /proc/self/status, bytes (0 when unknown) */
static size_t vsz_peak(void)
{
	char line[128];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPeak: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (size_t)kb * 1024;
}

static void probe_child(int fd, const uint8_t *pdf, size_t len, size_t max_len, int repair,
                        const struct pdf_probe_limits *lim)
{
	struct probe_reply r;
	memset(&r, 0, sizeof(r));
	/* the parent's unflushed stdio buffers are copies here: whatever flushes them (qpdf's
	 * streams do) writes to /dev/null, not twice into the parent's log */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup3(null, STDOUT_FILENO, 0);
		dup3(null, STDERR_FILENO, 0);
		close(null);
	}
	struct rlimit cpu = {lim->cpu_s, lim->cpu_s + 1};
	setrlimit(RLIMIT_CPU, &cpu); /* SIGXCPU, then SIGKILL */
	/* and a deadline in wall time: a child that waits (on a lock another thread of the
	 * parent held at fork) uses no CPU; SIGALRM ends it all the same */
	struct itimerval wall = {.it_value = {.tv_sec = 3 * (time_t)lim->cpu_s + 2}};
	setitimer(ITIMER_REAL, &wall, NULL);
	size_t v = PROBE_ASAN ? 0 : vsz_now();
	if (v) {
		struct rlimit as = {v + lim->mem, v + lim->mem};
		setrlimit(RLIMIT_AS, &as);
	}
	c2s_err e;
	if (repair) {
		struct buf out;
		char what[160];
		e = pdf_repair(pdf, len, max_len, &out, what, sizeof(what), r.why, sizeof(r.why));
		buf_free(&out);
	} else {
		struct pdf_sig_params p = {.name = "probe", .when = 1, .contents_max = 8192};
		struct pdf_prepared pp;
		e = pdf_prepare(pdf, len, max_len, &p, &pp, r.why, sizeof(r.why));
		pdf_prepared_free(&pp);
	}
	/* qpdf catches std::bad_alloc: in its C API (the message says so), or while resolving
	 * an object, which then reads as null ("no usable catalog"); the address space that
	 * reached its limit tells */
	if (e != C2S_OK &&
	    (strstr(r.why, "bad_alloc") || (v && vsz_peak() + (1u << 20) >= v + lim->mem)))
		e = C2S_ERR_NOMEM;
	r.code = (int32_t)e;
	ssize_t w = write(fd, &r, sizeof(r));   /* under PIPE_BUF: one write, never blocks */
	_exit(w == (ssize_t)sizeof(r) ? 0 : 1); /* no atexit handlers, no leak check */
}

/* ---- the probe server -------------------------------------------------------------- */

struct probe_req {
	uint64_t len, max_len, mem;
	uint32_t cpu_s;
	int32_t repair;
};

static int g_server = -1; /* the control socket to the server */
static pthread_mutex_t g_server_mu = PTHREAD_MUTEX_INITIALIZER;
/* documents being read at once: each child may take parse_memory and a core. Slots go to
 * waiters first come, first served (a condition variable's signal is not): a client that
 * floods the appliance with slow documents waits in the same line as everybody else. */
struct slot_waiter {
	pthread_cond_t cv;
	int granted;
	struct slot_waiter *next;
};
static struct slot_waiter *g_wait_head, *g_wait_tail;
static unsigned g_busy, g_parallel = 4;

/* A slot within the deadline, or 0 (the caller answers 503 busy). */
static int slot_take(unsigned wait_s)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)wait_s;
	pthread_mutex_lock(&g_server_mu);
	if (g_busy < g_parallel && !g_wait_head) {
		g_busy++;
		pthread_mutex_unlock(&g_server_mu);
		return 1;
	}
	struct slot_waiter w = {.granted = 0, .next = NULL};
	pthread_cond_init(&w.cv, NULL);
	if (g_wait_tail)
		g_wait_tail->next = &w;
	else
		g_wait_head = &w;
	g_wait_tail = &w;
	int timed_out = 0;
	while (!w.granted && !timed_out)
		timed_out = pthread_cond_timedwait(&w.cv, &g_server_mu, &until) != 0 && !w.granted;
	if (!w.granted) { /* out of the line */
		struct slot_waiter **pp = &g_wait_head, *prev = NULL;
		while (*pp && *pp != &w)
			prev = *pp, pp = &(*pp)->next;
		if (*pp)
			*pp = w.next;
		if (g_wait_tail == &w)
			g_wait_tail = prev;
	}
	pthread_mutex_unlock(&g_server_mu);
	pthread_cond_destroy(&w.cv);
	return w.granted;
}

/* The slot passes to the first waiter, or is freed. */
static void slot_give(void)
{
	pthread_mutex_lock(&g_server_mu);
	struct slot_waiter *w = g_wait_head;
	if (w) {
		g_wait_head = w->next;
		if (!g_wait_head)
			g_wait_tail = NULL;
		w->granted = 1;
		pthread_cond_signal(&w->cv);
	} else {
		g_busy--;
	}
	pthread_mutex_unlock(&g_server_mu);
}

static int io_full(int fd, void *p, size_t n, int writing)
{
	uint8_t *b = p;
	while (n) {
		ssize_t k = writing ? write(fd, b, n) : read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_fd(int ctl, int fd)
{
	char byte = 'p';
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = u.buf,
	                   .msg_controllen = sizeof(u.buf)};
	memset(u.buf, 0, sizeof(u.buf));
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ctl, &m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int recv_fd(int ctl)
{
	char byte;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = u.buf,
	                   .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(ctl, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *c = n == 1 ? CMSG_FIRSTHDR(&m) : NULL;
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* One document: the request, the bytes, then probe_child (which answers and exits). */
static void serve_one(int fd)
{
	struct probe_req q;
	if (io_full(fd, &q, sizeof(q), 0) != 0 || q.len == 0 || q.len > PDF_MAX_PROBE_LEN ||
	    q.cpu_s == 0)
		_exit(1);
	uint8_t *doc = malloc(q.len);
	if (!doc || io_full(fd, doc, q.len, 0) != 0)
		_exit(1);
	struct pdf_probe_limits lim = {.mem = q.mem, .cpu_s = q.cpu_s};
	probe_child(fd, doc, q.len, q.max_len, q.repair, &lim);
}

static void server_loop(int ctl)
{
	/* none of c2s-web's descriptors (the parent's channel, the listeners): only ours */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ctl)
			close(fd);
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	for (;;) {
		int fd = recv_fd(ctl);
		if (fd < 0)
			_exit(0); /* c2s-web is gone */
		pid_t pid = fork();
		if (pid == 0) {
			close(ctl);
			serve_one(fd);
		}
		close(fd);
	}
}

c2s_err pdf_probe_start(unsigned parallel)
{
	int sv[2];
	if (g_server >= 0)
		return C2S_OK;
	g_parallel = parallel ? parallel : 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return C2S_ERR_NOMEM;
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return C2S_ERR_NOMEM;
	}
	if (pid == 0) {
		close(sv[0]);
		server_loop(sv[1]);
	}
	close(sv[1]);
	g_server = sv[0];
	return C2S_OK;
}

/* The child's answer, or why there is none. */
static c2s_err verdict(int answered, const struct probe_reply *r, int sig,
                       const struct pdf_probe_limits *lim, char *why, size_t why_cap)
{
	if (answered) {
		if (r->code == C2S_ERR_NOMEM) {
			if (why && why_cap)
				snprintf(
				    why, why_cap,
				    "reading the PDF needs more than %zu MiB of memory; refused",
				    lim->mem >> 20);
			return C2S_ERR_PDF_UNSUPPORTED;
		}
		if (why && why_cap)
			snprintf(why, why_cap, "%s", r->why);
		return (c2s_err)r->code;
	}
	if (why && why_cap) {
		if (sig == SIGXCPU || sig == SIGKILL)
			snprintf(why, why_cap,
			         "reading the PDF takes more than %u s of CPU; refused",
			         lim->cpu_s);
		else if (sig == SIGALRM)
			snprintf(why, why_cap,
			         "reading the PDF did not finish within %u s; refused",
			         3 * lim->cpu_s + 2);
		else
			snprintf(why, why_cap,
			         "reading the PDF exceeded its limits (%zu MiB of memory, %u s of "
			         "CPU); refused",
			         lim->mem >> 20, lim->cpu_s);
	}
	return C2S_ERR_PDF_UNSUPPORTED;
}

static c2s_err probe_via_server(const uint8_t *pdf, size_t len, size_t max_len, int repair,
                                const struct pdf_probe_limits *lim, char *why, size_t why_cap)
{
	int sp[2];
	struct probe_reply r;
	struct probe_req q = {
	    .len = len, .max_len = max_len, .mem = lim->mem, .cpu_s = lim->cpu_s, .repair = repair};
	if (len == 0 || len > PDF_MAX_PROBE_LEN)
		return C2S_OK; /* nothing qpdf reads: the caller's pdf_prepare refuses it */
	if (!slot_take(3 * lim->cpu_s + 2)) {
		if (why && why_cap)
			snprintf(
			    why, why_cap,
			    "%u documents are being read; retry shortly ([pades] parse_parallel)",
			    g_parallel);
		return C2S_ERR_BUSY;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		slot_give();
		return C2S_ERR_NOMEM;
	}
	pthread_mutex_lock(&g_server_mu);
	int sent = send_fd(g_server, sp[1]);
	pthread_mutex_unlock(&g_server_mu);
	close(sp[1]);
	if (sent != 0) {
		close(sp[0]);
		slot_give();
		if (why && why_cap)
			snprintf(why, why_cap, "the PDF reader process is not running");
		return C2S_ERR_INTERNAL;
	}
	/* a child that dies while it reads leaves a broken pipe: its answer (none) tells */
	int ok = io_full(sp[0], &q, sizeof(q), 1) == 0 && io_full(sp[0], (void *)pdf, len, 1) == 0;
	(void)ok;
	int answered = io_full(sp[0], &r, sizeof(r), 0) == 0;
	close(sp[0]);
	slot_give();
	r.why[sizeof(r.why) - 1] = 0;
	return verdict(answered, &r, 0, lim, why, why_cap);
}

c2s_err pdf_probe(const uint8_t *pdf, size_t len, size_t max_len, int repair,
                  const struct pdf_probe_limits *lim, char *why, size_t why_cap)
{
	int fds[2];
	struct probe_reply r;
	if (why && why_cap)
		why[0] = 0;
	if (!lim || !lim->cpu_s)
		return C2S_OK; /* not isolated ([pades] parse_cpu = 0) */
	if (g_server >= 0)
		return probe_via_server(pdf, len, max_len, repair, lim, why, why_cap);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return C2S_ERR_NOMEM;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return C2S_ERR_NOMEM;
	}
	if (pid == 0) {
		close(fds[0]);
		probe_child(fds[1], pdf, len, max_len, repair, lim);
	}
	close(fds[1]);
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t n = read(fds[0], (char *)&r + got, sizeof(r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r.why[sizeof(r.why) - 1] = 0;
	int answered = got == sizeof(r) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return verdict(answered, &r, WIFSIGNALED(st) ? WTERMSIG(st) : 0, lim, why, why_cap);
}
