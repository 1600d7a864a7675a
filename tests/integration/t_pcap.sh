#!/bin/bash
# Capture (ACCEL_PCAP): memcached under the shim on a 2-queue tap port
# (two worker threads, so two queues write the one file), memccapable
# through the port, then:
#  - tshark reads the file: the clients' handshakes (SYN, SYN-ACK) and the
#    memcached commands (set, get) are in it, both directions;
#  - frames carry the wall clock's time, in order;
#  - the file holds exactly as many frames as the port's counters on the
#    exit line (port_rx_pkts + port_tx_pkts, ACCEL_STATS=1) say it moved;
#  - ACCEL_PCAP_SNAPLEN cuts each frame (no frame longer than it in the
#    file, the original length kept);
#  - a server killed with SIGKILL leaves a file that reads, its last
#    reply in it (each burst is written as it passes);
#  - a file that cannot be created is refused with one line naming
#    ACCEL_PCAP, and the program still runs (on the kernel).
. "$(dirname "$0")/lib.sh"
ns_setup
PCAP="$LOGDIR/pcap.$$.pcapng"
trap 'ns_cleanup; [ -n "$KEEP" ] || rm -f "$PCAP" "$PCAP.snap"' EXIT
log="$LOGDIR/pcap.memcached.log"

run_mc() { # $1 = capture file, $2 = snaplen, $3 = client command
	$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_QUEUES=2 ACCEL_STATS=1 \
		ACCEL_PCAP="$1" ACCEL_PCAP_SNAPLEN="$2" "$ACCEL" memcached -u root -t 2 -U 0 \
		-p 11211 > "$log" 2>&1 &
	mc=$!
	tap_up acc0 10.88.0.1/24
	wait_tcp 10.88.0.2 11211 || fail "memcached did not listen: $(tail -3 "$log")"
	eval "$3"
	kill -TERM "$mc"
	wait "$mc"
	in_ns ip link del acc0 2>/dev/null
}

# frames the port moved, from the exit line
port_frames() {
	local line rx tx
	line=$(grep -o "counters: .*" "$log") || fail "no counters line at exit: $(tail -3 "$log")"
	rx=$(echo "$line" | grep -o "port_rx_pkts=[0-9]*" | cut -d= -f2)
	tx=$(echo "$line" | grep -o "port_tx_pkts=[0-9]*" | cut -d= -f2)
	[ -n "$rx" ] && [ -n "$tx" ] || fail "no port counters on the exit line: $line"
	echo "$rx $tx"
}

# ---- memccapable, full frames --------------------------------------------
run_mc "$PCAP" 65535 'out=$(in_ns timeout 60 memccapable -h 10.88.0.2 -p 11211 2>&1)'
note "memccapable through the port: $(echo "$out" | tail -1)"
echo "$out" | grep -q "All tests passed" || { echo "$out"; fail "memccapable"; }
read -r rx tx <<< "$(port_frames)"
[ -s "$PCAP" ] || fail "no capture file"
frames=$(tshark -r "$PCAP" 2>/dev/null | wc -l)
tshark -r "$PCAP" -T fields -e frame.number > /dev/null 2>"$LOGDIR/pcap.tshark.err" ||
	fail "tshark cannot read the file: $(head -3 "$LOGDIR/pcap.tshark.err")"
note "capture: $frames frames; port: rx $rx + tx $tx"
[ "$frames" -eq $((rx + tx)) ] || fail "$frames frames in the file, the port moved $((rx + tx))"
# timestamps are the wall clock's (not the TSC's, nor a wrapped one)
first=$(tshark -r "$PCAP" -c 1 -T fields -e frame.time_epoch 2>/dev/null | cut -d. -f1)
last=$(tshark -r "$PCAP" -T fields -e frame.time_epoch 2>/dev/null | tail -1 | cut -d. -f1)
now=$(date +%s)
note "first frame at $(date -u -d "@$first" +%T), last $((last - first)) s later, now $(date -u +%T)"
[ "$first" -gt $((now - 120)) ] && [ "$last" -le "$now" ] && [ "$last" -ge "$first" ] ||
	fail "frame times $first..$last are not the wall clock's ($now)"
