/*
 * test_progress.c - the progress thread (sockets/progress.c) and the
 * lone-user handover it relies on (sockets/solo.h): when a stack is due a
 * turn (never while a thread sleeps in a wait or none uses it; a period
 * after the latest poll, wake or turn), that a round turns exactly the due
 * stacks and a busy one is not retried at once; that a borrowed turn and a
 * lone user running lock-free never overlap and leave the lone user its
 * standing; and the thread itself: it runs turns with every signal
 * blocked, parks when every stack's thread sleeps, wakes on a kick, and
 * ends on stop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../sockets/progress.h"
#include "../../sockets/solo.h"

#define MS 1000000ull

static struct sk_stack stacks[3];
static int turns[3];
static int turn_busy;

static int fake_turn(struct sk_stack *S)
{
	__atomic_add_fetch(&turns[S - stacks], 1, __ATOMIC_RELAXED);
	return !turn_busy;
}

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int setup(void **state)
{
	(void)state;
	memset(stacks, 0, sizeof(stacks));
	memset(turns, 0, sizeof(turns));
	turn_busy = 0;
	for (int i = 0; i < 3; i++)
		pthread_mutex_init(&stacks[i].lock, NULL);
	return 0;
}

static void test_due_rules(void **state)
{
	struct sk_stack *S = &stacks[0];

	assert_true(sk_progress_due(S, 0, 2 * MS) == SK_PROGRESS_NONE); /* no thread */
	S->nthreads = 1;
	S->polled_at = 10 * MS;
	assert_true(sk_progress_due(S, 0, 2 * MS) == 12 * MS);
	S->woke_at = 15 * MS; /* a wake counts as seen */
	assert_true(sk_progress_due(S, 0, 2 * MS) == 17 * MS);
	assert_true(sk_progress_due(S, 20 * MS, 2 * MS) == 22 * MS); /* the last turn */
	S->sleepers = 1; /* its thread sleeps in a wait: the wait runs it */
	assert_true(sk_progress_due(S, 20 * MS, 2 * MS) == SK_PROGRESS_NONE);
}

static void test_round_turns_due_stacks_only(void **state)
{
	struct sk_progress p = { .stacks = stacks, .n = 3, .period_ns = 2 * MS,
				 .turn = fake_turn };
	uint64_t next;

	for (int i = 0; i < 3; i++)
		stacks[i].nthreads = 1;
	stacks[0].polled_at = 100 * MS; /* polled a moment ago */
	stacks[1].polled_at = 90 * MS;  /* left alone 10 ms */
	stacks[2].polled_at = 90 * MS;
	stacks[2].sleepers = 1;         /* asleep in epoll_wait */
	next = sk_progress_round(&p, 101 * MS, 1);
	assert_int_equal(turns[0], 0);
	assert_int_equal(turns[1], 1);
	assert_int_equal(turns[2], 0);
	assert_true(next == 102 * MS); /* stack 0's */
	assert_true(p.last[1] == 101 * MS);
	/* A look without turns names the same time and runs nothing. */
	assert_true(sk_progress_round(&p, 101 * MS, 0) == 102 * MS);
	assert_int_equal(turns[1], 1);
	/* Busy (the program had it): not tried again before a period. */
	turn_busy = 1;
	next = sk_progress_round(&p, 102 * MS, 1);
	assert_int_equal(turns[0], 1);
	assert_true(next == 103 * MS); /* stack 1, a period after its turn */
	next = sk_progress_round(&p, 102 * MS + 1, 1);
	assert_int_equal(turns[0], 1);
	/* Every stack asleep or unused: nothing is due. */
	stacks[0].sleepers = stacks[1].sleepers = 1;
	assert_true(sk_progress_round(&p, 200 * MS, 1) == SK_PROGRESS_NONE);
}

/* ---- the handover ------------------------------------------------------- */

static uint64_t mono(void);
static struct sk_thread owner_ctx;
static uint64_t inside_count; /* changed only by whoever has the stack */
static int inside_now, overlap, done;
static unsigned long owner_fast, borrowed, refused;

