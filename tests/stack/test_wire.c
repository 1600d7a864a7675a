/*
 * test_wire.c - the header code of stack/wire.c on its own: the Internet
 * checksum against RFC vectors and a byte-wise reference, the incremental
 * update of RFC 1624, and the ARP and IPv4 header checks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../stack/wire.h"
#include "link.h"

/* ---- layout ------------------------------------------------------------ */

/* The structs are overlaid on frames, so they must match the RFC layouts
 * byte for byte (RFC 826, RFC 791 3.1, RFC 792). */
static void test_layout_matches_rfcs(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct wire_eth), WIRE_ETH_HLEN);
	assert_int_equal(offsetof(struct wire_eth, type), 12);
	assert_int_equal(sizeof(struct wire_arp), WIRE_ARP_LEN);
	assert_int_equal(offsetof(struct wire_arp, op), 6);
	assert_int_equal(offsetof(struct wire_arp, sha), 8);
	assert_int_equal(offsetof(struct wire_arp, spa), 14);
	assert_int_equal(offsetof(struct wire_arp, tha), 18);
	assert_int_equal(offsetof(struct wire_arp, tpa), 24);
	assert_int_equal(sizeof(struct wire_ipv4), WIRE_IPV4_HLEN);
	assert_int_equal(offsetof(struct wire_ipv4, ttl), 8);
	assert_int_equal(offsetof(struct wire_ipv4, csum), 10);
	assert_int_equal(offsetof(struct wire_ipv4, src), 12);
	assert_int_equal(offsetof(struct wire_ipv4, dst), 16);
	assert_int_equal(sizeof(struct wire_icmp), WIRE_ICMP_HLEN);
	assert_int_equal(offsetof(struct wire_icmp, seq), 6);
}

/* ---- checksum ---------------------------------------------------------- */

/* wire_csum_partial's result is in memory order; compare in host order. */
static uint16_t sum_host(const void *p, size_t len)
{
	return ntohs(wire_csum_partial(p, len, 0));
}

/* RFC 1071 3: the example bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2. */
static void test_csum_rfc1071_example(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03,
				     0xf4, 0xf5, 0xf6, 0xf7 };

	(void)state;
	assert_int_equal(sum_host(b, sizeof(b)), 0xddf2);
	assert_int_equal(ntohs(wire_csum(b, sizeof(b))), 0x220d);
	/* The same words through the 2-byte loop only. */
	assert_int_equal(sum_host(b, 6), (0x0001 + 0xf203 + 0xf4f5) % 0xffff);
}

/* A textbook IPv4 header whose checksum is b861. */
static void test_csum_ipv4_header_vector(void **state)
{
	uint8_t h[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00,
			0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01,
			0xc0, 0xa8, 0x00, 0xc7 };

	(void)state;
	assert_int_equal(ntohs(wire_csum(h, sizeof(h))), 0xb861);
	h[10] = 0xb8;
	h[11] = 0x61;
	assert_int_equal(wire_csum(h, sizeof(h)), 0);
	assert_int_equal(wire_csum_partial(h, sizeof(h), 0), 0xffff);
}

/* RFC 1071 4.1: an odd final byte is the high half of a zero-padded word. */
static void test_csum_odd_lengths(void **state)
{
	static const uint8_t one[] = { 0x01 };
	static const uint8_t three[] = { 0x01, 0x02, 0x03 };
	static const uint8_t nine[] = { 1, 2, 3, 4, 5, 6, 7, 8, 0xab };

	(void)state;
	assert_int_equal(sum_host(one, 1), 0x0100);
	assert_int_equal(sum_host(three, 3), 0x0102 + 0x0300);
	assert_int_equal(sum_host(nine, 9),
			 0x0102 + 0x0304 + 0x0506 + 0x0708 + 0xab00);
}

/* Every length and alignment against the byte-wise reference: covers the
 * 8-byte, 2-byte and odd-byte paths and their hand-overs. */
