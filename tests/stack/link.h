/*
 * link.h - a test platform for stack/: struct stack_ops on plain heap
 * buffers, a clock the test drives, an rx queue the test fills, a log of
 * every frame the stack transmits, a count of live buffers to catch leaks,
 * and switches that make allocation or transmission fail. Below that, the
 * builders for frames made by hand (lwIP's way of testing input code).
 *
 * Header-only: a test program includes it once. Written to grow: a link
 * between two stacks will move frames from one port's tx log to the other
 * port's rx queue (dropping some with test_rng to model loss), so queues,
 * packets and the random source stand on their own, and a packet counts
 * against the port that allocated it wherever it ends up.
 *
 * The builders compute checksums with their own byte-wise RFC 1071 sum and
 * write fields byte by byte, so frames do not depend on the wire.c and
 * wire.h code they are used to test.
 */
#ifndef ACCEL_TESTS_STACK_LINK_H
#define ACCEL_TESTS_STACK_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../stack/stack.h"
#include "../../stack/tcp_wire.h"
#include "../../stack/wire.h"

/* Room of every test buffer: a 1500-byte MTU frame plus headroom, as an
 * mbuf from a default DPDK pool. */
#define TEST_PKT_ROOM 2048

#define TEST_IP4(a, b, c, d) \
	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

#define TEST_NS_PER_S 1000000000ull

/* ---- byte order, written out so it cannot share a bug with wire.c ----- */

static inline void test_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void test_put32(uint8_t *p, uint32_t v)
{
	test_put16(p, (uint16_t)(v >> 16));
	test_put16(p + 2, (uint16_t)v);
}

static inline uint16_t test_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t test_get32(const uint8_t *p)
{
	return (uint32_t)test_get16(p) << 16 | test_get16(p + 2);
}

/* RFC 1071 one's complement sum of big-endian words, an odd byte padded
 * with zero, folded to 16 bits (host order, not inverted). The reference
 * the tests hold wire_csum_partial to. */
