/*
 * capture.c - ACCEL_PCAP: the port's frames to a pcapng file. See capture.h.
 */
#define ALLOW_EXPERIMENTAL_API /* rte_pcapng is experimental in DPDK 22.11 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pcapng.h>

#include "../common/log.h"
#include "../common/real.h"
#include "capture.h"

/* Copies written per rte_pcapng_write_packets; the copies' pool holds
 * twice that, as only the mutex's holder takes from it. */
#define CAP_CHUNK 32
#define CAP_POOL (2 * CAP_CHUNK - 1)
/* The longest frame kept: past a jumbo frame, more than the port's
 * buffers hold (a copy's data room is 16 bits). */
#define CAP_FRAME_MAX 16384u

int cap_on;

static struct {
	pthread_mutex_t lock;
	rte_pcapng_t *file;
	struct rte_mempool *pool; /* the copies, each snaplen long at most */
	uint16_t port;
	uint32_t snaplen;
	uint64_t frames, lost;    /* written; not copied or not written */
	char path[256];           /* for the closing line */
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The wall clock in the form of an Enhanced Packet Block's timestamp
 * (pcapng, section 4.3: nanoseconds, as the interface blocks DPDK writes
 * say, if_tsresol 9). rte_pcapng's own conversion from the TSC is not
 * used: it sets its base inside the first copy, after that copy's
 * cycles were read, and a TSC read a little behind its base (an earlier
 * read, another CPU's TSC) throws it 2^64 cycles ahead, to the year 2251. */
static uint64_t cap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cap_stamp(struct rte_mbuf *c, uint64_t ns)
{
	uint32_t *epb = rte_pktmbuf_mtod(c, uint32_t *);

	/* (block type, length, interface, then the timestamp's two words) */
	epb[3] = (uint32_t)(ns >> 32);
	epb[4] = (uint32_t)ns;
}

int cap_open(const char *path, unsigned snaplen, uint16_t port,
	     int (*own_fd)(int fd), char *why, size_t whylen)
{
	int fd;

	if (!path || !*path)
		return 0;
	if (snaplen > CAP_FRAME_MAX)
		snaplen = CAP_FRAME_MAX;
	cap.pool = rte_pktmbuf_pool_create("accel_pcap", CAP_POOL, 0, 0,
					   (uint16_t)rte_pcapng_mbuf_size(snaplen),
					   (int)rte_socket_id());
	if (!cap.pool) {
		snprintf(why, whylen, "ACCEL_PCAP='%s': no memory for the capture's "
			 "buffers (%s): raise -m in ACCEL_DPDK_ARGS", path,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	fd = accel_real.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;

		snprintf(why, whylen, "ACCEL_PCAP='%s' cannot be written: %s", path,
			 strerror(e));
		rte_mempool_free(cap.pool);
		cap.pool = NULL;
		return -e;
	}
	if (own_fd)
		fd = own_fd(fd);
	/* (section header, then one interface block per port) */
	cap.file = rte_pcapng_fdopen(fd, NULL, NULL, "libaccel", NULL);
	if (!cap.file) {
		snprintf(why, whylen, "ACCEL_PCAP='%s': DPDK could not start the capture "
			 "file (%s)", path, rte_strerror(rte_errno));
		accel_real.close(fd);
		rte_mempool_free(cap.pool);
		cap.pool = NULL;
		return -EIO;
	}
	cap.port = port;
	cap.snaplen = snaplen;
	cap.frames = cap.lost = 0;
	snprintf(cap.path, sizeof(cap.path), "%s", path);
	__atomic_store_n(&cap_on, 1, __ATOMIC_RELEASE);
	ACCEL_INFO("capturing the port's frames to %s (pcapng, %u bytes each at most)",
		   path, snaplen);
	return 0;
}

/* Copies and writes n frames; the caller holds cap.lock. */
static void cap_write(uint16_t qid, struct rte_mbuf **m, unsigned n,
		      enum rte_pcapng_direction dir)
{
	struct rte_mbuf *copy[CAP_CHUNK];
	uint64_t now = cap_now_ns();

	while (n) {
		unsigned k = n < CAP_CHUNK ? n : CAP_CHUNK, got = 0;

		for (unsigned i = 0; i < k; i++) {
			copy[got] = rte_pcapng_copy(cap.port, qid, m[i], cap.pool,
						    cap.snaplen, rte_get_tsc_cycles(), dir);
			if (copy[got])
				cap_stamp(copy[got++], now);
		}
		cap.lost += k - got;
		if (got && rte_pcapng_write_packets(cap.file, copy, (uint16_t)got) < 0)
			cap.lost += got;
		else
			cap.frames += got;
		/* (22.11's write leaves the copies to the caller, whatever its
		 * header says: dpdk-dumpcap frees them too) */
		rte_pktmbuf_free_bulk(copy, got);
		m += k;
		n -= k;
	}
}

void cap_rx(uint16_t qid, struct rte_mbuf **m, unsigned n)
{
	if (!n)
		return;
	pthread_mutex_lock(&cap.lock);
	if (cap.file)
		cap_write(qid, m, n, RTE_PCAPNG_DIRECTION_IN);
	pthread_mutex_unlock(&cap.lock);
}

void cap_tx_hold(struct rte_mbuf **m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_refcnt_update(m[i], 1);
}

void cap_tx_done(uint16_t qid, struct rte_mbuf **m, unsigned n, unsigned sent)
{
	if (sent) {
		pthread_mutex_lock(&cap.lock);
		if (cap.file)
			cap_write(qid, m, sent, RTE_PCAPNG_DIRECTION_OUT);
		pthread_mutex_unlock(&cap.lock);
	}
	/* the sent ones are ours alone now; the rest go back to the caller
	 * as they came */
	for (unsigned i = 0; i < sent; i++)
		rte_pktmbuf_free(m[i]);
	for (unsigned i = sent; i < n; i++)
		rte_pktmbuf_refcnt_update(m[i], -1);
}

void cap_close(void)
{
	rte_pcapng_t *f;

	pthread_mutex_lock(&cap.lock);
	f = cap.file;
	cap.file = NULL;
	__atomic_store_n(&cap_on, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cap.lock);
	if (!f)
		return;
	rte_pcapng_close(f); /* (closes the descriptor) */
	if (cap.lost)
		ACCEL_WARN("%s: %llu frame(s) written, %llu could not be", cap.path,
			   (unsigned long long)cap.frames, (unsigned long long)cap.lost);
	else
		ACCEL_INFO("%s: %llu frame(s) written", cap.path,
			   (unsigned long long)cap.frames);
	rte_mempool_free(cap.pool);
	cap.pool = NULL;
}
