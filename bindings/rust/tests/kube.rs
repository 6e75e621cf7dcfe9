//! The Kubernetes binding against the test cluster of tests/services/up.
mod common;

use std::path::PathBuf;

use common::*;
use kiln::json::Value;
use kiln::{Code, Kube};

/// The test cluster's client and a fresh namespace, deleted on drop.
struct Cluster {
    kube: Kube,
    ns: String,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn new(tag: &str) -> Option<Cluster> {
        let kubeconfig = PathBuf::from(service("KUBECONFIG")?);
        let kube = Kube::open(Some(&kubeconfig), None, None).unwrap();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let ns = format!("kiln-rust-{tag}-{}-{}", std::process::id(), nanos % 1_000_000);
        kube.apply(&format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#), None, None)
            .unwrap();
        Some(Cluster { kube, ns, kubeconfig })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kube.delete("v1", "Namespace", None, &self.ns, Some(r#"{"ignoreNotFound": true}"#), None);
    }
}

#[test]
fn apply_get_delete() {
    let Some(c) = Cluster::new("crud") else { return };
    let ns = Some(c.ns.as_str());
    assert!(!c.kube.namespace().is_empty());
    let stored = parse(
        &c.kube
            .apply(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rs"},"data":{"a":"1"}}"#, ns, None)
            .unwrap(),
    );
    let meta = stored.get("metadata").unwrap();
    assert_eq!(str_of(meta, "namespace"), c.ns);
    assert!(!str_of(meta, "uid").is_empty());
    let got = parse(&c.kube.get("v1", "ConfigMap", ns, "rs", None).unwrap());
    assert_eq!(got.get("data").and_then(|d| d.get("a")).and_then(Value::as_str), Some("1"));
    c.kube.delete("v1", "ConfigMap", ns, "rs", None, None).unwrap();

    let err = c.kube.get("v1", "ConfigMap", ns, "rs", None).unwrap_err();
    assert_eq!((err.code(), err.http_status(), err.remote_code()), (Code::NOT_FOUND, 404, "NotFound"), "{err}");
    let err =
        c.kube.apply(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#, ns, None).unwrap_err();
    assert_eq!((err.code(), err.remote_code()), (Code::INVALID, "Invalid"), "{err}");
    assert!(err.message().contains("metadata.name"), "{err}");
    let err = Kube::open(Some(&c.kubeconfig), Some("no-such-context"), None).err().unwrap();
    assert_eq!(err.code(), Code::NOT_FOUND);
    assert!(err.message().contains("no-such-context"), "{err}");
}

#[test]
fn exec_with_stdin() {
    let Some(c) = Cluster::new("exec") else { return };
    let ns = Some(c.ns.as_str());
    c.kube
        .apply(
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rs"},"spec":{"terminationGracePeriodSeconds":1,
               "containers":[{"name":"main","image":"kiln-test/busybox:latest","imagePullPolicy":"IfNotPresent",
               "command":["sleep","3600"]}]}}"#,
            ns,
            None,
        )
        .unwrap();
    // Wait for the kubelet to start the pod; the test's own timeout bounds this.
    loop {
        let pod = parse(&c.kube.get("v1", "Pod", ns, "rs", None).unwrap());
        if pod.get("status").and_then(|s| s.get("phase")).and_then(Value::as_str) == Some("Running") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let payload: Vec<u8> = (0..=255u8).cycle().take(256 * 1024).collect();
    let out = c.kube.exec(ns, "rs", None, &["sh", "-c", "cat; echo bye >&2; exit 3"], &payload, None).unwrap();
    assert_eq!(out.exit_code, 3);
    assert!(out.stdout == payload, "stdout has {} bytes", out.stdout.len());
    assert_eq!(out.stderr, b"bye\n");
    let out = c.kube.exec(ns, "rs", Some("main"), &["true"], &[], None).unwrap();
    assert_eq!((out.exit_code, out.stdout.len()), (0, 0));
    assert_eq!(c.kube.exec(ns, "rs", None, &[], &[], None).unwrap_err().code(), Code::INVALID);
}
