/*
 * test_flows.c - the map from a TCP 4-tuple to the stack that serves it
 * (sockets/flows.c): the three rules in their order, a table that stays
 * right through any order of inserts and deletes (checked against a plain
 * array), a full table that refuses new entries but still updates, and
 * readers that never see a wrong answer while a writer churns the table.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../sockets/sock_impl.h"

#define PEER 0x0a580001u /* 10.88.0.1 */

/* flows.c keeps its table in the socket layer's process object, which
 * proc.c (not linked here: flows.c is tested alone) makes. */
static struct sk_proc proc = { .flow_wlock = PTHREAD_MUTEX_INITIALIZER };
struct sk_proc *const sk_proc = &proc;

/* libc's generator, seeded: the same run every time */
static uint64_t next_rand(void)
{
	return (uint64_t)random() << 31 ^ (uint64_t)random();
}

static int setup(void **state)
{
	(void)state;
	srandom(7);
	return sk_flows_init(4);
}

/* The table first, then a listener's port, then the ephemeral port's
 * stack. A SYN follows the table to where its tuple moved (a TIME_WAIT
 * there takes it as reuse) unless that is the asking stack, where the
 * tuple is gone: then to the listener. An old connection's end leaves a
 * newer entry of the same tuple alone. */
static void test_rules_in_order(void **state)
{
	(void)state;
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), -1);
	sk_flow_listen(11211, 2);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), 2);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 1, 0), 2);
	assert_int_equal(sk_flow_set(PEER, 40000, 11211, 3), 0);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), 3);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 3), 3);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 1, 0), 3); /* SYN */
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 1, 3), 2);
	assert_int_equal(sk_flow_target(PEER, 40001, 11211, 0, 0), 2); /* other tuple */
	sk_flow_del(PEER, 40000, 11211, 1); /* stack 1's old one ended */
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), 3);
	sk_flow_del(PEER, 40000, 11211, 3);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), 2);
	sk_flow_listen(11211, -1);
	assert_int_equal(sk_flow_target(PEER, 40000, 11211, 0, 0), -1);
	/* an ephemeral local port: the stack that picked it (port % 4) */
	assert_int_equal(sk_flow_target(PEER, 11211, 40001, 0, 0), 1);
	assert_int_equal(sk_flow_target(PEER, 11211, STACK_TCP_EPH_LO, 0, 0),
			 STACK_TCP_EPH_LO % 4);
	assert_int_equal(sk_flow_target(PEER, 11211, STACK_TCP_EPH_LO - 1, 0, 0), -1);
	assert_int_equal(sk_flow_target(PEER, 11211, STACK_TCP_EPH_HI + 1, 0, 0), -1);
}

#define N 20000

struct ref {
	uint32_t rip;
	uint16_t rport, lport;
	int stack; /* -1: deleted */
};

/* Random inserts, updates and deletes, checked after each round against
 * an array: deletion shifts runs back, and a wrong shift loses keys. */
static void test_matches_reference(void **state)
{
	static struct ref ref[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		ref[i].rip = (uint32_t)next_rand() | 1;
		ref[i].rport = (uint16_t)(next_rand() | 1);
		ref[i].lport = (uint16_t)next_rand();
		ref[i].stack = (int)(next_rand() % 16);
		assert_int_equal(sk_flow_set(ref[i].rip, ref[i].rport, ref[i].lport,
					     (unsigned)ref[i].stack), 0);
	}
	for (int round = 0; round < 4; round++) {
		for (int k = 0; k < N / 2; k++) {
			struct ref *r = &ref[next_rand() % N];

			if (next_rand() & 1) {
				sk_flow_del(r->rip, r->rport, r->lport, -1);
				r->stack = -1;
			} else {
				r->stack = (int)(next_rand() % 16);
				assert_int_equal(sk_flow_set(r->rip, r->rport, r->lport,
							     (unsigned)r->stack), 0);
			}
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(sk_flow_get(ref[i].rip, ref[i].rport, ref[i].lport),
					 ref[i].stack);
	}
	for (int i = 0; i < N; i++)
		sk_flow_del(ref[i].rip, ref[i].rport, ref[i].lport, -1);
	for (int i = 0; i < N; i++)
		assert_int_equal(sk_flow_get(ref[i].rip, ref[i].rport, ref[i].lport), -1);
}

/* Full (three quarters of the slots): a new tuple is refused, a known
 * one is still updated, and a delete makes room again. */
static void test_full_refuses_new(void **state)
{
	unsigned n = 0;
	int r;

	(void)state;
	while ((r = sk_flow_set(PEER, (uint16_t)(n % 60000 + 1), (uint16_t)(n / 60000 + 1),
				n % 16)) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_true(n >= 40000);
	assert_int_equal(sk_flow_set(PEER, 1, 1, 7), 0);
	assert_int_equal(sk_flow_get(PEER, 1, 1), 7);
	sk_flow_del(PEER, 2, 1, -1);
	assert_int_equal(sk_flow_set(PEER, 60001 % 65536, 60, 5), 0);
	assert_int_equal(sk_flow_get(PEER, 60001 % 65536, 60), 5);
	for (unsigned i = 0; i < n; i++)
		sk_flow_del(PEER, (uint16_t)(i % 60000 + 1), (uint16_t)(i / 60000 + 1), -1);
	sk_flow_del(PEER, 60001 % 65536, 60, -1);
	assert_int_equal(sk_flow_get(PEER, 1, 1), -1);
}

static volatile int stop;
static unsigned long wrong, reads;

/* A reader looks up tuples that never change while the writer churns
 * others around them (until the reader made 3,000,000 lookups): each
 * lookup must give the fixed answer. */
static void *reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		for (uint16_t p = 1; p <= 64; p++)
		{
			if (sk_flow_get(PEER, p, 80) != p % 16)
				__atomic_add_fetch(&wrong, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED);
		}
	return NULL;
}

static void test_readers_during_writes(void **state)
{
	pthread_t th;

	(void)state;
	for (uint16_t p = 1; p <= 64; p++)
		assert_int_equal(sk_flow_set(PEER, p, 80, p % 16), 0);
	assert_int_equal(pthread_create(&th, NULL, reader, NULL), 0);
	while (__atomic_load_n(&reads, __ATOMIC_RELAXED) < 3000000) {
		/* (dense enough that deletes shift the fixed ones back) */
		for (uint16_t p = 1; p <= 30000; p++)
			sk_flow_set(PEER, p, 81, 3);
		for (uint16_t p = 1; p <= 30000; p++)
			sk_flow_del(PEER, p, 81, -1);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(wrong, 0);
	assert_true(reads >= 3000000);
	for (uint16_t p = 1; p <= 64; p++)
		sk_flow_del(PEER, p, 80, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_in_order),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_full_refuses_new),
		cmocka_unit_test(test_readers_during_writes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
