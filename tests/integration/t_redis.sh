#!/bin/bash
# redis-server under the shim:
#  - in pass-through (no port), redis-benchmark and redis-cli work;
#  - on a net_tap port, redis-benchmark from the Linux side against the
#    port's address (every default test, -c 50 -n 100000) has no errors;
#    a BGSAVE (a fork) during load completes while the server keeps
#    serving; redis-cli works on 127.0.0.1 (the kernel) and on the port;
#  - --daemonize yes: the daemon serves through the port;
#  - with 2 % of the frames lost each way by the kernel (nftables rules on
#    the Linux side of the tap, lib.sh nft_loss), redis-benchmark has no
#    errors, and the rules' counters show drops both ways.
. "$(dirname "$0")/lib.sh"
ns_setup
N=${N:-100000}
DIR=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$DIR"' EXIT
PORTENV=(ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1)

start_redis() { # $1 = name, rest = env settings
	server=$1
	shift
	$NSX env "$@" "$ACCEL" redis-server --port 6379 --save "" --appendonly no \
		--protected-mode no --dir "$DIR" > "$LOGDIR/redis.$server.log" 2>&1 &
	pid=$!
	wait_tcp 127.0.0.1 6379 || fail "redis ($server) did not listen"
}

bench() { # $1 = label, $2 = host, rest = redis-benchmark options
	label=$1
	host=$2
	shift 2
	out=$(in_ns timeout 300 redis-benchmark -h "$host" -p 6379 -q "$@" 2>&1) ||
		{ echo "$out"; fail "redis-benchmark ($label) did not finish"; }
	out=$(echo "$out" | tr '\r' '\n' | grep "requests per second")
	echo "$out" | head -4 | sed "s/^/   $label: /"
	note "$label: $(echo "$out" | wc -l) tests"
	echo "$out" | grep -qi "error" && { echo "$out"; fail "redis-benchmark errors ($label)"; }
	[ "$(echo "$out" | wc -l)" -ge "$MIN_TESTS" ] ||
		{ echo "$out"; fail "redis-benchmark did not run its tests ($label)"; }
}

cli() { in_ns redis-cli -h "$1" -p 6379 "${@:2}"; }

stop_redis() {
	kill -TERM $pid
	wait $pid
	grep "stats:" "$LOGDIR/redis.$server.log" | sed 's/^/   /'
}

MIN_TESTS=10
start_redis passthrough ACCEL_LOG=warn
bench passthrough 127.0.0.1 -n 20000
[ "$(cli 127.0.0.1 set accel works)" = OK ] || fail "redis-cli set (passthrough)"
[ "$(cli 127.0.0.1 get accel)" = works ] || fail "redis-cli get (passthrough)"
stop_redis

start_redis port "${PORTENV[@]}"
tap_up acc0 10.88.0.1/24
bench port 10.88.0.2 -c 50 -n "$N"
[ "$(cli 10.88.0.2 set accel works)" = OK ] || fail "redis-cli set through the port"
[ "$(cli 127.0.0.1 get accel)" = works ] || fail "redis-cli get on 127.0.0.1"

# BGSAVE forks a child that writes the dump while the parent serves on.
in_ns redis-benchmark -h 10.88.0.2 -p 6379 -c 20 -n 300000 -t set,get -q \
	> "$LOGDIR/redis.bgsave.bench" 2>&1 &
bp=$!
sleep 1
[ "$(cli 10.88.0.2 bgsave)" = "Background saving started" ] || fail "BGSAVE refused"
for _ in $(seq 100); do
	cli 127.0.0.1 info persistence | grep -q "rdb_bgsave_in_progress:0" && break
	sleep 0.1
done
cli 10.88.0.2 info persistence | grep -q "rdb_last_bgsave_status:ok" || fail "BGSAVE failed"
[ -s "$DIR/dump.rdb" ] || fail "BGSAVE wrote no dump"
wait $bp || fail "redis-benchmark during BGSAVE"
tr '\r' '\n' < "$LOGDIR/redis.bgsave.bench" | grep -qi error && fail "errors during BGSAVE"
note "BGSAVE during load: ok, $(tr '\r' '\n' < "$LOGDIR/redis.bgsave.bench" |
	grep 'requests per second' | tail -1)"
[ "$(cli 10.88.0.2 get accel)" = works ] || fail "redis-cli after BGSAVE"
stop_redis

# --daemonize yes: the daemon (a forked child) serves through the port.
$NSX env "${PORTENV[@]}" "$ACCEL" redis-server --port 6379 --save "" --appendonly no \
	--protected-mode no --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" \
	--logfile "$DIR/redis.daemon.log" || fail "redis --daemonize yes"
tap_up acc0 10.88.0.1/24
wait_tcp 127.0.0.1 6379 || fail "the daemon did not listen"
for _ in $(seq 50); do [ -s "$DIR/redis.pid" ] && break; sleep 0.1; done
dpid=$(cat "$DIR/redis.pid")
[ "$(cli 10.88.0.2 ping)" = PONG ] || fail "the daemon does not answer through the port"
note "--daemonize yes: PONG through the port from the daemon, pid $dpid"
cli 127.0.0.1 shutdown nosave > /dev/null 2>&1
for _ in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done

note "loss 2% each way on the port, by the kernel:"
MIN_TESTS=2
nft_loss acc0 2
start_redis loss "${PORTENV[@]}"
tap_up acc0 10.88.0.1/24
bench "loss 2%" 10.88.0.2 -c 50 -n 20000 -t set,get
stop_redis
nft_loss_check "loss 2%"
exit 0
