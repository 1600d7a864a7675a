/*
 * sockdiff.c - the differential socket test: TCP socket semantics as a
 * program sees them, against a Linux peer (tests/integration/sock_peer.py).
 * Run once on kernel sockets and once under the shim (whose sockets then
 * go through the port); both runs must pass and print the same trace.
 *
 *   sockdiff PEER_IP
 *
 * Each check asserts what Linux does and prints one trace line (results
 * and errno names, never addresses or timings), so any difference between
 * the two runs shows in a diff of their output.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#define P_ECHO 7001
#define P_HELLO 7002
#define P_RESET 7003
#define P_SILENT 7004
#define P_CONTROL 7005
#define P_CLOSED 7009

static const char *peer;
static volatile sig_atomic_t sigpipes;

static void trace(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("T ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static const char *ename(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "0";
	case EAGAIN: return "EAGAIN";
	case EINPROGRESS: return "EINPROGRESS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case ENOTCONN: return "ENOTCONN";
	case EISCONN: return "EISCONN";
	case EALREADY: return "EALREADY";
	case EINVAL: return "EINVAL";
	case EBADF: return "EBADF";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EFAULT: return "EFAULT";
	default:
		snprintf(buf, sizeof(buf), "errno%d", e);
		return buf;
	}
}

static struct sockaddr_in addr_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static int tcp(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);

	assert_true(fd >= 0);
	return fd;
}

static int dial(uint16_t port)
{
	struct sockaddr_in a = addr_of(peer, port);
	int fd = tcp(0), r = connect(fd, (struct sockaddr *)&a, sizeof(a));

	assert_int_equal(r, 0);
	return fd;
}

/* Reads exactly n bytes (blocking). */
static void read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void test_connect_and_names(void **state)
{
	struct sockaddr_in a = addr_of(peer, P_ECHO), me, them;
	socklen_t ml = sizeof(me), tl = sizeof(them);
	int fd = tcp(0);

	(void)state;
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &ml), 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&them, &tl), 0);
	assert_int_equal(me.sin_family, AF_INET);
	assert_int_equal(ntohs(them.sin_port), P_ECHO);
	assert_true(ntohs(me.sin_port) >= 1024);
	errno = 0;
	int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	trace("connect again: %d %s", r, ename(errno));
	assert_int_equal(r, -1);
	assert_int_equal(errno, EISCONN);
	trace("names: family %d peer port %d len %d", me.sin_family, ntohs(them.sin_port),
	      (int)tl);
	close(fd);
}

static void test_nonblocking_connect(void **state)
{
	struct sockaddr_in a = addr_of(peer, P_ECHO);
	int fd = tcp(SOCK_NONBLOCK), err = -1, r;
	socklen_t el = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	(void)state;
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	trace("nonblocking connect: %d %s", r, ename(r ? errno : 0));
	assert_true(r == 0 || errno == EINPROGRESS);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(p.revents & POLLOUT);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	trace("after poll: revents %#x SO_ERROR %s", p.revents, ename(err));
	assert_int_equal(err, 0);
	close(fd);
}

/* An epoll set that holds the socket before it connects (nutcracker's
 * order): the set reports the connection's EPOLLOUT (no EPOLLHUP of an
 * unconnected socket), MOD and DEL find it, and data arrives as EPOLLIN. */
static void test_epoll_before_connect(void **state)
{
	struct sockaddr_in a = addr_of(peer, P_ECHO);
	int fd = tcp(SOCK_NONBLOCK), ep = epoll_create1(0), r, n, err = -1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = 0x1234567890ull },
			   got;
	socklen_t el = sizeof(err);
	char buf[4];

	(void)state;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	assert_true(r == 0 || errno == EINPROGRESS);
	n = epoll_wait(ep, &got, 1, 5000);
	assert_int_equal(n, 1);
	assert_true(got.data.u64 == 0x1234567890ull);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	trace("epoll before connect: events %#x SO_ERROR %s", got.events, ename(err));
	assert_int_equal(got.events & (EPOLLHUP | EPOLLERR), 0);
	ev.events = EPOLLIN | EPOLLET;
	errno = 0;
	r = epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
	trace("MOD after connect: %d %s", r, ename(errno));
	assert_int_equal(r, 0);
	assert_int_equal(write(fd, "ping", 4), 4);
	n = epoll_wait(ep, &got, 1, 5000);
	assert_int_equal(n, 1);
	trace("echo: events %#x", got.events);
	assert_true(got.events & EPOLLIN);
	read_n(fd, buf, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL), 0);
	close(ep);
	close(fd);
}

static void test_refused(void **state)
{
	struct sockaddr_in a = addr_of(peer, P_CLOSED);
	int fd = tcp(0), r, err = -1;
	socklen_t el = sizeof(err);
	struct pollfd p;

	(void)state;
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	trace("blocking connect to a closed port: %d %s", r, ename(errno));
	assert_int_equal(r, -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	fd = tcp(SOCK_NONBLOCK);
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	assert_int_equal(r, -1);
	assert_int_equal(errno, EINPROGRESS);
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el), 0);
	trace("nonblocking refused: revents has ERR %d, SO_ERROR %s, again %s",
	      !!(p.revents & POLLERR), ename(err), "-");
	assert_int_equal(err, ECONNREFUSED);
	assert_true(p.revents & POLLERR);
	close(fd);
}

