/*
 * sigguard.h - the shim's fault handler (sigguard.c), installed at load.
 */
#ifndef ACCEL_PRELOAD_SIGGUARD_H
#define ACCEL_PRELOAD_SIGGUARD_H

#include <signal.h>

/* Puts the shim's SIGSEGV and SIGBUS handler in place, keeping what was
 * there as the program's disposition. */
void sg_install(void);

/* sigaction(2) of the program for SIGSEGV or SIGBUS once the handler is
 * in place: sets and reads the program's kept disposition (0, or -1 with
 * errno). Any other signal, or before sg_install: SG_NOT_OURS. */
#define SG_NOT_OURS (-2)
int sg_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
