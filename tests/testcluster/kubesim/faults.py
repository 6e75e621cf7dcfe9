"""Test-only fault switches: POST /_test/faults with a JSON body, e.g.
{"action": "evict", "namespace": "default", "pod": "p"}
{"action": "oomkill", "namespace": "default", "pod": "p", "container": "c"}
{"action": "drop-watches"}
{"action": "delay-scheduling", "seconds": 5}
{"action": "fail-requests", "code": 429|500, "count": N, "pathContains": "/pods", "retryAfter": 1}
{"action": "add-token", "token": "t", "user": "u"} / {"action": "revoke-token", "token": "t"}
{"action": "compact"}   (forget the watch history: older resourceVersions give 410)
{"action": "bad-watch", "mode": "garbage"|"endless", "count": 1}   (the next watches misbehave)
{"action": "forbid", "user": "u"?, "verb": "create"?, "resource": "pods/exec"?, "namespace": "ns"?}
    (RBAC-like 403 for matching requests; omitted keys match everything; "user" is the
     client certificate CN or the token's user, e.g. kiln-test-admin / kiln-test-token-user;
     "unforbid" with the same keys removes that rule)
{"action": "exceed-quota", "namespace": "ns", "count": 1}   (the next pod creates get the quota 403)
{"action": "exec-protocols", "protocols": ["v4.channel.k8s.io"], "namespace": "ns"?}   (WebSocket exec/attach
    in that namespace (omitted: everywhere) negotiate only these, like a server before Kubernetes 1.30 that has
    no v5; [] or reset restores v5 and v4)
{"action": "reset"}
GET /_test/faults shows the current settings. Reachable only on loopback."""

import json
import threading

from . import errors


