/*
 * ipv4_frag.c - IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2):
 * fragments in, one whole datagram out. See ipv4_frag.h for the API.
 *
 * Design: copy at once into one buffer. When the first fragment of a
 * datagram arrives (whichever offset it has), one output packet is taken
 * from ops->pkt_alloc; each fragment's payload is copied into it at its
 * offset and the fragment is freed there and then. Completion only writes
 * the headers. The other way, keeping the caller's fragments and copying
 * them out at the end (Linux's skb queue), would still copy every byte
 * once, since the upper layers read one contiguous packet and the ops
 * table has no chaining; and it would pin up to IPV4_REASM_MAX_FRAGS
 * receive buffers per datagram instead of one, taken from the pool the NIC
 * needs to keep receiving. The price of copying is that a datagram must
 * fit one packet buffer (ops->pkt_room, 2 KB for a default mbuf); a larger
 * one is dropped and counted as too_big. Fragments are rare where this
 * stack runs (TCP finds the path MTU, RFC 1191), so that is acceptable.
 *
 * Bookkeeping: rather than RFC 815's list of holes, the ranges received
 * are kept sorted by offset and never merged, so that an exact duplicate
 * (a frame the network delivered twice) can be told from an overlap. Any
 * overlap drops the datagram: RFC 5722 demands it for IPv6, and Linux has
 * done the same for IPv4 since the FragmentSmack fixes of 2018, as
 * overlaps exist only to slip data past filters. A duplicate whose bytes
 * differ is such an overlap. With disjoint ranges, the datagram is
 * complete when its last fragment has come and the bytes held add up to
 * its length.
 *
 * Layout of the output packet in progress: payload at Ethernet + 20, where
 * it ends up when the IPv4 header has no options. The headers of the
 * offset-0 fragment are kept in the slot, as that fragment may come last
 * and bring options; completion then moves the payload up to make room.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ipv4_frag.h"

/* Where the payload sits in the output packet until completion. */
#define REASM_DATA_OFF (WIRE_ETH_HLEN + WIRE_IPV4_HLEN)

_Static_assert(IPV4_REASM_SLOTS >= 1, "at least one datagram at a time");
/* Every fragment but the last carries 8 bytes or more (RFC 791 3.1), and
 * the range count is 16 bits. */
_Static_assert(IPV4_REASM_MAX_FRAGS >= 1 && IPV4_REASM_MAX_FRAGS <= 8192,
	       "fragments per datagram out of range");

/* One fragment, as far as its IPv4 header tells. */
struct reasm_frag {
	uint32_t start, end; /* payload bytes [start, end) */
	int last;            /* MF clear: end is the datagram's length */
};

/* RFC 791 3.1: offsets count 8-byte units, so every fragment but the last
 * carries a multiple of 8 bytes; an empty one carries nothing to place. */
static int frag_parse(const struct wire_ipv4_view *ip, struct reasm_frag *f)
{
	f->start = (uint32_t)(ip->frag & WIRE_IPV4_OFFMASK) * 8;
	f->end = f->start + ip->payload_len;
	f->last = !(ip->frag & WIRE_IPV4_MF);
	if (ip->payload_len == 0 || (!f->last && (ip->payload_len & 7)))
		return -EINVAL;
	return 0;
}

/* Whether a datagram with an IPv4 header of hlen bytes and end bytes of
 * payload has a legal total length (16 bits, RFC 791 3.1) and fits one
 * packet buffer of room bytes behind its Ethernet header. While room is
 * 16 bits the second test implies the first; the first states the rule. */
static int reasm_fits(uint32_t hlen, uint32_t end, uint32_t room)
{
	return hlen + end <= 0xffff && WIRE_ETH_HLEN + hlen + end <= room;
}

/* The IPv4 header length the datagram will have: the offset-0 fragment's
 * once it has come, else the least possible. */
static uint32_t dgram_hlen(const struct ipv4_reasm_dgram *d)
{
	return d->hdr_len ? d->hdr_len - WIRE_ETH_HLEN : WIRE_IPV4_HLEN;
}

