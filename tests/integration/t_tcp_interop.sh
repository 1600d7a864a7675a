#!/bin/bash
# The userspace TCP against the Linux kernel's, over a net_tap port: Linux
# as client and as server, BYTES each way (100 MB), SHA-256 equal on
# both ends, with impairment on both directions: clean, 1 % and 5 % loss,
# 25 % reordering, 10 % loss with 25 % reordering, 1 % duplication, 1 ms
# delay with jitter. Every transfer must finish within its bound: no
# hang, no stall.
#
# The loss is the kernel's: nftables rules on the Linux side of the tap
# (lib.sh nft_loss) drop frames each way, and their counters, printed for
# every scenario, must show drops both ways, so no project code decides
# whether a frame is lost. This machine's kernel has no netem, so what the
# kernel cannot do here (reorder, duplicate, delay) is the dev layer's own
# option (dev/impair.h): on receive, which is the kernel's egress as the
# stack sees it, and on transmit, the stack's egress.
. "$(dirname "$0")/lib.sh"
# 100 MB a transfer, as the issue asks; the whole test takes about 200 s
# here (BYTES=10000000 for a quick look).
BYTES=${BYTES:-100000000}
PEER="$(dirname "$0")/tcp_peer.py"
ECHO="$BUILD/stack-echo"
EAL="$TAP_ARGS"
ns_setup

# Runs stack-echo in the background; $1 = log, rest = arguments.
stack_bg() {
	log=$1
	shift
	$NSX "$ECHO" --ip 10.88.0.2/24 --eal "$EAL" --seconds 300 \
		${IMPAIR:+--impair-rx "$IMPAIR,seed=11" --impair-tx "$IMPAIR,seed=23"} \
		$STACK_EXTRA "$@" > "$log" 2>&1 &
	sp=$!
}

hash_of() { # the sha256 and byte count a log line reports for rx or tx
	sed -n "s/.* $2 \([0-9]*\) sha256 \([0-9a-f]*\).*/\1 \2/p" "$1" | head -1
}

check() { # $1 label, $2 "bytes hash" stack side, $3 peer output
	peer=$(echo "$3" | sed -n 's/bytes \([0-9]*\) sha256 \([0-9a-f]*\).*/\1 \2/p')
	secs=$(echo "$3" | sed -n 's/.*seconds \([0-9.]*\)/\1/p')
	[ -n "$peer" ] && [ "$peer" = "$2" ] ||
		fail "$label $1: stack '$2' vs linux '$peer' ($3)"
	[ "${peer%% *}" = "$BYTES" ] || fail "$label $1: $peer bytes, want $BYTES"
	printf '   %-31s %-20s %6.2f s  ok\n' "$label" "$1" "$secs"
}

# The port appears when stack-echo starts; wait for its listener.
wait_stack_port() {
	tap_up acc0 10.88.0.1/24
	for _ in $(seq 100); do
		grep -q "listening" "$LOGDIR/interop.srv" 2>/dev/null && break
		sleep 0.05
	done
	sleep 0.2
}

scenario() { # label, bound (s), impairment spec (dev/impair.h), kernel loss %
	label=$1
	BOUND=$2
	IMPAIR=$3
	[ -n "$4" ] && nft_loss acc0 "$4"
	linux_client
	linux_server
	if [ -n "$4" ]; then
		nft_loss_check "$label"
		nft_loss_off
	fi
}

linux_client() {
	stack_bg "$LOGDIR/interop.srv" --listen 9 --mode discard --count 1
	wait_stack_port 9
	out=$(in_ns timeout "$BOUND" python3 "$PEER" client-send 10.88.0.2 9 "$BYTES") ||
		fail "$label linux->stack did not finish in $BOUND s"
	wait $sp
	check "linux->stack" "$(hash_of "$LOGDIR/interop.srv" rx)" "$out"
	stack_bg "$LOGDIR/interop.srv" --listen 19 --mode source --bytes "$BYTES" --count 1
	wait_stack_port 19
	out=$(in_ns timeout "$BOUND" python3 "$PEER" client-recv 10.88.0.2 19) ||
		fail "$label stack->linux did not finish in $BOUND s"
	wait $sp
	check "stack->linux" "$(hash_of "$LOGDIR/interop.srv" tx)" "$out"
}

# Waits until the Linux peer listens (it says "ready"): a SYN that comes
# before would be refused, and the stack client would end at once.
peer_ready() {
	for _ in $(seq 100); do
		grep -q '^ready' "$LOGDIR/interop.peer" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "$label: the Linux peer did not start listening"
}

linux_server() {
	$NSX timeout "$BOUND" python3 "$PEER" server-recv 5001 > "$LOGDIR/interop.peer" 2>&1 &
	pp=$!
	peer_ready
	stack_bg "$LOGDIR/interop.cli" --connect 10.88.0.1:5001 --mode send --bytes "$BYTES"
	tap_up acc0 10.88.0.1/24
	wait $pp || fail "$label stack client->linux server did not finish in $BOUND s"
	wait $sp
	check "stack(c)->linux(s)" "$(hash_of "$LOGDIR/interop.cli" tx)" "$(cat "$LOGDIR/interop.peer")"
	$NSX timeout "$BOUND" python3 "$PEER" server-send 5002 "$BYTES" > "$LOGDIR/interop.peer" 2>&1 &
	pp=$!
	peer_ready
	stack_bg "$LOGDIR/interop.cli" --connect 10.88.0.1:5002 --mode recv
	tap_up acc0 10.88.0.1/24
	wait $pp || fail "$label linux server->stack client did not finish in $BOUND s"
	wait $sp
	check "linux(s)->stack(c)" "$(hash_of "$LOGDIR/interop.cli" rx)" "$(cat "$LOGDIR/interop.peer")"
}

note "$BYTES bytes each way; bound per transfer in brackets"
scenario "clean [30 s]" 30 ""
# net_tap offers checksum offload (done in its own software); the stack
# uses it where offered, so the runs above and below use it, and this
# one shows the software checksums against Linux too.
note "$(sed -n 's/^stack-echo: //p' "$LOGDIR/interop.cli" | head -1)"
grep -q "offload rx ip+tcp tx ip+tcp" "$LOGDIR/interop.cli" ||
	fail "net_tap offers checksum offload but the stack did not take it"
STACK_EXTRA=--no-csum-offload scenario "clean, sw checksums [30 s]" 30 ""
grep -q "offload rx none tx none" "$LOGDIR/interop.cli" ||
	fail "--no-csum-offload left offloads on"
scenario "loss 1% [60 s]" 60 "" 1
scenario "loss 5% [120 s]" 120 "" 5
scenario "reorder 25% [90 s]" 90 "reorder=25,delay=1000"
# the issue's mix, on 4 % of the bytes (4 MB): 10 % of the frames lost by the
# kernel each way, 25 % of the rest reordered by the shim
BYTES=$((BYTES / 25)) scenario "loss 10% + reorder 25% [90 s]" 90 "reorder=25,delay=1000" 10
scenario "duplicate 1% [60 s]" 60 "dup=1"
scenario "delay 1ms jitter [60 s]" 60 "delay=1000,jitter=500"
exit 0
