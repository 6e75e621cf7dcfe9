"""Decoding checks against the python3-kubernetes models (field names and JSON
types, as the API server's strict decoder does) plus the semantic validation
(required values, names, selectors) that makes a real server answer 422."""

import inspect
import re
import base64
import binascii

import kubernetes.client.models as models

from .errors import bad_request, invalid

# Fields added to the API after the python3-kubernetes models were generated
# (they came with 1.22); a newer client may send them, a 1.32 server accepts them.
NEWER_FIELDS = {
    "V1PodSpec": {"hostUsers", "schedulingGates", "resourceClaims", "os", "resources"},
    "V1Container": {"resizePolicy", "restartPolicy"},
    "V1DeploymentStatus": {"terminatingReplicas"},
    "V1ReplicaSetStatus": {"terminatingReplicas"},
    "V1PodStatus": {"hostIPs", "podIPs", "resize", "resourceClaimStatuses"},
    "V1ContainerStatus": {"allocatedResources", "resources", "user", "volumeMounts", "stopSignal"},
    "V1JobSpec": {"podReplacementPolicy", "maxFailedIndexes", "backoffLimitPerIndex", "managedBy", "successPolicy"},
    "V1CronJobSpec": {"timeZone"},
    "V1ServiceSpec": {"trafficDistribution"},
    "V1ObjectMeta": set(),
}

