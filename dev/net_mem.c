/*
 * net_mem.c - the in-memory network device (net_mem.h): queues that
 * exchange frames through rings in memory, for tests of the layers above
 * without DPDK. Not part of the shim.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/barrier.h"
#include "../common/real.h"
#include "dev_impl.h"
#include "net_mem.h"

#define MEM_RING 1024           /* frames a ring holds */
#define MEM_BUF 2048            /* a packet's room: one Ethernet frame */
#define MEM_PKTS_MIN 4096
#define MEM_CLOSE_WAIT_NS 500000000ull

struct mem_pkt {
	struct mem_pkt *next;   /* in the free list */
	uint16_t len;
	uint8_t data[MEM_BUF];
};

/* Any number of producers and one consumer, under a mutex: a test
 * device, not a fast one. */
struct mem_ring {
	pthread_mutex_t lock;
	unsigned head, n;
	void *slot[MEM_RING];
};

struct mem_port;

struct dev_netq {
	struct mem_port *port;
	uint16_t qid;
	int owner, active;      /* (atomic) */
	int wake_fd;            /* eventfd, readable while armed and a frame came */
	int armed;              /* (atomic) */
	struct mem_ring wire;   /* frames from the other port */
	struct mem_ring pushed; /* frames other queues handed this one */
};

struct mem_port {
	struct dev_net_info info;
	struct mem_port *other;
	struct dev_netq q[DEV_MAX_QUEUES];
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes, rx_missed; /* (atomic) */
};

