/*
 * stack_echo.c - `stack-echo`: one userspace stack on one DPDK queue, with
 * no preload and no socket layer (the device layer's dev/netif.h gives the
 * stack its ops), for interop tests and benchmarks.
 *
 *   stack-echo --ip A/P --eal ARGS --listen PORT --mode echo|discard|source
 *              [--bytes N] [--count N]
 *   stack-echo --ip A/P --eal ARGS --connect IP:PORT --mode send|recv|pingpong
 *              [--bytes N] [--size N] [--count N] [--conns N]
 *   --impair-tx SPEC / --impair-rx SPEC: loss, duplication, reordering and
 *   delay on the port (dev/impair.h), e.g. "loss=1,reorder=25,delay=1000".
 *   --no-csum-offload: checksums in software even where the port offers them.
 *   --no-digest: skip the SHA-256 of the streams (benchmarks; the digests
 *   printed are then those of nothing).
 *
 * Servers: echo returns what it gets, discard reads and drops, source
 * sends --bytes of a seeded pseudo-random stream then closes. Each served
 * connection prints "conn N: rx BYTES sha256 HEX tx BYTES sha256 HEX" when
 * it ends; the server exits after --count connections (0: never).
 * Clients: send streams --bytes then closes; recv reads until EOF;
 * pingpong does --count round trips of --size bytes on each of --conns
 * connections and prints round trips per second.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "../dev/dev.h"
#include "../dev/netif.h"
#include "sha256.h"

#define CHUNK 65536
#define MAX_CONNS 20000

enum mode { M_ECHO, M_DISCARD, M_SOURCE, M_SEND, M_RECV, M_PINGPONG };

struct conn {
	struct stack_tcp *c;
	int id, ready, done, out_closed;
	uint64_t rx, tx, target, rounds;
	uint64_t rng;
	struct sha256 rx_sha, tx_sha;
	uint8_t *pend;          /* echo: bytes received, not yet sent back */
	uint32_t pend_off, pend_len;
};

static struct {
	enum mode mode;
	int server;
	uint16_t port;
	uint32_t peer_ip;
	uint64_t bytes, count, size, conns, seconds;
	struct stack *st;
	struct conn *ready[MAX_CONNS];
	struct conn *serving[MAX_CONNS];
	unsigned n_ready;
	uint64_t finished;
	/* ping-pong is timed from when every connection is up (ARP and the
	 * handshakes, and the peer's port coming up, are not counted) */
	uint64_t started, t0, rts, rts0;
	int no_digest;          /* benchmarks: skip the SHA-256 of the streams */
	uint8_t buf[CHUNK];
} app = { .bytes = 1 << 20, .size = 16, .count = 0, .conns = 1, .seconds = 600 };

static void on_event(void *ctx, struct stack_tcp *c, void *user, unsigned ev)
{
	struct conn *k = user;

	(void)ctx;
	(void)c;
	(void)ev;
	if (k && !k->ready && app.n_ready < MAX_CONNS) {
		k->ready = 1;
		app.ready[app.n_ready++] = k;
	}
}

