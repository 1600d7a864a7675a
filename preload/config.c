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
	{ "ACCEL_PROGRESS_MS", "2",
	  "a stack the program has not polled for this long (busy in its own code) gets a turn "
	  "from the shim's thread: handshakes, ACKs, timers (0 = no such thread; 0-1000)" },
	{ "ACCEL_LOG", "warn", "log level on stderr: none, error, warn, info, debug" },
	{ "ACCEL_STATS", "0", "1 = print per-stack counters on stderr at exit" },
	{ "ACCEL_PORT_SHARE", "0",
	  "1 = share a tap named by iface= with the other processes that set it (unrelated "
	  "servers on one address), a queue each; a frame for another's port is handed to it" },
	{ "ACCEL_DISABLE", "0", "1 = pass every call to the kernel, never start DPDK" },
	{ "ACCEL_STRICT", "0",
	  "1 = exit non-zero on a bad setting or a port that fails, instead of running on the kernel" },
	{ "ACCEL_IMPAIR_TX", NULL,
	  "tests: impair what the port sends, as netem would: loss=%,dup=%,reorder=%,delay=us,jitter=us,seed=n" },
	{ "ACCEL_IMPAIR_RX", NULL, "tests: the same for what the port receives" },
	{ "ACCEL_PCAP", NULL,
	  "file to write every frame the port sends and receives to, as pcapng (tshark, "
	  "Wireshark read it); unset = no capture" },
	{ "ACCEL_PCAP_SNAPLEN", "65535",
	  "bytes of each frame ACCEL_PCAP keeps; the rest is cut off, its length kept "
	  "(64-65535)" },
	{ "ACCEL_STORAGE", NULL,
	  "files whose pread/pwrite go to the device under their file system: colon-separated "
	  "absolute globs, e.g. '/data/*:/srv/cache/*'; unset = none" },
	{ "ACCEL_STORAGE_QUEUES", "16",
	  "queue pairs per device, one per thread; threads past it share one (1-256)" },
	{ "ACCEL_STORAGE_DEPTH", "64", "entries in each storage queue pair (1-4096)" },
	{ "ACCEL_STORAGE_TRANSPORT", "auto",
	  "how storage reaches a device: auto = passthru on an NVMe namespace that has its "
	  "/dev/ngXnY, else uring; uring = io_uring on the block device (O_DIRECT); "
	  "passthru = NVMe commands through io_uring on /dev/ngXnY" },
	{ "ACCEL_STORAGE_POLL", "0",
	  "1 = a kernel thread polls each storage queue (io_uring SQPOLL; costs a core)" },
	{ "ACCEL_NVME", NULL,
	  "PCI address (e.g. 0000:00:05.0) of a second NVMe controller of the namespace under "
	  "the files, bound to vfio-pci: the shim drives it with its own queue pairs; unset = "
	  "ACCEL_STORAGE_TRANSPORT" },
	{ "ACCEL_NVME_UNSAFE_NOIOMMU", "0",
	  "1 = accept ACCEL_NVME's controller in vfio no-IOMMU mode (it could write anywhere "
	  "in memory)" },
	{ NULL, NULL, NULL },
};