static inline uint16_t test_csum_sum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += test_get16(p + i);
	if (len & 1)
		sum += (uint16_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The Internet checksum of data, host order, to be stored with test_put16. */
static inline uint16_t test_csum(const void *data, size_t len)
{
	return (uint16_t)~test_csum_sum(data, len);
}

/* ---- random numbers: seeded, so a failing run can be repeated --------- */

struct test_rng {
	uint64_t s;
};

/* splitmix64: tiny, full period, good enough to pick bytes and losses. */
static inline uint64_t test_rand(struct test_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform enough in 0..n-1 for the small n of tests; n > 0. */
static inline uint32_t test_rand_below(struct test_rng *r, uint32_t n)
{
	return (uint32_t)(test_rand(r) % n);
}

static inline void test_rand_bytes(struct test_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)test_rand(r);
}

/* ---- packets and queues ------------------------------------------------ */

struct test_port;

struct test_pkt {
	struct test_port *origin; /* the port this buffer counts against */
	uint16_t len;
	uint32_t rx_flags;        /* STACK_RX_* reported to the stack */
	unsigned tx_csum;         /* STACK_TX_* the "NIC" must fill on transmit */
	uint16_t l2_len, l3_len;
	uint8_t data[TEST_PKT_ROOM];
};

/* A FIFO of packets; grows as needed so a test never loses a frame to it. */
struct test_pktq {
	struct test_pkt **pkts;
	size_t head, count, cap;
};

static inline void test_pktq_push(struct test_pktq *q, struct test_pkt *p)
{
	if (q->head + q->count == q->cap && q->head) {
		memmove(q->pkts, q->pkts + q->head, q->count * sizeof(*q->pkts));
		q->head = 0;
	}
	if (q->count == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->pkts = realloc(q->pkts, q->cap * sizeof(*q->pkts));
		if (!q->pkts)
			abort(); /* a test that cannot queue cannot say anything */
	}
	q->pkts[q->head + q->count++] = p;
}

/* Oldest packet, or NULL when empty; the caller owns it. */
static inline struct test_pkt *test_pktq_pop(struct test_pktq *q)
{
	struct test_pkt *p;

	if (!q->count)
		return NULL;
	p = q->pkts[q->head++];
	if (!--q->count)
		q->head = 0;
	return p;
}

/* i-th oldest packet, still owned by the queue. */
static inline struct test_pkt *test_pktq_at(const struct test_pktq *q,
					     size_t i)
{
	return i < q->count ? q->pkts[q->head + i] : NULL;
}

/* ---- the port ---------------------------------------------------------- */

struct test_port {
	uint64_t now_ns;        /* what ops->now_ns returns; the test moves it */
	struct test_pktq rx;    /* handed to the stack by rx_burst */
	struct test_pktq tx;    /* every frame tx_burst accepted, in order */
	long live;              /* buffers of this port not yet freed */
	unsigned misuse;        /* e.g. a length set beyond the buffer */
	uint64_t allocs;        /* successful ops->pkt_alloc calls */
	uint64_t alloc_failures;
	uint64_t tx_calls;
	bool fail_alloc;        /* ops->pkt_alloc returns NULL */
	int tx_limit;           /* frames tx_burst takes per call; < 0: all */
};

static inline void test_port_init(struct test_port *port, uint64_t now_ns)
{
	memset(port, 0, sizeof(*port));
	port->now_ns = now_ns;
	port->tx_limit = -1;
}

/* A zeroed buffer counted against port; the test fills it. */
static inline struct test_pkt *test_pkt_new(struct test_port *port)
{
	struct test_pkt *p = calloc(1, sizeof(*p));

	if (!p)
		abort();
	p->origin = port;
	port->live++;
	return p;
}

static inline void test_pkt_free(struct test_pkt *p)
{
	if (!p)
		return;
	p->origin->live--;
	free(p);
}

static inline void *test_port_pkt_alloc(void *ctx)
{
	struct test_port *port = ctx;

	if (port->fail_alloc) {
		port->alloc_failures++;
		return NULL;
	}
	port->allocs++;
	return test_pkt_new(port);
}

static inline void test_port_pkt_free(void *ctx, void *pkt)
{
	(void)ctx;
	test_pkt_free(pkt);
}

static inline uint8_t *test_port_pkt_data(void *pkt)
{
	return ((struct test_pkt *)pkt)->data;
}

static inline uint16_t test_port_pkt_len(void *pkt)
{
	return ((struct test_pkt *)pkt)->len;
}

static inline void test_port_pkt_set_len(void *pkt, uint16_t len)
{
	struct test_pkt *p = pkt;

	if (len > TEST_PKT_ROOM) { /* a real mbuf would be corrupted */
		p->origin->misuse++;
		len = TEST_PKT_ROOM;
	}
	p->len = len;
}

static inline uint16_t test_port_pkt_room(void *pkt)
{
	(void)pkt;
	return TEST_PKT_ROOM;
}

static inline uint32_t test_port_pkt_rx_flags(void *pkt)
{
	return ((struct test_pkt *)pkt)->rx_flags;
}

static inline void test_port_pkt_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len,
					 unsigned flags)
{
	struct test_pkt *p = pkt;

	p->tx_csum = flags;
	p->l2_len = l2_len;
	p->l3_len = l3_len;
}

/* What a NIC does on transmit for test_port_pkt_tx_csum: the IPv4 header
 * checksum from zero, the TCP one from the pseudo-header sum the stack left
 * in the field (RFC 1071 sums, as the hardware computes them). */
static inline void test_nic_tx_csum(struct test_pkt *p)
{
	uint8_t *ip = p->data + p->l2_len, *tcp = ip + p->l3_len;
	uint16_t cs;

	if (p->tx_csum & STACK_TX_IP_CSUM) {
		cs = wire_csum(ip, p->l3_len);
		memcpy(ip + 10, &cs, 2);
	}
	if (p->tx_csum & STACK_TX_TCP_CSUM) {
		uint16_t seed, tcp_len = (uint16_t)(test_get16(ip + 2) - p->l3_len);

		memcpy(&seed, tcp + 16, 2);
		memset(tcp + 16, 0, 2);
		cs = (uint16_t)~wire_csum_partial(tcp, tcp_len, seed);
		memcpy(tcp + 16, &cs, 2);
	}
	p->tx_csum = 0;
}

/* What a NIC with receive checksum offload reports: GOOD for a valid IPv4
 * header and TCP checksum, nothing otherwise (the stack then checks). */