static void digest(struct sha256 *h, const void *p, size_t n)
{
	if (!app.no_digest)
		sha256_update(h, p, n);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The next n bytes of the connection's pseudo-random stream. */
static void fill(struct conn *k, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = xorshift(&k->rng);

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static struct conn *conn_new(int id)
{
	struct conn *k = calloc(1, sizeof(*k));

	if (!k)
		exit(1);
	k->id = id;
	k->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)id;
	k->target = app.bytes;
	sha256_init(&k->rx_sha);
	sha256_init(&k->tx_sha);
	return k;
}

static void conn_end(struct conn *k)
{
	char rx[65], tx[65];

	if (k->done)
		return;
	k->done = 1;
	app.finished++;
	sha256_hex(&k->rx_sha, rx);
	sha256_hex(&k->tx_sha, tx);
	if (app.mode != M_PINGPONG)
		printf("conn %d: rx %llu sha256 %s tx %llu sha256 %s\n", k->id,
		       (unsigned long long)k->rx, rx, (unsigned long long)k->tx, tx);
	stack_tcp_close(k->c);
	free(k->pend);
}

static void send_some(struct conn *k, const uint8_t *p, uint32_t n)
{
	long r = stack_tcp_send(k->c, p, n);

	if (r > 0) {
		if (app.mode != M_PINGPONG) /* a benchmark: no hashing */
			digest(&k->tx_sha, p, (size_t)r);
		k->tx += (uint64_t)r;
	}
}

/* source and send: keep the send buffer full until target bytes went. */
static void pump_source(struct conn *k)
{
	while (k->tx < k->target) {
		uint32_t n = k->target - k->tx < CHUNK ? (uint32_t)(k->target - k->tx) : CHUNK;
		long r;

		/* Bytes that do not fit are simply not part of the stream: the
		 * checksum covers exactly what was sent. */
		fill(k, app.buf, n);
		r = stack_tcp_send(k->c, app.buf, n);
		if (r <= 0)
			break;
		digest(&k->tx_sha, app.buf, (size_t)r);
		k->tx += (uint64_t)r;
		if ((uint32_t)r < n)
			break;
	}
	if (k->tx >= k->target && !k->out_closed) {
		stack_tcp_shutdown(k->c, 1);
		k->out_closed = 1;
	}
}

static void drain(struct conn *k)
{
	long r;

	while ((r = stack_tcp_recv(k->c, app.buf, CHUNK, 0)) > 0) {
		if (app.mode != M_PINGPONG)
			digest(&k->rx_sha, app.buf, (size_t)r);
		k->rx += (uint64_t)r;
		if (app.mode == M_ECHO) {
			k->pend = k->pend ? k->pend : malloc(4 * CHUNK);
			if (k->pend_len + (uint32_t)r > 4 * CHUNK)
				break; /* not echoed yet: stop reading (backpressure) */
			memcpy(k->pend + k->pend_len, app.buf, (size_t)r);
			k->pend_len += (uint32_t)r;
		}
		if (app.mode == M_PINGPONG && k->rx >= k->rounds * app.size) {
			if (k->rounds >= app.count) {
				conn_end(k);
				return;
			}
			send_some(k, app.buf, (uint32_t)app.size);
			k->rounds++;
			app.rts++;
		}
	}
	if (r == 0 || (r < 0 && r != -EAGAIN)) {
		if (r < 0)
			fprintf(stderr, "conn %d: %s\n", k->id, strerror((int)-r));
		if (app.mode == M_ECHO && k->pend_len)
			return; /* finish echoing first */
		conn_end(k);
	}
}

static void echo_back(struct conn *k)
{
	long r;

	while (k->pend_len) {
		r = stack_tcp_send(k->c, k->pend + k->pend_off, k->pend_len);
		if (r <= 0)
			return;
		digest(&k->tx_sha, k->pend + k->pend_off, (size_t)r);
		k->tx += (uint64_t)r;
		k->pend_off += (uint32_t)r;
		k->pend_len -= (uint32_t)r;
	}
	k->pend_off = 0;
}

static void serve(struct conn *k)
{
	int err = stack_tcp_error(k->c);

	if (err && err != -EAGAIN && !(stack_tcp_events(k->c) & STACK_TCP_EV_IN)) {
		fprintf(stderr, "conn %d: %s\n", k->id, strerror(-err));
		conn_end(k);
		return;
	}
	if (app.mode == M_SOURCE || app.mode == M_SEND)
		pump_source(k);
	if (app.mode == M_PINGPONG && k->rounds == 0 &&
	    (stack_tcp_events(k->c) & STACK_TCP_EV_OUT)) {
		memset(app.buf, 'p', app.size);
		send_some(k, app.buf, (uint32_t)app.size);
		k->rounds = 1;
		if (++app.started == app.conns) {
			app.t0 = dev_now_ns();
			app.rts0 = app.rts;
		}
	}
	if (app.mode == M_ECHO)
		echo_back(k);
	if (!k->done)
		drain(k);
	if (app.mode == M_ECHO && !k->done)
		echo_back(k);
}

static void accept_all(struct stack_tcp *l, int *next_id)
{
	struct stack_tcp *c;
	struct conn *k = conn_new(*next_id);

	while (stack_tcp_accept(l, k, &c) == 0) {
		k->c = c;
		(*next_id)++;
		on_event(NULL, c, k, 0);
		k = conn_new(*next_id);
	}
	free(k);
}

static uint64_t now_ns(void)
{
	return dev_now_ns();
}

static int run(struct stack_tcp *listener)
{
	uint64_t start = now_ns(), end = start + app.seconds * 1000000000ull;
	int next_id = 1;

	/* The time limit is checked every 1024 rounds: reading the clock on
	 * every empty poll showed at the top of a perf profile. */
	for (unsigned round = 0; (round & 1023) || now_ns() < end; round++) {
		unsigned n;

		stack_poll(app.st);
		if (listener && (stack_tcp_events(listener) & STACK_TCP_EV_IN))
			accept_all(listener, &next_id);
		/* Serving raises new events that append to the ready list:
		 * work from a copy, or they would overwrite entries not yet
		 * served (and leave those connections waiting). */
		n = app.n_ready;
		memcpy(app.serving, app.ready, n * sizeof(app.ready[0]));
		app.n_ready = 0;
		for (unsigned i = 0; i < n; i++)
			app.serving[i]->ready = 0;
		for (unsigned i = 0; i < n; i++)
			if (!app.serving[i]->done)
				serve(app.serving[i]);
		/* Connections whose work is not event-driven keep being served. */
		stack_flush(app.st);
		if (app.count && app.server && app.finished >= app.count)
			break;
		if (!app.server && app.finished >= app.conns)
			break;
	}
	return now_ns() < end ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: stack-echo --ip A/P [--gw G] --eal ARGS "
		"(--listen PORT --mode echo|discard|source | --connect IP:PORT "
		"--mode send|recv|pingpong) [--bytes N] [--size N] [--count N] "
		"[--conns N] [--seconds N] [--impair-tx SPEC] [--impair-rx SPEC] "
		"[--no-csum-offload] [--no-digest]\n");
	exit(2);
}

