/*
 * sock.c - bypass sockets: TCP sockets of the program served by the
 * userspace stack, with the semantics of Linux's.
 *
 * A descriptor keeps naming a real kernel socket, its placeholder, so fd
 * numbers never collide with the kernel's and dup/close/fcntl keep
 * working; what the socket does goes to the stack. A socket bound to the
 * wildcard address listens on both paths: its placeholder is the real
 * kernel listener (localhost clients), the stack listens on the port's
 * address. Every call here runs under the lock of the socket's home
 * stack (sk_lock_sock), so a close racing a use on another thread is a
 * plain ordering of the two.
 *
 * A socket lives on the stack of the thread that made it (an accepted
 * one on its listener's) until its first user, the first thread to do
 * I/O on it or add it to an epoll set, takes it: a connection then moves
 * to that thread's stack (stack_tcp_move), once, and the other stacks
 * steer its frames there (flows.c). memcached's accepting thread thus
 * hands each connection to the worker that serves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "../common/guard.h"
#include "../common/real.h"
#include "opts.h"
#include "sock_impl.h"

/* The socket list's lock counts in sk_busy: a fatal signal never runs
 * the exit's closing on a list this thread is changing. */
static void live_take(void)
{
	pthread_mutex_lock(&sk_proc->live_lock);
	sk_busy++;
}

static void live_give(void)
{
	pthread_mutex_unlock(&sk_proc->live_lock);
	sk_busy_leave();
}

int sk_fds_init(struct sk_fd *fds, unsigned size)
{
	if (!fds)
		return -EINVAL;
	sk_proc->fds = fds;
	sk_proc->nfds = size;
	return 0;
}

struct sk_sock *sk_get(int fd)
{
	return (unsigned)fd < sk_proc->nfds ?
	       __atomic_load_n(&sk_proc->fds[fd].sock, __ATOMIC_ACQUIRE) : NULL;
}

static void fd_set_sock(int fd, struct sk_sock *s)
{
	__atomic_store_n(&sk_proc->fds[fd].sock, s, __ATOMIC_RELEASE);
}

struct sk_sock *sk_get_on(int fd, const struct sk_stack *S)
{
	struct sk_sock *s = sk_get(fd);

	return s && __atomic_load_n(&s->home, __ATOMIC_RELAXED) == S ? s : NULL;
}

int sk_lock_sock(int fd, struct sk_stack **S, struct sk_sock **sp)
{
	for (;;) {
		struct sk_sock *s = sk_get(fd);
		struct sk_stack *h;

		if (!s)
			return -EBADF;
		h = __atomic_load_n(&s->home, __ATOMIC_ACQUIRE);
		if (sk_lock(h) < 0)
			return -ESHUTDOWN;
		if (sk_get_on(fd, h) == s) {
			*S = h;
			*sp = s;
			return 0;
		}
		sk_unlock(h); /* closed, or moved: look again */
	}
}

/* ---- readiness ---------------------------------------------------------- */

/* EPOLL* bits of a socket now. */
uint32_t sk_sock_epoll_events(const struct sk_sock *s)
{
	unsigned e;
	uint32_t r = 0;

	if (s->kind == SK_BOUND)
		return EPOLLOUT | EPOLLWRNORM | EPOLLHUP; /* as an unconnected socket */
	if (!s->c)
		return EPOLLHUP;
	e = stack_tcp_events(s->c);
	if (e & STACK_TCP_EV_IN)
		r |= EPOLLIN | EPOLLRDNORM;
	if (s->kind == SK_LISTEN)
		return r;
	if (e & STACK_TCP_EV_OUT)
		r |= EPOLLOUT | EPOLLWRNORM;
	if (e & STACK_TCP_EV_RDHUP)
		r |= EPOLLRDHUP | EPOLLIN | EPOLLRDNORM;
	if (e & STACK_TCP_EV_HUP)
		r |= EPOLLHUP;
	if (e & STACK_TCP_EV_ERR)
		r |= EPOLLERR;
	return r;
}

/* ---- lifetime ----------------------------------------------------------- */

/* A socket object, fresh or reused (sockets are never freed: a thread may
 * still look at one that another closed, until it has the home's lock).
 * A reused one keeps its old home until the caller sets the new one, so
 * such a look always finds a stack to lock, and then finds the fd moved
 * on. */
static struct sk_sock *sock_alloc(void)
{
	struct sk_stack *home;
	struct sk_sock *s;
	uint32_t life;

	live_take();
	s = sk_proc->spare;
	if (s)
		sk_proc->spare = s->next;
	live_give();
	if (!s)
		return calloc(1, sizeof(*s));
	home = s->home;
	life = s->life;
	memset(s, 0, sizeof(*s));
	s->home = home;
	s->life = life;
	return s;
}

/* Back to the spares: one that was never live. */
static void sock_spare(struct sk_sock *s)
{
	live_take();
	s->next = sk_proc->spare;
	sk_proc->spare = s;
	live_give();
}

static void live_add(struct sk_sock *s)
{
	live_take();
	s->prev = NULL;
	s->next = sk_proc->live;
	if (sk_proc->live)
		sk_proc->live->prev = s;
	sk_proc->live = s;
	live_give();
	__atomic_add_fetch(&sk_proc->nsocks, 1, __ATOMIC_RELAXED);
}

/* A new socket for fd at home on S (locked). */
static struct sk_sock *sock_new(int fd, enum sk_kind kind, struct sk_stack *S)
{
	struct sk_sock *s = sock_alloc();

