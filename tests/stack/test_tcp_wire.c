/*
 * test_tcp_wire.c - stack/tcp_wire.c on its own: sequence arithmetic across
 * the 2^32 wrap, the TCP header checks and checksum against a byte-wise
 * reference and a real Linux SYN, option parsing (every kind, malformed
 * lists, wrong lengths) and option emitting (Linux layout, the 40-byte
 * cap), and emit/parse round trips.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../stack/tcp_wire.h"
#include "link.h"

#define SRC TEST_IP4(192, 168, 1, 10)
#define DST TEST_IP4(192, 168, 1, 20)

/* ---- reference checksum ------------------------------------------------ */

/* RFC 9293 3.1 written out byte by byte, sharing no code with wire.c or
 * tcp_wire.c. Sums are folded, host order, not inverted. */

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header: source, destination, zero, protocol 6, TCP length. */
static uint16_t ref_pseudo_sum(uint32_t src, uint32_t dst, uint16_t len)
{
	uint8_t ph[12] = { 0 };
	uint32_t sum = 0;

	test_put32(ph, src);
	test_put32(ph + 4, dst);
	ph[9] = 6;
	test_put16(ph + 10, len);
	for (size_t i = 0; i < sizeof(ph); i += 2)
		sum += (uint32_t)(ph[i] << 8 | ph[i + 1]);
	return ref_fold(sum);
}

/* Pseudo-header, then the segment with an odd last byte padded with 0. */
static uint16_t ref_sum(uint32_t src, uint32_t dst, const uint8_t *seg,
			size_t len)
{
	uint32_t sum = ref_pseudo_sum(src, dst, (uint16_t)len);

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(seg[i] << 8 | seg[i + 1]);
	if (len & 1)
		sum += (uint32_t)seg[len - 1] << 8;
	return ref_fold(sum);
}

/* The checksum to store (host order), with the field taken as it is. */
static uint16_t ref_csum(uint32_t src, uint32_t dst, const uint8_t *seg,
			 size_t len)
{
	return (uint16_t)~ref_sum(src, dst, seg, len);
}

/* wire_tcp_csum's result is in memory order; read it as the wire does. */
static uint16_t csum_host(uint16_t memory_order)
{
	uint8_t b[2];

	memcpy(b, &memory_order, 2);
	return test_get16(b);
}

/* ---- segments built by hand -------------------------------------------- */

/* What a hand-built segment says. Zero means the usual value. */
struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window, urg;
	const uint8_t *opts;
	uint8_t opts_len;       /* a multiple of 4 unless testing off */
	uint8_t off;            /* 0: (20 + opts_len) / 4 */
	const uint8_t *payload; /* NULL: payload_len bytes of 0x5a */
	uint16_t payload_len;
	bool bad_csum;          /* store a checksum off by one */
};

/* Writes the segment to b with a correct checksum from ref_csum. Returns
 * its length. */
static size_t seg_build(uint8_t *b, const struct seg *s)
{
	size_t hlen = 20u + s->opts_len, len = hlen + s->payload_len;
	uint16_t csum;

	memset(b, 0, hlen);
	test_put16(b, s->sport ? s->sport : 40000);
	test_put16(b + 2, s->dport ? s->dport : 80);
	test_put32(b + 4, s->seq);
	test_put32(b + 8, s->ack);
	b[12] = (uint8_t)((s->off ? s->off : hlen / 4) << 4);
	b[13] = s->flags;
	test_put16(b + 14, s->window);
	test_put16(b + 18, s->urg);
	if (s->opts_len)
		memcpy(b + 20, s->opts, s->opts_len);
	if (s->payload)
		memcpy(b + hlen, s->payload, s->payload_len);
	else
		memset(b + hlen, 0x5a, s->payload_len);
	csum = ref_csum(SRC, DST, b, len);
	test_put16(b + 16, s->bad_csum ? (uint16_t)(csum + 1) : csum);
	return len;
}

/* A SYN from Linux 6.x to port 80, byte for byte as tcpdump shows it:
 * window 64240, options "mss 1460,sackOK,TS val 2587565101 ecr 0,nop,
 * wscale 7" (20 bytes, data offset 10). The checksum 0x6631 for
 * 192.168.1.10 -> 192.168.1.20 was computed outside this program (Python,
 * struct.unpack over pseudo-header + segment). */
static const uint8_t linux_syn[40] = {
	0xc3, 0x5c, 0x00, 0x50, 0x6f, 0x1e, 0x7a, 0x3b,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
	0x66, 0x31, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4,             /* MSS 1460 */
	0x04, 0x02,                         /* SACK permitted */
	0x08, 0x0a, 0x9a, 0x3b, 0x1c, 0x2d, /* TS val */
	0x00, 0x00, 0x00, 0x00,             /* TS ecr */
	0x01,                               /* NOP */
	0x03, 0x03, 0x07,                   /* WS 7 */
};

/* ---- layout ------------------------------------------------------------ */

/* The struct is overlaid on segments: RFC 9293 3.1 byte for byte. */
static void test_layout_matches_rfc9293(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct wire_tcp), WIRE_TCP_HLEN);
	assert_int_equal(offsetof(struct wire_tcp, dport), 2);
	assert_int_equal(offsetof(struct wire_tcp, seq), 4);
	assert_int_equal(offsetof(struct wire_tcp, ack), 8);
	assert_int_equal(offsetof(struct wire_tcp, off), 12);
	assert_int_equal(offsetof(struct wire_tcp, flags), 13);
	assert_int_equal(offsetof(struct wire_tcp, window), 14);
	assert_int_equal(offsetof(struct wire_tcp, csum), 16);
	assert_int_equal(offsetof(struct wire_tcp, urg), 18);
	/* RFC 9293 3.1 control bits, CWR and ECE from RFC 3168 6.1. */
	assert_int_equal(WIRE_TCP_FIN, 0x01);
	assert_int_equal(WIRE_TCP_SYN, 0x02);
	assert_int_equal(WIRE_TCP_RST, 0x04);
	assert_int_equal(WIRE_TCP_PSH, 0x08);
	assert_int_equal(WIRE_TCP_ACK, 0x10);
	assert_int_equal(WIRE_TCP_URG, 0x20);
	assert_int_equal(WIRE_TCP_ECE, 0x40);
	assert_int_equal(WIRE_TCP_CWR, 0x80);
}

/* ---- sequence numbers -------------------------------------------------- */

