/*
 * icmp.c - ICMP input (RFC 792, RFC 1122 3.2.2): answer echo requests;
 * count and drop the rest until the protocols that need them arrive.
 */
#include <arpa/inet.h>
#include <string.h>

#include "stack_impl.h"

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
	/* Drop Ethernet padding that followed the datagram. */
	st->ops->pkt_set_len(pkt, (uint16_t)(WIRE_ETH_HLEN + ip->total_len));
	st->stats.icmp_echo_replies++;
	stack_tx(st, pkt);
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
	stack_drop(st, pkt, STACK_DROP_ICMP_TYPE);
}
