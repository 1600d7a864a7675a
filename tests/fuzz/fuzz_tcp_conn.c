/*
 * fuzz_tcp_conn.c - one TCP connection, established, and the fuzzer as
 * its peer: segments near the stack's window (sequence, ACK, SACK blocks
 * and timestamps chosen relative to what the stack sent, so they land in
 * the interesting places), interleaved with the application's calls (send,
 * recv, shutdown, close, abort, setopt, stack_tcp_move to a second stack
 * and back) and with clock steps that let every timer fire: delayed ACK,
 * RTO, RACK's reordering timer, tail loss probe, persist, keepalive,
 * FIN_WAIT_2 and TIME_WAIT.
 *
 * Two stacks share an address, a clock and an isn_key, as two threads'
 * stacks of a process do; the wire delivers to the first, which steers the
 * connection's frames to the second once it moved there (ops->steer), as
 * sockets/ does.
 *
 * Oracles besides the sanitizers: every frame sent is well-formed with
 * right checksums (fuzz.h); every data byte the stack sends is the byte
 * the application wrote at that stream offset; every byte recv returns is
 * the byte the peer sent at that offset (the peer's data is a function of
 * its sequence number, so retransmissions and overlaps always agree);
 * nothing is in the send buffer that was not written; no buffer is left
 * when both stacks are destroyed.
 *
 * Input: a header (mode, options, buffer sizes), then operations, each an
 * opcode byte and its arguments (see the OP_* list).
 */
#include <errno.h>

#include "../../stack/stack.h"
#include "../../stack/tcp.h" /* rcv_user: where a recv reads from */
#include "fuzz.h"

#define IP_US TEST_IP4(10, 0, 0, 1)
#define IP_PEER TEST_IP4(10, 0, 0, 2)
#define IP_ROUTER TEST_IP4(10, 0, 0, 254)
#define PORT_US 80
#define PORT_PEER 40000
#define MS 1000000ull
#define T0 (1000 * TEST_NS_PER_S)
#define NSEGS 64
#define MAX_OPS 512
#define SETTLE_MAX 64

