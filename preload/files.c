/*
 * files.c - files on the storage path at the libc boundary: the fd table
 * of tracked files, the open/close/dup/fork bookkeeping, and the calls
 * interpose.c does not have (ftruncate, fallocate, sync_file_range, mmap,
 * the fortified opens). See files.h and storage/storage.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/real.h"
#include "../sockets/sockets.h"
#include "../storage/storage.h"
#include "fdtable.h"
#include "fdreserve.h"
#include "files.h"

#define EXPORT __attribute__((visibility("default")))

extern void __chk_fail(void) __attribute__((noreturn));

int accel_files_on;
struct files_fd *accel_files;
unsigned accel_files_size;

static struct {
	struct st_ctx *ctx;
	struct st_policy policy;
	pthread_key_t key;
	int child;           /* a forked child: every file call is the kernel's */
	int stats;           /* ACCEL_STATS */
	unsigned maxfd;      /* highest fd ever tracked, bounds close_range */
	int (*posix_fallocate)(int, off_t, off_t);
} fl;

/* accel_files flag of a lease descriptor (the shim's, not the program's). */
#define FILES_LEASE 0x100u

static __thread struct st_thread *files_tls __attribute__((tls_model("initial-exec")));

static int set_errno(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (int)r;
}

static ssize_t set_errno_ss(ssize_t r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

static void thread_end(void *arg)
{
	files_tls = NULL;
	st_thread_destroy(arg);
}

static struct st_thread *thread_get(void)
{
	struct st_thread *t = files_tls;

	if (__builtin_expect(t != NULL, 1))
		return t;
	if ((t = st_thread_create(fl.ctx))) {
		files_tls = t;
		pthread_setspecific(fl.key, t);
	}
	return t;
}

/* The call's view of fd; 0 when it is the kernel's after all (a child). */
static int io_of(int fd, struct st_io *io)
{
	struct files_fd *f = &accel_files[fd];

	if (fl.child)
		return 0;
	io->ino = __atomic_load_n(&f->ino, __ATOMIC_ACQUIRE);
	io->gen = __atomic_load_n(&f->gen, __ATOMIC_ACQUIRE);
	io->fdflags = __atomic_load_n(&f->flags, __ATOMIC_RELAXED);
	io->fd = fd;
	io->t = thread_get();
	/* (accel-stat's file: a clock read and a compare, once a second a rewrite) */
	if (io->ino)
		sk_stats_publish(sk_now());
	return io->ino != NULL;
}

static void at_fork_child(void)
{
	fl.child = 1; /* the parent's queues are not ours to touch */
}

static void stats_print(void)
{
	struct st_stats s;
	char why[512] = "";
	size_t len = 0;

	st_ctx_stats(fl.ctx, &s);
	for (int r = 1; r < ST_R_MAX && len < sizeof(why); r++)
		if (s.fallback[r])
			len += (size_t)snprintf(why + len, sizeof(why) - len, " %s %llu",
						st_reason_name((enum st_reason)r),
						(unsigned long long)s.fallback[r]);
	fprintf(stderr,
		"libaccel[%d] storage: files %llu (kept on the kernel %llu), queue pairs %llu, "
		"device reads %llu (%llu bytes) writes %llu (%llu bytes), kernel reads %llu "
		"(%llu bytes) writes %llu (%llu bytes), flushes %llu, bounce copies %llu, "
		"writer queues flushed %llu, read-modify-writes %llu, map refreshes %llu, "
		"errors %llu, nvme commands %llu; to the kernel by reason:%s\n",
		(int)getpid(), (unsigned long long)s.files, (unsigned long long)s.refused,
		(unsigned long long)s.qpairs, (unsigned long long)s.dev_reads,
		(unsigned long long)s.dev_read_bytes, (unsigned long long)s.dev_writes,
		(unsigned long long)s.dev_write_bytes, (unsigned long long)s.kern_reads,
		(unsigned long long)s.kern_read_bytes, (unsigned long long)s.kern_writes,
		(unsigned long long)s.kern_write_bytes, (unsigned long long)s.flushes,
		(unsigned long long)s.bounce_copies, (unsigned long long)s.flush_writers,
		(unsigned long long)s.rmw_writes,
		(unsigned long long)s.map_refreshes,
		(unsigned long long)s.errors, (unsigned long long)s.nvme_cmds,
		len ? why : " none");
}

/* The storage lines of accel-stat's file: the exit line's counters, one
 * name each (sockets/stats.c writes the file). */
static size_t stats_format(char *buf, size_t len)
{
	struct st_stats s;
	size_t n = 0;

	st_ctx_stats(fl.ctx, &s);
#define LINE(name, v)                                                        \
	do {                                                                 \
		int k = snprintf(buf + n, n < len ? len - n : 0, "%s %llu\n", \
				 name, (unsigned long long)(v));             \
		if (k > 0)                                                   \
			n += (size_t)k;                                      \
	} while (0)
	LINE("storage_files", s.files);
	LINE("storage_files_kept_on_kernel", s.refused);
	LINE("storage_queue_pairs", s.qpairs);
	LINE("storage_device_reads", s.dev_reads);
	LINE("storage_device_read_bytes", s.dev_read_bytes);
	LINE("storage_device_writes", s.dev_writes);
	LINE("storage_device_write_bytes", s.dev_write_bytes);
	LINE("storage_kernel_reads", s.kern_reads);
	LINE("storage_kernel_read_bytes", s.kern_read_bytes);
	LINE("storage_kernel_writes", s.kern_writes);
	LINE("storage_kernel_write_bytes", s.kern_write_bytes);
	LINE("storage_flushes", s.flushes);
	LINE("storage_flush_writers", s.flush_writers);
	LINE("storage_read_modify_writes", s.rmw_writes);
	LINE("storage_bounce_copies", s.bounce_copies);
	LINE("storage_map_refreshes", s.map_refreshes);
	LINE("storage_errors", s.errors);
	LINE("storage_nvme_commands", s.nvme_cmds);
	for (int r = 1; r < ST_R_MAX; r++)
		if (s.fallback[r]) {
			char name[64];

			snprintf(name, sizeof(name), "storage_to_kernel_%s",
				 st_reason_name((enum st_reason)r));
			LINE(name, s.fallback[r]);
		}
#undef LINE
	return n < len ? n : len;
}

__attribute__((destructor)) static void files_exit(void)
{
	if (!accel_files_on || fl.child)
		return;
	if (fl.stats)
		stats_print();
	sk_stats_unpublish();
}

/*
 * Another process writing a file we read from the device is seen through
 * a read lease (fcntl(2) F_SETLEASE) on a read-only descriptor of our
 * own: the kernel signals us when someone opens the file for writing or
 * truncates it, and holds that open until we let go. The handler sends
 * the file to the kernel for good, then lets go.
 */
static void lease_broken(int sig, siginfo_t *si, void *uc)
{
	int fd = si->si_fd, saved = errno;
	struct st_inode *ino;

	(void)sig;
	(void)uc;
	if ((unsigned)fd < accel_files_size &&
	    (__atomic_load_n(&accel_files[fd].flags, __ATOMIC_ACQUIRE) & FILES_LEASE) &&
	    (ino = __atomic_load_n(&accel_files[fd].ino, __ATOMIC_ACQUIRE)))
		st_inode_to_kernel(ino, ST_R_OTHER_WRITER);
	syscall(SYS_fcntl, fd, F_SETLEASE, F_UNLCK);
	errno = saved;
}

static int lease_signal(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = lease_broken;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGRTMAX - 1, &sa, NULL);
}

