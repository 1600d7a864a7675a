/*
 * arp.c - address resolution (RFC 826) with the host requirements of
 * RFC 1122 2.3.2: a cache whose entries expire, at most one request per
 * second per address, and gratuitous ARP (RFC 5227 3) when we come up.
 * Entries age as RFC 4861 7.3's neighbours: REACHABLE while confirmed (by
 * ARP, or by TCP when data we sent to the MAC is acknowledged), then STALE,
 * still used but asked again on use; connections follow the table (their
 * MAC is looked up again when an entry changes and once a second).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "stack_impl.h"

static const uint8_t mac_zero[STACK_ETH_ALEN];
static const uint8_t mac_bcast[STACK_ETH_ALEN] = { 0xff, 0xff, 0xff,
						   0xff, 0xff, 0xff };

/* RFC 4861 7.3.2: past its reachable time, or doubted, an entry is STALE;
 * its next use asks again. */
static void arp_go_stale(struct arp_entry *e, uint64_t now)
{
	e->state = ARP_STALE;
	e->expires = now;
	e->probes = 0;
	e->last_req = 0;
}

static unsigned arp_hash(uint32_t ip)
{
	return ((ip * 2654435761u) >> 16) & (STACK_ARP_SLOTS - 1);
}

/* Open addressing with a full scan on a miss: entries expire in place, so a
 * probe chain may have holes, and ARP is far too rare for this to cost. */
static struct arp_entry *arp_find(struct stack *st, uint32_t ip, int create)
{
	struct arp_entry *victim = NULL;
	unsigned h = arp_hash(ip);

	for (unsigned i = 0; i < STACK_ARP_SLOTS; i++) {
		struct arp_entry *e = &st->arp[(h + i) & (STACK_ARP_SLOTS - 1)];

		if (e->state == ARP_REACHABLE && e->expires <= st->now)
			arp_go_stale(e, e->expires);
		if (e->state == ARP_STALE && e->expires + STACK_ARP_GC_NS <= st->now)
			e->state = ARP_FREE;
		if (e->state != ARP_FREE && e->ip == ip)
			return e;
		if (e->state == ARP_FREE && !victim)
			victim = e;
	}
	if (!create)
		return NULL;
	if (!victim) /* full: evict the home slot rather than refuse */
		victim = &st->arp[h];
	memset(victim, 0, sizeof(*victim));
	victim->ip = ip;
	victim->state = ARP_INCOMPLETE;
	return victim;
}

static void arp_learn(struct stack *st, struct arp_entry *e, const uint8_t *mac)
{
	if (e->state == ARP_INCOMPLETE || memcmp(e->mac, mac, STACK_ETH_ALEN) != 0)
		st->arp_gen++; /* connections to it look it up again */
	memcpy(e->mac, mac, STACK_ETH_ALEN);
	e->state = ARP_REACHABLE;
	e->probes = 0;
	e->expires = st->now + STACK_ARP_TTL_NS;
}

/* Builds an ARP frame in pkt. */
static void arp_emit(struct stack *st, void *pkt, uint16_t op,
		     const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa)
{
	uint8_t *frame = st->ops->pkt_data(pkt);
	struct wire_arp *a = (struct wire_arp *)(frame + WIRE_ETH_HLEN);

	eth_fill(st, frame, eth_dst, WIRE_ETHERTYPE_ARP);
	a->htype = htons(WIRE_ARP_HTYPE_ETH);
	a->ptype = htons(WIRE_ETHERTYPE_IPV4);
	a->hlen = STACK_ETH_ALEN;
	a->plen = 4;
	a->op = htons(op);
	memcpy(a->sha, st->conf.mac, STACK_ETH_ALEN);
	a->spa = htonl(st->conf.ip);
	memcpy(a->tha, tha, STACK_ETH_ALEN);
	a->tpa = htonl(tpa);
	/* Pad to the 60-byte Ethernet minimum; some peers drop runts. */
	memset(frame + WIRE_ETH_HLEN + WIRE_ARP_LEN, 0,
	       60 - WIRE_ETH_HLEN - WIRE_ARP_LEN);
	st->ops->pkt_set_len(pkt, 60);
}

static void arp_send(struct stack *st, uint16_t op, const uint8_t *eth_dst,
		     const uint8_t *tha, uint32_t tpa)
{
	void *pkt = st->ops->pkt_alloc(st->ctx);

	if (!pkt) {
		st->stats.drops[STACK_DROP_NO_BUFFER]++;
		return;
	}
	arp_emit(st, pkt, op, eth_dst, tha, tpa);
	if (op == WIRE_ARP_OP_REQUEST)
		st->stats.arp_requests_out++;
	else
		st->stats.arp_replies_out++;
	stack_tx(st, pkt);
}

void arp_announce(struct stack *st)
{
	/* RFC 5227 3: an ARP request with sender and target both our address. */
	arp_send(st, WIRE_ARP_OP_REQUEST, mac_bcast, mac_zero, st->conf.ip);
}

