/*
 * epoll.c - bypass sockets in the program's epoll sets.
 *
 * A program epoll set stays a kernel epoll instance for its kernel
 * members; its bypass members are items here, checked against the stack
 * on each wait. A dual listener is both: the kernel half in the kernel set,
 * the stack half here, and a wait reports the fd once with both halves'
 * events. Level-triggered by default; EPOLLET reports a socket again only
 * after its readiness changed; EPOLLONESHOT disables it until EPOLL_CTL_MOD.
 *
 * A set's bypass members normally live on one stack, its home: the first
 * ADD moves a connection not yet used to the set's home (or makes the
 * adding thread's stack the home), and the set is guarded by that stack's
 * lock. A member that cannot come (a listener, a connection another
 * thread has used) makes the set mixed: then it is guarded by every
 * stack's lock, its members' changes only wake its waiter, and each wait
 * looks at all of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/real.h"
#include "sock_impl.h"

/* The events a member always reports (epoll_ctl(2)). */
#define ALWAYS (EPOLLERR | EPOLLHUP)

/* fd's item in ep (a socket is in few sets: its own list is short). */
static struct sk_item *find(struct sk_ep *ep, struct sk_sock *s, int fd)
{
	for (struct sk_item *it = s && ep ? s->items : NULL; it; it = it->s_next)
		if (it->ep == ep && it->fd == fd)
			return it;
	return NULL;
}

static void rdy_push(struct sk_item *it)
{
	struct sk_ep *ep = it->ep;

	if (it->on_rdy)
		return;
	it->on_rdy = 1;
	it->rdy_next = NULL;
	it->rdy_prev = ep->rdy_tail;
	if (ep->rdy_tail)
		ep->rdy_tail->rdy_next = it;
	else
		ep->rdy_head = it;
	ep->rdy_tail = it;
	ep->nrdy++;
}

static void rdy_unlink(struct sk_item *it)
{
	struct sk_ep *ep = it->ep;

	if (!it->on_rdy)
		return;
	it->on_rdy = 0;
	if (it->rdy_prev)
		it->rdy_prev->rdy_next = it->rdy_next;
	else
		ep->rdy_head = it->rdy_next;
	if (it->rdy_next)
		it->rdy_next->rdy_prev = it->rdy_prev;
	else
		ep->rdy_tail = it->rdy_prev;
	ep->nrdy--;
}

/* The socket's readiness may have changed: its items go on their sets'
 * ready lists, and the threads sleeping on those sets wake. Under s's
 * home lock: a mixed set's list is not ours to touch. */
static void items_changed(struct sk_sock *s)
{
	for (struct sk_item *it = s->items; it; it = it->s_next) {
		if (!it->ep->mixed)
			rdy_push(it);
		sk_thread_wake(it->ep->waiter);
	}
}

static void item_remove(struct sk_item *it)
{
	struct sk_item **pp;

	rdy_unlink(it);
	if (it->ep_prev)
		it->ep_prev->ep_next = it->ep_next;
	else
		it->ep->items = it->ep_next;
	if (it->ep_next)
		it->ep_next->ep_prev = it->ep_prev;
	for (pp = &it->s->items; *pp && *pp != it; pp = &(*pp)->s_next)
		;
	if (*pp)
		*pp = it->s_next;
	free(it);
}

/* The stack says a connection's readiness changed (under the lock): a
 * call blocked on it and the sets that watch it look again. */
void sk_sock_event(void *ctx, struct stack_tcp *c, void *user, unsigned events)
{
	struct sk_sock *s = user;

	(void)ctx;
	(void)c;
	(void)events;
	if (!s)
		return;
	s->gen++;
	sk_thread_wake(s->waiter);
	items_changed(s);
}

void sk_sock_unwatch(struct sk_sock *s)
{
	while (s->items)
		item_remove(s->items);
}


/* ep goes back to the spares (reused by ep_get). */
static void ep_spare_put(struct sk_ep *ep)
{
	pthread_mutex_lock(&sk_proc->ep_spare_lock);
	ep->free_next = sk_proc->ep_spare;
	sk_proc->ep_spare = ep;
	pthread_mutex_unlock(&sk_proc->ep_spare_lock);
}

static struct sk_ep *ep_lookup(int epfd)
{
	return (unsigned)epfd < sk_proc->nfds ?
	       __atomic_load_n(&sk_proc->fds[epfd].ep, __ATOMIC_ACQUIRE) : NULL;
}

/* Locks what guards ep: its home's lock (*S), or every lock (*S NULL)
 * for a mixed set or one with no home yet. 0 or -ESHUTDOWN. */
int sk_lock_ep(struct sk_ep *ep, struct sk_stack **S)
{
	for (;;) {
		struct sk_stack *h = __atomic_load_n(&ep->home, __ATOMIC_ACQUIRE);

		if (!h || __atomic_load_n(&ep->mixed, __ATOMIC_ACQUIRE)) {
			*S = NULL;
			return sk_lock_all();
		}
		if (sk_lock(h) < 0)
			return -ESHUTDOWN;
		if (ep->home == h && !ep->mixed) {
			*S = h;
			return 0;
		}
		sk_unlock(h);
	}
}

