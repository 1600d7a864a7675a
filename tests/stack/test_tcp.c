/*
 * test_tcp.c - TCP end to end: two stacks on tcplink.h's simulated wire,
 * driven through the public stack_tcp_* API. Handshakes, bulk transfers
 * under loss, reordering and duplication, every way a connection closes,
 * resets (RFC 5961), flow control and persist, window scaling, SACK, the
 * retransmission timer, TIME_WAIT reuse (RFC 6191), keepalive, Nagle,
 * delayed ACKs, readiness events, and hand-built malformed segments fed to
 * stack_input (lwIP's way). Time is simulated; every test ends by checking
 * that no packet buffer leaked.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "../../stack/opts.h"
#include "../../stack/stack.h"
#include "../../stack/stack_impl.h" /* a peer replaced: its MAC changed */
#include "../../stack/tcp_isn.h"
#include "tcplink.h"

#define MS LINK_MS
#define SEC TEST_NS_PER_S
#define PORT 80
#define MSS 1460
#define MB (1024 * 1024)

/* ---- fixture ----------------------------------------------------------- */

static int teardown(void **state)
{
	struct tcplink *l = *state;

	if (l) {
		if (l->log)
			link_fini(l);
		free(l);
	}
	return 0;
}

static struct tcplink *lk_alloc(void **state, uint64_t seed)
{
	struct tcplink *l = malloc(sizeof(*l));

	assert_non_null(l);
	link_init(l, seed);
	*state = l;
	return l;
}

static void lk_start(struct tcplink *l)
{
	assert_true(link_start(l));
}

/* A started link, both directions with the given one-way delay. */
static struct tcplink *lk_new(void **state, uint64_t seed, uint64_t delay)
{
	struct tcplink *l = lk_alloc(state, seed);

	l->side[0].imp.delay_ns = l->side[1].imp.delay_ns = delay;
	lk_start(l);
	return l;
}

/* Every test ends here: both stacks gone, every buffer back. */
static void finish(struct tcplink *l)
{
	const char *trace = getenv("TCP_TEST_TRACE");

	if (trace)
		link_dump(l, strtoull(trace, NULL, 10));
	assert_int_equal(link_fini(l), 0);
}

/* assert_true that shows the last frames on the link when it fails. */
#define assert_link(l, cond)                          \
	do {                                          \
		if (!(cond))                          \
			link_dump((l), 60);           \
		assert_true(cond);                    \
	} while (0)

static struct stack *A(struct tcplink *l)
{
	return link_st(l, LINK_A);
}

static struct stack *B(struct tcplink *l)
{
	return link_st(l, LINK_B);
}

static uint64_t total_drops(struct stack *st)
{
	const struct stack_stats *s = stack_stats(st);
	uint64_t n = 0;

	for (int i = 0; i < STACK_DROP_MAX; i++)
		n += s->drops[i];
	return n;
}

/* ---- connections ------------------------------------------------------- */

struct pair {
	struct stack_tcp *lst, *a, *b;
};

static bool pred_pair_up(struct tcplink *l, void *arg)
{
	struct pair *p = arg;

	if (!p->b)
		stack_tcp_accept(p->lst, NULL, &p->b);
	return p->b && (stack_tcp_events(p->a) & STACK_TCP_EV_OUT);
}

/* B listens on PORT, A connects; both ends established within limit. */
static void pair_open_within(struct tcplink *l, struct pair *p,
			     uint64_t limit)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &p->lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL,
					   &p->a), 0);
	assert_true(link_run(l, l->now + limit, pred_pair_up, p));
}

static void pair_open(struct tcplink *l, struct pair *p)
{
	pair_open_within(l, p, 5 * SEC);
	assert_string_equal(stack_tcp_state(p->a), "ESTABLISHED");
	assert_string_equal(stack_tcp_state(p->b), "ESTABLISHED");
}

static bool pred_error(struct tcplink *l, void *arg)
{
	return stack_tcp_events(arg) & STACK_TCP_EV_ERR;
}

static bool pred_state(struct stack_tcp *c, const char *name)
{
	return !strcmp(stack_tcp_state(c), name);
}

struct want_state {
	struct stack_tcp *c;
	const char *name;
};

static bool pred_want_state(struct tcplink *l, void *arg)
{
	struct want_state *w = arg;

	return pred_state(w->c, w->name);
}

/* Runs until c is in state name, at most limit ns; asserts it got there. */
static void run_to_state(struct tcplink *l, struct stack_tcp *c,
			 const char *name, uint64_t limit)
{
	struct want_state w = { c, name };

	if (!link_run(l, l->now + limit, pred_want_state, &w)) {
		link_dump(l, 20);
		fail_msg("%s, not %s", stack_tcp_state(c), name);
	}
}

/* ---- the log ----------------------------------------------------------- */

/* Calls fn for every TCP segment recorded since record from. */
typedef void (*seg_fn)(const struct link_rec *r, const struct link_seg *s,
		       void *arg);

static void each_seg(const struct tcplink *l, uint64_t from, seg_fn fn,
		     void *arg)
{
	struct link_seg s;

	if (from < link_log_first(l))
		from = link_log_first(l);
	for (uint64_t i = from; i < l->nlog; i++) {
		const struct link_rec *r = link_rec_at(l, i);

		if (link_seg_parse(r, &s))
			fn(r, &s, arg);
	}
}

/* Segments of one direction matching flags (all of want, none of avoid). */
struct seg_count {
	int dir;
	uint8_t want, avoid;
	bool data;           /* only segments with payload */
	unsigned n;
	const struct link_rec *last;
	struct link_seg last_seg;
};

static void count_fn(const struct link_rec *r, const struct link_seg *s,
		     void *arg)
{
	struct seg_count *c = arg;

	if (r->dir != c->dir || (s->v.flags & c->want) != c->want ||
	    (s->v.flags & c->avoid) || (c->data && !s->v.payload_len))
		return;
	c->n++;
	c->last = r;
	c->last_seg = *s;
}

static unsigned count_segs(const struct tcplink *l, uint64_t from, int dir,
			   uint8_t want, uint8_t avoid)
{
	struct seg_count c = { .dir = dir, .want = want, .avoid = avoid };

	each_seg(l, from, count_fn, &c);
	return c.n;
}

/* The last segment from dir with the flags; false if none. */
static bool last_seg(const struct tcplink *l, uint64_t from, int dir,
		     uint8_t want, struct link_seg *out)
{
	struct seg_count c = { .dir = dir, .want = want };

	each_seg(l, from, count_fn, &c);
	if (c.n)
		*out = c.last_seg;
	return c.n > 0;
}

/* What dir has sent up to (its snd_max) and acknowledged (the other's). */
struct seq_track {
	int dir;
	bool any;
	uint32_t nxt, ack;
	uint16_t sport, dport;
};

static void track_fn(const struct link_rec *r, const struct link_seg *s,
		     void *arg)
{
	struct seq_track *t = arg;

	if (r->dir != t->dir)
		return;
	if (!t->any || tcp_seq_gt(link_seg_end(s), t->nxt))
		t->nxt = link_seg_end(s);
	if (s->v.flags & WIRE_TCP_ACK)
		t->ack = s->v.ack;
	t->sport = s->v.sport;
	t->dport = s->v.dport;
	t->any = true;
}

static struct seq_track track(const struct tcplink *l, int dir)
{
	struct seq_track t = { .dir = dir };

	each_seg(l, 0, track_fn, &t);
	assert_true(t.any);
	return t;
}

/* ---- hand-built segments ----------------------------------------------- */

struct seg_spec {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;
	const uint8_t *opts;   /* raw option bytes */
	uint8_t opts_len;      /* a multiple of 4 unless testing bad offsets */
	int8_t off_words;      /* 0: from opts_len; else this data offset */
	const void *data;
	uint16_t len;
	bool bad_csum;
	int16_t ip_len_cut;    /* bytes the IPv4 total length leaves out */
};

/* A frame from the other side's MAC and address to side to. */
static void build_seg(struct tcplink *l, int to, const struct seg_spec *sp,
		      struct test_frame *f)
{
	const struct stack_conf *dst = &l->side[to].conf;
	const struct stack_conf *src = &l->side[!to].conf;
	uint16_t tlen = (uint16_t)(20 + sp->opts_len + sp->len);
	struct test_ipv4 ip = { .src = src->ip, .dst = dst->ip, .proto = 6 };
	uint8_t *t;

	ip.total_len = (uint16_t)(20 + tlen - sp->ip_len_cut);
	test_frame_reset(f);
	test_frame_eth(f, dst->mac, src->mac, 0x0800);
	test_frame_ipv4(f, &ip, tlen);
	t = test_frame_bytes(f, NULL, tlen);
	wire_tcp_emit(t, sp->sport, sp->dport, sp->seq, sp->ack, sp->flags,
		      sp->window, sp->opts_len & ~3u);
	if (sp->off_words)
		t[12] = (uint8_t)(sp->off_words << 4);
	else
		t[12] = (uint8_t)((20 + sp->opts_len) / 4 << 4);
	if (sp->opts_len)
		memcpy(t + 20, sp->opts, sp->opts_len);
	if (sp->len)
		memcpy(t + 20 + sp->opts_len, sp->data, sp->len);
	test_put16(t + 16, 0);
	memcpy(t + 16, &(uint16_t){ wire_tcp_csum(t, tlen, ip.src, ip.dst) }, 2);
	if (sp->bad_csum)
		t[16] ^= 0x01;
	test_frame_pad(f, 60);
}

/* Feeds a hand-built segment to side to's stack directly (stack_input)
 * and moves what it answers onto the link. */
static void inject(struct tcplink *l, int to, const struct seg_spec *sp)
{
	struct test_frame f;

	build_seg(l, to, sp, &f);
	stack_input(link_st(l, to), test_port_pkt_from(&l->side[to].port, &f));
	link_collect(l);
}

/* A segment from B's side of the pair, as B's next one would look. */
static struct seg_spec spec_from_b(struct tcplink *l)
{
	struct seq_track b = track(l, LINK_B), a = track(l, LINK_A);

	return (struct seg_spec){ .sport = b.sport, .dport = b.dport,
				  .seq = b.nxt, .ack = a.nxt,
				  .flags = WIRE_TCP_ACK, .window = 65535 };
}

/* ---- data -------------------------------------------------------------- */

/* The byte at offset off of stream salt: a hash, so a misplaced,
 * repeated or lost byte shows. */
static uint8_t pat(uint64_t off, unsigned salt)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull + salt;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint8_t)(x >> (8 * (off & 7)));
}

struct flow {
	struct stack_tcp *tx, *rx;
	uint64_t total, sent, got;
	unsigned salt, bad;
	bool no_read;
};

static void flow_send(struct flow *f)
{
	uint8_t buf[16384];

	while (f->sent < f->total) {
		size_t n = f->total - f->sent < sizeof(buf) ?
				   (size_t)(f->total - f->sent) : sizeof(buf);
		long k;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(f->sent + i, f->salt);
		k = stack_tcp_send(f->tx, buf, n);
		if (k <= 0)
			return;
		f->sent += (uint64_t)k;
	}
}

static void flow_recv(struct flow *f)
{
	uint8_t buf[16384];
	long k;

	while (!f->no_read &&
	       (k = stack_tcp_recv(f->rx, buf, sizeof(buf), 0)) > 0) {
		for (long i = 0; i < k; i++)
			f->bad += buf[i] != pat(f->got + (uint64_t)i, f->salt);
		f->got += (uint64_t)k;
	}
}

static bool flow_pump(struct flow *f)
{
	flow_send(f);
	flow_recv(f);
	return f->got >= f->total;
}

static bool pred_flow(struct tcplink *l, void *arg)
{
	return flow_pump(arg);
}

struct flows {
	struct flow f[2];
};

static bool pred_flows(struct tcplink *l, void *arg)
{
	struct flows *fs = arg;
	bool a = flow_pump(&fs->f[0]), b = flow_pump(&fs->f[1]);

	return a && b;
}

static struct flow flow_of(struct stack_tcp *tx, struct stack_tcp *rx,
			   uint64_t total, unsigned salt)
{
	return (struct flow){ .tx = tx, .rx = rx, .total = total,
			      .salt = salt };
}

/* Moves total bytes from tx to rx within limit; asserts they all arrived
 * intact. Returns the simulated time it took. */
static uint64_t transfer(struct tcplink *l, struct stack_tcp *tx,
			 struct stack_tcp *rx, uint64_t total, uint64_t limit)
{
	struct flow f = flow_of(tx, rx, total, 7);
	uint64_t t0 = l->now;

	if (!link_run(l, t0 + limit, pred_flow, &f)) {
		link_dump(l, 30);
		fail_msg("%" PRIu64 " of %" PRIu64 " bytes in %.3f s", f.got,
			 total, (double)limit / SEC);
	}
	assert_int_equal(f.bad, 0);
	assert_int_equal(f.got, total);
	return l->now - t0;
}

/* ---- handshakes -------------------------------------------------------- */

/* SYN, SYN-ACK, ACK; MSS, window scale and SACK-permitted offered; both
 * ends established; the listener reports EV_IN; endpoints right. */
static void test_handshake_active_passive(void **state)
{
	struct tcplink *l = lk_new(state, 1, MS);
	struct link_seg syn, synack;
	struct pair p;
	uint32_t lip, rip;
	uint16_t lport, rport;

	pair_open(l, &p);
	assert_true(last_seg(l, 0, LINK_A, WIRE_TCP_SYN, &syn));
	assert_false(syn.v.flags & WIRE_TCP_ACK);
	assert_true(syn.o.has_mss && syn.o.mss == MSS);
	assert_true(syn.o.has_wscale && syn.o.sack_ok);
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_SYN | WIRE_TCP_ACK, &synack));
	assert_int_equal(synack.v.ack, syn.v.seq + 1);
	assert_true(synack.o.has_mss);
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_SYN, 0), 1);
	assert_true(link_events_since(&l->side[LINK_B], p.lst, 0, NULL) &
		    STACK_TCP_EV_IN);
	stack_tcp_endpoints(p.a, &lip, &lport, &rip, &rport);
	assert_int_equal(lip, LINK_IP_A);
	assert_int_equal(rip, LINK_IP_B);
	assert_int_equal(rport, PORT);
	assert_true(lport >= TCP_EPH_LO && lport <= TCP_EPH_HI);
	stack_tcp_endpoints(p.b, &lip, &lport, &rip, &rport);
	assert_int_equal(lport, PORT);
	assert_int_equal(rip, LINK_IP_A);
	finish(l);
}

/* RFC 6928: both ends start with min(10*MSS, max(2*MSS, 14600)) in the
 * MSS the SYNs agreed (not the 536 that stands before them), and the
 * client's first flight is that many segments. */
