#!/bin/bash
# accel-stat on a busy server: memcached under the shim on a tap port, 32
# connections from memaslap (memcaslap):
#  - `accel-stat --sockets --json PID` parses with python3's json and
#    lists 32 ESTABLISHED connections with bytes each way, and the
#    listener;
#  - the port's counters (port_rx_pkts, port_tx_pkts) move during the load;
#  - the plain and --sockets views print, and --watch gives rates;
#  - the exit line's counters line (ACCEL_STATS=1) has the same names as
#    accel-stat's counters: one name per counter;
#  - accel-stat read 20 times while the server is idle costs it no CPU
#    beyond what it uses idle anyway (the shim writes the file once a
#    second; a reader only reads it).
. "$(dirname "$0")/lib.sh"
ns_setup
STAT="$BUILD/accel-stat"
OUT="$LOGDIR/accelstat"
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 "$ACCEL" memcached -u root \
	-t 1 -U 0 -p 11211 > "$OUT.memcached" 2>&1 &
mpid=$!
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 11211 || fail "memcached did not listen"
in_ns timeout 60 memcaslap -s 10.88.0.2:11211 -t 6s -c 32 -T 1 > "$OUT.load" 2>&1 &
lpid=$!
sleep 2.5
"$STAT" --json "$mpid" > "$OUT.before.json" || fail "accel-stat --json failed"
sleep 1.5
"$STAT" --sockets --json "$mpid" > "$OUT.json" || fail "accel-stat --sockets --json failed"
"$STAT" --sockets "$mpid" > "$OUT.sockets.txt" || fail "accel-stat --sockets failed"
wait "$lpid" || fail "memaslap failed: $(tail -3 "$OUT.load")"
python3 - "$OUT.before.json" "$OUT.json" <<'PY' || fail "accel-stat's JSON: see above"
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
socks = b["sockets"]
est = [s for s in socks if s["state"] == "ESTABLISHED" and s["bytes_received"] > 0
       and s["bytes_acked"] > 0 and s["local"].endswith(":11211")]
lis = [s for s in socks if s["state"] == "LISTEN"]
print(f"   {len(est)} ESTABLISHED with bytes both ways, {len(lis)} listening, "
      f"{len(socks)} sockets listed")
assert len(est) == 32, f"expected 32 established connections, got {len(est)}"
assert lis, "no listener"
for k in ("port_rx_pkts", "port_tx_pkts", "tcp_segs_in", "mbufs_in_use", "mbufs_free"):
    assert k in b["counters"], f"no counter {k}"
for k in ("port_rx_pkts", "port_tx_pkts"):
    d = b["counters"][k] - a["counters"][k]
    print(f"   {k}: +{d} in 1.5 s")
    assert d > 0, f"{k} did not move under load"
PY
grep -c ESTABLISHED "$OUT.sockets.txt" | grep -qx 32 || fail "--sockets text view: $(head -3 "$OUT.sockets.txt")"
w=$(timeout 5 "$STAT" --json --watch 1 "$mpid" | head -2 | tail -1)
echo "$w" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "rates" in d' ||
	fail "--watch gave no rates: $w"
sleep 1
t0=$(cpu_ticks "$mpid"); sleep 3; t1=$(cpu_ticks "$mpid")
for _ in $(seq 20); do "$STAT" --sockets --json "$mpid" > /dev/null; sleep 0.15; done
t2=$(cpu_ticks "$mpid")
note "idle: $((t1 - t0)) ticks in 3 s alone, $((t2 - t1)) ticks in 3 s with 20 reads"
[ $((t2 - t1)) -le $((t1 - t0 + 3)) ] || fail "reading accel-stat cost the idle server CPU"
kill -TERM "$mpid"
wait "$mpid"
line=$(grep -o "counters: .*" "$OUT.memcached") || fail "no counters line at exit"
python3 - "$OUT.json" "$line" <<'PY' || fail "the exit line and accel-stat name the counters differently"
import json, sys
names = set(json.load(open(sys.argv[1]))["counters"])
exit_names = {kv.split("=")[0] for kv in sys.argv[2].split()[1:]}
print(f"   exit line: {len(exit_names)} counters, accel-stat: {len(names)}")
# (drop_* lines appear once a drop happened: compare the rest)
core = lambda s: {n for n in s if not n.startswith("drop_")}
assert core(names) == core(exit_names), (core(names) ^ core(exit_names))
PY
