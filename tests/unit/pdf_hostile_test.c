/* pdf module against the hostile and damaged corpus of issue 18 (tests/tools/hostile_pdfs.py,
 * generated at test time). Each file is prepared in a child process (pdf_prepare, 100 MB
 * max_len, contents_max 8192) under RLIMIT_CPU 20 s and RLIMIT_AS 2 GiB (CPU only under ASan),
 * and the parent takes the child's CPU time and peak RSS from wait4() (it also kills a child
 * that gets past 2 GiB resident, the only memory bound under ASan). Per file: the exact
 * outcome of expect.tsv, a non-empty refusal reason, CPU <= 1 s and peak RSS <= 64 MiB above a
 * child that prepared the tiny clean file (both x4 with sanitizers); an accepted file's output
 * (original || update) must pass qpdf --check with no warning the original did not already
 * have, show one more signature to pdfsig, and number its new objects past every object of the
 * original. One cmocka test per file; the table (file, outcome, CPU, RSS) goes to stdout.
 *
 * C2S_HOSTILE_PRINT=1: print the table only and exit 0 (tests/bench/pdf_hostile.sh).
 * C2S_HOSTILE_ONLY="a.pdf b.pdf": only these files (clean.pdf, the baseline, always runs). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/pades/pdf.h"

#if defined(__SANITIZE_ADDRESS__)
#define HOSTILE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOSTILE_ASAN 1
#endif
#endif
#ifndef HOSTILE_ASAN
#define HOSTILE_ASAN 0
#endif

#define MAX_CASES     128
#define MAX_LEN       (100u << 20)
#define CMAX          8192
#define CPU_LIMIT_MS  (1000L * (HOSTILE_ASAN ? 4 : 1))
#define RSS_LIMIT_KIB (64L * 1024 * (HOSTILE_ASAN ? 4 : 1))
/* the child's limits; the parent also kills a child past CHILD_RSS (ASan has no RLIMIT_AS) */
#define CHILD_CPU_S  20
#define CHILD_AS     (2ULL << 30)
#define CHILD_RSS    (2ULL << 30)
#define CHILD_WALL_S 300
/* qpdf and pdfsig: pdfsig alone takes minutes on a field tree with shared kids */
#define TOOL_CPU_S 60
#define BASELINE   "clean.pdf"

/* exit codes of the child besides 0 (accepted) and 10 + (code - 600) (a PDF refusal) */
#define EXIT_OTHER   1   /* another c2s_err: see the result file */
#define EXIT_HARNESS 120 /* the child could not read its input or write its output */

static const uint8_t g_der[] = {0x30, 0x03, 0x02, 0x01, 0x05};

struct kase {
	char name[96];
	char outcome[32];
	char what[256];
	int got;        /* c2s_err, or -1 when the child did not report */
	char why[256];  /* the refusal reason */
	long cpu_ms;    /* user + sys of the child */
	long rss_kib;   /* the child's ru_maxrss */
	char fail[768]; /* empty when every check passed */
};

static char g_dir[256];
static struct kase g_cases[MAX_CASES];
static int g_n;
static long g_base_rss = -1;

struct blob {
	uint8_t *p;
	size_t n;
};

/* Whole file, NUL-terminated; {NULL, 0} when it cannot be read. */
static struct blob slurp(const char *path)
{
	struct blob b = {0};
	FILE *f = fopen(path, "rb");
	if (!f)
		return b;
	if (fseek(f, 0, SEEK_END) == 0) {
		long l = ftell(f);
		if (l >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b.p = malloc((size_t)l + 1))) {
			b.n = fread(b.p, 1, (size_t)l, f);
			if (b.n != (size_t)l) {
				free(b.p);
				b.p = NULL;
				b.n = 0;
			} else {
				b.p[b.n] = 0;
			}
		}
	}
	fclose(f);
	return b;
}

static void addf(struct kase *k, const char *fmt, ...)
{
	size_t l = strlen(k->fail);
	if (l + 3 >= sizeof(k->fail))
		return;
	if (l)
		k->fail[l++] = ';', k->fail[l++] = ' ', k->fail[l] = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->fail + l, sizeof(k->fail) - l, fmt, ap);
	va_end(ap);
}

