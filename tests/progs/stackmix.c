/*
 * stackmix.c - sockets of two threads in one epoll set and one poll, for
 * the shim's stacks per thread (run with ACCEL_QUEUES=2: the main thread
 * and the worker get a stack each). Against sock_peer.py:
 *  - main listens on port 9100 (its stack); the worker connects to the
 *    echo port (its stack) and puts both in one epoll set, which then
 *    holds members of two stacks;
 *  - ROUNDS times the worker asks the peer (control port) to connect back,
 *    accepts the connection through that set, adds it too (it moves to
 *    the worker's stack), reads its "hi" to EOF, and echoes a line through
 *    the first connection;
 *  - meanwhile main polls the listener and the echo connection together;
 *  - main connects a socket of its own, writes on it (it stays on main's
 *    stack), hands it to the worker, who adds it to the set and waits; main
 *    closes it under the wait: the set forgets it, nothing hangs.
 * Prints what it did and exits 0, the same on kernel sockets and under
 * the shim, or says what failed and exits 1.
 *
 *   stackmix PEER_IP [ROUNDS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_PORT 7001
#define CONTROL_PORT 7005
#define LISTEN_PORT 9100

static const char *peer;
static int rounds = 20, lfd, echo_fd = -1, handed = -1;
static int worker_done, handed_closed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

#define DIE(...)                                      \
	do {                                          \
		fprintf(stderr, __VA_ARGS__);         \
		fprintf(stderr, " (%s)\n", strerror(errno)); \
		exit(1);                              \
	} while (0)

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, peer, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		DIE("connect to port %d", port);
	return fd;
}

static void read_exact(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r <= 0)
			DIE("read %zu of %zu", got, n);
		got += (size_t)r;
	}
}

static void add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		DIE("epoll_ctl ADD %d", fd);
}

/* One connection back from the peer, accepted through the set. */
static void one_round(int ep, int ctl, int round)
{
	struct epoll_event ev[8];
	char buf[64], line[32];
	int c = -1, got_hi = 0;
	size_t hi = 0;

	if (write(ctl, "CONNECT 9100\n", 13) != 13)
		DIE("control write");
	while (!got_hi) {
		int n = epoll_wait(ep, ev, 8, 5000);

		if (n <= 0)
			DIE("epoll_wait round %d gave %d", round, n);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lfd) {
				int a = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

				if (a < 0 && errno == EAGAIN)
					continue;
				if (a < 0 || c >= 0)
					DIE("accept (second connection %d)", c);
				c = a;
				add(ep, c, EPOLLIN);
			} else if (fd == c) {
				ssize_t r = read(c, buf + hi, sizeof(buf) - hi);

				if (r > 0) {
					hi += (size_t)r;
				} else if (r == 0) {
					if (hi != 2 || memcmp(buf, "hi", 2))
						DIE("round %d: %zu bytes, not hi", round, hi);
					close(c); /* (leaves the set) */
					got_hi = 1;
				} else if (errno != EAGAIN) {
					DIE("read the connection back");
				}
			} else if (fd != echo_fd) {
				DIE("event for unknown fd %d", fd);
			}
		}
	}
	read_exact(ctl, buf, 3); /* "OK\n" */
	snprintf(line, sizeof(line), "round %04d\n", round);
	if (write(echo_fd, line, 11) != 11)
		DIE("echo write");
	read_exact(echo_fd, buf, 11);
	if (memcmp(buf, line, 11))
		DIE("echo came back wrong");
}

static void *worker(void *arg)
{
	int ep = epoll_create1(0), ctl = dial(CONTROL_PORT);
	struct epoll_event ev[4];

	(void)arg;
	if (ep < 0)
		DIE("epoll_create1");
	pthread_mutex_lock(&mu);
	echo_fd = dial(ECHO_PORT);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	add(ep, echo_fd, EPOLLIN | EPOLLET); /* (reads are blocking reads) */
	add(ep, lfd, EPOLLIN);               /* main's: two stacks in one set */
	for (int r = 0; r < rounds; r++)
		one_round(ep, ctl, r);
	printf("worker: %d connections accepted through a set with the echo connection\n",
	       rounds);

	/* main's socket: into the set, then closed by main while we wait */
	pthread_mutex_lock(&mu);
	while (handed < 0)
		pthread_cond_wait(&cv, &mu);
	add(ep, handed, EPOLLIN);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (;;) {
		int n = epoll_wait(ep, ev, 4, 200);

		if (n < 0)
			DIE("epoll_wait after the close");
		for (int i = 0; i < n; i++)
			if (ev[i].data.fd != lfd && ev[i].data.fd != echo_fd)
				DIE("event for fd %d", ev[i].data.fd);
		pthread_mutex_lock(&mu);
		n = handed_closed;
		pthread_mutex_unlock(&mu);
		if (n)
			break;
	}
	if (epoll_wait(ep, ev, 4, 100) != 0)
		DIE("events after the close");
	printf("worker: a socket main closed under its wait left the set\n");
	close(ctl);
	close(ep);
	pthread_mutex_lock(&mu);
	worker_done = 1;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(LISTEN_PORT) };
	int one = 1, polls = 0, x;
	pthread_t th;

	if (argc < 2) {
		fprintf(stderr, "usage: stackmix PEER_IP [ROUNDS]\n");
		return 2;
	}
	peer = argv[1];
	if (argc > 2)
		rounds = atoi(argv[2]);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0)
		DIE("listen on %d", LISTEN_PORT);
	/* main's first look at its listener, before the worker exists: under
	 * the shim the port starts here and main takes the first stack, the
	 * listener's, so the worker's accepted connections move to its own */
	poll(&(struct pollfd){ .fd = lfd, .events = POLLIN }, 1, 0);
	if (pthread_create(&th, NULL, worker, NULL))
		DIE("pthread_create");
	pthread_mutex_lock(&mu);
	while (echo_fd < 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	/* a poll over both threads' sockets while the worker serves them */
	for (; polls < 100; polls++) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
				       { .fd = echo_fd, .events = POLLOUT } };

		if (poll(p, 2, 1000) < 0 || !(p[1].revents & POLLOUT))
			DIE("poll over two stacks (revents %x)", p[1].revents);
		usleep(1000);
	}
	printf("main: polled the listener and the echo connection\n");

	x = dial(ECHO_PORT);
	if (write(x, "x", 1) != 1)
		DIE("write on main's socket");
	read_exact(x, (char[1]){ 0 }, 1);
	pthread_mutex_lock(&mu);
	handed = x;
	pthread_cond_broadcast(&cv);
	pthread_cond_wait(&cv, &mu); /* it is in the set */
	pthread_mutex_unlock(&mu);
	usleep(50000); /* the worker is in epoll_wait */
	close(x);
	pthread_mutex_lock(&mu);
	handed_closed = 1;
	pthread_mutex_unlock(&mu);
	pthread_join(th, NULL);
	close(echo_fd);
	close(lfd);
	printf("ok\n");
	return worker_done ? 0 : 1;
}
