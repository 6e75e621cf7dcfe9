//! Build contexts: the build-context section of kiln.h.
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{Code, Error, Result};
use crate::{cancel_ptr, ffi, optional_cstring, ptr_of, write_trampoline, Callbacks, Cancel, Event, Owned};

/// An event callback of a context operation; runs on the calling thread.
pub type ContextEvents<'a> = Option<&'a mut dyn FnMut(&Event<'_>) -> bool>;

/// A directory about to be sent to a builder: the files `docker build`
/// would send (after .dockerignore), their content version and the tar
/// stream. The directory is walked once, on first use ([`Context::rescan`]).
///
/// `Send + Sync`: kiln serialises the calls made on one context. Events
/// ("context.progress", "context.done", "warning") are delivered on the
/// calling thread, during the call. A callback (or writer) must not use the
/// same context: kiln holds the context's lock while it calls back.
pub struct Context(NonNull<ffi::kiln_context>);

unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        unsafe { ffi::kiln_context_free(self.0.as_ptr()) }
    }
}

impl Context {
    /// Opens the directory `root` with kiln.h's context options
    /// (`{"dockerfile": ..., "statCache": ..., "threads": n}`).
    pub fn open(root: &Path, options_json: Option<&str>) -> Result<Context> {
        let root = std::ffi::CString::new(root.as_os_str().as_bytes())
            .map_err(|_| Error::local(Code::INVALID, format!("root {root:?} contains a NUL byte")))?;
        let options = optional_cstring("options", options_json)?;
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        unsafe { Error::check(ffi::kiln_context_open(root.as_ptr(), ptr_of(&options), &mut out, &mut err), err)? };
        NonNull::new(out)
            .map(Context)
            .ok_or_else(|| Error::local(Code::INTERNAL, "kiln_context_open succeeded without a handle"))
    }

    /// Opens a tar archive (plain or gzip'd, detected) as a context: its
    /// .dockerignore applies and the same tree gives a directory's entries
    /// and version. `options_json`: `{"dockerfile": ..., "maxBytes": n}`.
    /// A corrupt archive or a member leaving the context is [`Code::INVALID`]
    /// naming it.
    pub fn open_tarball(path: &Path, options_json: Option<&str>) -> Result<Context> {
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::local(Code::INVALID, format!("path {path:?} contains a NUL byte")))?;
        Context::open_with("kiln_context_open_tarball", options_json, |options, out, err| unsafe {
            ffi::kiln_context_open_tarball(path.as_ptr(), options, out, err)
        })
    }

    /// As [`Context::open_tarball`] over the archive's bytes, which kiln copies.
    pub fn open_tarball_bytes(data: &[u8], options_json: Option<&str>) -> Result<Context> {
        Context::open_with("kiln_context_open_tarball_data", options_json, |options, out, err| unsafe {
            ffi::kiln_context_open_tarball_data(data.as_ptr().cast(), data.len(), options, out, err)
        })
    }

    /// Opens a copy of `files` as a context; `files` stays usable.
    /// `options_json`: `{"dockerfile": ...}`. A bad path (absolute, "..",
    /// below a file) is [`Code::INVALID`] naming it.
    pub fn open_files(files: &Files, options_json: Option<&str>) -> Result<Context> {
        Context::open_with("kiln_context_open_files", options_json, |options, out, err| unsafe {
            ffi::kiln_context_open_files(files.0.as_ptr(), options, out, err)
        })
    }

    fn open_with(
        what: &str,
        options_json: Option<&str>,
        open: impl FnOnce(*const std::os::raw::c_char, *mut *mut ffi::kiln_context, *mut *mut ffi::kiln_error) -> i32,
    ) -> Result<Context> {
        let options = optional_cstring("options", options_json)?;
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        unsafe { Error::check(open(ptr_of(&options), &mut out, &mut err), err)? };
        NonNull::new(out)
            .map(Context)
            .ok_or_else(|| Error::local(Code::INTERNAL, format!("{what} succeeded without a handle")))
    }

    fn p(&self) -> *mut ffi::kiln_context {
        self.0.as_ptr()
    }

    /// Forgets the last walk: the next call sees the directory as it is now.
    pub fn rescan(&self) {
        unsafe { ffi::kiln_context_rescan(self.p()) }
    }

    /// The entries sent, in stream order, as kiln.h's JSON
    /// (`{"dockerfile", "ignorePatterns", "entries": [...]}`).
    pub fn files(&self, on_event: ContextEvents<'_>, cancel: Option<&Cancel>) -> Result<String> {
        let mut callbacks = Callbacks::new(on_event);
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        let result = unsafe {
            let rc = ffi::kiln_context_files(
                self.p(),
                callbacks.event_cb(),
                callbacks.payload(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)
        };
        callbacks.finish(result)?;
        Ok(out.take())
    }

    /// The content version JSON (`{"version": "v-<hex>", "digest", "filesHashed"}`).
    /// `inputs_json`: `{"buildArgs": {...}, "target": ..., "platform": ...}`.
    pub fn version(
        &self,
        inputs_json: Option<&str>,
        on_event: ContextEvents<'_>,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let inputs = optional_cstring("version inputs", inputs_json)?;
        let mut callbacks = Callbacks::new(on_event);
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        let result = unsafe {
            let rc = ffi::kiln_context_version(
                self.p(),
                ptr_of(&inputs),
                callbacks.event_cb(),
                callbacks.payload(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)
        };
        callbacks.finish(result)?;
        Ok(out.take())
    }

    /// Writes the tar stream to `file` at its current offset (the file stays
    /// open). `tar_options_json`: `{"gzip", "gzipLevel", "zeroMtimes", "threads"}`.
    /// After an error the bytes written are not a complete archive.
    pub fn write_tar_file(
        &self,
        file: &File,
        tar_options_json: Option<&str>,
        on_event: ContextEvents<'_>,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let options = optional_cstring("tar options", tar_options_json)?;
        let mut callbacks = Callbacks::new(on_event);
        let result = unsafe {
            let mut err = ptr::null_mut();
            let rc = ffi::kiln_context_write_fd(
                self.p(),
                file.as_raw_fd(),
                ptr_of(&options),
                callbacks.event_cb(),
                callbacks.payload(),
                cancel_ptr(cancel),
                &mut err,
            );
            Error::check(rc, err)
        };
        callbacks.finish(result)
    }

    /// Streams the tar into `writer` in chunks, on the calling thread. A
    /// write error stops the stream and comes back as [`Code::IO`] with the
    /// `io::Error` as its source. After an error the bytes written are not a
    /// complete archive.
    pub fn write_tar<'a>(
        &self,
        writer: &'a mut dyn Write,
        tar_options_json: Option<&str>,
        on_event: ContextEvents<'a>,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let options = optional_cstring("tar options", tar_options_json)?;
        let mut callbacks = Callbacks::new(on_event);
        callbacks.writer = Some(writer);
        let result = unsafe {
            let mut err = ptr::null_mut();
            let events = callbacks.event_cb();
            let payload = callbacks.payload();
            let rc = ffi::kiln_context_write_cb(
                self.p(),
                Some(write_trampoline),
                payload,
                ptr_of(&options),
                events,
                payload,
                cancel_ptr(cancel),
                &mut err,
            );
            Error::check(rc, err)
        };
        callbacks.finish(result)
    }
}

