/*
 * icmp.c - ICMP input (RFC 792, RFC 1122 3.2.2): answer echo requests;
 * count and drop the rest until the protocols that need them arrive.
 */
#include <arpa/inet.h>
#include <string.h>

#include "stack_impl.h"
#include "tcp.h"

/*
 * RFC 1122 3.2.2.6: the reply carries the request's data unchanged, so it
 * is built in the request's own buffer: swap the addresses, change the
 * type and patch both checksums incrementally (RFC 1624).
 */
static void icmp_echo_reply(struct stack *st, void *pkt, uint8_t *frame,
			    const struct wire_ipv4_view *ip)
{
	struct wire_eth *e = (struct wire_eth *)frame;
	struct wire_ipv4 *h = (struct wire_ipv4 *)(frame + WIRE_ETH_HLEN);
	struct wire_icmp *ic = (struct wire_icmp *)(frame + WIRE_ETH_HLEN + ip->hlen);
	uint16_t old_word, new_word;
	uint32_t tmp;

	memcpy(e->dst, e->src, STACK_ETH_ALEN);
	memcpy(e->src, st->conf.mac, STACK_ETH_ALEN);
	tmp = h->src;
	h->src = h->dst;
	h->dst = tmp;
	memcpy(&old_word, &h->ttl, 2); /* ttl and protocol share a word */
	h->ttl = STACK_IP_TTL;
	memcpy(&new_word, &h->ttl, 2);
	h->csum = wire_csum_update16(h->csum, old_word, new_word);
	memcpy(&old_word, &ic->type, 2);
	ic->type = WIRE_ICMP_ECHO_REPLY;
	memcpy(&new_word, &ic->type, 2);
	ic->csum = wire_csum_update16(ic->csum, old_word, new_word);
	/* One's complement has two zeros: RFC 1624 (3) gives 0x0000 also for
	 * a reply of zero bytes only, whose checksum is 0xffff (the sum over
	 * the message must come to 0xffff, RFC 1071), so that case, rare and
	 * short, is summed afresh. */
	if (ic->csum == 0)
		ic->csum = wire_csum(ic, ip->payload_len);
	/* Drop Ethernet padding that followed the datagram. */
	st->ops->pkt_set_len(pkt, (uint16_t)(WIRE_ETH_HLEN + ip->total_len));
	st->stats.icmp_echo_replies++;
	stack_tx(st, pkt);
}

/*
 * RFC 792 / RFC 1122 3.2.2.1: a destination unreachable carries the IP
 * header and at least 8 bytes of the datagram it refers to, enough for
 * TCP's ports and sequence number; the transport decides what it means.
 */
static int icmp_unreach(struct stack *st, void *pkt, const struct wire_ipv4_view *ip)
{
	const uint8_t *q = ip->payload + WIRE_ICMP_HLEN;
	size_t qlen = ip->payload_len - WIRE_ICMP_HLEN;
	const struct wire_icmp *ic = (const struct wire_icmp *)ip->payload;
	const struct wire_ipv4 *orig = (const struct wire_ipv4 *)q;
	unsigned hlen;
	uint16_t sport, dport, mtu;
	uint32_t seq;

	st->stats.icmp_unreach_in++;
	if (qlen < WIRE_IPV4_HLEN || (orig->ver_ihl >> 4) != 4)
		return 0;
	hlen = (orig->ver_ihl & 0xf) * 4u;
	if (hlen < WIRE_IPV4_HLEN || qlen < hlen + 8 || orig->proto != WIRE_IPPROTO_TCP ||
	    ntohl(orig->src) != st->conf.ip)
		return 0;
	memcpy(&sport, q + hlen, 2);
	memcpy(&dport, q + hlen + 2, 2);
	memcpy(&seq, q + hlen + 4, 4);
	memcpy(&mtu, &ic->seq, 2); /* RFC 1191 4: next-hop MTU in bytes 6-7 */
	return tcp_icmp_unreach(st, pkt, ntohl(orig->dst), ntohs(sport), ntohs(dport),
				ntohl(seq), ic->code, ntohs(mtu));
}

void icmp_input(struct stack *st, void *pkt, uint8_t *frame,
		const struct wire_ipv4_view *ip)
{
	const struct wire_icmp *ic = (const struct wire_icmp *)ip->payload;

	if (ip->payload_len < WIRE_ICMP_HLEN) {
		stack_drop(st, pkt, STACK_DROP_ICMP_MALFORMED);
		return;
	}
	if (wire_csum(ip->payload, ip->payload_len) != 0) {
		stack_drop(st, pkt, STACK_DROP_ICMP_CSUM);
		return;
	}
	if (ic->type == WIRE_ICMP_ECHO_REQUEST && ic->code == 0) {
		icmp_echo_reply(st, pkt, frame, ip);
		return;
	}
	if (ic->type == WIRE_ICMP_UNREACH) {
		if (!icmp_unreach(st, pkt, ip)) /* (1: steered to its stack) */
			st->ops->pkt_free(st->ctx, pkt);
		return;
	}
	stack_drop(st, pkt, STACK_DROP_ICMP_TYPE);
}
