/*
 * tcp_output.c - segments leave: what may be sent now (window, congestion
 * window, Nagle, SWS avoidance), and building each segment with its
 * options straight from the send ring.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tcp.h"

#define TCP_HDRS (WIRE_ETH_HLEN + WIRE_IPV4_HLEN)

/* RFC 9293 3.8.6.2.2 (receiver SWS avoidance): the right edge we announce
 * moves only by at least min(half the buffer, one MSS). */
static uint16_t window_field(struct stack_tcp *c, int syn)
{
	uint32_t right = c->rcv_user + c->rb_cap, step = c->rb_cap / 2, win;

	if (step > c->mss)
		step = c->mss;
	if (tcp_seq_ge(right, c->rcv_adv + step) || tcp_seq_lt(c->rcv_adv, c->rcv_nxt))
		c->rcv_adv = right;
	win = c->rcv_adv - c->rcv_nxt;
	if (c->shut_rd && c->state == TCP_CLOSED)
		win = 0;
	if (!syn)
		win >>= c->rcv_wscale;
	return (uint16_t)(win > 65535 ? 65535 : win); /* RFC 7323 2.2: SYN unscaled */
}

/* SACK blocks for the next ACK: a D-SACK first (RFC 2883 4), then the
 * out-of-order ranges, most recently changed first (RFC 2018 4). */
static void sack_blocks(struct stack_tcp *c, struct wire_tcp_opts *o)
{
	unsigned n = 0;

	if (!c->sack_ok)
		return;
	if (c->has_dsack) {
		o->sack[n].left = c->dsack.left;
		o->sack[n++].right = c->dsack.right;
	}
	for (unsigned i = 0; i < c->n_ooo && n < WIRE_TCP_SACK_MAX; i++) {
		o->sack[n].left = c->ooo[i].left;
		o->sack[n++].right = c->ooo[i].right;
	}
	o->sack_count = (uint8_t)n;
}

static void fill_opts(struct stack_tcp *c, uint8_t flags, struct wire_tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (flags & WIRE_TCP_SYN) {
		o->has_mss = 1;
		o->mss = (uint16_t)(c->st->conf.mtu - WIRE_IPV4_HLEN - WIRE_TCP_HLEN);
		/* On a SYN-ACK only what the SYN offered (RFC 7323 1.3, 2018 2). */
		if (c->state != TCP_SYN_RECEIVED || c->wscale_ok) {
			o->has_wscale = 1;
			o->wscale = c->rcv_wscale;
		}
		o->sack_ok = c->state != TCP_SYN_RECEIVED || c->sack_ok;
		if (c->state == TCP_SYN_RECEIVED && !c->ts_ok)
			return;
		o->has_ts = 1;
	} else if (c->ts_ok) {
		o->has_ts = 1;
	}
	if (o->has_ts) {
		o->tsval = tcp_ts_now(c);
		o->tsecr = (flags & WIRE_TCP_ACK) ? c->ts_recent : 0;
	}
	if (!(flags & WIRE_TCP_SYN))
		sack_blocks(c, o);
}

/* Copies len bytes at sequence seq out of the send ring. */
static void ring_copy_out(const struct stack_tcp *c, uint32_t seq, uint8_t *dst,
			  uint32_t len)
{
	uint32_t off = seq & (c->sb_cap - 1), first = c->sb_cap - off;

	if (first > len)
		first = len;
	memcpy(dst, c->sbuf + off, first);
	memcpy(dst + first, c->sbuf, len - first);
}

static void fin_mark(struct stack_tcp *c, uint32_t seq);

/* Fills Ethernet and IPv4 headers and the TCP checksum, or leaves the
 * checksums to the port where it offers them; queues the frame. */
