package sdk

import (
	"context"
	"sync"
	"time"
)

// flightTimeout bounds a shared fetch, which runs detached from the
// contexts of the callers waiting for it.
const flightTimeout = 2 * time.Minute

// flight runs one fetch at a time and hands its result to every caller
// that asked while it ran (a small singleflight). The fetch runs on a
// context detached from the callers' cancellation, so that one caller
// giving up does not fail the others; each caller still stops waiting
// when its own context is done.
type flight[T any] struct {
	mu   sync.Mutex
	call *flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func (f *flight[T]) do(ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	f.mu.Lock()
	c := f.call
	if c == nil {
		c = &flightCall[T]{done: make(chan struct{})}
		f.call = c
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
			defer cancel()
			c.val, c.err = fn(fctx)
			f.mu.Lock()
			f.call = nil
			f.mu.Unlock()
			close(c.done)
		}()
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