# Quantities are strings in the models but the server also takes JSON numbers.
QUANTITY_FIELDS = {("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
                   ("V1EmptyDirVolumeSource", "size_limit"), ("V1PodSpec", "overhead"),
                   ("V1PersistentVolumeClaimStatus", "capacity"), ("V1NodeStatus", "capacity"),
                   ("V1NodeStatus", "allocatable")}

# []byte fields: base64 strings.
BYTES_FIELDS = {("V1Secret", "data"), ("V1ConfigMap", "binary_data")}

_required_cache = {}
_rev_cache = {}


def model_class(name):
    return getattr(models, name, None)


def required_fields(name):
    if name not in _required_cache:
        cls = model_class(name)
        req = set()
        if cls is not None:
            try:
                src = inspect.getsource(cls)
                req = set(re.findall(r"Invalid value for `(\w+)`, must not be `None`", src))
            except OSError:
                pass
        _required_cache[name] = req
    return _required_cache[name]


def json_fields(name):
    """json key -> (python attr, type string)"""
    if name not in _rev_cache:
        cls = model_class(name)
        _rev_cache[name] = {cls.attribute_map[a]: (a, t) for a, t in cls.openapi_types.items()} if cls else {}
    return _rev_cache[name]


def go_type(t):
    if t == "str":
        return "string"
    if t == "int":
        return "int32"
    if t == "bool":
        return "bool"
    if t == "float":
        return "float64"
    if t in ("datetime", "date"):
        return "v1.Time"
    if t.startswith("list["):
        return "[]" + go_type(t[5:-1])
    if t.startswith("dict("):
        return "map[string]" + go_type(t[t.index(",") + 1:-1].strip())
    return "v1." + re.sub(r"^(V1|V2|CoreV1|V1beta1)", "", t)


def json_kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


class Decoded:
    def __init__(self):
        self.unknown = []      # field paths
        self.duplicates = []   # field paths
        self.type_error = None  # first error message
        self.missing = []      # required field paths


def _join(path, key):
    return f"{path}.{key}" if path else key


class _TypeErr(Exception):
    pass


def check(obj, model, out, path="", struct=None, skip_status=True, dups=None):
    """Walk obj as an instance of model (a model class name)."""
    fields = json_fields(model)
    gostruct = re.sub(r"^(V1|V2|CoreV1|V1beta1)", "", model)
    if not isinstance(obj, dict):
        _type_error(out, obj, "v1." + gostruct, struct, path)
        return
    for k, v in obj.items():
        sub = _join(path, k)
        if k not in fields:
            if k in NEWER_FIELDS.get(model, ()):
                continue
            out.unknown.append(sub)
            continue
        if v is None:
            continue
        attr, t = fields[k]
        if skip_status and path == "" and k == "status":
            continue
        check_value(v, t, out, sub, gostruct, (model, attr))
    present = {fields[k][0] for k, v in obj.items() if k in fields and v is not None}
    for attr in sorted(required_fields(model)):
        if attr not in present:
            cls = model_class(model)
            out.missing.append(_join(path, cls.attribute_map[attr]))


def _type_error(out, v, gotype, struct, path):
    if out.type_error is None:
        out.type_error = (f"json: cannot unmarshal {json_kind(v)} into Go struct field "
                          f"{struct or 'Object'}.{path} of type {gotype}")


def check_value(v, t, out, path, struct, field_id):
    if v is None:
        return
    if t == "object":
        return
    if field_id in QUANTITY_FIELDS:
        if t.startswith("dict("):
            if not isinstance(v, dict):
                _type_error(out, v, "v1.ResourceList", struct, path)
                return
            for k, q in v.items():
                if not isinstance(q, (str, int, float)) or isinstance(q, bool):
                    _type_error(out, q, "resource.Quantity", struct, f"{path}.{k}")
            return
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            _type_error(out, v, "resource.Quantity", struct, path)
        return
    if field_id in BYTES_FIELDS:
        if not isinstance(v, dict):
            _type_error(out, v, "map[string][]uint8", struct, path)
            return
        for k, b in v.items():
            if not isinstance(b, str):
                _type_error(out, b, "[]uint8", struct, f"{path}.{k}")
                continue
            try:
                base64.b64decode(b, validate=True)
            except (binascii.Error, ValueError):
                if out.type_error is None:
                    out.type_error = f"illegal base64 data at input byte {_bad_b64_pos(b)}"
        return
    if t == "str":
        if not isinstance(v, str):
            _type_error(out, v, "string", struct, path)
    elif t == "int":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _type_error(out, v, "int32", struct, path)
        elif isinstance(v, float) and not v.is_integer():
            _type_error(out, v, "int32", struct, path)
    elif t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _type_error(out, v, "float64", struct, path)
    elif t == "bool":
        if not isinstance(v, bool):
            _type_error(out, v, "bool", struct, path)
    elif t in ("datetime", "date"):
        if not isinstance(v, str):
            _type_error(out, v, "v1.Time", struct, path)
    elif t.startswith("list["):
        inner = t[5:-1]
        if not isinstance(v, list):
            _type_error(out, v, go_type(t), struct, path)
            return
        for i, item in enumerate(v):
            if item is None:
                continue
            check_value(item, inner, out, f"{path}[{i}]", struct, None)
    elif t.startswith("dict("):
        inner = t[t.index(",") + 1:-1].strip()
        if not isinstance(v, dict):
            _type_error(out, v, go_type(t), struct, path)
            return
        for k, item in v.items():
            if item is None:
                continue
            check_value(item, inner, out, f"{path}.{k}", struct, None)
    else:
        if model_class(t) is None:
            return
        if not isinstance(v, dict):
            _type_error(out, v, go_type(t), struct, path)
            return
        check(v, t, out, path, re.sub(r"^(V1|V2|CoreV1|V1beta1)", "", t), skip_status=False)


def _bad_b64_pos(s):
    for i, c in enumerate(s):
        if not (c.isalnum() or c in "+/="):
            return i
    return len(s)


def decode(res, obj, validation="Warn", patch=False):
    """Returns the list of warnings; raises ApiError like the server's decoder."""
    out = Decoded()
    check(obj, res.model, out)
    if out.type_error:
        raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {out.type_error}')
    problems = [f'unknown field "{p}"' for p in out.unknown] + [f'duplicate field "{p}"' for p in out.duplicates]
    if validation == "Strict" and problems:
        raise bad_request("strict decoding error: " + ", ".join(problems))
    if validation == "Ignore":
        return [], out
    return problems, out


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
           "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _q(v):
    import json
    return json.dumps(v)


def _check_name(causes, field, name, kind):
    if kind == "label":
        if len(name) > 63:
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: must be no more than 63 characters"))
        elif not DNS1123_LABEL.match(name):
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: {LABEL_MSG}"))
    elif kind == "1035":
        if len(name) > 63:
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: must be no more than 63 characters"))
        elif not DNS1035_LABEL.match(name):
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: {DNS1035_MSG}"))
    else:
        if len(name) > 253:
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: must be no more than 253 characters"))
        elif not DNS1123_SUB.match(name):
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(name)}: {SUB_MSG}"))


