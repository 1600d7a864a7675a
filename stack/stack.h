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
#define STACK_RX_L4_CSUM_GOOD (1u << 1) /* ... and the TCP checksum */
/* another process that shares the device handed the frame over (it
 * reached that one's queue first): a segment of it that finds no
 * connection came late, after its connection ended here, and is dropped
 * rather than answered with a RST */
#define STACK_RX_HANDED (1u << 2)

/* Checksums the port fills on transmit (stack_conf.tx_csum), through
 * ops->pkt_tx_csum. */
#define STACK_TX_IP_CSUM (1u << 0)
#define STACK_TX_TCP_CSUM (1u << 1)

struct stack_tcp; /* a TCP connection or listener */

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
	/* Needed only with stack_conf.tx_csum: asks the port to fill the
	 * STACK_TX_* checksums of an IPv4 frame with these header lengths.
	 * The stack leaves the IPv4 checksum 0 and puts the pseudo-header
	 * sum in the TCP checksum field, as NICs expect. */
	void (*pkt_tx_csum)(void *pkt, uint16_t l2_len, uint16_t l3_len,
			    unsigned flags);
	/* Optional (may be NULL): a connection's readiness changed; events
	 * is the new set (STACK_TCP_EV_*). Called from stack_poll and
	 * stack_input, and also from the stack_tcp_* calls below when they
	 * change a connection's readiness (a recv that empties the buffer):
	 * a callback that queues connections must cope with being re-entered
	 * while the caller walks that queue. It may close or abort c (or any
	 * connection): nothing is freed before the stack call that made the
	 * callback returns. */
	void (*tcp_event)(void *ctx, struct stack_tcp *c, void *user,
			  unsigned events);
	/* Optional: a valid TCP segment (checksums checked) from rip:rport to
	 * lport found no connection here (or an ICMP unreachable quoting one
	 * of ours to rip:rport from lport). Where the process runs several
	 * stacks, the connection may live in another one (stack_tcp_move):
	 * the hook returns 1 when it took the frame to hand it there
	 * (stack_input on that stack's thread), 0 to let this stack answer
	 * it (its listener, or a RST). Asked before the listeners, so a
	 * moved connection's segments never reach the listener it came
	 * from. syn: the segment is a SYN without ACK (a connection's first,
	 * for a listener or a TIME-WAIT's reuse); 0 for an ICMP error. */
	int (*steer)(void *ctx, void *pkt, uint32_t rip, uint16_t rport,
		     uint16_t lport, int syn);
	/* Optional: a connection given stack_tcp_watch (or moved here) left
	 * the stack's tables, so the process's map of which stack serves a
	 * 4-tuple can forget it. */
	void (*tcp_gone)(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport);
	/* Optional: a listener on lport made a child for rip:rport (a SYN,
	 * or a connection handed over: tcp_move.c). Returns 1 to have
	 * tcp_gone called when the child leaves the stack's tables (another
	 * process of a shared device now knows where it lives), 0 if not. */
	int (*tcp_child)(void *ctx, uint32_t rip, uint16_t rport, uint16_t lport);
	/* Optional: another process that shares the device serves local
	 * port p (its listener, its connection's): a connect does not pick
	 * it. */
	int (*port_taken)(void *ctx, uint16_t p);
	/* Optional: a listener on lport is closing with a connection from
	 * rip:rport it never handed out; pkt (from pkt_alloc) is a frame of
	 * WIRE_ETHERTYPE_ACCEL_MOVE carrying it. Returns 1 when another
	 * process of the device that listens on lport took pkt (that
	 * process's stack_input sees it with STACK_RX_HANDED, and the
	 * connection lives on there, as a kernel listener shared by several
	 * processes keeps its queue when one of them closes it), 0 to keep
	 * pkt (the connection is reset, as on Linux), -EAGAIN to keep it when
	 * no process takes it now but one may come (the connection waits,
	 * tcp_move.c, and is offered again). */
	int (*tcp_move)(void *ctx, void *pkt, uint32_t rip, uint16_t rport, uint16_t lport);
};

/* The ephemeral ports (Linux's ip_local_port_range). */
#define STACK_TCP_EPH_LO 32768
#define STACK_TCP_EPH_HI 60999