static int parse_mode(const char *s)
{
	static const char *const names[] = { "echo", "discard", "source", "send",
					      "recv", "pingpong" };

	for (int i = 0; i < 6; i++)
		if (!strcmp(s, names[i]))
			return i;
	usage();
	return -1;
}

static void parse_args(int argc, char **argv, struct dev_net_conf *dc,
		       struct stack_conf *sc)
{
	static const struct option opts[] = {
		{ "ip", 1, 0, 'i' }, { "gw", 1, 0, 'g' }, { "eal", 1, 0, 'e' },
		{ "listen", 1, 0, 'l' }, { "connect", 1, 0, 'c' },
		{ "mode", 1, 0, 'm' }, { "bytes", 1, 0, 'b' }, { "size", 1, 0, 's' },
		{ "count", 1, 0, 'n' }, { "conns", 1, 0, 'k' },
		{ "seconds", 1, 0, 't' }, { "impair-tx", 1, 0, 'x' },
		{ "impair-rx", 1, 0, 'r' }, { "no-csum-offload", 0, 0, 'o' },
		{ "no-digest", 0, 0, 'd' },
		{ 0, 0, 0, 0 },
	};
	struct in_addr a;
	char *slash, *colon;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'i':
			slash = strchr(optarg, '/');
			if (slash)
				*slash = '\0';
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			sc->ip = ntohl(a.s_addr);
			sc->prefix_len = (uint8_t)(slash ? atoi(slash + 1) : 24);
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			sc->gateway = ntohl(a.s_addr);
			break;
		case 'e': dc->eal_args = optarg; break;
		case 'l': app.server = 1; app.port = (uint16_t)atoi(optarg); break;
		case 'c':
			colon = strchr(optarg, ':');
			if (!colon)
				usage();
			*colon = '\0';
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			app.peer_ip = ntohl(a.s_addr);
			app.port = (uint16_t)atoi(colon + 1);
			break;
		case 'm': app.mode = (enum mode)parse_mode(optarg); break;
		case 'b': app.bytes = strtoull(optarg, NULL, 0); break;
		case 's': app.size = strtoull(optarg, NULL, 0); break;
		case 'n': app.count = strtoull(optarg, NULL, 0); break;
		case 'k': app.conns = strtoull(optarg, NULL, 0); break;
		case 't': app.seconds = strtoull(optarg, NULL, 0); break;
		case 'x': dc->impair_tx = optarg; break;
		case 'r': dc->impair_rx = optarg; break;
		case 'o': dc->no_csum_offload = 1; break;
		case 'd': app.no_digest = 1; break;
		default: usage();
		}
	}
	if (!sc->ip || !app.port || app.conns == 0 || app.conns > MAX_CONNS)
		usage();
}

