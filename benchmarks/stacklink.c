/*
 * stacklink.c - the TCP stack alone, on one core: two stack instances in
 * one thread joined by an in-memory link (no DPDK, no sockets, no
 * syscalls in the loop), driven through the public API of stack/stack.h.
 * What it measures is the stack's own cost per segment and per round
 * trip, the upper bound for anything built on it.
 *
 *   stacklink [--bytes N] [--conns N] [--size N] [--rounds N] [--json]
 *
 * Bulk: N bytes from A to B on one connection (MSS segments both ways:
 * data one way, ACKs back), reported as data segments per second and
 * Gbit/s. Ping-pong: --conns connections, each doing --rounds round trips
 * of --size bytes with TCP_NODELAY (a request is answered before the
 * next goes), reported as round trips per second.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../stack/stack.h"

#define POOL 16384                 /* frames per side */
#define FRAME 2048
#define RING 8192                  /* frames in flight per direction */
#define PORT 7

struct frame {
	uint16_t len;
	uint8_t data[FRAME];
};

/* One side: its free frames, and the ring it receives from. */
struct side {
	struct frame *free[POOL];
	unsigned nfree;
	struct frame *rx[RING];
	unsigned rx_head, rx_n;
	struct side *peer;
	struct stack *st;
	uint64_t now;
};

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *pkt_alloc(void *ctx)
{
	struct side *s = ctx;

	return s->nfree ? s->free[--s->nfree] : NULL;
}

/* The receiver frees what the sender allocated: a frame goes to the
 * freeing side's pool, or the other's when that one is full (together
 * they hold every frame, so neither overflows). */
static void pkt_free(void *ctx, void *pkt)
{
	struct side *s = ctx;

	if (s->nfree < POOL)
		s->free[s->nfree++] = pkt;
	else if (s->peer->nfree < POOL)
		s->peer->free[s->peer->nfree++] = pkt;
	else
		free(pkt);
}

static uint8_t *pkt_data(void *pkt) { return ((struct frame *)pkt)->data; }
static uint16_t pkt_len(void *pkt) { return ((struct frame *)pkt)->len; }
static void pkt_set_len(void *pkt, uint16_t len) { ((struct frame *)pkt)->len = len; }
static uint16_t pkt_room(void *pkt) { (void)pkt; return FRAME; }
/* The link corrupts nothing, as a NIC that checked the checksums would say. */
static uint32_t pkt_rx_flags(void *pkt)
{
	(void)pkt;
	return STACK_RX_IP_CSUM_GOOD | STACK_RX_L4_CSUM_GOOD;
}

static uint16_t rx_burst(void *ctx, void **pkts, uint16_t n)
{
	struct side *s = ctx;
	uint16_t k = 0;

	while (k < n && s->rx_n) {
		pkts[k++] = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % RING;
		s->rx_n--;
	}
	return k;
}

static uint16_t tx_burst(void *ctx, void **pkts, uint16_t n)
{
	struct side *p = ((struct side *)ctx)->peer;
	uint16_t k = 0;

	while (k < n && p->rx_n < RING) {
		p->rx[(p->rx_head + p->rx_n) % RING] = pkts[k++];
		p->rx_n++;
	}
	return k;
}

/* Read once per poll, as the DPDK build's TSC clock is cheap. */
static uint64_t now_ns(void *ctx)
{
	(void)ctx;
	return clock_ns();
}

static void tx_csum(void *pkt, uint16_t l2, uint16_t l3, unsigned flags)
{
	(void)pkt, (void)l2, (void)l3, (void)flags; /* a perfect "NIC" */
}

static const struct stack_ops ops = {
	.pkt_alloc = pkt_alloc, .pkt_free = pkt_free, .pkt_data = pkt_data,
	.pkt_len = pkt_len, .pkt_set_len = pkt_set_len, .pkt_room = pkt_room,
	.pkt_rx_flags = pkt_rx_flags, .pkt_tx_csum = tx_csum, .rx_burst = rx_burst,
	.tx_burst = tx_burst, .now_ns = now_ns,
};

static struct side sa, sb;

static void side_init(struct side *s, struct side *peer, uint32_t ip, uint8_t last)
{
	struct stack_conf c = { .ip = ip, .prefix_len = 24, .mtu = 1500,
				.mac = { 2, 0, 0, 0, 0, last }, .seed = last,
				.sndbuf = 256 * 1024, .rcvbuf = 256 * 1024,
				.tx_csum = STACK_TX_IP_CSUM | STACK_TX_TCP_CSUM };

	s->peer = peer;
	for (unsigned i = 0; i < POOL; i++) {
		s->free[i] = malloc(sizeof(struct frame));
		if (!s->free[i])
			abort();
	}
	s->nfree = POOL;
	s->st = stack_create(&c, &ops, s);
	if (!s->st) {
		fprintf(stderr, "stacklink: stack_create failed\n");
		exit(1);
	}
}

static void poll_both(void)
{
	stack_poll(sa.st);
	stack_poll(sb.st);
}

