package kiln

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

type entryKey struct {
	Path, Type string
	Mode       uint32
}

// sameAsDirectory fails unless c has the directory's entries and version.
func sameAsDirectory(t *testing.T, c *BuildContext, root string) {
	t.Helper()
	ctx := context.Background()
	keys := func(c *BuildContext) []entryKey {
		files, err := c.Files(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []entryKey
		for _, e := range files.Entries {
			out = append(out, entryKey{e.Path, e.Type, e.Mode})
		}
		return out
	}
	dir := openContext(t, root, nil)
	if got, want := keys(c), keys(dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %v, want the directory's %v", got, want)
	}
	inputs := Options{"target": "prod"}
	got, err := c.Version(ctx, inputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dir.Version(ctx, inputs, nil)
	if err != nil || got.Version != want.Version || got.Digest != want.Digest {
		t.Fatalf("version %+v, want the directory's %+v (%v)", got, want, err)
	}
}

// gnuTar archives root with GNU tar, as a user would.
func gnuTar(t *testing.T, root, flags string) string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "ctx.tar")
	if out, err := exec.Command("tar", flags, archive, "-C", root, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	return archive
}

func treeAsMemoryFiles() map[string]MemoryFile {
	return map[string]MemoryFile{
		"Dockerfile":          {Content: []byte("FROM scratch\nCOPY . /ctx/\n")},
		"src/app.go":          {Content: []byte("package main\n")},
		"run.sh":              {Content: []byte("#!/bin/sh\n"), Mode: 0o755},
		"node_modules/x/i.js": {Content: []byte("x"), Mtime: 1600000000},
		".dockerignore":       {Content: []byte("node_modules\n.dockerignore\n")},
		"link":                {Symlink: "src/app.go"},
	}
}

func TestContextTarball(t *testing.T) {
	root := makeTree(t)
	for _, flags := range []string{"-cf", "-czf"} {
		archive := gnuTar(t, root, flags)
		c, err := OpenContextTarball(archive, Options{"dockerfile": "Dockerfile"})
		if err != nil {
			t.Fatal(err)
		}
		sameAsDirectory(t, c, root)
		c.Rescan() // nothing to forget
		sameAsDirectory(t, c, root)
		c.Close()

		data, err := os.ReadFile(archive)
		if err != nil {
			t.Fatal(err)
		}
		c, err = OpenContextTarballBytes(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			data[i] = 0 // copied by kiln
		}
		sameAsDirectory(t, c, root)
		c.Close()
	}
}

func TestContextTarballBadInput(t *testing.T) {
	data, err := os.ReadFile(gnuTar(t, makeTree(t), "-czf"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenContextTarballBytes(data[:len(data)/2], nil)
	wantCode(t, err, CodeInvalid, "truncated")
	_, err = OpenContextTarballBytes(bytes.Repeat([]byte("not a tar archive "), 64), nil)
	wantCode(t, err, CodeInvalid, "tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "../escape", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("x"))
	tw.Close()
	_, err = OpenContextTarballBytes(buf.Bytes(), nil)
	wantCode(t, err, CodeInvalid, "../escape")
	_, err = OpenContextTarball(filepath.Join(t.TempDir(), "missing.tar"), nil)
	wantCode(t, err, CodeNotFound, "missing.tar")
	_, err = OpenContextTarballBytes(data, Options{"maxBytes": 100})
	wantCode(t, err, CodeTooLarge, "")
	_, err = OpenContextTarballBytes(data, Options{"statCache": "/tmp/x"})
	wantCode(t, err, CodeInvalid, "'statCache'")
}

func TestContextFilesInMemory(t *testing.T) {
	root := makeTree(t)
	c, err := OpenContextFiles(treeAsMemoryFiles(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sameAsDirectory(t, c, root)
	var buf bytes.Buffer
	if err := c.WriteTar(context.Background(), &buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	names, headers, contents := tarNames(t, &buf)
	if !reflect.DeepEqual(names, wantTarNames) {
		t.Fatalf("stream %v, want %v", names, wantTarNames)
	}
	if headers["run.sh"].Mode != 0o755 || contents["src/app.go"] != "package main\n" || headers["link"].Linkname != "src/app.go" {
		t.Fatalf("headers %+v", headers)
	}

	files := treeAsMemoryFiles()
	files["empty"] = MemoryFile{Dir: true, Mode: 0o700}
	c2, err := OpenContextFiles(files, Options{"dockerfile": "./Dockerfile"})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	listing, err := c2.Files(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range listing.Entries {
		found = found || (e.Path == "empty" && e.Type == "dir" && e.Mode == 0o700)
	}
	if !found || listing.Dockerfile != "Dockerfile" {
		t.Fatalf("files %+v", listing)
	}
}

func TestContextFilesBadInput(t *testing.T) {
	for _, bad := range []string{"../evil", "/etc/passwd", "a/../../evil"} {
		files := treeAsMemoryFiles()
		files[bad] = MemoryFile{Content: []byte("x")}
		_, err := OpenContextFiles(files, nil)
		wantCode(t, err, CodeInvalid, bad)
	}
	_, err := OpenContextFiles(map[string]MemoryFile{"app": {Content: []byte("x")}}, nil)
	wantCode(t, err, CodeNotFound, "Dockerfile")
	_, err = OpenContextFiles(map[string]MemoryFile{"Dockerfile": {Content: []byte("x"), Mode: 0o100644}}, nil)
	wantCode(t, err, CodeInvalid, "'Dockerfile'")
	_, err = OpenContextFiles(treeAsMemoryFiles(), Options{"threads": 2})
	wantCode(t, err, CodeInvalid, "'threads'")
}
