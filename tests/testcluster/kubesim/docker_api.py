"""A small Docker Engine API client over the daemon's unix socket."""

import http.client
import json
import socket
import struct
import urllib.parse

API = "/v1.41"


class DockerError(Exception):
    def __init__(self, status, message):
        super().__init__(f"docker: {status}: {message}")
        self.status = status
        self.message = message


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=None):
        super().__init__("localhost", timeout=timeout)
        self.path_ = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout:
            s.settimeout(self.timeout)
        s.connect(self.path_)
        self.sock = s


class Docker:
    def __init__(self, host):
        if not host.startswith("unix://"):
            raise ValueError(f"DOCKER_HOST must be unix://<socket>, got {host!r}")
        self.sock_path = host[len("unix://"):]

    def conn(self, timeout=None):
        return _UnixConn(self.sock_path, timeout)

    def request(self, method, path, body=None, query=None, headers=None, timeout=120, raw=False):
        url = API + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        c = self.conn(timeout)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = body
            else:
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
        c.request(method, url, body=data, headers=hdrs)
        r = c.getresponse()
        if raw:
            return c, r
        out = r.read()
        c.close()
        if r.status >= 400:
            try:
                msg = json.loads(out).get("message", out.decode(errors="replace"))
            except ValueError:
                msg = out.decode(errors="replace")
            raise DockerError(r.status, msg)
        if out and (r.getheader("Content-Type") or "").startswith("application/json"):
            return json.loads(out)
        return out

    def image_exists(self, name):
        try:
            self.request("GET", f"/images/{urllib.parse.quote(name, safe='')}/json")
            return True
        except DockerError as e:
            if e.status == 404:
                return False
            raise

    def stream_json(self, method, path, body=None, query=None, headers=None, timeout=3600):
        """Yields the JSON messages of a progress stream (build, push, pull)."""
        c, r = self.request(method, path, body, query, headers, timeout, raw=True)
        try:
            if r.status >= 400:
                out = r.read()
                try:
                    msg = json.loads(out).get("message", "")
                except ValueError:
                    msg = out.decode(errors="replace")
                raise DockerError(r.status, msg)
            buf = b""
            while True:
                chunk = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
            if buf.strip():
                yield json.loads(buf)
        finally:
            c.close()

    def hijack(self, path, body):
        """POST with `Upgrade: tcp`; returns the raw socket after the 101 response."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path)
        data = json.dumps(body).encode()
        req = (f"POST {API}{path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n"
               f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            ch = s.recv(1)
            if not ch:
                raise DockerError(500, "connection closed during exec upgrade")
            head += ch
        status = int(head.split(b" ", 2)[1])
        if status not in (101, 200):
            rest = s.recv(65536)
            s.close()
            raise DockerError(status, (head + rest).decode(errors="replace"))
        return s


def demux(read):
    """Splits Docker's multiplexed stream (8-byte headers) into (stream, bytes)."""
    while True:
        hdr = _read_exact(read, 8)
        if not hdr:
            return
        stream, size = hdr[0], struct.unpack(">I", hdr[4:8])[0]
        data = _read_exact(read, size)
        if data is None:
            return
        yield stream, data


def _read_exact(read, n):
    buf = bytearray()
    while len(buf) < n:
        ch = read(n - len(buf))
        if not ch:
            return None if buf or n else b""
        buf += ch
    return bytes(buf)
