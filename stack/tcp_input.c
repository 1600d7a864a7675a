/*
 * tcp_input.c - a segment arrives: RFC 9293 3.10.7 step by step, with the
 * hardening of RFC 5961, timestamps and PAWS (RFC 7323), SACK (RFC 2018,
 * 2883), loss recovery (RFC 5681, 6582, 6675) and TIME_WAIT reuse
 * (RFC 6191).
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

struct tcp_seg {
	uint32_t seq, ack, wnd, len;
	uint8_t flags;
	const uint8_t *data;
	const uint8_t *smac;
	struct wire_tcp_opts o;
};

static uint32_t seg_span(const struct tcp_seg *s)
{
	return s->len + !!(s->flags & WIRE_TCP_SYN) + !!(s->flags & WIRE_TCP_FIN);
}

/* ---- no connection ------------------------------------------------------ */

/* A frame for rip:rport -> lport, which has no connection here: 1 when
 * ops->steer took it for the stack the connection moved to. */
static int steered(struct stack *st, void *pkt, uint32_t rip, uint16_t rport,
		   uint16_t lport, int syn)
{
	if (!st->ops->steer || !st->ops->steer(st->ctx, pkt, rip, rport, lport, syn))
		return 0;
	st->stats.tcp_steered++;
	return 1;
}

/* Another process of the device handed the frame over (STACK_RX_HANDED). */
static int handed(struct stack *st, void *pkt)
{
	return (st->ops->pkt_rx_flags(pkt) & STACK_RX_HANDED) != 0;
}

