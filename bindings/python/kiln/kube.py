"""Kubernetes client (the kubernetes section of kiln.h).

    from kiln.kube import Kube
    with Kube() as k:                     # $KUBECONFIG / ~/.kube/config / in-cluster
        k.apply({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "demo"}, "data": {"a": "b"}})
        k.get("v1", "ConfigMap", "demo")["data"]
        r = k.exec("my-pod", ["sh", "-c", "tar -xf - -C /work"], stdin=tar_bytes)
        r.exit_code, r.stdout, r.stderr
        k.delete("v1", "ConfigMap", "demo", ignore_not_found=True)

Options are the JSON options of kiln.h as keyword arguments in snake_case
(namespace="builds", field_validation="Strict", max_retries=4). Errors raise
kiln.KilnError; its remote_code is the Kubernetes Status reason ("NotFound").
"""
import ctypes
import json
from collections import namedtuple

from ._lib import Handle, ErrorPtr, call, declare, lib, take_json

_c = ctypes.c_char_p
_p = ctypes.c_void_p
_out = ctypes.POINTER(ctypes.c_void_p)
_err = ctypes.POINTER(ErrorPtr)
_size = ctypes.POINTER(ctypes.c_size_t)

declare("kiln_kube_open", [_c, _c, _c, _out, _err])
declare("kiln_kube_free", [_p], None)
declare("kiln_kube_namespace", [_p], ctypes.c_char_p)
declare("kiln_kube_get", [_p, _c, _c, _c, _c, _p, _out, _err])
declare("kiln_kube_apply", [_p, _c, _c, _p, _out, _err])
declare("kiln_kube_delete", [_p, _c, _c, _c, _c, _c, _p, _err])
declare("kiln_kube_exec", [_p, _c, _c, _c, ctypes.POINTER(_c), ctypes.c_size_t, _p, ctypes.c_size_t, _p,
                           ctypes.POINTER(ctypes.c_int), _out, _size, _out, _size, _err])

ExecResult = namedtuple("ExecResult", "exit_code stdout stderr")


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _enc(text):
    return None if text is None else text.encode()


def _cancel_handle(cancel):
    return None if cancel is None else cancel.handle


def _take_bytes(ptr, size):
    if not ptr:
        return b""
    try:
        return ctypes.string_at(ptr, size)
    finally:
        lib.kiln_free(ptr)


class Kube(Handle):
    """A Kubernetes API client. `kubeconfig` None: $KUBECONFIG, ~/.kube/config,
    else the pod's service account; `context` None: the current context.
    Methods take an optional `namespace` (default: the client's) and an
    optional kiln.Cancel. Use as a context manager or call close()."""

    _free = lib.kiln_kube_free
    _what = "Kubernetes client"

    def __init__(self, kubeconfig=None, context=None, **options):
        handle = ctypes.c_void_p()
        opts = json.dumps({_camel(k): v for k, v in options.items() if v is not None}).encode()
        call(lib.kiln_kube_open, _enc(kubeconfig), _enc(context), opts, ctypes.byref(handle))
        self._handle = handle

    @property
    def namespace(self):
        return lib.kiln_kube_namespace(self._handle).decode()

    def get(self, api_version, kind, name, namespace=None, cancel=None):
        """The object as a dict; KilnError(not_found) when absent."""
        out = ctypes.c_void_p()
        call(lib.kiln_kube_get, self._handle, api_version.encode(), kind.encode(), _enc(namespace), name.encode(),
             _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def apply(self, obj, namespace=None, cancel=None):
        """Server-side apply (field manager "kiln", forced); returns the stored object."""
        out = ctypes.c_void_p()
        call(lib.kiln_kube_apply, self._handle, json.dumps(obj).encode(), _enc(namespace), _cancel_handle(cancel),
             ctypes.byref(out))
        return take_json(out.value)

    def delete(self, api_version, kind, name, namespace=None, propagation_policy=None, grace_period_seconds=None,
               ignore_not_found=False, cancel=None):
        options = {"ignoreNotFound": bool(ignore_not_found)}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = int(grace_period_seconds)
        call(lib.kiln_kube_delete, self._handle, api_version.encode(), kind.encode(), _enc(namespace), name.encode(),
             json.dumps(options).encode(), _cancel_handle(cancel))

    def exec(self, pod, argv, stdin=None, container=None, namespace=None, cancel=None):
        """Runs argv (a list, no shell) in the pod; stdin (bytes) is sent and
        closed. Returns ExecResult(exit_code, stdout bytes, stderr bytes)."""
        if isinstance(argv, (str, bytes)) or not argv:
            raise TypeError("argv must be a non-empty list of strings")
        c_argv = (ctypes.c_char_p * len(argv))(*[a.encode() for a in argv])
        data = bytes(stdin) if stdin is not None else None
        buffer = ctypes.create_string_buffer(data, len(data)) if data else None
        code = ctypes.c_int()
        out, err_out = ctypes.c_void_p(), ctypes.c_void_p()
        out_size, err_size = ctypes.c_size_t(), ctypes.c_size_t()
        call(lib.kiln_kube_exec, self._handle, _enc(namespace), pod.encode(), _enc(container), c_argv, len(argv),
             ctypes.cast(buffer, ctypes.c_void_p) if buffer is not None else None, len(data) if data else 0,
             _cancel_handle(cancel), ctypes.byref(code), ctypes.byref(out), ctypes.byref(out_size),
             ctypes.byref(err_out), ctypes.byref(err_size))
        return ExecResult(code.value, _take_bytes(out.value, out_size.value), _take_bytes(err_out.value, err_size.value))

