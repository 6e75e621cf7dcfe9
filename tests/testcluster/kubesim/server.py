"""HTTPS front end: TLS with client certificates or bearer tokens, routing to
the REST handlers, streaming (watch, logs), WebSocket exec, proxy."""

import http.server
import json
import socket
import socketserver
import ssl
import sys
import traceback
import urllib.parse

from . import api, codec, discovery, errors, watch
from .resources import find, GROUPS


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, cluster, certfile, keyfile, cafile, tokens):
        self.cluster = cluster
        self.tokens = tokens
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.ctx.load_verify_locations(cafile)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.ctx.set_alpn_protocols(["http/1.1"])
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return sock, addr

    def process_request_thread(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread.
        try:
            request.settimeout(30)
            tls = self.ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            self.shutdown_request(request)
            return
        super().process_request_thread(tls, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln-testcluster"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.cluster.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # -- response helpers ------------------------------------------------------
    def send_json(self, code, obj, headers=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", "00000000-0000-0000-0000-000000000000")
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            if isinstance(v, list):
                for x in v:
                    self.send_header(k, x)
            else:
                self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_status(self, e):
        self.send_json(e.code, e.status(), e.headers)

    def start_chunked(self, code, ctype, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def write_chunk_json(self, obj):
        self.write_chunk(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def abort_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(n)
                self.rfile.readline()
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # -- auth ----------------------------------------------------------------
    def authenticate(self):
        try:
            cert = self.connection.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        return v
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            from .tokens import user_of
            user = user_of(self.server.cluster, auth[7:].strip())
            if user:
                return user
        return None

    # -- dispatch --------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        cluster = self.server.cluster
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        path = url.path
        body = b""
        try:
            is_upgrade = "upgrade" in (self.headers.get("Connection") or "").lower()
            if not is_upgrade and "/proxy" not in path:
                body = self.read_body()
            if path.startswith("/_test/"):
                return self.send_json(*cluster.faults.handle(self.command, path, body))
            user = self.authenticate()
            if user is None:
                if "/proxy" in path:
                    self.read_body()
                raise errors.unauthorized()
            injected = cluster.faults.take_injected_error(path)
            if injected:
                if "/proxy" in path or is_upgrade:
                    self.close_connection = True
                raise injected
            req = api.Request(self.command, path, query, self.headers, body, user)
            self.route(cluster, req, path, is_upgrade)
        except errors.ApiError as e:
            try:
                self.send_error_status(e)
            except OSError:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the test cluster: answer 500 like a server would and log it
            traceback.print_exc()
            try:
                self.send_error_status(errors.ApiError(500, "InternalError", f"Internal error occurred: {e}",
                                                       {"causes": [{"message": str(e)}]}))
            except OSError:
                self.close_connection = True

    def route(self, cluster, req, path, is_upgrade):
        segs = [s for s in path.split("/") if s]
        m = self.command
        if path in ("/healthz", "/livez", "/readyz"):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/version":
            return self.send_json(200, discovery.VERSION)
        if path == "/api":
            return self.send_json(200, discovery.api_versions())
        if path == "/apis":
            return self.send_json(200, discovery.api_group_list())
        if path == "/openapi/v2":
            # An empty protobuf openapi_v2.Document: older kubectl fetch it eagerly and
            # then learn from /openapi/v3 that the server validates fields itself.
            self.send_response(200)
            self.send_header("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/openapi/v3":
            return self.send_json(200, discovery.openapi_v3_root())
        if segs[:2] == ["openapi", "v3"]:
            rest = segs[2:]
            if rest and rest[0] == "api" and len(rest) == 2:
                return self.send_json(200, discovery.openapi_v3_gv("", rest[1]))
            if rest and rest[0] == "apis" and len(rest) == 3 and rest[1] in GROUPS:
                return self.send_json(200, discovery.openapi_v3_gv(rest[1], rest[2]))
            raise errors.generic_not_found()
        if segs and segs[0] == "api":
            if len(segs) < 2 or segs[1] != "v1":
                raise errors.generic_not_found()
            group, version, rest = "", "v1", segs[2:]
        elif segs and segs[0] == "apis" and len(segs) >= 2:
            if segs[1] not in GROUPS or not segs[1]:
                raise errors.generic_not_found()
            if len(segs) == 2:
                return self.send_json(200, discovery.api_group(segs[1]))
            if segs[2] not in GROUPS[segs[1]]:
                raise errors.generic_not_found()
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise errors.generic_not_found()
        if not rest:
            if m != "GET":
                raise errors.method_not_allowed()
            return self.send_json(200, discovery.resource_list(group, version))
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and find(group, version, rest[2]) is not None and group + version != "" and find(group, version, rest[2]).namespaced:
            ns, rest = rest[1], rest[2:]
        res = find(group, version, rest[0])
        if res is None:
            raise errors.generic_not_found()
        if res.namespaced and ns is None and len(rest) > 1:
            raise errors.generic_not_found()
        name = urllib.parse.unquote(rest[1]) if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        subrest = "/".join(rest[3:]) if len(rest) > 3 else ""
        if sub is not None and sub not in res.subresources:
            raise errors.generic_not_found()
        verb = {"GET": "get" if name else ("watch" if req.qbool("watch") else "list"), "HEAD": "get",
                "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(m, m.lower())
        if sub in ("exec", "attach", "portforward", "proxy") and m == "GET" and sub != "proxy":
            verb = "create" if is_upgrade else "get"
        denied = cluster.faults.check_forbidden(req.user, verb, res, sub, ns if res.namespaced else None, name)
        if denied:
            raise denied
        if sub == "proxy" or (sub and sub.startswith("proxy")):
            from . import proxy
            return proxy.serve(self, cluster, req, res, ns, name, subrest, path)
        if sub in ("exec", "attach"):
            from . import exec_ws
            return exec_ws.serve(self, cluster, req, res, ns, name, is_upgrade, sub)
        if sub == "log":
            return cluster.kubelet.serve_logs(self, req, ns, name)
        if sub == "eviction":
            if m != "POST":
                raise errors.method_not_allowed()
            return self.send_json(201, cluster.evict(req, ns, name))
        if sub == "scale":
            return self.scale(cluster, req, res, ns, name)
        if sub == "portforward":
            from . import portforward
            return portforward.serve(self, cluster, req, ns, name, is_upgrade)
        if sub == "token":
            from . import tokens
            return tokens.token_request(self, cluster, req, res, ns, name)
        if sub in ("binding", "ephemeralcontainers", "finalize"):
            raise errors.method_not_allowed()
        if res.kind == "SelfSubjectReview":
            from . import tokens
            return tokens.self_subject_review(self, cluster, req, res)
        if res.kind == "SelfSubjectAccessReview":
            from . import authz
            return authz.access_review(self, cluster, req, res)
        self.rest(cluster, req, res, ns, name, sub)

    def _warning_headers(self, req):
        if not req.warnings:
            return {}
        return {"Warning": ['299 - ' + json.dumps(w) for w in req.warnings]}

    def _accept(self, req):
        acc = self.headers.get("Accept") or ""
        for part in acc.split(","):
            params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
                return "Table", params.get("v", "v1")
            if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return params["as"], params.get("v", "v1")
            if part.split(";")[0].strip() in ("application/json", "*/*", "application/*", ""):
                return None, None
        return None, None

    def rest(self, cluster, req, res, ns, name, sub):
        m = self.command
        self._refuse_protobuf_only_accept()
        as_, av = self._accept(req)
        include = req.q("includeObject") or "Metadata"
        if name is None:
            if m == "GET":
                if req.qbool("watch"):
                    return watch.serve_watch(self, cluster, req, res, ns if res.namespaced else None,
                                             as_table=include if as_ == "Table" else None)
                lst = api.list_objects(cluster, req, res, ns if res.namespaced else None)
                if as_ == "Table":
                    from .tables import table
                    t = table(res, lst["items"], lst["metadata"], include)
                    t["apiVersion"] = f"meta.k8s.io/{av}"
                    return self.send_json(200, t)
                if as_ == "PartialObjectMetadataList":
                    return self.send_json(200, {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{av}",
                                                "metadata": lst["metadata"],
                                                "items": [{"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{av}", "metadata": o["metadata"]} for o in lst["items"]]})
                return self.send_json(200, lst)
            if m == "POST":
                if res.namespaced and ns is None:
                    raise errors.method_not_allowed()
                obj = self._body_object(req, res)
                if not isinstance(obj, dict):
                    from .validation import json_kind
                    raise errors.bad_request(f"json: cannot unmarshal {json_kind(obj)} into Go value of type struct")
                api.decode_body(req, res, obj)
                created = api.create(cluster, req, res, ns, obj)
                return self.send_json(201, created, self._warning_headers(req))
            if m == "DELETE":
                if res.namespaced and ns is None:
                    raise errors.method_not_allowed()
                opts = api.delete_options(req)
                lst = api.list_objects(cluster, req, res, ns)
                for o in lst["items"]:
                    try:
                        api.delete(cluster, req, res, ns, o["metadata"]["name"], opts)
                    except errors.ApiError as e:
                        if e.code != 404:
                            raise
                return self.send_json(200, lst)
            raise errors.method_not_allowed()
        if m == "GET":
            if req.qbool("watch"):
                return watch.serve_watch(self, cluster, req, res, ns, single_name=name,
                                         as_table=include if as_ == "Table" else None)
            obj = cluster.store.get(res, ns, name)
            if as_ == "Table":
                from .tables import table
                return self.send_json(200, table(res, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, include))
            if as_ == "PartialObjectMetadata":
                return self.send_json(200, {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{av}", "metadata": obj["metadata"]})
            return self.send_json(200, obj)
        if m == "PUT":
            obj = self._body_object(req, res)
            if not isinstance(obj, dict):
                raise errors.bad_request("json: cannot unmarshal into Go value of type struct")
            if sub == "status":
                validation_for_status(res, obj)
            else:
                api.decode_body(req, res, obj)
            new = api.replace(cluster, req, res, ns, name, obj, sub)
            return self.send_json(200, new, self._warning_headers(req))
        if m == "PATCH":
            r = api.do_patch(cluster, req, res, ns, name, sub)
            if isinstance(r, tuple):
                return self.send_json(r[1], r[0], self._warning_headers(req))
            return self.send_json(200, r, self._warning_headers(req))
        if m == "DELETE":
            opts = api.delete_options(req)
            out = api.delete(cluster, req, res, ns, name, opts)
            return self.send_json(200, out)
        raise errors.method_not_allowed()

    def _body_object(self, req, res):
        ct = req.content_type
        if ct in ("", "application/json", "*/*"):
            return codec.loads_json(req.body)
        if ct == "application/yaml":
            return codec.loads_yaml(req.body)
        if ct == "application/vnd.kubernetes.protobuf":
            # typed client-go clients (`kubectl create deployment|secret|job ...`)
            from . import protobuf
            try:
                return protobuf.decode_object(req.body, res.group_version, res.kind)
            except protobuf.Unsupported as e:
                raise errors.ApiError(415, "UnsupportedMediaType", str(e), {})
            except protobuf.ProtoError as e:
                raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {e}')
        raise errors.ApiError(415, "UnsupportedMediaType",
                              f"the body of the request was in an unknown format - accepted media types include: "
                              f"application/json, application/yaml, application/vnd.kubernetes.protobuf "
                              f"(the kiln test cluster does not decode {ct})", {})

    def _refuse_protobuf_only_accept(self):
        """Responses are always JSON: a client that accepts nothing else gets the
        406 a server without its media type gives (kubectl always adds JSON)."""
        acc = [p.split(";")[0].strip().lower() for p in (self.headers.get("Accept") or "").split(",") if p.strip()]
        if acc and all(a.startswith("application/vnd.kubernetes.protobuf") for a in acc):
            raise errors.ApiError(406, "NotAcceptable",
                                  "only the following media types are accepted: application/json, application/yaml, "
                                  "application/json;stream=watch (the kiln test cluster answers JSON only)", {})

    def scale(self, cluster, req, res, ns, name):
        obj = cluster.store.get(res, ns, name)

        def as_scale(o):
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: o["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                    "spec": {"replicas": o["spec"].get("replicas", 1)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0),
                               "selector": ",".join(f"{k}={v}" for k, v in ((o["spec"].get("selector") or {}).get("matchLabels") or {}).items())}}
        if self.command == "GET":
            return self.send_json(200, as_scale(obj))
        if self.command in ("PUT", "PATCH"):
            b = codec.plain(codec.loads_json(req.body))
            rep = (b.get("spec") or {}).get("replicas")
            if not isinstance(rep, int):
                raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas must be an integer")
            obj["spec"]["replicas"] = rep
            new = cluster.store.update(res, ns, name, obj, check_rv=False)
            return self.send_json(200, as_scale(new))
        raise errors.method_not_allowed()


def validation_for_status(res, obj):
    from . import validation
    out = validation.Decoded()
    validation.check(obj, res.model, out, skip_status=False)
    if out.type_error:
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {out.type_error}')
    return out
