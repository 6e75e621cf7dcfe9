package kiln

/*
#include <stdint.h>
#include <stdlib.h>
#include <kiln.h>

extern int kilnGoEventC(const kiln_event *event, void *payload);
extern int kilnGoWriteC(const void *data, size_t size, void *payload);

static int kiln_go_context_files(kiln_context *context, uintptr_t events, kiln_cancel *cancel, char **out,
                                 kiln_error **err) {
  return kiln_context_files(context, events ? kilnGoEventC : NULL, (void *)events, cancel, out, err);
}

static int kiln_go_context_version(kiln_context *context, const char *inputs, uintptr_t events,
                                   kiln_cancel *cancel, char **out, kiln_error **err) {
  return kiln_context_version(context, inputs, events ? kilnGoEventC : NULL, (void *)events, cancel, out, err);
}

static int kiln_go_context_write_fd(kiln_context *context, int fd, const char *options, uintptr_t events,
                                    kiln_cancel *cancel, kiln_error **err) {
  return kiln_context_write_fd(context, fd, options, events ? kilnGoEventC : NULL, (void *)events, cancel, err);
}

static int kiln_go_context_write_cb(kiln_context *context, uintptr_t writer, const char *options,
                                    uintptr_t events, kiln_cancel *cancel, kiln_error **err) {
  return kiln_context_write_cb(context, kilnGoWriteC, (void *)writer, options, events ? kilnGoEventC : NULL,
                               (void *)events, cancel, err);
}
*/
import "C"

import (
	"context"
	"io"
	"os"
	"runtime"
	"sync"
)

// ContextEntry is one entry of the tar stream.
type ContextEntry struct {
	Path       string `json:"path"`
	Type       string `json:"type"` // "file", "dir" or "symlink"
	Mode       uint32 `json:"mode"`
	Size       int64  `json:"size"`
	Mtime      int64  `json:"mtime"`
	LinkTarget string `json:"linkTarget,omitempty"`
	Forced     bool   `json:"forced"` // ignored by the patterns but sent (Dockerfile, .dockerignore)
}

// ContextFiles is what a build would send, in stream order.
type ContextFiles struct {
	Dockerfile     string         `json:"dockerfile"` // its path in the stream
	IgnorePatterns []string       `json:"ignorePatterns"`
	Entries        []ContextEntry `json:"entries"`
}

// ContextVersion is a context's content version.
type ContextVersion struct {
	Version     string `json:"version"` // "v-<10 hex>"
	Digest      string `json:"digest"`  // "sha256:<hex>"
	FilesHashed int    `json:"filesHashed"`
}

// BuildContext is a directory about to be sent to a builder: the files
// `docker build` would send after .dockerignore, their content version and
// the tar stream. The directory is walked once, on first use (see Rescan).
// Safe for concurrent use; kiln runs one call at a time per context.
//
// Events of its operations ("context.progress", "context.done", "warning")
// are delivered on the thread of the calling goroutine, during the call. A
// callback (event or io.Writer) must not call methods of the same
// BuildContext: kiln holds the context's lock while it calls back.
type BuildContext struct {
	mu sync.RWMutex // read-held by each call, write-held by Close
	p  *C.kiln_context
}

// OpenContext opens the directory root with kiln.h's context options
// ("dockerfile", "statCache", "threads"; nil for none).
func OpenContext(root string, options Options) (*BuildContext, error) {
	croot, freeRoot := cstring(root)
	defer freeRoot()
	opts, freeOpts, err := options.cjson()
	if err != nil {
		return nil, err
	}
	defer freeOpts()
	var p *C.kiln_context
	var cerr *C.kiln_error
	if err := takeError(C.kiln_context_open(croot, opts, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	c := &BuildContext{p: p}
	runtime.SetFinalizer(c, (*BuildContext).Close)
	return c, nil
}

// Close waits for calls in flight, then frees the context. Idempotent.
func (c *BuildContext) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	C.kiln_context_free(c.p)
	c.p = nil
}

// Rescan forgets the last walk: the next call sees the directory as it is now.
func (c *BuildContext) Rescan() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	C.kiln_context_rescan(c.p)
}

