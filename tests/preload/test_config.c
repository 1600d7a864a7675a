/*
 * test_config.c - the ACCEL_* parser, driven through a table-backed fake
 * environment instead of the process's own, so every case states exactly
 * what is set. Checks values, defaults, the one-line error naming every
 * bad variable, the typo check over envp, and the profiles: their lines,
 * the search order of their files, and environment over profile over
 * default.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../common/log.h"
#include "../../preload/config.h"

#define ERRLEN 256
#define GUARD ((char)0x5a)

/* ---- the fake environment ------------------------------------------------ */

struct env_var {
	const char *name;
	const char *value;
};

/* At most this many variables per case, ending with a NULL name. */
#define ENV_MAX 32

struct env {
	struct env_var v[ENV_MAX + 1];
	const char *asked[64];  /* names the parser looked up, in order */
	int nasked;
};

static const char *env_get(const char *name, void *arg)
{
	struct env *e = arg;

	if (e->nasked < (int)(sizeof(e->asked) / sizeof(e->asked[0])))
		e->asked[e->nasked++] = name;
	for (const struct env_var *v = e->v; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v->value;
	return NULL;
}

/* The result of one parse, with the error buffer followed by a guard byte. */
struct run {
	struct accel_config c;
	int rc;
	char err[ERRLEN + 1];
};

static void parse_into(struct run *r, struct env *e, size_t errlen)
{
	memset(r->err, GUARD, sizeof(r->err));
	r->rc = accel_config_parse(&r->c, env_get, e, r->err, errlen);
	assert_int_equal(r->err[errlen], GUARD);
}

/* Parses with vars given as name, value, ..., NULL. */
static void parse_vars(struct run *r, ...)
{
	struct env e = { 0 };
	va_list ap;
	int n = 0;

	va_start(ap, r);
	for (const char *name; (name = va_arg(ap, const char *)); n++) {
		assert_true(n < ENV_MAX);
		e.v[n].name = name;
		e.v[n].value = va_arg(ap, const char *);
	}
	va_end(ap);
	parse_into(r, &e, ERRLEN);
}

static const char *table_default(const char *name)
{
	for (const struct accel_var *v = accel_vars; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v->def;
	fail_msg("%s is not in accel_vars", name);
	return NULL;
}

static unsigned table_default_uint(const char *name)
{
	return (unsigned)strtoul(table_default(name), NULL, 10);
}

/* A refusal: -EINVAL, one line that fits and names the variable. */
static void assert_refused(const struct run *r, const char *name)
{
	assert_int_equal(r->rc, -EINVAL);
	assert_non_null(memchr(r->err, '\0', ERRLEN));
	assert_null(strchr(r->err, '\n'));
	assert_non_null(strstr(r->err, name));
}

/* ... and quotes the value (which must fit in the line). */
static void assert_refused_value(const struct run *r, const char *name,
				 const char *value)
{
	char quoted[ERRLEN];

	assert_refused(r, name);
	snprintf(quoted, sizeof(quoted), "'%s'", value);
	assert_non_null(strstr(r->err, quoted));
}

/* Everything a parse of an empty environment must give. */
static void assert_defaults(const struct accel_config *c)
{
	assert_int_equal(c->disable, 0);
	assert_int_equal(c->strict, 0);
	assert_int_equal(c->stats, 0);
	assert_int_equal(c->log_level, ACCEL_LOG_WARN);
	assert_int_equal(c->has_ip, 0);
	assert_int_equal(c->ip, 0);
	assert_int_equal(c->prefix_len, 0);
	assert_int_equal(c->gateway, 0);
	assert_int_equal(c->queues, 1);
	assert_int_equal(c->mbufs, 8192);
	assert_int_equal(c->link_wait_ms, 2000);
	assert_int_equal(c->idle_poll_us, 1000);
	assert_int_equal(c->progress_ms, 2);
	assert_int_equal(c->spin_set, 0); /* learnt (sockets/spin.h) */
	assert_int_equal(c->link_wait_set, 0);
	assert_string_equal(c->dpdk_args, table_default("ACCEL_DPDK_ARGS"));
}

#define IP4(a, b, c, d) \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* ---- defaults -------------------------------------------------------------- */

static void test_defaults_when_nothing_set(void **state)
{
	struct run r;

	parse_vars(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_defaults(&r.c);
}

/* The literal defaults above are the table's, so --help tells the truth. */
static void test_defaults_match_table(void **state)
{
	struct run r;

	parse_vars(&r, NULL);
	assert_int_equal(r.c.queues, table_default_uint("ACCEL_QUEUES"));
	assert_int_equal(r.c.mbufs, table_default_uint("ACCEL_MBUFS"));
	assert_int_equal(r.c.link_wait_ms, table_default_uint("ACCEL_LINK_WAIT_MS"));
	assert_int_equal(r.c.idle_poll_us, table_default_uint("ACCEL_IDLE_POLL_US"));
	assert_int_equal(r.c.progress_ms, table_default_uint("ACCEL_PROGRESS_MS"));
	assert_int_equal(r.c.stats, table_default_uint("ACCEL_STATS"));
	assert_int_equal(r.c.disable, table_default_uint("ACCEL_DISABLE"));
	assert_int_equal(r.c.strict, table_default_uint("ACCEL_STRICT"));
	assert_string_equal(table_default("ACCEL_LOG"), "warn");
	assert_null(table_default("ACCEL_IP"));
	assert_null(table_default("ACCEL_GW"));
	assert_null(table_default("ACCEL_SPIN_US"));
	assert_null(table_default("ACCEL_PCAP"));
	assert_string_equal(r.c.pcap, "");
	assert_int_equal(r.c.pcap_snaplen, table_default_uint("ACCEL_PCAP_SNAPLEN"));
}

/* ACCEL_PCAP: a path kept as given; one too long for the buffer refused,
 * named, and capture left off. */
static void test_pcap_path(void **state)
{
	static char longer[1100];
	struct run r;

	(void)state;
	parse_vars(&r, "ACCEL_PCAP", "/tmp/x.pcapng", "ACCEL_PCAP_SNAPLEN", "128", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.c.pcap, "/tmp/x.pcapng");
	assert_int_equal(r.c.pcap_snaplen, 128);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[0] = '/';
	parse_vars(&r, "ACCEL_PCAP", longer, NULL);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "ACCEL_PCAP='...'"));
	assert_string_equal(r.c.pcap, "");
}

/* ACCEL_SPIN_US: unset, the spin is learnt; set, it is fixed at the value
 * (0 included); out of range or malformed, refused, and learnt as unset. */
static void test_spin_unset_or_fixed(void **state)
{
	static const char *const bad[] = { "100001", "-1", "abc", "1e3", " 5" };
	struct run r;

	parse_vars(&r, "ACCEL_SPIN_US", "1000", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.spin_set, 1);
	assert_int_equal(r.c.spin_us, 1000);
	parse_vars(&r, "ACCEL_SPIN_US", "0", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.spin_set, 1);
	assert_int_equal(r.c.spin_us, 0);
	parse_vars(&r, "ACCEL_SPIN_US", "100000", NULL);
	assert_int_equal(r.c.spin_us, 100000);
	parse_vars(&r, "ACCEL_SPIN_US", "", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.spin_set, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, "ACCEL_SPIN_US", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_SPIN_US", bad[i]);
		assert_int_equal(r.c.spin_set, 0);
	}
	parse_vars(&r, "ACCEL_LINK_WAIT_MS", "2000", NULL);
	assert_int_equal(r.c.link_wait_set, 1);
	assert_int_equal(r.c.link_wait_ms, 2000);
}

/* value_of: an empty value is the same as an unset one. */
static void test_empty_values_are_defaults(void **state)
{
	struct env e = { 0 };
	struct run r;
	int n = 0;

	for (const struct accel_var *v = accel_vars; v->name; v++, n++) {
		assert_true(n < ENV_MAX);
		e.v[n].name = v->name;
		e.v[n].value = "";
	}
	parse_into(&r, &e, ERRLEN);
	assert_int_equal(r.rc, 0);
	assert_defaults(&r.c);
}

/* Every variable the parser reads is in the table, and the reverse. */
static void test_parser_reads_exactly_the_table(void **state)
{
	struct env e = { 0 };
	struct run r;
	int nvars = 0;

	parse_into(&r, &e, ERRLEN);
	assert_int_equal(r.rc, 0);
	for (int i = 0; i < e.nasked; i++) {
		int found = 0;

		for (const struct accel_var *v = accel_vars; v->name; v++)
			found |= strcmp(v->name, e.asked[i]) == 0;
		if (!found)
			fail_msg("parser reads %s, which accel_vars lacks", e.asked[i]);
	}
	for (const struct accel_var *v = accel_vars; v->name; v++, nvars++) {
		int found = 0;

		for (int i = 0; i < e.nasked; i++)
			found |= strcmp(v->name, e.asked[i]) == 0;
		if (!found)
			fail_msg("accel_vars lists %s, which the parser never reads",
				 v->name);
		assert_non_null(v->help);
	}
	assert_true(nvars > 0);
}

/* ---- ACCEL_IP ---------------------------------------------------------------- */

static void test_ip_with_prefix(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "10.88.0.2/24", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.has_ip, 1);
	assert_int_equal(r.c.ip, IP4(10, 88, 0, 2));
	assert_int_equal(r.c.prefix_len, 24);
}

