/*
 * stats.c - the stack's counters while the program runs: a small text file,
 * /run/libaccel/<pid>.stats (or /tmp when /run is not writable), rewritten
 * at most once a second by whichever thread runs the stack or does storage
 * I/O (preload/files.c adds its lines through sk_stats_source), and removed
 * at exit (or by the next process to publish, or accel-stat, when this one
 * was killed). `accel-stat PID` prints it. One "name value" per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/real.h"
#include "../common/statsdir.h"
#include "../dev/dev.h"
#include "opts.h"
#include "sock_impl.h"

void sk_net_counters(struct sk_counters *out)
{
	const uint64_t *in = (const uint64_t *)&sk_proc->counters;
	uint64_t *o = (uint64_t *)out;

	for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
		o[k] = __atomic_load_n(&in[k], __ATOMIC_RELAXED);
}

void sk_note_kernel_connect(void)
{
	__atomic_add_fetch(&sk_proc->counters.kernel_connects, 1, __ATOMIC_RELAXED);
}

size_t sk_stack_line(const struct sk_stack *S, const struct stack_stats *s, char *buf,
		     size_t len)
{
	int n = snprintf(buf, len,
			 "stack stack=%u queue=%u threads=%d rx_pkts=%llu rx_bytes=%llu "
			 "tx_pkts=%llu tx_bytes=%llu tcp_segs_in=%llu tcp_segs_out=%llu "
			 "tcp_retransmits=%llu tcp_rtos=%llu tcp_active_opens=%llu "
			 "tcp_passive_opens=%llu tcp_rsts_out=%llu tcp_moved_in=%llu "
			 "tcp_moved_out=%llu tcp_steered=%llu\n",
			 S->idx, S->q ? dev_netq_id(S->q) : S->idx,
			 __atomic_load_n(&S->nthreads, __ATOMIC_RELAXED),
			 (unsigned long long)s->rx_pkts, (unsigned long long)s->rx_bytes,
			 (unsigned long long)s->tx_pkts, (unsigned long long)s->tx_bytes,
			 (unsigned long long)s->tcp_segs_in, (unsigned long long)s->tcp_segs_out,
			 (unsigned long long)s->tcp_retransmits, (unsigned long long)s->tcp_rtos,
			 (unsigned long long)s->tcp_active_opens,
			 (unsigned long long)s->tcp_passive_opens,
			 (unsigned long long)s->tcp_rsts_out, (unsigned long long)s->tcp_moved_in,
			 (unsigned long long)s->tcp_moved_out, (unsigned long long)s->tcp_steered);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

void sk_stats_stack(struct sk_stack *S, uint64_t now)
{
	unsigned i = S->idx;

	if (now < S->socks_at)
		return;
	S->socks_at = now + SK_STATS_PUBLISH_NS;
	__atomic_add_fetch(&S->socks_seq, 1, __ATOMIC_ACQ_REL);
	sk_proc->sock_len[i] = sk_proc->hooks.socks_format(S, sk_proc->sock_lines[i],
							   sizeof(sk_proc->sock_lines[i]));
	__atomic_add_fetch(&S->socks_seq, 1, __ATOMIC_ACQ_REL);
}

/* Stack i's socket lines, copied between two of its publications. One
 * under way (its thread formats them once a second, as this one
 * publishes once a second: the two can stay in step) is waited for, up to
 * SOCK_LINES_WAIT_NS; three quick tries went on and left the stack's
 * sockets out of the file (t_accelstat: 16 of 32 listed, 2 stacks). */
#define SOCK_LINES_WAIT_NS 2000000ull

static size_t copy_sock_lines(unsigned i, char *buf, size_t len)
{
	uint64_t until = dev_now_ns() + SOCK_LINES_WAIT_NS;

	for (int tries = 0; tries < 3 || dev_now_ns() < until; tries++) {
		unsigned seq = __atomic_load_n(&sk_proc->stacks[i].socks_seq, __ATOMIC_ACQUIRE);
		size_t n;

		if (seq & 1) {
			sched_yield();
			continue;
		}
		n = sk_proc->sock_len[i];
		if (n > len)
			return 0;
		memcpy(buf, sk_proc->sock_lines[i], n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&sk_proc->stacks[i].socks_seq, __ATOMIC_RELAXED) == seq)
			return n;
	}
	return 0;
}

