/*
 * interpose.c - the libc calls libaccel takes over.
 *
 * Each wrapper looks its descriptor up in the fd table and sends what is
 * not the shim's business straight to the C library, so results and errno
 * are the kernel's own. What the shim adds:
 *  - the DPDK port starts where the process first needs the data path
 *    (runtime.c): a connect through it, a bind to its address, or an
 *    accept, epoll_ctl, poll or select on a wildcard listener made before it
 *    started (FD_PENDING: a prefork master never starts it, each worker
 *    starts its own, docs/DESIGN.md);
 *  - TCP sockets bound to the port's address or the wildcard, and those
 *    connected to an address the port reaches, are bypass sockets served
 *    by the userspace stack (sockets/sock.c), under the same descriptor;
 *  - waiting calls (epoll, poll, select) and blocking reads of a thread
 *    that owns a stack run that stack while they wait (sockets/wait.c);
 *  - the shim's own descriptors are invisible to the program: using one
 *    fails with EBADF, as an unopened descriptor would, and dup2/dup3 onto
 *    one fails with EBUSY.
 * Set errno only here: the layers below return negative errno values.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../common/guard.h"
#include "../common/log.h"
#include "../common/real.h"
#include "fdreserve.h"
#include "fdtable.h"
#include "files.h"
#include "runtime.h"
#include "signals.h"
#include "usermem.h"

#define EXPORT __attribute__((visibility("default")))
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x) __builtin_expect(!!(x), 1)

extern void __chk_fail(void) __attribute__((noreturn));

static inline int hidden(int fd)
{
	return unlikely(fdtable_kind(&accel_fds, fd) == FD_SHIM) &&
	       rt_state() != RT_CHILD && !rt_internal_caller();
}

#define FD_GUARD(fd)                            \
	do {                                    \
		if (hidden(fd)) {               \
			errno = EBADF;          \
			return -1;              \
		}                               \
	} while (0)

static int set_errno(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static inline int is_bypass(int fd)
{
	return unlikely(fdtable_kind(&accel_fds, fd) == FD_BYPASS) && !rt_internal_caller();
}

/* fd, just opened by whoever called: the shim's own ones go aside. */
static inline int opened(int fd)
{
	return unlikely(fd >= 0 && rt_internal_caller()) ? rt_own_fd(fd) : fd;
}

static int opened_pair(int r, int fds[2])
{
	if (r == 0 && unlikely(rt_internal_caller())) {
		fds[0] = rt_own_fd(fds[0]);
		fds[1] = rt_own_fd(fds[1]);
	}
	return r;
}

/* The calling thread's way to the stack, for calls on bypass sockets
 * (NULL only in a forked child or if the stack is gone). */
static struct sk_thread *bypass_thread(void)
{
	if (rt_state() == RT_CHILD)
		return NULL;
	return accel_tls.sk ? accel_tls.sk : rt_thread();
}

/* Runs a bypass call with the shim marked busy (its own calls go to
 * libc). */
#define SK_CALL(expr)                       \
	({                                  \
		__typeof__(expr) _r;        \
		accel_tls.depth++;          \
		_r = (expr);                \
		accel_tls.depth--;          \
		_r;                         \
	})

#define SK_VOID(expr)                       \
	do {                                \
		accel_tls.depth++;          \
		expr;                       \
		accel_tls.depth--;          \
	} while (0)

/* A socket option that is a timeout (SO_RCVTIMEO, SO_SNDTIMEO) is set. */
static int has_timeout(int fd, int opt)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);

	return opt && accel_real.getsockopt(fd, SOL_SOCKET, opt, &tv, &len) == 0 &&
	       (tv.tv_sec || tv.tv_usec);
}

/*
 * A bypass call's result to the program: EINTR only where the kernel
 * would not have restarted: the handler that ran lacks SA_RESTART, or the
 * socket has a timeout for the call (timeo: SO_RCVTIMEO or SO_SNDTIMEO;
 * signal(7): such calls fail with EINTR whatever the handler). SIGPIPE on
 * EPIPE unless MSG_NOSIGNAL.
 */
static ssize_t bypass_result(ssize_t r, int flags, int fd, int timeo, int *again)
{
	*again = 0;
	if (r == -EINTR && !has_timeout(fd, timeo) && sig_restarts()) {
		*again = 1;
		return 0;
	}
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);
	if (r == -ESHUTDOWN)
		r = -EBADF;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* A read (send 0) or write (send 1) on a bypass socket, restarted after a
 * signal as the kernel would restart it. Only a write raises SIGPIPE. */
static ssize_t bypass_io(int fd, struct iovec *iov, int cnt, int flags, int send)
{
	struct sk_thread *t = bypass_thread();
	ssize_t r;
	int again;

	if (!t) {
		errno = EBADF;
		return -1;
	}
	if (um_iov_limit(iov, cnt) < 0)
		return set_errno(-EFAULT);
	do {
		sig_watch();
		r = SK_CALL(send ? sk_send(t, fd, iov, cnt, flags) : sk_recv(t, fd, iov, cnt, flags));
		r = bypass_result(r, send ? flags : MSG_NOSIGNAL, fd,
				  send ? SO_SNDTIMEO : SO_RCVTIMEO, &again);
	} while (again);
	return r;
}

/* bypass_io on the program's own iovec array, read the kernel's way. */
static ssize_t bypass_uio(int fd, const struct iovec *uiov, int cnt, int flags, int send)
{
	struct iovec small[UM_IOV_SMALL], *iov;
	ssize_t r;
	int e = um_iov_in(uiov, cnt, small, &iov);

	if (e < 0)
		return set_errno(e);
	r = bypass_io(fd, iov, cnt, flags, send);
	um_iov_done(iov, small);
	return r;
}

static int64_t ms_to_ns(int ms)
{
	return ms < 0 ? SK_FOREVER : (int64_t)ms * 1000000;
}

static int64_t ts_to_ns(const struct timespec *ts)
{
	if (!ts)
		return SK_FOREVER;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -2; /* invalid: let the kernel say EINVAL */
	if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
		return SK_FOREVER;
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* ---- blocking reads ----------------------------------------------------- */

/*
 * A blocking read of a thread that owns a stack waits in the shim, so the
 * stack keeps being served, but only where the kernel would have waited:
 * the same call is first made without waiting (the probe), and only its
 * EAGAIN means the kernel would wait. Anything else the probe returns is
 * the kernel's answer: data, end of file, or an error it gives at once
 * (a zero length, a bad count, a listener read, recv on a pipe).
 */
enum rd_plan {
	RD_KERNEL, /* the real call at once: no stack, a non-blocking
		    * descriptor, or a receive timeout (the kernel's to keep) */
	RD_PROBE,  /* probe; wait only if it says EAGAIN */
	RD_WAIT,   /* wait, then the real call: a probe would return less
		    * than the kernel waits for (SO_RCVLOWAT, MSG_WAITALL) */
};

/* Whether a blocking call on fd may wait in the shim at all; *sock says
 * whether fd is a socket. */
static int may_wait(int fd, int *sock)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	int fl;

	if (!rt_thread())
		return 0;
	fl = accel_real.fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return 0;
	*sock = accel_real.getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0;
	return !*sock || (!tv.tv_sec && !tv.tv_usec);
}

static enum rd_plan read_plan(int fd)
{
	int sock = 0, lowat = 1;
	socklen_t len = sizeof(lowat);

	if (!may_wait(fd, &sock))
		return RD_KERNEL;
	if (sock)
		accel_real.getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, &len);
	return lowat > 1 ? RD_WAIT : RD_PROBE;
}

/* MSG_ERRQUEUE and MSG_OOB never wait in the kernel. */
static enum rd_plan recv_plan(int fd, int flags)
{
	enum rd_plan plan;

	if (flags & (MSG_DONTWAIT | MSG_ERRQUEUE | MSG_OOB))
		return RD_KERNEL;
	plan = read_plan(fd);
	return plan == RD_PROBE && (flags & MSG_WAITALL) ? RD_WAIT : plan;
}

/* read and readv made without waiting: preadv2 at the file position. A
 * file that cannot be read so (EOPNOTSUPP) is waited for as before. */
static ssize_t read_probe(int fd, const struct iovec *iov, int cnt)
{
	ssize_t r = accel_real.preadv2(fd, iov, cnt, -1, RWF_NOWAIT);

	if (r < 0 && errno == EOPNOTSUPP)
		errno = EAGAIN;
	return r;
}

