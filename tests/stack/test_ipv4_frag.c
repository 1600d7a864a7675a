/*
 * test_ipv4_frag.c - IPv4 reassembly (stack/ipv4_frag.c) on the test port
 * of link.h: datagrams built by hand, cut at 8-byte boundaries, fed in
 * every order, and compared byte for byte with the frame they were cut
 * from; the fragments it must refuse and the counter each one moves; the
 * limits (slots, fragments, size, time); and that every buffer comes back.
 *
 * Every fragment goes through feed(), which also holds the module to its
 * accounting: a negative return moves exactly the counter its errno names,
 * 1 moves completed, 0 moves none of them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../stack/ipv4_frag.h"
#include "../../stack/opts.h"
#include "../../stack/wire.h"
#include "link.h"

#define OUR_IP TEST_IP4(10, 0, 0, 1)
#define PEER_IP TEST_IP4(10, 0, 0, 2)
#define OTHER_IP TEST_IP4(10, 0, 0, 3)
/* A clock that starts far from zero, as a real one does. */
#define T0 (1000 * TEST_NS_PER_S)
#define TIMEOUT IPV4_REASM_TIMEOUT_NS

#define ETH_IPV4 0x0800
#define IP_MF 0x2000
#define PROTO_UDP 17
#define PROTO_TCP 6
#define ETH_HLEN 14
/* The largest payload that fits one test buffer under a 20-byte header. */
#define MAX_PAYLOAD (TEST_PKT_ROOM - ETH_HLEN - 20)

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 };

/* ---- fixture ----------------------------------------------------------- */

struct fix {
	struct test_port port;
	struct ipv4_reasm r;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	test_port_init(&f->port, T0);
	ipv4_reasm_init(&f->r);
	*state = f;
	return 0;
}

/* Cleans up after a test that failed half-way; asserts nothing. */
static int teardown(void **state)
{
	struct fix *f = *state;

	ipv4_reasm_fini(&f->r, test_port_ops(), &f->port);
	test_port_fini(&f->port);
	free(f);
	return 0;
}

/* Every test ends here: what the table held goes back with fini. */
static void finish(struct fix *f)
{
	ipv4_reasm_fini(&f->r, test_port_ops(), &f->port);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	assert_int_equal(test_port_fini(&f->port), 0);
	assert_int_equal(f->port.misuse, 0);
}

/* ---- datagrams and their fragments ------------------------------------- */

/* A datagram before fragmentation and the frame reassembly must give back:
 * the offset-0 fragment's Ethernet and IPv4 headers, fragmentation fields
 * clear, then the payload. Not to be copied (ip.opts points into it). */
struct dgram {
	struct test_ipv4 ip;
	uint8_t opts[40];
	uint16_t len;                   /* payload bytes */
	uint8_t payload[TEST_PKT_ROOM];
	struct test_frame whole;
};

/* Options that mean nothing: NOPs, then End of Option List (RFC 791 3.1). */
static void dgram_opts(struct dgram *d, uint8_t opts_len)
{
	memset(d->opts, 1, opts_len);
	if (opts_len)
		d->opts[opts_len - 1] = 0;
	d->ip.opts = d->opts;
	d->ip.opts_len = opts_len;
}

/* The frame to expect; none (length 0) for a datagram that cannot fit. */
static void dgram_whole(struct dgram *d)
{
	test_frame_reset(&d->whole);
	if (ETH_HLEN + 20u + d->ip.opts_len + d->len > sizeof(d->whole.b))
		return;
	test_frame_eth(&d->whole, our_mac, peer_mac, ETH_IPV4);
	test_frame_ipv4(&d->whole, &d->ip, d->len);
	test_frame_bytes(&d->whole, d->payload, d->len);
}

static void dgram_init(struct dgram *d, struct test_rng *rng, uint32_t src,
		       uint16_t id, uint8_t proto, uint16_t len,
		       uint8_t opts_len)
{
	assert_true(len <= sizeof(d->payload));
	memset(&d->ip, 0, sizeof(d->ip));
	d->ip.src = src;
	d->ip.dst = OUR_IP;
	d->ip.id = id;
	d->ip.proto = proto;
	d->ip.ttl = 41;
	d->ip.tos = 0x10;
	dgram_opts(d, opts_len);
	d->len = len;
	test_rand_bytes(rng, d->payload, len);
	dgram_whole(d);
}

/* How a fragment looks beyond its place in the datagram. */
struct frag_look {
	const uint8_t *eth_src; /* NULL: the datagram's (peer_mac) */
	uint8_t ttl;            /* 0: the datagram's */
	uint8_t flip;           /* xor into the first payload byte */
	size_t pad;             /* Ethernet padding after the datagram */
};

/*
 * The frame of fragment [start, start + len) of d, more fragments to
 * follow if more. As a router cuts (RFC 791 3.2), only the offset-0
 * fragment keeps the options (ours are not of the copied kind). start
 * and len are taken as given, so tests can cut where no router would.
 */
