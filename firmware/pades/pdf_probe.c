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
 * its TLS key or opens anything; the server stays single-threaded and keeps worker processes
 * (forked from it) that receive each document over its own socket. Without a server (tools,
 * tests) pdf_probe forks the caller directly. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pdf.h"

#define PDF_MAX_PROBE_LEN (1ull << 34)
/* What the sender of a refused document can do about it */
#define PROBE_ADVICE                                                                               \
	"; refused as too costly to read safely. Resave it with a PDF tool (print to a new PDF); " \
	"for legitimately large documents the operator can raise [pades] parse_memory, parse_cpu"

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

/* The first bytes of a /proc file, NUL-terminated, in one read (no stdio: the workers ask
 * twice per document); 0 when unreadable. */
static size_t proc_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t)n : 0;
}

/* The address space's size now (the first field of /proc/self/statm, in pages), bytes */
static size_t vsz_now(void)
{
	char b[128];
	if (!proc_read("/proc/self/statm", b, sizeof(b)))
		return 0;
	return (size_t)strtoull(b, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* VmPeak of /proc/self/status, bytes (0 when unknown); it comes in the first kilobyte */
static size_t vsz_peak(void)
{
	char b[2048];
	proc_read("/proc/self/status", b, sizeof(b));
	const char *p = strstr(b, "\nVmPeak:");
	return p ? (size_t)strtoull(p + 8, NULL, 10) * 1024 : 0;
}

/* The parent's unflushed stdio buffers are copies here: whatever flushes them (qpdf's streams
 * do) writes to /dev/null, not twice into c2s-web's log. */
static void quiet_stdio(void)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup3(null, STDOUT_FILENO, 0);
		dup3(null, STDERR_FILENO, 0);
		close(null);
	}
}

/* One document read under the limits already set (`as_limit`: the address-space limit, 0
 * when none); fills r. 1 when it ran out of memory. */
static int probe_read(const uint8_t *pdf, size_t len, size_t max_len, int repair, size_t as_limit,
                      struct probe_reply *r)
{
	c2s_err e;
	memset(r, 0, sizeof(*r));
	if (repair) {
		struct buf out;
		char what[160];
		e = pdf_repair(pdf, len, max_len, &out, what, sizeof(what), r->why, sizeof(r->why));
		buf_free(&out);
	} else {
		struct pdf_sig_params p = {.name = "probe", .when = 1, .contents_max = 8192};
		struct pdf_prepared pp;
		e = pdf_prepare(pdf, len, max_len, &p, &pp, r->why, sizeof(r->why));
		pdf_prepared_free(&pp);
	}
	/* qpdf catches std::bad_alloc: in its C API (the message says so), or while resolving
	 * an object, which then reads as null ("no usable catalog"); the address space that
	 * reached its limit tells */
	int nomem = e != C2S_OK && (strstr(r->why, "bad_alloc") ||
	                            (as_limit && vsz_peak() + (1u << 20) >= as_limit));
	r->code = (int32_t)(nomem ? C2S_ERR_NOMEM : e);
	return nomem;
}

/* RLIMIT_AS at parse_memory over the size now, the hard limit `room` higher (room for documents
 * yet to come, 0 when the document is already here). Returns the size now, 0 when there is no
 * limit (AddressSanitizer). */
static size_t limit_as(const struct pdf_probe_limits *lim, size_t room)
{
	size_t v = PROBE_ASAN ? 0 : vsz_now();
	if (!v)
		return 0;
	struct rlimit as = {v + lim->mem, v + lim->mem + room};
	setrlimit(RLIMIT_AS, &as);
	return v;
}

/* A wall-clock deadline: a child that waits uses no CPU; SIGALRM ends it all the same. */
static void deadline(const struct pdf_probe_limits *lim, int on)
{
	struct itimerval wall = {.it_value = {.tv_sec = on ? 3 * (time_t)lim->cpu_s + 2 : 0}};
	setitimer(ITIMER_REAL, &wall, NULL);
}

/* Without a server: this forked child reads the one document and exits. */
static void probe_child(int fd, const uint8_t *pdf, size_t len, size_t max_len, int repair,
                        const struct pdf_probe_limits *lim)
{
	struct probe_reply r;
	quiet_stdio();
	struct rlimit cpu = {lim->cpu_s, lim->cpu_s + 1};
	setrlimit(RLIMIT_CPU, &cpu); /* SIGXCPU, then SIGKILL */
	deadline(lim, 1);
	size_t v = limit_as(lim, 0), as = v ? v + lim->mem : 0;
	probe_read(pdf, len, max_len, repair, as, &r);
	ssize_t w = write(fd, &r, sizeof(r));   /* under PIPE_BUF: one write, never blocks */
	_exit(w == (ssize_t)sizeof(r) ? 0 : 1); /* no atexit handlers, no leak check */
}

/* ---- the probe server -------------------------------------------------------------- */