static void test_initial_window(void **state)
{
	struct tcplink *l = lk_new(state, 11, MS);
	static uint8_t buf[64 * 1024];
	struct stack_tcp_info ia, ib;
	struct seg_count c = { .dir = LINK_A, .data = true };
	uint64_t from;
	struct pair p;

	pair_open(l, &p);
	stack_tcp_info(p.a, &ia);
	stack_tcp_info(p.b, &ib);
	assert_true(ia.mss > 536 && ia.mss <= MSS);
	assert_int_equal(ia.cwnd, 10 * ia.mss < 14600 ? 10 * ia.mss : 14600);
	assert_int_equal(ib.cwnd, 10 * ib.mss < 14600 ? 10 * ib.mss : 14600);
	from = l->nlog;
	assert_true(stack_tcp_send(p.a, buf, sizeof(buf)) > 0);
	link_run_for(l, MS / 2); /* less than one round trip: no ACK yet */
	each_seg(l, from, count_fn, &c);
	assert_int_equal(c.n, 10);
	finish(l);
}

/* RFC 7661: a sender that never fills its window (one short request per
 * round trip) does not grow it; one that does, does. */
static void test_cwnd_app_limited(void **state)
{
	struct tcplink *l = lk_new(state, 12, MS);
	static uint8_t buf[256 * 1024];
	struct stack_tcp_info i0, i;
	struct pair p;

	pair_open(l, &p);
	stack_tcp_info(p.a, &i0);
	for (int k = 0; k < 200; k++) {
		assert_int_equal(stack_tcp_send(p.a, buf, 100), 100);
		link_run_for(l, 5 * MS);
		while (stack_tcp_recv(p.b, buf, sizeof(buf), 0) > 0)
			;
	}
	stack_tcp_info(p.a, &i);
	assert_int_equal(i.cwnd, i0.cwnd);
	assert_true(stack_tcp_send(p.a, buf, sizeof(buf)) > 0);
	link_run_for(l, 5 * MS);
	stack_tcp_info(p.a, &i);
	assert_true(i.cwnd > i0.cwnd);
	finish(l);
}

struct simopen {
	struct stack_tcp *a, *b;
};

static bool pred_both_out(struct tcplink *l, void *arg)
{
	struct simopen *s = arg;

	return (stack_tcp_events(s->a) & STACK_TCP_EV_OUT) &&
	       (stack_tcp_events(s->b) & STACK_TCP_EV_OUT);
}

/* RFC 9293 3.5 figure 8: both SYNs cross; each answers with SYN-ACK and
 * both reach ESTABLISHED, then data flows. */
static void test_simultaneous_open(void **state)
{
	struct tcplink *l = lk_new(state, 2, 5 * MS);
	struct simopen s;

	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, 5001, 5000, NULL,
					   &s.a), 0);
	assert_int_equal(stack_tcp_connect(B(l), LINK_IP_A, 5000, 5001, NULL,
					   &s.b), 0);
	assert_true(link_run(l, l->now + 5 * SEC, pred_both_out, &s));
	assert_string_equal(stack_tcp_state(s.a), "ESTABLISHED");
	assert_string_equal(stack_tcp_state(s.b), "ESTABLISHED");
	assert_true(count_segs(l, 0, LINK_A, WIRE_TCP_SYN, WIRE_TCP_ACK) >= 1);
	assert_true(count_segs(l, 0, LINK_B, WIRE_TCP_SYN, WIRE_TCP_ACK) >= 1);
	assert_true(count_segs(l, 0, LINK_A, WIRE_TCP_SYN | WIRE_TCP_ACK, 0) >= 1);
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_RST, 0) +
			 count_segs(l, 0, LINK_B, WIRE_TCP_RST, 0), 0);
	transfer(l, s.a, s.b, 100000, 5 * SEC);
	transfer(l, s.b, s.a, 100000, 5 * SEC);
	finish(l);
}

/* A shutdown(SHUT_WR) in SYN-RECEIVED after the SYNs crossed: the FIN
 * waits for ESTABLISHED (RFC 9293 3.10.4), which is where the buffers and
 * segment records come from; entering FIN-WAIT-1 at once sent the FIN
 * from a connection without them when the SYN-ACK came (a NULL write in
 * tcp_txs_sent, found by fuzz_tcp_conn). B sees EOF; A still receives. */
static void test_simultaneous_open_shutdown(void **state)
{
	struct tcplink *l = lk_new(state, 2, 5 * MS);
	struct simopen s;
	char buf[16];

	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, 5001, 5000, NULL, &s.a), 0);
	assert_int_equal(stack_tcp_connect(B(l), LINK_IP_A, 5000, 5001, NULL, &s.b), 0);
	link_run_for(l, 7 * MS); /* both SYNs arrived, no SYN-ACK yet */
	assert_string_equal(stack_tcp_state(s.a), "SYN-RECEIVED");
	assert_int_equal(stack_tcp_shutdown(s.a, 1), 0);
	link_run_for(l, SEC);
	assert_string_equal(stack_tcp_state(s.a), "FIN-WAIT-2");
	assert_string_equal(stack_tcp_state(s.b), "CLOSE-WAIT");
	assert_int_equal(stack_tcp_recv(s.b, buf, sizeof(buf), 0), 0);
	assert_int_equal(stack_tcp_send(s.b, "hi", 2), 2);
	link_run_for(l, SEC);
	assert_int_equal(stack_tcp_recv(s.a, buf, sizeof(buf), 0), 2);
	assert_memory_equal(buf, "hi", 2);
	stack_tcp_close(s.b);
	stack_tcp_close(s.a);
	link_run_for(l, 2 * TCP_TIMEWAIT_NS);
	finish(l);
}

/* No listener: B answers RST|ACK (RFC 9293 3.10.7.1) and connect fails
 * with -ECONNREFUSED through EV_ERR. */
static void test_connect_refused(void **state)
{
	struct tcplink *l = lk_new(state, 3, MS);
	struct stack_tcp *a;
	struct link_seg rst;

	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, 81, 0, NULL, &a), 0);
	assert_true(link_run(l, l->now + SEC, pred_error, a));
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_RST, &rst));
	assert_true(rst.v.flags & WIRE_TCP_ACK);
	assert_int_equal(rst.v.seq, 0);
	assert_true(link_events_since(&l->side[LINK_A], a, 0, NULL) &
		    STACK_TCP_EV_ERR);
	assert_int_equal(stack_tcp_error(a), -ECONNREFUSED);
	assert_int_equal(stack_tcp_error(a), 0); /* taken */
	assert_string_equal(stack_tcp_state(a), "CLOSED");
	assert_int_equal(stack_tcp_send(a, "x", 1) < 0, 1);
	stack_tcp_close(a);
	finish(l);
}

/* A quiet port (stack_conf.quiet_ports: a prefork worker's closed copy
 * of its group's listener): a SYN to it is dropped and counted, not
 * refused, so A's connect goes on retrying and completes once B listens
 * there again; another closed port of B's still refuses. */
static void test_quiet_port(void **state)
{
	struct tcplink *l = lk_new(state, 3, MS);
	static uint8_t quiet[65536 / 8];
	struct stack_tcp *a, *r, *lst, *got = NULL;

	memset(quiet, 0, sizeof(quiet));
	quiet[PORT >> 3] = (uint8_t)(1u << (PORT & 7));
	((struct stack *)B(l))->conf.quiet_ports = quiet;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT + 1, 0, NULL, &r), 0);
	link_run_for(l, 2 * SEC); /* the first SYN and its retry at 1 s */
	assert_int_equal(stack_tcp_error(r), -ECONNREFUSED);
	assert_false(stack_tcp_events(a) & (STACK_TCP_EV_ERR | STACK_TCP_EV_OUT));
	assert_string_equal(stack_tcp_state(a), "SYN-SENT");
	assert_int_equal(count_segs(l, 0, LINK_B, WIRE_TCP_RST, 0), 1); /* r's */
	assert_true(stack_stats(B(l))->drops[STACK_DROP_TCP_QUIET] >= 2);
	assert_int_equal(stack_stats(B(l))->drops[STACK_DROP_TCP_NO_CONN], 1);
	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	quiet[PORT >> 3] = 0; /* (the socket layer's listen clears it) */
	link_run_for(l, 4 * SEC); /* the retry at 3 s finds the listener */
	assert_true(stack_tcp_events(a) & STACK_TCP_EV_OUT);
	assert_int_equal(stack_tcp_accept(lst, NULL, &got), 0);
	stack_tcp_close(got);
	stack_tcp_close(lst);
	stack_tcp_close(a);
	stack_tcp_close(r);
	finish(l);
}

/* Times, in order, of segments from dir since record from that have the
 * flags want and, unless any_seq, sequence number seq. */
struct seg_sel {
	uint64_t from;
	int dir;
	uint8_t want;
	bool any_seq;
	uint32_t seq;
};

static unsigned seg_times(const struct tcplink *l, const struct seg_sel *q,
			  uint64_t *t, unsigned max)
{
	uint64_t i = q->from > link_log_first(l) ? q->from : link_log_first(l);
	unsigned n = 0;
	struct link_seg s;

	for (; i < l->nlog && n < max; i++) {
		const struct link_rec *r = link_rec_at(l, i);

		if (r->dir == q->dir && link_seg_parse(r, &s) &&
		    (s.v.flags & q->want) == q->want &&
		    (q->any_seq || s.v.seq == q->seq))
			t[n++] = r->t;
	}
	return n;
}

/* Each gap between retransmissions about twice the one before (RFC 6298
 * 5.5), while below the ceiling. */
static void assert_backoff(const uint64_t *t, unsigned n)
{
	for (unsigned i = 2; i < n; i++) {
		uint64_t g0 = t[i - 1] - t[i - 2], g1 = t[i] - t[i - 1];

		if (g1 >= TCP_RTO_MAX_NS - 2 * MS)
			break;
		if (g1 < g0 * 18 / 10 || g1 > g0 * 22 / 10 + 2 * MS)
			fail_msg("gap %u: %.3f s after %.3f s", i,
				 (double)g1 / SEC, (double)g0 / SEC);
	}
}

/* A silent peer: the SYN is sent TCP_SYN_RETRIES more times, 1 s, 2 s,
 * 4 s ... apart (RFC 6298 2.1, 5.5), then connect fails -ETIMEDOUT. */
static void test_syn_retries_timeout(void **state)
{
	struct tcplink *l = lk_new(state, 4, MS);
	struct stack_tcp *a;
	uint64_t t[32], t0 = l->now;
	unsigned n;

	l->side[LINK_A].imp.cut = true;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a), 0);
	assert_true(link_run(l, l->now + 400 * SEC, pred_error, a));
	n = seg_times(l, &(struct seg_sel){ .dir = LINK_A, .want = WIRE_TCP_SYN,
					    .any_seq = true }, t, 32);
	assert_int_equal(n, 1 + TCP_SYN_RETRIES);
	assert_true(t[1] - t[0] >= TCP_RTO_INIT_NS &&
		    t[1] - t[0] <= TCP_RTO_INIT_NS + 2 * MS);
	assert_backoff(t, n);
	assert_int_equal(stack_tcp_error(a), -ETIMEDOUT);
	printf("# SYN gave up after %.1f s simulated\n",
	       (double)(l->now - t0) / SEC);
	stack_tcp_close(a);
	finish(l);
}

/* Opens a connection from A to PORT from lport. */
static struct stack_tcp *connect_from(struct tcplink *l, uint16_t lport)
{
	struct stack_tcp *c;

	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, lport, NULL,
					   &c), 0);
	return c;
}

static unsigned synacks_to(const struct tcplink *l, uint64_t from,
			   uint16_t port)
{
	struct seg_count c = { .dir = LINK_B,
			       .want = WIRE_TCP_SYN | WIRE_TCP_ACK };
	unsigned n = 0;

	for (uint64_t i = from; i < l->nlog; i++) {
		struct link_seg s;
		const struct link_rec *r = link_rec_at(l, i);

		if (r && r->dir == LINK_B && link_seg_parse(r, &s) &&
		    (s.v.flags & c.want) == c.want && s.v.dport == port)
			n++;
	}
	return n;
}

/* Backlog 1 with three clients: one connection fills the accept queue
 * (two if the stack counts as Linux does, backlog + 1); SYNs beyond it go
 * unanswered (Linux drops them), and once one is accepted the next SYN
 * retry gets through. */
static void test_backlog_full(void **state)
{
	struct tcplink *l = lk_new(state, 5, MS);
	struct stack_tcp *c[3], *got;
	struct pair p = { 0 };
	unsigned k = 0;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 1, NULL, &p.lst), 0);
	for (int i = 0; i < 3; i++) {
		c[i] = connect_from(l, (uint16_t)(40001 + i));
		link_run_for(l, 100 * MS);
	}
	link_run_for(l, 4 * SEC);
	while (k < 3 && (stack_tcp_events(c[k]) & STACK_TCP_EV_OUT))
		k++;
	assert_true(k == 1 || k == 2);
	for (unsigned i = k; i < 3; i++) {
		assert_false(stack_tcp_events(c[i]) & STACK_TCP_EV_OUT);
		assert_int_equal(synacks_to(l, 0, (uint16_t)(40001 + i)), 0);
	}
	assert_true(count_segs(l, 0, LINK_A, WIRE_TCP_SYN, WIRE_TCP_ACK) >=
		    k + 2 * (3 - k));
	assert_true(stack_stats(B(l))->drops[STACK_DROP_TCP_BACKLOG] >=
		    2 * (3 - k));
	assert_int_equal(stack_tcp_accept(p.lst, NULL, &got), 0);
	link_run_for(l, 10 * SEC);
	assert_true(stack_tcp_events(c[k]) & STACK_TCP_EV_OUT);
	assert_true(synacks_to(l, 0, (uint16_t)(40001 + k)) >= 1);
	finish(l);
}

/* ---- bulk transfers ---------------------------------------------------- */

#define BULK (10ull * MB)

/* 10 MB each way at once, both directions impaired alike, 1 ms each way;
 * byte for byte intact within bound seconds of simulated time. The runs
 * are deterministic (seeded); the bounds are about three times what RACK
 * and PRR take, so a regression in loss recovery fails here. */
