#!/bin/bash
# fio 4 KiB random reads, psync, one thread and four, on the kernel and
# under the shim's storage path, on the same files in one run: IOPS,
# completion latency p50/p99, and CPU time per I/O (user + system of fio,
# from the kernel's accounting of the child: getrusage, as /proc has it).
# The device is a loop device over a file (ext4 on it, --direct-io=on): it
# caps what a queue can show, so the figure to watch here is CPU per I/O.
#
#   benchmarks/storage.sh        (make bench runs it)   SECS=5 by default
set -e
cd "$(dirname "$0")/.."
B=build/bench
SECS=${SECS:-5}
mkdir -p $B
dir=$(mktemp -d /tmp/accel-bench-st.XXXXXX)
loop=""
cleanup() {
	mountpoint -q "$dir/mnt" && umount "$dir/mnt"
	[ -n "$loop" ] && losetup -d "$loop"
	rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/mnt"
truncate -s 512M "$dir/img"
mkfs.ext4 -q -F "$dir/img"
loop=$(losetup --direct-io=on -f --show "$dir/img")
mount "$loop" "$dir/mnt"

JOB="--name=fio --directory=$dir/mnt --bs=4k --size=64m --ioengine=psync --thread
	--rw=randread --group_reporting --time_based --runtime=$SECS --output-format=json"
# lay the files out (written, so reads can go to the device)
fio $JOB --numjobs=4 --rw=write --time_based=0 --runtime=0 > /dev/null

run() { # NAME JOBS [env...]: one fio run, a result line
	local name=$1 jobs=$2
	shift 2
	python3 - "$name" "$jobs" "$@" fio $JOB --numjobs="$jobs" <<'PY'
import json, resource, subprocess, sys
name, jobs, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
after = resource.getrusage(resource.RUSAGE_CHILDREN)
r = json.loads(out[out.index("{"):])["jobs"][0]["read"]
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
pct = r["clat_ns"]["percentile"]
print("%-8s %4s %10.0f %9.1f %9.1f %10.2f" % (name, jobs, r["iops"], pct["50.000000"] / 1e3,
      pct["99.000000"] / 1e3, cpu * 1e6 / max(r["total_ios"], 1)))
PY
}

echo "fio 4 KiB randread, psync, ${SECS} s each, loop device (CPU per I/O is the figure)"
printf "%-8s %4s %10s %9s %9s %10s\n" path jobs IOPS p50_us p99_us cpu_us/io
for jobs in 1 4; do
	run kernel $jobs
	run shim $jobs env ACCEL_STORAGE="$dir/mnt/fio.*" LD_PRELOAD="$PWD/build/libaccel.so"
done | tee $B/storage.txt
