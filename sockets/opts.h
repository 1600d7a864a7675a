/*
 * opts.h - the socket layer's tunables, with the reason for each value.
 * (Settings the user chooses are ACCEL_* variables: preload/config.c.)
 */
#ifndef ACCEL_SOCKETS_OPTS_H
#define ACCEL_SOCKETS_OPTS_H

/* How often the counters file for accel-stat is rewritten: once a second
 * is what a person watching reads, and costs four system calls a second. */
#define SK_STATS_PUBLISH_NS 1000000000ull

/* At exit, how long the stack keeps running to send the FINs (or RSTs)
 * of the connections the program left open: a few round trips on a LAN,
 * short enough not to delay the exit noticeably. */
#define SK_EXIT_DRAIN_NS 20000000ull

#endif
