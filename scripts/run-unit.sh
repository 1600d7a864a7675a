#!/bin/sh
# Runs each cmocka test program given, shows its summary, and fails if any
# test failed. Usage: run-unit.sh PROGRAM...
# A sanitized build (make unit-san) aborts at its first report, so the
# report's first lines are shown too: the cmocka summary never comes.
# UBSan reports come with the stack that led there.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
status=0
passed=0
failed=0
for t in "$@"; do
	name=$(basename "$t")
	echo "== unit: $name"
	if "$t" > "$t.log" 2>&1; then
		ok=1
		passed=$((passed + 1))
	else
		ok=0
		failed=$((failed + 1))
		status=1
	fi
	# cmocka's own summary lines
	grep -E '^\[(==========|  PASSED  |  FAILED  )\]' "$t.log" | sed 's/^/   /'
	[ $ok -eq 0 ] && grep -E '^\[  (FAILED|ERROR) ' "$t.log" | sed 's/^/   /'
	if [ $ok -eq 0 ] && grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$t.log"; then
		grep -E '^\[ RUN      \]' "$t.log" | tail -1 | sed 's/^/   in /'
		grep -m1 -A24 -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$t.log" |
			sed 's/^/   | /'
		echo "   (all of it: $t.log)"
	fi
done
echo "unit: $passed passed, $failed failed"
exit $status
