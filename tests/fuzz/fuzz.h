/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share: a reader that
 * turns the fuzzer's bytes into choices (running dry reads zeros, so every
 * input is a complete program), frames built by hand with correct or
 * deliberately wrong checksums, and the oracle every target applies to
 * what a stack transmits: a well-formed frame whose checksums are right
 * (RFC 791 3.1, RFC 9293 3.1) and that fits the buffer it was built in.
 *
 * Built on tests/stack/link.h (test_port: plain heap buffers, a clock the
 * harness moves, a count of live buffers). Header-only, included once per
 * target. Everything is deterministic: the only inputs are the fuzzer's
 * bytes; no wall clock, no unseeded randomness.
 *
 * A violated oracle calls fz_fail, which aborts: libFuzzer reports it as a
 * crash with the input that caused it.
 */
#ifndef ACCEL_TESTS_FUZZ_H
#define ACCEL_TESTS_FUZZ_H

#include <stdio.h>

#include "../stack/link.h"

/* ---- reading the input ------------------------------------------------- */

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline int fz_more(const struct fz_in *in)
{
	return in->n > 0;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	uint16_t hi = fz_u8(in);

	return (uint16_t)(hi << 8 | fz_u8(in));
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	uint32_t hi = fz_u16(in);

	return hi << 16 | fz_u16(in);
}

/* Up to n bytes copied out (zeros past the end); returns n. */
static inline size_t fz_bytes(struct fz_in *in, void *out, size_t n)
{
	size_t have = n < in->n ? n : in->n;

	memcpy(out, in->p, have);
	memset((uint8_t *)out + have, 0, n - have);
	in->p += have;
	in->n -= have;
	return n;
}

/* A small signed offset, -128..127. */
static inline int32_t fz_s8(struct fz_in *in)
{
	return (int8_t)fz_u8(in);
}

/* A time step spread over 9 orders of magnitude: 0, then ns up to about
 * 4 minutes, so one byte pair reaches the delayed ACK (40 ms), an RTO
 * (200 ms .. 120 s) and TIME_WAIT (60 s) alike. */
static inline uint64_t fz_delay(struct fz_in *in)
{
	uint8_t e = fz_u8(in), m = fz_u8(in);

	return ((uint64_t)m + 1) << (e % 28);
}

static inline void fz_fail(const char *what)
{
	fprintf(stderr, "fuzz oracle: %s\n", what);
	abort();
}

#define FZ_CHECK(cond, what) \
	do {                       \
		if (!(cond))       \
			fz_fail(what); \
	} while (0)

/* ---- building TCP/IPv4 frames ------------------------------------------ */

/* A TCP segment as the harness wants it on the wire. */
struct fz_seg {
	const uint8_t *smac, *dmac;
	uint32_t src, dst;         /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win, urg;
	uint8_t opts[40];          /* raw option bytes */
	uint8_t opts_len;          /* rounded up to a word with EOL (zeros) */
	const uint8_t *data;
	uint16_t len;
	uint16_t ip_id, ip_frag;   /* frag: flags and offset as on the wire */
	uint8_t ttl;
	uint8_t bad_csum;          /* bit 0: IP, bit 1: TCP checksum off by one */
};

/* The TCP checksum of seg[0..len) under the pseudo-header, computed with
 * link.h's own byte-wise sum, host order. */
