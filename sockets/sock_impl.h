/*
 * sock_impl.h - bypass sockets and the epoll sets that watch them, for
 * sock.c, epoll.c, wait.c and proc.c. A socket is guarded by its home
 * stack's lock; an epoll set by its home's, or by every stack's lock when
 * its members live on several (mixed). The descriptor table's entries
 * (struct sk_fd) are read without a lock: the objects they point to are
 * never given back to malloc, and a user checks, once it holds the home's
 * lock, that the fd still names the object and the object is still at
 * home there.
 */
#ifndef ACCEL_SOCK_IMPL_H
#define ACCEL_SOCK_IMPL_H

#include "sockets_impl.h"

enum sk_kind {
	SK_BOUND,       /* bound to the port's address or the wildcard */
	SK_LISTEN,
	SK_CONN,        /* connecting, connected, or over */
};

struct sk_ep;

/* One bypass socket in one program epoll set. */
struct sk_item {
	struct sk_ep *ep;
	struct sk_sock *s;
	int fd;
	uint32_t events;        /* what the program asked for */
	epoll_data_t data;
	uint32_t gen_seen;      /* edge-triggered: the socket's gen reported */
	uint8_t disabled;       /* EPOLLONESHOT fired; MOD re-arms */
	uint8_t on_rdy;         /* on its set's ready list */
	struct sk_item *ep_next, *ep_prev;   /* the set's items */
	struct sk_item *rdy_next, *rdy_prev; /* the set's ready list */
	struct sk_item *s_next;              /* the socket's items */
};

/* A program epoll set holding bypass sockets (its kernel members stay in
 * the kernel set). */
struct sk_ep {
	int epfd;
	struct sk_item *items;
	/* The items that may be ready: those whose socket changed since they
	 * were last found not ready, and the level-triggered ones that were
	 * ready then. A wait looks at these only, not at every item. */
	struct sk_item *rdy_head, *rdy_tail;
	unsigned nrdy;
	struct sk_thread *waiter;  /* the thread sleeping on it, if any */
	int kernel_members;        /* fds in the kernel set (-1: unknown; atomic) */
	/* the stack of its members (NULL while it has none yet); set, and
	 * mixed (members on several stacks) set, only under every lock */
	struct sk_stack *home;
	uint8_t mixed;
	struct sk_ep *free_next;
};

struct sk_sock {
	struct sk_stack *home;  /* the stack that serves it (atomic) */
	uint8_t placed;         /* its first user has had it: it stays */
	enum sk_kind kind;
	struct stack_tcp *c;    /* listener or connection; NULL while bound */
	int refs;               /* descriptors naming it (dup) */
	uint8_t dual;           /* bound to the wildcard: the placeholder is a
				 * real kernel listener too */
	uint8_t nonblock;       /* O_NONBLOCK as the program set it */
	uint8_t linger0;
	uint8_t reuseaddr, reuseport; /* SO_REUSEADDR, SO_REUSEPORT, for bind */
	uint32_t lip;           /* bound address and port (host order) */
	uint16_t lport;
	uint32_t gen;           /* bumped at each readiness change */
	uint32_t life;          /* bumped when it is freed (and reused) */
	struct sk_thread *waiter; /* a thread sleeping in a call on it */
	struct sk_item *items;  /* the epoll sets watching it */
	struct sk_sock *next, *prev; /* every live socket, for the exit */
	int fd;                 /* the first descriptor naming it (accel-stat) */
};

struct sk_sock *sk_get(int fd);
/* fd's socket if it lives on S (whose lock the caller holds). */
struct sk_sock *sk_get_on(int fd, const struct sk_stack *S);
/* Locks the home of fd's socket: 0 with *S locked and *s, -EBADF (fd
 * names none; nothing locked) or -ESHUTDOWN. */
int sk_lock_sock(int fd, struct sk_stack **S, struct sk_sock **s);
/* The first user of a connection, on its first I/O or epoll_ctl ADD, gets
 * it moved to `to` (sock.c); returns the stack now locked, s's home. */
struct sk_stack *sk_place(struct sk_sock *s, struct sk_stack *S, struct sk_stack *to);
/* The same with every lock held (a poll over sockets of several stacks). */
void sk_place_all_locked(struct sk_sock *s, struct sk_stack *to);
/* s is in a set whose members live on several stacks. */
int sk_sock_in_mixed(const struct sk_sock *s);
uint32_t sk_sock_epoll_events(const struct sk_sock *s);

/* wait.c: until the socket fd names (on S, held) may have one of ev
 * (STACK_TCP_EV_*), or kfd (if >= 0) is readable, serving S meanwhile; no
 * later than call->until, which the call's first wait sets from the
 * socket's opt (SO_RCVTIMEO, SO_SNDTIMEO; 0: none) and the next ones
 * reuse; -EINTR if a handler ran since call->sigs. Returns with S held,
 * but on -ESHUTDOWN (the port is closing); 0, -EAGAIN (time up), -EINTR,
 * -EBADF (fd names another socket now, or none: the call is over),
 * -ESHUTDOWN. */
int sk_wait_sock(struct sk_thread *t, struct sk_stack *S, int fd, unsigned ev, int kfd,
		 int opt, struct sk_call *call);

/* epoll.c */
/* Locks what guards ep: its home (*S), or every stack (*S NULL) when it
 * is mixed or has no home. 0 or -ESHUTDOWN. */
int sk_lock_ep(struct sk_ep *ep, struct sk_stack **S);
void sk_unlock_ep(struct sk_stack *S);
/* The stacks' readiness callback (sk_proc->hooks.tcp_event). */
void sk_sock_event(void *ctx, struct stack_tcp *c, void *user, unsigned events);
/* s is being freed: it leaves every set (sk_proc->hooks.sock_unwatch). */
void sk_sock_unwatch(struct sk_sock *s);
/* Appends the ready bypass members of ep to ev (up to max); returns how
 * many, applying edge-trigger and one-shot rules. */
int sk_ep_collect(struct sk_ep *ep, struct epoll_event *ev, int max);

#endif
