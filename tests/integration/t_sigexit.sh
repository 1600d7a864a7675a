#!/bin/bash
# A program under the shim that dies of a signal closes its bypass
# connections as the kernel closes a dying process's sockets, then dies of
# that signal (preload/signals.c, sockets/netif.c sk_net_die). Each case
# runs on the kernel (the address on lo) and under the shim (a tap port),
# and the lines must be the same:
#  - a Python server left at SIG_DFL, sent SIGTERM, and SIGHUP: its Linux
#    client sees EOF on the connection it served, RST on the one whose
#    data it left unread, both within 1 s; the exit status is the signal's;
#  - a Python server with its own SIGTERM handler: the handler runs, the
#    connections stay open until the program closes them, status 3;
#  - redis-server, `redis-cli DEBUG SEGFAULT`: redis's crash handler
#    writes its report and re-raises SIGSEGV; the client sees the
#    connection end within 1 s, the status is SIGSEGV's;
#  - kill -9 of a server leaves its stats file and lock file, and with a
#    --file-prefix its DPDK runtime directory (/run/dpdk/<prefix>); the
#    next start, and accel-stat, remove those of processes that are gone
#    (the directory: its config file locked by nobody), not those of a
#    live one, and the next start on the same port works.
. "$(dirname "$0")/lib.sh"
ns_setup
ulimit -c 0
PEER="$TOP/tests/integration/sigexit_peer.py"
OUT="$LOGDIR/sigexit"
DIR=$(mktemp -d)
trap 'ns_cleanup; rm -rf "$DIR"' EXIT
SHIM=(env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 "$ACCEL")

