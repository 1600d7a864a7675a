#!/bin/bash
# The NVMe transports in the test guest (tests/guest/lib.sh: QEMU's NVMe
# model, two controllers on one namespace): fio 4 KiB random reads, psync,
# one thread and four, on the same files in one run, by
#   kernel    controller A through the kernel's nvme driver (O_DIRECT, so
#             every read reaches the controller, as the shim's do)
#   passthru  the shim, NVMe commands on A's /dev/ng0n1 (io_uring)
#   vfio      the shim's own driver on controller B (ACCEL_NVME)
# IOPS, completion latency p50/p99 and CPU time per I/O (fio's usr+sys).
# Under TCG every instruction is emulated: the absolute figures are not a
# drive's; the ratios say how much work each path does per I/O.
#
#   benchmarks/storage-guest.sh     (make bench, make demo)   SECS=5
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "storage-guest: needs root (the guest)"; exit 1; }
SECS=${SECS:-5}
B=$PWD/build
mkdir -p "$B/bench"
GUEST_NAME=bench
. tests/guest/lib.sh
guest_boot >/dev/null || { echo "storage-guest: the guest did not boot"; exit 1; }

JOB="--name=fio --directory=$GUEST_MNT --bs=4k --size=16m --ioengine=psync --thread"
JOB="$JOB --rw=randread --group_reporting --time_based --runtime=$SECS --output-format=json"
# lay the files out through the kernel (written blocks: reads may go to a device)
GUEST_TIMEOUT=300 guest_run "fio $JOB --numjobs=4 --rw=write --time_based=0 --runtime=0 >/dev/null; sync" ||
	{ echo "storage-guest: laying out the files failed"; exit 1; }

SHIM="env ACCEL_STORAGE=$GUEST_MNT/fio.* LD_PRELOAD=$B/libaccel.so"
run() { # NAME JOBS FIO-OPTIONS [prefix...]: one fio run in the guest, a result line
	local name=$1 jobs=$2 opts=$3 out
	shift 3
	guest_run 'sync; echo 3 > /proc/sys/vm/drop_caches' >/dev/null
	out=$(GUEST_TIMEOUT=$((SECS * 4 + 60)) guest_run "$* fio $JOB $opts --numjobs=$jobs 2>/dev/null")
	python3 -c '
import json, sys
name, jobs, out = sys.argv[1], sys.argv[2], sys.stdin.read()
try:
    j = json.loads(out[out.index("{"):])["jobs"][0]
except (ValueError, KeyError, IndexError):
    print("%-8s %4s   (fio failed)" % (name, jobs))
    sys.exit(1)
r = j["read"]
pct = r["clat_ns"]["percentile"]
cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * j["elapsed"] * int(jobs)
print("%-8s %4s %10.0f %9.1f %9.1f %10.1f" % (name, jobs, r["iops"], pct["50.000000"] / 1e3,
      pct["99.000000"] / 1e3, cpu * 1e6 / max(r["total_ios"], 1)))
' "$name" "$jobs" <<<"$out"
}

echo "fio 4 KiB randread, psync, ${SECS} s each, QEMU NVMe model under TCG (compare ratios only)"
printf "%-8s %4s %10s %9s %9s %10s\n" path jobs IOPS p50_us p99_us cpu_us/io
for jobs in 1 4; do
	run kernel $jobs --direct=1
	run passthru $jobs "" "$SHIM ACCEL_STORAGE_TRANSPORT=passthru"
	run vfio $jobs "" "$SHIM ACCEL_NVME=$GUEST_B_ADDR"
done | tee "$B/bench/storage-guest.txt"
guest_stop
! grep -q 'fio failed' "$B/bench/storage-guest.txt"
