package httpx

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// LogWriter buffers log output in memory and writes it out in batches:
// every interval, whenever the buffer reaches its limit, on Flush, and on
// Close. The access log is one line per request; written straight to
// stderr that is one write(2) per request, about 5% of the cheapest
// request (issue 5). Batching makes it one write per interval instead.
//
// What it costs: lines reach the output up to one interval late, and a
// process that dies without Close (SIGKILL, a crash outside Go) loses at
// most one interval of them. Records that matter when a process dies
// (warnings and errors) are flushed at once by the handler UrgentFlush
// returns.
//
// A LogWriter is safe for concurrent use. Writes to the underlying writer
// are serialized and in order; the buffer is swapped out under a short
// lock, so loggers do not wait for a slow underlying write unless the
// buffer is full.
type LogWriter struct {
	out   io.Writer
	limit int

	// flushMu serializes writes to out (and so keeps their order); it is
	// taken before mu, never after.
	flushMu sync.Mutex
	mu      sync.Mutex
	buf     []byte
	spare   []byte // the other buffer, reused after a flush
	closed  bool

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewLogWriter returns a LogWriter on out that flushes every interval and
// whenever limit bytes are buffered, and starts its flusher goroutine;
// Close stops it.
func NewLogWriter(out io.Writer, interval time.Duration, limit int) *LogWriter {
	w := &LogWriter{
		out:   out,
		limit: limit,
		buf:   make([]byte, 0, limit),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go w.flushEvery(interval)
	return w
}

func (w *LogWriter) flushEvery(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush() // the next write reports a broken output
		case <-w.stop:
			return
		}
	}
}

// Write buffers p (it does not keep p). When that fills the buffer it
// flushes, and returns the error of that flush; after Close it writes p
// through.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.limit
	w.mu.Unlock()
	if full {
		if err := w.Flush(); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (w *LogWriter) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	w.spare = nil
	w.mu.Unlock()
	if len(b) == 0 {
		w.putSpare(b)
		return nil
	}
	// On an error the lines are dropped: keeping them would grow the
	// buffer without bound behind an output that no longer works.
	_, err := w.out.Write(b)
	w.putSpare(b)
	return err
}

// putSpare keeps b for the next swap unless a burst of lines grew it far
// past the limit.
func (w *LogWriter) putSpare(b []byte) {
	if cap(b) > 4*w.limit {
		b = make([]byte, 0, w.limit)
	}
	w.mu.Lock()
	w.spare = b[:0]
	w.mu.Unlock()
}

// Close stops the flusher goroutine and flushes what is buffered; later
// writes go straight to the underlying writer, so nothing logged during
// shutdown is lost. It does not close the underlying writer. Calling it
// again does nothing.
func (w *LogWriter) Close() error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		w.mu.Lock()
		b := w.buf
		w.buf, w.spare, w.closed = nil, nil, true
		w.mu.Unlock()
		if len(b) > 0 {
			_, err = w.out.Write(b)
		}
	})
	return err
}

// UrgentFlush wraps h, which writes to w, so that every record at level or
// above is flushed as soon as h has written it: a warning or an error must
// not sit in a buffer when the process dies, and is what an operator
// watching the log waits for.
func UrgentFlush(h slog.Handler, w *LogWriter, level slog.Level) slog.Handler {
	return urgentHandler{Handler: h, w: w, level: level}
}

type urgentHandler struct {
	slog.Handler
	w     *LogWriter
	level slog.Level
}

func (h urgentHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h urgentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return urgentHandler{Handler: h.Handler.WithAttrs(as), w: h.w, level: h.level}
}

func (h urgentHandler) WithGroup(name string) slog.Handler {
	return urgentHandler{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}