void sk_unlock_ep(struct sk_stack *S)
{
	if (S)
		sk_unlock(S);
	else
		sk_unlock_all();
}

/* Forgets the set epfd named (the program closed it, or the number now
 * names a new set), under what guards it. */
static void ep_close_locked(int epfd)
{
	struct sk_ep *ep = ep_lookup(epfd);

	if (!ep)
		return;
	while (ep->items)
		item_remove(ep->items);
	__atomic_store_n(&sk_proc->fds[epfd].ep, NULL, __ATOMIC_RELEASE);
	ep_spare_put(ep);
}

/* The shim's record of a program set; a set it did not see created may
 * have kernel members it never counted (kernel_members -1: unknown). */
static struct sk_ep *ep_get(int epfd)
{
	struct sk_ep *ep = ep_lookup(epfd), *none = NULL;

	if (ep)
		return ep;
	pthread_mutex_lock(&sk_proc->ep_spare_lock);
	ep = sk_proc->ep_spare;
	if (ep)
		sk_proc->ep_spare = ep->free_next;
	pthread_mutex_unlock(&sk_proc->ep_spare_lock);
	if (ep)
		memset(ep, 0, sizeof(*ep));
	else if (!(ep = calloc(1, sizeof(*ep))))
		return NULL;
	ep->epfd = epfd;
	ep->kernel_members = -1;
	if (!__atomic_compare_exchange_n(&sk_proc->fds[epfd].ep, &none, ep, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		ep_spare_put(ep); /* another thread's came first */
		ep = none;
	}
	return ep;
}

/* The program closed epfd, or it names a new set: forget the old one. */
static void ep_forget(int epfd)
{
	struct sk_ep *ep = ep_lookup(epfd);
	struct sk_stack *S;

	if (!ep)
		return;
	if (!__atomic_load_n(&ep->home, __ATOMIC_ACQUIRE)) {
		ep_close_locked(epfd); /* (no home: it never had a member) */
		return;
	}
	if (sk_in_child() || sk_lock_ep(ep, &S) < 0) {
		__atomic_store_n(&sk_proc->fds[epfd].ep, NULL, __ATOMIC_RELEASE);
		return;
	}
	if (ep_lookup(epfd) == ep)
		ep_close_locked(epfd);
	sk_unlock_ep(S);
}

/* The program made an epoll set while the port was up: it starts empty. */
void sk_epoll_created(struct sk_thread *t, int epfd)
{
	struct sk_ep *ep;

	(void)t;
	if (sk_in_child() || (unsigned)epfd >= sk_proc->nfds)
		return;
	ep_forget(epfd);
	ep = ep_get(epfd);
	if (ep)
		__atomic_store_n(&ep->kernel_members, 0, __ATOMIC_RELEASE);
}

/* A kernel member joined (+1) or left (-1) a program set the shim saw
 * created; with none, a wait need not ask the kernel about the set. */
void sk_epoll_kernel_member(struct sk_thread *t, int epfd, int delta)
{
	struct sk_ep *ep;

	(void)t;
	if (sk_in_child() || (unsigned)epfd >= sk_proc->nfds)
		return;
	ep = ep_get(epfd);
	if (ep && __atomic_load_n(&ep->kernel_members, __ATOMIC_ACQUIRE) >= 0)
		__atomic_add_fetch(&ep->kernel_members, delta, __ATOMIC_ACQ_REL);
}

/* What EPOLLEXCLUSIVE may come with (fs/eventpoll.c, EPOLLEXCLUSIVE_OK_BITS). */
#define EXCLUSIVE_OK (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | \
		      EPOLLEXCLUSIVE)

/*
 * Linux's EPOLLEXCLUSIVE rules (do_epoll_ctl), checked before it looks
 * the member up: only ADD takes the flag, and only with EXCLUSIVE_OK
 * beside it; a MOD naming it is EINVAL. Then a member added with it can
 * never be modified: EINVAL (an epoll set as the target is the kernel's
 * own case: it never reaches here). it: the member, if any.
 */
static int exclusive_check(int op, const struct epoll_event *ev, const struct sk_item *it)
{
	if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && (ev->events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev->events & ~(uint32_t)EXCLUSIVE_OK)))
		return -EINVAL;
	if (op == EPOLL_CTL_MOD && it && (it->events & EPOLLEXCLUSIVE))
		return -EINVAL;
	return 0;
}

/* epoll_ctl on fd's socket s, under what guards both. */
static int ctl_locked(struct sk_ep *ep, int epfd, int op, int fd, struct sk_sock *s,
		      struct epoll_event *ev)
{
	struct sk_item *it = find(ep, s, fd);
	int km, r;

