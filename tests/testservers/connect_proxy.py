#!/usr/bin/python3
"""A forward proxy for tests: HTTP CONNECT and SOCKS5 on one loopback port.

It tunnels only to loopback targets (so a test can never reach out through
it), optionally requires credentials (Proxy-Authorization: Basic for
CONNECT, RFC 1929 username/password for SOCKS5), and records every tunnel
request as one JSON line (to --log and stderr):

  {"kind": "CONNECT", "target": "127.0.0.1:6443", "user": "alice", "status": 200}
  {"kind": "SOCKS5", "target": "localhost:6443", "address_type": "domain", "user": null, "status": 0}

"user" is the user name the client presented (never the password);
"status" is the HTTP status (CONNECT) or SOCKS5 reply code sent back.

Started by a test: prints "LISTENING <port>" on stdout once it accepts
connections. With --exit-on-stdin-eof it ends when its stdin closes, so a
test that dies never leaves it behind.

With --tls-cert/--tls-key it is an HTTPS proxy (TLS to the proxy, CONNECT
inside; no SOCKS5 then).

Usage: connect_proxy.py [--port N] [--auth USER:PASSWORD] [--log FILE] [--exit-on-stdin-eof]
                        [--tls-cert PEM --tls-key PEM]
"""

import argparse
import base64
import ipaddress
import json
import os
import select
import socket
import socketserver
import ssl
import struct
import sys
import threading

MAX_HEAD = 64 * 1024