void sk_stats_source(size_t (*fn)(char *buf, size_t len))
{
	__atomic_store_n(&sk_proc->stats_source, fn, __ATOMIC_RELEASE);
}

/* One "name value" line at buf + *n, as much as fits in len. */
static void put(char *buf, size_t len, size_t *n, const char *name, uint64_t v)
{
	int k = snprintf(buf + *n, *n < len ? len - *n : 0, "%s %llu\n", name,
			 (unsigned long long)v);

	if (k > 0)
		*n += (size_t)k;
}

static size_t port_lines(char *buf, size_t len)
{
	struct dev_port_stats p;
	size_t n = 0;

	if (dev_net_port_stats(&p) < 0)
		return 0;
	put(buf, len, &n, "port_rx_pkts", p.rx_pkts);
	put(buf, len, &n, "port_tx_pkts", p.tx_pkts);
	put(buf, len, &n, "port_rx_bytes", p.rx_bytes);
	put(buf, len, &n, "port_tx_bytes", p.tx_bytes);
	put(buf, len, &n, "port_rx_missed", p.rx_missed);
	put(buf, len, &n, "port_rx_errors", p.rx_errors);
	put(buf, len, &n, "port_tx_errors", p.tx_errors);
	put(buf, len, &n, "port_rx_nombuf", p.rx_nombuf);
	put(buf, len, &n, "mbufs_in_use", p.pool_in_use);
	put(buf, len, &n, "mbufs_free", p.pool_free);
	for (unsigned k = 0, nx = dev_net_port_xstats(sk_proc->xstats, SK_XSTATS_MAX); k < nx; k++)
		put(buf, len, &n, sk_proc->xstats[k].name, sk_proc->xstats[k].value);
	return n < len ? n : len;
}

size_t sk_stats_format(const struct stack_stats *s, char *buf, size_t len)
{
	struct sk_counters c;
	size_t n = 0;

	sk_net_counters(&c);
	put(buf, len, &n, "rx_pkts", s->rx_pkts);
	put(buf, len, &n, "rx_bytes", s->rx_bytes);
	put(buf, len, &n, "tx_pkts", s->tx_pkts);
	put(buf, len, &n, "tx_bytes", s->tx_bytes);
	put(buf, len, &n, "arp_requests_in", s->arp_requests_in);
	put(buf, len, &n, "arp_replies_in", s->arp_replies_in);
	put(buf, len, &n, "arp_requests_out", s->arp_requests_out);
	put(buf, len, &n, "arp_replies_out", s->arp_replies_out);
	put(buf, len, &n, "icmp_echo_replies", s->icmp_echo_replies);
	put(buf, len, &n, "arp_conflicts", s->arp_conflicts);
	put(buf, len, &n, "tcp_segs_in", s->tcp_segs_in);
	put(buf, len, &n, "tcp_segs_out", s->tcp_segs_out);
	put(buf, len, &n, "tcp_retransmits", s->tcp_retransmits);
	put(buf, len, &n, "tcp_rtos", s->tcp_rtos);
	put(buf, len, &n, "tcp_fast_recoveries", s->tcp_fast_recoveries);
	put(buf, len, &n, "tcp_tail_probes", s->tcp_tail_probes);
	put(buf, len, &n, "tcp_active_opens", s->tcp_active_opens);
	put(buf, len, &n, "tcp_passive_opens", s->tcp_passive_opens);
	put(buf, len, &n, "tcp_rsts_out", s->tcp_rsts_out);
	put(buf, len, &n, "tcp_timeouts", s->tcp_timeouts);
	put(buf, len, &n, "tcp_moved_in", s->tcp_moved_in);
	put(buf, len, &n, "tcp_moved_out", s->tcp_moved_out);
	put(buf, len, &n, "tcp_steered", s->tcp_steered);
	put(buf, len, &n, "loop_pkts", s->loop_pkts);
	put(buf, len, &n, "stacks", sk_proc->nstacks);
	put(buf, len, &n, "handoffs", c.handoffs);
	put(buf, len, &n, "steer_drops", c.steer_drops);
	if (sk_proc->share_refs) { /* (frames handed to and from other processes) */
		uint64_t out, in;

		dev_net_share_counts(&out, &in);
		put(buf, len, &n, "share_out", out);
		put(buf, len, &n, "share_in", in);
	}
	put(buf, len, &n, "progress_turns", c.progress_turns);
	put(buf, len, &n, "bypass_sockets",
	    (uint64_t)__atomic_load_n(&sk_proc->nsocks, __ATOMIC_RELAXED));
	put(buf, len, &n, "bypass_accepts", c.bypass_accepts);
	put(buf, len, &n, "bypass_connects", c.bypass_connects);
	put(buf, len, &n, "kernel_accepts", c.kernel_accepts);
	put(buf, len, &n, "kernel_connects", c.kernel_connects);
	for (int r = 0; r < STACK_DROP_MAX; r++)
		if (s->drops[r]) {
			char name[48];

			snprintf(name, sizeof(name), "drop_%s",
				 stack_drop_name((enum stack_drop)r));
			put(buf, len, &n, name, s->drops[r]);
		}
	if (n < len)
		n += port_lines(buf + n, len - n);
	return n;
}

