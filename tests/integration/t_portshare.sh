#!/bin/bash
# Two unrelated servers on one port (issue 19): memcached and redis-server,
# each started on its own with ACCEL_PORT_SHARE=1 and the same tap and
# address, take a queue each of the one interface. The kernel picks a
# queue for each new connection by its hash, not its port, so about half
# the SYNs for each server reach the other's queue; that process hands
# them over (dev/net_share.c) and the connection is served where it
# belongs. Checked: both serve at once through the port, every reply is
# the kernel's (the same commands to the same servers over 127.0.0.1),
# each process handed frames to the other and took frames from it, and
# accel-stat finds one stack in each.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || fail "redis-server is not installed (make deps)"
command -v memcached >/dev/null || fail "memcached is not installed (make deps)"
ns_setup
ENVS=(env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_LOG=info ACCEL_PORT_SHARE=1)
mlog="$LOGDIR/portshare.memcached"
rlog="$LOGDIR/portshare.redis"
$NSX "${ENVS[@]}" "$ACCEL" memcached -u root -t 1 -U 0 -p 11211 > "$mlog" 2>&1 &
mc=$!
# (the shim starts the port at the server's first wait on its listener)
wait_log "$mlog" "port 0 \(net_tap\) up" || { cat "$mlog"; fail "memcached's port did not start"; }
tap_up acc0 10.88.0.1/24
$NSX "${ENVS[@]}" "$ACCEL" redis-server --port 6379 --save "" --appendonly no \
	--protected-mode no > "$rlog" 2>&1 &
rs=$!
wait_log "$rlog" "port 0 \(net_tap\) up" || { cat "$rlog"; fail "redis-server's port did not start"; }
grep -q "joined theirs" "$rlog" || { cat "$rlog"; fail "redis-server did not join memcached's tap"; }
grep -q "slot 0" "$mlog" && grep -q "slot 1" "$rlog" ||
	fail "not one queue slot each: $(grep -h slot "$mlog" "$rlog")"
wait_tcp 10.88.0.2 11211 || fail "memcached does not answer through the port"
wait_tcp 10.88.0.2 6379 || fail "redis-server does not answer through the port"

# $1 = host, $2 = tag, $3 = rounds, $4 = output file: a new connection to
# each server per round (a new source port: a new hash), memcached and
# redis at once. The two writers write files of their own (ci: a python
# line and a redis line, both written to one file, came out spliced).
clients() {
	in_ns python3 - "$1" "$2" "$3" > "$4.mc" 2>&1 <<'EOF' &
import socket, sys
host, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    s = socket.create_connection((host, 11211), timeout=5)
    v = "%s-%d" % (tag, i)
    s.sendall(b"set k%d 0 0 %d\r\n%s\r\nget k%d\r\n" % (i, len(v), v.encode(), i))
    buf = b""
    while not buf.endswith(b"END\r\n"):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    print("mc", i, buf.decode().replace("\r\n", "|"))
    s.close()
EOF
	local py=$!
	for i in $(seq "$3"); do
		echo "redis $i $(in_ns redis-cli -h "$1" -p 6379 set r$i "$2-$i") \
$(in_ns redis-cli -h "$1" -p 6379 get r$i)"
	done > "$4.redis" 2>&1
	wait $py
	cat "$4.mc" "$4.redis" > "$4"
}
clients 10.88.0.2 port 40 "$LOGDIR/portshare.port"
clients 127.0.0.1 kern 40 "$LOGDIR/portshare.kernel"
sort "$LOGDIR/portshare.port" | sed 's/port-/V-/g' > "$LOGDIR/portshare.port.s"
sort "$LOGDIR/portshare.kernel" | sed "s/kern-/V-/g" > "$LOGDIR/portshare.kernel.s"
[ "$(grep -c "^mc .*|END|$" "$LOGDIR/portshare.port.s")" = 40 ] ||
	{ head "$LOGDIR/portshare.port"; fail "memcached through the port: not 40 good replies"; }
