/*
 * netif.c - the process's stacks, one per device queue (the stacks'
 * platform ops are the device layer's: dev/netif.h), their locks, the
 * frames steered between them, and the per-thread context that ties a
 * thread to its stack and lets it sleep. The lowest file of sockets/ but
 * for the helpers (stats.c, flows.c, spin.c, progress.c): what it needs of
 * the sockets above it comes through sk_proc->hooks.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "../common/barrier.h"
#include "../common/log.h"
#include "../common/real.h"
#include "../common/sigasync.h"
#include "../dev/dev.h"
#include "../dev/netif.h"
#include "opts.h"
#include "progress.h"
#include "sock_impl.h"
#include "solo.h"

_Static_assert(SK_MAX_THREADS == DEV_MAX_QUEUES, "one stack per device queue");

/*
 * A stack's lock. A thread that took the mutex SK_SOLO_STREAK times in
 * a row, with no other thread between (kecho, redis's event loop, a load
 * generator, memcached's worker), becomes the stack's lone user and takes
 * the lock with no locked instruction: it marks itself inside
 * (s->solo_inside) behind a compiler barrier only, then checks that it is
 * still s->solo. Anyone else takes the mutex and revokes that under it
 * (solo_revoke: clear s->solo, membarrier, wait until the lone user is
 * out); the progress thread borrows it for one turn and puts the lone user
 * back (solo_borrow). solo.h has the protocol, common/barrier.h says why
 * the frequent side needs no fence.
 */
/* (initial-exec: the library is loaded at start, and the general model
 * calls __tls_get_addr on every access) */
#define SK_TLS __thread __attribute__((tls_model("initial-exec")))
static SK_TLS struct sk_thread *self; /* the calling thread's context */
static SK_TLS struct sk_stack *held_solo; /* the stack it holds lock-free */
SK_TLS unsigned sk_busy;
/* a fatal signal that found this thread in the socket layer (sk_net_die) */
static SK_TLS int die_sig;
static SK_TLS void (*die_fn)(int sig);

static int solo_enter(struct sk_stack *s)
{
	struct sk_thread *me = self;

	if (!me || held_solo || !solo_try_enter(s, me))
		return 0;
	held_solo = s;
	return 1;
}

static void stack_release(struct sk_stack *s)
{
	if (held_solo == s) {
		held_solo = NULL;
		solo_exit(s);
	} else {
		pthread_mutex_unlock(&s->lock);
	}
	sk_busy_leave();
}

void sk_busy_leave(void)
{
	if (--sk_busy == 0 && __builtin_expect(die_sig != 0, 0)) {
		int sig = die_sig;

		die_sig = 0;
		die_fn(sig);
	}
}

/* Under s->lock: a thread that keeps taking its own stack alone becomes
 * its lone user again (SK_SOLO_STREAK). */
static void solo_streak(struct sk_stack *s)
{
	struct sk_thread *me = self;

	if (!me || s->taker != me) {
		s->taker = me;
		s->streak = 0;
	} else if (++s->streak >= SK_SOLO_STREAK && me->s == s && dev_asym_fences()) {
		s->streak = 0;
		__atomic_store_n(&s->solo, me, __ATOMIC_RELEASE);
	}
}

/* Takes the stack and enters its queue: 0, -EBUSY (try, and another
 * thread has it) or -ESHUTDOWN. */
static int stack_take(struct sk_stack *s, int try)
{
	if (!solo_enter(s)) {
		if (!try)
			pthread_mutex_lock(&s->lock);
		else if (pthread_mutex_trylock(&s->lock) != 0)
			return -EBUSY;
		/* (still its lone user: it came while the progress thread had
		 * the stack, and queued on the mutex; it is not inside, so it
		 * keeps its standing) */
		if (!self || __atomic_load_n(&s->solo, __ATOMIC_RELAXED) != self)
			solo_revoke(s);
		solo_streak(s);
	}
	sk_busy++;
	if (dev_netq_enter(s->q) < 0) {
		stack_release(s);
		return -ESHUTDOWN;
	}
	return 0;
}

static void stack_give(struct sk_stack *s)
{
	dev_netq_leave(s->q);
	stack_release(s);
}

