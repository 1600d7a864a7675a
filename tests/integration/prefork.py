# prefork.py PORT KIDS FILE - a server that listens, then forks KIDS
# children that accept on the inherited listener (blocking accept, as
# Python's socket does) and answer each request with FILE over HTTP/1.0,
# naming the child that served in X-Pid. The parent only waits.
import os
import socket
import sys

port, kids, blob = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], 'rb').read()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port))
s.listen(64)


def serve():
    while True:
        c, _ = s.accept()
        req = b''
        while b'\r\n\r\n' not in req:
            d = c.recv(4096)
            if not d:
                break
            req += d
        c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\nX-Pid: %d\r\n\r\n'
                  % (len(blob), os.getpid()) + blob)
        c.close()


for _ in range(kids):
    if os.fork() == 0:
        try:
            serve()
        finally:
            os._exit(1)
print('parent %d forked %d' % (os.getpid(), kids), flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
