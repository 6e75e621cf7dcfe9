package kiln

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"syscall"
	"testing"
)

var wantPaths = []string{".dockerignore", "Dockerfile", "link", "run.sh", "src", "src/app.go"}

// The same entries as tar names (directories end in "/").
var wantTarNames = []string{".dockerignore", "Dockerfile", "link", "run.sh", "src/", "src/app.go"}

// makeTree writes a small build context with ignored parts and a symlink.
func makeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"Dockerfile":          "FROM scratch\nCOPY . /ctx/\n",
		"src/app.go":          "package main\n",
		"run.sh":              "#!/bin/sh\n",
		"node_modules/x/i.js": "x",
		".dockerignore":       "node_modules\n.dockerignore\n",
	}
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src/app.go", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

func openContext(t *testing.T, root string, options Options) *BuildContext {
	t.Helper()
	c, err := OpenContext(root, options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// tarNames reads an archive with Go's own archive/tar (not kiln's word).
func tarNames(t *testing.T, r io.Reader) ([]string, map[string]*tar.Header, map[string]string) {
	t.Helper()
	tr := tar.NewReader(r)
	var names []string
	headers := map[string]*tar.Header{}
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, headers, contents
		}
		if err != nil {
			t.Fatalf("archive/tar cannot read kiln's stream: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		headers[h.Name] = h
		contents[h.Name] = string(data)
	}
}

func TestContextFilesFollowDockerignore(t *testing.T) {
	c := openContext(t, makeTree(t), nil)
	files, err := c.Files(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	byPath := map[string]ContextEntry{}
	for _, e := range files.Entries {
		paths = append(paths, e.Path)
		byPath[e.Path] = e
	}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Fatalf("paths %v, want %v", paths, wantPaths)
	}
	if !byPath[".dockerignore"].Forced || byPath["Dockerfile"].Forced || byPath["src"].Type != "dir" {
		t.Fatalf("entries %+v", files.Entries)
	}
	if link := byPath["link"]; link.Type != "symlink" || link.LinkTarget != "src/app.go" {
		t.Fatalf("link %+v", link)
	}
	if files.Dockerfile != "Dockerfile" || !reflect.DeepEqual(files.IgnorePatterns, []string{"node_modules", ".dockerignore"}) {
		t.Fatalf("files %+v", files)
	}
}

func TestContextVersion(t *testing.T) {
	root := makeTree(t)
	c := openContext(t, root, nil)
	ctx := context.Background()
	v, err := c.Version(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v-[0-9a-f]{10}$`).MatchString(v.Version) || v.Digest[:17] != "sha256:"+v.Version[2:] || v.FilesHashed == 0 {
		t.Fatalf("version %+v", v)
	}
	other, err := c.Version(ctx, Options{"buildArgs": map[string]string{"A": "1"}}, nil)
	if err != nil || other.Version == v.Version {
		t.Fatalf("build args do not change the version: %+v %v", other, err)
	}
	// Same tree elsewhere, same version.
	if again, err := openContext(t, makeTree(t), nil).Version(ctx, nil, nil); err != nil || again.Version != v.Version {
		t.Fatalf("another copy of the tree: %+v %v", again, err)
	}
	if err := os.WriteFile(filepath.Join(root, "src", "app.go"), []byte("package other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Rescan()
	if changed, err := c.Version(ctx, nil, nil); err != nil || changed.Version == v.Version {
		t.Fatalf("a changed file does not change the version: %+v %v", changed, err)
	}
	_, err = c.Version(ctx, Options{"colour": "blue"}, nil)
	wantCode(t, err, CodeInvalid, "colour")
}

func TestContextTarToFileAndWriter(t *testing.T) {
	c := openContext(t, makeTree(t), nil)
	ctx := context.Background()
	f, err := os.Create(filepath.Join(t.TempDir(), "ctx.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.WriteTarFile(ctx, f, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	fromFile, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	names, headers, contents := tarNames(t, bytes.NewReader(fromFile))
	if !reflect.DeepEqual(names, wantTarNames) || headers["run.sh"].Mode&0o777 != 0o755 ||
		headers["link"].Typeflag != tar.TypeSymlink || contents["src/app.go"] != "package main\n" {
		t.Fatalf("archive: %v %+v", names, headers)
	}

	// The same stream through an io.Writer; events on the calling thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	var buf bytes.Buffer
	var done struct{ Files, Bytes int }
	err = c.WriteTar(ctx, &buf, nil, func(e Event) error {
		if got := syscall.Gettid(); got != tid {
			t.Errorf("event %s on thread %d, the caller is on %d", e.Type, got, tid)
		}
		if e.Type == "context.done" {
			return e.Decode(&done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), fromFile) || done.Files != len(wantPaths) || done.Bytes != buf.Len() {
		t.Fatalf("writer got %d bytes (file %d), done %+v", buf.Len(), len(fromFile), done)
	}

	// gzip and zeroMtimes, read back with compress/gzip.
	buf.Reset()
	if err := c.WriteTar(ctx, &buf, Options{"gzip": true, "gzipLevel": 6, "zeroMtimes": true}, nil); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	names, headers, _ = tarNames(t, zr)
	if !reflect.DeepEqual(names, wantTarNames) || headers["Dockerfile"].ModTime.Unix() != 0 {
		t.Fatalf("gzip archive: %v", names)
	}
}

type brokenWriter struct{ err error }

func (w brokenWriter) Write([]byte) (int, error) { return 0, w.err }

func TestContextCancellationAndBadInput(t *testing.T) {
	root := makeTree(t)
	c := openContext(t, root, nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.WriteTar(cancelled, io.Discard, nil, nil)
	wantCode(t, err, CodeCancelled, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match context.Canceled", err)
	}
	full := errors.New("disk full")
	if err := c.WriteTar(context.Background(), brokenWriter{full}, nil, nil); err != full {
		t.Fatalf("want the writer's error, got %v", err)
	}
	stop := errors.New("enough")
	if err := c.WriteTar(context.Background(), io.Discard, nil, func(Event) error { return stop }); err != stop {
		t.Fatalf("want the callback's error, got %v", err)
	}
	err = c.WriteTar(context.Background(), io.Discard, Options{"gzipLevel": 12}, nil)
	wantCode(t, err, CodeInvalid, "gzipLevel")

	_, err = OpenContext(filepath.Join(root, "missing"), nil)
	wantCode(t, err, CodeNotFound, "does not exist")
	_, err = OpenContext(root, Options{"dockerfile": "../Dockerfile"})
	wantCode(t, err, CodeInvalid, "")
	_, err = OpenContext(root, Options{"threads": "two"})
	wantCode(t, err, CodeInvalid, "'threads'")
	if err := os.WriteFile(filepath.Join(root, ".dockerignore"), []byte("[oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenContext(root, nil)
	wantCode(t, err, CodeInvalid, "[oops")
	c.Close()
	_, err = c.Files(context.Background(), nil)
	wantCode(t, err, CodeInvalid, "closed")
}