/* t no longer uses s: it cannot stay its lone user. */
static void solo_leave(struct sk_stack *s, struct sk_thread *t)
{
	self = NULL;
	pthread_mutex_lock(&s->lock);
	if (__atomic_load_n(&s->solo, __ATOMIC_RELAXED) == t) /* (t is not inside) */
		__atomic_store_n(&s->solo, NULL, __ATOMIC_RELEASE);
	if (s->taker == t)
		s->taker = NULL;
	pthread_mutex_unlock(&s->lock);
}

/* progress.turn: S once, if no thread of the program has it. Takes the
 * mutex by trylock and borrows the stack from its lone user for the turn
 * (solo_borrow), so the lone user keeps taking it lock-free afterwards;
 * the turn does not count as a poll (polled_at), so a stack the program
 * left alone keeps getting one every period. */
static int progress_turn(struct sk_stack *S)
{
	struct sk_thread *prev;
	int ran = 0;

	if (pthread_mutex_trylock(&S->lock) != 0)
		return 0;
	if (solo_borrow(S, &prev)) {
		if (dev_netq_enter(S->q) == 0) {
			stack_poll(S->st);
			stack_loop_run(S->st);
			stack_flush(S->st);
			dev_netq_leave(S->q);
			__atomic_add_fetch(&sk_proc->counters.progress_turns, 1, __ATOMIC_RELAXED);
			/* (the counters too: accel-stat of a busy program) */
			sk_stats_stack(S, sk_now());
			sk_stats_publish(sk_now());
			ran = 1;
		}
		solo_restore(S, prev);
	}
	pthread_mutex_unlock(&S->lock);
	return ran;
}

int sk_netif_open(const struct sk_net_conf *conf, char *why, size_t whylen)
{
	struct dev_net_conf dc = {
		.dev = conf->dev,
		.eal_args = conf->eal_args,
		.queues = conf->queues,
		.mbufs = conf->mbufs,
		.link_wait_ms = conf->link_wait_ms,
		.link_wait_set = conf->link_wait_set,
		.log_level = conf->log_level,
		.impair_tx = conf->impair_tx,
		.impair_rx = conf->impair_rx,
		.pcap = conf->pcap,
		.pcap_snaplen = conf->pcap_snaplen,
		.own_fd = conf->own_fd,
		.share_group = conf->share_group,
		.group_lives = conf->group_lives,
	};

	if (conf->share_group && conf->share_group[0])
		sk_proc->group_lives = conf->group_lives;
	/* RFC 6528: one secret for every stack of the process, so the ISNs
	 * of a 4-tuple keep rising whichever thread serves it. */
	if (getrandom(sk_proc->isn_key, sizeof(sk_proc->isn_key), 0) !=
	    (ssize_t)sizeof(sk_proc->isn_key)) {
		snprintf(why, whylen, "no random bytes for the ISN secret");
		return -EIO;
	}
	return dev_net_open(&dc, why, whylen);
}

void sk_net_finish(void)
{
	if (__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE) && !sk_in_child() &&
	    !__atomic_exchange_n(&sk_proc->finished, 1, __ATOMIC_ACQ_REL) && sk_lock_all() == 0) {
		sk_proc->hooks.socks_exit(); /* (sock.c) */
		for (unsigned i = 0; i < sk_proc->nstacks; i++)
			stack_flush(sk_proc->stacks[i].st);
		sk_unlock_all();
	}
}

/*
 * Dying of a signal. The handler runs on whichever thread the kernel
 * chose, interrupting it anywhere:
 *  - in the program's code, or in the shim outside the socket layer's
 *    locks: the stacks are consistent, and other threads may be inside
 *    them; each is tried (trylock, never a wait that could last) until
 *    SK_DIE_LOCK_NS, and one still taken then is left as it is;
 *  - inside the socket layer (sk_busy: a stack's lock, the lone user's
 *    way in, or the socket list), in the middle of changing it: running
 *    the stack now would see it half changed, and waiting for the lock
 *    would wait for ever (the holder is this thread, suspended under us).
 *    So the handler returns, and the closing and the death happen when
 *    the thread lets go of its last lock (sk_busy_leave), a few
 *    microseconds later: the sections under those locks never sleep;
 *  - inside malloc, holding its lock: so the stacks run here free
 *    nothing (stack_dying), and nothing on this path allocates.
 * A crash (a fault, abort) inside the socket layer closes nothing: the
 * state there is not to be trusted, and the process must die at once.
 * What remains is async-signal-safe in practice: atomics, the stacks' own
 * code on packets from the pool, and system calls (write to eventfds,
 * the port's transmit, unlink).
 */
