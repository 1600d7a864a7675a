/*
 * fileio.c - positioned file I/O steps for the storage tests, run in one
 * process so that the shim's cached state (maps, dirty ranges) carries
 * from one step to the next:
 *
 *   fileio PATH STEP...
 *     w:OFF:LEN:SEED   pwrite LEN bytes of SEED's pattern at OFF
 *     r:OFF:LEN:SEED   pread and compare (SEED z: zeros); short only at EOF
 *     v:OFF:LEN:SEED   the same through preadv with three odd pieces
 *     f:OFF:LEN        fallocate (mode 0)
 *     t:LEN            ftruncate
 *     s                fdatasync
 *     m:OFF:LEN:SEED   mmap the file and compare
 *     x:CMD            run CMD (another process) through system(3)
 *     e                the errno of bad calls, one line each
 *     d                go on with a dup(2) of the file's fd, the old one closed
 *     k:OFF:LEN:SEED   a forked child preads and compares (the kernel's I/O)
 *     a:N:SEED         blocks 0..N-1 (4 KiB) in turn: pwrite, fdatasync,
 *                      then "ack I" on stdout (the crash test kills it)
 *
 * FILEIO_RDONLY=1 opens the file read-only (the steps that write fail).
 * Exit 1 with a line saying where at the first difference.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char pat(int seed, uint64_t pos)
{
	return seed < 0 ? 0 : (unsigned char)(seed * 131 + pos * 31 + (pos >> 12));
}

static int seed_of(const char *s)
{
	return s[0] == 'z' ? -1 : atoi(s);
}

static int compare(const unsigned char *b, uint64_t off, size_t n, int seed,
		   const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seed, off + i)) {
			printf("%s: byte %llu is %u, want %u\n", what,
			       (unsigned long long)(off + i), b[i], pat(seed, off + i));
			return 1;
		}
	return 0;
}

/* What the kernel says the read should return: up to EOF. */
static size_t expect_len(int fd, uint64_t off, size_t n)
{
	struct stat st;

	fstat(fd, &st);
	if (off >= (uint64_t)st.st_size)
		return 0;
	return (uint64_t)st.st_size - off < n ? (size_t)((uint64_t)st.st_size - off) : n;
}

static int step_rw(int fd, char op, uint64_t off, size_t n, int seed)
{
	/* one byte in: an unaligned buffer on purpose */
	unsigned char *mem = malloc(n + 1), *b = mem + 1;
	ssize_t r;
	int bad = 0;

	if (op == 'w') {
		for (size_t i = 0; i < n; i++)
			b[i] = pat(seed, off + i);
		r = pwrite(fd, b, n, (off_t)off);
		if (r != (ssize_t)n) {
			printf("pwrite %llu+%zu: %zd (%s)\n", (unsigned long long)off, n, r,
			       strerror(errno));
			bad = 1;
		}
	} else {
		size_t want = expect_len(fd, off, n);

		if (op == 'v') {
			size_t a = n / 3 + 1 < n ? n / 3 + 1 : n, c = (n - a) / 2;
			struct iovec iov[3] = { { b, a }, { b + a, c }, { b + a + c, n - a - c } };

			r = preadv(fd, iov, 3, (off_t)off);
		} else {
			r = pread(fd, b, n, (off_t)off);
		}
		if (r != (ssize_t)want) {
			printf("%cread %llu+%zu: %zd, want %zu (%s)\n", op == 'v' ? 'v' : 'p',
			       (unsigned long long)off, n, r, want, strerror(errno));
			bad = 1;
		} else {
			bad = compare(b, off, want, seed, op == 'v' ? "preadv" : "pread");
		}
	}
	free(mem);
	return bad;
}

static int step_mmap(int fd, uint64_t off, size_t n, int seed)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t base = off & ~(uint64_t)(pg - 1);
	unsigned char *p = mmap(NULL, n + (off - base), PROT_READ, MAP_SHARED, fd, (off_t)base);
	int bad;

	if (p == MAP_FAILED) {
		printf("mmap: %s\n", strerror(errno));
		return 1;
	}
	bad = compare(p + (off - base), off, n, seed, "mmap");
	munmap(p, n + (off - base));
	return bad;
}