static void bulk_on(void **state, uint64_t seed, const struct link_imp *imp,
		    const char *what, double bound_s, bool offload)
{
	struct tcplink *l = lk_alloc(state, seed);
	struct flows fs;
	struct pair p;
	uint64_t t0;
	bool done;

	l->side[0].imp = l->side[1].imp = *imp;
	for (int d = 0; offload && d < 2; d++) { /* checksums by the "NICs" */
		l->side[d].conf.tx_csum = STACK_TX_IP_CSUM | STACK_TX_TCP_CSUM;
		l->side[d].nic_rx_csum = true;
	}
	lk_start(l);
	pair_open_within(l, &p, 60 * SEC);
	fs.f[0] = flow_of(p.a, p.b, BULK, 1);
	fs.f[1] = flow_of(p.b, p.a, BULK, 2);
	t0 = l->now;
	done = link_run(l, t0 + (uint64_t)(bound_s * SEC), pred_flows, &fs);
	printf("# %s: 2 x 10 MB in %.3f s simulated (bound %.0f s), "
	       "%" PRIu64 "+%" PRIu64 " frames, %" PRIu64 "+%" PRIu64 " lost\n",
	       what, (double)(l->now - t0) / SEC, bound_s, l->side[0].sent,
	       l->side[1].sent, l->side[0].lost, l->side[1].lost);
	if (!done)
		link_dump(l, 30);
	assert_true(done);
	assert_int_equal(fs.f[0].bad + fs.f[1].bad, 0);
	assert_int_equal(fs.f[0].got, BULK);
	assert_int_equal(fs.f[1].got, BULK);
	/* Every flipped byte breaks the checksum, unless it broke the header
	 * first (a data offset is checked before the checksum). */
	if (imp->corrupt > 0)
		assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_CSUM] +
				 stack_stats(B(l))->drops[STACK_DROP_TCP_CSUM] +
				 stack_stats(A(l))->drops[STACK_DROP_TCP_MALFORMED] +
				 stack_stats(B(l))->drops[STACK_DROP_TCP_MALFORMED],
				 l->side[0].corrupted + l->side[1].corrupted);
	if (offload) /* every IPv4 frame left its checksums to the NIC */
		assert_int_equal(l->side[0].offloaded + l->side[1].offloaded,
				 l->side[0].ipv4_sent + l->side[1].ipv4_sent);
	finish(l);
}

static void bulk(void **state, uint64_t seed, const struct link_imp *imp,
		 const char *what, double bound_s)
{
	bulk_on(state, seed, imp, what, bound_s, false);
}

static void test_bulk_loss0(void **state)
{
	struct link_imp m = { .delay_ns = MS };

	bulk(state, 10, &m, "loss 0%", 5);
}

static void test_bulk_loss1(void **state)
{
	struct link_imp m = { .delay_ns = MS, .drop = 0.01 };

	bulk(state, 11, &m, "loss 1%", 5);
}

static void test_bulk_loss5(void **state)
{
	struct link_imp m = { .delay_ns = MS, .drop = 0.05 };

	bulk(state, 12, &m, "loss 5%", 12);
}

static void test_bulk_loss10(void **state)
{
	struct link_imp m = { .delay_ns = MS, .drop = 0.10 };

	bulk(state, 13, &m, "loss 10%", 25);
}

static void test_bulk_reorder(void **state)
{
	struct link_imp m = { .delay_ns = MS, .reorder = 0.05,
			      .reorder_k = 3, .jitter_ns = 200000 };

	bulk(state, 14, &m, "reorder 5% by 3, jitter 0.2 ms", 8);
}

static void test_bulk_duplicate(void **state)
{
	struct link_imp m = { .delay_ns = MS, .dup = 0.05 };

	bulk(state, 15, &m, "duplicate 5%", 10);
}

/* Corrupted frames must fail the TCP checksum and be counted as drops. */
static void test_bulk_corrupt(void **state)
{
	struct link_imp m = { .delay_ns = MS, .corrupt = 0.02 };

	bulk(state, 16, &m, "corrupt 2%", 8);
}

/* Checksum offload: each stack leaves the IPv4 and TCP checksums to its
 * port (the pseudo-header sum in the field, as NICs want) and trusts the
 * port's receive verdict. Corrupted frames get no GOOD flag from the
 * receiving "NIC", so the stack checks them itself and drops them. */
static void test_bulk_corrupt_offload(void **state)
{
	struct link_imp m = { .delay_ns = MS, .corrupt = 0.02 };

	bulk_on(state, 17, &m, "corrupt 2%, checksums offloaded", 8, true);
}

/* A segment the port vouched for (STACK_RX_L4_CSUM_GOOD) is not checked
 * again: one with a wrong checksum is taken, where without the flag it is
 * dropped (test_malformed_segments). */
static void test_rx_csum_flag_trusted(void **state)
{
	struct tcplink *l = lk_new(state, 91, MS);
	struct seg_spec sp;
	struct test_frame f;
	struct test_pkt *pkt;
	struct pair p;
	uint64_t drops;

	pair_open(l, &p);
	drops = stack_stats(A(l))->drops[STACK_DROP_TCP_CSUM];
	sp = spec_from_b(l);
	sp.data = "trust";
	sp.len = 5;
	sp.bad_csum = true;
	build_seg(l, LINK_A, &sp, &f);
	pkt = test_port_pkt_from(&l->side[LINK_A].port, &f);
	pkt->rx_flags = STACK_RX_IP_CSUM_GOOD | STACK_RX_L4_CSUM_GOOD;
	stack_input(A(l), pkt);
	link_collect(l);
	assert_int_equal(stack_tcp_readable(p.a), 5);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_CSUM], drops);
	finish(l);
}

/* A segment another process of the device handed over (STACK_RX_HANDED)
 * that finds no connection came late, after its connection ended here
 * (the handshake's ACK behind the data): dropped and counted, no RST, to
 * a listener's port as to a closed one; the same segment off the wire
 * draws its RST. A handed SYN still reaches the listener. */
static void test_handed_late(void **state)
{
	struct tcplink *l = lk_new(state, 92, MS);
	struct seg_spec sp = { .sport = 40001, .dport = PORT, .seq = 1000, .ack = 2000,
			       .flags = WIRE_TCP_ACK, .window = 65535 };
	struct test_frame f;
	struct test_pkt *pkt;
	struct pair p;
	uint64_t late, rsts;

	pair_open(l, &p); /* (B listens on PORT) */
	late = stack_stats(B(l))->drops[STACK_DROP_TCP_LATE];
	rsts = stack_stats(B(l))->tcp_rsts_out;
	for (int closed = 0; closed < 2; closed++) {
		sp.dport = closed ? PORT + 7 : PORT;
		build_seg(l, LINK_B, &sp, &f);
		pkt = test_port_pkt_from(&l->side[LINK_B].port, &f);
		pkt->rx_flags = STACK_RX_HANDED;
		stack_input(B(l), pkt);
		link_collect(l);
		assert_int_equal(stack_stats(B(l))->drops[STACK_DROP_TCP_LATE],
				 late + 1 + (unsigned)closed);
		assert_int_equal(stack_stats(B(l))->tcp_rsts_out, rsts);
	}
	for (int closed = 0; closed < 2; closed++) { /* off the wire: refused */
		sp.dport = closed ? PORT + 7 : PORT;
		build_seg(l, LINK_B, &sp, &f);
		stack_input(B(l), test_port_pkt_from(&l->side[LINK_B].port, &f));
		link_collect(l);
		assert_int_equal(stack_stats(B(l))->tcp_rsts_out, rsts + 1 + (unsigned)closed);
	}
	/* a handed SYN is a new connection's: the listener answers it */
	sp = (struct seg_spec){ .sport = 40002, .dport = PORT, .seq = 5000,
				.flags = WIRE_TCP_SYN, .window = 65535 };
	build_seg(l, LINK_B, &sp, &f);
	pkt = test_port_pkt_from(&l->side[LINK_B].port, &f);
	pkt->rx_flags = STACK_RX_HANDED;
	stack_input(B(l), pkt);
	link_collect(l);
	assert_int_equal(stack_stats(B(l))->drops[STACK_DROP_TCP_LATE], late + 2);
	assert_true(stack_stats(B(l))->tcp_passive_opens >= 2);
	finish(l);
}

/* Drops what A sends from one port but its SYN while on (the handshake's
 * last ACK). */
struct port_cut {
	uint16_t sport;
	bool on;
};

static bool port_cut_hook(struct tcplink *l, int dir, const struct test_pkt *p, void *arg)
{
	struct port_cut *w = arg;
	struct link_seg s;

	(void)l;
	return w->on && dir == LINK_A && link_pkt_seg(p, &s) && s.v.sport == w->sport &&
	       !(s.v.flags & WIRE_TCP_SYN);
}

/* A listener that closes with connections it never handed out, while
 * another process of the device listens on the port (nginx -s reload: the
 * old worker closes, the new one serves): each goes to the other stack
 * through ops->tcp_move with what it received unread, one established and
 * queued, one whose handshake's ACK was lost (SYN-RECEIVED); the other
 * stack accepts both, the unread bytes first, and both carry data both
 * ways with no RST and no segment refused by PAWS (its timestamps go on
 * from the old stack's clock, though its own clock is another). */
static void test_listener_handoff(void **state)
{
	struct tcplink *l = lk_new(state, 93, MS);
	struct stack_tcp *lst, *lst2, *a, *a2, *b = NULL, *b2c = NULL;
	struct port_cut cut = { 0 };
	struct stack *st2;
	char buf[64];
	uint32_t lip, rip;
	uint16_t lport, rport;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &lst), 0);
	st2 = link_second(l, LINK_B);
	assert_non_null(st2);
	assert_int_equal(stack_tcp_listen(st2, PORT, 16, NULL, &lst2), 0);
	/* (a buffer of another size there: the unread bytes are copied into
	 * a ring of its own) */
	assert_int_equal(stack_tcp_setopt(lst2, STACK_TCP_RCVBUF,
					  2 * stack_tcp_getopt(lst, STACK_TCP_RCVBUF)), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a), 0);
	link_run_for(l, 20 * MS);
	assert_string_equal(stack_tcp_state(a), "ESTABLISHED");
	assert_int_equal(stack_tcp_send(a, "hello", 5), 5);
	link_run_for(l, 20 * MS); /* (acknowledged, unread: nobody accepted) */
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a2), 0);
	stack_tcp_endpoints(a2, &lip, &lport, &rip, &rport);
	cut = (struct port_cut){ .sport = lport, .on = true };
	l->hook = port_cut_hook;
	l->hook_arg = &cut;
	link_run_for(l, 20 * MS);
	assert_string_equal(stack_tcp_state(a2), "ESTABLISHED"); /* (B: SYN-RECEIVED) */
	assert_true(stack_tcp_events(lst) & STACK_TCP_EV_IN);

	/* no taker for 300 ms (a reload's new worker still starting): they
	 * wait, acknowledged, and are offered again */
	l->side[LINK_B].move_to_second = true;
	l->side[LINK_B].move_again_until = l->now + 300 * MS;
	stack_tcp_close(lst);
	assert_int_equal(l->side[LINK_B].moved, 0);
	assert_int_equal(stack_tcp_move_waiting(B(l)), 2);
	link_run_for(l, 200 * MS);
	assert_int_equal(l->side[LINK_B].moved, 0);
	assert_true(l->side[LINK_B].move_asked > 20);
	l->side[LINK_B].move_again_until = 0;
	link_run_for(l, 2 * MS);
	assert_int_equal(stack_tcp_move_waiting(B(l)), 0);
	assert_int_equal(l->side[LINK_B].moved, 2);
	assert_int_equal(stack_stats(B(l))->tcp_moved_out, 2);
	assert_int_equal(stack_stats(B(l))->tcp_rsts_out, 0);
	link_poll_all(l);
	assert_int_equal(stack_stats(st2)->tcp_moved_in, 2);
	cut.on = false;
	assert_int_equal(stack_tcp_accept(lst2, NULL, &b), 0);
	assert_int_equal(stack_tcp_recv(b, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	/* the half-open one completes there (its SYN-ACK again, the ACK) */
	link_run_for(l, 3 * SEC);
	assert_int_equal(stack_tcp_accept(lst2, NULL, &b2c), 0);
	assert_int_equal(stack_tcp_send(b, "world", 5), 5);
	assert_int_equal(stack_tcp_send(a2, "again", 5), 5);
	assert_int_equal(stack_tcp_send(b2c, "there", 5), 5);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(a, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "world", 5);
	assert_int_equal(stack_tcp_recv(b2c, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "again", 5);
	assert_int_equal(stack_tcp_recv(a2, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "there", 5);
	assert_int_equal(stack_stats(A(l))->tcp_rsts_out, 0);
	assert_int_equal(stack_stats(st2)->tcp_rsts_out, 0);
	assert_int_equal(stack_stats(B(l))->tcp_rsts_out, 0);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_PAWS], 0);
	assert_int_equal(stack_stats(st2)->drops[STACK_DROP_TCP_PAWS], 0);
	assert_false(stack_tcp_events(a) & STACK_TCP_EV_ERR);
	assert_false(stack_tcp_events(a2) & STACK_TCP_EV_ERR);

	/* a frame of that kind off the wire (no STACK_RX_HANDED) is refused */
	{
		uint64_t et = stack_stats(st2)->drops[STACK_DROP_ETHERTYPE];
		struct test_frame f;
		struct test_pkt *pkt;

		memset(&f, 0, sizeof(f));
		memcpy(f.b, l->side[LINK_B].conf.mac, 6);
		f.b[12] = 0x88;
		f.b[13] = 0xb5;
		f.len = 200;
		pkt = test_port_pkt_from(&l->side[LINK_B].port2, &f);
		stack_input(st2, pkt);
		assert_int_equal(stack_stats(st2)->drops[STACK_DROP_ETHERTYPE], et + 1);
	}
	stack_tcp_close(b);
	stack_tcp_close(b2c);
	stack_tcp_close(a);
	stack_tcp_close(a2);
	stack_tcp_close(lst2);
	link_run_for(l, 200 * SEC);
	finish(l);
}

/* A closed listener's connection that no process takes within
 * TCP_MOVE_WAIT_NS is reset then, as it would have been at once. */
static void test_listener_handoff_gives_up(void **state)
{
	struct tcplink *l = lk_new(state, 94, MS);
	struct stack_tcp *lst, *a;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a), 0);
	link_run_for(l, 20 * MS);
	assert_string_equal(stack_tcp_state(a), "ESTABLISHED");
	l->side[LINK_B].move_again_until = UINT64_MAX;
	stack_tcp_close(lst);
	assert_int_equal(stack_tcp_move_waiting(B(l)), 1);
	link_run_for(l, 1500 * MS);
	assert_false(stack_tcp_events(a) & STACK_TCP_EV_ERR);
	link_run_for(l, 600 * MS);
	assert_int_equal(stack_tcp_move_waiting(B(l)), 0);
	assert_int_equal(stack_stats(B(l))->tcp_rsts_out, 1);
	assert_true(stack_tcp_events(a) & STACK_TCP_EV_ERR);
	assert_int_equal(stack_tcp_error(a), -ECONNRESET);
	stack_tcp_close(a);
	link_run_for(l, 200 * SEC);
	finish(l);
}

/* A connection handed to a process that does not take it after all (no
 * listener there any more) is reset from there: the old one let it go. */
static void test_listener_handoff_refused(void **state)
{
	struct tcplink *l = lk_new(state, 95, MS);
	struct stack_tcp *lst, *a;
	struct stack *st2;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &lst), 0);
	st2 = link_second(l, LINK_B);
	assert_non_null(st2);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, NULL, &a), 0);
	link_run_for(l, 20 * MS);
	assert_string_equal(stack_tcp_state(a), "ESTABLISHED");
	l->side[LINK_B].move_to_second = true;
	stack_tcp_close(lst);
	assert_int_equal(l->side[LINK_B].moved, 1);
	assert_int_equal(stack_stats(B(l))->tcp_rsts_out, 0);
	link_poll_all(l);
	assert_int_equal(stack_stats(st2)->drops[STACK_DROP_TCP_MOVE], 1);
	assert_int_equal(stack_stats(st2)->tcp_rsts_out, 1);
	link_run_for(l, 10 * MS);
	assert_int_equal(stack_tcp_error(a), -ECONNRESET);
	stack_tcp_close(a);
	link_run_for(l, 200 * SEC);
	finish(l);
}

