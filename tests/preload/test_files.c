/*
 * test_files.c - preload/files.c's bookkeeping of tracked files: which
 * opens are taken, dup/dup2/F_DUPFD sharing an inode, close and
 * close_range giving it back (and the lease descriptor with it), a forked
 * child's calls going to the kernel, mmap sending the file to the kernel
 * for good, and which calls reach the storage layer at all. files.c runs
 * on real descriptors of real files; the storage layer under it
 * (storage/storage.h) and the sockets' counters file are fakes here that
 * count what they were asked.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../common/real.h"
#include "../../preload/config.h"
#include "../../preload/files.h"
#include "../../storage/storage.h"

/* ---- the fake storage layer ---------------------------------------------- */

struct st_inode {
	dev_t dev;
	ino_t ino;
	unsigned refs, gen;
	int aux;
	int to_kernel;      /* the first reason given */
	unsigned changed, kernel_wrote;
};

struct st_thread {
	int unused;
};

static struct st_inode inodes[8];
static unsigned dev_calls, kern_calls;
static char prefix[96];

int st_policy_parse(struct st_policy *p, const char *spec)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->buf, sizeof(p->buf), "%s", spec);
	return 0;
}

/* The test's glob is "DIR/t.*": a prefix match is enough here. */
int st_policy_match(const struct st_policy *p, const char *path)
{
	(void)p;
	return strncmp(path, prefix, strlen(prefix)) == 0;
}

const char *st_reason_name(enum st_reason r)
{
	(void)r;
	return "reason";
}

struct st_ctx *st_ctx_create(const struct st_conf *conf)
{
	static int ctx;

	(void)conf;
	return (struct st_ctx *)&ctx;
}

void st_ctx_stats(struct st_ctx *c, struct st_stats *out)
{
	(void)c;
	memset(out, 0, sizeof(*out));
}

int st_inode_get(struct st_ctx *c, int fd, struct st_inode **out, unsigned *gen,
		 char *why, size_t whylen)
{
	struct st_inode *free_one = NULL;
	struct stat st;

	(void)c;
	if (fstat(fd, &st) < 0)
		return -errno;
	for (unsigned i = 0; i < 8; i++) {
		struct st_inode *n = &inodes[i];

		if (n->refs && n->dev == st.st_dev && n->ino == st.st_ino) {
			n->refs++;
			*out = n;
			*gen = n->gen;
			return 0;
		}
		if (!n->refs && !free_one)
			free_one = n;
	}
	if (!free_one) {
		snprintf(why, whylen, "%s", "no inode left in the test");
		return -ENOMEM;
	}
	*free_one = (struct st_inode){ st.st_dev, st.st_ino, 1, free_one->gen + 1, -1, 0, 0, 0 };
	*out = free_one;
	*gen = free_one->gen;
	return 0;
}

int st_inode_put(struct st_ctx *c, struct st_inode *ino)
{
	int aux = -1;

	(void)c;
	assert_true(ino->refs > 0);
	if (--ino->refs == 0) {
		aux = ino->aux;
		ino->aux = -1;
		ino->gen++;
	}
	return aux;
}

int st_inode_first(const struct st_inode *ino)
{
	return ino->refs == 1 && ino->aux < 0;
}

void st_inode_set_aux(struct st_inode *ino, int fd)
{
	ino->aux = fd;
}

void st_inode_to_kernel(struct st_inode *ino, enum st_reason why)
{
	if (!ino->to_kernel)
		ino->to_kernel = (int)why;
}

void st_inode_changed(struct st_inode *ino, int fd)
{
	(void)fd;
	ino->changed++;
}

void st_inode_kernel_wrote(struct st_inode *ino)
{
	ino->kernel_wrote++;
}

struct st_thread *st_thread_create(struct st_ctx *c)
{
	(void)c;
	return calloc(1, sizeof(struct st_thread));
}

void st_thread_destroy(struct st_thread *t)
{
	free(t);
}

void st_count_kernel(struct st_thread *t, enum st_reason why, int write, ssize_t r)
{
	(void)t, (void)why, (void)write, (void)r;
	kern_calls++;
}

ssize_t st_pread(const struct st_io *io, void *buf, size_t len, off_t off)
{
	(void)io, (void)buf, (void)off;
	dev_calls++;
	return (ssize_t)len;
}

ssize_t st_pwrite(const struct st_io *io, const void *buf, size_t len, off_t off)
{
	(void)io, (void)buf, (void)off;
	dev_calls++;
	return (ssize_t)len;
}

