/*
 * callmix.c - every call libaccel interposes, held to the kernel's contract.
 *
 * Prints one line per case: its name, the call's result, errno's name when
 * it failed, and what the result means where the number itself changes
 * from run to run. The integration test runs it on the kernel and under
 * the shim (disabled, passing through, with a live port) and requires the
 * outputs to be identical. So nothing printed may depend on the run: no
 * pids, no ports, and no descriptor numbers except those the call itself
 * names (dup2's target), since the shim's own descriptors shift the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h> /* dirname */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The fortified names a program built with _FORTIFY_SOURCE calls; the
 * headers declare them only in such builds, so they are declared here. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
			      int flags, struct sockaddr *addr, socklen_t *len);
extern ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
extern int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
extern int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
		       const sigset_t *mask, size_t fdslen);

/* Opened and closed at start: a stale number, far above anything the
 * program or the shim opens, so nothing reuses it. */
#define CLOSED_FD 900

/* ---- output ------------------------------------------------------------- */

static void report(const char *name, long r, const char *extra)
{
	printf("%-28s r=%ld errno=%s %s\n", name, r,
	       r < 0 ? strerrorname_np(errno) : "-", extra ? extra : "");
}

/* A new descriptor's number depends on what else is open, so only that it
 * is one is printed. */
static void report_fd(const char *name, int fd, const char *extra)
{
	if (fd < 0)
		report(name, fd, extra);
	else
		printf("%-28s r=fd errno=- %s\n", name, extra ? extra : "");
}

/* Byte-exact: exactly the bytes sent came back. */
static const char *got(const char *buf, long r, const char *want)
{
	return r == (long)strlen(want) && !memcmp(buf, want, (size_t)r) ?
	       "data-ok" : "DATA-MISMATCH";
}

/* Setting a case up is not a case: if it fails, stop. */
static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "callmix: setup failed: %s: %s\n", what,
			strerror(errno));
		exit(2);
	}
}

/*
 * The helpers below describe a result after the call and before it is
 * printed, so they keep errno as the call left it.
 */
static const char *fd_flags(int fd, char *out, size_t len)
{
	int e = errno;

	if (fd < 0)
		return "";
	snprintf(out, len, "nonblock=%d cloexec=%d",
		 (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
		 (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	errno = e;
	return out;
}

static int same_file(int a, int b)
{
	struct stat x, y;
	int e = errno, same = fstat(a, &x) == 0 && fstat(b, &y) == 0 &&
			      x.st_dev == y.st_dev && x.st_ino == y.st_ino;

	errno = e;
	return same;
}

static const char *mode_of(int fd, char *out, size_t len)
{
	struct stat st;
	int e = errno;

	if (fstat(fd, &st) < 0)
		snprintf(out, len, "NO-STAT");
	else
		snprintf(out, len, "mode=%o size=%lld", st.st_mode & 0777,
			 (long long)st.st_size);
	errno = e;
	return out;
}

/* ---- the watchdog ------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A call the kernel answers at once must not block under the shim. If it
 * does, the alarm cuts it short and EINTR shows in the diff instead of the
 * test hanging. The handler has no SA_RESTART, so the shim must report the
 * interruption rather than wait again.
 */
static void watch(int on)
{
	struct itimerval it = { .it_value = { on ? 1 : 0, 0 } };
	int e = errno;

	setitimer(ITIMER_REAL, &it, NULL);
	errno = e;
}

static long watched_result(long r)
{
	watch(0);
	return r;
}

#define WATCHED(call) (watch(1), watched_result((long)(call)))

/* ---- fixtures ----------------------------------------------------------- */

static void loopback(struct sockaddr_in *a, unsigned short port)
{
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port) };
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int tcp_socket(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	need(s >= 0, "socket");
	return s;
}

static unsigned short port_of(int fd, int peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int e = errno, r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
				  getsockname(fd, (struct sockaddr *)&a, &len);

	errno = e;
	return r < 0 ? 0 : ntohs(a.sin_port);
}

/* Listening on 127.0.0.1 at a port the kernel picks, left in *a. */
static int tcp_listener(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int s = tcp_socket();

	loopback(a, 0);
	need(bind(s, (struct sockaddr *)a, sizeof(*a)) == 0, "bind");
	need(listen(s, 8) == 0, "listen");
	need(getsockname(s, (struct sockaddr *)a, &len) == 0, "getsockname");
	return s;
}

static void tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in a;
	int l = tcp_listener(&a);

	*cli = tcp_socket();
	need(connect(*cli, (struct sockaddr *)&a, sizeof(a)) == 0, "connect");
	*srv = accept(l, NULL, NULL);
	need(*srv >= 0, "accept");
	close(l);
}

/* A port nothing listens on: bound once by us, then let go. */
static unsigned short free_port(void)
{
	struct sockaddr_in a;
	int s = tcp_socket();
	unsigned short port;

	loopback(&a, 0);
	need(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0, "bind");
	port = port_of(s, 0);
	close(s);
	return port;
}

static int udp_bound(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	need(s >= 0, "socket");
	loopback(a, 0);
	need(bind(s, (struct sockaddr *)a, sizeof(*a)) == 0, "bind");
	need(getsockname(s, (struct sockaddr *)a, &len) == 0, "getsockname");
	return s;
}

/* Waits until fd has something to read, so a non-blocking look that
 * follows sees it. */
static void await_input(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	need(poll(&p, 1, 5000) == 1, "poll");
}

/* ---- sockets ------------------------------------------------------------ */

static void check_socket(void)
{
	static const struct {
		const char *name;
		int domain, type, proto;
	} cases[] = {
		{ "socket-inet-stream", AF_INET, SOCK_STREAM, 0 },
		{ "socket-inet-dgram", AF_INET, SOCK_DGRAM, 0 },
		{ "socket-inet6-stream", AF_INET6, SOCK_STREAM, 0 },
		{ "socket-unix-stream", AF_UNIX, SOCK_STREAM, 0 },
		{ "socket-unix-dgram", AF_UNIX, SOCK_DGRAM, 0 },
		{ "socket-bad-domain", 4242, SOCK_STREAM, 0 },
		{ "socket-bad-type", AF_INET, 4242, 0 },
		{ "socket-stream-udp-proto", AF_INET, SOCK_STREAM, IPPROTO_UDP },
	};
	char x[64];
	int fd;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = socket(cases[i].domain, cases[i].type, cases[i].proto);
		report_fd(cases[i].name, fd, NULL);
		if (fd >= 0)
			close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	report_fd("socket-nonblock-cloexec", fd, fd_flags(fd, x, sizeof(x)));
	close(fd);
}

static void check_socketpair(void)
{
	char buf[8];
	int sv[2], r;
	long n;

	r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	need(r == 0, "socketpair");
	need(write(sv[0], "pair", 4) == 4, "write");
	n = read(sv[1], buf, sizeof(buf));
	report("socketpair-unix-stream", r, got(buf, n, "pair"));
	close(sv[0]);
	close(sv[1]);
	report("socketpair-inet", socketpair(AF_INET, SOCK_STREAM, 0, sv), NULL);
}

static void check_bind_listen(void)
{
	struct sockaddr_in a;
	int s = tcp_socket(), t = tcp_socket(), u;

	loopback(&a, 0);
	report("bind-loopback-port0", bind(s, (struct sockaddr *)&a, sizeof(a)), NULL);
	report("bind-twice", bind(s, (struct sockaddr *)&a, sizeof(a)), NULL);
	report("bind-short-addrlen", bind(t, (struct sockaddr *)&a, 4), NULL);
	loopback(&a, port_of(s, 0));
	report("bind-port-in-use", bind(t, (struct sockaddr *)&a, sizeof(a)), NULL);
	report("listen", listen(s, 8), NULL);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	report("listen-on-dgram", listen(u, 8), NULL);
	close(u);
	close(t);
	close(s);
}

static void check_accept(void)
{
	struct sockaddr_in la, peer;
	socklen_t len = sizeof(peer);
	int l = tcp_listener(&la), c1 = tcp_socket(), c2 = tcp_socket(), a;
	char x[96], f[32];

	fcntl(l, F_SETFL, O_NONBLOCK);
	report_fd("accept-nonblocking-empty", accept(l, NULL, NULL), NULL);
	report("connect-blocking", connect(c1, (struct sockaddr *)&la, sizeof(la)), NULL);
	await_input(l); /* the handshake's last ACK may still be on its way */
	a = accept4(l, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	snprintf(x, sizeof(x), "%s addrlen=%u peer-port==client-port:%d",
		 fd_flags(a, f, sizeof(f)), len, ntohs(peer.sin_port) == port_of(c1, 0));
	report_fd("accept4-nonblock-cloexec", a, x);
	close(a);
	fcntl(l, F_SETFL, 0);
	need(connect(c2, (struct sockaddr *)&la, sizeof(la)) == 0, "connect");
	a = accept(l, NULL, NULL);
	report_fd("accept-blocking-pending", a, fd_flags(a, f, sizeof(f)));
	report_fd("accept4-bad-flags", WATCHED(accept4(l, NULL, NULL, 0x4242)), NULL);
	/* c2's peer is still open, so c2 has nothing to read either */
	report_fd("accept-on-connected", WATCHED(accept(c2, NULL, NULL)), NULL);
	close(a);
	close(c2);
	close(c1);
	close(l);
}

/* A non-blocking connect finishes later: poll says when, SO_ERROR how. */
static void connect_later(const char *name, const struct sockaddr_in *to)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1, r;
	struct pollfd p = { .fd = s, .events = POLLOUT };
	socklen_t len = sizeof(err);
	char x[64];

	need(s >= 0, "socket");
	report(name, connect(s, (const struct sockaddr *)to, sizeof(*to)), NULL);
	r = poll(&p, 1, 5000);
	snprintf(x, sizeof(x), "revents=%#x", p.revents);
	report("  then-poll", r, x);
	r = getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
	report("  then-so-error", r, err ? strerrorname_np(err) : "0");
	report("  then-connect-again", connect(s, (const struct sockaddr *)to,
						sizeof(*to)), NULL);
	close(s);
}

static void check_connect(void)
{
	struct sockaddr_in la, closed;
	int l = tcp_listener(&la), s = tcp_socket();

	loopback(&closed, free_port());
	report("connect-refused", connect(s, (struct sockaddr *)&closed, sizeof(closed)), NULL);
	close(s);
	connect_later("connect-nonblocking", &la);
	connect_later("connect-nonblocking-refused", &closed);
	close(l);
}

/* ---- reading and writing a TCP connection ------------------------------- */

static void check_send_recv(int c, int s)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[32];
	long n;

	report("send", send(c, "send-data", 9, 0), NULL);
	n = recv(s, buf, sizeof(buf), 0);
	report("recv", n, got(buf, n, "send-data"));
	report("sendto-connected", sendto(c, "sendto-data", 11, 0, NULL, 0), NULL);
	n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	report("recvfrom", n, got(buf, n, "sendto-data"));
	report("write", write(c, "write-data", 10), NULL);
	n = read(s, buf, sizeof(buf));
	report("read", n, got(buf, n, "write-data"));
}

