/*
 * tcp_wire.c - TCP header and option parsing and emitting, and the TCP
 * checksum. See tcp_wire.h.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "tcp_wire.h"

/* RFC 9293 3.1: the pseudo-header the checksum also covers. */
struct wire_tcp_pseudo {
	uint32_t src, dst;
	uint8_t zero, proto;
	uint16_t len;
} __attribute__((packed));

uint16_t wire_tcp_pseudo_csum(uint32_t src, uint32_t dst, uint16_t len)
{
	struct wire_tcp_pseudo ph = {
		.src = htonl(src),
		.dst = htonl(dst),
		.proto = WIRE_IPPROTO_TCP,
		.len = htons(len),
	};

	return wire_csum_partial(&ph, sizeof(ph), 0);
}

uint16_t wire_tcp_csum(const uint8_t *seg, size_t len, uint32_t src_ip,
		       uint32_t dst_ip)
{
	uint16_t ph = wire_tcp_pseudo_csum(src_ip, dst_ip, (uint16_t)len);

	/* The pseudo-header is 12 bytes, so the segment's words stay aligned
	 * with it and the two sums chain. */
	return (uint16_t)~wire_csum_partial(seg, len, ph);
}

/* ---- header ------------------------------------------------------------ */

int wire_tcp_parse(const uint8_t *seg, size_t len, uint32_t src_ip,
		   uint32_t dst_ip, int csum_verified, struct wire_tcp_view *v)
{
	const struct wire_tcp *h = (const struct wire_tcp *)seg;
	unsigned hlen;

	/* The pseudo-header carries the length in 16 bits (RFC 9293 3.1),
	 * and an IPv4 datagram cannot hold more. */
	if (len < WIRE_TCP_HLEN || len > UINT16_MAX)
		return -EINVAL;
	hlen = (h->off >> 4) * 4u;
	if (hlen < WIRE_TCP_HLEN || hlen > len)
		return -EINVAL;
	if (!csum_verified && wire_tcp_csum(seg, len, src_ip, dst_ip) != 0)
		return -EBADMSG;
	v->hdr = h;
	v->sport = ntohs(h->sport);
	v->dport = ntohs(h->dport);
	v->seq = ntohl(h->seq);
	v->ack = ntohl(h->ack);
	v->flags = h->flags;
	v->window = ntohs(h->window);
	v->urgent = ntohs(h->urg);
	v->hlen = (uint16_t)hlen;
	v->opts = seg + WIRE_TCP_HLEN;
	v->opts_len = (uint8_t)(hlen - WIRE_TCP_HLEN);
	v->payload = seg + hlen;
	v->payload_len = (uint16_t)(len - hlen);
	return 0;
}

void wire_tcp_emit(uint8_t *seg, uint16_t sport, uint16_t dport, uint32_t seq,
		   uint32_t ack, uint8_t flags, uint16_t window, size_t opt_len)
{
	struct wire_tcp *h = (struct wire_tcp *)seg;

	h->sport = htons(sport);
	h->dport = htons(dport);
	h->seq = htonl(seq);
	h->ack = htonl(ack);
	/* RFC 9293 3.1: the reserved bits are sent as zero. */
	h->off = (uint8_t)(((WIRE_TCP_HLEN + opt_len) / 4) << 4);
	h->flags = flags;
	h->window = htons(window);
	h->csum = 0;
	h->urg = 0;
}

/* ---- options: parse ---------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 2018 3: n blocks of left and right edge, n 1..4. */
static void opt_sack(const uint8_t *d, size_t n, struct wire_tcp_opts *o)
{
	size_t blocks = n / WIRE_TCP_OPTLEN_SACK_BLOCK;

	if (n % WIRE_TCP_OPTLEN_SACK_BLOCK || blocks < 1 ||
	    blocks > WIRE_TCP_SACK_MAX)
		return;
	for (size_t i = 0; i < blocks; i++) {
		o->sack[i].left = get32(d + 8 * i);
		o->sack[i].right = get32(d + 8 * i + 4);
	}
	o->sack_count = (uint8_t)blocks;
}

/* One option of kind with n data bytes d (after kind and length). A wrong
 * length for a known kind leaves the option out (see tcp_wire.h). */
static void opt_one(uint8_t kind, const uint8_t *d, size_t n,
		    struct wire_tcp_opts *o)
{
	switch (kind) {
	case WIRE_TCP_OPT_MSS:
		if (n + 2 == WIRE_TCP_OPTLEN_MSS) {
			o->mss = get16(d);
			o->has_mss = true;
		}
		break;
	case WIRE_TCP_OPT_WS:
		if (n + 2 == WIRE_TCP_OPTLEN_WS) {
			/* RFC 7323 2.3: MUST use 14 for a larger shift. */
			o->wscale = d[0] > WIRE_TCP_WS_MAX ? WIRE_TCP_WS_MAX : d[0];
			o->has_wscale = true;
		}
		break;
	case WIRE_TCP_OPT_SACK_PERM:
		if (n + 2 == WIRE_TCP_OPTLEN_SACK_PERM)
			o->sack_ok = true;
		break;
	case WIRE_TCP_OPT_SACK:
		opt_sack(d, n, o);
		break;
	case WIRE_TCP_OPT_TS:
		if (n + 2 == WIRE_TCP_OPTLEN_TS) {
			o->tsval = get32(d);
			o->tsecr = get32(d + 4);
			o->has_ts = true;
		}
		break;
	default:
		/* RFC 9293 3.2 (MUST-6): ignore an option we do not
		 * implement; the caller skips it by its length. */
		break;
	}
}

