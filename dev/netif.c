/*
 * netif.c - the stacks' platform ops on the open device's queues, and the
 * ARP fan-out between the queues of one port (netif.h).
 */
#include <errno.h>
#include <string.h>

#include "dev_impl.h"
#include "netif.h"

#define ETH_HLEN 14
#define ETH_P_ARP_HI 0x08
#define ETH_P_ARP_LO 0x06

/* The device's packets, with the queue as the stack's ctx: the fan-out
 * needs the queue's siblings, which only the device knows. */
static const struct dev_net_ops *D;
static void (*fanout_handed)(struct dev_netq *to, int err);

static void netif_pkt_free(void *ctx, void *pkt)
{
	(void)ctx;
	D->pkt_free(pkt);
}

static uint32_t netif_rx_flags(void *pkt)
{
	uint32_t f = D->pkt_rx_flags(pkt);

	return ((f & DEV_RX_IP_CSUM_GOOD) ? STACK_RX_IP_CSUM_GOOD : 0u) |
	       ((f & DEV_RX_L4_CSUM_GOOD) ? STACK_RX_L4_CSUM_GOOD : 0u) |
	       ((f & DEV_RX_HANDED) ? STACK_RX_HANDED : 0u);
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
	D->pkt_tx_csum(pkt, l2_len, l3_len, csum_to_dev(flags));
}

unsigned dev_netif_tx_csum(void)
{
	const struct dev_net_info *info = dev_net_info();

	return info ? csum_to_stack(info->tx_csum) : 0;
}

static uint64_t netif_now(void *ctx)
{
	(void)ctx;
	return D->now_ns();
}

int dev_netq_hand(struct dev_netq *from, struct dev_netq *to, void *pkt)
{
	if (D->push(from, to, pkt) < 0) {
		D->pkt_free(pkt);
		return -ENOBUFS;
	}
	return 0;
}

static int is_arp(void *pkt)
{
	const uint8_t *f = D->pkt_data(pkt);

	return D->pkt_len(pkt) >= ETH_HLEN && f[12] == ETH_P_ARP_HI && f[13] == ETH_P_ARP_LO;
}

/* A copy of an ARP frame from the wire for every other claimed queue. */
static void arp_fanout(struct dev_netq *from, void *pkt, unsigned nq)
{
	for (unsigned j = 0; j < nq; j++) {
		struct dev_netq *to = dev_netq_at(j);
		void *copy;

		if (!to || to == from || !(copy = D->pkt_copy(pkt)))
			continue;
		fanout_handed(to, dev_netq_hand(from, to, copy));
	}
}

/* Receives the frames other queues handed this one, then the wire's. */
static uint16_t multi_rx(void *ctx, void **pkts, uint16_t n)
{
	struct dev_netq *q = ctx;
	unsigned nq = D->info()->queues;
	uint16_t k = D->rx_pushed(q, pkts, n);
	uint16_t w = D->rx(q, pkts + k, (uint16_t)(n - k));

	for (uint16_t i = k; i < k + w; i++)
		if (is_arp(pkts[i]))
			arp_fanout(q, pkts[i], nq);
	return (uint16_t)(k + w);
}

int dev_netif_ops(struct stack_ops *ops, void (*handed)(struct dev_netq *to, int err))
{
	const struct dev_net_info *info = dev_net_info();

	if (!info)
		return -ENODEV;
	D = dev_net_cur();
	if (handed) /* (the process's one: the socket layer's) */
		fanout_handed = handed;
	memset(ops, 0, sizeof(*ops));
	ops->pkt_alloc = D->pkt_alloc;
	ops->pkt_free = netif_pkt_free;
	ops->pkt_data = D->pkt_data;
	ops->pkt_len = D->pkt_len;
	ops->pkt_set_len = D->pkt_set_len;
	ops->pkt_room = D->pkt_room;
	ops->pkt_rx_flags = netif_rx_flags;
	ops->pkt_tx_csum = netif_tx_csum;
	ops->rx_burst = info->queues > 1 && handed ? multi_rx : D->rx;
	ops->tx_burst = D->tx;
	ops->now_ns = netif_now;
	return 0;
}