static int die_take(struct sk_stack *s, uint64_t until)
{
	for (;;) {
		int r = sk_trylock(s);

		if (r == 0)
			return 0;
		if (r != -EBUSY || sk_now() >= until)
			return -1;
		sched_yield();
	}
}

int sk_net_die(int crash)
{
	uint64_t start, until;
	unsigned held = 0, closing;
	int expect = 0;

	if (!__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE) || sk_in_child())
		return 0;
	if (sk_busy)
		return crash ? 0 : -EBUSY;
	start = sk_now();
	until = start + SK_DIE_LOCK_NS + SK_EXIT_DRAIN_NS;
	if (!__atomic_compare_exchange_n(&sk_proc->dying, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&sk_proc->dying, __ATOMIC_ACQUIRE) == 1 && sk_now() < until)
			sched_yield();
		return 0;
	}
	for (unsigned i = 0; i < sk_proc->nstacks; i++)
		if (die_take(&sk_proc->stacks[i], start + SK_DIE_LOCK_NS) == 0) {
			held |= 1u << i;
			stack_dying(sk_proc->stacks[i].st);
		}
	sk_proc->hooks.socks_die(held, start + SK_DIE_LOCK_NS); /* (sock.c) */
	do {
		closing = 0;
		for (unsigned i = 0; i < sk_proc->nstacks; i++)
			if (held & (1u << i)) {
				stack_poll(sk_proc->stacks[i].st);
				closing += stack_tcp_closing(sk_proc->stacks[i].st);
			}
	} while (closing && sk_now() < until);
	for (unsigned i = sk_proc->nstacks; i--;)
		if (held & (1u << i))
			sk_unlock(&sk_proc->stacks[i]);
	sk_stats_unpublish();
	__atomic_store_n(&sk_proc->dying, 2, __ATOMIC_RELEASE);
	return 0;
}

void sk_net_die_later(int sig, void (*die)(int sig))
{
	die_fn = die;
	die_sig = sig;
}

void sk_net_group_exit(const char *eal_args)
{
	dev_net_group_exit(eal_args);
}

void sk_net_stop(void)
{
	if (!sk_in_child())
		sk_progress_stop(&sk_proc->progress);
	sk_net_finish();
	if (!sk_in_child())
		sk_stats_unpublish();
	dev_net_close();
}

void sk_fork_child(void)
{
	sk_proc->in_child = 1;
}

int sk_in_child(void)
{
	return sk_proc->in_child;
}

int sk_thread_is_internal(void)
{
	return dev_thread_is_internal();
}

uint64_t sk_now(void)
{
	return dev_now_ns();
}

/* ---- several stacks: frames steered between them ------------------------ */

/* S's threads are told that frames were handed to it, if they sleep. */
static void kick(struct sk_stack *S)
{
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* (the push, then sleepers) */
	if (__atomic_load_n(&S->sleepers, __ATOMIC_SEQ_CST) &&
	    !__atomic_exchange_n(&S->kicked, 1, __ATOMIC_SEQ_CST))
		(void)!accel_real.write(S->kick_fd, &one, sizeof(one));
}

/* dev_netif_ops's hook and the steering's: a frame was handed to `to`'s
 * queue (err 0), or found its ring full and was dropped. */
static void handed(struct dev_netq *to, int err)
{
	if (err < 0)
		__atomic_add_fetch(&sk_proc->counters.steer_drops, 1, __ATOMIC_RELAXED);
	else
		kick(sk_proc->by_qid[dev_netq_id(to)]);
}

/* ops->steer: the stack that received the frame has no connection for
 * it; flows.c says which stack has. */
static int netif_steer(void *ctx, void *pkt, uint32_t rip, uint16_t rport, uint16_t lport,
		       int syn)
{
	struct sk_stack *from = sk_proc->by_qid[dev_netq_id(ctx)];
	int k = sk_proc->nstacks > 1 ? sk_flow_target(rip, rport, lport, syn, (int)from->idx) : -1;

	if (k < 0 || (unsigned)k >= sk_proc->nstacks || &sk_proc->stacks[k] == from)
		/* (none of ours: another process's, on a shared port?) */
		return sk_proc->share_refs && dev_net_share_forward(pkt, lport, rip, rport, 0);
	handed(sk_proc->stacks[k].q, dev_netq_hand(from->q, sk_proc->stacks[k].q, pkt));
	return 1;
}

