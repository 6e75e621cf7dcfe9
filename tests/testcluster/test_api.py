"""API semantics a real server has, checked over raw HTTPS."""

import json
import socket
import ssl
import time
import urllib.parse



def cm(name, data=None, **meta):
    m = {"name": name} if name else {}
    m.update(meta)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m, "data": data or {"k": "v"}}


def test_auth_required_and_both_credentials_work(cluster):
    st, _, body = cluster.request("GET", "/api/v1/namespaces", token=False)
    assert st == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"
    st, _, body = cluster.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer wrong"})
    assert st == 401
    st, _, body = cluster.request("GET", "/api/v1/namespaces")
    assert st == 200 and body["kind"] == "NamespaceList"


def test_not_found_status_shape(cluster, ns):
    st, _, body = cluster.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/nope")
    assert st == 404
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": 'deployments.apps "nope" not found', "reason": "NotFound",
                    "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404}


def test_create_conflict_generate_name_and_already_exists(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    st, _, a = cluster.request("POST", base, cm("a"))
    assert st == 201 and a["metadata"]["resourceVersion"]
    st, _, body = cluster.request("POST", base, cm("a"))
    assert st == 409 and body["reason"] == "AlreadyExists"
    st, _, g = cluster.request("POST", base, cm(None, generateName="gen-"))
    assert st == 201 and g["metadata"]["name"].startswith("gen-") and len(g["metadata"]["name"]) == 9
    # replace with the current resourceVersion works, with a stale one conflicts
    a["data"] = {"k": "v2"}
    st, _, a2 = cluster.request("PUT", f"{base}/a", a)
    assert st == 200 and int(a2["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    a["data"] = {"k": "v3"}
    st, _, body = cluster.request("PUT", f"{base}/a", a)
    assert st == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]


def test_patch_kinds(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    cluster.request("POST", base, cm("p", {"a": "1", "b": "2"}))
    st, _, o = cluster.request("PATCH", f"{base}/p", {"data": {"a": None, "c": "3"}}, "application/merge-patch+json")
    assert st == 200 and o["data"] == {"b": "2", "c": "3"}
    st, _, o = cluster.request("PATCH", f"{base}/p", [{"op": "replace", "path": "/data/b", "value": "9"}], "application/json-patch+json")
    assert st == 200 and o["data"]["b"] == "9"
    apply = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  x: y\n"
    st, _, o = cluster.request("PATCH", f"{base}/applied?fieldManager=kiln&force=true", apply, "application/apply-patch+yaml")
    assert st == 201 and o["data"] == {"x": "y"}
    assert o["metadata"]["managedFields"][0]["manager"] == "kiln"
    # dropping a field from the applied configuration removes it
    apply2 = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  z: w\n"
    st, _, o = cluster.request("PATCH", f"{base}/applied?fieldManager=kiln", apply2, "application/apply-patch+yaml")
    assert st == 200 and o["data"] == {"z": "w"}
    # another manager changing an applied field conflicts unless forced
    st, _, body = cluster.request("PATCH", f"{base}/applied?fieldManager=other", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {z: other}\n", "application/apply-patch+yaml")
    assert st == 409 and body["reason"] == "Conflict" and 'conflict with "kiln"' in body["message"]
    st, _, body = cluster.request("PATCH", f"{base}/applied", apply2, "application/apply-patch+yaml")
    assert st == 400 and "fieldManager" in body["message"]


def test_strict_validation_and_wrong_types(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "v"},
           "spec": {"containers": [{"name": "c", "image": "kiln-test/busybox:latest", "bogusField": 1}]}}
    st, _, body = cluster.request("POST", base + "?fieldValidation=Strict&dryRun=All", pod)
    assert st == 400 and body["message"] == 'strict decoding error: unknown field "spec.containers[0].bogusField"'
    st, hdrs, body = cluster.request("POST", base + "?dryRun=All", pod)
    assert st == 201 and hdrs["Warning"] == '299 - "unknown field \\"spec.containers[0].bogusField\\""'
    dup = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"e"}}'
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", dup)
    assert st == 400 and 'duplicate field "metadata.name"' in body["message"]
    wrong = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w"},
             "spec": {"containers": [{"name": "c", "image": 5}]}}
    st, _, body = cluster.request("POST", base, wrong)
    assert st == 400 and body["reason"] == "BadRequest"
    assert "cannot unmarshal number into Go struct field Container.spec.containers[0].image of type string" in body["message"]
    missing = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"}, "spec": {"containers": [{"name": "c"}]}}
    st, _, body = cluster.request("POST", base, missing)
    assert st == 422 and body["reason"] == "Invalid"
    fields = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert fields == {"metadata.name": "FieldValueInvalid", "spec.containers[0].image": "FieldValueRequired"}


