"""Builder images played by the kubelet: kaniko executor pods and buildctl
exec'd into a buildkitd deployment build with the test Docker daemon and push
to the real test registry; results are checked against the registry itself."""

import json
import os
import urllib.request
import uuid

import pytest

from helpers import phase, pod, wait_for

BB = "kiln-test/busybox:latest"


@pytest.fixture
def registry():
    r = os.environ.get("KILN_TEST_REGISTRY")
    if not r:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("KILN_TEST_REGISTRY is not set (run tests/services/up)")
        pytest.skip("KILN_TEST_REGISTRY is not set (run tests/services/up)")
    return r


def registry_digest(registry, repo, tag):
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers["Docker-Content-Digest"]


def kaniko_pod(name, dest, extra_args=()):
    script = ("mkdir -p /kaniko/buildcontext && cd /kaniko/buildcontext && "
              "printf 'FROM scratch\\nARG KILN_VERSION\\nCOPY hello.txt /hello.txt\\nLABEL v=$KILN_VERSION\\n' > Dockerfile && "
              "echo hi > hello.txt")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "volumes": [{"name": "ctx", "emptyDir": {}}],
                     "initContainers": [{"name": "init", "image": BB, "command": ["sh", "-c", script],
                                         "volumeMounts": [{"name": "ctx", "mountPath": "/kaniko/buildcontext"}]}],
                     "containers": [{"name": "kaniko", "image": "gcr.io/kaniko-project/executor:v1.11.0-debug",
                                     "args": ["--context", "dir:///kaniko/buildcontext", "--dockerfile", "Dockerfile",
                                              "--destination", dest, "--build-arg", "KILN_VERSION=v-1", "--cache=true",
                                              "--insecure", "--digest-file=/dev/termination-log", *extra_args],
                                     "volumeMounts": [{"name": "ctx", "mountPath": "/kaniko/buildcontext"}]}]}}


def test_kaniko_pod_builds_and_pushes(cluster, ns, registry):
    repo = f"testcluster/kaniko-{uuid.uuid4().hex[:8]}"
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", kaniko_pod("kaniko-a", f"{registry}/{repo}:v-1"))
    assert st == 201, body
    wait_for(lambda: phase(cluster, ns, "kaniko-a") in ("Succeeded", "Failed"), "kaniko pod done", 180)
    p = pod(cluster, ns, "kaniko-a")
    st, _, logs = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/kaniko-a/log?container=kaniko")
    assert p["status"]["phase"] == "Succeeded", logs
    term = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["message"].startswith("sha256:")
    assert registry_digest(registry, repo, "v-1") == term["message"]


def test_kaniko_unknown_flag_fails_loudly(cluster, ns, registry):
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods",
                                  kaniko_pod("kaniko-b", f"{registry}/testcluster/never:v", ["--frobnicate=yes"]))
    assert st == 201
    wait_for(lambda: phase(cluster, ns, "kaniko-b") == "Failed", "kaniko pod failed", 120)
    st, _, logs = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/kaniko-b/log?container=kaniko")
    assert b"Error: unknown flag: --frobnicate" in logs


def test_buildctl_in_buildkitd_deployment(cluster, ns, registry):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "garden-buildkit"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "garden-buildkit"}},
                    "template": {"metadata": {"labels": {"app": "garden-buildkit"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                     "name": "buildkitd", "image": "moby/buildkit:v0.12.0",
                                     "args": ["--addr", "unix:///run/buildkit/buildkitd.sock"],
                                     "securityContext": {"privileged": True},
                                     "readinessProbe": {"exec": {"command": ["buildctl", "debug", "workers"]}}}]}}}}
    cluster.kubectl("1.32", "-n", ns, "apply", "-f", "-", input=json.dumps(dep).encode())
    cluster.kubectl("1.32", "-n", ns, "rollout", "status", "deploy/garden-buildkit", "--timeout=60s", timeout=90)
    podname = cluster.kubectl("1.32", "-n", ns, "get", "pods", "-l", "app=garden-buildkit", "-o", "name").stdout.decode().strip()
    df = b"FROM kiln-test/busybox:latest\nARG X\nRUN echo $X > /x\n"
    cluster.kubectl("1.32", "-n", ns, "exec", "-i", podname, "--", "sh", "-c",
                    "mkdir -p /garden-build/ctx && cat > /garden-build/ctx/Dockerfile", input=df)
    repo = f"testcluster/bk-{uuid.uuid4().hex[:8]}"
    r = cluster.kubectl("1.32", "-n", ns, "exec", podname, "--", "buildctl", "build", "--frontend=dockerfile.v0",
                        "--local", "context=/garden-build/ctx", "--local", "dockerfile=/garden-build/ctx",
                        "--opt", "filename=Dockerfile", "--opt", "build-arg:X=yo",
                        "--output", f'type=image,"name={registry}/{repo}:v1",push=true,registry.insecure=true',
                        "--export-cache", f"type=registry,ref={registry}/{repo}:_buildcache,mode=max",
                        "--metadata-file", "/tmp/meta.json", timeout=300)
    meta = json.loads(cluster.kubectl("1.32", "-n", ns, "exec", podname, "--", "cat", "/tmp/meta.json").stdout)
    assert meta["containerimage.digest"] == registry_digest(registry, repo, "v1")
    r = cluster.kubectl("1.32", "-n", ns, "exec", podname, "--", "buildctl", "build", "--frontend=gateway.v0", check=False)
    assert r.returncode == 1 and b"only dockerfile.v0 is emulated" in r.stderr


