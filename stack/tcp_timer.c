/*
 * tcp_timer.c - a timer fires: retransmission and persist (RFC 6298,
 * RFC 9293 3.8.6.1), delayed ACK (RFC 9293 3.8.6.3), keepalive
 * (RFC 9293 3.8.4), TIME-WAIT and orphaned FIN-WAIT-2.
 */
#include <errno.h>
#include <stddef.h>

#include "tcp.h"

#define CONN_OF(t, field) \
	((struct stack_tcp *)(void *)((char *)(t) - offsetof(struct stack_tcp, field)))

static uint64_t backed_off_rto(const struct stack_tcp *c)
{
	uint64_t rto = c->rto_ns;

	for (unsigned i = 0; i < c->retries && rto < TCP_RTO_MAX_NS; i++)
		rto <<= 1; /* RFC 6298 5.5: double at each expiry */
	return rto < TCP_RTO_MAX_NS ? rto : TCP_RTO_MAX_NS;
}

/* RFC 6298 2.2 and 2.3, with G = one wheel tick. */
void tcp_rtt_sample(struct stack_tcp *c, uint64_t r)
{
	uint64_t var;

	if (!c->rtt_valid) {
		c->srtt_ns = r;
		c->rttvar_ns = r / 2;
		c->rtt_valid = 1;
	} else {
		uint64_t diff = c->srtt_ns > r ? c->srtt_ns - r : r - c->srtt_ns;

		c->rttvar_ns = (3 * c->rttvar_ns + diff) / 4;
		c->srtt_ns = (7 * c->srtt_ns + r) / 8;
	}
	var = 4 * c->rttvar_ns > TCP_TICK_NS ? 4 * c->rttvar_ns : TCP_TICK_NS;
	c->rto_ns = c->srtt_ns + var;
	if (c->rto_ns < TCP_RTO_MIN_NS)
		c->rto_ns = TCP_RTO_MIN_NS;
	if (c->rto_ns > TCP_RTO_MAX_NS)
		c->rto_ns = TCP_RTO_MAX_NS;
}

/* RFC 8985 7.2: the probe timeout, 2*SRTT (with a floor), when a probe is
 * allowed now; else 0. Only for SACK connections, with an RTT sample,
 * once per flight, and only if it comes before the RTO. RFC 8985 allows
 * it in the open state only; we also allow it in recovery once every
 * segment known lost was resent: the one ACK a Linux receiver sends for a
 * burst (it acknowledges a whole batch from the tap at once) is then the
 * only thing that can end recovery, and losing it would cost an RTO. */
static uint64_t tlp_timeout(const struct stack_tcp *c)
{
	uint64_t pto;

	if (!c->sack_ok || c->ca_state == TCP_CA_LOSS || c->lost_bytes ||
	    !c->rtt_valid || c->tlp_sent || c->retries || !tcp_synced(c))
		return 0;
	pto = 2 * c->srtt_ns;
	if (pto < TCP_TLP_MIN_NS)
		pto = TCP_TLP_MIN_NS;
	if (c->txs_n == 1) /* the peer may hold its ACK for a lone segment */
		pto += TCP_TLP_DELACK_NS;
	return pto < backed_off_rto(c) ? pto : 0;
}

/* Nothing in flight, data waiting, and a window of zero, or one too
 * small to be worth a segment (sender SWS avoidance holds the data): the
 * persist timer probes the first, and is the override timer of RFC 9293
 * 3.8.6.2.1 for the second. */
static int persist_needed(const struct stack_tcp *c)
{
	uint32_t unsent = c->snd_una + c->sb_len - c->snd_nxt;

	return c->snd_una == c->snd_max && unsent && tcp_synced(c) &&
	       (c->snd_wnd == 0 || (c->snd_wnd < c->mss && c->snd_wnd < unsent));
}

/* RFC 6298 5.1: the retransmission timer runs while anything is
 * unacknowledged (started if it is not running, never pushed back here);
 * otherwise, with data held back by the peer's window, it runs as the
 * persist timer; otherwise it is off. */
void tcp_rexmt_arm(struct stack_tcp *c)
{
	struct timer_wheel *w = &c->st->tw;

	c->t_rexmt.kind = TCP_T_REXMT;
	if (c->snd_una != c->snd_max || c->state == TCP_SYN_SENT || c->arp_wait) {
		if (c->reo_at && (!tw_armed(&c->t_rexmt) || !c->reo_armed)) {
			/* RACK's reordering timer comes before TLP and RTO */
			c->reo_armed = 1;
			c->tlp_armed = 0;
			tw_arm(w, &c->t_rexmt, c->reo_at > c->st->now ? c->reo_at : c->st->now);
		} else if (!tw_armed(&c->t_rexmt) || c->persist ||
			   (!c->tlp_armed && !c->reo_armed && tlp_timeout(c))) {
			/* (the last: recovery resent its last lost segment since
			 * the RTO was armed, so a probe may come first now) */
			uint64_t pto = tlp_timeout(c);

			c->reo_armed = 0;
			c->tlp_armed = pto != 0;
			tw_arm(w, &c->t_rexmt, c->st->now + (pto ? pto : backed_off_rto(c)));
		}
		c->persist = 0;
	} else if (persist_needed(c)) {
		c->reo_armed = c->tlp_armed = 0;
		if (!c->persist || !tw_armed(&c->t_rexmt))
			tw_arm(w, &c->t_rexmt, c->st->now + backed_off_rto(c));
		c->persist = 1;
	} else {
		tw_cancel(w, &c->t_rexmt);
		c->persist = 0;
	}
}

