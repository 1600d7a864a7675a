/*
 * test_waits.c - the socket layer's waiting calls through its public entry
 * points (what preload/interpose.c calls), on the in-memory device
 * (dev/net_mem.h), no DPDK: the process's port has two queues, so two
 * stacks; a peer stack of the test's own runs on the wire's other end in
 * a thread (an echo server, port 7, that can hold its answers back).
 *
 * What preload/ does around these calls is done here by hand: a kernel
 * socket as each bypass socket's placeholder, the epoll bookkeeping of
 * kernel members, and the signal wrapper's accel_sig_seq count (a handler
 * that ran is how a wait in its spin knows to return EINTR).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "../../common/real.h"
#include "../../common/sigasync.h"
#include "../../dev/net_mem.h"
#include "../../dev/netif.h"
#include "../../sockets/sockets.h"
#include "../../sockets/sockets_impl.h" /* (sk_proc->hooks: test_eintr_before_wait) */

#define HOST_IP 0x0a000001u /* 10.0.0.1: the socket layer's */
#define PEER_IP 0x0a000002u /* 10.0.0.2: the peer stack's */
#define ECHO_PORT 7
#define MS 1000000ll
/* A wait that must time out waits this long; one that must not may take
 * up to LATE (a loaded machine), and must not be cut short. */
#define WAIT_NS (10 * MS)
#define LATE_NS (900 * MS)
/* A wait that never ends fails the suite (SIGALRM's default action). */
#define WATCHDOG_S 20

static struct sk_net_conf conf = {
	.dev = &dev_net_mem,
	.queues = 2,
	.ip = HOST_IP,
	.prefix_len = 24,
	.idle_poll_ns = 1 * MS,
	.spin_ns = SK_SPIN_ADAPTIVE,
	.progress_ns = 2 * MS,
};

static struct sk_thread *me; /* the main thread's (stack 0) */

/* ---- the peer: an echo server on the wire's other end ------------------- */

#define PEER_CONNS 32

struct echo {
	struct stack_tcp *c;
	uint8_t buf[4096];
	size_t n;       /* bytes received, not yet echoed */
	uint64_t due;   /* when they go back */
};

static struct {
	pthread_t th;
	struct stack *st;
	struct dev_netq *q;
	struct stack_tcp *l;
	struct echo conn[PEER_CONNS];
	int stop;           /* (atomic) */
	int64_t delay_ns;   /* (atomic) answers held back this long */
	int dial;           /* (atomic) a port of ours to connect to, once */
} peer;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void peer_serve(struct echo *e, uint64_t now)
{
	long r;

	if (!e->c)
		return;
	while (e->n < sizeof(e->buf) &&
	       (r = stack_tcp_recv(e->c, e->buf + e->n, sizeof(e->buf) - e->n, 0)) > 0) {
		if (!e->n)
			e->due = now + (uint64_t)__atomic_load_n(&peer.delay_ns, __ATOMIC_RELAXED);
		e->n += (size_t)r;
	}
	if (e->n && now >= e->due && (r = stack_tcp_send(e->c, e->buf, e->n)) > 0) {
		memmove(e->buf, e->buf + r, e->n - (size_t)r);
		e->n -= (size_t)r;
	}
	if ((stack_tcp_events(e->c) & STACK_TCP_EV_RDHUP) && !e->n) {
		stack_tcp_close(e->c);
		e->c = NULL;
	}
}

static void *peer_main(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* (signals are for the waiters) */
	while (!__atomic_load_n(&peer.stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = dev_netq_wake_fd(peer.q), .events = POLLIN };
		struct stack_tcp *c;
		uint64_t now = now_ns();

		dev_netq_enter(peer.q);
		stack_poll(peer.st);
		int dial = __atomic_exchange_n(&peer.dial, 0, __ATOMIC_ACQ_REL);

		for (int i = 0; i < PEER_CONNS; i++)
			if (!peer.conn[i].c && stack_tcp_accept(peer.l, NULL, &c) == 0)
				peer.conn[i] = (struct echo){ .c = c };
		for (int i = 0; i < PEER_CONNS && dial; i++)
			if (!peer.conn[i].c &&
			    stack_tcp_connect(peer.st, HOST_IP, (uint16_t)dial, 0, NULL, &c) == 0) {
				peer.conn[i] = (struct echo){ .c = c };
				dial = 0;
			}
		for (int i = 0; i < PEER_CONNS; i++)
			peer_serve(&peer.conn[i], now);
		stack_flush(peer.st);
		dev_netq_wake_arm(peer.q);
		dev_netq_leave(peer.q);
		poll(&p, 1, 1);
		dev_netq_wake_ack(peer.q);
	}
	return NULL;
}