static void test_echo_peek_fionread(void **state)
{
	int fd = dial(P_ECHO), n = -1;
	char buf[64];
	ssize_t r;

	(void)state;
	assert_int_equal(send(fd, "0123456789abcdef", 16, 0), 16);
	r = recv(fd, buf, 4, MSG_PEEK | MSG_WAITALL);
	trace("peek: %zd '%.4s'", r, buf);
	assert_int_equal(r, 4);
	for (int i = 0; i < 100 && n < 16; i++) {
		assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
		if (n < 16)
			usleep(10000);
	}
	trace("FIONREAD: %d", n);
	assert_int_equal(n, 16);
	read_n(fd, buf, 16);
	assert_memory_equal(buf, "0123456789abcdef", 16);
	errno = 0;
	r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	trace("empty recv MSG_DONTWAIT: %zd %s", r, ename(errno));
	assert_int_equal(r, -1);
	assert_int_equal(errno, EAGAIN);
	close(fd);
}

static void test_nonblock_flags(void **state)
{
	int fd = dial(P_ECHO), on = 1, fl;
	char buf[8];
	ssize_t r;

	(void)state;
	fl = fcntl(fd, F_GETFL);
	assert_false(fl & O_NONBLOCK);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	errno = 0;
	r = read(fd, buf, sizeof(buf));
	trace("read with O_NONBLOCK: %zd %s", r, ename(errno));
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
	assert_int_equal(ioctl(fd, FIONBIO, &on), 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	errno = 0;
	r = read(fd, buf, sizeof(buf));
	trace("read with FIONBIO: %zd %s", r, ename(errno));
	assert_int_equal(errno, EAGAIN);
	close(fd);
}

static void test_vectors(void **state)
{
	int fd = dial(P_ECHO);
	char a[3] = "abc", b[5] = "defgh", c[2] = "ij", out[10];
	struct iovec wv[3] = { { a, 3 }, { b, 5 }, { c, 2 } };
	struct iovec rv[2] = { { out, 4 }, { out + 4, 6 } };
	struct msghdr m = { .msg_iov = rv, .msg_iovlen = 2 };
	ssize_t r;

	(void)state;
	assert_int_equal(writev(fd, wv, 3), 10);
	usleep(50000);
	r = recvmsg(fd, &m, MSG_WAITALL);
	trace("writev 10, recvmsg: %zd '%.10s' flags %d", r, out, m.msg_flags);
	assert_int_equal(r, 10);
	assert_memory_equal(out, "abcdefghij", 10);
	m.msg_iov = wv;
	m.msg_iovlen = 3;
	assert_int_equal(sendmsg(fd, &m, 0), 10);
	r = readv(fd, rv, 2);
	while (r > 0 && r < 10) {
		ssize_t k = read(fd, out + r, (size_t)(10 - r));

		assert_true(k > 0);
		r += k;
	}
	trace("sendmsg 10, readv: %zd", r);
	assert_int_equal(r, 10);
	close(fd);
}

static void test_shutdown_and_eof(void **state)
{
	int fd = dial(P_ECHO), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP }, got;
	char buf[8];
	ssize_t r;

	(void)state;
	assert_int_equal(send(fd, "bye", 3, 0), 3);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	read_n(fd, buf, 3);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	assert_int_equal(epoll_wait(ep, &got, 1, 5000), 1);
	r = read(fd, buf, sizeof(buf));
	trace("after SHUT_WR: echo back, then EPOLLRDHUP %d, read %zd",
	      !!(got.events & EPOLLRDHUP), r);
	assert_true(got.events & EPOLLRDHUP);
	assert_int_equal(r, 0);
	errno = 0;
	r = send(fd, "x", 1, MSG_NOSIGNAL);
	trace("send after SHUT_WR: %zd %s", r, ename(errno));
	assert_int_equal(errno, EPIPE);
	errno = 0;
	r = shutdown(fd, 5);
	trace("shutdown(5): %zd %s", r, ename(errno));
	assert_int_equal(errno, EINVAL);
	close(ep);
	close(fd);
}

static void on_sigpipe(int s)
{
	(void)s;
	sigpipes++;
}

static void test_reset(void **state)
{
	int fd = dial(P_RESET);
	char buf[8];
	ssize_t r;
	int e;

	(void)state;
	assert_int_equal(send(fd, "x", 1, 0), 1);
	usleep(200000);
	errno = 0;
	r = recv(fd, buf, sizeof(buf), 0);
	e = errno;
	trace("recv after the peer's RST: %zd %s", r, ename(e));
	assert_int_equal(r, -1);
	assert_int_equal(e, ECONNRESET);
	signal(SIGPIPE, on_sigpipe);
	sigpipes = 0;
	errno = 0;
	r = write(fd, "y", 1);
	trace("write after RST: %zd %s, SIGPIPE %d", r, ename(errno), (int)sigpipes);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(sigpipes, 1);
	errno = 0;
	r = send(fd, "y", 1, MSG_NOSIGNAL);
	trace("send MSG_NOSIGNAL after RST: %zd %s, SIGPIPE %d", r, ename(errno),
	      (int)sigpipes);
	assert_int_equal(sigpipes, 1);
	signal(SIGPIPE, SIG_DFL);
	close(fd);
}

static void test_full_send_buffer(void **state)
{
	int fd = dial(P_SILENT);
	static char chunk[65536];
	long total = 0;
	ssize_t r;

	(void)state;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 2000; i++) {
		r = send(fd, chunk, sizeof(chunk), 0);
		if (r < 0)
			break;
		total += r;
	}
	trace("send to a peer that never reads: ends with %s", ename(errno));
	assert_int_equal(errno, EAGAIN);
	assert_true(total > 0);
	close(fd);
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* SO_RCVTIMEO and SO_SNDTIMEO end a blocking call with EAGAIN (connect:
 * EINPROGRESS) once their time is up: recv from a peer that sends
 * nothing, accept on a listener nobody dials (the wildcard: both paths
 * under the shim), send to a peer that never reads. Within a loose
 * window: never before the time, and not much after it. */
