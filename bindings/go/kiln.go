// Package kiln binds libkiln's C ABI (include/kiln.h) for Go programs:
// registries and OCI layouts (Registry, Copy), build contexts (BuildContext)
// and the Kubernetes client (Kube).
//
// Build with cgo, telling it where kiln.h and libkiln.so are, for example:
//
//	CGO_CFLAGS=-I/path/to/kiln/include CGO_LDFLAGS="-L/path/to/lib -Wl,-rpath,/path/to/lib" go build
//
// Conventions:
//   - Every operation that can take long takes a context.Context first; when
//     the context is done, kiln is told through a kiln_cancel token and the
//     call returns promptly with an *Error whose Code is CodeCancelled (and
//     errors.Is(err, context.Canceled) holds).
//   - Documents going in (options) are Options maps, marshalled to JSON with
//     the field names of kiln.h; documents coming out are decoded into the
//     structs of this package, or returned as raw JSON where noted.
//   - Handles (Registry, BuildContext) are safe for concurrent use. Close
//     waits for calls in flight on the handle to return before freeing it.
//   - Event callbacks run on a thread kiln chooses (see each operation), never
//     two at a time for one operation. A callback that panics cancels the
//     operation, and the panic is re-raised in the calling goroutine after
//     the C call has returned (a panic never unwinds through C frames).
//   - No Go pointer is ever stored in C memory: callbacks reach their Go
//     state through runtime/cgo.Handle values, and every string kiln returns
//     is copied into Go memory and released with kiln_free at once.
package kiln

/*
#cgo LDFLAGS: -lkiln
#include <stdlib.h>
#include <kiln.h>
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// The version of kiln.h this package was compiled against.
const (
	HeaderVersionMajor = C.KILN_VERSION_MAJOR
	HeaderVersionMinor = C.KILN_VERSION_MINOR
	HeaderVersionPatch = C.KILN_VERSION_PATCH
)

// Version returns the version of the loaded libkiln, e.g. "0.1.0".
func Version() string { return C.GoString(C.kiln_version()) }

// Options is a JSON options document of kiln.h (keys as written there, e.g.
// "insecureRegistries", "parallelBlobs"). A nil Options sends no document.
// Unknown keys and wrong types are reported by kiln as CodeInvalid naming them.
type Options map[string]any

// json returns the document as a C string (nil for no options) and its release.
func (o Options) cjson() (*C.char, func(), error) {
	if o == nil {
		return nil, func() {}, nil
	}
	text, err := json.Marshal(map[string]any(o))
	if err != nil {
		return nil, func() {}, &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "options cannot be encoded as JSON: " + err.Error()}
	}
	s := C.CString(string(text))
	return s, func() { C.free(unsafe.Pointer(s)) }, nil
}

// cstring copies s into C memory; the caller frees it with the returned func.
func cstring(s string) (*C.char, func()) {
	p := C.CString(s)
	return p, func() { C.free(unsafe.Pointer(p)) }
}

// optional is cstring, except that "" becomes NULL (kiln's "use the default").
func optional(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	return cstring(s)
}

// takeString copies a string kiln returned (owned by us) and frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.kiln_free(unsafe.Pointer(p))
	return s
}

// takeJSON decodes a JSON string kiln returned into v and frees it.
func takeJSON(p *C.char, v any) error {
	text := takeString(p)
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeProtocol, Name: CodeProtocol.String(), Message: "kiln returned JSON this binding cannot read: " + err.Error()}
	}
	return nil
}
