/*
 * wait.c - the waiting calls of a thread that owns a stack: one loop
 * (wait_run) and, for each call, an adapter that says how to look at its
 * members, ask the kernel, sleep and answer.
 *
 * The loop: look at the bypass members (running the stack), ask the
 * kernel about the call's kernel members without blocking, answer if
 * anything is ready or the time is up; else spin a while (spin.h), then
 * arm the wake fd, look once more (frames that came before the arm raise
 * nothing) and sleep in the kernel on the kernel members plus the
 * thread's wake descriptors, no longer than the deadline, the stack's next
 * timer or an idle slice. The kernel's answers come from a non-blocking
 * kernel call on the program's own arguments, so results and errors are
 * the kernel's own. docs/behaviour.md ("The wait engine") lists the rules.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../common/real.h"
#include "../common/sigasync.h"
#include "opts.h"
#include "sock_impl.h"

#define NO_DEADLINE UINT64_MAX
/* A ppoll sleep's own entries: the thread's wake descriptors and the
 * sources'. */
#define SK_WAIT_FDS (SK_SLEEP_FDS + SK_WAIT_SOURCES)

/* The stacks' own clock: deadlines here are compared with theirs. */
static uint64_t now_ns(void)
{
	return sk_now();
}

/* From start to now on that clock (a look's time may be a moment older). */
static uint64_t since(uint64_t start, uint64_t now)
{
	return now > start ? now - start : 0;
}

/* Tells the thread's spin (spin.h) how a wait that began at start ended
 * at now: asleep_at is when it first went to sleep, 0 if it did not. */
static void spin_learn(struct sk_thread *t, uint64_t start, uint64_t asleep_at,
		       uint64_t now, int got)
{
	sk_spin_learn(&t->spin, since(asleep_at ? asleep_at : start, now), asleep_at != 0, got);
}

static uint64_t deadline_of(int64_t timeout_ns)
{
	return timeout_ns < 0 ? NO_DEADLINE : now_ns() + (uint64_t)timeout_ns;
}

/* The time of t's last poll of a stack (the look just made one): the
 * clock without reading it again. */
static uint64_t polled_at(const struct sk_thread *t)
{
	return t->look_at;
}

/* With no wake fd: the idle slice if t polls for the sleepers (it held
 * that role or takes it now, sk_wake_ack gives it up), else the backup;
 * the backup too while another thread keeps polling the queue (memcached's
 * accepting thread sleeps while its worker serves). */
static uint64_t idle_slice(struct sk_thread *t, uint64_t now)
{
	struct sk_thread *cur = __atomic_load_n(&sk_proc->slicer, __ATOMIC_ACQUIRE);
	uint64_t rx = __atomic_load_n(&t->s->rx_at, __ATOMIC_RELAXED);
	unsigned k = sk_idle_stretch(t->s->idle_poll_ns, now > rx ? now - rx : 0);
	uint64_t backup = k * (SK_IDLE_BACKUP_NS > t->s->idle_poll_ns ? SK_IDLE_BACKUP_NS :
			       t->s->idle_poll_ns);

	if (__atomic_load_n(&t->s->polled_by, __ATOMIC_RELAXED) != t &&
	    now < __atomic_load_n(&t->s->polled_at, __ATOMIC_RELAXED) +
		  t->s->idle_poll_ns / 4) /* (it may be after now) */
		return backup;
	if (cur == t || (!cur && __atomic_compare_exchange_n(&sk_proc->slicer, &cur, t, 0,
							     __ATOMIC_ACQ_REL,
							     __ATOMIC_ACQUIRE)))
		return k * t->s->idle_poll_ns;
	return backup;
}

/* When the counters file (stats.c, once a second from the polls) is
 * owed what t's stack received since it was last written: its counters
 * or its socket lines. A thread that went to sleep just after its traffic
 * wakes once to write them, or accel-stat would show the idle process's
 * figures from before that traffic until something else came in (a
 * prefork test's nginx workers showed 0 accepts after 20 fetches). An
 * idle stack owes nothing, so an idle process still never wakes for it.
 * One already due was for the look just made to write; if it did not,
 * the sleep is not cut to nothing (that would spin). */
static uint64_t stats_owed(const struct sk_thread *t, uint64_t now)
{
	uint64_t rx = __atomic_load_n(&t->s->rx_at, __ATOMIC_RELAXED);
	uint64_t pub = __atomic_load_n(&sk_proc->next_publish, __ATOMIC_RELAXED);
	uint64_t at = NO_DEADLINE;
	uint64_t socks = __atomic_load_n(&t->s->socks_at, __ATOMIC_RELAXED);

	if (socks && rx > socks - SK_STATS_PUBLISH_NS)
		at = socks;
	if (pub && pub != NO_DEADLINE && rx > pub - SK_STATS_PUBLISH_NS && pub < at)
		at = pub;
	return at > now ? at : NO_DEADLINE;
}

/* How long the next sleep may last: until the caller's deadline, the
 * stack's next timer, the counters file's next writing if it is owed
 * something, or an idle slice when there is no wake fd or a stack has no
 * thread (netif.c: stale). -1 means no limit. */
int64_t sk_sleep_len(struct sk_thread *t, uint64_t deadline)
{
	uint64_t now = now_ns(), until = deadline, timer = sk_stack_deadline(t);
	uint64_t owed = stats_owed(t, now);

	if (timer < until)
		until = timer;
	if (owed < until)
		until = owed;
	if (t->s->wake_fd < 0 || __atomic_load_n(&sk_proc->orphans, __ATOMIC_RELAXED)) {
		uint64_t slice = idle_slice(t, now);

		if (now + slice < until)
			until = now + slice;
	}
	if (until == NO_DEADLINE)
		return -1;
	return until > now ? (int64_t)(until - now) : 0;
}

