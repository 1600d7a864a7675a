/*
 * test_tcp_timer.c - the timers that end a connection (stack/tcp_timer.c)
 * and what a connection's end leaves behind (tcp.h: who holds a
 * connection, and when it is freed).
 *
 * Every way a connection gives up - SYN and SYN-ACK retries, ARP, data
 * retries, keepalive, TIME-WAIT and orphaned FIN-WAIT-2 expiry, and a RST
 * - is run three ways where it can happen: with nobody but the stack
 * holding the connection (a half-open child, an orphan), with the program
 * still holding it (the handle must stay usable, and stack_destroy must
 * free it), and with the program closing it from the very callback that
 * reports the error. Each test checks the give-up's timing and error,
 * that the connection left the stack's tables, and (white box, tcp.h)
 * that it was freed exactly when nobody held it any more; built with
 * -fsanitize=address (make unit-san) a connection read after it was
 * freed, or never freed, also fails the suite.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "../../stack/opts.h"
#include "../../stack/stack.h"
#include "../../stack/tcp.h" /* white box: the tables and the lists */
#include "tcplink.h"

#define MS LINK_MS
#define SEC TEST_NS_PER_S
#define PORT 80
#define APORT 40000 /* A's port, so a test can ask for its tuple again */
#define IP_NOBODY TEST_IP4(10, 0, 0, 9)

/* ---- fixture ----------------------------------------------------------- */

static int teardown(void **state)
{
	struct tcplink *l = *state;

	if (l) {
		if (l->log)
			link_fini(l);
		free(l);
	}
	return 0;
}

static struct tcplink *lk_new(void **state, uint64_t seed)
{
	struct tcplink *l = malloc(sizeof(*l));

	assert_non_null(l);
	link_init(l, seed);
	*state = l;
	l->side[0].imp.delay_ns = l->side[1].imp.delay_ns = MS;
	assert_true(link_start(l));
	return l;
}

/* Both stacks gone (with whatever they still held), every buffer back. */
static void finish(struct tcplink *l)
{
	assert_int_equal(link_fini(l), 0);
}

static struct stack *A(struct tcplink *l)
{
	return link_st(l, LINK_A);
}

static struct stack *B(struct tcplink *l)
{
	return link_st(l, LINK_B);
}

static void cut(struct tcplink *l)
{
	l->side[LINK_A].imp.cut = l->side[LINK_B].imp.cut = true;
}

/* Whether st still has a connection rip:rport -> lport in its tables. */
static bool in_tables(struct stack *st, uint32_t rip, uint16_t rport,
		      uint16_t lport)
{
	return tcp_lookup(st, rip, rport, lport) != NULL;
}

/* Connections st has allocated and not freed; between polls nothing may
 * wait on the reap list (tcp.h). */
static unsigned n_conns(struct stack *st)
{
	unsigned n = 0;

	assert_null(st->tcp_reap);
	assert_int_equal(st->tcp_depth, 0);
	for (struct stack_tcp *c = st->tcp_all; c; c = c->anext)
		n++;
	return n;
}

static bool a_in_tables(struct tcplink *l)
{
	return in_tables(A(l), LINK_IP_B, PORT, APORT);
}

static bool b_in_tables(struct tcplink *l)
{
	return in_tables(B(l), LINK_IP_A, APORT, PORT);
}

/* Segments from dir since record from with all flags of want. */
static unsigned count_segs(const struct tcplink *l, uint64_t from, int dir,
			   uint8_t want)
{
	struct link_seg s;
	unsigned n = 0;

	for (uint64_t i = from > link_log_first(l) ? from : link_log_first(l);
	     i < l->nlog; i++) {
		const struct link_rec *r = link_rec_at(l, i);

		n += r->dir == dir && link_seg_parse(r, &s) &&
		     (s.v.flags & want) == want;
	}
	return n;
}

struct pair {
	struct stack_tcp *lst, *a, *b;
};

static bool pred_pair_up(struct tcplink *l, void *arg)
{
	struct pair *p = arg;

	if (!p->b)
		stack_tcp_accept(p->lst, NULL, &p->b);
	return p->b && (stack_tcp_events(p->a) & STACK_TCP_EV_OUT);
}

