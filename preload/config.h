/*
 * config.h - the ACCEL_* settings: one table of every variable with its
 * default and meaning (the launcher's --help prints it), and a parser that
 * refuses a bad value with one line naming the variable.
 */
#ifndef ACCEL_PRELOAD_CONFIG_H
#define ACCEL_PRELOAD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct accel_config {
	int disable;            /* ACCEL_DISABLE: pass every call through */
	int strict;             /* ACCEL_STRICT: exit instead of falling back */
	int log_level;          /* ACCEL_LOG */
	int stats;              /* ACCEL_STATS: counters on stderr at exit */
	int has_ip;             /* ACCEL_IP given: a port is wanted */
	uint32_t ip;            /* host byte order */
	uint8_t prefix_len;
	uint32_t gateway;       /* ACCEL_GW, host byte order, 0 = none */
	char dpdk_args[1024];   /* ACCEL_DPDK_ARGS */
	unsigned queues;        /* ACCEL_QUEUES */
	unsigned mbufs;         /* ACCEL_MBUFS */
	unsigned link_wait_ms;  /* ACCEL_LINK_WAIT_MS */
	int link_wait_set;      /* ... given by the user (not the default) */
	unsigned idle_poll_us;  /* ACCEL_IDLE_POLL_US */
	unsigned spin_us;       /* ACCEL_SPIN_US, when spin_set */
	int spin_set;           /* 0: unset, the spin is learnt (sockets/spin.h) */
	char impair_tx[128];    /* ACCEL_IMPAIR_TX, "" = none */
	char impair_rx[128];    /* ACCEL_IMPAIR_RX */
	char storage[1024];     /* ACCEL_STORAGE: colon-separated globs, "" = none */
	unsigned storage_queues;/* ACCEL_STORAGE_QUEUES */
	unsigned storage_depth; /* ACCEL_STORAGE_DEPTH */
	int storage_poll;       /* ACCEL_STORAGE_POLL */
};

struct accel_var {
	const char *name;
	const char *def;        /* NULL: unset by default */
	const char *help;
};

/* Every variable, ending with a zeroed entry. */
extern const struct accel_var accel_vars[];

/* Looks a variable up; the stand-in for getenv in tests. */
typedef const char *(*accel_getenv_fn)(const char *name, void *arg);

/*
 * Fills c from the variables get returns (defaults for unset ones).
 * Returns 0, or -EINVAL with one line in err naming the first bad variable.
 * On error c still holds usable values: the bad variable's default, and
 * ACCEL_STRICT as far as it could be read.
 */
int accel_config_parse(struct accel_config *c, accel_getenv_fn get, void *arg,
		       char *err, size_t errlen);

/* Writes into err the name of an ACCEL_* entry of envp that is not a known
 * variable (a typo, most likely); returns 1 if there is one. */
int accel_config_unknown(char **envp, char *err, size_t errlen);

#endif
