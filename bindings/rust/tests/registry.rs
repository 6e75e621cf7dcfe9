//! The registry binding against OCI layouts and the registry of
//! tests/services/up, checked with skopeo and sha256sum.
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use common::*;
use kiln::json::Value;
use kiln::{copy, Cancel, Code, Event, Registry};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn version_matches_header() {
    let (major, minor, patch) = kiln::HEADER_VERSION;
    assert_eq!(kiln::version(), format!("{major}.{minor}.{patch}"));
    assert_send_sync::<Registry>();
    assert_send_sync::<Cancel>();
    assert_send_sync::<kiln::Context>();
    assert_send_sync::<kiln::Kube>();
}

#[test]
fn layout_round_trip() {
    let dir = TempDir::new("layout");
    let layout = dir.oci("layout");
    let reg = Registry::open(&layout, Some(r#"{"create": true}"#)).unwrap();
    let image = push_image(&reg, "", "v1", 200_000);
    assert_eq!(int_of(&image.layer, "size"), 200_000);

    let desc = parse(&reg.resolve("", "v1", None).unwrap());
    assert_eq!(str_of(&desc, "digest"), image.digest);
    assert_eq!(str_of(&desc, "mediaType"), OCI_MANIFEST);
    assert_eq!(int_of(&desc, "size"), image.manifest.len() as i64);
    assert_eq!(reg.tags("", None).unwrap(), vec!["v1".to_string()]);
    assert_eq!(reg.catalog(None).unwrap(), vec![String::new()]);
    let (bytes, media_type) = reg.get_manifest("", "v1", None).unwrap();
    assert_eq!((bytes.as_slice(), media_type.as_str()), (image.manifest.as_slice(), OCI_MANIFEST));

    let info = parse(&reg.inspect("", &image.digest, None).unwrap());
    assert_eq!(str_of(&info, "platform"), "linux/arm64");
    let layers = info.get("layers").and_then(Value::as_array).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(int_of(&layers[0], "size"), 200_000);
    let config_size = int_of(info.get("config").unwrap(), "size");
    assert_eq!(int_of(&info, "totalSize"), image.manifest.len() as i64 + config_size + 200_000);

    // Independent check: skopeo reads the same bytes from the layout.
    assert_eq!(run("skopeo", &["inspect", "--raw", &format!("{layout}:v1")]), image.manifest);

    // A registry is shared between threads.
    let reg = Arc::new(reg);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let reg = Arc::clone(&reg);
            std::thread::spawn(move || parse(&reg.resolve("", "v1", None).unwrap()))
        })
        .collect();
    for t in threads {
        assert_eq!(str_of(&t.join().unwrap(), "digest"), image.digest);
    }

    assert_eq!(reg.delete("", "v1", None).unwrap(), image.digest);
    let err = reg.resolve("", "v1", None).unwrap_err();
    assert_eq!(err.code(), Code::NOT_FOUND);
    assert_eq!(err.name(), "not_found");
    assert!(err.message().contains("v1"), "{err}");
}

