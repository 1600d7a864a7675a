#!/bin/bash
# Runs every integration test (t_*.sh here) in turn, prints each one's name
# and result, and a closing "N passed, N failed" line. Exit 1 if any failed.
cd "$(dirname "$0")" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (namespaces, tap)"; exit 1; }
# A sanitized build (make integration-san sets TESTS_SANITIZE and
# TESTS_BUILD): every report of every program a test runs goes to a file,
# and any such file fails the test, even when the test ignored that
# program's exit. Leaks are left to the unit suites, since the programs
# run under the shim (memcached, sh, python) would report their own.
SAN_LOG="${TESTS_BUILD:-$(pwd)/../../build}/test-logs/san"
if [ -n "$TESTS_SANITIZE" ]; then
	mkdir -p "$(dirname "$SAN_LOG")"
	rm -f "$SAN_LOG".* # an earlier run's (it showed them)
	export ASAN_OPTIONS="detect_leaks=0:log_path=$SAN_LOG${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export UBSAN_OPTIONS="print_stacktrace=1:log_path=$SAN_LOG${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi

san_clean() {
	[ -n "$TESTS_SANITIZE" ] || return 0
	set -- "$SAN_LOG".*
	[ -e "$1" ] || return 0
	for f in "$@"; do
		echo "   sanitizer report, $f:"
		head -40 "$f" | sed 's/^/   | /'
		mv "$f" "$SAN_LOG-seen.${f##*.}"
	done
	return 1
}

passed=0
failed=0
names=""
for t in t_*.sh; do
	name=${t#t_}
	name=${name%.sh}
	[ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
	echo "== integration: $name"
	start=$(date +%s)
	timeout 600 bash "$t"
	rc=$?
	san_clean || rc=1
	if [ $rc -eq 0 ]; then
		echo "   PASS $name ($(( $(date +%s) - start )) s)"
		passed=$((passed + 1))
	else
		echo "   FAIL $name ($(( $(date +%s) - start )) s)"
		failed=$((failed + 1))
		names="$names $name"
	fi
done
[ -n "$names" ] && echo "failed:$names"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
