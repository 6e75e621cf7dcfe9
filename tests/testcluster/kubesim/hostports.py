"""hostPort: the node's 127.0.0.1:<hostPort> forwards to the pod's port, as the
CNI portmap plugin does (pods have only loopback networking here, so each
connection is dialled inside the pod's network namespace)."""

import socket
import threading

from .netns import connect_in_netns


def pipe_both(c, up):
    """Copies both directions until each side has finished, then closes both."""
    def pipe(a, b):
        try:
            while True:
                d = a.recv(1 << 16)
                if not d:
                    break
                b.sendall(d)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    t = threading.Thread(target=pipe, args=(c, up), daemon=True)
    t.start()
    pipe(up, c)
    t.join(30)
    c.close()
    up.close()


class UnixForwarder:
    """Accepts on a socket (inside a pod) and forwards each connection to a unix
    socket path, or to a (host, port) TCP address."""

    def __init__(self, listener, target):
        self.sock, self.path, self.closed = listener, target, False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        up = socket.socket(socket.AF_UNIX if isinstance(self.path, str) else socket.AF_INET, socket.SOCK_STREAM)
        try:
            up.connect(self.path)
        except OSError:
            c.close()
            return
        pipe_both(c, up)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


TcpForwarder = UnixForwarder


class HostPort:
    def __init__(self, host_port, pid, container_port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", host_port))   # OSError when taken: the caller reports it
        self.sock.listen(64)
        self.pid, self.port = pid, container_port
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"hostport-{host_port}").start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            up = connect_in_netns(self.pid, self.port)
        except OSError:
            c.close()
            return
        pipe_both(c, up)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
