/*
 * capture.h - the port's frames, both ways, written to a pcapng file
 * (ACCEL_PCAP) with DPDK's rte_pcapng, for tshark and Wireshark.
 *
 * Frames are taken where they cross the port: what rte_eth_rx_burst
 * returned, and what rte_eth_tx_burst accepted, on every queue; so the
 * file holds as many frames as the port's counters say it moved. Each
 * burst is copied and written at once (no buffer is left behind when the
 * process dies), under one mutex, taken only while capture is on: the
 * data path without capture pays one predictable branch on cap_on.
 */
#ifndef ACCEL_DEV_CAPTURE_H
#define ACCEL_DEV_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;

/* Non-zero while a capture file is open (read without a lock: it is set
 * before the port's queues are handed out, cleared after they stop). */
extern int cap_on;

/*
 * Opens path for port (created or truncated, 0644) and writes the
 * section and interface headers; frames are cut to snaplen bytes.
 * own_fd as in dev_net_conf. Returns 0, or a negative errno with one line
 * in why naming ACCEL_PCAP. Call after the port started, before traffic.
 */
int cap_open(const char *path, unsigned snaplen, uint16_t port,
	     int (*own_fd)(int fd), char *why, size_t whylen);

/* Writes the n frames queue qid just received. Thread-safe. */
void cap_rx(uint16_t qid, struct rte_mbuf **m, unsigned n);

/* Before rte_eth_tx_burst of m[0..n): keeps each frame alive past the
 * PMD's free. After it, cap_tx_done writes the sent ones (m[0..sent))
 * and gives the references back. Thread-safe. */
void cap_tx_hold(struct rte_mbuf **m, unsigned n);
void cap_tx_done(uint16_t qid, struct rte_mbuf **m, unsigned n, unsigned sent);

/* Closes the file (after the queues stopped); says how many frames, if
 * any, could not be written. */
void cap_close(void);

#endif
