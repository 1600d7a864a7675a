#!/bin/bash
# accel's options, as a user meets them: --version; --profile NAME with
# --show-config lists every setting with its source (environment over
# profile over default) and runs nothing; the profile's values reach the
# program and the environment still wins; a profile file in
# $XDG_CONFIG_HOME/accel/profiles hides a built-in of the same name; a bad
# line is refused naming the file and the line; an unknown profile is
# refused in one line; --profile list shows files and built-ins.
. "$(dirname "$0")/lib.sh"
XDG=$(mktemp -d /tmp/accel-profiles.XXXXXX)
trap 'rm -rf "$XDG"' EXIT
export XDG_CONFIG_HOME=$XDG
unset $(env | sed -n 's/^\(ACCEL_[A-Z_]*\)=.*/\1/p')

out=$("$ACCEL" --version) || fail "--version failed"
[[ $out =~ ^accel\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "--version: $out"

# source and value of one variable in --show-config's table
src() { printf '%s\n' "$out" | awk -v v="$1" '$1 == v { print $2 }'; }
val() { printf '%s\n' "$out" | awk -v v="$1" '$1 == v { $1 = ""; $2 = ""; sub(/^  /, ""); print }'; }

out=$(ACCEL_IP=10.88.0.2/24 ACCEL_QUEUES=2 "$ACCEL" --profile memcached --show-config 2>&1) ||
	fail "--show-config failed: $out"
printf '%s\n' "$out" | sed 's/^/   | /'
printf '%s\n' "$out" | grep -q "^profile: memcached (built-in)" || fail "profile not named"
[ "$(src ACCEL_IP)" = environment ] && [ "$(val ACCEL_IP)" = 10.88.0.2/24 ] ||
	fail "ACCEL_IP: $(src ACCEL_IP) $(val ACCEL_IP)"
[ "$(src ACCEL_QUEUES)" = environment ] && [ "$(val ACCEL_QUEUES)" = 2 ] ||
	fail "the environment must beat the profile: ACCEL_QUEUES $(src ACCEL_QUEUES) $(val ACCEL_QUEUES)"
[ "$(src ACCEL_MBUFS)" = profile ] && [ "$(val ACCEL_MBUFS)" = 16384 ] ||
	fail "ACCEL_MBUFS: $(src ACCEL_MBUFS) $(val ACCEL_MBUFS)"
[ "$(src ACCEL_LINK_WAIT_MS)" = default ] || fail "ACCEL_LINK_WAIT_MS: $(src ACCEL_LINK_WAIT_MS)"
n=$(printf '%s\n' "$out" | grep -c '^ACCEL_')
[ "$n" = "$("$ACCEL" --help | grep -c '^  ACCEL_[A-Z_]* ')" ] || fail "--show-config lists $n variables"
printf '%s\n' "$out" | grep -q refused && fail "good settings reported refused"

# What the program sees: the profile under the environment.
seen=$(ACCEL_QUEUES=2 ACCEL_DISABLE=1 "$ACCEL" --profile=memcached sh -c \
	'echo "$ACCEL_QUEUES $ACCEL_MBUFS"')
[ "$seen" = "2 16384" ] || fail "the program saw '$seen'"

# A user's file hides the built-in; a bad value in the environment is
# shown refused.
mkdir -p "$XDG/accel/profiles"
printf '# mine\nACCEL_QUEUES=3\n\nACCEL_LOG = "info"\n' > "$XDG/accel/profiles/memcached.conf"
out=$(ACCEL_MBUFS=12 "$ACCEL" --profile memcached --show-config)
[ "$(val ACCEL_QUEUES)" = 3 ] && [ "$(src ACCEL_LOG)" = profile ] && [ "$(val ACCEL_LOG)" = info ] ||
	fail "the user's memcached.conf was not used: $out"
printf '%s\n' "$out" | grep -q "^profile: memcached ($XDG/accel/profiles/memcached.conf)" ||
	fail "the file is not named"
printf '%s\n' "$out" | grep -q "^refused: ACCEL_MBUFS='12'" || fail "bad ACCEL_MBUFS not shown"

# A bad line: refused, file and line named, nothing runs.
printf 'ACCEL_LOG=info\nACCEL_QUEUES=fast\n' > "$XDG/accel/profiles/bad.conf"
err=$("$ACCEL" --profile bad echo ran 2>&1); rc=$?
[ $rc = 2 ] || fail "a bad profile: exit $rc ($err)"
[ "$err" = "accel: $XDG/accel/profiles/bad.conf:2: ACCEL_QUEUES='fast' is not valid: expected a whole number from 1 to 16" ] ||
	fail "bad line: '$err'"
note "$err"

# An unknown profile: one line, nothing runs.
err=$("$ACCEL" --profile nosuch echo ran 2>&1); rc=$?
[ $rc = 2 ] || fail "an unknown profile: exit $rc"
[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "more than one line: $err"
printf '%s\n' "$err" | grep -q "no profile 'nosuch'" || fail "unknown profile: $err"
note "$err"

out=$("$ACCEL" --profile list)
for p in latency throughput memcached redis; do
	printf '%s\n' "$out" | grep -q "^  $p " || fail "--profile list lacks $p"
done
printf '%s\n' "$out" | grep -q "$XDG/accel/profiles/bad.conf" || fail "--profile list lacks the file"
exit 0