/* One line of TCP counters on stderr, for the interop logs. */
static void print_stats(const struct stack_stats *s)
{
	fprintf(stderr, "stats: segs in %llu out %llu retransmits %llu rtos %llu "
		"fast recoveries %llu tail probes %llu undos %llu\n",
		(unsigned long long)s->tcp_segs_in, (unsigned long long)s->tcp_segs_out,
		(unsigned long long)s->tcp_retransmits, (unsigned long long)s->tcp_rtos,
		(unsigned long long)s->tcp_fast_recoveries,
		(unsigned long long)s->tcp_tail_probes, (unsigned long long)s->tcp_undos);
}

int main(int argc, char **argv)
{
	struct dev_net_conf dc = { .queues = 1, .mbufs = 16384, .link_wait_ms = 2000,
				   .log_level = 2 };
	struct stack_conf sc = { .mtu = 1500 };
	struct stack_ops ops;
	struct stack_tcp *l = NULL;
	struct dev_netq *q;
	char why[192];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv, &dc, &sc);
	if (dev_net_open(&dc, why, sizeof(why)) < 0 || !(q = dev_netq_claim())) {
		fprintf(stderr, "stack-echo: no port: %s\n", why);
		return 1;
	}
	fprintf(stderr, "stack-echo: port %s, checksum offload rx %s tx %s\n",
		dev_net_info()->driver, dev_csum_names(dev_net_info()->rx_csum),
		dev_csum_names(dev_net_info()->tx_csum));
	/* A busy-polling tool never sleeps: keep the receive interrupt masked,
	 * or a memif peer signals an eventfd after every burst it sends. */
	dev_netq_wake_ack(q);
	memcpy(sc.mac, dev_net_info()->mac, 6);
	sc.mtu = dev_net_info()->mtu;
	sc.seed = dev_now_ns();
	for (int i = 0; i < 16; i++)
		sc.isn_key[i] = (uint8_t)(xorshift(&sc.seed) >> 32);
	sc.rcvbuf = sc.sndbuf = 256 * 1024;
	sc.tx_csum = dev_netif_tx_csum();
	dev_netif_ops(&ops, NULL);
	ops.tcp_event = on_event;
	app.st = stack_create(&sc, &ops, q);
	if (!app.st)
		return 1;
	if (app.server) {
		if ((rc = stack_tcp_listen(app.st, app.port, 1024, NULL, &l)) < 0)
			return 1;
		printf("listening on port %u\n", app.port);
	} else {
		for (uint64_t i = 0; i < app.conns; i++) {
			struct conn *k = conn_new((int)i + 1);

			rc = stack_tcp_connect(app.st, app.peer_ip, app.port, 0, k, &k->c);
			if (rc < 0) {
				fprintf(stderr, "connect: %s\n", strerror(-rc));
				return 1;
			}
		}
	}
	uint64_t t0 = dev_now_ns();

	rc = run(l);
	uint64_t t_end = dev_now_ns();

	/* Keep the stack running a moment: the last ACKs and FINs (and any
	 * frames in the impairment's delay line) must still reach the peer,
	 * and a FIN lost on a lossy link is resent until it is acknowledged
	 * (stack_tcp_closing), or the peer waits for it forever. */
	for (uint64_t now = dev_now_ns(), min = now + 1000000000ull, max = now + 30000000000ull;
	     now < min || (now < max && stack_tcp_closing(app.st)); now = dev_now_ns())
		stack_poll(app.st);
	if (app.mode == M_PINGPONG && !rc) {
		uint64_t done = app.count * app.conns, timed = app.rts + app.conns - app.rts0;
		double secs = (double)(t_end - app.t0) / 1e9;

		printf("pingpong: %llu round trips of %llu bytes on %llu connections, "
		       "%llu timed in %.3f s (%.3f s with set-up): %.0f per second\n",
		       (unsigned long long)done, (unsigned long long)app.size,
		       (unsigned long long)app.conns, (unsigned long long)timed, secs,
		       (double)(t_end - t0) / 1e9, (double)timed / secs);
	}
	if (rc)
		fprintf(stderr, "stack-echo: time limit reached\n");
	print_stats(stack_stats(app.st));
	stack_flush(app.st);
	dev_net_close();
	return rc;
}
