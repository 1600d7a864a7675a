#!/usr/bin/env python3
"""guestctl.py - the host's end of the test guest's channels.

  guestctl.py run SOCK TIMEOUT [sh]  runs the script on stdin in the guest
      (the host root by default, "sh" = the guest's busybox root), copies
      its output (stdout and stderr) to stdout, exits with its status
      (137: the guest killed it after TIMEOUT seconds), or 124 when the
      guest did not answer.
  guestctl.py mon SOCK COMMAND...     one QEMU human monitor command; prints
      the monitor's answer.
"""
import base64
import re
import socket
import sys
import time


def connect(path, timeout):
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def run(path, timeout, kind):
    script = sys.stdin.buffer.read()
    s = connect(path, 10)
    # the guest kills the script after timeout s; this end waits 15 s more
    # for its answer
    s.sendall(b"%s %d %s\n" % (kind, max(1, int(timeout)), base64.b64encode(script)))
    end = time.monotonic() + timeout + 15
    buf = b""
    marker = re.compile(rb"\x1eGRC=(\d+)\x1e\n?")
    out = sys.stdout.buffer
    while True:
        left = end - time.monotonic()
        if left <= 0:
            out.write(buf)
            out.flush()
            sys.stderr.write("guestctl: no answer in %d s\n" % timeout)
            return 124
        s.settimeout(min(left, 1.0))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            out.write(buf)
            sys.stderr.write("guestctl: guest closed the channel\n")
            return 125
        buf += chunk
        m = marker.search(buf)
        if m:
            out.write(buf[:m.start()])
            out.flush()
            return int(m.group(1))
        # keep what could be the start of a marker
        keep = buf.rfind(b"\x1e")
        if keep < 0:
            out.write(buf)
            buf = b""
        elif keep > 0:
            out.write(buf[:keep])
            buf = buf[keep:]
        out.flush()


def mon(path, cmd):
    s = connect(path, 10)
    s.settimeout(30)
    buf = b""

    def until_prompt():
        nonlocal buf
        while b"(qemu) " not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, rest = buf.partition(b"(qemu) ")
        buf = rest
        return head

    until_prompt()
    s.sendall(cmd.encode() + b"\n")
    try:
        ans = until_prompt()
    except socket.timeout:
        ans = buf
    # the monitor echoes the command line (with terminal escapes) first
    lines = ans.decode(errors="replace").replace("\r", "").split("\n")
    sys.stdout.write("\n".join(l for l in lines[1:] if l.strip()) + "\n")
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        kind = b"SH" if len(sys.argv) > 4 and sys.argv[4] == "sh" else b"CMD"
        return run(sys.argv[2], float(sys.argv[3]), kind)
    if len(sys.argv) >= 4 and sys.argv[1] == "mon":
        return mon(sys.argv[2], " ".join(sys.argv[3:]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