/* Whether descriptors a and b name one open file (kcmp(2); where the
 * kernel has no kcmp, taken as so). */
static int same_file(int a, int b)
{
	pid_t me = getpid();
	long r = syscall(SYS_kcmp, me, me, 0 /* KCMP_FILE */, a, b);

	return r != 1 && r != 2 && r != 3; /* (0: the same; -1: no kcmp) */
}

/*
 * Waits in the shim until fd is readable, holding its file meanwhile (a
 * duplicate in the reserve), as the kernel's read holds it: another
 * thread that closes or replaces the number (dup2) changes neither what
 * the wait waits for nor what is then read. Returns the descriptor the
 * read goes to: fd, or the duplicate when fd names another file now (the
 * caller gives it to read_done); -1 with errno EINTR when the call must
 * report the interruption.
 */
static int wait_readable(int fd)
{
	struct sk_thread *t = rt_thread();
	int d = accel_real.fcntl(fd, F_DUPFD_CLOEXEC, 0), w, r;

	w = d < 0 ? fd : (d = fdres_hide(d));
	for (;;) {
		sig_watch();
		accel_tls.depth++;
		r = sk_wait_fd(t, w, POLLIN);
		accel_tls.depth--;
		if (r != -EINTR)
			break;
		if (!sig_restarts()) { /* (a timeout made the kernel wait: may_wait) */
			if (d >= 0)
				accel_real.close(d);
			errno = EINTR;
			return -1;
		}
	}
	if (d >= 0 && same_file(fd, d)) {
		accel_real.close(d);
		return fd;
	}
	return w;
}

/* After the real call on rfd (wait_readable's): its duplicate closed,
 * the call's errno kept. */
static ssize_t read_done(int fd, int rfd, ssize_t r)
{
	int e = errno;

	if (rfd != fd)
		accel_real.close(rfd);
	errno = e;
	return r;
}

/*
 * Runs a read's plan up to the real call, given the probe's result (used
 * by RD_PROBE only). Returns 1 to make the real call, or 0 with the answer
 * in *r: the probe's, or -1 (EINTR) from an interrupted wait. *rfd: the
 * descriptor the real call goes to (wait_readable, read_done).
 */
static int read_first(int fd, enum rd_plan plan, ssize_t probe, ssize_t *r, int *rfd)
{
	*rfd = fd;
	if (plan == RD_KERNEL)
		return 1;
	if (plan == RD_PROBE && (probe >= 0 || errno != EAGAIN)) {
		*r = probe;
		return 0;
	}
	*rfd = wait_readable(fd);
	*r = -1;
	return *rfd >= 0;
}

/*
 * accept waits only on a listening socket and with good flags; elsewhere
 * the kernel refuses at once (ENOTSOCK, EINVAL), and so must we rather
 * than wait for input that may never come. accept has no probe: no flag
 * makes one call of it not wait. Returns 0 with *rfd the descriptor to
 * accept on (wait_readable), or -1 (EINTR).
 */
static int accept_first(int fd, int flags, int *rfd)
{
	int sock = 0, on = 0;
	socklen_t len = sizeof(on);

	*rfd = fd;
	if (!may_wait(fd, &sock) || !sock ||
	    (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) ||
	    accel_real.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
		return 0;
	*rfd = wait_readable(fd);
	return *rfd < 0 ? -1 : 0;
}

/* ---- sockets ------------------------------------------------------------ */

/* The port may start later (a socket is no use of the data path yet). */
static int port_may_serve(void)
{
	int s = rt_state();

	return s == RT_UP || s == RT_READY || s == RT_STARTING;
}

/* The port, started now if it is not yet; its thread's stack or NULL. */
static struct sk_thread *port_thread(void)
{
	int s = rt_state();

	if ((s == RT_READY || s == RT_STARTING) && !accel_tls.depth)
		rt_net_start();
	return rt_thread();
}

EXPORT int socket(int domain, int type, int protocol)
{
	int fd = opened(accel_real.socket(domain, type, protocol));

	if (fd >= 0 && domain == AF_INET && (type & 0xf) == SOCK_STREAM &&
	    (protocol == 0 || protocol == IPPROTO_TCP) && port_may_serve() &&
	    !rt_internal_caller())
		fdtable_set(&accel_fds, fd, FD_INET); /* may become a bypass socket */
	return fd;
}

/* An IPv4 address the program passed, in host order; 0 if it is not one. */
static int inet_addr_of(const struct sockaddr *addr, socklen_t len, uint32_t *ip,
			uint16_t *port)
{
	struct sockaddr_in a;

	/* (a bad one: the kernel's call says EFAULT) */
	if (!addr || len < sizeof(a) || accel_copy_in(&a, addr, sizeof(a)) < 0)
		return 0;
	if (a.sin_family != AF_INET)
		return 0;
	*ip = ntohl(a.sin_addr.s_addr);
	*port = ntohs(a.sin_port);
	return 1;
}

EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	return opened_pair(accel_real.socketpair(domain, type, protocol, sv), sv);
}

/*
 * bind on a bypass socket: it is bound already (to the port's address,
 * or the wildcard) or connected through the port. Linux checks the
 * address before the state (__inet_bind): a short length, a family not
 * AF_INET (AF_UNSPEC passes with the wildcard), an address not local
 * (EADDRNOTAVAIL: a socket of the kernel's own tries it, as only the
 * kernel knows its addresses); then the socket is bound: EINVAL. The
 * placeholder cannot answer for it: it may not be bound in the kernel
 * at all, and the kernel has not the port's address.
 */
static int bind_again(struct sk_thread *t, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in a;
	int probe, r = -EINVAL;

	if (len < sizeof(a))
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	memcpy(&a, addr, sizeof(a));
	if (a.sin_family != AF_INET &&
	    (a.sin_family != AF_UNSPEC || a.sin_addr.s_addr != htonl(INADDR_ANY)))
		return -EAFNOSUPPORT;
	if (a.sin_addr.s_addr == htonl(INADDR_ANY) || ntohl(a.sin_addr.s_addr) == sk_port_ip(t))
		return -EINVAL;
	probe = accel_real.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -EINVAL;
	a.sin_family = AF_INET;
	a.sin_port = 0;
	if (accel_real.bind(probe, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    errno == EADDRNOTAVAIL)
		r = -EADDRNOTAVAIL;
	accel_real.close(probe);
	return r;
}

/*
 * The port's own address (the kernel does not have it and would refuse
 * it) makes a bypass socket. Port 0 is Linux's ephemeral pick, made at
 * bind (getsockname tells it at once): the kernel makes it, binding the
 * placeholder to the wildcard, so the port follows the kernel's rules
 * (ip_local_port_range, its reserved ports), is none a kernel socket
 * holds, and stays the socket's so no later kernel bind takes it.
 */
static int bind_port_ip(struct sk_thread *t, int fd, uint32_t ip, uint16_t port)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	socklen_t len = sizeof(any);

	if (!port) {
		if (accel_real.bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 ||
		    accel_real.getsockname(fd, (struct sockaddr *)&any, &len) < 0)
			return -errno;
		port = ntohs(any.sin_port);
	}
	return SK_CALL(sk_bind(t, fd, ip, port, 0));
}

/* The wildcard makes a dual socket, bound in the kernel too (its port 0
 * is the kernel's pick, which both paths share), so it listens on both;
 * a bypass socket on the port's address has the port first. */
static int bind_dual(struct sk_thread *t, int fd, const struct sockaddr *addr,
		     socklen_t len, uint16_t port)
{
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	int r = port ? SK_CALL(sk_port_free(t, fd, port)) : 0;

	if (r < 0)
		return r;
	if (accel_real.bind(fd, addr, len) < 0)
		return -errno;
	if (accel_real.getsockname(fd, (struct sockaddr *)&got, &gl) == 0)
		port = ntohs(got.sin_port);
	return SK_CALL(sk_bind(t, fd, INADDR_ANY, port, 1));
}

/* bind: the port's address and the wildcard make bypass sockets (above);
 * anything else is the kernel's. */
EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	enum fd_kind k = fdtable_kind(&accel_fds, fd);
	struct sk_thread *t;
	uint32_t ip;
	uint16_t port;
	int r;

	FD_GUARD(fd);
	if (k == FD_BYPASS && !rt_internal_caller())
		return set_errno((t = bypass_thread()) ? bind_again(t, addr, len) : -EBADF);
	if (k == FD_PENDING && !rt_internal_caller())
		return set_errno(-EINVAL); /* bound and listening already */
	/* the wildcard waits in the kernel while the port is not started
	 * (listen makes it FD_PENDING); the port's own address needs it now */
	if (k != FD_INET || rt_internal_caller() || !inet_addr_of(addr, len, &ip, &port) ||
	    (rt_state() != RT_UP && ip != accel_cfg.ip) || !(t = port_thread()))
		return accel_real.bind(fd, addr, len);
	if (ip == sk_port_ip(t))
		r = bind_port_ip(t, fd, ip, port);
	else if (ip == INADDR_ANY)
		r = bind_dual(t, fd, addr, len, port);
	else
		return accel_real.bind(fd, addr, len);
	if (r < 0)
		return set_errno(r);
	fdtable_set(&accel_fds, fd, FD_BYPASS);
	return 0;
}

/* A TCP socket the program never bound: the kernel's port is 0. */
static int never_bound(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return accel_real.getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
	       a.sin_family == AF_INET && a.sin_port == 0;
}

/*
 * A listener made before the port started (a prefork master's) stays the
 * kernel's, marked FD_PENDING when it listens on the wildcard, with its
 * backlog kept for the stack's half. The first accept, epoll_ctl ADD,
 * poll or select of it in a process starts that process's port and makes it a dual
 * listener there (pending_start): the master, which only forks, never
 * starts DPDK; each worker listens on its own queue with the same address
 * and port, and the kernel half (the one socket they all share) keeps
 * 127.0.0.1 working in all of them. The table is copied by fork, so a
 * child knows its inherited listeners. O_NONBLOCK is kept here too, as
 * the program set it: the kernel's flag is the shared file's, and the
 * first worker's stack half makes it non-blocking for all of them.
 */
#define PENDING_NONBLOCK 0x8000u
#define PENDING_KERNEL 0x4000u /* its port did not start here: the kernel's */
#define PENDING_BACKLOG 0x1fffu
static uint16_t *pending_backlog; /* backlog | PENDING_NONBLOCK | PENDING_KERNEL */
static int pending_live;     /* FD_PENDING entries: 0 lets poll skip the scan */
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static void pending_set(int fd, int backlog)
{
	if (!pending_backlog) {
		void *m = mmap(NULL, (size_t)accel_fds.size * sizeof(uint16_t),
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED)
			return; /* (it stays a kernel listener) */
		pending_backlog = m;
	}
	if (backlog < 0 || backlog > 4096)
		backlog = 4096; /* Linux's somaxconn, as sk_listen takes it */
	if (fdtable_kind(&accel_fds, fd) == FD_PENDING)
		backlog |= pending_backlog[fd] & (PENDING_NONBLOCK | PENDING_KERNEL);
	else if (accel_real.fcntl(fd, F_GETFL) & O_NONBLOCK)
		backlog |= PENDING_NONBLOCK;
	pending_backlog[fd] = (uint16_t)backlog;
	if (fdtable_kind(&accel_fds, fd) != FD_PENDING)
		__atomic_add_fetch(&pending_live, 1, __ATOMIC_RELAXED);
	fdtable_set(&accel_fds, fd, FD_PENDING);
}

static void pending_clear(int fd, enum fd_kind now)
{
	__atomic_sub_fetch(&pending_live, 1, __ATOMIC_RELAXED);
	fdtable_set(&accel_fds, fd, now);
}

static int pending_listen(int fd, int backlog)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (accel_real.listen(fd, backlog) < 0)
		return -1;
	if (accel_real.getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
	    a.sin_family == AF_INET && a.sin_addr.s_addr == htonl(INADDR_ANY)) {
		pending_set(fd, backlog);
		sk_quiet_port(ntohs(a.sin_port));
	}
	return 0;
}

static int pending_relisten(int fd, int backlog)
{
	if (accel_real.listen(fd, backlog) < 0)
		return -1;
	pending_set(fd, backlog);
	return 0;
}

/* This process needs fd's data path: its port starts, the listener joins
 * its stack. Where it cannot (no port, no queue, a child of a process
 * whose port runs) it stays what it is, the kernel's listener. */
static void pending_start(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	struct sk_thread *t;
	struct stat st;
	int r = -1;

	pthread_mutex_lock(&pending_lock);
	if (fdtable_kind(&accel_fds, fd) != FD_PENDING || (pending_backlog[fd] & PENDING_KERNEL)) {
		pthread_mutex_unlock(&pending_lock);
		return;
	}
	if (rt_state() == RT_READY && !accel_tls.depth && fstat(fd, &st) == 0)
		rt_net_start_group((unsigned long)st.st_ino);
	if ((t = port_thread()) &&
	    accel_real.getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		unsigned b = pending_backlog[fd];

		r = SK_CALL(sk_bind(t, fd, INADDR_ANY, ntohs(a.sin_port), 1));
		if (r == 0 && (r = SK_CALL(sk_listen(t, fd, (int)(b & PENDING_BACKLOG)))) < 0)
			SK_VOID(sk_close(t, fd));
		if (r == 0)
			SK_CALL(sk_nonblock(t, fd, !!(b & PENDING_NONBLOCK)));
	}
	if (r == 0)
		pending_clear(fd, FD_BYPASS);
	else /* (still FD_PENDING, for its program's O_NONBLOCK) */
		pending_backlog[fd] |= PENDING_KERNEL;
	pthread_mutex_unlock(&pending_lock);
	if (r != 0)
		ACCEL_DEBUG("listener %d stays the kernel's (%s)", fd,
			    t ? strerror(-r) : "no stack in this process");
}

/* The program's O_NONBLOCK of a pending listener: set (0, 1), or read
 * (-1). */
static int pending_nonblock(int fd, int set)
{
	if (set > 0)
		pending_backlog[fd] |= PENDING_NONBLOCK;
	else if (set == 0)
		pending_backlog[fd] &= (uint16_t)~PENDING_NONBLOCK;
	return !!(pending_backlog[fd] & PENDING_NONBLOCK);
}

static inline void pending_check(int fd)
{
	if (unlikely(fdtable_kind(&accel_fds, fd) == FD_PENDING) && !rt_internal_caller() &&
	    !(pending_backlog[fd] & PENDING_KERNEL))
		pending_start(fd);
}

/*
 * accept on a pending listener left the kernel's (no port here: all the
 * slots taken, a port kind one process has, a child of a process whose
 * port runs). The shared file may be non-blocking for the sake of the
 * copies that have a stack; where this program's view is blocking, the
 * call waits for a connection as the kernel's accept would (a sibling
 * taking it first: it waits again). -2: not such a listener.
 */
static int pending_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (likely(fdtable_kind(&accel_fds, fd) != FD_PENDING) || rt_internal_caller())
		return -2;
	for (;;) {
		int r = accel_real.accept4(fd, addr, len, flags);

		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
		    pending_nonblock(fd, -1))
			return r;
		if (accel_real.poll(&p, 1, -1) < 0)
			return -1; /* (EINTR: a handler ran) */
	}
}

/* listen on a socket never bound binds it first, to the wildcard and an
 * ephemeral port (Linux: inet_csk_listen_start's get_port(0)), so here it
 * becomes a dual listener as bind(INADDR_ANY, 0) would make it. */
EXPORT int listen(int fd, int backlog)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	struct sk_thread *t;
	int r;

	FD_GUARD(fd);
	if (fdtable_kind(&accel_fds, fd) == FD_INET && !rt_internal_caller() &&
	    rt_state() != RT_UP)
		return pending_listen(fd, backlog);
	if (fdtable_kind(&accel_fds, fd) == FD_PENDING && !rt_internal_caller())
		return pending_relisten(fd, backlog);
	if (fdtable_kind(&accel_fds, fd) == FD_INET && !rt_internal_caller() &&
	    (t = rt_thread()) && never_bound(fd)) {
		r = bind_dual(t, fd, (struct sockaddr *)&any, sizeof(any), 0);
		if (r < 0)
			return set_errno(r);
		fdtable_set(&accel_fds, fd, FD_BYPASS);
	}
	if (!is_bypass(fd))
		return accel_real.listen(fd, backlog);
	if (!(t = bypass_thread()))
		return set_errno(-EBADF);
	return set_errno(SK_CALL(sk_listen(t, fd, backlog)));
}

