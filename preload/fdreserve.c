/*
 * fdreserve.c - the shim's own descriptors above the program's hard limit.
 * See fdreserve.h.
 *
 * Moving a descriptor needs F_DUPFD to reach past the soft limit, which
 * it cannot, so the soft limit is raised for the one fcntl and put back.
 * That happens only when the shim opens something (the port's start, a
 * thread's first wait), under a lock that setrlimit takes too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/real.h"
#include "fdreserve.h"
#include "fdtable.h"
#include "opts.h"

static struct {
	pthread_mutex_t lock;
	int on;
	/* the hard limit the program sees; the kernel's is RT_FD_RESERVE
	 * higher, and the reserve is the numbers in between */
	rlim_t view_hard;
	unsigned moved, stayed;
} res = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* RLIMIT_NOFILE of this process as the kernel has it (the C library's
 * getrlimit and setrlimit are the shim's own now). */
static int kernel_prlimit(const struct rlimit *new, struct rlimit *old)
{
	return syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, new, old) < 0 ? -errno : 0;
}

void fdres_start(void)
{
	rlim_t top = fdtable_kernel_max();
	struct rlimit k, up;

	pthread_mutex_lock(&res.lock);
	if (res.on || kernel_prlimit(NULL, &k) < 0 || k.rlim_max > top ||
	    k.rlim_max < 4 * RT_FD_RESERVE)
		goto out;
	up = k;
	up.rlim_max = k.rlim_max + RT_FD_RESERVE;
	if (k.rlim_max <= top - RT_FD_RESERVE && kernel_prlimit(&up, NULL) == 0) {
		res.view_hard = k.rlim_max;
	} else {
		/* no CAP_SYS_RESOURCE: the reserve comes off the top, and the
		 * program is told so before it reads its limit */
		res.view_hard = k.rlim_max - RT_FD_RESERVE;
		up = k;
		if (up.rlim_cur > res.view_hard)
			up.rlim_cur = res.view_hard;
		if (kernel_prlimit(&up, NULL) < 0)
			goto out;
		ACCEL_DEBUG("cannot raise the descriptor limit: the program sees "
			    "%lu/%lu, %u under the kernel's for the shim's own",
			    (unsigned long)up.rlim_cur, (unsigned long)res.view_hard,
			    RT_FD_RESERVE);
	}
	__atomic_store_n(&res.on, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&res.lock);
}

int fdres_active(void)
{
	return __atomic_load_n(&res.on, __ATOMIC_ACQUIRE);
}

int fdres_hide(int fd)
{
	struct rlimit k, wide;
	int nfd = -1;

	if (fd < 0 || !fdres_active())
		return fd;
	pthread_mutex_lock(&res.lock);
	if ((rlim_t)fd >= res.view_hard) {
		pthread_mutex_unlock(&res.lock);
		return fd;
	}
	if (kernel_prlimit(NULL, &k) == 0) {
		wide = k;
		wide.rlim_cur = k.rlim_max;
		if (kernel_prlimit(&wide, NULL) == 0) {
			nfd = accel_real.fcntl(fd, F_DUPFD_CLOEXEC, (int)res.view_hard);
			kernel_prlimit(&k, NULL);
		}
	}
	if (nfd >= 0)
		res.moved++;
	else
		res.stayed++;
	pthread_mutex_unlock(&res.lock);
	if (nfd < 0)
		return fd;
	accel_real.close(fd);
	return nfd;
}

int fdres_make(int (*make)(int), int arg)
{
	struct rlimit k, wide;
	int fd = -EMFILE;

	if (!fdres_active())
		return fd;
	pthread_mutex_lock(&res.lock);
	if (kernel_prlimit(NULL, &k) == 0 && k.rlim_cur < k.rlim_max) {
		wide = k;
		wide.rlim_cur = k.rlim_max;
		if (kernel_prlimit(&wide, NULL) == 0) {
			fd = make(arg);
			fd = fd < 0 ? -errno : fd;
			kernel_prlimit(&k, NULL);
		}
	}
	if (fd >= 0)
		res.moved++;
	pthread_mutex_unlock(&res.lock);
	return fd;
}

int fdres_prlimit(const struct rlimit *new, struct rlimit *old)
{
	rlim_t top = fdtable_kernel_max();
	struct rlimit k, want;
	int r;

	if (!fdres_active())
		return kernel_prlimit(new, old);
	pthread_mutex_lock(&res.lock);
	r = kernel_prlimit(NULL, &k);
	if (r == 0 && old) {
		*old = k;
		old->rlim_max = res.view_hard;
	}
	if (r == 0 && new) {
		want = *new;
		if (new->rlim_cur > new->rlim_max)
			r = -EINVAL;
		else if (new->rlim_max <= top - RT_FD_RESERVE)
			want.rlim_max = new->rlim_max + RT_FD_RESERVE;
		/* (else the kernel refuses, or there is no reserve left above
		 * the new limit: the shim's next descriptors stay low) */
		if (r == 0 && (r = kernel_prlimit(&want, NULL)) == 0)
			res.view_hard = new->rlim_max;
	}
	pthread_mutex_unlock(&res.lock);
	return r;
}

void fdres_stats(unsigned *moved, unsigned *stayed)
{
	pthread_mutex_lock(&res.lock);
	*moved = res.moved;
	*stayed = res.stayed;
	pthread_mutex_unlock(&res.lock);
}
