#!/bin/bash
# run.sh [PART...] - boots the test guest once (lib.sh) and runs each part
# (g_*.sh here, or the ones named) against it, in a subshell of its own:
# a part uses guest_run/guest_sh/guest_monitor and fail/note, and ends
# with status 0 for a pass. Prints each part's result and "guest: N
# passed, N failed"; QEMU's trace (pci_nvme_io_cmd, pci_nvme_create_sq) is
# left in $BUILD/guest-nvme.trace. All parts share the one boot; with
# g_vfio_fault among them the namespace sits on QEMU's blkdebug driver
# (GUEST_EIO_BLOCK, lib.sh) and that part runs right after g_boot, so
# that its file is the first the fresh ext4 places (on that block).
cd "$(dirname "$0")" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "the guest tests need root"; exit 1; }
. ./lib.sh
fail() {
	echo "FAIL: $*"
	exit 1
}
note() {
	echo "   $*"
}
parts=()
for p in "$@"; do
	p=${p%.sh}
	parts+=("g_${p#g_}.sh")
done
[ ${#parts[@]} -eq 0 ] && parts=(g_*.sh)
# g_vfio_fault right after g_boot (before any part writes a file), and
# only with it the blkdebug namespace: reads of block GUEST_EIO_BLOCK,
# the first 4 KiB block of the first file this mkfs places (lib.sh's
# 1 GiB image), fail; another part's file there would fail too
case " ${parts[*]} " in
*" g_vfio_fault.sh "*)
	: "${GUEST_EIO_BLOCK:=33280}"
	rest=()
	for p in "${parts[@]}"; do
		case $p in g_boot.sh | g_vfio_fault.sh) ;; *) rest+=("$p");; esac
	done
	first=()
	case " ${parts[*]} " in *" g_boot.sh "*) first=(g_boot.sh);; esac
	parts=("${first[@]}" g_vfio_fault.sh "${rest[@]}");;
esac
t0=$(date +%s%N)
guest_boot || { echo "guest: 0 passed, ${#parts[@]} failed (no boot)"; exit 1; }
passed=0
failed=0
names=""
for p in "${parts[@]}"; do
	p=${p%.sh}
	p=${p#g_}
	echo "== guest: $p"
	s=$(date +%s)
	( . "./g_$p.sh" )
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "   PASS $p ($(($(date +%s) - s)) s)"
		passed=$((passed + 1))
	else
		echo "   FAIL $p ($(($(date +%s) - s)) s)"
		failed=$((failed + 1))
		names="$names $p"
	fi
	# a part that lost the guest fails the rest
	kill -0 "$GUEST_PID" 2>/dev/null || { echo "guest: QEMU is gone"; tail -n 20 "$GUEST_DIR/console.log"; break; }
done
guest_stop
echo "   guest: boot $GUEST_BOOT_MS ms, all $((($(date +%s%N) - t0) / 1000000)) ms, trace $GUEST_TRACE"
[ -n "$names" ] && echo "failed:$names"
echo "guest: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -eq ${#parts[@]} ]
