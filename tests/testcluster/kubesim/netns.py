"""Connecting to a port inside a pod: pods have only loopback networking
(dockerd runs with --bridge=none), so the kubelet dials 127.0.0.1:<port> from
inside the pod's network namespace (setns in a short-lived thread; the socket
keeps the namespace it was created in)."""

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def listen_in_netns(pid, port):
    """A listening socket on 0.0.0.0:<port> inside the pod's network namespace."""
    return _in_netns(pid, lambda: _listener(port), 10)


def _listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    return s


def connect_in_netns(pid, port, timeout=10):
    def dial():
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.settimeout(None)
        return s
    return _in_netns(pid, dial, timeout)


def _in_netns(pid, make, timeout):
    result = {}

    def run():
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns: {os.strerror(e)}")
            finally:
                os.close(fd)
            result["sock"] = make()
        except OSError as e:
            result["err"] = e
    # The thread ends inside the pod's namespace; it is never reused.
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout + 5)
    if "sock" in result:
        return result["sock"]
    raise result.get("err") or OSError("timeout connecting inside the pod")