static void test_socket_timeouts(void **state)
{
	struct timeval tv = { 0, 200000 };
	struct sockaddr_in any = addr_of("0.0.0.0", 0);
	static char chunk[65536];
	int fd = dial(P_SILENT), l = tcp(0), c;
	struct timespec t0;
	long long ms, total = 0;
	char buf[8];
	ssize_t r;

	(void)state;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	r = recv(fd, buf, sizeof(buf), 0);
	ms = ms_since(&t0);
	trace("recv with SO_RCVTIMEO 200 ms, nothing sent: %zd %s in time %d", r, ename(errno),
	      ms >= 190 && ms < 3000);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(ms >= 190 && ms < 3000);
	errno = 0;
	r = read(fd, buf, sizeof(buf));
	trace("read, the same: %zd %s", r, ename(errno));
	assert_int_equal(errno, EAGAIN);

	assert_int_equal(bind(l, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(listen(l, 4), 0);
	tv.tv_usec = 100000;
	assert_int_equal(setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	c = accept(l, NULL, NULL);
	ms = ms_since(&t0);
	trace("accept with SO_RCVTIMEO 100 ms, nobody dials: %d %s in time %d", c, ename(errno),
	      ms >= 90 && ms < 3000);
	assert_int_equal(errno, EAGAIN);
	assert_true(ms >= 90 && ms < 3000);
	close(l);

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	for (int i = 0; i < 2000; i++) {
		r = send(fd, chunk, sizeof(chunk), 0);
		if (r < (ssize_t)sizeof(chunk))
			break;
		total += r;
	}
	/* the last send filled the buffer (partly) or found it full; the
	 * next ones wait their time and find it full */
	for (int i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		errno = 0;
		r = send(fd, chunk, sizeof(chunk), 0);
		ms = ms_since(&t0);
		if (r < 0)
			break;
	}
	trace("send with SO_SNDTIMEO 100 ms to a peer that never reads: %zd %s in time %d", r,
	      ename(errno), ms >= 90 && ms < 3000);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(total > 0 && ms >= 90 && ms < 3000);
	close(fd);
}

/* A blocking recv whose descriptor another thread replaces meanwhile
 * (dup2 of a new connection over it, whose data is in) never returns the
 * new connection's data: Linux's recv goes on with the socket it began on
 * (here: until its SO_RCVTIMEO); the shim's ends when its socket is gone. */
struct reuse_arg {
	int fd;
	ssize_t r;
	char buf[16];
};

static void *reuse_reader(void *p)
{
	struct reuse_arg *a = p;

	a->r = recv(a->fd, a->buf, sizeof(a->buf), 0);
	return NULL;
}

static void test_recv_fd_reused(void **state)
{
	struct timeval tv = { 1, 0 };
	struct reuse_arg a = { .fd = dial(P_SILENT) };
	struct pollfd p = { .fd = dial(P_HELLO), .events = POLLIN };
	pthread_t th;
	char buf[8];

	(void)state;
	assert_int_equal(poll(&p, 1, 5000), 1); /* (the greeting is in) */
	assert_int_equal(setsockopt(a.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(pthread_create(&th, NULL, reuse_reader, &a), 0);
	usleep(200000);
	assert_int_equal(dup2(p.fd, a.fd), a.fd);
	pthread_join(th, NULL);
	trace("recv on a descriptor replaced meanwhile: the new connection's data %d",
	      a.r > 0 && !memcmp(a.buf, "hello", 5));
	assert_true(a.r < 0);
	read_n(a.fd, buf, 6);
	assert_memory_equal(buf, "hello\n", 6);
	close(a.fd);
	close(p.fd);
}

static void test_epoll_modes(void **state)
{
	int fd = dial(P_ECHO), ep = epoll_create1(0), pfd[2];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 }, got[4];
	int n1, n2, n3, n4;
	char buf[8];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	errno = 0;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), -1);
	trace("second ADD: %s", ename(errno));
	assert_int_equal(errno, EEXIST);
	ev.data.u32 = 2;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev), 0);
	assert_int_equal(epoll_wait(ep, got, 4, 100), 0);
	assert_int_equal(send(fd, "ab", 2, 0), 2);
	assert_int_equal(write(pfd[1], "p", 1), 1);
	usleep(100000);
	n1 = epoll_wait(ep, got, 4, 1000); /* level: both */
	n2 = epoll_wait(ep, got, 4, 0);    /* still both */
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET, .data.u32 = 1 };
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_DEL, pfd[0], NULL), 0);
	n3 = epoll_wait(ep, got, 4, 0);    /* edge: once */
	n4 = epoll_wait(ep, got, 4, 0);    /* then not */
	trace("epoll level %d %d, edge %d %d", n1, n2, n3, n4);
	assert_int_equal(n1, 2);
	assert_int_equal(n2, 2);
	assert_int_equal(n3, 1);
	assert_int_equal(n4, 0);
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLONESHOT, .data.u32 = 1 };
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
	n1 = epoll_wait(ep, got, 4, 0);
	n2 = epoll_wait(ep, got, 4, 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
	n3 = epoll_wait(ep, got, 4, 0);
	trace("oneshot %d %d, re-armed %d", n1, n2, n3);
	assert_int_equal(n1, 1);
	assert_int_equal(n2, 0);
	assert_int_equal(n3, 1);
	read_n(fd, buf, 2);
	errno = 0;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_DEL, pfd[0], NULL), -1);
	trace("DEL of a non-member: %s", ename(errno));
	assert_int_equal(errno, ENOENT);
	close(pfd[0]);
	close(pfd[1]);
	close(ep);
	close(fd);
}

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* Waits (zero timeout, in a loop, as a busy event loop does) until the
 * member with data.u32 == want is reported; microseconds it took, or -1
 * after a second. */
