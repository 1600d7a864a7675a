/*
 * sockets.h - the socket layer: what a thread of the program sees of the
 * userspace network.
 *
 * A thread that takes part gets one struct sk_thread: its way into the
 * process's stack (one stack on one device queue, shared by the threads
 * under its lock, which a lone user takes without a locked instruction)
 * and its own sleeping set. The waiting calls (epoll,
 * poll, select, blocking reads) run the stack while they wait, then sleep
 * in the kernel on the program's own descriptors plus the queue's receive
 * interrupt and the thread's notify fd, so the port is served while the
 * program sits in its event loop and an idle program costs no CPU.
 *
 * Bypass sockets (sock.c) are TCP sockets of the program that the stack
 * serves; each is named by a descriptor that is also a real kernel socket
 * (its placeholder), so numbers, dup and close work as ever.
 *
 * Every function here is called by the thread that owns the sk_thread.
 * They return negative errno values; errno is set only in preload/.
 */
#ifndef ACCEL_SOCKETS_H
#define ACCEL_SOCKETS_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../stack/stack.h"
#include "spin.h"

/* A timeout in nanoseconds; SK_FOREVER blocks until something happens. */
#define SK_FOREVER (-1LL)

/* At most this many threads have a stack: one per device queue. */
#define SK_MAX_THREADS 16

struct dev_net_ops;

struct sk_net_conf {
	/* the process's port (sk_net_start) */
	const char *share_group;  /* dev_net_conf.share_group */
	int (*group_lives)(void); /* dev_net_conf.group_lives */
	const struct dev_net_ops *dev; /* the device (dev/dev.h); NULL: DPDK's */
	const char *eal_args;     /* DPDK EAL arguments */
	unsigned queues, mbufs, link_wait_ms;
	int link_wait_set;        /* ACCEL_LINK_WAIT_MS given (dev.h) */
	int log_level;            /* for DPDK's own messages */
	const char *impair_tx, *impair_rx; /* dev/impair.h specs, or NULL */
	const char *pcap;         /* capture file (dev.h), or NULL / "" for none */
	unsigned pcap_snaplen;
	/* each thread's stack (sk_thread_create) */
	uint32_t ip;          /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway;     /* host byte order, 0 = none */
	uint64_t idle_poll_ns;/* sleep slice when the port has no interrupts */
	uint64_t spin_ns;     /* polling before a wait for bypass sockets sleeps,
			       * or SK_SPIN_ADAPTIVE: learnt per thread (spin.h) */
	/* a stack no thread polled for this long gets a turn from the shim's
	 * own progress thread (0: no such thread), which runs thread_init
	 * first (may be NULL) */
	uint64_t progress_ns;
	void (*thread_init)(void);
	/* the descriptors the port and each thread keep open for themselves
	 * (dev_net_conf.own_fd) */
	int (*own_fd)(int fd);
};

/* Starts the process's port (once): 0, or a negative errno with a short
 * reason in why. The layers above never see the device itself. */
int sk_net_start(const struct sk_net_conf *conf, char *why, size_t whylen);

/* At exit: closes the program's connections and runs the stacks until
 * they are done with their peers (sk_socks_exit); then the counters are
 * final. sk_net_stop does it too (once), then stops the port; both are
 * safe when it never started. */
void sk_net_finish(void);
void sk_net_stop(void);
/* At exit of a process whose port never started (dev_net_group_exit). */
void sk_net_group_exit(const char *eal_args);

/*
 * A signal is about to end the process (preload/signals.c: its
 * disposition is SIG_DFL and its default action ends the process): close
 * the bypass connections as the kernel closes a dying process's sockets
 * (a FIN, a RST where data was left unread, listeners reset their queued
 * connections), and run the stacks until those are done with their peers,
 * SK_DIE_LOCK_NS + SK_EXIT_DRAIN_NS at most. Called from the signal's
 * handler: it takes no lock it could wait on for ever, allocates and
 * frees nothing (stack_dying), and leaves out a stack another thread
 * keeps past SK_DIE_LOCK_NS. Once per process; a second caller waits for
 * the first (bounded). 0 when done (or nothing to do: no stacks, a forked
 * child); -EBUSY when the calling thread itself is inside the socket
 * layer (a stack's lock or the socket list: the state it was changing is
 * half done), and crash is 0: then sk_net_die_later. With crash set (a
 * fault, abort) nothing is closed then, and 0 returned: the process is
 * crashing in the middle of our own code.
 */
int sk_net_die(int crash);
/* After -EBUSY: die(sig) runs as soon as this thread lets go of the
 * socket layer's last lock, outside the handler (die calls sk_net_die
 * again, then lets the signal take effect). */
void sk_net_die_later(int sig, void (*die)(int sig));

/* True in threads the device layer made itself: they never get a stack. */
int sk_thread_is_internal(void);

/* Monotonic nanoseconds on the stacks' clock. */
uint64_t sk_now(void);

