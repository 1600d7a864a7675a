/*
 * tcplink.h - two stacks on one simulated wire, for testing TCP end to end
 * (smoltcp's fault-injecting device, grown into a link with a clock).
 *
 * Stack A (10.0.0.1) and stack B (10.0.0.2) share a /24, an isn_key and a
 * clock the link drives. Every frame one stack transmits crosses the link
 * under that direction's impairments (loss, duplication, reordering, delay
 * and jitter, corruption, a rate and queue limit), all drawn from one
 * seeded test_rng so a failing run repeats exactly. link_run moves time
 * from one event to the next (a frame due, a stack deadline), so a 60 s
 * TIME_WAIT or a 15-minute retransmission give-up costs no real time.
 *
 * Every frame that enters the link is recorded (its first LINK_REC_HDR
 * bytes, when it left, what happened to it) in a bounded ring, and can be
 * parsed with link_seg_parse. A hook sees each frame first and may drop it,
 * which tests use to cut a link, drop chosen segments or count bytes.
 *
 * Header-only, built on link.h's test_port: a frame counts against the port
 * of the stack that allocated it wherever it goes, so after link_fini a
 * non-zero count is a leak. By default ARP crosses unimpaired and both
 * stacks have resolved each other before a test starts, so tests see TCP.
 *
 * A side may get a second stack (link_second): the same address and MAC
 * on a port of its own, as a second thread's stack on a second queue. The
 * wire still delivers to the first, and ARP to both; the first steers the
 * frames of the 4-tuples the test lists (link_steer_add) to the second, as
 * the socket layer steers a connection handed to another thread.
 */
#ifndef ACCEL_TESTS_STACK_TCPLINK_H
#define ACCEL_TESTS_STACK_TCPLINK_H

#include <stdio.h>

#include "../../stack/tcp_wire.h"
#include "link.h"

#define LINK_A 0
#define LINK_B 1
#define LINK_IP_A TEST_IP4(10, 0, 0, 1)
#define LINK_IP_B TEST_IP4(10, 0, 0, 2)
#define LINK_T0 (1000 * TEST_NS_PER_S)
#define LINK_MS 1000000ull

/* Records kept (a ring; older ones are overwritten) and bytes of each:
 * Ethernet 14 + IPv4 up to 60 + TCP up to 60 covers any header. */
#define LINK_LOG_MAX 16384
#define LINK_REC_HDR 136
#define LINK_EV_MAX 256

/* A held-back frame goes after this long if too few frames follow it. */
#define LINK_REORDER_NS_DEFAULT (10 * LINK_MS)
/* Rounds of deliver/poll at one instant before time is forced on. */
#define LINK_SETTLE_MAX 100000

/* What happened to a recorded frame (bits). */
#define LINK_F_DROP 0x01     /* lost at random */
#define LINK_F_CUT 0x02      /* the direction is cut, or the hook dropped it */
#define LINK_F_QDROP 0x04    /* the queue was full */
#define LINK_F_DUP 0x08      /* delivered twice */
#define LINK_F_CORRUPT 0x10  /* a byte was flipped after recording */
#define LINK_F_HELD 0x20     /* held back (reordered) */
#define LINK_F_LOST (LINK_F_DROP | LINK_F_CUT | LINK_F_QDROP)

/* One direction's impairments; zero is a perfect, instant wire. */
struct link_imp {
	double drop, dup, corrupt; /* probability per frame, 0..1 */
	double reorder;            /* probability a frame is held back ... */
	unsigned reorder_k;        /* ... until k more frames have gone ... */
	uint64_t reorder_ns;       /* ... or this long (0: the default) */
	uint64_t delay_ns, jitter_ns; /* fixed, plus uniform 0..jitter */
	uint64_t rate_bps;         /* 0: no serialisation delay */
	uint32_t queue_bytes;      /* with a rate: tail drop beyond; 0: none */
	bool cut;                  /* every frame is lost */
	bool impair_arp;           /* ARP crosses untouched unless set */
};

struct link_rec {
	uint64_t t;                /* when the frame left its stack */
	uint8_t dir;               /* LINK_A: from A to B */
	uint8_t fate;              /* LINK_F_* */
	uint16_t len;              /* the whole frame */
	uint8_t b[LINK_REC_HDR];   /* its first bytes, as sent */
};

struct link_ev {
	uint64_t t;
	struct stack_tcp *c;
	void *user;
	unsigned events;
};