static long long until_reported(int ep, uint32_t want)
{
	struct epoll_event got[4];
	long long t0 = mono_us();

	while (mono_us() - t0 < 1000000) {
		int n = epoll_wait(ep, got, 4, 0);

		for (int i = 0; i < n; i++)
			if (got[i].data.u32 == want)
				return mono_us() - t0;
	}
	return -1;
}

/* One epoll set, a socket and a pipe, each kept ready (level-triggered,
 * never drained) while the other becomes ready: neither starves the
 * other. (The shim asks the kernel about a mixed set's kernel members
 * less often while its bypass members keep it busy: sockets/opts.h.) */
static void test_epoll_no_starvation(void **state)
{
	int fd = dial(P_ECHO), ep = epoll_create1(0), pfd[2];
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	long long pipe_us, sock_us;
	char c;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	ev.data.u32 = 2;
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev), 0);
	assert_int_equal(send(fd, "x", 1, 0), 1);
	assert_true(until_reported(ep, 1) >= 0); /* the echo: ready from now on */
	for (int i = 0; i < 1000; i++)             /* busy on the socket alone */
		assert_true(epoll_wait(ep, (struct epoll_event[4]){ 0 }, 4, 0) >= 1);
	assert_int_equal(write(pfd[1], "p", 1), 1);
	pipe_us = until_reported(ep, 2);
	read_n(fd, &c, 1);                          /* the pipe stays ready... */
	assert_int_equal(send(fd, "y", 1, 0), 1);   /* ...while the socket gets data */
	sock_us = until_reported(ep, 1);
	trace("busy socket, then the pipe: reported %s; busy pipe, then the socket: %s",
	      pipe_us >= 0 && pipe_us < 10000 ? "within 10 ms" : "late",
	      sock_us >= 0 && sock_us < 100000 ? "within 100 ms" : "late");
	assert_true(pipe_us >= 0 && pipe_us < 10000);
	assert_true(sock_us >= 0 && sock_us < 100000);
	close(pfd[0]);
	close(pfd[1]);
	close(ep);
	close(fd);
}

static void test_poll_select(void **state)
{
	int fd = dial(P_HELLO), pfd[2], n;
	struct pollfd p[2];
	fd_set r;
	struct timeval tv = { 5, 0 };
	char buf[16];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	n = poll(p, 2, 5000);
	trace("poll: %d, socket %#x, pipe %#x", n, p[0].revents & POLLIN, p[1].revents);
	assert_int_equal(n, 1);
	FD_ZERO(&r);
	FD_SET(fd, &r);
	FD_SET(pfd[0], &r);
	n = select((fd > pfd[0] ? fd : pfd[0]) + 1, &r, NULL, NULL, &tv);
	trace("select: %d, socket %d, pipe %d", n, FD_ISSET(fd, &r), FD_ISSET(pfd[0], &r));
	assert_int_equal(n, 1);
	assert_true(FD_ISSET(fd, &r));
	read_n(fd, buf, 6);
	assert_memory_equal(buf, "hello\n", 6);
	close(pfd[0]);
	close(pfd[1]);
	close(fd);
}

