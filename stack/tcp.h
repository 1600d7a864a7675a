/*
 * tcp.h - the inside of TCP, shared by the tcp_*.c files of stack/.
 *
 * Split as FreeBSD splits netinet: tcp_input.c (a segment arrives),
 * tcp_output.c (segments leave), tcp_timer.c (a timer fires),
 * tcp_usrreq.c (the user asks: the stack_tcp_* API), tcp_subr.c (creating,
 * finding and freeing connections, buffers, events), tcp_cc.c (congestion
 * control behind a small interface).
 *
 * Sequence-space names follow RFC 9293 3.3.1: SND.UNA is snd_una and so
 * on. Buffers are byte rings indexed by sequence number (cap is a power of
 * two, and 2^32 a multiple of it), so data never moves: the send ring
 * holds [snd_una, snd_una + sb_len); the receive ring holds the unread
 * in-order bytes [rcv_user, rcv_nxt) and out-of-order bytes beyond, up to
 * rcv_user + cap, which is also the right edge of the window.
 */
#ifndef ACCEL_STACK_TCP_H
#define ACCEL_STACK_TCP_H

#include "stack_impl.h"
#include "tcp_wire.h"
#include "timer.h"

/*
 * Who holds a connection, and when it is freed.
 *
 * A struct stack_tcp has up to three holders:
 *   - the user, from the call that handed it out (stack_tcp_connect,
 *     _listen, _accept) until stack_tcp_close or stack_tcp_abort
 *     (app_open);
 *   - its listener, while it is a child not yet accepted (parent);
 *   - the stack itself, while it is not CLOSED: it is in the tables and
 *     its timers may be armed.
 * tcp_drop ends the connection (CLOSED, out of the tables, timers off)
 * but frees nothing, and nor does any other way of letting go. When the
 * last holder lets go, tcp_maybe_free puts it on the stack's reap list
 * (st->tcp_reap). tcp_leave frees that list, and only as the outermost
 * entry into the stack returns (stack_poll, stack_input, stack_tcp_close,
 * stack_tcp_abort: tcp_enter and tcp_leave count the nesting, and the
 * ops->tcp_event and ops->tcp_gone callbacks count as nested, so what a
 * callback made from another stack_tcp_* call closes waits for the next
 * such entry). So a
 * connection pointer that any function of the stack, a timer being fired
 * or a callback holds stays valid until that entry returns, whatever was
 * dropped or closed on the way (a timer give-up, a RST, the user closing
 * from inside a callback). Only a connection never handed to anybody is
 * freed at once (tcp_conn_free: connect that finds no route).
 *
 * Every connection is also on the stack's tcp_all list from tcp_conn_new
 * until it is freed, so stack_destroy frees all of them, those the user
 * still holds (reset or timed out, or not) included.
 */

enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

struct tcp_range {
	uint32_t left, right; /* [left, right) in sequence space */
};

/* One segment as sent, remembered until it is cumulatively acknowledged
 * (the per-segment state RFC 6675 and RFC 8985 assume). */
struct tcp_txseg {
	uint32_t seq, end;              /* [seq, end), a FIN counted */
	uint64_t xmit_ns;               /* last (re)transmission */
	uint8_t flags;                  /* TCP_TX_* */
};

#define TCP_TX_SACKED 1u                /* the peer holds it */
#define TCP_TX_LOST 2u                  /* presumed lost, not yet resent */
#define TCP_TX_RETRANS 4u               /* sent more than once */

/* Congestion state, as Linux names it: open, fast recovery after loss
 * was detected (RFC 6675, 6937), or after a retransmission timeout. */
enum tcp_ca_state { TCP_CA_OPEN = 0, TCP_CA_RECOVERY, TCP_CA_LOSS };

struct stack_tcp {
	struct stack *st;
	struct stack_tcp *hnext;        /* hash chain */
	struct stack_tcp *parent;       /* listener of a not yet accepted child */
	uint8_t queued;                 /* ... that is in its accept queue */
	struct stack_tcp *qnext;        /* listener's accept queue */
	struct stack_tcp *anext, **aprev; /* the stack's tcp_all list */
	struct stack_tcp *rnext;        /* the stack's reap list ... */
	uint8_t reaping;                /* ... which it is on */
	void *user;
	enum tcp_state state;
	uint32_t lip, rip;              /* host order */
	uint16_t lport, rport;
	uint8_t dmac[STACK_ETH_ALEN];
	uint8_t has_dmac;
	uint32_t nb_gen;                /* the ARP table's arp_gen when dmac was taken */
	uint64_t nb_check;              /* when to look dmac up again */
	uint64_t nb_confirmed;          /* when ACKed data last confirmed it */

