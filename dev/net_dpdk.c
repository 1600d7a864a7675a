/*
 * net_dpdk.c - the network device on DPDK: EAL start inside a program that
 * never asked for it, one port, queue pairs claimed by threads, receive
 * interrupts for sleeping, and a clean stop.
 *
 * The EAL was written to own its process. Inside someone else's program it
 * must leave no trace the program could see, so dev_net_open snapshots
 * what rte_eal_init is known to change (the caller's CPU affinity, signal
 * handlers, getopt's globals, what reaches stdout) and puts it back. The
 * threads the EAL and the port start meanwhile (the interrupt thread, the
 * PMDs' control threads) are born with the program's signals blocked, so
 * the kernel never picks one of them to run the program's handler for a
 * process-wide signal (an alarm), which the program's own waiting thread
 * must see as EINTR.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <limits.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_epoll.h>
#include <rte_errno.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_interrupts.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "../common/barrier.h"
#include "../common/log.h"
#include "../common/real.h"
#include "../common/sigasync.h"
#include "../common/statsdir.h"
#include "capture.h"
#include "dev_impl.h"
#include "impair.h"
#include "net_share.h"

#define DEV_RX_DESC 1024
#define DEV_TX_DESC 1024
#define DEV_MBUF_CACHE 256
/* Frames one queue's owner may hand another (dev_netq_push) before it
 * takes them. */
#define DEV_PUSH_RING 1024
#define DEV_MAX_EAL_ARGS 64
/* How long close waits for a thread still inside a queue. */
#define DEV_CLOSE_WAIT_MS 500
/* A DPDK runtime directory whose config is younger than this is never
 * swept (runtime_dir_orphaned): its process may not have locked it yet. */
#define DEV_RUNTIME_DIR_GRACE_S 2

struct dev_netq {
	uint16_t qid;
	int owner;        /* 0 free, 1 claimed (atomic) */
	int active;       /* the owner is between enter and leave (atomic) */
	int wake_epfd;    /* epoll fd holding the rx interrupt, or -1 */
	/* frames handed over (dev_netq_push), one ring per queue they come
	 * from, each with one producer and one consumer; NULL with one queue */
	struct rte_ring *pushed[DEV_MAX_QUEUES];
	unsigned push_next;      /* the ring dev_netq_rx_pushed starts at */
	struct impair *itx, *irx; /* NULL unless impairment is configured */
} __attribute__((aligned(64)));

static struct {
	int opened;               /* EAL and port are up */
	int lock_fd;              /* held while this process has its slot */
	char lock_path[112];      /* its name, removed when we let go */
	uint64_t lock_hash;       /* the port's name in the lock files */
	unsigned lock_slot;       /* this process's queue of a shared tap */
	int joined;               /* others of the group had the tap already */
	int (*group_lives)(void); /* dev_net_conf.group_lives */
	char tap_name[IF_NAMESIZE]; /* a tap the group may share, or "" */
	char xdp_name[IF_NAMESIZE]; /* a netdev the group shares by af_xdp, or "" */
	unsigned xdp_queues;      /* its receive queues, one a member */
	struct share *share;      /* frames handed between the tap's processes */
	uint64_t handed_flag;     /* the mbuf flag that marks them (dynflag), or 0 */
	uint64_t share_out, share_in; /* frames handed out, taken in (atomic) */
	int (*own_fd)(int fd);    /* dev_net_conf.own_fd */
	int asym;                 /* asymmetric fences work (common/barrier.h) */
	int stopping;             /* dev_net_close has begun (atomic) */
	int shconf;               /* the EAL keeps files in its runtime dir */
	pid_t owner;              /* the process that opened the port */
	struct rte_mempool *pool;
	struct dev_net_info info;
	struct impair_conf impair_tx, impair_rx;
	struct dev_netq q[DEV_MAX_QUEUES];
	int memif_server;         /* the port is a memif server end (eal_argv) */
} net;

/* A descriptor the device layer keeps: where the caller wants it. */
static int own_fd(int fd)
{
	return net.own_fd && fd >= 0 ? net.own_fd(fd) : fd;
}

/* ---- DPDK's log, through ours ------------------------------------------ */

/* Until the EAL is up its error lines are only kept; they are printed if
 * the start fails, so a good start is quiet and a bad one explains itself. */
#define EARLY_LINES 8
static char early_log[EARLY_LINES][160];
static unsigned early_count;
static int eal_starting;
static char start_why[400]; /* why the start failed, with DPDK's cause */
static uint32_t dpdk_level;  /* DPDK's log level once started */

/* DPDK lines known to be harmless here, shown at debug only: the tap's rx
 * interrupt needs a free rt-signal (it polls without), and there is no
 * secondary process to tell about queues. */
static const char *const dpdk_harmless[] = {
	"All rt-signals are in use", "No Rx trigger signal available",
	"req to secondary", "Failed to register mp action callback", NULL,
};

static int dpdk_is_harmless(const char *buf, int len)
{
	for (const char *const *h = dpdk_harmless; *h; h++)
		if (memmem(buf, (size_t)len, *h, strlen(*h)))
			return 1;
	return 0;
}

/* The first line DPDK had to say during the start: the cause. */
static const char *dpdk_cause(void)
{
	if (!early_count)
		return "no line from DPDK";
	return early_log[(early_count > EARLY_LINES ? early_count - EARLY_LINES : 0) %
			 EARLY_LINES] + strlen("dpdk: ");
}

static int dpdk_to_accel_level(int rte_level)
{
	if (rte_level <= (int)RTE_LOG_CRIT)
		return ACCEL_LOG_ERROR;
	/* DPDK calls many recoverable things errors (a tap without a multiq
	 * qdisc, no secondary process to notify); the host program's stderr
	 * is not the place for them. What fails for real, the shim reports. */
	if (rte_level <= (int)RTE_LOG_INFO)
		return ACCEL_LOG_INFO;
	return ACCEL_LOG_DEBUG;
}

static ssize_t dpdk_log_write(void *cookie, const char *buf, size_t size)
{
	int level = dpdk_to_accel_level(rte_log_cur_msg_loglevel());
	int len = (int)size;

	(void)cookie;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if (dpdk_is_harmless(buf, len))
		level = ACCEL_LOG_DEBUG;
	else if (eal_starting && rte_log_cur_msg_loglevel() <= (int)RTE_LOG_WARNING) {
		snprintf(early_log[early_count++ % EARLY_LINES],
			 sizeof(early_log[0]), "dpdk: %.*s", len, buf);
		if (rte_log_cur_msg_loglevel() <= (int)RTE_LOG_ERR)
			level = ACCEL_LOG_DEBUG; /* (said at info if the start fails) */
	}
	accel_log(level, "dpdk: %.*s", len, buf);
	return (ssize_t)size;
}

static void dpdk_log_route(int level)
{
	static const int to_rte[] = { RTE_LOG_EMERG, RTE_LOG_CRIT, RTE_LOG_ERR,
				      RTE_LOG_INFO, RTE_LOG_DEBUG };
	cookie_io_functions_t io = { .write = dpdk_log_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		rte_openlog_stream(f);
	}
	int rte = to_rte[level < 0 ? 0 : level > 4 ? 4 : level];

	/* Warnings at least while the EAL starts: the cause of a failed start is
	 * often one (a tap's TUNSETIFF), kept for the failure's line; our level
	 * filters the rest. After the start, the level ACCEL_LOG asks. */
	dpdk_level = (uint32_t)rte;
	rte_log_set_global_level(rte < (int)RTE_LOG_WARNING ? RTE_LOG_WARNING : (uint32_t)rte);
}

/* ---- what rte_eal_init must not change ---------------------------------- */

struct host_state {
	cpu_set_t cpus;
	sigset_t mask;
	struct sigaction sig[_NSIG];
	int stdout_copy;
	int g_optind, g_opterr, g_optopt;
	char *g_optarg;
};

static void hold_noop(int sig)
{
	(void)sig;
}

static void host_save(struct host_state *h)
{
	sigset_t all;

	sig_async_set(&all);
	pthread_sigmask(SIG_BLOCK, &all, &h->mask); /* (inherited by new threads) */
	pthread_getaffinity_np(pthread_self(), sizeof(h->cpus), &h->cpus);
	for (int s = 1; s < _NSIG; s++)
		sigaction(s, NULL, &h->sig[s]);
	/*
	 * The tap PMD takes the first unused real-time signal for a receive
	 * trigger and arms O_ASYNC on its queues, so every packet would signal
	 * the program and cut its sleeps short with EINTR. Holding every
	 * unused one makes it fall back to plain reads.
	 */
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
		struct sigaction hold = { .sa_handler = hold_noop,
					  .sa_flags = SA_RESTART };

		if (h->sig[s].sa_handler == SIG_DFL)
			sigaction(s, &hold, NULL);
	}
	h->g_optind = optind;
	h->g_opterr = opterr;
	h->g_optopt = optopt;
	h->g_optarg = optarg;
	/* EAL prints usage and version text with printf: send it to stderr.
	 * Flush first so the program's own pending output keeps its place. */
	fflush(stdout);
	h->stdout_copy = accel_real.fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (h->stdout_copy >= 0)
		accel_real.dup2(STDERR_FILENO, STDOUT_FILENO);
}

