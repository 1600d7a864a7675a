/*
 * tcp_isn.h - initial sequence numbers (RFC 6528).
 *
 * ISN = M + F(local ip, local port, remote ip, remote port, key), where M
 * is a clock ticking every 4 microseconds (RFC 9293 3.4.1) and F is
 * SipHash-2-4 under a secret key. The key must be the same for every stack
 * of a process: a connection's 4-tuple may land on any thread, and the ISN
 * of a reused tuple must keep rising, which TIME_WAIT reuse relies on
 * (RFC 6191).
 */
#ifndef ACCEL_STACK_TCP_ISN_H
#define ACCEL_STACK_TCP_ISN_H

#include <stddef.h>
#include <stdint.h>

#define TCP_ISN_KEY_LEN 16

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of len bytes under key. */
uint64_t tcp_siphash24(const uint8_t key[TCP_ISN_KEY_LEN], const void *data,
		       size_t len);

/* Addresses and ports in host byte order; now_ns on a monotonic clock. */
uint32_t tcp_isn(const uint8_t key[TCP_ISN_KEY_LEN], uint32_t laddr,
		 uint16_t lport, uint32_t raddr, uint16_t rport, uint64_t now_ns);

/* tcp_isn, and from the other half of the same keyed hash the start of
 * the connection's timestamp clock (RFC 7323 5.4: a random offset per
 * connection, as Linux draws it). Being a function of the key and the
 * 4-tuple, the offset is the same in every stack of the process, so a
 * connection moved to another thread keeps a clock the peer's PAWS check
 * accepts. */
void tcp_isn_ts(const uint8_t key[TCP_ISN_KEY_LEN], uint32_t laddr, uint16_t lport,
		uint32_t raddr, uint16_t rport, uint64_t now_ns, uint32_t *isn,
		uint32_t *ts_off);

#endif
