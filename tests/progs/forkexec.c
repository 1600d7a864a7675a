/*
 * forkexec.c - a program that forks and execs while the shim's port is up.
 *
 * "forkexec parent MS": listens on the wildcard and polls the listener (the
 * shim starts its port where the data path is first needed),
 * then forks a child that opens an AF_INET socket of its own (it must not
 * touch the parent's port) and runs a shell pipeline through popen, and
 * execs "forkexec exec-child" (a new program inheriting LD_PRELOAD and the
 * ACCEL_* settings, which must find the port taken and run on the kernel).
 * Then the parent waits in poll for MS milliseconds so the test can ping
 * the port, and prints what each step saw.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int pipeline(void)
{
	char buf[64] = "";
	FILE *f = popen("echo accel | tr a-z A-Z | cat", "r");

	if (!f || !fgets(buf, sizeof(buf), f))
		return 1;
	pclose(f);
	printf("child pipeline: %s", buf);
	return strcmp(buf, "ACCEL\n") != 0;
}

/* A listener on the wildcard, polled once: its first use of the data
 * path, where the shim asks for the port. */
static int listen_poll(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct pollfd p;

	if (s < 0 || listen(s, 8) < 0)
		return -1;
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	if (poll(&p, 1, 0) < 0)
		return -1;
	return s;
}

static int exec_child(void)
{
	/* A fresh program: a listener of its own asks for the port. */
	int s = listen_poll();
	struct sockaddr_in a = { .sin_family = AF_INET };
	int c = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || c < 0 || bind(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return 1;
	printf("exec child: socket works\n");
	close(c);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	pid_t pid;
	int st, s, ms;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "exec-child"))
		return exec_child();
	if (argc != 3 || strcmp(argv[1], "parent")) {
		fprintf(stderr, "usage: forkexec parent MS\n");
		return 2;
	}
	ms = atoi(argv[2]);
	s = listen_poll();
	if (s < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0)
			_exit(1);
		close(c);
		_exit(pipeline());
	}
	waitpid(pid, &st, 0);
	printf("fork child: %s\n", WIFEXITED(st) && !WEXITSTATUS(st) ? "ok" : "FAILED");
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	printf("exec child: %s\n", WIFEXITED(st) && !WEXITSTATUS(st) ? "ok" : "FAILED");
	poll(NULL, 0, ms);
	printf("parent: done\n");
	close(s);
	return 0;
}