static void critical(void)
{
	if (__atomic_exchange_n(&inside_now, 1, __ATOMIC_RELAXED))
		__atomic_store_n(&overlap, 1, __ATOMIC_RELAXED);
	inside_count++;
	for (volatile int k = 0; k < 100; k++) /* (a poll takes a while) */
		;
	__atomic_store_n(&inside_now, 0, __ATOMIC_RELAXED);
}

static void *owner_main(void *arg)
{
	struct sk_stack *s = arg;

	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		if (solo_try_enter(s, &owner_ctx)) {
			critical();
			solo_exit(s);
			__atomic_add_fetch(&owner_fast, 1, __ATOMIC_RELAXED);
		} else { /* as stack_take's slow path: the mutex, and it stays solo */
			pthread_mutex_lock(&s->lock);
			solo_revoke(s);
			critical();
			__atomic_store_n(&s->solo, &owner_ctx, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&s->lock);
		}
		for (volatile int k = 0; k < 200; k++) /* (its own code) */
			;
	}
	return NULL;
}

static void *borrower_main(void *arg)
{
	struct sk_stack *s = arg;
	struct sk_thread *prev;

	uint64_t end = mono() + 5000 * MS;

	/* (both sides a while: on a loaded machine the owner may start late) */
	while ((borrowed < 2000 || __atomic_load_n(&owner_fast, __ATOMIC_RELAXED) < 2000) &&
	       mono() < end) {
		if (pthread_mutex_trylock(&s->lock) != 0)
			continue;
		if (solo_borrow(s, &prev)) {
			critical();
			borrowed++;
			solo_restore(s, prev);
		} else {
			refused++;
		}
		pthread_mutex_unlock(&s->lock);
	}
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_borrow_excludes_lone_user(void **state)
{
	struct sk_stack *s = &stacks[0];
	pthread_t a, b;

	if (!asym_fence_init())
		skip(); /* (no membarrier: the shim never makes a lone user) */
	s->solo = &owner_ctx;
	assert_int_equal(pthread_create(&a, NULL, owner_main, s), 0);
	assert_int_equal(pthread_create(&b, NULL, borrower_main, s), 0);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	assert_int_equal(overlap, 0);
	assert_true(inside_count >= borrowed + owner_fast);
	assert_true(borrowed > 0);
	assert_true(owner_fast > 0);
	/* The lone user keeps its standing after every turn. */
	assert_ptr_equal(s->solo, &owner_ctx);
	assert_int_equal(s->solo_inside, 0);
}

/* A lone user inside: the turn is refused at once (it runs the stack
 * itself) and its standing is put back. */
static void test_borrow_refused_while_inside(void **state)
{
	struct sk_stack *s = &stacks[0];
	struct sk_thread *prev;

	if (!asym_fence_init())
		skip();
	s->solo = &owner_ctx;
	assert_true(solo_try_enter(s, &owner_ctx));
	pthread_mutex_lock(&s->lock);
	assert_int_equal(solo_borrow(s, &prev), 0);
	pthread_mutex_unlock(&s->lock);
	assert_ptr_equal(s->solo, &owner_ctx);
	solo_exit(s);
	/* With no lone user the turn is the mutex's alone. */
	s->solo = NULL;
	pthread_mutex_lock(&s->lock);
	assert_int_equal(solo_borrow(s, &prev), 1);
	assert_null(prev);
	solo_restore(s, prev);
	pthread_mutex_unlock(&s->lock);
	assert_null(s->solo);
}

/* ---- the thread ---------------------------------------------------------- */

static int sigs_blocked = -1;

static int thread_turn(struct sk_stack *S)
{
	sigset_t m;

	pthread_sigmask(SIG_SETMASK, NULL, &m);
	__atomic_store_n(&sigs_blocked, sigismember(&m, SIGINT) && sigismember(&m, SIGALRM) &&
			 sigismember(&m, SIGTERM) && sigismember(&m, SIGUSR1), __ATOMIC_RELAXED);
	return fake_turn(S);
}

static int wait_for(int *v, int atleast, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (__atomic_load_n(v, __ATOMIC_ACQUIRE) >= atleast)
			return 1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void test_thread_turns_parks_wakes(void **state)
{
	struct sk_progress p = { .stacks = stacks, .n = 1, .period_ns = 1 * MS,
				 .now = mono, .turn = thread_turn };
	struct sk_stack *S = &stacks[0];
	int before;

	S->nthreads = 1;
	S->polled_at = mono();
	assert_int_equal(sk_progress_start(&p), 0);
	/* Left alone: turns every period. */
	assert_true(wait_for(&turns[0], 5, 2000));
	assert_int_equal(__atomic_load_n(&sigs_blocked, __ATOMIC_RELAXED), 1);
	/* Its thread sleeps in a wait: the progress thread parks. */
	__atomic_add_fetch(&S->sleepers, 1, __ATOMIC_SEQ_CST);
	assert_true(wait_for(&p.parked, 1, 2000));
	before = __atomic_load_n(&turns[0], __ATOMIC_RELAXED);
	{
		struct timespec ts = { 0, 30 * MS };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&turns[0], __ATOMIC_RELAXED), before);
	/* The thread wakes, then goes busy: turns again after a period. */
	__atomic_store_n(&S->woke_at, mono(), __ATOMIC_RELAXED);
	__atomic_sub_fetch(&S->sleepers, 1, __ATOMIC_SEQ_CST);
	sk_progress_kick(&p);
	assert_true(wait_for(&turns[0], before + 3, 2000));
	sk_progress_stop(&p);
	before = __atomic_load_n(&turns[0], __ATOMIC_RELAXED);
	{
		struct timespec ts = { 0, 10 * MS };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&turns[0], __ATOMIC_RELAXED), before);
	/* Off (ACCEL_PROGRESS_MS=0): no thread at all. */
	p = (struct sk_progress){ .stacks = stacks, .n = 1, .now = mono, .turn = thread_turn };
	assert_int_equal(sk_progress_start(&p), 0);
	assert_int_equal(p.running, 0);
	sk_progress_stop(&p);
}

