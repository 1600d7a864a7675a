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
	in_ns ip addr replace "$2" dev "$1" || fail "cannot address $1"
	in_ns ip link set "$1" up
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