static const char *var_default(const char *name)
{
	for (const struct accel_var *v = accel_vars; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v->def;
	return NULL;
}

static const char *var_name(const char *name, size_t len)
{
	for (const struct accel_var *v = accel_vars; v->name; v++)
		if (strlen(v->name) == len && !strncmp(v->name, name, len))
			return v->name;
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
	size_t used = p->errlen ? strlen(p->err) : 0;

	/* Every bad variable is named, in one line: "A='x' ...; B='y' ...". */
	if (used < p->errlen)
		snprintf(p->err + used, p->errlen - used, "%s%s='%s' is not valid: expected %s",
			 p->failed ? "; " : "", name, value, expected);
	p->failed++;
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

/* ACCEL_NVME: a PCI address in sysfs' form, DDDD:BB:DD.F (hex, function
 * 0-7), as /sys/bus/pci/devices names it. */
static void parse_nvme(struct parser *p, struct accel_config *c)
{
	const char *v = value_of(p, "ACCEL_NVME");
	unsigned dom, bus, dev, fn;
	char end;

	c->nvme[0] = '\0';
	if (!v)
		return;
	if (strlen(v) != 12 || sscanf(v, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &end) != 4 ||
	    dev > 0x1f || fn > 7 || v[4] != ':' || v[7] != ':' || v[10] != '.') {
		refuse(p, "ACCEL_NVME", v, "a PCI address as sysfs names it, e.g. 0000:00:05.0");
		return;
	}
	for (const char *s = v; *s; s++)
		if (isxdigit((unsigned char)*s) && isupper((unsigned char)*s)) {
			refuse(p, "ACCEL_NVME", v, "lower-case hex, as in /sys/bus/pci/devices");
			return;
		}
	snprintf(c->nvme, sizeof(c->nvme), "%s", v);
}

static void parse_transport(struct parser *p, struct accel_config *c)
{
	static const char *const names[] = { "auto", "uring", "passthru" };
	const char *v = value_of(p, "ACCEL_STORAGE_TRANSPORT");

	for (int i = 0; i < 3; i++)
		if (!strcmp(v, names[i])) {
			snprintf(c->storage_transport, sizeof(c->storage_transport), "%s", v);
			return;
		}
	refuse(p, "ACCEL_STORAGE_TRANSPORT", v, "auto, uring or passthru");
	snprintf(c->storage_transport, sizeof(c->storage_transport), "%s", "auto");
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
	c->port_share = parse_bool(&p, "ACCEL_PORT_SHARE");
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
	c->progress_ms = parse_uint(&p, "ACCEL_PROGRESS_MS", 0, 1000);
	c->link_wait_set = is_set(&p, "ACCEL_LINK_WAIT_MS");
	c->idle_poll_us = parse_uint(&p, "ACCEL_IDLE_POLL_US", 10, 1000000);
	if (is_set(&p, "ACCEL_SPIN_US")) { /* (a refused value: as unset) */
		int failed = p.failed;

		c->spin_us = parse_uint(&p, "ACCEL_SPIN_US", 0, 100000);
		c->spin_set = p.failed == failed;
	}
	parse_text(&p, "ACCEL_IMPAIR_TX", c->impair_tx, sizeof(c->impair_tx));
	parse_text(&p, "ACCEL_IMPAIR_RX", c->impair_rx, sizeof(c->impair_rx));
	parse_text(&p, "ACCEL_PCAP", c->pcap, sizeof(c->pcap));
	c->pcap_snaplen = parse_uint(&p, "ACCEL_PCAP_SNAPLEN", 64, 65535);
	parse_storage(&p, c);
	c->storage_queues = parse_uint(&p, "ACCEL_STORAGE_QUEUES", 1, 256);
	c->storage_depth = parse_uint(&p, "ACCEL_STORAGE_DEPTH", 1, 4096);
	c->storage_poll = parse_bool(&p, "ACCEL_STORAGE_POLL");
	parse_transport(&p, c);

	parse_nvme(&p, c);
	c->nvme_unsafe_noiommu = parse_bool(&p, "ACCEL_NVME_UNSAFE_NOIOMMU");
	return p.failed ? -EINVAL : 0;
}

int accel_config_unknown(char **envp, char *err, size_t errlen)
{
	char names[512] = "";
	size_t used = 0;
	int n = 0;

	for (char **e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);

		if (strncmp(*e, "ACCEL_", 6) != 0 || var_name(*e, len))
			continue;
		/* every one named, in one line */
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%.*s",
						 n ? ", " : "", (int)len, *e);
		n++;
	}
	if (n)
		snprintf(err, errlen, "%s %s; ignored ('accel --help' lists them)", names,
			 n == 1 ? "is not a libaccel setting" : "are not libaccel settings");
	return n ? 1 : 0;
}