/* The peer's address goes to the program after the connection is taken;
 * if it cannot (a bad addr or len), Linux closes the new socket and says
 * EFAULT (do_accept: out_fd), and so does the shim. */
static int bypass_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct sk_thread *t = bypass_thread();
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	int r, kernel, again, e;

	if (!t)
		return set_errno(-EBADF);
	do {
		sig_watch();
		r = (int)bypass_result(SK_CALL(sk_accept(t, fd, (struct sockaddr *)&a, &al, flags,
							  &kernel)), MSG_NOSIGNAL, fd, SO_RCVTIMEO, &again);
	} while (again);
	if (r >= 0 && !kernel)
		fdtable_set(&accel_fds, r, FD_BYPASS);
	if (r >= 0 && addr && (e = um_addr_out(addr, len, &a, al)) < 0) {
		close(r);
		return set_errno(e);
	}
	return r;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int r, rfd;

	FD_GUARD(fd);
	pending_check(fd);
	if (is_bypass(fd))
		return bypass_accept(fd, addr, len, flags);
	if ((r = pending_accept(fd, addr, len, flags)) != -2)
		return r;
	if (accept_first(fd, flags, &rfd) < 0)
		return -1;
	return opened((int)read_done(fd, rfd, accel_real.accept4(rfd, addr, len, flags)));
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int r, rfd;

	FD_GUARD(fd);
	pending_check(fd);
	if (is_bypass(fd))
		return bypass_accept(fd, addr, len, 0);
	if ((r = pending_accept(fd, addr, len, 0)) != -2)
		return r;
	if (accept_first(fd, 0, &rfd) < 0)
		return -1;
	return opened((int)read_done(fd, rfd, accel_real.accept(rfd, addr, len)));
}

/*
 * A program that adds a socket to an epoll set before it connects
 * (nutcracker does) has it in the kernel's set. Once connect takes it
 * through the port the kernel's set holds only its placeholder, which
 * reports EPOLLHUP, and EPOLL_CTL_MOD finds nothing in ours (ENOENT). Set
 * once such an add is seen; from then on a connect through the port moves
 * the socket's registrations, read from /proc/self/fdinfo, into our sets.
 */
static int inet_in_kernel_set;

/* Parses one "tfd: N events: X data: Y" line of an epoll fdinfo. */
static int fdinfo_entry(const char *line, int fd, struct epoll_event *ev)
{
	unsigned long long data;
	unsigned events;
	int tfd;

	if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) != 3 ||
	    tfd != fd)
		return 0;
	ev->events = events;
	ev->data.u64 = data;
	return 1;
}

/* Finds fd's registration in kernel set epfd: 1 and ev when there. */
static int kernel_set_entry(int epfd, int fd, struct epoll_event *ev)
{
	char path[48], buf[4096];
	size_t have = 0;
	int pfd, found = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	pfd = accel_real.open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return 0;
	while (!found && (n = accel_real.read(pfd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *line = buf, *nl;

		have += (size_t)n;
		buf[have] = '\0';
		while (!found && (nl = strchr(line, '\n'))) {
			*nl = '\0';
			found = fdinfo_entry(line, fd, ev);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0; /* (no line is that long) */
	}
	accel_real.close(pfd);
	return found;
}

static void epoll_move_to_bypass(struct sk_thread *t, int fd)
{
	int saved = errno;

	for (int e = fdtable_next(&accel_fds, 0, UINT_MAX); e >= 0;
	     e = fdtable_next(&accel_fds, (unsigned)e + 1, UINT_MAX)) {
		struct epoll_event ev;

		if (fdtable_kind(&accel_fds, e) != FD_EPOLL || !kernel_set_entry(e, fd, &ev) ||
		    accel_real.epoll_ctl(e, EPOLL_CTL_DEL, fd, NULL) < 0)
			continue;
		SK_VOID(sk_epoll_kernel_member(t, e, -1));
		(void)SK_CALL(sk_epoll_ctl(t, e, EPOLL_CTL_ADD, fd, &ev));
	}
	errno = saved;
}

/* connect: through the port when the port reaches the address. */
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	enum fd_kind k = fdtable_kind(&accel_fds, fd);
	struct sk_thread *t;
	uint32_t ip;
	uint16_t port;
	int r, again;

	FD_GUARD(fd);
	/* (loopback is the kernel's: no port started for it) */
	if ((k != FD_INET && k != FD_BYPASS) || rt_internal_caller() ||
	    !inet_addr_of(addr, len, &ip, &port) ||
	    (rt_state() != RT_UP && (ip >> 24) == 127) || !(t = port_thread()))
		return accel_real.connect(fd, addr, len);
	if (k == FD_INET && !sk_route(t, ip)) {
		sk_note_kernel_connect();
		return accel_real.connect(fd, addr, len);
	}
	do {
		sig_watch();
		r = (int)bypass_result(SK_CALL(sk_connect(t, fd, ip, port)), MSG_NOSIGNAL,
				       fd, SO_SNDTIMEO, &again);
	} while (again);
	fdtable_set(&accel_fds, fd, FD_BYPASS);
	if (k == FD_INET && (r == 0 || errno == EINPROGRESS) &&
	    __atomic_load_n(&inet_in_kernel_set, __ATOMIC_RELAXED))
		epoll_move_to_bypass(t, fd);
	return r;
}

EXPORT int shutdown(int fd, int how)
{
	struct sk_thread *t;

	FD_GUARD(fd);
	if (!is_bypass(fd))
		return accel_real.shutdown(fd, how);
	if (!(t = bypass_thread()))
		return set_errno(-EBADF);
	return set_errno(SK_CALL(sk_shutdown(t, fd, how)));
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct sk_thread *t;
	socklen_t vl = sizeof(int);
	int r, ulen, v;

	FD_GUARD(fd);
	/* The stack's answers go out as sock_getsockopt's: *len read first (a
	 * bad one, or < 0: the placeholder's call gives the kernel's error),
	 * then at most that much of the value, then *len. */
	if (is_bypass(fd) && (t = bypass_thread()) &&
	    accel_copy_in(&ulen, len, sizeof(ulen)) == 0 && ulen >= 0) {
		r = SK_CALL(sk_getsockopt(t, fd, level, name, &v, &vl));
		if (r < 0)
			return set_errno(r);
		if (r == 1) {
			socklen_t n = (socklen_t)ulen < vl ? (socklen_t)ulen : vl;

			if ((n && accel_copy_out(val, &v, n) < 0) ||
			    accel_copy_out(len, &n, sizeof(n)) < 0)
				return set_errno(-EFAULT);
			return 0;
		}
	}
	return accel_real.getsockopt(fd, level, name, val, len);
}

/* The placeholder takes the option first: Linux's checks and errors, and
 * getsockopt's answers; then the stack's connection gets it. */
EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	union {
		int i;
		struct linger l;
	} v = { 0 };
	socklen_t n = len < sizeof(v) ? len : (socklen_t)sizeof(v);
	struct sk_thread *t;

	FD_GUARD(fd);
	if (accel_real.setsockopt(fd, level, name, val, len) < 0)
		return -1;
	/* the stack gets a copy: the kernel read the value of every option
	 * the stack takes, but not of every option */
	if (is_bypass(fd) && (t = bypass_thread()) && (!n || accel_copy_in(&v, val, n) == 0))
		SK_VOID(sk_setsockopt(t, fd, level, name, n ? &v : NULL, n));
	return 0;
}

static int name_of(int fd, int peer, struct sockaddr *addr, socklen_t *len)
{
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	struct sk_thread *t;
	int r;

	FD_GUARD(fd);
	if (is_bypass(fd) && (t = bypass_thread())) {
		r = SK_CALL(sk_name(t, fd, peer, (struct sockaddr *)&a, &al));
		if (r == 0)
			r = um_addr_out(addr, len, &a, al);
		if (r <= 0)
			return set_errno(r);
	}
	return peer ? accel_real.getpeername(fd, addr, len) :
		      accel_real.getsockname(fd, addr, len);
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_of(fd, 0, addr, len);
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_of(fd, 1, addr, len);
}

/* ---- reading ------------------------------------------------------------ */

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct iovec v = { buf, n };
	enum rd_plan plan;
	ssize_t r;
	int rfd;

	FD_GUARD(fd);
	if (is_bypass(fd))
		return bypass_io(fd, &v, 1, 0, 0);
	plan = read_plan(fd);
	r = plan == RD_PROBE ? read_probe(fd, &v, 1) : 0;
	if (!read_first(fd, plan, r, &r, &rfd))
		return r;
	return read_done(fd, rfd, accel_real.read(rfd, buf, n));
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	enum rd_plan plan;
	ssize_t r;
	int rfd;

	FD_GUARD(fd);
	if (is_bypass(fd))
		return bypass_uio(fd, iov, cnt, 0, 0);
	plan = read_plan(fd);
	r = plan == RD_PROBE ? read_probe(fd, iov, cnt) : 0;
	if (!read_first(fd, plan, r, &r, &rfd))
		return r;
	return read_done(fd, rfd, accel_real.readv(rfd, iov, cnt));
}

EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	enum rd_plan plan;
	ssize_t r;
	int rfd;

	FD_GUARD(fd);
	if (is_bypass(fd)) {
		struct iovec v = { buf, n };

		return bypass_io(fd, &v, 1, flags, 0);
	}
	plan = recv_plan(fd, flags);
	r = plan == RD_PROBE ? accel_real.recv(fd, buf, n, flags | MSG_DONTWAIT) : 0;
	if (!read_first(fd, plan, r, &r, &rfd))
		return r;
	return read_done(fd, rfd, accel_real.recv(rfd, buf, n, flags));
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			struct sockaddr *addr, socklen_t *len)
{
	enum rd_plan plan;
	ssize_t r;
	int rfd;

	FD_GUARD(fd);
	if (is_bypass(fd)) {
		struct iovec v = { buf, n };
		socklen_t none = 0;

		r = bypass_io(fd, &v, 1, flags, 0);
		/* a connected stream socket names no sender: *len = 0, written
		 * after the data is taken (a bad len: EFAULT, the data gone, as
		 * __sys_recvfrom) */
		if (r >= 0 && addr && (int)(r = um_addr_out(addr, len, NULL, none)) < 0)
			return set_errno((int)r);
		return r;
	}
	plan = recv_plan(fd, flags);
	r = plan == RD_PROBE ?
	    accel_real.recvfrom(fd, buf, n, flags | MSG_DONTWAIT, addr, len) : 0;
	if (!read_first(fd, plan, r, &r, &rfd))
		return r;
	return read_done(fd, rfd, accel_real.recvfrom(rfd, buf, n, flags, addr, len));
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
			      int flags, struct sockaddr *addr, socklen_t *len)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, len);
}

/* Descriptors DPDK receives over a unix socket (memif's memory regions
 * and interrupt eventfds, from its peer) go aside like those it opens. */
static ssize_t received(ssize_t r, struct msghdr *msg)
{
	if (r < 0 || !msg || likely(!msg->msg_controllen) || !rt_internal_caller())
		return r;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned char *p = CMSG_DATA(c);
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < n; i++) {
			int v;

			memcpy(&v, p + i * sizeof(int), sizeof(v));
			v = rt_own_fd(v);
			memcpy(p + i * sizeof(int), &v, sizeof(v));
		}
	}
	return r;
}

/* ____sys_recvmsg: the header and its vectors read before, the name
 * length (if there is a name), the flags and the control length written
 * after; a stream socket has neither name nor control data for us. */
static ssize_t bypass_recvmsg(int fd, struct msghdr *umsg, int flags)
{
	struct msghdr m;
	socklen_t none = 0;
	size_t nocontrol = 0;
	int zero = 0, e = um_msg_in(umsg, &m);
	ssize_t r;

	if (e < 0)
		return set_errno(e);
	r = bypass_uio(fd, m.msg_iov, (int)m.msg_iovlen, flags, 0);
	if (r < 0)
		return r;
	if (accel_copy_out(&umsg->msg_flags, &zero, sizeof(zero)) < 0 ||
	    (m.msg_name && accel_copy_out(&umsg->msg_namelen, &none, sizeof(none)) < 0) ||
	    accel_copy_out(&umsg->msg_controllen, &nocontrol, sizeof(nocontrol)) < 0)
		return set_errno(-EFAULT);
	return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	enum rd_plan plan;
	ssize_t r;
	int rfd;

	FD_GUARD(fd);
	if (is_bypass(fd))
		return bypass_recvmsg(fd, msg, flags);
	plan = recv_plan(fd, flags);
	r = plan == RD_PROBE ? accel_real.recvmsg(fd, msg, flags | MSG_DONTWAIT) : 0;
	if (!read_first(fd, plan, r, &r, &rfd))
		return r;
	return received(read_done(fd, rfd, accel_real.recvmsg(rfd, msg, flags)), msg);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *timeout)
{
	FD_GUARD(fd);
	return accel_real.recvmmsg(fd, v, n, flags, timeout);
}

/* ---- writing ------------------------------------------------------------ */

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	FD_GUARD(fd);
	if (is_bypass(fd)) {
		struct iovec v = { (void *)buf, n };

		return bypass_io(fd, &v, 1, 0, 1);
	}
	if (unlikely(files_fd(fd)))
		return files_write(fd, buf, n);
	return accel_real.write(fd, buf, n);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	FD_GUARD(fd);
	if (is_bypass(fd))
		return bypass_uio(fd, iov, cnt, 0, 1);
	if (unlikely(files_fd(fd)))
		return files_writev(fd, iov, cnt);
	return accel_real.writev(fd, iov, cnt);
}

EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	FD_GUARD(fd);
	if (is_bypass(fd)) {
		struct iovec v = { (void *)buf, n };

		return bypass_io(fd, &v, 1, flags, 1);
	}
	return accel_real.send(fd, buf, n, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *addr, socklen_t len)
{
	FD_GUARD(fd);
	if (is_bypass(fd)) {
		struct iovec v = { (void *)buf, n };

		/* ignored on a connected stream socket, as Linux, once read */
		int e = um_addr_check(addr, len);

		if (e < 0)
			return set_errno(e);
		return bypass_io(fd, &v, 1, flags, 1);
	}
	return accel_real.sendto(fd, buf, n, flags, addr, len);
}

/*
 * A send of DPDK's interrupt thread to a peer that is gone: reported sent
 * in full (and never a SIGPIPE at the program, as a stream socket's EPIPE
 * would raise). The thread sends the memif control messages, and DPDK 22.11's memif
 * server, when it cannot send its hello (the client left while it
 * connected), closes the control socket but leaves the socket's interrupt
 * callback registered: the thread's next rebuild of its epoll set panics
 * on the closed number (EBADF), or, when the number is given out again
 * (the reserve hands out its lowest free one), runs the callback on the
 * freed channel. The thread learns of the departure anyway: the socket's
 * hangup wakes it, and the callback's read of the end takes DPDK's own
 * way out, which unregisters the callback before it closes the socket.
 */
static ssize_t intr_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r = accel_real.sendmsg(fd, msg, flags | MSG_NOSIGNAL);
	size_t n = 0;

	if (r >= 0 || (errno != EPIPE && errno != ECONNRESET))
		return r;
	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += msg->msg_iov[i].iov_len;
	return (ssize_t)n;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	FD_GUARD(fd);
	if (unlikely(rt_internal_caller()) && sk_thread_is_internal())
		return intr_sendmsg(fd, msg, flags);
	if (is_bypass(fd)) {
		struct msghdr m;
		int e = um_msg_in(msg, &m);

		if (e == 0)
			e = um_addr_check(m.msg_name, m.msg_namelen);
		if (e == 0 && m.msg_controllen > INT_MAX)
			e = -ENOBUFS;
		if (e == 0 && m.msg_controllen)
			e = accel_probe(m.msg_control, m.msg_controllen, 0);
		if (e < 0)
			return set_errno(e);
		return bypass_uio(fd, m.msg_iov, (int)m.msg_iovlen, flags, 1);
	}
	return accel_real.sendmsg(fd, msg, flags);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	FD_GUARD(fd);
	return accel_real.sendmmsg(fd, v, n, flags);
}

