/*
 * tcp_subr.c - creating, finding and freeing connections; their buffers;
 * state changes and the readiness events they cause.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp.h"
#include "tcp_isn.h"

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK",
	"TIME-WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ?
	       state_names[s] : "?";
}

int tcp_init(struct stack *st)
{
	st->tcp_hash = calloc(TCP_HASH_BUCKETS, sizeof(*st->tcp_hash));
	if (!st->tcp_hash)
		return -ENOMEM;
	tw_init(&st->tw, st->now, TCP_TICK_NS);
	st->eph_next = (uint16_t)(TCP_EPH_LO + st->conf.seed % (TCP_EPH_HI - TCP_EPH_LO));
	return 0;
}

/* Everything the stack allocated for TCP goes, held or not (tcp.h). */
void tcp_fini(struct stack *st)
{
	while (st->tcp_all)
		tcp_conn_free(st->tcp_all);
	st->tcp_reap = NULL;
	free(st->tcp_hash);
}

/* The connection's ISN (RFC 6528) and timestamp clock (RFC 7323 5.4),
 * from one keyed hash of its 4-tuple; the send sequence starts there. */
void tcp_init_seq(struct stack_tcp *c)
{
	tcp_isn_ts(c->st->conf.isn_key, c->lip, c->lport, c->rip, c->rport, c->st->now,
		   &c->iss, &c->ts_off);
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_sml = c->iss;
	c->recover = c->iss; /* RFC 6582 3.2 step 1 */
}

/* RFC 7323 5.4: a clock of about 1 ms from the process's monotonic clock,
 * started at the connection's own offset (tcp_init_seq). */
uint32_t tcp_ts_now(const struct stack_tcp *c)
{
	return c->ts_off + (uint32_t)(c->st->now / 1000000u);
}

static unsigned hash_of(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint32_t h = rip * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 40503u;

	return (h ^ h >> 15) & (TCP_HASH_BUCKETS - 1);
}

static void all_link(struct stack *st, struct stack_tcp *c)
{
	c->anext = st->tcp_all;
	if (c->anext)
		c->anext->aprev = &c->anext;
	c->aprev = &st->tcp_all;
	st->tcp_all = c;
}

static void all_unlink(struct stack_tcp *c)
{
	*c->aprev = c->anext;
	if (c->anext)
		c->anext->aprev = c->aprev;
	c->anext = NULL;
	c->aprev = NULL;
}

struct stack_tcp *tcp_conn_new(struct stack *st)
{
	struct stack_tcp *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->st = st;
	c->sb_cap = st->conf.sndbuf ? st->conf.sndbuf : TCP_SNDBUF_DEFAULT;
	c->rb_cap = st->conf.rcvbuf ? st->conf.rcvbuf : TCP_RCVBUF_DEFAULT;
	c->rto_ns = TCP_RTO_INIT_NS;
	c->keepidle_s = TCP_KEEPIDLE_S;
	c->keepintvl_s = TCP_KEEPINTVL_S;
	c->keepcnt = TCP_KEEPCNT;
	c->mss = 536; /* RFC 9293 3.7.1 default until the SYN says more */
	c->peer_mss = 536;
	all_link(st, c);
	return c;
}

/* c leaves from's lists for to's (stack_tcp_move); nobody but the user
 * holds it, so it is on no reap list. */
void tcp_conn_rehome(struct stack_tcp *c, struct stack *to)
{
	all_unlink(c);
	c->st = to;
	all_link(to, c);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = TCP_BUF_MIN;

	while (p < n && p < TCP_BUF_MAX)
		p <<= 1;
	return p;
}

/* Buffers come with the first data, so idle connections cost only their
 * control block. */
int tcp_bufs_alloc(struct stack_tcp *c)
{
	if (!c->sbuf) {
		c->sb_cap = pow2_at_least(c->sb_cap);
		c->sbuf = malloc(c->sb_cap);
	}
	if (!c->rbuf) {
		c->rb_cap = pow2_at_least(c->rb_cap);
		c->rbuf = malloc(c->rb_cap);
	}
	return c->sbuf && c->rbuf && tcp_txs_alloc(c) == 0 ? 0 : -ENOMEM;
}

/* RFC 7323 2.3: the smallest shift that lets the window cover the buffer,
 * at least TCP_WSCALE_MIN, at most 14. */
void tcp_choose_wscale(struct stack_tcp *c)
{
	uint8_t s = TCP_WSCALE_MIN;

	c->rb_cap = pow2_at_least(c->rb_cap);
	while (s < WIRE_TCP_WS_MAX && (65535u << s) < c->rb_cap)
		s++;
	c->rcv_wscale = s;
}

void tcp_hash_insert(struct stack_tcp *c)
{
	struct stack *st = c->st;

	if (c->state == TCP_LISTEN) {
		c->hnext = st->listeners;
		st->listeners = c;
		return;
	}
	unsigned b = hash_of(c->rip, c->rport, c->lport);

	c->hnext = st->tcp_hash[b];
	st->tcp_hash[b] = c;
	st->tcp_conns++;
}

void tcp_hash_remove(struct stack_tcp *c)
{
	struct stack *st = c->st;
	struct stack_tcp **pp = c->state == TCP_LISTEN ? &st->listeners :
				&st->tcp_hash[hash_of(c->rip, c->rport, c->lport)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			c->hnext = NULL;
			if (c->state != TCP_LISTEN)
				st->tcp_conns--;
			return;
		}
}