/* A rate of 100 Mbit/s with a 64 KB queue: losses come from the queue. */
static void test_bulk_bottleneck(void **state)
{
	struct link_imp m = { .delay_ns = 5 * MS, .rate_bps = 100000000,
			      .queue_bytes = 64 * 1024 };

	bulk(state, 17, &m, "100 Mbit/s, 64 KB queue, 10 ms RTT", 30);
}

/* ---- closing ----------------------------------------------------------- */

/* A closes its writing side first: FIN_WAIT_1, FIN_WAIT_2 once the FIN is
 * acknowledged; B sees EOF and EV_RDHUP in CLOSE_WAIT; B closes (LAST_ACK),
 * A enters TIME_WAIT and leaves it after 2MSL (RFC 9293 3.6). */
static void test_active_close(void **state)
{
	struct tcplink *l = lk_new(state, 20, 10 * MS);
	struct pair p;
	uint64_t tw;
	char c;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 5000, SEC);
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	link_run_for(l, 5 * MS);
	assert_string_equal(stack_tcp_state(p.a), "FIN-WAIT-1");
	run_to_state(l, p.a, "FIN-WAIT-2", SEC);
	assert_string_equal(stack_tcp_state(p.b), "CLOSE-WAIT");
	assert_true(stack_tcp_events(p.b) & STACK_TCP_EV_RDHUP);
	assert_true(link_events_since(&l->side[LINK_B], p.b, 0, NULL) &
		    STACK_TCP_EV_RDHUP);
	assert_int_equal(stack_tcp_recv(p.b, &c, 1, 0), 0);
	assert_int_equal(stack_tcp_send(p.a, "x", 1), -EPIPE);
	stack_tcp_close(p.b);
	run_to_state(l, p.a, "TIME-WAIT", SEC);
	tw = l->now;
	link_run(l, tw + TCP_TIMEWAIT_NS - 10 * MS, NULL, NULL);
	assert_string_equal(stack_tcp_state(p.a), "TIME-WAIT");
	run_to_state(l, p.a, "CLOSED", 20 * MS);
	assert_true(l->now - tw >= TCP_TIMEWAIT_NS);
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_RST, 0), 0);
	stack_tcp_close(p.a);
	finish(l);
}

/* The same through close: the FIN goes after the queued data, and the
 * peer reads every byte and then EOF. */
static void test_close_after_data(void **state)
{
	struct tcplink *l = lk_new(state, 21, MS);
	struct flow f;
	struct pair p;
	char c;

	pair_open(l, &p);
	f = flow_of(p.a, p.b, 30000, 3);
	flow_send(&f);
	assert_int_equal(f.sent, 30000);
	stack_tcp_close(p.a);
	assert_true(link_run(l, l->now + SEC, pred_flow, &f));
	assert_int_equal(f.bad, 0);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(p.b, &c, 1, 0), 0);
	assert_link(l, count_segs(l, 0, LINK_A, WIRE_TCP_FIN, 0) == 1);
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_RST, 0), 0);
	stack_tcp_close(p.b);
	link_run_for(l, TCP_TIMEWAIT_NS + SEC);
	assert_int_equal(stack_next_deadline(A(l)), UINT64_MAX);
	finish(l);
}

/* B is closed by the peer: CLOSE_WAIT, then shutdown(write) sends its FIN
 * (LAST_ACK) and the ACK of it ends the connection (CLOSED). */
static void test_passive_close(void **state)
{
	struct tcplink *l = lk_new(state, 22, 10 * MS);
	struct pair p;

	pair_open(l, &p);
	stack_tcp_close(p.a);
	run_to_state(l, p.b, "CLOSE-WAIT", SEC);
	assert_int_equal(stack_tcp_shutdown(p.b, 1), 0);
	link_run_for(l, 5 * MS);
	assert_string_equal(stack_tcp_state(p.b), "LAST-ACK");
	run_to_state(l, p.b, "CLOSED", SEC);
	assert_int_equal(stack_tcp_error(p.b), 0);
	stack_tcp_close(p.b);
	finish(l);
}

/* Both FINs cross: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both ends
 * (RFC 9293 3.6 figure 13). */
static void test_simultaneous_close(void **state)
{
	struct tcplink *l = lk_new(state, 23, 10 * MS);
	struct pair p;

	pair_open(l, &p);
	link_run_for(l, SEC); /* no ACK outstanding */
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	assert_int_equal(stack_tcp_shutdown(p.b, 1), 0);
	link_run_for(l, 5 * MS);
	assert_string_equal(stack_tcp_state(p.a), "FIN-WAIT-1");
	assert_string_equal(stack_tcp_state(p.b), "FIN-WAIT-1");
	link_run_for(l, 11 * MS);
	assert_string_equal(stack_tcp_state(p.a), "CLOSING");
	assert_string_equal(stack_tcp_state(p.b), "CLOSING");
	run_to_state(l, p.a, "TIME-WAIT", SEC);
	run_to_state(l, p.b, "TIME-WAIT", SEC);
	run_to_state(l, p.a, "CLOSED", TCP_TIMEWAIT_NS + SEC);
	stack_tcp_close(p.a);
	stack_tcp_close(p.b);
	finish(l);
}

/* Half-close: after A's shutdown(write), B keeps sending and A keeps
 * receiving (RFC 9293 3.6); then B closes and A reads EOF. */
static void test_half_close(void **state)
{
	struct tcplink *l = lk_new(state, 24, MS);
	struct pair p;
	char c;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	run_to_state(l, p.a, "FIN-WAIT-2", SEC);
	assert_int_equal(stack_tcp_recv(p.b, &c, 1, 0), 0);
	transfer(l, p.b, p.a, 300000, 5 * SEC);
	assert_string_equal(stack_tcp_state(p.a), "FIN-WAIT-2");
	assert_int_equal(stack_tcp_send(p.a, "x", 1), -EPIPE);
	stack_tcp_close(p.b);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(p.a, &c, 1, 0), 0);
	assert_string_equal(stack_tcp_state(p.a), "TIME-WAIT");
	stack_tcp_close(p.a);
	finish(l);
}

/* Closing with unread data resets (RFC 9293 3.10.4, RFC 2525 2.17) and the
 * peer's next call fails with -ECONNRESET. */
static void close_resets(struct tcplink *l, struct pair *p, uint64_t from)
{
	struct link_seg rst;

	link_run_for(l, 100 * MS);
	assert_true(last_seg(l, from, LINK_A, WIRE_TCP_RST, &rst));
	assert_int_equal(count_segs(l, from, LINK_A, WIRE_TCP_FIN, 0), 0);
	assert_true(stack_tcp_events(p->b) & STACK_TCP_EV_ERR);
	assert_true(link_events_since(&l->side[LINK_B], p->b, 0, NULL) &
		    STACK_TCP_EV_ERR);
	assert_int_equal(stack_tcp_error(p->b), -ECONNRESET);
	assert_string_equal(stack_tcp_state(p->b), "CLOSED");
}

static void test_close_unread_rst(void **state)
{
	struct tcplink *l = lk_new(state, 25, MS);
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_send(p.b, "unread", 6), 6);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_readable(p.a), 6);
	from = l->nlog;
	stack_tcp_close(p.a);
	close_resets(l, &p, from);
	finish(l);
}

static void test_linger0_rst(void **state)
{
	struct tcplink *l = lk_new(state, 26, MS);
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_setopt(p.a, STACK_TCP_LINGER0, 1), 0);
	assert_int_equal(stack_tcp_getopt(p.a, STACK_TCP_LINGER0), 1);
	from = l->nlog;
	stack_tcp_close(p.a);
	close_resets(l, &p, from);
	finish(l);
}

static void test_abort_rst(void **state)
{
	struct tcplink *l = lk_new(state, 27, MS);
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_send(p.a, "queued", 6), 6);
	from = l->nlog;
	stack_tcp_abort(p.a);
	close_resets(l, &p, from);
	finish(l);
}

/* ---- resets (RFC 9293 3.10.7.4, RFC 5961 3) ---------------------------- */

/* An exact RST from B's side closes A with err (-ECONNRESET in ESTABLISHED
 * and FIN_WAIT_2; Linux reports -EPIPE in CLOSE_WAIT). */
static void rst_exact(struct tcplink *l, struct stack_tcp *a)
{
	struct seg_spec sp = spec_from_b(l);

	sp.flags = WIRE_TCP_RST;
	sp.ack = 0;
	inject(l, LINK_A, &sp);
	link_run_for(l, MS);
	assert_string_equal(stack_tcp_state(a), "CLOSED");
	assert_true(stack_tcp_events(a) & STACK_TCP_EV_ERR);
}

static void test_rst_established(void **state)
{
	struct tcplink *l = lk_new(state, 30, MS);
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	from = l->nlog;
	rst_exact(l, p.a);
	assert_int_equal(stack_tcp_error(p.a), -ECONNRESET);
	assert_int_equal(count_segs(l, from, LINK_A, 0, 0), 0);
	assert_true(stack_tcp_send(p.a, "x", 1) < 0);
	stack_tcp_close(p.a);
	finish(l);
}

static void test_rst_close_wait(void **state)
{
	struct tcplink *l = lk_new(state, 31, MS);
	struct pair p;
	int err;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_shutdown(p.b, 1), 0);
	run_to_state(l, p.a, "CLOSE-WAIT", SEC);
	rst_exact(l, p.a);
	err = stack_tcp_error(p.a);
	assert_true(err == -ECONNRESET || err == -EPIPE);
	stack_tcp_close(p.a);
	finish(l);
}

static void test_rst_fin_wait_2(void **state)
{
	struct tcplink *l = lk_new(state, 32, MS);
	struct pair p;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	run_to_state(l, p.a, "FIN-WAIT-2", SEC);
	rst_exact(l, p.a);
	assert_int_equal(stack_tcp_error(p.a), -ECONNRESET);
	stack_tcp_close(p.a);
	finish(l);
}

/* A RST in SYN_RECEIVED (the client gave up) frees the embryonic
 * connection: nothing to accept, no reply. */
static void test_rst_syn_received(void **state)
{
	struct tcplink *l = lk_new(state, 33, MS);
	struct stack_tcp *lst, *got;
	uint8_t mss[4] = { 2, 4, 0x05, 0xb4 };
	struct seg_spec sp = { .sport = 45000, .dport = PORT, .seq = 1000,
			       .flags = WIRE_TCP_SYN, .window = 65535,
			       .opts = mss, .opts_len = 4 };
	struct link_seg sa;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	l->side[LINK_B].imp.cut = true; /* nobody answers for "A" */
	inject(l, LINK_B, &sp);
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_SYN | WIRE_TCP_ACK, &sa));
	sp.flags = WIRE_TCP_RST;
	sp.seq = 1001;
	sp.opts_len = 0;
	inject(l, LINK_B, &sp);
	link_run_for(l, 10 * SEC);
	assert_int_equal(synacks_to(l, 0, 45000), 1); /* no retransmission */
	assert_int_equal(stack_tcp_accept(lst, NULL, &got), -EAGAIN);
	finish(l);
}

/* PAWS (RFC 7323 5.3) with Linux's one-tick window (TCP_PAWS_WINDOW): a
 * segment whose timestamp is one tick older than the newest in-order one
 * (overtaken across a tick boundary, as a segment steered through another
 * stack's ring can be) passes; two ticks older is dropped as an old
 * duplicate. */
static void test_paws_window(void **state)
{
	struct tcplink *l = lk_new(state, 35, MS);
	struct link_seg last;
	struct seg_spec sp;
	struct pair p;
	uint8_t ts[12] = { 1, 1, 8, 10 };
	uint64_t paws;

	pair_open(l, &p);
	transfer(l, p.b, p.a, 10000, SEC);
	link_run_for(l, 100 * MS);
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_ACK, &last) && last.o.has_ts);
	sp = spec_from_b(l);
	sp.opts = ts;
	sp.opts_len = sizeof(ts);
	paws = stack_stats(A(l))->drops[STACK_DROP_TCP_PAWS];
	test_put32(ts + 4, last.o.tsval - 1);
	test_put32(ts + 8, last.o.tsecr);
	inject(l, LINK_A, &sp);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_PAWS], paws);
	test_put32(ts + 4, last.o.tsval - 2);
	inject(l, LINK_A, &sp);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_PAWS], paws + 1);
	transfer(l, p.b, p.a, 10000, SEC);
	finish(l);
}

/* RST outside the window: silently dropped (RFC 5961 3.2). */
static void test_rst_out_of_window(void **state)
{
	struct tcplink *l = lk_new(state, 34, MS);
	struct pair p;
	struct seg_spec sp;
	uint64_t from;

	pair_open(l, &p);
	sp = spec_from_b(l);
	sp.flags = WIRE_TCP_RST;
	sp.seq += 10 * MB;
	from = l->nlog;
	inject(l, LINK_A, &sp);
	sp.seq -= 20 * MB;
	inject(l, LINK_A, &sp);
	link_run_for(l, 100 * MS);
	assert_string_equal(stack_tcp_state(p.a), "ESTABLISHED");
	assert_int_equal(stack_tcp_error(p.a), 0);
	assert_int_equal(count_segs(l, from, LINK_A, 0, 0), 0);
	transfer(l, p.a, p.b, 10000, SEC);
	finish(l);
}

/*
 * Injects into A a segment from B with flags, ahead of RCV.NXT by offset:
 * A must answer with exactly one challenge ACK (no RST) carrying SND.NXT
 * and RCV.NXT, and the connection must stay and carry data.
 */
static void expect_challenge_ack(void **state, unsigned seed, uint8_t flags,
				 uint32_t offset)
{
	struct tcplink *l = lk_new(state, seed, MS);
	struct seg_spec sp;
	struct link_seg ack;
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	sp = spec_from_b(l);
	sp.flags = flags;
	sp.seq += offset;
	from = l->nlog;
	inject(l, LINK_A, &sp);
	link_run_for(l, 10 * MS);
	assert_int_equal(count_segs(l, from, LINK_A, 0, 0), 1);
	assert_int_equal(count_segs(l, from, LINK_A, WIRE_TCP_RST, 0), 0);
	assert_true(last_seg(l, from, LINK_A, WIRE_TCP_ACK, &ack));
	assert_int_equal(ack.v.flags, WIRE_TCP_ACK);
	assert_int_equal(ack.v.seq, track(l, LINK_A).nxt);
	assert_int_equal(ack.v.ack, sp.seq - offset);
	assert_string_equal(stack_tcp_state(p.a), "ESTABLISHED");
	assert_int_equal(stack_tcp_error(p.a), 0);
	transfer(l, p.b, p.a, 10000, SEC);
	finish(l);
}

