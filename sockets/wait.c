/*
 * wait.c - the waiting calls of a thread that owns a stack.
 *
 * Each call has the same shape: run the stack, ask the kernel about the
 * program's descriptors without blocking, and if nothing is ready sleep in
 * the kernel on those descriptors plus the queue's wake fd, no longer than
 * the caller's timeout or the stack's next timer. The answer the program
 * gets always comes from a non-blocking kernel call on its own arguments,
 * so results and errors are the kernel's own.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/real.h"
#include "../common/sigasync.h"
#include "opts.h"
#include "sock_impl.h"

#define NO_DEADLINE UINT64_MAX

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
	struct sk_thread *cur = __atomic_load_n(&sk_slicer, __ATOMIC_ACQUIRE);
	uint64_t rx = __atomic_load_n(&t->s->rx_at, __ATOMIC_RELAXED);
	unsigned k = sk_idle_stretch(t->s->idle_poll_ns, now > rx ? now - rx : 0);
	uint64_t backup = k * (SK_IDLE_BACKUP_NS > t->s->idle_poll_ns ? SK_IDLE_BACKUP_NS :
			       t->s->idle_poll_ns);

	if (__atomic_load_n(&t->s->polled_by, __ATOMIC_RELAXED) != t &&
	    now < __atomic_load_n(&t->s->polled_at, __ATOMIC_RELAXED) +
		  t->s->idle_poll_ns / 4) /* (it may be after now) */
		return backup;
	if (cur == t || (!cur && __atomic_compare_exchange_n(&sk_slicer, &cur, t, 0,
							     __ATOMIC_ACQ_REL,
							     __ATOMIC_ACQUIRE)))
		return k * t->s->idle_poll_ns;
	return backup;
}

/* How long the next sleep may last: until the caller's deadline, the
 * stack's next timer, or an idle slice when there is no wake fd or a
 * stack has no thread (netif.c: stale). -1 means no limit. */
