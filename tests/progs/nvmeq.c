/*
 * nvmeq.c - the queue-pair API (dev/nvme.h) on a real device, without
 * the shim: nvmeq TRANSPORT FILE opens the device FILE is on, reads the
 * file's first block from it and compares it with the kernel's pread.
 * First through the completion eventfd (dev_nvme_event_fd: submitted,
 * the eventfd waited on with epoll, then reaped with wait 0, as a wait
 * engine would), then 200 times through dev_nvme_poll's own wait (spin,
 * then sleep), then a flush. Prints "ok ..." or what differed; exit 1.
 * FILE must have been written and synced (its first block on the device).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/real.h"
#include "../../dev/nvme.h"

#define BLK 4096

static int eintr;  /* epoll_waits the completion's task work interrupted */

static int die(const char *what, int rc)
{
	printf("%s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

/* The device offset of the file's byte 0. */
static uint64_t first_physical(int fd)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent fe[1];
	} m;

	memset(&m, 0, sizeof(m));
	m.fm.fm_length = BLK;
	m.fm.fm_flags = FIEMAP_FLAG_SYNC;
	m.fm.fm_extent_count = 1;
	if (ioctl(fd, FS_IOC_FIEMAP, &m) < 0)
		die("FIEMAP", errno);
	if (m.fm.fm_mapped_extents != 1 || m.fe[0].fe_logical != 0 ||
	    (m.fe[0].fe_flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_UNKNOWN |
				 FIEMAP_EXTENT_DELALLOC)))
		die("FIEMAP: byte 0 not on a written extent", EINVAL);
	return m.fe[0].fe_physical;
}

static void check(const void *dev, const void *kern, const char *how)
{
	if (memcmp(dev, kern, BLK) != 0) {
		printf("%s: the device's block differs from the kernel's\n", how);
		exit(1);
	}
}

/* One read through the eventfd: submit, sleep in epoll, reap with wait 0. */
static void read_by_eventfd(struct dev_nvme_dev *d, struct dev_nvme_qpair *q, void *buf,
			    uint64_t phys, const void *kern)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct dev_nvme_cpl cpl;
	int efd = dev_nvme_event_fd(d, q), ep = epoll_create1(EPOLL_CLOEXEC), n = 0, rc;
	uint64_t count;

	if (efd < 0)
		die("dev_nvme_event_fd", efd);
	if (dev_nvme_event_fd(d, q) != efd)
		die("dev_nvme_event_fd: a second descriptor for the same queue", EINVAL);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		die("epoll", errno);
	memset(buf, 0, BLK);
	if ((rc = dev_nvme_submit_read(d, q, buf, BLK, phys, 7)) < 0)
		die("submit_read", rc);
	if ((rc = dev_nvme_poll(d, q, &cpl, 1, 0)) < 0) /* sends it, waits for nothing */
		die("poll (wait 0)", rc);
	n = rc;
	if (!n) {
		/* The completion is posted by task work that io_uring runs in
		 * this thread (TWA_SIGNAL): it ends the sleep with EINTR first,
		 * and the eventfd is readable on the retry. A wait engine must
		 * retry it too, not hand the program a spurious EINTR. */
		do {
			rc = epoll_wait(ep, &ev, 1, 5000);
			eintr += rc < 0 && errno == EINTR;
		} while (rc < 0 && errno == EINTR);
		if (rc != 1)
			die("epoll_wait: the eventfd never became readable", rc < 0 ? errno : ETIMEDOUT);
		if (read(efd, &count, sizeof(count)) != sizeof(count) || !count)
			die("read(eventfd)", errno);
		if ((rc = dev_nvme_poll(d, q, &cpl, 1, 0)) != 1)
			die("poll after the eventfd: no completion", rc < 0 ? rc : EINVAL);
	}
	if (cpl.tag != 7 || cpl.res != BLK)
		die("eventfd read: wrong completion", cpl.res < 0 ? cpl.res : EIO);
	check(buf, kern, "eventfd read");
	close(ep);
}

int main(int argc, char **argv)
{
	struct dev_nvme_conf conf = { .depth = 8 };
	const struct dev_nvme_transport_ops *t;
	struct dev_nvme_qpair *q;
	struct dev_nvme_dev *d;
	struct dev_nvme_cpl cpl;
	void *buf, *kern;
	char why[192] = "";
	struct stat st;
	uint64_t phys;
	int fd, rc;

	if (argc != 3) {
		fprintf(stderr, "usage: nvmeq TRANSPORT FILE\n");
		return 2;
	}
	accel_real_resolve();
	if (!(t = dev_nvme_transport(argv[1])))
		die("no such transport", ENOENT);
	if ((fd = open(argv[2], O_RDONLY)) < 0 || fstat(fd, &st) < 0)
		die(argv[2], errno);
	phys = first_physical(fd);
	if (posix_memalign(&buf, BLK, BLK) || !(kern = malloc(BLK)))
		die("memory", ENOMEM);
	if (pread(fd, kern, BLK, 0) != BLK)
		die("pread", errno);
	if ((rc = dev_nvme_open(t, st.st_dev, &conf, &d, why, sizeof(why))) < 0) {
		printf("open: %s\n", why);
		return 1;
	}
	if ((rc = dev_nvme_qpair_create(d, &q)) < 0)
		die("qpair_create", rc);
	read_by_eventfd(d, q, buf, phys, kern);
	for (int i = 0; i < 200; i++) {
		memset(buf, 0, BLK);
		if ((rc = dev_nvme_submit_read(d, q, buf, BLK, phys, (uint64_t)i)) < 0 ||
		    (rc = dev_nvme_poll(d, q, &cpl, 1, 1)) != 1)
			die("read and wait", rc < 0 ? rc : EIO);
		if (cpl.tag != (uint64_t)i || cpl.res != BLK)
			die("read and wait: wrong completion", cpl.res < 0 ? cpl.res : EIO);
		check(buf, kern, "read and wait");
	}
	if ((rc = dev_nvme_submit_flush(d, q, 9)) < 0 ||
	    (rc = dev_nvme_poll(d, q, &cpl, 1, 1)) != 1 || cpl.tag != 9 || cpl.res != 0)
		die("flush", rc < 0 ? rc : cpl.res ? cpl.res : EIO);
	printf("ok: %s on %s, 1 read through the eventfd (%d EINTR), 200 waited, 1 flush\n",
	       argv[1], d->info.node, eintr);
	dev_nvme_qpair_destroy(d, q);
	dev_nvme_close(d);
	return 0;
}
