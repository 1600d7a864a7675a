/*
 * stack_impl.h - the inside of struct stack, shared by the files of stack/
 * and by nothing else.
 */
#ifndef ACCEL_STACK_IMPL_H
#define ACCEL_STACK_IMPL_H

#include "ipv4_frag.h"
#include "opts.h"
#include "stack.h"
#include "timer.h"
#include "wire.h"

/* Neighbour states as RFC 4861 7.3.2's, less DELAY and PROBE: a STALE
 * entry is asked again on use (arp.c). */
enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE, ARP_STALE };

struct arp_entry {
	uint32_t ip;
	uint8_t state;
	uint8_t probes;     /* STALE: requests sent since it went stale */
	uint8_t mac[STACK_ETH_ALEN];
	uint64_t expires;   /* REACHABLE until then, STALE after */
	uint64_t last_req;  /* INCOMPLETE, STALE: when we last asked */
};

struct stack {
	const struct stack_ops *ops;
	void *ctx;
	struct stack_conf conf;
	uint32_t netmask;
	uint64_t now;
	uint16_t ip_id;
	unsigned ntx;
	void *tx[STACK_TX_BURST];
	/* frames to our own address, in order: a ring drained by stack_poll */
	unsigned loop_head, loop_len;
	void *loop[STACK_LOOP_QUEUE];
	struct stack_stats stats;
	struct arp_entry arp[STACK_ARP_SLOTS];
	uint32_t arp_gen;               /* bumped when an entry's MAC changes */
	struct ipv4_reasm reasm;
	uint8_t reasm_busy;             /* fragments may be held: check timers */

	/* TCP */
	struct timer_wheel tw;
	struct stack_tcp **tcp_hash;    /* TCP_HASH_BUCKETS chains */
	struct stack_tcp *listeners;    /* few: a list */
	struct stack_tcp *tcp_all;      /* every connection (tcp.h: lifetime) */
	struct stack_tcp *tcp_reap;     /* held by nobody: freed by tcp_reap */
	unsigned tcp_depth;             /* entries and callbacks in progress */
	unsigned tcp_move_waiting;      /* connections with move_wait (tcp_move.c) */
	uint64_t tcp_move_next;         /* when to offer them again */
	uint8_t tcp_keep;               /* stack_dying: the reap list is never freed */
	unsigned tcp_conns;
	uint16_t eph_next;
};

/* Queues a finished frame for output; flushes when the burst is full. */
void stack_tx(struct stack *st, void *pkt);
void stack_drop(struct stack *st, void *pkt, enum stack_drop reason);

/* Fills the Ethernet header of a frame we originate. */
void eth_fill(struct stack *st, uint8_t *frame, const uint8_t *dst_mac,
	      uint16_t ethertype);

void arp_input(struct stack *st, void *pkt, uint8_t *frame, uint16_t len);
void arp_announce(struct stack *st);
int arp_resolve(struct stack *st, uint32_t ip, uint8_t mac[STACK_ETH_ALEN]);
/* As arp_resolve for a known neighbour; -ENOENT (nothing sent) when the
 * table has no entry for ip. */
int arp_lookup(struct stack *st, uint32_t ip, uint8_t mac[STACK_ETH_ALEN]);
/* An upper layer saw mac reach ip (data we sent was acknowledged, RFC 4861
 * 7.3.1): the entry is REACHABLE again, or made so when there is none. An
 * entry that ARP gave another MAC keeps it. */
void arp_confirm(struct stack *st, uint32_t ip, const uint8_t mac[STACK_ETH_ALEN]);

/* The same for the next hop to dst (itself on-link, else the gateway):
 * what a connection uses to follow its peer's MAC. */
int stack_neigh_lookup(struct stack *st, uint32_t dst, uint8_t mac[STACK_ETH_ALEN]);
void stack_neigh_confirm(struct stack *st, uint32_t dst, const uint8_t mac[STACK_ETH_ALEN]);
/* A connection got no answer through the entry: a REACHABLE one goes STALE
 * now, so its next use asks again. */
void arp_doubt(struct stack *st, uint32_t ip);
void stack_neigh_doubt(struct stack *st, uint32_t dst);

void ipv4_input(struct stack *st, void *pkt, uint8_t *frame, uint16_t len);
void icmp_input(struct stack *st, void *pkt, uint8_t *frame,
		const struct wire_ipv4_view *ip);

#endif
