"""meta.k8s.io/v1 Table rendering for `kubectl get` (Accept: ...;as=Table)."""

import datetime


def _age(ts):
    if not ts:
        return "<unknown>"
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 3600 * 2:
        return f"{s // 60}m"
    if s < 86400 * 2:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _col(name, typ="string", fmt="", desc="", prio=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": prio}


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col("Age", desc="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _pod_row(o):
    st = o.get("status") or {}
    cs = st.get("containerStatuses") or []
    n = len((o.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    reason = st.get("reason") or st.get("phase", "Pending")
    restarts = sum(c.get("restartCount", 0) for c in cs)
    for c in st.get("initContainerStatuses") or []:
        s = c.get("state") or {}
        if "terminated" in s and s["terminated"].get("exitCode", 0) != 0:
            reason = "Init:" + (s["terminated"].get("reason") or "Error")
            break
        if "waiting" in s and s["waiting"].get("reason") not in (None, "PodInitializing"):
            reason = "Init:" + s["waiting"]["reason"]
            break
        if "running" in s or "waiting" in s:
            done = sum(1 for x in st.get("initContainerStatuses") if "terminated" in (x.get("state") or {}))
            reason = f"Init:{done}/{len(st.get('initContainerStatuses'))}"
            break
    else:
        for c in cs:
            s = c.get("state") or {}
            if "waiting" in s and s["waiting"].get("reason"):
                reason = s["waiting"]["reason"]
            elif "terminated" in s and s["terminated"].get("reason"):
                reason = s["terminated"]["reason"]
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [o["metadata"]["name"], f"{ready}/{n}", reason, restarts, _age(o["metadata"].get("creationTimestamp")),
            st.get("podIP", "<none>"), (o.get("spec") or {}).get("nodeName", "<none>"), "<none>", "<none>"]


POD_COLS = [NAME, _col("Ready"), _col("Status"), _col("Restarts", "string"), AGE, _col("IP", prio=1),
            _col("Node", prio=1), _col("Nominated Node", prio=1), _col("Readiness Gates", prio=1)]


def _deploy_row(o):
    st, sp = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{sp.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(o["metadata"].get("creationTimestamp"))]


def _svc_row(o):
    sp = o.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in sp.get("ports") or []) or "<none>"
    return [o["metadata"]["name"], sp.get("type", "ClusterIP"), sp.get("clusterIP", "<none>"), "<none>", ports,
            _age(o["metadata"].get("creationTimestamp"))]


def _ns_row(o):
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"), _age(o["metadata"].get("creationTimestamp"))]


def _secret_row(o):
    return [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}), _age(o["metadata"].get("creationTimestamp"))]


def _cm_row(o):
    return [o["metadata"]["name"], len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o["metadata"].get("creationTimestamp"))]


def _since(a, b):
    """Duration between two RFC 3339 times, worded as kubectl's durations."""
    if not a:
        return ""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    t0 = datetime.datetime.strptime(a, fmt).replace(tzinfo=datetime.timezone.utc)
    t1 = (datetime.datetime.strptime(b, fmt).replace(tzinfo=datetime.timezone.utc) if b
          else datetime.datetime.now(datetime.timezone.utc))
    s = max(0, int((t1 - t0).total_seconds()))
    return f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"


def _job_status(st, sp):
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    if conds.get("Complete") == "True":
        return "Complete"
    if conds.get("Failed") == "True":
        return "Failed"
    if sp.get("suspend"):
        return "Suspended"
    return "Running"


def _job_row(o):
    st, sp = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], _job_status(st, sp), f"{st.get('succeeded', 0)}/{sp.get('completions', 1)}",
            _since(st.get("startTime"), st.get("completionTime")), _age(o["metadata"].get("creationTimestamp"))]


def _cronjob_row(o):
    st, sp = o.get("status") or {}, o.get("spec") or {}
    last = st.get("lastScheduleTime")
    return [o["metadata"]["name"], sp.get("schedule", ""), sp.get("timeZone") or "<none>",
            "True" if sp.get("suspend") else "False", len(st.get("active") or []),
            _age(last) if last else "<none>", _age(o["metadata"].get("creationTimestamp"))]


