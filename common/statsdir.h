/*
 * statsdir.h - where the counters files live (/run/libaccel, or /tmp when
 * it is not writable: sockets/stats.c writes them, tools/accel_stat.c
 * reads them), and the sweep of those whose process is gone: a process
 * killed by SIGKILL (or dying of any signal) never removes its own. The
 * port lock files (dev/net_dpdk.c port_lock) live there too, and go the
 * same way: one whose flock nobody holds has no owner.
 */
#ifndef ACCEL_COMMON_STATSDIR_H
#define ACCEL_COMMON_STATSDIR_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const char *const accel_stats_dirs[] = { "/run/libaccel", "/tmp" };
#define ACCEL_STATS_NDIRS 2

/* Removes PID.stats and PID.stats.tmp of processes that no longer exist
 * (kill(pid, 0) says ESRCH; a pid alive or not ours to signal stays). */
static inline void accel_stats_sweep(void)
{
	for (size_t i = 0; i < ACCEL_STATS_NDIRS; i++) {
		DIR *d = opendir(accel_stats_dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char path[300], tail[16];
			long pid;

			if (sscanf(e->d_name, "%ld.%15s", &pid, tail) != 2 || pid <= 0 ||
			    (strcmp(tail, "stats") && strcmp(tail, "stats.tmp")))
				continue;
			if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;
			snprintf(path, sizeof(path), "%s/%s", accel_stats_dirs[i], e->d_name);
			unlink(path);
		}
		if (d)
			closedir(d);
	}
}

/* Removes the port lock files nobody holds (but keep, the caller's own).
 * A process that opened one and is about to lock it finds, once locked,
 * that the name leads elsewhere, and takes the new file (port_lock). */
static inline void accel_lock_sweep(const char *keep)
{
	for (size_t i = 0; i < ACCEL_STATS_NDIRS; i++) {
		DIR *d = opendir(accel_stats_dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char path[300];
			int fd;

			if (strncmp(e->d_name, "accel-port-", 11) || !strstr(e->d_name, ".lock"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", accel_stats_dirs[i], e->d_name);
			if (keep && !strcmp(path, keep))
				continue;
			fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlink(path);
			close(fd);
		}
		if (d)
			closedir(d);
	}
}

#endif