	if (!s)
		return NULL;
	s->kind = kind;
	s->refs = 1;
	s->home = S;
	s->fd = fd;
	live_add(s);
	fd_set_sock(fd, s);
	return s;
}

int sk_sock_in_mixed(const struct sk_sock *s)
{
	for (const struct sk_item *it = s->items; it; it = it->s_next)
		if (it->ep->mixed)
			return 1;
	return 0;
}

/* The stack lets go of s's listener or connection: a FIN, or a RST with
 * SO_LINGER 0 (or unread data: stack_tcp_close). */
static void sock_release(struct sk_sock *s)
{
	if (s->kind == SK_CONN && s->linger0)
		stack_tcp_abort(s->c);
	else
		stack_tcp_close(s->c);
	s->c = NULL;
}

/*
 * A prefork worker's copy of its group's listener closed (nginx's old
 * workers on a reload) while the group lives on: its queue still gets a
 * share of the new flows until the worker leaves, and the kernel would
 * hand them to a worker that listens (they share one socket there). So
 * the port goes quiet: a SYN to it is dropped rather than refused, the
 * peer sends it again a second later, and by then the worker has left
 * or the flow lands where a listener is (stack_conf.quiet_ports). A
 * listener made on the port again ends it.
 */
static void quiet_port(uint16_t port, int on)
{
	uint8_t bit = (uint8_t)(1u << (port & 7));

	if (on)
		__atomic_or_fetch(&sk_proc->quiet_ports[port >> 3], bit, __ATOMIC_RELAXED);
	else if (__atomic_load_n(&sk_proc->quiet_ports[port >> 3], __ATOMIC_RELAXED) & bit)
		__atomic_and_fetch(&sk_proc->quiet_ports[port >> 3], (uint8_t)~bit,
				   __ATOMIC_RELAXED);
}

void sk_quiet_port(uint16_t port)
{
	quiet_port(port, 1);
}

/* Under the home's lock (every lock if it is in a mixed set). */
static void sock_free(struct sk_sock *s)
{
	sk_thread_wake(s->waiter); /* a call blocked on it looks again */
	s->life++; /* (and sees that it is not its socket any more: wait.c) */
	sk_proc->hooks.sock_unwatch(s); /* (epoll.c) */
	if (s->c) {
		if (s->kind == SK_LISTEN && s->dual && sk_proc->group_lives && !sk_proc->dying &&
		    sk_proc->group_lives())
			quiet_port(s->lport, 1);
		if (s->kind == SK_LISTEN && sk_proc->nstacks > 1)
			sk_flow_listen(s->lport, -1);
		if (s->kind == SK_LISTEN)
			sk_share_listen(s->lport, 0);
		sock_release(s);
	}
	live_take();
	if (s->prev)
		s->prev->next = s->next;
	else
		sk_proc->live = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = sk_proc->spare;
	sk_proc->spare = s;
	live_give();
	__atomic_sub_fetch(&sk_proc->nsocks, 1, __ATOMIC_RELAXED);
}

/* The process is exiting: as the kernel does for a dying process's
 * sockets, close every connection (a FIN, or a RST where data was left
 * unread), and run the stacks until the closed ones are done with their
 * peers (or SK_EXIT_DRAIN_NS): the kernel would finish them after the
 * process, nobody finishes ours. Every lock held. */
void sk_socks_exit(void)
{
	uint64_t until = sk_now() + SK_EXIT_DRAIN_NS, until_moved = sk_now() + SK_EXIT_MOVE_NS;
	unsigned closing, waiting;

	live_take();
	for (struct sk_sock *s = sk_proc->live; s; s = s->next)
		if (s->c) {
			if (s->kind == SK_LISTEN) /* (its queue may go to a sibling) */
				sk_share_listen(s->lport, 0);
			sock_release(s);
		}
	live_give();
	/* (and a closed listener's connections that wait for a sibling to
	 * take them: a reload's new worker still starting, tcp_move.c) */
	do {
		closing = waiting = 0;
		for (unsigned i = 0; i < sk_proc->nstacks; i++) {
			stack_poll(sk_proc->stacks[i].st);
			closing += stack_tcp_closing(sk_proc->stacks[i].st);
			waiting += stack_tcp_move_waiting(sk_proc->stacks[i].st);
		}
	} while ((closing && sk_now() < until) || (waiting && sk_now() < until_moved));
}