static void test_seq_compare_across_wrap(void **state)
{
	static const uint32_t same[] = { 0, 1, 0x7fffffff, 0x80000000,
					 0xfffffff0, 0xffffffff };

	(void)state;
	/* 0xfffffff0 is 32 before 0x10. */
	assert_true(tcp_seq_lt(0xfffffff0, 0x10));
	assert_true(tcp_seq_le(0xfffffff0, 0x10));
	assert_false(tcp_seq_gt(0xfffffff0, 0x10));
	assert_false(tcp_seq_ge(0xfffffff0, 0x10));
	assert_true(tcp_seq_gt(0x10, 0xfffffff0));
	assert_true(tcp_seq_ge(0x10, 0xfffffff0));
	assert_false(tcp_seq_lt(0x10, 0xfffffff0));
	assert_false(tcp_seq_le(0x10, 0xfffffff0));
	assert_true(tcp_seq_lt(0xffffffff, 0));
	assert_true(tcp_seq_gt(0, 0xffffffff));
	/* As far apart as the order still holds: 2^31 - 1. */
	assert_true(tcp_seq_lt(0, 0x7fffffff));
	assert_true(tcp_seq_lt(0x80000000, 0xffffffff));
	assert_true(tcp_seq_lt(0xc0000000, 0x3fffffff));
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		uint32_t x = same[i];

		assert_false(tcp_seq_lt(x, x));
		assert_true(tcp_seq_le(x, x));
		assert_false(tcp_seq_gt(x, x));
		assert_true(tcp_seq_ge(x, x));
	}
}

/* Any a and a + d with 0 < d < 2^31 are ordered a before a + d. */
static void test_seq_compare_random(void **state)
{
	struct test_rng rng = { 9293 };

	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint32_t a = (uint32_t)test_rand(&rng);
		uint32_t d = 1 + test_rand_below(&rng, 0x7fffffff);
		uint32_t b = a + d;

		if (i & 1) { /* near the wrap, where the bugs are */
			a = 0xffffffffu - test_rand_below(&rng, 64);
			b = a + d;
		}
		if (!tcp_seq_lt(a, b) || !tcp_seq_le(a, b) ||
		    tcp_seq_gt(a, b) || tcp_seq_ge(a, b) ||
		    !tcp_seq_gt(b, a) || !tcp_seq_ge(b, a) ||
		    tcp_seq_lt(b, a) || tcp_seq_le(b, a))
			fail_msg("a %08x b %08x", a, b);
	}
}

static void test_seq_max_min_across_wrap(void **state)
{
	(void)state;
	assert_int_equal(tcp_seq_max(0xfffffff0, 0x10), 0x10);
	assert_int_equal(tcp_seq_max(0x10, 0xfffffff0), 0x10);
	assert_int_equal(tcp_seq_min(0xfffffff0, 0x10), 0xfffffff0);
	assert_int_equal(tcp_seq_min(0x10, 0xfffffff0), 0xfffffff0);
	assert_int_equal(tcp_seq_max(5, 7), 7);
	assert_int_equal(tcp_seq_min(5, 7), 5);
	assert_int_equal(tcp_seq_max(42, 42), 42);
	assert_int_equal(tcp_seq_min(42, 42), 42);
}

/* lo <= x < hi, a window that wraps included. */
static void test_seq_in(void **state)
{
	struct test_rng rng = { 793 };

	(void)state;
	assert_true(tcp_seq_in(0xfffffff0, 0xfffffff0, 0x10)); /* lo in */
	assert_true(tcp_seq_in(0xffffffff, 0xfffffff0, 0x10));
	assert_true(tcp_seq_in(0, 0xfffffff0, 0x10));
	assert_true(tcp_seq_in(0xf, 0xfffffff0, 0x10));
	assert_false(tcp_seq_in(0x10, 0xfffffff0, 0x10));      /* hi out */
	assert_false(tcp_seq_in(0xffffffef, 0xfffffff0, 0x10));
	assert_false(tcp_seq_in(0x80000000, 0xfffffff0, 0x10));
	assert_false(tcp_seq_in(7, 7, 7));                     /* empty */
	assert_false(tcp_seq_in(0, 7, 7));
	assert_true(tcp_seq_in(7, 7, 8));
	assert_false(tcp_seq_in(8, 7, 8));
	/* For a non-empty window below 2^31 it is exactly le(lo, x) &&
	 * lt(x, hi). (Empty, they differ for x = lo + 2^31, the one point
	 * signed comparison cannot order.) */
	for (int i = 0; i < 100000; i++) {
		uint32_t lo = (uint32_t)test_rand(&rng);
		uint32_t hi = lo + 1 + test_rand_below(&rng, 0x7fffffff);
		uint32_t x = (uint32_t)test_rand(&rng);

		if (i % 3 == 0) /* next to an edge */
			x = (i & 4 ? hi : lo) +
			    (uint32_t)test_rand_below(&rng, 5) - 2;
		if (tcp_seq_in(x, lo, hi) !=
		    (tcp_seq_le(lo, x) && tcp_seq_lt(x, hi)))
			fail_msg("x %08x lo %08x hi %08x", x, lo, hi);
	}
}

/* ---- header parse ------------------------------------------------------ */

static void test_parse_linux_syn(void **state)
{
	struct wire_tcp_view v;
	struct wire_tcp_opts o;

	(void)state;
	memset(&v, 0xee, sizeof(v));
	assert_int_equal(wire_tcp_parse(linux_syn, sizeof(linux_syn), SRC, DST,
					0, &v), 0);
	assert_ptr_equal(v.hdr, linux_syn);
	assert_int_equal(v.sport, 50012);
	assert_int_equal(v.dport, 80);
	assert_int_equal(v.seq, 0x6f1e7a3b);
	assert_int_equal(v.ack, 0);
	assert_int_equal(v.flags, WIRE_TCP_SYN);
	assert_int_equal(v.window, 64240);
	assert_int_equal(v.urgent, 0);
	assert_int_equal(v.hlen, 40);
	assert_ptr_equal(v.opts, linux_syn + 20);
	assert_int_equal(v.opts_len, 20);
	assert_ptr_equal(v.payload, linux_syn + 40);
	assert_int_equal(v.payload_len, 0);

	memset(&o, 0xee, sizeof(o));
	assert_int_equal(wire_tcp_parse_opts(v.opts, v.opts_len, &o), 0);
	assert_true(o.has_mss);
	assert_int_equal(o.mss, 1460);
	assert_true(o.sack_ok);
	assert_true(o.has_ts);
	assert_int_equal(o.tsval, 2587565101u);
	assert_int_equal(o.tsecr, 0);
	assert_true(o.has_wscale);
	assert_int_equal(o.wscale, 7);
	assert_int_equal(o.sack_count, 0);
}

/* The vector's checksum, the reference and tcp_wire.c all agree. */
static void test_csum_linux_syn(void **state)
{
	uint8_t b[sizeof(linux_syn)];
	uint16_t c;

	(void)state;
	memcpy(b, linux_syn, sizeof(b));
	assert_int_equal(ref_sum(SRC, DST, b, sizeof(b)), 0xffff);
	b[16] = b[17] = 0;
	assert_int_equal(ref_csum(SRC, DST, b, sizeof(b)), 0x6631);
	c = wire_tcp_csum(b, sizeof(b), SRC, DST);
	memcpy(b + 16, &c, 2);
	assert_memory_equal(b, linux_syn, sizeof(b));
	assert_int_equal(wire_tcp_csum(b, sizeof(b), SRC, DST), 0);
}