/* ---- positioned I/O (the storage path's entry points) ------------------- */

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_pread(fd, buf, n, off);
	return accel_real.pread(fd, buf, n, off);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread(fd, buf, n, off);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	return __pread_chk(fd, buf, n, off, buflen);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_pwrite(fd, buf, n, off);
	return accel_real.pwrite(fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_preadv(fd, iov, cnt, off, 0, 0);
	return accel_real.preadv(fd, iov, cnt, off);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return preadv(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_pwritev(fd, iov, cnt, off, 0, 0);
	return accel_real.pwritev(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return pwritev(fd, iov, cnt, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_preadv(fd, iov, cnt, off, flags, 1);
	return accel_real.preadv2(fd, iov, cnt, off, flags);
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return preadv2(fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_pwritev(fd, iov, cnt, off, flags, 1);
	return accel_real.pwritev2(fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return pwritev2(fd, iov, cnt, off, flags);
}

EXPORT int fsync(int fd)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_sync(fd, 0);
	return accel_real.fsync(fd);
}

EXPORT int fdatasync(int fd)
{
	FD_GUARD(fd);
	if (unlikely(files_fd(fd)))
		return files_sync(fd, 1);
	return accel_real.fdatasync(fd);
}

/* ---- opening ------------------------------------------------------------ */

static mode_t open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ?
	       va_arg(ap, mode_t) : 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return files_opened(opened(accel_real.open(path, flags, mode)), path, flags);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return files_opened(opened(accel_real.open(path, flags, mode)), path, flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return files_opened(opened(accel_real.openat(dirfd, path, flags, mode)), path, flags);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return files_opened(opened(accel_real.openat(dirfd, path, flags, mode)), path, flags);
}

EXPORT int creat(const char *path, mode_t mode)
{
	return files_opened(opened(accel_real.creat(path, mode)), path,
			    O_CREAT | O_WRONLY | O_TRUNC);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	return files_opened(opened(accel_real.creat(path, mode)), path,
			    O_CREAT | O_WRONLY | O_TRUNC);
}

/* The other calls that make descriptors: the program's go straight
 * through; DPDK's (its interrupt thread's epoll set, eventfds, timerfd,
 * memfd, pipes) go aside. */
EXPORT int eventfd(unsigned value, int flags)
{
	return opened(accel_real.eventfd(value, flags));
}

EXPORT int pipe(int fds[2])
{
	return opened_pair(accel_real.pipe(fds), fds);
}

EXPORT int pipe2(int fds[2], int flags)
{
	return opened_pair(accel_real.pipe2(fds, flags), fds);
}

EXPORT int timerfd_create(int clock, int flags)
{
	return opened(accel_real.timerfd_create(clock, flags));
}

EXPORT int memfd_create(const char *name, unsigned flags)
{
	return opened(accel_real.memfd_create(name, flags));
}

/* ---- descriptors -------------------------------------------------------- */

/* The shim forgets fd (a bypass socket's name, an epoll set's items). */
static void forget(int fd)
{
	enum fd_kind k = fdtable_kind(&accel_fds, fd);
	struct sk_thread *t;

	if (likely(k == FD_KERNEL))
		return;
	if (k == FD_PENDING)
		pending_clear(fd, FD_KERNEL);
	fdtable_set(&accel_fds, fd, FD_KERNEL);
	if (k == FD_BYPASS) {
		if ((t = bypass_thread()))
			SK_VOID(sk_close(t, fd));
		else
			sk_close_child(fd);
	} else if (k == FD_EPOLL && (t = bypass_thread())) {
		SK_VOID(sk_epoll_closed(t, fd));
	}
}

EXPORT int close(int fd)
{
	FD_GUARD(fd);
	forget(fd);
	if (unlikely(files_fd(fd)))
		files_closed(fd);
	return accel_real.close(fd);
}

/* Closes [lo, hi] around the shim's own descriptors, forgetting the
 * program's bypass sockets and epoll sets among them as close does: one
 * pass over the table's entries in the range. (In a forked child the
 * shim's descriptors are the parent's: they go too.) */
EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	int child = rt_state() == RT_CHILD, ours;

	if (rt_internal_caller() || lo > hi)
		return accel_real.close_range(lo, hi, flags);
	if (unlikely(accel_files_on))
		files_close_range(lo, hi, flags);
	for (unsigned fd = lo; (ours = fdtable_next(&accel_fds, fd, hi)) >= 0;
	     fd = (unsigned)ours + 1) {
		if (fdtable_kind(&accel_fds, ours) == FD_SHIM && !child) {
			if ((unsigned)ours > lo &&
			    accel_real.close_range(lo, (unsigned)ours - 1, flags) < 0)
				return -1;
			if ((unsigned)ours == hi)
				return 0;
			lo = (unsigned)ours + 1;
		} else if (!(flags & CLOSE_RANGE_CLOEXEC)) {
			forget(ours);
		}
		if ((unsigned)ours == hi)
			break;
	}
	return accel_real.close_range(lo, hi, flags);
}

/* glibc's closefrom closes with its own close_range, past the one above. */
EXPORT void closefrom(int lo)
{
	if (lo >= 0 && close_range((unsigned)lo, ~0u, 0) == 0)
		return;
	for (long fd = lo < 0 ? 0 : lo, n = sysconf(_SC_OPEN_MAX); fd < n; fd++)
		if (!hidden((int)fd))
			close((int)fd); /* (ours: forgets what it closes) */
}

/* ---- limits: the descriptor limit as the program sees it (fdreserve.h) - */

/* (prlimit64: new is read first, old written last, the change made;
 * with the reserve off, as in pass-through, the kernel answers all) */
__attribute__((noinline)) static int nofile_limits(const struct rlimit *new, struct rlimit *old)
{
	struct rlimit n, o;
	int r;

	if (new && accel_copy_in(&n, new, sizeof(n)) < 0)
		return set_errno(-EFAULT);
	r = fdres_prlimit(new ? &n : NULL, old ? &o : NULL);
	if (r == 0 && old && accel_copy_out(old, &o, sizeof(o)) < 0)
		r = -EFAULT;
	return set_errno(r);
}

/* (no locals of its own: ASan's start sets RLIMIT_CORE through here
 * before its shadow memory exists, so the path that is not ours must
 * touch nothing an ASan build of the shim would check) */
static int limits(pid_t pid, int resource, const struct rlimit *new, struct rlimit *old)
{
	if (resource == RLIMIT_NOFILE && (pid == 0 || pid == getpid()) && fdres_active())
		return nofile_limits(new, old);
	return (int)syscall(SYS_prlimit64, pid, resource, new, old);
}

EXPORT int getrlimit(__rlimit_resource_t resource, struct rlimit *rl)
{
	return limits(0, (int)resource, NULL, rl);
}

EXPORT int getrlimit64(__rlimit_resource_t resource, struct rlimit64 *rl)
{
	return limits(0, (int)resource, NULL, (struct rlimit *)rl);
}

EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit *rl)
{
	return limits(0, (int)resource, rl, NULL);
}

EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *rl)
{
	return limits(0, (int)resource, (const struct rlimit *)rl, NULL);
}

EXPORT int prlimit(pid_t pid, __rlimit_resource_t resource, const struct rlimit *new,
		   struct rlimit *old)
{
	return limits(pid, (int)resource, new, old);
}

EXPORT int prlimit64(pid_t pid, __rlimit_resource_t resource,
		     const struct rlimit64 *new, struct rlimit64 *old)
{
	return limits(pid, (int)resource, (const struct rlimit *)new, (struct rlimit *)old);
}

/* newfd is a kernel copy of oldfd: it names what oldfd names. */
static int dup_follow(int oldfd, int newfd)
{
	enum fd_kind k = fdtable_kind(&accel_fds, oldfd);
	struct sk_thread *t;

	if (newfd < 0 || oldfd == newfd)
		return newfd;
	if (unlikely(accel_files_on))
		files_dup(oldfd, newfd);
	if (fdtable_kind(&accel_fds, newfd) != FD_KERNEL)
		forget(newfd); /* dup2 over one of ours closed it */
	if (k == FD_INET) {
		fdtable_set(&accel_fds, newfd, FD_INET);
	} else if (k == FD_PENDING) {
		pending_set(newfd, pending_backlog[oldfd] & PENDING_BACKLOG);
		pending_backlog[newfd] = pending_backlog[oldfd];
	} else if (k == FD_BYPASS && (t = bypass_thread())) {
		SK_CALL(sk_dup(t, oldfd, newfd));
		fdtable_set(&accel_fds, newfd, FD_BYPASS);
	}
	return newfd;
}

EXPORT int dup(int fd)
{
	FD_GUARD(fd);
	if (unlikely(rt_internal_caller()))
		return rt_own_fd(accel_real.dup(fd));
	return dup_follow(fd, accel_real.dup(fd));
}

static int dup_target_ok(int newfd)
{
	if (fdtable_kind(&accel_fds, newfd) != FD_SHIM ||
	    rt_state() == RT_CHILD || rt_internal_caller())
		return 1;
	errno = EBUSY; /* dup2(2): Linux's answer when the slot is not free */
	return 0;
}

EXPORT int dup2(int oldfd, int newfd)
{
	FD_GUARD(oldfd);
	if (!dup_target_ok(newfd))
		return -1;
	if (oldfd != newfd && fdtable_kind(&accel_fds, newfd) != FD_KERNEL &&
	    accel_real.fcntl(oldfd, F_GETFD) >= 0)
		forget(newfd);
	return dup_follow(oldfd, accel_real.dup2(oldfd, newfd));
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	FD_GUARD(oldfd);
	if (!dup_target_ok(newfd))
		return -1;
	if (oldfd != newfd && fdtable_kind(&accel_fds, newfd) != FD_KERNEL &&
	    accel_real.fcntl(oldfd, F_GETFD) >= 0 && !(flags & ~O_CLOEXEC))
		forget(newfd);
	return dup_follow(oldfd, accel_real.dup3(oldfd, newfd, flags));
}

static int fcntl_call(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);
	struct sk_thread *t;
	int r;

	FD_GUARD(fd);
	if (unlikely(cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && rt_internal_caller())
		return opened(accel_real.fcntl(fd, cmd, arg));
	if (unlikely(files_fd(fd)))
		return files_fcntl(fd, cmd, arg);
	if (likely(fdtable_kind(&accel_fds, fd) == FD_KERNEL) || rt_internal_caller())
		return accel_real.fcntl(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return dup_follow(fd, accel_real.fcntl(fd, cmd, arg));
	if (fdtable_kind(&accel_fds, fd) == FD_PENDING && (cmd == F_GETFL || cmd == F_SETFL)) {
		r = accel_real.fcntl(fd, cmd, arg);
		if (r >= 0 && cmd == F_GETFL)
			r = (r & ~O_NONBLOCK) | (pending_nonblock(fd, -1) ? O_NONBLOCK : 0);
		else if (r == 0)
			pending_nonblock(fd, !!((int)(intptr_t)arg & O_NONBLOCK));
		return r;
	}
	if (!is_bypass(fd) || !(t = bypass_thread()))
		return accel_real.fcntl(fd, cmd, arg);
	if (cmd == F_GETFL) {
		r = accel_real.fcntl(fd, cmd, arg);
		if (r >= 0)
			r = (r & ~O_NONBLOCK) | (SK_CALL(sk_nonblock(t, fd, -1)) > 0 ? O_NONBLOCK : 0);
		return r;
	}
	if (cmd == F_SETFL) {
		int fl = (int)(intptr_t)arg;

		r = accel_real.fcntl(fd, cmd, arg);
		if (r == 0)
			SK_CALL(sk_nonblock(t, fd, !!(fl & O_NONBLOCK)));
		return r;
	}
	return accel_real.fcntl(fd, cmd, arg);
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = fcntl_call(fd, cmd, ap);
	va_end(ap);
	return r;
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = fcntl_call(fd, cmd, ap);
	va_end(ap);
	return r;
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	FD_GUARD(fd);
	if (fdtable_kind(&accel_fds, fd) == FD_PENDING && req == FIONBIO &&
	    !rt_internal_caller() && arg) {
		int on;

		if (accel_real.ioctl(fd, req, arg) < 0)
			return -1;
		if (accel_copy_in(&on, arg, sizeof(on)) == 0)
			pending_nonblock(fd, on != 0);
		return 0;
	}
	if (is_bypass(fd)) {
		struct sk_thread *t = bypass_thread();
		int r, v = 0;

		if (!t)
			return set_errno(-EBADF);
		if (req == FIONBIO) {
			if (!arg)
				return set_errno(-EFAULT);
			if (accel_real.ioctl(fd, req, arg) < 0)
				return -1;
			SK_CALL(sk_nonblock(t, fd, *(int *)arg != 0));
			return 0;
		}
		r = SK_CALL(sk_ioctl(t, fd, req, &v));
		if (r == 0)
			r = accel_copy_out(arg, &v, sizeof(v)); /* (put_user) */
		if (r <= 0)
			return set_errno(r);
	}
	return accel_real.ioctl(fd, req, arg);
}

/* The child's state is switched by the pthread_atfork handler (runtime.c),
 * which also covers forks made inside libc (daemon(3)). */
EXPORT pid_t fork(void)
{
	return accel_real.fork();
}

/* ---- waiting ------------------------------------------------------------ */

static int epoll_made(int epfd)
{
	struct sk_thread *t;

	if (epfd >= 0 && rt_state() == RT_UP && !rt_internal_caller() &&
	    (t = bypass_thread())) {
		forget(epfd); /* a number the program closed behind our back */
		fdtable_set(&accel_fds, epfd, FD_EPOLL);
		SK_VOID(sk_epoll_created(t, epfd));
	}
	return epfd;
}

/* DPDK's interrupt thread makes a new epoll set each time its sources
 * change, and aborts the program when it cannot (rte_panic "Cannot create
 * epoll instance"): when the program holds every number under its limit
 * (memcached at its -c), the set is made in the reserve. */
static int intr_epoll_fd(int fd, int (*make)(int), int arg)
{
	if (unlikely(fd < 0) && errno == EMFILE && rt_internal_caller() &&
	    sk_thread_is_internal())
		return set_errno(fdres_make(make, arg));
	return fd;
}

EXPORT int epoll_create(int size)
{
	return epoll_made(opened(intr_epoll_fd(accel_real.epoll_create(size),
					       accel_real.epoll_create, size)));
}

EXPORT int epoll_create1(int flags)
{
	return epoll_made(opened(intr_epoll_fd(accel_real.epoll_create1(flags),
					       accel_real.epoll_create1, flags)));
}

/* A bypass socket joins the set as an item of the socket layer; a dual
 * listener's kernel half joins the kernel set as well. */
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct epoll_event e;
	struct sk_thread *t;

	FD_GUARD(epfd);
	FD_GUARD(fd);
	if (op == EPOLL_CTL_ADD)
		pending_check(fd);
	if (!is_bypass(fd) || !(t = bypass_thread())) {
		int r = accel_real.epoll_ctl(epfd, op, fd, ev);

		if (r == 0 && op == EPOLL_CTL_ADD && fdtable_kind(&accel_fds, fd) == FD_INET) {
			__atomic_store_n(&inet_in_kernel_set, 1, __ATOMIC_RELAXED);
			if (fdtable_kind(&accel_fds, epfd) == FD_KERNEL) /* (found by connect) */
				fdtable_set(&accel_fds, epfd, FD_EPOLL);
		}
		/* count the kernel's members of sets that may hold ours */
		if (r == 0 && op != EPOLL_CTL_MOD && !rt_internal_caller() &&
		    fdtable_kind(&accel_fds, epfd) == FD_EPOLL && (t = bypass_thread()))
			SK_VOID(sk_epoll_kernel_member(t, epfd, op == EPOLL_CTL_ADD ? 1 : -1));
		return r;
	}
	/* the event is read first of all (do_epoll_ctl's copy_from_user) */
	if (op != EPOLL_CTL_DEL && accel_copy_in(&e, ev, sizeof(e)) < 0)
		return set_errno(-EFAULT);
	if (fdtable_kind(&accel_fds, epfd) == FD_KERNEL)
		fdtable_set(&accel_fds, epfd, FD_EPOLL);
	return set_errno(SK_CALL(sk_epoll_ctl(t, epfd, op, fd, op == EPOLL_CTL_DEL ? ev : &e)));
}

/*
 * The waits read what the program passes before they wait, and the kernel
 * says EFAULT at once when it cannot: where a probe (common/guard.h) finds
 * such an argument unreadable, the call goes to the kernel, which gives
 * its own answer (EFAULT, or the EINVAL it checks first) without waiting.
 * What they write back is probed for writing first: EFAULT at once where
 * the kernel would say it when it writes. A probe touches each page once
 * and makes no system call: benchmarks/callcost.c with the port up,
 * median of 3 runs, poll 963 ns before and 942 after, epoll_wait 976 and
 * 992 (a ready kernel fd, 0 ms): within the noise.
 */
#define KSIGSET_SIZE (_NSIG / 8) /* the kernel's sigset_t, all it reads */

static int readable(const void *p, size_t n)
{
	return !p || accel_probe(p, n, 0) == 0;
}

/* Events the stack found go out one by one: the kernel stops at the
 * first it cannot write, and says EFAULT if that is the first
 * (ep_send_events). Used when the program's array does not take max
 * events whole; the kernel puts an event it could not write back, the
 * shim drops it (a level-triggered one is reported again). */
#define EP_BOUNCE 64

static int epoll_bounce(struct sk_thread *t, int epfd, struct epoll_event *ev, int max,
			int64_t timeout_ns, const sigset_t *mask)
{
	struct epoll_event k[EP_BOUNCE];
	int r, n = 0;

	accel_tls.depth++;
	r = sk_epoll_wait(t, epfd, k, max < EP_BOUNCE ? max : EP_BOUNCE, timeout_ns, mask);
	accel_tls.depth--;
	while (n < r && accel_copy_out(ev + n, k + n, sizeof(*k)) == 0)
		n++;
	return set_errno(r > 0 && !n ? -EFAULT : r > 0 ? n : r);
}

static int epoll_common(int epfd, struct epoll_event *ev, int max,
			int64_t timeout_ns, const sigset_t *mask)
{
	struct sk_thread *t = rt_thread();
	int r;

	if (!readable(mask, KSIGSET_SIZE))
		return -2; /* the kernel's call: EFAULT at once */
	if (max > 0 && (size_t)max <= INT_MAX / sizeof(*ev) &&
	    accel_probe(ev, (size_t)max * sizeof(*ev), 1) < 0)
		return epoll_bounce(t, epfd, ev, max, timeout_ns, mask);
	accel_tls.depth++;
	r = sk_epoll_wait(t, epfd, ev, max, timeout_ns, mask);
	accel_tls.depth--;
	return set_errno(r);
}

EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	FD_GUARD(epfd);
	if (!rt_thread())
		return accel_real.epoll_wait(epfd, ev, max, timeout);
	return epoll_common(epfd, ev, max, ms_to_ns(timeout), NULL);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout,
		       const sigset_t *mask)
{
	int r;

	FD_GUARD(epfd);
	if (!rt_thread() ||
	    (r = epoll_common(epfd, ev, max, ms_to_ns(timeout), mask)) == -2)
		return accel_real.epoll_pwait(epfd, ev, max, timeout, mask);
	return r;
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			const struct timespec *timeout, const sigset_t *mask)
{
	int64_t ns;
	int r;

	FD_GUARD(epfd);
	if (!rt_thread() || !readable(timeout, sizeof(*timeout)) ||
	    (ns = ts_to_ns(timeout)) == -2 || (r = epoll_common(epfd, ev, max, ns, mask)) == -2)
		return accel_real.epoll_pwait2(epfd, ev, max, timeout, mask);
	return r;
}

