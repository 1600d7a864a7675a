/*
 * jitter.c - how often this machine takes a core away from a busy thread.
 *
 * A thread that only reads the clock in a loop sees a gap whenever it is
 * not running: an interrupt, a kernel thread, the hypervisor. A request
 * in flight during such a gap is late by it, whatever the network stack
 * does, so the gaps bound the tail latency any path can reach here. Run one
 * copy per core at once (benchmarks/run.sh does), as a loaded server and
 * client would keep both cores busy.
 *
 *   jitter [SECONDS]   one line: gaps over 20 us, 50 us, 200 us and 1 ms per
 *                      second, the longest, and the share of time lost in
 *                      gaps over 20 us
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 5;
	static const uint64_t over[] = { 20000, 50000, 200000, 1000000 };
	uint64_t n[4] = { 0 }, lost = 0, max = 0, start = now_ns(), last = start;
	uint64_t end = start + (uint64_t)(secs * 1e9);

	for (uint64_t t = start; t < end; last = t) {
		uint64_t gap;

		t = now_ns();
		gap = t - last;
		if (gap > max)
			max = gap;
		if (gap > over[0])
			lost += gap;
		for (int i = 0; i < 4; i++)
			n[i] += gap > over[i];
	}
	printf("gaps per second: >20us %.0f >50us %.0f >200us %.1f >1ms %.1f; longest %.0f us; "
	       "time lost in gaps >20us %.2f%%\n", n[0] / secs, n[1] / secs, n[2] / secs,
	       n[3] / secs, max / 1e3, 100.0 * (double)lost / (secs * 1e9));
	return 0;
}