static void dgram_free(const struct stack_ops *ops, void *ctx,
		       struct ipv4_reasm_dgram *d)
{
	ops->pkt_free(ctx, d->buf);
	d->buf = NULL;
}

/* Drops the datagram a fragment could not join; counts why. */
static int dgram_drop(const struct stack_ops *ops, void *ctx,
		      struct ipv4_reasm_dgram *d, uint64_t *counter, int err)
{
	dgram_free(ops, ctx, d);
	(*counter)++;
	return err;
}

/* RFC 791 3.2: fragments belong together when source, destination,
 * protocol and identification agree. */
static struct ipv4_reasm_dgram *dgram_find(struct ipv4_reasm *r,
					   const struct wire_ipv4_view *ip)
{
	uint16_t id = ntohs(ip->hdr->id);

	for (unsigned i = 0; i < IPV4_REASM_SLOTS; i++) {
		struct ipv4_reasm_dgram *d = &r->dgrams[i];

		if (d->buf && d->id == id && d->src == ip->src &&
		    d->dst == ip->dst && d->proto == ip->proto)
			return d;
	}
	return NULL;
}

/* A free slot; when there is none, the oldest datagram is given up, as
 * it is the likeliest to have lost a fragment for good. */
static struct ipv4_reasm_dgram *dgram_slot(struct ipv4_reasm *r,
					   const struct stack_ops *ops,
					   void *ctx)
{
	struct ipv4_reasm_dgram *oldest = &r->dgrams[0];

	for (unsigned i = 0; i < IPV4_REASM_SLOTS; i++) {
		struct ipv4_reasm_dgram *d = &r->dgrams[i];

		if (!d->buf)
			return d;
		if (d->expires < oldest->expires)
			oldest = d;
	}
	dgram_free(ops, ctx, oldest);
	r->stats.evicted++;
	return oldest;
}

/* Starts a datagram. RFC 1122 3.3.2: its timer is fixed at the first
 * fragment, not restarted by later ones. NULL when no buffer is left. */
static struct ipv4_reasm_dgram *dgram_new(struct ipv4_reasm *r,
					  const struct stack_ops *ops,
					  void *ctx, uint64_t now,
					  const struct wire_ipv4_view *ip)
{
	void *buf = ops->pkt_alloc(ctx);
	struct ipv4_reasm_dgram *d;

	if (!buf)
		return NULL;
	d = dgram_slot(r, ops, ctx);
	memset(d, 0, offsetof(struct ipv4_reasm_dgram, hdr));
	d->buf = buf;
	d->expires = now + IPV4_REASM_TIMEOUT_NS;
	d->src = ip->src;
	d->dst = ip->dst;
	d->id = ntohs(ip->hdr->id);
	d->proto = ip->proto;
	return d;
}

/* The datagram the fragment belongs to, started if need be. A fragment
 * that could never fit is refused before it takes a slot, so that it
 * cannot push out a datagram that could. */
static int dgram_lookup(struct ipv4_reasm *r, const struct stack_ops *ops,
			void *ctx, uint64_t now, void *pkt,
			const struct wire_ipv4_view *ip,
			const struct reasm_frag *f, struct ipv4_reasm_dgram **d)
{
	uint32_t hlen = f->start == 0 ? ip->hlen : WIRE_IPV4_HLEN;

	*d = dgram_find(r, ip);
	if (*d)
		return 0;
	if (!reasm_fits(hlen, f->end, ops->pkt_room(pkt))) {
		r->stats.too_big++;
		return -EMSGSIZE;
	}
	*d = dgram_new(r, ops, ctx, now, ip);
	if (!*d) {
		r->stats.no_buffer++;
		return -ENOBUFS;
	}
	return 0;
}

/* RFC 791 3.2: the fragment with MF clear fixes the datagram's length.
 * Data beyond it, or a second last fragment with another end, means the
 * fragments do not make one datagram (Linux drops it the same way). */
static int dgram_end_ok(const struct ipv4_reasm_dgram *d,
			const struct reasm_frag *f)
{
	if (f->last)
		return d->has_last ? f->end == d->end : f->end >= d->max_end;
	return !d->has_last || f->end <= d->end;
}