static void host_restore(struct host_state *h)
{
	if (h->stdout_copy >= 0) {
		fflush(stdout);
		accel_real.dup2(h->stdout_copy, STDOUT_FILENO);
		accel_real.close(h->stdout_copy);
	}
	pthread_setaffinity_np(pthread_self(), sizeof(h->cpus), &h->cpus);
	for (int s = 1; s < _NSIG; s++) {
		struct sigaction now;

		if (sigaction(s, NULL, &now) < 0)
			continue;
		if (now.sa_handler != h->sig[s].sa_handler ||
		    now.sa_flags != h->sig[s].sa_flags) {
			if (now.sa_handler != hold_noop)
				ACCEL_DEBUG("dpdk changed the handler of signal %d; restored", s);
			sigaction(s, &h->sig[s], NULL);
		}
	}
	optind = h->g_optind;
	opterr = h->g_opterr;
	optopt = h->g_optopt;
	optarg = h->g_optarg;
	pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
}

/* The TSC once the EAL has calibrated it: clock_gettime took 55 % of a
 * ping-pong client's time in a perf profile on this VM. ns = ns0 +
 * (tsc - tsc0) * mult / 2^32. */
static struct {
	uint64_t tsc0, ns0;
	uint64_t mult;             /* ns per tick, 32.32 fixed point; 0: none */
} clk;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void clock_calibrate(void)
{
	uint64_t hz = rte_get_tsc_hz();

	if (!hz)
		return;
	clk.ns0 = mono_ns();
	clk.tsc0 = rte_rdtsc();
	__atomic_store_n(&clk.mult, (uint64_t)((1000000000ull << 32) / hz), __ATOMIC_RELEASE);
}

static uint64_t dpdk_now_ns(void)
{
	uint64_t mult = __atomic_load_n(&clk.mult, __ATOMIC_ACQUIRE);

	if (!mult)
		return mono_ns();
	return clk.ns0 + (uint64_t)(((unsigned __int128)(rte_rdtsc() - clk.tsc0) * mult) >> 32);
}

/* ---- EAL arguments ------------------------------------------------------ */

static int has_arg(char **argv, int argc, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (strncmp(argv[i], *n, strlen(*n)) == 0)
				return 1;
	return 0;
}

/* "--lcores=0@(0-3)" naming exactly the CPUs the caller may run on, so the
 * EAL's pinning of its main lcore changes nothing. */
static void lcores_arg(const cpu_set_t *cpus, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "--lcores=0@(");

	for (int c = 0; c < CPU_SETSIZE && n + 8 < len; c++)
		if (CPU_ISSET(c, cpus))
			n += (size_t)snprintf(out + n, len - n, "%d,", c);
	if (out[n - 1] == ',')
		n--;
	snprintf(out + n, len - n, ")");
}

/* Whether the comma-separated device arguments dev (after the name)
 * hold key; its value into val (room for len). */
static int dev_kv(const char *dev, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);

	for (const char *s = strchr(dev, ','); s; s = strchr(s, ',')) {
		s++;
		if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
			const char *e = strchr(s + klen + 1, ',');
			size_t n = e ? (size_t)(e - s - klen - 1) : strlen(s + klen + 1);

			snprintf(val, len, "%.*s", (int)n, s + klen + 1);
			return 1;
		}
	}
	return 0;
}

/* The index in argv of the first memif device's arguments ("--vdev=net_memif0,..."
 * or "--vdev" then "net_memif0,..."), with *off where its name starts;
 * -1 when there is none. */
static int memif_vdev(char **argv, int argc, size_t *off)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		*off = 0;
		if (strncmp(a, "--vdev=", 7) == 0)
			*off = 7;
		else if (strcmp(a, "--vdev") == 0 && i + 1 < argc)
			a = argv[++i];
		else
			continue;
		if (strncmp(a + *off, "net_memif", 9) == 0 ||
		    strncmp(a + *off, "eth_memif", 9) == 0)
			return i;
	}
	return -1;
}

/*
 * A memif client end maps the server's rings and hands their buffers to
 * the stack without a copy (zero-copy=yes), unless the user said
 * otherwise: it costs the client less per frame than the copy, and it is
 * what two hosts' NICs would do. DPDK's memif takes it only with the
 * memory in one file per segment list (--single-file-segments), added
 * too. A server end is remembered for link_wait. zc holds the rewritten
 * device argument (room for zclen).
 */
static int memif_defaults(char **argv, int argc, char *zc, size_t zclen)
{
	static const char *const sfs_opts[] = { "--single-file-segments", NULL };
	char role[16] = "server", zcv[8] = "no";
	size_t off;
	int i = memif_vdev(argv, argc, &off);

	if (i < 0)
		return argc;
	dev_kv(argv[i] + off, "role", role, sizeof(role));
	if (strcmp(role, "client") != 0) {
		net.memif_server = 1;
		return argc;
	}
	if (!dev_kv(argv[i] + off, "zero-copy", zcv, sizeof(zcv)) &&
	    (size_t)snprintf(zc, zclen, "%s,zero-copy=yes", argv[i]) < zclen) {
		argv[i] = zc;
		snprintf(zcv, sizeof(zcv), "yes");
	}
	if (strcmp(zcv, "yes") == 0 && !has_arg(argv, argc, sfs_opts))
		argv[argc++] = "--single-file-segments";
	return argc;
}

/* Splits args into argv (in place in buf); adds the options a guest
 * process needs unless the user set them. Returns argc. */
static int eal_argv(const char *args, char *buf, size_t buflen, char **argv,
		    const cpu_set_t *cpus, char *lcores, size_t lcores_len)
{
	static char zc[1100]; /* (an argument of buf's, grown) */
	static const char *const cpu_opts[] = { "-l", "-c", "--lcores", NULL };
	static const char *const tel_opts[] = { "--telemetry", "--no-telemetry", NULL };
	static const char *const shconf_opts[] = { "--in-memory", "--no-shconf",
						   "--file-prefix", NULL };
	int argc = 0;
	char *save = NULL;

	argv[argc++] = "libaccel";
	snprintf(buf, buflen, "%s", args ? args : "");
	for (char *tok = strtok_r(buf, " \t\n", &save);
	     tok && argc < DEV_MAX_EAL_ARGS - 5; tok = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = tok;
	argc = memif_defaults(argv, argc, zc, sizeof(zc));
	if (!has_arg(argv, argc, cpu_opts)) {
		lcores_arg(cpus, lcores, lcores_len);
		argv[argc++] = lcores;
	}
	/* No telemetry socket and no shared config files: a guest in someone
	 * else's process leaves nothing behind in /var/run. */
	if (!has_arg(argv, argc, tel_opts))
		argv[argc++] = "--no-telemetry";
	if (!has_arg(argv, argc, shconf_opts))
		argv[argc++] = "--no-shconf";
	else
		net.shconf = !has_arg(argv, argc, (const char *const[]){ "--in-memory",
									"--no-shconf", NULL });
	argv[argc] = NULL;
	return argc;
}

/* ---- leftovers of EALs killed ---------------------------------------------- */

/* Removes dir's files and dir (a DPDK runtime directory holds files only). */
static void dir_remove(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	if (!(dp = opendir(dir)))
		return;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		    snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) < (int)sizeof(path))
			unlink(path);
	closedir(dp);
	rmdir(dir);
}

/* Whether the EAL whose runtime directory is dir is gone: a primary
 * process holds a write lock on its config file for as long as it lives
 * (DPDK's own test of a live primary, rte_eal_primary_proc_alive), and the
 * lock goes with the process, however it died. A directory with no config
 * yet, or one made in the last seconds (a process between making it and
 * locking it), is left. */
static int runtime_dir_orphaned(const char *dir)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX];
	struct stat st;
	int fd, gone;

	if (snprintf(path, sizeof(path), "%s/config", dir) >= (int)sizeof(path) ||
	    lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_mtime + DEV_RUNTIME_DIR_GRACE_S > time(NULL))
		return 0;
	fd = accel_real.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	gone = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
	accel_real.close(fd);
	return gone;
}

/* Removes the runtime directories of EALs that are gone (a shimmed
 * program killed with kill -9 leaves its /run/dpdk/<prefix>), before this
 * process's EAL starts (its own config is not locked yet, and closing a
 * config file it had locked would drop the lock). Where the EAL puts them:
 * /run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. */
static void runtime_dirs_sweep(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char base[PATH_MAX - 300], dir[PATH_MAX];
	struct dirent *d;
	DIR *dp;

	if (geteuid() == 0)
		snprintf(base, sizeof(base), "/run/dpdk");
	else
		snprintf(base, sizeof(base), "%s/dpdk", xdg && *xdg ? xdg : "/tmp");
	if (!(dp = opendir(base)))
		return;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.' ||
		    snprintf(dir, sizeof(dir), "%s/%s", base, d->d_name) >= (int)sizeof(dir))
			continue;
		if (runtime_dir_orphaned(dir)) {
			ACCEL_INFO("removing %s: the DPDK process that made it is gone", dir);
			dir_remove(dir);
		}
	}
	closedir(dp);
}

