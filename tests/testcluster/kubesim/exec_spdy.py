"""pods/<name>/exec over SPDY/3.1 (remotecommand v4.channel.k8s.io ... channel.k8s.io),
for clients that predate WebSocket exec (kubectl <= 1.29). The SPDY/3 zlib
header dictionary is read from Debian's golang-github-docker-spdystream-dev
(installed by tests/testcluster/up), never copied here."""

import glob
import json
import re
import socket
import struct
import threading
import zlib

from . import errors
from .docker_api import DockerError, demux

PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io")
DICT_GLOB = "/usr/share/gocode/src/github.com/*/spdystream/spdy/dictionary.go"
_dict = None

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01


def header_dictionary():
    global _dict
    if _dict is None:
        files = glob.glob(DICT_GLOB)
        if not files:
            raise errors.ApiError(400, "BadRequest", "unable to upgrade connection: SPDY exec needs Debian's "
                                  "golang-github-docker-spdystream-dev (the SPDY/3 header dictionary); run tests/testcluster/up "
                                  "or use a WebSocket client (kubectl >= 1.30)", {})
        src = open(files[0]).read()
        body = src[src.index("headerDictionary = []byte{"):]
        body = body[:body.index("}")]
        _dict = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", body))
    return _dict


class Spdy:
    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self.wlock = threading.Lock()
        d = header_dictionary()
        self.inflate = zlib.decompressobj(zdict=d)
        self.deflate = zlib.compressobj(zdict=d)

    def _read(self, n):
        b = self.rfile.read(n)
        if b is None or len(b) < n:
            raise EOFError()
        return b

    def read_frame(self):
        """('control', type, flags, data) or ('data', stream_id, flags, data)."""
        hdr = self._read(8)
        first = struct.unpack(">I", hdr[:4])[0]
        flags = hdr[4]
        length = int.from_bytes(hdr[5:8], "big")
        data = self._read(length) if length else b""
        if first & 0x80000000:
            return "control", first & 0xFFFF, flags, data
        return "data", first & 0x7FFFFFFF, flags, data

    def headers(self, block):
        raw = self.inflate.decompress(block)
        n = struct.unpack(">I", raw[:4])[0]
        pos, out = 4, {}
        for _ in range(n):
            ln = struct.unpack(">I", raw[pos:pos + 4])[0]
            name = raw[pos + 4:pos + 4 + ln].decode().lower()
            pos += 4 + ln
            lv = struct.unpack(">I", raw[pos:pos + 4])[0]
            out[name] = raw[pos + 4:pos + 4 + lv].decode()
            pos += 4 + lv
        return out

    def _control(self, typ, flags, data):
        return struct.pack(">HHI", 0x8003, typ, (flags << 24) | len(data)) + data

    def send(self, frame):
        with self.wlock:
            self.wfile.write(frame)
            self.wfile.flush()

    def syn_reply(self, sid):
        block = self.deflate.compress(struct.pack(">I", 0)) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.send(self._control(SYN_REPLY, 0, struct.pack(">I", sid) + block))

    def data(self, sid, payload, fin=False):
        for i in range(0, max(len(payload), 1), 1 << 15):
            chunk = payload[i:i + (1 << 15)]
            last = fin and i + (1 << 15) >= len(payload)
            self.send(struct.pack(">II", sid & 0x7FFFFFFF, ((FLAG_FIN if last else 0) << 24) | len(chunk)) + chunk)

    def ping(self, data):
        self.send(self._control(PING, 0, data))

    def goaway(self, last_sid):
        self.send(self._control(GOAWAY, 0, struct.pack(">II", last_sid, 0)))


