//! Registries and OCI layouts: the registry section of kiln.h.
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{Code, Error, Result};
use crate::{cancel_ptr, cstring, ffi, json, optional_cstring, ptr_of, Callbacks, Cancel, Event, Owned};

/// One image store: a registry host ("127.0.0.1:5000", "ghcr.io") or an OCI
/// image-layout directory ("oci:/path"). Images are named by a repository
/// ("team/app"; "" for layouts) and a reference (a tag or "sha256:<hex>").
///
/// Thread-safe (`Send + Sync`): share it with `Arc` and call from several
/// threads at once. Freed on drop, after every borrowing call has returned.
pub struct Registry(NonNull<ffi::kiln_registry>);

// kiln.h: handles are safe to use from several threads at once.
unsafe impl Send for Registry {}
unsafe impl Sync for Registry {}

impl Drop for Registry {
    fn drop(&mut self) {
        unsafe { ffi::kiln_registry_free(self.0.as_ptr()) }
    }
}

fn list(text: String, what: &str) -> Result<Vec<String>> {
    json::parse(&text)
        .ok()
        .and_then(|v| v.as_string_list())
        .ok_or_else(|| Error::local(Code::PROTOCOL, format!("kiln returned {what} that are not a JSON string array")))
}

impl Registry {
    /// Opens `location` with kiln.h's registry options (a JSON object, e.g.
    /// `{"insecureRegistries":["127.0.0.1:5000"]}` or `{"create":true}` for a
    /// new layout). Nothing is contacted until the first operation.
    pub fn open(location: &str, options_json: Option<&str>) -> Result<Registry> {
        let location = cstring("location", location)?;
        let options = optional_cstring("options", options_json)?;
        let mut out = ptr::null_mut();
        let mut err = ptr::null_mut();
        unsafe { Error::check(ffi::kiln_registry_open(location.as_ptr(), ptr_of(&options), &mut out, &mut err), err)? };
        NonNull::new(out)
            .map(Registry)
            .ok_or_else(|| Error::local(Code::INTERNAL, "kiln_registry_open succeeded without a handle"))
    }

    fn p(&self) -> *mut ffi::kiln_registry {
        self.0.as_ptr()
    }

