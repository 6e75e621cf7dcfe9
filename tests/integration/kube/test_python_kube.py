"""The Python binding of the kubernetes section against the test cluster."""
import os
import random
import sys
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

    def test_bad_context(self):
        with self.assertRaises(kiln.KilnError) as caught:
            Kube(kubeconfig(), context="no-such-context")
        self.assertEqual(caught.exception.name, "not_found")


if __name__ == "__main__":
    unittest.main()
