/*
 * tcp_loss.c - the sender's memory of what it sent, and what follows from
 * the ACKs: a record per segment (the SACK scoreboard of RFC 6675 kept per
 * segment, as RFC 8985 assumes), RACK-TLP loss detection by time
 * (RFC 8985), proportional rate reduction in recovery (RFC 6937), and the
 * retransmission of what is lost.
 *
 * Why by time: a segment is lost when one sent after it was delivered and
 * more than an RTT plus a reordering window has passed since it was sent.
 * That finds lost retransmissions and lost tails, and tolerates reordering
 * that counting duplicate ACKs mistakes for loss; and it does not depend
 * on the peer's window staying constant, which Linux's does not.
 */
#include <stdlib.h>

#include "tcp.h"

static struct tcp_txseg *rec_at(const struct stack_tcp *c, uint32_t i)
{
	return &c->txs[(c->txs_head + i) & c->txs_mask];
}

int tcp_txs_alloc(struct stack_tcp *c)
{
	uint32_t n = TCP_TXS_MIN;

	if (c->txs)
		return 0;
	while (n < c->sb_cap / TCP_TXS_BYTES_PER_REC)
		n <<= 1;
	c->txs = calloc(n, sizeof(*c->txs));
	if (!c->txs)
		return -1;
	c->txs_mask = n - 1;
	c->reo_mult = 1;
	return 0;
}

int tcp_txs_full(const struct stack_tcp *c)
{
	return c->txs_n > c->txs_mask;
}

/* New data [seq, end) left just now. */
void tcp_txs_sent(struct stack_tcp *c, uint32_t seq, uint32_t end)
{
	struct tcp_txseg *r;

	if (tcp_txs_full(c))
		return; /* the caller checks first; never overwrite */
	r = rec_at(c, c->txs_n++);
	r->seq = seq;
	r->end = end;
	r->xmit_ns = c->st->now;
	r->flags = 0;
	if (c->ca_state == TCP_CA_RECOVERY)
		c->prr_out += end - seq;
}

/* RFC 6675 pipe: what is still in the network. */
uint32_t tcp_pipe(const struct stack_tcp *c)
{
	uint32_t out = tcp_flight(c) - c->sacked_bytes - c->lost_bytes;

	return out > tcp_flight(c) ? 0 : out;
}

static void set_flag(struct stack_tcp *c, struct tcp_txseg *r, uint8_t f)
{
	uint32_t len = r->end - r->seq;

	if (r->flags & f)
		return;
	if (f == TCP_TX_SACKED) {
		if (r->flags & TCP_TX_LOST)
			c->lost_bytes -= len;
		r->flags = (uint8_t)((r->flags & ~TCP_TX_LOST) | TCP_TX_SACKED);
		c->sacked_bytes += len;
	} else if (f == TCP_TX_LOST && !(r->flags & TCP_TX_SACKED)) {
		r->flags |= TCP_TX_LOST;
		c->lost_bytes += len;
	}
}

/* ---- RACK (RFC 8985 6.2) ------------------------------------------------ */

static int sent_after(uint64_t t1, uint32_t end1, uint64_t t2, uint32_t end2)
{
	return t1 > t2 || (t1 == t2 && tcp_seq_gt(end1, end2));
}

/* Step 2 and 3 for one newly delivered segment. */
static void rack_update(struct stack_tcp *c, const struct tcp_txseg *r)
{
	uint64_t rtt = c->st->now - r->xmit_ns;

	if (tcp_seq_gt(r->end, c->rack_fack))
		c->rack_fack = r->end;
	else if (!(r->flags & TCP_TX_RETRANS))
		c->rack_reord = 1; /* delivered below one delivered before */
	/* A retransmitted segment's ACK may answer the original: an RTT
	 * shorter than the path's minimum says so (RFC 8985 6.2 step 2). */
	if ((r->flags & TCP_TX_RETRANS) && c->min_rtt_ns && rtt < c->min_rtt_ns)
		return;
	if (!(r->flags & TCP_TX_RETRANS) && (!c->min_rtt_ns || rtt < c->min_rtt_ns))
		c->min_rtt_ns = rtt ? rtt : 1;
	c->rack_rtt_ns = rtt;
	if (sent_after(r->xmit_ns, r->end, c->rack_xmit_ns, c->rack_end)) {
		c->rack_xmit_ns = r->xmit_ns;
		c->rack_end = r->end;
	}
}