ssize_t st_preadv(const struct st_io *io, const struct iovec *iov, int cnt, off_t off)
{
	(void)io, (void)iov, (void)cnt, (void)off;
	dev_calls++;
	return 0;
}

ssize_t st_pwritev(const struct st_io *io, const struct iovec *iov, int cnt, off_t off)
{
	(void)io, (void)iov, (void)cnt, (void)off;
	dev_calls++;
	return 0;
}

int st_sync(const struct st_io *io, int datasync)
{
	(void)io, (void)datasync;
	dev_calls++;
	return 0;
}

/* ---- the rest of the shim files.c calls ----------------------------------- */

uint64_t sk_now(void) { return 0; }
void sk_stats_publish(uint64_t now) { (void)now; }
void sk_stats_source(size_t (*fn)(char *buf, size_t len)) { (void)fn; }
void sk_stats_unpublish(void) {}
int fdres_hide(int fd) { return fd; }
unsigned fdtable_kernel_max(void) { return 4096; }

/* ---- the tests -------------------------------------------------------------- */

static char dir[64];

static int group_setup(void **state)
{
	struct accel_config cfg;

	(void)state;
	accel_real_resolve();
	snprintf(dir, sizeof(dir), "/tmp/accel-test-files.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(prefix, sizeof(prefix), "%s/t.", dir);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.storage, sizeof(cfg.storage), "%s/t.*", dir);
	cfg.storage_queues = 4;
	cfg.storage_depth = 8;
	files_init(&cfg);
	return accel_files_on ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[96];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Opens DIR/NAME (made if need be) and tells files.c, as interpose.c does. */
static int open_file(const char *name, int flags)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, flags | O_CREAT, 0600);
	assert_true(fd >= 0);
	return files_opened(fd, path, flags);
}

static void close_file(int fd)
{
	files_closed(fd);
	close(fd);
}

static struct st_inode *ino_of(int fd)
{
	return accel_files[fd].ino;
}

static void test_open_takes_policy_files(void **state)
{
	int a = open_file("t.a", O_RDWR), b = open_file("other", O_RDWR);
	int p = open_file("t.a", O_RDONLY | O_PATH);

	(void)state;
	assert_true(files_fd(a));
	assert_false(files_fd(b));
	assert_false(files_fd(p));            /* O_PATH: no I/O to serve */
	assert_int_equal(ino_of(a)->refs, 1);
	assert_int_equal(accel_files[a].flags, ST_FD_READ | ST_FD_WRITE);
	/* a second open of the same file shares its inode */
	int a2 = open_file("t.a", O_WRONLY | O_APPEND);

	assert_ptr_equal(ino_of(a2), ino_of(a));
	assert_int_equal(ino_of(a)->refs, 2);
	assert_int_equal(accel_files[a2].flags, ST_FD_WRITE | ST_FD_APPEND);
	close_file(a2);
	close_file(a);
	close(b);
	close(p);
	assert_false(files_fd(a));
}

/* A read-only open takes a read lease on a descriptor of its own; the
 * last close gives it back too. */
