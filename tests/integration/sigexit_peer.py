#!/usr/bin/env python3
"""sigexit_peer.py - both ends of t_sigexit.sh.

  server ADDR PORT MODE READYFILE
      accepts 2 connections and serves the first (echo) in a select loop,
      never reading the second. MODE plain: leaves SIGTERM at SIG_DFL;
      handler: its own SIGTERM handler, after which it keeps both open for
      0.5 s, says "bye" on the first, closes them and exits 3.
  client ADDR PORT PID SIGNAL
      opens the 2 connections, sends a line on each (the server echoes the
      first, leaves the second unread), sends SIGNAL to PID, and prints
      for each connection how it ended (eof, rst, or data then eof) and
      whether within 1 s: one line each, comparable between runs.
"""
import os
import select
import signal
import socket
import sys
import time


def server(addr, port, mode, ready):
    stop = []
    if mode == "handler":
        signal.signal(signal.SIGTERM, lambda s, f: stop.append(time.monotonic()))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    open(ready, "w").close()
    c0, _ = ls.accept()
    c1, _ = ls.accept()
    while True:
        if stop and time.monotonic() - stop[0] > 0.5:
            c0.sendall(b"bye\n")
            c0.close()
            c1.close()
            sys.exit(3)
        r, _, _ = select.select([c0], [], [], 0.05)
        if r:
            data = c0.recv(4096)
            if not data:
                return
            c0.sendall(data)


def ending(s, t0):
    """How s ends: its bytes, then eof or rst, and when."""
    got = b""
    s.settimeout(5)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                how = "eof"
                break
            got += d
    except ConnectionResetError:
        how = "rst"
    except socket.timeout:
        how = "open"
    dt = time.monotonic() - t0
    return got, how, dt


def client(addr, port, pid, sig):
    c0 = socket.create_connection((addr, port), timeout=5)
    c1 = socket.create_connection((addr, port), timeout=5)
    c0.sendall(b"hello\n")
    c0.settimeout(5)
    assert c0.recv(100) == b"hello\n", "no echo"
    c1.sendall(b"left unread\n")
    time.sleep(0.2)  # (the server's stack has it)
    t0 = time.monotonic()
    os.kill(pid, getattr(signal, sig))
    handler = sig == "SIGTERM" and os.environ.get("MODE") == "handler"
    if handler:
        # its connections stay open until it closes them (0.5 s)
        r, _, _ = select.select([c0, c1], [], [], 0.4)
        print("open while its handler runs:", "yes" if not r else "no")
    for name, s in (("first", c0), ("unread", c1)):
        got, how, dt = ending(s, t0)
        print(f"{name}: {got.decode().strip() or '-'} then {how}, "
              f"{'within 1 s' if dt < 1.0 else 'late'}")
        print(f"{name}: {dt * 1000:.0f} ms", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