/* RST in the window but not at RCV.NXT (RFC 5961 3.2). */
static void test_rst_challenge_ack(void **state)
{
	expect_challenge_ack(state, 35, WIRE_TCP_RST, 100);
}

/* A SYN in a synchronized state (RFC 5961 4.2, RFC 9293 3.10.7.4 fourth). */
static void test_syn_in_established(void **state)
{
	expect_challenge_ack(state, 36, WIRE_TCP_SYN, 5);
}

/* ---- flow control ------------------------------------------------------ */

struct persist_watch {
	bool zero_seen;       /* B advertised a zero window */
	uint64_t zero_at;
	unsigned probes;      /* A segments after that, at most 1 byte */
	uint64_t probe_t[16];
};

static bool persist_hook(struct tcplink *l, int dir, const struct test_pkt *p,
			 void *arg)
{
	struct persist_watch *w = arg;
	struct link_seg s;

	if (!link_pkt_seg(p, &s))
		return false;
	if (dir == LINK_B && !s.v.window && !w->zero_seen) {
		w->zero_seen = true;
		w->zero_at = l->now;
	} else if (dir == LINK_A && w->zero_seen && s.v.payload_len <= 1 &&
		   w->probes < 16) {
		w->probe_t[w->probes++] = l->now;
	}
	return false;
}

/* A link whose MTU makes A's segments 1024 bytes (1076 - 40 - 12 of
 * timestamps), so they fill B's 16 KB buffer exactly and its window
 * closes to zero whatever the sender's SWS avoidance does. */
static struct tcplink *persist_link(void **state, uint64_t seed,
				    uint16_t mtu, struct pair *p)
{
	struct tcplink *l = lk_alloc(state, seed);

	l->side[LINK_B].conf.rcvbuf = 16384;
	l->side[0].conf.mtu = l->side[1].conf.mtu = mtu;
	l->side[0].imp.delay_ns = l->side[1].imp.delay_ns = MS;
	lk_start(l);
	pair_open(l, p);
	return l;
}

/* B stops reading: its window closes, A probes on the persist timer with
 * growing gaps (RFC 9293 3.8.6.1), and when B drains, a window update lets
 * the rest through intact. */
static void test_zero_window_persist(void **state)
{
	struct persist_watch w = { 0 };
	struct pair p;
	struct tcplink *l = persist_link(state, 40, 1076, &p);
	struct flow f;

	l->hook = persist_hook;
	l->hook_arg = &w;
	f = flow_of(p.a, p.b, 200000, 4);
	f.no_read = true;
	link_run(l, l->now + 30 * SEC, pred_flow, &f);
	assert_link(l, w.zero_seen);
	printf("# persist: %u probes in 30 s\n", w.probes);
	assert_link(l, w.probes >= 3);
	assert_true(w.probe_t[2] - w.probe_t[1] > w.probe_t[1] - w.probe_t[0]);
	assert_int_equal(stack_tcp_readable(p.b), 16384);
	f.no_read = false;
	assert_true(link_run(l, l->now + 2 * SEC, pred_flow, &f));
	assert_int_equal(f.bad, 0);
	finish(l);
}

/* With 1448-byte segments the same buffer is left with a window smaller
 * than a segment. The sender may hold it back for SWS avoidance, but only
 * until the override timeout (RFC 9293 3.8.6.2.1 (4), 0.1 to 1 s), after
 * which it fills it; Linux does this from its probe timer. So within a
 * few seconds B's window is zero and B holds its whole buffer. */
static void test_sws_override(void **state)
{
	struct persist_watch w = { 0 };
	struct pair p;
	struct tcplink *l = persist_link(state, 41, 1500, &p);
	struct flow f;

	l->hook = persist_hook;
	l->hook_arg = &w;
	f = flow_of(p.a, p.b, 200000, 4);
	f.no_read = true;
	link_run(l, l->now + 5 * SEC, pred_flow, &f);
	assert_link(l, w.zero_seen);
	/* Full to within one window-scale unit (RFC 7323 2.3: 128 bytes at
	 * shift 7): the last few bytes cannot be advertised. */
	assert_true(stack_tcp_readable(p.b) > 16384 - 128 &&
		    stack_tcp_readable(p.b) <= 16384);
	f.no_read = false;
	assert_true(link_run(l, l->now + 2 * SEC, pred_flow, &f));
	assert_int_equal(f.bad, 0);
	finish(l);
}

/* ---- window scaling ---------------------------------------------------- */

struct flight_watch {
	uint32_t snd_max, una;
	bool any;
	uint32_t max_flight;
	uint32_t max_wnd;      /* B's largest advertised window, scaled */
	uint8_t shift;
};

static bool flight_hook(struct tcplink *l, int dir, const struct test_pkt *p,
			void *arg)
{
	struct flight_watch *w = arg;
	struct link_seg s;

	if (!link_pkt_seg(p, &s) || (s.v.flags & WIRE_TCP_SYN))
		return false;
	if (dir == LINK_A && s.v.payload_len) {
		if (!w->any || tcp_seq_gt(link_seg_end(&s), w->snd_max))
			w->snd_max = link_seg_end(&s);
		if (!w->any)
			w->una = s.v.seq;
		w->any = true;
	} else if (dir == LINK_B && w->any) {
		if (tcp_seq_gt(s.v.ack, w->una))
			w->una = s.v.ack;
		if ((uint32_t)s.v.window << w->shift > w->max_wnd)
			w->max_wnd = (uint32_t)s.v.window << w->shift;
	}
	if (w->any && w->snd_max - w->una > w->max_flight)
		w->max_flight = w->snd_max - w->una;
	return false;
}

/* 1 MB buffers: the SYNs offer a shift that covers them (RFC 7323 2.2),
 * the receiver advertises more than 64 KB, and over a 20 ms RTT the
 * sender keeps more than 64 KB in flight. */
static void test_window_scale(void **state)
{
	struct tcplink *l = lk_alloc(state, 41);
	struct flight_watch w = { 0 };
	struct link_seg syn, synack;
	struct pair p;
	uint64_t took;

	for (int d = 0; d < 2; d++) {
		l->side[d].conf.rcvbuf = l->side[d].conf.sndbuf = MB;
		l->side[d].imp.delay_ns = 10 * MS;
	}
	lk_start(l);
	pair_open(l, &p);
	assert_true(last_seg(l, 0, LINK_A, WIRE_TCP_SYN, &syn));
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_SYN | WIRE_TCP_ACK, &synack));
	assert_true(syn.o.has_wscale && synack.o.has_wscale);
	assert_true((65535u << synack.o.wscale) >= MB);
	assert_true(syn.v.window <= 65535); /* never scaled on a SYN */
	w.shift = synack.o.wscale;
	l->hook = flight_hook;
	l->hook_arg = &w;
	took = transfer(l, p.a, p.b, 8 * MB, 30 * SEC);
	printf("# 8 MB over 20 ms RTT in %.3f s, max flight %u, max window %u\n",
	       (double)took / SEC, w.max_flight, w.max_wnd);
	assert_true(w.max_wnd > 512 * 1024);
	assert_true(w.max_flight > 64 * 1024);
	finish(l);
}

/* The largest window a side offered after its SYN, scaled by the shift
 * its SYN announced (RFC 7323 2.3), over every connection in the log. */
struct wnd_scan {
	int dir;
	uint16_t port[16];
	uint8_t shift[16];
	unsigned n;
	uint32_t max;
};

static void wnd_fn(const struct link_rec *r, const struct link_seg *s,
		   void *arg)
{
	struct wnd_scan *w = arg;
	unsigned i = 0;

	if (r->dir != w->dir)
		return;
	while (i < w->n && w->port[i] != s->v.sport)
		i++;
	if (s->v.flags & WIRE_TCP_SYN) {
		if (i == w->n && w->n < 16)
			w->n++;
		w->port[i] = s->v.sport;
		w->shift[i] = s->o.has_wscale ? s->o.wscale : 0;
	} else if (i < w->n && (uint32_t)s->v.window << w->shift[i] > w->max) {
		w->max = (uint32_t)s->v.window << w->shift[i];
	}
}

/* Whatever the peer's initial sequence number, a side never offers more
 * window than its receive buffer holds (RFC 9293 3.8.6: the window is the
 * room to receive). Eight connections make initial sequence numbers on
 * both halves of the sequence space likely. */
static void test_window_within_buffer(void **state)
{
	struct tcplink *l = lk_new(state, 43, MS);
	struct wnd_scan wa = { .dir = LINK_A }, wb = { .dir = LINK_B };
	struct stack_tcp *lst, *c;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &lst), 0);
	for (int i = 0; i < 8; i++) {
		c = connect_from(l, (uint16_t)(42000 + i * 7));
		link_run_for(l, 100 * MS);
		assert_true(stack_tcp_events(c) & STACK_TCP_EV_OUT);
		assert_int_equal(stack_tcp_send(c, "data", 4), 4);
		link_run_for(l, 100 * MS);
	}
	each_seg(l, 0, wnd_fn, &wa);
	each_seg(l, 0, wnd_fn, &wb);
	printf("# largest windows offered: A %u, B %u (buffers %u)\n",
	       wa.max, wb.max, TCP_RCVBUF_DEFAULT);
	assert_link(l, wa.max <= TCP_RCVBUF_DEFAULT);
	assert_true(wb.max <= TCP_RCVBUF_DEFAULT);
	finish(l);
}

/* ---- SACK -------------------------------------------------------------- */

struct sack_watch {
	uint32_t first_seq;    /* the first data byte from A */
	bool started;
	unsigned data_segs;    /* distinct new segments seen */
	uint32_t snd_max;
	uint64_t dropped, rexmit;
	unsigned sack_acks;
};

/* Drops new segments 20..24 from A once each; counts retransmitted bytes
 * (data at or below what was already sent) and B's ACKs with SACK. */
static bool sack_hook(struct tcplink *l, int dir, const struct test_pkt *p,
		      void *arg)
{
	struct sack_watch *w = arg;
	struct link_seg s;

	if (!link_pkt_seg(p, &s))
		return false;
	if (dir == LINK_B) {
		w->sack_acks += s.o.sack_count > 0;
		return false;
	}
	if (!s.v.payload_len)
		return false;
	if (!w->started) {
		w->started = true;
		w->snd_max = s.v.seq;
	}
	if (tcp_seq_lt(s.v.seq, w->snd_max)) {
		w->rexmit += s.v.payload_len;
		return false;
	}
	w->snd_max = link_seg_end(&s);
	if (++w->data_segs >= 20 && w->data_segs < 25) {
		w->dropped += s.v.payload_len;
		return true;
	}
	return false;
}

static void test_sack_recovery(void **state)
{
	struct tcplink *l = lk_new(state, 42, 5 * MS);
	struct sack_watch w = { 0 };
	struct link_seg syn, synack;
	struct pair p;

	pair_open(l, &p);
	assert_true(last_seg(l, 0, LINK_A, WIRE_TCP_SYN, &syn));
	assert_true(last_seg(l, 0, LINK_B, WIRE_TCP_SYN | WIRE_TCP_ACK, &synack));
	assert_true(syn.o.sack_ok && synack.o.sack_ok);
	l->hook = sack_hook;
	l->hook_arg = &w;
	transfer(l, p.a, p.b, MB, 10 * SEC);
	printf("# SACK: dropped %" PRIu64 " bytes, resent %" PRIu64
	       ", %u ACKs with SACK\n", w.dropped, w.rexmit, w.sack_acks);
	assert_true(w.dropped >= 5 * 1000 && w.dropped <= 5 * MSS);
	assert_true(w.sack_acks >= 1);
	assert_true(w.rexmit >= w.dropped);
	assert_true(w.rexmit < 2 * w.dropped);
	finish(l);
}

/* ---- retransmission timer ---------------------------------------------- */

/* Every frame from A lost after data is sent: the first unacknowledged
 * segment goes again with each gap about twice the last (RFC 6298 5.5) up
 * to the ceiling, and after TCP_DATA_RETRIES the connection fails
 * -ETIMEDOUT, no sooner than 100 s (RFC 1122 4.2.3.5, R2). */
static void test_rto_backoff(void **state)
{
	struct tcplink *l = lk_new(state, 50, MS);
	struct flow f;
	struct pair p;
	uint64_t t[64], t0;
	unsigned n;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20000, SEC); /* an RTT sample or few */
	link_run_for(l, SEC); /* the last delayed ACK would restart the timer */
	l->side[LINK_A].imp.cut = true;
	t0 = l->now;
	f = flow_of(p.a, p.b, 3000, 6);
	flow_send(&f);
	assert_int_equal(f.sent, 3000);
	assert_true(link_run(l, l->now + 3600 * SEC, pred_error, p.a));
	n = seg_times(l, &(struct seg_sel){ .from = 0, .dir = LINK_A,
					    .seq = track(l, LINK_B).ack },
		      t, 64);
	printf("# RTO: %u transmissions, gave up after %.1f s\n", n,
	       (double)(l->now - t0) / SEC);
	assert_link(l, n == 1 + TCP_DATA_RETRIES);
	assert_true(t[1] - t[0] >= TCP_RTO_MIN_NS);
	assert_true(t[1] - t[0] <= TCP_RTO_INIT_NS);
	assert_backoff(t, n);
	assert_true(l->now - t0 >= 100 * SEC);
	assert_int_equal(stack_tcp_error(p.a), -ETIMEDOUT);
	assert_string_equal(stack_tcp_state(p.a), "CLOSED");
	finish(l);
}

/* A lost segment smaller than the MSS at the tail of the stream is
 * retransmitted on the RTO like any other (RFC 6298 5.4): Nagle holds
 * back new small segments only (RFC 9293 3.7.4). */
static void test_rto_small_segment(void **state)
{
	struct tcplink *l = lk_new(state, 51, MS);
	struct pair p;
	uint64_t t[8], from;
	unsigned n;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20000, SEC);
	l->side[LINK_A].imp.cut = true;
	from = l->nlog;
	assert_int_equal(stack_tcp_send(p.a, "lost", 4), 4);
	link_run_for(l, 10 * SEC);
	n = seg_times(l, &(struct seg_sel){ .from = from, .dir = LINK_A,
					    .any_seq = true }, t, 8);
	assert_link(l, n >= 4);
	l->side[LINK_A].imp.cut = false;
	/* The next retransmission brings the 4 bytes, whole and in place. */
	{
		char got[8];
		uint64_t end = l->now + 130 * SEC;

		while (stack_tcp_readable(p.b) < 4 && l->now < end)
			link_run_for(l, 100 * MS);
		assert_int_equal(stack_tcp_recv(p.b, got, sizeof(got), 0), 4);
		assert_memory_equal(got, "lost", 4);
	}
	transfer(l, p.a, p.b, 1000, 30 * SEC);
	finish(l);
}

/* ---- path MTU ----------------------------------------------------------- */

/* An ICMP "fragmentation needed" (type 3 code 4, RFC 1191 4) from the far
 * side's address to side to, quoting a TCP header to sent with seq. */