static void peer_start(void)
{
	static const uint8_t mac[] = DEV_MEM_PEER_MAC;
	struct stack_conf sc = { .ip = PEER_IP, .prefix_len = 24, .mtu = 1500 };
	static struct stack_ops ops;

	peer.q = dev_mem_peer();
	assert_non_null(peer.q);
	assert_int_equal(dev_netif_ops(&ops, NULL), 0);
	memcpy(sc.mac, mac, sizeof(sc.mac));
	sc.seed = now_ns();
	peer.st = stack_create(&sc, &ops, peer.q);
	assert_non_null(peer.st);
	assert_int_equal(stack_tcp_listen(peer.st, ECHO_PORT, 64, NULL, &peer.l), 0);
	assert_int_equal(pthread_create(&peer.th, NULL, peer_main, NULL), 0);
}

/* ---- what preload/ does around the calls -------------------------------- */

/* A bypass socket connected to the peer's echo port, blocking; -1 when
 * the connect failed (for threads other than cmocka's, which must not
 * assert). */
static int echo_try(struct sk_thread *t)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0); /* the placeholder */

	if (fd < 0 || sk_route(t, PEER_IP) != 1 || sk_connect(t, fd, PEER_IP, ECHO_PORT) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int echo_socket(struct sk_thread *t)
{
	int fd = echo_try(t);

	assert_true(fd >= 0);
	return fd;
}

/* Reads exactly strlen(want) bytes (blocking): 1 when they are want. */
static int sock_got(struct sk_thread *t, int fd, const char *want);

static void sock_close(struct sk_thread *t, int fd)
{
	sk_close(t, fd);
	close(fd);
}

static ssize_t sock_send(struct sk_thread *t, int fd, const char *s)
{
	struct iovec v = { .iov_base = (void *)s, .iov_len = strlen(s) };

	return sk_send(t, fd, &v, 1, 0);
}

static ssize_t sock_recv(struct sk_thread *t, int fd, char *buf, size_t len, int flags)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return sk_recv(t, fd, &v, 1, flags);
}

static int sock_got(struct sk_thread *t, int fd, const char *want)
{
	char buf[256];
	size_t n = 0, len = strlen(want);

	while (n < len) {
		ssize_t r = sock_recv(t, fd, buf + n, len - n, 0);

		if (r <= 0)
			return 0;
		n += (size_t)r;
	}
	return memcmp(buf, want, len) == 0;
}

static void sock_expect(struct sk_thread *t, int fd, const char *want)
{
	assert_true(sock_got(t, fd, want));
}

static int ep_create(struct sk_thread *t)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	assert_true(epfd >= 0);
	sk_epoll_created(t, epfd);
	return epfd;
}

static void ep_add_kernel(struct sk_thread *t, int epfd, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev), 0);
	sk_epoll_kernel_member(t, epfd, 1);
}

static void ep_close(struct sk_thread *t, int epfd)
{
	sk_epoll_closed(t, epfd);
	close(epfd);
}

static void ep_bypass(struct sk_thread *t, int epfd, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	assert_int_equal(sk_epoll_ctl(t, epfd, op, fd, &ev), 0);
}

/* The signal wrapper's count (preload/signals.c). */
static void on_signal(int sig)
{
	(void)sig;
	accel_sig_seq++;
}

/* A thread that signals (or writes a pipe for) the waiting thread after a
 * while. */
struct later {
	pthread_t th, target;
	int64_t after_ns;
	int fd;        /* >= 0: write a byte to it; else signal target */
};

static void *later_main(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { .tv_sec = l->after_ns / 1000000000, .tv_nsec = l->after_ns % 1000000000 };

	nanosleep(&ts, NULL);
	if (l->fd >= 0)
		assert_int_equal(write(l->fd, "k", 1), 1);
	else
		pthread_kill(l->target, SIGUSR1);
	return NULL;
}

static void later_start(struct later *l, int64_t after_ns, int fd)
{
	l->target = pthread_self();
	l->after_ns = after_ns;
	l->fd = fd;
	assert_int_equal(pthread_create(&l->th, NULL, later_main, l), 0);
}

static void later_join(struct later *l)
{
	pthread_join(l->th, NULL);
}

/* ---- set-up ------------------------------------------------------------- */