/* B listens on PORT, A connects from APORT; both established. */
static void pair_open(struct tcplink *l, struct pair *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(stack_tcp_listen(B(l), PORT, 16, NULL, &p->lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL,
					   &p->a), 0);
	assert_true(link_run(l, l->now + 5 * SEC, pred_pair_up, p));
	assert_string_equal(stack_tcp_state(p->a), "ESTABLISHED");
	assert_string_equal(stack_tcp_state(p->b), "ESTABLISHED");
}

static bool pred_error(struct tcplink *l, void *arg)
{
	return stack_tcp_events(arg) & STACK_TCP_EV_ERR;
}

static bool pred_closed_in_event(struct tcplink *l, void *arg)
{
	return l->side[LINK_A].closed_in_event > 0;
}

struct gone {
	struct stack *st;
	uint32_t rip;
	uint16_t rport, lport;
};

static bool pred_gone(struct tcplink *l, void *arg)
{
	struct gone *g = arg;

	return !in_tables(g->st, g->rip, g->rport, g->lport);
}

/* Runs until A's APORT connection has left A's tables; returns when. */
static uint64_t run_until_a_gone(struct tcplink *l, uint64_t limit)
{
	struct gone g = { A(l), LINK_IP_B, PORT, APORT };

	assert_true(link_run(l, l->now + limit, pred_gone, &g));
	return l->now;
}

/* A closed handle the program still holds: every call answers as a
 * closed Linux socket does, once the error is taken. */
static void assert_dead_handle(struct stack_tcp *c, int err)
{
	unsigned ev = stack_tcp_events(c);
	char b[4];

	assert_string_equal(stack_tcp_state(c), "CLOSED");
	assert_true(ev & STACK_TCP_EV_ERR);
	assert_true(ev & STACK_TCP_EV_HUP);
	assert_int_equal(stack_tcp_error(c), err);
	assert_int_equal(stack_tcp_error(c), 0);
	assert_int_equal(stack_tcp_send(c, "x", 1), -EPIPE);
	assert_int_equal(stack_tcp_recv(c, b, sizeof(b), 0), 0);
}

/* ---- SYN and SYN-ACK retries ------------------------------------------- */

/* A host sends one SYN to a listening port and never answers the
 * SYN-ACK: the half-open child (held only by its listener) resends it
 * TCP_SYNACK_RETRIES times, then is dropped and freed; the listener
 * still takes the next connection. */
static void test_synack_unanswered(void **state)
{
	struct tcplink *l = lk_new(state, 1);
	struct stack_tcp *lst, *a, *b = NULL;
	uint64_t timeouts = stack_stats(B(l))->tcp_timeouts, t0 = l->now;
	struct gone g = { B(l), LINK_IP_A, APORT, PORT };
	struct pair p = { 0 };

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	l->side[LINK_B].imp.cut = true; /* every SYN-ACK is lost */
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &a), 0);
	link_run_for(l, 10 * MS);
	stack_tcp_close(a); /* SYN-SENT: A says nothing more */
	assert_int_equal(n_conns(A(l)), 0);
	assert_true(b_in_tables(l));
	assert_int_equal(n_conns(B(l)), 2); /* the listener and its child */
	assert_true(link_run(l, l->now + 300 * SEC, pred_gone, &g));
	assert_int_equal(count_segs(l, 0, LINK_B, WIRE_TCP_SYN | WIRE_TCP_ACK),
			 1 + TCP_SYNACK_RETRIES);
	assert_int_equal(stack_stats(B(l))->tcp_timeouts, timeouts + 1);
	printf("# SYN-ACK gave up after %.1f s simulated\n",
	       (double)(l->now - t0) / SEC);
	assert_int_equal(n_conns(B(l)), 1);
	assert_int_equal(stack_tcp_accept(lst, NULL, &b), -EAGAIN);
	link_run_for(l, 10 * SEC); /* nothing left to fire */
	l->side[LINK_B].imp.cut = false;
	p.lst = lst;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &p.a), 0);
	assert_true(link_run(l, l->now + 5 * SEC, pred_pair_up, &p));
	finish(l);
}

/* connect to a silent peer: -ETIMEDOUT, and the program, which never
 * closes the handle, can still use it; stack_destroy frees it. */
