"""pods/<name>/exec over WebSocket (v5.channel.k8s.io / v4.channel.k8s.io),
implemented on a Docker exec attached through a hijacked connection."""

import json
import socket
import threading

from . import errors
from .docker_api import DockerError, demux
from .resources import find
from .wsframe import Conn, Closed, accept_key

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


def status_success():
    return {"metadata": {}, "status": "Success"}


def status_exit(code, cmd):
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(cmd)}], exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def status_error(message):
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}


def serve(h, cluster, req, res, ns, name, is_upgrade, sub):
    if res.kind != "Pod":
        raise errors.generic_not_found()
    if h.command not in ("GET", "POST"):
        raise errors.method_not_allowed()
    cmd = req.query.get("command") or []
    if sub == "attach":
        cmd = None   # attach to the container's own process
    elif not cmd:
        raise errors.bad_request("you must specify at least 1 command")
    stdin, stdout, stderr, tty = (req.qbool(k) for k in ("stdin", "stdout", "stderr", "tty"))
    if not (stdin or stdout or stderr):
        raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    pod = cluster.store.get(find("", "v1", "pods"), ns, name)
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is {pod['status']['phase']}")
    pod, worker, rt = cluster.kubelet.running_container(ns, name, req.q("container"))
    upgrade = (h.headers.get("Upgrade") or "").lower()
    from . import builder
    if is_upgrade and upgrade == "spdy/3.1":
        from . import exec_spdy
        return exec_spdy.serve(h, cluster, pod, rt, cmd, stdin, stdout, stderr, tty,
                               builder.exec_handler(cluster, pod, rt, cmd) if cmd is not None else None)
    if not is_upgrade or upgrade != "websocket":
        raise errors.bad_request("Upgrade request required")
    offered = [p.strip() for p in (h.headers.get("Sec-WebSocket-Protocol") or "").split(",") if p.strip()]
    supported = cluster.faults.exec_protocols(PROTOCOLS, ns)
    proto = next((p for p in supported if p in offered), None)
    if proto is None:
        raise errors.bad_request(f"unable to upgrade: unable to negotiate a subprotocol from {offered}; supported: {list(supported)}")
    h.send_response(101, "Switching Protocols")
    h.send_header("Upgrade", "websocket")
    h.send_header("Connection", "Upgrade")
    h.send_header("Sec-WebSocket-Accept", accept_key(h.headers.get("Sec-WebSocket-Key", "")))
    h.send_header("Sec-WebSocket-Protocol", proto)
    h.end_headers()
    h.wfile.flush()
    h.close_connection = True
    ws = Conn(h.rfile, h.wfile, threading.Lock())
    handler = builder.exec_handler(cluster, pod, rt, cmd) if cmd is not None else None
    try:
        if handler is not None:
            _run_emulated(ws, handler, cmd, stdin, stdout, stderr)
        else:
            _run_docker(ws, cluster, rt, cmd, stdin, stdout, stderr, tty, proto)
    except (Closed, BrokenPipeError, ConnectionResetError, OSError):
        pass
    finally:
        ws.close()


def _send(ws, chan, data):
    ws.send(bytes([chan]) + data)


def _run_docker(ws, cluster, rt, cmd, stdin, stdout, stderr, tty, proto):
    docker = cluster.kubelet.docker
    try:
        ex, sock, tty = start_docker_stream(docker, rt, cmd, stdin, stdout, stderr, tty)
    except DockerError as e:
        _send(ws, 3, json.dumps(status_error(e.message)).encode())
        return
    done = threading.Event()

    def pump_stdin():
        try:
            while not done.is_set():
                op, data = ws.recv()
                if op == 0x8:
                    break
                if not data:
                    continue
                ch = data[0]
                if ch == 0 and stdin:
                    if len(data) > 1:
                        sock.sendall(data[1:])
                elif ch == 255 and proto.startswith("v5") and data[1:2] == b"\x00":
                    sock.shutdown(socket.SHUT_WR)
                elif ch == 4:
                    try:
                        size = json.loads(data[1:])
                        resize(docker, rt, ex, size)
                    except (ValueError, DockerError):
                        pass
        except (Closed, OSError):
            pass
        finally:
            if not done.is_set():
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    t = threading.Thread(target=pump_stdin, daemon=True)
    t.start()
    f = sock.makefile("rb", buffering=0)
    try:
        if tty:
            while True:
                data = f.read(65536)
                if not data:
                    break
                _send(ws, 1, data)
        else:
            for stream, data in demux(f.read):
                _send(ws, 2 if stream == 2 else 1, data)
    finally:
        done.set()
        sock.close()
    code = exit_code(docker, ex)
    st = status_success() if code == 0 else status_exit(code, cmd)
    _send(ws, 3, json.dumps(st).encode())


def start_docker_stream(docker, rt, cmd, stdin, stdout, stderr, tty):
    """A hijacked Docker stream: an exec of cmd, or (cmd None) an attach to the
    container's process. Returns (exec id or None, socket, tty of the stream)."""
    if cmd is None:
        tty = bool(rt.inspect()["Config"].get("Tty"))
        q = f"stream=1&stdin={int(stdin)}&stdout={int(stdout)}&stderr={int(stderr)}"
        return None, docker.hijack(f"/containers/{rt.id}/attach?{q}", {}), tty
    ex = docker.request("POST", f"/containers/{rt.id}/exec", {
        "AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr, "Tty": tty, "Cmd": cmd})
    return ex["Id"], docker.hijack(f"/exec/{ex['Id']}/start", {"Detach": False, "Tty": tty}), tty


def resize(docker, rt, ex, size):
    q = {"h": size.get("Height", 24), "w": size.get("Width", 80)}
    docker.request("POST", f"/exec/{ex}/resize" if ex else f"/containers/{rt.id}/resize", query=q)


def exit_code(docker, ex):
    """An exec's exit code; an attach ends with success (the pod status carries the exit code)."""
    if ex is None:
        return 0
    code = docker.request("GET", f"/exec/{ex}/json").get("ExitCode")
    return 0 if code is None else code


def _run_emulated(ws, handler, cmd, stdin, stdout, stderr):
    """handler(stdin_reader, out(chan, bytes)) -> exit code, for exec'd emulated programs."""
    import queue
    q = queue.Queue()

    def pump():
        try:
            while True:
                op, data = ws.recv()
                if op == 0x8:
                    break
                if data and data[0] == 0:
                    q.put(data[1:])
                elif data and data[0] == 255:
                    break
        except (Closed, OSError):
            pass
        q.put(None)
    threading.Thread(target=pump, daemon=True).start()

    def read_stdin():
        while True:
            d = q.get()
            if d is None:
                return
            yield d

    def out(chan, data):
        if (chan == 1 and stdout) or (chan == 2 and stderr):
            _send(ws, chan, data if isinstance(data, bytes) else data.encode())
    code = handler(read_stdin() if stdin else iter(()), out)
    st = status_success() if code == 0 else status_exit(code, cmd)
    _send(ws, 3, json.dumps(st).encode())