static void frame_frag(struct test_frame *fr, const struct dgram *d,
		       uint32_t start, uint16_t len, bool more,
		       const struct frag_look *look)
{
	struct test_ipv4 ip = d->ip;
	uint8_t *m;

	assert_true(start % 8 == 0 && start / 8 <= 0x1fff);
	if (start) {
		ip.opts = NULL;
		ip.opts_len = 0;
	}
	ip.frag = (uint16_t)(ip.frag | (more ? IP_MF : 0) | start / 8);
	if (look && look->ttl)
		ip.ttl = look->ttl;
	test_frame_reset(fr);
	test_frame_eth(fr, our_mac, look && look->eth_src ? look->eth_src :
							    peer_mac, ETH_IPV4);
	test_frame_ipv4(fr, &ip, len);
	m = test_frame_bytes(fr, NULL, len);
	if (start + len <= sizeof(d->payload))
		memcpy(m, d->payload + start, len);
	if (len && look)
		m[0] ^= look->flip;
	if (look)
		test_frame_bytes(fr, NULL, look->pad);
}

/* ---- feeding the table ------------------------------------------------- */

struct counted {
	int err;
	size_t off; /* of the counter in struct ipv4_reasm_stats */
};

/* The counter each refusal moves (see ipv4_frag.h). */
static const struct counted counted[] = {
	{ -EEXIST, offsetof(struct ipv4_reasm_stats, duplicate) },
	{ -EBADMSG, offsetof(struct ipv4_reasm_stats, overlap) },
	{ -EINVAL, offsetof(struct ipv4_reasm_stats, bad_len) },
	{ -EMSGSIZE, offsetof(struct ipv4_reasm_stats, too_big) },
	{ -ENOSPC, offsetof(struct ipv4_reasm_stats, too_many) },
	{ -ENOBUFS, offsetof(struct ipv4_reasm_stats, no_buffer) },
	{ 1, offsetof(struct ipv4_reasm_stats, completed) },
};

static uint64_t stat_at(const struct ipv4_reasm_stats *s, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)s + off, sizeof(v));
	return v;
}

static void check_accounting(const struct ipv4_reasm_stats *before,
			     const struct ipv4_reasm_stats *after, int rc,
			     int line)
{
	int known = rc == 0;

	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		uint64_t want = stat_at(before, counted[i].off) +
				(counted[i].err == rc);

		known |= counted[i].err == rc;
		if (stat_at(after, counted[i].off) != want)
			fail_msg("line %d: rc %d moved the counter at %zu", line,
				 rc, counted[i].off);
	}
	if (!known)
		fail_msg("line %d: unexpected return %d", line, rc);
}

/* Hands a copy of the frame to the table at the port's time. Returns what
 * ipv4_reasm_input did; *out is the datagram when it returned 1. */
static int feed_at(struct fix *f, const struct test_frame *fr,
		   struct test_pkt **out, int line)
{
	struct test_pkt *p = test_port_pkt_from(&f->port, fr);
	struct ipv4_reasm_stats before = f->r.stats;
	struct wire_ipv4_view ip;
	void *o = p; /* must be overwritten */
	int rc;

	if (wire_ipv4_parse(p->data + ETH_HLEN, p->len - ETH_HLEN, 0, &ip))
		fail_msg("line %d: the test built a bad header", line);
	rc = ipv4_reasm_input(&f->r, test_port_ops(), &f->port,
			      f->port.now_ns, p, &ip, &o);
	check_accounting(&before, &f->r.stats, rc, line);
	if ((rc == 1) != (o != NULL))
		fail_msg("line %d: rc %d with out %p", line, rc, o);
	*out = o;
	return rc;
}

/* The datagram must be d's frame, byte for byte, with a valid header
 * checksum; it is freed. */
static void check_whole_at(struct test_pkt *out, const struct dgram *d,
			   int line)
{
	uint16_t hlen = (uint16_t)(20 + d->ip.opts_len);

	if (!out || !d->whole.len)
		fail_msg("line %d: no datagram, or one that cannot be", line);
	if (out->len != d->whole.len)
		fail_msg("line %d: %u bytes, want %u", line, out->len,
			 d->whole.len);
	if (test_csum_sum(out->data + ETH_HLEN, hlen) != 0xffff)
		fail_msg("line %d: bad IPv4 header checksum", line);
	if (memcmp(out->data, d->whole.b, d->whole.len) != 0)
		fail_msg("line %d: datagram differs", line);
	test_pkt_free(out);
}

#define check_whole(out, d) check_whole_at(out, d, __LINE__)

/* Feeds one fragment of d and wants rc back; a datagram that completes
 * must be d's. */
