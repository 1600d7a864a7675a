/*
 * stack.c - creating a stack instance, the receive loop that feeds frames
 * to the protocols, and the output queue that batches frames to the port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stack_impl.h"
#include "tcp.h"

static const char *const drop_names[STACK_DROP_MAX] = {
	[STACK_DROP_RUNT] = "runt",
	[STACK_DROP_OVERSIZE] = "oversize",
	[STACK_DROP_NOT_FOR_US] = "eth_not_for_us",
	[STACK_DROP_ETHERTYPE] = "ethertype",
	[STACK_DROP_ARP_MALFORMED] = "arp_malformed",
	[STACK_DROP_ARP_NOT_FOR_US] = "arp_not_for_us",
	[STACK_DROP_ARP_BAD_SENDER] = "arp_bad_sender",
	[STACK_DROP_IP_MALFORMED] = "ip_malformed",
	[STACK_DROP_IP_CSUM] = "ip_csum",
	[STACK_DROP_IP_NOT_FOR_US] = "ip_not_for_us",
	[STACK_DROP_IP_MARTIAN] = "ip_martian",
	[STACK_DROP_IP_FRAGMENT] = "ip_fragment",
	[STACK_DROP_IP_PROTO] = "ip_proto",
	[STACK_DROP_ICMP_MALFORMED] = "icmp_malformed",
	[STACK_DROP_ICMP_CSUM] = "icmp_csum",
	[STACK_DROP_ICMP_TYPE] = "icmp_type",
	[STACK_DROP_NO_BUFFER] = "no_buffer",
	[STACK_DROP_TX_FULL] = "tx_full",
	[STACK_DROP_LOOP_FULL] = "loop_full",
	[STACK_DROP_TCP_MALFORMED] = "tcp_malformed",
	[STACK_DROP_TCP_CSUM] = "tcp_csum",
	[STACK_DROP_TCP_NO_CONN] = "tcp_no_conn",
	[STACK_DROP_TCP_QUIET] = "tcp_quiet",
	[STACK_DROP_TCP_LATE] = "tcp_handed_late",
	[STACK_DROP_TCP_WINDOW] = "tcp_window",
	[STACK_DROP_TCP_PAWS] = "tcp_paws",
	[STACK_DROP_TCP_BACKLOG] = "tcp_backlog",
	[STACK_DROP_TCP_OOO_FULL] = "tcp_ooo_full",
	[STACK_DROP_TCP_MOVE] = "tcp_move_refused",
};

const char *stack_drop_name(enum stack_drop reason)
{
	return (unsigned)reason < STACK_DROP_MAX ? drop_names[reason] : "?";
}

static int conf_valid(const struct stack_conf *c, uint32_t mask)
{
	if (c->ip == 0 || c->prefix_len > 32)
		return 0;
	if (c->mtu < 68 || c->mtu > 9000) /* RFC 791: every host takes 68 */
		return 0;
	if (c->gateway && ((c->gateway ^ c->ip) & mask))
		return 0;
	return 1;
}

struct stack *stack_create(const struct stack_conf *conf,
			   const struct stack_ops *ops, void *ctx)
{
	/* A prefix over 32 would make the shift negative (undefined); such a
	 * conf is refused by conf_valid anyway. */
	uint32_t mask = conf->prefix_len && conf->prefix_len <= 32 ?
		(uint32_t)(0xffffffffull << (32 - conf->prefix_len)) : 0;
	struct stack *st;

	if (!conf_valid(conf, mask) || (conf->tx_csum && !ops->pkt_tx_csum))
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->ops = ops;
	st->ctx = ctx;
	st->conf = *conf;
	st->netmask = mask;
	st->ip_id = (uint16_t)conf->seed;
	st->now = ops->now_ns(ctx);
	ipv4_reasm_init(&st->reasm);
	if (tcp_init(st) < 0) {
		free(st);
		return NULL;
	}
	arp_announce(st);
	stack_flush(st);
	return st;
}

void stack_destroy(struct stack *st)
{
	if (!st)
		return;
	tcp_fini(st);
	ipv4_reasm_fini(&st->reasm, st->ops, st->ctx);
	stack_flush(st);
	for (unsigned i = 0; i < st->ntx; i++)
		st->ops->pkt_free(st->ctx, st->tx[i]);
	for (; st->loop_len; st->loop_len--) {
		st->ops->pkt_free(st->ctx, st->loop[st->loop_head]);
		st->loop_head = (st->loop_head + 1) % STACK_LOOP_QUEUE;
	}
	free(st);
}

void stack_drop(struct stack *st, void *pkt, enum stack_drop reason)
{
	st->stats.drops[reason]++;
	st->ops->pkt_free(st->ctx, pkt);
}

