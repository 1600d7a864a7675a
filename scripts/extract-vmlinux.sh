#!/bin/sh
# extract-vmlinux.sh BZIMAGE OUT - writes the uncompressed ELF kernel
# (vmlinux) held inside a bzImage (a Debian vmlinuz) to OUT.
#
# A bzImage is a setup stub, a small decompressor and the kernel compressed
# with one of gzip/xz/zstd/lzma/bzip2/lz4; the payload starts at that
# format's magic number. Each candidate offset is tried until one gives an
# ELF file. QEMU boots the ELF directly (PVH entry note), skipping the
# in-guest decompression, which costs seconds under TCG.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 BZIMAGE OUT" >&2; exit 2; }
in=$1
out=$2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

is_elf() {
	[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]
}

# try MAGIC(printf escapes) COMMAND...: the payload at each offset of MAGIC
try() {
	magic=$1
	shift
	command -v "$1" >/dev/null 2>&1 || return 1
	for off in $(LC_ALL=C grep -obUaP "$magic" "$in" 2>/dev/null | cut -d: -f1); do
		tail -c +$((off + 1)) "$in" | "$@" >"$tmp" 2>/dev/null || true
		if [ -s "$tmp" ] && is_elf "$tmp"; then
			mv "$tmp" "$out"
			return 0
		fi
	done
	return 1
}

try '\xfd\x37\x7a\x58\x5a\x00' xz -dc ||
	try '\x1f\x8b\x08' gzip -dc ||
	try '\x28\xb5\x2f\xfd' zstd -dc ||
	try '\x5d\x00\x00\x00' xz -dc --format=lzma ||
	try 'BZh' bzip2 -dc ||
	try '\x02\x21\x4c\x18' lz4 -dc ||
	{ echo "extract-vmlinux: no compressed ELF kernel found in $in" >&2; exit 1; }