static int eal_start(const struct dev_net_conf *conf, const cpu_set_t *cpus)
{
	char buf[1024], lcores[512];
	char *argv[DEV_MAX_EAL_ARGS];
	int argc, rc, err;

	argc = eal_argv(conf->eal_args, buf, sizeof(buf), argv, cpus,
			lcores, sizeof(lcores));
	dpdk_log_route(conf->log_level);
	runtime_dirs_sweep();
	eal_starting = 1;
	rc = rte_eal_init(argc, argv);
	err = rte_errno;
	eal_starting = 0;
	rte_log_set_global_level(dpdk_level);
	if (rc < 0) {
		for (unsigned i = early_count > EARLY_LINES ? early_count - EARLY_LINES : 0;
		     i < early_count; i++)
			ACCEL_INFO("%s", early_log[i % EARLY_LINES]);
		snprintf(start_why, sizeof(start_why),
			 "DPDK EAL did not start (%s; DPDK: %s); check ACCEL_DPDK_ARGS='%s'",
			 rte_strerror(err), dpdk_cause(), conf->eal_args ? conf->eal_args : "");
		return -(err ? err : EINVAL);
	}
	return 0;
}

/* ---- the port ----------------------------------------------------------- */

/* The checksum offloads we use, as the port's capability bits. */
#define RX_CSUM_OFFLOADS (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)
#define TX_CSUM_OFFLOADS (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM)

static unsigned csum_bits(uint64_t offloads, uint64_t ip, uint64_t tcp)
{
	return ((offloads & ip) ? DEV_CSUM_IP : 0u) | ((offloads & tcp) ? DEV_CSUM_TCP : 0u);
}

static int port_setup(uint16_t port, unsigned nq, int rx_intr, uint64_t rx_off,
		      uint64_t tx_off)
{
	struct rte_eth_conf pconf;
	int rc;

	memset(&pconf, 0, sizeof(pconf));
	pconf.intr_conf.rxq = rx_intr ? 1 : 0;
	pconf.rxmode.offloads = rx_off;
	pconf.txmode.offloads = tx_off;
	rc = rte_eth_dev_configure(port, (uint16_t)nq, (uint16_t)nq, &pconf);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < nq; i++) {
		int sock = rte_eth_dev_socket_id(port);

		if (sock < 0)
			sock = 0;
		rc = rte_eth_rx_queue_setup(port, (uint16_t)i, DEV_RX_DESC,
					    (unsigned)sock, NULL, net.pool);
		if (rc < 0)
			return rc;
		rc = rte_eth_tx_queue_setup(port, (uint16_t)i, DEV_TX_DESC,
					    (unsigned)sock, NULL);
		if (rc < 0)
			return rc;
	}
	return rte_eth_dev_start(port);
}

/* Waits up to ms for link up. A memif server's link comes up when its
 * client connects, which may be long after the server starts (it has to
 * be there first): unless the user set the wait, the server says so and
 * goes on at once, the link coming up whenever the client connects. */
static void link_wait(uint16_t port, unsigned ms, int ms_set)
{
	struct rte_eth_link link;
	uint64_t end;

	if (net.memif_server && !ms_set) {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(port, &link);
		net.info.link_up = link.link_status == RTE_ETH_LINK_UP;
		if (!net.info.link_up)
			ACCEL_WARN("port %u: memif server waiting for its client; serving "
				   "meanwhile, the link comes up when the client connects",
				   port);
		return;
	}
	end = dpdk_now_ns() + (uint64_t)ms * 1000000ull;

	for (;;) {
		memset(&link, 0, sizeof(link));
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status == RTE_ETH_LINK_UP || dpdk_now_ns() >= end)
			break;
		usleep(10000);
	}
	net.info.link_up = link.link_status == RTE_ETH_LINK_UP;
	if (!net.info.link_up)
		ACCEL_INFO("port %u: link still down after %u ms; going on",
			   port, ms);
}

/*
 * The tap PMD gives the kernel side of its interface the port's own MAC.
 * Alone that works (the kernel sends to the port whatever it is told), but
 * a bridge the tap is joined to takes an address of one of its ports'
 * devices for its own: frames from the other ports to this node's MAC go
 * up to the host and never reach the port. So the kernel side gets a MAC
 * of its own, the port's with bit 2 of the first byte flipped (still a
 * locally administered unicast address), and the port keeps its MAC.
 * Returns 1 when changed (kmac set), 0 when not a tap or already distinct,
 * a negative errno when the kernel refused.
 */
static int tap_kernel_mac(const struct rte_eth_dev_info *di, const uint8_t *mac,
			  char *ifname, uint8_t *kmac)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (strcmp(di->driver_name, "net_tap") != 0 || di->if_index == 0 ||
	    !if_indextoname(di->if_index, ifname))
		return 0;
	fd = accel_real.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (accel_real.ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		rc = -errno;
	else if (memcmp(ifr.ifr_hwaddr.sa_data, mac, DEV_ETH_ALEN) == 0) {
		memcpy(kmac, mac, DEV_ETH_ALEN);
		kmac[0] ^= 0x04;
		memcpy(ifr.ifr_hwaddr.sa_data, kmac, DEV_ETH_ALEN);
		/* tun devices change their address while up (IFF_LIVE_ADDR_CHANGE) */
		rc = accel_real.ioctl(fd, SIOCSIFHWADDR, &ifr) < 0 ? -errno : 1;
	}
	accel_real.close(fd);
	return rc;
}

static void tap_report(const struct rte_eth_dev_info *di, const uint8_t *mac)
{
	char ifname[IF_NAMESIZE] = "";
	uint8_t k[DEV_ETH_ALEN];
	int rc = tap_kernel_mac(di, mac, ifname, k);

	if (rc > 0)
		ACCEL_INFO("tap %s: kernel side given its own MAC %02x:%02x:%02x:%02x:%02x:%02x "
			   "(the port keeps its own), so a bridge forwards to the port",
			   ifname, k[0], k[1], k[2], k[3], k[4], k[5]);
	else if (rc < 0)
		ACCEL_INFO("tap %s: cannot give the kernel side a MAC of its own (%s); "
			   "a bridge will not forward to the port", ifname, strerror(-rc));
}