class Faults:
    def __init__(self, cluster):
        self.cluster = cluster
        self.lock = threading.Lock()
        self.watch_generation = 0
        self.schedule_delay = 0.0
        self.fail = []   # [code, remaining, path_contains, retry_after]
        self.bad_watch = []   # modes for the next watch requests
        self.forbid = []      # dicts of user/verb/resource/namespace
        self.quota = {}       # namespace -> remaining pod creates to refuse
        self.ws_protocols = {}  # namespace ("" = all) -> WebSocket exec subprotocols on offer

    def state(self):
        return {"watchGeneration": self.watch_generation, "scheduleDelaySeconds": self.schedule_delay,
                "failRequests": [{"code": c, "remaining": n, "pathContains": p} for c, n, p, _ in self.fail],
                "execProtocols": {k: list(v) for k, v in self.ws_protocols.items()}}

    def exec_protocols(self, supported, ns):
        """The WebSocket exec subprotocols to negotiate in namespace ns, in preference order."""
        with self.lock:
            allowed = self.ws_protocols.get(ns, self.ws_protocols.get(""))
        return tuple(p for p in supported if allowed is None or p in allowed)

    def check_forbidden(self, user, verb, res, sub, ns, name):
        resource = res.plural + (f"/{sub}" if sub else "")
        with self.lock:
            rules = list(self.forbid)
        for r in rules:
            if all(r.get(k) in (None, v) for k, v in (("user", user), ("verb", verb), ("resource", resource), ("namespace", ns or ""))):
                scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
                what = f'{res.plural}{"." + res.group if res.group else ""}' + (f' "{name}"' if name else "")
                d = {"kind": res.plural}
                if name:
                    d = {"name": name, **({"group": res.group} if res.group else {}), "kind": res.plural}
                elif res.group:
                    d = {"group": res.group, "kind": res.plural}
                return errors.ApiError(403, "Forbidden", f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
                                       f'in API group "{res.group}" {scope}', d)
        return None

    def forbids(self, user, verb, resource, ns):
        """Whether a forbid rule matches (SelfSubjectAccessReview)."""
        with self.lock:
            rules = list(self.forbid)
        return any(all(r.get(k) in (None, v) for k, v in (("user", user), ("verb", verb), ("resource", resource),
                                                            ("namespace", ns or ""))) for r in rules)

    def take_quota(self, res, ns, name):
        if res.kind != "Pod":
            return None
        with self.lock:
            n = self.quota.get(ns or "", 0)
            if n <= 0:
                return None
            self.quota[ns] = n - 1
        return errors.ApiError(403, "Forbidden", f'pods "{name}" is forbidden: exceeded quota: compute-resources, requested: '
                               'limits.memory=2Gi, used: limits.memory=0, limited: limits.memory=1Gi', {"name": name, "kind": "pods"})

    def take_bad_watch(self):
        with self.lock:
            return self.bad_watch.pop(0) if self.bad_watch else None

    def take_injected_error(self, path):
        with self.lock:
            for f in self.fail:
                code, n, contains, retry = f
                if n > 0 and (not contains or contains in path):
                    f[1] -= 1
                    if f[1] == 0:
                        self.fail.remove(f)
                    if code == 429:
                        return errors.ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                                               {"causes": [{"reason": "UnexpectedServerResponse", "message": "Too many requests"}],
                                                "retryAfterSeconds": retry}, headers={"Retry-After": str(retry)})
                    if code == 503:
                        return errors.ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request", {})
                    return errors.ApiError(code, "InternalError", "Internal error occurred: injected fault",
                                           {"causes": [{"message": "injected fault"}]})
        return None

    def handle(self, method, path, body):
        if path != "/_test/faults":
            return 404, {"error": "unknown test endpoint"}
        if method == "GET":
            return 200, self.state()
        if method != "POST":
            return 405, {"error": "use POST"}
        try:
            req = json.loads(body or b"{}")
        except ValueError as e:
            return 400, {"error": f"bad JSON: {e}"}
        act = req.get("action")
        try:
            if act == "drop-watches":
                self.watch_generation += 1
            elif act == "delay-scheduling":
                self.schedule_delay = float(req.get("seconds", 0))
            elif act == "fail-requests":
                code = int(req.get("code", 500))
                if code not in (429, 500, 503):
                    return 400, {"error": "code must be 429, 500 or 503"}
                with self.lock:
                    self.fail.append([code, int(req.get("count", 1)), req.get("pathContains", ""),
                                      int(req.get("retryAfter", 1))])
            elif act == "evict":
                self.cluster.kubelet.evict(req["namespace"], req["pod"], req.get("message"))
            elif act == "oomkill":
                self.cluster.kubelet.oom_kill(req["namespace"], req["pod"], req.get("container"))
            elif act == "add-token":
                self.cluster.tokens[str(req["token"])] = str(req.get("user", "kiln-test-extra"))
            elif act == "revoke-token":
                self.cluster.tokens.pop(str(req["token"]), None)
            elif act == "compact":
                with self.cluster.store.lock:
                    self.cluster.store.events.clear()
                    self.cluster.store.compacted = self.cluster.store.rv
            elif act == "bad-watch":
                mode = req.get("mode", "garbage")
                if mode not in ("garbage", "endless"):
                    return 400, {"error": "mode must be garbage or endless"}
                with self.lock:
                    self.bad_watch += [mode] * int(req.get("count", 1))
            elif act in ("forbid", "unforbid"):
                rule = {k: str(req[k]) for k in ("user", "verb", "resource", "namespace") if k in req}
                with self.lock:
                    if act == "forbid":
                        self.forbid.append(rule)
                    else:   # drops the equal rules only, so concurrent tests keep theirs
                        self.forbid = [r for r in self.forbid if r != rule]
            elif act == "exceed-quota":
                with self.lock:
                    self.quota[str(req["namespace"])] = int(req.get("count", 1))
            elif act == "exec-protocols":
                from .exec_ws import PROTOCOLS
                protos = req.get("protocols")
                if not isinstance(protos, list) or any(p not in PROTOCOLS for p in protos):
                    return 400, {"error": f"protocols must be a list drawn from {list(PROTOCOLS)} ([] restores all)"}
                key = str(req.get("namespace", ""))
                with self.lock:
                    if protos:
                        self.ws_protocols[key] = tuple(protos)
                    else:
                        self.ws_protocols.pop(key, None)
            elif act == "reset":
                with self.lock:
                    self.ws_protocols = {}
                    self.fail = []
                    self.bad_watch = []
                    self.forbid = []
                    self.quota = {}
                self.schedule_delay = 0.0
            else:
                return 400, {"error": f"unknown action {act!r}; known: drop-watches, delay-scheduling, fail-requests, evict, oomkill, add-token, revoke-token, compact, bad-watch, forbid, unforbid, exceed-quota, exec-protocols, reset"}
        except KeyError as e:
            return 400, {"error": f"missing field {e}"}
        except errors.ApiError as e:
            return e.code, e.status()
        return 200, self.state()