struct stack_conf {
	uint32_t ip;          /* host byte order */
	uint8_t prefix_len;   /* 0..32 */
	uint32_t gateway;     /* host byte order, 0 = none */
	uint8_t mac[STACK_ETH_ALEN];
	uint16_t mtu;         /* IP MTU of the link, e.g. 1500 */
	/* Random seed for this instance (ephemeral ports, IP ids). */
	uint64_t seed;
	/* RFC 6528 secret: the same for every stack of a process, so the ISN
	 * of a 4-tuple keeps rising whichever thread serves it (RFC 6191). */
	uint8_t isn_key[16];
	uint32_t sndbuf, rcvbuf;  /* default buffer sizes, 0 = built-in */
	unsigned tx_csum;         /* STACK_TX_*: checksums the port fills */
	/* Where a process runs several stacks: this one's connect picks only
	 * ephemeral ports p with p % port_stride == port_index, so the
	 * process knows a reply's stack from its port. 0 = any port. */
	uint16_t port_stride, port_index;
	/* Ports whose listener left while others serve it (a bit per port,
	 * 8 KiB, the caller's; NULL = none): a SYN to one that finds no
	 * listener here is dropped, not refused, so the peer tries again
	 * (a prefork worker that stops listening on a reload: its queue
	 * still gets new flows until it leaves, and the retry reaches the
	 * workers that listen). Read without a lock, a byte at a time. */
	const uint8_t *quiet_ports;
};

/* Why a frame was dropped; each has a counter and a name. */
enum stack_drop {
	STACK_DROP_RUNT,          /* shorter than an Ethernet header */
	STACK_DROP_OVERSIZE,      /* longer than MTU + Ethernet header */
	STACK_DROP_NOT_FOR_US,    /* Ethernet destination is not ours */
	STACK_DROP_ETHERTYPE,     /* neither ARP nor IPv4 */
	STACK_DROP_ARP_MALFORMED,
	STACK_DROP_ARP_NOT_FOR_US,
	STACK_DROP_ARP_BAD_SENDER, /* a sender MAC of ours, or zero: no mapping */
	STACK_DROP_IP_MALFORMED,  /* version, header length, total length */
	STACK_DROP_IP_CSUM,
	STACK_DROP_IP_NOT_FOR_US, /* destination is another address */
	STACK_DROP_IP_MARTIAN,    /* impossible source address */
	STACK_DROP_IP_FRAGMENT,   /* a fragment reassembly refused (see reasm stats) */
	STACK_DROP_IP_PROTO,      /* no handler for the protocol */
	STACK_DROP_ICMP_MALFORMED,
	STACK_DROP_ICMP_CSUM,
	STACK_DROP_ICMP_TYPE,     /* a type we do not answer */
	STACK_DROP_NO_BUFFER,     /* could not allocate a packet to reply */
	STACK_DROP_TX_FULL,       /* the port would not take the frame */
	STACK_DROP_LOOP_FULL,     /* too many frames to ourselves at once */
	STACK_DROP_TCP_MALFORMED, /* header, options or flags (RFC 9293 3.1) */
	STACK_DROP_TCP_CSUM,
	STACK_DROP_TCP_NO_CONN,   /* no connection or listener: RST sent */
	STACK_DROP_TCP_QUIET,     /* a SYN to a quiet port (stack_conf): no RST */
	STACK_DROP_TCP_LATE,      /* a handed-over segment (STACK_RX_HANDED)
				   * of a connection that ended: no RST */
	STACK_DROP_TCP_WINDOW,    /* not acceptable (RFC 9293 3.10.7.4) */
	STACK_DROP_TCP_PAWS,      /* old timestamp (RFC 7323 5) */
	STACK_DROP_TCP_BACKLOG,   /* listener's queues full: SYN dropped */
	STACK_DROP_TCP_OOO_FULL,  /* no room to keep out-of-order data */
	STACK_DROP_TCP_MOVE,      /* a connection handed over that no listener
				   * here took (a RST goes to its peer) */
	STACK_DROP_MAX
};

struct stack_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t loop_pkts;       /* frames to our own address, never sent */
	uint64_t arp_requests_in, arp_replies_in;
	uint64_t arp_requests_out, arp_replies_out;
	uint64_t arp_conflicts;   /* someone else claims our address */
	uint64_t icmp_echo_replies;
	uint64_t ip_frags_in, ip_reassembled; /* fragments held; datagrams made */
	uint64_t tcp_segs_in, tcp_segs_out, tcp_retransmits, tcp_rsts_out;
	uint64_t tcp_active_opens, tcp_passive_opens, tcp_timeouts;
	uint64_t tcp_challenge_acks;
	uint64_t tcp_rtos, tcp_fast_recoveries, tcp_tail_probes;
	uint64_t tcp_undos;       /* reductions undone: the resends were D-SACKed */
	uint64_t icmp_unreach_in, tcp_pmtu_updates;
	uint64_t tcp_steered;     /* segments ops->steer took for another stack */
	uint64_t tcp_moved_in, tcp_moved_out; /* stack_tcp_move, tcp_move.c */
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
/* Frees the stack and every connection it has, those whose handles the
 * program still holds included: the handles are invalid afterwards. */
void stack_destroy(struct stack *st);

