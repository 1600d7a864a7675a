/*
 * guard.h - the shim's accesses to program memory that fail with -EFAULT
 * instead of crashing, as the kernel's copy_from_user/copy_to_user do: a
 * program that passes a bad pointer to a call gets EFAULT under the shim
 * as it does on kernel sockets.
 *
 * A guarded access stores its range and a sigjmp_buf in a thread-local
 * pointer; the shim's SIGSEGV/SIGBUS handler (preload/sigguard.c) jumps
 * back to it when a fault hits that range while the pointer is set, and
 * otherwise hands the signal to the program's own disposition. Nothing
 * is asked of the kernel when nothing faults: a guard costs a sigsetjmp
 * that does not save the mask and two thread-local stores, about 5 ns
 * (benchmarks/guardcost.c; figures in preload/sigguard.c).
 *
 * Where no handler is installed (the tools built without preload/), a
 * fault crashes as a plain access would.
 */
#ifndef ACCEL_COMMON_GUARD_H
#define ACCEL_COMMON_GUARD_H

#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct accel_guard {
	sigjmp_buf jb;
	uintptr_t lo, hi;          /* the program's range being accessed */
	struct accel_guard *prev;  /* (a program's handler may nest one) */
};

/* Runs fn(arg), which may access the program's [p, p + n) and nothing
 * else of the program's; returns fn's result, or -EFAULT if an access to
 * that range faulted (fn is then abandoned where it faulted: it must
 * change no state before its last access to the range). */
long accel_guarded(long (*fn)(void *), void *arg, const void *p, size_t n);

/* memcpy from (in) or to (out) program memory: 0 or -EFAULT. */
int accel_copy_in(void *dst, const void *user, size_t n);
int accel_copy_out(void *user, const void *src, size_t n);

/* Whether the program's [p, p + n) can be read (write 0) or written
 * (write 1): touches each of its pages (a write does an atomic add of 0,
 * so it changes nothing another thread could see). 0 or -EFAULT. */
int accel_probe(const void *p, size_t n, int write);

/* accel_probe over n bytes of a vector array from byte from on, under
 * one guard (for many small vectors: one sigsetjmp, each page once). */
int accel_probe_iov(const struct iovec *iov, int cnt, size_t from, size_t n, int write);

/* For the signal handler: if the fault of si hit the running guard's
 * range, restores the mask of uc (the interrupted one) and jumps back
 * into the guard (does not return); returns otherwise. */
void accel_guard_catch(int sig, const siginfo_t *si, void *uc);

#endif