/* ---- profiles ------------------------------------------------------------- */

/*
 * The spin policy is left to the default (ACCEL_SPIN_US unset) except where
 * a profile trades a core for wake-up latency on purpose: a fixed spin on
 * many threads takes the cores the work needs.
 */
const struct accel_builtin_profile accel_profiles[] = {
	{ "latency",
	  "ACCEL_QUEUES=1\nACCEL_SPIN_US=10000\nACCEL_IDLE_POLL_US=100\n",
	  "one stack, so a connection is never steered between queues; a waiting "
	  "thread polls the port for 10 ms before it sleeps, and an idle one wakes "
	  "every 0.1 ms: the lowest wake-up latency, at the cost of a busy core per "
	  "waiting thread" },
	{ "throughput",
	  "ACCEL_QUEUES=4\nACCEL_MBUFS=32768\n",
	  "four queue pairs, each with its own stack, so threads spread over them; "
	  "a pool large enough for full windows on many connections; the default "
	  "spin policy, so threads that wait give their cores back" },
	{ "memcached",
	  "ACCEL_QUEUES=4\nACCEL_MBUFS=16384\n",
	  "memcached runs 4 worker threads by default (-t 4), each with its own "
	  "event loop: one queue pair and stack for each, no connection shared "
	  "between them; a larger pool for many clients' segments in flight" },
	{ "redis",
	  "ACCEL_QUEUES=1\nACCEL_MBUFS=16384\n",
	  "redis serves every client from one thread: one queue pair (more would "
	  "only steer segments to it); a larger pool for pipelined requests and "
	  "large replies in flight" },
	{ NULL, NULL, NULL },
};

const char *accel_profile_value(const struct accel_profile *p, const char *var)
{
	for (unsigned i = 0; p && i < p->n; i++)
		if (!strcmp(p->var[i], var))
			return p->value[i];
	return NULL;
}

/* The settings parser's verdict on one value alone. */
struct one_var {
	const char *name, *value;
};

static const char *one_get(const char *name, void *arg)
{
	const struct one_var *o = arg;

	return strcmp(name, o->name) ? NULL : o->value;
}

static int value_check(const char *name, const char *value, char *why, size_t len)
{
	struct one_var o = { name, value };
	struct accel_config c;

	return accel_config_parse(&c, one_get, &o, why, len);
}

/* One "NAME=value" line into p; a message in why when it is refused. */
static int profile_line(struct accel_profile *p, char *s, char *why, size_t len)
{
	char *eq = strchr(s, '='), *v, *end;
	const char *name;
	size_t nlen;

	if (!eq) {
		snprintf(why, len, "expected NAME=value");
		return -1;
	}
	for (end = eq; end > s && isspace((unsigned char)end[-1]); end--)
		;
	nlen = (size_t)(end - s);
	name = var_name(s, nlen);
	if (!name) {
		snprintf(why, len, "%.*s is not a libaccel setting ('accel --help' lists them)",
			 (int)(nlen > 64 ? 64 : nlen), s);
		return -1;
	}
	for (v = eq + 1; isspace((unsigned char)*v); v++)
		;
	end = v + strlen(v);
	while (end > v && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
		end[-1] = '\0';
		v++;
	}
	if (accel_profile_value(p, name)) {
		snprintf(why, len, "%s is set twice", name);
		return -1;
	}
	if (p->n >= ACCEL_PROFILE_MAX || strlen(v) >= sizeof(p->value[0])) {
		snprintf(why, len, "%s: too long", name);
		return -1;
	}
	if (!*v) {
		snprintf(why, len, "%s has no value", name);
		return -1;
	}
	if (value_check(name, v, why, len) < 0)
		return -1;
	p->var[p->n] = name;
	snprintf(p->value[p->n++], sizeof(p->value[0]), "%s", v);
	return 0;
}

