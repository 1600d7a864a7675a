/*
 * test_policy.c - ACCEL_STORAGE's globs (storage/policy.c): what matches,
 * what a '*' may not cross, what is refused as malformed, and that every
 * fallback reason has its own printed name.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../storage/storage.h"

static void test_matches(void **state)
{
	struct st_policy p;

	(void)state;
	assert_int_equal(st_policy_parse(&p, "/data/fio.*:/srv/cache/*"), 0);
	assert_int_equal(p.n, 2);
	assert_true(st_policy_match(&p, "/data/fio.0"));
	assert_true(st_policy_match(&p, "/data/fio.1.0"));
	assert_true(st_policy_match(&p, "/srv/cache/ext"));
	assert_false(st_policy_match(&p, "/data/fio"));
	assert_false(st_policy_match(&p, "/data/x/fio.0"));
	assert_false(st_policy_match(&p, "/srv/cache/a/b")); /* '*' stops at '/' */
	assert_false(st_policy_match(&p, "/srv/cachex/a"));
	assert_int_equal(st_policy_parse(&p, "/d/[ab]?.db"), 0);
	assert_true(st_policy_match(&p, "/d/a1.db"));
	assert_false(st_policy_match(&p, "/d/c1.db"));
}

static void test_unset_matches_nothing(void **state)
{
	struct st_policy p;

	(void)state;
	assert_int_equal(st_policy_parse(&p, NULL), 0);
	assert_false(st_policy_match(&p, "/data/x"));
	assert_int_equal(st_policy_parse(&p, ""), 0);
	assert_false(st_policy_match(&p, "/"));
}

static void test_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"data/*", "/a::/b", ":/a", "/a:", ":", "/a:relative/*",
	};
	char many[1024] = "";
	struct st_policy p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(st_policy_parse(&p, bad[i]), -EINVAL);
		assert_int_equal(p.n, 0);
		assert_false(st_policy_match(&p, "/a"));
	}
	for (int i = 0; i <= ST_POLICY_MAX; i++)
		strcat(many, i ? ":/x" : "/x");
	assert_int_equal(st_policy_parse(&p, many), -EINVAL);
}

static void test_reason_names(void **state)
{
	(void)state;
	for (int i = 0; i < ST_R_MAX; i++) {
		const char *n = st_reason_name((enum st_reason)i);

		assert_non_null(n);
		assert_string_not_equal(n, "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, st_reason_name((enum st_reason)j));
	}
	assert_string_equal(st_reason_name(ST_R_MAX), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_unset_matches_nothing),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