static void test_ip_without_prefix_is_32(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "10.88.0.2", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.has_ip, 1);
	assert_int_equal(r.c.ip, IP4(10, 88, 0, 2));
	assert_int_equal(r.c.prefix_len, 32);
}

static void test_ip_prefix_bounds(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "192.168.1.1/1", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.prefix_len, 1);
	parse_vars(&r, "ACCEL_IP", "192.168.1.1/32", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.prefix_len, 32);
	assert_int_equal(r.c.ip, IP4(192, 168, 1, 1));
}

static void test_ip_rejects(void **state)
{
	static const char *const bad[] = {
		"nonsense", "10.88.0.2/33", "10.88.0.2/0", "10.88.0.2/",
		"10.88.0.256", "0.0.0.0", "127.0.0.1", "224.0.0.1",
		"10.88.0.2/24x", "239.255.255.250", "240.0.0.1",
		"255.255.255.255", "127.1.2.3/8", "10.88.0.2/-1", "10.88.0.2/24/8",
		"10.88.0.2 ", " 10.88.0.2", "10.88.0", "::1", "/24",
		"10.88.0.2/99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r;

		parse_vars(&r, "ACCEL_IP", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_IP", bad[i]);
		/* The default: unset, no port. */
		assert_int_equal(r.c.has_ip, 0);
		assert_int_equal(r.c.ip, 0);
		assert_int_equal(r.c.prefix_len, 0);
	}
}

static void test_ip_rejects_long_strings(void **state)
{
	char longs[3][4096];
	struct run r;

	memset(longs[0], '1', sizeof(longs[0]) - 1);
	longs[0][sizeof(longs[0]) - 1] = '\0';
	/* A good address with a prefix that goes on and on. */
	strcpy(longs[1], "10.88.0.2/");
	memset(longs[1] + 10, '2', 2000);
	longs[1][2010] = '\0';
	/* A long address part before a good prefix. */
	memset(longs[2], '9', 1000);
	strcpy(longs[2] + 1000, ".0.0.2/24");

	for (int i = 0; i < 3; i++) {
		parse_vars(&r, "ACCEL_IP", longs[i], NULL);
		assert_refused(&r, "ACCEL_IP");
		/* Cut to fit, not overrun: the guard byte is checked in parse. */
		assert_true(strlen(r.err) == ERRLEN - 1);
		assert_int_equal(r.c.has_ip, 0);
	}
}

/* The error is one line even when the value itself is not. */
static void test_error_is_one_line_for_multiline_value(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "10.88.0.2\nACCEL_STRICT=0", NULL);
	assert_refused(&r, "ACCEL_IP");
	parse_vars(&r, "ACCEL_QUEUES", "4\r\n", NULL);
	assert_refused(&r, "ACCEL_QUEUES");
	assert_null(strchr(r.err, '\r'));
}

