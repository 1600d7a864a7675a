/*
 * io.c - the data path: pread/pwrite/fsync split between the thread's
 * queue pair and the kernel by the contract in storage.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "../common/guard.h"
#include "../common/real.h"
#include "st_impl.h"

void st_count_kernel(struct st_thread *t, enum st_reason why, int write, ssize_t r)
{
	if (!t)
		return;
	ST_ADD(t, fallback[why], 1);
	if (write) {
		ST_ADD(t, kern_writes, 1);
		ST_ADD(t, kern_write_bytes, r > 0 ? (uint64_t)r : 0);
	} else {
		ST_ADD(t, kern_reads, 1);
		ST_ADD(t, kern_read_bytes, r > 0 ? (uint64_t)r : 0);
	}
}

static ssize_t kern_read(const struct st_io *io, void *buf, size_t len, off_t off,
			 enum st_reason why)
{
	ssize_t r = accel_real.pread(io->fd, buf, len, off);

	st_count_kernel(io->t, why, 0, r);
	return r < 0 ? -errno : r;
}

/* Before any lock: what the kernel must answer itself. */
static enum st_reason call_check(const struct st_io *io, const void *buf, size_t len,
				 off_t off, int write)
{
	uint32_t lba;

	if (!io->t)
		return ST_R_NO_QUEUE;
	if (!buf || off < 0 || !len || len > SSIZE_MAX)
		return ST_R_BADARG;
	if (!(io->fdflags & (write ? ST_FD_WRITE : ST_FD_READ)) ||
	    (write && (io->fdflags & ST_FD_APPEND)))
		return ST_R_FLAGS_CALL; /* EBADF, or pwrite's O_APPEND quirk */
	lba = io->ino->sd->d->info.lba_size;
	/* O_DIRECT's EINVAL for unaligned I/O is the kernel's to give. */
	if ((io->fdflags & ST_FD_DIRECT) &&
	    (((uintptr_t)buf | (uint64_t)off | len) & (lba - 1)))
		return ST_R_FLAGS_CALL;
	return ST_R_DEVICE;
}

/* One aligned command, waited for. A short or failed one is EIO, as the
 * kernel's block layer reports it (EFAULT stays: a bad buffer). */
static int dev_cmd(struct st_thread *t, struct st_tq *q, int write, void *buf,
		   uint32_t len, uint64_t phys)
{
	struct dev_nvme_dev *d = q->sd->d;
	struct dev_nvme_cpl cpl;
	int rc;

	if (q->lock)
		pthread_mutex_lock(q->lock);
	rc = write ? dev_nvme_submit_write(d, q->qp, buf, len, phys, 0) :
		     dev_nvme_submit_read(d, q->qp, buf, len, phys, 0);
	if (rc == 0)
		rc = dev_nvme_poll(d, q->qp, &cpl, 1, 1);
	if (q->lock)
		pthread_mutex_unlock(q->lock);
	if (d->info.nvme_cmds)
		ST_ADD(t, nvme_cmds, 1);
	if (rc == 1)
		rc = cpl.res;
	/* Anything but the whole length is EIO, as the block layer reports
	 * it (EFAULT stays: a bad buffer is the caller's). */
	if (rc != (int)len)
		rc = rc == -EFAULT ? -EFAULT : -EIO;
	else
		rc = 0;
	if (rc < 0)
		ST_ADD(t, errors, 1);
	return rc;
}

/* A device piece of a read: straight into buf when everything is on
 * block boundaries, else through the bounce buffer, widened to blocks
 * (which stay inside the extent: its ends are on block boundaries). */
static int dev_read_piece(struct st_thread *t, struct st_tq *q, char *buf, uint64_t pos,
			  uint64_t n, uint64_t phys)
{
	uint32_t lba = q->sd->d->info.lba_size;
	uint64_t most = st_max_cmd(q->sd->d), bmost = most < ST_BOUNCE ? most : ST_BOUNCE;
	int rc;

	while (n) {
		uint64_t skip = pos & (lba - 1), chunk, a, alen;

		if (!skip && !(n & (lba - 1)) && !((uintptr_t)buf & (lba - 1))) {
			chunk = n < most ? n : most;
			if ((rc = dev_cmd(t, q, 0, buf, (uint32_t)chunk, phys)) < 0)
				return rc;
		} else {
			chunk = n < bmost - skip ? n : bmost - skip;
			st_round(pos, chunk, lba, &a, &alen);
			if ((rc = dev_cmd(t, q, 0, t->bounce, (uint32_t)alen, phys - skip)) < 0)
				return rc;
			/* (a bad buffer: the kernel's EFAULT, not a fault) */
			if (accel_copy_out(buf, (char *)t->bounce + skip, chunk) < 0)
				return -EFAULT;
			ST_ADD(t, bounce_copies, 1);
		}
		buf += chunk;
		pos += chunk;
		phys += chunk;
		n -= chunk;
	}
	return 0;
}

