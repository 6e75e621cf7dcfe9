"""Containers as the kubelet sees them: a Docker container, or an emulated
program (builder images that cannot run here) with the same interface."""

import datetime
import threading
import time

from .docker_api import DockerError, demux


def docker_time(s):
    """Docker's RFC3339Nano -> Kubernetes' RFC3339 seconds."""
    if not s or s.startswith("0001-"):
        return None
    return s[:19] + "Z"


class DockerContainer:
    emulated = False

    def __init__(self, docker, cid):
        self.docker = docker
        self.id = cid
        self.oom_forced = False

    @property
    def container_id(self):
        return f"docker://{self.id}"

    def start(self):
        self.docker.request("POST", f"/containers/{self.id}/start")

    def inspect(self):
        return self.docker.request("GET", f"/containers/{self.id}/json")

    def poll(self):
        """None while running, else dict(exitCode, oom, startedAt, finishedAt)."""
        st = self.inspect()["State"]
        if st.get("Running") or st.get("Status") in ("created", "restarting"):
            return None
        return {"exitCode": st.get("ExitCode", 0), "oom": st.get("OOMKilled") or self.oom_forced,
                "startedAt": docker_time(st.get("StartedAt")), "finishedAt": docker_time(st.get("FinishedAt"))}

    def started_at(self):
        return docker_time(self.inspect()["State"].get("StartedAt"))

    def stop(self, grace):
        try:
            self.docker.request("POST", f"/containers/{self.id}/stop", query={"t": str(int(grace))},
                                timeout=grace + 30)
        except DockerError as e:
            if e.status not in (304, 404):
                raise

    def kill(self, oom=False):
        if oom:
            self.oom_forced = True
        try:
            self.docker.request("POST", f"/containers/{self.id}/kill", query={"signal": "KILL"})
        except DockerError:
            pass

    def remove(self):
        try:
            self.docker.request("DELETE", f"/containers/{self.id}", query={"force": "1", "v": "1"})
        except DockerError:
            pass

    def log_lines_tail(self, n=80):
        try:
            raw = self.docker.request("GET", f"/containers/{self.id}/logs", query={"stdout": "1", "stderr": "1", "tail": str(n)})
        except DockerError:
            return b""
        out = bytearray()
        pos = 0
        while pos + 8 <= len(raw):
            size = int.from_bytes(raw[pos + 4:pos + 8], "big")
            out += raw[pos + 8:pos + 8 + size]
            pos += 8 + size
        return bytes(out)

    def logs(self, follow, timestamps, tail, since):
        """Yields bytes chunks (stdout and stderr interleaved as written)."""
        q = {"stdout": "1", "stderr": "1", "follow": "1" if follow else "0", "timestamps": "1" if timestamps else "0"}
        if tail is not None:
            q["tail"] = str(tail)
        if since:
            q["since"] = f"{since:.9f}"
        c, r = self.docker.request("GET", f"/containers/{self.id}/logs", query=q, timeout=None, raw=True)
        try:
            if r.status >= 400:
                return
            read = r.read1 if hasattr(r, "read1") else r.read
            for _, data in demux(read):
                yield data
        finally:
            c.close()


class LogBuffer:
    """Captured output of an emulated program, readable like Docker logs."""

    def __init__(self):
        self.lines = []   # (unix time, bytes)
        self.cond = threading.Condition()
        self.done = False

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        with self.cond:
            for line in data.splitlines(keepends=True):
                if not line.endswith(b"\n"):
                    line += b"\n"
                self.lines.append((time.time(), line))
            self.cond.notify_all()

    def close(self):
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def read(self, follow, timestamps, tail, since):
        with self.cond:
            start = 0 if tail is None else max(0, len(self.lines) - tail)
        i = start
        while True:
            with self.cond:
                while i >= len(self.lines) and follow and not self.done:
                    self.cond.wait(1)
                batch = self.lines[i:]
                i = len(self.lines)
                finished = self.done or not follow
            for t, line in batch:
                if since and t < since:
                    continue
                if timestamps:
                    ts = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z "
                    yield ts.encode() + line
                else:
                    yield line
            if finished:
                return


class EmulatedContainer:
    """Runs `program(ctx)` in a thread in place of a container image.
    program gets an object with .log (LogBuffer), .args, .env, .mounts and
    .termination_log (host path) and returns the exit code."""
    emulated = True

    def __init__(self, program, ctx, name):
        self.program = program
        self.ctx = ctx
        self.id = f"emulated-{name}-{int(time.time() * 1000)}"
        self.log = ctx.log
        self.result = None
        self.started = None
        self.finished = None
        self.killed = False
        self.oom_forced = False

    @property
    def container_id(self):
        return f"kiln-emulated://{self.id}"

    def start(self):
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            code = self.program(self.ctx)
        except Exception as e:  # the emulated program's own crash: reported like a crashed binary
            self.log.write(f"error: {e}\n")
            code = 1
        if self.result is None:
            self.finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.result = code
        self.log.close()

    def poll(self):
        if self.result is None:
            return None
        return {"exitCode": self.result, "oom": self.oom_forced, "startedAt": self.started, "finishedAt": self.finished}

    def started_at(self):
        return self.started

    def stop(self, grace):
        self.kill()

    def kill(self, oom=False):
        self.ctx.cancelled = True
        if oom:
            self.oom_forced = True
        if self.result is None:
            self.finished = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.result = 137
        self.log.close()

    def remove(self):
        pass

    def log_lines_tail(self, n=80):
        return b"".join(l for _, l in self.log.lines[-n:])

    def logs(self, follow, timestamps, tail, since):
        return self.log.read(follow, timestamps, tail, since)
