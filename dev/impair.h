/*
 * impair.h - the device layer's own network impairment: loss, duplication,
 * reordering, delay and jitter on a queue's transmit or receive side,
 * deterministic from a seed. It stands where tc netem would (this
 * machine's kernel has no netem), on both directions of the port.
 *
 * Spec string: "loss=1.5,dup=1,reorder=25,delay=1000,jitter=500,seed=7"
 * (percentages; microseconds). Empty: no impairment.
 */
#ifndef ACCEL_DEV_IMPAIR_H
#define ACCEL_DEV_IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#define IMPAIR_HELD_MAX 4096 /* frames in flight in the delay line */

struct impair_conf {
	uint32_t loss_ppm, dup_ppm, reorder_ppm; /* parts per million */
	uint64_t delay_ns, jitter_ns;
	uint64_t seed;
};

struct impair_stats {
	uint64_t dropped, duplicated, reordered, delayed, overflow;
};

struct impair_held {
	uint64_t due;
	void *pkt;
};

struct impair {
	struct impair_conf conf;
	uint64_t rng;
	unsigned n;                      /* held, sorted by due */
	struct impair_held held[IMPAIR_HELD_MAX];
	struct impair_stats stats;
};

/* Parses a spec; 0, or -EINVAL with a one-line reason in err. */
int impair_parse(const char *spec, struct impair_conf *c, char *err, size_t len);

static inline int impair_active(const struct impair_conf *c)
{
	return c->loss_ppm || c->dup_ppm || c->reorder_ppm || c->delay_ns || c->jitter_ns;
}

void impair_init(struct impair *im, const struct impair_conf *c);

/*
 * Takes in[0..n) (ownership), returns in out[] (room for max) the frames
 * due now, in order. dup(pkt) copies a frame (NULL: cannot), drop(pkt)
 * frees one. Frames that do not fit in out stay held for the next call.
 */
unsigned impair_apply(struct impair *im, uint64_t now, void **in, unsigned n,
		      void **out, unsigned max, void *(*dup)(void *),
		      void (*drop)(void *));

/* Frees every held frame. */
void impair_flush(struct impair *im, void (*drop)(void *));

#endif
