/*
 * tcp_move.c - a closing listener's unaccepted connections, handed to
 * another process of a shared device that listens on the same port.
 *
 * On Linux the workers of a prefork server share one listening socket:
 * when an old worker closes its descriptor (nginx -s reload), the queue of
 * connections not yet accepted stays with the socket, and a new worker
 * accepts them. Here each process has its own listener in its own stack,
 * so those connections would be reset. Instead, each one whose state fits
 * in a frame (no data sent yet, as none is before accept; the unread
 * bytes it received; nothing out of order) is written into a frame of
 * WIRE_ETHERTYPE_ACCEL_MOVE and given to ops->tcp_move, which puts it in
 * the inbox of the process that also gets the connection's later
 * segments from this one (the same pick by the peer's address). That
 * process's stack takes it in as a child of its own listener, queued for
 * accept, and sends an ACK (a SYN-ACK if the handshake was not complete):
 * the peer sees a duplicate, and the tap's flow table sends the rest of
 * the connection to the new queue. Until then, segments that still reach
 * this process find no connection and are handed to the same taker.
 *
 * When nobody else listens yet but somebody may (ops->tcp_move says
 * -EAGAIN: a prefork group whose parent holds the listener, its new
 * workers still starting their ports), the child stays here, out of
 * anybody's reach but alive (its segments acknowledged), and is offered
 * again every TCP_MOVE_RETRY_NS for TCP_MOVE_WAIT_NS, then reset; an
 * exiting process runs its stacks that long for them (sk_socks_exit).
 *
 * The frame never leaves the host and is believed only with
 * STACK_RX_HANDED (stack.c); both ends are the same build of the shim.
 */
#include <errno.h>
#include <string.h>

#include "tcp.h"

#define MOVE_MAGIC 0x564d4341u /* "ACMV" */
/* the largest window a handed connection may say it offered (its new
 * receive ring holds it): Linux's largest scaled window */
#define TCP_MOVE_WINDOW_MAX (1u << 30)

struct move_msg {
	uint32_t magic;
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint8_t state;               /* SYN_RECEIVED, ESTABLISHED, CLOSE_WAIT */
	uint8_t dmac[STACK_ETH_ALEN];
	uint8_t wscale_ok, sack_ok, ts_ok, fin_rcvd;
	uint8_t snd_wscale, rcv_wscale, rtt_valid;
	uint16_t mss, peer_mss;
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_sndwnd;
	uint32_t irs, rcv_nxt, rcv_user, rcv_adv, rcv_acked;
	uint32_t ts_recent, ts_val;  /* our clock as the peer last saw it */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	uint32_t len;                /* unread bytes that follow */
};

