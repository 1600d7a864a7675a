/*
 * test_spin.c - the waits' spin budget (sockets/spin.c) fed made-up waits:
 * it climbs while events come late in the spin or just after a sleep,
 * falls while sleeps last longer than any spin could cover (a single one
 * by an eighth only), never leaves
 * its bounds whatever comes, stays put on early events and short
 * timeouts, and never moves when ACCEL_SPIN_US fixed it; and the idle
 * slice's stretch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../sockets/spin.h"

#define US 1000ull
#define MS 1000000ull

static struct sk_spin fresh(void)
{
	struct sk_spin sp;

	sk_spin_init(&sp, SK_SPIN_ADAPTIVE, 0);
	return sp;
}

static void test_starts_adaptive(void **state)
{
	struct sk_spin sp = fresh();

	(void)state;
	assert_false(sp.fixed);
	assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_START_NS);
}

/* A stream of requests 150 us apart, the thread starting from the floor:
 * each sleep that ends with an event within the cap doubles the budget,
 * until the spin catches them; then it stays. */
static void test_grows_to_catch_the_gaps(void **state)
{
	struct sk_spin sp = fresh();
	int sleeps = 0;

	(void)state;
	sp.budget_ns = SK_SPIN_MIN_NS;
	for (int i = 0; i < 100; i++) {
		uint64_t b = sk_spin_budget(&sp, 0);

		if (b >= 150 * US) {
			sk_spin_learn(&sp, 150 * US, 0, 1); /* caught in the spin */
		} else {
			sleeps++; /* missed: slept, found on the next 1 ms slice */
			sk_spin_learn(&sp, b + 1 * MS, 1, 1);
			assert_true(sk_spin_budget(&sp, 0) > b);
		}
	}
	assert_true(sleeps <= 8);
	assert_true(sk_spin_budget(&sp, 0) >= 150 * US);
	assert_true(sk_spin_budget(&sp, 0) <= SK_SPIN_MAX_NS);
}

/* An event in the second half of the spin: a margin is added; in the
 * first half: nothing changes. */
static void test_late_hit_grows_early_hit_keeps(void **state)
{
	struct sk_spin sp = fresh();
	uint64_t b = sk_spin_budget(&sp, 0);

	(void)state;
	sk_spin_learn(&sp, b / 4, 0, 1);
	assert_int_equal(sk_spin_budget(&sp, 0), b);
	sk_spin_learn(&sp, b * 3 / 4, 0, 1);
	assert_int_equal(sk_spin_budget(&sp, 0), 2 * b);
}

/* An idle thread: each wait sleeps long (or times out long after); the
 * budget shrinks down to the floor and stays there. */
static void test_idle_falls_to_floor(void **state)
{
	struct sk_spin sp = fresh();

	(void)state;
	sp.budget_ns = SK_SPIN_MAX_NS;
	for (int i = 0; i < 60; i++) { /* (spin.h: about 50 from the cap) */
		uint64_t b = sk_spin_budget(&sp, 0);

		sk_spin_learn(&sp, 1000 * MS, 1, i & 1); /* an event a second later, or none */
		assert_true(sk_spin_budget(&sp, 0) <= b);
		if (i == 0)
			assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_MAX_NS - SK_SPIN_MAX_NS / 8);
	}
	assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_MIN_NS);
	sk_spin_learn(&sp, SK_SPIN_NEAR_NS + 1, 1, 0);
	assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_MIN_NS);
}

/* A sleep found its event at the end of a memif slice or two: a near
 * miss, the budget grows; a sleep past SK_SPIN_NEAR_NS: it shrinks. */
static void test_near_miss_window(void **state)
{
	struct sk_spin sp = fresh();
	uint64_t b = sk_spin_budget(&sp, 0);

	(void)state;
	sk_spin_learn(&sp, SK_SPIN_MAX_NS + 1 * MS, 1, 1);
	assert_int_equal(sk_spin_budget(&sp, 0), 2 * b);
	sk_spin_learn(&sp, SK_SPIN_NEAR_NS, 1, 1);
	assert_int_equal(sk_spin_budget(&sp, 0), 4 * b);
	sk_spin_learn(&sp, SK_SPIN_NEAR_NS + 1, 1, 1);
	assert_true(sk_spin_budget(&sp, 0) < 4 * b);
}

