/*
 * test_input.c - the stack through its public API, on the test port of
 * link.h: what it sends when it comes up, how it answers ARP and echo
 * requests, which frames it refuses and under which counter, how it batches
 * output to a port that takes less than offered, and that no buffer leaks
 * whatever it is fed. Frames are built by hand, byte by byte.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../stack/opts.h"
#include "../../stack/stack.h"
#include "link.h"

#define OUR_IP TEST_IP4(10, 0, 0, 1)
#define PEER_IP TEST_IP4(10, 0, 0, 2)
#define OTHER_IP TEST_IP4(10, 0, 0, 3)
#define GW_IP TEST_IP4(10, 0, 0, 254)
#define NET_BCAST TEST_IP4(10, 0, 0, 255)
#define FAR_IP TEST_IP4(192, 168, 1, 1)
#define PREFIX 24
#define MTU 1500
/* A clock that starts far from zero, as a real one does. */
#define T0 (1000 * TEST_NS_PER_S)

#define ETH_IPV4 0x0800
#define ETH_ARP 0x0806
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8
#define IP_DF 0x4000
#define IP_MF 0x2000
#define ECHO_ID 0x1d2e
#define ECHO_SEQ 7

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 };
static const uint8_t gw_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero_mac[6];

/* ---- fixture ----------------------------------------------------------- */

struct fix {
	struct test_port port;
	struct stack *st;
};

static struct stack_conf base_conf(void)
{
	struct stack_conf c = { .ip = OUR_IP, .prefix_len = PREFIX,
				.gateway = GW_IP, .mtu = MTU, .seed = 1 };

	memcpy(c.mac, our_mac, sizeof(c.mac));
	return c;
}

/* A port and a stack on it, the gratuitous ARP of creation taken off the
 * log (test_create_sends_gratuitous_arp looks at it). */
static struct fix *fix_new(const struct stack_conf *c)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_port_init(&f->port, T0);
	f->st = stack_create(c, test_port_ops(), &f->port);
	assert_non_null(f->st);
	test_port_tx_clear(&f->port);
	return f;
}

static int setup(void **state)
{
	struct stack_conf c = base_conf();

	*state = fix_new(&c);
	return 0;
}

/* Cleans up after a test that failed half-way; asserts nothing. */
static int teardown(void **state)
{
	struct fix *f = *state;

	if (f) {
		stack_destroy(f->st);
		test_port_fini(&f->port);
		free(f);
	}
	return 0;
}

/* Every test ends here: the stack must give back each buffer it held. */
static void finish(struct fix *f)
{
	stack_destroy(f->st);
	f->st = NULL;
	assert_int_equal(test_port_fini(&f->port), 0);
	assert_int_equal(f->port.misuse, 0);
}

/* ---- frames ------------------------------------------------------------ */

/* The IPv4 header of an echo request from the peer; tests change one
 * field of it at a time. */
static struct test_ipv4 ip_from_peer(void)
{
	return (struct test_ipv4){ .src = PEER_IP, .dst = OUR_IP, .proto = 1,
				   .ttl = 37, .id = 0x4242, .frag = IP_DF };
}

static void frame_icmp(struct test_frame *fr, const struct test_ipv4 *ip,
		       uint8_t type, uint8_t code, const void *data,
		       size_t len)
{
	test_frame_reset(fr);
	test_frame_eth(fr, our_mac, peer_mac, ETH_IPV4);
	test_frame_ipv4(fr, ip, (uint16_t)(8 + len));
	test_frame_icmp_echo(fr, type, code, ECHO_ID, ECHO_SEQ, data, len);
}

static const char echo_data[] = "abcdefghijklmnopqrstuvwxyz0123456789"
				"ABCDEFGHIJKLMNOPQRST"; /* 56 bytes, as ping */

static void frame_echo(struct test_frame *fr, const struct test_ipv4 *ip)
{
	frame_icmp(fr, ip, ICMP_ECHO, 0, echo_data, 56);
}

static void frame_arp(struct test_frame *fr, const uint8_t *eth_dst,
		      uint16_t op, const uint8_t *sha, uint32_t spa,
		      const uint8_t *tha, uint32_t tpa)
{
	test_frame_reset(fr);
	test_frame_eth(fr, eth_dst, sha, ETH_ARP);
	test_frame_arp(fr, op, sha, spa, tha, tpa);
	test_frame_pad(fr, 60);
}

/* ---- driving the stack ------------------------------------------------- */

/* Hands a copy of the frame to the stack and flushes what it queued. */
static void input_flags(struct fix *f, const struct test_frame *fr,
			uint32_t rx_flags)
{
	struct test_pkt *p = test_port_pkt_from(&f->port, fr);

	p->rx_flags = rx_flags;
	stack_input(f->st, p);
	stack_flush(f->st);
}

static void input(struct fix *f, const struct test_frame *fr)
{
	input_flags(f, fr, 0);
}

static uint64_t drops_total(const struct stack_stats *s)
{
	uint64_t n = 0;

	for (int r = 0; r < STACK_DROP_MAX; r++)
		n += s->drops[r];
	return n;
}

/* The frame must be dropped for reason and for nothing else: that counter
 * up by one, no other, nothing sent, its buffer freed. */
static void expect_drop_at(struct fix *f, const struct test_frame *fr,
			   uint32_t rx_flags, enum stack_drop reason, int line)
{
	struct stack_stats before = *stack_stats(f->st);
	const struct stack_stats *s = stack_stats(f->st);
	size_t ntx = test_port_tx_count(&f->port);
	long live = f->port.live;

	input_flags(f, fr, rx_flags);
	for (int r = 0; r < STACK_DROP_MAX; r++) {
		uint64_t want = before.drops[r] + (r == (int)reason);

		if (s->drops[r] != want)
			fail_msg("line %d: drops[%s] = %llu, want %llu (%s)",
				 line, stack_drop_name((enum stack_drop)r),
				 (unsigned long long)s->drops[r],
				 (unsigned long long)want,
				 stack_drop_name(reason));
	}
	if (test_port_tx_count(&f->port) != ntx || s->tx_pkts != before.tx_pkts)
		fail_msg("line %d: a dropped frame caused output", line);
	if (f->port.live != live)
		fail_msg("line %d: the dropped buffer was not freed", line);
	assert_int_equal(s->rx_pkts, before.rx_pkts + 1);
	assert_int_equal(s->rx_bytes, before.rx_bytes + fr->len);
	assert_int_equal(s->icmp_echo_replies, before.icmp_echo_replies);
	assert_int_equal(s->arp_replies_out, before.arp_replies_out);
}

#define EXPECT_DROP(f, fr, reason) expect_drop_at(f, fr, 0, reason, __LINE__)

/* stack_resolve queues its request like any output; flush to see it. */
static int resolve(struct fix *f, uint32_t ip, uint8_t mac[6])
{
	int rc = stack_resolve(f->st, ip, mac);

	stack_flush(f->st);
	return rc;
}

/* Takes the single frame the stack sent since the log was last cleared. */
static struct test_pkt *only_tx(struct fix *f)
{
	struct test_pkt *p;

	assert_int_equal(test_port_tx_count(&f->port), 1);
	p = test_pktq_pop(&f->port.tx);
	assert_non_null(p);
	return p;
}

static void expect_no_tx(struct fix *f)
{
	assert_int_equal(test_port_tx_count(&f->port), 0);
}

