/*
 * runtime.c - settings at load, lazy port start, per-thread stacks, fork,
 * exit. See runtime.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/real.h"
#include "fdreserve.h"
#include "fdtable.h"
#include "files.h"
#include "runtime.h"
#include "signals.h"
#include "sigguard.h"
#include "usermem.h"

extern char **environ;

struct accel_config accel_cfg;
int accel_state = RT_PASSTHROUGH;
__thread struct rt_tls accel_tls __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_key;

static const char *env_get(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

static void stats_print(void)
{
	struct stack_stats sum;
	int n = sk_net_stats(&sum);

	fprintf(stderr,
		"libaccel[%d] stats: %d stack(s) rx %llu pkts %llu bytes, tx %llu pkts %llu bytes, "
		"arp in %llu/%llu out %llu/%llu (req/rep), icmp echo replies %llu, "
		"arp conflicts %llu\n",
		(int)getpid(), n, (unsigned long long)sum.rx_pkts,
		(unsigned long long)sum.rx_bytes, (unsigned long long)sum.tx_pkts,
		(unsigned long long)sum.tx_bytes,
		(unsigned long long)sum.arp_requests_in,
		(unsigned long long)sum.arp_replies_in,
		(unsigned long long)sum.arp_requests_out,
		(unsigned long long)sum.arp_replies_out,
		(unsigned long long)sum.icmp_echo_replies,
		(unsigned long long)sum.arp_conflicts);
	fprintf(stderr,
		"libaccel[%d] stats: tcp segs in %llu out %llu, opens %llu active "
		"%llu passive, retransmits %llu, rtos %llu, resets sent %llu, "
		"connections moved in %llu out %llu\n",
		(int)getpid(), (unsigned long long)sum.tcp_segs_in,
		(unsigned long long)sum.tcp_segs_out,
		(unsigned long long)sum.tcp_active_opens,
		(unsigned long long)sum.tcp_passive_opens,
		(unsigned long long)sum.tcp_retransmits,
		(unsigned long long)sum.tcp_rtos, (unsigned long long)sum.tcp_rsts_out,
		(unsigned long long)sum.tcp_moved_in, (unsigned long long)sum.tcp_moved_out);
	struct sk_counters sc;
	unsigned moved, stayed;

	sk_net_counters(&sc);
	fdres_stats(&moved, &stayed);
	fprintf(stderr,
		"libaccel[%d] stats: connections through the stack %llu accepted %llu "
		"connected, through the kernel (fallback) %llu accepted %llu connected; "
		"descriptors moved to the reserve %u, left low %u\n",
		(int)getpid(), (unsigned long long)sc.bypass_accepts,
		(unsigned long long)sc.bypass_connects, (unsigned long long)sc.kernel_accepts,
		(unsigned long long)sc.kernel_connects, moved, stayed);
	fprintf(stderr,
		"libaccel[%d] stats: progress turns %llu (stacks run by the shim's thread "
		"while the program was busy in its own code)\n",
		(int)getpid(), (unsigned long long)sc.progress_turns);
	if (n > 1)
		fprintf(stderr,
			"libaccel[%d] stats: handoffs %llu (connections moved to their first "
			"user's stack), segments steered %llu, steered frames dropped %llu\n",
			(int)getpid(), (unsigned long long)sc.handoffs,
			(unsigned long long)sum.tcp_steered, (unsigned long long)sc.steer_drops);
	{ /* every counter once more, by the names accel-stat shows */
		static char buf[8192];
		size_t len = sk_stats_format(&sum, buf, sizeof(buf) - 1);

		if (len > sizeof(buf) - 1)
			len = sizeof(buf) - 1;
		buf[len] = '\0';
		for (size_t k = 0; k < len; k++)
			if (buf[k] == ' ')
				buf[k] = '=';
			else if (buf[k] == '\n')
				buf[k] = ' ';
		fprintf(stderr, "libaccel[%d] counters: %s\n", (int)getpid(), buf);
	}
	/* each stack's own, as accel-stat shows them (one name per counter) */
	for (int i = 0; i < n; i++) {
		char line[600];
		size_t k = sk_net_stack_line((unsigned)i, line, sizeof(line));

		if (!k)
			break;
		fprintf(stderr, "libaccel[%d] %.*s", (int)getpid(), (int)k, line);
	}
	for (int r = 0; r < STACK_DROP_MAX; r++)
		if (sum.drops[r])
			fprintf(stderr, "libaccel[%d] stats: dropped %s %llu\n",
				(int)getpid(), stack_drop_name((enum stack_drop)r),
				(unsigned long long)sum.drops[r]);
}

