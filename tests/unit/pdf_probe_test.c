/* pdf_probe: the attacker-reviewer's shapes (tests/tools/attack/, generated at test time) that
 * cost qpdf 0.5-3 GB when read in-process, each read through pdf_probe with the defaults of
 * [pades] (64 MiB, 1 s): every one refused, within 2 s of CPU and (without AddressSanitizer,
 * whose shadow memory rules RLIMIT_AS out) 64 MiB of peak RSS above a clean file's probe and
 * the document itself (which the process holds before it forks); the clean
 * file, a file signed by @signpdf and a 20 MB single-image file accepted. Each probe runs in a
 * child of this test, so that wait4 reports its CPU and memory, its own child included. */
#include <dirent.h>
#include <pthread.h>
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

/* The probe server as c2s-web runs it (16 MiB to read a document, whose own bytes, up to 32 MiB,
 * come on top): 2 workers, each retiring after its 25th document (1,000
 * in c2s-web) and replaced after a hostile one. 4 threads probe the clean file 700 times each
 * (2,800 documents: over 100 retirements) with a hostile file (a second Flate layer) in the middle
 * of each; every clean read must be accepted. A worker's retirement once lost the document handed
 * to it on its way out (8 of 15,000 seals under load answered 422). */
struct burst {
	const uint8_t *clean, *bad;
	size_t clean_len, bad_len;
	int ok, refused, bad_ok;
};

static void *burst_thread(void *arg)
{
	struct burst *b = arg;
	struct pdf_probe_limits lim = {.mem = 64u << 20, .cpu_s = 1};
	for (int i = 0; i < 700; i++) {
		char why[400] = "";
		int hostile = b->bad && i == 350;
		c2s_err e =
		    pdf_probe(hostile ? b->bad : b->clean, hostile ? b->bad_len : b->clean_len,
		              100u << 20, 0, &lim, why, sizeof(why));
		if (hostile)
			b->bad_ok += e == C2S_OK;
		else if (e == C2S_OK)
			b->ok++;
		else if (b->refused++ == 0)
			fprintf(stderr, "clean document refused at %d: %s\n", i, why);
	}
	return NULL;
}

static void server_burst(const char *dir)
{
	char path[600], bad[600];
	snprintf(path, sizeof(path), "%s/clean.pdf", dir);
	snprintf(bad, sizeof(bad), "%s/B2_flate2.pdf", dir);
	pid_t pid = fork();
	if (pid == 0) { /* one thread here, as c2s-web when it starts the server */
		/* 16 MiB for reading, documents up to 32 MiB on top: the 20 MB file passes */
		struct pdf_probe_limits lim = {
		    .mem = 16u << 20, .cpu_s = 1, .worker_docs = 25, .doc_max = 32u << 20};
		struct burst b[4];
		pthread_t t[4];
		size_t cl = 0, bl = 0;
		uint8_t *clean = slurp(path, &cl), *hostile = slurp(bad, &bl);
		if (!clean || pdf_probe_start(2, &lim) != C2S_OK)
			_exit(3);
		for (int i = 0; i < 4; i++) {
			b[i] = (struct burst){
			    .clean = clean, .clean_len = cl, .bad = hostile, .bad_len = bl};
			pthread_create(&t[i], NULL, burst_thread, &b[i]);
		}
		int ok = 0, refused = 0, bad_ok = 0;
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			ok += b[i].ok, refused += b[i].refused, bad_ok += b[i].bad_ok;
		}
		char big[600], why[400] = "";
		size_t biglen = 0;
		snprintf(big, sizeof(big), "%s/big.pdf", dir);
		uint8_t *bigdoc = slurp(big, &biglen);
		c2s_err be = bigdoc
		                 ? pdf_probe(bigdoc, biglen, 100u << 20, 0, &lim, why, sizeof(why))
		                 : C2S_ERR_ARG;
		printf("probe server, 2 workers: %d clean documents accepted, %d refused; hostile "
		       "accepted %d of %d; a %zu-byte document with 16 MiB to read it: %s %s\n",
		       ok, refused, bad_ok, hostile ? 4 : 0, biglen,
		       be == C2S_OK ? "accepted" : "refused", why);
		fflush(stdout);
		_exit(refused || bad_ok || !hostile || be != C2S_OK ? 1 : 0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("FAIL probe server burst (status %d)\n", st);
		g_fail = 1;
	}
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
	server_burst(dir);
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