def test_selectors_and_paging(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i, (env, tier) in enumerate([("prod", "a"), ("dev", "a"), ("prod", "b"), ("test", None)]):
        labels = {"env": env}
        if tier:
            labels["tier"] = tier
        cluster.request("POST", base, cm(f"s{i}", labels=labels))

    def names(q):
        st, _, body = cluster.request("GET", base + "?" + urllib.parse.urlencode({"labelSelector": q}))
        assert st == 200, body
        return sorted(o["metadata"]["name"] for o in body["items"])
    assert names("env=prod") == ["s0", "s2"]
    assert names("env!=prod") == ["kube-root-ca.crt", "s1", "s3"]   # != also matches objects without the label
    assert names("env in (dev,test)") == ["s1", "s3"]
    assert names("env notin (dev,test),tier") == ["s0", "s2"]
    assert names("!tier") == ["kube-root-ca.crt", "s3"]
    st, _, body = cluster.request("GET", base + "?fieldSelector=metadata.name%3Ds2")
    assert [o["metadata"]["name"] for o in body["items"]] == ["s2"]
    st, _, body = cluster.request("GET", base + "?fieldSelector=bogus%3D1")
    assert st == 400
    seen, cont = [], None
    while True:
        q = "?limit=2" + (f"&continue={cont}" if cont else "")
        st, _, body = cluster.request("GET", base + q)
        seen += [o["metadata"]["name"] for o in body["items"]]
        cont = body["metadata"].get("continue")
        if not cont:
            break
    assert sorted(seen) == sorted(["kube-root-ca.crt", "s0", "s1", "s2", "s3"])


def _watch(cluster, path, timeout=10):
    """Returns (status, list of events) of a watch request read until the server ends it."""
    u = urllib.parse.urlsplit(cluster.url)
    raw = socket.create_connection((u.hostname, u.port))
    s = cluster.ctx.wrap_socket(raw, server_hostname=u.hostname)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {cluster.token}\r\nAccept: application/json\r\nConnection: close\r\n\r\n".encode())
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    while f.readline() not in (b"\r\n", b""):
        pass
    return status, f, s


def test_watch_events_bookmarks_and_expired(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    st, _, lst = cluster.request("GET", base)
    rv = lst["metadata"]["resourceVersion"]
    status, f, s = _watch(cluster, f"{base}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=3")
    assert status == 200
    cluster.request("POST", base, cm("w1"))
    cluster.request("PATCH", f"{base}/w1", {"data": {"k": "v2"}}, "application/merge-patch+json")
    cluster.request("DELETE", f"{base}/w1")
    events = []
    while True:
        size = f.readline()
        if not size or int(size.strip(), 16) == 0:
            break
        events.append(json.loads(f.read(int(size.strip(), 16))))
        f.readline()
    s.close()
    types = [e["type"] for e in events if e["type"] != "BOOKMARK"]
    assert types == ["ADDED", "MODIFIED", "DELETED"]
    assert all(e["object"]["metadata"]["name"] == "w1" for e in events if e["type"] != "BOOKMARK")
    # history holds the last 1000 events: generate more, then watch from the old version
    for i in range(1010):
        cluster.request("PATCH", f"{base}/kube-root-ca.crt", {"metadata": {"labels": {"n": str(i)}}}, "application/merge-patch+json")
    status, f, s = _watch(cluster, f"{base}?watch=1&resourceVersion={rv}")
    s.close()
    assert status == 410


def test_fault_injection_429_and_500(cluster):
    st, _, _ = cluster.fault({"action": "fail-requests", "code": 429, "count": 1, "pathContains": "/api/v1/nodes", "retryAfter": 2})
    assert st == 200
    st, hdrs, body = cluster.request("GET", "/api/v1/nodes")
    assert st == 429 and hdrs["Retry-After"] == "2" and body["reason"] == "TooManyRequests"
    st, _, body = cluster.request("GET", "/api/v1/nodes")
    assert st == 200 and body["items"][0]["metadata"]["name"] == "kiln-test-node"
    cluster.fault({"action": "fail-requests", "code": 500, "count": 1, "pathContains": "/api/v1/nodes"})
    st, _, body = cluster.request("GET", "/api/v1/nodes")
    assert st == 500 and body["reason"] == "InternalError"


def test_drop_watches(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    status, f, s = _watch(cluster, f"{base}?watch=1&timeoutSeconds=30")
    assert status == 200
    time.sleep(0.5)
    cluster.fault({"action": "drop-watches"})
    s.settimeout(10)
    ended = False
    try:
        while f.readline():
            pass
        ended = True
    except (OSError, ssl.SSLError):
        ended = True
    assert ended


def test_fault_compact_gives_410_and_tokens_can_be_added_and_revoked(cluster, ns):
    base = f"/api/v1/namespaces/{ns}/configmaps"
    st, _, lst = cluster.request("GET", base)
    cluster.request("POST", base, cm("c1"))
    cluster.fault({"action": "compact"})
    status, f, s = _watch(cluster, f"{base}?watch=1&resourceVersion={lst['metadata']['resourceVersion']}")
    s.close()
    assert status == 410
    st, _, lst2 = cluster.request("GET", base)
    status, f, s = _watch(cluster, f"{base}?watch=1&resourceVersion={lst2['metadata']['resourceVersion']}&timeoutSeconds=1")
    s.close()
    assert status == 200
    hdr = {"Authorization": "Bearer extra-token-123"}
    assert cluster.request("GET", "/api/v1/namespaces", headers=hdr)[0] == 401
    cluster.fault({"action": "add-token", "token": "extra-token-123", "user": "plugin-user"})
    assert cluster.request("GET", "/api/v1/namespaces", headers=hdr)[0] == 200
    cluster.fault({"action": "revoke-token", "token": "extra-token-123"})
    assert cluster.request("GET", "/api/v1/namespaces", headers=hdr)[0] == 401


def test_fault_bad_watch_garbage(cluster, ns):
    cluster.fault({"action": "bad-watch", "mode": "garbage"})
    status, f, s = _watch(cluster, f"/api/v1/namespaces/{ns}/configmaps?watch=1")
    body = f.read()
    s.close()
    assert status == 200 and b"this is not json" in body


def test_unknown_namespace_is_404_before_validation(cluster):
    st, _, body = cluster.request("POST", "/api/v1/namespaces/no-such-ns/configmaps", cm("x"))
    assert st == 404 and body["message"] == 'namespaces "no-such-ns" not found'


def test_create_with_resource_version_is_refused(cluster, ns):
    obj = cm("rv")
    obj["metadata"]["resourceVersion"] = "5"
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", obj)
    assert st == 500 and "resourceVersion should not be set on objects to be created" in body["message"]


def test_fault_forbid_and_quota(cluster, ns):
    st, _, _ = cluster.fault({"action": "forbid", "user": "kiln-test-token-user", "verb": "create", "resource": "configmaps", "namespace": ns})
    assert st == 200
    try:
        st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm("nope"))
        assert st == 403 and body["reason"] == "Forbidden"
        assert body["message"] == (f'configmaps is forbidden: User "kiln-test-token-user" cannot create resource "configmaps" '
                                   f'in API group "" in the namespace "{ns}"')
        assert cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps")[0] == 200
    finally:
        cluster.fault({"action": "reset"})
    cluster.fault({"action": "exceed-quota", "namespace": ns, "count": 1})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},
           "spec": {"containers": [{"name": "c", "image": "kiln-test/busybox:latest"}]}}
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", pod)
    assert st == 403 and "exceeded quota" in body["message"]
    assert cluster.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", pod)[0] == 201
