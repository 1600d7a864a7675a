/*
 * fdtable.h - what the shim knows about each descriptor number.
 *
 * An array indexed by fd, as large as the kernel's own limit (nr_open) but
 * mapped lazily, so a lookup is one bounds check and one load, with no
 * lock. A descriptor with no entry is the kernel's and goes to libc. Each
 * entry (struct sk_fd, sockets/sockets.h) holds this layer's kind and the
 * socket layer's objects for the fd, its bypass socket or epoll set
 * (sk_fds_init): one table for both.
 *
 * Kinds: FD_SHIM marks the shim's own descriptors (its wait sets, the DPDK
 * port's queues and sockets), which the program never opened and so must
 * not be able to close or overwrite. FD_INET is a kernel TCP/IPv4 socket
 * that may still become a bypass socket (at bind, listen or connect);
 * FD_BYPASS names a bypass socket (sockets/sock.c); FD_EPOLL an epoll set
 * that may hold bypass sockets. FD_PENDING is a kernel listener on the
 * wildcard made before the port started: it becomes a dual listener where
 * the process that has it first needs the data path (interpose.c).
 */
#ifndef ACCEL_PRELOAD_FDTABLE_H
#define ACCEL_PRELOAD_FDTABLE_H

#include <stdint.h>

#include "../sockets/sockets.h"

enum fd_kind {
	FD_KERNEL = 0,   /* not ours: straight to libc */
	FD_SHIM,         /* the shim's own */
	FD_INET,         /* a kernel TCP socket, not yet bound or connected */
	FD_BYPASS,       /* a bypass socket's placeholder */
	FD_EPOLL,        /* an epoll set the program made */
	FD_PENDING,      /* a wildcard listener waiting for the port to start */
};

struct fd_table {
	struct sk_fd *ent; /* one per fd */
	unsigned size;
};

extern struct fd_table accel_fds;

/* Maps the table; returns 0 or -errno. Before it, every fd is FD_KERNEL. */
int fdtable_init(struct fd_table *t, unsigned size);
void fdtable_fini(struct fd_table *t);

static inline enum fd_kind fdtable_kind(const struct fd_table *t, int fd)
{
	if ((unsigned)fd >= t->size)
		return FD_KERNEL;
	return (enum fd_kind)__atomic_load_n(&t->ent[fd].kind, __ATOMIC_ACQUIRE);
}

static inline void fdtable_set(struct fd_table *t, int fd, enum fd_kind k)
{
	if ((unsigned)fd < t->size)
		__atomic_store_n(&t->ent[fd].kind, (uint8_t)k, __ATOMIC_RELEASE);
}

/* The first fd in [lo, hi] with an entry (any kind but FD_KERNEL), or -1. */
int fdtable_next(const struct fd_table *t, unsigned lo, unsigned hi);

/* The kernel's per-process descriptor ceiling (/proc/sys/fs/nr_open). */
unsigned fdtable_kernel_max(void);

#endif