/* Step 4: the reordering window. */
static uint64_t reo_wnd(const struct stack_tcp *c)
{
	uint64_t w;

	if (!c->rack_reord && (c->ca_state != TCP_CA_OPEN ||
			       c->sacked_bytes >= TCP_DUPTHRESH * (uint32_t)c->mss))
		return 0;
	w = c->min_rtt_ns / 4 * c->reo_mult;
	return c->rtt_valid && w > c->srtt_ns ? c->srtt_ns : w;
}

/* A D-SACK says a retransmission was spurious: widen the window, at most
 * once a round trip, and keep it wide for 16 recoveries. */
static void rack_dsack(struct stack_tcp *c)
{
	if (c->dsack_round && tcp_seq_lt(c->snd_una, c->dsack_round))
		return;
	if (c->reo_mult < 255)
		c->reo_mult++;
	c->dsack_round = c->snd_max;
	c->reo_persist = 16;
}

/* Step 5: marks what was sent before the latest delivered segment and is
 * overdue; sets the reordering timer for what is not overdue yet. */
static void rack_detect(struct stack_tcp *c)
{
	uint64_t now = c->st->now, wnd = reo_wnd(c), wait = 0;

	c->reo_at = 0;
	if (!c->rack_xmit_ns)
		return;
	for (uint32_t i = 0; i < c->txs_n; i++) {
		struct tcp_txseg *r = rec_at(c, i);
		uint64_t due;

		if (r->flags & (TCP_TX_SACKED | TCP_TX_LOST))
			continue;
		if (!sent_after(c->rack_xmit_ns, c->rack_end, r->xmit_ns, r->end)) {
			if (tcp_seq_ge(r->seq, c->rack_end))
				break; /* from here on all were sent later */
			continue;
		}
		due = r->xmit_ns + c->rack_rtt_ns + wnd;
		if (due <= now)
			set_flag(c, r, TCP_TX_LOST);
		else if (due - now > wait)
			wait = due - now;
	}
	if (wait)
		c->reo_at = now + wait;
}

/* ---- undo (RFC 2883 5) --------------------------------------------------- */

/* The window before a reduction, to restore if the reduction proves to
 * have been for nothing. */
static void undo_prepare(struct stack_tcp *c)
{
	c->prior_cwnd = c->cwnd;
	c->prior_ssthresh = c->ssthresh;
	c->undo_retrans = 0;
}

/*
 * Every segment resent in this episode was D-SACKed: the peer had them
 * all, the "loss" was reordering or delay (RFC 2883 5, RFC 3708). The
 * reduction is undone, as Linux's tcp_try_undo_dsack does, and the episode
 * ends if it still runs (the D-SACK for a delayed original often comes
 * after the resend ended it). Without it each reordering costs half the
 * window, and under 25 % reordering the window never grows.
 */
static void undo(struct stack_tcp *c)
{
	if (c->cwnd < c->prior_cwnd)
		c->cwnd = c->prior_cwnd;
	if (c->ssthresh < c->prior_ssthresh)
		c->ssthresh = c->prior_ssthresh;
	c->undo_retrans = -1;
	c->ca_state = TCP_CA_OPEN;
	c->st->stats.tcp_undos++;
}

/* ---- the scoreboard ----------------------------------------------------- */