/* A device piece of a write: offset and length are on block boundaries;
 * only the buffer may not be. */
static int dev_write_piece(struct st_thread *t, struct st_tq *q, const char *buf,
			   uint64_t n, uint64_t phys)
{
	uint32_t lba = q->sd->d->info.lba_size;
	uint64_t most = st_max_cmd(q->sd->d), bmost = most < ST_BOUNCE ? most : ST_BOUNCE;
	int rc;

	while (n) {
		uint64_t chunk;

		if (!((uintptr_t)buf & (lba - 1))) {
			chunk = n < most ? n : most;
			rc = dev_cmd(t, q, 1, (void *)buf, (uint32_t)chunk, phys);
		} else {
			chunk = n < bmost ? n : bmost;
			if (accel_copy_in(t->bounce, buf, chunk) < 0)
				return -EFAULT;
			ST_ADD(t, bounce_copies, 1);
			rc = dev_cmd(t, q, 1, t->bounce, (uint32_t)chunk, phys);
		}
		if (rc < 0)
			return rc;
		buf += chunk;
		phys += chunk;
		n -= chunk;
	}
	return 0;
}

static int dirty_overlaps(const struct st_inode *ino, uint64_t off, uint64_t end)
{
	return ino->dirty_lo < ino->dirty_hi && off < ino->dirty_hi && end > ino->dirty_lo;
}

/*
 * Takes the inode's read lock with a map fit for [off, end): remapped
 * (under the write lock) first if stale or if the range was written
 * through the kernel since (the remap writes it back first). Returns ST_R_DEVICE with the lock
 * held, or a reason with it released.
 */
static enum st_reason lock_ready(const struct st_io *io, uint64_t off, uint64_t end,
				 int write)
{
	struct st_inode *ino = io->ino;

	for (;;) {
		int rc;

		pthread_rwlock_rdlock(&ino->lock);
		if (ino->gen != io->gen) {
			pthread_rwlock_unlock(&ino->lock);
			return ST_R_NO_DEVICE; /* closed under us: the kernel's EBADF */
		}
		if ((rc = __atomic_load_n(&ino->kernel_only, __ATOMIC_ACQUIRE))) {
			pthread_rwlock_unlock(&ino->lock);
			return (enum st_reason)rc;
		}
		/* (a write checks whole pages: writeback writes pages) */
		if (!ino->stale &&
		    !dirty_overlaps(ino, write ? off & ~(uint64_t)(ST_PAGE - 1) : off,
				    write ? (end + ST_PAGE - 1) & ~(uint64_t)(ST_PAGE - 1) : end))
			return ST_R_DEVICE;
		pthread_rwlock_unlock(&ino->lock);
		pthread_rwlock_wrlock(&ino->lock);
		rc = ino->gen == io->gen ? st_inode_refresh(ino, io->fd) : 0;
		if (rc == 0)
			ST_ADD(io->t, map_refreshes, 1);
		else
			ino->stale = 1;
		pthread_rwlock_unlock(&ino->lock);
		if (rc < 0) {
			ST_ADD(io->t, errors, 1);
			return ST_R_FLAGS;
		}
	}
}

static ssize_t read_pieces(const struct st_io *io, struct st_tq *q, char *buf,
			   uint64_t off, uint64_t end)
{
	const struct st_inode *ino = io->ino;
	uint32_t lba = q->sd->d->info.lba_size;
	uint64_t pos = off;

	while (pos < end) {
		struct st_seg seg;
		ssize_t r;

		st_extmap_seg(&ino->map, pos, end, lba, 0, &seg);
		if (seg.why == ST_R_DEVICE) {
			int rc = dev_read_piece(io->t, q, buf + (pos - off), pos, seg.len,
						seg.physical);

			if (rc < 0)
				return pos > off ? (ssize_t)(pos - off) : rc;
			ST_ADD(io->t, dev_reads, 1);
			ST_ADD(io->t, dev_read_bytes, seg.len);
			pos += seg.len;
			continue;
		}
		r = kern_read(io, buf + (pos - off), seg.len, (off_t)pos, seg.why);
		if (r < 0)
			return pos > off ? (ssize_t)(pos - off) : r;
		pos += (uint64_t)r;
		if ((uint64_t)r < seg.len)
			break; /* the file shrank under us: short, as the kernel */
	}
	return (ssize_t)(pos - off);
}