/* A thread that used the stack is ending: its own descriptors go. */
static void thread_exit(void *arg)
{
	struct sk_thread *t = arg;
	int fds[2];

	sk_thread_fds(t, fds);
	fdtable_set(&accel_fds, fds[0], FD_KERNEL);
	fdtable_set(&accel_fds, fds[1], FD_KERNEL);
	accel_tls.depth++;
	sk_thread_destroy(t);
	accel_tls.depth--;
	accel_tls.sk = NULL;
}

/* The socket layer's progress thread is the shim's: whatever it calls
 * that the shim interposes (DPDK's tap driver reads and writes its fd)
 * goes straight to the kernel. */
static void progress_thread_init(void)
{
	accel_tls.depth = 1;
	accel_tls.tried = 1;
}

static char tree_id[48];
static char share_group[80]; /* rt_net_start_group's */
static int group_lives(void);

/* The network settings from ACCEL_*, for the port and for each stack. */
static struct sk_net_conf net_conf(void)
{
	return (struct sk_net_conf){
		/* (ACCEL_PORT_SHARE: every process that sets it is of one
		 * group, "share", which no tree:inode can be) */
		.share_group = accel_cfg.port_share ? "share" : share_group,
		.group_lives = group_lives,
		.eal_args = accel_cfg.dpdk_args,
		.queues = accel_cfg.queues,
		.mbufs = accel_cfg.mbufs,
		.link_wait_ms = accel_cfg.link_wait_ms,
		.link_wait_set = accel_cfg.link_wait_set,
		.log_level = accel_cfg.log_level,
		.ip = accel_cfg.ip,
		.prefix_len = accel_cfg.prefix_len,
		.gateway = accel_cfg.gateway,
		.idle_poll_ns = (uint64_t)accel_cfg.idle_poll_us * 1000u,
		.progress_ns = (uint64_t)accel_cfg.progress_ms * 1000000u,
		.thread_init = progress_thread_init,
		.spin_ns = accel_cfg.spin_set ? (uint64_t)accel_cfg.spin_us * 1000u :
						SK_SPIN_ADAPTIVE,
		.impair_tx = accel_cfg.impair_tx,
		.impair_rx = accel_cfg.impair_rx,
		.pcap = accel_cfg.pcap,
		.pcap_snaplen = accel_cfg.pcap_snaplen,
		.own_fd = rt_own_fd,
	};
}

struct sk_thread *rt_thread_slow(void)
{
	struct sk_net_conf nc = net_conf();
	struct sk_thread *t;

	accel_tls.tried = 1;
	if (sk_thread_is_internal())
		return NULL;
	accel_tls.depth++;
	t = sk_thread_create(&nc);
	accel_tls.depth--;
	if (!t) {
		ACCEL_DEBUG("thread %lu: no stack; it waits in the kernel only",
			    (unsigned long)pthread_self());
		return NULL;
	}
	pthread_setspecific(thread_key, t);
	accel_tls.sk = t;
	return t;
}

