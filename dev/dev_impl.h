/*
 * dev_impl.h - the network device table: what one kind of device (DPDK's
 * port, the in-memory device of the tests) gives dev.c, which forwards
 * dev.h's calls to the device that was opened. Only dev/ includes this.
 *
 * Each entry has the contract of the dev.h call of the same name (open is
 * dev_net_open, rx is dev_netq_rx, ...). The packet and queue entries take
 * the stack's argument types (void *) so that netif.c can hand them to the
 * stacks as their own ops, with no second call in between on the data
 * path.
 */
#ifndef ACCEL_DEV_IMPL_H
#define ACCEL_DEV_IMPL_H

#include "dev.h"

struct dev_net_ops {
	const char *name;
	/* the port */
	int (*open)(const struct dev_net_conf *conf, char *why, size_t whylen);
	void (*close)(void);
	/* dev_net_group_exit, in a process that never opened it; NULL: none */
	void (*group_exit)(const char *eal_args);
	const struct dev_net_info *(*info)(void);
	int (*asym_fences)(void);
	int (*port_stats)(struct dev_port_stats *out);
	unsigned (*port_xstats)(struct dev_port_xstat *out, unsigned max);
	int (*thread_is_internal)(void);
	void (*thread_register)(void);
	void (*thread_unregister)(void);
	uint64_t (*now_ns)(void);
	/* queues: claim, bracket, receive and send, hand over, sleep */
	struct dev_netq *(*claim)(void);
	void (*release)(struct dev_netq *q);
	int (*enter)(struct dev_netq *q);
	void (*leave)(struct dev_netq *q);
	unsigned (*id)(const struct dev_netq *q);
	uint16_t (*rx)(void *q, void **pkts, uint16_t n);
	uint16_t (*tx)(void *q, void **pkts, uint16_t n);
	int (*push)(struct dev_netq *from, struct dev_netq *to, void *pkt);
	uint16_t (*rx_pushed)(struct dev_netq *q, void **pkts, uint16_t n);
	int (*wake_fd)(struct dev_netq *q);
	void (*wake_arm)(struct dev_netq *q);
	void (*wake_ack)(struct dev_netq *q);
	uint64_t (*next_due)(const struct dev_netq *q);
	/* the processes sharing the port (dev.h, dev_net_share_*); NULL:
	 * the port is this process's alone */
	int (*share_fd)(void);
	void (*share_own)(uint16_t port, int on);
	int (*share_conn)(uint32_t rip, uint16_t rport, uint16_t lport, int on);
	int (*share_taken)(uint16_t port);
	int (*share_forward)(void *pkt, uint16_t lport, uint32_t rip, uint16_t rport, int sure);
	void (*share_counts)(uint64_t *out, uint64_t *in);
	/* packets */
	void *(*pkt_alloc)(void *q);
	void (*pkt_free)(void *pkt);
	void *(*pkt_copy)(void *pkt);
	uint8_t *(*pkt_data)(void *pkt);
	uint16_t (*pkt_len)(void *pkt);
	void (*pkt_set_len)(void *pkt, uint16_t len);
	uint16_t (*pkt_room)(void *pkt);
	uint32_t (*pkt_rx_flags)(void *pkt);                    /* DEV_RX_* */
	void (*pkt_tx_csum)(void *pkt, uint16_t l2_len, uint16_t l3_len,
			    unsigned flags);                       /* DEV_CSUM_* */
};

/* The device that is open (dev.c), or NULL: for netif.c. */
const struct dev_net_ops *dev_net_cur(void);
/* Queue id if it is claimed (dev_netq_claim), else NULL: any thread. */
struct dev_netq *dev_netq_at(unsigned id);

#endif
