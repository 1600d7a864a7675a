/*
 * timer.h - a hierarchical timing wheel for the stack's timers.
 *
 * TCP keeps a few timers per connection (retransmission, delayed ACK,
 * keepalive, TIME_WAIT). With thousands of idle connections a sorted list
 * or a heap makes every poll pay for all of them; a wheel (Varghese and
 * Lauck, "Hashed and Hierarchical Timing Wheels", SOSP 1987) arms and
 * cancels in O(1) and touches only the slots whose time has come.
 *
 * Four levels of 64 slots over a 1 ms tick: 64 ms, 4 s, 4.4 min, 4.7 h.
 * Later times are held on the last level and re-filed as they come closer.
 * Timers never fire early; they fire at most one tick late. Per-level
 * occupancy bitmaps let the wheel skip empty time and find the next
 * deadline without walking slots one by one.
 *
 * A timer is a node embedded in its owner (struct stack_timer); the wheel
 * never allocates. Single-threaded, like the stack that owns it.
 */
#ifndef ACCEL_STACK_TIMER_H
#define ACCEL_STACK_TIMER_H

#include <stdint.h>

#define TW_LEVELS 4
#define TW_SLOT_BITS 6
#define TW_SLOTS (1u << TW_SLOT_BITS)

struct stack_timer {
	struct stack_timer *next, *prev;  /* in a slot's list; NULL when idle */
	uint64_t expires;                 /* in ticks */
	uint16_t where;                   /* level * TW_SLOTS + slot */
	uint8_t kind;                     /* the owner's tag: which timer */
};

struct tw_slot {
	struct stack_timer head;          /* circular list sentinel */
};

struct timer_wheel {
	uint64_t tick_ns;
	uint64_t now;                     /* ticks processed so far */
	unsigned count;                   /* armed timers */
	uint64_t occupied[TW_LEVELS];     /* bit s: slot s has timers */
	struct tw_slot slot[TW_LEVELS][TW_SLOTS];
};

typedef void (*tw_fire_fn)(struct stack_timer *t, void *arg);

void tw_init(struct timer_wheel *w, uint64_t now_ns, uint64_t tick_ns);

/* (Re)arms t to fire at expires_ns (earlier than now: on the next advance). */
void tw_arm(struct timer_wheel *w, struct stack_timer *t, uint64_t expires_ns);

/* Disarms t if armed; safe on an idle timer. */
void tw_cancel(struct timer_wheel *w, struct stack_timer *t);

static inline int tw_armed(const struct stack_timer *t)
{
	return t->next != 0;
}

/*
 * Fires, in time order by tick, every timer due at now_ns. A callback may
 * arm or cancel any timer, including the one firing. Returns how many fired.
 */
unsigned tw_advance(struct timer_wheel *w, uint64_t now_ns, tw_fire_fn fire,
		    void *arg);

/* A time (ns) no later than the next expiry, or UINT64_MAX when none is
 * armed: the earlier of the first first-level timer and the next time the
 * wheel must re-file higher-level ones (early, never late). Exact when
 * only first-level timers (due within 64 ticks of arming) are armed. */
uint64_t tw_next_deadline(const struct timer_wheel *w);

#endif
