"""Discovery documents (/api, /apis, group versions, /version) and the OpenAPI v3
stubs kubectl reads to learn that the server supports `fieldValidation`."""

import hashlib
import json

from .resources import GROUPS, by_group

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kiln-test", "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
           "platform": "linux/amd64"}


def api_versions():
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def _group(g):
    vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in GROUPS[g]]
    return {"name": g, "versions": vs, "preferredVersion": vs[0]}


def api_group_list():
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in GROUPS if g]}


def api_group(g):
    return dict(kind="APIGroup", apiVersion="v1", **_group(g))


# The kinds a real server puts in the "all" category (kubectl get all).
ALL_CATEGORY = {"Pod", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def resource_list(group, version):
    rs = []
    for r in by_group(group):
        if r.version != version:
            continue
        item = {"name": r.plural, "singularName": r.sing, "namespaced": r.namespaced, "kind": r.kind,
                "verbs": list(r.verbs)}
        if r.short:
            item["shortNames"] = list(r.short)
        if r.kind in ALL_CATEGORY:
            item["categories"] = ["all"]
        item["storageVersionHash"] = hashlib.sha256(r.kind.encode()).hexdigest()[:12]
        rs.append(item)
        for sub in r.subresources:
            verbs = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "log": ["get"], "exec": ["create", "get"], "attach": ["create", "get"],
                     "proxy": ["create", "delete", "get", "patch", "update"], "eviction": ["create"],
                     "binding": ["create"], "portforward": ["create", "get"], "finalize": ["update"],
                     "token": ["create"], "ephemeralcontainers": ["get", "patch", "update"]}[sub]
            kind = {"scale": "Scale", "log": "Pod", "exec": "PodExecOptions", "attach": "PodAttachOptions",
                    "proxy": "PodProxyOptions" if r.kind == "Pod" else ("ServiceProxyOptions" if r.kind == "Service" else "NodeProxyOptions"),
                    "eviction": "Eviction", "binding": "Binding", "portforward": "PodPortForwardOptions",
                    "token": "TokenRequest"}.get(sub, r.kind)
            s = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs}
            if sub == "scale":
                s["group"], s["version"] = "autoscaling", "v1"
            if sub == "eviction":
                s["group"], s["version"] = "policy", "v1"
            if sub == "token":
                s["group"], s["version"] = "authentication.k8s.io", "v1"
            rs.append(s)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rs}


def _gv_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _gv_hash(group, version):
    return hashlib.sha512(json.dumps(openapi_v3_gv(group, version), sort_keys=True).encode()).hexdigest().upper()[:128]


def openapi_v3_root():
    paths = {}
    for g, vs in GROUPS.items():
        for v in vs:
            p = _gv_path(g, v)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={_gv_hash(g, v)}"}
    return {"paths": paths}


def openapi_v3_gv(group, version):
    """Only what kubectl inspects: one PATCH operation per kind that accepts the
    fieldValidation query parameter (so kubectl leaves validation to the server)."""
    paths = {}
    prefix = "/" + _gv_path(group, version)
    for r in by_group(group):
        if r.version != version:
            continue
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        p = f"{prefix}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced else f"{prefix}/{r.plural}/{{name}}"
        params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                  for n in ("dryRun", "fieldManager", "fieldValidation", "force")]
        op = {"operationId": f"patch{r.kind}", "parameters": params,
              "responses": {"200": {"description": "OK"}},
              "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk}
        post = dict(op, operationId=f"create{r.kind}", **{"x-kubernetes-action": "post"})
        paths[p] = {"patch": op, "put": dict(op, operationId=f"replace{r.kind}", **{"x-kubernetes-action": "put"})}
        coll = p.rsplit("/", 1)[0]
        paths[coll] = {"post": post}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}
