"""Polling helpers for the test cluster tests (deadlines only bound a hang)."""

import time


def wait_for(fn, what, timeout=60, interval=0.2):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what}; last value: {last!r}")


def pod(cluster, ns, name):
    st, _, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    return body if st == 200 else None


def phase(cluster, ns, name):
    p = pod(cluster, ns, name)
    return (p or {}).get("status", {}).get("phase")


def busybox_pod(name, script, **spec):
    s = {"containers": [{"name": "main", "image": "kiln-test/busybox:latest", "command": ["sh", "-c", script]}],
         "terminationGracePeriodSeconds": 1}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": s}
