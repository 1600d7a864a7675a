/*
 * nvme.c - the transport table and what every transport shares: finding
 * the block device under a file system in sysfs. See nvme.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/real.h"
#include "nvme.h"

extern const struct dev_nvme_transport_ops dev_nvme_uring_ops;
extern const struct dev_nvme_transport_ops dev_nvme_passthru_ops;
extern const struct dev_nvme_transport_ops dev_nvme_vfio_ops;

static const struct dev_nvme_transport_ops *const transports[] = {
	&dev_nvme_uring_ops,
	&dev_nvme_passthru_ops,
	&dev_nvme_vfio_ops,
};

const struct dev_nvme_transport_ops *dev_nvme_transport(const char *name)
{
	for (size_t i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (strcmp(transports[i]->name, name) == 0)
			return transports[i];
	return NULL;
}

int dev_nvme_sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = accel_real.open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = accel_real.read(fd, buf, len - 1);
	accel_real.close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int sysfs_u64(const char *dir, const char *name, uint64_t *v)
{
	char path[160], buf[32];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((rc = dev_nvme_sysfs_read(path, buf, sizeof(buf))) < 0)
		return rc;
	*v = strtoull(buf, NULL, 10);
	return 0;
}

/* DEVNAME= from the device's uevent. */
static int sysfs_devname(const char *dir, char *name, size_t len)
{
	char path[160], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/uevent", dir);
	if ((fd = accel_real.open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = accel_real.read(fd, buf, sizeof(buf) - 1);
	accel_real.close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	if (!(p = strstr(buf, "DEVNAME=")))
		return -ENOENT;
	p += 8;
	snprintf(name, len, "%.*s", (int)strcspn(p, "\n"), p);
	return 0;
}

int dev_nvme_sysfs(dev_t dev, struct dev_nvme_info *info, char *why, size_t whylen)
{
	char dir[96], name[48];
	uint64_t v;

	memset(info, 0, sizeof(*info));
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (sysfs_devname(dir, name, sizeof(name)) < 0) {
		snprintf(why, whylen, "device %u:%u is not a block device in sysfs "
			 "(a network, virtual or multi-device file system)",
			 major(dev), minor(dev));
		return -ENODEV;
	}
	snprintf(info->node, sizeof(info->node), "/dev/%s", name);
	/* A partition has "start"; its queue is its disk's, one level up. */
	if (sysfs_u64(dir, "start", &v) == 0) {
		info->part_start = v * 512; /* sysfs counts 512-byte sectors always */
		strncat(dir, "/..", sizeof(dir) - strlen(dir) - 1);
	}
	if (sysfs_u64(dir, "queue/logical_block_size", &v) < 0 || !v || v > 65536 ||
	    (v & (v - 1))) {
		snprintf(why, whylen, "%s: no logical block size in sysfs", info->node);
		return -ENODEV;
	}
	info->lba_size = (uint32_t)v;
	return 0;
}
