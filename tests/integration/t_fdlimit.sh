#!/bin/bash
# The program's descriptors under the shim are where the kernel's would be
# (preload/fdreserve.h): fdlimit prints the numbers it gets, how many it
# can open under a soft limit of 64, and what dup2, F_DUPFD and setrlimit
# say at the limit, on the kernel and under the shim with a live tap port
# and three threads that waited on a bypass listener; the two outputs must
# be identical. While it serves its last connection (after close_range
# and closefrom over the whole table, through the port under the shim),
# the process has as many descriptors below 1024 as on the kernel.
. "$(dirname "$0")/lib.sh"
ns_setup
prog="$BUILD/tests/fdlimit"
out="$LOGDIR/fdlimit"

# run NAME ADDR [prefix...]: fdlimit, then one echo through ADDR:7788.
run() {
	local name=$1 addr=$2 pid low
	shift 2
	$NSX "$@" "$prog" > "$out.$name" 2> "$out.$name.err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "^listening" "$out.$name" && break
		sleep 0.1
	done
	grep -q "^listening" "$out.$name" || fail "fdlimit ($name) did not get to its last case"
	[ "$name" = kernel ] || tap_up acc0 10.88.0.1/24
	low=$(ls "/proc/$pid/fd" | awk '$1 < 1024' | wc -l)
	echo "$name $low" >> "$out.low"
	in_ns timeout 10 bash -c "exec 3<>/dev/tcp/$addr/7788; echo hello >&3; head -c 6 <&3" \
		> /dev/null || fail "no echo from fdlimit ($name) through $addr"
	wait $pid || fail "fdlimit ($name): $(cat "$out.$name.err")"
}

rm -f "$out.low"
run kernel 127.0.0.1
note "kernel: $(wc -l < "$out.kernel") lines"
run shim 10.88.0.2 env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 "$ACCEL"
diff -u "$out.kernel" "$out.shim" || fail "descriptors differ between kernel and shim"
note "shim: same lines"
grep -q "1 passive" "$out.shim.err" || fail "the last connection did not go through the stack"
read -r _ k < <(grep kernel "$out.low")
read -r _ s < <(grep shim "$out.low")
note "descriptors below 1024 while serving: kernel $k, shim $s"
[ "$k" = "$s" ] || fail "the shim's own descriptors sit among the program's"
exit 0
