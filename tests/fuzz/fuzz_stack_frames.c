/*
 * fuzz_stack_frames.c - frames from the wire into a stack that has
 * listeners (one plain, two sharing a port with SO_REUSEPORT), a pending
 * connect to an on-link peer and one to an off-link peer behind the
 * gateway (still resolving), and a closed port: every input path of
 * stack_input (Ethernet, ARP, IPv4 with fragments, ICMP, TCP to a
 * listener, to a connection, to nothing: closed_input).
 *
 * Frames are either raw bytes (with checksums fixed or not, as the input
 * says) or TCP segments built from fields the input chooses, where the
 * sequence and acknowledgement numbers may be taken relative to the last
 * segment the stack sent on that 4-tuple, so handshakes complete and
 * segments land in windows. The input also moves the clock (SYN and
 * SYN-ACK retries, ARP retries, reassembly timeouts, TIME_WAIT) and makes
 * application calls on what the listeners accepted.
 *
 * Oracles: the sanitizers; every frame the stack sends is well-formed
 * with right checksums (fuzz.h); no packet buffer is left after
 * stack_destroy.
 */
#include <errno.h>

#include "../../stack/stack.h"
#include "fuzz.h"

#define IP_US TEST_IP4(10, 0, 0, 1)
#define IP_GW TEST_IP4(10, 0, 0, 254)
#define MS 1000000ull
#define T0 (1000 * TEST_NS_PER_S)
#define MAX_OPS 256
#define NCONN 8
#define NTUPLE 16

