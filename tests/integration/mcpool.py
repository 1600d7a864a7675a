#!/usr/bin/env python3
"""mcpool.py - memcached text-protocol checks for t_memcached_pool.sh.

  fill PROXY N               sets pool:0 .. pool:N-1 through the proxy
  where NODE...              for each key, the node that holds it (direct
                             gets): prints "key node" lines
  check PROXY FILE SKIP      every key of FILE ("key node") not on node
                             SKIP reads back its value through the proxy
  serve PROXY N              N new keys set and read back through the
                             proxy (retrying while it ejects a node)
"""
import socket
import sys
import time


class Mc:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=3)
        self.f = self.s.makefile("rb")

    def set(self, key, val):
        self.s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(val), val.encode()))
        return self.f.readline().strip() == b"STORED"

    def get(self, key):
        self.s.sendall(b"get %s\r\n" % key.encode())
        line = self.f.readline()
        if line.startswith(b"VALUE"):
            n = int(line.split()[3])
            val = self.f.read(n + 2)[:-2].decode()
            self.f.readline()  # END
            return val
        if not line.startswith(b"END"):
            raise RuntimeError(line.decode(errors="replace").strip())
        return None


def val(key):
    return "v-" + key * 3


def main():
    cmd = sys.argv[1]
    if cmd == "fill":
        mc = Mc(sys.argv[2])
        n = int(sys.argv[3])
        bad = sum(not mc.set("pool:%d" % i, val("pool:%d" % i)) for i in range(n))
        print("fill: %d keys, %d not stored" % (n, bad))
        return 1 if bad else 0
    if cmd == "where":
        nodes = [Mc(a) for a in sys.argv[3:]]
        for i in range(int(sys.argv[2])):
            key = "pool:%d" % i
            held = [a for a, m in zip(sys.argv[3:], nodes) if m.get(key) == val(key)]
            print(key, held[0] if len(held) == 1 else "none")
        return 0
    if cmd == "check":
        mc = Mc(sys.argv[2])
        n = lost = 0
        for line in open(sys.argv[3]):
            key, node = line.split()
            if node == sys.argv[4]:
                continue
            n += 1
            if mc.get(key) != val(key):
                lost += 1
        print("check: %d keys of the other nodes, %d lost" % (n, lost))
        return 1 if lost or n == 0 else 0
    if cmd == "serve":
        n = int(sys.argv[3])
        ok = errors = 0
        end = time.time() + 30
        i = 0
        mc = Mc(sys.argv[2])
        while ok < n and time.time() < end:
            key = "after:%d" % i
            i += 1
            try:
                if mc.set(key, val(key)) and mc.get(key) == val(key):
                    ok += 1
                    continue
            except (OSError, RuntimeError):
                mc = Mc(sys.argv[2])
            errors += 1
            time.sleep(0.05)
        print("serve: %d keys set and read back, %d errors on the way" % (ok, errors))
        return 0 if ok == n else 1
    sys.exit("usage: mcpool.py fill|where|check|serve ...")


if __name__ == "__main__":
    sys.exit(main())
