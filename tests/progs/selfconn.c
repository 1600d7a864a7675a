/*
 * selfconn - connects to the host's own address (argv[1], not a loopback
 * one) and prints one line per case: a closed port (blocking, non-blocking,
 * blocking after a non-blocking try, from a socket bound to the address),
 * and an open one (a wildcard listener and one bound to the address;
 * blocking and non-blocking connects; a message each way; a megabyte each
 * way; a server thread that answers while the client thread sleeps
 * outside any socket call). On the kernel (the address on lo) this is the reference: refused
 * at once, or connected and data flows. Under the shim the address is the
 * port's, served by the userspace stack; the lines must be the same. A
 * refusal or a connect that takes half a second or more says so ("slow"):
 * the kernel's are at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PORT_CLOSED 9
#define PORT_ANY 5601  /* a listener on the wildcard */
#define PORT_SELF 5602 /* a listener on the address itself */
#define BULK (1 << 20)

static struct sockaddr_in self;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in at(uint16_t port)
{
	struct sockaddr_in a = self;

	a.sin_port = htons(port);
	return a;
}

static const char *name_of(int r, int e)
{
	return r < 0 ? strerrorname_np(e) : "ok";
}

static void line(const char *what, const char *result, double t0)
{
	printf("%-40s %s%s\n", what, result, now_s() - t0 >= 0.5 ? " (slow)" : "");
}

static int tcp_socket(int nonblock)
{
	int s = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (s < 0) {
		perror("socket");
		exit(1);
	}
	return s;
}

static int do_connect(int s, uint16_t port)
{
	struct sockaddr_in a = at(port);

	return connect(s, (struct sockaddr *)&a, sizeof(a));
}

static int listener(struct sockaddr_in a)
{
	int l = tcp_socket(0), one = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0) {
		perror("listener");
		exit(1);
	}
	return l;
}

/* poll for POLLOUT (2 s at most), then SO_ERROR: how a non-blocking
 * connect ended, in the kernel's words. */
static void nonblock_result(const char *what, int s, double t0)
{
	struct pollfd p = { .fd = s, .events = POLLOUT };
	int n = poll(&p, 1, 2000), err = 0;
	socklen_t len = sizeof(err);
	char buf[96];

	getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	snprintf(buf, sizeof(buf), "poll %d%s%s, SO_ERROR %s", n,
		 p.revents & POLLOUT ? " out" : "", p.revents & POLLERR ? " err" : "",
		 err ? strerrorname_np(err) : "0");
	line(what, buf, t0);
}

static void closed_port(void)
{
	struct sockaddr_in a = at(0);
	double t0 = now_s();
	int s = tcp_socket(0), r;

	r = do_connect(s, PORT_CLOSED);
	line("closed, blocking", name_of(r, errno), t0);
	close(s);

	t0 = now_s();
	s = tcp_socket(1);
	r = do_connect(s, PORT_CLOSED);
	line("closed, non-blocking: connect", name_of(r, errno), t0);
	nonblock_result("closed, non-blocking: result", s, t0);
	close(s);

	t0 = now_s();
	s = tcp_socket(0);
	r = do_connect(s, PORT_CLOSED);
	line("closed, blocking after that", name_of(r, errno), t0);
	close(s);

	t0 = now_s();
	s = tcp_socket(0);
	r = bind(s, (struct sockaddr *)&a, sizeof(a));
	line("closed, bound to self: bind", name_of(r, errno), t0);
	r = do_connect(s, PORT_CLOSED);
	line("closed, bound to self: connect", name_of(r, errno), t0);
	close(s);
}

/* One message each way on a connected pair; "ok" or what went wrong. */
static const char *ping_pong(int c, int a)
{
	char buf[8];

	if (write(c, "ping", 4) != 4 || read(a, buf, sizeof(buf)) != 4 || memcmp(buf, "ping", 4))
		return "ping lost";
	if (write(a, "pong", 4) != 4 || read(c, buf, sizeof(buf)) != 4 || memcmp(buf, "pong", 4))
		return "pong lost";
	return "ok";
}

/* The accepted end's peer is the client's own address and port. */
static const char *peer_check(int c, int a)
{
	struct sockaddr_in local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer);

	if (getsockname(c, (struct sockaddr *)&local, &ll) < 0 ||
	    getpeername(a, (struct sockaddr *)&peer, &pl) < 0)
		return strerrorname_np(errno);
	if (local.sin_addr.s_addr != self.sin_addr.s_addr ||
	    peer.sin_addr.s_addr != self.sin_addr.s_addr || local.sin_port != peer.sin_port)
		return "another address";
	return "self";
}

/* BULK bytes from `from` to `to`, both non-blocking, in one thread: the
 * sum of what arrived, or -1. */
