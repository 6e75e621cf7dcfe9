"""The kubelet: pods' containers really run in the test Docker daemon."""

import base64
import http.server
import json
import threading
import time

from helpers import busybox_pod, phase, pod, wait_for

BB = "kiln-test/busybox:latest"


def create(cluster, ns, obj):
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", obj)
    assert st == 201, body
    return body


def status_of(cluster, ns, name, cname="main", init=False):
    p = pod(cluster, ns, name) or {}
    key = "initContainerStatuses" if init else "containerStatuses"
    for c in p.get("status", {}).get(key) or []:
        if c["name"] == cname:
            return c
    return None


def terminated(cluster, ns, name, cname="main"):
    c = status_of(cluster, ns, name, cname)
    return c and c["state"].get("terminated")


def test_init_containers_volumes_env_and_termination_message(cluster, ns):
    st, _, _ = cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
        "data": {"config.json": base64.b64encode(b'{"auths":{}}').decode()}, "stringData": {"user": "alice"}})
    assert st == 201
    p = busybox_pod("vol", "cat /shared/from-init /creds/config.json; echo; echo $FROM_SECRET $POD_NAME; "
                           "printf sha256:abc > /dev/termination-log; exit 3", restartPolicy="Never")
    p["spec"]["initContainers"] = [{"name": "init", "image": BB, "command": ["sh", "-c", "echo written-by-init > /shared/from-init"],
                                    "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}]
    p["spec"]["volumes"] = [{"name": "shared", "emptyDir": {}}, {"name": "creds", "secret": {"secretName": "creds"}}]
    c = p["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "shared", "mountPath": "/shared"}, {"name": "creds", "mountPath": "/creds", "readOnly": True}]
    c["env"] = [{"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    create(cluster, ns, p)
    t = wait_for(lambda: terminated(cluster, ns, "vol"), "main container terminated", 60)
    assert t["exitCode"] == 3 and t["reason"] == "Error" and t["message"] == "sha256:abc"
    assert wait_for(lambda: phase(cluster, ns, "vol") == "Failed", "phase Failed")
    init = status_of(cluster, ns, "vol", "init", init=True)
    assert init["state"]["terminated"]["exitCode"] == 0 and init["state"]["terminated"]["reason"] == "Completed"
    st, _, logs = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/vol/log")
    assert logs.decode().splitlines() == ["written-by-init", '{"auths":{}}', "alice vol"]


def test_restart_on_failure_and_previous_logs(cluster, ns):
    create(cluster, ns, busybox_pod("rs", "echo run; sleep 0.5; exit 1", restartPolicy="OnFailure"))
    c = wait_for(lambda: (status_of(cluster, ns, "rs") or {}).get("restartCount", 0) >= 1 and status_of(cluster, ns, "rs"),
                 "a restart", 60)
    assert c["lastState"]["terminated"]["exitCode"] == 1
    st, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/rs/log?previous=true")
    assert st == 200 and body == b"run\n"


def test_succeeded_pod(cluster, ns):
    create(cluster, ns, busybox_pod("ok", "echo fine", restartPolicy="Never"))
    assert wait_for(lambda: phase(cluster, ns, "ok") == "Succeeded", "Succeeded")
    assert terminated(cluster, ns, "ok")["reason"] == "Completed"


def test_real_oom_kill(cluster, ns):
    p = busybox_pod("oom", "exec tail /dev/zero", restartPolicy="Never")
    p["spec"]["containers"][0]["resources"] = {"limits": {"memory": "16Mi"}}
    create(cluster, ns, p)
    t = wait_for(lambda: terminated(cluster, ns, "oom"), "OOM kill", 120)
    assert t["reason"] == "OOMKilled" and t["exitCode"] == 137


def test_fault_oomkill_and_evict(cluster, ns):
    create(cluster, ns, busybox_pod("f1", "sleep 1000", restartPolicy="Never"))
    create(cluster, ns, busybox_pod("f2", "sleep 1000", restartPolicy="Never"))
    wait_for(lambda: phase(cluster, ns, "f1") == "Running" and phase(cluster, ns, "f2") == "Running", "both Running")
    st, _, body = cluster.fault({"action": "oomkill", "namespace": ns, "pod": "f1"})
    assert st == 200, body
    t = wait_for(lambda: terminated(cluster, ns, "f1"), "f1 killed", 60)
    assert t["reason"] == "OOMKilled" and t["exitCode"] == 137
    st, _, body = cluster.fault({"action": "evict", "namespace": ns, "pod": "f2"})
    assert st == 200, body
    wait_for(lambda: phase(cluster, ns, "f2") == "Failed", "f2 Failed", 60)
    p = pod(cluster, ns, "f2")
    assert p["status"]["reason"] == "Evicted" and "low on resource" in p["status"]["message"]


def test_active_deadline_exceeded(cluster, ns):
    create(cluster, ns, busybox_pod("dl", "sleep 1000", restartPolicy="Never", activeDeadlineSeconds=2))
    wait_for(lambda: phase(cluster, ns, "dl") == "Failed", "deadline", 60)
    assert pod(cluster, ns, "dl")["status"]["reason"] == "DeadlineExceeded"


def test_missing_image_and_unschedulable(cluster, ns):
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "noimg"},
                         "spec": {"containers": [{"name": "main", "image": "127.0.0.1:1/absent:v1"}]}})
    c = wait_for(lambda: (status_of(cluster, ns, "noimg") or {}).get("state", {}).get("waiting", {}).get("reason") == "ImagePullBackOff"
                 and status_of(cluster, ns, "noimg"), "ImagePullBackOff", 60)
    assert "absent" in c["state"]["waiting"]["message"]
    create(cluster, ns, busybox_pod("pinned", "sleep 1", nodeSelector={"disk": "ssd"}))
    p = wait_for(lambda: [c for c in (pod(cluster, ns, "pinned") or {}).get("status", {}).get("conditions", [])
                          if c["type"] == "PodScheduled" and c["status"] == "False"], "Unschedulable", 30)
    assert p[0]["reason"] == "Unschedulable"


def test_graceful_delete_stops_container(cluster, ns):
    create(cluster, ns, busybox_pod("gd", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"))
    wait_for(lambda: phase(cluster, ns, "gd") == "Running", "Running")
    st, _, body = cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/gd")
    assert st == 200 and body["metadata"]["deletionTimestamp"]
    wait_for(lambda: pod(cluster, ns, "gd") is None, "pod removed", 60)


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        out = json.dumps({"method": "POST", "path": self.path, "len": len(body), "auth": self.headers.get("Authorization")}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Location", "/v2/x/blobs/uploads/123?_state=abc")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_PUT = do_POST

    def log_message(self, *a):
        pass


def test_service_proxy_to_pod_and_loopback(cluster, ns):
    p = busybox_pod("web", "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www")
    p["metadata"]["labels"] = {"app": "web"}
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "name": "http"}]
    create(cluster, ns, p)
    st, _, _ = cluster.request("POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}})
    assert st == 201
    wait_for(lambda: phase(cluster, ns, "web") == "Running", "Running")

    def get():
        st, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/services/http:web:80/proxy/index.html")
        return st == 200 and body
    assert wait_for(get, "proxied page", 30) == b"hello-from-pod\n"
    st, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/web:8080/proxy/index.html")
    assert st == 200 and body == b"hello-from-pod\n"
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        ann = json.dumps({"5000": f"127.0.0.1:{srv.server_address[1]}"})
        st, _, _ = cluster.request("POST", f"/api/v1/namespaces/{ns}/services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reg", "annotations": {"testcluster.kiln.dev/loopback": ann}},
            "spec": {"ports": [{"port": 5000}]}})
        assert st == 201
        data = bytes(range(256)) * 4096
        st, hdrs, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/services/reg:5000/proxy/v2/x/blobs/uploads/?a=b",
                                         data, "application/octet-stream")
        assert st == 201 and body["len"] == len(data) and body["path"] == "/v2/x/blobs/uploads/?a=b"
        assert body["auth"] is None   # the API server's credentials never reach the backend
        # like the real proxy, absolute-path Locations are moved under the proxy path
        assert hdrs["Location"] == f"/api/v1/namespaces/{ns}/services/reg:5000/proxy/v2/x/blobs/uploads/123?_state=abc"
    finally:
        srv.shutdown()


def test_job_runs_to_completion(cluster, ns):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "main", "image": BB, "command": ["sh", "-c", "echo job-ran"]}]}}}}
    st, _, body = cluster.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    assert st == 201, body

    def complete():
        st, _, j = cluster.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs/once")
        return any(c["type"] == "Complete" and c["status"] == "True" for c in j.get("status", {}).get("conditions", [])) and j
    j = wait_for(complete, "job Complete", 60)
    assert j["status"]["succeeded"] == 1
    st, _, pods = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=job-name%3Donce")
    assert len(pods["items"]) == 1
    st, _, logs = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{pods['items'][0]['metadata']['name']}/log")
    assert logs == b"job-ran\n"


