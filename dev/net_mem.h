/*
 * net_mem.h - the in-memory network device (dev_net_mem), for tests: the
 * port's queues and the queue of one more port, the wire's other end,
 * exchange frames through rings in memory, with packets from a plain pool
 * and no DPDK. Open it with dev_net_conf.dev = &dev_net_mem (the socket
 * layer: sk_net_conf.dev); then dev_mem_peer gives the other end, on
 * which a test runs a stack of its own (dev/netif.h's ops work on it).
 *
 * Frames the port sends reach the peer's queue; frames the peer sends
 * reach the port's queue (TCP destination port) % queues, or queue 0
 * (ARP, the rest): so with several queues the socket layer's steering and
 * ARP fan-out are exercised as on a NIC's RSS. Each queue's wake fd is an
 * eventfd that a frame arriving while it is armed makes readable.
 */
#ifndef ACCEL_DEV_NET_MEM_H
#define ACCEL_DEV_NET_MEM_H

#include <stdint.h>

#include "dev.h"

/* The port's MAC, and the peer's. */
#define DEV_MEM_MAC { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }
#define DEV_MEM_PEER_MAC { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 }

/* The peer's one queue, claimed for the caller (once), or NULL when the
 * in-memory device is not open. Its owner uses it as any claimed queue
 * (dev.h), with dev_net_info()'s MTU and DEV_MEM_PEER_MAC. */
struct dev_netq *dev_mem_peer(void);

#endif