/* The reply must be the request answered per RFC 792 and RFC 1122
 * 3.2.2.6: addresses swapped, type 0, identifier, sequence and data
 * unchanged, TTL ours, both checksums right, Ethernet padding gone. */
static void check_echo_reply(const struct test_frame *req,
			     const struct test_pkt *rep, size_t hlen,
			     size_t icmp_len)
{
	const uint8_t *qip = req->b + 14, *rip = rep->data + 14;
	const uint8_t *qic = qip + hlen, *ric = rip + hlen;
	uint8_t copy[60 + TEST_PKT_ROOM];

	assert_int_equal(rep->len, 14 + hlen + icmp_len);
	assert_memory_equal(rep->data, peer_mac, 6);
	assert_memory_equal(rep->data + 6, our_mac, 6);
	assert_int_equal(test_get16(rep->data + 12), ETH_IPV4);

	assert_int_equal(rip[0], qip[0]);                       /* ver, ihl */
	assert_int_equal(test_get16(rip + 2), test_get16(qip + 2)); /* len */
	assert_int_equal(test_get16(rip + 4), test_get16(qip + 4)); /* id */
	assert_int_equal(rip[8], STACK_IP_TTL);
	assert_int_equal(rip[9], 1);
	assert_int_equal(test_get32(rip + 12), test_get32(qip + 16));
	assert_int_equal(test_get32(rip + 16), test_get32(qip + 12));
	assert_memory_equal(rip + 20, qip + 20, hlen - 20);    /* options */
	memcpy(copy, rip, hlen);
	copy[10] = copy[11] = 0;
	assert_int_equal(test_get16(rip + 10), test_csum(copy, hlen));

	assert_int_equal(ric[0], ICMP_ECHO_REPLY);
	assert_int_equal(ric[1], 0);
	assert_int_equal(test_get16(ric + 4), test_get16(qic + 4));
	assert_int_equal(test_get16(ric + 6), test_get16(qic + 6));
	assert_memory_equal(ric + 8, qic + 8, icmp_len - 8);
	memcpy(copy, ric, icmp_len);
	copy[2] = copy[3] = 0;
	assert_int_equal(test_get16(ric + 2), test_csum(copy, icmp_len));
}

/* An ARP frame we sent (RFC 826): Ethernet to eth_dst from us, padded to
 * 60 bytes, Ethernet/IPv4 sizes, operation op, sender our MAC and address,
 * target tha/tpa. */
static void check_arp_out(const struct test_pkt *p, const uint8_t *eth_dst, uint16_t op,
			  const uint8_t *tha, uint32_t tpa)
{
	const uint8_t *a = p->data + 14;

	assert_int_equal(p->len, 60);
	assert_memory_equal(p->data, eth_dst, 6);
	assert_memory_equal(p->data + 6, our_mac, 6);
	assert_int_equal(test_get16(p->data + 12), ETH_ARP);
	assert_int_equal(test_get16(a), 1);
	assert_int_equal(test_get16(a + 2), ETH_IPV4);
	assert_int_equal(a[4], 6);
	assert_int_equal(a[5], 4);
	assert_int_equal(test_get16(a + 6), op);
	assert_memory_equal(a + 8, our_mac, 6);
	assert_int_equal(test_get32(a + 14), OUR_IP);
	assert_memory_equal(a + 18, tha, 6);
	assert_int_equal(test_get32(a + 24), tpa);
}

/* ---- creation ---------------------------------------------------------- */

/* RFC 5227 3: an announcement is a request with sender and target both
 * our address, broadcast, so neighbours update their caches at once. */
static void test_create_sends_gratuitous_arp(void **state)
{
	struct stack_conf c = base_conf();
	struct fix *f = *state = calloc(1, sizeof(struct fix));
	struct test_pkt *p;

	assert_non_null(f);
	test_port_init(&f->port, T0);
	f->st = stack_create(&c, test_port_ops(), &f->port);
	assert_non_null(f->st);
	p = only_tx(f);
	check_arp_out(p, bcast_mac, ARP_REQUEST, zero_mac, OUR_IP);
	for (int i = 42; i < 60; i++)
		assert_int_equal(p->data[i], 0);
	assert_int_equal(stack_stats(f->st)->arp_requests_out, 1);
	assert_int_equal(stack_stats(f->st)->tx_pkts, 1);
	assert_int_equal(stack_stats(f->st)->tx_bytes, 60);
	test_pkt_free(p);
	finish(f);
}

struct bad_conf {
	const char *what;
	uint32_t ip, gateway;
	uint8_t prefix_len;
	uint16_t mtu;
};

static void test_create_rejects_bad_conf(void **state)
{
	static const struct bad_conf bad[] = {
		{ "no address", 0, 0, 24, 1500 },
		{ "prefix 33", OUR_IP, 0, 33, 1500 },
		{ "prefix 255", OUR_IP, 0, 255, 1500 },
		{ "gateway off the subnet", OUR_IP, TEST_IP4(10, 0, 1, 1), 24,
		  1500 },
		{ "mtu 67", OUR_IP, GW_IP, 24, 67 },
		{ "mtu 9001", OUR_IP, GW_IP, 24, 9001 },
		{ "mtu 0", OUR_IP, GW_IP, 24, 0 },
	};
	static const struct bad_conf good[] = {
		{ "mtu 68 (RFC 791 minimum)", OUR_IP, GW_IP, 24, 68 },
		{ "mtu 9000", OUR_IP, GW_IP, 24, 9000 },
		{ "no gateway", OUR_IP, 0, 24, 1500 },
		{ "prefix 32", OUR_IP, 0, 32, 1500 },
		{ "prefix 0, any gateway", OUR_IP, FAR_IP, 0, 1500 },
	};
	struct test_port port;

	(void)state;
	test_port_init(&port, T0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stack_conf c = base_conf();

		c.ip = bad[i].ip;
		c.gateway = bad[i].gateway;
		c.prefix_len = bad[i].prefix_len;
		c.mtu = bad[i].mtu;
		if (stack_create(&c, test_port_ops(), &port))
			fail_msg("accepted a conf with %s", bad[i].what);
	}
	/* A refused conf costs nothing and says nothing on the wire. */
	assert_int_equal(port.allocs, 0);
	assert_int_equal(test_port_tx_count(&port), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct stack_conf c = base_conf();
		struct stack *st;

		c.ip = good[i].ip;
		c.gateway = good[i].gateway;
		c.prefix_len = good[i].prefix_len;
		c.mtu = good[i].mtu;
		st = stack_create(&c, test_port_ops(), &port);
		if (!st)
			fail_msg("refused a conf with %s", good[i].what);
		stack_destroy(st);
	}
	assert_int_equal(test_port_tx_count(&port),
			 sizeof(good) / sizeof(good[0]));
	assert_int_equal(test_port_fini(&port), 0);
}

static void test_create_without_buffer(void **state)
{
	struct stack_conf c = base_conf();
	struct fix *f = *state = calloc(1, sizeof(struct fix));

	assert_non_null(f);
	test_port_init(&f->port, T0);
	f->port.fail_alloc = true;
	f->st = stack_create(&c, test_port_ops(), &f->port);
	assert_non_null(f->st); /* the announcement is best effort */
	expect_no_tx(f);
	assert_int_equal(f->port.alloc_failures, 1);
	assert_int_equal(stack_stats(f->st)->drops[STACK_DROP_NO_BUFFER], 1);
	assert_int_equal(stack_stats(f->st)->arp_requests_out, 0);
	assert_int_equal(stack_stats(f->st)->tx_pkts, 0);
	finish(f);
}

