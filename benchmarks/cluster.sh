#!/bin/bash
# Clusters on one machine (tests/integration/cluster_lib.sh's topology:
# taps or veths joined by a Linux bridge), kernel nodes against shimmed
# nodes in one run:
#  - Redis Cluster of six nodes (three masters, three replicas): the
#    latency of a cluster-bus message (PUBLISH to a subscriber on another
#    node), then redis-benchmark --cluster, on the kernel from the bridge's side
#    against kernel nodes, and under the shim (its own tap) against
#    shimmed nodes;
#  - a memcached pool of three nodes behind nutcracker (ketama), memaslap
#    through it: all on the kernel (nodes, proxy and client each in a
#    namespace on a veth), then all under the shim (each on a tap).
# Every frame crosses the kernel's bridge: these figures compare the
# stacks on the tap path, not what a NIC would give.
#
#   make bench-cluster      (N=requests, SECS=memaslap seconds)
set -e
cd "$(dirname "$0")/.."
export TESTS_BUILD="${TESTS_BUILD:-$PWD/build}"
# shellcheck source=../tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=../tests/integration/cluster_lib.sh
. tests/integration/cluster_lib.sh
set +e
N=${N:-100000}
SECS=${SECS:-10}
DIR=$(mktemp -d)
cl_setup 'rm -rf "$DIR"'
NODES="1 2 3 4 5 6"

redis_args() { # $1 = port, $2 = dir
	echo --port "$1" --cluster-enabled yes --cluster-config-file "$2/nodes.conf" \
		--save "" --appendonly no --protected-mode no --dir "$2"
}

create() {
	in_ns timeout 60 redis-cli --cluster create "$@" --cluster-replicas 1 --cluster-yes \
		> "$DIR/create.log" 2>&1 || { cat "$DIR/create.log"; fail "cluster create"; }
	for _ in $(seq 100); do
		ok=1
		for a in "$@"; do
			in_ns redis-cli -h "${a%:*}" -p "${a#*:}" cluster info 2>/dev/null |
				grep -q cluster_state:ok || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.2
	done
	fail "cluster not ok"
}

rbench() { # $1 = label, rest = the command that runs redis-benchmark
	local label=$1
	shift
	"$@" -q -n "$N" -c 50 -t set,get 2>&1 | tr '\r' '\n' | grep "requests per second" |
		sed "s/^/$label /" | tee -a "$DIR/redis.out"
}

K=()
S=()
for n in $NODES; do
	mkdir -p "$DIR/k$n" "$DIR/s$n"
	# shellcheck disable=SC2046
	cl_kstart "$n" "$DIR/k$n.log" redis-server $(redis_args $((7000 + n)) "$DIR/k$n")
	# shellcheck disable=SC2046
	cl_start "$n" "$DIR/s$n.log" redis-server $(redis_args $((7000 + n)) "$DIR/s$n")
	K+=("$(cl_kip "$n"):$((7000 + n))")
	S+=("$(cl_ip "$n"):$((7000 + n))")
done
for n in $NODES; do
	cl_wait_tcp "$(cl_kip "$n")" $((7000 + n))
	cl_wait_tcp "$(cl_ip "$n")" $((7000 + n))
done
create "${K[@]}"
create "${S[@]}"
# a cluster-bus message: PUBLISH on node 1 to a subscriber on node 2,
# kernel nodes and shimmed nodes in turns (the issue's ping-pong figure)
: > "$DIR/lat.k"
: > "$DIR/lat.s"
for _ in 1 2 3 4 5; do
	in_ns timeout 60 python3 tests/integration/rcluster.py latency "${K[0]}" "${K[1]}" 50 >> "$DIR/lat.k"
	in_ns timeout 60 python3 tests/integration/rcluster.py latency "${S[0]}" "${S[1]}" 50 >> "$DIR/lat.s"
done
lk=$(cut -d' ' -f1 "$DIR/lat.k" | sort -n | sed -n 3p)
ls=$(cut -d' ' -f1 "$DIR/lat.s" | sort -n | sed -n 3p)
echo "PUBLISH on node 1 to a subscriber on node 2 (cluster bus), median of 5 turns' medians of 50:"
echo "  kernel nodes: ${lk} us (turns: $(cut -d' ' -f1 "$DIR/lat.k" | tr '\n' ' '))"
echo "  shimmed nodes: ${ls} us (turns: $(cut -d' ' -f1 "$DIR/lat.s" | tr '\n' ' ')), $(awk -v s="$ls" -v k="$lk" 'BEGIN { printf "%.2f", k ? s / k : 0 }')x"
echo "Redis Cluster, 6 nodes, redis-benchmark --cluster -n $N -c 50:"
rbench "  kernel nodes, kernel client:" in_ns redis-benchmark --cluster -h "$(cl_kip 1)" -p 7001
rbench "  shimmed nodes, shimmed client:" cl_run 7 redis-benchmark --cluster -h "$(cl_ip 1)" -p 7001
for n in $NODES; do
	kill "${CL_PID[$n]}" "${CL_PID[k$n]}" 2>/dev/null
done
wait 2>/dev/null

pool() { # $1 = kernel|shim, $2.. = server addresses
	local mode=$1 px
	shift
	{
		echo "pool:"
		echo "  listen: 0.0.0.0:22121"
		echo "  hash: fnv1a_64"
		echo "  distribution: ketama"
		echo "  timeout: 1000"
		echo "  servers:"
		for a in "$@"; do echo "   - $a:1"; done
	} > "$DIR/nc.yml"
	if [ "$mode" = kernel ]; then
		cl_kstart 4 "$DIR/nc.log" nutcracker -c "$DIR/nc.yml" -s 22222
		px=$(cl_kip 4)
		cl_wait_tcp "$px" 22121
		out=$(cl_krun 5 timeout $((SECS + 60)) memcaslap -s "$px:22121" -t "${SECS}s" -T 2 -c 16 2>&1)
		kill "${CL_PID[k4]}"
		wait "${CL_PID[k4]}" 2>/dev/null
	else
		cl_start 4 "$DIR/nc.log" nutcracker -c "$DIR/nc.yml" -s 22222
		px=$(cl_ip 4)
		cl_wait_tcp "$px" 22121
		out=$(cl_run 5 timeout $((SECS + 60)) memcaslap -s "$px:22121" -t "${SECS}s" -T 2 -c 16 2>&1)
		kill "${CL_PID[4]}"
		wait "${CL_PID[4]}" 2>/dev/null
	fi
	echo "  $mode: $(echo "$out" | grep 'Run time' | tail -1)"
}

echo "memcached pool, 3 nodes behind nutcracker (ketama), memaslap -T 2 -c 16 through it, ${SECS} s:"
KM=()
SM=()
for n in 1 2 3; do
	cl_kstart "$n" "$DIR/km$n.log" memcached -u root -t 2 -U 0 -p $((11210 + n))
	cl_start "$n" "$DIR/sm$n.log" memcached -u root -t 2 -U 0 -p $((11210 + n))
	KM+=("$(cl_kip "$n"):$((11210 + n))")
	SM+=("$(cl_ip "$n"):$((11210 + n))")
done
for n in 1 2 3; do
	cl_wait_tcp "$(cl_kip "$n")" $((11210 + n))
	cl_wait_tcp "$(cl_ip "$n")" $((11210 + n))
done
pool kernel "${KM[@]}"
pool shim "${SM[@]}"
exit 0
