/*
 * tcp_usrreq.c - the user asks: the stack_tcp_* calls of stack.h, with the
 * errors a Linux socket gives for the same request.
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

int stack_tcp_listen(struct stack *st, uint16_t port, int backlog, void *user,
		     struct stack_tcp **out)
{
	return stack_tcp_listen_flags(st, port, backlog, 0, user, out);
}

int stack_tcp_listen_flags(struct stack *st, uint16_t port, int backlog,
			   unsigned flags, void *user, struct stack_tcp **out)
{
	struct stack_tcp *l;

	if (!port)
		return -EINVAL;
	for (l = st->listeners; l; l = l->hnext)
		if (l->lport == port && (!l->reuseport || !(flags & STACK_TCP_REUSEPORT)))
			return -EADDRINUSE;
	l = tcp_conn_new(st);
	if (!l)
		return -ENOMEM;
	l->state = TCP_LISTEN;
	l->lip = st->conf.ip;
	l->lport = port;
	l->reuseport = !!(flags & STACK_TCP_REUSEPORT);
	/* listen(2): a backlog of 0 or less still admits one; capped as
	 * Linux's somaxconn (4096). */
	l->backlog = backlog < 1 ? 1 : backlog > 4096 ? 4096 : (unsigned)backlog;
	l->user = user;
	l->app_open = 1;
	tcp_hash_insert(l);
	*out = l;
	return 0;
}

int stack_tcp_accept(struct stack_tcp *l, void *user, struct stack_tcp **out)
{
	struct stack_tcp *c = l->acceptq;

	if (l->state != TCP_LISTEN)
		return -EINVAL;
	if (!c)
		return -EAGAIN;
	l->acceptq = c->qnext;
	if (!l->acceptq)
		l->acceptq_tail = NULL;
	l->n_queued--;
	c->qnext = NULL;
	c->parent = NULL;
	c->queued = 0;
	c->user = user;
	c->app_open = 1;
	c->events = 0;
	tcp_update_events(l);
	tcp_update_events(c);
	*out = c;
	return 0;
}

static int pick_port(struct stack *st, uint32_t ip, uint16_t rport)
{
	unsigned span = TCP_EPH_HI - TCP_EPH_LO + 1;

	for (unsigned i = 0; i < span; i++) {
		uint16_t p = st->eph_next;

		st->eph_next = p >= TCP_EPH_HI ? TCP_EPH_LO : (uint16_t)(p + 1);
		if (st->conf.port_stride > 1 && p % st->conf.port_stride != st->conf.port_index)
			continue;
		if (!tcp_listener(st, p) && !tcp_lookup(st, ip, rport, p) &&
		    !(st->ops->port_taken && st->ops->port_taken(st->ctx, p)))
			return p;
	}
	return -EADDRNOTAVAIL;
}

int stack_tcp_connect(struct stack *st, uint32_t ip, uint16_t port,
		      uint16_t lport, void *user, struct stack_tcp **out)
{
	struct stack_tcp *c;
	int p = lport, rc;

	if (!port || !ip)
		return -EINVAL;
	if (!p && (p = pick_port(st, ip, port)) < 0)
		return p;
	if (tcp_lookup(st, ip, port, (uint16_t)p))
		return -EADDRINUSE;
	c = tcp_conn_new(st);
	if (!c)
		return -ENOMEM;
	st->now = st->ops->now_ns(st->ctx);
	rc = stack_resolve(st, ip, c->dmac);
	if (rc == -ENETUNREACH) {
		tcp_conn_free(c);
		return rc;
	}
	c->has_dmac = rc == 0;
	c->arp_wait = rc != 0;
	c->state = TCP_SYN_SENT;
	c->lip = st->conf.ip;
	c->lport = (uint16_t)p;
	c->rip = ip;
	c->rport = port;
	c->user = user;
	c->app_open = 1;
	tcp_choose_wscale(c);
	tcp_init_seq(c);
	tcp_cc_init(c);
	tcp_hash_insert(c);
	st->stats.tcp_active_opens++;
	c->rtt_start = st->now;
	if (c->has_dmac)
		tcp_send_syn(c);
	tcp_rexmt_arm(c);
	if (c->arp_wait) /* check for the ARP reply soon, not after an RTO */
		tw_arm(&st->tw, &c->t_rexmt, st->now + STACK_ARP_RETRY_NS / 50);
	*out = c;
	return 0;
}

/* The error a data call reports on a connection that cannot carry data. */
static long dead_error(struct stack_tcp *c)
{
	int e = c->err;

	if (e) {
		c->err = 0;
		tcp_update_events(c);
		return e;
	}
	return 0;
}

