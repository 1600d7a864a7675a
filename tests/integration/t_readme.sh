#!/bin/bash
# The README's recipes, run as written: every fenced block whose info
# string is "sh recipe=NAME" is extracted and run by bash -e, as a user
# pasting it would, in this test's network namespace with `accel` on PATH.
#  - tap: memcached on a tap port; memccapable passes through the port,
#    memaslap's run ends without errors, and the frames crossed acc0;
#  - tap-second (with tap's memcached still running): redis on a second
#    tap port; redis-benchmark's SET and GET give rates, the kernel path
#    answers PONG, and memcached on the first port still answers;
#  - memif: memaslap under the shim against memcached under the shim over
#    a memif pair, then both on the kernel: each gives a rate.
# Any block marked recipe= that this test does not know fails it, so a new
# recipe gets its checks here.
. "$(dirname "$0")/lib.sh"
ns_setup
README="$TOP/README.md"
WORK=$(mktemp -d "$LOGDIR/readme.XXXXXX")
trap 'ns_cleanup; rm -rf "$WORK"' EXIT

# Writes the block of recipe $1 to $WORK/$1.sh.
extract() {
	awk -v name="$1" '
		$0 == "```sh recipe=" name { on = 1; next }
		on && /^```$/ { exit }
		on { print }' "$README" > "$WORK/$1.sh"
	[ -s "$WORK/$1.sh" ] || fail "README has no recipe $1"
}

# Runs recipe $1 as written; its output (and its background servers') in
# $WORK/$1.log.
run_recipe() {
	local t0=$SECONDS rc
	extract "$1"
	(cd "$WORK" && timeout 90 ip netns exec "$NS" env PATH="$BUILD:$PATH" \
		bash -e "$WORK/$1.sh" > "$WORK/$1.log" 2>&1)
	rc=$?
	cp "$WORK/$1.log" "$LOGDIR/readme-$1.log"
	[ $rc = 0 ] || { tail -20 "$WORK/$1.log"; fail "recipe $1 exited $rc"; }
	note "recipe $1: ran in $((SECONDS - t0)) s"
}

# True when no listening TCP socket and no bound unix socket by path
# (memif's) is left in the namespace. A process leaves `ip netns pids`
# when its main thread has ended; its descriptors close when its last
# thread has (ci: the next recipe's memcached found 11211 in use and
# exited, and that recipe waited for it until its timeout).
sockets_gone() {
	[ -z "$(in_ns ss -Hltn)" ] && [ -z "$(in_ns ss -Hlx | grep -v '@')" ]
}

# Stops every program the recipes left running in the namespace: SIGTERM,
# as a user stops a server, and 5 s for them and their sockets to end.
# One that did not fails the test, named with its threads' states and
# stacks (a server that hangs at exit: the user's shell would wait on
# it); the EXIT trap's ns_cleanup kills it.
stop_all() {
	local pid t left
	for pid in $(ip netns pids "$NS"); do kill -TERM "$pid" 2>/dev/null; done
	for _ in $(seq 50); do
		[ -z "$(ip netns pids "$NS")" ] && sockets_gone && return 0
		sleep 0.1
	done
	left=$(ip netns pids "$NS")
	{ echo "listening 5 s after SIGTERM:"; in_ns ss -Hltnxp; } > "$WORK/stop.log"
	for pid in $left; do
		echo "pid $pid ($(cat /proc/$pid/comm 2>/dev/null)) still running 5 s after SIGTERM:"
		for t in /proc/$pid/task/*; do
			echo "  thread $(basename "$t") $(cat "$t/comm" 2>/dev/null):" \
				"state $(awk '{ print $3 }' "$t/stat" 2>/dev/null)," \
				"wchan $(cat "$t/wchan" 2>/dev/null)"
		done
		timeout 20 gdb -p "$pid" -batch -ex "thread apply all bt" 2>&1 | grep "^#\|^Thread"
	done >> "$WORK/stop.log"
	cp "$WORK/stop.log" "$LOGDIR/readme-stop.log"
	head -60 "$WORK/stop.log"
	fail "a recipe's server did not end on SIGTERM"
}

# Frames the kernel's side of tap $1 received (the port sent them).
rx_packets() {
	in_ns cat "/sys/class/net/$1/statistics/rx_packets"
}

known="tap tap-second memif"
for name in $(sed -n 's/^```sh recipe=\(.*\)$/\1/p' "$README"); do
	[[ " $known " == *" $name "* ]] || fail "README recipe $name has no checks in t_readme.sh"
done

run_recipe tap
log=$WORK/tap.log
grep -q "All tests passed" "$log" || { cat "$log"; fail "tap: memccapable did not pass"; }
grep -q "\[FAIL\]" "$log" && fail "tap: memccapable reported a failure"
grep -q "TPS:" "$log" || { cat "$log"; fail "tap: memaslap gave no rate"; }
grep -q "verify_failed: 0" "$log" || fail "tap: memaslap's verification failed"
grep -iq "fail to\|failed to" "$log" && fail "tap: memaslap errors"
note "tap: $(grep 'TPS:' "$log" | tail -1)"
mc_rx=$(rx_packets acc0)
[ "$mc_rx" -gt 1000 ] || fail "tap: only $mc_rx frames came out of acc0"

run_recipe tap-second
log=$WORK/tap-second.log
for op in SET GET; do
	line=$(tr '\r' '\n' < "$log" | grep "^$op: [0-9.]* requests per second" | tail -1)
	[ -n "$line" ] || { cat "$log"; fail "tap-second: redis-benchmark gave no $op rate"; }
	note "tap-second: $line"
done
tail -1 "$log" | grep -q PONG || fail "tap-second: redis-cli on 127.0.0.1 did not answer PONG"
[ "$(rx_packets acc1)" -gt 1000 ] || fail "tap-second: too few frames out of acc1"
in_ns memcstat --servers=10.88.0.2 | grep -q uptime ||
	fail "memcached on the first port stopped answering beside the second server"
stop_all

run_recipe memif
log=$WORK/memif.log
n=$(grep -c "TPS: [1-9]" "$log")
[ "$n" = 2 ] || { cat "$log"; fail "memif: expected 2 memaslap rates (bypass, kernel), got $n"; }
note "memif: bypass $(grep -o 'TPS: [0-9]*' "$log" | head -1), kernel $(grep -o 'TPS: [0-9]*' "$log" | tail -1)"
grep -iq "fail to\|failed to" "$log" && fail "memif: memaslap errors"
stop_all
exit 0