static void test_syn_unanswered_held(void **state)
{
	struct tcplink *l = lk_new(state, 2);
	struct stack_tcp *a;

	l->side[LINK_A].imp.cut = true;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &a), 0);
	assert_true(link_run(l, l->now + 400 * SEC, pred_error, a));
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_SYN), 1 + TCP_SYN_RETRIES);
	assert_false(a_in_tables(l));
	assert_dead_handle(a, -ETIMEDOUT);
	link_run_for(l, 10 * SEC);
	assert_string_equal(stack_tcp_state(a), "CLOSED");
	assert_int_equal(n_conns(A(l)), 1); /* stack_destroy frees it */
	finish(l);
}

/* The program closes the connection from the callback that reports the
 * timeout (the stack is inside its timer then). */
static void test_syn_unanswered_close_in_event(void **state)
{
	struct tcplink *l = lk_new(state, 3);
	struct stack_tcp *a;

	l->side[LINK_A].imp.cut = true;
	l->side[LINK_A].close_on_err = true;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &a), 0);
	assert_true(link_run(l, l->now + 400 * SEC, pred_closed_in_event, NULL));
	assert_int_equal(l->side[LINK_A].closed_in_event, 1);
	assert_false(a_in_tables(l));
	assert_int_equal(n_conns(A(l)), 0);
	link_run_for(l, 10 * SEC);
	finish(l);
}

/* ---- ARP --------------------------------------------------------------- */

/* Nobody answers ARP for the address: connect gives up with
 * -EHOSTUNREACH after three initial RTOs (tcp_timer.c syn_timeout), and
 * no SYN ever left. */
static void test_arp_giveup_held(void **state)
{
	struct tcplink *l = lk_new(state, 4);
	struct stack_tcp *a;
	uint64_t t0 = l->now;

	assert_int_equal(stack_tcp_connect(A(l), IP_NOBODY, PORT, APORT, NULL, &a), 0);
	assert_true(link_run(l, l->now + 30 * SEC, pred_error, a));
	assert_true(l->now - t0 > 3 * TCP_RTO_INIT_NS);
	assert_true(l->now - t0 < 3 * TCP_RTO_INIT_NS + SEC);
	assert_int_equal(count_segs(l, 0, LINK_A, WIRE_TCP_SYN), 0);
	assert_false(in_tables(A(l), IP_NOBODY, PORT, APORT));
	assert_dead_handle(a, -EHOSTUNREACH);
	assert_int_equal(n_conns(A(l)), 1);
	finish(l);
}

static void test_arp_giveup_close_in_event(void **state)
{
	struct tcplink *l = lk_new(state, 5);
	struct stack_tcp *a;

	l->side[LINK_A].close_on_err = true;
	assert_int_equal(stack_tcp_connect(A(l), IP_NOBODY, PORT, APORT, NULL, &a), 0);
	assert_true(link_run(l, l->now + 30 * SEC, pred_closed_in_event, NULL));
	assert_false(in_tables(A(l), IP_NOBODY, PORT, APORT));
	assert_int_equal(n_conns(A(l)), 0);
	link_run_for(l, 10 * SEC);
	finish(l);
}

/* ---- TIME-WAIT and FIN-WAIT-2 ------------------------------------------ */

/* A closes first, B then: A's orphan sits in TIME-WAIT for 2 MSL
 * (TCP_TIMEWAIT_NS, Linux's 60 s), then goes. */
static void test_time_wait_expiry_orphan(void **state)
{
	struct tcplink *l = lk_new(state, 6);
	struct pair p;
	uint64_t t0, gone;

	pair_open(l, &p);
	stack_tcp_close(p.a);
	link_run_for(l, 100 * MS);
	stack_tcp_close(p.b);
	link_run_for(l, 100 * MS);
	t0 = l->now;
	assert_true(a_in_tables(l)); /* TIME-WAIT */
	assert_int_equal(n_conns(A(l)), 1);
	assert_int_equal(n_conns(B(l)), 1); /* LAST-ACK is done: the listener */
	gone = run_until_a_gone(l, 2 * TCP_TIMEWAIT_NS);
	assert_int_equal(n_conns(A(l)), 0);
	assert_true(gone - t0 >= TCP_TIMEWAIT_NS - 200 * MS);
	assert_true(gone - t0 <= TCP_TIMEWAIT_NS + 100 * MS);
	assert_false(b_in_tables(l));
	stack_tcp_close(p.lst);
	finish(l);
}

/* A shuts down its side and keeps the handle; B closes: A is in
 * TIME-WAIT while held, and after it the handle reads EOF and CLOSED. */
