/*
 * netif.c - a thread's network interface: the stack's platform ops
 * implemented on a claimed device queue, and the per-thread context that
 * ties the two together.
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
#include "../common/real.h"
#include "../dev/dev.h"
#include "opts.h"
#include "sockets_impl.h"

static void *netif_pkt_alloc(void *ctx)
{
	return dev_netq_pkt_alloc(ctx);
}

static void netif_pkt_free(void *ctx, void *pkt)
{
	(void)ctx;
	dev_pkt_free(pkt);
}

static uint32_t netif_rx_flags(void *pkt)
{
	uint32_t f = dev_pkt_rx_flags(pkt);

	return ((f & DEV_RX_IP_CSUM_GOOD) ? STACK_RX_IP_CSUM_GOOD : 0u) |
	       ((f & DEV_RX_L4_CSUM_GOOD) ? STACK_RX_L4_CSUM_GOOD : 0u);
}

/* STACK_TX_* and DEV_CSUM_* name the same checksums */
static unsigned csum_to_dev(unsigned stack_bits)
{
	return ((stack_bits & STACK_TX_IP_CSUM) ? DEV_CSUM_IP : 0u) |
	       ((stack_bits & STACK_TX_TCP_CSUM) ? DEV_CSUM_TCP : 0u);
}

static unsigned csum_to_stack(unsigned dev_bits)
{
	return ((dev_bits & DEV_CSUM_IP) ? STACK_TX_IP_CSUM : 0u) |
	       ((dev_bits & DEV_CSUM_TCP) ? STACK_TX_TCP_CSUM : 0u);
}

static void netif_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len, unsigned flags)
{
	dev_pkt_tx_csum(pkt, l2_len, l3_len, csum_to_dev(flags));
}

/* The port's checksum offloads for a stack_conf. */
unsigned sk_netif_tx_csum(void)
{
	const struct dev_net_info *info = dev_net_info();

	return info ? csum_to_stack(info->tx_csum) : 0;
}

static uint16_t netif_rx(void *ctx, void **pkts, uint16_t n)
{
	return dev_netq_rx(ctx, pkts, n);
}

static uint16_t netif_tx(void *ctx, void **pkts, uint16_t n)
{
	return dev_netq_tx(ctx, pkts, n);
}

static uint64_t netif_now(void *ctx)
{
	(void)ctx;
	return dev_now_ns();
}

_Static_assert(SK_MAX_THREADS == DEV_MAX_QUEUES, "one stack per device queue");

static uint8_t isn_key[16];
static struct sk_stack shared; /* the process's stack: see sk_thread_create */

/*
 * The stack's lock. A thread that took the mutex SK_SOLO_STREAK times in
 * a row, with no other thread between (kecho, redis's event loop, a load
 * generator, memcached's worker), becomes the stack's lone user and takes
 * the lock with no locked instruction: it marks itself inside
 * (s->solo_inside) behind a compiler barrier only, then checks that it is
 * still s->solo. Anyone else takes the mutex and revokes that under it
 * (solo_revoke: clear s->solo, membarrier, wait until the lone user is
 * out). common/barrier.h says why the frequent side needs no fence.
 */
/* (initial-exec: the library is loaded at start, and the general model
 * calls __tls_get_addr on every access) */
#define SK_TLS __thread __attribute__((tls_model("initial-exec")))
static SK_TLS struct sk_thread *self; /* the calling thread's context */
static SK_TLS int held_solo;          /* it holds its stack lock-free */

/* Under s->lock. */
static void solo_revoke(struct sk_stack *s)
{
	if (!__atomic_load_n(&s->solo, __ATOMIC_RELAXED) ||
	    !__atomic_exchange_n(&s->solo, NULL, __ATOMIC_SEQ_CST))
		return;
	asym_fence_heavy();
	while (__atomic_load_n(&s->solo_inside, __ATOMIC_ACQUIRE))
		sched_yield();
}

static int solo_enter(struct sk_stack *s)
{
	struct sk_thread *me = self;

	if (!me || __atomic_load_n(&s->solo, __ATOMIC_RELAXED) != me)
		return 0;
	__atomic_store_n(&s->solo_inside, 1, __ATOMIC_RELAXED);
	asym_fence_light();
	if (__atomic_load_n(&s->solo, __ATOMIC_RELAXED) == me)
		return held_solo = 1;
	__atomic_store_n(&s->solo_inside, 0, __ATOMIC_RELEASE);
	return 0;
}

