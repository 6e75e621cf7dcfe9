package kiln

/*
#include <kiln.h>
*/
import "C"

import (
	"context"
	"sync"
)

// cancelToken is a kiln_cancel tied to a context.Context: it is triggered
// (from a goroutine of its own) when the context is done. Every operation of
// this package makes one per call, so callers cancel with contexts alone.
type cancelToken struct {
	p    *C.kiln_cancel
	stop chan struct{}
	wg   sync.WaitGroup
}

// cancelTriggered, when set (by tests, before the call starts), runs after a
// context's end has triggered a token, so a test can wait for that moment.
var cancelTriggered func()

// newCancel returns a token watching ctx (nil means context.Background).
func newCancel(ctx context.Context) *cancelToken {
	t := &cancelToken{p: C.kiln_cancel_new(), stop: make(chan struct{})}
	if t.p == nil {
		panic("kiln: kiln_cancel_new: out of memory")
	}
	if ctx == nil || ctx.Done() == nil {
		return t
	}
	if ctx.Err() != nil {
		C.kiln_cancel_trigger(t.p)
		return t
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		select {
		case <-ctx.Done():
			C.kiln_cancel_trigger(t.p)
			if cancelTriggered != nil {
				cancelTriggered()
			}
		case <-t.stop:
		}
	}()
	return t
}

// free is called once the C call using the token has returned: it stops the
// watcher and waits for it, so that no trigger can touch a freed token.
func (t *cancelToken) free() {
	close(t.stop)
	t.wg.Wait()
	C.kiln_cancel_free(t.p)
}

// contextError records ctx's error as the cause of a "cancelled" kiln error,
// so that errors.Is(err, context.DeadlineExceeded) holds after a timeout.
func contextError(ctx context.Context, err error) error {
	if e, ok := err.(*Error); ok && e.Code == CodeCancelled && ctx != nil && ctx.Err() != nil {
		e.cause = ctx.Err()
	}
	return err
}
