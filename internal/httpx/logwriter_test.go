package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuffer is an output that can be read while a LogWriter writes to
// it, and that counts the writes it receives.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// The tests that depend on time run in a synctest bubble: time is fake
// and advances only when every goroutine of the bubble is blocked, and
// the bubble fails the test if a goroutine (the flusher) is still there
// when the test function returns, which is how Close is checked to stop
// it.

func TestLogWriterFlushesEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncBuffer{}
		w := NewLogWriter(out, 100*time.Millisecond, 32<<10)
		defer w.Close()
		fmt.Fprintln(w, "one")
		fmt.Fprintln(w, "two")
		time.Sleep(99 * time.Millisecond)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before the interval: %q", got)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got, writes := out.String(), out.Writes(); got != "one\ntwo\n" || writes != 1 {
			t.Fatalf("after the interval: %q in %d writes, want both lines in one", got, writes)
		}
		// Nothing buffered: ticks write nothing.
		time.Sleep(time.Second)
		synctest.Wait()
		if writes := out.Writes(); writes != 1 {
			t.Errorf("%d writes while idle", writes-1)
		}
	})
}

func TestLogWriterFlushesWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncBuffer{}
		w := NewLogWriter(out, time.Hour, 64)
		defer w.Close()
		line := strings.Repeat("x", 39) + "\n"
		fmt.Fprint(w, line)
		if got := out.String(); got != "" {
			t.Fatalf("written below the limit: %q", got)
		}
		fmt.Fprint(w, line) // 80 bytes ≥ 64
		if got := out.String(); got != line+line {
			t.Fatalf("at the limit: %q, want both lines", got)
		}
	})
}

func TestUrgentFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncBuffer{}
		w := NewLogWriter(out, time.Hour, 32<<10)
		defer w.Close()
		logger := slog.New(UrgentFlush(slog.NewTextHandler(w, nil), w, slog.LevelWarn)).With("app", "sesame").WithGroup("g")
		logger.Info("routine")
		if got := out.String(); got != "" {
			t.Fatalf("info written at once: %q", got)
		}
		logger.Warn("trouble", "n", 1)
		got := out.String()
		if !strings.Contains(got, "msg=routine") || !strings.Contains(got, "msg=trouble app=sesame g.n=1") ||
			strings.Index(got, "routine") > strings.Index(got, "trouble") {
			t.Fatalf("after a warning: %q, want both records in order", got)
		}
		logger.Error("failure")
		if !strings.Contains(out.String(), "msg=failure") {
			t.Fatalf("error not written at once: %q", out.String())
		}
	})
}

// TestLogWriterCloseLosesNothing logs from many goroutines while the
// flusher, the size limit and urgent records all flush (run with -race),
// then closes: every record must be in the output exactly once, whole,
// and in each goroutine's order.
func TestLogWriterCloseLosesNothing(t *testing.T) {
	out := &syncBuffer{}
	w := NewLogWriter(out, time.Millisecond, 512)
	logger := slog.New(UrgentFlush(slog.NewJSONHandler(w, nil), w, slog.LevelWarn))
	const goroutines, each = 8, 1500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				level := slog.LevelInfo
				if i%97 == 0 {
					level = slog.LevelWarn
				}
				logger.Log(t.Context(), level, "request", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	// Close writes whatever the last flush left (TestLogWriterAfterClose
	// checks that without the race against the flusher).
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, line := range lines {
		var rec struct{ G, I int }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("broken line %q: %v", line, err)
		}
		if rec.I != next[rec.G] {
			t.Fatalf("goroutine %d: record %d, want %d", rec.G, rec.I, next[rec.G])
		}
		next[rec.G]++
	}
	if len(lines) != goroutines*each {
		t.Errorf("%d lines, want %d", len(lines), goroutines*each)
	}
	if out.Writes() >= len(lines) {
		t.Errorf("%d writes for %d lines: nothing was batched", out.Writes(), len(lines))
	}
}

func TestLogWriterAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &syncBuffer{}
		w := NewLogWriter(out, time.Hour, 32<<10)
		fmt.Fprintln(w, "before")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "before\n" {
			t.Fatalf("Close wrote %q", got)
		}
		fmt.Fprintln(w, "after") // during shutdown: straight through
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "before\nafter\n" {
			t.Fatalf("after Close: %q", got)
		}
	})
}

type failingWriter struct{ err error }

func (f failingWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestLogWriterReportsOutputErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		broken := errors.New("broken pipe")
		w := NewLogWriter(failingWriter{broken}, time.Hour, 8)
		defer w.Close()
		if _, err := fmt.Fprint(w, "short"); err != nil {
			t.Fatalf("buffered write: %v", err)
		}
		if _, err := fmt.Fprint(w, "long enough"); !errors.Is(err, broken) {
			t.Fatalf("write that flushes: %v, want %v", err, broken)
		}
		// The failed lines were dropped, not kept to grow the buffer.
		if err := w.Flush(); err != nil {
			t.Fatalf("flush of an empty buffer: %v", err)
		}
	})
}

// BenchmarkAccessLogLine is one access-log record written straight to a
// file and through a LogWriter: what buffering the access log saves per
// request. The file is the null device (the cost of the system call
// alone) or a pipe drained by another goroutine (stderr under a process
// supervisor or a container runtime, where each write also wakes the
// reader).
func BenchmarkAccessLogLine(b *testing.B) {
	outputs := []struct {
		name string
		open func(b *testing.B) *os.File
	}{
		{"devnull", func(b *testing.B) *os.File {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}},
		{"pipe", func(b *testing.B) *os.File {
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			drained := make(chan struct{})
			go func() {
				_, _ = io.Copy(io.Discard, r)
				close(drained)
			}()
			b.Cleanup(func() {
				w.Close()
				<-drained
				r.Close()
			})
			return w
		}},
	}
	for _, o := range outputs {
		for _, buffered := range []bool{false, true} {
			name := o.name + "/direct"
			if buffered {
				name = o.name + "/buffered"
			}
			b.Run(name, func(b *testing.B) {
				f := &countingWriter{w: o.open(b)}
				var out io.Writer = f
				if buffered {
					w := NewLogWriter(out, 100*time.Millisecond, 32<<10)
					b.Cleanup(func() { w.Close() })
					out = w
				}
				logger := slog.New(slog.NewJSONHandler(out, nil))
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					logger.LogAttrs(ctx, slog.LevelInfo, "request",
						slog.String("method", "POST"),
						slog.String("path", "/api/v2/sessions/exchange"),
						slog.String("route", "POST /api/v2/sessions/exchange"),
						slog.Int("status", 200),
						slog.Duration("duration", 1234567),
						slog.String("remote", "127.0.0.1:54321"),
					)
				}
				b.ReportMetric(float64(f.writes.Load())/float64(b.N), "writes/op")
			})
		}
	}
}

// countingWriter counts the writes that reach the file: the system calls.
type countingWriter struct {
	w      io.Writer
	writes atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.w.Write(p)
}
