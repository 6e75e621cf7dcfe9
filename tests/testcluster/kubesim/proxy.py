"""Service and pod proxy: /api/v1/namespaces/<ns>/services/[scheme:]name[:port]/proxy/<path>
and .../pods/name[:port]/proxy/<path>. Every verb passes through with its body;
responses stream back. Targets: pods run by the kubelet (dialled inside their
network namespace) or loopback/unix-socket endpoints mapped by
loopback-services.json or the Service annotation testcluster.kiln.dev/loopback."""

import http.client
import json
import os
import socket
import ssl
import urllib.parse

from . import errors
from .netns import connect_in_netns
from .resources import find

SERVICES, PODS, ENDPOINTS = find("", "v1", "services"), find("", "v1", "pods"), find("", "v1", "endpoints")
ANNOTATION = "testcluster.kiln.dev/loopback"
HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
       "authorization", "host", "content-length", "expect"}


def _split(seg):
    parts = seg.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        if parts[0] in ("http", "https"):
            return parts[0], parts[1], ""
        return "", parts[0], parts[1]
    return "", seg, ""


def _loopback_map(cluster):
    out = {}
    for f in (getattr(cluster, "loopback_services_file", ""), os.path.join(cluster.state_dir, "loopback-services.json")):
        if f and os.path.exists(f):
            with open(f) as fh:
                try:
                    out.update(json.load(fh))
                except ValueError as e:
                    raise errors.ApiError(500, "InternalError", f"{f}: {e}", {})
    return out


def _svc_port(svc, port):
    ports = (svc.get("spec") or {}).get("ports") or []
    if not port:
        if len(ports) != 1 and ports:
            return ports[0]
        return ports[0] if ports else None
    for p in ports:
        if p.get("name") == port or str(p.get("port")) == port:
            return p
    return None


class Target:
    def __init__(self, kind, addr, scheme="http", label=""):
        self.kind, self.addr, self.scheme, self.label = kind, addr, scheme, label

    def connect(self, cluster):
        if self.kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.addr)
        elif self.kind == "tcp":
            host, port = self.addr.rsplit(":", 1)
            s = socket.create_connection((host, int(port)), timeout=10)
            s.settimeout(None)
        else:
            pid, port = self.addr
            s = connect_in_netns(pid, port)
        if self.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE   # the API server does not verify backends either
            s = ctx.wrap_socket(s)
        return s


def _mapped(cluster, ns, name, port_name, svc):
    m = _loopback_map(cluster)
    ann = {}
    if svc is not None:
        raw = (svc["metadata"].get("annotations") or {}).get(ANNOTATION)
        if raw:
            try:
                ann = json.loads(raw)
            except ValueError:
                raise errors.ApiError(500, "InternalError", f"annotation {ANNOTATION} on service {ns}/{name} is not JSON", {})
    candidates = []
    if svc is not None:
        p = _svc_port(svc, port_name)
        if p is not None:
            candidates += [str(p.get("port")), p.get("name") or ""]
    if port_name:
        candidates.append(port_name)
    for c in candidates:
        if c and c in ann:
            return ann[c]
        if c and f"{ns}/{name}:{c}" in m:
            return m[f"{ns}/{name}:{c}"]
    if not port_name and f"{ns}/{name}" in m:
        return m[f"{ns}/{name}"]
    return None


def _pod_target(cluster, ns, pod, port, scheme):
    w = cluster.kubelet.workers.get(pod["metadata"]["uid"]) if cluster.kubelet else None
    if w is None or w.infra is None:
        raise errors.ApiError(503, "ServiceUnavailable", f'pod "{pod["metadata"]["name"]}" is not running', {})
    pid = w.infra.inspect()["State"]["Pid"]
    return Target("netns", (pid, int(port)), scheme or "http", f"{pod['status'].get('podIP')}:{port}")


def resolve(cluster, res, ns, seg):
    scheme, name, port = _split(seg)
    if res.kind == "Service":
        svc = cluster.store.try_get(SERVICES, ns, name)
        mapped = _mapped(cluster, ns, name, port, svc)
        if mapped:
            if mapped.startswith("unix://"):
                return Target("unix", mapped[7:], scheme or "http", mapped)
            return Target("tcp", mapped.replace("http://", "").replace("https://", ""),
                          scheme or ("https" if mapped.startswith("https://") else "http"), mapped)
        if svc is None:
            raise errors.not_found(SERVICES, name)
        sp = _svc_port(svc, port)
        if sp is None:
            raise errors.ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})
        ep = cluster.store.try_get(ENDPOINTS, ns, name) or {}
        for sub in ep.get("subsets") or []:
            eport = next((p for p in sub.get("ports") or [] if p.get("name") == sp.get("name") or len(sub["ports"]) == 1), None)
            for a in sub.get("addresses") or []:
                ref = a.get("targetRef") or {}
                pod = cluster.store.try_get(PODS, ns, ref.get("name", ""))
                if pod is not None and eport is not None:
                    return _pod_target(cluster, ns, pod, eport["port"], scheme)
        raise errors.ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})
    pod = cluster.store.try_get(PODS, ns, name)
    if pod is None:
        raise errors.not_found(PODS, name)
    if not port:
        ports = [p for c in pod["spec"].get("containers") or [] for p in c.get("ports") or []]
        if not ports:
            raise errors.ApiError(503, "ServiceUnavailable", f'pod "{name}" has no port to proxy to; name one in the URL', {})
        port = ports[0]["containerPort"]
    elif not str(port).isdigit():
        ports = [p for c in pod["spec"].get("containers") or [] for p in c.get("ports") or [] if p.get("name") == port]
        if not ports:
            raise errors.bad_request(f'no such port "{port}" on pod "{name}"')
        port = ports[0]["containerPort"]
    return _pod_target(cluster, ns, pod, port, scheme)


