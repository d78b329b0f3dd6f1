/* Shared by the unit tests that drive real tools (openssl, mkpki.sh, the test TSA):
 * run a shell command line built with printf formatting, return its exit status. */
#ifndef C2S_TEST_SHELL_H
#define C2S_TEST_SHELL_H

#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

extern char **environ;

/* -1 when the shell could not be started or did not exit normally. */
__attribute__((format(printf, 1, 2), unused)) static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t pid;
	int st = 0;
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
