"""JSON merge patch, JSON patch, strategic merge patch and a small server-side
apply with field ownership (managedFields with FieldsV1)."""

import copy
import json

from . import errors
from .store import now

# Strategic-merge keys of the list fields the built-in types declare.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip", "containerStatuses": "name",
    "initContainerStatuses": "name", "topologySpreadConstraints": "topologyKey", "readinessGates": "conditionType",
    "managedFields": None,
}
# "ports" is keyed by containerPort in containers and by port in services.
PORT_KEYS = ("containerPort", "port")
MERGED_PRIMITIVE_LISTS = {"finalizers"}


def merge_key(field, items):
    if field == "ports":
        for k in PORT_KEYS:
            if any(isinstance(i, dict) and k in i for i in items):
                return k
        return None
    return MERGE_KEYS.get(field)


def json_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = copy.deepcopy(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = json_merge_patch(out.get(k), v)
    return out


def strategic_merge(target, patch, field=None):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    out = copy.deepcopy(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            out[f] = [x for x in out.get(f) or [] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
            continue
        if isinstance(v, list):
            key = merge_key(k, v + (out.get(k) or []))
            if key and isinstance(out.get(k), list):
                out[k] = _merge_list(out[k], v, key, patch.get(f"$setElementOrder/{k}"))
            elif k in MERGED_PRIMITIVE_LISTS and isinstance(out.get(k), list):
                out[k] = out[k] + [x for x in v if x not in out[k]]
            else:
                out[k] = [_strip_directives(x) for x in v if not (isinstance(x, dict) and x.get("$patch") == "delete")]
        elif isinstance(v, dict):
            r = strategic_merge(out.get(k), v, k)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
        else:
            out[k] = v
    if retain is not None:
        for k in list(out.keys()):
            if k not in retain:
                del out[k]
    return out


def _strip_directives(x):
    if isinstance(x, dict):
        return {k: _strip_directives(v) for k, v in x.items() if not k.startswith("$")}
    return x


def _merge_list(cur, patch, key, order):
    out = [copy.deepcopy(i) for i in cur]
    for item in patch:
        if not isinstance(item, dict):
            continue
        kv = item.get(key)
        idx = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(key) == kv), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(_strip_directives(item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    if order:
        pos = {json.dumps(o.get(key)): i for i, o in enumerate(order) if isinstance(o, dict)}
        out.sort(key=lambda c: pos.get(json.dumps(c.get(key)), len(pos)))
    return out


def json_patch(target, ops):
    doc = copy.deepcopy(target)
    if not isinstance(ops, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")

    def parts(p):
        if p == "":
            return []
        return [s.replace("~1", "/").replace("~0", "~") for s in p.split("/")[1:]]

    def walk(d, ps):
        for p in ps:
            d = d[int(p)] if isinstance(d, list) else d[p]
        return d

    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        ps = parts(path)
        try:
            if kind == "test":
                if walk(doc, ps) != op.get("value"):
                    raise errors.ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})
                continue
            if kind in ("move", "copy"):
                val = copy.deepcopy(walk(doc, parts(op["from"])))
                if kind == "move":
                    fp = parts(op["from"])
                    par = walk(doc, fp[:-1])
                    if isinstance(par, list):
                        par.pop(int(fp[-1]))
                    else:
                        del par[fp[-1]]
                kind, op = "add", {"value": val}
            parent = walk(doc, ps[:-1])
            last = ps[-1] if ps else None
            if kind == "add":
                if isinstance(parent, list):
                    parent.insert(len(parent) if last == "-" else int(last), op["value"])
                else:
                    parent[last] = op["value"]
            elif kind == "replace":
                if isinstance(parent, list):
                    parent[int(last)] = op["value"]
                else:
                    if last not in parent:
                        raise KeyError(last)
                    parent[last] = op["value"]
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            else:
                raise errors.bad_request(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError):
            raise errors.ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})
    return doc


# ---------------------------------------------------------------------------
# Server-side apply: field sets as FieldsV1 paths.

def _path_key(field, item):
    key = merge_key(field, [item])
    if key and isinstance(item, dict) and key in item:
        return "k:" + json.dumps({key: item[key]}, separators=(",", ":"))
    return None


def field_paths(obj, prefix=(), field=None):
    """Leaf paths (tuples of FieldsV1 segments) set by obj."""
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if prefix == () and k in ("apiVersion", "kind"):
                continue
            if prefix == () and k == "metadata":
                for mk, mv in (v or {}).items():
                    if mk in ("name", "namespace", "resourceVersion", "uid", "creationTimestamp", "managedFields",
                              "generation"):
                        continue
                    out |= field_paths(mv, ("f:metadata", f"f:{mk}"), mk) if isinstance(mv, (dict,)) and mv else {("f:metadata", f"f:{mk}")}
                continue
            p = prefix + (f"f:{k}",)
            if isinstance(v, dict) and v:
                out |= field_paths(v, p, k)
            elif isinstance(v, list) and v and merge_key(k, v) and all(isinstance(i, dict) for i in v):
                for item in v:
                    kp = p + (_path_key(k, item),)
                    out.add(kp + (".",))
                    out |= field_paths(item, kp, k)
            else:
                out.add(p)
    return out


def paths_to_fields(paths):
    root = {}
    for p in sorted(paths):
        d = root
        for seg in p:
            d = d.setdefault(seg, {})
    return root


def fields_to_paths(fields, prefix=()):
    out = set()
    for k, v in (fields or {}).items():
        if v:
            out |= fields_to_paths(v, prefix + (k,))
        else:
            out.add(prefix + (k,))
    return out


def get_path(obj, path):
    cur = obj
    for seg in path:
        if seg == ".":
            return cur
        if seg.startswith("f:"):
            if not isinstance(cur, dict) or seg[2:] not in cur:
                return _MISSING
            cur = cur[seg[2:]]
        elif seg.startswith("k:"):
            want = json.loads(seg[2:])
            if not isinstance(cur, list):
                return _MISSING
            cur = next((i for i in cur if isinstance(i, dict) and all(i.get(a) == b for a, b in want.items())), _MISSING)
            if cur is _MISSING:
                return cur
        else:
            return _MISSING
    return cur


def remove_path(obj, path):
    if not path:
        return
    if path[-1] == ".":
        path = path[:-1]
    parent = get_path(obj, path[:-1]) if len(path) > 1 else obj
    seg = path[-1]
    if parent is _MISSING:
        return
    if seg.startswith("f:") and isinstance(parent, dict):
        parent.pop(seg[2:], None)
    elif seg.startswith("k:") and isinstance(parent, list):
        want = json.loads(seg[2:])
        parent[:] = [i for i in parent if not (isinstance(i, dict) and all(i.get(a) == b for a, b in want.items()))]


class _Missing:
    pass


_MISSING = _Missing()


def managers(obj):
    return obj.get("metadata", {}).get("managedFields") or []


def set_manager(obj, manager, operation, api_version, paths, subresource=None):
    mf = [m for m in managers(obj) if not (m.get("manager") == manager and m.get("operation") == operation
                                           and m.get("subresource") == subresource)]
    if paths:
        entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now(),
                 "fieldsType": "FieldsV1", "fieldsV1": paths_to_fields(paths)}
        if subresource:
            entry["subresource"] = subresource
        mf.append(entry)
    obj.setdefault("metadata", {})["managedFields"] = mf


