/*
 * nvme_uring.c - the "uring" transport: one io_uring per queue pair on
 * the block device node, opened O_DIRECT so nothing goes through the
 * device's page cache. See nvme.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/real.h"
#include "nvme.h"

extern const struct dev_nvme_transport_ops dev_nvme_uring_ops;

struct uring_dev {
	struct dev_nvme_dev base;
	int fd;
	struct dev_nvme_conf conf;
};

struct dev_nvme_qpair {
	struct io_uring ring;
	struct uring_dev *dev;
	unsigned queued;     /* prepared, not yet sent */
};

static int uring_open(dev_t dev, const struct dev_nvme_conf *conf,
		      struct dev_nvme_dev **out, char *why, size_t whylen)
{
	struct uring_dev *d = calloc(1, sizeof(*d));
	struct stat st;
	uint64_t bytes;
	int rc;

	if (!d)
		return -ENOMEM;
	d->base.ops = &dev_nvme_uring_ops;
	d->conf = *conf;
	if ((rc = dev_nvme_sysfs(dev, &d->base.info, why, whylen)) < 0)
		goto fail;
	d->fd = accel_real.open(d->base.info.node, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (d->fd >= 0 && conf->own_fd)
		d->fd = conf->own_fd(d->fd);
	if (d->fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: cannot open O_DIRECT: %s", d->base.info.node,
			 strerror(-rc));
		goto fail;
	}
	/* The proof: the node we opened is the device the file system is on
	 * (a stale or renamed /dev entry would fail here). */
	if (fstat(d->fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != dev) {
		snprintf(why, whylen, "%s is not the device %u:%u the file is on",
			 d->base.info.node, major(dev), minor(dev));
		rc = -ENODEV;
		goto fail_fd;
	}
	if (accel_real.ioctl(d->fd, BLKGETSIZE64, &bytes) < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: BLKGETSIZE64: %s", d->base.info.node,
			 strerror(-rc));
		goto fail_fd;
	}
	d->base.info.bytes = bytes;
	*out = &d->base;
	return 0;
fail_fd:
	accel_real.close(d->fd);
fail:
	free(d);
	return rc;
}

static void uring_close(struct dev_nvme_dev *base)
{
	struct uring_dev *d = (struct uring_dev *)base;

	accel_real.close(d->fd);
	free(d);
}

static int uring_qpair_create(struct dev_nvme_dev *base, struct dev_nvme_qpair **out)
{
	struct uring_dev *d = (struct uring_dev *)base;
	struct dev_nvme_qpair *q = calloc(1, sizeof(*q));
	struct io_uring_params p = { 0 };
	int rc;

	if (!q)
		return -ENOMEM;
	/* SQPOLL costs a kernel thread per queue spinning on a core: only
	 * when asked (measured slower on 2 shared cores). */
	if (d->conf.poll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
	}
	/* No IORING_SETUP_SINGLE_ISSUER: a queue pair shared past
	 * ACCEL_STORAGE_QUEUES is entered by several threads (one at a time,
	 * under the caller's lock), which that flag refuses with EEXIST. */
	if ((rc = io_uring_queue_init_params(d->conf.depth, &q->ring, &p)) < 0) {
		free(q);
		return rc;
	}
	/* The ring's descriptor is the shim's, not a number the program's
	 * next open should have had: liburing enters and closes it by these
	 * two fields only (the rings are mapped already). */
	if (d->conf.own_fd)
		q->ring.ring_fd = q->ring.enter_ring_fd = d->conf.own_fd(q->ring.ring_fd);
	q->dev = d;
	*out = q;
	return 0;
}

static void uring_qpair_destroy(struct dev_nvme_qpair *q)
{
	io_uring_queue_exit(&q->ring);
	free(q);
}

static struct io_uring_sqe *sqe_get(struct dev_nvme_qpair *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (sqe)
		q->queued++;
	return sqe;
}

static int uring_read(struct dev_nvme_qpair *q, void *buf, uint32_t len, uint64_t off,
		      uint64_t tag)
{
	struct io_uring_sqe *sqe = sqe_get(q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, q->dev->fd, buf, len, off);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_write(struct dev_nvme_qpair *q, const void *buf, uint32_t len,
		       uint64_t off, uint64_t tag)
{
	struct io_uring_sqe *sqe = sqe_get(q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write(sqe, q->dev->fd, buf, len, off);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

/* fsync of a block device is a cache flush of the device (blkdev_fsync). */
static int uring_flush(struct dev_nvme_qpair *q, uint64_t tag)
{
	struct io_uring_sqe *sqe = sqe_get(q);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, q->dev->fd, 0);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_poll(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		      unsigned wait)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0, head;
	int rc;

	do {
		rc = io_uring_submit_and_wait(&q->ring, wait > n ? 1 : 0);
	} while (rc == -EINTR);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN)
		return rc;
	if (rc > 0)
		q->queued -= (unsigned)rc < q->queued ? (unsigned)rc : q->queued;
	for (;;) {
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			if (n == max)
				break;
			cpl[n].tag = io_uring_cqe_get_data64(cqe);
			cpl[n].res = cqe->res;
			n++;
			io_uring_cqe_seen(&q->ring, cqe);
		}
		if (n >= wait || n == max)
			return (int)n;
		do {
			rc = io_uring_wait_cqe(&q->ring, &cqe);
		} while (rc == -EINTR);
		if (rc < 0)
			return rc;
	}
}

const struct dev_nvme_transport_ops dev_nvme_uring_ops = {
	.name = "uring",
	.open = uring_open,
	.close = uring_close,
	.qpair_create = uring_qpair_create,
	.qpair_destroy = uring_qpair_destroy,
	.submit_read = uring_read,
	.submit_write = uring_write,
	.submit_flush = uring_flush,
	.poll = uring_poll,
};