/* On a queue that wakes its sleepers at once (an interrupt), a sleep
 * longer than SK_SPIN_NEAR_WAKE_NS is no near miss: it shrinks the
 * budget where on memif it would grow it. */
static void test_near_miss_with_wakeups(void **state)
{
	struct sk_spin sp, memif;

	(void)state;
	sk_spin_init(&sp, SK_SPIN_ADAPTIVE, 1);
	sk_spin_init(&memif, SK_SPIN_ADAPTIVE, 0);
	for (int i = 0; i < 20; i++) { /* a message every 1-3 ms */
		sk_spin_learn(&sp, (1 + i % 3) * MS, 1, 1);
		sk_spin_learn(&memif, (1 + i % 3) * MS, 1, 1);
	}
	assert_int_equal(sk_spin_budget(&memif, 0), SK_SPIN_MAX_NS);
	assert_true(sk_spin_budget(&sp, 0) < SK_SPIN_START_NS);
	sk_spin_learn(&sp, SK_SPIN_NEAR_WAKE_NS, 1, 1); /* just missed: grows */
	assert_true(sk_spin_budget(&sp, 0) >= SK_SPIN_MIN_NS);
	for (int i = 0; i < 30; i++) /* requests a few us apart: caught late */
		sk_spin_learn(&sp, sk_spin_budget(&sp, 0) * 3 / 4, 0, 1);
	assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_MAX_NS);
}

/* A short timeout, reached in the spin or after a short sleep, says
 * nothing about the gaps: no change. */
static void test_short_timeout_keeps(void **state)
{
	struct sk_spin sp = fresh();
	uint64_t b = sk_spin_budget(&sp, 0);

	(void)state;
	sk_spin_learn(&sp, b / 2, 0, 0);
	sk_spin_learn(&sp, b + 500 * US, 1, 0);
	sk_spin_learn(&sp, 0, 0, 0);
	assert_int_equal(sk_spin_budget(&sp, 0), b);
}

/* Under a steady load the budget climbs to the cap and stops there. */
static void test_capped(void **state)
{
	struct sk_spin sp = fresh();

	(void)state;
	for (int i = 0; i < 64; i++) {
		sk_spin_learn(&sp, sk_spin_budget(&sp, 0), 0, 1);
		assert_true(sk_spin_budget(&sp, 0) <= SK_SPIN_MAX_NS);
	}
	assert_int_equal(sk_spin_budget(&sp, 0), SK_SPIN_MAX_NS);
}

/* Whatever comes, the budget stays within its bounds. */
static void test_random_stays_in_bounds(void **state)
{
	struct sk_spin sp = fresh();

	(void)state;
	srandom(11);
	for (int i = 0; i < 100000; i++) {
		uint64_t took = (uint64_t)random() % (10 * MS);

		sk_spin_learn(&sp, random() % 3 ? took : took / 1000, (int)(random() & 1),
			      (int)(random() & 1));
		assert_true(sk_spin_budget(&sp, 0) >= SK_SPIN_MIN_NS);
		assert_true(sk_spin_budget(&sp, 0) <= SK_SPIN_MAX_NS);
	}
}

/* ACCEL_SPIN_US set (0 included): the budget is that, always. */
static void test_fixed_never_moves(void **state)
{
	uint64_t vals[] = { 0, 100 * US, 1 * MS, 100 * MS };

	(void)state;
	for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
		struct sk_spin sp;

		sk_spin_init(&sp, vals[v], 0);
		assert_true(sp.fixed);
		for (int i = 0; i < 50; i++) {
			sk_spin_learn(&sp, 10 * US, 1, 1);
			sk_spin_learn(&sp, 5000 * MS, 1, 0);
			sk_spin_learn(&sp, vals[v], 0, 1);
		}
		assert_int_equal(sk_spin_budget(&sp, 0), vals[v]);
	}
}

/* The idle slice: base while frames came lately, then one base more per
 * SK_IDLE_STRETCH slices of silence, up to SK_IDLE_SLICE_MAX. */
/* A spin whose looks come far apart (the thread was preempted) ends at
 * once and halves the budget, down to the floor; looks a few us apart
 * never cut it; a fixed spin is never cut. */
