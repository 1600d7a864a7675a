#!/bin/bash
# An idle server under the shim costs next to nothing: memcached -t 4 over
# memif, with the defaults (no ACCEL_SPIN_US), after a short burst of load
# from memaslap (so that the threads' spins have grown, as they do under
# load), then idle with the client's end still connected (link up): its
# five threads together use under 2 % of a core over 10 s (utime+stime
# from /proc/PID/stat). memif has no receive interrupt: one sleeping
# thread polls the port on a slice (ACCEL_IDLE_POLL_US, stretched while
# nothing comes); the spins before sleeping fall back to a few
# microseconds once nothing comes. The server, started first, says at warn
# level that it waits for its client.
. "$(dirname "$0")/lib.sh"
ns_setup
SOCK="/tmp/accel-idlecpu-$$.sock"
trap 'ns_cleanup; rm -f "$SOCK"' EXIT
ARGS="--no-huge -m 512 --no-pci --vdev=net_memif0,socket=$SOCK"

$NSX env ACCEL_DPDK_ARGS="$ARGS,role=server" ACCEL_IP=10.77.0.1/24 "$ACCEL" \
	memcached -u root -t 4 -U 0 -p 11211 > "$LOGDIR/idlecpu.memcached.log" 2>&1 &
sp=$!
wait_tcp 127.0.0.1 11211 || fail "memcached did not listen"
# (a memif server does not wait for its client: it says so and serves)
wait_log "$LOGDIR/idlecpu.memcached.log" "warning: port 0: memif server waiting for its client" ||
	{ cat "$LOGDIR/idlecpu.memcached.log"; fail "the memif server did not say it waits"; }
# The load, and then a client that stays connected through its port (a
# shell under the shim holding a connection open, idle).
out=$(in_ns env ACCEL_DPDK_ARGS="$ARGS,role=client" ACCEL_IP=10.77.0.2/24 timeout 30 \
	"$ACCEL" memcaslap -s 10.77.0.1:11211 -t 2s -T 1 -c 16 2>&1) ||
	{ echo "$out"; fail "memaslap"; }
echo "$out" | grep -q "TPS" || { echo "$out"; fail "memaslap gave no figure"; }
$NSX env ACCEL_DPDK_ARGS="$ARGS,role=client" ACCEL_IP=10.77.0.2/24 "$ACCEL" \
	python3 -c 'import socket, time
s = socket.create_connection(("10.77.0.1", 11211))
s.sendall(b"version\r\n"); print(s.recv(100).decode().strip(), flush=True)
time.sleep(60)' > "$LOGDIR/idlecpu.client.log" 2>&1 &
cp=$!
for _ in $(seq 100); do grep -q VERSION "$LOGDIR/idlecpu.client.log" && break; sleep 0.1; done
grep -q VERSION "$LOGDIR/idlecpu.client.log" || { cat "$LOGDIR/idlecpu.client.log"; fail "idle client did not connect"; }
a=$(cpu_ticks $sp)
sleep 10
b=$(cpu_ticks $sp)
hz=$(getconf CLK_TCK)
permille=$(( (b - a) * 1000 / (hz * 10) ))
note "idle memcached -t 4 over memif, defaults: $((b - a)) ticks in 10 s = $((permille / 10)).$((permille % 10))% of a core"
kill -TERM $cp $sp
wait $sp
[ "$permille" -lt 20 ] || fail "idle CPU $((permille / 10)).$((permille % 10))% >= 2% of a core"
exit 0
