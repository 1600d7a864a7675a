#!/bin/sh
# Runs each cmocka test program given, shows its summary, and fails if any
# test failed. Usage: run-unit.sh PROGRAM...
status=0
passed=0
failed=0
for t in "$@"; do
	name=$(basename "$t")
	echo "== unit: $name"
	if "$t" > "$t.log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		status=1
	fi
	# cmocka's own summary lines
	grep -E '^\[(==========|  PASSED  |  FAILED  )\]' "$t.log" | sed 's/^/   /'
	[ $status -ne 0 ] && grep -E '^\[  (FAILED|ERROR) ' "$t.log" | sed 's/^/   /'
done
echo "unit: $passed passed, $failed failed"
exit $status