static void inject_frag_needed(struct tcplink *l, int to, uint16_t sport,
			       uint16_t dport, uint32_t seq, uint16_t mtu)
{
	const struct stack_conf *dst = &l->side[to].conf, *src = &l->side[!to].conf;
	struct test_ipv4 ip = { .src = src->ip, .dst = dst->ip, .proto = 1 };
	struct test_frame f;
	uint16_t cs;
	uint8_t *p;

	test_frame_reset(&f);
	test_frame_eth(&f, dst->mac, src->mac, 0x0800);
	test_frame_ipv4(&f, &ip, 36);
	p = test_frame_bytes(&f, NULL, 36);
	memset(p, 0, 36);
	p[0] = 3;
	p[1] = 4;
	test_put16(p + 6, mtu);
	wire_ipv4_emit(p + 8, dst->ip, src->ip, 6, 1480, 1, 64);
	test_put16(p + 28, sport);
	test_put16(p + 30, dport);
	test_put32(p + 32, seq);
	cs = wire_csum(p, 36);
	memcpy(p + 2, &cs, 2);
	test_frame_pad(&f, 60);
	stack_input(link_st(l, to), test_port_pkt_from(&l->side[to].port, &f));
	link_collect(l);
}

/* RFC 1191 6.5 with RFC 5927 4.1: a "fragmentation needed" that quotes a
 * segment in flight lowers the MSS and what follows fits the new MTU; one
 * quoting a sequence number outside the flight is ignored. */
static void test_pmtu_frag_needed(void **state)
{
	static uint8_t out[40000], in[40000];
	struct tcplink *l = lk_new(state, 71, MS);
	const struct stack_stats *s;
	struct seq_track a;
	struct pair p;
	uint64_t from;
	size_t got = 0;

	pair_open(l, &p);
	s = stack_stats(A(l));
	a = track(l, LINK_A);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pat(i, 3);
	assert_int_equal(stack_tcp_send(p.a, out, sizeof(out)), sizeof(out));
	inject_frag_needed(l, LINK_A, a.sport, a.dport, a.nxt + 1000000, 1000);
	assert_int_equal(s->tcp_pmtu_updates, 0);
	inject_frag_needed(l, LINK_A, a.sport, a.dport, a.nxt, 1000);
	assert_int_equal(s->tcp_pmtu_updates, 1);
	from = l->nlog;
	for (uint64_t end = l->now + 10 * SEC; got < sizeof(in) && l->now < end;) {
		long r;

		link_run_for(l, 10 * MS);
		while ((r = stack_tcp_recv(p.b, in + got, sizeof(in) - got, 0)) > 0)
			got += (size_t)r;
	}
	assert_int_equal(got, sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	for (uint64_t i = from; i < l->nlog; i++) {
		const struct link_rec *r = link_rec_at(l, i);

		if (r && r->dir == LINK_A)
			assert_true(r->len <= 14 + 1000);
	}
	finish(l);
}

/* ---- TIME_WAIT reuse --------------------------------------------------- */

/* B closes first and holds TIME_WAIT; a new SYN of the same 4-tuple with a
 * higher ISN (RFC 6528 clock) is accepted at once (RFC 6191 2, RFC 9293
 * 3.6.1), without waiting for 2MSL or a SYN retry. */
static void test_time_wait_reuse(void **state)
{
	struct tcplink *l = lk_new(state, 60, MS);
	struct stack_tcp *lst, *a, *b;
	struct pair p;
	uint64_t t0;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	p = (struct pair){ .lst = lst, .a = connect_from(l, 41000) };
	assert_true(link_run(l, l->now + SEC, pred_pair_up, &p));
	a = p.a;
	b = p.b;
	transfer(l, a, b, 10000, SEC);
	stack_tcp_close(b);
	run_to_state(l, a, "CLOSE-WAIT", SEC);
	stack_tcp_close(a);
	link_run_for(l, SEC);
	assert_true(count_segs(l, 0, LINK_B, WIRE_TCP_FIN, 0) >= 1);
	t0 = l->now;
	p = (struct pair){ .lst = lst, .a = connect_from(l, 41000) };
	assert_true(link_run(l, l->now + 30 * SEC, pred_pair_up, &p));
	assert_true(l->now - t0 < 500 * MS);
	assert_string_equal(stack_tcp_state(p.b), "ESTABLISHED");
	transfer(l, p.a, p.b, 10000, SEC);
	finish(l);
}

/* ---- keepalive --------------------------------------------------------- */

static void keepalive_on(struct stack_tcp *c, int idle, int intvl, int cnt)
{
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPIDLE, idle), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPINTVL, intvl), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPCNT, cnt), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPALIVE, 1), 0);
	assert_int_equal(stack_tcp_getopt(c, STACK_TCP_KEEPIDLE), idle);
}

/* Idle 10 s then a probe; the peer answers, so probes recur every 10 s of
 * idleness and the connection lives. Cut the wire: KEEPCNT probes
 * KEEPINTVL apart, then -ETIMEDOUT (RFC 9293 3.8.4, RFC 1122 4.2.3.6). */
static void test_keepalive(void **state)
{
	struct tcplink *l = lk_new(state, 70, MS);
	struct pair p;
	uint64_t cut, from;
	unsigned probes;

	pair_open(l, &p);
	keepalive_on(p.a, 10, 2, 3);
	link_run_for(l, 35 * SEC);
	probes = count_segs(l, 0, LINK_A, WIRE_TCP_ACK, 0) - 1;
	assert_true(probes >= 3 && probes <= 4);
	assert_true(count_segs(l, 0, LINK_B, WIRE_TCP_ACK, 0) >= probes + 1);
	assert_string_equal(stack_tcp_state(p.a), "ESTABLISHED");
	l->side[0].imp.cut = l->side[1].imp.cut = true;
	cut = l->now;
	from = l->nlog;
	assert_true(link_run(l, l->now + 60 * SEC, pred_error, p.a));
	printf("# keepalive: failed %.1f s after the cut\n",
	       (double)(l->now - cut) / SEC);
	assert_int_equal(stack_tcp_error(p.a), -ETIMEDOUT);
	assert_true(count_segs(l, from, LINK_A, WIRE_TCP_ACK, WIRE_TCP_RST) >= 3);
	assert_true(l->now - cut >= 3 * 2 * SEC);
	assert_true(l->now - cut <= (10 + 4 * 2 + 1) * SEC);
	finish(l);
}

/* ---- malformed segments ------------------------------------------------ */

/* Each bad segment, at A's exact RCV.NXT so only its fault can refuse it,
 * is dropped and counted: no reply, no data, no state change. */
static void feed_bad(struct tcplink *l, struct pair *p, struct seg_spec sp)
{
	enum stack_drop why = sp.bad_csum ? STACK_DROP_TCP_CSUM :
					    STACK_DROP_TCP_MALFORMED;
	uint64_t drops = total_drops(A(l)) + total_drops(B(l));
	uint64_t reason = stack_stats(A(l))->drops[why];
	uint64_t from = l->nlog;

	inject(l, LINK_A, &sp);
	link_run_for(l, 300 * MS);
	assert_int_equal(total_drops(A(l)) + total_drops(B(l)), drops + 1);
	assert_int_equal(stack_stats(A(l))->drops[why], reason + 1);
	assert_int_equal(count_segs(l, from, LINK_A, 0, 0), 0);
	assert_int_equal(stack_tcp_readable(p->a), 0);
	assert_string_equal(stack_tcp_state(p->a), "ESTABLISHED");
}

static void test_malformed_segments(void **state)
{
	struct tcplink *l = lk_new(state, 80, MS);
	static const uint8_t opt_len0[4] = { 2, 0, 1, 1 };
	static const uint8_t opt_past[4] = { 1, 1, 8, 10 };
	static const uint8_t opt_nolen[4] = { 1, 1, 1, 3 };
	struct seg_spec sp;
	struct pair p;

	pair_open(l, &p);
	sp = spec_from_b(l);
	sp.data = "evil";
	sp.len = 4;
	sp.bad_csum = true;
	feed_bad(l, &p, sp);
	sp.bad_csum = false;
	sp.off_words = 4; /* below 5 */
	feed_bad(l, &p, sp);
	sp.off_words = 15; /* beyond the segment */
	feed_bad(l, &p, sp);
	sp.off_words = 0;
	sp.opts_len = 4;
	sp.opts = opt_len0;
	feed_bad(l, &p, sp);
	sp.opts = opt_past;
	feed_bad(l, &p, sp);
	sp.opts = opt_nolen;
	feed_bad(l, &p, sp);
	sp.opts_len = 0;
	sp.ip_len_cut = (int16_t)(20 + sp.len - 10); /* 10-byte TCP header */
	feed_bad(l, &p, sp);
	sp.ip_len_cut = 0;
	sp.flags = 0; /* RFC 9293 3.10.7.4 fifth: no ACK bit, drop */
	feed_bad(l, &p, sp);
	transfer(l, p.b, p.a, 10000, SEC);
	finish(l);
}

/* SYN+FIN: to a listener it is dropped, counted, and makes nothing
 * (Linux discards it); in ESTABLISHED it is a SYN, so at most a challenge
 * ACK (RFC 5961 4.2) and never a reset, data or a state change. */
static void test_syn_fin(void **state)
{
	struct tcplink *l = lk_new(state, 81, MS);
	struct seg_spec sp = { .sport = 46000, .dport = PORT + 1, .seq = 77,
			       .flags = WIRE_TCP_SYN | WIRE_TCP_FIN,
			       .window = 65535 };
	struct stack_tcp *lst, *got;
	struct pair p;
	uint64_t drops, from;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_listen(B(l), PORT + 1, 4, NULL, &lst), 0);
	drops = total_drops(B(l));
	from = l->nlog;
	inject(l, LINK_B, &sp);
	link_run_for(l, 2 * SEC);
	assert_int_equal(total_drops(B(l)), drops + 1);
	assert_int_equal(count_segs(l, from, LINK_B, 0, 0), 0);
	assert_int_equal(stack_tcp_accept(lst, NULL, &got), -EAGAIN);
	sp = spec_from_b(l);
	sp.flags = WIRE_TCP_SYN | WIRE_TCP_FIN;
	from = l->nlog;
	inject(l, LINK_A, &sp);
	link_run_for(l, 300 * MS);
	assert_int_equal(count_segs(l, from, LINK_A, WIRE_TCP_RST, 0), 0);
	assert_true(count_segs(l, from, LINK_A, 0, 0) <= 1);
	assert_string_equal(stack_tcp_state(p.a), "ESTABLISHED");
	assert_string_equal(stack_tcp_state(p.b), "ESTABLISHED");
	transfer(l, p.b, p.a, 10000, SEC);
	finish(l);
}

/* SO_REUSEPORT: a second listener on the port is refused unless both ask
 * to share it; shared, connections from 16 source ports spread over both,
 * each accepted from the listener it went to, and a listener that did not
 * ask cannot join the group. */
static void test_reuseport(void **state)
{
	struct tcplink *l = lk_new(state, 6, MS);
	struct stack_tcp *l1, *l2, *l3, *c[16], *got;
	unsigned n1 = 0, n2 = 0;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &l1), 0);
	assert_int_equal(stack_tcp_listen_flags(B(l), PORT, 16, STACK_TCP_REUSEPORT, NULL,
						&l2), -EADDRINUSE);
	stack_tcp_close(l1);
	assert_int_equal(stack_tcp_listen_flags(B(l), PORT, 16, STACK_TCP_REUSEPORT, NULL,
						&l1), 0);
	assert_int_equal(stack_tcp_listen_flags(B(l), PORT, 16, STACK_TCP_REUSEPORT, NULL,
						&l2), 0);
	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &l3), -EADDRINUSE);
	for (int i = 0; i < 16; i++)
		c[i] = connect_from(l, (uint16_t)(41001 + i));
	link_run_for(l, SEC);
	for (int i = 0; i < 16; i++)
		assert_true(stack_tcp_events(c[i]) & STACK_TCP_EV_OUT);
	while (stack_tcp_accept(l1, NULL, &got) == 0) {
		n1++;
		stack_tcp_close(got);
	}
	while (stack_tcp_accept(l2, NULL, &got) == 0) {
		n2++;
		stack_tcp_close(got);
	}
	printf("# reuseport: %u and %u of 16\n", n1, n2);
	assert_int_equal(n1 + n2, 16);
	assert_true(n1 > 0 && n2 > 0);
	for (int i = 0; i < 16; i++)
		stack_tcp_close(c[i]);
	stack_tcp_close(l1);
	stack_tcp_close(l2);
	link_run_for(l, 5 * SEC);
	finish(l);
}

/* ---- moving a connection to another stack ------------------------------ */

/* Mid-transfer, both ways, over a lossy 5 ms link, B's end of the
 * connection moves to a second stack of B's (another thread's), which B
 * then steers its frames to: every byte arrives intact, the second stack
 * retransmits what is lost (its timers came along), the peer sees no RST
 * and no timestamp going back (PAWS), and an ICMP for the connection
 * reaches it through the old stack. */
static void test_move(void **state)
{
	struct tcplink *l = lk_new(state, 21, 5 * MS);
	struct stack *b2;
	struct pair p;
	struct flows fs;
	struct seq_track t;
	uint64_t steered;
	uint32_t lip, rip;
	uint16_t lport, rport;

	pair_open(l, &p);
	b2 = link_second(l, LINK_B);
	assert_non_null(b2);
	assert_int_equal(stack_tcp_move(p.lst, b2), -EINVAL); /* a listener */
	l->side[0].imp.drop = l->side[1].imp.drop = 0.02;
	fs.f[0] = flow_of(p.a, p.b, 2 * MB, 3);
	fs.f[1] = flow_of(p.b, p.a, 2 * MB, 4);
	assert_false(link_run(l, l->now + 100 * MS, pred_flows, &fs));
	assert_true(fs.f[0].got > 0 && fs.f[1].got > 0);

	assert_true(stack_next_deadline(B(l)) != UINT64_MAX); /* its timers */
	assert_int_equal(stack_tcp_move(p.b, b2), 0);
	assert_ptr_equal(stack_tcp_stack(p.b), b2);
	assert_true(stack_next_deadline(B(l)) == UINT64_MAX); /* went along */
	stack_tcp_endpoints(p.b, &lip, &lport, &rip, &rport);
	link_steer_add(l, LINK_B, rip, rport, lport);
	assert_true(link_run(l, l->now + 60 * SEC, pred_flows, &fs));
	assert_int_equal(fs.f[0].bad + fs.f[1].bad, 0);

	assert_int_equal(stack_stats(B(l))->tcp_moved_out, 1);
	assert_int_equal(stack_stats(b2)->tcp_moved_in, 1);
	assert_true(stack_stats(B(l))->tcp_steered > 0);
	assert_true(stack_stats(b2)->tcp_retransmits > 0);
	assert_int_equal(stack_stats(B(l))->drops[STACK_DROP_TCP_NO_CONN], 0);
	assert_int_equal(stack_stats(b2)->drops[STACK_DROP_TCP_PAWS], 0);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_PAWS], 0);
	assert_int_equal(stack_stats(A(l))->drops[STACK_DROP_TCP_NO_CONN], 0);
	printf("# move: %" PRIu64 " segments steered, %" PRIu64 " resent by the new stack\n",
	       stack_stats(B(l))->tcp_steered, stack_stats(b2)->tcp_retransmits);

	/* an ICMP "fragmentation needed" for it reaches the old stack, which
	 * steers it on: the new stack lowers the MSS and the data still
	 * arrives */
	l->side[0].imp.drop = l->side[1].imp.drop = 0;
	steered = stack_stats(B(l))->tcp_steered;
	fs.f[1].total += 40000;
	flow_send(&fs.f[1]);
	t = track(l, LINK_B);
	inject_frag_needed(l, LINK_B, t.sport, t.dport, t.nxt, 1000);
	assert_int_equal(stack_stats(B(l))->tcp_steered, steered + 1);
	link_poll_all(l); /* (the new stack takes it from its queue) */
	assert_int_equal(stack_stats(b2)->tcp_pmtu_updates, 1);
	assert_true(link_run(l, l->now + 10 * SEC, pred_flows, &fs));
	assert_int_equal(fs.f[1].bad, 0);

	/* the close, its FIN and TIME_WAIT run in the new stack */
	stack_tcp_close(p.b);
	stack_tcp_close(p.a);
	stack_tcp_close(p.lst);
	link_run_for(l, 200 * SEC);
	assert_int_equal(stack_stats(A(l))->tcp_rsts_out, 0);
	assert_int_equal(stack_stats(b2)->tcp_rsts_out, 0);
	finish(l);
}