static void netif_tcp_gone(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport)
{
	if (sk_proc->nstacks > 1)
		sk_flow_del(rip, rport, lport, (int)sk_proc->by_qid[dev_netq_id(ctx)]->idx);
	if (sk_proc->share_refs && dev_net_share_conn(rip, rport, lport, 0))
		return; /* (an accepted one: netif_tcp_child; its port is the listener's) */
	if (sk_proc->share_refs && sk_proc->share_refs[lport] &&
	    --sk_proc->share_refs[lport] == 0)
		dev_net_share_own(lport, 0);
}

/* ops->tcp_child: on a shared port, the table of connections says this
 * process serves it, so a sibling's queue that gets its segments (tun's
 * flow entry expired; a veth peer's queue pick changed) hands them here. */
static int netif_tcp_child(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport)
{
	(void)ctx;
	return dev_net_share_conn(rip, rport, lport, 1);
}

/* Whether the prefork group lives on (its parent holds the listener: new
 * members may come), looked at most every 100 ms (a walk of the parent's
 * descriptors). */
static int group_lives_cached(void)
{
	static uint64_t at;
	static int lives;
	uint64_t now = sk_now();

	if (!sk_proc->group_lives)
		return 0;
	if (!at || now - at > 100000000ull) {
		lives = sk_proc->group_lives();
		at = now;
	}
	return lives;
}

/* ops->tcp_move: a closing listener's unaccepted connection, to another
 * process that listens on the port; none yet, but a prefork group's new
 * member may come (a reload's: old workers close as new ones start). */
static int netif_tcp_move(void *ctx, void *pkt, uint32_t rip, uint16_t rport, uint16_t lport)
{
	int mine;

	(void)ctx;
	if (!sk_proc->share_refs)
		return 0;
	/* (the table names this process for it: not while it is handed) */
	mine = dev_net_share_conn(rip, rport, lport, 0);
	if (dev_net_share_forward(pkt, lport, rip, rport, 1))
		return 1;
	if (mine)
		dev_net_share_conn(rip, rport, lport, 1); /* (it stays here meanwhile) */
	return !sk_proc->dying && group_lives_cached() ? -EAGAIN : 0;
}

/* ops->port_taken: another process of a shared port serves it. */
static int netif_port_taken(void *ctx, uint16_t port)
{
	(void)ctx;
	return dev_net_share_taken(port);
}

void sk_share_listen(uint16_t port, int on)
{
	if (sk_proc->share_refs)
		dev_net_share_own(port, on);
}

void sk_share_connect(struct stack_tcp *c)
{
	uint32_t lip, rip;
	uint16_t lport, rport;

	if (!sk_proc->share_refs)
		return;
	stack_tcp_endpoints(c, &lip, &lport, &rip, &rport);
	if (sk_proc->share_refs[lport] == UINT16_MAX)
		return; /* (its bit stays while the process lives) */
	if (sk_proc->share_refs[lport]++ == 0)
		dev_net_share_own(lport, 1);
	stack_tcp_watch(c); /* (netif_tcp_gone counts it out) */
}

/*
 * The process's stacks. Every queue gets one, made with the first thread
 * that needs one; a thread is given the stack with the fewest threads.
 * A thread uses a stack between sk_lock and sk_unlock, and the one that
 * waits runs it (sk_service) when the lock is free. Each thread has its
 * own sleeping set and a notify eventfd through which the thread that ran
 * a stack wakes it when one of its sockets changed.
 */

/* A descriptor the shim keeps for itself, where conf->own_fd wants it. */
static int kept(const struct sk_net_conf *conf, int fd)
{
	return fd >= 0 && conf->own_fd ? conf->own_fd(fd) : fd;
}

