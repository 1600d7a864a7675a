/*
 * impair.c - see impair.h. Like netem: each frame may be lost, then
 * duplicated; each copy gets the delay plus a uniform jitter, except that
 * a "reordered" frame skips the delay (netem's reorder) or, without a
 * delay, waits 100 us so that the next frames overtake it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "impair.h"

#define REORDER_HOLD_NS 100000ull

static uint64_t rnd(struct impair *im)
{
	im->rng ^= im->rng << 13;
	im->rng ^= im->rng >> 7;
	im->rng ^= im->rng << 17;
	return im->rng;
}

static int chance(struct impair *im, uint32_t ppm)
{
	return ppm && rnd(im) % 1000000u < ppm;
}

int impair_parse(const char *spec, struct impair_conf *c, char *err, size_t len)
{
	char buf[256], *save = NULL;

	memset(c, 0, sizeof(*c));
	c->seed = 1;
	if (!spec || !*spec)
		return 0;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		double v;

		if (!eq)
			goto bad;
		*eq = '\0';
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end || v < 0)
			goto bad;
		if (!strcmp(kv, "loss") && v <= 100)
			c->loss_ppm = (uint32_t)(v * 10000);
		else if (!strcmp(kv, "dup") && v <= 100)
			c->dup_ppm = (uint32_t)(v * 10000);
		else if (!strcmp(kv, "reorder") && v <= 100)
			c->reorder_ppm = (uint32_t)(v * 10000);
		else if (!strcmp(kv, "delay") && v <= 10e6)
			c->delay_ns = (uint64_t)(v * 1000);
		else if (!strcmp(kv, "jitter") && v <= 10e6)
			c->jitter_ns = (uint64_t)(v * 1000);
		else if (!strcmp(kv, "seed"))
			c->seed = (uint64_t)v ? (uint64_t)v : 1;
		else
			goto bad;
	}
	return 0;
bad:
	snprintf(err, len, "'%s': expected loss=%%,dup=%%,reorder=%%,delay=us,"
		 "jitter=us,seed=n", spec);
	return -EINVAL;
}

void impair_init(struct impair *im, const struct impair_conf *c)
{
	memset(im, 0, sizeof(*im));
	im->conf = *c;
	im->rng = c->seed * 0x9e3779b97f4a7c15ull + 1;
}

/* Inserts a frame in due order (stable: equal times keep arrival order). */
static void hold(struct impair *im, uint64_t due, void *pkt, void (*drop)(void *))
{
	unsigned i = im->n;

	if (im->n == IMPAIR_HELD_MAX) {
		im->stats.overflow++;
		drop(pkt);
		return;
	}
	while (i > 0 && im->held[i - 1].due > due) {
		im->held[i] = im->held[i - 1];
		i--;
	}
	im->held[i].due = due;
	im->held[i].pkt = pkt;
	im->n++;
}

static uint64_t due_time(struct impair *im, uint64_t now)
{
	uint64_t d = im->conf.delay_ns;

	if (im->conf.jitter_ns)
		d += rnd(im) % (im->conf.jitter_ns + 1);
	if (chance(im, im->conf.reorder_ppm)) {
		im->stats.reordered++;
		return im->conf.delay_ns ? now : now + REORDER_HOLD_NS;
	}
	if (d)
		im->stats.delayed++;
	return now + d;
}

unsigned impair_apply(struct impair *im, uint64_t now, void **in, unsigned n,
		      void **out, unsigned max, void *(*dup)(void *),
		      void (*drop)(void *))
{
	unsigned k = 0, i;

	for (i = 0; i < n; i++) {
		void *copy;

		if (chance(im, im->conf.loss_ppm)) {
			im->stats.dropped++;
			drop(in[i]);
			continue;
		}
		if (chance(im, im->conf.dup_ppm) && (copy = dup(in[i])) != NULL) {
			im->stats.duplicated++;
			hold(im, due_time(im, now), copy, drop);
		}
		hold(im, due_time(im, now), in[i], drop);
	}
	while (k < max && k < im->n && im->held[k].due <= now) {
		out[k] = im->held[k].pkt;
		k++;
	}
	memmove(im->held, im->held + k, (im->n - k) * sizeof(im->held[0]));
	im->n -= k;
	return k;
}

void impair_flush(struct impair *im, void (*drop)(void *))
{
	for (unsigned i = 0; i < im->n; i++)
		drop(im->held[i].pkt);
	im->n = 0;
}