/* (both are added up as arrays of counters) */
_Static_assert(sizeof(struct stack_stats) % sizeof(uint64_t) == 0, "stack_stats: counters only");
_Static_assert(sizeof(struct sk_counters) % sizeof(uint64_t) == 0, "sk_counters: counters only");

void sk_stats_sum(struct stack_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < sk_proc->nstacks; i++) {
		const uint64_t *a = (const uint64_t *)stack_stats(sk_proc->stacks[i].st);
		uint64_t *sum = (uint64_t *)out;

		for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
			sum[k] += a[k];
	}
}

/* By any thread that runs a stack; one a second gets to write. */
void sk_stats_publish(uint64_t now)
{
	struct stack_stats sum;
	unsigned nst;
	char *buf = sk_proc->pub_buf, tmp[80];
	const size_t cap = sizeof(sk_proc->pub_buf);
	uint64_t due = __atomic_load_n(&sk_proc->next_publish, __ATOMIC_RELAXED);
	size_t (*more)(char *, size_t) = __atomic_load_n(&sk_proc->stats_source, __ATOMIC_ACQUIRE);
	size_t n = 0;
	int fd;

	if (now < due || !__atomic_compare_exchange_n(&sk_proc->next_publish, &due,
						      now + SK_STATS_PUBLISH_NS, 0,
						      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	if (!sk_proc->stats_path[0]) {
		accel_stats_sweep(); /* (once: those of processes gone) */
		const char *dir = access("/run/libaccel", W_OK) == 0 ? "/run/libaccel" : "/tmp";

		snprintf(sk_proc->stats_path, sizeof(sk_proc->stats_path), "%s/%d.stats", dir,
			 (int)getpid());
	}
	/* (a storage-only process has no stack: no network lines) */
	/* (each stack's counters copied once: its line and the sum agree) */
	nst = __atomic_load_n(&sk_proc->nstacks, __ATOMIC_ACQUIRE);
	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; i < nst; i++) {
		const uint64_t *a = (const uint64_t *)&sk_proc->pub_each[i];

		sk_proc->pub_each[i] = *stack_stats(sk_proc->stacks[i].st);
		for (size_t k = 0; k < sizeof(sum) / sizeof(uint64_t); k++)
			((uint64_t *)&sum)[k] += a[k];
	}
	if (nst)
		n = sk_stats_format(&sum, buf, 8192);
	for (unsigned i = 0; i < nst && n < 8192; i++)
		n += sk_stack_line(&sk_proc->stacks[i], &sk_proc->pub_each[i], buf + n, 8192 - n);
	if (more && n < 8192)
		n += more(buf + n, 8192 - n);
	if (n > 8192)
		n = 8192;
	for (unsigned i = 0; i < nst; i++)
		n += copy_sock_lines(i, buf + n, cap - n);
	snprintf(tmp, sizeof(tmp), "%s.tmp", sk_proc->stats_path);
	fd = accel_real.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (accel_real.write(fd, buf, n) >= 0)
		rename(tmp, sk_proc->stats_path);
	accel_real.close(fd);
}

void sk_stats_unpublish(void)
{
	/* (no thread still doing I/O at exit writes it again) */
	__atomic_store_n(&sk_proc->next_publish, UINT64_MAX, __ATOMIC_RELAXED);
	if (sk_proc->stats_path[0])
		unlink(sk_proc->stats_path);
}
