package kiln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestVersionMatchesHeader(t *testing.T) {
	want := fmt.Sprintf("%d.%d.%d", HeaderVersionMajor, HeaderVersionMinor, HeaderVersionPatch)
	if got := Version(); got != want {
		t.Fatalf("libkiln says %q, kiln.h says %q", got, want)
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "layout")
	reg, err := OpenRegistry("oci:"+layout, Options{"create": true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	manifest, digest, layer := pushImage(t, reg, "", "v1", 200_000)
	if digest != sha(manifest) || layer.Size != 200_000 || layer.MediaType != "application/vnd.oci.image.layer.v1.tar" {
		t.Fatalf("digest %s (want %s), layer %+v", digest, sha(manifest), layer)
	}
	desc, err := reg.Resolve(ctx, "", "v1")
	if err != nil || desc.Digest != digest || desc.MediaType != ociManifest || desc.Size != int64(len(manifest)) {
		t.Fatalf("resolve: %+v %v", desc, err)
	}
	if tags, err := reg.Tags(ctx, ""); err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	if repos, err := reg.Catalog(ctx); err != nil || len(repos) != 1 || repos[0] != "" {
		t.Fatalf("catalog: %q %v", repos, err)
	}
	data, mediaType, err := reg.GetManifest(ctx, "", "v1")
	if err != nil || !bytes.Equal(data, manifest) || mediaType != ociManifest {
		t.Fatalf("get manifest: %q %q %v", data, mediaType, err)
	}
	img, err := reg.Inspect(ctx, "", digest)
	if err != nil {
		t.Fatal(err)
	}
	if img.Platform != "linux/arm64" || img.Digest != digest || len(img.Layers) != 1 || img.Layers[0].Size != 200_000 ||
		img.Config == nil || img.TotalSize != int64(len(manifest))+img.Config.Size+200_000 {
		t.Fatalf("inspect: %+v", img)
	}
	// Independent check: skopeo reads the same bytes from the layout.
	if raw := skopeo(t, "inspect", "--raw", "oci:"+layout+":v1"); !bytes.Equal(raw, manifest) {
		t.Fatalf("skopeo sees %q", raw)
	}
	if deleted, err := reg.Delete(ctx, "", "v1"); err != nil || deleted != digest {
		t.Fatalf("delete: %s %v", deleted, err)
	}
	_, err = reg.Resolve(ctx, "", "v1")
	wantCode(t, err, CodeNotFound, "v1")
	if !errors.Is(err, &Error{Code: CodeNotFound}) || !IsCode(fmt.Errorf("wrapped: %w", err), CodeNotFound) {
		t.Fatalf("errors.Is/IsCode do not match %v", err)
	}
}

func TestCopyEventsAndCancellation(t *testing.T) {
	dir := t.TempDir()
	src := "oci:" + filepath.Join(dir, "src")
	reg, err := OpenRegistry(src, Options{"create": true})
	if err != nil {
		t.Fatal(err)
	}
	_, digest, _ := pushImage(t, reg, "", "v1", 3_000_000)
	reg.Close()

	var mu sync.Mutex // events arrive on kiln's worker threads
	var kinds []string
	res, err := Copy(context.Background(), src+":v1", "oci:"+filepath.Join(dir, "copy")+":c",
		Options{"parallelBlobs": 2, "extraTags": []string{"latest"}}, func(e Event) error {
			var details struct{ Digest string }
			if err := e.Decode(&details); err != nil {
				return err
			}
			if strings.HasPrefix(e.Type, "blob.") && !strings.HasPrefix(details.Digest, "sha256:") {
				return fmt.Errorf("event %s without a digest: %s", e.Type, e.JSON)
			}
			mu.Lock()
			kinds = append(kinds, e.Type)
			mu.Unlock()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest || res.BlobsCopied != 2 || res.ManifestsPut < 1 || res.BytesCopied < 3_000_000 {
		t.Fatalf("copy result %+v", res)
	}
	starts := 0
	for _, k := range kinds {
		if k == "blob.start" {
			starts++
		}
	}
	if starts != 2 || kinds[len(kinds)-1] != "copy.done" {
		t.Fatalf("events %v", kinds)
	}
	var seen struct{ Digest string }
	if err := json.Unmarshal(skopeo(t, "inspect", "oci:"+filepath.Join(dir, "copy")+":latest"), &seen); err != nil || seen.Digest != digest {
		t.Fatalf("skopeo sees %+v %v", seen, err)
	}

	// The callback's own error stops the copy and comes back unchanged.
	stop := errors.New("stop here")
	_, err = Copy(context.Background(), src+":v1", "oci:"+filepath.Join(dir, "c2")+":x", nil, func(e Event) error {
		if e.Type == "blob.start" {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("want the callback's error, got %v", err)
	}

	// A context cancelled while the copy runs (from its first event) triggers
	// the kiln_cancel token from the watcher goroutine; the callback waits
	// for that, so kiln sees the token at its next check.
	ctx, cancel := context.WithCancel(context.Background())
	triggered := make(chan struct{})
	cancelTriggered = func() { close(triggered) }
	defer func() { cancelTriggered = nil }()
	var once sync.Once
	_, err = Copy(ctx, src+":v1", "oci:"+filepath.Join(dir, "c3")+":x", Options{"parallelBlobs": 1}, func(e Event) error {
		once.Do(func() {
			cancel()
			<-triggered
		})
		return nil
	})
	wantCode(t, err, CodeCancelled, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("errors.Is(%v, context.Canceled) is false", err)
	}

	// A deadline already past: kiln is never asked to start.
	past, cancelPast := context.WithDeadline(context.Background(), timeZero())
	defer cancelPast()
	_, err = Copy(past, src+":v1", "oci:"+filepath.Join(dir, "c4")+":x", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !IsCode(err, CodeCancelled) {
		t.Fatalf("want a cancelled error matching DeadlineExceeded, got %v", err)
	}

	// A panicking callback cancels the copy and the panic reaches the caller.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("want the callback's panic, got %v", r)
			}
		}()
		_, _ = Copy(context.Background(), src+":v1", "oci:"+filepath.Join(dir, "c5")+":x", nil, func(Event) error { panic("boom") })
		t.Fatal("Copy returned although its callback panicked")
	}()
}

func TestBadInputIsAClearError(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenRegistry("127.0.0.1:1", Options{"caFiel": "x"})
	wantCode(t, err, CodeInvalid, "caFiel")
	_, err = OpenRegistry("oci:"+filepath.Join(dir, "missing"), nil)
	wantCode(t, err, CodeNotFound, "")
	_, err = OpenRegistry("127.0.0.1:1", Options{"bad": func() {}})
	wantCode(t, err, CodeInvalid, "JSON")
	_, err = Copy(context.Background(), "localhost/Upper:tag", "oci:"+filepath.Join(dir, "x")+":y", nil, nil)
	wantCode(t, err, CodeInvalid, "")

	layout := filepath.Join(dir, "layout")
	reg, err := OpenRegistry("oci:"+layout, Options{"create": true})
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "blob")
	if err := os.WriteFile(blob, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = reg.PushBlobFile(context.Background(), "", blob, BlobOptions{Digest: "sha256:" + strings.Repeat("0", 64)})
	wantCode(t, err, CodeDigest, "")
	if left, _ := os.ReadDir(filepath.Join(layout, "blobs", "sha256")); len(left) != 0 {
		t.Fatalf("a mismatching blob was kept: %v", left)
	}
	_, err = reg.PushBlobFile(context.Background(), "", filepath.Join(dir, "nope"), BlobOptions{})
	wantCode(t, err, CodeIO, "nope")
	reg.Close()
	reg.Close() // idempotent
	_, err = reg.Tags(context.Background(), "")
	wantCode(t, err, CodeInvalid, "closed")
}

func TestRemoteRegistry(t *testing.T) {
	host := service(t, "KILN_TEST_REGISTRY")
	ctx := context.Background()
	repo := fmt.Sprintf("kiln-go/app-%d", os.Getpid())
	reg, err := OpenRegistry(host, Options{"insecureRegistries": []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	manifest, digest, _ := pushImage(t, reg, repo, "v1", 300_000)
	if d, err := reg.Resolve(ctx, repo, "v1"); err != nil || d.Digest != digest {
		t.Fatalf("resolve: %+v %v", d, err)
	}
	res, err := Copy(ctx, host+"/"+repo+":v1", host+"/"+repo+"-copy:v2", Options{"insecureRegistries": []string{host}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest || res.BlobsMounted != 2 {
		t.Fatalf("copy within one registry should mount both blobs: %+v", res)
	}
	if raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/"+repo+"-copy:v2"); !bytes.Equal(raw, manifest) {
		t.Fatalf("skopeo sees %q", raw)
	}
	if tags, err := reg.Tags(ctx, repo); err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	if img, err := reg.Inspect(ctx, repo+"-copy", "v2"); err != nil || img.Platform != "linux/arm64" || img.Layers[0].Size != 300_000 {
		t.Fatalf("inspect: %+v %v", img, err)
	}
	if deleted, err := reg.Delete(ctx, repo, "v1"); err != nil || deleted != digest {
		t.Fatalf("delete: %s %v", deleted, err)
	}
	_, _, err = reg.GetManifest(ctx, repo, "v1")
	e := wantCode(t, err, CodeNotFound, "")
	if e.HTTPStatus != 404 || e.RemoteCode != "MANIFEST_UNKNOWN" {
		t.Fatalf("want HTTP 404 MANIFEST_UNKNOWN, got %d %q (%s)", e.HTTPStatus, e.RemoteCode, e.Message)
	}
	if _, err := reg.Delete(ctx, repo+"-copy", "v2"); err != nil {
		t.Fatal(err)
	}
}

// Calls from many goroutines share one handle; Close waits for the calls in
// flight, and later calls get a clear error instead of touching freed memory.
func TestRegistryConcurrentUseAndClose(t *testing.T) {
	reg, err := OpenRegistry("oci:"+filepath.Join(t.TempDir(), "layout"), Options{"create": true})
	if err != nil {
		t.Fatal(err)
	}
	_, digest, _ := pushImage(t, reg, "", "v1", 1000)
	var wg sync.WaitGroup
	failures := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				d, err := reg.Resolve(context.Background(), "", "v1")
				if IsCode(err, CodeInvalid) && strings.Contains(err.Error(), "closed") {
					return
				}
				if err != nil || d.Digest != digest {
					failures <- fmt.Errorf("resolve: %+v %v", d, err)
					return
				}
			}
		}()
	}
	reg.Close()
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if _, err := reg.Resolve(context.Background(), "", "v1"); !IsCode(err, CodeInvalid) {
		t.Fatalf("a call after Close: %v", err)
	}
}
