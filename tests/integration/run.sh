#!/bin/bash
# Runs every integration test (t_*.sh here) in turn, prints each one's name
# and result, and a closing "N passed, N failed" line. Exit 1 if any failed.
cd "$(dirname "$0")" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (namespaces, tap)"; exit 1; }
# A sanitized build (make integration-san sets TESTS_SANITIZE and
# TESTS_BUILD): a sanitizer report of any program a test runs fails the
# test, even when the test ignored that program's exit. ASan writes its
# reports to files (log_path); UBSan next to ASan ignores log_path and
# writes to stderr, so the test's output and the logs it wrote are
# searched too. Leaks are left to the unit suites, since the programs
# run under the shim (memcached, sh, python) would report their own.
SAN_LOG="${TESTS_BUILD:-$(pwd)/../../build}/test-logs/san"
SAN_REPORT='runtime error:|ERROR: [A-Za-z]+Sanitizer'
if [ -n "$TESTS_SANITIZE" ]; then
	mkdir -p "$(dirname "$SAN_LOG")"
	rm -f "$SAN_LOG".* # an earlier run's (it showed them)
	export ASAN_OPTIONS="detect_leaks=0:log_path=$SAN_LOG${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export UBSAN_OPTIONS="print_stacktrace=1:log_path=$SAN_LOG${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi

run_test() {
	if [ -z "$TESTS_SANITIZE" ]; then
		timeout 600 bash "$1"
		return
	fi
	touch "$SAN_LOG.start"
	timeout 600 bash "$1" 2>&1 | tee "$SAN_LOG.out"
	return "${PIPESTATUS[0]}"
}

# Shows the reports the test left; 1 if there were any.
san_clean() {
	local found=0 f
	[ -n "$TESTS_SANITIZE" ] || return 0
	for f in $(find "$(dirname "$SAN_LOG")" -type f -newer "$SAN_LOG.start" \
			! -name "$(basename "$SAN_LOG").out"); do
		grep -qE "$SAN_REPORT" "$f" || continue
		echo "   sanitizer report in $f:"
		grep -m1 -A30 -E "$SAN_REPORT" "$f" | sed 's/^/   | /'
		found=1
	done
	grep -qE "$SAN_REPORT" "$SAN_LOG.out" && found=1 # (shown as it came)
	rm -f "$SAN_LOG".[0-9]*
	return $((found))
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
	run_test "$t"
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
