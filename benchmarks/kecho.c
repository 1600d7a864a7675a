/*
 * kecho.c - the kernel side of the ping-pong benchmark: an epoll echo
 * server and a ping-pong client on ordinary kernel TCP sockets, with the
 * same message size and connection count as stack-echo's, so the two can
 * be compared in one run (benchmarks/pingpong.sh).
 *
 *   kecho server PORT
 *   kecho client IP PORT SIZE COUNT CONNS
 *     prints "pingpong: N round trips ... : R per second" like stack-echo
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct epoll_event ev, evs[256];
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, ep = epoll_create1(0);
	char buf[65536];

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1024) < 0)
		return 1;
	ev.events = EPOLLIN;
	ev.data.fd = l;
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	printf("listening on port %d\n", port);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == l) {
				int c = accept(l, NULL, NULL);

				nodelay(c);
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				close(fd);
			else if (write(fd, buf, (size_t)r) != r)
				close(fd);
		}
	}
}

static int client(const char *ip, int port, int size, long count, int conns)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static long rounds[MAXC], got[MAXC];
	static int fds[MAXC];
	struct epoll_event ev, evs[256];
	int ep = epoll_create1(0), done = 0;
	char buf[65536], msg[65536];
	double t0;

	inet_pton(AF_INET, ip, &a.sin_addr);
	memset(msg, 'p', (size_t)size);
	for (int i = 0; i < conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0 || fd >= MAXC || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return 1;
		nodelay(fd);
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		fds[i] = fd;
	}
	t0 = now();
	for (int i = 0; i < conns; i++)
		if (write(fds[i], msg, (size_t)size) != size)
			return 1;
	while (done < conns) {
		int n = epoll_wait(ep, evs, 256, 5000);

		if (n <= 0)
			return 1;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r <= 0)
				return 1;
			got[fd] += r;
			if (got[fd] < size)
				continue;
			got[fd] -= size;
			if (++rounds[fd] == count)
				done++;
			else if (write(fd, msg, (size_t)size) != size)
				return 1;
		}
	}
	double dt = now() - t0;

	printf("pingpong: %ld round trips of %d bytes on %d connections in %.3f s: %.0f per second\n",
	       count * conns, size, conns, dt, (double)(count * conns) / dt);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 7 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: kecho server PORT | client IP PORT SIZE COUNT CONNS\n");
	return 2;
}
