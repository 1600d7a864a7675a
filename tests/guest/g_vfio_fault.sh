# g_vfio_fault.sh - faults under the vfio transport (issue 15, item 4), on
# the namespace run.sh puts on QEMU's blkdebug driver (GUEST_EIO_BLOCK):
#  - an unreadable sector: blkdebug fails reads of one sector with errno
#    5; a file whose first block is there reads EIO through the kernel
#    and through the shim alike (and the status line is logged once).
#    (Writes there succeed: the rule is for reads.)
#  - a controller that stops answering: a blkdebug breakpoint (monitor
#    "qemu-io nvm0 break read_aio ...") holds the next read the device
#    gets; the shim's pread fails with EIO after CAP.TO (7.5 s on QEMU)
#    instead of hanging; the breakpoint is then resumed.
# The fresh ext4 puts the first file it gets in the same place on every
# run (mkfs is deterministic): run.sh runs this part before any other
# writes a file, and the test checks the place with FIEMAP first.
[ -n "$GUEST_EIO_BLOCK" ] || fail "the namespace is not on blkdebug (GUEST_EIO_BLOCK unset)"
B=$BUILD
P=$B/tests/fileio
SHIM="env ACCEL_LOG=info ACCEL_STATS=1 ACCEL_NVME=$GUEST_B_ADDR ACCEL_STORAGE=$GUEST_MNT/f.* LD_PRELOAD=$B/libaccel.so"

# the file over the bad sector: written through the kernel, out of its
# cache; FIEMAP says where it is
out=$(guest_run "
cd $GUEST_MNT && $P f.eio w:0:65536:3 s && sync && dd if=f.eio iflag=nocache count=0 status=none
filefrag -v f.eio | awk '\$1 == \"0:\" {print \"first-block\", \$4}'
$P f.ok w:0:65536:4 s && sync && dd if=f.ok iflag=nocache count=0 status=none
" 2>&1)
echo "$out" | sed 's/^/   /'
first=$(echo "$out" | sed -n 's/^first-block \([0-9]*\)\.*.*/\1/p')
[ "$first" = "$GUEST_EIO_BLOCK" ] ||
	fail "f.eio starts at block ${first:-?}, not $GUEST_EIO_BLOCK where blkdebug fails reads (mkfs changed, or a part before this one wrote a file? set GUEST_EIO_BLOCK)"

# the same call on the kernel and under the shim: both EIO
out=$(guest_run "
cd $GUEST_MNT
$P f.eio r:0:4096:3 2>&1 | sed 's/^/kernel: /'
$SHIM $P f.eio r:0:4096:3 2>&1 | sed 's/^/shim: /'
" 2>&1)
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q '^kernel: .*Input/output error' || fail "eio: the kernel's read did not fail with EIO"
echo "$out" | grep -q '^shim: .*Input/output error' || fail "eio: the shim's read did not fail with EIO"
echo "$out" | grep -q "^shim: .*controller $GUEST_B_ADDR failed a command (opcode 0x02, status type 2 code 0x81); such calls return EIO (said once)" ||
	fail "eio: no status line"
echo "$out" | grep -q '^shim: .*device reads 0 .*errors 1' || fail "eio: the shim's counters"

# a controller that stops answering: the next read the device gets is
# held (the file's extents are cached first, so that read is the
# shim's, not the kernel's); the shim's pread returns EIO after CAP.TO.
# The process stays until the hold is resumed: a controller reset
# (vfio-pci's at close, ours at exit) waits in QEMU for the held
# request, and the monitor with it. So the hold is resumed as soon as
# the failure is seen, and the process ends 2 s after its failure.
guest_run "cd $GUEST_MNT && filefrag f.ok >/dev/null" || fail "stop: filefrag"
guest_monitor 'qemu-io nvm0 "break read_aio hold"' | sed 's/^/   monitor: /'
GUEST_TIMEOUT=40 guest_run "cd $GUEST_MNT && $SHIM python3 -c '
import os, time
fd = os.open(\"f.ok\", os.O_RDONLY)
t = time.monotonic()
try:
    os.pread(fd, 4096, 0)
    print(\"read-ok\", flush=True)
except OSError as e:
    print(\"read-failed errno\", e.errno, \"after ms\", int((time.monotonic() - t) * 1000), flush=True)
time.sleep(2)
' 2>&1" >"$GUEST_DIR/stop.out" 2>&1 &
runner=$!
for i in $(seq 300); do
	grep -q '^read-' "$GUEST_DIR/stop.out" && break
	kill -0 $runner 2>/dev/null || break
	sleep 0.1
done
guest_monitor 'qemu-io nvm0 "resume hold"' | sed 's/^/   monitor: /'
wait $runner
out=$(cat "$GUEST_DIR/stop.out")
echo "$out" | sed 's/^/   /'
ms=$(echo "$out" | sed -n 's/.*read-failed errno 5 after ms \([0-9]*\).*/\1/p')
note "stopped controller: pread failed after ${ms:-?} ms"
[ -n "$ms" ] || fail "stop: the read did not fail with EIO"
echo "$out" | grep -q "no completion on I/O queue 1 for 7500 ms (CAP.TO" || fail "stop: no timeout line"
[ "$ms" -ge 7000 ] && [ "$ms" -lt 12000 ] || fail "stop: failed after $ms ms, not at CAP.TO"
# the guest goes on for the other parts: B answers again
out=$(guest_run "cd $GUEST_MNT && $SHIM $P f.ok r:0:65536:4 && echo same-bytes" 2>&1)
echo "$out" | grep -q 'same-bytes' || fail "after the hold: $out"
echo "$out" | grep -q 'device reads [1-9]' || fail "after the hold: no device reads on B"
