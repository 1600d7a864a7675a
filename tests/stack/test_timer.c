/*
 * test_timer.c - the timing wheel against a brute-force reference: random
 * arms, cancels, re-arms from callbacks and advances of every size; no
 * timer may fire early, none may be left unfired once its tick has passed,
 * and the next-deadline hint may never be later than the earliest timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../stack/timer.h"
#include "link.h"

#define TICK 1000000ull /* 1 ms */
#define NTIMERS 512

struct ref {
	struct stack_timer t;
	uint64_t due_tick;   /* what the reference says */
	int armed;
	int rearm;           /* callback re-arms with this period (ticks) */
	uint64_t fired_at;
};

struct run {
	struct timer_wheel w;
	struct ref r[NTIMERS];
	uint64_t last_fire_tick;
	unsigned fired;
};

static struct test_rng rng = { 0x9e3779b97f4a7c15ull };

static uint64_t rnd(void)
{
	return test_rand(&rng);
}

static void on_fire(struct stack_timer *t, void *arg)
{
	struct run *run = arg;
	struct ref *r = (struct ref *)((char *)t - offsetof(struct ref, t));

	assert_true(r->armed);
	assert_true(r->due_tick <= run->w.now);        /* never early */
	assert_true(run->w.now >= run->last_fire_tick); /* in time order */
	run->last_fire_tick = run->w.now;
	r->armed = 0;
	r->fired_at = run->w.now;
	run->fired++;
	if (r->rearm) {
		uint64_t at = (run->w.now + (uint64_t)r->rearm) * TICK;

		tw_arm(&run->w, &r->t, at);
		r->armed = 1;
		r->due_tick = run->w.now + (uint64_t)r->rearm;
	}
}

static void arm(struct run *run, struct ref *r, uint64_t at_ns)
{
	tw_arm(&run->w, &r->t, at_ns);
	r->armed = 1;
	r->due_tick = (at_ns + TICK - 1) / TICK;
	if (r->due_tick <= run->w.now)
		r->due_tick = run->w.now + 1; /* already due: the next tick */
}

static unsigned armed_count(const struct run *run)
{
	unsigned n = 0;

	for (int i = 0; i < NTIMERS; i++)
		n += run->r[i].armed;
	return n;
}

static void check_after_advance(struct run *run)
{
	uint64_t earliest = UINT64_MAX;
	int first_level = 0;

	for (int i = 0; i < NTIMERS; i++) {
		if (!run->r[i].armed)
			continue;
		assert_true(tw_armed(&run->r[i].t));
		assert_true(run->r[i].due_tick > run->w.now); /* never late */
		if (run->r[i].due_tick < earliest ||
		    (run->r[i].due_tick == earliest && run->r[i].t.where < TW_SLOTS)) {
			earliest = run->r[i].due_tick;
			first_level = run->r[i].t.where < TW_SLOTS;
		}
	}
	assert_int_equal(run->w.count, armed_count(run));
	if (earliest == UINT64_MAX) {
		assert_true(tw_next_deadline(&run->w) == UINT64_MAX);
		return;
	}
	assert_true(tw_next_deadline(&run->w) <= earliest * TICK);
	assert_true(tw_next_deadline(&run->w) > run->w.now * TICK);
	/* Only first-level timers armed: the hint is exact. */
	if (first_level && !run->w.occupied[1] && !run->w.occupied[2] &&
	    !run->w.occupied[3])
		assert_true(tw_next_deadline(&run->w) == earliest * TICK);
}

/* Delays of every scale: sub-tick, first level, each higher level, beyond
 * the wheel's reach (hours). */
static uint64_t random_delay_ns(void)
{
	switch (rnd() % 6) {
	case 0: return rnd() % (2 * TICK);
	case 1: return rnd() % (64 * TICK);
	case 2: return rnd() % (4096 * TICK);
	case 3: return rnd() % (262144 * TICK);
	case 4: return rnd() % (16777216ull * TICK);
	default: return rnd() % (48ull * 3600 * 1000 * TICK);
	}
}

static uint64_t random_step_ns(void)
{
	switch (rnd() % 5) {
	case 0: return 0;
	case 1: return rnd() % (3 * TICK);
	case 2: return rnd() % (200 * TICK);
	case 3: return rnd() % (60000 * TICK);
	default: return rnd() % (20ull * 3600 * 1000 * TICK);
	}
}