/* Index of the first range held that starts at or after start. From the
 * back, so fragments arriving in order cost one step. */
static unsigned range_pos(const struct ipv4_reasm_dgram *d, uint32_t start)
{
	unsigned i = d->nranges;

	while (i > 0 && d->ranges[i - 1].start >= start)
		i--;
	return i;
}

enum range_fit { RANGE_NEW, RANGE_DUP, RANGE_OVERLAP };

/* How the fragment meets the ranges held, pos being from range_pos. The
 * same range with the same bytes is a duplicate; with other bytes it
 * would rewrite data, the very thing the overlap rule forbids. */
static enum range_fit range_fit(const struct stack_ops *ops,
				const struct ipv4_reasm_dgram *d,
				const struct reasm_frag *f, unsigned pos,
				const uint8_t *payload)
{
	const struct ipv4_reasm_range *next = &d->ranges[pos];
	const uint8_t *held = ops->pkt_data(d->buf) + REASM_DATA_OFF + f->start;

	if (pos < d->nranges && next->start == f->start && next->end == f->end)
		return memcmp(held, payload, f->end - f->start) ? RANGE_OVERLAP :
								  RANGE_DUP;
	if (pos > 0 && d->ranges[pos - 1].end > f->start)
		return RANGE_OVERLAP;
	if (pos < d->nranges && next->start < f->end)
		return RANGE_OVERLAP;
	return RANGE_NEW;
}

/* RFC 791 3.2: the offset-0 fragment's header, options included, is the
 * datagram's; its Ethernet header goes with it. */
static void dgram_keep_headers(const struct stack_ops *ops,
			       struct ipv4_reasm_dgram *d, void *pkt,
			       const struct wire_ipv4_view *ip)
{
	memcpy(d->hdr, ops->pkt_data(pkt), WIRE_ETH_HLEN);
	memcpy(d->hdr + WIRE_ETH_HLEN, ip->hdr, ip->hlen);
	d->hdr_len = (uint8_t)(WIRE_ETH_HLEN + ip->hlen);
}

/* Copies the fragment in and records its range at pos. */
static void dgram_store(const struct stack_ops *ops,
			struct ipv4_reasm_dgram *d, void *pkt,
			const struct wire_ipv4_view *ip,
			const struct reasm_frag *f, unsigned pos)
{
	uint8_t *data = ops->pkt_data(d->buf) + REASM_DATA_OFF;

	memcpy(data + f->start, ip->payload, f->end - f->start);
	memmove(&d->ranges[pos + 1], &d->ranges[pos],
		(d->nranges - pos) * sizeof(d->ranges[0]));
	d->ranges[pos].start = (uint16_t)f->start;
	d->ranges[pos].end = (uint16_t)f->end;
	d->nranges++;
	d->received += f->end - f->start;
	if (f->end > d->max_end)
		d->max_end = (uint16_t)f->end;
	if (f->last) {
		d->has_last = 1;
		d->end = (uint16_t)f->end;
	}
	if (f->start == 0)
		dgram_keep_headers(ops, d, pkt, ip);
}

/* Adds a fragment to its datagram, or drops what must be dropped. */
static int dgram_add(struct ipv4_reasm *r, const struct stack_ops *ops,
		     void *ctx, struct ipv4_reasm_dgram *d, void *pkt,
		     const struct wire_ipv4_view *ip, const struct reasm_frag *f)
{
	struct ipv4_reasm_stats *s = &r->stats;
	uint32_t hlen = f->start == 0 ? ip->hlen : dgram_hlen(d);
	uint32_t end = f->end > d->max_end ? f->end : d->max_end;
	unsigned pos;

	if (!dgram_end_ok(d, f))
		return dgram_drop(ops, ctx, d, &s->bad_len, -EINVAL);
	if (!reasm_fits(hlen, end, ops->pkt_room(d->buf)))
		return dgram_drop(ops, ctx, d, &s->too_big, -EMSGSIZE);
	pos = range_pos(d, f->start);
	switch (range_fit(ops, d, f, pos, ip->payload)) {
	case RANGE_DUP:
		s->duplicate++;
		return -EEXIST;
	case RANGE_OVERLAP:
		return dgram_drop(ops, ctx, d, &s->overlap, -EBADMSG);
	case RANGE_NEW:
		break;
	}
	if (d->nranges == IPV4_REASM_MAX_FRAGS)
		return dgram_drop(ops, ctx, d, &s->too_many, -ENOSPC);
	dgram_store(ops, d, pkt, ip, f, pos);
	return 0;
}