static int suite_setup(void **state)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* (no SA_RESTART) */
	struct rlimit rl;
	unsigned nfds;
	char why[160];

	(void)state;
	alarm(WATCHDOG_S);
	accel_real_resolve();
	sigaction(SIGUSR1, &sa, NULL);
	getrlimit(RLIMIT_NOFILE, &rl);
	nfds = (unsigned)(rl.rlim_cur < 65536 ? rl.rlim_cur : 65536);
	if (sk_fds_init(calloc(nfds, sizeof(struct sk_fd)), nfds) < 0 ||
	    sk_net_start(&conf, why, sizeof(why)) < 0)
		return -1;
	peer_start();
	me = sk_thread_create(&conf);
	return me ? 0 : -1;
}

static int suite_teardown(void **state)
{
	(void)state;
	sk_net_finish(); /* (the connections close with the peer still there) */
	__atomic_store_n(&peer.stop, 1, __ATOMIC_RELEASE);
	pthread_join(peer.th, NULL);
	sk_thread_destroy(me);
	sk_net_stop();
	return 0;
}

static int test_setup(void **state)
{
	(void)state;
	__atomic_store_n(&peer.delay_ns, 0, __ATOMIC_RELAXED);
	return 0;
}

/* Elapsed since t0 is at least WAIT_NS (less a clock tick), at most LATE. */
static void assert_waited(uint64_t t0, int64_t want)
{
	uint64_t d = now_ns() - t0;

	assert_true(d + 1 * MS >= (uint64_t)want);
	assert_true(d < (uint64_t)(want + LATE_NS));
}

/* ---- each call's timeout ------------------------------------------------ */

static void test_echo_works(void **state)
{
	int fd = echo_socket(me);

	(void)state;
	assert_int_equal(sock_send(me, fd, "hello"), 5);
	sock_expect(me, fd, "hello");
	sock_close(me, fd);
}

static void test_epoll_wait_timeout(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me);
	struct epoll_event ev[4];
	uint64_t t0;

	(void)state;
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
	t0 = now_ns();
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, 0, NULL), 0);
	assert_true(now_ns() - t0 < (uint64_t)LATE_NS);
	t0 = now_ns();
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL), 0);
	assert_waited(t0, WAIT_NS);
	ep_close(me, epfd);
	sock_close(me, fd);
}

static void test_poll_timeout(void **state)
{
	int fd = echo_socket(me);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t t0 = now_ns();

	(void)state;
	assert_int_equal(sk_poll(me, &p, 1, WAIT_NS, NULL), 0);
	assert_waited(t0, WAIT_NS);
	assert_int_equal(p.revents, 0);
	p.events = POLLOUT; /* (connected, room to send: at once) */
	assert_int_equal(sk_poll(me, &p, 1, WAIT_NS, NULL), 1);
	assert_int_equal(p.revents, POLLOUT);
	sock_close(me, fd);
}

static void test_select_timeout(void **state)
{
	int fd = echo_socket(me);
	fd_set r;
	uint64_t t0 = now_ns();

	(void)state;
	FD_ZERO(&r);
	FD_SET(fd, &r);
	assert_int_equal(sk_select(me, fd + 1, &r, NULL, NULL, WAIT_NS, NULL), 0);
	assert_waited(t0, WAIT_NS);
	assert_false(FD_ISSET(fd, &r)); /* (the kernel clears the sets on timeout) */
	sock_close(me, fd);
}

/* A blocking recv sleeps until the answer comes, held back by the peer. */
static void test_blocking_recv_waits(void **state)
{
	int fd = echo_socket(me);
	uint64_t t0;

	(void)state;
	__atomic_store_n(&peer.delay_ns, WAIT_NS, __ATOMIC_RELAXED);
	t0 = now_ns();
	assert_int_equal(sock_send(me, fd, "late"), 4);
	sock_expect(me, fd, "late");
	assert_waited(t0, WAIT_NS);
	sock_close(me, fd);
}

