//! List pages, writes, watch, logs, waits and streaming exec of the
//! Kubernetes binding, against the test cluster of tests/services/up.
mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use kiln::json::Value;
use kiln::{Cancel, Code, Kube, LogLine, EXEC_MAX_OUTPUT};

struct Cluster {
    kube: Kube,
    ns: String,
}

impl Cluster {
    fn new(tag: &str) -> Option<Cluster> {
        let kubeconfig = PathBuf::from(service("KUBECONFIG")?);
        let kube = Kube::open(Some(&kubeconfig), None, None).unwrap();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let ns = format!("kiln-rust-{tag}-{}-{}", std::process::id(), nanos % 1_000_000);
        kube.apply(&format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#), None, None)
            .unwrap();
        Some(Cluster { kube, ns })
    }

    fn ns(&self) -> Option<&str> {
        Some(self.ns.as_str())
    }

    fn pod(&self, name: &str, script: &str) {
        let doc = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}"}},"spec":{{"restartPolicy":"Never",
               "terminationGracePeriodSeconds":1,"containers":[{{"name":"main","image":"kiln-test/busybox:latest",
               "imagePullPolicy":"IfNotPresent","command":["sh","-c","{script}"]}}]}}}}"#
        );
        self.kube.apply(&doc, self.ns(), None).unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kube.delete("v1", "Namespace", None, &self.ns, Some(r#"{"ignoreNotFound": true}"#), None);
    }
}

fn configmap(name: &str) -> String {
    format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","labels":{{"kiln-test":"rs"}}}}}}"#)
}

fn name_of(object: &Value) -> String {
    str_of(object.get("metadata").unwrap(), "name").to_string()
}

