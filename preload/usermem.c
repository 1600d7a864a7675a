/*
 * usermem.c - the program's memory, read and written as the kernel does
 * (usermem.h; the kernel functions named are in lib/iov_iter.c and
 * net/socket.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <unistd.h>

#include "../common/guard.h"
#include "usermem.h"

/* linux/fs.h: the most one read or write moves */
#define UM_MAX_RW_COUNT (INT_MAX & ~(size_t)4095)

/* TASK_SIZE_MAX: the end of user space, 47 bits of address with 4-level
 * page tables, 56 with 5-level (where a hint above 47 bits is honoured,
 * x86/mm/mmap.c). */
static uintptr_t um_user_top = ((uintptr_t)1 << 47) - 4096;

void um_init(void)
{
	void *hint = (void *)((uintptr_t)1 << 52);
	void *p = mmap(hint, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	if (p == MAP_FAILED)
		return;
	if ((uintptr_t)p >= ((uintptr_t)1 << 47))
		um_user_top = ((uintptr_t)1 << 56) - 4096;
	munmap(p, 4096);
}

int um_iov_limit(struct iovec *iov, int cnt)
{
	size_t total = 0;

	for (int i = 0; i < cnt; i++) {
		uintptr_t p = (uintptr_t)iov[i].iov_base, end;

		if (iov[i].iov_len > UM_MAX_RW_COUNT - total)
			iov[i].iov_len = UM_MAX_RW_COUNT - total;
		total += iov[i].iov_len;
		end = p + iov[i].iov_len;
		if (end < p || end > um_user_top)
			return -EFAULT;
	}
	return 0;
}

int um_iov_in(const struct iovec *uiov, int cnt, struct iovec *small, struct iovec **out)
{
	struct iovec *v = small;
	size_t total = 0;

	*out = small;
	if (cnt < 0 || cnt > IOV_MAX)
		return -EINVAL;
	if (cnt > UM_IOV_SMALL && !(v = malloc((size_t)cnt * sizeof(*v))))
		return -ENOMEM;
	if (accel_copy_in(v, uiov, (size_t)cnt * sizeof(*v)) < 0) {
		um_iov_done(v, small);
		return -EFAULT;
	}
	for (int i = 0; i < cnt; i++) {
		if (v[i].iov_len > (size_t)SSIZE_MAX - total) {
			um_iov_done(v, small);
			return -EINVAL;
		}
		total += v[i].iov_len;
	}
	*out = v;
	return 0;
}

void um_iov_done(struct iovec *iov, struct iovec *small)
{
	if (iov != small)
		free(iov);
}

int um_msg_in(const struct msghdr *umsg, struct msghdr *m)
{
	if (accel_copy_in(m, umsg, sizeof(*m)) < 0)
		return -EFAULT;
	if (m->msg_iovlen > IOV_MAX)
		return -EMSGSIZE;
	return 0;
}

int um_addr_check(const void *uaddr, socklen_t len)
{
	if (!uaddr)
		return 0;
	if (len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	return len ? accel_probe(uaddr, len, 0) : 0;
}

int um_addr_out(void *uaddr, socklen_t *ulen, const void *kaddr, socklen_t klen)
{
	int len;

	if (accel_copy_in(&len, ulen, sizeof(len)) < 0)
		return -EFAULT;
	if (len > (int)klen)
		len = (int)klen;
	if (len < 0)
		return -EINVAL;
	if (len && accel_copy_out(uaddr, kaddr, (size_t)len) < 0)
		return -EFAULT;
	return accel_copy_out(ulen, &klen, sizeof(klen));
}
