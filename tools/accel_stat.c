/*
 * accel_stat.c - `accel-stat`: the counters of a program running under
 * libaccel, while it runs.
 *
 *   accel-stat            list the processes that publish counters
 *   accel-stat PID        print PID's counters (one "name value" a line)
 *   accel-stat PID SECS   print them every SECS seconds, with the change
 *
 * The shim rewrites /run/libaccel/PID.stats (or /tmp/PID.stats) at most
 * once a second while its stack runs or it does storage I/O on a file
 * named by ACCEL_STORAGE (sockets/stats.c, preload/files.c). Each run
 * first removes the files (counters, port locks) of processes that are
 * gone (common/statsdir.h).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/statsdir.h"

#define dirs accel_stats_dirs

static FILE *open_stats(long pid)
{
	char path[96];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%ld.stats", dirs[i], pid);
		if ((f = fopen(path, "r")))
			return f;
	}
	return NULL;
}

static int list(void)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			long pid;
			char tail[16];

			if (sscanf(e->d_name, "%ld.%15s", &pid, tail) == 2 &&
			    !strcmp(tail, "stats") && kill((pid_t)pid, 0) == 0) {
				printf("%ld\n", pid);
				n++;
			}
		}
		if (d)
			closedir(d);
	}
	if (!n)
		fprintf(stderr, "accel-stat: no process under libaccel publishes counters\n");
	return n ? 0 : 1;
}

#define MAXC 128

struct counter {
	char name[48];
	unsigned long long v;
};

static int load(long pid, struct counter *c, int *n)
{
	FILE *f = open_stats(pid);

	*n = 0;
	if (!f)
		return -1;
	while (*n < MAXC && fscanf(f, "%47s %llu", c[*n].name, &c[*n].v) == 2)
		(*n)++;
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct counter now[MAXC], before[MAXC];
	int n, nb = 0;
	long pid;
	unsigned secs = 0;

	accel_stats_sweep(); /* (those of processes gone: kill -9) */
	accel_lock_sweep(NULL);
	if (argc == 1)
		return list();
	if (argc > 3 || !(pid = strtol(argv[1], NULL, 10)) ||
	    (argc == 3 && !(secs = (unsigned)strtoul(argv[2], NULL, 10)))) {
		fprintf(stderr, "usage: accel-stat [PID [SECONDS]]\n");
		return 2;
	}
	for (;;) {
		if (load(pid, now, &n) < 0) {
			fprintf(stderr, "accel-stat: no counters for pid %ld (is it under "
				"libaccel with a port up or storage I/O?)\n", pid);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			unsigned long long prev = 0;

			for (int j = 0; j < nb; j++)
				if (!strcmp(before[j].name, now[i].name))
					prev = before[j].v;
			if (secs && nb)
				printf("%-24s %14llu %+14lld\n", now[i].name, now[i].v,
				       (long long)(now[i].v - prev));
			else
				printf("%-24s %14llu\n", now[i].name, now[i].v);
		}
		if (!secs)
			return 0;
		memcpy(before, now, sizeof(now));
		nb = n;
		fflush(stdout);
		sleep(secs);
		printf("\n");
	}
}
