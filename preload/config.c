/*
 * config.c - parsing and checking the ACCEL_* settings. See config.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"
#include "config.h"

/* The one place that names each variable, its default and its meaning. */
const struct accel_var accel_vars[] = {
	{ "ACCEL_IP", NULL,
	  "IPv4 address[/prefix] of the DPDK port; unset = no port, pure pass-through" },
	{ "ACCEL_GW", NULL, "IPv4 gateway for off-link peers (inside ACCEL_IP's subnet)" },
	{ "ACCEL_DPDK_ARGS", "--no-huge -m 256 --no-pci --vdev=net_memif0,role=server",
	  "DPDK EAL arguments; the first port they create is used" },
	{ "ACCEL_QUEUES", "1",
	  "queue pairs on the port, each with its own stack; threads are spread over them (1-16)" },
	{ "ACCEL_MBUFS", "8192", "packet buffers in the pool (raised to what the queues need)" },
	{ "ACCEL_LINK_WAIT_MS", "2000",
	  "how long start-up waits for link up (0-60000); a memif server does not wait "
	  "for its client unless this is set" },
	{ "ACCEL_SPIN_US", NULL,
	  "how long a waiting thread polls the port before it sleeps in the kernel, fixed "
	  "(0-100000); unset = each thread learns it from its waits: up to 2 ms under load, "
	  "a few us when idle" },
	{ "ACCEL_IDLE_POLL_US", "1000",
	  "sleep slice of an idle thread when the port has no rx interrupt, stretched up to "
	  "8 times while no frame comes (10-1000000)" },
	{ "ACCEL_LOG", "warn", "log level on stderr: none, error, warn, info, debug" },
	{ "ACCEL_STATS", "0", "1 = print per-stack counters on stderr at exit" },
	{ "ACCEL_DISABLE", "0", "1 = pass every call to the kernel, never start DPDK" },
	{ "ACCEL_STRICT", "0",
	  "1 = exit non-zero on a bad setting or a port that fails, instead of running on the kernel" },
	{ "ACCEL_IMPAIR_TX", NULL,
	  "tests: impair what the port sends, as netem would: loss=%,dup=%,reorder=%,delay=us,jitter=us,seed=n" },
	{ "ACCEL_IMPAIR_RX", NULL, "tests: the same for what the port receives" },
	{ "ACCEL_STORAGE", NULL,
	  "files whose pread/pwrite go to the device under their file system: colon-separated "
	  "absolute globs, e.g. '/data/*:/srv/cache/*'; unset = none" },
	{ "ACCEL_STORAGE_QUEUES", "16",
	  "queue pairs per device, one per thread; threads past it share one (1-256)" },
	{ "ACCEL_STORAGE_DEPTH", "64", "entries in each storage queue pair (1-4096)" },
	{ "ACCEL_STORAGE_POLL", "0",
	  "1 = a kernel thread polls each storage queue (io_uring SQPOLL; costs a core)" },
	{ NULL, NULL, NULL },
};

static const char *var_default(const char *name)
{
	for (const struct accel_var *v = accel_vars; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v->def;
	return NULL;
}

struct parser {
	accel_getenv_fn get;
	void *arg;
	char *err;
	size_t errlen;
	int failed;
};

/* The variable's value, or its default when unset or empty. */
static const char *value_of(struct parser *p, const char *name)
{
	const char *v = p->get(name, p->arg);

	return v && *v ? v : var_default(name);
}

/* Whether the user gave the variable a value (an empty one is unset). */
static int is_set(struct parser *p, const char *name)
{
	const char *v = p->get(name, p->arg);

	return v && *v;
}

static void refuse(struct parser *p, const char *name, const char *value,
		   const char *expected)
{
	if (p->failed++)
		return; /* report the first; the program gets one line */
	snprintf(p->err, p->errlen, "%s='%s' is not valid: expected %s", name,
		 value, expected);
	/* A value may hold a newline; the message stays one line. */
	for (size_t i = 0; i < p->errlen && p->err[i]; i++)
		if (iscntrl((unsigned char)p->err[i]))
			p->err[i] = '?';
}

static int parse_bool(struct parser *p, const char *name)
{
	const char *v = value_of(p, name);

	if (!strcasecmp(v, "1") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "true") || !strcasecmp(v, "on"))
		return 1;
	if (!strcasecmp(v, "0") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "false") || !strcasecmp(v, "off"))
		return 0;
	refuse(p, name, v, "0 or 1");
	return atoi(var_default(name));
}

