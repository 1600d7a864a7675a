/*
 * opts.h - the socket layer's tunables, with the reason for each value.
 * (Settings the user chooses are ACCEL_* variables: preload/config.c.)
 */
#ifndef ACCEL_SOCKETS_OPTS_H
#define ACCEL_SOCKETS_OPTS_H

/* How often the counters file for accel-stat is rewritten: once a second
 * is what a person watching reads, and costs four system calls a second. */
#define SK_STATS_PUBLISH_NS 1000000000ull

/* Room for each stack's socket lines in the counters file (about 230
 * bytes a socket: some 280 sockets a stack are listed, the rest left out,
 * so the file stays small enough to rewrite every second). */
#define SK_SOCK_LINES_BYTES 65536

/* At exit, how long the stacks may keep running to finish the connections
 * the program closed or left open: the FINs go out and the peers' FINs
 * come back within a few round trips on a LAN, and the exit ends as soon
 * as they have; a peer that never closes holds the exit this long. */
#define SK_EXIT_DRAIN_NS 200000000ull
/* ... and for a closed listener's connections waiting for a sibling to
 * take them (stack/opts.h TCP_MOVE_WAIT_NS, and a little) */
#define SK_EXIT_MOVE_NS 2100000000ull

/* A process dying of a signal (sk_net_die) waits this long for a stack
 * another thread is inside (its sections are short: a burst, a copy), and
 * then runs the stacks it got as the exit does, SK_EXIT_DRAIN_NS at most:
 * the signal takes effect 300 ms after it arrived at the latest. */
#define SK_DIE_LOCK_NS 100000000ull

/* While an epoll set's bypass members keep a wait busy, or the wait spins
 * (ACCEL_SPIN_US) before it sleeps, its kernel members (memcached's notify
 * pipe, a dual listener's kernel half) are asked about at least this
 * often: each ask is a system call that costs as much as serving a
 * request, and a kernel fd waits at most this much longer for its turn,
 * far below what a kernel wake-up takes. Asking on every turn of the spin
 * made memcached at 60 K requests/s issue 1.7 M epoll_pwait calls a
 * second. */
#define SK_KERNEL_POLL_NS 20000ull

/* On a port with no receive interrupt, one sleeping thread at a time
 * wakes every ACCEL_IDLE_POLL_US to poll it (and wakes the others when
 * their sockets change); the other sleepers wake only this often, in case
 * that one went back to the program and stays there. Without it, every
 * sleeping thread polled every slice: memcached -t 4 idle over memif cost
 * 5 % of a core, one per cent per thread. */
#define SK_IDLE_BACKUP_NS 50000000ull

/* With more queues than threads, the stacks no thread was given still
 * receive the frames the port hashes to them (a SYN from the Linux side):
 * a waiting thread polls them this often, and after every sleep. Short
 * against a SYN's retransmission timer, long against a poll. */
#define SK_ORPHAN_POLL_NS 200000ull

/* A thread that took the stack's mutex this many times in a row, no other
 * thread between, becomes its lone user again and takes it without a
 * locked instruction until another thread comes (netif.c): memcached's
 * worker, whose accepting thread wakes a few times a second, spends most
 * of its time so. Each return costs the others one membarrier. */
#define SK_SOLO_STREAK 1024

/* The progress thread (progress.c) parks while every stack's threads sleep
 * in waits; a thread that wakes from one on a port with a receive
 * interrupt wakes it, but on a port without (memif) the waits wake every
 * idle slice, so the parked thread looks this often instead: a server
 * that goes busy in its own code right after a wake gets its first turn
 * this much later; 50 looks a second cost nothing measurable. */
#define SK_PROGRESS_PARK_NS 20000000ull

#endif