/* The waits wake for an answer that comes while they sleep. */
static void test_waits_wake_on_data(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct epoll_event ev[4];
	char buf[8];
	fd_set r;

	(void)state;
	__atomic_store_n(&peer.delay_ns, 5 * MS, __ATOMIC_RELAXED);
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
	assert_int_equal(sock_send(me, fd, "a"), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	assert_int_equal(ev[0].data.fd, fd);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	assert_int_equal(sock_send(me, fd, "b"), 1);
	assert_int_equal(sk_poll(me, &p, 1, SK_FOREVER, NULL), 1);
	assert_true(p.revents & POLLIN);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	assert_int_equal(sock_send(me, fd, "c"), 1);
	FD_ZERO(&r);
	FD_SET(fd, &r);
	assert_int_equal(sk_select(me, fd + 1, &r, NULL, NULL, SK_FOREVER, NULL), 1);
	assert_true(FD_ISSET(fd, &r));
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	ep_close(me, epfd);
	sock_close(me, fd);
}

/* ---- EINTR: a signal during each wait ----------------------------------- */

static void test_eintr(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct epoll_event ev[4];
	struct later l;
	char buf[8];
	fd_set r;

	(void)state;
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
	later_start(&l, 10 * MS, -1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), -EINTR);
	later_join(&l);
	later_start(&l, 10 * MS, -1);
	assert_int_equal(sk_poll(me, &p, 1, SK_FOREVER, NULL), -EINTR);
	later_join(&l);
	later_start(&l, 10 * MS, -1);
	FD_ZERO(&r);
	FD_SET(fd, &r);
	assert_int_equal(sk_select(me, fd + 1, &r, NULL, NULL, SK_FOREVER, NULL), -EINTR);
	later_join(&l);
	later_start(&l, 10 * MS, -1);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), -EINTR);
	later_join(&l);
	ep_close(me, epfd);
	sock_close(me, fd);
}

/*
 * A handler that ran in a blocking call before its wait (a system call of
 * the call's own, the stack's turn: the program's signals are open there)
 * ends it with EINTR too. Before, the wait took its signal count where it
 * began, and slept on: a Python server in accept that got SIGTERM just
 * then ran its C handler, which only marks the signal, and stayed blocked
 * until a connection came. The wait hook below runs such a handler just
 * before the wait; without the fix recv returns the late answer and
 * accept times out (SO_RCVTIMEO), instead of EINTR at once.
 */
static int (*real_wait_sock)(struct sk_thread *t, struct sk_stack *S, int fd, unsigned ev,
			     int kfd, int opt, struct sk_call *call);
static int handler_before; /* waits to run a handler before */

static int wait_sock_after_handler(struct sk_thread *t, struct sk_stack *S, int fd,
				   unsigned ev, int kfd, int opt, struct sk_call *call)
{
	if (handler_before > 0) {
		handler_before--;
		on_signal(SIGUSR1);
	}
	return real_wait_sock(t, S, fd, ev, kfd, opt, call);
}

static void test_eintr_before_wait(void **state)
{
	int fd = echo_socket(me), lfd = socket(AF_INET, SOCK_STREAM, 0), kernel = 0;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	char buf[8];
	uint64_t t0;

	(void)state;
	real_wait_sock = sk_proc->hooks.wait_sock;
	sk_proc->hooks.wait_sock = wait_sock_after_handler;
	__atomic_store_n(&peer.delay_ns, 300 * MS, __ATOMIC_RELAXED);
	assert_int_equal(sock_send(me, fd, "late"), 4);
	handler_before = 1;
	t0 = now_ns();
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), -EINTR);
	assert_true(now_ns() - t0 < 200 * MS);
	sock_expect(me, fd, "late"); /* (the next call waits for it) */
	assert_true(lfd >= 0);
	assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(sk_bind(me, lfd, HOST_IP, 5001, 0), 0);
	assert_int_equal(sk_listen(me, lfd, 8), 0);
	handler_before = 1;
	t0 = now_ns();
	assert_int_equal(sk_accept(me, lfd, NULL, NULL, 0, &kernel), -EINTR);
	assert_true(now_ns() - t0 < 200 * MS);
	assert_int_equal(sk_accept(me, lfd, NULL, NULL, 0, &kernel), -EAGAIN); /* (its timeout) */
	sk_proc->hooks.wait_sock = real_wait_sock;
	sock_close(me, lfd);
	sock_close(me, fd);
}

/* A signal blocked by the wait's sigmask does not end it (epoll_pwait). */
static void test_sigmask_blocks(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me);
	struct epoll_event ev[4];
	struct later l;
	sigset_t mask, pending;
	uint64_t t0;
	int sig;

	(void)state;
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	later_start(&l, 5 * MS, -1);
	t0 = now_ns();
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, &mask), 0);
	assert_waited(t0, WAIT_NS);
	later_join(&l);
	sigpending(&pending);
	assert_true(sigismember(&pending, SIGUSR1));
	assert_int_equal(sigwait(&mask, &sig), 0);
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);
	ep_close(me, epfd);
	sock_close(me, fd);
}

/* ---- kernel and bypass members together --------------------------------- */

