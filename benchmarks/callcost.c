/*
 * callcost.c - nanoseconds per call of interposed libc functions.
 *
 * Run it plain, under the shim in pass-through and under the shim with a
 * live port (benchmarks/run.sh does all three) to see what interposition
 * costs per call. Each case runs for a fixed number of calls after a
 * warm-up; the median of 5 rounds is printed, one "name ns" line per case.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int fds[2], sp[2], ep, null_fd;
static char byte = 'x';

static void c_getppid(void) { (void)syscall(SYS_getppid); }
static void c_write(void) { (void)!write(null_fd, &byte, 1); }
static void c_fcntl(void) { (void)fcntl(fds[0], F_GETFL); }
static void c_recv(void) { char c; (void)!recv(sp[0], &c, 1, MSG_DONTWAIT); }
static void c_poll(void)
{
	struct pollfd p = { .fd = fds[0], .events = POLLIN };

	(void)poll(&p, 1, 0);
}
static void c_epoll(void)
{
	struct epoll_event ev;

	(void)epoll_wait(ep, &ev, 1, 0);
}

static double measure(void (*fn)(void), int n)
{
	double r[ROUNDS];

	for (int i = 0; i < n / 10; i++)
		fn();
	for (int k = 0; k < ROUNDS; k++) {
		long long t = now_ns();

		for (int i = 0; i < n; i++)
			fn();
		r[k] = (double)(now_ns() - t) / n;
	}
	qsort(r, ROUNDS, sizeof(double), cmp);
	return r[ROUNDS / 2];
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "syscall_getppid", c_getppid }, /* not interposed: the floor */
		{ "write_devnull", c_write },
		{ "fcntl_getfl", c_fcntl },
		{ "recv_dontwait_empty", c_recv },
		{ "poll_ready_0ms", c_poll },
		{ "epoll_wait_ready_0ms", c_epoll },
	};
	struct epoll_event ev = { .events = EPOLLIN };
	int n = argc > 1 ? atoi(argv[1]) : 200000;
	/* A wildcard listener in an epoll set starts the shim's port when one
	 * is configured (the port starts at the data path). */
	int s = socket(AF_INET, SOCK_STREAM, 0), lep = epoll_create1(0);
	struct sockaddr_in la = { .sin_family = AF_INET };

	if (bind(s, (struct sockaddr *)&la, sizeof(la)) < 0 || listen(s, 1) < 0 ||
	    epoll_ctl(lep, EPOLL_CTL_ADD, s, &ev) < 0)
		return 1;

	if (pipe(fds) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		return 1;
	null_fd = open("/dev/null", O_WRONLY);
	(void)!write(fds[1], "x", 1); /* poll and epoll see a ready fd */
	ep = epoll_create1(0);
	ev.data.fd = fds[0];
	epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		printf("%s %.1f\n", cases[i].name, measure(cases[i].fn, n));
	close(s);
	return 0;
}
