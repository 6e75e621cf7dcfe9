#!/usr/bin/python3
"""Docker/OCI token server for kiln's integration tests.

Issues RS256 JWTs that distribution's `auth.token` accepts (x5c header with a
signing certificate issued by the test CA, which is the registry's
rootcertbundle). Every request is appended to a JSON-lines log so tests can
prove which scopes were asked for and which hosts received credentials; the
password itself is never written anywhere.

Policy:
  * valid Basic credentials: every requested repository action out of
    pull/push/delete/* and registry:catalog:* is granted;
  * no Authorization header: a token is issued (as Docker Hub does) that grants
    only `pull` on repositories whose name starts with `public/`, nothing else;
  * wrong credentials or another auth scheme: 401 with a JSON error, no token.
"""

import argparse
import base64
import datetime
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

REPO_ACTIONS = {"pull", "push", "delete", "*"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Config:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            c = json.load(f)
        self.listen = c["listen"]
        self.port = int(c["port"])
        self.cert = c["cert"]
        self.key = c["key"]
        self.issuer = c["issuer"]
        self.service = c["service"]
        self.user = c["user"]
        with open(c["password_file"], encoding="utf-8") as f:
            self.password = f.read().strip()
        self.expires_in = int(c.get("expires_in", 300))
        self.log = c["log"]
        with open(c["signing_key"], "rb") as f:
            self.signing_key = serialization.load_pem_private_key(f.read(), password=None)
        with open(c["signing_cert"], "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")]


class State:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.log_lock = threading.Lock()
        self.refresh_lock = threading.Lock()
        self.refresh_tokens = {}

    def record(self, entry):
        line = json.dumps(entry, sort_keys=True) + "\n"
        # Opened per write so that a test may truncate or remove the file.
        with self.log_lock, open(self.cfg.log, "a", encoding="utf-8") as f:
            f.write(line)

    def sign(self, subject, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.cfg.x5c}
        claims = {
            "iss": self.cfg.issuer,
            "sub": subject,
            "aud": self.cfg.service,
            "exp": now + self.cfg.expires_in,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                         + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self.cfg.signing_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def parse_scopes(values):
    """`scope` may repeat and each value may hold several space-separated scopes."""
    scopes = []
    for v in values:
        scopes.extend(s for s in v.split(" ") if s)
    return scopes


def parse_scope(scope):
    # The name sits between the first and the last colon (type:name:actions).
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last <= first:
        return None
    return scope[:first], scope[first + 1:last], [a for a in scope[last + 1:].split(",") if a]


def grant(scopes, user):
    access = []
    for s in scopes:
        p = parse_scope(s)
        if p is None:
            continue
        typ, name, actions = p
        if user is not None:
            if typ == "repository":
                allowed = [a for a in actions if a in REPO_ACTIONS]
            elif typ == "registry" and name == "catalog":
                allowed = [a for a in actions if a == "*"]
            else:
                allowed = []
        else:
            allowed = ["pull"] if typ == "repository" and name.startswith("public/") and "pull" in actions else []
        if allowed:
            access.append({"type": typ, "name": name, "actions": allowed})
    return access


class Handler(BaseHTTPRequestHandler):
    server_version = "kiln-test-token-server/1"
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    @property
    def state(self) -> State:
        return self.server.state

    def send_json(self, status, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def check_basic(self, header):
        """Returns (scheme, user or None, valid)."""
        if header is None:
            return None, None, True
        scheme, _, rest = header.partition(" ")
        scheme = scheme.lower()
        if scheme != "basic":
            return scheme, None, False
        try:
            user, _, password = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return scheme, None, False
        cfg = self.state.cfg
        ok = hmac.compare_digest(user.encode(), cfg.user.encode()) and \
            hmac.compare_digest(password.encode(), cfg.password.encode())
        return scheme, (user if ok else None), ok

    def base_entry(self, path, query):
        auth = self.headers.get("Authorization")
        return {
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "method": self.command,
            "path": path,
            "host": self.headers.get("Host"),
            "authorization": auth is not None,
            "auth_scheme": auth.partition(" ")[0].lower() if auth else None,
            "credentials": auth is not None,
            "service": (query.get("service") or [None])[0],
            "scopes": parse_scopes(query.get("scope", [])),
            "client_id": (query.get("client_id") or [None])[0],
        }

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            self.send_json(200, {"ok": True})
            return
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        entry = self.base_entry(url.path, query)
        if url.path != "/token":
            entry.update(status=404, user=None, granted=[])
            self.state.record(entry)
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        scheme, user, ok = self.check_basic(self.headers.get("Authorization"))
        self.issue(entry, user, ok, offline=query.get("offline_token", ["false"])[0] == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 65536:
            self.send_json(413, {"error": "request too large"})
            return
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
        entry = self.base_entry(url.path, form)
        grant_type = (form.get("grant_type") or [None])[0]
        entry["grant_type"] = grant_type
        if url.path != "/token":
            entry.update(status=404, user=None, granted=[])
            self.state.record(entry)
            self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        cfg = self.state.cfg
        user, ok = None, False
        if grant_type == "password":
            u = (form.get("username") or [""])[0]
            p = (form.get("password") or [""])[0]
            ok = hmac.compare_digest(u.encode(), cfg.user.encode()) and hmac.compare_digest(p.encode(), cfg.password.encode())
            user = u if ok else None
            entry["credentials"] = "username" in form or "password" in form
            entry["auth_scheme"] = "password-grant"
        elif grant_type == "refresh_token":
            rt = (form.get("refresh_token") or [""])[0]
            with self.state.refresh_lock:
                user = self.state.refresh_tokens.get(rt)
            ok = user is not None
            entry["credentials"] = "refresh_token" in form
            entry["auth_scheme"] = "refresh-token"
        else:
            entry.update(status=400, user=None, granted=[])
            self.state.record(entry)
            self.send_json(400, {"error": "unsupported_grant_type"})
            return
        self.issue(entry, user, ok, offline=(form.get("access_type") or [""])[0] == "offline")

    def issue(self, entry, user, ok, offline):
        if not ok:
            entry.update(status=401, user=None, granted=[])
            self.state.record(entry)
            self.send_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}],
                                 "details": "incorrect username or password"})
            return
        cfg = self.state.cfg
        access = grant(entry["scopes"], user)
        token = self.state.sign(user or "", access)
        resp = {
            "token": token,
            "access_token": token,
            "expires_in": cfg.expires_in,
            "issued_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if offline and user is not None:
            rt = secrets.token_urlsafe(24)
            with self.state.refresh_lock:
                self.state.refresh_tokens[rt] = user
            resp["refresh_token"] = rt
        entry.update(status=200, user=user, granted=access)
        self.state.record(entry)
        self.send_json(200, resp)


class TLSServer(ThreadingHTTPServer):
    """Handshakes in the connection's own thread, so a client that connects and
    stays silent cannot stall the accept loop for everybody else."""

    daemon_threads = True
    ssl_ctx = None
    state = None

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write("%s TLS handshake failed: %s\n" % (client_address[0], e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    args = ap.parse_args()
    cfg = Config(args.config)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg.cert, cfg.key)
    server = TLSServer((cfg.listen, cfg.port), Handler)
    server.ssl_ctx = ctx
    server.state = State(cfg)
    print("token server on https://%s:%d (pid %d)" % (cfg.listen, cfg.port, os.getpid()), file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
