#!/bin/bash
# Where a request's CPU time goes, kernel path vs bypass path: memcached -t 1
# serving 100 % GETs (1000 keys of 8 bytes, 32 connections, accel-load),
# server on CPU 0, client on CPU 1, as in compare.sh.
#
# This VM exposes no hardware counters (perf stat: instructions and cycles
# "not supported"), so the cost is the server's CPU time per request (user +
# system, from /proc/PID/stat over a measured window) split by layer in the
# proportions of a perf sample of the same window (cpu-clock):
#   app      memcached and libevent
#   libc     the C library
#   kernel   the Linux kernel (syscalls, TCP, scheduling)
#   preload  libaccel's interposed calls and fd table
#   sockets  libaccel's socket layer (locks, epoll emulation, waits)
#   stack    libaccel's TCP/IP stack
#   dev      libaccel's device layer and DPDK (memif, mempool)
# Prints ns per request per layer and writes build/bench/breakdown.json.
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "breakdown: needs root"; exit 1; }
OUT=build/bench
mkdir -p $OUT
NS="accel-bd-$$"
SOCK="/tmp/accel-bd-$$.sock"
sp=""
cleanup() {
	[ -n "$sp" ] && kill -TERM "$sp" 2>/dev/null && wait "$sp" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "$SOCK"
}
trap cleanup EXIT
ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1
X="ip netns exec $NS"
SRV_ENV=(ACCEL_DPDK_ARGS="--no-huge -m 512 --no-pci --vdev=net_memif0,role=server,socket=$SOCK"
	 ACCEL_IP=10.77.0.1/24) # the shim's defaults, as a user runs it (README)
CLI_ENV=(ACCEL_DPDK_ARGS="--no-huge -m 512 --no-pci --vdev=net_memif0,role=client,socket=$SOCK"
	 ACCEL_IP=10.77.0.2/24)
ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }

run() { # $1 = kernel|bypass
	local path=$1 host=127.0.0.1 t0 t1 out rps
	if [ "$path" = kernel ]; then
		$X taskset -c 0 memcached -u root -t 1 -U 0 -p 11211 > /dev/null 2>&1 &
	else
		host=10.77.0.1
		$X env "${SRV_ENV[@]}" taskset -c 0 build/accel memcached -u root -t 1 -U 0 \
			-p 11211 > /dev/null 2>&1 &
	fi
	sp=$!
	for _ in $(seq 100); do
		$X bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211' 2>/dev/null && break
		sleep 0.05
	done
	(
		sleep 3
		t0=$(ticks $sp)
		perf record -F 2000 -p $sp -o $OUT/bd.$path.data -- sleep 4 > /dev/null 2>&1
		t1=$(ticks $sp)
		echo "$t0 $t1" > $OUT/bd.$path.ticks
	) &
	local pp=$!
	if [ "$path" = kernel ]; then
		out=$($X taskset -c 1 build/accel-load --server $host:11211 --proto memcached \
			--keys 1000 --key-size 8 --value-size 8 --get-ratio 1 --conns 32 \
			--preload --seconds 9 --json)
	else
		out=$($X env "${CLI_ENV[@]}" taskset -c 1 build/accel build/accel-load \
			--server $host:11211 --proto memcached --keys 1000 --key-size 8 \
			--value-size 8 --get-ratio 1 --conns 32 --preload --seconds 9 --json)
	fi
	wait $pp
	kill -TERM $sp
	wait $sp 2>/dev/null
	sp=""
	rps=$(echo "$out" | sed -n 's/.*"rps": \([0-9.]*\).*/\1/p')
	read -r t0 t1 < $OUT/bd.$path.ticks
	# CPU ns per request over the 4 s window, at the run's mean rate
	awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v r="$rps" \
		'BEGIN { printf "%.0f %.0f\n", (b - a) / hz * 1e9 / (r * 4), r }' > $OUT/bd.$path.cost
	perf report -i $OUT/bd.$path.data --no-children --stdio --sort dso,sym -g none \
		--percent-limit 0 2>/dev/null | grep '%' > $OUT/bd.$path.syms
}

run kernel
run bypass
python3 - "$OUT" <<'EOF'
import json, re, sys
out = sys.argv[1]
def layer(dso, sym):
    if dso.startswith("[kernel") or dso.startswith("[vdso"):
        return "kernel"
    if dso.startswith("memcached") or dso.startswith("libevent"):
        return "app"
    if dso.startswith("libc.") or dso.startswith("ld-linux"):
        return "libc"
    if dso.startswith("librte_"):
        return "dev"
    if dso.startswith("libaccel"):
        if re.match(r"(tcp_|stack_|wire_|arp_|ipv4_|icmp_|tw_|file_timer|timer_|eth_)", sym):
            return "stack"
        if re.match(r"(sk_|ep_|poll_|select_|wait_|sleep_|merge|deadline_of|remaining|ns_to)", sym):
            return "sockets"
        if re.match(r"(dev_|netif_|impair_)", sym):
            return "dev"
        return "preload"
    return "other"
layers = ["app", "libc", "kernel", "preload", "sockets", "stack", "dev", "other"]
res = {}
for path in ("kernel", "bypass"):
    ns, rps = (float(x) for x in open(f"{out}/bd.{path}.cost").read().split())
    share = dict.fromkeys(layers, 0.0)
    for line in open(f"{out}/bd.{path}.syms"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(\S+)", line)
        if m:
            share[layer(m.group(2), m.group(3))] += float(m.group(1))
    total = sum(share.values()) or 1
    res[path] = {"rps": rps, "cpu_ns_per_request": ns,
                 "layers_ns": {k: round(ns * v / total) for k, v in share.items()}}
print("memcached -t 1 GET, server CPU time per request by layer (ns):")
print("%-9s %10s %10s" % ("layer", "kernel", "bypass"))
for k in layers:
    a, b = res["kernel"]["layers_ns"][k], res["bypass"]["layers_ns"][k]
    if a or b:
        print("%-9s %10d %10d" % (k, a, b))
print("%-9s %10d %10d" % ("total", res["kernel"]["cpu_ns_per_request"],
                           res["bypass"]["cpu_ns_per_request"]))
print("%-9s %10d %10d" % ("req/s", res["kernel"]["rps"], res["bypass"]["rps"]))
json.dump(res, open(f"{out}/breakdown.json", "w"), indent=1)
print(f"wrote {out}/breakdown.json")
EOF
