/*
 * extmap.c - a file's extents from FS_IOC_FIEMAP and the piece of a range
 * that one extent (or gap) covers. See storage.h and the kernel's
 * Documentation/filesystems/fiemap.rst.
 */
#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../common/real.h"
#include "storage.h"

int st_extmap_add(struct st_extmap *m, const struct st_extent *e)
{
	if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 16;
		struct st_extent *x = realloc(m->ext, cap * sizeof(*x));

		if (!x)
			return -ENOMEM;
		m->ext = x;
		m->cap = cap;
	}
	m->ext[m->n++] = *e;
	return 0;
}

void st_extmap_clear(struct st_extmap *m)
{
	free(m->ext);
	memset(m, 0, sizeof(*m));
}

/* The first extent that ends after off, or m->n. */
static unsigned first_after(const struct st_extmap *m, uint64_t off)
{
	unsigned lo = 0, hi = m->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct st_extent *e = &m->ext[mid];

		if (e->logical + e->length <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static enum st_reason extent_reason(const struct st_extent *e, uint32_t lba, int write)
{
	if (e->flags & FIEMAP_EXTENT_UNWRITTEN)
		return ST_R_UNWRITTEN;
	if (e->flags & (write ? ST_WRITE_BAD : ST_READ_BAD))
		return ST_R_FLAGS;
	/* Rounding a piece out to lba must stay inside the extent. */
	if ((e->logical | e->physical | e->length) & (lba - 1))
		return ST_R_UNALIGNED_EXTENT;
	return ST_R_DEVICE;
}

void st_extmap_seg(const struct st_extmap *m, uint64_t off, uint64_t end,
		   uint32_t lba, int write, struct st_seg *seg)
{
	unsigned i = first_after(m, off);
	const struct st_extent *e = i < m->n ? &m->ext[i] : NULL;

	if (!e || e->logical >= end) {
		*seg = (struct st_seg){ end - off, 0, ST_R_HOLE };
		return;
	}
	if (e->logical > off) {
		*seg = (struct st_seg){ e->logical - off, 0, ST_R_HOLE };
		return;
	}
	seg->len = (e->logical + e->length < end ? e->logical + e->length : end) - off;
	seg->physical = e->physical + (off - e->logical);
	seg->why = extent_reason(e, lba, write);
}

#define FIEMAP_BATCH 128

int st_extmap_load(struct st_extmap *m, int fd)
{
	size_t sz = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = malloc(sz);
	uint64_t start = 0;
	int rc = 0, last = 0;

	if (!fm)
		return -ENOMEM;
	m->n = 0;
	while (!last) {
		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (accel_real.ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			rc = -errno;
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents && rc == 0; i++) {
			const struct fiemap_extent *fe = &fm->fm_extents[i];
			struct st_extent e = { fe->fe_logical, fe->fe_physical,
					       fe->fe_length, fe->fe_flags };

			/* An extent reported from before start (FIEMAP returns
			 * those overlapping it) is already in. */
			if (!m->n || e.logical >= m->ext[m->n - 1].logical +
						       m->ext[m->n - 1].length)
				rc = st_extmap_add(m, &e);
			last |= fe->fe_flags & FIEMAP_EXTENT_LAST;
			start = fe->fe_logical + fe->fe_length;
		}
		last |= fm->fm_mapped_extents < FIEMAP_BATCH;
		if (rc)
			break;
	}
	free(fm);
	return rc;
}