/*
 * The loopback. A program that connects to the port's own address must
 * reach its own listener, or be refused at once, as on Linux, where such
 * a frame never leaves the host (it goes through lo). Keeping those
 * connects on the kernel would not do it: the kernel does not own the
 * port's address (at most it has another one on the tap's side), so it
 * would route the SYN out through the tap, to a stack that the blocked
 * caller itself is not polling, and on a port with no kernel interface
 * (memif, a NIC) there is no route at all. So the stack serves them
 * itself: an IPv4 frame to our own address (stack_resolve gives our own
 * MAC for it) is queued here instead of sent, and stack_poll delivers it
 * as a received frame. The IP address decides, not the MAC: net_tap gives
 * the kernel's side of the tap the port's MAC, so frames to the kernel
 * carry our own MAC as their destination. Never delivered from stack_tx
 * itself: a segment sent in the middle of input or of a user call would
 * be processed inside it.
 */
static int loop_put(struct stack *st, void *pkt)
{
	const uint8_t *f = st->ops->pkt_data(pkt);
	const struct wire_eth *e = (const struct wire_eth *)f;
	const struct wire_ipv4 *ip = (const struct wire_ipv4 *)(f + WIRE_ETH_HLEN);

	if (e->type != htons(WIRE_ETHERTYPE_IPV4) || ip->dst != htonl(st->conf.ip))
		return 0;
	if (st->loop_len == STACK_LOOP_QUEUE) {
		stack_drop(st, pkt, STACK_DROP_LOOP_FULL);
		return 1;
	}
	st->loop[(st->loop_head + st->loop_len++) % STACK_LOOP_QUEUE] = pkt;
	st->stats.loop_pkts++;
	return 1;
}

void stack_tx(struct stack *st, void *pkt)
{
	if (loop_put(st, pkt))
		return;
	if (st->ntx == STACK_TX_BURST)
		stack_flush(st);
	if (st->ntx == STACK_TX_BURST) { /* the port is stuck: keep no backlog */
		stack_drop(st, pkt, STACK_DROP_TX_FULL);
		return;
	}
	st->tx[st->ntx++] = pkt;
}

void stack_flush(struct stack *st)
{
	unsigned sent = 0;

	for (unsigned try = 0; sent < st->ntx && try < STACK_TX_RETRIES; try++) {
		uint64_t bytes = 0;
		unsigned n;

		for (unsigned i = sent; i < st->ntx; i++)
			bytes += st->ops->pkt_len(st->tx[i]);
		n = st->ops->tx_burst(st->ctx, st->tx + sent,
				      (uint16_t)(st->ntx - sent));
		for (unsigned i = sent + n; i < st->ntx; i++)
			bytes -= st->ops->pkt_len(st->tx[i]);
		st->stats.tx_pkts += n;
		st->stats.tx_bytes += bytes;
		sent += n;
	}
	if (sent < st->ntx) {
		memmove(st->tx, st->tx + sent, (st->ntx - sent) * sizeof(void *));
		st->ntx -= sent;
		return;
	}
	st->ntx = 0;
}

void eth_fill(struct stack *st, uint8_t *frame, const uint8_t *dst_mac,
	      uint16_t ethertype)
{
	struct wire_eth *e = (struct wire_eth *)frame;

	memcpy(e->dst, dst_mac, STACK_ETH_ALEN);
	memcpy(e->src, st->conf.mac, STACK_ETH_ALEN);
	e->type = htons(ethertype);
}

/* One frame, with st->now already up to date. */
static void input_frame(struct stack *st, void *pkt)
{
	uint8_t *frame = st->ops->pkt_data(pkt);
	uint16_t len = st->ops->pkt_len(pkt);
	const struct wire_eth *e = (const struct wire_eth *)frame;

	if (len < WIRE_ETH_HLEN) {
		stack_drop(st, pkt, STACK_DROP_RUNT);
		return;
	}
	if (len > st->conf.mtu + WIRE_ETH_HLEN) {
		stack_drop(st, pkt, STACK_DROP_OVERSIZE);
		return;
	}
	if (memcmp(e->dst, st->conf.mac, STACK_ETH_ALEN) != 0 &&
	    !wire_mac_is_broadcast(e->dst)) {
		stack_drop(st, pkt, STACK_DROP_NOT_FOR_US);
		return;
	}
	switch (ntohs(e->type)) {
	case WIRE_ETHERTYPE_ARP:
		arp_input(st, pkt, frame, len);
		break;
	case WIRE_ETHERTYPE_IPV4:
		/* We accept only our unicast address, so an IPv4 frame sent to
		 * the link broadcast is misdirected (RFC 1122 3.3.6). */
		if (wire_mac_is_broadcast(e->dst)) {
			stack_drop(st, pkt, STACK_DROP_IP_NOT_FOR_US);
			break;
		}
		ipv4_input(st, pkt, frame, len);
		break;
	case WIRE_ETHERTYPE_ACCEL_MOVE: /* (only from another process: ops->tcp_move) */
		if (!(st->ops->pkt_rx_flags(pkt) & STACK_RX_HANDED)) {
			stack_drop(st, pkt, STACK_DROP_ETHERTYPE);
			break;
		}
		tcp_move_in(st, frame + WIRE_ETH_HLEN, (uint16_t)(len - WIRE_ETH_HLEN));
		st->ops->pkt_free(st->ctx, pkt);
		break;
	default:
		stack_drop(st, pkt, STACK_DROP_ETHERTYPE);
	}
}