static inline void test_nic_rx_check(struct test_pkt *p)
{
	uint8_t *ip = p->data + 14;
	unsigned hl;

	p->rx_flags = 0;
	if (p->len < 34 || test_get16(p->data + 12) != 0x0800)
		return;
	hl = (ip[0] & 0xfu) * 4u;
	if (hl < 20 || 14u + hl > p->len || wire_csum(ip, hl) != 0)
		return;
	p->rx_flags |= STACK_RX_IP_CSUM_GOOD;
	if (ip[9] == 6 && test_get16(ip + 2) >= hl && test_get16(ip + 2) <= p->len - 14u &&
	    wire_tcp_csum(ip + hl, test_get16(ip + 2) - hl, test_get32(ip + 12),
			  test_get32(ip + 16)) == 0)
		p->rx_flags |= STACK_RX_L4_CSUM_GOOD;
}

static inline uint16_t test_port_rx_burst(void *ctx, void **pkts, uint16_t n)
{
	struct test_port *port = ctx;
	uint16_t i = 0;

	while (i < n && port->rx.count)
		pkts[i++] = test_pktq_pop(&port->rx);
	return i;
}

static inline uint16_t test_port_tx_burst(void *ctx, void **pkts, uint16_t n)
{
	struct test_port *port = ctx;
	uint16_t take = n;

	port->tx_calls++;
	if (port->tx_limit >= 0 && take > port->tx_limit)
		take = (uint16_t)port->tx_limit;
	for (uint16_t i = 0; i < take; i++)
		test_pktq_push(&port->tx, pkts[i]);
	return take;
}

static inline uint64_t test_port_now_ns(void *ctx)
{
	return ((struct test_port *)ctx)->now_ns;
}

/* The ops table to pass to stack_create with the port as ctx. A function
 * so that a program that does not use it has no unused object. */
static inline const struct stack_ops *test_port_ops(void)
{
	static const struct stack_ops ops = {
		.pkt_alloc = test_port_pkt_alloc,
		.pkt_free = test_port_pkt_free,
		.pkt_data = test_port_pkt_data,
		.pkt_len = test_port_pkt_len,
		.pkt_set_len = test_port_pkt_set_len,
		.pkt_room = test_port_pkt_room,
		.pkt_rx_flags = test_port_pkt_rx_flags,
		.pkt_tx_csum = test_port_pkt_tx_csum,
		.rx_burst = test_port_rx_burst,
		.tx_burst = test_port_tx_burst,
		.now_ns = test_port_now_ns,
	};
	return &ops;
}

static inline void test_port_advance(struct test_port *port, uint64_t ns)
{
	port->now_ns += ns;
}

static inline size_t test_port_tx_count(const struct test_port *port)
{
	return port->tx.count;
}

static inline struct test_pkt *test_port_tx_at(const struct test_port *port,
					       size_t i)
{
	return test_pktq_at(&port->tx, i);
}

static inline void test_port_tx_clear(struct test_port *port)
{
	while (port->tx.count)
		test_pkt_free(test_pktq_pop(&port->tx));
}

/* Frees what the port still holds (tx log, unread rx frames) and its queue
 * memory. Returns the buffers still live: once the stack is destroyed,
 * anything left was leaked by it. */
static inline long test_port_fini(struct test_port *port)
{
	test_port_tx_clear(port);
	while (port->rx.count)
		test_pkt_free(test_pktq_pop(&port->rx));
	free(port->tx.pkts);
	free(port->rx.pkts);
	port->tx.pkts = port->rx.pkts = NULL;
	port->tx.cap = port->rx.cap = 0;
	return port->live;
}

/* ---- frames built by hand ---------------------------------------------- */

/* A frame under construction; every builder appends at len. */
struct test_frame {
	uint16_t len;
	uint8_t b[TEST_PKT_ROOM];
};

static inline void test_frame_reset(struct test_frame *f)
{
	f->len = 0;
}

static inline uint8_t *test_frame_bytes(struct test_frame *f, const void *p,
					size_t n)
{
	uint8_t *at = f->b + f->len;

	if (f->len + n > sizeof(f->b))
		abort(); /* the test itself is wrong */
	if (p)
		memcpy(at, p, n);
	else
		memset(at, 0, n);
	f->len = (uint16_t)(f->len + n);
	return at;
}

/* Zero bytes up to min_len, as a NIC pads short frames to the 60-byte
 * Ethernet minimum (IEEE 802.3 without the FCS). */
static inline void test_frame_pad(struct test_frame *f, size_t min_len)
{
	if (f->len < min_len)
		test_frame_bytes(f, NULL, min_len - f->len);
}

