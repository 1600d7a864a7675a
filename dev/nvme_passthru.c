/*
 * nvme_passthru.c - the "passthru" transport: NVMe Read/Write/Flush
 * commands built here and sent through io_uring's IORING_OP_URING_CMD on
 * the namespace's generic char device /dev/ngXnY (NVME_URING_CMD_IO, rings
 * of 128-byte SQEs and 32-byte CQEs), for NVMe drives the kernel keeps.
 * The block layer's queueing, merging and bio splitting are skipped; the
 * kernel's nvme driver still owns the hardware queues. With poll queues
 * (the nvme module's poll_queues, seen as queue/io_poll = 1) the rings are
 * IOPOLL: completions are reaped by polling the driver's poll queue, no
 * interrupt. See nvme.h.
 *
 * Proof that /dev/ngXnY is the namespace under the file (else refused,
 * one line): the file's block device is a partition of, or is, the disk
 * nvmeXnY; the block node's st_rdev is st_dev; ngXnY's st_rdev is the one
 * sysfs gives for it; NVME_IOCTL_ID answers the same namespace ID on both
 * nodes; Identify Namespace through ngXnY gives the disk's size, logical
 * block size and the EUI64/NGUID that sysfs shows for the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/real.h"
#include "nvme.h"
#include "nvme_passthru.h"

extern const struct dev_nvme_transport_ops dev_nvme_passthru_ops;

struct pt_dev {
	struct dev_nvme_dev base;
	int fd;                    /* /dev/ngXnY */
	struct dev_nvme_conf conf;
	struct dev_nvme_pt_ns ns;
	int iopoll;
	int status_logged;
};

/* A command in flight: user_data is its slot's index. */
struct pt_slot {
	uint64_t tag;
	uint32_t len;
	int next_free;
};

struct dev_nvme_qpair {
	struct io_uring ring;
	struct pt_dev *dev;
	unsigned depth;
	int free;                  /* first free slot, -1 none */
	struct pt_slot *slots;
	struct dev_nvme_cpl *done; /* completed at submission (flush, IOPOLL) */
	unsigned ndone;
};

int dev_nvme_pt_build(struct nvme_uring_cmd *c, uint8_t opcode,
		      const struct dev_nvme_pt_ns *ns, const void *buf, uint32_t len,
		      uint64_t off)
{
	uint64_t lba = 1ull << ns->lba_shift, slba, nlb;

	memset(c, 0, sizeof(*c));
	c->opcode = opcode;
	c->nsid = ns->nsid;
	if (opcode == DEV_NVME_OPC_FLUSH)
		return len || buf ? -EINVAL : 0;
	if (opcode != DEV_NVME_OPC_READ && opcode != DEV_NVME_OPC_WRITE)
		return -EINVAL;
	if (!len || ((off | len) & (lba - 1)) || off > ns->bytes || len > ns->bytes - off)
		return -EINVAL;
	if (ns->max_cmd && len > ns->max_cmd)
		return -EINVAL;
	nlb = len >> ns->lba_shift;
	/* NVMe Base 2.0 §3.3.3 (Read/Write): SLBA in CDW10-11, the number of
	 * logical blocks in CDW12 bits 15:0, 0's based: 65,536 at most. */
	if (nlb > 65536)
		return -EINVAL;
	slba = (ns->part_start + off) >> ns->lba_shift;
	c->addr = (uint64_t)(uintptr_t)buf;
	c->data_len = len;
	c->cdw10 = (uint32_t)slba;
	c->cdw11 = (uint32_t)(slba >> 32);
	c->cdw12 = (uint32_t)(nlb - 1);
	return 0;
}