struct tcplink;

#define LINK_STEER_MAX 16

struct link_tuple {
	uint32_t rip;
	uint16_t rport, lport;
};

struct link_side {
	struct test_port port;     /* first: it is the stack's ctx */
	struct tcplink *l;
	struct stack *st;
	struct stack_conf conf;    /* may be changed before link_start */
	struct link_imp imp;       /* frames leaving this side */
	bool nic_rx_csum;          /* its "NIC" checks checksums on receive */
	uint64_t busy_until;       /* the rate limit's serialiser */
	uint64_t sent, lost, dups, corrupted, held;
	uint64_t ipv4_sent, offloaded; /* IPv4 frames; with checksums left to the NIC */
	uint64_t nev;              /* tcp_event calls; ev[] keeps the last */
	struct link_ev ev[LINK_EV_MAX];
	/* the program closes a connection from the callback that reports
	 * its error, as an event loop does; counted */
	bool close_on_err;
	unsigned closed_in_event;
	/* the second stack (link_second), and the tuples steered to it */
	struct test_port port2;
	struct stack *st2;
	struct link_tuple steer[LINK_STEER_MAX];
	unsigned nsteer;
	/* ops->tcp_move hands a closing listener's connections to the second
	 * stack (as another process's, STACK_RX_HANDED), and its tuple is
	 * steered there from then on; counted */
	bool move_to_second;
	unsigned moved;
	uint64_t move_again_until;  /* before then: -EAGAIN (no taker yet) */
	unsigned move_asked;
};

struct link_flight {
	struct test_pkt *p;
	uint64_t at;               /* delivery (held: latest release) */
	uint64_t order;            /* ties at one instant keep FIFO order */
	uint8_t dir;
	unsigned k;                /* held: frames still to overtake it */
};

/* Sees every frame entering the link; true drops it (LINK_F_CUT). */
typedef bool (*link_hook_fn)(struct tcplink *l, int dir,
			     const struct test_pkt *p, void *arg);
/* Checked after every instant link_run settles; may call the stacks. */
typedef bool (*link_pred_fn)(struct tcplink *l, void *arg);

struct tcplink {
	struct link_side side[2];
	uint64_t now;
	struct test_rng rng;
	struct link_flight *heap;  /* frames on the wire, min-heap on at */
	size_t nheap, capheap;
	struct link_flight *held;  /* frames held back for reordering */
	size_t nheld, capheld;
	uint64_t order;
	struct link_rec *log;      /* ring of LINK_LOG_MAX */
	uint64_t nlog;             /* records ever written */
	link_hook_fn hook;
	void *hook_arg;
	uint64_t steps;            /* instants link_run has visited */
};

/* ---- small pieces ------------------------------------------------------ */

static inline double link_rand01(struct tcplink *l)
{
	return (double)(test_rand(&l->rng) >> 11) * (1.0 / 9007199254740992.0);
}

static inline bool link_chance(struct tcplink *l, double p)
{
	return p > 0 && link_rand01(l) < p;
}

