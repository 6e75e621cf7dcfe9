"""Test-only fault switches: POST /_test/faults with a JSON body, e.g.
{"action": "evict", "namespace": "default", "pod": "p"}
{"action": "oomkill", "namespace": "default", "pod": "p", "container": "c"}
{"action": "drop-watches"}
{"action": "delay-scheduling", "seconds": 5}
{"action": "fail-requests", "code": 429|500, "count": N, "pathContains": "/pods", "retryAfter": 1}
{"action": "add-token", "token": "t", "user": "u"} / {"action": "revoke-token", "token": "t"}
{"action": "compact"}   (forget the watch history: older resourceVersions give 410)
{"action": "bad-watch", "mode": "garbage"|"endless", "count": 1}   (the next watches misbehave)
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

    def state(self):
        return {"watchGeneration": self.watch_generation, "scheduleDelaySeconds": self.schedule_delay,
                "failRequests": [{"code": c, "remaining": n, "pathContains": p} for c, n, p, _ in self.fail]}

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
            elif act == "reset":
                with self.lock:
                    self.fail = []
                    self.bad_watch = []
                self.schedule_delay = 0.0
            else:
                return 400, {"error": f"unknown action {act!r}; known: drop-watches, delay-scheduling, fail-requests, evict, oomkill, add-token, revoke-token, compact, bad-watch, reset"}
        except KeyError as e:
            return 400, {"error": f"missing field {e}"}
        except errors.ApiError as e:
            return e.code, e.status()
        return 200, self.state()