static int stack_start(struct sk_stack *S, unsigned idx, const struct sk_net_conf *conf,
		       const struct dev_net_info *info)
{
	struct stack_conf sc;

	S->q = dev_netq_claim();
	if (!S->q)
		return -EBUSY;
	memset(&sc, 0, sizeof(sc));
	sc.ip = conf->ip;
	sc.prefix_len = conf->prefix_len;
	sc.gateway = conf->gateway;
	sc.mtu = info->mtu;
	sc.seed = dev_now_ns() ^ (uint64_t)getpid() << 20 ^ (uint64_t)idx << 40;
	memcpy(sc.mac, info->mac, STACK_ETH_ALEN);
	memcpy(sc.isn_key, sk_proc->isn_key, sizeof(sc.isn_key));
	sc.tx_csum = dev_netif_tx_csum();
	if (info->queues > 1) {
		sc.port_stride = (uint16_t)info->queues;
		sc.port_index = (uint16_t)idx;
	}
	sc.quiet_ports = sk_proc->quiet_ports;
	pthread_mutex_init(&S->lock, NULL);
	S->idx = idx;
	S->ip = conf->ip;
	S->mask = conf->prefix_len ?
		  (uint32_t)(0xffffffffull << (32 - conf->prefix_len)) : 0;
	S->gateway = conf->gateway;
	S->wake_fd = dev_netq_wake_fd(S->q);
	S->kick_fd = -1;
	if (info->queues > 1) {
		S->kick_fd = kept(conf, accel_real.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
		if (S->kick_fd < 0)
			return -EMFILE;
	}
	S->idle_poll_ns = conf->idle_poll_ns;
	S->spin_ns = conf->spin_ns;
	sk_proc->by_qid[dev_netq_id(S->q)] = S;
	if (dev_netq_enter(S->q) == 0) {
		S->st = stack_create(&sc, &sk_proc->stack_ops, S->q);
		dev_netq_leave(S->q);
	}
	return S->st ? 0 : -ENOMEM;
}

static int stacks_start(const struct sk_net_conf *conf)
{
	const struct dev_net_info *info = dev_net_info();
	unsigned n;

	if (__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE))
		return 0;
	if (!info)
		return -ENODEV;
	pthread_mutex_lock(&sk_proc->stacks_create);
	if (sk_proc->stacks_up || sk_proc->stacks_failed)
		goto out;
	sk_proc->stacks_failed = 1; /* (until they all start: one try) */
	n = info->queues;
	if (dev_netif_ops(&sk_proc->stack_ops, n > 1 ? handed : NULL) < 0)
		goto out;
	sk_proc->stack_ops.tcp_event = sk_proc->hooks.tcp_event;
	/* (a port other processes share: one queue here, dev.h) */
	if (n == 1 && dev_net_share_fd() >= 0 && !sk_proc->share_refs)
		sk_proc->share_refs = calloc(65536, sizeof(uint16_t));
	if (n > 1 || sk_proc->share_refs) {
		sk_proc->stack_ops.steer = netif_steer;
		sk_proc->stack_ops.tcp_gone = netif_tcp_gone;
	}
	if (sk_proc->share_refs) {
		sk_proc->stack_ops.port_taken = netif_port_taken;
		sk_proc->stack_ops.tcp_move = netif_tcp_move;
		sk_proc->stack_ops.tcp_child = netif_tcp_child;
	}
	if (n > 1 && sk_flows_init(n) < 0)
		goto out;
	for (unsigned i = 0; i < n; i++)
		if (stack_start(&sk_proc->stacks[i], i, conf, info) < 0)
			goto out; /* (no thread gets a stack: all stays in the kernel) */
	sk_proc->nstacks = n;
	sk_proc->orphans = (int)n;
	sk_proc->stacks_failed = 0;
	__atomic_store_n(&sk_proc->stacks_up, 1, __ATOMIC_RELEASE);
	sk_proc->progress = (struct sk_progress){
		.stacks = sk_proc->stacks,
		.n = n,
		.period_ns = conf->progress_ns,
		.now = sk_now,
		.turn = progress_turn,
		.thread_init = conf->thread_init,
	};
	for (unsigned i = 0; i < n; i++)
		if (sk_proc->stacks[i].wake_fd < 0)
			sk_proc->progress.park_ns = SK_PROGRESS_PARK_NS;
	if (sk_progress_start(&sk_proc->progress) < 0)
		ACCEL_WARN("no progress thread: a busy program's connections wait for it");
out:
	pthread_mutex_unlock(&sk_proc->stacks_create);
	return sk_proc->stacks_up ? 0 : -EBUSY;
}

int sk_sleep_fds(const struct sk_thread *t, struct pollfd *p)
{
	int n = 0;

	if (t->s->wake_fd >= 0)
		p[n++] = (struct pollfd){ .fd = t->s->wake_fd, .events = POLLIN };
	if (t->s->kick_fd >= 0)
		p[n++] = (struct pollfd){ .fd = t->s->kick_fd, .events = POLLIN };
	if (t->s->idx == 0 && sk_proc->share_refs && dev_net_share_fd() >= 0)
		p[n++] = (struct pollfd){ .fd = dev_net_share_fd(), .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = t->notify_fd, .events = POLLIN };
	return n;
}

