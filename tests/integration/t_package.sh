#!/bin/bash
# The Debian packages: dpkg-buildpackage -b builds them from a copy of the
# tree (outside it: the build writes to ..), they unpack into a scratch
# root (dpkg -x: the host's own /usr is left alone), and from there
#  - accel --version answers, man renders the pages, accel.pc names the
#    library to preload and gives no -l flag;
#  - the library is found by its SONAME (LD_PRELOAD=libaccel.so.0);
#  - memcached started by the unpacked accel on a tap port serves a set and
#    a get through the userspace stack, with the unpacked library loaded.
. "$(dirname "$0")/lib.sh"
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
	fail "dpkg-buildpackage or debhelper missing (make deps)"
SCRATCH=$(mktemp -d /tmp/accel-pkg.XXXXXX)
cleanup() {
	ns_cleanup
	rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$SCRATCH/src" "$SCRATCH/root"
tar -C "$TOP" --exclude=./build --exclude=./.git --exclude=./debian/build -cf - . |
	tar -C "$SCRATCH/src" -xf - || fail "cannot copy the tree"
t0=$(date +%s)
(cd "$SCRATCH/src" && dpkg-buildpackage -b -us -uc -j2) > "$LOGDIR/package.build" 2>&1 ||
	{ tail -20 "$LOGDIR/package.build"; fail "dpkg-buildpackage failed"; }
note "dpkg-buildpackage: $(($(date +%s) - t0)) s, $(cd "$SCRATCH" && echo *.deb)"
for deb in "$SCRATCH"/*.deb; do
	dpkg -x "$deb" "$SCRATCH/root" || fail "dpkg -x $deb"
done
R=$SCRATCH/root
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
LIB=$R/usr/lib/$MA/libaccel.so.0

out=$("$R/usr/bin/accel" --version) || fail "accel --version failed"
[ "${out#accel }" != "$out" ] || fail "accel --version said: $out"
note "$out"
readelf -d "$LIB" | grep -q 'SONAME.*\[libaccel.so.0\]' || fail "no SONAME libaccel.so.0"
[ "$(readlink "$R/usr/lib/$MA/libaccel.so")" = libaccel.so.0 ] || fail "no libaccel.so link"
for page in man1/accel.1 man1/accel-stat.1 man7/libaccel.7; do
	warn=$(MANWIDTH=80 man -l "$R/usr/share/man/$page.gz" 2>&1 >/dev/null)
	[ -z "$warn" ] || fail "man $page: $warn"
done
MANWIDTH=80 man -l "$R/usr/share/man/man7/libaccel.7.gz" 2>/dev/null | grep -q ACCEL_STORAGE_DEPTH ||
	fail "libaccel(7) lacks the variable table"
export PKG_CONFIG_PATH=$R/usr/lib/$MA/pkgconfig
[ "$(pkg-config --variable=preload accel)" = "/usr/lib/$MA/libaccel.so.0" ] ||
	fail "accel.pc preload=$(pkg-config --variable=preload accel)"
[ -z "$(pkg-config --libs accel)" ] || fail "accel.pc gives libs: $(pkg-config --libs accel)"
unset PKG_CONFIG_PATH

# By its SONAME, as ld.so would find it once installed.
LD_LIBRARY_PATH=$R/usr/lib/$MA LD_PRELOAD=libaccel.so.0 ACCEL_DISABLE=1 \
	cat /proc/self/maps | grep -q "$LIB" || fail "LD_PRELOAD=libaccel.so.0 did not load it"

# memcached under the unpacked launcher, on a tap port.
ns_setup
trap cleanup EXIT
$NSX env ACCEL_DPDK_ARGS="$TAP_ARGS" ACCEL_IP=10.88.0.2/24 ACCEL_STATS=1 \
	"$R/usr/bin/accel" memcached -u root -t 1 -U 0 -p 11211 > "$LOGDIR/package.mc" 2>&1 &
mc=$!
tap_up acc0 10.88.0.1/24
wait_tcp 10.88.0.2 11211 || fail "memcached did not answer on the port's address"
grep -q "$LIB" "/proc/$mc/maps" || fail "memcached has not the unpacked library loaded"
reply=$(in_ns timeout 10 bash -c 'exec 3<>/dev/tcp/10.88.0.2/11211
	printf "set pkg 0 0 5\r\nhello\r\nget pkg\r\nquit\r\n" >&3; cat <&3')
printf '%s' "$reply" | grep -q "^hello" || fail "get through the port: '$reply'"
kill -TERM $mc
wait $mc
grep -q "connections through the stack [1-9][0-9]* accepted" "$LOGDIR/package.mc" ||
	{ cat "$LOGDIR/package.mc"; fail "the connections did not go through the stack"; }
note "$(grep -o 'connections through the stack [0-9]* accepted' "$LOGDIR/package.mc")"
exit 0
