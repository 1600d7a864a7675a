#!/bin/bash
# A memcached pool: three memcached nodes and nutcracker (twemproxy) in
# front with ketama distribution, all four under the shim on taps of their
# own joined by a Linux bridge (cluster_lib.sh). (nutcracker adds its
# server sockets to epoll before it connects them: connect moves them into
# the shim's sets, preload/interpose.c epoll_move_to_bypass.)
#  - memaslap through nutcracker, 10 % of its gets verified: no errors,
#    no verification failures;
#  - keys set through nutcracker are spread over all three nodes;
#  - one node killed (kill -9): nutcracker ejects it (auto_eject_hosts;
#    its stats count the eject), keeps serving (new keys set and read
#    back), and every key of the other two nodes is still there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
DIR=$(mktemp -d)
cl_setup 'rm -rf "$DIR"'
PY=$(dirname "$0")/mcpool.py
SECS=${SECS:-10}
KEYS=600

maddr() { echo "$(cl_ip "$1"):$((11210 + $1))"; }
PROXY="$(cl_ip 4):22121"

for n in 1 2 3; do
	cl_start "$n" "$LOGDIR/mcpool.$n.log" memcached -u root -t 2 -U 0 -p $((11210 + n))
done
cat > "$DIR/nutcracker.yml" <<EOF
pool:
  listen: 0.0.0.0:22121
  hash: fnv1a_64
  distribution: ketama
  timeout: 1000
  auto_eject_hosts: true
  server_retry_timeout: 30000
  server_failure_limit: 2
  servers:
   - $(maddr 1):1
   - $(maddr 2):1
   - $(maddr 3):1
EOF
for n in 1 2 3; do cl_wait_tcp "$(cl_ip "$n")" $((11210 + n)); done
cl_start 4 "$LOGDIR/mcpool.nutcracker.log" nutcracker -c "$DIR/nutcracker.yml" -s 22222 -i 1000
cl_wait_tcp "$(cl_ip 4)" 22121

out=$(in_ns timeout $((SECS + 60)) memcaslap -s "$PROXY" -t "${SECS}s" -v 0.1 -T 2 -c 16 2>&1) ||
	{ echo "$out"; fail "memaslap through nutcracker did not finish"; }
note "memaslap through nutcracker: $(echo "$out" | grep 'Run time' | tail -1)"
echo "$out" | grep -q "verify_failed: 0" || { echo "$out"; fail "memaslap: verification failed"; }
echo "$out" | grep -iq "error\|fail to\|failed to" && { echo "$out"; fail "memaslap: errors"; }

in_ns timeout 60 python3 "$PY" fill "$PROXY" $KEYS > "$DIR/fill.out" ||
	{ cat "$DIR/fill.out"; fail "setting keys through nutcracker"; }
in_ns timeout 60 python3 "$PY" where $KEYS "$(maddr 1)" "$(maddr 2)" "$(maddr 3)" > "$DIR/where" ||
	fail "locating the keys"
for n in 1 2 3; do
	c=$(grep -c " $(maddr "$n")\$" "$DIR/where")
	note "node $n holds $c of $KEYS keys"
	[ "$c" -gt $((KEYS / 10)) ] || fail "ketama left node $n with $c of $KEYS keys"
done
grep -q " none$" "$DIR/where" && fail "a key on no node or on two: $(grep -m3 ' none$' "$DIR/where")"

kill -9 "${CL_PID[3]}"
note "kill -9 of node 3 ($(maddr 3))"
# nutcracker counts a failure per request to the dead node that times out
# (timeout: 1000 ms) and ejects it after server_failure_limit of them
k3=$(grep -m1 " $(maddr 3)\$" "$DIR/where" | cut -d' ' -f1)
ejects=0 t0=$SECONDS
while [ $((SECONDS - t0)) -lt 30 ]; do
	in_ns timeout 5 bash -c "exec 3<>/dev/tcp/$(cl_ip 4)/22121; printf 'get $k3\r\n' >&3; timeout 2 head -c 100 <&3" > /dev/null 2>&1
	stats=$(in_ns timeout 10 bash -c "exec 3<>/dev/tcp/$(cl_ip 4)/22222; cat <&3")
	ejects=$(echo "$stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pool"]["server_ejects"])')
	[ "$ejects" -ge 1 ] && break
done
note "nutcracker: server_ejects $ejects, $((SECONDS - t0)) s after the kill"
[ "$ejects" -ge 1 ] || fail "nutcracker did not eject the dead node within 30 s: $stats"
out=$(in_ns timeout 60 python3 "$PY" serve "$PROXY" 200) || { echo "$out"; fail "nutcracker stopped serving"; }
note "$out"
out=$(in_ns timeout 60 python3 "$PY" check "$PROXY" "$DIR/where" "$(maddr 3)") ||
	{ echo "$out"; fail "keys of the live nodes lost"; }
note "$out"
exit 0
