#!/bin/bash
# A Redis Cluster of six redis-server nodes under the shim, each on a tap
# port of its own, the taps joined by a Linux bridge (cluster_lib.sh):
#  - redis-cli --cluster create ... --cluster-replicas 1 (from the Linux
#    side) makes three masters and three replicas; cluster_state:ok on
#    every node within 10 s;
#  - redis-benchmark --cluster from a client under the shim (a tap of its
#    own): every test runs, no errors;
#  - keys written with WAIT 1 (a replica has them) while a master is
#    killed with kill -9: its replica is promoted, every acknowledged key
#    reads back, and the killed node, restarted under the shim, rejoins
#    as a replica;
#  - a cluster-bus message (PUBLISH on one node to a subscriber on
#    another) against the same on six kernel nodes on the same bridge
#    (veths from namespaces of their own), measured in turns: within 3x
#    (the issue asks 2x: see below);
#  - the peer's MAC changes (the bridge's, where the clients are) while a
#    connection to node 1 is served: node 1 asks again and the connection
#    goes on; the cluster stays ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
DIR=$(mktemp -d)
cl_setup 'rm -rf "$DIR"'
PY=$(dirname "$0")/rcluster.py
NODES="1 2 3 4 5 6"
TIMEOUT_MS=2000 # cluster-node-timeout: failover within a few seconds

redis_args() { # $1 = port, $2 = dir
	echo --port "$1" --cluster-enabled yes --cluster-config-file "$2/nodes.conf" \
		--cluster-node-timeout $TIMEOUT_MS --save "" --appendonly no \
		--protected-mode no --dir "$2"
}

start_node() {
	mkdir -p "$DIR/n$1"
	# shellcheck disable=SC2046
	cl_start "$1" "$LOGDIR/rcluster.$1.log" redis-server $(redis_args $((7000 + $1)) "$DIR/n$1")
}

addr() { echo "$(cl_ip "$1"):$((7000 + $1))"; }
kaddr() { echo "$(cl_kip "$1"):$((7000 + $1))"; }
rcli() { # $1 = host:port, rest = command
	local a=$1
	shift
	in_ns timeout 10 redis-cli -h "${a%:*}" -p "${a#*:}" "$@"
}

cluster_ok() { # $@ = addresses; true when every one says cluster_state:ok
	local a
	for a in "$@"; do
		rcli "$a" cluster info 2>/dev/null | grep -q "cluster_state:ok" || return 1
	done
}

wait_ok() { # $1 = seconds, rest = addresses; prints the seconds it took
	local limit=$1 t0=$SECONDS
	shift
	while ! cluster_ok "$@"; do
		[ $((SECONDS - t0)) -ge "$limit" ] && return 1
		sleep 0.2
	done
	echo $((SECONDS - t0))
}

create() { # $@ = addresses
	in_ns timeout 60 redis-cli --cluster create "$@" --cluster-replicas 1 --cluster-yes \
		> "$LOGDIR/rcluster.create.log" 2>&1 ||
		{ cat "$LOGDIR/rcluster.create.log"; fail "redis-cli --cluster create"; }
}

for n in $NODES; do start_node "$n"; done
# the same cluster of kernel nodes on the same bridge, for the bus latency
KADDRS=()
for n in $NODES; do
	mkdir -p "$DIR/k$n"
	# shellcheck disable=SC2046
	cl_kstart "$n" "$LOGDIR/rcluster.k$n.log" redis-server $(redis_args $((7000 + n)) "$DIR/k$n")
	KADDRS+=("$(kaddr "$n")")
done
ADDRS=()
for n in $NODES; do
	cl_wait_tcp "$(cl_ip "$n")" $((7000 + n))
	ADDRS+=("$(addr "$n")")
done
create "${ADDRS[@]}"
t=$(wait_ok 10 "${ADDRS[@]}") || fail "cluster_state is not ok on every node within 10 s"
note "cluster of 6 shimmed nodes: cluster_state:ok on every node ${t} s after create"
for _ in $(seq 50); do
	[ "$(rcli "$(addr 1)" cluster nodes | grep -c slave)" -eq 3 ] && break
	sleep 0.2
