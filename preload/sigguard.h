/*
 * sigguard.h - the shim's fault handler (sigguard.c), installed at load.
 */
#ifndef ACCEL_PRELOAD_SIGGUARD_H
#define ACCEL_PRELOAD_SIGGUARD_H

/* Puts the shim's SIGSEGV and SIGBUS handler in place, keeping what was
 * there as the program's disposition. */
void sg_install(void);

#endif
