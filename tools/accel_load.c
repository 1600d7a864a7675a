/*
 * accel_load.c - `accel-load`: a closed-loop load generator for echo,
 * memcached (ASCII) and redis (RESP) servers, one thread on epoll, that
 * runs unmodified under the shim like any other client.
 *
 *   accel-load --server IP:PORT [--proto echo|memcached|redis] [--conns N]
 *              [--depth D] [--keys K] [--dist uniform|zipf[:S]]
 *              [--key-size B] [--value-size B] [--get-ratio R]
 *              [--seconds S | --requests N] [--rate R] [--preload]
 *              [--json] [--label TEXT]
 *
 * Each connection keeps D requests outstanding (pipelining when D > 1);
 * with --rate the connections together issue R requests a second on a
 * fixed schedule instead (latency at a fixed load). --preload SETs every
 * key once first, so GETs hit. Latency is the time from a request's send
 * to its full response, in a log-linear histogram (1/16 precision).
 * Prints throughput and p50/p90/p95/p99/p99.9 (text, or one JSON object). Exits 1
 * on any protocol error or a server error reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum proto { P_ECHO, P_MEMCACHED, P_REDIS };

#define MAX_DEPTH 64
#define BUF 65536

struct conn {
	int fd;
	char in[BUF];
	size_t in_len;
	char out[BUF];
	size_t out_len, out_off;
	uint64_t sent_at[MAX_DEPTH];  /* ring of outstanding requests */
	uint8_t is_get[MAX_DEPTH];
	unsigned head, outstanding;
	uint64_t next_at;             /* --rate: when the next may go */
};

static struct {
	enum proto proto;
	struct sockaddr_in addr;
	unsigned conns, depth, keys, key_size, value_size;
	double get_ratio, zipf_s, seconds, rate;
	uint64_t requests;
	int zipf, preload, json;
	const char *label;
} o = { .proto = P_ECHO, .conns = 32, .depth = 1, .keys = 1000, .key_size = 8,
	.value_size = 8, .get_ratio = 1.0, .seconds = 10, .label = "" };

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ---- keys --------------------------------------------------------------- */

static double *zipf_cdf;

/* P(rank i) proportional to 1/i^s, as a cumulative table to search. */
static void zipf_init(void)
{
	double sum = 0, run = 0;

	zipf_cdf = malloc(o.keys * sizeof(double));
	if (!zipf_cdf)
		exit(1);
	for (unsigned i = 0; i < o.keys; i++)
		sum += 1.0 / pow((double)(i + 1), o.zipf_s);
	for (unsigned i = 0; i < o.keys; i++) {
		run += 1.0 / pow((double)(i + 1), o.zipf_s) / sum;
		zipf_cdf[i] = run;
	}
}

static unsigned pick_key(void)
{
	double u;
	unsigned lo = 0, hi;

	if (!o.zipf)
		return (unsigned)(rnd() % o.keys);
	u = (double)(rnd() >> 11) / 9007199254740992.0;
	hi = o.keys - 1;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int key_of(unsigned k, char *out)
{
	return snprintf(out, 64, "k%0*u", (int)o.key_size - 1, k);
}

/* ---- histogram ---------------------------------------------------------- */

#define SUB 16
#define NB (64 * SUB)

static uint64_t hist[NB], hcount, errors;

static unsigned bucket(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* v >= 16: e >= 4 */
	return (e - 3) * SUB + (unsigned)((v >> (e - 4)) & (SUB - 1));
}

static uint64_t bucket_value(unsigned b)
{
	unsigned e = b / SUB + 3, m = b % SUB;

	if (b < SUB)
		return b;
	return ((uint64_t)(SUB + m) << (e - 4)) + ((1ull << (e - 4)) >> 1);
}

static double percentile(double p)
{
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)hcount), seen = 0;

	for (unsigned b = 0; b < NB; b++) {
		seen += hist[b];
		if (seen >= want && hist[b])
			return (double)bucket_value(b) / 1000.0;
	}
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static char value[1 << 20];