/* A read lease on a new descriptor of fd's file, kept as the inode's.
 * None can be had while anyone has the file open for writing: a
 * read-only open then means another writer, and the file is the
 * kernel's; a writable open of ours is that writer (and others are not
 * seen: docs/storage.md). */
static void lease_take(int fd, struct st_inode *ino, unsigned gen, int flags)
{
	char self[32];
	int lfd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	lfd = accel_real.open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (lfd >= 0)
		lfd = fdres_hide(lfd); /* (the program's next open gets its number) */
	if (lfd < 0 || (unsigned)lfd >= accel_files_size) {
		if (lfd >= 0)
			accel_real.close(lfd);
		return;
	}
	accel_files[lfd].gen = gen;
	accel_files[lfd].flags = FILES_LEASE;
	__atomic_store_n(&accel_files[lfd].ino, ino, __ATOMIC_RELEASE);
	if ((unsigned)lfd > __atomic_load_n(&fl.maxfd, __ATOMIC_RELAXED))
		__atomic_store_n(&fl.maxfd, (unsigned)lfd, __ATOMIC_RELAXED);
	if (accel_real.fcntl(lfd, F_SETSIG, (void *)(intptr_t)(SIGRTMAX - 1)) < 0 ||
	    accel_real.fcntl(lfd, F_SETLEASE, (void *)(intptr_t)F_RDLCK) < 0) {
		if ((flags & O_ACCMODE) == O_RDONLY && errno == EAGAIN)
			st_inode_to_kernel(ino, ST_R_OTHER_WRITER);
		__atomic_store_n(&accel_files[lfd].ino, NULL, __ATOMIC_RELEASE);
		accel_real.close(lfd);
		return;
	}
	st_inode_set_aux(ino, lfd);
}