int64_t sk_sleep_len(struct sk_thread *t, uint64_t deadline)
{
	uint64_t now = now_ns(), until = deadline, timer = sk_stack_deadline(t);

	if (timer < until)
		until = timer;
	if (t->s->wake_fd < 0 || __atomic_load_n(&sk_orphans, __ATOMIC_RELAXED)) {
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

/*
 * A waiting call sleeps in slices (to the stack's next timer, or an idle
 * slice) and runs the stack between them. A signal that came between two
 * slices would be handled there, in user space, and the next slice would
 * sleep on: the call would not return EINTR where the kernel's returns
 * it. So from its first sleep on, a call keeps the program's signals
 * blocked, and every slice sleeps with the mask the program waits under
 * (its sigmask, or its own mask), which lets them in only while asleep: a
 * signal ends the slice with EINTR, as it ends the kernel's wait. Faults
 * stay deliverable. Two system calls per sleeping call, none per spin.
 */
const sigset_t *sk_sleep_mask(struct sk_thread *t, const sigset_t *sigmask)
{
	sigset_t all;

	if (!t->sig_blocked) {
		sig_async_set(&all);
		if (pthread_sigmask(SIG_BLOCK, &all, &t->sig_old) != 0)
			return sigmask;
		t->sig_blocked = 1;
	}
	return sigmask ? sigmask : &t->sig_old;
}

void sk_sleep_unmask(struct sk_thread *t)
{
	if (t->sig_blocked) {
		t->sig_blocked = 0;
		pthread_sigmask(SIG_SETMASK, &t->sig_old, NULL);
	}
}

/*
 * Arms the wake fd and takes one more look at the queue, since frames that
 * came in before the arm raised no interrupt. Returns 1 when that look
 * found frames (do not sleep), 0 to go to sleep, -ESHUTDOWN.
 */
static int sleep_prepare(struct sk_thread *t)
{
	int n;

	sk_wake_arm(t);
	n = sk_service(t);
	if (n != 0)
		sk_wake_ack(t);
	return n < 0 ? n : n > 0;
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
	struct sk_ep *ep = sk_eps[epfd];
	struct sk_stack *S = t->s;
	int n = 0;

	if (ep ? sk_lock_ep(ep, &S) < 0 : sk_lock(S) < 0)
		return -1;
	if (ep && __atomic_load_n(&sk_eps[epfd], __ATOMIC_ACQUIRE) != ep)
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
	return n;
}

/* Whether a look at epfd asks the kernel about the set's own members
 * too: when it must (the call's first look found no bypass member ready,
 * or its time is up), else unless the last ask, a moment ago
 * (SK_KERNEL_POLL_NS), found none ready. A kernel fd ready then is
 * reported as before; one that becomes ready while bypass members keep
 * the waits busy, or while the wait spins, waits at most that long. */
static int kernel_ask_due(struct sk_thread *t, int epfd, int must)
{
	return must || t->kq_epfd != epfd || !t->kq_idle ||
	       polled_at(t) - t->kq_at >= SK_KERNEL_POLL_NS;
}

static void kernel_asked(struct sk_thread *t, int epfd, int k)
{
	t->kq_epfd = epfd;
	t->kq_idle = k == 0;
	t->kq_at = polled_at(t);
}

/* epoll_wait on a set with bypass members. */
static int ep_wait_mixed(struct sk_thread *t, int epfd, struct epoll_event *ev,
			 int maxevents, uint64_t deadline, const sigset_t *sigmask)
{
	uint64_t start = now_ns(), spin_until = start + sk_spin_budget(&t->spin, start);
	unsigned sigs = accel_sig_seq;
	uint64_t asleep_at = 0;

	if (maxevents <= 0)
		return -EINVAL;
	for (int first = 1;; first = 0) {
		struct epoll_event add = { .events = EPOLLIN, .data.fd = epfd };
		struct epoll_event woke[4];
		int n, k = 0, r, ask, expired;
		uint64_t now;

		n = ep_look(t, epfd, ev, maxevents, 0, &ask);
		if (n < 0)
			return -ESHUTDOWN;
		now = polled_at(t); /* (the look's time) */
		expired = deadline != NO_DEADLINE && now >= deadline;
		if (ask && n < maxevents && kernel_ask_due(t, epfd, expired || (first && !n))) {
			k = accel_real.epoll_pwait(epfd, ev + n, maxevents - n, 0, sigmask);
			if (k < 0) {
				if (n == 0)
					return -errno;
				k = 0;
			}
			kernel_asked(t, epfd, k);
		}
		if (n + k || expired) {
			spin_learn(t, start, asleep_at, now, n + k != 0);
			return n + k ? merge(ev, n, k) : 0;
		}
		if (now < spin_until && sk_spin_cut(&t->spin, now))
			spin_until = 0; /* preempted: sleep now (spin.h) */
		if (now < spin_until) {
			if (accel_sig_seq != sigs)
				return -EINTR; /* a handler ran in the spin */
			continue; /* poll a while before sleeping (spin.h) */
		}
		if (accel_real.epoll_ctl(t->wait_epfd, EPOLL_CTL_ADD, epfd, &add) < 0 &&
		    errno != EEXIST)
			return -errno;
		n = ep_look(t, epfd, ev, maxevents, 1, NULL);
		if (n != 0) {
			sk_wake_ack(t);
			if (n > 0)
				spin_learn(t, start, asleep_at, polled_at(t), 1);
			return n < 0 ? -ESHUTDOWN : n;
		}
		r = accel_real.epoll_pwait(t->wait_epfd, woke, 4,
					   ns_to_ms(sk_sleep_len(t, deadline)),
					   sk_sleep_mask(t, sigmask));
		sk_wake_ack(t);
		asleep_at = asleep_at ? asleep_at : now;
		if (r < 0)
			return -errno;
	}
}

static int epoll_wait_sliced(struct sk_thread *t, int epfd, struct epoll_event *ev,
			     int maxevents, int64_t timeout_ns, const sigset_t *sigmask)
{
	uint64_t deadline = deadline_of(timeout_ns);

	if (__atomic_load_n(&sk_nsocks, __ATOMIC_RELAXED) && sk_ep_has_items(epfd))
		return ep_wait_mixed(t, epfd, ev, maxevents, deadline, sigmask);

	for (;;) {
		struct epoll_event add = { .events = EPOLLIN, .data.fd = epfd };
		struct epoll_event woke[4];
		int n, r;

		if (sk_service(t) < 0)
			break;
		n = accel_real.epoll_pwait(epfd, ev, maxevents, 0, sigmask);
		if (n != 0)
			return n < 0 ? -errno : n;
		if (remaining(deadline) == 0)
			return 0;
		/* Re-adding costs a syscall only when about to sleep, and is
		 * always right even if the program reused the fd number. */
		if (accel_real.epoll_ctl(t->wait_epfd, EPOLL_CTL_ADD, epfd, &add) < 0 &&
		    errno != EEXIST)
			break;
		r = sleep_prepare(t);
		if (r < 0)
			break;
		if (r > 0)
			continue;
		r = accel_real.epoll_pwait(t->wait_epfd, woke, 4,
					   ns_to_ms(sk_sleep_len(t, deadline)),
					   sk_sleep_mask(t, sigmask));
		sk_wake_ack(t);
		if (r < 0)
			return -errno;
	}
	/* The port is gone (or the set cannot nest): wait as the kernel would. */
	sk_sleep_unmask(t);
	int n = accel_real.epoll_pwait(epfd, ev, maxevents,
				       ns_to_ms(remaining(deadline)), sigmask);
	return n < 0 ? -errno : n;
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
	int ready = 0, one = sk_nstacks < 2 || poll_all_on(fds, nfds, t->s);

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
	if (!__atomic_load_n(&sk_nsocks, __ATOMIC_RELAXED))
		return 0;
	for (nfds_t i = 0; i < nfds; i++)
		if (fds[i].fd >= 0 && sk_get(fds[i].fd))
			return 1;
	return 0;
}

/* poll with bypass entries: theirs from the stack, the others' (and a
 * dual listener's kernel half) from the kernel. */
static int poll_mixed(struct sk_thread *t, struct pollfd *fds, nfds_t nfds,
		      uint64_t deadline, const sigset_t *sigmask)
{
	struct timespec zero = { 0, 0 }, ts;
	struct pollfd *buf = poll_buf(t, nfds + SK_SLEEP_FDS);
	short *rev = buf ? t->prev : NULL;
	uint64_t start = now_ns(), asked_at = 0, asleep_at = 0;
	uint64_t spin_until = start + sk_spin_budget(&t->spin, start);
	unsigned sigs = accel_sig_seq;
	int r = -ENOMEM;

	if (!buf || !rev)
		goto out;
	for (int first = 1;; first = 0) {
		int n = poll_look(t, fds, nfds, rev, 0), k = 0, extra = 0;
		uint64_t now = polled_at(t); /* (the look's time) */
		int expired = deadline != NO_DEADLINE && now >= deadline;

		if (n < 0) {
			r = -ESHUTDOWN;
			goto out;
		}
		/* the kernel's entries: the bypass-only ones hidden (fd -1) */
		for (nfds_t i = 0; i < nfds; i++) {
			struct sk_sock *s = fds[i].fd >= 0 ? sk_get(fds[i].fd) : NULL;

			buf[i] = fds[i];
			buf[i].revents = 0;
			if (s && !s->dual)
				buf[i].fd = -1;
		}
		/* asked on the first and the last look, and every
		 * SK_KERNEL_POLL_NS of the spin between (as epoll's) */
		if (first || expired || now - asked_at >= SK_KERNEL_POLL_NS) {
			asked_at = now;
			k = accel_real.ppoll(buf, nfds, &zero, sigmask);
			if (k < 0) {
				r = -errno;
				goto out;
			}
		}
		if (n || k || expired)
			spin_learn(t, start, asleep_at, now, n || k);
		if (n || k) {
			r = 0;
			for (nfds_t i = 0; i < nfds; i++) {
				fds[i].revents = (short)(buf[i].revents | rev[i]);
				r += fds[i].revents != 0;
			}
			goto out;
		}
		if (expired) {
			for (nfds_t i = 0; i < nfds; i++)
				fds[i].revents = 0;
			r = 0;
			goto out;
		}
		if (now < spin_until && sk_spin_cut(&t->spin, now))
			spin_until = 0; /* preempted: sleep now (spin.h) */
		if (now < spin_until) {
			if (accel_sig_seq != sigs) {
				r = -EINTR; /* a handler ran in the spin */
				goto out;
			}
			continue; /* poll a while before sleeping (spin.h) */
		}
		n = poll_look(t, fds, nfds, rev, 1);
		if (n != 0) {
			sk_wake_ack(t);
			continue;
		}
		extra = sk_sleep_fds(t, buf + nfds);
		r = accel_real.ppoll(buf, nfds + (nfds_t)extra,
				     sk_ns_to_ts(sk_sleep_len(t, deadline), &ts),
				     sk_sleep_mask(t, sigmask));
		sk_wake_ack(t);
		asleep_at = asleep_at ? asleep_at : now;
		if (r < 0) {
			r = -errno;
			goto out;
		}
	}
out:
	return r;
}

static int poll_sliced(struct sk_thread *t, struct pollfd *fds, nfds_t nfds,
		       int64_t timeout_ns, const sigset_t *sigmask)
{
	uint64_t deadline = deadline_of(timeout_ns);
	struct timespec zero = { 0, 0 }, ts;
	struct pollfd *buf;
	int n, r, extra;

	if (poll_has_bypass(fds, nfds))
		return poll_mixed(t, fds, nfds, deadline, sigmask);

	for (;;) {
		if (sk_service(t) < 0)
			break;
		n = accel_real.ppoll(fds, nfds, &zero, sigmask);
		if (n != 0)
			return n < 0 ? -errno : n;
		if (remaining(deadline) == 0)
			return 0;
		buf = poll_buf(t, nfds + SK_SLEEP_FDS);
		if (!buf)
			break;
		if (nfds) /* poll(NULL, 0, ms) sleeps: no entries to copy */
			memcpy(buf, fds, nfds * sizeof(*fds));
		extra = sk_sleep_fds(t, buf + nfds);
		r = sleep_prepare(t);
		if (r < 0)
			break;
		if (r > 0)
			continue;
		r = accel_real.ppoll(buf, nfds + (nfds_t)extra,
				     sk_ns_to_ts(sk_sleep_len(t, deadline), &ts),
				     sk_sleep_mask(t, sigmask));
		sk_wake_ack(t);
		if (r < 0)
			return -errno;
	}
	sk_sleep_unmask(t); /* (the port is gone: as the kernel would) */
	n = accel_real.ppoll(fds, nfds, sk_ns_to_ts(remaining(deadline), &ts), sigmask);
	return n < 0 ? -errno : n;
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

/* select with bypass descriptors, as a poll. */
static int select_mixed(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
			fd_set *efds, uint64_t deadline, const sigset_t *sigmask)
{
	struct pollfd *p = calloc((size_t)nfds + 1, sizeof(*p));
	int n, r;

	if (!p)
		return -ENOMEM;
	n = (int)sets_to_poll(nfds, rfds, wfds, efds, p);
	r = poll_mixed(t, p, (nfds_t)n, deadline, sigmask);
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

static int select_has_bypass(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	if (!__atomic_load_n(&sk_nsocks, __ATOMIC_RELAXED))
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
	struct pollfd *p = poll_buf(t, (size_t)nfds + SK_SLEEP_FDS);

	*n = 0;
	if (!p)
		return NULL;
	*n = sets_to_poll(nfds, r, w, e, p);
	*n += (nfds_t)sk_sleep_fds(t, p + *n);
	return p;
}

static int select_sliced(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
			 fd_set *efds, int64_t timeout_ns, const sigset_t *sigmask)
{
	uint64_t deadline = deadline_of(timeout_ns);

	if (nfds > 0 && nfds <= FD_SETSIZE && select_has_bypass(nfds, rfds, wfds, efds))
		return select_mixed(t, nfds, rfds, wfds, efds, deadline, sigmask);
	struct timespec zero = { 0, 0 }, ts;
	fd_set r0, w0, e0;
	struct pollfd *p;
	nfds_t np;
	int n, r;

	if (nfds < 0 || nfds > FD_SETSIZE)
		return -EINVAL; /* the caller hands such sets to the kernel */
	set_copy(&r0, rfds, nfds);
	set_copy(&w0, wfds, nfds);
	set_copy(&e0, efds, nfds);
	/* (the sets do not change from one sleep to the next) */
	p = select_sleep_set(t, nfds, rfds ? &r0 : NULL, wfds ? &w0 : NULL,
			     efds ? &e0 : NULL, &np);
	if (!p)
		return -ENOMEM;
	for (;;) {
		if (sk_service(t) < 0)
			break;
		n = accel_real.pselect(nfds, rfds, wfds, efds, &zero, sigmask);
		if (n != 0)
			return n < 0 ? -errno : n;
		if (remaining(deadline) == 0)
			return 0; /* as the kernel leaves them: all sets empty */
		/* the zero-timeout pselect cleared the program's sets */
		set_copy(rfds, &r0, nfds);
		set_copy(wfds, &w0, nfds);
		set_copy(efds, &e0, nfds);
		r = sleep_prepare(t);
		if (r < 0)
			break;
		if (r > 0)
			continue;
		r = accel_real.ppoll(p, np, sk_ns_to_ts(sk_sleep_len(t, deadline), &ts),
				     sk_sleep_mask(t, sigmask));
		sk_wake_ack(t);
		if (r < 0)
			return -errno;
	}
	sk_sleep_unmask(t); /* (the port is gone: as the kernel would) */
	n = accel_real.pselect(nfds, rfds, wfds, efds,
			       sk_ns_to_ts(remaining(deadline), &ts), sigmask);
	return n < 0 ? -errno : n;
}

/* The waiting calls: whichever way they return, the program's mask is
 * back (sk_sleep_mask). */
int sk_epoll_wait(struct sk_thread *t, int epfd, struct epoll_event *ev,
		  int maxevents, int64_t timeout_ns, const sigset_t *sigmask)
{
	int r = epoll_wait_sliced(t, epfd, ev, maxevents, timeout_ns, sigmask);

	sk_sleep_unmask(t);
	return r;
}

int sk_poll(struct sk_thread *t, struct pollfd *fds, nfds_t nfds,
	    int64_t timeout_ns, const sigset_t *sigmask)
{
	int r = poll_sliced(t, fds, nfds, timeout_ns, sigmask);

	sk_sleep_unmask(t);
	return r;
}

int sk_select(struct sk_thread *t, int nfds, fd_set *rfds, fd_set *wfds,
	      fd_set *efds, int64_t timeout_ns, const sigset_t *sigmask)
{
	int r = select_sliced(t, nfds, rfds, wfds, efds, timeout_ns, sigmask);

	sk_sleep_unmask(t);
	return r;
}

int sk_wait_fd(struct sk_thread *t, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = sk_poll(t, &p, 1, SK_FOREVER, NULL);

	return r < 0 ? r : 0;
}
