#!/bin/bash
# Prefork servers on the tap (issue 19): the process that listens and
# forks never starts the port; each child that accepts on the inherited
# listener starts its own port on its own queue of the one tap, the kernel
# spreading connections over the queues. Python: a parent that listens and
# forks 3 children that accept (two at once, one after a select). nginx from Debian: master_process on,
# worker_processes 2. Through the port a 1 MB file comes back intact every
# time (sha256), several children serve, accel-stat shows one stack in
# each worker and none in the parent, 127.0.0.1 (the listener's kernel
# half) answers too.
. "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx is not installed (make deps: nginx-light)"
command -v curl >/dev/null || fail "curl is not installed (make deps)"
ns_setup
blob="$LOGDIR/prefork.blob"
head -c 1048576 /dev/urandom > "$blob"
want=$(sha256sum < "$blob" | cut -d' ' -f1)
ENVS=(env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_LOG=info)

# $1 pid log, $2 how many "port up" lines; waits for them (each child starts in turn)
wait_ports() {
	for _ in $(seq 150); do
		[ "$(grep -c 'port 0 (net_tap) up' "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# $1 label, $2 url, $3 tries: every body's sha256 is the file's; prints the pids that served
fetch_all() {
	ok=0
	: > "$LOGDIR/prefork.pids"
	for i in $(seq "$3"); do
		got=$(in_ns curl -s -m 10 -D "$LOGDIR/prefork.hdr" "$2" | sha256sum | cut -d' ' -f1)
		[ "$got" = "$want" ] && ok=$((ok + 1))
		grep -i '^X-Pid:\|^Server:' "$LOGDIR/prefork.hdr" | tr -d '\r' >> "$LOGDIR/prefork.pids"
	done
	[ "$ok" = "$3" ] || fail "$1: $ok of $3 intact"
	note "$1: $ok of $3 intact (sha256)"
}

accepts_of() { # bypass connections worker $1 has accepted
	in_ns "$BUILD/accel-stat" "$1" 2>&1 | awk '$1 == "bypass_accepts" {print $2}'
}

# The kernel spreads new flows over the tap's queues by a hash of its own
# (tun's flow table, seeded at random), often unevenly: small fetches go
# on until every worker in $2 has accepted one (at most $3 of them).
until_all_serve() {
	local n=0 w idle
	while :; do
		idle=""
		for w in $2; do [ "$(accepts_of "$w")" -gt 0 ] 2>/dev/null || idle="$idle $w"; done
		[ -z "$idle" ] && break
		[ $n -ge "$3" ] && fail "$1: worker(s)$idle accepted nothing through the port in $n fetches"
		for _ in 1 2 3 4 5; do
			in_ns curl -s -m 10 -o /dev/null "$4" || fail "$1: a small fetch failed"
		done
		n=$((n + 5))
	done
	note "$1: every worker served through the port ($n small fetches beyond the checked ones)"
}

# ---- Python: listen, fork 3 children that accept -------------------------
plog="$LOGDIR/prefork.py.log"
$NSX "${ENVS[@]}" "$ACCEL" python3 "$TOP/tests/integration/prefork.py" 8080 3 "$blob" \
	> "$plog" 2>&1 &
py=$!
tap_up acc0 10.88.0.1/24
wait_ports "$plog" 3 || { cat "$plog"; fail "python: 3 children did not start their ports"; }
grep -q "libaccel\[$py\].*port 0" "$plog" && fail "python: the parent, which only listens, started a port"
fetch_all "python, 3 children" http://10.88.0.2:8080/ 20
served=$(sort -u "$LOGDIR/prefork.pids" | wc -l)
[ "$served" -ge 2 ] || fail "python: one child served all ($(sort -u "$LOGDIR/prefork.pids"))"
note "python: $served children served through the port"
fetch_all "python, 127.0.0.1" http://127.0.0.1:8080/ 3
# one child leaving (its port closed, the tap taken down as the PMD stops)
# leaves the tap up and the others serving
gone=$(pgrep -P $py | head -1)
kill -TERM "$gone"
for _ in $(seq 50); do kill -0 "$gone" 2>/dev/null || break; sleep 0.1; done
kill -0 "$gone" 2>/dev/null && fail "python: child $gone did not exit"
in_ns ip link show acc0 | grep -q "[<,]UP[,>]" || fail "python: the tap went down with child $gone"
fetch_all "python, 2 children after one left" http://10.88.0.2:8080/ 10
grep -qx "X-Pid: $gone" "$LOGDIR/prefork.pids" && fail "python: the gone child $gone served"
kill -TERM $(pgrep -P $py) $py 2>/dev/null
wait $py 2>/dev/null
# (a worker's exit puts the tap up again for the others: the next test's
#  port is made anew when the last queue closed)
for _ in $(seq 50); do in_ns ip link show acc0 >/dev/null 2>&1 || break; sleep 0.1; done

# ---- a port one process has (a tap with no iface=): the child that finds
# it taken keeps the kernel listener, blocking as its program has it -----
$NSX env ACCEL_DPDK_ARGS="--no-huge -m 256 --no-pci --vdev=net_tap0" ACCEL_IP=10.88.0.2/24 \
	ACCEL_LOG=info "$ACCEL" python3 "$TOP/tests/integration/prefork.py" 8080 2 "$blob" > "$plog" 2>&1 &
py=$!
wait_ports "$plog" 1 || { cat "$plog"; fail "python, one port: no child started it"; }
for _ in $(seq 50); do grep -q "in use by pid" "$plog" && break; sleep 0.1; done
grep -q "in use by pid" "$plog" || { cat "$plog"; fail "python, one port: the second child did not find it taken"; }
fetch_all "python, one port, 127.0.0.1" http://127.0.0.1:8080/ 6
[ "$(pgrep -P $py | wc -l)" = 2 ] || { cat "$plog"; fail "python, one port: a child died"; }
# Both children serve, whichever wins the kernel's wake-ups (a child
# blocked in accept takes every connection of a sequential client): one
# child is held by a connection that has not sent its request yet, the
# fetches meanwhile must come from the other, then the held one answers.
both=$(in_ns python3 - <<'PY'
import re, socket, time
def reply(c):
    d = b''
    while True:
        b = c.recv(65536)
        if not b:
            return re.search(rb'X-Pid: (\d+)', d).group(1).decode()
        d += b
held = socket.create_connection(('127.0.0.1', 8080))
time.sleep(0.3)
others = set()
for _ in range(3):
    c = socket.create_connection(('127.0.0.1', 8080))
    c.sendall(b'GET / HTTP/1.0\r\n\r\n')
    others.add(reply(c))
held.sendall(b'GET / HTTP/1.0\r\n\r\n')
print(reply(held), ' '.join(sorted(others)))
PY
)
read -r heldpid otherpids <<< "$both"
[ -n "$heldpid" ] && [ -n "$otherpids" ] && [ "$otherpids" != "$heldpid" ] ||
	fail "python, one port: held by '$heldpid', the fetches meanwhile served by '$otherpids'"
note "python, one port: both children alive and serving 127.0.0.1 (held: $heldpid, meanwhile: $otherpids)"
kill -TERM $(pgrep -P $py) $py 2>/dev/null
wait $py 2>/dev/null
for _ in $(seq 50); do in_ns ip link show dtap0 >/dev/null 2>&1 || break; sleep 0.1; done

# ---- accept, then fork a child to serve: the kernel's child serves, the
# shim's child gets EBADF (the connection lives in the parent's stack;
# README, limits), and the client sees the connection end (a reset: the
# parent closes it with the request unread) ----------------------------
hand() { # $1 = kernel|shim: the client's answer, then the child's line
	local out="$LOGDIR/prefork.hand.$1" pfx=() host=127.0.0.1 hp
	rm -f "$out"
	[ "$1" = shim ] && pfx=(env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 "$ACCEL") && host=10.88.0.2
	$NSX "${pfx[@]}" python3 "$TOP/tests/integration/handchild.py" 8082 "$out" \
		> "$LOGDIR/prefork.hand.$1.log" 2>&1 &
	hp=$!
	for _ in $(seq 100); do grep -q listening "$LOGDIR/prefork.hand.$1.log" && break; sleep 0.1; done
	[ "$1" = shim ] && tap_up acc0 10.88.0.1/24
	got=$(in_ns timeout 10 python3 -c "
import socket, sys
c = socket.create_connection(('$host', 8082), timeout=5)
c.sendall(b'hi\\n')
d = b''
try:
    while True:
        b = c.recv(100)
        if not b:
            break
        d += b
except ConnectionResetError:
    print('reset')
    sys.exit(0)
print(repr(d.decode()))" 2>&1)
	wait $hp
	echo "$got $(cat "$out" 2>/dev/null)"
	for _ in $(seq 50); do in_ns ip link show acc0 >/dev/null 2>&1 || break; sleep 0.1; done
}
k=$(hand kernel)
[ "$k" = "'hello from the child\n' served" ] || fail "accept then fork, kernel: '$k'"
sh=$(hand shim)
# (the parent's close with the request unread resets, as Linux's does)
case "$sh" in
"'' errno 9 EBADF" | "reset errno 9 EBADF") ;;
*) fail "accept then fork, shim: '$sh' (want the client's EOF or reset and the child's EBADF)" ;;
esac
note "accept then fork: the kernel's child serves ($k); the shim's child: EBADF, the client sees the end ($sh)"

# ---- a reload in slow motion: child A has a connection in its accept
# queue (it never accepts), child B starts and listens, A closes its copy
# of the listener (b-first), or A closes it first and B starts after
# (a-first: nginx's old workers close as the new ones start their ports).
# On Linux the children share the listening socket and B accepts the
# connection; here it goes from A's stack to B's (tcp_move.c; a-first: it
# waits in A until B listens): the client's request, sent to A, is
# answered by B, with no reset -----------------------------------------
wait_file() { for _ in $(seq 150); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
slow_reload() { # $1 = b-first | a-first
	local rq="$LOGDIR/prefork.rq.$1" rp cl apid bpid got sa sb alive
	rm -rf "$rq" && mkdir -p "$rq"
	$NSX "${ENVS[@]}" ACCEL_STATS=1 "$ACCEL" python3 "$TOP/tests/integration/reload_queue.py" 8083 "$rq" \
		> "$rq/log" 2>&1 &
	rp=$!
	wait_file "$rq/a.up" || { cat "$rq/log"; fail "reload queue ($1): child A did not start"; }
	tap_up acc0 10.88.0.1/24
	in_ns timeout 20 python3 -c "
import socket
c = socket.create_connection(('10.88.0.2', 8083), timeout=15)
c.sendall(b'hello')
d = b''
try:
    while True:
        b = c.recv(100)
        if not b:
            break
        d += b
    print(d.decode())
except (ConnectionResetError, socket.timeout) as e:
    print(type(e).__name__)" > "$rq/client" 2>&1 &
	cl=$!
	apid=$(pgrep -P $rp | head -1)
	for _ in $(seq 100); do # (A's stack holds it, unaccepted, the request read)
		in_ns "$BUILD/accel-stat" "$apid" 2>/dev/null | grep -q '^tcp_passive_opens *1$' && break
		sleep 0.1
	done
	in_ns "$BUILD/accel-stat" "$apid" 2>/dev/null | grep -q '^tcp_passive_opens *1$' ||
		fail "reload queue ($1): the connection did not reach child A"
	sleep 0.3
	if [ "$1" = a-first ]; then
		touch "$rq/close-a"
		wait_file "$rq/a.closed" || fail "reload queue ($1): child A did not close its listener"
		touch "$rq/fork-b"
		wait_file "$rq/b.up" || { cat "$rq/log"; fail "reload queue ($1): child B did not start"; }
	else
		touch "$rq/fork-b"
		wait_file "$rq/b.up" || { cat "$rq/log"; fail "reload queue ($1): child B did not start"; }
		touch "$rq/close-a"
		wait_file "$rq/a.closed" || fail "reload queue ($1): child A did not close its listener"
	fi
	bpid=$(pgrep -P $rp | grep -vx "$apid")
	wait $cl
	got=$(cat "$rq/client")
	touch "$rq/stop" # (not a signal: see docs/tests.md)
	for _ in $(seq 100); do # (each child's exit line, once it has exited)
		[ "$(grep -c "libaccel\[\($apid\|$bpid\)\] stats: tcp" "$rq/log")" = 2 ] && break
		sleep 0.1
	done
	alive=$( (kill -0 "$apid" && echo A; kill -0 "$bpid" && echo B) 2>/dev/null | tr '\n' ' ')
	# (the parent exits by itself once its children have: its exit lets
	#  go of the tap the last child kept for the group)
	for _ in $(seq 50); do kill -0 $rp 2>/dev/null || break; sleep 0.1; done
	kill -TERM $(pgrep -P $rp) $rp 2>/dev/null
	wait $rp 2>/dev/null
	# (each child's exit line: "resets sent N, connections moved in I out O")
	sa=$(grep -o "libaccel\[$apid\] stats: tcp .*" "$rq/log" | grep -o 'resets sent.*')
	sb=$(grep -o "libaccel\[$bpid\] stats: tcp .*" "$rq/log" | grep -o 'resets sent.*')
	[ "$got" = "B $bpid: hello" ] ||
		fail "reload queue ($1): the client got '$got' (want 'B $bpid: hello'); A: $sa; B: $sb"
	[ "$sa" = "resets sent 0, connections moved in 0 out 1" ] || fail "reload queue ($1): A: '$sa'"
	[ "$sb" = "resets sent 0, connections moved in 1 out 0" ] || fail "reload queue ($1): B: '$sb' (still alive: $alive)"
	note "reload in slow motion ($1): the connection A never accepted went to B (moved out 1, in 1), which answered '$got'; no reset"
	for _ in $(seq 50); do in_ns ip link show acc0 >/dev/null 2>&1 || break; sleep 0.1; done
}
slow_reload b-first
slow_reload a-first

# ---- nginx: master_process on, worker_processes 2 ------------------------
dir="$LOGDIR/prefork-nginx"
rm -rf "$dir" && mkdir -p "$dir/www"
cp "$blob" "$dir/www/blob"
echo small > "$dir/www/small"
nginx_conf "$dir" 2 info 256
nlog="$LOGDIR/prefork.nginx.log"
$NSX "${ENVS[@]}" "$ACCEL" nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" \
	> "$nlog" 2>&1 &
ng=$!
tap_up acc0 10.88.0.1/24
# (nginx gives its stderr to its error log)
wait_ports "$dir/error.log" 2 || { cat "$nlog" "$dir/error.log"; fail "nginx: 2 workers did not start their ports"; }
grep -q "libaccel\[$ng\].*port 0" "$nlog" "$dir/error.log" && fail "nginx: the master started a port"
fetch_all "nginx, 2 workers" http://10.88.0.2:8081/blob 20
fetch_all "nginx, 127.0.0.1" http://127.0.0.1:8081/blob 3
workers=$(pgrep -P $ng)
[ "$(echo $workers | wc -w)" = 2 ] || fail "nginx: workers '$workers'"
for w in $workers; do
	st=$(in_ns "$BUILD/accel-stat" "$w" 2>&1)
	echo "$st" > "$LOGDIR/prefork.stat.$w"
	n=$(echo "$st" | awk '$1 == "stacks" {print $2}')
	[ "$n" = 1 ] || fail "nginx worker $w: '$n' stacks in accel-stat (want 1): $(echo "$st" | head -5)"
done
# The counters file of a worker that went idle right after its fetches is
# written once more within a second (sk_sleep_len: stats_owed); before,
# both workers showed 0 accepts here, the figures from before the fetches.
sleep 1.5
sum=0
for w in $workers; do
	n=$(accepts_of "$w")
	note "nginx worker $w: 1 stack, $n connections accepted through the port"
	sum=$((sum + ${n:-0}))
done
[ "$sum" -ge 20 ] || fail "nginx: accel-stat, 1.5 s after 20 fetches, shows $sum accepts in the workers"
until_all_serve "nginx, 2 workers" "$workers" 200 http://10.88.0.2:8081/small
in_ns "$BUILD/accel-stat" "$ng" 2>&1 | grep -q '^stacks' && fail "nginx: the master has a stack"
# a worker killed outright: the master starts another, which takes a queue
# (the freed slot) and serves with the one that stayed
old=$(echo $workers | cut -d' ' -f1)
kill -KILL "$old"
rm -f "/run/libaccel/$old.stats" "/tmp/$old.stats" # (what -9 leaves; its lock goes at the next start)
wait_ports "$dir/error.log" 3 || fail "nginx: the new worker did not start its port"
new=$(pgrep -P $ng | grep -vx "$(echo $workers | tr ' ' '\n' | grep -vx "$old")" | grep -vx "$old")
[ -n "$new" ] || fail "nginx: no new worker"
fetch_all "nginx, a new worker and the old one" http://10.88.0.2:8081/blob 10
st=$(in_ns "$BUILD/accel-stat" "$new" 2>&1)
n=$(echo "$st" | awk '$1 == "stacks" {print $2}')
[ "$n" = 1 ] || fail "nginx: the new worker $new has '$n' stacks"
until_all_serve "nginx, the new worker" "$new" 200 http://10.88.0.2:8081/small
note "nginx: worker $old killed (-9), worker $new took a queue and serves"
kill -TERM $ng
wait $ng 2>/dev/null
exit 0