# (the shim's tap port hands the kernel frames with checksums left to it)
syn=$(tshark -r "$PCAP" -Y "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.dstport==11211" 2>/dev/null | wc -l)
synack=$(tshark -r "$PCAP" -Y "tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==11211" 2>/dev/null | wc -l)
note "handshakes: $syn SYN in, $synack SYN-ACK out"
[ "$syn" -gt 0 ] && [ "$synack" -ge "$syn" ] || fail "no handshake in the capture ($syn/$synack)"
cmds=$(tshark -r "$PCAP" -d tcp.port==11211,memcache -Y memcache -T fields \
	-e memcache.command 2>/dev/null | tr "," "\n" | grep . | sort | uniq -c | sort -rn)
note "memcached commands seen: $(echo "$cmds" | head -6 | awk '{printf "%s %s, ", $2, $1}')"
for c in set get; do
	echo "$cmds" | awk '{print $2}' | grep -qx "$c" || fail "no '$c' command in the capture"
done
# replies leave the server too (the response side is captured)
vals=$(tshark -r "$PCAP" -Y 'tcp.srcport==11211 && tcp.payload contains "VALUE"' 2>/dev/null | wc -l)
[ "$vals" -gt 0 ] || fail "no VALUE reply from the server in the capture"

# ---- snaplen ---------------------------------------------------------------
run_mc "$PCAP.snap" 64 'in_ns python3 -c "
import socket
s = socket.create_connection((\"10.88.0.2\", 11211))
s.sendall(b\"set k 0 0 1000\r\n\" + b\"x\" * 1000 + b\"\r\nget k\r\n\")
b = b\"\"
while not b.endswith(b\"END\r\n\"): b += s.recv(4096)
"'
read -r rx tx <<< "$(port_frames)"
stats=$(tshark -r "$PCAP.snap" -T fields -e frame.cap_len -e frame.len 2>/dev/null |
	awk '{ n++; if ($1 > m) m = $1; if ($2 > l) l = $2 } END { print n, m, l }')
read -r n maxcap maxlen <<< "$stats"
note "snaplen 64: $n frames (port: $((rx + tx))), longest kept $maxcap of $maxlen bytes"
[ "$n" -eq $((rx + tx)) ] || fail "snaplen capture: $n frames, the port moved $((rx + tx))"
[ "$maxcap" -le 64 ] && [ "$maxlen" -gt 1000 ] || fail "frames not cut at 64 bytes ($maxcap/$maxlen)"

# ---- killed: every burst is in the file already ----------------------------
rm -f "$PCAP"
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_PCAP="$PCAP" \
	"$ACCEL" memcached -u root -t 1 -U 0 -p 11211 > "$log" 2>&1 &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 11211 || fail "memcached did not listen: $(tail -3 "$log")"
in_ns python3 -c "
import socket
s = socket.create_connection(('10.88.0.2', 11211))
s.sendall(b'set killed 0 0 2\r\nok\r\n')
assert s.recv(100) == b'STORED\r\n'
" || fail "set before the kill"
kill -KILL "$mc"
wait "$mc" 2>/dev/null
"$BUILD/accel-stat" > /dev/null 2>&1 # (removes what the killed one left)
in_ns ip link del acc0 2>/dev/null
n=$(tshark -r "$PCAP" 2>/dev/null | wc -l)
tshark -r "$PCAP" -Y 'tcp.payload contains "STORED"' 2>/dev/null | grep -q . ||
	fail "after kill -9 the capture lacks the last reply ($n frames)"
note "killed with SIGKILL: the file reads, $n frames, the last reply in it"

# ---- a file that cannot be written ----------------------------------------
out=$(in_ns env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 \
	ACCEL_PCAP=/nonexistent-$$/x.pcapng "$ACCEL" python3 -c \
	'import select, socket; s = socket.socket(); s.bind(("0.0.0.0", 7101)); s.listen()
select.select([s], [], [], 0); print("ran")' 2>&1)
echo "$out" | grep -q "^ran$" || fail "the program did not run: $out"
echo "$out" | grep -q "ACCEL_PCAP='/nonexistent-$$/x.pcapng' cannot be written" ||
	fail "no line naming ACCEL_PCAP: $out"
out=$(in_ns env ACCEL_PCAP_SNAPLEN=10 ACCEL_IP=10.88.0.2/24 ACCEL_DPDK_ARGS="$TAP_ARGS" \
	"$ACCEL" python3 -c 'print("ran")' 2>&1)
echo "$out" | grep -q "ACCEL_PCAP_SNAPLEN='10' is not valid" || fail "ACCEL_PCAP_SNAPLEN=10 not refused: $out"
echo "PASS"