void files_init(const struct accel_config *cfg)
{
	struct st_conf sc = {
		.transport = cfg->nvme[0] ? "vfio" : cfg->storage_transport,
		.queues = cfg->storage_queues, .depth = cfg->storage_depth,
		.poll = cfg->storage_poll, .own_fd = fdres_hide,
		.pci = cfg->nvme, .unsafe_noiommu = cfg->nvme_unsafe_noiommu,
	};
	unsigned n;
	void *p;

	if (!cfg->storage[0])
		return;
	if (st_policy_parse(&fl.policy, cfg->storage) < 0)
		return; /* (the settings parser refused it already) */
	n = fdtable_kernel_max();
	p = mmap(NULL, (size_t)n * sizeof(struct files_fd), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || !(fl.ctx = st_ctx_create(&sc)) ||
	    pthread_key_create(&fl.key, thread_end) != 0 ||
	    pthread_atfork(NULL, NULL, at_fork_child) != 0 || lease_signal() < 0) {
		ACCEL_ERR("storage: cannot set up (out of memory?); files stay on the kernel");
		return;
	}
	fl.posix_fallocate = (int (*)(int, off_t, off_t))dlsym(RTLD_NEXT, "posix_fallocate");
	fl.stats = cfg->stats;
	sk_stats_source(stats_format);
	accel_files = p;
	accel_files_size = n;
	__atomic_store_n(&accel_files_on, 1, __ATOMIC_RELEASE);
}

static unsigned fd_flags(int flags)
{
	unsigned f = 0;

	if ((flags & O_ACCMODE) != O_WRONLY)
		f |= ST_FD_READ;
	if ((flags & O_ACCMODE) != O_RDONLY)
		f |= ST_FD_WRITE;
	if (flags & O_APPEND)
		f |= ST_FD_APPEND;
	if (flags & O_DIRECT)
		f |= ST_FD_DIRECT;
	return f;
}

static void track(int fd, struct st_inode *ino, unsigned gen, unsigned flags)
{
	struct files_fd *f = &accel_files[fd];

	__atomic_store_n(&f->gen, gen, __ATOMIC_RELAXED);
	__atomic_store_n(&f->flags, flags, __ATOMIC_RELAXED);
	__atomic_store_n(&f->ino, ino, __ATOMIC_RELEASE);
	if ((unsigned)fd > __atomic_load_n(&fl.maxfd, __ATOMIC_RELAXED))
		__atomic_store_n(&fl.maxfd, (unsigned)fd, __ATOMIC_RELAXED);
}