static void test_preempted_spin_is_cut(void **state)
{
	struct sk_spin sp;
	uint64_t t = 1000 * MS, b;

	(void)state;
	sk_spin_init(&sp, SK_SPIN_ADAPTIVE, 0);
	for (int i = 0; i < 20; i++) /* load: the budget at the cap */
		sk_spin_learn(&sp, 1 * MS, 1, 1);
	b = sk_spin_budget(&sp, t);
	assert_int_equal(b, SK_SPIN_MAX_NS);
	for (uint64_t at = t; at < t + b; at += 3 * US)
		assert_false(sk_spin_cut(&sp, at));
	sk_spin_learn(&sp, b / 4, 0, 1); /* caught early in the spin: kept */
	assert_int_equal(sk_spin_budget(&sp, t), SK_SPIN_MAX_NS);
	assert_false(sk_spin_cut(&sp, t + SK_SPIN_PREEMPT_NS - 1));
	assert_true(sk_spin_cut(&sp, t + 2 * SK_SPIN_PREEMPT_NS));
	sk_spin_learn(&sp, 3 * MS, 1, 1); /* a near miss, but preempted: halves */
	assert_int_equal(sk_spin_budget(&sp, t), SK_SPIN_MAX_NS / 2);
	for (int i = 0; i < 40; i++) {
		t += 10 * MS;
		sk_spin_budget(&sp, t);
		assert_true(sk_spin_cut(&sp, t + 1 * MS));
		sk_spin_learn(&sp, 1 * MS, 0, 1);
	}
	assert_int_equal(sk_spin_budget(&sp, t), SK_SPIN_MIN_NS);
	sk_spin_learn(&sp, SK_SPIN_MIN_NS, 0, 1); /* not preempted: grows back */
	assert_true(sk_spin_budget(&sp, t) > SK_SPIN_MIN_NS);

	sk_spin_init(&sp, 1 * MS, 0);
	sk_spin_budget(&sp, t);
	assert_false(sk_spin_cut(&sp, t + 100 * MS));
	sk_spin_learn(&sp, 1 * MS, 0, 1);
	assert_int_equal(sk_spin_budget(&sp, t), 1 * MS);
}

/* On a queue with an interrupt the spin runs only while the host has a
 * core for it: more runnable threads than CPUs end it at the next look
 * (the budget kept), a count that says a core is free lets it run; the
 * count is taken again at a wait's first look once SK_SPIN_ROOM_NS old,
 * in a spin once SK_SPIN_ROOM_LOOK_NS old. memif's spin and a fixed one
 * never ask. */
static void test_crowded_host_ends_spin(void **state)
{
	struct sk_spin sp, memif, fixed;
	uint64_t t = 1000 * MS, b;

	(void)state;
	sk_spin_init(&sp, SK_SPIN_ADAPTIVE, 1);
	sk_spin_init(&memif, SK_SPIN_ADAPTIVE, 0);
	sk_spin_init(&fixed, 1 * MS, 1);
	assert_true(sp.ncpu >= 1);
	sk_spin_room(&sp, t, sp.ncpu); /* every core busy, one of them ours */
	b = sk_spin_budget(&sp, t);
	assert_false(sk_spin_cut(&sp, t + 1 * US));
	assert_false(sk_spin_cut(&sp, t + 2 * US));
	sk_spin_room(&sp, t + 3 * US, sp.ncpu + 1); /* one more wants a core */
	assert_true(sk_spin_cut(&sp, t + 4 * US));
	sk_spin_learn(&sp, 10 * US, 1, 1);
	assert_true(sk_spin_budget(&sp, t + 20 * US) >= b); /* not halved */
	/* a wait's first look runs whatever the count; the second ends it */
	assert_false(sk_spin_cut(&sp, t + 21 * US));
	assert_true(sk_spin_cut(&sp, t + 22 * US));
	sk_spin_budget(&sp, t + 40 * US);
	sk_spin_room(&sp, t + 40 * US, 1);
	assert_false(sk_spin_cut(&sp, t + 41 * US));
	assert_false(sk_spin_cut(&sp, t + 42 * US));
	sk_spin_room(&sp, t + 42 * US, sp.ncpu + 5);
	assert_true(sk_spin_cut(&sp, t + 43 * US));

	/* the count ages: at a wait's first look one older than
	 * SK_SPIN_ROOM_NS is taken again, in the spin one older than
	 * SK_SPIN_ROOM_LOOK_NS */
	sk_spin_budget(&sp, t + SK_SPIN_ROOM_NS);
	sk_spin_room(&sp, t, sp.ncpu + 5);
	sk_spin_cut(&sp, t + SK_SPIN_ROOM_NS + 1 * US);
	assert_int_equal(sp.room_at, t + SK_SPIN_ROOM_NS + 1 * US);
	sk_spin_room(&sp, t, sp.ncpu + 5);
	sk_spin_budget(&sp, t + 40 * US);
	assert_false(sk_spin_cut(&sp, t + 41 * US));
	assert_int_equal(sp.room_at, t); /* kept */
	assert_true(sk_spin_cut(&sp, t + 42 * US));
	assert_int_equal(sp.room_at, t);
	sk_spin_cut(&sp, t + SK_SPIN_ROOM_LOOK_NS);
	assert_int_equal(sp.room_at, t + SK_SPIN_ROOM_LOOK_NS);

	for (struct sk_spin *o = &memif; o; o = o == &memif ? &fixed : NULL) {
		sk_spin_room(o, t, o->ncpu + 5);
		sk_spin_budget(o, t);
		assert_false(sk_spin_cut(o, t + 1 * US));
		assert_false(sk_spin_cut(o, t + 2 * US));
		assert_false(sk_spin_cut(o, t + 4 * SK_SPIN_ROOM_LOOK_NS));
		assert_int_equal(o->room_at, t); /* never counted */
	}
}

