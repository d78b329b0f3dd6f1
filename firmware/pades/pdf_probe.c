/* pdf.h pdf_probe: the document read once in a forked child under the kernel's limits before
 * the caller reads it in-process. qpdf's parse has no budget of its own; the prescan and the
 * work budget bound the shapes they know, and an attacker who desynchronises the prescan from
 * qpdf (an unclosed string, a second Flate layer, an indirect /Filter) or spreads the cost over
 * many small objects still made qpdf spend gigabytes. The child's address space may grow by
 * `mem` bytes and it may use `cpu` seconds; then the kernel ends it. Not under AddressSanitizer
 * (its shadow reserves terabytes of address space): there only the CPU limit applies. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pdf.h"

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

c2s_err pdf_probe(const uint8_t *pdf, size_t len, size_t max_len, int repair,
                  const struct pdf_probe_limits *lim, char *why, size_t why_cap)
{
	int fds[2];
	struct probe_reply r;
	if (why && why_cap)
		why[0] = 0;
	if (!lim || !lim->cpu_s)
		return C2S_OK; /* not isolated ([pades] isolate = no) */
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
	if (got == sizeof(r) && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		r.why[sizeof(r.why) - 1] = 0;
		if (r.code == C2S_ERR_NOMEM) {
			if (why && why_cap)
				snprintf(
				    why, why_cap,
				    "reading the PDF needs more than %zu MiB of memory; refused",
				    lim->mem >> 20);
			return C2S_ERR_PDF_UNSUPPORTED;
		}
		if (why && why_cap)
			snprintf(why, why_cap, "%s", r.why);
		return (c2s_err)r.code;
	}
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
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
			         "reading the PDF exceeded its limits (%zu MiB, %u s: signal %d); "
			         "refused",
			         lim->mem >> 20, lim->cpu_s, sig);
	}
	return C2S_ERR_PDF_UNSUPPORTED;
}
