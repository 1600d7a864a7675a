# prefork.py PORT KIDS FILE - a server that listens, then forks KIDS
# children that accept on the inherited listener and answer each request
# with FILE over HTTP/1.0, naming the child that served in X-Pid. The
# first child and every other one after it accept at once (a blocking
# accept), the others wait in select first. The parent only waits.
import os
import select
import socket
import sys

port, kids, blob = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], 'rb').read()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port))
s.listen(64)


def serve(selects):
    while True:
        if selects:
            select.select([s], [], [])
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


for k in range(kids):
    if os.fork() == 0:
        try:
            serve(k % 2 == 1)
        finally:
            os._exit(1)
print('parent %d forked %d' % (os.getpid(), kids), flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
