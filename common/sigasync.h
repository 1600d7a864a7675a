/*
 * sigasync.h - the signals the shim may hold back from the program for a
 * moment: all but the faults, which the kernel must deliver to the thread
 * that caused them (a blocked SIGSEGV kills the process).
 */
#ifndef ACCEL_COMMON_SIGASYNC_H
#define ACCEL_COMMON_SIGASYNC_H

#include <signal.h>

static inline void sig_async_set(sigset_t *set)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };

	sigfillset(set);
	for (unsigned i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(set, faults[i]);
}

/* Bumped by the shim's wrapper of every handler the program installed
 * (preload/signals.c) each time one runs on this thread: a waiting call
 * that sees it change while it spins knows a handler ran inside it, and
 * returns EINTR as the kernel's wait would (the spin runs with the
 * program's signals open; only the sleeps hold them back). */
extern __thread unsigned accel_sig_seq __attribute__((tls_model("initial-exec")));

#endif
