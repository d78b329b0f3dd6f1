/* The floor under the keyholder hop: two processes passing a 100-byte message back and forth
 * over an AF_UNIX SOCK_SEQPACKET socketpair (the keyholder channels' kind), nothing else. A
 * round trip is two wake-ups of a blocked process, which is what one synchronous call into the
 * keyholder costs at the least on this machine, whatever the keyholder does.
 *
 *   ipc_floor SECONDS
 * prints: "floor: <n> round trips in <s> s = <rate>/s, <us> us each" */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc == 2 ? strtod(argv[1], NULL) : 0;
	int sv[2];
	char msg[512] = {0};
	if (secs <= 0 || secs > 600) {
		fprintf(stderr, "usage: ipc_floor SECONDS\n");
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		for (;;) {
			ssize_t n = recv(sv[1], msg, sizeof(msg), 0);
			if (n <= 0 || send(sv[1], msg, (size_t)n, 0) != n)
				_exit(0);
		}
	}
	close(sv[1]);
	unsigned long k = 0;
	double t0 = now_s(), el = 0;
	while (el < secs) {
		if (send(sv[0], msg, 100, 0) != 100 || recv(sv[0], msg, sizeof(msg), 0) != 100)
			return 1;
		if (++k % 256 == 0)
			el = now_s() - t0;
	}
	el = now_s() - t0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	printf("floor: %lu round trips in %.2f s = %.0f/s, %.1f us each\n", k, el, (double)k / el,
	       el * 1e6 / (double)k);
	return 0;
}
