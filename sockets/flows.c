/*
 * flows.c - which of the process's stacks serves a TCP 4-tuple, for a
 * stack that received a segment its own tables do not know (ops->steer).
 *
 * Three rules, in order: a connection that moved (its first user was a
 * thread of another stack) is in a table of 4-tuples until its stack lets
 * it go (ops->tcp_gone); a port something listens on belongs to the
 * listener's stack, so a SYN and the segments of a connection not yet
 * accepted go there; an ephemeral port belongs to the stack that picked it
 * (stack_conf.port_stride). The local address is the
 * port's one, so a 4-tuple is the remote address, the remote port and the
 * local port.
 *
 * The table is read on every steered segment by any thread and written
 * only when a connection moves or ends: readers take no lock, they retry
 * when a writer's sequence count moved under them (a seqlock); writers
 * take a mutex. Open addressing, linear probing, deletion by shifting the
 * run back, so a lookup never sees a hole it should not stop at.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "sock_impl.h"

/* Room for this many moved connections at once: at three quarters full a
 * move is refused and the connection stays where it was (still served,
 * only steered by the listener's rule). 16 bytes each. */
#define FLOW_SLOTS (1u << 16)
#define FLOW_MAX (FLOW_SLOTS / 4 * 3)

struct sk_flow {
	uint64_t key;   /* 0: empty */
	uint64_t stack; /* index */
};

int sk_flows_init(unsigned stacks)
{
	sk_proc->flow_table = calloc(FLOW_SLOTS, sizeof(struct sk_flow));
	if (!sk_proc->flow_table)
		return -ENOMEM;
	sk_proc->flow_nstacks = stacks;
	return 0;
}

/* (never 0: the remote port of a connection is never 0) */
static uint64_t key_of(uint32_t rip, uint16_t rport, uint16_t lport)
{
	return (uint64_t)rip << 32 | (uint64_t)rport << 16 | lport;
}

static unsigned slot_of(uint64_t key)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 48) & (FLOW_SLOTS - 1);
}

static int lookup(uint64_t key)
{
	const struct sk_flow *table = sk_proc->flow_table;

	for (unsigned i = slot_of(key);; i = (i + 1) & (FLOW_SLOTS - 1)) {
		uint64_t k = __atomic_load_n(&table[i].key, __ATOMIC_RELAXED);

		if (k == key)
			return (int)__atomic_load_n(&table[i].stack, __ATOMIC_RELAXED);
		if (!k)
			return -1;
	}
}

static void write_begin(void)
{
	pthread_mutex_lock(&sk_proc->flow_wlock);
	__atomic_store_n(&sk_proc->flow_seq, sk_proc->flow_seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void write_end(void)
{
	__atomic_store_n(&sk_proc->flow_seq, sk_proc->flow_seq + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sk_proc->flow_wlock);
}

int sk_flow_get(uint32_t rip, uint16_t rport, uint16_t lport)
{
	uint64_t key = key_of(rip, rport, lport);

	if (!sk_proc->flow_table)
		return -1;
	for (unsigned spins = 0;; spins++) {
		unsigned s0 = __atomic_load_n(&sk_proc->flow_seq, __ATOMIC_ACQUIRE);
		int r;

		if (s0 & 1) {
			if (spins > 64)
				sched_yield(); /* the writer was preempted */
			continue;
		}
		r = lookup(key);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&sk_proc->flow_seq, __ATOMIC_RELAXED) == s0)
			return r;
	}
}

int sk_flow_set(uint32_t rip, uint16_t rport, uint16_t lport, unsigned stack)
{
	uint64_t key = key_of(rip, rport, lport);
	struct sk_flow *table = sk_proc->flow_table;
	unsigned i;
	int r = 0;

	if (!table)
		return -ENOMEM;
	write_begin();
	for (i = slot_of(key); table[i].key && table[i].key != key; i = (i + 1) & (FLOW_SLOTS - 1))
		;
	if (table[i].key == key) {
		__atomic_store_n(&table[i].stack, stack, __ATOMIC_RELAXED);
	} else if (sk_proc->flow_used >= FLOW_MAX) {
		r = -ENOSPC;
	} else {
		__atomic_store_n(&table[i].stack, stack, __ATOMIC_RELAXED);
		__atomic_store_n(&table[i].key, key, __ATOMIC_RELAXED);
		sk_proc->flow_used++;
	}
	write_end();
	return r;
}

void sk_flow_del(uint32_t rip, uint16_t rport, uint16_t lport, int stack)
{
	uint64_t key = key_of(rip, rport, lport);
	struct sk_flow *table = sk_proc->flow_table;
	unsigned i, j;

	if (!table)
		return;
	write_begin();
	for (i = slot_of(key); table[i].key && table[i].key != key; i = (i + 1) & (FLOW_SLOTS - 1))
		;
	if (table[i].key == key && (stack < 0 || table[i].stack == (uint64_t)stack)) {
		/* shift the rest of the run back over the hole (Knuth 6.4 R) */
		for (j = (i + 1) & (FLOW_SLOTS - 1); table[j].key; j = (j + 1) & (FLOW_SLOTS - 1)) {
			unsigned home = slot_of(table[j].key);

			/* j's entry may move to i unless its home lies in (i, j] */
			if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
				continue;
			__atomic_store_n(&table[i].stack, table[j].stack, __ATOMIC_RELAXED);
			__atomic_store_n(&table[i].key, table[j].key, __ATOMIC_RELAXED);
			i = j;
		}
		__atomic_store_n(&table[i].key, 0, __ATOMIC_RELAXED);
		sk_proc->flow_used--;
	}
	write_end();
}

void sk_flow_listen(uint16_t port, int stack)
{
	__atomic_store_n(&sk_proc->listen_port[port], (uint8_t)(stack + 1), __ATOMIC_RELEASE);
}

int sk_flow_target(uint32_t rip, uint16_t rport, uint16_t lport, int syn, int self)
{
	int k = sk_flow_get(rip, rport, lport);

	/* (a SYN for a tuple that moved goes where it moved, which may hold
	 * it in TIME_WAIT and take the SYN as its reuse; one that comes back
	 * to us, where it is gone, goes to the listener) */
	if (k >= 0 && !(syn && k == self))
		return k;
	k = (int)__atomic_load_n(&sk_proc->listen_port[lport], __ATOMIC_ACQUIRE) - 1;
	if (k >= 0)
		return k;
	if (sk_proc->flow_nstacks > 1 && lport >= STACK_TCP_EPH_LO && lport <= STACK_TCP_EPH_HI)
		return (int)(lport % sk_proc->flow_nstacks);
	return -1;
}
