"""Real clients against the test cluster: what kubectl can't do is a test-cluster bug."""

import hashlib
import json
import os
import threading
import time

import pytest
import yaml

from helpers import phase, wait_for

VERSIONS = ["1.32", "1.28"]
POD_YAML = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: kiln-test/busybox:latest
    command: ["sh", "-c", "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
"""


@pytest.mark.parametrize("v", VERSIONS)
def test_get_namespaces_and_api_resources(cluster, v):
    out = cluster.kubectl(v, "get", "namespaces").stdout.decode()
    assert "default" in out and "kube-system" in out
    res = cluster.kubectl(v, "api-resources").stdout.decode()
    for kind in ("Pod", "Deployment", "Job", "CronJob", "Secret", "ServiceAccount"):
        assert kind in res


@pytest.mark.parametrize("v", VERSIONS)
def test_apply_client_side_get_yaml_and_delete(cluster, ns, v):
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="p1").encode())
    wait_for(lambda: phase(cluster, ns, "p1") == "Running", "pod Running")
    doc = yaml.safe_load(cluster.kubectl(v, "-n", ns, "get", "pod", "p1", "-o", "yaml").stdout)
    assert doc["spec"]["nodeName"] == "kiln-test-node"
    assert doc["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in doc["metadata"]["annotations"]
    # a second apply with a changed label goes through the strategic merge patch path
    changed = POD_YAML.format(name="p1").replace("labels: {app: p1}", "labels: {app: p1, extra: x}")
    out = cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=changed.encode()).stdout.decode()
    assert "configured" in out
    labels = json.loads(cluster.kubectl(v, "-n", ns, "get", "pod", "p1", "-o", "json").stdout)["metadata"]["labels"]
    assert labels == {"app": "p1", "extra": "x"}
    table = cluster.kubectl(v, "-n", ns, "get", "pods").stdout.decode()
    assert "p1" in table and "Running" in table and "1/1" in table
    cluster.kubectl(v, "-n", ns, "delete", "pod", "p1", "--wait=true", timeout=60)
    r = cluster.kubectl(v, "-n", ns, "get", "pod", "p1", check=False)
    assert r.returncode != 0 and b'pods "p1" not found' in r.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_apply_server_side(cluster, ns, v):
    out = cluster.kubectl(v, "-n", ns, "apply", "--server-side", "-f", "-", input=POD_YAML.format(name="ssa").encode())
    assert b"serverside-applied" in out.stdout
    doc = json.loads(cluster.kubectl(v, "-n", ns, "get", "pod", "ssa", "-o", "json", "--show-managed-fields").stdout)
    managers = {(m["manager"], m["operation"]) for m in doc["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    # re-applying the same configuration changes nothing
    cluster.kubectl(v, "-n", ns, "apply", "--server-side", "-f", "-", input=POD_YAML.format(name="ssa").encode())


@pytest.mark.parametrize("v", VERSIONS)
def test_validate_strict_rejects_bogus_field(cluster, ns, v):
    bad = POD_YAML.format(name="bad").replace("    image: kiln", "    bogusField: 1\n    image: kiln")
    for extra in ([], ["--server-side"]):
        r = cluster.kubectl(v, "-n", ns, "apply", "--validate=strict", *extra, "-f", "-", input=bad.encode(), check=False)
        assert r.returncode != 0
        assert b'strict decoding error: unknown field "spec.containers[0].bogusField"' in r.stderr, r.stderr
    r = cluster.kubectl(v, "-n", ns, "apply", "--validate=warn", "-f", "-", input=bad.encode())
    assert b'unknown field "spec.containers[0].bogusField"' in r.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_invalid_object_is_422_with_field(cluster, ns, v):
    noimage = POD_YAML.format(name="noimg").replace("    image: kiln-test/busybox:latest\n", "")
    r = cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=noimage.encode(), check=False)
    assert r.returncode != 0
    assert b'Pod "noimg" is invalid: spec.containers[0].image: Required value' in r.stderr, r.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_get_watch_sees_new_pod(cluster, ns, v):
    p = cluster.popen(v, "-n", ns, "get", "pods", "-w", "--request-timeout=0")
    lines = []
    t = threading.Thread(target=lambda: [lines.append(l.decode()) for l in p.stdout], daemon=True)
    t.start()
    try:
        time.sleep(1)
        cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="watched").encode())
        wait_for(lambda: any("watched" in l and "Running" in l for l in lines), "watch line with Running", 60)
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("v", VERSIONS)
def test_logs_follow(cluster, ns, v):
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="talker").encode())
    wait_for(lambda: phase(cluster, ns, "talker") == "Running", "pod Running")
    p = cluster.popen(v, "-n", ns, "logs", "-f", "talker")
    lines = []
    t = threading.Thread(target=lambda: [lines.append(l.decode()) for l in p.stdout], daemon=True)
    t.start()
    try:
        wait_for(lambda: len(lines) > 10, "followed log lines", 60)
        assert lines[0].strip() == "started"
        assert lines[1].strip() == "tick 0" and lines[10].strip() == "tick 9"
    finally:
        p.kill()
        p.wait()
    tail = cluster.kubectl(v, "-n", ns, "logs", "talker", "--tail=2").stdout.decode().splitlines()
    assert len(tail) == 2 and all(l.startswith("tick ") for l in tail)


@pytest.mark.parametrize("v", ["1.32", "1.30", "1.28"])   # WebSocket, WebSocket, SPDY/3.1
def test_exec_stdin_roundtrip(cluster, ns, v):
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="ex").encode())
    wait_for(lambda: phase(cluster, ns, "ex") == "Running", "pod Running")
    r = cluster.kubectl(v, "-n", ns, "exec", "-i", "ex", "--", "cat", input=b"hello through exec\n")
    assert r.stdout == b"hello through exec\n"
    data = os.urandom(20 * 1024 * 1024)
    r = cluster.kubectl(v, "-n", ns, "exec", "-i", "ex", "--", "sha256sum", input=data, timeout=300)
    assert r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    r = cluster.kubectl(v, "-n", ns, "exec", "ex", "--", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert r.returncode == 7
    assert r.stdout == b"out\n" and b"err\n" in r.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_deployment_rollout_and_cascading_delete(cluster, ns, v):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                     {"name": "main", "image": "kiln-test/busybox:latest", "command": ["sleep", "100000"]}]}}}}
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=json.dumps(dep).encode())
    out = cluster.kubectl(v, "-n", ns, "rollout", "status", "deploy/web", "--timeout=60s", timeout=90).stdout
    assert b"successfully rolled out" in out
    pods = json.loads(cluster.kubectl(v, "-n", ns, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2 and all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    cluster.kubectl(v, "-n", ns, "delete", "deployment", "web")
    wait_for(lambda: not json.loads(cluster.kubectl(v, "-n", ns, "get", "pods,rs", "-o", "json").stdout)["items"],
             "replicaset and pods garbage-collected", 60)


@pytest.mark.parametrize("v", VERSIONS)
def test_statefulset_and_daemonset(cluster, ns, v):
    tmpl = {"metadata": {"labels": {"app": "x"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "kiln-test/busybox:latest", "command": ["sleep", "100000"]}]}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "x"}}, "template": tmpl}}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "y"}},
                   "template": dict(tmpl, metadata={"labels": {"app": "y"}})}}
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=(json.dumps(sts) + "\n" + json.dumps(ds)).encode())
    cluster.kubectl(v, "-n", ns, "rollout", "status", "statefulset/db", "--timeout=60s", timeout=90)
    cluster.kubectl(v, "-n", ns, "rollout", "status", "daemonset/agent", "--timeout=60s", timeout=90)
    names = cluster.kubectl(v, "-n", ns, "get", "pods", "-l", "app=x", "-o", "name").stdout.decode().split()
    assert names == ["pod/db-0", "pod/db-1"]
    table = cluster.kubectl(v, "-n", ns, "get", "sts,ds").stdout.decode()
    assert "2/2" in table and "agent" in table


def test_rolling_update_and_progress_deadline(cluster, ns):
    v = "1.32"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
           "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "roll"}},
                    "template": {"metadata": {"labels": {"app": "roll"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                     {"name": "main", "image": "kiln-test/busybox:latest", "command": ["sleep", "100000"]}]}}}}
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=json.dumps(dep).encode())
    cluster.kubectl(v, "-n", ns, "rollout", "status", "deploy/roll", "--timeout=60s", timeout=90)
    cluster.kubectl(v, "-n", ns, "set", "env", "deploy/roll", "B=2")
    out = cluster.kubectl(v, "-n", ns, "rollout", "status", "deploy/roll", "--timeout=90s", timeout=120).stdout.decode()
    # maxSurge/maxUnavailable 25%: the new replicaset grows while the old one shrinks
    assert "new replicas have been updated" in out and "successfully rolled out" in out
    rses = json.loads(cluster.kubectl(v, "-n", ns, "get", "rs", "-o", "json").stdout)["items"]
    assert sorted(r["spec"]["replicas"] for r in rses) == [0, 4]
    stuck = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
             "spec": {"progressDeadlineSeconds": 2, "selector": {"matchLabels": {"app": "stuck"}},
                      "template": {"metadata": {"labels": {"app": "stuck"}},
                                   "spec": {"containers": [{"name": "main", "image": "127.0.0.1:1/absent:v1"}]}}}}
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=json.dumps(stuck).encode())
    r = cluster.kubectl(v, "-n", ns, "rollout", "status", "deploy/stuck", "--timeout=60s", check=False, timeout=90)
    assert r.returncode != 0 and b'deployment "stuck" exceeded its progress deadline' in r.stderr


@pytest.mark.parametrize("v", VERSIONS)
def test_port_forward(cluster, ns, v):
    import socket
    import urllib.request
    pod = POD_YAML.format(name="pf").replace(
        'command: ["sh", "-c", "echo started; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]',
        'command: ["sh", "-c", "mkdir -p /www && echo via-port-forward > /www/index.html && exec httpd -f -p 8080 -h /www"]')
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=pod.encode())
    wait_for(lambda: phase(cluster, ns, "pf") == "Running", "pod Running")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = cluster.popen(v, "-n", ns, "port-forward", "pod/pf", f"{port}:8080")
    try:
        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
                    return r.read()
            except OSError:
                return None
        assert wait_for(fetch, "page through port-forward", 30) == b"via-port-forward\n"
        assert fetch() == b"via-port-forward\n"   # a second connection over the same session
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("v", VERSIONS)
def test_run_interactive_attach(cluster, ns, v):
    """kubectl run -i --rm attaches to the container's stdin and reports its exit code."""
    r = cluster.kubectl(v, "-n", ns, "run", "att", "-i", "--rm", "--restart=Never", "--image=kiln-test/busybox:latest",
                        "--", "sh", "-c", "read x; echo got $x; exit 3", input=b"data-in\n", check=False, timeout=120)
    assert r.returncode == 3, r.stderr
    assert b"got data-in" in r.stdout


# Typed client-go commands send protobuf bodies (kubesim/protobuf.py decodes them).
@pytest.mark.parametrize("v", ["1.32", "1.30", "1.28"])
def test_kubectl_create_typed_objects(cluster, v):
    import base64
    import uuid
    ns = "pb-" + uuid.uuid4().hex[:8]
    k = lambda *a, **kw: cluster.kubectl(v, *a, **kw)   # noqa: E731
    get = lambda *a: json.loads(k("-n", ns, "get", *a, "-o", "json").stdout)   # noqa: E731
    assert b"namespace/" + ns.encode() + b" created" in k("create", "namespace", ns).stdout
    try:
        assert json.loads(k("get", "namespace", ns, "-o", "json").stdout)["status"]["phase"] == "Active"
        k("-n", ns, "create", "secret", "generic", "creds", "--from-literal=user=admin", "--from-literal=pw=s3cr=t")
        s = get("secret", "creds")
        assert s["type"] == "Opaque"
        assert {kk: base64.b64decode(vv).decode() for kk, vv in s["data"].items()} == {"user": "admin", "pw": "s3cr=t"}
        s = json.loads(k("-n", ns, "get", "secret", "creds", "-o", "json", "--show-managed-fields").stdout)
        assert s["metadata"]["managedFields"][0]["manager"] == "kubectl-create"
        k("-n", ns, "create", "secret", "docker-registry", "pull", "--docker-server=registry.example:5000",
          "--docker-username=u", "--docker-password=p")
        s = get("secret", "pull")
        assert s["type"] == "kubernetes.io/dockerconfigjson"
        auths = json.loads(base64.b64decode(s["data"][".dockerconfigjson"]))["auths"]
        assert auths["registry.example:5000"]["username"] == "u" and auths["registry.example:5000"]["password"] == "p"
        k("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two")
        assert get("configmap", "cfg")["data"] == {"a": "1", "b": "two"}
        k("-n", ns, "create", "deployment", "web", "--image=kiln-test/busybox:latest", "--replicas=2", "--port=8080",
          "--", "sleep", "100000")
        out = k("-n", ns, "rollout", "status", "deploy/web", "--timeout=90s", timeout=120).stdout
        assert b"successfully rolled out" in out
        d = get("deployment", "web")
        assert d["spec"]["replicas"] == 2 and d["status"]["readyReplicas"] == 2
        assert d["metadata"]["labels"] == {"app": "web"} and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["image"] == "kiln-test/busybox:latest" and c["command"] == ["sleep", "100000"]
        assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
        k("-n", ns, "create", "deployment", "idle", "--image=kiln-test/busybox:latest", "--replicas=0")
        assert get("deployment", "idle")["spec"]["replicas"] == 0   # an explicit zero survives the decoding
        k("-n", ns, "create", "job", "once", "--image=kiln-test/busybox:latest", "--", "sh", "-c", "echo job-ran")
        k("-n", ns, "wait", "--for=condition=complete", "job/once", "--timeout=90s", timeout=120)
        assert k("-n", ns, "logs", "job/once").stdout == b"job-ran\n"
        k("-n", ns, "create", "cronjob", "tick", "--image=kiln-test/busybox:latest", "--schedule=*/5 * * * *",
          "--", "echo", "hi")
        cj = get("cronjob", "tick")["spec"]
        assert cj["schedule"] == "*/5 * * * *"
        pod_spec = cj["jobTemplate"]["spec"]["template"]["spec"]
        assert pod_spec["restartPolicy"] == "OnFailure" and pod_spec["containers"][0]["command"] == ["echo", "hi"]
        k("-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080")
        svc = get("service", "svc")["spec"]
        assert svc["type"] == "ClusterIP" and svc["selector"] == {"app": "svc"}
        assert svc["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
        k("-n", ns, "create", "serviceaccount", "builder")
        assert get("serviceaccount", "builder")["metadata"]["name"] == "builder"
        # the server's strict checks still apply to protobuf bodies
        r = k("-n", ns, "create", "deployment", "Bad_Name", "--image=x", check=False)
        assert r.returncode != 0 and b'Deployment.apps "Bad_Name" is invalid' in r.stderr, r.stderr
        r = k("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1", check=False)
        assert r.returncode != 0 and b'configmaps "cfg" already exists' in r.stderr
    finally:
        k("delete", "namespace", ns, "--wait=false", check=False)


@pytest.mark.parametrize("v", ["1.32", "1.30"])
def test_exec_against_a_v4_only_server(cluster, ns, v):
    """A server before 1.30 has no v5.channel.k8s.io: kubectl's WebSocket
    attempt (v5 only) is refused and it falls back to SPDY, where v4 is agreed."""
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="old").encode())
    wait_for(lambda: phase(cluster, ns, "old") == "Running", "pod Running")
    st, _, body = cluster.fault({"action": "exec-protocols", "protocols": ["v4.channel.k8s.io"], "namespace": ns})
    assert st == 200, body
    try:
        r = cluster.kubectl(v, "-n", ns, "-v=7", "exec", "-i", "old", "--", "sh", "-c", "cat; echo err >&2; exit 4",
                            input=b"through v4\n", check=False)
        assert r.returncode == 4, r.stderr[-2000:]
        assert r.stdout == b"through v4\n" and b"err\n" in r.stderr
        # the WebSocket offer (v5 only) was made, then SPDY offered v5..v1 and the server took v4
        assert b"Sec-Websocket-Protocol: v5.channel.k8s.io" in r.stderr
        assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in r.stderr
    finally:
        cluster.fault({"action": "exec-protocols", "protocols": [], "namespace": ns})


