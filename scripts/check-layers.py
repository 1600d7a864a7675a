#!/usr/bin/env python3
"""The tree's call directions, read from the built objects (nm).

  - no file of sockets/ calls a function defined in a file of sockets/
    that calls it, directly or through others (docs/DESIGN.md: netif,
    then sock, then epoll, then the wait engine; proc.c starts them and
    registers the callbacks);
  - dev/ and stack/ call nothing in sockets/ or preload/, and stack/
    nothing in dev/ (the device table is the way up).

Usage: scripts/check-layers.py [BUILD]   (default build). Exit 1 on a
breach, naming the files and the functions of each step.
"""
import glob
import os
import subprocess
import sys


def symbols(obj):
    """(functions defined, symbols used) of one object."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] == "T":
            defined.add(f[2])
        elif len(f) == 2 and f[0] == "U":
            used.add(f[1])
    return defined, used


def libc_names():
    """What libc exports: preload/ defines these to interpose them, and a
    call of one from below is a call of libc, not of preload/."""
    libc = subprocess.run(["gcc", "-print-file-name=libc.so.6"], capture_output=True,
                          text=True).stdout.strip()
    out = subprocess.run(["nm", "-D", "--defined-only", libc], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.split()}


def load(build, dirs):
    objs = {}
    for d in dirs:
        for o in sorted(glob.glob(os.path.join(build, "obj", d, "*.o"))):
            objs[d + "/" + os.path.basename(o)[:-2] + ".c"] = symbols(o)
    return objs


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    objs = load(build, ["sockets", "dev", "stack", "preload"])
    if not any(k.startswith("sockets/") for k in objs):
        print(f"check-layers: no objects in {build}/obj/sockets (build first)")
        return 1
    libc = libc_names()
    for k, (defined, used) in objs.items():
        objs[k] = (defined - libc, used)
    calls = {a: {b: sorted(objs[a][1] & objs[b][0]) for b in objs
                 if b != a and objs[a][1] & objs[b][0]} for a in objs}
    bad = 0

    # sockets/: no cycle (a depth-first walk; a back edge is one).
    socks = sorted(k for k in objs if k.startswith("sockets/"))
    state = {}

    def walk(a, path):
        nonlocal bad
        state[a] = 1
        for b in sorted(calls[a]):
            if not b.startswith("sockets/"):
                continue
            if state.get(b) == 1:
                loop = path[path.index(b):] + [a, b] if b in path else [a, b]
                steps = ", ".join(f"{x} -> {y} ({' '.join(calls[x][y][:3])})"
                                  for x, y in zip(loop, loop[1:]))
                print(f"check-layers: sockets/ calls in a circle: {steps}")
                bad += 1
            elif b not in state:
                walk(b, path + [a])
        state[a] = 2

    for a in socks:
        if a not in state:
            walk(a, [])

    # Lower layers never call up.
    up = {"dev/": ("sockets/", "preload/"), "stack/": ("sockets/", "preload/", "dev/")}
    for a in sorted(objs):
        for low, above in up.items():
            if not a.startswith(low):
                continue
            for b, fns in sorted(calls[a].items()):
                if b.startswith(above):
                    print(f"check-layers: {a} calls up into {b}: {' '.join(fns[:3])}")
                    bad += 1
    if not bad:
        print(f"check-layers: {len(socks)} files of sockets/ in one direction; "
              "dev/ and stack/ call nothing above them")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