static void test_random_against_reference(void **state)
{
	struct run *run = calloc(1, sizeof(*run));
	uint64_t now = 5000 * TICK + 123;

	(void)state;
	tw_init(&run->w, now, TICK);
	/* A few periodic timers, re-armed from their callback at the scale
	 * of TCP's slow timers (10 s to 5 min). */
	for (int i = 0; i < NTIMERS; i++)
		run->r[i].rearm = (i % 64 == 0) ? 10000 + (int)(rnd() % 290000) : 0;
	for (int step = 0; step < 20000; step++) {
		struct ref *r = &run->r[rnd() % NTIMERS];

		switch (rnd() % 4) {
		case 0:
		case 1:
			arm(run, r, now + random_delay_ns());
			break;
		case 2:
			tw_cancel(&run->w, &r->t);
			r->armed = 0;
			break;
		default:
			now += random_step_ns();
			tw_advance(&run->w, now, on_fire, run);
			check_after_advance(run);
		}
	}
	/* Drain: every timer eventually fires. */
	for (int i = 0; i < NTIMERS; i++) {
		run->r[i].rearm = 0;
	}
	now += 60ull * 3600 * 1000 * TICK;
	tw_advance(&run->w, now, on_fire, run);
	check_after_advance(run);
	assert_int_equal(run->w.count, 0);
	assert_true(run->fired > 1000);
	free(run);
}

static void test_exact_fire_tick(void **state)
{
	struct run *run = calloc(1, sizeof(*run));

	(void)state;
	tw_init(&run->w, 0, TICK);
	/* 0.5 ms rounds up to tick 1; 64 ms lands on level 1 and must cascade
	 * to fire exactly at tick 64; 5000 ms on level 2. */
	arm(run, &run->r[0], TICK / 2);
	arm(run, &run->r[1], 64 * TICK);
	arm(run, &run->r[2], 5000 * TICK);
	for (uint64_t t = 1; t <= 5000; t++) {
		tw_advance(&run->w, t * TICK, on_fire, run);
		check_after_advance(run);
	}
	assert_int_equal(run->r[0].fired_at, 1);
	assert_int_equal(run->r[1].fired_at, 64);
	assert_int_equal(run->r[2].fired_at, 5000);
	free(run);
}

static void test_cancel_and_rearm(void **state)
{
	struct run *run = calloc(1, sizeof(*run));
	struct stack_timer idle = { 0 };

	(void)state;
	tw_init(&run->w, 0, TICK);
	tw_cancel(&run->w, &idle); /* idle timer: no effect */
	assert_int_equal(run->w.count, 0);
	arm(run, &run->r[0], 10 * TICK);
	arm(run, &run->r[0], 300 * TICK); /* re-arm moves it */
	assert_int_equal(run->w.count, 1);
	tw_advance(&run->w, 100 * TICK, on_fire, run);
	assert_int_equal(run->fired, 0);
	tw_cancel(&run->w, &run->r[0].t);
	run->r[0].armed = 0;
	assert_false(tw_armed(&run->r[0].t));
	tw_advance(&run->w, 1000 * TICK, on_fire, run);
	assert_int_equal(run->fired, 0);
	assert_true(tw_next_deadline(&run->w) == UINT64_MAX);
	free(run);
}

/* Many idle connections' timers far away cost nothing per short advance:
 * the near timer still fires on time and the far ones do not move. */
static void test_many_far_timers(void **state)
{
	struct run *run = calloc(1, sizeof(*run));

	(void)state;
	tw_init(&run->w, 0, TICK);
	for (int i = 1; i < NTIMERS; i++) /* keepalive-like: 2 hours */
		arm(run, &run->r[i], 7200000 * TICK + (uint64_t)i * TICK);
	arm(run, &run->r[0], 40 * TICK);  /* a delayed ACK */
	tw_advance(&run->w, 40 * TICK, on_fire, run);
	assert_int_equal(run->fired, 1);
	assert_int_equal(run->r[0].fired_at, 40);
	check_after_advance(run);
	tw_advance(&run->w, 7200000 * TICK + NTIMERS * TICK, on_fire, run);
	assert_int_equal(run->fired, NTIMERS);
	check_after_advance(run);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_fire_tick),
		cmocka_unit_test(test_cancel_and_rearm),
		cmocka_unit_test(test_many_far_timers),
		cmocka_unit_test(test_random_against_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
