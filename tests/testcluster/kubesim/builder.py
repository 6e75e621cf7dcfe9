"""Builder images that cannot run here, played by the kubelet.

kaniko executor (image .../kaniko-project/executor[:tag|@digest]): the
container is replaced by a program that parses the executor's flags, builds
the context directory (read from the pod's volume on the host) with the test
Docker daemon, pushes every --destination to its registry and writes the
digest where --digest-file says (normally /dev/termination-log).

buildkitd (image moby/buildkit or gardendev/buildkit, rootless or not): the
container runs a busybox sleeper instead so that files can be exec'd into it;
`buildctl build ...` exec'd into it is intercepted and performed with the
Docker daemon, reading the --local dirs out of the container.

Unsupported flags fail loudly (exit 1, `Error: unknown flag: ...`)."""

import base64
import io
import json
import os
import re
import shlex
import shutil
import tarfile
import tempfile
import time

from .containers import LogBuffer
from .docker_api import DockerError

KANIKO_RE = re.compile(r"(^|/)kaniko-project/executor([:@].*)?$")
BUILDKIT_RE = re.compile(r"(^|/)(moby|gardendev)/buildkit([:@].*)?$")


class BuildError(Exception):
    pass


class Context:
    """What an emulated container sees: its spec, env, mounts (container path -> host path)."""

    def __init__(self, cluster, pod, container, env, mounts, termlog):
        self.cluster = cluster
        self.pod = pod
        self.container = container
        self.env = env
        self.mounts = dict(mounts)
        self.mounts[container.get("terminationMessagePath", "/dev/termination-log")] = termlog
        self.termlog = termlog
        self.log = LogBuffer()
        self.cancelled = False

    def host_path(self, path):
        best = None
        for mp, host in self.mounts.items():
            mp_n = mp.rstrip("/") or "/"
            if path == mp_n or path.startswith(mp_n.rstrip("/") + "/"):
                if best is None or len(mp_n) > len(best[0]):
                    best = (mp_n, host)
        if best is None:
            raise BuildError(f"path {path} is not on a volume of the pod; the kiln test cluster's builder emulation "
                             f"can only read and write volumes (mounts: {sorted(self.mounts)})")
        rel = path[len(best[0]):].lstrip("/")
        return os.path.join(best[1], rel) if rel else best[1]


class _Emulation:
    replaces_container = True
    substitute_image = None

    def substitute_command(self, cmd, args):
        return cmd, args


class _Kaniko(_Emulation):
    def run(self, ctx):
        return run_kaniko(ctx)


class _Buildkitd(_Emulation):
    replaces_container = False

    def __init__(self, infra_image):
        self.substitute_image = infra_image

    def substitute_command(self, cmd, args):
        return ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"], []


DIND_RE = re.compile(r"^(docker\.io/)?(library/)?docker:[\w.-]*dind[\w.-]*(@sha256:[0-9a-f]{64})?$")
DIND_PORTS = (2375,)


class _Dind(_Emulation):
    """docker:dind (cluster-docker mode): a sleeper with Debian's docker CLI whose
    tcp://127.0.0.1:2375, inside the pod, is forwarded to the test Docker daemon."""
    replaces_container = False
    substitute_image = "kiln-test/docker-cli:latest"

    def substitute_command(self, cmd, args):
        return ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"], []

    def after_start(self, worker):
        from .hostports import UnixForwarder
        from .netns import listen_in_netns
        docker_host = worker.k.cluster.docker_host
        if not docker_host.startswith("unix://"):
            return
        pid = worker.infra.inspect()["State"]["Pid"]
        for port in DIND_PORTS:
            worker.host_ports.append(UnixForwarder(listen_in_netns(pid, port), docker_host[len("unix://"):]))


def emulation_for(image, cluster):
    if KANIKO_RE.search(image or ""):
        return _Kaniko()
    if DIND_RE.search(image or ""):
        return _Dind()
    if BUILDKIT_RE.search(image or ""):
        from . import kubelet
        return _Buildkitd(kubelet.INFRA_IMAGE)
    return None


# ---------------------------------------------------------------------------
# flag parsing shared by both emulations