static struct {
	int opened, stopping, asym;   /* (atomic) */
	int peer_claimed;
	int (*own_fd)(int fd);
	struct mem_port port, peer;
	pthread_mutex_t pool_lock;
	struct mem_pkt *pool, *free_list;
	unsigned npkts, in_use;
} mem = { .pool_lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- rings and the pool ------------------------------------------------ */

static int ring_put(struct mem_ring *r, void *p)
{
	int ok;

	pthread_mutex_lock(&r->lock);
	ok = r->n < MEM_RING;
	if (ok)
		r->slot[(r->head + r->n++) % MEM_RING] = p;
	pthread_mutex_unlock(&r->lock);
	return ok ? 0 : -ENOBUFS;
}

static uint16_t ring_take(struct mem_ring *r, void **out, uint16_t n)
{
	uint16_t k = 0;

	pthread_mutex_lock(&r->lock);
	for (; k < n && r->n; k++, r->n--) {
		out[k] = r->slot[r->head];
		r->head = (r->head + 1) % MEM_RING;
	}
	pthread_mutex_unlock(&r->lock);
	return k;
}

static unsigned ring_count(struct mem_ring *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void *mem_pkt_alloc(void *q)
{
	struct mem_pkt *p;

	(void)q;
	pthread_mutex_lock(&mem.pool_lock);
	p = mem.free_list;
	if (p) {
		mem.free_list = p->next;
		mem.in_use++;
	}
	pthread_mutex_unlock(&mem.pool_lock);
	if (p)
		p->len = 0;
	return p;
}

static void mem_pkt_free(void *pkt)
{
	struct mem_pkt *p = pkt;

	pthread_mutex_lock(&mem.pool_lock);
	p->next = mem.free_list;
	mem.free_list = p;
	mem.in_use--;
	pthread_mutex_unlock(&mem.pool_lock);
}

static void *mem_pkt_copy(void *pkt)
{
	struct mem_pkt *from = pkt, *p = mem_pkt_alloc(NULL);

	if (p) {
		p->len = from->len;
		memcpy(p->data, from->data, from->len);
	}
	return p;
}

static uint8_t *mem_pkt_data(void *pkt)
{
	return ((struct mem_pkt *)pkt)->data;
}

static uint16_t mem_pkt_len(void *pkt)
{
	return ((struct mem_pkt *)pkt)->len;
}

static void mem_pkt_set_len(void *pkt, uint16_t len)
{
	((struct mem_pkt *)pkt)->len = len;
}

static uint16_t mem_pkt_room(void *pkt)
{
	(void)pkt;
	return MEM_BUF;
}

static uint32_t mem_pkt_rx_flags(void *pkt)
{
	(void)pkt;
	return 0; /* (no offloads: the stack checks every checksum) */
}

static void mem_pkt_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len, unsigned flags)
{
	(void)pkt, (void)l2_len, (void)l3_len, (void)flags; /* (never offered) */
}

/* ---- the port ----------------------------------------------------------- */

static uint64_t mem_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int port_init(struct mem_port *p, unsigned nq, const uint8_t *mac, const char *name)
{
	memset(&p->info, 0, sizeof(p->info));
	snprintf(p->info.driver, sizeof(p->info.driver), "%s", name);
	memcpy(p->info.mac, mac, DEV_ETH_ALEN);
	p->info.mtu = 1500;
	p->info.queues = nq;
	p->info.link_up = 1;
	for (unsigned i = 0; i < nq; i++) {
		struct dev_netq *q = &p->q[i];
		int fd = accel_real.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (fd < 0)
			return -errno;
		q->wake_fd = mem.own_fd ? mem.own_fd(fd) : fd;
		q->port = p;
		q->qid = (uint16_t)i;
		pthread_mutex_init(&q->wire.lock, NULL);
		pthread_mutex_init(&q->pushed.lock, NULL);
	}
	return 0;
}

static int mem_open(const struct dev_net_conf *conf, char *why, size_t whylen)
{
	static const uint8_t mac[] = DEV_MEM_MAC, peer_mac[] = DEV_MEM_PEER_MAC;
	unsigned nq = conf->queues ? conf->queues : 1, n;
	int rc;

	if ((conf->impair_tx && *conf->impair_tx) || (conf->impair_rx && *conf->impair_rx) ||
	    (conf->pcap && *conf->pcap)) {
		snprintf(why, whylen, "the in-memory device has no impairment or capture");
		return -EINVAL;
	}
	if (mem.opened) {
		snprintf(why, whylen, "the in-memory device is open already");
		return -EBUSY;
	}
	nq = nq < DEV_MAX_QUEUES ? nq : DEV_MAX_QUEUES;
	n = conf->mbufs > MEM_PKTS_MIN ? conf->mbufs : MEM_PKTS_MIN;
	mem.pool = calloc(n, sizeof(*mem.pool));
	if (!mem.pool) {
		snprintf(why, whylen, "no memory for %u packets", n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		mem.pool[i].next = mem.free_list;
		mem.free_list = &mem.pool[i];
	}
	mem.npkts = n;
	mem.own_fd = conf->own_fd;
	if ((rc = port_init(&mem.port, nq, mac, "mem")) < 0 ||
	    (rc = port_init(&mem.peer, 1, peer_mac, "mem_peer")) < 0) {
		snprintf(why, whylen, "no eventfd: %s", strerror(-rc));
		return rc;
	}
	mem.port.other = &mem.peer;
	mem.peer.other = &mem.port;
	mem.asym = asym_fence_init();
	__atomic_store_n(&mem.opened, 1, __ATOMIC_RELEASE);
	return 0;
}

static void mem_close(void)
{
	uint64_t end = mem_now_ns() + MEM_CLOSE_WAIT_NS;
	struct mem_port *ports[] = { &mem.port, &mem.peer };

	if (!__atomic_load_n(&mem.opened, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&mem.stopping, 1, __ATOMIC_SEQ_CST);
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < ports[k]->info.queues; i++)
			while (__atomic_load_n(&ports[k]->q[i].active, __ATOMIC_SEQ_CST) &&
			       mem_now_ns() < end)
				sched_yield();
	__atomic_store_n(&mem.opened, 0, __ATOMIC_RELEASE);
	/* (the pool stays: packets the stacks hold are freed into it later) */
}

static const struct dev_net_info *mem_info(void)
{
	return __atomic_load_n(&mem.opened, __ATOMIC_ACQUIRE) ? &mem.port.info : NULL;
}

static int mem_asym_fences(void)
{
	return mem.asym;
}

static int mem_port_stats(struct dev_port_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!mem_info())
		return -ENODEV;
	out->rx_pkts = __atomic_load_n(&mem.port.rx_pkts, __ATOMIC_RELAXED);
	out->tx_pkts = __atomic_load_n(&mem.port.tx_pkts, __ATOMIC_RELAXED);
	out->rx_bytes = __atomic_load_n(&mem.port.rx_bytes, __ATOMIC_RELAXED);
	out->tx_bytes = __atomic_load_n(&mem.port.tx_bytes, __ATOMIC_RELAXED);
	out->rx_missed = __atomic_load_n(&mem.port.rx_missed, __ATOMIC_RELAXED);
	pthread_mutex_lock(&mem.pool_lock);
	out->pool_in_use = mem.in_use;
	out->pool_free = mem.npkts - mem.in_use;
	pthread_mutex_unlock(&mem.pool_lock);
	return 0;
}

static unsigned mem_port_xstats(struct dev_port_xstat *out, unsigned max)
{
	(void)out, (void)max;
	return 0;
}

static int mem_no(void)
{
	return 0;
}

static void mem_nothing(void)
{
}

/* ---- queues ------------------------------------------------------------- */

static struct dev_netq *mem_claim(void)
{
	if (!mem_info() || __atomic_load_n(&mem.stopping, __ATOMIC_ACQUIRE))
		return NULL;
	for (unsigned i = 0; i < mem.port.info.queues; i++) {
		int expect = 0;

		if (__atomic_compare_exchange_n(&mem.port.q[i].owner, &expect, 1, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return &mem.port.q[i];
	}
	return NULL;
}

struct dev_netq *dev_mem_peer(void)
{
	int expect = 0;

	if (!mem_info() || !__atomic_compare_exchange_n(&mem.peer_claimed, &expect, 1, 0,
							 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return NULL;
	return &mem.peer.q[0];
}

static void mem_release(struct dev_netq *q)
{
	__atomic_store_n(&q->owner, 0, __ATOMIC_RELEASE);
}

static int mem_enter(struct dev_netq *q)
{
	__atomic_store_n(&q->active, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&mem.stopping, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
		return -ESHUTDOWN;
	}
	return 0;
}

static void mem_leave(struct dev_netq *q)
{
	__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
}

static unsigned mem_id(const struct dev_netq *q)
{
	return q->qid;
}

static void wake(struct dev_netq *q)
{
	uint64_t one = 1;

	if (__atomic_load_n(&q->armed, __ATOMIC_SEQ_CST))
		(void)!accel_real.write(q->wake_fd, &one, sizeof(one));
}

/* The queue of port p that a frame goes to: the TCP destination port
 * modulo the queues (the stacks pick ephemeral ports by that rule), else
 * queue 0. */
static struct dev_netq *rss(struct mem_port *p, const struct mem_pkt *f)
{
	const uint8_t *d = f->data;
	unsigned ihl;

	if (p->info.queues < 2 || f->len < 14 + 20 || d[12] != 0x08 || d[13] != 0x00 ||
	    d[14 + 9] != 6)
		return &p->q[0];
	ihl = (d[14] & 0x0fu) * 4u;
	if (f->len < 14 + ihl + 4)
		return &p->q[0];
	return &p->q[((unsigned)d[14 + ihl + 2] << 8 | d[14 + ihl + 3]) % p->info.queues];
}

static uint16_t mem_rx(void *ctx, void **pkts, uint16_t n)
{
	struct dev_netq *q = ctx;
	uint16_t got = ring_take(&q->wire, pkts, n);

	for (uint16_t i = 0; i < got; i++) {
		__atomic_add_fetch(&q->port->rx_pkts, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&q->port->rx_bytes, mem_pkt_len(pkts[i]), __ATOMIC_RELAXED);
	}
	return got;
}

/* Every frame is taken: one the other end has no room for is lost, as on
 * a wire. */
static uint16_t mem_tx(void *ctx, void **pkts, uint16_t n)
{
	struct dev_netq *q = ctx;
	struct mem_port *to = q->port->other;

	for (uint16_t i = 0; i < n; i++) {
		struct dev_netq *dst = rss(to, pkts[i]);
		uint16_t len = mem_pkt_len(pkts[i]);

		if (ring_put(&dst->wire, pkts[i]) < 0) {
			__atomic_add_fetch(&to->rx_missed, 1, __ATOMIC_RELAXED);
			mem_pkt_free(pkts[i]);
			continue;
		}
		__atomic_add_fetch(&q->port->tx_pkts, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&q->port->tx_bytes, len, __ATOMIC_RELAXED);
		wake(dst);
	}
	return n;
}

static int mem_push(struct dev_netq *from, struct dev_netq *to, void *pkt)
{
	if (from->port != to->port || from == to)
		return -ENOBUFS;
	return ring_put(&to->pushed, pkt);
}

static uint16_t mem_rx_pushed(struct dev_netq *q, void **pkts, uint16_t n)
{
	return ring_take(&q->pushed, pkts, n);
}

static int mem_wake_fd(struct dev_netq *q)
{
	return q->wake_fd;
}

/* (a frame already waiting makes the fd readable at once, as a NIC's
 * interrupt does when enabled over a non-empty ring) */
static void mem_wake_arm(struct dev_netq *q)
{
	__atomic_store_n(&q->armed, 1, __ATOMIC_SEQ_CST);
	if (ring_count(&q->wire))
		wake(q);
}

static void mem_wake_ack(struct dev_netq *q)
{
	uint64_t v;

	__atomic_store_n(&q->armed, 0, __ATOMIC_SEQ_CST);
	(void)!accel_real.read(q->wake_fd, &v, sizeof(v));
}

static uint64_t mem_next_due(const struct dev_netq *q)
{
	(void)q;
	return UINT64_MAX;
}

const struct dev_net_ops dev_net_mem = {
	.name = "in-memory",
	.open = mem_open,
	.close = mem_close,
	.info = mem_info,
	.asym_fences = mem_asym_fences,
	.port_stats = mem_port_stats,
	.port_xstats = mem_port_xstats,
	.thread_is_internal = mem_no,
	.thread_register = mem_nothing,
	.thread_unregister = mem_nothing,
	.now_ns = mem_now_ns,
	.claim = mem_claim,
	.release = mem_release,
	.enter = mem_enter,
	.leave = mem_leave,
	.id = mem_id,
	.rx = mem_rx,
	.tx = mem_tx,
	.push = mem_push,
	.rx_pushed = mem_rx_pushed,
	.wake_fd = mem_wake_fd,
	.wake_arm = mem_wake_arm,
	.wake_ack = mem_wake_ack,
	.next_due = mem_next_due,
	.pkt_alloc = mem_pkt_alloc,
	.pkt_free = mem_pkt_free,
	.pkt_copy = mem_pkt_copy,
	.pkt_data = mem_pkt_data,
	.pkt_len = mem_pkt_len,
	.pkt_set_len = mem_pkt_set_len,
	.pkt_room = mem_pkt_room,
	.pkt_rx_flags = mem_pkt_rx_flags,
	.pkt_tx_csum = mem_pkt_tx_csum,
};
