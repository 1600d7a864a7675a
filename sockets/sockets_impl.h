/*
 * sockets_impl.h - the inside of struct sk_thread, for the files of
 * sockets/ only.
 */
#ifndef ACCEL_SOCKETS_IMPL_H
#define ACCEL_SOCKETS_IMPL_H

#include <stddef.h>

#include "sockets.h"

struct dev_netq;

struct sk_thread {
	struct stack *st;
	struct dev_netq *q;
	int wake_fd;            /* readable when the queue has packets; -1 none */
	int wait_epfd;          /* wake_fd plus the program's epoll sets */
	uint64_t idle_poll_ns;
	struct pollfd *pbuf;    /* poll's copy of the program's set, plus ours */
	size_t pbuf_cap;
};

void sk_wake_arm(struct sk_thread *t);
void sk_wake_ack(struct sk_thread *t);
uint64_t sk_stack_deadline(struct sk_thread *t);

#endif
