#!/bin/bash
# The shim resolves libc's symbols safely before main and while dlsym
# allocates: with a library that makes interposed calls from its
# constructor and from inside malloc/calloc preloaded before or after
# libaccel, a program runs exactly as on the kernel (same waitmix output),
# both in pass-through and with the port up.
. "$(dirname "$0")/lib.sh"
ns_setup
hook="$BUILD/tests/libearlyhook.so"
lib="$BUILD/libaccel.so"
prog="$BUILD/tests/waitmix"

in_ns "$prog" check > "$LOGDIR/early.kernel" 2>&1 || fail "waitmix on the kernel"
for order in "$hook:$lib" "$lib:$hook"; do
	for port in no yes; do
		# (the ASan build's runtime must come first of all: make integration-san)
		envs=(env LD_PRELOAD="${TESTS_ASAN_LIB:+$TESTS_ASAN_LIB:}$order")
		[ $port = yes ] && envs+=(ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24)
		timeout 60 ip netns exec "$NS" "${envs[@]}" "$prog" check \
			> "$LOGDIR/early.shim" 2>&1 || fail "waitmix with $order (port $port)"
		# (without a port the shim says so, once: not the program's output)
		diff -u "$LOGDIR/early.kernel" <(grep -v "no ACCEL_IP: running on the kernel only" \
			"$LOGDIR/early.shim") ||
			fail "results differ with LD_PRELOAD=$order (port $port)"
		note "LD_PRELOAD=$(basename "${order%%:*}"):$(basename "${order##*:}") port=$port: same as kernel"
	done
done
exit 0
