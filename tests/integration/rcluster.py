#!/usr/bin/env python3
"""rcluster.py - a small Redis Cluster client for t_redis_cluster.sh.

  write HOST:PORT SECONDS OUT   SET k v then WAIT 1 on the key's master,
                                again and again; a key goes to OUT when
                                WAIT said a replica has it (acknowledged).
                                Errors (a master killed, a failover) make
                                it read the slot map again and go on.
  check HOST:PORT FILE          every key in FILE reads back its value.
  latency HOST:PORT HOST:PORT N PUBLISH on the first node, received by a
                                subscriber on the second (a cluster-bus
                                message between them): prints the median
                                in microseconds.
  steady HOST:PORT SECONDS      PING on one connection every 20 ms for
                                SECONDS: prints the replies and the
                                longest gap between two in ms; fails if
                                the connection fails.
"""
import socket
import sys
import time


def crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key):
    return crc16(key.encode()) % 16384


class Conn:
    def __init__(self, addr, timeout=2.0):
        host, port = addr.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def reply(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode()
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.reply()

    def close(self):
        self.s.close()


class Cluster:
    def __init__(self, seed):
        self.seeds = [seed]
        self.conns = {}
        self.map = []
        self.refresh()

    def refresh(self):
        for addr in list(self.seeds):
            try:
                c = Conn(addr)
                slots = c.call("CLUSTER", "SLOTS")
                c.close()
            except (OSError, RuntimeError, ConnectionError):
                continue
            self.map = [(s[0], s[1], "%s:%d" % (s[2][0], s[2][1])) for s in slots]
            self.seeds = [m[2] for m in self.map] + [addr]
            return True
        return False

    def master(self, key):
        k = slot(key)
        for lo, hi, addr in self.map:
            if lo <= k <= hi:
                return addr
        return None

    def conn(self, addr):
        if addr not in self.conns:
            self.conns[addr] = Conn(addr)
        return self.conns[addr]

    def drop(self, addr):
        c = self.conns.pop(addr, None)
        if c:
            c.close()


def write(seed, seconds, out):
    cl = Cluster(seed)
    end = time.time() + float(seconds)
    i = acked = errors = 0
    with open(out, "w") as f:
        while time.time() < end:
            key, val = "key:%d" % i, "val:%d" % i
            addr = cl.master(key)
            try:
                c = cl.conn(addr)
                if c.call("SET", key, val) == "OK" and c.call("WAIT", 1, 1000) >= 1:
                    f.write("%s %s\n" % (key, val))
                    acked += 1
                i += 1
            except (OSError, RuntimeError, ConnectionError):
                errors += 1
                cl.drop(addr)
                time.sleep(0.1)
                cl.refresh()
    print("write: %d keys acknowledged, %d sent, %d errors" % (acked, i, errors))


def check(seed, path):
    cl = Cluster(seed)
    bad = n = 0
    for line in open(path):
        key, val = line.split()
        n += 1
        for _ in range(20):
            addr = cl.master(key)
            try:
                got = cl.conn(addr).call("GET", key)
                break
            except (OSError, RuntimeError, ConnectionError):
                cl.drop(addr)
                time.sleep(0.2)
                cl.refresh()
        else:
            got = None
        if got != val:
            bad += 1
            if bad <= 5:
                print("check: %s = %r, expected %s" % (key, got, val))
    print("check: %d keys, %d lost" % (n, bad))
    return 1 if bad or n == 0 else 0


def latency(pub_addr, sub_addr, n):
    sub = Conn(sub_addr, timeout=5)
    sub.call("SUBSCRIBE", "lat")
    pub = Conn(pub_addr, timeout=5)
    times = []
    for i in range(int(n)):
        t0 = time.perf_counter()
        pub.call("PUBLISH", "lat", "m%d" % i)
        msg = sub.reply()
        times.append(time.perf_counter() - t0)
        assert msg == ["message", "lat", "m%d" % i], msg
    times.sort()
    q = lambda f: int(times[int(len(times) * f)] * 1e6)
    print(q(0.5), q(0.1), q(0.9))


def steady(addr, secs):
    c = Conn(addr, timeout=60)
    end = time.monotonic() + float(secs)
    last = time.monotonic()
    n, gap = 0, 0.0
    while time.monotonic() < end:
        assert c.call("PING") == "PONG"
        now = time.monotonic()
        gap = max(gap, now - last)
        last = now
        n += 1
        time.sleep(0.02)
    print(n, int(gap * 1000))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "write":
        write(*sys.argv[2:5])
    elif cmd == "check":
        sys.exit(check(*sys.argv[2:4]))
    elif cmd == "latency":
        latency(*sys.argv[2:5])
    elif cmd == "steady":
        steady(*sys.argv[2:4])
    else:
        sys.exit("usage: rcluster.py write|check|latency|steady ...")
