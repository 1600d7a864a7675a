#!/usr/bin/env python3
"""memif clients that leave while they connect (t_memif_churn.sh).

Connects the memif server's control socket (DPDK 22.11's is abstract: the
path given, behind a NUL) and closes it at once, before the server's
interrupt thread has accepted it and sent its hello, which then fails with
EPIPE. argv: socket path, count. Prints how many connected.
"""
import socket
import sys
import time


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    done = 0
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect("\0" + path)
            done += 1
        except OSError:
            pass  # (the backlog of 1 is full: the server is busy)
        s.close()
        time.sleep(0.005)
    print(f"{done} of {count} control-socket clients connected and left at once")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
