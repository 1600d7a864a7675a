/*
 * test_io.c - the read/write/fsync contract (storage/io.c, ctx.c) on a
 * real file of the file system the tests run on, with a mock transport
 * in place of dev/nvme.c: its "device" is the same file seen through its
 * own extent map (a physical offset is turned back into the file offset
 * FIEMAP gives for it), so every device read must return exactly the
 * kernel's bytes, and it can fail a command on demand. Checked: which
 * calls go to the device and which to the kernel and why, results and
 * short reads equal to the kernel's, bounce copies for unaligned I/O, a
 * write past EOF remapped before it is read from the device, a failed or
 * short command returned as EIO, a failed flush as fsync's EIO, and a
 * closed inode sending a stale fd's calls to the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../dev/nvme.h"
#include "../../storage/storage.h"

#define BLK 4096

/* ---- the mock transport -------------------------------------------------- */

static int mock_fd = -1;       /* the file the "device" is made of */
static int mock_fail;          /* next command: 1 = EIO, 2 = short */
static unsigned mock_reads, mock_writes, mock_flushes, mock_bad;

struct dev_nvme_qpair {
	struct dev_nvme_cpl pending[8];
	unsigned n;
};

static int mock_open(dev_t dev, const struct dev_nvme_conf *conf,
		     struct dev_nvme_dev **out, char *why, size_t whylen)
{
	static struct dev_nvme_dev d;
	extern const struct dev_nvme_transport_ops mock_ops;

	(void)dev, (void)conf, (void)why, (void)whylen;
	d.ops = &mock_ops;
	d.info.lba_size = 512;
	*out = &d;
	return 0;
}

static void mock_close(struct dev_nvme_dev *d) { (void)d; }

