/*
 * usermem.h - what the kernel's system calls read from and write to the
 * program's memory, done the kernel's way for the calls the shim serves:
 * every access is guarded (common/guard.h), so a bad pointer gives the
 * kernel's EFAULT (or EINVAL, EMSGSIZE: the kernel's checks, in its
 * order), never a SIGSEGV. Negative errno values, as the layers below.
 */
#ifndef ACCEL_PRELOAD_USERMEM_H
#define ACCEL_PRELOAD_USERMEM_H

#include <sys/socket.h>
#include <sys/uio.h>

#define UM_IOV_SMALL 8

/* Finds the top of user space (4- or 5-level paging); once, at load. */
void um_init(void);

/* What the kernel does to the buffers of a read or write before it moves
 * a byte (import_iovec, import_ubuf): the total is cut to MAX_RW_COUNT,
 * and a buffer that does not lie in user space is -EFAULT (access_ok),
 * whether or not the call would have touched it. */
int um_iov_limit(struct iovec *iov, int cnt);

/* The program's iovec array, copied (import_iovec): *out is small, or
 * allocated for more than UM_IOV_SMALL (um_iov_done frees it). -EINVAL
 * for a bad count or a total past SSIZE_MAX, -EFAULT. */
int um_iov_in(const struct iovec *uiov, int cnt, struct iovec *small, struct iovec **out);
void um_iov_done(struct iovec *iov, struct iovec *small);

/* A msghdr's fields, copied (copy_msghdr_from_user): -EFAULT, -EMSGSIZE
 * for more than UIO_MAXIOV vectors. */
int um_msg_in(const struct msghdr *umsg, struct msghdr *m);

/* An address the program passes that the call ignores, checked as
 * move_addr_to_kernel checks it: -EINVAL, -EFAULT. */
int um_addr_check(const void *uaddr, socklen_t len);

/* An address (klen bytes) to the program, as move_addr_to_user: *ulen
 * read, at most that much of it written, *ulen set to klen. */
int um_addr_out(void *uaddr, socklen_t *ulen, const void *kaddr, socklen_t klen);

#endif