static void frag_at(struct fix *f, const struct dgram *d, uint32_t start,
		    uint16_t len, bool more, const struct frag_look *look,
		    int want, int line)
{
	struct test_frame fr;
	struct test_pkt *out;
	int rc;

	frame_frag(&fr, d, start, len, more, look);
	rc = feed_at(f, &fr, &out, line);
	if (rc != want)
		fail_msg("line %d: fragment [%u, %u) more %d: rc %d, want %d",
			 line, start, start + len, more, rc, want);
	if (rc == 1)
		check_whole_at(out, d, line);
}

#define FRAG(f, d, start, len, more, want) \
	frag_at(f, d, start, len, more, NULL, want, __LINE__)
#define FRAG_LOOK(f, d, start, len, more, look, want) \
	frag_at(f, d, start, len, more, look, want, __LINE__)

static const struct stack_ops *ops(void)
{
	return test_port_ops();
}

/* ---- cutting ----------------------------------------------------------- */

struct cut {
	unsigned n;
	uint16_t start[IPV4_REASM_MAX_FRAGS + 1];
	uint16_t len[IPV4_REASM_MAX_FRAGS + 1];
};

static int cmp_u16(const void *a, const void *b)
{
	return *(const uint16_t *)a - *(const uint16_t *)b;
}

/* Cuts len bytes into n fragments at random multiples of 8. */
static void cut_random(struct test_rng *rng, struct cut *c, uint16_t len,
		       unsigned n)
{
	uint16_t points[TEST_PKT_ROOM / 8];
	unsigned np = (len - 1u) / 8; /* cut points 8, 16, .. below len */

	assert_true(n >= 1 && n <= np + 1 && n <= IPV4_REASM_MAX_FRAGS + 1);
	for (unsigned i = 0; i < np; i++)
		points[i] = (uint16_t)(8 * (i + 1));
	for (unsigned i = 0; i + 1 < n; i++) { /* partial Fisher-Yates */
		unsigned j = i + test_rand_below(rng, np - i);
		uint16_t t = points[i];

		points[i] = points[j];
		points[j] = t;
	}
	qsort(points, n - 1, sizeof(points[0]), cmp_u16);
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		c->start[i] = i ? points[i - 1] : 0;
		c->len[i] = (uint16_t)((i + 1 < n ? points[i] : len) -
				       c->start[i]);
	}
}

/* Cuts len bytes into n fragments of 8 bytes, the last taking the rest. */
static void cut_even8(struct cut *c, uint16_t len, unsigned n)
{
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		c->start[i] = (uint16_t)(8 * i);
		c->len[i] = i + 1 < n ? 8 : (uint16_t)(len - 8 * i);
	}
}

static void shuffle(struct test_rng *rng, unsigned *v, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = test_rand_below(rng, i);
		unsigned t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

enum order { IN_ORDER, REVERSE, RANDOM };

/* Feeds every fragment of the cut in the order given; only the last fed
 * completes, and the result is d. */
static void feed_cut(struct fix *f, struct test_rng *rng,
		     const struct dgram *d, const struct cut *c,
		     enum order order)
{
	unsigned idx[IPV4_REASM_MAX_FRAGS + 1];

	for (unsigned i = 0; i < c->n; i++)
		idx[i] = order == REVERSE ? c->n - 1 - i : i;
	if (order == RANDOM)
		shuffle(rng, idx, c->n);
	for (unsigned i = 0; i < c->n; i++) {
		unsigned k = idx[i];

		FRAG(f, d, c->start[k], c->len[k], k + 1 < c->n,
		     i + 1 < c->n ? 0 : 1);
	}
}

/* ---- whole datagrams from fragments ------------------------------------ */

struct shape {
	uint16_t len;
	unsigned n;
	uint8_t opts_len;
};

static const struct shape shapes[] = {
	{ 9, 2, 0 },                        /* the smallest that can be cut */
	{ 16, 2, 0 },                       /* last fragment a multiple of 8 */
	{ 100, 2, 0 },
	{ 1480, 3, 0 },                     /* an Ethernet datagram, 576 MTU */
	{ 327, 17, 4 },
	{ 400, 40, 0 },
	{ 8 * 39 + 1, 40, 0 },              /* 39 of 8 bytes and 1 */
	{ MAX_PAYLOAD, 2, 0 },              /* fills the buffer exactly */
	{ MAX_PAYLOAD, 40, 0 },
	{ MAX_PAYLOAD - 40, 40, 40 },       /* so does this, with options */
	{ 1000, 7, 40 },
};

static void reassemble_shapes(struct fix *f, enum order order, uint64_t seed)
{
	struct test_rng rng = { seed };
	struct dgram *d = malloc(sizeof(*d));
	struct cut c;

	assert_non_null(d);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (int rep = 0; rep < 4; rep++) {
			dgram_init(d, &rng, PEER_IP, (uint16_t)(i * 4 + rep),
				   PROTO_UDP, shapes[i].len, shapes[i].opts_len);
			cut_random(&rng, &c, shapes[i].len, shapes[i].n);
			feed_cut(f, &rng, d, &c, order);
			assert_int_equal(f->port.live, 0);
			assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
		}
	}
	assert_int_equal(f->r.stats.completed,
			 4 * sizeof(shapes) / sizeof(shapes[0]));
	free(d);
	finish(f);
}

