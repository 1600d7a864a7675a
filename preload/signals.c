/*
 * signals.c - the program's signal handlers, seen run.
 *
 * The kernel restarts a blocking read, recv, accept, connect or send
 * after a handler when that handler has SA_RESTART (and the socket no
 * timeout), and never restarts poll, select or epoll_wait (signal(7)).
 * The shim's waits sleep in ppoll, which a handler always interrupts, so
 * the shim must itself decide as the kernel would, and for that know
 * which signal's handler ran. Nothing the kernel reports says so: ppoll
 * returns EINTR, and sigpending is empty by then.
 *
 * So every handler the program installs (sigaction, signal and its
 * aliases) is installed wrapped: the kernel runs sig_tramp, which marks
 * the signal in a thread-local set and calls the program's handler with
 * the arguments the program asked for. The shim's waits block every
 * asynchronous signal except inside their ppoll (sk_sleep_mask), so a
 * mark set between sig_watch and the wait's EINTR is a handler that
 * interrupted this wait, on this thread. The wrapper keeps the program's
 * sa_mask and flags (SA_RESTART, SA_ONSTACK, SA_NODEFER, SA_RESETHAND),
 * adding only SA_SIGINFO; the program reading its handlers back gets its
 * own. The restart rule then reads the kernel's flags of each signal
 * marked, as they were when it was delivered (SA_RESETHAND resets only
 * the handler), so a change made behind the wrapper's back (siginterrupt
 * inside libc) still counts.
 *
 * Several signals in one wait: the kernel decides by the first one it
 * delivers; the shim, not knowing the order, restarts only if every one
 * has SA_RESTART. A handler installed past the wrapper (a raw syscall)
 * marks nothing: then the old rule, restart only if every handler
 * restarts.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/sigasync.h"
#include "runtime.h"
#include "sigguard.h"
#include "signals.h"

#define EXPORT __attribute__((visibility("default")))

/* The C library's own sigaction (exported under this name too). */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* The program's own actions, for signals whose kernel handler is
 * sig_tramp. Written before the kernel's action changes to point here. */
static struct sigaction prog_act[_NSIG];
/* siginterrupt's choice for signal(): no SA_RESTART (as glibc's _sigintr) */
static uint64_t sig_intr;

static void sig_tramp(int sig, siginfo_t *info, void *uc)
{
	const struct sigaction *a = &prog_act[sig];

	if (sig > 0 && sig <= 64)
		accel_tls.sigs |= 1ull << (sig - 1);
	accel_sig_seq++;
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, info, uc);
	else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN)
		a->sa_handler(sig);
}

static int wrapped(const struct sigaction *k)
{
	return (k->sa_flags & SA_SIGINFO) && k->sa_sigaction == sig_tramp;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction k, prev;
	int r;

	if (sig <= 0 || sig >= _NSIG || rt_internal_caller())
		return __sigaction(sig, act, old);
	r = sg_sigaction(sig, act, old); /* SIGSEGV, SIGBUS: the fault guard's */
	if (r != SG_NOT_OURS)
		return r;
	if (__sigaction(sig, NULL, &prev) < 0)
		return -1;
	if (act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN) {
		k = *act;
		k.sa_flags |= SA_SIGINFO;
		k.sa_sigaction = sig_tramp;
		prog_act[sig] = *act;
		act = &k;
	}
	r = __sigaction(sig, act, NULL);
	if (r == 0 && old) {
		*old = wrapped(&prev) ? prog_act[sig] : prev;
		if (wrapped(&prev)) /* (as the kernel has it now: siginterrupt) */
			old->sa_flags = (old->sa_flags & ~SA_RESTART) | (prev.sa_flags & SA_RESTART);
	}
	return r;
}

/* signal(2) with glibc's BSD semantics: the signal blocked in its own
 * handler, SA_RESTART unless siginterrupt said otherwise. */
EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction act = { .sa_handler = h }, old;

	if (h == SIG_ERR || sig <= 0 || sig >= _NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	if (sig > 64 || !(__atomic_load_n(&sig_intr, __ATOMIC_RELAXED) & (1ull << (sig - 1))))
		act.sa_flags = SA_RESTART;
	if (sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return signal(sig, h);
}

EXPORT sighandler_t ssignal(int sig, sighandler_t h)
{
	return signal(sig, h);
}

/* System V semantics: reset to the default on delivery, not blocked. */
EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	struct sigaction act = { .sa_handler = h, .sa_flags = SA_RESETHAND | SA_NODEFER }, old;

	if (h == SIG_ERR || sig <= 0 || sig >= _NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&act.sa_mask);
	if (sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
	return sysv_signal(sig, h);
}

EXPORT int siginterrupt(int sig, int flag)
{
	struct sigaction act;

	if (sig <= 0 || sig >= _NSIG || sigaction(sig, NULL, &act) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (sig <= 64) {
		if (flag)
			__atomic_or_fetch(&sig_intr, 1ull << (sig - 1), __ATOMIC_RELAXED);
		else
			__atomic_and_fetch(&sig_intr, ~(1ull << (sig - 1)), __ATOMIC_RELAXED);
	}
	if (flag)
		act.sa_flags &= ~SA_RESTART;
	else
		act.sa_flags |= SA_RESTART;
	return sigaction(sig, &act, NULL);
}

void sig_watch(void)
{
	accel_tls.sigs = 0;
}

/* The kernel's flags of sig (its struct k_sigaction: handler, flags,
 * restorer, mask), read without the wrapper. */
static unsigned long kernel_flags(int sig)
{
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k;

	if (syscall(SYS_rt_sigaction, sig, NULL, &k, sizeof(k.mask)) < 0)
		return 0;
	return k.flags;
}

/* The old rule, for a handler the wrapper never saw. The fault signals
 * are left out: they come from the faulting instruction, never into a
 * sleep, and their handlers (the shim's fault guard, ASan's, a crash
 * reporter's) say nothing of how the program wants its calls restarted. */
static int all_handlers_restart(void)
{
	for (int s = 1; s < _NSIG; s++) {
		struct sigaction sa;

		if (s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL || s == SIGTRAP)
			continue;
		if (__sigaction(s, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
		    sa.sa_handler == SIG_IGN)
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			return 0;
	}
	return 1;
}

int sig_restarts(void)
{
	uint64_t seen = accel_tls.sigs;

	if (!seen)
		return all_handlers_restart();
	for (int s = 1; s <= 64; s++)
		if ((seen & (1ull << (s - 1))) && !(kernel_flags(s) & SA_RESTART))
			return 0;
	return 1;
}
