/*
 * ipv4.c - IPv4 input (RFC 791, RFC 1122 3.2.1): validate, keep only what
 * is addressed to us, hand the payload to its protocol.
 */
#include <errno.h>

#include "stack_impl.h"
#include "tcp.h"

/* RFC 1122 3.2.1.3: sources a host must never accept. Our own address
 * is one on the wire, but not on a frame the loopback (stack.c) delivers:
 * that one came from this stack. */
static int ipv4_martian(const struct stack *st, uint32_t src)
{
	uint8_t first = (uint8_t)(src >> 24);

	if (src == 0 || src == 0xffffffffu || first == 127 || first >= 224)
		return 1;
	/* RFC 3021 2: a /31 has no broadcast address, both are hosts. */
	if (st->conf.prefix_len <= 30 &&
	    ((src ^ st->conf.ip) & st->netmask) == 0 &&
	    (src & ~st->netmask) == ~st->netmask)
		return 1; /* our subnet's broadcast address */
	return src == st->conf.ip && !st->looping;
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
	if (ipv4_martian(st, ip.src)) {
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
