/*
 * real.c - resolution of the C library's interposed functions, and the
 * raw-syscall stand-ins used until it is done. See real.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "sigasync.h"

/* Stand-ins: the same contract (return -1 and set errno) through syscall(). */
static int fb_socket(int d, int t, int p) { return (int)syscall(SYS_socket, d, t, p); }
static int fb_socketpair(int d, int t, int p, int *sv) { return (int)syscall(SYS_socketpair, d, t, p, sv); }
static int fb_bind(int fd, const struct sockaddr *a, socklen_t l) { return (int)syscall(SYS_bind, fd, a, l); }
static int fb_listen(int fd, int b) { return (int)syscall(SYS_listen, fd, b); }
static int fb_accept(int fd, struct sockaddr *a, socklen_t *l) { return (int)syscall(SYS_accept4, fd, a, l, 0); }
static int fb_accept4(int fd, struct sockaddr *a, socklen_t *l, int f) { return (int)syscall(SYS_accept4, fd, a, l, f); }
static int fb_connect(int fd, const struct sockaddr *a, socklen_t l) { return (int)syscall(SYS_connect, fd, a, l); }
static int fb_shutdown(int fd, int how) { return (int)syscall(SYS_shutdown, fd, how); }
static int fb_getsockopt(int fd, int l, int o, void *v, socklen_t *n) { return (int)syscall(SYS_getsockopt, fd, l, o, v, n); }
static int fb_setsockopt(int fd, int l, int o, const void *v, socklen_t n) { return (int)syscall(SYS_setsockopt, fd, l, o, v, n); }
static int fb_getsockname(int fd, struct sockaddr *a, socklen_t *l) { return (int)syscall(SYS_getsockname, fd, a, l); }
static int fb_getpeername(int fd, struct sockaddr *a, socklen_t *l) { return (int)syscall(SYS_getpeername, fd, a, l); }
static ssize_t fb_read(int fd, void *b, size_t n) { return syscall(SYS_read, fd, b, n); }
static ssize_t fb_write(int fd, const void *b, size_t n) { return syscall(SYS_write, fd, b, n); }
static ssize_t fb_readv(int fd, const struct iovec *v, int n) { return syscall(SYS_readv, fd, v, n); }
static ssize_t fb_writev(int fd, const struct iovec *v, int n) { return syscall(SYS_writev, fd, v, n); }
static ssize_t fb_recv(int fd, void *b, size_t n, int f) { return syscall(SYS_recvfrom, fd, b, n, f, NULL, NULL); }
static ssize_t fb_recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { return syscall(SYS_recvfrom, fd, b, n, f, a, l); }
static ssize_t fb_recvmsg(int fd, struct msghdr *m, int f) { return syscall(SYS_recvmsg, fd, m, f); }
static int fb_recvmmsg(int fd, struct mmsghdr *m, unsigned n, int f, struct timespec *t) { return (int)syscall(SYS_recvmmsg, fd, m, n, f, t); }
static ssize_t fb_send(int fd, const void *b, size_t n, int f) { return syscall(SYS_sendto, fd, b, n, f, NULL, 0); }
static ssize_t fb_sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { return syscall(SYS_sendto, fd, b, n, f, a, l); }
static ssize_t fb_sendmsg(int fd, const struct msghdr *m, int f) { return syscall(SYS_sendmsg, fd, m, f); }
static int fb_sendmmsg(int fd, struct mmsghdr *m, unsigned n, int f) { return (int)syscall(SYS_sendmmsg, fd, m, n, f); }
static ssize_t fb_pread(int fd, void *b, size_t n, off_t o) { return syscall(SYS_pread64, fd, b, n, o); }
static ssize_t fb_pwrite(int fd, const void *b, size_t n, off_t o) { return syscall(SYS_pwrite64, fd, b, n, o); }
/* preadv/pwritev take the offset split in two longs (low, high). */
static ssize_t fb_preadv(int fd, const struct iovec *v, int n, off_t o) { return syscall(SYS_preadv, fd, v, n, (long)o, 0L); }
static ssize_t fb_pwritev(int fd, const struct iovec *v, int n, off_t o) { return syscall(SYS_pwritev, fd, v, n, (long)o, 0L); }
static ssize_t fb_preadv2(int fd, const struct iovec *v, int n, off_t o, int f) { return syscall(SYS_preadv2, fd, v, n, (long)o, 0L, f); }
static ssize_t fb_pwritev2(int fd, const struct iovec *v, int n, off_t o, int f) { return syscall(SYS_pwritev2, fd, v, n, (long)o, 0L, f); }
static int fb_epoll_create(int n) { return n <= 0 ? (errno = EINVAL, -1) : (int)syscall(SYS_epoll_create1, 0); }
static int fb_epoll_create1(int f) { return (int)syscall(SYS_epoll_create1, f); }
static int fb_epoll_ctl(int ep, int op, int fd, struct epoll_event *e) { return (int)syscall(SYS_epoll_ctl, ep, op, fd, e); }
static int fb_epoll_wait(int ep, struct epoll_event *e, int n, int t) { return (int)syscall(SYS_epoll_wait, ep, e, n, t); }
static int fb_epoll_pwait(int ep, struct epoll_event *e, int n, int t, const sigset_t *s) { return (int)syscall(SYS_epoll_pwait, ep, e, n, t, s, _NSIG / 8); }
static int fb_epoll_pwait2(int ep, struct epoll_event *e, int n, const struct timespec *t, const sigset_t *s) { return (int)syscall(SYS_epoll_pwait2, ep, e, n, t, s, _NSIG / 8); }
static int fb_poll(struct pollfd *p, nfds_t n, int t) { return (int)syscall(SYS_poll, p, n, t); }
static int fb_ppoll(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *s)
{
	struct timespec copy, *tp = NULL;

	if (t) { /* the kernel writes the time left back; the libc call does not */
		copy = *t;
		tp = &copy;
	}
	return (int)syscall(SYS_ppoll, p, n, tp, s, _NSIG / 8);
}
static int fb_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) { return (int)syscall(SYS_select, n, r, w, e, t); }
static int fb_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *s)
{
	struct timespec copy, *tp = NULL;
	struct { const sigset_t *ss; size_t len; } data = { s, _NSIG / 8 };

	if (t) {
		copy = *t;
		tp = &copy;
	}
	return (int)syscall(SYS_pselect6, n, r, w, e, tp, &data);
}
static int fb_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static int fb_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}
static int fb_close(int fd) { return (int)syscall(SYS_close, fd); }
static int fb_close_range(unsigned a, unsigned b, int f) { return (int)syscall(SYS_close_range, a, b, f); }
static int fb_dup(int fd) { return (int)syscall(SYS_dup, fd); }
static int fb_dup2(int a, int b) { return (int)syscall(SYS_dup2, a, b); }
static int fb_dup3(int a, int b, int f) { return (int)syscall(SYS_dup3, a, b, f); }
static pid_t fb_fork(void) { return (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0); }
static int fb_fsync(int fd) { return (int)syscall(SYS_fsync, fd); }
static int fb_fdatasync(int fd) { return (int)syscall(SYS_fdatasync, fd); }
static int fb_open(const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = va_arg(ap, mode_t);
	va_end(ap);
	return (int)syscall(SYS_openat, AT_FDCWD, p, f, m);
}
static int fb_openat(int d, const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = va_arg(ap, mode_t);
	va_end(ap);
	return (int)syscall(SYS_openat, d, p, f, m);
}
static int fb_creat(const char *p, mode_t m) { return (int)syscall(SYS_openat, AT_FDCWD, p, O_CREAT | O_WRONLY | O_TRUNC, m); }
static int fb_eventfd(unsigned v, int f) { return (int)syscall(SYS_eventfd2, v, f); }
static int fb_pipe(int *p) { return (int)syscall(SYS_pipe2, p, 0); }
static int fb_pipe2(int *p, int f) { return (int)syscall(SYS_pipe2, p, f); }
static int fb_timerfd_create(int c, int f) { return (int)syscall(SYS_timerfd_create, c, f); }
static int fb_memfd_create(const char *n, unsigned f) { return (int)syscall(SYS_memfd_create, n, f); }

#define ACCEL_REAL_FALLBACK(ret, name, params) .name = fb_##name,
struct accel_real accel_real = { ACCEL_REAL_CALLS(ACCEL_REAL_FALLBACK) };
#undef ACCEL_REAL_FALLBACK

static int resolved; /* 0 no, 1 under way, 2 done */

void accel_real_resolve(void)
{
	int expect = 0;

	if (!__atomic_compare_exchange_n(&resolved, &expect, 1, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return; /* done, or another thread is at it: fallbacks serve */
#define ACCEL_REAL_LOOKUP(ret, name, params)                                \
	do {                                                                \
		void *sym = dlsym(RTLD_NEXT, #name);                        \
		if (sym)                                                    \
			__atomic_store_n((void **)&accel_real.name, sym,    \
					 __ATOMIC_RELEASE);                 \
	} while (0);
	ACCEL_REAL_CALLS(ACCEL_REAL_LOOKUP)
#undef ACCEL_REAL_LOOKUP
	__atomic_store_n(&resolved, 2, __ATOMIC_RELEASE);
}

/* (common/sigasync.h) */
__thread unsigned accel_sig_seq __attribute__((tls_model("initial-exec")));