static int mock_qp(struct dev_nvme_dev *d, struct dev_nvme_qpair **out)
{
	(void)d;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void mock_qp_destroy(struct dev_nvme_qpair *q) { free(q); }

/* The file offset of physical byte p, from the file's own map. */
static int64_t logical_of(uint64_t p)
{
	struct st_extmap m = { 0 };
	int64_t l = -1;

	assert_int_equal(st_extmap_load(&m, mock_fd), 0);
	for (unsigned i = 0; i < m.n; i++)
		if (p >= m.ext[i].physical && p < m.ext[i].physical + m.ext[i].length)
			l = (int64_t)(m.ext[i].logical + (p - m.ext[i].physical));
	st_extmap_clear(&m);
	return l;
}

static int32_t mock_result(uint32_t len)
{
	int f = mock_fail;

	mock_fail = 0;
	return f == 1 ? -EIO : f == 2 ? (int32_t)len / 2 : (int32_t)len;
}

static int mock_rw(struct dev_nvme_qpair *q, void *buf, uint32_t len, uint64_t off,
		   uint64_t tag, int write)
{
	int64_t l = logical_of(off);
	int32_t res = mock_result(len);

	/* every byte asked for is one of the file's own (noted, not asserted
	 * here: a jump out of the storage layer would leave its lock held) */
	if (l < 0 || logical_of(off + len - 1) != l + len - 1 || off % 512 || len % 512) {
		print_message("device command %llu+%u outside the file's blocks\n",
			      (unsigned long long)off, len);
		mock_bad++;
		res = -EIO;
	} else if (res > 0 && write) {
		if (pwrite(mock_fd, buf, len, l) != len)
			mock_bad++;
	} else if (res > 0) {
		/* the last block past EOF: the device has it (zeros here) */
		ssize_t n = pread(mock_fd, buf, len, l);

		if (n < 0)
			mock_bad++;
		else
			memset((char *)buf + n, 0, len - (size_t)n);
	}
	q->pending[q->n++] = (struct dev_nvme_cpl){ tag, res };
	return 0;
}

static int mock_read(struct dev_nvme_qpair *q, void *buf, uint32_t len, uint64_t off,
		     uint64_t tag)
{
	mock_reads++;
	return mock_rw(q, buf, len, off, tag, 0);
}

static int mock_write(struct dev_nvme_qpair *q, const void *buf, uint32_t len,
		      uint64_t off, uint64_t tag)
{
	mock_writes++;
	return mock_rw(q, (void *)buf, len, off, tag, 1);
}

static int mock_flush(struct dev_nvme_qpair *q, uint64_t tag)
{
	mock_flushes++;
	q->pending[q->n++] = (struct dev_nvme_cpl){ tag, mock_fail ? (mock_fail = 0, -EIO) : 0 };
	return 0;
}

static int mock_poll(struct dev_nvme_qpair *q, struct dev_nvme_cpl *cpl, unsigned max,
		     unsigned wait)
{
	unsigned n = q->n < max ? q->n : max;

	(void)wait;
	memcpy(cpl, q->pending, n * sizeof(*cpl));
	memmove(q->pending, q->pending + n, (q->n - n) * sizeof(*cpl));
	q->n -= n;
	return (int)n;
}

const struct dev_nvme_transport_ops mock_ops = {
	.name = "mock", .open = mock_open, .close = mock_close, .qpair_create = mock_qp,
	.qpair_destroy = mock_qp_destroy, .submit_read = mock_read,
	.submit_write = mock_write, .submit_flush = mock_flush, .poll = mock_poll,
};

/* What storage/ calls in dev/nvme.c, here on the mock. */
const struct dev_nvme_transport_ops *dev_nvme_transport(const char *name)
{
	return strcmp(name, "mock") == 0 ? &mock_ops : NULL;
}

/* ---- the tests ------------------------------------------------------------ */

struct fx {
	struct st_ctx *c;
	struct st_thread *t;
	struct st_io io;
	char path[64];
};

static unsigned char pat(uint64_t pos)
{
	return (unsigned char)(pos * 7 + (pos >> 9));
}

static int setup(void **state)
{
	static const struct st_conf conf = { .transport = "mock", .queues = 4, .depth = 8 };
	struct fx *f = calloc(1, sizeof(*f));
	unsigned char *b = malloc(16 * BLK);
	char why[192];

	snprintf(f->path, sizeof(f->path), "./test-io-XXXXXX");
	mock_fd = mkstemp(f->path);
	unlink(f->path); /* nothing left behind, even if a test dies */
	for (int i = 0; i < 16 * BLK; i++)
		b[i] = pat((uint64_t)i);
	/* 0..40 KiB written, a hole to 48 KiB, 48..64 KiB written, EOF at
	 * 64 KiB - 100 */
	assert_int_equal(pwrite(mock_fd, b, 10 * BLK, 0), 10 * BLK);
	assert_int_equal(pwrite(mock_fd, b + 12 * BLK, 4 * BLK - 100, 12 * BLK),
			 4 * BLK - 100);
	assert_int_equal(fdatasync(mock_fd), 0);
	free(b);
	f->c = st_ctx_create(&conf);
	f->t = st_thread_create(f->c);
	if (st_inode_get(f->c, mock_fd, &f->io.ino, &f->io.gen, why, sizeof(why)) < 0) {
		print_message("no FIEMAP here (%s): nothing to test\n", why);
		skip();
	}
	f->io.t = f->t;
	f->io.fd = mock_fd;
	f->io.fdflags = ST_FD_READ | ST_FD_WRITE;
	mock_reads = mock_writes = mock_flushes = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unsigned bad = mock_bad;

	mock_bad = 0;
	st_inode_put(f->c, f->io.ino);
	st_thread_destroy(f->t);
	st_ctx_destroy(f->c);
	close(mock_fd);
	free(f);
	assert_int_equal(bad, 0);
	return 0;
}

static struct st_stats stats(struct fx *f)
{
	struct st_stats s;

	st_ctx_stats(f->c, &s);
	return s;
}

/* st_pread against the kernel's pread, byte for byte and in length. */
static void read_like_kernel(struct fx *f, off_t off, size_t len, int align)
{
	unsigned char *a = NULL, *k = malloc(len + 1), *p;
	ssize_t r, rk;

	assert_int_equal(posix_memalign((void **)&a, 4096, len + 1), 0);
	p = align ? a : a + 1;
	r = st_pread(&f->io, p, len, off);
	rk = pread(mock_fd, k, len, off);

	assert_int_equal(r, rk);
	if (rk > 0)
		assert_memory_equal(p, k, (size_t)rk);
	free(a);
	free(k);
}

static void test_reads_match_kernel(void **state)
{
	struct fx *f = *state;
	struct st_stats s;

	read_like_kernel(f, 0, BLK, 1);
	s = stats(f);
	assert_int_equal(s.dev_reads, 1);
	assert_int_equal(s.bounce_copies, 0);
	read_like_kernel(f, 77, 8257, 0);             /* unaligned: bounced */
	assert_true(stats(f).bounce_copies > 0);
	read_like_kernel(f, 8 * BLK, 6 * BLK, 1);     /* across the hole */
	s = stats(f);
	assert_int_equal(s.fallback[ST_R_HOLE], 1);
	read_like_kernel(f, 15 * BLK, 2 * BLK, 0);    /* short at EOF */
	read_like_kernel(f, 16 * BLK, BLK, 1);        /* past EOF: 0 */
	assert_int_equal(stats(f).fallback[ST_R_EOF], 1);
	for (int i = 0; i < 200; i++)
		read_like_kernel(f, random() % (17 * BLK), 1 + (size_t)(random() % (3 * BLK)),
				 (int)(random() & 1));
	assert_int_equal(stats(f).errors, 0);
}

static void test_writes(void **state)
{
	struct fx *f = *state;
	unsigned char b[2 * BLK + 1], k[2 * BLK];

	memset(b, 0xab, sizeof(b));
	/* an aligned overwrite: the device, from an unaligned buffer */
	assert_int_equal(st_pwrite(&f->io, b + 1, 2 * BLK, BLK), 2 * BLK);
	assert_int_equal(mock_writes, 1);
	assert_int_equal(pread(mock_fd, k, 2 * BLK, BLK), 2 * BLK);
	assert_memory_equal(k, b, 2 * BLK);
	/* a partial block: read, merged, written back whole (the device) */
	assert_int_equal(st_pwrite(&f->io, b, 100, 3 * BLK + 5), 100);
	assert_int_equal(mock_writes, 2);
	assert_int_equal(stats(f).rmw_writes, 1);
	read_like_kernel(f, 3 * BLK, BLK, 1);
	/* across blocks, both edges partial, from an unaligned buffer */
	assert_int_equal(st_pwrite(&f->io, b + 1, BLK + 700, 5 * BLK - 300), BLK + 700);
	assert_int_equal(stats(f).rmw_writes, 2);
	read_like_kernel(f, 4 * BLK, 3 * BLK, 1);
	assert_int_equal(pread(mock_fd, k, 1, 5 * BLK - 301), 1);
	assert_int_not_equal(k[0], 0xab);
	/* past EOF, or partly into the hole: the kernel's */
	assert_int_equal(st_pwrite(&f->io, b, BLK, 20 * BLK), BLK);
	assert_int_equal(stats(f).fallback[ST_R_EOF], 1);
	assert_int_equal(st_pwrite(&f->io, b, 300, 10 * BLK - 100), 300);
	assert_int_equal(stats(f).fallback[ST_R_HOLE], 1);
	assert_int_equal(mock_writes, 3);
	/* reading what the kernel wrote: remapped first, then the device */
	read_like_kernel(f, 20 * BLK, BLK, 1);
	read_like_kernel(f, 3 * BLK, BLK, 1);
	assert_true(stats(f).map_refreshes >= 1);
	/* a write into the hole the kernel's too */
	assert_int_equal(st_pwrite(&f->io, b, BLK, 11 * BLK), BLK);
	assert_int_equal(stats(f).fallback[ST_R_HOLE], 2);
	read_like_kernel(f, 9 * BLK, 3 * BLK, 1);
	/* fdatasync flushes once after device writes, not without them */
	assert_int_equal(st_sync(&f->io, 1), 0);
	assert_int_equal(mock_flushes, 1);
	assert_int_equal(st_sync(&f->io, 1), 0);
	assert_int_equal(mock_flushes, 1);
}

/* A writer thread: its own st_thread (so its own queue pair), one
 * aligned overwrite on the device; the st_thread is handed back to be
 * destroyed after the fsync (its writes stay the inode's either way). */
struct writer {
	struct fx *f;
	off_t off;
	struct st_thread *t;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct st_io io = w->f->io;
	unsigned char b[BLK];

	memset(b, 0x5a, sizeof(b));
	io.t = w->t = st_thread_create(w->f->c);
	if (st_pwrite(&io, b, BLK, w->off) != BLK)
		w->t = NULL;
	return NULL;
}

static void run_writer(struct fx *f, struct writer *w, off_t off)
{
	pthread_t th;

	w->f = f;
	w->off = off;
	assert_int_equal(pthread_create(&th, NULL, writer_main, w), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_non_null(w->t);
}

/* Two threads write the file on their own queue pairs; a third fsyncs:
 * one FLUSH covers both writers, and the next fsync has none to do. */
static void test_fsync_covers_every_writer(void **state)
{
	struct fx *f = *state;
	struct writer w1, w2, w3;
	unsigned char k[BLK];

	run_writer(f, &w1, 0);
	run_writer(f, &w2, 2 * BLK);
	assert_int_equal(mock_writes, 2);
	assert_int_equal(stats(f).qpairs, 2);
	assert_int_equal(st_sync(&f->io, 1), 0);
	assert_int_equal(mock_flushes, 1);
	assert_int_equal(stats(f).flushes, 1);
	assert_int_equal(stats(f).flush_writers, 2);
	assert_int_equal(st_sync(&f->io, 0), 0);
	assert_int_equal(mock_flushes, 1);
	/* a writer after the flush: the next fsync flushes again, for it */
	run_writer(f, &w3, 4 * BLK);
	assert_int_equal(st_sync(&f->io, 1), 0);
	assert_int_equal(mock_flushes, 2);
	assert_int_equal(stats(f).flush_writers, 3);
	assert_int_equal(pread(mock_fd, k, BLK, 2 * BLK), BLK);
	assert_int_equal(k[0], 0x5a);
	st_thread_destroy(w1.t);
	st_thread_destroy(w2.t);
	st_thread_destroy(w3.t);
}

/* Two threads merging single bytes into the same block at once: each
 * read-modify-write holds the inode's write lock, so no byte is lost. */
struct merger {
	struct fx *f;
	int first;
	unsigned char v;
	ssize_t bad;
};

static void *merger_main(void *arg)
{
	struct merger *m = arg;
	struct st_io io = m->f->io;

	io.t = st_thread_create(m->f->c);
	for (int i = m->first; i < 400; i += 2)
		if (st_pwrite(&io, &m->v, 1, 6 * BLK + i) != 1)
			m->bad++;
	st_thread_destroy(io.t);
	return NULL;
}

static void test_rmw_same_block(void **state)
{
	struct fx *f = *state;
	struct merger m[2] = { { f, 0, 0x11, 0 }, { f, 1, 0x22, 0 } };
	pthread_t th[2];
	unsigned char k[400];

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, merger_main, &m[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(m[0].bad + m[1].bad, 0);
	assert_int_equal(pread(mock_fd, k, sizeof(k), 6 * BLK), sizeof(k));
	for (int i = 0; i < 400; i++)
		assert_int_equal(k[i], i & 1 ? 0x22 : 0x11);
	assert_int_equal(stats(f).rmw_writes, 400);
}

/* Device writes of a file closed unflushed are flushed by the next fsync
 * on the device, through any file. */
static void test_fsync_after_close(void **state)
{
	struct fx *f = *state;
	unsigned char b[BLK];
	char why[192];

	memset(b, 1, sizeof(b));
	assert_int_equal(st_pwrite(&f->io, b, BLK, 0), BLK);
	assert_int_equal(st_inode_put(f->c, f->io.ino), -1);
	assert_int_equal(st_inode_get(f->c, mock_fd, &f->io.ino, &f->io.gen, why,
				      sizeof(why)), 0);
	assert_int_equal(st_sync(&f->io, 1), 0);
	assert_int_equal(mock_flushes, 1);
}

static void test_errors_are_eio(void **state)
{
	struct fx *f = *state;
	unsigned char b[BLK];

	mock_fail = 1;
	assert_int_equal(st_pread(&f->io, b, BLK, 0), -EIO);
	mock_fail = 2;
	assert_int_equal(st_pread(&f->io, b, BLK, 0), -EIO);
	mock_fail = 1;
	assert_int_equal(st_pwrite(&f->io, b, BLK, 0), -EIO);
	assert_int_equal(stats(f).errors, 3);
	/* the write counted for the flush, and the flush's error is fsync's */
	mock_fail = 1;
	assert_int_equal(st_sync(&f->io, 0), -EIO);
	/* not dropped: the next fsync flushes again */
	assert_int_equal(st_sync(&f->io, 0), 0);
	assert_int_equal(mock_flushes, 2);
	/* a read that got some bytes before the error returns them */
	read_like_kernel(f, 0, BLK, 1);
}

static void test_call_rules(void **state)
{
	struct fx *f = *state;
	struct st_io io = f->io;
	unsigned char b[BLK];

	/* what the fd's flags do not allow is the kernel's to answer (EBADF,
	 * EINVAL): here the test's own fd is O_RDWR, so the kernel does it */
	io.fdflags = ST_FD_WRITE;                     /* O_WRONLY */
	assert_int_equal(st_pread(&io, b, BLK, 0), BLK);
	io.fdflags = ST_FD_READ;                      /* O_RDONLY */
	assert_int_equal(st_pwrite(&io, b, BLK, 0), BLK);
	io.fdflags = ST_FD_READ | ST_FD_DIRECT;       /* O_DIRECT, unaligned */
	assert_int_equal(st_pread(&io, b + 1, 100, 0), 100);
	assert_int_equal(mock_writes, 0);
	assert_int_equal(mock_reads, 0);
	assert_int_equal(st_pread(&f->io, b, BLK, -1), -EINVAL);
	assert_int_equal(st_pread(&f->io, NULL, BLK, 0), -EFAULT);
	assert_int_equal(stats(f).fallback[ST_R_FLAGS_CALL], 3);
	assert_int_equal(stats(f).fallback[ST_R_BADARG], 2);
	io = f->io;
	io.gen++;                                     /* a closed file's fd */
	read_like_kernel(f, 0, BLK, 1);
	assert_int_equal(st_pread(&io, b, BLK, 0), BLK);
	assert_int_equal(stats(f).fallback[ST_R_NO_DEVICE], 1);
	st_inode_to_kernel(f->io.ino, ST_R_MMAP);     /* mapped */
	assert_int_equal(st_pread(&f->io, b, BLK, 0), BLK);
	assert_int_equal(stats(f).fallback[ST_R_MMAP], 1);
	assert_int_equal(mock_reads, 1);
	assert_int_equal(mock_writes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_match_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_covers_every_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_after_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_same_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_are_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_rules, setup, teardown),
	};

	srandom(5);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
