# lib.sh - shared helpers for the integration tests. Each test runs in a
# network namespace of its own, so its tap interface, servers and clients
# are invisible to the host and to other tests, and cleanup is: kill what
# runs in the namespace, delete it. The EXIT trap does that even on failure.

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD="${TESTS_BUILD:-$TOP/build}" # make integration-san: build/san
ACCEL="$BUILD/accel"
NS="accel-test-$$"
LOGDIR="$BUILD/test-logs"
mkdir -p "$LOGDIR"

fail() {
	echo "FAIL: $*"
	exit 1
}

note() {
	echo "   $*"
}

ns_cleanup() {
	if ip netns list 2>/dev/null | grep -qw "$NS"; then
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			kill -TERM "$pid" 2>/dev/null
		done
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
			sleep 0.2
		done
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
}

ns_setup() {
	trap ns_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$NS" || fail "cannot create network namespace $NS"
	ip -n "$NS" link set lo up
}

in_ns() {
	ip netns exec "$NS" "$@"
}

# For background servers: "$NSX prog &" leaves $! = the program's own pid
# (a shell function put in the background would leave the subshell's).
NSX="ip netns exec $NS"

# Waits until interface $1 exists in the namespace (the shim creates it
# when the program opens its first AF_INET socket).
wait_iface() {
	for _ in $(seq 100); do
		in_ns ip link show "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# Gives the kernel side of a tap port its address (again, if the port was
# made anew by the next program: idempotent).
tap_up() {
	wait_iface "$1" || fail "interface $1 did not appear"
	if nft_loss_on; then # (before the address: before any connection)
		in_ns ip link set "$1" gso_max_segs 1 || fail "cannot cap GSO on $1"
	fi
	in_ns ip addr replace "$2" dev "$1" || fail "cannot address $1"
	in_ns ip link set "$1" up
}

# The environment of one end of a memif pair, one NAME=VALUE a line (for
# mapfile): $1 = role (server|client), $2 = address/prefix, $3 = the
# control socket's path, $4 = DPDK's memory in MB (256).
memif_env() {
	echo "ACCEL_DPDK_ARGS=--no-huge -m ${4:-256} --no-pci --vdev=net_memif0,role=$1,socket=$3"
	echo "ACCEL_IP=$2"
}

# Waits up to 10 s until file $1 has a line matching $2 (grep -E): a
# program's port starts at its first use of the data path, a moment after
# its listener answers on 127.0.0.1.
wait_log() {
	for _ in $(seq 100); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Waits until a TCP port answers in the namespace.
wait_tcp() {
	for _ in $(seq 100); do
		in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# CPU time (utime+stime, clock ticks) of a process.
cpu_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# Percent of one core a process used over $2 seconds.
cpu_percent() {
	a=$(cpu_ticks "$1")
	sleep "$2"
	b=$(cpu_ticks "$1")
	hz=$(getconf CLK_TCK)
	echo $(( (b - a) * 100 / (hz * $2) ))
}

TAP_ARGS="--no-huge -m 256 --no-pci --vdev=net_tap0,iface=acc0"

# ---- loss the kernel makes (nftables) --------------------------------------
# The interop and app-under-loss tests have the Linux side of the tap drop
# frames, so no project code decides the loss (a bug in dev/impair.c could
# otherwise hide it by not losing). One netdev table on the namespace's tap:
# the kernel attaches its chains when the shim creates the interface, and
# keeps them and their counters when it goes, so one table spans every
# program of a scenario. IPv4 frames only (ARP is left alone, as netem with
# a filter would), $2 percent each way, at random (numgen).
#  - frames the kernel receives from the tap: dropped at its ingress;
#  - frames it sends: taken at its egress and forwarded to a sink that is
#    down. A drop there (or in output or postrouting) is reported back to
#    the sending TCP, which keeps the segment and sends it again at once:
#    nothing is lost on the wire (measured: 21 drops, 0 retransmissions).
#    A frame that left is gone, as on a wire (734 forwarded to the sink,
#    which counts them as dropped; 732 resent).
# And while the table is there, tap_up caps the tap's GSO at one segment,
# so a drop is one frame, not a 64 KB burst of them.
NFT_TABLE=accel_loss

nft_loss() { # $1 = interface, $2 = percent each way
	in_ns ip link show accel-sink >/dev/null 2>&1 ||
		in_ns ip link add accel-sink type veth peer name accel-sink1 ||
		fail "cannot make the loss sink"
	in_ns nft delete table netdev $NFT_TABLE 2>/dev/null
	in_ns nft -f - <<-EOF || fail "nft: cannot add the loss rules on $1"
	table netdev $NFT_TABLE {
		chain to_tap {
			type filter hook egress device "$1" priority 0
			meta protocol ip numgen random mod 100 < $2 counter fwd to "accel-sink"
		}
		chain from_tap {
			type filter hook ingress device "$1" priority 0
			meta protocol ip numgen random mod 100 < $2 counter drop
		}
	}
	EOF
}

nft_loss_off() {
	in_ns nft delete table netdev $NFT_TABLE 2>/dev/null
	return 0
}

nft_loss_on() {
	in_ns nft list table netdev $NFT_TABLE >/dev/null 2>&1
}

# Frames a chain (to_tap, from_tap) dropped so far.
nft_drops() {
	in_ns nft list chain netdev $NFT_TABLE "$1" 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p'
}

# Prints both counters; a rule that matched nothing hid nothing, and fails.
nft_loss_check() { # $1 = label
	local to from
	to=$(nft_drops to_tap)
	from=$(nft_drops from_tap)
	note "$1: the kernel dropped $to frames to the stack, $from from it (nftables)"
	[ "${to:-0}" -gt 0 ] && [ "${from:-0}" -gt 0 ] ||
		fail "$1: a loss rule dropped nothing (to the stack ${to:-none}, from it ${from:-none})"
}

# nginx_conf DIR WORKERS [LEVEL] [CONNS]: DIR/nginx.conf for Debian's nginx
# in the foreground, master_process on with WORKERS workers, serving DIR/www
# on port 8081, logs and temporary files under DIR.
nginx_conf() {
	mkdir -p "$1/www" "$1/tmp"
	cat > "$1/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes $2;
user root;
pid $1/nginx.pid;
error_log $1/error.log ${3:-info};
events { worker_connections ${4:-512}; }
http {
	access_log off;
	client_body_temp_path $1/tmp;
	proxy_temp_path $1/tmp;
	fastcgi_temp_path $1/tmp;
	uwsgi_temp_path $1/tmp;
	scgi_temp_path $1/tmp;
	server { listen 8081; root $1/www; }
}
CONF
}