static void test_epoll_mixed(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me), pp[2];
	struct epoll_event ev[4];
	struct later l;
	char buf[8];

	(void)state;
	assert_int_equal(pipe(pp), 0);
	ep_add_kernel(me, epfd, pp[0], EPOLLIN);
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN);
	/* the pipe written while the wait sleeps: its event alone */
	later_start(&l, 10 * MS, pp[1]);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	later_join(&l);
	assert_int_equal(ev[0].data.fd, pp[0]);
	assert_int_equal(ev[0].events, EPOLLIN);
	assert_int_equal(read(pp[0], buf, sizeof(buf)), 1);
	/* then the socket's answer alone */
	__atomic_store_n(&peer.delay_ns, 5 * MS, __ATOMIC_RELAXED);
	assert_int_equal(sock_send(me, fd, "x"), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	assert_int_equal(ev[0].data.fd, fd);
	assert_int_equal(ev[0].events, EPOLLIN);
	/* both ready (level-triggered): both reported, though the kernel set
	 * may be asked only on the next call (wait.c: kernel_ask_due) */
	assert_int_equal(write(pp[1], "y", 1), 1);
	for (uint64_t t0 = now_ns(), seen = 0; seen != 3;) {
		int n = sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL);

		assert_true(n >= 1 && now_ns() - t0 < (uint64_t)LATE_NS);
		for (int k = 0; k < n; k++)
			seen |= ev[k].data.fd == fd ? 1u : ev[k].data.fd == pp[0] ? 2u : 4u;
		assert_true(seen < 4);
	}
	ep_close(me, epfd);
	sock_close(me, fd);
	close(pp[0]);
	close(pp[1]);
}

static void test_poll_mixed(void **state)
{
	int fd = echo_socket(me), pp[2];
	struct pollfd p[2];
	struct later l;
	char buf[8];
	fd_set r;

	(void)state;
	assert_int_equal(pipe(pp), 0);
	p[0] = (struct pollfd){ .fd = pp[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = fd, .events = POLLIN };
	later_start(&l, 10 * MS, pp[1]);
	assert_int_equal(sk_poll(me, p, 2, SK_FOREVER, NULL), 1);
	later_join(&l);
	assert_int_equal(p[0].revents, POLLIN);
	assert_int_equal(p[1].revents, 0);
	assert_int_equal(read(pp[0], buf, sizeof(buf)), 1);
	__atomic_store_n(&peer.delay_ns, 5 * MS, __ATOMIC_RELAXED);
	assert_int_equal(sock_send(me, fd, "x"), 1);
	assert_int_equal(sk_poll(me, p, 2, SK_FOREVER, NULL), 1);
	assert_int_equal(p[0].revents, 0);
	assert_int_equal(p[1].revents, POLLIN);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	/* select over the same two: the pipe written while it sleeps */
	later_start(&l, 10 * MS, pp[1]);
	FD_ZERO(&r);
	FD_SET(pp[0], &r);
	FD_SET(fd, &r);
	assert_int_equal(sk_select(me, (fd > pp[0] ? fd : pp[0]) + 1, &r, NULL, NULL,
				   SK_FOREVER, NULL), 1);
	later_join(&l);
	assert_true(FD_ISSET(pp[0], &r));
	assert_false(FD_ISSET(fd, &r));
	sock_close(me, fd);
	close(pp[0]);
	close(pp[1]);
}

/* ---- edge and level triggering ------------------------------------------ */

static void test_edge_and_level(void **state)
{
	int fd = echo_socket(me), epfd = ep_create(me);
	struct epoll_event ev[4];
	char buf[8];

	(void)state;
	ep_bypass(me, epfd, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLET);
	assert_int_equal(sock_send(me, fd, "e"), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	assert_int_equal(ev[0].events, EPOLLIN);
	/* edge: reported once, not again while the byte stays unread */
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL), 0);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	/* data into the emptied buffer is a new edge */
	assert_int_equal(sock_send(me, fd, "f"), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, 0, NULL), 0);
	/* level: reported on every wait while unread */
	ep_bypass(me, epfd, EPOLL_CTL_MOD, fd, EPOLLIN);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL), 1);
	assert_int_equal(sock_recv(me, fd, buf, sizeof(buf), 0), 1);
	assert_memory_equal(buf, "f", 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, 0, NULL), 0);
	/* EPOLLONESHOT: once, then nothing until re-armed */
	ep_bypass(me, epfd, EPOLL_CTL_MOD, fd, EPOLLIN | EPOLLONESHOT);
	assert_int_equal(sock_send(me, fd, "g"), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, SK_FOREVER, NULL), 1);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, WAIT_NS, NULL), 0);
	ep_bypass(me, epfd, EPOLL_CTL_MOD, fd, EPOLLIN);
	assert_int_equal(sk_epoll_wait(me, epfd, ev, 4, 0, NULL), 1);
	ep_close(me, epfd);
	sock_close(me, fd);
}