static int port_start(const struct dev_net_conf *conf)
{
	struct rte_eth_dev_info di;
	struct rte_ether_addr mac;
	uint16_t port = RTE_MAX_ETHPORTS, mtu = 1500;
	unsigned nq, nmbufs;
	int rc;

	RTE_ETH_FOREACH_DEV(port) break;
	if (port >= RTE_MAX_ETHPORTS) {
		for (unsigned i = early_count > EARLY_LINES ? early_count - EARLY_LINES : 0;
		     i < early_count; i++)
			ACCEL_INFO("%s", early_log[i % EARLY_LINES]);
		if (early_count) /* a device named, and DPDK said why it failed */
			snprintf(start_why, sizeof(start_why), "DPDK found no port (DPDK: %s)",
				 dpdk_cause());
		else
			snprintf(start_why, sizeof(start_why), "DPDK found no port: "
				 "ACCEL_DPDK_ARGS must name one (e.g. --vdev=net_tap0,iface=acc0)");
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(port, &di);
	if (rc < 0)
		return rc;
	nq = conf->queues ? conf->queues : 1;
	nq = RTE_MIN(nq, RTE_MIN((unsigned)di.max_rx_queues, (unsigned)di.max_tx_queues));
	nq = RTE_MIN(nq, (unsigned)DEV_MAX_QUEUES);
	if (nq == 0)
		nq = 1;
	nmbufs = RTE_MAX(conf->mbufs, nq * (DEV_RX_DESC + DEV_TX_DESC) + 2048u);
	net.pool = rte_pktmbuf_pool_create("accel_pool", nmbufs, DEV_MBUF_CACHE,
					   0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   (int)rte_socket_id());
	if (!net.pool) {
		ACCEL_ERR("cannot allocate %u mbufs (%s): raise -m in ACCEL_DPDK_ARGS "
			  "or lower ACCEL_MBUFS", nmbufs, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* Checksums in hardware where the port offers them (net_tap does them
	 * in its own software, memif and af_packet not at all). */
	uint64_t rx_off = conf->no_csum_offload ? 0 : di.rx_offload_capa & RX_CSUM_OFFLOADS;
	uint64_t tx_off = conf->no_csum_offload ? 0 : di.tx_offload_capa & TX_CSUM_OFFLOADS;

	/* Sleep on receive interrupts where the PMD has them; else poll. */
	rc = port_setup(port, nq, 1, rx_off, tx_off);
	if (rc < 0) {
		rte_eth_dev_stop(port);
		rc = port_setup(port, nq, 0, rx_off, tx_off);
	}
	if (rc < 0) {
		ACCEL_ERR("port %u (%s) did not start: %s", port, di.driver_name,
			  rte_strerror(-rc));
		return rc;
	}
	rte_eth_macaddr_get(port, &mac);
	rte_eth_dev_get_mtu(port, &mtu);
	tap_report(&di, mac.addr_bytes);
	net.info.port_id = port;
	snprintf(net.info.driver, sizeof(net.info.driver), "%s", di.driver_name);
	memcpy(net.info.mac, mac.addr_bytes, DEV_ETH_ALEN);
	net.info.mtu = mtu;
	net.info.queues = nq;
	net.info.rx_csum = csum_bits(rx_off, RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
				     RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
	net.info.tx_csum = csum_bits(tx_off, RTE_ETH_TX_OFFLOAD_IPV4_CKSUM,
				     RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
	for (unsigned i = 0; i < nq; i++) {
		net.q[i].qid = (uint16_t)i;
		net.q[i].wake_epfd = -1;
		for (unsigned from = 0; from < nq && nq > 1; from++) {
			char name[RTE_RING_NAMESIZE];

			if (from == i)
				continue;
			snprintf(name, sizeof(name), "accel_push%u_%u", from, i);
			net.q[i].pushed[from] = rte_ring_create(name, DEV_PUSH_RING,
								(int)rte_socket_id(),
								RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!net.q[i].pushed[from]) {
				ACCEL_ERR("port %u: no hand-over ring from queue %u to %u (%s)",
					  port, from, i, rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
	}
	link_wait(port, conf->link_wait_ms, conf->link_wait_set);
	return 0;
}

/* ---- one owner per port ------------------------------------------------ */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/*
 * A program exec'd by the port's owner inherits LD_PRELOAD and the same
 * ACCEL_DPDK_ARGS. Starting the same device again would not always fail:
 * a second tap opener joins the interface as an extra queue and takes some
 * of its packets. So each process holds an flock on a file named for the
 * arguments, the network namespace (taps live in one) and its slot; a
 * later process finds slot 0 taken and stays on the kernel.
 *
 * Except the processes of one group (dev_net_conf.share_group: the shim
 * passes its process tree, a prefork server and its workers) on a tap
 * the arguments name (iface=): there each process takes the first free
 * slot and opens the interface as one more queue of it (the tap PMD asks
 * for IFF_MULTI_QUEUE); the kernel spreads flows over the queues by their
 * hash and sends a flow's packets to the queue that last wrote one of it
 * (tun's automq flow table), so each process serves the connections it
 * accepted or made. The lock is per queue: one process leaving frees its
 * slot only, and the interface lives while any queue is open. A file's
 * first line is its holder's pid, the second its group.
 *
 * The holder removes its file at exit, once the port is closed; a start
 * removes those whose holders died without (a signal, kill -9): a file
 * whose flock is free has no holder. (A process dying of a signal leaves
 * its file: until it is gone its port is still open, and a new owner must
 * not come in that moment.) Removing a lock file
 * races with a process that opened it and is about to lock it, so the lock
 * counts only when the name still leads to the inode locked (the usual
 * check); otherwise the opener tries again with the new file.
 */
#define lock_dirs accel_stats_dirs
#define DEV_SHARE_SLOTS 64 /* processes on one tap (tun allows 256 queues) */

/* fd (locked) is still the file path names. */
static int lock_current(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* The tap interface the arguments name (its iface=), when they name one
 * device and it is a tap: then processes of a group may share it. */
static int tap_named(const char *args, char *ifname, size_t len)
{
	const char *t = args ? strstr(args, "net_tap") : NULL;
	char dev[256];
	size_t n;

	if (!t || strstr(t + 1, "net_") || strstr(args, "-a ") || strstr(args, "--allow"))
		return 0;
	n = strcspn(t, " \t\n");
	snprintf(dev, sizeof(dev), "%.*s", (int)n, t);
	return dev_kv(dev, "iface", ifname, len) && ifname[0];
}

/* The netdev the arguments' one net_af_xdp device names (iface=), when it
 * names no queues of its own (start_queue=, queue_count=): then processes
 * of a group may share the netdev, one queue each. Returns the netdev's
 * receive queues (sysfs), 0 when not so. */
static unsigned xdp_named(const char *args, char *ifname, size_t len)
{
	const char *t = args ? strstr(args, "net_af_xdp") : NULL;
	char dev[256], v[16], path[96];
	unsigned n = 0;
	struct dirent *e;
	DIR *d;

	if (!t || strstr(t + 1, "net_") || strstr(args, "-a ") || strstr(args, "--allow"))
		return 0;
	snprintf(dev, sizeof(dev), "%.*s", (int)strcspn(t, " \t\n"), t);
	if (!dev_kv(dev, "iface", ifname, len) || !ifname[0] ||
	    dev_kv(dev, "start_queue", v, sizeof(v)) || dev_kv(dev, "queue_count", v, sizeof(v)))
		return 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(d);
	return n;
}

/* The arguments with this process's queue of a shared netdev added to its
 * net_af_xdp device (slot k: start_queue=k, queue_count=1). */
static const char *xdp_queue_args(const char *args, char *buf, size_t len, unsigned slot)
{
	const char *t = strstr(args, "net_af_xdp");
	size_t at;

	if (!t)
		return args;
	at = (size_t)(t - args) + strcspn(t, " \t\n");
	if ((size_t)snprintf(buf, len, "%.*s,start_queue=%u,queue_count=1%s", (int)at, args, slot,
			     args + at) >= len)
		return args;
	return buf;
}

static void lock_name(char *path, size_t len, size_t dir, uint64_t h, unsigned slot)
{
	if (slot == 0) /* (the name a port alone has always had) */
		snprintf(path, len, "%s/accel-port-%016llx.lock", lock_dirs[dir],
			 (unsigned long long)h);
	else
		snprintf(path, len, "%s/accel-port-%016llx-q%u.lock", lock_dirs[dir],
			 (unsigned long long)h, slot);
}

/* Whose a lock file is: pid and group as its holder wrote them. */
static void lock_holder(int fd, char *pid, size_t plen, char *group, size_t glen)
{
	char buf[128];
	ssize_t n = accel_real.pread(fd, buf, sizeof(buf) - 1, 0);
	char *nl;

	buf[n > 0 ? n : 0] = '\0';
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	snprintf(pid, plen, "%.*s", (int)(plen - 1), buf);
	snprintf(group, glen, "%.*s", (int)(glen - 1), nl ? nl + 1 : "");
	nl = strchr(group, '\n');
	if (nl)
		*nl = '\0';
}

/* Tries slot's file: 0 (locked, *fdp), 1 (held by group, or by anyone
 * when group is NULL: *pid its holder's), 2 (held by another group) or a
 * negative errno. */
static int lock_try(uint64_t h, unsigned slot, const char *group, int *fdp,
		    char *path, size_t plen, char *pid, size_t pidlen)
{
	for (int tries = 0; tries < 8; tries++) {
		char g[96];
		int fd = -1;

		for (size_t i = 0; i < 2 && fd < 0; i++) {
			lock_name(path, plen, i, h, slot);
			fd = accel_real.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		}
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			lock_holder(fd, pid, pidlen, g, sizeof(g));
			accel_real.close(fd);
			return group && g[0] && !strcmp(g, group) ? 1 : 2;
		}
		if (lock_current(fd, path)) {
			*fdp = fd;
			return 0;
		}
		accel_real.close(fd); /* removed under us: the new file decides */
	}
	return -EAGAIN;
}

/* The other slots' holders: 0 none, 1 only group's, 2 another group's
 * (*pid its holder). */
static int lock_others(uint64_t h, unsigned mine, const char *group, char *pid,
		       size_t pidlen)
{
	int seen = 0;

	for (unsigned slot = 0; slot < DEV_SHARE_SLOTS && seen < 2; slot++) {
		char path[112], g[96];
		int fd = -1;

		for (size_t i = 0; i < 2 && fd < 0 && slot != mine; i++) {
			lock_name(path, sizeof(path), i, h, slot);
			fd = accel_real.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		}
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			lock_holder(fd, pid, pidlen, g, sizeof(g));
			seen = strcmp(g, group) ? 2 : 1;
		}
		accel_real.close(fd);
	}
	return seen;
}

/* The port's name in the lock files: its arguments and network namespace. */
static uint64_t port_hash(const char *args)
{
	char ns[64] = "";
	ssize_t n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);

	if (n > 0)
		ns[n] = '\0';
	return fnv1a(ns, fnv1a(args ? args : "", 0xcbf29ce484222325ull));
}

/*
 * The processes of a group start their ports one at a time: a joiner
 * reads the MAC the first gave the interface (tap_join_args), so the
 * first must have made it. A file beside the slots' (its holder's flock
 * says a start is under way; one that died let go); waited for up to
 * DEV_START_WAIT_MS. Returns the descriptor to close when started, or -1.
 */
#define DEV_START_WAIT_MS 10000
#define DEV_SLOT_WAIT_MS 5000 /* for a queue of the group's to come free */

static int start_lock(uint64_t h)
{
	char path[112];
	uint64_t end = dev_now_ns() + DEV_START_WAIT_MS * 1000000ull;
	int fd = -1;

	snprintf(path, sizeof(path), "%s/accel-port-%016llx-start.lock", lock_dirs[0],
		 (unsigned long long)h);
	mkdir(lock_dirs[0], 01777);
	while (dev_now_ns() < end) {
		fd = accel_real.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && lock_current(fd, path))
			return fd;
		accel_real.close(fd);
		usleep(5000);
	}
	return -1; /* (started without: a joiner may take a MAC of its own) */
}

static int port_lock(const char *args, const char *group, char *why, size_t whylen)
{
	char path[112], pid[24] = "", ifname[IF_NAMESIZE], line[128];
	uint64_t h = port_hash(args);
	unsigned slots = 1, slot, xdp = 0;
	int fd = -1, rc = 1, others = 0, len;

	if (group && group[0] && tap_named(args, ifname, sizeof(ifname)))
		slots = DEV_SHARE_SLOTS;
	else if (group && group[0] && (xdp = xdp_named(args, ifname, sizeof(ifname))) > 1)
		slots = xdp < DEV_SHARE_SLOTS ? xdp : DEV_SHARE_SLOTS;
	mkdir(lock_dirs[0], 01777);
	/* the first free slot past those of my group */
	for (slot = 0; slot < slots && rc == 1; slot++)
		rc = lock_try(h, slot, slots > 1 ? group : NULL, &fd, path, sizeof(path),
			      pid, sizeof(pid));
	slot--;
	if (rc == 0 && slots > 1 &&
	    (others = lock_others(h, slot, group, pid, sizeof(pid))) == 2) {
		accel_real.close(fd); /* another group has the interface */
		rc = 2;
	}
	if (rc < 0) {
		snprintf(why, whylen, "cannot create a port lock file (%s)", strerror(-rc));
		return rc;
	}
	if (rc == 1) {
		snprintf(why, whylen, "the port's %u shared queues are all in use", slots);
		return -EXFULL; /* (dpdk_net_open waits, then says -EBUSY) */
	}
	if (rc == 2) {
		snprintf(why, whylen, "the port is in use by pid %s (%s)", pid[0] ? pid : "?",
			 path);
		return -EBUSY;
	}
	len = snprintf(line, sizeof(line), "%d\n%s\n", (int)getpid(), slots > 1 ? group : "");
	if (ftruncate(fd, 0) == 0)
		(void)!accel_real.pwrite(fd, line, (size_t)len, 0);
	net.lock_fd = own_fd(fd);
	net.lock_hash = h;
	net.lock_slot = slot;
	net.joined = others == 1;
	if (slots > 1 && !xdp)
		snprintf(net.tap_name, sizeof(net.tap_name), "%s", ifname);
	if (slots > 1 && xdp) {
		snprintf(net.xdp_name, sizeof(net.xdp_name), "%s", ifname);
		net.xdp_queues = slots;
	}
	snprintf(net.lock_path, sizeof(net.lock_path), "%s", path);
	accel_lock_sweep(path);
	return 0;
}

/*
 * A process joining a tap its group has open takes the MAC the others
 * have: the kernel keeps one neighbour entry for the port's address, and
 * whichever queue a flow lands on must take frames sent to it. The tap
 * PMD would make a random one; the kernel side has the port's with bit 2
 * of the first byte flipped (tap_kernel_mac), so the port's is that
 * flipped back, given to the PMD as its mac= argument. Returns args, or
 * buf holding them with the MAC added.
 */
static int kept_for(uint64_t h);

static const char *tap_join_args(const char *args, char *buf, size_t len)
{
	const char *t = strstr(args, "net_tap");
	struct ifreq ifr;
	uint8_t *m;
	size_t at;
	int fd, ok;

	if (!t || !net.tap_name[0] || (!net.joined && !kept_for(net.lock_hash)))
		return args;
	at = (size_t)(t - args) + strcspn(t, " \t\n");
	if (memmem(t, at - (size_t)(t - args), ",mac=", 5))
		return args; /* (the user's MAC, the same in every process) */
	fd = accel_real.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return args;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", net.tap_name);
	ok = accel_real.ioctl(fd, SIOCGIFHWADDR, &ifr) == 0;
	accel_real.close(fd);
	if (!ok)
		return args;
	m = (uint8_t *)ifr.ifr_hwaddr.sa_data;
	if ((size_t)snprintf(buf, len, "%.*s,mac=%02x:%02x:%02x:%02x:%02x:%02x%s", (int)at, args,
			     m[0] ^ 0x04, m[1], m[2], m[3], m[4], m[5], args + at) >= len)
		return args;
	return buf;
}

/*
 * A tap the group keeps between its members. The kernel deletes a tap
 * when its last queue closes, with the addresses and routes the host gave
 * it; but a prefork server replaces its workers (nginx -s reload starts
 * new ones and the old ones leave, often before the first new one has
 * started its port), so a member that leaves last while its group lives
 * on (the shim: its parent still holds the listener) makes the tap
 * persistent, and notes so in a file beside the slots', with the pid of
 * the process the group lives in. The member that leaves last when the
 * group is over, that process's exit (dev_net_group_exit) or the next
 * start after it died lets the tap go again. A tap that was persistent
 * before (the user's own, ip tuntap add) is never touched.
 */
static void kept_name(char *path, size_t len, uint64_t h)
{
	snprintf(path, len, "%s/accel-port-%016llx-kept", lock_dirs[0], (unsigned long long)h);
}

/* The pid the tap was kept for, 0 when it was not. */
static int kept_for(uint64_t h)
{
	char path[112], buf[24] = "";
	int fd, pid;
	ssize_t n;

	kept_name(path, sizeof(path), h);
	fd = accel_real.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = accel_real.read(fd, buf, sizeof(buf) - 1);
	accel_real.close(fd);
	buf[n > 0 ? n : 0] = '\0';
	pid = atoi(buf);
	return pid > 0 ? pid : 0;
}

/* IFF_PERSIST on the interface named (its tun_flags in sysfs). */
static int tap_persistent(const char *name)
{
	char path[96], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	fd = accel_real.open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = accel_real.read(fd, buf, sizeof(buf) - 1);
	accel_real.close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 && (strtoul(buf, NULL, 16) & IFF_PERSIST);
}

/* Sets IFF_PERSIST through one of this process's queues of the tap (the
 * PMD's descriptors, found among ours): no queue is added, not even for
 * a moment. */
static int tap_persist_own(const char *name, int on)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int rc = -ENOENT;

	if (!d)
		return -errno;
	while (rc != 0 && (e = readdir(d))) {
		char link[32], path[300];
		struct ifreq ifr;
		int fd = atoi(e->d_name);
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0 || fd == dirfd(d))
			continue;
		link[n] = '\0';
		memset(&ifr, 0, sizeof(ifr));
		if (strcmp(link, "/dev/net/tun") || accel_real.ioctl(fd, TUNGETIFF, &ifr) < 0 ||
		    strcmp(ifr.ifr_name, name))
			continue;
		rc = accel_real.ioctl(fd, TUNSETPERSIST, on) < 0 ? -errno : 0;
	}
	closedir(d);
	return rc;
}

/* The same from a process with no queue of it: one is attached for the
 * moment it takes (no member has one then: nothing is taken from it). */
static int tap_unpersist(const char *name)
{
	struct ifreq ifr;
	int fd = accel_real.open("/dev/net/tun", O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	rc = accel_real.ioctl(fd, TUNSETIFF, &ifr) < 0 || accel_real.ioctl(fd, TUNSETPERSIST, 0) < 0
		     ? -errno
		     : 0;
	accel_real.close(fd); /* (the interface goes with it) */
	return rc;
}

/* A leaving member's say: 1 when the tap stays for the group. */
static int tap_keep(int others)
{
	char path[112], line[24];
	int kept = kept_for(net.lock_hash), fd, len;

	kept_name(path, sizeof(path), net.lock_hash);
	if (net.group_lives && net.group_lives()) {
		if (kept || tap_persistent(net.tap_name))
			return 1; /* (kept already, or the user's: persistent) */
		if (tap_persist_own(net.tap_name, 1) < 0)
			return others;
		fd = accel_real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
				     0644);
		if (fd >= 0) {
			len = snprintf(line, sizeof(line), "%d\n", (int)getppid());
			(void)!accel_real.write(fd, line, (size_t)len);
			accel_real.close(fd);
		}
		ACCEL_INFO("tap %s: kept for the group (pid %d) until a member comes back",
			   net.tap_name, (int)getppid());
		return 1;
	}
	if (others)
		return 1;
	if (kept) {
		tap_persist_own(net.tap_name, 0);
		unlink(path);
	}
	return 0;
}

/* The process the tap was kept for exits, or it died (a start): the
 * tap goes unless a member has come back. */
static void tap_release(uint64_t h, const char *name, int pid)
{
	char path[112], who[24];

	if (lock_others(h, DEV_SHARE_SLOTS, "", who, sizeof(who)))
		return;
	kept_name(path, sizeof(path), h);
	if (kept_for(h) != pid)
		return;
	if (tap_unpersist(name) == 0)
		ACCEL_INFO("tap %s: no longer kept (pid %d %s)", name, pid,
			   pid == (int)getpid() ? "exits" : "is gone");
	unlink(path);
}

static void dpdk_net_group_exit(const char *eal_args)
{
	char ifname[IF_NAMESIZE];
	uint64_t h;

	if (!tap_named(eal_args, ifname, sizeof(ifname)))
		return;
	h = port_hash(eal_args);
	if (kept_for(h) == (int)getpid())
		tap_release(h, ifname, (int)getpid());
}

/* The tap PMD takes the interface down as it stops; while other
 * processes of the group have queues on it, or it is kept for the group,
 * it goes up again (its addresses' routes come back with it). */
static void tap_leave(int keep)
{
	struct ifreq ifr;
	int fd;

	if (!net.tap_name[0] || !keep)
		return;
	fd = accel_real.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", net.tap_name);
	if (accel_real.ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		accel_real.ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	accel_real.close(fd);
}

static int dpdk_net_open(const struct dev_net_conf *conf, char *why, size_t whylen)
{
	static char joined_args[300];
	struct dev_net_conf c = *conf;
	struct host_state h;
	int rc, starting = -1;

	snprintf(why, whylen, "the port did not start");
	net.own_fd = conf->own_fd;
	for (int rx = 0; rx < 2; rx++) {
		char err[160];

		if (impair_parse(rx ? conf->impair_rx : conf->impair_tx,
				 rx ? &net.impair_rx : &net.impair_tx, err, sizeof(err)) < 0) {
			snprintf(why, whylen, "%s impairment %s", rx ? "receive" : "transmit",
				 err);
			return -EINVAL;
		}
	}
	net.group_lives = conf->group_lives;
	/* Every queue held by the group: its members are being replaced
	 * (nginx -s reload starts the new workers before the old ones have
	 * left), so wait a while for one to go, out of the start lock (a
	 * member leaves under it). */
	for (uint64_t until = dev_now_ns() + DEV_SLOT_WAIT_MS * 1000000ull;;) {
		if (conf->share_group && conf->share_group[0] &&
		    xdp_named(conf->eal_args, joined_args, sizeof(joined_args)) > 1)
			starting = start_lock(port_hash(conf->eal_args));
		else if (conf->share_group && conf->share_group[0] &&
			 tap_named(conf->eal_args, joined_args, sizeof(joined_args))) {
			uint64_t h = port_hash(conf->eal_args);
			int kept;

			starting = start_lock(h);
			kept = kept_for(h);
			if (kept && kill(kept, 0) < 0 && errno == ESRCH)
				tap_release(h, joined_args, kept); /* (kept for one that died) */
		}
		rc = port_lock(conf->eal_args, conf->share_group, why, whylen);
		if (rc >= 0)
			break;
		if (starting >= 0)
			accel_real.close(starting);
		starting = -1;
		if (rc != -EXFULL || dev_now_ns() >= until)
			return rc == -EXFULL ? -EBUSY : rc;
		usleep(20000);
	}
	if (c.eal_args && net.xdp_name[0])
		c.eal_args = xdp_queue_args(c.eal_args, joined_args, sizeof(joined_args),
					    net.lock_slot);
	else if (c.eal_args)
		c.eal_args = tap_join_args(c.eal_args, joined_args, sizeof(joined_args));
	conf = &c;
	/* The port's queues are opened by port_start, and the tap PMD arms
	 * its signal there: the guard covers both steps. */
	host_save(&h);
	rc = eal_start(conf, &h.cpus);
	if (rc == 0) {
		clock_calibrate();
		rc = port_start(conf);
	}
	host_restore(&h);
	if (starting >= 0)
		accel_real.close(starting); /* (the next of the group may start) */
	if (rc == 0 && conf->pcap && *conf->pcap) {
		rc = cap_open(conf->pcap, conf->pcap_snaplen, net.info.port_id,
			      net.own_fd, start_why, sizeof(start_why));
		if (rc < 0) {
			rte_eth_dev_stop(net.info.port_id);
			rte_eth_dev_close(net.info.port_id);
		}
	}
	if (rc < 0 && start_why[0])
		snprintf(why, whylen, "%s", start_why);
	else if (rc < 0)
		snprintf(why, whylen, "port set-up failed: %s (DPDK: %s)", strerror(-rc),
			 early_count ? dpdk_cause() : "no line");
	if (rc < 0)
		return rc;
	ACCEL_INFO("port %u (%s) up: %02x:%02x:%02x:%02x:%02x:%02x mtu %u, %u queue(s), "
		   "checksum offload rx %s tx %s",
		   net.info.port_id, net.info.driver, net.info.mac[0],
		   net.info.mac[1], net.info.mac[2], net.info.mac[3],
		   net.info.mac[4], net.info.mac[5], net.info.mtu, net.info.queues,
		   dev_csum_names(net.info.rx_csum), dev_csum_names(net.info.tx_csum));
	if (net.tap_name[0])
		ACCEL_INFO("tap %s: queue slot %u, shared with the processes serving the same "
			   "listener%s", net.tap_name, net.lock_slot,
			   net.joined ? " (joined theirs)" : "");
	if (net.xdp_name[0])
		ACCEL_INFO("af_xdp %s: queue %u of %u, shared with the processes serving the "
			   "same listener", net.xdp_name, net.lock_slot, net.xdp_queues);
	if ((net.tap_name[0] || net.xdp_name[0]) && net.info.queues == 1) {
		const struct rte_mbuf_dynflag handed = { .name = "libaccel_handed" };
		int bit = rte_mbuf_dynflag_register(&handed);
		char path[128];

		snprintf(path, sizeof(path), "%s/accel-port-%016llx.share", lock_dirs[0],
			 (unsigned long long)net.lock_hash);
		net.handed_flag = bit >= 0 ? 1ull << bit : 0;
		net.share = share_open(path, net.lock_slot, net.own_fd);
		if (!net.share)
			ACCEL_WARN("%s: no shared region (%s): a frame for another process's "
				   "port is refused", net.tap_name[0] ? net.tap_name : net.xdp_name,
				   path);
	}
	net.asym = asym_fence_init();
	net.owner = getpid();
	__atomic_store_n(&net.opened, 1, __ATOMIC_RELEASE);
	return 0;
}

static int dpdk_asym_fences(void)
{
	return net.asym;
}

/* With a --file-prefix of the user's, the EAL keeps its shared config,
 * memory maps and multi-process socket in /run/dpdk/<prefix> and leaves
 * them there at exit; the owner removes them as it closes the port (a
 * process killed leaves them, as DPDK itself does: runtime_dirs_sweep). */
static void runtime_dir_remove(void)
{
	const char *dir = rte_eal_get_runtime_dir();

	if (net.shconf && dir && *dir)
		dir_remove(dir);
}

/*
 * A member of an af_xdp group that leaves while others use the interface
 * closes its XDP socket itself, not through the PMD: the PMD's close
 * (libxdp's xsk_socket__delete) takes the socket's queue out of the
 * program's map and, when libxdp's count of the program's users comes to
 * zero, detaches the interface's program, also under a member that has
 * attached to it since (t_nginx_xdp: after a reload, a new worker that got
 * no frame from the wire and the fetches its queue had, lost; the
 * interface's program id changed with no worker changing). The kernel,
 * closing the socket, takes out only its own entry. The last member
 * leaves through the PMD, under the start lock (docs/DESIGN.md, "Port
 * kinds", says what is not known of the program after that).
 */
#ifndef AF_XDP
#define AF_XDP 44
#endif

static void xdp_sockets_close(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), dom = 0;
		socklen_t len = sizeof(dom);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (accel_real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 &&
		    dom == AF_XDP)
			accel_real.close(fd);
	}
	closedir(d);
}

static void dpdk_net_close(void)
{
	uint64_t end;
	int keep = 0, leaving = -1, others = 0;

	if (!__atomic_load_n(&net.opened, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&net.stopping, 1, __ATOMIC_SEQ_CST);
	/* Pairs with dev_netq_enter: a thread either saw stopping, or is seen
	 * active here and is waited for. */
	if (net.asym)
		asym_fence_heavy();
	end = dpdk_now_ns() + DEV_CLOSE_WAIT_MS * 1000000ull;
	for (unsigned i = 0; i < net.info.queues; i++)
		while (__atomic_load_n(&net.q[i].active, __ATOMIC_SEQ_CST) &&
		       dpdk_now_ns() < end)
			sched_yield();
	net.opened = 0;
	cap_close();
	if (net.share && getpid() == net.owner) {
		share_close(net.share);
		net.share = NULL;
	}
	/* Members leave one at a time, as they start (start_lock): two that
	 * left at once would each see the other and neither keep the tap. */
	if (net.tap_name[0]) {
		char pid[24];

		leaving = start_lock(net.lock_hash);
		keep = tap_keep(lock_others(net.lock_hash, net.lock_slot, "", pid, sizeof(pid)));
	}
	if (net.xdp_name[0]) { /* (a joiner attaching now holds the start lock) */
		char pid[24];

		if (!(others = lock_others(net.lock_hash, net.lock_slot, "", pid, sizeof(pid)))) {
			leaving = start_lock(net.lock_hash);
			others = lock_others(net.lock_hash, net.lock_slot, "", pid, sizeof(pid));
		}
	}
	if (others) {
		xdp_sockets_close();
	} else {
		rte_eth_dev_stop(net.info.port_id);
		rte_eth_dev_close(net.info.port_id);
	}
	tap_leave(keep);
	if (net.lock_path[0])
		unlink(net.lock_path); /* (before the flock goes: lock_current) */
	if (getpid() == net.owner)
		runtime_dir_remove();
	accel_real.close(net.lock_fd); /* the next owner may come */
	if (leaving >= 0)
		accel_real.close(leaving);
}

static int dpdk_net_port_stats(struct dev_port_stats *out)
{
	struct rte_eth_stats e;

	memset(out, 0, sizeof(*out));
	if (!__atomic_load_n(&net.opened, __ATOMIC_ACQUIRE) ||
	    rte_eth_stats_get(net.info.port_id, &e) != 0)
		return -ENODEV;
	out->rx_pkts = e.ipackets;
	out->tx_pkts = e.opackets;
	out->rx_bytes = e.ibytes;
	out->tx_bytes = e.obytes;
	out->rx_missed = e.imissed;
	out->rx_errors = e.ierrors;
	out->tx_errors = e.oerrors;
	out->rx_nombuf = e.rx_nombuf;
	out->pool_in_use = rte_mempool_in_use_count(net.pool);
	out->pool_free = rte_mempool_avail_count(net.pool);
	return 0;
}

/* DPDK's generic counters, which rte_eth_xstats repeats first: already in
 * dev_port_stats, under its names (one name per counter). */
static const char *const xstats_basic[] = {
	"rx_good_packets", "tx_good_packets", "rx_good_bytes", "tx_good_bytes",
	"rx_missed_errors", "rx_errors", "tx_errors", "rx_mbuf_allocation_errors",
};

static int xstat_is_basic(const char *name)
{
	for (size_t i = 0; i < sizeof(xstats_basic) / sizeof(xstats_basic[0]); i++)
		if (!strcmp(name, xstats_basic[i]))
			return 1;
	return 0;
}

static unsigned dpdk_net_port_xstats(struct dev_port_xstat *out, unsigned max)
{
	enum { XMAX = 256 };
	static struct rte_eth_xstat_name names[XMAX];
	static struct rte_eth_xstat vals[XMAX];
	int nn, nv;
	unsigned k = 0;

	if (!__atomic_load_n(&net.opened, __ATOMIC_ACQUIRE))
		return 0;
	nn = rte_eth_xstats_get_names(net.info.port_id, names, XMAX);
	nv = rte_eth_xstats_get(net.info.port_id, vals, XMAX);
	if (nn <= 0 || nv <= 0 || nn > XMAX || nv > XMAX)
		return 0;
	for (int i = 0; i < nv && k < max; i++) {
		const char *name;

		if (vals[i].id >= (uint64_t)nn)
			continue;
		name = names[vals[i].id].name;
		if (xstat_is_basic(name))
			continue;
		snprintf(out[k].name, sizeof(out[k].name), "port_%s", name);
		/* (a name is one word in the counters file) */
		for (char *c = out[k].name; *c; c++)
			if (*c == ' ' || *c == '=' || *c == '\n')
				*c = '_';
		out[k++].value = vals[i].value;
	}
	return k;
}

static const struct dev_net_info *dpdk_net_info(void)
{
	return __atomic_load_n(&net.opened, __ATOMIC_ACQUIRE) ? &net.info : NULL;
}

static int dpdk_thread_is_internal(void)
{
	return rte_thread_is_intr();
}

static void dpdk_thread_register(void)
{
	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() < 0)
		ACCEL_DEBUG("no lcore id for this thread: mbufs without a cache (%s)",
			    rte_strerror(rte_errno));
}

static void dpdk_thread_unregister(void)
{
	if (rte_lcore_id() != LCORE_ID_ANY && rte_lcore_id() != rte_get_main_lcore())
		rte_thread_unregister();
}

/* ---- queues ------------------------------------------------------------- */

static void wake_setup(struct dev_netq *q)
{
	int epfd = accel_real.epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0)
		return;
	if (rte_eth_dev_rx_intr_ctl_q(net.info.port_id, q->qid, epfd,
				      RTE_INTR_EVENT_ADD, NULL) < 0) {
		accel_real.close(epfd);
		ACCEL_INFO("port %u queue %u: no receive interrupts; idle threads "
			   "poll on a timer", net.info.port_id, q->qid);
		return;
	}
	q->wake_epfd = own_fd(epfd);
}

static void impair_setup(struct dev_netq *q)
{
	if (impair_active(&net.impair_tx) && !q->itx && (q->itx = malloc(sizeof(*q->itx))))
		impair_init(q->itx, &net.impair_tx);
	if (impair_active(&net.impair_rx) && !q->irx && (q->irx = malloc(sizeof(*q->irx))))
		impair_init(q->irx, &net.impair_rx);
}

static struct dev_netq *dpdk_netq_claim(void)
{
	if (!dpdk_net_info() || __atomic_load_n(&net.stopping, __ATOMIC_ACQUIRE))
		return NULL;
	for (unsigned i = 0; i < net.info.queues; i++) {
		int expect = 0;

		if (__atomic_compare_exchange_n(&net.q[i].owner, &expect, 1, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			if (net.q[i].wake_epfd < 0)
				wake_setup(&net.q[i]);
			impair_setup(&net.q[i]);
			return &net.q[i];
		}
	}
	return NULL;
}

static void dpdk_netq_release(struct dev_netq *q)
{
	/* The wake fd stays with the queue for its next owner. */
	__atomic_store_n(&q->owner, 0, __ATOMIC_RELEASE);
}

static int dpdk_netq_enter(struct dev_netq *q)
{
	/* (a Dekker pair with dev_net_close; its membarrier makes this side's
	 * fence, so that the call every lock makes costs no locked
	 * instruction) */
	if (__builtin_expect(net.asym, 1)) {
		__atomic_store_n(&q->active, 1, __ATOMIC_RELAXED);
		asym_fence_light();
	} else {
		__atomic_store_n(&q->active, 1, __ATOMIC_SEQ_CST);
	}
	if (__atomic_load_n(&net.stopping, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
		return -ESHUTDOWN;
	}
	return 0;
}

static void dpdk_netq_leave(struct dev_netq *q)
{
	__atomic_store_n(&q->active, 0, __ATOMIC_RELEASE);
}

/* The port's own receive and transmit: every frame that crosses it goes
 * through these two, so the capture sees what the port's counters count. */
static uint16_t port_rx(struct dev_netq *q, void **pkts, uint16_t n)
{
	uint16_t got = rte_eth_rx_burst(net.info.port_id, q->qid, (struct rte_mbuf **)pkts, n);

	if (__builtin_expect(cap_on, 0))
		cap_rx(q->qid, (struct rte_mbuf **)pkts, got);
	return got;
}

static uint16_t port_tx(struct dev_netq *q, void **pkts, uint16_t n)
{
	uint16_t sent;

	if (__builtin_expect(!cap_on, 1))
		return rte_eth_tx_burst(net.info.port_id, q->qid, (struct rte_mbuf **)pkts, n);
	cap_tx_hold((struct rte_mbuf **)pkts, n);
	sent = rte_eth_tx_burst(net.info.port_id, q->qid, (struct rte_mbuf **)pkts, n);
	cap_tx_done(q->qid, (struct rte_mbuf **)pkts, n, sent);
	return sent;
}

static void *mbuf_dup(void *pkt)
{
	return rte_pktmbuf_copy(pkt, net.pool, 0, UINT32_MAX);
}

static void mbuf_drop(void *pkt)
{
	rte_pktmbuf_free(pkt);
}

/* Sends frames the impairment released; what the port refuses is lost,
 * as on a congested wire. */
static void impaired_send(struct dev_netq *q, void **pkts, unsigned n)
{
	unsigned sent = port_tx(q, pkts, (uint16_t)n);

	for (unsigned i = sent; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
}

/* The frames other processes of the port handed this one (net_share.h),
 * as packets of its pool: the first queue's only. */
static uint16_t share_rx(void **pkts, uint16_t n)
{
	uint8_t buf[SHARE_FRAME];
	uint16_t k = 0;

	while (k < n && share_pending(net.share)) {
		size_t len = share_take(net.share, buf, sizeof(buf));
		struct rte_mbuf *m;
		char *d;

		if (!len)
			continue; /* (a kick only, or an entry that was no frame) */
		m = rte_pktmbuf_alloc(net.pool);
		if (!m)
			break;
		d = rte_pktmbuf_append(m, (uint16_t)len);
		if (!d) {
			rte_pktmbuf_free(m);
			continue;
		}
		memcpy(d, buf, len);
		m->ol_flags |= net.handed_flag;
		pkts[k++] = m;
	}
	if (k)
		__atomic_add_fetch(&net.share_in, k, __ATOMIC_RELAXED);
	return k;
}

static uint16_t dpdk_netq_rx(void *ctx, void **pkts, uint16_t n)
{
	struct dev_netq *q = ctx;
	void *in[64];
	uint16_t got;

	if (net.share && q->qid == 0 && share_pending(net.share)) {
		uint16_t k = share_rx(pkts, n);

		return (uint16_t)(k + dpdk_netq_rx(ctx, pkts + k, (uint16_t)(n - k)));
	}

	if (q->itx) { /* release delayed transmissions on every poll */
		void *out[64];
		unsigned k = impair_apply(q->itx, dpdk_now_ns(), NULL, 0, out, 64,
					  mbuf_dup, mbuf_drop);

		if (k)
			impaired_send(q, out, k);
	}
	if (!q->irx)
		return port_rx(q, pkts, n);
	got = port_rx(q, in, n < 64 ? n : 64);
	return (uint16_t)impair_apply(q->irx, dpdk_now_ns(), in, got, pkts, n,
				      mbuf_dup, mbuf_drop);
}

static unsigned dpdk_netq_id(const struct dev_netq *q)
{
	return q->qid;
}

static int dpdk_netq_push(struct dev_netq *from, struct dev_netq *to, void *pkt)
{
	struct rte_ring *r = to->pushed[from->qid];

	if (!r || rte_ring_sp_enqueue(r, pkt) != 0)
		return -ENOBUFS;
	return 0;
}

static uint16_t dpdk_netq_rx_pushed(struct dev_netq *q, void **pkts, uint16_t n)
{
	unsigned nq = net.info.queues, got = 0;

	if (nq < 2)
		return 0;
	/* (round robin over the senders, so a busy one starves none) */
	for (unsigned k = 0; k < nq && got < n; k++) {
		struct rte_ring *r = q->pushed[(q->push_next + k) % nq];

		if (r && !rte_ring_empty(r))
			got += rte_ring_sc_dequeue_burst(r, pkts + got, n - got, NULL);
	}
	q->push_next = (q->push_next + 1) % nq;
	return (uint16_t)got;
}

static uint16_t dpdk_netq_tx(void *ctx, void **pkts, uint16_t n)
{
	struct dev_netq *q = ctx;
	void *out[256];
	unsigned k;

	if (!q->itx)
		return port_tx(q, pkts, n);
	if (n > 64)
		n = 64;
	k = impair_apply(q->itx, dpdk_now_ns(), pkts, n, out, 256, mbuf_dup, mbuf_drop);
	if (k)
		impaired_send(q, out, k);
	return n;
}

static uint64_t dpdk_netq_next_due(const struct dev_netq *q)
{
	uint64_t t = UINT64_MAX;

	if (q->itx && q->itx->n)
		t = q->itx->held[0].due;
	if (q->irx && q->irx->n && q->irx->held[0].due < t)
		t = q->irx->held[0].due;
	return t;
}

static void *dpdk_pkt_copy(void *pkt)
{
	return mbuf_dup(pkt);
}

static void *dpdk_netq_pkt_alloc(void *q)
{
	(void)q;
	return rte_pktmbuf_alloc(net.pool);
}

static void dpdk_pkt_free(void *pkt)
{
	rte_pktmbuf_free(pkt);
}

static uint8_t *dpdk_pkt_data(void *pkt)
{
	return rte_pktmbuf_mtod((struct rte_mbuf *)pkt, uint8_t *);
}

static uint16_t dpdk_pkt_len(void *pkt)
{
	return rte_pktmbuf_data_len((struct rte_mbuf *)pkt);
}

static void dpdk_pkt_set_len(void *pkt, uint16_t len)
{
	struct rte_mbuf *m = pkt;

	m->data_len = len;
	m->pkt_len = len;
}

static uint16_t dpdk_pkt_room(void *pkt)
{
	struct rte_mbuf *m = pkt;

	return (uint16_t)(m->buf_len - m->data_off);
}

static uint32_t dpdk_pkt_rx_flags(void *pkt)
{
	const struct rte_mbuf *m = pkt;
	uint32_t f = 0;

	if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= DEV_RX_IP_CSUM_GOOD;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= DEV_RX_L4_CSUM_GOOD;
	if (m->ol_flags & net.handed_flag)
		f |= DEV_RX_HANDED;
	return f;
}

static void dpdk_pkt_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len, unsigned flags)
{
	struct rte_mbuf *m = pkt;

	m->l2_len = l2_len;
	m->l3_len = l3_len;
	m->ol_flags |= RTE_MBUF_F_TX_IPV4;
	if (flags & DEV_CSUM_IP)
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	if (flags & DEV_CSUM_TCP)
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
}

static int dpdk_netq_wake_fd(struct dev_netq *q)
{
	return q->wake_epfd;
}

static void dpdk_netq_wake_arm(struct dev_netq *q)
{
	if (q->wake_epfd >= 0)
		rte_eth_dev_rx_intr_enable(net.info.port_id, q->qid);
}

static void dpdk_netq_wake_ack(struct dev_netq *q)
{
	struct rte_epoll_event ev[4];

	if (q->wake_epfd < 0)
		return;
	/* Reads the PMD's event counters where it has them, so the fd stops
	 * being readable until the next interrupt. */
	rte_epoll_wait(q->wake_epfd, ev, 4, 0);
	rte_eth_dev_rx_intr_disable(net.info.port_id, q->qid);
}



static int dpdk_share_fd(void)
{
	return net.share && getpid() == net.owner ? share_fd(net.share) : -1;
}

static void dpdk_share_own(uint16_t port, int on)
{
	if (net.share && getpid() == net.owner)
		share_own(net.share, port, on);
}

static int dpdk_share_conn(uint32_t rip, uint16_t rport, uint16_t lport, int on)
{
	return net.share && getpid() == net.owner && share_conn(net.share, rip, rport, lport, on);
}

static int dpdk_share_taken(uint16_t port)
{
	return net.share && getpid() == net.owner && share_taken(net.share, port);
}

static int dpdk_share_forward(void *pkt, uint16_t lport, uint32_t rip, uint16_t rport,
			      int sure)
{
	int rc;

	struct rte_mbuf *m = pkt;
	uint8_t buf[SHARE_FRAME];
	const void *d;
	int to;

	if (!net.share || getpid() != net.owner ||
	    (to = share_target(net.share, lport, rip, rport)) < 0)
		return 0;
	if (rte_pktmbuf_pkt_len(m) > sizeof(buf) ||
	    !(d = rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), buf)))
		return 0;
	rc = share_put(net.share, (unsigned)to, d, rte_pktmbuf_pkt_len(m));
	if (rc == -ESRCH || (rc < 0 && sure))
		return 0; /* (its process is gone, or it must not be lost: answered here) */
	__atomic_add_fetch(&net.share_out, 1, __ATOMIC_RELAXED);
	rte_pktmbuf_free(m); /* (handed, or lost to a full inbox as on a wire) */
	return 1;
}

static void dpdk_share_counts(uint64_t *out, uint64_t *in)
{
	*out = __atomic_load_n(&net.share_out, __ATOMIC_RELAXED);
	*in = __atomic_load_n(&net.share_in, __ATOMIC_RELAXED);
}

const struct dev_net_ops dev_net_dpdk = {
	.name = "dpdk",
	.open = dpdk_net_open,
	.close = dpdk_net_close,
	.group_exit = dpdk_net_group_exit,
	.info = dpdk_net_info,
	.asym_fences = dpdk_asym_fences,
	.port_stats = dpdk_net_port_stats,
	.port_xstats = dpdk_net_port_xstats,
	.thread_is_internal = dpdk_thread_is_internal,
	.thread_register = dpdk_thread_register,
	.thread_unregister = dpdk_thread_unregister,
	.now_ns = dpdk_now_ns,
	.claim = dpdk_netq_claim,
	.release = dpdk_netq_release,
	.enter = dpdk_netq_enter,
	.leave = dpdk_netq_leave,
	.id = dpdk_netq_id,
	.rx = dpdk_netq_rx,
	.tx = dpdk_netq_tx,
	.push = dpdk_netq_push,
	.rx_pushed = dpdk_netq_rx_pushed,
	.wake_fd = dpdk_netq_wake_fd,
	.wake_arm = dpdk_netq_wake_arm,
	.wake_ack = dpdk_netq_wake_ack,
	.next_due = dpdk_netq_next_due,
	.share_fd = dpdk_share_fd,
	.share_own = dpdk_share_own,
	.share_taken = dpdk_share_taken,
	.share_forward = dpdk_share_forward,
	.share_conn = dpdk_share_conn,
	.share_counts = dpdk_share_counts,
	.pkt_alloc = dpdk_netq_pkt_alloc,
	.pkt_free = dpdk_pkt_free,
	.pkt_copy = dpdk_pkt_copy,
	.pkt_data = dpdk_pkt_data,
	.pkt_len = dpdk_pkt_len,
	.pkt_set_len = dpdk_pkt_set_len,
	.pkt_room = dpdk_pkt_room,
	.pkt_rx_flags = dpdk_pkt_rx_flags,
	.pkt_tx_csum = dpdk_pkt_tx_csum,
};
