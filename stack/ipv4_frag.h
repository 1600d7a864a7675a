/*
 * ipv4_frag.h - IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2):
 * gathers the fragments of a datagram into one packet the upper layers can
 * read as if it had never been split.
 *
 * A struct ipv4_reasm is fixed-size and needs no malloc, so a struct stack
 * can hold it by value. Like the stack it belongs to it serves one thread:
 * nothing here locks, and no function may run on the same table from two
 * threads at once. Packets go through the stack's ops table only.
 *
 * Every packet handed to ipv4_reasm_input belongs to the table from then
 * on: it is freed at once (its payload copied) or, when it is dropped,
 * freed and reported by a negative return. Each in-progress datagram holds
 * one packet from ops->pkt_alloc; ipv4_reasm_expire, eviction and
 * ipv4_reasm_fini give those back.
 */
#ifndef ACCEL_STACK_IPV4_FRAG_H
#define ACCEL_STACK_IPV4_FRAG_H

#include <stdint.h>

#include "opts.h"
#include "stack.h"
#include "wire.h"

/* The largest IPv4 header: IHL is 4 bits of 32-bit words (RFC 791 3.1). */
#define IPV4_REASM_MAX_HLEN 60

/* Payload bytes [start, end) of one fragment received. */
struct ipv4_reasm_range {
	uint16_t start, end;
};

/* One datagram being put together; free while buf is NULL. */
struct ipv4_reasm_dgram {
	void *buf;             /* the output packet; payload at ETH + 20 */
	uint64_t expires;      /* first fragment's arrival + timeout */
	uint32_t src, dst;     /* host order; with id and proto, the key */
	uint16_t id;
	uint8_t proto;
	uint8_t has_last;      /* the fragment with MF = 0 has come */
	uint16_t end;          /* payload length once has_last, else 0 */
	uint16_t max_end;      /* highest payload byte received, + 1 */
	uint32_t received;     /* payload bytes held (ranges are disjoint) */
	uint16_t nranges;
	uint8_t hdr_len;       /* Ethernet + IPv4 header of the offset-0
				* fragment in hdr; 0 until it comes */
	uint8_t hdr[WIRE_ETH_HLEN + IPV4_REASM_MAX_HLEN];
	struct ipv4_reasm_range ranges[IPV4_REASM_MAX_FRAGS]; /* by start */
};

/*
 * Why datagrams and fragments went away. Every negative return of
 * ipv4_reasm_input adds one to exactly one of the fragment-level
 * counters (overlap .. no_buffer); every return of 1 to completed.
 * timeout and evicted count datagrams given up without a fragment in hand.
 */
struct ipv4_reasm_stats {
	uint64_t completed;  /* datagrams handed out whole */
	uint64_t overlap;    /* datagrams dropped: fragments overlapped */
	uint64_t duplicate;  /* fragments dropped: the same range, same bytes */
	uint64_t too_big;    /* over 65535 bytes or over one packet buffer */
	uint64_t too_many;   /* datagrams dropped: IPV4_REASM_MAX_FRAGS hit */
	uint64_t bad_len;    /* fragment not a multiple of 8 or empty, or
			      * data beyond the end the last one set */
	uint64_t no_buffer;  /* ops->pkt_alloc failed for a new datagram */
	uint64_t timeout;    /* datagrams not complete in time */
	uint64_t evicted;    /* datagrams pushed out by a newer one */
};

struct ipv4_reasm {
	struct ipv4_reasm_dgram dgrams[IPV4_REASM_SLOTS];
	struct ipv4_reasm_stats stats;
};

/* An empty table with zero counters. */
void ipv4_reasm_init(struct ipv4_reasm *r);

/*
 * Takes one fragment (ownership of pkt included): ip is pkt's IPv4 header
 * as wire_ipv4_parse saw it, behind the Ethernet header at the start of
 * ops->pkt_data(pkt). now is on ops->now_ns's clock; datagrams past their
 * time are expired first, as by ipv4_reasm_expire.
 *
 * Returns 1 when the datagram is complete: *out is then a new packet,
 * owned by the caller, holding the offset-0 fragment's Ethernet and IPv4
 * headers (MF and offset cleared, total length and checksum rewritten)
 * and the whole payload; its rx flags say nothing about the checksum.
 * Returns 0 when more fragments are needed. Otherwise pkt was freed, and
 * (with the counter that went up, see struct ipv4_reasm_stats):
 *   -EEXIST    duplicate: a range already held with the same bytes
 *   -EBADMSG   overlap: the datagram was dropped too
 *   -EINVAL    bad_len: the fragment alone, or the datagram too when the
 *              fragment contradicts the end already known
 *   -EMSGSIZE  too_big: the datagram too, when one was in progress
 *   -ENOSPC    too_many: the datagram was dropped too
 *   -ENOBUFS   no_buffer
 * *out is NULL unless 1 is returned. A whole datagram (MF = 0, offset 0)
 * is handled like a one-fragment datagram; the caller need not send it.
 */
int ipv4_reasm_input(struct ipv4_reasm *r, const struct stack_ops *ops,
		     void *ctx, uint64_t now, void *pkt,
		     const struct wire_ipv4_view *ip, void **out);

/* Frees every datagram whose time ran out by now (counted in timeout).
 * Returns how many. */
unsigned ipv4_reasm_expire(struct ipv4_reasm *r, const struct stack_ops *ops,
			   void *ctx, uint64_t now);

/* When the next datagram expires; UINT64_MAX when none is in progress. */
uint64_t ipv4_reasm_deadline(const struct ipv4_reasm *r);

/* Frees every datagram in progress, uncounted; the table is empty after
 * and may be used again. */
void ipv4_reasm_fini(struct ipv4_reasm *r, const struct stack_ops *ops,
		     void *ctx);

#endif