def test_blob_upload_to_test_registry_through_service_proxy(cluster, registry):
    """The mapped service kiln-test/registry:5000 reaches the real test registry."""
    import hashlib
    import urllib.parse
    repo = f"testcluster/proxied-{uuid.uuid4().hex[:8]}"
    base = "/api/v1/namespaces/kiln-test/services/registry:5000/proxy"
    st, hdrs, _ = cluster.request("POST", f"{base}/v2/{repo}/blobs/uploads/", b"", "application/octet-stream")
    assert st == 202, hdrs
    loc = hdrs["Location"]
    u = urllib.parse.urlsplit(loc)
    assert u.path.startswith(base + f"/v2/{repo}/blobs/uploads/"), loc
    data = os.urandom(300000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    st, hdrs, body = cluster.request("PUT", f"{u.path}?{u.query}&digest={digest}", data, "application/octet-stream")
    assert st == 201, body
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/blobs/{digest}", method="HEAD")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert int(r.headers["Content-Length"]) == len(data)


def test_kaniko_context_streamed_into_waiting_init_container(cluster, ns, registry):
    """The reference flow: an init container waits for /tmp/complete, the client
    streams the context tar into it with exec, then kaniko builds it."""
    import io
    import tarfile
    repo = f"testcluster/kaniko-exec-{uuid.uuid4().hex[:8]}"
    p = kaniko_pod("kaniko-c", f"{registry}/{repo}:v-2")
    p["spec"]["initContainers"][0]["command"] = ["sh", "-c", "while [ ! -f /tmp/complete ]; do sleep 0.2; done"]
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", p)
    assert st == 201, body

    def init_running():
        c = ((pod(cluster, ns, "kaniko-c") or {}).get("status", {}).get("initContainerStatuses") or [{}])[0]
        return "running" in c.get("state", {})
    wait_for(init_running, "init container running", 60)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY payload.bin /payload.bin\n"), ("payload.bin", os.urandom(2 << 20))):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    cluster.kubectl("1.32", "-n", ns, "exec", "-i", "kaniko-c", "-c", "init", "--",
                    "tar", "-xf", "-", "-C", "/kaniko/buildcontext", input=buf.getvalue())
    cluster.kubectl("1.32", "-n", ns, "exec", "kaniko-c", "-c", "init", "--", "touch", "/tmp/complete")
    wait_for(lambda: phase(cluster, ns, "kaniko-c") in ("Succeeded", "Failed"), "kaniko pod done", 180)
    p = pod(cluster, ns, "kaniko-c")
    assert p["status"]["phase"] == "Succeeded"
    assert registry_digest(registry, repo, "v-2") == p["status"]["containerStatuses"][0]["state"]["terminated"]["message"]


def test_dind_pod_reaches_the_test_docker_daemon(cluster, ns):
    """docker:dind (cluster-docker mode) is played by a docker CLI sleeper whose
    127.0.0.1:2375 is the test Docker daemon: usable via exec and the service proxy."""
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "docker-daemon"},
           "spec": {"selector": {"matchLabels": {"app": "docker-daemon"}},
                    "template": {"metadata": {"labels": {"app": "docker-daemon"}},
                                 "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                                     "name": "dind", "image": "docker:24-dind",
                                     "args": ["--host=tcp://0.0.0.0:2375", "--tls=false"],
                                     "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
                                     "securityContext": {"privileged": True},
                                     "ports": [{"name": "docker", "containerPort": 2375}]}]}}}}
    cluster.kubectl("1.32", "-n", ns, "apply", "-f", "-", input=json.dumps(dep).encode())
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "docker-daemon"},
           "spec": {"selector": {"app": "docker-daemon"}, "ports": [{"name": "docker", "port": 2375}]}}
    assert cluster.request("POST", f"/api/v1/namespaces/{ns}/services", svc)[0] == 201
    cluster.kubectl("1.32", "-n", ns, "rollout", "status", "deploy/docker-daemon", "--timeout=60s", timeout=90)
    st, _, version = cluster.request("GET", f"/api/v1/namespaces/{ns}/services/docker-daemon:2375/proxy/version")
    assert st == 200 and version["ApiVersion"]
    podname = cluster.kubectl("1.32", "-n", ns, "get", "pods", "-l", "app=docker-daemon", "-o", "name").stdout.decode().strip()
    tag = f"kiln-testcluster-dind:{uuid.uuid4().hex[:8]}"
    r = cluster.kubectl("1.32", "-n", ns, "exec", "-i", podname, "--", "docker", "build", "-q", "-t", tag, "-",
                        input=b"FROM kiln-test/busybox:latest\nRUN echo built-in-dind > /marker\n", timeout=180)
    assert r.stdout.strip().startswith(b"sha256:")
    st, _, info = cluster.request("GET", f"/api/v1/namespaces/{ns}/services/docker-daemon:2375/proxy/images/{tag}/json")
    assert st == 200 and info["Id"] == r.stdout.strip().decode()
    cluster.request("DELETE", f"/api/v1/namespaces/{ns}/services/docker-daemon:2375/proxy/images/{tag}")
