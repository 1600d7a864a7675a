# g_vfio.sh - the vfio transport (issue 15, item 4) on controller B of
# the guest's NVMe subsystem, bound to vfio-pci, while the kernel keeps
# controller A and the ext4 on the shared namespace:
#  - fio psync randwrite and randread, --verify=crc32c, 4 threads, under
#    the shim with ACCEL_NVME=B on the files the kernel laid out; the
#    kernel reads back what the shim wrote (the files' pages dropped
#    from its cache). QEMU's trace shows the four I/O queues the shim
#    created on B (at the shim's bus addresses) and the commands on each;
#  - the namespace found on B by its UUID (Identify CNS 03h), and one
#    whose UUID B does not have refused;
#  - a namespace that does not match (the disk's ids in sysfs replaced
#    in a private mount namespace) is refused with one line, the file's
#    bytes come from the kernel;
#  - a second process while the first holds B: its files stay on the
#    kernel, one line names the owner's PID; a forked child reads through
#    the kernel and the parent's device reads go on after it;
#  - kill -9 of a writer that acknowledges each block after fdatasync:
#    every acknowledged block is on the namespace (the kernel reads it).
B=$BUILD
SHIM="env ACCEL_LOG=${VFIO_LOG:-info} ACCEL_STATS=1 ACCEL_NVME=$GUEST_B_ADDR ACCEL_STORAGE=$GUEST_MNT/fio.* LD_PRELOAD=$B/libaccel.so"
P=$B/tests/fileio

guest_fio kernel-write randwrite

mark=$(guest_trace_lines)
GUEST_FIO_EXTRA=--end_fsync=1 guest_fio shim-write randwrite "$SHIM"
echo "$GUEST_OUT" | grep -a 'libaccel' | sed 's/^/   /'
echo "$GUEST_OUT" | grep -q "is namespace 1 of controller $GUEST_B_ADDR (.*), [0-9]* I/O queues granted" ||
	fail "shim-write: no 'namespace 1 of controller' line"
[ "$(guest_stat "device writes" "$GUEST_OUT")" = 2048 ] || fail "shim-write: device writes != 2048"
[ "$(guest_stat "kernel reads" "$GUEST_OUT")" = 0 ] || fail "shim-write: kernel reads"
[ "$(guest_stat "queue pairs" "$GUEST_OUT")" = 4 ] || fail "shim-write: queue pairs != 4"
[ "$(guest_stat flushes "$GUEST_OUT")" -ge 1 ] || fail "shim-write: no flush"
[ "$(guest_stat errors "$GUEST_OUT")" = 0 ] || fail "shim-write: errors"
sleep 0.5 # (QEMU's log line buffer)
# the shim's SQs: qid n at bus address 0x40000000 + n * 16 MiB (nvme_vfio.c)
created=$(tail -n +"$((mark + 1))" "$GUEST_TRACE" | grep pci_nvme_create_sq |
	sed -n 's/.*addr=0x\([0-9a-f]*\), sqid=\([0-9]*\).*/\1 \2/p')
note "SQs created: $(echo "$created" | tr '\n' ';')"
for q in 1 2 3 4; do
	echo "$created" | grep -q "^$(printf '%x' $((0x40000000 + q * 0x1000000))) $q\$" ||
		fail "trace: no SQ $q at the shim's address"
done
sq=$(guest_per_sq "$mark")
note "commands per sqid: $(echo "$sq" | tr '\n' ';')"
for q in 1 2 3 4; do
	n=$(echo "$sq" | awk -v q=$q '$1 == q {print $2}')
	# 4 threads x (512 writes + 512 verify reads), spread as fio's
	# threads run: each queue carries a share
	[ "${n:-0}" -ge 128 ] || fail "trace: sqid $q carried ${n:-0} commands"
done
total=$(echo "$sq" | awk '{s += $2} END {print s}')
[ "$total" -ge 4096 ] || fail "trace: $total commands < 4096"

guest_uncache "$GUEST_MNT/fio.*" || fail "uncache"
guest_fio kernel-read-after randread