static void check_vectors(int c, int s)
{
	struct iovec out[2] = { { "vec", 3 }, { "tor-data", 8 } };
	char buf[32];
	struct iovec in[2] = { { buf, 4 }, { buf + 4, sizeof(buf) - 4 } };
	struct msghdr m = { .msg_iov = out, .msg_iovlen = 2 };
	long n;

	report("writev", writev(c, out, 2), NULL);
	n = readv(s, in, 2);
	report("readv", n, got(buf, n, "vector-data"));
	report("sendmsg", sendmsg(c, &m, 0), NULL);
	m = (struct msghdr){ .msg_iov = in, .msg_iovlen = 2 };
	n = recvmsg(s, &m, 0);
	report("recvmsg", n, got(buf, n, "vector-data"));
}

static void check_peek_dontwait(int c, int s)
{
	char buf[32], x[32];
	int avail = -1;
	long n;

	need(send(c, "peek-data", 9, 0) == 9, "send");
	await_input(s);
	n = recv(s, buf, sizeof(buf), MSG_PEEK);
	report("recv-peek", n, got(buf, n, "peek-data"));
	n = ioctl(s, FIONREAD, &avail);
	snprintf(x, sizeof(x), "bytes=%d", avail);
	report("ioctl-fionread", n, x);
	n = recv(s, buf, sizeof(buf), 0);
	report("recv-after-peek", n, got(buf, n, "peek-data"));
	report("recv-dontwait-empty", recv(s, buf, sizeof(buf), MSG_DONTWAIT), NULL);
}

static void check_shutdown(void)
{
	char buf[8];
	int c, s, u = tcp_socket();
	long n;

	tcp_pair(&c, &s);
	report("shutdown-wr", shutdown(c, SHUT_WR), NULL);
	report("read-after-peer-shutdown", WATCHED(read(s, buf, sizeof(buf))), NULL);
	report("send-after-shutdown-wr", send(c, "x", 1, MSG_NOSIGNAL), NULL);
	need(send(s, "half", 4, 0) == 4, "send");
	n = recv(c, buf, sizeof(buf), 0);
	report("recv-half-closed", n, got(buf, n, "half"));
	report("shutdown-bad-how", shutdown(c, 7), NULL);
	report("shutdown-unconnected", shutdown(u, SHUT_RDWR), NULL);
	close(u);
	close(s);
	close(c);
}

/*
 * Reads the kernel answers at once, without waiting for data: a zero
 * length, a descriptor that can never have data, a flag that never waits.
 * The shim waits before some reads; it must not wait before these.
 */
static void check_never_blocks(void)
{
	struct sockaddr_in la;
	struct timeval tv = { 0, 50000 };
	struct iovec v = { NULL, 0 };
	volatile int bad_count = -1; /* volatile: the compiler rejects a literal */
	char buf[8];
	int c, s, p[2], l = tcp_listener(&la);

	tcp_pair(&c, &s);
	need(pipe(p) == 0, "pipe");
	report("read-zero-len-socket", WATCHED(read(s, buf, 0)), NULL);
	report("readv-zero-len-socket", WATCHED(readv(s, &v, 1)), NULL);
	report("read-zero-len-pipe", WATCHED(read(p[0], buf, 0)), NULL);
	report("read-on-listener", WATCHED(read(l, buf, sizeof(buf))), NULL);
	report("recv-on-listener", WATCHED(recv(l, buf, sizeof(buf), 0)), NULL);
	report("readv-bad-iovcnt", WATCHED(readv(s, &v, bad_count)), NULL);
	report("recv-errqueue-empty", WATCHED(recv(s, buf, sizeof(buf), MSG_ERRQUEUE)), NULL);
	report("recv-oob-none", WATCHED(recv(s, buf, 1, MSG_OOB)), NULL);
	report("recv-on-pipe", WATCHED(recv(p[0], buf, 1, 0)), NULL);
	report_fd("accept-on-pipe", WATCHED(accept(p[0], NULL, NULL)), NULL);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	report("read-rcvtimeo-expires", WATCHED(read(s, buf, sizeof(buf))), NULL);
	close(p[0]);
	close(p[1]);
	close(s);
	close(c);
	close(l);
}

/* ---- reads that do wait ------------------------------------------------- */

/* What a second thread does 50 ms from now, while the main one waits. */
struct late {
	int fd;
	const char *data;              /* sent on fd; or if NULL, */
	const struct sockaddr_in *to;  /* connected fd to this */
};

