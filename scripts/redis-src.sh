#!/bin/bash
# Fetches the Debian source of the installed redis-server into
# build/redis-src/ (once: cached there) so that Redis's own test suite runs
# against the very server Debian ships. Prints the source tree's path.
# Needs a deb-src entry for the configured Debian mirror: one is added
# (idempotently) next to the existing deb entries, deb822 or one-line.
set -e
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEST="$TOP/build/redis-src"
SRCLIST=/etc/apt/sources.list.d/accel-deb-src.sources

die() {
	echo "redis-src: $*" >&2
	exit 1
}

ver=$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null) ||
	die "redis-server is not installed (make deps)"
upver=${ver#*:}  # the epoch is not part of the directory name
upver=${upver%-*}
tree="$DEST/redis-$upver"
if [ -f "$tree/.accel-version" ] && [ "$(cat "$tree/.accel-version")" = "$ver" ]; then
	echo "$tree"
	exit 0
fi
command -v dpkg-source >/dev/null || die "dpkg-source is missing (apt-get install dpkg-dev, or make deps)"

# deb822 stanzas of Debian's own archive (Types: deb) become the same
# stanzas with Types: deb-src; one-line "deb URI suite comps" lines too.
deb_src_entries() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$SRCLIST" ] || continue
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
			/(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && /(^|\n)URIs:[^\n]*debian/ {
				sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" && /debian/ {
			$1 = "deb-src"; print "Types: deb-src"
			i = 2
			if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			print "URIs: " $i; print "Suites: " $(i + 1)
			s = ""; for (j = i + 2; j <= NF; j++) s = s " " $j
			print "Components:" s; print "" }' "$f"
	done
}

# A deb-src entry for Debian's archive already there (ours or the system's).
have_src() {
	[ -f "$SRCLIST" ] && return 0
	grep -qsE '^deb-src .*debian' /etc/apt/sources.list /etc/apt/sources.list.d/*.list &&
		return 0
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'BEGIN { RS = "" }
		/(^|\n)Types:[^\n]*deb-src/ && /(^|\n)URIs:[^\n]*debian/ { found = 1 }
		END { exit !found }'
}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if ! have_src; then
	entries=$(deb_src_entries)
	[ -n "$entries" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d} to add a deb-src entry for"
	echo "# added by libaccel scripts/redis-src.sh: Redis's test suite comes from the source package" |
		$SUDO tee "$SRCLIST" >/dev/null
	echo "$entries" | $SUDO tee -a "$SRCLIST" >/dev/null
	echo "redis-src: added deb-src entries in $SRCLIST" >&2
fi
# The source of the installed version (the index may be older than it).
if ! apt-cache showsrc redis 2>/dev/null | grep -q "^Version: $ver\$"; then
	$SUDO apt-get update -qq || die "apt-get update failed"
fi
apt-cache showsrc redis 2>/dev/null | grep -q "^Version: $ver\$" ||
	die "the Debian mirror has no source for redis $ver (the installed redis-server); apt-get source redis=$ver is needed"
rm -rf "$DEST"
mkdir -p "$DEST"
(cd "$DEST" && apt-get source -qq --only-source "redis=$ver" >/dev/null 2>"$DEST/apt-source.log") ||
	die "apt-get source redis=$ver failed (network? see $DEST/apt-source.log)"
[ -x "$tree/runtest" ] || die "no runtest in $tree after apt-get source"
echo "$ver" > "$tree/.accel-version"
echo "$tree"