	/* what the user did */
	uint8_t app_open;               /* the handle is held */
	uint8_t watched;                /* ops->tcp_gone reports its end */
	uint8_t reuseport;              /* a listener sharing its port */
	uint8_t orphan;                 /* the user closed it; it lives on */
	uint8_t arp_wait;               /* SYN held until the MAC is known */
	uint8_t shut_rd, shut_wr;       /* shutdown(2) */
	uint8_t nodelay, keepalive, linger0;
	int err;                        /* pending -errno (SO_ERROR) */
	unsigned events;                /* last reported STACK_TCP_EV_* */

	/* send side (RFC 9293 3.3.1) */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_sndwnd;            /* largest window the peer offered */
	uint32_t sb_len;                /* bytes in the send ring */
	uint32_t sb_cap;
	uint8_t *sbuf;
	uint8_t fin_queued;             /* a FIN follows the send ring's data */
	uint8_t fin_sent;               /* ... and went out, at fin_seq */
	uint8_t sws_override;           /* send a small window's worth now */
	uint32_t fin_seq;
	uint32_t snd_sml;               /* end of the last short segment sent
					 * (Minshall's Nagle, as Linux) */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_user, rcv_adv; /* rcv_adv: right edge sent */
	uint32_t rb_cap;
	uint8_t *rbuf;
	uint8_t fin_rcvd;               /* the peer's FIN is in sequence */
	uint8_t ooo_fin;                /* a FIN came beyond a hole ... */
	uint32_t ooo_fin_seq;           /* ... at this sequence number */
	struct tcp_range ooo[TCP_OOO_MAX]; /* out of order, most recent first */
	unsigned n_ooo;
	struct tcp_range dsack;         /* RFC 2883 block to report, if any */
	uint8_t has_dsack;

	/* options (negotiated on the SYNs) */
	uint16_t mss;                   /* our send MSS, options excluded */
	uint16_t peer_mss;
	uint8_t snd_wscale, rcv_wscale, wscale_ok, sack_ok, ts_ok;
	uint32_t ts_recent;             /* RFC 7323 4.3 */
	uint32_t ts_off;                /* our clock's offset (tcp_isn_ts) */

	/* round trip (RFC 6298) */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	uint8_t rtt_valid;
	uint8_t retries;                /* consecutive RTO expiries */
	uint8_t rtt_timing;             /* Karn: timing rtt_seq ... */
	uint32_t rtt_seq;
	uint64_t rtt_start;

	/* congestion (RFC 5681, RFC 6937; tcp_cc.c) */
	uint32_t cwnd, ssthresh;
	/* RFC 7661 as Linux keeps it: in the window that ends when SND.UNA
	 * passes use_seq, the largest flight, and whether the window ever
	 * held data back. An ACK grows the window only if it was used. */
	uint32_t use_flight, use_seq;
	uint8_t use_limited;
	uint32_t retransmits;           /* segments sent again (stack_tcp_info) */
	uint32_t recover;               /* SND.MAX when recovery or loss began */
	uint8_t ca_state;               /* enum tcp_ca_state */
	uint8_t dupacks;                /* classic duplicates (peers without SACK) */
	uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 */
	uint32_t prior_cwnd, prior_ssthresh; /* before the reduction, ... */
	int32_t undo_retrans;           /* ... kept until this many resends
					 * were D-SACKed (-1: not possible) */

	/* what is in flight (tcp_loss.c): one record per segment sent */
	struct tcp_txseg *txs;          /* ring in sequence order from SND.UNA */
	uint32_t txs_mask, txs_head, txs_n;
	uint32_t sacked_bytes;          /* in SACKED records */
	uint32_t lost_bytes;            /* in LOST records, not yet resent */

	/* RACK (RFC 8985 6.1) */
	uint64_t rack_xmit_ns;          /* sent time of the latest delivered ... */
	uint32_t rack_end;              /* ... segment, and its end */
	uint32_t rack_fack;             /* highest end delivered */
	uint64_t rack_rtt_ns, min_rtt_ns;
	uint64_t reo_at;                /* reordering timer deadline, or 0 */
	uint32_t dsack_round;           /* SND.MAX when reo_mult last grew */
	uint32_t tlp_high;              /* end of the last tail loss probe */
	uint8_t rack_reord;             /* reordering seen */
	uint8_t reo_mult, reo_persist;  /* RFC 8985 6.2 step 4 */