static const uint8_t mac_us[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t mac_peer[6] = { 2, 0, 0, 0, 0, 2 };

static const uint32_t peers[4] = {
	TEST_IP4(10, 0, 0, 2), TEST_IP4(10, 0, 0, 3), TEST_IP4(192, 168, 7, 7),
	TEST_IP4(10, 0, 0, 254),
};
static const uint16_t lports[4] = { 80, 81, 9, 0 }; /* 0: the connects' */
static const uint16_t rports[4] = { 40000, 40001, 5000, 443 };

/* The last segment the stack sent on a 4-tuple. */
struct tuple {
	uint32_t rip;
	uint16_t rport, lport;
	uint32_t seq, end, ack, tsval;
	int used;
};

struct h {
	struct test_port port;
	struct stack *st;
	uint64_t now;
	struct stack_tcp *l[3];       /* 80, 81 and 81 (reuseport) */
	struct stack_tcp *conn[NCONN];
	uint16_t conn_lport[2];       /* the two connects' ephemeral ports */
	struct tuple tu[NTUPLE];
	unsigned ntu;
};

static void remember(struct h *h, const struct fz_out *o)
{
	struct tuple *t = NULL;

	for (unsigned i = 0; i < NTUPLE; i++)
		if (h->tu[i].used && h->tu[i].rip == o->dst &&
		    h->tu[i].rport == o->dport && h->tu[i].lport == o->sport)
			t = &h->tu[i];
	if (!t) {
		t = &h->tu[h->ntu++ % NTUPLE];
		t->used = 1;
		t->rip = o->dst;
		t->rport = o->dport;
		t->lport = o->sport;
	}
	t->seq = o->seq;
	t->end = o->seq + o->len + !!(o->flags & WIRE_TCP_SYN) + !!(o->flags & WIRE_TCP_FIN);
	t->ack = o->ack;
	if (o->has_ts)
		t->tsval = o->tsval;
}

static void collect(struct h *h)
{
	struct test_pkt *p;
	struct fz_out o;

	stack_flush(h->st);
	while ((p = test_pktq_pop(&h->port.tx))) {
		if (fz_check_tx(p, IP_US, mac_us, &o))
			remember(h, &o);
		test_pkt_free(p);
	}
	FZ_CHECK(!h->port.misuse, "packet length beyond its buffer");
}

static void poll_all(struct h *h)
{
	h->port.now_ns = h->now;
	do
		stack_poll(h->st);
	while (h->port.rx.count);
	collect(h);
}

/* ---- operations ------------------------------------------------------ */

enum {
	OP_RAW,      /* raw bytes as a frame */
	OP_SEG,      /* a TCP segment from chosen fields */
	OP_FRAGS,    /* a TCP segment cut into IPv4 fragments */
	OP_ICMP,     /* echo request or an unreachable quoting our segment */
	OP_ARP,
	OP_ADVANCE,
	OP_NEXT,
	OP_APP,      /* calls on the listeners and what they accepted */
	OP_MAX
};

static void op_raw(struct h *h, struct fz_in *in)
{
	uint8_t how = fz_u8(in);
	uint16_t len = (uint16_t)(fz_u16(in) % 1600);
	struct test_pkt *p = test_pkt_new(&h->port);
	uint8_t *ip = p->data + 14;

	p->len = (uint16_t)fz_bytes(in, p->data, len);
	if ((how & 1) && len >= 6)
		memcpy(p->data, mac_us, 6);
	if ((how & 2) && len >= 14 + 20) {
		unsigned ihl = (ip[0] & 0xfu) * 4u;

		test_put16(p->data + 12, 0x0800);
		if (how & 8)
			test_put32(ip + 16, IP_US);
		if (ihl >= 20 && 14 + ihl <= len) {
			memset(ip + 10, 0, 2);
			test_put16(ip + 10, test_csum(ip, ihl));
		}
	}
	/* a "NIC" with receive checksum offload checked them: the stack
	 * trusts its GOOD flags (a NIC that lied would make every echo reply
	 * it answers wrong, not a bug of the stack's) */
	if (how & 4)
		test_nic_rx_check(p);
	test_pktq_push(&h->port.rx, p);
	poll_all(h);
}

static struct tuple *tuple_for(struct h *h, uint32_t rip, uint16_t rport,
			       uint16_t lport)
{
	for (unsigned i = 0; i < NTUPLE; i++)
		if (h->tu[i].used && h->tu[i].rip == rip && h->tu[i].rport == rport &&
		    h->tu[i].lport == lport)
			return &h->tu[i];
	return NULL;
}

/* The fields of a segment from a peer to us, as the input picks them. */
static void seg_build(struct h *h, struct fz_in *in, struct fz_seg *s,
		      uint8_t *data)
{
	uint8_t a = fz_u8(in), b = fz_u8(in);
	struct tuple *t;
	struct fz_optset os = { 0 };
	unsigned which;

	memset(s, 0, sizeof(*s));
	s->smac = mac_peer;
	s->dmac = mac_us;
	s->dst = IP_US;
	s->src = peers[a & 3];
	s->sport = (a & 0x80) ? fz_u16(in) : rports[(a >> 2) & 3];
	s->dport = lports[(a >> 4) & 3];
	if (!s->dport)
		s->dport = h->conn_lport[(a >> 6) & 1];
	if (b & 0x80)
		s->dport = fz_u16(in);
	t = tuple_for(h, s->src, s->sport, s->dport);
	s->flags = fz_u8(in);
	s->seq = (b & 1) || !t ? fz_u32(in) : t->ack + (uint32_t)fz_s8(in);
	s->ack = (b & 2) || !t ? fz_u32(in) : t->end + (uint32_t)fz_s8(in);
	s->win = fz_u16(in);
	which = fz_u8(in);
	os.mss = fz_u16(in);
	os.ws = fz_u8(in);
	os.tsval = fz_u32(in);
	os.tsecr = t ? t->tsval : 0;
	if (which & FZ_O_SACK) {
		os.nsack = 1;
		os.sack[0].left = (t ? t->seq : 0) + (uint32_t)fz_s8(in);
		os.sack[0].right = (t ? t->end : 0) + (uint32_t)fz_s8(in);
	}
	if (b & 4) {
		s->opts_len = (uint8_t)(fz_u8(in) % 41);
		fz_bytes(in, s->opts, s->opts_len);
	} else {
		fz_opts_put(s, which, &os);
	}
	s->len = (uint16_t)(((b >> 3) & 3) == 3 ? fz_u16(in) % 1400 : ((b >> 3) & 3) * 100);
	for (unsigned i = 0; i < s->len; i++)
		data[i] = (uint8_t)(s->seq + i);
	s->data = data;
	s->bad_csum = (b & 0x20) ? (uint8_t)((b >> 6) & 3) : 0;
	s->ip_id = (uint16_t)(a * 257 + b);
}

static void op_seg(struct h *h, struct fz_in *in)
{
	static uint8_t data[1500];
	struct test_frame f;
	struct fz_seg s;

	seg_build(h, in, &s, data);
	if (!fz_frame_tcp(&f, &s))
		return;
	test_port_rx_push(&h->port, &f);
	poll_all(h);
}

/* The segment's IPv4 datagram cut at offsets the input picks (multiples
 * of 8), sent in an order it picks. */
static void op_frags(struct h *h, struct fz_in *in)
{
	static uint8_t data[1500];
	struct test_frame whole, f;
	struct fz_seg s;
	unsigned cut[4], n = 1 + fz_u8(in) % 3, order = fz_u8(in), plen;
	uint8_t *ip;

	seg_build(h, in, &s, data);
	if (!fz_frame_tcp(&whole, &s))
		return;
	ip = whole.b + 14;
	plen = test_get16(ip + 2) - 20u;
	cut[0] = 0;
	for (unsigned i = 1; i <= n; i++) {
		unsigned c = cut[i - 1] + 8u * (1 + fz_u8(in) % 32);

		cut[i] = c < plen ? c : plen;
	}
	cut[n] = plen;
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (k + order) % n;
		struct test_ipv4 fip = { .src = s.src, .dst = IP_US, .proto = 6,
					 .id = s.ip_id,
					 .frag = (uint16_t)((i + 1 < n ? 0x2000 : 0) | cut[i] / 8) };

		if (cut[i] >= cut[i + 1] && i + 1 < n)
			continue;
		test_frame_reset(&f);
		test_frame_eth(&f, mac_us, mac_peer, 0x0800);
		test_frame_ipv4(&f, &fip, (uint16_t)(cut[i + 1] - cut[i]));
		test_frame_bytes(&f, ip + 20 + cut[i], cut[i + 1] - cut[i]);
		test_frame_pad(&f, 60);
		test_port_rx_push(&h->port, &f);
	}
	poll_all(h);
}

