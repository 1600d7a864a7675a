/*
 * spin.h - how long a waiting thread polls its stack before it sleeps in
 * the kernel, learnt per thread from what its waits saw; and how long an
 * idle thread's sleep slice lasts on a port with no receive interrupt.
 * Every waiting call asks sk_spin_budget before it spins and tells
 * sk_spin_learn how the wait ended. Pure functions of their arguments:
 * tests/sockets/test_spin.c drives them with made-up waits.
 *
 * The rule (adaptive polling, as NVMeDirect's adaptive period and
 * io_uring's hybrid poll, where Onload's EF_POLL_USEC and libvma's idle
 * spin are fixed by hand): a spin is worth its cost when what the thread
 * waits for comes within it, or within a moment of it. So
 *  - an event within the spin, in its second half: the budget doubles
 *    (the next gap may be a little longer; keep a margin);
 *  - an event after the thread slept, no more than SK_SPIN_NEAR_NS after
 *    it went to sleep (SK_SPIN_NEAR_WAKE_NS on a queue with an interrupt): a longer spin would have caught it without the
 *    sleep and its wake-up: the budget doubles;
 *  - a sleep that lasted longer than that, with an event at its end or
 *    the call's time up: no spin up to the cap would have helped: the
 *    budget shrinks by an eighth (a loaded machine preempts a thread now
 *    and then, and the peer with it: one long sleep must not undo what
 *    the load taught; by a quarter, memcached under memaslap slept about
 *    twice as often as with a fixed 1 ms);
 * always within SK_SPIN_MIN_NS .. SK_SPIN_MAX_NS. An event early in the
 * spin, or a short timeout, leaves it as it is. Under load the waits keep
 * finding work within a spin or just after one, and the budget climbs to
 * about twice the gaps between requests; an idle thread's few waits end
 * long after, and it falls to a few microseconds (from the cap in about
 * 50 such waits).
 */
#ifndef ACCEL_SOCKETS_SPIN_H
#define ACCEL_SOCKETS_SPIN_H

#include <stdint.h>

/* The bounds of a learnt budget, and where a thread starts. The cap: two
 * of memif's default idle slices (ACCEL_IDLE_POLL_US, 1 ms): a gap longer
 * than that costs a sleep whatever the spin; 1 ms fixed (ACCEL_SPIN_US)
 * was the best figure measured with memcached and memaslap over memif. */
#define SK_SPIN_MIN_NS 2000ull
#define SK_SPIN_MAX_NS 2000000ull
#define SK_SPIN_START_NS 50000ull
/* A sleep that ended with an event no later than this is a near miss: on
 * memif the event is found only at the next slice's end, so it is the cap
 * and two slices more (one late by the scheduler). A near miss counted as
 * a long sleep shrank the budget at every first-slice wake-up: redis SET
 * fell to a tenth of its speed with a fixed 1 ms spin. */
#define SK_SPIN_NEAR_NS (SK_SPIN_MAX_NS + 2000000ull)
/* The same where the queue has a receive interrupt (tap): the sleeper is
 * woken as the frame comes, so a sleep that lasted longer than a wake-up
 * costs (tens of microseconds here) is no miss at all, and spinning
 * through such gaps only takes the CPU from whoever would answer. Counted
 * as near misses they taught six redis-server nodes of a cluster on two
 * cores to spin 2 ms after every cluster-bus message: PUBLISH to a
 * subscriber on another node took 3.7 ms (a fixed 100 us spin: 0.9 ms;
 * the kernel: 0.2 ms). */
#define SK_SPIN_NEAR_WAKE_NS 250000ull

/* sk_net_conf.spin_ns when ACCEL_SPIN_US is unset: learn it. */
#define SK_SPIN_ADAPTIVE UINT64_MAX

/*
 * A spin that was preempted ends there. Two looks of one spin more than
 * SK_SPIN_PREEMPT_NS apart mean the thread lost its CPU between them (a
 * look takes microseconds; the scheduler's slices are milliseconds): more
 * threads want to run than there are cores, and a spinning thread takes
 * the time of the one that would answer it (six redis-server nodes of a
 * cluster on two cores: each message's next hop waited out its
 * neighbours' spins). The spin stops and the budget halves, so a thread
 * that keeps being preempted sleeps almost at once, as with
 * ACCEL_SPIN_US=0; the growth rules bring it back when the cores are free.
 */
#define SK_SPIN_PREEMPT_NS 500000ull

/*
 * A spin on a queue with a receive interrupt (tap) runs only while a core
 * is free for it. There a sleeper is woken as its frame comes, so a spin
 * saves only that wake-up (tens of microseconds), and it costs a core
 * that another thread may be waiting for: the next hop of a message,
 * another node of a cluster on the same host. Six shimmed redis-server
 * nodes of a cluster on two cores spun while the node a cluster-bus
 * message went to waited for a CPU: PUBLISH to a subscriber on another
 * node 0.8-1.1 ms against the kernel's 0.2 ms, 1.35x with ACCEL_SPIN_US=0.
 * So at a wait's first look and then every SK_SPIN_ROOM_LOOK_NS of its
 * spin the host's runnable threads are counted (/proc/loadavg's running
 * count, the reader itself among them, one read about 14 us here): more
 * than there are online CPUs and the spin ends at its second look (the
 * first always runs: a spin of one look is what a wait did at the
 * smallest budget, and the stack's periodic work, the counters file
 * among it, rides on those looks); the budget stays: it says how far
 * apart the thread's events come, not how busy the host is. A wait's
 * first look uses a count up to SK_SPIN_ROOM_NS old, so a busy thread
 * reads at most a thousand times a second (about 1 % of a core).
 * Between counts, every look of such a spin yields the core (wait.c,
 * sched_yield): a thread woken on this CPU (the next hop) runs at once
 * instead of waiting out the 50 us, or a scheduler slice, behind the
 * spinner. The cluster's PUBLISH with it: 122 us against the kernel's
 * 131 us, its p90 about 200 us on both; without it 213 us against 138,
 * p90 1.1-1.4 ms.
 * On a queue with no interrupt (memif) a sleeper finds its frame only at
 * the end of an idle slice (1 ms), so a spin there is kept: the
 * preemption rule above ends it when the cores are short.
 */