static void test_csum_matches_reference(void **state)
{
	struct test_rng rng = { 1071 };
	uint8_t buf[8 + 600];

	(void)state;
	for (int round = 0; round < 8; round++) {
		test_rand_bytes(&rng, buf, sizeof(buf));
		if (round == 1) /* all ones: every addition carries */
			memset(buf, 0xff, sizeof(buf));
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 600; len++)
				assert_int_equal(sum_host(buf + off, len),
						 test_csum_sum(buf + off, len));
	}
}

static void test_csum_all_zero(void **state)
{
	static const uint8_t z[64];

	(void)state;
	for (size_t len = 0; len <= sizeof(z); len++) {
		assert_int_equal(wire_csum_partial(z, len, 0), 0);
		assert_int_equal(wire_csum(z, len), 0xffff);
	}
}

/* One's complement has two zeros; a non-zero sum must fold to 0xffff
 * ("negative zero"), never to 0, or a correct header would fail to check. */
static void test_csum_ffff_cases(void **state)
{
	static const uint8_t ones[2] = { 0xff, 0xff };
	static const uint8_t halves[4] = { 0x80, 0x00, 0x7f, 0xff };
	static const uint8_t carry[4] = { 0xff, 0xff, 0x00, 0x01 };
	static const uint8_t twice[4] = { 0xff, 0xff, 0xff, 0xff };
	static uint8_t big[65536];

	(void)state;
	assert_int_equal(sum_host(ones, 2), 0xffff);
	assert_int_equal(wire_csum(ones, 2), 0);
	assert_int_equal(sum_host(halves, 4), 0xffff);
	assert_int_equal(sum_host(carry, 4), 0x0001); /* end-around carry */
	assert_int_equal(sum_host(twice, 4), 0xffff);
	/* 32768 words of ffff: the 64-bit accumulator must fold many carries. */
	memset(big, 0xff, sizeof(big));
	assert_int_equal(sum_host(big, sizeof(big)), 0xffff);
	assert_int_equal(sum_host(big, sizeof(big) - 1),
			 test_csum_sum(big, sizeof(big) - 1));
}

/* A sum continued from an earlier one (init) equals the sum in one go, as
 * a pseudo-header sum will need. */
static void test_csum_chains(void **state)
{
	struct test_rng rng = { 42 };
	uint8_t buf[300];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		size_t a = 2 * test_rand_below(&rng, 100);
		size_t b = test_rand_below(&rng, 100);

		test_rand_bytes(&rng, buf, sizeof(buf));
		assert_int_equal(wire_csum_partial(buf + a, b,
					wire_csum_partial(buf, a, 0)),
				 wire_csum_partial(buf, a + b, 0));
	}
}

/* RFC 1624 4: HC = dd2f, m = 5555 -> m' = 3285 gives HC' = 0000, which
 * RFC 1141's formula got wrong (ffff). */
static void test_csum_update16_rfc1624_example(void **state)
{
	(void)state;
	assert_int_equal(ntohs(wire_csum_update16(htons(0xdd2f), htons(0x5555),
						  htons(0x3285))), 0x0000);
}

static uint16_t recompute(uint8_t *h, size_t len, size_t csum_off)
{
	h[csum_off] = h[csum_off + 1] = 0;
	return wire_csum(h, len);
}

/* Patching one word incrementally must give what a full recompute gives,
 * byte for byte, including the words 0000 and ffff. */
