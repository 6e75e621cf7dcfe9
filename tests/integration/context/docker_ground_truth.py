#!/usr/bin/python3
"""Ground truth for kiln's .dockerignore semantics: the real Docker daemon.

For every case, a context is built with `docker build` (classic builder,
`FROM scratch` + `COPY . /ctx/`) and the files in the image are compared with
kiln's list, case by case. The Dockerfile and .dockerignore are sent by both
but the daemon drops them from what COPY sees when the patterns match them;
kiln marks those entries `forced`.

Reference CLIs (the classic builder's context is made by the CLI):
  KILN_TEST_DOCKER_CLI     the CLI whose semantics kiln implements exactly
                           (default /usr/local/bin/docker when present, a
                           current docker CLI; else /usr/bin/docker)
  KILN_TEST_DOCKER_CLI_OLD Debian's docker 20.10 CLI (/usr/bin/docker): its
                           older matcher differs in the cases marked old_differs,
                           which this test also checks
  KILN_TEST_BUILDKIT=1     also builds each case with BuildKit and reports (does
                           not assert) where BuildKit differs

usage: docker_ground_truth.py CONTEXT_LIST_BINARY
Needs DOCKER_HOST (eval "$(tests/services/up)"); under CI=true a missing
daemon fails the test, otherwise it is skipped (exit 77).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

DOCKERFILE = "FROM scratch\nCOPY . /ctx/\n"

BASE_TREE = {
    "README.md": "readme",
    "main.go": "package main",
    ".git/HEAD": "ref: refs/heads/main",
    ".git/objects/ab/cdef": "obj",
    ".gitignore": "*.o",
    "src/app.py": "print()",
    "src/lib/util.py": "x = 1",
    "src/lib/__pycache__/util.cpython-311.pyc": "pyc",
    "src/node_modules/dep/index.js": "dep",
    "node_modules/pkg/index.js": "pkg",
    "node_modules/.bin/tool": ("symlink", "../pkg/index.js"),
    "docs/guide.md": "guide",
    "docs/api/ref.md": "ref",
    "build/out.o": "obj",
    "build/keep/important.txt": "keep",
    "a.txt": "a",
    "b.txt": "b",
    "c.log": "log",
    "data1.csv": "1",
    "data2.csv": "2",
    "dataX.csv": "x",
    "test/fixtures/f1.json": "{}",
    "test/unit_test.go": "package test",
    "web/static/app.js": "app",
    "web/static/app.min.js": "min",
    "web/node_modules/x/y.js": "y",
    "empty_dir/": None,
    "weird name.txt": "space",
    "[brackets].txt": "brackets",
    "secret.env": "SECRET=1",
    "config/.env": "ENV=1",
    "config/app.yaml": "a: 1",
    "vendor/a/b/c/deep.txt": "deep",
    "q/x/y/keep.txt": "k",
    "q/x/y/z.txt": "z",
    "q/x/w.txt": "w",
    "p/b/bar/keep": "k",
    "p/b/bar/c": "c",
    "lib/x.so": "so",
    "tools/lib/gen.py": "gen",
    "run.sh": ("exec", "#!/bin/sh\n"),
    "a+b.txt": "plus",
    "aab.txt": "aab",
    "(x)": "paren",
    "x": "x",
    "{c}.log": "brace",
}

# (name, .dockerignore text or None, options)
CASES = [
    ("no-dockerignore", None, {}),
    ("empty-dockerignore", "", {}),
    ("allow-list-star-then-src", "*\n!src\n", {}),
    ("allow-list-with-files", "*\n!src\n!main.go\n!docs/guide.md\n", {}),
    ("doublestar-node-modules", "**/node_modules\n", {}),
    ("top-node-modules", "node_modules\n", {}),
    ("one-level-node-modules", "*/node_modules\n", {}),
    ("git-dir", ".git\n", {}),
    ("trailing-slash", "build/\n", {}),
    ("nested-trailing-slash", "docs/api/\n", {}),
    ("trailing-slash-on-file", "a.txt/\n", {}),
    ("exception-inside-excluded-dir", "build\n!build/keep/important.txt\n", {}),
    ("exception-dir-inside-star", "build/*\n!build/keep\n", {}),
    ("doublestar-exception-not-descended", "build\n!**/important.txt\n", {}),
    ("ext-with-exception", "*.csv\n!data1.csv\n", {}),
    ("question-mark", "data?.csv\n", {}),
    ("class-digits", "data[12].csv\n", {}),
    ("class-range", "data[0-9].csv\n", {}),
    ("class-negated-caret", "data[^1].csv\n", {}),
    ("class-bang-is-literal", "data[!1].csv\n", {}),
    ("leading-slash", "/a.txt\n", {}),
    ("leading-dot-slash", "./a.txt\n", {}),
    ("dotdot-cleaned", "src/../a.txt\n", {}),
    ("dotdot-outside", "../a.txt\n", {}),
    ("comments-and-space", "# a comment\n   b.txt   \n\n\t\n", {}),
    ("space-then-hash-is-pattern", " #a.txt\na.txt\n", {}),
    ("crlf-and-bom", "\ufeffa.txt\r\nb.txt\r\n", {}),
    ("top-level-md-only", "*.md\n", {}),
    ("doublestar-md", "**/*.md\n", {}),
    ("dir-doublestar", "docs/**\n", {}),
    ("everything-but-one-file", "**\n!docs/guide.md\n", {}),
    ("star-then-go-files", "*\n!*.go\n", {}),
    ("exclude-dir-keep-file", "src/lib\n!src/lib/util.py\n", {}),
    ("pyc-anywhere-under-src", "src/**/*.pyc\n", {}),
    ("pycache-anywhere", "**/__pycache__\n", {}),
    ("exception-without-exclusion", "!a.txt\n", {}),
    ("last-match-wins", "a.txt\n!a.txt\na.txt\n", {}),
    ("ignore-dockerfile-and-dockerignore", "Dockerfile\n.dockerignore\n", {}),
    ("star-excludes-everything", "*\n", {}),
    ("deep-exception", "vendor/a\n!vendor/a/b/c/deep.txt\n", {}),
    ("js-with-exception", "**/*.js\n!web/static/app.js\n", {}),
    ("min-js", "web/static/*.min.js\n", {}),
    ("escaped-brackets", "\\[brackets\\].txt\n", {}),
    ("space-in-name", "weird name.txt\n", {}),
    ("env-files", "*.env\n**/.env\n", {}),
    ("config-dir", "config\n", {}),
    ("empty-dir", "empty_dir\n", {}),
    ("symlink-target-excluded", "node_modules/pkg\n", {}),
    ("symlink-itself-excluded", "node_modules/.bin/tool\n", {}),
    ("doublestar-lib-doublestar", "**/lib/**\n", {}),
    ("doublestar-prefix-no-slash", "**lib\n", {}),
    ("parent-results-inheritance", "q/x\n!q/x/y\nq\n!q/x/y/keep.txt\n", {}),
    ("parent-results-quirk", "q\n!q/x\nq\n", {"old_differs": True}),
    ("deep-parent-match", "**/bar\n!p/b/bar/keep\n", {"old_differs": True}),
    ("regex-metachars-literal", "a+b.txt\n(x)\n{c}.log\n", {"old_differs": True}),
    ("dockerfile-in-excluded-dir", "docs\n", {"dockerfile": "docs/Dockerfile.ci"}),
    ("dockerfile-excluded-by-pattern", "Dockerfile*\n", {"dockerfile": "Dockerfile.dev"}),
    ("executable-script", "*.txt\n*.md\n", {}),
    ("outside-dockerfile", "a.txt\n", {"outside": True}),
    ("outside-dockerfile-no-dockerignore", None, {"outside": True}),
]


def write_tree(root, tree):
    for rel, content in tree.items():
        path = os.path.join(root, rel)
        if rel.endswith("/"):
            os.makedirs(path, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(content, tuple) and content[0] == "symlink":
            os.symlink(content[1], path)
        elif isinstance(content, tuple) and content[0] == "exec":
            with open(path, "w") as f:
                f.write(content[1])
            os.chmod(path, 0o755)
        else:
            with open(path, "w") as f:
                f.write(content)


def run(cmd, env=None, check=True, **kw):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def image_files(cli, ctx, dockerfile, tag, buildkit=False):
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "1" if buildkit else "0"
    # The image is listed with Debian's CLI, whatever built it.
    run([cli, "build", "-q", "-f", os.path.join(ctx, dockerfile), "-t", tag, ctx], env=env)
    cid = run(["/usr/bin/docker", "create", tag, "true"]).stdout.strip()
    try:
        export = subprocess.run(["/usr/bin/docker", "export", cid], stdout=subprocess.PIPE, check=True).stdout
    finally:
        run(["/usr/bin/docker", "rm", cid], check=False)
        run(["/usr/bin/docker", "rmi", "-f", tag], check=False)
    listing = subprocess.run(["tar", "-t"], input=export, stdout=subprocess.PIPE, check=True).stdout.decode()
    out = set()
    for line in listing.splitlines():
        if line.startswith("ctx/") and line != "ctx/":
            out.add(line[len("ctx/"):])
    return out


def kiln_files(lister, ctx, dockerfile):
    p = run([lister, ctx, dockerfile], check=False)
    doc = json.loads(p.stdout)
    if "error" in doc:
        raise RuntimeError(f"kiln refused the context: {doc['error']}")
    out = set()
    for e in doc["entries"]:
        path = e["path"]
        parts = path.split("/")
        for i in range(1, len(parts)):
            # Extracting the tar creates the parents, also of files the
            # daemon drops afterwards.
            out.add("/".join(parts[:i]) + "/")
        if e["forced"]:
            continue  # sent, then dropped by the daemon, as kiln documents
        out.add(path + "/" if e["type"] == "dir" else path)
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    lister = sys.argv[1]
    ci = os.environ.get("CI") == "true"
    if not os.environ.get("DOCKER_HOST") or run(["/usr/bin/docker", "version"], check=False).returncode != 0:
        msg = "no Docker daemon: run eval \"$(tests/services/up)\" first"
        if ci:
            print("FAIL: " + msg)
            return 1
        print("SKIP: " + msg)
        return 77
    primary = os.environ.get("KILN_TEST_DOCKER_CLI") or (
        "/usr/local/bin/docker" if os.access("/usr/local/bin/docker", os.X_OK) else "/usr/bin/docker")
    old = os.environ.get("KILN_TEST_DOCKER_CLI_OLD", "/usr/bin/docker")
    if old == primary:
        old = None
    buildkit = os.environ.get("KILN_TEST_BUILDKIT") == "1"
    only = os.environ.get("KILN_TEST_CASES")
    version = run([primary, "version", "--format", "{{.Client.Version}}"], check=False).stdout.strip()
    print(f"reference CLI: {primary} ({version}); old CLI: {old}; BuildKit: {buildkit}")

    failures = []
    old_report = []
    buildkit_report = []
    checked = 0
    for name, ignore, opts in CASES:
        if only and name not in only.split(","):
            continue
        dockerfile = opts.get("dockerfile", "Dockerfile")
        with tempfile.TemporaryDirectory(prefix="kiln-ctx-") as ctx, \
                tempfile.TemporaryDirectory(prefix="kiln-df-") as elsewhere:
            write_tree(ctx, BASE_TREE)
            if opts.get("outside"):
                dockerfile = os.path.join(elsewhere, "Dockerfile")
            os.makedirs(os.path.dirname(os.path.join(ctx, dockerfile)), exist_ok=True)
            with open(os.path.join(ctx, dockerfile), "w") as f:
                f.write(DOCKERFILE)
            if ignore is not None:
                with open(os.path.join(ctx, ".dockerignore"), "w") as f:
                    f.write(ignore)
            tag = f"kiln-ctx-gt-{os.getpid()}-{name}"
            want = kiln_files(lister, ctx, dockerfile)
            got = image_files(primary, ctx, dockerfile, tag)
            checked += 1
            if got != want:
                failures.append((name, sorted(got - want), sorted(want - got)))
                print(f"FAIL {name}: only in image {sorted(got - want)}; only in kiln {sorted(want - got)}")
            else:
                print(f"ok   {name} ({len(got)} paths)")
            if old:
                got_old = image_files(old, ctx, dockerfile, tag)
                differs = got_old != want
                if differs != bool(opts.get("old_differs")):
                    failures.append((name + " [old CLI]", sorted(got_old - want), sorted(want - got_old)))
                    print(f"FAIL {name} [old CLI]: differs={differs}, expected {bool(opts.get('old_differs'))}: "
                          f"only in image {sorted(got_old - want)}; only in kiln {sorted(want - got_old)}")
                if differs:
                    old_report.append((name, sorted(got_old - want), sorted(want - got_old)))
            if buildkit:
                got_bk = image_files("/usr/bin/docker", ctx, dockerfile, tag, buildkit=True)
                if got_bk != want:
                    buildkit_report.append((name, sorted(got_bk - want), sorted(want - got_bk)))

    for name, extra, missing in old_report:
        print(f"note: docker 20.10 CLI differs in {name}: only in image {extra}; only in kiln {missing}")
    for name, extra, missing in buildkit_report:
        print(f"note: BuildKit differs in {name}: only in image {extra}; only in kiln {missing}")
    if buildkit:
        print(f"BuildKit agreed in {checked - len(buildkit_report)} of {checked} cases")
    if checked < 40 and not only:
        failures.append(("corpus", [], [f"only {checked} cases ran"]))
    if failures:
        print(f"{len(failures)} failure(s) in {checked} cases")
        return 1
    print(f"all {checked} cases agree with the Docker daemon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
