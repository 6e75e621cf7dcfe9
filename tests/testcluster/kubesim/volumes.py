"""Pod volumes as real host directories bind-mounted into containers, and the
container environment (env, envFrom, downward API fields)."""

import base64
import os
import re
import shutil

from .resources import find

SECRETS, CONFIGMAPS = find("", "v1", "secrets"), find("", "v1", "configmaps")


class NotReady(Exception):
    """A referenced object is missing: the kubelet retries (like FailedMount)."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def _write_items(d, data, items, mode, what, name):
    if items:
        for it in items:
            if it["key"] not in data:
                raise NotReady("FailedMount", f'couldn\'t find key {it["key"]} in {what} {name}')
            _write(d, it["path"], data[it["key"]], it.get("mode", mode))
    else:
        for k, v in data.items():
            _write(d, k, v, mode)


def _write(d, rel, content, mode):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(content)
    os.chmod(p, mode if mode is not None else 0o644)


def _secret_data(store, ns, name, optional):
    o = store.try_get(SECRETS, ns, name)
    if o is None:
        if optional:
            return {}
        raise NotReady("FailedMount", f'secret "{name}" not found')
    return {k: base64.b64decode(v) for k, v in (o.get("data") or {}).items()}


def _cm_data(store, ns, name, optional):
    o = store.try_get(CONFIGMAPS, ns, name)
    if o is None:
        if optional:
            return {}
        raise NotReady("FailedMount", f'configmap "{name}" not found')
    out = {k: v.encode() for k, v in (o.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (o.get("binaryData") or {}).items()})
    return out


def prepare(store, pod, root, pvc_root, issue_token=None):
    """Creates each volume's host directory; returns {volume name: (host path, read only)}."""
    ns = pod["metadata"]["namespace"]
    out = {}
    for v in pod["spec"].get("volumes") or []:
        name = v["name"]
        d = os.path.join(root, "volumes", name)
        if "emptyDir" in v:
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)
            out[name] = (d, False)
        elif "secret" in v:
            s = v["secret"]
            data = _secret_data(store, ns, s.get("secretName", ""), s.get("optional"))
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            _write_items(d, data, s.get("items"), s.get("defaultMode", 0o644), "Secret", s.get("secretName"))
            out[name] = (d, True)
        elif "configMap" in v:
            c = v["configMap"]
            data = _cm_data(store, ns, c.get("name", ""), c.get("optional"))
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            _write_items(d, data, c.get("items"), c.get("defaultMode", 0o644), "ConfigMap", c.get("name"))
            out[name] = (d, True)
        elif "projected" in v:
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            mode = v["projected"].get("defaultMode", 0o644)
            for src in v["projected"].get("sources") or []:
                if "secret" in src:
                    s = src["secret"]
                    _write_items(d, _secret_data(store, ns, s.get("name", ""), s.get("optional")), s.get("items"), mode, "Secret", s.get("name"))
                elif "configMap" in src:
                    c = src["configMap"]
                    _write_items(d, _cm_data(store, ns, c.get("name", ""), c.get("optional")), c.get("items"), mode, "ConfigMap", c.get("name"))
                elif "downwardAPI" in src:
                    _downward(d, pod, src["downwardAPI"].get("items") or [], mode)
                elif "serviceAccountToken" in src:
                    tok = issue_token(pod) if issue_token else "kiln-testcluster-unusable-token"
                    _write(d, src["serviceAccountToken"].get("path", "token"), tok.encode(), mode)
            out[name] = (d, True)
        elif "downwardAPI" in v:
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            _downward(d, pod, v["downwardAPI"].get("items") or [], v["downwardAPI"].get("defaultMode", 0o644))
            out[name] = (d, True)
        elif "persistentVolumeClaim" in v:
            claim = v["persistentVolumeClaim"]["claimName"]
            if store.try_get(find("", "v1", "persistentvolumeclaims"), ns, claim) is None:
                raise NotReady("FailedScheduling", f'persistentvolumeclaim "{claim}" not found')
            d = os.path.join(pvc_root, ns, claim)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o777)
            out[name] = (d, bool(v["persistentVolumeClaim"].get("readOnly")))
        elif "hostPath" in v:
            hp = v["hostPath"]
            if hp.get("type") in ("DirectoryOrCreate",):
                os.makedirs(hp["path"], exist_ok=True)
            out[name] = (hp["path"], False)
        else:
            kinds = [k for k in v if k != "name"]
            raise NotReady("FailedMount", f"volume type {kinds} is not emulated by the kiln test cluster")
    return out


