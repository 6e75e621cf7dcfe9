"""kiln.context through libkiln; archives are read back with Python's tarfile.
Run with /usr/bin/python3; KILN_LIBRARY names the built libkiln.so.0."""
import io
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import kiln  # noqa: E402
from kiln.context import Context, Directory, Symlink  # noqa: E402


def make_tree(root):
    root = pathlib.Path(root)
    (root / "src").mkdir()
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "i.js").write_text("x")
    (root / ".dockerignore").write_text("node_modules\n.dockerignore\n")
    os.symlink("src/app.py", root / "link")


class ContextTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kiln-py-ctx-")
        self.root = self.tmp.name
        make_tree(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def test_files_follow_dockerignore_and_mark_forced(self):
        with Context(self.root) as ctx:
            doc = ctx.files()
            paths = [e["path"] for e in doc["entries"]]
            self.assertEqual(paths, [".dockerignore", "Dockerfile", "link", "run.sh", "src", "src/app.py"])
            forced = {e["path"]: e["forced"] for e in doc["entries"]}
            self.assertTrue(forced[".dockerignore"])
            self.assertFalse(forced["Dockerfile"])
            self.assertEqual(doc["ignorePatterns"], ["node_modules", ".dockerignore"])
            self.assertEqual(doc["dockerfile"], "Dockerfile")
            link = [e for e in ctx.iter_files() if e["path"] == "link"][0]
            self.assertEqual(link["type"], "symlink")
            self.assertEqual(link["linkTarget"], "src/app.py")

    def test_version_is_stable_and_depends_on_inputs(self):
        with Context(self.root) as ctx:
            v = ctx.version()
            self.assertRegex(v["version"], r"^v-[0-9a-f]{10}$")
            self.assertTrue(v["digest"].startswith("sha256:" + v["version"][2:]))
            self.assertEqual(ctx.version()["version"], v["version"])
            self.assertNotEqual(ctx.version(build_args={"A": "1"})["version"], v["version"])
            self.assertNotEqual(ctx.version(target="prod")["version"], v["version"])
            self.assertNotEqual(ctx.version(platform="linux/arm64")["version"], v["version"])
        with tempfile.TemporaryDirectory() as other:
            make_tree(other)
            with Context(other) as ctx2:
                self.assertEqual(ctx2.version()["version"], v["version"])

    def test_stat_cache_avoids_reading_unchanged_files(self):
        with tempfile.TemporaryDirectory() as cache_dir:
            cache = os.path.join(cache_dir, "stat.cache")
            old = 1_600_000_000
            for dirpath, dirnames, filenames in os.walk(self.root):
                for name in filenames:
                    os.utime(os.path.join(dirpath, name), (old, old))
            import time
            start = int(time.time())
            while int(time.time()) == start:  # ctime must lie in a past second
                time.sleep(0.02)
            # kiln reads the clock with time(), which glibc serves from the
            # coarse clock (up to a tick behind time.time()): step past it.
            time.sleep(0.05)
            with Context(self.root, stat_cache=cache) as ctx:
                first = ctx.version()
            self.assertTrue(os.path.exists(cache))
            with Context(self.root, stat_cache=cache) as ctx:
                second = ctx.version()
            self.assertEqual(second["filesHashed"], 0)
            self.assertEqual(second["version"], first["version"])

    def test_write_to_file_and_gzip(self):
        with Context(self.root) as ctx, tempfile.TemporaryDirectory() as out:
            plain = os.path.join(out, "ctx.tar")
            with open(plain, "wb") as f:
                ctx.write(f)
            with tarfile.open(plain) as t:
                names = t.getnames()
                self.assertEqual(names, [".dockerignore", "Dockerfile", "link", "run.sh", "src", "src/app.py"])
                self.assertEqual(t.getmember("run.sh").mode, 0o755)
                self.assertTrue(t.getmember("link").issym())
                self.assertEqual(t.extractfile("src/app.py").read(), b"print('hi')\n")
            gz = os.path.join(out, "ctx.tar.gz")
            with open(gz, "wb") as f:
                ctx.write(f, gzip=True, gzip_level=6)
            with tarfile.open(gz, "r:gz") as t:
                self.assertEqual(t.getnames(), names)

    def test_write_to_python_object_and_events(self):
        events = []
        with Context(self.root) as ctx:
            data = ctx.tar_bytes(zero_mtimes=True)
            with tarfile.open(fileobj=io.BytesIO(data)) as t:
                self.assertTrue(all(m.mtime == 0 for m in t.getmembers()))
            buf = io.BytesIO()
            ctx.write(buf, on_event=lambda type_, details: events.append((type_, details)))
            self.assertEqual(len(buf.getvalue()), len(data))
            done = [d for t, d in events if t == "context.done"]
            self.assertEqual(len(done), 1)
            self.assertEqual(done[0]["files"], 6)
            self.assertEqual(done[0]["bytes"], len(buf.getvalue()))

    def test_cancellation(self):
        with Context(self.root) as ctx:
            cancel = kiln.Cancel()
            cancel.cancel()
            with self.assertRaises(kiln.KilnError) as e:
                ctx.write(io.BytesIO(), cancel=cancel)
            self.assertEqual(e.exception.name, "cancelled")
            with self.assertRaises(kiln.KilnError) as e:
                ctx.write(io.BytesIO(), on_event=lambda *_: False)
            self.assertEqual(e.exception.name, "cancelled")

            class Broken:
                def write(self, data):
                    raise OSError("disk full")

            with self.assertRaises(OSError):
                ctx.write(Broken())

    def test_bad_input_is_a_clear_error(self):
        with self.assertRaises(kiln.KilnError) as e:
            Context(os.path.join(self.root, "missing"))
        self.assertEqual(e.exception.name, "not_found")
        self.assertIn("does not exist", e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context(self.root, dockerfile="../Dockerfile")
        self.assertEqual(e.exception.name, "invalid_argument")
        with self.assertRaises(kiln.KilnError) as e:
            Context(self.root, threads="two")
        self.assertIn("'threads'", e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context(self.root, colour="blue")
        self.assertIn("unknown field 'colour'", e.exception.message)
        pathlib.Path(self.root, ".dockerignore").write_text("[oops\n")
        with self.assertRaises(kiln.KilnError) as e:
            Context(self.root)
        self.assertIn("[oops", e.exception.message)
        pathlib.Path(self.root, ".dockerignore").write_text("")
        with Context(self.root, dockerfile="src/app.py") as ctx:
            with self.assertRaises(kiln.KilnError) as e:
                ctx.write(io.BytesIO(), gzip_level=12)
            self.assertIn("gzipLevel", e.exception.message)


def tree_as_files():
    """make_tree's files for Context.from_files."""
    return {
        "Dockerfile": "FROM scratch\nCOPY . /ctx/\n",
        "src/app.py": b"print('hi')\n",
        "run.sh": (b"#!/bin/sh\n", 0o755),
        "node_modules/x/i.js": (b"x", 0o644, 1_600_000_000),
        ".dockerignore": b"node_modules\n.dockerignore\n",
        "link": Symlink("src/app.py"),
    }


class TarballAndMemoryContextTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kiln-py-kinds-")
        self.root = os.path.join(self.tmp.name, "tree")
        os.mkdir(self.root)
        make_tree(self.root)
        self.archive = os.path.join(self.tmp.name, "ctx.tar.gz")
        # GNU tar, as a user would make it; Python's tarfile is the second maker.
        subprocess.run(["tar", "-czf", self.archive, "-C", self.root, "."], check=True)
        with Context(self.root) as ctx:
            self.entries = [(e["path"], e["type"], e["mode"]) for e in ctx.iter_files()]
            self.version = ctx.version(build_args={"A": "1"})["version"]
            self.patterns = ctx.files()["ignorePatterns"]

    def tearDown(self):
        self.tmp.cleanup()

    def check_same_as_directory(self, ctx):
        self.assertEqual([(e["path"], e["type"], e["mode"]) for e in ctx.iter_files()], self.entries)
        self.assertEqual(ctx.version(build_args={"A": "1"})["version"], self.version)
        self.assertEqual(ctx.files()["ignorePatterns"], self.patterns)

    def test_tarball_from_path_bytes_and_python_tarfile(self):
        with Context.from_tarball(self.archive) as ctx:
            self.check_same_as_directory(ctx)
            self.assertEqual(ctx.files()["dockerfile"], "Dockerfile")
            ctx.rescan()  # nothing to forget
            self.check_same_as_directory(ctx)
        with Context.from_tarball(pathlib.Path(self.archive)) as ctx:
            self.check_same_as_directory(ctx)
        data = bytearray(pathlib.Path(self.archive).read_bytes())
        with Context.from_tarball(data) as ctx:
            data[:] = b"\0" * len(data)  # copied: the caller's buffer is free again
            self.check_same_as_directory(ctx)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            t.add(self.root, arcname=".")
        with Context.from_tarball(buf.getvalue()) as ctx:
            self.check_same_as_directory(ctx)

    def test_tarball_bad_input(self):
        data = pathlib.Path(self.archive).read_bytes()
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(data[: len(data) // 2])
        self.assertEqual(e.exception.name, "invalid_argument")
        self.assertIn("truncated", e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(b"this is not a tar archive" * 40)
        self.assertEqual(e.exception.name, "invalid_argument")
        self.assertIn("tar", e.exception.message)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            info = tarfile.TarInfo("../escape")
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(buf.getvalue())
        self.assertIn("../escape", e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(os.path.join(self.tmp.name, "missing.tar"))
        self.assertEqual(e.exception.name, "not_found")
        self.assertIn("missing.tar", e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(self.archive, max_bytes=100)
        self.assertEqual(e.exception.name, "too_large")
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_tarball(self.archive, dockerfile="src/Dockerfile")
        self.assertEqual(e.exception.name, "not_found")
        self.assertIn("src/Dockerfile", e.exception.message)

    def test_files_in_memory(self):
        with Context.from_files(tree_as_files()) as ctx:
            self.check_same_as_directory(ctx)
            names = tarfile.open(fileobj=io.BytesIO(ctx.tar_bytes())).getnames()
            self.assertEqual(names, [".dockerignore", "Dockerfile", "link", "run.sh", "src", "src/app.py"])
        files = tree_as_files()
        files["empty"] = Directory(0o700)
        files["Dockerfile.dev"] = "FROM scratch\n"
        with Context.from_files(files, dockerfile="Dockerfile.dev") as ctx:
            doc = ctx.files()
            self.assertEqual(doc["dockerfile"], "Dockerfile.dev")
            empty = [e for e in doc["entries"] if e["path"] == "empty"]
            self.assertEqual([(e["type"], e["mode"]) for e in empty], [("dir", 0o700)])
            with tarfile.open(fileobj=io.BytesIO(ctx.tar_bytes(gzip=True))) as t:
                self.assertTrue(t.getmember("empty").isdir())
                self.assertEqual(t.extractfile("run.sh").read(), b"#!/bin/sh\n")
                self.assertEqual(t.getmember("run.sh").mode, 0o755)

    def test_files_bad_input_names_the_path(self):
        for bad in ("../evil", "/etc/passwd", "a/../../evil"):
            files = tree_as_files()
            files[bad] = b"x"
            with self.assertRaises(kiln.KilnError) as e:
                Context.from_files(files)
            self.assertEqual(e.exception.name, "invalid_argument")
            self.assertIn(bad, e.exception.message)
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_files({"app": b"x"})
        self.assertEqual(e.exception.name, "not_found")
        with self.assertRaises(kiln.KilnError) as e:
            Context.from_files({"Dockerfile": (b"x", 0o100644)})
        self.assertIn("'Dockerfile'", e.exception.message)
        with self.assertRaises(TypeError):
            Context.from_files({"Dockerfile": 42})
        with self.assertRaises(TypeError):
            Context.from_files({"Dockerfile": (b"x",)})


if __name__ == "__main__":
    unittest.main()