def negotiate(h):
    offered = []
    for v in h.headers.get_all("X-Stream-Protocol-Version") or []:
        offered += [p.strip() for p in v.split(",") if p.strip()]
    proto = next((p for p in PROTOCOLS if p in offered), None)
    if proto is None:
        raise errors.bad_request(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server supports {list(PROTOCOLS)}")
    return proto


def serve(h, cluster, pod, rt, cmd, stdin, stdout, stderr, tty, handler):
    header_dictionary()
    proto = negotiate(h)
    h.send_response(101, "Switching Protocols")
    h.send_header("Connection", "Upgrade")
    h.send_header("Upgrade", "SPDY/3.1")
    h.send_header("X-Stream-Protocol-Version", proto)
    h.end_headers()
    h.wfile.flush()
    h.close_connection = True
    sp = Spdy(h.rfile, h.wfile)
    want = {"error"} | ({"stdin"} if stdin else set()) | ({"stdout"} if stdout else set()) | \
        ({"stderr"} if stderr and not tty else set()) | ({"resize"} if tty and proto.startswith("v4") or tty and proto.startswith("v3") else set())
    ids = {}
    pending = []
    try:
        while not want.issubset(ids):
            kind, typ, flags, data = sp.read_frame()
            if kind == "control" and typ == SYN_STREAM:
                sid = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
                hdrs = sp.headers(data[10:])
                ids[hdrs.get("streamtype", "")] = sid
                sp.syn_reply(sid)
            elif kind == "control" and typ == PING:
                sp.ping(data)
            elif kind == "data":
                pending.append((typ, flags, data))
            elif kind == "control" and typ in (GOAWAY, RST_STREAM):
                return
        _run(sp, cluster, rt, cmd, ids, pending, stdin, tty, proto, handler)
    except (EOFError, OSError, ValueError, zlib.error):
        pass


def _status_bytes(code, cmd, proto, message=None):
    from .exec_ws import status_success, status_exit, status_error
    if proto.startswith("v4"):
        st = status_error(message) if message else (status_success() if code == 0 else status_exit(code, cmd))
        return json.dumps(st).encode()
    if message:
        return message.encode()
    return b"" if code == 0 else f"command terminated with non-zero exit code: exit status {code}".encode()


def _cmd_text(cmd):
    return cmd or ["attach"]


def _run(sp, cluster, rt, cmd, ids, pending, stdin, tty, proto, handler):
    import queue
    inq = queue.Queue()
    done = threading.Event()

    def reader():
        """Frames after setup: stdin data, its FIN, pings, the end of the session."""
        try:
            for item in pending:
                inq.put(item)
            while not done.is_set():
                kind, typ, flags, data = sp.read_frame()
                if kind == "data":
                    inq.put((typ, flags, data))
                elif typ == PING:
                    sp.ping(data)
                elif typ in (GOAWAY,):
                    break
                elif typ == RST_STREAM:
                    sid = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
                    inq.put((sid, FLAG_FIN, b""))
        except (EOFError, OSError, ValueError):   # ValueError: the connection was closed under us
            pass
        inq.put(None)
    threading.Thread(target=reader, daemon=True).start()
    out_ids = {1: ids.get("stdout"), 2: ids.get("stderr")}

    def emit(chan, data):
        sid = out_ids.get(chan) or out_ids.get(1)
        if sid:
            sp.data(sid, data if isinstance(data, bytes) else data.encode())

    def stdin_items():
        while True:
            item = inq.get()
            if item is None:
                return
            yield item

    message = None
    if handler is not None:
        def gen():
            for sid, flags, data in stdin_items():
                if sid == ids.get("stdin"):
                    if data:
                        yield data
                    if flags & FLAG_FIN:
                        return
        code = handler(gen() if stdin else iter(()), emit)
    else:
        docker = cluster.kubelet.docker
        from .exec_ws import start_docker_stream, resize, exit_code
        try:
            ex, sock, tty = start_docker_stream(docker, rt, cmd, stdin, "stdout" in ids, "stderr" in ids, tty)
        except DockerError as e:
            code, message = 1, e.message
            sock = None
        if sock is not None:
            def pump():
                try:
                    for sid, flags, data in stdin_items():
                        if sid == ids.get("stdin"):
                            if data:
                                sock.sendall(data)
                            if flags & FLAG_FIN:
                                sock.shutdown(socket.SHUT_WR)
                        elif sid == ids.get("resize") and data:
                            try:
                                size = json.JSONDecoder().raw_decode(data.decode().strip())[0]
                                resize(docker, rt, ex, size)
                            except (ValueError, DockerError):
                                pass
                except OSError:
                    pass
            threading.Thread(target=pump, daemon=True).start()
            f = sock.makefile("rb", buffering=0)
            try:
                if tty:
                    while True:
                        data = f.read(65536)
                        if not data:
                            break
                        emit(1, data)
                else:
                    for stream, data in demux(f.read):
                        emit(2 if stream == 2 else 1, data)
            finally:
                sock.close()
            code = exit_code(docker, ex)
    for name in ("stdout", "stderr"):
        if name in ids:
            sp.data(ids[name], b"", fin=True)
    sp.data(ids["error"], _status_bytes(code, _cmd_text(cmd), proto, message), fin=True)
    done.set()
    sp.goaway(max(ids.values()))