static void test_error_fits_tiny_buffer(void **state)
{
	struct env e = { .v = { { "ACCEL_IP", "nonsense" } } };
	struct run r;

	parse_into(&r, &e, 16);
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(strlen(r.err), 15);
	assert_memory_equal(r.err, "ACCEL_IP='nonse", 15);

	parse_into(&r, &e, 1);
	assert_int_equal(r.rc, -EINVAL);
	assert_string_equal(r.err, "");
}

/* ---- ACCEL_GW ---------------------------------------------------------------- */

static void test_gw_inside_subnet(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "10.88.0.2/24", "ACCEL_GW", "10.88.0.1", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.gateway, IP4(10, 88, 0, 1));
	parse_vars(&r, "ACCEL_IP", "10.88.0.2/16", "ACCEL_GW", "10.88.255.254", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.gateway, IP4(10, 88, 255, 254));
}

static void test_gw_outside_subnet_rejected(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_IP", "10.88.0.2/24", "ACCEL_GW", "10.88.1.1", NULL);
	assert_refused_value(&r, "ACCEL_GW", "10.88.1.1");
	assert_int_equal(r.c.gateway, 0);
	/* The address itself was fine and stays. */
	assert_int_equal(r.c.has_ip, 1);
	assert_int_equal(r.c.ip, IP4(10, 88, 0, 2));
}

static void test_gw_without_ip_accepted(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_GW", "10.88.0.1", NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.c.has_ip, 0);
	assert_int_equal(r.c.gateway, IP4(10, 88, 0, 1));
}

static void test_gw_rejects_non_addresses(void **state)
{
	static const char *const bad[] = { "nonsense", "0.0.0.0", "10.88.0.1/24",
					   "10.88.0.300" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r;

		parse_vars(&r, "ACCEL_IP", "10.88.0.2/24", "ACCEL_GW", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_GW", bad[i]);
		assert_int_equal(r.c.gateway, 0);
	}
}

/* ---- the storage transport ------------------------------------------------------ */

static void test_storage_transport(void **state)
{
	static const char *const good[] = { "auto", "uring", "passthru" };
	static const char *const bad[] = { "vfio", "Auto", "uring ", "pass", "1" };
	struct run r;

	parse_vars(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.c.storage_transport, "auto");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		parse_vars(&r, "ACCEL_STORAGE_TRANSPORT", good[i], NULL);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.c.storage_transport, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, "ACCEL_STORAGE_TRANSPORT", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_STORAGE_TRANSPORT", bad[i]);
		assert_string_equal(r.c.storage_transport, "auto");
	}
}

/* ---- ACCEL_NVME ------------------------------------------------------------------ */

static void test_nvme_address(void **state)
{
	static const char *const good[] = { "0000:00:05.0", "0000:af:1f.7", "10de:01:00.1" };
	static const char *const bad[] = { "00:05.0", "0000:00:05", "0000:00:20.0",
					   "0000:00:05.8", "0000:00:05.0 ", "0000:AF:00.0",
					   "0000-00-05.0", "/dev/nvme1", "0000:00:05.00" };
	struct run r;

	parse_vars(&r, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.c.nvme, "");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		parse_vars(&r, "ACCEL_NVME", good[i], NULL);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.c.nvme, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, "ACCEL_NVME", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_NVME", bad[i]);
		assert_string_equal(r.c.nvme, "");
	}
}

/* ---- booleans ------------------------------------------------------------------ */

static const struct {
	const char *name;
	size_t off;
} bools[] = {
	{ "ACCEL_DISABLE", offsetof(struct accel_config, disable) },
	{ "ACCEL_STRICT", offsetof(struct accel_config, strict) },
	{ "ACCEL_STATS", offsetof(struct accel_config, stats) },
	{ "ACCEL_STORAGE_POLL", offsetof(struct accel_config, storage_poll) },
	{ "ACCEL_NVME_UNSAFE_NOIOMMU", offsetof(struct accel_config, nvme_unsafe_noiommu) },
};

static int bool_field(const struct accel_config *c, size_t off)
{
	return *(const int *)(const void *)((const char *)c + off);
}

static void test_booleans(void **state)
{
	static const char *const yes[] = { "1", "yes", "true", "on", "YES",
					   "True", "On", "tRUE" };
	static const char *const no[] = { "0", "no", "false", "off", "NO",
					  "False", "OFF", "oFf" };
	static const char *const bad[] = { "maybe", "2", "y", "n", "-1", "01",
					   "yes ", "enable" };
	struct run r;

	for (size_t b = 0; b < sizeof(bools) / sizeof(bools[0]); b++) {
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
			parse_vars(&r, bools[b].name, yes[i], NULL);
			assert_int_equal(r.rc, 0);
			assert_int_equal(bool_field(&r.c, bools[b].off), 1);
		}
		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
			parse_vars(&r, bools[b].name, no[i], NULL);
			assert_int_equal(r.rc, 0);
			assert_int_equal(bool_field(&r.c, bools[b].off), 0);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			parse_vars(&r, bools[b].name, bad[i], NULL);
			assert_refused_value(&r, bools[b].name, bad[i]);
			assert_int_equal(bool_field(&r.c, bools[b].off),
					 table_default_uint(bools[b].name));
		}
	}
}