static void test_lease_follows_inode(void **state)
{
	int a = open_file("t.lease", O_RDONLY), lfd;
	struct st_inode *ino = ino_of(a);

	(void)state;
	lfd = ino->aux;
	assert_true(lfd >= 0);
	assert_int_equal(fcntl(lfd, F_GETLEASE), F_RDLCK);
	close_file(a);
	assert_int_equal(ino->refs, 0);
	assert_int_equal(fcntl(lfd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_false(files_fd(lfd));
}

static void test_dup_dup2_fdupfd(void **state)
{
	int a = open_file("t.dup", O_RDWR), other = open_file("other", O_RDWR);
	struct st_inode *ino = ino_of(a);
	int d, d2, d3;

	(void)state;
	d = dup(a);
	files_dup(a, d);
	assert_true(files_fd(d));
	assert_ptr_equal(ino_of(d), ino);
	assert_int_equal(accel_files[d].flags, accel_files[a].flags);
	d2 = files_fcntl(a, F_DUPFD_CLOEXEC, (void *)(intptr_t)100);
	assert_true(d2 >= 100);
	assert_true(files_fd(d2));
	assert_int_equal(ino->refs, 3);
	/* dup2 of an untracked fd over a tracked one closes that one */
	d3 = dup2(other, d);
	assert_int_equal(d3, d);
	files_dup(other, d);
	assert_false(files_fd(d));
	assert_int_equal(ino->refs, 2);
	/* dup2 onto itself changes nothing */
	files_dup(a, a);
	assert_int_equal(ino->refs, 2);
	close_file(d2);
	close_file(a);
	close(d);
	close(other);
	assert_int_equal(ino->refs, 0);
}

static void test_close_range(void **state)
{
	int a = open_file("t.cr1", O_RDWR), b = open_file("t.cr2", O_RDWR);
	int lo = a < b ? a : b, hi = a < b ? b : a;

	(void)state;
	files_close_range((unsigned)lo, (unsigned)hi, CLOSE_RANGE_CLOEXEC);
	assert_true(files_fd(a) && files_fd(b));    /* only marked: still open */
	files_close_range((unsigned)lo, (unsigned)hi, 0);
	assert_false(files_fd(a) || files_fd(b));
	close(a);
	close(b);
}

/* Which calls reach the storage layer, and which the kernel with the
 * file marked for a remap. */
static void test_calls_routed(void **state)
{
	int a = open_file("t.io", O_RDWR);
	struct st_inode *ino = ino_of(a);
	char buf[64] = "x";
	struct iovec iov = { buf, sizeof(buf) };

	(void)state;
	dev_calls = kern_calls = 0;
	assert_int_equal(files_pwrite(a, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(files_pread(a, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(files_sync(a, 1), 0);
	assert_int_equal(files_preadv(a, &iov, 1, 0, RWF_HIPRI, 1), 0);
	assert_int_equal(dev_calls, 4);
	/* a flag only the kernel knows, or the file position: the kernel's */
	assert_int_equal(files_preadv(a, &iov, 1, 0, RWF_NOWAIT, 1), 0);
	assert_int_equal(files_pwritev(a, &iov, 1, -1, 0, 1), sizeof(buf));
	assert_int_equal(dev_calls, 4);
	assert_int_equal(kern_calls, 2);
	assert_int_equal(ino->kernel_wrote, 1);
	assert_int_equal(files_write(a, buf, 1), 1);
	assert_int_equal(ino->kernel_wrote, 2);
	/* size and layout changes mark it for a remap */
	assert_int_equal(ftruncate(a, 4096), 0);
	assert_int_equal(fallocate(a, 0, 0, 8192), 0);
	assert_int_equal(ino->changed, 2);
	/* F_SETFL: the fd's flags follow */
	assert_int_equal(files_fcntl(a, F_SETFL, (void *)(intptr_t)O_APPEND), 0);
	assert_true(accel_files[a].flags & ST_FD_APPEND);
	close_file(a);
}

/* O_TRUNC changed the file before we saw it. */
static void test_trunc_open_marks_changed(void **state)
{
	int a = open_file("t.trunc", O_RDWR | O_TRUNC);

	(void)state;
	assert_int_equal(ino_of(a)->changed, 1);
	close_file(a);
}

/* mmap of a tracked file sends it to the kernel for good; an anonymous
 * mapping or an untracked file changes nothing. */
static void test_mmap_falls_back(void **state)
{
	int a = open_file("t.map", O_RDWR), b = open_file("other", O_RDWR);
	struct st_inode *ino = ino_of(a);
	void *p;

	(void)state;
	assert_int_equal(ftruncate(a, 4096), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	munmap(p, 4096);
	assert_int_equal(ino->to_kernel, 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 0);
	assert_true(p != MAP_FAILED);
	munmap(p, 4096);
	assert_int_equal(ino->to_kernel, ST_R_MMAP);
	close_file(a);
	close(b);
}

/* A forked child's calls on a tracked fd are the kernel's, and its close
 * does not drop the parent's reference (the parent's queues and inodes
 * are not the child's to touch). */
static void test_fork_child_on_kernel(void **state)
{
	int a = open_file("t.fork", O_RDWR);
	struct st_inode *ino = ino_of(a);
	char buf[16] = "abc";
	pid_t pid;
	int status;

	(void)state;
	dev_calls = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int ok = files_pwrite(a, buf, sizeof(buf), 0) == sizeof(buf) &&
			 files_pread(a, buf, sizeof(buf), 0) == sizeof(buf) &&
			 files_sync(a, 0) == 0 && dev_calls == 0;

		files_closed(a);
		_exit(ok && ino->refs == 1 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(ino->refs, 1);
	assert_int_equal(files_pread(a, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(dev_calls, 1);
	close_file(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_takes_policy_files),
		cmocka_unit_test(test_lease_follows_inode),
		cmocka_unit_test(test_dup_dup2_fdupfd),
		cmocka_unit_test(test_close_range),
		cmocka_unit_test(test_calls_routed),
		cmocka_unit_test(test_trunc_open_marks_changed),
		cmocka_unit_test(test_mmap_falls_back),
		cmocka_unit_test(test_fork_child_on_kernel),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