def record_update(old, new, manager, api_version, subresource=None):
    """An Update operation owns the fields it changed."""
    if not manager:
        return
    oldp = field_paths(old) if old else set()
    newp = field_paths(new)
    changed = {p for p in newp if p not in oldp or get_path(old, p) != get_path(new, p)}
    if not changed and old is not None:
        new.setdefault("metadata", {})["managedFields"] = managers(old)
        return
    new.setdefault("metadata", {})["managedFields"] = []
    others = []
    for m in managers(old or {}):
        paths = fields_to_paths(m.get("fieldsV1")) - changed
        if m.get("manager") == manager and m.get("operation") == "Update":
            changed |= paths
            continue
        if paths:
            m = dict(m)
            m["fieldsV1"] = paths_to_fields(paths)
            others.append(m)
    new["metadata"]["managedFields"] = others
    set_manager(new, manager, "Update", api_version, changed, subresource)


def apply(current, applied, manager, force, api_version, res, name):
    """Returns the new object; raises 409 Conflict naming the conflicting fields."""
    newp = field_paths(applied)
    base = copy.deepcopy(current) if current else {}
    conflicts = []
    kept = []
    mine_before = set()
    for m in managers(base):
        paths = fields_to_paths(m.get("fieldsV1"))
        if m.get("manager") == manager and m.get("operation") == "Apply":
            mine_before = paths
            continue
        clash = {p for p in paths & newp if p[-1] != "." and get_path(base, p) != get_path(applied, p)}
        if clash and not force:
            for p in sorted(clash):
                conflicts.append((m.get("manager"), m.get("apiVersion", api_version), p))
        if force:
            paths = paths - newp
        if paths:
            m = dict(m)
            m["fieldsV1"] = paths_to_fields(paths)
            kept.append(m)
    if conflicts:
        def dotted(p):
            return "".join("." + s[2:] if s.startswith("f:") else f"[{s[2:]}]" for s in p if s != ".")
        lines = [f'conflict with "{mgr}" using {av}: {dotted(p)}' for mgr, av, p in conflicts]
        n = len(lines)
        msg = (f"Apply failed with {n} conflict{'s' if n > 1 else ''}: " + "; ".join(lines))
        raise errors.ApiError(409, "Conflict", msg, {
            "name": name, **({"group": res.group} if res.group else {}), "kind": res.plural,
            "causes": [{"reason": "FieldManagerConflict", "message": f'conflict with "{mgr}" using {av}',
                        "field": dotted(p)} for mgr, av, p in conflicts]})
    merged = strategic_merge(base, applied)
    owned_by_others = set()
    for m in kept:
        owned_by_others |= fields_to_paths(m.get("fieldsV1"))
    for p in sorted(mine_before - newp, key=len, reverse=True):
        if p not in owned_by_others and not any(q[:len(p)] == p for q in newp):
            remove_path(merged, p)
    merged.setdefault("metadata", {})["managedFields"] = kept
    set_manager(merged, manager, "Apply", api_version, newp)
    return merged