static void op_icmp(struct h *h, struct fz_in *in)
{
	uint8_t a = fz_u8(in), type = fz_u8(in), code = fz_u8(in);
	uint16_t mtu = fz_u16(in), qlen = (uint16_t)(fz_u8(in) % 48);
	struct tuple *t = h->ntu ? &h->tu[fz_u8(in) % (h->ntu < NTUPLE ? h->ntu : NTUPLE)] : NULL;
	struct test_ipv4 ip = { .src = peers[a & 3], .dst = IP_US, .proto = 1 };
	uint8_t q[48] = { 0 }, *m;
	struct test_frame f;

	if (t && !(a & 4)) { /* quote one of our segments */
		struct test_frame qf;
		struct test_ipv4 qip = { .src = IP_US, .dst = t->rip, .proto = 6 };

		test_frame_reset(&qf);
		test_frame_ipv4(&qf, &qip, 20);
		memcpy(q, qf.b, 20);
		test_put16(q + 20, t->lport);
		test_put16(q + 22, t->rport);
		test_put32(q + 24, t->seq + (uint32_t)fz_s8(in));
		if (qlen < 28)
			qlen = (a & 8) ? qlen : 28;
	} else {
		fz_bytes(in, q, qlen);
	}
	test_frame_reset(&f);
	test_frame_eth(&f, mac_us, mac_peer, 0x0800);
	test_frame_ipv4(&f, &ip, (uint16_t)(8 + qlen));
	m = test_frame_bytes(&f, NULL, 8u + qlen);
	m[0] = (a & 0x10) ? type : (a & 0x20) ? 8 : 3;
	m[1] = code % ((a & 0x40) ? 256 : 6);
	test_put16(m + 6, mtu);
	memcpy(m + 8, q, qlen);
	test_put16(m + 2, (a & 0x80) ? 0x1234 : test_csum(m, 8u + qlen));
	test_frame_pad(&f, 60);
	test_port_rx_push(&h->port, &f);
	poll_all(h);
}

