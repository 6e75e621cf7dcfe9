"""kiln.registry through libkiln, checked with skopeo. Run with /usr/bin/python3;
KILN_LIBRARY names the built libkiln.so.0."""
import base64
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import kiln  # noqa: E402
from kiln.registry import Registry, copy  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def service(name):
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get("CI") == "true":
        raise AssertionError(f"CI=true but {name} is not set: eval \"$(tests/services/up)\" first")
    raise unittest.SkipTest(f"{name} is not set")


def build_image(registry, repository, workdir, tag, layer_size=200_000):
    layer = os.urandom(layer_size)
    layer_path = pathlib.Path(workdir) / f"layer-{tag}"
    layer_path.write_bytes(layer)
    config = json.dumps({"architecture": "arm64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}})
    config_path = pathlib.Path(workdir) / f"config-{tag}"
    config_path.write_text(config)
    layer_desc = registry.push_blob_file(repository, layer_path, "application/vnd.oci.image.layer.v1.tar")
    config_desc = registry.push_blob_file(repository, config_path, "application/vnd.oci.image.config.v1+json",
                                          digest="sha256:" + hashlib.sha256(config.encode()).hexdigest(),
                                          size=len(config))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc,
                           "layers": [layer_desc]}, indent=1).encode()
    digest = registry.put_manifest(repository, tag, manifest, OCI_MANIFEST)
    return manifest, digest, layer_desc


class LayoutTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.layout = f"{self.dir}/layout"

    def tearDown(self):
        self.tmp.cleanup()

    def test_round_trip(self):
        with Registry("oci:" + self.layout, create=True) as reg:
            manifest, digest, layer = build_image(reg, "", self.dir, "v1")
            self.assertEqual(digest, "sha256:" + hashlib.sha256(manifest).hexdigest())
            self.assertEqual(layer["size"], 200_000)
            self.assertEqual(reg.resolve("", "v1")["digest"], digest)
            self.assertEqual(reg.tags(""), ["v1"])
            self.assertEqual(reg.catalog(), [""])
            data, media_type = reg.get_manifest("", "v1")
            self.assertEqual((data, media_type), (manifest, OCI_MANIFEST))
            info = reg.inspect("", "v1")
            self.assertEqual(info["platform"], "linux/arm64")
            self.assertEqual(info["layers"][0]["size"], 200_000)
            # independent check: skopeo sees the same bytes
            raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{self.layout}:v1"],
                                 check=True, capture_output=True).stdout
            self.assertEqual(raw, manifest)
            self.assertEqual(reg.delete("", "v1"), digest)
            with self.assertRaises(kiln.KilnError) as caught:
                reg.resolve("", "v1")
            self.assertEqual(caught.exception.name, "not_found")

    def test_copy_events_and_cancel(self):
        with Registry("oci:" + self.layout, create=True) as reg:
            _, digest, _ = build_image(reg, "", self.dir, "v1", layer_size=3_000_000)
        events = []
        lock = threading.Lock()

        def record(kind, details):
            with lock:
                events.append((kind, details))

        result = copy(f"oci:{self.layout}:v1", f"oci:{self.dir}/copy:c", on_event=record,
                      parallel_blobs=2, extra_tags=["latest"])
        self.assertEqual(result["digest"], digest)
        self.assertEqual(result["blobsCopied"], 2)
        kinds = [k for k, _ in events]
        self.assertEqual(kinds.count("blob.start"), 2)
        self.assertEqual(kinds[-1], "copy.done")
        self.assertTrue(all(d["digest"].startswith("sha256:") for k, d in events if k.startswith("blob.")))
        out = subprocess.run(["skopeo", "inspect", f"oci:{self.dir}/copy:latest"],
                             check=True, capture_output=True, text=True).stdout
        self.assertEqual(json.loads(out)["Digest"], digest)

        # cancelled by the callback, then by a token
        with self.assertRaises(kiln.KilnError) as caught:
            copy(f"oci:{self.layout}:v1", f"oci:{self.dir}/c2:x", on_event=lambda k, d: k != "blob.start")
        self.assertEqual(caught.exception.name, "cancelled")
        token = kiln.Cancel()
        token.cancel()
        with self.assertRaises(kiln.KilnError) as caught:
            copy(f"oci:{self.layout}:v1", f"oci:{self.dir}/c3:x", cancel=token)
        self.assertEqual(caught.exception.code, -11)

    def test_bad_input(self):
        with self.assertRaises(kiln.KilnError) as caught:
            Registry("127.0.0.1:1", ca_fiel="x")
        self.assertEqual(caught.exception.name, "invalid_argument")
        self.assertIn("caFiel", caught.exception.message)
        with self.assertRaises(kiln.KilnError) as caught:
            Registry("oci:" + self.layout)
        self.assertEqual(caught.exception.name, "not_found")
        with self.assertRaises(kiln.KilnError) as caught:
            copy("localhost/Upper:tag", f"oci:{self.dir}/x:y")
        self.assertEqual(caught.exception.name, "invalid_argument")
        with Registry("oci:" + self.layout, create=True) as reg:
            path = pathlib.Path(self.dir) / "blob"
            path.write_bytes(b"data")
            with self.assertRaises(kiln.KilnError) as caught:
                reg.push_blob_file("", path, digest="sha256:" + "0" * 64)
            self.assertEqual(caught.exception.name, "digest_mismatch")
            self.assertEqual(len(list((pathlib.Path(self.layout) / "blobs" / "sha256").iterdir())), 0)
            with self.assertRaises(kiln.KilnError) as caught:
                reg.push_blob_file("", pathlib.Path(self.dir) / "no-such-file")
            self.assertEqual(caught.exception.name, "io")  # a local file error, not a missing blob
            self.assertIn("no-such-file", caught.exception.message)