class Flags:
    def __init__(self, spec, argv, prog):
        """spec: name -> kind ('bool', 'str', 'list', 'ignore-str', 'ignore-bool'); aliases map short names."""
        self.values = {}
        self.ignored = []
        aliases = spec.pop("__aliases__", {})
        i = 0
        while i < len(argv):
            a = argv[i]
            if not a.startswith("-"):
                raise BuildError(f"Error: unexpected argument {a!r} ({prog} takes only flags)")
            name, eq, val = a.lstrip("-").partition("=")
            name = aliases.get(name, name)
            kind = spec.get(name)
            if kind is None:
                raise BuildError(f"Error: unknown flag: --{name} (not emulated by the kiln test cluster's {prog})")
            if kind.endswith("bool"):
                if eq:
                    if val.lower() not in ("true", "false", "1", "0"):
                        raise BuildError(f'Error: invalid argument "{val}" for "--{name}" flag: strconv.ParseBool: parsing "{val}": invalid syntax')
                    v = val.lower() in ("true", "1")
                else:
                    v = True
            else:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise BuildError(f"Error: flag needs an argument: --{name}")
                    val = argv[i]
                v = val
            if kind.startswith("ignore"):
                self.ignored.append(name)
            elif kind == "list":
                self.values.setdefault(name, []).append(v)
            else:
                self.values[name] = v
            i += 1

    def get(self, name, default=None):
        return self.values.get(name, default)


KANIKO_FLAGS = {
    "context": "str", "dockerfile": "str", "destination": "list", "build-arg": "list", "target": "str",
    "insecure": "bool", "insecure-pull": "bool", "skip-tls-verify": "bool", "skip-tls-verify-pull": "bool",
    "insecure-registry": "list", "skip-tls-verify-registry": "list", "cache": "bool", "cache-repo": "str",
    "cache-ttl": "ignore-str", "cache-dir": "ignore-str", "cache-copy-layers": "ignore-bool", "cache-run-layers": "ignore-bool",
    "digest-file": "str", "image-name-with-digest-file": "str", "image-name-tag-with-digest-file": "str",
    "no-push": "bool", "platform": "str", "custom-platform": "str", "label": "list", "verbosity": "ignore-str",
    "log-format": "ignore-str", "log-timestamp": "ignore-bool", "snapshot-mode": "ignore-str", "snapshotMode": "ignore-str",
    "use-new-run": "ignore-bool", "single-snapshot": "ignore-bool", "compressed-caching": "ignore-bool",
    "cleanup": "ignore-bool", "reproducible": "ignore-bool", "ignore-path": "ignore-str", "push-retry": "ignore-str",
    "image-fs-extract-retry": "ignore-str", "registry-mirror": "ignore-str", "skip-unused-stages": "ignore-bool",
    "ignore-var-run": "ignore-bool", "force": "ignore-bool", "oci-layout-path": "str", "tar-path": "str",
    "kaniko-dir": "ignore-str",
    "__aliases__": {"f": "dockerfile", "d": "destination", "c": "context", "v": "verbosity"},
}


_T0 = {}


def _ts(ctx=None):
    start = _T0.setdefault(id(ctx), time.time())
    return f"{int(time.time() - start):04d}"