static void test_csum_update16_matches_recompute(void **state)
{
	static const uint16_t edge[] = { 0x0000, 0xffff, 0x0001, 0xfffe };
	struct test_rng rng = { 1624 };
	uint8_t h[20];

	(void)state;
	for (int i = 0; i < 200000; i++) {
		unsigned w = test_rand_below(&rng, 9); /* any but word 5 */
		uint16_t old_word, new_word, csum, want;

		w = w >= 5 ? w + 1 : w;
		test_rand_bytes(&rng, h, sizeof(h));
		if (i % 4 == 1)
			memcpy(h + 2 * w, &edge[test_rand_below(&rng, 4)], 2);
		csum = recompute(h, sizeof(h), 10);
		memcpy(h + 10, &csum, 2);
		memcpy(&old_word, h + 2 * w, 2);
		new_word = (uint16_t)test_rand(&rng);
		if (i % 4 == 2)
			new_word = edge[test_rand_below(&rng, 4)];
		memcpy(h + 2 * w, &new_word, 2);
		want = recompute(h, sizeof(h), 10);
		assert_int_equal(wire_csum_update16(csum, old_word, new_word),
				 want);
	}
}

/* Every checksum value: a two-word datagram {a, w} whose w goes from each
 * edge value to each other. ~HC + ~m + m' can carry twice (0x1ffff when
 * HC = 0, m = 0, m' = 1); a single fold would be off by one. */
static void test_csum_update16_sweep(void **state)
{
	static const uint16_t edge[] = { 0x0000, 0x0001, 0x7fff, 0x8000,
					 0xfffe, 0xffff };
	const size_t n = sizeof(edge) / sizeof(edge[0]);

	(void)state;
	for (uint32_t a = 0; a <= 0xffff; a++) {
		for (size_t i = 0; i < n; i++) {
			uint16_t d[2] = { htons((uint16_t)a), htons(edge[i]) };
			uint16_t csum = wire_csum(d, sizeof(d));

			for (size_t j = 0; j < n; j++) {
				uint16_t old_word = d[1];

				/* RFC 1624 3: all-zero data is the one case
				 * eqn. 3 and a recompute may write differently;
				 * no header we patch is all zero. */
				if (a == 0 && edge[j] == 0)
					continue;
				d[1] = htons(edge[j]);
				if (wire_csum_update16(csum, old_word, d[1]) !=
				    wire_csum(d, sizeof(d)))
					fail_msg("a %04x, %04x -> %04x", a,
						 edge[i], edge[j]);
				d[1] = old_word;
			}
		}
	}
}

/* ---- ARP --------------------------------------------------------------- */

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_0[6];

static void arp_frame(struct test_frame *f, uint16_t op)
{
	test_frame_reset(f);
	test_frame_arp(f, op, mac_a, TEST_IP4(10, 0, 0, 2), mac_0,
		       TEST_IP4(10, 0, 0, 1));
}

static void test_arp_check_accepts(void **state)
{
	struct test_frame f;

	(void)state;
	arp_frame(&f, WIRE_ARP_OP_REQUEST);
	assert_int_equal(wire_arp_check(f.b, 28), 0);
	arp_frame(&f, WIRE_ARP_OP_REPLY);
	assert_int_equal(wire_arp_check(f.b, 28), 0);
	/* Ethernet padding after the 28 bytes is not part of ARP. */
	assert_int_equal(wire_arp_check(f.b, 46), 0);
}

struct arp_defect {
	const char *what;
	size_t off;     /* byte to overwrite */
	uint8_t value;
};

static void test_arp_check_rejects(void **state)
{
	static const struct arp_defect defects[] = {
		{ "htype 6 (IEEE 802)", 1, 6 },
		{ "htype 0x0101", 0, 1 },
		{ "ptype 0x86dd", 2, 0x86 },
		{ "ptype 0x0801", 3, 0x01 },
		{ "hlen 8", 4, 8 },
		{ "hlen 0", 4, 0 },
		{ "plen 16", 5, 16 },
		{ "op 0", 7, 0 },
		{ "op 3 (RARP request)", 7, 3 },
		{ "op 0x0101", 6, 1 },
	};
	struct test_frame f;

	(void)state;
	for (size_t i = 0; i < sizeof(defects) / sizeof(defects[0]); i++) {
		arp_frame(&f, WIRE_ARP_OP_REQUEST);
		f.b[defects[i].off] = defects[i].value;
		if (wire_arp_check(f.b, 28) != -EINVAL)
			fail_msg("accepted ARP with %s", defects[i].what);
	}
	arp_frame(&f, WIRE_ARP_OP_REQUEST);
	for (size_t len = 0; len < 28; len++)
		assert_int_equal(wire_arp_check(f.b, len), -EINVAL);
}