/// Files for an in-memory context ([`Context::open_files`]): relative
/// '/'-separated paths, parents implied. Paths are checked when the context
/// is opened. Every add copies its arguments; adding a path again replaces it.
pub struct Files(NonNull<ffi::kiln_files>);

// One owner at a time may add (`&mut`); kiln.h does not promise more.
unsafe impl Send for Files {}

impl Drop for Files {
    fn drop(&mut self) {
        unsafe { ffi::kiln_files_free(self.0.as_ptr()) }
    }
}

impl Default for Files {
    fn default() -> Self {
        Files::new()
    }
}

impl Files {
    /// An empty set. Panics only when out of memory, like `Vec::new` growing.
    pub fn new() -> Files {
        Files(NonNull::new(unsafe { ffi::kiln_files_new() }).expect("kiln_files_new: out of memory"))
    }

    /// A regular file; `mode` is permission bits (at most 0o7777).
    pub fn add(&mut self, path: &str, data: &[u8], mode: u32, mtime: i64) -> Result<&mut Files> {
        let path = crate::cstring("path", path)?;
        let mut err = ptr::null_mut();
        unsafe {
            let rc = ffi::kiln_files_add(
                self.0.as_ptr(),
                path.as_ptr(),
                data.as_ptr().cast(),
                data.len(),
                mode,
                mtime,
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(self)
    }

    /// A symlink to `target` (sent verbatim, never followed).
    pub fn add_symlink(&mut self, path: &str, target: &str, mtime: i64) -> Result<&mut Files> {
        let path = crate::cstring("path", path)?;
        let target = crate::cstring("symlink target", target)?;
        let mut err = ptr::null_mut();
        unsafe {
            let rc = ffi::kiln_files_add_symlink(self.0.as_ptr(), path.as_ptr(), target.as_ptr(), mtime, &mut err);
            Error::check(rc, err)?;
        }
        Ok(self)
    }

    /// A directory, sent even when empty.
    pub fn add_dir(&mut self, path: &str, mode: u32, mtime: i64) -> Result<&mut Files> {
        let path = crate::cstring("path", path)?;
        let mut err = ptr::null_mut();
        unsafe {
            let rc = ffi::kiln_files_add_dir(self.0.as_ptr(), path.as_ptr(), mode, mtime, &mut err);
            Error::check(rc, err)?;
        }
        Ok(self)
    }
}