static void *act_late(void *arg)
{
	struct late *l = arg;

	usleep(50000);
	if (l->data)
		(void)!send(l->fd, l->data, strlen(l->data), 0);
	else
		(void)!connect(l->fd, (const struct sockaddr *)l->to, sizeof(*l->to));
	return NULL;
}

static pthread_t later(struct late *l)
{
	pthread_t th;

	need(pthread_create(&th, NULL, act_late, l) == 0, "pthread_create");
	return th;
}

/*
 * Calls that wait for input still to come. Under the shim with a port they
 * wait in the shim, and must still return what the kernel's own wait
 * would: all of it, where a low-water mark or MSG_WAITALL asks for more
 * than has come so far.
 */
static void check_waits(void)
{
	struct sockaddr_in la;
	struct late w;
	pthread_t th;
	char buf[16];
	int c, s, l = tcp_listener(&la), lowat = 8;
	long n;

	tcp_pair(&c, &s);
	w = (struct late){ c, "late", NULL };
	th = later(&w);
	n = WATCHED(read(s, buf, sizeof(buf)));
	pthread_join(th, NULL);
	report("read-waits-for-data", n, got(buf, n, "late"));
	need(send(c, "half", 4, 0) == 4, "send");
	w.data = "more";
	th = later(&w);
	n = WATCHED(recv(s, buf, 8, MSG_WAITALL));
	pthread_join(th, NULL);
	report("recv-waitall", n, got(buf, n, "halfmore"));
	need(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat)) == 0 &&
	     send(c, "low-", 4, 0) == 4, "SO_RCVLOWAT");
	w.data = "mark";
	th = later(&w);
	n = WATCHED(read(s, buf, sizeof(buf)));
	pthread_join(th, NULL);
	report("read-rcvlowat", n, got(buf, n, "low-mark"));
	close(s);
	close(c);
	w = (struct late){ tcp_socket(), NULL, &la };
	th = later(&w);
	s = (int)WATCHED(accept(l, NULL, NULL));
	pthread_join(th, NULL);
	report_fd("accept-waits-for-connect", s, NULL);
	close(s);
	close(w.fd);
	close(l);
}

static void check_stream(void)
{
	int c, s;

	tcp_pair(&c, &s);
	check_send_recv(c, s);
	check_vectors(c, s);
	check_peek_dontwait(c, s);
	close(s);
	close(c);
	check_shutdown();
	check_never_blocks();
	check_waits();
}

/* ---- UDP and the many-message calls ------------------------------------- */

static const char *const dgrams[] = { "one", "three", "seventh" };

static void check_mmsg(void)
{
	struct sockaddr_in ra, sa, from;
	int r = udp_bound(&ra), s = udp_bound(&sa);
	struct mmsghdr mm[3];
	struct iovec iv[3];
	char bufs[3][16], x[64];
	socklen_t len = sizeof(from);
	int ok;
	long n;

	need(connect(s, (struct sockaddr *)&ra, sizeof(ra)) == 0, "connect");
	for (int i = 0; i < 3; i++) {
		iv[i] = (struct iovec){ (void *)dgrams[i], strlen(dgrams[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iv[i], .msg_iovlen = 1 } };
	}
	report("sendmmsg-udp", sendmmsg(s, mm, 3, 0), NULL);
	for (int i = 0; i < 3; i++) {
		iv[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iv[i], .msg_iovlen = 1 } };
	}
	/* Without MSG_WAITFORONE it waits for all three, however they come. */
	n = WATCHED(recvmmsg(r, mm, 3, 0, NULL));
	ok = n == 3;
	for (int i = 0; i < 3 && ok; i++)
		ok &= !strcmp(got(bufs[i], mm[i].msg_len, dgrams[i]), "data-ok");
	snprintf(x, sizeof(x), "lens=%u,%u,%u %s", mm[0].msg_len, mm[1].msg_len,
		 mm[2].msg_len, ok ? "data-ok" : "DATA-MISMATCH");
	report("recvmmsg-udp", n, x);
	report("recvmmsg-dontwait-empty", recvmmsg(r, mm, 3, MSG_DONTWAIT, NULL), NULL);
	close(s);
	s = udp_bound(&sa);
	report("sendto-udp", sendto(s, "dgram", 5, 0, (struct sockaddr *)&ra, sizeof(ra)), NULL);
	n = recvfrom(r, bufs[0], sizeof(bufs[0]), 0, (struct sockaddr *)&from, &len);
	snprintf(x, sizeof(x), "%s from-port==sender-port:%d", got(bufs[0], n, "dgram"),
		 from.sin_port == sa.sin_port);
	report("recvfrom-udp", n, x);
	close(s);
	close(r);
}

/* ---- sockets on the port's address -------------------------------------- */

/*
 * Under the shim with a port, TCP sockets bound to the port's address or
 * the wildcard are the stack's. The kernel runs have that address on lo;
 * the port run reaches it through the tap. Their peers are kernel sockets
 * made with raw syscalls, which the shim never sees: under the shim they
 * come through the tap as a remote client would.
 */
#define PORT_IP "10.88.0.2"

static void port_addr(struct sockaddr_in *a, const char *ip, unsigned short port)
{
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port) };
	need(inet_pton(AF_INET, ip, &a->sin_addr) == 1, "inet_pton");
}

/* Whether port is one the kernel hands out (ip_local_port_range). */
static int ephemeral(unsigned short port)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 0, hi = -1, e = errno;

	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			hi = -1;
		fclose(f);
	}
	errno = e;
	return port >= lo && port <= hi;
}

/* A kernel client connecting to `to`, without waiting: the stack answers
 * only while the program waits in the shim. Until the test addressed the
 * tap's kernel side there is no route: tried again for 5 s. */
static int kernel_client(const struct sockaddr_in *to)
{
	for (int i = 0; i < 100; i++) {
		int c = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), e;

		need(c >= 0, "raw socket");
		if (syscall(SYS_connect, c, to, sizeof(*to)) == 0 || errno == EINPROGRESS)
			return c;
		e = errno;
		syscall(SYS_close, c);
		need(e == ENETUNREACH || e == EHOSTUNREACH, "raw connect");
		usleep(50000);
	}
	need(0, "a route to " PORT_IP);
	return -1;
}

static void kernel_send(int c, const char *data)
{
	need(syscall(SYS_write, c, data, strlen(data)) == (long)strlen(data), "raw write");
}

/* Accepts kernel_client's connection, waiting for it in poll. */
static int accept_client(int l)
{
	struct pollfd p = { .fd = l, .events = POLLIN };

	if (poll(&p, 1, 5000) != 1)
		return -1;
	return accept(l, NULL, NULL);
}

/* A listener at an ephemeral port on its own: a kernel client reaches it
 * at the port's address. */
static void ephemeral_listener(const char *name, int l, int bound)
{
	struct sockaddr_in a, got;
	socklen_t len = sizeof(got);
	unsigned short port = port_of(l, 0);
	char x[64];
	int c, s, r = listen(l, 8);

	report(name, r, NULL);
	if (r < 0) { /* (no port to reach: the lines that follow would differ) */
		close(l);
		return;
	}
	if (getsockname(l, (struct sockaddr *)&got, &len) < 0)
		got.sin_port = 0;
	snprintf(x, sizeof(x), "ephemeral:%d %s", ephemeral(ntohs(got.sin_port)),
		 !bound ? "(never bound)" : port == ntohs(got.sin_port) ? "same-as-bind" :
		 "PORT-CHANGED");
	report("  then-getsockname", 0, x);
	port_addr(&a, PORT_IP, ntohs(got.sin_port));
	c = kernel_client(&a);
	s = accept_client(l);
	report_fd("  then-accept-client", s, NULL);
	close(s);
	syscall(SYS_close, c);
	close(l);
}

