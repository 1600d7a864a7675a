/*
 * nvme.h - block queue pairs behind a transport table, as SPDK's
 * spdk_nvme_transport_ops: one API (open a device, a queue pair per
 * thread, submit read/write/flush, poll completions, close) and a table
 * of functions per way of reaching the device.
 *
 * Transports: "uring" (an io_uring per queue pair on the block device
 * node, O_DIRECT; any Linux). "passthru" (NVMe commands built by the
 * shim, sent through IORING_OP_URING_CMD on the namespace's /dev/ngXnY;
 * nvme_passthru.c) for NVMe namespaces the kernel keeps.
 * "vfio" (nvme_vfio.h: a second controller of the namespace, bound to
 * vfio-pci, driven from user space with queue pairs of its own; conf.pci
 * names it).
 *
 * A device is named by the dev_t a file system reports as st_dev. The
 * transport proves it reaches that same device (the node it opened has
 * that st_rdev) or refuses with a reason; offsets are bytes from the
 * start of that device, the ones FIEMAP gives (fe_physical).
 *
 * Threads: dev_nvme_open/dev_nvme_close are called by one thread at a
 * time (the caller serialises); a device's info may then be read from any
 * thread. A queue pair belongs to the thread that created it: only that
 * thread submits, polls and destroys it. A queue pair holds no lock and
 * takes none; sharing one needs the caller's own lock.
 *
 * Errors: every function returns 0 (or a count) or a negative errno.
 * open returns -EMEDIUMTYPE for a device that is not of its transport's
 * kind (passthru: not an NVMe namespace with a /dev/ngXnY), so a caller
 * choosing a transport can try the next without a word.
 */
#ifndef ACCEL_DEV_NVME_H
#define ACCEL_DEV_NVME_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dev_nvme_conf {
	unsigned depth;  /* submission queue entries (rounded up by the kernel) */
	int poll;        /* 1 = a kernel thread polls the queue (SQPOLL) */
	/* moves a descriptor the transport keeps for itself out of the
	 * program's numbers (returns the new one, the old closed), or NULL */
	int (*own_fd)(int fd);
	unsigned queues;     /* queue pairs the caller may make (vfio asks for them) */
	const char *pci;     /* vfio: the controller's PCI address, e.g. 0000:00:05.0 */
	int unsafe_noiommu;  /* vfio: 1 = accept a group without an IOMMU */
};

struct dev_nvme_info {
	char node[64];        /* the node opened, e.g. /dev/loop3 */
	uint32_t lba_size;    /* logical block size: the I/O alignment */
	uint64_t bytes;       /* size of the device */
	uint64_t part_start;  /* where the device starts on its disk, bytes */
	unsigned max_qpairs;  /* the most the transport can make, 0 = no limit */
	uint32_t max_cmd;     /* the largest command, bytes; 0 = no limit of its own */
	int nvme_cmds;        /* 1: each command is an NVMe command the shim built */
};

struct dev_nvme_cpl {
	uint64_t tag;    /* what the submitter gave */
	int32_t res;     /* bytes done, or a negative errno */
};

struct dev_nvme_dev;
struct dev_nvme_qpair;

struct dev_nvme_transport_ops {
	const char *name;
	int (*open)(dev_t dev, const struct dev_nvme_conf *conf,
		    struct dev_nvme_dev **out, char *why, size_t whylen);
	void (*close)(struct dev_nvme_dev *d);
	int (*qpair_create)(struct dev_nvme_dev *d, struct dev_nvme_qpair **out);
	void (*qpair_destroy)(struct dev_nvme_qpair *q);
	int (*submit_read)(struct dev_nvme_qpair *q, void *buf, uint32_t len,
			   uint64_t off, uint64_t tag);
	int (*submit_write)(struct dev_nvme_qpair *q, const void *buf, uint32_t len,
			    uint64_t off, uint64_t tag);
	int (*submit_flush)(struct dev_nvme_qpair *q, uint64_t tag);
	int (*poll)(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		    unsigned wait);
	/* optional (NULL: none): see dev_nvme_event_fd */
	int (*event_fd)(struct dev_nvme_qpair *q);
};