struct probe_req { /* the limits are the server's, set when it started */
	uint64_t len, max_len;
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
		/* sockets only: a worker that died is EPIPE here, not SIGPIPE */
		ssize_t k = writing ? send(fd, b, n, MSG_NOSIGNAL) : read(fd, b, n);
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

/* A worker reads documents one after the other (a fork per document cost 0.7 ms, more than
 * reading a 34 KB contract): its address space is limited once; before each document its CPU
 * limit is set one budget above what it has used, and a deadline armed. A worker that ran
 * out of memory, or has read PROBE_WORKER_DOCS documents or grown by half its budget, exits
 * and the server starts another; one killed by a limit is replaced the same way. */
#define PROBE_WORKER_DOCS 1000

static long long cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}
#define PROBE_MAX_WORKERS 256
/* the server's descriptors: it closed all others (below 1024) when it started and holds one
 * per worker and per queued document, at most 3 * PROBE_MAX_WORKERS + a few */
#define PROBE_MAX_FD 1024

/* A document this large retires its worker after it (see worker_main). */
#define PROBE_BIG_DOC (8u << 20)

/* A worker's address space: parse_memory over its size at its start for reading, plus the
 * largest document it may be given (doc_max) as the hard limit: parse_memory is for reading,
 * not for the document's own bytes. Each document moves the soft limit (doc_limit). */
/* The soft limit for one document of `len` bytes, about to be allocated; returns it. From the
 * worker's size at its start (v0), not its size now: what earlier documents left (a heap glibc
 * keeps after free, up to half of parse_memory before the worker retires) is free memory this
 * document's reading would use on top of parse_memory (pdf_probe_budget_test). */
static size_t doc_limit(size_t v0, size_t len, const struct pdf_probe_limits *lim)
{
	struct rlimit as;
	if (!v0 || getrlimit(RLIMIT_AS, &as) != 0)
		return 0;
	size_t want = v0 + len + lim->mem;
	as.rlim_cur = want < as.rlim_max ? want : as.rlim_max;
	setrlimit(RLIMIT_AS, &as);
	return as.rlim_cur;
}

static void worker_main(int sfd, const struct pdf_probe_limits *lim)
{
	quiet_stdio();
	size_t v0 = limit_as(lim, lim->doc_max), as = 0;
	unsigned docs = lim->worker_docs ? lim->worker_docs : PROBE_WORKER_DOCS;
	for (unsigned n = 0; n < docs; n++) {
		int fd = recv_fd(sfd);
		if (fd < 0)
			_exit(0); /* the server is gone */
		struct probe_req q;
		struct probe_reply r;
		uint8_t *doc = NULL;
		int nomem = 0, overran = 0;
		q.len = 0;
		if (io_full(fd, &q, sizeof(q), 0) == 0 && q.len && q.len <= PDF_MAX_PROBE_LEN &&
		    (as = doc_limit(v0, q.len, lim), doc = malloc(q.len)) &&
		    io_full(fd, doc, q.len, 0) == 0) {
			struct rusage ru;
			struct rlimit cpu;
			getrusage(RUSAGE_SELF, &ru);
			getrlimit(RLIMIT_CPU,
			          &cpu); /* the hard limit stays; only the soft one moves */
			rlim_t want =
			    (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1) + lim->cpu_s;
			cpu.rlim_cur = cpu.rlim_max != RLIM_INFINITY && want > cpu.rlim_max
			                   ? cpu.rlim_max
			                   : want;
			setrlimit(RLIMIT_CPU, &cpu);
			deadline(lim, 1);
			long long t0 = cpu_us();
			nomem = probe_read(doc, q.len, q.max_len, q.repair, as, &r);
			deadline(lim, 0);
			/* RLIMIT_CPU counts whole seconds of the worker's life: this document may
			 * have had up to one more than its budget; what it used decides */
			if (cpu_us() - t0 > (long long)lim->cpu_s * 1000000) {
				overran = 1;
				r.code = C2S_ERR_PDF_UNSUPPORTED;
				snprintf(r.why, sizeof(r.why),
				         "reading the PDF takes more than %u s of CPU" PROBE_ADVICE,
				         lim->cpu_s);
			}
			(void)io_full(fd, &r, sizeof(r), 1);
		}
		free(doc);
		close(fd);
		/* a fresh worker for the next document; said by exiting, never after "d": the
		 * server would hand the next document to a worker on its way out. Also after a
		 * large document, or when this one's peak came within 1 MiB of the smallest limit
		 * the next document can have: the process's peak (VmPeak) stays, and a next one
		 * refused for any reason would read as out of memory (probe_read). And after a
		 * document that overran its CPU: the next one would start with less than its
		 * budget. */
		if (nomem || overran || n + 1 == docs || q.len >= PROBE_BIG_DOC ||
		    (v0 &&
		     (vsz_now() > v0 + lim->mem / 2 || vsz_peak() + (1u << 20) >= v0 + lim->mem)))
			_exit(0);
		if (write(sfd, "d", 1) != 1)
			_exit(0);
	}
	_exit(0);
}

struct worker {
	int fd; /* the server's end; -1: none */
	int busy;
};