static void test_in_order(void **state)
{
	reassemble_shapes(*state, IN_ORDER, 1);
}

static void test_reverse_order(void **state)
{
	reassemble_shapes(*state, REVERSE, 2);
}

static void test_random_order(void **state)
{
	reassemble_shapes(*state, RANDOM, 3);
}

/* RFC 791 3.2: the datagram takes the offset-0 fragment's headers, not
 * those of the fragments after it, whenever it comes; Ethernet padding
 * after a fragment is not payload. */
static void test_headers_from_offset_zero(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 4 };
	struct dgram *d = malloc(sizeof(*d));
	struct frag_look other = { .eth_src = other_mac, .ttl = 3, .pad = 6 };
	struct frag_look padded = { .pad = 10 };

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 9, PROTO_UDP, 20, 8);
	FRAG_LOOK(f, d, 16, 4, false, &other, 0);
	FRAG_LOOK(f, d, 0, 16, true, &padded, 1);
	FRAG_LOOK(f, d, 0, 16, true, &padded, 0);
	FRAG_LOOK(f, d, 16, 4, false, &other, 1);
	free(d);
	finish(f);
}

/* Not a fragment at all: handled as a datagram of one. */
static void test_whole_datagram_passes(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 5 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 300, 12);
	FRAG(f, d, 0, 300, false, 1);
	assert_int_equal(f->port.live, 0);
	free(d);
	finish(f);
}

/* ---- what does not complete -------------------------------------------- */

static void test_lone_last_fragment_waits(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 6 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 100, 0);
	FRAG(f, d, 48, 52, false, 0);
	/* The fragment was copied and freed; the table holds its own. */
	assert_int_equal(f->port.live, 1);
	assert_int_equal(f->port.allocs, 1);
	assert_int_equal(ipv4_reasm_deadline(&f->r), T0 + TIMEOUT);
	FRAG(f, d, 8, 40, true, 0);
	assert_int_equal(f->port.live, 1);
	FRAG(f, d, 0, 8, true, 1);
	assert_int_equal(f->port.live, 0);
	FRAG(f, d, 48, 52, false, 0);
	free(d);
	finish(f);
}

static void test_duplicates_tolerated(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 7 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 100, 4);
	FRAG(f, d, 0, 32, true, 0);
	FRAG(f, d, 0, 32, true, -EEXIST);
	FRAG(f, d, 72, 28, false, 0);
	FRAG(f, d, 72, 28, false, -EEXIST);
	FRAG(f, d, 0, 32, true, -EEXIST);
	assert_int_equal(f->port.live, 1);
	FRAG(f, d, 32, 40, true, 1);
	assert_int_equal(f->r.stats.duplicate, 3);
	/* A copy arriving after the datagram went up starts another. */
	dgram_init(d, &rng, PEER_IP, 2, PROTO_UDP, 100, 4);
	FRAG(f, d, 0, 32, true, 0);
	FRAG(f, d, 32, 68, false, 1);
	FRAG(f, d, 32, 68, false, 0);
	assert_int_equal(f->port.live, 1);
	free(d);
	finish(f);
}

/* ---- what is refused --------------------------------------------------- */

/* One range held, then another meeting it: the datagram goes. */
struct overlap_case {
	uint16_t held_start, held_len, start, len;
	uint8_t flip;
};

static const struct overlap_case overlaps[] = {
	{ 0, 16, 8, 16, 0 },   /* runs into the next */
	{ 8, 16, 0, 16, 0 },   /* runs into the previous */
	{ 8, 8, 0, 24, 0 },    /* covers it */
	{ 0, 24, 8, 8, 0 },    /* inside it */
	{ 8, 8, 0, 16, 0 },    /* same end */
	{ 0, 16, 0, 8, 0 },    /* same start */
	{ 0, 16, 0, 16, 0x5a }, /* same range, other bytes */
	{ 16, 16, 16, 16, 0x01 },
};

static void test_overlap_drops_datagram(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 8 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	for (size_t i = 0; i < sizeof(overlaps) / sizeof(overlaps[0]); i++) {
		const struct overlap_case *o = &overlaps[i];
		struct frag_look look = { .flip = o->flip };

		dgram_init(d, &rng, PEER_IP, (uint16_t)i, PROTO_UDP, 48, 0);
		FRAG(f, d, 40, 8, false, 0);
		FRAG(f, d, o->held_start, o->held_len, true, 0);
		FRAG_LOOK(f, d, o->start, o->len, true, &look, -EBADMSG);
		assert_int_equal(f->r.stats.overlap, i + 1);
		assert_int_equal(f->port.live, 0);
		assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
		/* What came before is gone: this starts afresh. */
		FRAG(f, d, o->start, o->len, true, 0);
		ipv4_reasm_fini(&f->r, ops(), &f->port);
	}
	free(d);
	finish(f);
}

