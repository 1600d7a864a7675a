/*
 * real.h - the C library's own versions of every call libaccel interposes.
 *
 * libaccel exports read, epoll_wait, ... so a plain call from inside the
 * shim would land on the shim again. Every layer above stack/ that needs
 * the kernel calls through accel_real instead.
 *
 * The table starts out pointing at raw-syscall fallbacks and is switched
 * to the dlsym(RTLD_NEXT) results by accel_real_resolve(), which the
 * library constructor runs. So a call that arrives before that (another
 * library's constructor) or during it (dlsym allocating through an
 * interposed malloc that opens a file) still reaches the kernel, never
 * recurses and never waits.
 */
#ifndef ACCEL_COMMON_REAL_H
#define ACCEL_COMMON_REAL_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

/* X(return type, name, parameter list) */
#define ACCEL_REAL_CALLS(X) \
	X(int, socket, (int, int, int)) \
	X(int, socketpair, (int, int, int, int *)) \
	X(int, bind, (int, const struct sockaddr *, socklen_t)) \
	X(int, listen, (int, int)) \
	X(int, accept, (int, struct sockaddr *, socklen_t *)) \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int)) \
	X(int, connect, (int, const struct sockaddr *, socklen_t)) \
	X(int, shutdown, (int, int)) \
	X(int, getsockopt, (int, int, int, void *, socklen_t *)) \
	X(int, setsockopt, (int, int, int, const void *, socklen_t)) \
	X(int, getsockname, (int, struct sockaddr *, socklen_t *)) \
	X(int, getpeername, (int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, read, (int, void *, size_t)) \
	X(ssize_t, write, (int, const void *, size_t)) \
	X(ssize_t, readv, (int, const struct iovec *, int)) \
	X(ssize_t, writev, (int, const struct iovec *, int)) \
	X(ssize_t, recv, (int, void *, size_t, int)) \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int)) \
	X(int, recvmmsg, (int, struct mmsghdr *, unsigned, int, struct timespec *)) \
	X(ssize_t, send, (int, const void *, size_t, int)) \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int)) \
	X(int, sendmmsg, (int, struct mmsghdr *, unsigned, int)) \
	X(ssize_t, pread, (int, void *, size_t, off_t)) \
	X(ssize_t, pwrite, (int, const void *, size_t, off_t)) \
	X(ssize_t, preadv, (int, const struct iovec *, int, off_t)) \
	X(ssize_t, pwritev, (int, const struct iovec *, int, off_t)) \
	X(ssize_t, preadv2, (int, const struct iovec *, int, off_t, int)) \
	X(ssize_t, pwritev2, (int, const struct iovec *, int, off_t, int)) \
	X(int, epoll_create, (int)) \
	X(int, epoll_create1, (int)) \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *)) \
	X(int, epoll_wait, (int, struct epoll_event *, int, int)) \
	X(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *)) \
	X(int, epoll_pwait2, (int, struct epoll_event *, int, const struct timespec *, const sigset_t *)) \
	X(int, poll, (struct pollfd *, nfds_t, int)) \
	X(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *)) \
	X(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *)) \
	X(int, pselect, (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *)) \
	X(int, fcntl, (int, int, ...)) \
	X(int, ioctl, (int, unsigned long, ...)) \
	X(int, close, (int)) \
	X(int, close_range, (unsigned, unsigned, int)) \
	X(int, dup, (int)) \
	X(int, dup2, (int, int)) \
	X(int, dup3, (int, int, int)) \
	X(pid_t, fork, (void)) \
	X(int, fsync, (int)) \
	X(int, fdatasync, (int)) \
	X(int, open, (const char *, int, ...)) \
	X(int, openat, (int, const char *, int, ...)) \
	X(int, creat, (const char *, mode_t)) \
	X(int, eventfd, (unsigned, int)) \
	X(int, pipe, (int *)) \
	X(int, pipe2, (int *, int)) \
	X(int, timerfd_create, (int, int)) \
	X(int, memfd_create, (const char *, unsigned))

#define ACCEL_REAL_FIELD(ret, name, params) ret (*name) params;
struct accel_real {
	ACCEL_REAL_CALLS(ACCEL_REAL_FIELD)
};
#undef ACCEL_REAL_FIELD

extern struct accel_real accel_real;

/* Swaps the fallbacks for the C library's functions. Idempotent, safe to
 * call from several threads; never blocks. */
void accel_real_resolve(void);

#endif
