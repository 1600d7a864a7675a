/*
 * tcp_wire.h - the TCP header as it is on the wire (RFC 9293 3.1), its
 * options (RFC 9293 3.2, RFC 7323, RFC 2018), sequence-number arithmetic
 * (RFC 9293 3.4) and the checksum over the pseudo-header. Only layout,
 * parsing and emitting live here; which option is allowed on which segment,
 * and what a field means for a connection, is decided by the TCP logic that
 * uses this file.
 *
 * Nothing here keeps state: every function may be called from any thread.
 * Addresses are host byte order, as in struct wire_ipv4_view.
 */
#ifndef ACCEL_STACK_TCP_WIRE_H
#define ACCEL_STACK_TCP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define WIRE_TCP_HLEN 20        /* without options */
#define WIRE_TCP_OPT_MAX 40     /* RFC 9293 3.1: data offset <= 15 words */

/* Control bits, byte 13 of the header (RFC 9293 3.1; ECE and CWR from
 * RFC 3168 6.1). */
#define WIRE_TCP_FIN 0x01
#define WIRE_TCP_SYN 0x02
#define WIRE_TCP_RST 0x04
#define WIRE_TCP_PSH 0x08
#define WIRE_TCP_ACK 0x10
#define WIRE_TCP_URG 0x20
#define WIRE_TCP_ECE 0x40
#define WIRE_TCP_CWR 0x80

/* Option kinds and their lengths (RFC 9293 3.2, RFC 7323 2.2 and 3.2,
 * RFC 2018 2 and 3). */
#define WIRE_TCP_OPT_EOL 0
#define WIRE_TCP_OPT_NOP 1
#define WIRE_TCP_OPT_MSS 2
#define WIRE_TCP_OPT_WS 3
#define WIRE_TCP_OPT_SACK_PERM 4
#define WIRE_TCP_OPT_SACK 5
#define WIRE_TCP_OPT_TS 8
#define WIRE_TCP_OPTLEN_MSS 4
#define WIRE_TCP_OPTLEN_WS 3
#define WIRE_TCP_OPTLEN_SACK_PERM 2
#define WIRE_TCP_OPTLEN_SACK_BASE 2   /* plus 8 per block */
#define WIRE_TCP_OPTLEN_SACK_BLOCK 8
#define WIRE_TCP_OPTLEN_TS 10

/* RFC 2018 3: at most 4 blocks fit in the 40 bytes of option space. */
#define WIRE_TCP_SACK_MAX 4
/* RFC 7323 2.3: a larger shift is used as 14 (window < 2^30). */
#define WIRE_TCP_WS_MAX 14

struct wire_tcp {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off;            /* data offset in words << 4 | reserved bits */
	uint8_t flags;          /* WIRE_TCP_* */
	uint16_t window;
	uint16_t csum;
	uint16_t urg;
} __attribute__((packed));

/* A parsed TCP header: host-order fields and where options and payload
 * are. Pointers point into the segment given to wire_tcp_parse. */
struct wire_tcp_view {
	const struct wire_tcp *hdr;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;        /* as sent, not yet scaled */
	uint16_t urgent;
	uint16_t hlen;          /* header with options, 20..60 */
	const uint8_t *opts;    /* hlen - 20 bytes, for wire_tcp_parse_opts */
	uint8_t opts_len;
	const uint8_t *payload;
	uint16_t payload_len;
};

/* RFC 2018 3: a block of received data, left edge to one past the end. */
struct wire_tcp_sack_block {
	uint32_t left, right;
};

/* The options we parse and emit, host order. A has_* (or sack_ok, or a
 * non-zero sack_count) says the option is present. */
struct wire_tcp_opts {
	uint16_t mss;           /* RFC 9293 3.7.1 */
	bool has_mss;
	uint8_t wscale;         /* RFC 7323 2: shift count, <= 14 once parsed */
	bool has_wscale;
	bool sack_ok;           /* RFC 2018 2: SACK-permitted */
	bool has_ts;            /* RFC 7323 3 */
	uint32_t tsval, tsecr;
	uint8_t sack_count;     /* RFC 2018 3: blocks in sack[], 0..4 */
	struct wire_tcp_sack_block sack[WIRE_TCP_SACK_MAX];
};

/* ---- sequence numbers (RFC 9293 3.4) ----------------------------------- */

/*
 * Sequence space is modulo 2^32: a is before b when b - a, taken as a
 * signed 32-bit number, is positive (RFC 1982 3.2 applied to TCP). Two
 * numbers exactly 2^31 apart are each "before" the other; a window never
 * spans that far (RFC 7323 2.3 keeps it below 2^30). The conversion to
 * int32_t is modulo 2^32 under GCC and Clang, the compilers we build with.
 */