static void check_port_ephemeral(void)
{
	struct sockaddr_in a;
	char x[32];
	int l = tcp_socket();

	port_addr(&a, PORT_IP, 0);
	report("port-bind-port0", bind(l, (struct sockaddr *)&a, sizeof(a)), NULL);
	snprintf(x, sizeof(x), "ephemeral:%d", ephemeral(port_of(l, 0)));
	report("  then-port", 0, x);
	ephemeral_listener("  then-listen", l, 1);
	ephemeral_listener("port-listen-never-bound", tcp_socket(), 0);
	l = tcp_socket();
	port_addr(&a, "0.0.0.0", 0);
	report("port-bind-any-port0", bind(l, (struct sockaddr *)&a, sizeof(a)), NULL);
	ephemeral_listener("  then-listen", l, 1);
}

static int reuse_socket(int on)
{
	int s = tcp_socket();

	need(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0, "SO_REUSEADDR");
	return s;
}

static long bind_to(int s, const char *ip, unsigned short port)
{
	struct sockaddr_in a;

	port_addr(&a, ip, port);
	return bind(s, (struct sockaddr *)&a, sizeof(a));
}

/* Linux's bind rules on the port's address: once bound or connected,
 * EINVAL (after the address's own checks); a port in use, EADDRINUSE
 * unless SO_REUSEADDR on both and the holder does not listen. */
static void check_port_bind(int l, int s)
{
	unsigned short port = port_of(l, 0);
	int t[5];

	report("port-bind-twice", bind_to(l, PORT_IP, 0), NULL);
	report("port-bind-again-loopback", bind_to(l, "127.0.0.1", 0), NULL);
	report("port-bind-again-not-local", bind_to(l, "10.99.0.1", 0), NULL);
	report("port-bind-on-accepted", bind_to(s, PORT_IP, 0), NULL);
	report("port-bind-on-accepted-any", bind_to(s, "0.0.0.0", 0), NULL);
	report("port-bind-on-accepted-not-local", bind_to(s, "10.99.0.1", 0), NULL);
	t[0] = tcp_socket();
	report("port-bind-listener-port", bind_to(t[0], PORT_IP, port), NULL);
	report("port-bind-any-listener-port", bind_to(t[0], "0.0.0.0", port), NULL);
	t[1] = reuse_socket(1);
	t[2] = reuse_socket(1);
	t[3] = reuse_socket(0);
	t[4] = reuse_socket(1);
	report("port-bind-reuseaddr", bind_to(t[1], PORT_IP, 0), NULL);
	port = port_of(t[1], 0);
	report("port-bind-reuseaddr-both", bind_to(t[2], PORT_IP, port), NULL);
	report("port-bind-reuseaddr-one", bind_to(t[3], PORT_IP, port), NULL);
	report("  then-listen", listen(t[1], 8), NULL);
	report("port-bind-reuseaddr-listener", bind_to(t[4], PORT_IP, port), NULL);
	report("port-listen-second", listen(t[2], 8), NULL);
	for (int i = 0; i < 5; i++)
		close(t[i]);
}

/* MSG_OOB with no urgent data: EINVAL, and the data stays. */
static void check_port_oob(int l, int s, int c)
{
	char buf[16];
	long n;

	kernel_send(c, "oob-data");
	await_input(s);
	report("port-recv-oob-none", recv(s, buf, sizeof(buf), MSG_OOB), NULL);
	n = WATCHED(recv(s, buf, sizeof(buf), 0));
	report("  then-recv", n, got(buf, n, "oob-data"));
	report("port-recv-oob-listener", recv(l, buf, sizeof(buf), MSG_OOB), NULL);
}

/* Linux's EPOLLEXCLUSIVE rules (do_epoll_ctl). */
static void check_port_exclusive(int s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int ep = epoll_create1(0), ep2 = epoll_create1(0);

	need(ep >= 0 && ep2 >= 0, "epoll_create1");
	report("epoll-excl-add", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), NULL);
	ev.events = EPOLLIN;
	report("epoll-excl-mod", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), NULL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	report("epoll-excl-mod-with-flag", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), NULL);
	report("epoll-excl-del", epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), NULL);
	report("epoll-excl-mod-not-member", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev), NULL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
	report("epoll-excl-add-oneshot", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), NULL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP;
	report("epoll-excl-add-rdhup", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), NULL);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLERR | EPOLLHUP | EPOLLEXCLUSIVE;
	report("epoll-excl-add-allowed", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), NULL);
	ev.events = EPOLLIN;
	report("epoll-add-plain", epoll_ctl(ep2, EPOLL_CTL_ADD, s, &ev), NULL);
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	report("  then-mod-to-excl", epoll_ctl(ep2, EPOLL_CTL_MOD, s, &ev), NULL);
	report("epoll-excl-add-epoll-fd", epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev), NULL);
	close(ep2);
	close(ep);
}

/* ---- a blocking call cut short by a signal ------------------------------ */

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void set_usr1(int restart)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };

	sigemptyset(&sa.sa_mask);
	need(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
}

/* What a second thread does while the main one blocks: SIGUSR1 to it at
 * 50 ms, then at 150 ms data on fd (raw: a kernel client's) or a kernel
 * client's connect to `to`. */
struct poke {
	pthread_t target;
	int fd, raw;
	const char *data;
	const struct sockaddr_in *to;
	int client;
};

static void *act_poke(void *arg)
{
	struct poke *p = arg;

	usleep(50000);
	pthread_kill(p->target, SIGUSR1);
	usleep(100000);
	if (p->to)
		p->client = kernel_client(p->to);
	else if (p->raw)
		kernel_send(p->fd, p->data);
	else
		(void)!send(p->fd, p->data, strlen(p->data), 0);
	return NULL;
}

static pthread_t poke(struct poke *p)
{
	pthread_t th;

	p->target = pthread_self();
	need(pthread_create(&th, NULL, act_poke, p) == 0, "pthread_create");
	return th;
}

/* A blocking read on fd (peer: the other end, raw or not) with SIGUSR1
 * arriving first: restarted, or EINTR and then the data. */
static void interrupted_read(const char *name, int fd, int peer, int raw, int restart)
{
	struct poke p = { .fd = peer, .raw = raw, .data = "sig-data" };
	char buf[16], x[32];
	pthread_t th;
	long n;

	set_usr1(restart);
	usr1_seen = 0;
	th = poke(&p);
	n = WATCHED(read(fd, buf, sizeof(buf)));
	pthread_join(th, NULL);
	snprintf(x, sizeof(x), "%s handled:%d", n < 0 ? "" : got(buf, n, "sig-data"),
		 usr1_seen);
	report(name, n, x);
	if (n < 0) {
		n = WATCHED(read(fd, buf, sizeof(buf)));
		report("  then-read", n, got(buf, n, "sig-data"));
	}
}

/*
 * signal(7): with SA_RESTART on the handler of the signal that arrived,
 * read and accept are restarted, whatever other handlers (the watchdog's
 * SIGALRM has no SA_RESTART) say; without it, EINTR; with SO_RCVTIMEO on
 * the socket, EINTR even with it; epoll_wait is never restarted.
 */
