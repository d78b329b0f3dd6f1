/* pdf_probe: the attacker-reviewer's shapes (tests/tools/attack/, generated at test time) that
 * cost qpdf 0.5-3 GB when read in-process, each read through pdf_probe with the defaults of
 * [pades] (64 MiB, 1 s): every one refused, within 2 s of CPU and (without AddressSanitizer,
 * whose shadow memory rules RLIMIT_AS out) 64 MiB of peak RSS above a clean file's probe and
 * the document itself (which the process holds before it forks); the clean
 * file, a file signed by @signpdf and a 20 MB single-image file accepted. Each probe runs in a
 * child of this test, so that wait4 reports its CPU and memory, its own child included. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
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

static int g_fail;

struct cost {
	int code; /* the probe's c2s_err, or -1 */
	long cpu_ms, rss_kb, file_kb;
	char why[400];
};

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long l = ftell(f);
	rewind(f);
	uint8_t *p = l > 0 ? malloc((size_t)l) : NULL;
	if (p && fread(p, 1, (size_t)l, f) != (size_t)l) {
		free(p);
		p = NULL;
	}
	fclose(f);
	*n = p ? (size_t)l : 0;
	return p;
}

static struct cost probe(const char *path)
{
	struct cost c = {.code = -1};
	int fds[2];
	if (pipe(fds) != 0)
		return c;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		size_t n;
		uint8_t *p = slurp(path, &n); /* the document is in memory before the probe */
		struct pdf_probe_limits lim = {.mem = 64u << 20, .cpu_s = 1};
		char why[400] = "";
		int32_t e =
		    p ? (int32_t)pdf_probe(p, n, 100u << 20, 0, &lim, why, sizeof(why)) : -1;
		if (write(fds[1], &e, sizeof(e)) != sizeof(e) ||
		    write(fds[1], why, sizeof(why)) < 0)
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	int32_t e = -1;
	if (read(fds[0], &e, sizeof(e)) == sizeof(e)) {
		ssize_t r = read(fds[0], c.why, sizeof(c.why) - 1);
		c.why[r > 0 ? r : 0] = 0;
	}
	close(fds[0]);
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		c.code = e;
	c.cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
	c.rss_kb = ru.ru_maxrss;
	FILE *f = fopen(path, "rb");
	if (f) {
		fseek(f, 0, SEEK_END);
		c.file_kb = ftell(f) / 1024;
		fclose(f);
	}
	return c;
}

static void expect(const char *dir, const char *name, int accepted, long base_kb)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct cost c = probe(path);
	const char *bad = NULL;
	if (c.code < 0)
		bad = "the probe did not answer";
	else if (accepted && c.code != C2S_OK)
		bad = "refused";
	else if (!accepted && c.code == C2S_OK)
		bad = "accepted";
	else if (c.cpu_ms > 2000)
		bad = "over 2 s of CPU";
	/* the limit is on address space; resident pages the child had mapped before it (the
	 * inherited heap it touches) come on top: 4 MiB of slack */
	else if (!ASAN && base_kb && c.rss_kb > base_kb + c.file_kb + 68 * 1024)
		bad = "over 64 MiB (+4 MiB) above the clean file's probe and the document itself";
	printf("%-28s %-9s %6ld ms %8ld KiB  %s%s\n", name, c.code == 0 ? "ok" : "refused",
	       c.cpu_ms, c.rss_kb, bad ? "FAIL: " : "", bad ? bad : "");
	if (c.code > 0)
		printf("%-28s   %s\n", "", c.why);
	if (bad)
		g_fail++;
}

/* Runs a shell command (the generators), its output passed through; 0 on success. */
static int sh(const char *cmd)
{
	char line[256];
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		fputs(line, stdout);
	return pclose(p);
}

int main(void)
{
	const char *src = getenv("C2S_SOURCE_DIR");
	char dir[] = "/tmp/c2s-probe-test.XXXXXX";
	if (!src || !mkdtemp(dir)) {
		fprintf(stderr, "C2S_SOURCE_DIR unset or no temp dir\n");
		return 1;
	}
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "cd %s/tests/tools/attack && for g in gen_desync gen_objstm gen_shape; do "
	         "/usr/bin/python3 $g.py %s || exit 1; done && "
	         "/usr/bin/python3 %s/tests/tools/hostile_pdfs.py %s clean.pdf >/dev/null && "
	         "/usr/bin/python3 %s/tests/tools/big_pdf.py %s/big.pdf 20000000 && "
	         "cp %s/tests/tools/fixtures/signpdf-signed.pdf %s/",
	         src, dir, src, dir, src, dir, src, dir);
	if (sh(cmd) != 0) {
		fprintf(stderr, "generators failed\n");
		return 1;
	}
	char clean[600];
	snprintf(clean, sizeof(clean), "%s/clean.pdf", dir);
	struct cost base = probe(clean);
	printf("limits: 64 MiB, 1 s; clean file's probe peaks at %ld KiB%s\n", base.rss_kb,
	       ASAN ? " (AddressSanitizer: no memory limit, not checked)" : "");
	expect(dir, "clean.pdf", 1, base.rss_kb);
	expect(dir, "signpdf-signed.pdf", 1, base.rss_kb);
	expect(dir, "big.pdf", 1, base.rss_kb);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strchr("ABCD", e->d_name[0]) && e->d_name[1] >= '0' && e->d_name[1] <= '9' &&
		    strstr(e->d_name, ".pdf") && !strstr(e->d_name, "control"))
			expect(dir, e->d_name, 0, base.rss_kb);
	if (d)
		closedir(d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	sh(cmd);
	printf("%s\n", g_fail ? "FAILED" : "all as expected");
	return g_fail ? 1 : 0;
}
