/*
 * runtime.h - the shim's process-wide state and each thread's part in it:
 * settings read at load, the port started on first use, a stack claimed by
 * each thread that waits, and the rules for fork and exit.
 */
#ifndef ACCEL_PRELOAD_RUNTIME_H
#define ACCEL_PRELOAD_RUNTIME_H

#include "../sockets/sockets.h"
#include "config.h"

enum rt_state {
	RT_PASSTHROUGH = 0, /* disabled, no ACCEL_IP, bad settings: kernel only */
	RT_READY,           /* settings good; the port starts on first use */
	RT_STARTING,
	RT_UP,
	RT_FAILED,          /* the port did not start: kernel only */
	RT_CHILD,           /* a forked child: the parent's port is not ours */
};

struct rt_tls {
	struct sk_thread *sk;
	unsigned char tried;     /* claimed (or failed to claim) a queue */
	unsigned char depth;     /* inside the shim: calls go straight to libc */
	unsigned char program;   /* known to be one of the program's threads */
	uint64_t sigs;           /* signals whose handler ran (signals.c) */
};

extern struct accel_config accel_cfg;
extern int accel_state;
extern __thread struct rt_tls accel_tls __attribute__((tls_model("initial-exec")));

static inline int rt_state(void)
{
	return __atomic_load_n(&accel_state, __ATOMIC_ACQUIRE);
}

/* Starts the port if settings allow and it is not started yet (called
 * where the process first needs the data path). */
void rt_net_start(void);

/* The same for a listener inherited from the process tree's first
 * process (a prefork server's): the processes serving the same listener
 * (its inode) share a tap, one queue each (dev_net_conf.share_group). */
void rt_net_start_group(unsigned long listener);

/* The calling thread's stack, claiming a queue on first call; NULL when
 * the thread has none (no port, no free queue, a DPDK thread, re-entry). */
struct sk_thread *rt_thread_slow(void);

static inline struct sk_thread *rt_thread(void)
{
	if (__builtin_expect(accel_tls.sk != NULL, 1))
		return accel_tls.depth ? NULL : accel_tls.sk;
	if (rt_state() != RT_UP || accel_tls.tried || accel_tls.depth)
		return NULL;
	return rt_thread_slow();
}

/* True when the caller is the shim or DPDK rather than the program. */
int rt_internal_caller_slow(void);

static inline int rt_internal_caller(void)
{
	if (__builtin_expect(accel_tls.program && !accel_tls.depth, 1))
		return 0;
	return rt_internal_caller_slow();
}

/* A descriptor the shim or DPDK just opened for itself: moved out of the
 * program's numbers (fdreserve.h) and closed to the program (FD_SHIM).
 * Returns the number it has now. */
int rt_own_fd(int fd);

#endif
