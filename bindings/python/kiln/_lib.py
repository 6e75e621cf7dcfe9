"""ctypes loading of libkiln and the conventions of kiln.h.

Every area module (registry.py, context.py, kube.py) declares its functions
with `declare()` and calls them through `call()`, which turns a negative
status plus kiln_error into a KilnError and frees what the library returned.
"""
import ctypes
import ctypes.util
import json
import os
import pathlib

_here = pathlib.Path(__file__).resolve().parent


def _find_library():
    explicit = os.environ.get("KILN_LIBRARY")
    if explicit:
        return explicit
    for candidate in (_here / "libkiln.so.0", _here.parents[2] / "build" / "capi" / "libkiln.so.0"):
        if candidate.exists():
            return str(candidate)
    found = ctypes.util.find_library("kiln")
    if found:
        return found
    raise OSError("libkiln not found: set KILN_LIBRARY to the path of libkiln.so.0")


lib = ctypes.CDLL(_find_library())


class KilnError(Exception):
    """An error from libkiln: code (negative int), name ("not_found"), message,
    http_status and remote_code (registry code or Kubernetes reason)."""

    def __init__(self, code, name, message, http_status=0, remote_code=""):
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self.http_status = http_status
        self.remote_code = remote_code

    def __repr__(self):
        return f"KilnError({self.name}: {self.message})"


class _Error(ctypes.Structure):
    pass


ErrorPtr = ctypes.POINTER(_Error)


class Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_char_p), ("json", ctypes.c_char_p)]


EVENT_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(Event), ctypes.c_void_p)


def declare(name, argtypes, restype=ctypes.c_int):
    fn = getattr(lib, name)
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


declare("kiln_version", [], ctypes.c_char_p)
declare("kiln_free", [ctypes.c_void_p], None)
declare("kiln_error_code", [ErrorPtr])
declare("kiln_error_message", [ErrorPtr], ctypes.c_char_p)
declare("kiln_error_code_name", [ErrorPtr], ctypes.c_char_p)
declare("kiln_error_http_status", [ErrorPtr])
declare("kiln_error_remote_code", [ErrorPtr], ctypes.c_char_p)
declare("kiln_error_free", [ErrorPtr], None)
declare("kiln_cancel_new", [], ctypes.c_void_p)
declare("kiln_cancel_trigger", [ctypes.c_void_p], None)
declare("kiln_cancel_is_triggered", [ctypes.c_void_p])
declare("kiln_cancel_free", [ctypes.c_void_p], None)


def call(fn, *args):
    """Calls fn(*args, &err); raises KilnError on a negative status."""
    err = ErrorPtr()
    status = fn(*args, ctypes.byref(err))
    if status < 0:
        if err:
            exc = KilnError(
                lib.kiln_error_code(err),
                lib.kiln_error_code_name(err).decode(),
                lib.kiln_error_message(err).decode("utf-8", "replace"),
                lib.kiln_error_http_status(err),
                lib.kiln_error_remote_code(err).decode(),
            )
            lib.kiln_error_free(err)
            raise exc
        raise KilnError(status, "unknown", f"kiln call failed with status {status}")
    return status


def take_string(ptr):
    """Decodes and frees a char* the library returned (declared as c_void_p)."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        lib.kiln_free(ptr)


def take_json(ptr):
    text = take_string(ptr)
    return None if text is None else json.loads(text)


def event_callback(on_event):
    """Wraps a Python callable(type, dict) -> bool|None (False cancels) as a
    kiln_event_cb. Keep the returned object alive for the whole call."""
    if on_event is None:
        return EVENT_CB()

    def trampoline(event_ptr, _payload):
        try:
            event = event_ptr.contents
            keep_going = on_event(event.type.decode(), json.loads(event.json.decode("utf-8")))
            return 1 if keep_going is False else 0
        except Exception:  # an exception must not unwind through C
            return 1

    return EVENT_CB(trampoline)


class Handle:
    """Owns one kiln handle. close() frees it once; `with` and garbage
    collection call it too. Subclasses set _free (kiln_<type>_free) and
    _what (for the error when a closed handle is used)."""

    _free = None
    _what = "handle"
    _handle = None

    def close(self):
        if self._handle:
            type(self)._free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _h(self):
        if not self._handle:
            raise ValueError(f"the {self._what} is closed")
        return self._handle


class Cancel:
    """A cancellation token; cancel() may be called from any thread."""

    def __init__(self):
        self._ptr = lib.kiln_cancel_new()
        if not self._ptr:
            raise MemoryError("kiln_cancel_new")

    def cancel(self):
        lib.kiln_cancel_trigger(self._ptr)

    @property
    def cancelled(self):
        return bool(lib.kiln_cancel_is_triggered(self._ptr))

    @property
    def handle(self):
        return self._ptr

    def __del__(self):
        if getattr(self, "_ptr", None):
            lib.kiln_cancel_free(self._ptr)
            self._ptr = None


def version():
    return lib.kiln_version().decode()