static int ns_to_ms(int64_t ns)
{
	if (ns < 0)
		return -1;
	ns = (ns + 999999) / 1000000; /* round up: never wake before the time */
	return ns > INT_MAX ? INT_MAX : (int)ns;
}

struct timespec *sk_ns_to_ts(int64_t ns, struct timespec *ts)
{
	if (ns < 0)
		return NULL;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return ts;
}

static int64_t remaining(uint64_t deadline)
{
	uint64_t now = now_ns();

	if (deadline == NO_DEADLINE)
		return -1;
	return deadline > now ? (int64_t)(deadline - now) : 0;
}

/* A dual listener is in both halves of a set: one entry, both events. */
static int merge(struct epoll_event *ev, int n, int k)
{
	for (int i = n; i < n + k;) {
		int dup = 0;

		for (int j = 0; j < n; j++)
			if (ev[j].data.u64 == ev[i].data.u64) {
				ev[j].events |= ev[i].events;
				dup = 1;
			}
		if (dup) {
			ev[i] = ev[n + k - 1];
			k--;
		} else {
			i++;
		}
	}
	return n + k;
}

/* The bypass members of epfd that are ready, into ev; -1 if the stack is
 * gone. With sleep set, the thread is recorded as the set's sleeper first,
 * so a change after this look wakes it. The set's home stack is polled
 * (every stack, for a mixed set). */
static int ep_look(struct sk_thread *t, int epfd, struct epoll_event *ev, int max,
		   int sleep, int *ask_kernel)
{
	struct sk_ep *ep = sk_proc->fds[epfd].ep;
	struct sk_stack *S = t->s;
	int n = 0;

	if (ep ? sk_lock_ep(ep, &S) < 0 : sk_lock(S) < 0)
		return -1;
	if (ep && __atomic_load_n(&sk_proc->fds[epfd].ep, __ATOMIC_ACQUIRE) != ep)
		ep = NULL; /* (closed meanwhile) */
	if (sleep) {
		if (ep)
			ep->waiter = t;
		sk_wake_arm(t);
	}
	if (S)
		sk_poll_stack(t, S);
	else
		sk_poll_all(t);
	if (ep)
		n = sk_ep_collect(ep, ev, max);
	/* The kernel's members are asked about (with a system call) unless
	 * the set is known to have none. */
	if (ask_kernel)
		*ask_kernel = !ep || __atomic_load_n(&ep->kernel_members, __ATOMIC_RELAXED) != 0;
	if (S)
		sk_unlock(S);
	else
		sk_unlock_all();
	/* (a set homed on another stack: this thread's own still needs its
	 * turn, as in sock_look) */
	if (S && S != t->s && sk_service(t) < 0)
		return -1;
	return n;
}

/* ---- other sources of completions ---------------------------------------- */

/* The sources (sk_proc->sources) as this thread's epoll sleeping set
 * has them: sk_proc->src_gen when it last brought them up to date. */
static __thread unsigned src_seen;

int sk_wait_source_add(int fd, unsigned (*reap)(void *ctx), void *ctx)
{
	int slot = -ENOSPC;

	if (fd < 0 || !reap)
		return -EINVAL;
	pthread_mutex_lock(&sk_proc->src_lock);
	for (unsigned i = 0; i < SK_WAIT_SOURCES; i++)
		if (!__atomic_load_n(&sk_proc->sources[i].reap, __ATOMIC_RELAXED)) {
			sk_proc->sources[i].fd = fd;
			sk_proc->sources[i].ctx = ctx;
			__atomic_store_n(&sk_proc->sources[i].reap, reap, __ATOMIC_RELEASE);
			if (i >= sk_proc->nsources)
				__atomic_store_n(&sk_proc->nsources, i + 1, __ATOMIC_RELEASE);
			__atomic_add_fetch(&sk_proc->src_gen, 1, __ATOMIC_RELEASE);
			slot = (int)i;
			break;
		}
	pthread_mutex_unlock(&sk_proc->src_lock);
	return slot;
}

void sk_wait_source_del(int slot)
{
	if (slot < 0 || slot >= SK_WAIT_SOURCES)
		return;
	pthread_mutex_lock(&sk_proc->src_lock);
	__atomic_store_n(&sk_proc->sources[slot].reap, NULL, __ATOMIC_RELEASE);
	__atomic_add_fetch(&sk_proc->src_gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sk_proc->src_lock);
}

/* Every source's completions: how many there were. One load when there
 * is no source. */
static unsigned sources_reap(void)
{
	unsigned n = __atomic_load_n(&sk_proc->nsources, __ATOMIC_ACQUIRE), got = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned (*reap)(void *) =
			__atomic_load_n(&sk_proc->sources[i].reap, __ATOMIC_ACQUIRE);

		if (reap)
			got += reap(sk_proc->sources[i].ctx);
	}
	return got;
}

/* The sources' descriptors for a ppoll sleep, into p (room for
 * SK_WAIT_SOURCES); returns how many. */
static int sources_fds(struct pollfd *p)
{
	unsigned n = __atomic_load_n(&sk_proc->nsources, __ATOMIC_ACQUIRE);
	int k = 0;

	for (unsigned i = 0; i < n; i++)
		if (__atomic_load_n(&sk_proc->sources[i].reap, __ATOMIC_ACQUIRE))
			p[k++] = (struct pollfd){ .fd = sk_proc->sources[i].fd, .events = POLLIN };
	return k;
}

/* The sources' descriptors in t's epoll sleeping set, when they changed
 * since the thread last looked (a removed source's descriptor leaves the
 * set as its owner closes it). */
