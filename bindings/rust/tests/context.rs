//! The build-context binding; archives are read back with GNU tar.
mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, PermissionsExt};

use common::*;
use kiln::json::Value;
use kiln::{Cancel, Code, Context, Event};

const PATHS: [&str; 6] = [".dockerignore", "Dockerfile", "link", "run.sh", "src", "src/main.rs"];

fn make_tree(dir: &TempDir) {
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /ctx/\n").unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("target/debug/app"), "binary").unwrap();
    std::fs::write(root.join(".dockerignore"), "target\n.dockerignore\n").unwrap();
    symlink("src/main.rs", root.join("link")).unwrap();
}

fn paths(files_json: &str) -> Vec<String> {
    let doc = parse(files_json);
    doc.get("entries").and_then(Value::as_array).unwrap().iter().map(|e| str_of(e, "path").to_string()).collect()
}

/// `tar -t` listing (GNU tar, not kiln) of an archive file.
fn tar_list(path: &std::path::Path, gzip: bool) -> Vec<String> {
    let flags = if gzip { "-tzf" } else { "-tf" };
    String::from_utf8(run("tar", &[flags, path.to_str().unwrap()])).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn files_follow_dockerignore() {
    let dir = TempDir::new("ctx-files");
    make_tree(&dir);
    let ctx = Context::open(dir.path(), None).unwrap();
    let files = ctx.files(None, None).unwrap();
    assert_eq!(paths(&files), PATHS);
    let doc = parse(&files);
    assert_eq!(str_of(&doc, "dockerfile"), "Dockerfile");
    assert_eq!(doc.get("ignorePatterns").and_then(Value::as_string_list).unwrap(), ["target", ".dockerignore"]);
    let entries = doc.get("entries").and_then(Value::as_array).unwrap();
    assert_eq!(entries[0].get("forced").and_then(Value::as_bool), Some(true));
    assert_eq!(entries[1].get("forced").and_then(Value::as_bool), Some(false));
    assert_eq!((str_of(&entries[2], "type"), str_of(&entries[2], "linkTarget")), ("symlink", "src/main.rs"));
}

#[test]
fn version_is_stable_and_follows_content() {
    let dir = TempDir::new("ctx-version");
    make_tree(&dir);
    let ctx = Context::open(dir.path(), None).unwrap();
    let v = parse(&ctx.version(None, None, None).unwrap());
    let version = str_of(&v, "version").to_string();
    assert!(version.len() == 12 && version.starts_with("v-"), "{version}");
    assert!(version[2..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{version}");
    assert!(str_of(&v, "digest").starts_with(&format!("sha256:{}", &version[2..])));
    let with_args = parse(&ctx.version(Some(r#"{"buildArgs": {"A": "1"}}"#), None, None).unwrap());
    assert_ne!(str_of(&with_args, "version"), version);

    let other = TempDir::new("ctx-version-other");
    make_tree(&other);
    let again = parse(&Context::open(other.path(), None).unwrap().version(None, None, None).unwrap());
    assert_eq!(str_of(&again, "version"), version, "the same tree elsewhere has the same version");

    std::fs::write(dir.join("src/main.rs"), "fn main() { println!(); }\n").unwrap();
    ctx.rescan();
    let changed = parse(&ctx.version(None, None, None).unwrap());
    assert_ne!(str_of(&changed, "version"), version);
    let err = ctx.version(Some(r#"{"colour": "blue"}"#), None, None).unwrap_err();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("colour"), "{err}");
}

#[test]
fn tar_to_file_and_writer() {
    let dir = TempDir::new("ctx-tar");
    make_tree(&dir);
    let out = TempDir::new("ctx-tar-out");
    let ctx = Context::open(dir.path(), None).unwrap();

    let tar_path = out.join("ctx.tar");
    let mut file = std::fs::File::create(&tar_path).unwrap();
    ctx.write_tar_file(&file, None, None, None).unwrap();
    file.flush().unwrap();
    let listing = tar_list(&tar_path, false);
    assert_eq!(listing, [".dockerignore", "Dockerfile", "link", "run.sh", "src/", "src/main.rs"]);
    let verbose = String::from_utf8(run("tar", &["-tvf", tar_path.to_str().unwrap()])).unwrap();
    assert!(verbose.lines().any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with(" run.sh")), "{verbose}");
    assert!(verbose.lines().any(|l| l.starts_with('l') && l.ends_with("link -> src/main.rs")), "{verbose}");
    let extracted = TempDir::new("ctx-tar-x");
    run("tar", &["-xf", tar_path.to_str().unwrap(), "-C", extracted.path().to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(extracted.join("src/main.rs")).unwrap(), "fn main() {}\n");

    // The same stream into a Write, with events on the calling thread.
    let caller = std::thread::current().id();
    let mut done = None;
    let mut on_event = |e: &Event<'_>| {
        assert_eq!(std::thread::current().id(), caller, "event {} on another thread", e.kind);
        if e.kind == "context.done" {
            done = Some(parse(&e.json));
        }
        true
    };
    let mut bytes = Vec::new();
    ctx.write_tar(&mut bytes, None, Some(&mut on_event), None).unwrap();
    let mut from_file = Vec::new();
    file = std::fs::File::open(&tar_path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut from_file).unwrap();
    assert!(bytes == from_file, "the writer got {} bytes, the file {}", bytes.len(), from_file.len());
    let done = done.expect("no context.done event");
    assert_eq!((int_of(&done, "files"), int_of(&done, "bytes")), (6, bytes.len() as i64));

    // gzip, listed by tar -z.
    let gz_path = out.join("ctx.tar.gz");
    let gz = std::fs::File::create(&gz_path).unwrap();
    ctx.write_tar_file(&gz, Some(r#"{"gzip": true, "gzipLevel": 6, "zeroMtimes": true}"#), None, None).unwrap();
    drop(gz);
    assert_eq!(tar_list(&gz_path, true), listing);
}

struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn cancellation_and_bad_input() {
    let dir = TempDir::new("ctx-bad");
    make_tree(&dir);
    let ctx = Context::open(dir.path(), None).unwrap();
    let cancel = Cancel::new();
    cancel.trigger();
    assert_eq!(ctx.write_tar(&mut std::io::sink(), None, None, Some(&cancel)).unwrap_err().code(), Code::CANCELLED);
    let err = ctx.write_tar(&mut std::io::sink(), None, Some(&mut |_: &Event<'_>| false), None).unwrap_err();
    assert_eq!(err.code(), Code::CANCELLED);

    let err = ctx.write_tar(&mut Broken, None, None, None).unwrap_err();
    assert_eq!(err.code(), Code::IO);
    assert!(err.message().contains("disk full"), "{err}");
    let source = std::error::Error::source(&err).expect("the io::Error is the source");
    assert_eq!(source.to_string(), "disk full");

    let err = ctx.write_tar(&mut std::io::sink(), Some(r#"{"gzipLevel": 12}"#), None, None).unwrap_err();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("gzipLevel"), "{err}");

    let err = Context::open(&dir.join("missing"), None).err().unwrap();
    assert_eq!(err.code(), Code::NOT_FOUND);
    assert!(err.message().contains("does not exist"), "{err}");
    let err = Context::open(dir.path(), Some(r#"{"dockerfile": "../Dockerfile"}"#)).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    let err = Context::open(dir.path(), Some(r#"{"threads": "two"}"#)).err().unwrap();
    assert!(err.message().contains("'threads'"), "{err}");
    std::fs::write(dir.join(".dockerignore"), "[oops\n").unwrap();
    let err = Context::open(dir.path(), None).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("[oops"), "{err}");
}
