# cluster_lib.sh - hosts on one machine, for the cluster tests and
# benchmarks/cluster.sh. Source after lib.sh.
#
# The topology, all in the test's network namespace:
#
#   bridge accbr (10.88.0.1/24: the Linux side, where kernel clients run)
#     |-- acc1  tap of shimmed node 1 (its stack answers 10.88.0.11)
#     |-- acc2  tap of shimmed node 2 (10.88.0.12) ...
#     |-- kv1   veth of kernel node 1, whose other end is eth0 in a
#     |         namespace of its own (10.88.0.111) ...
#
# Each shimmed node is a program under the shim with a net_tap port of its
# own; the shim gives the kernel side of each tap a MAC other than the
# port's (dev/net_dpdk.c tap_kernel_mac), so the bridge forwards frames
# between the nodes instead of taking them for the host. A kernel node is
# the same program without the shim in a namespace of its own (so its
# traffic to the other nodes crosses the bridge as the shimmed nodes' does,
# not the loopback). A node that exits takes its tap with it; cl_join puts
# the new one of a restarted node back on the bridge.

CL_BR=accbr
CL_NET=10.88.0
CL_MEM=${CL_MEM:-256} # DPDK -m of each node: 6-9 of them run at once
declare -A CL_PID

cl_cleanup() {
	local k
	for k in $(ip netns list 2>/dev/null | awk -v p="$NS-k" 'index($1, p) == 1 { print $1 }'); do
		for pid in $(ip netns pids "$k" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$k" 2>/dev/null
	done
	ns_cleanup
}

# Makes the namespace and the bridge. $1, if given, is more to run at exit.
cl_setup() {
	ns_setup
	# shellcheck disable=SC2064
	trap "cl_cleanup; $1" EXIT
	# A MAC of its own (not the lowest port's, which a bridge takes and
	# then follows): t_redis_cluster changes it and needs the old MAC to
	# be nobody's, where a port's own MAC would still reach the host.
	in_ns ip link add $CL_BR address 02:cb:00:00:00:01 type bridge ||
		fail "cannot make bridge $CL_BR"
	in_ns ip addr add $CL_NET.1/24 dev $CL_BR
	in_ns ip link set $CL_BR up
}

cl_ip() { # node $1 (shimmed)
	echo "$CL_NET.$((10 + $1))"
}

cl_kip() { # kernel node $1
	echo "$CL_NET.$((110 + $1))"
}

# The tap of shimmed node $1: DPDK arguments and the shim's address.
cl_env() {
	echo "ACCEL_DPDK_ARGS=--no-huge -m $CL_MEM --no-pci --vdev=net_tap0,iface=acc$1"
	echo "ACCEL_IP=$(cl_ip "$1")/24"
}

# Puts the tap of node $1 on the bridge once the shim has made it.
cl_join() {
	local i
	for i in $(seq 150); do
		in_ns ip link set "acc$1" master $CL_BR 2>/dev/null &&
			in_ns ip link set "acc$1" up && return 0
		sleep 0.1
	done
	fail "tap acc$1 of node $1 did not appear"
}

# Starts "$@" as shimmed node $1 in the background, output to $2; CL_PID[$1]
# is its pid. The tap appears when the program opens its first socket.
cl_start() {
	local n=$1 log=$2
	shift 2
	local -a env
	mapfile -t env < <(cl_env "$n")
	$NSX env "${env[@]}" ACCEL_STATS=1 "$ACCEL" "$@" > "$log" 2>&1 &
	CL_PID[$n]=$!
	cl_join "$n"
}

# Runs "$@" in the foreground as shimmed node $1 (a client on a tap of its
# own, put on the bridge while it runs).
cl_run() {
	local n=$1
	shift
	local -a env
	mapfile -t env < <(cl_env "$n")
	$NSX env "${env[@]}" "$ACCEL" "$@" &
	local pid=$!
	cl_join "$n"
	wait $pid
}

# Kernel node $1: a namespace with a veth on the bridge.
cl_knode() {
	local n=$1 k="$NS-k$1"
	ip netns list | grep -qw "$k" && return 0
	ip netns add "$k" || fail "cannot create namespace $k"
	ip -n "$k" link set lo up
	in_ns ip link add "kv$n" type veth peer name eth0 netns "$k" ||
		fail "cannot make veth kv$n"
	in_ns ip link set "kv$n" master $CL_BR up
	ip -n "$k" addr add "$(cl_kip "$n")/24" dev eth0
	ip -n "$k" link set eth0 up
}

# Starts "$@" as kernel node $1 in the background (output to $2).
cl_kstart() {
	local n=$1 log=$2
	shift 2
	cl_knode "$n"
	ip netns exec "$NS-k$n" "$@" > "$log" 2>&1 &
	CL_PID[k$n]=$!
}

# Runs "$@" in kernel node $1's namespace.
cl_krun() {
	local n=$1
	shift
	cl_knode "$n"
	ip netns exec "$NS-k$n" "$@"
}

# Waits until $1:$2 answers TCP from the bridge's side.
cl_wait_tcp() {
	wait_tcp "$1" "$2" || fail "nothing listens on $1:$2"
}
