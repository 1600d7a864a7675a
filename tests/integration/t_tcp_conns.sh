#!/bin/bash
# 10,000 concurrent connections from Linux to the stack (stack-echo's echo
# server over a tap port): all open at once, each exchanges 100 bytes that
# come back intact, all close cleanly (the Linux side ends in TIME-WAIT,
# having closed first; nothing left established or half-closed).
. "$(dirname "$0")/lib.sh"
N=${CONNS:-10000}
ns_setup
log="$LOGDIR/tcp_conns.log"

$NSX "$BUILD/stack-echo" --ip 10.88.0.2/24 --eal "--no-huge -m 512 --no-pci --vdev=net_tap0,iface=acc0" \
	--listen 7 --mode echo --count "$N" --seconds 240 > "$log" 2>&1 &
sp=$!
tap_up acc0 10.88.0.1/24
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
out=$(in_ns timeout 200 python3 "$(dirname "$0")/tcp_many.py" 10.88.0.2 7 "$N" 100) ||
	fail "client: $out"
note "$out"
echo "$out" | grep -q "ok $N failed 0 max_open $N" || fail "not all $N at once and intact"
wait $sp || fail "stack-echo did not see $N connections end"
served=$(grep -c "^conn .*: rx 100 sha256 .* tx 100 sha256" "$log")
[ "$served" = "$N" ] || fail "stack served $served connections with 100 bytes each way, want $N"
states=$(in_ns ss -tan | awk 'NR > 1 { print $1 }' | sort | uniq -c | tr '\n' ' ')
note "Linux socket states after: $states"
in_ns ss -tan | awk 'NR > 1 { print $1 }' | grep -qv "TIME-WAIT" &&
	fail "connections left in other states: $states"
exit 0