static void sources_sync(struct sk_thread *t)
{
	unsigned gen = __atomic_load_n(&sk_proc->src_gen, __ATOMIC_ACQUIRE);

	if (gen == src_seen)
		return;
	src_seen = gen;
	for (unsigned i = 0; i < __atomic_load_n(&sk_proc->nsources, __ATOMIC_ACQUIRE); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = sk_proc->sources[i].fd };

		if (__atomic_load_n(&sk_proc->sources[i].reap, __ATOMIC_ACQUIRE))
			accel_real.epoll_ctl(t->wait_epfd, EPOLL_CTL_ADD, sk_proc->sources[i].fd,
					     &ev);
	}
}

/* The thread's wake descriptors and the sources', for a ppoll sleep (room
 * for SK_WAIT_FDS). */
static int wait_fds(const struct sk_thread *t, struct pollfd *p)
{
	int n = sk_sleep_fds(t, p);

	return n + sources_fds(p + n);
}

/* ---- the loop ------------------------------------------------------------- */

/* Keys of the kernel asks (kernel_ask_due): a call's kernel members are
 * asked every SK_KERNEL_POLL_NS at most while nothing of theirs was ready,
 * per key; KQ_ALWAYS at every look. An epoll set's key is its fd. */
#define KQ_ALWAYS (-1)
#define KQ_POLL (-2)
#define KQ_SOCK(fd) (-16 - (fd))

struct sk_wait;

/* One waiting call, as the loop sees it. Errors are negative errnos. */
struct sk_wait_ops {
	/* The bypass members ready (their state kept for answer), or for a
	 * call with none, whether the look received frames; -ESHUTDOWN when
	 * the port is gone. armed: the thread is first recorded as the
	 * members' sleeper and the wake fd armed (sk_wake_arm). */
	int (*look)(struct sk_wait *w, int armed);
	/* The kernel's members without blocking, n bypass members being
	 * ready: how many are ready. NULL: the call has none. */
	int (*ask)(struct sk_wait *w, int n);
	/* Before the armed look: what the sleep needs (may be NULL). */
	int (*prepare)(struct sk_wait *w);
	/* Sleeps in the kernel at most ns (-1: no limit) with mask. */
	int (*sleep)(struct sk_wait *w, int64_t ns, const sigset_t *mask);
	/* The call's result from the last look and ask (both 0: time up). */
	int (*answer)(struct sk_wait *w, int n, int k);
	/* The port is gone: the call as the kernel makes it, with the time
	 * left. NULL: the call fails with -ESHUTDOWN. */
	int (*gone)(struct sk_wait *w, int64_t left_ns);
};

struct sk_wait {
	const struct sk_wait_ops *ops;
	struct sk_thread *t;
	uint64_t deadline;        /* on the stacks' clock; NO_DEADLINE */
	const sigset_t *sigmask;  /* the call's own (ppoll's), or NULL */
	unsigned sigs;            /* accel_sig_seq as the call began */
	int kq_key;
	/* The call has bypass members: it spins and learns (spin.h), and an
	 * armed look that finds one ends it. Else its looks only run the
	 * stack, and the clock is read after them (the stack may be another
	 * thread's just then). */
	uint8_t bypass;
	/* The kernel is asked on the first look even when bypass members
	 * are ready (poll and select report every ready entry at once). */
	uint8_t ask_first;
};

/* Whether this look asks the kernel (see KQ_*): when it must (the call's
 * first look found no bypass member ready, its time is up, a source
 * completed), else unless the last ask under the same key, a moment ago,
 * found none ready. A kernel member that becomes ready while bypass
 * members keep the waits busy, or while the wait spins, waits at most
 * SK_KERNEL_POLL_NS. */
static int kernel_ask_due(const struct sk_wait *w, uint64_t now, int must)
{
	const struct sk_thread *t = w->t;

	return must || w->kq_key == KQ_ALWAYS || t->kq_epfd != w->kq_key || !t->kq_idle ||
	       now - t->kq_at >= SK_KERNEL_POLL_NS;
}

static int kernel_ask(struct sk_wait *w, int n, uint64_t now)
{
	int k = w->ops->ask(w, n);

	w->t->kq_epfd = w->kq_key;
	w->t->kq_idle = k <= 0;
	w->t->kq_at = now;
	return k;
}

static int wait_gone(struct sk_wait *w, int err)
{
	if (!w->ops->gone)
		return err;
	sk_sleep_unmask(w->t);
	return w->ops->gone(w, remaining(w->deadline));
}

/*
 * The one waiting loop. Its rules, once for every call:
 *  - time: the deadline is checked at every look; the last look before it
 *    asks the kernel too; a sleep never outlasts it (sk_sleep_len);
 *  - spin: a call with bypass members polls for its budget before it
 *    sleeps, and ends the spin when preempted (spin.h); it tells the spin
 *    how it ended;
 *  - EINTR: a handler of the program's that ran on this thread since the
 *    call came into the socket layer (w->sigs, accel_sig_seq then: one
 *    that ran in the call's work before this wait, a system call of its
 *    own or the stack's turn, counts too) ends it with EINTR before it
 *    sleeps, as one would end the kernel's wait; from the first sleep on, the
 *    program's signals are blocked but inside the sleeps (sk_sleep_mask),
 *    so a signal ends the sleep with EINTR;
 *  - kernel members: asked without blocking, by kernel_ask_due's rule,
 *    and slept on;
 *  - sleep: to the deadline, the stack's next timer, or an idle slice
 *    when the port has no interrupt; on the thread's wake descriptors and
 *    the sources' (sk_wait_source_add) besides the call's own;
 *  - the progress thread (progress.c) sees the sleep through
 *    sk_wake_arm/sk_wake_ack, which count the stack's sleepers.
 * The caller restores the program's signal mask (sk_sleep_unmask).
 */