def _generic_row(o):
    return [o["metadata"]["name"], _age(o["metadata"].get("creationTimestamp"))]


def _event_row(o):
    io = o.get("involvedObject") or {}
    return [_age(o.get("lastTimestamp") or o["metadata"].get("creationTimestamp")), o.get("type", ""), o.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", o.get("message", "")]


def _rs_row(o):
    st, sp = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], sp.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(o["metadata"].get("creationTimestamp"))]


def _sts_row(o):
    st, sp = o.get("status") or {}, o.get("spec") or {}
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{sp.get('replicas', 1)}", _age(o["metadata"].get("creationTimestamp"))]


def _ds_row(o):
    st = o.get("status") or {}
    return [o["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            _age(o["metadata"].get("creationTimestamp"))]


KINDS = {
    "ReplicaSet": ([NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE], _rs_row),
    "StatefulSet": ([NAME, _col("Ready"), AGE], _sts_row),
    "DaemonSet": ([NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                   _col("Up-to-date", "integer"), _col("Available", "integer"), AGE], _ds_row),
    "Event": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")], _event_row),
    "Pod": (POD_COLS, _pod_row),
    "Deployment": ([NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE], _deploy_row),
    "Service": ([NAME, _col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE], _svc_row),
    "Namespace": ([NAME, _col("Status"), AGE], _ns_row),
    "Secret": ([NAME, _col("Type"), _col("Data", "integer"), AGE], _secret_row),
    "ConfigMap": ([NAME, _col("Data", "integer"), AGE], _cm_row),
    "Job": ([NAME, _col("Status"), _col("Completions"), _col("Duration"), AGE], _job_row),
    "CronJob": ([NAME, _col("Schedule"), _col("Timezone"), _col("Suspend", "boolean"), _col("Active", "integer"),
                 _col("Last Schedule"), AGE], _cronjob_row),
}


def _selector_text(sel):
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        vals = ",".join(e.get("values") or [])
        parts.append({"In": f"{e.get('key')} in ({vals})", "NotIn": f"{e.get('key')} notin ({vals})",
                      "Exists": e.get("key"), "DoesNotExist": f"!{e.get('key')}"}.get(op, e.get("key")))
    return ",".join(parts)


def _workload_wide(o, selector=True):
    cs = (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    out = [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]
    return out + [_selector_text((o.get("spec") or {}).get("selector"))] if selector else out


_WORKLOAD_WIDE = [_col("Containers", prio=1), _col("Images", prio=1), _col("Selector", prio=1)]
# the columns `-o wide` adds (priority 1), as the server's printers define them
WIDE = {
    "Deployment": (_WORKLOAD_WIDE, _workload_wide),
    "ReplicaSet": (_WORKLOAD_WIDE, _workload_wide),
    "Job": (_WORKLOAD_WIDE, _workload_wide),
    "StatefulSet": (_WORKLOAD_WIDE[:2], lambda o: _workload_wide(o, selector=False)),
    "Service": ([_col("Selector", prio=1)],
                lambda o: [",".join(f"{k}={v}" for k, v in sorted(((o.get("spec") or {}).get("selector") or {}).items()))
                           or "<none>"]),
}


def table(res, items, list_meta, include="Metadata"):
    cols, rowfn = KINDS.get(res.kind, ([NAME, AGE], _generic_row))
    if res.kind in WIDE:
        wcols, wfn = WIDE[res.kind]
        cols, rowfn = cols + wcols, (lambda o, base=rowfn, extra=wfn: base(o) + extra(o))
    rows = []
    for o in items:
        row = {"cells": rowfn(o)}
        if include == "Object":
            # list items carry no kind; an embedded object must (kubectl --sort-by decodes it)
            row["object"] = {"kind": res.kind, "apiVersion": res.group_version, **o}
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": cols, "rows": rows}
