# lib.sh - the test guest: a QEMU q35 machine (TCG: this host's /dev/kvm
# cannot run a stock kernel) booting Debian's kernel from
# linux-image-amd64 (the uncompressed vmlinux, about 3x faster to boot
# under TCG than the bzImage), an initramfs of busybox-static and the
# package's modules, an NVMe subsystem of two controllers sharing one
# namespace, and the host's root exported read-only over 9p so the guest
# runs the host's programs (fio, memcached, build/libaccel.so) in a chroot.
#
#   controller A  0000:00:04.0  the guest's nvme driver (poll_queues=
#                 $GUEST_POLLQ), ext4 on its namespace mounted on
#                 /tmp/nvme (as the chroot sees it)
#   controller B  0000:00:05.0  given to $GUEST_B_DRIVER (vfio-pci) before
#                 the nvme driver loads; the intel-iommu (intremap=on,
#                 intel_iommu=on) backs vfio's type1 IOMMU
#
# Use (source it from bash; every name is prefixed guest_/GUEST_):
#   guest_boot            builds what is missing, boots, waits for /init
#   guest_run 'script'    runs the script (or stdin with no argument) in the
#                         host root chroot; output to stdout; its status
#   guest_sh 'script'     the same in the guest's busybox root
#   guest_monitor 'stop'  a QEMU monitor command (stop, cont, info ...)
#   guest_stop            powers the guest off (the EXIT trap guest_boot
#                         sets does it too, even on failure)
# Knobs (set before guest_boot): GUEST_MEM (MiB, 768), GUEST_CPUS (1),
# GUEST_POLLQ (nvme poll queues on A, 1), GUEST_B_DRIVER (vfio-pci; nvme
# = the kernel takes B too; none), GUEST_IMG_MB (namespace size, 1024),
# GUEST_LBA (namespace logical block size, 512), GUEST_NS_UUID (the
# namespace's UUID, in its Namespace Identification Descriptor list; the
# guest's kernel shows no UUID of QEMU's namespaces in sysfs), GUEST_EIO_BLOCK (a 4 KiB
# block of the namespace: QEMU's blkdebug driver under it fails reads of
# its third 512-byte sector with errno 5, and the monitor's "qemu-io nvm0
# break ..." can hold requests; unset: a plain raw drive), GUEST_DRIVE (a
# -drive option string replacing either, id must be nvm0), GUEST_QEMU_EXTRA (more QEMU arguments), GUEST_TRACE (the
# QEMU trace log, default $BUILD/guest-$GUEST_NAME.trace), GUEST_NAME,
# GUEST_KERNEL (another kernel image, e.g. the bzImage, to compare).
# After guest_boot: GUEST_DIR (this run's files: console.log, nvme.img,
# qemu.out), GUEST_SOCKS (its channel and monitor sockets), GUEST_IMG,
# GUEST_BOOT_MS (QEMU start to "ready").

GUEST_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_TOP=$(cd "$GUEST_LIBDIR/../.." && pwd)
: "${BUILD:=${TESTS_BUILD:-$GUEST_TOP/build}}"
GUEST_CACHE="$BUILD/guest"
GUEST_DEBS="${ACCEL_GUEST_DEBS:-/var/cache/libaccel-guest}"
: "${GUEST_NAME:=nvme}"
: "${GUEST_MEM:=768}"
: "${GUEST_CPUS:=1}"
: "${GUEST_POLLQ:=1}"
: "${GUEST_B_DRIVER:=vfio-pci}"
: "${GUEST_IMG_MB:=1024}"
: "${GUEST_LBA:=512}"
: "${GUEST_NS_UUID:=5eed0015-0000-4000-8000-00000000acce}"
GUEST_A_ADDR=0000:00:04.0
GUEST_B_ADDR=0000:00:05.0
GUEST_MNT=/tmp/nvme
GUEST_PID=""

guest_log() {
	echo "   guest: $*"
}