/* RFC 791 3.1: only the last fragment may end off an 8-byte boundary. A
 * bad fragment goes alone; the datagram may still complete. */
static void test_bad_length_fragment_dropped(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 9 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 40, 0);
	FRAG(f, d, 0, 16, true, 0);
	FRAG(f, d, 16, 12, true, -EINVAL);
	FRAG(f, d, 16, 9, true, -EINVAL);
	FRAG(f, d, 24, 0, true, -EINVAL);  /* empty */
	FRAG(f, d, 40, 0, false, -EINVAL); /* empty last */
	assert_int_equal(f->r.stats.bad_len, 4);
	assert_int_equal(f->port.live, 1);
	FRAG(f, d, 32, 8, false, 0);
	FRAG(f, d, 16, 16, true, 1);
	free(d);
	finish(f);
}

/* RFC 791 3.2: the last fragment sets the length; data beyond it, or a
 * second last fragment with another length, drops the datagram. */
static void test_data_beyond_end_drops_datagram(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 10 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 64, 0);
	FRAG(f, d, 16, 8, false, 0);    /* ends at 24 */
	FRAG(f, d, 24, 8, true, -EINVAL);
	assert_int_equal(f->port.live, 0);
	FRAG(f, d, 24, 8, true, 0);     /* held up to 32 */
	FRAG(f, d, 8, 8, false, -EINVAL); /* says it ends at 16 */
	assert_int_equal(f->port.live, 0);
	FRAG(f, d, 16, 8, false, 0);
	FRAG(f, d, 24, 6, false, -EINVAL); /* a second, other end */
	assert_int_equal(f->port.live, 0);
	assert_int_equal(f->r.stats.bad_len, 3);
	/* Up to the end is fine, from before or after the last came. */
	FRAG(f, d, 8, 8, true, 0);
	FRAG(f, d, 24, 8, false, 0);
	FRAG(f, d, 16, 8, true, 0);
	assert_int_equal(f->port.live, 1);
	assert_int_equal(f->r.stats.bad_len, 3);
	free(d);
	finish(f);
}

/* More than one buffer's worth is dropped, whichever fragment shows it. A
 * lone fragment that cannot fit takes no buffer and no slot. */
static void test_too_big_for_buffer(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 11 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, MAX_PAYLOAD + 1, 0);
	FRAG(f, d, 0, 1008, true, 0);
	FRAG(f, d, 1008, MAX_PAYLOAD + 1 - 1008, false, -EMSGSIZE);
	assert_int_equal(f->port.live, 0);
	FRAG(f, d, 1008, MAX_PAYLOAD + 1 - 1008, false, -EMSGSIZE);
	assert_int_equal(f->port.allocs, 1);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	/* Options on the offset-0 fragment push a fitting payload out. */
	dgram_init(d, &rng, PEER_IP, 2, PROTO_UDP, MAX_PAYLOAD - 32, 40);
	FRAG(f, d, 1000, MAX_PAYLOAD - 32 - 1000, false, 0);
	FRAG(f, d, 0, 1000, true, -EMSGSIZE);
	assert_int_equal(f->port.live, 0);
	FRAG(f, d, 0, 1000, true, 0);
	FRAG(f, d, 1000, MAX_PAYLOAD - 32 - 1000, false, -EMSGSIZE);
	assert_int_equal(f->port.live, 0);
	assert_int_equal(f->r.stats.too_big, 4);
	free(d);
	finish(f);
}

/* RFC 791 3.1: total length is 16 bits; a fragment reaching past 65535
 * (the "ping of death") is refused, and takes its datagram with it. */
static void test_too_big_for_ipv4(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 12 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 64, 0);
	FRAG(f, d, 0x1fff * 8, 8, false, -EMSGSIZE);
	assert_int_equal(f->port.allocs, 0);
	FRAG(f, d, 0, 8, true, 0);
	FRAG(f, d, 0x1fff * 8, 8, false, -EMSGSIZE);
	FRAG(f, d, 65528 - 8, 8, true, -EMSGSIZE);
	assert_int_equal(f->port.live, 0);
	assert_int_equal(f->r.stats.too_big, 3);
	free(d);
	finish(f);
}

static void test_fragment_limit(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 13 };
	struct dgram *d = malloc(sizeof(*d));
	struct cut c;

	assert_non_null(d);
	/* As many as allowed complete. */
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP,
		   8 * IPV4_REASM_MAX_FRAGS, 0);
	cut_even8(&c, d->len, IPV4_REASM_MAX_FRAGS);
	feed_cut(f, &rng, d, &c, RANDOM);
	/* One more drops the datagram, from any order. */
	dgram_init(d, &rng, PEER_IP, 2, PROTO_UDP,
		   8 * IPV4_REASM_MAX_FRAGS + 5, 0);
	for (int i = 0; i < IPV4_REASM_MAX_FRAGS; i++)
		FRAG(f, d, 8 * (uint32_t)(IPV4_REASM_MAX_FRAGS - i), 8 - 3 * !i,
		     i > 0, 0);
	FRAG(f, d, 0, 8, true, -ENOSPC);
	assert_int_equal(f->r.stats.too_many, 1);
	assert_int_equal(f->port.live, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	free(d);
	finish(f);
}