static inline void *link_grow(void *arr, size_t *cap, size_t need, size_t el)
{
	if (need <= *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 256;
	arr = realloc(arr, *cap * el);
	if (!arr)
		abort();
	return arr;
}

static inline struct stack *link_st(struct tcplink *l, int side)
{
	return l->side[side].st;
}

static inline bool link_is_ipv4(const struct test_pkt *p)
{
	return p->len >= 34 && test_get16(p->data + 12) == 0x0800;
}

/* ---- the wire: a min-heap of frames on (at, order) --------------------- */

static inline bool link_fl_before(const struct link_flight *a,
				  const struct link_flight *b)
{
	return a->at != b->at ? a->at < b->at : a->order < b->order;
}

static inline void link_heap_push(struct tcplink *l, struct link_flight f)
{
	size_t i = l->nheap++;

	l->heap = link_grow(l->heap, &l->capheap, l->nheap, sizeof(f));
	while (i && link_fl_before(&f, &l->heap[(i - 1) / 2])) {
		l->heap[i] = l->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	l->heap[i] = f;
}

static inline struct link_flight link_heap_pop(struct tcplink *l)
{
	struct link_flight top = l->heap[0], last = l->heap[--l->nheap];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < l->nheap) {
		if (c + 1 < l->nheap && link_fl_before(&l->heap[c + 1], &l->heap[c]))
			c++;
		if (!link_fl_before(&l->heap[c], &last))
			break;
		l->heap[i] = l->heap[c];
		i = c;
	}
	if (l->nheap)
		l->heap[i] = last;
	return top;
}

static inline void link_schedule(struct tcplink *l, int dir,
				 struct test_pkt *p, uint64_t at)
{
	link_heap_push(l, (struct link_flight){ .p = p, .at = at,
						.order = l->order++,
						.dir = (uint8_t)dir });
}

/* ---- the log ----------------------------------------------------------- */

static inline struct link_rec *link_record(struct tcplink *l, int dir,
					   const struct test_pkt *p)
{
	struct link_rec *r = &l->log[l->nlog++ % LINK_LOG_MAX];

	r->t = l->now;
	r->dir = (uint8_t)dir;
	r->fate = 0;
	r->len = p->len;
	memcpy(r->b, p->data, p->len < LINK_REC_HDR ? p->len : LINK_REC_HDR);
	return r;
}

/* The i-th record ever written, or NULL when the ring has dropped it. */
static inline const struct link_rec *link_rec_at(const struct tcplink *l,
						 uint64_t i)
{
	if (i >= l->nlog || l->nlog - i > LINK_LOG_MAX)
		return NULL;
	return &l->log[i % LINK_LOG_MAX];
}

/* The oldest record still in the ring. */
static inline uint64_t link_log_first(const struct tcplink *l)
{
	return l->nlog > LINK_LOG_MAX ? l->nlog - LINK_LOG_MAX : 0;
}

/* ---- parsing a captured frame ------------------------------------------ */

/* A TCP segment as captured. v.payload is not readable from a record (only
 * the header is kept); use v.payload_len. */
struct link_seg {
	uint32_t src, dst;
	struct wire_tcp_view v;
	struct wire_tcp_opts o;
	bool opts_ok;
};

/* Parses Ethernet/IPv4/TCP from the first cap bytes of a frame of len
 * bytes; false when it is not a whole TCP header. */
static inline bool link_seg_from(const uint8_t *b, size_t cap, size_t len,
				 struct link_seg *s)
{
	unsigned ihl, tot;

	if (cap < 34 || test_get16(b + 12) != 0x0800 || b[23] != 6)
		return false;
	ihl = (b[14] & 0xfu) * 4u;
	tot = test_get16(b + 16);
	if (ihl < 20 || tot < ihl + WIRE_TCP_HLEN || 14 + tot > len ||
	    14 + ihl + WIRE_TCP_HLEN > cap)
		return false;
	s->src = test_get32(b + 26);
	s->dst = test_get32(b + 30);
	if (14 + ihl + (b[14 + ihl + 12] >> 4) * 4u > cap)
		return false;
	if (wire_tcp_parse(b + 14 + ihl, tot - ihl, s->src, s->dst, 1, &s->v))
		return false;
	s->opts_ok = !wire_tcp_parse_opts(s->v.opts, s->v.opts_len, &s->o);
	return true;
}

static inline bool link_seg_parse(const struct link_rec *r,
				  struct link_seg *s)
{
	return link_seg_from(r->b, r->len < LINK_REC_HDR ? r->len : LINK_REC_HDR,
			     r->len, s);
}

static inline bool link_pkt_seg(const struct test_pkt *p, struct link_seg *s)
{
	return link_seg_from(p->data, p->len, p->len, s);
}

/* Sequence space a segment occupies: payload plus SYN and FIN. */
static inline uint32_t link_seg_end(const struct link_seg *s)
{
	return s->v.seq + s->v.payload_len + !!(s->v.flags & WIRE_TCP_SYN) +
	       !!(s->v.flags & WIRE_TCP_FIN);
}

/* Prints a record on one line, for traces in failure reports. */
static inline void link_rec_print(FILE *out, const struct tcplink *l,
				  const struct link_rec *r)
{
	struct link_seg s;
	static const char names[] = "FSRPAUEC";
	char fl[9];
	int n = 0;

	if (!link_seg_parse(r, &s)) {
		fprintf(out, "%12.6f %c len %u (not TCP) fate %#x\n",
			(double)(r->t - LINK_T0) / 1e9, r->dir ? '<' : '>',
			r->len, r->fate);
		return;
	}
	for (int i = 0; i < 8; i++)
		if (s.v.flags & (1 << i))
			fl[n++] = names[i];
	fl[n] = 0;
	fprintf(out, "%12.6f %s %u>%u %-4s seq %u ack %u win %u len %u",
		(double)(r->t - LINK_T0) / 1e9, r->dir ? "B>A" : "A>B",
		s.v.sport, s.v.dport, fl, s.v.seq, s.v.ack, s.v.window,
		s.v.payload_len);
	if (s.o.has_mss)
		fprintf(out, " mss %u", s.o.mss);
	if (s.o.has_wscale)
		fprintf(out, " ws %u", s.o.wscale);
	if (s.o.sack_ok)
		fprintf(out, " sackok");
	if (s.o.has_ts)
		fprintf(out, " ts %u/%u", s.o.tsval, s.o.tsecr);
	for (unsigned i = 0; i < s.o.sack_count; i++)
		fprintf(out, " sack %u-%u", s.o.sack[i].left, s.o.sack[i].right);
	fprintf(out, r->fate ? " fate %#x\n" : "\n", r->fate);
	(void)l;
}

/* The last n records, for a failing test to show how it got there. */
static inline void link_dump(const struct tcplink *l, uint64_t n)
{
	uint64_t i = l->nlog > n ? l->nlog - n : 0;

	if (i < link_log_first(l))
		i = link_log_first(l);
	for (; i < l->nlog; i++)
		link_rec_print(stderr, l, link_rec_at(l, i));
}

/* ---- the link's half of a frame's journey ------------------------------ */

/* When a frame of len bytes finishes leaving; UINT64_MAX: queue full. */
static inline uint64_t link_depart(struct tcplink *l, struct link_side *s,
				   uint16_t len)
{
	uint64_t start, ser;

	if (!s->imp.rate_bps)
		return l->now;
	start = s->busy_until > l->now ? s->busy_until : l->now;
	ser = (uint64_t)len * 8 * TEST_NS_PER_S / s->imp.rate_bps;
	if (s->imp.queue_bytes &&
	    (start - l->now) * s->imp.rate_bps / 8 / TEST_NS_PER_S + len >
		    s->imp.queue_bytes)
		return UINT64_MAX;
	s->busy_until = start + ser;
	return s->busy_until;
}

/* Flips one byte of the IPv4 payload (within total length, so never the
 * Ethernet padding): a single-byte change always breaks the checksum. */
static inline void link_corrupt(struct tcplink *l, struct test_pkt *p)
{
	unsigned ihl = (p->data[14] & 0xfu) * 4u;
	unsigned end = 14u + test_get16(p->data + 16), start = 14 + ihl;

	if (end > p->len)
		end = p->len;
	if (end <= start)
		return;
	p->data[start + test_rand_below(&l->rng, end - start)] ^=
		(uint8_t)(1 + test_rand_below(&l->rng, 255));
}

static inline struct test_pkt *link_copy(const struct test_pkt *p)
{
	struct test_pkt *c = test_pkt_new(p->origin);

	c->len = p->len;
	c->rx_flags = p->rx_flags;
	memcpy(c->data, p->data, p->len);
	return c;
}

/* Held frames of dir move one step closer to release: the frame just
 * scheduled for at overtook them. */
static inline void link_overtaken(struct tcplink *l, int dir, uint64_t at)
{
	for (size_t i = 0; i < l->nheld;) {
		struct link_flight *h = &l->held[i];

		if (h->dir != dir || --h->k) {
			i++;
			continue;
		}
		link_schedule(l, dir, h->p, at > h->at ? at : h->at);
		*h = l->held[--l->nheld];
	}
}

static inline void link_hold(struct tcplink *l, int dir, struct test_pkt *p,
			     uint64_t at)
{
	const struct link_imp *m = &l->side[dir].imp;
	uint64_t wait = m->reorder_ns ? m->reorder_ns : LINK_REORDER_NS_DEFAULT;

	l->held = link_grow(l->held, &l->capheld, l->nheld + 1,
			    sizeof(*l->held));
	l->held[l->nheld++] = (struct link_flight){
		.p = p, .at = at + wait, .dir = (uint8_t)dir,
		.k = m->reorder_k ? m->reorder_k : 1 };
}

/* Which loss, if any, a frame suffers before it is on the wire. */
static inline uint8_t link_loss(struct tcplink *l, int dir,
				const struct test_pkt *p, bool impair)
{
	const struct link_imp *m = &l->side[dir].imp;

	if (l->hook && l->hook(l, dir, p, l->hook_arg))
		return LINK_F_CUT;
	if (!impair)
		return 0;
	if (m->cut)
		return LINK_F_CUT;
	return link_chance(l, m->drop) ? LINK_F_DROP : 0;
}

/* A frame transmitted by side dir enters the link (which takes it). */
static inline void link_send(struct tcplink *l, int dir, struct test_pkt *p)
{
	struct link_side *s = &l->side[dir];
	const struct link_imp *m = &s->imp;
	bool impair = link_is_ipv4(p) || m->impair_arp;
	struct link_rec *r;
	uint64_t at;

	if (p->tx_csum) { /* the sender's "NIC" fills what it was asked to */
		test_nic_tx_csum(p);
		s->offloaded++;
	}
	s->ipv4_sent += link_is_ipv4(p);
	s->sent++;
	r = link_record(l, dir, p);
	r->fate = link_loss(l, dir, p, impair);
	at = r->fate ? 0 : link_depart(l, s, p->len);
	if (at == UINT64_MAX)
		r->fate = LINK_F_QDROP;
	if (r->fate) {
		s->lost++;
		test_pkt_free(p);
		return;
	}
	at += m->delay_ns + (m->jitter_ns ?
			     test_rand(&l->rng) % (m->jitter_ns + 1) : 0);
	if (impair && link_chance(l, m->dup)) {
		r->fate |= LINK_F_DUP;
		s->dups++;
		link_schedule(l, dir, link_copy(p), at);
	}
	if (impair && link_chance(l, m->corrupt)) {
		r->fate |= LINK_F_CORRUPT;
		s->corrupted++;
		link_corrupt(l, p);
	}
	link_overtaken(l, dir, at);
	if (impair && link_chance(l, m->reorder)) {
		r->fate |= LINK_F_HELD;
		s->held++;
		link_hold(l, dir, p, at);
		return;
	}
	link_schedule(l, dir, p, at);
}

/* Moves what the stacks transmitted onto the wire. */
static inline void link_collect(struct tcplink *l)
{
	for (int d = 0; d < 2; d++) {
		struct link_side *s = &l->side[d];
		struct test_pkt *p;

		stack_flush(s->st);
		while ((p = test_pktq_pop(&s->port.tx)))
			link_send(l, d, p);
		if (!s->st2)
			continue;
		stack_flush(s->st2);
		while ((p = test_pktq_pop(&s->port2.tx)))
			link_send(l, d, p);
	}
}

/* Hands due frames to their receivers; true if any. */
static inline bool link_deliver_due(struct tcplink *l)
{
	bool any = false;

	for (size_t i = 0; i < l->nheld;) {
		if (l->held[i].at > l->now) {
			i++;
			continue;
		}
		link_schedule(l, l->held[i].dir, l->held[i].p, l->now);
		l->held[i] = l->held[--l->nheld];
	}
	while (l->nheap && l->heap[0].at <= l->now) {
		struct link_flight f = link_heap_pop(l);

		if (l->side[!f.dir].nic_rx_csum)
			test_nic_rx_check(f.p);
		/* ARP reaches every stack of the side (each keeps its own table) */
		if (l->side[!f.dir].st2 && f.p->len >= 14 && test_get16(f.p->data + 12) == 0x0806)
			test_pktq_push(&l->side[!f.dir].port2.rx, link_copy(f.p));
		test_pktq_push(&l->side[!f.dir].port.rx, f.p);
		any = true;
	}
	return any;
}

static inline void link_poll_all(struct tcplink *l)
{
	for (int d = 0; d < 2; d++) {
		struct link_side *s = &l->side[d];

		do
			stack_poll(s->st);
		while (s->port.rx.count);
		while (s->st2 && (stack_poll(s->st2), s->port2.rx.count))
			;
	}
}

/* Runs both stacks at this instant until no frame is due any more. */
static inline void link_settle(struct tcplink *l)
{
	for (unsigned i = 0; i < LINK_SETTLE_MAX; i++) {
		link_collect(l);
		link_deliver_due(l);
		link_poll_all(l);
		link_collect(l);
		if (!l->nheap || l->heap[0].at > l->now)
			return;
	}
}

static inline void link_set_time(struct tcplink *l, uint64_t t)
{
	l->now = t;
	l->side[0].port.now_ns = l->side[1].port.now_ns = t;
	l->side[0].port2.now_ns = l->side[1].port2.now_ns = t;
}

/* The next instant something happens: a frame is due, a held frame is
 * released, or a stack has a deadline. Always after now. */
static inline uint64_t link_next_time(const struct tcplink *l)
{
	uint64_t t = UINT64_MAX;

	if (l->nheap)
		t = l->heap[0].at;
	for (size_t i = 0; i < l->nheld; i++)
		if (l->held[i].at < t)
			t = l->held[i].at;
	for (int d = 0; d < 2; d++) {
		uint64_t dl = stack_next_deadline(l->side[d].st);

		if (dl < t)
			t = dl;
		dl = l->side[d].st2 ? stack_next_deadline(l->side[d].st2) : UINT64_MAX;
		if (dl < t)
			t = dl;
	}
	return t > l->now ? t : l->now + 1000; /* a deadline not yet served */
}

/*
 * Moves time forward event by event until pred (may be NULL) returns true
 * (returns true) or the clock reaches until_ns (returns false, with now ==
 * until_ns). pred runs after each instant settles and may use the stacks:
 * what it sends goes out at that instant.
 */
static inline bool link_run(struct tcplink *l, uint64_t until_ns,
			    link_pred_fn pred, void *arg)
{
	for (;;) {
		uint64_t next;

		link_settle(l);
		l->steps++;
		if (pred && pred(l, arg))
			return true;
		link_collect(l);
		if (l->nheap && l->heap[0].at <= l->now)
			continue;
		next = link_next_time(l);
		if (next > until_ns) {
			link_set_time(l, until_ns);
			link_settle(l);
			return pred && pred(l, arg);
		}
		link_set_time(l, next);
	}
}

/* Runs for ns of simulated time. */
static inline void link_run_for(struct tcplink *l, uint64_t ns)
{
	link_run(l, l->now + ns, NULL, NULL);
}

/* ---- readiness events -------------------------------------------------- */

static inline void link_tcp_event(void *ctx, struct stack_tcp *c, void *user,
				  unsigned events)
{
	struct link_side *s = ctx;

	s->ev[s->nev++ % LINK_EV_MAX] = (struct link_ev){
		.t = s->l->now, .c = c, .user = user, .events = events };
	if (s->close_on_err && (events & STACK_TCP_EV_ERR)) {
		s->closed_in_event++;
		stack_tcp_close(c);
	}
}

/* The union of the events reported for c in calls since call number from
 * (0: all kept); counts the calls in *n when n is not NULL. */
static inline unsigned link_events_since(const struct link_side *s,
					 const struct stack_tcp *c,
					 uint64_t from, unsigned *n)
{
	unsigned all = 0, cnt = 0;
	uint64_t i = s->nev > LINK_EV_MAX ? s->nev - LINK_EV_MAX : 0;

	for (i = i > from ? i : from; i < s->nev; i++) {
		const struct link_ev *e = &s->ev[i % LINK_EV_MAX];

		if (e->c == c) {
			all |= e->events;
			cnt++;
		}
	}
	if (n)
		*n = cnt;
	return all;
}

/* The first stack's steering: the listed tuples go to the second. */
static inline int link_steer(void *ctx, void *pkt, uint32_t rip, uint16_t rport,
			     uint16_t lport, int syn)
{
	struct link_side *s = ctx;

	(void)syn;
	for (unsigned i = 0; i < s->nsteer; i++)
		if (s->steer[i].rip == rip && s->steer[i].rport == rport &&
		    s->steer[i].lport == lport) {
			test_pktq_push(&s->port2.rx, pkt);
			return 1;
		}
	return 0;
}

static inline void link_steer_add(struct tcplink *l, int side, uint32_t rip,
				  uint16_t rport, uint16_t lport);

/* The first stack's ops->tcp_move: to the second when the test says so. */
static inline int link_tcp_move(void *ctx, void *pkt, uint32_t rip, uint16_t rport,
				uint16_t lport)
{
	struct link_side *s = ctx;

	s->move_asked++;
	if (s->l->now < s->move_again_until)
		return -EAGAIN;
	if (!s->move_to_second || !s->st2)
		return 0;
	((struct test_pkt *)pkt)->rx_flags = STACK_RX_HANDED;
	test_pktq_push(&s->port2.rx, pkt);
	link_steer_add(s->l, s == &s->l->side[0] ? 0 : 1, rip, rport, lport);
	s->moved++;
	return 1;
}

static inline const struct stack_ops *link_ops(void)
{
	static struct stack_ops ops;

	if (!ops.pkt_alloc) {
		ops = *test_port_ops();
		ops.tcp_event = link_tcp_event;
		ops.steer = link_steer;
		ops.tcp_move = link_tcp_move;
	}
	return &ops;
}

/* Gives side a second stack (after link_start); NULL if it cannot. */
static inline struct stack *link_second(struct tcplink *l, int side)
{
	struct link_side *s = &l->side[side];
	struct stack_conf conf = s->conf;

	test_port_init(&s->port2, l->now);
	conf.seed ^= 0x9e3779b97f4a7c15ull; /* (its own, as each thread's is) */
	s->st2 = stack_create(&conf, test_port_ops(), &s->port2);
	link_run_for(l, LINK_MS); /* (its gratuitous ARP crosses) */
	return s->st2;
}

/* From now on side's first stack steers rip:rport -> lport to the second. */
static inline void link_steer_add(struct tcplink *l, int side, uint32_t rip,
				  uint16_t rport, uint16_t lport)
{
	struct link_side *s = &l->side[side];

	if (s->nsteer < LINK_STEER_MAX)
		s->steer[s->nsteer++] = (struct link_tuple){ rip, rport, lport };
}

/* ---- set-up and tear-down ---------------------------------------------- */

/* Fills in both sides; change side[].conf or side[].imp, then link_start. */
static inline void link_init(struct tcplink *l, uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	l->rng.s = seed;
	l->now = LINK_T0;
	l->log = calloc(LINK_LOG_MAX, sizeof(*l->log));
	if (!l->log)
		abort();
	for (int d = 0; d < 2; d++) {
		struct link_side *s = &l->side[d];
		struct stack_conf *c = &s->conf;

		test_port_init(&s->port, LINK_T0);
		s->l = l;
		c->ip = d ? LINK_IP_B : LINK_IP_A;
		c->prefix_len = 24;
		c->mtu = 1500;
		c->seed = seed * 2 + (uint64_t)d + 1;
		for (int i = 0; i < 16; i++)
			c->isn_key[i] = (uint8_t)(0xa5 ^ i * 17);
		c->mac[0] = 0x02;
		c->mac[5] = (uint8_t)(d + 1);
	}
}

/* Asks each stack for the other's MAC (an ARP request the first time). */
static inline bool link_resolved(struct tcplink *l, void *arg)
{
	uint8_t mac[STACK_ETH_ALEN];
	bool a = !stack_resolve(l->side[0].st, LINK_IP_B, mac);
	bool b = !stack_resolve(l->side[1].st, LINK_IP_A, mac);

	(void)arg;
	return a && b;
}

/* Creates both stacks and lets each learn the other's MAC; the log and the
 * counters then start empty. Returns false if a stack cannot be made or
 * ARP does not resolve. */
static inline bool link_start(struct tcplink *l)
{
	for (int d = 0; d < 2; d++) {
		struct link_side *s = &l->side[d];

		s->st = stack_create(&s->conf, link_ops(), &s->port);
		if (!s->st)
			return false;
	}
	if (!link_run(l, l->now + TEST_NS_PER_S, link_resolved, NULL))
		return false;
	link_run_for(l, LINK_MS);
	l->nlog = 0;
	for (int d = 0; d < 2; d++)
		l->side[d].sent = l->side[d].lost = 0;
	return true;
}

/* Destroys both stacks, frees what is on the wire, and returns the buffers
 * still live on both ports (non-zero: a leak) plus misuse reports. */
static inline long link_fini(struct tcplink *l)
{
	long live = 0;

	for (int d = 0; d < 2; d++) {
		stack_destroy(l->side[d].st);
		l->side[d].st = NULL;
		stack_destroy(l->side[d].st2);
		l->side[d].st2 = NULL;
	}
	while (l->nheap)
		test_pkt_free(link_heap_pop(l).p);
	while (l->nheld)
		test_pkt_free(l->held[--l->nheld].p);
	for (int d = 0; d < 2; d++) {
		test_port_fini(&l->side[d].port);
		test_port_fini(&l->side[d].port2);
	}
	for (int d = 0; d < 2; d++) /* frames cross: count after both */
		live += l->side[d].port.live + l->side[d].port.misuse +
			l->side[d].port2.live + l->side[d].port2.misuse;
	free(l->heap);
	free(l->held);
	free(l->log);
	l->heap = l->held = NULL;
	l->log = NULL;
	return live;
}

#endif
