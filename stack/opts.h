/*
 * opts.h - every tunable of the stack, with its default and the reason.
 * Change a value here, not at the place it is used.
 */
#ifndef ACCEL_STACK_OPTS_H
#define ACCEL_STACK_OPTS_H

/* Frames received per stack_poll: DPDK PMDs are tuned for bursts of 32. */
#define STACK_RX_BURST 32

/* Frames queued for output before a forced flush; one tx burst's worth. */
#define STACK_TX_BURST 64

/* Times a flush retries a port that took only part of a burst before it
 * drops the rest; a full tx ring rarely drains within a few tries. */
#define STACK_TX_RETRIES 4

/* ARP cache slots. A host talks to few on-link neighbours (peers behind
 * a gateway share its entry); 256 keeps the table in a few cache lines
 * per lookup and is a power of two for the hash. */
#define STACK_ARP_SLOTS 256

/* How long a learned neighbour stays valid. Linux uses a reachable time
 * of about 30 s plus stale handling; 60 s without revalidation is the
 * classic BSD arpt_keep value (RFC 1122 2.3.2.1 asks for a timeout). */
#define STACK_ARP_TTL_NS (60ull * 1000000000ull)

/* Minimum gap between two ARP requests for the same address: RFC 1122
 * 2.3.2.1 asks for at most one request per second per destination. */
#define STACK_ARP_RETRY_NS (1000ull * 1000000ull)

/* TTL of packets we originate (RFC 1700 default, as Linux). */
#define STACK_IP_TTL 64

/* IPv4 datagrams reassembled at once. Each holds one packet buffer (the
 * output it is copied into), so 16 pin 32 KB of a pool of thousands of
 * mbufs. Fragments are rare on a LAN (TCP uses PMTU discovery, RFC 1191);
 * 16 covers a few peers behind a small-MTU tunnel, and a flood of bogus
 * first fragments can only push out other partial datagrams (the oldest
 * first), never grow memory. */
#define IPV4_REASM_SLOTS 16

/* Fragments one datagram may have. The largest datagram we can hold fits
 * one 2 KB buffer; cut at the RFC 791 minimum MTU of 68 (48 bytes of
 * payload per fragment) that is 42 fragments, so 64 takes any honest
 * fragmentation while bounding the per-datagram table (4 bytes each) and
 * the work a fragment costs. FreeBSD's maxfragsperpacket is 16. */
#define IPV4_REASM_MAX_FRAGS 64

/* How long after its first fragment a datagram may take to complete.
 * RFC 791 3.2 suggests 15 s to start with, RFC 1122 3.3.2 60 to 120 s;
 * Linux uses 30 s (ipfrag_time), which peers are used to. Longer only
 * pins buffers and, as the 16-bit identification wraps within seconds at
 * gigabit rates, lets fragments of two datagrams mix (RFC 4963). */
#define IPV4_REASM_TIMEOUT_NS (30ull * 1000000000ull)

#endif
