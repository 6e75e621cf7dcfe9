"""Kubernetes client (the kubernetes section of kiln.h).

    from kiln.kube import Kube
    with Kube() as k:                     # $KUBECONFIG / ~/.kube/config / in-cluster
        k.apply({"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "demo"}, "data": {"a": "b"}})
        k.get("v1", "ConfigMap", "demo")["data"]
        r = k.exec("my-pod", ["sh", "-c", "tar -xf - -C /work"], stdin=tar_bytes)
        r.exit_code, r.stdout, r.stderr
        with open("big.tar", "rb") as f:          # any size: streamed both ways
            code = k.exec_stream("my-pod", ["tar", "-xf", "-"], stdin=f, stdout=sys.stdout.buffer)
        for page in k.list_pages("v1", "ConfigMap", limit=100): ...
        for event in k.watch("v1", "Pod", label_selector="app=web"):
            event.type, event.object            # ADDED / MODIFIED / DELETED / BOOKMARK
        for line in k.logs("my-pod", follow=True):
            line.line, line.container, line.restart
        k.wait_pod("my-pod", "condition=Ready", timeout=60)
        k.delete("v1", "ConfigMap", "demo", ignore_not_found=True)

watch() and logs() are iterators: kiln delivers each item to a callback on
a worker thread of the binding, and the iterator hands it over. Leaving the
loop (break, an exception, close() of the generator) stops the call cleanly;
kiln.Cancel works too.

Options are the JSON options of kiln.h as keyword arguments in snake_case
(namespace="builds", field_validation="Strict", max_retries=4). Errors raise
kiln.KilnError; its remote_code is the Kubernetes Status reason ("NotFound").
"""
import ctypes
import json
import queue
import threading
from collections import namedtuple

from ._lib import EVENT_CB, Cancel, ErrorPtr, Handle, call, declare, lib, take_json

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
declare("kiln_kube_list", [_p, _c, _c, _c, _c, _p, _out, _err])
declare("kiln_kube_create", [_p, _c, _c, _p, _out, _err])
declare("kiln_kube_replace", [_p, _c, _c, _p, _out, _err])
declare("kiln_kube_patch", [_p, _c, _c, _c, _c, _c, _p, _out, _err])
declare("kiln_kube_watch", [_p, _c, _c, _c, _c, EVENT_CB, _p, _p, _out, _err])
declare("kiln_kube_logs", [_p, _c, _c, _c, EVENT_CB, _p, _p, _err])
declare("kiln_kube_wait_pod", [_p, _c, _c, _c, ctypes.c_int64, _p, _out, _err])
declare("kiln_kube_wait_rollout", [_p, _c, _c, ctypes.c_int64, _p, _out, _err])

READ_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t),
                           ctypes.c_void_p)
WRITE_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
declare("kiln_kube_exec_stream", [_p, _c, _c, _c, ctypes.POINTER(_c), ctypes.c_size_t, _c, READ_CB, _p, WRITE_CB, _p,
                                  WRITE_CB, _p, _p, ctypes.POINTER(ctypes.c_int), _err])

ExecResult = namedtuple("ExecResult", "exit_code stdout stderr")
WatchEvent = namedtuple("WatchEvent", "type object")
LogLine = namedtuple("LogLine", "line container restart pod timestamp")
#: The most Kube.exec collects of each of stdout and stderr (KILN_KUBE_EXEC_MAX_OUTPUT).
EXEC_MAX_OUTPUT = 64 << 20


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _enc(text):
    return None if text is None else text.encode()


def _cancel_handle(cancel):
    return None if cancel is None else cancel.handle


def _options(options):
    return json.dumps({_camel(k): v for k, v in options.items() if v is not None}).encode()


def _seconds_to_ms(timeout):
    return 0 if timeout is None else max(1, int(timeout * 1000))


