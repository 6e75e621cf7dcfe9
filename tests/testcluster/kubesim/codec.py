"""Request body decoding that keeps duplicate keys visible to the validator."""

import json

import yaml

from .errors import bad_request


class DupDict(dict):
    dups = ()


def _pairs(pairs):
    d = DupDict()
    dups = []
    for k, v in pairs:
        if k in d:
            dups.append(k)
        d[k] = v
    if dups:
        d.dups = dups
    return d


def loads_json(body):
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_pairs)
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"error decoding body: {e}")


class _DupLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    pairs = [(loader.construct_object(k, deep=True), loader.construct_object(v, deep=True)) for k, v in node.value]
    return _pairs(pairs)


_DupLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def loads_yaml(body):
    try:
        obj = yaml.load(body.decode("utf-8"), Loader=_DupLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise bad_request(f"error decoding YAML: {e}")
    return _normalize(obj)


def _normalize(o):
    # YAML timestamps and the like become strings as in the server's JSON round trip.
    if isinstance(o, dict):
        d = DupDict((str(k), _normalize(v)) for k, v in o.items())
        d.dups = getattr(o, "dups", ())
        return d
    if isinstance(o, list):
        return [_normalize(x) for x in o]
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return o


def duplicate_paths(o, path=""):
    out = []
    if isinstance(o, dict):
        for k in getattr(o, "dups", ()):
            out.append(f"{path}.{k}" if path else k)
        for k, v in o.items():
            out += duplicate_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            out += duplicate_paths(v, f"{path}[{i}]")
    return out


def plain(o):
    if isinstance(o, dict):
        return {k: plain(v) for k, v in o.items()}
    if isinstance(o, list):
        return [plain(v) for v in o]
    return o
