#!/bin/sh
# Installs from Debian packages what libaccel needs to build, test and demo.
# Idempotent: does nothing when everything is there.
set -e
PKGS="build-essential pkg-config libdpdk-dev dpdk libnuma-dev libcmocka-dev
liburing-dev memcached redis-server redis-tools libmemcached-tools fio
iproute2 iputils-ping procps psmisc python3 gnuplot-nox nftables tcl8.6 dpkg-dev
e2fsprogs mount clang-14 llvm-14 libclang-rt-14-dev debhelper man-db nutcracker
qemu-system-x86 busybox-static kmod cpio xz-utils tshark nginx-light curl wrk ethtool"

# The test guest's kernel (tests/guest/lib.sh): linux-image-amd64's
# package, fetched with apt-get download, not installed on this host (its
# postinst would write /boot and an initramfs); the guest build unpacks it.
guest_kernel() {
	GDEBS="${ACCEL_GUEST_DEBS:-/var/cache/libaccel-guest}"
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$kpkg" ] || return 0 # no package list yet: the guest build fetches it
	ls "$GDEBS/${kpkg}"_*.deb >/dev/null 2>&1 && return 0
	mkdir -p "$GDEBS"
	echo "deps: downloading $kpkg (the test guest's kernel)"
	(cd "$GDEBS" && apt-get download -q "$kpkg" >/dev/null 2>&1) ||
		echo "deps: apt-get download $kpkg failed (the guest tests will try again)"
}

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && { guest_kernel; exit 0; }
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
guest_kernel
echo "deps: done"
