# g_vfio_mc.sh - memcached extstore under the shim with ACCEL_NVME=B
# (issue 15, item 4): 1,500 values of 8,257 bytes (12 MB) in an 8 MB
# cache, so most spill to the extstore file on A's ext4 (fewer values, or
# smaller write buffers, were tried: with 1,000 the values came from
# extstore's 8 MB write buffer, not the file; with 2 MB buffers the sets
# outran the writer on a loaded host and memcached evicted k1); every
# value read back intact (tests/integration/mc_extstore.py), the values
# that came from extstore read through B's queue pairs (the shim's
# device reads).
B=$BUILD
out=$(GUEST_TIMEOUT=150 guest_run "
ip link set lo up
env ACCEL_LOG=info ACCEL_STATS=1 ACCEL_NVME=$GUEST_B_ADDR ACCEL_STORAGE=$GUEST_MNT/mc.* LD_PRELOAD=$B/libaccel.so \
	memcached -u root -p 11211 -U 0 -l 127.0.0.1 -m 8 \
	-o ext_page_size=8,ext_wbuf_size=8,ext_path=$GUEST_MNT/mc.ext:64m 2>/tmp/mc.err &
mc=\$!
t0=\$(date +%s%N)
for i in \$(seq 100); do
	bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211' 2>/dev/null && break
	sleep 0.1
done
echo start-ms=\$(((\$(date +%s%N) - t0) / 1000000))
t0=\$(date +%s%N)
timeout 120 python3 $GUEST_TOP/tests/integration/mc_extstore.py 11211 1500 8257; echo mc-rc=\$? client-ms=\$(((\$(date +%s%N) - t0) / 1000000))
kill -TERM \$mc; wait \$mc
cat /tmp/mc.err" 2>&1)
echo "$out" | grep -v '^STAT' | sed 's/^/   /'
echo "$out" | grep -q '^ok 1500' || fail "memcached extstore: not every value back"
echo "$out" | grep -q "is namespace 1 of controller $GUEST_B_ADDR" || fail "memcached: not on controller B"
ext=$(echo "$out" | awk '/extstore_objects_read/ {print $3}')
dev=$(echo "$out" | grep -o 'storage: files.*' | sed -n 's/.*device reads \([0-9]*\).*/\1/p')
note "memcached extstore: ${ext:-0} values from extstore, ${dev:-0} device reads on B"
[ "${ext:-0}" -gt 300 ] || fail "memcached: too few values came from extstore (${ext:-0})"
[ "${dev:-0}" -gt 300 ] || fail "memcached: extstore's preads did not go to B (${dev:-0})"