#[test]
fn copy_events_and_cancellation() {
    let dir = TempDir::new("copy");
    let src = dir.oci("src");
    let image = {
        let reg = Registry::open(&src, Some(r#"{"create": true}"#)).unwrap();
        push_image(&reg, "", "v1", 3_000_000)
    };

    // Events arrive on kiln's worker threads: the closure is Send.
    let events = Mutex::new(Vec::<(String, String)>::new());
    let mut record = |e: &Event<'_>| {
        events.lock().unwrap().push((e.kind.to_string(), e.json.to_string()));
        true
    };
    let result = copy(
        &format!("{src}:v1"),
        &format!("{}:c", dir.oci("copy")),
        Some(r#"{"parallelBlobs": 2, "extraTags": ["latest"]}"#),
        Some(&mut record),
        None,
    )
    .unwrap();
    let result = parse(&result);
    assert_eq!(str_of(&result, "digest"), image.digest);
    assert_eq!(int_of(&result, "blobsCopied"), 2);
    let events = events.into_inner().unwrap();
    assert_eq!(events.iter().filter(|(k, _)| k == "blob.start").count(), 2);
    assert_eq!(events.last().unwrap().0, "copy.done");
    for (kind, details) in &events {
        if kind.starts_with("blob.") {
            assert!(str_of(&parse(details), "digest").starts_with("sha256:"), "{kind} {details}");
        }
    }
    let seen = parse(&String::from_utf8(run("skopeo", &["inspect", &format!("{}:latest", dir.oci("copy"))])).unwrap());
    assert_eq!(str_of(&seen, "Digest"), image.digest);

    // Returning false cancels.
    let err = copy(
        &format!("{src}:v1"),
        &format!("{}:x", dir.oci("c2")),
        None,
        Some(&mut |e: &Event<'_>| e.kind != "blob.start"),
        None,
    )
    .unwrap_err();
    assert_eq!(err.code(), Code::CANCELLED);

    // A token triggered from a worker thread, during the copy.
    let cancel = Cancel::new();
    let err = copy(
        &format!("{src}:v1"),
        &format!("{}:x", dir.oci("c3")),
        Some(r#"{"parallelBlobs": 1}"#),
        Some(&mut |_: &Event<'_>| {
            cancel.trigger();
            true
        }),
        Some(&cancel),
    )
    .unwrap_err();
    assert_eq!(err.code(), Code::CANCELLED);
    assert!(cancel.is_triggered());

    // A token triggered before the call.
    let cancel = Cancel::new();
    cancel.trigger();
    let err = copy(&format!("{src}:v1"), &format!("{}:x", dir.oci("c4")), None, None, Some(&cancel)).unwrap_err();
    assert_eq!(err.code(), Code::CANCELLED);

    // A panicking callback cancels the copy; the panic resumes in the caller.
    let caught = catch_unwind(AssertUnwindSafe(|| {
        copy(
            &format!("{src}:v1"),
            &format!("{}:x", dir.oci("c5")),
            None,
            Some(&mut |_: &Event<'_>| panic!("boom")),
            None,
        )
    }))
    .unwrap_err();
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = TempDir::new("bad");
    let err = Registry::open("127.0.0.1:1", Some(r#"{"caFiel": "x"}"#)).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("caFiel"), "{err}");
    assert_eq!(err.to_string(), format!("kiln: invalid_argument: {}", err.message()));
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().contains("caFiel"));

    let err = Registry::open(&dir.oci("missing"), None).err().unwrap();
    assert_eq!(err.code(), Code::NOT_FOUND);
    let err = Registry::open("127.0.0.1:1", Some("{not json")).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    let err = Registry::open("host\0evil", None).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("NUL"), "{err}");
    let err = copy("localhost/Upper:tag", &format!("{}:y", dir.oci("x")), None, None, None).unwrap_err();
    assert_eq!(err.code(), Code::INVALID);

    let layout = dir.join("layout");
    let reg = Registry::open(&format!("oci:{}", layout.display()), Some(r#"{"create": true}"#)).unwrap();
    let blob = dir.join("blob");
    std::fs::write(&blob, b"data").unwrap();
    let zero = format!("sha256:{}", "0".repeat(64));
    let err = reg.push_blob_file("", &blob, None, Some(&zero), None, None).unwrap_err();
    assert_eq!(err.code(), Code::DIGEST);
    assert_eq!(std::fs::read_dir(layout.join("blobs/sha256")).unwrap().count(), 0, "a mismatching blob was kept");
    let err = reg.push_blob_file("", &dir.join("nope"), None, None, None, None).unwrap_err();
    assert_eq!(err.code(), Code::IO);
    assert!(err.message().contains("nope"), "{err}");
}

#[test]
fn remote_registry() {
    let Some(host) = service("KILN_TEST_REGISTRY") else { return };
    let repo = format!("kiln-rust/app-{}", std::process::id());
    let options = format!(r#"{{"insecureRegistries": ["{host}"]}}"#);
    let reg = Registry::open(&host, Some(&options)).unwrap();
    let image = push_image(&reg, &repo, "v1", 300_000);
    assert_eq!(str_of(&parse(&reg.resolve(&repo, "v1", None).unwrap()), "digest"), image.digest);

    let result = parse(
        &copy(&format!("{host}/{repo}:v1"), &format!("{host}/{repo}-copy:v2"), Some(&options), None, None).unwrap(),
    );
    assert_eq!(str_of(&result, "digest"), image.digest);
    assert_eq!(int_of(&result, "blobsMounted"), 2, "a copy within one registry mounts the blobs");
    let raw = run("skopeo", &["inspect", "--raw", "--tls-verify=false", &format!("docker://{host}/{repo}-copy:v2")]);
    assert_eq!(raw, image.manifest);
    assert_eq!(reg.tags(&repo, None).unwrap(), vec!["v1".to_string()]);

    assert_eq!(reg.delete(&repo, "v1", None).unwrap(), image.digest);
    let err = reg.get_manifest(&repo, "v1", None).unwrap_err();
    assert_eq!(err.code(), Code::NOT_FOUND);
    assert_eq!((err.http_status(), err.remote_code()), (404, "MANIFEST_UNKNOWN"), "{err}");
    reg.delete(&format!("{repo}-copy"), "v2", None).unwrap();
}