done
[ "$(rcli "$(addr 1)" cluster nodes | grep -c slave)" -eq 3 ] ||
	fail "not 3 replicas within 10 s: $(rcli "$(addr 1)" cluster nodes)"

# load from a client under the shim (node 7's tap)
out=$(cl_run 7 timeout 120 redis-benchmark --cluster -h "$(cl_ip 1)" -p 7001 -q -n 20000 \
	-c 20 -t set,get,incr,lpush 2>&1) || { echo "$out"; fail "redis-benchmark --cluster"; }
out=$(echo "$out" | tr '\r' '\n' | grep "requests per second")
echo "$out" | sed 's/^/   shim client: /'
[ "$(echo "$out" | wc -l)" -eq 4 ] || fail "redis-benchmark --cluster did not run its 4 tests"
echo "$out" | grep -qi error && fail "redis-benchmark errors"

# a cluster-bus message (PUBLISH on node 1, a subscriber on node 2), on
# the shim's nodes and the kernel's in turns, so both see the same load
for n in $NODES; do cl_wait_tcp "$(cl_kip "$n")" $((7000 + n)); done
create "${KADDRS[@]}"
wait_ok 10 "${KADDRS[@]}" > /dev/null || fail "kernel cluster not ok within 10 s"
: > "$DIR/lat.shim"
: > "$DIR/lat.kern"
for _ in 1 2 3 4 5; do
	in_ns timeout 60 python3 "$PY" latency "$(addr 1)" "$(addr 2)" 50 >> "$DIR/lat.shim" ||
		fail "PUBLISH latency (shim)"
	in_ns timeout 60 python3 "$PY" latency "$(kaddr 1)" "$(kaddr 2)" 50 >> "$DIR/lat.kern" ||
		fail "PUBLISH latency (kernel)"
done
med() { cut -d' ' -f1 "$1" | sort -n | sed -n 3p; }
lat_shim=$(med "$DIR/lat.shim")
lat_kern=$(med "$DIR/lat.kern")
note "PUBLISH on node 1 to a subscriber on node 2 (median, p10, p90 us of 50, 5 turns each):"
note "  shim:   $(tr '\n' '/' < "$DIR/lat.shim")"
note "  kernel: $(tr '\n' '/' < "$DIR/lat.kern")"
note "  median of the turns' medians: shim $lat_shim us, kernel $lat_kern us"
# Within 2x of the kernel's nodes on the same bridge. Measured here (2
# cores): 0.93x once a spin on a tap yields its core at every look
# (sockets/spin.h); 1.4-1.95x before that, 4-9x before the free-core rule.
[ "$lat_shim" -le $((2 * lat_kern)) ] ||
	fail "a cluster-bus message takes $lat_shim us on the shim, over 2x the kernel's $lat_kern us"

# A live MAC change of the nodes' peer: the Linux side of the bridge
# (10.88.0.1, where the clients run) takes a new MAC while a connection to
# node 1 is served and the cluster runs. Linux would ask for node 1 again
# at once (it flushes its neighbours on a MAC change), and node 1 learn the
# new MAC from that request; so that node 1 has to find it itself, Linux
# sends no ARP request meanwhile (nftables) and keeps node 1's MAC as a
# permanent entry: node 1's frames to the old MAC go nowhere until its
# neighbour entry is doubted (timeouts in a row), asked again and the
# connection's MAC looked up again; the connection must go on.
arp_out() { # node 1's ARP requests sent so far
	awk '$1 == "arp_requests_out" { print $2; exit }' \
		"/run/libaccel/${CL_PID[1]}.stats" "/tmp/${CL_PID[1]}.stats" 2>/dev/null
}
old_mac=$(in_ns cat /sys/class/net/$CL_BR/address)
new_mac=$(printf "02:16:%02x:%02x:00:01" $(($$ & 255)) $((($$ >> 8) & 255)))
in_ns timeout 90 python3 "$PY" steady "$(addr 1)" 4 > "$DIR/steady.out" 2>&1 &
sp=$!
sleep 2
n1_mac=$(in_ns ip neigh show "$(cl_ip 1)" dev $CL_BR | awk '{ print $3 }')
[ -n "$n1_mac" ] || fail "no neighbour entry for node 1"
arp0=$(arp_out)
echo 'table arp bus16mac { chain out { type filter hook output priority 0; arp operation request drop; }; }' |
	in_ns nft -f - || fail "nft: cannot hold Linux's ARP requests"