def _ready(cluster, ns, name):
    p = pod(cluster, ns, name) or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def test_readiness_probes_exec_and_http(cluster, ns):
    p = busybox_pod("probed", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www")
    c = p["spec"]["containers"][0]
    c["ports"] = [{"containerPort": 8080, "name": "http"}]
    c["readinessProbe"] = {"exec": {"command": ["sh", "-c", "test -f /tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}
    create(cluster, ns, p)
    wait_for(lambda: phase(cluster, ns, "probed") == "Running", "Running")
    time.sleep(2)
    assert not _ready(cluster, ns, "probed")
    cluster.kubectl("1.32", "-n", ns, "exec", "probed", "--", "touch", "/tmp/ready")
    wait_for(lambda: _ready(cluster, ns, "probed"), "Ready after the probe passes", 30)
    h = busybox_pod("httpprobed", "sleep 2; mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www")
    h["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "name": "http"}]
    h["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1}
    create(cluster, ns, h)
    wait_for(lambda: _ready(cluster, ns, "httpprobed"), "Ready via httpGet", 30)


def test_liveness_probe_restarts_container(cluster, ns):
    p = busybox_pod("live", "sleep 1000")
    p["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    create(cluster, ns, p)
    wait_for(lambda: (status_of(cluster, ns, "live") or {}).get("restartCount", 0) >= 1, "a liveness restart", 60)


def test_host_port_reaches_the_pod(cluster, ns):
    import socket
    import urllib.request
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = busybox_pod("hp", "mkdir -p /www && echo via-host-port > /www/index.html && exec httpd -f -p 8080 -h /www")
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": port}]
    create(cluster, ns, p)
    wait_for(lambda: phase(cluster, ns, "hp") == "Running", "Running")

    def fetch():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
                return r.read()
        except OSError:
            return None
    assert wait_for(fetch, "page through the hostPort", 30) == b"via-host-port\n"
    cluster.request("DELETE", f"/api/v1/namespaces/{ns}/pods/hp?gracePeriodSeconds=0")
    wait_for(lambda: fetch() is None, "hostPort closed with the pod", 30)


def test_registry_image_runs_real_distribution_registry(cluster, ns):
    """registry:2 is played by Debian's docker-registry: push through the
    service proxy, then garbage-collect with exec as the reference does."""
    import hashlib
    import urllib.parse
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kiln-registry"},
           "spec": {"selector": {"matchLabels": {"app": "kiln-registry"}},
                    "template": {"metadata": {"labels": {"app": "kiln-registry"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                     "name": "registry", "image": "registry:2",
                                     "env": [{"name": "REGISTRY_STORAGE_DELETE_ENABLED", "value": "true"}],
                                     "ports": [{"name": "http", "containerPort": 5000}],
                                     "readinessProbe": {"httpGet": {"path": "/v2/", "port": 5000}, "periodSeconds": 1}}]}}}}
    cluster.kubectl("1.32", "-n", ns, "apply", "-f", "-", input=json.dumps(dep).encode())
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kiln-registry"},
           "spec": {"selector": {"app": "kiln-registry"}, "ports": [{"name": "http", "port": 5000, "targetPort": "http"}]}}
    assert cluster.request("POST", f"/api/v1/namespaces/{ns}/services", svc)[0] == 201
    cluster.kubectl("1.32", "-n", ns, "rollout", "status", "deploy/kiln-registry", "--timeout=60s", timeout=90)
    base = f"/api/v1/namespaces/{ns}/services/http:kiln-registry:5000/proxy"
    assert wait_for(lambda: cluster.request("GET", f"{base}/v2/")[0] == 200, "registry answers", 30)
    st, hdrs, _ = cluster.request("POST", f"{base}/v2/app/blobs/uploads/", b"", "application/octet-stream")
    assert st == 202
    u = urllib.parse.urlsplit(hdrs["Location"])
    data = b"layer bytes " * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    st, _, body = cluster.request("PUT", f"{u.path}?{u.query}&digest={digest}", data, "application/octet-stream")
    assert st == 201, body
    pod_name = cluster.kubectl("1.32", "-n", ns, "get", "pods", "-l", "app=kiln-registry", "-o", "name").stdout.decode().strip()
    r = cluster.kubectl("1.32", "-n", ns, "exec", pod_name, "--", "registry", "garbage-collect", "/etc/docker/registry/config.yml")
    assert b"0 blobs marked" in r.stdout and f"blob eligible for deletion: {digest}".encode() in r.stdout
    # the untagged blob's data was swept from storage (the running registry's
    # descriptor cache still knows it, as with a real registry until restarted)
    hexd = digest.split(":")[1]
    r = cluster.kubectl("1.32", "-n", ns, "exec", pod_name, "--", "ls",
                        f"/var/lib/registry/docker/registry/v2/blobs/sha256/{hexd[:2]}/{hexd}/data", check=False)
    assert r.returncode != 0 and b"No such file" in r.stderr


def test_service_account_admission_token_and_api_inside_pod(cluster, ns):
    bad = busybox_pod("nosa", "true", serviceAccountName="missing")
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", bad)
    assert st == 403 and 'serviceaccount "missing" not found' in body["message"]
    p = create(cluster, ns, busybox_pod("sa", "sleep 1000"))
    assert p["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    wait_for(lambda: phase(cluster, ns, "sa") == "Running", "Running")
    r = cluster.kubectl("1.32", "-n", ns, "exec", "sa", "--", "sh", "-c",
                        "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo;"
                        "cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo;"
                        "echo x | nc -w 2 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT >/dev/null; echo connect=$?")
    lines = r.stdout.decode().splitlines()
    assert lines[0] == ns and lines[2] == "connect=0"
    st, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts", headers={"Authorization": f"Bearer {lines[1]}"})
    assert st == 200 and body["items"][0]["metadata"]["name"] == "default"
    nomount = busybox_pod("nomount", "sleep 1", automountServiceAccountToken=False)
    assert "volumes" not in create(cluster, ns, nomount)["spec"]


def test_node_affinity_and_foreign_scheduler(cluster, ns):
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}}
    create(cluster, ns, busybox_pod("aff-ok", "sleep 1000", affinity=aff))
    wait_for(lambda: phase(cluster, ns, "aff-ok") == "Running", "scheduled by affinity")
    bad = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}]}]}}}
    create(cluster, ns, busybox_pod("aff-bad", "sleep 1000", affinity=bad))
    wait_for(lambda: [c for c in (pod(cluster, ns, "aff-bad") or {}).get("status", {}).get("conditions", [])
                      if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable"], "Unschedulable", 30)
    create(cluster, ns, busybox_pod("other", "sleep 1", schedulerName="my-scheduler"))
    time.sleep(2)
    p = pod(cluster, ns, "other")
    assert p["status"]["phase"] == "Pending" and "nodeName" not in p["spec"]