static int wait_run(struct sk_wait *w)
{
	struct sk_thread *t = w->t;
	uint64_t start = now_ns(), asleep_at = 0;
	uint64_t spin_until = w->bypass ? start + sk_spin_budget(&t->spin, start) : 0;
	unsigned sigs = w->sigs;

	for (int first = 1;; first = 0) {
		int n = w->ops->look(w, 0), k = 0, r, expired, reaped;
		const sigset_t *mask;
		uint64_t now;

		if (n < 0)
			return wait_gone(w, n);
		reaped = sources_reap() != 0;
		now = w->bypass ? polled_at(t) : now_ns(); /* (the look's time) */
		expired = w->deadline != NO_DEADLINE && now >= w->deadline;
		if (w->ops->ask &&
		    kernel_ask_due(w, now, expired || reaped || (first && (!n || w->ask_first)))) {
			k = kernel_ask(w, n, now);
			if (k < 0) {
				if (!n)
					return k;
				k = 0;
			}
		}
		if (n || k || expired) {
			if (w->bypass)
				spin_learn(t, start, asleep_at, now, n || k);
			return w->ops->answer(w, n, k);
		}
		if (now < spin_until && sk_spin_cut(&t->spin, now))
			spin_until = 0; /* preempted: sleep now (spin.h) */
		if (accel_sig_seq != sigs)
			return -EINTR; /* a handler ran inside the call */
		if (now < spin_until) {
			/* (a queue with an interrupt: the spin gives way to any
			 * thread that wants this core, spin.h) */
			if (t->spin.woken && !t->spin.fixed)
				sched_yield();
			continue; /* poll a while before sleeping (spin.h) */
		}
		if (w->ops->prepare && (r = w->ops->prepare(w)) < 0)
			return wait_gone(w, r);
		n = w->ops->look(w, 1);
		if (n != 0) {
			sk_wake_ack(t);
			if (n < 0)
				return wait_gone(w, n);
			if (!w->bypass)
				continue; /* frames came: look again before sleeping */
			now = polled_at(t);
			if (w->ops->ask && kernel_ask_due(w, now, 0) &&
			    (k = kernel_ask(w, n, now)) < 0)
				k = 0;
			spin_learn(t, start, asleep_at, now, 1);
			return w->ops->answer(w, n, k);
		}
		mask = sk_sleep_mask(t, w->sigmask);
		if (accel_sig_seq != sigs) {
			/* (a handler ran since the check above, before the
			 * mask closed: no sleep would see its signal) */
			sk_wake_ack(t);
			return -EINTR;
		}
		r = w->ops->sleep(w, sk_sleep_len(t, w->deadline), mask);
		sk_wake_ack(t);
		asleep_at = asleep_at ? asleep_at : now;
		if (r < 0)
			return r;
	}
}

/* The thread's poll buffers, grown to n entries: pbuf, and prev (the
 * bypass entries' revents), kept from call to call. */
static struct pollfd *poll_buf(struct sk_thread *t, size_t n)
{
	if (n > t->pbuf_cap) {
		struct pollfd *p = realloc(t->pbuf, n * sizeof(*p));
		short *r;

		if (!p)
			return NULL;
		t->pbuf = p;
		r = realloc(t->prev, n * sizeof(*r));
		if (!r)
			return NULL;
		t->prev = r;
		t->pbuf_cap = n;
	}
	return t->pbuf;
}

/* Whether every bypass entry lives on S (read unlocked: checked again
 * under the lock). */
static int poll_all_on(const struct pollfd *fds, nfds_t nfds, const struct sk_stack *S)
{
	for (nfds_t i = 0; i < nfds; i++) {
		struct sk_sock *s = fds[i].fd >= 0 ? sk_get(fds[i].fd) : NULL;

		if (s && __atomic_load_n(&s->home, __ATOMIC_RELAXED) != S)
			return 0;
	}
	return 1;
}

/* The bypass entries' revents (0 for the others); the count of bypass
 * entries ready, or -1 when the stack is gone. With sleep set, the thread
 * is recorded as each socket's sleeper first. The thread's stack is
 * polled, or every stack when the sockets live on several. */
static int poll_look(struct sk_thread *t, const struct pollfd *fds, nfds_t nfds,
		     short *rev, int sleep)
{
	int ready = 0, one = sk_proc->nstacks < 2 || poll_all_on(fds, nfds, t->s);

	if (one ? sk_lock(t->s) < 0 : sk_lock_all() < 0)
		return -1;
	if (!one) /* the first thread to wait on a connection gets it */
		for (nfds_t i = 0; i < nfds; i++) {
			struct sk_sock *s = fds[i].fd >= 0 ? sk_get(fds[i].fd) : NULL;

			if (s)
				sk_place_all_locked(s, t->s);
		}
	if (sleep) {
		for (nfds_t i = 0; i < nfds; i++) {
			struct sk_sock *s = fds[i].fd >= 0 ? sk_get(fds[i].fd) : NULL;

			if (s && (!one || s->home == t->s))
				s->waiter = t;
		}
		sk_wake_arm(t);
	}
	if (one)
		sk_poll_stack(t, t->s);
	else
		sk_poll_all(t);
	for (nfds_t i = 0; i < nfds; i++) {
		struct sk_sock *s = fds[i].fd >= 0 ? sk_get(fds[i].fd) : NULL;

		rev[i] = 0;
		if (!s || (one && s->home != t->s)) /* (moved since: the next look) */
			continue;
		rev[i] = (short)(sk_sock_epoll_events(s) &
				 ((uint32_t)(uint16_t)fds[i].events | POLLERR | POLLHUP));
		if (s->dual && s->kind == SK_LISTEN)
			rev[i] &= ~(POLLOUT | POLLWRNORM | POLLHUP);
		ready += rev[i] != 0;
	}
	if (one)
		sk_unlock(t->s);
	else
		sk_unlock_all();
	return ready;
}

