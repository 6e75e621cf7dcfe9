package kiln

/*
#include <stdint.h>
#include <kiln.h>
*/
import "C"

import (
	"encoding/json"
	"io"
	"runtime/cgo"
	"unsafe"
)

// Event is a progress or log event (kiln.h's kiln_event), copied into Go
// memory before the callback sees it.
type Event struct {
	Type string // "blob.progress", "context.progress", "warning", ...
	JSON string // a JSON object with the details
}

// Decode unmarshals the event's details into v.
func (e Event) Decode(v any) error { return json.Unmarshal([]byte(e.JSON), v) }

// EventFunc receives the events of one operation, one call at a time, on a
// thread kiln chooses (see each operation). Returning a non-nil error cancels
// the operation, which then returns that error.
type EventFunc func(Event) error

// callbackState is the Go side of one operation's callbacks. C only ever
// holds the cgo.Handle number of it, never a Go pointer.
type callbackState struct {
	onEvent    EventFunc
	writer     io.Writer
	reader     io.Reader
	err        error // the first error a callback or the writer returned
	panicked   bool
	panicValue any
}

// handle registers st for the duration of one call; 0 (no callback) when
// there is nothing to call. The caller deletes the handle after the call.
func (st *callbackState) handle() cgo.Handle {
	if st.onEvent == nil && st.writer == nil && st.reader == nil {
		return 0
	}
	return cgo.NewHandle(st)
}

func release(h cgo.Handle) {
	if h != 0 {
		h.Delete()
	}
}

// guard turns a panic in a callback into "stop the operation"; finish
// re-raises it on the calling goroutine, outside the C frames.
func (st *callbackState) guard(stop *C.int) {
	if r := recover(); r != nil {
		st.panicked, st.panicValue = true, r
		*stop = 1
	}
}

// finish returns the error the operation ends with: the callback's own error
// when it stopped the operation, else kiln's.
func (st *callbackState) finish(err error) error {
	if st.panicked {
		panic(st.panicValue)
	}
	if st.err != nil && err != nil {
		return st.err
	}
	return err
}

//export kilnGoEvent
func kilnGoEvent(event *C.kiln_event, payload C.uintptr_t) (stop C.int) {
	st := cgo.Handle(payload).Value().(*callbackState)
	defer st.guard(&stop)
	if st.onEvent == nil {
		return 0
	}
	if err := st.onEvent(Event{Type: C.GoString(event._type), JSON: C.GoString(event.json)}); err != nil {
		st.err = err
		return 1
	}
	return 0
}

//export kilnGoWrite
func kilnGoWrite(data unsafe.Pointer, size C.size_t, payload C.uintptr_t) (stop C.int) {
	st := cgo.Handle(payload).Value().(*callbackState)
	defer st.guard(&stop)
	// Borrowed for this call only: io.Writer implementations must not keep p.
	if _, err := st.writer.Write(unsafe.Slice((*byte)(data), int(size))); err != nil {
		st.err = err
		return 1
	}
	return 0
}

//export kilnGoRead
func kilnGoRead(buffer unsafe.Pointer, capacity C.size_t, filled *C.size_t, payload C.uintptr_t) (stop C.int) {
	st := cgo.Handle(payload).Value().(*callbackState)
	defer st.guard(&stop)
	*filled = 0
	// Borrowed for this call only: io.Reader implementations must not keep p.
	p := unsafe.Slice((*byte)(buffer), int(capacity))
	for {
		n, err := st.reader.Read(p)
		if n > 0 || err == io.EOF {
			// A reader returning data with an error returns the error again
			// on the next call (io.Reader's contract), so nothing is lost.
			*filled = C.size_t(n)
			return 0
		}
		if err != nil {
			st.err = err
			return 1
		}
	}
}
