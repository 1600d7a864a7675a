/*
 * solo.h - a stack's lone user and the two ways another thread gets in:
 * for good (solo_revoke: a second thread of the program) or for one turn
 * (solo_borrow/solo_restore: the progress thread, progress.c).
 *
 * The lone user takes its stack with no locked instruction: it marks
 * itself inside (s->solo_inside) behind a compiler barrier only, then
 * checks that it is still s->solo. The other side holds s->lock, clears
 * s->solo and runs membarrier (common/barrier.h): after that, either the
 * lone user's mark is visible to it, or the lone user's check sees the
 * clear. Whoever changes s->solo holds s->lock.
 */
#ifndef ACCEL_SOCKETS_SOLO_H
#define ACCEL_SOCKETS_SOLO_H

#include <sched.h>

#include "../common/barrier.h"
#include "sockets_impl.h"

/* The lone user's entry: 1 when me is s's lone user and is now inside.
 * The check after the fence is an acquire: when it reads a value that a
 * borrower put back (solo_restore, a release), what the borrower did to
 * the stack is visible here (free on x86, where every load is one). */
static inline int solo_try_enter(struct sk_stack *s, const struct sk_thread *me)
{
	if (__atomic_load_n(&s->solo, __ATOMIC_RELAXED) != me)
		return 0;
	__atomic_store_n(&s->solo_inside, 1, __ATOMIC_RELAXED);
	asym_fence_light();
	if (__atomic_load_n(&s->solo, __ATOMIC_ACQUIRE) == me)
		return 1;
	__atomic_store_n(&s->solo_inside, 0, __ATOMIC_RELEASE);
	return 0;
}

static inline void solo_exit(struct sk_stack *s)
{
	__atomic_store_n(&s->solo_inside, 0, __ATOMIC_RELEASE);
}

/* Under s->lock: s has no lone user from here on; waits until the one it
 * had is out. */
static inline void solo_revoke(struct sk_stack *s)
{
	if (!__atomic_load_n(&s->solo, __ATOMIC_RELAXED) ||
	    !__atomic_exchange_n(&s->solo, NULL, __ATOMIC_SEQ_CST))
		return;
	asym_fence_heavy();
	while (__atomic_load_n(&s->solo_inside, __ATOMIC_ACQUIRE))
		sched_yield();
}

/*
 * Under s->lock: the stack for one turn without costing its lone user its
 * standing. Clears s->solo as solo_revoke does, but does not wait: a lone
 * user inside is running the stack itself, so the turn is not needed and
 * s->solo goes back at once (0). Otherwise (1) the caller has the stack
 * until solo_restore(s, *prev) puts the lone user back; one that tries to
 * enter meanwhile sees NULL and queues on s->lock, where it revokes for
 * good as any thread does. Putting the old value back is sound because
 * only a holder of s->lock changes s->solo and no lone user is inside.
 */
static inline int solo_borrow(struct sk_stack *s, struct sk_thread **prev)
{
	*prev = __atomic_load_n(&s->solo, __ATOMIC_RELAXED);
	if (!*prev)
		return 1;
	__atomic_store_n(&s->solo, NULL, __ATOMIC_SEQ_CST);
	asym_fence_heavy();
	if (!__atomic_load_n(&s->solo_inside, __ATOMIC_ACQUIRE))
		return 1;
	__atomic_store_n(&s->solo, *prev, __ATOMIC_RELEASE);
	return 0;
}

/* Under s->lock, after a turn that solo_borrow gave: the stack's writes
 * of the turn are released to the lone user's acquire (solo_try_enter). */
static inline void solo_restore(struct sk_stack *s, struct sk_thread *prev)
{
	if (prev)
		__atomic_store_n(&s->solo, prev, __ATOMIC_RELEASE);
}

#endif