/* A listener bound to the wildcard; the peer connects back to it. */
static void test_listen_accept(void **state)
{
	struct sockaddr_in any = addr_of("0.0.0.0", 0), me, from;
	socklen_t ml = sizeof(me), fl = sizeof(from);
	int l = tcp(0), ctl = dial(P_CONTROL), c, one = 1, r;
	char cmd[64], buf[8];

	(void)state;
	assert_int_equal(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(bind(l, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&me, &ml), 0);
	assert_true(ntohs(me.sin_port) > 0);
	assert_int_equal(listen(l, 16), 0);
	fcntl(l, F_SETFL, O_NONBLOCK);
	errno = 0;
	c = accept4(l, NULL, NULL, 0);
	trace("accept with none waiting: %d %s", c, ename(errno));
	assert_int_equal(errno, EAGAIN);
	fcntl(l, F_SETFL, 0);
	snprintf(cmd, sizeof(cmd), "CONNECT %d\n", ntohs(me.sin_port));
	assert_int_equal(write(ctl, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	c = accept4(l, (struct sockaddr *)&from, &fl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(c >= 0);
	trace("accept4: family %d len %d nonblock %d cloexec %d", from.sin_family, (int)fl,
	      !!(fcntl(c, F_GETFL) & O_NONBLOCK), !!(fcntl(c, F_GETFD) & FD_CLOEXEC));
	assert_true(fcntl(c, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	fcntl(c, F_SETFL, 0);
	read_n(c, buf, 2);
	assert_memory_equal(buf, "hi", 2);
	assert_int_equal(read(c, buf, sizeof(buf)), 0);
	read_n(ctl, buf, 3);
	errno = 0;
	r = accept4(l, NULL, NULL, 0x40000000);
	trace("accept flags 0x40000000: %d %s", r, ename(errno));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	r = accept(c, NULL, NULL);
	trace("accept on a connected socket: %d %s", r, ename(errno));
	assert_int_equal(errno, EINVAL);
	close(c);
	close(ctl);
	close(l);
}

/* Two listeners on one port with SO_REUSEPORT (the wildcard, so both
 * listen on both paths under the shim): both listen, the peer's 16
 * connections all arrive, spread over the two (by a hash of the peer's
 * port, on Linux and in the stack alike); a third socket without the
 * option cannot join. */
static void test_reuseport(void **state)
{
	struct sockaddr_in any = addr_of("0.0.0.0", 7600);
	int l[3], ctl = dial(P_CONTROL), one = 1, n[2] = { 0, 0 }, r;
	char buf[8];

	(void)state;
	for (int i = 0; i < 3; i++) {
		l[i] = tcp(0);
		if (i < 2)
			assert_int_equal(setsockopt(l[i], SOL_SOCKET, SO_REUSEPORT, &one,
						    sizeof(one)), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(bind(l[i], (struct sockaddr *)&any, sizeof(any)), 0);
		assert_int_equal(listen(l[i], 32), 0);
	}
	errno = 0;
	r = bind(l[2], (struct sockaddr *)&any, sizeof(any));
	trace("reuseport: two listen; a third without it: bind %d %s", r, ename(errno));
	assert_int_equal(errno, EADDRINUSE);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(write(ctl, "CONNECT 7600\n", 13), 13);
		read_n(ctl, buf, 3);
	}
	for (int got = 0; got < 16;) {
		struct pollfd p[2] = { { .fd = l[0], .events = POLLIN },
				       { .fd = l[1], .events = POLLIN } };

		assert_true(poll(p, 2, 5000) > 0);
		for (int i = 0; i < 2; i++) {
			int c;

			if (!(p[i].revents & POLLIN) || (c = accept(l[i], NULL, NULL)) < 0)
				continue;
			read_n(c, buf, 2);
			assert_memory_equal(buf, "hi", 2);
			close(c);
			n[i]++;
			got++;
		}
	}
	trace("reuseport: 16 connections, each listener had some: %d", n[0] > 0 && n[1] > 0);
	assert_true(n[0] > 0 && n[1] > 0);
	for (int i = 0; i < 3; i++)
		close(l[i]);
	close(ctl);
}

static void test_dup_and_options(void **state)
{
	int fd = dial(P_ECHO), d, d2 = 100, v = 0, r;
	socklen_t vl = sizeof(v);
	char buf[4];

	(void)state;
	d = dup(fd);
	assert_true(d >= 0);
	assert_int_equal(dup2(fd, d2), d2);
	close(fd);
	assert_int_equal(write(d, "dup", 3), 3);
	read_n(d2, buf, 3);
	assert_memory_equal(buf, "dup", 3);
	v = 1;
	assert_int_equal(setsockopt(d, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)), 0);
	v = 0;
	assert_int_equal(getsockopt(d2, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
	trace("TCP_NODELAY through a dup: %d", !!v);
	assert_int_equal(v, 1);
	vl = sizeof(v);
	assert_int_equal(getsockopt(d, SOL_SOCKET, SO_TYPE, &v, &vl), 0);
	trace("SO_TYPE %d", v);
	errno = 0;
	v = 1;
	r = setsockopt(d, 9999, 1, &v, sizeof(v));
	trace("bad level: %d %s", r, ename(errno));
	close(d);
	assert_int_equal(write(d2, "ok", 2), 2);
	read_n(d2, buf, 2);
	close(d2);
	errno = 0;
	r = (int)write(d2, "x", 1);
	trace("write on a closed fd: %d %s", r, ename(errno));
	assert_int_equal(errno, EBADF);
}

static void test_unconnected(void **state)
{
	int fd = tcp(0);
	char buf[4];
	ssize_t r;

	(void)state;
	errno = 0;
	r = recv(fd, buf, 4, 0);
	trace("recv unconnected: %zd %s", r, ename(errno));
	assert_int_equal(errno, ENOTCONN);
	errno = 0;
	r = shutdown(fd, SHUT_RDWR);
	trace("shutdown unconnected: %zd %s", r, ename(errno));
	assert_int_equal(errno, ENOTCONN);
	close(fd);
}


/* ---- bad pointers: the kernel's EFAULT, never a SIGSEGV ---------------- */

/* Two pages, the second with no access: "bad" points into it, "edge" at
 * the last 16 bytes before it. */
static char *two_pages;
#define PG 4096
#define BAD ((void *)(two_pages + PG))
#define EDGE (two_pages + PG - 16)

static void map_pages(void)
{
	if (!two_pages) {
		two_pages = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(two_pages != MAP_FAILED);
		assert_int_equal(mprotect(two_pages + PG, PG, PROT_NONE), 0);
	}
	memset(two_pages, 'g', PG);
}

static void tr(const char *what, long r)
{
	trace("bad pointer: %s: %ld %s", what, r, ename(r < 0 ? errno : 0));
}

#define TRY(what, call) \
	do { errno = 0; long _r = (long)(call); tr(what, _r); } while (0)

/* Waits until fd has n bytes to read (the echo came back whole). (The
 * waits are polls: under the shim a wait runs the thread's stack.) */
static void until_readable(int fd, int n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int have = -1;

	for (int i = 0; i < 300 && have < n; i++) {
		assert_int_equal(ioctl(fd, FIONREAD, &have), 0);
		if (have < n)
			poll(&p, 1, 10), usleep(have > 0 ? 10000 : 0);
	}
	assert_int_equal(have, n);
}

static void test_efault_send(void **state)
{
	int fd = dial(P_ECHO);
	struct iovec bad_v[2] = { { two_pages, 8 }, { BAD, 8 } }, one = { BAD, 16 };
	struct msghdr m = { .msg_iov = &one, .msg_iovlen = 1 };
	char buf[64];

	(void)state;
	map_pages();
	TRY("send bad", send(fd, BAD, 16, 0));
	TRY("write bad", write(fd, BAD, 16));
	TRY("send NULL", send(fd, NULL, 16, 0));
	TRY("sendto bad", sendto(fd, BAD, 16, 0, NULL, 0));
	TRY("sendmsg bad iov_base", sendmsg(fd, &m, 0));
	TRY("sendmsg bad msghdr", sendmsg(fd, BAD, 0));
	m.msg_iov = BAD;
	TRY("sendmsg bad msg_iov", sendmsg(fd, &m, 0));
	TRY("writev bad iov", writev(fd, BAD, 2));
	TRY("writev second vector bad", writev(fd, bad_v, 2));
	TRY("send 32 of which 16 good", send(fd, EDGE, 32, 0));
	TRY("send SIZE_MAX", send(fd, EDGE, SIZE_MAX, 0));
	struct sockaddr_in a = addr_of(peer, P_ECHO);
	TRY("sendto bad address", sendto(fd, "x", 1, 0, BAD, sizeof(a)));
	TRY("sendto address too long", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, 200));
	m = (struct msghdr){ .msg_iov = &one, .msg_iovlen = 1, .msg_name = BAD,
			     .msg_namelen = sizeof(a) };
	one = (struct iovec){ "y", 1 };
	TRY("sendmsg bad msg_name", sendmsg(fd, &m, 0));
	m = (struct msghdr){ .msg_iov = &one, .msg_iovlen = 1, .msg_control = BAD,
			     .msg_controllen = 32 };
	TRY("sendmsg bad msg_control", sendmsg(fd, &m, 0));
	m = (struct msghdr){ .msg_iov = &one, .msg_iovlen = 2000 };
	TRY("sendmsg 2000 vectors", sendmsg(fd, &m, 0));
	/* nothing of those went: the next bytes echoed are these */
	assert_int_equal(send(fd, "ok", 2, 0), 2);
	read_n(fd, buf, 2);
	trace("bad pointer: after the bad sends the echo is '%.2s'", buf);
	assert_memory_equal(buf, "ok", 2);
	close(fd);
}

static void test_efault_recv(void **state)
{
	int fd = dial(P_ECHO);
	static char big[8192], got[8192];
	struct iovec one = { BAD, 16 }, two[2] = { { got, 1 }, { BAD, 16 } };
	struct msghdr m = { .msg_iov = &one, .msg_iovlen = 1 };
	struct sockaddr_in from;
	long r;

	(void)state;
	map_pages();
	assert_int_equal(send(fd, "abc", 3, 0), 3);
	until_readable(fd, 3);
	TRY("recv bad", recv(fd, BAD, 16, 0));
	TRY("read bad", read(fd, BAD, 16));
	TRY("recv NULL", recv(fd, NULL, 16, 0));
	TRY("recvmsg bad iov_base", recvmsg(fd, &m, 0));
	TRY("recvmsg bad msghdr", recvmsg(fd, BAD, 0));
	m.msg_iov = BAD;
	TRY("recvmsg bad msg_iov", recvmsg(fd, &m, 0));
	TRY("readv bad iov", readv(fd, BAD, 2));
	TRY("recvfrom bad", recvfrom(fd, BAD, 16, 0, NULL, NULL));
	TRY("ioctl FIONREAD bad", ioctl(fd, FIONREAD, BAD));
	TRY("ioctl FIONREAD NULL", ioctl(fd, FIONREAD, NULL));
	/* the first vector fills, the second faults: what was copied */
	TRY("readv second vector bad", readv(fd, two, 2));
	trace("bad pointer: readv's first vector got '%c'", got[0]);
	TRY("recv what is left", recv(fd, got, sizeof(got), 0));
	trace("bad pointer: the data kept: '%.3s'", got);
	assert_memory_equal(got, "abc", 3);
	/* 8192 bytes sent at once come back as one segment on Linux: a
	 * buffer whose second half faults takes none of them, and loses none */
	memset(big, 'z', sizeof(big));
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	until_readable(fd, sizeof(big));
	TRY("recv 8192 into a half-bad buffer", recv(fd, two_pages, 2 * PG, 0));
	r = recv(fd, got, sizeof(got), MSG_WAITALL);
	trace("bad pointer: then a good recv gets %ld", r);
	assert_int_equal(r, (long)sizeof(got));
	/* recvfrom's address length is written after the data is taken:
	 * a bad one loses the data (Linux's __sys_recvfrom) */
	assert_int_equal(send(fd, "de", 2, 0), 2);
	until_readable(fd, 2);
	TRY("recvfrom NULL addrlen", recvfrom(fd, got, 2, 0, (struct sockaddr *)&from, NULL));
	TRY("recv after it", recv(fd, got, 2, MSG_DONTWAIT));
	/* with nothing to read: a buffer outside user space is refused before
	 * anything (access_ok), one inside it is not looked at */
	TRY("recv into kernel space, nothing to read",
	    recv(fd, (void *)0xffff800000000000ull, 16, MSG_DONTWAIT));
	TRY("recv across the top of user space", recv(fd, (void *)0x7ffffffff000ull, 16,
						      MSG_DONTWAIT));
	TRY("recv wrapping around", recv(fd, (void *)~(uintptr_t)7, 16, MSG_DONTWAIT));
	TRY("recv into the unmapped page, nothing to read", recv(fd, BAD, 16, MSG_DONTWAIT));
	TRY("recv NULL 0", recv(fd, NULL, 0, MSG_DONTWAIT));
	TRY("send 0 from kernel space", send(fd, (void *)0xffff800000000000ull, 0, 0));
	TRY("recv SIZE_MAX into a good buffer", recv(fd, got, SIZE_MAX, MSG_DONTWAIT));
	close(fd);
}

static void test_efault_options_names(void **state)
{
	int fd = dial(P_ECHO), v = 7, one = 1;
	socklen_t vl = 0;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	(void)state;
	map_pages();
	TRY("getsockopt SO_ERROR len 0", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &vl));
	trace("bad pointer: ... value %d len %d", v, (int)vl);
	TRY("getsockopt SO_ERROR NULL len", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, NULL));
	vl = sizeof(v);
	TRY("getsockopt SO_ERROR NULL value", getsockopt(fd, SOL_SOCKET, SO_ERROR, NULL, &vl));
	vl = sizeof(v);
	TRY("getsockopt SO_ERROR bad value", getsockopt(fd, SOL_SOCKET, SO_ERROR, BAD, &vl));
	vl = 2;
	v = -1;
	TRY("getsockopt SO_ERROR len 2", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &vl));
	trace("bad pointer: ... value %#x len %d", v, (int)vl);
	vl = sizeof(v);
	TRY("getsockopt TCP_NODELAY bad value", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, BAD, &vl));
	TRY("getsockopt TCP_NODELAY bad len", getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, BAD));
	TRY("setsockopt bad value", setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, BAD, sizeof(one)));
	TRY("setsockopt NULL value", setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, NULL, sizeof(one)));
	TRY("getsockname bad addr", getsockname(fd, BAD, &al));
	TRY("getsockname bad len", getsockname(fd, (struct sockaddr *)&a, BAD));
	al = 0;
	TRY("getsockname NULL addr len 0", getsockname(fd, NULL, &al));
	trace("bad pointer: ... len %d", (int)al);
	al = sizeof(a);
	TRY("getpeername bad addr", getpeername(fd, BAD, &al));
	TRY("getpeername NULL len", getpeername(fd, (struct sockaddr *)&a, NULL));
	al = 4;
	memset(&a, 0, sizeof(a));
	TRY("getpeername len 4", getpeername(fd, (struct sockaddr *)&a, &al));
	trace("bad pointer: ... family %d port %d len %d", a.sin_family, ntohs(a.sin_port),
	      (int)al);
	close(fd);
	fd = tcp(0);
	TRY("connect bad address", connect(fd, BAD, sizeof(a)));
	TRY("connect NULL address", connect(fd, NULL, sizeof(a)));
	TRY("bind bad address", bind(fd, BAD, sizeof(a)));
	close(fd);
	/* the descriptor limit, which the shim answers itself */
	TRY("getrlimit NOFILE bad", getrlimit(RLIMIT_NOFILE, BAD));
	TRY("setrlimit NOFILE bad", setrlimit(RLIMIT_NOFILE, BAD));
	TRY("prlimit NOFILE bad old", prlimit(0, RLIMIT_NOFILE, NULL, BAD));
}