/* Bad calls: each prints the errno it got (the shim must match Linux). */
static void step_errors(int fd)
{
	char b[4096];
	int closed = dup(fd);
	/* volatile: the compiler would refuse the calls it can see are bad */
	void *volatile nul = NULL;
	volatile size_t huge = (size_t)SSIZE_MAX + 10;
	volatile int neg = -1;
	/* a page nobody may touch, so a pointer into it is bad */
	char *bad = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ssize_t r;

	close(closed);
	errno = 0;
	r = pread(closed, b, 16, 0);
	printf("pread closed fd: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pread(fd, b, 16, -4096);
	printf("pread negative offset: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pwrite(fd, b, 16, -1);
	printf("pwrite negative offset: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pread(fd, nul, 4096, 0);
	printf("pread NULL buffer: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pwrite(fd, nul, 4096, 0);
	printf("pwrite NULL buffer: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pread(fd, bad + 1, 4096, 0); /* unaligned: the shim's bounce path */
	printf("pread bad unaligned buffer: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pwrite(fd, bad + 1, 4096, 0);
	printf("pwrite bad unaligned buffer: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pread(fd, b, huge, 0);
	printf("pread length past SSIZE_MAX: %zd %s\n", r > 0 ? (ssize_t)1 : r,
	       errno ? strerror(errno) : "read");
	errno = 0;
	r = preadv2(fd, &(struct iovec){ b, 16 }, 1, 0, 0x40000000);
	printf("preadv2 bad flags: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = preadv(fd, &(struct iovec){ b, 16 }, neg, 0);
	printf("preadv negative count: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = pread(fd, b, 0, 0);
	printf("pread zero length: %zd %s\n", r, strerror(errno));
	errno = 0;
	r = fsync(closed);
	printf("fsync closed fd: %zd %s\n", r, strerror(errno));
}

static int fd_now;

static int step_fork(int fd, uint64_t off, size_t n, int seed)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit(step_rw(fd, 'r', off, n, seed));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return printf("fork: %s\n", strerror(errno)), 1;
	return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

static int step_acked(int fd, unsigned n, int seed)
{
	for (unsigned i = 0; i < n; i++) {
		if (step_rw(fd, 'w', (uint64_t)i * 4096, 4096, seed))
			return 1;
		if (fdatasync(fd) < 0)
			return printf("fdatasync: %s\n", strerror(errno)), 1;
		printf("ack %u\n", i);
		fflush(stdout);
	}
	return 0;
}

static int step(int fd, char *s)
{
	char *f[4] = { 0 };
	int n = 0;

	if (s[0] == 'x' && s[1] == ':')
		return system(s + 2) != 0 ? (printf("x: '%s' failed\n", s + 2), 1) : 0;
	for (char *t = strtok(s, ":"); t && n < 4; t = strtok(NULL, ":"))
		f[n++] = t;
	switch (f[0][0]) {
	case 'w': case 'r': case 'v':
		return n == 4 ? step_rw(fd, f[0][0], strtoull(f[1], NULL, 0),
					(size_t)strtoull(f[2], NULL, 0), seed_of(f[3])) : 2;
	case 'm':
		return n == 4 ? step_mmap(fd, strtoull(f[1], NULL, 0),
					  (size_t)strtoull(f[2], NULL, 0), seed_of(f[3])) : 2;
	case 'f':
		if (n != 3)
			return 2;
		if (fallocate(fd, 0, (off_t)strtoull(f[1], NULL, 0),
			      (off_t)strtoull(f[2], NULL, 0)) < 0)
			return printf("fallocate: %s\n", strerror(errno)), 1;
		return 0;
	case 't':
		if (n != 2)
			return 2;
		if (ftruncate(fd, (off_t)strtoull(f[1], NULL, 0)) < 0)
			return printf("ftruncate: %s\n", strerror(errno)), 1;
		return 0;
	case 's':
		if (fdatasync(fd) < 0)
			return printf("fdatasync: %s\n", strerror(errno)), 1;
		return 0;
	case 'e':
		step_errors(fd);
		return 0;
	case 'a':
		return n == 3 ? step_acked(fd, (unsigned)strtoul(f[1], NULL, 0), seed_of(f[2])) : 2;
	case 'd':
		fd_now = dup(fd);
		close(fd);
		return fd_now < 0;
	case 'k':
		return n == 4 ? step_fork(fd, strtoull(f[1], NULL, 0),
					  (size_t)strtoull(f[2], NULL, 0), seed_of(f[3])) : 2;
	}
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fileio PATH STEP...\n");
		return 2;
	}
	if ((fd_now = getenv("FILEIO_RDONLY") ? open(argv[1], O_RDONLY) :
		      open(argv[1], O_RDWR | O_CREAT, 0644)) < 0) {
		printf("open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		char copy[4096];
		int rc;

		snprintf(copy, sizeof(copy), "%s", argv[i]);
		if ((rc = step(fd_now, copy))) {
			if (rc == 2)
				printf("bad step '%s'\n", argv[i]);
			else
				printf("at step %d '%s'\n", i - 1, argv[i]);
			return 1;
		}
	}
	close(fd_now);
	return 0;
}
