/*
 * stack.h - the public face of one userspace TCP/IP instance.
 *
 * One struct stack serves one thread: nothing here locks, nothing here is
 * global, and no function may be called on the same stack from two threads
 * at once. The stack never touches a NIC, a socket or libc I/O: it sees
 * frames through struct stack_ops, which dev/ implements on DPDK mbufs and
 * the unit tests implement on plain buffers.
 *
 * Ownership of packets: a packet handed to the stack (stack_input, or one
 * returned by ops->rx_burst) belongs to the stack from then on; it is either
 * freed through ops->pkt_free or transmitted (ops->tx_burst takes it).
 */
#ifndef ACCEL_STACK_H
#define ACCEL_STACK_H

#include <stddef.h>
#include <stdint.h>

#define STACK_ETH_ALEN 6

/* Per-packet receive flags reported by ops->pkt_rx_flags. */
#define STACK_RX_IP_CSUM_GOOD (1u << 0) /* the port verified the IPv4 header */

/*
 * The platform under a stack. Every callback gets the ctx given at creation
 * (the packet accessors take the packet itself). All must be non-NULL.
 */
struct stack_ops {
	void *(*pkt_alloc)(void *ctx);
	void (*pkt_free)(void *ctx, void *pkt);
	uint8_t *(*pkt_data)(void *pkt);
	uint16_t (*pkt_len)(void *pkt);
	void (*pkt_set_len)(void *pkt, uint16_t len);
	uint16_t (*pkt_room)(void *pkt);        /* bytes the buffer can hold */
	uint32_t (*pkt_rx_flags)(void *pkt);    /* STACK_RX_* */
	uint16_t (*rx_burst)(void *ctx, void **pkts, uint16_t n);
	/* Takes ownership of the packets it accepts; returns how many. */
	uint16_t (*tx_burst)(void *ctx, void **pkts, uint16_t n);
	uint64_t (*now_ns)(void *ctx);          /* monotonic clock */
};

struct stack_conf {
	uint32_t ip;          /* host byte order */
	uint8_t prefix_len;   /* 0..32 */
	uint32_t gateway;     /* host byte order, 0 = none */
	uint8_t mac[STACK_ETH_ALEN];
	uint16_t mtu;         /* IP MTU of the link, e.g. 1500 */
	/* Random seed for this instance (initial sequence numbers later). */
	uint64_t seed;
};

/* Why a frame was dropped; each has a counter and a name. */
enum stack_drop {
	STACK_DROP_RUNT,          /* shorter than an Ethernet header */
	STACK_DROP_OVERSIZE,      /* longer than MTU + Ethernet header */
	STACK_DROP_NOT_FOR_US,    /* Ethernet destination is not ours */
	STACK_DROP_ETHERTYPE,     /* neither ARP nor IPv4 */
	STACK_DROP_ARP_MALFORMED,
	STACK_DROP_ARP_NOT_FOR_US,
	STACK_DROP_IP_MALFORMED,  /* version, header length, total length */
	STACK_DROP_IP_CSUM,
	STACK_DROP_IP_NOT_FOR_US, /* destination is another address */
	STACK_DROP_IP_MARTIAN,    /* impossible source address */
	STACK_DROP_IP_FRAGMENT,   /* reassembly comes with TCP */
	STACK_DROP_IP_PROTO,      /* no handler for the protocol */
	STACK_DROP_ICMP_MALFORMED,
	STACK_DROP_ICMP_CSUM,
	STACK_DROP_ICMP_TYPE,     /* a type we do not answer */
	STACK_DROP_NO_BUFFER,     /* could not allocate a packet to reply */
	STACK_DROP_TX_FULL,       /* the port would not take the frame */
	STACK_DROP_MAX
};

struct stack_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t arp_requests_in, arp_replies_in;
	uint64_t arp_requests_out, arp_replies_out;
	uint64_t arp_conflicts;   /* someone else claims our address */
	uint64_t icmp_echo_replies;
	uint64_t drops[STACK_DROP_MAX];
};

struct stack;

/*
 * Creates a stack. Returns NULL when conf is unusable (no address, bad
 * prefix, gateway outside the subnet, MTU out of 68..9000) or memory is
 * short. Sends a gratuitous ARP at once so neighbours learn our MAC.
 */
struct stack *stack_create(const struct stack_conf *conf,
			   const struct stack_ops *ops, void *ctx);
void stack_destroy(struct stack *st);

/* Receives one burst, processes it, runs due timers and flushes output.
 * Returns the number of frames received. */
unsigned stack_poll(struct stack *st);

/* Processes one received frame (takes ownership). Output is queued until
 * stack_flush or the end of stack_poll. */
void stack_input(struct stack *st, void *pkt);
void stack_flush(struct stack *st);

/* When the stack next needs to run (ns on ops->now_ns's clock); UINT64_MAX
 * when nothing is due. A waiting thread sleeps no longer than this. */
uint64_t stack_next_deadline(const struct stack *st);

/*
 * Finds the MAC for an IPv4 next hop (host order). Returns 0 and fills mac
 * when known; -EAGAIN after sending (or rate-limiting) an ARP request;
 * -ENETUNREACH when the address is off-link and there is no gateway.
 */
int stack_resolve(struct stack *st, uint32_t dst_ip, uint8_t mac[STACK_ETH_ALEN]);

const struct stack_stats *stack_stats(const struct stack *st);
const char *stack_drop_name(enum stack_drop reason);

#endif