static void test_no_buffer(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 14 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	dgram_init(d, &rng, PEER_IP, 1, PROTO_UDP, 40, 0);
	f->port.fail_alloc = true;
	FRAG(f, d, 0, 16, true, -ENOBUFS);
	assert_int_equal(f->port.live, 0);
	f->port.fail_alloc = false;
	FRAG(f, d, 0, 16, true, 0);
	/* A datagram under way needs no more buffers. */
	f->port.fail_alloc = true;
	FRAG(f, d, 16, 24, false, 1);
	free(d);
	finish(f);
}

/* ---- many at once ------------------------------------------------------ */

/* Datagrams that differ in one key field only (RFC 791 3.2: source,
 * destination, protocol, identification) stay apart. */
static void test_interleaved_datagrams(void **state)
{
	enum { N = 6 };
	struct fix *f = *state;
	struct test_rng rng = { 15 };
	struct dgram *d = calloc(N, sizeof(*d));
	struct cut c[N];
	unsigned most = 0;

	assert_non_null(d);
	for (int i = 0; i < N; i++) {
		dgram_init(&d[i], &rng, PEER_IP, 7, PROTO_UDP,
			   (uint16_t)(200 + 8 * i), (uint8_t)(4 * (i & 1)));
		cut_random(&rng, &c[i], d[i].len, 3 + (unsigned)i);
		most = c[i].n > most ? c[i].n : most;
	}
	d[1].ip.src = OTHER_IP;
	d[2].ip.proto = PROTO_TCP;
	d[3].ip.id = 8;
	d[4].ip.dst = TEST_IP4(10, 0, 0, 9);
	d[5].ip.id = 0x107; /* 7 in the low byte */
	for (int i = 0; i < N; i++) /* the frames to expect, keys changed */
		dgram_whole(&d[i]);
	for (unsigned k = 0; k < most; k++)
		for (int i = 0; i < N; i++)
			if (k < c[i].n)
				FRAG(f, &d[i], c[i].start[k], c[i].len[k],
				     k + 1 < c[i].n, k + 1 == c[i].n);
	assert_int_equal(f->r.stats.completed, N);
	assert_int_equal(f->port.live, 0);
	free(d);
	finish(f);
}

/* With every slot taken, a new datagram pushes out the oldest, wherever
 * it sits in the table. */
static void test_slots_evict_oldest(void **state)
{
	enum { N = IPV4_REASM_SLOTS + 2 };
	struct fix *f = *state;
	struct test_rng rng = { 16 };
	struct dgram *d = calloc(N, sizeof(*d));

	assert_non_null(d);
	for (int i = 0; i < N; i++)
		dgram_init(&d[i], &rng, PEER_IP, (uint16_t)(100 + i),
			   PROTO_UDP, 24, 0);
	for (int i = 0; i < IPV4_REASM_SLOTS; i++) {
		FRAG(f, &d[i], 0, 8, true, 0);
		test_port_advance(&f->port, 1000);
	}
	/* d[0] completes, so the next one takes its slot and is newest. */
	FRAG(f, &d[0], 8, 16, false, 1);
	FRAG(f, &d[IPV4_REASM_SLOTS], 0, 8, true, 0);
	assert_int_equal(f->r.stats.evicted, 0);
	test_port_advance(&f->port, 1000);
	FRAG(f, &d[IPV4_REASM_SLOTS + 1], 0, 8, true, 0);
	assert_int_equal(f->r.stats.evicted, 1);
	assert_int_equal(f->port.live, IPV4_REASM_SLOTS);
	/* d[1] was the oldest: its datagram is gone. */
	assert_int_equal(ipv4_reasm_deadline(&f->r), T0 + 2000 + TIMEOUT);
	for (int i = 2; i < N; i++)
		FRAG(f, &d[i], 8, 16, false, 1);
	FRAG(f, &d[1], 8, 16, false, 0);
	assert_int_equal(f->r.stats.evicted, 1);
	assert_int_equal(f->port.live, 1);
	free(d);
	finish(f);
}

/* RFC 1122 3.3.2: a datagram not complete in time is given up; its timer
 * starts with its first fragment and later ones do not restart it. */