/* ---- ACCEL_LOG ------------------------------------------------------------------ */

static void test_log_levels(void **state)
{
	static const struct {
		const char *v;
		int level;
	} ok[] = {
		{ "none", ACCEL_LOG_NONE }, { "error", ACCEL_LOG_ERROR },
		{ "warn", ACCEL_LOG_WARN }, { "warning", ACCEL_LOG_WARN },
		{ "info", ACCEL_LOG_INFO }, { "debug", ACCEL_LOG_DEBUG },
		{ "DEBUG", ACCEL_LOG_DEBUG }, { "Error", ACCEL_LOG_ERROR },
		{ "0", ACCEL_LOG_NONE }, { "1", ACCEL_LOG_ERROR },
		{ "2", ACCEL_LOG_WARN }, { "3", ACCEL_LOG_INFO },
		{ "4", ACCEL_LOG_DEBUG },
	};
	struct run r;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_vars(&r, "ACCEL_LOG", ok[i].v, NULL);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.c.log_level, ok[i].level);
	}
}

static void test_log_rejects(void **state)
{
	static const char *const bad[] = { "verbose", "5", "-1", "44", "02",
					   "debug2", " info" };
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, "ACCEL_LOG", bad[i], "ACCEL_STATS", "1", NULL);
		assert_refused_value(&r, "ACCEL_LOG", bad[i]);
		assert_int_equal(r.c.log_level, ACCEL_LOG_WARN);
		assert_int_equal(r.c.stats, 1);
	}
}

/* ---- numbers -------------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t off;
	unsigned lo, hi;
} nums[] = {
	{ "ACCEL_QUEUES", offsetof(struct accel_config, queues), 1, 16 },
	{ "ACCEL_MBUFS", offsetof(struct accel_config, mbufs), 1024, 1048576 },
	{ "ACCEL_LINK_WAIT_MS", offsetof(struct accel_config, link_wait_ms), 0, 60000 },
	{ "ACCEL_IDLE_POLL_US", offsetof(struct accel_config, idle_poll_us), 10, 1000000 },
	{ "ACCEL_STORAGE_QUEUES", offsetof(struct accel_config, storage_queues), 1, 256 },
	{ "ACCEL_STORAGE_DEPTH", offsetof(struct accel_config, storage_depth), 1, 4096 },
	{ "ACCEL_PROGRESS_MS", offsetof(struct accel_config, progress_ms), 0, 1000 },
	{ "ACCEL_PCAP_SNAPLEN", offsetof(struct accel_config, pcap_snaplen), 64, 65535 },
};

static unsigned num_field(const struct accel_config *c, size_t off)
{
	return *(const unsigned *)(const void *)((const char *)c + off);
}

static void check_num_ok(size_t i, const char *v, unsigned want)
{
	struct run r;

	parse_vars(&r, nums[i].name, v, NULL);
	if (r.rc != 0)
		fail_msg("%s='%s' refused: %s", nums[i].name, v, r.err);
	assert_int_equal(num_field(&r.c, nums[i].off), want);
}

static void check_num_bad(size_t i, const char *v)
{
	struct run r;

	/* A later, good variable shows parsing went on past the bad one
	 * (ACCEL_IDLE_POLL_US is read last, so it has none). */
	if (i == 3)
		parse_vars(&r, nums[i].name, v, NULL);
	else
		parse_vars(&r, nums[i].name, v, "ACCEL_IDLE_POLL_US", "20", NULL);
	if (r.rc != -EINVAL)
		fail_msg("%s='%s' accepted as %u", nums[i].name, v,
			 num_field(&r.c, nums[i].off));
	assert_refused_value(&r, nums[i].name, v);
	assert_int_equal(num_field(&r.c, nums[i].off),
			 table_default_uint(nums[i].name));
	if (i != 3)
		assert_int_equal(r.c.idle_poll_us, 20);
}

static void test_numbers_bounds(void **state)
{
	char v[64];

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(v, sizeof(v), "%u", nums[i].lo);
		check_num_ok(i, v, nums[i].lo);
		snprintf(v, sizeof(v), "%u", nums[i].hi);
		check_num_ok(i, v, nums[i].hi);
		if (nums[i].lo > 0) {
			snprintf(v, sizeof(v), "%u", nums[i].lo - 1);
			check_num_bad(i, v);
		}
		snprintf(v, sizeof(v), "%u", nums[i].hi + 1);
		check_num_bad(i, v);
	}
}

static void test_numbers_malformed(void **state)
{
	char v[64];

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		check_num_bad(i, "-1");
		check_num_bad(i, "-0");
		check_num_bad(i, "12abc");
		check_num_bad(i, "abc");
		check_num_bad(i, "4294967296");                /* 2^32 */
		check_num_bad(i, "4294967297");                /* 2^32 + 1 */
		check_num_bad(i, "99999999999999999999999");   /* beyond long */
		check_num_bad(i, "0x10");
		/* Only digits: a number in range with anything around it is
		 * still refused, on either side. */
		snprintf(v, sizeof(v), "%uabc", nums[i].lo);
		check_num_bad(i, v);
		snprintf(v, sizeof(v), "%u ", nums[i].lo);
		check_num_bad(i, v);
		snprintf(v, sizeof(v), " %u", nums[i].lo);
		check_num_bad(i, v);
		snprintf(v, sizeof(v), "+%u", nums[i].lo);
		check_num_bad(i, v);
	}
	check_num_bad(0, " 5");
}