/* ---- ARP --------------------------------------------------------------- */

static void check_arp_reply_to_peer(const struct test_pkt *p)
{
	check_arp_out(p, peer_mac, ARP_REPLY, peer_mac, PEER_IP);
}

/* RFC 826: answer a request for our address, and learn the asker. */
static void test_arp_request_for_us_answered(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_frame fr;
	struct test_pkt *p;
	uint8_t mac[6] = { 0 };

	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	input(f, &fr);
	p = only_tx(f);
	check_arp_reply_to_peer(p);
	test_pkt_free(p);
	assert_int_equal(f->port.allocs, 1); /* the announcement only */
	assert_int_equal(s->arp_requests_in, 1);
	assert_int_equal(s->arp_replies_out, 1);
	assert_int_equal(drops_total(s), 0);

	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	assert_memory_equal(mac, peer_mac, 6);
	expect_no_tx(f);
	assert_int_equal(s->arp_requests_out, 1);

	/* RFC 1122 2.3.2.1: revalidation sends requests unicast. */
	frame_arp(&fr, our_mac, ARP_REQUEST, peer_mac, PEER_IP, peer_mac,
		  OUR_IP);
	input(f, &fr);
	p = only_tx(f);
	check_arp_reply_to_peer(p);
	test_pkt_free(p);
	finish(f);
}

/* Learning must date an entry by the clock, not by the last poll: a frame
 * fed through stack_input after time passed must not be born expired. */
static void test_arp_learns_on_current_clock(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	uint8_t mac[6];

	test_port_advance(&f->port, 100 * TEST_NS_PER_S);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	input(f, &fr);
	test_port_tx_clear(&f->port);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	assert_memory_equal(mac, peer_mac, 6);
	expect_no_tx(f);
	test_port_advance(&f->port, STACK_ARP_TTL_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	expect_no_tx(f);
	finish(f);
}

/* RFC 826: a request for someone else teaches nothing about a stranger. */
static void test_arp_request_for_other_ignored(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	uint8_t mac[6];

	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OTHER_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(stack_stats(f->st)->arp_requests_in, 1);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f)); /* our own request: it was not learned */
	finish(f);
}

static void check_arp_request_for(const struct test_pkt *p, uint32_t tpa)
{
	check_arp_out(p, bcast_mac, ARP_REQUEST, zero_mac, tpa);
}

/* Resolving sends a request; the reply completes the entry. */
static void test_arp_reply_completes_resolution(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_frame fr;
	struct test_pkt *p;
	uint8_t mac[6];

	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	p = only_tx(f);
	check_arp_request_for(p, PEER_IP);
	test_pkt_free(p);
	assert_int_equal(s->arp_requests_out, 2);

	frame_arp(&fr, our_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
	input(f, &fr);
	expect_no_tx(f);
	assert_int_equal(s->arp_replies_in, 1);
	assert_int_equal(drops_total(s), 0);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	assert_memory_equal(mac, peer_mac, 6);
	expect_no_tx(f);
	finish(f);
}

/* RFC 826 "merge": a known sender's new MAC is taken even from a packet
 * not addressed to us. */
static void test_arp_merge_updates_known_sender(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	uint8_t mac[6];

	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	input(f, &fr);
	test_port_tx_clear(&f->port);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, other_mac, PEER_IP, zero_mac,
		  OTHER_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	assert_memory_equal(mac, other_mac, 6);
	finish(f);
}

/* RFC 1122 2.3.2.1: at most one request per second per address. */
static void test_arp_resolve_rate_limited(void **state)
{
	struct fix *f = *state;
	uint8_t mac[6];
	struct test_pkt *p;

	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f));
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	expect_no_tx(f);
	test_port_advance(&f->port, STACK_ARP_RETRY_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	expect_no_tx(f);
	/* Another address has its own allowance. */
	assert_int_equal(resolve(f, OTHER_IP, mac), -EAGAIN);
	p = only_tx(f);
	check_arp_request_for(p, OTHER_IP);
	test_pkt_free(p);
	test_port_advance(&f->port, 1);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	p = only_tx(f);
	check_arp_request_for(p, PEER_IP);
	test_pkt_free(p);
	assert_int_equal(stack_stats(f->st)->arp_requests_out, 4);
	finish(f);
}

/* RFC 1122 2.3.2.1: a cache entry times out. Past its reachable time it
 * is STALE (RFC 4861 7.3.2): its MAC is still used, and each use asks
 * again, at most once a second: unicast to that MAC first (Linux's
 * ucast_solicit, 3), then broadcast in case the address moved. The answer
 * makes it valid for a full TTL again. */
static void test_arp_entry_expires(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	struct test_pkt *p;
	uint8_t mac[6];

	frame_arp(&fr, our_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
	input(f, &fr);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	test_port_advance(&f->port, STACK_ARP_TTL_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	expect_no_tx(f);
	test_port_advance(&f->port, 1);
	for (int i = 0; i < STACK_ARP_UCAST_PROBES; i++) {
		memset(mac, 0, sizeof(mac));
		assert_int_equal(resolve(f, PEER_IP, mac), 0);
		assert_memory_equal(mac, peer_mac, 6);
		p = only_tx(f);
		check_arp_out(p, peer_mac, ARP_REQUEST, peer_mac, PEER_IP);
		test_pkt_free(p);
		assert_int_equal(resolve(f, PEER_IP, mac), 0); /* rate-limited */
		expect_no_tx(f);
		test_port_advance(&f->port, STACK_ARP_RETRY_NS);
	}
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	p = only_tx(f);
	check_arp_request_for(p, PEER_IP);
	test_pkt_free(p);
	/* And the answer makes it valid again for a full TTL. */
	input(f, &fr);
	test_port_advance(&f->port, STACK_ARP_TTL_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	expect_no_tx(f);
	finish(f);
}

/* A stale entry nobody uses or confirms is forgotten (Linux's
 * gc_stale_time): then resolving starts over with a broadcast. */
static void test_arp_stale_entry_forgotten(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	struct test_pkt *p;
	uint8_t mac[6];

	frame_arp(&fr, our_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
	input(f, &fr);
	test_port_advance(&f->port, STACK_ARP_TTL_NS + STACK_ARP_GC_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	test_pkt_free(only_tx(f)); /* the unicast poll */
	test_port_advance(&f->port, 1);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	p = only_tx(f);
	check_arp_request_for(p, PEER_IP);
	test_pkt_free(p);
	finish(f);
}

/* An ARP packet mapping a peer to our own MAC (our frame looped back by a
 * bridge that took our MAC for its own, or a forgery) or to no MAC is no
 * mapping: refused, so traffic to the peer is not sent to ourselves. */
static void test_arp_refuses_our_mac(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_frame fr;
	uint8_t mac[6];

	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f));
	frame_arp(&fr, our_mac, ARP_REPLY, our_mac, PEER_IP, our_mac, OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_BAD_SENDER);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, our_mac, PEER_IP, zero_mac, OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_BAD_SENDER);
	frame_arp(&fr, our_mac, ARP_REPLY, zero_mac, PEER_IP, our_mac, OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_BAD_SENDER);
	assert_int_equal(s->drops[STACK_DROP_ARP_BAD_SENDER], 3);
	assert_int_equal(s->arp_replies_out, 0);
	test_port_advance(&f->port, STACK_ARP_RETRY_NS);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f));
	/* A known peer's entry is not overwritten with our MAC either. */
	frame_arp(&fr, our_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
	input(f, &fr);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, our_mac, PEER_IP, zero_mac, OTHER_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_BAD_SENDER);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	assert_memory_equal(mac, peer_mac, 6);
	expect_no_tx(f);
	finish(f);
}

