/*
 * storage.h - the storage path: which files (the policy), where their
 * bytes are on the device (extent maps from FS_IOC_FIEMAP), and the
 * contract that decides, piece by piece, whether a pread/pwrite goes to
 * the calling thread's own queue pair (dev/nvme.h) or to the kernel.
 *
 * The contract (storage/README.md says it in full):
 *  - a read goes to the device for the pieces that are mapped, written
 *    (no flag in ST_READ_BAD), inside EOF and not written through the
 *    kernel since the map was taken; everything else is the kernel's
 *    pread of that piece. Split at extent boundaries, short at EOF;
 *  - a write goes to the device only when all of it overwrites written,
 *    mapped, unshared blocks inside EOF (partial blocks at its ends are
 *    read, merged and written back whole, under the inode's write lock);
 *    otherwise the whole write is the kernel's, its range is
 *    remembered as dirty and written back (FIEMAP_FLAG_SYNC) and remapped
 *    before the device may read it; after a device write the page cache
 *    over the range is dropped;
 *  - fsync = a FLUSH, if any queue pair wrote the file through the
 *    device since the last one (one FLUSH covers them all: st_sync in
 *    io.c says why), then the kernel's fsync.
 *
 * Objects: one st_ctx per process (devices, inodes, thread registry), one
 * st_inode per open file (shared by every fd of it), one st_thread per
 * thread (its queue pairs, bounce buffer and counters). Everything
 * returns a count or a negative errno; nothing sets errno.
 *
 * Threads: st_ctx_* and st_inode_get/put take the context's mutex (open
 * and close only). An st_thread is its thread's own. The data path takes
 * the inode's read lock (write lock for a kernel write, a remap, a
 * size change or a read-modify-write of partial blocks).
 */
#ifndef ACCEL_STORAGE_H
#define ACCEL_STORAGE_H

#include <linux/fiemap.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ---- why a piece went to the kernel ---------------------------------- */

enum st_reason {
	ST_R_DEVICE = 0,      /* not a fallback: the device */
	ST_R_HOLE,            /* no extent (reads as zeros) */
	ST_R_UNWRITTEN,       /* FIEMAP_EXTENT_UNWRITTEN (fallocate'd) */
	ST_R_FLAGS,           /* UNKNOWN, DELALLOC, ENCODED, inline, shared write */
	ST_R_UNALIGNED_EXTENT,/* an extent not on logical-block boundaries */
	ST_R_EOF,             /* at or past EOF, or a write that extends */
	ST_R_DIRTY,           /* written through the kernel, not yet remapped */
	ST_R_MMAP,            /* the file is mapped */
	ST_R_NO_DEVICE,       /* the transport refused the device */
	ST_R_CHILD,           /* a forked child */
	ST_R_FLAGS_CALL,      /* RWF_* flags, O_APPEND, O_DIRECT rules, access mode */
	ST_R_BADARG,          /* NULL buffer, negative offset, huge length */
	ST_R_NO_QUEUE,        /* the thread could not get a queue pair */
	ST_R_OTHER_WRITER,    /* another process opened the file for writing */
	ST_R_MAX
};

const char *st_reason_name(enum st_reason r);

/* ---- the policy: ACCEL_STORAGE ---------------------------------------- */

#define ST_POLICY_MAX 32

struct st_policy {
	char buf[1024];
	const char *glob[ST_POLICY_MAX];
	unsigned n;
};

/* Splits a colon-separated list of absolute globs. -EINVAL for an empty
 * or relative pattern or too many; p is then empty. */
int st_policy_parse(struct st_policy *p, const char *spec);

/* 1 when path matches one glob (fnmatch(3) with FNM_PATHNAME: a '*' does
 * not cross '/', as in the shell). */
int st_policy_match(const struct st_policy *p, const char *path);

/* ---- extent maps ------------------------------------------------------ */

struct st_extent {
	uint64_t logical, physical, length;
	uint32_t flags;          /* FIEMAP_EXTENT_* */
};

