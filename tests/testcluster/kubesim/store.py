"""In-memory object store: one global resourceVersion counter, optimistic
concurrency, and a bounded event history for watches."""

import collections
import copy
import datetime
import json
import threading
import uuid

from . import errors

HISTORY = 1000


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Event = collections.namedtuple("Event", "rv type res obj old")


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 1
        self.objects = collections.defaultdict(dict)   # res.key -> {(ns, name): obj}
        self.events = collections.deque(maxlen=HISTORY)
        self.subscribers = []
        self.names = 0
        self.compacted = 0   # resourceVersions at or below this are no longer watchable

    # -- helpers -------------------------------------------------------------
    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _emit(self, typ, res, obj, old=None):
        ev = Event(int(obj["metadata"]["resourceVersion"]), typ, res, copy.deepcopy(obj),
                   copy.deepcopy(old) if old is not None else None)
        self.events.append(ev)
        self.cond.notify_all()
        for q in self.subscribers:
            q.put(ev)

    def subscribe(self, q):
        with self.lock:
            self.subscribers.append(q)

    def oldest_rv(self):
        with self.lock:
            return max(self.events[0].rv if self.events else self.rv, self.compacted + 1)

    def _gen_name(self, prefix):
        import random
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return prefix + "".join(random.choice(alphabet) for _ in range(5))

    # -- reads ---------------------------------------------------------------
    def get(self, res, ns, name):
        with self.lock:
            o = self.objects[res.key].get((ns or "", name))
            if o is None:
                raise errors.not_found(res, name)
            return copy.deepcopy(o)

    def try_get(self, res, ns, name):
        with self.lock:
            o = self.objects[res.key].get((ns or "", name))
            return copy.deepcopy(o) if o is not None else None

    def list(self, res, ns=None, pred=None):
        with self.lock:
            items = [copy.deepcopy(o) for (ons, _), o in sorted(self.objects[res.key].items())
                     if (ns is None or ons == ns) and (pred is None or pred(o))]
            return items, self.rv

    # -- writes --------------------------------------------------------------
    def create(self, res, ns, obj, manager=None):
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if res.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            if not meta.get("name"):
                for _ in range(10):
                    cand = self._gen_name(meta["generateName"])
                    if (ns or "", cand) not in self.objects[res.key]:
                        break
                meta["name"] = cand
            key = (ns if res.namespaced else "", meta["name"])
            if key in self.objects[res.key]:
                raise errors.already_exists(res, meta["name"])
            if res.namespaced and ns:
                from .resources import find
                nsres = find("", "v1", "namespaces")
                nso = self.objects[nsres.key].get(("", ns))
                if nso is None:
                    raise errors.ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                                          {"name": ns, "kind": "namespaces"})
                if nso.get("metadata", {}).get("deletionTimestamp"):
                    raise errors.ApiError(403, "Forbidden",
                                          f'{res.plural} "{meta["name"]}" is forbidden: unable to create new content in namespace {ns} because it is being terminated',
                                          {"name": meta["name"], "kind": res.plural, "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated", "field": "metadata.namespace"}]})
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())   # api.create may have chosen it (Job selectors)
            meta["creationTimestamp"] = now()
            meta.pop("deletionTimestamp", None)
            meta.pop("deletionGracePeriodSeconds", None)
            if res.kind not in ("Secret", "ConfigMap", "ServiceAccount", "Event", "Endpoints", "Namespace", "Node", "Pod"):
                meta["generation"] = 1
            meta["resourceVersion"] = str(self._next_rv())
            obj["apiVersion"] = res.group_version
            obj["kind"] = res.kind
            self.objects[res.key][key] = obj
            self._emit("ADDED", res, obj)
            return copy.deepcopy(obj)

    def update(self, res, ns, name, obj, subresource=None, check_rv=True):
        """Replace; subresource 'status' keeps the spec, otherwise the status is kept."""
        with self.lock:
            key = (ns if res.namespaced else "", name)
            cur = self.objects[res.key].get(key)
            if cur is None:
                raise errors.not_found(res, name)
            meta = obj.setdefault("metadata", {})
            want = meta.get("resourceVersion")
            if check_rv and want and want != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(res, name)
            if meta.get("uid") and meta["uid"] != cur["metadata"]["uid"]:
                raise errors.conflict(res, name, f'Precondition failed: UID in precondition: {meta["uid"]}, UID in object meta: {cur["metadata"]["uid"]}')
            new = copy.deepcopy(obj)
            nmeta = new["metadata"]
            for k in ("uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp",
                      "deletionGracePeriodSeconds"):
                if k in cur["metadata"]:
                    nmeta[k] = cur["metadata"][k]
                else:
                    nmeta.pop(k, None)
            if res.has_status:
                if subresource == "status":
                    for k in list(new.keys()):
                        if k not in ("status", "metadata", "apiVersion", "kind"):
                            del new[k]
                    for k, v in cur.items():
                        if k not in ("status", "metadata"):
                            new[k] = copy.deepcopy(v)
                    nmeta.clear()
                    nmeta.update(copy.deepcopy(cur["metadata"]))
                else:
                    if "status" in cur:
                        new["status"] = copy.deepcopy(cur["status"])
                    else:
                        new.pop("status", None)
            new["apiVersion"] = res.group_version
            new["kind"] = res.kind
            if "generation" in nmeta and subresource != "status":
                strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}
                if strip(new) != strip(cur):
                    nmeta["generation"] = cur["metadata"].get("generation", 1) + 1
            if json.dumps(new, sort_keys=True) == json.dumps(cur, sort_keys=True):
                return copy.deepcopy(cur)
            nmeta["resourceVersion"] = str(self._next_rv())
            self.objects[res.key][key] = new
            self._emit("MODIFIED", res, new, cur)
            return copy.deepcopy(new)

    def mutate(self, res, ns, name, fn, subresource=None, raw=False):
        """Read-modify-write under the lock (controllers, kubelet). raw: the
        system itself writes, metadata included (deletion marks)."""
        with self.lock:
            cur = self.try_get(res, ns, name)
            if cur is None:
                return None
            if raw:
                key = (ns if res.namespaced else "", name)
                fn(cur)
                cur["metadata"]["resourceVersion"] = str(self._next_rv())
                old = self.objects[res.key][key]
                self.objects[res.key][key] = cur
                self._emit("MODIFIED", res, cur, old)
                return copy.deepcopy(cur)
            fn(cur)
            return self.update(res, ns, name, cur, subresource=subresource, check_rv=False)

    def delete(self, res, ns, name, expect_uid=None, expect_rv=None):
        with self.lock:
            key = (ns if res.namespaced else "", name)
            cur = self.objects[res.key].get(key)
            if cur is None:
                raise errors.not_found(res, name)
            if expect_uid and expect_uid != cur["metadata"]["uid"]:
                raise errors.conflict(res, name, f'Precondition failed: UID in precondition: {expect_uid}, UID in object meta: {cur["metadata"]["uid"]}')
            if expect_rv and expect_rv != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(res, name, f'Precondition failed: ResourceVersion in precondition: {expect_rv}, ResourceVersion in object meta: {cur["metadata"]["resourceVersion"]}')
            del self.objects[res.key][key]
            gone = copy.deepcopy(cur)
            gone["metadata"]["resourceVersion"] = str(self._next_rv())
            self._emit("DELETED", res, gone, cur)
            return gone

    def find_uid(self, uid):
        with self.lock:
            for rk, objs in self.objects.items():
                for o in objs.values():
                    if o["metadata"]["uid"] == uid:
                        return o
        return None

    def all_objects(self):
        with self.lock:
            return [(rk, copy.deepcopy(o)) for rk, objs in self.objects.items() for o in objs.values()]

    def wait_events(self, after_rv, timeout):
        """Events with rv > after_rv, or raise Gone when history no longer covers it."""
        with self.lock:
            self._check_expired(after_rv)
            evs = [e for e in self.events if e.rv > after_rv]
            if not evs and timeout > 0:
                self.cond.wait(timeout)
                self._check_expired(after_rv)
                evs = [e for e in self.events if e.rv > after_rv]
            return evs, self.rv

    def _check_expired(self, after_rv):
        oldest = self.oldest_rv()
        if after_rv < oldest - 1:
            raise errors.gone(f"too old resource version: {after_rv} ({oldest - 1})")
