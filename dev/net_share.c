/*
 * net_share.c - frames handed between the processes of one shared port.
 * See net_share.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "net_share.h"

#define SHARE_MAGIC 0x61636353484132ull /* "accSHA2": with the table of connections */
#define CONN_GONE 1ull   /* a removed entry's key (local port 1 from 0.0.0.0:0) */
#define CONN_PROBE 32    /* entries a look goes through at most */

struct share_entry {
	uint32_t len;
	uint8_t data[SHARE_FRAME];
};

struct share_slot {
	pthread_mutex_t lock; /* robust, process-shared: head and the entries */
	uint32_t head;        /* the next entry a forwarder fills (under lock) */
	uint32_t tail;        /* the next the owner takes (the owner's alone) */
	int32_t pid;          /* the slot's holder, 0 when none */
	uint32_t kicked;      /* a byte is in the FIFO since the owner's last take */
	struct share_entry e[SHARE_RING];
};

/* An accepted connection a slot serves: key rip << 32 | rport << 16 |
 * lport (0 never used, CONN_GONE removed), written under conns_lock and
 * read without it (the slot first, then the key, released). */
struct share_conn {
	uint64_t key;
	int32_t slot;
	uint32_t pad;
};

struct share_region {
	uint64_t magic;
	uint64_t owners[65536]; /* per local port, a bit per slot */
	struct share_slot slot[SHARE_SLOTS];
	pthread_mutex_t conns_lock; /* robust, process-shared: inserts, removals */
	struct share_conn conns[SHARE_CONNS];
};

struct share {
	struct share_region *r;
	unsigned me;
	int fifo;                  /* this slot's, read end (O_RDWR) */
	int out[SHARE_SLOTS];      /* the others' FIFOs, opened as needed */
	int32_t out_pid[SHARE_SLOTS]; /* whose FIFO out[] is */
	int (*own_fd)(int fd);
	char path[200];
};

/* Raw system calls: the program's own open, read and write are interposed,
 * and the tests run this with no accel_real table. */
static int sys_open(const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

static void sys_close(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}

static void fifo_name(char *buf, size_t len, const char *path, unsigned slot)
{
	snprintf(buf, len, "%s.q%u", path, slot);
}

static void region_init(struct share_region *r)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (unsigned i = 0; i < SHARE_SLOTS; i++)
		pthread_mutex_init(&r->slot[i].lock, &a);
	pthread_mutex_init(&r->conns_lock, &a);
	pthread_mutexattr_destroy(&a);
	__atomic_store_n(&r->magic, SHARE_MAGIC, __ATOMIC_RELEASE);
}

static int robust_lock(pthread_mutex_t *m)
{
	int rc = pthread_mutex_lock(m);

	if (rc == EOWNERDEAD) /* (its holder died inside: what it guards is whole) */
		rc = pthread_mutex_consistent(m);
	return rc;
}

static int slot_lock(struct share_slot *s)
{
	return robust_lock(&s->lock);
}

static uint64_t conn_key(uint32_t rip, uint16_t rport, uint16_t lport)
{
	return (uint64_t)rip << 32 | (uint32_t)rport << 16 | lport;
}

static unsigned conn_hash(uint64_t key)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 40) & (SHARE_CONNS - 1);
}

/* The slot that serves key, or -1 (no lock: a removal racing with the
 * look gives a stale slot, whose frame is then dropped there as late). */
static int conn_find(const struct share_region *r, uint64_t key)
{
	unsigned h = conn_hash(key);

	for (unsigned i = 0; i < CONN_PROBE; i++) {
		const struct share_conn *e = &r->conns[(h + i) & (SHARE_CONNS - 1)];
		uint64_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);

		if (k == 0)
			return -1;
		if (k == key)
			return __atomic_load_n(&e->slot, __ATOMIC_ACQUIRE);
	}
	return -1;
}

/* Every entry of slot me goes (under conns_lock). */
static void conns_clear(struct share_region *r, unsigned me)
{
	if (robust_lock(&r->conns_lock) != 0)
		return;
	for (unsigned i = 0; i < SHARE_CONNS; i++)
		if (r->conns[i].key > CONN_GONE && r->conns[i].slot == (int32_t)me)
			__atomic_store_n(&r->conns[i].key, CONN_GONE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->conns_lock);
}

static int kept(const struct share *sh, int fd)
{
	return fd >= 0 && sh->own_fd ? sh->own_fd(fd) : fd;
}

struct share *share_open(const char *path, unsigned slot, int (*own_fd)(int fd))
{
	struct share *sh;
	struct share_slot *s;
	char fifo[220];
	struct stat st;
	int fd;