/* /proc/loadavg's fourth field, "R/T": R. */
static void test_parse_running(void **state)
{
	(void)state;
	assert_int_equal(sk_spin_parse_running("10.30 5.64 2.91 5/153 26499\n"), 5);
	assert_int_equal(sk_spin_parse_running("0.00 0.01 0.05 1/80 7"), 1);
	assert_int_equal(sk_spin_parse_running("1.0 1.0 1.0 123/4567 1"), 123);
	assert_int_equal(sk_spin_parse_running(""), 0);
	assert_int_equal(sk_spin_parse_running("1.0 1.0 1.0"), 0);
	assert_int_equal(sk_spin_parse_running("1.0 1.0 1.0 x/2 1"), 0);
	assert_int_equal(sk_spin_parse_running("1.0 1.0 1.0 12"), 0);
	assert_int_equal(sk_spin_parse_running("1.0 1.0 1.0 99999999999/2 1"), 0);
}

static void test_idle_stretch(void **state)
{
	(void)state;
	assert_int_equal(sk_idle_stretch(1 * MS, 0), 1);
	assert_int_equal(sk_idle_stretch(1 * MS, (SK_IDLE_STRETCH - 1) * MS), 1);
	assert_int_equal(sk_idle_stretch(1 * MS, SK_IDLE_STRETCH * MS), 2);
	assert_int_equal(sk_idle_stretch(1 * MS, 3 * SK_IDLE_STRETCH * MS), 4);
	assert_int_equal(sk_idle_stretch(1 * MS, 100000 * MS), SK_IDLE_SLICE_MAX);
	assert_int_equal(sk_idle_stretch(1 * MS, UINT64_MAX), SK_IDLE_SLICE_MAX);
	assert_int_equal(sk_idle_stretch(0, 5 * MS), 1);
	for (uint64_t idle = 0; idle < 2000 * MS; idle += 7 * MS) {
		unsigned k = sk_idle_stretch(1 * MS, idle);

		assert_true(k >= 1 && k <= SK_IDLE_SLICE_MAX);
		assert_true(sk_idle_stretch(1 * MS, idle + 7 * MS) >= k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_adaptive),
		cmocka_unit_test(test_preempted_spin_is_cut),
		cmocka_unit_test(test_crowded_host_ends_spin),
		cmocka_unit_test(test_parse_running),
		cmocka_unit_test(test_grows_to_catch_the_gaps),
		cmocka_unit_test(test_late_hit_grows_early_hit_keeps),
		cmocka_unit_test(test_idle_falls_to_floor),
		cmocka_unit_test(test_near_miss_window),
		cmocka_unit_test(test_near_miss_with_wakeups),
		cmocka_unit_test(test_short_timeout_keeps),
		cmocka_unit_test(test_capped),
		cmocka_unit_test(test_random_stays_in_bounds),
		cmocka_unit_test(test_fixed_never_moves),
		cmocka_unit_test(test_idle_stretch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
