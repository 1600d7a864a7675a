/*
 * proc.c - the socket layer's process: its one object (struct sk_proc),
 * and the start, on top of the layer's other files, which gives the lower
 * ones their hooks into the higher ones (sk_hooks) and then opens the
 * port (netif.c).
 */
#include "sock_impl.h"

static struct sk_proc proc = {
	.stacks_create = PTHREAD_MUTEX_INITIALIZER,
	.live_lock = PTHREAD_MUTEX_INITIALIZER,
	.ep_spare_lock = PTHREAD_MUTEX_INITIALIZER,
	.src_lock = PTHREAD_MUTEX_INITIALIZER,
	.flow_wlock = PTHREAD_MUTEX_INITIALIZER,
};
struct sk_proc *const sk_proc = &proc;

int sk_net_start(const struct sk_net_conf *conf, char *why, size_t whylen)
{
	sk_proc->hooks = (struct sk_hooks){
		.tcp_event = sk_sock_event,
		.sock_unwatch = sk_sock_unwatch,
		.wait_sock = sk_wait_sock,
		.socks_exit = sk_socks_exit,
		.socks_die = sk_socks_die,
		.socks_format = sk_socks_format,
	};
	return sk_netif_open(conf, why, whylen);
}