#[test]
fn list_pages_and_writes() {
    let Some(c) = Cluster::new("list") else { return };
    for i in 0..7 {
        c.kube.create(&configmap(&format!("cm-{i}")), c.ns(), None).unwrap();
    }
    let (mut token, mut sizes, mut names) = (String::new(), Vec::new(), Vec::new());
    loop {
        let options = if token.is_empty() {
            r#"{"labelSelector":"kiln-test=rs","limit":3}"#.to_string()
        } else {
            format!(r#"{{"labelSelector":"kiln-test=rs","limit":3,"continue":"{token}"}}"#)
        };
        let page = parse(&c.kube.list("v1", "ConfigMap", c.ns(), Some(&options), None).unwrap());
        assert_eq!(str_of(&page, "kind"), "ConfigMapList");
        let items = page.get("items").and_then(Value::as_array).unwrap();
        sizes.push(items.len());
        names.extend(items.iter().map(name_of));
        token = page.get("metadata").and_then(|m| m.get("continue")).and_then(Value::as_str).unwrap_or("").to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    names.sort();
    assert_eq!(names, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());

    let err = c.kube.create(&configmap("cm-0"), c.ns(), None).unwrap_err();
    assert_eq!((err.code(), err.remote_code()), (Code::CONFLICT, "AlreadyExists"), "{err}");
    let patched = c.kube.patch("v1", "ConfigMap", c.ns(), "cm-0", r#"{"data":{"p":"q"}}"#, None).unwrap();
    assert!(patched.contains(r#""p":"q""#), "{patched}");
    let replaced = c.kube.replace(&configmap("cm-0"), c.ns(), None).unwrap();
    assert!(!replaced.contains(r#""p":"q""#), "{replaced}");
    let err = c.kube.list("v1", "ConfigMap", c.ns(), Some(r#"{"limit":true}"#), None).unwrap_err();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("options_json: field 'limit' must be"), "{err}");
}

#[test]
fn watch_sees_changes_and_stops() {
    let Some(c) = Cluster::new("watch") else { return };
    c.kube.create(&configmap("seed"), c.ns(), None).unwrap();
    let (primed_tx, primed_rx) = mpsc::channel::<()>();
    let mut seen = Vec::new();
    let (kube, ns) = (&c.kube, c.ns());
    std::thread::scope(|scope| {
        let changer = scope.spawn(move || {
            primed_rx.recv_timeout(Duration::from_secs(120)).unwrap();
            kube.create(&configmap("w"), ns, None).unwrap();
            kube.patch("v1", "ConfigMap", ns, "w", r#"{"data":{"k":"v"}}"#, None).unwrap();
            kube.delete("v1", "ConfigMap", ns, "w", None, None).unwrap();
        });
        let result = c
            .kube
            .watch(
                "v1",
                "ConfigMap",
                c.ns(),
                Some(r#"{"labelSelector":"kiln-test=rs"}"#),
                &mut |kind, object| {
                    let name = name_of(&parse(object));
                    if name == "seed" {
                        let _ = primed_tx.send(());
                    }
                    seen.push(format!("{kind} {name}"));
                    kind != "DELETED"
                },
                None,
            )
            .unwrap();
        changer.join().unwrap();
        assert!(!str_of(&parse(&result), "resourceVersion").is_empty(), "{result}");
    });
    assert_eq!(seen, vec!["ADDED seed", "ADDED w", "MODIFIED w", "DELETED w"]);

    let cancel = Cancel::new();
    let err = c.kube.watch(
        "v1",
        "ConfigMap",
        c.ns(),
        None,
        &mut |_, _| {
            cancel.trigger();
            true
        },
        Some(&cancel),
    );
    assert_eq!(err.unwrap_err().code(), Code::CANCELLED);
    let err = c.kube.watch("v1", "ConfigMap", c.ns(), Some(r#"{"deadlineMs":1500}"#), &mut |_, _| true, None);
    assert_eq!(err.unwrap_err().code(), Code::TIMEOUT);
}

#[test]
fn logs_and_waits() {
    let Some(c) = Cluster::new("logs") else { return };
    c.pod("printer", "for i in 1 2 3; do echo line $i; done");
    let pod = parse(&c.kube.wait_pod(c.ns(), "printer", "phase=Succeeded", Duration::from_secs(180), None).unwrap());
    assert_eq!(str_of(pod.get("status").unwrap(), "phase"), "Succeeded");
    let mut lines: Vec<LogLine> = Vec::new();
    c.kube
        .logs(
            c.ns(),
            "printer",
            None,
            &mut |l| {
                lines.push(l.clone());
                true
            },
            None,
        )
        .unwrap();
    assert_eq!(lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["line 1", "line 2", "line 3"]);
    assert!(lines.iter().all(|l| l.container == "main" && l.restart == 0 && l.timestamp.is_none()), "{lines:?}");

    c.pod("ticker", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done");
    let mut followed = Vec::new();
    c.kube
        .logs(
            c.ns(),
            "ticker",
            Some(r#"{"follow":true,"timestamps":true}"#),
            &mut |l| {
                assert!(l.timestamp.is_some());
                followed.push(l.line.clone());
                followed.len() < 2
            },
            None,
        )
        .unwrap();
    assert_eq!(followed, ["tick 1", "tick 2"]);
    let err = c.kube.wait_pod(c.ns(), "ticker", "phase=Succeeded", Duration::from_millis(1500), None).unwrap_err();
    assert_eq!(err.code(), Code::TIMEOUT, "{err}");
}

/// n pseudo-random bytes, the same for the same seed.
struct Pattern {
    state: u64,
    left: usize,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left);
        for b in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = (self.state >> 24) as u8;
        }
        self.left -= n;
        Ok(n)
    }
}

/// Compares what it is written against a Pattern.
struct Checker {
    expected: Pattern,
    received: usize,
    mismatches: usize,
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut want = vec![0u8; buf.len()];
        self.expected.read_exact(&mut want)?;
        self.mismatches += want.iter().zip(buf).filter(|(a, b)| a != b).count();
        self.received += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(std::io::ErrorKind::Other, "disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn exec_stream_moves_10_mb() {
    let Some(c) = Cluster::new("stream") else { return };
    c.pod("shell", "sleep 3600");
    c.kube.wait_pod(c.ns(), "shell", "phase=Running", Duration::from_secs(180), None).unwrap();
    const SIZE: usize = 10 << 20;
    let mut input = Pattern { state: 0x1234_5678_9abc_def1, left: SIZE };
    let mut checker =
        Checker { expected: Pattern { state: 0x1234_5678_9abc_def1, left: SIZE }, received: 0, mismatches: 0 };
    let mut stderr = Vec::new();
    let code = c
        .kube
        .exec_stream(
            c.ns(),
            "shell",
            None,
            &["sh", "-c", "cat; echo done >&2; exit 4"],
            None,
            Some(&mut input),
            Some(&mut checker),
            Some(&mut stderr),
            None,
        )
        .unwrap();
    assert_eq!((code, checker.received, checker.mismatches), (4, SIZE, 0));
    assert_eq!(stderr, b"done\n");
    let err = c.kube.exec_stream(c.ns(), "shell", None, &["echo", "hi"], None, None, Some(&mut Full), None, None);
    let err = err.unwrap_err();
    assert_eq!(err.code(), Code::IO);
    assert!(err.message().contains("disk full"), "{err}");
    assert_eq!(EXEC_MAX_OUTPUT, 64 << 20);
}
