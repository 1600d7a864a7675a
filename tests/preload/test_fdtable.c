/*
 * test_fdtable.c - the fd table: everything is the kernel's until marked,
 * a number outside the table is the kernel's and never touched, and a table
 * as large as nr_open costs only the pages used.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../common/real.h"
#include "../../preload/fdtable.h"

#define SMALL 4096u

static int setup_small(void **state)
{
	static struct fd_table t;

	memset(&t, 0, sizeof(t));
	if (fdtable_init(&t, SMALL) != 0)
		return -1;
	*state = &t;
	return 0;
}

static int teardown(void **state)
{
	fdtable_fini(*state);
	return 0;
}

/* Before any init, the zeroed global sends everything to the kernel. */
static void test_global_before_init(void **state)
{
	assert_int_equal(accel_fds.size, 0);
	assert_int_equal(fdtable_kind(&accel_fds, 0), FD_KERNEL);
	assert_int_equal(fdtable_kind(&accel_fds, 1000), FD_KERNEL);
	fdtable_set(&accel_fds, 0, FD_SHIM);
	assert_int_equal(fdtable_kind(&accel_fds, 0), FD_KERNEL);
	assert_int_equal(fdtable_next(&accel_fds, 0, 100), -1);
}

static void test_init_all_kernel(void **state)
{
	struct fd_table *t = *state;

	assert_int_equal(t->size, SMALL);
	assert_non_null(t->ent);
	for (unsigned fd = 0; fd < SMALL; fd++)
		assert_int_equal(fdtable_kind(t, (int)fd), FD_KERNEL);
	assert_int_equal(fdtable_next(t, 0, SMALL - 1), -1);
}

static void test_init_zero_size_fails(void **state)
{
	struct fd_table t = { 0 };

	assert_true(fdtable_init(&t, 0) < 0);
	assert_int_equal(fdtable_kind(&t, 0), FD_KERNEL);
}

static void test_set_get_round_trip(void **state)
{
	struct fd_table *t = *state;

	fdtable_set(t, 3, FD_SHIM);
	assert_int_equal(fdtable_kind(t, 3), FD_SHIM);
	assert_int_equal(fdtable_kind(t, 2), FD_KERNEL);
	assert_int_equal(fdtable_kind(t, 4), FD_KERNEL);

	fdtable_set(t, 0, FD_SHIM);
	fdtable_set(t, SMALL - 1, FD_SHIM);
	assert_int_equal(fdtable_kind(t, 0), FD_SHIM);
	assert_int_equal(fdtable_kind(t, SMALL - 1), FD_SHIM);

	fdtable_set(t, 3, FD_KERNEL);
	assert_int_equal(fdtable_kind(t, 3), FD_KERNEL);
	assert_int_equal(fdtable_kind(t, 0), FD_SHIM);
}

static void test_out_of_range(void **state)
{
	static const int fds[] = { -1, -2, INT_MIN, (int)SMALL, (int)SMALL + 1,
				   1 << 24, INT_MAX };
	struct fd_table *t = *state;

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		assert_int_equal(fdtable_kind(t, fds[i]), FD_KERNEL);
		fdtable_set(t, fds[i], FD_SHIM); /* a no-op, and no crash */
		assert_int_equal(fdtable_kind(t, fds[i]), FD_KERNEL);
	}
	/* ... and nothing inside the table was written instead. */
	assert_int_equal(fdtable_next(t, 0, UINT_MAX), -1);
}

/* fdtable_next: the first entry of any kind but FD_KERNEL (close_range's
 * walk), with hi clamped to the table. */
static void test_next(void **state)
{
	struct fd_table *t = *state;

	assert_int_equal(fdtable_next(t, 0, UINT_MAX), -1);
	fdtable_set(t, 5, FD_BYPASS);
	fdtable_set(t, 9, FD_SHIM);
	fdtable_set(t, SMALL - 1, FD_EPOLL);
	assert_int_equal(fdtable_next(t, 0, UINT_MAX), 5);
	assert_int_equal(fdtable_next(t, 6, UINT_MAX), 9);
	assert_int_equal(fdtable_next(t, 10, UINT_MAX), (int)SMALL - 1);
	assert_int_equal(fdtable_next(t, 6, 8), -1);
	assert_int_equal(fdtable_next(t, SMALL, UINT_MAX), -1);
}

static void test_next_clamps_hi(void **state)
{
	struct fd_table *t = *state;

	fdtable_set(t, SMALL - 1, FD_SHIM);
	assert_int_equal(fdtable_next(t, SMALL - 1, SMALL), (int)SMALL - 1);
	assert_int_equal(fdtable_next(t, 100, SMALL * 2), (int)SMALL - 1);
	/* A range wholly beyond the table holds nothing. */
	assert_int_equal(fdtable_next(t, UINT_MAX, UINT_MAX), -1);
}

static void test_next_lo_above_hi(void **state)
{
	struct fd_table *t = *state;

	fdtable_set(t, 15, FD_SHIM);
	assert_int_equal(fdtable_next(t, 20, 10), -1);
	assert_int_equal(fdtable_next(t, 16, 15), -1);
}

