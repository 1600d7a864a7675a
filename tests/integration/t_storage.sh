#!/bin/bash
# The storage path (storage/README.md) on an ext4 image on a loop device
# (losetup --direct-io=on), the uring transport:
#  - fio psync randwrite and randread, --verify=crc32c, 4 threads, on the
#    kernel and under the shim, each verifying what the other wrote; the
#    shim's exit line shows device reads and writes, 4 queue pairs, no
#    errors; accel-stat of the shim's randread while it runs (storage
#    only, no port) shows device reads and 4 queue pairs, and its counters
#    file is gone after exit;
#  - coherence, step by step in one shim process (tests/progs/fileio.c):
#    writes into a new file (kernel), overwrites (device), unaligned
#    reads (bounce), a kernel reader between, fallocate'd ranges read as
#    zeros, a write into a hole, a mapping after device writes; then a
#    kernel process and a new shim process read the newest bytes;
#  - the queue-pair API on the loop device without the shim
#    (tests/progs/nvmeq.c): reads through the ring's eventfd and through
#    the poll's own wait equal the kernel's, a flush completes;
#  - memcached extstore under the shim (-m 64, 8 MiB pages) with its
#    network on a net_tap port (in a network namespace of its own): a
#    Linux client through the port sets more values than memory holds
#    and gets every one back intact; the exit lines show its connection
#    accepted by the userspace stack and extstore's preads served by the
#    device, one process doing both;
#  - crash: a shim writer that fdatasyncs each 4 KiB overwrite (device
#    write + FLUSH) and prints its offset is killed with kill -9 at random
#    moments, 20 rounds; after each, with the page cache dropped, every
#    acknowledged block holds that round's bytes;
#  - another process opening a file for writing while a shim reader has it
#    open read-only breaks the reader's lease: its reads go to the kernel;
#  - bad calls give Linux's errno; a file on tmpfs stays on the kernel
#    with one line; a bad ACCEL_STORAGE is refused naming it.
# The image, loop device and mount go even on failure (EXIT trap).
. "$(dirname "$0")/lib.sh"
out="$LOGDIR/storage"
dir=$(mktemp -d /tmp/accel-storage.XXXXXX)
mnt="$dir/mnt"
loop=""
mc=""
acked=""