# The kernel package's .deb (linux-image-amd64's dependency), fetched with
# apt-get download into $GUEST_DEBS unless there; prints its path.
guest_kernel_deb() {
	local pkg deb
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || { echo "guest: apt-cache knows no linux-image-amd64" >&2; return 1; }
	deb=$(ls "$GUEST_DEBS/${pkg}"_*.deb 2>/dev/null | tail -n1)
	if [ -z "$deb" ]; then
		mkdir -p "$GUEST_DEBS"
		(cd "$GUEST_DEBS" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
			{ echo "guest: apt-get download $pkg failed" >&2; return 1; }
		deb=$(ls "$GUEST_DEBS/${pkg}"_*.deb | tail -n1)
	fi
	echo "$deb"
}

# Builds $GUEST_CACHE/vmlinux and initrd.cpio from the packages, unless
# they are newer than the .deb, busybox and the scripts here.
guest_build() {
	local deb kver kroot mods m ird
	deb=$(guest_kernel_deb) || return 1
	for m in qemu-system-x86_64 busybox cpio depmod modprobe mkfs.ext4; do
		command -v "$m" >/dev/null || { echo "guest: $m missing (make deps)" >&2; return 1; }
	done
	mkdir -p "$GUEST_CACHE"
	if [ -s "$GUEST_CACHE/initrd.cpio" ] && [ -s "$GUEST_CACHE/vmlinux" ] &&
		[ "$(cat "$GUEST_CACHE/deb" 2>/dev/null)" = "$deb" ] &&
		[ "$GUEST_CACHE/initrd.cpio" -nt "$GUEST_LIBDIR/init.sh" ] &&
		[ "$GUEST_CACHE/initrd.cpio" -nt "$GUEST_LIBDIR/lib.sh" ] &&
		[ "$GUEST_CACHE/initrd.cpio" -nt "$(command -v busybox)" ]; then
		return 0
	fi
	kroot="$GUEST_CACHE/kroot"
	rm -rf "$kroot" "$GUEST_CACHE/initrd"
	mkdir -p "$kroot"
	# the kernel and the module trees the guest can need; depmod makes
	# the dependency lists (the package leaves that to its postinst)
	dpkg-deb --fsys-tarfile "$deb" | tar x -C "$kroot" --wildcards \
		'./boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.*' \
		'./lib/modules/*/kernel/fs/*' './lib/modules/*/kernel/net/9p/*' \
		'./lib/modules/*/kernel/lib/*' './lib/modules/*/kernel/crypto/*' \
		'./lib/modules/*/kernel/arch/*' './lib/modules/*/kernel/block/*' \
		'./lib/modules/*/kernel/virt/*' './lib/modules/*/kernel/drivers/nvme/*' \
		'./lib/modules/*/kernel/drivers/vfio/*' './lib/modules/*/kernel/drivers/block/*' \
		'./lib/modules/*/kernel/drivers/virtio/*' || return 1
	kver=$(ls "$kroot/lib/modules" | head -n1)
	depmod -b "$kroot" "$kver" || return 1
	"$GUEST_TOP/scripts/extract-vmlinux.sh" "$kroot/boot/vmlinuz-$kver" \
		"$GUEST_CACHE/vmlinux" || return 1
	ird="$GUEST_CACHE/initrd"
	mkdir -p "$ird"/bin "$ird"/mod "$ird"/proc "$ird"/sys "$ird"/dev "$ird"/tmp
	cp "$(command -v busybox)" "$ird/bin/busybox"
	cp "$GUEST_LIBDIR/init.sh" "$ird/init"
	# modprobe's own order: each module after what it needs, once
	mods=$(modprobe -d "$kroot" -S "$kver" --show-depends -a \
		nvme virtio_pci 9pnet_virtio 9p ext4 crc32c_generic vfio-pci loop \
		vfio_iommu_type1 | awk '$1 == "insmod" && !seen[$2]++ {print $2}')
	[ -n "$mods" ] || { echo "guest: no module list from modprobe" >&2; return 1; }
	: >"$ird/mods.list"
	for m in $mods; do
		cp "$m" "$ird/mod/" && echo "${m#"$kroot"}" >>"$ird/mods.list"
	done
	(cd "$ird" && find . | cpio -o -H newc --quiet) >"$GUEST_CACHE/initrd.cpio" || return 1
	echo "$deb" >"$GUEST_CACHE/deb"
	rm -rf "$kroot" "$ird"
	guest_log "built vmlinux ($kver) and initramfs ($(echo "$mods" | wc -l) modules)"
}

guest_cleanup() {
	local i
	if [ -n "$GUEST_PID" ] && kill -0 "$GUEST_PID" 2>/dev/null; then
		kill -TERM "$GUEST_PID" 2>/dev/null
		for i in $(seq 30); do
			kill -0 "$GUEST_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$GUEST_PID" 2>/dev/null
	fi
	GUEST_PID=""
	[ -n "$GUEST_DIR" ] && rm -rf "$GUEST_DIR"
	[ -n "$GUEST_SOCKS" ] && rm -rf "$GUEST_SOCKS"
}

guest_boot() {
	local drive start now i keep d
	guest_build || return 1
	GUEST_DIR="$GUEST_CACHE/run-$GUEST_NAME-$$"
	rm -rf "$GUEST_DIR"
	mkdir -p "$GUEST_DIR"
	trap guest_cleanup EXIT
	trap 'exit 130' INT TERM
	# (a unix socket's path has 108 bytes at most: not under a deep clone)
	GUEST_SOCKS=$(mktemp -d /tmp/accel-guest.XXXXXX) || return 1
	GUEST_IMG="$GUEST_DIR/nvme.img"
	truncate -s "${GUEST_IMG_MB}M" "$GUEST_IMG"
	mkfs.ext4 -q -F -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 "$GUEST_IMG" ||
		return 1
	: "${GUEST_TRACE:=$BUILD/guest-$GUEST_NAME.trace}"
	rm -f "$GUEST_TRACE"
	drive="file=$GUEST_IMG,if=none,id=nvm0,format=raw"
	[ -n "$GUEST_EIO_BLOCK" ] &&
		drive="if=none,id=nvm0,format=raw,file.driver=blkdebug,file.image.driver=file,file.image.filename=$GUEST_IMG,file.inject-error.0.event=read_aio,file.inject-error.0.errno=5,file.inject-error.0.sector=$((GUEST_EIO_BLOCK * 8 + 2)),file.inject-error.0.once=off,file.inject-error.0.iotype=read"
	drive=${GUEST_DRIVE:-$drive}
	# the tree and its build where the guest's own /tmp or /run would hide
	# them (a clone under /tmp): init.sh puts them back (no spaces or commas)
	keep=""
	for d in "$GUEST_TOP" "$(cd "$BUILD" && pwd)"; do
		case $d in "$GUEST_TOP"/*) continue;; esac # (inside the tree)
		case $d in /tmp/* | /run/*) keep="$keep${keep:+,}$d";; esac
	done
	start=$(date +%s%N)
	# shellcheck disable=SC2086
	qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp "$GUEST_CPUS" \
		-m "$GUEST_MEM" -nodefaults -display none -no-reboot -net none \
		-device intel-iommu,intremap=on \
		-kernel "${GUEST_KERNEL:-$GUEST_CACHE/vmlinux}" -initrd "$GUEST_CACHE/initrd.cpio" \
		-append "console=ttyS0 loglevel=4 panic=-1 intel_iommu=on iommu=pt accel.pollq=$GUEST_POLLQ accel.b=$GUEST_B_ADDR accel.bdrv=$GUEST_B_DRIVER${keep:+ accel.keep=$keep}" \
		-serial "file:$GUEST_DIR/console.log" \
		-serial "unix:$GUEST_SOCKS/ch.sock,server=on,wait=off" \
		-monitor "unix:$GUEST_SOCKS/mon.sock,server=on,wait=off" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-drive "$drive" \
		-device nvme-subsys,id=nvmesub,nqn=nqn.2026-12.io.libaccel:guest \
		-device nvme,id=nvmeA,serial=accel0,subsys=nvmesub,bus=pcie.0,addr=0x4 \
		-device nvme,id=nvmeB,serial=accel0,subsys=nvmesub,bus=pcie.0,addr=0x5 \
		-device nvme-ns,drive=nvm0,nsid=1,shared=on,logical_block_size="$GUEST_LBA",physical_block_size="$GUEST_LBA",uuid="$GUEST_NS_UUID" \
		-D "$GUEST_TRACE" -trace pci_nvme_io_cmd -trace pci_nvme_create_sq \
		$GUEST_QEMU_EXTRA >"$GUEST_DIR/qemu.out" 2>&1 &
	GUEST_PID=$!
	for i in $(seq 1200); do
		if grep -q 'accel-guest: ready' "$GUEST_DIR/console.log" 2>/dev/null; then
			now=$(date +%s%N)
			GUEST_BOOT_MS=$(((now - start) / 1000000))
			guest_log "$(grep -a 'accel-guest: ready' "$GUEST_DIR/console.log") in $GUEST_BOOT_MS ms"
			grep -a 'accel-guest:' "$GUEST_DIR/console.log" | grep -v ready | sed 's/^/   /'
			return 0
		fi
		kill -0 "$GUEST_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "guest: did not boot; QEMU said:" >&2
	sed 's/^/   | /' "$GUEST_DIR/qemu.out" >&2
	tail -n 40 "$GUEST_DIR/console.log" 2>/dev/null | sed 's/^/   | /' >&2
	return 1
}

# guest_run [script]: the script (its argument, or stdin) in the host-root
# chroot of the guest; GUEST_TIMEOUT (s, 120) bounds it: the guest kills it then (137).
guest_run() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$*" | python3 "$GUEST_LIBDIR/guestctl.py" run "$GUEST_SOCKS/ch.sock" "${GUEST_TIMEOUT:-120}"
	else
		python3 "$GUEST_LIBDIR/guestctl.py" run "$GUEST_SOCKS/ch.sock" "${GUEST_TIMEOUT:-120}"
	fi
}

guest_sh() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$*" | python3 "$GUEST_LIBDIR/guestctl.py" run "$GUEST_SOCKS/ch.sock" "${GUEST_TIMEOUT:-120}" sh
	else
		python3 "$GUEST_LIBDIR/guestctl.py" run "$GUEST_SOCKS/ch.sock" "${GUEST_TIMEOUT:-120}" sh
	fi
}

guest_monitor() {
	python3 "$GUEST_LIBDIR/guestctl.py" mon "$GUEST_SOCKS/mon.sock" "$@"
}

# Ends the guest: sync, then QEMU's quit (the namespace image is this
# run's scratch); waits for QEMU to end, kills it after 5 s.
guest_stop() {
	local i
	[ -n "$GUEST_PID" ] || return 0
	GUEST_TIMEOUT=10 guest_sh sync >/dev/null 2>&1
	guest_monitor quit >/dev/null 2>&1
	for i in $(seq 50); do
		kill -0 "$GUEST_PID" 2>/dev/null || break
		sleep 0.1
	done
	guest_cleanup
}

# The parts' helpers (run.sh's parts: they use its fail and note).

# guest_trace_lines: the lines of QEMU's trace log so far (a mark for
# guest_io_cmds and guest_per_sq).
guest_trace_lines() {
	wc -l <"$GUEST_TRACE"
}

# guest_io_cmds MARK: "sqid opc" of each pci_nvme_io_cmd line after line
# MARK of the trace.
guest_io_cmds() {
	tail -n +"$(($1 + 1))" "$GUEST_TRACE" | grep pci_nvme_io_cmd |
		sed -n 's/.* sqid \([0-9]*\) opc \(0x[0-9a-f]*\).*/\1 \2/p'
}

# guest_per_sq MARK: "sqid count" of those commands, by sqid.
guest_per_sq() {
	guest_io_cmds "$1" | awk '{print $1}' | sort -n | uniq -c | awk '{print $2, $1}'
}

# guest_stat NAME OUT: the number after NAME in the shim's storage exit
# line in OUT ("device writes" and "kernel writes": the writes after
# "device reads N (B bytes)" and "kernel reads N (B bytes)").
guest_stat() {
	local l
	l=$(echo "$2" | grep -o "storage: files.*" | tail -1)
	case $1 in
	"device writes" | "kernel writes")
		echo "$l" | sed -n "s/.*${1% *} reads [0-9]* ([0-9]* bytes) writes \([0-9]*\).*/\1/p";;
	*) echo "$l" | grep -o "$1 [0-9]*" | head -1 | awk '{print $NF}';;
	esac
}