int files_opened(int fd, const char *path, int flags)
{
	char self[32], real[PATH_MAX], why[192] = "";
	struct st_inode *ino;
	unsigned gen;
	ssize_t n;

	if (fd < 0 || !accel_files_on || fl.child || (unsigned)fd >= accel_files_size ||
	    (flags & O_PATH))
		return fd;
	/* The file's own absolute name (relative paths, openat, symlinks),
	 * and the name as given when absolute. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, real, sizeof(real) - 1);
	real[n > 0 ? n : 0] = '\0';
	if (!(n > 0 && st_policy_match(&fl.policy, real)) &&
	    !(path && path[0] == '/' && st_policy_match(&fl.policy, path)))
		return fd;
	if (st_inode_get(fl.ctx, fd, &ino, &gen, why, sizeof(why)) < 0) {
		if (why[0])
			ACCEL_WARN("storage: %s stays on the kernel: %s", real, why);
		return fd;
	}
	if (flags & O_TRUNC)
		st_inode_changed(ino, fd);
	track(fd, ino, gen, fd_flags(flags));
	if (st_inode_first(ino))
		lease_take(fd, ino, gen, flags);
	ACCEL_DEBUG("storage: %s (fd %d) on the storage path", real, fd);
	return fd;
}

void files_closed(int fd)
{
	struct files_fd *f;
	struct st_inode *ino;
	int lfd;

	if (!accel_files_on || (unsigned)fd >= accel_files_size)
		return;
	f = &accel_files[fd];
	if (!(ino = __atomic_exchange_n(&f->ino, NULL, __ATOMIC_ACQ_REL)))
		return;
	if (fl.child)
		return;
	if (__atomic_load_n(&f->flags, __ATOMIC_ACQUIRE) & FILES_LEASE) {
		/* the program closed our lease (close_range): blind now */
		st_inode_to_kernel(ino, ST_R_OTHER_WRITER);
		return;
	}
	if ((lfd = st_inode_put(fl.ctx, ino)) >= 0) {
		__atomic_store_n(&accel_files[lfd].ino, NULL, __ATOMIC_RELEASE);
		accel_real.close(lfd);
	}
}

void files_close_range(unsigned lo, unsigned hi, int flags)
{
	unsigned max = __atomic_load_n(&fl.maxfd, __ATOMIC_RELAXED);

	if (!accel_files_on || (flags & CLOSE_RANGE_CLOEXEC))
		return;
	for (unsigned fd = lo; fd <= hi && fd <= max; fd++)
		files_closed((int)fd);
}

void files_dup(int oldfd, int newfd)
{
	struct st_inode *ino;
	unsigned gen;
	char why[192];

	if (!accel_files_on || newfd < 0 || oldfd == newfd ||
	    (unsigned)newfd >= accel_files_size)
		return;
	files_closed(newfd); /* dup2 over a tracked fd closed it */
	if (fl.child || !files_fd(oldfd))
		return;
	if (st_inode_get(fl.ctx, newfd, &ino, &gen, why, sizeof(why)) == 0)
		track(newfd, ino, gen, accel_files[oldfd].flags);
}

ssize_t files_pread(int fd, void *buf, size_t n, off_t off)
{
	struct st_io io;

	if (!io_of(fd, &io))
		return accel_real.pread(fd, buf, n, off);
	return set_errno_ss(st_pread(&io, buf, n, off));
}

ssize_t files_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct st_io io;

	if (!io_of(fd, &io))
		return accel_real.pwrite(fd, buf, n, off);
	return set_errno_ss(st_pwrite(&io, buf, n, off));
}

/* RWF_HIPRI only asks for polling, which the device path does anyway;
 * any other flag (DSYNC, SYNC, NOWAIT, APPEND, ...) or the offset -1
 * (the file position) has its meaning only in the kernel. */
static int vec_kernel(off_t off, int flags)
{
	return off == -1 || (flags & ~RWF_HIPRI);
}

ssize_t files_preadv(int fd, const struct iovec *iov, int cnt, off_t off, int flags,
		     int v2)
{
	struct st_io io;

	if (!io_of(fd, &io) || vec_kernel(off, flags) || cnt < 0 || cnt > IOV_MAX ||
	    !iov) {
		ssize_t r = v2 ? accel_real.preadv2(fd, iov, cnt, off, flags) :
				 accel_real.preadv(fd, iov, cnt, off);

		if (!fl.child)
			st_count_kernel(io.t, ST_R_FLAGS_CALL, 0, r);
		return r;
	}
	return set_errno_ss(st_preadv(&io, iov, cnt, off));
}