static void test_time_wait_expiry_held(void **state)
{
	struct tcplink *l = lk_new(state, 7);
	struct pair p;
	char b[4];

	pair_open(l, &p);
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	link_run_for(l, 100 * MS);
	stack_tcp_close(p.b);
	link_run_for(l, 100 * MS);
	assert_string_equal(stack_tcp_state(p.a), "TIME-WAIT");
	run_until_a_gone(l, 2 * TCP_TIMEWAIT_NS);
	assert_string_equal(stack_tcp_state(p.a), "CLOSED");
	assert_int_equal(stack_tcp_error(p.a), 0);
	assert_int_equal(stack_tcp_recv(p.a, b, sizeof(b), 0), 0);
	assert_true(stack_tcp_events(p.a) & STACK_TCP_EV_HUP);
	link_run_for(l, 10 * SEC);
	assert_int_equal(n_conns(A(l)), 1);
	finish(l);
}

/* A closes, B acknowledges the FIN and never sends its own: A's orphan
 * waits in FIN-WAIT-2 for TCP_FIN_TIMEOUT_NS (Linux's tcp_fin_timeout),
 * then goes without a word. */
static void test_fin_wait_2_orphan_expiry(void **state)
{
	struct tcplink *l = lk_new(state, 8);
	struct pair p;
	uint64_t t0, gone, from;

	pair_open(l, &p);
	stack_tcp_close(p.a);
	link_run_for(l, 100 * MS);
	assert_string_equal(stack_tcp_state(p.b), "CLOSE-WAIT");
	t0 = l->now;
	from = l->nlog;
	assert_int_equal(n_conns(A(l)), 1);
	gone = run_until_a_gone(l, 2 * TCP_FIN_TIMEOUT_NS);
	assert_int_equal(n_conns(A(l)), 0);
	assert_true(gone - t0 >= TCP_FIN_TIMEOUT_NS - 200 * MS);
	assert_true(gone - t0 <= TCP_FIN_TIMEOUT_NS + 100 * MS);
	assert_int_equal(count_segs(l, from, LINK_A, 0), 0);
	assert_string_equal(stack_tcp_state(p.b), "CLOSE-WAIT");
	finish(l);
}

/* A FIN-WAIT-2 the program still holds (it shut down only its side) has
 * no timeout, as on Linux; closing the handle starts it. */
static void test_fin_wait_2_held(void **state)
{
	struct tcplink *l = lk_new(state, 9);
	struct pair p;
	uint64_t t0, gone;

	pair_open(l, &p);
	assert_int_equal(stack_tcp_shutdown(p.a, 1), 0);
	link_run_for(l, 2 * TCP_FIN_TIMEOUT_NS);
	assert_string_equal(stack_tcp_state(p.a), "FIN-WAIT-2");
	stack_tcp_close(p.a);
	assert_int_equal(n_conns(A(l)), 1);
	t0 = l->now;
	gone = run_until_a_gone(l, 2 * TCP_FIN_TIMEOUT_NS);
	assert_int_equal(n_conns(A(l)), 0);
	assert_true(gone - t0 >= TCP_FIN_TIMEOUT_NS - 200 * MS);
	assert_true(gone - t0 <= TCP_FIN_TIMEOUT_NS + 100 * MS);
	finish(l);
}

/* ---- data retries ------------------------------------------------------ */

/* Data in flight and the wire cut: TCP_DATA_RETRIES RTOs, then the
 * connection fails with -ETIMEDOUT (RFC 9293 3.8.3's R2; Linux's
 * tcp_retries2 is 15 too). */
static void data_cut(struct tcplink *l, struct pair *p)
{
	pair_open(l, p);
	cut(l);
	assert_int_equal(stack_tcp_send(p->a, "hello", 5), 5);
}

static void test_data_retries_held(void **state)
{
	struct tcplink *l = lk_new(state, 10);
	uint64_t rtos, t0;
	struct pair p;

	data_cut(l, &p);
	t0 = l->now;
	rtos = stack_stats(A(l))->tcp_rtos;
	assert_true(link_run(l, l->now + 3600 * SEC, pred_error, p.a));
	assert_int_equal(stack_stats(A(l))->tcp_rtos - rtos, TCP_DATA_RETRIES);
	printf("# data retries gave up after %.1f s simulated\n",
	       (double)(l->now - t0) / SEC);
	assert_false(a_in_tables(l));
	assert_dead_handle(p.a, -ETIMEDOUT);
	assert_int_equal(n_conns(A(l)), 1);
	finish(l);
}