/* ---- IPv4 -------------------------------------------------------------- */

#define SRC TEST_IP4(192, 168, 1, 10)
#define DST TEST_IP4(192, 168, 1, 20)

/* An IPv4 datagram of payload_len bytes of 0x5a after the header. */
static void ipv4_frame(struct test_frame *f, const struct test_ipv4 *ip,
		       uint16_t payload_len)
{
	test_frame_reset(f);
	test_frame_ipv4(f, ip, payload_len);
	memset(test_frame_bytes(f, NULL, payload_len), 0x5a, payload_len);
}

static void test_ipv4_parse_good(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 17,
				.frag = WIRE_IPV4_DF | 0 };
	struct wire_ipv4_view v;
	struct test_frame f;

	(void)state;
	ipv4_frame(&f, &ip, 30);
	memset(&v, 0, sizeof(v));
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), 0);
	assert_ptr_equal(v.hdr, f.b);
	assert_int_equal(v.src, SRC);
	assert_int_equal(v.dst, DST);
	assert_int_equal(v.hlen, 20);
	assert_int_equal(v.total_len, 50);
	assert_int_equal(v.frag, WIRE_IPV4_DF);
	assert_int_equal(v.proto, 17);
	assert_ptr_equal(v.payload, f.b + 20);
	assert_int_equal(v.payload_len, 30);
}

/* RFC 791 3.1: options lengthen the header; the payload starts after. */
static void test_ipv4_parse_options(void **state)
{
	/* Router alert (RFC 2113) then the 40-byte maximum of options. */
	static const uint8_t ra[4] = { 0x94, 0x04, 0x00, 0x00 };
	uint8_t max[40];
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1,
				.opts = ra, .opts_len = 4 };
	struct wire_ipv4_view v;
	struct test_frame f;

	(void)state;
	ipv4_frame(&f, &ip, 8);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), 0);
	assert_int_equal(v.hlen, 24);
	assert_ptr_equal(v.payload, f.b + 24);
	assert_int_equal(v.payload_len, 8);

	memset(max, 1, sizeof(max)); /* NOPs */
	ip.opts = max;
	ip.opts_len = sizeof(max);
	ipv4_frame(&f, &ip, 0);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), 0);
	assert_int_equal(v.hlen, 60);
	assert_int_equal(v.payload_len, 0);
}

static void expect_parse(const struct test_frame *f, size_t len, int want)
{
	struct wire_ipv4_view v;

	assert_int_equal(wire_ipv4_parse(f->b, len, 0, &v), want);
}

/* Rewrites the first byte and keeps the checksum right, so that only the
 * byte under test is wrong. */
static void set_ver_ihl(struct test_frame *f, uint8_t ver_ihl)
{
	f->b[0] = ver_ihl;
	f->b[10] = f->b[11] = 0;
	test_put16(f->b + 10, test_csum(f->b, 20));
}

static void test_ipv4_parse_rejects_version(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1 };
	struct test_frame f;

	(void)state;
	for (unsigned ver = 0; ver < 16; ver++) {
		ipv4_frame(&f, &ip, 8);
		set_ver_ihl(&f, (uint8_t)(ver << 4 | 5));
		expect_parse(&f, f.len, ver == 4 ? 0 : -EINVAL);
	}
}

/* RFC 791 3.1: the minimum header is five words. */
static void test_ipv4_parse_rejects_short_ihl(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1 };
	struct test_frame f;

	(void)state;
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		ipv4_frame(&f, &ip, 40);
		set_ver_ihl(&f, (uint8_t)(0x40 | ihl));
		expect_parse(&f, f.len, -EINVAL);
	}
	ipv4_frame(&f, &ip, 40);
	set_ver_ihl(&f, 0x45);
	expect_parse(&f, f.len, 0);
}

