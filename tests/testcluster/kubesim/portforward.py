"""pods/<name>/portforward over SPDY/3.1 (portforward.k8s.io): per forwarded
connection the client opens an error stream and a data stream naming the port;
the data stream is piped to the port inside the pod's network namespace.
WebSocket tunneling is refused so that kubectl falls back to SPDY."""

import socket
import struct
import threading

from . import errors
from .exec_spdy import Spdy, SYN_STREAM, PING, GOAWAY, RST_STREAM, FLAG_FIN, header_dictionary
from .netns import connect_in_netns


def serve(h, cluster, req, ns, name, is_upgrade):
    pod, w = cluster.kubelet.worker_for(ns, name)
    upgrade = (h.headers.get("Upgrade") or "").lower()
    if not is_upgrade or upgrade != "spdy/3.1":
        # kubectl >= 1.31 tries WebSocket tunneling first and falls back to SPDY on an upgrade failure
        raise errors.bad_request("unable to upgrade connection: the kiln test cluster forwards ports over SPDY/3.1 only")
    if w is None or w.infra is None or w.finished:
        raise errors.bad_request(f"unable to upgrade connection: pod {name} is not running")
    header_dictionary()
    offered = [p.strip() for v in (h.headers.get_all("X-Stream-Protocol-Version") or []) for p in v.split(",")]
    if "portforward.k8s.io" not in offered:
        raise errors.bad_request(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server supports [portforward.k8s.io]")
    h.send_response(101, "Switching Protocols")
    h.send_header("Connection", "Upgrade")
    h.send_header("Upgrade", "SPDY/3.1")
    h.send_header("X-Stream-Protocol-Version", "portforward.k8s.io")
    h.end_headers()
    h.wfile.flush()
    h.close_connection = True
    sp = Spdy(h.rfile, h.wfile)
    pid = w.infra.inspect()["State"]["Pid"]
    conns = {}       # data stream id -> socket into the pod
    errs = {}        # request id -> error stream id
    try:
        while True:
            kind, typ, flags, data = sp.read_frame()
            if kind == "control" and typ == SYN_STREAM:
                sid = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
                hdrs = sp.headers(data[10:])
                sp.syn_reply(sid)
                rid = hdrs.get("requestid", "")
                if hdrs.get("streamtype") == "error":
                    errs[rid] = sid
                    continue
                try:
                    port = int(hdrs.get("port", "0"))
                    s = connect_in_netns(pid, port)
                except (OSError, ValueError) as e:
                    msg = f"error forwarding port {hdrs.get('port')} to pod {name}: {e}"
                    if rid in errs:
                        sp.data(errs[rid], msg.encode(), fin=True)
                    sp.data(sid, b"", fin=True)
                    continue
                conns[sid] = s
                threading.Thread(target=_pump, args=(sp, s, sid, errs.get(rid)), daemon=True).start()
            elif kind == "control" and typ == PING:
                sp.ping(data)
            elif kind == "control" and typ == GOAWAY:
                break
            elif kind == "control" and typ == RST_STREAM:
                sid = struct.unpack(">I", data[:4])[0] & 0x7FFFFFFF
                s = conns.pop(sid, None)
                if s:
                    s.close()
            elif kind == "data":
                s = conns.get(typ)
                if s is None:
                    continue
                try:
                    if data:
                        s.sendall(data)
                    if flags & FLAG_FIN:
                        s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
    except (EOFError, OSError, ValueError):   # ValueError: the connection was closed under us
        pass
    finally:
        for s in conns.values():
            try:
                s.close()
            except OSError:
                pass


def _pump(sp, s, sid, err_sid):
    try:
        while True:
            d = s.recv(1 << 15)
            if not d:
                break
            sp.data(sid, d)
        sp.data(sid, b"", fin=True)
        if err_sid:
            sp.data(err_sid, b"", fin=True)
    except OSError:
        pass
