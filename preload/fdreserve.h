/*
 * fdreserve.h - the shim's own descriptors live above the program's limit.
 *
 * The kernel gives each new descriptor the lowest free number, so the
 * descriptors the shim and DPDK open for themselves (the port's tun queues
 * and sockets, wait sets, eventfds) would take the numbers the program's
 * next sockets should get, count against its RLIMIT_NOFILE and push its
 * descriptors towards FD_SETSIZE. Instead, when the port starts, the hard
 * limit is raised by RT_FD_RESERVE and each of the shim's descriptors is
 * moved (F_DUPFD_CLOEXEC) into [view_hard, view_hard + RT_FD_RESERVE):
 * numbers the program is never given, because getrlimit shows it
 * view_hard, its hard limit as it was. The soft limit is left as it is, so
 * the kernel's EMFILE comes exactly where it would without the shim.
 *
 * Where the hard limit cannot be raised (no CAP_SYS_RESOURCE, or already
 * at nr_open) the reserve comes off the top of the program's limits
 * instead, at load, before the program reads them: it sees a limit
 * RT_FD_RESERVE lower, and can open exactly that many descriptors, at the
 * numbers the kernel would give.
 *
 * Limits: a program that later raises its hard limit past the reserve
 * gets the shim's numbers inside its range; descriptors DPDK's threads
 * other than its interrupt thread open stay where the kernel put them;
 * a program exec'd under the shim takes its reserve again. fdres_stats
 * says how many moved and how many could not.
 */
#ifndef ACCEL_PRELOAD_FDRESERVE_H
#define ACCEL_PRELOAD_FDRESERVE_H

#include <sys/resource.h>

/* Sets the reserve up from the current limits (once, at load). */
void fdres_start(void);

/* fd moved into the reserve (the old number closed), or fd itself when it
 * cannot move. Thread-safe. */
int fdres_hide(int fd);

/* make(arg) again with the soft limit raised to the kernel's hard one for
 * the call, so that the descriptor it makes lands in the reserve: for a
 * descriptor the shim's side cannot do without when the program holds
 * every number under its limit (make failed with EMFILE). The new
 * descriptor, or -errno: make's, or -EMFILE with no reserve. */
int fdres_make(int (*make)(int), int arg);

/* RLIMIT_NOFILE of the calling process as the program sees it: prlimit's
 * contract (new and old may be NULL), 0 or -errno. */
int fdres_prlimit(const struct rlimit *new, struct rlimit *old);

/* 1 when the reserve is in use. */
int fdres_active(void);

/* Descriptors moved, and those that could not be. */
void fdres_stats(unsigned *moved, unsigned *stayed);

#endif
