#!/bin/bash
# redis-server under the shim: in pass-through (no port configured) and
# with a live tap port (its event loop then runs the stack as it waits),
# redis-benchmark runs without errors and redis-cli works.
. "$(dirname "$0")/lib.sh"
ns_setup

run_redis() { # $1 = label, rest = env settings
	label=$1
	shift
	$NSX env "$@" "$ACCEL" redis-server --port 6379 --save "" \
		--appendonly no > "$LOGDIR/redis.$label.log" 2>&1 &
	pid=$!
	wait_tcp 127.0.0.1 6379 || fail "redis ($label) did not listen"
	out=$(in_ns redis-benchmark -q -n 20000 -p 6379 2>&1)
	echo "$out" | tr '\r' '\n' | grep "requests per second" | head -4 | sed "s/^/   $label: /"
	echo "$out" | grep -qi "error" && { echo "$out"; fail "redis-benchmark errors ($label)"; }
	[ "$(echo "$out" | tr '\r' '\n' | grep -c 'requests per second')" -ge 10 ] ||
		{ echo "$out"; fail "redis-benchmark did not run its tests ($label)"; }
	[ "$(in_ns redis-cli -p 6379 set accel works)" = OK ] || fail "redis-cli set ($label)"
	[ "$(in_ns redis-cli -p 6379 get accel)" = works ] || fail "redis-cli get ($label)"
	kill -TERM $pid
	wait $pid
}

run_redis passthrough ACCEL_LOG=warn
run_redis port ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24
exit 0
