//! The kubernetes section's list, writes, waits and streams: list pages,
//! create/replace/merge patch, watch and logs through callbacks, and exec
//! with `Read`/`Write` streams of any size.
use std::any::Any;
use std::io::{Read, Write};
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::time::Duration;

use crate::error::{Code, Error, Result};
use crate::json::{self, Value};
use crate::{cancel_ptr, cstring, ffi, optional_cstring, ptr_of, Callbacks, Cancel, Event, Kube, Owned};

/// The most [`Kube::exec`] collects of each of stdout and stderr
/// (KILN_KUBE_EXEC_MAX_OUTPUT); more is [`Code::TOO_LARGE`].
/// [`Kube::exec_stream`] has no cap.
pub const EXEC_MAX_OUTPUT: usize = 64 << 20;

/// One line of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub pod: String,
    pub namespace: String,
    pub container: String,
    pub line: String,
    /// The container's restart count for the instance that wrote the line.
    pub restart: i64,
    /// With options {"timestamps": true}.
    pub timestamp: Option<String>,
}

impl LogLine {
    fn from_json(text: &str) -> Option<LogLine> {
        let v = json::parse(text).ok()?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(LogLine {
            pod: s("pod")?,
            namespace: s("namespace")?,
            container: s("container")?,
            line: s("line")?,
            restart: v.get("restart").and_then(Value::as_i64)?,
            timestamp: s("timestamp"),
        })
    }
}

fn millis(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)
}

/// The stdin reader, stdout/stderr writers and what they did, for one
/// exec_stream call; C holds a pointer to it only during the call.
struct Streams<'a> {
    stdin: Option<&'a mut dyn Read>,
    stdout: Option<&'a mut dyn Write>,
    stderr: Option<&'a mut dyn Write>,
    io_error: Option<(&'static str, std::io::Error)>,
    panic: Option<Box<dyn Any + Send>>,
}

impl Streams<'_> {
    fn guarded(&mut self, what: &'static str, f: impl FnOnce(&mut Self) -> std::io::Result<()>) -> c_int {
        if self.panic.is_some() || self.io_error.is_some() {
            return 1;
        }
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                self.io_error = Some((what, e));
                1
            }
            Err(p) => {
                self.panic = Some(p);
                1
            }
        }
    }
}

