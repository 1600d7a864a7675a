#!/bin/bash
# memcached (-t 4 -U 0) under the shim on a net_tap port, driven from the
# Linux side:
#  - the port's address answers ARP and ping;
#  - memccapable against the port's address (served by the userspace
#    stack) passes every test, and so does memccapable on 127.0.0.1
#    (served by the kernel) while memaslap loads the port for 20 s with
#    10 % of its gets verified: no errors, no verification failures;
#  - the idle process costs under 5 % of a core;
#  - with 2 % of the frames lost each way by the kernel (nftables rules on
#    the Linux side of the tap, lib.sh nft_loss; this kernel has no netem),
#    memaslap and memccapable still see no errors, and the rules' counters
#    show drops both ways.
. "$(dirname "$0")/lib.sh"
ns_setup
SECS=${SECS:-20}

start_memcached() { # $1 = log, rest = extra settings
	log=$1
	shift
	$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 "$@" \
		"$ACCEL" memcached -u root -t 4 -U 0 -p 11211 > "$log" 2>&1 &
	mc=$!
	tap_up acc0 10.88.0.1/24
	wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"
}

capable() { # $1 = address, $2 = label
	out=$(in_ns timeout 120 memccapable -h "$1" -p 11211 2>&1)
	note "memccapable $2 ($1): $(echo "$out" | tail -1)"
	echo "$out" | grep -q "All tests passed" || { echo "$out"; fail "memccapable $2"; }
	echo "$out" | grep -q "\[FAIL\]" && fail "memccapable $2 reported a failure"
	return 0
}

slap() { # $1 = seconds, $2 = label; memaslap against the port's address
	out=$(in_ns timeout $(($1 + 60)) memcaslap -s 10.88.0.2:11211 -t "$1s" -v 0.1 \
		-T 2 -c 16 2>&1) || { echo "$out"; fail "memaslap $2 did not finish"; }
	note "memaslap $2: $(echo "$out" | grep 'Run time' | tail -1)"
	echo "$out" | grep -q "verify_failed: 0" || { echo "$out"; fail "memaslap $2: verification failed"; }
	# (get misses are not errors: memccapable on 127.0.0.1 flushes the
	# cache while memaslap runs)
	echo "$out" | grep -iq "error\|fail to\|failed to" && { echo "$out"; fail "memaslap $2: errors"; }
	return 0
}

stop_memcached() {
	kill -TERM $mc
	wait $mc
	grep "stats:" "$log" | sed 's/^/   /'
}

start_memcached "$LOGDIR/memcached_tap.log"
out=$(in_ns ping -c 20 -i 0.05 -W 2 10.88.0.2) || true
echo "$out" | tail -2 | sed 's/^/   /'
echo "$out" | grep -q "20 received" || fail "ping: expected 20 replies"
in_ns ip neigh show 10.88.0.2 dev acc0 | grep -q lladdr ||
	fail "the kernel did not learn the port's MAC over ARP"

capable 10.88.0.2 "through the port"
slap "$SECS" "through the port" &
sp=$!
sleep 2
capable 127.0.0.1 "through the kernel, during the load"
# the counters while it runs (accel-stat reads the shim's stats file)
a=$("$BUILD/accel-stat" $mc | awk '$1 == "tcp_segs_in" { print $2 }')
sleep 2
b=$("$BUILD/accel-stat" $mc | awk '$1 == "tcp_segs_in" { print $2 }')
note "accel-stat $mc while loaded: tcp_segs_in $a, 2 s later $b"
[ -n "$a" ] && [ "$b" -gt "$a" ] || fail "accel-stat: counters not moving ($a, $b)"
wait $sp || fail "memaslap"

[ "$(cat /proc/$mc/comm)" = memcached ] || fail "lost track of memcached"
pct=$(cpu_percent $mc 5)
note "idle memcached: ${pct}% of a core over 5 s"
[ "$pct" -lt 5 ] || fail "idle CPU ${pct}% >= 5%"
stop_memcached
grep -q "icmp echo replies 20" "$log" || { cat "$log"; fail "stats at exit"; }
grep -q "passive" "$log" || fail "no connection went through the stack"
# memccapable on 127.0.0.1 was the kernel's: counted as fallbacks (more
# than the one of wait_tcp's probe)
grep -Eq "through the kernel \(fallback\) ([2-9]|[1-9][0-9]+) accepted" "$log" ||
	fail "the localhost connections were not counted: $(grep fallback "$log")"
in_ns ip link show acc0 >/dev/null 2>&1 && fail "tap interface left behind"
"$BUILD/accel-stat" $mc > /dev/null 2>&1 && fail "the stats file outlived the process"

note "loss 2% each way on the port, by the kernel:"
nft_loss acc0 2
start_memcached "$LOGDIR/memcached_tap.loss.log"
slap 10 "at 2% loss"
capable 10.88.0.2 "at 2% loss"
stop_memcached
nft_loss_check "at 2% loss"
exit 0
