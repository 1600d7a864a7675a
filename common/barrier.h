/*
 * barrier.h - asymmetric fences.
 *
 * A Dekker pair (one side stores a flag then loads the other's) needs a
 * full fence on both sides. When one side runs on every call and the other
 * almost never, the frequent side can do with a compiler barrier and the
 * rare side makes every running thread of the process execute a full
 * barrier for it with membarrier(2) (MEMBARRIER_CMD_PRIVATE_EXPEDITED): a
 * store the frequent side made before its load is then visible to the rare
 * side's load after the call, or the frequent side's load sees the rare
 * side's store. Used for a thread entering a device queue against the port
 * closing, and for a lone thread's lock-free use of its stack against a
 * second thread joining.
 */
#ifndef ACCEL_COMMON_BARRIER_H
#define ACCEL_COMMON_BARRIER_H

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Registers the process for asym_fence_heavy; 1 when it may be used (the
 * frequent side must keep full fences otherwise). */
static inline int asym_fence_init(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* The frequent side. */
static inline void asym_fence_light(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The rare side: a full barrier on every running thread of the process. */
static inline void asym_fence_heavy(void)
{
	syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

#endif
