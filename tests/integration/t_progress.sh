#!/bin/bash
# The stack keeps running while the program is busy in its own code (the
# progress thread, sockets/progress.c): redis-server in DEBUG SLEEP 2
# answers new connections' handshakes at once, as the kernel does.
#  - the kernel: redis-server in the namespace, connects from the Linux
#    side to 127.0.0.1 during the sleep (the reference figures);
#  - the shim on a net_tap port with the defaults: connects to the port's
#    address during the sleep; the median under 10 ms and none over 100
#    (with no progress thread each waited for the SYN's retransmission,
#    1 s or more), the progress thread's turns counted at exit;
#  - the same server idle for 3 s uses under 2 % of a core (the thread
#    parks while redis sleeps in epoll_wait).
. "$(dirname "$0")/lib.sh"
ns_setup
DIR=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$DIR"' EXIT
PY="$(dirname "$0")/busy_connect.py"
COUNT=8

start_redis() { # $1 = name, rest = env settings
	server=$1
	shift
	$NSX env "$@" "$ACCEL" redis-server --port 6379 --save "" --appendonly no \
		--protected-mode no --enable-debug-command yes --dir "$DIR" > "$LOGDIR/progress.$server.log" 2>&1 &
	pid=$!
	wait_tcp 127.0.0.1 6379 || fail "redis ($server) did not listen"
}

stop_redis() {
	kill -TERM $pid
	wait $pid
}

# Sets med and max to the median and longest connect time (ms) during
# DEBUG SLEEP 2.
busy_connects() { # $1 = label, $2 = host
	in_ns timeout 20 python3 "$PY" "$2" 6379 2 $COUNT > "$DIR/$1.ms" ||
		fail "connects during DEBUG SLEEP ($1): $(cat "$DIR/$1.ms")"
	[ "$(wc -l < "$DIR/$1.ms")" -eq $COUNT ] || fail "not $COUNT connects ($1)"
	read -r med max <<< "$(sort -n "$DIR/$1.ms" |
		awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], v[NR]}')"
}

start_redis kernel ACCEL_DISABLE=1
busy_connects kernel 127.0.0.1
kmed=$med kmax=$max
note "kernel: handshake during DEBUG SLEEP 2: median $kmed ms, max $kmax ms"
stop_redis

start_redis shim ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1
tap_up acc0 10.88.0.1/24
[ "$(in_ns redis-cli -h 10.88.0.2 -p 6379 ping)" = PONG ] || fail "redis-cli ping on the port"
busy_connects shim 10.88.0.2
smed=$med smax=$max
note "shim: handshake during DEBUG SLEEP 2: median $smed ms, max $smax ms"
awk -v m="$smed" 'BEGIN {exit !(m < 10)}' ||
	fail "shim: median handshake $smed ms during DEBUG SLEEP (kernel $kmed ms)"
awk -v m="$smax" 'BEGIN {exit !(m < 100)}' ||
	fail "shim: a handshake took $smax ms during DEBUG SLEEP (kernel $kmax ms)"
[ "$(in_ns redis-cli -h 10.88.0.2 -p 6379 ping)" = PONG ] || fail "redis-cli after the sleep"
sleep 0.5
idle=$(cpu_percent $pid 3)
note "shim: idle redis-server with the progress thread: $idle % of a core over 3 s"
[ "$idle" -lt 2 ] || fail "idle redis-server under the shim used $idle % of a core"
stop_redis
turns=$(grep -o "progress turns [0-9]*" "$LOGDIR/progress.shim.log" | awk '{print $3}')
note "shim: progress turns $turns"
[ "${turns:-0}" -gt 0 ] || fail "the progress thread gave no turn"
echo "PASS: progress"
