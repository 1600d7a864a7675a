/*
 * guardcost.c - what a fault guard (common/guard.h) costs when nothing
 * faults: nanoseconds per 64-byte copy made plainly and made under a
 * guard, per guarded copy that faults (the EFAULT path: a signal, a mask
 * restore and a jump), and per probe of a vectored call's 64 vectors.
 *
 *   guardcost [N]
 *
 * Built on common/guard.c alone; the fault case installs a handler that
 * does what preload/sigguard.c does for a guarded fault.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../common/guard.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static char src[64], dst[64];

__attribute__((noinline)) static int plain_copy(void *d, const void *s, size_t n)
{
	memcpy(d, s, n);
	__asm__ volatile("" ::: "memory");
	return 0;
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	accel_guard_catch(sig, si, uc);
	abort(); /* (only guarded faults happen here) */
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000000;
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
	char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long long t0, t1, t2, t3;
	long faults = n / 100 ? n / 100 : 1, bad_r = 0;
	int r = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		r |= plain_copy(dst, src, sizeof(dst));
	t1 = now_ns();
	for (long i = 0; i < n; i++)
		r |= accel_copy_out(dst, src, sizeof(dst));
	t2 = now_ns();
	for (long i = 0; i < faults; i++)
		bad_r += accel_copy_in(dst, bad, sizeof(dst)) < 0;
	t3 = now_ns();
	{ /* a vectored call's probe: 64 vectors of 8 bytes, one guard */
		static char b8[64 * 8];
		struct iovec v[64];
		long long a, b;
		long m = n / 10 ? n / 10 : 1;

		for (int i = 0; i < 64; i++)
			v[i] = (struct iovec){ b8 + i * 8, 8 };
		a = now_ns();
		for (long i = 0; i < m; i++)
			r |= accel_probe_iov(v, 64, 0, sizeof(b8), 0);
		b = now_ns();
		printf("probe_iov_64x8 %.1f\n", (double)(b - a) / m);
	}
	printf("plain_copy_64 %.1f\n", (double)(t1 - t0) / n);
	printf("guarded_copy_64 %.1f\n", (double)(t2 - t1) / n);
	printf("guarded_fault %.1f (%ld of %ld said EFAULT)\n", (double)(t3 - t2) / faults, bad_r,
	       faults);
	return r || bad_r != faults;
}