/* What every transport's device starts with. */
struct dev_nvme_dev {
	const struct dev_nvme_transport_ops *ops;
	struct dev_nvme_info info;
};

/* The transport of that name, or NULL. */
const struct dev_nvme_transport_ops *dev_nvme_transport(const char *name);

/*
 * Opens the device st_dev names through transport t. Returns 0 with *out
 * set, or a negative errno with one line in why (the device is not a block
 * device, the node is not that device, O_DIRECT refused, ...).
 */
static inline int dev_nvme_open(const struct dev_nvme_transport_ops *t, dev_t dev,
				const struct dev_nvme_conf *conf,
				struct dev_nvme_dev **out, char *why, size_t whylen)
{
	return t->open(dev, conf, out, why, whylen);
}

static inline void dev_nvme_close(struct dev_nvme_dev *d)
{
	d->ops->close(d);
}

/* A queue pair for the calling thread. */
static inline int dev_nvme_qpair_create(struct dev_nvme_dev *d,
					struct dev_nvme_qpair **out)
{
	return d->ops->qpair_create(d, out);
}

/*
 * Queues a command; nothing reaches the device before dev_nvme_poll.
 * buf, len and off must be multiples of info.lba_size (O_DIRECT rules).
 * -EBUSY when the queue is full (poll first).
 */
static inline int dev_nvme_submit_read(struct dev_nvme_dev *d, struct dev_nvme_qpair *q,
				       void *buf, uint32_t len, uint64_t off, uint64_t tag)
{
	return d->ops->submit_read(q, buf, len, off, tag);
}

static inline int dev_nvme_submit_write(struct dev_nvme_dev *d, struct dev_nvme_qpair *q,
					const void *buf, uint32_t len, uint64_t off,
					uint64_t tag)
{
	return d->ops->submit_write(q, buf, len, off, tag);
}
/* Makes every write completed before it durable, whichever queue did it
 * (NVMe Base 2.0 §7.1 Flush: "applies to all commands ... completed by
 * the controller prior to the submission of the Flush command"; Linux's
 * block-device fsync is the same flush). */
static inline int dev_nvme_submit_flush(struct dev_nvme_dev *d, struct dev_nvme_qpair *q,
					uint64_t tag)
{
	return d->ops->submit_flush(q, tag);
}

/*
 * Sends what is queued and reaps up to max completions, waiting until at
 * least wait have arrived: the submitting thread polls (the transport
 * spins while its device answers faster than a sleep costs, then sleeps
 * in the kernel). Returns the number reaped.
 */
static inline int dev_nvme_poll(struct dev_nvme_dev *d, struct dev_nvme_qpair *q,
				struct dev_nvme_cpl *cpl, unsigned max, unsigned wait)
{
	return d->ops->poll(q, cpl, max, wait);
}

/*
 * A descriptor that becomes readable when q has a completion (an eventfd:
 * read it to re-arm), for a wait engine that sleeps on several sources
 * at once and then calls dev_nvme_poll(..., wait 0). The queue's owner
 * only; the descriptor lives as long as q. -EOPNOTSUPP when the
 * transport has none. (uring: the completion is posted by task work run
 * in the owner's thread, which may end its sleep with EINTR before the
 * descriptor is readable: retry, it is not the program's signal.)
 */
static inline int dev_nvme_event_fd(struct dev_nvme_dev *d, struct dev_nvme_qpair *q)
{
	return d->ops->event_fd ? d->ops->event_fd(q) : -EOPNOTSUPP;
}

static inline void dev_nvme_qpair_destroy(struct dev_nvme_dev *d,
					  struct dev_nvme_qpair *q)
{
	d->ops->qpair_destroy(q);
}

/*
 * The block device under st_dev, from sysfs: its node (/dev/NAME from
 * /sys/dev/block/MAJ:MIN/uevent), its start on the disk (.../start, in
 * 512-byte sectors) and its logical block size
 * (queue/logical_block_size, the whole disk's for a partition). Used by
 * every transport; exposed for tests.
 */
/* The first line of a small sysfs file, its newline cut: 0 or -errno. */
int dev_nvme_sysfs_read(const char *path, char *buf, size_t len);
int dev_nvme_sysfs(dev_t dev, struct dev_nvme_info *info, char *why, size_t whylen);

#endif
