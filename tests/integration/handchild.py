# handchild.py PORT OUT - a server that accepts a connection itself, then
# forks a child to serve it (the accept-then-fork shape), as a Python
# forking server does. The child reads the request: under the shim a
# connection accepted through the port lives in the parent's stack, so
# the child's I/O on it fails with EBADF (README, limits); on the kernel
# the child serves it. The child writes "served" or "errno N" to OUT.
import errno
import os
import socket
import sys

port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port))
s.listen(8)
print('listening', flush=True)
c, _ = s.accept()
pid = os.fork()
if pid == 0:
    try:
        c.recv(100)
        c.sendall(b'hello from the child\n')
        res = 'served'
    except OSError as e:
        res = 'errno %d %s' % (e.errno, errno.errorcode.get(e.errno, '?'))
    with open(out, 'w') as f:
        f.write(res + '\n')
    os._exit(0)
c.close()
os.waitpid(pid, 0)
