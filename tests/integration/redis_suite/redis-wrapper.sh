#!/bin/sh
# Installed by t_redis_suite.sh as src/redis-server, src/redis-cli, ... in
# the Debian source tree of Redis, where the suite looks for its programs:
# runs Debian's installed binary of the same name, under the shim when the
# run is the shim's (REDIS_SUITE_SHIM=1; the launcher is REDIS_SUITE_LAUNCHER).
# A server gets a net_ring port of its own when REDIS_SUITE_RING_ARGS is set
# (the EAL arguments but the --vdev); the clients (redis-cli,
# redis-benchmark, the check tools) run in pass-through, as a port would cost
# each short-lived one a DPDK start: the library preloaded as a harness
# preloads it, not through the launcher, which would tell a person on its
# stderr that there is no ACCEL_IP (the suite counts a client's stderr as a
# failure). exec keeps the pid, which the suite signals and waits for.
name=$(basename "$0")
prog=/usr/bin/$name
if [ "${REDIS_SUITE_SHIM:-0}" = 1 ]; then
	if [ "$name" != redis-server ]; then
		unset ACCEL_IP ACCEL_DPDK_ARGS ACCEL_STATS
		LD_PRELOAD="$(dirname "$REDIS_SUITE_LAUNCHER")/libaccel.so${LD_PRELOAD:+:$LD_PRELOAD}"
		export LD_PRELOAD
		exec "$prog" "$@"
	elif [ -n "$REDIS_SUITE_RING_ARGS" ]; then
		# A port per server: the shim lets one process have a port
		# (its lock is the port's name), and the suite runs several.
		ACCEL_DPDK_ARGS="$REDIS_SUITE_RING_ARGS --vdev=net_ring$$"
		export ACCEL_DPDK_ARGS
	fi
	exec "$REDIS_SUITE_LAUNCHER" "$prog" "$@"
fi
exec "$prog" "$@"