static unsigned parse_uint(struct parser *p, const char *name, unsigned lo,
			   unsigned hi)
{
	const char *v = value_of(p, name);
	char *end, expected[64];
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	/* Digits only: strtoul would also take a sign or leading blanks. */
	if (errno || !isdigit((unsigned char)*v) || *end || n < lo || n > hi) {
		snprintf(expected, sizeof(expected), "a whole number from %u to %u",
			 lo, hi);
		refuse(p, name, v, expected);
		return var_default(name) ? (unsigned)strtoul(var_default(name), NULL, 10) : lo;
	}
	return (unsigned)n;
}

/* A free-form value checked where it is used (the impairment specs are
 * checked by the port at start, with the variable named). */
static void parse_text(struct parser *p, const char *name, char *out, size_t len)
{
	const char *v = value_of(p, name);

	out[0] = '\0';
	if (!v)
		return;
	if (strlen(v) >= len) {
		refuse(p, name, "...", "a shorter value");
		return;
	}
	snprintf(out, len, "%s", v);
}

static int parse_ipv4(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*ip = ntohl(a.s_addr);
	return 0;
}

static void parse_ip(struct parser *p, struct accel_config *c)
{
	const char *v = value_of(p, "ACCEL_IP");
	char addr[INET_ADDRSTRLEN + 4];
	const char *slash;
	unsigned long prefix = 32;
	uint32_t ip;

	if (!v)
		return;
	slash = strchr(v, '/');
	if (slash) {
		char *end;

		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || prefix > 32 || prefix < 1)
			goto bad;
	}
	if ((size_t)(slash ? slash - v : (long)strlen(v)) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash ? slash - v : (long)strlen(v)), v);
	if (parse_ipv4(addr, &ip) < 0 || ip == 0 || (ip >> 28) >= 14 ||
	    (ip >> 24) == 127)
		goto bad;
	c->ip = ip; /* only a good one: a refused address leaves the default */
	c->prefix_len = (uint8_t)prefix;
	c->has_ip = 1;
	return;
bad:
	refuse(p, "ACCEL_IP", v,
	       "a unicast IPv4 address with an optional /prefix, e.g. 10.88.0.2/24");
}

static void parse_gw(struct parser *p, struct accel_config *c)
{
	const char *v = value_of(p, "ACCEL_GW");
	uint32_t mask;

	if (!v)
		return;
	if (parse_ipv4(v, &c->gateway) < 0 || c->gateway == 0) {
		refuse(p, "ACCEL_GW", v, "an IPv4 address, e.g. 10.88.0.1");
		c->gateway = 0;
		return;
	}
	if (!c->has_ip)
		return; /* meaningless without an address; nothing to check */
	mask = (uint32_t)(0xffffffffull << (32 - c->prefix_len));
	if ((c->gateway ^ c->ip) & mask) {
		refuse(p, "ACCEL_GW", v, "an address inside ACCEL_IP's subnet");
		c->gateway = 0;
	}
}

/* ACCEL_STORAGE: absolute globs split by ':', none empty (storage/policy.c
 * splits them the same way). */
static void parse_storage(struct parser *p, struct accel_config *c)
{
	const char *v = value_of(p, "ACCEL_STORAGE");
	int ok = 1;

	if (!v)
		return;
	if (strlen(v) >= sizeof(c->storage)) {
		refuse(p, "ACCEL_STORAGE", "...", "at most 1023 characters");
		return;
	}
	for (const char *s = v; ok; s = strchr(s, ':') + 1) {
		ok = *s == '/';
		if (!strchr(s, ':'))
			break;
	}
	if (!ok || v[strlen(v) - 1] == ':') {
		refuse(p, "ACCEL_STORAGE", v,
		       "absolute globs separated by ':', e.g. /data/*:/srv/cache/*");
		return;
	}
	snprintf(c->storage, sizeof(c->storage), "%s", v);
}