struct st_extmap {
	struct st_extent *ext;   /* sorted by logical, not overlapping */
	unsigned n, cap;
};

/* The FIEMAP flags that keep a read off the device; a write also needs
 * the extent unshared (a device write to a shared block would change the
 * other file too). */
#define ST_READ_BAD (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |        \
		     FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED |     \
		     FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE |    \
		     FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN)
#define ST_WRITE_BAD (ST_READ_BAD | FIEMAP_EXTENT_SHARED)

/* One piece of a range: len bytes from the offset asked, on the device at
 * physical (why == ST_R_DEVICE) or for the kernel (why says why). */
struct st_seg {
	uint64_t len;
	uint64_t physical;
	enum st_reason why;
};

/*
 * The piece of [off, end) that starts at off and stays within one extent
 * or one gap. lba: the device's logical block size; write: the rules for
 * a write. end > off.
 */
void st_extmap_seg(const struct st_extmap *m, uint64_t off, uint64_t end,
		   uint32_t lba, int write, struct st_seg *seg);

/* Appends an extent (tests and the FIEMAP reader); -ENOMEM. */
int st_extmap_add(struct st_extmap *m, const struct st_extent *e);
void st_extmap_clear(struct st_extmap *m);

/* Reads fd's whole map (FS_IOC_FIEMAP with FIEMAP_FLAG_SYNC: dirty pages
 * are written back first, so every extent it reports is on the device). */
int st_extmap_load(struct st_extmap *m, int fd);

/* ---- ranges written through the kernel -------------------------------- */

/*
 * The byte ranges of a file written through the kernel since its map was
 * taken: sorted, disjoint, not touching. A set, not one interval, so that
 * writes into holes here and there do not make the whole span between
 * them dirty (and every device I/O in it a remap). Past ST_DIRTY_MAX
 * ranges the two nearest are joined (more dirty, never less).
 */
#define ST_DIRTY_MAX 1024

struct st_dirty {
	struct st_drange { uint64_t lo, hi; } *r;
	unsigned n, cap;
	int all;        /* everything (out of memory, or a write unseen) */
};

/* Adds [lo, hi), lo < hi. */
void st_dirty_add(struct st_dirty *d, uint64_t lo, uint64_t hi);
/* 1 when [lo, hi) meets a dirty range. */
int st_dirty_overlaps(const struct st_dirty *d, uint64_t lo, uint64_t hi);
/* Empties the set (keeps its memory); st_dirty_free gives that back. */
void st_dirty_clear(struct st_dirty *d);
void st_dirty_free(struct st_dirty *d);

/* ---- bounce rounding -------------------------------------------------- */

/* [*a, *a + *alen) is [off, off + len) widened to lba boundaries. */
static inline void st_round(uint64_t off, uint64_t len, uint32_t lba, uint64_t *a,
			    uint64_t *alen)
{
	*a = off & ~(uint64_t)(lba - 1);
	*alen = ((off + len + lba - 1) & ~(uint64_t)(lba - 1)) - *a;
}

/* ---- counters --------------------------------------------------------- */

struct st_stats {
	uint64_t dev_reads, dev_read_bytes, dev_writes, dev_write_bytes;
	uint64_t kern_reads, kern_read_bytes, kern_writes, kern_write_bytes;
	uint64_t flushes, bounce_copies, map_refreshes, errors;
	uint64_t flush_writers;       /* writer queue pairs the flushes covered */
	uint64_t rmw_writes;          /* partial-block writes read-modify-written */
	uint64_t nvme_cmds;           /* NVMe commands the shim built (passthru) */
	uint64_t fallback[ST_R_MAX];  /* pieces sent to the kernel, by reason */
	uint64_t qpairs;              /* queue pairs made */
	uint64_t files;               /* files opened on the storage path */
	uint64_t refused;             /* files kept on the kernel at open */
};

/* ---- the context, inodes, threads ------------------------------------- */