/* Connects n clients of A to a listener on B; fills a[] and b[]. */
static void open_pairs(unsigned n, struct stack_tcp **a, struct stack_tcp **b)
{
	struct stack_tcp *l;
	unsigned got = 0;

	if (stack_tcp_listen(sb.st, PORT, (int)n + 16, NULL, &l) < 0)
		exit(1);
	for (unsigned i = 0; i < n; i++) {
		if (stack_tcp_connect(sa.st, 0x0a000002, PORT, 0, NULL, &a[i]) < 0)
			exit(1);
		stack_tcp_setopt(a[i], STACK_TCP_NODELAY, 1);
	}
	for (uint64_t end = clock_ns() + 5000000000ull; got < n && clock_ns() < end;) {
		poll_both();
		while (got < n && stack_tcp_accept(l, NULL, &b[got]) == 0)
			stack_tcp_setopt(b[got++], STACK_TCP_NODELAY, 1);
	}
	if (got < n) {
		fprintf(stderr, "stacklink: %u of %u connections opened\n", got, n);
		exit(1);
	}
	for (unsigned i = 0; i < n; i++) /* until every client saw its SYN-ACK */
		while (!(stack_tcp_events(a[i]) & STACK_TCP_EV_OUT))
			poll_both();
	stack_tcp_close(l);
}

static double bulk(uint64_t bytes, double *gbps)
{
	static uint8_t buf[65536];
	struct stack_tcp *a, *b;
	uint64_t sent = 0, got = 0, segs0, t0, t;

	open_pairs(1, &a, &b);
	segs0 = stack_stats(sa.st)->tcp_segs_out;
	t0 = clock_ns();
	while (got < bytes) {
		long n;

		if (sent < bytes) {
			n = stack_tcp_send(a, buf, bytes - sent < sizeof(buf) ?
						    bytes - sent : sizeof(buf));
			if (n > 0)
				sent += (uint64_t)n;
		}
		poll_both();
		while ((n = stack_tcp_recv(b, buf, sizeof(buf), 0)) > 0)
			got += (uint64_t)n;
	}
	t = clock_ns() - t0;
	*gbps = (double)bytes * 8 / (double)t;
	stack_tcp_close(a);
	stack_tcp_close(b);
	return (double)(stack_stats(sa.st)->tcp_segs_out - segs0) * 1e9 / (double)t;
}

static double pingpong(unsigned conns, size_t size, uint64_t rounds)
{
	struct stack_tcp **a = calloc(conns, sizeof(*a)), **b = calloc(conns, sizeof(*b));
	uint64_t *left = calloc(conns, sizeof(*left)), done = 0, t0, t;
	char msg[4096] = { 0 }, in[4096];

	if (!a || !b || !left || size > sizeof(msg))
		exit(1);
	open_pairs(conns, a, b);
	t0 = clock_ns();
	for (unsigned i = 0; i < conns; i++) {
		left[i] = rounds;
		stack_tcp_send(a[i], msg, size);
	}
	while (done < conns) {
		poll_both();
		for (unsigned i = 0; i < conns; i++) {
			long n = stack_tcp_recv(b[i], in, sizeof(in), 0);

			if (n > 0) /* server: echo */
				stack_tcp_send(b[i], in, (size_t)n);
			if (!left[i] || stack_tcp_recv(a[i], in, sizeof(in), 0) <= 0)
				continue;
			if (--left[i])
				stack_tcp_send(a[i], msg, size);
			else
				done++;
		}
	}
	t = clock_ns() - t0;
	for (unsigned i = 0; i < conns; i++) {
		stack_tcp_close(a[i]);
		stack_tcp_close(b[i]);
	}
	free(a);
	free(b);
	free(left);
	return (double)rounds * conns * 1e9 / (double)t;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", 1, 0, 'b' }, { "conns", 1, 0, 'c' }, { "size", 1, 0, 's' },
		{ "rounds", 1, 0, 'r' }, { "json", 0, 0, 'j' }, { 0, 0, 0, 0 },
	};
	uint64_t bytes = 1000000000ull, rounds = 100000;
	unsigned conns = 32;
	size_t size = 16;
	int json = 0, o;
	double segs, gbps, rts;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b': bytes = strtoull(optarg, NULL, 0); break;
		case 'c': conns = (unsigned)strtoul(optarg, NULL, 0); break;
		case 's': size = strtoull(optarg, NULL, 0); break;
		case 'r': rounds = strtoull(optarg, NULL, 0); break;
		case 'j': json = 1; break;
		default:
			fprintf(stderr, "usage: stacklink [--bytes N] [--conns N] "
				"[--size N] [--rounds N] [--json]\n");
			return 2;
		}
	}
	if (!conns || !size || size > 4096) {
		fprintf(stderr, "stacklink: --conns 1.. and --size 1..4096\n");
		return 2;
	}
	side_init(&sa, &sb, 0x0a000001, 1);
	side_init(&sb, &sa, 0x0a000002, 2);
	segs = bulk(bytes, &gbps);
	rts = pingpong(conns, size, rounds);
	if (json)
		printf("{\"bulk_segments_per_s\": %.0f, \"bulk_gbit_per_s\": %.2f, "
		       "\"pingpong_round_trips_per_s\": %.0f, \"conns\": %u, \"size\": %zu}\n",
		       segs, gbps, rts, conns, size);
	else
		printf("stack alone, one core, in-memory link:\n"
		       "  bulk: %.0f data segments/s (%.2f Gbit/s)\n"
		       "  ping-pong: %.0f round trips/s (%zu bytes, %u connections)\n",
		       segs, gbps, rts, size, conns);
	return 0;
}