/* The head of a request for key k (all of a GET; a SET up to its value). */
static int request_head(char *out, size_t room, int get, unsigned k)
{
	char key[64];
	int kl = key_of(k, key);

	if (get)
		return o.proto == P_MEMCACHED ?
		       snprintf(out, room, "get %s\r\n", key) :
		       snprintf(out, room, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
	return o.proto == P_MEMCACHED ?
	       snprintf(out, room, "set %s 0 0 %u\r\n", key, o.value_size) :
	       snprintf(out, room, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%u\r\n", kl, key,
			o.value_size);
}

/* The heads formatted once per key, when the keys are few enough: at a
 * million requests a second the client must not spend its time in
 * snprintf (a profile of the bypass runs showed 6 % there). */
#define HEAD_SLOT 128
#define HEAD_CACHE_KEYS 65536
static char *heads;             /* 2 slots per key: GET, SET */
static uint8_t *head_len;

static void heads_init(void)
{
	if (o.proto == P_ECHO || o.keys > HEAD_CACHE_KEYS)
		return;
	heads = malloc((size_t)o.keys * 2 * HEAD_SLOT);
	head_len = malloc((size_t)o.keys * 2);
	if (!heads || !head_len) {
		free(heads);
		heads = NULL;
		return;
	}
	for (unsigned k = 0; k < o.keys; k++)
		for (int set = 0; set < 2; set++)
			head_len[2 * k + set] = (uint8_t)request_head(
				heads + (2 * (size_t)k + set) * HEAD_SLOT, HEAD_SLOT, !set, k);
}

/* One request for key k into out; its length, or -1 when out is short. */
static int request(char *out, size_t room, int get, unsigned k)
{
	int n;

	if (room < o.value_size + 128)
		return -1;
	if (o.proto == P_ECHO) {
		memset(out, 'e', o.value_size);
		return (int)o.value_size;
	}
	if (heads) {
		n = head_len[2 * k + !get];
		memcpy(out, heads + (2 * (size_t)k + !get) * HEAD_SLOT, (size_t)n);
	} else {
		n = request_head(out, room, get, k);
	}
	if (get)
		return n;
	memcpy(out + n, value, o.value_size);
	memcpy(out + n + o.value_size, "\r\n", 2);
	return n + (int)o.value_size + 2;
}

/* Length of one complete response at the start of p (0: not yet). */
static size_t response_len(const char *p, size_t len, int *err)
{
	const char *eol;

	*err = 0;
	if (o.proto == P_ECHO)
		return len >= o.value_size ? o.value_size : 0;
	eol = memmem(p, len, "\r\n", 2);
	if (!eol)
		return 0;
	if (o.proto == P_MEMCACHED) {
		if (!strncmp(p, "VALUE ", 6)) {
			unsigned long bytes;
			const char *sp = eol;

			while (sp > p && sp[-1] != ' ')
				sp--;
			bytes = strtoul(sp, NULL, 10);
			size_t need = (size_t)(eol - p) + 2 + bytes + 2 + 5;

			if (len < need)
				return 0;
			if (memcmp(p + need - 5, "END\r\n", 5))
				*err = 1;
			return need;
		}
		if (!strncmp(p, "END\r\n", 5) || !strncmp(p, "STORED\r\n", 8))
			return (size_t)(eol - p) + 2;
		*err = 1; /* ERROR, SERVER_ERROR, CLIENT_ERROR, NOT_STORED */
		return (size_t)(eol - p) + 2;
	}
	/* RESP */
	if (p[0] == '$') {
		long bytes = strtol(p + 1, NULL, 10);
		size_t need = (size_t)(eol - p) + 2 + (bytes >= 0 ? (size_t)bytes + 2 : 0);

		return len >= need ? need : 0;
	}
	if (p[0] == '-')
		*err = 1;
	else if (p[0] != '+' && p[0] != ':')
		*err = 1;
	return (size_t)(eol - p) + 2;
}

/* ---- the loop ----------------------------------------------------------- */

static struct conn *cs;
static int ep;
static uint64_t issued, completed, sets, gets;
static int measuring = 1;

/* Queues a request on c, sent (for latency) at t. */
static void queue(struct conn *c, uint64_t t, int get, unsigned key)
{
	int n = request(c->out + c->out_len, sizeof(c->out) - c->out_len, get, key);

	if (n < 0)
		return;
	c->out_len += (size_t)n;
	c->sent_at[(c->head + c->outstanding) % MAX_DEPTH] = t;
	c->is_get[(c->head + c->outstanding) % MAX_DEPTH] = (uint8_t)get;
	c->outstanding++;
	issued++;
}

static void queue_one(struct conn *c, uint64_t t)
{
	int get = o.proto == P_ECHO || (double)(rnd() >> 11) / 9007199254740992.0 < o.get_ratio;

	queue(c, t, get, pick_key());
}

static int want_more(void)
{
	return !o.requests || issued < o.requests;
}

/* A send or recv that failed: EAGAIN is the end of a turn, anything else
 * ends the run. */
static void io_failed(const char *call)
{
	if (errno == EAGAIN)
		return;
	fprintf(stderr, "accel-load: %s: %s\n", call, strerror(errno));
	exit(1);
}

static void flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (r < 0) {
			io_failed("send");
			break;
		}
		c->out_off += (size_t)r;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

static void fill(struct conn *c, uint64_t t)
{
	while (c->outstanding < o.depth && want_more() &&
	       (!o.rate || c->next_at <= t)) {
		queue_one(c, o.rate ? c->next_at : t);
		if (o.rate)
			c->next_at += (uint64_t)(1e9 * o.conns / o.rate);
	}
	flush_out(c);
}

static void on_input(struct conn *c, uint64_t t)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		size_t off = 0;

		if (r == 0) {
			fprintf(stderr, "accel-load: the server closed a connection\n");
			exit(1);
		}
		if (r < 0) {
			io_failed("recv");
			break;
		}
		c->in_len += (size_t)r;
		for (;;) {
			int err;
			size_t n = response_len(c->in + off, c->in_len - off, &err);

			if (!n)
				break;
			if (!c->outstanding) {
				fprintf(stderr, "accel-load: a response nobody asked for\n");
				exit(1);
			}
			off += n;
			errors += (uint64_t)err;
			if (measuring) {
				hist[bucket(t - c->sent_at[c->head])]++;
				hcount++;
			}
			if (c->is_get[c->head])
				gets++;
			else
				sets++;
			c->head = (c->head + 1) % MAX_DEPTH;
			c->outstanding--;
			completed++;
		}
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	fill(c, t);
}

