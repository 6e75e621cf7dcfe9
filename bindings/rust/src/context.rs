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