/* Random segments of every length class (odd ones too) and addresses. */
static void test_csum_matches_reference(void **state)
{
	struct test_rng rng = { 1071 };
	static uint8_t b[1 + 1500];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t len = 20 + test_rand_below(&rng, 1481);
		uint8_t *seg = b + (i & 1); /* unaligned too */
		uint32_t src = (uint32_t)test_rand(&rng);
		uint32_t dst = (uint32_t)test_rand(&rng);
		uint16_t c;

		test_rand_bytes(&rng, seg, len);
		seg[16] = seg[17] = 0;
		c = wire_tcp_csum(seg, len, src, dst);
		if (csum_host(c) != ref_csum(src, dst, seg, len))
			fail_msg("len %zu: %04x, want %04x", len, csum_host(c),
				 ref_csum(src, dst, seg, len));
		memcpy(seg + 16, &c, 2);
		assert_int_equal(wire_tcp_csum(seg, len, src, dst), 0);
		assert_int_equal(ref_sum(src, dst, seg, len), 0xffff);
	}
}

/* A segment whose checksum is 0x0000 verifies whether it carries 0x0000 or
 * 0xffff, the other one's complement zero (RFC 1071 2). */
static void test_csum_zero_result(void **state)
{
	struct seg s = { .flags = WIRE_TCP_ACK, .payload_len = 2 };
	struct wire_tcp_view v;
	uint8_t b[64];
	size_t len;
	uint16_t rest;

	(void)state;
	len = seg_build(b, &s);
	b[16] = b[17] = b[20] = b[21] = 0;
	rest = ref_sum(SRC, DST, b, len);
	test_put16(b + 20, (uint16_t)~rest); /* now everything sums to ffff */
	assert_int_equal(wire_tcp_csum(b, len, SRC, DST), 0);
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
	b[16] = b[17] = 0xff;
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
}

static void test_parse_bad_csum(void **state)
{
	struct seg s = { .flags = WIRE_TCP_ACK | WIRE_TCP_PSH, .seq = 1,
			 .payload_len = 11, .bad_csum = true };
	struct wire_tcp_view v;
	uint8_t b[64];
	size_t len = seg_build(b, &s);

	(void)state;
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), -EBADMSG);
	s.bad_csum = false;
	len = seg_build(b, &s);
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
	/* The pseudo-header counts: other addresses, or a length cut short
	 * by one (what a wrong IPv4 total length would give). */
	assert_int_equal(wire_tcp_parse(b, len, SRC + 1, DST, 0, &v), -EBADMSG);
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST ^ 0x100, 0, &v),
			 -EBADMSG);
	/* (Swapping the two is invisible: the sum commutes.) */
	assert_int_equal(wire_tcp_parse(b, len, DST, SRC, 0, &v), 0);
	assert_int_equal(wire_tcp_parse(b, len - 1, SRC, DST, 0, &v),
			 -EBADMSG);
}

/* A flipped bit anywhere in the Linux SYN is caught: by the checksum, or
 * for the data offset bits by the structural check. */
static void test_parse_bad_csum_every_bit(void **state)
{
	struct wire_tcp_view v;
	uint8_t b[sizeof(linux_syn)];

	(void)state;
	for (size_t bit = 0; bit < sizeof(b) * 8; bit++) {
		unsigned off;
		int rc, want;

		memcpy(b, linux_syn, sizeof(b));
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		off = b[12] >> 4;
		want = off < 5 || off * 4 > sizeof(b) ? -EINVAL : -EBADMSG;
		rc = wire_tcp_parse(b, sizeof(b), SRC, DST, 0, &v);
		if (rc != want)
			fail_msg("bit %zu: %d, want %d", bit, rc, want);
	}
}

/* The port's verdict replaces the software check, not the structural ones. */
static void test_parse_csum_verified(void **state)
{
	struct seg s = { .flags = WIRE_TCP_ACK, .ack = 77, .window = 512,
			 .payload_len = 5, .bad_csum = true };
	struct wire_tcp_view v;
	uint8_t b[64];
	size_t len = seg_build(b, &s);

	(void)state;
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), -EBADMSG);
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 1, &v), 0);
	assert_int_equal(v.ack, 77);
	assert_int_equal(v.window, 512);
	assert_int_equal(v.payload_len, 5);
	s.off = 4;
	len = seg_build(b, &s);
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 1, &v), -EINVAL);
	assert_int_equal(wire_tcp_parse(b, 19, SRC, DST, 1, &v), -EINVAL);
}

static void test_parse_truncated_header(void **state)
{
	struct wire_tcp_view v;

	(void)state;
	for (size_t len = 0; len < WIRE_TCP_HLEN; len++) {
		assert_int_equal(wire_tcp_parse(linux_syn, len, SRC, DST, 0, &v),
				 -EINVAL);
		assert_int_equal(wire_tcp_parse(linux_syn, len, SRC, DST, 1, &v),
				 -EINVAL);
	}
}

/* The pseudo-header length is 16 bits; nothing longer is a TCP segment. */
static void test_parse_rejects_over_64k(void **state)
{
	static uint8_t big[65536];
	struct seg s = { .flags = WIRE_TCP_ACK };
	struct wire_tcp_view v;

	(void)state;
	seg_build(big, &s);
	assert_int_equal(wire_tcp_parse(big, 65536, SRC, DST, 1, &v), -EINVAL);
	assert_int_equal(wire_tcp_parse(big, 65535, SRC, DST, 1, &v), 0);
	assert_int_equal(v.payload_len, 65535 - 20);
}

/* RFC 9293 3.1: the data offset counts 32-bit words, at least 5. */
static void test_parse_data_offset_below_5(void **state)
{
	struct wire_tcp_view v;
	uint8_t b[64];

	(void)state;
	for (uint8_t off = 0; off < 5; off++) {
		struct seg s = { .payload_len = 20 };
		size_t len = seg_build(b, &s);

		b[12] = (uint8_t)(off << 4); /* .off = 0 would mean "usual" */
		test_put16(b + 16, 0);
		test_put16(b + 16, ref_csum(SRC, DST, b, len));
		assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v),
				 -EINVAL);
	}
}

static void test_parse_data_offset_beyond_len(void **state)
{
	uint8_t nops[40];
	struct wire_tcp_view v;
	uint8_t b[64];

	(void)state;
	memset(nops, WIRE_TCP_OPT_NOP, sizeof(nops));
	for (uint8_t off = 6; off <= 15; off++) {
		struct seg s = { .off = off };
		size_t len = seg_build(b, &s); /* 20 bytes, offset says more */

		assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 1, &v),
				 -EINVAL);
		/* One byte short of the header the offset describes. */
		s.opts = nops;
		s.opts_len = (uint8_t)(off * 4 - 20);
		len = seg_build(b, &s);
		assert_int_equal(wire_tcp_parse(b, len - 1, SRC, DST, 1, &v),
				 -EINVAL);
		assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
		assert_int_equal(v.hlen, off * 4);
		assert_int_equal(v.opts_len, off * 4 - 20);
		assert_int_equal(v.payload_len, 0);
	}
}