	if (s->dual) { /* the kernel half: the kernel checks epfd and op */
		if (accel_real.epoll_ctl(epfd, op, fd, ev) < 0)
			return -errno;
		if (op != EPOLL_CTL_MOD && (ep || (ep = ep_get(epfd))) &&
		    (km = __atomic_load_n(&ep->kernel_members, __ATOMIC_ACQUIRE)) >= 0)
			__atomic_add_fetch(&ep->kernel_members, op == EPOLL_CTL_ADD ? 1 : -1,
					   __ATOMIC_ACQ_REL);
	} else if (!ep && accel_real.fcntl(epfd, F_GETFD) < 0) {
		return -EBADF; /* a set the shim has not seen yet must be open */
	} else if ((r = exclusive_check(op, ev, it)) < 0) {
		return r; /* (the kernel checked the dual one's) */
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it)
			return -EEXIST;
		if (!ep && !(ep = ep_get(epfd)))
			return -ENOMEM;
		it = calloc(1, sizeof(*it));
		if (!it)
			return -ENOMEM;
		if (!ep->home)
			__atomic_store_n(&ep->home, s->home, __ATOMIC_RELEASE);
		else if (ep->home != s->home)
			__atomic_store_n(&ep->mixed, 1, __ATOMIC_RELEASE);
		it->ep = ep;
		it->s = s;
		it->fd = fd;
		it->events = ev->events;
		it->data = ev->data;
		it->gen_seen = s->gen - 1; /* ready now counts as an edge */
		it->ep_next = ep->items;
		if (ep->items)
			ep->items->ep_prev = it;
		ep->items = it;
		it->s_next = s->items;
		s->items = it;
		rdy_push(it);
		return 0;
	case EPOLL_CTL_MOD:
		if (!it)
			return -ENOENT;
		it->events = ev->events;
		it->data = ev->data;
		it->disabled = 0;
		it->gen_seen = s->gen - 1;
		rdy_push(it);
		return 0;
	case EPOLL_CTL_DEL:
		if (!it)
			return -ENOENT;
		item_remove(it);
		return 0;
	default:
		return -EINVAL;
	}
}

int sk_epoll_ctl(struct sk_thread *t, int epfd, int op, int fd, struct epoll_event *ev)
{
	struct sk_stack *S;
	struct sk_sock *s;
	struct sk_ep *ep;
	int r;

	if (sk_in_child() || (unsigned)epfd >= sk_proc->nfds)
		return -EBADF;
	if (epfd == fd)
		return -EINVAL;
	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	if (sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	ep = ep_lookup(epfd);
	if (op == EPOLL_CTL_ADD && s->kind == SK_CONN) {
		/* the set's home, or this thread's, is where it is served */
		S = sk_place(s, S, ep && ep->home ? ep->home : t->s);
		s->placed = 1; /* (in a set: it stays, moved or not) */
	}
	/* (with S held, no thread holds every lock: ep's home and mixed
	 * stay as read) */
	if (ep && ep->home == S && !ep->mixed) {
		r = ctl_locked(ep, epfd, op, fd, s, ev);
		sk_unlock(S);
		return r;
	}
	sk_unlock(S);
	if (sk_lock_all() < 0)
		return -EBADF;
	s = sk_get(fd);
	r = s ? ctl_locked(ep_lookup(epfd), epfd, op, fd, s, ev) : -EBADF;
	sk_unlock_all();
	return r;
}

/* Each item on the ready list is looked at once: one found not ready, or
 * reported edge-triggered or one-shot, leaves the list (its socket's next
 * change puts it back); a level-triggered one that is ready goes to the
 * back, so with maxevents short of the ready ones each gets its turn. */
int sk_ep_collect(struct sk_ep *ep, struct epoll_event *ev, int max)
{
	unsigned look;
	int n = 0;

	if (ep->mixed) /* (every lock held: changes did not queue its items) */
		for (struct sk_item *it = ep->items; it; it = it->ep_next)
			rdy_push(it);
	look = ep->nrdy;

	while (look-- && n < max) {
		struct sk_item *it = ep->rdy_head;
		uint32_t e;

		rdy_unlink(it);
		if (it->disabled)
			continue;
		e = sk_sock_epoll_events(it->s) & (it->events | ALWAYS);
		if (!e)
			continue;
		if (it->events & EPOLLET) {
			if (it->gen_seen == it->s->gen)
				continue;
			it->gen_seen = it->s->gen;
		}
		if (it->events & EPOLLONESHOT)
			it->disabled = 1;
		else if (!(it->events & EPOLLET))
			rdy_push(it);
		ev[n].events = e;
		ev[n].data = it->data;
		n++;
	}
	return n;
}

int sk_ep_has_items(int epfd)
{
	struct sk_ep *ep = ep_lookup(epfd);

	return ep && __atomic_load_n(&ep->items, __ATOMIC_RELAXED);
}

void sk_epoll_closed(struct sk_thread *t, int epfd)
{
	(void)t;
	ep_forget(epfd);
}
