/*
 * sockets_impl.h - the inside of the socket layer, for the files of
 * sockets/ only.
 */
#ifndef ACCEL_SOCKETS_IMPL_H
#define ACCEL_SOCKETS_IMPL_H

#include <pthread.h>
#include <stddef.h>

#include "../common/sigasync.h"
#include "../dev/dev.h"
#include "opts.h"
#include "progress.h"
#include "sockets.h"

struct dev_netq;

/* A stack on a device queue, with the lock the program's threads take to
 * use it. */
struct sk_stack {
	pthread_mutex_t lock;
	struct stack *st;
	struct dev_netq *q;
	unsigned idx;           /* in sk_proc->stacks, the order locks are taken in */
	int wake_fd;            /* readable when the queue has packets; -1 none */
	int nthreads;           /* threads given this stack (sk_thread_create) */
	/* Frames other stacks hand this one (netif.c): readable when they
	 * did while its threads sleep; -1 with a single stack. */
	int kick_fd;
	int sleepers;           /* its threads between arm and ack (atomic) */
	uint64_t woke_at;       /* the last of them to wake, when (atomic) */
	int kicked;             /* kick_fd was written, not yet drained */
	uint32_t ip, mask, gateway; /* the port's address (host order) */
	uint64_t idle_poll_ns;
	uint64_t spin_ns;       /* ACCEL_SPIN_US, or SK_SPIN_ADAPTIVE (spin.h) */
	unsigned unlocks;       /* sk_unlock looks at the clock every 64th */
	/* the lock's lone user, who takes it without the mutex (netif.c),
	 * and whether it is inside */
	struct sk_thread *solo;
	int solo_inside;
	struct sk_thread *taker;   /* the last to take the mutex, ... */
	unsigned streak;           /* ... so many times in a row */
	/* the last poll of the queue, and who made it (read unlocked; the
	 * progress thread's turns are not counted) */
	uint64_t polled_at;
	struct sk_thread *polled_by;
	/* its sockets' lines for the counters file (stats.c), rewritten under
	 * its lock once a second; seq is odd while they are */
	uint64_t socks_at;
	unsigned socks_seq;
	uint64_t rx_at;            /* the last poll that received frames */
};

struct sk_thread {
	struct sk_stack *s;     /* its own stack */
	uint64_t helped_at;     /* the last look at the stacks with no thread */
	uint64_t look_at;       /* the clock of its last poll of a stack */
	int notify_fd;          /* eventfd: another thread wakes this one */
	int wait_epfd;          /* wake_fd, notify_fd, the program's epoll sets */
	int sleeping;           /* set before the last look, cleared on waking */
	struct pollfd *pbuf;    /* poll's copy of the program's set, plus ours */
	short *prev;            /* poll's revents from the stack, one per entry */
	size_t pbuf_cap;
	/* epoll_wait's last look at a mixed set's kernel members: which set,
	 * when, and whether none was ready (SK_KERNEL_POLL_NS) */
	int kq_epfd;
	uint8_t kq_idle;
	uint64_t kq_at;
	/* the program's signal mask while a waiting call keeps its signals
	 * blocked between sleeps (sk_sleep_mask) */
	sigset_t sig_old;
	uint8_t sig_blocked;
	struct sk_spin spin;    /* how long its waits poll before sleeping */
};

struct sk_sock;

/* A blocking call of sock.c, across its waits on its socket (sk_wait_sock):
 * when it must end, which its first wait sets (0: not yet), and the signal
 * wrapper's count as it began (accel_sig_seq), so that a handler that ran
 * anywhere in the call, not only inside a wait, ends it with EINTR. */
struct sk_call {
	uint64_t until;
	unsigned sigs;
};
#define SK_CALL_BEGIN { .until = 0, .sigs = accel_sig_seq }

/*
 * The files of sockets/ call one way, down: wait.c (the waiting calls)
 * on epoll.c (the program's epoll sets), on sock.c (bypass sockets), on
 * netif.c (the stacks, their locks, a thread's sleep), on stats.c,
 * flows.c, spin.c and progress.c; proc.c, the start, on all of them. Where
 * a lower file needs a higher one it calls a hook, set once by
 * sk_net_start (proc.c) before any stack exists.
 */
struct sk_hooks {
	/* epoll.c: the stacks' readiness callback (stack_ops.tcp_event): the
	 * socket's waiter and its sets' wake */
	void (*tcp_event)(void *ctx, struct stack_tcp *c, void *user, unsigned events);
	/* epoll.c: a socket being freed leaves the sets that watch it */
	void (*sock_unwatch)(struct sk_sock *s);
	/* wait.c: a blocking call of sock.c waits on its socket (sk_wait_sock) */
	int (*wait_sock)(struct sk_thread *t, struct sk_stack *S, int fd, unsigned ev, int kfd,
			 int opt, struct sk_call *call);
	/* sock.c: netif.c's closing at exit and at a fatal signal
	 * (sk_socks_exit, sk_socks_die) */
	void (*socks_exit)(void);
	void (*socks_die)(unsigned held, uint64_t until);
	/* sock.c: a stack's "sock" lines for the counters file (stats.c) */
	size_t (*socks_format)(const struct sk_stack *S, char *buf, size_t len);
};