@pytest.mark.parametrize("v", VERSIONS)
def test_get_all_rollout_undo_and_job_tables(cluster, ns, v, tmp_path):
    k = lambda *a, **kw: cluster.kubectl(v, "-n", ns, *a, **kw)   # noqa: E731
    k("create", "deployment", "u", "--image=kiln-test/busybox:latest", "--", "sleep", "100000")
    k("rollout", "status", "deploy/u", "--timeout=90s", timeout=120)
    k("create", "job", "j", "--image=kiln-test/busybox:latest", "--", "true")
    k("create", "cronjob", "cj", "--image=kiln-test/busybox:latest", "--schedule=*/5 * * * *", "--", "true")
    k("create", "service", "clusterip", "s", "--tcp=80:8080")
    k("wait", "--for=condition=complete", "job/j", "--timeout=90s", timeout=120)
    # "all" is a discovery category: a fresh discovery cache, not one from an older server
    out = k("get", "all", f"--cache-dir={tmp_path}").stdout.decode()
    for name in ("deployment.apps/u", "replicaset.apps/u-", "service/s", "job.batch/j", "cronjob.batch/cj", "pod/j-"):
        assert name in out, out
    jobs = k("get", "jobs,cronjobs").stdout.decode()
    assert "Complete" in jobs and "1/1" in jobs and "*/5 * * * *" in jobs, jobs
    # --sort-by asks for tables with the objects embedded
    rows = k("get", "events", "--sort-by=.lastTimestamp").stdout.decode()
    for what in ("ScalingReplicaSet", "deployment/u", "SuccessfulCreate", "replicaset/u-", "job/j", "Completed"):
        assert what in rows, rows
    names = [l.split()[0] for l in k("get", "pods", "--sort-by=.metadata.name").stdout.decode().splitlines()[1:]]
    assert len(names) == 2 and names == sorted(names), names
    assert "Scaled up replica set u-" in k("describe", "deployment", "u").stdout.decode()
    wide = k("get", "deployment", "u", "-o", "wide").stdout.decode().splitlines()
    assert wide[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["busybox", "kiln-test/busybox:latest", "app=u"]
    # a rollback reuses the first replicaset, which becomes revision 3
    k("set", "env", "deploy/u", "A=1")
    k("rollout", "status", "deploy/u", "--timeout=90s", timeout=120)
    assert b"rolled back" in k("rollout", "undo", "deploy/u").stdout
    k("rollout", "status", "deploy/u", "--timeout=90s", timeout=120)
    d = json.loads(k("get", "deploy", "u", "-o", "json").stdout)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert "env" not in d["spec"]["template"]["spec"]["containers"][0]
    rses = json.loads(k("get", "rs", "-o", "json").stdout)["items"]
    assert len(rses) == 2
    assert sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for r in rses) == ["2", "3"]