/* The program wrote and closed: the orphan retries alone, then goes. */
static void test_data_retries_orphan(void **state)
{
	struct tcplink *l = lk_new(state, 11);
	uint64_t timeouts;
	struct pair p;

	data_cut(l, &p);
	stack_tcp_close(p.a);
	timeouts = stack_stats(A(l))->tcp_timeouts;
	run_until_a_gone(l, 3600 * SEC);
	assert_int_equal(stack_stats(A(l))->tcp_timeouts, timeouts + 1);
	assert_int_equal(n_conns(A(l)), 0);
	finish(l);
}

static void test_data_retries_close_in_event(void **state)
{
	struct tcplink *l = lk_new(state, 12);
	struct pair p;

	data_cut(l, &p);
	l->side[LINK_A].close_on_err = true;
	assert_true(link_run(l, l->now + 3600 * SEC, pred_closed_in_event, NULL));
	assert_false(a_in_tables(l));
	assert_int_equal(n_conns(A(l)), 0);
	link_run_for(l, 10 * SEC);
	finish(l);
}

/* ---- keepalive --------------------------------------------------------- */

static void keepalive_on(struct stack_tcp *c)
{
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPIDLE, 10), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPINTVL, 2), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPCNT, 3), 0);
	assert_int_equal(stack_tcp_setopt(c, STACK_TCP_KEEPALIVE, 1), 0);
}

/* Idle 10 s, then 3 unanswered probes 2 s apart: -ETIMEDOUT. */
static void test_keepalive_giveup_held(void **state)
{
	struct tcplink *l = lk_new(state, 13);
	struct pair p;
	uint64_t t0;

	pair_open(l, &p);
	keepalive_on(p.a);
	cut(l);
	t0 = l->now;
	assert_true(link_run(l, l->now + 60 * SEC, pred_error, p.a));
	assert_true(l->now - t0 >= (10 + 3 * 2) * SEC - 100 * MS);
	assert_true(l->now - t0 <= (10 + 3 * 2) * SEC + 100 * MS);
	assert_false(a_in_tables(l));
	assert_dead_handle(p.a, -ETIMEDOUT);
	assert_int_equal(n_conns(A(l)), 1);
	finish(l);
}

static void test_keepalive_giveup_close_in_event(void **state)
{
	struct tcplink *l = lk_new(state, 14);
	struct pair p;

	pair_open(l, &p);
	keepalive_on(p.a);
	cut(l);
	l->side[LINK_A].close_on_err = true;
	assert_true(link_run(l, l->now + 60 * SEC, pred_closed_in_event, NULL));
	assert_false(a_in_tables(l));
	assert_int_equal(n_conns(A(l)), 0);
	link_run_for(l, 10 * SEC);
	finish(l);
}

/* A child in the accept queue, never accepted, inherits keepalive from
 * its listener and gives up; it stays queued (its listener holds it) so
 * that accept hands it out with the error, as on Linux. */
static void test_keepalive_giveup_unaccepted(void **state)
{
	struct tcplink *l = lk_new(state, 15);
	struct stack_tcp *lst, *a, *b;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	keepalive_on(lst);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &a), 0);
	link_run_for(l, 100 * MS);
	assert_string_equal(stack_tcp_state(a), "ESTABLISHED");
	cut(l);
	link_run_for(l, 30 * SEC);
	assert_false(b_in_tables(l));
	assert_int_equal(n_conns(B(l)), 2); /* the listener and its child */
	assert_int_equal(stack_tcp_accept(lst, NULL, &b), 0);
	assert_dead_handle(b, -ETIMEDOUT);
	stack_tcp_close(b);
	assert_int_equal(n_conns(B(l)), 1);
	stack_tcp_close(a);
	finish(l);
}

/* ---- a reset ----------------------------------------------------------- */

/* B resets; A's program closes the connection from the callback that
 * reports -ECONNRESET (the stack is inside tcp_input then). */