static const uint8_t mac_us[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t mac_peer[6] = { 2, 0, 0, 0, 0, 2 };

struct range {
	uint32_t seq, end;
};

struct h {
	struct test_port port[2];  /* first: a port is its stack's ctx */
	struct stack *st[2];
	struct stack_tcp *l;       /* passive mode's listener */
	struct stack_tcp *c;       /* the handle, NULL once released */
	int home;                  /* stack serving the 4-tuple, -1: gone */
	uint64_t now;
	uint16_t lport, rport;     /* the tuple, as the stack sees it */

	/* the stack as the peer saw it on the wire */
	int synced;
	uint32_t s_iss, s_max, s_ack, s_tsval;
	uint32_t s_win;            /* its last window, scaled */
	uint8_t s_ws;              /* the shift it offered */
	int s_ts, s_sack;          /* it agreed to timestamps, SACK */
	struct range seg[NSEGS];   /* its last data segments */
	unsigned nseg;

	/* the peer */
	uint32_t p_iss, p_nxt, p_ack, p_ts;
	unsigned p_opts;           /* FZ_O_* it offered on its SYN */
	uint8_t p_ws;
	uint16_t p_mss;

	/* the application */
	uint64_t app_sent, app_recvd;
	int shut_wr;
	int close_on_err;          /* the event callback closes the handle */
	int fail_next;             /* the next operation runs out of buffers */
};

static uint8_t pat_app(uint64_t off)
{
	return (uint8_t)(off * 31 + (off >> 9) + 7);
}

static uint8_t pat_peer(uint32_t off)
{
	return (uint8_t)(off * 13 + (off >> 8) * 5 + 1);
}

static int steer(void *ctx, void *pkt, uint32_t rip, uint16_t rport,
		 uint16_t lport, int syn);
static void gone(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport);
static void event(void *ctx, struct stack_tcp *c, void *user, unsigned ev);

static struct h *H; /* for the callbacks, which get only a port */

static const struct stack_ops *ops(void)
{
	static struct stack_ops o;

	if (!o.pkt_alloc) {
		o = *test_port_ops();
		o.steer = steer;
		o.tcp_gone = gone;
		o.tcp_event = event;
	}
	return &o;
}

static int side_of(void *ctx)
{
	return ctx == &H->port[1];
}

static int steer(void *ctx, void *pkt, uint32_t rip, uint16_t rport,
		 uint16_t lport, int syn)
{
	int me = side_of(ctx);

	(void)syn;
	if (rip != IP_PEER || rport != H->rport || lport != H->lport ||
	    H->home < 0 || H->home == me)
		return 0;
	test_pktq_push(&H->port[H->home].rx, pkt);
	return 1;
}

/* Readiness as sockets/ gets it; with close_on_err the program closes
 * its handle from inside the callback when an error or hang-up comes, as
 * an event loop may. */
static void event(void *ctx, struct stack_tcp *c, void *user, unsigned ev)
{
	(void)ctx;
	(void)user;
	if (H->close_on_err && c == H->c && (ev & (STACK_TCP_EV_ERR | STACK_TCP_EV_HUP))) {
		H->c = NULL;
		stack_tcp_close(c);
	}
}

static void gone(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport)
{
	if (rip == IP_PEER && rport == H->rport && lport == H->lport &&
	    H->home == side_of(ctx))
		H->home = -1;
}

/* ---- the stack's output, as the peer reads it --------------------------- */

static void seen_data(struct h *h, const struct fz_out *o)
{
	uint64_t off = (uint32_t)(o->seq - h->s_iss - 1);

	/* Stream offsets past 4 GiB do not occur in one run. */
	for (unsigned i = 0; i < o->len; i++) {
		FZ_CHECK(off + i < h->app_sent, "sent a byte the application never wrote");
		FZ_CHECK(o->data[i] == pat_app(off + i), "sent a byte other than written");
	}
	h->seg[h->nseg++ % NSEGS] = (struct range){ o->seq, o->seq + o->len };
}

static int trace; /* FZ_TRACE=1 in the environment: frames and ops on stderr */

static void seen(struct h *h, const struct fz_out *o)
{
	uint32_t end = o->seq + o->len + !!(o->flags & WIRE_TCP_SYN) +
		       !!(o->flags & WIRE_TCP_FIN);

	if (trace)
		fprintf(stderr, "%8.3f ms  < %u>%u fl %02x seq %u ack %u win %u len %u\n",
			(double)(h->now - T0) / 1e6, o->sport, o->dport, o->flags,
			o->seq - h->s_iss, o->ack - h->p_iss, o->win, o->len);
	if (o->dst != IP_PEER || o->sport != h->lport || o->dport != h->rport)
		return;
	if (o->flags & WIRE_TCP_SYN) {
		h->s_iss = o->seq;
		h->s_max = end;
		h->s_ws = o->has_ws ? o->ws : 0;
		if (o->flags & WIRE_TCP_ACK) { /* SYN-ACK: what it agreed to */
			h->s_ts = o->has_ts;
			h->s_sack = o->sack_ok;
		}
	}
	if (o->flags & WIRE_TCP_RST)
		return;
	if (o->len && h->synced)
		seen_data(h, o);
	if (tcp_seq_gt(end, h->s_max))
		h->s_max = end;
	if (o->flags & WIRE_TCP_ACK) {
		h->s_ack = o->ack;
		h->s_win = (uint32_t)o->win << ((o->flags & WIRE_TCP_SYN) ? 0 :
					       (h->p_opts & FZ_O_WS ? h->s_ws : 0));
	}
	if (o->has_ts)
		h->s_tsval = o->tsval;
}

static void collect(struct h *h)
{
	for (int s = 0; s < 2; s++) {
		struct test_pkt *p;
		struct fz_out o;

		stack_flush(h->st[s]); /* (the stack batches its output) */
		while ((p = test_pktq_pop(&h->port[s].tx))) {
			if (fz_check_tx(p, IP_US, mac_us, &o))
				seen(h, &o);
			test_pkt_free(p);
		}
		FZ_CHECK(!h->port[s].misuse, "packet length beyond its buffer");
	}
}

/* Runs both stacks at this instant until no frame is waiting. */
static void settle(struct h *h)
{
	for (int i = 0; i < SETTLE_MAX; i++) {
		for (int s = 0; s < 2; s++) {
			h->port[s].now_ns = h->now;
			stack_poll(h->st[s]);
		}
		collect(h);
		if (!h->port[0].rx.count && !h->port[1].rx.count)
			return;
	}
}

static void set_time(struct h *h, uint64_t t)
{
	h->now = t;
	h->port[0].now_ns = h->port[1].now_ns = t;
}

/* ---- the peer's frames ----------------------------------------------- */

static void deliver(struct h *h, const struct test_frame *f)
{
	test_port_rx_push(&h->port[0], f);
	settle(h);
}

static uint32_t peer_tsval(struct h *h)
{
	return h->p_ts + (uint32_t)((h->now - T0) / MS);
}

static void peer_seg(struct h *h, uint32_t seq, uint32_t ack, uint8_t flags,
		     uint16_t win, unsigned opts, const struct fz_optset *os,
		     uint16_t len)
{
	static uint8_t data[TEST_PKT_ROOM];
	struct test_frame f;
	struct fz_seg s = { .smac = mac_peer, .dmac = mac_us, .src = IP_PEER,
			    .dst = IP_US, .sport = h->rport, .dport = h->lport,
			    .seq = seq, .ack = ack, .flags = flags, .win = win,
			    .data = data, .len = len };

	fz_opts_put(&s, opts, os);
	if (len > TEST_PKT_ROOM - 14 - 60 - 40)
		s.len = len = TEST_PKT_ROOM - 14 - 60 - 40;
	for (unsigned i = 0; i < len; i++)
		data[i] = pat_peer(seq + i - h->p_iss - 1);
	if (!fz_frame_tcp(&f, &s))
		return;
	if (trace)
		fprintf(stderr, "%8.3f ms  > fl %02x seq %u ack %u win %u len %u opts %x\n",
			(double)(h->now - T0) / 1e6, flags, seq - h->p_iss, ack - h->s_iss,
			win, len, opts);
	if (tcp_seq_gt(seq + len, h->p_nxt) && h->synced)
		h->p_nxt = seq + len;
	if ((flags & WIRE_TCP_ACK) && tcp_seq_gt(ack, h->p_ack))
		h->p_ack = ack;
	deliver(h, &f);
}

/* ---- setting up -------------------------------------------------------- */

static void arp_reply(struct h *h, int side)
{
	struct test_frame f;
	uint8_t mac[6];

	stack_resolve(h->st[side], IP_PEER, mac);
	test_frame_reset(&f);
	test_frame_eth(&f, mac_us, mac_peer, 0x0806);
	test_frame_arp(&f, 2, mac_peer, IP_PEER, mac_us, IP_US);
	test_frame_pad(&f, 60);
	test_port_rx_push(&h->port[side], &f);
	settle(h);
}

static struct fz_optset syn_optset(const struct h *h)
{
	struct fz_optset os = { .mss = h->p_mss, .ws = h->p_ws,
				.tsval = h->p_ts, .tsecr = h->s_tsval };

	return os;
}

/* Header: mode, peer options, buffer sizes. 0 if no connection came. */
static int establish(struct h *h, struct fz_in *in)
{
	uint8_t mode = fz_u8(in), opt = fz_u8(in);
	uint16_t p_win = fz_u16(in);
	/* the handshake's round trip, the first RTT sample: RACK's
	 * reordering window is bounded by it (RFC 8985 6.2 step 4) */
	uint64_t rtt = (uint64_t)(fz_u8(in) + 1) * 250000;
	int passive = mode & 1;
	struct fz_optset os;
	int bufs[4] = { 0, 4096, 8192, 65536 };

	h->p_opts = (opt & (FZ_O_MSS | FZ_O_WS | FZ_O_SACKOK | FZ_O_TS));
	h->close_on_err = !!(opt & 0x10);
	h->p_ws = (uint8_t)(fz_u8(in) % 16);
	h->p_mss = fz_u16(in);
	h->p_iss = fz_u32(in);
	h->p_ts = fz_u32(in);
	for (int s = 0; s < 2; s++) {
		struct stack_conf conf = { .ip = IP_US, .prefix_len = 24,
					   .gateway = IP_ROUTER, .mtu = 1500,
					   .seed = 7 + (uint64_t)s,
					   .sndbuf = (uint32_t)bufs[(mode >> 1) & 3],
					   .rcvbuf = (uint32_t)bufs[(mode >> 3) & 3],
					   .tx_csum = (mode & 0x80) ? 3u : 0u };

		memcpy(conf.mac, mac_us, 6);
		memset(conf.isn_key, 0x5a, sizeof(conf.isn_key));
		test_port_init(&h->port[s], T0);
		h->st[s] = stack_create(&conf, ops(), &h->port[s]);
		if (!h->st[s])
			return 0;
	}
	collect(h);
	arp_reply(h, 0);
	arp_reply(h, 1);
	h->rport = PORT_PEER;
	if (passive) {
		if (stack_tcp_listen(h->st[0], PORT_US, 4, NULL, &h->l))
			return 0;
		h->lport = PORT_US;
		h->home = 0;
		os = syn_optset(h);
		peer_seg(h, h->p_iss, 0, WIRE_TCP_SYN, p_win, h->p_opts, &os, 0);
		if (!h->s_max)
			return 0;
	} else {
		if (stack_tcp_connect(h->st[0], IP_PEER, PORT_PEER, 0, NULL, &h->c))
			return 0;
		stack_tcp_endpoints(h->c, &(uint32_t){ 0 }, &h->lport,
				    &(uint32_t){ 0 }, &h->rport);
		h->home = 0;
		settle(h);
		if (!h->s_max)
			return 0;
		set_time(h, h->now + rtt);
		os = syn_optset(h);
		os.tsecr = h->s_tsval;
		if (!(mode & 0x20)) /* else the fuzzer answers the SYN */
			peer_seg(h, h->p_iss, h->s_iss + 1, WIRE_TCP_SYN | WIRE_TCP_ACK,
				 p_win, h->p_opts, &os, 0);
		h->s_ts = (h->p_opts & FZ_O_TS) != 0;
		h->s_sack = (h->p_opts & FZ_O_SACKOK) != 0;
	}
	h->synced = 1;
	h->p_nxt = h->p_iss + 1;
	if (passive && !(mode & 0x20)) { /* else the fuzzer sends the ACK */
		set_time(h, h->now + rtt);
		os = syn_optset(h);
		os.tsval = peer_tsval(h);
		os.tsecr = h->s_tsval;
		peer_seg(h, h->p_nxt, h->s_iss + 1, WIRE_TCP_ACK, p_win,
			 h->s_ts ? FZ_O_TS : 0, &os, 0);
		if (stack_tcp_accept(h->l, NULL, &h->c))
			h->c = NULL; /* the fuzzer may still bring one */
	}
	if (mode & 0x40 && h->c)
		stack_tcp_setopt(h->c, STACK_TCP_NODELAY, 1);
	return 1;
}

/* ---- operations -------------------------------------------------------- */

enum {
	OP_SEG,        /* a segment near the window */
	OP_ACK,        /* a pure ACK, maybe with SACK blocks */
	OP_ADVANCE,    /* the clock moves on */
	OP_NEXT,       /* the clock jumps to the stacks' next deadlines */
	OP_SEND,
	OP_RECV,
	OP_SHUTDOWN,
	OP_CLOSE,      /* close or abort */
	OP_MOVE,       /* stack_tcp_move to the other stack */
	OP_SETOPT,
	OP_ICMP,       /* an ICMP error quoting one of the stack's segments */
	OP_ACCEPT,     /* passive mode: take a connection from the listener */
	OP_RAWSEG,     /* a segment with raw option bytes */
	OP_QUERY,      /* the getters, checked against each other */
	OP_STARVE,     /* the next operation finds no buffer, or a full port */
	OP_MAX
};

static uint32_t seg_edge(struct h *h, uint8_t idx, int end)
{
	const struct range *r;

	if (!h->nseg)
		return h->s_max;
	idx %= h->nseg < NSEGS ? h->nseg : NSEGS;
	r = &h->seg[(h->nseg - 1 - idx) % NSEGS];
	return end ? r->end : r->seq;
}

/* Where a segment's sequence number, ACK and length go. */
static void seg_fields(struct h *h, struct fz_in *in, uint32_t *seq,
		       uint32_t *ack, uint16_t *len)
{
	uint8_t k = fz_u8(in);
	int32_t d = fz_s8(in);
	uint32_t unit = (k & 4) ? 536 : 1, right = h->s_ack + h->s_win;

	switch (k & 3) {
	case 0: *seq = h->s_ack; break;
	case 1: *seq = h->p_nxt; break;
	case 2: *seq = right; break;
	default: *seq = fz_u32(in); break;
	}
	*seq += (uint32_t)(d * (int32_t)unit);
	d = fz_s8(in);
	switch ((k >> 3) & 3) {
	case 0: *ack = h->s_max; break;
	case 1: *ack = h->p_ack; break;
	case 2: *ack = seg_edge(h, fz_u8(in), 1); break;
	default: *ack = h->s_iss + fz_u32(in); break;
	}
	*ack += (uint32_t)d;
	switch (k >> 5) {
	case 0: *len = 0; break;
	case 1: *len = fz_u8(in); break;
	case 2: *len = 536; break;
	case 3: *len = 1460; break;
	case 4: *len = (uint16_t)(right - *seq); break; /* up to the edge */
	case 5: *len = (uint16_t)(right - *seq + 1); break; /* one past it */
	case 6: *len = (uint16_t)(fz_u16(in) % 1461); break;
	default: *len = 1; break;
	}
}

static void seg_opts(struct h *h, struct fz_in *in, unsigned *which,
		     struct fz_optset *os)
{
	uint8_t o = fz_u8(in);

	memset(os, 0, sizeof(*os));
	*which = 0;
	if (h->s_ts && !(o & 1)) { /* usually there, as RFC 7323 wants */
		*which |= FZ_O_TS;
		os->tsval = peer_tsval(h) + (uint32_t)((o & 2) ? fz_s8(in) : 0);
		os->tsecr = h->s_tsval;
	}
	os->nsack = (uint8_t)((o >> 2) & 3);
	if (os->nsack) {
		*which |= FZ_O_SACK;
		for (unsigned i = 0; i < os->nsack; i++) {
			uint8_t a = fz_u8(in), b = fz_u8(in);

			os->sack[i].left = seg_edge(h, a, 0);
			os->sack[i].right = seg_edge(h, b, 1);
			if (a & 0x80) /* a D-SACK below SND.UNA, or nonsense */
				os->sack[i].left -= (uint32_t)fz_u16(in);
		}
	}
	if (o & 0x10)
		*which |= FZ_O_MSS | FZ_O_WS | FZ_O_SACKOK; /* where not allowed */
}

static void op_seg(struct h *h, struct fz_in *in, int pure_ack)
{
	uint32_t seq, ack;
	uint16_t len, win;
	uint8_t flags;
	unsigned which;
	struct fz_optset os;

	seg_fields(h, in, &seq, &ack, &len);
	flags = fz_u8(in);
	/* The ACK flag is on unless the byte says otherwise twice over. */
	if ((flags & 0xc0) != 0xc0)
		flags |= WIRE_TCP_ACK;
	flags &= 0x3f;
	if (pure_ack) {
		flags &= (uint8_t)~(WIRE_TCP_SYN | WIRE_TCP_FIN | WIRE_TCP_RST);
		len = 0;
		seq = h->p_nxt;
	}
	win = fz_u16(in);
	seg_opts(h, in, &which, &os);
	os.mss = h->p_mss;
	os.ws = h->p_ws;
	peer_seg(h, seq, ack, flags, win, which, &os, len);
}

static void op_rawseg(struct h *h, struct fz_in *in)
{
	static uint8_t data[1500];
	struct test_frame f;
	uint32_t seq, ack;
	uint16_t len;
	struct fz_seg s = { .smac = mac_peer, .dmac = mac_us, .src = IP_PEER,
			    .dst = IP_US, .sport = h->rport, .dport = h->lport,
			    .data = data };

	seg_fields(h, in, &seq, &ack, &len);
	s.seq = seq;
	s.ack = ack;
	s.flags = fz_u8(in);
	s.win = fz_u16(in);
	s.urg = fz_u16(in);
	s.opts_len = (uint8_t)(fz_u8(in) % 41);
	fz_bytes(in, s.opts, s.opts_len);
	s.len = len > 1400 ? 1400 : len;
	s.bad_csum = (uint8_t)((s.flags & 0xc0) == 0xc0 ? 2 : 0);
	for (unsigned i = 0; i < s.len; i++)
		data[i] = pat_peer(seq + i - h->p_iss - 1);
	if (fz_frame_tcp(&f, &s))
		deliver(h, &f);
}

static void op_icmp(struct h *h, struct fz_in *in)
{
	struct test_frame f;
	uint8_t code = fz_u8(in), q[28];
	uint16_t mtu = fz_u16(in);
	uint32_t seq = seg_edge(h, fz_u8(in), 0) + (uint32_t)fz_s8(in);
	struct test_ipv4 ip = { .src = (code & 0x80) ? IP_ROUTER : IP_PEER,
				.dst = IP_US, .proto = 1 };
	struct test_ipv4 qip = { .src = IP_US, .dst = IP_PEER, .proto = 6 };
	struct test_frame qf;
	uint8_t *m;

	/* The quoted datagram: our header and the first 8 bytes of TCP. */
	test_frame_reset(&qf);
	test_frame_ipv4(&qf, &qip, 20);
	memcpy(q, qf.b, 20);
	test_put16(q + 20, h->lport);
	test_put16(q + 22, h->rport);
	test_put32(q + 24, seq);
	test_frame_reset(&f);
	test_frame_eth(&f, mac_us, mac_peer, 0x0800);
	test_frame_ipv4(&f, &ip, 8 + 28);
	m = test_frame_bytes(&f, NULL, 8 + 28);
	m[0] = 3;
	m[1] = code & 0x0f;
	test_put16(m + 6, mtu);
	memcpy(m + 8, q, 28);
	test_put16(m + 2, test_csum(m, 8 + 28));
	test_frame_pad(&f, 60);
	deliver(h, &f);
}

static void op_send(struct h *h, struct fz_in *in)
{
	static uint8_t buf[70000];
	uint16_t n = fz_u16(in);
	uint8_t fl = fz_u8(in);
	size_t len = (fl & 2) ? (size_t)n + 65536 : n;
	long r;

	if (!h->c)
		return;
	if (len > sizeof(buf))
		len = sizeof(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = pat_app(h->app_sent + i);
	r = stack_tcp_send_flags(h->c, buf, len, (fl & 1) ? STACK_TCP_MORE : 0);
	FZ_CHECK(r <= (long)len, "send took more than given");
	if (r > 0)
		h->app_sent += (uint64_t)r;
	FZ_CHECK(!(r >= 0 && h->shut_wr && len), "send after shutdown(SHUT_WR)");
	collect(h);
}

static void op_recv(struct h *h, struct fz_in *in)
{
	static uint8_t buf[70000];
	uint16_t n = fz_u16(in);
	int peek = fz_u8(in) & 1;
	size_t readable;
	uint32_t from;
	long r;

	if (!h->c)
		return;
	readable = stack_tcp_readable(h->c);
	from = h->c->rcv_user;
	r = stack_tcp_recv(h->c, buf, n, peek);
	if (r > 0) {
		FZ_CHECK((size_t)r <= n && (size_t)r <= readable, "recv beyond what is readable");
		for (long i = 0; i < r; i++)
			FZ_CHECK(buf[i] == pat_peer(from + (uint32_t)i - h->p_iss - 1),
				 "recv returned a byte the peer did not send there");
		if (!peek)
			h->app_recvd += (uint64_t)r;
	}
	collect(h);
}

static void op_close(struct h *h, struct fz_in *in)
{
	uint8_t how = fz_u8(in);

	if (how & 0x10) {
		if (h->l) {
			stack_tcp_close(h->l);
			h->l = NULL;
		}
	} else if (h->c) {
		if (how & 1)
			stack_tcp_abort(h->c);
		else
			stack_tcp_close(h->c);
		h->c = NULL;
	}
	collect(h);
}

static void op_move(struct h *h)
{
	int to;

	if (!h->c)
		return;
	to = stack_tcp_stack(h->c) == h->st[0];
	if (stack_tcp_move(h->c, h->st[to]) == 0) {
		h->home = to;
		FZ_CHECK(stack_tcp_stack(h->c) == h->st[to], "stack_tcp_stack after a move");
	}
	collect(h);
}

static void op_setopt(struct h *h, struct fz_in *in)
{
	static const int vals[] = { 0, 1, 2, 75, 4096, 100000, -1, 32768 };
	uint8_t o = fz_u8(in), v = fz_u8(in);

	if (h->c)
		stack_tcp_setopt(h->c, (enum stack_tcp_opt)(o % 9), vals[v % 8]);
	collect(h);
}

static void op_accept(struct h *h)
{
	struct stack_tcp *c;

	if (!h->l)
		return;
	while (stack_tcp_accept(h->l, NULL, &c) == 0) {
		if (!h->c) {
			h->c = c; /* a new connection: its own streams */
			h->app_sent = 0;
			h->shut_wr = 0;
			continue;
		}
		stack_tcp_close(c); /* (another peer's: not ours to keep) */
	}
	collect(h);
}

static void op_query(struct h *h)
{
	unsigned ev;

	if (!h->c)
		return;
	ev = stack_tcp_events(h->c);
	FZ_CHECK(stack_tcp_unacked(h->c) <= h->app_sent, "unacked beyond what was sent");
	(void)stack_tcp_state(h->c);
	if (stack_tcp_readable(h->c))
		FZ_CHECK(ev & STACK_TCP_EV_IN, "readable without EV_IN");
	(void)stack_tcp_error(h->c); /* (the callback may close it) */
	if (h->c)
		(void)stack_tcp_getopt(h->c, STACK_TCP_SNDBUF);
	collect(h);
}

static void op_next(struct h *h, struct fz_in *in)
{
	unsigned k = fz_u8(in) % 8 + 1;

	for (unsigned i = 0; i < k; i++) {
		uint64_t a = stack_next_deadline(h->st[0]);
		uint64_t b = stack_next_deadline(h->st[1]);
		uint64_t t = a < b ? a : b;

		if (t == UINT64_MAX)
			return;
		set_time(h, t > h->now ? t : h->now + 1);
		settle(h);
	}
}

static void run(struct h *h, struct fz_in *in)
{
	for (int i = 0; i < MAX_OPS && fz_more(in); i++) {
		uint8_t op = fz_u8(in);

		if (trace)
			fprintf(stderr, "op %u\n", op % OP_MAX);
		for (int s = 0; s < 2 && h->fail_next; s++) {
			h->port[s].fail_alloc = h->fail_next == 1;
			h->port[s].tx_limit = h->fail_next == 2 ? 0 : -1;
		}
		switch (op % OP_MAX) {
		case OP_SEG: op_seg(h, in, 0); break;
		case OP_ACK: op_seg(h, in, 1); break;
		case OP_ADVANCE:
			set_time(h, h->now + fz_delay(in));
			settle(h);
			break;
		case OP_NEXT: op_next(h, in); break;
		case OP_SEND: op_send(h, in); break;
		case OP_RECV: op_recv(h, in); break;
		case OP_SHUTDOWN:
			if (h->c) {
				int how = fz_u8(in) % 4;

				if (stack_tcp_shutdown(h->c, how) == 0 && how >= 1 && how <= 2)
					h->shut_wr = 1;
				collect(h);
			}
			break;
		case OP_CLOSE: op_close(h, in); break;
		case OP_MOVE: op_move(h); break;
		case OP_SETOPT: op_setopt(h, in); break;
		case OP_ICMP: op_icmp(h, in); break;
		case OP_ACCEPT: op_accept(h); break;
		case OP_RAWSEG: op_rawseg(h, in); break;
		case OP_QUERY: op_query(h); break;
		case OP_STARVE: h->fail_next = 1 + (fz_u8(in) & 1); continue;
		}
		for (int s = 0; s < 2 && h->fail_next; s++) {
			h->port[s].fail_alloc = false;
			h->port[s].tx_limit = -1;
		}
		if (h->fail_next) {
			h->fail_next = 0;
			settle(h); /* (what the port refused goes now) */
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h h;
	struct fz_in in = { data, size };

	memset(&h, 0, sizeof(h));
	H = &h;
	trace = getenv("FZ_TRACE") != NULL;
	h.now = T0;
	if (establish(&h, &in))
		run(&h, &in);
	if (h.c)
		stack_tcp_close(h.c);
	if (h.l)
		stack_tcp_close(h.l);
	collect(&h);
	for (int s = 0; s < 2; s++)
		stack_destroy(h.st[s]);
	for (int s = 0; s < 2; s++)
		test_port_fini(&h.port[s]);
	FZ_CHECK(h.port[0].live + h.port[1].live == 0, "packet buffers leaked");
	return 0;
}