/* Off-link destinations resolve to the gateway (RFC 1122 3.3.1.1). */
static void test_resolve_offlink_uses_gateway(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	struct test_pkt *p;
	uint8_t mac[6];

	assert_int_equal(resolve(f, FAR_IP, mac), -EAGAIN);
	p = only_tx(f);
	check_arp_request_for(p, GW_IP);
	test_pkt_free(p);
	frame_arp(&fr, our_mac, ARP_REPLY, gw_mac, GW_IP, our_mac, OUR_IP);
	input(f, &fr);
	assert_int_equal(resolve(f, FAR_IP, mac), 0);
	assert_memory_equal(mac, gw_mac, 6);
	assert_int_equal(resolve(f, TEST_IP4(8, 8, 8, 8), mac), 0);
	assert_memory_equal(mac, gw_mac, 6);
	expect_no_tx(f);
	finish(f);
}

static void test_resolve_offlink_without_gateway(void **state)
{
	struct stack_conf c = base_conf();
	struct fix *f;
	uint8_t mac[6];

	c.gateway = 0;
	f = *state = fix_new(&c);
	assert_int_equal(resolve(f, FAR_IP, mac), -ENETUNREACH);
	assert_int_equal(resolve(f, TEST_IP4(10, 0, 1, 1), mac),
			 -ENETUNREACH);
	expect_no_tx(f);
	assert_int_equal(stack_stats(f->st)->arp_requests_out, 1);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f));
	finish(f);
}

/* RFC 5227 2.4: another host using our address is a conflict; our own
 * announcement coming back is not. Neither is answered. */
static void test_arp_conflict_counted(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_frame fr;

	frame_arp(&fr, bcast_mac, ARP_REQUEST, other_mac, OUR_IP, zero_mac,
		  OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(s->arp_conflicts, 1);
	frame_arp(&fr, bcast_mac, ARP_REPLY, other_mac, OUR_IP, zero_mac,
		  PEER_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(s->arp_conflicts, 2);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, our_mac, OUR_IP, zero_mac,
		  OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(s->arp_conflicts, 2);
	finish(f);
}

/* A multicast sender hardware address is bogus: neither answered nor
 * learned. */
static void test_arp_multicast_sender_ignored(void **state)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	struct fix *f = *state;
	struct test_frame fr;
	uint8_t mac[6];

	frame_arp(&fr, bcast_mac, ARP_REQUEST, mcast, PEER_IP, zero_mac,
		  OUR_IP);
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_NOT_FOR_US);
	assert_int_equal(resolve(f, PEER_IP, mac), -EAGAIN);
	test_pkt_free(only_tx(f));
	finish(f);
}

struct arp_defect {
	const char *what;
	size_t off;      /* byte of the ARP packet to overwrite */
	uint8_t value;
};

static void test_arp_malformed(void **state)
{
	static const struct arp_defect defects[] = {
		{ "htype 6", 1, 6 },
		{ "ptype 0x86dd", 2, 0x86 },
		{ "hlen 8", 4, 8 },
		{ "plen 16", 5, 16 },
		{ "op 0", 7, 0 },
		{ "op 3", 7, 3 },
	};
	struct fix *f = *state;
	struct test_frame fr;

	for (size_t i = 0; i < sizeof(defects) / sizeof(defects[0]); i++) {
		frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP,
			  zero_mac, OUR_IP);
		fr.b[14 + defects[i].off] = defects[i].value;
		EXPECT_DROP(f, &fr, STACK_DROP_ARP_MALFORMED);
	}
	/* Truncated: one byte short, and nothing after the Ethernet header. */
	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	fr.len = 14 + 27;
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_MALFORMED);
	fr.len = 14;
	EXPECT_DROP(f, &fr, STACK_DROP_ARP_MALFORMED);
	assert_int_equal(stack_stats(f->st)->arp_requests_in, 0);
	/* The same request undamaged is answered. */
	fr.len = 60;
	input(f, &fr);
	test_pkt_free(only_tx(f));
	finish(f);
}

/* ---- ICMP -------------------------------------------------------------- */

/* RFC 1122 3.2.2.6: every echo request gets an echo reply, built in the
 * request's own buffer. */
static void test_icmp_echo_reply(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	struct test_pkt *req, *rep;
	uint64_t tx_bytes = s->tx_bytes;

	frame_echo(&fr, &ip);
	req = test_port_pkt_from(&f->port, &fr);
	stack_input(f->st, req);
	expect_no_tx(f); /* queued until flushed */
	stack_flush(f->st);
	rep = only_tx(f);
	assert_ptr_equal(rep, req);
	assert_int_equal(f->port.allocs, 1); /* the announcement only */
	check_echo_reply(&fr, rep, 20, 8 + 56);
	assert_int_equal(s->icmp_echo_replies, 1);
	assert_int_equal(s->tx_bytes, tx_bytes + fr.len);
	assert_int_equal(drops_total(s), 0);
	test_pkt_free(rep);
	finish(f);
}

/* A short request arrives padded to the 60-byte minimum; the reply must
 * end where the datagram ends (odd lengths exercise the checksum's odd
 * byte). */
static void test_icmp_echo_reply_strips_padding(void **state)
{
	static const size_t lens[] = { 0, 1, 4, 5, 17, 18 };
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct test_pkt *rep;

		frame_icmp(&fr, &ip, ICMP_ECHO, 0, echo_data, lens[i]);
		test_frame_pad(&fr, 60);
		assert_int_equal(fr.len, 60);
		input(f, &fr);
		rep = only_tx(f);
		check_echo_reply(&fr, rep, 20, 8 + lens[i]);
		test_pkt_free(rep);
	}
	finish(f);
}

/* An echo request whose reply is all zero bytes but the checksum
 * (identifier 0, sequence 0, no data, as a fuzzer sent): one's complement
 * arithmetic has two zeros, and the incremental update of RFC 1624 (3)
 * yields 0x0000, which no receiver accepts (the sum over the message must
 * come to 0xffff, RFC 1071); computed over the message it is 0xffff. */
static void test_icmp_echo_reply_zero_message(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	struct test_pkt *rep;

	test_frame_reset(&fr);
	test_frame_eth(&fr, our_mac, peer_mac, ETH_IPV4);
	test_frame_ipv4(&fr, &ip, 8);
	test_frame_icmp_echo(&fr, ICMP_ECHO, 0, 0, 0, NULL, 0);
	test_frame_pad(&fr, 60);
	input(f, &fr);
	rep = only_tx(f);
	check_echo_reply(&fr, rep, 20, 8);
	assert_int_equal(test_csum_sum(rep->data + 34, 8), 0xffff);
	test_pkt_free(rep);
	finish(f);
}

/* With IP options the ICMP message starts after them (RFC 791 3.1). */
static void test_icmp_echo_reply_with_ip_options(void **state)
{
	static const uint8_t opts[8] = { 0x94, 0x04, 0x00, 0x00, /* RFC 2113 */
					 0x01, 0x01, 0x01, 0x00 };
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	struct test_pkt *rep;

	ip.opts = opts;
	ip.opts_len = sizeof(opts);
	frame_echo(&fr, &ip);
	input(f, &fr);
	rep = only_tx(f);
	check_echo_reply(&fr, rep, 28, 8 + 56);
	test_pkt_free(rep);
	finish(f);
}

