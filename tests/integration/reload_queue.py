# reload_queue.py PORT DIR - nginx -s reload in slow motion, as steps the
# test drives through files in DIR. The parent listens and forks child A,
# which starts its port (a select on the listener) and writes DIR/a.up,
# then never accepts: a client's connection stays in its accept queue.
# On DIR/fork-b the parent forks child B, which starts its own port and
# listens there (a select), writes DIR/b.up and accepts, answering each
# request "B <pid>: <request>". On DIR/close-a, A closes the listener
# (the old worker of a reload) and lives on for a while, as an old nginx
# worker drains its connections, until DIR/stop. On Linux the children share one
# listening socket, so the connection A never accepted is B's to accept.
import os
import select
import signal
import socket
import sys
import time

port, d = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', port))
s.listen(64)


def wait_for(name):
    while not os.path.exists(os.path.join(d, name)):
        time.sleep(0.05)


def touch(name):
    open(os.path.join(d, name), 'w').close()


def child_a():
    select.select([s], [], [], 0)  # (the port starts; the listener listens there)
    touch('a.up')
    wait_for('close-a')
    s.close()
    touch('a.closed')
    wait_for('stop')


def child_b():
    select.select([s], [], [], 0)
    touch('b.up')
    while not os.path.exists(os.path.join(d, 'stop')):
        if not select.select([s], [], [], 0.1)[0]:
            continue
        c, _ = s.accept()
        req = c.recv(4096)
        c.sendall(b'B %d: %s' % (os.getpid(), req))
        c.close()


def leave(*_):
    sys.exit(0)


# (the children leave by exit, at DIR/stop or on SIGTERM: the shim's exit
#  line counts the connections each moved)
for kid, wait in ((child_a, None), (child_b, 'fork-b')):
    if wait:
        wait_for(wait)
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, leave)
        kid()
        sys.exit(0)
print('parent %d forked A and B' % os.getpid(), flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