/* -2: the kernel's call (do_sys_poll copies the array in first) */
static int poll_common(struct pollfd *fds, nfds_t n, int64_t timeout_ns,
		       const sigset_t *mask)
{
	struct sk_thread *t = rt_thread();
	int r;

	if (!readable(mask, KSIGSET_SIZE) || n > SIZE_MAX / sizeof(*fds))
		return -2;
	if (accel_probe(fds, n * sizeof(*fds), 1) < 0)
		return readable(fds, n * sizeof(*fds)) ? set_errno(-EFAULT) : -2;
	accel_tls.depth++;
	r = sk_poll(t, fds, n, timeout_ns, mask);
	accel_tls.depth--;
	return set_errno(r);
}

/* A poll over a listener made before the port started is its first use
 * of the data path (the scan only while there are such). */
static void pending_poll(uintptr_t addr, nfds_t n)
{
	const struct pollfd *fds = (const struct pollfd *)addr;

	if (likely(!__atomic_load_n(&pending_live, __ATOMIC_RELAXED)) ||
	    !readable(fds, n * sizeof(*fds)))
		return;
	for (nfds_t i = 0; i < n; i++)
		pending_check(fds[i].fd);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	int r;

	pending_poll((uintptr_t)fds, n); /* (glibc says poll only writes fds) */
	if (!rt_thread() || (r = poll_common(fds, n, ms_to_ns(timeout), NULL)) == -2)
		return accel_real.poll(fds, n, timeout);
	return r;
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
		 const sigset_t *mask)
{
	int64_t ns;
	int r;

	pending_poll((uintptr_t)fds, n); /* (glibc says poll only writes fds) */
	if (!rt_thread() || !readable(timeout, sizeof(*timeout)) ||
	    (ns = ts_to_ns(timeout)) == -2 || (r = poll_common(fds, n, ns, mask)) == -2)
		return accel_real.ppoll(fds, n, timeout, mask);
	return r;
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
		       const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, timeout, mask);
}

