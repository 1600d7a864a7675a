#!/bin/bash
# The differential socket test (tests/progs/sockdiff.c, cmocka) against a
# Linux peer (sock_peer.py): once on kernel sockets (to 127.0.0.1), once
# under the shim, whose sockets then go through a net_tap port to the
# peer's kernel; both must pass every test and print the same trace.
. "$(dirname "$0")/lib.sh"
ns_setup
PROG="$BUILD/tests/sockdiff"
$NSX python3 "$(dirname "$0")/sock_peer.py" > "$LOGDIR/sockdiff.peer" 2>&1 &
wait_tcp 127.0.0.1 7001 || fail "the peer did not start"

in_ns "$PROG" 127.0.0.1 > "$LOGDIR/sockdiff.kernel" 2>&1 ||
	{ cat "$LOGDIR/sockdiff.kernel"; fail "sockdiff failed on kernel sockets"; }
# The tap appears when the program opens its first socket: address the
# kernel's side as soon as it does.
( tap_up acc0 10.88.0.1/24 ) &
in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	"$ACCEL" "$PROG" 10.88.0.1 > "$LOGDIR/sockdiff.shim" 2>&1 ||
	{ cat "$LOGDIR/sockdiff.shim"; fail "sockdiff failed under the shim"; }
grep "PASSED" "$LOGDIR/sockdiff.kernel" | sed 's/^/   kernel: /'
grep "PASSED" "$LOGDIR/sockdiff.shim" | sed 's/^/   shim:   /'
grep -q "active" "$LOGDIR/sockdiff.shim" || fail "no connection went through the stack"
grep "stats: .*tcp" "$LOGDIR/sockdiff.shim" | sed 's/^/   /'
diff <(grep '^T ' "$LOGDIR/sockdiff.kernel") <(grep '^T ' "$LOGDIR/sockdiff.shim") ||
	fail "the traces differ between kernel and shim"
note "$(grep -c '^T ' "$LOGDIR/sockdiff.kernel") traced results identical"
exit 0