/* Receives one burst, processes it, runs due timers, delivers the frames
 * the stack sent to its own address (a connection to ourselves never
 * leaves the stack, as on Linux's loopback) and flushes output. Returns
 * the number of frames received and delivered. */
unsigned stack_poll(struct stack *st);

/* Processes one received frame (takes ownership). Output is queued until
 * stack_flush or the end of stack_poll. */
void stack_input(struct stack *st, void *pkt);
void stack_flush(struct stack *st);

/* Delivers now the frames sent to our own address (those the next
 * stack_poll would), for a caller done with its calls on the stack: a
 * thread that writes to a connection of its own process and then sleeps
 * outside the stack must not leave the reader that sleeps on the port's
 * interrupt waiting for a poll. Returns the number delivered. */
unsigned stack_loop_run(struct stack *st);

/* When the stack next needs to run (ns on ops->now_ns's clock); UINT64_MAX
 * when nothing is due, the last clock reading when frames to our own
 * address wait for a poll. A waiting thread sleeps no longer than this. */
uint64_t stack_next_deadline(const struct stack *st);

/* The clock as the stack last read it (at its last poll, input or call),
 * for a caller that wants the time of the poll it just ran without
 * reading the clock again. */
uint64_t stack_clock(const struct stack *st);

/*
 * Finds the MAC for an IPv4 next hop (host order). Returns 0 and fills mac
 * when known (our own address: our own MAC, never asked over ARP); -EAGAIN after sending (or rate-limiting) an ARP request;
 * -ENETUNREACH when the address is off-link and there is no gateway.
 */
int stack_resolve(struct stack *st, uint32_t dst_ip, uint8_t mac[STACK_ETH_ALEN]);

const struct stack_stats *stack_stats(const struct stack *st);
const char *stack_drop_name(enum stack_drop reason);

/* ---- TCP (RFC 9293) ----------------------------------------------------
 *
 * Connections belong to the stack that made them and are used only by its
 * thread. Calls return 0 or a count on success and a negative errno with
 * the meaning the socket call of the same name gives it on Linux. Data
 * is copied into the send buffer and out of the receive buffer. Readiness
 * is reported through ops->tcp_event and can be read with stack_tcp_events.
 */

#define STACK_TCP_EV_IN    (1u << 0) /* data, EOF, or a connection to accept */
#define STACK_TCP_EV_OUT   (1u << 1) /* room in the send buffer; connected */
#define STACK_TCP_EV_RDHUP (1u << 2) /* the peer sent FIN */
#define STACK_TCP_EV_HUP   (1u << 3) /* both directions are closed */
#define STACK_TCP_EV_ERR   (1u << 4) /* a pending error (stack_tcp_error) */

enum stack_tcp_opt {
	STACK_TCP_NODELAY,     /* 1 = no Nagle (RFC 9293 3.7.4) */
	STACK_TCP_KEEPALIVE,   /* 1 = keepalive probes (RFC 9293 3.8.4) */
	STACK_TCP_KEEPIDLE,    /* seconds idle before the first probe */
	STACK_TCP_KEEPINTVL,   /* seconds between probes */
	STACK_TCP_KEEPCNT,     /* unanswered probes before the reset */
	STACK_TCP_SNDBUF,      /* bytes */
	STACK_TCP_RCVBUF,      /* bytes; before connect/listen for scaling */
	STACK_TCP_LINGER0,     /* 1 = close sends RST and drops data */
};

/* Listens on our address and port; backlog bounds the connections that
 * are established but not yet accepted (Linux's accept queue). */
int stack_tcp_listen(struct stack *st, uint16_t port, int backlog, void *user,
		     struct stack_tcp **out);

/* stack_tcp_listen with flags. STACK_TCP_REUSEPORT (SO_REUSEPORT): several
 * listeners may share the port if every one of them asks for it, and each
 * new connection goes to one of them chosen by a hash of the peer's
 * address and port, as Linux spreads them; -EADDRINUSE otherwise. */
#define STACK_TCP_REUSEPORT 1u
int stack_tcp_listen_flags(struct stack *st, uint16_t port, int backlog,
			   unsigned flags, void *user, struct stack_tcp **out);

/* Moves connection c (accepted or connected, the handle held) into stack
 * to, whose thread serves it from now on: its lookup, timers (at the same
 * deadlines) and readiness events go with it; its buffers and state do not
 * change. Both stacks must have the same address and share the clock and
 * isn_key (the timestamp clock is per connection on those: the peer sees
 * no change). The caller holds both stacks, and from now on the frames of
 * c that reach the old stack must be steered to the new one (ops->steer).
 * 0; -EINVAL for a listener, a connection not yet accepted or a stack with
 * another address; -EEXIST when to has the 4-tuple already. */
