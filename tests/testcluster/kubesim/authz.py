"""authorization.k8s.io/v1 SelfSubjectAccessReview (`kubectl auth can-i`): every
user may do everything, except what a `forbid` fault switch refuses."""

from . import errors


def access_review(h, cluster, req, res):
    if h.command != "POST":
        raise errors.method_not_allowed()
    obj = h._body_object(req, res)
    if not isinstance(obj, dict):
        raise errors.bad_request("json: cannot unmarshal into Go value of type v1.SelfSubjectAccessReview")
    from . import api, codec
    api.decode_body(req, res, obj)
    obj = codec.plain(obj)
    spec = obj.get("spec") or {}
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (ra is None) == (nra is None):
        raise errors.ApiError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                              'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes '
                              'or resourceAttributes must be specified',
                              {"group": "authorization.k8s.io", "kind": "SelfSubjectAccessReview",
                               "causes": [{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes",
                                           "message": "Invalid value: \"null\": exactly one of nonResourceAttributes "
                                                      "or resourceAttributes must be specified"}]})
    allowed, reason = True, ""
    if ra is not None:
        resource = ra.get("resource", "") + (f"/{ra['subresource']}" if ra.get("subresource") else "")
        if cluster.faults.forbids(req.user, ra.get("verb", ""), resource, ra.get("namespace", "")):
            allowed, reason = False, "forbidden by the test cluster's forbid fault switch"
    out = {"kind": "SelfSubjectAccessReview", "apiVersion": res.group_version,
           "metadata": {"creationTimestamp": None}, "spec": spec, "status": {"allowed": allowed}}
    if not allowed:
        out["status"]["reason"] = reason
    elif ra is not None:
        out["status"]["reason"] = "the kiln test cluster allows every request"

    return h.send_json(201, out, h._warning_headers(req))
