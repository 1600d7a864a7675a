/*
 * st_impl.h - the storage layer's objects, shared by its files only.
 */
#ifndef ACCEL_STORAGE_IMPL_H
#define ACCEL_STORAGE_IMPL_H

#include <pthread.h>

#include "../dev/nvme.h"
#include "storage.h"

#define ST_MAX_DEVS 8
/* Per-thread bounce buffer: the largest piece one unaligned copy moves. */
#define ST_BOUNCE (1u << 20)
/* The largest device command (io_uring takes 32-bit lengths). */
#define ST_MAX_CMD (1u << 30)
/* The page cache's unit: dirty ranges and cache drops are widened to it. */
#define ST_PAGE 4096u

struct st_dev {
	dev_t id;
	unsigned index;                 /* in st_ctx.devs and st_thread.q */
	struct dev_nvme_dev *d;         /* NULL: refused */
	unsigned qpairs;                /* owned ones in use */
	struct dev_nvme_qpair *shared;  /* for threads past the cap */
	pthread_mutex_t shared_lock;
};

struct st_inode {
	struct st_inode *next;
	pthread_rwlock_t lock;
	dev_t dev;
	ino_t ino;
	unsigned gen, refs;             /* refs: under st_ctx.lock */
	struct st_dev *sd;
	/* under lock: */
	struct st_extmap map;
	int stale;                      /* remap before the next device I/O */
	uint64_t size;                  /* EOF as this process made it */
	uint64_t dirty_lo, dirty_hi;    /* written through the kernel, pages */
	/* atomics: */
	int kernel_only;                /* an st_reason: the kernel's for good */
	int aux_fd;                     /* the caller's (lease), -1 none */
	int wrote;                      /* device writes since the last flush */
};

struct st_tq {
	struct st_dev *sd;
	struct dev_nvme_qpair *qp;
	pthread_mutex_t *lock;          /* NULL: the thread's own */
};

struct st_thread {
	struct st_thread *next, *prev;
	struct st_ctx *c;
	struct st_tq q[ST_MAX_DEVS];
	void *bounce;
	struct st_stats s;
};

struct st_ctx {
	struct st_conf conf;
	const struct dev_nvme_transport_ops *ops;
	int automatic;                  /* "auto": passthru where it can, else ops */
	pthread_mutex_t lock;
	struct st_dev devs[ST_MAX_DEVS];
	unsigned ndevs;
	struct st_inode *inodes;
	struct st_thread *threads;
	struct st_stats dead;           /* of threads that ended */
	uint64_t qpairs_made, files, refused;
};

/* The largest command a device takes (its transport's limit, if lower). */
static inline uint64_t st_max_cmd(const struct dev_nvme_dev *d)
{
	return d->info.max_cmd && d->info.max_cmd < ST_MAX_CMD ? d->info.max_cmd
							       : ST_MAX_CMD;
}

/* A counter of the thread's own: one writer, read by the sum. */
#define ST_ADD(t, field, n) \
	__atomic_store_n(&(t)->s.field, (t)->s.field + (n), __ATOMIC_RELAXED)

int st_inode_refresh(struct st_inode *ino, int fd);
int st_thread_queue(struct st_thread *t, struct st_dev *sd, struct st_tq **out);

#endif