static void test_parse_payload_and_fields(void **state)
{
	static const uint8_t ts[12] = { 1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3 };
	uint8_t data[333];
	struct seg s = { .sport = 11211, .dport = 54321, .seq = 0xfffffffe,
			 .ack = 0x80000001,
			 .flags = WIRE_TCP_ACK | WIRE_TCP_PSH | WIRE_TCP_URG |
				  WIRE_TCP_ECE | WIRE_TCP_CWR,
			 .window = 0xffff, .urg = 17, .opts = ts, .opts_len = 12,
			 .payload = data, .payload_len = sizeof(data) };
	struct wire_tcp_view v;
	uint8_t b[400];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	len = seg_build(b, &s);
	b[12] |= 0x0f; /* reserved bits set by the sender: not ours to judge */
	test_put16(b + 16, 0);
	test_put16(b + 16, ref_csum(SRC, DST, b, len));
	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
	assert_int_equal(v.sport, 11211);
	assert_int_equal(v.dport, 54321);
	assert_int_equal(v.seq, 0xfffffffe);
	assert_int_equal(v.ack, 0x80000001);
	assert_int_equal(v.flags, s.flags);
	assert_int_equal(v.window, 0xffff);
	assert_int_equal(v.urgent, 17);
	assert_int_equal(v.hlen, 32);
	assert_int_equal(v.opts_len, 12);
	assert_ptr_equal(v.payload, b + 32);
	assert_int_equal(v.payload_len, sizeof(data));
	assert_memory_equal(v.payload, data, sizeof(data));
}

/* ---- option parse ------------------------------------------------------ */

static int parse_opts(const uint8_t *p, size_t len, struct wire_tcp_opts *o)
{
	memset(o, 0xee, sizeof(*o)); /* nothing may survive from before */
	return wire_tcp_parse_opts(p, len, o);
}

static void assert_opts_empty(const struct wire_tcp_opts *o)
{
	assert_false(o->has_mss);
	assert_false(o->has_wscale);
	assert_false(o->sack_ok);
	assert_false(o->has_ts);
	assert_int_equal(o->sack_count, 0);
}

static void test_opts_each_kind(void **state)
{
	static const uint8_t mss[] = { 2, 4, 0x23, 0x28 };
	static const uint8_t ws[] = { 3, 3, 9 };
	static const uint8_t sack_perm[] = { 4, 2 };
	static const uint8_t ts[] = { 8, 10, 0xde, 0xad, 0xbe, 0xef,
				      0x01, 0x02, 0x03, 0x04 };
	static const uint8_t sack[] = { 5, 10, 0xff, 0xff, 0xff, 0xf0,
					0x00, 0x00, 0x00, 0x10 };
	struct wire_tcp_opts o;

	(void)state;
	assert_int_equal(parse_opts(NULL, 0, &o), 0);
	assert_opts_empty(&o);

	assert_int_equal(parse_opts(mss, sizeof(mss), &o), 0);
	assert_true(o.has_mss);
	assert_int_equal(o.mss, 9000);
	o.has_mss = false;
	assert_opts_empty(&o);

	assert_int_equal(parse_opts(ws, sizeof(ws), &o), 0);
	assert_true(o.has_wscale);
	assert_int_equal(o.wscale, 9);
	o.has_wscale = false;
	assert_opts_empty(&o);

	assert_int_equal(parse_opts(sack_perm, sizeof(sack_perm), &o), 0);
	assert_true(o.sack_ok);
	o.sack_ok = false;
	assert_opts_empty(&o);

	assert_int_equal(parse_opts(ts, sizeof(ts), &o), 0);
	assert_true(o.has_ts);
	assert_int_equal(o.tsval, 0xdeadbeef);
	assert_int_equal(o.tsecr, 0x01020304);
	o.has_ts = false;
	assert_opts_empty(&o);

	assert_int_equal(parse_opts(sack, sizeof(sack), &o), 0);
	assert_int_equal(o.sack_count, 1);
	assert_int_equal(o.sack[0].left, 0xfffffff0);
	assert_int_equal(o.sack[0].right, 0x10);
	o.sack_count = 0;
	assert_opts_empty(&o);
}

/* RFC 9293 3.2: EOL ends the list; what follows is padding, even bytes
 * that would be malformed as options. */
static void test_opts_eol_in_middle(void **state)
{
	static const uint8_t a[] = { 2, 4, 5, 0xb4, 0, 8, 10, 1, 2, 3, 4,
				     5, 6, 7, 8 };
	static const uint8_t b[] = { 0, 2, 0, 0xff };
	static const uint8_t c[] = { 1, 1, 0, 3 }; /* WS cut short, after EOL */
	struct wire_tcp_opts o;

	(void)state;
	assert_int_equal(parse_opts(a, sizeof(a), &o), 0);
	assert_true(o.has_mss);
	assert_false(o.has_ts);
	assert_int_equal(parse_opts(b, sizeof(b), &o), 0);
	assert_opts_empty(&o);
	assert_int_equal(parse_opts(c, sizeof(c), &o), 0);
	assert_opts_empty(&o);
}

static void test_opts_nop_runs(void **state)
{
	static const uint8_t mixed[] = { 1, 1, 1, 2, 4, 5, 0xb4, 1, 3, 3, 14,
					 1, 1, 1, 1, 4, 2, 1 };
	uint8_t all[40];
	struct wire_tcp_opts o;

	(void)state;
	memset(all, WIRE_TCP_OPT_NOP, sizeof(all));
	assert_int_equal(parse_opts(all, sizeof(all), &o), 0);
	assert_opts_empty(&o);
	assert_int_equal(parse_opts(mixed, sizeof(mixed), &o), 0);
	assert_true(o.has_mss);
	assert_int_equal(o.mss, 1460);
	assert_true(o.has_wscale);
	assert_int_equal(o.wscale, 14);
	assert_true(o.sack_ok);
	/* An option behind 36 NOPs, right at the end of the 40 bytes. */
	all[36] = 2;
	all[37] = 4;
	all[38] = 0x05;
	all[39] = 0xdc;
	assert_int_equal(parse_opts(all, sizeof(all), &o), 0);
	assert_int_equal(o.mss, 1500);
}

