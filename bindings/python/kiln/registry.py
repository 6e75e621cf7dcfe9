"""Registries and OCI layouts (the registry section of kiln.h).

    from kiln.registry import Registry, copy
    reg = Registry("127.0.0.1:5000", insecure_registries=["127.0.0.1:5000"])
    reg.tags("team/app")
    copy("oci:/tmp/layout:1", "127.0.0.1:5000/team/app:1", on_event=print)

Options are the JSON options of kiln.h, given as keyword arguments in
snake_case (ca_file="...", docker_config_json="...", parallel_blobs=4).
"""
import ctypes
import json

from ._lib import Handle, ErrorPtr, EVENT_CB, call, declare, event_callback, lib, take_json, take_string

_c = ctypes.c_char_p
_p = ctypes.c_void_p
_out = ctypes.POINTER(ctypes.c_void_p)
_err = ctypes.POINTER(ErrorPtr)

declare("kiln_registry_open", [_c, _c, _out, _err])
declare("kiln_registry_free", [_p], None)
declare("kiln_registry_resolve", [_p, _c, _c, _p, _out, _err])
declare("kiln_registry_tags", [_p, _c, _p, _out, _err])
declare("kiln_registry_catalog", [_p, _p, _out, _err])
declare("kiln_registry_delete", [_p, _c, _c, _p, _out, _err])
declare("kiln_registry_push_blob_file", [_p, _c, _c, _c, _c, ctypes.c_int64, _p, _out, _err])
declare("kiln_registry_put_manifest", [_p, _c, _c, _c, _c, ctypes.c_size_t, _p, _out, _err])
declare("kiln_registry_get_manifest",
        [_p, _c, _c, _p, _out, ctypes.POINTER(ctypes.c_size_t), _out, _err])
declare("kiln_registry_inspect", [_p, _c, _c, _p, _out, _err])
declare("kiln_registry_copy", [_c, _c, _c, EVENT_CB, _p, _p, _out, _err])


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _options(options):
    return json.dumps({_camel(k): v for k, v in options.items() if v is not None}).encode()


def _enc(text):
    return None if text is None else text.encode()


def _cancel_handle(cancel):
    return None if cancel is None else cancel.handle


class Registry(Handle):
    """A registry host ("127.0.0.1:5000") or an OCI layout ("oci:<dir>").

    Methods raise kiln.KilnError; `cancel` is an optional kiln.Cancel.
    Use as a context manager or call close()."""

    _free = lib.kiln_registry_free
    _what = "registry"

    def __init__(self, location, **options):
        handle = ctypes.c_void_p()
        call(lib.kiln_registry_open, _enc(location), _options(options), ctypes.byref(handle))
        self._handle = handle


    def resolve(self, repository, reference, cancel=None):
        """The manifest's descriptor as a dict; KilnError(not_found) if absent."""
        out = ctypes.c_void_p()
        call(lib.kiln_registry_resolve, self._h(), _enc(repository), _enc(reference),
             _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def tags(self, repository, cancel=None):
        out = ctypes.c_void_p()
        call(lib.kiln_registry_tags, self._h(), _enc(repository), _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def catalog(self, cancel=None):
        out = ctypes.c_void_p()
        call(lib.kiln_registry_catalog, self._h(), _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def delete(self, repository, reference, cancel=None):
        """Deletes by digest (a tag is resolved first); returns the digest."""
        out = ctypes.c_void_p()
        call(lib.kiln_registry_delete, self._h(), _enc(repository), _enc(reference),
             _cancel_handle(cancel), ctypes.byref(out))
        return take_string(out.value)

    def push_blob_file(self, repository, path, media_type=None, digest=None, size=-1, cancel=None):
        """Uploads a file as a blob; returns its descriptor dict."""
        out = ctypes.c_void_p()
        call(lib.kiln_registry_push_blob_file, self._h(), _enc(repository), _enc(str(path)),
             _enc(media_type), _enc(digest), size, _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def put_manifest(self, repository, reference, data, media_type, cancel=None):
        """Stores manifest bytes exactly as given; returns their digest."""
        if isinstance(data, str):
            data = data.encode()
        out = ctypes.c_void_p()
        call(lib.kiln_registry_put_manifest, self._h(), _enc(repository), _enc(reference),
             _enc(media_type), data, len(data), _cancel_handle(cancel), ctypes.byref(out))
        return take_string(out.value)

    def get_manifest(self, repository, reference, cancel=None):
        """Returns (bytes, media_type) exactly as stored."""
        data = ctypes.c_void_p()
        size = ctypes.c_size_t()
        media_type = ctypes.c_void_p()
        call(lib.kiln_registry_get_manifest, self._h(), _enc(repository), _enc(reference),
             _cancel_handle(cancel), ctypes.byref(data), ctypes.byref(size), ctypes.byref(media_type))
        try:
            raw = ctypes.string_at(data.value, size.value)
        finally:
            lib.kiln_free(data.value)
        return raw, take_string(media_type.value)

    def inspect(self, repository, reference, cancel=None):
        out = ctypes.c_void_p()
        call(lib.kiln_registry_inspect, self._h(), _enc(repository), _enc(reference),
             _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)


def copy(source, destination, on_event=None, cancel=None, **options):
    """Publishes an image or index from `source` to `destination`
    ("oci:<dir>[:<tag>]" or "host/repo:tag"). on_event(type, dict) is called
    from kiln's worker threads, one call at a time; returning False cancels.
    Returns the result dict (digest, blobsCopied, ...)."""
    callback = event_callback(on_event)
    out = ctypes.c_void_p()
    call(lib.kiln_registry_copy, _enc(source), _enc(destination), _options(options), callback, None,
         _cancel_handle(cancel), ctypes.byref(out))
    return take_json(out.value)
