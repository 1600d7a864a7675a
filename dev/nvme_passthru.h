/*
 * nvme_passthru.h - what the "passthru" transport (nvme_passthru.c)
 * computes without a device: the NVMe command for a read, write or flush,
 * the Identify Namespace fields it checks, sysfs's hex identifiers.
 * Exposed for the unit tests; the transport itself is reached through the
 * table in nvme.h.
 */
#ifndef ACCEL_DEV_NVME_PASSTHRU_H
#define ACCEL_DEV_NVME_PASSTHRU_H

#include <stddef.h>
#include <stdint.h>

/* NVM Command Set opcodes (NVMe NVM Command Set 1.0 §3), admin Identify */
#define DEV_NVME_OPC_FLUSH 0x00
#define DEV_NVME_OPC_WRITE 0x01
#define DEV_NVME_OPC_READ 0x02
#define DEV_NVME_OPC_IDENTIFY 0x06

/* The namespace as a queue pair addresses it. */
struct dev_nvme_pt_ns {
	uint32_t nsid;
	unsigned lba_shift;   /* log2 of the logical block size */
	uint64_t part_start;  /* bytes: offsets are from the partition's start */
	uint64_t bytes;       /* the partition's (or namespace's) size */
	uint32_t max_cmd;     /* the largest transfer, bytes; 0 = no limit */
};

/* What Identify Namespace says (CNS 00h). */
struct dev_nvme_pt_idns {
	uint64_t nsze;        /* blocks */
	unsigned lba_shift;   /* of the format in use */
	uint8_t nguid[16], eui64[8];
};

struct nvme_uring_cmd;

/*
 * Fills c for opcode (DEV_NVME_OPC_READ/WRITE: len bytes at byte off of
 * the partition, buf the data; FLUSH: buf NULL and len 0). -EINVAL when
 * off or len is not on block boundaries, len is 0, over max_cmd or 65,536
 * blocks, or the range leaves the partition.
 */
int dev_nvme_pt_build(struct nvme_uring_cmd *c, uint8_t opcode,
		      const struct dev_nvme_pt_ns *ns, const void *buf, uint32_t len,
		      uint64_t off);

/* The Identify Namespace data (4096 bytes) decoded; -EINVAL for a format
 * index past NLBAF or a block size outside 512 B-64 KiB. */
int dev_nvme_pt_identify(const uint8_t *id, struct dev_nvme_pt_idns *out);

/* n bytes from sysfs's hex text ("00 11 22", "0011-22", "00:11"); -EINVAL
 * for other characters or another number of bytes. */
int dev_nvme_pt_hex(const char *s, uint8_t *out, size_t n);

#endif
