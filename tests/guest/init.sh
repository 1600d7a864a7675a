#!/bin/busybox sh
# /init of the test guest (busybox, from the initramfs lib.sh builds).
# Loads the modules listed in /mods.list in order (nvme with poll_queues
# from accel.pollq=), hands controller B (accel.b=) to accel.bdrv= before
# the nvme driver can take it, mounts the host's root (9p, read-only) on
# /host with its own /proc, /sys, /dev, /tmp and /run, mounts controller
# A's namespace (ext4) on /host/tmp/nvme, says "accel-guest: ready" on the
# console, then serves commands on ttyS1 (see guestctl.py) until powered
# off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
arg() {
	for a in $(cat /proc/cmdline); do
		case $a in "$1"=*) echo "${a#*=}"; return;; esac
	done
}
pollq=$(arg accel.pollq)
bdev=$(arg accel.b)
bdrv=$(arg accel.bdrv)
[ -n "$bdev" ] && [ -n "$bdrv" ] && [ "$bdrv" != nvme ] &&
	echo "$bdrv" >/sys/bus/pci/devices/"$bdev"/driver_override
while read -r m; do
	opt=""
	case $m in */nvme.ko) opt="poll_queues=${pollq:-0}";; esac
	insmod /mod/"${m##*/}" $opt || echo "accel-guest: insmod $m failed"
done </mods.list
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host ||
	echo "accel-guest: 9p mount failed"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -o bind /dev /host/dev
# the host directories the tests need (the tree, its build) that the
# guest's own /tmp and /run would hide: kept aside, put back on top
keep=$(arg accel.keep | tr ',' ' ')
i=0
for d in $keep; do
	mkdir -p /keep/$i && mount -o bind /host"$d" /keep/$i ||
		echo "accel-guest: cannot keep $d"
	i=$((i + 1))
done
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs tmpfs /host/run
i=0
for d in $keep; do
	mkdir -p /host"$d" && mount -o bind /keep/$i /host"$d" ||
		echo "accel-guest: cannot put back $d"
	i=$((i + 1))
done
mkdir -p /host/dev/shm /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t devpts devpts /host/dev/pts
ns=""
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	ns=$(ls /sys/block | grep -E '^nvme[0-9]+n[0-9]+$' | head -n1)
	[ -n "$ns" ] && break
	sleep 0.1
done
mkdir -p /host/tmp/nvme
if [ -n "$ns" ]; then
	mount -t ext4 /dev/"$ns" /host/tmp/nvme || echo "accel-guest: mount /dev/$ns failed"
else
	echo "accel-guest: no nvme namespace"
fi
echo "accel-guest: ready ns=$ns uptime=$(cut -d' ' -f1 /proc/uptime)"

# The command channel: a line "CMD <seconds> <base64 script>" runs the
# script in the host root (chroot /host, /bin/sh), "SH ..." in this
# busybox root, killed after that many seconds (status 137); the output
# goes back on the line, then RS "GRC=<status>" RS.
stty -F /dev/ttyS1 raw -echo
exec 3<>/dev/ttyS1
export HOME=/root TERM=dumb
while read -r kind secs b64 <&3; do
	echo "$b64" | base64 -d >/host/tmp/.guestcmd 2>/dev/null
	case $kind in
	CMD) timeout -s KILL "$secs" chroot /host /usr/bin/env \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh /tmp/.guestcmd </dev/null >&3 2>&3;;
	SH) timeout -s KILL "$secs" sh /host/tmp/.guestcmd </dev/null >&3 2>&3;;
	*) false;;
	esac
	printf '\036GRC=%d\036\n' $? >&3
done
echo "accel-guest: channel closed"
poweroff -f
