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

/* Frames to our own address waiting for the next stack_poll (stack.c:
 * the loopback). A connection to ourselves has at most a window in
 * flight each way: two default windows of 64 KB are about 90 full
 * segments and their ACKs, so 256 leaves room for a raised buffer
 * before a frame is dropped (and resent by TCP, as any loss). */
#define STACK_LOOP_QUEUE 256

/* ARP cache slots. A host talks to few on-link neighbours (peers behind
 * a gateway share its entry); 256 keeps the table in a few cache lines
 * per lookup and is a power of two for the hash. */
#define STACK_ARP_SLOTS 256

/* How long a learned neighbour stays valid. Linux uses a reachable time
 * of about 30 s plus stale handling; 60 s without revalidation is the
 * classic BSD arpt_keep value (RFC 1122 2.3.2.1 asks for a timeout). */
#define STACK_ARP_TTL_NS (60ull * 1000000000ull)

/* A neighbour past its reachable time is STALE: its MAC is still used,
 * and the next use asks again, unicast to that MAC first (RFC 1122
 * 2.3.2.1 "unicast poll"; Linux's ucast_solicit is 3), then broadcast, in
 * case the address moved. A stale entry nobody confirms is forgotten
 * after STACK_ARP_GC_NS (Linux's gc_stale_time, 60 s). */
#define STACK_ARP_UCAST_PROBES 3
#define STACK_ARP_GC_NS (60ull * 1000000000ull)

/* How often a sending connection looks its peer's MAC up again in the
 * table (it also does when any entry's MAC changed): the table's aging
 * and probing reach live connections within a second, at the cost of a
 * clock compare per segment. */
#define STACK_NEIGH_CHECK_NS (1000ull * 1000000ull)

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

/* ---- TCP -------------------------------------------------------------- */

/* Timer wheel tick. TCP's shortest timer is the delayed ACK (tens of ms)
 * and RTO granularity below 1 ms buys nothing (RFC 6298 4). */
#define TCP_TICK_NS 1000000ull

/* Default buffers: 64 KiB each, allocated on first use. 10,000 idle
 * connections then cost nothing, busy ones the usual Linux-like amount;
 * STACK_TCP_SNDBUF/RCVBUF raise them up to TCP_BUF_MAX. */
#define TCP_SNDBUF_DEFAULT (64u * 1024)
#define TCP_RCVBUF_DEFAULT (64u * 1024)
#define TCP_BUF_MIN (4u * 1024)
#define TCP_BUF_MAX (16u * 1024 * 1024)

/* Connection hash buckets (power of two); chains stay short up to about
 * this many connections per stack. */
#define TCP_HASH_BUCKETS 16384u

/* RFC 6298 (2.1, 2.4, 5.5): initial RTO 1 s; Linux's 200 ms floor
 * instead of the RFC's 1 s (what Linux peers expect); 120 s ceiling. */
#define TCP_RTO_INIT_NS (1000ull * 1000000)
#define TCP_RTO_MIN_NS (200ull * 1000000)
#define TCP_RTO_MAX_NS (120000ull * 1000000)

/* Retry limits, as Linux's defaults: tcp_syn_retries 6, synack 5,
 * tcp_retries2 15 (RFC 1122 4.2.3.5 asks for R2 of at least 100 s). */
#define TCP_SYN_RETRIES 6
#define TCP_SYNACK_RETRIES 5
#define TCP_DATA_RETRIES 15
/* After this many timeouts in a row a connection doubts its peer's MAC
 * (Linux's tcp_retries1, 3: "negative advice"): the entry goes stale at
 * once and the next retransmissions ask again (arp.c). */
#define TCP_NEIGH_RETRIES 3

/* Delayed ACK: at most 40 ms (Linux's minimum; RFC 9293 3.8.6.3 allows up
 * to 500 ms) and every second full segment (RFC 5681 4.2). */