/* RFC 9293 3.2 (MUST-7): a length below 2 cannot delimit the option. */
static void test_opts_zero_or_one_length(void **state)
{
	static const uint8_t mss0[] = { 2, 0, 5, 0xb4 };
	static const uint8_t unknown0[] = { 1, 1, 0x22, 0 };
	static const uint8_t ts1[] = { 1, 1, 8, 1 };
	static const uint8_t after[] = { 2, 4, 5, 0xb4, 1, 3, 0, 7 };
	static const uint8_t no_len[] = { 1, 1, 1, 2 }; /* kind, no length */
	static const uint8_t no_len_unknown[] = { 0xfe };
	struct wire_tcp_opts o;

	(void)state;
	assert_int_equal(parse_opts(mss0, sizeof(mss0), &o), -EINVAL);
	assert_int_equal(parse_opts(unknown0, sizeof(unknown0), &o), -EINVAL);
	assert_int_equal(parse_opts(ts1, sizeof(ts1), &o), -EINVAL);
	assert_int_equal(parse_opts(after, sizeof(after), &o), -EINVAL);
	assert_int_equal(parse_opts(no_len, sizeof(no_len), &o), -EINVAL);
	assert_int_equal(parse_opts(no_len_unknown, 1, &o), -EINVAL);
}

/* A length running past the option bytes: the segment is dropped. */
static void test_opts_length_overrun(void **state)
{
	static const uint8_t mss[] = { 2, 4, 5 };
	static const uint8_t ts[] = { 1, 1, 8, 10, 0, 0, 0, 1 };
	static const uint8_t sack[] = { 5, 18, 0, 0, 0, 1, 0, 0, 0, 2 };
	uint8_t unknown[40];
	struct wire_tcp_opts o;

	(void)state;
	assert_int_equal(parse_opts(mss, sizeof(mss), &o), -EINVAL);
	assert_int_equal(parse_opts(ts, sizeof(ts), &o), -EINVAL);
	assert_int_equal(parse_opts(sack, sizeof(sack), &o), -EINVAL);
	memset(unknown, WIRE_TCP_OPT_NOP, sizeof(unknown));
	unknown[4] = 0xfd;
	unknown[5] = 37; /* one more than the 36 bytes left */
	assert_int_equal(parse_opts(unknown, sizeof(unknown), &o), -EINVAL);
	unknown[5] = 36; /* exactly to the end: fine */
	assert_int_equal(parse_opts(unknown, sizeof(unknown), &o), 0);
	unknown[5] = 255;
	assert_int_equal(parse_opts(unknown, sizeof(unknown), &o), -EINVAL);
	/* The length is checked against the list, not the buffer behind. */
	assert_int_equal(parse_opts(linux_syn + 20, 19, &o), -EINVAL);
}

/* RFC 7323 2.3: a shift above 14 is used as 14. */
static void test_opts_ws_clamped(void **state)
{
	struct wire_tcp_opts o;

	(void)state;
	for (unsigned shift = 0; shift <= 255; shift++) {
		uint8_t ws[3] = { 3, 3, (uint8_t)shift };

		assert_int_equal(parse_opts(ws, sizeof(ws), &o), 0);
		assert_true(o.has_wscale);
		assert_int_equal(o.wscale, shift > 14 ? 14 : shift);
	}
}

static void put_sack(uint8_t *p, unsigned n, uint32_t base)
{
	p[0] = WIRE_TCP_OPT_SACK;
	p[1] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		test_put32(p + 2 + 8 * i, base + 1000 * i);
		test_put32(p + 6 + 8 * i, base + 1000 * i + 500);
	}
}

/* RFC 2018 3: 1 to 4 blocks; any other length leaves the option out. */
static void test_opts_sack_blocks(void **state)
{
	static const uint8_t bad_len[] = { 2, 3, 4, 9, 11, 17, 19, 25, 33, 35 };
	struct wire_tcp_opts o;
	uint8_t p[48];

	(void)state;
	for (unsigned n = 1; n <= 4; n++) {
		memset(p, WIRE_TCP_OPT_NOP, sizeof(p));
		put_sack(p + 2, n, 0xfffff000);
		assert_int_equal(parse_opts(p, 40, &o), 0);
		assert_int_equal(o.sack_count, n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(o.sack[i].left, 0xfffff000 + 1000 * i);
			assert_int_equal(o.sack[i].right,
					 0xfffff000 + 1000 * i + 500);
		}
	}
	/* Five blocks need 42 bytes: past the 40 of a header, and ignored
	 * where a list could hold them. */
	put_sack(p, 5, 1);
	assert_int_equal(parse_opts(p, 40, &o), -EINVAL);
	assert_int_equal(parse_opts(p, 42, &o), 0);
	assert_int_equal(o.sack_count, 0);
	/* A bad length that fits: only the SACK option is lost; the
	 * timestamps behind it still count. */
	for (size_t i = 0; i < sizeof(bad_len); i++) {
		memset(p, 0, sizeof(p));
		p[0] = WIRE_TCP_OPT_SACK;
		p[1] = bad_len[i];
		p[bad_len[i]] = WIRE_TCP_OPT_TS;
		p[bad_len[i] + 1] = WIRE_TCP_OPTLEN_TS;
		p[bad_len[i] + 5] = 42;
		assert_int_equal(parse_opts(p, bad_len[i] + 10u, &o), 0);
		assert_int_equal(o.sack_count, 0);
		assert_true(o.has_ts);
		assert_int_equal(o.tsval, 42);
	}
}

/* A known kind with a length that fits but is not its own: that option is
 * ignored, the rest of the list is not. */
static void test_opts_known_kind_wrong_length(void **state)
{
	static const struct {
		uint8_t kind, len;
	} cases[] = {
		{ WIRE_TCP_OPT_MSS, 2 }, { WIRE_TCP_OPT_MSS, 3 },
		{ WIRE_TCP_OPT_MSS, 5 }, { WIRE_TCP_OPT_MSS, 8 },
		{ WIRE_TCP_OPT_WS, 2 }, { WIRE_TCP_OPT_WS, 4 },
		{ WIRE_TCP_OPT_SACK_PERM, 3 }, { WIRE_TCP_OPT_SACK_PERM, 4 },
		{ WIRE_TCP_OPT_TS, 2 }, { WIRE_TCP_OPT_TS, 8 },
		{ WIRE_TCP_OPT_TS, 12 },
	};
	static const uint8_t mss_ok[] = { 2, 4, 0x02, 0x18 };   /* 536 */
	static const uint8_t ws_ok[] = { 1, 3, 3, 2 };
	struct wire_tcp_opts o;
	uint8_t p[40];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool is_mss = cases[i].kind == WIRE_TCP_OPT_MSS;
		const uint8_t *next = is_mss ? ws_ok : mss_ok;

		memset(p, 0x07, sizeof(p)); /* data bytes: a shift of 7 */
		p[0] = cases[i].kind;
		p[1] = cases[i].len;
		memcpy(p + cases[i].len, next, 4);
		assert_int_equal(parse_opts(p, cases[i].len + 4u, &o), 0);
		if (is_mss) {
			assert_false(o.has_mss);
			assert_true(o.has_wscale);
			assert_int_equal(o.wscale, 2);
			continue;
		}
		assert_true(o.has_mss);
		assert_int_equal(o.mss, 536);
		assert_false(o.has_wscale);
		assert_false(o.sack_ok);
		assert_false(o.has_ts);
	}
}

