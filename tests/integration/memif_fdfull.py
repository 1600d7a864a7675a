#!/usr/bin/env python3
"""A memif server program that holds every descriptor under its limit
(t_memif_churn.sh), run under the shim.

Listens on TCP (the shim starts the memif server port), lowers its soft
RLIMIT_NOFILE to 64, connects the port's control socket as a client would
(the interrupt thread accepts it and registers its callback), fills every
number under the limit with /dev/null, then replaces the control socket
by one more /dev/null in the same number (dup2: no number comes free).
The interrupt thread sees the hangup and rebuilds its epoll set with no
number to make it in. argv: the memif socket path. Prints "alive" after
that and exits 0; the shim's fault was the program aborting instead.
"""
import os
import resource
import select
import socket
import sys
import time


def main():
    path = sys.argv[1]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 7781))
    srv.listen(8)
    select.select([srv], [], [], 0)  # (the port starts at the data path)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for _ in range(100):  # (the port's memif socket is there once it started)
        try:
            ctl.connect("\0" + path)
            break
        except OSError:
            time.sleep(0.05)
    else:
        print("could not connect the memif control socket")
        return 1
    time.sleep(0.5)
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    os.dup2(held[0], ctl.fileno())  # the control socket goes, its number stays taken
    time.sleep(1.5)
    print(f"alive, {len(held)} descriptors filled to the limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
