"""Readiness and liveness probes (exec, httpGet, tcpSocket) run by the kubelet."""

import http.client
import time

from .docker_api import DockerError
from .netns import connect_in_netns


class ProbeState:
    def __init__(self, probe, started):
        self.probe = probe
        self.next = started + probe.get("initialDelaySeconds", 0)
        self.successes = 0
        self.failures = 0
        self.result = None   # None until the thresholds decide

    def due(self, now):
        return now >= self.next

    def record(self, ok, now):
        self.next = now + self.probe.get("periodSeconds", 10)
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.probe.get("successThreshold", 1):
                self.result = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.probe.get("failureThreshold", 3):
                self.result = False
        return self.result


def _port(container, port):
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return p["containerPort"]
    raise ValueError(f"port {port!r} is not a container port")


def run(probe, container, docker, runtime, sandbox_pid, emulated_exec_ok=False):
    """(ok, message) of one probe run."""
    timeout = probe.get("timeoutSeconds", 1)
    try:
        if "exec" in probe:
            cmd = probe["exec"].get("command") or []
            if emulated_exec_ok:
                return True, ""
            if runtime.emulated:
                return False, "exec probes cannot run in an emulated builder container"
            ex = docker.request("POST", f"/containers/{runtime.id}/exec", {"Cmd": cmd, "AttachStdout": False, "AttachStderr": False})
            docker.request("POST", f"/exec/{ex['Id']}/start", {"Detach": True})
            end = time.time() + timeout
            while time.time() < end + 0.5:
                info = docker.request("GET", f"/exec/{ex['Id']}/json")
                if not info.get("Running"):
                    code = info.get("ExitCode")
                    return code == 0, f"command {cmd} exited with {code}"
                time.sleep(0.05)
            return False, f"command {cmd} timed out after {timeout}s"
        if "httpGet" in probe:
            g = probe["httpGet"]
            port = _port(container, g.get("port"))
            s = connect_in_netns(sandbox_pid, port, timeout=timeout)
            s.settimeout(timeout)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            conn.sock = s
            headers = {h["name"]: h["value"] for h in g.get("httpHeaders") or []}
            conn.request("GET", g.get("path", "/"), headers=headers)
            r = conn.getresponse()
            conn.close()
            return 200 <= r.status < 400, f"HTTP probe failed with statuscode: {r.status}"
        if "tcpSocket" in probe:
            port = _port(container, probe["tcpSocket"].get("port"))
            connect_in_netns(sandbox_pid, port, timeout=timeout).close()
            return True, ""
        if "grpc" in probe:
            return False, "grpc probes are not emulated by the kiln test cluster"
    except (OSError, DockerError, ValueError, http.client.HTTPException) as e:
        return False, f"probe failed: {e}"
    return True, ""
