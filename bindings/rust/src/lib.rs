//! Safe Rust bindings of libkiln's C ABI (`include/kiln.h`): registries and
//! OCI layouts ([`Registry`], [`copy`]), build contexts ([`Context`]) and the
//! Kubernetes client ([`Kube`]).
//!
//! Build with `KILN_LIB_DIR=/path/to/dir/with/libkiln.so cargo build`.
//!
//! Conventions, as in kiln.h:
//! - Documents cross as JSON text: options are `Option<&str>` JSON objects
//!   with kiln.h's field names; results are returned as JSON `String`s, to
//!   read with [`json::parse`] (no serde needed).
//! - Every string kiln returns is copied and released with `kiln_free` before
//!   the function returns; nothing returned borrows from the library.
//! - Long calls take an optional [`Cancel`] token, which any thread may
//!   trigger; the call then fails promptly with [`Code::CANCELLED`].
//! - Event callbacks return `true` to continue, `false` to cancel. A callback
//!   that panics cancels the operation; the panic resumes on the calling
//!   thread once the C call has returned, so no unwinding crosses C frames.
//!   Which thread calls back is stated at each operation.
//!
//! ```no_run
//! use kiln::{copy, json, Cancel, Code, Event, Registry};
//!
//! # fn main() -> kiln::Result<()> {
//! let reg = Registry::open("127.0.0.1:5000", Some(r#"{"insecureRegistries": ["127.0.0.1:5000"]}"#))?;
//! println!("{:?}", reg.tags("team/app", None)?);
//!
//! let cancel = Cancel::new(); // may be triggered from any thread
//! let mut progress = |e: &Event<'_>| {
//!     eprintln!("{} {}", e.kind, e.json); // on kiln's worker threads
//!     true
//! };
//! match copy("oci:/tmp/layout:1.0", "127.0.0.1:5000/team/app:1.0", None, Some(&mut progress), Some(&cancel)) {
//!     Ok(result) => println!("{:?}", json::string_field(&result, "digest")),
//!     Err(e) if e.code() == Code::NOT_FOUND => eprintln!("no such image: {e}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
mod context;
mod error;
mod ffi;
pub mod json;
mod kube;
mod kube_stream;
mod registry;

pub use context::{Context, Files};
pub use error::{Code, Error, Result};
pub use kube::{ExecOutput, Kube};
pub use kube_stream::{LogLine, EXEC_MAX_OUTPUT};
pub use registry::{copy, Registry};

use std::any::Any;
use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

/// The version of the loaded libkiln ("0.1.0").
pub fn version() -> String {
    // Static storage in the library, never freed.
    unsafe { CStr::from_ptr(ffi::kiln_version()) }.to_string_lossy().into_owned()
}

/// The kiln.h version these declarations were written against.
pub const HEADER_VERSION: (u32, u32, u32) = (ffi::KILN_VERSION_MAJOR, ffi::KILN_VERSION_MINOR, ffi::KILN_VERSION_PATCH);

/// A cancellation token (`kiln_cancel`). Trigger it from any thread, at any
/// time, any number of times; share it between threads with `Arc`. It is
/// freed on drop, which the borrow rules place after every call using it.
pub struct Cancel(NonNull<ffi::kiln_cancel>);

// kiln_cancel is an atomic flag made for use from several threads.
unsafe impl Send for Cancel {}
unsafe impl Sync for Cancel {}

impl Cancel {
    pub fn new() -> Cancel {
        let p = unsafe { ffi::kiln_cancel_new() };
        Cancel(NonNull::new(p).expect("kiln_cancel_new: out of memory"))
    }
    /// Asks the calls using this token to stop.
    pub fn trigger(&self) {
        unsafe { ffi::kiln_cancel_trigger(self.0.as_ptr()) }
    }
    pub fn is_triggered(&self) -> bool {
        unsafe { ffi::kiln_cancel_is_triggered(self.0.as_ptr()) != 0 }
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        unsafe { ffi::kiln_cancel_free(self.0.as_ptr()) }
    }
}

fn cancel_ptr(cancel: Option<&Cancel>) -> *mut ffi::kiln_cancel {
    cancel.map_or(std::ptr::null_mut(), |c| c.0.as_ptr())
}

