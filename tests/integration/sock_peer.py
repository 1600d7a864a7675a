#!/usr/bin/env python3
"""The Linux peer of the differential socket test (tests/progs/sockdiff.c).

Listens on 0.0.0.0 (kernel TCP) with one behaviour per port:
  7001 echo until EOF, then close
  7002 send "hello\\n", then close
  7003 reset (SO_LINGER 0 and close) as soon as anything arrives
  7004 accept and never read (the client's send buffer fills)
  7005 control: a line "CONNECT <port>" makes the peer connect back to the
       client's address on that port, send "hi" and close; it answers "OK\\n"
Port 7009 has no listener (connection refused).
"""
import socket
import struct
import sys
import threading


def serve(port, handler):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=handler, args=(conn, addr), daemon=True).start()


def echo(conn, addr):
    with conn:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def hello(conn, addr):
    with conn:
        conn.sendall(b"hello\n")


def reset(conn, addr):
    conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def silent(conn, addr):
    with conn:
        while conn.recv(1, socket.MSG_PEEK):  # returns when the client closes
            threading.Event().wait(0.05)


def control(conn, addr):
    with conn:
        f = conn.makefile("rb")
        for line in f:
            words = line.split()
            if len(words) == 2 and words[0] == b"CONNECT":
                back = socket.create_connection((addr[0], int(words[1])), timeout=10)
                back.sendall(b"hi")
                back.close()
                conn.sendall(b"OK\n")


def main():
    for port, handler in ((7001, echo), (7002, hello), (7003, reset),
                          (7004, silent), (7005, control)):
        threading.Thread(target=serve, args=(port, handler), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