/* Where waits do not kick it (a port without interrupts), the parked
 * thread looks again after park_ns. */
static void test_park_timeout(void **state)
{
	struct sk_progress p = { .stacks = stacks, .n = 1, .period_ns = 1 * MS,
				 .now = mono, .turn = fake_turn, .park_ns = 20 * MS };
	struct sk_stack *S = &stacks[0];
	uint64_t t0;

	S->nthreads = 1;
	S->sleepers = 1;
	assert_int_equal(sk_progress_start(&p), 0);
	assert_true(wait_for(&p.parked, 1, 2000));
	t0 = mono();
	__atomic_store_n(&S->woke_at, t0, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&S->sleepers, 1, __ATOMIC_SEQ_CST); /* (no kick) */
	assert_true(wait_for(&turns[0], 1, 2000));
	assert_true(mono() - t0 >= 1 * MS); /* (a period after the wake) */
	sk_progress_stop(&p);
}

/* Stop while parked ends the thread at once. */
static void test_stop_while_parked(void **state)
{
	struct sk_progress p = { .stacks = stacks, .n = 1, .period_ns = 1 * MS,
				 .now = mono, .turn = fake_turn };
	uint64_t t0;

	assert_int_equal(sk_progress_start(&p), 0); /* (no thread uses the stack) */
	assert_true(wait_for(&p.parked, 1, 2000));
	t0 = mono();
	sk_progress_stop(&p);
	assert_true(mono() - t0 < 500 * MS);
	assert_int_equal(turns[0], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_due_rules, setup),
		cmocka_unit_test_setup(test_round_turns_due_stacks_only, setup),
		cmocka_unit_test_setup(test_borrow_excludes_lone_user, setup),
		cmocka_unit_test_setup(test_borrow_refused_while_inside, setup),
		cmocka_unit_test_setup(test_thread_turns_parks_wakes, setup),
		cmocka_unit_test_setup(test_park_timeout, setup),
		cmocka_unit_test_setup(test_stop_while_parked, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
