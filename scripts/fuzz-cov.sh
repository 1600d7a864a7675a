#!/bin/sh
# What the fuzz corpus reaches: runs each coverage build
# (build/fuzz-cov/fuzz_<target>, clang source-based coverage) once over
# every input of its corpus (build/fuzz/corpus/<target>, grown by make
# fuzz, and the seeds in tests/fuzz/corpus/<target>), then prints per
# target the line and function coverage of the files it tests and the
# execution counts of the functions the harnesses aim at.
# Usage: fuzz-cov.sh TARGET...   (reports in build/fuzz-cov/)
set -eu
B=build/fuzz-cov
PROF=llvm-profdata-14
COV=llvm-cov-14
# Functions each target is meant to reach (static ones by name), and the
# files whose coverage is its own.
key() {
	case $1 in
	tcp_conn) echo "stack_tcp_move closed_input tcp_loss_reo_timeout exit_recovery
		enter_recovery undo tail_probe rexmt_fire keep_fire tcp_icmp_unreach
		ooo_advance rst_input fin_acked enter_time_wait" ;;
	stack_frames) echo "closed_input listen_input syn_sent_input syn_timeout
		time_wait_reusable tcp_icmp_unreach icmp_echo_reply arp_input
		dgram_finish ipv4_reasm_expire close_listener" ;;
	ipv4_reasm) echo "dgram_finish dgram_drop dgram_slot ipv4_reasm_expire" ;;
	config) echo "accel_config_parse accel_config_unknown parse_ip parse_gw" ;;
	esac
}
files() {
	case $1 in
	config) echo preload/config.c ;;
	ipv4_reasm) echo stack/ipv4_frag.c ;;
	*) echo stack/ ;;
	esac
}

for t in "$@"; do
	dirs="tests/fuzz/corpus/$t"
	[ -d "build/fuzz/corpus/$t" ] && dirs="build/fuzz/corpus/$t $dirs"
	rm -f "$B/$t.profraw"
	# shellcheck disable=SC2086
	LLVM_PROFILE_FILE="$B/$t.profraw" "$B/fuzz_$t" -runs=0 $dirs \
		> "$B/$t.run.log" 2>&1
	$PROF merge -sparse "$B/$t.profraw" -o "$B/$t.profdata"
	src=$(files "$t")
	echo "== $t ($(ls $dirs | wc -l) inputs; coverage of $src)"
	$COV report "$B/fuzz_$t" -instr-profile="$B/$t.profdata" $src \
		> "$B/$t.report.txt"
	awk '/^TOTAL/ { print "   lines " $10 " covered, functions " $7 " covered, regions " $4 " covered" }' \
		"$B/$t.report.txt"
	$COV export "$B/fuzz_$t" -instr-profile="$B/$t.profdata" -skip-expansions \
		> "$B/$t.json"
	# shellcheck disable=SC2046
	python3 - "$B/$t.json" $(key "$t") <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
counts = {}
for fn in data["data"][0]["functions"]:
	name = fn["name"].split(":")[-1]
	counts[name] = counts.get(name, 0) + fn["count"]
row = []
for k in sys.argv[2:]:
	if k in counts:
		row.append("%s %d" % (k, counts[k]))
print("   reached: " + ", ".join(r for r in row if not r.endswith(" 0")))
miss = [r.split()[0] for r in row if r.endswith(" 0")]
if miss:
	print("   not reached: " + ", ".join(miss))
PY
done
