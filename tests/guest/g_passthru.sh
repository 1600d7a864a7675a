# g_passthru.sh - the passthru transport (issue 15, item 4, the passthru
# bullet) on controller A's namespace: fio psync randwrite and randread,
# --verify=crc32c, 4 threads of 2 MiB each, under the shim on ext4 and
# on the kernel, same files. The shim's counters show NVMe commands it built itself, the
# exit line says /dev/ngXnY with IOPOLL, and QEMU's trace shows those
# commands on a queue the kernel's own I/O never used (the nvme driver's
# poll queue): the device really was reached through passthrough. Then the
# choice rule (uring when asked for, and a namespace the proof rejects:
# refused when passthru is asked for, uring under auto) and a file on a
# loop device (not NVMe).
B=$BUILD
SHIM="env ACCEL_LOG=info ACCEL_STATS=1 ACCEL_STORAGE=$GUEST_MNT/fio.* LD_PRELOAD=$B/libaccel.so"

guest_fio kernel-write randwrite

# shim-write: overwrites of written blocks go to the device; end_fsync
# makes the FLUSH
mark=$(guest_trace_lines)
GUEST_FIO_EXTRA=--end_fsync=1 guest_fio shim-write randwrite "$SHIM"
echo "$GUEST_OUT" | grep -a 'libaccel' | sed 's/^/   /'
echo "$GUEST_OUT" | grep -q "through /dev/ng[0-9]*n[0-9]*, namespace [0-9]*, .*polled (IOPOLL)" ||
	fail "shim-write: no 'through /dev/ngXnY ... polled (IOPOLL)' line"
cmds=$(guest_stat "nvme commands" "$GUEST_OUT")
[ "$(guest_stat "device writes" "$GUEST_OUT")" = 2048 ] || fail "shim-write: device writes != 2048"
[ "$(guest_stat "kernel reads" "$GUEST_OUT")" = 0 ] || fail "shim-write: kernel reads"
[ "${cmds:-0}" -ge 4096 ] || fail "shim-write: nvme commands $cmds < 4096 (writes + verify reads)"
[ "$(guest_stat flushes "$GUEST_OUT")" -ge 1 ] || fail "shim-write: no flush"
flushes=$(guest_stat flushes "$GUEST_OUT")
sleep 0.5 # (QEMU's log line buffer)
w=$(guest_io_cmds "$mark")

# what the shim wrote, read by the kernel from the namespace (its pages
# dropped from the cache): the queues this I/O goes on are the kernel's
guest_uncache "$GUEST_MNT/fio.*" || fail "uncache"
mark=$(guest_trace_lines)
guest_fio kernel-read-after randread
sleep 0.5
ksq=$(guest_io_cmds "$mark" | awk '{print $1}' | sort -u | tr '\n' ' ')
note "kernel I/O on sqid $ksq"
[ -n "$ksq" ] || fail "kernel-read-after: no command in the trace (read from the cache?)"

polled=$(echo "$w" | awk -v k=" $ksq" 'index(k, " " $1 " ") == 0' | wc -l)
# (on IOPOLL a Flush is the synchronous ioctl, on an interrupt queue:
# nvme_passthru.c says why)
flush=$(echo "$w" | awk '$2 == "0x0"' | wc -l)
note "trace: $polled reads+writes on queues the kernel's I/O did not use, $flush flushes; shim counted $cmds commands, $flushes flushes"
[ "$polled" -ge $((cmds - flushes)) ] ||
	fail "trace: $polled commands on other queues < $((cmds - flushes)) the shim sent"
[ "$flush" -ge "$flushes" ] || fail "trace: fewer FLUSH commands than the shim's"

mark=$(guest_trace_lines)
guest_fio shim-read randread "$SHIM"
cmds=$(guest_stat "nvme commands" "$GUEST_OUT")
[ "$(guest_stat "device reads" "$GUEST_OUT")" = 2048 ] || fail "shim-read: device reads != 2048"
[ "${cmds:-0}" -ge 2048 ] || fail "shim-read: nvme commands $cmds < 2048"
sleep 0.5
polled=$(guest_io_cmds "$mark" | awk -v k=" $ksq" 'index(k, " " $1 " ") == 0' | wc -l)
note "trace: $polled reads on the shim's queue, shim counted $cmds"
[ "$polled" -ge "$cmds" ] || fail "trace: $polled commands on other queues < $cmds"

# the rule: uring when named; no NVMe commands then
guest_fio shim-read-uring randread "$SHIM ACCEL_STORAGE_TRANSPORT=uring"
[ "$(guest_stat "device reads" "$GUEST_OUT")" = 2048 ] || fail "uring: device reads != 2048"
[ "$(guest_stat "nvme commands" "$GUEST_OUT")" = 0 ] || fail "uring: nvme commands counted"

# a namespace whose ng node is not the one sysfs names (here /dev/null
# bound over it): passthru refuses with one line, the file stays on the
# kernel with the right bytes; auto takes uring and says so
P=$B/tests/fileio
out=$(guest_run "
ng=\$(ls /dev/ng*n* | head -n1)
$P $GUEST_MNT/fio.ref w:0:65536:7 s || exit 1
unshare -m sh -c \"mount --bind /dev/null \$ng &&
 env ACCEL_STATS=1 ACCEL_STORAGE_TRANSPORT=passthru ACCEL_STORAGE=$GUEST_MNT/fio.* LD_PRELOAD=$B/libaccel.so \
  $P $GUEST_MNT/fio.ref r:0:65536:7 && echo pt-same-bytes;
 env ACCEL_STATS=1 ACCEL_STORAGE=$GUEST_MNT/fio.* LD_PRELOAD=$B/libaccel.so \
  $P $GUEST_MNT/fio.ref r:0:65536:7 && echo auto-same-bytes\" 2>&1
")
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q "fio.ref stays on the kernel: /dev/ng[0-9]*n[0-9]* is not the char device .* sysfs names" ||
	fail "proof: no refusal line"
echo "$out" | grep -q 'kept on the kernel 1), queue pairs 0' || fail "proof: passthru did not keep the file on the kernel"
echo "$out" | grep -q 'pt-same-bytes' || fail "proof: bytes differ from what the kernel wrote (passthru refused)"
echo "$out" | grep -q 'passthru refused (.*); using uring' || fail "proof: auto did not say it took uring"
echo "$out" | grep -q 'auto-same-bytes' || fail "proof: bytes differ from what the kernel wrote (uring)"
echo "$out" | grep -q 'files 1 .*device reads [1-9].*nvme commands 0;' ||
	fail "proof: auto's uring did not read from the device"

# a file on a loop device (ext4, not NVMe): auto takes uring, silently
out=$(guest_run "
cd /tmp && truncate -s 64M lo.img && mkfs.ext4 -q -F lo.img && mkdir -p lo &&
l=\$(losetup -f --show lo.img) && mount \$l lo &&
$P lo/f w:0:65536:9 s &&
env ACCEL_STATS=1 ACCEL_STORAGE=/tmp/lo/* LD_PRELOAD=$B/libaccel.so $P lo/f r:0:65536:9 && echo same-bytes
umount lo; losetup -d \$l; rm -f lo.img" 2>&1)
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q 'passthru' && fail "loop: passthru said something for a non-NVMe device"
echo "$out" | grep -q 'device reads [1-9]' || fail "loop: no device reads through uring"
echo "$out" | grep -q 'nvme commands 0' || fail "loop: nvme commands counted"
echo "$out" | grep -q 'same-bytes' || fail "loop: bytes differ"