int dev_nvme_pt_hex(const char *s, uint8_t *out, size_t n)
{
	size_t got = 0;
	int hi = -1;

	for (; *s && *s != '\n'; s++) {
		int v;

		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else if (*s == ' ' || *s == '-' || *s == ':')
			continue;
		else
			return -EINVAL;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (got == n)
			return -EINVAL;
		out[got++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return got == n && hi < 0 ? 0 : -EINVAL;
}

int dev_nvme_pt_identify(const uint8_t *id, struct dev_nvme_pt_idns *out)
{
	/* NVM Command Set §4.1.5.1 (Identify Namespace): NSZE bytes 7:0,
	 * FLBAS byte 26 (format index bits 3:0, bits 6:5 the high bits past
	 * 16 formats), NLBAF byte 25, NGUID 119:104, EUI64 127:120, LBA
	 * formats from byte 128, four bytes each, LBADS bits 23:16. */
	unsigned fmt = (id[26] & 0x0f) | ((id[26] >> 5 & 0x3) << 4);
	uint32_t lbaf;

	if (fmt > id[25])
		return -EINVAL;
	memcpy(&out->nsze, id, 8);
	memcpy(&lbaf, id + 128 + 4 * fmt, 4);
	out->lba_shift = lbaf >> 16 & 0xff;
	if (out->lba_shift < 9 || out->lba_shift > 16)
		return -EINVAL;
	memcpy(out->nguid, id + 104, 16);
	memcpy(out->eui64, id + 120, 8);
	return 0;
}

/* ---- sysfs ------------------------------------------------------------ */

static int read_u64(const char *path, uint64_t *v)
{
	char buf[32];
	int rc = dev_nvme_sysfs_read(path, buf, sizeof(buf));

	if (rc == 0)
		*v = strtoull(buf, NULL, 10);
	return rc;
}

/* The disk under st_dev (itself, or a partition's parent) when it is an
 * NVMe namespace nvmeXnY: 0 with X and Y, else -ENODEV. */
static int ns_disk(dev_t dev, unsigned *x, unsigned *y, char *disk, size_t len)
{
	char path[96], real[256], *slash;
	struct stat st;
	char tail;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (!realpath(path, real))
		return -ENODEV;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/partition", major(dev),
		 minor(dev));
	if (stat(path, &st) == 0 && (slash = strrchr(real, '/')))
		*slash = '\0'; /* a partition: its disk is the directory above */
	slash = strrchr(real, '/');
	if (!slash || sscanf(slash + 1, "nvme%un%u%c", x, y, &tail) != 2)
		return -ENODEV;
	snprintf(disk, len, "%s", slash + 1);
	return 0;
}

/* The sysfs identifiers of the disk (eui, nguid: shown only when not
 * zero) must be what Identify Namespace says. */
static int ids_match(const char *disk, const struct dev_nvme_pt_idns *id, char *why,
		     size_t whylen)
{
	static const uint8_t zero[16];
	char path[96], buf[96];
	uint8_t v[16];

	snprintf(path, sizeof(path), "/sys/block/%s/eui", disk);
	if (dev_nvme_sysfs_read(path, buf, sizeof(buf)) == 0 &&
	    (dev_nvme_pt_hex(buf, v, 8) < 0 || memcmp(v, id->eui64, 8))) {
		snprintf(why, whylen, "%s: EUI64 %s in sysfs is not the namespace's", disk, buf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/nguid", disk);
	if (dev_nvme_sysfs_read(path, buf, sizeof(buf)) == 0 && memcmp(id->nguid, zero, 16) &&
	    (dev_nvme_pt_hex(buf, v, 16) < 0 || memcmp(v, id->nguid, 16))) {
		snprintf(why, whylen, "%s: NGUID %s in sysfs is not the namespace's", disk, buf);
		return -ENODEV;
	}
	return 0;
}

/* ---- open: the proof -------------------------------------------------- */

static int identify(int fd, uint32_t nsid, struct dev_nvme_pt_idns *out)
{
	struct nvme_admin_cmd cmd = { 0 };
	uint8_t *buf;
	int rc;

	if (posix_memalign((void **)&buf, 4096, 4096))
		return -ENOMEM;
	memset(buf, 0, 4096);
	cmd.opcode = DEV_NVME_OPC_IDENTIFY;
	cmd.nsid = nsid;
	cmd.addr = (uint64_t)(uintptr_t)buf;
	cmd.data_len = 4096;
	cmd.cdw10 = 0; /* CNS 00h: Identify Namespace */
	rc = accel_real.ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
	if (rc > 0)
		rc = -EIO; /* an NVMe status */
	else if (rc < 0)
		rc = -errno;
	else
		rc = dev_nvme_pt_identify(buf, out);
	free(buf);
	return rc;
}

/* The block node (the partition or disk st_dev names): it is st_dev, and
 * its namespace ID and size. */
static int block_side(struct pt_dev *d, dev_t dev, uint32_t *nsid, uint64_t *bytes,
		      char *why, size_t whylen)
{
	const char *node = d->base.info.node;
	struct stat st;
	int fd = accel_real.open(node, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: cannot open: %s", node, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != dev) {
		snprintf(why, whylen, "%s is not the device %u:%u the file is on", node,
			 major(dev), minor(dev));
		rc = -ENODEV;
	} else if (accel_real.ioctl(fd, BLKGETSIZE64, bytes) < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: BLKGETSIZE64: %s", node, strerror(-rc));
	} else if ((rc = accel_real.ioctl(fd, NVME_IOCTL_ID)) <= 0) {
		rc = rc < 0 ? -errno : -ENODEV;
		snprintf(why, whylen, "%s: NVME_IOCTL_ID: %s", node, strerror(-rc));
	} else {
		*nsid = (uint32_t)rc;
		rc = 0;
	}
	accel_real.close(fd);
	return rc;
}

/* /dev/ngXnY, checked to be the char device sysfs names ngXnY. */
static int char_side(struct pt_dev *d, unsigned x, unsigned y, char *why, size_t whylen)
{
	char node[32], path[96], buf[32];
	unsigned maj, min;
	struct stat st;
	int rc;

	snprintf(node, sizeof(node), "/dev/ng%un%u", x, y);
	snprintf(path, sizeof(path), "/sys/class/nvme-generic/ng%un%u/dev", x, y);
	if (dev_nvme_sysfs_read(path, buf, sizeof(buf)) < 0 || sscanf(buf, "%u:%u", &maj, &min) != 2) {
		snprintf(why, whylen, "nvme%un%u has no generic char device ng%un%u "
			 "(kernel before 5.13?)", x, y, x, y);
		return -EMEDIUMTYPE;
	}
	d->fd = accel_real.open(node, O_RDWR | O_CLOEXEC);
	if (d->fd >= 0 && d->conf.own_fd)
		d->fd = d->conf.own_fd(d->fd);
	if (d->fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s: cannot open: %s", node, strerror(-rc));
		return rc;
	}
	if (fstat(d->fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != makedev(maj, min)) {
		snprintf(why, whylen, "%s is not the char device %u:%u sysfs names", node,
			 maj, min);
		return -ENODEV;
	}
	snprintf(d->base.info.node, sizeof(d->base.info.node), "%s", node);
	return 0;
}

static int pt_prove(struct pt_dev *d, dev_t dev, char *why, size_t whylen)
{
	struct dev_nvme_info *info = &d->base.info;
	struct dev_nvme_pt_idns id;
	char disk[32], path[96];
	uint64_t bytes = 0, v = 0;
	uint32_t nsid = 0;
	unsigned x, y;
	int rc;

	if (ns_disk(dev, &x, &y, disk, sizeof(disk)) < 0) {
		snprintf(why, whylen, "device %u:%u is not on an NVMe namespace", major(dev),
			 minor(dev));
		return -EMEDIUMTYPE;
	}
	if ((rc = dev_nvme_sysfs(dev, info, why, whylen)) < 0)
		return rc;
	if ((rc = block_side(d, dev, &nsid, &bytes, why, whylen)) < 0)
		return rc;
	if ((rc = char_side(d, x, y, why, whylen)) < 0)
		return rc;
	if ((rc = accel_real.ioctl(d->fd, NVME_IOCTL_ID)) != (int)nsid) {
		snprintf(why, whylen, "%s answers namespace %d, %s namespace %u", info->node,
			 rc, disk, nsid);
		return -ENODEV;
	}
	if ((rc = identify(d->fd, nsid, &id)) < 0) {
		snprintf(why, whylen, "%s: Identify Namespace %u: %s", info->node, nsid,
			 strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/size", disk);
	if (read_u64(path, &v) < 0 || v * 512 != id.nsze << id.lba_shift ||
	    1u << id.lba_shift != info->lba_size) {
		snprintf(why, whylen, "%s: namespace %u is %llu blocks of %u bytes, "
			 "%s is %llu bytes of %u-byte blocks", info->node, nsid,
			 (unsigned long long)id.nsze, 1u << id.lba_shift, disk,
			 (unsigned long long)v * 512, info->lba_size);
		return -ENODEV;
	}
	if ((rc = ids_match(disk, &id, why, whylen)) < 0)
		return rc;
	info->bytes = bytes;
	/* the largest command the driver takes (max_hw_sectors, MDTS) */
	snprintf(path, sizeof(path), "/sys/block/%s/queue/max_hw_sectors_kb", disk);
	if (read_u64(path, &v) < 0 || !v)
		v = 128;
	info->max_cmd = (uint32_t)(v * 1024 < (1u << 30) ? v * 1024 : 1u << 30) &
			~(info->lba_size - 1);
	if (!info->max_cmd)
		info->max_cmd = info->lba_size;
	info->nvme_cmds = 1;
	snprintf(path, sizeof(path), "/sys/block/%s/queue/io_poll", disk);
	d->iopoll = read_u64(path, &v) == 0 && v == 1;
	d->ns.nsid = nsid;
	d->ns.lba_shift = id.lba_shift;
	d->ns.part_start = info->part_start;
	d->ns.bytes = bytes;
	d->ns.max_cmd = info->max_cmd;
	return 0;
}

static int pt_open(dev_t dev, const struct dev_nvme_conf *conf,
		   struct dev_nvme_dev **out, char *why, size_t whylen)
{
	struct pt_dev *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->base.ops = &dev_nvme_passthru_ops;
	d->conf = *conf;
	d->fd = -1;
	if ((rc = pt_prove(d, dev, why, whylen)) < 0) {
		if (d->fd >= 0)
			accel_real.close(d->fd);
		free(d);
		return rc;
	}
	ACCEL_INFO("storage: %u:%u through %s, namespace %u, %u-byte blocks%s",
		   major(dev), minor(dev), d->base.info.node, d->ns.nsid,
		   d->base.info.lba_size, d->iopoll ? ", polled (IOPOLL)" : "");
	*out = &d->base;
	return 0;
}

static void pt_close(struct dev_nvme_dev *base)
{
	struct pt_dev *d = (struct pt_dev *)base;

	accel_real.close(d->fd);
	free(d);
}

/* ---- queue pairs ------------------------------------------------------ */

static int pt_qpair_create(struct dev_nvme_dev *base, struct dev_nvme_qpair **out)
{
	struct pt_dev *d = (struct pt_dev *)base;
	struct dev_nvme_qpair *q = calloc(1, sizeof(*q));
	struct io_uring_params p = { 0 };
	int rc;

	if (!q)
		return -ENOMEM;
	q->depth = d->conf.depth ? d->conf.depth : 64;
	q->slots = calloc(q->depth, sizeof(*q->slots));
	q->done = calloc(q->depth, sizeof(*q->done));
	if (!q->slots || !q->done) {
		free(q->slots);
		free(q->done);
		free(q);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < q->depth; i++)
		q->slots[i].next_free = i + 1 < q->depth ? (int)i + 1 : -1;
	q->free = 0;
	/* SQE128: the NVMe command rides in the SQE; CQE32: the command's
	 * result dwords in the CQE. IOPOLL only where the driver has poll
	 * queues: elsewhere the kernel refuses polled passthrough. */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	if (d->iopoll)
		p.flags |= IORING_SETUP_IOPOLL;
	if (d->conf.poll) {
		p.flags |= IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 1000;
	}
	if ((rc = io_uring_queue_init_params(q->depth, &q->ring, &p)) < 0) {
		free(q->slots);
		free(q->done);
		free(q);
		return rc;
	}
	if (d->conf.own_fd)
		q->ring.ring_fd = q->ring.enter_ring_fd = d->conf.own_fd(q->ring.ring_fd);
	q->dev = d;
	*out = q;
	return 0;
}

static void pt_qpair_destroy(struct dev_nvme_qpair *q)
{
	io_uring_queue_exit(&q->ring);
	free(q->slots);
	free(q->done);
	free(q);
}

static int pt_submit(struct dev_nvme_qpair *q, uint8_t opcode, const void *buf,
		     uint32_t len, uint64_t off, uint64_t tag)
{
	struct nvme_uring_cmd cmd;
	struct io_uring_sqe *sqe;
	int rc, slot = q->free;

	if ((rc = dev_nvme_pt_build(&cmd, opcode, &q->dev->ns, buf, len, off)) < 0)
		return rc;
	if (slot < 0 || !(sqe = io_uring_get_sqe(&q->ring)))
		return -EBUSY;
	q->free = q->slots[slot].next_free;
	q->slots[slot].tag = tag;
	q->slots[slot].len = len;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = q->dev->fd;
	sqe->cmd_op = NVME_URING_CMD_IO;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
	io_uring_sqe_set_data64(sqe, (uint64_t)slot);
	return 0;
}

static int pt_read(struct dev_nvme_qpair *q, void *buf, uint32_t len, uint64_t off,
		   uint64_t tag)
{
	return pt_submit(q, DEV_NVME_OPC_READ, buf, len, off, tag);
}

static int pt_write(struct dev_nvme_qpair *q, const void *buf, uint32_t len,
		    uint64_t off, uint64_t tag)
{
	return pt_submit(q, DEV_NVME_OPC_WRITE, buf, len, off, tag);
}

/* NVMe status (> 0) is EIO, as the block layer makes it. */
static int32_t pt_status(struct pt_dev *d, int status)
{
	if (status <= 0)
		return status;
	if (!d->status_logged++)
		ACCEL_WARN("storage: %s: NVMe status 0x%x (sct %u sc 0x%x): EIO",
			   d->base.info.node, (unsigned)status, (unsigned)status >> 8 & 7,
			   (unsigned)status & 0xff);
	return -EIO;
}

/*
 * On an IOPOLL ring the kernel reaps a passthrough command by polling its
 * bio (Linux 6.1's nvme_ns_chr_uring_cmd_iopoll), and a Flush has none: it
 * would never complete (measured in the test guest). So there the Flush
 * is the synchronous NVME_IOCTL_IO_CMD, on an interrupt queue, and its
 * completion waits in q->done for the next poll. It covers every command
 * completed before it (nvme.h), which is all the storage layer asks:
 * it flushes only with nothing else in flight.
 */
static int pt_flush(struct dev_nvme_qpair *q, uint64_t tag)
{
	struct nvme_passthru_cmd cmd = { 0 };
	int rc;

	if (!q->dev->iopoll)
		return pt_submit(q, DEV_NVME_OPC_FLUSH, NULL, 0, 0, tag);
	if (q->ndone == q->depth)
		return -EBUSY;
	cmd.opcode = DEV_NVME_OPC_FLUSH;
	cmd.nsid = q->dev->ns.nsid;
	rc = accel_real.ioctl(q->dev->fd, NVME_IOCTL_IO_CMD, &cmd);
	q->done[q->ndone].tag = tag;
	q->done[q->ndone++].res = rc < 0 ? -errno : pt_status(q->dev, rc);
	return 0;
}

/* cqe->res: a negative errno from the kernel (a bad buffer, no memory),
 * 0, or the NVMe status field (> 0), which the block layer would have
 * turned into EIO: so it is here, logged once per device. */
static void pt_complete(struct dev_nvme_qpair *q, const struct io_uring_cqe *cqe,
			struct dev_nvme_cpl *cpl)
{
	uint64_t slot = io_uring_cqe_get_data64(cqe);
	struct pt_slot *s = &q->slots[slot < q->depth ? slot : 0];

	cpl->tag = s->tag;
	if (cqe->res == 0) {
		cpl->res = (int32_t)s->len;
	} else {
		cpl->res = pt_status(q->dev, cqe->res);
	}
	s->next_free = q->free;
	q->free = (int)(s - q->slots);
}

static int pt_poll(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		   unsigned wait)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0, head;
	int rc;

	while (q->ndone && n < max)
		cpl[n++] = q->done[--q->ndone];
	if (n >= wait && !io_uring_sq_ready(&q->ring))
		return (int)n;
	do {
		rc = io_uring_submit_and_wait(&q->ring, wait > n ? 1 : 0);
	} while (rc == -EINTR);
	if (rc < 0 && rc != -EBUSY && rc != -EAGAIN)
		return rc;
	for (;;) {
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			if (n == max)
				break;
			pt_complete(q, cqe, &cpl[n++]);
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

const struct dev_nvme_transport_ops dev_nvme_passthru_ops = {
	.name = "passthru",
	.open = pt_open,
	.close = pt_close,
	.qpair_create = pt_qpair_create,
	.qpair_destroy = pt_qpair_destroy,
	.submit_read = pt_read,
	.submit_write = pt_write,
	.submit_flush = pt_flush,
	.poll = pt_poll,
};