/* Index of the first record ending after seq (txs_n if none). */
static uint32_t find_rec(const struct stack_tcp *c, uint32_t seq)
{
	uint32_t lo = 0, hi = c->txs_n;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (tcp_seq_le(rec_at(c, mid)->end, seq))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Drops the records SND.UNA has passed, as delivered; returns the RTT of
 * the newest one sent only once (Karn), or 0. */
static uint64_t take_cum_ack(struct stack_tcp *c)
{
	uint64_t rtt = 0;

	while (c->txs_n) {
		struct tcp_txseg *r = rec_at(c, 0);
		uint32_t len;

		if (tcp_seq_le(r->end, c->snd_una)) {
			len = r->end - r->seq;
			if (!(r->flags & TCP_TX_SACKED))
				rack_update(c, r);
			if (!(r->flags & (TCP_TX_SACKED | TCP_TX_RETRANS)))
				rtt = c->st->now - r->xmit_ns + 1;
			if (r->flags & TCP_TX_SACKED)
				c->sacked_bytes -= len;
			if (r->flags & TCP_TX_LOST)
				c->lost_bytes -= len;
			c->txs_head = (c->txs_head + 1) & c->txs_mask;
			c->txs_n--;
			continue;
		}
		if (tcp_seq_lt(r->seq, c->snd_una)) { /* a partial ACK inside it */
			len = c->snd_una - r->seq;
			if (r->flags & TCP_TX_SACKED)
				c->sacked_bytes -= len;
			if (r->flags & TCP_TX_LOST)
				c->lost_bytes -= len;
			r->seq = c->snd_una;
		}
		break;
	}
	return rtt;
}

/* RFC 2018 blocks: marks the records a block covers whole. A block below
 * SND.UNA, or inside the next one, is a D-SACK (RFC 2883 4). */
static void take_sacks(struct stack_tcp *c, const struct wire_tcp_opts *o)
{
	for (unsigned b = 0; b < o->sack_count; b++) {
		uint32_t left = o->sack[b].left, right = o->sack[b].right;

		if (!tcp_seq_lt(left, right) || tcp_seq_gt(right, c->snd_max))
			continue; /* nonsense */
		if (b == 0 && (tcp_seq_le(right, c->snd_una) ||
			       (o->sack_count > 1 && tcp_seq_ge(left, o->sack[1].left) &&
				tcp_seq_le(right, o->sack[1].right)))) {
			if (right == c->tlp_high)
				continue; /* a probe's duplicate: no news */
			rack_dsack(c);
			if (c->undo_retrans > 0 && --c->undo_retrans == 0 && !c->lost_bytes)
				undo(c);
			continue;
		}
		for (uint32_t i = find_rec(c, left); i < c->txs_n; i++) {
			struct tcp_txseg *r = rec_at(c, i);

			if (tcp_seq_ge(r->seq, right))
				break;
			if (tcp_seq_ge(r->seq, left) && tcp_seq_le(r->end, right) &&
			    !(r->flags & TCP_TX_SACKED)) {
				rack_update(c, r);
				set_flag(c, r, TCP_TX_SACKED);
			}
		}
	}
}

/* ---- recovery ----------------------------------------------------------- */

static void enter_recovery(struct stack_tcp *c)
{
	c->st->stats.tcp_fast_recoveries++;
	undo_prepare(c);
	tcp_cc_enter_recovery(c);
	c->ca_state = TCP_CA_RECOVERY;
	c->recover = c->snd_max;
	c->prr_delivered = 0;
	c->prr_out = 0;
	c->recover_fs = tcp_flight(c);
	c->rtt_timing = 0; /* Karn */
}

static void exit_recovery(struct stack_tcp *c)
{
	if (c->ca_state == TCP_CA_RECOVERY)
		tcp_cc_exit_recovery(c);
	c->ca_state = TCP_CA_OPEN;
	c->dupacks = 0;
	if (c->reo_persist && !--c->reo_persist)
		c->reo_mult = 1;
}

/* RFC 6937 3: the window for this ACK, from what it delivered. */
static void prr_ack(struct stack_tcp *c, uint32_t delivered)
{
	uint32_t pipe = tcp_pipe(c), sndcnt;

	c->prr_delivered += delivered;
	if (pipe > c->ssthresh) {
		uint64_t share = ((uint64_t)c->prr_delivered * c->ssthresh +
				  c->recover_fs - 1) / (c->recover_fs ? c->recover_fs : 1);

		sndcnt = share > c->prr_out ? (uint32_t)(share - c->prr_out) : 0;
	} else { /* PRR-SSRB: grow back toward ssthresh, at most a segment ahead */
		uint32_t limit = c->prr_delivered > c->prr_out ?
				 c->prr_delivered - c->prr_out : 0;

		if (limit < delivered)
			limit = delivered;
		limit += c->mss;
		sndcnt = c->ssthresh - pipe < limit ? c->ssthresh - pipe : limit;
	}
	if (!c->prr_out && sndcnt < c->mss && c->lost_bytes)
		sndcnt = c->mss; /* the first retransmission goes at once */
	c->cwnd = pipe + sndcnt;
}

uint64_t tcp_loss_ack(struct stack_tcp *c, uint32_t acked, const struct wire_tcp_opts *o,
		      int dup)
{
	uint32_t sacked_before = c->sacked_bytes, delivered;
	uint64_t reo_before = c->reo_at, rtt;

	if (!c->txs)
		return 0;
	rtt = take_cum_ack(c);
	if (c->sack_ok)
		take_sacks(c, o);
	/* RFC 6937: newly acknowledged plus the change in SACKed bytes,
	 * which falls when SACKed data is acknowledged (modulo 2^32 the sum
	 * comes out right: it is never negative). */
	delivered = acked + c->sacked_bytes - sacked_before;
	if (!c->sack_ok) {
		/* RFC 6582: the third duplicate, or in recovery a partial ACK,
		 * says the segment at SND.UNA is lost. */
		if (dup && ++c->dupacks == TCP_DUPTHRESH && c->ca_state == TCP_CA_OPEN && c->txs_n)
			set_flag(c, rec_at(c, 0), TCP_TX_LOST);
		if (acked && c->ca_state == TCP_CA_RECOVERY &&
		    tcp_seq_lt(c->snd_una, c->recover) && c->txs_n)
			set_flag(c, rec_at(c, 0), TCP_TX_LOST);
		if (dup)
			delivered = c->mss; /* RFC 6937: a duplicate ACK delivered one */
	}
	if (acked && c->ca_state != TCP_CA_OPEN && tcp_seq_ge(c->snd_una, c->recover))
		exit_recovery(c);
	rack_detect(c);
	if (c->ca_state == TCP_CA_OPEN && c->lost_bytes)
		enter_recovery(c);
	if (c->ca_state == TCP_CA_RECOVERY)
		prr_ack(c, delivered);
	else if (acked)
		tcp_cc_ack(c, acked); /* open, or slow start after a timeout */
	if (c->reo_at != reo_before) {
		tw_cancel(&c->st->tw, &c->t_rexmt);
		c->reo_armed = 0;
		tcp_rexmt_arm(c);
	}
	return rtt;
}

/* Sends record r again, whole (in several segments if the MSS shrank). */
static int resend(struct stack_tcp *c, struct tcp_txseg *r)
{
	uint32_t seq = r->seq;

	while (tcp_seq_lt(seq, r->end)) {
		uint32_t left = r->end - seq;
		uint32_t n = tcp_retransmit(c, seq, left < c->mss ? left : c->mss);

		if (!n)
			return seq == r->seq ? -1 : 1;
		seq += n;
	}
	if (r->flags & TCP_TX_LOST)
		c->lost_bytes -= r->end - r->seq;
	r->flags = (uint8_t)((r->flags & ~TCP_TX_LOST) | TCP_TX_RETRANS);
	r->xmit_ns = c->st->now;
	if (c->ca_state == TCP_CA_RECOVERY)
		c->prr_out += r->end - r->seq;
	if (c->ca_state != TCP_CA_OPEN && c->undo_retrans >= 0)
		c->undo_retrans++;
	if (r == rec_at(c, 0))
		c->rtt_timing = 0; /* Karn */
	return 1;
}

int tcp_resend_lost(struct stack_tcp *c)
{
	uint32_t pipe;

	if (!c->lost_bytes)
		return 0;
	pipe = tcp_pipe(c);
	for (uint32_t i = 0; i < c->txs_n; i++) {
		struct tcp_txseg *r = rec_at(c, i);

		if (!(r->flags & TCP_TX_LOST))
			continue;
		if (pipe && pipe + (r->end - r->seq) > c->cwnd)
			return 0; /* the window is full */
		return resend(c, r);
	}
	return 0;
}

void tcp_resend_last(struct stack_tcp *c)
{
	if (c->txs_n) {
		c->tlp_high = rec_at(c, c->txs_n - 1)->end;
		resend(c, rec_at(c, c->txs_n - 1));
	}
}

/* Everything not SACKed is presumed lost. */
void tcp_loss_mark_all(struct stack_tcp *c)
{
	for (uint32_t i = 0; i < c->txs_n; i++)
		set_flag(c, rec_at(c, i), TCP_TX_LOST);
}

/*
 * RFC 6298 5.4-5.6 and RFC 5681 3.1: a timeout resends from SND.UNA with a
 * loss window and slow start; recovery starts over (RFC 6582 4). The
 * scoreboard is kept (RFC 6675 5.1 allows either; Linux keeps it unless the
 * peer reneged); a second timeout in a row forgets it, since a receiver
 * that discarded SACKed data leaves SND.UNA unacknowledged for good.
 */
void tcp_loss_rto(struct stack_tcp *c)
{
	if (c->retries > 1) {
		for (uint32_t i = 0; i < c->txs_n; i++)
			rec_at(c, i)->flags &= (uint8_t)~TCP_TX_SACKED;
		c->sacked_bytes = 0;
	}
	if (c->ca_state == TCP_CA_OPEN)
		undo_prepare(c);
	tcp_cc_rto(c);
	tcp_loss_mark_all(c);
	c->ca_state = TCP_CA_LOSS;
	c->dupacks = 0;
	c->recover = c->snd_max;
	c->rtt_timing = 0;
	c->reo_at = 0;
}

/* The reordering timer fired: what it waited for is overdue now. */
void tcp_loss_reo_timeout(struct stack_tcp *c)
{
	rack_detect(c);
	if (c->ca_state == TCP_CA_OPEN && c->lost_bytes)
		enter_recovery(c);
	if (c->ca_state == TCP_CA_RECOVERY)
		prr_ack(c, 0);
}
