#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz/ (built by make as
# build/fuzz/fuzz_<target>) and fails if any of them reports anything:
# a crash, an ASan or UBSan report, a leak, an oracle of the harness, a
# timeout or running out of memory.
#
#   fuzz.sh run SECONDS TARGET...    every target for SECONDS s, all at
#       once (they share the machine's cores), growing build/fuzz/corpus/
#       <target> from the seeds in tests/fuzz/corpus/<target>; logs in
#       build/fuzz/<target>.log, reports in build/fuzz/artifacts/<target>/
#   fuzz.sh check SECONDS TARGET...  make check's part: SECONDS in all,
#       split evenly, one target after the other, from the seeds alone
#       (a fresh copy each time: nothing is kept between runs)
set -u
mode=$1
secs=$2
shift 2
B=build/fuzz
SEEDS=tests/fuzz/corpus
# Inputs longer than this add nothing the operations cannot say in fewer
# bytes; a single input may take at most -timeout s.
FLAGS="-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"

# One target: its corpus directory first (libFuzzer adds new inputs to
# the first one), then the seeds, read only.
one() { # target seconds corpus_dir
	t=$1
	mkdir -p "$3" "$B/artifacts/$t"
	"$B/fuzz_$t" $FLAGS -max_total_time="$2" \
		-artifact_prefix="$B/artifacts/$t/" "$3" "$SEEDS/$t" \
		> "$B/$t.log" 2>&1
}

# Executions, coverage and features at the end of a target's log.
summary() { # target status
	t=$1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$t.log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$B/$t.log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	found=$(ls "$B/artifacts/$t" 2>/dev/null | wc -l)
	if [ "$2" -eq 0 ] && [ "$found" -eq 0 ]; then
		res=ok
	else
		res="FAILED (exit $2, $found report(s) in $B/artifacts/$t/)"
	fi
	printf '%-14s execs %-10s cov %-6s ft %-7s corpus %-6s %s\n' "$t" \
		"${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$res"
	[ "$res" = ok ]
}

status=0
mkdir -p "$B"
case $mode in
run)
	echo "fuzz: $* for $secs s each, in parallel (logs in $B/)"
	for t in "$@"; do
		rm -rf "$B/artifacts/$t"
		( one "$t" "$secs" "$B/corpus/$t"; echo $? > "$B/$t.rc" ) &
	done
	wait
	for t in "$@"; do
		summary "$t" "$(cat "$B/$t.rc")" || status=1
	done
	;;
check)
	n=$#
	each=$((secs / n))
	[ "$each" -lt 1 ] && each=1
	echo "== fuzz: $* for $each s each"
	for t in "$@"; do
		rm -rf "$B/check/$t" "$B/artifacts/$t"
		one "$t" "$each" "$B/check/$t"
		rc=$?
		line=$(summary "$t" "$rc") || status=1
		echo "   $line"
		if [ "$rc" -ne 0 ]; then
			grep -E 'ERROR|SUMMARY|oracle|runtime error' "$B/$t.log" | head -5 | sed 's/^/   /'
			status=1
		fi
	done
	;;
*)
	echo "usage: $0 run|check SECONDS TARGET..." >&2
	exit 2
	;;
esac
exit $status
