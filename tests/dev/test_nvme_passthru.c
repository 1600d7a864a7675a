/*
 * test_nvme_passthru.c - what the passthru transport computes without a
 * device: the NVMe Read/Write/Flush command for a byte range (SLBA in
 * CDW10-11, 0's based block count in CDW12, nsid, data pointer and
 * length, the partition's start added), the refusals (unaligned, empty,
 * past the partition, over the transfer limit or 65,536 blocks), the
 * Identify Namespace fields it proves the namespace with, and sysfs's hex
 * identifiers.
 */
#include <errno.h>
#include <linux/nvme_ioctl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../dev/nvme_passthru.h"

static char buf[8192];

static struct dev_nvme_pt_ns ns512(void)
{
	struct dev_nvme_pt_ns ns = { .nsid = 3, .lba_shift = 9, .part_start = 1 << 20,
				     .bytes = 1ull << 30, .max_cmd = 512 * 1024 };
	return ns;
}

static void read_512(void **state)
{
	struct dev_nvme_pt_ns ns = ns512();
	struct nvme_uring_cmd c;

	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 4096, 8192), 0);
	assert_int_equal(c.opcode, 0x02);
	assert_int_equal(c.nsid, 3);
	assert_int_equal(c.addr, (uint64_t)(uintptr_t)buf);
	assert_int_equal(c.data_len, 4096);
	/* (1 MiB + 8 KiB) / 512 */
	assert_int_equal(c.cdw10, 2064);
	assert_int_equal(c.cdw11, 0);
	assert_int_equal(c.cdw12, 7); /* 8 blocks, 0's based */
	assert_int_equal(c.cdw13 | c.cdw14 | c.cdw15 | c.flags | c.metadata_len, 0);
	assert_int_equal(c.metadata, 0);
}

static void write_4k_blocks(void **state)
{
	struct dev_nvme_pt_ns ns = { .nsid = 1, .lba_shift = 12, .part_start = 0,
				     .bytes = 1ull << 30 };
	struct nvme_uring_cmd c;

	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_WRITE, &ns, buf, 8192,
					   5 * 4096), 0);
	assert_int_equal(c.opcode, 0x01);
	assert_int_equal(c.nsid, 1);
	assert_int_equal(c.cdw10, 5);
	assert_int_equal(c.cdw12, 1);
	/* 512-byte aligned is not 4 KiB aligned */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_WRITE, &ns, buf, 4096, 512),
			 -EINVAL);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_WRITE, &ns, buf, 512, 0),
			 -EINVAL);
}

static void slba_above_32_bits(void **state)
{
	struct dev_nvme_pt_ns ns = { .nsid = 7, .lba_shift = 9, .part_start = 512,
				     .bytes = 4ull << 40 };
	struct nvme_uring_cmd c;

	/* 3 TiB / 512 = 0x180000000, plus the partition's one block */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 512,
					   3ull << 40), 0);
	assert_int_equal(c.cdw10, 0x80000001u);
	assert_int_equal(c.cdw11, 1);
	assert_int_equal(c.cdw12, 0);
}

static void refusals(void **state)
{
	struct dev_nvme_pt_ns ns = ns512();
	struct nvme_uring_cmd c;

	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 0, 0), -EINVAL);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 4096, 100),
			 -EINVAL);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 1000, 0),
			 -EINVAL);
	/* the last block of the partition, and one past it */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 512,
					   (1ull << 30) - 512), 0);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 1024,
					   (1ull << 30) - 512), -EINVAL);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 512, 1ull << 30),
			 -EINVAL);
	/* an offset so large that off + len wraps */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 4096,
					   UINT64_MAX - 4095), -EINVAL);
	/* the transfer limit (MDTS) */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 512 * 1024, 0), 0);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf,
					   512 * 1024 + 512, 0), -EINVAL);
	/* an opcode that is not read, write or flush */
	assert_int_equal(dev_nvme_pt_build(&c, 0x09, &ns, buf, 512, 0), -EINVAL);
}

static void block_count_field(void **state)
{
	struct dev_nvme_pt_ns ns = { .nsid = 1, .lba_shift = 9, .bytes = 1ull << 40 };
	struct nvme_uring_cmd c;

	/* NLB is 16 bits, 0's based: 65,536 blocks at most */
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 65536 * 512, 0), 0);
	assert_int_equal(c.cdw12, 0xffff);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_READ, &ns, buf, 65537 * 512, 0),
			 -EINVAL);
}