	if (slot >= SHARE_SLOTS || strlen(path) >= sizeof(sh->path))
		return NULL;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return NULL;
	for (unsigned i = 0; i < SHARE_SLOTS; i++)
		sh->out[i] = -1;
	sh->me = slot;
	sh->fifo = -1;
	sh->own_fd = own_fd;
	snprintf(sh->path, sizeof(sh->path), "%s", path);
	fd = sys_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	/* (the first to map it makes it; the others wait on the flock) */
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0 ||
	    (st.st_size < (off_t)sizeof(struct share_region) &&
	     syscall(SYS_ftruncate, fd, (off_t)sizeof(struct share_region)) < 0)) {
		sys_close(fd);
		goto fail;
	}
	sh->r = mmap(NULL, sizeof(struct share_region), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		     0);
	if (sh->r == MAP_FAILED) {
		sh->r = NULL;
		sys_close(fd);
		goto fail;
	}
	if (__atomic_load_n(&sh->r->magic, __ATOMIC_ACQUIRE) != SHARE_MAGIC)
		region_init(sh->r);
	/* The slot is ours now (its lock file says so): what its last
	 * holder left, bits and frames, goes. */
	s = &sh->r->slot[slot];
	for (unsigned p = 0; p < 65536; p++)
		if (sh->r->owners[p] & 1ull << slot)
			__atomic_and_fetch(&sh->r->owners[p], ~(1ull << slot), __ATOMIC_RELAXED);
	conns_clear(sh->r, slot);
	if (slot_lock(s) == 0) {
		s->tail = s->head;
		__atomic_store_n(&s->kicked, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->pid, (int32_t)getpid(), __ATOMIC_RELEASE);
		pthread_mutex_unlock(&s->lock);
	}
	flock(fd, LOCK_UN);
	sys_close(fd);
	fifo_name(fifo, sizeof(fifo), path, slot);
	if (mkfifo(fifo, 0600) < 0 && errno != EEXIST)
		goto fail;
	sh->fifo = kept(sh, sys_open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0));
	if (sh->fifo < 0)
		goto fail;
	{ /* (bytes a former holder left) */
		char b[64];

		while (syscall(SYS_read, sh->fifo, b, sizeof(b)) > 0)
			;
	}
	return sh;
fail:
	share_close(sh);
	return NULL;
}

