/*
 * guard.c - guarded accesses to program memory (guard.h): the running
 * guard is a thread-local pointer the fault handler reads, so a guard is
 * async-signal-safe and threads never see each other's.
 */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "guard.h"

static __thread struct accel_guard *guard_cur __attribute__((tls_model("initial-exec")));

long accel_guarded(long (*fn)(void *), void *arg, const void *p, size_t n)
{
	struct accel_guard g;
	long r;

	/* a range that wraps is refused before any access, as the
	 * kernel's access_ok refuses it */
	if ((uintptr_t)p + n < (uintptr_t)p)
		return -EFAULT;
	g.lo = (uintptr_t)p;
	g.hi = g.lo + n;
	g.prev = guard_cur;
	if (sigsetjmp(g.jb, 0)) {
		guard_cur = g.prev;
		return -EFAULT;
	}
	guard_cur = &g;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* (set before fn touches p) */
	r = fn(arg);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	guard_cur = g.prev;
	return r;
}

struct copy {
	void *dst;
	const void *src;
	size_t n;
};

/* A bad pointer is what the guard is for: UBSan must not report it as an
 * argument declared non-null before the copy faults into the guard. */
__attribute__((no_sanitize("nonnull-attribute")))
static long copy_fn(void *a)
{
	struct copy *c = a;

	memcpy(c->dst, c->src, c->n);
	return 0;
}

int accel_copy_in(void *dst, const void *user, size_t n)
{
	struct copy c = { dst, user, n };

	return (int)accel_guarded(copy_fn, &c, user, n);
}

int accel_copy_out(void *user, const void *src, size_t n)
{
	struct copy c = { user, src, n };

	return (int)accel_guarded(copy_fn, &c, user, n);
}

struct probe {
	uintptr_t lo, hi;
	int write;
};

/* One access per page (4096 divides every page size the kernel uses),
 * none to the page *last touched already. */
static void touch(uintptr_t lo, uintptr_t hi, int write, uintptr_t *last)
{
	for (uintptr_t x = lo; x < hi; x = (x | 4095) + 1) {
		if ((x & ~(uintptr_t)4095) == *last)
			continue;
		if (write)
			__atomic_fetch_add((unsigned char *)x, 0, __ATOMIC_RELAXED);
		else
			(void)*(volatile const unsigned char *)x;
		*last = x & ~(uintptr_t)4095;
	}
}

static long probe_fn(void *a)
{
	struct probe *q = a;
	uintptr_t last = 1; /* (no page) */

	touch(q->lo, q->hi, q->write, &last);
	return 0;
}

int accel_probe(const void *p, size_t n, int write)
{
	struct probe q = { (uintptr_t)p, (uintptr_t)p + n, write };

	return (int)accel_guarded(probe_fn, &q, p, n);
}

/*
 * A fault is the guard's when the kernel raised it (si_code > 0: kill and
 * sigqueue give <= 0) at an address in the range. SI_KERNEL is a general
 * protection fault, which reports no address: a non-canonical pointer,
 * which only the guarded access can have touched while the guard runs.
 * The handler runs with the signal (and its sa_mask) blocked; the jump
 * restores the interrupted mask, since sigsetjmp did not save it.
 */
void accel_guard_catch(int sig, const siginfo_t *si, void *uc)
{
	struct accel_guard *g = guard_cur;
	uintptr_t a = (uintptr_t)si->si_addr;

	if (!g || (sig != SIGSEGV && sig != SIGBUS) || si->si_code <= 0)
		return;
	if (si->si_code != SI_KERNEL && (a < g->lo || a >= g->hi))
		return;
	/* (the system call itself: pthread_sigmask is the shim's, for the
	 * program: preload/sigguard.c) */
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &((ucontext_t *)uc)->uc_sigmask, NULL,
		_NSIG / 8);
	siglongjmp(g->jb, 1);
}

struct probe_iov {
	const struct iovec *iov;
	int cnt, write;
	size_t from, n;
};

static long probe_iov_fn(void *a)
{
	struct probe_iov *q = a;
	size_t base = 0, n = q->n;
	uintptr_t last = 1;

	for (int i = 0; i < q->cnt && n; base += q->iov[i++].iov_len) {
		size_t len = q->iov[i].iov_len, off, k;

		if (q->from >= base + len)
			continue;
		off = q->from > base ? q->from - base : 0;
		k = len - off < n ? len - off : n;
		if ((uintptr_t)q->iov[i].iov_base + off + k < (uintptr_t)q->iov[i].iov_base)
			return -EFAULT;
		touch((uintptr_t)q->iov[i].iov_base + off, (uintptr_t)q->iov[i].iov_base + off + k,
		      q->write, &last);
		n -= k;
	}
	return 0;
}

/* The guard's range is all of memory: the function touches nothing but
 * the vectors' bytes and the (shim's) array. */
int accel_probe_iov(const struct iovec *iov, int cnt, size_t from, size_t n, int write)
{
	struct probe_iov q = { iov, cnt, write, from, n };

	return (int)accel_guarded(probe_iov_fn, &q, NULL, SIZE_MAX);
}
