/*
 * test_net_share.c - dev/net_share.c on a temporary file: the slots of one
 * region opened side by side in this process (and one in a child that
 * exits). Checked: which slot a frame for a port goes to (none when the
 * port is the receiver's own or nobody's, the same one of several for
 * every segment of a flow), a frame handed over comes out whole and
 * once, with the FIFO readable until it is taken, a full inbox and an
 * oversize frame refused, a dead holder's slot refused (-ESRCH), and a
 * slot taken anew starting clean (no bits, no frames). The table of
 * accepted connections: a prefork group's members all own the port, and
 * a segment of one member's connection goes to that member from any
 * sibling; removed, or its slot taken anew, it does not; entries that
 * collide are each found, and a full probe sequence refuses one more.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../dev/net_share.h"

static char path[64];
static char fifos[SHARE_SLOTS][80];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test-net-share-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	for (unsigned i = 0; i < SHARE_SLOTS; i++) {
		snprintf(fifos[i], sizeof(fifos[i]), "%s.q%u", path, i);
		unlink(fifos[i]);
	}
	return 0;
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_target(void **state)
{
	struct share *a = share_open(path, 0, NULL), *b = share_open(path, 1, NULL);
	struct share *c = share_open(path, 2, NULL);
	int first;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(share_target(a, 6379, 0x0a580001, 40000), -1); /* nobody's */
	share_own(b, 6379, 1);
	assert_int_equal(share_target(a, 6379, 0x0a580001, 40000), 1);
	assert_int_equal(share_target(b, 6379, 0x0a580001, 40000), -1); /* its own */
	assert_true(share_taken(a, 6379));
	assert_false(share_taken(b, 6379));
	/* two owners, a group of another's: one of them, the same for a flow */
	share_own(c, 80, 1);
	share_own(b, 80, 1);
	first = share_target(a, 80, 0x0a580001, 40001);
	assert_true(first == 1 || first == 2);
	for (int i = 0; i < 10; i++)
		assert_int_equal(share_target(a, 80, 0x0a580001, 40001), first);
	{ /* and flows spread over both */
		int seen[3] = { 0 };

		for (uint16_t p = 40000; p < 40064; p++)
			seen[share_target(a, 80, 0x0a580001, p)]++;
		assert_true(seen[1] > 0 && seen[2] > 0);
	}
	assert_int_equal(share_target(c, 80, 0x0a580001, 40001), -1); /* an owner */
	share_own(b, 6379, 0);
	assert_int_equal(share_target(a, 6379, 0x0a580001, 40000), -1);
	assert_false(share_taken(a, 6379));
	share_close(c);
	/* a closed slot's ports are nobody's */
	assert_int_equal(share_target(a, 80, 0x0a580001, 40001), 1);
	share_close(a);
	share_close(b);
}