long stack_tcp_send(struct stack_tcp *c, const void *buf, size_t len)
{
	return stack_tcp_send_flags(c, buf, len, 0);
}

long stack_tcp_send_flags(struct stack_tcp *c, const void *buf, size_t len,
			  unsigned flags)
{
	uint32_t n, off, first, room;
	long e;

	if (c->state == TCP_CLOSED)
		return (e = dead_error(c)) ? e : -EPIPE;
	if (c->state == TCP_LISTEN)
		return -ENOTCONN;
	if (c->state < TCP_ESTABLISHED)
		return -EAGAIN; /* Linux: a connecting socket waits, or EAGAIN */
	if (c->shut_wr || c->fin_queued)
		return -EPIPE;
	room = c->sb_cap - c->sb_len;
	n = len < room ? (uint32_t)len : room;
	if (!n)
		return len ? -EAGAIN : 0;
	off = (c->snd_una + c->sb_len) & (c->sb_cap - 1);
	first = c->sb_cap - off < n ? c->sb_cap - off : n;
	memcpy(c->sbuf + off, buf, first);
	memcpy(c->sbuf, (const uint8_t *)buf + first, n - first);
	c->sb_len += n;
	if (!(flags & STACK_TCP_MORE) || n < len)
		tcp_output(c);
	tcp_update_events(c);
	return n;
}

/* After a read opened the window: announce it if it grew by two segments
 * or half the buffer (Linux's tcp_cleanup_rbuf; RFC 9293 3.8.6.2.2). */
static void window_opened(struct stack_tcp *c)
{
	uint32_t announced = tcp_seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t now = tcp_rcv_window(c);

	if (tcp_synced(c) && !c->fin_rcvd &&
	    (now >= announced + 2u * c->mss || now >= announced + c->rb_cap / 2)) {
		c->ack_now = 1;
		tcp_output(c);
	}
}

long stack_tcp_recv(struct stack_tcp *c, void *buf, size_t len, int peek)
{
	uint32_t have = c->rcv_nxt - c->rcv_user - (c->fin_rcvd ? 1 : 0);
	uint32_t n, off, first;
	long e;

	if (c->state == TCP_LISTEN)
		return -ENOTCONN;
	if (!c->rbuf || have == 0 || c->shut_rd) {
		if ((e = dead_error(c)))
			return e;
		if (c->fin_rcvd || c->shut_rd || c->state == TCP_CLOSED)
			return 0;
		return -EAGAIN;
	}
	n = len < have ? (uint32_t)len : have;
	off = c->rcv_user & (c->rb_cap - 1);
	first = c->rb_cap - off < n ? c->rb_cap - off : n;
	memcpy(buf, c->rbuf + off, first);
	memcpy((uint8_t *)buf + first, c->rbuf, n - first);
	if (!peek) {
		c->rcv_user += n;
		window_opened(c);
		tcp_update_events(c);
	}
	return n;
}

static void queue_fin(struct stack_tcp *c)
{
	if (c->fin_queued)
		return;
	c->fin_queued = 1;
	c->shut_wr = 1;
	/* In SYN-RECEIVED the FIN waits for ESTABLISHED (RFC 9293 3.10.4),
	 * which gives the connection its buffers (ack_input). */
	if (c->state == TCP_ESTABLISHED)
		c->state = TCP_FIN_WAIT_1;
	else if (c->state == TCP_CLOSE_WAIT)
		c->state = TCP_LAST_ACK;
	tcp_output(c);
}

int stack_tcp_shutdown(struct stack_tcp *c, int how)
{
	if (how < 0 || how > 2)
		return -EINVAL;
	if (c->state == TCP_LISTEN || c->state == TCP_CLOSED)
		return c->state == TCP_CLOSED && c->shut_wr ? 0 : -ENOTCONN;
	if (c->state == TCP_SYN_SENT) { /* nothing to say yet: just stop */
		tcp_drop(c, 0);
		return 0;
	}
	if (how != 1)
		c->shut_rd = 1;
	if (how != 0)
		queue_fin(c);
	tcp_update_events(c);
	return 0;
}

void tcp_reset_peer(struct stack_tcp *c)
{
	if (c->state >= TCP_SYN_RECEIVED && c->state != TCP_TIME_WAIT && c->has_dmac)
		tcp_send_rst(c->st, c->dmac, c->rip, c->rport, c->lport,
			     c->snd_nxt, c->rcv_nxt, 1);
}

