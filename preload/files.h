/*
 * files.h - the storage path's side of the libc boundary: which fds are
 * files on the storage path (ACCEL_STORAGE), and the calls interpose.c
 * hands them to. Everything here is a no-op when ACCEL_STORAGE is unset:
 * interpose.c tests accel_files_on (one load) before calling in.
 */
#ifndef ACCEL_PRELOAD_FILES_H
#define ACCEL_PRELOAD_FILES_H

#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

struct st_inode;

struct files_fd {
	struct st_inode *ino;   /* NULL: not on the storage path */
	unsigned gen;
	unsigned flags;         /* ST_FD_* */
};

extern int accel_files_on;          /* ACCEL_STORAGE set and started */
extern struct files_fd *accel_files;
extern unsigned accel_files_size;

/* 1 when fd is a file on the storage path. */
static inline int files_fd(int fd)
{
	return __builtin_expect(accel_files_on, 0) && (unsigned)fd < accel_files_size &&
	       __atomic_load_n(&accel_files[fd].ino, __ATOMIC_ACQUIRE);
}

/* Reads ACCEL_STORAGE* from the parsed settings; starts the storage path
 * when a policy is set. Called once by the library constructor. */
void files_init(const struct accel_config *cfg);

/* fd was just opened (by path, flags): tracked if the policy takes it.
 * Returns fd. */
int files_opened(int fd, const char *path, int flags);

/* Before the kernel closes fd (or after dup2 replaced it). */
void files_closed(int fd);
void files_close_range(unsigned lo, unsigned hi, int flags);

/* newfd is a kernel copy of oldfd. */
void files_dup(int oldfd, int newfd);

/* The calls on tracked fds (files_fd(fd) true): libc's contract, errno
 * set. */
ssize_t files_pread(int fd, void *buf, size_t n, off_t off);
ssize_t files_pwrite(int fd, const void *buf, size_t n, off_t off);
/* v2: called as preadv2/pwritev2 (offset -1 = the file position). */
ssize_t files_preadv(int fd, const struct iovec *iov, int cnt, off_t off, int flags,
		     int v2);
ssize_t files_pwritev(int fd, const struct iovec *iov, int cnt, off_t off, int flags,
		      int v2);
int files_sync(int fd, int datasync);
/* write/writev at the file position: the kernel's, the file then dirty. */
ssize_t files_write(int fd, const void *buf, size_t n);
ssize_t files_writev(int fd, const struct iovec *iov, int cnt);
int files_fcntl(int fd, int cmd, void *arg);

#endif
