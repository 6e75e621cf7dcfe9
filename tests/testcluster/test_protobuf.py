"""The protobuf reader of the test cluster (kubesim/protobuf.py) on hand-built
bytes: what it decodes, and the clear errors for broken or unknown input."""

import base64
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubesim import protobuf  # noqa: E402
from kubesim.protobuf import ProtoError, Unsupported  # noqa: E402


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, value):
    """A field: int -> varint (wire type 0), bytes/str -> length-delimited."""
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def entry(k, v):
    return field(1, k) + field(2, v)


def envelope(api_version, kind, raw):
    return protobuf.MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, raw) + field(3, "") + field(4, "")


def meta(name, labels=None, **extra):
    b = field(1, name) + field(2, "") + field(3, "") + field(7, 0) + field(8, b"")
    for k, v in (labels or {}).items():
        b += field(11, entry(k, v))
    return b


def test_secret_with_bytes_map_and_zero_values_dropped():
    raw = field(1, meta("s", {"a": "b"})) + field(2, entry("k", b"\x00\xffbin")) + field(3, "Opaque")
    obj = protobuf.decode_object(envelope("v1", "Secret", raw), "v1", "Secret")
    assert obj == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": {"a": "b"}},
                   "data": {"k": base64.b64encode(b"\x00\xffbin").decode()}, "type": "Opaque"}


def test_deployment_pointer_zero_kept_and_nested_messages():
    container = (field(1, "main") + field(2, "img:1") + field(3, "sleep") + field(3, "9") +
                 field(6, field(3, 8080) + field(4, "TCP")) + field(8, b"") + field(16, 0))
    template = field(1, meta("", {"app": "x"})) + field(2, field(2, container) + field(3, "Always"))
    rolling = field(1, field(1, 1) + field(3, "25%")) + field(2, field(1, 0) + field(2, 2))
    spec = (field(1, 0) + field(2, field(1, entry("app", "x"))) + field(3, template) +
            field(4, field(1, "RollingUpdate") + field(2, rolling)) + field(7, 0))
    status = field(1, 0) + field(2, 0)   # always written by Go, all zero
    obj = protobuf.decode_object(envelope("apps/v1", "Deployment", field(1, meta("d")) + field(2, spec) + field(3, status)),
                                 "apps/v1", "Deployment")
    assert obj["spec"]["replicas"] == 0          # a pointer: an explicit 0 stays
    assert "paused" not in obj["spec"] and "status" not in obj
    assert obj["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 2}}
    c = obj["spec"]["template"]["spec"]["containers"][0]
    assert c == {"name": "main", "image": "img:1", "command": ["sleep", "9"],
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}]}