struct sk_thread;

/* Claims a device queue for the calling thread and starts a stack on it.
 * NULL when no queue is free or the stack refuses the configuration. */
struct sk_thread *sk_thread_create(const struct sk_net_conf *conf);

/* Returns the queue and frees the stack. */
void sk_thread_destroy(struct sk_thread *t);

/* Runs the thread's stack once: receive a burst, run timers, transmit.
 * Returns frames received, or -ESHUTDOWN once the port is closing. */
int sk_service(struct sk_thread *t);

/* The stacks' counters added up (zero when there is none); returns how
 * many stacks there are. */
int sk_net_stats(struct stack_stats *out);
/* Stack i's own counters (i < sk_net_stats's count): 0, or -ENOENT. */
int sk_net_stack_stats(unsigned i, struct stack_stats *out);
/* Stack i's line as the counters file has it ("stack stack=I queue=Q
 * threads=T rx_pkts=N ...", newline-ended); its length, 0 if none. */
size_t sk_net_stack_line(unsigned i, char *buf, size_t len);

/* The counters file accel-stat reads, /run/libaccel/PID.stats: rewritten
 * by the first caller after a second has passed on sk_now()'s clock (one
 * compare-and-swap otherwise), so any thread may call it on its own path;
 * the stacks' lines, then those of the source (lines of "name value";
 * returns the bytes put in buf). Unpublish removes it for good, at exit. */
void sk_stats_publish(uint64_t now);
/* The counters' "name value" lines of s (and the layer's own): the names
 * accel-stat and the exit line's counters line use. */
size_t sk_stats_format(const struct stack_stats *s, char *buf, size_t len);
void sk_stats_source(size_t (*fn)(char *buf, size_t len));
void sk_stats_unpublish(void);

/* What went which way: connections the stack served, and those of the
 * program's TCP sockets that the kernel served instead (fallbacks: the
 * kernel half of a dual listener, a connect to an address the port does
 * not reach). */
struct sk_counters {
	uint64_t bypass_accepts, bypass_connects;
	uint64_t kernel_accepts, kernel_connects;
	/* connections moved to their first user's stack; frames another
	 * stack steered here that found its ring full (dropped) */
	uint64_t handoffs, steer_drops;
	/* turns the progress thread gave stacks the program left alone */
	uint64_t progress_turns;
};
void sk_net_counters(struct sk_counters *out);
/* A TCP socket of the program connected through the kernel. */
void sk_note_kernel_connect(void);

/* The descriptors the thread's context holds open for itself (its
 * sleeping set and notify fd), which go with sk_thread_destroy. */
void sk_thread_fds(const struct sk_thread *t, int fds[2]);

/*
 * The waiting calls, with the kernel's contract: they return the kernel's
 * result for the program's descriptors (count, 0 on timeout) or a negative
 * errno (-EINTR when a signal arrives, exactly when the kernel would
 * return it). sigmask may be NULL.
 */
int sk_epoll_wait(struct sk_thread *t, int epfd, struct epoll_event *ev,
		  int maxevents, int64_t timeout_ns, const sigset_t *sigmask);
int sk_poll(struct sk_thread *t, struct pollfd *fds, nfds_t nfds,
	    int64_t timeout_ns, const sigset_t *sigmask);
int sk_select(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
	      fd_set *efds, int64_t timeout_ns, const sigset_t *sigmask);

/* Blocks until a kernel descriptor has one of events (POLLIN, ...) ready,
 * serving the stack meanwhile. 0 when ready; -EINTR on a signal. */
int sk_wait_fd(struct sk_thread *t, int fd, short events);

/*
 * Another source of completions for the waits (a storage queue): every
 * waiting call runs reap(ctx) at each of its looks (from any thread, at
 * once: reap must be safe so) and sleeps on fd too, which the source
 * makes readable when it has completions to reap. A look that reaped any
 * asks the kernel about the call's own descriptors at once, since the
 * source may have made one of them ready. Returns a slot for
 * sk_wait_source_del, or -ENOSPC (SK_WAIT_SOURCES), -EINVAL. The source
 * closes fd after sk_wait_source_del.
 */
#define SK_WAIT_SOURCES 2
int sk_wait_source_add(int fd, unsigned (*reap)(void *ctx), void *ctx);
void sk_wait_source_del(int slot);

/* ---- bypass sockets (sock.c, epoll.c) -----------------------------------
 * fd is the program's descriptor. Blocking calls wait as the socket's
 * O_NONBLOCK says (sk_nonblock), serving the stack meanwhile.
 */

struct sk_sock;
struct sk_ep;

/* One entry of the process's descriptor table (preload/fdtable.h), an
 * array indexed by fd as large as the kernel's descriptor limit: the
 * preload layer's kind of the descriptor, and the socket layer's objects
 * for it, so one lookup finds both. The socket layer's are read without a
 * lock (sock_impl.h says how). */