class _Stream:
    """Runs one callback-style kiln call on a thread and hands its events
    to the iterating thread, one at a time (the call waits for each to be
    taken, so nothing piles up). Stopping the iterator stops the call."""

    _END = object()

    def __init__(self, start, convert, cancel):
        self._convert = convert
        self._items = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._cancel = Cancel()
        self._outer = cancel
        self._error = None
        self._callback = EVENT_CB(self._on_event)
        self._thread = threading.Thread(target=self._run, args=(start,), daemon=True)
        self._thread.start()

    def _on_event(self, event_ptr, _payload):
        try:
            event = event_ptr.contents
            item = self._convert(event.type.decode(), event.json.decode("utf-8"))
            if item is None:
                return 0
            while not self._stop.is_set():
                try:
                    self._items.put(item, timeout=0.1)
                    return 0
                except queue.Full:
                    if self._outer is not None and self._outer.cancelled:
                        self._cancel.cancel()
                        return 0
            return 1
        except Exception as exc:  # must not unwind through C
            self._error = exc
            return 1

    def _run(self, start):
        try:
            start(self._callback, self._cancel)
        except BaseException as exc:
            self._error = self._error or exc
        finally:
            while True:
                try:
                    self._items.put(self._END, timeout=0.1)
                    break
                except queue.Full:
                    if self._stop.is_set():
                        break

    def __iter__(self):
        try:
            while True:
                try:
                    item = self._items.get(timeout=0.1)
                except queue.Empty:
                    if self._outer is not None and self._outer.cancelled:
                        self._cancel.cancel()
                    continue
                if item is self._END:
                    break
                yield item
            if self._error is not None:
                raise self._error
        finally:
            self._stop.set()
            if self._thread.is_alive():
                self._cancel.cancel()
            self._thread.join()


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


    def list(self, api_version, kind, namespace=None, label_selector=None, field_selector=None, limit=None,
             continue_=None, resource_version=None, all_namespaces=False, all_pages=False, cancel=None):
        """The List document as a dict ({"items": [...], "metadata":
        {"resourceVersion", "continue"?}}). With all_pages every page is
        fetched and returned as one list."""
        options = _options({"label_selector": label_selector, "field_selector": field_selector, "limit": limit,
                            "continue": continue_, "resource_version": resource_version,
                            "all_namespaces": all_namespaces or None, "all_pages": all_pages or None})
        out = ctypes.c_void_p()
        call(lib.kiln_kube_list, self._h(), api_version.encode(), kind.encode(), _enc(namespace), options,
             _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def list_pages(self, api_version, kind, limit=500, **kwargs):
        """Yields one List dict per page, following metadata.continue."""
        token = None
        while True:
            page = self.list(api_version, kind, limit=limit, continue_=token, **kwargs)
            yield page
            token = page.get("metadata", {}).get("continue")
            if not token:
                return

    def create(self, obj, namespace=None, cancel=None):
        """POST of a new object; KilnError(conflict) when it exists."""
        return self._write(lib.kiln_kube_create, obj, namespace, cancel)

    def replace(self, obj, namespace=None, cancel=None):
        """PUT of the whole object (conditional with metadata.resourceVersion)."""
        return self._write(lib.kiln_kube_replace, obj, namespace, cancel)

    def _write(self, fn, obj, namespace, cancel):
        out = ctypes.c_void_p()
        call(fn, self._h(), json.dumps(obj).encode(), _enc(namespace), _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def patch(self, api_version, kind, name, patch, namespace=None, cancel=None):
        """JSON merge patch (a dict; None values remove fields); returns the object."""
        out = ctypes.c_void_p()
        call(lib.kiln_kube_patch, self._h(), api_version.encode(), kind.encode(), _enc(namespace), name.encode(),
             json.dumps(patch).encode(), _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def watch(self, api_version, kind, namespace=None, label_selector=None, field_selector=None,
              resource_version=None, bookmarks=False, timeout_seconds=None, deadline=None, all_namespaces=False,
              cancel=None):
        """Iterates over WatchEvent(type, object) until the loop is left.
        resource_version None: the current objects first (ADDED), then the
        changes. deadline (seconds) ends it with KilnError(timeout)."""
        options = _options({"label_selector": label_selector, "field_selector": field_selector,
                            "resource_version": resource_version, "bookmarks": bookmarks or None,
                            "timeout_seconds": timeout_seconds,
                            "deadline_ms": None if deadline is None else _seconds_to_ms(deadline),
                            "all_namespaces": all_namespaces or None})
        handle = self._h()

        def start(callback, token):
            call(lib.kiln_kube_watch, handle, api_version.encode(), kind.encode(), _enc(namespace), options,
                 callback, None, token.handle, None)

        yield from _Stream(start, lambda kind_, text: WatchEvent(kind_, json.loads(text)), cancel)

    def logs(self, pod, namespace=None, container=None, follow=False, follow_restarts=None, timestamps=False,
             since_time=None, since_seconds=None, tail_lines=None, previous=False, cancel=None):
        """Iterates over LogLine(line, container, restart, pod, timestamp)
        ("restart": the container's restart count of that line's instance);
        with follow, until the container ends for good or the loop is left."""
        options = _options({"container": container, "follow": follow or None, "follow_restarts": follow_restarts,
                            "timestamps": timestamps or None, "since_time": since_time,
                            "since_seconds": since_seconds, "tail_lines": tail_lines, "previous": previous or None})
        handle = self._h()

        def start(callback, token):
            call(lib.kiln_kube_logs, handle, _enc(namespace), pod.encode(), options, callback, None, token.handle)

        def convert(kind_, text):
            if kind_ != "pod.log":
                return None
            d = json.loads(text)
            return LogLine(d["line"], d["container"], d["restart"], d["pod"], d.get("timestamp"))

        yield from _Stream(start, convert, cancel)

    def wait_pod(self, pod, until, timeout=None, namespace=None, cancel=None):
        """Waits until `until` ("phase=Running", "condition=Ready", ...);
        timeout in seconds (None: none). Returns the pod."""
        out = ctypes.c_void_p()
        call(lib.kiln_kube_wait_pod, self._h(), _enc(namespace), pod.encode(), until.encode(),
             _seconds_to_ms(timeout), _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def wait_rollout(self, deployment, timeout=None, namespace=None, cancel=None):
        """Waits until a Deployment's rollout is complete; returns it."""
        out = ctypes.c_void_p()
        call(lib.kiln_kube_wait_rollout, self._h(), _enc(namespace), deployment.encode(), _seconds_to_ms(timeout),
             _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def exec_stream(self, pod, argv, stdin=None, stdout=None, stderr=None, container=None, namespace=None, tty=False,
                    timeout=None, cancel=None):
        """Runs argv with streams of any size: stdin is a binary file-like
        object (read(n)) or None; stdout/stderr are objects with
        write(bytes) or None (discarded). Returns the exit code. Called on
        this thread; an exception in a stream is raised again here."""
        if isinstance(argv, (str, bytes)) or not argv:
            raise TypeError("argv must be a non-empty list of strings")
        c_argv = (ctypes.c_char_p * len(argv))(*[a.encode() for a in argv])
        failure = []

        def on_read(buffer, capacity, filled, _payload):
            try:
                data = stdin.read(capacity)
                n = len(data) if data else 0
                if n > capacity:
                    raise ValueError("stdin.read(n) returned more than n bytes")
                if n:
                    ctypes.memmove(buffer, data, n)
                filled[0] = n
                return 0
            except BaseException as exc:  # must not unwind through C
                failure.append(exc)
                return 1

        def writer(target):
            def on_write(data, size, _payload):
                try:
                    target.write(ctypes.string_at(data, size))
                    return 0
                except BaseException as exc:
                    failure.append(exc)
                    return 1
            return WRITE_CB(on_write) if target is not None else WRITE_CB()

        read_cb = READ_CB(on_read) if stdin is not None else READ_CB()
        out_cb, err_cb = writer(stdout), writer(stderr)
        options = _options({"tty": tty or None, "timeout_ms": None if timeout is None else _seconds_to_ms(timeout)})
        code = ctypes.c_int()
        try:
            call(lib.kiln_kube_exec_stream, self._h(), _enc(namespace), pod.encode(), _enc(container), c_argv,
                 len(argv), options, read_cb, None, out_cb, None, err_cb, None, _cancel_handle(cancel),
                 ctypes.byref(code))
        except Exception:
            if failure:
                raise failure[0]
            raise
        return code.value
