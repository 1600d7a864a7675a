#!/bin/bash
# memif clients that leave while they connect: memcached (-t 2) under the
# shim is a memif server; 150 clients connect its control socket and close
# it before the server's hello (memif_hello_race.py). DPDK 22.11's server
# then closes the socket but leaves its interrupt callback registered, and
# its interrupt thread aborted the program on the next rebuild of its
# epoll set (rte_panic: "Error adding fd N epoll_ctl, Bad file
# descriptor"), or ran the callback on the freed channel (SIGSEGV) when the
# number was given out again. Checks:
#  - memcached is alive after them, and answers through the kernel;
#  - the control sockets went: the server holds no more descriptors than
#    before them (give or take a few);
#  - a real client under the shim (memaslap over the memif pair) then
#    connects and is served: no errors;
#  - a memif server program whose descriptors fill its limit when the
#    interrupt thread must make its epoll set anew (memif_fdfull.py) lives
#    on (DPDK aborted it: rte_panic "Cannot create epoll instance").
. "$(dirname "$0")/lib.sh"
ns_setup
SOCK="/tmp/accel-memif-churn-$$.sock"
trap 'ns_cleanup; rm -f "$SOCK"' EXIT
mapfile -t SRV < <(memif_env server 10.77.0.1/24 "$SOCK")
mapfile -t CLI < <(memif_env client 10.77.0.2/24 "$SOCK")
log="$LOGDIR/memif_churn.memcached.log"

$NSX env "${SRV[@]}" ACCEL_LOG=info "$ACCEL" memcached -u root -t 2 -U 0 -p 11211 \
	> "$log" 2>&1 &
mc=$!
wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"
# (its port starts at its first wait on the listener: count after that)
wait_log "$log" "port 0 \(net_memif\) up" || { cat "$log"; fail "memcached's port did not start"; }
sleep 0.2
before=$(ls /proc/$mc/fd | wc -l)
# (DPDK 22.11's memif socket is abstract: in the namespace, under its path)
out=$(in_ns timeout 60 python3 "$(dirname "$0")/memif_hello_race.py" "$SOCK" 150 2>&1) ||
	{ echo "$out"; fail "the control-socket clients"; }
note "$out"
sleep 1
if ! kill -0 $mc 2>/dev/null; then
	wait $mc
	rc=$?
	grep -i "panic\|error" "$log" | head -5
	fail "memcached died (exit status $rc)"
fi
after=$(ls /proc/$mc/fd | wc -l)
note "memcached descriptors: $before before the clients, $after after"
[ "$after" -le $((before + 4)) ] || fail "control sockets left open: $before -> $after"
wait_tcp 127.0.0.1 11211 || fail "memcached does not answer through the kernel"

out=$(in_ns env "${CLI[@]}" ACCEL_STATS=1 timeout 60 "$ACCEL" memcaslap -s 10.77.0.1:11211 -t 2s \
	-T 1 -c 8 2>&1) || { echo "$out"; fail "memaslap over the memif pair"; }
note "memaslap under the shim: $(echo "$out" | grep 'Run time')"
echo "$out" | grep -q "Run time" || { echo "$out"; fail "memaslap did not run"; }
echo "$out" | grep -v "^libaccel" | grep -iq "error\|fail to\|failed to" &&
	{ echo "$out"; fail "memaslap: errors"; }
echo "$out" | grep -q "active" || { echo "$out"; fail "memaslap did not connect through its port"; }
kill -0 $mc 2>/dev/null || fail "memcached died after the clients"
kill -TERM $mc
wait $mc

# A memif server that holds every number under its limit when the
# interrupt thread must make a new epoll set (memif_fdfull.py): DPDK aborted
# the program (rte_panic "Cannot create epoll instance"); the set is made
# in the shim's reserve.
out=$(in_ns env "${SRV[@]}" timeout 60 "$ACCEL" python3 "$(dirname "$0")/memif_fdfull.py" \
	"$SOCK" 2>&1)
rc=$?
note "a server at its descriptor limit: $(echo "$out" | grep -v '^libaccel' | tail -1)"
[ $rc -eq 0 ] && echo "$out" | grep -q "^alive" ||
	{ echo "$out" | tail -5; fail "the server at its descriptor limit (exit status $rc)"; }
exit 0
