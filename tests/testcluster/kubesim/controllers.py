"""Controllers: deployments -> replicasets -> pods, statefulsets, daemonsets,
jobs, endpoints, garbage collection of dependents, namespace termination.
Level-triggered: any change kicks a full resync (object counts are tiny)."""

import calendar
import copy
import hashlib
import math
import json
import queue
import threading
import time

from . import errors
from .resources import find, RESOURCES
from .labelsel import label_selector_from_object
from .store import now

R = lambda g, p: find(g, "v1", p)  # noqa: E731
PODS = R("", "pods")


def _owner_ref(o, res):
    return {"apiVersion": res.group_version, "kind": res.kind, "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _owned_by(o, uid):
    return any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])


def _active(p):
    return (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not p["metadata"].get("deletionTimestamp")


def _ready(p):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or [])


def _drop_nulls(o):
    if isinstance(o, dict):
        return {k: _drop_nulls(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [_drop_nulls(v) for v in o]
    return o


def _hash(tmpl):
    # null and absent are the same Go value (e.g. creationTimestamp: null, which
    # kubectl rollout undo sends back): they must give the same template hash
    h = hashlib.sha256(json.dumps(_drop_nulls(tmpl), sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    n = int(h[:16], 16)
    out = ""
    for _ in range(10):
        out += alphabet[n % len(alphabet)]
        n //= len(alphabet)
    return out


def _resolve(v, total, round_up):
    if isinstance(v, str) and v.endswith("%"):
        x = total * int(v[:-1]) / 100
        return int(math.ceil(x)) if round_up else int(math.floor(x))
    return int(v)


def _cond(typ, status, reason, message, old=None):
    t = now()
    if old and old.get("type") == typ and old.get("status") == status:
        t = old.get("lastTransitionTime", t)
    return {"type": typ, "status": status, "lastUpdateTime": t, "lastTransitionTime": t, "reason": reason, "message": message}


class Controllers:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.q = queue.Queue()
        self.store.subscribe(self.q)
        self._kick = threading.Event()

    def start(self):
        threading.Thread(target=self.loop, daemon=True, name="controllers").start()

    def kick(self):
        self._kick.set()

    def loop(self):
        while not self.cluster.stopping:
            try:
                self.q.get(timeout=2)
            except queue.Empty:
                pass
            time.sleep(0.05)
            while not self.q.empty():
                self.q.get_nowait()
            self._kick.clear()
            try:
                self.resync()
            except Exception:  # keep the controller alive; a bug shows in the log
                import traceback
                traceback.print_exc()

    def resync(self):
        self.prune_events()
        self.namespaces()
        self.gc()
        for d in self.store.list(R("apps", "deployments"))[0]:
            self.deployment(d)
        for rs in self.store.list(R("apps", "replicasets"))[0]:
            self.replicaset(rs)
        for s in self.store.list(R("apps", "statefulsets"))[0]:
            self.statefulset(s)
        for ds in self.store.list(R("apps", "daemonsets"))[0]:
            self.daemonset(ds)
        for j in self.store.list(R("batch", "jobs"))[0]:
            self.job(j)
        self.endpoints()

    def prune_events(self, keep=2000):
        """Core events expire in a real cluster (1 h TTL); here the oldest go beyond `keep`."""
        evres = R("", "events")
        evs = self.store.list(evres)[0]
        if len(evs) <= keep:
            return
        evs.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
        for e in evs[:len(evs) - keep]:
            try:
                self.store.delete(evres, e["metadata"]["namespace"], e["metadata"]["name"])
            except errors.ApiError:
                pass

    # -- garbage collection ---------------------------------------------------
    def gc(self):
        objs = self.store.all_objects()
        uids = {o["metadata"]["uid"] for _, o in objs}
        for rk, o in objs:
            refs = o["metadata"].get("ownerReferences") or []
            if refs and not any(r.get("uid") in uids for r in refs):
                res = self.cluster._res_by_key(rk)
                try:
                    self.cluster.delete_object(res, o["metadata"].get("namespace"), o["metadata"]["name"], o, "Background")
                except errors.ApiError:
                    pass

    def namespaces(self):
        nsres = R("", "namespaces")
        for ns in self.store.list(nsres)[0]:
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name = ns["metadata"]["name"]
            left = 0
            for res in RESOURCES:
                if not res.namespaced:
                    continue
                for o in self.store.list(res, name)[0]:
                    left += 1
                    try:
                        self.cluster.delete_object(res, name, o["metadata"]["name"], o, "Background")
                    except errors.ApiError:
                        pass
            if left == 0:
                try:
                    self.store.delete(nsres, None, name)
                except errors.ApiError:
                    pass

    # -- workloads ---------------------------------------------------------------
    def _pods_of(self, o):
        return [p for p in self.store.list(PODS, o["metadata"]["namespace"])[0] if _owned_by(p, o["metadata"]["uid"])]

    def _event(self, obj, res, reason, message, component, typ="Normal"):
        """An Event about a workload, as the controllers of kube-controller-manager record them."""
        ns = obj["metadata"]["namespace"]
        ev = {"metadata": {"generateName": obj["metadata"]["name"] + "."},
              "involvedObject": {"kind": res.kind, "namespace": ns, "name": obj["metadata"]["name"],
                                 "uid": obj["metadata"]["uid"], "apiVersion": res.group_version,
                                 "resourceVersion": obj["metadata"].get("resourceVersion", "")},
              "reason": reason, "message": message, "type": typ, "source": {"component": component},
              "firstTimestamp": now(), "lastTimestamp": now(), "count": 1, "reportingComponent": component,
              "reportingInstance": ""}
        try:
            self.store.create(R("", "events"), ns, ev)
        except errors.ApiError:
            pass

    def _new_pod(self, owner, res, tmpl, name=None, extra_labels=None):
        meta = copy.deepcopy(tmpl.get("metadata") or {})
        meta.pop("name", None)
        meta.pop("namespace", None)
        meta.setdefault("labels", {}).update(extra_labels or {})
        if name:
            meta["name"] = name
        else:
            meta["generateName"] = owner["metadata"]["name"] + "-"
        meta["ownerReferences"] = [_owner_ref(owner, res)]
        pod = {"metadata": meta, "spec": copy.deepcopy(tmpl.get("spec") or {})}
        from . import defaults
        from .admission import admit_pod
        defaults.apply_defaults(PODS, pod)
        try:
            admit_pod(self.cluster, owner["metadata"]["namespace"], pod)
        except errors.ApiError:
            return   # like the real controllers: retried on the next resync (an event would say why)
        pod["status"] = {"phase": "Pending", "qosClass": self.cluster.qos_class(pod)}
        from .patch import record_update
        record_update(None, pod, "kube-controller-manager", "v1")
        try:
            created = self.store.create(PODS, owner["metadata"]["namespace"], pod)
        except errors.ApiError:
            return
        pname = created["metadata"]["name"]
        if res.kind == "StatefulSet":
            self._event(owner, res, "SuccessfulCreate", f"create Pod {pname} in StatefulSet "
                        f"{owner['metadata']['name']} successful", "statefulset-controller")
        else:
            component = {"ReplicaSet": "replicaset-controller", "Job": "job-controller",
                         "DaemonSet": "daemonset-controller"}.get(res.kind, "kube-controller-manager")
            self._event(owner, res, "SuccessfulCreate", f"Created pod: {pname}", component)

    def _set_status(self, res, o, status):
        if (o.get("status") or {}) == status:
            return
        self.store.mutate(res, o["metadata"]["namespace"], o["metadata"]["name"],
                          lambda x: x.__setitem__("status", status), subresource="status")

    def deployment(self, d):
        res_d, res_rs = R("apps", "deployments"), R("apps", "replicasets")
        ns, spec = d["metadata"]["namespace"], d["spec"]
        tmpl = copy.deepcopy(spec["template"])
        h = _hash(tmpl)
        rses = [rs for rs in self.store.list(res_rs, ns)[0] if _owned_by(rs, d["metadata"]["uid"])]
        new = next((rs for rs in rses if rs["metadata"].get("labels", {}).get("pod-template-hash") == h), None)
        replicas = spec.get("replicas", 1)
        revs = [int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")) for rs in rses]
        if new is None:
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            sel = copy.deepcopy(spec["selector"])
            sel.setdefault("matchLabels", {})["pod-template-hash"] = h
            rs = {"metadata": {"name": f'{d["metadata"]["name"]}-{h}', "labels": dict(tmpl["metadata"]["labels"]),
                               "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                               "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                               "deployment.kubernetes.io/revision": str(max(revs + [0]) + 1)},
                               "ownerReferences": [_owner_ref(d, res_d)]},
                  "spec": {"replicas": 0, "selector": sel, "template": tmpl}}
            from . import defaults
            defaults.apply_defaults(res_rs, rs)
            try:
                new = self.store.create(res_rs, ns, rs)
            except errors.ApiError:
                return
        else:
            # a rollback (or a template changed back) reuses an old replicaset: it becomes the newest revision
            mine = int(new["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))
            if mine < max(revs + [0]):
                bump = str(max(revs) + 1)
                new = self.store.mutate(res_rs, ns, new["metadata"]["name"],
                                        lambda x: x["metadata"].setdefault("annotations", {}).__setitem__(
                                            "deployment.kubernetes.io/revision", bump)) or new
        olds = [rs for rs in rses if rs["metadata"]["uid"] != new["metadata"]["uid"]]
        if not spec.get("paused"):
            self._scale(d, new, olds, replicas)
        pods = [p for rs in rses + [new] for p in self._pods_of(rs) if _active(p)]
        seen = set()
        pods = [p for p in pods if not (p["metadata"]["uid"] in seen or seen.add(p["metadata"]["uid"]))]
        newpods = [p for p in pods if _owned_by(p, new["metadata"]["uid"])]
        ready = [p for p in pods if _ready(p)]
        old_st = d.get("status") or {}
        oldc = {c["type"]: c for c in old_st.get("conditions") or []}
        avail = len([p for p in newpods if _ready(p)])
        complete = len(newpods) == replicas and avail == replicas and len(pods) == replicas
        st = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": len(pods),
              "updatedReplicas": len(newpods), "readyReplicas": len(ready), "availableReplicas": len(ready)}
        if len(pods) - len(ready) > 0:
            st["unavailableReplicas"] = len(pods) - len(ready)
        st = {k: v for k, v in st.items() if v or k in ("observedGeneration",)}
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        min_avail = replicas - (_resolve(ru.get("maxUnavailable", "25%"), replicas, False)
                                if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else replicas)
        has_min = len(ready) >= max(0, min_avail)
        conds = [
            _cond("Available", "True" if has_min else "False",
                  "MinimumReplicasAvailable" if has_min else "MinimumReplicasUnavailable",
                  "Deployment has minimum availability." if has_min else "Deployment does not have minimum availability.",
                  oldc.get("Available")),
            self._progressing(d, new, complete, st, old_st, oldc.get("Progressing")),
        ]
        o = oldc.get("Available")
        if o and o.get("status") == conds[0]["status"] and o.get("reason") == conds[0]["reason"]:
            conds[0]["lastUpdateTime"] = o.get("lastUpdateTime", conds[0]["lastUpdateTime"])
        st["conditions"] = conds
        self._set_status(res_d, d, st)
        rev = new["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
        if rev and d["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision") != rev:
            # metadata is not writable through the status subresource: the real controller updates the object
            self.store.mutate(res_d, ns, d["metadata"]["name"],
                              lambda x: x["metadata"].setdefault("annotations", {}).__setitem__("deployment.kubernetes.io/revision", rev))

    def _progressing(self, d, new, complete, st, old_st, old):
        rsname = new["metadata"]["name"]
        if complete:
            c = _cond("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rsname}" has successfully progressed.', old)
            if old and old.get("reason") == "NewReplicaSetAvailable":
                c["lastUpdateTime"] = old.get("lastUpdateTime", c["lastUpdateTime"])
            return c
        counts = lambda x: tuple(x.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"))
        progressed = counts(st) != counts(old_st) or old is None or old.get("message", "").find(f'"{rsname}"') < 0
        if progressed or old.get("reason") == "NewReplicaSetAvailable":
            return _cond("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rsname}" is progressing.', old)
        if old.get("reason") == "ProgressDeadlineExceeded":
            return old
        deadline = d["spec"].get("progressDeadlineSeconds", 600)
        last = old.get("lastUpdateTime") or now()
        since = time.time() - calendar.timegm(time.strptime(last, "%Y-%m-%dT%H:%M:%SZ"))
        if since > deadline:
            return _cond("Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rsname}" has timed out progressing.', old)
        return old

    def _scale(self, d, new, olds, replicas):
        """Rolling update (maxSurge/maxUnavailable) or Recreate, one step per resync."""
        res_rs = R("apps", "replicasets")
        ns = d["metadata"]["namespace"]

        def set_rep(rs, n):
            cur = rs["spec"].get("replicas", 0)
            if cur != n:
                self.store.mutate(res_rs, ns, rs["metadata"]["name"], lambda x: x["spec"].__setitem__("replicas", n))
                rs["spec"]["replicas"] = n
                self._event(d, R("apps", "deployments"), "ScalingReplicaSet",
                            f"Scaled {'up' if n > cur else 'down'} replica set {rs['metadata']['name']} from {cur} to {n}",
                            "deployment-controller")
        strategy = d["spec"].get("strategy") or {}
        old_pods = [p for rs in olds for p in self._pods_of(rs) if _active(p)]
        if strategy.get("type") == "Recreate":
            for rs in olds:
                set_rep(rs, 0)
            if not old_pods:
                set_rep(new, replicas)
            return
        if not olds or (not old_pods and all(rs["spec"].get("replicas", 0) == 0 for rs in olds)):
            set_rep(new, replicas)
            return
        ru = strategy.get("rollingUpdate") or {}
        surge = _resolve(ru.get("maxSurge", "25%"), replicas, True)
        unavail = _resolve(ru.get("maxUnavailable", "25%"), replicas, False)
        if surge == 0 and unavail == 0:
            unavail = 1
        old_total = sum(rs["spec"].get("replicas", 0) for rs in olds)
        cur_new = new["spec"].get("replicas", 0)
        set_rep(new, min(replicas, max(cur_new, replicas + surge - old_total)))
        new_pods = [p for p in self._pods_of(new) if _active(p)]
        available = len([p for p in new_pods + old_pods if _ready(p)])
        can_remove = available - (replicas - unavail)
        for rs in sorted(olds, key=lambda r: r["metadata"]["creationTimestamp"]):
            cur = rs["spec"].get("replicas", 0)
            if cur == 0:
                continue
            unready = len([p for p in self._pods_of(rs) if _active(p) and not _ready(p)])
            remove = min(cur, unready + max(0, can_remove))
            if remove > 0:
                set_rep(rs, cur - remove)
                can_remove -= max(0, remove - unready)

    def replicaset(self, rs):
        res = R("apps", "replicasets")
        pods = [p for p in self._pods_of(rs) if _active(p)]
        want = rs["spec"].get("replicas", 1)
        tmpl = rs["spec"]["template"]
        for _ in range(want - len(pods)):
            self._new_pod(rs, res, tmpl)
        if len(pods) > want:
            for p in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[:len(pods) - want]:
                try:
                    self.cluster.delete_object(PODS, p["metadata"]["namespace"], p["metadata"]["name"], p)
                except errors.ApiError:
                    pass
        pods = [p for p in self._pods_of(rs) if _active(p)]
        ready = len([p for p in pods if _ready(p)])
        st = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
              "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        self._set_status(res, rs, {k: v for k, v in st.items() if v or k in ("replicas", "observedGeneration")})

    def statefulset(self, s):
        res = R("apps", "statefulsets")
        want = s["spec"].get("replicas", 1)
        pods = {p["metadata"]["name"]: p for p in self._pods_of(s)}
        name = s["metadata"]["name"]
        for i in range(want):
            pn = f"{name}-{i}"
            if pn not in pods:
                if i > 0 and s["spec"].get("podManagementPolicy") != "Parallel" and not _ready(pods.get(f"{name}-{i-1}", {"status": {}})):
                    break
                self._new_pod(s, res, s["spec"]["template"], name=pn,
                              extra_labels={"statefulset.kubernetes.io/pod-name": pn, "apps.kubernetes.io/pod-index": str(i)})
                break
        for pn, p in pods.items():
            idx = pn.rsplit("-", 1)[-1]
            if idx.isdigit() and int(idx) >= want and _active(p):
                self.cluster.delete_object(PODS, p["metadata"]["namespace"], pn, p)
        pods = [p for p in self._pods_of(s) if _active(p)]
        ready = len([p for p in pods if _ready(p)])
        st = {"observedGeneration": s["metadata"].get("generation", 1), "replicas": len(pods), "readyReplicas": ready,
              "currentReplicas": len(pods), "updatedReplicas": len(pods), "availableReplicas": ready}
        self._set_status(res, s, {k: v for k, v in st.items() if v or k in ("replicas", "observedGeneration")})

    def daemonset(self, ds):
        res = R("apps", "daemonsets")
        pods = [p for p in self._pods_of(ds) if _active(p)]
        if not pods:
            self._new_pod(ds, res, ds["spec"]["template"])
        pods = [p for p in self._pods_of(ds) if _active(p)]
        ready = len([p for p in pods if _ready(p)])
        st = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": 1, "numberMisscheduled": 0,
              "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": len(pods),
              "observedGeneration": ds["metadata"].get("generation", 1)}
        if 1 - ready:
            st["numberUnavailable"] = 1 - ready
        self._set_status(res, ds, st)

    def job(self, j):
        res = R("batch", "jobs")
        st = copy.deepcopy(j.get("status") or {})
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in st.get("conditions") or []):
            return
        if j["spec"].get("suspend"):
            return
        pods = self._pods_of(j)
        succeeded = len([p for p in pods if p["status"].get("phase") == "Succeeded"])
        failed = len([p for p in pods if p["status"].get("phase") == "Failed"])
        active = [p for p in pods if _active(p)]
        st.setdefault("startTime", now())
        st.update({"succeeded": succeeded, "failed": failed, "active": len(active)})
        st = {k: v for k, v in st.items() if v or k in ("startTime",)}
        if succeeded >= j["spec"].get("completions", 1):
            st["completionTime"] = now()
            self._event(j, res, "Completed", "Job completed", "job-controller")
            st["conditions"] = [_cond("Complete", "True", "", ""), _cond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods")]
            st.pop("active", None)
        elif failed > j["spec"].get("backoffLimit", 6):
            st["conditions"] = [_cond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]
            self._event(j, res, "BackoffLimitExceeded", "Job has reached the specified backoff limit", "job-controller",
                        "Warning")
            st.pop("active", None)
        elif not active:
            labels = {"job-name": j["metadata"]["name"], "batch.kubernetes.io/job-name": j["metadata"]["name"],
                      "controller-uid": j["metadata"]["uid"], "batch.kubernetes.io/controller-uid": j["metadata"]["uid"]}
            self._new_pod(j, res, j["spec"]["template"], extra_labels=labels)
        self._set_status(res, j, st)

    # -- endpoints ---------------------------------------------------------------
    def endpoints(self):
        svcres, epres = R("", "services"), R("", "endpoints")
        svcs = self.store.list(svcres)[0]
        names = set()
        for s in svcs:
            ns, name = s["metadata"]["namespace"], s["metadata"]["name"]
            sel = (s.get("spec") or {}).get("selector")
            if not sel:
                continue
            names.add((ns, name))
            pods = [p for p in self.store.list(PODS, ns)[0] if label_selector_from_object({"matchLabels": sel})(p["metadata"].get("labels"))
                    and (p.get("status") or {}).get("podIP") and _active(p)]
            ready = [p for p in pods if _ready(p)]
            notready = [p for p in pods if not _ready(p)]
            ports = []
            for sp in s["spec"].get("ports") or []:
                tp = sp.get("targetPort", sp.get("port"))
                if isinstance(tp, str) and not tp.isdigit():
                    num = None
                    for p in pods:
                        for c in p["spec"].get("containers") or []:
                            for cp in c.get("ports") or []:
                                if cp.get("name") == tp:
                                    num = cp.get("containerPort")
                    if num is None:
                        continue
                    tp = num
                e = {"port": int(tp), "protocol": sp.get("protocol", "TCP")}
                if sp.get("name"):
                    e["name"] = sp["name"]
                ports.append(e)

            def addr(p):
                return {"ip": p["status"]["podIP"], "nodeName": p["spec"].get("nodeName"),
                        "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}
            subsets = []
            if pods and ports:
                sub = {"ports": ports}
                if ready:
                    sub["addresses"] = [addr(p) for p in ready]
                if notready:
                    sub["notReadyAddresses"] = [addr(p) for p in notready]
                subsets = [sub]
            cur = self.store.try_get(epres, ns, name)
            body = {"metadata": {"name": name, "labels": dict(s["metadata"].get("labels") or {})}}
            if subsets:
                body["subsets"] = subsets
            if cur is None:
                try:
                    self.store.create(epres, ns, body)
                except errors.ApiError:
                    pass
            elif cur.get("subsets") != body.get("subsets"):
                def upd(x, subsets=subsets):
                    if subsets:
                        x["subsets"] = subsets
                    else:
                        x.pop("subsets", None)
                self.store.mutate(epres, ns, name, upd)
        for e in self.store.list(epres)[0]:
            key = (e["metadata"]["namespace"], e["metadata"]["name"])
            if key not in names and self.store.try_get(svcres, *key) is None:
                try:
                    self.store.delete(epres, *key)
                except errors.ApiError:
                    pass
