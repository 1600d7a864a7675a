# g_boot.sh - the guest is what lib.sh promises: controller A's namespace
# on the kernel's nvme driver with poll queues and its ng char device,
# ext4 mounted on it; controller B on vfio-pci in an IOMMU group; the
# host's programs and the shim reachable in the chroot.
out=$(guest_run "
set -e
ns=\$(basename \$(ls -d /sys/block/nvme*n* | grep -E 'nvme[0-9]+n[0-9]+\$' | head -n1))
echo ns=\$ns
echo poll=\$(cat /sys/block/\$ns/queue/io_poll)
echo pollq=\$(cat /sys/module/nvme/parameters/poll_queues)
test -c /dev/ng\${ns#nvme} && echo ng=yes
echo mnt=\$(awk '\$2 == \"$GUEST_MNT\" {print \$1, \$3}' /proc/mounts)
echo bdrv=\$(basename \$(readlink /sys/bus/pci/devices/$GUEST_B_ADDR/driver))
g=\$(basename \$(readlink /sys/bus/pci/devices/$GUEST_B_ADDR/iommu_group))
test -c /dev/vfio/\$g && echo group=yes
echo adrv=\$(basename \$(readlink /sys/bus/pci/devices/$GUEST_A_ADDR/driver))
test -x $BUILD/accel -a -r $BUILD/libaccel.so && echo shim=yes
fio --version
") || fail "guest_run: $out"
echo "$out" | sed 's/^/   /'
echo "$out" | grep -q '^poll=1$' || fail "io_poll is not on for A's namespace"
echo "$out" | grep -q "^pollq=$GUEST_POLLQ$" || fail "nvme poll_queues is not $GUEST_POLLQ"
echo "$out" | grep -q '^ng=yes$' || fail "no ng char device"
echo "$out" | grep -q "^mnt=/dev/nvme[0-9]*n[0-9]* ext4$" || fail "no ext4 on $GUEST_MNT"
if [ "$GUEST_B_DRIVER" = vfio-pci ]; then
	echo "$out" | grep -q '^bdrv=vfio-pci$' || fail "controller B is not on vfio-pci"
	echo "$out" | grep -q '^group=yes$' || fail "no /dev/vfio group for controller B"
fi
echo "$out" | grep -q '^adrv=nvme$' || fail "controller A is not on nvme"
echo "$out" | grep -q '^shim=yes$' || fail "the shim is not reachable over 9p"
# the monitor answers, and a guest_run after stop/cont still works
guest_monitor 'info status' | grep -q running || fail "monitor: not running"
