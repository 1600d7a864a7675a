#!/bin/bash
# memcached (-t 4 -U 0) under the shim owns a net_tap port: the port's
# address answers ARP and ping from the Linux side while memcached itself
# serves through the kernel (memccapable on 127.0.0.1 passes every test),
# and the idle process costs little CPU.
. "$(dirname "$0")/lib.sh"
ns_setup
log="$LOGDIR/memcached_tap.log"

$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	"$ACCEL" memcached -u root -t 4 -U 0 -p 11211 > "$log" 2>&1 &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"

out=$(in_ns ping -c 20 -i 0.05 -W 2 10.88.0.2) || true
echo "$out" | tail -2 | sed 's/^/   /'
echo "$out" | grep -q "20 received" || fail "ping: expected 20 replies"
in_ns ip neigh show 10.88.0.2 dev acc0 | grep -q lladdr ||
	fail "the kernel did not learn the port's MAC over ARP"

out=$(in_ns memccapable -h 127.0.0.1 -p 11211 2>&1)
echo "$out" | tail -1 | sed 's/^/   /'
echo "$out" | grep -q "All tests passed" || { echo "$out"; fail "memccapable"; }
echo "$out" | grep -q "\[FAIL\]" && fail "memccapable reported a failure"

[ "$(cat /proc/$mc/comm)" = memcached ] || fail "lost track of memcached"
pct=$(cpu_percent $mc 3)
note "idle memcached: ${pct}% of a core over 3 s"
[ "$pct" -lt 5 ] || fail "idle CPU ${pct}% >= 5%"

kill -TERM $mc
wait $mc
grep -q "icmp echo replies 20" "$log" || { cat "$log"; fail "stats at exit"; }
grep "stats:" "$log" | sed 's/^/   /'
in_ns ip link show acc0 >/dev/null 2>&1 && fail "tap interface left behind"
exit 0