static size_t sock_line(const struct sk_sock *s, unsigned stack, char *buf, size_t len)
{
	struct stack_tcp_info i;
	int n;

	stack_tcp_info(s->c, &i);
	n = snprintf(buf, len,
		     "sock fd=%d stack=%u state=%s local=%u.%u.%u.%u:%u remote=%u.%u.%u.%u:%u "
		     "recv_q=%u send_q=%u bytes_received=%u bytes_acked=%u cwnd=%u mss=%u "
		     "srtt_us=%llu rttvar_us=%llu retransmits=%u\n",
		     s->fd, stack, i.state, i.lip >> 24, (i.lip >> 16) & 255,
		     (i.lip >> 8) & 255, i.lip & 255, i.lport, i.rip >> 24,
		     (i.rip >> 16) & 255, (i.rip >> 8) & 255, i.rip & 255, i.rport,
		     i.recv_q, i.send_q, i.bytes_received, i.bytes_acked, i.cwnd, i.mss,
		     (unsigned long long)(i.srtt_ns / 1000),
		     (unsigned long long)(i.rttvar_ns / 1000), i.retransmits);
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

size_t sk_socks_format(const struct sk_stack *S, char *buf, size_t len)
{
	size_t n = 0, k = 1;

	live_take();
	for (struct sk_sock *s = sk_proc->live; s && k; s = s->next)
		if (s->c && __atomic_load_n(&s->home, __ATOMIC_RELAXED) == S) {
			k = sock_line(s, S->idx, buf + n, len - n);
			n += k;
		}
	live_give();
	return n;
}

void sk_socks_die(unsigned held, uint64_t until)
{
	while (pthread_mutex_trylock(&sk_proc->live_lock) != 0) {
		if (sk_now() >= until)
			return;
		sched_yield();
	}
	for (struct sk_sock *s = sk_proc->live; s; s = s->next)
		if (s->c && (held & (1u << __atomic_load_n(&s->home, __ATOMIC_RELAXED)->idx)))
			sock_release(s);
	pthread_mutex_unlock(&sk_proc->live_lock);
}

/* Moves s's connection from S to `to`, both locked: 0, or < 0 and it
 * stays (the table is full, or `to` has the 4-tuple in TIME_WAIT). */
static int move_to(struct sk_sock *s, struct sk_stack *to)
{
	uint32_t lip, rip;
	uint16_t lport, rport;

	stack_tcp_endpoints(s->c, &lip, &lport, &rip, &rport);
	if (sk_flow_set(rip, rport, lport, to->idx) < 0)
		return -ENOSPC;
	if (stack_tcp_move(s->c, to->st) < 0) {
		sk_flow_del(rip, rport, lport, (int)to->idx);
		return -EEXIST;
	}
	__atomic_add_fetch(&sk_proc->counters.handoffs, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->home, to, __ATOMIC_RELEASE);
	return 0;
}

struct sk_stack *sk_place(struct sk_sock *s, struct sk_stack *S, struct sk_stack *to)
{
	if (s->placed || s->kind != SK_CONN)
		return S;
	if (to == S || !s->c) {
		s->placed = 1;
		return S;
	}
	/* (a try: a thread holds one lock but this way; the next use tries
	 * again while the other thread has `to`) */
	if (sk_trylock(to) < 0)
		return S;
	s->placed = 1;
	if (move_to(s, to) < 0) {
		sk_unlock(to);
		return S;
	}
	sk_unlock(S);
	return to;
}

void sk_place_all_locked(struct sk_sock *s, struct sk_stack *to)
{
	if (s->placed || s->kind != SK_CONN)
		return;
	s->placed = 1;
	if (s->c && s->home != to)
		move_to(s, to);
}

/* The program's options on the placeholder, onto the connection. */
static void apply_opts(struct sk_sock *s, int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);
	struct linger lg;

	if (accel_real.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0)
		stack_tcp_setopt(s->c, STACK_TCP_NODELAY, v);
	len = sizeof(v);
	if (accel_real.getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v) {
		int idle = 0, intvl = 0, cnt = 0;

		len = sizeof(v);
		accel_real.getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
		accel_real.getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, &len);
		accel_real.getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, &len);
		if (idle)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPIDLE, idle);
		if (intvl)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPINTVL, intvl);
		if (cnt)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPCNT, cnt);
		stack_tcp_setopt(s->c, STACK_TCP_KEEPALIVE, 1);
	}
	len = sizeof(lg);
	if (accel_real.getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0)
		s->linger0 = lg.l_onoff && !lg.l_linger;
}

/* ---- calls ------------------------------------------------------------- */

int sk_route(struct sk_thread *t, uint32_t ip)
{
	struct sk_stack *S = t->s;

	/* The port's own address is the stack's: it serves such a connect
	 * itself, through its loopback (stack.c), whether the program's
	 * listener is there or not (refused at once, as Linux's lo). The
	 * kernel has no such address: it would send the SYN out through the
	 * tap, if it has a route at all, to a stack the caller, blocked in
	 * the kernel, no longer polls. */
	if (ip == S->ip)
		return 1;
	if ((ip >> 24) == 127 || ip == 0 || ip == 0xffffffffu)
		return 0;
	if ((ip & S->mask) == (S->ip & S->mask))
		return 1;
	return S->gateway != 0;
}

uint32_t sk_port_ip(struct sk_thread *t)
{
	return t->s->ip;
}

/* A socket option (SOL_SOCKET, an int) as the program set it on the
 * placeholder. */
static int opt_on(int fd, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return accel_real.getsockopt(fd, SOL_SOCKET, name, &v, &len) == 0 && v;
}

static int reuseport(int fd)
{
	return opt_on(fd, SO_REUSEPORT);
}

/*
 * Linux's bind conflict rule (inet_csk_bind_conflict) among the bypass
 * sockets: each is on the port's address or the wildcard, so any two on
 * one port overlap, and they clash unless both have SO_REUSEADDR and the
 * one there does not listen, or both have SO_REUSEPORT (one user: the
 * uid rule holds). The fields read are set at bind and listen; a socket
 * changing them at this moment is ordered either way, as on Linux.
 */
static int port_taken(uint16_t port, int reuseaddr, int reuse_port)
{
	int taken = 0;

	live_take();
	for (struct sk_sock *s = sk_proc->live; s && !taken; s = s->next) {
		if (s->lport != port || s->kind == SK_CONN)
			continue;
		taken = !(reuseaddr && s->reuseaddr && s->kind != SK_LISTEN) &&
			!(reuse_port && s->reuseport);
	}
	live_give();
	return taken;
}