#define TCP_DELACK_NS (40ull * 1000000)

/* TIME_WAIT length, 2*MSL: 60 s as Linux (RFC 9293 3.4.2 suggests MSL 2 min). */
#define TCP_TIMEWAIT_NS (60000ull * 1000000)

/* An orphaned FIN_WAIT_2 waits this long for the peer's FIN (Linux's
 * tcp_fin_timeout). */
#define TCP_FIN_TIMEOUT_NS (60000ull * 1000000)
/* A closed listener's connection that no other process of the device could
 * take yet (ops->tcp_move: -EAGAIN, a prefork group's new workers still
 * starting) waits this long for one, asked again every TCP_MOVE_RETRY_NS;
 * then it is reset, as it would have been at once. */
#define TCP_MOVE_WAIT_NS (2000ull * 1000000)
#define TCP_MOVE_RETRY_NS (1ull * 1000000)

/* Keepalive defaults (RFC 1122 4.2.3.6: at least 2 h idle), as Linux. */
#define TCP_KEEPIDLE_S 7200
#define TCP_KEEPINTVL_S 75
#define TCP_KEEPCNT 9

/* Out-of-order ranges kept per connection. Beyond it new holes are not
 * kept (their data is dropped and resent); SACK carries at most 4 blocks
 * anyway (RFC 2018 3). */
#define TCP_OOO_MAX 16

/* Segment records (tcp_loss.c, the per-segment scoreboard of RFC 6675
 * and RFC 8985): one per 512 bytes of send buffer, at least 64. A full
 * ring holds new data back, as Linux caps packets in flight, so a sender
 * of tiny segments has at most that many in flight; 64 KiB of buffer
 * takes 128 records of 24 bytes. */
#define TCP_TXS_BYTES_PER_REC 512u
#define TCP_TXS_MIN 64u

/* RFC 5681 DupThresh, in segments (also RACK's, RFC 8985 6.2). */
#define TCP_DUPTHRESH 3u

/* Tail loss probe timeout (RFC 8985 7.2): 2*SRTT, at least two wheel
 * ticks, plus, when one segment is in flight, the delayed ACK a peer may
 * hold it for (Linux's 40 ms; the RFC's worst case is 200 ms, which
 * would leave the RTO first). Linux's floor is 10 ms; ours is lower
 * because our probe resends the last segment, which the peer ACKs at
 * once, and a D-SACK for a probe is not taken for reordering: a probe
 * that raced a late ACK costs one segment. Measured on a Linux receiver
 * at 5 % loss each way, where most stalls are one lost ACK for a burst,
 * 10 ms floor vs 2 ms: see the closing note of issue 3. */
#define TCP_TLP_MIN_NS (2ull * 1000000)
#define TCP_TLP_DELACK_NS (40ull * 1000000)

/* The smallest path MTU an ICMP "fragmentation needed" may set: Linux's
 * min_pmtu (552), above RFC 791's 68, so a forged message cannot shrink
 * segments to a trickle (RFC 5927 4.2). */
#define TCP_PMTU_MIN 552

/* Initial window: 10 segments (RFC 6928). */
#define TCP_INIT_CWND_SEGS 10

/* PAWS (RFC 7323 5.3) drops a segment whose timestamp is older than the
 * newest in-order one by more than this many ticks (ms), as Linux does:
 * a segment overtaken by a later one across a tick boundary (reordered on
 * the way, or steered through another stack's ring) is not an old
 * duplicate. */
#define TCP_PAWS_WINDOW 1

/* Ephemeral ports (stack.h). */
#define TCP_EPH_LO STACK_TCP_EPH_LO
#define TCP_EPH_HI STACK_TCP_EPH_HI

/* The window scale we offer is the smallest that covers the receive
 * buffer, but at least this (Linux offers 7) so a buffer raised later
 * can still be advertised. */
#define TCP_WSCALE_MIN 7

#endif