[ "$(grep -c "^redis [0-9]* OK V-" "$LOGDIR/portshare.port.s")" = 40 ] ||
	{ head "$LOGDIR/portshare.port"; fail "redis through the port: not 40 good replies"; }
diff "$LOGDIR/portshare.kernel.s" "$LOGDIR/portshare.port.s" > /dev/null ||
	{ diff "$LOGDIR/portshare.kernel.s" "$LOGDIR/portshare.port.s" | head; \
	  fail "the port's replies are not the kernel's"; }
note "40 memcached and 40 redis connections at once through the port: the kernel's replies"

stat_of() { # $1 pid, $2 counter
	"$BUILD/accel-stat" "$1" 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}
for _ in $(seq 30); do # (the counters file is rewritten once a second)
	[ -n "$(stat_of $mc share_in)" ] && [ -n "$(stat_of $rs share_in)" ] && break
	sleep 0.1
done
sleep 1.2
m_out=$(stat_of $mc share_out) m_in=$(stat_of $mc share_in)
r_out=$(stat_of $rs share_out) r_in=$(stat_of $rs share_in)
note "handed over: memcached out $m_out in $m_in, redis-server out $r_out in $r_in"
[ "${m_out:-0}" -gt 0 ] && [ "${r_in:-0}" -gt 0 ] ||
	fail "no redis connection reached memcached's queue and was handed over (out $m_out, in $r_in)"
[ "${r_out:-0}" -gt 0 ] && [ "${m_in:-0}" -gt 0 ] ||
	fail "no memcached connection reached redis-server's queue and was handed over"
[ "$(stat_of $mc stacks)" = 1 ] && [ "$(stat_of $rs stacks)" = 1 ] ||
	fail "accel-stat: not one stack in each server"
r_rst=$(stat_of $rs tcp_rsts_out) m_rst=$(stat_of $mc tcp_rsts_out)
[ "${r_rst:-0}" = 0 ] && [ "${m_rst:-0}" = 0 ] ||
	fail "resets sent: memcached $m_rst, redis-server $r_rst"

# redis-server killed (-9): memcached keeps serving through the port (the
# value the kernel run left), a
# connection to redis's port is refused (RST, as the kernel refuses a
# closed port), and a redis-server started again takes a queue and is
# served, connections handed to it as before.
kill -KILL $rs
wait $rs 2>/dev/null
for i in $(seq 10); do
	out=$(in_ns python3 -c 'import socket
s = socket.create_connection(("10.88.0.2", 11211), timeout=5)
s.sendall(b"get k1\r\n")
b = b""
while not b.endswith(b"END\r\n"):
    d = s.recv(4096)
    if not d: break
    b += d
print(b.decode().split("\r\n")[1])')
	[ "$out" = kern-1 ] || fail "memcached after redis-server's kill -9: '$out'"
done
refused=$(in_ns python3 -c 'import socket
try:
    socket.create_connection(("10.88.0.2", 6379), timeout=3); print("connected")
except ConnectionRefusedError: print("refused")
except Exception as e: print(type(e).__name__)')
[ "$refused" = refused ] || fail "a connection to the killed redis-server's port: $refused"
$NSX "${ENVS[@]}" "$ACCEL" redis-server --port 6379 --save "" --appendonly no \
	--protected-mode no > "$rlog.2" 2>&1 &
rs=$!
wait_log "$rlog.2" "port 0 \(net_tap\) up" || { cat "$rlog.2"; fail "redis-server did not start again"; }
wait_tcp 10.88.0.2 6379 || fail "the new redis-server does not answer through the port"
for i in $(seq 20); do
	[ "$(in_ns redis-cli -h 10.88.0.2 -p 6379 set again$i v$i)" = OK ] ||
		fail "the new redis-server: set $i failed"
done
note "after redis-server's kill -9: memcached served, its port refused, a new redis-server served 20 of 20"
kill -TERM $mc $rs
wait $mc $rs 2>/dev/null
exit 0
