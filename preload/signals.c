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
 *
 * Dying as the kernel's process dies. A process killed by a signal has
 * its sockets closed by the kernel (FIN, or RST where data was unread);
 * the bypass connections live in the process, and would be left open to
 * their peers for ever. So once the port is up (sig_exit_arm), every
 * signal whose default action ends the process (signal(7): Term and
 * Core) and that the program leaves at SIG_DFL gets the shim's handler,
 * die_tramp, in the kernel: it closes the connections (sk_net_die,
 * bounded: sockets.h), sets the kernel's SIG_DFL and sends the signal
 * again, unblocked, so the process ends as it would have: same signal
 * for its parent's wait, same core. The program's own dispositions win:
 * a handler of its own is installed wrapped as above, SIG_IGN is the
 * kernel's, and sigaction reports SIG_DFL (with the program's own flags
 * and mask) for a signal die_tramp holds. A handler with SA_RESETHAND
 * that the kernel resets to SIG_DFL gets die_tramp back before it runs,
 * so a handler that re-raises its signal (a crash reporter) dies through
 * it too. Masks are the program's; die_tramp blocks every asynchronous
 * signal while it runs, as the kernel's death lets none run.
 * Left out: SIGKILL and SIGSTOP (no handler can run), SIGSEGV and SIGBUS
 * (the fault guard's: sigguard.c closes in the same way), SIGTRAP
 * (debuggers) and SIGSYS (a seccomp trap returns past the system call: a
 * handler would change what happens). SIGILL and SIGFPE raised by the
 * faulting instruction are left to fault again, as sigguard.c does.
 * After SIGKILL nothing in the process runs: the peers see nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/sigasync.h"
#include "../sockets/sockets.h"
#include "runtime.h"
#include "sigguard.h"
#include "signals.h"

#define EXPORT __attribute__((visibility("default")))

/* The C library's own sigaction (exported under this name too). */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* The program's own actions, for signals whose kernel handler is
 * sig_tramp. Written before the kernel's action changes to point here. */
static struct sigaction prog_act[_NSIG];
/* die_tramp's signals are armed (sig_exit_arm) */
static int die_on;
/* siginterrupt's choice for signal(): no SA_RESTART (as glibc's _sigintr) */
static uint64_t sig_intr;

static void die_tramp(int sig, siginfo_t *info, void *uc);
static void sig_tramp(int sig, siginfo_t *info, void *uc);

static int wrapped(const struct sigaction *k)
{
	return (k->sa_flags & SA_SIGINFO) && k->sa_sigaction == sig_tramp;
}

static int dying_entry(const struct sigaction *k)
{
	return (k->sa_flags & SA_SIGINFO) && k->sa_sigaction == die_tramp;
}

/* signal(7)'s Term and Core signals that die_tramp may hold (see the top) */
static int ends_process(int sig)
{
	switch (sig) {
	case SIGHUP: case SIGINT: case SIGQUIT: case SIGILL: case SIGABRT:
	case SIGFPE: case SIGUSR1: case SIGUSR2: case SIGPIPE: case SIGALRM:
	case SIGTERM: case SIGSTKFLT: case SIGXCPU: case SIGXFSZ: case SIGVTALRM:
	case SIGPROF: case SIGIO: case SIGPWR:
		return 1;
	default:
		return sig >= SIGRTMIN && sig <= SIGRTMAX;
	}
}

/* The kernel's entry for a signal the program leaves at SIG_DFL. */
static void die_entry(struct sigaction *k)
{
	memset(k, 0, sizeof(*k));
	k->sa_sigaction = die_tramp;
	k->sa_flags = SA_SIGINFO | SA_RESTART; /* (never returns but to defer) */
	sig_async_set(&k->sa_mask);
}

static int die_armed(int sig)
{
	return __atomic_load_n(&die_on, __ATOMIC_ACQUIRE) && ends_process(sig);
}

/* act is SIG_DFL of a signal die_tramp holds */
static int die_holds(int sig, const struct sigaction *act)
{
	return act->sa_handler == SIG_DFL && die_armed(sig);
}

static void sig_tramp(int sig, siginfo_t *info, void *uc)
{
	struct sigaction copy, *a = &prog_act[sig];

	if ((a->sa_flags & SA_RESETHAND) && die_armed(sig)) {
		struct sigaction k; /* the kernel made it SIG_DFL: ours again */

		copy = *a;
		a->sa_handler = SIG_DFL; /* (its flags stay, as the kernel's) */
		die_entry(&k);
		__sigaction(sig, &k, NULL);
		a = &copy;
	}
	if (sig > 0 && sig <= 64)
		accel_tls.sigs |= 1ull << (sig - 1);
	accel_sig_seq++;
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, info, uc);
	else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN)
		a->sa_handler(sig);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction k, prev, was;
	int r;

	if (sig <= 0 || sig >= _NSIG || rt_internal_caller())
		return __sigaction(sig, act, old);
	r = sg_sigaction(sig, act, old); /* SIGSEGV, SIGBUS: the fault guard's */
	if (r != SG_NOT_OURS)
		return r;
	if (__sigaction(sig, NULL, &prev) < 0)
		return -1;
	was = prog_act[sig];
	if (act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN) {
		k = *act;
		k.sa_flags |= SA_SIGINFO;
		k.sa_sigaction = sig_tramp;
		prog_act[sig] = *act;
		act = &k;
	} else if (act && die_holds(sig, act)) {
		prog_act[sig] = *act;
		die_entry(&k);
		act = &k;
	}
	r = __sigaction(sig, act, NULL);
	if (r == 0 && old) {
		*old = wrapped(&prev) || dying_entry(&prev) ? was : prev;
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

/* The signal takes its default effect now: the kernel's SIG_DFL, and the
 * signal sent to this thread again and unblocked (inside die_tramp it is
 * blocked: it arrives as the mask opens). A SIGILL or SIGFPE of the
 * faulting instruction is not sent: the handler returns and the
 * instruction faults again, with a core at the same place. */
static void die_of(int sig, int refault)
{
	struct sigaction d;
	sigset_t one;

	memset(&d, 0, sizeof(d));
	d.sa_handler = SIG_DFL;
	sigemptyset(&d.sa_mask);
	__sigaction(sig, &d, NULL);
	if (refault)
		return;
	syscall(SYS_tgkill, getpid(), gettid(), sig);
	sigemptyset(&one);
	sigaddset(&one, sig);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, NULL, _NSIG / 8);
}