static void seg_finish(struct stack *st, void *pkt, const uint8_t *dmac,
		       uint32_t rip, uint16_t tcp_len)
{
	uint8_t *f = st->ops->pkt_data(pkt);
	uint8_t *ip = f + WIRE_ETH_HLEN, *tcp = f + TCP_HDRS;
	/* A segment to ourselves never reaches the port that would fill
	 * the checksums (the loopback, stack.c): it gets them here. */
	unsigned off = rip == st->conf.ip ? 0 : st->conf.tx_csum;
	uint16_t csum;

	eth_fill(st, f, dmac, WIRE_ETHERTYPE_IPV4);
	wire_ipv4_emit(ip, st->conf.ip, rip, WIRE_IPPROTO_TCP, tcp_len, st->ip_id++,
		       STACK_IP_TTL);
	if (off & STACK_TX_IP_CSUM)
		memset(ip + 10, 0, 2);
	if (off & STACK_TX_TCP_CSUM)
		csum = wire_tcp_pseudo_csum(st->conf.ip, rip, tcp_len); /* memory order */
	else
		csum = wire_tcp_csum(tcp, tcp_len, st->conf.ip, rip);
	memcpy(tcp + 16, &csum, 2);
	st->ops->pkt_set_len(pkt, (uint16_t)(TCP_HDRS + tcp_len));
	if (off)
		st->ops->pkt_tx_csum(pkt, WIRE_ETH_HLEN, WIRE_IPV4_HLEN, off);
	st->stats.tcp_segs_out++;
	stack_tx(st, pkt);
}

/* The connection's MAC follows the ARP table (its aging, probing and
 * changes), looked up again when an entry changed and once a second; a
 * peer the table does not know (yet) keeps the MAC it has. */
static void neigh_follow(struct stack_tcp *c)
{
	struct stack *st = c->st;
	uint8_t mac[STACK_ETH_ALEN];

	if (c->nb_gen == st->arp_gen && st->now < c->nb_check)
		return;
	c->nb_gen = st->arp_gen;
	c->nb_check = st->now + STACK_NEIGH_CHECK_NS;
	if (stack_neigh_lookup(st, c->rip, mac) == 0)
		memcpy(c->dmac, mac, STACK_ETH_ALEN);
}

/*
 * Sends one segment of the connection: flags, sequence number seq and up
 * to len bytes from the send ring: fewer when the options (SACK blocks)
 * leave less room in the MTU, as Linux's tcp_current_mss; a FIN then waits
 * for a later segment. Returns the bytes sent, or -1 when no buffer was free.
 */
static long seg_send(struct stack_tcp *c, uint32_t seq, uint8_t flags, uint32_t len)
{
	uint32_t room;
	struct stack *st = c->st;
	struct wire_tcp_opts o;
	uint8_t *tcp;
	size_t olen;
	void *pkt = st->ops->pkt_alloc(st->ctx);

	if (!pkt) {
		st->stats.drops[STACK_DROP_NO_BUFFER]++;
		return -1;
	}
	tcp = st->ops->pkt_data(pkt) + TCP_HDRS;
	fill_opts(c, flags, &o);
	olen = wire_tcp_emit_opts(tcp + WIRE_TCP_HLEN, WIRE_TCP_OPT_MAX, &o);
	room = st->conf.mtu - WIRE_IPV4_HLEN - WIRE_TCP_HLEN - (uint32_t)olen;
	if (len > room) {
		len = room;
		flags &= (uint8_t)~WIRE_TCP_FIN;
	}
	if (flags & WIRE_TCP_ACK)
		c->has_dsack = 0; /* reported once (RFC 2883 4) */
	wire_tcp_emit(tcp, c->lport, c->rport, seq,
		      (flags & WIRE_TCP_ACK) ? c->rcv_nxt : 0, flags,
		      window_field(c, flags & WIRE_TCP_SYN), olen);
	if (len)
		ring_copy_out(c, seq, tcp + WIRE_TCP_HLEN + olen, len);
	neigh_follow(c);
	seg_finish(st, pkt, c->dmac, c->rip, (uint16_t)(WIRE_TCP_HLEN + olen + len));
	if (flags & WIRE_TCP_ACK) { /* every ACK we send answers what came */
		c->ack_now = 0;
		c->unacked_segs = 0;
		c->rcv_acked = c->rcv_nxt;
		tw_cancel(&st->tw, &c->t_delack);
	}
	if (flags & WIRE_TCP_FIN)
		fin_mark(c, seq + len);
	return (long)len;
}

