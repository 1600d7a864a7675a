#!/bin/bash
# Benchmarks that are not tests: the per-call cost of interposition, the
# stack alone on an in-memory link, kernel vs bypass ping-pong, the cost
# per layer, and how often the machine stalls a busy core.
#
#   make bench        (runs this)
#
# callcost runs three times in one go on the same machine: on the kernel,
# under the shim in pass-through (ACCEL_DISABLE=1), and under the shim with
# a live tap port, where its thread owns a stack and poll/epoll_wait run
# that stack on every call. Prints a table and writes build/bench/callcost.json.
set -e
cd "$(dirname "$0")/.."
B=build/bench
N=${N:-200000}
NS="accel-bench-$$"
mkdir -p $B
trap 'ip netns del $NS 2>/dev/null || true' EXIT
ip netns add $NS
ip -n $NS link set lo up

build/bench/callcost "$N" > $B/cc.kernel
ACCEL_DISABLE=1 build/accel build/bench/callcost "$N" > $B/cc.pass
ip netns exec $NS env ACCEL_IP=10.88.0.2/24 \
	ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0" \
	build/accel build/bench/callcost "$N" > $B/cc.port

echo "per-call cost, ns (median of 5 rounds of $N calls)"
printf "%-22s %9s %12s %9s %12s\n" call kernel passthrough +ns port-up
join <(sort $B/cc.kernel) <(sort $B/cc.pass) | join - <(sort $B/cc.port) |
	awk '{ printf "%-22s %9.1f %12.1f %+9.1f %12.1f\n", $1, $2, $3, $3 - $2, $4 }'
join <(sort $B/cc.kernel) <(sort $B/cc.pass) | join - <(sort $B/cc.port) |
	awk 'BEGIN { printf "{\"callcost_ns\": {" }
	     { printf "%s\"%s\": {\"kernel\": %s, \"passthrough\": %s, \"port\": %s}",
		       (NR > 1 ? ", " : ""), $1, $2, $3, $4 }
	     END { print "}}" }' > $B/callcost.json
echo "wrote $B/callcost.json"
echo
# The stack alone on one core (benchmarks/stacklink.c): both stacks in
# one thread, no DPDK, no syscalls.
taskset -c 0 build/bench/stacklink
taskset -c 0 build/bench/stacklink --json > $B/stacklink.json
echo "wrote $B/stacklink.json"
echo
benchmarks/pingpong.sh
echo
benchmarks/breakdown.sh
echo
# How often the machine itself stalls a busy thread (benchmarks/jitter.c),
# both cores at once: the floor under any tail latency measured here.
for cpu in 0 1; do
	taskset -c $cpu build/bench/jitter 5 > $B/jitter.$cpu &
done
wait
for cpu in 0 1; do echo "CPU $cpu: $(cat $B/jitter.$cpu)"; done
echo
# How far apart the two cores are now (benchmarks/c2c.c): the memif path
# crosses between them on every request, so its speed follows this.
echo "CPU 0 <-> CPU 1 cache-line round trip, ns: $(build/bench/c2c 0 1 5 | tr '\n' ' ')"
echo
# The storage path: fio randread on the kernel and under the shim
# (benchmarks/storage.sh, a loop device: CPU per I/O is the figure).
benchmarks/storage.sh
echo
# The NVMe transports (passthru, vfio) against the kernel, in the test
# guest on QEMU's NVMe model (benchmarks/storage-guest.sh: ratios only).
benchmarks/storage-guest.sh