mark=$(guest_trace_lines)
guest_fio shim-read randread "$SHIM"
[ "$(guest_stat "device reads" "$GUEST_OUT")" = 2048 ] || fail "shim-read: device reads != 2048"
[ "$(guest_stat "queue pairs" "$GUEST_OUT")" = 4 ] || fail "shim-read: queue pairs != 4"

# a namespace that is not the file's: the disk's EUI64 in sysfs replaced
out=$(guest_run "
$P $GUEST_MNT/fio.ref w:0:65536:7 s || exit 1
ns=\$(ls /sys/block | grep -E '^nvme[0-9]+n[0-9]+\$' | head -n1)
echo '00 11 22 33 44 55 66 77' > /tmp/fake-eui
echo '00112233-4455-6677-8899-aabbccddeeff' > /tmp/fake-uuid
binds=''
for f in nguid uuid; do
	[ -e /sys/block/\$ns/\$f ] && binds=\"\$binds mount --bind /tmp/fake-uuid /sys/block/\$ns/\$f &&\"
done
[ -e /sys/block/\$ns/eui ] && binds=\"\$binds mount --bind /tmp/fake-eui /sys/block/\$ns/eui &&\"
echo 7 > /tmp/fake-nsid
binds=\"\$binds mount --bind /tmp/fake-nsid /sys/block/\$ns/nsid &&\"
echo ids: \$(cd /sys/block/\$ns && cat nguid eui uuid wwid nsid 2>/dev/null)
unshare -m sh -c \"\$binds
 ACCEL_STATS=1 $SHIM $P $GUEST_MNT/fio.ref r:0:65536:7 && echo same-bytes\" 2>&1
")
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q "fio.ref stays on the kernel: controller $GUEST_B_ADDR has no namespace with \([A-Z0-9]* 0011223344556677[0-9a-f]*\|NSID 7 of subsystem nqn[^ ]*\) (that of nvme[0-9]*n[0-9]*, under the file)" ||
	fail "mismatch: no refusal line"
echo "$out" | grep -q 'kept on the kernel 1), queue pairs 0' || fail "mismatch: the file was not kept on the kernel"
echo "$out" | grep -q 'same-bytes' || fail "mismatch: bytes differ"

# the UUID path (Identify CNS 03h, the Namespace Identification
# Descriptor list): the guest's kernel shows no id of QEMU's namespace in
# sysfs (no nguid, eui or uuid above), so the disk's sysfs directory is
# replaced, in a private mount namespace, by one that links to its
# entries and adds a uuid: the UUID lib.sh gave the namespace is found
# on B (and the bytes come from B), one that no namespace has is refused
out=$(guest_run <<EOF 2>&1
ns=\$(ls /sys/block | grep -E '^nvme[0-9]+n[0-9]+\$' | head -n1)
d=\$(realpath /sys/dev/block/\$(cat /sys/block/\$ns/dev))
test -e \$d/uuid && echo sysfs-uuid: \$(cat \$d/uuid)
# ids.sh UUID DIR CMD...: DIR as a directory of links to its entries
# and a uuid file of UUID, then CMD
cat >/tmp/ids.sh <<'IDS'
mkdir -p /tmp/real /tmp/ids && mount -t tmpfs tmpfs /tmp/ids && mount --bind "\$2" /tmp/real || exit 1
for f in /tmp/real/*; do [ "\${f##*/}" = uuid ] || ln -s "\$f" /tmp/ids/; done
echo "\$1" >/tmp/ids/uuid && mount --bind /tmp/ids "\$2" || exit 1
shift 2
exec "\$@"
IDS
for u in $GUEST_NS_UUID 00112233-4455-6677-8899-aabbccddeeff; do
	unshare -m sh /tmp/ids.sh \$u \$d $SHIM $P $GUEST_MNT/fio.ref r:0:65536:7 && echo same-bytes-\$u
done
EOF
)
echo "$out" | sed 's/^/   /'
u=$(echo "$GUEST_NS_UUID" | tr -d -)
echo "$out" | grep -q "is namespace 1 of controller $GUEST_B_ADDR (UUID $u)" || fail "uuid: B's namespace not found by its UUID"
echo "$out" | grep -q "files 1 (kept on the kernel 0), queue pairs 1, device reads [1-9]" || fail "uuid: no device reads on B"
echo "$out" | grep -q "same-bytes-$GUEST_NS_UUID" || fail "uuid: bytes differ"
echo "$out" | grep -q "fio.ref stays on the kernel: controller $GUEST_B_ADDR has no namespace with UUID 00112233445566778899aabbccddeeff (that of nvme[0-9]*n[0-9]*, under the file)" ||
	fail "uuid: a UUID no namespace has was not refused"