@pytest.mark.parametrize("v", VERSIONS)
def test_auth_can_i_follows_the_forbid_switch(cluster, ns, v, tmp_path):
    k = lambda *a, **kw: cluster.kubectl(v, f"--cache-dir={tmp_path}", *a, **kw)   # noqa: E731
    assert k("auth", "can-i", "create", "pods", "-n", ns).stdout.strip() == b"yes"
    st, _, body = cluster.fault({"action": "forbid", "verb": "create", "resource": "pods/exec", "namespace": ns})
    assert st == 200, body
    try:
        r = k("auth", "can-i", "create", "pods", "--subresource=exec", "-n", ns, check=False)
        assert r.returncode == 1 and r.stdout.startswith(b"no"), r
        assert k("auth", "can-i", "get", "pods", "--subresource=log", "-n", ns).stdout.strip() == b"yes"
    finally:
        cluster.fault({"action": "unforbid", "verb": "create", "resource": "pods/exec", "namespace": ns})
    assert k("auth", "can-i", "create", "pods", "--subresource=exec", "-n", ns).stdout.strip() == b"yes"


@pytest.mark.parametrize("v", VERSIONS)
def test_create_token_and_whoami(cluster, ns, v, tmp_path):
    k = lambda *a, **kw: cluster.kubectl(v, f"--cache-dir={tmp_path}", *a, **kw)   # noqa: E731
    who = k("auth", "whoami", "-o", "json")
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "kiln-test-admin"
    token = k("-n", ns, "create", "token", "default", "--duration=15m").stdout.decode().strip()
    as_sa = lambda *a, **kw: k("--context=kiln-test-token", f"--token={token}", *a, **kw)   # noqa: E731
    info = json.loads(as_sa("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{ns}:default"
    assert f"system:serviceaccounts:{ns}" in info["groups"]
    as_sa("-n", ns, "get", "pods")
    r = k("-n", ns, "create", "token", "default", "--duration=1m", check=False)
    assert r.returncode != 0 and b"may not specify a duration less than 10 minutes" in r.stderr
    r = k("-n", ns, "create", "token", "nobody", check=False)
    assert r.returncode != 0 and b'serviceaccounts "nobody" not found' in r.stderr
    # a token bound to a pod stops working when the pod is gone
    cluster.kubectl(v, "-n", ns, "apply", "-f", "-", input=POD_YAML.format(name="holder").encode())
    bound = k("-n", ns, "create", "token", "default", "--bound-object-kind=Pod", "--bound-object-name=holder").stdout
    bound = bound.decode().strip()
    assert cluster.request("GET", f"/api/v1/namespaces/{ns}/pods", token=False,
                           headers={"Authorization": f"Bearer {bound}"})[0] == 200
    k("-n", ns, "delete", "pod", "holder", "--wait=true", timeout=90)
    wait_for(lambda: cluster.request("GET", f"/api/v1/namespaces/{ns}/pods", token=False,
                                     headers={"Authorization": f"Bearer {bound}"})[0] == 401, "bound token revoked", 60)