/* sk_net_die as the shim's own caller: the port's transmit writes to
 * the shim's descriptors, which the interposed calls hide from the
 * program (a fault in the program's code lands with depth 0). */
int sig_close_all(int crash)
{
	int r;

	accel_tls.depth++;
	r = sk_net_die(crash);
	accel_tls.depth--;
	return r;
}

/* (deferred: this thread was inside the socket layer when sig came) */
static void die_now(int sig)
{
	sig_close_all(0);
	die_of(sig, 0);
}

static void die_tramp(int sig, siginfo_t *info, void *uc)
{
	int crash = sig == SIGILL || sig == SIGFPE || sig == SIGABRT, e = errno;

	(void)uc;
	if (sig_close_all(crash) == -EBUSY) {
		sk_net_die_later(sig, die_now);
		errno = e;
		return;
	}
	die_of(sig, sig != SIGABRT && crash && info && info->si_code > 0);
	errno = e;
}

void sig_exit_arm(void)
{
	__atomic_store_n(&die_on, 1, __ATOMIC_RELEASE);
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction cur, k;

		if (!ends_process(sig) || __sigaction(sig, NULL, &cur) < 0 ||
		    !die_holds(sig, &cur))
			continue;
		prog_act[sig] = cur;
		die_entry(&k);
		__sigaction(sig, &k, NULL);
	}
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
