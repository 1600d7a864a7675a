#!/bin/bash
# nginx from Debian, master_process on with 2 workers, and wrk (Debian's)
# for SECS seconds, in one run: nginx on the kernel with wrk over
# loopback, then the same nginx under the shim (each worker its own stack
# on its own queue of the one tap) with wrk through the tap, the shim on
# its defaults. Both ends share this machine's cores; wrk is on the
# kernel's TCP in both runs, and through the tap every packet also
# crosses the tun driver, so this shows what the server side's stack
# saves on one host, not what a NIC would give (there the client is
# another machine and the tap's crossings are gone).
#
#   make bench-nginx        (SECS=seconds per run, CONNS=connections, REPS=runs)
set -e
cd "$(dirname "$0")/.."
export TESTS_BUILD="${TESTS_BUILD:-$PWD/build}"
# shellcheck source=../tests/integration/lib.sh
. tests/integration/lib.sh
set +e
command -v nginx >/dev/null || fail "nginx is not installed (make deps)"
command -v wrk >/dev/null || fail "wrk is not installed (make deps)"
SECS=${SECS:-10}
CONNS=${CONNS:-64}
REPS=${REPS:-3}
DIR=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$DIR"' EXIT
ip netns add "$NS" || fail "cannot create network namespace $NS"
in_ns ip link set lo up
mkdir -p "$DIR/www" "$DIR/tmp"
head -c 4096 /dev/urandom > "$DIR/www/4k"
nginx_conf "$DIR" 2 notice 1024

up() { # $1 = url: waits until it answers
	for _ in $(seq 100); do
		in_ns curl -s -m 2 -o /dev/null "$1" && return 0
		sleep 0.1
	done
	return 1
}

run_wrk() { # $1 = label, $2 = url
	in_ns wrk -t 2 -c "$CONNS" -d "${SECS}s" --latency "$2" > "$DIR/wrk.$1" 2>&1
	rps=$(awk '/^Requests\/sec/ {print $2}' "$DIR/wrk.$1")
	p99=$(awk '$1 == "99%" {print $2}' "$DIR/wrk.$1")
	err=$(grep -c "Socket errors\|Non-2xx" "$DIR/wrk.$1")
	echo "$1 $rps $p99 $err" >> "$DIR/results"
	printf "  %-7s %12s req/s  p99 %9s  %s\n" "$1" "$rps" "$p99" \
		"$([ "$err" = 0 ] || grep "Socket errors\|Non-2xx" "$DIR/wrk.$1")"
}

start_kernel() {
	$NSX nginx -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf" > /dev/null 2>&1 &
	ng=$!
	up http://127.0.0.1:8081/4k || fail "kernel nginx did not answer"
}
start_shim() {
	$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 "$ACCEL" \
		nginx -p "$DIR" -e "$DIR/error.log" -c "$DIR/nginx.conf" > /dev/null 2>&1 &
	ng=$!
	tap_up acc0 10.88.0.1/24
	up http://10.88.0.2:8081/4k || fail "shimmed nginx did not answer through the port"
	# each worker's port starts in turn: wait for both before measuring
	for _ in $(seq 100); do
		n=0
		for w in $(pgrep -P $ng); do
			in_ns "$BUILD/accel-stat" "$w" 2>/dev/null | grep -q '^stacks' && n=$((n + 1))
		done
		[ $n -ge 2 ] && return 0
		sleep 0.1
	done
	fail "the shimmed workers did not both start their ports"
}
stop() {
	kill -TERM $ng
	wait $ng 2>/dev/null
	for _ in $(seq 50); do in_ns ip link show acc0 > /dev/null 2>&1 || break; sleep 0.1; done
}

echo "nginx 2 workers, 4 KiB file, wrk -t 2 -c $CONNS, ${SECS} s, $REPS runs each (paths in turn)"
for r in $(seq "$REPS"); do
	start_kernel
	run_wrk kernel http://127.0.0.1:8081/4k
	stop
	start_shim
	run_wrk bypass http://10.88.0.2:8081/4k
	stop
done
python3 - "$DIR/results" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
out = {}
for path in ("kernel", "bypass"):
    r = [float(x[1]) for x in rows if x[0] == path and x[1] != ""]
    out[path] = {"rps_median": statistics.median(r) if r else 0, "rps_min": min(r, default=0),
                 "rps_max": max(r, default=0), "p99": [x[2] for x in rows if x[0] == path],
                 "errors": sum(int(x[3]) for x in rows if x[0] == path)}
k, b = out["kernel"]["rps_median"], out["bypass"]["rps_median"]
out["ratio"] = round(b / k, 2) if k else None
print(f"median: kernel {k:,.0f} req/s, bypass {b:,.0f} req/s, ratio {out['ratio']}x")
json.dump(out, open("build/bench/nginx.json", "w"), indent=1)
print("wrote build/bench/nginx.json")
PY
