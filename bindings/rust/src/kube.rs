//! The Kubernetes client: the kubernetes section of kiln.h.
use std::os::raw::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{Code, Error, Result};
use crate::{cancel_ptr, cstring, ffi, optional_cstring, ptr_of, Cancel, Owned};

/// A Kubernetes API client for one cluster, user and default namespace.
/// Objects cross as JSON text exactly as the API server sends them; an
/// empty or None namespace means the client's. Thread-safe (`Send + Sync`).
pub struct Kube(NonNull<ffi::kiln_kube>);

unsafe impl Send for Kube {}
unsafe impl Sync for Kube {}

impl Drop for Kube {
    fn drop(&mut self) {
        unsafe { ffi::kiln_kube_free(self.0.as_ptr()) }
    }
}

/// What a command run by [`Kube::exec`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Owned {
    /// Copies binary output of `size` bytes and frees it.
    fn take_bytes(self, size: usize) -> Vec<u8> {
        if self.0.is_null() || size == 0 {
            return Vec::new();
        }
        unsafe { std::slice::from_raw_parts(self.0 as *const u8, size) }.to_vec()
    }
}

impl Kube {
    /// Opens a client. `kubeconfig` None: $KUBECONFIG, else ~/.kube/config,
    /// else the in-cluster service account; `context` None: the current
    /// context; `options_json`: {"namespace", "fieldValidation", timeouts}.
    /// Nothing is contacted until the first call.
    pub fn open(kubeconfig: Option<&Path>, context: Option<&str>, options_json: Option<&str>) -> Result<Kube> {
        let path = kubeconfig
            .map(|p| {
                std::ffi::CString::new(p.as_os_str().as_bytes())
                    .map_err(|_| Error::local(Code::INVALID, format!("kubeconfig path {p:?} contains a NUL byte")))
            })
            .transpose()?;
        let context = optional_cstring("context", context)?;
        let options = optional_cstring("options", options_json)?;
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_open(ptr_of(&path), ptr_of(&context), ptr_of(&options), &mut out, &mut err);
            Error::check(rc, err)?;
        }
        NonNull::new(out)
            .map(Kube)
            .ok_or_else(|| Error::local(Code::INTERNAL, "kiln_kube_open succeeded without a handle"))
    }

    pub(crate) fn p(&self) -> *mut ffi::kiln_kube {
        self.0.as_ptr()
    }

    /// The default namespace.
    pub fn namespace(&self) -> String {
        // Borrowed from the handle, which outlives this copy.
        let p = unsafe { ffi::kiln_kube_namespace(self.p()) };
        if p.is_null() {
            return String::new();
        }
        unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// One object by apiVersion ("v1", "apps/v1"), kind ("Pod") and name, as
    /// JSON; [`Code::NOT_FOUND`] when missing.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (av, kind, name) = (cstring("api version", api_version)?, cstring("kind", kind)?, cstring("name", name)?);
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_kube_get(
                self.p(),
                av.as_ptr(),
                kind.as_ptr(),
                ptr_of(&ns),
                name.as_ptr(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Server-side apply (field manager "kiln", conflicts forced) of a JSON
    /// object with apiVersion, kind and metadata.name; returns it as stored.
    /// The object's metadata.namespace wins over `ns`.
    pub fn apply(&self, object_json: &str, ns: Option<&str>, cancel: Option<&Cancel>) -> Result<String> {
        let object = cstring("object", object_json)?;
        let ns = optional_cstring("namespace", ns)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc =
                ffi::kiln_kube_apply(self.p(), object.as_ptr(), ptr_of(&ns), cancel_ptr(cancel), out.out(), &mut err);
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Deletes one object. `options_json`: {"propagationPolicy",
    /// "gracePeriodSeconds", "ignoreNotFound"}.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
        options_json: Option<&str>,
        cancel: Option<&Cancel>,
    ) -> Result<()> {
        let (av, kind, name) = (cstring("api version", api_version)?, cstring("kind", kind)?, cstring("name", name)?);
        let ns = optional_cstring("namespace", ns)?;
        let options = optional_cstring("options", options_json)?;
        let mut err = ptr::null_mut();
        unsafe {
            let rc = ffi::kiln_kube_delete(
                self.p(),
                av.as_ptr(),
                kind.as_ptr(),
                ptr_of(&ns),
                name.as_ptr(),
                ptr_of(&options),
                cancel_ptr(cancel),
                &mut err,
            );
            Error::check(rc, err)
        }
    }

    /// Runs `argv` (no shell) in a container of a pod (`container` None: the
    /// pod's only one), streams `stdin` to it and closes it, and collects
    /// stdout and stderr. A non-zero exit status is output, not an error.
    pub fn exec(
        &self,
        ns: Option<&str>,
        pod: &str,
        container: Option<&str>,
        argv: &[&str],
        stdin: &[u8],
        cancel: Option<&Cancel>,
    ) -> Result<ExecOutput> {
        if argv.is_empty() {
            return Err(Error::local(Code::INVALID, "exec needs a command (argv is empty)"));
        }
        let ns = optional_cstring("namespace", ns)?;
        let pod = cstring("pod", pod)?;
        let container = optional_cstring("container", container)?;
        let args = argv.iter().map(|a| cstring("argument", a)).collect::<Result<Vec<_>>>()?;
        let arg_ptrs: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        let (mut out, mut errs, mut err) = (Owned::null(), Owned::null(), ptr::null_mut());
        let (mut out_size, mut err_size, mut exit_code) = (0usize, 0usize, 0);
        unsafe {
            let rc = ffi::kiln_kube_exec(
                self.p(),
                ptr_of(&ns),
                pod.as_ptr(),
                ptr_of(&container),
                arg_ptrs.as_ptr(),
                arg_ptrs.len(),
                stdin.as_ptr() as *const c_void,
                stdin.len(),
                cancel_ptr(cancel),
                &mut exit_code,
                out.out(),
                &mut out_size,
                errs.out(),
                &mut err_size,
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(ExecOutput { exit_code, stdout: out.take_bytes(out_size), stderr: errs.take_bytes(err_size) })
    }
}
