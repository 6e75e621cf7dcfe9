"""Build contexts (the build-context section of kiln.h).

    from kiln.context import Context
    with Context("/src/app", dockerfile="Dockerfile", stat_cache="/tmp/app.cache") as ctx:
        for entry in ctx.iter_files():
            print(entry["path"])
        print(ctx.version(build_args={"MODE": "prod"})["version"])
        with open("/tmp/ctx.tar.gz", "wb") as f:
            ctx.write(f, gzip=True)

Options are the JSON options of kiln.h as snake_case keyword arguments.
Events arrive on the calling thread as on_event(type, dict); returning False
cancels. Methods raise kiln.KilnError.
"""
import ctypes
import json

from ._lib import Handle, ErrorPtr, EVENT_CB, call, declare, event_callback, lib, take_json

_c = ctypes.c_char_p
_p = ctypes.c_void_p
_out = ctypes.POINTER(ctypes.c_void_p)
_err = ctypes.POINTER(ErrorPtr)

WRITE_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)

declare("kiln_context_open", [_c, _c, _out, _err])
declare("kiln_context_free", [_p], None)
declare("kiln_context_rescan", [_p], None)
declare("kiln_context_files", [_p, EVENT_CB, _p, _p, _out, _err])
declare("kiln_context_version", [_p, _c, EVENT_CB, _p, _p, _out, _err])
declare("kiln_context_write_fd", [_p, ctypes.c_int, _c, EVENT_CB, _p, _p, _err])
declare("kiln_context_write_cb", [_p, WRITE_CB, _p, _c, EVENT_CB, _p, _p, _err])


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _json(options):
    return json.dumps({_camel(k): v for k, v in options.items() if v is not None}).encode()


def _cancel_handle(cancel):
    return None if cancel is None else cancel.handle


class Context(Handle):
    """A directory plus its .dockerignore and Dockerfile.

    Keyword options: dockerfile (relative to root, or absolute), stat_cache
    (a file path), threads. Use as a context manager or call close()."""

    _free = lib.kiln_context_free
    _what = "context"

    def __init__(self, root, **options):
        handle = ctypes.c_void_p()
        call(lib.kiln_context_open, str(root).encode(), _json(options), ctypes.byref(handle))
        self._handle = handle


    def rescan(self):
        """Forget the last walk: the next call sees the directory as it is now."""
        lib.kiln_context_rescan(self._h())

    def files(self, on_event=None, cancel=None):
        """{"dockerfile", "ignorePatterns", "entries": [{"path", "type", "mode",
        "size", "mtime", "linkTarget"?, "forced"}]} in stream order."""
        out = ctypes.c_void_p()
        cb = event_callback(on_event)
        call(lib.kiln_context_files, self._h(), cb, None, _cancel_handle(cancel), ctypes.byref(out))
        return take_json(out.value)

    def iter_files(self, on_event=None, cancel=None):
        """Iterates over the entries (dicts) in stream order."""
        yield from self.files(on_event, cancel)["entries"]

    def version(self, build_args=None, target=None, platform=None, on_event=None, cancel=None):
        """{"version": "v-...", "digest": "sha256:...", "filesHashed": n}."""
        inputs = {"buildArgs": build_args, "target": target, "platform": platform}
        out = ctypes.c_void_p()
        cb = event_callback(on_event)
        call(lib.kiln_context_version, self._h(), _json(inputs), cb, None, _cancel_handle(cancel),
             ctypes.byref(out))
        return take_json(out.value)

    def write(self, target, gzip=False, gzip_level=None, zero_mtimes=False, threads=None, on_event=None,
              cancel=None):
        """Streams the tar into `target`: a file descriptor (int), an object
        with fileno(), or any object with write(bytes) (called on this thread
        with each chunk). On error the written bytes must be discarded."""
        options = _json({"gzip": gzip or gzip_level is not None, "gzip_level": gzip_level,
                         "zero_mtimes": zero_mtimes, "threads": threads})
        cb = event_callback(on_event)
        fd = target if isinstance(target, int) else None
        if fd is None and hasattr(target, "fileno"):
            try:
                fd = target.fileno()
                target.flush()
            except (OSError, ValueError, AttributeError):
                fd = None
        if fd is not None:
            call(lib.kiln_context_write_fd, self._h(), fd, options, cb, None, _cancel_handle(cancel))
            return
        failure = []

        def on_chunk(data, size, _payload):
            try:
                target.write(ctypes.string_at(data, size))
                return 0
            except BaseException as exc:  # must not unwind through C
                failure.append(exc)
                return 1

        writer = WRITE_CB(on_chunk)
        try:
            call(lib.kiln_context_write_cb, self._h(), writer, None, options, cb, None, _cancel_handle(cancel))
        except Exception:
            if failure:
                raise failure[0]
            raise

    def tar_bytes(self, **options):
        """The whole stream in memory (small contexts and tests)."""
        import io
        buf = io.BytesIO()
        self.write(_BytesWriter(buf), **options)
        return buf.getvalue()


class _BytesWriter:
    """Forces the callback path for BytesIO (which has a fileno() that raises)."""

    def __init__(self, buf):
        self._buf = buf

    def write(self, data):
        self._buf.write(data)