in_ns ip link set dev $CL_BR address "$new_mac" || fail "cannot change $CL_BR's MAC"
in_ns ip neigh replace "$(cl_ip 1)" lladdr "$n1_mac" dev $CL_BR nud permanent
wait $sp || { cat "$DIR/steady.out"; fail "the connection to node 1 failed after the peer's MAC changed"; }
read -r pings gap < "$DIR/steady.out"
in_ns nft delete table arp bus16mac
in_ns ip neigh del "$(cl_ip 1)" dev $CL_BR
sleep 1.2 # (node 1's counters file, rewritten once a second)
arp1=$(arp_out)
[ -n "$arp0" ] && [ "${arp1:-0}" -gt "$arp0" ] ||
	fail "node 1 sent no ARP request after the peer's MAC changed ($arp0 -> $arp1)"
t=$(wait_ok 20 "${ADDRS[@]}") || fail "cluster_state is not ok on every node after the MAC change"
note "the bridge's MAC $old_mac -> $new_mac during a connection to node 1 (Linux asking nothing): $pings PINGs answered, longest gap $gap ms; node 1 asked again ($arp0 -> $arp1 ARP requests); cluster ok ${t} s later"

# writes acknowledged by a replica, a master killed in the middle
victim=$(rcli "$(addr 1)" cluster nodes | awk '/master/ && !/myself/ { print $2; exit }')
victim=${victim%@*}
vn=$((${victim#*:} - 7000))
cl_run 7 timeout 60 python3 "$PY" write "$(addr 1)" 12 "$DIR/acked" > "$DIR/write.out" 2>&1 &
wp=$!
sleep 4
t0=$(date +%s.%N)
kill -9 "${CL_PID[$vn]}"
note "kill -9 of master node $vn ($victim) during the writes"
LIVE=()
for a in "${ADDRS[@]}"; do [ "$a" = "$victim" ] || LIVE+=("$a"); done
# (cluster_state stays ok until the others mark the master failed: wait
# for that, a replica holding its slots, and ok on every live node)
failed_over() {
	local nodes
	nodes=$(rcli "${LIVE[0]}" cluster nodes 2>/dev/null) || return 1
	echo "$nodes" | grep "$victim@" | grep -q "fail[ ,]" &&
		[ "$(echo "$nodes" | grep -v "fail[ ,]" | grep -c "master - .* connected [0-9]")" -eq 3 ] &&
		cluster_ok "${LIVE[@]}"
}
for _ in $(seq 300); do failed_over && break; sleep 0.1; done
failed_over || fail "no failover within 30 s: $(rcli "${LIVE[0]}" cluster nodes)"
note "failover: $victim marked failed, its replica a master, cluster_state:ok $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s after the kill (node timeout ${TIMEOUT_MS} ms)"
wait $wp || { cat "$DIR/write.out"; fail "the writer"; }
note "$(cat "$DIR/write.out")"
out=$(in_ns timeout 120 python3 "$PY" check "$(addr 1)" "$DIR/acked") ||
	{ echo "$out"; fail "acknowledged keys lost"; }
note "$out"

start_node "$vn"
for _ in $(seq 150); do
	role=$(rcli "$victim" role 2>/dev/null | head -1)
	[ "$role" = slave ] && rcli "$victim" info replication | grep -q "master_link_status:up" && break
	sleep 0.2
done
[ "$role" = slave ] || fail "the restarted node $victim is $role, not a replica"
wait_ok 20 "${ADDRS[@]}" > /dev/null || fail "cluster_state not ok after the rejoin"
note "node $vn restarted under the shim: a replica again, link up"

exit 0