def is_loopback(address):
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def resolve_loopback(host, port):
    """The addresses of host:port, or None when any of them is not loopback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return None
    if not infos or not all(is_loopback(info[4][0]) for info in infos):
        return None
    return infos


def connect_target(host, port):
    infos = resolve_loopback(host, port)
    if infos is None:
        return None, "not a loopback target"
    last = "no address"
    for family, kind, proto, _, sockaddr in infos:
        s = socket.socket(family, kind, proto)
        try:
            s.settimeout(10)
            s.connect(sockaddr)
            s.settimeout(None)
            return s, None
        except OSError as e:
            last = str(e)
            s.close()
    return None, last


def pump(a, b):
    """Copies both ways until either side closes."""
    sockets = [a, b]
    try:
        while True:
            # Bytes already decrypted by a TLS socket do not make its fd readable.
            buffered = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
            readable = buffered or select.select(sockets, [], [], 300)[0]
            if not readable:
                return
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.settimeout(30)

    def log(self, record):
        line = json.dumps(record, sort_keys=True)
        with self.server.log_lock:
            if self.server.log_path:
                with open(self.server.log_path, "a") as f:
                    f.write(line + "\n")
            print(line, file=sys.stderr, flush=True)

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def handle(self):
        try:
            if self.server.tls is not None:
                self.request = self.server.tls.wrap_socket(self.request, server_side=True)
                self.handle_http()
                return
            first = self.request.recv(1, socket.MSG_PEEK)
            if not first:
                return
            if first[0] == 5:
                self.handle_socks5()
            else:
                self.handle_http()
        except (EOFError, OSError, ValueError):  # ssl.SSLError is an OSError
            return

    # ------------------------------------------------------------ HTTP CONNECT
    def handle_http(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
            if len(head) > MAX_HEAD:
                self.reply(431, "Request Header Fields Too Large")
                return
        head, _, early = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3 or parts[0] != "CONNECT":
            self.log({"kind": parts[0], "target": parts[1] if len(parts) > 1 else "", "user": None, "status": 405})
            self.reply(405, "Method Not Allowed", "this test proxy only tunnels (CONNECT)\n")
            return
        target = parts[1]
        user, password = None, None
        authorization = headers.get("proxy-authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = None, None
        if self.server.auth is not None and (user, password) != self.server.auth:
            self.log({"kind": "CONNECT", "target": target, "user": user, "status": 407})
            self.reply(407, "Proxy Authentication Required", "", ["Proxy-Authenticate: Basic realm=\"kiln-test-proxy\""])
            return
        host, _, port = target.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not port.isdigit() or not host:
            self.log({"kind": "CONNECT", "target": target, "user": user, "status": 400})
            self.reply(400, "Bad Request", "CONNECT needs host:port\n")
            return
        upstream, why = connect_target(host, int(port))
        if upstream is None:
            status = 403 if why == "not a loopback target" else 502
            self.log({"kind": "CONNECT", "target": target, "user": user, "status": status, "error": why})
            self.reply(status, "Forbidden" if status == 403 else "Bad Gateway", why + "\n")
            return
        self.log({"kind": "CONNECT", "target": target, "user": user, "status": 200})
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if early:
            upstream.sendall(early)
        self.request.settimeout(None)
        pump(self.request, upstream)
        upstream.close()

    def reply(self, status, reason, body="", extra=()):
        data = body.encode()
        head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(data)}", "Connection: close", *extra]
        self.request.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)

    # ------------------------------------------------------------ SOCKS5
    def handle_socks5(self):
        version, count = self.recv_exact(2)
        methods = self.recv_exact(count)
        want = 2 if self.server.auth is not None else 0
        if want not in methods:
            self.request.sendall(b"\x05\xff")
            self.log({"kind": "SOCKS5", "target": "", "user": None, "status": "no acceptable method"})
            return
        self.request.sendall(bytes([5, want]))
        user = None
        if want == 2:
            _, ulen = self.recv_exact(2)
            user = self.recv_exact(ulen).decode("utf-8", "replace")
            (plen,) = self.recv_exact(1)
            password = self.recv_exact(plen).decode("utf-8", "replace")
            ok = (user, password) == self.server.auth
            self.request.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                self.log({"kind": "SOCKS5", "target": "", "user": user, "status": "authentication failed"})
                return
        _, command, _, address_type = self.recv_exact(4)
        if address_type == 1:
            host, kind = socket.inet_ntop(socket.AF_INET, self.recv_exact(4)), "ipv4"
        elif address_type == 4:
            host, kind = socket.inet_ntop(socket.AF_INET6, self.recv_exact(16)), "ipv6"
        elif address_type == 3:
            (n,) = self.recv_exact(1)
            host, kind = self.recv_exact(n).decode("idna"), "domain"
        else:
            self.socks_reply(8)
            return
        (port,) = struct.unpack("!H", self.recv_exact(2))
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        record = {"kind": "SOCKS5", "target": target, "address_type": kind, "user": user}
        if command != 1:
            self.log({**record, "status": 7})
            self.socks_reply(7)
            return
        upstream, why = connect_target(host, port)
        if upstream is None:
            code = 2 if why == "not a loopback target" else 5
            self.log({**record, "status": code, "error": why})
            self.socks_reply(code)
            return
        self.log({**record, "status": 0})
        self.socks_reply(0)
        self.request.settimeout(None)
        pump(self.request, upstream)
        upstream.close()

    def socks_reply(self, code):
        self.request.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--auth", default=None, help="USER:PASSWORD the clients must present")
    ap.add_argument("--log", default="", help="append one JSON line per tunnel request to this file")
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--tls-cert", default="", help="serve TLS with this certificate (PEM)")
    ap.add_argument("--tls-key", default="", help="the certificate's key (PEM)")
    a = ap.parse_args()
    server = Server(("127.0.0.1", a.port), Handler)
    server.auth = tuple(a.auth.split(":", 1)) if a.auth else None
    if server.auth is not None and len(server.auth) != 2:
        ap.error("--auth needs USER:PASSWORD")
    server.tls = None
    if a.tls_cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(a.tls_cert, a.tls_key or None)
    server.log_path = a.log
    server.log_lock = threading.Lock()
    if a.exit_on_stdin_eof:
        def watch_stdin():
            while os.read(0, 4096):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