/* RFC 9293 3.2 (MUST-6): unknown kinds are skipped by their length, and
 * their data is not read as options. */
static void test_opts_unknown_kind_skipped(void **state)
{
	static const uint8_t kinds[] = { 6, 7, 19, 29, 30, 34, 69, 253, 254,
					 255 };
	struct wire_tcp_opts o;
	uint8_t p[40];

	(void)state;
	for (size_t i = 0; i < sizeof(kinds); i++) {
		for (uint8_t len = 2; len <= 12; len++) {
			memset(p, 0, sizeof(p));
			p[0] = kinds[i];
			p[1] = len;
			if (len >= 6) { /* looks like an MSS inside */
				p[2] = 2;
				p[3] = 4;
				p[4] = 0xff;
				p[5] = 0xff;
			}
			p[len] = WIRE_TCP_OPT_TS;
			p[len + 1] = WIRE_TCP_OPTLEN_TS;
			p[len + 9] = 5;
			assert_int_equal(parse_opts(p, len + 10u, &o), 0);
			assert_false(o.has_mss);
			assert_true(o.has_ts);
			assert_int_equal(o.tsecr, 5);
		}
	}
}

/* Random lists: never a crash or a read past len, and what comes out is
 * in range. Lengths near the edges are likely by construction. */
static void test_opts_fuzz(void **state)
{
	static const uint8_t kinds[] = { 0, 1, 2, 3, 4, 5, 8, 30, 254 };
	struct test_rng rng = { 2018 };
	struct wire_tcp_opts o;
	uint8_t p[40];
	unsigned ok = 0;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t len = test_rand_below(&rng, 41);

		test_rand_bytes(&rng, p, sizeof(p));
		for (size_t j = 0; j < len; j++) {
			if (test_rand_below(&rng, 3) == 0)
				p[j] = kinds[test_rand_below(&rng, sizeof(kinds))];
			else if (test_rand_below(&rng, 2) == 0)
				p[j] = (uint8_t)test_rand_below(&rng, 12);
		}
		if (parse_opts(p, len, &o) != 0)
			continue;
		ok++;
		assert_true(o.sack_count <= WIRE_TCP_SACK_MAX);
		assert_true(!o.has_wscale || o.wscale <= WIRE_TCP_WS_MAX);
	}
	assert_true(ok > 10000); /* the fuzz reached the accepting paths */
}

/* ---- never a byte past len -------------------------------------------- */

/* len bytes that end where a page the process may not touch begins: a
 * read past len is a crash, not a silent -EINVAL. */
struct guarded {
	uint8_t *map;
	size_t page;
};

static uint8_t *guarded_copy(struct guarded *g, const void *p, size_t len)
{
	uint8_t *tail = g->map + g->page - len;

	memcpy(tail, p, len);
	return tail;
}

static void test_no_read_past_len(void **state)
{
	static const uint8_t no_len[] = { 1, 1, 1, 2 };
	static const uint8_t kind_only[] = { 0xfe };
	struct test_rng rng = { 4096 };
	struct wire_tcp_opts o;
	struct wire_tcp_view v;
	struct guarded g;
	uint8_t p[40];

	(void)state;
	g.page = (size_t)sysconf(_SC_PAGESIZE);
	g.map = mmap(NULL, 2 * g.page, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g.map != MAP_FAILED);
	assert_int_equal(mprotect(g.map + g.page, g.page, PROT_NONE), 0);

	assert_int_equal(wire_tcp_parse_opts(guarded_copy(&g, no_len, 4), 4,
					     &o), -EINVAL);
	assert_int_equal(wire_tcp_parse_opts(guarded_copy(&g, kind_only, 1),
					     1, &o), -EINVAL);
	for (int i = 0; i < 20000; i++) {
		size_t len = test_rand_below(&rng, 41);

		test_rand_bytes(&rng, p, len);
		for (size_t j = 0; j < len; j++)
			if (test_rand_below(&rng, 2))
				p[j] = (uint8_t)test_rand_below(&rng, 12);
		wire_tcp_parse_opts(guarded_copy(&g, p, len), len, &o);
	}
	/* Header: cut anywhere, checksum checked or not. */
	for (size_t len = 0; len <= sizeof(linux_syn); len++) {
		const uint8_t *seg = guarded_copy(&g, linux_syn, len);
		int want = len == sizeof(linux_syn) ? 0 : -EINVAL;

		assert_int_equal(wire_tcp_parse(seg, len, SRC, DST, 0, &v), want);
		assert_int_equal(wire_tcp_parse(seg, len, SRC, DST, 1, &v), want);
	}
	munmap(g.map, 2 * g.page);
}

/* ---- option emit ------------------------------------------------------- */

static void assert_opts_equal(const struct wire_tcp_opts *a,
			      const struct wire_tcp_opts *b)
{
	assert_int_equal(a->has_mss, b->has_mss);
	if (a->has_mss)
		assert_int_equal(a->mss, b->mss);
	assert_int_equal(a->has_wscale, b->has_wscale);
	if (a->has_wscale)
		assert_int_equal(a->wscale, b->wscale);
	assert_int_equal(a->sack_ok, b->sack_ok);
	assert_int_equal(a->has_ts, b->has_ts);
	if (a->has_ts) {
		assert_int_equal(a->tsval, b->tsval);
		assert_int_equal(a->tsecr, b->tsecr);
	}
	assert_int_equal(a->sack_count, b->sack_count);
	for (unsigned i = 0; i < a->sack_count; i++) {
		assert_int_equal(a->sack[i].left, b->sack[i].left);
		assert_int_equal(a->sack[i].right, b->sack[i].right);
	}
}

/* Emitting the Linux SYN's options gives Linux's bytes exactly. */
static void test_emit_opts_linux_syn_bytes(void **state)
{
	struct wire_tcp_opts o = { .mss = 1460, .has_mss = true, .wscale = 7,
				   .has_wscale = true, .sack_ok = true,
				   .has_ts = true, .tsval = 2587565101u };
	uint8_t out[40];

	(void)state;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o), 20);
	assert_memory_equal(out, linux_syn + 20, 20);
}

/* The other layouts Linux sends on a SYN or SYN-ACK (tcpdump shows them
 * as "mss,nop,nop,sackOK,nop,wscale" and "mss,nop,nop,TS,nop,wscale"). */
