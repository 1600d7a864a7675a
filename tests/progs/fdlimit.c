/*
 * fdlimit.c - the program's descriptors and limit, as the kernel has them.
 *
 * Prints one line per case. The integration test runs it on the kernel and
 * under the shim with a live port (the shim and DPDK then hold a dozen
 * descriptors of their own, and each thread that waits two more) and
 * requires the two outputs to be identical: the program's descriptors get
 * the numbers the kernel would give, it can open exactly as many as its
 * limit says, and the calls that check the limit (dup2, F_DUPFD,
 * setrlimit) answer as the kernel does. closefrom and close_range over
 * the whole table leave the shim working: the last case serves one
 * connection from the peer on a listener made after them.
 *
 * The absolute limit is not printed: where the shim cannot raise the hard
 * limit it shows the program a lower one (preload/fdreserve.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 7788

static int listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		perror("listener");
		exit(1);
	}
	return fd;
}

static const char *err(int r)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%d %s", r, r < 0 ? strerrorname_np(errno) : "ok");
	return buf;
}

/* A thread that waits on the listener once (under the shim it gets a
 * stack and its own sleeping set and notify fd). */
static void *waiter(void *arg)
{
	int lfd = *(int *)arg, ep = epoll_create1(EPOLL_CLOEXEC), n;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };

	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	n = epoll_wait(ep, &ev, 1, 10);
	printf("waiter: epoll fd %d, wait %d\n", ep, n);
	close(ep);
	return NULL;
}

static void wait_in_thread(int lfd)
{
	pthread_t th;

	pthread_create(&th, NULL, waiter, &lfd);
	pthread_join(th, NULL);
}

/* Opens /dev/null until the limit: how many, the last number, the error. */
static void fill(const char *what)
{
	int fds[4096], n = 0, fd;

	while (n < 4096 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		fds[n++] = fd;
	printf("%s: opened %d more, last %d, then %s\n", what, n,
	       n ? fds[n - 1] : -1, strerrorname_np(errno));
	while (n)
		close(fds[--n]);
}

static void limits(void)
{
	struct rlimit was, r, got;
	int fd = open("/dev/null", O_RDONLY);

	getrlimit(RLIMIT_NOFILE, &was);
	printf("soft <= hard: %d\n", was.rlim_cur <= was.rlim_max);
	r = was;
	r.rlim_cur = 64;
	printf("setrlimit soft 64: %s\n", err(setrlimit(RLIMIT_NOFILE, &r)));
	getrlimit(RLIMIT_NOFILE, &got);
	printf("getrlimit: soft %lu, hard unchanged %d\n", (unsigned long)got.rlim_cur,
	       got.rlim_max == was.rlim_max);
	fill("at soft 64");
	printf("dup2 to 63: %s\n", err(dup2(fd, 63)));
	close(63);
	printf("dup2 to 64: %s\n", err(dup2(fd, 64)));
	printf("F_DUPFD 64: %s\n", err(fcntl(fd, F_DUPFD, 64)));
	printf("F_DUPFD 60: %s\n", err(fcntl(fd, F_DUPFD, 60)));
	close(60);
	r.rlim_cur = r.rlim_max + 1;
	printf("soft above hard: %s\n", err(setrlimit(RLIMIT_NOFILE, &r)));
	r.rlim_max = r.rlim_cur;
	printf("hard up by one: %s\n", err(prlimit(0, RLIMIT_NOFILE, &r, NULL)));
	printf("restore: %s\n", err(setrlimit(RLIMIT_NOFILE, &was)));
	getrlimit(RLIMIT_NOFILE, &got);
	printf("restored: %d\n", got.rlim_cur == was.rlim_cur && got.rlim_max == was.rlim_max);
	close(fd);
}

/* One connection from the peer: echoes what it sends. */
static void serve_one(void)
{
	int lfd = listener(), c, n;
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	char buf[64];

	printf("listening on fd %d\n", lfd);
	fflush(stdout);
	if (poll(&p, 1, 20000) != 1 || (c = accept(lfd, NULL, NULL)) < 0) {
		printf("no connection: %s\n", strerrorname_np(errno));
		return;
	}
	n = (int)read(c, buf, sizeof(buf));
	if (n > 0)
		n = (int)write(c, buf, (size_t)n);
	printf("connection on fd %d: echoed %d bytes\n", c, n);
	close(c);
	close(lfd);
}

int main(void)
{
	int lfd, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	{
		/* a limit set before the port starts (the waits on the
		 * listener below start it) is the limit after it */
		struct rlimit was, r;

		getrlimit(RLIMIT_NOFILE, &was);
		r = was;
		r.rlim_cur = was.rlim_cur > 1000 ? 1000 : was.rlim_cur;
		setrlimit(RLIMIT_NOFILE, &r);
		lfd = listener();
		for (int i = 0; i < 3; i++)
			wait_in_thread(lfd);
		getrlimit(RLIMIT_NOFILE, &r);
		printf("soft limit after the port's start: %lu\n", (unsigned long)r.rlim_cur);
		setrlimit(RLIMIT_NOFILE, &was);
	}
	printf("listener fd %d\n", lfd);
	fd = open("/dev/null", O_RDONLY);
	printf("next fd %d\n", fd);
	close(fd);
	{
		int pp[2], ev;

		pipe2(pp, O_CLOEXEC);
		ev = eventfd(0, 0);
		printf("pipe %d %d, eventfd %d\n", pp[0], pp[1], ev);
		close(pp[0]);
		close(pp[1]);
		close(ev);
	}
	limits();
	printf("close_range 3..max: %s\n", err(close_range(3, ~0u, 0)));
	fd = open("/dev/null", O_RDONLY);
	printf("after close_range, next fd %d\n", fd);
	closefrom(3);
	printf("after closefrom, next fd %d\n", open("/dev/null", O_RDONLY));
	closefrom(3);
	wait_in_thread(listener());
	closefrom(3);
	serve_one();
	return 0;
}