static void check_port_restart(int l, int s, int c)
{
	struct timeval tv = { 2, 0 }, none = { 0, 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_in a;
	struct poke p;
	pthread_t th;
	char buf[16];
	int lc, ls, ep, r;

	interrupted_read("port-read-sa-restart", s, c, 1, 1);
	interrupted_read("port-read-no-sa-restart", s, c, 1, 0);
	need(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO");
	interrupted_read("port-read-rcvtimeo-sa-restart", s, c, 1, 1);
	need(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)) == 0, "SO_RCVTIMEO");
	tcp_pair(&lc, &ls);
	interrupted_read("read-sa-restart", ls, lc, 0, 1);
	interrupted_read("read-no-sa-restart", ls, lc, 0, 0);
	close(ls);
	close(lc);
	set_usr1(1);
	port_addr(&a, PORT_IP, port_of(l, 0));
	p = (struct poke){ .to = &a, .client = -1 };
	th = poke(&p);
	r = (int)WATCHED(accept(l, NULL, NULL));
	pthread_join(th, NULL);
	report_fd("port-accept-sa-restart", r, NULL);
	close(r);
	syscall(SYS_close, p.client);
	ep = epoll_create1(0);
	need(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "epoll");
	p = (struct poke){ .fd = c, .raw = 1, .data = "sig-data" };
	th = poke(&p);
	r = (int)WATCHED(epoll_wait(ep, &ev, 1, 900));
	pthread_join(th, NULL);
	report("port-epoll_wait-sa-restart", r, NULL);
	await_input(s);
	r = (int)read(s, buf, sizeof(buf));
	report("  then-read", r, got(buf, r, "sig-data"));
	close(ep);
	signal(SIGUSR1, SIG_DFL);
}

static void check_port(void)
{
	struct sockaddr_in a;
	int l = tcp_socket(), c, s;

	check_port_ephemeral();
	port_addr(&a, PORT_IP, free_port()); /* (not 0: that is a case above) */
	need(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 8) == 0, "listen");
	port_addr(&a, PORT_IP, port_of(l, 0));
	c = kernel_client(&a);
	s = accept_client(l);
	need(s >= 0, "accept");
	check_port_bind(l, s);
	check_port_oob(l, s, c);
	check_port_exclusive(s);
	check_port_restart(l, s, c);
	close(s);
	syscall(SYS_close, c);
	close(l);
}

/* ---- socket options and names ------------------------------------------- */

static void report_opt(const char *name, int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	char x[32];
	int r = getsockopt(fd, level, opt, &v, &len);

	snprintf(x, sizeof(x), "val=%d len=%u", v, len);
	report(name, r, x);
}

static void check_sockopt(void)
{
	int s = tcp_socket(), one = 1, v = 16384, r;
	socklen_t len = sizeof(v);

	report("setsockopt-rcvbuf", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)), NULL);
	r = getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &len);
	report("getsockopt-rcvbuf", r, v == 2 * 16384 ? "doubled" : "NOT-DOUBLED");
	report_opt("getsockopt-nodelay-default", s, IPPROTO_TCP, TCP_NODELAY);
	report("setsockopt-nodelay", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), NULL);
	report_opt("getsockopt-nodelay", s, IPPROTO_TCP, TCP_NODELAY);
	report("setsockopt-reuseaddr", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), NULL);
	report_opt("getsockopt-reuseaddr", s, SOL_SOCKET, SO_REUSEADDR);
	report_opt("getsockopt-type", s, SOL_SOCKET, SO_TYPE);
	report_opt("getsockopt-acceptconn", s, SOL_SOCKET, SO_ACCEPTCONN);
	report_opt("getsockopt-error", s, SOL_SOCKET, SO_ERROR);
	report("setsockopt-bad-level", setsockopt(s, 4242, 1, &one, sizeof(one)), NULL);
	report_opt("getsockopt-bad-level", s, 4242, 1);
	report("setsockopt-bad-optname", setsockopt(s, SOL_SOCKET, 4242, &one, sizeof(one)), NULL);
	report("setsockopt-short-optlen", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 1), NULL);
	len = (socklen_t)-1;
	report("getsockopt-negative-optlen", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), NULL);
	close(s);
}

static void report_name(const char *name, int fd, int peer, const char *relation)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
		       getsockname(fd, (struct sockaddr *)&a, &len);
	char x[96];

	snprintf(x, sizeof(x), "family=%d len=%u %s", a.ss_family, len,
		 relation ? relation : "");
	report(name, r, r < 0 ? NULL : x);
}

static void check_names(void)
{
	struct sockaddr_in la;
	socklen_t len = 4;
	int l = tcp_listener(&la), c = tcp_socket(), a, u, r;
	unsigned short lp = ntohs(la.sin_port);

	need(connect(c, (struct sockaddr *)&la, sizeof(la)) == 0, "connect");
	a = accept(l, NULL, NULL);
	need(a >= 0, "accept");
	report_name("getsockname-listener", l, 0, lp ? "port!=0" : "PORT-0");
	report_name("getpeername-client", c, 1,
		    port_of(c, 1) == lp ? "port==listener" : "PORT-OTHER");
	report_name("getsockname-accepted", a, 0,
		    port_of(a, 0) == lp ? "port==listener" : "PORT-OTHER");
	report_name("getpeername-accepted", a, 1,
		    port_of(a, 1) == port_of(c, 0) ? "port==client" : "PORT-OTHER");
	report_name("getpeername-listener", l, 1, NULL);
	r = getsockname(l, (struct sockaddr *)&la, &len);
	report("getsockname-short-len", r, len == sizeof(la) ? "len=16" : "LEN-OTHER");
	u = socket(AF_UNIX, SOCK_STREAM, 0);
	report_name("getsockname-unix-unbound", u, 0, NULL);
	close(u);
	u = socket(AF_INET6, SOCK_STREAM, 0);
	report_name("getsockname-inet6-unbound", u, 0, NULL);
	close(u);
	close(a);
	close(c);
	close(l);
}

/* ---- descriptors -------------------------------------------------------- */

static void check_fcntl(int file)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int s = tcp_socket(), d, p[2], r;
	char x[64], f[32];

	report("fcntl-getfl", fcntl(s, F_GETFL), NULL);
	report("fcntl-setfl-nonblock", fcntl(s, F_SETFL, O_NONBLOCK), NULL);
	report("fcntl-getfl-nonblock", fcntl(s, F_GETFL), NULL);
	report("fcntl-getfd", fcntl(s, F_GETFD), NULL);
	report("fcntl-setfd-cloexec", fcntl(s, F_SETFD, FD_CLOEXEC), NULL);
	report("fcntl-getfd-cloexec", fcntl(s, F_GETFD), NULL);
	d = fcntl(s, F_DUPFD, 100);
	snprintf(x, sizeof(x), "newfd>=100:%d same-inode:%d %s", d >= 100,
		 same_file(s, d), fd_flags(d, f, sizeof(f)));
	report_fd("fcntl-dupfd-min", d, x);
	close(d);
	d = fcntl(s, F_DUPFD_CLOEXEC, 100);
	snprintf(x, sizeof(x), "newfd>=100:%d %s", d >= 100, fd_flags(d, f, sizeof(f)));
	report_fd("fcntl-dupfd-cloexec", d, x);
	close(d);
	report("fcntl-dupfd-negative-min", fcntl(s, F_DUPFD, -1), NULL);
	report("fcntl-bad-cmd", fcntl(s, 4242), NULL);
	report("fcntl64-getfl", fcntl64(s, F_GETFL), NULL);
	r = fcntl(file, F_GETLK, &lk);
	report("fcntl-getlk", r, lk.l_type == F_UNLCK ? "unlocked" : "LOCKED");
	need(pipe(p) == 0, "pipe");
	report("fcntl-getpipe-sz", fcntl(p[0], F_GETPIPE_SZ), NULL);
	close(p[0]);
	close(p[1]);
	close(s);
}

static void check_ioctl(int file)
{
	int s = tcp_socket(), on = 1, off = 0, n = -1, r;
	char x[32];

	r = ioctl(s, FIONBIO, &on);
	report("ioctl-fionbio-on", r, fd_flags(s, x, sizeof(x)));
	r = ioctl(s, FIONBIO, &off);
	report("ioctl-fionbio-off", r, fd_flags(s, x, sizeof(x)));
	report("ioctl-bad-request", ioctl(s, 0x4242, &n), NULL);
	r = ioctl(file, FIONREAD, &n);
	snprintf(x, sizeof(x), "bytes=%d", n);
	report("ioctl-fionread-file", r, x);
	close(s);
}