def run_kaniko(ctx):
    log = ctx.log
    c = ctx.container
    cmd = c.get("command") or []
    if cmd and cmd not in (["/kaniko/executor"], ["executor"]):
        log.write(f"kiln test cluster: the emulated kaniko image runs only /kaniko/executor, not {cmd}\n")
        return 1
    try:
        f = Flags(dict(KANIKO_FLAGS), [a for a in c.get("args") or []], "kaniko executor")
        if f.get("oci-layout-path") or f.get("tar-path"):
            raise BuildError("Error: --oci-layout-path and --tar-path are not emulated by the kiln test cluster")
        ctxarg = f.get("context") or "/workspace/"
        if ctxarg.startswith("dir://"):
            ctxdir = ctxarg[len("dir://"):]
        elif "://" in ctxarg:
            raise BuildError(f"Error: context {ctxarg}: only dir:// contexts are emulated by the kiln test cluster")
        else:
            ctxdir = ctxarg
        host_ctx = ctx.host_path(ctxdir)
        dockerfile = f.get("dockerfile") or "Dockerfile"
        plat = f.get("platform") or f.get("custom-platform")
        if plat and plat not in ("linux/amd64",):
            raise BuildError(f"Error: platform {plat}: the test Docker daemon builds only linux/amd64")
        dests = f.get("destination", [])
        if not dests and not f.get("no-push"):
            raise BuildError("Error: you must provide --destination, or use --no-push")
        if f.get("cache-repo") and not re.match(r"^[a-z0-9.:-]+(/[a-z0-9._/-]+)$", f.get("cache-repo")):
            raise BuildError(f"Error: --cache-repo {f.get('cache-repo')}: not a repository reference")
        _T0[id(ctx)] = time.time()
        log.write("INFO[0000] Retrieving image manifest (emulated by the kiln test cluster with the test Docker daemon)\n")
        docker = ctx.cluster.kubelet.docker
        args = {}
        for ba in f.get("build-arg", []):
            k, eq, v = ba.partition("=")
            args[k] = v if eq else ctx.env.get(k, "")
        labels = {}
        for lb in f.get("label", []):
            k, _, v = lb.partition("=")
            labels[k] = v
        if dockerfile.startswith("/"):
            host_df = ctx.host_path(dockerfile)
        else:
            host_df = os.path.join(host_ctx, dockerfile)
        if not os.path.isfile(host_df):
            raise BuildError("Error: error resolving dockerfile path: please provide a valid path to a Dockerfile within the build context with --dockerfile")
        image_id, tag = docker_build(docker, host_ctx, host_df, args, f.get("target"), labels, log, ctx)
        auths = _docker_config(ctx, ["/kaniko/.docker"])
        digest = None
        try:
            for d in dests:
                digest = push(ctx.cluster, docker, image_id, d, auths, log, ctx)
        finally:
            drop_tag(docker, tag)
        if f.get("no-push") and digest is None:
            digest = image_id
        files = {"digest-file": digest or "",
                 "image-name-with-digest-file": "".join(f"{_repo(d)}@{digest}\n" for d in dests),
                 "image-name-tag-with-digest-file": "".join(f"{d}@{digest}\n" for d in dests)}
        for key, text in files.items():
            if f.get(key):
                with open(ctx.host_path(f.get(key)), "w") as fh:
                    fh.write(text)
        log.write(f"INFO[{_ts(ctx)}] Pushed {', '.join(dests)}\n" if dests else f"INFO[{_ts(ctx)}] Skipping push to container registry due to --no-push flag\n")
        return 0
    except BuildError as e:
        log.write(str(e) + "\n")
        return 1
    except DockerError as e:
        log.write(f"error building image: {e.message}\n")
        return 1


def _repo(ref):
    last = ref.rsplit("/", 1)
    if ":" in last[-1]:
        return ref.rsplit(":", 1)[0]
    return ref


def _split_ref(ref):
    if "@" in ref:
        raise BuildError(f"Error: destination {ref}: a digest reference cannot be pushed")
    name, tag = ref, "latest"
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    return name, tag


def _docker_config(ctx, dirs):
    env_dir = ctx.env.get("DOCKER_CONFIG")
    for d in ([env_dir] if env_dir else []) + dirs:
        try:
            p = ctx.host_path(d.rstrip("/") + "/config.json")
        except BuildError:
            continue
        if os.path.exists(p):
            with open(p) as fh:
                try:
                    return json.load(fh).get("auths") or {}
                except ValueError:
                    raise BuildError(f"Error: {d}/config.json is not valid JSON")
    return {}


def _tar_dir(root, extra_dockerfile=None):
    buf = tempfile.TemporaryFile()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for entry in sorted(os.listdir(root)):
            t.add(os.path.join(root, entry), arcname=entry)
        if extra_dockerfile:
            t.add(extra_dockerfile, arcname=".kiln-testcluster.Dockerfile")
    buf.seek(0)
    return buf


