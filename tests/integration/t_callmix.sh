#!/bin/bash
# Every call the shim interposes keeps the kernel's contract: callmix
# (sockets, reads and writes, socket options, fcntl, ioctl, dup and close,
# positioned file I/O, open, bad descriptors, the fortified names, fork)
# prints the same lines on the kernel as under the shim three ways:
# disabled, passing through (no ACCEL_IP), and with a live tap port, where
# the program's thread owns a stack and its blocking reads wait in the shim.
. "$(dirname "$0")/lib.sh"
ns_setup
prog="$BUILD/tests/callmix"
out="$LOGDIR/callmix"

# The sockets on the port's address: the kernel runs have it on lo.
in_ns ip addr add 10.88.0.2/32 dev lo || fail "cannot address lo"
in_ns "$prog" > "$out.kernel" 2> "$out.kernel.err" ||
	fail "callmix on the kernel: $(cat "$out.kernel.err")"
note "$(wc -l < "$out.kernel") cases"

# run_shim NAME [VAR=VALUE...]: callmix under the shim, compared with the kernel.
run_shim() {
	local name=$1
	shift
	in_ns env -u ACCEL_IP "$@" "$ACCEL" "$prog" > "$out.$name" 2> "$out.$name.err" ||
		fail "callmix under the shim ($name): $(cat "$out.$name.err")"
	diff -u "$out.kernel" "$out.$name" ||
		fail "results differ between kernel and shim ($name)"
	note "$name: same"
}

run_shim disabled ACCEL_DISABLE=1
run_shim passthrough
# With the port, the stack has that address, and the program's raw
# kernel clients reach it through the tap (addressed when it appears).
in_ns ip addr del 10.88.0.2/32 dev lo
( tap_up acc0 10.88.0.1/24 ) &
run_shim port ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1
grep -Eq "[1-9][0-9]* stack\(s\)" "$out.port.err" ||
	fail "the program's thread did not own a stack: the shim's paths were not tested"
# its loopback connects are counted as the kernel's, and none of the
# shim's descriptors stayed among the program's
grep -q "through the kernel (fallback) [0-9]* accepted [1-9][0-9]* connected" "$out.port.err" ||
	fail "loopback connects not counted as fallbacks: $(grep fallback "$out.port.err")"
grep -q "left low 0$" "$out.port.err" || fail "shim descriptors left low: $(grep reserve "$out.port.err")"
exit 0