/* A frame from the port (the looped ones are counted as loop_pkts). */
static void input_rx(struct stack *st, void *pkt)
{
	st->stats.rx_pkts++;
	st->stats.rx_bytes += st->ops->pkt_len(pkt);
	input_frame(st, pkt);
}

void stack_input(struct stack *st, void *pkt)
{
	/* Not called from stack_poll, so the clock has not been read: ARP
	 * would date what it learns to the last poll and could learn an
	 * entry that has already expired. */
	st->now = st->ops->now_ns(st->ctx);
	tcp_enter(st);
	input_rx(st, pkt);
	tcp_leave(st);
}

/* Delivers the frames sent to ourselves, with those their delivery sends
 * back (a SYN's SYN-ACK, its ACK), up to a queue's worth a poll: a
 * connection to ourselves must not keep one poll from returning. */
static unsigned loop_drain(struct stack *st)
{
	unsigned n = 0;

	while (st->loop_len && n < STACK_LOOP_QUEUE) {
		void *pkt = st->loop[st->loop_head];

		st->loop_head = (st->loop_head + 1) % STACK_LOOP_QUEUE;
		st->loop_len--;
		input_frame(st, pkt);
		n++;
	}
	return n;
}

unsigned stack_loop_run(struct stack *st)
{
	unsigned n;

	if (!st->loop_len)
		return 0;
	st->now = st->ops->now_ns(st->ctx);
	tcp_enter(st);
	n = loop_drain(st);
	tcp_leave(st);
	stack_flush(st);
	return n;
}

unsigned stack_poll(struct stack *st)
{
	void *pkts[STACK_RX_BURST];
	unsigned n;

	st->now = st->ops->now_ns(st->ctx);
	tcp_enter(st); /* connections dropped on the way are freed at the end */
	n = st->ops->rx_burst(st->ctx, pkts, STACK_RX_BURST);
	for (unsigned i = 0; i < n; i++)
		input_rx(st, pkts[i]);
	tcp_timers_run(st);
	if (st->tcp_move_waiting)
		tcp_move_retry(st);
	n += loop_drain(st);
	tcp_leave(st);
	if (st->reasm_busy) { /* a profile showed the scan on every poll */
		uint64_t due = ipv4_reasm_deadline(&st->reasm);

		if (due == UINT64_MAX)
			st->reasm_busy = 0;
		else if (due <= st->now)
			ipv4_reasm_expire(&st->reasm, st->ops, st->ctx, st->now);
	}
	if (st->ntx)
		stack_flush(st);
	return n;
}

uint64_t stack_clock(const struct stack *st)
{
	return st->now;
}

uint64_t stack_next_deadline(const struct stack *st)
{
	/* ARP entries age lazily on lookup; TCP and reassembly have timers. */
	uint64_t t = tw_next_deadline(&st->tw);
	uint64_t r = st->reasm_busy ? ipv4_reasm_deadline(&st->reasm) : UINT64_MAX;

	if (st->loop_len)
		return st->now;
	if (st->tcp_move_waiting && st->tcp_move_next < r)
		r = st->tcp_move_next; /* (a closed listener's children: tcp_move.c) */
	return t < r ? t : r;
}

/* The next hop to dst: itself on-link, else the gateway; 0 when there is
 * none (off-link without a gateway). */
static uint32_t next_hop(const struct stack *st, uint32_t dst)
{
	if ((dst ^ st->conf.ip) & st->netmask)
		return st->conf.gateway;
	return dst;
}

int stack_resolve(struct stack *st, uint32_t dst_ip, uint8_t mac[STACK_ETH_ALEN])
{
	uint32_t hop = next_hop(st, dst_ip);

	if (dst_ip == st->conf.ip) { /* the loopback (loop_put) */
		memcpy(mac, st->conf.mac, STACK_ETH_ALEN);
		return 0;
	}
	if (!hop)
		return -ENETUNREACH;
	st->now = st->ops->now_ns(st->ctx);
	return arp_resolve(st, hop, mac);
}

int stack_neigh_lookup(struct stack *st, uint32_t dst, uint8_t mac[STACK_ETH_ALEN])
{
	uint32_t hop = next_hop(st, dst);

	if (dst == st->conf.ip) {
		memcpy(mac, st->conf.mac, STACK_ETH_ALEN);
		return 0;
	}
	return hop ? arp_lookup(st, hop, mac) : -ENETUNREACH;
}

void stack_neigh_doubt(struct stack *st, uint32_t dst)
{
	uint32_t hop = next_hop(st, dst);

	if (dst != st->conf.ip && hop)
		arp_doubt(st, hop);
}

void stack_neigh_confirm(struct stack *st, uint32_t dst, const uint8_t mac[STACK_ETH_ALEN])
{
	uint32_t hop = next_hop(st, dst);

	if (dst != st->conf.ip && hop)
		arp_confirm(st, hop, mac);
}

const struct stack_stats *stack_stats(const struct stack *st)
{
	return &st->stats;
}