static void test_timeout(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 17 };
	struct dgram *a = malloc(sizeof(*a));
	struct dgram *b = malloc(sizeof(*b));
	uint64_t tb = T0 + 5 * TEST_NS_PER_S;

	assert_non_null(a);
	assert_non_null(b);
	dgram_init(a, &rng, PEER_IP, 1, PROTO_UDP, 40, 0);
	dgram_init(b, &rng, OTHER_IP, 1, PROTO_UDP, 40, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	assert_int_equal(ipv4_reasm_expire(&f->r, ops(), &f->port, UINT64_MAX),
			 0);
	FRAG(f, a, 0, 8, true, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), T0 + TIMEOUT);
	f->port.now_ns = tb;
	FRAG(f, b, 0, 8, true, 0);
	FRAG(f, a, 8, 8, true, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), T0 + TIMEOUT);
	assert_int_equal(ipv4_reasm_expire(&f->r, ops(), &f->port,
					   T0 + TIMEOUT - 1), 0);
	assert_int_equal(f->port.live, 2);
	assert_int_equal(ipv4_reasm_expire(&f->r, ops(), &f->port,
					   T0 + TIMEOUT), 1);
	assert_int_equal(f->r.stats.timeout, 1);
	assert_int_equal(f->port.live, 1);
	assert_int_equal(ipv4_reasm_deadline(&f->r), tb + TIMEOUT);
	/* a's first fragments are gone: the rest no longer completes it. */
	f->port.now_ns = T0 + TIMEOUT;
	FRAG(f, a, 16, 24, false, 0);
	/* Input expires what is due before it looks, without being asked. */
	f->port.now_ns = tb + TIMEOUT;
	FRAG(f, b, 8, 32, false, 0);
	assert_int_equal(f->r.stats.timeout, 2);
	assert_int_equal(f->port.live, 2);
	assert_int_equal(ipv4_reasm_deadline(&f->r), T0 + 2 * TIMEOUT);
	assert_int_equal(ipv4_reasm_expire(&f->r, ops(), &f->port,
					   tb + 2 * TIMEOUT), 2);
	assert_int_equal(f->port.live, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	assert_int_equal(f->r.stats.timeout, 4);
	assert_int_equal(f->r.stats.completed, 0);
	free(a);
	free(b);
	finish(f);
}

static void test_fini_frees_everything(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 18 };
	struct dgram *d = malloc(sizeof(*d));

	assert_non_null(d);
	for (int i = 0; i < IPV4_REASM_SLOTS; i++) {
		dgram_init(d, &rng, PEER_IP, (uint16_t)i, PROTO_UDP, 64, 0);
		FRAG(f, d, 0, 8, true, 0);
		FRAG(f, d, 56, 8, false, 0);
	}
	assert_int_equal(f->port.live, IPV4_REASM_SLOTS);
	ipv4_reasm_fini(&f->r, ops(), &f->port);
	assert_int_equal(f->port.live, 0);
	assert_int_equal(ipv4_reasm_deadline(&f->r), UINT64_MAX);
	/* The table works again after fini; the old fragments are gone. */
	FRAG(f, d, 8, 48, true, 0);
	FRAG(f, d, 0, 8, true, 0);
	FRAG(f, d, 56, 8, false, 1);
	assert_int_equal(f->r.stats.evicted + f->r.stats.timeout, 0);
	free(d);
	finish(f);
}

/* ---- random traffic ---------------------------------------------------- */

#define FUZZ_ROUNDS 1500

/* A datagram of the random loop and what the table should hold of it. */
struct fuzz_dgram {
	struct dgram d;
	struct cut c;
	bool held[IPV4_REASM_MAX_FRAGS + 1]; /* fed since the table started it */
	unsigned nheld;
	uint64_t started;                    /* when the table started it */
};

static bool fuzz_key_taken(const struct fuzz_dgram *g, int n)
{
	for (int i = 0; i < n; i++)
		if (g[i].d.ip.id == g[n].d.ip.id &&
		    g[i].d.ip.src == g[n].d.ip.src &&
		    g[i].d.ip.proto == g[n].d.ip.proto)
			return true;
	return false;
}

/* A datagram with a key no other of the round has (few values, so many
 * share all but one field), random size and options, cut at random. */
static void fuzz_make(struct test_rng *rng, struct fuzz_dgram *g, int n)
{
	static const uint32_t srcs[] = { PEER_IP, OTHER_IP,
					 TEST_IP4(192, 168, 7, 7) };
	static const uint8_t protos[] = { PROTO_UDP, PROTO_TCP, 1 };
	struct fuzz_dgram *me = &g[n];
	uint8_t opts_len = (uint8_t)(test_rand_below(rng, 4) ? 0 :
				     4 * test_rand_below(rng, 11));
	/* Half up to the largest that fits, half small ones cut fine. */
	uint32_t most = test_rand_below(rng, 2) ? MAX_PAYLOAD - opts_len : 400;
	uint16_t len = (uint16_t)(9 + test_rand_below(rng, most - 9 + 1));
	unsigned cuts = (len - 1u) / 8; /* 8-byte points below len */
	unsigned nmax = cuts + 1 < 40 ? cuts + 1 : 40;

	do {
		dgram_init(&me->d, rng, srcs[test_rand_below(rng, 3)],
			   (uint16_t)test_rand_below(rng, 4),
			   protos[test_rand_below(rng, 3)], len, opts_len);
	} while (fuzz_key_taken(g, n));
	cut_random(rng, &me->c, len, 2 + test_rand_below(rng, nmax - 1));
	memset(me->held, 0, sizeof(me->held));
	me->nheld = 0;
}

