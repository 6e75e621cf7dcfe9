"""pytest fixtures: the running test cluster (started with ./up, reused if up)."""

import json
import os
import ssl
import subprocess
import urllib.request
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SDK = "/usr/lib/google-cloud-sdk/bin"


def _ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def cluster():
    env = dict(os.environ)
    r = subprocess.run([os.path.join(HERE, "up")], capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0:
        msg = f"tests/testcluster/up failed ({r.returncode}): {r.stderr[-2000:]}"
        if _ci():
            pytest.fail(msg)
        pytest.skip(msg)
    exports = {}
    for line in r.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[7:].split("=", 1)
            exports[k] = v
    return Cluster(exports)


class Cluster:
    def __init__(self, exports):
        self.exports = exports
        self.kubeconfig = exports["KUBECONFIG"]
        self.url = exports["KILN_TESTCLUSTER_URL"]
        self.token = exports["KILN_TESTCLUSTER_TOKEN"]
        state = os.path.dirname(self.kubeconfig)
        self.ca = os.path.join(state, "ca-in-use.crt")
        self.ctx = ssl.create_default_context(cafile=self.ca)
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig)
        self.env.pop("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", None)

    def kubectl(self, version, *args, input=None, check=True, timeout=120):
        exe = os.path.join(SDK, f"kubectl.{version}")
        if not os.path.exists(exe):
            if _ci():
                pytest.fail(f"{exe} missing")
            pytest.skip(f"{exe} missing")
        r = subprocess.run([exe, *args], input=input, capture_output=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
        return r

    def popen(self, version, *args):
        return subprocess.Popen([os.path.join(SDK, f"kubectl.{version}"), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env)

    def request(self, method, path, body=None, ctype="application/json", headers=None, token=True):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": ctype, "Accept": "application/json"}
        if token:
            h["Authorization"] = f"Bearer {self.token}"
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
                raw = r.read()
                return r.status, dict(r.headers), (json.loads(raw) if raw and r.headers.get("Content-Type", "").startswith("application/json") else raw)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, dict(e.headers), json.loads(raw)
            except ValueError:
                return e.code, dict(e.headers), raw

    def fault(self, body):
        return self.request("POST", "/_test/faults", body, token=False)


@pytest.fixture
def ns(cluster):
    name = "t-" + uuid.uuid4().hex[:10]
    st, _, body = cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert st == 201, body
    yield name
    cluster.request("DELETE", f"/api/v1/namespaces/{name}")