/* RFC 6298 5.3: an ACK of new data restarts the timer. */
void tcp_rexmt_restart(struct stack_tcp *c)
{
	tw_cancel(&c->st->tw, &c->t_rexmt);
	c->persist = 0;
	tcp_rexmt_arm(c);
}

void tcp_delack_arm(struct stack_tcp *c)
{
	c->t_delack.kind = TCP_T_DELACK;
	if (!tw_armed(&c->t_delack))
		tw_arm(&c->st->tw, &c->t_delack, c->st->now + TCP_DELACK_NS);
}

void tcp_keep_arm(struct stack_tcp *c, uint64_t after_ns)
{
	c->t_keep.kind = TCP_T_KEEP;
	tw_arm(&c->st->tw, &c->t_keep, c->st->now + after_ns);
}

void tcp_timers_cancel(struct stack_tcp *c)
{
	tw_cancel(&c->st->tw, &c->t_rexmt);
	tw_cancel(&c->st->tw, &c->t_delack);
	tw_cancel(&c->st->tw, &c->t_keep);
}

static void syn_timeout(struct stack_tcp *c)
{
	unsigned limit = c->state == TCP_SYN_SENT ? TCP_SYN_RETRIES : TCP_SYNACK_RETRIES;

	if (c->arp_wait) { /* still resolving: ask again, keep waiting */
		if (stack_resolve(c->st, c->rip, c->dmac) == 0) {
			c->arp_wait = 0;
			c->has_dmac = 1;
			tcp_send_syn(c);
		} else if (c->st->now - c->rtt_start > TCP_RTO_INIT_NS * 3) {
			tcp_drop(c, -EHOSTUNREACH);
			return;
		}
		tw_arm(&c->st->tw, &c->t_rexmt, c->st->now + STACK_ARP_RETRY_NS / 50);
		return;
	}
	if (++c->retries > limit) {
		c->st->stats.tcp_timeouts++;
		tcp_drop(c, -ETIMEDOUT);
		return;
	}
	tcp_send_syn(c);
	tcp_rexmt_arm(c);
}

/* RFC 8985 7.3, with one change: the probe is always the last segment
 * again, never a new one. A receiver with delayed ACKs (Linux: 40 ms)
 * holds its ACK for a lone new segment, while a duplicate draws an ACK at
 * once (RFC 9293 3.10.7.4), with SACKs that start fast recovery if the
 * tail was lost. The RTO is armed as usual after it. */
static void tail_probe(struct stack_tcp *c)
{
	c->tlp_armed = 0;
	c->tlp_sent = 1;
	c->st->stats.tcp_tail_probes++;
	tcp_resend_last(c);
	tcp_rexmt_arm(c);
}

static void rexmt_fire(struct stack_tcp *c)
{
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		syn_timeout(c);
		return;
	}
	if (c->persist) {
		c->persist = 0;
		if (c->snd_wnd) { /* a small window: send what fits */
			c->sws_override = 1;
			tcp_output(c);
			c->sws_override = 0;
		} else {
			/* RFC 9293 3.8.6.1: probe a zero window, backing off,
			 * for as long as the peer keeps answering. */
			if (c->retries < 16)
				c->retries++;
			tcp_send_probe(c, 0);
		}
		tcp_rexmt_arm(c);
		return;
	}
	if (c->reo_armed) {
		c->reo_armed = 0;
		c->reo_at = 0;
		tcp_loss_reo_timeout(c);
		tcp_output(c);
		tcp_rexmt_restart(c);
		return;
	}
	if (c->tlp_armed) {
		tail_probe(c);
		return;
	}
	if (++c->retries > TCP_DATA_RETRIES) {
		c->st->stats.tcp_timeouts++;
		tcp_drop(c, -ETIMEDOUT);
		return;
	}
	c->st->stats.tcp_rtos++;
	if (c->retries >= TCP_NEIGH_RETRIES) {
		stack_neigh_doubt(c->st, c->rip);
		c->nb_check = 0;
	}
	tcp_loss_rto(c);
	tcp_output(c);
	tcp_rexmt_arm(c);
}

static void keep_fire(struct stack_tcp *c)
{
	struct stack *st = c->st;
	uint64_t idle;

	if (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2) {
		tcp_drop(c, 0);
		return;
	}
	if (!c->keepalive || c->state != TCP_ESTABLISHED)
		return;
	idle = st->now - c->last_rx;
	if (idle < (uint64_t)c->keepidle_s * 1000000000ull && !c->keep_probes) {
		tcp_keep_arm(c, (uint64_t)c->keepidle_s * 1000000000ull - idle);
		return;
	}
	if (c->keep_probes >= c->keepcnt) {
		st->stats.tcp_timeouts++;
		tcp_drop(c, -ETIMEDOUT);
		return;
	}
	c->keep_probes++;
	tcp_send_probe(c, 1);
	tcp_keep_arm(c, (uint64_t)c->keepintvl_s * 1000000000ull);
}

static void fire(struct stack_timer *t, void *arg)
{
	struct stack_tcp *c;

	(void)arg;
	switch (t->kind) {
	case TCP_T_REXMT:
		c = CONN_OF(t, t_rexmt);
		rexmt_fire(c);
		break;
	case TCP_T_DELACK:
		c = CONN_OF(t, t_delack);
		if (c->state != TCP_CLOSED)
			tcp_send_ack(c);
		return;
	case TCP_T_KEEP:
		c = CONN_OF(t, t_keep);
		keep_fire(c);
		break;
	default:
		return;
	}
	/* c is valid even after a drop: it is freed only when the poll that
	 * runs the timers returns (tcp.h). */
	tcp_update_events(c);
}

void tcp_timers_run(struct stack *st)
{
	tw_advance(&st->tw, st->now, fire, st);
}