/*
 * A pure ACK carries SND.MAX, not SND.NXT: after a timeout rewinds SND.NXT
 * below data the peer already holds, SEQ=SND.NXT would make the ACK
 * unacceptable to the peer (RFC 9293 3.10.7.4), whose ACK back would be
 * just as unacceptable to us: both ends stall. FreeBSD's tcp_output does
 * the same.
 */
void tcp_send_ack(struct stack_tcp *c)
{
	seg_send(c, c->snd_max, WIRE_TCP_ACK, 0);
}

void tcp_send_syn(struct stack_tcp *c)
{
	uint8_t flags = WIRE_TCP_SYN;

	if (c->state == TCP_SYN_RECEIVED)
		flags |= WIRE_TCP_ACK;
	if (c->retries == 0)
		c->rtt_start = c->st->now; /* the handshake gives the first RTT */
	seg_send(c, c->iss, flags, 0);
	if (tcp_seq_lt(c->snd_max, c->iss + 1))
		c->snd_max = c->iss + 1;
	c->snd_nxt = c->iss + 1;
}

/* Keepalive and zero-window probe alike: an ACK one below SND.UNA, which
 * the peer must answer with its current ACK and window (RFC 9293 3.8.4,
 * as Linux's probes). */
void tcp_send_probe(struct stack_tcp *c, int keepalive)
{
	(void)keepalive;
	seg_send(c, c->snd_una - 1, WIRE_TCP_ACK, 0);
}

void tcp_send_rst(struct stack *st, const uint8_t *dmac, uint32_t rip,
		  uint16_t rport, uint16_t lport, uint32_t seq, uint32_t ack,
		  int with_ack)
{
	void *pkt = st->ops->pkt_alloc(st->ctx);
	uint8_t *tcp;

	if (!pkt) {
		st->stats.drops[STACK_DROP_NO_BUFFER]++;
		return;
	}
	tcp = st->ops->pkt_data(pkt) + TCP_HDRS;
	wire_tcp_emit(tcp, lport, rport, seq, with_ack ? ack : 0,
		      WIRE_TCP_RST | (with_ack ? WIRE_TCP_ACK : 0), 0, 0);
	st->stats.tcp_rsts_out++;
	seg_finish(st, pkt, dmac, rip, WIRE_TCP_HLEN);
}

/* Data bytes end here; a queued FIN takes the next sequence number. */
static uint32_t data_end(const struct stack_tcp *c)
{
	return c->snd_una + c->sb_len;
}

/* The FIN may go (again, after a timeout rewound SND.NXT) only at its own
 * sequence number and only while it is unacknowledged: one FIN, one
 * sequence number (RFC 9293 3.6). */
static int fin_may_send(const struct stack_tcp *c, uint32_t seq)
{
	if (!c->fin_queued || seq != data_end(c))
		return 0;
	return !c->fin_sent || (seq == c->fin_seq && tcp_seq_le(c->snd_una, c->fin_seq));
}

static void fin_mark(struct stack_tcp *c, uint32_t seq)
{
	c->fin_sent = 1;
	c->fin_seq = seq;
}

uint32_t tcp_retransmit(struct stack_tcp *c, uint32_t seq, uint32_t len)
{
	uint8_t flags = WIRE_TCP_ACK;
	uint32_t end = data_end(c);

	if (tcp_seq_ge(seq, end)) { /* only the FIN is left */
		if (!c->fin_sent || !fin_may_send(c, end))
			return 0;
		len = 0;
		seq = end;
		flags |= WIRE_TCP_FIN;
	} else {
		if (len > end - seq)
			len = end - seq;
		if (seq + len == end && c->fin_sent && fin_may_send(c, end))
			flags |= WIRE_TCP_FIN;
		if (seq + len == end)
			flags |= WIRE_TCP_PSH;
	}
	long sent = seg_send(c, seq, flags, len);

	if (sent < 0)
		return 0;
	c->st->stats.tcp_retransmits++;
	c->retransmits++;
	return (uint32_t)sent + ((flags & WIRE_TCP_FIN) && (uint32_t)sent == len);
}

/* What may go now: the congestion window less what is in the network
 * (RFC 6675 pipe, so SACKed segments make room as limited transmit did,
 * RFC 3042), within the peer's window counted from SND.UNA. */
