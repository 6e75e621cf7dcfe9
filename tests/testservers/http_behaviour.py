#!/usr/bin/python3
"""A plain HTTP server for kiln's http-layer tests, on 127.0.0.1 and on
127.0.0.2 (another loopback host, i.e. another origin).

Prints `PORT <n>` and `OTHER_PORT <n>`, then serves until killed. Every
request is appended to --log as a JSON line {"listen", "method", "path",
"authorization": scheme or null, "body_length"}; header values are never logged.

  /fail/<code>/<n>/<key>   the first n requests with this key answer <code>, then 200
  /redirect/<code>?to=URL  answers <code> with Location: URL
  /loop                    redirects to itself forever
  /reset/<n>/<key>         the first n requests with this key get a TCP reset
  /big/<bytes>             a 200 body of that many bytes
  /ok                      200 {"ok":true}
"""

import argparse
import json
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
COUNTS = {}


def bump(key):
    with LOCK:
        COUNTS[key] = COUNTS.get(key, 0) + 1
        return COUNTS[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        auth = self.headers.get("Authorization")
        entry = {"listen": self.server.server_address[0], "method": self.command, "path": self.path,
                 "authorization": auth.partition(" ")[0].lower() if auth else None, "body_length": len(body)}
        with LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts[0] == "fail":
            code, n, key = int(parts[1]), int(parts[2]), parts[3]
            if bump(key) <= n:
                return self.reply(code, b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}')
            return self.reply(200, b'{"ok":true}')
        if parts[0] == "redirect":
            to = urllib.parse.parse_qs(url.query)["to"][0]
            return self.reply(int(parts[1]), headers=[("Location", to)])
        if parts[0] == "loop":
            return self.reply(302, headers=[("Location", "/loop")])
        if parts[0] == "reset":
            if bump(parts[2]) <= int(parts[1]):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            return self.reply(200, b'{"ok":true}')
        if parts[0] == "big":
            return self.reply(200, b"x" * int(parts[1]))
        return self.reply(200, b'{"ok":true}')

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    ARGS = p.parse_args()
    a = Server(("127.0.0.1", 0), Handler)
    b = Server(("127.0.0.2", 0), Handler)
    print("PORT %d" % a.server_address[1], flush=True)
    print("OTHER_PORT %d" % b.server_address[1], flush=True)
    threading.Thread(target=b.serve_forever, daemon=True).start()
    try:
        a.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
