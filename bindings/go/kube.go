package kiln

/*
#include <stdlib.h>
#include <kiln.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Kube is a Kubernetes API client for one cluster, user and default
// namespace (kiln.h's kubernetes section). Objects cross as JSON exactly as
// the API server sends them. Safe for concurrent use.
type Kube struct {
	mu sync.RWMutex // read-held by each call, write-held by Close
	p  *C.kiln_kube
}

// OpenKube builds a client from a kubeconfig ("" : $KUBECONFIG, else
// ~/.kube/config, else the in-cluster service account) and a context name
// ("": the current context), with kiln.h's options ("namespace",
// "fieldValidation", timeouts; nil for none). Nothing is contacted yet.
func OpenKube(kubeconfig, contextName string, options Options) (*Kube, error) {
	path, freePath := optional(kubeconfig)
	defer freePath()
	name, freeName := optional(contextName)
	defer freeName()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	var p *C.kiln_kube
	var cerr *C.kiln_error
	if err := takeError(C.kiln_kube_open(path, name, opts, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	k := &Kube{p: p}
	runtime.SetFinalizer(k, (*Kube).Close)
	return k, nil
}

// Close waits for calls in flight, then frees the client. Idempotent.
func (k *Kube) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	C.kiln_kube_free(k.p)
	k.p = nil
}

// Namespace is the client's default namespace ("" once closed).
func (k *Kube) Namespace() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.p == nil {
		return ""
	}
	return C.GoString(C.kiln_kube_namespace(k.p)) // borrowed from the handle: copied
}

func (k *Kube) call(ctx context.Context, fn func(*C.kiln_kube, *C.kiln_cancel, **C.kiln_error) C.int) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.p == nil {
		return &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "the Kubernetes client is closed"}
	}
	tok := newCancel(ctx)
	defer tok.free()
	var cerr *C.kiln_error
	return contextError(ctx, takeError(fn(k.p, tok.p, &cerr), cerr))
}

// Get returns one object by apiVersion ("v1", "apps/v1"), kind ("Pod"),
// namespace ("" : the client's) and name; CodeNotFound when it is missing.
func (k *Kube) Get(ctx context.Context, apiVersion, kind, namespace, name string) (json.RawMessage, error) {
	av, freeAV := cstring(apiVersion)
	defer freeAV()
	ck, freeKind := cstring(kind)
	defer freeKind()
	ns, freeNS := optional(namespace)
	defer freeNS()
	cname, freeName := cstring(name)
	defer freeName()
	var out *C.char
	err := k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_get(p, av, ck, ns, cname, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// Apply applies object (server-side apply, field manager "kiln", conflicts
// forced) and returns it as stored. object is JSON text ([]byte, string,
// json.RawMessage) or any value encoding/json turns into an object with
// apiVersion, kind and metadata.name. Its metadata.namespace wins over namespace.
func (k *Kube) Apply(ctx context.Context, object any, namespace string) (json.RawMessage, error) {
	return k.write(ctx, object, namespace, func(p *C.kiln_kube, obj, ns *C.char, c *C.kiln_cancel, out **C.char, e **C.kiln_error) C.int {
		return C.kiln_kube_apply(p, obj, ns, c, out, e)
	})
}

// Create creates object (as for Apply: JSON text or a value encoding/json
// encodes) and returns it as stored; CodeConflict (reason AlreadyExists)
// when it exists. Its metadata.namespace wins over namespace.
func (k *Kube) Create(ctx context.Context, object any, namespace string) (json.RawMessage, error) {
	return k.write(ctx, object, namespace, func(p *C.kiln_kube, obj, ns *C.char, c *C.kiln_cancel, out **C.char, e **C.kiln_error) C.int {
		return C.kiln_kube_create(p, obj, ns, c, out, e)
	})
}

// Replace puts the whole object over the stored one; with
// metadata.resourceVersion set it is conditional (CodeConflict when the
// object changed since).
func (k *Kube) Replace(ctx context.Context, object any, namespace string) (json.RawMessage, error) {
	return k.write(ctx, object, namespace, func(p *C.kiln_kube, obj, ns *C.char, c *C.kiln_cancel, out **C.char, e **C.kiln_error) C.int {
		return C.kiln_kube_replace(p, obj, ns, c, out, e)
	})
}

// Patch applies a JSON merge patch (RFC 7386; null removes a field) to one
// object and returns the result. patch is JSON text or a value to encode.
func (k *Kube) Patch(ctx context.Context, apiVersion, kind, namespace, name string, patch any) (json.RawMessage, error) {
	text, err := objectText(patch)
	if err != nil {
		return nil, err
	}
	av, freeAV := cstring(apiVersion)
	defer freeAV()
	ck, freeKind := cstring(kind)
	defer freeKind()
	ns, freeNS := optional(namespace)
	defer freeNS()
	cname, freeName := cstring(name)
	defer freeName()
	cpatch, freePatch := cstring(string(text))
	defer freePatch()
	var out *C.char
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_patch(p, av, ck, ns, cname, cpatch, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// List returns the List document of one kind ({"items": [...], "metadata":
// {"resourceVersion", "continue"?}}). options: {"labelSelector",
// "fieldSelector", "limit", "continue", "resourceVersion", "allNamespaces",
// "allPages"} (nil for none); "continue" is present while pages remain.
func (k *Kube) List(ctx context.Context, apiVersion, kind, namespace string, options Options) (json.RawMessage, error) {
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
	var out *C.char
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_list(p, av, ck, ns, opts, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// WaitPod waits (on a watch) until a pod reaches until: "phase=Running",
// "phase=Succeeded", ..., or "condition=Ready". A failed pod is CodeBuild
// (CodeOOM when OOMKilled), a container that cannot start CodeUnavailable,
// timeout (0: none) CodeTimeout. Returns the pod as it met the wait.
func (k *Kube) WaitPod(ctx context.Context, namespace, pod, until string, timeout time.Duration) (json.RawMessage, error) {
	ns, freeNS := optional(namespace)
	defer freeNS()
	cpod, freePod := cstring(pod)
	defer freePod()
	cuntil, freeUntil := cstring(until)
	defer freeUntil()
	var out *C.char
	err := k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_wait_pod(p, ns, cpod, cuntil, C.int64_t(timeout.Milliseconds()), c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// WaitRollout waits until a Deployment's rollout is complete (kubectl
// rollout status's rules); ProgressDeadlineExceeded and timeout (0: none)
// are CodeTimeout.
func (k *Kube) WaitRollout(ctx context.Context, namespace, deployment string, timeout time.Duration) (json.RawMessage, error) {
	ns, freeNS := optional(namespace)
	defer freeNS()
	cname, freeName := cstring(deployment)
	defer freeName()
	var out *C.char
	err := k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_wait_rollout(p, ns, cname, C.int64_t(timeout.Milliseconds()), c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// objectText is a document as JSON: text as given, other values encoded.
func objectText(object any) ([]byte, error) {
	switch o := object.(type) {
	case []byte:
		return o, nil
	case json.RawMessage:
		return o, nil
	case string:
		return []byte(o), nil
	}
	text, err := json.Marshal(object)
	if err != nil {
		return nil, &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "the object cannot be encoded as JSON: " + err.Error()}
	}
	return text, nil
}

type writeFunc func(p *C.kiln_kube, obj, ns *C.char, c *C.kiln_cancel, out **C.char, e **C.kiln_error) C.int

func (k *Kube) write(ctx context.Context, object any, namespace string, fn writeFunc) (json.RawMessage, error) {
	text, err := objectText(object)
	if err != nil {
		return nil, err
	}
	obj, freeObj := cstring(string(text))
	defer freeObj()
	ns, freeNS := optional(namespace)
	defer freeNS()
	var out *C.char
	err = k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return fn(p, obj, ns, c, &out, e)
	})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// Delete deletes one object. options: {"propagationPolicy",
// "gracePeriodSeconds", "ignoreNotFound"} (nil for none).
func (k *Kube) Delete(ctx context.Context, apiVersion, kind, namespace, name string, options Options) error {
	av, freeAV := cstring(apiVersion)
	defer freeAV()
	ck, freeKind := cstring(kind)
	defer freeKind()
	ns, freeNS := optional(namespace)
	defer freeNS()
	cname, freeName := cstring(name)
	defer freeName()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return err
	}
	defer freeOpts()
	return k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_delete(p, av, ck, ns, cname, opts, c, e)
	})
}

// ExecResult is what a command run by Exec did.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// Exec runs argv (no shell) in a container of a pod (container "": the
// pod's only one), streams stdin to it and then closes its stdin, and
// collects stdout and stderr in memory. A non-zero exit status is a result,
// not an error; a command that could not start is an error.
func (k *Kube) Exec(ctx context.Context, namespace, pod, container string, argv []string, stdin []byte) (*ExecResult, error) {
	if len(argv) == 0 {
		return nil, &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "Exec needs a command (argv is empty)"}
	}
	ns, freeNS := optional(namespace)
	defer freeNS()
	cpod, freePod := cstring(pod)
	defer freePod()
	ccontainer, freeContainer := optional(container)
	defer freeContainer()
	// Go memory holding only C pointers may be passed to C (cgo rules).
	cargv := make([]*C.char, len(argv))
	for i, a := range argv {
		cargv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(cargv[i]))
	}
	var in unsafe.Pointer // borrowed by kiln for the duration of the call
	if len(stdin) > 0 {
		in = unsafe.Pointer(&stdin[0])
	}
	var code C.int
	var out, errOut *C.char
	var outSize, errSize C.size_t
	err := k.call(ctx, func(p *C.kiln_kube, c *C.kiln_cancel, e **C.kiln_error) C.int {
		return C.kiln_kube_exec(p, ns, cpod, ccontainer, &cargv[0], C.size_t(len(argv)), in, C.size_t(len(stdin)),
			c, &code, &out, &outSize, &errOut, &errSize, e)
	})
	res := &ExecResult{ExitCode: int(code), Stdout: takeBytes(out, outSize), Stderr: takeBytes(errOut, errSize)}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// takeBytes copies binary data kiln returned (owned by us) and frees it.
func takeBytes(p *C.char, size C.size_t) []byte {
	if p == nil {
		return nil
	}
	defer C.kiln_free(unsafe.Pointer(p))
	return C.GoBytes(unsafe.Pointer(p), C.int(size))
}