def _check_labels(causes, field, labels):
    for k, v in (labels or {}).items():
        key = k.split("/", 1)[-1]
        if not QUALIFIED_NAME.match(key) or len(key) > 63 or ("/" in k and not DNS1123_SUB.match(k.split("/", 1)[0])):
            causes.append(("FieldValueInvalid", field, f"Invalid value: {_q(k)}: name part must consist of alphanumeric "
                           "characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
        if isinstance(v, str) and (len(v) > 63 or not LABEL_VALUE.match(v)):
            causes.append(("FieldValueInvalid", f"{field}", f"Invalid value: {_q(v)}: a valid label must be an empty "
                           "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                           "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                           "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))


def _pod_spec(causes, spec, p, allowed_restart=("Always", "OnFailure", "Never")):
    if not isinstance(spec, dict):
        return
    vols = set()
    for i, v in enumerate(spec.get("volumes") or []):
        n = v.get("name", "")
        if n in vols:
            causes.append(("FieldValueDuplicate", f"{p}.volumes[{i}].name", f"Duplicate value: {_q(n)}"))
        elif n:
            _check_name(causes, f"{p}.volumes[{i}].name", n, "label")
        vols.add(n)
    if not spec.get("containers"):
        causes.append(("FieldValueRequired", f"{p}.containers", "Required value"))
    names = set()
    for listname in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(listname) or []):
            cp = f"{p}.{listname}[{i}]"
            n = c.get("name")
            if not n:
                causes.append(("FieldValueRequired", f"{cp}.name", "Required value"))
            elif n in names:
                causes.append(("FieldValueDuplicate", f"{cp}.name", f"Duplicate value: {_q(n)}"))
            else:
                _check_name(causes, f"{cp}.name", n, "label")
            names.add(n)
            if not c.get("image"):
                causes.append(("FieldValueRequired", f"{cp}.image", "Required value"))
            for j, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") and m["name"] not in vols:
                    causes.append(("FieldValueNotFound", f"{cp}.volumeMounts[{j}].name", f"Not found: {_q(m['name'])}"))
                if not m.get("mountPath"):
                    causes.append(("FieldValueRequired", f"{cp}.volumeMounts[{j}].mountPath", "Required value"))
            for j, port in enumerate(c.get("ports") or []):
                cport = port.get("containerPort")
                if isinstance(cport, int) and not 0 < cport < 65536:
                    causes.append(("FieldValueInvalid", f"{cp}.ports[{j}].containerPort",
                                   f"Invalid value: {cport}: must be between 1 and 65535, inclusive"))
            for j, e in enumerate(c.get("env") or []):
                if not e.get("name"):
                    causes.append(("FieldValueRequired", f"{cp}.env[{j}].name", "Required value"))
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in allowed_restart:
        causes.append(("FieldValueNotSupported", f"{p}.restartPolicy", f"Unsupported value: {_q(rp)}: supported values: "
                       + ", ".join(_q(a) for a in allowed_restart)))
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and ads <= 0:
        causes.append(("FieldValueInvalid", f"{p}.activeDeadlineSeconds",
                       f"Invalid value: {ads}: must be between 1 and 2147483647, inclusive"))


def _selector_matches(sel, labels):
    from .labelsel import label_selector_from_object
    return label_selector_from_object(sel)(labels or {})


def _workload(causes, obj, restart=("Always",), selector_required=True):
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return
    tmpl = spec.get("template") or {}
    if selector_required:
        sel = spec.get("selector")
        if not sel:
            causes.append(("FieldValueRequired", "spec.selector", "Required value"))
        else:
            labels = (tmpl.get("metadata") or {}).get("labels") or {}
            if not sel.get("matchLabels") and not sel.get("matchExpressions"):
                causes.append(("FieldValueInvalid", "spec.selector", "Invalid value: \"null\": empty selector is invalid for deployment"))
            elif not _selector_matches(sel, labels):
                lab = ", ".join(f'"{k}":"{v}"' for k, v in labels.items())
                causes.append(("FieldValueInvalid", "spec.template.metadata.labels",
                               f"Invalid value: map[string]string{{{lab}}}: `selector` does not match template `labels`"))
    r = spec.get("replicas")
    if isinstance(r, int) and r < 0:
        causes.append(("FieldValueInvalid", "spec.replicas", f"Invalid value: {r}: must be greater than or equal to 0"))
    _check_labels(causes, "spec.template.metadata.labels", (tmpl.get("metadata") or {}).get("labels"))
    _pod_spec(causes, tmpl.get("spec") or {}, "spec.template.spec", restart)


def validate(res, obj, out):
    """Semantic validation; raises 422 Invalid with causes."""
    causes = []
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        causes.append(("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"))
    elif name:
        _check_name(causes, "metadata.name", name,
                    {"Namespace": "label", "Service": "1035"}.get(res.kind, "sub"))
    _check_labels(causes, "metadata.labels", meta.get("labels"))
    ann = meta.get("annotations") or {}
    if isinstance(ann, dict):
        size = sum(len(k) + len(v) for k, v in ann.items() if isinstance(v, str))
        if size > 262144:
            causes.append(("FieldValueTooLong", "metadata.annotations", "Too long: must have at most 262144 bytes"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                causes.append(("FieldValueRequired" if f != "uid" else "FieldValueInvalid",
                               f"metadata.ownerReferences.{f}", "Required value" if f != "uid" else 'Invalid value: "": uid must not be empty'))
    k = res.kind
    if k == "Pod":
        _pod_spec(causes, obj.get("spec") or {}, "spec")
    elif k in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"):
        _workload(causes, obj)
    elif k == "Job":
        _workload(causes, obj, restart=("OnFailure", "Never"), selector_required=False)
        spec = obj.get("spec") or {}
        if (spec.get("template") or {}).get("spec", {}).get("restartPolicy") is None:
            causes.append(("FieldValueRequired", "spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"'))
    elif k == "CronJob":
        spec = obj.get("spec") or {}
        if not spec.get("schedule"):
            causes.append(("FieldValueRequired", "spec.schedule", "Required value"))
        jt = (spec.get("jobTemplate") or {}).get("spec") or {}
        _pod_spec(causes, (jt.get("template") or {}).get("spec") or {}, "spec.jobTemplate.spec.template.spec",
                  ("OnFailure", "Never"))
    elif k == "Service":
        spec = obj.get("spec") or {}
        t = spec.get("type", "ClusterIP")
        if t not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(("FieldValueNotSupported", "spec.type", f'Unsupported value: {_q(t)}: supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'))
        if not spec.get("ports") and t != "ExternalName" and spec.get("clusterIP") != "None":
            causes.append(("FieldValueRequired", "spec.ports", "Required value"))
        for i, p in enumerate(spec.get("ports") or []):
            port = p.get("port")
            if isinstance(port, int) and not 0 < port < 65536:
                causes.append(("FieldValueInvalid", f"spec.ports[{i}].port", f"Invalid value: {port}: must be between 1 and 65535, inclusive"))
            if len(spec.get("ports")) > 1 and not p.get("name"):
                causes.append(("FieldValueRequired", f"spec.ports[{i}].name", "Required value"))
    elif k == "Secret":
        for key in list((obj.get("data") or {}).keys()) + list((obj.get("stringData") or {}).keys()):
            if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                causes.append(("FieldValueInvalid", f"data[{key}]", f"Invalid value: {_q(key)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
    # Required fields of nested models (top-level status excluded) the checks above did not name.
    seen = {c[1] for c in causes}
    for path in out.missing:
        if path not in seen and not path.startswith("status"):
            causes.append(("FieldValueRequired", path, "Required value"))
    if causes:
        raise invalid(res, name or meta.get("generateName", ""), causes)
