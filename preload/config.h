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
	int port_share;         /* ACCEL_PORT_SHARE: unrelated processes share a tap */
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
	unsigned progress_ms;   /* ACCEL_PROGRESS_MS, 0 = no progress thread */
	unsigned spin_us;       /* ACCEL_SPIN_US, when spin_set */
	int spin_set;           /* 0: unset, the spin is learnt (sockets/spin.h) */
	char impair_tx[128];    /* ACCEL_IMPAIR_TX, "" = none */
	char impair_rx[128];    /* ACCEL_IMPAIR_RX */
	char pcap[1024];        /* ACCEL_PCAP: capture file, "" = no capture */
	unsigned pcap_snaplen;  /* ACCEL_PCAP_SNAPLEN */
	char storage[1024];     /* ACCEL_STORAGE: colon-separated globs, "" = none */
	unsigned storage_queues;/* ACCEL_STORAGE_QUEUES */
	unsigned storage_depth; /* ACCEL_STORAGE_DEPTH */
	int storage_poll;       /* ACCEL_STORAGE_POLL */
	char storage_transport[16]; /* ACCEL_STORAGE_TRANSPORT: auto, uring, passthru */
	char nvme[16];          /* ACCEL_NVME: PCI address, "" = none (io_uring) */
	int nvme_unsafe_noiommu;/* ACCEL_NVME_UNSAFE_NOIOMMU */
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
 * Returns 0, or -EINVAL with one line in err naming every bad variable
 * (each "NAME='value' is not valid: expected ...", joined by "; ").
 * On error c still holds usable values: the bad variable's default, and
 * ACCEL_STRICT as far as it could be read.
 */
int accel_config_parse(struct accel_config *c, accel_getenv_fn get, void *arg,
		       char *err, size_t errlen);

/* Writes into err, in one line, the names of the ACCEL_* entries of envp
 * that are not known variables (typos, most likely); returns 1 if there
 * is one. */
int accel_config_unknown(char **envp, char *err, size_t errlen);

/* ---- profiles: named sets of ACCEL_* values (the launcher's --profile) ---- */

/* A built-in profile: its settings as a profile file would hold them, and
 * why they suit the workload (--profile list and accel(1) print it). */
struct accel_builtin_profile {
	const char *name;
	const char *settings;   /* "NAME=value" lines */
	const char *why;
};

/* Every built-in profile, ending with a zeroed entry. */
extern const struct accel_builtin_profile accel_profiles[];

#define ACCEL_PROFILE_MAX 32

/* One profile as loaded: where it came from and the values it sets. */
struct accel_profile {
	char name[64];
	char origin[320];       /* "built-in" or the file's path */
	unsigned n;
	const char *var[ACCEL_PROFILE_MAX];    /* names from accel_vars */
	char value[ACCEL_PROFILE_MAX][1024];
};

/* Where an effective setting comes from, weakest first. */
enum accel_source { ACCEL_SRC_DEFAULT, ACCEL_SRC_PROFILE, ACCEL_SRC_ENV };

/*
 * Parses profile text: one NAME=value a line (the value may be quoted with
 * ' or "), blank lines and lines starting with '#' ignored. Each name must
 * be in accel_vars, once, with a value the settings parser accepts.
 * Returns 0, or -EINVAL with "ORIGIN:LINE: what is wrong" in err.
 */
int accel_profile_parse(struct accel_profile *p, const char *name, const char *origin,
			const char *text, char *err, size_t errlen);

/*
 * Finds profile name: NAME.conf in $XDG_CONFIG_HOME/accel/profiles (or
 * $HOME/.config/...), then in etc_dir, then the built-ins; get reads those
 * variables. Returns 0, -ENOENT with one line in err for an unknown name,
 * or -EINVAL for a bad name or a bad line (as accel_profile_parse).
 */
int accel_profile_load(struct accel_profile *p, const char *name, const char *etc_dir,
		       accel_getenv_fn get, void *arg, char *err, size_t errlen);

/* The user's profile directory into out ("" if neither variable is set). */
void accel_profile_user_dir(char *out, size_t len, accel_getenv_fn get, void *arg);

/* The profile's value of var, or NULL. */
const char *accel_profile_value(const struct accel_profile *p, const char *var);

/*
 * The effective value of var and its source: the environment (get) when set
 * and not empty, else the profile p (may be NULL), else the table's default
 * (NULL when it has none).
 */
enum accel_source accel_effective(const char *var, const struct accel_profile *p,
				  accel_getenv_fn get, void *arg, const char **value);

#endif
