package kiln

/*
#include <stdint.h>
#include <stdlib.h>
#include <kiln.h>

extern int kilnGoEventC(const kiln_event *event, void *payload);
extern int kilnGoWriteC(const void *data, size_t size, void *payload);
extern int kilnGoReadC(void *buffer, size_t capacity, size_t *filled, void *payload);

static int kiln_go_kube_watch(kiln_kube *kube, const char *api_version, const char *kind, const char *ns,
                              const char *options, uintptr_t events, kiln_cancel *cancel, char **result,
                              kiln_error **err) {
  return kiln_kube_watch(kube, api_version, kind, ns, options, kilnGoEventC, (void *)events, cancel, result, err);
}

static int kiln_go_kube_logs(kiln_kube *kube, const char *ns, const char *pod, const char *options,
                             uintptr_t events, kiln_cancel *cancel, kiln_error **err) {
  return kiln_kube_logs(kube, ns, pod, options, kilnGoEventC, (void *)events, cancel, err);
}

static int kiln_go_kube_exec_stream(kiln_kube *kube, const char *ns, const char *pod, const char *container,
                                    char **argv, size_t argc, const char *options, uintptr_t in, uintptr_t out,
                                    uintptr_t errout, kiln_cancel *cancel, int *exit_code, kiln_error **err) {
  return kiln_kube_exec_stream(kube, ns, pod, container, (const char *const *)argv, argc, options,
                               in ? kilnGoReadC : NULL, (void *)in, out ? kilnGoWriteC : NULL, (void *)out,
                               errout ? kilnGoWriteC : NULL, (void *)errout, cancel, exit_code, err);
}
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"unsafe"
)

// ErrStop, returned by a Watch or Logs callback, ends the call without an
// error. Any other error ends it too and is returned.
var ErrStop = errors.New("kiln: stop")

// WatchEvent is one change seen by Watch.
type WatchEvent struct {
	Type   string          // "ADDED", "MODIFIED", "DELETED", "BOOKMARK"
	Object json.RawMessage // the object (a BOOKMARK carries only metadata.resourceVersion)
}

// WatchResult tells where a watch ended: resume from ResourceVersion.
type WatchResult struct {
	ResourceVersion string `json:"resourceVersion"`
	Reconnects      int    `json:"reconnects"`
	Relists         int    `json:"relists"`
}

// LogLine is one line of a container's log.
type LogLine struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Container string `json:"container"`
	Line      string `json:"line"`
	Restart   int    `json:"restart"`             // the container's restart count for this instance
	Timestamp string `json:"timestamp,omitempty"` // with options {"timestamps": true}
}

// ExecMaxOutput is the most Exec collects of each of stdout and stderr
// (KILN_KUBE_EXEC_MAX_OUTPUT); more is CodeTooLarge. ExecStream has no cap.
const ExecMaxOutput = int(C.KILN_KUBE_EXEC_MAX_OUTPUT)

// stopped is the error a callback-stopped call ends with: nil for ErrStop
// (or no callback error), the callback's error otherwise.
func stopped(st *callbackState, err error) error {
	err = st.finish(err)
	if err == nil && st.err != nil && !errors.Is(st.err, ErrStop) {
		return st.err
	}
	return err
}

// Watch calls fn with each change of the objects of one kind, on the
// calling goroutine, until fn returns an error (ErrStop: Watch returns nil),
// ctx ends (CodeCancelled) or the "deadlineMs" option passes (CodeTimeout).
// options: {"labelSelector", "fieldSelector", "resourceVersion" ("": the
// current objects first, as ADDED), "bookmarks", "timeoutSeconds",
// "deadlineMs", "allNamespaces", "maxReconnectFailures"} (nil for none).
// After 410 Gone kiln lists again and delivers what changed meanwhile.
func (k *Kube) Watch(ctx context.Context, apiVersion, kind, namespace string, options Options,
	fn func(WatchEvent) error) (*WatchResult, error) {
	if fn == nil {
		return nil, &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "Watch needs a callback"}
	}
	av, freeAV := cstring(apiVersion)
	defer freeAV()
	ck, freeKind := cstring(kind)
	defer freeKind()
	ns, freeNS := optional(namespace)
	defer freeNS()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	st := &callbackState{onEvent: func(e Event) error {
		return fn(WatchEvent{Type: e.Type, Object: json.RawMessage(e.JSON)})
	}}
	h := st.handle()
	defer release(h)
	var out *C.char
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_go_kube_watch(p, av, ck, ns, opts, C.uintptr_t(h), c, &out, e)
	})
	if err = stopped(st, err); err != nil {
		C.kiln_free(unsafe.Pointer(out))
		return nil, err
	}
	var result WatchResult
	if err := takeJSON(out, &result); err != nil {
		return nil, err
	}
	return &result, nil
}

// Logs calls fn with each line of a container's log, on the calling
// goroutine. options: {"container", "follow", "followRestarts",
// "timestamps", "sinceTime", "sinceSeconds", "tailLines", "previous"} (nil:
// the log as it is now). fn returning ErrStop ends it without an error.
func (k *Kube) Logs(ctx context.Context, namespace, pod string, options Options, fn func(LogLine) error) error {
	if fn == nil {
		return &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "Logs needs a callback"}
	}
	ns, freeNS := optional(namespace)
	defer freeNS()
	cpod, freePod := cstring(pod)
	defer freePod()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return err
	}
	defer freeOpts()
	st := &callbackState{onEvent: func(e Event) error {
		if e.Type != "pod.log" {
			return nil
		}
		var line LogLine
		if err := e.Decode(&line); err != nil {
			return err
		}
		return fn(line)
	}}
	h := st.handle()
	defer release(h)
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_go_kube_logs(p, ns, cpod, opts, C.uintptr_t(h), c, e)
	})
	return stopped(st, err)
}

// ExecStream runs argv (no shell) in a container with streams of any size:
// stdin (nil: none) is read as the server takes data and closed at EOF;
// stdout and stderr (nil: discarded) get the output as it arrives. All on
// the calling goroutine. options: {"tty", "timeoutMs"} (nil for none).
// Returns the command's exit code; an error of a stream is returned as is.
func (k *Kube) ExecStream(ctx context.Context, namespace, pod, container string, argv []string, options Options,
	stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "ExecStream needs a command (argv is empty)"}
	}
	ns, freeNS := optional(namespace)
	defer freeNS()
	cpod, freePod := cstring(pod)
	defer freePod()
	ccontainer, freeContainer := optional(container)
	defer freeContainer()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return 0, err
	}
	defer freeOpts()
	cargv := make([]*C.char, len(argv))
	for i, a := range argv {
		cargv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(cargv[i]))
	}
	states := []*callbackState{{reader: stdin}, {writer: stdout}, {writer: stderr}}
	var handles [3]C.uintptr_t
	if stdin != nil {
		h := states[0].handle()
		defer release(h)
		handles[0] = C.uintptr_t(h)
	}
	if stdout != nil {
		h := states[1].handle()
		defer release(h)
		handles[1] = C.uintptr_t(h)
	}
	if stderr != nil {
		h := states[2].handle()
		defer release(h)
		handles[2] = C.uintptr_t(h)
	}
	var code C.int
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_go_kube_exec_stream(p, ns, cpod, ccontainer, &cargv[0], C.size_t(len(argv)), opts,
			handles[0], handles[1], handles[2], c, &code, e)
	})
	for _, st := range states {
		if err != nil && (st.panicked || st.err != nil) {
			return 0, st.finish(err)
		}
	}
	if err != nil {
		return 0, err
	}
	return int(code), nil
}