static void op_arp(struct h *h, struct fz_in *in)
{
	uint8_t a = fz_u8(in), sha[6];
	uint32_t spa = (a & 8) ? fz_u32(in) : peers[a & 3];
	uint32_t tpa = (a & 16) ? fz_u32(in) : IP_US;
	struct test_frame f;

	memcpy(sha, mac_peer, 6);
	sha[5] = (uint8_t)(2 + (a & 3));
	if (a & 32)
		spa = IP_US; /* someone claims our address */
	test_frame_reset(&f);
	test_frame_eth(&f, (a & 64) ? mac_us : (const uint8_t[6]){ 255, 255, 255, 255, 255, 255 },
		       sha, 0x0806);
	test_frame_arp(&f, (uint16_t)(1 + ((a >> 2) & 1)), sha, spa, mac_us, tpa);
	test_frame_pad(&f, 60);
	test_port_rx_push(&h->port, &f);
	poll_all(h);
}

static void op_app(struct h *h, struct fz_in *in)
{
	static uint8_t buf[4096];
	uint8_t a = fz_u8(in), i = (uint8_t)(fz_u8(in) % NCONN);
	struct stack_tcp **c = &h->conn[i];
	uint16_t n = (uint16_t)(fz_u16(in) % sizeof(buf));

	switch (a % 10) {
	case 0: /* accept from a listener into a free slot */
		if (h->l[a / 10 % 3] && !*c)
			stack_tcp_accept(h->l[a / 10 % 3], NULL, c);
		break;
	case 1:
		if (*c) {
			memset(buf, a, n);
			stack_tcp_send(*c, buf, n);
		}
		break;
	case 2:
		if (*c)
			stack_tcp_recv(*c, buf, n, a & 0x80);
		break;
	case 3:
		if (*c)
			stack_tcp_shutdown(*c, a >> 6);
		break;
	case 4:
	case 5:
		if (*c) {
			if (a % 10 == 4)
				stack_tcp_close(*c);
			else
				stack_tcp_abort(*c);
			*c = NULL;
		}
		break;
	case 6: /* a new connect (from the slot) */
		if (!*c)
			stack_tcp_connect(h->st, peers[a >> 6], rports[(a >> 4) & 3],
					  (a & 8) ? 81 : 0, NULL, c);
		break;
	case 7: /* a listener goes, or comes back */
		if (h->l[a / 10 % 3]) {
			stack_tcp_close(h->l[a / 10 % 3]);
			h->l[a / 10 % 3] = NULL;
		} else {
			unsigned k = a / 10 % 3;

			stack_tcp_listen_flags(h->st, k ? 81 : 80, 1 + (a >> 6),
					       k ? STACK_TCP_REUSEPORT : 0, NULL, &h->l[k]);
		}
		break;
	case 8:
		if (*c)
			stack_tcp_setopt(*c, (enum stack_tcp_opt)(n % 8), (int)(n >> 3));
		break;
	default:
		if (*c) {
			(void)stack_tcp_error(*c);
			(void)stack_tcp_events(*c);
			(void)stack_tcp_readable(*c);
		}
		(void)stack_tcp_closing(h->st);
		break;
	}
	collect(h);
}

