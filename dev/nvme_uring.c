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
#include <sys/eventfd.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../common/real.h"
#include "nvme.h"

extern const struct dev_nvme_transport_ops dev_nvme_uring_ops;

struct uring_dev {
	struct dev_nvme_dev base;
	int fd;
	struct dev_nvme_conf conf;
};

/*
 * Waiting for a completion: spin on the completion ring while the device
 * has lately answered within URING_SPIN_NS, else sleep in io_uring_enter
 * (GETEVENTS, in the same call that submits). A spin costs the CPU for
 * as long as the device takes; a sleep costs a context switch and a
 * wake-up, about what a whole read costs here with it (9-11 us of CPU a
 * 4 KiB read on a loop device over tmpfs, 16 us from submit to
 * completion). Spinning up to 20 us on that device was measured worse in
 * every run (13-45 us of CPU a read against 9-27, fio randread, one
 * job, on the loaded 2-core host): a loop device's completions need the
 * very cores a spinner holds. So the spin is only for a device that
 * answers in less than a sleep costs; the loop devices here never do and
 * sleep at once, as before. lat_ns is the queue's moving average (1/8
 * weight) from submit to the first completion, of spun and slept waits
 * alike: a slept sample is high by the wake-up only, so a device that
 * becomes fast is spun on again.
 */
#define URING_SPIN_NS 5000u

struct dev_nvme_qpair {
	struct io_uring ring;
	struct uring_dev *dev;
	unsigned queued;     /* prepared, not yet sent */
	uint64_t lat_ns;     /* moving average of submit to completion */
	int efd;             /* eventfd registered for uring_event_fd, or -1 */
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
	q->efd = -1;
	*out = q;
	return 0;
}

static void uring_qpair_destroy(struct dev_nvme_qpair *q)
{
	io_uring_queue_exit(&q->ring);
	if (q->efd >= 0)
		accel_real.close(q->efd);
	free(q);
}

/* The seam for a wait engine (nvme.h): an eventfd the kernel signals on
 * every completion, made and registered on first ask only, because the
 * signal costs each completion a little more. */
static int uring_event_fd(struct dev_nvme_qpair *q)
{
	int fd, rc;

	if (q->efd >= 0)
		return q->efd;
	if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -errno;
	if (q->dev->conf.own_fd && (fd = q->dev->conf.own_fd(fd)) < 0)
		return -errno;
	if ((rc = io_uring_register_eventfd(&q->ring, fd)) < 0) {
		accel_real.close(fd);
		return rc;
	}
	q->efd = fd;
	return fd;
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lat_note(struct dev_nvme_qpair *q, uint64_t t0)
{
	uint64_t s = now_ns() - t0;

	q->lat_ns = q->lat_ns - q->lat_ns / 8 + s / 8;
}

/* Sends what is queued; with sleep, also waits for one completion. */
static int enter(struct dev_nvme_qpair *q, int sleep)
{
	int rc;

	do {
		rc = io_uring_submit_and_wait(&q->ring, sleep ? 1 : 0);
	} while (rc == -EINTR);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN && rc != -ETIME)
		return rc;
	if (rc > 0)
		q->queued -= (unsigned)rc < q->queued ? (unsigned)rc : q->queued;
	return 0;
}

/* Spins for a completion, up to twice what the device lately took (a
 * late one is not waited for long), at most URING_SPIN_NS. */
static int spin(struct dev_nvme_qpair *q, uint64_t t0)
{
	uint64_t limit = q->lat_ns * 2 < URING_SPIN_NS ? q->lat_ns * 2 : URING_SPIN_NS;

	if (limit < 1000)
		limit = 1000;
	do {
		for (int i = 0; i < 32; i++) {
			if (io_uring_cq_ready(&q->ring))
				return 1;
			__builtin_ia32_pause();
		}
	} while (now_ns() - t0 < limit);
	return 0;
}

static unsigned reap(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned n,
		     unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		if (n == max)
			break;
		cpl[n].tag = io_uring_cqe_get_data64(cqe);
		cpl[n].res = cqe->res;
		n++;
		seen++;
	}
	io_uring_cq_advance(&q->ring, seen);
	return n;
}

static int uring_poll(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		      unsigned wait)
{
	/* (SQPOLL: the kernel thread submits; a sleep is all that is left) */
	int fast = wait && q->lat_ns < URING_SPIN_NS && !q->dev->conf.poll;
	uint64_t t0 = wait ? now_ns() : 0;
	unsigned n;
	int rc;

	/* A queue lately slower than a spin sleeps at once, in the call that
	 * submits; a fast one submits, then spins, then sleeps. */
	if ((rc = enter(q, wait && !fast && !io_uring_cq_ready(&q->ring))) < 0)
		return rc;
	if (fast && !io_uring_cq_ready(&q->ring) && !spin(q, t0) &&
	    (rc = enter(q, 1)) < 0)
		return rc;
	if (wait && io_uring_cq_ready(&q->ring))
		lat_note(q, t0);
	n = reap(q, cpl, 0, max);
	while (n < wait && n < max) {
		struct io_uring_cqe *cqe;

		do {
			rc = io_uring_wait_cqe(&q->ring, &cqe);
		} while (rc == -EINTR);
		if (rc < 0)
			return n ? (int)n : rc;
		n = reap(q, cpl, n, max);
	}
	return (int)n;
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
	.event_fd = uring_event_fd,
};