ssize_t st_pread(const struct st_io *io, void *buf, size_t len, off_t off)
{
	enum st_reason why = call_check(io, buf, len, off, 0);
	struct st_tq *q;
	uint64_t end;
	ssize_t r;

	if (why)
		return kern_read(io, buf, len, off, why);
	if (st_thread_queue(io->t, io->ino->sd, &q) < 0)
		return kern_read(io, buf, len, off, ST_R_NO_QUEUE);
	end = (uint64_t)off + len;
	if ((why = lock_ready(io, (uint64_t)off, end, 0)))
		return kern_read(io, buf, len, off, why);
	if ((uint64_t)off >= io->ino->size) {
		pthread_rwlock_unlock(&io->ino->lock);
		return kern_read(io, buf, len, off, ST_R_EOF);
	}
	if (end > io->ino->size)
		end = io->ino->size; /* short at EOF, as the kernel */
	r = read_pieces(io, q, buf, (uint64_t)off, end);
	pthread_rwlock_unlock(&io->ino->lock);
	return r;
}

/* The whole write through the kernel, its range remembered as dirty (in
 * whole pages: writeback writes pages) until it is remapped. */
static ssize_t kern_write(const struct st_io *io, const void *buf, size_t len, off_t off,
			  enum st_reason why)
{
	struct st_inode *ino = io->ino;
	ssize_t r;

	if (why == ST_R_BADARG || why == ST_R_FLAGS_CALL || why == ST_R_NO_QUEUE ||
	    why == ST_R_MMAP || why == ST_R_NO_DEVICE || why == ST_R_OTHER_WRITER) {
		r = accel_real.pwrite(io->fd, buf, len, off);
		st_count_kernel(io->t, why, 1, r);
		return r < 0 ? -errno : r;
	}
	pthread_rwlock_wrlock(&ino->lock);
	r = accel_real.pwrite(io->fd, buf, len, off);
	if (r > 0 && ino->gen == io->gen) {
		uint64_t lo = (uint64_t)off & ~(uint64_t)(ST_PAGE - 1);
		uint64_t hi = ((uint64_t)off + (uint64_t)r + ST_PAGE - 1) & ~(uint64_t)(ST_PAGE - 1);

		if (ino->dirty_lo >= ino->dirty_hi) {
			ino->dirty_lo = lo;
			ino->dirty_hi = hi;
		} else {
			ino->dirty_lo = lo < ino->dirty_lo ? lo : ino->dirty_lo;
			ino->dirty_hi = hi > ino->dirty_hi ? hi : ino->dirty_hi;
		}
		if ((uint64_t)off + (uint64_t)r > ino->size)
			ino->size = (uint64_t)off + (uint64_t)r;
	}
	pthread_rwlock_unlock(&ino->lock);
	st_count_kernel(io->t, why, 1, r);
	return r < 0 ? -errno : r;
}

/* Why [off, end) may not be written through the device, or ST_R_DEVICE. */
static enum st_reason write_check(const struct st_inode *ino, uint64_t off, uint64_t end,
				  uint32_t lba)
{
	if ((off | end) & (lba - 1))
		return ST_R_UNALIGNED_WRITE;
	if (end > ino->size)
		return ST_R_EOF;
	/* Also whole pages: a dirty page's writeback would overwrite ours. */
	if (dirty_overlaps(ino, off & ~(uint64_t)(ST_PAGE - 1),
			   (end + ST_PAGE - 1) & ~(uint64_t)(ST_PAGE - 1)))
		return ST_R_DIRTY;
	for (uint64_t pos = off; pos < end;) {
		struct st_seg seg;

		st_extmap_seg(&ino->map, pos, end, lba, 1, &seg);
		if (seg.why)
			return seg.why;
		pos += seg.len;
	}
	return ST_R_DEVICE;
}

