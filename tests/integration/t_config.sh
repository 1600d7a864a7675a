#!/bin/bash
# Bad settings are refused with one line on stderr naming the variable;
# the program then runs on the kernel (exit status its own), or exits
# non-zero with ACCEL_STRICT=1. Unknown ACCEL_* names get a warning. A port
# that cannot start (a device DPDK does not know) is one clear failure and
# the program runs on. stdout stays the program's own throughout.
. "$(dirname "$0")/lib.sh"

expect_one_line() { # $1 = variable, $2 = stderr text
	[ "$(printf '%s\n' "$2" | grep -c .)" = 1 ] || fail "expected one line, got: $2"
	printf '%s\n' "$2" | grep -q "$1" || fail "the line does not name $1: $2"
	note "$2"
}

for case in "ACCEL_IP=nonsense" "ACCEL_IP=10.0.0.1/40" "ACCEL_GW=10.9.9.9 ACCEL_IP=10.0.0.1/24" \
	"ACCEL_QUEUES=0" "ACCEL_LOG=loud" "ACCEL_STATS=maybe" "ACCEL_MBUFS=12abc"; do
	var=${case%%=*}
	[ "${case#ACCEL_GW}" != "$case" ] && var=ACCEL_GW
	err=$(env $case "$ACCEL" true 2>&1 >/dev/null); rc=$?
	[ $rc = 0 ] || fail "$case: exit $rc without ACCEL_STRICT"
	expect_one_line "$var" "$err"
	env $case ACCEL_STRICT=1 "$ACCEL" true 2>/dev/null && fail "$case: ACCEL_STRICT=1 should exit non-zero"
done
out=$(ACCEL_IP=nonsense "$ACCEL" echo hello 2>/dev/null)
[ "$out" = hello ] || fail "stdout changed: '$out'"
# (ACCEL_DISABLE=1: else the line that says there is no ACCEL_IP follows)
err=$(ACCEL_DISABLE=1 ACCEL_IPP=1 "$ACCEL" true 2>&1 >/dev/null)
expect_one_line ACCEL_IPP "$err"
err=$(ACCEL_DISABLE=1 ACCEL_IP=10.0.0.1/24 "$ACCEL" true 2>&1)
[ -z "$err" ] || fail "ACCEL_DISABLE=1 should be silent: $err"

# A port that cannot start: the program runs on, stdout untouched.
ns_setup
out=$(in_ns env ACCEL_IP=10.88.0.2/24 ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_nosuch0" \
	"$ACCEL" "$BUILD/tests/forkexec" exec-child 2> "$LOGDIR/config.badport")
rc=$?
[ $rc = 0 ] || fail "program failed with a bad port (exit $rc)"
[ "$out" = "exec child: socket works" ] || fail "stdout polluted: $out"
grep -q "running on the kernel only" "$LOGDIR/config.badport" || fail "no clear failure line"
note "$(grep 'running on the kernel only' "$LOGDIR/config.badport")"
in_ns env ACCEL_STRICT=1 ACCEL_IP=10.88.0.2/24 ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_nosuch0" \
	"$ACCEL" "$BUILD/tests/forkexec" exec-child >/dev/null 2>&1 && fail "ACCEL_STRICT=1 with a bad port should exit non-zero"
exit 0
