/* unitjail: run a program under the seccomp restrictions systemd 252 derives from
 * click2signd.service, for a test without systemd as PID 1:
 *   --syscalls FILE   SystemCallFilter= as an allow-list (one name a line, groups already
 *                     expanded); any other system call kills the process (SIGSYS)
 *   --mdwe            MemoryDenyWriteExecute=yes: mmap with PROT_WRITE and PROT_EXEC together,
 *                     mprotect/pkey_mprotect adding PROT_EXEC and shmat with SHM_EXEC fail
 *                     with EPERM
 *   --families LIST   RestrictAddressFamilies= (comma-separated: unix, inet, inet6): socket()
 *                     of any other family fails with EAFNOSUPPORT
 *   --no-suid-sgid    RestrictSUIDSGID=yes: chmod and file creation with S_ISUID or S_ISGID
 *                     fail with EPERM
 * and PR_SET_NO_NEW_PRIVS (NoNewPrivileges=yes). Capabilities are left to setpriv(1).
 * Usage: c2s_unitjail [options] -- PROGRAM [ARG...] */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, int rc)
{
	fprintf(stderr, "c2s_unitjail: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(125);
}

static void load_allow_list(const char *file)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
	FILE *in = fopen(file, "r");
	char line[128];
	int n = 0, rc;
	if (!f || !in)
		die(file, errno ? errno : ENOMEM);
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, " \t\r\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		int nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue; /* another architecture's call */
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			die(line, rc);
		n++;
	}
	fclose(in);
	if (n == 0)
		die("empty system call list", EINVAL);
	if ((rc = seccomp_load(f)) < 0)
		die("seccomp_load (allow-list)", rc);
	seccomp_release(f);
}

#define RULE(action, call, ...)                                                                    \
	do {                                                                                       \
		int rc_ = seccomp_rule_add(f, action, SCMP_SYS(call), __VA_ARGS__);                \
		if (rc_ < 0)                                                                       \
			die(#call, rc_);                                                           \
	} while (0)

static void load_restrictions(int mdwe, const char *families, int no_suid)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
	const scmp_datum_t wx = PROT_WRITE | PROT_EXEC;
	int rc;
	if (!f)
		die("seccomp_init", ENOMEM);
	if (mdwe) {
		RULE(SCMP_ACT_ERRNO(EPERM), mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, wx));
		RULE(SCMP_ACT_ERRNO(EPERM), mprotect, 1,
		     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
		RULE(SCMP_ACT_ERRNO(EPERM), pkey_mprotect, 1,
		     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
		RULE(SCMP_ACT_ERRNO(EPERM), shmat, 1,
		     SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
	}
	if (families) {
		int allowed[AF_MAX] = {0};
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", families);
		char *save = NULL;
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (strcmp(t, "unix") == 0)
				allowed[AF_UNIX] = 1;
			else if (strcmp(t, "inet") == 0)
				allowed[AF_INET] = 1;
			else if (strcmp(t, "inet6") == 0)
				allowed[AF_INET6] = 1;
			else
				die(t, EINVAL);
		for (int af = 0; af < AF_MAX; af++)
			if (!allowed[af])
				RULE(SCMP_ACT_ERRNO(EAFNOSUPPORT), socket, 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)af, 0));
		RULE(SCMP_ACT_ERRNO(EAFNOSUPPORT), socket, 1,
		     SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)AF_MAX, 0));
	}
	if (no_suid) {
		/* the mode argument of each call that sets or creates with a mode */
		const scmp_datum_t bits[2] = {S_ISUID, S_ISGID};
		for (int i = 0; i < 2; i++) {
			scmp_datum_t b = bits[i];
			RULE(SCMP_ACT_ERRNO(EPERM), chmod, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), fchmod, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), fchmodat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), mkdir, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), mkdirat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), creat, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), open, 2,
			     SCMP_A1(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
			     SCMP_A2(SCMP_CMP_MASKED_EQ, b, b));
			RULE(SCMP_ACT_ERRNO(EPERM), openat, 2,
			     SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT),
			     SCMP_A3(SCMP_CMP_MASKED_EQ, b, b));
		}
	}
	if ((rc = seccomp_load(f)) < 0)
		die("seccomp_load (restrictions)", rc);
	seccomp_release(f);
}

int main(int argc, char **argv)
{
	const char *syscalls = NULL, *families = NULL;
	int mdwe = 0, no_suid = 0, i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--syscalls") == 0 && i + 1 < argc)
			syscalls = argv[++i];
		else if (strcmp(argv[i], "--families") == 0 && i + 1 < argc)
			families = argv[++i];
		else if (strcmp(argv[i], "--mdwe") == 0)
			mdwe = 1;
		else if (strcmp(argv[i], "--no-suid-sgid") == 0)
			no_suid = 1;
		else
			i = argc;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: c2s_unitjail [--syscalls FILE] [--mdwe] [--families LIST] "
		                "[--no-suid-sgid] -- PROGRAM [ARG...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("PR_SET_NO_NEW_PRIVS", errno);
	/* the restrictions first: the allow-list may not include what loading them needs */
	load_restrictions(mdwe, families, no_suid);
	if (syscalls)
		load_allow_list(syscalls);
	execv(argv[i + 1], argv + i + 1);
	die(argv[i + 1], errno);
	return 125;
}