int stack_tcp_move(struct stack_tcp *c, struct stack *to);
/* Connections the user closed that still wait on the peer to finish
 * (FIN-WAIT, CLOSING, LAST-ACK): a process about to exit runs the stack
 * until there are none, or the peer would be left resending its FIN to
 * nobody. */
unsigned stack_tcp_closing(const struct stack *st);
/* A closed listener's connections waiting for another process of the
 * device to take them (stack_tcp_move_waiting: an exiting process runs
 * its stacks until none is left, TCP_MOVE_WAIT_NS at most). */
unsigned stack_tcp_move_waiting(const struct stack *st);
/* The process is dying of a signal and the stack is run from its handler
 * (sockets/netif.c sk_net_die): from now on it frees no memory, since the
 * interrupted thread may be inside malloc with its lock held. Connections
 * that end stay on the reap list; the process's end returns the memory. */
void stack_dying(struct stack *st);
/* ops->tcp_gone reports c's end (a moved connection is watched already). */
void stack_tcp_watch(struct stack_tcp *c);

/* The stack serving c. */
struct stack *stack_tcp_stack(const struct stack_tcp *c);

/* Takes an established connection off a listener's queue, or -EAGAIN. */
int stack_tcp_accept(struct stack_tcp *l, void *user, struct stack_tcp **out);

/* Starts an active open (host-order address and port); lport 0 picks an
 * ephemeral port. The result is known by EV_OUT (connected) or EV_ERR
 * (stack_tcp_error: -ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH ...). */
int stack_tcp_connect(struct stack *st, uint32_t ip, uint16_t port,
		      uint16_t lport, void *user, struct stack_tcp **out);

/* Copies up to len bytes into the send buffer: the count, -EAGAIN when
 * full, -EPIPE after shutdown(SHUT_WR)/close, -ENOTCONN before the
 * handshake, or the connection's error. */
long stack_tcp_send(struct stack_tcp *c, const void *buf, size_t len);

/* stack_tcp_send with flags: STACK_TCP_MORE says more data follows at
 * once (the next piece of a write's vector), so nothing is sent until a
 * send without it, or until the buffer is full: one segment for a
 * response the program writes from several buffers, as Linux's sendmsg
 * does, not one per buffer. */
#define STACK_TCP_MORE 1u
long stack_tcp_send_flags(struct stack_tcp *c, const void *buf, size_t len,
			  unsigned flags);

/* Copies up to len received bytes out (peek: leaves them): the count, 0 at
 * EOF, -EAGAIN when empty, or the connection's error. */
long stack_tcp_recv(struct stack_tcp *c, void *buf, size_t len, int peek);

/* how: 0 read, 1 write (sends FIN), 2 both (as shutdown(2)). */
int stack_tcp_shutdown(struct stack_tcp *c, int how);

/* Releases the handle. A graceful close (FIN after queued data) unless data
 * was left unread or LINGER0 is set: then RST (RFC 9293 3.10.4, as Linux).
 * The connection may live on in the stack (FIN_WAIT, TIME_WAIT). */
void stack_tcp_close(struct stack_tcp *c);

/* Resets the connection at once and releases the handle. */
void stack_tcp_abort(struct stack_tcp *c);

unsigned stack_tcp_events(const struct stack_tcp *c);
/* Takes and clears the pending error (0 if none), as SO_ERROR. */
int stack_tcp_error(struct stack_tcp *c);
int stack_tcp_setopt(struct stack_tcp *c, enum stack_tcp_opt opt, int val);
int stack_tcp_getopt(const struct stack_tcp *c, enum stack_tcp_opt opt);
/* Bytes waiting to be read (FIONREAD) and not yet acknowledged (SIOCOUTQ). */
size_t stack_tcp_readable(const struct stack_tcp *c);
size_t stack_tcp_unacked(const struct stack_tcp *c);
void stack_tcp_endpoints(const struct stack_tcp *c, uint32_t *lip,
			 uint16_t *lport, uint32_t *rip, uint16_t *rport);
/* What `ss -tni` shows of a connection (accel-stat --sockets): bytes are
 * counted on the sequence space, so modulo 2^32. Read under the stack's
 * lock. */
struct stack_tcp_info {
	const char *state;
	uint32_t lip, rip;      /* host order */
	uint16_t lport, rport;
	uint32_t recv_q, send_q; /* unread, and not yet acknowledged */
	uint32_t bytes_received, bytes_acked;
	uint32_t cwnd, mss, retransmits;
	uint64_t srtt_ns, rttvar_ns;
};
void stack_tcp_info(const struct stack_tcp *c, struct stack_tcp_info *out);
/* RFC 9293 state name ("ESTABLISHED", ...), for tests and diagnostics. */
const char *stack_tcp_state(const struct stack_tcp *c);

#endif
