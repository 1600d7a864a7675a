#!/usr/bin/env python3
"""Compares two runs of Redis's test suite (runtest output): the kernel's
(the reference) and the shim's.

  compare.py KERNEL_OUT SHIM_OUT MIN_PASSES

Reads the suite's result lines ("[ok]: NAME (N ms)", "[err]: NAME in FILE",
"[exception]: ...", "[skip]: NAME", "[ignore]: NAME"; colours stripped).
Prints the counts of each run and every test that passed on the kernel but
not under the shim (failed at least once, or never run because the run
stopped).
Exit 1 if there is any such test, if the kernel run passed fewer than
MIN_PASSES tests (the reference itself did not run), or if a run did not
reach the suite's end ("All tests passed" or its list of failures)."""
import collections
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RESULT = re.compile(r"^\[(ok|err|exception|skip|ignore)\]: (.*)$")
MS = re.compile(r" \(\d+ ms\)$")
IN_FILE = re.compile(r" in tests/\S+\.tcl$")


def parse(path):
    results = collections.defaultdict(collections.Counter)
    finished = False
    with open(path, errors="replace") as f:
        for line in f:
            line = ANSI.sub("", line.rstrip("\r\n"))
            if line.startswith("\\o/ All tests passed") or \
                    line.startswith("!!! WARNING The following tests failed"):
                finished = True
            m = RESULT.match(line)
            if not m:
                continue
            kind, name = m.groups()
            name = IN_FILE.sub("", MS.sub("", name))
            results[kind][name] += 1
    return results, finished


def main():
    kpath, spath, minimum = sys.argv[1], sys.argv[2], int(sys.argv[3])
    kernel, kfin = parse(kpath)
    shim, sfin = parse(spath)
    bad = 0
    for label, res, fin in (("kernel", kernel, kfin), ("shim", shim, sfin)):
        counts = ", ".join("%s %d" % (k, sum(res[k].values()))
                           for k in ("ok", "err", "exception", "skip", "ignore"))
        print("   %s: %s%s" % (label, counts, "" if fin else " (did not finish)"))
        if not fin:
            bad = 1
    passed = sum(kernel["ok"].values())
    if passed < minimum:
        print("   the kernel run passed %d tests, fewer than %d: the reference did not run"
              % (passed, minimum))
        bad = 1
    # By name, not by count: some units repeat a test for a given time
    # (psync2-reg), so how often it ran says nothing.
    for name in sorted(kernel["ok"]):
        if shim["ok"][name] and not shim["err"][name] and not shim["exception"][name]:
            continue
        if shim["err"][name]:
            how = "failed"
        elif shim["exception"][name]:
            how = "exception"
        elif shim["skip"][name] or shim["ignore"][name]:
            how = "skipped"
        else:
            how = "not run"
        print("   passes on the kernel, %s under the shim: %s" % (how, name))
        bad = 1
    for kind in ("err", "exception"):
        for name in sorted(kernel[kind]):
            print("   (fails on the kernel too, so not compared: [%s] %s)" % (kind, name))
    return bad


if __name__ == "__main__":
    sys.exit(main())