unsafe extern "C" fn read_trampoline(
    buffer: *mut c_void,
    capacity: usize,
    filled: *mut usize,
    payload: *mut c_void,
) -> c_int {
    let streams = &mut *(payload as *mut Streams);
    *filled = 0;
    let buf: &mut [u8] =
        if capacity == 0 { &mut [] } else { std::slice::from_raw_parts_mut(buffer as *mut u8, capacity) };
    streams.guarded("reading stdin", |s| {
        let reader = s.stdin.as_mut().expect("stdin callback without a reader");
        loop {
            match reader.read(buf) {
                Ok(n) => {
                    *filled = n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    })
}

unsafe fn write_to(payload: *mut c_void, data: *const c_void, size: usize, stderr: bool) -> c_int {
    let streams = &mut *(payload as *mut Streams);
    let bytes: &[u8] = if size == 0 { &[] } else { std::slice::from_raw_parts(data as *const u8, size) };
    let what = if stderr { "writing stderr" } else { "writing stdout" };
    streams.guarded(what, |s| {
        let writer = if stderr { s.stderr.as_mut() } else { s.stdout.as_mut() };
        writer.expect("write callback without a writer").write_all(bytes)
    })
}

unsafe extern "C" fn stdout_trampoline(data: *const c_void, size: usize, payload: *mut c_void) -> c_int {
    write_to(payload, data, size, false)
}

unsafe extern "C" fn stderr_trampoline(data: *const c_void, size: usize, payload: *mut c_void) -> c_int {
    write_to(payload, data, size, true)
}

impl Kube {
    /// The List document of one kind: {"items", "metadata": {"resourceVersion",
    /// "continue"?}}. `options_json`: {"labelSelector", "fieldSelector",
    /// "limit", "continue", "resourceVersion", "allNamespaces", "allPages"}.
    pub fn list(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        options_json: Option<&str>,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (av, kind) = (cstring("api version", api_version)?, cstring("kind", kind)?);
        let ns = optional_cstring("namespace", ns)?;
        let options = optional_cstring("options", options_json)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_list(
                self.p(),
                av.as_ptr(),
                kind.as_ptr(),
                ptr_of(&ns),
                ptr_of(&options),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Creates an object (JSON with apiVersion, kind, metadata.name);
    /// [`Code::CONFLICT`] (reason AlreadyExists) when it exists. Returns it as stored.
    pub fn create(&self, object_json: &str, ns: Option<&str>, cancel: Option<&Cancel>) -> Result<String> {
        self.write(ffi::kiln_kube_create, object_json, ns, cancel)
    }

    /// Puts the whole object over the stored one (conditional with
    /// metadata.resourceVersion: [`Code::CONFLICT`] when it changed since).
    pub fn replace(&self, object_json: &str, ns: Option<&str>, cancel: Option<&Cancel>) -> Result<String> {
        self.write(ffi::kiln_kube_replace, object_json, ns, cancel)
    }

    fn write(
        &self,
        f: unsafe extern "C" fn(
            *mut ffi::kiln_kube,
            *const c_char,
            *const c_char,
            *mut ffi::kiln_cancel,
            *mut *mut c_char,
            *mut *mut ffi::kiln_error,
        ) -> c_int,
        object_json: &str,
        ns: Option<&str>,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let object = cstring("object", object_json)?;
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = f(self.p(), object.as_ptr(), ptr_of(&ns), cancel_ptr(cancel), out.out(), &mut err);
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// A JSON merge patch (RFC 7386; null removes a field) of one object;
    /// returns the patched object.
    pub fn patch(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        patch_json: &str,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (av, kind, name) = (cstring("api version", api_version)?, cstring("kind", kind)?, cstring("name", name)?);
        let patch = cstring("patch", patch_json)?;
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_patch(
                self.p(),
                av.as_ptr(),
                kind.as_ptr(),
                ptr_of(&ns),
                name.as_ptr(),
                patch.as_ptr(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Calls `on_event(type, object_json)` on this thread for each change
    /// ("ADDED", "MODIFIED", "DELETED", "BOOKMARK") until it returns false
    /// (then Ok), `cancel` ([`Code::CANCELLED`]) or the "deadlineMs" option
    /// ([`Code::TIMEOUT`]). `options_json`: {"labelSelector", "fieldSelector",
    /// "resourceVersion", "bookmarks", "timeoutSeconds", "deadlineMs",
    /// "allNamespaces", "maxReconnectFailures"}. Returns {"resourceVersion",
    /// "reconnects", "relists"}: resume from its resourceVersion.
    pub fn watch(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        options_json: Option<&str>,
        on_event: &mut dyn FnMut(&str, &str) -> bool,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (av, kind) = (cstring("api version", api_version)?, cstring("kind", kind)?);
        let ns = optional_cstring("namespace", ns)?;
        let options = optional_cstring("options", options_json)?;
        let mut forward = |e: &Event<'_>| on_event(&e.kind, &e.json);
        let mut callbacks = Callbacks::new(Some(&mut forward));
        let mut out = Owned::null();
        let result = unsafe {
            let mut err = ptr::null_mut();
            let events = callbacks.event_cb();
            let payload = callbacks.payload();
            let rc = ffi::kiln_kube_watch(
                self.p(),
                av.as_ptr(),
                kind.as_ptr(),
                ptr_of(&ns),
                ptr_of(&options),
                events,
                payload,
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)
        };
        callbacks.finish(result)?;
        Ok(out.take())
    }

    /// Calls `on_line` on this thread with each line of a container's log
    /// until the log ends (with {"follow": true}: until the container ends
    /// for good) or `on_line` returns false (then Ok). `options_json`:
    /// {"container", "follow", "followRestarts", "timestamps", "sinceTime",
    /// "sinceSeconds", "tailLines", "previous"}.
    pub fn logs(
        &self,
        ns: Option<&str>,
        pod: &str,
        options_json: Option<&str>,
        on_line: &mut dyn FnMut(&LogLine) -> bool,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let pod = cstring("pod", pod)?;
        let ns = optional_cstring("namespace", ns)?;
        let options = optional_cstring("options", options_json)?;
        let mut forward = |e: &Event<'_>| {
            if e.kind != "pod.log" {
                return true;
            }
            match LogLine::from_json(&e.json) {
                Some(line) => on_line(&line),
                None => panic!("kiln sent a pod.log event this binding cannot read: {}", e.json),
            }
        };
        let mut callbacks = Callbacks::new(Some(&mut forward));
        let result = unsafe {
            let mut err = ptr::null_mut();
            let events = callbacks.event_cb();
            let payload = callbacks.payload();
            let rc = ffi::kiln_kube_logs(
                self.p(),
                ptr_of(&ns),
                pod.as_ptr(),
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

    /// Waits until a pod reaches `until` ("phase=Running", "phase=Succeeded",
    /// "condition=Ready", ...); `timeout` zero: none. Returns the pod.
    pub fn wait_pod(
        &self,
        ns: Option<&str>,
        pod: &str,
        until: &str,
        timeout: Duration,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (pod, until) = (cstring("pod", pod)?, cstring("until", until)?);
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_wait_pod(
                self.p(),
                ptr_of(&ns),
                pod.as_ptr(),
                until.as_ptr(),
                millis(timeout),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Waits until a Deployment's rollout is complete (kubectl rollout
    /// status's rules); `timeout` zero: none. Returns the Deployment.
    pub fn wait_rollout(
        &self,
        ns: Option<&str>,
        deployment: &str,
        timeout: Duration,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let deployment = cstring("deployment", deployment)?;
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_wait_rollout(
                self.p(),
                ptr_of(&ns),
                deployment.as_ptr(),
                millis(timeout),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Runs `argv` (no shell) with streams of any size, all on this thread:
    /// `stdin` (None: no stdin) is read as the server takes data and closed
    /// at its end; `stdout`/`stderr` (None: discarded) get output as it
    /// arrives. `options_json`: {"tty", "timeoutMs"}. Returns the exit code;
    /// a failing stream is [`Code::IO`] with the io::Error as its source.
    #[allow(clippy::too_many_arguments)]
    pub fn exec_stream<'s>(
        &self,
        ns: Option<&str>,
        pod: &str,
        container: Option<&str>,
        argv: &[&str],
        options_json: Option<&str>,
        stdin: Option<&'s mut dyn Read>,
        stdout: Option<&'s mut dyn Write>,
        stderr: Option<&'s mut dyn Write>,
        cancel: Option<&Cancel>,
    ) -> Result<i32> {
        if argv.is_empty() {
            return Err(Error::local(Code::INVALID, "exec_stream needs a command (argv is empty)"));
        }
        let ns = optional_cstring("namespace", ns)?;
        let pod = cstring("pod", pod)?;
        let container = optional_cstring("container", container)?;
        let options = optional_cstring("options", options_json)?;
        let args = argv.iter().map(|a| cstring("argument", a)).collect::<Result<Vec<_>>>()?;
        let arg_ptrs: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let read_cb: ffi::kiln_read_cb = if stdin.is_some() { Some(read_trampoline) } else { None };
        let out_cb: ffi::kiln_write_cb = if stdout.is_some() { Some(stdout_trampoline) } else { None };
        let err_cb: ffi::kiln_write_cb = if stderr.is_some() { Some(stderr_trampoline) } else { None };
        let mut streams = Streams { stdin, stdout, stderr, io_error: None, panic: None };
        let payload = &mut streams as *mut Streams as *mut c_void;
        let mut exit_code: c_int = 0;
        let result = unsafe {
            let mut err = ptr::null_mut();
            let rc = ffi::kiln_kube_exec_stream(
                self.p(),
                ptr_of(&ns),
                pod.as_ptr(),
                ptr_of(&container),
                arg_ptrs.as_ptr(),
                arg_ptrs.len(),
                ptr_of(&options),
                read_cb,
                payload,
                out_cb,
                payload,
                err_cb,
                payload,
                cancel_ptr(cancel),
                &mut exit_code,
                &mut err,
            );
            Error::check(rc, err)
        };
        if let Some(p) = streams.panic {
            std::panic::resume_unwind(p);
        }
        match (result, streams.io_error) {
            (Err(_), Some((what, io))) => {
                Err(Error::local(Code::IO, format!("exec: {what} failed: {io}")).with_source(Box::new(io)))
            }
            (Err(e), None) => Err(e),
            (Ok(()), _) => Ok(exit_code),
        }
    }
}
