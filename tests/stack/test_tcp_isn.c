/*
 * test_tcp_isn.c - SipHash-2-4 against the reference vectors of its paper,
 * and the RFC 6528 properties of the ISN: a 4 us clock per 4-tuple,
 * unrelated values for different tuples and keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../stack/tcp_isn.h"

static uint8_t key[TCP_ISN_KEY_LEN];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < TCP_ISN_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	return 0;
}

/* Aumasson and Bernstein, "SipHash: a fast short-input PRF", Appendix A:
 * key 00..0f, message 00..0e -> a129ca6149be45e5; the empty message is the
 * first entry of the reference vectors (31 0e 0e dd 47 db 6f 72). */
static void test_siphash_vectors(void **state)
{
	uint8_t msg[64];

	(void)state;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	assert_true(tcp_siphash24(key, msg, 15) == 0xa129ca6149be45e5ull);
	assert_true(tcp_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ull);
	/* vectors[8]: 8 bytes, a whole block and an empty tail */
	assert_true(tcp_siphash24(key, msg, 8) == 0x93f5f5799a932462ull);
}

static void test_isn_clock(void **state)
{
	uint32_t a, b;

	(void)state;
	a = tcp_isn(key, 0x0a000002, 11211, 0x0a000001, 40000, 1000000000ull);
	b = tcp_isn(key, 0x0a000002, 11211, 0x0a000001, 40000, 2000000000ull);
	assert_int_equal((uint32_t)(b - a), 250000); /* RFC 9293 3.4.1: 4 us */
	b = tcp_isn(key, 0x0a000002, 11211, 0x0a000001, 40000, 1000003999ull);
	assert_int_equal(b, a);
}

static void test_isn_depends_on_tuple_and_key(void **state)
{
	uint8_t other[TCP_ISN_KEY_LEN] = { 1 };
	uint32_t base = tcp_isn(key, 0x0a000002, 11211, 0x0a000001, 40000, 0);

	(void)state;
	assert_int_not_equal(base, tcp_isn(key, 0x0a000002, 11211, 0x0a000001, 40001, 0));
	assert_int_not_equal(base, tcp_isn(key, 0x0a000002, 11212, 0x0a000001, 40000, 0));
	assert_int_not_equal(base, tcp_isn(key, 0x0a000003, 11211, 0x0a000001, 40000, 0));
	assert_int_not_equal(base, tcp_isn(key, 0x0a000002, 11211, 0x0a000009, 40000, 0));
	assert_int_not_equal(base, tcp_isn(other, 0x0a000002, 11211, 0x0a000001, 40000, 0));
	/* consecutive client ports must not give nearby ISNs (RFC 6528 3) */
	for (uint16_t p = 1; p < 200; p++) {
		uint32_t d = tcp_isn(key, 1, 80, 2, p, 0) - tcp_isn(key, 1, 80, 2, (uint16_t)(p + 1), 0);

		assert_true(d > 1000000 && d < 0xffffffffu - 1000000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_isn_clock),
		cmocka_unit_test(test_isn_depends_on_tuple_and_key),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