static int parse_log(struct parser *p)
{
	static const char *const names[] = { "none", "error", "warn", "info", "debug" };
	const char *v = value_of(p, "ACCEL_LOG");

	for (int i = 0; i < 5; i++)
		if (!strcasecmp(v, names[i]))
			return i;
	if (!strcasecmp(v, "warning"))
		return ACCEL_LOG_WARN;
	if (v[0] >= '0' && v[0] <= '4' && !v[1])
		return v[0] - '0';
	refuse(p, "ACCEL_LOG", v, "none, error, warn, info or debug");
	return ACCEL_LOG_WARN;
}

int accel_config_parse(struct accel_config *c, accel_getenv_fn get, void *arg,
		       char *err, size_t errlen)
{
	struct parser p = { get, arg, err, errlen, 0 };
	const char *args;

	memset(c, 0, sizeof(*c));
	if (errlen)
		err[0] = '\0';
	/* Strictness first, so that it applies to everything after it. */
	c->strict = parse_bool(&p, "ACCEL_STRICT");
	c->log_level = parse_log(&p);
	c->disable = parse_bool(&p, "ACCEL_DISABLE");
	c->stats = parse_bool(&p, "ACCEL_STATS");
	parse_ip(&p, c);
	parse_gw(&p, c);
	args = value_of(&p, "ACCEL_DPDK_ARGS");
	if (strlen(args) >= sizeof(c->dpdk_args)) {
		refuse(&p, "ACCEL_DPDK_ARGS", "...", "at most 1023 characters");
		args = var_default("ACCEL_DPDK_ARGS");
	}
	snprintf(c->dpdk_args, sizeof(c->dpdk_args), "%s", args);
	c->queues = parse_uint(&p, "ACCEL_QUEUES", 1, 16);
	c->mbufs = parse_uint(&p, "ACCEL_MBUFS", 1024, 1048576);
	c->link_wait_ms = parse_uint(&p, "ACCEL_LINK_WAIT_MS", 0, 60000);
	c->link_wait_set = is_set(&p, "ACCEL_LINK_WAIT_MS");
	c->idle_poll_us = parse_uint(&p, "ACCEL_IDLE_POLL_US", 10, 1000000);
	if (is_set(&p, "ACCEL_SPIN_US")) { /* (a refused value: as unset) */
		int failed = p.failed;

		c->spin_us = parse_uint(&p, "ACCEL_SPIN_US", 0, 100000);
		c->spin_set = p.failed == failed;
	}
	parse_text(&p, "ACCEL_IMPAIR_TX", c->impair_tx, sizeof(c->impair_tx));
	parse_text(&p, "ACCEL_IMPAIR_RX", c->impair_rx, sizeof(c->impair_rx));
	parse_storage(&p, c);
	c->storage_queues = parse_uint(&p, "ACCEL_STORAGE_QUEUES", 1, 256);
	c->storage_depth = parse_uint(&p, "ACCEL_STORAGE_DEPTH", 1, 4096);
	c->storage_poll = parse_bool(&p, "ACCEL_STORAGE_POLL");
	return p.failed ? -EINVAL : 0;
}

int accel_config_unknown(char **envp, char *err, size_t errlen)
{
	for (char **e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		int known = 0;

		if (strncmp(*e, "ACCEL_", 6) != 0)
			continue;
		for (const struct accel_var *v = accel_vars; v->name && !known; v++)
			known = strlen(v->name) == len && !strncmp(v->name, *e, len);
		if (!known) {
			snprintf(err, errlen, "%.*s is not a libaccel setting; ignored "
				 "('accel --help' lists them)", (int)len, *e);
			return 1;
		}
	}
	return 0;
}
