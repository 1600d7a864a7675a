#!/bin/sh
# Installed by t_redis_suite.sh as src/redis-server, src/redis-cli, ... in
# the Debian source tree of Redis, where the suite looks for its programs:
# runs Debian's installed binary of the same name, under the shim when the
# run is the shim's (REDIS_SUITE_SHIM=1; the launcher is REDIS_SUITE_LAUNCHER).
# A server keeps the port settings it was given; the clients (redis-cli,
# redis-benchmark, the check tools) run in pass-through, as a port would cost
# each short-lived one a DPDK start. exec keeps the pid, which the suite
# signals and waits for.
name=$(basename "$0")
prog=/usr/bin/$name
if [ "${REDIS_SUITE_SHIM:-0}" = 1 ]; then
	[ "$name" = redis-server ] || unset ACCEL_IP ACCEL_DPDK_ARGS ACCEL_STATS
	exec "$REDIS_SUITE_LAUNCHER" "$prog" "$@"
fi
exec "$prog" "$@"