static void connect_all(void)
{
	cs = calloc(o.conns, sizeof(*cs));
	ep = epoll_create1(0);
	if (!cs || ep < 0)
		exit(1);
	for (unsigned i = 0; i < o.conns; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
		int one = 1;

		cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&o.addr,
					    sizeof(o.addr)) < 0) {
			fprintf(stderr, "accel-load: connect: %s\n", strerror(errno));
			exit(1);
		}
		setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			exit(1);
	}
}

/* Drives every connection until stop() says so. */
static void run(uint64_t end)
{
	struct epoll_event evs[256];

	for (;;) {
		uint64_t t = now_ns();
		int n, timeout = o.rate ? 0 : 100;

		if ((end && t >= end) || (o.requests && completed >= o.requests))
			break;
		if (!want_more() && completed >= issued)
			break;
		n = epoll_wait(ep, evs, 256, timeout);
		t = now_ns();
		for (int i = 0; i < n; i++)
			on_input(&cs[evs[i].data.u32], t);
		if (o.rate || !n)
			for (unsigned i = 0; i < o.conns; i++)
				fill(&cs[i], t);
	}
}

static void preload(void)
{
	uint64_t saved = o.requests;

	measuring = 0;
	/* Responses must not draw new requests meanwhile (fill): that kept a
	 * connection from ever draining when there were more keys than a
	 * pipeline holds (a hang with --keys 5000). */
	o.requests = 1;
	for (unsigned k = 0; k < o.keys; k++) {
		struct conn *c = &cs[k % o.conns];

		queue(c, now_ns(), 0, k);
		if (c->outstanding == MAX_DEPTH || c->out_len > sizeof(c->out) - 4096) {
			flush_out(c);
			while (c->outstanding) {
				struct epoll_event e;

				if (epoll_wait(ep, &e, 1, 5000) < 1)
					exit(1);
				on_input(&cs[e.data.u32], now_ns());
			}
		}
	}
	o.requests = issued; /* drain what is left, issuing nothing new */
	for (unsigned i = 0; i < o.conns; i++)
		flush_out(&cs[i]);
	run(now_ns() + 10000000000ull);
	o.requests = saved;
	issued = completed = sets = gets = 0;
	measuring = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: accel-load --server IP:PORT [--proto echo|memcached|redis] "
		"[--conns N] [--depth D] [--keys K] [--dist uniform|zipf[:S]] "
		"[--key-size B] [--value-size B] [--get-ratio R] [--seconds S | "
		"--requests N] [--rate R] [--preload] [--json] [--label TEXT]\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", 1, 0, 's' }, { "proto", 1, 0, 'p' }, { "conns", 1, 0, 'c' },
		{ "depth", 1, 0, 'd' }, { "keys", 1, 0, 'k' }, { "dist", 1, 0, 'D' },
		{ "key-size", 1, 0, 'K' }, { "value-size", 1, 0, 'V' },
		{ "get-ratio", 1, 0, 'g' }, { "seconds", 1, 0, 't' },
		{ "requests", 1, 0, 'n' }, { "rate", 1, 0, 'r' }, { "preload", 0, 0, 'P' },
		{ "json", 0, 0, 'j' }, { "label", 1, 0, 'l' }, { 0, 0, 0, 0 },
	};
	int c, have_server = 0;
	char *colon;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			colon = strrchr(optarg, ':');
			if (!colon)
				usage();
			*colon = '\0';
			o.addr.sin_family = AF_INET;
			o.addr.sin_port = htons((uint16_t)atoi(colon + 1));
			if (inet_pton(AF_INET, optarg, &o.addr.sin_addr) != 1)
				usage();
			have_server = 1;
			break;
		case 'p':
			o.proto = !strcmp(optarg, "echo") ? P_ECHO :
				  !strcmp(optarg, "memcached") ? P_MEMCACHED :
				  !strcmp(optarg, "redis") ? P_REDIS : (usage(), P_ECHO);
			break;
		case 'c': o.conns = (unsigned)atoi(optarg); break;
		case 'd': o.depth = (unsigned)atoi(optarg); break;
		case 'k': o.keys = (unsigned)atoi(optarg); break;
		case 'D':
			if (!strncmp(optarg, "zipf", 4)) {
				o.zipf = 1;
				o.zipf_s = optarg[4] == ':' ? atof(optarg + 5) : 0.99;
			} else if (strcmp(optarg, "uniform")) {
				usage();
			}
			break;
		case 'K': o.key_size = (unsigned)atoi(optarg); break;
		case 'V': o.value_size = (unsigned)atoi(optarg); break;
		case 'g': o.get_ratio = atof(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'n': o.requests = strtoull(optarg, NULL, 10); o.seconds = 0; break;
		case 'r': o.rate = atof(optarg); break;
		case 'P': o.preload = 1; break;
		case 'j': o.json = 1; break;
		case 'l': o.label = optarg; break;
		default: usage();
		}
	}
	if (!have_server || !o.conns || o.conns > 100000 || !o.depth || o.depth > MAX_DEPTH ||
	    !o.keys || o.key_size < 2 || o.key_size > 60 || !o.value_size ||
	    o.value_size > (1u << 20) - 256 || o.get_ratio < 0 || o.get_ratio > 1)
		usage();
}