def docker_build(docker, host_ctx, host_df, args, target, labels, out, ctx):
    rel = os.path.relpath(host_df, host_ctx)
    extra = None
    if rel.startswith(".."):
        extra, rel = host_df, ".kiln-testcluster.Dockerfile"
    tarf = _tar_dir(host_ctx, extra)
    tag = f"kiln-testcluster-build:{int(time.time() * 1000)}"
    q = {"t": tag, "dockerfile": rel, "buildargs": json.dumps(args), "labels": json.dumps(labels), "rm": "1", "forcerm": "1"}
    if target:
        q["target"] = target
    image_id = None
    body = tarf.read()
    for msg in docker.stream_json("POST", "/build", body=body, query=q, headers={"Content-Type": "application/x-tar"}):
        if ctx is not None and ctx.cancelled:
            raise BuildError("build cancelled: the pod is terminating")
        if "stream" in msg and msg["stream"].strip():
            out.write(msg["stream"]) if hasattr(out, "write") else out(2, msg["stream"])
        if "error" in msg:
            raise BuildError(f"error building image: {msg['error'].strip()}")
        if "aux" in msg and "ID" in msg["aux"]:
            image_id = msg["aux"]["ID"]
    if image_id is None:
        image_id = docker.request("GET", f"/images/{tag}/json")["Id"]
    return image_id, tag


def drop_tag(docker, tag):
    try:
        docker.request("DELETE", f"/images/{tag}")
    except DockerError:
        pass


def _registry_host(ref):
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _mapped_host(cluster, host):
    """<svc>.<ns>.svc[.cluster.local]:<port> of a loopback-mapped service -> its real address."""
    m = re.match(r"^([a-z0-9-]+)\.([a-z0-9-]+)(\.svc(\.cluster\.local)?)?:(\d+)$", host)
    if not m:
        return host
    from .proxy import _loopback_map
    target = _loopback_map(cluster).get(f"{m.group(2)}/{m.group(1)}:{m.group(5)}")
    if target and not target.startswith("unix://"):
        return target.replace("http://", "").replace("https://", "")
    return host


def push(cluster, docker, image_id, ref, auths, out, ctx=None):
    name, tag = _split_ref(ref)
    host = _registry_host(name)
    real_host = _mapped_host(cluster, host)
    if real_host != host:
        name = real_host + name[len(host):]
    docker.request("POST", f"/images/{image_id}/tag", query={"repo": name, "tag": tag})
    auth = {}
    for k, v in auths.items():
        kh = k.replace("https://", "").replace("http://", "").split("/")[0]
        if kh in (host, real_host) or (host == "docker.io" and kh in ("index.docker.io", "registry-1.docker.io")):
            if v.get("auth"):
                u, _, p = base64.b64decode(v["auth"]).decode().partition(":")
                auth = {"username": u, "password": p, "serveraddress": real_host}
            elif v.get("identitytoken"):
                auth = {"identitytoken": v["identitytoken"], "serveraddress": real_host}
            elif v.get("username"):
                auth = {"username": v["username"], "password": v.get("password", ""), "serveraddress": real_host}
    hdr = base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()
    digest = None
    write = out.write if hasattr(out, "write") else (lambda s: out(2, s))
    for msg in docker.stream_json("POST", f"/images/{name}/push", query={"tag": tag}, headers={"X-Registry-Auth": hdr}):
        if "error" in msg:
            raise BuildError(f"error pushing image: failed to push to destination {ref}: {msg['error']}")
        if "aux" in msg and msg["aux"].get("Digest"):
            digest = msg["aux"]["Digest"]
        if msg.get("status") and not msg.get("progressDetail"):
            write(f"{msg.get('id', '') + ': ' if msg.get('id') else ''}{msg['status']}\n")
    try:
        docker.request("DELETE", f"/images/{name}:{tag}", query={"noprune": "1"})
    except DockerError:
        pass
    if digest is None:
        raise BuildError(f"error pushing image: no digest reported for {ref}")
    return digest


# ---------------------------------------------------------------------------
# buildctl exec'd into an emulated buildkitd container

BUILDCTL_GLOBAL = {"addr": "str", "debug": "ignore-bool", "tlsservername": "ignore-str", "tlscacert": "ignore-str",
                   "tlscert": "ignore-str", "tlskey": "ignore-str", "tlsdir": "ignore-str", "timeout": "ignore-str",
                   "wait": "ignore-bool", "log-format": "ignore-str"}
