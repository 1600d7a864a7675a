/*
 * test_guard.c - the fault guard (common/guard.h): a guarded access to a
 * bad range says -EFAULT and leaves the thread as it was (its signal
 * mask, later guards); a fault outside the guard's range is not the
 * guard's; threads fault at once without seeing each other's guards.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "../../common/guard.h"

#define PG 4096

static char *pages; /* [rw][ro][none] */
static sigjmp_buf outside_jb;
static volatile int outside;

/* What preload/sigguard.c does, and a record of faults not the guard's. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	accel_guard_catch(sig, si, uc);
	outside++;
	siglongjmp(outside_jb, 1);
}

/* (cmocka puts its own handler in place before each test) */
static void arm(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static int setup(void **state)
{
	(void)state;
	pages = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		return -1;
	mprotect(pages + PG, PG, PROT_READ);
	mprotect(pages + 2 * PG, PG, PROT_NONE);
	return 0;
}

static void test_copies(void **state)
{
	char buf[32];

	(void)state;
	arm();
	memset(pages, 'a', PG);
	assert_int_equal(accel_copy_in(buf, pages, sizeof(buf)), 0);
	assert_int_equal(buf[31], 'a');
	assert_int_equal(accel_copy_in(buf, pages + 2 * PG, sizeof(buf)), -EFAULT);
	assert_int_equal(accel_copy_in(buf, pages + 2 * PG - 16, sizeof(buf)), -EFAULT);
	assert_int_equal(accel_copy_out(pages + PG, buf, sizeof(buf)), -EFAULT); /* read-only */
	assert_int_equal(accel_copy_out(pages, buf, sizeof(buf)), 0);
	assert_int_equal(accel_copy_in(buf, NULL, sizeof(buf)), -EFAULT);
	assert_int_equal(accel_copy_in(buf, (void *)UINTPTR_MAX, 2), -EFAULT); /* wraps */
	assert_int_equal(accel_copy_in(buf, (void *)0xdead000000000000ull, 8), -EFAULT);
	assert_int_equal(accel_copy_in(buf, NULL, 0), 0);
	assert_int_equal(outside, 0);
}

static void test_probes(void **state)
{
	(void)state;
	arm();
	assert_int_equal(accel_probe(pages, 2 * PG, 0), 0);
	assert_int_equal(accel_probe(pages, 2 * PG, 1), -EFAULT);
	assert_int_equal(accel_probe(pages, PG, 1), 0);
	assert_int_equal(accel_probe(pages + PG - 1, 2, 1), -EFAULT);
	assert_int_equal(accel_probe(pages + PG, PG + 1, 0), -EFAULT);
	pages[5] = 'q';
	assert_int_equal(accel_probe(pages, 8, 1), 0);
	assert_int_equal(pages[5], 'q'); /* a write probe changes nothing */
}

static void test_probe_iov(void **state)
{
	struct iovec v[3] = { { pages, 8 }, { pages + PG, 8 }, { pages + 2 * PG, 8 } };

	(void)state;
	arm();
	assert_int_equal(accel_probe_iov(v, 3, 0, 16, 0), 0);  /* the first two read */
	assert_int_equal(accel_probe_iov(v, 3, 0, 17, 0), -EFAULT);
	assert_int_equal(accel_probe_iov(v, 3, 0, 9, 1), -EFAULT); /* the second is read-only */
	assert_int_equal(accel_probe_iov(v, 3, 0, 8, 1), 0);
	assert_int_equal(accel_probe_iov(v, 3, 16, 1, 0), -EFAULT); /* from the third on */
	assert_int_equal(accel_probe_iov(v, 2, 4, 1000, 0), 0);    /* all there is */
	v[0] = (struct iovec){ (void *)~(uintptr_t)3, 8 };
	assert_int_equal(accel_probe_iov(v, 1, 0, 8, 0), -EFAULT); /* wraps */
	assert_int_equal(outside, 0);
}

/* After a caught fault the mask is the one before it (the handler's
 * blocked SIGSEGV is not left blocked), so the next fault is caught. */
static void test_mask_kept(void **state)
{
	sigset_t before, after;
	char c;

	(void)state;
	arm();
	sigemptyset(&before);
	sigemptyset(&after);
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(accel_copy_in(&c, pages + 2 * PG, 1), -EFAULT);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGSEGV), 0);
	for (int sig = 1; sig < _NSIG; sig++)
		assert_int_equal(sigismember(&after, sig), sigismember(&before, sig));
	assert_int_equal(accel_copy_in(&c, pages + 2 * PG, 1), -EFAULT);
}

struct outside_arg {
	const char *p;
};

/* A guarded function that faults outside its range: not the guard's. */
static long touch_other(void *a)
{
	struct outside_arg *o = a;

	return *(volatile const char *)o->p;
}

static void test_fault_outside_range(void **state)
{
	struct outside_arg o = { pages + 2 * PG };
	char c;

	(void)state;
	arm();
	outside = 0;
	if (!sigsetjmp(outside_jb, 1))
		accel_guarded(touch_other, &o, pages, 16);
	assert_int_equal(outside, 1);
	/* the guard it left behind is gone: a later guard still works */
	assert_int_equal(accel_copy_in(&c, pages + 2 * PG, 1), -EFAULT);
	outside = 0;
}

static void *faulter(void *arg)
{
	char c;
	long bad = 0;

	(void)arg;
	for (int i = 0; i < 2000; i++) {
		bad += accel_copy_in(&c, pages + 2 * PG, 1) == -EFAULT;
		bad += accel_copy_in(&c, pages, 1) == 0;
	}
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	void *r;

	(void)state;
	arm();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, faulter, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_int_equal((long)r, 4000);
	}
	assert_int_equal(outside, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copies),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_probe_iov),
		cmocka_unit_test(test_mask_kept),
		cmocka_unit_test(test_fault_outside_range),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