int rt_internal_caller_slow(void)
{
	int s;

	if (accel_tls.depth)
		return 1;
	s = rt_state();
	if (s != RT_UP && s != RT_STARTING) /* (DPDK's threads start with the port) */
		return 0;
	if (sk_thread_is_internal())
		return 1;
	/* A thread found not to be DPDK's once the port is up never will be. */
	accel_tls.program = s == RT_UP;
	return 0;
}

int rt_own_fd(int fd)
{
	if (fd < 0 || rt_state() == RT_CHILD)
		return fd;
	fd = fdres_hide(fd);
	fdtable_set(&accel_fds, fd, FD_SHIM);
	return fd;
}

/* ---- said once per process tree ------------------------------------------
 * A line that says why a program runs on the kernel is said by the first
 * process of a tree that finds it so, not again by each program a shell or
 * a daemon runs under it.
 *  - At load (settings, no ACCEL_IP) the line's hash goes into LIBACCEL_SAID,
 *    which the programs it runs inherit (set before main: single-threaded).
 *  - Later (the port fails, in whichever process opens a socket first) the
 *    tree is named in LIBACCEL_TREE by its first process ("pid-starttime"),
 *    and a line said is a file (in /run/libaccel, else $TMPDIR or /tmp)
 *    named for the tree and the line's hash,
 *    created exclusively, so exactly one process says it. The tree's first
 *    process removes its files at exit (when it runs its destructors), and
 *    any first process those of trees whose first process is gone.
 */
#define SAID_VAR "LIBACCEL_SAID"
#define TREE_VAR "LIBACCEL_TREE"
#define SAID_PREFIX "said-"

static int tree_root;
static const char *said_dir;

static unsigned long long start_time(pid_t pid)
{
	char path[48], buf[1024], *p;
	unsigned long long t = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = accel_real.open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = accel_real.read(fd, buf, sizeof(buf) - 1);
	accel_real.close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')'); /* (the name may hold spaces and parentheses) */
	/* field 22, starttime: the 20th after the name */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