int sk_port_free(struct sk_thread *t, int fd, uint16_t port)
{
	(void)t;
	if (sk_in_child())
		return -EBADF;
	return port && port_taken(port, opt_on(fd, SO_REUSEADDR), reuseport(fd)) ?
	       -EADDRINUSE : 0;
}

int sk_bind(struct sk_thread *t, int fd, uint32_t ip, uint16_t port, int dual)
{
	struct sk_sock *s = NULL;
	int r = -EINVAL; /* bound already (Linux: inet_num is set) */

	if (sk_in_child() || sk_lock(t->s) < 0)
		return -EBADF;
	if (!sk_get(fd) && (dual || (r = sk_port_free(t, fd, port)) == 0)) {
		s = sock_new(fd, SK_BOUND, t->s);
		r = s ? 0 : -ENOMEM;
	}
	if (r == 0) {
		s->lip = ip;
		s->lport = port;
		s->dual = (uint8_t)dual;
		s->nonblock = (accel_real.fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
		s->reuseaddr = (uint8_t)opt_on(fd, SO_REUSEADDR);
		s->reuseport = (uint8_t)reuseport(fd);
	}
	sk_unlock(t->s);
	return r;
}

int sk_listen(struct sk_thread *t, int fd, int backlog)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	r = 0;
	if (s->kind == SK_LISTEN) { /* a new backlog only */
		if (s->dual && accel_real.listen(fd, backlog) < 0)
			r = -errno;
		goto out;
	}
	r = -EINVAL;
	if (s->kind != SK_BOUND)
		goto out;
	/* a dual socket listens in the kernel too: its errors come first */
	if (s->dual && accel_real.listen(fd, backlog) < 0) {
		r = -errno;
		goto out;
	}
	if (backlog < 0 || backlog > 4096)
		backlog = 4096; /* Linux's somaxconn */
	r = stack_tcp_listen_flags(S->st, s->lport, backlog ? backlog : 1,
				   reuseport(fd) ? STACK_TCP_REUSEPORT : 0, s, &s->c);
	if (r < 0)
		goto out;
	s->kind = SK_LISTEN;
	quiet_port(s->lport, 0);
	if (sk_proc->nstacks > 1) /* a SYN that reaches another stack comes here */
		sk_flow_listen(s->lport, (int)S->idx);
	sk_share_listen(s->lport, 1); /* (and one that reaches another process) */
	apply_opts(s, fd);
	if (s->dual) /* the kernel half is polled, never waited on */
		accel_real.fcntl(fd, F_SETFL, accel_real.fcntl(fd, F_GETFL) | O_NONBLOCK);
out:
	sk_unlock(S);
	return r;
}

static void fill_addr(struct sockaddr *addr, socklen_t *len, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };

	if (!addr || !len)
		return;
	memcpy(addr, &a, *len < sizeof(a) ? *len : sizeof(a));
	*len = sizeof(a);
}

/* A connection taken off the listener's queue (on S) gets a placeholder
 * fd. */