ssize_t files_pwritev(int fd, const struct iovec *iov, int cnt, off_t off, int flags,
		      int v2)
{
	struct st_io io;

	if (!io_of(fd, &io) || vec_kernel(off, flags) || cnt < 0 || cnt > IOV_MAX ||
	    !iov) {
		ssize_t r = v2 ? accel_real.pwritev2(fd, iov, cnt, off, flags) :
				 accel_real.pwritev(fd, iov, cnt, off);

		/* The kernel wrote where the map cannot say: remap. */
		if (!fl.child) {
			if (r > 0 && io.ino)
				st_inode_kernel_wrote(io.ino);
			st_count_kernel(io.t, ST_R_FLAGS_CALL, 1, r);
		}
		return r;
	}
	return set_errno_ss(st_pwritev(&io, iov, cnt, off));
}

int files_sync(int fd, int datasync)
{
	struct st_io io;

	if (!io_of(fd, &io))
		return datasync ? accel_real.fdatasync(fd) : accel_real.fsync(fd);
	return set_errno(st_sync(&io, datasync));
}

static void kernel_wrote(int fd, ssize_t r)
{
	struct st_inode *ino;

	if (r > 0 && !fl.child && (ino = __atomic_load_n(&accel_files[fd].ino,
							 __ATOMIC_ACQUIRE)))
		st_inode_kernel_wrote(ino);
}

ssize_t files_write(int fd, const void *buf, size_t n)
{
	ssize_t r = accel_real.write(fd, buf, n);

	kernel_wrote(fd, r);
	return r;
}

ssize_t files_writev(int fd, const struct iovec *iov, int cnt)
{
	ssize_t r = accel_real.writev(fd, iov, cnt);

	kernel_wrote(fd, r);
	return r;
}

int files_fcntl(int fd, int cmd, void *arg)
{
	int r = accel_real.fcntl(fd, cmd, arg);

	if (r < 0)
		return r;
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		files_dup(fd, r);
	} else if (cmd == F_SETFL && files_fd(fd)) {
		int fl_now = accel_real.fcntl(fd, F_GETFL, NULL);

		if (fl_now >= 0)
			__atomic_store_n(&accel_files[fd].flags, fd_flags(fl_now),
					 __ATOMIC_RELAXED);
	}
	return r;
}

/* ---- the calls interpose.c does not have -------------------------------- */

/* After the kernel changed fd's size or layout. */
static void changed(int fd, long r)
{
	if (r == 0 && files_fd(fd) && !fl.child)
		st_inode_changed(accel_files[fd].ino, fd);
}

EXPORT int ftruncate(int fd, off_t len)
{
	long r = syscall(SYS_ftruncate, fd, len);

	changed(fd, r);
	return (int)r;
}

EXPORT int ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	long r = syscall(SYS_fallocate, fd, mode, off, len);

	changed(fd, r);
	return (int)r;
}

EXPORT int fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	int r;

	if (!fl.posix_fallocate)
		return (int)(syscall(SYS_fallocate, fd, 0, off, len) < 0 ? errno : 0);
	r = fl.posix_fallocate(fd, off, len);
	changed(fd, r); /* (returns the error number, 0 on success) */
	return r;
}

EXPORT int posix_fallocate64(int fd, off_t off, off_t len)
{
	return posix_fallocate(fd, off, len);
}

/* Device writes have completed before pwrite returned; what remains
 * dirty is the kernel's own, which this call is about. */
EXPORT int sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
	return (int)syscall(SYS_sync_file_range, fd, off, len, flags);
}

/* A mapped file cannot be kept coherent with device writes: the kernel's
 * from now on. */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fd >= 0 && !(flags & MAP_ANONYMOUS) && files_fd(fd) && !fl.child)
		st_inode_to_kernel(accel_files[fd].ino, ST_R_MMAP);
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/* The fortified opens (_FORTIFY_SOURCE): glibc's own check, then ours. */
static void open_check(int flags)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		__chk_fail(); /* "open with O_CREAT in second argument needs 3 arguments" */
}

EXPORT int __open_2(const char *path, int flags)
{
	open_check(flags);
	return open(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	open_check(flags);
	return open(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	open_check(flags);
	return openat(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	open_check(flags);
	return openat(dirfd, path, flags);
}
