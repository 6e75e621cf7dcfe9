package kiln

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// service returns a test service's address from tests/services/up; under
// CI=true a missing service fails the test instead of skipping it.
func service(t *testing.T, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not set: eval \"$(tests/services/up)\" first", name)
	}
	t.Skipf("%s is not set (eval \"$(tests/services/up)\")", name)
	return ""
}

// tool finds an independent checker (skopeo); under CI=true it must exist.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s is not installed", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushImage stores a one-layer linux/arm64 image with random content under
// tag and returns its manifest bytes, digest and layer descriptor.
func pushImage(t *testing.T, reg *Registry, repository, tag string, layerSize int) ([]byte, string, *Descriptor) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	layer := make([]byte, layerSize)
	if _, err := rand.Read(layer); err != nil {
		t.Fatal(err)
	}
	layerPath := filepath.Join(dir, "layer")
	if err := os.WriteFile(layerPath, layer, 0o644); err != nil {
		t.Fatal(err)
	}
	config := []byte(fmt.Sprintf(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, sha(layer)))
	configPath := filepath.Join(dir, "config")
	if err := os.WriteFile(configPath, config, 0o644); err != nil {
		t.Fatal(err)
	}
	layerDesc, err := reg.PushBlobFile(ctx, repository, layerPath, BlobOptions{MediaType: "application/vnd.oci.image.layer.v1.tar"})
	if err != nil {
		t.Fatalf("push layer: %v", err)
	}
	configDesc, err := reg.PushBlobFile(ctx, repository, configPath, BlobOptions{
		MediaType: "application/vnd.oci.image.config.v1+json", Digest: sha(config), Size: int64(len(config))})
	if err != nil {
		t.Fatalf("push config: %v", err)
	}
	manifest, err := json.MarshalIndent(map[string]any{
		"schemaVersion": 2, "mediaType": ociManifest, "config": configDesc, "layers": []*Descriptor{layerDesc},
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := reg.PutManifest(ctx, repository, tag, ociManifest, manifest)
	if err != nil {
		t.Fatalf("put manifest: %v", err)
	}
	return manifest, digest, layerDesc
}

// skopeo runs skopeo with args and returns its standard output.
func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(tool(t, "skopeo"), args...).Output()
	if err != nil {
		if e, ok := err.(*exec.ExitError); ok {
			t.Fatalf("skopeo %v: %v: %s", args, err, e.Stderr)
		}
		t.Fatalf("skopeo %v: %v", args, err)
	}
	return out
}

// wantCode fails unless err is a kiln *Error with code c whose message contains part.
func wantCode(t *testing.T, err error, c Code, part string) *Error {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("want a *kiln.Error %s, got %T %v", c, err, err)
	}
	if e.Code != c || e.Name != c.String() {
		t.Fatalf("want code %s, got %d %s: %s", c, e.Code, e.Name, e.Message)
	}
	if part != "" && !strings.Contains(e.Message, part) {
		t.Fatalf("message %q does not mention %q", e.Message, part)
	}
	return e
}

// timeZero is a deadline long past.
func timeZero() time.Time { return time.Unix(1, 0) }