static int accept_stack(struct sk_stack *S, struct sk_sock *l, struct sockaddr *addr,
			socklen_t *len, int flags)
{
	struct stack_tcp *c;
	struct sk_sock *s;
	uint32_t lip, rip;
	uint16_t lport, rport;
	int nfd, one = 1;

	if (!(stack_tcp_events(l->c) & STACK_TCP_EV_IN))
		return -EAGAIN; /* (a non-blocking accept loop ends here) */
	s = sock_alloc();
	if (!s)
		return -ENOMEM;
	if (stack_tcp_accept(l->c, s, &c) < 0) {
		sock_spare(s);
		return -EAGAIN;
	}
	nfd = accel_real.socket(AF_INET, SOCK_STREAM | (flags & SOCK_CLOEXEC), 0);
	if (nfd < 0 || (unsigned)nfd >= sk_proc->nfds) {
		int e = nfd < 0 ? errno : EMFILE;

		if (nfd >= 0)
			accel_real.close(nfd);
		stack_tcp_abort(c);
		sock_spare(s);
		return -e;
	}
	/* A Linux child inherits its listener's options. The stack's child
	 * has them already (listen_input); the placeholder gets those the
	 * program may read back, and the socket its linger. */
	if (stack_tcp_getopt(c, STACK_TCP_NODELAY) > 0)
		accel_real.setsockopt(nfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (stack_tcp_getopt(c, STACK_TCP_KEEPALIVE) > 0)
		accel_real.setsockopt(nfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->linger0 = l->linger0;
	s->kind = SK_CONN;
	s->refs = 1;
	s->c = c;
	s->home = S;
	s->nonblock = (flags & SOCK_NONBLOCK) != 0;
	s->fd = nfd;
	live_add(s);
	fd_set_sock(nfd, s);
	__atomic_add_fetch(&sk_proc->counters.bypass_accepts, 1, __ATOMIC_RELAXED);
	stack_tcp_endpoints(c, &lip, &lport, &rip, &rport);
	fill_addr(addr, len, rip, rport);
	return nfd;
}

int sk_accept(struct sk_thread *t, int fd, struct sockaddr *addr, socklen_t *len,
	      int flags, int *kernel)
{
	struct sk_stack *S;
	struct sk_sock *s;
	struct sk_call call = SK_CALL_BEGIN; /* (sk_wait_sock) */
	int r, polled = 0;

	*kernel = 0;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	for (;;) {
		s = sk_get_on(fd, S);
		r = -EBADF;
		if (!s)
			break;
		r = -EINVAL;
		if (s->kind != SK_LISTEN || !s->c)
			break;
		r = accept_stack(S, s, addr, len, flags);
		if (r != -EAGAIN)
			break;
		if (s->dual) {
			r = accel_real.accept4(fd, addr, len, flags);
			if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				r = r >= 0 ? r : -errno;
				*kernel = 1;
				if (r >= 0)
					__atomic_add_fetch(&sk_proc->counters.kernel_accepts, 1,
							   __ATOMIC_RELAXED);
				break;
			}
			r = -EAGAIN;
		}
		if (!polled++) {
			sk_poll_stack(t, S);
			continue;
		}
		if (s->nonblock)
			break;
		r = sk_proc->hooks.wait_sock(t, S, fd, STACK_TCP_EV_IN, s->dual ? fd : -1,
				       SO_RCVTIMEO, &call);
		if (r == -ESHUTDOWN)
			return r; /* the lock is not held */
		if (r < 0)
			break;
	}
	sk_sleep_unmask(t); /* (sk_wait_sock blocked them: wait.c) */
	sk_unlock(S);
	return r;
}

/* A connection whose port does not tell its stack (flows.c: the program
 * bound it) is found through the table of 4-tuples. */
static void connect_route(struct sk_stack *S, struct stack_tcp *c)
{
	uint32_t lip, rip;
	uint16_t lport, rport;

	if (sk_proc->nstacks < 2)
		return;
	stack_tcp_endpoints(c, &lip, &lport, &rip, &rport);
	if (sk_flow_target(rip, rport, lport, 0, -1) == (int)S->idx)
		return;
	if (sk_flow_set(rip, rport, lport, S->idx) == 0)
		stack_tcp_watch(c);
}

int sk_connect(struct sk_thread *t, int fd, uint32_t ip, uint16_t port)
{
	struct sk_stack *S;
	struct sk_sock *s;
	struct sk_call call = SK_CALL_BEGIN; /* (sk_wait_sock) */
	int r, err;

	if (sk_in_child())
		return -EBADF;
	r = sk_lock_sock(fd, &S, &s);
	if (r == -ESHUTDOWN)
		return -EBADF;
	if (r < 0) { /* a socket the program never bound: on this thread's stack */
		S = t->s;
		if (sk_lock(S) < 0)
			return -EBADF;
		s = sk_get(fd) ? NULL : sock_new(fd, SK_BOUND, S);
		if (!s) {
			sk_unlock(S);
			return sk_get(fd) ? -EALREADY : -ENOMEM; /* (another thread's connect) */
		}
		s->nonblock = (accel_real.fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
	}
	if (s->kind == SK_CONN && !s->c) {
		r = -EBADF;
		goto out;
	}
	if (s->kind == SK_CONN) {
		const char *st = stack_tcp_state(s->c);

		err = stack_tcp_error(s->c);
		r = err ? err : !strcmp(st, "SYN-SENT") ? -EALREADY : -EISCONN;
		/* A blocking socket still connecting waits for the handshake
		 * again, as Linux's __inet_stream_connect does: that is how a
		 * connect restarted after a signal (SA_RESTART) ends. */
		if (r != -EALREADY || s->nonblock)
			goto out;
		goto wait;
	}
	r = -EISCONN;
	if (s->kind == SK_LISTEN)
		goto out;
	r = stack_tcp_connect(S->st, ip, port, s->lport, s, &s->c);
	if (r < 0)
		goto out;
	s->kind = SK_CONN;
	s->dual = 0;
	s->placed = 1; /* (its stack is the connecting thread's, or the binder's) */
	connect_route(S, s->c);
	sk_share_connect(s->c); /* (its replies, should they reach another process) */
	__atomic_add_fetch(&sk_proc->counters.bypass_connects, 1, __ATOMIC_RELAXED);
	apply_opts(s, fd);
	r = -EINPROGRESS;
	if (s->nonblock)
		goto out;
wait:
	for (;;) {
		s = sk_get_on(fd, S);
		if (!s || !s->c) {
			r = -EBADF;
			break;
		}
		if (stack_tcp_events(s->c) & (STACK_TCP_EV_OUT | STACK_TCP_EV_ERR |
					      STACK_TCP_EV_HUP)) {
			r = stack_tcp_error(s->c);
			break;
		}
		r = sk_proc->hooks.wait_sock(t, S, fd,
				       STACK_TCP_EV_OUT | STACK_TCP_EV_ERR | STACK_TCP_EV_HUP, -1,
				       SO_SNDTIMEO, &call);
		if (r == -ESHUTDOWN)
			return r;
		if (r < 0) {
			r = r == -EAGAIN ? -EINPROGRESS : r; /* (SO_SNDTIMEO, as Linux) */
			break;
		}
	}
out:
	sk_sleep_unmask(t); /* (sk_wait_sock blocked them: wait.c) */
	sk_unlock(S);
	return r;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* One piece of a move, run under a fault guard (common/guard.h). The
 * stack's send and recv touch the program's buffer only in the memcpy
 * that comes before they change any state, and take no lock: a fault
 * abandons the call with the connection as it was, nothing sent and
 * nothing consumed (Linux too leaves the segment it could not copy in
 * the queue: tcp_recvmsg). */
struct move_piece {
	struct stack_tcp *c;
	char *p;
	size_t n;
	unsigned flags;
	int send, peek;
};

static long move_piece_fn(void *a)
{
	struct move_piece *m = a;

	return m->send ? stack_tcp_send_flags(m->c, m->p, m->n, m->flags) :
			 stack_tcp_recv(m->c, m->p, m->n, m->peek);
}

/*
 * Linux copies a vectored call's bytes a chunk at a time across the
 * vectors, and a fault in a chunk takes none of it: on receive a chunk
 * is a segment (skb), nothing of it consumed (tcp_recvmsg); on send it is
 * what goes into one page fragment, 32 KiB at most (tcp_sendmsg,
 * SKB_FRAG_PAGE_ORDER), and a fault there sends nothing of it. The shim
 * moves a vector at a time, so before it moves any it probes the vectors
 * for what it may move now (what is readable, on receive, at most
 * SK_SEND_CHUNK on send): a fault there is -EFAULT with nothing moved,
 * and the vectors it covered move without a guard each (many small
 * vectors, as memcached's sendmsg: one guard, not one a vector). (One
 * buffer needs no probe: its copy is one piece, which moves whole or not
 * at all.) What Linux leaves in a receive's vectors before the one
 * that faults is there too: a peek fills the first (a peek moves no
 * further, and the fault tells the program nothing of the rest).
 */
#define SK_SEND_CHUNK 32768

/*
 * Moves bytes between the connection and iov, from byte *done of the
 * vectors on, until one is not filled (or emptied) whole; *done grows by
 * what moved. Returns the stack call's last result: > 0, 0 (end of file),
 * -EAGAIN (for a send: the buffer is full), -EFAULT (a bad buffer: the
 * callers return what moved before it, as Linux does) or the
 * connection's error.
 */
static long iov_move(struct stack_tcp *c, const struct iovec *iov, int cnt, size_t *done,
		     int send, int peek)
{
	size_t base = 0, safe = 0;
	long r = 0;
	int last = cnt - 1;

	while (last > 0 && !iov[last].iov_len)
		last--; /* (sends: the pieces before it are sent as one) */
	if (cnt > 1) {
		size_t n = send ? SK_SEND_CHUNK : stack_tcp_readable(c), first = *done;

		if (accel_probe_iov(iov, cnt, *done, n, !send) < 0) {
			if (!send && !peek)
				iov_move(c, iov, 1, &first, 0, 1); /* (see above) */
			return -EFAULT;
		}
		safe = *done + n;
	}
	for (int i = 0; i < cnt; base += iov[i++].iov_len) {
		size_t len = iov[i].iov_len, off;
		char *p = iov[i].iov_base;

		if (*done >= base + len)
			continue; /* moved already (or empty) */
		off = *done - base;
		struct move_piece m = { c, p + off, len - off, i < last ? STACK_TCP_MORE : 0,
					send, peek };

		r = base + len <= safe ? move_piece_fn(&m) : accel_guarded(move_piece_fn, &m, m.p, m.n);
		if (r <= 0)
			return r;
		*done += (size_t)r;
		if ((size_t)r < len - off || peek) /* peek: no offset to go on from */
			return send ? -EAGAIN : r;
	}
	return r;
}

/*
 * recv(MSG_OOB). The stack keeps no urgent mark: an urgent byte a peer
 * sends stays in the stream, as SO_OOBINLINE would keep it. So this is
 * Linux's answer when there is no mark (tcp_recv_urg): EINVAL, the data
 * left where it is; a listener says ENOTCONN first (tcp_recvmsg_locked).
 */
static ssize_t oob_recv(const struct sk_sock *s)
{
	return s->kind == SK_LISTEN ? -ENOTCONN : -EINVAL;
}

ssize_t sk_recv(struct sk_thread *t, int fd, const struct iovec *iov, int cnt, int flags)
{
	size_t want = iov_total(iov, cnt), got = 0;
	int peek = !!(flags & MSG_PEEK), polled = 0;
	char none;
	struct sk_stack *S;
	struct sk_sock *s;
	struct sk_call call = SK_CALL_BEGIN; /* (sk_wait_sock) */
	ssize_t r = 0;

	if (sk_in_child())
		return -EBADF;
	r = sk_lock_sock(fd, &S, &s);
	if (r < 0)
		return r;
	S = sk_place(s, S, t->s);
	for (;;) {
		s = sk_get_on(fd, S);
		if (!s) {
			r = got ? (ssize_t)got : -EBADF;
			break;
		}
		if (flags & MSG_OOB) {
			r = oob_recv(s);
			break;
		}
		if (s->kind != SK_CONN || !s->c) { /* (no c: closed at exit) */
			r = -ENOTCONN;
			break;
		}
		/* (a read of nothing is 0 where there is data or EOF, and
		 * otherwise waits or says EAGAIN like any other: tcp_recvmsg) */
		r = want ? iov_move(s->c, iov, cnt, &got, 0, peek) :
			   stack_tcp_recv(s->c, &none, 0, 1);
		/* MSG_WAITALL waits for all of it, unless EOF or an error
		 * (reported by the next call) cuts it short */
		if (got && (!(flags & MSG_WAITALL) || got == want || peek ||
			    (r <= 0 && r != -EAGAIN))) {
			r = (ssize_t)got;
			break;
		}
		if (r == 0 || (r < 0 && r != -EAGAIN))
			break; /* end of file, or the connection's error */
		if (!polled++) { /* one look at the queue before saying EAGAIN */
			sk_poll_stack(t, S);
			continue;
		}
		if (s->nonblock || (flags & MSG_DONTWAIT)) {
			r = got ? (ssize_t)got : -EAGAIN;
			break;
		}
		r = sk_proc->hooks.wait_sock(t, S, fd,
				       STACK_TCP_EV_IN | STACK_TCP_EV_RDHUP | STACK_TCP_EV_HUP |
				       STACK_TCP_EV_ERR, -1, SO_RCVTIMEO, &call);
		if (r == -ESHUTDOWN)
			return got ? (ssize_t)got : r;
		if (r < 0) {
			r = got ? (ssize_t)got : r;
			break;
		}
	}
	sk_sleep_unmask(t); /* (sk_wait_sock blocked them: wait.c) */
	sk_unlock(S);
	return r;
}

ssize_t sk_send(struct sk_thread *t, int fd, const struct iovec *iov, int cnt, int flags)
{
	size_t want = iov_total(iov, cnt), sent = 0;
	struct sk_stack *S;
	struct sk_sock *s;
	struct sk_call call = SK_CALL_BEGIN; /* (sk_wait_sock) */
	ssize_t r = 0;

	if (sk_in_child())
		return -EBADF;
	r = sk_lock_sock(fd, &S, &s);
	if (r < 0)
		return r;
	S = sk_place(s, S, t->s);
	for (;;) {
		s = sk_get_on(fd, S);
		if (!s) {
			r = sent ? (ssize_t)sent : -EBADF;
			break;
		}
		if (s->kind != SK_CONN || !s->c) {
			r = -EPIPE;
			break;
		}
		/* Linux sends MSG_OOB data with the URG flag and pointer (RFC
		 * 9293 3.8.5, tcp_mark_urg); the stack has no urgent pointer to
		 * send, and its bytes passed as plain data would reach a Linux
		 * peer as stream data where it expects one out of band. So the
		 * call is refused as for a socket without urgent data at all
		 * (send(2): EOPNOTSUPP), and the stream stays what was sent. */
		if (flags & MSG_OOB) {
			r = sent ? (ssize_t)sent : -EOPNOTSUPP;
			break;
		}
		/* (a connection still in its handshake takes nothing: -EAGAIN,
		 * and a blocking send waits for it, as on Linux) */
		r = iov_move(s->c, iov, cnt, &sent, 1, 0);
		if (sent == want) {
			r = (ssize_t)sent;
			break;
		}
		if (r < 0 && r != -EAGAIN) {
			r = sent ? (ssize_t)sent : r;
			break;
		}
		if (s->nonblock || (flags & MSG_DONTWAIT)) {
			r = sent ? (ssize_t)sent : -EAGAIN;
			break;
		}
		r = sk_proc->hooks.wait_sock(t, S, fd,
				       STACK_TCP_EV_OUT | STACK_TCP_EV_ERR | STACK_TCP_EV_HUP, -1,
				       SO_SNDTIMEO, &call);
		if (r == -ESHUTDOWN)
			return sent ? (ssize_t)sent : r;
		if (r < 0) {
			r = sent ? (ssize_t)sent : r;
			break;
		}
	}
	sk_sleep_unmask(t); /* (sk_wait_sock blocked them: wait.c) */
	sk_unlock(S);
	return r;
}

int sk_shutdown(struct sk_thread *t, int fd, int how)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	if (how < SHUT_RD || how > SHUT_RDWR)
		r = -EINVAL;
	else if (s->kind != SK_CONN || !s->c)
		r = -ENOTCONN;
	else
		r = stack_tcp_shutdown(s->c, how);
	sk_unlock(S);
	return r;
}

/* Drops fd's name for s (its home S locked); the last one closes it. A
 * socket in a set with members on other stacks needs every lock for
 * that: 1 means ask again with them. */
static int sock_unref(int fd, struct sk_sock *s, int all_locked)
{
	if (s->refs == 1 && !all_locked && sk_sock_in_mixed(s))
		return 1;
	fd_set_sock(fd, NULL);
	if (--s->refs == 0)
		sock_free(s);
	return 0;
}

/* Drops fd's name for its socket; the last one closes the connection. */
void sk_close(struct sk_thread *t, int fd)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r;

	(void)t;
	if ((unsigned)fd >= sk_proc->nfds)
		return;
	if (sk_in_child()) { /* the parent's: never touch its stack */
		fd_set_sock(fd, NULL);
		return;
	}
	r = sk_lock_sock(fd, &S, &s);
	if (r == -ESHUTDOWN)
		fd_set_sock(fd, NULL);
	if (r < 0)
		return;
	r = sock_unref(fd, s, 0);
	sk_unlock(S);
	if (r && sk_lock_all() == 0) {
		if ((s = sk_get(fd)) != NULL)
			sock_unref(fd, s, 1);
		sk_unlock_all();
	}
}

int sk_dup(struct sk_thread *t, int oldfd, int newfd)
{
	struct sk_stack *S;
	struct sk_sock *s;

	if (sk_in_child() || (unsigned)newfd >= sk_proc->nfds)
		return -EBADF;
	sk_close(t, newfd); /* (the kernel closed newfd's placeholder) */
	if (sk_lock_sock(oldfd, &S, &s) < 0)
		return -EBADF;
	s->refs++;
	fd_set_sock(newfd, s);
	sk_unlock(S);
	return 0;
}

int sk_nonblock(struct sk_thread *t, int fd, int set)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	if (set >= 0)
		s->nonblock = (uint8_t)!!set;
	/* a dual listener's kernel half is polled, never waited on: it stays
	 * non-blocking whatever the program sets */
	if (set == 0 && s->dual && s->kind == SK_LISTEN)
		accel_real.fcntl(fd, F_SETFL, accel_real.fcntl(fd, F_GETFL) | O_NONBLOCK);
	r = s->nonblock;
	sk_unlock(S);
	return r;
}