/* RFC 9293 3.10.7.1: anything but a RST to a closed port draws a RST. */
static void closed_input(struct stack *st, uint32_t rip, uint16_t rport,
			 uint16_t lport, const struct tcp_seg *s, int handed)
{
	const uint8_t *quiet = st->conf.quiet_ports;

	if (handed && !(s->flags & WIRE_TCP_SYN)) { /* (STACK_RX_HANDED) */
		st->stats.drops[STACK_DROP_TCP_LATE]++;
		return;
	}
	if (quiet && (s->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN &&
	    (__atomic_load_n(&quiet[lport >> 3], __ATOMIC_RELAXED) >> (lport & 7) & 1)) {
		st->stats.drops[STACK_DROP_TCP_QUIET]++;
		return;
	}
	st->stats.drops[STACK_DROP_TCP_NO_CONN]++;
	if (s->flags & WIRE_TCP_RST)
		return;
	if (s->flags & WIRE_TCP_ACK)
		tcp_send_rst(st, s->smac, rip, rport, lport, s->ack, 0, 0);
	else
		tcp_send_rst(st, s->smac, rip, rport, lport, 0, s->seq + seg_span(s), 1);
}

/* The options of a SYN decide the connection's (RFC 7323 1.3, 2018 2). */
static void syn_options(struct stack_tcp *c, const struct tcp_seg *s)
{
	uint32_t ours = c->st->conf.mtu - WIRE_IPV4_HLEN - WIRE_TCP_HLEN;

	c->peer_mss = s->o.has_mss && s->o.mss ? s->o.mss : 536; /* RFC 9293 3.7.1 */
	c->wscale_ok = s->o.has_wscale;
	c->snd_wscale = s->o.has_wscale ? s->o.wscale : 0;
	if (!c->wscale_ok)
		c->rcv_wscale = 0;
	c->sack_ok = s->o.sack_ok;
	c->ts_ok = s->o.has_ts;
	if (c->ts_ok)
		c->ts_recent = s->o.tsval;
	c->mss = (uint16_t)(c->peer_mss < ours ? c->peer_mss : ours);
	if (c->ts_ok)
		c->mss -= 12; /* RFC 6691: the MSS excludes the options we send */
	if (c->mss < 64)
		c->mss = 64;
}

/* A child of listener l for rip:rport in SYN-RECEIVED, answering dmac,
 * with the listener's buffer sizes and options; not in the tables yet
 * (listen_input, tcp_move_in). NULL when out of memory. */
struct stack_tcp *tcp_child_new(struct stack_tcp *l, uint32_t rip, uint16_t rport,
				const uint8_t *dmac)
{
	struct stack_tcp *c = tcp_conn_new(l->st);

	if (!c)
		return NULL;
	c->state = TCP_SYN_RECEIVED;
	c->lip = l->st->conf.ip;
	c->lport = l->lport;
	c->rip = rip;
	c->rport = rport;
	memcpy(c->dmac, dmac, STACK_ETH_ALEN); /* answer where it came from */
	c->has_dmac = 1;
	c->parent = l;
	l->n_pending++;
	c->sb_cap = l->sb_cap;
	c->rb_cap = l->rb_cap;
	c->nodelay = l->nodelay;
	c->keepalive = l->keepalive;
	c->keepidle_s = l->keepidle_s;
	c->keepintvl_s = l->keepintvl_s;
	c->keepcnt = l->keepcnt;
	if (l->st->ops->tcp_child && l->st->ops->tcp_child(l->st->ctx, rip, rport, l->lport))
		c->watched = 1;
	return c;
}

/* RFC 9293 3.10.7.2: a SYN to a listener makes a child in SYN-RECEIVED. */
static void listen_input(struct stack_tcp *l, uint32_t rip, uint16_t rport,
			 const struct tcp_seg *s, int handed)
{
	struct stack *st = l->st;
	struct stack_tcp *c;

	if (s->flags & WIRE_TCP_RST)
		return;
	if ((s->flags & WIRE_TCP_ACK) && handed) { /* (a handshake's ACK, late) */
		st->stats.drops[STACK_DROP_TCP_LATE]++;
		return;
	}
	if (s->flags & WIRE_TCP_ACK) {
		tcp_send_rst(st, s->smac, rip, rport, l->lport, s->ack, 0, 0);
		return;
	}
	if (!(s->flags & WIRE_TCP_SYN))
		return;
	/* Linux drops the SYN when the accept queue is full; the client's
	 * retransmission tries again later. */
	if (l->n_queued >= l->backlog || l->n_pending >= 2 * l->backlog + 16) {
		st->stats.drops[STACK_DROP_TCP_BACKLOG]++;
		return;
	}
	c = tcp_child_new(l, rip, rport, s->smac);
	if (!c) {
		st->stats.drops[STACK_DROP_NO_BUFFER]++;
		return;
	}
	tcp_choose_wscale(c);
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_user = c->rcv_nxt;
	c->rcv_adv = c->rcv_nxt; /* nothing offered yet */
	syn_options(c, s);
	tcp_init_seq(c);
	c->snd_wnd = s->wnd; /* RFC 7323 2.2: a SYN's window is not scaled */
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	tcp_cc_init(c);
	tcp_hash_insert(c);
	st->stats.tcp_passive_opens++;
	tcp_send_syn(c);
	tcp_rexmt_arm(c);
}

/* ---- SYN-SENT ----------------------------------------------------------- */

/* An ACK of what we sent to c->dmac confirms the neighbour (RFC 4861
 * 7.3.1), at most once per STACK_NEIGH_CHECK_NS. */
static void neigh_confirm(struct stack_tcp *c)
{
	if (c->st->now - c->nb_confirmed < STACK_NEIGH_CHECK_NS && c->nb_confirmed)
		return;
	c->nb_confirmed = c->st->now;
	stack_neigh_confirm(c->st, c->rip, c->dmac);
}

static void become_established(struct stack_tcp *c, const struct tcp_seg *s)
{
	neigh_confirm(c);
	c->state = TCP_ESTABLISHED;
	c->snd_una = s->ack;
	c->snd_wnd = s->wnd << c->snd_wscale;
	if (s->flags & WIRE_TCP_SYN)
		c->snd_wnd = s->wnd; /* the SYN-ACK's window is not scaled */
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (c->retries == 0) /* Karn: the SYN was sent once, so time it */
		tcp_rtt_sample(c, c->st->now - c->rtt_start);
	tcp_cc_established(c);
	c->retries = 0;
	tw_cancel(&c->st->tw, &c->t_rexmt);
	if (tcp_bufs_alloc(c) < 0) {
		tcp_drop(c, -ENOMEM);
		return;
	}
	if (c->keepalive)
		tcp_keep_arm(c, (uint64_t)c->keepidle_s * 1000000000ull);
}

/* RFC 9293 3.10.7.3 */
static void syn_sent_input(struct stack_tcp *c, const struct tcp_seg *s)
{
	int ack_ok = (s->flags & WIRE_TCP_ACK) &&
		     tcp_seq_gt(s->ack, c->iss) && tcp_seq_le(s->ack, c->snd_max);

	if ((s->flags & WIRE_TCP_ACK) && !ack_ok) {
		if (!(s->flags & WIRE_TCP_RST))
			tcp_send_rst(c->st, s->smac, c->rip, c->rport, c->lport,
				     s->ack, 0, 0);
		return;
	}
	if (s->flags & WIRE_TCP_RST) {
		if (ack_ok)
			tcp_drop(c, -ECONNREFUSED);
		return;
	}
	if (!(s->flags & WIRE_TCP_SYN))
		return;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	c->rcv_user = c->rcv_nxt;
	c->rcv_adv = c->rcv_nxt; /* nothing offered yet */
	syn_options(c, s);
	if (ack_ok) {
		become_established(c, s);
		c->ack_now = 1;
		return;
	}
	/* Simultaneous open (RFC 9293 3.5, figure 8). */
	c->state = TCP_SYN_RECEIVED;
	tcp_send_syn(c);
}

/* ---- synchronized states ----------------------------------------------- */

static void challenge_ack(struct stack_tcp *c)
{
	/* RFC 5961 3.2, 4.2, 5.2: an ACK that tells a genuine peer where we
	 * are; a blind attacker learns nothing from it. */
	c->st->stats.tcp_challenge_acks++;
	tcp_send_ack(c);
}

/* RFC 9293 3.10.7.4, first check: the four cases of acceptability. */
static int acceptable(const struct stack_tcp *c, const struct tcp_seg *s)
{
	uint32_t win = tcp_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t len = s->len + !!(s->flags & WIRE_TCP_FIN);

	if (win < tcp_rcv_window(c))
		win = tcp_rcv_window(c);
	if (len == 0)
		return win == 0 ? s->seq == c->rcv_nxt :
		       tcp_seq_in(s->seq, c->rcv_nxt, c->rcv_nxt + win);
	if (win == 0)
		return 0;
	return tcp_seq_in(s->seq, c->rcv_nxt, c->rcv_nxt + win) ||
	       tcp_seq_in(s->seq + len - 1, c->rcv_nxt, c->rcv_nxt + win);
}

static void rst_input(struct stack_tcp *c, const struct tcp_seg *s)
{
	if (s->seq != c->rcv_nxt) { /* in the window but not exact */
		challenge_ack(c);
		return;
	}
	switch (c->state) {
	case TCP_SYN_RECEIVED:
		tcp_drop(c, c->parent ? 0 : -ECONNREFUSED);
		break;
	case TCP_CLOSING:
	case TCP_LAST_ACK:
	case TCP_TIME_WAIT:
		tcp_drop(c, 0);
		break;
	default:
		tcp_drop(c, -ECONNRESET);
	}
}

static void new_ack(struct stack_tcp *c, const struct tcp_seg *s)
{
	uint32_t acked = s->ack - c->snd_una;
	uint32_t data = acked < c->sb_len ? acked : c->sb_len;

	c->sb_len -= data;
	c->snd_una = s->ack;
	neigh_confirm(c);
	if (tcp_seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	c->tlp_sent = 0; /* a new flight may be probed again */
}

/* RFC 6298 2: an RTT sample per ACK of new data. Best from the send time
 * of a segment sent once (rtt_ns, to the nanosecond); else from the echoed
 * timestamp (RFC 7323 4.1, millisecond ticks); else Karn's timing. */
static void rtt_measure(struct stack_tcp *c, const struct tcp_seg *s, uint64_t rtt_ns)
{
	if (rtt_ns)
		tcp_rtt_sample(c, rtt_ns);
	else if (c->ts_ok && s->o.has_ts && s->o.tsecr)
		tcp_rtt_sample(c, (uint64_t)(tcp_ts_now(c) - s->o.tsecr) * 1000000u);
	else if (c->rtt_timing && tcp_seq_gt(s->ack, c->rtt_seq))
		tcp_rtt_sample(c, c->st->now - c->rtt_start);
	if (tcp_seq_gt(s->ack, c->rtt_seq))
		c->rtt_timing = 0;
}

static void window_update(struct stack_tcp *c, const struct tcp_seg *s)
{
	/* RFC 9293 3.10.7.4: only a newer segment may move the window. */
	if (tcp_seq_lt(c->snd_wl1, s->seq) ||
	    (c->snd_wl1 == s->seq && tcp_seq_le(c->snd_wl2, s->ack))) {
		c->snd_wnd = s->wnd << c->snd_wscale;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (c->snd_wnd > c->max_sndwnd)
			c->max_sndwnd = c->snd_wnd;
	}
}

static void enter_time_wait(struct stack_tcp *c)
{
	c->state = TCP_TIME_WAIT;
	tw_cancel(&c->st->tw, &c->t_rexmt);
	tw_cancel(&c->st->tw, &c->t_delack);
	tcp_keep_arm(c, TCP_TIMEWAIT_NS);
}

/* Our FIN was acknowledged: the state moves on. Returns 0 if c is gone. */
static int fin_acked(struct stack_tcp *c)
{
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		c->state = TCP_FIN_WAIT_2;
		if (c->orphan) /* nobody will close it: do not wait forever */
			tcp_keep_arm(c, TCP_FIN_TIMEOUT_NS);
		return 1;
	case TCP_CLOSING:
		enter_time_wait(c);
		return 1;
	case TCP_LAST_ACK:
		tcp_drop(c, 0);
		return 0;
	default:
		return 1;
	}
}

void tcp_accept_child(struct stack_tcp *c)
{
	struct stack_tcp *l = c->parent;

	l->n_pending--;
	l->n_queued++;
	c->queued = 1;
	if (l->acceptq_tail)
		l->acceptq_tail->qnext = c;
	else
		l->acceptq = c;
	l->acceptq_tail = c;
	tcp_update_events(l);
}

/* RFC 9293 3.10.7.4, fifth check. Returns 0 if c is gone or the segment
 * must go no further. */
static int ack_input(struct stack_tcp *c, const struct tcp_seg *s)
{

	if (c->state == TCP_SYN_RECEIVED) {
		if (!tcp_seq_gt(s->ack, c->snd_una) || tcp_seq_gt(s->ack, c->snd_max)) {
			tcp_send_rst(c->st, c->dmac, c->rip, c->rport, c->lport, s->ack, 0, 0);
			return 0;
		}
		become_established(c, s);
		if (c->state != TCP_ESTABLISHED)
			return 0;
		if (c->fin_queued) /* closed in SYN-RECEIVED: the FIN goes now */
			c->state = TCP_FIN_WAIT_1;
		if (c->parent)
			tcp_accept_child(c);
		return 1;
	}
	if (tcp_seq_gt(s->ack, c->snd_max)) { /* acks what we never sent */
		c->ack_now = 1;
		return 0;
	}
	if (tcp_seq_lt(s->ack, c->snd_una - c->max_sndwnd)) { /* RFC 5961 5.2 */
		challenge_ack(c);
		return 0;
	}
	uint32_t acked = tcp_seq_gt(s->ack, c->snd_una) ? s->ack - c->snd_una : 0;
	/* RFC 5681 2: a duplicate ACK; the window must be the same, so a
	 * window update is not one. */
	int dup = !acked && s->len == 0 && !(s->flags & (WIRE_TCP_SYN | WIRE_TCP_FIN)) &&
		  c->snd_max != c->snd_una && (s->wnd << c->snd_wscale) == c->snd_wnd;

	if (acked)
		new_ack(c, s);
	uint64_t rtt = tcp_loss_ack(c, acked, &s->o, dup);

	if (acked) {
		rtt_measure(c, s, rtt);
		tcp_rexmt_restart(c); /* RFC 6298 5.3 */
	}
	window_update(c, s);
	if (c->fin_sent && s->ack == c->fin_seq + 1)
		return fin_acked(c);
	return 1;
}

/* Copies len bytes at sequence seq into the receive ring. */
void tcp_ring_copy_in(struct stack_tcp *c, uint32_t seq, const uint8_t *src, uint32_t len)
{
	uint32_t off = seq & (c->rb_cap - 1), first = c->rb_cap - off;

	if (first > len)
		first = len;
	memcpy(c->rbuf + off, src, first);
	memcpy(c->rbuf, src + first, len - first);
}

/* Records [seq, seq+len) beyond RCV.NXT; the changed range goes first,
 * as SACK wants the most recent block first (RFC 2018 4). */
static int ooo_insert(struct stack_tcp *c, uint32_t seq, uint32_t len)
{
	struct tcp_range r = { seq, seq + len };

	for (unsigned i = 0; i < c->n_ooo;) {
		struct tcp_range *q = &c->ooo[i];

		if (tcp_seq_le(q->left, r.right) && tcp_seq_ge(q->right, r.left)) {
			r.left = tcp_seq_min(r.left, q->left);
			r.right = tcp_seq_max(r.right, q->right);
			memmove(q, q + 1, (--c->n_ooo - i) * sizeof(*q));
		} else {
			i++;
		}
	}
	if (c->n_ooo == TCP_OOO_MAX)
		return -1;
	memmove(c->ooo + 1, c->ooo, c->n_ooo * sizeof(*c->ooo));
	c->ooo[0] = r;
	c->n_ooo++;
	return 0;
}

/* RCV.NXT moved: take in the out-of-order ranges it has reached. */
static int ooo_advance(struct stack_tcp *c)
{
	int filled = 0;

	for (unsigned i = 0; i < c->n_ooo;) {
		if (tcp_seq_le(c->ooo[i].left, c->rcv_nxt)) {
			if (tcp_seq_gt(c->ooo[i].right, c->rcv_nxt))
				c->rcv_nxt = c->ooo[i].right;
			memmove(c->ooo + i, c->ooo + i + 1, (--c->n_ooo - i) * sizeof(*c->ooo));
			filled = 1;
			i = 0; /* a merge may reach an earlier entry */
		} else {
			i++;
		}
	}
	return filled;
}

static void note_dsack(struct stack_tcp *c, uint32_t left, uint32_t right)
{
	if (!c->sack_ok)
		return;
	c->dsack.left = left;
	c->dsack.right = right;
	c->has_dsack = 1;
}

/* RFC 9293 3.10.7.4, seventh check: segment text. */
static void data_input(struct stack_tcp *c, const struct tcp_seg *s)
{
	uint32_t seq = s->seq, len = s->len, right = c->rcv_user + c->rb_cap;
	const uint8_t *data = s->data;

	if (tcp_seq_lt(seq, c->rcv_nxt)) { /* starts with old data */
		uint32_t old = c->rcv_nxt - seq;

		note_dsack(c, seq, old < len ? c->rcv_nxt : seq + len);
		c->ack_now = 1;
		if (old >= len)
			return;
		seq += old;
		data += old;
		len -= old;
	}
	if (tcp_seq_gt(seq + len, right)) /* beyond the window: cut */
		len = tcp_seq_gt(right, seq) ? right - seq : 0;
	if (!len) {
		c->ack_now = 1;
		return;
	}
	if (seq != c->rcv_nxt) {
		/* RFC 5681 4.2: out of order, ACK at once (a duplicate ACK). */
		c->ack_now = 1;
		if (ooo_insert(c, seq, len) < 0) {
			c->st->stats.drops[STACK_DROP_TCP_OOO_FULL]++;
			return;
		}
		tcp_ring_copy_in(c, seq, data, len);
		return;
	}
	tcp_ring_copy_in(c, seq, data, len);
	c->rcv_nxt += len;
	if (ooo_advance(c))
		c->ack_now = 1; /* a gap filled: ACK at once (RFC 5681 4.2) */
	if (len >= c->mss && ++c->unacked_segs >= 2)
		c->ack_now = 1; /* every second full segment (RFC 5681 4.2) */
	/* More than a full segment's worth unacknowledged, as a message of a
	 * full segment and a short tail: ACK at once as Linux does
	 * (__tcp_ack_snd_check), or the sender's tail loss probe, armed
	 * for two segments in flight with no delayed-ACK allowance (RFC
	 * 8985 7.2), fires into our delayed ACK. */
	if (c->rcv_nxt - c->rcv_acked > c->mss)
		c->ack_now = 1;
	if (!c->ack_now)
		tcp_delack_arm(c);
}

/* RFC 9293 3.10.7.4, eighth check: the peer's FIN, once in sequence. */
static void fin_input(struct stack_tcp *c)
{
	c->rcv_nxt++;
	c->fin_rcvd = 1;
	c->ooo_fin = 0;
	c->ack_now = 1;
	switch (c->state) {
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
		c->state = TCP_CLOSE_WAIT;
		break;
	case TCP_FIN_WAIT_1: /* our FIN not yet acked: simultaneous close */
		c->state = TCP_CLOSING;
		break;
	case TCP_FIN_WAIT_2:
		enter_time_wait(c);
		break;
	default:
		break;
	}
}

static int can_receive(const struct stack_tcp *c)
{
	return c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
	       c->state == TCP_FIN_WAIT_2;
}

static void paws_or_window_reject(struct stack_tcp *c, const struct tcp_seg *s,
				  enum stack_drop why)
{
	c->st->stats.drops[why]++;
	if (s->flags & WIRE_TCP_RST)
		return;
	if (why == STACK_DROP_TCP_WINDOW && s->len && tcp_seq_lt(s->seq, c->rcv_nxt))
		note_dsack(c, s->seq, tcp_seq_min(s->seq + s->len, c->rcv_nxt));
	tcp_send_ack(c); /* RFC 9293 3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT> */
}

static void synced_input(struct stack_tcp *c, const struct tcp_seg *s)
{
	/* RFC 7323 5.3: PAWS before anything else (TCP_PAWS_WINDOW). */
	if (c->ts_ok && s->o.has_ts && !(s->flags & WIRE_TCP_RST) &&
	    tcp_seq_lt(s->o.tsval + TCP_PAWS_WINDOW, c->ts_recent)) {
		paws_or_window_reject(c, s, STACK_DROP_TCP_PAWS);
		return;
	}
	if (!acceptable(c, s)) {
		paws_or_window_reject(c, s, STACK_DROP_TCP_WINDOW);
		return;
	}
	/* RFC 7323 4.3: remember the newest timestamp of in-window segments. */
	if (c->ts_ok && s->o.has_ts && tcp_seq_le(s->seq, c->rcv_nxt) &&
	    tcp_seq_ge(s->o.tsval, c->ts_recent))
		c->ts_recent = s->o.tsval;
	c->last_rx = c->st->now;
	c->keep_probes = 0;
	if (s->flags & WIRE_TCP_RST) {
		rst_input(c, s);
		return;
	}
	if (s->flags & WIRE_TCP_SYN) {
		if (c->state == TCP_SYN_RECEIVED && s->seq == c->irs)
			tcp_send_syn(c); /* our SYN-ACK was lost */
		else
			challenge_ack(c); /* RFC 5961 4.2 */
		return;
	}
	if (!(s->flags & WIRE_TCP_ACK) || !ack_input(c, s))
		return;
	if (c->keepalive && c->state == TCP_ESTABLISHED)
		tcp_keep_arm(c, (uint64_t)c->keepidle_s * 1000000000ull);
	if (s->len && can_receive(c)) {
		if (c->orphan) {
			/* Data for a closed socket: RST, as Linux (RFC 2525 2.17). */
			tcp_send_rst(c->st, c->dmac, c->rip, c->rport, c->lport,
				     c->snd_nxt, 0, 0);
			tcp_drop(c, 0);
			return;
		}
		data_input(c, s);
	}
	if (s->flags & WIRE_TCP_FIN) {
		uint32_t fin_seq = s->seq + s->len;

		if (fin_seq == c->rcv_nxt && !c->fin_rcvd)
			fin_input(c);
		else if (tcp_seq_gt(fin_seq, c->rcv_nxt)) {
			c->ooo_fin = 1;
			c->ooo_fin_seq = fin_seq;
		} else if (c->state == TCP_TIME_WAIT) {
			c->ack_now = 1; /* a retransmitted FIN: ACK, restart 2MSL */
			tcp_keep_arm(c, TCP_TIMEWAIT_NS);
		}
	}
	if (c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt)
		fin_input(c);
}

/* RFC 6191: a SYN may reuse a TIME-WAIT tuple when its timestamp (or,
 * without timestamps, its sequence number) is newer. */
static int time_wait_reusable(const struct stack_tcp *c, const struct tcp_seg *s)
{
	if ((s->flags & (WIRE_TCP_SYN | WIRE_TCP_ACK | WIRE_TCP_RST)) != WIRE_TCP_SYN)
		return 0;
	if (c->ts_ok && s->o.has_ts)
		return tcp_seq_gt(s->o.tsval, c->ts_recent);
	return tcp_seq_gt(s->seq, c->rcv_nxt);
}

static int parse(struct stack *st, void *pkt, const struct wire_ipv4_view *ip,
		 const uint8_t *frame, struct tcp_seg *s, uint16_t *sport,
		 uint16_t *dport)
{
	struct wire_tcp_view v;
	/* the port may have checked the checksum already */
	int verified = !!(st->ops->pkt_rx_flags(pkt) & STACK_RX_L4_CSUM_GOOD);
	int rc = wire_tcp_parse(ip->payload, ip->payload_len, ip->src, ip->dst,
				verified, &v);
	uint8_t f;

	if (rc < 0) {
		st->stats.drops[rc == -EBADMSG ? STACK_DROP_TCP_CSUM :
						  STACK_DROP_TCP_MALFORMED]++;
		return -1;
	}
	f = v.flags;
	/* No flag at all, SYN with FIN or RST: scans, never a real peer. */
	if (!(f & (WIRE_TCP_SYN | WIRE_TCP_ACK | WIRE_TCP_RST)) ||
	    ((f & WIRE_TCP_SYN) && (f & (WIRE_TCP_FIN | WIRE_TCP_RST))) ||
	    wire_tcp_parse_opts(v.opts, v.opts_len, &s->o) < 0 || !v.sport || !v.dport) {
		st->stats.drops[STACK_DROP_TCP_MALFORMED]++;
		return -1;
	}
	s->seq = v.seq;
	s->ack = v.ack;
	s->wnd = v.window;
	s->flags = f;
	s->data = v.payload;
	s->len = v.payload_len;
	s->smac = ((const struct wire_eth *)frame)->src;
	*sport = v.sport;
	*dport = v.dport;
	return 0;
}

void tcp_input(struct stack *st, void *pkt, uint8_t *frame,
	       const struct wire_ipv4_view *ip)
{
	struct stack_tcp *c, *l;
	struct tcp_seg s;
	uint16_t sport, dport;

	if (parse(st, pkt, ip, frame, &s, &sport, &dport) == 0) {
		st->stats.tcp_segs_in++;
		c = tcp_lookup(st, ip->src, sport, dport);
		if (c && c->state == TCP_TIME_WAIT && time_wait_reusable(c, &s)) {
			tcp_drop(c, 0);
			c = NULL;
		}
		if (c && c->state == TCP_SYN_SENT) {
			syn_sent_input(c, &s);
		} else if (c) {
			synced_input(c, &s);
		} else if (steered(st, pkt, ip->src, sport, dport,
				   (s.flags & (WIRE_TCP_SYN | WIRE_TCP_ACK)) == WIRE_TCP_SYN)) {
			return; /* the frame is on its way to its stack */
		} else if ((l = tcp_listener_for(st, dport, ip->src, sport)) != NULL) {
			listen_input(l, ip->src, sport, &s, handed(st, pkt));
		} else {
			closed_input(st, ip->src, sport, dport, &s, handed(st, pkt));
		}
		/* Look again: a drop took c out of the table (it is still
		 * valid, tcp.h), and a SYN may have made a new one. */
		c = tcp_lookup(st, ip->src, sport, dport);
		if (c) {
			tcp_output(c);
			tcp_update_events(c);
		}
	}
	st->ops->pkt_free(st->ctx, pkt);
}

/*
 * ICMP for one of our connections. Believed only when the quoted sequence
 * number is in flight (RFC 5927 4.1), so a blind attacker must guess it.
 * "Fragmentation needed" lowers the path MTU and resends what may have
 * been too big (RFC 1191 6.5); "port/protocol unreachable" during connect
 * is a refusal, as Linux reports it; other codes are left to the timers
 * (RFC 1122 4.2.3.9: soft errors).
 */
int tcp_icmp_unreach(struct stack *st, void *pkt, uint32_t dst, uint16_t sport,
		     uint16_t dport, uint32_t seq, uint8_t code, uint16_t mtu)
{
	struct stack_tcp *c = tcp_lookup(st, dst, dport, sport);
	uint32_t mss;

	if (!c && steered(st, pkt, dst, dport, sport, 0))
		return 1;
	if (!c || !tcp_seq_ge(seq, c->snd_una) || !tcp_seq_lt(seq, c->snd_max))
		return 0;
	if (c->state == TCP_SYN_SENT &&
	    (code == WIRE_ICMP_UNREACH_PORT || code == WIRE_ICMP_UNREACH_PROTO)) {
		tcp_drop(c, -ECONNREFUSED);
		return 0;
	}
	if (code != WIRE_ICMP_UNREACH_NEEDFRAG || !tcp_synced(c))
		return 0;
	if (mtu < TCP_PMTU_MIN)
		mtu = TCP_PMTU_MIN; /* also when the router did not say (RFC 1191 5) */
	mss = mtu - WIRE_IPV4_HLEN - WIRE_TCP_HLEN - (c->ts_ok ? 12u : 0u);
	if (mss >= c->mss)
		return 0;
	c->mss = (uint16_t)mss;
	st->stats.tcp_pmtu_updates++;
	tcp_loss_mark_all(c); /* resend in the smaller size (RFC 1191 6.5) */
	tcp_output(c);
	tcp_update_events(c);
	return 0;
}
