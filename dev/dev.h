/*
 * dev.h - the devices under the stacks: one port per process, split into
 * queue pairs that threads claim one each. The port is one entry of a
 * table of devices (dev_impl.h): DPDK's (net_dpdk.c), or the in-memory
 * device the tests run the socket layer on (net_mem.c).
 *
 * Nothing in this header needs DPDK, so the layers above can include it;
 * only the files in dev/ see rte_*. Packets cross this boundary as opaque pointers
 * (rte_mbufs on DPDK) with accessors.
 *
 * Threads: dev_net_open/dev_net_close are called once each, by whichever
 * thread gets there (the caller serialises). A claimed queue belongs to
 * one thread: only that thread may call the dev_netq_* functions on it,
 * between dev_netq_enter and dev_netq_leave. The packet accessors may be
 * called from any thread that owns the packet.
 */
#ifndef ACCEL_DEV_H
#define ACCEL_DEV_H

#include <stddef.h>
#include <stdint.h>

#define DEV_MAX_QUEUES 16
#define DEV_ETH_ALEN 6

/* Per-packet receive flags (dev_pkt_rx_flags). */
#define DEV_RX_IP_CSUM_GOOD (1u << 0)
#define DEV_RX_L4_CSUM_GOOD (1u << 1)
#define DEV_RX_HANDED (1u << 2) /* from another process of the port (dev_net_share_*) */

/* Checksum offloads (dev_net_info: rx_csum, tx_csum). */
#define DEV_CSUM_IP (1u << 0)
#define DEV_CSUM_TCP (1u << 1)

/* "none", "ip", "tcp" or "ip+tcp" for a DEV_CSUM_* set. */
const char *dev_csum_names(unsigned bits);

/* The devices (dev_impl.h): DPDK's port, and an in-memory one for tests
 * (net_mem.h), absent from the shim itself. */
struct dev_net_ops;
extern const struct dev_net_ops dev_net_dpdk, dev_net_mem;

struct dev_net_conf {
	const struct dev_net_ops *dev; /* NULL: dev_net_dpdk */
	const char *eal_args;     /* whitespace-separated EAL arguments */
	unsigned queues;          /* queue pairs wanted (clamped to the port) */
	unsigned mbufs;           /* mbufs in the pool (raised to the minimum) */
	unsigned link_wait_ms;    /* how long to wait for link up at start */
	/* link_wait_ms is the user's, not the default: a memif server waits
	 * for its client only then (net_dpdk.c, link_wait) */
	int link_wait_set;
	int log_level;            /* ACCEL_LOG_* for DPDK's own messages */
	/* Impairment specs (dev/impair.h) for each queue's transmit and
	 * receive side; NULL or "" for none. */
	const char *impair_tx, *impair_rx;
	int no_csum_offload;      /* leave checksums to software even if offered */
	/* A file to write every frame the port sends and receives to, as
	 * pcapng, each cut to pcap_snaplen bytes; NULL or "" for none. */
	const char *pcap;
	unsigned pcap_snaplen;
	/* Called with each descriptor the device layer keeps open for itself
	 * (the port's lock, the queues' wake sets); returns the number to
	 * keep it under, the old one closed (the shim moves them out of the
	 * program's way). NULL keeps them as they are. */
	int (*own_fd)(int fd);
	/* Processes that name the same group (the shim: its process tree)
	 * share a tap interface the arguments name (iface=), one queue each;
	 * NULL or "": the port is this process's alone. */
	const char *share_group;
	/* 1 while another process of the group may still start a queue (the
	 * shim: this process's parent holds the listener): the last member
	 * to leave keeps the tap for it. NULL: never. */
	int (*group_lives)(void);
};

struct dev_net_info {
	char driver[32];
	uint16_t port_id;
	uint8_t mac[DEV_ETH_ALEN];
	uint16_t mtu;
	unsigned queues;
	int link_up;
	unsigned rx_csum, tx_csum; /* DEV_CSUM_*: offloads the port took */
};

/*
 * Opens conf->dev, once per process. DPDK's: starts the EAL and the first
 * port it finds, after taking the port's lock (-EBUSY when another process
 * holds it). Leaves
 * the calling thread's CPU affinity, the signal dispositions, stdout and
 * the getopt state as they were. Returns 0, or a negative errno with a
 * short reason in why (DPDK's own lines are logged before it).
 */
int dev_net_open(const struct dev_net_conf *conf, char *why, size_t whylen);

/* 1 when the process may use common/barrier.h's asymmetric fences
 * (registered when the port opened). */
int dev_asym_fences(void);

/* Stops and closes the port; waits (bounded) for threads inside
 * dev_netq_enter/leave to leave. Safe to call when open failed. */
void dev_net_close(void);

/* A process that never opened the port exits: a tap the group kept for it
 * (dev_net_conf.group_lives) goes now unless a member has come back. */
void dev_net_group_exit(const char *eal_args);

const struct dev_net_info *dev_net_info(void);