int wire_tcp_parse_opts(const uint8_t *opts, size_t len,
			struct wire_tcp_opts *o)
{
	size_t i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = opts[i];
		size_t olen;

		if (kind == WIRE_TCP_OPT_EOL)
			break;
		if (kind == WIRE_TCP_OPT_NOP) {
			i++;
			continue;
		}
		/* RFC 9293 3.2 (MUST-68, MUST-7): every other option has a
		 * length covering kind and length bytes; without a sane one
		 * the list cannot be delimited. */
		if (len - i < 2)
			return -EINVAL;
		olen = opts[i + 1];
		if (olen < 2 || olen > len - i)
			return -EINVAL;
		opt_one(kind, opts + i + 2, olen - 2, o);
		i += olen;
	}
	return 0;
}

/* ---- options: emit ----------------------------------------------------- */

static uint8_t *put_word(uint8_t *p, uint8_t a, uint8_t b, uint8_t c,
			 uint8_t d)
{
	p[0] = a;
	p[1] = b;
	p[2] = c;
	p[3] = d;
	return p + 4;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	return put_word(p, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v);
}

/* Timestamps, 12 bytes; Linux puts SACK-permitted in the two bytes that
 * would otherwise be NOPs. */
static uint8_t *emit_ts(uint8_t *p, const struct wire_tcp_opts *o,
			bool with_sack_perm)
{
	if (with_sack_perm)
		p = put_word(p, WIRE_TCP_OPT_SACK_PERM, WIRE_TCP_OPTLEN_SACK_PERM,
			     WIRE_TCP_OPT_TS, WIRE_TCP_OPTLEN_TS);
	else
		p = put_word(p, WIRE_TCP_OPT_NOP, WIRE_TCP_OPT_NOP,
			     WIRE_TCP_OPT_TS, WIRE_TCP_OPTLEN_TS);
	p = put32(p, o->tsval);
	return put32(p, o->tsecr);
}

/* NOP NOP SACK with as many blocks as fit before end, first ones first. */
static uint8_t *emit_sack(uint8_t *p, const uint8_t *end,
			  const struct wire_tcp_opts *o)
{
	size_t n = o->sack_count, left = (size_t)(end - p);
	size_t fit = left < 4 ? 0 : (left - 4) / WIRE_TCP_OPTLEN_SACK_BLOCK;

	if (n > WIRE_TCP_SACK_MAX)
		n = WIRE_TCP_SACK_MAX;
	if (n > fit)
		n = fit;
	if (!n)
		return p;
	p = put_word(p, WIRE_TCP_OPT_NOP, WIRE_TCP_OPT_NOP, WIRE_TCP_OPT_SACK,
		     (uint8_t)(WIRE_TCP_OPTLEN_SACK_BASE +
			       n * WIRE_TCP_OPTLEN_SACK_BLOCK));
	for (size_t i = 0; i < n; i++) {
		p = put32(p, o->sack[i].left);
		p = put32(p, o->sack[i].right);
	}
	return p;
}

size_t wire_tcp_emit_opts(uint8_t *out, size_t room,
			  const struct wire_tcp_opts *o)
{
	/* Whole words only, so every option below stays aligned. */
	size_t cap = room < WIRE_TCP_OPT_MAX ? room & ~(size_t)3 :
					       WIRE_TCP_OPT_MAX;
	uint8_t *p = out;
	const uint8_t *end = out + cap;
	bool sack_perm = o->sack_ok;

	if (o->has_mss && end - p >= 4)
		p = put_word(p, WIRE_TCP_OPT_MSS, WIRE_TCP_OPTLEN_MSS,
			     (uint8_t)(o->mss >> 8), (uint8_t)o->mss);
	if (o->has_ts && end - p >= 12) {
		p = emit_ts(p, o, sack_perm);
		sack_perm = false;
	}
	if (sack_perm && end - p >= 4)
		p = put_word(p, WIRE_TCP_OPT_NOP, WIRE_TCP_OPT_NOP,
			     WIRE_TCP_OPT_SACK_PERM, WIRE_TCP_OPTLEN_SACK_PERM);
	if (o->has_wscale && end - p >= 4)
		p = put_word(p, WIRE_TCP_OPT_NOP, WIRE_TCP_OPT_WS,
			     WIRE_TCP_OPTLEN_WS, o->wscale);
	p = emit_sack(p, end, o);
	return (size_t)(p - out);
}
