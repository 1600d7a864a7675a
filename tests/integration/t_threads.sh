#!/bin/bash
# Threads on bypass sockets at once (tests/progs/sockthreads.c) under the
# shim, through a tap port to a Linux echo peer: 8 threads each connect,
# echo and close 50 sockets concurrently, and a read blocked on a socket
# that another thread closes ends instead of hanging. Bounded in time: a
# deadlock fails the test.
. "$(dirname "$0")/lib.sh"
ns_setup
$NSX python3 "$(dirname "$0")/sock_peer.py" > "$LOGDIR/threads.peer" 2>&1 &
wait_tcp 127.0.0.1 7001 || fail "the peer did not start"
( tap_up acc0 10.88.0.1/24 ) &
out=$(in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	timeout 120 "$ACCEL" "$BUILD/tests/sockthreads" 10.88.0.1 8 50 2>&1) ||
	{ echo "$out"; fail "sockthreads failed or hung"; }
echo "$out" | grep -v "^libaccel" | sed 's/^/   /'
echo "$out" | grep -q "^ok 400$" || { echo "$out"; fail "not every echo completed"; }
echo "$out" | grep -q "opens 401 active" || { echo "$out"; fail "connections did not use the stack"; }
exit 0