static void test_numbers_leading_zeros_are_decimal(void **state)
{
	check_num_ok(0, "010", 10);   /* not octal */
	check_num_ok(2, "0", 0);
}

static void test_numbers_empty_is_default(void **state)
{
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		check_num_ok(i, "", table_default_uint(nums[i].name));
}

/* ---- ACCEL_STORAGE ---------------------------------------------------------------- */

static void test_storage_globs(void **state)
{
	static const char *const good[] = { "/data/*", "/data/fio.*:/srv/cache/*", "/a" };
	static const char *const bad[] = { "data/*", "/a::/b", ":/a", "/a:", ":",
					   "/a:rel" };
	struct run r;

	parse_vars(&r, NULL);
	assert_string_equal(r.c.storage, ""); /* unset: no storage path */
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		parse_vars(&r, "ACCEL_STORAGE", good[i], NULL);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.c.storage, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, "ACCEL_STORAGE", bad[i], NULL);
		assert_refused_value(&r, "ACCEL_STORAGE", bad[i]);
		assert_string_equal(r.c.storage, "");
	}
}

/* ---- ACCEL_DPDK_ARGS -------------------------------------------------------------- */

static void test_dpdk_args(void **state)
{
	static char longest[1024], too_long[1025];
	struct run r;

	parse_vars(&r, "ACCEL_DPDK_ARGS", "--no-huge -m 128", NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.c.dpdk_args, "--no-huge -m 128");

	memset(longest, 'a', sizeof(longest) - 1);
	parse_vars(&r, "ACCEL_DPDK_ARGS", longest, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.c.dpdk_args, longest);

	memset(too_long, 'a', sizeof(too_long) - 1);
	parse_vars(&r, "ACCEL_DPDK_ARGS", too_long, "ACCEL_QUEUES", "3", NULL);
	assert_refused(&r, "ACCEL_DPDK_ARGS");
	assert_true(strlen(r.err) < 200); /* says so, without the kilobyte */
	assert_string_equal(r.c.dpdk_args, table_default("ACCEL_DPDK_ARGS"));
	assert_int_equal(r.c.queues, 3);
}

/* ---- several variables ------------------------------------------------------------ */

static void test_bad_value_keeps_parsing(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_QUEUES", "zero", "ACCEL_IP", "10.88.0.2/24", NULL);
	assert_refused(&r, "ACCEL_QUEUES");
	assert_int_equal(r.c.queues, 1);
	assert_int_equal(r.c.has_ip, 1);
	assert_int_equal(r.c.ip, IP4(10, 88, 0, 2));

	/* The first variable parsed is bad: every other one is still read. */
	parse_vars(&r, "ACCEL_STRICT", "maybe", "ACCEL_LOG", "debug",
		   "ACCEL_DISABLE", "1", "ACCEL_STATS", "on",
		   "ACCEL_IP", "10.1.2.3/8", "ACCEL_GW", "10.0.0.1",
		   "ACCEL_DPDK_ARGS", "--x", "ACCEL_QUEUES", "4",
		   "ACCEL_MBUFS", "2048", "ACCEL_LINK_WAIT_MS", "5",
		   "ACCEL_IDLE_POLL_US", "50", NULL);
	assert_refused_value(&r, "ACCEL_STRICT", "maybe");
	assert_int_equal(r.c.strict, 0);
	assert_int_equal(r.c.log_level, ACCEL_LOG_DEBUG);
	assert_int_equal(r.c.disable, 1);
	assert_int_equal(r.c.stats, 1);
	assert_int_equal(r.c.has_ip, 1);
	assert_int_equal(r.c.ip, IP4(10, 1, 2, 3));
	assert_int_equal(r.c.prefix_len, 8);
	assert_int_equal(r.c.gateway, IP4(10, 0, 0, 1));
	assert_string_equal(r.c.dpdk_args, "--x");
	assert_int_equal(r.c.queues, 4);
	assert_int_equal(r.c.mbufs, 2048);
	assert_int_equal(r.c.link_wait_ms, 5);
	assert_int_equal(r.c.idle_poll_us, 50);
}

/* Every bad variable is named, in one line, in the order they are parsed. */
static void test_every_bad_variable_reported(void **state)
{
	struct run r;

	parse_vars(&r, "ACCEL_MBUFS", "1", "ACCEL_QUEUES", "0", NULL);
	assert_refused_value(&r, "ACCEL_QUEUES", "0");
	assert_refused_value(&r, "ACCEL_MBUFS", "1");
	assert_true(strstr(r.err, "ACCEL_QUEUES") < strstr(r.err, "ACCEL_MBUFS"));
	assert_non_null(strstr(r.err, "; ACCEL_MBUFS"));
	assert_int_equal(r.c.queues, 1);
	assert_int_equal(r.c.mbufs, 8192);

	parse_vars(&r, "ACCEL_IDLE_POLL_US", "5", "ACCEL_IP", "nonsense",
		   "ACCEL_LOG", "loud", NULL);
	assert_refused_value(&r, "ACCEL_IP", "nonsense");
	assert_refused_value(&r, "ACCEL_IDLE_POLL_US", "5");
	assert_refused_value(&r, "ACCEL_LOG", "loud");

	/* One good variable among bad ones is not named. */
	parse_vars(&r, "ACCEL_DISABLE", "maybe", "ACCEL_QUEUES", "2", "ACCEL_STATS", "x", NULL);
	assert_refused_value(&r, "ACCEL_DISABLE", "maybe");
	assert_refused_value(&r, "ACCEL_STATS", "x");
	assert_null(strstr(r.err, "ACCEL_QUEUES"));
}

/* Many bad variables and a short buffer: cut, terminated, never overrun. */
static void test_every_bad_variable_fits_buffer(void **state)
{
	struct env e = { .v = { { "ACCEL_QUEUES", "0" }, { "ACCEL_MBUFS", "1" },
				{ "ACCEL_LOG", "loud" }, { "ACCEL_STATS", "x" } } };
	struct run r;

	parse_into(&r, &e, 60);
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(strlen(r.err), 59);
}

