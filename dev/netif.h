/*
 * netif.h - the stacks' platform (stack/stack.h's struct stack_ops) on the
 * open device's queues: for the socket layer, and for tools that drive a
 * stack directly (tools/stack-echo). The one header of dev/ that knows the
 * stack; dev.h stays free of it.
 *
 * Threads: as dev.h's queue calls. ctx is the struct dev_netq * the stack
 * was created with; its owner calls the ops.
 */
#ifndef ACCEL_DEV_NETIF_H
#define ACCEL_DEV_NETIF_H

#include "../stack/stack.h"
#include "dev.h"

/*
 * The ops of a stack on a queue of the open device, the packet and queue
 * entries being the device's own (no call in between). With several queues
 * the stack also receives what other queues handed its own (dev_netq_push)
 * before the wire's frames, and an ARP frame from the wire is copied to
 * every other queue, whose stacks' neighbour tables must learn it too (a
 * reply comes back on whichever queue the peer chose): handed(to, 0) is
 * called after each copy went to `to`, handed(to, -ENOBUFS) when to's ring
 * was full and it was dropped (one hook per process: the last non-NULL
 * one given; NULL for a stack that needs no fan-out, on one queue or on
 * a test's peer). tcp_event, steer and tcp_gone are left NULL for the
 * caller. 0, or -ENODEV when no device is open.
 */
int dev_netif_ops(struct stack_ops *ops, void (*handed)(struct dev_netq *to, int err));

/* Hands pkt from one queue's owner to another's (dev_netq_push); pkt is
 * gone either way: 0, or -ENOBUFS (the ring was full: freed). */
int dev_netq_hand(struct dev_netq *from, struct dev_netq *to, void *pkt);

/* The checksums the open port fills on transmit, as stack_conf.tx_csum
 * (STACK_TX_*): 0 when none, or no port. */
unsigned dev_netif_tx_csum(void);

#endif
