/*
 * ctx.c - the storage context: devices (opened once each, refused once
 * each), inodes shared by every fd of a file, and the threads with their
 * queue pairs and counters. See storage.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/log.h"
#include "st_impl.h"

struct st_ctx *st_ctx_create(const struct st_conf *conf)
{
	struct st_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->conf = *conf;
	c->automatic = strcmp(conf->transport, "auto") == 0;
	c->ops = dev_nvme_transport(c->automatic ? "uring" : conf->transport);
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* Every object the context made, for a program that is done with it (at
 * exit, and the unit tests): no thread may use it any more, and the
 * threads' own objects were destroyed first. */
void st_ctx_destroy(struct st_ctx *c)
{
	struct st_inode *i, *next;

	if (!c)
		return;
	for (i = c->inodes; i; i = next) {
		next = i->next;
		st_extmap_clear(&i->map);
		st_dirty_free(&i->dirty);
		pthread_rwlock_destroy(&i->lock);
		free(i);
	}
	for (unsigned d = 0; d < c->ndevs; d++) {
		struct st_dev *sd = &c->devs[d];

		if (sd->shared)
			dev_nvme_qpair_destroy(sd->d, sd->shared);
		if (sd->d)
			dev_nvme_close(sd->d);
		pthread_mutex_destroy(&sd->shared_lock);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The "auto" rule: an NVMe namespace that has its generic char device
 * takes "passthru"; anything else (-EMEDIUMTYPE) "uring". A namespace
 * passthru refuses for another reason (its proof failed) goes to uring
 * too, said once. */
static int auto_passthru(dev_t id, const struct dev_nvme_conf *nc, struct dev_nvme_dev **d)
{
	const struct dev_nvme_transport_ops *pt = dev_nvme_transport("passthru");
	char why[256] = "";
	int rc;

	if (!pt)
		return 0;
	if ((rc = dev_nvme_open(pt, id, nc, d, why, sizeof(why))) == 0)
		return 1;
	*d = NULL;
	if (rc != -EMEDIUMTYPE)
		ACCEL_WARN("storage: %u:%u: passthru refused (%s); using uring", major(id),
			   minor(id), why);
	return 0;
}

/* The device st_dev names, opened on first use; NULL with why when the
 * transport refused it (said once: later files get why = ""). */
static struct st_dev *dev_get(struct st_ctx *c, dev_t id, char *why, size_t whylen)
{
	struct dev_nvme_conf nc = {
		.depth = c->conf.depth, .poll = c->conf.poll, .own_fd = c->conf.own_fd,
		.queues = c->conf.queues, .pci = c->conf.pci,
		.unsafe_noiommu = c->conf.unsafe_noiommu,
	};
	struct st_dev *sd;

	for (unsigned i = 0; i < c->ndevs; i++) {
		sd = &c->devs[i];
		if (sd->id != id)
			continue;
		if (sd->d)
			return sd;
		snprintf(why, whylen, "%s", "");
		return NULL;
	}
	if (c->ndevs == ST_MAX_DEVS) {
		snprintf(why, whylen, "more than %d devices", ST_MAX_DEVS);
		return NULL;
	}
	sd = &c->devs[c->ndevs++];
	sd->id = id;
	sd->index = (unsigned)(sd - c->devs);
	pthread_mutex_init(&sd->shared_lock, NULL);
	if (!c->ops) {
		snprintf(why, whylen, "no transport named '%s'", c->conf.transport);
		return NULL;
	}
	if (c->automatic && auto_passthru(id, &nc, &sd->d))
		return sd;
	if (dev_nvme_open(c->ops, id, &nc, &sd->d, why, whylen) < 0) {
		sd->d = NULL;
		return NULL;
	}
	return sd;
}

/* fstat and FIEMAP again (under the write lock). */
int st_inode_refresh(struct st_inode *ino, int fd)
{
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((rc = st_extmap_load(&ino->map, fd)) < 0)
		return rc;
	ino->size = (uint64_t)st.st_size;
	st_dirty_clear(&ino->dirty);
	ino->stale = 0;
	return 0;
}

static struct st_inode *inode_find(struct st_ctx *c, const struct stat *st)
{
	for (struct st_inode *i = c->inodes; i; i = i->next)
		if (i->refs && i->dev == st->st_dev && i->ino == st->st_ino)
			return i;
	return NULL;
}

/* An unused inode object, or a new one. Objects are never freed: a stale
 * pointer (an fd closed by another thread mid-call) still points at an
 * inode, whose gen then tells it is not the caller's any more. */
static struct st_inode *inode_slot(struct st_ctx *c)
{
	struct st_inode *i;

	for (i = c->inodes; i; i = i->next)
		if (!i->refs)
			return i;
	if (!(i = calloc(1, sizeof(*i))))
		return NULL;
	pthread_rwlock_init(&i->lock, NULL);
	i->next = c->inodes;
	c->inodes = i;
	return i;
}

static int inode_new(struct st_ctx *c, int fd, const struct stat *st, struct st_dev *sd,
		     struct st_inode **out, char *why, size_t whylen)
{
	struct st_inode *i = inode_slot(c);
	int rc;

	if (!i)
		return -ENOMEM;
	pthread_rwlock_wrlock(&i->lock);
	i->dev = st->st_dev;
	i->ino = st->st_ino;
	i->sd = sd;
	i->kernel_only = 0;
	i->aux_fd = -1;
	i->wrote = 0;
	i->gen++;
	if ((rc = st_inode_refresh(i, fd)) < 0) {
		pthread_rwlock_unlock(&i->lock);
		snprintf(why, whylen, "no extent map (FS_IOC_FIEMAP: %s)", strerror(-rc));
		return rc;
	}
	i->refs = 1;
	pthread_rwlock_unlock(&i->lock);
	*out = i;
	return 0;
}

int st_inode_get(struct st_ctx *c, int fd, struct st_inode **out, unsigned *gen,
		 char *why, size_t whylen)
{
	struct st_dev *sd;
	struct stat st;
	int rc = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s", "not a regular file");
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	if ((*out = inode_find(c, &st))) {
		(*out)->refs++;
	} else if (!(sd = dev_get(c, st.st_dev, why, whylen))) {
		rc = -ENODEV;
	} else {
		rc = inode_new(c, fd, &st, sd, out, why, whylen);
	}
	if (rc == 0) {
		*gen = (*out)->gen;
		c->files++;
	} else {
		c->refused++;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int st_inode_put(struct st_ctx *c, struct st_inode *ino)
{
	int aux = -1;

	pthread_mutex_lock(&c->lock);
	if (ino->refs && --ino->refs == 0) {
		pthread_rwlock_wrlock(&ino->lock);
		ino->gen++; /* any fd still naming it goes to the kernel */
		/* Unflushed device writes outlive the inode: a later open's
		 * fsync must still flush them (the kernel's own fsync of a
		 * file with nothing dirty need not flush the device). */
		__atomic_fetch_or(&ino->sd->closed_wrote,
				  __atomic_exchange_n(&ino->wrote, 0, __ATOMIC_ACQ_REL),
				  __ATOMIC_RELEASE);
		st_extmap_clear(&ino->map);
		aux = ino->aux_fd;
		ino->aux_fd = -1;
		pthread_rwlock_unlock(&ino->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return aux;
}

int st_inode_first(const struct st_inode *ino)
{
	return __atomic_load_n(&ino->refs, __ATOMIC_RELAXED) == 1 && ino->aux_fd < 0;
}

void st_inode_set_aux(struct st_inode *ino, int fd)
{
	ino->aux_fd = fd;
}

void st_inode_to_kernel(struct st_inode *ino, enum st_reason why)
{
	int none = 0;

	__atomic_compare_exchange_n(&ino->kernel_only, &none, (int)why, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void st_inode_changed(struct st_inode *ino, int fd)
{
	(void)fd;
	pthread_rwlock_wrlock(&ino->lock);
	ino->stale = 1;
	pthread_rwlock_unlock(&ino->lock);
}

void st_inode_kernel_wrote(struct st_inode *ino)
{
	pthread_rwlock_wrlock(&ino->lock);
	ino->dirty.all = 1;
	ino->stale = 1; /* and the size may have changed */
	pthread_rwlock_unlock(&ino->lock);
}

/* ---- threads ------------------------------------------------------------ */

struct st_thread *st_thread_create(struct st_ctx *c)
{
	struct st_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (posix_memalign(&t->bounce, 4096, ST_BOUNCE)) {
		free(t);
		return NULL;
	}
	t->c = c;
	pthread_mutex_lock(&c->lock);
	t->next = c->threads;
	if (c->threads)
		c->threads->prev = t;
	c->threads = t;
	pthread_mutex_unlock(&c->lock);
	return t;
}

static void stats_add(struct st_stats *to, const struct st_stats *from)
{
	const uint64_t *f = (const uint64_t *)from;
	uint64_t *o = (uint64_t *)to;

	_Static_assert(sizeof(struct st_stats) % sizeof(uint64_t) == 0,
		       "st_stats is all uint64_t");
	for (size_t i = 0; i < sizeof(*from) / sizeof(uint64_t); i++)
		o[i] += __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

void st_thread_destroy(struct st_thread *t)
{
	struct st_ctx *c = t->c;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < ST_MAX_DEVS; i++)
		if (t->q[i].qp && !t->q[i].lock) {
			dev_nvme_qpair_destroy(t->q[i].sd->d, t->q[i].qp);
			t->q[i].sd->qpairs--; /* its place is free for another thread */
			if (t->q[i].slot != ST_SLOT_SHARED)
				t->q[i].sd->slots &= ~(1ull << t->q[i].slot);
		}
	if (t->prev)
		t->prev->next = t->next;
	else
		c->threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	stats_add(&c->dead, &t->s);
	pthread_mutex_unlock(&c->lock);
	free(t->bounce);
	free(t);
}

/* How many queue pairs of sd threads may own: ACCEL_STORAGE_QUEUES, or
 * fewer when the transport can make fewer (one is then left for the
 * shared pair). */
static unsigned owned_cap(const struct st_ctx *c, const struct st_dev *sd)
{
	unsigned max = sd->d->info.max_qpairs;

	if (!max || max > c->conf.queues)
		return c->conf.queues;
	return max - 1;
}

/* The thread's queue pair on sd: its own while there are fewer than
 * owned_cap, else the device's shared one under its lock. */
int st_thread_queue(struct st_thread *t, struct st_dev *sd, struct st_tq **out)
{
	struct st_tq *q = &t->q[sd->index];
	struct st_ctx *c = t->c;
	int rc = 0;

	if (q->qp) {
		*out = q;
		return 0;
	}
	pthread_mutex_lock(&c->lock);
	if (sd->qpairs < owned_cap(c, sd)) {
		if ((rc = dev_nvme_qpair_create(sd->d, &q->qp)) == 0) {
			uint64_t free_slots = ~sd->slots & ~(1ull << ST_SLOT_SHARED);

			sd->qpairs++;
			c->qpairs_made++;
			q->slot = free_slots ? (unsigned)__builtin_ctzll(free_slots) :
					       ST_SLOT_SHARED;
			if (q->slot != ST_SLOT_SHARED)
				sd->slots |= 1ull << q->slot;
		}
	} else {
		if (!sd->shared && (rc = dev_nvme_qpair_create(sd->d, &sd->shared)) == 0)
			c->qpairs_made++;
		if (rc == 0) {
			q->qp = sd->shared;
			q->lock = &sd->shared_lock;
			q->slot = ST_SLOT_SHARED;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		q->qp = NULL;
		return rc;
	}
	q->sd = sd;
	*out = q;
	return 0;
}

unsigned st_ctx_qpairs(struct st_ctx *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = (unsigned)c->qpairs_made;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void st_ctx_stats(struct st_ctx *c, struct st_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	stats_add(out, &c->dead);
	for (struct st_thread *t = c->threads; t; t = t->next)
		stats_add(out, &t->s);
	out->qpairs = c->qpairs_made;
	out->files = c->files;
	out->refused = c->refused;
	pthread_mutex_unlock(&c->lock);
}