struct stack_tcp *tcp_lookup(struct stack *st, uint32_t rip, uint16_t rport,
			     uint16_t lport)
{
	struct stack_tcp *c = st->tcp_hash[hash_of(rip, rport, lport)];

	for (; c; c = c->hnext)
		if (c->rip == rip && c->rport == rport && c->lport == lport)
			return c;
	return NULL;
}

struct stack_tcp *tcp_listener(struct stack *st, uint16_t lport)
{
	for (struct stack_tcp *c = st->listeners; c; c = c->hnext)
		if (c->lport == lport)
			return c;
	return NULL;
}

/* Spreads flows over a reuseport group: every bit of the peer's address
 * and port reaches the low bits (murmur3's finalizer), which hash_of's
 * bucket bits do not need. */
static uint32_t reuseport_hash(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint32_t h = rip ^ ((uint32_t)rport << 16 | lport);

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ h >> 16;
}

struct stack_tcp *tcp_listener_for(struct stack *st, uint16_t lport, uint32_t rip,
				   uint16_t rport)
{
	struct stack_tcp *first = tcp_listener(st, lport);
	unsigned n = 0, pick;

	if (!first || !first->reuseport)
		return first;
	for (struct stack_tcp *c = first; c; c = c->hnext)
		n += c->lport == lport;
	pick = reuseport_hash(rip, rport, lport) % n;
	for (struct stack_tcp *c = first; c; c = c->hnext)
		if (c->lport == lport && !pick--)
			return c;
	return first;
}

void tcp_set_state(struct stack_tcp *c, enum tcp_state s)
{
	c->state = s;
}

/* Bytes the window offers the peer, counted from rcv_nxt. */
uint32_t tcp_rcv_window(const struct stack_tcp *c)
{
	return c->rcv_user + c->rb_cap - c->rcv_nxt;
}

static unsigned events_of(const struct stack_tcp *c)
{
	unsigned ev = 0;

	if (c->state == TCP_LISTEN)
		return c->acceptq ? STACK_TCP_EV_IN : 0;
	if (c->err)
		ev |= STACK_TCP_EV_ERR;
	if (c->rcv_nxt != c->rcv_user || c->fin_rcvd || c->state == TCP_CLOSED ||
	    c->shut_rd)
		ev |= c->state == TCP_SYN_SENT ? 0 : STACK_TCP_EV_IN;
	if (c->fin_rcvd)
		ev |= STACK_TCP_EV_RDHUP;
	if (c->state == TCP_CLOSED || (c->fin_rcvd && c->shut_wr))
		ev |= STACK_TCP_EV_HUP;
	if ((tcp_synced(c) || c->state == TCP_CLOSED) &&
	    (c->shut_wr || c->state == TCP_CLOSED || c->sb_len < c->sb_cap))
		ev |= STACK_TCP_EV_OUT;
	return ev;
}

/* A callback runs nested (tcp.h): whatever it closes is freed only when
 * the outermost entry returns, not while our caller still holds c. */
void tcp_update_events(struct stack_tcp *c)
{
	struct stack *st = c->st;
	unsigned ev = events_of(c);

	if (ev == c->events)
		return;
	c->events = ev;
	if (c->app_open && st->ops->tcp_event) {
		st->tcp_depth++;
		st->ops->tcp_event(st->ctx, c, c->user, ev);
		st->tcp_depth--;
	}
}

static void report_gone(struct stack_tcp *c)
{
	struct stack *st = c->st;

	if (!c->watched || !st->ops->tcp_gone)
		return;
	st->tcp_depth++;
	st->ops->tcp_gone(st->ctx, c->rip, c->rport, c->lport);
	st->tcp_depth--;
}

/* The connection is over: RFC 9293 "delete the TCB", except that it is
 * freed only once nobody holds it, and then later (tcp.h): a handle the
 * user still holds keeps it, as CLOSED, until stack_tcp_close. */
void tcp_drop(struct stack_tcp *c, int err)
{
	if (err && !c->err)
		c->err = err;
	if (c->move_wait) {
		c->move_wait = 0;
		c->st->tcp_move_waiting--;
	}
	tcp_timers_cancel(c);
	if (c->state != TCP_CLOSED) {
		tcp_hash_remove(c);
		c->state = TCP_CLOSED;
		report_gone(c);
	}
	/* A half-open child is forgotten by its listener; one already in the
	 * accept queue stays there, to be accepted and report the error, as
	 * on Linux. */
	if (c->parent && !c->queued) {
		c->parent->n_pending--;
		c->parent = NULL;
	}
	tcp_update_events(c);
	tcp_maybe_free(c);
}

void tcp_maybe_free(struct stack_tcp *c)
{
	struct stack *st = c->st;

	if (c->state != TCP_CLOSED || c->app_open || c->parent || c->reaping)
		return;
	c->reaping = 1;
	c->rnext = st->tcp_reap;
	st->tcp_reap = c;
}

void tcp_enter(struct stack *st)
{
	st->tcp_depth++;
}

void tcp_leave(struct stack *st)
{
	if (--st->tcp_depth || st->tcp_keep)
		return;
	while (st->tcp_reap) {
		struct stack_tcp *c = st->tcp_reap;

		st->tcp_reap = c->rnext;
		tcp_conn_free(c);
	}
}

void stack_dying(struct stack *st)
{
	st->tcp_keep = 1;
}

/* Only tcp_leave, stack_destroy and a connection never handed out get
 * here (tcp.h). */
void tcp_conn_free(struct stack_tcp *c)
{
	tcp_timers_cancel(c);
	all_unlink(c);
	free(c->sbuf);
	free(c->rbuf);
	free(c->txs);
	free(c);
}