static void test_efault_accept(void **state)
{
	struct sockaddr_in any = addr_of("0.0.0.0", 0), me, from;
	socklen_t ml = sizeof(me), fl = sizeof(from);
	int l = tcp(0), ctl = dial(P_CONTROL), c;
	char cmd[64], buf[8];

	(void)state;
	map_pages();
	assert_int_equal(bind(l, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&me, &ml), 0);
	assert_int_equal(listen(l, 16), 0);
	snprintf(cmd, sizeof(cmd), "CONNECT %d\n", ntohs(me.sin_port));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write(ctl, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
		read_n(ctl, buf, 3);
	}
	/* Linux takes the connection, cannot write the address, and closes
	 * it: EFAULT, and the next accept has the next connection */
	TRY("accept bad addr", accept(l, BAD, &fl));
	TRY("accept NULL addrlen", accept(l, (struct sockaddr *)&from, NULL));
	c = accept(l, (struct sockaddr *)&from, &fl);
	trace("bad pointer: the third accept: %d, family %d", c >= 0, from.sin_family);
	assert_true(c >= 0);
	read_n(c, buf, 2);
	assert_memory_equal(buf, "hi", 2);
	close(c);
	close(ctl);
	close(l);
}

static struct pollfd *volatile nothing; /* NULL, out of the compiler's sight */

