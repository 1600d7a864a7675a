/*
 * accel_stat.c - `accel-stat`: the counters of a program running under
 * libaccel, while it runs.
 *
 *   accel-stat                 list the processes that publish counters
 *   accel-stat PID             print PID's counters (one "name value" a line:
 *                              the stacks', the port's port_* (rte_eth_stats,
 *                              then xstats: per queue, the driver's own) and
 *                              mbufs_*, storage_*; the names of the exit
 *                              line), then a row per stack: its queue,
 *                              threads and own counters
 *   accel-stat PID SECS        (or --watch SECS) every SECS seconds, with the change
 *   accel-stat --sockets PID   each bypass socket as `ss -tni` shows it
 *   accel-stat --json ...      the same as one JSON object a sample:
 *       {"pid": N, "counters": {"name": value, ...},
 *        ["interval_s": S, "rates": {"name": per second, ...},]
 *        "stacks": [{"stack", "queue", "threads", "rx_pkts", ...}, ...],
 *        ["sockets": [{"fd", "stack", "state", "local", "remote", "recv_q",
 *          "send_q", "bytes_received", "bytes_acked", "cwnd", "mss",
 *          "srtt_us", "rttvar_us", "retransmits"}, ...]]}
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

#define MAXC 256
#define MAXS 4096

struct counter {
	char name[48];
	unsigned long long v;
};

/* A "sock k=v k=v ..." line, kept as its text after "sock ". */
struct sockline {
	char text[400];
};

#define MAXSTACKS 64

struct snapshot {
	struct counter c[MAXC];
	int n;
	struct sockline *s; /* MAXS of them */
	int ns;
	struct sockline st[MAXSTACKS]; /* "stack k=v ..." lines, text after "stack " */
	int nst;
};

static int load(long pid, struct snapshot *sn)
{
	FILE *f = open_stats(pid);
	char line[400];

	sn->n = sn->ns = sn->nst = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "sock ", 5)) {
			if (sn->ns < MAXS)
				snprintf(sn->s[sn->ns++].text, sizeof(sn->s[0].text), "%s", line + 5);
		} else if (!strncmp(line, "stack ", 6)) {
			if (sn->nst < MAXSTACKS)
				snprintf(sn->st[sn->nst++].text, sizeof(sn->st[0].text), "%s",
					 line + 6);
		} else if (sn->n < MAXC &&
			   sscanf(line, "%47s %llu", sn->c[sn->n].name, &sn->c[sn->n].v) == 2) {
			sn->n++;
		}
	}
	fclose(f);
	return 0;
}

static unsigned long long prev_of(const struct snapshot *b, const char *name)
{
	for (int j = 0; b && j < b->n; j++)
		if (!strcmp(b->c[j].name, name))
			return b->c[j].v;
	return 0;
}

/* k=v pairs of a socket line: numbers as numbers, the rest as strings */
static void json_socket(const char *text)
{
	char buf[400], *save = NULL;
	int first = 1;

	snprintf(buf, sizeof(buf), "%s", text);
	printf("{");
	for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(kv, '='), *end;

		if (!eq)
			continue;
		*eq = '\0';
		strtoull(eq + 1, &end, 10);
		printf("%s\"%s\": ", first ? "" : ", ", kv);
		if (*end == '\0' && end != eq + 1)
			printf("%s", eq + 1);
		else
			printf("\"%s\"", eq + 1);
		first = 0;
	}
	printf("}");
}

static void print_json(long pid, const struct snapshot *sn, const struct snapshot *b,
		       unsigned secs, int sockets)
{
	printf("{\"pid\": %ld, \"counters\": {", pid);
	for (int i = 0; i < sn->n; i++)
		printf("%s\"%s\": %llu", i ? ", " : "", sn->c[i].name, sn->c[i].v);
	printf("}");
	if (b && secs) {
		printf(", \"interval_s\": %u, \"rates\": {", secs);
		for (int i = 0; i < sn->n; i++)
			printf("%s\"%s\": %.1f", i ? ", " : "", sn->c[i].name,
			       (double)(long long)(sn->c[i].v - prev_of(b, sn->c[i].name)) / secs);
		printf("}");
	}
	printf(", \"stacks\": [");
	for (int i = 0; i < sn->nst; i++) {
		printf("%s", i ? ", " : "");
		json_socket(sn->st[i].text);
	}
	printf("]");
	if (sockets) {
		printf(", \"sockets\": [");
		for (int i = 0; i < sn->ns; i++) {
			printf("%s", i ? ", " : "");
			json_socket(sn->s[i].text);
		}
		printf("]");
	}
	printf("}\n");
}