static void check_dup(void)
{
	int s = tcp_socket(), d;
	char x[64], f[32];

	d = dup(s);
	report_fd("dup", d, same_file(s, d) ? "same-inode" : "OTHER-FILE");
	close(d);
	d = dup2(s, 901);
	report("dup2", d, same_file(s, 901) ? "same-inode" : "OTHER-FILE");
	close(901);
	d = dup2(s, s);
	report_fd("dup2-same-fd", d, d == s ? "newfd==oldfd" : "NEWFD-OTHER");
	report("dup2-bad-newfd", dup2(s, -1), NULL);
	report("dup3-same-fd", dup3(s, s, 0), NULL);
	d = dup3(s, 902, O_CLOEXEC);
	snprintf(x, sizeof(x), "same-inode:%d %s", same_file(s, 902), fd_flags(902, f, sizeof(f)));
	report("dup3-cloexec", d, x);
	close(902);
	report("dup3-bad-flags", dup3(s, 903, 0x4242), NULL);
	close(s);
}

/* How many of [lo, hi] are closed, and how many have close-on-exec. */
static const char *range_state(int lo, int hi, char *out, size_t len)
{
	int closed = 0, cloexec = 0, fl, e = errno;

	for (int fd = lo; fd <= hi; fd++) {
		fl = fcntl(fd, F_GETFD);
		closed += fl < 0 && errno == EBADF;
		cloexec += fl >= 0 && (fl & FD_CLOEXEC);
	}
	snprintf(out, len, "closed=%d/%d cloexec=%d/%d", closed, hi - lo + 1,
		 cloexec, hi - lo + 1);
	errno = e;
	return out;
}

static void check_close(void)
{
	int s = tcp_socket(), p[2], r;
	char x[64];

	report("close", close(s), NULL);
	report("close-twice", close(s), NULL);
	need(pipe(p) == 0, "pipe");
	for (int fd = 300; fd <= 303; fd++)
		need(dup2(p[0], fd) == fd, "dup2");
	r = close_range(300, 301, CLOSE_RANGE_CLOEXEC);
	report("close_range-cloexec", r, range_state(300, 303, x, sizeof(x)));
	r = close_range(300, 303, 0);
	report("close_range", r, range_state(300, 303, x, sizeof(x)));
	report("close_range-already-closed", close_range(300, 303, 0), NULL);
	report("close_range-lo-above-hi", close_range(303, 300, 0), NULL);
	report("close_range-bad-flags", close_range(300, 303, 0x4242), NULL);
	close(p[0]);
	close(p[1]);
}

/* ---- files -------------------------------------------------------------- */

static void check_positioned(int f)
{
	char buf[32];
	struct iovec out[2] = { { "abc", 3 }, { "def", 3 } }, gh = { "gh", 2 };
	struct iovec in[2] = { { buf, 5 }, { buf + 5, sizeof(buf) - 5 } };
	long n;

	report("pwrite", pwrite(f, "0123456789", 10, 0), NULL);
	n = pread(f, buf, 4, 3);
	report("pread", n, got(buf, n, "3456"));
	report("pwritev", pwritev(f, out, 2, 10), NULL);
	n = preadv(f, in, 2, 8);
	report("preadv", n, got(buf, n, "89abcdef"));
	report("pwritev2-dsync", pwritev2(f, &gh, 1, 16, RWF_DSYNC), NULL);
	n = preadv2(f, in, 2, 14, 0);
	report("preadv2", n, got(buf, n, "efgh"));
	report("preadv2-bad-flags", preadv2(f, in, 2, 0, 0x4242), NULL);
	report("pread-negative-offset", pread(f, buf, 4, -1), NULL);
	report("pread-past-eof", pread(f, buf, 4, 100), NULL);
	report("fsync", fsync(f), NULL);
	report("fdatasync", fdatasync(f), NULL);
}

/* The 64-bit names and the ones that use the file position (offset -1). */
static void check_positioned64(int f)
{
	char buf[32];
	struct iovec xy = { "XY", 2 }, in = { buf, 4 };
	long n;

	report("pwrite64", pwrite64(f, "WXYZ", 4, 18), NULL);
	n = pread64(f, buf, 4, 18);
	report("pread64", n, got(buf, n, "WXYZ"));
	report("pwritev64", pwritev64(f, &xy, 1, 22), NULL);
	n = preadv64(f, &in, 1, 20);
	report("preadv64", n, got(buf, n, "YZXY"));
	report("pwritev64v2", pwritev64v2(f, &xy, 1, 24, 0), NULL);
	n = preadv64v2(f, &in, 1, 22, 0);
	report("preadv64v2", n, got(buf, n, "XYXY"));
	/* temp_file's write left the position at 10 */
	report("pwritev2-at-file-position", pwritev2(f, &xy, 1, -1, 0), NULL);
	n = preadv2(f, &in, 1, -1, 0);
	report("preadv2-at-file-position", n, got(buf, n, "cdef"));
	n = pread(f, buf, 4, 10);
	report("  then-pread-10", n, got(buf, n, "XYcd"));
}

static void check_not_seekable(void)
{
	struct iovec v = { NULL, 0 };
	char buf[4];
	int p[2], s = tcp_socket();

	need(pipe(p) == 0, "pipe");
	report("pread-on-pipe", pread(p[0], buf, 1, 0), NULL);
	report("pwrite-on-pipe", pwrite(p[1], "x", 1, 0), NULL);
	report("preadv-on-pipe", preadv(p[0], &v, 1, 0), NULL);
	report("pwritev-on-pipe", pwritev(p[1], &v, 1, 0), NULL);
	report("fsync-on-pipe", fsync(p[1]), NULL);
	report("fdatasync-on-socket", fdatasync(s), NULL);
	close(s);
	close(p[0]);
	close(p[1]);
}

static void report_open(const char *name, int fd, int like)
{
	char x[64], m[32];

	snprintf(x, sizeof(x), "%s%s", mode_of(fd, m, sizeof(m)),
		 like >= 0 && same_file(fd, like) ? " same-inode" : "");
	report_fd(name, fd, fd >= 0 ? x : NULL);
	if (fd >= 0)
		close(fd);
}

/* path: an existing file (f open on it); scratch: a name free to create,
 * in the same directory. */
static void check_open(const char *path, int f, const char *scratch)
{
	char dir_of[64], base[64], new_base[80], missing[80];
	int dir;

	snprintf(dir_of, sizeof(dir_of), "%s", path);
	snprintf(base, sizeof(base), "%s", strrchr(path, '/') + 1);
	snprintf(new_base, sizeof(new_base), "%s", strrchr(scratch, '/') + 1);
	snprintf(missing, sizeof(missing), "%s.missing", path);
	dir = open(dirname(dir_of), O_RDONLY | O_DIRECTORY);
	need(dir >= 0, "open directory");
	report_open("open", open(path, O_RDONLY), f);
	report_open("open64", open64(path, O_RDONLY), f);
	report_open("open-excl-existing", open(path, O_CREAT | O_EXCL | O_WRONLY, 0600), -1);
	report_open("open-missing", open(missing, O_RDONLY), -1);
	report_open("open-dir-for-write", open("/tmp", O_WRONLY), -1);
	report_open("open-create", open(scratch, O_CREAT | O_EXCL | O_WRONLY, 0640), -1);
	unlink(scratch);
	report_open("open-tmpfile", open("/tmp", O_TMPFILE | O_RDWR, 0600), -1);
	report_open("openat-cwd", openat(AT_FDCWD, path, O_RDONLY), f);
	report_open("openat-dirfd", openat(dir, base, O_RDONLY), f);
	report_open("openat64-dirfd", openat64(dir, base, O_RDONLY), f);
	report_open("openat-create", openat(dir, new_base, O_CREAT | O_WRONLY, 0604), -1);
	unlink(scratch);
	report_open("openat-bad-dirfd", openat(-1, "callmix-rel", O_RDONLY), -1);
	report_open("openat-file-as-dirfd", openat(f, "callmix-rel", O_RDONLY), -1);
	close(dir);
}

