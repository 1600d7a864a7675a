#!/bin/bash
# make demo - first light: an unmodified memcached from Debian runs under
# the shim, which gives its process a DPDK port (net_tap). The port's
# address answers ARP and ping from the Linux side while memcached serves
# its clients through the kernel. Everything runs in a network namespace
# that is removed at the end.
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespace, tap)"; exit 1; }
NS="accel-demo-$$"
OUT=build/demo
mkdir -p $OUT
mc=""
cleanup() {
	[ -n "$mc" ] && kill -TERM "$mc" 2>/dev/null && wait "$mc" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS" && ip -n "$NS" link set lo up || exit 1
X="ip netns exec $NS"

echo "== libaccel demo: memcached under the shim, with a DPDK port"
echo "   ACCEL_DPDK_ARGS='--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0'"
echo "   ACCEL_IP=10.88.0.2/24  build/accel memcached -u root -t 4 -U 0"
$X env ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0" \
	ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 ACCEL_LOG=info \
	build/accel memcached -u root -t 4 -U 0 > $OUT/memcached.log 2>&1 &
mc=$!
for _ in $(seq 100); do $X ip link show acc0 >/dev/null 2>&1 && break; sleep 0.1; done
$X ip addr add 10.88.0.1/24 dev acc0 && $X ip link set acc0 up || { cat $OUT/memcached.log; exit 1; }
grep "port 0" $OUT/memcached.log | sed 's/^/   /'

echo
echo "== ping 10.88.0.2 (answered by the userspace stack inside memcached)"
$X ping -c 10 -i 0.1 10.88.0.2 | tail -3 | sed 's/^/   /'
echo "   kernel's ARP entry: $($X ip neigh show 10.88.0.2 dev acc0)"

echo
echo "== memccapable -h 127.0.0.1 (memcached itself still serves through the kernel)"
for _ in $(seq 50); do $X bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211' 2>/dev/null && break; sleep 0.1; done
$X memccapable -h 127.0.0.1 -p 11211 > $OUT/memccapable.log 2>&1
echo "   $(grep -c '\[pass\]' $OUT/memccapable.log) passed, $(grep -c '\[FAIL\]' $OUT/memccapable.log) failed: $(tail -1 $OUT/memccapable.log)"

pct=$(awk '{print $14 + $15}' /proc/$mc/stat)
sleep 2
pct=$(( ($(awk '{print $14 + $15}' /proc/$mc/stat) - pct) * 100 / ($(getconf CLK_TCK) * 2) ))
echo
echo "== idle: memcached used ${pct}% of a core over 2 s while owning the port"

kill -TERM $mc && wait $mc 2>/dev/null
mc=""
echo
echo "== what the shim counted (ACCEL_STATS=1)"
grep "stats:" $OUT/memcached.log | sed 's/^/   /'
echo
echo "Next: the userspace TCP that serves memcached's own connections through"
echo "this port comes with the stack and socket-layer work (see README)."
