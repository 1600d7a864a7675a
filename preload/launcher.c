/*
 * launcher.c - `accel`: runs a program with libaccel preloaded, the way
 * `onload` wraps one. Settings come from the environment; --profile adds
 * a named set of them (built in, or a file) under the environment, which
 * still wins. The library itself checks the values when it loads.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "config.h"

#define LIBNAME "libaccel.so.0"

#ifndef ACCEL_VERSION
#define ACCEL_VERSION "0.1.0"
#endif
/* Where `make install` or the package put the library (-D by the Makefile). */
#ifndef ACCEL_LIBDIR
#define ACCEL_LIBDIR "/usr/local/lib"
#endif
#ifndef ACCEL_LIBDIR_REL
#define ACCEL_LIBDIR_REL "lib"
#endif
#ifndef ACCEL_PROFILE_ETC
#define ACCEL_PROFILE_ETC "/etc/accel/profiles"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: accel [--profile NAME] [--show-config] [--] PROGRAM [ARGS...]\n"
		"       accel --profile list | --version | --help\n"
		"\n"
		"Runs PROGRAM with libaccel preloaded: its TCP sockets to the DPDK\n"
		"port's address are served in userspace; everything else goes to the\n"
		"kernel unchanged. Settings come from the environment, then from the\n"
		"profile, then from the defaults:\n\n");
	for (const struct accel_var *v = accel_vars; v->name; v++)
		fprintf(out, "  %-20s %s\n  %-20s (default: %s)\n", v->name, v->help,
			"", v->def ? v->def : "unset");
	fprintf(out,
		"\noptions:\n"
		"  --profile NAME   settings from profile NAME (built in, or NAME.conf in\n"
		"                   $XDG_CONFIG_HOME/accel/profiles or " ACCEL_PROFILE_ETC ")\n"
		"  --profile list   the profiles there are\n"
		"  --show-config    the effective settings and where each comes from;\n"
		"                   with no PROGRAM, nothing runs (else on stderr)\n"
		"  --version        the version\n"
		"\nexample:\n"
		"  ACCEL_DPDK_ARGS='--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0' \\\n"
		"  ACCEL_IP=10.88.0.2/24 accel --profile memcached memcached -u root\n");
}

static const char *env_get(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

/* What the program will see: the environment, else the profile (arg). */
static const char *layered_get(const char *name, void *arg)
{
	const char *v;

	return accel_effective(name, arg, env_get, NULL, &v) == ACCEL_SRC_DEFAULT ? NULL : v;
}

/* The library next to this executable (build tree), in its ../LIBDIR (an
 * installed tree, wherever it is unpacked), or where it was installed. */
static int find_library(char *out, size_t len)
{
	static const char *const rel[] = { "", "/../" ACCEL_LIBDIR_REL, "/../lib",
					   "/../lib/libaccel" };
	char exe[PATH_MAX], path[PATH_MAX + 32], *dir;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		dir = dirname(exe);
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(path, sizeof(path), "%s%s/" LIBNAME, dir, rel[i]);
			if (access(path, R_OK) == 0 && realpath(path, out) && strlen(out) < len)
				return 0;
		}
	}
	snprintf(path, sizeof(path), "%s/" LIBNAME, ACCEL_LIBDIR);
	if (access(path, R_OK) == 0 && strlen(path) < len) {
		snprintf(out, len, "%s", path);
		return 0;
	}
	return -1;
}