int accel_profile_parse(struct accel_profile *p, const char *name, const char *origin,
			const char *text, char *err, size_t errlen)
{
	unsigned line = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->origin, sizeof(p->origin), "%s", origin);
	for (const char *s = text; s && *s; ) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char buf[1200], why[400], *b = buf;

		line++;
		if (n >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%u: line too long", origin, line);
			return -EINVAL;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		s = nl ? nl + 1 : NULL;
		while (isspace((unsigned char)*b))
			b++;
		if (!*b || *b == '#')
			continue;
		if (profile_line(p, b, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", origin, line, why);
			for (size_t i = 0; i < errlen && err[i]; i++)
				if (iscntrl((unsigned char)err[i]))
					err[i] = '?';
			return -EINVAL;
		}
	}
	return 0;
}

void accel_profile_user_dir(char *out, size_t len, accel_getenv_fn get, void *arg)
{
	const char *xdg = get("XDG_CONFIG_HOME", arg), *home = get("HOME", arg);

	/* XDG Base Directory: a relative XDG_CONFIG_HOME is to be ignored. */
	if (xdg && xdg[0] == '/')
		snprintf(out, len, "%s/accel/profiles", xdg);
	else if (home && home[0] == '/')
		snprintf(out, len, "%s/.config/accel/profiles", home);
	else if (len)
		out[0] = '\0';
}

/* The whole of a small file, NUL-terminated; NULL with errno on failure. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *nb = cap >= (1u << 20) ? NULL : realloc(buf, cap + 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			buf = nb;
			cap += 8192;
		}
		size_t r = fread(buf + n, 1, 4096, f);

		n += r;
		if (r < 4096)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int good_profile_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= 64 || name[0] == '.')
		return 0;
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.')
			return 0;
	return 1;
}

int accel_profile_load(struct accel_profile *p, const char *name, const char *etc_dir,
		       accel_getenv_fn get, void *arg, char *err, size_t errlen)
{
	char dirs[2][256];

	if (!good_profile_name(name)) {
		snprintf(err, errlen, "'%.64s' is not a profile name (letters, digits, '-', "
			 "'_' and '.')", name);
		for (size_t i = 0; i < errlen && err[i]; i++)
			if (iscntrl((unsigned char)err[i]))
				err[i] = '?';
		return -EINVAL;
	}
	accel_profile_user_dir(dirs[0], sizeof(dirs[0]), get, arg);
	snprintf(dirs[1], sizeof(dirs[1]), "%s", etc_dir ? etc_dir : "");
	for (int i = 0; i < 2; i++) {
		char path[sizeof(dirs[0]) + 80], *text;
		int rc;

		if (!dirs[i][0])
			continue;
		snprintf(path, sizeof(path), "%.255s/%.63s.conf", dirs[i], name);
		text = read_text(path);
		if (!text && errno == ENOENT)
			continue;
		if (!text) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -EINVAL;
		}
		rc = accel_profile_parse(p, name, path, text, err, errlen);
		free(text);
		return rc;
	}
	for (const struct accel_builtin_profile *b = accel_profiles; b->name; b++)
		if (!strcmp(b->name, name))
			return accel_profile_parse(p, name, "built-in", b->settings, err,
						   errlen);
	snprintf(err, errlen, "no profile '%s' (built-in or %s.conf in %s%s%s); "
		 "'accel --profile list' shows them", name, name,
		 dirs[0][0] ? dirs[0] : "", dirs[0][0] ? " or " : "", dirs[1]);
	return -ENOENT;
}

enum accel_source accel_effective(const char *var, const struct accel_profile *p,
				  accel_getenv_fn get, void *arg, const char **value)
{
	const char *v = get(var, arg);

	if (v && *v) {
		*value = v;
		return ACCEL_SRC_ENV;
	}
	v = accel_profile_value(p, var);
	if (v) {
		*value = v;
		return ACCEL_SRC_PROFILE;
	}
	*value = var_default(var);
	return ACCEL_SRC_DEFAULT;
}