/* The thread's sleeping set: sk_sleep_fds now, the program's epoll sets
 * as they are waited on (sk_epoll_wait adds them). */
static int wait_set_create(const struct sk_net_conf *conf, const struct sk_thread *t)
{
	struct pollfd p[SK_SLEEP_FDS];
	int n = sk_sleep_fds(t, p);
	int epfd = kept(conf, accel_real.epoll_create1(EPOLL_CLOEXEC));

	if (epfd < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = p[i].fd };

		if (accel_real.epoll_ctl(epfd, EPOLL_CTL_ADD, p[i].fd, &ev) < 0) {
			accel_real.close(epfd);
			return -1;
		}
	}
	return epfd;
}

/* t no longer polls for the sleepers (it woke, or it ends): the next
 * thread to sleep takes the idle slice. */
static void slicer_leave(struct sk_thread *t)
{
	struct sk_thread *me = t;

	__atomic_compare_exchange_n(&sk_proc->slicer, &me, NULL, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

/* The stack with the fewest threads (the first such): memcached's
 * accepting thread and its workers each get their own while there are
 * queues enough. */
static struct sk_stack *stack_for_new_thread(void)
{
	struct sk_stack *best = &sk_proc->stacks[0];

	pthread_mutex_lock(&sk_proc->stacks_create);
	for (unsigned i = 1; i < sk_proc->nstacks; i++)
		if (sk_proc->stacks[i].nthreads < best->nthreads)
			best = &sk_proc->stacks[i];
	if (__atomic_add_fetch(&best->nthreads, 1, __ATOMIC_RELAXED) == 1)
		__atomic_sub_fetch(&sk_proc->orphans, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sk_proc->stacks_create);
	return best;
}

static void stack_thread_gone(struct sk_stack *S)
{
	pthread_mutex_lock(&sk_proc->stacks_create);
	if (__atomic_sub_fetch(&S->nthreads, 1, __ATOMIC_RELAXED) == 0)
		__atomic_add_fetch(&sk_proc->orphans, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sk_proc->stacks_create);
}

struct sk_thread *sk_thread_create(const struct sk_net_conf *conf)
{
	struct sk_thread *t;

	if (stacks_start(conf) < 0)
		return NULL;
	/* (never freed: a wake may still be on its way to a thread that
	 * ended, through a socket's or a set's waiter) */
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	dev_thread_register();
	t->s = stack_for_new_thread();
	sk_spin_init(&t->spin, t->s->spin_ns, t->s->wake_fd >= 0);
	t->notify_fd = kept(conf, accel_real.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	t->wait_epfd = t->notify_fd < 0 ? -1 : wait_set_create(conf, t);
	if (t->wait_epfd < 0) {
		if (t->notify_fd >= 0)
			accel_real.close(t->notify_fd);
		stack_thread_gone(t->s);
		free(t);
		return NULL;
	}
	self = t; /* (it becomes the lone user by SK_SOLO_STREAK) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* (nthreads rose: progress.h) */
	sk_progress_kick(&sk_proc->progress);
	return t;
}

void sk_thread_destroy(struct sk_thread *t)
{
	if (!t)
		return;
	solo_leave(t->s, t);
	slicer_leave(t);
	stack_thread_gone(t->s);
	accel_real.close(t->wait_epfd);
	accel_real.close(t->notify_fd);
	t->notify_fd = -1;
	free(t->pbuf);
	free(t->prev);
	t->pbuf = NULL;
	t->prev = NULL;
	dev_thread_unregister();
}

int sk_lock(struct sk_stack *s)
{
	return stack_take(s, 0) < 0 ? -ESHUTDOWN : 0;
}

int sk_trylock(struct sk_stack *s)
{
	return stack_take(s, 1);
}

/* Frames the calls made under the lock queued go out now, not at the
 * next poll; so do those to a connection of our own (the stack's
 * loopback), whose reader may be asleep until the port's interrupt. */
void sk_unlock(struct sk_stack *s)
{
	stack_loop_run(s->st);
	stack_flush(s->st);
	if (!(++s->unlocks & 63)) { /* (a program that never waits in the shim) */
		sk_stats_stack(s, sk_now());
		sk_stats_publish(sk_now());
	}
	stack_give(s);
}

int sk_lock_all(void)
{
	for (unsigned i = 0; i < sk_proc->nstacks; i++)
		if (sk_lock(&sk_proc->stacks[i]) < 0) {
			while (i--)
				sk_unlock(&sk_proc->stacks[i]);
			return -ESHUTDOWN;
		}
	return 0;
}

void sk_unlock_all(void)
{
	for (unsigned i = sk_proc->nstacks; i--;)
		sk_unlock(&sk_proc->stacks[i]);
}

unsigned sk_poll_stack(struct sk_thread *t, struct sk_stack *S)
{
	unsigned n = stack_poll(S->st);

	t->look_at = stack_clock(S->st);
	if (n)
		__atomic_store_n(&S->rx_at, t->look_at, __ATOMIC_RELAXED);
	__atomic_store_n(&S->polled_at, t->look_at, __ATOMIC_RELAXED);
	__atomic_store_n(&S->polled_by, t, __ATOMIC_RELAXED);
	/* (two compares but once a second: the counters file of a thread
	 * that sleeps at once, with no spin to run the stack's turns) */
	sk_stats_stack(S, t->look_at);
	sk_stats_publish(t->look_at);
	return n;
}

void sk_poll_all(struct sk_thread *t)
{
	for (unsigned i = 0; i < sk_proc->nstacks; i++)
		sk_poll_stack(t, &sk_proc->stacks[i]);
}

/* Whether t should poll S, another stack: one no thread was given (more
 * queues than threads) still receives what the port hashes to its queue,
 * and on a port with no receive interrupt a stack whose threads all sleep
 * is polled by the one thread that slices (sk_proc->slicer), after each sleep.
 * (The slicer slices when there are such stacks, interrupts or not: a
 * sleeping thread waits on its own queue's interrupt only, or a busy
 * queue would keep waking the threads that cannot empty it.) */
static int stale(const struct sk_thread *t, const struct sk_stack *S, uint64_t now, int woke)
{
	if (S == t->s)
		return 0;
	if (!__atomic_load_n(&S->nthreads, __ATOMIC_RELAXED))
		return 1;
	return woke && S->wake_fd < 0 &&
	       now - __atomic_load_n(&S->polled_at, __ATOMIC_RELAXED) >= S->idle_poll_ns;
}

/* The waiting threads poll the stacks stale() names: at most every
 * SK_ORPHAN_POLL_NS each, and after every sleep. */
static void poll_stale(struct sk_thread *t, uint64_t now, int woke)
{
	if (sk_proc->nstacks < 2 || (!woke && now - t->helped_at < SK_ORPHAN_POLL_NS))
		return;
	t->helped_at = now;
	for (unsigned i = 0; i < sk_proc->nstacks; i++) {
		struct sk_stack *S = &sk_proc->stacks[i];

		if (!stale(t, S, now, woke) || sk_trylock(S) < 0)
			continue;
		sk_poll_stack(t, S);
		stack_give(S);
	}
}

int sk_service(struct sk_thread *t)
{
	struct sk_stack *s = t->s;
	int n = stack_take(s, 1);

	if (n == -EBUSY)
		return 0; /* another thread is running it */
	if (n < 0)
		return n;
	n = (int)sk_poll_stack(t, s);
	sk_stats_stack(s, s->polled_at);
	sk_stats_publish(s->polled_at);
	stack_give(s);
	poll_stale(t, s->polled_at, 0);
	return n;
}

/* Before the last look ahead of a sleep: from here on, a change wakes t
 * (sk_thread_wake), frames handed to its stack kick it, and the queue
 * raises its interrupt. */
void sk_wake_arm(struct sk_thread *t)
{
	__atomic_store_n(&t->sleeping, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&t->s->sleepers, 1, __ATOMIC_SEQ_CST);
	if (dev_netq_enter(t->s->q) == 0) {
		dev_netq_wake_arm(t->s->q);
		dev_netq_leave(t->s->q);
	}
}

void sk_wake_ack(struct sk_thread *t)
{
	int saved = errno; /* callers read errno of the sleep after this */
	uint64_t v;

	if (dev_netq_enter(t->s->q) == 0) {
		dev_netq_wake_ack(t->s->q);
		dev_netq_leave(t->s->q);
	}
	__atomic_store_n(&t->sleeping, 0, __ATOMIC_SEQ_CST);
	slicer_leave(t);
	while (accel_real.read(t->notify_fd, &v, sizeof(v)) == sizeof(v))
		;
	/* The stack counts as seen now: the thread is back and about to poll
	 * it. (The decrement releases woke_at to the progress thread's load
	 * of the sleepers, and is the first half of the kick's Dekker pair;
	 * while another thread of the stack sleeps, nothing can be due. A
	 * port with no receive interrupt wakes its sleepers every idle slice:
	 * a kick each would cost an idle single-threaded server 2 % of a
	 * core, so the parked thread looks at such stacks every
	 * SK_PROGRESS_PARK_NS instead.) */
	__atomic_store_n(&t->s->woke_at, sk_now(), __ATOMIC_RELAXED);
	if (!__atomic_sub_fetch(&t->s->sleepers, 1, __ATOMIC_SEQ_CST) && t->s->wake_fd >= 0)
		sk_progress_kick(&sk_proc->progress); /* (the stack's last sleeper woke) */
	if (t->s->kick_fd >= 0) {
		/* drained before cleared: a kick after the clear writes again,
		 * one before it is seen by the poll that follows every wake */
		if (__atomic_load_n(&t->s->kicked, __ATOMIC_ACQUIRE)) {
			(void)!accel_real.read(t->s->kick_fd, &v, sizeof(v));
			__atomic_store_n(&t->s->kicked, 0, __ATOMIC_SEQ_CST);
		}
		poll_stale(t, sk_now(), 1);
	}
	errno = saved;
}

/*
 * A waiting call sleeps in slices (to the stack's next timer, or an idle
 * slice) and runs the stack between them. A signal that came between two
 * slices would be handled there, in user space, and the next slice would
 * sleep on: the call would not return EINTR where the kernel's returns
 * it. So from its first sleep on, a call keeps the program's signals
 * blocked, and every slice sleeps with the mask the program waits under
 * (its sigmask, or its own mask), which lets them in only while asleep: a
 * signal ends the slice with EINTR, as it ends the kernel's wait. Faults
 * stay deliverable. Two system calls per sleeping call, none per spin.
 */
const sigset_t *sk_sleep_mask(struct sk_thread *t, const sigset_t *sigmask)
{
	sigset_t all;

	if (!t->sig_blocked) {
		sig_async_set(&all);
		if (pthread_sigmask(SIG_BLOCK, &all, &t->sig_old) != 0)
			return sigmask;
		t->sig_blocked = 1;
	}
	return sigmask ? sigmask : &t->sig_old;
}

void sk_sleep_unmask(struct sk_thread *t)
{
	if (t->sig_blocked) {
		t->sig_blocked = 0;
		pthread_sigmask(SIG_SETMASK, &t->sig_old, NULL);
	}
}

void sk_thread_wake(struct sk_thread *t)
{
	uint64_t one = 1;

	if (t && __atomic_exchange_n(&t->sleeping, 0, __ATOMIC_SEQ_CST))
		(void)!accel_real.write(t->notify_fd, &one, sizeof(one));
}

uint64_t sk_stack_deadline(struct sk_thread *t)
{
	uint64_t s = stack_next_deadline(t->s->st), d = dev_netq_next_due(t->s->q);

	return s < d ? s : d;
}

void sk_thread_fds(const struct sk_thread *t, int fds[2])
{
	fds[0] = t->wait_epfd;
	fds[1] = t->notify_fd;
}

int sk_net_stats(struct stack_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE) || sk_lock_all() < 0)
		return 0;
	sk_stats_sum(out);
	sk_unlock_all();
	return (int)sk_proc->nstacks;
}

size_t sk_net_stack_line(unsigned i, char *buf, size_t len)
{
	size_t n;

	if (!__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE) || i >= sk_proc->nstacks ||
	    sk_lock(&sk_proc->stacks[i]) < 0)
		return 0;
	n = sk_stack_line(&sk_proc->stacks[i], stack_stats(sk_proc->stacks[i].st), buf, len);
	sk_unlock(&sk_proc->stacks[i]);
	return n;
}

int sk_net_stack_stats(unsigned i, struct stack_stats *out)
{
	if (!__atomic_load_n(&sk_proc->stacks_up, __ATOMIC_ACQUIRE) || i >= sk_proc->nstacks ||
	    sk_lock(&sk_proc->stacks[i]) < 0)
		return -ENOENT;
	*out = *stack_stats(sk_proc->stacks[i].st);
	sk_unlock(&sk_proc->stacks[i]);
	return 0;
}
