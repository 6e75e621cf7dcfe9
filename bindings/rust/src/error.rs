//! kiln errors: a copy of the `kiln_error` a call returned (which is freed at once).
use std::ffi::CStr;
use std::fmt;
use std::os::raw::{c_char, c_int};

use crate::ffi;

/// A `KILN_E*` status code of kiln.h. Codes are never renumbered; new ones
/// may appear, so match with `==` and a fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub i32);

impl Code {
    pub const INVALID: Code = Code(-1);
    pub const NOT_FOUND: Code = Code(-2);
    pub const UNAUTHORIZED: Code = Code(-3);
    pub const FORBIDDEN: Code = Code(-4);
    pub const CONFLICT: Code = Code(-5);
    pub const UNSUPPORTED: Code = Code(-6);
    pub const DIGEST: Code = Code(-7);
    pub const IO: Code = Code(-8);
    pub const NETWORK: Code = Code(-9);
    pub const PROTOCOL: Code = Code(-10);
    pub const CANCELLED: Code = Code(-11);
    pub const TIMEOUT: Code = Code(-12);
    pub const TOO_LARGE: Code = Code(-13);
    pub const SERVER: Code = Code(-14);
    pub const UNAVAILABLE: Code = Code(-15);
    pub const BUILD: Code = Code(-16);
    pub const OOM: Code = Code(-17);
    pub const INTERNAL: Code = Code(-99);

    /// The name kiln_error_code_name gives ("not_found", ...).
    pub fn name(self) -> &'static str {
        match self.0 {
            -1 => "invalid_argument",
            -2 => "not_found",
            -3 => "unauthorized",
            -4 => "forbidden",
            -5 => "conflict",
            -6 => "unsupported",
            -7 => "digest_mismatch",
            -8 => "io",
            -9 => "network",
            -10 => "protocol",
            -11 => "cancelled",
            -12 => "timeout",
            -13 => "too_large",
            -14 => "server",
            -15 => "unavailable",
            -16 => "build_failed",
            -17 => "out_of_memory",
            -99 => "internal",
            _ => "unknown",
        }
    }
}

/// A failed kiln call.
#[derive(Debug)]
pub struct Error {
    code: Code,
    name: String,
    message: String,
    http_status: i32,
    remote_code: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// The `KILN_E*` code.
    pub fn code(&self) -> Code {
        self.code
    }
    /// "not_found", ... (as kiln names the code).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What went wrong and what to do, naming the bad part.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The HTTP status of the response that caused it; 0 if none.
    pub fn http_status(&self) -> i32 {
        self.http_status
    }
    /// The registry error code ("MANIFEST_UNKNOWN") or Kubernetes reason; "" if none.
    pub fn remote_code(&self) -> &str {
        &self.remote_code
    }

    /// An error made on the Rust side of the boundary (bad argument, a
    /// writer's failure), with kiln's codes.
    pub(crate) fn local(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            name: code.name().to_string(),
            message: message.into(),
            http_status: 0,
            remote_code: String::new(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: Box<dyn std::error::Error + Send + Sync>) -> Error {
        self.source = Some(source);
        self
    }

    /// Turns a status and its `kiln_error` (freed here) into a Result.
    ///
    /// # Safety
    /// `err` is NULL or a live error object the caller owns.
    pub(crate) unsafe fn check(rc: c_int, err: *mut ffi::kiln_error) -> Result<()> {
        if rc == 0 {
            ffi::kiln_error_free(err);
            return Ok(());
        }
        if err.is_null() {
            return Err(Error::local(Code(rc), "no error details (kiln could not allocate them)"));
        }
        let e = Error {
            code: Code(ffi::kiln_error_code(err)),
            name: borrowed(ffi::kiln_error_code_name(err)),
            message: borrowed(ffi::kiln_error_message(err)),
            http_status: ffi::kiln_error_http_status(err),
            remote_code: borrowed(ffi::kiln_error_remote_code(err)),
            source: None,
        };
        ffi::kiln_error_free(err);
        Err(e)
    }
}

/// Copies a string borrowed from kiln (NULL gives "").
unsafe fn borrowed(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kiln: {}: {}", self.name, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The Result of every fallible kiln call.
pub type Result<T> = std::result::Result<T, Error>;
