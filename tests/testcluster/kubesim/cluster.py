"""The cluster: store + bootstrap objects + deletion semantics (grace, owner
references, namespaces) + the wiring of controllers, kubelet and faults."""

import datetime

from . import errors
from .resources import find
from .store import Store, now

NODE = "kiln-test-node"

R = lambda g, p: find(g, "v1", p)  # noqa: E731


class Cluster:
    def __init__(self, state_dir, docker_host, verbose=False, ca_pem=""):
        self.state_dir = state_dir
        self.docker_host = docker_host
        self.verbose = verbose
        self.stopping = False
        self.store = Store()
        self.ca_pem = ca_pem
        self.tokens = {}
        self.api_port = None
        from .faults import Faults
        self.faults = Faults(self)
        self.kubelet = None
        self.controllers = None
        self._bootstrap()

    def start(self):
        from .controllers import Controllers
        from .kubelet import Kubelet
        self.kubelet = Kubelet(self)
        self.controllers = Controllers(self)
        self.kubelet.start()
        self.controllers.start()

    def _bootstrap(self):
        s = self.store
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            s.create(R("", "namespaces"), None, {"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                                                 "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
            self.namespace_added(ns)
        s.create(R("", "nodes"), None, {
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", "node-role.kubernetes.io/control-plane": ""}},
            "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status", "lastHeartbeatTime": now(),
                                       "lastTransitionTime": now()}],
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
                       "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                       "nodeInfo": {"kubeletVersion": "v1.32.0-kiln-test", "containerRuntimeVersion": "docker://20.10",
                                    "operatingSystem": "linux", "architecture": "amd64", "osImage": "kiln test node",
                                    "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}}})
        s.create(R("", "services"), "default", {"metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                                                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                                                         "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                                                         "sessionAffinity": "None"}, "status": {"loadBalancer": {}}})

    def namespace_added(self, ns):
        s = self.store
        try:
            s.create(R("", "serviceaccounts"), ns, {"metadata": {"name": "default"}})
        except errors.ApiError:
            pass
        try:
            s.create(R("", "configmaps"), ns, {"metadata": {"name": "kube-root-ca.crt",
                                                            "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
                                               "data": {"ca.crt": self.ca_pem}})
        except errors.ApiError:
            pass

    def on_created(self, res, obj):
        if res.kind == "Namespace":
            self.namespace_added(obj["metadata"]["name"])

    @staticmethod
    def qos_class(pod):
        cs = (pod.get("spec") or {}).get("containers") or []
        reqs = [((c.get("resources") or {}).get("requests") or {}, (c.get("resources") or {}).get("limits") or {}) for c in cs]
        if all(not r and not lim for r, lim in reqs):
            return "BestEffort"
        if all(lim.get("cpu") and lim.get("memory") and (not r or r == lim) for r, lim in reqs):
            return "Guaranteed"
        return "Burstable"

    # -- deletion ------------------------------------------------------------
    def dependents(self, uid):
        out = []
        for rk, o in self.store.all_objects():
            if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or []):
                out.append((rk, o))
        return out

    def delete_object(self, res, ns, name, cur, policy="Background", grace=None):
        uid = cur["metadata"]["uid"]
        if policy == "Orphan":
            for rk, o in self.dependents(uid):
                dres = self._res_by_key(rk)
                self.store.mutate(dres, o["metadata"].get("namespace"), o["metadata"]["name"],
                                  lambda x: x["metadata"].__setitem__("ownerReferences", [r for r in x["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]))
        elif policy == "Foreground":
            for rk, o in self.dependents(uid):
                dres = self._res_by_key(rk)
                try:
                    self.delete_object(dres, o["metadata"].get("namespace"), o["metadata"]["name"], o, "Foreground", grace)
                except errors.ApiError:
                    pass
        if res.kind == "Namespace":
            if name in ("default", "kube-system", "kube-public"):
                raise errors.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')

            def mark(o):
                o["metadata"].setdefault("deletionTimestamp", now())
                o["metadata"]["deletionGracePeriodSeconds"] = 0
                o.setdefault("status", {})["phase"] = "Terminating"
            new = self.store.mutate(res, None, name, mark, raw=True)
            if self.controllers:
                self.controllers.kick()
            return new
        if res.kind == "Pod":
            if grace is None:
                grace = (cur.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            phase = (cur.get("status") or {}).get("phase")
            if grace > 0 and (cur.get("spec") or {}).get("nodeName") and phase not in ("Succeeded", "Failed") \
                    and self.kubelet is not None and self.kubelet.has_worker(uid):
                if cur["metadata"].get("deletionTimestamp"):
                    return cur
                ts = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")

                def mark(o):
                    o["metadata"]["deletionTimestamp"] = ts
                    o["metadata"]["deletionGracePeriodSeconds"] = grace
                new = self.store.mutate(res, ns, name, mark, raw=True)
                return new
            gone = self.store.delete(res, ns, name)
            return gone
        gone = self.store.delete(res, ns, name)
        if self.controllers:
            self.controllers.kick()
        from .api import status_success
        return status_success(res, name, uid)

    def _res_by_key(self, key):
        from .resources import RESOURCES
        for r in RESOURCES:
            if r.key == key:
                return r
        raise KeyError(key)

    def evict(self, req, ns, name):
        res = R("", "pods")
        cur = self.store.get(res, ns, name)
        self.delete_object(res, ns, name, cur, "Background", None)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
