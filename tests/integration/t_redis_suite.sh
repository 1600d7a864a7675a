#!/bin/bash
# Redis's own test suite, of the very redis-server Debian ships (its source
# package, fetched by scripts/redis-src.sh), run on the kernel as the
# reference and under the shim, with the same units and options:
#  - external mode (./runtest --host --port): one redis-server, the suite's
#    client talking to it; on the kernel over 127.0.0.1, under the shim
#    through a net_tap port (ACCEL_IP), checked with the shim's counters;
#  - units that start their own servers (src/redis-server is a wrapper
#    that runs /usr/bin/redis-server, under the shim in the shim's run):
#    each of those servers has a port of its own, a net_ring loopback (a
#    tap each would cost more than the suite's starts allow), so its stack
#    runs in every poll and epoll call while the suite's connections, all
#    on 127.0.0.1, take the shim's kernel path; every server is checked to
#    have had libaccel loaded and its port up.
# Every test that passes on the kernel must pass under the shim.
# REDIS_EXT_UNITS / REDIS_SELF_UNITS override the unit lists (measuring).
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
EXT_UNITS=${REDIS_EXT_UNITS:-"unit/printver unit/auth unit/protocol unit/keyspace unit/scan
unit/info unit/info-command unit/type/string unit/type/incr unit/type/zset unit/type/hash
unit/type/stream-cgroups unit/sort unit/expire unit/other unit/multi unit/quit unit/acl
unit/acl-v2 unit/pubsub unit/pubsubshard unit/slowlog unit/scripting unit/functions
unit/introspection-2 unit/bitops unit/bitfield unit/lazyfree unit/tracking unit/querybuf"}
SELF_UNITS=${REDIS_SELF_UNITS:-"unit/shutdown unit/networking unit/introspection unit/limits
unit/oom-score-adj unit/wait unit/pause unit/dump integration/redis-cli
integration/redis-benchmark integration/rdb integration/aof integration/logging
integration/block-repl integration/replication-2 integration/replication-3"}
SELF_CLIENTS=${REDIS_SELF_CLIENTS:-2}
# The suite's servers listen on every address (not its default 127.0.0.1),
# on the kernel too: under the shim that makes their listeners the shim's,
# on the port and the kernel, and the suite's connections the kernel side's.
SELF_OPTS="--clients $SELF_CLIENTS --config bind 0.0.0.0"
EXT_TIMEOUT=${REDIS_EXT_TIMEOUT:-200}
SELF_TIMEOUT=${REDIS_SELF_TIMEOUT:-150}

TREE=$("$TOP/scripts/redis-src.sh") || fail "no source of Redis's test suite (above); it needs a Debian mirror with deb-src"
ns_setup
DIR=$(mktemp -d)
SAMPLER=""
cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	ns_cleanup
	rm -rf "$DIR"
}
trap cleanup EXIT
cd "$TREE" || fail "cannot enter $TREE"
for p in redis-server redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
	install -m 755 "$HERE/redis_suite/redis-wrapper.sh" "src/$p"
done
export REDIS_SUITE_LAUNCHER="$ACCEL"
OUT="$LOGDIR/redis-suite"
mkdir -p "$OUT"

# Only units this source has (a later Debian update may add or drop some).
units_of() {
	for u in $1; do
		[ -f "tests/$u.tcl" ] && printf -- "--single %s " "$u"
	done
}

runtest() { # $1 = log name, $2 = time bound (s), rest = runtest options
	rm -rf tests/tmp/*
	local name=$1 limit=$2
	shift 2
	local start=$SECONDS
	# shellcheck disable=SC2046
	in_ns timeout "$limit" ./runtest --timeout 120 --dump-logs "$@" \
		> "$OUT/$name.out" 2>&1
	local rc=$?
	[ $rc -eq 124 ] && note "$name: did not finish in $limit s"
	ELAPSED=$((SECONDS - start))
	note "$name: $ELAPSED s, exit $rc"
	# what a stopped run left behind (the suite kills its own servers)
	for pid in $(ip netns pids "$NS" 2>/dev/null); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] || continue
		[ "$pid" = "${keep:-}" ] || kill -KILL "$pid" 2>/dev/null
	done
}

ext_conf() { # $1 = mode: a config like the suite's default.conf, any address
	mkdir -p "$DIR/$1"
	sed -e 's/^bind .*/bind 0.0.0.0/' -e 's/^save .*/save ""/' -e '/^pidfile/d' \
		-e "s|^dir .*|dir $DIR/$1|" tests/assets/default.conf > "$DIR/$1.conf"
	printf "\nprotected-mode no\n" >> "$DIR/$1.conf"
}

# --- external mode, kernel
ext_conf kernel
$NSX /usr/bin/redis-server "$DIR/kernel.conf" > "$OUT/ext-kernel.server.log" 2>&1 &
kpid=$!
keep=$kpid
wait_tcp 127.0.0.1 6379 || fail "redis-server (kernel) did not listen"
# shellcheck disable=SC2046
runtest ext-kernel "$EXT_TIMEOUT" --host 127.0.0.1 --port 6379 --tags -needs:repl $(units_of "$EXT_UNITS")
kill -TERM $kpid
wait $kpid

# --- external mode, under the shim through the tap port
ext_conf shim
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 "$ACCEL" \
	/usr/bin/redis-server "$DIR/shim.conf" > "$OUT/ext-shim.server.log" 2>&1 &
spid=$!
keep=$spid
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 6379 || fail "redis-server (shim) did not listen on the port"
# shellcheck disable=SC2046
runtest ext-shim "$EXT_TIMEOUT" --host 10.88.0.2 --port 6379 --tags -needs:repl $(units_of "$EXT_UNITS")
kill -TERM $spid
wait $spid
grep "stats:" "$OUT/ext-shim.server.log" | sed 's/^/   /'
accepted=$(sed -n 's/.*connections through the stack \([0-9]*\) accepted.*/\1/p' \
	"$OUT/ext-shim.server.log")
segs=$(sed -n 's/.*tcp segs in \([0-9]*\) out.*/\1/p' "$OUT/ext-shim.server.log")
[ "${accepted:-0}" -ge 20 ] && [ "${segs:-0}" -ge 10000 ] ||
	fail "the shim's run did not go through the port (accepted ${accepted:-none}, segments in ${segs:-none})"

# --- units that start their own servers: kernel, then under the shim
# shellcheck disable=SC2046
runtest self-kernel "$SELF_TIMEOUT" $SELF_OPTS $(units_of "$SELF_UNITS")
# The shim's run starts each of its servers with a DPDK port (about a
# third longer here: 82 s against 60): its bound follows the kernel run's
# time on this machine, not a figure taken on another (a clean-clone CI
# once cut it off with units left unrun).
SHIM_TIMEOUT=$((2 * ELAPSED + 60))
[ "$SHIM_TIMEOUT" -ge "$SELF_TIMEOUT" ] || SHIM_TIMEOUT=$SELF_TIMEOUT

# Every redis-server the shim's run starts must have the library loaded.
sample_servers() {
	while :; do
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			# The name, and Debian's binary (redis-server is a link to
			# redis-check-rdb): the wrapper script before its exec has
			# the name too.
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] || continue
			[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f /usr/bin/redis-server)" ] ||
				continue
			if grep -q libaccel.so "/proc/$pid/maps" 2>/dev/null; then
				echo "$pid shim"
			elif [ -e "/proc/$pid/maps" ]; then
				echo "$pid kernel"
			fi
		done
		sleep 0.5
	done
}
sample_servers > "$DIR/servers" &
SAMPLER=$!
# shellcheck disable=SC2046
REDIS_SUITE_SHIM=1 ACCEL_IP=10.99.0.2/24 ACCEL_STATS=1 \
	REDIS_SUITE_RING_ARGS="--no-huge -m 128 --no-pci" \
	runtest self-shim "$SHIM_TIMEOUT" $SELF_OPTS --dont-clean $(units_of "$SELF_UNITS")