static void test_emit_opts_syn_layouts(void **state)
{
	static const uint8_t no_ts[] = { 2, 4, 5, 0xb4, 1, 1, 4, 2,
					 1, 3, 3, 7 };
	static const uint8_t no_sack[] = { 2, 4, 5, 0xb4, 1, 1, 8, 10,
					   0, 0, 0, 1, 0, 0, 0, 2,
					   1, 3, 3, 7 };
	static const uint8_t mss_only[] = { 2, 4, 5, 0xb4 };
	static const uint8_t sack_ts[] = { 4, 2, 8, 10, 0, 0, 0, 1,
					   0, 0, 0, 2 };
	struct wire_tcp_opts o = { .mss = 1460, .has_mss = true, .wscale = 7,
				   .has_wscale = true, .sack_ok = true };
	uint8_t out[40];

	(void)state;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o),
			 sizeof(no_ts));
	assert_memory_equal(out, no_ts, sizeof(no_ts));
	o.sack_ok = false;
	o.has_ts = true;
	o.tsval = 1;
	o.tsecr = 2;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o),
			 sizeof(no_sack));
	assert_memory_equal(out, no_sack, sizeof(no_sack));
	o.has_ts = o.has_wscale = false;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o), 4);
	assert_memory_equal(out, mss_only, sizeof(mss_only));
	o.has_mss = false;
	o.has_ts = o.sack_ok = true;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o), 12);
	assert_memory_equal(out, sack_ts, sizeof(sack_ts));
	memset(&o, 0, sizeof(o));
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &o), 0);
}

/* Every combination of SYN options comes back as it went out. */
static void test_emit_opts_syn_round_trip(void **state)
{
	struct test_rng rng = { 7323 };
	struct wire_tcp_opts in, back;
	uint8_t out[40];

	(void)state;
	for (unsigned m = 0; m < 16 * 50; m++) {
		size_t n;

		memset(&in, 0, sizeof(in));
		in.has_mss = m & 1;
		in.mss = (uint16_t)test_rand(&rng);
		in.sack_ok = m & 2;
		in.has_ts = m & 4;
		in.tsval = (uint32_t)test_rand(&rng);
		in.tsecr = (uint32_t)test_rand(&rng);
		in.has_wscale = m & 8;
		in.wscale = (uint8_t)test_rand_below(&rng, 15);
		n = wire_tcp_emit_opts(out, sizeof(out), &in);
		assert_int_equal(n % 4, 0);
		assert_true(n <= 20);
		assert_int_equal(wire_tcp_parse_opts(out, n, &back), 0);
		assert_opts_equal(&in, &back);
	}
}

/* Data segments: NOP NOP TS, then NOP NOP SACK with as many blocks as the
 * 40 bytes hold: 3 with timestamps, 4 without (RFC 2018 3). */
static void test_emit_opts_data_sack(void **state)
{
	struct wire_tcp_opts in = { .tsval = 1000, .tsecr = 999 }, back;
	uint8_t out[48];

	(void)state;
	for (unsigned i = 0; i < WIRE_TCP_SACK_MAX; i++) {
		in.sack[i].left = 0xffffff00u + 0x100 * i;
		in.sack[i].right = in.sack[i].left + 0x80;
	}
	for (int ts = 0; ts <= 1; ts++) {
		for (unsigned n = 0; n <= WIRE_TCP_SACK_MAX; n++) {
			unsigned fit = ts ? 3 : 4, sent = n < fit ? n : fit;
			size_t want = (ts ? 12 : 0) + (sent ? 4 + 8 * sent : 0);
			size_t len;
			uint8_t *sack = out + (ts ? 12 : 0);

			in.has_ts = ts;
			in.sack_count = (uint8_t)n;
			memset(out, 0xee, sizeof(out));
			len = wire_tcp_emit_opts(out, sizeof(out), &in);
			assert_int_equal(len, want);
			assert_true(len <= WIRE_TCP_OPT_MAX);
			assert_int_equal(len % 4, 0);
			assert_int_equal(out[len], 0xee);
			if (ts) {
				assert_int_equal(out[0], WIRE_TCP_OPT_NOP);
				assert_int_equal(out[1], WIRE_TCP_OPT_NOP);
				assert_int_equal(out[2], WIRE_TCP_OPT_TS);
				assert_int_equal(out[3], 10);
			}
			if (sent) {
				assert_int_equal(sack[0], WIRE_TCP_OPT_NOP);
				assert_int_equal(sack[1], WIRE_TCP_OPT_NOP);
				assert_int_equal(sack[2], WIRE_TCP_OPT_SACK);
				assert_int_equal(sack[3], 2 + 8 * sent);
			}
			assert_int_equal(wire_tcp_parse_opts(out, len, &back), 0);
			in.sack_count = (uint8_t)sent; /* the first ones kept */
			assert_opts_equal(&in, &back);
		}
	}
	/* A count beyond the array is taken as the array. */
	in.has_ts = false;
	in.sack_count = 200;
	assert_int_equal(wire_tcp_emit_opts(out, sizeof(out), &in), 36);
}

/* A room below 40 is honoured in whole words; nothing written past it. */
static void test_emit_opts_room(void **state)
{
	static const struct {
		size_t room, want;
	} cases[] = {
		{ 0, 0 }, { 3, 0 }, { 11, 0 }, { 12, 12 }, { 20, 12 },
		{ 23, 12 }, { 24, 24 }, { 31, 24 }, { 32, 32 }, { 64, 32 },
	};
	struct wire_tcp_opts o = { .has_ts = true, .tsval = 5, .sack_count = 2 };
	struct wire_tcp_opts mss = { .has_mss = true, .mss = 1460 };
	uint8_t out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(wire_tcp_emit_opts(out, cases[i].room, &o),
				 cases[i].want);
		for (size_t j = cases[i].want; j < sizeof(out); j++)
			assert_int_equal(out[j], 0xee);
	}
	assert_int_equal(wire_tcp_emit_opts(out, 3, &mss), 0);
	assert_int_equal(wire_tcp_emit_opts(out, 4, &mss), 4);
}

/* Random option sets and rooms: a multiple of 4, within min(room, 40),
 * nothing past it, and always parseable. */
static void test_emit_opts_random(void **state)
{
	struct test_rng rng = { 40 };
	struct wire_tcp_opts in, back;
	uint8_t out[64];

	(void)state;
	for (int i = 0; i < 100000; i++) {
		size_t room = test_rand_below(&rng, 61), cap, n;
		uint64_t r = test_rand(&rng);

		test_rand_bytes(&rng, &in, sizeof(in));
		in.has_mss = r & 1;
		in.sack_ok = r & 2;
		in.has_ts = r & 4;
		in.has_wscale = r & 8;
		in.wscale %= 15;
		in.sack_count = (uint8_t)((r >> 4) % 6);
		memset(out, 0xee, sizeof(out));
		n = wire_tcp_emit_opts(out, room, &in);
		cap = room < 40 ? room : 40;
		assert_int_equal(n % 4, 0);
		assert_true(n <= cap);
		for (size_t j = n; j < sizeof(out); j++)
			assert_int_equal(out[j], 0xee);
		assert_int_equal(wire_tcp_parse_opts(out, n, &back), 0);
		if (room >= 40 && in.sack_count == 0)
			assert_opts_equal(&in, &back);
	}
}

/* ---- header emit and checksum ------------------------------------------ */

/* emit + emit_opts + csum give a segment the parser (and the reference
 * checksum) accept, with every field where RFC 9293 3.1 puts it. */
