#!/bin/bash
# accel-stat on a busy server: memcached -t 2 under the shim on a 2-queue
# tap port, 32 connections from memaslap (memcaslap):
#  - `accel-stat --sockets --json PID` parses with python3's json and
#    lists 32 ESTABLISHED connections with bytes each way, and the
#    listener;
#  - the port's counters (port_rx_pkts, port_tx_pkts) move during the load;
#  - the plain and --sockets views print, and --watch gives rates;
#  - two stacks (2 queues, memcached -t 2): accel-stat shows each, its
#    queue, threads and counters, which add up to the process's (text and
#    JSON, and the exit line has a line per stack); DPDK's xstats are
#    among the port's counters (per queue, adding up to port_rx_pkts),
#    none repeating a basic counter under another name;
#  - the exit line's counters line (ACCEL_STATS=1) has the same names as
#    accel-stat's counters: one name per counter;
#  - accel-stat read 20 times while the server is idle costs it no CPU
#    beyond what it uses idle anyway (the shim writes the file once a
#    second; a reader only reads it).
. "$(dirname "$0")/lib.sh"
ns_setup
STAT="$BUILD/accel-stat"
OUT="$LOGDIR/accelstat"
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 ACCEL_QUEUES=2 \
	"$ACCEL" memcached -u root -t 2 -U 0 -p 11211 > "$OUT.memcached" 2>&1 &
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
# each stack on its own: idle now, so its counters add up to the process's
"$STAT" --json "$mpid" > "$OUT.idle.json" || fail "accel-stat --json failed"
"$STAT" "$mpid" > "$OUT.idle.txt" || fail "accel-stat failed"
python3 - "$OUT.idle.json" <<'PY' || fail "accel-stat's per-stack view: see above"
import json, sys
d = json.load(open(sys.argv[1]))
st, c = d["stacks"], d["counters"]
print("   stacks: " + "; ".join(f"stack {s['stack']} queue {s['queue']} threads {s['threads']} "
                                f"rx {s['rx_pkts']} tx {s['tx_pkts']}" for s in st))
assert len(st) == 2 == c["stacks"], f"expected 2 stacks, got {len(st)}"
assert sorted(s["queue"] for s in st) == [0, 1], "stacks not on queues 0 and 1"
assert all(s["threads"] >= 1 and s["rx_pkts"] > 0 for s in st), "a stack with no thread or no frame"
for k in ("rx_pkts", "tx_pkts", "tcp_segs_in", "tcp_segs_out"):
    assert sum(s[k] for s in st) == c[k], f"{k}: stacks add up to {sum(s[k] for s in st)}, process {c[k]}"
assert all(k in c for k in st[0] if k not in ("stack", "queue", "threads")), \
    "a stack counter the process does not name"
# DPDK's xstats among the port's counters, none repeating a basic one
xs = sorted(k for k in c if k.startswith("port_") and k not in (
    "port_rx_pkts", "port_tx_pkts", "port_rx_bytes", "port_tx_bytes", "port_rx_missed",
    "port_rx_errors", "port_tx_errors", "port_rx_nombuf"))
print(f"   {len(xs)} xstats: {' '.join(xs[:6])} ...")
assert "port_rx_q0_packets" in xs and "port_rx_q1_packets" in xs, "no per-queue xstats"
assert c["port_rx_q0_packets"] + c["port_rx_q1_packets"] == c["port_rx_pkts"], "queues do not add up"
assert not any("good" in k or "allocation" in k for k in xs), "an xstat repeats a basic counter"
PY
[ "$(grep -c "^[0-9]  *[01]  *[0-9]" "$OUT.idle.txt")" -eq 2 ] ||
	fail "accel-stat's text view has no row per stack: $(tail -4 "$OUT.idle.txt")"
kill -TERM "$mpid"
wait "$mpid"
[ "$(grep -c "stack stack=[01] queue=[01] threads=" "$OUT.memcached")" -eq 2 ] ||
	fail "the exit line has no line per stack"
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
