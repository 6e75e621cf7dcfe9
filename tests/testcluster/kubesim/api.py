"""REST semantics of the API server: get/list/create/replace/patch/apply/delete."""

import base64
import copy
import json

from . import codec, defaults, errors, patch, validation
from .resources import find, by_kind
from .labelsel import parse_label_selector, parse_field_selector


class Request:
    def __init__(self, method, path, query, headers, body, user):
        self.method, self.path, self.query, self.headers, self.body, self.user = method, path, query, headers, body, user
        self.warnings = []

    def q(self, name, default=None):
        v = self.query.get(name)
        return v[-1] if v else default

    def qint(self, name, default=None):
        v = self.q(name)
        if v in (None, ""):
            return default
        try:
            return int(v)
        except ValueError:
            raise errors.bad_request(f'invalid value for {name}: strconv.ParseInt: parsing "{v}": invalid syntax')

    def qbool(self, name):
        return (self.q(name) or "").lower() in ("1", "true")

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def manager(self):
        m = self.q("fieldManager")
        if m:
            return m
        ua = self.headers.get("User-Agent") or "unknown"
        return ua.split("/")[0]


def status_success(res, name, uid=None):
    d = {"name": name, "kind": res.plural}
    if res.group:
        d = {"name": name, "group": res.group, "kind": res.plural}
    if uid:
        d["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d}


def _field_validation(req):
    v = req.q("fieldValidation") or "Warn"
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation parameter unsupported: {v}')
    return v


def decode_body(req, res, obj, patching=False):
    """Type/unknown-field checks (the decoder) on a request body."""
    mode = _field_validation(req)
    warnings, out = validation.decode(res, obj, mode, patch=patching)
    dups = codec.duplicate_paths(obj)
    if dups:
        msgs = [f'duplicate field "{d}"' for d in dups]
        if mode == "Strict":
            unk = [f'unknown field "{p}"' for p in out.unknown]
            raise errors.bad_request("strict decoding error: " + ", ".join(unk + msgs))
        if mode == "Warn":
            warnings += msgs
    req.warnings += warnings
    return out


def _check_gvk(res, obj):
    av, kind = obj.get("apiVersion"), obj.get("kind")
    if (av and av != res.group_version) or (kind and kind != res.kind):
        if av and kind and by_kind(av, kind) is None and kind == res.kind:
            raise errors.bad_request(f'the API version in the data ({av}) does not match the expected API version ({res.group_version})')
        raise errors.bad_request(f'the API version in the data ({av}) does not match the expected API version ({res.group_version})'
                                 if av != res.group_version else
                                 f'the kind in the data ({kind}) does not match the expected kind ({res.kind})')


def _strip(obj):
    for k in ("selfLink",):
        obj.get("metadata", {}).pop(k, None)


def _namespace_exists(cluster, res, ns):
    if res.namespaced and cluster.store.try_get(find("", "v1", "namespaces"), None, ns) is None:
        raise errors.ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def prepare_create(cluster, res, ns, obj):
    _namespace_exists(cluster, res, ns)
    meta = obj.setdefault("metadata", {})
    if res.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
    if res.has_status and res.kind not in ("Service", "Namespace"):
        obj.pop("status", None)
    if res.kind == "Pod":
        obj["status"] = {"phase": "Pending", "qosClass": cluster.qos_class(obj)}
    if res.kind == "Namespace":
        # as the namespace strategy's PrepareForCreate: whatever the client sent
        obj["status"] = {"phase": "Active"}
        fins = (obj.get("spec") or {}).get("finalizers") or []
        obj["spec"] = dict(obj.get("spec") or {}, finalizers=fins + ["kubernetes"] if "kubernetes" not in fins else fins)
    defaults.apply_defaults(res, obj)
    if res.kind == "Pod":
        from .admission import admit_pod
        admit_pod(cluster, ns, obj)


def finish_write(res, obj, out):
    validation.validate(res, obj, out)


def create(cluster, req, res, ns, body_obj):
    obj = codec.plain(body_obj)
    _check_gvk(res, obj)
    _strip(obj)
    if (obj.get("metadata") or {}).get("resourceVersion") not in (None, "", "0"):
        # what the storage layer answers; the API server turns it into a 500
        raise errors.ApiError(500, "InternalError", "Internal error occurred: resourceVersion should not be set on objects to be created",
                              {"causes": [{"message": "resourceVersion should not be set on objects to be created"}]})
    owned = patch.field_paths(obj)
    prepare_create(cluster, res, ns, obj)
    out = validation.Decoded()
    validation.check(obj, res.model, out)
    finish_write(res, obj, out)
    for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "managedFields"):
        obj["metadata"].pop(k, None)
    obj["metadata"]["managedFields"] = []
    patch.set_manager(obj, req.manager, "Update", res.group_version, owned)
    if res.kind == "Job":
        _job_selector(obj)
    quota = cluster.faults.take_quota(res, ns, obj["metadata"].get("name") or obj["metadata"].get("generateName", ""))
    if quota:
        raise quota
    if req.q("dryRun") == "All":
        obj["metadata"].setdefault("name", obj["metadata"].get("generateName", "") + "dryrun")
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        return obj
    created = cluster.store.create(res, ns, obj)
    cluster.on_created(res, created)
    return created


