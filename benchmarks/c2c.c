/*
 * c2c.c - how long a cache line takes to go from one core to another and
 * back on this machine, now.
 *
 * Two processes joined by net_memif (the demo's bypass path) hand every
 * packet over through shared memory: the ring indices, the descriptors and
 * the data cross between the server's core and the client's on each
 * request, so the bypass result follows this latency. On a virtual
 * machine it is the host's choice: two vCPUs on one physical core's
 * threads, or on cores of one cache, are several times closer than vCPUs
 * spread wider, and the host moves them while we run. The demo measures it
 * before each run so a slow run can be told from a slow path.
 *
 *   c2c [CPU_A CPU_B [SAMPLES]]   one line per sample (about 0.2 s each):
 *                                 nanoseconds per round trip of one line
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 500000L

struct side {
	int cpu;
	long rounds;
};

/* the line that bounces, alone on its cache line */
static _Alignas(64) volatile long line;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Answers each odd value with the next even one. */
static void *pong(void *arg)
{
	struct side *s = arg;

	pin(s->cpu);
	for (long i = 0; i < s->rounds; i++) {
		while (line != 2 * i + 1)
			;
		line = 2 * i + 2;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int a = argc > 2 ? atoi(argv[1]) : 0, b = argc > 2 ? atoi(argv[2]) : 1;
	int samples = argc > 3 ? atoi(argv[3]) : 3;
	struct side other = { .cpu = b, .rounds = ROUNDS };

	/* both CPUs must be ours: two spinning threads on one would take a
	 * scheduler slice per round */
	if (a == b || pin(b) != 0 || pin(a) != 0) {
		fprintf(stderr, "c2c: needs two CPUs of its own (%d and %d)\n", a, b);
		return 1;
	}
	for (int k = 0; k < samples; k++) {
		pthread_t t;
		uint64_t t0;

		line = 0;
		if (pthread_create(&t, NULL, pong, &other) != 0) {
			fprintf(stderr, "c2c: no thread\n");
			return 1;
		}
		t0 = now_ns();
		for (long i = 0; i < ROUNDS; i++) {
			line = 2 * i + 1;
			while (line != 2 * i + 2)
				;
		}
		printf("%.0f\n", (double)(now_ns() - t0) / ROUNDS);
		fflush(stdout);
		pthread_join(t, NULL);
	}
	return 0;
}
