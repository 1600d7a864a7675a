#!/bin/bash
# A program that connects to its own address: selfconn (a closed port,
# blocking and not, and an open one, a listener on the wildcard and one on
# the address, with data each way, and a server thread that answers while
# the client thread sleeps outside any socket call) prints the same lines on the kernel,
# where the address is on lo, as under the shim, where it is the port's
# and the userspace stack serves it through its own loopback: refused at
# once, or connected, never an ARP for itself (which gave EHOSTUNREACH
# after 3 s, or 72 s).
. "$(dirname "$0")/lib.sh"
ns_setup
prog="$BUILD/tests/selfconn"
out="$LOGDIR/selfconn"

in_ns ip addr add 10.88.0.2/32 dev lo || fail "cannot put the address on lo"
in_ns timeout 60 "$prog" 10.88.0.2 > "$out.kernel" 2> "$out.kernel.err" ||
	fail "selfconn on the kernel: $(cat "$out.kernel.err")"
in_ns ip addr del 10.88.0.2/32 dev lo
note "$(wc -l < "$out.kernel") cases on the kernel"
grep -q "slow" "$out.kernel" && fail "the kernel's own run was slow: $(grep slow "$out.kernel")"

in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	timeout 120 "$ACCEL" "$prog" 10.88.0.2 > "$out.port" 2> "$out.port.err" ||
	fail "selfconn under the shim: $(cat "$out.port" "$out.port.err")"
diff -u "$out.kernel" "$out.port" || fail "results differ between kernel and shim"
note "port: same"
# the stack served them (the kernel has no such address here): 5
# accepted, 13 connected, none through the kernel; and its thousands of
# segments never went to the port (tx: the gratuitous ARP)
grep -q "through the stack 5 accepted 13 connected, through the kernel (fallback) 0 accepted 0 connected" \
	"$out.port.err" || fail "the connects did not all go through the stack: $(grep connections "$out.port.err")"
segs=$(sed -n 's/.*tcp segs in [0-9]* out \([0-9]*\),.*/\1/p' "$out.port.err")
tx=$(sed -n 's/.* tx \([0-9]*\) pkts .*/\1/p' "$out.port.err")
note "stack: $segs segments out, $tx frames to the port"
[ "${segs:-0}" -gt 1000 ] && [ "${tx:-99}" -lt 3 ] ||
	fail "segments to ourselves went to the port ($segs out, $tx sent)"
# with two stacks the server thread's connection moves to the other one,
# and the looped segments of it are steered there: the same lines
in_ns env ACCEL_QUEUES=2 ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	timeout 120 "$ACCEL" "$prog" 10.88.0.2 > "$out.queues" 2> "$out.queues.err" ||
	fail "selfconn on two stacks: $(cat "$out.queues" "$out.queues.err")"
diff -u "$out.kernel" "$out.queues" || fail "results differ between kernel and shim (two stacks)"
steered=$(sed -n 's/.*segments steered \([0-9]*\),.*/\1/p' "$out.queues.err")
note "two stacks: same, $steered looped segments steered to the other stack"
[ "${steered:-0}" -gt 0 ] || fail "two stacks: nothing was steered: $(grep steered "$out.queues.err")"
exit 0
