#!/bin/bash
# What the shim says at the default level when it runs a program on the
# kernel: one line, and why, once for a process tree (sh -c 'P; P' under
# the shim says it once, not once per program):
#  - no ACCEL_IP;
#  - two bad variables at once: one line naming both;
#  - a tap port started by a non-root user (setpriv to nobody): the line
#    carries DPDK's own cause (TUNSETIFF: Operation not permitted);
#  - a port another process holds: "in use by pid N", N that process;
#  - and DPDK's known-harmless lines stay out of the way even at info.
# The program runs on in every case, its stdout its own.
. "$(dirname "$0")/lib.sh"
ns_setup
unset $(env | sed -n 's/^\(ACCEL_[A-Z_]*\)=.*/\1/p') LIBACCEL_SAID LIBACCEL_TREE
P="$BUILD/tests/forkexec"

# $1 = what, $2 = expected count of lines, $3 = pattern each must match,
# $4 = the stderr text
expect_lines() {
	n=$(printf '%s' "$4" | grep -c .)
	[ "$n" = "$2" ] || fail "$1: expected $2 line(s), got $n: $4"
	[ "$n" = 0 ] || [ "$(printf '%s\n' "$4" | grep -c -- "$3")" = "$n" ] ||
		fail "$1: a line does not say '$3': $4"
	[ "$n" = 0 ] || note "$1: $(printf '%s\n' "$4" | head -1)"
}

err=$("$ACCEL" "$P" exec-child 2>&1 >/dev/null)
expect_lines "no ACCEL_IP" 1 "warning: no ACCEL_IP: running on the kernel only" "$err"
err=$("$ACCEL" sh -c "$P exec-child; $P exec-child | cat" 2>&1 >/dev/null)
expect_lines "no ACCEL_IP, sh -c 'P; P | cat'" 1 "no ACCEL_IP" "$err"
err=$(ACCEL_IP=10.88.0.2/24 ACCEL_DISABLE=1 "$ACCEL" "$P" exec-child 2>&1 >/dev/null)
expect_lines "ACCEL_DISABLE=1" 0 "" "$err"

err=$(ACCEL_QUEUES=0 ACCEL_LOG=loud "$ACCEL" "$P" exec-child 2>&1 >/dev/null)
expect_lines "two bad variables" 1 "ACCEL_LOG='loud' is not valid.*; ACCEL_QUEUES='0' is not valid.*running on the kernel only" "$err"
err=$(ACCEL_QUEUES=0 ACCEL_LOG=loud "$ACCEL" sh -c "$P exec-child; $P exec-child" 2>&1 >/dev/null)
expect_lines "two bad variables, sh -c 'P; P'" 1 "ACCEL_QUEUES='0'" "$err"

# A tap port as nobody: the shim and the program from a directory nobody
# can read (the tree may sit where it cannot).
D=$(mktemp -d /tmp/accel-msg.XXXXXX)
# (nobody's port lock falls back to /tmp, as /run/libaccel is root's)
trap 'ns_cleanup; find /tmp -maxdepth 1 -name "accel-port-*.lock" -user nobody \
	-newer "$D" -delete; rm -rf "$D"' EXIT
cp "$BUILD/libaccel.so.0" "$BUILD/accel" "$P" "$D/" && chmod 755 "$D" ||
	fail "cannot copy the shim for nobody"
mkdir -m 1777 "$D/tmp" # (where nobody's tree notes what it said)
nobody() { in_ns setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR="$D/tmp" \
	ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_tap0,iface=accmsg0" \
	ACCEL_IP=10.88.0.2/24 "$@"; }
out=$(nobody "$D/accel" "$D/forkexec" exec-child 2> "$LOGDIR/messages.nobody")
[ "$out" = "exec child: socket works" ] || fail "as nobody the program did not run on: '$out'"
expect_lines "tap as nobody" 1 \
	"error: the DPDK port did not start: .*TUNSETIFF.*Operation not permitted.*running on the kernel only" \
	"$(cat "$LOGDIR/messages.nobody")"
err=$(nobody "$D/accel" sh -c "$D/forkexec exec-child; $D/forkexec exec-child" 2>&1 >/dev/null)
expect_lines "tap as nobody, sh -c 'P; P'" 1 "TUNSETIFF" "$err"

# A port another process holds (memcached on the tap, as root).
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_LOG=info \
	"$ACCEL" memcached -u root -t 1 -U 0 -p 11211 > "$LOGDIR/messages.holder" 2>&1 &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 11211 || fail "memcached did not answer on the port"
! grep -E "rt-signals|Rx trigger signal|to secondary|mp action" "$LOGDIR/messages.holder" ||
	fail "DPDK's harmless lines shown at info"
grep -q "port 0 (net_tap) up" "$LOGDIR/messages.holder" || fail "no port line at info"
taken() { in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 "$@"; }
out=$(taken "$ACCEL" "$P" exec-child 2> "$LOGDIR/messages.taken")
[ "$out" = "exec child: socket works" ] || fail "beside a taken port the program did not run on"
expect_lines "taken port" 1 "the port is in use by pid $mc .*running on the kernel only" \
	"$(cat "$LOGDIR/messages.taken")"
err=$(taken "$ACCEL" sh -c "$P exec-child; $P exec-child" 2>&1 >/dev/null)
expect_lines "taken port, sh -c 'P; P'" 1 "in use by pid $mc" "$err"
kill -TERM $mc
wait $mc
exit 0