BUILDCTL_BUILD = {"frontend": "str", "local": "list", "opt": "list", "output": "list", "o": "list",
                  "import-cache": "list", "export-cache": "list", "metadata-file": "str", "progress": "str",
                  "no-cache": "bool", "secret": "list", "ssh": "list", "allow": "list", "trace": "ignore-str",
                  "__aliases__": {}}


def _csv(s):
    out = {}
    for part in next(iter(__import__("csv").reader([s]))):
        k, _, v = part.partition("=")
        out.setdefault(k.strip(), []).append(v)
    return out


def exec_handler(cluster, pod, rt, cmd):
    image = ""
    for c in pod["spec"].get("containers") or []:
        if getattr(rt, "id", None) and cluster.kubelet and c["name"] in _names_for(cluster, pod, rt):
            image = c.get("image", "")
    if not BUILDKIT_RE.search(image):
        return None
    argv = list(cmd)
    if len(argv) == 3 and argv[0] in ("sh", "/bin/sh") and argv[1] == "-c" and argv[2].lstrip().startswith("buildctl"):
        argv = shlex.split(argv[2])
    if not argv or os.path.basename(argv[0]) != "buildctl":
        return None

    def handler(stdin, out):
        try:
            return _buildctl(cluster, pod, rt, argv[1:], out)
        except BuildError as e:
            out(2, (str(e) + "\n").encode())
            return 1
        except DockerError as e:
            out(2, f"error: {e.message}\n".encode())
            return 1
    return handler


def _names_for(cluster, pod, rt):
    w = cluster.kubelet.workers.get(pod["metadata"]["uid"])
    return [n for n, r in (w.current.items() if w else []) if r is rt]


