#!/usr/bin/python3
"""Misbehaving registries for kiln's network-stack tests (bad-input cases).

Prints `PORT <n>` (and `OTHER_PORT <n>` when a second host is used) on stdout,
then serves until killed. Every request is appended to --log as a JSON line:
{"host": Host header, "listen": "127.0.0.x", "method", "path", "authorization":
scheme or null, "fault": what was done}. Authorization values are never logged.

Scenarios:
  bad-digests     a registry serving manifests/blobs whose bytes do not match
                  their digests (see MANIFESTS below)
  elsewhere       Bearer auth with the token realm on 127.0.0.2 (another
                  loopback host); blob GETs redirect to 127.0.0.2, upload
                  Locations point at 127.0.0.2
  big-token       Bearer auth whose realm answers a 1 MiB token response
  pages           tags/catalog with Link pagination (relative, absolute, and a
                  last page linking to another host); a repository refusing `n`
  proxy           forwards to --upstream, injecting --faults (comma separated):
                    429:<n>      the first n manifest GETs answer 429 + Retry-After: 1
                    500:<n>      the first n manifest GETs answer 500
                    reset-blob   the first blob GET sends half the body, then a TCP reset
                    reset-upload the first PATCH or PUT with blob bytes forwards half of
                                 them upstream, then a reset
                    drop-patch:<n>  the n-th PATCH is read but not forwarded, then a reset
                    slow-blob    blob GETs trickle one byte every 0.5 s
"""

import argparse
import base64
import hashlib
import http.client
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

LOG_LOCK = threading.Lock()
ARGS = None
STATE = {"count": {}, "other_port": 0, "port": 0}
STATE_LOCK = threading.Lock()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def bump(key):
    with STATE_LOCK:
        STATE["count"][key] = STATE["count"].get(key, 0) + 1
        return STATE["count"][key]