echo "$out" | grep -q 'same-bytes-00112233' || fail "uuid mismatch: bytes differ"

# a second process while this one holds B; a forked child; then the
# parent's device reads again
out=$(guest_run "
$SHIM $P $GUEST_MNT/fio.ref r:0:65536:7 'x:$P $GUEST_MNT/fio.ref r:0:65536:7 && echo second-same-bytes' k:0:65536:7 r:0:65536:7 && echo first-same-bytes
" 2>&1)
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q "fio.ref stays on the kernel: controller $GUEST_B_ADDR is in use by process [0-9]* (/run/libaccel/nvme-$GUEST_B_ADDR.lock)" ||
	fail "second process: no line naming the owner"
owner=$(echo "$out" | sed -n 's/.*is in use by process \([0-9]*\).*/\1/p' | head -1)
echo "$out" | grep -q "libaccel\[$owner\] storage: files 1 (kept on the kernel 0), queue pairs 1, device reads [1-9]" ||
	fail "second process: the owner ($owner) did not read from the device"
echo "$out" | grep -q 'second-same-bytes' || fail "second process: bytes differ"
echo "$out" | grep -q 'first-same-bytes' || fail "owner: bytes differ after the child and the second process"

# crash: kill -9 of a writer that acknowledges each block after its
# fdatasync (a FLUSH on B, then the kernel's); after the kill and the
# file's pages dropped from the cache, the kernel (controller A) reads
# every acknowledged block back
mark=$(guest_trace_lines)
out=$(GUEST_TIMEOUT=100 guest_run "
cd $GUEST_MNT && $P fio.crash w:0:16777216:z s >/dev/null || exit 1
for round in 1 2 3 4; do
	$SHIM $P fio.crash a:4096:\$round > /tmp/ack.out 2>/tmp/ack.err &
	w=\$!
	# (killed once it has acknowledged a share of the blocks, between two
	#  acknowledgements: a time in seconds let a fast guest finish first)
	t=\$((round * 700 + 137))
	while [ \$(grep -c '^ack' /tmp/ack.out) -lt \$t ] && kill -0 \$w 2>/dev/null; do sleep 0.01; done
	kill -9 \$w; wait \$w 2>/dev/null
	n=\$(grep -c '^ack' /tmp/ack.out)
	sync; dd if=fio.crash iflag=nocache count=0 status=none
	if [ \"\$n\" -gt 0 ]; then
		$P fio.crash r:0:\$((n * 4096)):\$round >/tmp/ack.k || { echo \"round \$round: \$(cat /tmp/ack.k) acked \$n\"; exit 1; }
	fi
	echo \"round \$round acked \$n\"
done" 2>&1)
echo "$out" | sed 's/^/   /'
[ "$(echo "$out" | awk '$1 == "round" && $3 == "acked" && $4 > 0 && $4 < 4096' | wc -l)" -ge 2 ] ||
	fail "crash: fewer than 2 rounds killed after an acknowledgement and before the end"
echo "$out" | grep -q '^round [0-9]: ' && fail "crash: an acknowledged block was not on the namespace"
sleep 0.5
acked=$(echo "$out" | sed -n 's/^round [0-9] acked \([0-9]*\)$/\1/p' | awk '{s += $1} END {print s}')
# the shim's Flush: cid 16 (the first request after 16 slots), on its SQ 1
flushes=$(tail -n +"$((mark + 1))" "$GUEST_TRACE" | grep -c "cid 16 nsid 0x1 sqid 1 opc 0x0 ")
note "crash: $acked blocks acknowledged, $flushes Flush commands on B's queue"
[ "$flushes" -ge "$acked" ] || fail "crash: fewer Flush commands on B ($flushes) than acknowledgements ($acked)"
true
