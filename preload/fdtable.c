/*
 * fdtable.c - see fdtable.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/real.h"
#include "fdtable.h"

struct fd_table accel_fds;

int fdtable_init(struct fd_table *t, unsigned size)
{
	/* Reserved, never committed up front: pages appear as fds are used. */
	void *p = mmap(NULL, (size_t)size * sizeof(*t->ent), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	t->ent = p;
	__atomic_store_n(&t->size, size, __ATOMIC_RELEASE);
	return 0;
}

void fdtable_fini(struct fd_table *t)
{
	unsigned size = t->size;

	t->size = 0;
	if (t->ent)
		munmap(t->ent, (size_t)size * sizeof(*t->ent));
	t->ent = NULL;
}

int fdtable_next(const struct fd_table *t, unsigned lo, unsigned hi)
{
	if (hi >= t->size)
		hi = t->size ? t->size - 1 : 0;
	for (unsigned fd = lo; fd <= hi && fd < t->size; fd++)
		if (t->ent[fd].kind != FD_KERNEL)
			return (int)fd;
	return -1;
}

unsigned fdtable_kernel_max(void)
{
	char buf[32];
	unsigned n = 1u << 20; /* the kernel's default nr_open */
	int fd = accel_real.open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t len = accel_real.read(fd, buf, sizeof(buf) - 1);

		if (len > 0) {
			buf[len] = '\0';
			n = (unsigned)strtoul(buf, NULL, 10);
		}
		accel_real.close(fd);
	}
	return n ? n : 1u << 20;
}
