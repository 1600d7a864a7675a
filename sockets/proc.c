/*
 * proc.c - the start of the socket layer, on top of its other files: it
 * gives the lower ones their hooks into the higher ones (sk_hooks), then
 * opens the port (netif.c).
 */
#include "sock_impl.h"

struct sk_hooks sk_hooks;

int sk_net_start(const struct sk_net_conf *conf, char *why, size_t whylen)
{
	sk_hooks = (struct sk_hooks){
		.tcp_event = sk_sock_event,
		.sock_unwatch = sk_sock_unwatch,
		.wait_sock = sk_wait_sock,
		.socks_exit = sk_socks_exit,
		.socks_die = sk_socks_die,
		.socks_format = sk_socks_format,
	};
	return sk_netif_open(conf, why, whylen);
}
