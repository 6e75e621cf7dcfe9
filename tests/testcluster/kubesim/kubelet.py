"""The kubelet: schedules pods onto the one node and runs their containers in
the Docker daemon (init containers first, volumes as bind mounts, restart
policy with back-off, termination messages, OOMKilled, activeDeadlineSeconds,
graceful deletion), and serves their logs."""

import calendar
import datetime
import hashlib
import itertools
import os
import queue
import shutil
import threading
import time
import traceback

from . import errors, volumes
from .containers import DockerContainer, EmulatedContainer
from .docker_api import Docker, DockerError
from .resources import find
from .store import now

PODS = find("", "v1", "pods")
EVENTS = find("", "v1", "events")
NODE = "kiln-test-node"
INFRA_IMAGE = "kiln-test/busybox:latest"
MAX_BACKOFF = 10.0


def _ts(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_time(s):
    s = s.strip().replace("Z", "+00:00")
    if "." in s:
        head, frac = s.split(".", 1)
        tz = frac[frac.find("+"):] if "+" in frac else (frac[frac.rfind("-"):] if "-" in frac else "")
        s = head + tz
    return datetime.datetime.fromisoformat(s).timestamp()


class Kubelet:
    def __init__(self, cluster):
        self.cluster = cluster
        self.store = cluster.store
        self.docker = Docker(cluster.docker_host) if cluster.docker_host else None
        self.root = os.path.join(cluster.state_dir, "pods")
        self.pvc_root = os.path.join(cluster.state_dir, "pvc")
        self.label = "kiln.testcluster.state=" + hashlib.sha256(cluster.state_dir.encode()).hexdigest()[:12]
        self.workers = {}
        self.lock = threading.Lock()
        self.q = queue.Queue()
        self.store.subscribe(self.q)
        self._ips = itertools.count(2)
        self.pod_tokens = {}    # pod uid -> service account tokens issued for it
        self.event_names = {}   # (pod uid, reason, message, field) -> event name, to count repeats
        self.ip_of = {}

    # -- lifecycle -----------------------------------------------------------------
    def start(self):
        if self.docker:
            self._remove_stale()
        threading.Thread(target=self.loop, daemon=True, name="kubelet").start()

    def _remove_stale(self):
        try:
            cs = self.docker.request("GET", "/containers/json", query={"all": "1", "filters": '{"label":["%s"]}' % self.label})
        except (DockerError, OSError) as e:
            print(f"kubelet: docker unavailable: {e}", flush=True)
            return
        for c in cs:
            try:
                self.docker.request("DELETE", f"/containers/{c['Id']}", query={"force": "1", "v": "1"})
            except DockerError:
                pass

    def shutdown(self):
        with self.lock:
            ws = list(self.workers.values())
        for w in ws:
            w.kill_all(remove=True)

    def has_worker(self, uid):
        with self.lock:
            return uid in self.workers

    def worker_for(self, ns, name):
        pod = self.store.get(PODS, ns, name)
        with self.lock:
            return pod, self.workers.get(pod["metadata"]["uid"])

    def loop(self):
        for pod in self.store.list(PODS)[0]:
            self._handle("ADDED", pod)
        while not self.cluster.stopping:
            try:
                ev = self.q.get(timeout=1)
            except queue.Empty:
                continue
            if ev.res.key != PODS.key:
                continue
            try:
                self._handle(ev.type, ev.obj)
            except Exception:
                traceback.print_exc()

    def _handle(self, typ, pod):
        uid = pod["metadata"]["uid"]
        with self.lock:
            w = self.workers.get(uid)
        if typ == "DELETED":
            if w:
                w.deleted()
            return
        if w:
            if pod["metadata"].get("deletionTimestamp"):
                w.terminate(pod["metadata"].get("deletionGracePeriodSeconds", 30))
            return
        if pod["metadata"].get("deletionTimestamp"):
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node and node != NODE:
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        w = PodWorker(self, pod)
        with self.lock:
            self.workers[uid] = w
        threading.Thread(target=w.run, daemon=True, name=f"pod-{pod['metadata']['name']}").start()

    def issue_token(self, pod):
        """A bearer token for the pod's service account, valid while the pod exists."""
        import secrets
        sa = pod["spec"].get("serviceAccountName") or "default"
        tok = "kiln-sa-" + secrets.token_hex(20)
        self.cluster.tokens[tok] = f"system:serviceaccount:{pod['metadata']['namespace']}:{sa}"
        self.pod_tokens.setdefault(pod["metadata"]["uid"], []).append(tok)
        return tok

    def forget(self, uid):
        for tok in self.pod_tokens.pop(uid, []):
            self.cluster.tokens.pop(tok, None)
        with self.lock:
            self.workers.pop(uid, None)

    def event(self, pod, reason, message, typ="Normal", field=None, component="kubelet"):
        ns = pod["metadata"]["namespace"]
        io = {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"], "apiVersion": "v1"}
        if field:
            io["fieldPath"] = field
        key = (pod["metadata"]["uid"], reason, message, field)
        known = self.event_names.get(key)
        if known:
            def bump(e):
                e["count"] = e.get("count", 1) + 1
                e["lastTimestamp"] = now()
            if self.store.mutate(EVENTS, ns, known, bump) is not None:
                return
        ev = {"metadata": {"generateName": pod["metadata"]["name"] + "."}, "involvedObject": io, "reason": reason,
              "message": message, "type": typ, "source": {"component": component, **({"host": NODE} if component == "kubelet" else {})},
              "firstTimestamp": now(), "lastTimestamp": now(), "count": 1, "reportingComponent": component,
              "reportingInstance": NODE if component == "kubelet" else ""}
        try:
            created = self.store.create(EVENTS, ns, ev)
            self.event_names[key] = created["metadata"]["name"]
        except errors.ApiError:
            pass

    # -- faults ----------------------------------------------------------------------
    def evict(self, ns, name, message=None):
        pod, w = self.worker_for(ns, name)
        if not w:
            raise errors.ApiError(409, "Conflict", f'pod "{name}" is not running on the node', {})
        w.evict(message or "The node was low on resource: memory. Threshold quantity: 100Mi, available: 20Mi. ")

    def oom_kill(self, ns, name, container=None):
        pod, w = self.worker_for(ns, name)
        if not w:
            raise errors.ApiError(409, "Conflict", f'pod "{name}" is not running on the node', {})
        w.oom_kill(container)

    # -- exec/logs helpers ---------------------------------------------------------------
    def running_container(self, ns, name, cname):
        """(pod, worker, container runtime) for exec; raises the server's errors."""
        pod, w = self.worker_for(ns, name)
        cname = self._pick_container(pod, cname)
        st = w.current.get(cname) if w else None
        if st is None or w.finished or not w.is_running(cname):
            raise errors.bad_request(f"container {cname} is not running" if w else
                                     "unable to upgrade connection: pod does not exist or is not running")
        return pod, w, st

    def _pick_container(self, pod, cname):
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
        if not cname:
            if len(names) == 1:
                return names[0]
            dflt = (pod["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
            if dflt in names:
                return dflt
            msg = f"a container name must be specified for pod {pod['metadata']['name']}, choose one of: [{' '.join(names)}]"
            if inits:
                msg += f" or one of the init containers: [{' '.join(inits)}]"
            raise errors.bad_request(msg)
        if cname not in names + inits:
            raise errors.bad_request(f"container {cname} is not valid for pod {pod['metadata']['name']}")
        return cname

    def serve_logs(self, h, req, ns, name):
        if h.command != "GET":
            raise errors.method_not_allowed()
        pod, w = self.worker_for(ns, name)
        cname = self._pick_container(pod, req.q("container"))
        previous = req.qbool("previous")
        follow = req.qbool("follow")
        timestamps = req.qbool("timestamps")
        tail = req.qint("tailLines")
        since = None
        if req.q("sinceSeconds"):
            since = time.time() - req.qint("sinceSeconds")
        if req.q("sinceTime"):
            try:
                since = parse_time(req.q("sinceTime"))
            except ValueError:
                raise errors.bad_request(f'parsing time "{req.q("sinceTime")}" as "2006-01-02T15:04:05Z07:00": cannot parse')
        limit = req.qint("limitBytes")
        rt = None
        if w:
            rt = w.previous.get(cname) if previous else w.current.get(cname)
        if rt is None:
            if previous:
                raise errors.bad_request(f'previous terminated container "{cname}" in pod "{name}" not found')
            cs = [c for c in (pod.get("status") or {}).get("containerStatuses", []) + (pod.get("status") or {}).get("initContainerStatuses", []) if c.get("name") == cname]
            reason = "ContainerCreating"
            if cs and "waiting" in (cs[0].get("state") or {}):
                reason = cs[0]["state"]["waiting"].get("reason", reason)
            if cname in [c["name"] for c in pod["spec"].get("initContainers") or []] and reason == "ContainerCreating":
                reason = "PodInitializing"
            raise errors.bad_request(f'container "{cname}" in pod "{name}" is waiting to start: {reason}')
        h.start_chunked(200, "text/plain")
        sent = 0
        try:
            for chunk in rt.logs(follow, timestamps, tail, since):
                if limit is not None:
                    chunk = chunk[:max(0, limit - sent)]
                h.write_chunk(chunk)
                sent += len(chunk)
                if limit is not None and sent >= limit:
                    break
                if self.cluster.stopping:
                    break
            h.end_chunked()
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True


def _affinity_matches(spec, labels):
    """requiredDuringSchedulingIgnoredDuringExecution node affinity (terms are ORed)."""
    req = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = req.get("nodeSelectorTerms") or []
    if not terms:
        return True

    def expr_ok(e):
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        v = labels.get(k)
        if op == "In":
            return v in vals
        if op == "NotIn":
            return v not in vals
        if op == "Exists":
            return k in labels
        if op == "DoesNotExist":
            return k not in labels
        if op in ("Gt", "Lt"):
            try:
                return (int(v) > int(vals[0])) if op == "Gt" else (int(v) < int(vals[0]))
            except (TypeError, ValueError, IndexError):
                return False
        return False
    return any(all(expr_ok(e) for e in t.get("matchExpressions") or []) and
               all(e.get("key") != "metadata.name" or expr_ok({**e, "key": "kubernetes.io/hostname"})
                   for e in t.get("matchFields") or []) for t in terms)


class PodWorker:
    def __init__(self, kubelet, pod):
        self.k = kubelet
        self.store = kubelet.store
        self.docker = kubelet.docker
        self.pod = pod
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.dir = os.path.join(kubelet.root, self.uid)
        self.current = {}     # container name -> runtime
        self.previous = {}
        self.restarts = {}
        self.statuses = {}    # container name -> ContainerStatus
        self.init_statuses = {}
        self.infra = None
        self.lock = threading.Lock()
        self.terminating = None   # grace seconds once deletion started
        self.is_deleted = False
        self.finished = False
        self.evicted = None
        self.mounts = {}
        self.backoff_until = {}
        self.probe_states = {}   # (container, kind) -> ProbeState
        self.host_ports = []
        self.emulation_started = False
        self.cleanup_lock = threading.Lock()
        self.cleaned = False

    # -- status ----------------------------------------------------------------------
    def update_status(self, fn):
        def mut(p):
            st = p.setdefault("status", {})
            fn(st)
        try:
            new = self.store.mutate(PODS, self.ns, self.name, mut, subresource="status")
            if new is not None and new["metadata"]["uid"] == self.uid:
                self.pod = new
        except errors.ApiError:
            pass

    def _cond(self, st, typ, val, reason=None, message=None):
        conds = st.setdefault("conditions", [])
        old = next((c for c in conds if c["type"] == typ), None)
        c = {"type": typ, "status": val, "lastProbeTime": None,
             "lastTransitionTime": old["lastTransitionTime"] if old and old["status"] == val else now()}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        if old:
            conds[conds.index(old)] = c
        else:
            conds.append(c)

    def publish(self, phase=None, reason=None, message=None):
        spec = self.pod["spec"]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        mains = [c["name"] for c in spec.get("containers") or []]

        def fn(st):
            if phase:
                st["phase"] = phase
            if reason:
                st["reason"] = reason
            if message:
                st["message"] = message
            st["hostIP"] = "127.0.0.1"
            st["hostIPs"] = [{"ip": "127.0.0.1"}]
            if self.ip:
                st["podIP"] = self.ip
                st["podIPs"] = [{"ip": self.ip}]
            st.setdefault("startTime", self.start_time)
            if inits:
                st["initContainerStatuses"] = [self.init_statuses.get(n) or self._waiting(n, "PodInitializing") for n in inits]
            st["containerStatuses"] = [self.statuses.get(n) or self._waiting(n, "PodInitializing" if inits else "ContainerCreating") for n in mains]
            init_done = all((self.init_statuses.get(n) or {}).get("state", {}).get("terminated", {}).get("exitCode") == 0 for n in inits)
            ready = all((self.statuses.get(n) or {}).get("ready") for n in mains) and st.get("phase") == "Running"
            self._cond(st, "PodReadyToStartContainers", "True" if self.infra else "False")
            self._cond(st, "Initialized", "True" if init_done else "False", None if init_done else "ContainersNotInitialized",
                       None if init_done else f"containers with incomplete status: [{' '.join(n for n in inits if (self.init_statuses.get(n) or {}).get('state', {}).get('terminated', {}).get('exitCode') != 0)}]")
            notready = [n for n in mains if not (self.statuses.get(n) or {}).get("ready")]
            r = "PodCompleted" if st.get("phase") in ("Succeeded", "Failed") and not ready else "ContainersNotReady"
            msg = None if ready or r == "PodCompleted" else f"containers with unready status: [{' '.join(notready)}]"
            self._cond(st, "ContainersReady", "True" if ready else "False", None if ready else r, msg)
            self._cond(st, "Ready", "True" if ready else "False", None if ready else r, msg)
            self._cond(st, "PodScheduled", "True")
            order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled", "DisruptionTarget"]
            st["conditions"].sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
        self.update_status(fn)

    def _waiting(self, n, reason, message=None):
        c = self.container_spec(n)
        w = {"reason": reason}
        if message:
            w["message"] = message
        st = {"name": n, "state": {"waiting": w}, "lastState": {}, "ready": False, "restartCount": self.restarts.get(n, 0),
              "image": c.get("image", ""), "imageID": "", "started": False}
        if n in self.previous and self.previous[n] is not None:
            pass
        return st

    def container_spec(self, n):
        for c in (self.pod["spec"].get("initContainers") or []) + (self.pod["spec"].get("containers") or []):
            if c["name"] == n:
                return c
        return {}

    # -- main ------------------------------------------------------------------------
    def run(self):
        try:
            self._run()
        except Exception:
            traceback.print_exc()
        finally:
            if self.terminating is not None and not self.is_deleted:
                self._terminate_now()
            if self.is_deleted or self.terminating is not None:
                self.cleanup()

    def _schedule(self):
        delay = self.k.cluster.faults.schedule_delay
        t0 = time.time()
        while time.time() - t0 < delay and not self.gone():
            time.sleep(0.1)
        spec = self.pod["spec"]
        if spec.get("schedulerName", "default-scheduler") != "default-scheduler":
            return False   # another scheduler's pod: the default scheduler leaves it Pending
        sel = spec.get("nodeSelector") or {}
        node = self.store.try_get(find("", "v1", "nodes"), None, NODE)
        labels = node["metadata"].get("labels", {}) if node else {}
        msg = None
        if any(labels.get(k) != v for k, v in sel.items()) or not _affinity_matches(spec, labels):
            msg = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        for v in self.pod["spec"].get("volumes") or []:
            if "persistentVolumeClaim" in v and self.store.try_get(find("", "v1", "persistentvolumeclaims"), self.ns, v["persistentVolumeClaim"]["claimName"]) is None:
                msg = f'0/1 nodes are available: persistentvolumeclaim "{v["persistentVolumeClaim"]["claimName"]}" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.'
        if msg:
            def fn(st):
                st["phase"] = "Pending"
                self._cond(st, "PodScheduled", "False", "Unschedulable", msg)
            self.update_status(fn)
            self.k.event(self.pod, "FailedScheduling", msg, "Warning", component="default-scheduler")
            return False

        def bind(p):
            p["spec"]["nodeName"] = NODE
        new = self.store.mutate(PODS, self.ns, self.name, bind)
        if new is None or new["metadata"]["uid"] != self.uid:
            return False
        self.pod = new
        self.k.event(self.pod, "Scheduled", f"Successfully assigned {self.ns}/{self.name} to {NODE}", component="default-scheduler")
        return True

    def gone(self):
        return self.is_deleted or self.terminating is not None or self.k.cluster.stopping

    def _run(self):
        self.ip = None
        self.start_time = None
        while not self.pod["spec"].get("nodeName"):
            if self._schedule():
                break
            for _ in range(20):
                if self.gone():
                    return
                time.sleep(0.1)
            p = self.store.try_get(PODS, self.ns, self.name)
            if p is None or p["metadata"]["uid"] != self.uid:
                return
            self.pod = p
        self.start_time = now()
        n = next(self.k._ips)
        self.ip = f"10.244.{n // 250}.{n % 250 + 1}"
        self.k.ip_of[self.ip] = self.uid
        self.publish("Pending")
        if self.docker is None:
            self.publish("Pending", message="the test cluster has no Docker daemon (DOCKER_HOST unset)")
            return
        # volumes (retried while a referenced secret/configmap is missing)
        while not self.gone():
            try:
                self.mounts = volumes.prepare(self.store, self.pod, self.dir, self.k.pvc_root, self.k.issue_token)
                break
            except volumes.NotReady as e:
                self.k.event(self.pod, e.reason, f"MountVolume.SetUp failed: {e.message}", "Warning")
                for n in [c["name"] for c in self.pod["spec"]["containers"]]:
                    self.statuses[n] = self._waiting(n, "ContainerCreating")
                self.publish("Pending")
                for _ in range(10):
                    if self.gone():
                        return
                    time.sleep(0.1)
        if self.gone():
            return
        self._start_infra()
        self.publish("Pending")
        for c in self.pod["spec"].get("initContainers") or []:
            if not self._run_init(c):
                return
        for c in self.pod["spec"]["containers"]:
            if self.gone():
                return
            self._start_main(c)
        self.publish(self._phase())
        self.monitor()

    def _start_infra(self):
        name = f"k8s_POD_{self.name}_{self.ns}_{self.uid[:8]}"
        cfg = {"Image": INFRA_IMAGE, "Cmd": ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"],
               "Hostname": self.pod["spec"].get("hostname") or self.name[:63],
               "Labels": {self.k.label.split("=")[0]: self.k.label.split("=")[1], "io.kubernetes.pod.uid": self.uid},
               "HostConfig": {"NetworkMode": "none", "IpcMode": "shareable"}}
        try:
            r = self.docker.request("POST", "/containers/create", cfg, query={"name": name})
        except DockerError as e:
            if e.status == 409:
                self.docker.request("DELETE", f"/containers/{name}", query={"force": "1"})
                r = self.docker.request("POST", "/containers/create", cfg, query={"name": name})
            else:
                raise
        self.infra = DockerContainer(self.docker, r["Id"])
        self.infra.start()
        self._open_host_ports()

    def _open_host_ports(self):
        from .hostports import HostPort, TcpForwarder
        from .netns import listen_in_netns
        pid = self.infra.inspect()["State"]["Pid"]
        if self.k.cluster.api_port:
            try:
                self.host_ports.append(TcpForwarder(listen_in_netns(pid, 443), ("127.0.0.1", self.k.cluster.api_port)))
            except OSError as e:
                self.k.event(self.pod, "FailedAPIForward", f"127.0.0.1:443 in the pod: {e}", "Warning")
        for c in self.pod["spec"]["containers"]:
            for p in c.get("ports") or []:
                hp = p.get("hostPort")
                if not hp:
                    continue
                try:
                    self.host_ports.append(HostPort(int(hp), pid, p["containerPort"]))
                except OSError as e:
                    self.k.event(self.pod, "FailedHostPort", f"hostPort 127.0.0.1:{hp} for container {c['name']}: {e.strerror}",
                                 "Warning")

    def _phase(self):
        mains = [c["name"] for c in self.pod["spec"]["containers"]]
        policy = self.pod["spec"].get("restartPolicy", "Always")
        terms = {}
        for n in mains:
            st = (self.statuses.get(n) or {}).get("state", {})
            if "terminated" in st:
                terms[n] = st["terminated"]["exitCode"]
        if len(terms) == len(mains):
            if policy == "Always":
                return "Running"
            if all(v == 0 for v in terms.values()):
                return "Succeeded"
            if policy == "Never":
                return "Failed"
            return "Running"
        return "Running"

    # -- containers -------------------------------------------------------------------------
    def _make_container(self, c, init=False):
        from . import builder
        n = c["name"]
        restart = self.restarts.get(n, 0)
        termlog = os.path.join(self.dir, "termination", f"{n}-{restart}")
        os.makedirs(os.path.dirname(termlog), exist_ok=True)
        with open(termlog, "wb"):
            pass
        os.chmod(termlog, 0o666)
        env = volumes.container_env(self.store, self.pod, c)
        binds = []
        mount_map = {}
        for m in c.get("volumeMounts") or []:
            host, ro = self.mounts[m["name"]]
            if m.get("subPath"):
                host = os.path.join(host, m["subPath"])
                os.makedirs(host, exist_ok=True)
            ro = ro or m.get("readOnly", False)
            binds.append(f"{host}:{m['mountPath']}{':ro' if ro else ''}")
            mount_map[m["mountPath"]] = host
        binds.append(f"{termlog}:{c.get('terminationMessagePath', '/dev/termination-log')}")
        program = builder.emulation_for(c.get("image", ""), self.k.cluster)
        if program is not None and program.replaces_container:
            ctx = builder.Context(self.k.cluster, self.pod, c, env, mount_map, termlog)
            rt = EmulatedContainer(program.run, ctx, n)
            return rt, termlog
        from .images import substitute
        image = program.substitute_image if program is not None else (substitute(c["image"]) or c["image"])
        self._ensure_image(c, image)
        args = [volumes.expand(a, env) for a in c.get("args") or []]
        cmd = [volumes.expand(a, env) for a in c.get("command") or []]
        if program is not None:
            cmd, args = program.substitute_command(cmd, args)
        cfg = {"Image": image, "Env": [f"{k}={v}" for k, v in env.items()],
               "Labels": {self.k.label.split("=")[0]: self.k.label.split("=")[1], "io.kubernetes.pod.uid": self.uid,
                          "io.kubernetes.container.name": n, "io.kubernetes.pod.name": self.name,
                          "io.kubernetes.pod.namespace": self.ns},
               "Tty": bool(c.get("tty")), "OpenStdin": bool(c.get("stdin")), "StdinOnce": bool(c.get("stdinOnce")),
               "HostConfig": {"Binds": binds, "NetworkMode": f"container:{self.infra.id}",
                              "IpcMode": f"container:{self.infra.id}"}}
        if cmd:
            cfg["Entrypoint"] = cmd
            cfg["Cmd"] = args
        elif args:
            cfg["Cmd"] = args
        if c.get("workingDir"):
            cfg["WorkingDir"] = c["workingDir"]
        sc = c.get("securityContext") or {}
        psc = self.pod["spec"].get("securityContext") or {}
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        gid = sc.get("runAsGroup", psc.get("runAsGroup"))
        if uid is not None:
            cfg["User"] = f"{uid}:{gid}" if gid is not None else str(uid)
        if sc.get("privileged") and program is None:   # the emulated builder's sleeper needs no privileges
            cfg["HostConfig"]["Privileged"] = True
        mem = volumes.parse_quantity(((c.get("resources") or {}).get("limits") or {}).get("memory"))
        if mem:
            cfg["HostConfig"]["Memory"] = mem
            cfg["HostConfig"]["MemorySwap"] = mem
        r = self.docker.request("POST", "/containers/create", cfg,
                                query={"name": f"k8s_{n}_{self.name}_{self.ns}_{self.uid[:8]}_{restart}"})
        if program is not None and hasattr(program, "after_start") and not self.emulation_started:
            self.emulation_started = True
            program.after_start(self)
        return DockerContainer(self.docker, r["Id"]), termlog

    def _ensure_image(self, c, image):
        if self.docker.image_exists(image):
            return
        policy = c.get("imagePullPolicy", "IfNotPresent")
        if policy == "Never":
            raise volumes.NotReady("ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never')
        ref, tag = image, "latest"
        last = image.rsplit("/", 1)[-1]
        if "@" in image:
            ref, tag = image.split("@", 1)
        elif ":" in last:
            ref, tag = image.rsplit(":", 1)
        self.k.event(self.pod, "Pulling", f'Pulling image "{image}"', field=f"spec.containers{{{c['name']}}}")
        t0 = time.time()
        headers = {}
        auth = self._pull_auth(image)
        if auth:
            import base64
            import json
            headers["X-Registry-Auth"] = base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()
        try:
            for msg in self.docker.stream_json("POST", "/images/create", query={"fromImage": ref, "tag": tag}, headers=headers, timeout=300):
                if msg.get("error"):
                    raise volumes.NotReady("ErrImagePull", f'failed to pull image "{image}": {msg["error"]}')
        except DockerError as e:
            raise volumes.NotReady("ErrImagePull", f'failed to pull image "{image}": {e.message}')
        if not self.docker.image_exists(image):
            raise volumes.NotReady("ErrImagePull", f'failed to pull image "{image}"')
        self.k.event(self.pod, "Pulled", f'Successfully pulled image "{image}" in {time.time() - t0:.3f}s',
                     field=f"spec.containers{{{c['name']}}}")

    def _pull_auth(self, image):
        import base64
        import json
        host = image.split("/", 1)[0] if "/" in image and ("." in image.split("/", 1)[0] or ":" in image.split("/", 1)[0]) else "docker.io"
        for ref in self.pod["spec"].get("imagePullSecrets") or []:
            s = self.store.try_get(find("", "v1", "secrets"), self.ns, ref.get("name", ""))
            if not s:
                continue
            raw = (s.get("data") or {}).get(".dockerconfigjson")
            if not raw:
                continue
            try:
                cfg = json.loads(base64.b64decode(raw))
            except ValueError:
                continue
            for k, v in (cfg.get("auths") or {}).items():
                kh = k.replace("https://", "").replace("http://", "").split("/")[0]
                if kh == host:
                    user, pw = v.get("username"), v.get("password")
                    if v.get("auth"):
                        user, _, pw = base64.b64decode(v["auth"]).decode().partition(":")
                    return {"username": user, "password": pw, "serveraddress": host}
        return None

    def _start(self, c, init):
        n = c["name"]
        table = self.init_statuses if init else self.statuses
        try:
            rt, termlog = self._make_container(c, init)
        except volumes.NotReady as e:
            reason = "ImagePullBackOff" if e.reason == "ErrImagePull" else e.reason
            table[n] = self._waiting(n, reason, e.message)
            self.k.event(self.pod, "Failed", e.message, "Warning", f"spec.{'initContainers' if init else 'containers'}{{{n}}}")
            return None
        except DockerError as e:
            table[n] = self._waiting(n, "CreateContainerError", e.message)
            self.k.event(self.pod, "Failed", f"Error: {e.message}", "Warning")
            return None
        self.k.event(self.pod, "Created", f"Created container {n}", field=f"spec.{'initContainers' if init else 'containers'}{{{n}}}")
        try:
            rt.start()
        except DockerError as e:
            table[n] = self._waiting(n, "RunContainerError", e.message)
            rt.remove()
            return None
        self.k.event(self.pod, "Started", f"Started container {n}", field=f"spec.{'initContainers' if init else 'containers'}{{{n}}}")
        rt.termlog = termlog
        old = self.current.get(n)
        if old is not None:
            stale = self.previous.get(n)
            if stale is not None and stale is not old:
                stale.remove()
            self.previous[n] = old
        self.current[n] = rt
        prev = table.get(n) or {}
        last = prev.get("lastState") or {}
        if "terminated" in (prev.get("state") or {}):
            last = {"terminated": prev["state"]["terminated"]}
        table[n] = {"name": n, "state": {"running": {"startedAt": rt.started_at() or now()}}, "lastState": last,
                    "ready": not init and not c.get("readinessProbe"), "restartCount": self.restarts.get(n, 0), "image": c["image"],
                    "imageID": f"docker-pullable://{c['image']}", "containerID": rt.container_id, "started": True}
        return rt

    def _terminated_status(self, c, rt, res, init, reason_override=None):
        n = c["name"]
        msg = b""
        try:
            with open(rt.termlog, "rb") as f:
                msg = f.read(4096)
        except OSError:
            pass
        if not msg and res["exitCode"] != 0 and c.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            msg = rt.log_lines_tail(80)[-2048:]
        reason = reason_override or ("OOMKilled" if res["oom"] else ("Completed" if res["exitCode"] == 0 else "Error"))
        code = res["exitCode"]
        t = {"exitCode": code, "reason": reason, "startedAt": res["startedAt"] or now(),
             "finishedAt": res["finishedAt"] or now(), "containerID": rt.container_id}
        if msg:
            t["message"] = msg.decode(errors="replace")
        table = self.init_statuses if init else self.statuses
        prev = table.get(n) or {}
        table[n] = {"name": n, "state": {"terminated": t}, "lastState": prev.get("lastState") or {}, "ready": False,
                    "restartCount": self.restarts.get(n, 0), "image": c["image"], "imageID": f"docker-pullable://{c['image']}",
                    "containerID": rt.container_id, "started": False}
        return t

    def _backoff(self, n):
        r = self.restarts.get(n, 0)
        return min(MAX_BACKOFF, 1.0 * (2 ** r))

    def _run_init(self, c):
        n = c["name"]
        policy = self.pod["spec"].get("restartPolicy", "Always")
        while not self.gone():
            rt = self._start(c, True)
            if rt is None:
                self.publish("Pending")
                self._sleep(2)
                continue
            self.publish("Pending")
            while not self.gone():
                if self._deadline_exceeded():
                    return False
                res = rt.poll()
                if res is not None:
                    break
                time.sleep(0.2)
            else:
                return False
            t = self._terminated_status(c, rt, res, True)
            if t["exitCode"] == 0:
                self.publish("Pending")
                return True
            if policy == "Never":
                self.publish("Failed")
                self.finished = True
                self.monitor_terminal()
                return False
            delay = self._backoff(n)
            self.restarts[n] = self.restarts.get(n, 0) + 1
            self.init_statuses[n] = dict(self.init_statuses[n], state={"waiting": {"reason": "CrashLoopBackOff",
                                         "message": f"back-off {int(delay)}s restarting failed container={n} pod={self.name}_{self.ns}({self.uid})"}},
                                         lastState={"terminated": t})
            self.publish("Pending")
            self._sleep(delay)
        return False

    def _start_main(self, c):
        rt = self._start(c, False)
        if rt is None:
            self.backoff_until[c["name"]] = time.time() + 2
        return rt

    def _sleep(self, secs):
        end = time.time() + secs
        while time.time() < end and not self.gone():
            time.sleep(0.1)

    def _deadline_exceeded(self):
        ads = self.pod["spec"].get("activeDeadlineSeconds")
        if not ads or not self.start_time:
            return False
        started = calendar.timegm(time.strptime(self.start_time, "%Y-%m-%dT%H:%M:%SZ"))
        if time.time() - started < ads:
            return False
        self.k.event(self.pod, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline", "Warning")
        self._fail_pod("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
        return True

    def _fail_pod(self, reason, message, grace=None):
        with self.lock:
            if self.finished:
                return
            self.finished = True
        self.kill_all(grace=grace if grace is not None else self.pod["spec"].get("terminationGracePeriodSeconds", 30))
        for c in (self.pod["spec"].get("initContainers") or []) + self.pod["spec"]["containers"]:
            n = c["name"]
            rt = self.current.get(n)
            init = n in [x["name"] for x in self.pod["spec"].get("initContainers") or []]
            table = self.init_statuses if init else self.statuses
            if rt is not None:
                st = (table.get(n) or {}).get("state", {})
                if "running" in st:
                    res = rt.poll() or {"exitCode": 137, "oom": False, "startedAt": None, "finishedAt": None}
                    self._terminated_status(c, rt, res, init)
            elif n in table and "waiting" in table[n].get("state", {}):
                table[n]["state"] = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                                    "message": "The container could not be located when the pod was terminated",
                                                    "startedAt": None, "finishedAt": now()}}

        def fn(st):
            if reason == "Evicted":
                self._cond(st, "DisruptionTarget", "True", "TerminationByKubelet", message)
        self.update_status(fn)
        self.publish("Failed", reason, message)

    def evict(self, message):
        self.k.event(self.pod, "Evicted", message, "Warning")
        threading.Thread(target=self._fail_pod, args=("Evicted", message, 0), daemon=True).start()

    def oom_kill(self, cname):
        names = [cname] if cname else list(self.current.keys())
        for n in names:
            rt = self.current.get(n)
            if rt is None:
                raise errors.bad_request(f"container {n} is not valid for pod {self.name}")
            rt.kill(oom=True)

    def is_running(self, n):
        return "running" in ((self.statuses.get(n) or self.init_statuses.get(n) or {}).get("state") or {})

    def monitor(self):
        policy = self.pod["spec"].get("restartPolicy", "Always")
        while not self.gone() and not self.finished:
            if self._deadline_exceeded():
                break
            changed = False
            for c in self.pod["spec"]["containers"]:
                n = c["name"]
                st = (self.statuses.get(n) or {}).get("state", {})
                if "waiting" in st:
                    if time.time() >= self.backoff_until.get(n, 0):
                        self._start_main(c)
                        changed = True
                    continue
                if "terminated" in st:
                    continue
                rt = self.current.get(n)
                if rt is None:
                    continue
                if self._probe(c, rt):
                    changed = True
                try:
                    res = rt.poll()
                except DockerError:
                    res = {"exitCode": 137, "oom": False, "startedAt": None, "finishedAt": None}
                if res is None:
                    continue
                t = self._terminated_status(c, rt, res, False)
                changed = True
                if t["reason"] == "OOMKilled":
                    self.k.event(self.pod, "OOMKilling", f"Memory cgroup out of memory: Killed process in container {n}", "Warning")
                if policy == "Always" or (policy == "OnFailure" and t["exitCode"] != 0):
                    stale = self.previous.get(n)
                    if stale is not None and stale is not rt:
                        stale.remove()
                    self.previous[n] = rt
                    delay = self._backoff(n)
                    self.restarts[n] = self.restarts.get(n, 0) + 1
                    self.statuses[n] = dict(self.statuses[n], restartCount=self.restarts[n],
                                            state={"waiting": {"reason": "CrashLoopBackOff",
                                                               "message": f"back-off {int(delay)}s restarting failed container={n} pod={self.name}_{self.ns}({self.uid})"}},
                                            lastState={"terminated": t})
                    self.backoff_until[n] = time.time() + delay
            if changed:
                phase = self._phase()
                self.publish(phase)
                if phase in ("Succeeded", "Failed"):
                    self.finished = True
                    break
            time.sleep(0.25)
        self.monitor_terminal()

    def _probe(self, c, rt):
        """Runs due probes of a running container; True when its status changed."""
        from . import builder, probes
        n = c["name"]
        changed = False
        now_t = time.time()
        for kind in ("readinessProbe", "livenessProbe"):
            spec = c.get(kind)
            if not spec:
                continue
            key = (n, kind, id(rt))
            ps = self.probe_states.get(key)
            if ps is None:
                ps = self.probe_states[key] = probes.ProbeState(spec, now_t)
            if not ps.due(now_t):
                continue
            emulated_ok = builder.BUILDKIT_RE.search(c.get("image", "")) is not None and \
                (spec.get("exec") or {}).get("command", [""])[0].endswith("buildctl")
            ok, msg = probes.run(spec, c, self.docker, rt, self.infra.inspect()["State"]["Pid"], emulated_ok)
            before = ps.result
            result = ps.record(ok, time.time())
            if not ok:
                self.k.event(self.pod, "Unhealthy", f"{'Readiness' if kind == 'readinessProbe' else 'Liveness'} probe failed: {msg}",
                             "Warning", f"spec.containers{{{n}}}")
            if kind == "readinessProbe" and result is not None and result != before:
                st = self.statuses.get(n)
                if st and "running" in st.get("state", {}):
                    st["ready"] = bool(result)
                    changed = True
            if kind == "livenessProbe" and result is False:
                self.k.event(self.pod, "Killing", f"Container {n} failed liveness probe, will be restarted", field=f"spec.containers{{{n}}}")
                rt.kill()
        return changed

    def monitor_terminal(self):
        """After the pod is done: wait for deletion, stopping containers gracefully."""
        while not self.is_deleted and not self.k.cluster.stopping:
            if self.terminating is not None:
                self._terminate_now()
                return
            time.sleep(0.2)

    def terminate(self, grace):
        if self.terminating is None:
            self.terminating = grace

    def _terminate_now(self):
        grace = self.terminating or 0
        for n in list(self.current):
            self.k.event(self.pod, "Killing", f"Stopping container {n}", field=f"spec.containers{{{n}}}")
        self.kill_all(grace=grace)
        try:
            self.store.delete(PODS, self.ns, self.name, expect_uid=self.uid)
        except errors.ApiError:
            pass

    def kill_all(self, grace=0, remove=False):
        ts = []
        for rt in list(self.current.values()):
            if grace:
                t = threading.Thread(target=rt.stop, args=(grace,), daemon=True)
                t.start()
                ts.append(t)
            else:
                rt.kill()
        for t in ts:
            t.join(grace + 35)
        if remove:
            self.cleanup()

    def deleted(self):
        self.is_deleted = True
        if self.terminating is None:
            threading.Thread(target=self.cleanup, daemon=True).start()

    def cleanup(self):
        # runs once, from the worker or from the deletion event, whichever comes first
        with self.cleanup_lock:
            if self.cleaned:
                return
            self.cleaned = True
        for rt in list(self.current.values()) + list(self.previous.values()):
            try:
                rt.kill()
                rt.remove()
            except Exception:
                pass
        for hp in self.host_ports:
            hp.close()
        self.host_ports = []
        infra, self.infra = self.infra, None
        if infra:
            infra.kill()
            infra.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.k.ip_of.pop(self.ip, None) if getattr(self, "ip", None) else None
        self.k.forget(self.uid)
