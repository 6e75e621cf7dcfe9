"""TokenRequest (serviceaccounts/<name>/token, `kubectl create token`) and
SelfSubjectReview (`kubectl auth whoami`). Minted tokens are bearer tokens of
the service account until they expire or the pod they are bound to is gone."""

import datetime
import secrets
import threading

from . import errors
from .resources import find

AUDIENCE = "https://kubernetes.default.svc.cluster.local"
_expiry = {}   # token -> expiry (epoch seconds)
_lock = threading.Lock()


def user_of(cluster, token):
    """The user of a bearer token, None for an unknown or expired one."""
    with _lock:
        exp = _expiry.get(token)
        if exp is not None and exp <= datetime.datetime.now(datetime.timezone.utc).timestamp():
            _expiry.pop(token, None)
            cluster.tokens.pop(token, None)
            return None
    return cluster.tokens.get(token)


def _body(h, req, res, kind, group_version):
    obj = h._body_object(req, res)
    from . import codec
    obj = codec.plain(obj) if isinstance(obj, dict) else obj
    if not isinstance(obj, dict):
        raise errors.bad_request(f"json: cannot unmarshal into Go value of type v1.{kind}")
    if obj.get("kind") not in (None, kind) or obj.get("apiVersion") not in (None, group_version):
        raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: '
                                 f'expected {group_version}/{kind}, got {obj.get("apiVersion")}/{obj.get("kind")}')
    return obj


def token_request(h, cluster, req, res, ns, name):
    if h.command != "POST":
        raise errors.method_not_allowed()
    cluster.store.get(res, ns, name)   # 404 for a missing service account
    obj = _body(h, req, res, "TokenRequest", "authentication.k8s.io/v1")
    unknown = sorted(set(obj) - {"kind", "apiVersion", "metadata", "spec", "status"}) + \
        sorted(f"spec.{k}" for k in set(obj.get("spec") or {}) - {"audiences", "expirationSeconds", "boundObjectRef"})
    if unknown:
        raise errors.bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
    spec = dict(obj.get("spec") or {})
    secs = spec.get("expirationSeconds")
    if secs is None:
        secs = 3600
    if not isinstance(secs, int) or isinstance(secs, bool) or secs < 600 or secs > 1 << 32:
        raise errors.ApiError(422, "Invalid", f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                              f'spec.expirationSeconds: Invalid value: {secs}: may not specify a duration less '
                              f'than 10 minutes or more than 2^32 seconds',
                              {"name": name, "group": "authentication.k8s.io", "kind": "TokenRequest",
                               "causes": [{"reason": "FieldValueInvalid", "field": "spec.expirationSeconds",
                                           "message": f"Invalid value: {secs}: may not specify a duration less than "
                                                      f"10 minutes or more than 2^32 seconds"}]})
    bound = spec.get("boundObjectRef")
    pod_uid = None
    if bound:
        if bound.get("kind") != "Pod":
            raise errors.bad_request(f'cannot bind token to object of kind {bound.get("kind")!r}: the kiln test '
                                     f'cluster binds tokens to pods only')
        pod = cluster.store.get(find("", "v1", "pods"), ns, bound.get("name", ""))
        if bound.get("uid") and bound["uid"] != pod["metadata"]["uid"]:
            raise errors.conflict(find("", "v1", "pods"), bound["name"], "the UID in the bound object reference "
                                  f'({bound["uid"]}) does not match the UID in record')
        pod_uid = pod["metadata"]["uid"]
        bound["uid"] = pod_uid
    token = "kiln-sa-" + secrets.token_hex(20)
    now = datetime.datetime.now(datetime.timezone.utc)
    exp = now + datetime.timedelta(seconds=secs)
    with _lock:
        _expiry[token] = exp.timestamp()
    cluster.tokens[token] = f"system:serviceaccount:{ns}:{name}"
    if pod_uid:
        cluster.kubelet.pod_tokens.setdefault(pod_uid, []).append(token)
    spec.setdefault("audiences", [AUDIENCE])
    spec["expirationSeconds"] = secs
    out = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
           "metadata": {"name": name, "namespace": ns, "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
           "spec": spec, "status": {"token": token, "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    return h.send_json(201, out)


def self_subject_review(h, cluster, req, res):
    if h.command != "POST":
        raise errors.method_not_allowed()
    obj = _body(h, req, res, "SelfSubjectReview", "authentication.k8s.io/v1")
    unknown = sorted(set(obj) - {"kind", "apiVersion", "metadata", "status"})
    if unknown:
        raise errors.bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
    user = req.user
    if user.startswith("system:serviceaccount:"):
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}", "system:authenticated"]
    elif user == "kiln-test-admin":
        groups = ["system:masters", "system:authenticated"]
    else:
        groups = ["system:authenticated"]
    return h.send_json(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                             "metadata": {"creationTimestamp": None},
                             "status": {"userInfo": {"username": user, "groups": groups}}})