static void check_creat(const char *scratch)
{
	int fd;

	unlink(scratch);
	report_open("creat", creat(scratch, 0600), -1);
	fd = open(scratch, O_WRONLY);
	need(fd >= 0 && write(fd, "abc", 3) == 3, "write");
	close(fd);
	report_open("creat-truncates", creat(scratch, 0600), -1);
	report_open("creat64", creat64(scratch, 0600), -1);
	unlink(scratch);
}

/* ---- descriptors that are not what the call needs ----------------------- */

struct scratch {
	char buf[16];
	struct iovec iov;
	struct msghdr msg;
	struct mmsghdr mm;
	struct sockaddr_in sin;
	socklen_t len;
	int val;
	struct epoll_event ev;
	struct pollfd pfd;
	int epfd;
};

typedef long (*fd_call)(int fd, struct scratch *a);

#define SA(a) ((struct sockaddr *)&(a)->sin)
static long c_bind(int fd, struct scratch *a) { return bind(fd, SA(a), sizeof(a->sin)); }
static long c_listen(int fd, struct scratch *a) { return listen(fd, 1); }
static long c_accept(int fd, struct scratch *a) { return accept(fd, NULL, NULL); }
static long c_accept4(int fd, struct scratch *a) { return accept4(fd, NULL, NULL, 0); }
static long c_connect(int fd, struct scratch *a) { return connect(fd, SA(a), sizeof(a->sin)); }
static long c_shutdown(int fd, struct scratch *a) { return shutdown(fd, SHUT_RDWR); }
static long c_getsockopt(int fd, struct scratch *a) { return getsockopt(fd, SOL_SOCKET, SO_TYPE, &a->val, &a->len); }
static long c_setsockopt(int fd, struct scratch *a) { return setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &a->val, sizeof(a->val)); }
static long c_getsockname(int fd, struct scratch *a) { return getsockname(fd, SA(a), &a->len); }
static long c_getpeername(int fd, struct scratch *a) { return getpeername(fd, SA(a), &a->len); }
static long c_recv(int fd, struct scratch *a) { return recv(fd, a->buf, sizeof(a->buf), 0); }
static long c_recvfrom(int fd, struct scratch *a) { return recvfrom(fd, a->buf, sizeof(a->buf), 0, SA(a), &a->len); }
static long c_recvmsg(int fd, struct scratch *a) { return recvmsg(fd, &a->msg, 0); }
static long c_recvmmsg(int fd, struct scratch *a) { return recvmmsg(fd, &a->mm, 1, 0, NULL); }
static long c_send(int fd, struct scratch *a) { return send(fd, a->buf, 1, MSG_NOSIGNAL); }
static long c_sendto(int fd, struct scratch *a) { return sendto(fd, a->buf, 1, MSG_NOSIGNAL, SA(a), sizeof(a->sin)); }
static long c_sendmsg(int fd, struct scratch *a) { return sendmsg(fd, &a->msg, MSG_NOSIGNAL); }
static long c_sendmmsg(int fd, struct scratch *a) { return sendmmsg(fd, &a->mm, 1, MSG_NOSIGNAL); }
static long c_recv_chk(int fd, struct scratch *a) { return __recv_chk(fd, a->buf, 4, sizeof(a->buf), 0); }
static long c_recvfrom_chk(int fd, struct scratch *a) { return __recvfrom_chk(fd, a->buf, 4, sizeof(a->buf), 0, NULL, NULL); }
static long c_read(int fd, struct scratch *a) { return read(fd, a->buf, sizeof(a->buf)); }
static long c_write(int fd, struct scratch *a) { return write(fd, a->buf, 1); }
static long c_readv(int fd, struct scratch *a) { return readv(fd, &a->iov, 1); }
static long c_writev(int fd, struct scratch *a) { return writev(fd, &a->iov, 1); }
static long c_pread(int fd, struct scratch *a) { return pread(fd, a->buf, 1, 0); }
static long c_pwrite(int fd, struct scratch *a) { return pwrite(fd, a->buf, 1, 0); }
static long c_preadv(int fd, struct scratch *a) { return preadv(fd, &a->iov, 1, 0); }
static long c_pwritev(int fd, struct scratch *a) { return pwritev(fd, &a->iov, 1, 0); }
static long c_preadv2(int fd, struct scratch *a) { return preadv2(fd, &a->iov, 1, 0, 0); }
static long c_pwritev2(int fd, struct scratch *a) { return pwritev2(fd, &a->iov, 1, 0, 0); }
static long c_fsync(int fd, struct scratch *a) { return fsync(fd); }
static long c_fdatasync(int fd, struct scratch *a) { return fdatasync(fd); }
static long c_fcntl(int fd, struct scratch *a) { return fcntl(fd, F_GETFL); }
static long c_fcntl64(int fd, struct scratch *a) { return fcntl64(fd, F_GETFD); }
static long c_ioctl(int fd, struct scratch *a) { return ioctl(fd, FIONREAD, &a->val); }
static long c_close(int fd, struct scratch *a) { return close(fd); }
static long c_dup(int fd, struct scratch *a) { return dup(fd); }
static long c_dup2(int fd, struct scratch *a) { return dup2(fd, 904); }
static long c_dup3(int fd, struct scratch *a) { return dup3(fd, 904, 0); }
static long c_openat(int fd, struct scratch *a) { return openat(fd, "callmix-rel", O_RDONLY); }
static long c_epoll_ctl(int fd, struct scratch *a) { return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &a->ev); }
static long c_epoll_wait(int fd, struct scratch *a) { return epoll_wait(fd, &a->ev, 1, 0); }
static long c_read_chk(int fd, struct scratch *a) { return __read_chk(fd, a->buf, 4, sizeof(a->buf)); }
static long c_pread_chk(int fd, struct scratch *a) { return __pread_chk(fd, a->buf, 4, 0, sizeof(a->buf)); }
static long c_pread64_chk(int fd, struct scratch *a) { return __pread64_chk(fd, a->buf, 4, 0, sizeof(a->buf)); }
#undef SA

/* sock: the call wants a socket, so a regular file gets ENOTSOCK. */
static const struct fd_case {
	const char *name;
	fd_call call;
	int sock;
} fd_cases[] = {
	{ "bind", c_bind, 1 }, { "listen", c_listen, 1 },
	{ "accept", c_accept, 1 }, { "accept4", c_accept4, 1 },
	{ "connect", c_connect, 1 }, { "shutdown", c_shutdown, 1 },
	{ "getsockopt", c_getsockopt, 1 }, { "setsockopt", c_setsockopt, 1 },
	{ "getsockname", c_getsockname, 1 }, { "getpeername", c_getpeername, 1 },
	{ "recv", c_recv, 1 }, { "recvfrom", c_recvfrom, 1 },
	{ "recvmsg", c_recvmsg, 1 }, { "recvmmsg", c_recvmmsg, 1 },
	{ "send", c_send, 1 }, { "sendto", c_sendto, 1 },
	{ "sendmsg", c_sendmsg, 1 }, { "sendmmsg", c_sendmmsg, 1 },
	{ "__recv_chk", c_recv_chk, 1 }, { "__recvfrom_chk", c_recvfrom_chk, 1 },
	{ "read", c_read, 0 }, { "write", c_write, 0 },
	{ "readv", c_readv, 0 }, { "writev", c_writev, 0 },
	{ "pread", c_pread, 0 }, { "pwrite", c_pwrite, 0 },
	{ "preadv", c_preadv, 0 }, { "pwritev", c_pwritev, 0 },
	{ "preadv2", c_preadv2, 0 }, { "pwritev2", c_pwritev2, 0 },
	{ "fsync", c_fsync, 0 }, { "fdatasync", c_fdatasync, 0 },
	{ "fcntl", c_fcntl, 0 }, { "fcntl64", c_fcntl64, 0 },
	{ "ioctl", c_ioctl, 0 }, { "dup", c_dup, 0 },
	{ "dup2", c_dup2, 0 }, { "dup3", c_dup3, 0 },
	{ "openat", c_openat, 0 }, { "epoll_ctl", c_epoll_ctl, 0 },
	{ "epoll_wait", c_epoll_wait, 0 }, { "__read_chk", c_read_chk, 0 },
	{ "__pread_chk", c_pread_chk, 0 }, { "__pread64_chk", c_pread64_chk, 0 },
	{ "close", c_close, 0 },
};

