"""Build contexts (the build-context section of kiln.h).

    from kiln.context import Context
    with Context("/src/app", dockerfile="Dockerfile", stat_cache="/tmp/app.cache") as ctx:
        for entry in ctx.iter_files():
            print(entry["path"])
        print(ctx.version(build_args={"MODE": "prod"})["version"])
        with open("/tmp/ctx.tar.gz", "wb") as f:
            ctx.write(f, gzip=True)

    Context.from_tarball("/tmp/src.tar.gz")           # or the archive's bytes
    Context.from_files({"Dockerfile": b"FROM scratch\nCOPY . /\n",
                        "run.sh": (b"#!/bin/sh\n", 0o755),
                        "latest": Symlink("run.sh"),
                        "cache": Directory()})

Options are the JSON options of kiln.h as snake_case keyword arguments.
Events arrive on the calling thread as on_event(type, dict); returning False
cancels. Methods raise kiln.KilnError.
"""
import ctypes
import json
import os

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
declare("kiln_context_open_tarball", [_c, _c, _out, _err])
declare("kiln_context_open_tarball_data", [_c, ctypes.c_size_t, _c, _out, _err])
declare("kiln_files_new", [], _p)
declare("kiln_files_free", [_p], None)
declare("kiln_files_add", [_p, _c, _c, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int64, _err])
declare("kiln_files_add_symlink", [_p, _c, _c, ctypes.c_int64, _err])
declare("kiln_files_add_dir", [_p, _c, ctypes.c_uint, ctypes.c_int64, _err])
declare("kiln_context_open_files", [_p, _c, _out, _err])


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _json(options):
    return json.dumps({_camel(k): v for k, v in options.items() if v is not None}).encode()


def _cancel_handle(cancel):
    return None if cancel is None else cancel.handle


def _path_bytes(path):
    return os.fsencode(path)


class Symlink:
    """A value of Context.from_files: a symlink to `target` (never followed)."""

    def __init__(self, target, mtime=0):
        self.target = target
        self.mtime = mtime


class Directory:
    """A value of Context.from_files: a directory, sent even when empty."""

    def __init__(self, mode=0o755, mtime=0):
        self.mode = mode
        self.mtime = mtime


class _Files(Handle):
    """The kiln_files builder behind Context.from_files."""

    _free = lib.kiln_files_free
    _what = "file set"

    def __init__(self):
        self._handle = lib.kiln_files_new()
        if not self._handle:
            raise MemoryError("kiln_files_new")

    def add(self, path, value):
        name = _path_bytes(path)
        if isinstance(value, Symlink):
            call(lib.kiln_files_add_symlink, self._h(), name, _path_bytes(value.target), value.mtime)
            return
        if isinstance(value, Directory):
            call(lib.kiln_files_add_dir, self._h(), name, value.mode, value.mtime)
            return
        mode, mtime = 0o644, 0
        if isinstance(value, tuple):
            if not 2 <= len(value) <= 3:
                raise TypeError(f"{path!r}: a file is bytes or (bytes, mode) or (bytes, mode, mtime)")
            value, mode, *rest = value
            mtime = rest[0] if rest else 0
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{path!r}: content must be bytes or str, Symlink or Directory, "
                            f"not {type(value).__name__}")
        data = bytes(value)
        call(lib.kiln_files_add, self._h(), name, data, len(data), mode, mtime)


class Context(Handle):
    """A directory plus its .dockerignore and Dockerfile (or the same as a
    tar archive, from_tarball, or as files in memory, from_files).

    Keyword options: dockerfile (relative to root, or absolute), stat_cache
    (a file path), threads. Use as a context manager or call close()."""

    _free = lib.kiln_context_free
    _what = "context"

    def __init__(self, root, **options):
        handle = ctypes.c_void_p()
        call(lib.kiln_context_open, os.fsencode(root), _json(options), ctypes.byref(handle))
        self._handle = handle

    @classmethod
    def _adopt(cls, handle):
        ctx = cls.__new__(cls)
        ctx._handle = handle
        return ctx

    @classmethod
    def from_tarball(cls, archive, dockerfile=None, max_bytes=None):
        """A tar archive (plain or gzip'd) as the context: a path (str or
        os.PathLike) or the archive's bytes (copied). Its .dockerignore
        applies; the same tree gives the directory's entries and version.
        max_bytes caps the uncompressed size (KilnError "too_large")."""
        options = _json({"dockerfile": dockerfile, "max_bytes": max_bytes})
        handle = ctypes.c_void_p()
        if isinstance(archive, (bytes, bytearray, memoryview)):
            data = bytes(archive)
            call(lib.kiln_context_open_tarball_data, data, len(data), options, ctypes.byref(handle))
        else:
            call(lib.kiln_context_open_tarball, os.fsencode(archive), options, ctypes.byref(handle))
        return cls._adopt(handle)

    @classmethod
    def from_files(cls, files, dockerfile=None):
        """A context of files in memory: {path: content}, where content is
        bytes or str (mode 0o644), (bytes, mode), (bytes, mode, mtime),
        Symlink(target) or Directory(mode). Paths are relative and
        '/'-separated; parents are implied. A bad path (absolute, "..",
        below a file) is a KilnError naming it. The data is copied."""
        with _Files() as builder:
            for path, value in files.items():
                builder.add(path, value)
            handle = ctypes.c_void_p()
            call(lib.kiln_context_open_files, builder._h(), _json({"dockerfile": dockerfile}),
                 ctypes.byref(handle))
        return cls._adopt(handle)


    def rescan(self):
        """Forget the last walk: the next call sees the directory as it is now
        (nothing to do for tarball and in-memory contexts)."""
        lib.kiln_context_rescan(self._h())

    def files(self, on_event=None, cancel=None):
        """{"dockerfile", "ignorePatterns", "entries": [{"path", "type", "mode",
        "size", "mtime", "linkTarget"?, "forced"}]} in stream order
        ("ignorePatterns" only for directory contexts)."""
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