static uint32_t usable_window(const struct stack_tcp *c)
{
	uint32_t pipe = tcp_pipe(c), out = c->snd_nxt - c->snd_una;
	uint32_t room = c->cwnd > pipe ? c->cwnd - pipe : 0;

	if (c->snd_wnd <= out)
		return 0;
	return c->snd_wnd - out < room ? c->snd_wnd - out : room;
}

/* A short segment sent is not yet acknowledged (Linux tcp_minshall_check). */
static int short_in_flight(const struct stack_tcp *c)
{
	return tcp_seq_gt(c->snd_sml, c->snd_una) &&
	       tcp_seq_le(c->snd_sml, c->snd_nxt);
}

/* RFC 9293 3.8.6.2.1 (sender SWS) and 3.7.4 (Nagle): whether a segment of
 * len bytes, out of avail ready, should go now. */
static int worth_sending(const struct stack_tcp *c, uint32_t len, uint32_t avail)
{
	/* The SWS override timer fired (RFC 9293 3.8.6.2.1): no holding back. */
	if (len && c->sws_override)
		return 1;
	if (len >= c->mss)
		return 1;
	if (len < avail) /* window-limited: only a big enough piece */
		return len >= c->max_sndwnd / 2 && len > 0;
	/* All that is ready, short: Nagle (RFC 9293 3.7.4) in Minshall's
	 * variant, as Linux's tcp_nagle_check: held only while an earlier
	 * short segment is unacknowledged, so a message's tail behind full
	 * segments goes at once instead of waiting for a delayed ACK. */
	return c->nodelay || c->fin_queued || !short_in_flight(c);
}

void tcp_output(struct stack_tcp *c)
{
	int sent = 0, cwnd_limited = 0;

	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT) {
		if (c->ack_now && c->state >= TCP_SYN_RECEIVED)
			tcp_send_ack(c);
		return;
	}
	for (;;) {
		uint32_t end;
		int r = tcp_resend_lost(c); /* what is lost goes first */

		if (r < 0)
			break;
		if (r > 0) {
			sent = 1;
			continue;
		}
		if (tcp_txs_full(c))
			break;
		end = data_end(c);
		uint32_t avail = tcp_seq_lt(c->snd_nxt, end) ? end - c->snd_nxt : 0;
		uint32_t len = avail < c->mss ? avail : c->mss;
		uint32_t room = usable_window(c);
		uint8_t flags = WIRE_TCP_ACK;

		if (len > room) {
			uint32_t pipe = tcp_pipe(c);

			len = room;
			/* held back by the congestion window, not the peer's */
			cwnd_limited |= c->cwnd < pipe + (avail < c->mss ? avail : c->mss);
		}
		if (len == avail && fin_may_send(c, c->snd_nxt + len) &&
		    (room > len || c->snd_wnd == 0 || avail == 0))
			flags |= WIRE_TCP_FIN;
		if (!(flags & WIRE_TCP_FIN) && !worth_sending(c, len, avail))
			break;
		if (!len && !(flags & WIRE_TCP_FIN))
			break;
		if (len == avail)
			flags |= WIRE_TCP_PSH;
		long sent = seg_send(c, c->snd_nxt, flags, len);

		if (sent < 0)
			break;
		if ((uint32_t)sent < len)
			flags &= (uint8_t)~WIRE_TCP_FIN; /* the FIN waits */
		len = (uint32_t)sent;
		c->sws_override = 0;
		if (len && len < c->mss) /* Linux tcp_minshall_update */
			c->snd_sml = c->snd_nxt + len + !!(flags & WIRE_TCP_FIN);
		tcp_txs_sent(c, c->snd_nxt, c->snd_nxt + len + !!(flags & WIRE_TCP_FIN));
		if (!c->rtt_timing && len) { /* Karn: time new data only */
			c->rtt_timing = 1;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start = c->st->now;
		}
		c->snd_nxt += len + !!(flags & WIRE_TCP_FIN);
		if (tcp_seq_gt(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		sent = 1;
		if (flags & WIRE_TCP_FIN)
			break;
	}
	if (!sent && c->ack_now)
		tcp_send_ack(c);
	tcp_cc_sent(c, cwnd_limited);
	tcp_rexmt_arm(c);
}
