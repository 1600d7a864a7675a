/*
 * netif.c - a thread's network interface: the stack's platform ops
 * implemented on a claimed device queue, and the per-thread context that
 * ties the two together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "../common/real.h"
#include "../dev/dev.h"
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
	dev_net_close();
}

int sk_net_lock_fd(void)
{
	return dev_net_lock_fd();
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

/* The thread's sleeping set: the queue's wake fd now, the program's epoll
 * sets as they are waited on (sk_epoll_wait adds them). */
static int wait_set_create(int wake_fd)
{
	int epfd = accel_real.epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = wake_fd };

	if (epfd >= 0 && wake_fd >= 0 &&
	    accel_real.epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
		accel_real.close(epfd);
		return -1;
	}
	return epfd;
}

struct sk_thread *sk_thread_create(const struct sk_net_conf *conf)
{
	const struct dev_net_info *info = dev_net_info();
	struct stack_conf sc;
	struct sk_thread *t;

	if (!info)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->wait_epfd = -1;
	t->q = dev_netq_claim();
	if (!t->q)
		goto fail;
	memset(&sc, 0, sizeof(sc));
	sc.ip = conf->ip;
	sc.prefix_len = conf->prefix_len;
	sc.gateway = conf->gateway;
	sc.mtu = info->mtu;
	sc.seed = dev_now_ns() ^ ((uint64_t)(uintptr_t)t << 16);
	memcpy(sc.mac, info->mac, STACK_ETH_ALEN);
	memcpy(sc.isn_key, isn_key, sizeof(sc.isn_key));
	sc.tx_csum = sk_netif_tx_csum();
	t->idle_poll_ns = conf->idle_poll_ns;
	t->wake_fd = dev_netq_wake_fd(t->q);
	t->wait_epfd = wait_set_create(t->wake_fd);
	if (t->wait_epfd < 0 || dev_netq_enter(t->q) < 0)
		goto fail;
	t->st = stack_create(&sc, &sk_netif_ops, t->q);
	dev_netq_leave(t->q);
	if (!t->st)
		goto fail;
	return t;
fail:
	if (t->wait_epfd >= 0)
		accel_real.close(t->wait_epfd);
	if (t->q)
		dev_netq_release(t->q);
	free(t);
	return NULL;
}

void sk_thread_destroy(struct sk_thread *t)
{
	if (!t)
		return;
	if (dev_netq_enter(t->q) == 0) {
		stack_destroy(t->st);
		dev_netq_leave(t->q);
	}
	/* else the port is gone and its mbufs with it: drop the stack's memory
	 * only (its queued packets belonged to the pool). */
	dev_netq_release(t->q);
	accel_real.close(t->wait_epfd);
	free(t->pbuf);
	free(t);
}

int sk_service(struct sk_thread *t)
{
	int n;

	if (dev_netq_enter(t->q) < 0)
		return -ESHUTDOWN;
	n = (int)stack_poll(t->st);
	dev_netq_leave(t->q);
	return n;
}

void sk_wake_arm(struct sk_thread *t)
{
	if (dev_netq_enter(t->q) == 0) {
		dev_netq_wake_arm(t->q);
		dev_netq_leave(t->q);
	}
}

void sk_wake_ack(struct sk_thread *t)
{
	if (dev_netq_enter(t->q) == 0) {
		dev_netq_wake_ack(t->q);
		dev_netq_leave(t->q);
	}
}

uint64_t sk_stack_deadline(struct sk_thread *t)
{
	uint64_t s = stack_next_deadline(t->st), d = dev_netq_next_due(t->q);

	return s < d ? s : d;
}

int sk_thread_fds(const struct sk_thread *t, int fds[2])
{
	int n = 0;

	fds[n++] = t->wait_epfd;
	if (t->wake_fd >= 0)
		fds[n++] = t->wake_fd;
	return n;
}

const struct stack_stats *sk_thread_stats(const struct sk_thread *t)
{
	return stack_stats(t->st);
}