static void stack_release(struct sk_stack *s)
{
	if (held_solo) {
		held_solo = 0;
		__atomic_store_n(&s->solo_inside, 0, __ATOMIC_RELEASE);
	} else {
		pthread_mutex_unlock(&s->lock);
	}
}

/* Under s->lock: a thread that keeps taking the stack alone becomes its
 * lone user again (SK_SOLO_STREAK). */
static void solo_streak(struct sk_stack *s)
{
	struct sk_thread *me = self;

	if (!me || s->taker != me) {
		s->taker = me;
		s->streak = 0;
	} else if (++s->streak >= SK_SOLO_STREAK && dev_asym_fences()) {
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
		solo_revoke(s);
		solo_streak(s);
	}
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

int sk_net_start(const struct sk_net_conf *conf, char *why, size_t whylen)
{
	struct dev_net_conf dc = {
		.eal_args = conf->eal_args,
		.queues = conf->queues,
		.mbufs = conf->mbufs,
		.link_wait_ms = conf->link_wait_ms,
		.log_level = conf->log_level,
		.impair_tx = conf->impair_tx,
		.impair_rx = conf->impair_rx,
		.own_fd = conf->own_fd,
	};

	/* RFC 6528: one secret for every stack of the process, so the ISNs
	 * of a 4-tuple keep rising whichever thread serves it. */
	if (getrandom(isn_key, sizeof(isn_key), 0) != (ssize_t)sizeof(isn_key)) {
		snprintf(why, whylen, "no random bytes for the ISN secret");
		return -EIO;
	}
	return dev_net_open(&dc, why, whylen);
}

void sk_net_stop(void)
{
	if (__atomic_load_n(&shared.up, __ATOMIC_ACQUIRE) && !sk_in_child() &&
	    sk_lock(&shared) == 0) {
		sk_socks_exit(shared.st);
		stack_flush(shared.st);
		sk_stats_unpublish();
		stack_give(&shared);
	}
	dev_net_close();
}

int sk_thread_is_internal(void)
{
	return dev_thread_is_internal();
}

uint64_t sk_now(void)
{
	return dev_now_ns();
}

const struct stack_ops sk_netif_ops = {
	.pkt_alloc = netif_pkt_alloc,
	.pkt_free = netif_pkt_free,
	.pkt_data = dev_pkt_data,
	.pkt_len = dev_pkt_len,
	.pkt_set_len = dev_pkt_set_len,
	.pkt_room = dev_pkt_room,
	.pkt_rx_flags = netif_rx_flags,
	.pkt_tx_csum = netif_tx_csum,
	.rx_burst = netif_rx,
	.tx_burst = netif_tx,
	.now_ns = netif_now,
};

/*
 * The process's stack. One queue, one stack, shared by every thread of the
 * program under its lock: a thread uses it between sk_lock and sk_unlock,
 * and the one that waits runs it (sk_service) when the lock is free. Each
 * thread has its own sleeping set and a notify eventfd through which the
 * thread that ran the stack wakes it when one of its sockets changed.
 */
static pthread_mutex_t shared_create = PTHREAD_MUTEX_INITIALIZER;

static struct stack_ops shared_ops;

static int shared_start(const struct sk_net_conf *conf)
{
	const struct dev_net_info *info = dev_net_info();
	struct stack_conf sc;

	if (__atomic_load_n(&shared.up, __ATOMIC_ACQUIRE))
		return 0;
	if (!info)
		return -ENODEV;
	pthread_mutex_lock(&shared_create);
	if (shared.up)
		goto out;
	shared.q = dev_netq_claim();
	if (!shared.q)
		goto out;
	memset(&sc, 0, sizeof(sc));
	sc.ip = conf->ip;
	sc.prefix_len = conf->prefix_len;
	sc.gateway = conf->gateway;
	sc.mtu = info->mtu;
	sc.seed = dev_now_ns() ^ (uint64_t)getpid() << 20;
	memcpy(sc.mac, info->mac, STACK_ETH_ALEN);
	memcpy(sc.isn_key, isn_key, sizeof(sc.isn_key));
	sc.tx_csum = sk_netif_tx_csum();
	shared_ops = sk_netif_ops;
	shared_ops.tcp_event = sk_sock_event;
	pthread_mutex_init(&shared.lock, NULL);
	shared.ip = conf->ip;
	shared.mask = conf->prefix_len ?
		      (uint32_t)(0xffffffffull << (32 - conf->prefix_len)) : 0;
	shared.gateway = conf->gateway;
	shared.wake_fd = dev_netq_wake_fd(shared.q);
	shared.idle_poll_ns = conf->idle_poll_ns;
	shared.spin_ns = conf->spin_ns;
	if (dev_netq_enter(shared.q) == 0) {
		shared.st = stack_create(&sc, &shared_ops, shared.q);
		dev_netq_leave(shared.q);
	}
	if (!shared.st) {
		dev_netq_release(shared.q);
		shared.q = NULL;
		goto out;
	}
	__atomic_store_n(&shared.up, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&shared_create);
	return shared.up ? 0 : -EBUSY;
}

/* A descriptor the thread keeps for itself, where conf->own_fd wants it. */
static int kept(const struct sk_net_conf *conf, int fd)
{
	return fd >= 0 && conf->own_fd ? conf->own_fd(fd) : fd;
}

/* The thread's sleeping set: the queue's wake fd and its notify fd now,
 * the program's epoll sets as they are waited on (sk_epoll_wait adds
 * them). */
static int wait_set_create(const struct sk_net_conf *conf, int wake_fd, int notify_fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = wake_fd };
	struct epoll_event nev = { .events = EPOLLIN, .data.fd = notify_fd };
	int epfd = kept(conf, accel_real.epoll_create1(EPOLL_CLOEXEC));

	if (epfd < 0)
		return -1;
	if ((wake_fd >= 0 && accel_real.epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) ||
	    accel_real.epoll_ctl(epfd, EPOLL_CTL_ADD, notify_fd, &nev) < 0) {
		accel_real.close(epfd);
		return -1;
	}
	return epfd;
}