static long bulk(int from, int to)
{
	static unsigned char out[BULK], in[65536];
	size_t sent = 0, got = 0;
	unsigned long sum = 0;

	for (size_t i = 0; i < BULK; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	while (got < BULK) {
		struct pollfd p[2] = { { .fd = from, .events = sent < BULK ? POLLOUT : 0 },
				       { .fd = to, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 5000) <= 0)
			return -1;
		if ((p[0].revents & POLLOUT) &&
		    (n = write(from, out + sent, BULK - sent)) > 0)
			sent += (size_t)n;
		if (p[1].revents & POLLIN) {
			n = read(to, in, sizeof(in));
			if (n <= 0)
				return -1;
			for (ssize_t i = 0; i < n; i++)
				sum += (unsigned long)in[i] * ((got + (size_t)i) % 65521 + 1);
			got += (size_t)n;
		}
	}
	return (long)(sum % 1000000007ul);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void open_port(const char *label, int l, uint16_t port, int nonblock, int big)
{
	char what[64], buf[96];
	double t0 = now_s();
	int c = tcp_socket(nonblock), a, r;

	r = do_connect(c, port);
	snprintf(what, sizeof(what), "%s: connect", label);
	line(what, name_of(r, errno), t0);
	if (nonblock) {
		snprintf(what, sizeof(what), "%s: result", label);
		nonblock_result(what, c, t0);
		fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
	}
	a = accept(l, NULL, NULL);
	snprintf(what, sizeof(what), "%s: accept", label);
	line(what, name_of(a, errno), t0);
	if (a < 0)
		exit(1);
	snprintf(what, sizeof(what), "%s: peer", label);
	line(what, peer_check(c, a), t0);
	snprintf(what, sizeof(what), "%s: ping-pong", label);
	line(what, ping_pong(c, a), t0);
	if (big) {
		long there, back;

		set_nonblock(c);
		set_nonblock(a);
		t0 = now_s();
		there = bulk(c, a);
		back = bulk(a, c);
		snprintf(what, sizeof(what), "%s: 1 MB each way", label);
		snprintf(buf, sizeof(buf), "sums %ld %ld", there, back);
		/* (not timed: a shared machine may take its time) */
		printf("%-40s %s\n", what, buf);
	}
	close(c);
	close(a);
}

struct server {
	int l;
	double got_at; /* when the request arrived */
};

static void *serve_one(void *arg)
{
	struct server *sv = arg;
	char buf[8];
	int a = accept(sv->l, NULL, NULL);

	if (a >= 0 && read(a, buf, sizeof(buf)) == 4) {
		sv->got_at = now_s();
		if (write(a, "pong", 4) != 4)
			sv->got_at = 0;
	}
	if (a >= 0)
		close(a);
	return NULL;
}

/* The request reaches the server thread, blocked in accept and read,
 * while the client thread sleeps in nanosleep: nothing but the write
 * itself may carry it there. */
static void threaded(int l)
{
	struct server sv = { .l = l };
	pthread_t th;
	double t0 = now_s(), slept;
	char buf[8];
	int c = tcp_socket(0), r;

	pthread_create(&th, NULL, serve_one, &sv);
	r = do_connect(c, PORT_ANY);
	line("threaded: connect", name_of(r, errno), t0);
	r = (int)write(c, "ping", 4);
	usleep(300000);
	slept = now_s();
	line("threaded: served during the sleep",
	     sv.got_at > 0 && sv.got_at < slept ? "yes" : "no", slept);
	r = (int)read(c, buf, sizeof(buf));
	line("threaded: answer", r == 4 && !memcmp(buf, "pong", 4) ? "pong" : "lost", slept);
	pthread_join(th, NULL);
	close(c);
}

int main(int argc, char **argv)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(PORT_ANY) };
	int l_any, l_self;

	if (argc != 2 || inet_pton(AF_INET, argv[1], &self.sin_addr) != 1) {
		fprintf(stderr, "usage: selfconn <the host's own IPv4 address>\n");
		return 2;
	}
	self.sin_family = AF_INET;
	setvbuf(stdout, NULL, _IOLBF, 0);
	closed_port();
	l_any = listener(any);
	l_self = listener(at(PORT_SELF));
	open_port("wildcard listener, blocking", l_any, PORT_ANY, 0, 1);
	open_port("wildcard listener, non-blocking", l_any, PORT_ANY, 1, 0);
	open_port("self listener, blocking", l_self, PORT_SELF, 0, 0);
	open_port("self listener, non-blocking", l_self, PORT_SELF, 1, 1);
	threaded(l_any);
	close(l_any);
	close(l_self);
	closed_port(); /* the same after the listeners closed */
	return 0;
}
