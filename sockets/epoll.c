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

static struct sk_item *find(struct sk_ep *ep, int fd)
{
	for (struct sk_item *it = ep ? ep->items : NULL; it; it = it->ep_next)
		if (it->fd == fd)
			return it;
	return NULL;
}

void sk_item_remove(struct sk_item *it)
{
	struct sk_item **pp;

	for (pp = &it->ep->items; *pp && *pp != it; pp = &(*pp)->ep_next)
		;
	if (*pp)
		*pp = it->ep_next;
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
	it = find(ep, fd);
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
		ep->items = it;
		it->s_next = s->items;
		s->items = it;
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

int sk_ep_collect(struct sk_ep *ep, struct epoll_event *ev, int max)
{
	int n = 0;

	for (struct sk_item *it = ep->items; it && n < max; it = it->ep_next) {
		uint32_t e;

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