/* The largest frame the MTU allows is answered in full. */
static void test_icmp_echo_reply_full_mtu(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	uint8_t data[MTU - 28];
	struct test_frame fr;
	struct test_pkt *rep;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	frame_icmp(&fr, &ip, ICMP_ECHO, 0, data, sizeof(data));
	assert_int_equal(fr.len, 14 + MTU);
	input(f, &fr);
	rep = only_tx(f);
	check_echo_reply(&fr, rep, 20, 8 + sizeof(data));
	test_pkt_free(rep);
	finish(f);
}

/* A destination unreachable is taken for the transport to judge (it
 * quotes no connection here): counted, not answered, buffer freed. */
static void test_icmp_unreach_taken(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	frame_icmp(&fr, &ip, 3, 4, echo_data, 56);
	input(f, &fr);
	assert_int_equal(s->icmp_unreach_in, 1);
	assert_int_equal(s->tcp_pmtu_updates, 0);
	assert_int_equal(drops_total(s), 0);
	assert_int_equal(test_port_tx_count(&f->port), 0);
	assert_int_equal(f->port.live, 0);
	finish(f);
}

static void test_icmp_drops(void **state)
{
	static const uint8_t not_answered[][2] = {
		{ 0, 0 },   /* echo reply */
		{ 5, 1 },   /* redirect: a host may ignore it (RFC 1122 3.2.2.2) */
		{ 13, 0 },  /* timestamp (RFC 1122 3.2.2.8: MAY) */
		{ 8, 1 },   /* echo with a code RFC 792 does not define */
	};
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	frame_echo(&fr, &ip);
	fr.b[fr.len - 1] ^= 0x40; /* data changed after the checksum */
	EXPECT_DROP(f, &fr, STACK_DROP_ICMP_CSUM);
	frame_echo(&fr, &ip);
	fr.b[14 + 20 + 2] ^= 0x01; /* the checksum itself */
	EXPECT_DROP(f, &fr, STACK_DROP_ICMP_CSUM);

	/* Shorter than the 8-byte echo header: by the datagram's own length,
	 * with padding behind, and by the frame's. */
	ip.total_len = 20 + 7;
	frame_echo(&fr, &ip);
	fr.len = 14 + 20 + 8;
	test_frame_pad(&fr, 60);
	EXPECT_DROP(f, &fr, STACK_DROP_ICMP_MALFORMED);
	ip.total_len = 20 + 4;
	frame_echo(&fr, &ip);
	fr.len = 14 + 20 + 4;
	EXPECT_DROP(f, &fr, STACK_DROP_ICMP_MALFORMED);
	ip.total_len = 20;
	frame_echo(&fr, &ip);
	fr.len = 14 + 20;
	EXPECT_DROP(f, &fr, STACK_DROP_ICMP_MALFORMED);

	ip.total_len = 0;
	for (size_t i = 0; i < sizeof(not_answered) / 2; i++) {
		frame_icmp(&fr, &ip, not_answered[i][0], not_answered[i][1],
			   echo_data, 56);
		EXPECT_DROP(f, &fr, STACK_DROP_ICMP_TYPE);
	}
	assert_int_equal(stack_stats(f->st)->icmp_echo_replies, 0);
	finish(f);
}

/* ---- Ethernet and IPv4 input ------------------------------------------- */

static void test_eth_drops(void **state)
{
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t near[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x11 };
	static const uint16_t types[] = { 0x86dd, 0x8100, 0x0000, 0x0801 };
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	uint8_t data[MTU - 28 + 1];
	struct test_frame fr;

	frame_echo(&fr, &ip);
	for (uint16_t len = 0; len < 14; len++) {
		fr.len = len;
		EXPECT_DROP(f, &fr, STACK_DROP_RUNT);
	}
	fr.len = 14; /* a whole Ethernet header: IPv4's to refuse now */
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);

	memset(data, 0x33, sizeof(data));
	frame_icmp(&fr, &ip, ICMP_ECHO, 0, data, sizeof(data));
	assert_int_equal(fr.len, 14 + MTU + 1);
	EXPECT_DROP(f, &fr, STACK_DROP_OVERSIZE);

	frame_echo(&fr, &ip);
	memcpy(fr.b, other_mac, 6);
	EXPECT_DROP(f, &fr, STACK_DROP_NOT_FOR_US);
	memcpy(fr.b, mcast, 6);
	EXPECT_DROP(f, &fr, STACK_DROP_NOT_FOR_US);
	memcpy(fr.b, near, 6);
	EXPECT_DROP(f, &fr, STACK_DROP_NOT_FOR_US);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		frame_echo(&fr, &ip);
		test_put16(fr.b + 12, types[i]);
		EXPECT_DROP(f, &fr, STACK_DROP_ETHERTYPE);
	}
	expect_no_tx(f);
	finish(f);
}

static void test_ipv4_malformed_drops(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	ip.version = 6;
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);
	ip.version = 0;

	ip.ihl = 4;
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);
	ip.ihl = 15; /* 60 bytes of header in a 42-byte datagram */
	ip.total_len = 60;
	frame_icmp(&fr, &ip, ICMP_ECHO, 0, NULL, 0);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);
	ip.ihl = 0;
	ip.total_len = 0;

	frame_echo(&fr, &ip); /* a header cut short */
	fr.len = 14 + 19;
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);

	ip.total_len = 20 + 8 + 56 + 1; /* one byte more than arrived */
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);
	ip.total_len = 19; /* less than the header */
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_MALFORMED);
	ip.total_len = 0;

	ip.bad_csum = true;
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_CSUM);
	expect_no_tx(f);
	finish(f);
}

/* When the port has verified the header checksum the stack believes it:
 * the software check is skipped, the structural ones are not. */
static void test_ipv4_port_verified_csum_trusted(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	ip.bad_csum = true;
	frame_echo(&fr, &ip);
	input_flags(f, &fr, STACK_RX_IP_CSUM_GOOD);
	test_pkt_free(only_tx(f));
	ip.bad_csum = false;
	ip.version = 5;
	frame_echo(&fr, &ip);
	expect_drop_at(f, &fr, STACK_RX_IP_CSUM_GOOD, STACK_DROP_IP_MALFORMED,
		       __LINE__);
	finish(f);
}

static void test_ipv4_not_for_us(void **state)
{
	static const uint32_t dsts[] = {
		OTHER_IP, NET_BCAST, 0xffffffffu, TEST_IP4(224, 0, 0, 1),
		TEST_IP4(10, 0, 0, 0), FAR_IP,
	};
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	for (size_t i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		ip.dst = dsts[i];
		frame_echo(&fr, &ip);
		EXPECT_DROP(f, &fr, STACK_DROP_IP_NOT_FOR_US);
	}
	finish(f);
}

/* RFC 1122 3.3.6: a unicast datagram that came by link-layer broadcast is
 * discarded, or one misdirected frame would draw a reply from every host. */
static void test_ipv4_link_broadcast_dropped(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	frame_echo(&fr, &ip);
	memset(fr.b, 0xff, 6); /* Ethernet destination: broadcast */
	EXPECT_DROP(f, &fr, STACK_DROP_IP_NOT_FOR_US);
	finish(f);
}