static void test_efault_waits(void **state)
{
	int fd = dial(P_ECHO), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { 0, 0 };
	sigset_t mask;
	fd_set r;

	(void)state;
	map_pages();
	sigemptyset(&mask);
	TRY("epoll_ctl ADD bad event", epoll_ctl(ep, EPOLL_CTL_ADD, fd, BAD));
	TRY("epoll_ctl ADD NULL event", epoll_ctl(ep, EPOLL_CTL_ADD, fd, NULL));
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	TRY("epoll_ctl MOD bad event", epoll_ctl(ep, EPOLL_CTL_MOD, fd, BAD));
	TRY("epoll_wait bad events, none ready", epoll_wait(ep, BAD, 4, 0));
	TRY("poll NULL 1", poll(nothing, 1, 0));
	TRY("poll bad", poll(BAD, 1, 0));
	TRY("ppoll bad mask", ppoll(&p, 1, &ts, BAD));
	FD_ZERO(&r);
	FD_SET(fd, &r);
	TRY("select bad set", select(fd + 1, BAD, NULL, NULL, &(struct timeval){ 0, 0 }));
	TRY("pselect bad mask", pselect(fd + 1, &r, NULL, NULL, &ts, BAD));
	TRY("epoll_pwait bad mask", epoll_pwait(ep, &ev, 1, 0, BAD));
	TRY("epoll_pwait2 bad timeout", epoll_pwait2(ep, &ev, 1, BAD, &mask));
	assert_int_equal(send(fd, "r", 1, 0), 1);
	until_readable(fd, 1);
	TRY("epoll_wait bad events, one ready", epoll_wait(ep, BAD, 4, 1000));
	TRY("epoll_wait events at the edge", epoll_wait(ep, (struct epoll_event *)(BAD) - 1, 4, 1000));
	TRY("epoll_wait after", epoll_wait(ep, &ev, 1, 1000));
	TRY("poll read-only good", poll(&p, 1, 1000));
	close(ep);
	close(fd);
}

/* ---- the program's own SIGSEGV handling, as without the shim ----------- */

static sigjmp_buf segv_jb;
static volatile sig_atomic_t segv_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	segv_code = si->si_code;
	siglongjmp(segv_jb, 1);
}

/* Removes the core files a child left in dir, and dir. */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* A child that faults with disposition how (0 default, 1 SIG_IGN) dies of
 * SIGSEGV with a core; one that raises SIGSEGV under SIG_IGN lives. With
 * SIGSEGV blocked, a fault kills all the same, and a raised one waits
 * until it is unblocked. */