static void test_fini(void **state)
{
	struct fd_table t = { 0 };

	assert_int_equal(fdtable_init(&t, SMALL), 0);
	fdtable_set(&t, 5, FD_SHIM);
	assert_int_equal(fdtable_kind(&t, 5), FD_SHIM);
	fdtable_fini(&t);
	assert_int_equal(t.size, 0);
	assert_null(t.ent);
	assert_int_equal(fdtable_kind(&t, 5), FD_KERNEL);
	assert_int_equal(fdtable_kind(&t, 0), FD_KERNEL);
	assert_int_equal(fdtable_kind(&t, -1), FD_KERNEL);
	fdtable_set(&t, 5, FD_SHIM); /* no table, nothing to write */
	assert_int_equal(fdtable_next(&t, 0, UINT_MAX), -1);
	fdtable_fini(&t); /* twice is harmless */
	assert_null(t.ent);

	/* And it can be set up again, fresh. */
	assert_int_equal(fdtable_init(&t, SMALL), 0);
	assert_int_equal(fdtable_kind(&t, 5), FD_KERNEL);
	fdtable_fini(&t);
}

static void test_kernel_max_is_nr_open(void **state)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	unsigned want;

	if (!f)
		skip();
	assert_int_equal(fscanf(f, "%u", &want), 1);
	fclose(f);
	assert_true(want > 0);
	assert_int_equal(fdtable_kernel_max(), want);
}

/*
 * nr_open is usually 1 << 20, the very fallback fdtable_kernel_max uses, so
 * the comparison above cannot tell a read from a guess. Here accel_real.open
 * hands it a file of our own instead.
 */
static char fake_nr_open[64];

static int open_fake_nr_open(const char *path, int flags, ...)
{
	if (strcmp(path, "/proc/sys/fs/nr_open") != 0)
		return -1;
	if (!fake_nr_open[0])
		return -1; /* as if /proc were not mounted */
	return open(fake_nr_open, flags);
}

static unsigned kernel_max_given(const char *contents)
{
	int (*saved)(const char *, int, ...) = accel_real.open;
	char path[] = "/tmp/test_fdtable_XXXXXX";
	int fd = mkstemp(path);
	unsigned n;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
	close(fd);
	snprintf(fake_nr_open, sizeof(fake_nr_open), "%s", path);
	accel_real.open = open_fake_nr_open;
	n = fdtable_kernel_max();
	accel_real.open = saved;
	unlink(path);
	return n;
}

static void test_kernel_max_reads_the_file(void **state)
{
	int (*saved)(const char *, int, ...) = accel_real.open;

	assert_int_equal(kernel_max_given("2048\n"), 2048);
	assert_int_equal(kernel_max_given("4194304"), 4194304);
	/* Nothing usable: the kernel's default. */
	assert_int_equal(kernel_max_given("0\n"), 1u << 20);
	assert_int_equal(kernel_max_given(""), 1u << 20);
	assert_int_equal(kernel_max_given("junk"), 1u << 20);
	fake_nr_open[0] = '\0';
	accel_real.open = open_fake_nr_open;
	assert_int_equal(fdtable_kernel_max(), 1u << 20);
	accel_real.open = saved;
}

/* As the shim sizes it: a million entries of reserve, only the used pages
 * real. */
static void test_large_table(void **state)
{
	struct fd_table t = { 0 };
	const unsigned size = 1u << 20;

	assert_int_equal(fdtable_init(&t, size), 0);
	assert_int_equal(t.size, size);
	assert_int_equal(fdtable_kind(&t, (int)size - 1), FD_KERNEL);
	fdtable_set(&t, (int)size - 1, FD_SHIM);
	fdtable_set(&t, (int)size / 2, FD_SHIM);
	assert_int_equal(fdtable_kind(&t, (int)size - 1), FD_SHIM);
	assert_int_equal(fdtable_kind(&t, (int)size / 2), FD_SHIM);
	assert_int_equal(fdtable_kind(&t, (int)size - 2), FD_KERNEL);
	assert_int_equal(fdtable_kind(&t, (int)size), FD_KERNEL);
	assert_int_equal(fdtable_next(&t, size / 2 + 1, UINT_MAX),
			 (int)size - 1);
	assert_int_equal(fdtable_next(&t, 0, UINT_MAX), (int)size / 2);
	fdtable_fini(&t);
	assert_int_equal(fdtable_kind(&t, (int)size - 1), FD_KERNEL);
}

static void test_kernel_max_table(void **state)
{
	struct fd_table t = { 0 };
	unsigned size = fdtable_kernel_max();

	assert_int_equal(fdtable_init(&t, size), 0);
	fdtable_set(&t, (int)size - 1, FD_SHIM);
	assert_int_equal(fdtable_kind(&t, (int)size - 1), FD_SHIM);
	assert_int_equal(fdtable_kind(&t, (int)size), FD_KERNEL);
	fdtable_fini(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_before_init),
		cmocka_unit_test_setup_teardown(test_init_all_kernel, setup_small, teardown),
		cmocka_unit_test(test_init_zero_size_fails),
		cmocka_unit_test_setup_teardown(test_set_get_round_trip, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_next, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_next_clamps_hi, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_next_lo_above_hi, setup_small, teardown),
		cmocka_unit_test(test_fini),
		cmocka_unit_test(test_kernel_max_is_nr_open),
		cmocka_unit_test(test_kernel_max_reads_the_file),
		cmocka_unit_test(test_large_table),
		cmocka_unit_test(test_kernel_max_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
