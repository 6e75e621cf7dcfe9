"""Admission the real API server applies to pods: the ServiceAccount plugin
(the service account must exist; its token, the cluster CA and the namespace
are mounted at /var/run/secrets/kubernetes.io/serviceaccount)."""

import random

from . import errors
from .resources import find

SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def admit_pod(cluster, ns, pod):
    spec = pod.setdefault("spec", {})
    sa_name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    sa = cluster.store.try_get(find("", "v1", "serviceaccounts"), ns, sa_name)
    if sa is None:
        name = pod.get("metadata", {}).get("name") or pod.get("metadata", {}).get("generateName", "")
        raise errors.ApiError(403, "Forbidden", f'pods "{name}" is forbidden: error looking up service account '
                              f'{ns}/{sa_name}: serviceaccount "{sa_name}" not found', {"name": name, "kind": "pods"})
    auto = spec.get("automountServiceAccountToken")
    if auto is None:
        auto = sa.get("automountServiceAccountToken")
    if auto is False:
        return
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if any(m.get("mountPath") == SA_PATH for c in containers for m in c.get("volumeMounts") or []):
        return
    vol = "kube-api-access-" + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    spec.setdefault("volumes", []).append({"name": vol, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
    for c in containers:
        c.setdefault("volumeMounts", []).append({"name": vol, "readOnly": True, "mountPath": SA_PATH})