kill "$SAMPLER"
wait "$SAMPLER" 2>/dev/null
SAMPLER=""
nshim=$(awk '$2 == "shim" { print $1 }' "$DIR/servers" | sort -u | wc -l)
# Without it: seen twice without and never with (a sample taken just after
# the exec, before the loader mapped the library, is not one).
nkern=$(awk '$2 == "shim" { with[$1] = 1 } $2 == "kernel" { without[$1]++ }
	END { for (p in without) if (!(p in with) && without[p] > 1) n++; print n + 0 }' \
	"$DIR/servers")
note "self-started servers seen: $nshim with libaccel, $nkern without"
[ "$nshim" -ge 5 ] && [ "$nkern" -eq 0 ] ||
	fail "the self-started servers did not all run under the shim ($nshim with, $nkern without)"
# Their exit lines (servers the suite killed with SIGKILL print none).
cat tests/tmp/server*/stderr* 2>/dev/null | awk '
	/stats: 1 stack\(s\)/ { up++ }
	/through the kernel \(fallback\)/ { for (i = 1; i < NF; i++)
		if ($i == "(fallback)") acc += $(i + 1) }
	END { printf "%d %d\n", up, acc }' > "$DIR/exits"
read -r nup nacc < "$DIR/exits"
note "self-started servers' exit lines: $nup with the port up, $nacc connections accepted through the kernel path"
[ "$nup" -ge 5 ] && [ "$nacc" -ge 50 ] ||
	fail "the self-started servers did not run with the port up ($nup exit lines, $nacc connections)"

rc=0
note "external mode (kernel over 127.0.0.1, shim through the tap port):"
python3 "$HERE/redis_suite/compare.py" "$OUT/ext-kernel.out" "$OUT/ext-shim.out" 500 || rc=1
note "units that start their own servers:"
python3 "$HERE/redis_suite/compare.py" "$OUT/self-kernel.out" "$OUT/self-shim.out" 50 || rc=1
[ $rc -eq 0 ] || fail "Redis's suite: tests that pass on the kernel fail under the shim (logs in $OUT)"
exit 0