def test_negative_int_and_time():
    # int64 -1 is ten varint bytes; a Time becomes RFC 3339
    raw = field(1, field(1, "j") + field(9, field(1, 1700000000))) + field(2, field(3, -1))
    obj = protobuf.decode_object(envelope("batch/v1", "Job", raw), "batch/v1", "Job")
    assert obj["spec"]["activeDeadlineSeconds"] == -1
    assert obj["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"


def test_unknown_field_names_message_and_number():
    raw = field(1, meta("d")) + field(2, field(1, 2) + field(99, 5))
    with pytest.raises(ProtoError) as e:
        protobuf.decode_object(envelope("apps/v1", "Deployment", raw), "apps/v1", "Deployment")
    assert "unknown field number 99" in str(e.value) and "apps.v1.DeploymentSpec" in str(e.value)


def test_known_field_without_a_table_is_unsupported_not_unknown():
    # PodSpec.affinity (18) is a real field whose message has no table here: 415, naming it
    raw = field(1, meta("d")) + field(2, field(3, field(2, field(18, b""))))
    with pytest.raises(Unsupported, match="spec.template.spec.affinity: protobuf message core.v1.Affinity"):
        protobuf.decode_object(envelope("apps/v1", "Deployment", raw), "apps/v1", "Deployment")


def test_unknown_field_in_envelope():
    with pytest.raises(ProtoError, match="unknown field number 7 .* runtime.Unknown"):
        protobuf.decode_object(protobuf.MAGIC + field(7, 1), "v1", "Secret")


def test_truncated_varint():
    with pytest.raises(ProtoError, match="truncated varint"):
        protobuf.decode_message("Secret", b"\x08\xff\xff")
    with pytest.raises(ProtoError, match="truncated varint"):
        protobuf.decode_object(protobuf.MAGIC + b"\x0a", "v1", "Secret")


def test_overlong_varint():
    with pytest.raises(ProtoError, match="longer than 10 bytes|overflows"):
        protobuf.read_varint(b"\xff" * 11 + b"\x01", 0)


def test_length_beyond_the_end():
    # field 1 (metadata) says 1000 bytes follow, 3 do
    with pytest.raises(ProtoError, match="declares length 1000 but only 3 bytes remain"):
        protobuf.decode_message("Secret", varint(1 << 3 | 2) + varint(1000) + b"abc")
    # a huge declared length is refused without allocating it
    with pytest.raises(ProtoError, match="declares length"):
        protobuf.decode_message("Secret", varint(1 << 3 | 2) + varint(1 << 62))


def test_wrong_wire_type_and_groups():
    with pytest.raises(ProtoError, match="wire type 0, expected 2"):
        protobuf.decode_message("Secret", field(3, 5))     # type is a string
    with pytest.raises(ProtoError, match="unsupported wire type 3"):
        protobuf.decode_message("Secret", varint(3 << 3 | 3))


def test_bad_magic_unknown_kind_and_bad_utf8():
    with pytest.raises(ProtoError, match="does not appear to be a protobuf message"):
        protobuf.decode_object(b'{"kind":"Secret"}', "v1", "Secret")
    with pytest.raises(Unsupported, match="v1/Pod"):
        protobuf.decode_object(envelope("v1", "Pod", b""), "v1", "Pod")
    with pytest.raises(ProtoError, match="not valid UTF-8"):
        protobuf.decode_message("Secret", field(3, b"\xff\xfe"))


def test_garbage_never_hangs_or_crashes():
    """Random bytes, alone and inside a well-formed envelope and Deployment:
    either a decoded object or one of the two clear errors, never anything else."""
    import random
    rnd = random.Random(7)
    good = field(1, meta("d")) + field(2, field(1, 2) + field(3, field(2, field(2, field(1, "c") + field(2, "i")))))
    for i in range(3000):
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64)))
        if i % 2:
            cut = rnd.randrange(len(good))
            blob = envelope("apps/v1", "Deployment", good[:cut] + junk + good[cut:])
        else:
            blob = protobuf.MAGIC + junk
        try:
            protobuf.decode_object(blob, "apps/v1", "Deployment")
        except (ProtoError, Unsupported):
            pass


# Against the running test cluster: the HTTP answers to protobuf bodies.
PB = "application/vnd.kubernetes.protobuf"


def test_server_rejects_bad_protobuf_bodies(cluster, ns):
    path = f"/api/v1/namespaces/{ns}/secrets"
    raw = field(1, meta("s")) + field(42, "x")
    st, _, body = cluster.request("POST", path, envelope("v1", "Secret", raw), ctype=PB)
    assert st == 400 and body["reason"] == "BadRequest", body
    assert "unknown field number 42" in body["message"] and "core.v1.Secret" in body["message"]
    st, _, body = cluster.request("POST", path, protobuf.MAGIC + b"\x0a\xff", ctype=PB)
    assert st == 400 and 'Secret in version "v1" cannot be handled as a Secret' in body["message"], body
    st, _, body = cluster.request("POST", f"/api/v1/namespaces/{ns}/pods", envelope("v1", "Pod", b""), ctype=PB)
    assert st == 415 and body["reason"] == "UnsupportedMediaType" and "v1/Pod" in body["message"], body
    # a kind that does not match the URL is the usual 400
    st, _, body = cluster.request("POST", path, envelope("v1", "ConfigMap", field(1, meta("c"))), ctype=PB)
    assert st == 400 and "does not match the expected kind" in body["message"], body


def test_server_accepts_protobuf_answers_json(cluster, ns):
    path = f"/api/v1/namespaces/{ns}/configmaps"
    raw = field(1, meta("c", {"l": "v"})) + field(2, entry("k", "v"))
    st, headers, body = cluster.request("POST", path, envelope("v1", "ConfigMap", raw), ctype=PB,
                                        headers={"Accept": f"{PB}, application/json"})
    assert st == 201 and headers["Content-Type"] == "application/json", body
    assert body["data"] == {"k": "v"} and body["metadata"]["labels"] == {"l": "v"}
    # a client that takes nothing but protobuf gets a 406 rather than JSON it did not ask for
    st, _, body = cluster.request("GET", f"{path}/c", headers={"Accept": PB})
    assert st == 406 and body["reason"] == "NotAcceptable", body