/* Whether any entry names a bypass socket. */
static int poll_has_bypass(const struct pollfd *fds, nfds_t nfds)
{
	if (!__atomic_load_n(&sk_proc->nsocks, __ATOMIC_RELAXED))
		return 0;
	for (nfds_t i = 0; i < nfds; i++)
		if (fds[i].fd >= 0 && sk_get(fds[i].fd))
			return 1;
	return 0;
}

/* Copies the first nfds bits of a set; the program's sets may be smaller
 * than a whole fd_set when nfds is small. */
static void set_copy(fd_set *dst, const fd_set *src, int nfds)
{
	size_t bytes = ((size_t)nfds + 63) / 64 * 8;

	if (src && dst)
		memcpy(dst, src, bytes);
}

/* The descriptors of select's sets as poll entries into p (room for
 * nfds); returns how many. */
static nfds_t sets_to_poll(int nfds, const fd_set *r, const fd_set *w, const fd_set *e,
			   struct pollfd *p)
{
	nfds_t n = 0;

	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) |
				   (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (e && FD_ISSET(fd, e) ? POLLPRI : 0));

		if (ev)
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	return n;
}

static int select_has_bypass(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	if (!__atomic_load_n(&sk_proc->nsocks, __ATOMIC_RELAXED))
		return 0;
	for (int fd = 0; fd < nfds; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) ||
		     (e && FD_ISSET(fd, e))) && sk_get(fd))
			return 1;
	return 0;
}

/* The program's select sets as a poll set, plus the queue's wake fd, for
 * the sleep (the shim's descriptors lie above FD_SETSIZE: fdreserve.h).
 * Only for waking: the answer comes from the kernel's select after it. */
static struct pollfd *select_sleep_set(struct sk_thread *t, int nfds, const fd_set *r,
				       const fd_set *w, const fd_set *e, nfds_t *n)
{
	struct pollfd *p = poll_buf(t, (size_t)nfds + SK_WAIT_FDS);

	*n = 0;
	if (!p)
		return NULL;
	*n = sets_to_poll(nfds, r, w, e, p);
	*n += (nfds_t)wait_fds(t, p + *n);
	return p;
}

/* ---- epoll_wait ------------------------------------------------------------ */

struct ep_wait {
	struct sk_wait w;
	int epfd;
	struct epoll_event *ev;
	int max;
	int kernel;      /* the set may have kernel members (ep_look) */
};

/* A look that only runs the thread's stack (a call with no bypass
 * member): armed, whether it received frames. */
static int stack_look(struct sk_wait *w, int armed)
{
	int n;

	if (armed)
		sk_wake_arm(w->t);
	n = sk_service(w->t);
	if (n < 0)
		return -ESHUTDOWN;
	return armed ? n : 0;
}

static int ep_look_mixed(struct sk_wait *w, int armed)
{
	struct ep_wait *e = (struct ep_wait *)w;
	int n = ep_look(w->t, e->epfd, e->ev, e->max, armed, &e->kernel);

	return n < 0 ? -ESHUTDOWN : n;
}

static int ep_ask(struct sk_wait *w, int n)
{
	struct ep_wait *e = (struct ep_wait *)w;
	int k;

	if (!e->kernel || (n && n >= e->max)) /* (max 0: the kernel's EINVAL) */
		return 0;
	k = accel_real.epoll_pwait(e->epfd, e->ev + n, e->max - n, 0, w->sigmask);
	return k < 0 ? -errno : k;
}

/* Adding costs a system call only when about to sleep, and is always
 * right even if the program reused the fd number. */
static int ep_prepare(struct sk_wait *w)
{
	struct ep_wait *e = (struct ep_wait *)w;
	struct epoll_event add = { .events = EPOLLIN, .data.fd = e->epfd };

	sources_sync(w->t);
	if (accel_real.epoll_ctl(w->t->wait_epfd, EPOLL_CTL_ADD, e->epfd, &add) < 0 &&
	    errno != EEXIST)
		return -errno;
	return 0;
}

static int ep_sleep(struct sk_wait *w, int64_t ns, const sigset_t *mask)
{
	struct epoll_event woke[4];
	int r = accel_real.epoll_pwait(w->t->wait_epfd, woke, 4, ns_to_ms(ns), mask);

	return r < 0 ? -errno : r;
}

static int ep_answer_mixed(struct sk_wait *w, int n, int k)
{
	struct ep_wait *e = (struct ep_wait *)w;

	return n + k ? merge(e->ev, n, k) : 0;
}

static int kernel_answer(struct sk_wait *w, int n, int k)
{
	(void)w;
	(void)n;
	return k;
}

/* The port is gone, or the set cannot nest: wait as the kernel would. */
static int ep_gone(struct sk_wait *w, int64_t left_ns)
{
	struct ep_wait *e = (struct ep_wait *)w;
	int n = accel_real.epoll_pwait(e->epfd, e->ev, e->max, ns_to_ms(left_ns), w->sigmask);

	return n < 0 ? -errno : n;
}

static const struct sk_wait_ops ep_mixed_ops = {
	.look = ep_look_mixed, .ask = ep_ask, .prepare = ep_prepare,
	.sleep = ep_sleep, .answer = ep_answer_mixed,
};

static const struct sk_wait_ops ep_kernel_ops = {
	.look = stack_look, .ask = ep_ask, .prepare = ep_prepare,
	.sleep = ep_sleep, .answer = kernel_answer, .gone = ep_gone,
};

/* ---- poll ------------------------------------------------------------------ */