	/* acknowledgements */
	uint8_t ack_now;                /* send an ACK at the next output */
	uint8_t unacked_segs;           /* full segments since our last ACK */
	uint32_t rcv_acked;             /* RCV.NXT our last ACK carried */

	/* timers */
	struct stack_timer t_rexmt;     /* retransmit, persist, SYN */
	struct stack_timer t_delack;
	struct stack_timer t_keep;      /* keepalive, TIME_WAIT, FIN_WAIT_2 */
	uint8_t persist;                /* t_rexmt is the persist timer */
	uint8_t tlp_armed;              /* t_rexmt is a tail loss probe */
	uint8_t reo_armed;              /* t_rexmt is RACK's reordering timer */
	uint8_t tlp_sent;               /* one probe per flight (RFC 8985 7) */
	uint8_t keep_probes;
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	uint64_t last_rx;               /* for keepalive */

	/* a closed listener's child waiting for another process to take it
	 * (tcp_move.c) until move_until */
	uint8_t move_wait;
	uint64_t move_until;

	/* listener */
	struct stack_tcp *acceptq, *acceptq_tail;
	unsigned backlog, n_queued, n_pending; /* accept queue, SYN_RECEIVED */
};

/* tcp_subr.c */
int tcp_init(struct stack *st);
void tcp_fini(struct stack *st);
struct stack_tcp *tcp_conn_new(struct stack *st);
void tcp_conn_free(struct stack_tcp *c);
void tcp_conn_rehome(struct stack_tcp *c, struct stack *to);
void tcp_hash_insert(struct stack_tcp *c);
void tcp_hash_remove(struct stack_tcp *c);
struct stack_tcp *tcp_lookup(struct stack *st, uint32_t rip, uint16_t rport,
			     uint16_t lport);
struct stack_tcp *tcp_listener(struct stack *st, uint16_t lport);
/* The listener a SYN from rip:rport to lport goes to (one of a reuseport
 * group, by hash), or NULL. */
struct stack_tcp *tcp_listener_for(struct stack *st, uint16_t lport, uint32_t rip,
				   uint16_t rport);
int tcp_bufs_alloc(struct stack_tcp *c);
void tcp_set_state(struct stack_tcp *c, enum tcp_state s);
void tcp_drop(struct stack_tcp *c, int err); /* to CLOSED with an error */
/* Puts c on the reap list when nobody holds it any more (see above). */
void tcp_maybe_free(struct stack_tcp *c);
/* An entry into the stack begins and ends; the end of the outermost one
 * frees the reap list. */
void tcp_enter(struct stack *st);
void tcp_leave(struct stack *st);
void tcp_update_events(struct stack_tcp *c);
uint32_t tcp_rcv_window(const struct stack_tcp *c);
uint32_t tcp_ts_now(const struct stack_tcp *c);
void tcp_init_seq(struct stack_tcp *c); /* iss, ts_off, snd_*, recover */
void tcp_choose_wscale(struct stack_tcp *c);
const char *tcp_state_name(enum tcp_state s);

/* tcp_output.c */
void tcp_output(struct stack_tcp *c);
void tcp_send_ack(struct stack_tcp *c);
void tcp_send_rst(struct stack *st, const uint8_t *dmac, uint32_t rip,
		  uint16_t rport, uint16_t lport, uint32_t seq, uint32_t ack,
		  int with_ack);
void tcp_send_syn(struct stack_tcp *c);
/* A RST for c's peer, where c has one to send it to (tcp_usrreq.c). */
void tcp_reset_peer(struct stack_tcp *c);
void tcp_send_probe(struct stack_tcp *c, int keepalive);
/* Sends [seq, seq+len) from the send ring again; returns bytes sent. */
uint32_t tcp_retransmit(struct stack_tcp *c, uint32_t seq, uint32_t len);

/* tcp_loss.c: the segment records, SACK scoreboard, RACK-TLP loss
 * detection (RFC 8985) and proportional rate reduction (RFC 6937) */
