/*
 * sigguard.c - the shim's SIGSEGV and SIGBUS handler, which turns a fault
 * in a guarded access to program memory into -EFAULT (common/guard.h),
 * and is invisible to the program otherwise.
 *
 * The kernel holds the shim's handler for both signals from load on; the
 * program's own disposition is kept here, and the interposed sigaction
 * (signals.c, which signal and sysv_signal go through) reads and sets
 * this copy through sg_sigaction, so the program sees what it set.
 * The kernel's entry mirrors the program's sa_mask and SA_ONSTACK and
 * SA_NODEFER, so the handler runs where and as the program's would. A
 * fault outside a guard is handed on as if the shim were not there:
 *  - to the program's handler, called with the kernel's siginfo and
 *    context (SA_RESETHAND done here);
 *  - with SIG_DFL (or SIG_IGN, which the kernel overrides for a fault),
 *    the kernel's entry is set to SIG_DFL and the handler returns: the
 *    access faults again and the program dies of the same signal, with a
 *    core, at the same instruction. A signal sent with kill or raise is
 *    raised again instead (and ignored under SIG_IGN).
 *
 * Cost when nothing faults: a sigsetjmp without the mask, two thread-
 * local stores and an indirect call per piece copied, no system call.
 * benchmarks/guardcost.c: a 64-byte copy takes 1.0 ns plain and 6.4 ns
 * guarded; a guarded copy that faults, 2.2 us (signal, mask, jump).
 * Bypass calls over the tap (64-byte recv, EAGAIN recv, 64-byte send;
 * best of 8 runs on a loaded 2-core VM): 486/269/140 ns before, 486/260/
 * 125 ns after, the difference within the noise.
 *
 * A fault the kernel delivers while the signal is blocked kills the
 * process (force_sig_fault), so the shim never lets the program's
 * sigprocmask and pthread_sigmask block SIGSEGV or SIGBUS in the kernel:
 * it keeps the thread's blocked bits for them here, reports them in the
 * old masks, and acts on them: a fault while "blocked" kills as the
 * kernel's would, a sent signal waits until the program unblocks it.
 *
 * Not covered: masks that reach the kernel by other ways (sigsuspend, a
 * handler's sa_mask for another signal, siglongjmp restoring a saved
 * mask, a new thread inheriting its creator's) keep the kernel's rule,
 * and a guarded fault there kills where the kernel says EFAULT; a
 * signal held back for the program is not in its sigpending(); an
 * rt_sigaction or rt_sigprocmask made with syscall(2) is the kernel's.
 */
#include <sys/syscall.h>
#include <unistd.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "../common/guard.h"
#include "runtime.h"
#include "sigguard.h"
#include "signals.h"

#define EXPORT __attribute__((visibility("default")))
#define SA_RESTORER_FLAG 0x04000000 /* glibc sets it on every entry */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*mask_fn)(int, const sigset_t *, sigset_t *);

/* The program's disposition of SIGSEGV (0) and SIGBUS (1): two copies,
 * so the handler reads a whole one while sigaction writes the other. */
struct sg_prog {
	struct sigaction act[2];
	int cur;
};

static struct sg_prog sg_progs[2];
static int sg_on;
static int sg_busy;
static sigaction_fn real_sigaction;
static mask_fn real_sigprocmask;
static mask_fn real_pthread_sigmask;

/* The program's blocked bits of SIGSEGV (1) and SIGBUS (2) in this
 * thread, and those sent while blocked (raised when unblocked). */
static __thread unsigned char sg_blocked, sg_pending;

static void sg_resolve(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigprocmask)
		real_sigprocmask = (mask_fn)dlsym(RTLD_NEXT, "sigprocmask");
	if (!real_pthread_sigmask)
		real_pthread_sigmask = (mask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
}