/* Asks for e's address, at most once per STACK_ARP_RETRY_NS: a stale
 * entry's first requests go to its MAC, the rest to everyone. */
static void arp_ask(struct stack *st, struct arp_entry *e)
{
	if (e->last_req != 0 && st->now - e->last_req < STACK_ARP_RETRY_NS)
		return;
	e->last_req = st->now ? st->now : 1;
	if (e->state == ARP_STALE && e->probes++ < STACK_ARP_UCAST_PROBES)
		arp_send(st, WIRE_ARP_OP_REQUEST, e->mac, e->mac, e->ip);
	else
		arp_send(st, WIRE_ARP_OP_REQUEST, mac_bcast, mac_zero, e->ip);
}

static int arp_use(struct stack *st, struct arp_entry *e, uint8_t mac[STACK_ETH_ALEN])
{
	if (e->state == ARP_REACHABLE || e->state == ARP_STALE)
		memcpy(mac, e->mac, STACK_ETH_ALEN);
	if (e->state == ARP_REACHABLE)
		return 0;
	arp_ask(st, e);
	return e->state == ARP_STALE ? 0 : -EAGAIN;
}

int arp_resolve(struct stack *st, uint32_t ip, uint8_t mac[STACK_ETH_ALEN])
{
	return arp_use(st, arp_find(st, ip, 1), mac);
}

int arp_lookup(struct stack *st, uint32_t ip, uint8_t mac[STACK_ETH_ALEN])
{
	struct arp_entry *e = arp_find(st, ip, 0);

	return e ? arp_use(st, e, mac) : -ENOENT;
}

void arp_doubt(struct stack *st, uint32_t ip)
{
	struct arp_entry *e = arp_find(st, ip, 0);

	if (e && e->state == ARP_REACHABLE)
		arp_go_stale(e, st->now);
}

void arp_confirm(struct stack *st, uint32_t ip, const uint8_t mac[STACK_ETH_ALEN])
{
	struct arp_entry *e = arp_find(st, ip, 0);

	if (e && e->state != ARP_INCOMPLETE && memcmp(e->mac, mac, STACK_ETH_ALEN) != 0)
		return;
	arp_learn(st, e ? e : arp_find(st, ip, 1), mac);
}

void arp_input(struct stack *st, void *pkt, uint8_t *frame, uint16_t len)
{
	struct wire_arp *a = (struct wire_arp *)(frame + WIRE_ETH_HLEN);
	struct arp_entry *e;
	uint32_t spa, tpa;
	int merged = 0;

	if (wire_arp_check(frame + WIRE_ETH_HLEN, len - WIRE_ETH_HLEN) < 0) {
		stack_drop(st, pkt, STACK_DROP_ARP_MALFORMED);
		return;
	}
	spa = ntohl(a->spa);
	tpa = ntohl(a->tpa);
	if (ntohs(a->op) == WIRE_ARP_OP_REQUEST)
		st->stats.arp_requests_in++;
	else
		st->stats.arp_replies_in++;
	if (spa == st->conf.ip) {
		/* Our own announcement looped back is harmless; anyone else
		 * claiming the address is a conflict (RFC 5227 2.4). */
		if (memcmp(a->sha, st->conf.mac, STACK_ETH_ALEN) != 0)
			st->stats.arp_conflicts++;
		stack_drop(st, pkt, STACK_DROP_ARP_NOT_FOR_US);
		return;
	}
	/* A mapping to our own MAC (a looped or forged frame) or to no MAC
	 * would send the peer's traffic into nothing. */
	if (memcmp(a->sha, st->conf.mac, STACK_ETH_ALEN) == 0 ||
	    memcmp(a->sha, mac_zero, STACK_ETH_ALEN) == 0) {
		stack_drop(st, pkt, STACK_DROP_ARP_BAD_SENDER);
		return;
	}
	if (spa == 0 || (a->sha[0] & 1)) { /* probes and multicast senders */
		if (tpa != st->conf.ip || spa != 0) {
			stack_drop(st, pkt, STACK_DROP_ARP_NOT_FOR_US);
			return;
		}
	} else {
		/* RFC 826 "merge": refresh a sender we already know. */
		e = arp_find(st, spa, 0);
		if (e) {
			arp_learn(st, e, a->sha);
			merged = 1;
		}
	}
	if (tpa != st->conf.ip) {
		stack_drop(st, pkt, STACK_DROP_ARP_NOT_FOR_US);
		return;
	}
	if (!merged && spa != 0)
		arp_learn(st, arp_find(st, spa, 1), a->sha);
	if (ntohs(a->op) != WIRE_ARP_OP_REQUEST) {
		st->ops->pkt_free(st->ctx, pkt);
		return;
	}
	/* Answer in the request's own buffer (RFC 826: swap and fill in). */
	uint8_t sha[STACK_ETH_ALEN];

	memcpy(sha, a->sha, STACK_ETH_ALEN);
	arp_emit(st, pkt, WIRE_ARP_OP_REPLY, sha, sha, spa);
	st->stats.arp_replies_out++;
	stack_tx(st, pkt);
}