int sk_getsockopt(struct sk_thread *t, int fd, int level, int name, void *val,
		  socklen_t *len)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r = 1, v = 0;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	if (level == SOL_SOCKET && name == SO_ERROR) {
		v = s->c && s->kind == SK_CONN ? -stack_tcp_error(s->c) : 0;
	} else if (level == SOL_SOCKET && name == SO_ACCEPTCONN) {
		v = s->kind == SK_LISTEN;
	} else {
		r = 0; /* the placeholder holds the rest */
	}
	sk_unlock(S);
	if (r == 1) {
		if (!val || !len || *len < sizeof(int))
			return -EINVAL;
		memcpy(val, &v, sizeof(v));
		*len = sizeof(v);
	}
	return r;
}

void sk_setsockopt(struct sk_thread *t, int fd, int level, int name, const void *val,
		   socklen_t len)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int v = 0;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return;
	if (val && len >= sizeof(int))
		memcpy(&v, val, sizeof(v));
	if (s && s->c) { /* a listener passes them on to its children */
		if (level == IPPROTO_TCP && name == TCP_NODELAY)
			stack_tcp_setopt(s->c, STACK_TCP_NODELAY, !!v);
		else if (level == SOL_SOCKET && name == SO_KEEPALIVE)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPALIVE, !!v);
		else if (level == IPPROTO_TCP && name == TCP_KEEPIDLE)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPIDLE, v);
		else if (level == IPPROTO_TCP && name == TCP_KEEPINTVL)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPINTVL, v);
		else if (level == IPPROTO_TCP && name == TCP_KEEPCNT)
			stack_tcp_setopt(s->c, STACK_TCP_KEEPCNT, v);
		else if (level == SOL_SOCKET && name == SO_SNDBUF)
			stack_tcp_setopt(s->c, STACK_TCP_SNDBUF, v * 2); /* as Linux */
		else if (level == SOL_SOCKET && name == SO_RCVBUF)
			stack_tcp_setopt(s->c, STACK_TCP_RCVBUF, v * 2);
	}
	if (level == SOL_SOCKET && name == SO_REUSEADDR)
		s->reuseaddr = !!v;
	else if (level == SOL_SOCKET && name == SO_REUSEPORT)
		s->reuseport = !!v;
	if (s && level == SOL_SOCKET && name == SO_LINGER && val &&
	    len >= sizeof(struct linger)) {
		const struct linger *lg = val;

		s->linger0 = lg->l_onoff && !lg->l_linger;
	}
	sk_unlock(S);
}