static void close_listener(struct stack_tcp *l)
{
	struct stack *st = l->st;

	/* Connections the program never accepted are reset, as on Linux,
	 * unless another process that shares the device listens on the port
	 * and takes them (tcp_move.c: as a Linux listener that other
	 * processes still hold keeps its queue). */
	while (l->acceptq) {
		struct stack_tcp *c = l->acceptq;

		l->acceptq = c->qnext;
		c->parent = NULL;
		c->queued = 0;
		tcp_move_or_reset(c);
	}
	for (unsigned b = 0; l->n_pending && b < TCP_HASH_BUCKETS; b++)
		for (struct stack_tcp *c = st->tcp_hash[b], *n; c; c = n) {
			n = c->hnext;
			if (c->parent == l) {
				c->parent = NULL;
				l->n_pending--;
				tcp_move_or_reset(c);
			}
		}
	tcp_hash_remove(l);
	l->state = TCP_CLOSED;
	l->app_open = 0;
	tcp_maybe_free(l);
}

/* The user lets go of the handle: a listener goes at once, a connection
 * lives on without it. Returns 1 when nothing is left to do. */
static int release(struct stack_tcp *c)
{
	if (c->state == TCP_LISTEN) {
		close_listener(c);
		return 1;
	}
	c->app_open = 0;
	c->orphan = 1;
	return 0;
}

static void reset_and_drop(struct stack_tcp *c)
{
	tcp_reset_peer(c);
	tcp_drop(c, 0);
}

static void close_conn(struct stack_tcp *c)
{
	if (release(c))
		return;
	/* RFC 9293 3.10.4 allows a graceful close; Linux (and RFC 2525 2.17)
	 * resets instead when received data was never read, or on LINGER0. */
	if (c->linger0 || c->rcv_nxt - c->rcv_user > (c->fin_rcvd ? 1u : 0u)) {
		reset_and_drop(c);
		return;
	}
	switch (c->state) {
	case TCP_SYN_SENT:
		tcp_drop(c, 0);
		return;
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		queue_fin(c);
		break;
	case TCP_FIN_WAIT_2:
		tcp_keep_arm(c, TCP_FIN_TIMEOUT_NS);
		break;
	default:
		break;
	}
	tcp_maybe_free(c);
}

/* Letting go may leave c held by nobody: freed as the call returns,
 * unless it is made from a callback (tcp.h). */
void stack_tcp_close(struct stack_tcp *c)
{
	struct stack *st = c->st;

	tcp_enter(st);
	close_conn(c);
	tcp_leave(st);
}

void stack_tcp_abort(struct stack_tcp *c)
{
	struct stack *st = c->st;

	tcp_enter(st);
	if (!release(c))
		reset_and_drop(c);
	tcp_leave(st);
}

unsigned stack_tcp_events(const struct stack_tcp *c)
{
	return c->events;
}

int stack_tcp_error(struct stack_tcp *c)
{
	int e = c->err;

	c->err = 0;
	tcp_update_events(c);
	return e;
}

static uint32_t clamp_buf(int val)
{
	uint32_t v = val < 0 ? 0 : (uint32_t)val;

	return v < TCP_BUF_MIN ? TCP_BUF_MIN : v > TCP_BUF_MAX ? TCP_BUF_MAX : v;
}

int stack_tcp_setopt(struct stack_tcp *c, enum stack_tcp_opt opt, int val)
{
	switch (opt) {
	case STACK_TCP_NODELAY:
		c->nodelay = !!val;
		if (c->nodelay)
			tcp_output(c); /* Linux pushes what Nagle held */
		return 0;
	case STACK_TCP_KEEPALIVE:
		c->keepalive = !!val;
		if (val && c->state == TCP_ESTABLISHED)
			tcp_keep_arm(c, (uint64_t)c->keepidle_s * 1000000000ull);
		return 0;
	case STACK_TCP_KEEPIDLE:
	case STACK_TCP_KEEPINTVL:
		if (val < 1 || val > 32767) /* Linux's MAX_TCP_KEEPIDLE */
			return -EINVAL;
		if (opt == STACK_TCP_KEEPIDLE)
			c->keepidle_s = (uint32_t)val;
		else
			c->keepintvl_s = (uint32_t)val;
		return 0;
	case STACK_TCP_KEEPCNT:
		if (val < 1 || val > 127)
			return -EINVAL;
		c->keepcnt = (uint32_t)val;
		return 0;
	case STACK_TCP_SNDBUF:
		if (c->sbuf)
			return 0; /* in use: the ring keeps its size */
		c->sb_cap = clamp_buf(val);
		return 0;
	case STACK_TCP_RCVBUF:
		if (c->rbuf)
			return 0;
		c->rb_cap = clamp_buf(val);
		return 0;
	case STACK_TCP_LINGER0:
		c->linger0 = !!val;
		return 0;
	}
	return -ENOPROTOOPT;
}

