#!/bin/bash
# Both ends bypassed: server and client, each under the shim with a port of
# its own, joined by net_memif (shared-memory rings between the two
# processes, as two hosts with DPDK NICs would be). Outgoing connects pick
# the port because the server's address is on the port's subnet.
#  - memaslap (verifying 10 % of gets) against memcached (-t 4, -m 1024, so
#    that nothing is evicted and a miss is an error): no errors, no misses;
#    then, idle, the five threads that served cost under 5 % of a core
#    (memif has no receive interrupt: one of them polls on a slice);
#  - redis-benchmark (SET, GET, INCR, LPUSH, LPOP, MSET) against
#    redis-server: no errors, and redis-cli under the shim works.
. "$(dirname "$0")/lib.sh"
ns_setup
SOCK="/tmp/accel-memif-test-$$.sock"
trap 'ns_cleanup; rm -f "$SOCK"' EXIT
mapfile -t SRV < <(memif_env server 10.77.0.1/24 "$SOCK" 512)
mapfile -t CLI < <(memif_env client 10.77.0.2/24 "$SOCK" 512)

server_stop() {
	kill -TERM $sp
	wait $sp
	grep "stats: .*tcp" "$1" | sed 's/^/   server /'
	grep -q "passive" "$1" || fail "the server's connections did not use the stack"
}

$NSX env "${SRV[@]}" ACCEL_STATS=1 "$ACCEL" memcached -u root -t 4 -U 0 -p 11211 -m 1024 \
	> "$LOGDIR/memif.memcached.log" 2>&1 &
sp=$!
wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"
out=$(in_ns env "${CLI[@]}" ACCEL_STATS=1 timeout 60 "$ACCEL" memcaslap \
	-s 10.77.0.1:11211 -t 5s -v 0.1 -T 1 -c 16 2>&1) || { echo "$out"; fail "memaslap"; }
note "memaslap under the shim: $(echo "$out" | grep 'Run time')"
echo "$out" | grep -q "verify_failed: 0" || { echo "$out"; fail "memaslap verification"; }
echo "$out" | grep -q "get_misses: 0" || { echo "$out"; fail "memaslap misses"; }
echo "$out" | grep -q "active" || { echo "$out"; fail "memaslap did not connect through its port"; }
pct=$(cpu_percent $sp 5)
note "idle memcached -t 4 over memif: ${pct}% of a core over 5 s"
[ "$pct" -lt 5 ] || fail "idle CPU ${pct}% >= 5%"
server_stop "$LOGDIR/memif.memcached.log"

$NSX env "${SRV[@]}" ACCEL_STATS=1 "$ACCEL" redis-server --port 6379 --save "" \
	--appendonly no --protected-mode no > "$LOGDIR/memif.redis.log" 2>&1 &
sp=$!
wait_tcp 127.0.0.1 6379 || fail "redis did not listen"
out=$(in_ns env "${CLI[@]}" timeout 120 "$ACCEL" redis-benchmark -h 10.77.0.1 -p 6379 \
	-c 32 -n 50000 -q -t set,get,incr,lpush,lpop,mset 2>&1) ||
	{ echo "$out"; fail "redis-benchmark"; }
out=$(echo "$out" | tr '\r' '\n' | grep "requests per second")
echo "$out" | sed 's/^/   redis-benchmark under the shim: /'
echo "$out" | grep -qi error && fail "redis-benchmark errors"
[ "$(echo "$out" | wc -l)" -ge 6 ] || fail "redis-benchmark did not run its tests"
[ "$(in_ns env "${CLI[@]}" "$ACCEL" redis-cli -h 10.77.0.1 -p 6379 set k v)" = OK ] ||
	fail "redis-cli under the shim"
server_stop "$LOGDIR/memif.redis.log"
exit 0