struct poll_wait {
	struct sk_wait w;
	struct pollfd *fds;
	nfds_t nfds;
	struct pollfd *buf;     /* the kernel's entries, then the sleep's */
	short *rev;             /* the bypass entries' revents */
	int asked;              /* buf has this look's kernel answer */
};

static int poll_look_mixed(struct sk_wait *w, int armed)
{
	struct poll_wait *p = (struct poll_wait *)w;
	int n = poll_look(w->t, p->fds, p->nfds, p->rev, armed);

	p->asked = 0;
	return n < 0 ? -ESHUTDOWN : n;
}

/* The kernel's entries, the bypass-only ones hidden (fd -1): a dual
 * listener's kernel half is asked too. */
static int poll_ask_mixed(struct sk_wait *w, int n)
{
	struct poll_wait *p = (struct poll_wait *)w;
	struct timespec zero = { 0, 0 };
	int k;

	(void)n;
	for (nfds_t i = 0; i < p->nfds; i++) {
		struct sk_sock *s = p->fds[i].fd >= 0 ? sk_get(p->fds[i].fd) : NULL;

		p->buf[i] = p->fds[i];
		p->buf[i].revents = 0;
		if (s && !s->dual)
			p->buf[i].fd = -1;
	}
	k = accel_real.ppoll(p->buf, p->nfds, &zero, w->sigmask);
	if (k < 0)
		return -errno;
	p->asked = 1;
	return k;
}

static int poll_ask_kernel(struct sk_wait *w, int n)
{
	struct poll_wait *p = (struct poll_wait *)w;
	struct timespec zero = { 0, 0 };
	int k = accel_real.ppoll(p->fds, p->nfds, &zero, w->sigmask);

	(void)n;
	return k < 0 ? -errno : k;
}

/* poll(NULL, 0, ms) sleeps: no entries to copy. */
static int poll_prepare_kernel(struct sk_wait *w)
{
	struct poll_wait *p = (struct poll_wait *)w;

	if (p->nfds)
		memcpy(p->buf, p->fds, p->nfds * sizeof(*p->fds));
	return 0;
}

/* The sleep on buf's first nfds entries (the program's, or their kernel
 * half) and the thread's wake descriptors. */
static int poll_sleep(struct sk_wait *w, int64_t ns, const sigset_t *mask)
{
	struct poll_wait *p = (struct poll_wait *)w;
	struct timespec ts;
	int extra = wait_fds(w->t, p->buf + p->nfds);
	int r = accel_real.ppoll(p->buf, p->nfds + (nfds_t)extra, sk_ns_to_ts(ns, &ts), mask);

	return r < 0 ? -errno : r;
}

static int poll_answer_mixed(struct sk_wait *w, int n, int k)
{
	struct poll_wait *p = (struct poll_wait *)w;
	int r = 0;

	(void)n;
	(void)k;
	for (nfds_t i = 0; i < p->nfds; i++) {
		p->fds[i].revents = (short)((p->asked ? p->buf[i].revents : 0) | p->rev[i]);
		r += p->fds[i].revents != 0;
	}
	return r;
}

static int poll_gone(struct sk_wait *w, int64_t left_ns)
{
	struct poll_wait *p = (struct poll_wait *)w;
	struct timespec ts;
	int n = accel_real.ppoll(p->fds, p->nfds, sk_ns_to_ts(left_ns, &ts), w->sigmask);

	return n < 0 ? -errno : n;
}

static const struct sk_wait_ops poll_mixed_ops = {
	.look = poll_look_mixed, .ask = poll_ask_mixed,
	.sleep = poll_sleep, .answer = poll_answer_mixed,
};

static const struct sk_wait_ops poll_kernel_ops = {
	.look = stack_look, .ask = poll_ask_kernel, .prepare = poll_prepare_kernel,
	.sleep = poll_sleep, .answer = kernel_answer, .gone = poll_gone,
};

static int poll_run(struct sk_thread *t, struct pollfd *fds, nfds_t nfds, uint64_t deadline,
		    const sigset_t *sigmask, unsigned sigs, int bypass)
{
	struct poll_wait p = {
		.w = { .ops = bypass ? &poll_mixed_ops : &poll_kernel_ops, .t = t,
		       .deadline = deadline, .sigmask = sigmask, .sigs = sigs,
		       .kq_key = bypass ? KQ_POLL : KQ_ALWAYS, .bypass = (uint8_t)bypass,
		       .ask_first = 1 },
		.fds = fds, .nfds = nfds,
	};

	p.buf = poll_buf(t, nfds + SK_WAIT_FDS);
	p.rev = p.buf ? t->prev : NULL;
	if (!p.buf)
		return bypass ? -ENOMEM : wait_gone(&p.w, -ENOMEM);
	return wait_run(&p.w);
}

/* ---- select ---------------------------------------------------------------- */

struct sel_wait {
	struct sk_wait w;
	int nfds;
	fd_set *r, *wr, *e;      /* the program's */
	fd_set r0, w0, e0;       /* as they came in */
	struct pollfd *p;        /* the sleep's set */
	nfds_t np;
};

static void sets_restore(struct sel_wait *s)
{
	set_copy(s->r, &s->r0, s->nfds);
	set_copy(s->wr, &s->w0, s->nfds);
	set_copy(s->e, &s->e0, s->nfds);
}

/* A zero-timeout pselect that found nothing cleared the program's sets:
 * they come back for the next look. */
static int sel_ask(struct sk_wait *w, int n)
{
	struct sel_wait *s = (struct sel_wait *)w;
	struct timespec zero = { 0, 0 };
	int k = accel_real.pselect(s->nfds, s->r, s->wr, s->e, &zero, w->sigmask);

	(void)n;
	if (k < 0)
		return -errno;
	if (k == 0)
		sets_restore(s);
	return k;
}

