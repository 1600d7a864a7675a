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

/* ---- dirty ranges -------------------------------------------------------- */

/* The first range that ends at or after lo (touching counts), or d->n. */
static unsigned dirty_first(const struct st_dirty *d, uint64_t lo)
{
	unsigned a = 0, b = d->n;

	while (a < b) {
		unsigned mid = a + (b - a) / 2;

		if (d->r[mid].hi < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/* Joins the two ranges with the smallest gap between them. */
static void dirty_squeeze(struct st_dirty *d)
{
	unsigned best = 0;

	for (unsigned i = 1; i + 1 < d->n; i++)
		if (d->r[i + 1].lo - d->r[i].hi < d->r[best + 1].lo - d->r[best].hi)
			best = i;
	d->r[best].hi = d->r[best + 1].hi;
	memmove(&d->r[best + 1], &d->r[best + 2], (d->n - best - 2) * sizeof(*d->r));
	d->n--;
}

void st_dirty_add(struct st_dirty *d, uint64_t lo, uint64_t hi)
{
	unsigned i, j;

	if (d->all)
		return;
	i = dirty_first(d, lo);
	/* every range from i that starts at or before hi merges with it */
	for (j = i; j < d->n && d->r[j].lo <= hi; j++) {
		lo = d->r[j].lo < lo ? d->r[j].lo : lo;
		hi = d->r[j].hi > hi ? d->r[j].hi : hi;
	}
	if (j == i) {
		if (d->n == d->cap) {
			unsigned cap = d->cap ? d->cap * 2 : 8;
			struct st_drange *x = realloc(d->r, cap * sizeof(*x));

			if (!x) {
				d->all = 1;
				return;
			}
			d->r = x;
			d->cap = cap;
		}
		memmove(&d->r[i + 1], &d->r[i], (d->n - i) * sizeof(*d->r));
		d->n++;
	} else if (j > i + 1) {
		memmove(&d->r[i + 1], &d->r[j], (d->n - j) * sizeof(*d->r));
		d->n -= j - i - 1;
	}
	d->r[i].lo = lo;
	d->r[i].hi = hi;
	if (d->n > ST_DIRTY_MAX)
		dirty_squeeze(d);
}

int st_dirty_overlaps(const struct st_dirty *d, uint64_t lo, uint64_t hi)
{
	unsigned i;

	if (d->all)
		return 1;
	/* the first range that ends after lo */
	i = dirty_first(d, lo);
	if (i < d->n && d->r[i].hi == lo)
		i++;
	return i < d->n && d->r[i].lo < hi;
}

void st_dirty_clear(struct st_dirty *d)
{
	d->n = 0;
	d->all = 0;
}

void st_dirty_free(struct st_dirty *d)
{
	free(d->r);
	memset(d, 0, sizeof(*d));
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