/* ACCEL_STRICT must be known whatever else is wrong: it decides whether
 * the bad setting ends the program. */
static void test_strict_read_despite_other_errors(void **state)
{
	static char too_long[2000];
	const char *bad[][2] = {
		{ "ACCEL_LOG", "loud" }, { "ACCEL_DISABLE", "maybe" },
		{ "ACCEL_STATS", "maybe" }, { "ACCEL_IP", "nonsense" },
		{ "ACCEL_GW", "nonsense" }, { "ACCEL_DPDK_ARGS", too_long },
		{ "ACCEL_QUEUES", "0" }, { "ACCEL_MBUFS", "1" },
		{ "ACCEL_LINK_WAIT_MS", "60001" }, { "ACCEL_IDLE_POLL_US", "9" },
	};
	struct run r;

	memset(too_long, 'x', sizeof(too_long) - 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_vars(&r, bad[i][0], bad[i][1], "ACCEL_STRICT", "1", NULL);
		assert_refused(&r, bad[i][0]);
		assert_int_equal(r.c.strict, 1);
	}
}

/* ---- accel_config_unknown ------------------------------------------------------- */

static int unknown(char **envp, char *err)
{
	int rc;

	memset(err, GUARD, ERRLEN + 1);
	rc = accel_config_unknown(envp, err, ERRLEN);
	assert_int_equal(err[ERRLEN], GUARD);
	return rc;
}

static void test_unknown_reports_typo(void **state)
{
	char *envp[] = { "PATH=/usr/bin", "ACCEL_IP=10.88.0.2", "ACCEL_IPP=1", NULL };
	char err[ERRLEN + 1];

	assert_int_equal(unknown(envp, err), 1);
	assert_non_null(strstr(err, "ACCEL_IPP"));
	assert_null(strchr(err, '\n'));
}

static void test_unknown_reports_name_not_value(void **state)
{
	char *envp[] = { "ACCEL_TOKEN=hunter2", NULL };
	char err[ERRLEN + 1];

	assert_int_equal(unknown(envp, err), 1);
	assert_non_null(strstr(err, "ACCEL_TOKEN"));
	assert_null(strstr(err, "hunter2"));
}

static void test_unknown_prefix_of_known_name(void **state)
{
	char *short_name[] = { "ACCEL_I=1", NULL };
	char *longer[] = { "ACCEL_QUEUESX=1", NULL };
	char err[ERRLEN + 1];

	assert_int_equal(unknown(short_name, err), 1);
	assert_non_null(strstr(err, "ACCEL_I "));
	assert_int_equal(unknown(longer, err), 1);
	assert_non_null(strstr(err, "ACCEL_QUEUESX"));
}

static void test_unknown_ignores_known_and_foreign(void **state)
{
	char *envp[] = { "ACCEL_IP=10.88.0.2/24", "ACCEL_QUEUES=2", "HOME=/root",
			 "ACCELERATE=1", "ACCEL=1", "accel_ipp=1", "XACCEL_IPP=1",
			 "ACCEL_LOG", "LD_PRELOAD=libaccel.so", NULL };
	char err[ERRLEN + 1];

	assert_int_equal(unknown(envp, err), 0);
	assert_int_equal(accel_config_unknown(NULL, err, ERRLEN), 0);
}

static void test_unknown_knows_every_table_name(void **state)
{
	char bufs[ENV_MAX][64];
	char *envp[ENV_MAX + 1] = { 0 };
	char err[ERRLEN + 1];
	int n = 0;

	for (const struct accel_var *v = accel_vars; v->name; v++, n++) {
		assert_true(n < ENV_MAX);
		snprintf(bufs[n], sizeof(bufs[n]), "%s=1", v->name);
		envp[n] = bufs[n];
	}
	assert_int_equal(unknown(envp, err), 0);
}

static void test_unknown_fits_tiny_buffer(void **state)
{
	char *envp[] = { "ACCEL_SOMETHING_VERY_LONG_INDEED=1", NULL };
	char err[17];

	memset(err, GUARD, sizeof(err));
	assert_int_equal(accel_config_unknown(envp, err, 16), 1);
	assert_int_equal(err[16], GUARD);
	assert_int_equal(strlen(err), 15);
}

/* ---- a second bad-variable kind: typos, all named ------------------------------ */

static void test_unknown_reports_every_typo(void **state)
{
	char *envp[] = { "ACCEL_IPP=1", "ACCEL_IP=10.88.0.2", "ACCEL_QUEUE=2", NULL };
	char err[ERRLEN + 1];

	assert_int_equal(unknown(envp, err), 1);
	assert_non_null(strstr(err, "ACCEL_IPP, ACCEL_QUEUE are not"));
	assert_null(strchr(err, '\n'));
}

/* ---- profiles ------------------------------------------------------------------- */

static struct accel_profile prof; /* (large: not on the stack) */

static int profile_text(const char *text, char *err)
{
	memset(err, GUARD, ERRLEN + 1);
	int rc = accel_profile_parse(&prof, "t", "/p/t.conf", text, err, ERRLEN);

	assert_int_equal(err[ERRLEN], GUARD);
	return rc;
}

