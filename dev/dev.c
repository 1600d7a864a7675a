/*
 * dev.c - the network device the process opened, behind one table
 * (dev_impl.h): dev.h's calls forwarded to it. DPDK's port (net_dpdk.c) is
 * the device unless dev_net_conf.dev names another; the tests' in-memory
 * device (net_mem.c) is the other one. Built without net_dpdk.c (the unit
 * tests), the default is absent and only a named device opens.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "dev_impl.h"

/* (weak: a build without DPDK has no such device, and says so at open) */
extern const struct dev_net_ops dev_net_dpdk __attribute__((weak));

/* Set once, by the opening call (the caller serialises it), and never
 * cleared: packets and queues outlive a close. */
static const struct dev_net_ops *cur;
/* The claimed queues by number, for the ARP fan-out (netif.c). */
static struct dev_netq *claimed[DEV_MAX_QUEUES];

const struct dev_net_ops *dev_net_cur(void)
{
	return cur;
}

const char *dev_csum_names(unsigned bits)
{
	static const char *names[] = { "none", "ip", "tcp", "ip+tcp" };

	return names[bits & 3];
}

int dev_net_open(const struct dev_net_conf *conf, char *why, size_t whylen)
{
	const struct dev_net_ops *d = conf->dev ? conf->dev : &dev_net_dpdk;

	if (!d) {
		snprintf(why, whylen, "this build has no DPDK device");
		return -ENODEV;
	}
	if (cur && cur != d) {
		snprintf(why, whylen, "a %s device was opened before", cur->name);
		return -EBUSY;
	}
	cur = d;
	return d->open(conf, why, whylen);
}

void dev_net_close(void)
{
	if (cur)
		cur->close();
}

void dev_net_group_exit(const char *eal_args)
{
	if (&dev_net_dpdk && dev_net_dpdk.group_exit)
		dev_net_dpdk.group_exit(eal_args);
}

const struct dev_net_info *dev_net_info(void)
{
	return cur ? cur->info() : NULL;
}

int dev_asym_fences(void)
{
	return cur ? cur->asym_fences() : 0;
}

int dev_net_port_stats(struct dev_port_stats *out)
{
	return cur ? cur->port_stats(out) : -ENODEV;
}

unsigned dev_net_port_xstats(struct dev_port_xstat *out, unsigned max)
{
	return cur ? cur->port_xstats(out, max) : 0;
}

int dev_thread_is_internal(void)
{
	return cur ? cur->thread_is_internal() : 0;
}

void dev_thread_register(void)
{
	if (cur)
		cur->thread_register();
}

void dev_thread_unregister(void)
{
	if (cur)
		cur->thread_unregister();
}

uint64_t dev_now_ns(void)
{
	struct timespec ts;

	if (cur)
		return cur->now_ns();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- queues and packets: only with a device open (a queue exists) ------- */

struct dev_netq *dev_netq_claim(void)
{
	struct dev_netq *q = cur ? cur->claim() : NULL;

	if (q)
		__atomic_store_n(&claimed[cur->id(q)], q, __ATOMIC_RELEASE);
	return q;
}

void dev_netq_release(struct dev_netq *q)
{
	__atomic_store_n(&claimed[cur->id(q)], NULL, __ATOMIC_RELEASE);
	cur->release(q);
}

struct dev_netq *dev_netq_at(unsigned id)
{
	return id < DEV_MAX_QUEUES ? __atomic_load_n(&claimed[id], __ATOMIC_ACQUIRE) : NULL;
}

int dev_netq_enter(struct dev_netq *q)
{
	return cur->enter(q);
}

void dev_netq_leave(struct dev_netq *q)
{
	cur->leave(q);
}

uint16_t dev_netq_rx(struct dev_netq *q, void **pkts, uint16_t n)
{
	return cur->rx(q, pkts, n);
}

unsigned dev_netq_id(const struct dev_netq *q)
{
	return cur->id(q);
}

int dev_netq_push(struct dev_netq *from, struct dev_netq *to, void *pkt)
{
	return cur->push(from, to, pkt);
}

uint16_t dev_netq_rx_pushed(struct dev_netq *q, void **pkts, uint16_t n)
{
	return cur->rx_pushed(q, pkts, n);
}

uint16_t dev_netq_tx(struct dev_netq *q, void **pkts, uint16_t n)
{
	return cur->tx(q, pkts, n);
}

void *dev_netq_pkt_alloc(struct dev_netq *q)
{
	return cur->pkt_alloc(q);
}

int dev_net_share_fd(void)
{
	return cur && cur->share_fd ? cur->share_fd() : -1;
}

void dev_net_share_own(uint16_t port, int on)
{
	if (cur && cur->share_own)
		cur->share_own(port, on);
}

int dev_net_share_conn(uint32_t rip, uint16_t rport, uint16_t lport, int on)
{
	return cur && cur->share_conn ? cur->share_conn(rip, rport, lport, on) : 0;
}

int dev_net_share_taken(uint16_t port)
{
	return cur && cur->share_taken ? cur->share_taken(port) : 0;
}

int dev_net_share_forward(void *pkt, uint16_t lport, uint32_t rip, uint16_t rport, int sure)
{
	return cur && cur->share_forward ? cur->share_forward(pkt, lport, rip, rport, sure) : 0;
}

void dev_net_share_counts(uint64_t *out, uint64_t *in)
{
	*out = *in = 0;
	if (cur && cur->share_counts)
		cur->share_counts(out, in);
}

int dev_netq_wake_fd(struct dev_netq *q)
{
	return cur->wake_fd(q);
}

void dev_netq_wake_arm(struct dev_netq *q)
{
	cur->wake_arm(q);
}

void dev_netq_wake_ack(struct dev_netq *q)
{
	cur->wake_ack(q);
}

uint64_t dev_netq_next_due(const struct dev_netq *q)
{
	return cur->next_due(q);
}

void dev_pkt_free(void *pkt)
{
	cur->pkt_free(pkt);
}

void *dev_pkt_copy(void *pkt)
{
	return cur->pkt_copy(pkt);
}

uint8_t *dev_pkt_data(void *pkt)
{
	return cur->pkt_data(pkt);
}

uint16_t dev_pkt_len(void *pkt)
{
	return cur->pkt_len(pkt);
}

void dev_pkt_set_len(void *pkt, uint16_t len)
{
	cur->pkt_set_len(pkt, len);
}

uint16_t dev_pkt_room(void *pkt)
{
	return cur->pkt_room(pkt);
}

uint32_t dev_pkt_rx_flags(void *pkt)
{
	return cur->pkt_rx_flags(pkt);
}

void dev_pkt_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len, unsigned flags)
{
	cur->pkt_tx_csum(pkt, l2_len, l3_len, flags);
}