struct sk_fd {
	uint8_t kind;          /* enum fd_kind (preload/fdtable.h; atomic) */
	struct sk_sock *sock;  /* its bypass socket (atomic) */
	struct sk_ep *ep;      /* its epoll set, if it holds bypass sockets (atomic) */
};

/* The socket layer keeps its objects in fds, the table of size entries
 * (zeroed: none yet), for the rest of the process: 0, or -EINVAL. */
int sk_fds_init(struct sk_fd *fds, unsigned size);
/* 1 when a connect to ip (host order) goes through the port. */
int sk_route(struct sk_thread *t, uint32_t ip);
uint32_t sk_port_ip(struct sk_thread *t);

/* fd (a kernel TCP socket) bound to the port's address, or (dual) to the
 * wildcard, where the kernel bind was done too: 0, -EINVAL (fd is a
 * bypass socket already), or for the port's address -EADDRINUSE (another
 * bypass socket has the port: sk_port_free). port is never 0: the kernel
 * picks ephemeral ones (preload/). */
int sk_bind(struct sk_thread *t, int fd, uint32_t ip, uint16_t port, int dual);
/* 0 when fd, with its SO_REUSEADDR and SO_REUSEPORT, may bind port beside
 * the bypass sockets there by Linux's rules; -EADDRINUSE otherwise. (The
 * stack's TIME-WAIT connections are not counted.) */
int sk_port_free(struct sk_thread *t, int fd, uint16_t port);
/* (A dual socket listens in the kernel too.) */
int sk_listen(struct sk_thread *t, int fd, int backlog);
/* A new bypass descriptor, or (*kernel set) one the kernel half of a dual
 * listener accepted. */
int sk_accept(struct sk_thread *t, int fd, struct sockaddr *addr, socklen_t *len,
	      int flags, int *kernel);
/* Connects fd through the port (making it a bypass socket): 0,
 * -EINPROGRESS, or the error. */
int sk_connect(struct sk_thread *t, int fd, uint32_t ip, uint16_t port);
ssize_t sk_recv(struct sk_thread *t, int fd, const struct iovec *iov, int cnt, int flags);
ssize_t sk_send(struct sk_thread *t, int fd, const struct iovec *iov, int cnt, int flags);
int sk_shutdown(struct sk_thread *t, int fd, int how);
/* Forgets fd; its socket closes with the last descriptor naming it. The
 * caller closes the placeholder. */
void sk_close(struct sk_thread *t, int fd);
/* newfd (the kernel's dup of oldfd's placeholder) names oldfd's socket. */
int sk_dup(struct sk_thread *t, int oldfd, int newfd);
/* O_NONBLOCK as the program sees it, after it set the placeholder's: set
 * (1/0) or only read (-1); returns the value. */
int sk_nonblock(struct sk_thread *t, int fd, int set);
/* Options the placeholder cannot answer (SO_ERROR, SO_ACCEPTCONN): 1 and
 * *val filled; 0 when the placeholder's answer is right. */
int sk_getsockopt(struct sk_thread *t, int fd, int level, int name, void *val,
		  socklen_t *len);
/* An option the placeholder took, onto the connection. */
void sk_setsockopt(struct sk_thread *t, int fd, int level, int name, const void *val,
		   socklen_t len);
/* getsockname (peer 0) / getpeername: 0 and filled, or 1 when the
 * placeholder (a dual listener) answers. */
int sk_name(struct sk_thread *t, int fd, int peer, struct sockaddr *addr, socklen_t *len);
/* FIONREAD, TIOCOUTQ: 0 and *out; 1 when not ours. */
int sk_ioctl(struct sk_thread *t, int fd, unsigned long req, int *out);
/* epoll_ctl for a bypass fd in a program set (a dual listener's kernel
 * half joins the kernel set too). */
int sk_epoll_ctl(struct sk_thread *t, int epfd, int op, int fd, struct epoll_event *ev);
/* The program made an epoll set (while the port is up). */
void sk_epoll_created(struct sk_thread *t, int epfd);
/* A kernel fd joined (+1) or left (-1) a program epoll set (the kernel
 * accepted the change). */
void sk_epoll_kernel_member(struct sk_thread *t, int epfd, int delta);
/* The program closed an epoll set. */
void sk_epoll_closed(struct sk_thread *t, int epfd);
int sk_ep_has_items(int epfd);
/* In a forked child: bypass descriptors may only be closed. */
void sk_fork_child(void);
int sk_in_child(void);
void sk_close_child(int fd);
/* A listener on port made before the port started (a prefork master's,
 * copied into its workers by fork): until this process listens there
 * itself, a SYN to the port that reaches its stack is dropped, not
 * refused (stack_conf.quiet_ports), so the peer's retry finds the
 * listener: a worker's queue gets flows from the moment its port starts,
 * a moment before its copy of the listener joins the stack. */
void sk_quiet_port(uint16_t port);

#endif