static void test_emit_parses(void **state)
{
	struct wire_tcp_opts in = { .has_ts = true, .tsval = 123456,
				    .tsecr = 654321, .sack_count = 2,
				    .sack = { { 10, 20 }, { 30, 40 } } }, back;
	struct wire_tcp_view v;
	uint8_t b[20 + 40 + 333 + 1];
	size_t opt_len, len;
	uint16_t c;

	(void)state;
	memset(b, 0xee, sizeof(b));
	opt_len = wire_tcp_emit_opts(b + 20, 40, &in);
	assert_int_equal(opt_len, 32);
	wire_tcp_emit(b, 11211, 50000, 0xfffffff0, 0x10,
		      WIRE_TCP_ACK | WIRE_TCP_PSH, 29200, opt_len);
	for (size_t i = 0; i < 333; i++)
		b[20 + opt_len + i] = (uint8_t)(i ^ 0x3c);
	len = 20 + opt_len + 333;
	c = wire_tcp_csum(b, len, SRC, DST);
	memcpy(b + 16, &c, 2);
	assert_int_equal(b[len], 0xee); /* nothing past the segment */

	assert_int_equal(test_get16(b), 11211);
	assert_int_equal(test_get16(b + 2), 50000);
	assert_int_equal(test_get32(b + 4), 0xfffffff0);
	assert_int_equal(test_get32(b + 8), 0x10);
	assert_int_equal(b[12], (20 + 32) / 4 << 4); /* reserved bits zero */
	assert_int_equal(b[13], WIRE_TCP_ACK | WIRE_TCP_PSH);
	assert_int_equal(test_get16(b + 14), 29200);
	assert_int_equal(test_get16(b + 18), 0);
	assert_int_equal(ref_sum(SRC, DST, b, len), 0xffff);

	assert_int_equal(wire_tcp_parse(b, len, SRC, DST, 0, &v), 0);
	assert_int_equal(v.sport, 11211);
	assert_int_equal(v.dport, 50000);
	assert_int_equal(v.seq, 0xfffffff0);
	assert_int_equal(v.ack, 0x10);
	assert_int_equal(v.flags, WIRE_TCP_ACK | WIRE_TCP_PSH);
	assert_int_equal(v.window, 29200);
	assert_int_equal(v.hlen, 52);
	assert_int_equal(v.payload_len, 333);
	assert_int_equal(wire_tcp_parse_opts(v.opts, v.opts_len, &back), 0);
	assert_opts_equal(&in, &back);
}

/* The data offset for every option length, and the csum/urg fields
 * cleared whatever the buffer held. */
static void test_emit_data_offset(void **state)
{
	struct wire_tcp_view v;
	uint8_t b[60];

	(void)state;
	for (size_t opt_len = 0; opt_len <= 40; opt_len += 4) {
		uint16_t c;

		memset(b, 0xff, sizeof(b));
		memset(b + 20, WIRE_TCP_OPT_NOP, opt_len);
		wire_tcp_emit(b, 1, 2, 3, 4, WIRE_TCP_SYN, 5, opt_len);
		assert_int_equal(b[12], (20 + opt_len) / 4 << 4);
		assert_int_equal(test_get16(b + 16), 0);
		assert_int_equal(test_get16(b + 18), 0);
		c = wire_tcp_csum(b, 20 + opt_len, SRC, DST);
		memcpy(b + 16, &c, 2);
		assert_int_equal(wire_tcp_parse(b, 20 + opt_len, SRC, DST, 0,
						&v), 0);
		assert_int_equal(v.hlen, 20 + opt_len);
	}
}

/* For checksum offload the field holds the pseudo-header sum and the port
 * adds the segment: modelled with the reference sum, the result must be
 * what wire_tcp_csum computes in software. */
static void test_pseudo_csum_consistent(void **state)
{
	struct test_rng rng = { 6 };
	static uint8_t b[1500];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		uint32_t src = (uint32_t)test_rand(&rng);
		uint32_t dst = (uint32_t)test_rand(&rng);
		size_t len = 20 + test_rand_below(&rng, 1481);
		uint16_t ph = wire_tcp_pseudo_csum(src, dst, (uint16_t)len);
		uint16_t soft, nic;

		assert_int_equal(csum_host(ph),
				 ref_pseudo_sum(src, dst, (uint16_t)len));
		test_rand_bytes(&rng, b, len);
		b[16] = b[17] = 0;
		soft = wire_tcp_csum(b, len, src, dst);
		memcpy(b + 16, &ph, 2);
		nic = (uint16_t)~test_csum_sum(b, len); /* what the NIC stores */
		if (csum_host(soft) != nic)
			fail_msg("len %zu: software %04x, offload %04x", len,
				 csum_host(soft), nic);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_matches_rfc9293),
		cmocka_unit_test(test_seq_compare_across_wrap),
		cmocka_unit_test(test_seq_compare_random),
		cmocka_unit_test(test_seq_max_min_across_wrap),
		cmocka_unit_test(test_seq_in),
		cmocka_unit_test(test_parse_linux_syn),
		cmocka_unit_test(test_csum_linux_syn),
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_csum_zero_result),
		cmocka_unit_test(test_parse_bad_csum),
		cmocka_unit_test(test_parse_bad_csum_every_bit),
		cmocka_unit_test(test_parse_csum_verified),
		cmocka_unit_test(test_parse_truncated_header),
		cmocka_unit_test(test_parse_rejects_over_64k),
		cmocka_unit_test(test_parse_data_offset_below_5),
		cmocka_unit_test(test_parse_data_offset_beyond_len),
		cmocka_unit_test(test_parse_payload_and_fields),
		cmocka_unit_test(test_opts_each_kind),
		cmocka_unit_test(test_opts_eol_in_middle),
		cmocka_unit_test(test_opts_nop_runs),
		cmocka_unit_test(test_opts_zero_or_one_length),
		cmocka_unit_test(test_opts_length_overrun),
		cmocka_unit_test(test_opts_ws_clamped),
		cmocka_unit_test(test_opts_sack_blocks),
		cmocka_unit_test(test_opts_known_kind_wrong_length),
		cmocka_unit_test(test_opts_unknown_kind_skipped),
		cmocka_unit_test(test_opts_fuzz),
		cmocka_unit_test(test_no_read_past_len),
		cmocka_unit_test(test_emit_opts_linux_syn_bytes),
		cmocka_unit_test(test_emit_opts_syn_layouts),
		cmocka_unit_test(test_emit_opts_syn_round_trip),
		cmocka_unit_test(test_emit_opts_data_sack),
		cmocka_unit_test(test_emit_opts_room),
		cmocka_unit_test(test_emit_opts_random),
		cmocka_unit_test(test_emit_parses),
		cmocka_unit_test(test_emit_data_offset),
		cmocka_unit_test(test_pseudo_csum_consistent),
	};

	return cmocka_run_group_tests_name("stack_tcp_wire", tests, NULL, NULL);
}