static void test_ipv4_parse_rejects_ihl_beyond_buffer(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1,
				.ihl = 15, .total_len = 60 };
	struct wire_ipv4_view v;
	struct test_frame f;
	uint8_t *exact;

	(void)state;
	/* ihl says 60 bytes, the buffer holds 40: in a buffer of exactly 40
	 * bytes, so that a sanitizer sees any read past it. */
	ipv4_frame(&f, &ip, 20);
	exact = malloc(40);
	assert_non_null(exact);
	memcpy(exact, f.b, 40);
	assert_int_equal(wire_ipv4_parse(exact, 40, 0, &v), -EINVAL);
	assert_int_equal(wire_ipv4_parse(exact, 40, 1, &v), -EINVAL);
	free(exact);
	/* And a buffer too short for even the fixed header. */
	ip.ihl = 0;
	ip.total_len = 0;
	ipv4_frame(&f, &ip, 0);
	for (size_t len = 0; len < 20; len++)
		expect_parse(&f, len, -EINVAL);
	expect_parse(&f, 20, 0);
}

static void test_ipv4_parse_rejects_total_len(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1 };
	struct test_frame f;

	(void)state;
	ip.total_len = 19; /* shorter than its own header */
	ipv4_frame(&f, &ip, 20);
	expect_parse(&f, f.len, -EINVAL);
	ip.total_len = 41; /* one byte more than the buffer */
	ipv4_frame(&f, &ip, 20);
	expect_parse(&f, f.len, -EINVAL);
	/* With options, total_len must cover them too. */
	ip.opts = (const uint8_t *)"\1\1\1\0";
	ip.opts_len = 4;
	ip.total_len = 22;
	ipv4_frame(&f, &ip, 20);
	expect_parse(&f, f.len, -EINVAL);
}

/* Ethernet pads a short datagram to 46 bytes; the padding is not payload. */
static void test_ipv4_parse_accepts_padding(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1 };
	struct wire_ipv4_view v;
	struct test_frame f;

	(void)state;
	ipv4_frame(&f, &ip, 4);
	test_frame_pad(&f, 46);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), 0);
	assert_int_equal(v.total_len, 24);
	assert_int_equal(v.payload_len, 4);
}

static void test_ipv4_parse_bad_csum(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 1,
				.bad_csum = true };
	struct wire_ipv4_view v;
	struct test_frame f;

	(void)state;
	ipv4_frame(&f, &ip, 8);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), -EBADMSG);
	/* A flipped bit anywhere in the header is caught, options included. */
	ip.bad_csum = false;
	ip.opts = (const uint8_t *)"\1\1\1\0";
	ip.opts_len = 4;
	for (size_t bit = 0; bit < 24 * 8; bit++) {
		ipv4_frame(&f, &ip, 8);
		f.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (wire_ipv4_parse(f.b, f.len, 0, &v) == 0)
			fail_msg("flipped bit %zu accepted", bit);
	}
	/* A malformed header is malformed before its checksum is looked at. */
	ip.bad_csum = true;
	ip.version = 6;
	ipv4_frame(&f, &ip, 8);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 0, &v), -EINVAL);
}

/* The port's verdict (STACK_RX_IP_CSUM_GOOD) replaces the software check,
 * but not the structural ones. */
static void test_ipv4_parse_csum_verified(void **state)
{
	struct test_ipv4 ip = { .src = SRC, .dst = DST, .proto = 6,
				.bad_csum = true };
	struct wire_ipv4_view v;
	struct test_frame f;

	(void)state;
	ipv4_frame(&f, &ip, 8);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 1, &v), 0);
	assert_int_equal(v.proto, 6);
	assert_int_equal(v.payload_len, 8);
	ip.total_len = 200;
	ipv4_frame(&f, &ip, 8);
	assert_int_equal(wire_ipv4_parse(f.b, f.len, 1, &v), -EINVAL);
}

