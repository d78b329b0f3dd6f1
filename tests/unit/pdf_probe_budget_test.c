/* pdf_probe's server: the memory a worker may use to read one document is [pades] parse_memory
 * over what the worker had when it started, plus that document's own bytes (pdf_probe.c
 * worker_limit, doc_limit). The kernel enforces it as the worker's soft RLIMIT_AS, which this
 * test reads from /proc/<worker>/limits around documents of 6 MiB (under the size after which a
 * worker retires). Such a buffer is a heap allocation: the first is mmapped and unmapped, which
 * makes glibc raise its thresholds, so that the next ones come from the heap and stay there
 * (about 6 MiB, under the half of parse_memory that retires a worker) after they are freed. A
 * limit taken from the worker's size at each document (not at its start) then grows by that
 * free heap, which the next document's reading may use: parse_memory plus 6 MiB, and up to
 * half of parse_memory more with a heap that a document's reading left behind. Not under
 * AddressSanitizer (no RLIMIT_AS there). */
#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "firmware/pades/pdf.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

#define MEM (32u << 20)
#define DOC (6u << 20)

/* The one child of `parent` (0: none yet). */
static pid_t child_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && !found && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char path[300], line[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[n] = 0;
		const char *p = strrchr(line, ')');
		int ppid = 0;
		char state;
		if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
			found = (pid_t)strtol(e->d_name, NULL, 10);
	}
	if (d)
		closedir(d);
	return found;
}

/* The soft RLIMIT_AS of `pid`, bytes (0: unlimited or unknown). */
static unsigned long long soft_as(pid_t pid)
{
	char path[64], line[256];
	unsigned long long v = 0;
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Max address space", 17) == 0 &&
		    sscanf(line + 17, " %llu", &v) != 1)
			v = 0;
	if (f)
		fclose(f);
	return v;
}

static void nap_ms(long ms)
{
	struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* In a child that is one thread, as c2s-web when it starts the server; exit status 0: as
 * expected, 1: over the budget, 2: could not observe. */
static int run(void)
{
	struct pdf_probe_limits lim = {.mem = MEM, .cpu_s = 1, .doc_max = 16u << 20};
	if (pdf_probe_start(1, &lim) != C2S_OK)
		return 2;
	pid_t server = 0, worker = 0;
	unsigned long long s0 = 0;
	for (int i = 0; i < 200 && !s0; i++) { /* the worker sets its limit when it starts */
		nap_ms(10);
		if (!server)
			server = child_of(getpid());
		if (server && !worker)
			worker = child_of(server);
		if (worker)
			s0 = soft_as(worker);
	}
	if (!s0) {
		printf("cannot see the worker's limit (server %d, worker %d)\n", (int)server,
		       (int)worker);
		return 2;
	}
	unsigned long long v0 = s0 - MEM; /* the worker's size when it started */
	uint8_t *doc = calloc(1, DOC);
	if (!doc)
		return 2;
	memcpy(doc, "%PDF-1.4\n", 9); /* no trailer: refused at once, the buffer is what counts */
	long long worst = 0;
	for (int k = 1; k <= 4; k++) {
		char why[400] = "";
		c2s_err e = pdf_probe(doc, DOC, 100u << 20, 0, &lim, why, sizeof(why));
		pid_t w = child_of(server);
		unsigned long long s = soft_as(w);
		long long over = (long long)s - (long long)(v0 + MEM + DOC);
		printf("document %d (%u bytes): %s; worker %d, limit %llu KiB, %+lld KiB over "
		       "its start + parse_memory + the document\n",
		       k, DOC, e == C2S_OK ? "accepted" : "refused", (int)w, s >> 10, over / 1024);
		if (w != worker) {
			printf("the worker retired; cannot compare\n");
			return 2;
		}
		if (over > worst)
			worst = over;
	}
	free(doc);
	/* one page of slack for rounding; the heap a document left is 6 MiB */
	if (worst > 4096) {
		printf("FAIL: a document may use %lld KiB more than parse_memory (%u KiB) beyond "
		       "its own bytes\n",
		       worst / 1024, MEM >> 10);
		return 1;
	}
	return 0;
}

int main(void)
{
	if (ASAN) {
		printf("AddressSanitizer: no address-space limit to check\n");
		return 0;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int rc = run();
		fflush(stdout);
		_exit(rc);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		printf("FAIL: the test's child ended abnormally\n");
		return 1;
	}
	printf("%s\n", WEXITSTATUS(st) == 0 ? "within the budget" : "FAILED");
	return WEXITSTATUS(st) == 0 ? 0 : 1;
}
