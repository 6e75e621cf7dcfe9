"""The resource types the test cluster serves, with the python3-kubernetes model
that defines each one's schema (field names and types, used by validation)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    model: str
    short: tuple = ()
    singular: str = ""
    subresources: tuple = ()
    has_status: bool = True
    verbs: tuple = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

    @property
    def group_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self):
        return (self.group, self.plural)

    @property
    def sing(self):
        return self.singular or self.kind.lower()


RESOURCES = [
    Resource("", "v1", "Namespace", "namespaces", False, "V1Namespace", ("ns",), subresources=("status", "finalize"),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Node", "nodes", False, "V1Node", ("no",), subresources=("status", "proxy")),
    Resource("", "v1", "Pod", "pods", True, "V1Pod", ("po",),
             subresources=("status", "log", "exec", "attach", "proxy", "eviction", "binding", "portforward", "ephemeralcontainers")),
    Resource("", "v1", "Service", "services", True, "V1Service", ("svc",), subresources=("status", "proxy"),
             verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    Resource("", "v1", "Endpoints", "endpoints", True, "V1Endpoints", ("ep",), singular="endpoints", has_status=False),
    Resource("", "v1", "Secret", "secrets", True, "V1Secret", has_status=False),
    Resource("", "v1", "ConfigMap", "configmaps", True, "V1ConfigMap", ("cm",), has_status=False),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, "V1ServiceAccount", ("sa",), subresources=("token",),
             has_status=False),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, "V1PersistentVolumeClaim", ("pvc",),
             subresources=("status",)),
    Resource("", "v1", "Event", "events", True, "CoreV1Event", ("ev",), has_status=False),
    Resource("apps", "v1", "Deployment", "deployments", True, "V1Deployment", ("deploy",), subresources=("status", "scale")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, "V1ReplicaSet", ("rs",), subresources=("status", "scale")),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, "V1DaemonSet", ("ds",), subresources=("status",)),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, "V1StatefulSet", ("sts",), subresources=("status", "scale")),
    Resource("batch", "v1", "Job", "jobs", True, "V1Job", subresources=("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", True, "V1CronJob", ("cj",), subresources=("status",)),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
             "V1SelfSubjectAccessReview", has_status=False, verbs=("create",)),
    # no python3-kubernetes model: tokens.py checks its few fields itself
    Resource("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False,
             "", has_status=False, verbs=("create",)),
]

GROUPS = {"": ["v1"], "apps": ["v1"], "batch": ["v1"], "authorization.k8s.io": ["v1"], "authentication.k8s.io": ["v1"]}

BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND = {(r.group_version, r.kind): r for r in RESOURCES}


def find(group, version, plural):
    return BY_PLURAL.get((group, version, plural))


def by_kind(api_version, kind):
    return BY_KIND.get((api_version, kind))


def by_group(group):
    return [r for r in RESOURCES if r.group == group]