/* t no longer polls for the sleepers (it woke, or it ends): the next
 * thread to sleep takes the idle slice. */
static void slicer_leave(struct sk_thread *t)
{
	struct sk_thread *me = t;

	__atomic_compare_exchange_n(&t->s->slicer, &me, NULL, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

struct sk_thread *sk_thread_create(const struct sk_net_conf *conf)
{
	struct sk_thread *t;

	if (shared_start(conf) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	dev_thread_register();
	t->s = &shared;
	t->notify_fd = kept(conf, accel_real.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	t->wait_epfd = t->notify_fd < 0 ? -1 :
		       wait_set_create(conf, t->s->wake_fd, t->notify_fd);
	if (t->wait_epfd < 0) {
		if (t->notify_fd >= 0)
			accel_real.close(t->notify_fd);
		free(t);
		return NULL;
	}
	self = t; /* (it becomes the lone user by SK_SOLO_STREAK) */
	return t;
}

void sk_thread_destroy(struct sk_thread *t)
{
	if (!t)
		return;
	solo_leave(t->s, t);
	slicer_leave(t);
	accel_real.close(t->wait_epfd);
	accel_real.close(t->notify_fd);
	free(t->pbuf);
	free(t->prev);
	free(t);
	dev_thread_unregister();
}

int sk_lock(struct sk_stack *s)
{
	return stack_take(s, 0) < 0 ? -ESHUTDOWN : 0;
}

/* Frames the calls made under the lock queued go out now, not at the
 * next poll. */
void sk_unlock(struct sk_stack *s)
{
	stack_flush(s->st);
	if (!(++s->unlocks & 63)) /* (a program that never waits in the shim) */
		sk_stats_publish(s->st, sk_now());
	stack_give(s);
}

unsigned sk_poll_stack(struct sk_thread *t)
{
	unsigned n = stack_poll(t->s->st);

	__atomic_store_n(&t->s->polled_at, stack_clock(t->s->st), __ATOMIC_RELAXED);
	__atomic_store_n(&t->s->polled_by, t, __ATOMIC_RELAXED);
	return n;
}

int sk_service(struct sk_thread *t)
{
	struct sk_stack *s = t->s;
	int n = stack_take(s, 1);

	if (n < 0)
		return n == -EBUSY ? 0 : n; /* busy: another thread is running it */
	n = (int)sk_poll_stack(t);
	sk_stats_publish(s->st, s->polled_at);
	stack_give(s);
	return n;
}

/* Before the last look ahead of a sleep: from here on, a change wakes t
 * (sk_thread_wake), and the queue raises its interrupt. */
void sk_wake_arm(struct sk_thread *t)
{
	__atomic_store_n(&t->sleeping, 1, __ATOMIC_SEQ_CST);
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
	errno = saved;
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
	if (!__atomic_load_n(&shared.up, __ATOMIC_ACQUIRE) || sk_lock(&shared) < 0)
		return 0;
	*out = *stack_stats(shared.st);
	sk_unlock(&shared);
	return 1;
}
