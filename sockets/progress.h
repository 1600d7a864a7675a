/*
 * progress.h - the shim's own thread that gives a stack a turn when the
 * program has left it alone for a while (progress.c). For the files of
 * sockets/ only.
 */
#ifndef ACCEL_SOCKETS_PROGRESS_H
#define ACCEL_SOCKETS_PROGRESS_H

#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sockets.h"

struct sk_stack;

/* No turn is due (sk_progress_due). */
#define SK_PROGRESS_NONE UINT64_MAX

/* One process's progress thread over its stacks. The fields above the
 * line are set before sk_progress_start and never change; the rest are
 * the thread's. */
struct sk_progress {
	struct sk_stack *stacks;
	unsigned n;
	uint64_t period_ns;             /* a stack left alone this long gets a turn */
	uint64_t (*now)(void);          /* the stacks' clock (sk_now) */
	/* Runs S once if it can have it at once: 1 ran, 0 busy (a thread of
	 * the program has it). Called from the progress thread only. */
	int (*turn)(struct sk_stack *S);
	/* First thing the thread runs (the preload layer marks it as the
	 * shim's own: its calls go to the kernel); may be NULL. */
	void (*thread_init)(void);
	/* How long it parks at most (0: until a kick). */
	uint64_t park_ns;
	/* ---- */
	pthread_t tid;
	int running;                    /* tid is a thread to join */
	int stop;                       /* the thread is to end (atomic) */
	int parked;                     /* it sleeps until sk_progress_kick (atomic) */
	uint32_t word;                  /* the futex it sleeps on (atomic) */
	uint64_t last[SK_MAX_THREADS];  /* when each stack last had its turn */
};

/* When S is due a turn, on the stacks' clock: `period` after the last
 * sign that someone runs it (a thread's poll, a thread waking from its
 * sleep, the previous turn); SK_PROGRESS_NONE when no thread uses it or
 * one of its threads sleeps in a wait, which wakes on the queue's
 * interrupt and the stack's timers by itself. Read without S's lock. */
uint64_t sk_progress_due(const struct sk_stack *S, uint64_t last_turn, uint64_t period);

/* Gives every stack that is due at `now` its turn (when run_turns) and
 * returns the earliest time one is due next, or SK_PROGRESS_NONE. */
uint64_t sk_progress_round(struct sk_progress *p, uint64_t now, int run_turns);

/* Starts p's thread, all signals blocked in it: 0 or a negative errno.
 * Does nothing when p->period_ns is 0 (ACCEL_PROGRESS_MS=0). */
int sk_progress_start(struct sk_progress *p);

/* Ends p's thread and waits for it (never in a forked child: there the
 * thread does not exist). */
void sk_progress_stop(struct sk_progress *p);

/* A stack may have become due while the thread is parked: a thread woke
 * from a wait, or a new thread uses a stack. The caller has just changed
 * what sk_progress_due reads with a sequentially consistent
 * read-modify-write (a stack's sleepers), or calls it after one: that and
 * this load against the thread's store of p->parked and its load of the
 * sleepers are a Dekker pair, so either the thread sees the change or
 * this sees it parked. One plain load on x86 when it is not parked. */
static inline void sk_progress_kick(struct sk_progress *p)
{
	if (__atomic_load_n(&p->parked, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&p->parked, 0, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&p->word, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &p->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

#endif
