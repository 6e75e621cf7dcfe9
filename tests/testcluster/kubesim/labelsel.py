"""Label and field selectors, parsed with the server's grammar and errors."""

import re

from .errors import bad_request

_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=,()]+)")


def _tokens(s):
    pos, out = 0, []
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            break
        if m.group(1):
            out.append(m.group(1))
        pos = m.end()
        if s[pos:].strip() == "":
            break
    return out


def parse_label_selector(s):
    """Returns a predicate over a labels dict; raises 400 on a bad selector."""
    if not s:
        return lambda labels: True
    reqs = []
    toks = _tokens(s)
    i = 0

    def err(msg):
        return bad_request(f"unable to parse requirement: {msg}")

    while i < len(toks):
        if toks[i] == "!":
            if i + 1 >= len(toks):
                raise err("found '', expected: identifier")
            reqs.append(("!", toks[i + 1], None))
            i += 2
        else:
            key = toks[i]
            i += 1
            if i >= len(toks) or toks[i] == ",":
                reqs.append(("exists", key, None))
            else:
                op = toks[i]
                i += 1
                if op in ("=", "==", "!="):
                    if i >= len(toks) or toks[i] == ",":
                        val = ""
                    else:
                        val = toks[i]
                        i += 1
                    reqs.append(("!=" if op == "!=" else "=", key, val))
                elif op in ("in", "notin"):
                    if i >= len(toks) or toks[i] != "(":
                        raise err(f"found '{toks[i] if i < len(toks) else ''}', expected: '('")
                    i += 1
                    vals = []
                    while i < len(toks) and toks[i] != ")":
                        if toks[i] != ",":
                            vals.append(toks[i])
                        i += 1
                    if i >= len(toks):
                        raise err("found '', expected: ')'")
                    i += 1
                    reqs.append((op, key, set(vals)))
                else:
                    raise err(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(toks):
            if toks[i] != ",":
                raise err(f"found '{toks[i]}', expected: ','")
            i += 1

    def pred(labels):
        labels = labels or {}
        for op, k, v in reqs:
            if op == "exists" and k not in labels:
                return False
            if op == "!" and k in labels:
                return False
            if op == "=" and labels.get(k) != v:
                return False
            if op == "!=" and labels.get(k) == v:
                return False
            if op == "in" and labels.get(k) not in v:
                return False
            if op == "notin" and k in labels and labels[k] in v:
                return False
        return True
    return pred


def label_selector_from_object(sel):
    """metav1.LabelSelector (matchLabels + matchExpressions) as a predicate."""
    sel = sel or {}
    ml = sel.get("matchLabels") or {}
    me = sel.get("matchExpressions") or []

    def pred(labels):
        labels = labels or {}
        for k, v in ml.items():
            if labels.get(k) != v:
                return False
        for e in me:
            k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
            if op == "In" and labels.get(k) not in vals:
                return False
            if op == "NotIn" and k in labels and labels[k] in vals:
                return False
            if op == "Exists" and k not in labels:
                return False
            if op == "DoesNotExist" and k in labels:
                return False
        return True
    return pred


FIELD_GETTERS = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
    "status.phase": lambda o: (o.get("status") or {}).get("phase", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", ""),
    "spec.restartPolicy": lambda o: (o.get("spec") or {}).get("restartPolicy", ""),
    "spec.schedulerName": lambda o: (o.get("spec") or {}).get("schedulerName", ""),
    "spec.serviceAccountName": lambda o: (o.get("spec") or {}).get("serviceAccountName", ""),
    "status.podIP": lambda o: (o.get("status") or {}).get("podIP", ""),
    "type": lambda o: o.get("type", ""),
    "involvedObject.name": lambda o: (o.get("involvedObject") or {}).get("name", ""),
    "involvedObject.kind": lambda o: (o.get("involvedObject") or {}).get("kind", ""),
    "involvedObject.namespace": lambda o: (o.get("involvedObject") or {}).get("namespace", ""),
    "involvedObject.uid": lambda o: (o.get("involvedObject") or {}).get("uid", ""),
    "reason": lambda o: o.get("reason", ""),
    "status.successful": lambda o: str((o.get("status") or {}).get("succeeded", 0)),
}

FIELDS_BY_KIND = {
    "Pod": {"metadata.name", "metadata.namespace", "status.phase", "spec.nodeName", "spec.restartPolicy",
            "spec.schedulerName", "spec.serviceAccountName", "status.podIP"},
    "Secret": {"metadata.name", "metadata.namespace", "type"},
    "Event": {"metadata.name", "metadata.namespace", "involvedObject.name", "involvedObject.kind",
              "involvedObject.namespace", "involvedObject.uid", "reason", "type"},
    "Job": {"metadata.name", "metadata.namespace", "status.successful"},
}


def parse_field_selector(s, res):
    if not s:
        return lambda o: True
    allowed = FIELDS_BY_KIND.get(res.kind, {"metadata.name", "metadata.namespace"})
    reqs = []
    for part in s.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^!=]+)(==|!=|=)(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        f, op, v = m.group(1), m.group(2), m.group(3)
        if f not in allowed:
            raise bad_request(f'field label not supported: {f}')
        reqs.append((FIELD_GETTERS[f], op != "!=", v))

    def pred(o):
        for g, eq, v in reqs:
            if (g(o) == v) != eq:
                return False
        return True
    return pred