/* A peer that restarts (a new process: another isn_key, so another
 * timestamp clock for the same 4-tuple) and connects again from the port
 * its old connection had, which B still holds: B's PAWS check rejects the
 * SYN, its ACK draws the new stack's RST, which clears the old
 * connection, and the SYN's retransmission opens a new one (RFC 7323 5.3,
 * RFC 9293 3.10.7.3), as a Linux server lets a restarted client in. */
static void test_restarted_peer(void **state)
{
	struct tcplink *l = lk_new(state, 23, MS);
	struct stack_tcp *c2, *got = NULL;
	struct stack *a2;
	struct pair p;
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint8_t key[16];
	uint32_t isn, old_off, new_off;
	uint64_t t0;
	char buf[8];

	pair_open(l, &p);
	assert_int_equal(stack_tcp_send(p.a, "hi", 2), 2);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), 2);
	stack_tcp_endpoints(p.a, &lip, &lport, &rip, &rport);
	/* A vanishes: its RST never arrives, B keeps the connection */
	l->side[LINK_A].imp.cut = true;
	stack_tcp_abort(p.a);
	link_run_for(l, 10 * MS);
	l->side[LINK_A].imp.cut = false;

	/* the new process's key puts its clock below the old one's */
	memcpy(key, l->side[LINK_A].conf.isn_key, sizeof(key));
	tcp_isn_ts(key, lip, lport, rip, rport, 0, &isn, &old_off);
	for (int i = 0; i < 256; i++) {
		l->side[LINK_A].conf.isn_key[0] = (uint8_t)(key[0] ^ i);
		tcp_isn_ts(l->side[LINK_A].conf.isn_key, lip, lport, rip, rport, 0, &isn,
			   &new_off);
		if (new_off < old_off - 1000000u)
			break;
	}
	a2 = link_second(l, LINK_A);
	assert_non_null(a2);
	link_steer_add(l, LINK_A, rip, rport, lport);
	t0 = l->now;
	assert_int_equal(stack_tcp_connect(a2, rip, rport, lport, NULL, &c2), 0);
	run_to_state(l, c2, "ESTABLISHED", 5 * SEC);
	printf("# restarted peer: connected after %.3f s\n", (double)(l->now - t0) / SEC);
	assert_true(stack_stats(B(l))->drops[STACK_DROP_TCP_PAWS] > 0); /* (the case) */
	link_run_for(l, 10 * MS); /* (its ACK reaches B) */
	assert_int_equal(stack_tcp_accept(p.lst, NULL, &got), 0);
	assert_string_equal(stack_tcp_state(got), "ESTABLISHED");
	stack_tcp_close(got);
	stack_tcp_close(c2);
	stack_tcp_close(p.b);
	stack_tcp_close(p.lst);
	link_run_for(l, 200 * SEC);
	finish(l);
}

/* ---- Nagle and delayed ACK --------------------------------------------- */

/* Ten 1-byte writes 1 ms apart over a 20 ms RTT. */
static unsigned small_writes(struct tcplink *l, struct pair *p)
{
	struct seg_count c = { .dir = LINK_A, .data = true };
	uint64_t from = l->nlog;
	struct flow f = flow_of(p->a, p->b, 10, 9);

	for (int i = 0; i < 10; i++) {
		f.total = (uint64_t)i + 1;
		flow_send(&f);
		link_run_for(l, MS);
	}
	assert_true(link_run(l, l->now + SEC, pred_flow, &f));
	assert_int_equal(f.bad, 0);
	each_seg(l, from, count_fn, &c);
	return c.n;
}

/* Without NODELAY a small segment waits while one is unacknowledged
 * (RFC 9293 3.7.4): the first byte goes, the other nine together. */
static void test_nagle(void **state)
{
	struct tcplink *l = lk_new(state, 90, 10 * MS);
	struct pair p;
	unsigned n;

	pair_open(l, &p);
	n = small_writes(l, &p);
	printf("# Nagle: 10 writes in %u segments\n", n);
	assert_true(n >= 2 && n <= 3);
	finish(l);
}

/* A 2,360-byte message without NODELAY to a peer that delays its ACKs
 * (past its quick-ACK start): a full segment and a 900-byte tail. Nagle
 * in Minshall's variant, as Linux, sends the tail at once (no short
 * segment is unacknowledged), so the message arrives in one one-way
 * delay, not after B's 40 ms delayed ACK. Small writes still coalesce
 * while the first of them, a short segment, is unacknowledged. */
static void test_nagle_minshall(void **state)
{
	struct tcplink *l = lk_new(state, 97, MS);
	struct pair p;
	unsigned n;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20 * MSS, SEC);
	link_run_for(l, SEC);
	for (int i = 0; i < 5; i++) {
		uint64_t t = transfer(l, p.a, p.b, 2360, SEC);

		printf("# 2360-byte message without NODELAY in %.3f ms\n",
		       (double)t / MS);
		assert_true(t < TCP_DELACK_NS / 4);
		link_run_for(l, SEC);
	}
	n = small_writes(l, &p);
	printf("# Nagle behind a short segment: 10 writes in %u segments\n", n);
	assert_true(n >= 1 && n <= 3);
	finish(l);
}

/* Messages of a full segment and a short tail, request after request on
 * a clean link: B acknowledges the two at once (more than a segment's
 * worth, as Linux), so A's tail loss probe, armed without the lone
 * segment's delayed-ACK allowance (RFC 8985 7.2), never fires into a
 * held ACK: no retransmission, no duplicate at B. */
static void test_tail_no_probe(void **state)
{
	struct tcplink *l = lk_new(state, 98, MS);
	struct pair p;
	uint64_t rexmt;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20 * MSS, SEC);
	link_run_for(l, SEC);
	rexmt = stack_stats(A(l))->tcp_retransmits;
	for (int i = 0; i < 10; i++) {
		transfer(l, p.a, p.b, 2360, SEC);
		link_run_for(l, 100 * MS);
	}
	printf("# 10 messages of 2360 bytes: %" PRIu64 " retransmissions\n",
	       stack_stats(A(l))->tcp_retransmits - rexmt);
	assert_int_equal(stack_stats(A(l))->tcp_retransmits, rexmt);
	finish(l);
}

static void test_nodelay(void **state)
{
	struct tcplink *l = lk_new(state, 91, 10 * MS);
	struct pair p;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_setopt(p.a, STACK_TCP_NODELAY, 1), 0);
	assert_int_equal(stack_tcp_getopt(p.a, STACK_TCP_NODELAY), 1);
	assert_int_equal(small_writes(l, &p), 10);
	finish(l);
}

/* A response written from three buffers (memcached's VALUE line, the
 * value, END) with NODELAY: the pieces sent with STACK_TCP_MORE wait for
 * the last, and the three go as one segment, not three. */
static void test_send_more(void **state)
{
	struct tcplink *l = lk_new(state, 92, 10 * MS);
	struct seg_count c = { .dir = LINK_A, .data = true };
	static const char *piece[] = { "VALUE k 0 8\r\n", "12345678", "\r\nEND\r\n" };
	struct pair p;
	uint64_t from;
	char buf[64];

	pair_open(l, &p);
	assert_int_equal(stack_tcp_setopt(p.a, STACK_TCP_NODELAY, 1), 0);
	from = l->nlog;
	for (int i = 0; i < 3; i++)
		assert_int_equal(stack_tcp_send_flags(p.a, piece[i], strlen(piece[i]),
						      i < 2 ? STACK_TCP_MORE : 0),
				 (long)strlen(piece[i]));
	link_run_for(l, 100 * MS);
	each_seg(l, from, count_fn, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last_seg.v.payload_len, 28);
	assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), 28);
	assert_memory_equal(buf, "VALUE k 0 8\r\n12345678\r\nEND\r\n", 28);
	finish(l);
}

/* 40 full segments: B acknowledges about every second one (RFC 5681 4.2,
 * RFC 9293 3.8.6.3), not every one and not fewer than one per two. */
static void test_delayed_ack(void **state)
{
	struct tcplink *l = lk_new(state, 92, MS);
	struct seg_count acks = { .dir = LINK_B, .want = WIRE_TCP_ACK };
	struct pair p;
	uint64_t from;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20 * MSS, SEC); /* past any quick-ACK start */
	link_run_for(l, SEC);
	from = l->nlog;
	transfer(l, p.a, p.b, 40 * MSS, SEC);
	link_run_for(l, SEC);
	each_seg(l, from, count_fn, &acks);
	printf("# delayed ACK: %u ACKs for 40 segments\n", acks.n);
	assert_true(acks.n >= 18 && acks.n <= 26);
	finish(l);
}

struct ooo_watch {
	unsigned segs;
	uint32_t hole;
	uint64_t next_at;      /* when the segment after the hole left A */
};

static bool ooo_hook(struct tcplink *l, int dir, const struct test_pkt *p,
		     void *arg)
{
	struct ooo_watch *w = arg;
	struct link_seg s;

	if (dir != LINK_A || !link_pkt_seg(p, &s) || !s.v.payload_len)
		return false;
	if (++w->segs == 3) {
		w->hole = s.v.seq;
		return true;
	}
	if (w->segs == 4)
		w->next_at = l->now;
	return false;
}

/* B's ACKs for the hole sent at instant t. */
static unsigned acks_for_at(const struct tcplink *l, uint64_t from,
			    uint32_t hole, uint64_t t)
{
	unsigned n = 0;

	for (uint64_t i = from; i < l->nlog; i++) {
		const struct link_rec *r = link_rec_at(l, i);
		struct link_seg s;

		n += r->dir == LINK_B && r->t == t && link_seg_parse(r, &s) &&
		     s.v.ack == hole;
	}
	return n;
}

/* Out-of-order data is acknowledged at once with a duplicate ACK per
 * segment for the hole (RFC 5681 4.2, RFC 9293 3.10.7.4), not after the
 * delayed-ACK timer: the seven segments behind a hole arrive together and
 * at that instant B sends at least three ACKs for the hole (what fast
 * retransmit needs) besides the one for the two segments before it. */
static void test_dup_ack_immediate(void **state)
{
	struct tcplink *l = lk_new(state, 93, MS);
	struct ooo_watch w = { 0 };
	struct pair p;
	uint64_t from;
	unsigned n;

	pair_open(l, &p);
	transfer(l, p.a, p.b, 20000, SEC);
	link_run_for(l, SEC);
	from = l->nlog;
	l->hook = ooo_hook;
	l->hook_arg = &w;
	transfer(l, p.a, p.b, 10 * MSS, 5 * SEC);
	n = acks_for_at(l, from, w.hole, w.next_at + MS);
	printf("# %u ACKs for the hole as the out-of-order data arrived\n", n);
	if (n < 4)
		link_dump(l, 40);
	assert_true(n >= 4);
	finish(l);
}

/* ---- readiness events -------------------------------------------------- */

/* EV_OUT on connect; EV_IN on data; EV_OUT again when a full send buffer
 * drains; EV_RDHUP on FIN; EV_ERR on reset - each through ops->tcp_event
 * with the user pointer given. */
static void test_events(void **state)
{
	struct tcplink *l = lk_new(state, 100, MS);
	struct link_side *sa = &l->side[LINK_A], *sb = &l->side[LINK_B];
	char hello[5];
	struct flow f;
	struct pair p;
	uint64_t mark;

	pair_open(l, &p);
	assert_true(link_events_since(sa, p.a, 0, NULL) & STACK_TCP_EV_OUT);
	mark = sb->nev;
	assert_int_equal(stack_tcp_send(p.a, "hello", 5), 5);
	link_run_for(l, 10 * MS);
	assert_true(link_events_since(sb, p.b, mark, NULL) & STACK_TCP_EV_IN);
	assert_int_equal(stack_tcp_recv(p.b, hello, 5, 0), 5);
	assert_memory_equal(hello, "hello", 5);
	f = flow_of(p.a, p.b, 10 * MB, 5);
	f.no_read = true;
	link_run(l, l->now + SEC, pred_flow, &f); /* fill both buffers */
	assert_true(f.sent < f.total);
	assert_int_equal(stack_tcp_send(p.a, "x", 1), -EAGAIN);
	assert_false(stack_tcp_events(p.a) & STACK_TCP_EV_OUT);
	mark = sa->nev;
	f.no_read = false;
	f.total = f.sent;
	assert_true(link_run(l, l->now + 5 * SEC, pred_flow, &f));
	assert_int_equal(f.bad, 0);
	/* the room comes with B's ACKs, a one-way delay after the data (the
	 * tail no longer waits for an ACK, so B may have it all first) */
	link_run_for(l, 10 * MS);
	assert_true(link_events_since(sa, p.a, mark, NULL) & STACK_TCP_EV_OUT);
	mark = sb->nev;
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	link_run_for(l, 10 * MS);
	assert_true(link_events_since(sb, p.b, mark, NULL) & STACK_TCP_EV_RDHUP);
	mark = sb->nev;
	stack_tcp_abort(p.a);
	link_run_for(l, 10 * MS);
	assert_true(link_events_since(sb, p.b, mark, NULL) & STACK_TCP_EV_ERR);
	finish(l);
}