// contextFunc is one C call: events is the handle number for the event
// callback (0: none), writer the one for the write callback (0: none).
type contextFunc func(p *C.kiln_context, events, writer C.uintptr_t, cancel *C.kiln_cancel, e **C.kiln_error) C.int

// call runs fn with the live handle, a cancel token bound to ctx and the
// handle numbers of st's callbacks.
func (c *BuildContext) call(ctx context.Context, st *callbackState, fn contextFunc) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.p == nil {
		return &Error{Code: CodeInvalid, Name: CodeInvalid.String(), Message: "the build context is closed"}
	}
	h := st.handle()
	defer release(h)
	events, writer := C.uintptr_t(0), C.uintptr_t(0)
	if st.onEvent != nil {
		events = C.uintptr_t(h)
	}
	if st.writer != nil {
		writer = C.uintptr_t(h)
	}
	tok := newCancel(ctx)
	defer tok.free()
	var cerr *C.kiln_error
	rc := fn(c.p, events, writer, tok.p, &cerr)
	return st.finish(contextError(ctx, takeError(rc, cerr)))
}

// Files lists the entries a build would send, in stream order.
func (c *BuildContext) Files(ctx context.Context, onEvent EventFunc) (*ContextFiles, error) {
	var out *C.char
	err := c.call(ctx, &callbackState{onEvent: onEvent},
		func(p *C.kiln_context, events, writer C.uintptr_t, cancel *C.kiln_cancel, e **C.kiln_error) C.int {
			return C.kiln_go_context_files(p, events, cancel, &out, e)
		})
	if err != nil {
		return nil, err
	}
	var files ContextFiles
	return &files, takeJSON(out, &files)
}

// Version computes the content version. inputs are kiln.h's version inputs
// ({"buildArgs": {...}, "target": ..., "platform": ...}; nil for none).
func (c *BuildContext) Version(ctx context.Context, inputs Options, onEvent EventFunc) (*ContextVersion, error) {
	in, freeIn, err := inputs.cjson()
	if err != nil {
		return nil, err
	}
	defer freeIn()
	var out *C.char
	err = c.call(ctx, &callbackState{onEvent: onEvent},
		func(p *C.kiln_context, events, writer C.uintptr_t, cancel *C.kiln_cancel, e **C.kiln_error) C.int {
			return C.kiln_go_context_version(p, in, events, cancel, &out, e)
		})
	if err != nil {
		return nil, err
	}
	var v ContextVersion
	return &v, takeJSON(out, &v)
}

// WriteTarFile writes the tar stream to f at its current offset; tarOptions
// are kiln.h's ({"gzip": true, "gzipLevel": 6, "zeroMtimes": true,
// "threads": 0}; nil for none). f stays open. After an error the bytes
// written are not a complete archive and must be discarded.
func (c *BuildContext) WriteTarFile(ctx context.Context, f *os.File, tarOptions Options, onEvent EventFunc) error {
	opts, freeOpts, err := tarOptions.cjson()
	if err != nil {
		return err
	}
	defer freeOpts()
	fd := C.int(f.Fd())
	defer runtime.KeepAlive(f) // f's finalizer would close fd under kiln
	return c.call(ctx, &callbackState{onEvent: onEvent},
		func(p *C.kiln_context, events, writer C.uintptr_t, cancel *C.kiln_cancel, e **C.kiln_error) C.int {
			return C.kiln_go_context_write_fd(p, fd, opts, events, cancel, e)
		})
}

// WriteTar streams the tar to w in chunks, on the calling goroutine's thread.
// An error from w stops the stream and is returned. After any error the
// bytes written are not a complete archive and must be discarded.
func (c *BuildContext) WriteTar(ctx context.Context, w io.Writer, tarOptions Options, onEvent EventFunc) error {
	opts, freeOpts, err := tarOptions.cjson()
	if err != nil {
		return err
	}
	defer freeOpts()
	st := &callbackState{onEvent: onEvent, writer: w}
	return c.call(ctx, st,
		func(p *C.kiln_context, events, writer C.uintptr_t, cancel *C.kiln_cancel, e **C.kiln_error) C.int {
			return C.kiln_go_context_write_cb(p, writer, opts, events, cancel, e)
		})
}
