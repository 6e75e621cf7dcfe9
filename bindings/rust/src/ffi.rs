//! The C declarations of kiln.h, written by hand (no bindgen). Keep in step
//! with include/kiln.h; only what the safe wrappers use is declared.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        }
    )*};
}
opaque!(kiln_error, kiln_cancel, kiln_registry, kiln_context);

#[repr(C)]
pub struct kiln_event {
    pub type_: *const c_char,
    pub json: *const c_char,
}

pub type kiln_event_cb = Option<unsafe extern "C" fn(event: *const kiln_event, payload: *mut c_void) -> c_int>;
pub type kiln_write_cb = Option<unsafe extern "C" fn(data: *const c_void, size: usize, payload: *mut c_void) -> c_int>;
pub type kiln_read_cb = Option<
    unsafe extern "C" fn(buffer: *mut c_void, capacity: usize, filled: *mut usize, payload: *mut c_void) -> c_int,
>;

pub const KILN_VERSION_MAJOR: u32 = 0;
pub const KILN_VERSION_MINOR: u32 = 1;
pub const KILN_VERSION_PATCH: u32 = 0;

extern "C" {
    pub fn kiln_version() -> *const c_char;

    pub fn kiln_error_code(err: *const kiln_error) -> c_int;
    pub fn kiln_error_message(err: *const kiln_error) -> *const c_char;
    pub fn kiln_error_code_name(err: *const kiln_error) -> *const c_char;
    pub fn kiln_error_http_status(err: *const kiln_error) -> c_int;
    pub fn kiln_error_remote_code(err: *const kiln_error) -> *const c_char;
    pub fn kiln_error_free(err: *mut kiln_error);
    pub fn kiln_free(ptr: *mut c_void);

    pub fn kiln_cancel_new() -> *mut kiln_cancel;
    pub fn kiln_cancel_trigger(cancel: *mut kiln_cancel);
    pub fn kiln_cancel_is_triggered(cancel: *const kiln_cancel) -> c_int;
    pub fn kiln_cancel_free(cancel: *mut kiln_cancel);

    pub fn kiln_registry_open(
        location: *const c_char,
        options_json: *const c_char,
        out: *mut *mut kiln_registry,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_free(registry: *mut kiln_registry);
    pub fn kiln_registry_resolve(
        registry: *mut kiln_registry,
        repository: *const c_char,
        reference: *const c_char,
        cancel: *mut kiln_cancel,
        descriptor_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_tags(
        registry: *mut kiln_registry,
        repository: *const c_char,
        cancel: *mut kiln_cancel,
        tags_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_catalog(
        registry: *mut kiln_registry,
        cancel: *mut kiln_cancel,
        repositories_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_delete(
        registry: *mut kiln_registry,
        repository: *const c_char,
        reference: *const c_char,
        cancel: *mut kiln_cancel,
        digest_out: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_push_blob_file(
        registry: *mut kiln_registry,
        repository: *const c_char,
        path: *const c_char,
        media_type: *const c_char,
        expected_digest: *const c_char,
        expected_size: i64,
        cancel: *mut kiln_cancel,
        descriptor_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_put_manifest(
        registry: *mut kiln_registry,
        repository: *const c_char,
        reference: *const c_char,
        media_type: *const c_char,
        bytes: *const c_char,
        size: usize,
        cancel: *mut kiln_cancel,
        digest_out: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_get_manifest(
        registry: *mut kiln_registry,
        repository: *const c_char,
        reference: *const c_char,
        cancel: *mut kiln_cancel,
        bytes: *mut *mut c_char,
        size: *mut usize,
        media_type: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_inspect(
        registry: *mut kiln_registry,
        repository: *const c_char,
        reference: *const c_char,
        cancel: *mut kiln_cancel,
        inspect_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_registry_copy(
        source: *const c_char,
        destination: *const c_char,
        options_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;

    pub fn kiln_context_open(
        root: *const c_char,
        options_json: *const c_char,
        out: *mut *mut kiln_context,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_free(context: *mut kiln_context);
    pub fn kiln_context_rescan(context: *mut kiln_context);
    pub fn kiln_context_files(
        context: *mut kiln_context,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        files_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_version(
        context: *mut kiln_context,
        inputs_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        version_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_write_fd(
        context: *mut kiln_context,
        fd: c_int,
        tar_options_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_write_cb(
        context: *mut kiln_context,
        write: kiln_write_cb,
        write_payload: *mut c_void,
        tar_options_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        err: *mut *mut kiln_error,
    ) -> c_int;
}

opaque!(kiln_files);

extern "C" {
    pub fn kiln_context_open_tarball(
        path: *const c_char,
        options_json: *const c_char,
        out: *mut *mut kiln_context,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_open_tarball_data(
        data: *const c_void,
        size: usize,
        options_json: *const c_char,
        out: *mut *mut kiln_context,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_files_new() -> *mut kiln_files;
    pub fn kiln_files_free(files: *mut kiln_files);
    pub fn kiln_files_add(
        files: *mut kiln_files,
        path: *const c_char,
        data: *const c_void,
        size: usize,
        mode: c_uint,
        mtime: i64,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_files_add_symlink(
        files: *mut kiln_files,
        path: *const c_char,
        target: *const c_char,
        mtime: i64,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_files_add_dir(
        files: *mut kiln_files,
        path: *const c_char,
        mode: c_uint,
        mtime: i64,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_context_open_files(
        files: *const kiln_files,
        options_json: *const c_char,
        out: *mut *mut kiln_context,
        err: *mut *mut kiln_error,
    ) -> c_int;
}

opaque!(kiln_kube);

extern "C" {
    pub fn kiln_kube_open(
        kubeconfig_path: *const c_char,
        context: *const c_char,
        options_json: *const c_char,
        out: *mut *mut kiln_kube,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_free(kube: *mut kiln_kube);
    pub fn kiln_kube_namespace(kube: *const kiln_kube) -> *const c_char;
    pub fn kiln_kube_get(
        kube: *mut kiln_kube,
        api_version: *const c_char,
        kind: *const c_char,
        ns: *const c_char,
        name: *const c_char,
        cancel: *mut kiln_cancel,
        object_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_apply(
        kube: *mut kiln_kube,
        object_json: *const c_char,
        ns: *const c_char,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_delete(
        kube: *mut kiln_kube,
        api_version: *const c_char,
        kind: *const c_char,
        ns: *const c_char,
        name: *const c_char,
        options_json: *const c_char,
        cancel: *mut kiln_cancel,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_exec(
        kube: *mut kiln_kube,
        ns: *const c_char,
        pod: *const c_char,
        container: *const c_char,
        argv: *const *const c_char,
        argc: usize,
        stdin_data: *const c_void,
        stdin_size: usize,
        cancel: *mut kiln_cancel,
        exit_code: *mut c_int,
        stdout_data: *mut *mut c_char,
        stdout_size: *mut usize,
        stderr_data: *mut *mut c_char,
        stderr_size: *mut usize,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_list(
        kube: *mut kiln_kube,
        api_version: *const c_char,
        kind: *const c_char,
        ns: *const c_char,
        options_json: *const c_char,
        cancel: *mut kiln_cancel,
        list_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_create(
        kube: *mut kiln_kube,
        object_json: *const c_char,
        ns: *const c_char,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_replace(
        kube: *mut kiln_kube,
        object_json: *const c_char,
        ns: *const c_char,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_patch(
        kube: *mut kiln_kube,
        api_version: *const c_char,
        kind: *const c_char,
        ns: *const c_char,
        name: *const c_char,
        patch_json: *const c_char,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_watch(
        kube: *mut kiln_kube,
        api_version: *const c_char,
        kind: *const c_char,
        ns: *const c_char,
        options_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        result_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_logs(
        kube: *mut kiln_kube,
        ns: *const c_char,
        pod: *const c_char,
        options_json: *const c_char,
        callback: kiln_event_cb,
        payload: *mut c_void,
        cancel: *mut kiln_cancel,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_wait_pod(
        kube: *mut kiln_kube,
        ns: *const c_char,
        pod: *const c_char,
        until: *const c_char,
        timeout_ms: i64,
        cancel: *mut kiln_cancel,
        pod_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_wait_rollout(
        kube: *mut kiln_kube,
        ns: *const c_char,
        deployment: *const c_char,
        timeout_ms: i64,
        cancel: *mut kiln_cancel,
        deployment_json: *mut *mut c_char,
        err: *mut *mut kiln_error,
    ) -> c_int;
    pub fn kiln_kube_exec_stream(
        kube: *mut kiln_kube,
        ns: *const c_char,
        pod: *const c_char,
        container: *const c_char,
        argv: *const *const c_char,
        argc: usize,
        options_json: *const c_char,
        stdin_read: kiln_read_cb,
        stdin_payload: *mut c_void,
        stdout_write: kiln_write_cb,
        stdout_payload: *mut c_void,
        stderr_write: kiln_write_cb,
        stderr_payload: *mut c_void,
        cancel: *mut kiln_cancel,
        exit_code: *mut c_int,
        err: *mut *mut kiln_error,
    ) -> c_int;
}
