//! Helpers of the integration tests: temp dirs, test services, and
//! independent tools (sha256sum, skopeo, tar) to check kiln's results.
#![allow(dead_code)]
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use kiln::json::{self, Value};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kiln-rust-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn oci(&self, name: &str) -> String {
        format!("oci:{}", self.join(name).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test service's address from tests/services/up. None (test skipped)
/// when it is missing, except under CI=true, where that fails the test.
pub fn service(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {name} is not set: eval \"$(tests/services/up)\" first")
        }
        _ => {
            eprintln!("skipped: {name} is not set (eval \"$(tests/services/up)\")");
            None
        }
    }
}

/// Runs a tool and returns its standard output; the tool must succeed.
pub fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (is it installed?): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// "sha256:<hex>" of a file, by coreutils' sha256sum rather than kiln.
pub fn sha256_file(path: &Path) -> String {
    let out = run("sha256sum", &[path.to_str().unwrap()]);
    format!("sha256:{}", String::from_utf8(out).unwrap().split_whitespace().next().unwrap())
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut data = vec![0u8; n];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut data).unwrap();
    data
}

pub fn parse(text: &str) -> Value {
    json::parse(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no string {key:?} in {v:?}"))
}

pub fn int_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_else(|| panic!("no integer {key:?} in {v:?}"))
}

/// A pushed one-layer linux/arm64 image.
pub struct Image {
    pub manifest: Vec<u8>,
    pub digest: String,
    pub layer: Value,
}

/// Stores an image with random content under `tag`; the digests are
/// computed by sha256sum, not by kiln.
pub fn push_image(reg: &kiln::Registry, repository: &str, tag: &str, layer_size: usize) -> Image {
    let dir = TempDir::new("image");
    let layer_path = dir.join("layer");
    std::fs::write(&layer_path, random_bytes(layer_size)).unwrap();
    let layer_digest = sha256_file(&layer_path);
    let config = format!(
        r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_path = dir.join("config");
    std::fs::write(&config_path, &config).unwrap();
    let layer = reg
        .push_blob_file(repository, &layer_path, Some("application/vnd.oci.image.layer.v1.tar"), None, None, None)
        .expect("push layer");
    let layer_json = parse(&layer);
    assert_eq!(str_of(&layer_json, "digest"), layer_digest);
    let config_desc = reg
        .push_blob_file(
            repository,
            &config_path,
            Some("application/vnd.oci.image.config.v1+json"),
            Some(&sha256_file(&config_path)),
            Some(config.len() as u64),
            None,
        )
        .expect("push config");
    let manifest = format!(
        "{{\n \"schemaVersion\": 2,\n \"mediaType\": \"{OCI_MANIFEST}\",\n \"config\": {config_desc},\n \"layers\": [{layer}]\n}}"
    );
    let digest = reg.put_manifest(repository, tag, OCI_MANIFEST, manifest.as_bytes(), None).expect("put manifest");
    let manifest_path = dir.join("manifest");
    std::fs::write(&manifest_path, &manifest).unwrap();
    assert_eq!(digest, sha256_file(&manifest_path));
    Image { manifest: manifest.into_bytes(), digest, layer: layer_json }
}
