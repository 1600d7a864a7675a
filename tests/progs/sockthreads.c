/*
 * sockthreads.c - many threads on sockets at once, for the shim's locking:
 *  - THREADS threads each open, connect, echo one message and close
 *    ROUNDS sockets to the peer's echo port, all at the same time;
 *  - a reader thread blocks in read() on a socket while another thread
 *    closes that descriptor: the read must end (0, or -1 with EBADF), not
 *    hang or crash, as on Linux;
 *  - threads that never touched a socket before create epoll sets and wait.
 * Prints "ok N" (echoes completed) and exits 0, or says what failed.
 *
 *   sockthreads PEER_IP [THREADS [ROUNDS]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_PORT 7001

static const char *peer;
static int rounds = 50;
static long done;

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(ECHO_PORT) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, peer, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "connect: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static void *worker(void *arg)
{
	char msg[32], buf[32];
	int id = (int)(long)arg;

	for (int i = 0; i < rounds; i++) {
		int fd = dial(), ep = epoll_create1(0), n = snprintf(msg, sizeof(msg),
								       "t%d r%d", id, i);
		struct epoll_event ev = { .events = EPOLLIN }, got;
		int have = 0;

		if (write(fd, msg, (size_t)n) != n || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			fprintf(stderr, "write/epoll_ctl: %s\n", strerror(errno));
			exit(1);
		}
		while (have < n) {
			ssize_t r;

			if (epoll_wait(ep, &got, 1, 10000) != 1) {
				fprintf(stderr, "thread %d round %d: no echo\n", id, i);
				exit(1);
			}
			r = read(fd, buf + have, sizeof(buf) - (size_t)have);
			if (r <= 0) {
				fprintf(stderr, "read: %zd %s\n", r, strerror(errno));
				exit(1);
			}
			have += (int)r;
		}
		if (memcmp(buf, msg, (size_t)n)) {
			fprintf(stderr, "thread %d: echo differs\n", id);
			exit(1);
		}
		close(ep);
		close(fd);
		__atomic_add_fetch(&done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int victim;

static void *reader(void *arg)
{
	char buf[8];
	ssize_t r = read(victim, buf, sizeof(buf));

	(void)arg;
	/* Linux: a read blocked on a descriptor another thread closes goes on
	 * waiting on the open file; here the peer's close of the echo (when
	 * the closed descriptor's connection ends) or EBADF ends it. */
	printf("blocked read ended: %zd %s\n", r, r < 0 ? strerror(errno) : "");
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 8;
	pthread_t t[64], rd;

	if (argc < 2 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: sockthreads PEER_IP [THREADS [ROUNDS]]\n");
		return 2;
	}
	peer = argv[1];
	if (argc > 3)
		rounds = atoi(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	victim = dial();
	pthread_create(&rd, NULL, reader, NULL);
	usleep(200000);
	shutdown(victim, SHUT_WR); /* the echo peer then closes: the read ends */
	close(victim);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	pthread_join(rd, NULL);
	printf("ok %ld\n", done);
	return done == (long)threads * rounds ? 0 : 1;
}