static inline bool tcp_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool tcp_seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static inline bool tcp_seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool tcp_seq_ge(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

static inline uint32_t tcp_seq_max(uint32_t a, uint32_t b)
{
	return tcp_seq_gt(a, b) ? a : b;
}

static inline uint32_t tcp_seq_min(uint32_t a, uint32_t b)
{
	return tcp_seq_lt(a, b) ? a : b;
}

/*
 * lo <= x < hi in sequence space: x lies in the half-open range that starts
 * at lo and runs forward to hi (RFC 9293 3.4's acceptability tests are made
 * of these). Empty when lo == hi. Counted forward from lo, so it stays
 * exact for a range of any size below 2^32.
 */
static inline bool tcp_seq_in(uint32_t x, uint32_t lo, uint32_t hi)
{
	return (uint32_t)(x - lo) < (uint32_t)(hi - lo);
}

/* ---- header ------------------------------------------------------------ */

/*
 * Checks a TCP segment (header, options, payload; len is the IPv4 payload
 * length) per RFC 9293 3.1: at least 20 bytes and at most 65535, data
 * offset >= 5 words and within len, and unless csum_verified (the port
 * checked it) the checksum over the pseudo-header of src_ip and dst_ip
 * (host order) and the segment. Options are not looked at: see
 * wire_tcp_parse_opts. Fills *v on success; v points into seg.
 * Returns 0, -EINVAL (malformed) or -EBADMSG (bad checksum).
 */
int wire_tcp_parse(const uint8_t *seg, size_t len, uint32_t src_ip,
		   uint32_t dst_ip, int csum_verified, struct wire_tcp_view *v);

/*
 * Writes the 20-byte fixed header: data offset (20 + opt_len) / 4, urgent
 * pointer 0, checksum 0 (fill it with wire_tcp_csum, or
 * wire_tcp_pseudo_csum for offload, once options and payload are in place).
 * opt_len must be a multiple of 4 and at most 40, as wire_tcp_emit_opts
 * returns; the options go at seg + 20.
 */
void wire_tcp_emit(uint8_t *seg, uint16_t sport, uint16_t dport, uint32_t seq,
		   uint32_t ack, uint8_t flags, uint16_t window, size_t opt_len);

/* ---- options (RFC 9293 3.2) -------------------------------------------- */

/*
 * Parses the option bytes of a header (v->opts, v->opts_len) into *o, which
 * is cleared first. Returns 0, or -EINVAL when the options are malformed
 * and the segment must be dropped:
 *  - an option other than EOL and NOP without its length byte, with a
 *    length below 2, or with a length running past the option bytes:
 *    RFC 9293 3.2 (MUST-7) requires handling an illegal option length
 *    and suggests a reset; we drop the segment instead, as an attacker
 *    could otherwise reset connections with one forged segment, and the
 *    rest of the option list cannot be delimited;
 * while these are ignored and parsing goes on:
 *  - a known kind with a wrong length that still fits (MSS not 4, WS not
 *    3, SACK-permitted not 2, SACK not 2 + 8n with n 1..4, timestamps not
 *    10): its extent is known, so only that option is unusable; Linux
 *    ignores these the same way;
 *  - a kind we do not know, skipped by its length (RFC 9293 3.2, MUST-6);
 *  - whatever follows EOL (RFC 9293 3.2: the rest is padding).
 * A window scale above 14 is taken as 14 (RFC 7323 2.3). Which options
 * count on which segment (MSS, WS, SACK-permitted only on a SYN) is for
 * the caller.
 */
int wire_tcp_parse_opts(const uint8_t *opts, size_t len,
			struct wire_tcp_opts *o);

/*
 * Writes the options present in *o the way Linux lays them out, so peers
 * and middleboxes see what they are used to:
 *   MSS | SACK-permitted TS or NOP NOP TS | NOP NOP SACK-permitted (no TS)
 *       | NOP WS | NOP NOP SACK blocks
 * every option 4-byte aligned, so the result is a multiple of 4 bytes and
 * needs no EOL (RFC 9293 3.2: padding is zero, or here NOPs, to a word).
 * At most min(room, 40) bytes are written (RFC 9293 3.1): SACK blocks that
 * do not fit are left out, most recent (sack[0], RFC 2018 4) kept first,
 * so with timestamps only 3 fit; any other option that does not fit in
 * room is left out whole. Values are written as given (a caller sending a
 * window scale must keep it <= 14). Returns the bytes written.
 */
size_t wire_tcp_emit_opts(uint8_t *out, size_t room,
			  const struct wire_tcp_opts *o);

/* ---- checksum (RFC 9293 3.1) ------------------------------------------- */

/*
 * The one's complement sum of the pseudo-header (src, dst, zero, protocol
 * 6, TCP length len), folded, not inverted, in memory order: what a port
 * doing checksum offload expects in the checksum field (DPDK's
 * rte_ipv4_phdr_cksum). Addresses host order.
 */
uint16_t wire_tcp_pseudo_csum(uint32_t src, uint32_t dst, uint16_t len);

/*
 * The checksum of the segment seg[0..len) under the pseudo-header of src
 * and dst, memory order, to be stored in the header as is. The checksum
 * field is summed as it stands: zero it first when computing, or leave it
 * to verify (a correct segment then gives 0).
 */
uint16_t wire_tcp_csum(const uint8_t *seg, size_t len, uint32_t src_ip,
		       uint32_t dst_ip);

#endif
