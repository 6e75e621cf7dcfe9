package kiln

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"
)

func testPod(t *testing.T, k *Kube, ns, name, script, restartPolicy string) {
	t.Helper()
	_, err := k.Apply(context.Background(), map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"restartPolicy": restartPolicy, "terminationGracePeriodSeconds": 1,
			"containers": []any{map[string]any{"name": "main", "image": "kiln-test/busybox:latest",
				"imagePullPolicy": "IfNotPresent", "command": []string{"sh", "-c", script}}}},
	}, ns)
	if err != nil {
		t.Fatal(err)
	}
}

func configMap(name string, data map[string]any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"kiln-test": "go"}}, "data": data}
}

type objectList struct {
	Kind     string
	Metadata struct{ ResourceVersion, Continue string }
	Items    []struct{ Metadata struct{ Name string } }
}

func TestKubeListPagesAndWrites(t *testing.T) {
	k, ns := testKube(t)
	ctx := context.Background()
	for i := 0; i < 9; i++ {
		if _, err := k.Create(ctx, configMap(fmt.Sprintf("cm-%d", i), map[string]any{"k": "v"}), ns); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	var sizes []int
	token := ""
	for {
		opts := Options{"labelSelector": "kiln-test=go", "limit": 4}
		if token != "" {
			opts["continue"] = token
		}
		raw, err := k.List(ctx, "v1", "ConfigMap", ns, opts)
		if err != nil {
			t.Fatal(err)
		}
		var page objectList
		if err := json.Unmarshal(raw, &page); err != nil || page.Kind != "ConfigMapList" {
			t.Fatalf("page %s (%v)", raw, err)
		}
		sizes = append(sizes, len(page.Items))
		for _, item := range page.Items {
			names[item.Metadata.Name] = true
		}
		if token = page.Metadata.Continue; token == "" {
			break
		}
	}
	if fmt.Sprint(sizes) != "[4 4 1]" || len(names) != 9 {
		t.Fatalf("pages of %v, %d names", sizes, len(names))
	}
	_, err := k.Create(ctx, configMap("cm-0", nil), ns)
	if e := wantCode(t, err, CodeConflict, ""); e.RemoteCode != "AlreadyExists" {
		t.Fatalf("want AlreadyExists, got %q", e.RemoteCode)
	}
	patched, err := k.Patch(ctx, "v1", "ConfigMap", ns, "cm-0", `{"data":{"k":null,"p":"q"}}`)
	if err != nil || !bytes.Contains(patched, []byte(`"p":"q"`)) || bytes.Contains(patched, []byte(`"k":`)) {
		t.Fatalf("patch: %s %v", patched, err)
	}
	replaced, err := k.Replace(ctx, configMap("cm-0", map[string]any{"r": "s"}), ns)
	if err != nil || !bytes.Contains(replaced, []byte(`"r":"s"`)) {
		t.Fatalf("replace: %s %v", replaced, err)
	}
	_, err = k.List(ctx, "v1", "ConfigMap", ns, Options{"limit": "four"})
	wantCode(t, err, CodeInvalid, "options_json: field 'limit' must be")
}

func TestKubeWatch(t *testing.T) {
	k, ns := testKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := k.Create(ctx, configMap("seed", nil), ns); err != nil {
		t.Fatal(err)
	}
	primed := make(chan struct{})
	changed := make(chan error, 1)
	go func() {
		<-primed
		_, err := k.Create(ctx, configMap("w", nil), ns)
		if err == nil {
			_, err = k.Patch(ctx, "v1", "ConfigMap", ns, "w", map[string]any{"data": map[string]any{"k": "v"}})
		}
		if err == nil {
			err = k.Delete(ctx, "v1", "ConfigMap", ns, "w", nil)
		}
		changed <- err
	}()
	var seen []string
	result, err := k.Watch(ctx, "v1", "ConfigMap", ns, Options{"labelSelector": "kiln-test=go"}, func(e WatchEvent) error {
		var o struct{ Metadata struct{ Name string } }
		if err := json.Unmarshal(e.Object, &o); err != nil {
			return err
		}
		seen = append(seen, e.Type+" "+o.Metadata.Name)
		if o.Metadata.Name == "seed" {
			close(primed)
		}
		if e.Type == "DELETED" {
			return ErrStop
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-changed; err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "ADDED seed,ADDED w,MODIFIED w,DELETED w" || result.ResourceVersion == "" {
		t.Fatalf("saw %v, result %+v", seen, result)
	}

	// A callback's own error ends the watch and is returned as is.
	mine := errors.New("enough")
	_, err = k.Watch(ctx, "v1", "ConfigMap", ns, nil, func(WatchEvent) error { return mine })
	if err != mine {
		t.Fatalf("want the callback's error, got %v", err)
	}
	// The context's end cancels a quiet watch.
	quiet, stop := context.WithCancel(ctx)
	_, err = k.Watch(quiet, "v1", "ConfigMap", ns, nil, func(WatchEvent) error { stop(); return nil })
	wantCode(t, err, CodeCancelled, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match context.Canceled", err)
	}
	_, err = k.Watch(ctx, "v1", "ConfigMap", ns, Options{"deadlineMs": 1500}, func(WatchEvent) error { return nil })
	wantCode(t, err, CodeTimeout, "")
}

func TestKubeLogsAndWaits(t *testing.T) {
	k, ns := testKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testPod(t, k, ns, "printer", "for i in 1 2 3; do echo line $i; done", "Never")
	if _, err := k.WaitPod(ctx, ns, "printer", "phase=Succeeded", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	var lines []string
	err := k.Logs(ctx, ns, "printer", nil, func(l LogLine) error {
		if l.Container != "main" || l.Restart != 0 || l.Pod != "printer" {
			return fmt.Errorf("unexpected line %+v", l)
		}
		lines = append(lines, l.Line)
		return nil
	})
	if err != nil || strings.Join(lines, ",") != "line 1,line 2,line 3" {
		t.Fatalf("lines %v, %v", lines, err)
	}
	testPod(t, k, ns, "ticker", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done", "Never")
	lines = nil
	err = k.Logs(ctx, ns, "ticker", Options{"follow": true}, func(l LogLine) error {
		lines = append(lines, l.Line)
		if len(lines) == 2 {
			return ErrStop
		}
		return nil
	})
	if err != nil || strings.Join(lines, ",") != "tick 1,tick 2" {
		t.Fatalf("followed %v, %v", lines, err)
	}
	_, err = k.WaitPod(ctx, ns, "ticker", "phase=Succeeded", 1500*time.Millisecond)
	wantCode(t, err, CodeTimeout, "ticker")
	_, err = k.WaitPod(ctx, ns, "ticker", "Ready", 0)
	wantCode(t, err, CodeInvalid, "condition=")
}

// patterned is an io.Reader of n pseudo-random bytes, hashed as it goes.
type patterned struct {
	rng  *rand.Rand
	left int
}

func (p *patterned) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if len(b) > p.left {
		b = b[:p.left]
	}
	p.rng.Read(b)
	p.left -= len(b)
	return len(b), nil
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestKubeExecStream(t *testing.T) {
	k, ns := testKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	testPod(t, k, ns, "shell", "sleep 3600", "Never")
	if _, err := k.WaitPod(ctx, ns, "shell", "phase=Running", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	const size = 10 << 20
	want := sha256.New()
	if _, err := io.Copy(want, &patterned{rand.New(rand.NewSource(3)), size}); err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	counted := &countingWriter{w: got}
	var stderr bytes.Buffer
	code, err := k.ExecStream(ctx, ns, "shell", "", []string{"sh", "-c", "cat; echo done >&2; exit 5"}, nil,
		&patterned{rand.New(rand.NewSource(3)), size}, counted, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if code != 5 || counted.n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) || stderr.String() != "done\n" {
		t.Fatalf("exit %d, %d bytes, stderr %q, same bytes: %v", code, counted.n, stderr.String(),
			bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	_, err = k.ExecStream(ctx, ns, "shell", "", []string{"echo", "hi"}, nil, nil, failingWriter{}, nil)
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("want the writer's error, got %v", err)
	}
	if ExecMaxOutput != 64<<20 {
		t.Fatalf("ExecMaxOutput is %d", ExecMaxOutput)
	}
}

type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.n += len(b)
	return c.w.Write(b)
}