static void test_profile_parses_lines(void **state)
{
	char err[ERRLEN + 1];

	assert_int_equal(profile_text("# a comment\n\n  ACCEL_QUEUES = 4  \n"
				      "\t# indented comment\n"
				      "ACCEL_DPDK_ARGS='--no-huge -m 256 --vdev=net_tap0'\n"
				      "ACCEL_GW=\"10.1.1.1\"\nACCEL_LOG=debug", err), 0);
	assert_int_equal(prof.n, 4);
	assert_string_equal(accel_profile_value(&prof, "ACCEL_QUEUES"), "4");
	assert_string_equal(accel_profile_value(&prof, "ACCEL_DPDK_ARGS"),
			    "--no-huge -m 256 --vdev=net_tap0");
	assert_string_equal(accel_profile_value(&prof, "ACCEL_GW"), "10.1.1.1");
	assert_string_equal(accel_profile_value(&prof, "ACCEL_LOG"), "debug");
	assert_null(accel_profile_value(&prof, "ACCEL_IP"));
	assert_string_equal(prof.origin, "/p/t.conf");
	assert_int_equal(profile_text("", err), 0);
	assert_int_equal(prof.n, 0);
}

/* A bad line: refused with the file, the line number and what is wrong. */
static void test_profile_bad_lines(void **state)
{
	const struct {
		const char *text, *where, *what;
	} bad[] = {
		{ "ACCEL_QUEUES=4\n\nACCEL_QUEUES_X=1\n", "/p/t.conf:3:", "ACCEL_QUEUES_X" },
		{ "# x\nACCEL_QUEUES=0\n", "/p/t.conf:2:", "ACCEL_QUEUES='0'" },
		{ "ACCEL_QUEUES 4\n", "/p/t.conf:1:", "NAME=value" },
		{ "ACCEL_LOG=info\nACCEL_LOG=debug\n", "/p/t.conf:2:", "twice" },
		{ "ACCEL_IP=\n", "/p/t.conf:1:", "ACCEL_IP" },
		{ "ACCEL_IP=10.0.0.1/40\n", "/p/t.conf:1:", "ACCEL_IP" },
		{ "PATH=/bin\n", "/p/t.conf:1:", "PATH" },
		{ "ACCEL_SPIN_US=1\nACCEL_STATS=\"1\nx\n", "/p/t.conf:2:", "ACCEL_STATS" },
	};
	char err[ERRLEN + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(profile_text(bad[i].text, err), -EINVAL);
		assert_ptr_equal(strstr(err, bad[i].where), err);
		assert_non_null(strstr(err, bad[i].what));
		assert_null(strchr(err, '\n'));
	}
}

/* Every built-in parses, and sets only what its name promises to change;
 * the spin policy is left to the default except by latency. */
static void test_profile_builtins(void **state)
{
	const char *names[] = { "latency", "throughput", "memcached", "redis" };
	char err[ERRLEN + 1];
	int found = 0;

	for (const struct accel_builtin_profile *b = accel_profiles; b->name; b++, found++) {
		assert_int_equal(accel_profile_parse(&prof, b->name, "built-in", b->settings,
						     err, ERRLEN), 0);
		assert_true(prof.n > 0);
		assert_true(strlen(b->why) > 20);
		assert_null(accel_profile_value(&prof, "ACCEL_IP"));
		assert_null(accel_profile_value(&prof, "ACCEL_DPDK_ARGS"));
		if (strcmp(b->name, "latency"))
			assert_null(accel_profile_value(&prof, "ACCEL_SPIN_US"));
	}
	assert_int_equal(found, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(accel_profile_load(&prof, names[i], "/nonexistent", env_get,
						    &(struct env){ 0 }, err, ERRLEN), 0);
		assert_string_equal(prof.origin, "built-in");
	}
	assert_string_equal(accel_profile_value(&prof, "ACCEL_QUEUES"), "1"); /* redis */
}