wait_file() {
	for _ in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# $1 = kernel|shim, $2 = mode, $3 = signal: prints the client's lines and
# the server's status
python_case() {
	local where=$1 mode=$2 sig=$3 pfx=() ready="$DIR/ready.$1.$2.$3" spid st
	[ "$where" = shim ] && pfx=("${SHIM[@]}")
	$NSX "${pfx[@]}" python3 "$PEER" server 10.88.0.2 7000 "$mode" "$ready" \
		> "$OUT.$where.$mode.$sig.srv" 2>&1 &
	spid=$!
	[ "$where" = shim ] && tap_up acc0 10.88.0.1/24
	wait_file "$ready" || fail "$where $mode server did not start"
	MODE=$mode in_ns timeout 20 python3 "$PEER" client 10.88.0.2 7000 "$spid" "$sig" \
		2> "$OUT.$where.$mode.$sig.ms" || fail "$where $mode $sig client failed"
	wait "$spid"
	st=$?
	echo "status $st"
	sed "s/^/      $where $mode $sig: /" "$OUT.$where.$mode.$sig.ms" >&2
}

in_ns ip addr add 10.88.0.2/32 dev lo || fail "cannot put the address on lo"
for c in "plain SIGTERM" "plain SIGHUP" "handler SIGTERM"; do
	python_case kernel $c > "$OUT.kernel.${c// /.}"
done
in_ns ip addr del 10.88.0.2/32 dev lo
for c in "plain SIGTERM" "plain SIGHUP" "handler SIGTERM"; do
	python_case shim $c > "$OUT.shim.${c// /.}"
	diff -u "$OUT.kernel.${c// /.}" "$OUT.shim.${c// /.}" ||
		fail "python $c: the shim's run differs from the kernel's"
	grep -q "within 1 s" "$OUT.kernel.${c// /.}" || fail "python $c: the kernel itself was late"
	grep -q late "$OUT.shim.${c// /.}" && fail "python $c: late under the shim"
	note "python $c: $(tr '\n' ';' < "$OUT.shim.${c// /.}")"
done

# redis: its SIGSEGV handler writes the report, then re-raises. Its
# crash report's fast memory test scans every anonymous mapping, the
# shim's 256 MB packet memory included (0.3-0.6 s more than on the
# kernel, redis's own work before it re-raises): both runs leave it out
# (--crash-memcheck-enabled no), so the time is the report and the close.
redis_case() { # $1 = kernel|shim, $2 = address
	local where=$1 pfx=() rpid st t0 t1
	[ "$where" = shim ] && pfx=("${SHIM[@]}")
	rm -f "$DIR/redis.log"
	$NSX "${pfx[@]}" redis-server --port 6379 --save "" --appendonly no \
		--protected-mode no --enable-debug-command yes --crash-memcheck-enabled no --dir "$DIR" \
		--logfile "$DIR/redis.log" &
	rpid=$!
	[ "$where" = shim ] && tap_up acc0 10.88.0.1/24
	wait_tcp "$2" 6379 || fail "redis ($where) did not listen"
	t0=$(date +%s%N)
	in_ns timeout 10 redis-cli -h "$2" -p 6379 debug segfault > "$OUT.redis.$where.cli" 2>&1
	t1=$(date +%s%N)
	for _ in $(seq 50); do
		kill -0 "$rpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$rpid" 2>/dev/null && { kill -KILL "$rpid"; fail "redis ($where) did not die"; }
	wait "$rpid"
	st=$?
	cp "$DIR/redis.log" "$OUT.redis.$where.log"
	grep -q "REDIS BUG REPORT" "$DIR/redis.log" || fail "redis ($where) wrote no crash report"
	echo "status $st"
	echo "connection ended: $(grep -c "Server closed the connection" "$OUT.redis.$where.cli")"
	[ $(((t1 - t0) / 1000000)) -lt 1000 ] && echo "within 1 s" || echo "late"
	note "redis $where: DEBUG SEGFAULT answered in $(((t1 - t0) / 1000000)) ms" >&2
}
in_ns ip addr add 10.88.0.2/32 dev lo || fail "cannot put the address on lo"
redis_case kernel 10.88.0.2 > "$OUT.redis.kernel"
in_ns ip addr del 10.88.0.2/32 dev lo
redis_case shim 10.88.0.2 > "$OUT.redis.shim"
diff -u "$OUT.redis.kernel" "$OUT.redis.shim" || fail "redis DEBUG SEGFAULT: shim differs from kernel"
note "redis: $(tr '\n' ';' < "$OUT.redis.shim")"

# kill -9: nothing in the process runs, so its counters file and port
# lock file stay; the next start on the same port works, and it (or
# accel-stat) removes what belongs to processes that are gone.
PFX="accel-sigexit-$$"
RUNDIR=/run/dpdk/$PFX
trap 'ns_cleanup; rm -rf "$DIR" "$RUNDIR" "$RUNDIR-live"; [ -n "$lpid" ] && kill -KILL "$lpid" 2>/dev/null' EXIT
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS --file-prefix $PFX" ACCEL_IP=10.88.0.2/24 "$ACCEL" \
	python3 "$PEER" server 10.88.0.2 7000 plain "$DIR/ready.k9" > "$OUT.kill9.srv" 2>&1 &
kpid=$!
tap_up acc0 10.88.0.1/24
wait_file "$DIR/ready.k9" || fail "server (kill -9) did not start"
# a live process with a runtime directory of its own (no port of its
# own: its EAL has only the null device), which the sweep must leave
$NSX env ACCEL_DPDK_ARGS="--no-huge -m 64 --no-pci --vdev=net_null0 --file-prefix $PFX-live" \
	ACCEL_IP=10.99.0.2/24 "$ACCEL" python3 -c "import select, socket, time
s = socket.socket(); s.bind(('0.0.0.0', 7100)); s.listen()
select.select([s], [], [], 0)  # (its port starts at the data path)
open('$DIR/ready.live', 'w'); time.sleep(60)" \
	> "$OUT.live.srv" 2>&1 &
lpid=$!
wait_file "$DIR/ready.live" || fail "the live EAL did not start"
in_ns bash -c "exec 3<>/dev/tcp/10.88.0.2/7000; sleep 1.5" # (the stack runs: a publish)
[ -e "$RUNDIR/config" ] && [ -e "$RUNDIR-live/config" ] ||
	fail "no runtime directory $RUNDIR or $RUNDIR-live while they ran"
stats=$(ls /run/libaccel/$kpid.stats /tmp/$kpid.stats 2>/dev/null)
lock=$(grep -lx "$kpid" /run/libaccel/accel-port-*.lock /tmp/accel-port-*.lock 2>/dev/null)
[ -n "$stats" ] && [ -n "$lock" ] || fail "no stats file ($stats) or lock file ($lock) while it ran"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
[ -e "$stats" ] && [ -e "$lock" ] && [ -d "$RUNDIR" ] ||
	fail "kill -9 left no files: the check below proves nothing"
python_case shim plain SIGTERM > "$OUT.shim.after9"
diff -u "$OUT.kernel.plain.SIGTERM" "$OUT.shim.after9" || fail "the start after kill -9 did not work as before"
[ -e "$stats" ] && fail "the next start left the killed server's $stats"
[ -e "$RUNDIR" ] && fail "the next start left the killed server's $RUNDIR"
[ -e "$RUNDIR-live/config" ] || fail "the next start removed a live process's $RUNDIR-live"
kill -KILL "$lpid"
wait "$lpid" 2>/dev/null
lpid=
"$BUILD/accel-stat" > /dev/null 2>&1
left=$(ls /run/libaccel/$kpid.* /tmp/$kpid.* 2>/dev/null; grep -lx "$kpid" /run/libaccel/accel-port-*.lock /tmp/accel-port-*.lock 2>/dev/null)
[ -z "$left" ] || fail "left after kill -9, a new start and accel-stat: $left"
note "kill -9: stats file, lock file and DPDK runtime directory stayed; the next start worked and removed them (a live one's kept)"
