package kiln

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"
)

// testKube opens the test cluster of tests/services/up and a fresh namespace.
func testKube(t *testing.T) (*Kube, string) {
	t.Helper()
	kubeconfig := service(t, "KUBECONFIG")
	k, err := OpenKube(kubeconfig, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("kiln-go-%06d", rand.New(rand.NewSource(time.Now().UnixNano())).Intn(1000000))
	if _, err := k.Apply(context.Background(), map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.Delete(context.Background(), "v1", "Namespace", "", ns, Options{"ignoreNotFound": true})
		k.Close()
	})
	return k, ns
}

func TestKubeApplyGetDelete(t *testing.T) {
	k, ns := testKube(t)
	ctx := context.Background()
	if k.Namespace() == "" {
		t.Fatal("no default namespace")
	}
	stored, err := k.Apply(ctx, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"go"},"data":{"a":"1"}}`, ns)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Metadata struct{ Namespace, UID string }
		Data     map[string]string
	}
	if err := json.Unmarshal(stored, &cm); err != nil || cm.Data["a"] != "1" || cm.Metadata.Namespace != ns || cm.Metadata.UID == "" {
		t.Fatalf("stored %s (%v)", stored, err)
	}
	got, err := k.Get(ctx, "v1", "ConfigMap", ns, "go")
	if err != nil || !bytes.Contains(got, []byte(`"a":"1"`)) {
		t.Fatalf("get: %s %v", got, err)
	}
	if err := k.Delete(ctx, "v1", "ConfigMap", ns, "go", nil); err != nil {
		t.Fatal(err)
	}
	_, err = k.Get(ctx, "v1", "ConfigMap", ns, "go")
	if e := wantCode(t, err, CodeNotFound, ""); e.RemoteCode != "NotFound" || e.HTTPStatus != 404 {
		t.Fatalf("want a 404 NotFound, got %d %q", e.HTTPStatus, e.RemoteCode)
	}
	_, err = k.Apply(ctx, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "Bad_Name"}}, ns)
	if e := wantCode(t, err, CodeInvalid, "metadata.name"); e.RemoteCode != "Invalid" {
		t.Fatalf("want reason Invalid, got %q", e.RemoteCode)
	}
	_, err = OpenKube(os.Getenv("KUBECONFIG"), "no-such-context", nil)
	wantCode(t, err, CodeNotFound, "no-such-context")
	_, err = OpenKube(os.Getenv("KUBECONFIG"), "", Options{"fieldValidation": 3})
	wantCode(t, err, CodeInvalid, "fieldValidation")
}

func TestKubeExecWithStdin(t *testing.T) {
	k, ns := testKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := k.Apply(ctx, map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "go"},
		"spec": map[string]any{"terminationGracePeriodSeconds": 1, "containers": []any{map[string]any{
			"name": "main", "image": "kiln-test/busybox:latest", "imagePullPolicy": "IfNotPresent",
			"command": []string{"sleep", "3600"}}}},
	}, ns)
	if err != nil {
		t.Fatal(err)
	}
	for {
		pod, err := k.Get(ctx, "v1", "Pod", ns, "go")
		if err != nil {
			t.Fatalf("waiting for the pod: %v", err)
		}
		var status struct{ Status struct{ Phase string } }
		if json.Unmarshal(pod, &status) == nil && status.Status.Phase == "Running" {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	payload := bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 1024) // 256 KiB, every byte value
	res, err := k.Exec(ctx, ns, "go", "", []string{"sh", "-c", "cat; echo bye >&2; exit 3"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || !bytes.Equal(res.Stdout, payload) || string(res.Stderr) != "bye\n" {
		t.Fatalf("exit %d, %d bytes out, stderr %q", res.ExitCode, len(res.Stdout), res.Stderr)
	}
	if res, err := k.Exec(ctx, ns, "go", "main", []string{"true"}, nil); err != nil || res.ExitCode != 0 || len(res.Stdout) != 0 {
		t.Fatalf("true: %+v %v", res, err)
	}
	_, err = k.Exec(ctx, ns, "go", "", nil, nil)
	wantCode(t, err, CodeInvalid, "argv")
}
