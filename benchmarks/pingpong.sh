#!/bin/bash
# Small-message TCP ping-pong, kernel vs bypass, in one run on this machine:
# 16-byte messages on 32 connections (COUNT round trips each), server pinned
# to CPU 0 and client to CPU 1.
#   kernel: kecho server and client over loopback (kernel TCP both ends)
#   bypass: stack-echo server and client joined by net_memif (userspace TCP
#           both ends, as two hosts with DPDK NICs would be)
# Prints both rates and the ratio; writes build/bench/pingpong.json.
set -e
cd "$(dirname "$0")/.."
SIZE=${SIZE:-16}
CONNS=${CONNS:-32}
COUNT=${COUNT:-40000}
B=build/bench
SOCK=/tmp/accel-bench-memif-$$.sock
mkdir -p $B
pids=""
trap '[ -n "$pids" ] && kill $pids 2>/dev/null; rm -f $SOCK; true' EXIT

rate() { sed -n 's/.*: \([0-9]*\) per second/\1/p'; }

taskset -c 0 build/bench/kecho server 17007 > /dev/null &
pids="$pids $!"
sleep 0.3
k=$(taskset -c 1 build/bench/kecho client 127.0.0.1 17007 "$SIZE" "$COUNT" "$CONNS" | rate)
kill $pids 2>/dev/null; pids=""

taskset -c 0 build/stack-echo --ip 10.77.0.1/24 --listen 7 --mode echo --count "$CONNS" --seconds 120 --no-digest \
	--eal "--no-huge -m 512 --no-pci --vdev=net_memif0,role=server,socket=$SOCK" > /dev/null &
pids="$pids $!"
sleep 1.5
s=$(taskset -c 1 build/stack-echo --ip 10.77.0.2/24 --connect 10.77.0.1:7 --mode pingpong \
	--size "$SIZE" --count "$COUNT" --conns "$CONNS" --seconds 120 \
	--eal "--no-huge -m 512 --no-pci --vdev=net_memif0,role=client,socket=$SOCK" | rate)
wait $pids 2>/dev/null || true
pids=""

ratio=$(awk -v a="$s" -v b="$k" 'BEGIN { printf "%.2f", a / b }')
printf "%-46s %12s %12s %7s\n" "ping-pong ($SIZE B, $CONNS conns, 1 core each)" kernel bypass ratio
printf "%-46s %12s %12s %7s\n" "round trips per second" "$k" "$s" "${ratio}x"
printf '{"pingpong": {"size": %s, "conns": %s, "kernel_rps": %s, "bypass_rps": %s, "ratio": %s}}\n' \
	"$SIZE" "$CONNS" "$k" "$s" "$ratio" > $B/pingpong.json
