#!/bin/bash
# A stack per thread (ACCEL_QUEUES > 1): each thread of the program gets a
# stack of its own on a queue of its own, a connection moves once to the
# stack of the thread that first uses it, and the other stacks steer its
# segments there.
#  - memcached -t 4 on a 4-queue tap port: its accepting thread takes each
#    connection from the listener's stack and hands it to a worker on
#    another; memccapable through the port passes every test, memaslap
#    (10 % of gets verified) sees no error, accel-stat shows 4 stacks and
#    the handoffs while it runs, localhost still reaches the kernel half,
#    and idle it costs under 5 % of a core;
#  - tests/progs/sockthreads on 4 queues: 8 threads connecting, echoing and
#    closing at once across the stacks, and a blocked read that another
#    thread's close ends;
#  - both ends bypassed over a 2-queue memif pair: memaslap -T 2 against
#    memcached -t 2, no error and no miss, with connections handed over
#    and segments steered in both processes.
. "$(dirname "$0")/lib.sh"
ns_setup
SOCK="/tmp/accel-memif-handoff-$$.sock"
trap 'ns_cleanup; rm -f "$SOCK"' EXIT

counter() { # $1 = pid, $2 = accel-stat counter
	"$BUILD/accel-stat" "$1" | awk -v k="$2" '$1 == k { print $2 }'
}

exit_count() { # $1 = log, $2 = word before the count on the exit line
	grep -o "$2 [0-9]*" "$1" | head -1 | awk '{ print $NF }'
}

# ---- memcached -t 4, 4 queues, tap --------------------------------------
log="$LOGDIR/handoff.memcached.log"
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_QUEUES=4 ACCEL_STATS=1 \
	"$ACCEL" memcached -u root -t 4 -U 0 -p 11211 > "$log" 2>&1 &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"
out=$(in_ns timeout 120 memccapable -h 10.88.0.2 -p 11211 2>&1)
note "memccapable through the port: $(echo "$out" | tail -1)"
echo "$out" | grep -q "All tests passed" || { echo "$out"; fail "memccapable"; }
out=$(in_ns timeout 90 memcaslap -s 10.88.0.2:11211 -t 10s -v 0.1 -T 2 -c 16 2>&1) ||
	{ echo "$out"; fail "memaslap did not finish"; }
note "memaslap through the port: $(echo "$out" | grep 'Run time' | tail -1)"
echo "$out" | grep -q "verify_failed: 0" || { echo "$out"; fail "memaslap verification"; }
echo "$out" | grep -iq "error\|fail to\|failed to" && { echo "$out"; fail "memaslap errors"; }
stacks=$(counter $mc stacks)
handoffs=$(counter $mc handoffs)
note "accel-stat: stacks $stacks, handoffs $handoffs, steered $(counter $mc tcp_steered)"
[ "$stacks" = 4 ] || fail "expected 4 stacks, accel-stat says '$stacks'"
[ "${handoffs:-0}" -gt 0 ] || fail "no connection was handed to a worker's stack"
out=$(in_ns timeout 60 memccapable -h 127.0.0.1 -p 11211 2>&1)
echo "$out" | grep -q "All tests passed" || { echo "$out"; fail "memccapable on localhost"; }
pct=$(cpu_percent $mc 5)
note "idle memcached -t 4 on 4 stacks: ${pct}% of a core over 5 s"
[ "$pct" -lt 5 ] || fail "idle CPU ${pct}% >= 5%"
kill -TERM $mc
wait $mc
grep "stats:" "$log" | sed 's/^/   /'
grep -q "4 stack(s)" "$log" || fail "exit line: not 4 stacks"
[ "$(exit_count "$log" handoffs)" -gt 0 ] || fail "exit line: no handoffs"
grep -q "dropped tcp_no_conn" "$log" && fail "segments found no connection (a steering miss)"

# ---- threads across 4 stacks -------------------------------------------
$NSX python3 "$(dirname "$0")/sock_peer.py" > "$LOGDIR/handoff.peer" 2>&1 &
wait_tcp 127.0.0.1 7001 || fail "the echo peer did not start"
( tap_up acc0 10.88.0.1/24 ) &
out=$(in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_QUEUES=4 \
	ACCEL_STATS=1 timeout 120 "$ACCEL" "$BUILD/tests/sockthreads" 10.88.0.1 8 50 2>&1) ||
	{ echo "$out"; fail "sockthreads failed or hung on 4 stacks"; }
echo "$out" | grep -v "^libaccel" | sed 's/^/   sockthreads: /'
echo "$out" | grep -q "^ok 400$" || { echo "$out"; fail "not every echo completed"; }
echo "$out" | grep -q "4 stack(s)" || { echo "$out"; fail "sockthreads: not 4 stacks"; }
echo "$out" | grep -q "opens 401 active" || { echo "$out"; fail "connections missed the stacks"; }

# ---- both ends, 2 queues each, memif -----------------------------------
memif() { # $1 = role, $2 = address
	echo "ACCEL_DPDK_ARGS=--no-huge -m 512 --no-pci --vdev=net_memif0,role=$1,socket=$SOCK"
	echo "ACCEL_IP=$2"
	echo "ACCEL_QUEUES=2"
	echo "ACCEL_STATS=1"
}
mapfile -t SRV < <(memif server 10.77.0.1/24)
mapfile -t CLI < <(memif client 10.77.0.2/24)
log="$LOGDIR/handoff.memif.log"
$NSX env "${SRV[@]}" "$ACCEL" memcached -u root -t 2 -U 0 -p 11211 -m 1024 > "$log" 2>&1 &
mc=$!
wait_tcp 127.0.0.1 11211 || fail "memcached (memif) did not listen"
out=$(in_ns env "${CLI[@]}" timeout 60 "$ACCEL" memcaslap -s 10.77.0.1:11211 -t 5s \
	-v 0.1 -T 2 -c 16 2>&1) || { echo "$out"; fail "memaslap over memif"; }
note "memaslap under the shim, 2 stacks each: $(echo "$out" | grep 'Run time')"
echo "$out" | grep -q "verify_failed: 0" || { echo "$out"; fail "memaslap verification"; }
echo "$out" | grep -q "get_misses: 0" || { echo "$out"; fail "memaslap misses"; }
echo "$out" | grep "stats: handoffs" | sed 's/^/   client /'
[ "$(echo "$out" | grep -o 'steered [0-9]*' | awk '{ print $2 }')" -gt 0 ] ||
	fail "the client steered nothing: its replies all came on the right queue?"
kill -TERM $mc
wait $mc
grep "stats: handoffs" "$log" | sed 's/^/   server /'
[ "$(exit_count "$log" handoffs)" -gt 0 ] || fail "memif server: no handoffs"
[ "$(grep -o 'steered [0-9]*' "$log" | awk '{ print $2 }')" -gt 0 ] ||
	fail "memif server: nothing steered"
exit 0