static int write_pieces(const struct st_io *io, struct st_tq *q, const char *buf,
			uint64_t off, uint64_t end)
{
	uint32_t lba = q->sd->d->info.lba_size;

	for (uint64_t pos = off; pos < end;) {
		struct st_seg seg;
		int rc;

		st_extmap_seg(&io->ino->map, pos, end, lba, 1, &seg);
		if ((rc = dev_write_piece(io->t, q, buf + (pos - off), seg.len,
					  seg.physical)) < 0)
			return rc;
		ST_ADD(io->t, dev_writes, 1);
		ST_ADD(io->t, dev_write_bytes, seg.len);
		pos += seg.len;
	}
	return 0;
}

ssize_t st_pwrite(const struct st_io *io, const void *buf, size_t len, off_t off)
{
	enum st_reason why = call_check(io, buf, len, off, 1);
	uint64_t end = (uint64_t)off + len;
	struct st_tq *q;
	int rc;

	if (why)
		return kern_write(io, buf, len, off, why);
	if (st_thread_queue(io->t, io->ino->sd, &q) < 0)
		return kern_write(io, buf, len, off, ST_R_NO_QUEUE);
	if ((why = lock_ready(io, (uint64_t)off, end, 1)))
		return kern_write(io, buf, len, off, why);
	if ((why = write_check(io->ino, (uint64_t)off, end, q->sd->d->info.lba_size))) {
		pthread_rwlock_unlock(&io->ino->lock);
		return kern_write(io, buf, len, off, why);
	}
	rc = write_pieces(io, q, buf, (uint64_t)off, end);
	__atomic_store_n(&io->ino->wrote, 1, __ATOMIC_RELEASE);
	/* Clean pages over the range hold the old bytes: drop them, whole
	 * pages (fadvise keeps partial ones), so the kernel reads ours. */
	posix_fadvise(io->fd, (off_t)((uint64_t)off & ~(uint64_t)(ST_PAGE - 1)),
		      (off_t)(((end + ST_PAGE - 1) & ~(uint64_t)(ST_PAGE - 1)) -
			      ((uint64_t)off & ~(uint64_t)(ST_PAGE - 1))),
		      POSIX_FADV_DONTNEED);
	pthread_rwlock_unlock(&io->ino->lock);
	return rc < 0 ? rc : (ssize_t)len;
}

typedef ssize_t (*one_fn)(const struct st_io *, void *, size_t, off_t);

static ssize_t vec(const struct st_io *io, const struct iovec *iov, int cnt, off_t off,
		   one_fn one)
{
	ssize_t done = 0;

	for (int i = 0; i < cnt; i++) {
		ssize_t r;

		if (!iov[i].iov_len)
			continue;
		r = one(io, iov[i].iov_base, iov[i].iov_len, off + done);
		if (r < 0)
			return done ? done : r;
		done += r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return done;
}

static ssize_t write_one(const struct st_io *io, void *buf, size_t len, off_t off)
{
	return st_pwrite(io, buf, len, off);
}

ssize_t st_preadv(const struct st_io *io, const struct iovec *iov, int cnt, off_t off)
{
	return vec(io, iov, cnt, off, st_pread);
}

ssize_t st_pwritev(const struct st_io *io, const struct iovec *iov, int cnt, off_t off)
{
	return vec(io, iov, cnt, off, write_one);
}

int st_sync(const struct st_io *io, int datasync)
{
	struct st_tq *q;
	int rc = 0;

	if (io->t && __atomic_exchange_n(&io->ino->wrote, 0, __ATOMIC_ACQ_REL)) {
		/* One FLUSH covers every device write that completed, from any
		 * queue (nvme.h); every one of ours has completed. */
		struct dev_nvme_cpl cpl;

		rc = st_thread_queue(io->t, io->ino->sd, &q);
		if (rc == 0) {
			if (q->lock)
				pthread_mutex_lock(q->lock);
			rc = dev_nvme_submit_flush(q->sd->d, q->qp, 0);
			if (rc == 0)
				rc = dev_nvme_poll(q->sd->d, q->qp, &cpl, 1, 1);
			if (q->lock)
				pthread_mutex_unlock(q->lock);
			rc = rc == 1 && cpl.res == 0 ? 0 : -EIO;
			if (q->sd->d->info.nvme_cmds)
				ST_ADD(io->t, nvme_cmds, 1);
		}
		ST_ADD(io->t, flushes, 1);
		if (rc < 0) {
			ST_ADD(io->t, errors, 1);
			__atomic_store_n(&io->ino->wrote, 1, __ATOMIC_RELEASE);
		}
	}
	if ((datasync ? accel_real.fdatasync(io->fd) : accel_real.fsync(io->fd)) < 0)
		return -errno;
	return rc;
}