int tcp_txs_alloc(struct stack_tcp *c);
int tcp_txs_full(const struct stack_tcp *c);
void tcp_txs_sent(struct stack_tcp *c, uint32_t seq, uint32_t end);
uint32_t tcp_pipe(const struct stack_tcp *c);
/* An acceptable ACK was processed (SND.UNA already moved by acked bytes):
 * take its SACK blocks, detect losses, run recovery and the congestion
 * window. dup: a classic duplicate ACK. Returns an RTT sample from the
 * newest segment it acknowledged that was sent once, or 0. */
uint64_t tcp_loss_ack(struct stack_tcp *c, uint32_t acked, const struct wire_tcp_opts *o,
		  int dup);
/* Resends the first lost segment if the window lets it out: 1 if it
 * did, 0 if nothing was lost or there is no room, -1 if out of buffers. */
int tcp_resend_lost(struct stack_tcp *c);
void tcp_resend_last(struct stack_tcp *c); /* tail loss probe */
void tcp_loss_rto(struct stack_tcp *c);
void tcp_loss_mark_all(struct stack_tcp *c); /* resend everything unSACKed */
void tcp_loss_reo_timeout(struct stack_tcp *c);

/* tcp_input.c */
struct stack_tcp *tcp_child_new(struct stack_tcp *l, uint32_t rip, uint16_t rport,
				const uint8_t *dmac);
/* A child's handshake is complete: it joins its listener's accept queue. */
void tcp_accept_child(struct stack_tcp *c);
void tcp_ring_copy_in(struct stack_tcp *c, uint32_t seq, const uint8_t *src, uint32_t len);
void tcp_input(struct stack *st, void *pkt, uint8_t *frame,
	       const struct wire_ipv4_view *ip);
/* An ICMP destination unreachable (frame pkt) quoting one of our
 * segments: addresses and ports as we sent them (host order), the quoted
 * sequence number, the ICMP code and (code 4) the next-hop MTU. Returns 1
 * when ops->steer took pkt for the stack the connection moved to. */
int tcp_icmp_unreach(struct stack *st, void *pkt, uint32_t dst, uint16_t sport,
		     uint16_t dport, uint32_t seq, uint8_t code, uint16_t mtu);

enum tcp_timer_kind { TCP_T_REXMT = 1, TCP_T_DELACK, TCP_T_KEEP };

/* tcp_move.c: a listener's unaccepted children handed to another process
 * of a shared device that listens on the same port (ops->tcp_move), and
 * taken in there */
/* 1 when c went to another process (it is to be dropped here without a
 * RST), 0 when it cannot (too much unread data, out-of-order data, no
 * taker), -EAGAIN when no process takes it now but one may come. */
int tcp_move_out(struct stack_tcp *c);
/* A closing listener's child c: moved (dropped here without a RST), left
 * waiting for a taker (move_wait), or reset and dropped. */
void tcp_move_or_reset(struct stack_tcp *c);
/* Offers the waiting children again (stack_poll, while any wait). */
void tcp_move_retry(struct stack *st);
/* A connection another process handed over (a frame of
 * WIRE_ETHERTYPE_ACCEL_MOVE, STACK_RX_HANDED) joins the listener here. */
void tcp_move_in(struct stack *st, const uint8_t *msg, uint16_t len);

/* tcp_timer.c */
void tcp_timers_run(struct stack *st);
void tcp_rexmt_arm(struct stack_tcp *c);
void tcp_rexmt_restart(struct stack_tcp *c);
void tcp_delack_arm(struct stack_tcp *c);
void tcp_keep_arm(struct stack_tcp *c, uint64_t after_ns);
void tcp_timers_cancel(struct stack_tcp *c);
void tcp_rtt_sample(struct stack_tcp *c, uint64_t rtt_ns);

/* tcp_cc.c: NewReno's window growth and reduction (RFC 5681) */
void tcp_cc_init(struct stack_tcp *c);
void tcp_cc_established(struct stack_tcp *c);
void tcp_cc_sent(struct stack_tcp *c, int cwnd_limited);
void tcp_cc_ack(struct stack_tcp *c, uint32_t acked);
void tcp_cc_enter_recovery(struct stack_tcp *c);
void tcp_cc_exit_recovery(struct stack_tcp *c);
void tcp_cc_rto(struct stack_tcp *c);

static inline uint32_t tcp_flight(const struct stack_tcp *c)
{
	return c->snd_max - c->snd_una;
}

static inline int tcp_synced(const struct stack_tcp *c)
{
	return c->state >= TCP_ESTABLISHED;
}

#endif