static int sel_sleep(struct sk_wait *w, int64_t ns, const sigset_t *mask)
{
	struct sel_wait *s = (struct sel_wait *)w;
	struct timespec ts;
	int r = accel_real.ppoll(s->p, s->np, sk_ns_to_ts(ns, &ts), mask);

	return r < 0 ? -errno : r;
}

/* Time up: all sets empty, as the kernel leaves them. */
static int sel_answer(struct sk_wait *w, int n, int k)
{
	struct sel_wait *s = (struct sel_wait *)w;
	size_t bytes = ((size_t)s->nfds + 63) / 64 * 8;

	(void)n;
	if (!k) {
		if (s->r)
			memset(s->r, 0, bytes);
		if (s->wr)
			memset(s->wr, 0, bytes);
		if (s->e)
			memset(s->e, 0, bytes);
	}
	return k;
}

static int sel_gone(struct sk_wait *w, int64_t left_ns)
{
	struct sel_wait *s = (struct sel_wait *)w;
	struct timespec ts;
	int n = accel_real.pselect(s->nfds, s->r, s->wr, s->e, sk_ns_to_ts(left_ns, &ts),
				   w->sigmask);

	return n < 0 ? -errno : n;
}

static const struct sk_wait_ops sel_kernel_ops = {
	.look = stack_look, .ask = sel_ask,
	.sleep = sel_sleep, .answer = sel_answer, .gone = sel_gone,
};