/* ---- two threads' stacks ------------------------------------------------ */

struct other {
	int fd;         /* a connection the main thread's stack accepted */
	int handed;     /* handoffs counted while the thread used it */
	int connected;  /* the thread's own connection echoed */
	int moved;      /* and the main thread's, after the move */
};

/* (an sk_thread is never freed: sk_thread_create) */
static struct sk_thread *volatile other_thread;

static void *other_main(void *arg)
{
	struct other *o = arg;
	struct sk_thread *t = other_thread = sk_thread_create(&conf);
	struct sk_counters c0, c1;
	int fd;

	if (!t)
		return NULL;
	/* its own connection, from its own stack: the ARP answer reached
	 * the other queue (the fan-out) */
	fd = echo_try(t);
	if (fd >= 0) {
		o->connected = sock_send(t, fd, "mine") == 4 && sock_got(t, fd, "mine");
		sock_close(t, fd);
	}
	/* the main thread's accepted connection, never used there: moved
	 * here on its first use (sk_place), then its frames, which still
	 * arrive on the other queue, steered here and this thread's blocking
	 * recv woken for them */
	sk_net_counters(&c0);
	__atomic_store_n(&peer.delay_ns, 5 * MS, __ATOMIC_RELAXED);
	o->moved = sock_send(t, o->fd, "moved") == 5 && sock_got(t, o->fd, "moved");
	sk_net_counters(&c1);
	o->handed = (int)(c1.handoffs - c0.handoffs);
	sk_thread_destroy(t);
	return NULL;
}

/* The main thread (stack 0) accepts the peer's connection; another
 * thread (stack 1) is the first to use it. */
static void test_handoff(void **state)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0), kernel = 0;
	struct other o;
	struct stack_stats s0, s1;
	pthread_t th;

	(void)state;
	assert_true(lfd >= 0);
	assert_int_equal(sk_bind(me, lfd, HOST_IP, 5000, 0), 0);
	assert_int_equal(sk_listen(me, lfd, 8), 0);
	__atomic_store_n(&peer.dial, 5000, __ATOMIC_RELEASE);
	o = (struct other){ .fd = sk_accept(me, lfd, NULL, NULL, 0, &kernel) };
	assert_true(o.fd >= 0);
	assert_int_equal(kernel, 0);
	assert_int_equal(pthread_create(&th, NULL, other_main, &o), 0);
	pthread_join(th, NULL);
	assert_int_equal(o.connected, 1);
	assert_int_equal(o.moved, 1);
	assert_int_equal(o.handed, 1);
	/* two stacks, and both carried traffic */
	assert_int_equal(sk_net_stats(&s0), 2);
	assert_int_equal(sk_net_stack_stats(0, &s0), 0);
	assert_int_equal(sk_net_stack_stats(1, &s1), 0);
	assert_true(s0.tcp_segs_in > 0);
	assert_true(s1.tcp_segs_in > 0);
	/* and it stays where it went: the main thread reads it over there */
	assert_int_equal(sock_send(me, o.fd, "back"), 4);
	sock_expect(me, o.fd, "back");
	sock_close(me, o.fd);
	sock_close(me, lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_echo_works, test_setup),
		cmocka_unit_test_setup(test_epoll_wait_timeout, test_setup),
		cmocka_unit_test_setup(test_poll_timeout, test_setup),
		cmocka_unit_test_setup(test_select_timeout, test_setup),
		cmocka_unit_test_setup(test_blocking_recv_waits, test_setup),
		cmocka_unit_test_setup(test_waits_wake_on_data, test_setup),
		cmocka_unit_test_setup(test_eintr, test_setup),
		cmocka_unit_test_setup(test_eintr_before_wait, test_setup),
		cmocka_unit_test_setup(test_sigmask_blocks, test_setup),
		cmocka_unit_test_setup(test_epoll_mixed, test_setup),
		cmocka_unit_test_setup(test_poll_mixed, test_setup),
		cmocka_unit_test_setup(test_edge_and_level, test_setup),
		cmocka_unit_test_setup(test_handoff, test_setup),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
