/*
 * timer.c - the timing wheel. See timer.h.
 *
 * Level l holds timers due between 64^l and 64^(l+1) ticks from now, in the
 * slot numbered by bits [6l, 6l+6) of their expiry tick. When the tick
 * counter enters a new level-l period (a multiple of 64^l), that period's
 * level-l slot is emptied into the levels below ("cascade").
 */
#include <stddef.h>

#include "timer.h"

#define SHIFT(l) ((unsigned)(l) * TW_SLOT_BITS)
#define SPAN_TICKS (1ull << SHIFT(TW_LEVELS)) /* reach of the whole wheel */

static void list_del(struct stack_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static int slot_empty(const struct tw_slot *s)
{
	return s->head.next == &s->head;
}

void tw_init(struct timer_wheel *w, uint64_t now_ns, uint64_t tick_ns)
{
	w->tick_ns = tick_ns ? tick_ns : 1;
	w->now = now_ns / w->tick_ns;
	w->count = 0;
	for (unsigned l = 0; l < TW_LEVELS; l++) {
		w->occupied[l] = 0;
		for (unsigned s = 0; s < TW_SLOTS; s++)
			w->slot[l][s].head.next = w->slot[l][s].head.prev =
				&w->slot[l][s].head;
	}
}

static void slot_add(struct timer_wheel *w, unsigned l, unsigned s,
		     struct stack_timer *t)
{
	struct tw_slot *slot = &w->slot[l][s];

	t->next = &slot->head;
	t->prev = slot->head.prev;
	slot->head.prev->next = t;
	slot->head.prev = t;
	t->where = (uint16_t)(l * TW_SLOTS + s);
	w->occupied[l] |= 1ull << s;
}

/*
 * Puts t in the slot for its expiry. A timer already due goes in the slot
 * of the tick being processed when cascading (it fires in this pass), else
 * in the next tick's.
 */
static void file_timer(struct timer_wheel *w, struct stack_timer *t, int cascading)
{
	uint64_t at = t->expires, delta;
	unsigned l = 0;

	if (at <= w->now)
		at = cascading ? w->now : w->now + 1;
	if (at - w->now >= SPAN_TICKS)
		at = w->now + SPAN_TICKS - 1; /* parked; re-filed as it nears */
	delta = at - w->now;
	while (l < TW_LEVELS - 1 && delta >= (1ull << SHIFT(l + 1)))
		l++;
	slot_add(w, l, (unsigned)(at >> SHIFT(l)) & (TW_SLOTS - 1), t);
}

void tw_arm(struct timer_wheel *w, struct stack_timer *t, uint64_t expires_ns)
{
	if (tw_armed(t))
		tw_cancel(w, t);
	/* Rounded up: a timer never fires before its time. */
	t->expires = expires_ns / w->tick_ns + (expires_ns % w->tick_ns != 0);
	file_timer(w, t, 0);
	w->count++;
}

void tw_cancel(struct timer_wheel *w, struct stack_timer *t)
{
	unsigned l = t->where / TW_SLOTS, s = t->where % TW_SLOTS;

	if (!tw_armed(t))
		return;
	list_del(t);
	if (slot_empty(&w->slot[l][s]))
		w->occupied[l] &= ~(1ull << s);
	w->count--;
}

static void cascade(struct timer_wheel *w, unsigned l)
{
	unsigned s = (unsigned)(w->now >> SHIFT(l)) & (TW_SLOTS - 1);
	struct tw_slot *slot = &w->slot[l][s];

	w->occupied[l] &= ~(1ull << s);
	while (!slot_empty(slot)) {
		struct stack_timer *t = slot->head.next;

		list_del(t);
		file_timer(w, t, 1);
	}
}

static unsigned fire_slot(struct timer_wheel *w, tw_fire_fn fire, void *arg)
{
	unsigned s = (unsigned)w->now & (TW_SLOTS - 1), fired = 0;
	struct tw_slot *slot = &w->slot[0][s];

	while (!slot_empty(slot)) {
		struct stack_timer *t = slot->head.next;

		list_del(t);
		if (t->expires > w->now) { /* a parked far timer */
			file_timer(w, t, 0);
			continue;
		}
		w->count--;
		fired++;
		fire(t, arg); /* may arm timers, into other slots or this one */
	}
	w->occupied[0] &= ~(1ull << s);
	return fired;
}

/* The first tick after now at which level l's occupied slots need work:
 * a first-level slot's own tick, or the start of the period of a higher
 * slot, when it cascades. */
static uint64_t level_next(const struct timer_wheel *w, unsigned l)
{
	uint64_t period = w->now >> SHIFT(l);
	unsigned first = (unsigned)(period + 1) & (TW_SLOTS - 1);
	uint64_t bits = w->occupied[l];

	bits = first ? (bits >> first) | (bits << (TW_SLOTS - first)) : bits;
	return (period + 1 + (uint64_t)__builtin_ctzll(bits)) << SHIFT(l);
}

/* The next tick with work on any level, or UINT64_MAX. */
static uint64_t next_work(const struct timer_wheel *w)
{
	uint64_t best = UINT64_MAX;

	for (unsigned l = 0; l < TW_LEVELS; l++)
		if (w->occupied[l]) {
			uint64_t t = level_next(w, l);

			if (t < best)
				best = t;
		}
	return best;
}

unsigned tw_advance(struct timer_wheel *w, uint64_t now_ns, tw_fire_fn fire,
		    void *arg)
{
	uint64_t target = now_ns / w->tick_ns;
	unsigned fired = 0;

	/* Jump from one tick with work to the next: empty time costs nothing,
	 * however long the program slept. */
	while (w->now < target) {
		uint64_t next = next_work(w);

		if (next > target) {
			w->now = target;
			break;
		}
		w->now = next;
		for (unsigned l = 1; l < TW_LEVELS; l++) {
			if (w->now & ((1ull << SHIFT(l)) - 1))
				break;
			cascade(w, l);
		}
		fired += fire_slot(w, fire, arg);
	}
	return fired;
}

uint64_t tw_next_deadline(const struct timer_wheel *w)
{
	uint64_t next = w->count ? next_work(w) : UINT64_MAX;

	return next == UINT64_MAX ? next : next * w->tick_ns;
}
