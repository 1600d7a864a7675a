#!/usr/bin/env python3
"""Writes the demo's results.json and results.png from compare.sh's raw files.

usage: results.py OUT QUICK SECS REPS SPIN RATE WORKLOAD...

For each workload W and path P (kernel, bypass, tuned) compare.sh leaves
OUT/m.W.P, one line per repetition "rps p99_us server_user_us_per_request",
OUT/c2c.W.P (the cores' distance before each repetition, ns) and
OUT/desc.W (the workload's full name); with RATE > 0, OUT/fixed.P.json
holds accel-load's JSON of the fixed-load run.  The chart shows, per
workload, the bypass/kernel ratio, both throughputs and both p99s, each
bar the median of the repetitions with their min-max spread.
"""
import json
import os
import subprocess
import sys

PATHS = ("kernel", "bypass", "tuned")


def median(v):
    # compare.sh's median: the lower middle one of an even count
    s = sorted(v)
    return s[(len(s) + 1) // 2 - 1] if s else 0


def read_rows(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    rows.append([float(x) for x in parts[:3]])
    return rows


def read_floats(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [float(x) for x in f.read().split()]


def stats(v):
    return {"median": median(v), "min": min(v) if v else 0, "max": max(v) if v else 0,
            "runs": v}


def workload(out, w):
    with open(os.path.join(out, "desc." + w)) as f:
        desc = f.read().strip()
    r = {"name": w, "description": desc}
    per = {}
    for p in PATHS:
        rows = read_rows(os.path.join(out, "m.%s.%s" % (w, p)))
        if not rows:
            continue
        per[p] = {
            "rps": stats([x[0] for x in rows]),
            "p99_us": stats([x[1] for x in rows]),
            "user_us": median([x[2] for x in rows]),
            "c2c_ns": median(read_floats(os.path.join(out, "c2c.%s.%s" % (w, p)))),
        }
    k, b = per.get("kernel"), per.get("bypass")
    kr = k["rps"]["median"] if k else 0
    br = b["rps"]["median"] if b else 0
    r["kernel_rps"] = kr
    r["bypass_rps"] = br
    r["ratio"] = round(br / kr, 3) if kr else 0
    # the spread of the ratio: the slowest bypass over the fastest kernel
    # run, and the other way round
    r["ratio_min"] = round(b["rps"]["min"] / k["rps"]["max"], 3) if kr and k["rps"]["max"] else 0
    r["ratio_max"] = round(b["rps"]["max"] / k["rps"]["min"], 3) if kr and k["rps"]["min"] else 0
    t = per.get("tuned")
    r["tuned_rps"] = t["rps"]["median"] if t else None
    # the default's share of the tuned figure: the median of each
    # repetition's own ratio (its default run over its tuned run, taken a
    # few seconds apart, compare.sh), with the lowest and highest
    pairs = []
    if t and b:
        pairs = sorted(x / y if y else 0 for x, y in zip(b["rps"]["runs"], t["rps"]["runs"]))
    r["default_of_tuned"] = round(median(pairs), 3) if pairs else None
    r["default_of_tuned_min"] = round(pairs[0], 3) if pairs else None
    r["default_of_tuned_max"] = round(pairs[-1], 3) if pairs else None
    r["kernel_p99_us"] = k["p99_us"]["median"] if k else 0
    r["bypass_p99_us"] = b["p99_us"]["median"] if b else 0
    ku = k["user_us"] if k else 0
    r["kernel_server_user_us_per_request"] = ku
    r["ceiling_rps"] = round(1e6 / ku) if ku > 0 else 0
    r["kernel_c2c_ns"] = k["c2c_ns"] if k else 0
    r["bypass_c2c_ns"] = b["c2c_ns"] if b else 0
    r["runs"] = {p: {"rps": v["rps"], "p99_us": v["p99_us"]} for p, v in per.items()}
    return r



def side_by_side(dat, title, ylabel, ytop, fmt, col):
    """A gnuplot panel of kernel and bypass boxes with error bars: the
    kernel's median, low and high in columns col..col+2, the bypass's in
    the next three."""
    return """set title "{t}"
set ylabel "{y}"
set yrange [0:{top}]
set format y "{f}"
plot "{d}" using ($1-0.18):{k}:xtic(2) with boxes lc rgb "#999999" title "kernel", \\
     "" using ($1-0.18):{k}:{k1}:{k2} with yerrorbars lc rgb "black" pt 0 ps 0 notitle, \\
     "" using ($1+0.18):{b} with boxes lc rgb "#2060b0" title "bypass", \\
     "" using ($1+0.18):{b}:{b1}:{b2} with yerrorbars lc rgb "black" pt 0 ps 0 notitle
""".format(t=title, y=ylabel, top=ytop, f=fmt, d=dat, k=col, k1=col + 1, k2=col + 2,
           b=col + 3, b1=col + 4, b2=col + 5)


def chart(out, res):
    ws = res["workloads"]
    dat = os.path.join(out, "results.chart.dat")
    with open(dat, "w") as f:
        f.write("# i name ratio rmin rmax k kmin kmax b bmin bmax kp99 kp99min kp99max"
                " bp99 bp99min bp99max\n")
        for i, w in enumerate(ws):
            k = w["runs"].get("kernel", {"rps": stats([]), "p99_us": stats([])})
            b = w["runs"].get("bypass", {"rps": stats([]), "p99_us": stats([])})
            name = w["description"].replace('"', "'")
            f.write('%d "%s" %g %g %g %g %g %g %g %g %g %g %g %g %g %g %g\n' % (
                i, name, w["ratio"], w["ratio_min"], w["ratio_max"],
                k["rps"]["median"], k["rps"]["min"], k["rps"]["max"],
                b["rps"]["median"], b["rps"]["min"], b["rps"]["max"],
                k["p99_us"]["median"], k["p99_us"]["min"], k["p99_us"]["max"],
                b["p99_us"]["median"], b["p99_us"]["min"], b["p99_us"]["max"]))
    n = len(ws)

    def top(key, paths):
        # the y range to the highest bar's spread, which autoscale leaves out
        v = [w[key] for w in ws] if not paths else \
            [w["runs"][p][key]["max"] for w in ws for p in paths if p in w["runs"]]
        return max(v + [0]) * 1.15 or 1

    ytop = (max([w["ratio_max"] for w in ws] + [0]) * 1.15 or 1,
            top("rps", ("kernel", "bypass")), top("p99_us", ("kernel", "bypass")))
    reps = res["repetitions"]
    spread = "median of %d runs of %g s, bars min-max" % (reps, res["seconds"]) if reps > 1 \
        else "one run of %g s" % res["seconds"]
    script = """
set terminal pngcairo size 1400,1300 noenhanced font ",10"
set output "{png}"
set multiplot layout 3,1 title "libaccel: kernel (loopback) vs bypass (net_memif), shim defaults ({spread})"
set style fill solid 0.7 border -1
set boxwidth 0.35
set grid ytics
set xrange [-0.6:{n}-0.4]
set xtics rotate by -12 scale 0
set key outside right top vertical
set bmargin 5
set title "bypass / kernel throughput"
set ylabel "ratio"
set yrange [0:{y0}]
plot "{dat}" using 1:3:xtic(2) with boxes lc rgb "#3b7d3b" title "ratio", \\
     "" using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 ps 0 notitle, \\
     "" using 1:3:(sprintf("%.2fx", $3)) with labels offset 0,0.8 notitle
{panels}unset multiplot
""".format(png=os.path.join(out, "results.png"), dat=dat, n=n, spread=spread, y0=ytop[0],
           panels=side_by_side(dat, "requests per second", "requests/s", ytop[1], "%.0s%c", 6)
           + side_by_side(dat, "p99 latency (accel-load workloads; memaslap and redis-benchmark"
                          " report none)", "p99, us", ytop[2], "%g", 12))
    try:
        p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    except OSError as e:
        return "gnuplot: %s" % e
    return p.stderr.strip() if p.returncode else None


def main():
    out, quick, secs, reps, spin, rate = sys.argv[1:7]
    res = {"quick": int(quick), "seconds": float(secs), "repetitions": int(reps),
           "tuned_spin_us": int(spin),
           "workloads": [workload(out, w) for w in sys.argv[7:]]}
    if int(rate) > 0:
        fixed = {"rate": int(rate)}
        for p in ("kernel", "bypass"):
            try:
                with open(os.path.join(out, "fixed.%s.json" % p)) as f:
                    fixed[p] = json.load(f)
            except (OSError, ValueError):
                fixed[p] = None  # that run failed: compare.sh says so
        res["fixed_load"] = fixed
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    err = chart(out, res)
    if err:
        print("   (no chart: gnuplot failed: %s)" % err.splitlines()[-1], file=sys.stderr)


if __name__ == "__main__":
    main()