/* select with bypass descriptors, as a poll. */
static int select_mixed(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
			fd_set *efds, uint64_t deadline, const sigset_t *sigmask, unsigned sigs)
{
	struct pollfd *p = calloc((size_t)nfds + 1, sizeof(*p));
	int n, r;

	if (!p)
		return -ENOMEM;
	n = (int)sets_to_poll(nfds, rfds, wfds, efds, p);
	r = poll_run(t, p, (nfds_t)n, deadline, sigmask, sigs, 1);
	if (r >= 0) {
		if (rfds)
			FD_ZERO(rfds);
		if (wfds)
			FD_ZERO(wfds);
		if (efds)
			FD_ZERO(efds);
		r = 0;
		for (int i = 0; i < n; i++) {
			if (p[i].revents & POLLNVAL) {
				r = -EBADF;
				break;
			}
			/* select(2): readable on data, EOF or error; writable
			 * when a write would not block or would fail */
			if ((p[i].events & POLLIN) &&
			    (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
				FD_SET(p[i].fd, rfds);
				r++;
			}
			if ((p[i].events & POLLOUT) && (p[i].revents & (POLLOUT | POLLERR))) {
				FD_SET(p[i].fd, wfds);
				r++;
			}
			if ((p[i].events & POLLPRI) && (p[i].revents & POLLPRI)) {
				FD_SET(p[i].fd, efds);
				r++;
			}
		}
	}
	free(p);
	return r;
}

/* ---- one socket's blocking call ------------------------------------------- */

struct sock_wait {
	struct sk_wait w;
	struct sk_stack *S;
	struct sk_sock *s;      /* the socket fd named when the call began */
	uint32_t life;          /* s->life then */
	int fd, kfd;
	unsigned ev;
	uint8_t locked;         /* S is held (as the call came and goes) */
	uint8_t looked;
	uint8_t armed;          /* s->waiter was set by this wait */
	uint8_t lost;           /* fd names another socket now, or none */
};

/* One look at the socket, S held; between two looks S is let go a moment
 * so that the stack's other threads get in. */
static int sock_look(struct sk_wait *w, int armed)
{
	struct sock_wait *sw = (struct sock_wait *)w;
	struct sk_sock *s;

	if (armed) /* (first: whatever this look returns, the loop acks it) */
		sk_wake_arm(w->t);
	if (sw->locked && sw->looked) {
		sk_unlock(sw->S);
		sw->locked = 0;
	}
	sw->looked = 1;
	if (!sw->locked) {
		/* A socket that lives on another stack: this thread is still
		 * its own stack's sleeper (sk_wake_arm), so the progress
		 * thread leaves that stack to it; its frames, and those
		 * that the port hashes there for S, wait on this turn. */
		if (sw->S != w->t->s && sk_service(w->t) < 0)
			return -ESHUTDOWN;
		if (sk_lock(sw->S) < 0)
			return -ESHUTDOWN;
		sw->locked = 1;
	}
	s = sk_get_on(sw->fd, sw->S);
	if (s != sw->s || s->life != sw->life) {
		/* closed, and perhaps the number given to another socket,
		 * whose data is not this call's */
		sw->lost = 1;
		return 1;
	}
	if (sw->armed && s->waiter == w->t)
		s->waiter = NULL;
	sw->armed = 0;
	if (armed) {
		s->waiter = w->t;
		sw->armed = 1;
	}
	sk_poll_stack(w->t, sw->S);
	if (!s->c || (stack_tcp_events(s->c) & sw->ev)) {
		if (sw->armed && s->waiter == w->t)
			s->waiter = NULL;
		sw->armed = 0;
		return 1;
	}
	return 0;
}

/* A dual listener's kernel half. */
static int sock_ask(struct sk_wait *w, int n)
{
	struct sock_wait *sw = (struct sock_wait *)w;
	struct pollfd p = { .fd = sw->kfd, .events = POLLIN };
	int k;

	(void)n;
	if (sw->kfd < 0)
		return 0;
	k = accel_real.poll(&p, 1, 0);
	return k < 0 ? -errno : k;
}

static int sock_sleep(struct sk_wait *w, int64_t ns, const sigset_t *mask)
{
	struct sock_wait *sw = (struct sock_wait *)w;
	struct pollfd p[SK_WAIT_FDS + 1];
	struct timespec ts;
	int n = wait_fds(w->t, p), r;

	if (sw->kfd >= 0)
		p[n++] = (struct pollfd){ .fd = sw->kfd, .events = POLLIN };
	sk_unlock(sw->S);
	sw->locked = 0;
	r = accel_real.ppoll(p, (nfds_t)n, sk_ns_to_ts(ns, &ts), mask);
	return r < 0 ? -errno : 0;
}

/* Time up (SO_RCVTIMEO, SO_SNDTIMEO): EAGAIN, as the kernel's. */
static int sock_answer(struct sk_wait *w, int n, int k)
{
	struct sock_wait *sw = (struct sock_wait *)w;

	if (sw->lost)
		return -EBADF;
	return n || k ? 0 : -EAGAIN;
}

static const struct sk_wait_ops sock_ops = {
	.look = sock_look, .ask = sock_ask, .sleep = sock_sleep, .answer = sock_answer,
};

/* When a call on fd that waits must end: opt (SO_RCVTIMEO, SO_SNDTIMEO)
 * as the kernel holds it for the descriptor, from now; NO_DEADLINE. */
static uint64_t sock_deadline(int fd, int opt)
{
	struct timeval tv = { 0, 0 };
	socklen_t len = sizeof(tv);

	if (opt <= 0 || accel_real.getsockopt(fd, SOL_SOCKET, opt, &tv, &len) < 0 ||
	    (tv.tv_sec <= 0 && tv.tv_usec <= 0))
		return NO_DEADLINE;
	return now_ns() + (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

int sk_wait_sock(struct sk_thread *t, struct sk_stack *S, int fd, unsigned ev, int kfd,
		 int opt, struct sk_call *call)
{
	struct sock_wait sw = {
		.w = { .ops = &sock_ops, .t = t, .kq_key = KQ_SOCK(fd), .bypass = 1 },
		.S = S, .s = sk_get_on(fd, S), .fd = fd, .kfd = kfd, .ev = ev, .locked = 1,
	};
	int r;

	if (!sw.s)
		return -EBADF;
	sw.life = sw.s->life;
	if (!call->until)
		call->until = sock_deadline(fd, opt);
	sw.w.deadline = call->until;
	sw.w.sigs = call->sigs;
	r = wait_run(&sw.w);
	if (r == -ESHUTDOWN || (!sw.locked && sk_lock(S) < 0)) {
		sk_sleep_unmask(t);
		return -ESHUTDOWN;
	}
	if (sw.armed && sk_get_on(fd, S) == sw.s && sw.s->life == sw.life && sw.s->waiter == t)
		sw.s->waiter = NULL;
	return r;
}

/* ---- the calls ------------------------------------------------------------- */

/* Whichever way they return, the program's mask is back (sk_sleep_mask). */
int sk_epoll_wait(struct sk_thread *t, int epfd, struct epoll_event *ev,
		  int maxevents, int64_t timeout_ns, const sigset_t *sigmask)
{
	int mixed = __atomic_load_n(&sk_proc->nsocks, __ATOMIC_RELAXED) && sk_ep_has_items(epfd);
	struct ep_wait e = {
		.w = { .ops = mixed ? &ep_mixed_ops : &ep_kernel_ops, .t = t,
		       .deadline = deadline_of(timeout_ns), .sigmask = sigmask,
		       .sigs = accel_sig_seq,
		       .kq_key = mixed ? epfd : KQ_ALWAYS, .bypass = (uint8_t)mixed },
		.epfd = epfd, .ev = ev, .max = maxevents, .kernel = 1,
	};
	int r = mixed && maxevents <= 0 ? -EINVAL : wait_run(&e.w);

	sk_sleep_unmask(t);
	return r;
}

int sk_poll(struct sk_thread *t, struct pollfd *fds, nfds_t nfds,
	    int64_t timeout_ns, const sigset_t *sigmask)
{
	int r = poll_run(t, fds, nfds, deadline_of(timeout_ns), sigmask, accel_sig_seq,
			 poll_has_bypass(fds, nfds));

	sk_sleep_unmask(t);
	return r;
}

static int select_run(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
		      fd_set *efds, int64_t timeout_ns, const sigset_t *sigmask)
{
	struct sel_wait s = {
		.w = { .ops = &sel_kernel_ops, .t = t, .deadline = deadline_of(timeout_ns),
		       .sigmask = sigmask, .sigs = accel_sig_seq, .kq_key = KQ_ALWAYS },
		.nfds = nfds, .r = rfds, .wr = wfds, .e = efds,
	};

	if (nfds > 0 && nfds <= FD_SETSIZE && select_has_bypass(nfds, rfds, wfds, efds))
		return select_mixed(t, nfds, rfds, wfds, efds, s.w.deadline, sigmask, s.w.sigs);
	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL; /* the caller hands such sets to the kernel */
	set_copy(&s.r0, rfds, nfds);
	set_copy(&s.w0, wfds, nfds);
	set_copy(&s.e0, efds, nfds);
	/* (the sets do not change from one sleep to the next) */
	s.p = select_sleep_set(t, nfds, rfds ? &s.r0 : NULL, wfds ? &s.w0 : NULL,
			       efds ? &s.e0 : NULL, &s.np);
	if (!s.p)
		return -ENOMEM;
	return wait_run(&s.w);
}

int sk_select(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
	      fd_set *efds, int64_t timeout_ns, const sigset_t *sigmask)
{
	int r = select_run(t, nfds, rfds, wfds, efds, timeout_ns, sigmask);

	sk_sleep_unmask(t);
	return r;
}

int sk_wait_fd(struct sk_thread *t, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = sk_poll(t, &p, 1, SK_FOREVER, NULL);

	return r < 0 ? r : 0;
}