int stack_tcp_getopt(const struct stack_tcp *c, enum stack_tcp_opt opt)
{
	switch (opt) {
	case STACK_TCP_NODELAY: return c->nodelay;
	case STACK_TCP_KEEPALIVE: return c->keepalive;
	case STACK_TCP_KEEPIDLE: return (int)c->keepidle_s;
	case STACK_TCP_KEEPINTVL: return (int)c->keepintvl_s;
	case STACK_TCP_KEEPCNT: return (int)c->keepcnt;
	case STACK_TCP_SNDBUF: return (int)c->sb_cap;
	case STACK_TCP_RCVBUF: return (int)c->rb_cap;
	case STACK_TCP_LINGER0: return c->linger0;
	}
	return -ENOPROTOOPT;
}

size_t stack_tcp_readable(const struct stack_tcp *c)
{
	return c->rcv_nxt - c->rcv_user - (c->fin_rcvd ? 1 : 0);
}

size_t stack_tcp_unacked(const struct stack_tcp *c)
{
	return c->sb_len;
}

void stack_tcp_endpoints(const struct stack_tcp *c, uint32_t *lip,
			 uint16_t *lport, uint32_t *rip, uint16_t *rport)
{
	*lip = c->lip;
	*lport = c->lport;
	*rip = c->rip;
	*rport = c->rport;
}

void stack_tcp_info(const struct stack_tcp *c, struct stack_tcp_info *out)
{
	int synced = c->state != TCP_LISTEN && c->state != TCP_SYN_SENT &&
		     c->state != TCP_CLOSED;

	memset(out, 0, sizeof(*out));
	out->state = tcp_state_name(c->state);
	stack_tcp_endpoints(c, &out->lip, &out->lport, &out->rip, &out->rport);
	out->recv_q = (uint32_t)stack_tcp_readable(c);
	out->send_q = (uint32_t)stack_tcp_unacked(c);
	if (synced) { /* (less the SYN, and the FIN once there) */
		out->bytes_received = c->rcv_nxt - c->irs - 1 - (c->fin_rcvd ? 1u : 0u);
		out->bytes_acked = c->snd_una - c->iss - 1;
	}
	out->cwnd = c->cwnd;
	out->mss = c->mss;
	out->retransmits = c->retransmits;
	out->srtt_ns = c->srtt_ns;
	out->rttvar_ns = c->rttvar_ns;
}

const char *stack_tcp_state(const struct stack_tcp *c)
{
	return tcp_state_name(c->state);
}

struct stack *stack_tcp_stack(const struct stack_tcp *c)
{
	return c->st;
}

/* A timer of c armed on from's wheel goes onto to's at the same
 * deadline (the wheels count ticks of the same clock). */
static void timer_move(struct timer_wheel *from, struct timer_wheel *to,
		       struct stack_timer *t)
{
	uint64_t at;

	if (!tw_armed(t))
		return;
	at = t->expires * from->tick_ns;
	tw_cancel(from, t);
	tw_arm(to, t, at);
}

unsigned stack_tcp_closing(const struct stack *st)
{
	unsigned n = 0;

	for (unsigned b = 0; b < TCP_HASH_BUCKETS; b++)
		for (const struct stack_tcp *c = st->tcp_hash[b]; c; c = c->hnext)
			n += c->orphan && c->state >= TCP_FIN_WAIT_1 && c->state != TCP_TIME_WAIT &&
			     c->state != TCP_CLOSE_WAIT;
	return n;
}

unsigned stack_tcp_move_waiting(const struct stack *st)
{
	return st->tcp_move_waiting;
}

void stack_tcp_watch(struct stack_tcp *c)
{
	c->watched = 1;
}

int stack_tcp_move(struct stack_tcp *c, struct stack *to)
{
	struct stack *from = c->st;

	if (from == to)
		return 0;
	if (c->state == TCP_LISTEN || c->state == TCP_CLOSED || c->parent ||
	    !c->app_open || to->conf.ip != from->conf.ip)
		return -EINVAL;
	if (tcp_lookup(to, c->rip, c->rport, c->lport))
		return -EEXIST;
	tcp_hash_remove(c);
	timer_move(&from->tw, &to->tw, &c->t_rexmt);
	timer_move(&from->tw, &to->tw, &c->t_delack);
	timer_move(&from->tw, &to->tw, &c->t_keep);
	tcp_conn_rehome(c, to);
	c->watched = 1;
	tcp_hash_insert(c);
	/* to's clock may be behind from's (its last poll was earlier): c's
	 * timestamps must not go back (tcp_ts_now reads st->now) */
	to->now = to->ops->now_ns(to->ctx);
	from->stats.tcp_moved_out++;
	to->stats.tcp_moved_in++;
	return 0;
}