/* Ranges are disjoint, so once the end is known, bytes held = end means
 * no hole is left (and the offset-0 fragment is among them). */
static int dgram_complete(const struct ipv4_reasm_dgram *d)
{
	return d->has_last && d->received == d->end;
}

/* RFC 791 3.2: the whole datagram under the offset-0 fragment's header,
 * with MF and the offset cleared, and length and checksum made anew. */
static void *dgram_finish(struct ipv4_reasm *r, const struct stack_ops *ops,
			  struct ipv4_reasm_dgram *d)
{
	uint8_t *p = ops->pkt_data(d->buf);
	struct wire_ipv4 *h = (struct wire_ipv4 *)(p + WIRE_ETH_HLEN);
	uint16_t hlen = (uint16_t)(d->hdr_len - WIRE_ETH_HLEN);
	void *out = d->buf;

	if (d->hdr_len != REASM_DATA_OFF) /* options: make room for them */
		memmove(p + d->hdr_len, p + REASM_DATA_OFF, d->end);
	memcpy(p, d->hdr, d->hdr_len);
	h->total_len = htons((uint16_t)(hlen + d->end));
	h->frag = htons(ntohs(h->frag) & ~(WIRE_IPV4_MF | WIRE_IPV4_OFFMASK));
	h->csum = 0;
	h->csum = wire_csum(h, hlen);
	ops->pkt_set_len(out, (uint16_t)(d->hdr_len + d->end));
	d->buf = NULL;
	r->stats.completed++;
	return out;
}

void ipv4_reasm_init(struct ipv4_reasm *r)
{
	memset(r, 0, sizeof(*r));
}

int ipv4_reasm_input(struct ipv4_reasm *r, const struct stack_ops *ops,
		     void *ctx, uint64_t now, void *pkt,
		     const struct wire_ipv4_view *ip, void **out)
{
	struct ipv4_reasm_dgram *d = NULL;
	struct reasm_frag f;
	int rc;

	*out = NULL;
	ipv4_reasm_expire(r, ops, ctx, now);
	rc = frag_parse(ip, &f);
	if (rc < 0)
		r->stats.bad_len++;
	else
		rc = dgram_lookup(r, ops, ctx, now, pkt, ip, &f, &d);
	if (rc == 0)
		rc = dgram_add(r, ops, ctx, d, pkt, ip, &f);
	ops->pkt_free(ctx, pkt); /* copied, or dropped */
	if (rc < 0 || !dgram_complete(d))
		return rc;
	*out = dgram_finish(r, ops, d);
	return 1;
}

unsigned ipv4_reasm_expire(struct ipv4_reasm *r, const struct stack_ops *ops,
			   void *ctx, uint64_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < IPV4_REASM_SLOTS; i++) {
		struct ipv4_reasm_dgram *d = &r->dgrams[i];

		if (d->buf && d->expires <= now) {
			dgram_free(ops, ctx, d);
			n++;
		}
	}
	r->stats.timeout += n;
	return n;
}

uint64_t ipv4_reasm_deadline(const struct ipv4_reasm *r)
{
	uint64_t t = UINT64_MAX;

	for (unsigned i = 0; i < IPV4_REASM_SLOTS; i++)
		if (r->dgrams[i].buf && r->dgrams[i].expires < t)
			t = r->dgrams[i].expires;
	return t;
}

void ipv4_reasm_fini(struct ipv4_reasm *r, const struct stack_ops *ops,
		     void *ctx)
{
	for (unsigned i = 0; i < IPV4_REASM_SLOTS; i++)
		if (r->dgrams[i].buf)
			dgram_free(ops, ctx, &r->dgrams[i]);
}