class RemoteTest(unittest.TestCase):
    def test_push_copy_delete_against_the_registry(self):
        host = service("KILN_TEST_REGISTRY")
        repo = f"kiln-python/app-{os.getpid()}"
        with tempfile.TemporaryDirectory() as tmp, Registry(host) as reg:
            manifest, digest, _ = build_image(reg, repo, tmp, "v1")
            self.assertEqual(reg.resolve(repo, "v1")["digest"], digest)
            result = copy(f"{host}/{repo}:v1", f"{host}/{repo}-copy:v2")
            self.assertEqual(result["digest"], digest)
            self.assertEqual(result["blobsMounted"], 2)
            raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}-copy:v2"],
                                 check=True, capture_output=True).stdout
            self.assertEqual(raw, manifest)
            self.assertIn("v1", reg.tags(repo))
            self.assertEqual(reg.delete(repo, "v1"), digest)
            with self.assertRaises(kiln.KilnError) as caught:
                reg.get_manifest(repo, "v1")
            self.assertEqual(caught.exception.name, "not_found")

    def test_options_inline_credentials_ca_and_chunks(self):
        host = service("KILN_TEST_REGISTRY_BASIC")
        ca = service("KILN_TEST_CA")
        cert_dir = service("KILN_TEST_CERT_DIR")
        user, password = service("KILN_TEST_REGISTRY_USER"), service("KILN_TEST_REGISTRY_PASSWORD")
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        config = json.dumps({"auths": {host: {"auth": auth}}})
        repo = f"kiln-python/basic-{os.getpid()}"
        with tempfile.TemporaryDirectory() as tmp:
            # 200 kB layer in 64 kB PATCH chunks, credentials from an inline .dockerconfigjson
            with Registry(host, ca_file=ca, docker_config_json=config, chunk_size=65536) as reg:
                manifest, digest, layer = build_image(reg, repo, tmp, "v1")
            out = subprocess.run(["skopeo", "inspect", "--raw", "--cert-dir", cert_dir, "--creds", f"{user}:{password}",
                                  f"docker://{host}/{repo}:v1"], check=True, capture_output=True).stdout
            self.assertEqual(out, manifest)
            with Registry(host, ca_file=ca, anonymous=True) as anonymous:
                with self.assertRaises(kiln.KilnError) as caught:
                    anonymous.tags(repo)
                self.assertEqual(caught.exception.name, "unauthorized")
                self.assertNotIn(password, caught.exception.message)
            with Registry(host, docker_config_json=config) as untrusted:  # no CA: TLS verification fails
                with self.assertRaises(kiln.KilnError) as caught:
                    untrusted.tags(repo)
                self.assertIn(host, caught.exception.message)


if __name__ == "__main__":
    unittest.main()