static void op_next(struct h *h, struct fz_in *in)
{
	unsigned k = fz_u8(in) % 8 + 1;

	for (unsigned i = 0; i < k; i++) {
		uint64_t t = stack_next_deadline(h->st);

		if (t == UINT64_MAX)
			return;
		h->now = t > h->now ? t : h->now + 1;
		poll_all(h);
	}
}

static int setup(struct h *h, struct fz_in *in)
{
	static const uint16_t mtus[4] = { 1500, 576, 1280, 1500 };
	uint8_t a = fz_u8(in);
	struct stack_conf conf = { .ip = IP_US, .prefix_len = 24, .gateway = IP_GW,
				   .mtu = mtus[a & 3], .seed = 3,
				   .tx_csum = (a & 4) ? 3u : 0u,
				   .rcvbuf = (a & 8) ? 4096 : 0 };
	uint8_t mac[6];

	memcpy(conf.mac, mac_us, 6);
	memset(conf.isn_key, 0x11, sizeof(conf.isn_key));
	test_port_init(&h->port, T0);
	h->now = T0;
	h->st = stack_create(&conf, test_port_ops(), &h->port);
	if (!h->st)
		return 0;
	collect(h);
	if (a & 16) { /* the on-link peer is known: its SYN goes at once */
		struct test_frame f;

		stack_resolve(h->st, peers[0], mac);
		test_frame_reset(&f);
		test_frame_eth(&f, mac_us, mac_peer, 0x0806);
		test_frame_arp(&f, 2, mac_peer, peers[0], mac_us, IP_US);
		test_frame_pad(&f, 60);
		test_port_rx_push(&h->port, &f);
		poll_all(h);
	}
	if (stack_tcp_listen(h->st, 80, 1 + (a >> 6), NULL, &h->l[0]) ||
	    stack_tcp_listen_flags(h->st, 81, 2, STACK_TCP_REUSEPORT, NULL, &h->l[1]) ||
	    stack_tcp_listen_flags(h->st, 81, 2, STACK_TCP_REUSEPORT, NULL, &h->l[2]))
		return 0;
	if (stack_tcp_connect(h->st, peers[0], 5000, 0, NULL, &h->conn[6]) ||
	    stack_tcp_connect(h->st, peers[2], 443, 0, NULL, &h->conn[7]))
		return 0;
	for (int i = 0; i < 2; i++) {
		uint32_t lip, rip;
		uint16_t rport;

		stack_tcp_endpoints(h->conn[6 + i], &lip, &h->conn_lport[i], &rip, &rport);
	}
	collect(h);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct h h;
	struct fz_in in = { data, size };

	memset(&h, 0, sizeof(h));
	if (setup(&h, &in)) {
		for (int i = 0; i < MAX_OPS && fz_more(&in); i++) {
			switch (fz_u8(&in) % OP_MAX) {
			case OP_RAW: op_raw(&h, &in); break;
			case OP_SEG: op_seg(&h, &in); break;
			case OP_FRAGS: op_frags(&h, &in); break;
			case OP_ICMP: op_icmp(&h, &in); break;
			case OP_ARP: op_arp(&h, &in); break;
			case OP_ADVANCE:
				h.now += fz_delay(&in);
				poll_all(&h);
				break;
			case OP_NEXT: op_next(&h, &in); break;
			case OP_APP: op_app(&h, &in); break;
			}
		}
	}
	for (int i = 0; i < NCONN; i++)
		if (h.conn[i])
			stack_tcp_close(h.conn[i]);
	for (int i = 0; i < 3; i++)
		if (h.l[i])
			stack_tcp_close(h.l[i]);
	if (h.st)
		collect(&h);
	stack_destroy(h.st);
	test_port_fini(&h.port);
	FZ_CHECK(h.port.live == 0, "packet buffers leaked");
	return 0;
}