static void test_ipv4_emit_parses(void **state)
{
	uint8_t buf[24 + 100];
	struct wire_ipv4_view v;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	wire_ipv4_emit(buf + 2, SRC, DST, WIRE_IPPROTO_TCP, 100, 0x1234, 64);
	/* Exactly 20 bytes written. */
	assert_int_equal(buf[0], 0xee);
	assert_int_equal(buf[1], 0xee);
	assert_int_equal(buf[22], 0xee);
	assert_int_equal(test_csum(buf + 2, 20), 0);
	assert_int_equal(buf[2], 0x45);
	assert_int_equal(test_get16(buf + 2 + 2), 120);
	assert_int_equal(test_get16(buf + 2 + 4), 0x1234);
	assert_int_equal(test_get16(buf + 2 + 6), WIRE_IPV4_DF);
	assert_int_equal(buf[2 + 8], 64);
	assert_int_equal(buf[2 + 9], WIRE_IPPROTO_TCP);
	assert_int_equal(test_get32(buf + 2 + 12), SRC);
	assert_int_equal(test_get32(buf + 2 + 16), DST);
	assert_int_equal(wire_ipv4_parse(buf + 2, 120, 0, &v), 0);
	assert_int_equal(v.src, SRC);
	assert_int_equal(v.dst, DST);
	assert_int_equal(v.payload_len, 100);
	assert_ptr_equal(v.payload, buf + 22);
}

/* Random headers: the emitted checksum always verifies. */
static void test_ipv4_emit_csum_random(void **state)
{
	struct test_rng rng = { 791 };
	uint8_t h[20];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		uint64_t r = test_rand(&rng);

		wire_ipv4_emit(h, (uint32_t)r, (uint32_t)(r >> 32),
			       (uint8_t)test_rand(&rng),
			       (uint16_t)test_rand_below(&rng, 65516),
			       (uint16_t)test_rand(&rng),
			       (uint8_t)test_rand(&rng));
		assert_int_equal(test_csum(h, 20), 0);
		assert_int_equal(wire_csum(h, 20), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_matches_rfcs),
		cmocka_unit_test(test_csum_rfc1071_example),
		cmocka_unit_test(test_csum_ipv4_header_vector),
		cmocka_unit_test(test_csum_odd_lengths),
		cmocka_unit_test(test_csum_matches_reference),
		cmocka_unit_test(test_csum_all_zero),
		cmocka_unit_test(test_csum_ffff_cases),
		cmocka_unit_test(test_csum_chains),
		cmocka_unit_test(test_csum_update16_rfc1624_example),
		cmocka_unit_test(test_csum_update16_matches_recompute),
		cmocka_unit_test(test_csum_update16_sweep),
		cmocka_unit_test(test_arp_check_accepts),
		cmocka_unit_test(test_arp_check_rejects),
		cmocka_unit_test(test_ipv4_parse_good),
		cmocka_unit_test(test_ipv4_parse_options),
		cmocka_unit_test(test_ipv4_parse_rejects_version),
		cmocka_unit_test(test_ipv4_parse_rejects_short_ihl),
		cmocka_unit_test(test_ipv4_parse_rejects_ihl_beyond_buffer),
		cmocka_unit_test(test_ipv4_parse_rejects_total_len),
		cmocka_unit_test(test_ipv4_parse_accepts_padding),
		cmocka_unit_test(test_ipv4_parse_bad_csum),
		cmocka_unit_test(test_ipv4_parse_csum_verified),
		cmocka_unit_test(test_ipv4_emit_parses),
		cmocka_unit_test(test_ipv4_emit_csum_random),
	};

	return cmocka_run_group_tests_name("stack_wire", tests, NULL, NULL);
}
