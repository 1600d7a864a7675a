#!/bin/bash
# fork and exec under the shim with the port up: a forked child opens its
# own AF_INET socket and runs a shell pipeline without touching the
# parent's port; an exec'd program inheriting LD_PRELOAD finds the port
# taken and runs on the kernel with one line saying so; the parent's port
# still answers ping afterwards. Also a plain shell pipeline under the shim.
. "$(dirname "$0")/lib.sh"
ns_setup
prog="$BUILD/tests/forkexec"
log="$LOGDIR/forkexec.log"

out=$(in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 \
	"$ACCEL" sh -c 'echo libaccel | tr a-z A-Z | cat') || fail "pipeline"
[ "$out" = "LIBACCEL" ] || fail "pipeline printed '$out'"
note "shell pipeline: $out"

$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	"$ACCEL" "$prog" parent 3000 > "$log" 2>&1 &
pid=$!
tap_up acc0 10.88.0.1/24
sleep 1
ping=$(in_ns ping -c 5 -i 0.1 -W 1 10.88.0.2)
wait $pid || { cat "$log"; fail "forkexec exited non-zero"; }
sed 's/^/   /' "$log"
grep -q "child pipeline: ACCEL" "$log" || fail "the forked child's pipeline"
grep -q "fork child: ok" "$log" || fail "the forked child"
grep -q "exec child: ok" "$log" || fail "the exec'd child"
grep -q "parent: done" "$log" || fail "the parent"
[ "$(grep -c 'running on the kernel only' "$log")" = 1 ] ||
	fail "the exec'd child should say once that it runs on the kernel"
echo "$ping" | grep -q " 5 received" || fail "the parent's port stopped answering"
note "parent after fork+exec: $(echo "$ping" | grep -o '[0-9]* received')"
exit 0