int tcp_move_out(struct stack_tcp *c)
{
	struct stack *st = c->st;
	uint32_t unread = c->rcv_nxt - c->rcv_user - c->fin_rcvd;
	struct move_msg m;
	uint8_t *f;
	void *pkt;
	int rc;

	if (!st->ops->tcp_move || c->n_ooo || c->sb_len || c->fin_queued || c->app_open ||
	    (c->state != TCP_SYN_RECEIVED && c->state != TCP_ESTABLISHED &&
	     c->state != TCP_CLOSE_WAIT) ||
	    WIRE_ETH_HLEN + sizeof(m) + unread > (size_t)st->conf.mtu + WIRE_ETH_HLEN)
		return 0;
	pkt = st->ops->pkt_alloc(st->ctx);
	if (!pkt)
		return 0;
	if (st->ops->pkt_room(pkt) < WIRE_ETH_HLEN + sizeof(m) + unread) {
		st->ops->pkt_free(st->ctx, pkt);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.magic = MOVE_MAGIC;
	m.lip = c->lip;
	m.rip = c->rip;
	m.lport = c->lport;
	m.rport = c->rport;
	m.state = (uint8_t)c->state;
	memcpy(m.dmac, c->dmac, STACK_ETH_ALEN);
	m.wscale_ok = c->wscale_ok;
	m.sack_ok = c->sack_ok;
	m.ts_ok = c->ts_ok;
	m.fin_rcvd = c->fin_rcvd;
	m.snd_wscale = c->snd_wscale;
	m.rcv_wscale = c->rcv_wscale;
	m.rtt_valid = c->rtt_valid;
	m.mss = c->mss;
	m.peer_mss = c->peer_mss;
	m.iss = c->iss;
	m.snd_una = c->snd_una;
	m.snd_nxt = c->snd_nxt;
	m.snd_max = c->snd_max;
	m.snd_wnd = c->snd_wnd;
	m.snd_wl1 = c->snd_wl1;
	m.snd_wl2 = c->snd_wl2;
	m.max_sndwnd = c->max_sndwnd;
	m.irs = c->irs;
	m.rcv_nxt = c->rcv_nxt;
	m.rcv_user = c->rcv_user;
	m.rcv_adv = c->rcv_adv;
	m.rcv_acked = c->rcv_acked;
	m.ts_recent = c->ts_recent;
	m.ts_val = tcp_ts_now(c);
	m.srtt_ns = c->srtt_ns;
	m.rttvar_ns = c->rttvar_ns;
	m.rto_ns = c->rto_ns;
	m.len = unread;
	f = st->ops->pkt_data(pkt);
	eth_fill(st, f, st->conf.mac, WIRE_ETHERTYPE_ACCEL_MOVE);
	memcpy(f + WIRE_ETH_HLEN, &m, sizeof(m));
	for (uint32_t i = 0; i < unread; i++) /* (the ring may wrap) */
		f[WIRE_ETH_HLEN + sizeof(m) + i] = c->rbuf[(c->rcv_user + i) & (c->rb_cap - 1)];
	st->ops->pkt_set_len(pkt, (uint16_t)(WIRE_ETH_HLEN + sizeof(m) + unread));
	rc = st->ops->tcp_move(st->ctx, pkt, c->rip, c->rport, c->lport);
	if (rc <= 0) {
		st->ops->pkt_free(st->ctx, pkt);
		return rc == -EAGAIN ? -EAGAIN : 0;
	}
	st->stats.tcp_moved_out++;
	return 1;
}

void tcp_move_or_reset(struct stack_tcp *c)
{
	struct stack *st = c->st;
	int rc = tcp_move_out(c);

	if (rc == -EAGAIN) { /* (it lives on here, unreachable by accept) */
		c->move_wait = 1;
		c->move_until = st->now + TCP_MOVE_WAIT_NS;
		if (!st->tcp_move_waiting++)
			st->tcp_move_next = st->now + TCP_MOVE_RETRY_NS;
		return;
	}
	if (rc == 0)
		tcp_reset_peer(c);
	tcp_drop(c, 0);
}

void tcp_move_retry(struct stack *st)
{
	if (st->now < st->tcp_move_next)
		return;
	st->tcp_move_next = st->now + TCP_MOVE_RETRY_NS;
	for (struct stack_tcp *c = st->tcp_all; c; c = c->anext) {
		int rc;

		if (!c->move_wait)
			continue;
		rc = tcp_move_out(c);
		if (rc == -EAGAIN && st->now < c->move_until)
			continue;
		if (rc <= 0)
			tcp_reset_peer(c);
		tcp_drop(c, 0); /* (out of the waiting: tcp_drop) */
	}
}

static int msg_ok(const struct stack *st, const struct move_msg *m, uint16_t len)
{
	return m->magic == MOVE_MAGIC && len >= sizeof(*m) && m->len == len - sizeof(*m) &&
	       m->lip == st->conf.ip &&
	       (m->state == TCP_SYN_RECEIVED || m->state == TCP_ESTABLISHED ||
		m->state == TCP_CLOSE_WAIT) &&
	       m->rcv_nxt - m->rcv_user == m->len + m->fin_rcvd &&
	       m->rcv_adv - m->rcv_user <= TCP_MOVE_WINDOW_MAX &&
	       m->rcv_wscale <= WIRE_TCP_WS_MAX && m->snd_wscale <= WIRE_TCP_WS_MAX;
}

void tcp_move_in(struct stack *st, const uint8_t *frame, uint16_t len)
{
	struct move_msg m;
	struct stack_tcp *l, *c;

	if (len < sizeof(m)) {
		st->stats.drops[STACK_DROP_TCP_MOVE]++;
		return;
	}
	memcpy(&m, frame, sizeof(m));
	if (!msg_ok(st, &m, len)) {
		st->stats.drops[STACK_DROP_TCP_MOVE]++;
		return;
	}
	l = !tcp_lookup(st, m.rip, m.rport, m.lport) ?
	    tcp_listener_for(st, m.lport, m.rip, m.rport) : NULL;
	/* (a full queue refuses it as it would a SYN: listen_input) */
	if (!l || l->n_queued >= l->backlog || l->n_pending >= 2 * l->backlog + 16 ||
	    !(c = tcp_child_new(l, m.rip, m.rport, m.dmac))) {
		st->stats.drops[STACK_DROP_TCP_MOVE]++;
		/* The old process let it go: reset it here, as it would have
		 * (its later segments, handed over, would find nothing and be
		 * dropped as late, and the peer would resend to nobody). */
		tcp_send_rst(st, m.dmac, m.rip, m.rport, m.lport, m.snd_nxt, m.rcv_nxt, 1);
		return;
	}
	c->wscale_ok = m.wscale_ok;
	c->sack_ok = m.sack_ok;
	c->ts_ok = m.ts_ok;
	c->fin_rcvd = m.fin_rcvd;
	c->snd_wscale = m.snd_wscale;
	c->rcv_wscale = m.rcv_wscale; /* (as the peer was told) */
	c->rtt_valid = m.rtt_valid;
	c->mss = m.mss;
	c->peer_mss = m.peer_mss;
	c->iss = m.iss;
	c->snd_una = m.snd_una;
	c->snd_nxt = m.snd_nxt;
	c->snd_max = c->snd_sml = m.snd_max;
	c->recover = m.iss;
	c->snd_wnd = m.snd_wnd;
	c->snd_wl1 = m.snd_wl1;
	c->snd_wl2 = m.snd_wl2;
	c->max_sndwnd = m.max_sndwnd;
	c->irs = m.irs;
	c->rcv_nxt = m.rcv_nxt;
	c->rcv_user = m.rcv_user;
	c->rcv_adv = m.rcv_adv;
	c->rcv_acked = m.rcv_acked;
	c->ts_recent = m.ts_recent;
	/* Our clock goes on from where the peer last saw it (PAWS on its
	 * side: RFC 7323 5.3), whatever this process's clock says. */
	c->ts_off = m.ts_val - (uint32_t)(st->now / 1000000u);
	c->srtt_ns = m.srtt_ns;
	c->rttvar_ns = m.rttvar_ns;
	c->rto_ns = m.rto_ns ? m.rto_ns : c->rto_ns;
	c->last_rx = st->now;
	tcp_cc_init(c);
	tcp_hash_insert(c);
	if (m.state != TCP_SYN_RECEIVED) {
		c->state = (enum tcp_state)m.state;
		tcp_cc_established(c);
		/* (the window we offered must still hold what comes in it) */
		if (c->rb_cap < c->rcv_adv - c->rcv_user)
			c->rb_cap = c->rcv_adv - c->rcv_user;
		if (tcp_bufs_alloc(c) < 0) {
			st->stats.drops[STACK_DROP_NO_BUFFER]++;
			tcp_drop(c, -ENOMEM); /* (a half-open child: its listener forgets it) */
			return;
		}
		tcp_ring_copy_in(c, c->rcv_user, frame + sizeof(m), m.len);
	}
	st->stats.tcp_moved_in++;
	if (m.state == TCP_SYN_RECEIVED) {
		c->snd_nxt = c->iss; /* (the SYN-ACK again, from here) */
		tcp_send_syn(c);
		tcp_rexmt_arm(c);
		return;
	}
	tcp_accept_child(c);
	tcp_send_ack(c);
	if (c->keepalive)
		tcp_keep_arm(c, (uint64_t)c->keepidle_s * 1000000000ull);
	tcp_update_events(c);
}