static void scratch_init(struct scratch *a)
{
	memset(a, 0, sizeof(*a));
	a->iov = (struct iovec){ a->buf, sizeof(a->buf) };
	a->msg = (struct msghdr){ .msg_iov = &a->iov, .msg_iovlen = 1 };
	a->mm.msg_hdr = a->msg;
	loopback(&a->sin, 9); /* never reached: the descriptor fails first */
	a->len = sizeof(a->sin);
	a->val = 1;
	a->ev.events = EPOLLIN;
}

static void check_bad_fds(int file)
{
	static const char *const kinds[] = { "-1", "closed", "file" };
	const int fds[] = { -1, CLOSED_FD, file };
	struct scratch a;
	char name[40];
	int ep = epoll_create1(0);

	need(ep >= 0, "epoll_create1");
	for (size_t i = 0; i < sizeof(fd_cases) / sizeof(fd_cases[0]); i++)
		for (int k = 0; k < 3; k++) {
			if (k == 2 && !fd_cases[i].sock)
				continue;
			scratch_init(&a);
			a.epfd = ep;
			snprintf(name, sizeof(name), "%s(%s)", fd_cases[i].name, kinds[k]);
			report(name, WATCHED(fd_cases[i].call(fds[k], &a)), NULL);
		}
	close(ep);
}

/* ---- fortified names, waiting calls, fork ------------------------------- */

static void check_fortified(int file)
{
	struct pollfd p;
	struct timespec ts = { 1, 0 };
	char buf[16];
	int c, s, r;
	long n;

	tcp_pair(&c, &s);
	need(send(c, "chk1", 4, 0) == 4, "send");
	n = __recv_chk(s, buf, 4, sizeof(buf), 0);
	report("__recv_chk", n, got(buf, n, "chk1"));
	need(send(c, "chk2", 4, 0) == 4, "send");
	n = __recvfrom_chk(s, buf, 4, sizeof(buf), 0, NULL, NULL);
	report("__recvfrom_chk", n, got(buf, n, "chk2"));
	need(send(c, "chk3", 4, 0) == 4, "send");
	n = __read_chk(s, buf, 4, sizeof(buf));
	report("__read_chk", n, got(buf, n, "chk3"));
	n = __pread64_chk(file, buf, 4, 4, sizeof(buf));
	report("__pread64_chk", n, got(buf, n, "4567"));
	n = __pread_chk(file, buf, 4, 4, sizeof(buf));
	report("__pread_chk", n, got(buf, n, "4567"));
	need(send(c, "chk4", 4, 0) == 4, "send");
	p = (struct pollfd){ .fd = s, .events = POLLIN };
	r = __poll_chk(&p, 1, 5000, sizeof(p));
	report("__poll_chk", r, p.revents == POLLIN ? "POLLIN" : "?");
	p.revents = 0;
	r = __ppoll_chk(&p, 1, &ts, NULL, sizeof(p));
	report("__ppoll_chk", r, p.revents == POLLIN ? "POLLIN" : "?");
	close(s);
	close(c);
}

/* One ready case per waiting call; waitmix covers their timing. */
static void check_waiting(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec zero = { 0, 0 };
	struct timeval tv = { 0, 0 };
	struct pollfd pf;
	fd_set rs;
	int p[2], ep;
	char f[32];

	need(pipe(p) == 0 && write(p[1], "w", 1) == 1, "pipe");
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };
	report("poll-ready", poll(&pf, 1, 0), NULL);
	report("ppoll-ready", ppoll(&pf, 1, &zero, NULL), NULL);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	report("select-ready", select(p[0] + 1, &rs, NULL, NULL, &tv), NULL);
	report("pselect-ready", pselect(p[0] + 1, &rs, NULL, NULL, &zero, NULL), NULL);
	report("epoll_create-zero", epoll_create(0), NULL);
	ep = epoll_create(1);
	report_fd("epoll_create", ep, NULL);
	close(ep);
	report("epoll_create1-bad-flags", epoll_create1(0x4242), NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	report_fd("epoll_create1-cloexec", ep, fd_flags(ep, f, sizeof(f)));
	report("epoll_ctl-add", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), NULL);
	report("epoll_ctl-add-again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), NULL);
	report("epoll_wait-ready", epoll_wait(ep, &out, 1, 0), NULL);
	report("epoll_pwait-ready", epoll_pwait(ep, &out, 1, 0, NULL), NULL);
	report("epoll_pwait2-ready", epoll_pwait2(ep, &out, 1, &zero, NULL), NULL);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static void check_fork(void)
{
	char buf[16], x[32];
	int p[2], st = -1;
	pid_t pid;
	long n;

	need(pipe(p) == 0, "pipe");
	fflush(stdout); /* or the child's exit writes our lines again */
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		exit(write(p[1], "from-child", 10) == 10 ? 0 : 1);
	}
	report("fork", pid > 0 ? 0 : pid, pid > 0 ? "parent" : NULL);
	close(p[1]);
	n = WATCHED(read(p[0], buf, sizeof(buf)));
	report("  then-read-from-child", n, got(buf, n, "from-child"));
	n = WATCHED(waitpid(pid, &st, 0));
	snprintf(x, sizeof(x), "%s %d", WIFEXITED(st) ? "exit-status" : "NOT-EXITED",
		 WEXITSTATUS(st));
	report("  then-waitpid", n == pid ? 0 : -1, x);
	close(p[0]);
}

/* ---- main --------------------------------------------------------------- */

static void set_alarm_handler(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

/* A temporary file holding "0123456789"; its name in path. */
static int temp_file(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/callmix.XXXXXX");
	fd = mkstemp(path);
	need(fd >= 0 && write(fd, "0123456789", 10) == 10, "mkstemp");
	return fd;
}

int main(void)
{
	/* An AF_INET socket starts the shim's port, as a server's would. */
	int s = socket(AF_INET, SOCK_STREAM, 0), f;
	char path[64], scratch[80];

	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	set_alarm_handler();
	need(s >= 0 && dup2(s, CLOSED_FD) == CLOSED_FD && close(CLOSED_FD) == 0,
	     "a stale descriptor");
	f = temp_file(path, sizeof(path));
	snprintf(scratch, sizeof(scratch), "%s.new", path);
	check_socket();
	check_socketpair();
	check_bind_listen();
	check_accept();
	check_connect();
	check_stream();
	check_mmsg();
	check_port();
	check_sockopt();
	check_names();
	check_fcntl(f);
	check_ioctl(f);
	check_dup();
	check_close();
	check_positioned(f);
	check_positioned64(f);
	check_not_seekable();
	check_open(path, f, scratch);
	check_creat(scratch);
	check_bad_fds(f);
	check_fortified(f);
	check_waiting();
	check_fork();
	unlink(path);
	close(f);
	close(s);
	return 0;
}