/* The files of trees whose first process is gone; with mine, this tree's. */
static void said_sweep(int mine)
{
	DIR *d = said_dir ? opendir(said_dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		unsigned long long t;
		char path[320];
		int pid, gone;

		if (strncmp(e->d_name, SAID_PREFIX, strlen(SAID_PREFIX)) ||
		    sscanf(e->d_name + strlen(SAID_PREFIX), "%d-%llu-", &pid, &t) != 2)
			continue;
		gone = (kill(pid, 0) < 0 && errno == ESRCH) || start_time(pid) != t;
		if (gone || (mine && !strncmp(e->d_name + strlen(SAID_PREFIX), tree_id,
					       strlen(tree_id)) &&
			     e->d_name[strlen(SAID_PREFIX) + strlen(tree_id)] == '-')) {
			snprintf(path, sizeof(path), "%s/%s", said_dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
}

static void tree_init(void)
{
	const char *t = getenv(TREE_VAR);
	char me[24];

	mkdir("/run/libaccel", 01777); /* (as the port's lock does) */
	said_dir = access("/run/libaccel", W_OK) == 0 ? "/run/libaccel" : getenv("TMPDIR");
	if (!said_dir || said_dir[0] != '/' || strlen(said_dir) > 200)
		said_dir = "/tmp";
	snprintf(me, sizeof(me), "%d-", (int)getpid());
	if (t && t[0] && strlen(t) < sizeof(tree_id) && !strchr(t, '/')) {
		snprintf(tree_id, sizeof(tree_id), "%s", t);
		/* (the first process, after an exec of its own) */
		tree_root = !strncmp(t, me, strlen(me));
		return;
	}
	snprintf(tree_id, sizeof(tree_id), "%d-%llu", (int)getpid(),
		 start_time(getpid()));
	tree_root = 1;
	setenv(TREE_VAR, tree_id, 1);
	said_sweep(0);
}

static uint64_t line_hash(const char *line)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *c = line; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	return h;
}

/* At load: whether LIBACCEL_SAID holds the line; if not, it is added. */
static int first_saying_env(const char *line)
{
	const char *said = getenv(SAID_VAR);
	char h[20], list[512];

	snprintf(h, sizeof(h), "%016llx", (unsigned long long)line_hash(line));
	for (const char *p = said; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : "")
		if (!strncmp(p, h, 16) && (p[16] == ',' || !p[16]))
			return 0;
	if (said && *said && strlen(said) < sizeof(list) - 20)
		snprintf(list, sizeof(list), "%s,%s", said, h);
	else
		snprintf(list, sizeof(list), "%s", h);
	setenv(SAID_VAR, list, 1);
	return 1;
}

/* After load: whether this line is the tree's first saying of it (then it
 * is marked). */
static int first_saying(const char *line)
{
	uint64_t h = line_hash(line);
	char path[320];
	int fd;

	if (!tree_id[0])
		return 1;
	snprintf(path, sizeof(path), "%s/" SAID_PREFIX "%s-%016llx", said_dir, tree_id,
		 (unsigned long long)h);
	fd = accel_real.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd >= 0)
		accel_real.close(fd);
	return 1; /* (nowhere to mark it: said, rather than never) */
}

static int loading;

/* A line at level, or at debug when the tree said it already. */
static void say_once(int level, const char *line)
{
	int first = loading ? first_saying_env(line) : first_saying(line);

	accel_log(first ? level : ACCEL_LOG_DEBUG, "%s", line);
}

/* One line says what is wrong and what happens now. */
static void refuse(const char *why)
{
	char line[1200];

	if (accel_cfg.strict) {
		ACCEL_ERR("%s; exiting (ACCEL_STRICT=1)", why);
		_exit(EXIT_FAILURE);
	}
	snprintf(line, sizeof(line), "%s; running on the kernel only", why);
	say_once(ACCEL_LOG_ERROR, line);
}

/* The group lives on while this process's parent holds the listener
 * that made it (share_group's "tree:inode"): a prefork master that forks
 * new workers (nginx -s reload) or replaces one that died. */
static int group_lives(void)
{
	const char *ino = strrchr(share_group, ':');
	char dir[40], want[48], path[300], link[48];
	pid_t pp = getppid();
	struct dirent *e;
	int found = 0;
	DIR *d;

	if (!ino || pp <= 1)
		return 0;
	snprintf(want, sizeof(want), "socket:[%s]", ino + 1);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pp);
	if (!(d = opendir(dir)))
		return 0;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	closedir(d);
	return found;
}

void rt_net_start_group(unsigned long listener)
{
	/* (before the start: the first caller's group is the port's) */
	if (rt_state() == RT_READY && !share_group[0])
		snprintf(share_group, sizeof(share_group), "%s:%lu", tree_id, listener);
	rt_net_start();
}