static int sg_index(int sig)
{
	return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

static void prog_get(int i, struct sigaction *a)
{
	*a = sg_progs[i].act[__atomic_load_n(&sg_progs[i].cur, __ATOMIC_ACQUIRE)];
}

static void prog_put(int i, const struct sigaction *a)
{
	int next = !__atomic_load_n(&sg_progs[i].cur, __ATOMIC_RELAXED);

	sg_progs[i].act[next] = *a;
	__atomic_store_n(&sg_progs[i].cur, next, __ATOMIC_RELEASE);
}

static int is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

static void on_fault(int sig, siginfo_t *si, void *uc);

/* sigaction is async-signal-safe (signal-safety(7)), so its lock is taken
 * with every signal blocked, and spun on: a handler never finds its own
 * thread holding it. */
static void sg_lock(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, saved, _NSIG / 8);
	while (__atomic_exchange_n(&sg_busy, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void sg_unlock(const sigset_t *saved)
{
	__atomic_store_n(&sg_busy, 0, __ATOMIC_RELEASE);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, saved, NULL, _NSIG / 8);
}

/* The kernel's entry for sig: the shim's handler, run as the program's
 * would run. */
static void kernel_entry(int sig, const struct sigaction *prog)
{
	struct sigaction k = { .sa_sigaction = on_fault };

	sigemptyset(&k.sa_mask);
	if (is_handler(prog))
		k.sa_mask = prog->sa_mask;
	k.sa_flags = SA_SIGINFO | (prog->sa_flags & (SA_ONSTACK | SA_NODEFER | SA_RESTART));
	real_sigaction(sig, &k, NULL);
}

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	int i = sg_index(sig), fault = si->si_code > 0;
	struct sigaction a;

	prog_get(i, &a);
	if ((sg_blocked & (1 << i)) && !fault) {
		sg_pending |= (unsigned char)(1 << i);
		return;
	}
	if ((sg_blocked & (1 << i)) || (a.sa_handler == SIG_IGN && fault))
		a.sa_handler = SIG_DFL; /* a blocked or ignored fault kills */
	if (a.sa_handler == SIG_IGN)
		return;
	if (!is_handler(&a)) {
		struct sigaction d = { .sa_handler = SIG_DFL };

		sig_close_all(1); /* the peers see the connections end (signals.c) */
		sigemptyset(&d.sa_mask);
		real_sigaction(sig, &d, NULL);
		if (!fault)
			raise(sig); /* (pending until the handler returns) */
		return;           /* a fault: the access faults again */
	}
	if (a.sa_flags & SA_RESETHAND) {
		struct sigaction d = { .sa_handler = SIG_DFL };

		sigemptyset(&d.sa_mask);
		prog_put(i, &d);
	}
	if (a.sa_flags & SA_SIGINFO)
		a.sa_sigaction(sig, si, uc);
	else
		a.sa_handler(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int e = errno;

	accel_guard_catch(sig, si, uc); /* (does not return if it was ours) */
	pass_on(sig, si, uc);
	errno = e;
}

void sg_install(void)
{
	static const int sigs[2] = { SIGSEGV, SIGBUS };

	sg_resolve();
	if (!real_sigaction)
		return;
	sigset_t saved;

	sg_lock(&saved);
	for (int i = 0; i < 2 && !sg_on; i++) {
		struct sigaction cur;

		if (real_sigaction(sigs[i], NULL, &cur) < 0)
			continue;
		prog_put(i, &cur);
		kernel_entry(sigs[i], &cur);
	}
	__atomic_store_n(&sg_on, 1, __ATOMIC_RELEASE);
	sg_unlock(&saved);
}

/* sigaction on SIGSEGV or SIGBUS by the program: its copy changes, and
 * the kernel's entry follows its mask and flags. The kernel's order:
 * act is read (EFAULT), the disposition changes, old is written (EFAULT
 * with the change made). */
static int prog_sigaction(int i, int sig, const struct sigaction *act,
			  struct sigaction *old)
{
	struct sigaction a, o, mine;
	sigset_t saved;
	int r = 0;

	if (act && accel_copy_in(&a, act, sizeof(a)) < 0) {
		errno = EFAULT;
		return -1;
	}
	sg_lock(&saved);
	prog_get(i, &o);
	if (act) {
		kernel_entry(sig, &a);
		if (real_sigaction(sig, NULL, &mine) == 0)
			a.sa_restorer = mine.sa_restorer; /* as glibc reports it */
		a.sa_flags |= SA_RESTORER_FLAG;
		prog_put(i, &a);
	}
	sg_unlock(&saved);
	if (old && accel_copy_out(old, &o, sizeof(o)) < 0) {
		errno = EFAULT;
		r = -1;
	}
	return r;
}

int sg_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int i = sg_index(sig);

	sg_resolve();
	if (i < 0 || !__atomic_load_n(&sg_on, __ATOMIC_ACQUIRE))
		return SG_NOT_OURS;
	return prog_sigaction(i, sig, act, old);
}

/* A mask change by the program: SIGSEGV and SIGBUS are kept out of the
 * kernel's mask (see the top). Returns 0 or an errno value. */
static int prog_mask(mask_fn real, int how, const sigset_t *set, sigset_t *old)
{
	unsigned char now = sg_blocked, was = sg_blocked, bits, due;
	sigset_t k, ko;

	if (set) {
		if (accel_copy_in(&k, set, sizeof(k)) < 0)
			return EFAULT;
		bits = (unsigned char)((sigismember(&k, SIGSEGV) ? 1 : 0) |
				       (sigismember(&k, SIGBUS) ? 2 : 0));
		if (how == SIG_BLOCK)
			now |= bits;
		else if (how == SIG_UNBLOCK)
			now &= (unsigned char)~bits;
		else if (how == SIG_SETMASK)
			now = bits;
		sigdelset(&k, SIGSEGV);
		sigdelset(&k, SIGBUS);
	}
	if (real(how, set ? &k : NULL, old ? &ko : NULL) < 0)
		return errno;
	if (old) {
		if (was & 1)
			sigaddset(&ko, SIGSEGV);
		if (was & 2)
			sigaddset(&ko, SIGBUS);
		if (accel_copy_out(old, &ko, sizeof(ko)) < 0)
			return EFAULT;
	}
	sg_blocked = now;
	due = sg_pending & (unsigned char)~now;
	sg_pending &= now;
	if (due & 1)
		raise(SIGSEGV);
	if (due & 2)
		raise(SIGBUS);
	return 0;
}

static int mask_ours(void)
{
	sg_resolve();
	return __atomic_load_n(&sg_on, __ATOMIC_ACQUIRE) && !rt_internal_caller();
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int e;

	if (!mask_ours())
		return real_sigprocmask(how, set, old);
	e = prog_mask(real_sigprocmask, how, set, old);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

/* (glibc's real pthread_sigmask returns an errno value, not -1) */
static int real_pthread_mask_rc(int how, const sigset_t *set, sigset_t *old)
{
	int e = real_pthread_sigmask(how, set, old);

	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!mask_ours())
		return real_pthread_sigmask(how, set, old);
	return prog_mask(real_pthread_mask_rc, how, set, old);
}
