/*
 * test_extmap.c - the piece of a range one extent or gap covers
 * (storage/extmap.c), checked byte by byte against a plain scan of random
 * maps: extents of random length and flags (written, unwritten, delalloc,
 * shared, inline, misaligned), holes between them, ranges that start and
 * end anywhere, past the last extent included. A piece must start where
 * asked, never cross an extent boundary, carry the reference's verdict
 * and device offset, and the pieces must tile the range. Also: the bounce
 * rounding (st_round) and the FIEMAP reader on a real file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../storage/storage.h"

#define LBA 512u
#define BLK 4096u

static const uint32_t flag_choices[] = {
	0, 0, 0, 0, FIEMAP_EXTENT_UNWRITTEN, FIEMAP_EXTENT_DELALLOC,
	FIEMAP_EXTENT_SHARED, FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_NOT_ALIGNED,
	FIEMAP_EXTENT_UNKNOWN, FIEMAP_EXTENT_ENCODED,
};

/* A random map: extents of 1-8 blocks, a hole of 0-3 blocks before each;
 * one in twenty with a physical offset off the block grid. */
static uint64_t random_map(struct st_extmap *m, unsigned n)
{
	uint64_t pos = 0;

	for (unsigned i = 0; i < n; i++) {
		struct st_extent e;

		pos += (uint64_t)(random() % 4) * BLK;
		e.logical = pos;
		e.length = (uint64_t)(1 + random() % 8) * BLK;
		e.physical = (uint64_t)(1000 + random() % 100000) * BLK +
			     (random() % 20 == 0 ? 256 : 0);
		e.flags = flag_choices[random() % (sizeof(flag_choices) / sizeof(flag_choices[0]))];
		if (i == n - 1)
			e.flags |= FIEMAP_EXTENT_LAST;
		assert_int_equal(st_extmap_add(m, &e), 0);
		pos += e.length;
	}
	return pos;
}

/* The reference: a linear scan for the extent holding byte b. */
static const struct st_extent *ref_find(const struct st_extmap *m, uint64_t b)
{
	for (unsigned i = 0; i < m->n; i++)
		if (b >= m->ext[i].logical && b < m->ext[i].logical + m->ext[i].length)
			return &m->ext[i];
	return NULL;
}

static enum st_reason ref_reason(const struct st_extent *e, int write)
{
	if (!e)
		return ST_R_HOLE;
	if (e->flags & FIEMAP_EXTENT_UNWRITTEN)
		return ST_R_UNWRITTEN;
	if (e->flags & (FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN |
			FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE |
			FIEMAP_EXTENT_NOT_ALIGNED))
		return ST_R_FLAGS;
	if (write && (e->flags & FIEMAP_EXTENT_SHARED))
		return ST_R_FLAGS;
	if (e->physical % LBA)
		return ST_R_UNALIGNED_EXTENT;
	return ST_R_DEVICE;
}

static void check_range(const struct st_extmap *m, uint64_t off, uint64_t end, int write)
{
	uint64_t pos = off;

	while (pos < end) {
		struct st_seg seg;
		const struct st_extent *first;

		st_extmap_seg(m, pos, end, LBA, write, &seg);
		assert_true(seg.len > 0);
		assert_true(pos + seg.len <= end);
		first = ref_find(m, pos);
		/* every 64th byte and both ends: same extent, same verdict */
		for (uint64_t b = pos; b < pos + seg.len; b += (b + 64 < pos + seg.len) ? 64 : 1) {
			const struct st_extent *e = ref_find(m, b);

			assert_ptr_equal(e, first);
			assert_int_equal(ref_reason(e, write), seg.why);
			if (e && seg.why == ST_R_DEVICE)
				assert_int_equal(seg.physical + (b - pos),
						 e->physical + (b - e->logical));
		}
		/* maximal: the next byte is in another extent or gap */
		if (pos + seg.len < end)
			assert_ptr_not_equal(ref_find(m, pos + seg.len), first);
		pos += seg.len;
	}
	assert_int_equal(pos, end);
}

static void test_segments_match_reference(void **state)
{
	(void)state;
	srandom(13);
	for (int round = 0; round < 200; round++) {
		struct st_extmap m = { 0 };
		uint64_t size = random_map(&m, 1 + (unsigned)(random() % 40));

		for (int i = 0; i < 50; i++) {
			uint64_t off = (uint64_t)random() % (size + 3 * BLK);
			uint64_t len = 1 + (uint64_t)random() % (6 * BLK);

			check_range(&m, off, off + len, 0);
			check_range(&m, off, off + len, 1);
		}
		st_extmap_clear(&m);
	}
}

static void test_empty_map_is_hole(void **state)
{
	struct st_extmap m = { 0 };
	struct st_seg seg;

	(void)state;
	st_extmap_seg(&m, 100, 5000, LBA, 0, &seg);
	assert_int_equal(seg.why, ST_R_HOLE);
	assert_int_equal(seg.len, 4900);
}

