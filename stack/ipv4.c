/*
 * ipv4.c - IPv4 input (RFC 791, RFC 1122 3.2.1): validate, keep only what
 * is addressed to us, hand the payload to its protocol.
 */
#include <errno.h>
#include <string.h>

#include "stack_impl.h"
#include "tcp.h"

/* RFC 1122 3.2.1.3: sources a host must never accept, and our own
 * address, as Linux (a martian source but on lo), unless the frame is
 * from our own MAC to our own MAC: then it comes from a stack of this
 * process, through the loopback (stack.c), or from a sibling stack that
 * looped it and steered it here, which is why the MACs decide and not a
 * flag of this stack's. From a wire it would take a forged MAC as well
 * as our forged address (or the kernel's side of a net_tap port, which
 * has our MAC, sending from an address it does not have). */
static int ipv4_martian(const struct stack *st, uint32_t src, const uint8_t *frame)
{
	const struct wire_eth *e = (const struct wire_eth *)frame;
	uint8_t first = (uint8_t)(src >> 24);

	if (src == 0 || src == 0xffffffffu || first == 127 || first >= 224)
		return 1;
	/* RFC 3021 2: a /31 has no broadcast address, both are hosts. */
	if (st->conf.prefix_len <= 30 &&
	    ((src ^ st->conf.ip) & st->netmask) == 0 &&
	    (src & ~st->netmask) == ~st->netmask)
		return 1; /* our subnet's broadcast address */
	return src == st->conf.ip &&
	       (memcmp(e->src, st->conf.mac, STACK_ETH_ALEN) != 0 ||
		memcmp(e->dst, st->conf.mac, STACK_ETH_ALEN) != 0);
}

void ipv4_input(struct stack *st, void *pkt, uint8_t *frame, uint16_t len)
{
	struct wire_ipv4_view ip;
	int verified = !!(st->ops->pkt_rx_flags(pkt) & STACK_RX_IP_CSUM_GOOD);
	int rc;

	rc = wire_ipv4_parse(frame + WIRE_ETH_HLEN, len - WIRE_ETH_HLEN,
			     verified, &ip);
	if (rc < 0) {
		stack_drop(st, pkt, rc == -EBADMSG ? STACK_DROP_IP_CSUM :
						      STACK_DROP_IP_MALFORMED);
		return;
	}
	if (ip.dst != st->conf.ip) {
		stack_drop(st, pkt, STACK_DROP_IP_NOT_FOR_US);
		return;
	}
	if (ipv4_martian(st, ip.src, frame)) {
		stack_drop(st, pkt, STACK_DROP_IP_MARTIAN);
		return;
	}
	if (ip.frag & (WIRE_IPV4_MF | WIRE_IPV4_OFFMASK)) {
		void *whole = NULL;

		/* RFC 791 3.2 / RFC 815: hold fragments until the datagram is
		 * whole; the reassembly table counts its own drops. */
		rc = ipv4_reasm_input(&st->reasm, st->ops, st->ctx, st->now, pkt,
				      &ip, &whole);
		if (rc < 0) {
			st->stats.drops[STACK_DROP_IP_FRAGMENT]++;
			return;
		}
		st->stats.ip_frags_in++;
		st->reasm_busy = 1;
		if (rc == 0)
			return;
		st->stats.ip_reassembled++;
		pkt = whole;
		frame = st->ops->pkt_data(pkt);
		len = st->ops->pkt_len(pkt);
		if (wire_ipv4_parse(frame + WIRE_ETH_HLEN, len - WIRE_ETH_HLEN, 0, &ip) < 0) {
			stack_drop(st, pkt, STACK_DROP_IP_MALFORMED);
			return;
		}
	}
	switch (ip.proto) {
	case WIRE_IPPROTO_ICMP:
		icmp_input(st, pkt, frame, &ip);
		break;
	case WIRE_IPPROTO_TCP:
		tcp_input(st, pkt, frame, &ip);
		break;
	default:
		stack_drop(st, pkt, STACK_DROP_IP_PROTO);
	}
}