static const char *field(const char *text, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *p = text; (p = strstr(p, key)); p += k)
		if ((p == text || p[-1] == ' ') && p[k] == '=') {
			size_t n = strcspn(p + k + 1, " ");

			snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p + k + 1);
			return out;
		}
	snprintf(out, len, "-");
	return out;
}

/* as `ss -tni` lays it out: one row a socket; a negative width pads on
 * the right */
static void print_sockets(const struct snapshot *sn)
{
	static const struct {
		const char *key, *head;
		int width;
	} cols[] = {
		{ "state", "State", -12 }, { "recv_q", "Recv-Q", 8 }, { "send_q", "Send-Q", 8 },
		{ "local", "Local", -21 }, { "remote", "Peer", -21 }, { "fd", "fd", 5 },
		{ "stack", "stack", 5 }, { "cwnd", "cwnd", 6 }, { "srtt_us", "srtt_us", 8 },
		{ "rttvar_us", "rttvar_us", 9 }, { "retransmits", "retrans", 7 },
		{ "bytes_received", "bytes_received", 14 }, { "bytes_acked", "bytes_acked", 14 },
	};
	const int n = (int)(sizeof(cols) / sizeof(cols[0]));
	char v[64];

	for (int c = 0; c < n; c++)
		printf("%s%*s", c ? " " : "", cols[c].width, cols[c].head);
	printf("\n");
	for (int i = 0; i < sn->ns; i++) {
		for (int c = 0; c < n; c++)
			printf("%s%*s", c ? " " : "", cols[c].width,
			       field(sn->s[i].text, cols[c].key, v, sizeof(v)));
		printf("\n");
	}
}

/* one row a stack: its queue, threads and own counters (the names of the
 * process's) */
static void print_stacks(const struct snapshot *sn)
{
	static const char *const cols[] = { "stack", "queue", "threads", "rx_pkts", "tx_pkts",
					    "tcp_segs_in", "tcp_segs_out", "tcp_retransmits",
					    "tcp_moved_in", "tcp_moved_out", "tcp_steered" };
	const size_t nc = sizeof(cols) / sizeof(cols[0]);
	char v[64];

	if (!sn->nst)
		return;
	printf("\n");
	for (size_t k = 0; k < nc; k++)
		printf(k < 3 ? "%-8s" : "%16s", cols[k]);
	printf("\n");
	for (int i = 0; i < sn->nst; i++) {
		for (size_t k = 0; k < nc; k++)
			printf(k < 3 ? "%-8s" : "%16s", field(sn->st[i].text, cols[k], v, sizeof(v)));
		printf("\n");
	}
}

static void print_text(const struct snapshot *sn, const struct snapshot *b, unsigned secs)
{
	for (int i = 0; i < sn->n; i++) {
		if (secs && b)
			printf("%-24s %14llu %+14lld\n", sn->c[i].name, sn->c[i].v,
			       (long long)(sn->c[i].v - prev_of(b, sn->c[i].name)));
		else
			printf("%-24s %14llu\n", sn->c[i].name, sn->c[i].v);
	}
	print_stacks(sn);
}

static int usage(void)
{
	fprintf(stderr, "usage: accel-stat [--sockets] [--json] [--watch SECONDS] [PID [SECONDS]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct sockline sa[MAXS], sb[MAXS];
	static struct snapshot now, before;
	int sockets = 0, json = 0, have_before = 0;
	long pid = 0;
	unsigned secs = 0;

	accel_stats_sweep(); /* (those of processes gone: kill -9) */
	accel_lock_sweep(NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sockets"))
			sockets = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			if (!(secs = (unsigned)strtoul(argv[++i], NULL, 10)))
				return usage();
		} else if (!pid && (pid = strtol(argv[i], NULL, 10)) > 0)
			continue;
		else if (pid && !secs && (secs = (unsigned)strtoul(argv[i], NULL, 10)))
			continue;
		else
			return usage();
	}
	if (!pid)
		return (sockets || json || secs) ? usage() : list();
	now.s = sa;
	before.s = sb;
	for (;;) {
		if (load(pid, &now) < 0) {
			fprintf(stderr, "accel-stat: no counters for pid %ld (is it under "
				"libaccel with a port up or storage I/O?)\n", pid);
			return 1;
		}
		if (json)
			print_json(pid, &now, have_before ? &before : NULL, secs, sockets);
		else if (sockets)
			print_sockets(&now);
		else
			print_text(&now, have_before ? &before : NULL, secs);
		if (!secs)
			return 0;
		before.n = now.n;
		memcpy(before.c, now.c, sizeof(now.c));
		have_before = 1;
		fflush(stdout);
		sleep(secs);
		if (!json)
			printf("\n");
	}
}