# guest_fio NAME RW [PREFIX...]: fio $GUEST_FIO --rw=RW $GUEST_FIO_EXTRA
# in the guest's /tmp, after PREFIX (e.g. env ... LD_PRELOAD=...); fails
# unless fio ends with 0 and verified; sets GUEST_OUT (its output).
# GUEST_FIO: psync, 4 threads of 2 MiB each (fio.N.0 under $GUEST_MNT),
# 4 KiB blocks, every block checked with crc32c (512 writes or reads and
# 512 verify reads a thread for a randwrite).
: "${GUEST_FIO:=--name=fio --directory=$GUEST_MNT --bs=4k --size=2m --ioengine=psync --thread --numjobs=4 --verify=crc32c --do_verify=1 --group_reporting --verify_state_save=0}"
guest_fio() {
	local name=$1 rw=$2 t0 cmd
	shift 2
	t0=$(date +%s%N)
	cmd="cd /tmp && $* fio $GUEST_FIO --rw=$rw $GUEST_FIO_EXTRA 2>&1; echo fio-rc=\$?"
	GUEST_OUT=$(guest_run "$cmd")
	# (no fio-rc line at all: the command's output never came back over
	#  the channel, which the shell's echo after fio always prints; seen
	#  once in CI as an empty answer in 1 s. Asked once more, and said.)
	if ! echo "$GUEST_OUT" | grep -q '^fio-rc='; then
		note "fio $name: no answer from the guest ('$(echo "$GUEST_OUT" | head -c 200)'): asked again"
		GUEST_OUT=$(guest_run "$cmd")
	fi
	echo "$GUEST_OUT" | grep -q '^fio-rc=0$' || {
		echo "$GUEST_OUT" | grep -a libaccel | sed 's/^/   | /'
		fail "fio $name: $(echo "$GUEST_OUT" | grep -iE 'err|verify' | head -3)"
	}
	echo "$GUEST_OUT" | grep -q "err= 0" || fail "fio $name: not verified"
	note "fio $name: $(echo "$GUEST_OUT" | grep -o 'IOPS=[^,]*' | tr '\n' ' ')cpu $(echo "$GUEST_OUT" | grep -o 'usr=[^,]*, sys=[^,]*' | tr '\n' ' ')($((($(date +%s%N) - t0) / 1000000)) ms)"
}

# guest_uncache 'FILE...' (guest paths, globs): their written pages to the
# namespace (sync), then out of the guest's page cache (fadvise DONTNEED,
# dd's nocache), so the kernel's next reads come from the device. Only
# those files: a drop_caches would also drop the 9p pages of the host
# programs the guest runs, each reloaded under TCG afterwards.
guest_uncache() {
	guest_run "sync && for f in $*; do dd if=\$f iflag=nocache count=0 status=none || exit 1; done"
}
