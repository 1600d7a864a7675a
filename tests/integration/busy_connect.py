#!/usr/bin/env python3
"""Times new connections to a redis-server while it runs DEBUG SLEEP.

Usage: busy_connect.py HOST PORT SLEEP_S COUNT
One connection sends DEBUG SLEEP SLEEP_S; while the server sleeps, COUNT
new connections are made one after another (0.1 s apart) and each
connect()'s time (the handshake: SYN out, SYN-ACK in) is printed in ms,
one a line; then the sleeping connection's +OK is awaited. Exit status 1
if the sleep did not answer +OK or the connects outlasted the sleep (the
figures would not be of a busy server)."""
import socket
import sys
import time

host, port, sleep_s, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
busy = socket.create_connection((host, port), timeout=10)
busy.sendall(b"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$%d\r\n%s\r\n" %
             (len(str(sleep_s)), str(sleep_s).encode()))
start = time.monotonic()
time.sleep(0.2)  # (the server is inside the command now)
conns = []
for _ in range(count):
    s = socket.socket()
    s.settimeout(5)
    t0 = time.perf_counter()
    s.connect((host, port))
    print("%.3f" % ((time.perf_counter() - t0) * 1000.0), flush=True)
    conns.append(s)
    time.sleep(0.1)
inside = time.monotonic() - start < sleep_s
reply = busy.recv(16)
for s in conns:
    s.close()
if reply != b"+OK\r\n":
    print("DEBUG SLEEP answered %r" % reply, file=sys.stderr)
    sys.exit(1)
if not inside:
    print("the connects outlasted the sleep", file=sys.stderr)
    sys.exit(1)