/* RFC 1122 3.2.1.3: sources that no datagram may carry. */
static void test_ipv4_martian_sources(void **state)
{
	static const uint32_t srcs[] = {
		0, TEST_IP4(127, 0, 0, 1), TEST_IP4(127, 255, 255, 254),
		TEST_IP4(224, 0, 0, 1), TEST_IP4(239, 1, 2, 3),
		TEST_IP4(240, 0, 0, 1), 0xffffffffu, OUR_IP, NET_BCAST,
	};
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		ip.src = srcs[i];
		frame_echo(&fr, &ip);
		EXPECT_DROP(f, &fr, STACK_DROP_IP_MARTIAN);
	}
	/* Near misses are ordinary hosts, answered. */
	ip.src = TEST_IP4(10, 0, 0, 254);
	frame_echo(&fr, &ip);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	ip.src = TEST_IP4(126, 255, 255, 255);
	frame_echo(&fr, &ip);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	finish(f);
}

/* RFC 3021: a /31 has no broadcast address; both ends are hosts. */
static void test_ipv4_slash31_peer_not_martian(void **state)
{
	struct stack_conf c = base_conf();
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	struct fix *f;

	c.ip = TEST_IP4(10, 1, 1, 0);
	c.prefix_len = 31;
	c.gateway = 0;
	f = *state = fix_new(&c);
	ip.src = TEST_IP4(10, 1, 1, 1);
	ip.dst = c.ip;
	frame_echo(&fr, &ip);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	finish(f);
}

/* RFC 791 3.2: a fragment is held for reassembly (tests/stack/
 * test_ipv4_frag.c covers it): not answered, not dropped. */
static void test_ipv4_fragments_held(void **state)
{
	static const uint16_t frags[] = {
		IP_MF,              /* first fragment */
		1,                  /* last fragment, offset 8 */
		IP_MF | 185,        /* a middle one */
	};
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	const struct stack_stats *s = stack_stats(f->st);

	/* An offset past 64 KiB can never be part of a datagram. */
	ip.frag = IP_DF | 0x1fff;
	frame_echo(&fr, &ip);
	EXPECT_DROP(f, &fr, STACK_DROP_IP_FRAGMENT);
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		ip.frag = frags[i];
		ip.id = (uint16_t)(100 + i); /* three different datagrams */
		frame_echo(&fr, &ip);
		input(f, &fr);
		assert_int_equal(test_port_tx_count(&f->port), 0);
		assert_int_equal(s->ip_frags_in, i + 1);
		assert_int_equal(drops_total(s), 1);
	}
	/* DF alone, or no flags, is a whole datagram. */
	ip.frag = 0;
	frame_echo(&fr, &ip);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	finish(f);
}

static void test_ipv4_unknown_protocol(void **state)
{
	static const uint8_t protos[] = { 17, 2, 99, 255 };
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	for (size_t i = 0; i < sizeof(protos); i++) {
		ip.proto = protos[i];
		frame_echo(&fr, &ip);
		EXPECT_DROP(f, &fr, STACK_DROP_IP_PROTO);
	}
	finish(f);
}

/* ---- counters and buffers ---------------------------------------------- */