static void flush(void **state)
{
	struct dev_nvme_pt_ns ns = ns512();
	struct nvme_uring_cmd c;

	memset(&c, 0xa5, sizeof(c));
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_FLUSH, &ns, NULL, 0, 0), 0);
	assert_int_equal(c.opcode, 0x00);
	assert_int_equal(c.nsid, 3);
	assert_int_equal(c.addr, 0);
	assert_int_equal(c.data_len | c.cdw10 | c.cdw11 | c.cdw12, 0);
	assert_int_equal(dev_nvme_pt_build(&c, DEV_NVME_OPC_FLUSH, &ns, buf, 512, 0),
			 -EINVAL);
}

static void identify_decode(void **state)
{
	uint8_t id[4096] = { 0 };
	struct dev_nvme_pt_idns out;
	uint64_t nsze = 2097152;
	uint32_t lbaf0 = 9u << 16, lbaf1 = 12u << 16;

	memcpy(id, &nsze, 8);
	id[25] = 1;   /* NLBAF: two formats (0's based) */
	id[26] = 1;   /* FLBAS: format 1 in use */
	memcpy(id + 128, &lbaf0, 4);
	memcpy(id + 132, &lbaf1, 4);
	for (int i = 0; i < 16; i++)
		id[104 + i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < 8; i++)
		id[120 + i] = (uint8_t)(0xe0 + i);
	assert_int_equal(dev_nvme_pt_identify(id, &out), 0);
	assert_int_equal(out.nsze, nsze);
	assert_int_equal(out.lba_shift, 12);
	assert_int_equal(out.nguid[0], 0x10);
	assert_int_equal(out.nguid[15], 0x1f);
	assert_int_equal(out.eui64[0], 0xe0);
	assert_int_equal(out.eui64[7], 0xe7);
	/* format 0 */
	id[26] = 0;
	assert_int_equal(dev_nvme_pt_identify(id, &out), 0);
	assert_int_equal(out.lba_shift, 9);
	/* a format index past NLBAF */
	id[26] = 2;
	assert_int_equal(dev_nvme_pt_identify(id, &out), -EINVAL);
	/* FLBAS bits 6:5 are the index's high bits: 0x21 = format 17 */
	id[25] = 20;
	id[26] = 0x21;
	memcpy(id + 128 + 4 * 17, &lbaf1, 4);
	assert_int_equal(dev_nvme_pt_identify(id, &out), 0);
	assert_int_equal(out.lba_shift, 12);
	/* a block size below 512 */
	lbaf0 = 8u << 16;
	memcpy(id + 128, &lbaf0, 4);
	id[26] = 0;
	assert_int_equal(dev_nvme_pt_identify(id, &out), -EINVAL);
}

static void hex(void **state)
{
	uint8_t v[16];

	/* sysfs eui: "%8ph" */
	assert_int_equal(dev_nvme_pt_hex("52 54 00 12 34 56 78 9a\n", v, 8), 0);
	assert_int_equal(v[0], 0x52);
	assert_int_equal(v[7], 0x9a);
	/* sysfs nguid: "%pU" */
	assert_int_equal(dev_nvme_pt_hex("00112233-4455-6677-8899-AABBCCDDEEFF", v, 16), 0);
	assert_int_equal(v[0], 0x00);
	assert_int_equal(v[10], 0xaa);
	assert_int_equal(v[15], 0xff);
	assert_int_equal(dev_nvme_pt_hex("52:54:00:12:34:56:78:9a", v, 8), 0);
	/* too short, too long, an odd digit, not hex */
	assert_int_equal(dev_nvme_pt_hex("52 54 00", v, 8), -EINVAL);
	assert_int_equal(dev_nvme_pt_hex("52 54 00 12 34 56 78 9a bc", v, 8), -EINVAL);
	assert_int_equal(dev_nvme_pt_hex("52 54 00 12 34 56 78 9", v, 8), -EINVAL);
	assert_int_equal(dev_nvme_pt_hex("52 54 00 12 34 56 78 zz", v, 8), -EINVAL);
	assert_int_equal(dev_nvme_pt_hex("", v, 8), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_512),
		cmocka_unit_test(write_4k_blocks),
		cmocka_unit_test(slba_above_32_bits),
		cmocka_unit_test(refusals),
		cmocka_unit_test(block_count_field),
		cmocka_unit_test(flush),
		cmocka_unit_test(identify_decode),
		cmocka_unit_test(hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
