"""Watch streams: chunked JSON lines of ADDED/MODIFIED/DELETED/BOOKMARK/ERROR."""

import time

from . import errors
from .labelsel import parse_label_selector, parse_field_selector


def serve_watch(h, cluster, req, res, ns, single_name=None, as_table=None):
    lp = parse_label_selector(req.q("labelSelector"))
    fp = parse_field_selector(req.q("fieldSelector"), res)

    def match(o):
        if o is None:
            return False
        if ns is not None and res.namespaced and o["metadata"].get("namespace") != ns:
            return False
        if single_name and o["metadata"]["name"] != single_name:
            return False
        return lp(o["metadata"].get("labels")) and fp(o)

    timeout = req.qint("timeoutSeconds")
    deadline = time.monotonic() + (timeout if timeout else 1800)
    bookmarks = req.qbool("allowWatchBookmarks")
    rv_param = req.q("resourceVersion") or ""
    send_initial = req.qbool("sendInitialEvents")
    store = cluster.store
    initial = []
    if rv_param in ("", "0") or send_initial:
        items, cur_rv = store.list(res, ns, match)
        initial = items
        last = cur_rv
    else:
        try:
            last = int(rv_param)
        except ValueError:
            raise errors.bad_request(f'invalid resource version: {rv_param}')
        if last < store.oldest_rv() - 1:
            raise errors.gone(f"too old resource version: {last} ({store.oldest_rv() - 1})")
    gen = cluster.faults.watch_generation
    bad = cluster.faults.take_bad_watch()
    h.start_chunked(200, "application/json")
    if bad:
        return _misbehave(h, bad, deadline)
    first = [True]

    def obj_out(o):
        if as_table is None:
            return o
        from .tables import table
        t = table(res, [o], {"resourceVersion": o["metadata"]["resourceVersion"]}, as_table)
        if not first[0]:
            t["columnDefinitions"] = None
        first[0] = False
        return t

    def send(typ, o):
        h.write_chunk_json({"type": typ, "object": obj_out(o)})

    try:
        for o in initial:
            send("ADDED", o)
        if send_initial and bookmarks:
            h.write_chunk_json({"type": "BOOKMARK", "object": {
                "kind": res.kind, "apiVersion": res.group_version,
                "metadata": {"resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}}})
        last_bookmark = time.monotonic()
        while time.monotonic() < deadline:
            if cluster.faults.watch_generation != gen or cluster.stopping:
                h.abort_connection()
                return
            try:
                evs, cur = store.wait_events(last, min(1.0, max(0.0, deadline - time.monotonic())))
            except errors.ApiError as e:
                h.write_chunk_json({"type": "ERROR", "object": e.status()})
                break
            for ev in evs:
                last = ev.rv
                if ev.res.key != res.key:
                    continue
                now_m, was_m = match(ev.obj), match(ev.old)
                if ev.type == "ADDED" and now_m:
                    send("ADDED", ev.obj)
                elif ev.type == "DELETED" and now_m:
                    send("DELETED", ev.obj)
                elif ev.type == "MODIFIED":
                    if now_m and was_m:
                        send("MODIFIED", ev.obj)
                    elif now_m:
                        send("ADDED", ev.obj)
                    elif was_m:
                        send("DELETED", ev.obj)
            if bookmarks and time.monotonic() - last_bookmark > 5:
                last_bookmark = time.monotonic()
                h.write_chunk_json({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.group_version, "metadata": {"resourceVersion": str(max(last, cur))}}})
                last = max(last, cur)
        h.end_chunked()
    except (BrokenPipeError, ConnectionResetError, OSError):
        h.close_connection = True


def _misbehave(h, mode, deadline):
    """Fault switch: a watch stream a robust client must survive."""
    try:
        if mode == "garbage":
            h.write_chunk(b'{"type":"ADDED","object":{"kind":\n')
            h.write_chunk(b"this is not json\n")
            h.end_chunked()
            return
        block = b"a" * 65536
        while time.monotonic() < deadline:
            h.write_chunk(block)
    except (BrokenPipeError, ConnectionResetError, OSError):
        h.close_connection = True