void rt_net_start(void)
{
	struct sk_net_conf nc = net_conf();
	int expect = RT_READY, rc;
	char why[512];

	if (!__atomic_compare_exchange_n(&accel_state, &expect, RT_STARTING, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* another thread is starting it: its sockets must not go to
		 * the kernel for want of waiting a moment (bounded, in case the
		 * caller is a thread the start itself waits for) */
		for (int i = 0; i < 10000 && rt_state() == RT_STARTING; i++)
			usleep(1000);
		return;
	}
	/* DPDK's start raises the soft descriptor limit to the hard one
	 * ("Setting maximum number of open files"): the program keeps the
	 * limit it set (the shim's own descriptors go to the reserve). */
	struct rlimit lim;
	int have_lim = fdres_prlimit(NULL, &lim) == 0;

	accel_tls.depth++;
	rc = sk_net_start(&nc, why, sizeof(why));
	accel_tls.depth--;
	if (have_lim)
		fdres_prlimit(&lim, NULL);
	if (rc < 0) {
		char line[700];

		__atomic_store_n(&accel_state, RT_FAILED, __ATOMIC_RELEASE);
		snprintf(line, sizeof(line), "the DPDK port did not start: %s", why);
		refuse(line);
		return;
	}
	__atomic_store_n(&accel_state, RT_UP, __ATOMIC_RELEASE);
	sig_exit_arm(); /* (after the port: the tap PMD's SIGIO is its own) */
}

/* fork: the child keeps the program's descriptors but none of the port.
 * A fork before the port started (a daemon forking at start-up) leaves
 * the child free to start it, as the process that goes on serving. */
static void at_fork_child(void)
{
	int s = rt_state();

	accel_tls.sk = NULL;
	accel_tls.tried = 0;
	if (s == RT_PASSTHROUGH || s == RT_READY || s == RT_FAILED)
		return;
	__atomic_store_n(&accel_state, RT_CHILD, __ATOMIC_RELEASE);
	accel_tls.tried = 1;
	sk_fork_child();
}

static void load_config(void);

__attribute__((constructor)) static void accel_load(void)
{
	accel_real_resolve();
	loading = 1; /* (until it returns: the lines said go to LIBACCEL_SAID) */
	load_config();
	loading = 0;
}

/* The settings, the storage files and the fd table, as the library loads. */
static void load_config(void)
{
	char err[1024];
	int rc;

	rc = accel_config_parse(&accel_cfg, env_get, NULL, err, sizeof(err));
	accel_log_level = accel_cfg.log_level;
	if (!accel_cfg.disable)
		tree_init();
	if (rc < 0) {
		refuse(err);
		return;
	}
	if (accel_config_unknown(environ, err, sizeof(err)))
		say_once(ACCEL_LOG_WARN, err);
	if (!accel_cfg.disable && accel_cfg.storage[0]) {
		fdres_start(); /* (the queue pairs' descriptors go there too) */
		files_init(&accel_cfg); /* storage: independent of the port */
	}
	if (accel_files_on)
		sg_install(); /* (a bad buffer of a bounced copy: EFAULT) */
	if (accel_cfg.disable || !accel_cfg.has_ip) {
		/* (the launcher warns its user; a program that only inherited
		 * LD_PRELOAD keeps its stderr its own) */
		if (!accel_cfg.disable && !accel_cfg.storage[0])
			say_once(ACCEL_LOG_INFO, "no ACCEL_IP: running on the kernel only "
				 "(ACCEL_IP=address/prefix gives the program the DPDK port)");
		ACCEL_DEBUG("%s: pass-through", accel_cfg.disable ?
			    "ACCEL_DISABLE=1" : "no ACCEL_IP");
		return;
	}
	unsigned nfds = fdtable_kernel_max();

	if (fdtable_init(&accel_fds, nfds) < 0 || sk_fds_init(accel_fds.ent, nfds) < 0 ||
	    pthread_key_create(&thread_key, thread_exit) != 0 ||
	    pthread_atfork(NULL, NULL, at_fork_child) != 0) {
		refuse("cannot set up (out of memory?)");
		return;
	}
	fdres_start(); /* (once: storage may have started it) */
	um_init();
	sg_install(); /* (bad pointers in bypass calls: EFAULT, common/guard.h) */
	__atomic_store_n(&accel_state, RT_READY, __ATOMIC_RELEASE);
}

__attribute__((destructor)) static void accel_unload(void)
{
	if (tree_root && getpid() == atoi(tree_id))
		said_sweep(1);
	if (rt_state() != RT_UP) {
		if (rt_state() == RT_READY && accel_cfg.dpdk_args[0])
			sk_net_group_exit(accel_cfg.dpdk_args);
		return;
	}
	accel_tls.depth++;
	sk_net_finish(); /* (the exit's FINs and resets count too) */
	if (accel_cfg.stats)
		stats_print();
	sk_net_stop();
	accel_tls.depth--;
}