/* Runs argv (RLIMIT_CPU TOOL_CPU_S) with stdout+stderr into a file; returns its exit code (-1
 * when it did not exit) and its output, NUL-terminated, in *out when out is not NULL. */
static int run(char *const argv[], struct blob *out)
{
	char log[300];
	snprintf(log, sizeof(log), "%s/cmd.log", g_dir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit cpu = {TOOL_CPU_S, TOOL_CPU_S + 1};
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    setrlimit(RLIMIT_CPU, &cpu) != 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (out) {
		*out = slurp(log);
		if (!out->p) {
			out->p = (uint8_t *)strdup("");
			out->n = 0;
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void in_path(char *p, size_t cap, const char *name)
{
	snprintf(p, cap, "%s/corpus/%s", g_dir, name);
}

static void out_path(char *p, size_t cap, const char *name)
{
	snprintf(p, cap, "%s/out-%s", g_dir, name);
}

/* ---- the child: one pdf_prepare, bounded ---------------------------------------------- */

static void limit(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit r = {soft, hard};
	if (setrlimit(res, &r) != 0)
		_exit(EXIT_HARNESS);
}

static void child(const struct kase *k)
{
	limit(RLIMIT_CPU, CHILD_CPU_S, CHILD_CPU_S + 1);
	if (!HOSTILE_ASAN)
		limit(RLIMIT_AS, CHILD_AS, CHILD_AS);
	alarm(CHILD_WALL_S);
	char in[512], out[512], res[512];
	in_path(in, sizeof(in), k->name);
	out_path(out, sizeof(out), k->name);
	snprintf(res, sizeof(res), "%s.res", out);
	struct blob b = slurp(in);
	if (!b.p)
		_exit(EXIT_HARNESS);
	struct pdf_sig_params p = {.name = "Hostile Corpus",
	                           .reason = "issue 18",
	                           .when = 1700000000,
	                           .contents_max = CMAX,
	                           .field_name = "Signature1"};
	struct pdf_prepared pp;
	char why[256] = "";
	c2s_err e = pdf_prepare(b.p, b.n, MAX_LEN, &p, &pp, why, sizeof(why));
	if (e == C2S_OK) {
		e = pdf_set_contents(&pp, g_der, sizeof(g_der));
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(b.p, 1, b.n, f) != b.n ||
		    fwrite(pp.update.data, 1, pp.update.len, f) != pp.update.len || fclose(f) != 0)
			_exit(EXIT_HARNESS);
	}
	pdf_prepared_free(&pp);
	FILE *r = fopen(res, "w");
	if (!r)
		_exit(EXIT_HARNESS);
	for (char *c = why; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	fprintf(r, "%d\n%s\n", (int)e, why);
	if (fclose(r) != 0)
		_exit(EXIT_HARNESS);
	if (e == C2S_OK)
		_exit(0);
	_exit(e >= 600 && e < 700 ? 10 + (int)e - 600 : EXIT_OTHER);
}

static const char *signal_meaning(int sig)
{
	switch (sig) {
	case SIGXCPU:
		return "killed by RLIMIT_CPU (SIGXCPU at 20 s of CPU)";
	case SIGKILL:
		return "killed by SIGKILL (RLIMIT_CPU hard limit, or the OOM killer)";
	case SIGALRM:
		return "killed by the wall-clock guard (300 s)";
	case SIGSEGV:
	case SIGABRT:
	case SIGBUS:
		return HOSTILE_ASAN ? "crashed (sanitizer report or abort)"
		                    : "crashed (RLIMIT_AS of 2 GiB hit, or a bug)";
	default:
		return "killed by a signal";
	}
}

/* Resident bytes of a live process (0 when unknown). */
static unsigned long long rss_of(pid_t pid)
{
	char path[64];
	unsigned long long size = 0, res = 0;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Runs the child for k and fills got, why, cpu_ms, rss_kib (or a failure). */
static void measure(struct kase *k)
{
	k->got = -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		addf(k, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		child(k);
	int st;
	struct rusage ru;
	pid_t w;
	int guarded = 0;
	while ((w = wait4(pid, &st, WNOHANG, &ru)) == 0 || (w < 0 && errno == EINTR)) {
		if (!guarded && rss_of(pid) > CHILD_RSS) {
			kill(pid, SIGKILL); /* our own child, by its PID */
			guarded = 1;
		}
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	if (w != pid) {
		addf(k, "wait4: %s", strerror(errno));
		return;
	}
	k->cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L +
	            (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000L;
	k->rss_kib = ru.ru_maxrss;
	if (WIFSIGNALED(st) && guarded) {
		addf(k, "killed by the harness's RSS guard (%llu MiB resident)", CHILD_RSS >> 20);
		return;
	}
	if (WIFSIGNALED(st)) {
		addf(k, "%s (signal %d)", signal_meaning(WTERMSIG(st)), WTERMSIG(st));
		return;
	}
	if (WEXITSTATUS(st) == EXIT_HARNESS) {
		addf(k, "the child could not read its input or write its output");
		return;
	}
	char res[512];
	out_path(res, sizeof(res), k->name);
	strncat(res, ".res", sizeof(res) - strlen(res) - 1);
	struct blob r = slurp(res);
	char *nl;
	if (!r.p || !(nl = strchr((char *)r.p, '\n'))) {
		addf(k, "no result from the child (exit %d)", WEXITSTATUS(st));
		free(r.p);
		return;
	}
	k->got = (int)strtol((char *)r.p, NULL, 10);
	snprintf(k->why, sizeof(k->why), "%s", nl + 1);
	k->why[strcspn(k->why, "\n")] = 0;
	free(r.p);
}

/* ---- checks ------------------------------------------------------------------------------ */

/* The error name an outcome "refuse-<code>" wants, e.g. notpdf -> C2S_ERR_PDF_NOT_PDF. */
static void wanted_name(const char *code, char *out, size_t cap)
{
	if (strcmp(code, "notpdf") == 0)
		code = "not_pdf";
	else if (strcmp(code, "toobig") == 0)
		code = "too_big";
	int n = snprintf(out, cap, "C2S_ERR_PDF_%s", code);
	for (int i = 12; i < n && (size_t)i < cap; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static void check_outcome(struct kase *k)
{
	if (k->got < 0)
		return;
	const char *got = c2s_err_name((c2s_err)k->got);
	if (strcmp(k->outcome, "ok") == 0) {
		if (k->got != C2S_OK)
			addf(k, "want ok, got %s (%s)", got, k->why);
	} else if (strcmp(k->outcome, "refuse-any-pdf") == 0) {
		if (k->got < 600 || k->got >= 700)
			addf(k, "want a C2S_ERR_PDF_* refusal, got %s", got);
	} else if (strncmp(k->outcome, "refuse-", 7) == 0) {
		char want[64];
		wanted_name(k->outcome + 7, want, sizeof(want));
		if (strcmp(got, want) != 0)
			addf(k, "want %s, got %s (%s)", want, got, k->why);
	} else {
		addf(k, "unknown outcome '%s' in expect.tsv", k->outcome);
	}
	if (k->got != C2S_OK && !k->why[0])
		addf(k, "refused (%s) without a reason", got);
}

static void check_budget(struct kase *k)
{
	if (k->got < 0 && k->cpu_ms == 0 && k->rss_kib == 0)
		return;
	if (k->cpu_ms > CPU_LIMIT_MS)
		addf(k, "CPU %ld ms > %ld ms", k->cpu_ms, CPU_LIMIT_MS);
	if (g_base_rss >= 0 && k->rss_kib - g_base_rss > RSS_LIMIT_KIB)
		addf(k, "peak RSS %ld KiB > baseline %ld + %ld KiB", k->rss_kib, g_base_rss,
		     RSS_LIMIT_KIB);
}

/* qpdf --check lines starting with WARNING/ERROR, the file's path cut out. */
static int qpdf_check(const char *path, struct blob *lines)
{
	char *const argv[] = {"qpdf", "--check", (char *)path, NULL};
	struct blob o;
	int rc = run(argv, &o);
	size_t pl = strlen(path), w = 0;
	for (char *s = (char *)o.p; s && *s;) {
		char *e = strchr(s, '\n');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (strncmp(s, "WARNING", 7) == 0 || strncmp(s, "ERROR", 5) == 0) {
			for (size_t i = 0; i < l; i++) {
				if (i + pl <= l && memcmp(s + i, path, pl) == 0) {
					o.p[w++] = 'F';
					i += pl - 1;
				} else {
					o.p[w++] = (uint8_t)s[i];
				}
			}
			o.p[w++] = '\n';
		}
		s = e ? e + 1 : NULL;
	}
	o.p[w] = 0;
	o.n = w;
	*lines = o;
	return rc;
}

/* qpdf --check of the output: it runs clean (0) or with only warnings the original had. */
static void check_qpdf(struct kase *k, const char *in, const char *out)
{
	struct blob wi, wo;
	int ri = qpdf_check(in, &wi), ro = qpdf_check(out, &wo);
	if (ro != 0 && ro != 3)
		addf(k, "qpdf --check of the output: exit %d: %.200s", ro, (char *)wo.p);
	else
		for (char *s = (char *)wo.p; *s;) {
			char *e = strchr(s, '\n');
			*e = 0;
			if (!strstr((char *)wi.p, s))
				addf(k,
				     "qpdf --check of the output (original: exit %d): new: %.200s",
				     ri, s);
			s = e + 1;
		}
	free(wi.p);
	free(wo.p);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *s = hay; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

static int pdfsig_count(const char *path)
{
	char *const argv[] = {"pdfsig", (char *)path, NULL};
	struct blob o;
	run(argv, &o);
	int n = count((char *)o.p, "Signature Field Name:");
	free(o.p);
	return n;
}

/* Object numbers the original defines (qpdf --show-xref: "N/G: ..."); returns the count. */
static int original_objects(const char *in, unsigned char *seen, size_t cap, long *max)
{
	char *const argv[] = {"qpdf", "--show-xref", (char *)in, NULL};
	struct blob o;
	run(argv, &o);
	int n = 0;
	*max = 0;
	for (char *s = (char *)o.p; s && *s;) {
		char *end;
		long num = strtol(s, &end, 10);
		if (end != s && *end == '/' && num > 0) {
			if ((size_t)num < cap)
				seen[num] = 1;
			if (num > *max)
				*max = num;
			n++;
		}
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	free(o.p);
	return n;
}

/* New objects (the /Sig dictionary, a signature field, the xref stream) are numbered past
 * every object of the original; no number is written twice in the update; the update's
 * /Size covers every object. (The corpus's "ok" files hold no empty signature field, which
 * the engine would rightly fill under its old number.) */
static void check_numbers(struct kase *k, const char *in, const struct blob *all, size_t orig_len)
{
	enum { CAP = 1 << 20 };
	unsigned char *seen = calloc(CAP, 1), *mine = calloc(CAP, 1);
	if (!seen || !mine) {
		addf(k, "out of memory in the harness");
		goto out;
	}
	long max = 0, top = 0;
	if (original_objects(in, seen, CAP, &max) == 0) {
		addf(k, "qpdf --show-xref lists no object in the original");
		goto out;
	}
	const char *u = (const char *)all->p + orig_len, *end = (const char *)all->p + all->n;
	for (const char *s = u; s < end; s++) {
		if ((s != u && s[-1] != '\n') || !isdigit((unsigned char)*s))
			continue;
		char *e;
		long num = strtol(s, &e, 10);
		if (strncmp(e, " 0 obj", 6) != 0 || num <= 0 || num >= CAP)
			continue;
		const char *eo = memmem(e, (size_t)(end - e), "endobj", 6);
		size_t bl = eo ? (size_t)(eo - e) : (size_t)(end - e);
		if (mine[num]++)
			addf(k, "object %ld written twice in the update", num);
		if (num > top)
			top = num;
		int is_new = memmem(e, bl, "/Type /Sig", 10) || memmem(e, bl, "/Type /XRef", 11) ||
		             memmem(e, bl, "/FT /Sig", 8) || memmem(e, bl, "/ByteRange", 10);
		if (is_new && seen[num])
			addf(k, "new object %ld collides with the original's object %ld", num, num);
		s = e;
	}
	if (top == 0)
		addf(k, "no object found in the update");
	const char *sz = NULL;
	for (const char *s = u; (s = memmem(s, (size_t)(end - s), "/Size ", 6)); s++)
		sz = s;
	long size = sz ? strtol(sz + 6, NULL, 10) : 0;
	long need = (top > max ? top : max) + 1;
	if (size < need)
		addf(k, "the update's /Size %ld < %ld (highest object + 1)", size, need);
out:
	free(seen);
	free(mine);
}

static void check_output(struct kase *k)
{
	char in[512], out[512];
	in_path(in, sizeof(in), k->name);
	out_path(out, sizeof(out), k->name);
	struct blob a = slurp(in), o = slurp(out);
	if (!a.p || !o.p || o.n <= a.n || memcmp(a.p, o.p, a.n) != 0) {
		addf(k, "the output is not the original followed by an update");
	} else {
		check_qpdf(k, in, out);
		int si = pdfsig_count(in), so = pdfsig_count(out);
		if (so != si + 1)
			addf(k, "pdfsig: %d signature fields in the output, %d in the original", so,
			     si);
		check_numbers(k, in, &o, a.n);
	}
	free(a.p);
	free(o.p);
}

static void evaluate(struct kase *k)
{
	measure(k);
	if (k == &g_cases[0])
		g_base_rss = k->rss_kib;
	check_outcome(k);
	check_budget(k);
	/* only files meant to be accepted: the tools themselves choke on some hostile ones */
	if (k->got == C2S_OK && strcmp(k->outcome, "ok") == 0)
		check_output(k);
}

/* ---- corpus, table, tests ---------------------------------------------------------------- */

/* Whether `name` is one of the space-separated words of `list`. */
static int listed(const char *list, const char *name)
{
	size_t l = strlen(name);
	for (const char *s = list; (s = strstr(s, name)); s++)
		if ((s == list || s[-1] == ' ') && (s[l] == 0 || s[l] == ' '))
			return 1;
	return 0;
}

static int load_expect(void)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/corpus/expect.tsv", g_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	const char *only = getenv("C2S_HOSTILE_ONLY");
	char line[1024];
	while (fgets(line, sizeof(line), f) && g_n < MAX_CASES) {
		line[strcspn(line, "\n")] = 0;
		char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			continue;
		*t1 = *t2 = 0;
		if (only && *only && strcmp(line, BASELINE) != 0 && !listed(only, line))
			continue;
		struct kase *k = &g_cases[g_n++];
		snprintf(k->name, sizeof(k->name), "%s", line);
		snprintf(k->outcome, sizeof(k->outcome), "%s", t1 + 1);
		snprintf(k->what, sizeof(k->what), "%s", t2 + 1);
	}
	fclose(f);
	return g_n > 0 && strcmp(g_cases[0].name, BASELINE) == 0 ? 0 : -1;
}

static int generate(void)
{
	const char *src = getenv("C2S_SOURCE_DIR");
	char script[512], corpus[300];
	snprintf(script, sizeof(script), "%s/tests/tools/hostile_pdfs.py", src ? src : ".");
	snprintf(g_dir, sizeof(g_dir), "/tmp/c2s_pdf_hostile.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(corpus, sizeof(corpus), "%s/corpus", g_dir);
	char *const argv[] = {"/usr/bin/python3", script, corpus, NULL};
	struct blob o;
	int rc = run(argv, &o);
	if (rc != 0)
		fprintf(stderr, "hostile_pdfs.py: exit %d\n%s", rc, (char *)o.p);
	free(o.p);
	return rc == 0 ? load_expect() : -1;
}

static void print_table(void)
{
	printf("\n%-38s %-15s %-24s %8s %11s %9s  %s\n", "file", "expected", "got", "cpu_ms",
	       "maxrss_KiB", "+KiB", "verdict");
	for (int i = 0; i < g_n; i++) {
		const struct kase *k = &g_cases[i];
		printf("%-38s %-15s %-24s %8ld %11ld %9ld  %s\n", k->name, k->outcome,
		       k->got >= 0 ? c2s_err_name((c2s_err)k->got) : "(killed)", k->cpu_ms,
		       k->rss_kib, k->rss_kib - g_base_rss, k->fail[0] ? k->fail : "pass");
	}
	printf("limits: CPU %ld ms, peak RSS baseline (%s) %ld KiB + %ld KiB%s; children: "
	       "RLIMIT_CPU %d s%s\n",
	       CPU_LIMIT_MS, BASELINE, g_base_rss, RSS_LIMIT_KIB,
	       HOSTILE_ASAN ? " (x4: sanitizers)" : "", CHILD_CPU_S,
	       HOSTILE_ASAN ? "" : ", RLIMIT_AS 2 GiB");
	fflush(stdout);
}

/* The output checks can fail: a /Sig dictionary numbered like the clean file's page, an
 * object written twice, a /Size too small, and a broken appended section are all caught. */
static void test_checks_catch(void **state)
{
	(void)state;
	char in[512], out[512];
	in_path(in, sizeof(in), BASELINE);
	out_path(out, sizeof(out), "self-check.pdf");
	struct blob a = slurp(in);
	assert_non_null(a.p);
	static const char bad[] = "3 0 obj\n<< /Type /Sig /Contents <00> >>\nendobj\n"
	                          "9 0 obj\n<< >>\nendobj\n9 0 obj\n<< >>\nendobj\n"
	                          "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 4 >>\n"
	                          "startxref\n999999\n%%EOF\n";
	struct blob o = {malloc(a.n + sizeof(bad)), a.n + sizeof(bad) - 1};
	assert_non_null(o.p);
	memcpy(o.p, a.p, a.n);
	memcpy(o.p + a.n, bad, sizeof(bad));
	FILE *f = fopen(out, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(o.p, 1, o.n, f), o.n);
	assert_int_equal(fclose(f), 0);
	struct kase k = {.name = "self-check.pdf"};
	check_numbers(&k, in, &o, a.n);
	assert_non_null(strstr(k.fail, "new object 3 collides"));
	assert_non_null(strstr(k.fail, "object 9 written twice"));
	assert_non_null(strstr(k.fail, "/Size 4 < 10"));
	k.fail[0] = 0;
	check_qpdf(&k, in, out);
	assert_non_null(strstr(k.fail, "qpdf --check of the output"));
	free(a.p);
	free(o.p);
}

static void test_file(void **state)
{
	const struct kase *k = *state;
	if (k->fail[0])
		fail_msg("%s (%s): %s", k->name, k->what, k->fail);
}

static int teardown_all(void **state)
{
	(void)state;
	char *const argv[] = {"rm", "-rf", g_dir, NULL};
	return run(argv, NULL) == 0 ? 0 : -1;
}

int main(void)
{
	if (generate() != 0) {
		fprintf(stderr, "could not generate the corpus in %s\n", g_dir);
		return 1;
	}
	for (int i = 0; i < g_n; i++) {
		evaluate(&g_cases[i]);
		fprintf(stderr, "  %-38s %6ld ms %8ld KiB %s\n", g_cases[i].name, g_cases[i].cpu_ms,
		        g_cases[i].rss_kib, g_cases[i].fail[0] ? "FAIL" : "pass");
	}
	print_table();
	const char *print_only = getenv("C2S_HOSTILE_PRINT");
	if (print_only && strcmp(print_only, "1") == 0) {
		teardown_all(NULL);
		return 0;
	}
	struct CMUnitTest *tests = calloc((size_t)g_n + 1, sizeof(*tests));
	if (!tests)
		return 1;
	tests[0] = (struct CMUnitTest){"output checks catch", test_checks_catch, NULL, NULL, NULL};
	for (int i = 0; i < g_n; i++)
		tests[i + 1] =
		    (struct CMUnitTest){g_cases[i].name, test_file, NULL, NULL, &g_cases[i]};
	int rc = _cmocka_run_group_tests("pdf_hostile", tests, (size_t)g_n + 1, NULL, teardown_all);
	free(tests);
	return rc;
}
