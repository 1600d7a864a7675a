#!/bin/bash
# Runs every integration test (t_*.sh here) in turn, prints each one's name
# and result, and a closing "N passed, N failed" line. Exit 1 if any failed.
cd "$(dirname "$0")" || exit 1
[ "$(id -u)" -eq 0 ] || { echo "integration tests need root (namespaces, tap)"; exit 1; }
passed=0
failed=0
names=""
for t in t_*.sh; do
	name=${t#t_}
	name=${name%.sh}
	[ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
	echo "== integration: $name"
	start=$(date +%s)
	if timeout 600 bash "$t"; then
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
