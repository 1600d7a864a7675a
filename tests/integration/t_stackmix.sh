#!/bin/bash
# Sockets of two threads, on two stacks (ACCEL_QUEUES=2), in one epoll set
# and one poll (tests/progs/stackmix.c): connections accepted through a
# set that also holds another stack's listener, a poll over both stacks,
# a socket closed by one thread while the other waits on it in its set.
# The same program on kernel sockets (to 127.0.0.1) and under the shim
# (through a 2-queue tap port to the Linux peer) prints the same lines.
. "$(dirname "$0")/lib.sh"
ns_setup
PROG="$BUILD/tests/stackmix"
$NSX python3 "$(dirname "$0")/sock_peer.py" > "$LOGDIR/stackmix.peer" 2>&1 &
wait_tcp 127.0.0.1 7001 || fail "the peer did not start"

in_ns timeout 60 "$PROG" 127.0.0.1 > "$LOGDIR/stackmix.kernel" 2>&1 ||
	{ cat "$LOGDIR/stackmix.kernel"; fail "stackmix failed on kernel sockets"; }
( tap_up acc0 10.88.0.1/24 ) &
in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_QUEUES=2 ACCEL_STATS=1 \
	timeout 60 "$ACCEL" "$PROG" 10.88.0.1 > "$LOGDIR/stackmix.shim" 2>&1 ||
	{ cat "$LOGDIR/stackmix.shim"; fail "stackmix failed or hung under the shim"; }
grep -v "^libaccel" "$LOGDIR/stackmix.shim" | sed 's/^/   /'
grep "stats: handoffs\|stack(s)" "$LOGDIR/stackmix.shim" | sed 's/^/   /'
diff <(grep -v "^libaccel" "$LOGDIR/stackmix.kernel") <(grep -v "^libaccel" "$LOGDIR/stackmix.shim") ||
	fail "kernel and shim runs differ"
grep -q "stats: 2 stack(s)" "$LOGDIR/stackmix.shim" || fail "not 2 stacks"
grep -q "accepted 20 connected\|stack 20 accepted" "$LOGDIR/stackmix.shim" ||
	fail "the connections back did not come through the stacks"
[ "$(grep -o 'handoffs [0-9]*' "$LOGDIR/stackmix.shim" | awk '{ print $2 }')" -ge 20 ] ||
	fail "the accepted connections were not handed to the worker's stack"
exit 0