def _job_selector(obj):
    """As the Job strategy's generateSelector: unless manualSelector, the
    server picks a selector on the job's own UID and labels the template
    with it (kubectl logs job/x and kubectl describe find the pods by it)."""
    spec = obj.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    import uuid
    uid = str(uuid.uuid4())
    obj["metadata"]["uid"] = uid
    name = obj["metadata"].get("name") or ""
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    tmeta = spec.setdefault("template", {}).setdefault("metadata", {})
    labels = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid}
    if name:
        labels.update({"batch.kubernetes.io/job-name": name, "job-name": name})
    tmeta.setdefault("labels", {}).update(labels)


def replace(cluster, req, res, ns, name, body_obj, sub=None):
    obj = codec.plain(body_obj)
    _check_gvk(res, obj)
    meta = obj.setdefault("metadata", {})
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f'the name of the object ({meta["name"]}) does not match the name on the URL ({name})')
    meta["name"] = name
    if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
    cur = cluster.store.get(res, ns, name)
    return _write(cluster, req, res, ns, name, cur, obj, sub, check_rv=True)


def _write(cluster, req, res, ns, name, cur, obj, sub, check_rv=True, manager_op=None):
    if sub != "status":
        if res.has_status and "status" in cur:
            obj["status"] = copy.deepcopy(cur["status"])
        defaults.apply_defaults(res, obj, cur)
        out = validation.Decoded()
        validation.check(obj, res.model, out)
        finish_write(res, obj, out)
        immutable_checks(res, cur, obj)
    if manager_op is None:
        patch.record_update(cur, obj, req.manager, res.group_version, sub)
    if req.q("dryRun") == "All":
        return obj
    new = cluster.store.update(res, ns, name, obj, subresource=sub, check_rv=check_rv)
    return new


def immutable_checks(res, cur, obj):
    if res.kind == "Pod":
        a, b = copy.deepcopy(cur.get("spec") or {}), copy.deepcopy(obj.get("spec") or {})
        for s in (a, b):
            for c in (s.get("containers") or []) + (s.get("initContainers") or []):
                c.pop("image", None)
            s.pop("activeDeadlineSeconds", None)
            s.pop("tolerations", None)
        if a != b:
            raise errors.invalid(res, cur["metadata"]["name"], [("FieldValueForbidden", "spec",
                                 "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")])
    if res.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") and (cur.get("spec") or {}).get("selector") != (obj.get("spec") or {}).get("selector"):
        raise errors.invalid(res, cur["metadata"]["name"], [("FieldValueInvalid", "spec.selector",
                             "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{...}}: field is immutable")])


def do_patch(cluster, req, res, ns, name, sub=None):
    ct = req.content_type
    if ct == "application/apply-patch+yaml":
        return server_side_apply(cluster, req, res, ns, name)
    if ct not in ("application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json"):
        raise errors.ApiError(415, "UnsupportedMediaType",
                              "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json", {})
    body = codec.loads_json(req.body)
    cur = cluster.store.get(res, ns, name)
    if ct == "application/json-patch+json":
        new = patch.json_patch(cur, codec.plain(body))
    else:
        if not isinstance(body, dict):
            raise errors.bad_request(f"json: cannot unmarshal {validation.json_kind(body)} into Go value of type map[string]interface {{}}")
        pb = _strip_directive_keys(body)
        if sub is None:
            tmp = copy.deepcopy(pb)
            tmp.pop("status", None) if res.has_status else None
            decode_body(req, res, tmp, patching=True)
        if ct == "application/merge-patch+json":
            new = patch.json_merge_patch(cur, codec.plain(body))
        else:
            new = patch.strategic_merge(cur, codec.plain(body))
    out = validation.Decoded()
    validation.check(new, res.model, out, skip_status=sub != "status")
    if out.type_error:
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {out.type_error}')
    new.setdefault("metadata", {})
    want_rv = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
    if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
        raise errors.conflict(res, name)
    new["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
    return _write(cluster, req, res, ns, name, cur, new, sub, check_rv=False)


def _strip_directive_keys(o):
    if isinstance(o, dict):
        d = codec.DupDict((k, _strip_directive_keys(v)) for k, v in o.items() if not k.startswith("$"))
        d.dups = getattr(o, "dups", ())
        return d
    if isinstance(o, list):
        return [_strip_directive_keys(x) for x in o]
    return o


def server_side_apply(cluster, req, res, ns, name):
    if not req.q("fieldManager"):
        raise errors.bad_request("PATCH, application/apply-patch+yaml requests require fieldManager to be set")
    body = codec.loads_yaml(req.body)
    if not isinstance(body, dict):
        raise errors.bad_request("error decoding YAML: the body is not an object")
    if not body.get("apiVersion") or not body.get("kind"):
        raise errors.bad_request('Object \'Kind\' is missing in \'' + json.dumps(codec.plain(body)) + "'" if not body.get("kind")
                                 else "Object 'apiVersion' is missing")
    _check_gvk(res, body)
    meta = body.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f'the name of the object ({meta["name"]}) does not match the name on the URL ({name})')
    tmp = copy.deepcopy(body)
    if res.has_status:
        tmp.pop("status", None)
    decode_body(req, res, tmp)
    applied = codec.plain(body)
    applied.setdefault("metadata", {})["name"] = name
    if res.namespaced:
        if meta.get("namespace") and meta["namespace"] != ns:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        applied["metadata"]["namespace"] = ns
    force = req.qbool("force")
    cur = cluster.store.try_get(res, ns, name)
    rv = applied["metadata"].pop("resourceVersion", None)
    if cur is None:
        obj = patch.apply(None, applied, req.manager, force, res.group_version, res, name)
        mf = obj["metadata"].pop("managedFields")
        prepare_create(cluster, res, ns, obj)
        out = validation.Decoded()
        validation.check(obj, res.model, out)
        finish_write(res, obj, out)
        obj["metadata"]["managedFields"] = mf
        if req.q("dryRun") == "All":
            return obj, 201
        created = cluster.store.create(res, ns, obj)
        cluster.on_created(res, created)
        return created, 201
    if rv and rv != cur["metadata"]["resourceVersion"]:
        raise errors.conflict(res, name)
    new = patch.apply(cur, applied, req.manager, force, res.group_version, res, name)
    return _write(cluster, req, res, ns, name, cur, new, None, check_rv=False, manager_op="Apply"), 200