/* Whether the sets' nfds bits (whole longs: get_fd_set) can be read (0),
 * or written (1). */
static int sets_ok(int nfds, fd_set *r, fd_set *w, fd_set *e, int write)
{
	size_t n = (size_t)(nfds + 63) / 64 * 8;

	return (!r || accel_probe(r, n, write) == 0) && (!w || accel_probe(w, n, write) == 0) &&
	       (!e || accel_probe(e, n, write) == 0);
}

/* -2: the kernel's call (core_sys_select reads the sets first) */
static int select_common(int nfds, fd_set *r, fd_set *w, fd_set *e,
			 int64_t timeout_ns, const sigset_t *mask)
{
	struct sk_thread *t = rt_thread();
	int rc;

	if (!readable(mask, KSIGSET_SIZE))
		return -2;
	if (!sets_ok(nfds, r, w, e, 1))
		return sets_ok(nfds, r, w, e, 0) ? set_errno(-EFAULT) : -2;
	accel_tls.depth++;
	rc = sk_select(t, nfds, r, w, e, timeout_ns, mask);
	accel_tls.depth--;
	return set_errno(rc);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The same for a select's read set. */
static void pending_select(int nfds, const fd_set *r)
{
	if (likely(!__atomic_load_n(&pending_live, __ATOMIC_RELAXED)) || !r ||
	    nfds < 0 || nfds > FD_SETSIZE || !readable(r, (size_t)(nfds + 63) / 64 * 8))
		return;
	for (int fd = 0; fd < nfds; fd++)
		if (FD_ISSET(fd, r))
			pending_check(fd);
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct timeval t;
	int64_t ns, start;
	int rc;

	pending_select(nfds, r);
	if (!rt_thread() || nfds < 0 || nfds > FD_SETSIZE ||
	    (tv && accel_copy_in(&t, tv, sizeof(t)) < 0) ||
	    (tv && (t.tv_sec < 0 || t.tv_usec < 0 || t.tv_usec >= 1000000)))
		return accel_real.select(nfds, r, w, e, tv);
	ns = tv ? (int64_t)t.tv_sec * 1000000000 + t.tv_usec * 1000 : SK_FOREVER;
	start = mono_ns();
	rc = select_common(nfds, r, w, e, ns, NULL);
	if (rc == -2)
		return accel_real.select(nfds, r, w, e, tv);
	if (tv) { /* Linux writes back the time not slept (select(2) NOTES),
		   * and ignores a timeval it cannot write (poll_select_finish) */
		int64_t left = ns - (mono_ns() - start);

		if (left < 0)
			left = 0;
		t.tv_sec = left / 1000000000;
		t.tv_usec = (left % 1000000000) / 1000;
		accel_copy_out(tv, &t, sizeof(t));
	}
	return rc;
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *timeout, const sigset_t *mask)
{
	int64_t ns;
	int rc;

	pending_select(nfds, r);
	if (!rt_thread() || nfds < 0 || nfds > FD_SETSIZE || !readable(timeout, sizeof(*timeout)) ||
	    (ns = ts_to_ns(timeout)) == -2 || (rc = select_common(nfds, r, w, e, ns, mask)) == -2)
		return accel_real.pselect(nfds, r, w, e, timeout, mask);
	return rc;
}