static void test_round(void **state)
{
	uint64_t a, alen;

	(void)state;
	st_round(0, 512, 512, &a, &alen);
	assert_int_equal(a, 0);
	assert_int_equal(alen, 512);
	st_round(1, 1, 512, &a, &alen);
	assert_int_equal(a, 0);
	assert_int_equal(alen, 512);
	st_round(511, 2, 512, &a, &alen);
	assert_int_equal(a, 0);
	assert_int_equal(alen, 1024);
	/* memcached extstore: 8,257 bytes at an odd offset */
	st_round(8192 * 3 + 77, 8257, 4096, &a, &alen);
	assert_int_equal(a, 8192 * 3);
	assert_int_equal(alen, 12288);
	for (int i = 0; i < 10000; i++) {
		uint64_t off = (uint64_t)random() % (1u << 30), len = 1 + (uint64_t)random() % 100000;
		uint32_t lba = 512u << (random() % 4);

		st_round(off, len, lba, &a, &alen);
		assert_int_equal(a % lba, 0);
		assert_int_equal(alen % lba, 0);
		assert_true(a <= off && a + alen >= off + len);
		assert_true(off - a < lba && a + alen - (off + len) < lba);
	}
}

/* A real file in the current directory: a written block, a hole, an
 * fallocate'd (unwritten) block. Skipped only where the file system has
 * no FIEMAP (tmpfs), which the test says. */
/* The dirty set against a page bitmap: random adds (overlapping,
 * touching, apart), random queries; sorted, disjoint, not touching. */
static void test_dirty_matches_bitmap(void **state)
{
	enum { PAGES = 300 };
	(void)state;

	for (int round = 0; round < 50; round++) {
		struct st_dirty d = { 0 };
		unsigned char ref[PAGES] = { 0 };

		for (int k = 0; k < 1 + round; k++) {
			uint64_t lo = (uint64_t)(random() % PAGES), hi;

			hi = lo + 1 + (uint64_t)(random() % (random() & 1 ? 3 : 40));
			hi = hi > PAGES ? PAGES : hi;
			st_dirty_add(&d, lo * 4096, hi * 4096);
			memset(ref + lo, 1, hi - lo);
			for (unsigned i = 0; i + 1 < d.n; i++)
				assert_true(d.r[i].hi < d.r[i + 1].lo);
			for (int q = 0; q < 40; q++) {
				uint64_t qlo = (uint64_t)(random() % PAGES);
				uint64_t qhi = qlo + 1 + (uint64_t)(random() % 20);
				int want = 0;

				qhi = qhi > PAGES ? PAGES : qhi;
				for (uint64_t p = qlo; p < qhi; p++)
					want |= ref[p];
				assert_int_equal(st_dirty_overlaps(&d, qlo * 4096, qhi * 4096), want);
			}
		}
		/* apart writes stay apart: not one span from first to last */
		st_dirty_clear(&d);
		st_dirty_add(&d, 0, 4096);
		st_dirty_add(&d, 100 * 4096, 101 * 4096);
		assert_int_equal(d.n, 2);
		assert_false(st_dirty_overlaps(&d, 4096, 100 * 4096));
		st_dirty_free(&d);
	}
}

/* Past ST_DIRTY_MAX ranges the nearest two are joined: never fewer
 * dirty bytes than were written. */
static void test_dirty_cap(void **state)
{
	struct st_dirty d = { 0 };

	(void)state;
	for (uint64_t i = 0; i < ST_DIRTY_MAX + 100; i++)
		st_dirty_add(&d, i * 3 * 4096 + (i % 7 == 0 ? 4096 : 0),
			     i * 3 * 4096 + 2 * 4096);
	assert_true(d.n <= ST_DIRTY_MAX);
	for (uint64_t i = 0; i < ST_DIRTY_MAX + 100; i++)
		assert_true(st_dirty_overlaps(&d, i * 3 * 4096 + 4096, i * 3 * 4096 + 2 * 4096));
	assert_false(st_dirty_overlaps(&d, (ST_DIRTY_MAX + 100) * 3 * 4096, UINT64_MAX));
	d.all = 1;
	assert_true(st_dirty_overlaps(&d, UINT64_MAX - 1, UINT64_MAX));
	st_dirty_free(&d);
}

static void test_load_real_file(void **state)
{
	char path[] = "./extmap-XXXXXX", buf[BLK];
	struct st_extmap m = { 0 };
	struct st_seg seg;
	int fd = mkstemp(path), rc;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pwrite(fd, buf, BLK, 0), BLK);
	assert_int_equal(fallocate(fd, 0, 4 * BLK, BLK), 0);
	rc = st_extmap_load(&m, fd);
	close(fd);
	if (rc == -EOPNOTSUPP) {
		print_message("no FIEMAP on this file system: only the reference checks ran\n");
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(m.n, 2);
	st_extmap_seg(&m, 0, 5 * BLK, LBA, 0, &seg);
	assert_int_equal(seg.why, ST_R_DEVICE);
	assert_int_equal(seg.len, BLK);
	st_extmap_seg(&m, BLK, 5 * BLK, LBA, 0, &seg);
	assert_int_equal(seg.why, ST_R_HOLE);
	assert_int_equal(seg.len, 3 * BLK);
	st_extmap_seg(&m, 4 * BLK, 5 * BLK, LBA, 0, &seg);
	assert_int_equal(seg.why, ST_R_UNWRITTEN);
	st_extmap_clear(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segments_match_reference),
		cmocka_unit_test(test_empty_map_is_hole),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_dirty_matches_bitmap),
		cmocka_unit_test(test_dirty_cap),
		cmocka_unit_test(test_load_real_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
