/*
 * fuzz_config.c - the ACCEL_* settings parser (preload/config.c), which
 * reads whatever a user put in the environment.
 *
 * Input: a byte giving the size of the error buffer, then the values of
 * the variables in accel_vars order, each ended by a NUL (a value that
 * starts with 0xff is unset), then the rest as an envp of NUL-ended
 * entries for accel_config_unknown.
 *
 * Oracles besides the sanitizers (the error buffer is allocated at its
 * exact size, so a write past it is caught): the parse returns 0 or
 * -EINVAL, with an error line exactly when it fails, NUL-terminated within
 * the buffer and without control characters; the values are in their
 * documented ranges whether or not it failed; the same input parses the
 * same way twice.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../preload/config.h"

#define MAX_VARS 32
#define MAX_ENV 16

struct env {
	const char *name[MAX_VARS];
	const char *value[MAX_VARS];
	int n;
};

static const char *env_get(const char *name, void *arg)
{
	const struct env *e = arg;

	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static void fail(const char *what)
{
	fprintf(stderr, "fuzz oracle: %s\n", what);
	abort();
}

static void check(const struct accel_config *c, int rc, const char *err, size_t errlen)
{
	size_t len = errlen ? strnlen(err, errlen) : 0;

	if (rc != 0 && rc != -EINVAL)
		fail("return code");
	if (errlen && len == errlen)
		fail("error line not terminated");
	if (errlen > 1 && (rc != 0) != (len != 0))
		fail("error line without a failure, or a failure without one");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			fail("control character in the error line");
	if (c->queues < 1 || c->queues > 16 || c->mbufs < 1024 || c->mbufs > 1048576 ||
	    c->link_wait_ms > 60000 || c->idle_poll_us < 10 || c->idle_poll_us > 1000000 ||
	    c->spin_us > 100000 || c->log_level < 0 || c->log_level > 4)
		fail("a value out of its range");
	if (c->has_ip && (c->prefix_len < 1 || c->prefix_len > 32 || !c->ip))
		fail("an address without a usable prefix");
	if (c->gateway && c->has_ip &&
	    ((c->gateway ^ c->ip) & (uint32_t)(0xffffffffull << (32 - c->prefix_len))))
		fail("a gateway outside the subnet");
	if (strnlen(c->dpdk_args, sizeof(c->dpdk_args)) == sizeof(c->dpdk_args) ||
	    strnlen(c->impair_tx, sizeof(c->impair_tx)) == sizeof(c->impair_tx) ||
	    strnlen(c->impair_rx, sizeof(c->impair_rx)) == sizeof(c->impair_rx))
		fail("a text value not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *p, *end, *envp[MAX_ENV + 1];
	struct accel_config c1, c2;
	struct env e = { .n = 0 };
	size_t errlen;
	char *err1, *err2;
	int rc1, rc2, ne = 0;

	if (!copy || !size) {
		free(copy);
		return 0;
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	errlen = (uint8_t)copy[0];
	p = copy + 1;
	end = copy + size;
	for (const struct accel_var *v = accel_vars; v->name && e.n < MAX_VARS; v++) {
		if (p >= end)
			break;
		e.name[e.n] = v->name;
		e.value[e.n] = (uint8_t)*p == 0xff ? NULL : p;
		e.n++;
		p += strlen(p) + 1;
	}
	while (p < end && ne < MAX_ENV) {
		envp[ne++] = p;
		p += strlen(p) + 1;
	}
	envp[ne] = NULL;
	err1 = malloc(errlen ? errlen : 1);
	err2 = malloc(errlen ? errlen : 1);
	if (!err1 || !err2)
		abort();
	rc1 = accel_config_parse(&c1, env_get, &e, err1, errlen);
	check(&c1, rc1, err1, errlen);
	rc2 = accel_config_parse(&c2, env_get, &e, err2, errlen);
	if (rc1 != rc2 || memcmp(&c1, &c2, sizeof(c1)) ||
	    (errlen && strncmp(err1, err2, errlen)))
		fail("the same settings parsed two ways");
	if (accel_config_unknown(envp, err1, errlen) && errlen &&
	    strnlen(err1, errlen) == errlen)
		fail("unknown-variable line not terminated");
	free(err1);
	free(err2);
	free(copy);
	return 0;
}