static void test_counters(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame echo, arp, junk;

	assert_int_equal(s->rx_pkts, 0);
	assert_int_equal(s->tx_pkts, 1); /* the announcement */
	assert_int_equal(s->tx_bytes, 60);
	frame_echo(&echo, &ip);
	frame_arp(&arp, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	test_frame_reset(&junk);
	test_frame_eth(&junk, other_mac, peer_mac, ETH_IPV4);
	test_frame_pad(&junk, 100);
	input(f, &echo);
	input(f, &arp);
	input(f, &junk);
	junk.len = 10;
	input(f, &junk);
	assert_int_equal(s->rx_pkts, 4);
	assert_int_equal(s->rx_bytes, echo.len + 60 + 100 + 10);
	assert_int_equal(s->tx_pkts, 3);
	assert_int_equal(s->tx_bytes, 60 + echo.len + 60);
	assert_int_equal(s->icmp_echo_replies, 1);
	assert_int_equal(s->arp_requests_in, 1);
	assert_int_equal(s->arp_replies_out, 1);
	assert_int_equal(drops_total(s), 2);
	assert_int_equal(test_port_tx_count(&f->port), 2);
	finish(f);
}

/* Requests need a fresh buffer; replies are built in the one received, so
 * they go out even when the pool is empty. */
static void test_no_buffer(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	uint8_t mac[6];

	f->port.fail_alloc = true;
	assert_int_equal(resolve(f, OTHER_IP, mac), -EAGAIN);
	expect_no_tx(f);
	assert_int_equal(f->port.alloc_failures, 1);
	assert_int_equal(s->drops[STACK_DROP_NO_BUFFER], 1);
	assert_int_equal(s->arp_requests_out, 1);
	frame_echo(&fr, &ip);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	input(f, &fr);
	test_pkt_free(only_tx(f));
	assert_int_equal(s->drops[STACK_DROP_NO_BUFFER], 1);
	finish(f);
}

/* ---- polling ----------------------------------------------------------- */

static void test_poll_receives_and_flushes(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;
	struct test_pkt *p;

	assert_int_equal(stack_poll(f->st), 0);
	expect_no_tx(f);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	test_port_rx_push(&f->port, &fr);
	frame_echo(&fr, &ip);
	test_port_rx_push(&f->port, &fr);
	fr.len = 9;
	test_port_rx_push(&f->port, &fr);
	assert_int_equal(stack_poll(f->st), 3);
	assert_int_equal(f->port.rx.count, 0);
	/* Flushed by the poll, in the order received. */
	assert_int_equal(test_port_tx_count(&f->port), 2);
	p = test_port_tx_at(&f->port, 0);
	check_arp_reply_to_peer(p);
	p = test_port_tx_at(&f->port, 1);
	assert_int_equal(p->data[14 + 20], ICMP_ECHO_REPLY);
	assert_int_equal(stack_stats(f->st)->rx_pkts, 3);
	assert_int_equal(stack_stats(f->st)->drops[STACK_DROP_RUNT], 1);
	test_port_tx_clear(&f->port);
	assert_int_equal(stack_poll(f->st), 0);
	expect_no_tx(f);
	finish(f);
}

static void test_poll_takes_one_burst(void **state)
{
	struct fix *f = *state;
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	frame_echo(&fr, &ip);
	for (int i = 0; i < STACK_RX_BURST + 8; i++)
		test_port_rx_push(&f->port, &fr);
	assert_int_equal(stack_poll(f->st), STACK_RX_BURST);
	assert_int_equal(test_port_tx_count(&f->port), STACK_RX_BURST);
	assert_int_equal(stack_poll(f->st), 8);
	assert_int_equal(test_port_tx_count(&f->port), STACK_RX_BURST + 8);
	assert_int_equal(stack_poll(f->st), 0);
	finish(f);
}

static void test_poll_reads_clock(void **state)
{
	struct fix *f = *state;
	struct test_frame fr;
	uint8_t mac[6];

	test_port_advance(&f->port, 300 * TEST_NS_PER_S);
	frame_arp(&fr, bcast_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac,
		  OUR_IP);
	test_port_rx_push(&f->port, &fr);
	assert_int_equal(stack_poll(f->st), 1);
	test_port_tx_clear(&f->port);
	test_port_advance(&f->port, STACK_ARP_TTL_NS - 1);
	assert_int_equal(resolve(f, PEER_IP, mac), 0);
	expect_no_tx(f);
	finish(f);
}

/* ---- output to a port that takes less than offered --------------------- */

/* Queues n echo replies of different sizes (payload 10 + i bytes). */
static void queue_replies(struct fix *f, int n)
{
	struct test_ipv4 ip = ip_from_peer();
	uint8_t data[10 + STACK_TX_BURST + 1];
	struct test_frame fr;

	assert_true(n <= STACK_TX_BURST + 1);
	memset(data, 0x77, sizeof(data));
	for (int i = 0; i < n; i++) {
		frame_icmp(&fr, &ip, ICMP_ECHO, 0, data, (size_t)(10 + i));
		stack_input(f->st, test_port_pkt_from(&f->port, &fr));
	}
}

static size_t reply_len(int i)
{
	return 14 + 20 + 8 + (size_t)(10 + i);
}

static void test_tx_partial_burst(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	uint64_t bytes = s->tx_bytes;

	f->port.tx_limit = 1;
	queue_replies(f, STACK_TX_RETRIES + 2);
	expect_no_tx(f);
	stack_flush(f->st);
	/* One frame per try; the rest wait for the next flush. */
	assert_int_equal(test_port_tx_count(&f->port), STACK_TX_RETRIES);
	assert_int_equal(s->tx_pkts, 1 + STACK_TX_RETRIES);
	for (int i = 0; i < STACK_TX_RETRIES; i++)
		bytes += reply_len(i);
	assert_int_equal(s->tx_bytes, bytes);
	stack_flush(f->st);
	assert_int_equal(test_port_tx_count(&f->port), STACK_TX_RETRIES + 2);
	for (int i = 0; i < STACK_TX_RETRIES + 2; i++)
		assert_int_equal(test_port_tx_at(&f->port, (size_t)i)->len,
				 reply_len(i));
	bytes += reply_len(STACK_TX_RETRIES) + reply_len(STACK_TX_RETRIES + 1);
	assert_int_equal(s->tx_bytes, bytes);
	assert_int_equal(drops_total(s), 0);
	finish(f);
}

static void test_tx_refused_frames_kept(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);

	f->port.tx_limit = 0;
	queue_replies(f, 3);
	stack_flush(f->st);
	expect_no_tx(f);
	assert_int_equal(s->tx_pkts, 1);
	assert_int_equal(drops_total(s), 0);
	f->port.tx_limit = -1;
	stack_flush(f->st);
	assert_int_equal(test_port_tx_count(&f->port), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(test_port_tx_at(&f->port, (size_t)i)->len,
				 reply_len(i));
	assert_int_equal(s->tx_pkts, 4);
	finish(f);
}

/* The stack keeps at most one burst for a stuck port and drops beyond. */
static void test_tx_full_drops(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_ipv4 ip = ip_from_peer();
	struct test_frame fr;

	f->port.tx_limit = 0;
	queue_replies(f, STACK_TX_BURST);
	assert_int_equal(drops_total(s), 0);
	frame_echo(&fr, &ip);
	input(f, &fr);
	expect_no_tx(f);
	assert_int_equal(s->drops[STACK_DROP_TX_FULL], 1);
	assert_int_equal(drops_total(s), 1);
	/* The reply was built, then freed rather than queued. */
	assert_int_equal(s->icmp_echo_replies, STACK_TX_BURST + 1);
	assert_int_equal(f->port.live, STACK_TX_BURST);
	f->port.tx_limit = -1;
	stack_flush(f->st);
	assert_int_equal(test_port_tx_count(&f->port), STACK_TX_BURST);
	assert_int_equal(s->tx_pkts, 1 + STACK_TX_BURST);
	finish(f);
}

/* Frames the port never took are freed with the stack. */
static void test_destroy_frees_unsent(void **state)
{
	struct fix *f = *state;

	f->port.tx_limit = 0;
	queue_replies(f, 3);
	stack_flush(f->st);
	assert_int_equal(f->port.live, 3);
	finish(f);
}

static void test_drop_names(void **state)
{
	(void)state;
	for (int r = 0; r < STACK_DROP_MAX; r++) {
		const char *n = stack_drop_name((enum stack_drop)r);

		assert_non_null(n);
		assert_true(n[0] != '\0');
		assert_string_not_equal(n, "?");
		for (int q = 0; q < r; q++)
			assert_string_not_equal(n,
				stack_drop_name((enum stack_drop)q));
	}
	assert_string_equal(stack_drop_name(STACK_DROP_RUNT), "runt");
	assert_string_equal(stack_drop_name(STACK_DROP_TX_FULL), "tx_full");
	assert_string_equal(stack_drop_name(STACK_DROP_LOOP_FULL), "loop_full");
	assert_string_equal(stack_drop_name(STACK_DROP_MAX), "?");
	assert_string_equal(stack_drop_name((enum stack_drop)-1), "?");
}

/* ---- random frames ----------------------------------------------------- */

#define FUZZ_FRAMES 20000

static const uint8_t *fuzz_dst(struct test_rng *r)
{
	return test_rand_below(r, 4) ? our_mac : bcast_mac;
}

static uint32_t fuzz_ip(struct test_rng *r)
{
	switch (test_rand_below(r, 4)) {
	case 0:
		return PEER_IP;
	case 1:
		return TEST_IP4(10, 0, 0, test_rand_below(r, 256));
	default:
		return (uint32_t)test_rand(r);
	}
}

static void fuzz_noise(struct test_rng *r, struct test_frame *fr, size_t n)
{
	test_rand_bytes(r, test_frame_bytes(fr, NULL, n), n);
}

/* An IPv4 header that checks out and noise after it. */
static void fuzz_ipv4(struct test_rng *r, struct test_frame *fr)
{
	static const uint8_t protos[] = { 1, 1, 6, 17 };
	struct test_ipv4 ip = {
		.src = fuzz_ip(r),
		.dst = test_rand_below(r, 8) ? OUR_IP : fuzz_ip(r),
		.proto = protos[test_rand_below(r, 4)],
		.frag = test_rand_below(r, 8) ? 0 : (uint16_t)test_rand(r),
	};
	uint16_t n = (uint16_t)test_rand_below(r, MTU - 20 + 40);
	uint8_t *m;

	if (!test_rand_below(r, 8))
		ip.total_len = (uint16_t)test_rand(r);
	test_frame_eth(fr, fuzz_dst(r), peer_mac, ETH_IPV4);
	test_frame_ipv4(fr, &ip, n);
	m = test_frame_bytes(fr, NULL, n);
	test_rand_bytes(r, m, n);
	/* Random ICMP types with a right checksum reach past the check. */
	if (ip.proto == 1 && n >= 4 && test_rand_below(r, 2)) {
		m[2] = m[3] = 0;
		test_put16(m + 2, test_csum(m, n));
	}
}

static void fuzz_arp(struct test_rng *r, struct test_frame *fr)
{
	uint8_t sha[6];
	uint16_t op = test_rand_below(r, 8) ? (uint16_t)(1 + test_rand_below(r, 2))
					    : (uint16_t)test_rand(r);
	uint32_t tpa = test_rand_below(r, 2) ? OUR_IP : fuzz_ip(r);

	test_rand_bytes(r, sha, sizeof(sha));
	if (test_rand_below(r, 2))
		memcpy(sha, peer_mac, 6);
	else if (!test_rand_below(r, 16))
		memcpy(sha, our_mac, 6);
	test_frame_eth(fr, fuzz_dst(r), sha, ETH_ARP);
	test_frame_arp(fr, op, sha, test_rand_below(r, 8) ? fuzz_ip(r) : 0,
		       zero_mac, tpa);
	if (!test_rand_below(r, 8))
		fr->b[14 + test_rand_below(r, 28)] = (uint8_t)test_rand(r);
	test_frame_pad(fr, 14 + 28 + test_rand_below(r, 20));
	if (!test_rand_below(r, 8))
		fr->len = (uint16_t)(14 + test_rand_below(r, 28));
}

/* An echo request, sometimes with a few bytes past Ethernet changed. */
static void fuzz_echo(struct test_rng *r, struct test_frame *fr, bool damage)
{
	struct test_ipv4 ip = ip_from_peer();
	uint8_t data[MTU];
	size_t n = test_rand_below(r, MTU - 28 + 1);

	test_rand_bytes(r, data, n);
	frame_icmp(fr, &ip, ICMP_ECHO, 0, data, n);
	test_frame_pad(fr, 60);
	for (unsigned k = damage ? 1 + test_rand_below(r, 3) : 0; k; k--)
		fr->b[14 + test_rand_below(r, (uint32_t)fr->len - 14)] ^=
			(uint8_t)(1 + test_rand_below(r, 255));
}

static void fuzz_frame(struct test_rng *r, struct test_frame *fr)
{
	static const uint16_t types[] = { ETH_IPV4, ETH_ARP, 0x86dd, 0x8100 };
	size_t len = test_rand_below(r, 1601);

	test_frame_reset(fr);
	switch (test_rand_below(r, 6)) {
	case 0: /* noise, mostly for someone else */
		fuzz_noise(r, fr, len);
		break;
	case 1: /* for us, then noise */
		if (len < 14)
			len = 14;
		test_frame_eth(fr, fuzz_dst(r), peer_mac,
			       types[test_rand_below(r, 4)]);
		fuzz_noise(r, fr, len - 14);
		break;
	case 2:
		fuzz_ipv4(r, fr);
		break;
	case 3:
		fuzz_arp(r, fr);
		break;
	default:
		fuzz_echo(r, fr, test_rand_below(r, 2));
	}
}

/* What became of a frame, from the counters: a drop, an echo answered, or
 * an ARP packet taken (counted in arp_*_in, and dropped or not). Exactly
 * one for every frame. */
static uint64_t outcomes(const struct stack_stats *s)
{
	return drops_total(s) + s->icmp_echo_replies + s->arp_requests_in +
	       s->arp_replies_in - s->drops[STACK_DROP_ARP_NOT_FOR_US] -
	       s->drops[STACK_DROP_ARP_BAD_SENDER] +
	       s->ip_frags_in + s->icmp_unreach_in;
}

static void test_fuzz_random_frames(void **state)
{
	struct fix *f = *state;
	const struct stack_stats *s = stack_stats(f->st);
	struct test_rng rng = { 0x5eed };
	struct test_frame fr;
	uint64_t rx_bytes = 0;

	for (int i = 0; i < FUZZ_FRAMES; i++) {
		uint64_t before = outcomes(s);
		uint64_t answers = s->icmp_echo_replies + s->arp_replies_out +
				   s->tcp_rsts_out;

		fuzz_frame(&rng, &fr);
		rx_bytes += fr.len;
		input(f, &fr);
		if (outcomes(s) != before + 1)
			fail_msg("frame %d (len %u) accounted %llu times", i,
				 fr.len,
				 (unsigned long long)(outcomes(s) - before));
		assert_int_equal(test_port_tx_count(&f->port),
				 s->icmp_echo_replies + s->arp_replies_out +
				 s->tcp_rsts_out - answers);
		for (size_t k = 0; k < test_port_tx_count(&f->port); k++) {
			struct test_pkt *p = test_port_tx_at(&f->port, k);

			assert_memory_equal(p->data + 6, our_mac, 6);
			assert_in_range(p->len, 42, 14 + MTU);
		}
		test_port_tx_clear(&f->port);
		/* Every buffer given was freed or sent, but for one per
		 * datagram held for reassembly. */
		assert_true(f->port.live <= IPV4_REASM_SLOTS);
		test_port_advance(&f->port, test_rand_below(&rng, 1u << 30));
		if (i % 64 == 0) {
			uint8_t mac[6];

			(void)resolve(f, fuzz_ip(&rng), mac);
			test_port_tx_clear(&f->port);
		}
	}
	assert_int_equal(s->rx_pkts, FUZZ_FRAMES);
	assert_int_equal(s->rx_bytes, rx_bytes);
	/* The generator reaches deep: every kind of outcome happened. */
	for (int r = 0; r < STACK_DROP_MAX; r++) {
		/* Not from random single frames: these need buffers to run out,
		 * a connection to ourselves or a TCP connection
		 * (tests/stack/test_tcp.c). */
		if (r == STACK_DROP_NO_BUFFER || r == STACK_DROP_TX_FULL ||
		    r == STACK_DROP_LOOP_FULL || r >= STACK_DROP_TCP_NO_CONN)
			continue;
		if (!s->drops[r])
			fail_msg("no random frame was dropped as %s",
				 stack_drop_name((enum stack_drop)r));
	}
	assert_true(s->icmp_echo_replies > 0);
	assert_true(s->arp_replies_out > 0);
	finish(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T_OWN(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_OWN(test_create_sends_gratuitous_arp),
		cmocka_unit_test(test_create_rejects_bad_conf),
		T_OWN(test_create_without_buffer),
		T(test_arp_request_for_us_answered),
		T(test_arp_learns_on_current_clock),
		T(test_arp_request_for_other_ignored),
		T(test_arp_reply_completes_resolution),
		T(test_arp_merge_updates_known_sender),
		T(test_arp_resolve_rate_limited),
		T(test_arp_entry_expires),
		T(test_arp_stale_entry_forgotten),
		T(test_arp_refuses_our_mac),
		T(test_resolve_offlink_uses_gateway),
		T_OWN(test_resolve_offlink_without_gateway),
		T(test_arp_conflict_counted),
		T(test_arp_multicast_sender_ignored),
		T(test_arp_malformed),
		T(test_icmp_echo_reply),
		T(test_icmp_echo_reply_strips_padding),
		T(test_icmp_echo_reply_zero_message),
		T(test_icmp_echo_reply_with_ip_options),
		T(test_icmp_echo_reply_full_mtu),
		T(test_icmp_unreach_taken),
		T(test_icmp_drops),
		T(test_eth_drops),
		T(test_ipv4_malformed_drops),
		T(test_ipv4_port_verified_csum_trusted),
		T(test_ipv4_link_broadcast_dropped),
		T(test_ipv4_not_for_us),
		T(test_ipv4_martian_sources),
		T_OWN(test_ipv4_slash31_peer_not_martian),
		T(test_ipv4_fragments_held),
		T(test_ipv4_unknown_protocol),
		T(test_counters),
		T(test_no_buffer),
		T(test_poll_receives_and_flushes),
		T(test_poll_takes_one_burst),
		T(test_poll_reads_clock),
		T(test_tx_partial_burst),
		T(test_tx_refused_frames_kept),
		T(test_tx_full_drops),
		T(test_destroy_frees_unsent),
		cmocka_unit_test(test_drop_names),
		T(test_fuzz_random_frames),
	};

	return cmocka_run_group_tests_name("stack_input", tests, NULL, NULL);
}
