/*
 * tcp_cc.c - congestion control: NewReno's window (RFC 5681) with the
 * initial window of RFC 6928 and appropriate byte counting (RFC 3465).
 * Other algorithms replace these five functions; inside recovery the
 * window follows proportional rate reduction (tcp_loss.c, RFC 6937)
 * toward the ssthresh chosen here.
 */
#include "tcp.h"

static uint32_t half_flight(const struct stack_tcp *c)
{
	uint32_t half = tcp_flight(c) / 2;

	return half > 2u * c->mss ? half : 2u * c->mss; /* RFC 5681 (4) */
}

void tcp_cc_init(struct stack_tcp *c)
{
	uint32_t mss = c->mss, bytes = 2 * mss > 14600 ? 2 * mss : 14600;

	/* RFC 6928 2: min(10*MSS, max(2*MSS, 14600)) */
	c->cwnd = TCP_INIT_CWND_SEGS * mss < bytes ? TCP_INIT_CWND_SEGS * mss : bytes;
	c->ssthresh = 0x7fffffff; /* RFC 5681 3.1: arbitrarily high */
}

void tcp_cc_established(struct stack_tcp *c)
{
	/* The window counts in the MSS the SYNs agreed, not the 536 that
	 * stood until then. RFC 5681 3.1: after a lost SYN or SYN-ACK the
	 * initial window is one segment. */
	tcp_cc_init(c);
	if (c->retries)
		c->cwnd = c->mss;
}

/* After a transmit round: what the window's use was (RFC 7661 4). */
void tcp_cc_sent(struct stack_tcp *c, int cwnd_limited)
{
	uint32_t flight = tcp_flight(c);

	if (tcp_seq_ge(c->snd_una, c->use_seq) || cwnd_limited ||
	    (!c->use_limited && flight > c->use_flight)) {
		c->use_limited = (uint8_t)cwnd_limited;
		c->use_flight = flight;
		c->use_seq = c->snd_nxt;
	}
}

/* Whether the window was used: in slow start, if it is less than twice
 * the largest flight (so it can double what was acknowledged); beyond
 * it, if it held data back. An application that sends less than the
 * window allows does not grow it (RFC 7661 4.3). */
static int cwnd_used(const struct stack_tcp *c)
{
	if (c->cwnd < c->ssthresh)
		return c->cwnd < 2 * c->use_flight;
	return c->use_limited;
}

void tcp_cc_ack(struct stack_tcp *c, uint32_t acked)
{
	if (!cwnd_used(c))
		return;
	if (c->cwnd < c->ssthresh) /* slow start, L = 2 (RFC 3465 2.2) */
		c->cwnd += acked < 2u * c->mss ? acked : 2u * c->mss;
	else /* congestion avoidance: one MSS per window (RFC 5681 (3)) */
		c->cwnd += (uint32_t)((uint64_t)c->mss * c->mss / c->cwnd) + 1;
	if (c->cwnd > TCP_BUF_MAX * 2)
		c->cwnd = TCP_BUF_MAX * 2;
}

void tcp_cc_enter_recovery(struct stack_tcp *c)
{
	c->ssthresh = half_flight(c); /* RFC 5681 (4) */
}

void tcp_cc_exit_recovery(struct stack_tcp *c)
{
	c->cwnd = c->ssthresh; /* RFC 6937 3.1: recovery ends at ssthresh */
}

void tcp_cc_rto(struct stack_tcp *c)
{
	if (c->retries <= 1) /* RFC 5681 (4): only on the first timeout */
		c->ssthresh = half_flight(c);
	c->cwnd = c->mss; /* the loss window */
}
