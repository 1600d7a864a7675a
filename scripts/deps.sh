#!/bin/sh
# Installs from Debian packages what libaccel needs to build, test and demo.
# Idempotent: does nothing when everything is there.
set -e
PKGS="build-essential pkg-config libdpdk-dev dpdk libnuma-dev libcmocka-dev
liburing-dev memcached redis-server redis-tools libmemcached-tools fio
iproute2 iputils-ping procps psmisc python3 gnuplot-nox nftables tcl8.6 dpkg-dev
e2fsprogs mount clang-14 llvm-14 libclang-rt-14-dev nutcracker"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