static void test_put_take(void **state)
{
	struct share *a = share_open(path, 0, NULL), *b = share_open(path, 1, NULL);
	uint8_t frame[1514], got[SHARE_FRAME];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	assert_false(share_pending(b));
	assert_false(readable(share_fd(b)));
	assert_int_equal(share_put(a, 1, frame, sizeof(frame)), 0);
	assert_true(share_pending(b));
	assert_true(readable(share_fd(b))); /* a sleeper wakes */
	assert_false(share_pending(a));
	assert_int_equal(share_take(b, got, sizeof(got)), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_false(share_pending(b));
	assert_false(readable(share_fd(b))); /* taken: no wake-up left */
	assert_int_equal(share_take(b, got, sizeof(got)), 0);
	/* to itself, to nobody, too long */
	assert_int_equal(share_put(a, 0, frame, 60), -ENOBUFS);
	assert_int_equal(share_put(a, 5, frame, 60), -ESRCH);
	assert_int_equal(share_put(a, 1, got, SHARE_FRAME + 1), -ENOBUFS);
	/* a full inbox refuses, and takes again once emptied, in order */
	for (unsigned i = 0; i < SHARE_RING; i++) {
		frame[0] = (uint8_t)i;
		assert_int_equal(share_put(a, 1, frame, 64), 0);
	}
	assert_int_equal(share_put(a, 1, frame, 64), -ENOBUFS);
	for (unsigned i = 0; i < SHARE_RING; i++) {
		assert_int_equal(share_take(b, got, sizeof(got)), 64);
		assert_int_equal(got[0], (uint8_t)i);
	}
	assert_false(share_pending(b));
	assert_int_equal(share_put(a, 1, frame, 64), 0);
	/* the slot taken anew: its frames and bits are gone */
	share_own(b, 11211, 1);
	share_close(b);
	b = share_open(path, 1, NULL);
	assert_non_null(b);
	assert_false(share_pending(b));
	assert_false(readable(share_fd(b)));
	assert_int_equal(share_target(a, 11211, 1, 2), -1);
	share_close(a);
	share_close(b);
}

static void test_dead_holder(void **state)
{
	struct share *a = share_open(path, 0, NULL);
	pid_t pid;
	int st;

	(void)state;
	assert_non_null(a);
	pid = fork();
	if (pid == 0) { /* takes slot 3, owns a port, dies without closing */
		struct share *c = share_open(path, 3, NULL);

		if (c)
			share_own(c, 7000, 1);
		_exit(c ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(share_target(a, 7000, 1, 2), 3);
	assert_false(share_taken(a, 7000)); /* its holder is gone */
	assert_int_equal(share_put(a, 3, "x", 1), -ESRCH);
	share_close(a);
}

static void test_conns(void **state)
{
	struct share *a = share_open(path, 0, NULL), *b = share_open(path, 1, NULL);
	struct share *c = share_open(path, 2, NULL);
	uint32_t ip = 0x0a580001;
	unsigned took = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	share_own(a, 8081, 1); /* (a group: every member listens on the port) */
	share_own(b, 8081, 1);
	share_own(c, 8081, 1);
	assert_int_equal(share_target(b, 8081, ip, 40000), -1); /* a new one: b's own */
	assert_int_equal(share_conn(a, ip, 40000, 8081, 1), 1);
	assert_int_equal(share_target(b, 8081, ip, 40000), 0);
	assert_int_equal(share_target(c, 8081, ip, 40000), 0);
	assert_int_equal(share_target(a, 8081, ip, 40000), -1); /* a serves it */
	assert_int_equal(share_target(b, 8081, ip, 40001), -1); /* another flow */
	/* only its holder removes it */
	assert_int_equal(share_conn(b, ip, 40000, 8081, 0), 0);
	assert_int_equal(share_target(b, 8081, ip, 40000), 0);
	assert_int_equal(share_conn(a, ip, 40000, 8081, 0), 1);
	assert_int_equal(share_target(b, 8081, ip, 40000), -1);
	assert_int_equal(share_conn(a, ip, 40000, 8081, 0), 0);
	/* a handed-over one: the taker's entry replaces the old one's */
	assert_int_equal(share_conn(a, ip, 40002, 8081, 1), 1);
	assert_int_equal(share_conn(c, ip, 40002, 8081, 1), 1);
	assert_int_equal(share_target(b, 8081, ip, 40002), 2);
	assert_int_equal(share_conn(a, ip, 40002, 8081, 0), 0); /* (no longer a's) */
	assert_int_equal(share_target(b, 8081, ip, 40002), 2);
	/* many: each found again, past the removed ones between them */
	for (uint16_t p = 1000; p < 3000; p++)
		took += (unsigned)share_conn(c, ip + (p & 7), p, 8081, 1);
	assert_int_equal(took, 2000);
	for (uint16_t p = 1000; p < 3000; p += 2)
		assert_int_equal(share_conn(c, ip + (p & 7), p, 8081, 0), 1);
	for (uint16_t p = 1001; p < 3000; p += 2)
		assert_int_equal(share_target(a, 8081, ip + (p & 7), p), 2);
	for (uint16_t p = 1000; p < 3000; p += 2)
		assert_int_equal(share_target(a, 8081, ip + (p & 7), p), -1);
	/* a slot taken anew starts with none of its holder's */
	share_close(c);
	c = share_open(path, 2, NULL);
	assert_non_null(c);
	share_own(c, 8081, 1);
	assert_int_equal(share_target(a, 8081, ip + 1, 1001), -1);
	assert_int_equal(share_target(a, 8081, ip, 40002), -1);
	/* a full table refuses one more (0: the connection is this process's
	 * alone, as before the table), and keeps what it holds */
	took = 0;
	for (uint32_t i = 0; i < SHARE_CONNS + 100; i++)
		took += (unsigned)share_conn(b, ip + 16, (uint16_t)i, 80, 1);
	assert_true(took > SHARE_CONNS / 2 && took < SHARE_CONNS + 100);
	assert_int_equal(share_target(a, 8081, ip + 1, 1001), -1);
	assert_int_equal(share_target(c, 80, ip + 16, 0), 1);
	share_close(a);
	share_close(b);
	share_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_take, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conns, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
