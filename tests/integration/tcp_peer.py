#!/usr/bin/env python3
"""The Linux side of the TCP interop tests: the kernel's own TCP sending or
receiving a stream and printing its SHA-256.

  tcp_peer.py client-send HOST PORT BYTES   connect, send BYTES, close
  tcp_peer.py client-recv HOST PORT         connect, read to EOF
  tcp_peer.py server-recv PORT              accept one, read to EOF
  tcp_peer.py server-send PORT BYTES        accept one, send BYTES, close

Prints "bytes N sha256 HEX seconds S" on success; exits 1 on error or after
the --timeout (default 120 s) without progress.
"""
import hashlib
import os
import socket
import sys
import time

TIMEOUT = float(os.environ.get("PEER_TIMEOUT", "120"))
CHUNK = 1 << 20


def stream(n):
    """n bytes of a pseudo-random stream, in chunks."""
    block = os.urandom(CHUNK)
    sent = 0
    while sent < n:
        part = block[: min(CHUNK, n - sent)]
        block = block[1:] + block[:1]  # vary the chunks cheaply
        sent += len(part)
        yield part


def send_all(sock, n):
    h = hashlib.sha256()
    for part in stream(n):
        sock.sendall(part)
        h.update(part)
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)  # wait for the peer's close
    return n, h.hexdigest()


def recv_all(sock):
    h = hashlib.sha256()
    total = 0
    while True:
        data = sock.recv(CHUNK)
        if not data:
            return total, h.hexdigest()
        h.update(data)
        total += len(data)


def accept_one(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    srv.settimeout(TIMEOUT)
    print("ready", flush=True)
    conn, _ = srv.accept()
    return conn


def main(argv):
    mode = argv[1]
    if mode.startswith("client"):
        sock = socket.create_connection((argv[2], int(argv[3])), timeout=TIMEOUT)
    else:
        sock = accept_one(int(argv[2]))
    start = time.time()  # the transfer, not the wait for the peer to start
    sock.settimeout(TIMEOUT)
    if mode == "client-send":
        n, digest = send_all(sock, int(argv[4]))
    elif mode == "server-send":
        n, digest = send_all(sock, int(argv[3]))
    else:
        n, digest = recv_all(sock)
    print("bytes %d sha256 %s seconds %.2f" % (n, digest, time.time() - start), flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except (OSError, socket.timeout) as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