static inline void test_frame_eth(struct test_frame *f, const uint8_t *dst,
				  const uint8_t *src, uint16_t ethertype)
{
	uint8_t *p = test_frame_bytes(f, NULL, 14);

	memcpy(p, dst, STACK_ETH_ALEN);
	memcpy(p + 6, src, STACK_ETH_ALEN);
	test_put16(p + 12, ethertype);
}

/* An Ethernet/IPv4 ARP packet (RFC 826), 28 bytes. */
static inline void test_frame_arp(struct test_frame *f, uint16_t op,
				  const uint8_t *sha, uint32_t spa,
				  const uint8_t *tha, uint32_t tpa)
{
	uint8_t *p = test_frame_bytes(f, NULL, 28);

	test_put16(p, 1);           /* htype Ethernet */
	test_put16(p + 2, 0x0800);  /* ptype IPv4 */
	p[4] = 6;
	p[5] = 4;
	test_put16(p + 6, op);
	memcpy(p + 8, sha, STACK_ETH_ALEN);
	test_put32(p + 14, spa);
	memcpy(p + 18, tha, STACK_ETH_ALEN);
	test_put32(p + 24, tpa);
}

/* What an IPv4 header should say. Zero means the usual value, so tests
 * spell out only what they care about. */
struct test_ipv4 {
	uint32_t src, dst;      /* host order */
	uint8_t proto;
	uint8_t ttl;            /* 0: 64 */
	uint8_t tos;
	uint16_t id;
	uint16_t frag;          /* flags and offset, host order */
	const uint8_t *opts;    /* options, copied after the fixed header */
	uint8_t opts_len;       /* a multiple of 4 unless testing ihl */
	uint8_t version;        /* 0: 4 */
	uint8_t ihl;            /* 0: (20 + opts_len) / 4 */
	uint16_t total_len;     /* 0: header + payload_len */
	bool bad_csum;          /* store a checksum off by one */
};

/* Appends the header of an IPv4 datagram carrying payload_len bytes (the
 * caller appends those next). Returns the header. */
static inline uint8_t *test_frame_ipv4(struct test_frame *f,
				       const struct test_ipv4 *ip,
				       uint16_t payload_len)
{
	uint16_t hlen = (uint16_t)(20 + ip->opts_len);
	uint8_t *h = test_frame_bytes(f, NULL, hlen);
	uint8_t ihl = ip->ihl ? ip->ihl : (uint8_t)(hlen / 4);
	uint16_t csum;

	h[0] = (uint8_t)((ip->version ? ip->version : 4) << 4 | (ihl & 0xf));
	h[1] = ip->tos;
	test_put16(h + 2, ip->total_len ? ip->total_len :
					  (uint16_t)(hlen + payload_len));
	test_put16(h + 4, ip->id);
	test_put16(h + 6, ip->frag);
	h[8] = ip->ttl ? ip->ttl : 64;
	h[9] = ip->proto;
	test_put32(h + 12, ip->src);
	test_put32(h + 16, ip->dst);
	if (ip->opts_len)
		memcpy(h + 20, ip->opts, ip->opts_len);
	csum = test_csum(h, hlen);
	test_put16(h + 10, ip->bad_csum ? (uint16_t)(csum + 1) : csum);
	return h;
}

/* Appends an ICMP message of the echo layout (RFC 792) with a correct
 * checksum. Returns it. */
static inline uint8_t *test_frame_icmp_echo(struct test_frame *f, uint8_t type,
					    uint8_t code, uint16_t id,
					    uint16_t seq, const void *payload,
					    size_t len)
{
	uint8_t *m = test_frame_bytes(f, NULL, 8 + len);

	m[0] = type;
	m[1] = code;
	test_put16(m + 4, id);
	test_put16(m + 6, seq);
	if (len)
		memcpy(m + 8, payload, len);
	test_put16(m + 2, test_csum(m, 8 + len));
	return m;
}

/* A packet of the port holding a copy of the frame, ready for the stack. */
static inline struct test_pkt *test_port_pkt_from(struct test_port *port,
						  const struct test_frame *f)
{
	struct test_pkt *p = test_pkt_new(port);

	memcpy(p->data, f->b, f->len);
	p->len = f->len;
	return p;
}

/* Queues a copy of the frame for the stack's next rx_burst. */
static inline void test_port_rx_push(struct test_port *port,
				     const struct test_frame *f)
{
	test_pktq_push(&port->rx, test_port_pkt_from(port, f));
}

#endif
