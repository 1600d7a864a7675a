#!/bin/bash
# make demo - the main job: how much faster unmodified servers get.
# Kernel vs bypass on the embedded default (a memif pair, no hugepages, one
# core each for server and client), same binaries, clients and settings,
# one after the other in one run: benchmarks/compare.sh.
#   make demo           median of 7 runs of 4 s per workload and path
#   make demo QUICK=1   one 3 s run each (under 3 minutes; what CI runs),
#                       failing if bypass is slower than the kernel anywhere
# Then the storage rows: fio randread on the kernel and under the shim on
# a loop device (benchmarks/storage.sh) and, in the full demo, the NVMe
# transports in the test guest (benchmarks/storage-guest.sh).
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (network namespace)"; exit 1; }
echo "== libaccel: kernel vs bypass, unmodified servers and clients (QUICK=${QUICK:-0})"
benchmarks/compare.sh
rc=$?
echo
echo "== storage: fio on the kernel and under the shim"
if [ -n "$QUICK" ] && [ "$QUICK" != 0 ]; then
	SECS=2 benchmarks/storage.sh || rc=1
else
	benchmarks/storage.sh || rc=1
	echo
	benchmarks/storage-guest.sh || rc=1
fi
exit $rc
