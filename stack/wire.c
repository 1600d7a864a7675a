/*
 * wire.c - checksum, and the header checks that do not depend on stack
 * state. See wire.h.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "wire.h"

uint16_t wire_csum_partial(const void *data, size_t len, uint32_t init)
{
	const uint8_t *p = data;
	uint64_t sum = init;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		sum += w;
		p += 2;
		len -= 2;
	}
	if (len)
		sum += ntohs((uint16_t)(*p << 8)); /* pad the odd byte (RFC 1071) */
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int wire_arp_check(const uint8_t *p, size_t len)
{
	const struct wire_arp *a = (const struct wire_arp *)p;

	if (len < WIRE_ARP_LEN)
		return -EINVAL;
	if (ntohs(a->htype) != WIRE_ARP_HTYPE_ETH ||
	    ntohs(a->ptype) != WIRE_ETHERTYPE_IPV4 ||
	    a->hlen != STACK_ETH_ALEN || a->plen != 4)
		return -EINVAL;
	if (ntohs(a->op) != WIRE_ARP_OP_REQUEST &&
	    ntohs(a->op) != WIRE_ARP_OP_REPLY)
		return -EINVAL;
	return 0;
}

int wire_ipv4_parse(const uint8_t *p, size_t len, int csum_verified,
		    struct wire_ipv4_view *v)
{
	const struct wire_ipv4 *h = (const struct wire_ipv4 *)p;
	unsigned hlen;

	if (len < WIRE_IPV4_HLEN || (h->ver_ihl >> 4) != 4)
		return -EINVAL;
	hlen = (h->ver_ihl & 0xf) * 4u;
	if (hlen < WIRE_IPV4_HLEN || hlen > len)
		return -EINVAL;
	v->total_len = ntohs(h->total_len);
	/* Frames may carry padding after the datagram (Ethernet minimum
	 * size); never the other way round. */
	if (v->total_len < hlen || v->total_len > len)
		return -EINVAL;
	if (!csum_verified && wire_csum(p, hlen) != 0)
		return -EBADMSG;
	v->hdr = h;
	v->hlen = (uint16_t)hlen;
	v->src = ntohl(h->src);
	v->dst = ntohl(h->dst);
	v->frag = ntohs(h->frag);
	v->proto = h->proto;
	v->payload = p + hlen;
	v->payload_len = (uint16_t)(v->total_len - hlen);
	return 0;
}

void wire_ipv4_emit(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
		    uint16_t payload_len, uint16_t id, uint8_t ttl)
{
	struct wire_ipv4 *h = (struct wire_ipv4 *)p;

	h->ver_ihl = 0x45;
	h->tos = 0;
	h->total_len = htons((uint16_t)(WIRE_IPV4_HLEN + payload_len));
	h->id = htons(id);
	h->frag = htons(WIRE_IPV4_DF);
	h->ttl = ttl;
	h->proto = proto;
	h->csum = 0;
	h->src = htonl(src);
	h->dst = htonl(dst);
	h->csum = wire_csum(h, WIRE_IPV4_HLEN);
}