int sk_name(struct sk_thread *t, int fd, int peer, struct sockaddr *addr, socklen_t *len)
{
	struct sk_stack *S;
	struct sk_sock *s;
	uint32_t lip = 0, rip = 0;
	uint16_t lport = 0, rport = 0;
	int r = 0;

	(void)t;
	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	if (s->dual && s->kind != SK_CONN)
		r = 1; /* the kernel listener's own answer */
	else if (s->kind == SK_CONN && s->c)
		stack_tcp_endpoints(s->c, &lip, &lport, &rip, &rport);
	else if (s->kind == SK_CONN)
		r = -ENOTCONN;
	else if (peer)
		r = -ENOTCONN;
	else {
		lip = s->lip;
		lport = s->lport;
	}
	sk_unlock(S);
	if (r == 0) {
		if (!addr || !len)
			return -EFAULT;
		if (peer)
			fill_addr(addr, len, rip, rport);
		else
			fill_addr(addr, len, lip, lport);
	}
	return r;
}

int sk_ioctl(struct sk_thread *t, int fd, unsigned long req, int *out)
{
	struct sk_stack *S;
	struct sk_sock *s;
	int r = 0;

	if (sk_in_child() || sk_lock_sock(fd, &S, &s) < 0)
		return -EBADF;
	if (req == FIONREAD) {
		if (s->kind == SK_LISTEN) {
			r = -EINVAL;
		} else {
			/* frames the port holds have arrived, as far as the
			 * program can tell: one look at the queue first, as
			 * recv takes before it says EAGAIN */
			if (s->c && !stack_tcp_readable(s->c))
				sk_poll_stack(t, S);
			*out = s->c ? (int)stack_tcp_readable(s->c) : 0;
		}
	} else if (req == TIOCOUTQ) {
		if (s->kind == SK_LISTEN)
			r = -EINVAL;
		else
			*out = s->c ? (int)stack_tcp_unacked(s->c) : 0;
	} else {
		r = 1; /* not ours */
	}
	sk_unlock(S);
	return r;
}

/* A forked child closing a bypass descriptor: forget it, touch nothing. */
void sk_close_child(int fd)
{
	if ((unsigned)fd < sk_proc->nfds)
		fd_set_sock(fd, NULL);
}