/* A directory's NAME.conf files, marked when a stronger one hides them. */
static void list_dir(const char *dir, const char *stronger)
{
	struct dirent **ents;
	int n = dir[0] ? scandir(dir, &ents, NULL, alphasort) : -1;

	for (int i = 0; i < n; i++) {
		size_t len = strlen(ents[i]->d_name);
		char other[PATH_MAX];

		if (len > 5 && !strcmp(ents[i]->d_name + len - 5, ".conf") &&
		    ents[i]->d_name[0] != '.') {
			snprintf(other, sizeof(other), "%s/%s", stronger ? stronger : "",
				 ents[i]->d_name);
			printf("  %-12.*s %s/%s%s\n", (int)len - 5, ents[i]->d_name, dir,
			       ents[i]->d_name,
			       stronger && access(other, F_OK) == 0 ? " (hidden by the user's)" : "");
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static void list_profiles(void)
{
	char user[256];

	accel_profile_user_dir(user, sizeof(user), env_get, NULL);
	printf("profile files (they win over a built-in of the same name):\n");
	list_dir(user, NULL);
	list_dir(ACCEL_PROFILE_ETC, user[0] ? user : NULL);
	printf("built-in:\n");
	for (const struct accel_builtin_profile *b = accel_profiles; b->name; b++) {
		printf("  %-12s", b->name);
		for (const char *s = b->settings; *s; ) {
			const char *nl = strchr(s, '\n');
			int n = nl ? (int)(nl - s) : (int)strlen(s);

			printf(" %.*s", n, s);
			s += n + (nl ? 1 : 0);
		}
		printf("\n  %-12s %s\n", "", b->why);
	}
}

static void show_config(FILE *out, const struct accel_profile *p, const char *lib)
{
	static const char *const src[] = { "default", "profile", "environment" };
	struct accel_config c;
	char err[1024];

	fprintf(out, "library: %s\n", lib ? lib : "(not found)");
	if (p)
		fprintf(out, "profile: %s (%s)\n", p->name, p->origin);
	for (const struct accel_var *v = accel_vars; v->name; v++) {
		const char *val;
		enum accel_source s = accel_effective(v->name, p, env_get, NULL, &val);

		fprintf(out, "%-21s %-12s %s\n", v->name, src[s], val ? val : "(unset)");
	}
	if (accel_config_parse(&c, layered_get, (void *)p, err, sizeof(err)) < 0)
		fprintf(out, "refused: %s\n", err);
}

/* The profile's values under the environment's: set only what is unset. */
static int apply_profile(const struct accel_profile *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		const char *e = getenv(p->var[i]);

		if ((!e || !*e) && setenv(p->var[i], p->value[i], 1) < 0) {
			perror("accel: setenv");
			return -1;
		}
	}
	return 0;
}

static int preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *both;

	if (!old || !*old)
		return setenv("LD_PRELOAD", lib, 1);
	both = malloc(strlen(lib) + strlen(old) + 2);
	if (!both)
		return -1;
	sprintf(both, "%s:%s", lib, old);
	return setenv("LD_PRELOAD", both, 1);
}

/*
 * A user who ran `accel prog` without ACCEL_IP gets a program on the
 * kernel only: said here, once, on the launcher's stderr before the
 * program starts. The library says it at info level only, so a program
 * that finds LD_PRELOAD in its environment (a test harness's client, a
 * script's tools) writes nothing on its stderr it would not have written.
 * Bad settings are the library's to report (every one, in one line).
 */
static void no_ip_warning(void)
{
	static struct accel_config c;
	char err[1024];

	if (accel_config_parse(&c, env_get, NULL, err, sizeof(err)) < 0 || c.disable ||
	    c.has_ip || c.storage[0] || c.log_level < ACCEL_LOG_WARN)
		return;
	fprintf(stderr, "accel: warning: no ACCEL_IP: running on the kernel only "
		"(ACCEL_IP=address/prefix gives the program the DPDK port)\n");
}

int main(int argc, char **argv)
{
	static struct accel_profile prof;
	const char *profile = NULL;
	char lib[PATH_MAX], err[512];
	int first = 1, show = 0, have_lib;

	for (; first < argc && argv[first][0] == '-'; first++) {
		const char *a = argv[first];

		if (!strcmp(a, "--")) {
			first++;
			break;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("accel " ACCEL_VERSION " (" LIBNAME ")\n");
			return 0;
		} else if (!strcmp(a, "--show-config")) {
			show = 1;
		} else if (!strncmp(a, "--profile=", 10)) {
			profile = a + 10;
		} else if (!strcmp(a, "--profile")) {
			if (first + 1 >= argc) {
				fprintf(stderr, "accel: --profile needs a NAME "
					"('accel --profile list' shows them)\n");
				return 2;
			}
			profile = argv[++first];
		} else {
			fprintf(stderr, "accel: unknown option %s ('accel --help' lists them)\n", a);
			return 2;
		}
	}
	if (profile && !strcmp(profile, "list")) {
		list_profiles();
		return 0;
	}
	if (profile && accel_profile_load(&prof, profile, ACCEL_PROFILE_ETC, env_get, NULL,
					  err, sizeof(err)) < 0) {
		fprintf(stderr, "accel: %s\n", err);
		return 2;
	}
	have_lib = find_library(lib, sizeof(lib)) == 0;
	/* (on stderr when a program runs: its stdout stays its own) */
	if (show)
		show_config(first < argc ? stderr : stdout, profile ? &prof : NULL,
			    have_lib ? lib : NULL);
	if (show && first >= argc)
		return 0;
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	if (!have_lib) {
		fprintf(stderr, "accel: cannot find " LIBNAME " next to this program, in "
			"../lib or in " ACCEL_LIBDIR "\n");
		return 127;
	}
	if ((profile && apply_profile(&prof) < 0) || preload(lib) < 0) {
		perror("accel: setenv");
		return 127;
	}
	no_ip_warning();
	fflush(stdout);
	execvp(argv[first], argv + first);
	fprintf(stderr, "accel: cannot run %s: %s\n", argv[first], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