/* netif.c's part of sk_net_start: the ISN secret, then the port. */
int sk_netif_open(const struct sk_net_conf *conf, char *why, size_t whylen);

/* One source of completions besides the stacks (wait.c). */
struct sk_wait_source {
	int fd;
	unsigned (*reap)(void *ctx);
	void *ctx;
};

struct sk_ep;
struct sk_flow;

/*
 * The socket layer's process-wide state: one object (proc.c), reached
 * through sk_proc, in groups by the file that keeps it. What a thread
 * keeps for itself is in its struct sk_thread, or thread-local where a
 * signal handler reads it (netif.c, wait.c).
 */
struct sk_proc {
	struct sk_hooks hooks;          /* (sk_net_start) */
	/* netif.c. The stacks, one per device queue (ACCEL_QUEUES), made
	 * with the first thread (stacks_start); sockets live on one of them
	 * (their home) and move at most once, to the stack of the first
	 * thread that uses them (sock.c). */
	struct sk_stack stacks[SK_MAX_THREADS];
	unsigned nstacks;
	int orphans;                    /* stacks no thread was given (atomic) */
	int stacks_up, stacks_failed;
	pthread_mutex_t stacks_create;  /* the start, and threads joining stacks */
	struct stack_ops stack_ops;     /* every stack's (dev/netif.h, hooks) */
	struct sk_stack *by_qid[SK_MAX_THREADS]; /* by device queue id */
	uint8_t isn_key[16];            /* RFC 6528's secret, every stack's */
	struct sk_progress progress;    /* the progress thread (progress.c) */
	/* With no wake fd: the one sleeping thread of the process that
	 * polls on the idle slice (SK_IDLE_BACKUP_NS), every stack, or NULL. */
	struct sk_thread *slicer;
	int in_child;                   /* a forked child: the stacks are the parent's */
	int finished;                   /* sk_net_finish ran */
	int dying;                      /* sk_net_die: 0, 1 closing, 2 done */
	/* sock.c. The process's descriptor table, where the sockets and the
	 * epoll sets are found by fd (sk_fds_init; sock_impl.h says how they
	 * are read); the live sockets, for the exit, and the freed ones for
	 * reuse, under live_lock. */
	struct sk_fd *fds;
	unsigned nfds;
	int nsocks;                     /* bypass sockets alive: 0 lets waits skip us */
	pthread_mutex_t live_lock;
	struct sk_sock *live, *spare;
	/* epoll.c: the freed sets, for reuse (sets are never freed, as sockets) */
	pthread_mutex_t ep_spare_lock;
	struct sk_ep *ep_spare;
	/* wait.c: the sources registered (sk_wait_source_add); a slot with
	 * reap NULL is free. src_gen counts the changes, so each thread brings
	 * its epoll sleeping set up to date before it sleeps there. */
	struct sk_wait_source sources[SK_WAIT_SOURCES];
	unsigned nsources, src_gen;
	pthread_mutex_t src_lock;
	/* flows.c (it says how they are read and written) */
	struct sk_flow *flow_table;
	unsigned flow_used;
	unsigned flow_seq;              /* odd while a writer is inside */
	pthread_mutex_t flow_wlock;
	uint8_t listen_port[65536];     /* stack index + 1; 0 none */
	unsigned flow_nstacks;
	/* sock.c: the ports of pending listeners this process does not
	 * listen on yet, and of those a member of a prefork group closed
	 * while the group lives on (stack_conf.quiet_ports), a bit each;
	 * group_lives is the port's (sk_net_conf), NULL outside a group */
	uint8_t quiet_ports[65536 / 8];
	int (*group_lives)(void);
	/* netif.c: on a port other processes share (dev_net_share_fd), how
	 * many of this process's connections use each local port it connected
	 * from (its bit in the shared table is set while any do); NULL when
	 * the port is not shared */
	uint16_t *share_refs;
	/* stats.c */
	struct sk_counters counters;
	/* each stack's "sock" lines (hooks.socks_format), read by the
	 * publisher under a sequence count: a torn copy is taken again, or
	 * left out */
	char sock_lines[SK_MAX_THREADS][SK_SOCK_LINES_BYTES];
	size_t sock_len[SK_MAX_THREADS];
	char stats_path[64];
	uint64_t next_publish;
	size_t (*stats_source)(char *buf, size_t len);
	/* the publisher's (one at a time: next_publish's compare-and-swap) */
	char pub_buf[8192 + SK_MAX_THREADS * SK_SOCK_LINES_BYTES];
	struct stack_stats pub_each[SK_MAX_THREADS];
	/* by the publisher, or the exit line, one at a time */
#define SK_XSTATS_MAX 128
	struct dev_port_xstat xstats[SK_XSTATS_MAX];
};
extern struct sk_proc *const sk_proc;