static void worker_spawn(struct worker *ws, unsigned i, const struct pdf_probe_limits *lim)
{
	int sv[2];
	ws[i].fd = -1;
	ws[i].busy = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		/* only its own socket: not the control socket, the other workers' or the
		 * documents waiting in the server's queue */
		for (int fd = 3; fd < PROBE_MAX_FD; fd++)
			if (fd != sv[1])
				close(fd);
		worker_main(sv[1], lim);
	}
	close(sv[1]);
	if (pid < 0)
		close(sv[0]);
	else
		ws[i].fd = sv[0];
}

static void server_loop(int ctl, unsigned n, const struct pdf_probe_limits *lim)
{
	static struct worker ws[PROBE_MAX_WORKERS];
	static int queue[PROBE_MAX_WORKERS];
	struct pollfd pf[PROBE_MAX_WORKERS + 1];
	size_t head = 0, count = 0;
	/* none of c2s-web's descriptors (the parent's channel, the listeners): only ours */
	for (int fd = 3; fd < PROBE_MAX_FD; fd++)
		if (fd != ctl)
			close(fd);
	signal(SIGCHLD, SIG_IGN); /* workers reap themselves */
	for (unsigned i = 0; i < n; i++)
		ws[i].fd = -1; /* not 0: a new worker closes the others' descriptors */
	for (unsigned i = 0; i < n; i++)
		worker_spawn(ws, i, lim);
	for (;;) {
		pf[0] = (struct pollfd){.fd = count < n ? ctl : -1, .events = POLLIN};
		for (unsigned i = 0; i < n; i++)
			pf[i + 1] = (struct pollfd){.fd = ws[i].fd, .events = POLLIN};
		if (poll(pf, n + 1, ws[0].fd < 0 ? 1000 : -1) < 0 && errno != EINTR)
			_exit(1);
		if (pf[0].revents) {
			int fd = recv_fd(ctl);
			if (fd < 0)
				_exit(0); /* c2s-web is gone */
			queue[(head + count++) % n] = fd;
		}
		for (unsigned i = 0; i < n; i++) {
			char c;
			if (ws[i].fd >= 0 && !pf[i + 1].revents)
				continue;
			if (ws[i].fd >= 0 && read(ws[i].fd, &c, 1) == 1) {
				ws[i].busy = 0; /* ready for the next */
				continue;
			}
			if (ws[i].fd >= 0) /* exited: its document (if any) saw its socket close */
				close(ws[i].fd);
			worker_spawn(ws, i, lim);
		}
		for (unsigned i = 0; i < n && count; i++) {
			if (ws[i].fd < 0 || ws[i].busy)
				continue;
			int fd = queue[head];
			if (send_fd(ws[i].fd, fd) != 0) {
				/* the worker is gone: the document waits for its successor */
				close(ws[i].fd);
				worker_spawn(ws, i, lim);
				continue;
			}
			head = (head + 1) % n;
			count--;
			ws[i].busy = 1;
			close(fd); /* the worker holds it now */
		}
	}
}

c2s_err pdf_probe_start(unsigned parallel, const struct pdf_probe_limits *lim)
{
	int sv[2];
	if (g_server >= 0 || !lim || !lim->cpu_s)
		return C2S_OK;
	g_parallel = parallel ? parallel : 1;
	if (g_parallel > PROBE_MAX_WORKERS)
		g_parallel = PROBE_MAX_WORKERS;
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
		struct pdf_probe_limits l = *lim;
		server_loop(sv[1], g_parallel, &l);
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
				snprintf(why, why_cap,
				         "reading the PDF needs more than %zu MiB of "
				         "memory" PROBE_ADVICE,
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
			         "reading the PDF takes more than %u s of CPU" PROBE_ADVICE,
			         lim->cpu_s);
		else if (sig == SIGALRM)
			snprintf(why, why_cap,
			         "reading the PDF did not finish within %u s" PROBE_ADVICE,
			         3 * lim->cpu_s + 2);
		else
			snprintf(why, why_cap,
			         "reading the PDF exceeded its limits (%zu MiB of memory, %u s of "
			         "CPU)" PROBE_ADVICE,
			         lim->mem >> 20, lim->cpu_s);
	}
	return C2S_ERR_PDF_UNSUPPORTED;
}

static c2s_err probe_via_server(const uint8_t *pdf, size_t len, size_t max_len, int repair,
                                const struct pdf_probe_limits *lim, char *why, size_t why_cap)
{
	int sp[2];
	struct probe_reply r;
	struct probe_req q = {.len = len, .max_len = max_len, .repair = repair};
	if (len == 0 || len > PDF_MAX_PROBE_LEN || (max_len && len > max_len))
		return C2S_OK; /* nothing qpdf reads: the caller's pdf_prepare refuses it (a
		                  worker has no room for a document over pdf_max) */
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
			snprintf(why, why_cap,
			         "the PDF reader process of c2s-web is not running; restart "
			         "click2signd (its log says why the reader ended)");
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