def serve(h, cluster, req, res, ns, seg_name, subpath, full_path):
    if res.kind not in ("Service", "Pod"):
        raise errors.generic_not_found()
    target = resolve(cluster, res, ns, seg_name)
    if not subpath and not full_path.endswith("/"):
        # Like the real proxy: an empty backend path redirects to ".../proxy/".
        _drain(h)
        q = urllib.parse.urlsplit(h.path).query
        h.send_response(301)
        h.send_header("Location", full_path + "/" + ("?" + q if q else ""))
        h.send_header("Content-Length", "0")
        h.end_headers()
        return
    path = "/" + subpath
    if full_path.endswith("/") and not path.endswith("/"):
        path += "/"
    backend_path = path
    prepend = full_path[:len(full_path) - len(backend_path)] if full_path.endswith(backend_path) else full_path
    q = urllib.parse.urlsplit(h.path).query
    if q:
        path += "?" + q
    try:
        up = target.connect(cluster)
    except OSError as e:
        _drain(h)
        raise errors.ApiError(503, "ServiceUnavailable",
                              f"error trying to reach service: dial tcp {target.label}: connect: {e.strerror or e}", {})
    try:
        _forward(h, up, target, path, prepend)
    finally:
        try:
            up.close()
        except OSError:
            pass


def _drain(h):
    try:
        h.read_body()
    except OSError:
        pass


def rewrite_location(loc, backend_host, request_host, prepend):
    """What the API server's proxy does to a backend's Location header: URLs on
    the backend (or on the host the client asked for) with an absolute path are
    moved under the proxy path; other hosts and relative paths pass unchanged."""
    u = urllib.parse.urlsplit(loc)
    if u.netloc and u.netloc not in (backend_host, request_host):
        return loc
    if not u.path.startswith("/"):
        return loc
    scheme, netloc = (u.scheme, u.netloc) if u.netloc == request_host and u.netloc else ("", "")
    if u.path.startswith(prepend):
        return urllib.parse.urlunsplit((scheme, netloc, u.path, u.query, u.fragment))
    p = prepend.rstrip("/") + u.path
    return urllib.parse.urlunsplit((scheme, netloc, p, u.query, u.fragment))


CORS = {"access-control-allow-credentials", "access-control-allow-headers", "access-control-allow-methods",
        "access-control-allow-origin"}


def _forward(h, up, target, path, prepend):
    # The client's Host header goes to the backend unchanged (the real proxy does
    # not use the backend's address), so backends build URLs on the API server.
    request_host = h.headers.get("Host") or ""
    lines = [f"{h.command} {path} HTTP/1.1", f"Host: {request_host or 'localhost'}"]
    for k, v in h.headers.items():
        if k.lower() not in HOP and k.lower() != "x-forwarded-for":
            lines.append(f"{k}: {v}")
    xff = h.headers.get("X-Forwarded-For")
    lines.append(f"X-Forwarded-For: {(xff + ', ') if xff else ''}{h.client_address[0]}")
    chunked_in = h.headers.get("Transfer-Encoding", "").lower() == "chunked"
    length = int(h.headers.get("Content-Length") or 0)
    if chunked_in:
        lines.append("Transfer-Encoding: chunked")
    elif length or h.command in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    up.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if chunked_in:
        while True:
            line = h.rfile.readline()
            n = int(line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                up.sendall(b"0\r\n\r\n")
                break
            data = h.rfile.read(n)
            h.rfile.readline()
            up.sendall(b"%x\r\n%s\r\n" % (len(data), data))
    else:
        left = length
        while left > 0:
            data = h.rfile.read(min(left, 1 << 20))
            if not data:
                break
            up.sendall(data)
            left -= len(data)
    resp = http.client.HTTPResponse(up, method=h.command)
    resp.begin()
    h.send_response_only(resp.status, resp.reason)
    has_len = resp.getheader("Content-Length") is not None
    for k, v in resp.getheaders():
        if k.lower() in ("connection", "keep-alive", "transfer-encoding") or k.lower() in CORS:
            continue
        if k.lower() == "location":
            v = rewrite_location(v, target.label.replace("http://", "").replace("https://", ""), request_host, prepend)
        h.send_header(k, v)
    body_allowed = h.command != "HEAD" and resp.status not in (204, 304) and not (100 <= resp.status < 200)
    chunked_out = body_allowed and not has_len
    if chunked_out:
        h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    if body_allowed:
        while True:
            data = resp.read1(1 << 20)
            if not data:
                break
            if chunked_out:
                h.write_chunk(data)
            else:
                h.wfile.write(data)
        if chunked_out:
            h.end_chunked()
    h.wfile.flush()
