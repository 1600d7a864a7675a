/*
 * launcher.c - `accel`: runs a program with libaccel preloaded, the way
 * `onload` wraps one. The ACCEL_* settings pass through the environment
 * untouched; the library itself checks them when it loads.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define LIBNAME "libaccel.so"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: accel [--help] [--] PROGRAM [ARGS...]\n"
		"\n"
		"Runs PROGRAM with libaccel preloaded: its TCP sockets to the DPDK\n"
		"port's address are served in userspace; everything else goes to the\n"
		"kernel unchanged. Settings come from the environment:\n\n");
	for (const struct accel_var *v = accel_vars; v->name; v++)
		fprintf(out, "  %-20s %s\n  %-20s (default: %s)\n", v->name, v->help,
			"", v->def ? v->def : "unset");
	fprintf(out,
		"\nexample:\n"
		"  ACCEL_DPDK_ARGS='--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0' \\\n"
		"  ACCEL_IP=10.88.0.2/24 accel memcached -u root -t 4\n");
}

/* The library next to this executable (build tree), or in ../lib (install). */
static int find_library(char *out, size_t len)
{
	static const char *const rel[] = { "", "/../lib", "/../lib/libaccel" };
	char exe[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -1;
	exe[n] = '\0';
	dir = dirname(exe);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s%s/" LIBNAME, dir, rel[i]);
		if (access(path, R_OK) == 0 && realpath(path, out) && strlen(out) < len)
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX], *preload;
	const char *old;
	int first = 1;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--"))
		first = 2;
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	if (find_library(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "accel: cannot find " LIBNAME " next to this program "
			"or in ../lib\n");
		return 127;
	}
	old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t len = strlen(lib) + strlen(old) + 2;

		preload = malloc(len);
		if (!preload)
			return 127;
		snprintf(preload, len, "%s:%s", lib, old);
	} else {
		preload = lib;
	}
	if (setenv("LD_PRELOAD", preload, 1) < 0) {
		perror("accel: setenv");
		return 127;
	}
	execvp(argv[first], argv + first);
	fprintf(stderr, "accel: cannot run %s: %s\n", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
