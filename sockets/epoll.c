/*
 * epoll.c - bypass sockets in the program's epoll sets.
 *
 * A program epoll set stays a kernel epoll instance for its kernel
 * members; its bypass members are items here, checked against the stack
 * on each wait. A dual listener is both: the kernel half in the kernel set,
 * the stack half here, and a wait reports the fd once with both halves'
 * events. Level-triggered by default; EPOLLET reports a socket again only
 * after its readiness changed; EPOLLONESHOT disables it until EPOLL_CTL_MOD.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

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

void sk_items_changed(struct sk_sock *s)
{
	for (struct sk_item *it = s->items; it; it = it->s_next) {
		rdy_push(it);
		sk_thread_wake(it->ep->waiter);
	}
}

void sk_item_remove(struct sk_item *it)
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

/* Forgets the set epfd named (the program closed it, or the number now
 * names a new set). */
static void ep_close_locked(int epfd)
{
	struct sk_ep *ep = (unsigned)epfd < sk_nfds ? sk_eps[epfd] : NULL;

	if (!ep)
		return;
	while (ep->items)
		sk_item_remove(ep->items);
	sk_eps[epfd] = NULL;
	free(ep);
}

/* The shim's record of a program set; a set it did not see created may
 * have kernel members it never counted (kernel_members -1: unknown). */
static struct sk_ep *ep_get(int epfd)
{
	struct sk_ep *ep = sk_eps[epfd];

	if (!ep) {
		ep = calloc(1, sizeof(*ep));
		if (!ep)
			return NULL;
		ep->epfd = epfd;
		ep->kernel_members = -1;
		sk_eps[epfd] = ep;
	}
	return ep;
}

/* The program made an epoll set while the port was up: it starts empty. */
void sk_epoll_created(struct sk_thread *t, int epfd)
{
	struct sk_ep *ep;

	if (sk_in_child() || (unsigned)epfd >= sk_nfds || sk_lock(t->s) < 0)
		return;
	ep_close_locked(epfd);
	ep = ep_get(epfd);
	if (ep)
		ep->kernel_members = 0;
	sk_unlock(t->s);
}

/* A kernel member joined (+1) or left (-1) a program set the shim saw
 * created; with none, a wait need not ask the kernel about the set. */
void sk_epoll_kernel_member(struct sk_thread *t, int epfd, int delta)
{
	struct sk_ep *ep;

	if (sk_in_child() || (unsigned)epfd >= sk_nfds || sk_lock(t->s) < 0)
		return;
	ep = ep_get(epfd);
	if (ep && ep->kernel_members >= 0)
		ep->kernel_members += delta;
	sk_unlock(t->s);
}

int sk_epoll_ctl(struct sk_thread *t, int epfd, int op, int fd, struct epoll_event *ev)
{
	struct sk_sock *s;
	struct sk_ep *ep;
	struct sk_item *it;
	int r = 0;

	if (sk_in_child() || (unsigned)epfd >= sk_nfds)
		return -EBADF;
	if (epfd == fd)
		return -EINVAL;
	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	if (sk_lock(t->s) < 0)
		return -EBADF;
	s = sk_get(fd);
	ep = sk_eps[epfd];
	it = find(ep, s, fd);
	if (!s) {
		r = -EBADF;
		goto out;
	}
	if (s->dual) { /* the kernel half: the kernel checks epfd and op */
		if (accel_real.epoll_ctl(epfd, op, fd, ev) < 0) {
			r = -errno;
			goto out;
		}
		if (op != EPOLL_CTL_MOD && (ep || (ep = ep_get(epfd))) && ep->kernel_members >= 0)
			ep->kernel_members += op == EPOLL_CTL_ADD ? 1 : -1;
	} else if (!ep && accel_real.fcntl(epfd, F_GETFD) < 0) {
		r = -EBADF; /* a set the shim has not seen yet must be open */
		goto out;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it) {
			r = -EEXIST;
			break;
		}
		if (!ep && !(ep = ep_get(epfd))) {
			r = -ENOMEM;
			break;
		}
		it = calloc(1, sizeof(*it));
		if (!it) {
			r = -ENOMEM;
			break;
		}
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
		break;
	case EPOLL_CTL_MOD:
		if (!it) {
			r = -ENOENT;
			break;
		}
		it->events = ev->events;
		it->data = ev->data;
		it->disabled = 0;
		it->gen_seen = s->gen - 1;
		rdy_push(it);
		break;
	case EPOLL_CTL_DEL:
		if (!it)
			r = -ENOENT;
		else
			sk_item_remove(it);
		break;
	default:
		r = -EINVAL;
	}
out:
	sk_unlock(t->s);
	return r;
}

/* Each item on the ready list is looked at once: one found not ready, or
 * reported edge-triggered or one-shot, leaves the list (its socket's next
 * change puts it back); a level-triggered one that is ready goes to the
 * back, so with maxevents short of the ready ones each gets its turn. */
int sk_ep_collect(struct sk_ep *ep, struct epoll_event *ev, int max)
{
	unsigned look = ep->nrdy;
	int n = 0;

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
	return (unsigned)epfd < sk_nfds && sk_eps[epfd] && sk_eps[epfd]->items;
}

void sk_epoll_closed(struct sk_thread *t, int epfd)
{
	if ((unsigned)epfd >= sk_nfds || !sk_eps[epfd])
		return;
	if (sk_in_child() || sk_lock(t->s) < 0) {
		sk_eps[epfd] = NULL;
		return;
	}
	ep_close_locked(epfd);
	sk_unlock(t->s);
}