/// A progress or log event; both strings borrow kiln's memory and are valid
/// only during the callback.
#[derive(Debug)]
pub struct Event<'a> {
    /// "blob.progress", "context.progress", "warning", ...
    pub kind: Cow<'a, str>,
    /// A JSON object with the details.
    pub json: Cow<'a, str>,
}

/// The Rust side of one operation's callbacks; C holds a pointer to it (on
/// the stack of the blocked caller) only for the duration of the call.
struct Callbacks<'f> {
    on_event: Option<&'f mut dyn FnMut(&Event<'_>) -> bool>,
    writer: Option<&'f mut dyn Write>,
    write_error: Option<std::io::Error>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<'f> Callbacks<'f> {
    fn new(on_event: Option<&'f mut dyn FnMut(&Event<'_>) -> bool>) -> Self {
        Callbacks { on_event, writer: None, write_error: None, panic: None }
    }

    fn event_cb(&self) -> ffi::kiln_event_cb {
        if self.on_event.is_some() {
            Some(event_trampoline)
        } else {
            None
        }
    }

    fn payload(&mut self) -> *mut c_void {
        self as *mut Callbacks as *mut c_void
    }

    /// The call's result: a callback's panic resumes here, a writer's error
    /// replaces kiln's "cancelled".
    fn finish(self, result: Result<()>) -> Result<()> {
        if let Some(p) = self.panic {
            std::panic::resume_unwind(p);
        }
        match (result, self.write_error) {
            (Err(_), Some(io)) => {
                let message = format!("writing the tar stream failed: {io}");
                Err(Error::local(Code::IO, message).with_source(Box::new(io)))
            }
            (result, _) => result,
        }
    }
}

unsafe extern "C" fn event_trampoline(event: *const ffi::kiln_event, payload: *mut c_void) -> c_int {
    let state = &mut *(payload as *mut Callbacks);
    if state.panic.is_some() {
        return 1;
    }
    let event = Event { kind: text((*event).type_), json: text((*event).json) };
    let on_event = match state.on_event.as_mut() {
        Some(f) => f,
        None => return 0,
    };
    match catch_unwind(AssertUnwindSafe(|| on_event(&event))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            state.panic = Some(p);
            1
        }
    }
}

unsafe extern "C" fn write_trampoline(data: *const c_void, size: usize, payload: *mut c_void) -> c_int {
    let state = &mut *(payload as *mut Callbacks);
    if state.panic.is_some() {
        return 1;
    }
    let bytes: &[u8] = if size == 0 { &[] } else { std::slice::from_raw_parts(data as *const u8, size) };
    let writer = match state.writer.as_mut() {
        Some(w) => w,
        None => return 1,
    };
    match catch_unwind(AssertUnwindSafe(|| writer.write_all(bytes))) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            state.write_error = Some(e);
            1
        }
        Err(p) => {
            state.panic = Some(p);
            1
        }
    }
}

unsafe fn text<'a>(p: *const c_char) -> Cow<'a, str> {
    if p.is_null() {
        Cow::Borrowed("")
    } else {
        CStr::from_ptr(p).to_string_lossy()
    }
}

/// A C copy of a Rust string; a NUL inside it is a clear error, not a truncation.
fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::local(Code::INVALID, format!("{what} contains a NUL byte: {s:?}")))
}

fn optional_cstring(what: &str, s: Option<&str>) -> Result<Option<CString>> {
    s.map(|s| cstring(what, s)).transpose()
}

fn ptr_of(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// Copies a string kiln returned (owned by us) and frees it with kiln_free.
unsafe fn take_string(p: *mut c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    let s = CStr::from_ptr(p).to_string_lossy().into_owned();
    ffi::kiln_free(p as *mut c_void);
    s
}

/// Frees a string kiln returned when dropped (for outputs of failed calls
/// and early returns).
struct Owned(*mut c_char);

impl Owned {
    fn null() -> Owned {
        Owned(std::ptr::null_mut())
    }
    fn out(&mut self) -> *mut *mut c_char {
        &mut self.0
    }
    fn take(mut self) -> String {
        let p = std::mem::replace(&mut self.0, std::ptr::null_mut());
        unsafe { take_string(p) }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        unsafe { ffi::kiln_free(self.0 as *mut c_void) }
    }
}