/* Feeds fragment k of g and checks the outcome against the model: a
 * duplicate while held, completion when it fills the last hole. */
static void fuzz_feed(struct fix *f, struct test_rng *rng,
		      struct fuzz_dgram *g, unsigned k)
{
	struct frag_look look = { .pad = test_rand_below(rng, 4) ? 0 : 7 };
	uint8_t mac[6];
	int want;

	if (k && test_rand_below(rng, 2)) { /* only offset 0's count */
		test_rand_bytes(rng, mac, sizeof(mac));
		look.eth_src = mac;
		look.ttl = (uint8_t)(1 + test_rand_below(rng, 255));
	}
	if (g->held[k]) {
		want = -EEXIST;
	} else {
		if (!g->nheld)
			g->started = f->port.now_ns;
		g->held[k] = true;
		want = ++g->nheld == g->c.n;
	}
	FRAG_LOOK(f, &g->d, g->c.start[k], g->c.len[k], k + 1 < g->c.n,
		  &look, want);
	if (want == 1) {
		memset(g->held, 0, sizeof(g->held));
		g->nheld = 0;
	}
}

/* One round: up to a table's worth of datagrams, their fragments mixed,
 * some sent twice, a few lost; then time runs out for what is left. */
static void fuzz_round(struct fix *f, struct test_rng *rng,
		       struct fuzz_dgram *g)
{
	unsigned plan[2 * IPV4_REASM_SLOTS * (IPV4_REASM_MAX_FRAGS + 1)];
	unsigned n = 1 + test_rand_below(rng, IPV4_REASM_SLOTS);
	unsigned np = 0, left = 0;
	uint64_t first = UINT64_MAX;

	for (unsigned i = 0; i < n; i++) {
		fuzz_make(rng, g, (int)i);
		for (unsigned k = 0; k < g[i].c.n; k++) {
			unsigned copies = test_rand_below(rng, 8) ? 1 : 2;

			if (!test_rand_below(rng, 200))
				copies = 0; /* lost */
			while (copies--)
				plan[np++] = i << 8 | k;
		}
	}
	shuffle(rng, plan, np);
	for (unsigned j = 0; j < np; j++) {
		fuzz_feed(f, rng, &g[plan[j] >> 8], plan[j] & 0xff);
		test_port_advance(&f->port, test_rand_below(rng, 1000000));
	}
	for (unsigned i = 0; i < n; i++) {
		if (!g[i].nheld)
			continue;
		left++;
		first = g[i].started < first ? g[i].started : first;
	}
	assert_int_equal(ipv4_reasm_deadline(&f->r),
			 left ? first + TIMEOUT : UINT64_MAX);
	assert_int_equal(f->port.live, left);
	test_port_advance(&f->port, TIMEOUT);
	assert_int_equal(ipv4_reasm_expire(&f->r, ops(), &f->port,
					   f->port.now_ns), left);
	assert_int_equal(f->port.live, 0);
}

static void test_fuzz_random_traffic(void **state)
{
	struct fix *f = *state;
	struct test_rng rng = { 0xf4a9 };
	struct fuzz_dgram *g = calloc(IPV4_REASM_SLOTS, sizeof(*g));
	const struct ipv4_reasm_stats *s = &f->r.stats;

	assert_non_null(g);
	for (int i = 0; i < FUZZ_ROUNDS; i++)
		fuzz_round(f, &rng, g);
	/* Eviction never had to happen: keys per round <= slots. */
	assert_int_equal(s->evicted, 0);
	assert_true(s->completed > FUZZ_ROUNDS);
	assert_true(s->duplicate > 0);
	assert_true(s->timeout > 0);
	assert_int_equal(s->overlap + s->too_big + s->too_many + s->bad_len +
			 s->no_buffer, 0);
	free(g);
	finish(f);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_in_order),
		T(test_reverse_order),
		T(test_random_order),
		T(test_headers_from_offset_zero),
		T(test_whole_datagram_passes),
		T(test_lone_last_fragment_waits),
		T(test_duplicates_tolerated),
		T(test_overlap_drops_datagram),
		T(test_bad_length_fragment_dropped),
		T(test_data_beyond_end_drops_datagram),
		T(test_too_big_for_buffer),
		T(test_too_big_for_ipv4),
		T(test_fragment_limit),
		T(test_no_buffer),
		T(test_interleaved_datagrams),
		T(test_slots_evict_oldest),
		T(test_timeout),
		T(test_fini_frees_everything),
		T(test_fuzz_random_traffic),
	};

	return cmocka_run_group_tests_name("stack_ipv4_frag", tests, NULL, NULL);
}
