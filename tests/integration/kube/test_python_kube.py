"""The Python binding of the kubernetes section against the test cluster."""
import hashlib
import io
import json
import ssl
import urllib.request
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bindings", "python"))

import kiln  # noqa: E402
from kiln.kube import Kube  # noqa: E402


def kubeconfig():
    path = os.environ.get("KUBECONFIG")
    if not path:
        raise AssertionError("KUBECONFIG is not set: start the test cluster with eval \"$(tests/services/up)\""
                             + (" (CI=true)" if os.environ.get("CI") == "true" else ""))
    return path


class KubeBindingTest(unittest.TestCase):
    def setUp(self):
        self.kube = Kube(kubeconfig())
        self.ns = "kiln-py-%06d" % random.randrange(1000000)
        self.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}})

    def tearDown(self):
        self.kube.delete("v1", "Namespace", self.ns, ignore_not_found=True)
        self.kube.close()

    def test_apply_get_delete(self):
        stored = self.kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py"},
                                  "data": {"a": "1"}}, namespace=self.ns)
        self.assertEqual(stored["data"], {"a": "1"})
        self.assertEqual(self.kube.get("v1", "ConfigMap", "py", namespace=self.ns)["data"]["a"], "1")
        self.kube.delete("v1", "ConfigMap", "py", namespace=self.ns)
        with self.assertRaises(kiln.KilnError) as caught:
            self.kube.get("v1", "ConfigMap", "py", namespace=self.ns)
        self.assertEqual(caught.exception.name, "not_found")
        self.assertEqual(caught.exception.remote_code, "NotFound")
        with self.assertRaises(kiln.KilnError) as invalid:
            self.kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
                            namespace=self.ns)
        self.assertEqual(invalid.exception.remote_code, "Invalid")
        self.assertIn("metadata.name", invalid.exception.message)

    def test_exec_with_stdin(self):
        self.kube.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py"},
                         "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                             "name": "main", "image": "kiln-test/busybox:latest", "imagePullPolicy": "IfNotPresent",
                             "command": ["sleep", "3600"]}]}}, namespace=self.ns)
        payload = bytes(range(256)) * 4096  # 1 MiB, every byte value
        deadline = time.monotonic() + 120
        while True:
            phase = self.kube.get("v1", "Pod", "py", namespace=self.ns).get("status", {}).get("phase")
            if phase == "Running":
                break
            self.assertLess(time.monotonic(), deadline, "pod did not start")
            time.sleep(0.5)
        result = self.kube.exec("py", ["sh", "-c", "cat; echo bye >&2; exit 3"], stdin=payload, namespace=self.ns)
        self.assertEqual(result.exit_code, 3)
        self.assertEqual(result.stdout, payload)
        self.assertEqual(result.stderr, b"bye\n")
        self.assertEqual(self.kube.exec("py", ["true"], namespace=self.ns).exit_code, 0)

    def _configmap(self, name, **data):
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"kiln-test": "py"}}, "data": data}

    def _pod(self, name, script, restart_policy="Never"):
        self.kube.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                         "spec": {"restartPolicy": restart_policy, "terminationGracePeriodSeconds": 1,
                                  "containers": [{"name": "main", "image": "kiln-test/busybox:latest",
                                                  "imagePullPolicy": "IfNotPresent",
                                                  "command": ["sh", "-c", script]}]}}, namespace=self.ns)

    def test_list_pages_create_patch_replace(self):
        for i in range(12):
            self.kube.create(self._configmap("cm-%d" % i, k="v"), namespace=self.ns)
        pages = list(self.kube.list_pages("v1", "ConfigMap", namespace=self.ns, limit=5,
                                          label_selector="kiln-test=py"))
        self.assertEqual([len(p["items"]) for p in pages], [5, 5, 2])
        self.assertIn("continue", pages[0]["metadata"])
        self.assertNotIn("continue", pages[-1]["metadata"])
        names = {i["metadata"]["name"] for p in pages for i in p["items"]}
        self.assertEqual(names, {"cm-%d" % i for i in range(12)})
        everything = self.kube.list("v1", "ConfigMap", namespace=self.ns, all_pages=True, limit=3)
        self.assertGreaterEqual(len(everything["items"]), 12)
        self.assertEqual(everything["kind"], "ConfigMapList")
        with self.assertRaises(kiln.KilnError) as caught:
            self.kube.create(self._configmap("cm-0"), namespace=self.ns)
        self.assertEqual(caught.exception.remote_code, "AlreadyExists")
        patched = self.kube.patch("v1", "ConfigMap", "cm-0", {"data": {"k": None, "x": "y"}}, namespace=self.ns)
        self.assertEqual(patched["data"], {"x": "y"})
        replaced = self.kube.replace(self._configmap("cm-0", r="s"), namespace=self.ns)
        self.assertEqual(replaced["data"], {"r": "s"})
        with self.assertRaises(kiln.KilnError) as caught:
            self.kube.list("v1", "ConfigMap", namespace=self.ns, limit="ten")
        self.assertIn("options_json: field 'limit' must be", caught.exception.message)

    def test_watch_iterates_and_stops(self):
        self.kube.create(self._configmap("seed"), namespace=self.ns)
        seen = []
        primed = threading.Event()

        def make_changes():
            primed.wait(60)
            self.kube.create(self._configmap("w"), namespace=self.ns)
            self.kube.patch("v1", "ConfigMap", "w", {"data": {"k": "v"}}, namespace=self.ns)
            self.kube.delete("v1", "ConfigMap", "w", namespace=self.ns)

        changer = threading.Thread(target=make_changes)
        changer.start()
        try:
            for event in self.kube.watch("v1", "ConfigMap", namespace=self.ns, label_selector="kiln-test=py"):
                seen.append((event.type, event.object["metadata"]["name"]))
                if event.object["metadata"]["name"] == "seed":
                    primed.set()
                if event.type == "DELETED":
                    break  # leaving the loop stops the watch
        finally:
            primed.set()
            changer.join()
        self.assertEqual(seen, [("ADDED", "seed"), ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")])

        cancel = kiln.Cancel()
        with self.assertRaises(kiln.KilnError) as caught:
            for event in self.kube.watch("v1", "ConfigMap", namespace=self.ns, cancel=cancel):
                cancel.cancel()
        self.assertEqual(caught.exception.name, "cancelled")
        with self.assertRaises(kiln.KilnError) as caught:
            for _ in self.kube.watch("v1", "ConfigMap", namespace=self.ns, deadline=1.5):
                pass
        self.assertEqual(caught.exception.name, "timeout")

    def test_watch_from_a_compacted_version_relists(self):
        self.kube.create(self._configmap("a"), namespace=self.ns)
        old = self.kube.list("v1", "ConfigMap", namespace=self.ns)["metadata"]["resourceVersion"]
        self.kube.patch("v1", "ConfigMap", "a", {"data": {"k": "v"}}, namespace=self.ns)
        self.kube.create(self._configmap("b"), namespace=self.ns)
        # The test cluster forgets its event history: `old` is now too old (410 Gone).
        url = os.environ.get("KILN_TESTCLUSTER_URL")
        token = os.environ.get("KILN_TESTCLUSTER_TOKEN")
        self.assertTrue(url and token, "KILN_TESTCLUSTER_URL/TOKEN not set: eval \"$(tests/services/up)\"")
        request = urllib.request.Request(url + "/_test/faults", data=json.dumps({"action": "compact"}).encode(),
                                         headers={"Authorization": "Bearer " + token,
                                                  "Content-Type": "application/json"}, method="POST")
        tls = ssl.create_default_context(cafile=os.environ.get("KILN_TEST_CA"))
        with urllib.request.urlopen(request, context=tls, timeout=30) as answer:
            self.assertEqual(answer.status, 200)
        seen = []
        for event in self.kube.watch("v1", "ConfigMap", namespace=self.ns, resource_version=old,
                                     label_selector="kiln-test=py"):
            seen.append((event.type, event.object["metadata"]["name"]))
            if event.object["metadata"]["name"] == "b":
                break
        # Resumed watching would say MODIFIED a, ADDED b; after the 410 kiln
        # relists and announces what exists as new to this watcher.
        self.assertEqual(seen, [("ADDED", "a"), ("ADDED", "b")])

    def test_logs_and_waits(self):
        self._pod("printer", "for i in 1 2 3; do echo line $i; done")
        pod = self.kube.wait_pod("printer", "phase=Succeeded", timeout=180, namespace=self.ns)
        self.assertEqual(pod["status"]["phase"], "Succeeded")
        lines = list(self.kube.logs("printer", namespace=self.ns))
        self.assertEqual([l.line for l in lines], ["line 1", "line 2", "line 3"])
        self.assertEqual({(l.container, l.restart) for l in lines}, {("main", 0)})
        self.assertEqual([l.line for l in self.kube.logs("printer", namespace=self.ns, tail_lines=1)], ["line 3"])

        self._pod("ticker", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")
        followed = []
        for line in self.kube.logs("ticker", namespace=self.ns, follow=True):
            followed.append(line.line)
            if len(followed) == 3:
                break
        self.assertEqual(followed, ["tick 1", "tick 2", "tick 3"])
        with self.assertRaises(kiln.KilnError) as caught:
            self.kube.wait_pod("printer", "Succeeded", namespace=self.ns)
        self.assertEqual(caught.exception.name, "invalid_argument")

    def test_exec_stream_10mb(self):
        self._pod("shell", "sleep 3600")
        self.kube.wait_pod("shell", "phase=Running", timeout=180, namespace=self.ns)
        payload = random.Random(7).randbytes(10 << 20)
        out, err = io.BytesIO(), io.BytesIO()
        code = self.kube.exec_stream("shell", ["sh", "-c", "cat; echo done >&2; exit 2"], stdin=io.BytesIO(payload),
                                     stdout=out, stderr=err, namespace=self.ns)
        self.assertEqual(code, 2)
        self.assertEqual(hashlib.sha256(out.getvalue()).hexdigest(), hashlib.sha256(payload).hexdigest())
        self.assertEqual(err.getvalue(), b"done\n")

        class Full:
            def write(self, data):
                raise OSError("disk full")

        with self.assertRaises(OSError) as caught:
            self.kube.exec_stream("shell", ["echo", "hi"], stdout=Full(), namespace=self.ns)
        self.assertIn("disk full", str(caught.exception))

    def test_bad_context(self):
        with self.assertRaises(kiln.KilnError) as caught:
            Kube(kubeconfig(), context="no-such-context")
        self.assertEqual(caught.exception.name, "not_found")


if __name__ == "__main__":
    unittest.main()