/*
 * A port several processes share, one queue each (a tap named by iface=:
 * a prefork group, or unrelated servers with ACCEL_PORT_SHARE; a prefork
 * group's net_af_xdp, a queue of the netdev each): frames
 * handed between them (net_share.h). dev_net_share_fd: a FIFO the
 * sleepers of the process's first queue poll for POLLIN, -1 when the port
 * is not shared (then the others do nothing). dev_net_share_own: this
 * process serves local TCP port p (a listener, a connection's port), or
 * no more. dev_net_share_conn: this process accepted the connection from
 * rip:rport to lport (on 1), or it left (on 0): 1 when the port's table
 * of connections took it (on) or held it as this process's (off), so a
 * sibling that gets one of its segments hands it here.
 * dev_net_share_taken: another live process serves p.
 * dev_net_share_forward: a frame for local port lport from rip:rport that
 * this process has no connection for: 1 when it was handed to the process
 * that serves the port (and freed here), 0 when this one must answer it;
 * with sure, a frame that must not be lost (a connection handed over,
 * tcp_move.c): 1 only when it is in the taker's inbox (not when that was
 * full, as a frame from the wire may be).
 * dev_net_share_counts: frames handed out and taken in.
 */
int dev_net_share_fd(void);
void dev_net_share_own(uint16_t port, int on);
int dev_net_share_conn(uint32_t rip, uint16_t rport, uint16_t lport, int on);
int dev_net_share_taken(uint16_t port);
int dev_net_share_forward(void *pkt, uint16_t lport, uint32_t rip, uint16_t rport, int sure);
void dev_net_share_counts(uint64_t *out, uint64_t *in);

/* The port's own counters (rte_eth_stats_get) and the packet pool's
 * buffers, for the counters file: any thread, once a second, never on
 * the data path. 0, or -ENODEV when the port is not open. */
struct dev_port_stats {
	uint64_t rx_pkts, tx_pkts, rx_bytes, tx_bytes;
	uint64_t rx_missed, rx_errors, tx_errors, rx_nombuf;
	uint64_t pool_in_use, pool_free;
};
int dev_net_port_stats(struct dev_port_stats *out);

/* The port's extended counters (rte_eth_xstats) that dev_net_port_stats
 * does not already give under its names (DPDK's rx_good_packets is
 * port_rx_pkts): per queue, and the driver's own. Each named "port_" and
 * DPDK's name. Fills up to max; returns how many (0: none, or no port).
 * Not thread-safe against itself. */
struct dev_port_xstat {
	char name[64];
	uint64_t value;
};
unsigned dev_net_port_xstats(struct dev_port_xstat *out, unsigned max);

/* True for threads DPDK created itself (its interrupt thread): they must
 * never claim a queue. */
int dev_thread_is_internal(void);

struct dev_netq;

/* Takes a free queue pair for the calling thread, or NULL if none is left
 * (or the port is not open). */
struct dev_netq *dev_netq_claim(void);
void dev_netq_release(struct dev_netq *q);

/* Brackets every use of a queue. enter returns -ESHUTDOWN once the port is
 * being closed; then the queue must not be touched. */
int dev_netq_enter(struct dev_netq *q);
void dev_netq_leave(struct dev_netq *q);

uint16_t dev_netq_rx(struct dev_netq *q, void **pkts, uint16_t n);
/* The queue's number on the port (0 .. dev_net_info()->queues - 1). */
unsigned dev_netq_id(const struct dev_netq *q);
/* Where the port has several queues, each pair has a ring of frames the
 * owner of one hands the owner of the other, with one producer and one
 * consumer: from's owner pushes (0, or -ENOBUFS when the ring is full or
 * the port has one queue: the frame stays the caller's), and to's owner
 * takes them with dev_netq_rx_pushed, inside enter/leave. */
int dev_netq_push(struct dev_netq *from, struct dev_netq *to, void *pkt);
uint16_t dev_netq_rx_pushed(struct dev_netq *q, void **pkts, uint16_t n);
/* Takes ownership of the packets it accepts; returns how many. */
uint16_t dev_netq_tx(struct dev_netq *q, void **pkts, uint16_t n);
void *dev_netq_pkt_alloc(struct dev_netq *q);

void dev_pkt_free(void *pkt);
/* A copy of a frame in a new buffer, or NULL when the pool is empty. */
void *dev_pkt_copy(void *pkt);
uint8_t *dev_pkt_data(void *pkt);
uint16_t dev_pkt_len(void *pkt);
void dev_pkt_set_len(void *pkt, uint16_t len);
uint16_t dev_pkt_room(void *pkt);
uint32_t dev_pkt_rx_flags(void *pkt);

/* Makes the calling thread (not one DPDK started) an lcore of its own for
 * as long as it uses the port, so its packet allocations and frees go
 * through a per-thread mempool cache instead of the shared ring (a
 * profile of memcached under the shim showed the ring at 8 %). Harmless
 * when it fails (no free lcore id): the ring is used as before. */
void dev_thread_register(void);
void dev_thread_unregister(void);
/* Asks the port to fill the DEV_CSUM_* checksums of an IPv4 frame with
 * these header lengths on transmit (only those in dev_net_info()->tx_csum). */
void dev_pkt_tx_csum(void *pkt, uint16_t l2_len, uint16_t l3_len, unsigned flags);

/*
 * Sleeping until the queue has packets: dev_netq_wake_fd is a descriptor
 * that becomes readable when it does (-1: the port has no receive
 * interrupts; poll it on a short timer instead). Call dev_netq_wake_arm
 * before sleeping and dev_netq_wake_ack after waking.
 */
int dev_netq_wake_fd(struct dev_netq *q);
void dev_netq_wake_arm(struct dev_netq *q);
void dev_netq_wake_ack(struct dev_netq *q);

/* When a frame held by the impairment delay line is next due (ns), or
 * UINT64_MAX: a sleeping thread must wake by then. */
uint64_t dev_netq_next_due(const struct dev_netq *q);

/* Monotonic nanoseconds. */
uint64_t dev_now_ns(void);

#endif