def _buildctl(cluster, pod, rt, argv, out):
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 if "=" in argv[i] or BUILDCTL_GLOBAL.get(argv[i].lstrip("-").split("=")[0], "").endswith("bool") else 2
    Flags(dict(BUILDCTL_GLOBAL), argv[:i], "buildctl")
    rest = argv[i:]
    if rest[:2] == ["debug", "workers"]:
        out(1, b"ID                              PLATFORMS\nkiln-testcluster-docker         linux/amd64\n")
        return 0
    if not rest or rest[0] != "build":
        raise BuildError(f"buildctl {' '.join(rest[:1])}: only `buildctl build` and `buildctl debug workers` are emulated by the kiln test cluster")
    f = Flags(dict(BUILDCTL_BUILD), rest[1:], "buildctl build")
    if f.get("frontend") != "dockerfile.v0":
        raise BuildError(f"buildctl build: --frontend {f.get('frontend')!r}: only dockerfile.v0 is emulated")
    for unsupported in ("secret", "ssh"):
        if f.get(unsupported):
            raise BuildError(f"buildctl build: --{unsupported} is not emulated by the kiln test cluster")
    locals_ = {}
    for l in f.get("local", []):
        k, eq, v = l.partition("=")
        if not eq:
            raise BuildError(f"buildctl build: --local {l}: expected name=path")
        locals_[k] = v
    if "context" not in locals_:
        raise BuildError("buildctl build: --local context=<dir> is required")
    opts = {}
    args = {}
    for o in f.get("opt", []):
        k, _, v = o.partition("=")
        if k.startswith("build-arg:"):
            args[k[len("build-arg:"):]] = v
        elif k in ("filename", "target", "platform"):
            opts[k] = v
        else:
            raise BuildError(f"buildctl build: --opt {k}: not emulated by the kiln test cluster")
    if opts.get("platform") and opts["platform"] != "linux/amd64":
        raise BuildError(f"buildctl build: platform {opts['platform']}: the test Docker daemon builds only linux/amd64")
    outputs = f.get("output", []) + f.get("o", [])
    if len(outputs) != 1:
        raise BuildError("buildctl build: exactly one --output type=image,name=...,push=true is emulated")
    o = _csv(outputs[0])
    if o.get("type", [""])[0] not in ("image", "registry"):
        raise BuildError(f"buildctl build: --output type={o.get('type', [''])[0]}: only type=image is emulated")
    names = [n for v in o.get("name", []) for n in v.split(",") if n]
    push_ = o.get("push", ["false"])[0] == "true" or o["type"][0] == "registry"
    for key in o:
        if key not in ("type", "name", "push", "registry.insecure", "oci-mediatypes", "compression", "force-compression", "unpack"):
            raise BuildError(f"buildctl build: --output option {key}: not emulated by the kiln test cluster")
    for c in f.get("import-cache", []) + f.get("export-cache", []):
        cc = _csv(c)
        if cc.get("type", [""])[0] not in ("registry", "inline"):
            raise BuildError(f"buildctl build: cache type {cc.get('type')}: only registry and inline are emulated (as no-ops)")
    docker = cluster.kubelet.docker
    tmp = tempfile.mkdtemp(prefix="kiln-buildctl-")
    try:
        ctx_dir = _copy_out(docker, rt.id, locals_["context"], os.path.join(tmp, "context"))
        df_dir = ctx_dir
        if locals_.get("dockerfile") and locals_["dockerfile"] != locals_["context"]:
            df_dir = _copy_out(docker, rt.id, locals_["dockerfile"], os.path.join(tmp, "dockerfile"))
        df = os.path.join(df_dir, opts.get("filename", "Dockerfile"))
        if not os.path.isfile(df):
            raise BuildError(f"error: failed to solve: failed to read dockerfile: open {opts.get('filename', 'Dockerfile')}: no such file or directory")
        out(2, b"#1 [internal] load build definition from Dockerfile (emulated by the kiln test cluster)\n")
        image_id, tag = docker_build(docker, ctx_dir, df, args, opts.get("target"), {}, out, None)
        digest = None
        if push_:
            auths = {}
            env = dict(e.split("=", 1) for e in docker.request("GET", f"/containers/{rt.id}/json")["Config"]["Env"] or [] if "=" in e)
            cfg_dir = env.get("DOCKER_CONFIG", "/root/.docker")
            try:
                raw = _read_file(docker, rt.id, cfg_dir.rstrip("/") + "/config.json")
                auths = json.loads(raw).get("auths") or {}
            except (DockerError, ValueError, KeyError):
                auths = {}
            try:
                for n in names:
                    digest = push(cluster, docker, image_id, n, auths, out)
                    out(2, f"#2 pushing {n} with digest {digest} done\n".encode())
            finally:
                drop_tag(docker, tag)
        if f.get("metadata-file"):
            meta = {"containerimage.config.digest": image_id, "image.name": ",".join(names)}
            if digest:
                meta["containerimage.digest"] = digest
            _write_file(docker, rt.id, f.get("metadata-file"), json.dumps(meta).encode())
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_out(docker, cid, path, dest):
    c, r = docker.request("GET", f"/containers/{cid}/archive", query={"path": path.rstrip("/") + "/."}, raw=True, timeout=600)
    try:
        if r.status == 404:
            raise BuildError(f"error: failed to solve: {path}: no such file or directory in the buildkitd container")
        if r.status >= 400:
            raise BuildError(f"error: reading {path} from the buildkitd container: HTTP {r.status}")
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(fileobj=r, mode="r|") as t:
            for m in t:
                name = m.name
                if name.startswith("./"):
                    name = name[2:]
                elif name in (".",):
                    continue
                if not name or name.startswith("/") or ".." in name.split("/"):
                    continue
                m.name = name
                t.extract(m, dest, set_attrs=False)
    finally:
        c.close()
    return dest


def _read_file(docker, cid, path):
    c, r = docker.request("GET", f"/containers/{cid}/archive", query={"path": path}, raw=True)
    try:
        if r.status >= 400:
            raise DockerError(r.status, path)
        with tarfile.open(fileobj=io.BytesIO(r.read())) as t:
            return t.extractfile(t.getmembers()[0]).read()
    finally:
        c.close()


def _write_file(docker, cid, path, data):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo(os.path.basename(path))
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    docker.request("PUT", f"/containers/{cid}/archive", body=buf.getvalue(), query={"path": os.path.dirname(path) or "/"},
                   headers={"Content-Type": "application/x-tar"})
