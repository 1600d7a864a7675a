#!/bin/bash
# Redis's own "MIGRATE timeout actually works" (unit/dump), 20 runs, on the
# kernel and with its servers under the shim, as t_redis_suite.sh starts
# them (the Debian source's suite, src/redis-server the wrapper, a net_ring
# port per server, bind 0.0.0.0): the second server sleeps in DEBUG SLEEP
# 1.0 while the first MIGRATEs to it with a 500 ms timeout, which must end
# in IOERR (the first server is itself busy in its own code meanwhile:
# MIGRATE's reads and writes block). The suite's --loop with 4 clients runs the unit 4 at a time
# until 20 results are in: every one must be [ok], on both.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=20
TEST="MIGRATE timeout actually works"
TREE=$("$TOP/scripts/redis-src.sh") || fail "no source of Redis's test suite (above); it needs a Debian mirror with deb-src"
ns_setup
cd "$TREE" || fail "cannot enter $TREE"
for p in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
	install -m 755 "$HERE/redis_suite/redis-wrapper.sh" "src/$p"
done
export REDIS_SUITE_LAUNCHER="$ACCEL"

# Every process of the namespace: the suite's server, clients and the
# redis-servers they started.
stop_all() {
	for sig in TERM KILL; do
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			kill -$sig "$pid" 2>/dev/null
		done
		for _ in $(seq 20); do
			[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && return
			sleep 0.1
		done
	done
}

# Prints how many of the first RUNS results were [ok].
loop_runs() { # $1 = name, rest = env settings
	local name=$1 out="$LOGDIR/redis-migrate.$1.out" start=$SECONDS
	shift
	rm -rf tests/tmp/*
	$NSX env "$@" ./runtest --clients 4 --loop --config bind 0.0.0.0 \
		--single unit/dump --only "$TEST" > "$out" 2>&1 &
	for _ in $(seq 1200); do
		[ "$(grep -ac -E "\[.*(ok|err|exception).*\]: $TEST" "$out")" -ge $RUNS ] && break
		kill -0 $! 2>/dev/null || break
		sleep 0.1
	done
	stop_all
	wait $! 2>/dev/null
	sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -a -E "^\[(ok|err|exception)\]: $TEST" |
		head -$RUNS > "$LOGDIR/redis-migrate.$name.results"
	note "$name: $(wc -l < "$LOGDIR/redis-migrate.$name.results") results in $((SECONDS - start)) s" >&2
	grep -c "^\[ok\]" "$LOGDIR/redis-migrate.$name.results"
}

kok=$(loop_runs kernel)
note "kernel: $kok of $RUNS passed"
[ "$kok" -eq $RUNS ] || fail "kernel: $TEST passed $kok of $RUNS (see $LOGDIR/redis-migrate.kernel.out)"
sok=$(loop_runs shim REDIS_SUITE_SHIM=1 ACCEL_IP=10.99.0.2/24 ACCEL_STATS=1 \
	REDIS_SUITE_RING_ARGS="--no-huge -m 128 --no-pci")
note "shim: $sok of $RUNS passed"
# The servers' exit lines (SIGTERM): each had the shim's port up.
nup=$(cat tests/tmp/server*/stderr* 2>/dev/null | grep -c "stats: 1 stack(s)")
turns=$(cat tests/tmp/server*/stderr* 2>/dev/null |
	awk '/progress turns/ { for (i = 1; i < NF; i++) if ($i == "turns") n += $(i + 1) }
	END { print n + 0 }')
note "shim: $nup servers' exit lines with the port up, $turns progress turns in all"
[ "$nup" -ge $RUNS ] || fail "shim: only $nup servers ran with the port up"
[ "$sok" -eq $RUNS ] || fail "shim: $TEST passed $sok of $RUNS (see $LOGDIR/redis-migrate.shim.out)"
echo "PASS: redis_migrate"
