#!/usr/bin/env python3
"""mc_extstore.py PORT COUNT SIZE [HOST]: sets COUNT values of SIZE bytes
(each its own bytes, from its key) in memcached on HOST:PORT (default
127.0.0.1), then gets
every one back and compares. Prints 'ok N' or the first wrong key; exit 1
on any difference or miss."""
import hashlib
import socket
import sys
import time


def value(i, size):
    seed = hashlib.sha256(b"k%d" % i).digest()
    return (seed * (size // len(seed) + 1))[:size]


def recv_until(sock, buf, end):
    while end not in buf:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed")
        buf += chunk
    i = buf.index(end) + len(end)
    return buf[:i], buf[i:]


def main():
    port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    host = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    s = socket.create_connection((host, port), timeout=30)
    buf = b""
    for i in range(count):
        # one at a time: extstore's writer must keep up with memory
        s.sendall(b"set k%d 0 0 %d\r\n%s\r\n" % (i, size, value(i, size)))
        head, buf = recv_until(s, buf, b"\r\n")
        if head != b"STORED\r\n":
            print("set k%d: %r" % (i, head))
            return 1
        # Paced: memcached evicts items its extstore writer has not
        # written yet when sets outrun it (its choice, not a storage
        # fault), which a busy 2-core machine makes likely.
        if i % 64 == 63:
            time.sleep(0.02)
    for i in range(count):
        s.sendall(b"get k%d\r\n" % i)
        head, buf = recv_until(s, buf, b"\r\n")
        if head == b"END\r\n":
            print("miss k%d" % i)
            s.sendall(b"stats\r\n")
            stats, buf = recv_until(s, buf, b"END\r\n")
            print(" ".join(l for l in stats.decode().split("\r\n")
                           if "ext" in l or "evict" in l))
            return 1
        n = int(head.split()[3])
        while len(buf) < n + 7:
            buf += s.recv(1 << 20)
        data, buf = buf[:n], buf[n + 2:]
        _, buf = recv_until(s, buf, b"END\r\n")
        if data != value(i, size):
            print("wrong k%d" % i)
            return 1
    s.sendall(b"stats\r\n")
    stats, buf = recv_until(s, buf, b"END\r\n")
    for line in stats.decode().split("\r\n"):
        if line.startswith("STAT extstore_objects_read") or \
           line.startswith("STAT get_extstore") or \
           line.startswith("STAT extstore_objects_written"):
            print(line)
    print("ok %d" % count)
    return 0


sys.exit(main())