# bad-digests content
# Unique per run: the shared test registries must not already hold these blobs.
NONCE = secrets.token_hex(8).encode()
GOOD_CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"' + NONCE + b'"}'
SERVED_CONFIG = GOOD_CONFIG.replace(b"amd64", b"arm64")  # same size, other bytes
GOOD_LAYER = b"layer bytes that are right" * 10  # fixed: the elsewhere scenario test knows it
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": sha256(GOOD_CONFIG), "size": len(GOOD_CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": sha256(GOOD_LAYER), "size": len(GOOD_LAYER)}],
}, separators=(",", ":")).encode()
OTHER_MANIFEST = MANIFEST.replace(b'"schemaVersion":2', b'"schemaVersion":2 ')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def log_message(self, fmt, *args):
        pass

    def record(self, fault=None, **extra):
        auth = self.headers.get("Authorization")
        entry = {
            "listen": self.server.server_address[0],
            "host": self.headers.get("Host"),
            "method": self.command,
            "path": self.path,
            "authorization": auth.partition(" ")[0].lower() if auth else None,
            "fault": fault,
            "time": time.time(),
        }
        entry.update(extra)
        with LOG_LOCK, open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, body=b"", headers=(), content_type="application/json"):
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, status, code, message, headers=()):
        self.send(status, json.dumps({"errors": [{"code": code, "message": message}]}).encode(), headers)

    def reset(self):
        """Ends the connection with a TCP reset."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    # ------------------------------------------------------------ dispatch
    def handle_any(self):
        scenario = ARGS.scenario
        getattr(self, "do_" + scenario.replace("-", "_"))()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    # ------------------------------------------------------------ bad-digests
    def do_bad_digests(self):
        self.record()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/v2/":
            return self.send(200, b"{}")
        m = re.match(r"^/v2/(.+)/manifests/(.+)$", path)
        if m:
            ref = m.group(2)
            if ref == "wrong-header":
                # Docker-Content-Digest announces other bytes than those served.
                return self.send(200, MANIFEST, [("Docker-Content-Digest", sha256(OTHER_MANIFEST))], OCI_MANIFEST)
            if ref == sha256(MANIFEST) or ref == "by-digest-wrong":
                # Asked by digest: serve other bytes (with a header that matches them).
                return self.send(200, OTHER_MANIFEST, [("Docker-Content-Digest", sha256(OTHER_MANIFEST))],
                                 OCI_MANIFEST)
            if ref == "bad-blob":
                return self.send(200, MANIFEST, [("Docker-Content-Digest", sha256(MANIFEST))], OCI_MANIFEST)
            return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        m = re.match(r"^/v2/(.+)/blobs/(.+)$", path)
        if m:
            digest = m.group(2)
            if digest == sha256(GOOD_CONFIG):
                return self.send(200, SERVED_CONFIG, content_type="application/octet-stream")
            if digest == sha256(GOOD_LAYER):
                return self.send(200, GOOD_LAYER, content_type="application/octet-stream")
            return self.error(404, "BLOB_UNKNOWN", "blob unknown")
        return self.error(404, "NOT_FOUND", "no route")

    # ------------------------------------------------------------ elsewhere
    def do_elsewhere(self):
        path = urllib.parse.urlsplit(self.path).path
        on_other = self.server.server_address[0] == "127.0.0.2"
        other = "http://127.0.0.2:%d" % STATE["other_port"]
        auth = self.headers.get("Authorization") or ""
        if on_other:
            self.record()
            if path == "/token":
                if auth != "Basic " + base64.b64encode(b"alice:s3cret").decode():
                    return self.error(401, "UNAUTHORIZED", "bad credentials")
                return self.send(200, json.dumps({"token": "registry-token", "expires_in": 300}).encode())
            if path.startswith("/storage/"):
                return self.send(200, GOOD_LAYER, content_type="application/octet-stream")
            if path.startswith("/upload/"):
                self.body()
                if self.command == "PUT":
                    return self.send(201, headers=[("Docker-Content-Digest", sha256(GOOD_LAYER))])
                return self.send(202, headers=[("Location", other + "/upload/1?_state=x"), ("Range", "0-0")])
            return self.error(404, "NOT_FOUND", "no route")
        self.record()
        if auth != "Bearer registry-token":
            challenge = 'Bearer realm="%s/token",service="fake",error="invalid_token"' % other
            self.body()
            return self.error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", challenge)])
        if path == "/v2/":
            return self.send(200, b"{}")
        if re.match(r"^/v2/.+/blobs/uploads/$", path) and self.command == "POST":
            return self.send(202, headers=[("Location", other + "/upload/1?_state=y")])
        m = re.match(r"^/v2/(.+)/blobs/(.+)$", path)
        if m and self.command in ("GET", "HEAD"):
            return self.send(307, headers=[("Location", other + "/storage/" + m.group(2))])
        return self.error(404, "NOT_FOUND", "no route")

    # ------------------------------------------------------------ big-token
    def do_big_token(self):
        self.record()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/token":
            filler = "x" * (1 << 20)
            return self.send(200, json.dumps({"token": "t", "padding": filler}).encode())
        if (self.headers.get("Authorization") or "").startswith("Bearer"):
            return self.send(200, b"{}")
        challenge = 'Bearer realm="http://%s/token",service="fake"' % self.headers.get("Host")
        return self.error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", challenge)])

    # ------------------------------------------------------------ pages
    def do_pages(self):
        self.record()
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        last = (q.get("last") or [""])[0]
        if url.path == "/v2/":
            return self.send(200, b"{}")
        if url.path == "/v2/paged/tags/list":
            pages = {"": (["a", "b"], '</v2/paged/tags/list?n=2&last=b>; rel="next"'),
                     "b": (["c", "d"], '<http://%s/v2/paged/tags/list?n=2&last=d>; rel="next"'
                           % self.headers.get("Host")),
                     "d": (["e"], None)}
            tags, link = pages[last]
            headers = [("Link", link)] if link else []
            return self.send(200, json.dumps({"name": "paged", "tags": tags}).encode(), headers)
        if url.path == "/v2/capped/tags/list":
            if "n" in q:
                return self.error(400, "PAGINATION_NUMBER_INVALID", "n exceeds the maximum of 10")
            return self.send(200, json.dumps({"name": "capped", "tags": ["x"]}).encode())
        if url.path == "/v2/escape/tags/list":
            link = '<http://127.0.0.2:%d/v2/escape/tags/list?last=z>; rel="next"' % STATE["port"]
            return self.send(200, json.dumps({"name": "escape", "tags": ["z"]}).encode(), [("Link", link)])
        if url.path == "/v2/_catalog":
            if last == "":
                return self.send(200, json.dumps({"repositories": ["r1", "r2"]}).encode(),
                                 [("Link", '</v2/_catalog?last=r2&n=2>; rel="next"')])
            return self.send(200, json.dumps({"repositories": ["r3"]}).encode())
        return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")

    # ------------------------------------------------------------ proxy
    def fault_budget(self, name):
        for f in ARGS.faults.split(","):
            kind, _, n = f.partition(":")
            if kind == name:
                return int(n) if n else 1
        return 0

    def do_proxy(self):
        path = urllib.parse.urlsplit(self.path).path
        is_manifest_get = self.command == "GET" and "/manifests/" in path
        is_blob_get = self.command == "GET" and re.search(r"/blobs/sha256:", path) is not None
        for code in (429, 500):
            budget = self.fault_budget(str(code))
            if is_manifest_get and budget and bump("fault-%d" % code) <= budget:
                self.record(fault=str(code))
                headers = [("Retry-After", "1")] if code == 429 else []
                return self.error(code, "TOOMANYREQUESTS" if code == 429 else "UNKNOWN", "injected", headers)
        body = self.body()
        forward_len = None
        fault = None
        carries_blob = self.command == "PATCH" or (self.command == "PUT" and "/blobs/uploads/" in path and body)
        if carries_blob and self.fault_budget("reset-upload") and bump("reset-upload") == 1:
            forward_len = len(body) // 2
            fault = "reset-upload"
        if self.command == "PATCH" and self.fault_budget("drop-patch"):
            if bump("drop-patch") == self.fault_budget("drop-patch"):
                self.record(fault="drop-patch", content_range=self.headers.get("Content-Range"))
                return self.reset()
        upstream = http.client.HTTPConnection(ARGS.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("content-length", "connection", "transfer-encoding", "expect")}
        send_body = body if forward_len is None else body[:forward_len]
        upstream.request(self.command, self.path, body=send_body if self.command not in ("GET", "HEAD") else None,
                         headers=headers)
        resp = upstream.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        if fault == "reset-upload":
            self.record(fault=fault, forwarded=forward_len, upstream_status=resp.status, body_length=len(body))
            upstream.close()
            return self.reset()
        if is_blob_get and resp.status == 200 and self.fault_budget("reset-blob") and bump("reset-blob") == 1:
            self.record(fault="reset-blob", sent=len(data) // 2)
            self.send_response(200)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding"):
                    self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            upstream.close()
            return self.reset()
        slow = is_blob_get and resp.status in (200, 206) and self.fault_budget("slow-blob")
        self.record(fault="slow-blob" if slow else None, range=self.headers.get("Range"), status=resp.status,
                    content_range=self.headers.get("Content-Range"), body_length=len(body))
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", resp.getheader("Content-Length") or str(len(data)))
        self.end_headers()
        upstream.close()
        if self.command == "HEAD":
            return
        if slow:
            try:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                self.close_connection = True
            return
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True,
                   choices=["bad-digests", "elsewhere", "big-token", "pages", "proxy"])
    p.add_argument("--log", required=True)
    p.add_argument("--upstream", default="")
    p.add_argument("--faults", default="")
    ARGS = p.parse_args()
    main_server = Server(("127.0.0.1", 0), Handler)
    STATE["port"] = main_server.server_address[1]
    servers = [main_server]
    if ARGS.scenario in ("elsewhere", "pages"):
        other = Server(("127.0.0.2", 0), Handler)
        STATE["other_port"] = other.server_address[1]
        servers.append(other)
    print("PORT %d" % STATE["port"], flush=True)
    if len(servers) > 1:
        print("OTHER_PORT %d" % STATE["other_port"], flush=True)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        main_server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
