"""Defaulting the API server applies on create/update (what `get -o yaml` shows)."""

import base64
import itertools

_ip = itertools.count(10)


def _container(c):
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    img = c.get("image") or ""
    tag = img.rsplit("/", 1)[-1]
    c.setdefault("imagePullPolicy", "Always" if ("@" not in img and (":" not in tag or tag.endswith(":latest"))) else "IfNotPresent")
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        vf = e.get("valueFrom") or {}
        if "fieldRef" in vf:
            vf["fieldRef"].setdefault("apiVersion", "v1")


def pod_spec(spec, restart="Always"):
    spec.setdefault("restartPolicy", restart)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        if isinstance(c, dict):
            _container(c)
    for v in spec.get("volumes") or []:
        for src in ("secret", "configMap"):
            if src in v and isinstance(v[src], dict):
                v[src].setdefault("defaultMode", 420)
    for t in spec.get("tolerations") or []:
        pass


def _template(obj, restart="Always"):
    spec = obj.setdefault("spec", {})
    tmpl = spec.setdefault("template", {})
    tmpl.setdefault("metadata", {})
    pod_spec(tmpl.setdefault("spec", {}), restart)
    return spec


def apply_defaults(res, obj, old=None):
    k = res.kind
    if k == "Pod":
        spec = obj.setdefault("spec", {})
        pod_spec(spec)
        spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tol = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(t.get("key") == key for t in tol if isinstance(t, dict)):
                tol.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    elif k == "Deployment":
        spec = _template(obj)
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif k == "ReplicaSet":
        _template(obj).setdefault("replicas", 1)
    elif k == "StatefulSet":
        spec = _template(obj)
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    elif k == "DaemonSet":
        spec = _template(obj)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    elif k == "Job":
        spec = _template(obj, "Never")
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        uid_label = {"controller-uid": obj["metadata"].get("uid", ""), "job-name": obj["metadata"].get("name", "")}
        if "selector" not in spec and obj["metadata"].get("uid"):
            spec["selector"] = {"matchLabels": {"controller-uid": uid_label["controller-uid"]}}
            spec["template"]["metadata"].setdefault("labels", {}).update(uid_label)
    elif k == "CronJob":
        spec = obj.setdefault("spec", {})
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        jt = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        t = jt.setdefault("template", {})
        pod_spec(t.setdefault("spec", {}), "Never")
    elif k == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            if old and (old.get("spec") or {}).get("clusterIP"):
                spec.setdefault("clusterIP", old["spec"]["clusterIP"])
            if "clusterIP" not in spec:
                n = next(_ip)
                spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif k == "Secret":
        obj.setdefault("type", "Opaque")
        sd = obj.pop("stringData", None)
        if sd:
            data = obj.setdefault("data", {})
            for kk, v in sd.items():
                data[kk] = base64.b64encode(str(v).encode()).decode()
    elif k == "Namespace":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
    elif k == "PersistentVolumeClaim":
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")
    elif k == "Event":
        obj.setdefault("type", "Normal")
        obj.setdefault("count", 1)
