/*
 * opts.h - the preload layer's tunables, with the reason for each value.
 * (Settings the user chooses are ACCEL_* variables: config.c.)
 */
#ifndef ACCEL_PRELOAD_OPTS_H
#define ACCEL_PRELOAD_OPTS_H

/* Descriptor numbers kept above the program's hard limit for the shim's
 * and DPDK's own descriptors (fdreserve.c). A port takes about fifteen
 * (tun queues, netlink and memif sockets, EAL's interrupt thread, timer
 * and memfd), a thread with a stack two (its sleeping set and notify
 * eventfd): 16 threads fit twice over. When the hard limit cannot be
 * raised, the program sees its limits this much lower, so it must stay
 * small next to the 1024 an ordinary process has. */
#define RT_FD_RESERVE 128

#endif