/* Runs S once (under its lock), noting who polled it when: a thread about
 * to sleep need not poll on the idle slice while another one keeps
 * polling (sk_sleep_len). */
unsigned sk_poll_stack(struct sk_thread *t, struct sk_stack *S);

/* A stack's lock, and the port's guard with it: -ESHUTDOWN when the port
 * is closing (sk_trylock: -EBUSY when another thread has it). sk_unlock
 * sends what the calls queued. A thread holds one stack's lock at a time,
 * or all of them (taken in index order), never two otherwise, except
 * that sk_trylock may take a second. */
int sk_lock(struct sk_stack *s);
int sk_trylock(struct sk_stack *s);
void sk_unlock(struct sk_stack *s);
int sk_lock_all(void);
void sk_unlock_all(void);
/* Polls every stack (all locked). */
void sk_poll_all(struct sk_thread *t);

/* The descriptors a sleeping thread waits on besides the program's: its
 * queue's wake fd, its stack's kick fd, its notify fd, and on the first
 * stack of a shared port the FIFO other processes kick. At most
 * SK_SLEEP_FDS; returns how many. */
#define SK_SLEEP_FDS 4
int sk_sleep_fds(const struct sk_thread *t, struct pollfd *p);

/* A port other processes share (dev.h, dev_net_share_*): this process
 * listens on port (on 1) or no more; c, a connection it made, uses its
 * local port (under its stack's lock). No-ops when it is not shared. */
void sk_share_listen(uint16_t port, int on);
void sk_share_connect(struct stack_tcp *c);


/* flows.c: the stack that serves a 4-tuple (flows.c says how), or -1 for
 * the one that received it; self asks (-1: none), syn: a SYN without ACK,
 * for a listener. */
int sk_flows_init(unsigned stacks);
int sk_flow_target(uint32_t rip, uint16_t rport, uint16_t lport, int syn, int self);
int sk_flow_get(uint32_t rip, uint16_t rport, uint16_t lport);
int sk_flow_set(uint32_t rip, uint16_t rport, uint16_t lport, unsigned stack);
/* Forgets the tuple if it is on stack (-1: whichever): a stack's old
 * connection ending must not drop the entry of a newer one elsewhere. */
void sk_flow_del(uint32_t rip, uint16_t rport, uint16_t lport, int stack);
/* port's listener is on stack (-1: none now). */
void sk_flow_listen(uint16_t port, int stack);

void sk_wake_arm(struct sk_thread *t);
/* How long a sleep may last before deadline (ns on sk_now's clock,
 * UINT64_MAX: none): to the stack's next timer, or one idle slice when the
 * port has no wake fd; -1 for no limit. */
int64_t sk_sleep_len(struct sk_thread *t, uint64_t deadline);
struct timespec *sk_ns_to_ts(int64_t ns, struct timespec *ts);
/* After a sleep: disarms the queue's wake fd, drains the notify fd and
 * clears t->sleeping. */
void sk_wake_ack(struct sk_thread *t);
/* The mask a waiting call sleeps with (sigmask, or the program's own),
 * after blocking the program's signals for the rest of the call; and the
 * program's mask back, when the call returns. netif.c says why. */
const sigset_t *sk_sleep_mask(struct sk_thread *t, const sigset_t *sigmask);
void sk_sleep_unmask(struct sk_thread *t);
/* Wakes t if it sleeps (any thread, under the stack's lock). */
void sk_thread_wake(struct sk_thread *t);
uint64_t sk_stack_deadline(struct sk_thread *t);

/* Every stack's counters added up, read without their locks. */
void sk_stats_sum(struct stack_stats *out);

/* Closes every bypass socket at exit (sock.c), all stacks locked. */
void sk_socks_exit(void);
/* The same for a process dying of a signal (sk_net_die): the sockets at
 * home on the stacks of mask `held` (locked); the socket list is tried
 * until `until` (sk_now), and left alone past it. */
void sk_socks_die(unsigned held, uint64_t until);

/* One "sock ..." line per socket at home on S (locked), for the counters
 * file (stats.c); stops when buf is full. Returns the bytes written. */
size_t sk_socks_format(const struct sk_stack *S, char *buf, size_t len);
/* S's "stack stack=I queue=Q threads=T name=value ..." line with its
 * counters s, under the names of the process's (stats.c). Returns its
 * length, or 0 if it does not fit. */
size_t sk_stack_line(const struct sk_stack *S, const struct stack_stats *s, char *buf,
		     size_t len);
/* S (locked) renders its sockets for the counters file when a second has
 * passed since it last did (stats.c). */
void sk_stats_stack(struct sk_stack *S, uint64_t now);

/* The socket layer's locks (stacks' and the socket list) the calling
 * thread holds: a fatal signal that lands while it holds one waits for
 * sk_busy_leave to bring it to 0 (sk_net_die_later). */
extern __thread unsigned sk_busy __attribute__((tls_model("initial-exec")));
void sk_busy_leave(void);


#endif