static void child_fault(int how, int use_raise, int blocked)
{
	char dir[] = "/tmp/sockdiff-core-XXXXXX";
	struct rlimit rl = { 1 << 22, 1 << 22 };
	int st;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int f = open("/proc/self/coredump_filter", O_WRONLY);

		if (f >= 0) { /* a small core: no memory, headers only */
			if (write(f, "0", 1) < 0)
				_exit(3);
			close(f);
		}
		setrlimit(RLIMIT_CORE, &rl);
		if (chdir(dir) < 0)
			_exit(3);
		sigset_t segv;

		sigemptyset(&segv);
		sigaddset(&segv, SIGSEGV);
		if (how == 1)
			signal(SIGSEGV, SIG_IGN);
		if (blocked)
			sigprocmask(SIG_BLOCK, &segv, NULL);
		if (use_raise)
			raise(SIGSEGV);
		else
			*(volatile char *)BAD = 1;
		if (blocked) {
			printf("T own SIGSEGV: a raised one waits while blocked\n");
			fflush(stdout);
			sigprocmask(SIG_UNBLOCK, &segv, NULL);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	trace("own SIGSEGV: %s%s%s: %s %d core %d", how ? "SIG_IGN" : "SIG_DFL",
	      blocked ? ", blocked" : "", use_raise ? ", raise" : ", fault",
	      WIFSIGNALED(st) ? "signal" : "exit",
	      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
	      WIFSIGNALED(st) && WCOREDUMP(st));
	rm_dir(dir);
}

static void test_own_sigsegv(void **state)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO }, old;
	int fd = dial(P_ECHO);

	(void)state;
	map_pages();
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
	trace("own SIGSEGV: the disposition before: %s",
	      old.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
	assert_int_equal(sigaction(SIGSEGV, NULL, &old), 0);
	trace("own SIGSEGV: reads back its handler %d siginfo %d",
	      old.sa_sigaction == on_segv, !!(old.sa_flags & SA_SIGINFO));
	/* a bad pointer in a call is the call's EFAULT, not the handler's */
	segv_code = 0;
	TRY("send bad with a handler", send(fd, BAD, 16, 0));
	trace("own SIGSEGV: handler ran %d", segv_code != 0);
	/* its own faults are its handler's */
	if (!sigsetjmp(segv_jb, 1))
		*(volatile char *)BAD = 1;
	trace("own SIGSEGV: its own fault reached its handler, code %d", (int)segv_code);
	assert_int_equal(segv_code, SEGV_ACCERR);
	segv_code = 0;
	if (!sigsetjmp(segv_jb, 1))
		raise(SIGSEGV);
	trace("own SIGSEGV: raise reached its handler, code %d", (int)segv_code);
	assert_int_equal(segv_code, SI_TKILL);
	assert_int_equal(sigaction(SIGSEGV, NULL, &old), 0);
	assert_true(old.sa_sigaction == on_segv);
	/* SA_RESETHAND: the handler once, then the default again */
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
	segv_code = 0;
	if (!sigsetjmp(segv_jb, 1))
		*(volatile char *)BAD = 1;
	assert_int_equal(sigaction(SIGSEGV, NULL, &old), 0);
	trace("own SIGSEGV: SA_RESETHAND: handler ran %d, then SIG_DFL %d", segv_code != 0,
	      old.sa_handler == SIG_DFL);
	assert_true(old.sa_handler == SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	/* a bad pointer with SIGSEGV blocked: EFAULT still (no signal on
	 * Linux), and the mask reads back as the program set it */
	sigset_t segv, now;

	sigemptyset(&segv);
	sigaddset(&segv, SIGSEGV);
	assert_int_equal(sigprocmask(SIG_BLOCK, &segv, NULL), 0);
	TRY("send bad with SIGSEGV blocked", send(fd, BAD, 16, 0));
	assert_int_equal(send(fd, "z", 1, 0), 1);
	until_readable(fd, 1);
	TRY("recv bad with SIGSEGV blocked", recv(fd, BAD, 16, MSG_DONTWAIT));
	sigemptyset(&now);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &now), 0);
	trace("own SIGSEGV: blocked reads back %d", sigismember(&now, SIGSEGV));
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &segv, &now), 0);
	trace("own SIGSEGV: the old mask had it %d", sigismember(&now, SIGSEGV));
	close(fd);
	child_fault(0, 0, 0);
	child_fault(0, 1, 0);
	child_fault(1, 0, 0);
	child_fault(1, 1, 0);
	child_fault(0, 0, 1);
	child_fault(0, 1, 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_and_names),
		cmocka_unit_test(test_nonblocking_connect),
		cmocka_unit_test(test_epoll_before_connect),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_echo_peek_fionread),
		cmocka_unit_test(test_nonblock_flags),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_shutdown_and_eof),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_full_send_buffer),
		cmocka_unit_test(test_socket_timeouts),
		cmocka_unit_test(test_recv_fd_reused),
		cmocka_unit_test(test_epoll_modes),
		cmocka_unit_test(test_epoll_no_starvation),
		cmocka_unit_test(test_poll_select),
		cmocka_unit_test(test_listen_accept),
		cmocka_unit_test(test_reuseport),
		cmocka_unit_test(test_dup_and_options),
		cmocka_unit_test(test_unconnected),
		cmocka_unit_test(test_efault_send),
		cmocka_unit_test(test_efault_recv),
		cmocka_unit_test(test_efault_options_names),
		cmocka_unit_test(test_efault_accept),
		cmocka_unit_test(test_efault_waits),
		cmocka_unit_test(test_own_sigsegv),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: sockdiff PEER_IP\n");
		return 2;
	}
	peer = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
