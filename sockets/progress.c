/*
 * progress.c - the shim's own thread that keeps a stack running while the
 * program is busy in its own code.
 *
 * A stack runs inside the program's calls into the shim. A single-threaded
 * server busy elsewhere (a long command, a script, redis's DEBUG SLEEP)
 * would leave SYNs unanswered, data unacknowledged and timers stopped
 * until it comes back; the kernel does that work in its softirqs. This
 * thread gives a stack that no thread has polled for period_ns a turn.
 *
 * What it reads to decide is published by the threads without a lock and
 * without a fence of their own: a stack's polled_at (each poll, relaxed),
 * woke_at (each wake from a sleep, relaxed, before the sleepers count
 * drops: that read-modify-write releases it) and sleepers. A stale value
 * costs at most one needless turn or a turn one period late; whether the
 * turn may run is decided under the stack's lock, with the lone user's
 * protocol (solo.h). So a program that keeps polling its stack never
 * meets this thread: its poll keeps the stack fresh, and the thread only
 * reads. One that sleeps in a wait is skipped too (its sleep ends on the
 * queue's interrupt and at the stack's next timer). With no stack due,
 * the thread parks on a futex until a thread wakes from a wait (or for
 * park_ns at most, where the waits wake every idle slice: netif.c).
 *
 * Onload does this work from its kernel module while the application is
 * descheduled; libvma runs an internal thread on a fixed timer. This one
 * runs only for stacks left alone, and sleeps otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "sockets_impl.h"

uint64_t sk_progress_due(const struct sk_stack *S, uint64_t last_turn, uint64_t period)
{
	uint64_t seen = last_turn, t;

	if (!__atomic_load_n(&S->nthreads, __ATOMIC_SEQ_CST) ||
	    __atomic_load_n(&S->sleepers, __ATOMIC_SEQ_CST))
		return SK_PROGRESS_NONE;
	t = __atomic_load_n(&S->polled_at, __ATOMIC_RELAXED);
	if (t > seen)
		seen = t;
	t = __atomic_load_n(&S->woke_at, __ATOMIC_RELAXED);
	if (t > seen)
		seen = t;
	return seen + period;
}

uint64_t sk_progress_round(struct sk_progress *p, uint64_t now, int run_turns)
{
	uint64_t next = SK_PROGRESS_NONE;

	for (unsigned i = 0; i < p->n; i++) {
		struct sk_stack *S = &p->stacks[i];
		uint64_t due = sk_progress_due(S, p->last[i], p->period_ns);

		if (due <= now && run_turns) {
			(void)p->turn(S); /* (0: a thread of the program has it now) */
			p->last[i] = now;
			due = now + p->period_ns;
		}
		if (due < next)
			next = due;
	}
	return next;
}

static void futex_sleep(uint32_t *word, uint32_t seen, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen,
		ns == SK_PROGRESS_NONE ? NULL : &ts, NULL, 0);
}

/* Parks until sk_progress_kick, unless a stack became due meanwhile (the
 * store of parked, then the loads of the sleepers: progress.h). */
static void park(struct sk_progress *p, uint32_t seen)
{
	__atomic_store_n(&p->parked, 1, __ATOMIC_SEQ_CST);
	if (sk_progress_round(p, p->now(), 0) == SK_PROGRESS_NONE &&
	    !__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST))
		futex_sleep(&p->word, seen, p->park_ns ? p->park_ns : SK_PROGRESS_NONE);
	__atomic_store_n(&p->parked, 0, __ATOMIC_SEQ_CST);
}

static void *progress_main(void *arg)
{
	struct sk_progress *p = arg;

	if (p->thread_init)
		p->thread_init();
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		uint32_t seen = __atomic_load_n(&p->word, __ATOMIC_SEQ_CST);
		uint64_t now = p->now(), next = sk_progress_round(p, now, 1);

		if (next == SK_PROGRESS_NONE)
			park(p, seen);
		else if (next > now)
			futex_sleep(&p->word, seen, next - now);
	}
	return NULL;
}

int sk_progress_start(struct sk_progress *p)
{
	sigset_t all, old;
	int rc;

	if (!p->period_ns || p->running)
		return 0;
	/* The thread inherits the mask: no signal of the program's is ever
	 * delivered to it, so its handlers run on its own threads only. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->tid, NULL, progress_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	pthread_setname_np(p->tid, "accel-progress");
	p->running = 1;
	return 0;
}

void sk_progress_stop(struct sk_progress *p)
{
	struct timespec until;

	if (!p->running)
		return;
	p->running = 0;
	__atomic_store_n(&p->stop, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&p->word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &p->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	/* (bounded: a turn is a poll, but the exit must not hang on it) */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	if (pthread_timedjoin_np(p->tid, NULL, &until) != 0)
		pthread_detach(p->tid);
}
