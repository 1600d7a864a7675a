#!/bin/bash
# The waiting calls keep the kernel's contract under the shim: the same
# program (poll, ppoll, epoll, select, pselect, blocking reads; timeouts,
# EINTR with and without SA_RESTART, errors) prints the same results on the
# kernel and under the shim with a live port, where its thread owns a stack.
# And while the program sits in each of those calls, the port answers ping.
. "$(dirname "$0")/lib.sh"
ns_setup
prog="$BUILD/tests/waitmix"
shim_env=(env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1)

in_ns "$prog" check > "$LOGDIR/waitmix.kernel" 2>&1 || fail "waitmix on the kernel"
in_ns "${shim_env[@]}" "$ACCEL" "$prog" check > "$LOGDIR/waitmix.shim" \
	2> "$LOGDIR/waitmix.shim.err" || fail "waitmix under the shim"
note "$(wc -l < "$LOGDIR/waitmix.kernel") cases"
diff -u "$LOGDIR/waitmix.kernel" "$LOGDIR/waitmix.shim" ||
	fail "results differ between kernel and shim"
grep -Eq "[1-9][0-9]* stack\(s\)" "$LOGDIR/waitmix.shim.err" ||
	fail "the waiting thread did not own a stack: the shim path was not tested"
grep -q "OFF-TIME" "$LOGDIR/waitmix.shim" && fail "a timeout was not kept"

for call in poll ppoll epoll select read; do
	$NSX "${shim_env[@]}" "$ACCEL" "$prog" sleep $call 2500 \
		> /dev/null 2> "$LOGDIR/waitmix.$call.err" &
	pid=$!
	tap_up acc0 10.88.0.1/24
	sleep 0.3
	out=$(in_ns ping -c 5 -i 0.1 -W 1 10.88.0.2)
	wait $pid || fail "sleep in $call did not return as expected"
	echo "$out" | grep -q " 5 received" || fail "no ping replies while in $call"
	note "while blocked in $call: $(echo "$out" | grep -o '[0-9]* received')"
done

# An alarm during a wait ends it with EINTR, also when it comes between
# two of the shim's sleep slices: on a memif port (no receive interrupt:
# 1 ms idle slices) the waits run the port between slices, and before the
# fix about 15 % of these epoll waits missed their EINTR (the handler ran
# between slices, or on DPDK's interrupt thread). And a blocking accept
# with an alarm due in 15-65 us, where it does its own work before it
# waits: while the wait took its signal count only where it began, about
# half of these missed theirs (162 of 300; a Python server blocked in
# accept outlived SIGTERM that way), the kernel none.
in_ns "$prog" eintr 300 > "$LOGDIR/waitmix.eintr.kernel" ||
	fail "waitmix eintr on the kernel: $(cat "$LOGDIR/waitmix.eintr.kernel")"
sock="/tmp/accel-waitmix-$$.sock"
in_ns env ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_memif0,role=server,socket=$sock" \
	ACCEL_IP=10.89.0.2/24 ACCEL_LINK_WAIT_MS=0 ACCEL_STATS=1 "$ACCEL" "$prog" eintr 300 \
	> "$LOGDIR/waitmix.eintr.shim" 2> "$LOGDIR/waitmix.eintr.err"
rc=$?
rm -f "$sock"
grep -Eq "[1-9][0-9]* stack\(s\)" "$LOGDIR/waitmix.eintr.err" ||
	fail "the eintr waits did not run on a stack: the shim path was not tested"
[ $rc = 0 ] || fail "under the shim: $(cat "$LOGDIR/waitmix.eintr.shim")"
note "under the shim, memif port: $(cat "$LOGDIR/waitmix.eintr.shim")"
exit 0
