/*
 * spin.c - the waits' spin budget and the idle slice. See spin.h.
 */
#include "spin.h"

void sk_spin_init(struct sk_spin *sp, uint64_t fixed_ns, int woken)
{
	sp->near_ns = woken ? SK_SPIN_NEAR_WAKE_NS : SK_SPIN_NEAR_NS;
	sp->fixed = fixed_ns != SK_SPIN_ADAPTIVE;
	sp->budget_ns = sp->fixed ? fixed_ns : SK_SPIN_START_NS;
	sp->looked_at = 0;
	sp->preempted = 0;
}

static uint64_t grown(uint64_t b)
{
	return b >= SK_SPIN_MAX_NS / 2 ? SK_SPIN_MAX_NS : b * 2;
}

static uint64_t shrunk(uint64_t b)
{
	b -= b / 8;
	return b <= SK_SPIN_MIN_NS ? SK_SPIN_MIN_NS : b;
}

void sk_spin_learn(struct sk_spin *sp, uint64_t took_ns, int slept, int got)
{
	uint64_t b = sp->budget_ns;

	if (sp->fixed)
		return;
	if (sp->preempted) {
		sp->preempted = 0;
		b = b / 2 <= SK_SPIN_MIN_NS ? SK_SPIN_MIN_NS : b / 2;
	} else if (slept && took_ns > sp->near_ns)
		b = shrunk(b); /* nothing a spin could have caught */
	else if (got && (slept || took_ns > b / 2))
		b = grown(b); /* caught late in the spin, or just missed */
	sp->budget_ns = b;
}

unsigned sk_idle_stretch(uint64_t base_ns, uint64_t idle_ns)
{
	uint64_t k = base_ns ? idle_ns / base_ns / SK_IDLE_STRETCH + 1 : 1;

	return k >= SK_IDLE_SLICE_MAX ? SK_IDLE_SLICE_MAX : (unsigned)k;
}
