/*
 * earlyhook.c - a preloaded library that makes interposed calls at the
 * worst moments for the shim's symbol resolution:
 *  - from its constructor, which may run before libaccel's has resolved
 *    anything;
 *  - from inside malloc and calloc, which dlsym itself calls, so that
 *    libaccel's resolution re-enters libaccel (as a preloaded allocator
 *    that reads /proc on first use would).
 * Preloaded with libaccel, in either order, a program must run as usual.
 */
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);

static void touch_interposed(void)
{
	char c;
	int fd;

	/* No re-entry guard on purpose: a shim that resolved symbols lazily
	 * with dlsym would recurse here (dlsym -> calloc -> open -> dlsym)
	 * until the stack overflows. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!read(fd, &c, 1);
		close(fd);
	}
}

void *malloc(size_t n)
{
	touch_interposed();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	touch_interposed();
	return __libc_calloc(n, size);
}

void free(void *p)
{
	__libc_free(p);
}

__attribute__((constructor)) static void early(void)
{
	int sv[2];
	char c = 'x';

	touch_interposed();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		(void)!write(sv[0], &c, 1);
		(void)!read(sv[1], &c, 1);
		close(sv[0]);
		close(sv[1]);
	}
}