static void test_rst_close_in_event(void **state)
{
	struct tcplink *l = lk_new(state, 16);
	struct pair p;

	pair_open(l, &p);
	l->side[LINK_A].close_on_err = true;
	stack_tcp_abort(p.b);
	assert_true(link_run(l, l->now + SEC, pred_closed_in_event, NULL));
	assert_false(a_in_tables(l));
	assert_int_equal(n_conns(A(l)), 0);
	link_run_for(l, SEC);
	finish(l);
}

/* B resets and A's program holds on: the handle reports the reset. */
static void test_rst_held(void **state)
{
	struct tcplink *l = lk_new(state, 17);
	struct pair p;

	pair_open(l, &p);
	stack_tcp_abort(p.b);
	assert_true(link_run(l, l->now + SEC, pred_error, p.a));
	assert_dead_handle(p.a, -ECONNRESET);
	assert_int_equal(n_conns(A(l)), 1);
	assert_int_equal(n_conns(B(l)), 1);
	finish(l);
}

/* A listener closed with a child in its queue and one half-open: both
 * are reset and freed, and the port is free again. */
static void test_listener_close_children(void **state)
{
	struct tcplink *l = lk_new(state, 18);
	struct stack_tcp *lst, *a1, *a2;

	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT, NULL, &a1), 0);
	link_run_for(l, 100 * MS);
	l->side[LINK_B].imp.cut = true;
	assert_int_equal(stack_tcp_connect(A(l), LINK_IP_B, PORT, APORT + 1, NULL, &a2), 0);
	link_run_for(l, 100 * MS);
	assert_true(in_tables(B(l), LINK_IP_A, APORT + 1, PORT));
	assert_int_equal(n_conns(B(l)), 3);
	stack_tcp_close(lst);
	assert_false(b_in_tables(l));
	assert_false(in_tables(B(l), LINK_IP_A, APORT + 1, PORT));
	assert_int_equal(n_conns(B(l)), 0);
	assert_int_equal(stack_tcp_listen(B(l), PORT, 4, NULL, &lst), 0);
	stack_tcp_close(a1);
	stack_tcp_close(a2);
	finish(l);
}

/* A dying process's stack (stack_dying, run from a signal handler) frees
 * nothing: a connection reset and let go stays on the reap list, the
 * peer still gets its RST, and stack_destroy frees it all (ASan). */
static void test_dying_frees_nothing(void **state)
{
	struct tcplink *l = lk_new(state, 19);
	struct stack_tcp_info i;
	struct pair p;
	char buf[100] = "12345";

	pair_open(l, &p);
	assert_int_equal(stack_tcp_send(p.a, buf, 5), 5);
	link_run_for(l, 100 * MS);
	stack_tcp_info(p.a, &i); /* (what accel-stat --sockets shows) */
	assert_string_equal(i.state, "ESTABLISHED");
	assert_int_equal(i.bytes_acked, 5);
	assert_int_equal(i.send_q, 0);
	stack_tcp_info(p.b, &i);
	assert_int_equal(i.bytes_received, 5);
	assert_int_equal(i.recv_q, 5);
	assert_int_equal(i.lport, PORT);
	assert_int_equal(i.rport, APORT);
	stack_dying(B(l));
	stack_tcp_close(p.b); /* (unread data: a RST, as on Linux) */
	stack_tcp_close(p.lst);
	assert_non_null(B(l)->tcp_reap);
	assert_true(link_run(l, l->now + SEC, pred_error, p.a));
	assert_dead_handle(p.a, -ECONNRESET);
	assert_non_null(B(l)->tcp_all); /* kept: the process ends soon */
	finish(l);
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, teardown)
	const struct CMUnitTest tests[] = {
		T(test_synack_unanswered),
		T(test_syn_unanswered_held),
		T(test_syn_unanswered_close_in_event),
		T(test_arp_giveup_held),
		T(test_arp_giveup_close_in_event),
		T(test_time_wait_expiry_orphan),
		T(test_time_wait_expiry_held),
		T(test_fin_wait_2_orphan_expiry),
		T(test_fin_wait_2_held),
		T(test_data_retries_held),
		T(test_data_retries_orphan),
		T(test_data_retries_close_in_event),
		T(test_keepalive_giveup_held),
		T(test_keepalive_giveup_close_in_event),
		T(test_keepalive_giveup_unaccepted),
		T(test_rst_close_in_event),
		T(test_rst_held),
		T(test_listener_close_children),
		T(test_dying_frees_nothing),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