#define SK_SPIN_ROOM_NS 1000000ull
#define SK_SPIN_ROOM_LOOK_NS 50000ull

struct sk_spin {
	uint64_t budget_ns;
	uint64_t near_ns;     /* SK_SPIN_NEAR_NS or SK_SPIN_NEAR_WAKE_NS */
	uint64_t looked_at;   /* the spin's last look */
	uint64_t room_at;     /* when the runnable threads were last counted */
	unsigned running;     /* that count (0: could not be read) */
	unsigned ncpu;        /* online CPUs */
	uint8_t fixed;        /* ACCEL_SPIN_US was set: never changes */
	uint8_t preempted;    /* this wait's spin was cut short */
	uint8_t woken;        /* the queue has a receive interrupt */
	uint8_t first;        /* the next look is the wait's first */
};

/* fixed_ns: the user's ACCEL_SPIN_US in ns, or SK_SPIN_ADAPTIVE; woken:
 * the thread's queue wakes its sleepers by interrupt (a wake fd). */
void sk_spin_init(struct sk_spin *sp, uint64_t fixed_ns, int woken);

/* A wait begins its spin at now: how long it may spin. */
static inline uint64_t sk_spin_budget(struct sk_spin *sp, uint64_t now)
{
	sp->looked_at = now;
	sp->preempted = 0;
	sp->first = 1;
	return sp->budget_ns;
}

/* Records a count of the host's runnable threads taken at now (the
 * spin's own reads call it; tests give it made-up counts). */
void sk_spin_room(struct sk_spin *sp, uint64_t now, unsigned running);

/* The runnable count in /proc/loadavg's text ("0.50 0.40 0.30 R/T PID"),
 * 0 if the text has none. */
unsigned sk_spin_parse_running(const char *text);

/* Whether more threads want to run than there are CPUs, counted again
 * when the last count is older than age_ns (SK_SPIN_ROOM*). */
int sk_spin_crowded(struct sk_spin *sp, uint64_t now, uint64_t age_ns);

/* Each look of the spin, at now: 1 when the spin must end here, because
 * the thread was preempted since the last one (SK_SPIN_PREEMPT_NS), or on
 * a queue with an interrupt because no core is free (from the second
 * look: SK_SPIN_ROOM_NS). */
static inline int sk_spin_cut(struct sk_spin *sp, uint64_t now)
{
	uint64_t last = sp->looked_at;
	int first = sp->first;

	sp->looked_at = now;
	sp->first = 0;
	if (sp->fixed)
		return 0;
	if (now >= last + SK_SPIN_PREEMPT_NS) {
		sp->preempted = 1;
		return 1;
	}
	if (!sp->woken)
		return 0;
	if (first) { /* (one look always: it also runs the stack's own turns) */
		sk_spin_crowded(sp, now, SK_SPIN_ROOM_NS);
		return 0;
	}
	return sk_spin_crowded(sp, now, SK_SPIN_ROOM_LOOK_NS);
}

/* One wait's outcome (a spin that sk_spin_cut ended as preempted halves the budget,
 * whatever came of it): whether it slept in the kernel on the way; took_ns
 * from the call's start to its return if it did not, from when it went to
 * sleep (the first time) if it did, so that time the thread spent spinning
 * or preempted before it slept does not count as a long sleep; and
 * whether it returned an event (0: its time was up, or a signal). */
void sk_spin_learn(struct sk_spin *sp, uint64_t took_ns, int slept, int got);

/*
 * How many times longer than usual a sleeping thread's slices last on a
 * port with no receive interrupt (wait.c, idle_slice: the one thread that
 * polls for the sleepers, on ACCEL_IDLE_POLL_US, and the others' backup):
 * 1 while frames came in the last SK_IDLE_STRETCH slices of base_ns,
 * then one more for each SK_IDLE_STRETCH slices with none, up to
 * SK_IDLE_SLICE_MAX. A wake-up of a sleeping thread costs about 60 us of
 * CPU here (a virtual machine: mostly the switch itself), so an idle
 * memcached -t 4 at a thousand slices a second cost 4-6 % of a core;
 * stretched, about 1 %. The first frame after a silence of half a second
 * or more waits at most one longer slice (8 ms at the default); the
 * slices are back to base as soon as it came. idle_ns: how long since the
 * stack last received a frame.
 */
#define SK_IDLE_STRETCH 64u
#define SK_IDLE_SLICE_MAX 8u
unsigned sk_idle_stretch(uint64_t base_ns, uint64_t idle_ns);

#endif
