/*
 * wire.h - protocol headers as they are on the wire, and the checks that
 * decide whether a header can be used. Logic that acts on a header lives in
 * the file named for the protocol (arp.c, ipv4.c, icmp.c); only layout,
 * parsing and emitting live here.
 */
#ifndef ACCEL_STACK_WIRE_H
#define ACCEL_STACK_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stack.h"

#define WIRE_ETH_HLEN 14
#define WIRE_ETHERTYPE_IPV4 0x0800
#define WIRE_ETHERTYPE_ARP 0x0806
/* IEEE 802 local experimental EtherType 1: never on a wire of ours; between
 * the processes of a shared device, a connection handed over (tcp_move.c) */
#define WIRE_ETHERTYPE_ACCEL_MOVE 0x88b5

#define WIRE_ARP_LEN 28
#define WIRE_ARP_HTYPE_ETH 1
#define WIRE_ARP_OP_REQUEST 1
#define WIRE_ARP_OP_REPLY 2

#define WIRE_IPV4_HLEN 20
#define WIRE_IPPROTO_ICMP 1
#define WIRE_IPPROTO_TCP 6
#define WIRE_IPPROTO_UDP 17
#define WIRE_IPV4_MF 0x2000
#define WIRE_IPV4_DF 0x4000
#define WIRE_IPV4_OFFMASK 0x1fff

#define WIRE_ICMP_HLEN 8
#define WIRE_ICMP_ECHO_REPLY 0
#define WIRE_ICMP_ECHO_REQUEST 8
#define WIRE_ICMP_UNREACH 3
#define WIRE_ICMP_UNREACH_PROTO 2
#define WIRE_ICMP_UNREACH_PORT 3
#define WIRE_ICMP_UNREACH_NEEDFRAG 4

struct wire_eth {
	uint8_t dst[STACK_ETH_ALEN];
	uint8_t src[STACK_ETH_ALEN];
	uint16_t type;
} __attribute__((packed));

struct wire_arp {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[STACK_ETH_ALEN];
	uint32_t spa;
	uint8_t tha[STACK_ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));

struct wire_ipv4 {
	uint8_t ver_ihl;
	uint8_t tos;
	uint16_t total_len;
	uint16_t id;
	uint16_t frag;
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));

struct wire_icmp {
	uint8_t type, code;
	uint16_t csum;
	uint16_t id, seq;
} __attribute__((packed));

/* A parsed IPv4 header: host-order fields and where the payload is. */
struct wire_ipv4_view {
	const struct wire_ipv4 *hdr;
	uint32_t src, dst;
	uint16_t hlen, total_len, frag;
	uint8_t proto;
	const uint8_t *payload;
	uint16_t payload_len;
};

/* RFC 1071 one's complement sum of len bytes, folded to 16 bits, not
 * inverted. Start a new sum with init = 0. */
uint16_t wire_csum_partial(const void *data, size_t len, uint32_t init);

static inline uint16_t wire_csum(const void *data, size_t len)
{
	return (uint16_t)~wire_csum_partial(data, len, 0);
}

/* RFC 1624 (3): the checksum after one 16-bit word changed from old to new. */
static inline uint16_t wire_csum_update16(uint16_t csum, uint16_t old_word,
					  uint16_t new_word)
{
	uint32_t sum = (uint16_t)~csum + (uint32_t)(uint16_t)~old_word + new_word;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline int wire_mac_is_broadcast(const uint8_t *mac)
{
	static const uint8_t bcast[STACK_ETH_ALEN] = { 0xff, 0xff, 0xff,
						       0xff, 0xff, 0xff };
	return memcmp(mac, bcast, STACK_ETH_ALEN) == 0;
}

/* 0 when the ARP payload is an Ethernet/IPv4 request or reply; else
 * -EINVAL. */
int wire_arp_check(const uint8_t *p, size_t len);

/*
 * Checks an IPv4 header per RFC 791 and RFC 1122 3.2.1: version 4, header
 * length >= 20 and within the frame, total length within the frame, and
 * (unless csum_verified) the header checksum. Fills *v on success.
 * Returns 0, -EINVAL (malformed) or -EBADMSG (bad checksum).
 */
int wire_ipv4_parse(const uint8_t *p, size_t len, int csum_verified,
		    struct wire_ipv4_view *v);

/* Writes a 20-byte IPv4 header with its checksum. */
void wire_ipv4_emit(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
		    uint16_t payload_len, uint16_t id, uint8_t ttl);

#endif