static inline uint16_t fz_tcp_csum(const uint8_t *seg, size_t len, uint32_t src,
				   uint32_t dst)
{
	uint8_t ph[12];
	uint32_t sum;

	test_put32(ph, src);
	test_put32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = 6;
	test_put16(ph + 10, (uint16_t)len);
	sum = (uint32_t)test_csum_sum(ph, 12) + test_csum_sum(seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Appends the IPv4 datagram of s (header and TCP) to f behind an Ethernet
 * header; returns false if it does not fit a test buffer. */
static inline bool fz_frame_tcp(struct test_frame *f, const struct fz_seg *s)
{
	unsigned ol = (s->opts_len + 3u) & ~3u, tl = 20 + ol + s->len;
	struct test_ipv4 ip = { .src = s->src, .dst = s->dst, .proto = 6,
				.ttl = s->ttl, .id = s->ip_id, .frag = s->ip_frag,
				.bad_csum = s->bad_csum & 1 };
	uint8_t *t;
	uint16_t cs;

	if (ol > 40 || 14u + 20u + tl > TEST_PKT_ROOM)
		return false;
	test_frame_reset(f);
	test_frame_eth(f, s->dmac, s->smac, 0x0800);
	test_frame_ipv4(f, &ip, (uint16_t)tl);
	t = test_frame_bytes(f, NULL, tl);
	test_put16(t, s->sport);
	test_put16(t + 2, s->dport);
	test_put32(t + 4, s->seq);
	test_put32(t + 8, s->ack);
	t[12] = (uint8_t)((20 + ol) / 4 << 4);
	t[13] = s->flags;
	test_put16(t + 14, s->win);
	test_put16(t + 18, s->urg);
	memcpy(t + 20, s->opts, s->opts_len);
	if (s->len)
		memcpy(t + 20 + ol, s->data, s->len);
	cs = fz_tcp_csum(t, tl, s->src, s->dst);
	test_put16(t + 16, (s->bad_csum & 2) ? (uint16_t)(cs + 1) : cs);
	test_frame_pad(f, 60);
	return true;
}

/* Structured options from a byte of bits and the values given; what a
 * real peer sends (Linux's order). */
struct fz_optset {
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	struct wire_tcp_sack_block sack[4];
	uint8_t nsack;
};

#define FZ_O_MSS 1u
#define FZ_O_WS 2u
#define FZ_O_SACKOK 4u
#define FZ_O_TS 8u
#define FZ_O_SACK 16u

static inline void fz_opts_put(struct fz_seg *s, unsigned which,
			       const struct fz_optset *o)
{
	uint8_t *p = s->opts;
	unsigned n = 0;

	if (which & FZ_O_MSS) {
		p[n++] = 2; p[n++] = 4;
		test_put16(p + n, o->mss);
		n += 2;
	}
	if ((which & FZ_O_SACKOK) && !(which & FZ_O_TS)) {
		p[n++] = 1; p[n++] = 1; p[n++] = 4; p[n++] = 2;
	}
	if (which & FZ_O_TS) {
		if (which & FZ_O_SACKOK) {
			p[n++] = 4; p[n++] = 2;
		} else {
			p[n++] = 1; p[n++] = 1;
		}
		p[n++] = 8; p[n++] = 10;
		test_put32(p + n, o->tsval);
		test_put32(p + n + 4, o->tsecr);
		n += 8;
	}
	if (which & FZ_O_WS) {
		p[n++] = 1; p[n++] = 3; p[n++] = 3; p[n++] = o->ws;
	}
	if ((which & FZ_O_SACK) && o->nsack) {
		unsigned k = o->nsack;

		while (k && n + 2 + 2 + 8 * k > 40)
			k--;
		if (k) {
			p[n++] = 1; p[n++] = 1; p[n++] = 5;
			p[n++] = (uint8_t)(2 + 8 * k);
			for (unsigned i = 0; i < k; i++) {
				test_put32(p + n, o->sack[i].left);
				test_put32(p + n + 4, o->sack[i].right);
				n += 8;
			}
		}
	}
	s->opts_len = (uint8_t)n;
}

/* ---- what the stack sends ---------------------------------------------- */

/* A TCP segment the stack sent, parsed by the harness (not by wire.c). */
struct fz_out {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	const uint8_t *data;
	uint16_t len;
	int has_ts;
	uint32_t tsval, tsecr;
	int has_mss, has_ws, sack_ok;
	uint16_t mss;
	uint8_t ws;
};

static inline void fz_out_opts(struct fz_out *o, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n;) {
		uint8_t k = p[i], l;

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		FZ_CHECK(i + 1 < n, "option without its length");
		l = p[i + 1];
		FZ_CHECK(l >= 2 && i + l <= n, "option length");
		if (k == 2 && l == 4) {
			o->has_mss = 1;
			o->mss = test_get16(p + i + 2);
		} else if (k == 3 && l == 3) {
			o->has_ws = 1;
			o->ws = p[i + 2];
		} else if (k == 4 && l == 2) {
			o->sack_ok = 1;
		} else if (k == 8 && l == 10) {
			o->has_ts = 1;
			o->tsval = test_get32(p + i + 2);
			o->tsecr = test_get32(p + i + 6);
		} else if (k == 5) {
			FZ_CHECK(l >= 10 && (l - 2) % 8 == 0 && l <= 34, "SACK option length");
		}
		i += l;
	}
}

/*
 * The oracle for one transmitted frame: ARP of the right size, or IPv4
 * with a valid header and checksum, from our address, and TCP within it
 * with a valid checksum and header length; ICMP with a valid checksum.
 * The port's "NIC" fills offloaded checksums first, as a real one would.
 * Fills *o and returns 1 for a TCP segment, 0 for anything else valid.
 */
static inline int fz_check_tx(struct test_pkt *p, uint32_t our_ip,
			      const uint8_t *our_mac, struct fz_out *o)
{
	uint8_t *ip = p->data + 14, *t;
	unsigned ihl, tot, thl;

	if (p->tx_csum)
		test_nic_tx_csum(p);
	FZ_CHECK(p->len >= 14 && p->len <= TEST_PKT_ROOM, "frame length");
	FZ_CHECK(!memcmp(p->data + 6, our_mac, 6), "source MAC is not ours");
	if (test_get16(p->data + 12) == 0x0806) {
		FZ_CHECK(p->len >= 14 + 28, "short ARP");
		return 0;
	}
	FZ_CHECK(test_get16(p->data + 12) == 0x0800, "ethertype");
	FZ_CHECK(p->len >= 34, "short IPv4 frame");
	ihl = (ip[0] & 0xfu) * 4u;
	tot = test_get16(ip + 2);
	FZ_CHECK(ip[0] >> 4 == 4 && ihl >= 20 && tot >= ihl && 14 + tot <= p->len,
		 "IPv4 header lengths");
	FZ_CHECK(test_csum_sum(ip, ihl) == 0xffff, "IPv4 header checksum");
	FZ_CHECK(test_get32(ip + 12) == our_ip, "IPv4 source is not ours");
	if (ip[9] == 1) {
		FZ_CHECK(test_csum_sum(ip + ihl, tot - ihl) == 0xffff, "ICMP checksum");
		return 0;
	}
	FZ_CHECK(ip[9] == 6, "IP protocol we never send");
	t = ip + ihl;
	FZ_CHECK(tot - ihl >= 20, "short TCP header");
	thl = (t[12] >> 4) * 4u;
	FZ_CHECK(thl >= 20 && thl <= tot - ihl, "TCP header length");
	FZ_CHECK(fz_tcp_csum(t, tot - ihl, test_get32(ip + 12), test_get32(ip + 16)) == 0,
		 "TCP checksum");
	memset(o, 0, sizeof(*o));
	o->src = test_get32(ip + 12);
	o->dst = test_get32(ip + 16);
	o->sport = test_get16(t);
	o->dport = test_get16(t + 2);
	o->seq = test_get32(t + 4);
	o->ack = test_get32(t + 8);
	o->flags = t[13];
	o->win = test_get16(t + 14);
	o->data = t + thl;
	o->len = (uint16_t)(tot - ihl - thl);
	fz_out_opts(o, t + 20, thl - 20);
	FZ_CHECK(!((o->flags & WIRE_TCP_SYN) && (o->flags & (WIRE_TCP_FIN | WIRE_TCP_RST))),
		 "SYN with FIN or RST sent");
	return 1;
}

#endif