/* The user pointer given to listen/connect/accept is the one events carry. */
static void test_event_user_pointer(void **state)
{
	struct tcplink *l = lk_new(state, 101, MS);
	int ua, ub, ul;
	struct stack_tcp *lst, *a, *b = NULL;
	struct link_side *sb = &l->side[LINK_B];

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, &ul, &lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, 0, &ua, &a), 0);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_accept(lst, &ub, &b), 0);
	assert_int_equal(stack_tcp_send(a, "x", 1), 1);
	link_run_for(l, 100 * MS);
	for (uint64_t i = 0; i < sb->nev && i < LINK_EV_MAX; i++) {
		const struct link_ev *e = &sb->ev[i];

		if (e->c == lst)
			assert_ptr_equal(e->user, &ul);
		if (e->c == b)
			assert_ptr_equal(e->user, &ub);
	}
	assert_ptr_equal(l->side[LINK_A].ev[0].user, &ua);
	finish(l);
}

/* ---- the loopback ------------------------------------------------------ */

/* A connection to our own address (stack.c's loopback) is served inside
 * the stack, as by Linux's lo: no frame reaches the port and no ARP asks
 * for ourselves (which left connect waiting 3 s for EHOSTUNREACH); a
 * closed port is refused by the first poll (or stack_loop_run) after the
 * connect, an open one connects within it and carries a megabyte each
 * way. With checksum offload the looped segments get theirs in software,
 * since they never reach the port that would fill them, and are not
 * dropped. */
static void loopback_on(void **state, bool offload)
{
	struct tcplink *l = lk_alloc(state, 93);
	struct stack_tcp *lst, *a, *b = NULL, *r;
	const struct stack_stats *sa;
	uint64_t nlog, arp, loops;
	uint32_t lip, rip;
	uint16_t lport, rport, aport;

	if (offload)
		l->side[LINK_A].conf.tx_csum = STACK_TX_IP_CSUM | STACK_TX_TCP_CSUM;
	lk_start(l);
	sa = stack_stats(A(l));
	nlog = l->nlog;
	arp = sa->arp_requests_out;
	loops = sa->loop_pkts;

	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_A, 81, 0, NULL, &r), 0);
	assert_true(stack_next_deadline(A(l)) <= l->now); /* a waiter must not sleep */
	assert_int_equal(stack_loop_run(A(l)), 2); /* the SYN, the RST */
	assert_int_equal(stack_loop_run(A(l)), 0);
	assert_true(stack_tcp_events(r) & STACK_TCP_EV_ERR);
	assert_int_equal(stack_tcp_error(r), -ECONNREFUSED);
	stack_tcp_close(r);

	assert_int_equal(stack_tcp_listen(A(l), PORT, 16, NULL, &lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_A, PORT, 0, NULL, &a), 0);
	stack_poll(A(l));
	assert_true(stack_tcp_events(a) & STACK_TCP_EV_OUT);
	assert_int_equal(stack_tcp_accept(lst, NULL, &b), 0);
	assert_string_equal(stack_tcp_state(a), "ESTABLISHED");
	assert_string_equal(stack_tcp_state(b), "ESTABLISHED");
	stack_tcp_endpoints(a, &lip, &aport, &rip, &rport);
	assert_int_equal(lip, LINK_IP_A);
	assert_int_equal(rip, LINK_IP_A);
	assert_int_equal(rport, PORT);
	stack_tcp_endpoints(b, &lip, &lport, &rip, &rport);
	assert_int_equal(rip, LINK_IP_A);
	assert_int_equal(rport, aport);
	transfer(l, a, b, MB, 5 * SEC);
	transfer(l, b, a, MB, 5 * SEC);
	stack_tcp_close(a);
	stack_tcp_close(b);
	link_run_for(l, SEC);
	assert_int_equal(stack_tcp_closing(A(l)), 0); /* both FINs were answered */

	assert_int_equal(l->nlog, nlog);
	assert_int_equal(sa->arp_requests_out, arp);
	assert_true(sa->loop_pkts - loops > 2 * MB / MSS);
	assert_int_equal(sa->drops[STACK_DROP_IP_MARTIAN], 0);
	assert_int_equal(sa->drops[STACK_DROP_TCP_CSUM], 0);
	assert_int_equal(sa->drops[STACK_DROP_IP_CSUM], 0);
	assert_int_equal(sa->drops[STACK_DROP_LOOP_FULL], 0);
	assert_int_equal(sa->tcp_retransmits, 0);
	stack_tcp_close(lst);
	finish(l);
}

static void test_loopback(void **state)
{
	loopback_on(state, false);
}

static void test_loopback_offload(void **state)
{
	loopback_on(state, true);
}

/* More frames to ourselves than the loopback holds between two polls: the
 * one over is dropped (counted), and TCP sends it again as any lost
 * segment, so every connect is still refused, the last after its RTO. */
static void test_loopback_full(void **state)
{
	struct tcplink *l = lk_new(state, 95, MS);
	struct stack_tcp *c[STACK_LOOP_QUEUE + 1];
	const struct stack_stats *sa = stack_stats(A(l));
	unsigned refused = 0;

	for (unsigned i = 0; i <= STACK_LOOP_QUEUE; i++)
		assert_int_equal(stack_tcp_connect(A(l), LINK_IP_A, 81, 0, NULL, &c[i]), 0);
	assert_int_equal(sa->drops[STACK_DROP_LOOP_FULL], 1);
	link_run_for(l, 2 * SEC);
	for (unsigned i = 0; i <= STACK_LOOP_QUEUE; i++) {
		refused += stack_tcp_error(c[i]) == -ECONNREFUSED;
		stack_tcp_close(c[i]);
	}
	assert_int_equal(refused, STACK_LOOP_QUEUE + 1);
	assert_int_equal(sa->drops[STACK_DROP_LOOP_FULL], 1);
	finish(l);
}

/* A frame with our own address as its source is a martian when it comes
 * from another MAC (RFC 1122 3.2.1.3, as Linux), and taken when it is
 * from our own MAC to our own MAC: a sibling stack's loopback steered to
 * this one (several queues) delivers it so, through stack_input. */
static void test_own_source_from_wire(void **state)
{
	struct tcplink *l = lk_new(state, 94, MS);
	struct stack_conf b = l->side[LINK_B].conf;
	const struct stack_stats *sa = stack_stats(A(l));
	struct stack_tcp *lst, *c = NULL;
	struct seg_spec sp;
	struct test_frame f;
	uint64_t martians = sa->drops[STACK_DROP_IP_MARTIAN];

	assert_int_equal(stack_tcp_listen(A(l), PORT, 16, NULL, &lst), 0);
	sp = (struct seg_spec){ .sport = 40000, .dport = PORT, .seq = 1,
				.flags = WIRE_TCP_SYN, .window = 65535 };
	l->side[LINK_B].conf.ip = LINK_IP_A; /* (build_seg's source) */
	build_seg(l, LINK_A, &sp, &f);
	stack_input(A(l), test_port_pkt_from(&l->side[LINK_A].port, &f));
	link_collect(l);
	assert_int_equal(sa->drops[STACK_DROP_IP_MARTIAN], martians + 1);

	memcpy(l->side[LINK_B].conf.mac, l->side[LINK_A].conf.mac, STACK_ETH_ALEN);
	build_seg(l, LINK_A, &sp, &f);
	l->side[LINK_B].conf = b;
	stack_input(A(l), test_port_pkt_from(&l->side[LINK_A].port, &f));
	stack_poll(A(l)); /* its SYN-ACK goes to 10.0.0.1:40000: the loopback, a RST */
	link_collect(l);
	assert_int_equal(sa->drops[STACK_DROP_IP_MARTIAN], martians + 1);
	assert_int_equal(stack_tcp_accept(lst, NULL, &c), -EAGAIN);
	assert_true(sa->tcp_rsts_out > 0);
	stack_tcp_close(lst);
	finish(l);
}

/* ---- neighbours --------------------------------------------------------- */

/* An ARP packet from B's address as sha says, fed to A. */
static void arp_to_a(struct tcplink *l, uint16_t op, const uint8_t *sha)
{
	static const uint8_t bcast[STACK_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const struct stack_conf *a = &l->side[LINK_A].conf;
	struct test_frame f;

	test_frame_reset(&f);
	test_frame_eth(&f, op == 1 ? bcast : a->mac, sha, 0x0806);
	test_frame_arp(&f, op, sha, LINK_IP_B, a->mac, LINK_IP_A);
	test_frame_pad(&f, 60);
	stack_input(A(l), test_port_pkt_from(&l->side[LINK_A].port, &f));
	link_collect(l);
}

static uint64_t eth_not_for_b(struct tcplink *l)
{
	return stack_stats(B(l))->drops[STACK_DROP_NOT_FOR_US];
}

/* A live connection follows the ARP table: when B's address is announced
 * at another MAC (RFC 826 merge, as after a failover), A's next segments
 * go there at once; announced back, the transfer finishes. The table
 * rules where the connection's SYN or ARP learned otherwise. */
static void test_conn_follows_arp_change(void **state)
{
	static const uint8_t moved[STACK_ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x99 };
	struct tcplink *l = lk_new(state, 41, MS);
	struct pair p;
	uint64_t lost;
	char buf[64];

	pair_open(l, &p);
	transfer(l, p.a, p.b, 10000, 5 * SEC);
	lost = eth_not_for_b(l);
	arp_to_a(l, 1, moved);
	assert_int_equal(stack_tcp_send(p.a, "moved", 5), 5);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), -EAGAIN);
	assert_true(eth_not_for_b(l) > lost); /* they went to the new MAC */
	arp_to_a(l, 2, l->side[LINK_B].conf.mac);
	link_run_for(l, 3 * SEC); /* the retransmission, on the old MAC again */
	assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), 5);
	transfer(l, p.a, p.b, 100000, 5 * SEC);
	finish(l);
}

/* Data that B acknowledges confirms its MAC (RFC 4861 7.3.1): a
 * connection in use keeps the entry reachable past the ARP TTL with no
 * request sent. Idle past the TTL, the next use asks again, unicast
 * (RFC 1122 2.3.2.1), B answers, and the data goes through. */
static void test_conn_confirms_neighbour(void **state)
{
	struct tcplink *l = lk_new(state, 42, MS);
	const struct stack_stats *sa;
	struct pair p;
	uint64_t req, rep;
	char buf[64];

	pair_open(l, &p);
	sa = stack_stats(A(l));
	req = sa->arp_requests_out;
	rep = stack_stats(B(l))->arp_replies_out;
	for (uint64_t t = 0; t < STACK_ARP_TTL_NS * 2; t += 5 * SEC) {
		assert_int_equal(stack_tcp_send(p.a, "tick", 4), 4);
		link_run_for(l, 5 * SEC);
		assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), 4);
	}
	assert_int_equal(sa->arp_requests_out, req);
	link_run_for(l, STACK_ARP_TTL_NS + SEC); /* idle: only B acks nothing */
	assert_int_equal(stack_tcp_send(p.a, "late", 4), 4);
	link_run_for(l, 100 * MS);
	assert_int_equal(stack_tcp_recv(p.b, buf, sizeof(buf), 0), 4);
	assert_int_equal(sa->arp_requests_out, req + 1);
	assert_int_equal(stack_stats(B(l))->arp_replies_out, rep + 1);
	finish(l);
}

/* B is replaced by a host with another MAC and says nothing (no
 * gratuitous ARP). A's segments go to the old MAC and are lost; after
 * TCP_NEIGH_RETRIES timeouts in a row (Linux's tcp_retries1) the entry is
 * stale, A's retransmissions poll the old MAC (unanswered), then
 * broadcast; B answers with its new MAC and the connection goes on, well
 * within the ARP TTL the entry would otherwise have been trusted for. */
static void test_conn_reresolves_replaced_peer(void **state)
{
	static const uint8_t fresh[STACK_ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x77 };
	struct tcplink *l = lk_new(state, 43, MS);
	struct pair p;
	uint64_t t0, lost;
	char buf[64];

	pair_open(l, &p);
	transfer(l, p.a, p.b, 10000, 5 * SEC);
	lost = eth_not_for_b(l);
	memcpy(((struct stack *)B(l))->conf.mac, fresh, STACK_ETH_ALEN);
	memcpy(l->side[LINK_B].conf.mac, fresh, STACK_ETH_ALEN);
	t0 = l->now;
	assert_int_equal(stack_tcp_send(p.a, "again", 5), 5);
	for (int i = 0; i < 600 && stack_tcp_recv(p.b, buf, sizeof(buf), 0) != 5; i++)
		link_run_for(l, SEC);
	assert_string_equal(stack_tcp_state(p.a), "ESTABLISHED");
	assert_true(eth_not_for_b(l) > lost);
	printf("# replaced peer: data through after %.1f s\n", (double)(l->now - t0) / SEC);
	assert_true(l->now - t0 < STACK_ARP_TTL_NS);
	transfer(l, p.a, p.b, 100000, 5 * SEC);
	finish(l);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(test_initial_window),
		T(test_cwnd_app_limited),
		T(test_handshake_active_passive),
		T(test_simultaneous_open),
		T(test_simultaneous_open_shutdown),
		T(test_connect_refused),
		T(test_quiet_port),
		T(test_handed_late),
		T(test_listener_handoff),
		T(test_listener_handoff_gives_up),
		T(test_listener_handoff_refused),
		T(test_syn_retries_timeout),
		T(test_backlog_full),
		T(test_move),
		T(test_restarted_peer),
		T(test_paws_window),
		T(test_bulk_loss0),
		T(test_bulk_loss1),
		T(test_bulk_loss5),
		T(test_bulk_loss10),
		T(test_bulk_reorder),
		T(test_bulk_duplicate),
		T(test_bulk_corrupt),
		T(test_bulk_corrupt_offload),
		T(test_bulk_bottleneck),
		T(test_active_close),
		T(test_close_after_data),
		T(test_passive_close),
		T(test_simultaneous_close),
		T(test_half_close),
		T(test_close_unread_rst),
		T(test_linger0_rst),
		T(test_abort_rst),
		T(test_rst_established),
		T(test_rst_close_wait),
		T(test_rst_fin_wait_2),
		T(test_rst_syn_received),
		T(test_rst_out_of_window),
		T(test_rst_challenge_ack),
		T(test_syn_in_established),
		T(test_zero_window_persist),
		T(test_sws_override),
		T(test_window_scale),
		T(test_window_within_buffer),
		T(test_sack_recovery),
		T(test_rto_backoff),
		T(test_rto_small_segment),
		T(test_pmtu_frag_needed),
		T(test_time_wait_reuse),
		T(test_keepalive),
		T(test_malformed_segments),
		T(test_rx_csum_flag_trusted),
		T(test_syn_fin),
		T(test_nagle),
		T(test_nagle_minshall),
		T(test_tail_no_probe),
		T(test_nodelay),
		T(test_send_more),
		T(test_reuseport),
		T(test_delayed_ack),
		T(test_dup_ack_immediate),
		T(test_events),
		T(test_event_user_pointer),
		T(test_loopback),
		T(test_loopback_offload),
		T(test_loopback_full),
		T(test_own_source_from_wire),
		T(test_conn_follows_arp_change),
		T(test_conn_confirms_neighbour),
		T(test_conn_reresolves_replaced_peer),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