struct st_conf {
	const char *transport;  /* "auto" (storage/README.md), "uring", "passthru", "vfio" */
	unsigned queues;        /* at most this many queue pairs per device */
	unsigned depth;         /* entries per queue pair */
	int poll;               /* SQPOLL */
	int (*own_fd)(int fd);  /* the shim's descriptors out of the program's */
	const char *pci;        /* vfio: the controller (ACCEL_NVME) */
	int unsafe_noiommu;     /* vfio: ACCEL_NVME_UNSAFE_NOIOMMU */
};

struct st_ctx;
struct st_inode;
struct st_thread;

struct st_ctx *st_ctx_create(const struct st_conf *conf);

/* Frees the context, its inodes and devices; no thread may use it then,
 * and every st_thread of it was destroyed first. */
void st_ctx_destroy(struct st_ctx *c);

/* Adds what the program did outside any thread object (counted by
 * preload: calls that never reached storage) and sums every thread's
 * counters into out. */
void st_ctx_stats(struct st_ctx *c, struct st_stats *out);

/* The number of queue pairs made so far (accel-stat, tests). */
unsigned st_ctx_qpairs(struct st_ctx *c);

/*
 * The inode behind fd (a regular file the policy chose), made or shared,
 * with its device opened. Returns 0, or a negative errno with one line in
 * why when the file stays on the kernel (not a regular file, no FIEMAP,
 * the transport refused the device). *gen: the inode's identity for
 * st_inode_live.
 */
int st_inode_get(struct st_ctx *c, int fd, struct st_inode **out, unsigned *gen,
		 char *why, size_t whylen);
/* Drops a reference; when it was the last, returns the descriptor set
 * with st_inode_set_aux (for the caller to close), else -1. */
int st_inode_put(struct st_ctx *c, struct st_inode *ino);

/* 1 when ino was made by the st_inode_get just done (one reference). */
int st_inode_first(const struct st_inode *ino);

/* A descriptor the caller keeps for the inode (preload's lease fd). */
void st_inode_set_aux(struct st_inode *ino, int fd);

/* The file is the kernel's from now on, for why: ST_R_MMAP (mapped),
 * ST_R_OTHER_WRITER (a lease broke). Async-signal-safe. */
void st_inode_to_kernel(struct st_inode *ino, enum st_reason why);

/* The file's size or layout changed through the kernel (ftruncate,
 * fallocate): remap before the next device I/O. */
void st_inode_changed(struct st_inode *ino, int fd);

/* The kernel wrote fd somewhere this layer did not see (write(2) at the
 * file position, pwritev2 with flags): all of it is dirty until remapped. */
void st_inode_kernel_wrote(struct st_inode *ino);

struct st_thread *st_thread_create(struct st_ctx *c);
void st_thread_destroy(struct st_thread *t);

/* Counts a call sent to the kernel before it reached storage. */
void st_count_kernel(struct st_thread *t, enum st_reason why, int write, ssize_t r);

/* ---- the data path ---------------------------------------------------- */

/* What the fd allows (its open flags). */
#define ST_FD_READ   1u
#define ST_FD_WRITE  2u
#define ST_FD_APPEND 4u
#define ST_FD_DIRECT 8u

struct st_io {
	struct st_thread *t;
	struct st_inode *ino;
	unsigned gen;     /* from st_inode_get */
	int fd;           /* the program's fd: the kernel's calls use it */
	unsigned fdflags; /* ST_FD_* */
};

/* pread/pwrite with the kernel's result: a count, or a negative errno
 * (a device error is -EIO). */
ssize_t st_pread(const struct st_io *io, void *buf, size_t len, off_t off);
ssize_t st_pwrite(const struct st_io *io, const void *buf, size_t len, off_t off);

/* preadv/pwritev as a run of st_pread/st_pwrite, stopping at the first
 * short one (what the kernel returns for a regular file). */
ssize_t st_preadv(const struct st_io *io, const struct iovec *iov, int cnt, off_t off);
ssize_t st_pwritev(const struct st_io *io, const struct iovec *iov, int cnt, off_t off);

/* fsync (datasync 0) or fdatasync: FLUSH then the kernel's. */
int st_sync(const struct st_io *io, int datasync);

#endif
