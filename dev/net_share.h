/*
 * net_share.h - frames handed between the processes that share one port
 * (a tap named by iface=, one queue each), through a file of shared memory
 * beside the port's lock files.
 *
 * The kernel picks a tun queue for a new flow by its hash, not by its
 * port: a SYN for redis-server's port may land on memcached's queue, and
 * the reply to a worker's connect on a sibling's once tun's flow entry
 * has expired. So each process says which local TCP ports are its own
 * (its listeners, its connections' ports: share_own), and a process that
 * receives a segment it has no connection for, to a port that is not its
 * own but is another's, copies the frame into that process's inbox
 * (share_forward) instead of refusing it; the owner takes it from there
 * at its next receive (share_take), as if from the wire. Its answer goes
 * out through its own queue, and tun's flow table sends the rest of the
 * connection there.
 *
 * A prefork group's members all own their listener's port, so a segment
 * of a connection one member accepted that reaches a sibling's queue
 * (tun's flow entry expired; a veth peer that picked another transmit
 * queue for the flow, which Linux does after a retransmission) is found
 * through a table of the accepted connections, 4-tuple to slot
 * (share_conn), and handed to the member that serves it.
 *
 * The file holds, per local port, a bit per slot (64 slots, as the lock
 * files: DEV_SHARE_SLOTS), the table of connections, and per slot an inbox of SHARE_RING frames
 * behind a robust process-shared mutex (a holder that dies mid-copy
 * leaves it consistent for the next), the holder's pid (a frame for a
 * dead one is not forwarded), and a FIFO beside the file that a sleeping
 * owner polls (share_fd): a forwarder writes one byte to it when the
 * owner's kick flag was clear. A slot taken anew clears its bits and
 * its inbox, so what a process killed with -9 left does not last past
 * its successor's start.
 *
 * No DPDK here: tests/dev/test_net_share.c runs it on a temporary file.
 */
#ifndef ACCEL_DEV_NET_SHARE_H
#define ACCEL_DEV_NET_SHARE_H

#include <stddef.h>
#include <stdint.h>

#define SHARE_SLOTS 64
#define SHARE_RING 64
#define SHARE_FRAME 2044 /* the largest frame an inbox entry holds */
#define SHARE_CONNS 16384 /* accepted connections the table holds (a power of 2) */

struct share;

/* Maps (creating it if need be) path, a file of the region, as slot, and
 * opens the slot's FIFO (path with ".q<slot>" added); own_fd (or NULL)
 * is given each descriptor it opens and returns the one to keep (the
 * shim's: out of the program's way). NULL on failure. */
struct share *share_open(const char *path, unsigned slot, int (*own_fd)(int fd));
void share_close(struct share *sh);

/* The FIFO a sleeper of this slot polls for POLLIN, or -1. */
int share_fd(const struct share *sh);

/* This slot owns local port p (on 1), or no more (on 0). */
void share_own(struct share *sh, uint16_t port, int on);

/* 1 when a live slot other than this one owns the port. */
int share_taken(const struct share *sh, uint16_t port);

/* This slot serves the connection from rip:rport to its local port lport
 * (on 1: one it accepted), or no more (on 0). Returns 1 when the table
 * took it (on) or held it as this slot's (off), 0 when full or absent. */
int share_conn(struct share *sh, uint32_t rip, uint16_t rport, uint16_t lport, int on);

/* A frame for local port lport from rip:rport that this process has no
 * connection for: the slot to hand it to (the live slot that serves the
 * connection, share_conn; else another live slot that owns the port,
 * chosen by the peer's address when several do), or -1 when this slot
 * serves it or owns the port itself or nobody else does. */
int share_target(const struct share *sh, uint16_t lport, uint32_t rip, uint16_t rport);

/* Copies a frame into slot to's inbox and wakes it: 0, or -ENOBUFS (full,
 * too long), -ESRCH (its holder is gone). */
int share_put(struct share *sh, unsigned to, const void *frame, size_t len);

/* 1 when this slot's inbox has frames (a cheap look, for every poll). */
int share_pending(const struct share *sh);

/* Takes the next frame from this slot's inbox into buf (cap bytes):
 * its length, or 0 when the inbox is empty. Clears the kick first. */
size_t share_take(struct share *sh, void *buf, size_t cap);

#endif