def delete_options(req):
    opts = {}
    if req.body:
        try:
            b = json.loads(req.body.decode() or "{}")
        except ValueError as e:
            raise errors.bad_request(f"error decoding body: {e}")
        if isinstance(b, dict):
            opts.update(b)
    if req.q("gracePeriodSeconds") is not None:
        opts["gracePeriodSeconds"] = req.qint("gracePeriodSeconds")
    if req.q("propagationPolicy"):
        opts["propagationPolicy"] = req.q("propagationPolicy")
    if req.q("orphanDependents") is not None:
        opts["orphanDependents"] = req.qbool("orphanDependents")
    pp = opts.get("propagationPolicy")
    if pp is not None and pp not in ("Orphan", "Background", "Foreground"):
        raise errors.invalid(find("", "v1", "pods"), "", [("FieldValueNotSupported", "propagationPolicy", f'Unsupported value: "{pp}": supported values: "Foreground", "Background", "Orphan"')])
    return opts


def delete(cluster, req, res, ns, name, opts):
    pre = opts.get("preconditions") or {}
    cur = cluster.store.get(res, ns, name)
    if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
        raise errors.conflict(res, name, f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {cur["metadata"]["uid"]}')
    if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
        raise errors.conflict(res, name, f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, ResourceVersion in object meta: {cur["metadata"]["resourceVersion"]}')
    if req is not None and req.q("dryRun") == "All":
        return cur if res.kind in ("Pod", "Namespace") else status_success(res, name, cur["metadata"]["uid"])
    policy = opts.get("propagationPolicy") or ("Orphan" if opts.get("orphanDependents") else "Background")
    return cluster.delete_object(res, ns, name, cur, policy, opts.get("gracePeriodSeconds"))


def list_objects(cluster, req, res, ns):
    lp = parse_label_selector(req.q("labelSelector"))
    fp = parse_field_selector(req.q("fieldSelector"), res)
    items, rv = cluster.store.list(res, ns, lambda o: lp(o["metadata"].get("labels")) and fp(o))
    limit = req.qint("limit", 0)
    cont = req.q("continue")
    meta = {"resourceVersion": str(rv)}
    if cont:
        try:
            c = json.loads(base64.urlsafe_b64decode(cont + "==").decode())
            start, list_rv = c["start"], c["rv"]
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        if list_rv < cluster.store.oldest_rv() - 1 and list_rv != rv:
            raise errors.ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
        items = [o for o in items if [o["metadata"].get("namespace", ""), o["metadata"]["name"]] > start]
        meta["resourceVersion"] = str(list_rv)
    if limit and len(items) > limit:
        last = items[limit - 1]["metadata"]
        remaining = len(items) - limit
        items = items[:limit]
        token = {"start": [last.get("namespace", ""), last["name"]], "rv": int(meta["resourceVersion"])}
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")
        meta["remainingItemCount"] = remaining
    for o in items:
        o.pop("apiVersion", None)
        o.pop("kind", None)
    return {"kind": res.kind + "List", "apiVersion": res.group_version, "metadata": meta, "items": items}
