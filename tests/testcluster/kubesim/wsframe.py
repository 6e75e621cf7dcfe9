"""Server side of RFC 6455 framing (what exec needs: binary frames, masking,
fragmentation, ping/pong, close)."""

import base64
import hashlib
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def unmask(data, mask):
    n = len(data)
    if n == 0:
        return data
    m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ m).to_bytes(n, "big")


class Closed(Exception):
    pass


class Conn:
    def __init__(self, rfile, wfile, lock):
        self.rfile = rfile
        self.wfile = wfile
        self.wlock = lock

    def _read(self, n):
        try:
            buf = self.rfile.read(n)
        except ValueError:   # the connection was closed under us
            raise Closed()
        if buf is None or len(buf) < n:
            raise Closed()
        return buf

    def recv(self):
        """Returns (opcode, payload) of the next complete message."""
        parts = []
        first_op = None
        while True:
            b0, b1 = self._read(2)
            fin, op = b0 & 0x80, b0 & 0x0F
            masked, ln = b1 & 0x80, b1 & 0x7F
            if ln == 126:
                ln = struct.unpack(">H", self._read(2))[0]
            elif ln == 127:
                ln = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if masked else None
            data = self._read(ln) if ln else b""
            if mask:
                data = unmask(data, mask)
            if op >= 8:   # control frames may interleave with fragments
                if op == 9:
                    self.send(data, 0xA)
                    continue
                if op == 0xA:
                    continue
                return op, data
            if first_op is None:
                first_op = op
            parts.append(data)
            if fin:
                return first_op, b"".join(parts)

    def send(self, data, op=0x2):
        n = len(data)
        if n < 126:
            hdr = struct.pack(">BB", 0x80 | op, n)
        elif n < 65536:
            hdr = struct.pack(">BBH", 0x80 | op, 126, n)
        else:
            hdr = struct.pack(">BBQ", 0x80 | op, 127, n)
        with self.wlock:
            self.wfile.write(hdr + data)
            self.wfile.flush()

    def close(self, code=1000, reason=b""):
        try:
            self.send(struct.pack(">H", code) + reason, 0x8)
        except OSError:
            pass
