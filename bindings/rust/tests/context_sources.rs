//! Tarball and in-memory contexts: the same tree as a directory, as GNU tar
//! archives and as `Files` gives the same entries and version.
mod common;

use std::os::unix::fs::{symlink, PermissionsExt};

use common::*;
use kiln::json::Value;
use kiln::{Code, Context, Files};

fn make_tree(dir: &TempDir) -> std::path::PathBuf {
    let root = dir.join("tree");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /ctx/\n").unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(root.join("src/main.rs"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(root.join("target/debug/app"), "binary").unwrap();
    std::fs::write(root.join(".dockerignore"), "target\n.dockerignore\n").unwrap();
    symlink("src/main.rs", root.join("link")).unwrap();
    root
}

fn tree_files() -> Files {
    let mut files = Files::new();
    files
        .add("Dockerfile", b"FROM scratch\nCOPY . /ctx/\n", 0o644, 0)
        .unwrap()
        .add("src/main.rs", b"fn main() {}\n", 0o644, 0)
        .unwrap()
        .add("run.sh", b"#!/bin/sh\n", 0o755, 0)
        .unwrap()
        .add("target/debug/app", b"binary", 0o644, 1_600_000_000)
        .unwrap()
        .add(".dockerignore", b"target\n.dockerignore\n", 0o644, 0)
        .unwrap()
        .add_symlink("link", "src/main.rs", 0)
        .unwrap();
    files
}

/// (path, type, mode) of every entry, in stream order.
fn entries(ctx: &Context) -> Vec<(String, String, i64)> {
    let doc = parse(&ctx.files(None, None).unwrap());
    doc.get("entries")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_of(e, "path").to_string(),
                str_of(e, "type").to_string(),
                e.get("mode").and_then(Value::as_i64).unwrap(),
            )
        })
        .collect()
}

fn version(ctx: &Context) -> String {
    str_of(&parse(&ctx.version(Some(r#"{"target": "prod"}"#), None, None).unwrap()), "version").to_string()
}

fn assert_same(ctx: &Context, dir: &Context) {
    assert_eq!(entries(ctx), entries(dir));
    assert_eq!(version(ctx), version(dir));
}

#[test]
fn tarballs_match_the_directory() {
    let tmp = TempDir::new("ctx-tarball");
    let root = make_tree(&tmp);
    let dir = Context::open(&root, None).unwrap();
    assert_eq!(entries(&dir).len(), 6);
    for (flags, name) in [("-cf", "ctx.tar"), ("-czf", "ctx.tar.gz")] {
        let archive = tmp.join(name);
        run("tar", &[flags, archive.to_str().unwrap(), "-C", root.to_str().unwrap(), "."]);
        let ctx = Context::open_tarball(&archive, Some(r#"{"dockerfile": "Dockerfile"}"#)).unwrap();
        assert_same(&ctx, &dir);
        ctx.rescan(); // nothing to forget
        assert_same(&ctx, &dir);
        let mut data = std::fs::read(&archive).unwrap();
        let ctx = Context::open_tarball_bytes(&data, None).unwrap();
        data.iter_mut().for_each(|b| *b = 0); // kiln holds its own copy
        assert_same(&ctx, &dir);
    }
}

#[test]
fn tarball_bad_input() {
    let tmp = TempDir::new("ctx-tarball-bad");
    let root = make_tree(&tmp);
    let archive = tmp.join("ctx.tar.gz");
    run("tar", &["-czf", archive.to_str().unwrap(), "-C", root.to_str().unwrap(), "."]);
    let data = std::fs::read(&archive).unwrap();
    let err = Context::open_tarball_bytes(&data[..data.len() / 2], None).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    assert!(err.message().contains("truncated"), "{}", err.message());
    let err = Context::open_tarball_bytes(&b"not a tar archive ".repeat(64), None).err().unwrap();
    assert_eq!(err.code(), Code::INVALID);
    let err = Context::open_tarball(&tmp.join("missing.tar"), None).err().unwrap();
    assert_eq!(err.code(), Code::NOT_FOUND);
    assert!(err.message().contains("missing.tar"), "{}", err.message());
    let err = Context::open_tarball(&archive, Some(r#"{"maxBytes": 100}"#)).err().unwrap();
    assert_eq!(err.code(), Code::TOO_LARGE);
    let err = Context::open_tarball(&archive, Some(r#"{"threads": 2}"#)).err().unwrap();
    assert!(err.message().contains("'threads'"), "{}", err.message());
}

#[test]
fn files_in_memory_match_the_directory_and_stream_exactly_them() {
    let tmp = TempDir::new("ctx-files-mem");
    let root = make_tree(&tmp);
    let dir = Context::open(&root, None).unwrap();
    let mut files = tree_files();
    let ctx = Context::open_files(&files, None).unwrap();
    assert_same(&ctx, &dir);
    let tar = tmp.join("memory.tar");
    ctx.write_tar_file(&std::fs::File::create(&tar).unwrap(), None, None, None).unwrap();
    let listed: Vec<String> =
        String::from_utf8(run("tar", &["-tf", tar.to_str().unwrap()])).unwrap().lines().map(str::to_string).collect();
    assert_eq!(listed, [".dockerignore", "Dockerfile", "link", "run.sh", "src/", "src/main.rs"]);
    // The set stays usable after open; the first context keeps its copy.
    files.add_dir("cache", 0o700, 0).unwrap();
    let again = Context::open_files(&files, None).unwrap();
    drop(files);
    assert!(entries(&again).contains(&("cache".to_string(), "dir".to_string(), 0o700)));
    assert_same(&ctx, &dir);
}

#[test]
fn files_bad_input_names_the_path() {
    for bad in ["../evil", "/etc/passwd", "a/../../evil"] {
        let mut files = tree_files();
        files.add(bad, b"x", 0o644, 0).unwrap();
        let err = Context::open_files(&files, None).err().unwrap();
        assert_eq!(err.code(), Code::INVALID);
        assert!(err.message().contains(bad), "{}", err.message());
    }
    let mut files = Files::new();
    let err = files.add("Dockerfile", b"x", 0o100644, 0).err().unwrap();
    assert!(err.message().contains("'Dockerfile'"), "{}", err.message());
    files.add("app", b"x", 0o644, 0).unwrap();
    assert_eq!(Context::open_files(&files, None).err().unwrap().code(), Code::NOT_FOUND);
    assert_eq!(files.add("nul\0byte", b"x", 0o644, 0).err().unwrap().code(), Code::INVALID);
}