/* Profile files in a scratch tree: the user's beat /etc's beat built-ins. */
struct tree {
	char root[64], user[128], etc[128];
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void tree_make(struct tree *t)
{
	char cmd[512];

	snprintf(t->root, sizeof(t->root), "/tmp/accel-test-profiles.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->user, sizeof(t->user), "%s/xdg/accel/profiles", t->root);
	snprintf(t->etc, sizeof(t->etc), "%s/etc", t->root);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s %s", t->user, t->etc);
	assert_int_equal(system(cmd), 0);
}

static void tree_remove(struct tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	assert_int_equal(system(cmd), 0);
}

static void test_profile_search_order(void **state)
{
	struct tree t;
	char xdg[128], home[128], err[ERRLEN + 1];
	struct env e = { 0 };

	tree_make(&t);
	snprintf(xdg, sizeof(xdg), "%s/xdg", t.root);
	e.v[0].name = "XDG_CONFIG_HOME";
	e.v[0].value = xdg;
	write_file(t.etc, "memcached.conf", "ACCEL_QUEUES=2\n");
	write_file(t.etc, "site.conf", "ACCEL_QUEUES=3\n");
	write_file(t.user, "site.conf", "ACCEL_QUEUES=5\n");
	write_file(t.user, "broken.conf", "ACCEL_QUEUES=5\nACCEL_MBUFS=lots\n");

	assert_int_equal(accel_profile_load(&prof, "site", t.etc, env_get, &e, err, ERRLEN), 0);
	assert_string_equal(accel_profile_value(&prof, "ACCEL_QUEUES"), "5");
	assert_non_null(strstr(prof.origin, "/xdg/accel/profiles/site.conf"));
	/* /etc's file hides the built-in of the same name */
	assert_int_equal(accel_profile_load(&prof, "memcached", t.etc, env_get, &e, err,
					    ERRLEN), 0);
	assert_string_equal(accel_profile_value(&prof, "ACCEL_QUEUES"), "2");
	assert_null(accel_profile_value(&prof, "ACCEL_MBUFS"));
	/* a bad line: the file and the line named */
	assert_int_equal(accel_profile_load(&prof, "broken", t.etc, env_get, &e, err,
					    ERRLEN), -EINVAL);
	assert_non_null(strstr(err, "/xdg/accel/profiles/broken.conf:2:"));
	assert_non_null(strstr(err, "ACCEL_MBUFS='lots'"));
	/* unknown: one line naming it */
	assert_int_equal(accel_profile_load(&prof, "nosuch", t.etc, env_get, &e, err,
					    ERRLEN), -ENOENT);
	assert_non_null(strstr(err, "'nosuch'"));
	assert_null(strchr(err, '\n'));
	/* not a name: never a path */
	assert_int_equal(accel_profile_load(&prof, "../etc/site", t.etc, env_get, &e, err,
					    ERRLEN), -EINVAL);
	assert_int_equal(accel_profile_load(&prof, "", t.etc, env_get, &e, err, ERRLEN),
			 -EINVAL);
	/* no XDG_CONFIG_HOME (or a relative one): $HOME/.config */
	snprintf(home, sizeof(home), "%s/home", t.root);
	e.v[0].name = "HOME";
	e.v[0].value = home;
	e.v[1].name = "XDG_CONFIG_HOME";
	e.v[1].value = "relative/dir";
	accel_profile_user_dir(err, ERRLEN, env_get, &e);
	assert_non_null(strstr(err, "/home/.config/accel/profiles"));
	assert_int_equal(accel_profile_load(&prof, "site", t.etc, env_get, &e, err, ERRLEN), 0);
	assert_string_equal(accel_profile_value(&prof, "ACCEL_QUEUES"), "3");
	tree_remove(&t);
}

/* The environment beats the profile beats the default; empty is unset. */
static void test_effective_precedence(void **state)
{
	struct env e = { .v = { { "ACCEL_QUEUES", "8" }, { "ACCEL_MBUFS", "" },
				{ "ACCEL_IP", "10.0.0.2/24" } } };
	char err[ERRLEN + 1];
	const char *v;

	assert_int_equal(profile_text("ACCEL_QUEUES=4\nACCEL_MBUFS=16384\n"
				      "ACCEL_LOG=info\n", err), 0);
	assert_int_equal(accel_effective("ACCEL_QUEUES", &prof, env_get, &e, &v), ACCEL_SRC_ENV);
	assert_string_equal(v, "8");
	assert_int_equal(accel_effective("ACCEL_MBUFS", &prof, env_get, &e, &v),
			 ACCEL_SRC_PROFILE);
	assert_string_equal(v, "16384");
	assert_int_equal(accel_effective("ACCEL_LOG", &prof, env_get, &e, &v),
			 ACCEL_SRC_PROFILE);
	assert_string_equal(v, "info");
	assert_int_equal(accel_effective("ACCEL_LINK_WAIT_MS", &prof, env_get, &e, &v),
			 ACCEL_SRC_DEFAULT);
	assert_string_equal(v, table_default("ACCEL_LINK_WAIT_MS"));
	assert_int_equal(accel_effective("ACCEL_GW", &prof, env_get, &e, &v), ACCEL_SRC_DEFAULT);
	assert_null(v);
	assert_int_equal(accel_effective("ACCEL_IP", NULL, env_get, &e, &v), ACCEL_SRC_ENV);
	assert_int_equal(accel_effective("ACCEL_QUEUES", NULL, env_get, &(struct env){ 0 }, &v),
			 ACCEL_SRC_DEFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_when_nothing_set),
		cmocka_unit_test(test_defaults_match_table),
		cmocka_unit_test(test_pcap_path),
		cmocka_unit_test(test_spin_unset_or_fixed),
		cmocka_unit_test(test_empty_values_are_defaults),
		cmocka_unit_test(test_parser_reads_exactly_the_table),
		cmocka_unit_test(test_ip_with_prefix),
		cmocka_unit_test(test_ip_without_prefix_is_32),
		cmocka_unit_test(test_ip_prefix_bounds),
		cmocka_unit_test(test_ip_rejects),
		cmocka_unit_test(test_ip_rejects_long_strings),
		cmocka_unit_test(test_error_is_one_line_for_multiline_value),
		cmocka_unit_test(test_error_fits_tiny_buffer),
		cmocka_unit_test(test_gw_inside_subnet),
		cmocka_unit_test(test_gw_outside_subnet_rejected),
		cmocka_unit_test(test_gw_without_ip_accepted),
		cmocka_unit_test(test_gw_rejects_non_addresses),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_log_rejects),
		cmocka_unit_test(test_numbers_bounds),
		cmocka_unit_test(test_numbers_malformed),
		cmocka_unit_test(test_numbers_leading_zeros_are_decimal),
		cmocka_unit_test(test_numbers_empty_is_default),
		cmocka_unit_test(test_storage_globs),
		cmocka_unit_test(test_dpdk_args),
		cmocka_unit_test(test_bad_value_keeps_parsing),
		cmocka_unit_test(test_every_bad_variable_reported),
		cmocka_unit_test(test_every_bad_variable_fits_buffer),
		cmocka_unit_test(test_strict_read_despite_other_errors),
		cmocka_unit_test(test_unknown_reports_typo),
		cmocka_unit_test(test_unknown_reports_name_not_value),
		cmocka_unit_test(test_unknown_prefix_of_known_name),
		cmocka_unit_test(test_unknown_ignores_known_and_foreign),
		cmocka_unit_test(test_unknown_knows_every_table_name),
		cmocka_unit_test(test_unknown_fits_tiny_buffer),
		cmocka_unit_test(test_unknown_reports_every_typo),
		cmocka_unit_test(test_profile_parses_lines),
		cmocka_unit_test(test_profile_bad_lines),
		cmocka_unit_test(test_profile_builtins),
		cmocka_unit_test(test_profile_search_order),
		cmocka_unit_test(test_effective_precedence),
		cmocka_unit_test(test_storage_transport),
		cmocka_unit_test(test_nvme_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