    /// The descriptor JSON of a manifest; [`Code::NOT_FOUND`] when absent.
    pub fn resolve(&self, repository: &str, reference: &str, cancel: Option<&Cancel>) -> Result<String> {
        let (repo, reference) = (cstring("repository", repository)?, cstring("reference", reference)?);
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_registry_resolve(
                self.p(),
                repo.as_ptr(),
                reference.as_ptr(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// All tags of a repository (every page).
    pub fn tags(&self, repository: &str, cancel: Option<&Cancel>) -> Result<Vec<String>> {
        let repo = cstring("repository", repository)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            Error::check(
                ffi::kiln_registry_tags(self.p(), repo.as_ptr(), cancel_ptr(cancel), out.out(), &mut err),
                err,
            )?
        };
        list(out.take(), "tags")
    }

    /// All repositories (`[""]` for an OCI layout).
    pub fn catalog(&self, cancel: Option<&Cancel>) -> Result<Vec<String>> {
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe { Error::check(ffi::kiln_registry_catalog(self.p(), cancel_ptr(cancel), out.out(), &mut err), err)? };
        list(out.take(), "repositories")
    }

    /// Deletes the manifest a tag or digest names (with every tag pointing at
    /// it) and returns its digest. [`Code::UNSUPPORTED`] when deletes are off.
    pub fn delete(&self, repository: &str, reference: &str, cancel: Option<&Cancel>) -> Result<String> {
        let (repo, reference) = (cstring("repository", repository)?, cstring("reference", reference)?);
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_registry_delete(
                self.p(),
                repo.as_ptr(),
                reference.as_ptr(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Uploads the file at `path` as a blob (unless the store has it) and
    /// returns its descriptor JSON. `media_type` None: application/octet-stream.
    /// With `expected_digest` the store verifies the bytes and keeps nothing
    /// on a mismatch ([`Code::DIGEST`]); without it the file is hashed first.
    /// `expected_size` None: the file's size.
    pub fn push_blob_file(
        &self,
        repository: &str,
        path: &Path,
        media_type: Option<&str>,
        expected_digest: Option<&str>,
        expected_size: Option<u64>,
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let repo = cstring("repository", repository)?;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::local(Code::INVALID, format!("path {path:?} contains a NUL byte")))?;
        let media_type = optional_cstring("media type", media_type)?;
        let digest = optional_cstring("digest", expected_digest)?;
        let size = match expected_size {
            None => -1,
            Some(n) => i64::try_from(n).map_err(|_| Error::local(Code::INVALID, format!("size {n} is too large")))?,
        };
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_registry_push_blob_file(
                self.p(),
                repo.as_ptr(),
                path.as_ptr(),
                ptr_of(&media_type),
                ptr_of(&digest),
                size,
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// Stores manifest bytes exactly as given under `reference` (a tag, or
    /// the bytes' own digest) and returns their digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
        cancel: Option<&Cancel>,
    ) -> Result<String> {
        let (repo, reference) = (cstring("repository", repository)?, cstring("reference", reference)?);
        let media_type = cstring("media type", media_type)?;
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_registry_put_manifest(
                self.p(),
                repo.as_ptr(),
                reference.as_ptr(),
                media_type.as_ptr(),
                manifest.as_ptr().cast(),
                manifest.len(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }

    /// A manifest's bytes as stored (verified against their digest) and its
    /// media type; [`Code::NOT_FOUND`] when absent.
    pub fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
        cancel: Option<&Cancel>,
    ) -> Result<(Vec<u8>, String)> {
        let (repo, reference) = (cstring("repository", repository)?, cstring("reference", reference)?);
        let (mut bytes, mut media_type, mut err) = (Owned::null(), Owned::null(), ptr::null_mut());
        let mut size = 0usize;
        unsafe {
            let rc = ffi::kiln_registry_get_manifest(
                self.p(),
                repo.as_ptr(),
                reference.as_ptr(),
                cancel_ptr(cancel),
                bytes.out(),
                &mut size,
                media_type.out(),
                &mut err,
            );
            Error::check(rc, err)?;
            // Binary-safe: the length, not the NUL kiln adds for convenience.
            let data =
                if size == 0 { Vec::new() } else { std::slice::from_raw_parts(bytes.0 as *const u8, size).to_vec() };
            Ok((data, media_type.take()))
        }
    }

    /// What an image or index is made of, as kiln.h's inspect JSON
    /// (mediaType, digest, platform, config, layers, platforms, totalSize).
    pub fn inspect(&self, repository: &str, reference: &str, cancel: Option<&Cancel>) -> Result<String> {
        let (repo, reference) = (cstring("repository", repository)?, cstring("reference", reference)?);
        let (mut out, mut err) = (Owned::null(), ptr::null_mut());
        unsafe {
            let rc = ffi::kiln_registry_inspect(
                self.p(),
                repo.as_ptr(),
                reference.as_ptr(),
                cancel_ptr(cancel),
                out.out(),
                &mut err,
            );
            Error::check(rc, err)?;
        }
        Ok(out.take())
    }
}

/// Publishes an image (or an index with its platforms) from `source` to
/// `destination` ("oci:<dir>[:<tag>]", "host/repo:tag", "host/repo@sha256:...")
/// and returns kiln.h's result JSON (digest, blobsCopied, blobsMounted, ...).
/// `options_json`: registry options plus "parallelBlobs", "platforms",
/// "extraTags".
///
/// `on_event` runs on kiln's worker threads, not the calling thread (hence
/// `Send`), one call at a time; it gets "blob.start", "blob.progress",
/// "blob.done", "blob.skipped", "blob.mounted", "manifest.put" and
/// "copy.done". Returning `false` cancels the copy ([`Code::CANCELLED`]).
pub fn copy(
    source: &str,
    destination: &str,
    options_json: Option<&str>,
    on_event: Option<&mut (dyn FnMut(&Event<'_>) -> bool + Send)>,
    cancel: Option<&Cancel>,
) -> Result<String> {
    let (source, destination) = (cstring("source", source)?, cstring("destination", destination)?);
    let options = optional_cstring("options", options_json)?;
    let mut callbacks = Callbacks::new(on_event.map(|f| f as &mut dyn FnMut(&Event<'_>) -> bool));
    let (mut out, mut err) = (Owned::null(), ptr::null_mut());
    let result = unsafe {
        let rc = ffi::kiln_registry_copy(
            source.as_ptr(),
            destination.as_ptr(),
            ptr_of(&options),
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
