/*
 * test_usermem.c - the program's memory read and written the kernel's
 * way (preload/usermem.h): iovec arrays (counts, totals, bad arrays,
 * MAX_RW_COUNT, user space's end), msghdrs, addresses in and out.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../common/guard.h"
#include "../../preload/usermem.h"

#define PG 4096

static char *page;    /* read-write, then a page with no access */
#define BAD ((void *)(page + PG))

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	accel_guard_catch(sig, si, uc);
	signal(sig, SIG_DFL); /* not the guard's: crash */
}

/* (cmocka puts its own handler in place before each test) */
static void arm(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
}

static int setup(void **state)
{
	(void)state;
	page = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -1;
	mprotect(page + PG, PG, PROT_NONE);
	um_init();
	return 0;
}

static void test_iov_in(void **state)
{
	struct iovec small[UM_IOV_SMALL], *out, v[20];

	(void)state;
	arm();
	for (int i = 0; i < 20; i++)
		v[i] = (struct iovec){ page, 1 };
	assert_int_equal(um_iov_in(v, 2, small, &out), 0);
	assert_ptr_equal(out, small);
	assert_ptr_equal(out[1].iov_base, page);
	assert_int_equal(um_iov_in(v, 20, small, &out), 0); /* more than fit: allocated */
	assert_ptr_not_equal(out, small);
	assert_int_equal(out[19].iov_len, 1);
	um_iov_done(out, small);
	assert_int_equal(um_iov_in(v, -1, small, &out), -EINVAL);
	assert_int_equal(um_iov_in(v, IOV_MAX + 1, small, &out), -EINVAL);
	assert_int_equal(um_iov_in(BAD, 2, small, &out), -EFAULT);
	assert_int_equal(um_iov_in(NULL, 1, small, &out), -EFAULT);
	assert_int_equal(um_iov_in(NULL, 0, small, &out), 0);
	/* the array itself runs into the bad page */
	memcpy(page + PG - sizeof(struct iovec), v, sizeof(struct iovec));
	assert_int_equal(um_iov_in((struct iovec *)(page + PG) - 1, 2, small, &out), -EFAULT);
	v[1].iov_len = SSIZE_MAX; /* the total passes SSIZE_MAX */
	assert_int_equal(um_iov_in(v, 2, small, &out), -EINVAL);
}

static void test_iov_limit(void **state)
{
	struct iovec v[3] = { { page, SIZE_MAX }, { page, 10 } };

	(void)state;
	arm();
	assert_int_equal(um_iov_limit(v, 2), 0);
	assert_int_equal(v[0].iov_len, INT_MAX & ~4095); /* MAX_RW_COUNT */
	assert_int_equal(v[1].iov_len, 0);
	v[0] = (struct iovec){ (void *)0xffff800000000000ull, 0 };
	assert_int_equal(um_iov_limit(v, 1), -EFAULT);
	v[0] = (struct iovec){ (void *)0x7ffffffff000ull, 16 };
	assert_int_equal(um_iov_limit(v, 1), -EFAULT);
	v[0] = (struct iovec){ (void *)~(uintptr_t)7, 16 };
	assert_int_equal(um_iov_limit(v, 1), -EFAULT);
	v[0] = (struct iovec){ BAD, 16 }; /* in user space: for the copy to find */
	assert_int_equal(um_iov_limit(v, 1), 0);
}

static void test_msg_in(void **state)
{
	struct msghdr m = { .msg_iovlen = 3 }, got;

	(void)state;
	arm();
	assert_int_equal(um_msg_in(&m, &got), 0);
	assert_int_equal(got.msg_iovlen, 3);
	assert_int_equal(um_msg_in(BAD, &got), -EFAULT);
	m.msg_iovlen = IOV_MAX + 1;
	assert_int_equal(um_msg_in(&m, &got), -EMSGSIZE);
}

static void test_addr(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7) }, out;
	socklen_t len;

	(void)state;
	arm();
	assert_int_equal(um_addr_check(NULL, 200), 0);
	assert_int_equal(um_addr_check(&a, 200), -EINVAL);
	assert_int_equal(um_addr_check(BAD, sizeof(a)), -EFAULT);
	assert_int_equal(um_addr_check(BAD, 0), 0);
	len = sizeof(out);
	assert_int_equal(um_addr_out(&out, &len, &a, sizeof(a)), 0);
	assert_int_equal(len, sizeof(a));
	assert_int_equal(ntohs(out.sin_port), 7);
	len = 2; /* cut to what the program has room for; *len says the whole */
	memset(&out, 0, sizeof(out));
	assert_int_equal(um_addr_out(&out, &len, &a, sizeof(a)), 0);
	assert_int_equal(len, sizeof(a));
	assert_int_equal(out.sin_family, AF_INET);
	assert_int_equal(out.sin_port, 0);
	len = 0;
	assert_int_equal(um_addr_out(NULL, &len, &a, sizeof(a)), 0);
	len = (socklen_t)-1; /* < 0 as an int (move_addr_to_user) */
	assert_int_equal(um_addr_out(&out, &len, &a, sizeof(a)), -EINVAL);
	len = sizeof(out);
	assert_int_equal(um_addr_out(BAD, &len, &a, sizeof(a)), -EFAULT);
	assert_int_equal(um_addr_out(&out, BAD, &a, sizeof(a)), -EFAULT);
	assert_int_equal(um_addr_out(&out, NULL, &a, sizeof(a)), -EFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iov_in),
		cmocka_unit_test(test_iov_limit),
		cmocka_unit_test(test_msg_in),
		cmocka_unit_test(test_addr),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