int main(int argc, char **argv)
{
	uint64_t t0, t1;
	double secs, rps;

	parse(argc, argv);
	memset(value, 'v', sizeof(value));
	heads_init();
	if (o.zipf)
		zipf_init();
	connect_all();
	if (o.preload && o.proto != P_ECHO)
		preload();
	t0 = now_ns();
	for (unsigned i = 0; i < o.conns; i++)
		cs[i].next_at = t0 + (uint64_t)(1e9 * i / (o.rate ? o.rate : 1e9));
	for (unsigned i = 0; i < o.conns; i++)
		fill(&cs[i], t0);
	run(o.seconds > 0 ? t0 + (uint64_t)(o.seconds * 1e9) : 0);
	t1 = now_ns();
	secs = (double)(t1 - t0) / 1e9;
	rps = (double)completed / secs;
	if (o.json)
		printf("{\"label\": \"%s\", \"proto\": \"%s\", \"conns\": %u, \"depth\": %u, "
		       "\"seconds\": %.3f, \"requests\": %llu, \"gets\": %llu, \"sets\": %llu, "
		       "\"errors\": %llu, \"rps\": %.0f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
		       "\"p999_us\": %.2f, \"p90_us\": %.2f, \"p95_us\": %.2f}\n", o.label,
		       o.proto == P_ECHO ? "echo" : o.proto == P_MEMCACHED ? "memcached" : "redis",
		       o.conns, o.depth, secs, (unsigned long long)completed,
		       (unsigned long long)gets, (unsigned long long)sets,
		       (unsigned long long)errors, rps, percentile(50), percentile(99),
		       percentile(99.9), percentile(90), percentile(95));
	else
		printf("%s%s%llu requests in %.2f s: %.0f per second, %llu errors, "
		       "latency p50 %.1f us p90 %.1f us p95 %.1f us p99 %.1f us p99.9 %.1f us\n",
		       o.label, *o.label ? ": " : "", (unsigned long long)completed, secs, rps,
		       (unsigned long long)errors, percentile(50), percentile(90), percentile(95),
		       percentile(99), percentile(99.9));
	return errors ? 1 : 0;
}