void share_close(struct share *sh)
{
	if (!sh)
		return;
	if (sh->r) {
		struct share_slot *s = &sh->r->slot[sh->me];

		for (unsigned p = 0; p < 65536; p++)
			if (sh->r->owners[p] & 1ull << sh->me)
				__atomic_and_fetch(&sh->r->owners[p], ~(1ull << sh->me),
						   __ATOMIC_RELAXED);
		conns_clear(sh->r, sh->me);
		__atomic_compare_exchange_n(&s->pid, &(int32_t){ (int32_t)getpid() }, 0, 0,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
		munmap(sh->r, sizeof(struct share_region));
	}
	sys_close(sh->fifo);
	for (unsigned i = 0; i < SHARE_SLOTS; i++)
		sys_close(sh->out[i]);
	free(sh);
}

int share_fd(const struct share *sh)
{
	return sh ? sh->fifo : -1;
}

void share_own(struct share *sh, uint16_t port, int on)
{
	uint64_t bit = 1ull << sh->me;

	if (on)
		__atomic_or_fetch(&sh->r->owners[port], bit, __ATOMIC_RELEASE);
	else
		__atomic_and_fetch(&sh->r->owners[port], ~bit, __ATOMIC_RELEASE);
}

/* Whether slot k's holder runs. */
static int alive(const struct share *sh, unsigned k)
{
	int32_t pid = __atomic_load_n(&sh->r->slot[k].pid, __ATOMIC_ACQUIRE);

	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int share_taken(const struct share *sh, uint16_t port)
{
	uint64_t o = __atomic_load_n(&sh->r->owners[port], __ATOMIC_ACQUIRE) & ~(1ull << sh->me);

	for (unsigned k = 0; o; k++, o >>= 1)
		if ((o & 1) && alive(sh, k))
			return 1;
	return 0;
}

int share_conn(struct share *sh, uint32_t rip, uint16_t rport, uint16_t lport, int on)
{
	uint64_t key = conn_key(rip, rport, lport);
	unsigned h = conn_hash(key);
	struct share_conn *free_e = NULL;
	int rc = 0;

	if (!rip || robust_lock(&sh->r->conns_lock) != 0)
		return 0;
	for (unsigned i = 0; i < CONN_PROBE; i++) {
		struct share_conn *e = &sh->r->conns[(h + i) & (SHARE_CONNS - 1)];

		if (e->key == key) {
			if (on) { /* (a sibling's left over, or ours again) */
				__atomic_store_n(&e->slot, (int32_t)sh->me, __ATOMIC_RELEASE);
				rc = 1;
			} else if (e->slot == (int32_t)sh->me) {
				__atomic_store_n(&e->key, CONN_GONE, __ATOMIC_RELEASE);
				rc = 1;
			}
			free_e = NULL;
			break;
		}
		if (e->key <= CONN_GONE && !free_e)
			free_e = e;
		if (e->key == 0)
			break;
	}
	if (on && free_e) {
		__atomic_store_n(&free_e->slot, (int32_t)sh->me, __ATOMIC_RELEASE);
		__atomic_store_n(&free_e->key, key, __ATOMIC_RELEASE);
		rc = 1;
	}
	pthread_mutex_unlock(&sh->r->conns_lock);
	return rc;
}

int share_target(const struct share *sh, uint16_t lport, uint32_t rip, uint16_t rport)
{
	uint64_t o = __atomic_load_n(&sh->r->owners[lport], __ATOMIC_ACQUIRE);
	unsigned n, pick;
	int k = conn_find(sh->r, conn_key(rip, rport, lport));

	/* (an accepted connection: its slot, whoever else owns the port) */
	if (k >= 0)
		return k != (int)sh->me && k < SHARE_SLOTS && alive(sh, (unsigned)k) ? k : -1;
	if (!o || (o & 1ull << sh->me))
		return -1;
	n = (unsigned)__builtin_popcountll(o);
	/* (several owners: a group of another's on the port; the peer's
	 * address picks one, the same one for every segment of a flow) */
	pick = n > 1 ? (unsigned)(((uint64_t)rip * 0x9e3779b97f4a7c15ull ^ rport) % n) : 0;
	for (unsigned k = 0; k < SHARE_SLOTS; k++)
		if ((o >> k & 1) && pick-- == 0)
			return k;
	return -1;
}

/* Writes a byte to slot to's FIFO, opening it first if need be. */
static void kick(struct share *sh, unsigned to)
{
	int32_t pid = __atomic_load_n(&sh->r->slot[to].pid, __ATOMIC_ACQUIRE);
	char one = 1;

	if (sh->out[to] >= 0 && sh->out_pid[to] != pid) {
		sys_close(sh->out[to]); /* (another holder since) */
		sh->out[to] = -1;
	}
	if (sh->out[to] < 0) {
		char fifo[220];

		fifo_name(fifo, sizeof(fifo), sh->path, to);
		/* (read-write: with a reader of its own the FIFO never raises
		 * SIGPIPE in the program when its owner dies after the open) */
		sh->out[to] = kept(sh, sys_open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC, 0));
		sh->out_pid[to] = pid;
	}
	if (sh->out[to] >= 0)
		(void)!syscall(SYS_write, sh->out[to], &one, 1);
}

int share_put(struct share *sh, unsigned to, const void *frame, size_t len)
{
	struct share_slot *s;
	int rc = 0;

	if (to >= SHARE_SLOTS || to == sh->me || len > SHARE_FRAME)
		return -ENOBUFS;
	if (!alive(sh, to))
		return -ESRCH;
	s = &sh->r->slot[to];
	if (slot_lock(s) != 0)
		return -ENOBUFS;
	if (s->head - __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE) >= SHARE_RING) {
		rc = -ENOBUFS;
	} else {
		struct share_entry *e = &s->e[s->head % SHARE_RING];

		memcpy(e->data, frame, len);
		e->len = (uint32_t)len;
		__atomic_store_n(&s->head, s->head + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && !__atomic_exchange_n(&s->kicked, 1, __ATOMIC_SEQ_CST))
		kick(sh, to);
	return rc;
}

int share_pending(const struct share *sh)
{
	const struct share_slot *s = &sh->r->slot[sh->me];

	return __atomic_load_n(&s->head, __ATOMIC_ACQUIRE) != s->tail;
}

size_t share_take(struct share *sh, void *buf, size_t cap)
{
	struct share_slot *s = &sh->r->slot[sh->me];
	struct share_entry *e;
	size_t len;

	/* The kick first, then the frames: a forwarder that finds it clear
	 * after this writes again, and its frame is seen by the next take. */
	if (__atomic_exchange_n(&s->kicked, 0, __ATOMIC_SEQ_CST)) {
		char b[64];

		while (syscall(SYS_read, sh->fifo, b, sizeof(b)) > 0)
			;
	}
	if (__atomic_load_n(&s->head, __ATOMIC_ACQUIRE) == s->tail)
		return 0;
	e = &s->e[s->tail % SHARE_RING];
	len = e->len <= SHARE_FRAME && e->len <= cap ? e->len : 0;
	memcpy(buf, e->data, len);
	__atomic_store_n(&s->tail, s->tail + 1, __ATOMIC_RELEASE);
	return len;
}