cleanup() {
	[ -n "$mc" ] && kill -9 "$mc" 2>/dev/null && wait "$mc" 2>/dev/null
	ns_cleanup
	mountpoint -q "$mnt" && { umount "$mnt" || umount -l "$mnt"; }
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v fio > /dev/null || fail "fio is not installed (scripts/deps.sh)"
mkdir -p "$mnt"
truncate -s 256M "$dir/img"
mkfs.ext4 -q -F "$dir/img" || fail "mkfs.ext4"
loop=$(losetup --direct-io=on -f --show "$dir/img") || fail "losetup"
mount "$loop" "$mnt" || fail "mount $loop"
note "ext4 on $loop (direct I/O)"

shim() {
	env ACCEL_STATS=1 ACCEL_STORAGE="$mnt/fio.*:$mnt/co.*:/dev/shm/accel-st.*" \
		LD_PRELOAD="$BUILD/libaccel.so" "$@"
}

# stat NAME FILE: the number after NAME in the storage exit line.
stat_of() {
	grep -o "storage: .*" "$2" | tail -1 | grep -o "$1 [0-9]*" | head -1 | awk '{print $NF}'
}

JOB="--name=fio --directory=$mnt --bs=4k --size=16m --ioengine=psync --thread
	--numjobs=4 --verify=crc32c --do_verify=1 --group_reporting --verify_state_save=0"

# fiorun NAME RW [prefix...]: one fio job, verified, its output kept.
fiorun() {
	local name=$1 rw=$2
	shift 2
	"$@" timeout 180 fio $JOB --rw="$rw" > "$out.$name" 2> "$out.$name.err" ||
		fail "fio $name: $(grep -h 'err\|verify' "$out.$name" "$out.$name.err" | head -3)"
	grep -q "err= 0" "$out.$name" || fail "fio $name: not verified"
	note "fio $name: $(grep -o 'IOPS=[^,]*' "$out.$name" | tr '\n' ' ')"
}

# watch NAME: while fio NAME runs (in the background), accel-stat of it
# must show its device reads and 4 queue pairs (no port: storage only);
# its counters file is gone once it exits.
watch() {
	local name=$1 job=$2 pid="" seen=""
	for _ in $(seq 1 100); do
		pid=$(pgrep -P "$job" -x fio) && break
		sleep 0.1
	done
	[ -n "$pid" ] || fail "fio $name: no fio process under timeout"
	while kill -0 "$pid" 2> /dev/null; do
		"$BUILD/accel-stat" "$pid" > "$out.$name.stat" 2> /dev/null &&
			[ "$(awk '$1 == "storage_device_reads" {print $2}' "$out.$name.stat")" -gt 0 ] &&
			[ "$(awk '$1 == "storage_queue_pairs" {print $2}' "$out.$name.stat")" = 4 ] &&
			seen=1 && break
		sleep 0.2
	done
	[ -n "$seen" ] || fail "fio $name: accel-stat never showed device reads and 4 queue pairs"
	note "accel-stat $name: $(grep -E 'storage_(device_reads|queue_pairs) ' "$out.$name.stat" | tr -s ' \n' ' ')"
	wait "$job" || fail "fio $name: $(grep -h 'err\|verify' "$out.$name" "$out.$name.err" | head -3)"
	grep -q "err= 0" "$out.$name" || fail "fio $name: not verified"
	! ls /run/libaccel/"$pid".stats /tmp/"$pid".stats 2> /dev/null ||
		fail "fio $name: counters file left after exit"
}

fiorun kernel-write randwrite
# (a simple command, not the shim function: $! is then timeout, fio's
# parent; paced to about 2 s, so that the file is rewritten at least once
# after the first I/O, when every counter was still 0: unpaced it ends in
# 0.6 s here)
env ACCEL_STATS=1 ACCEL_STORAGE="$mnt/fio.*" LD_PRELOAD="$BUILD/libaccel.so" \
	timeout 180 fio $JOB --rate_iops=2000 --rw=randread > "$out.shim-read" 2> "$out.shim-read.err" &
watch shim-read $!
fiorun shim-write randwrite shim
fiorun kernel-read randread
rm -f "$mnt"/fio.*
fiorun shim-fresh-write randwrite shim
fiorun kernel-fresh-read randread
for r in read write; do
	e="$out.shim-$r.err"
	grep -q "libaccel.* storage:" "$e" || fail "shim-$r: no storage exit line"
	note "shim-$r: $(grep -o 'storage: .*' "$e")"
	[ "$(stat_of errors "$e")" = 0 ] || fail "shim-$r: device errors"
	[ "$(stat_of 'queue pairs' "$e")" = 4 ] || fail "shim-$r: not 4 queue pairs"
done
# Past ACCEL_STORAGE_QUEUES, threads share one queue pair under a lock.
fiorun shim-read-2q randread shim env ACCEL_STORAGE_QUEUES=2
[ "$(stat_of 'queue pairs' "$out.shim-read-2q.err")" = 3 ] ||
	fail "ACCEL_STORAGE_QUEUES=2: not 2 own queue pairs and 1 shared"
[ "$(stat_of 'device reads' "$out.shim-read-2q.err")" -ge 16384 ] ||
	fail "ACCEL_STORAGE_QUEUES=2: reads left the device"
[ "$(stat_of 'device reads' "$out.shim-read.err")" -ge 16384 ] ||
	fail "shim-read: not every read went to the device"
[ "$(stat_of 'writes' "$out.shim-write.err")" -ge 16384 ] ||
	fail "shim-write: not every write went to the device"

# Coherence, one shim process; the kernel reader in the middle runs
# without the shim.
P="$BUILD/tests/fileio"
K="env -u LD_PRELOAD $P"
F="$mnt/co.1"
shim "$P" "$F" w:0:65536:1 r:0:65536:1 s w:0:65536:2 w:4096:8192:3 r:0:4096:2 \
	r:4096:8192:3 r:4173:8000:3 v:4100:8000:3 "x:$K $F r:0:4096:2 r:4096:8192:3" \
	f:65536:65536 r:65536:65536:z w:69632:8192:4 r:69632:8192:4 r:65536:4096:z \
	w:70001:999:6 r:70001:999:6 t:1048576 w:524288:4096:5 r:524288:4096:5 \
	r:200000:4096:z m:4096:8192:3 s > "$out.co" 2> "$out.co.err" ||
	fail "coherence: $(cat "$out.co")"
note "coherence: $(grep -o 'storage: .*' "$out.co.err")"
[ "$(stat_of 'device reads' "$out.co.err")" -gt 0 ] || fail "coherence: no device reads"
[ "$(stat_of 'writes' "$out.co.err")" -gt 0 ] || fail "coherence: no device writes"
[ "$(stat_of 'flushes' "$out.co.err")" -gt 0 ] || fail "coherence: fdatasync did not flush"
sync
echo 3 > /proc/sys/vm/drop_caches
$K "$F" r:0:4096:2 r:4096:8192:3 r:65536:4096:z r:69632:369:4 r:70001:999:6 r:71000:6824:4 \
	r:524288:4096:5 > "$out.co.k" || fail "coherence, kernel after: $(cat "$out.co.k")"
# The queue-pair API without the shim: a block of the file read through
# the ring's eventfd (as a wait engine would), 200 through the poll's own
# spin-then-sleep, and a flush.
"$BUILD/tests/nvmeq" uring "$F" > "$out.nvmeq" || fail "nvmeq: $(cat "$out.nvmeq")"
note "queue pair API: $(cat "$out.nvmeq")"
# dup'd fds stay on the storage path; a forked child reads through the
# kernel and sees the parent's device writes.
shim "$P" "$F" d w:8192:4096:9 r:8192:4096:9 k:8192:4096:9 d r:8192:4096:9 \
	> "$out.dup" 2> "$out.dup.err" || fail "dup/fork: $(cat "$out.dup")"
[ "$(stat_of 'device reads' "$out.dup.err")" -ge 2 ] || fail "dup: reads of a dup'd fd left the device"
[ "$(stat_of 'writes' "$out.dup.err")" -ge 1 ] || fail "dup: the write left the device"
note "dup and fork: $(grep -o 'device reads [0-9]*' "$out.dup.err"), the child's read on the kernel"
# the other way: a kernel writer, then a shim reader (a new process)
$K "$F" w:8192:4096:7 w:600000:5000:8 || fail "kernel writer"
shim "$P" "$F" r:8192:4096:7 r:600000:5000:8 r:4096:4096:3 > "$out.co2" 2> "$out.co2.err" ||
	fail "coherence, shim after a kernel writer: $(cat "$out.co2")"
[ "$(stat_of 'device reads' "$out.co2.err")" -gt 0 ] || fail "shim reader: no device reads"
note "a kernel writer's bytes read by the shim: $(stat_of 'device reads' "$out.co2.err") device reads"

# memcached extstore: 12,000 values of 8,257 bytes (99 MB) in 64 MB, the
# client on the Linux side of a tap port: the userspace TCP stack and the
# storage path in one process.
ip netns add "$NS" || fail "cannot create network namespace $NS"
ip -n "$NS" link set lo up
$NSX env ACCEL_STATS=1 ACCEL_STORAGE="$mnt/co.*" ACCEL_DPDK_ARGS="$TAP_ARGS" \
	ACCEL_IP=10.88.0.2/24 LD_PRELOAD="$BUILD/libaccel.so" \
	memcached -u root -p 11211 -U 0 -m 64 \
	-o ext_page_size=8,ext_wbuf_size=8,ext_path="$mnt/co.ext:256m" 2> "$out.mc.err" &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 11211 || fail "memcached: the port did not answer"
in_ns timeout 120 python3 "$TOP/tests/integration/mc_extstore.py" 11211 12000 8257 \
	10.88.0.2 > "$out.mc" || fail "memcached extstore: $(tail -1 "$out.mc")"
kill -TERM "$mc"
wait "$mc"
mc=""
grep -q "^ok 12000" "$out.mc" || fail "memcached extstore: not every value back"
ext_reads=$(awk '/extstore_objects_read/ {print $3}' "$out.mc")
[ "${ext_reads:-0}" -gt 1000 ] || fail "memcached: too few values came from extstore ($ext_reads)"
[ "$(stat_of 'device reads' "$out.mc.err")" -gt 1000 ] ||
	fail "memcached: extstore's preads did not go to the device"
passive=$(grep -o "opens [0-9]* active [0-9]* passive" "$out.mc.err" | awk '{print $4}')
segs=$(grep -o "tcp segs in [0-9]*" "$out.mc.err" | awk '{print $NF}')
[ "${passive:-0}" -ge 2 ] && [ "${segs:-0}" -gt 10000 ] ||
	fail "memcached: the client's connection did not go through the stack (passive ${passive:-none}, segments in ${segs:-none})"
note "memcached extstore over the tap port: $ext_reads values read from extstore, $(stat_of 'device reads' "$out.mc.err") device reads, $passive connections and $segs segments through the stack"

# Crash: kill -9 mid-run; acknowledged = durable and on the file.
C="$mnt/co.crash"
$K "$C" w:0:16777216:z s > /dev/null || fail "crash: prefill"
RANDOM=7
for round in $(seq 1 20); do
	# (not through shim(): $! must be the writer, not a subshell)
	env ACCEL_STATS=1 ACCEL_STORAGE="$mnt/co.*" LD_PRELOAD="$BUILD/libaccel.so" \
		"$P" "$C" a:4096:$round > "$out.crash" 2> "$out.crash.err" &
	w=$!
	sleep "$(printf '0.%02d' $(( 5 + RANDOM % 40 )))"
	kill -9 "$w" 2>/dev/null
	wait "$w" 2>/dev/null
	last=$(grep -c "^ack" "$out.crash")
	echo 3 > /proc/sys/vm/drop_caches
	if [ "$last" -gt 0 ]; then
		$K "$C" "r:0:$((last * 4096)):$round" > "$out.crash.k" ||
			fail "crash round $round: $(cat "$out.crash.k") (acknowledged $last)"
	fi
	acked="$acked $last"
done
[ "$(echo $acked | tr ' ' '\n' | grep -vc '^0$')" -ge 10 ] ||
	fail "crash: the writer was killed before its first acknowledgement too often:$acked"
note "crash: 20 kill -9 rounds, acknowledged blocks all on the file:$acked"

# Another writer: a shim reader with the file open read-only holds a read
# lease; a kernel process opening it for writing breaks it, and the
# reader's next reads see that writer's bytes (still in its page cache).
L="$mnt/co.lease"
KL="env -u LD_PRELOAD -u FILEIO_RDONLY $P"
$KL "$L" w:0:65536:2 s > /dev/null || fail "lease: prefill"
FILEIO_RDONLY=1 shim "$P" "$L" r:0:4096:2 "x:timeout 20 $KL $L w:0:4096:10" r:0:4096:10 \
	r:4096:4096:2 > "$out.lease" 2> "$out.lease.err" || fail "lease: $(cat "$out.lease")"
[ "$(stat_of 'other_writer' "$out.lease.err")" -ge 1 ] || fail "lease: the other writer was not seen"
[ "$(stat_of 'device reads' "$out.lease.err")" -ge 1 ] || fail "lease: no device read before"
note "another writer: lease broken, $(stat_of other_writer "$out.lease.err") reads then on the kernel"

# Bad calls: the same errno as Linux, on a file of the storage path.
$K "$F" e > "$out.err.kernel"
shim "$P" "$F" e > "$out.err.shim" 2> /dev/null
diff -u "$out.err.kernel" "$out.err.shim" || fail "bad calls answered differently"
note "bad calls: $(wc -l < "$out.err.shim") answered as Linux"

# tmpfs: no block device under it; one line, then the kernel's I/O.
T="/dev/shm/accel-st.$$"
shim "$P" "$T" w:0:10000:1 r:0:10000:1 > "$out.tmpfs" 2> "$out.tmpfs.err" ||
	{ rm -f "$T"; fail "tmpfs: $(cat "$out.tmpfs")"; }
rm -f "$T"
grep -q "stays on the kernel" "$out.tmpfs.err" || fail "tmpfs: no line saying why"
[ "$(grep -c "stays on the kernel" "$out.tmpfs.err")" = 1 ] || fail "tmpfs: more than one line"
note "tmpfs: $(grep -o 'stays on the kernel.*' "$out.tmpfs.err")"

# A bad value is refused with one line naming the variable; unset leaves
# no storage line at all.
env ACCEL_STORAGE="relative/*" LD_PRELOAD="$BUILD/libaccel.so" "$P" "$F" r:0:4096:2 \
	2> "$out.bad.err" || fail "a bad ACCEL_STORAGE stopped the program"
grep -q "ACCEL_STORAGE='relative/\*'" "$out.bad.err" || fail "bad ACCEL_STORAGE not named"
env ACCEL_STATS=1 LD_PRELOAD="$BUILD/libaccel.so" "$P" "$F" r:0:4096:2 2> "$out.unset.err" ||
	fail "unset ACCEL_STORAGE"
! grep -q "storage:" "$out.unset.err" || fail "storage ran with ACCEL_STORAGE unset"
exit 0