def _downward(d, pod, items, mode):
    for it in items:
        val = field_value(pod, (it.get("fieldRef") or {}).get("fieldPath", ""))
        _write(d, it["path"], (val or "").encode(), it.get("mode", mode))


def field_value(pod, path):
    m = pod["metadata"]
    if path == "metadata.name":
        return m["name"]
    if path == "metadata.namespace":
        return m["namespace"]
    if path == "metadata.uid":
        return m["uid"]
    if path in ("metadata.labels", "metadata.annotations"):
        d = m.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(d.items()))
    mm = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
    if mm:
        return (m.get(mm.group(1)) or {}).get(mm.group(2), "")
    if path == "spec.nodeName":
        return pod["spec"].get("nodeName", "")
    if path == "spec.serviceAccountName":
        return pod["spec"].get("serviceAccountName", "")
    if path == "status.podIP":
        return (pod.get("status") or {}).get("podIP", "")
    if path == "status.hostIP":
        return "127.0.0.1"
    return ""


def container_env(store, pod, c):
    ns = pod["metadata"]["namespace"]
    # The API server is reachable inside every pod at 127.0.0.1:443 (the kubelet
    # forwards it), since pods here have no route to a cluster IP.
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
           "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://127.0.0.1:443",
           "KUBERNETES_PORT_443_TCP": "tcp://127.0.0.1:443", "KUBERNETES_PORT_443_TCP_ADDR": "127.0.0.1",
           "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp"}
    for ef in c.get("envFrom") or []:
        pre = ef.get("prefix", "")
        if "configMapRef" in ef:
            r = ef["configMapRef"]
            for k, v in _cm_data(store, ns, r["name"], r.get("optional")).items():
                env[pre + k] = v.decode(errors="replace")
        if "secretRef" in ef:
            r = ef["secretRef"]
            for k, v in _secret_data(store, ns, r["name"], r.get("optional")).items():
                env[pre + k] = v.decode(errors="replace")
    for e in c.get("env") or []:
        name = e["name"]
        if "valueFrom" in e and e["valueFrom"]:
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[name] = field_value(pod, vf["fieldRef"].get("fieldPath", ""))
            elif "secretKeyRef" in vf:
                r = vf["secretKeyRef"]
                data = _secret_data(store, ns, r["name"], r.get("optional"))
                if r["key"] not in data:
                    if r.get("optional"):
                        continue
                    raise NotReady("CreateContainerConfigError", f"couldn't find key {r['key']} in Secret {ns}/{r['name']}")
                env[name] = data[r["key"]].decode(errors="replace")
            elif "configMapKeyRef" in vf:
                r = vf["configMapKeyRef"]
                data = _cm_data(store, ns, r["name"], r.get("optional"))
                if r["key"] not in data:
                    if r.get("optional"):
                        continue
                    raise NotReady("CreateContainerConfigError", f"couldn't find key {r['key']} in ConfigMap {ns}/{r['name']}")
                env[name] = data[r["key"]].decode(errors="replace")
            elif "resourceFieldRef" in vf:
                r = vf["resourceFieldRef"]
                kind, res = r.get("resource", "").split(".", 1)
                env[name] = str(((c.get("resources") or {}).get(kind) or {}).get(res, "0"))
        else:
            env[name] = expand(e.get("value", ""), env)
    return env


def expand(s, env):
    def rep(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: ("$(" + m.group(1) + ")") if m.group(1) else env.get(m.group(2), m.group(0)), s)


def parse_quantity(q):
    if q is None:
        return None
    if isinstance(q, (int, float)):
        return int(q)
    m = re.match(r"^([0-9.]+)([a-zA-Z]*)$", str(q).strip())
    if not m:
        return None
    n, suf = float(m.group(1)), m.group(2)
    mult = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
            "Ti": 2**40, "m": 0.001}.get(suf)
    if mult is None:
        return None
    return int(n * mult)
